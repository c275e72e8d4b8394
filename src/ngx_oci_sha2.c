
/*
 * Resumable SHA-256 and SHA-512, see ngx_oci_sha2.h.
 */


#include <string.h>

#include "ngx_oci_sha2.h"


#if !defined(NGX_OCI_SHA2_NO_SHANI) && defined(__x86_64__)                  \
    && (defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 5))
#define NGX_OCI_SHA2_HAVE_SHANI  1
#include <immintrin.h>
#if defined(__clang__)
#include <cpuid.h>
#endif
#else
#define NGX_OCI_SHA2_HAVE_SHANI  0
#endif


#define NGX_OCI_SHA2_MAGIC       "OCIH"
#define NGX_OCI_SHA2_VERSION     1


static void ngx_oci_sha2_blocks(ngx_oci_sha2_t *s, const u_char *p,
    size_t n);
static void ngx_oci_sha256_blocks(uint32_t *st, const u_char *p, size_t n);
static void ngx_oci_sha512_blocks(uint64_t *st, const u_char *p, size_t n);
static uint32_t ngx_oci_sha2_crc32(const u_char *p, size_t len);
static void ngx_oci_sha2_put64(u_char *p, uint64_t v);
static uint64_t ngx_oci_sha2_get64(const u_char *p);

#if (NGX_OCI_SHA2_HAVE_SHANI)
static void ngx_oci_sha256_blocks_shani(uint32_t *st, const u_char *p,
    size_t n) __attribute__((target("sha,sse4.1")));
#endif


/* 16-byte alignment lets the SHA-NI path load four constants at once */

static const uint32_t  ngx_oci_sha256_k[64] __attribute__((aligned(16))) = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5,
    0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
    0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
    0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5,
    0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};


static const uint64_t  ngx_oci_sha512_k[80] = {
    0x428a2f98d728ae22ULL, 0x7137449123ef65cdULL,
    0xb5c0fbcfec4d3b2fULL, 0xe9b5dba58189dbbcULL,
    0x3956c25bf348b538ULL, 0x59f111f1b605d019ULL,
    0x923f82a4af194f9bULL, 0xab1c5ed5da6d8118ULL,
    0xd807aa98a3030242ULL, 0x12835b0145706fbeULL,
    0x243185be4ee4b28cULL, 0x550c7dc3d5ffb4e2ULL,
    0x72be5d74f27b896fULL, 0x80deb1fe3b1696b1ULL,
    0x9bdc06a725c71235ULL, 0xc19bf174cf692694ULL,
    0xe49b69c19ef14ad2ULL, 0xefbe4786384f25e3ULL,
    0x0fc19dc68b8cd5b5ULL, 0x240ca1cc77ac9c65ULL,
    0x2de92c6f592b0275ULL, 0x4a7484aa6ea6e483ULL,
    0x5cb0a9dcbd41fbd4ULL, 0x76f988da831153b5ULL,
    0x983e5152ee66dfabULL, 0xa831c66d2db43210ULL,
    0xb00327c898fb213fULL, 0xbf597fc7beef0ee4ULL,
    0xc6e00bf33da88fc2ULL, 0xd5a79147930aa725ULL,
    0x06ca6351e003826fULL, 0x142929670a0e6e70ULL,
    0x27b70a8546d22ffcULL, 0x2e1b21385c26c926ULL,
    0x4d2c6dfc5ac42aedULL, 0x53380d139d95b3dfULL,
    0x650a73548baf63deULL, 0x766a0abb3c77b2a8ULL,
    0x81c2c92e47edaee6ULL, 0x92722c851482353bULL,
    0xa2bfe8a14cf10364ULL, 0xa81a664bbc423001ULL,
    0xc24b8b70d0f89791ULL, 0xc76c51a30654be30ULL,
    0xd192e819d6ef5218ULL, 0xd69906245565a910ULL,
    0xf40e35855771202aULL, 0x106aa07032bbd1b8ULL,
    0x19a4c116b8d2d0c8ULL, 0x1e376c085141ab53ULL,
    0x2748774cdf8eeb99ULL, 0x34b0bcb5e19b48a8ULL,
    0x391c0cb3c5c95a63ULL, 0x4ed8aa4ae3418acbULL,
    0x5b9cca4f7763e373ULL, 0x682e6ff3d6b2b8a3ULL,
    0x748f82ee5defb2fcULL, 0x78a5636f43172f60ULL,
    0x84c87814a1f0ab72ULL, 0x8cc702081a6439ecULL,
    0x90befffa23631e28ULL, 0xa4506cebde82bde9ULL,
    0xbef9a3f7b2c67915ULL, 0xc67178f2e372532bULL,
    0xca273eceea26619cULL, 0xd186b8c721c0c207ULL,
    0xeada7dd6cde0eb1eULL, 0xf57d4f7fee6ed178ULL,
    0x06f067aa72176fbaULL, 0x0a637dc5a2c898a6ULL,
    0x113f9804bef90daeULL, 0x1b710b35131c471bULL,
    0x28db77f523047d84ULL, 0x32caab7b40c72493ULL,
    0x3c9ebe0a15c9bebcULL, 0x431d67c49c100d4cULL,
    0x4cc5d4becb3e42b6ULL, 0x597f299cfc657e2aULL,
    0x5fcb6fab3ad6faecULL, 0x6c44198c4a475817ULL
};


static const uint64_t  ngx_oci_sha256_iv[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
};


static const uint64_t  ngx_oci_sha512_iv[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL,
    0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL,
    0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL
};


#define ngx_oci_sha2_bsize(alg)   ((alg) == NGX_OCI_SHA512 ? 128 : 64)

#define ngx_oci_sha2_get32(p)                                                \
    ((uint32_t) (p)[0] << 24 | (uint32_t) (p)[1] << 16                       \
     | (uint32_t) (p)[2] << 8 | (uint32_t) (p)[3])

#define ngx_oci_sha2_put32(p, v)                                             \
    (p)[0] = (u_char) ((v) >> 24); (p)[1] = (u_char) ((v) >> 16);            \
    (p)[2] = (u_char) ((v) >> 8); (p)[3] = (u_char) (v)

#define ngx_oci_sha2_ch(x, y, z)    ((z) ^ ((x) & ((y) ^ (z))))
#define ngx_oci_sha2_maj(x, y, z)   (((x) & (y)) | ((z) & ((x) | (y))))

#define ngx_oci_ror32(x, n)         ((x) >> (n) | (x) << (32 - (n)))
#define ngx_oci_ror64(x, n)         ((x) >> (n) | (x) << (64 - (n)))

#define ngx_oci_sha256_S0(x)                                                 \
    (ngx_oci_ror32(x, 2) ^ ngx_oci_ror32(x, 13) ^ ngx_oci_ror32(x, 22))
#define ngx_oci_sha256_S1(x)                                                 \
    (ngx_oci_ror32(x, 6) ^ ngx_oci_ror32(x, 11) ^ ngx_oci_ror32(x, 25))
#define ngx_oci_sha256_s0(x)                                                 \
    (ngx_oci_ror32(x, 7) ^ ngx_oci_ror32(x, 18) ^ ((x) >> 3))
#define ngx_oci_sha256_s1(x)                                                 \
    (ngx_oci_ror32(x, 17) ^ ngx_oci_ror32(x, 19) ^ ((x) >> 10))

#define ngx_oci_sha512_S0(x)                                                 \
    (ngx_oci_ror64(x, 28) ^ ngx_oci_ror64(x, 34) ^ ngx_oci_ror64(x, 39))
#define ngx_oci_sha512_S1(x)                                                 \
    (ngx_oci_ror64(x, 14) ^ ngx_oci_ror64(x, 18) ^ ngx_oci_ror64(x, 41))
#define ngx_oci_sha512_s0(x)                                                 \
    (ngx_oci_ror64(x, 1) ^ ngx_oci_ror64(x, 8) ^ ((x) >> 7))
#define ngx_oci_sha512_s1(x)                                                 \
    (ngx_oci_ror64(x, 19) ^ ngx_oci_ror64(x, 61) ^ ((x) >> 6))

/*
 * One round.  Instead of shifting the eight working variables, the
 * callers rotate the arguments, so a round only writes d and h.
 */

#define ngx_oci_sha2_round(S0, S1, a, b, c, d, e, f, g, h, k, w)             \
    t = h + S1(e) + ngx_oci_sha2_ch(e, f, g) + (k) + (w);                    \
    d += t;                                                                  \
    h = t + S0(a) + ngx_oci_sha2_maj(a, b, c)

/* w[] is a 16-word ring; n is a constant so the indices fold */

#define ngx_oci_sha256_w(n)                                                  \
    (w[n] += ngx_oci_sha256_s1(w[((n) + 14) & 15]) + w[((n) + 9) & 15]      \
             + ngx_oci_sha256_s0(w[((n) + 1) & 15]))

#define ngx_oci_sha512_w(n)                                                  \
    (w[n] += ngx_oci_sha512_s1(w[((n) + 14) & 15]) + w[((n) + 9) & 15]      \
             + ngx_oci_sha512_s0(w[((n) + 1) & 15]))

#define ngx_oci_sha2_w0(n)          w[n]

#define ngx_oci_sha2_r16(S0, S1, K, W, j)                                    \
    ngx_oci_sha2_round(S0, S1, a, b, c, d, e, f, g, h, K[j], W(0));          \
    ngx_oci_sha2_round(S0, S1, h, a, b, c, d, e, f, g, K[j + 1], W(1));      \
    ngx_oci_sha2_round(S0, S1, g, h, a, b, c, d, e, f, K[j + 2], W(2));      \
    ngx_oci_sha2_round(S0, S1, f, g, h, a, b, c, d, e, K[j + 3], W(3));      \
    ngx_oci_sha2_round(S0, S1, e, f, g, h, a, b, c, d, K[j + 4], W(4));      \
    ngx_oci_sha2_round(S0, S1, d, e, f, g, h, a, b, c, K[j + 5], W(5));      \
    ngx_oci_sha2_round(S0, S1, c, d, e, f, g, h, a, b, K[j + 6], W(6));      \
    ngx_oci_sha2_round(S0, S1, b, c, d, e, f, g, h, a, K[j + 7], W(7));      \
    ngx_oci_sha2_round(S0, S1, a, b, c, d, e, f, g, h, K[j + 8], W(8));      \
    ngx_oci_sha2_round(S0, S1, h, a, b, c, d, e, f, g, K[j + 9], W(9));      \
    ngx_oci_sha2_round(S0, S1, g, h, a, b, c, d, e, f, K[j + 10], W(10));    \
    ngx_oci_sha2_round(S0, S1, f, g, h, a, b, c, d, e, K[j + 11], W(11));    \
    ngx_oci_sha2_round(S0, S1, e, f, g, h, a, b, c, d, K[j + 12], W(12));    \
    ngx_oci_sha2_round(S0, S1, d, e, f, g, h, a, b, c, K[j + 13], W(13));    \
    ngx_oci_sha2_round(S0, S1, c, d, e, f, g, h, a, b, K[j + 14], W(14));    \
    ngx_oci_sha2_round(S0, S1, b, c, d, e, f, g, h, a, K[j + 15], W(15))


void
ngx_oci_sha2_init(ngx_oci_sha2_t *s, int alg)
{
    memset(s, 0, sizeof(ngx_oci_sha2_t));

    s->alg = (alg == NGX_OCI_SHA512) ? NGX_OCI_SHA512 : NGX_OCI_SHA256;
    s->impl = ngx_oci_sha2_impl_detect();

    memcpy(s->h, (s->alg == NGX_OCI_SHA512) ? ngx_oci_sha512_iv
                                            : ngx_oci_sha256_iv,
           sizeof(s->h));
}


void
ngx_oci_sha2_update(ngx_oci_sha2_t *s, const u_char *p, size_t len)
{
    size_t  bs, fill, n;

    if (len == 0) {
        return;
    }

    bs = ngx_oci_sha2_bsize(s->alg);
    fill = (size_t) (s->total & (bs - 1));

    s->total += len;

    if (fill) {
        n = bs - fill;

        if (len < n) {
            memcpy(s->block + fill, p, len);
            return;
        }

        memcpy(s->block + fill, p, n);
        ngx_oci_sha2_blocks(s, s->block, 1);

        p += n;
        len -= n;
    }

    n = len / bs;

    if (n) {
        ngx_oci_sha2_blocks(s, p, n);

        p += n * bs;
        len -= n * bs;
    }

    if (len) {
        memcpy(s->block, p, len);
    }
}


size_t
ngx_oci_sha2_final(ngx_oci_sha2_t *s, u_char *md)
{
    size_t    bs, fill, pad, i;
    u_char    buf[256];
    uint64_t  total;

    bs = ngx_oci_sha2_bsize(s->alg);
    total = s->total;
    fill = (size_t) (total & (bs - 1));

    /* 0x80, zeros, then the message length in bits: 8 or 16 bytes */

    pad = (fill < bs - bs / 8) ? bs - fill : 2 * bs - fill;

    memset(buf, 0, pad);
    buf[0] = 0x80;

    if (s->alg == NGX_OCI_SHA512) {
        ngx_oci_sha2_put64(buf + pad - 16, total >> 61);
    }

    ngx_oci_sha2_put64(buf + pad - 8, total << 3);

    ngx_oci_sha2_update(s, buf, pad);

    if (s->alg == NGX_OCI_SHA512) {
        for (i = 0; i < 8; i++) {
            ngx_oci_sha2_put64(md + i * 8, s->h[i]);
        }

        return NGX_OCI_SHA512_SIZE;
    }

    for (i = 0; i < 8; i++) {
        ngx_oci_sha2_put32(md + i * 4, (uint32_t) s->h[i]);
    }

    return NGX_OCI_SHA256_SIZE;
}


size_t
ngx_oci_sha2(int alg, const u_char *p, size_t len, u_char *md)
{
    ngx_oci_sha2_t  s;

    if (alg != NGX_OCI_SHA256 && alg != NGX_OCI_SHA512) {
        return 0;
    }

    ngx_oci_sha2_init(&s, alg);
    ngx_oci_sha2_update(&s, p, len);

    return ngx_oci_sha2_final(&s, md);
}



void
ngx_oci_sha2_save(const ngx_oci_sha2_t *s, u_char *buf)
{
    size_t    fill, i;
    uint32_t  crc;

    memset(buf, 0, NGX_OCI_SHA2_STATE_SIZE);

    memcpy(buf, NGX_OCI_SHA2_MAGIC, 4);
    buf[4] = NGX_OCI_SHA2_VERSION;
    buf[5] = (u_char) s->alg;

    ngx_oci_sha2_put64(buf + 8, s->total);

    for (i = 0; i < 8; i++) {
        ngx_oci_sha2_put64(buf + 16 + i * 8, s->h[i]);
    }

    /* only the pending bytes: the rest of block[] is stale */

    fill = (size_t) (s->total & (ngx_oci_sha2_bsize(s->alg) - 1));
    memcpy(buf + 80, s->block, fill);

    crc = ngx_oci_sha2_crc32(buf, 208);
    ngx_oci_sha2_put32(buf + 208, crc);
}


int
ngx_oci_sha2_load(ngx_oci_sha2_t *s, const u_char *buf, size_t len)
{
    size_t          fill, i;
    ngx_oci_sha2_t  t;

    if (len != NGX_OCI_SHA2_STATE_SIZE
        || memcmp(buf, NGX_OCI_SHA2_MAGIC, 4) != 0
        || buf[4] != NGX_OCI_SHA2_VERSION
        || (buf[5] != NGX_OCI_SHA256 && buf[5] != NGX_OCI_SHA512)
        || buf[6] != 0 || buf[7] != 0
        || ngx_oci_sha2_crc32(buf, 208) != ngx_oci_sha2_get32(buf + 208))
    {
        return -1;
    }

    memset(&t, 0, sizeof(ngx_oci_sha2_t));

    t.alg = buf[5];
    t.total = ngx_oci_sha2_get64(buf + 8);

    for (i = 0; i < 8; i++) {
        t.h[i] = ngx_oci_sha2_get64(buf + 16 + i * 8);

        if (t.alg == NGX_OCI_SHA256 && (t.h[i] >> 32) != 0) {
            return -1;
        }
    }

    /* save() zeroes what follows the pending bytes: anything else is junk */

    fill = (size_t) (t.total & (ngx_oci_sha2_bsize(t.alg) - 1));

    for (i = fill; i < 128; i++) {
        if (buf[80 + i] != 0) {
            return -1;
        }
    }

    memcpy(t.block, buf + 80, fill);

    t.impl = ngx_oci_sha2_impl_detect();

    *s = t;

    return 0;
}


int
ngx_oci_sha2_impl_detect(void)
{
#if (NGX_OCI_SHA2_HAVE_SHANI) && defined(__clang__)

    /* clang's __builtin_cpu_supports() does not know "sha" */

    unsigned int  a, b, c, d;

    if (!__get_cpuid(1, &a, &b, &c, &d)
        || !(c & bit_SSSE3) || !(c & bit_SSE4_1))
    {
        return NGX_OCI_SHA2_IMPL_PORTABLE;
    }

    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & (1U << 29))) {
        return NGX_OCI_SHA2_IMPL_PORTABLE;
    }

    return NGX_OCI_SHA2_IMPL_SHANI;

#elif (NGX_OCI_SHA2_HAVE_SHANI)

    /* in a dlopen()ed module the libgcc constructor may not have run yet */

    __builtin_cpu_init();

    if (__builtin_cpu_supports("sha")
        && __builtin_cpu_supports("ssse3")
        && __builtin_cpu_supports("sse4.1"))
    {
        return NGX_OCI_SHA2_IMPL_SHANI;
    }

    return NGX_OCI_SHA2_IMPL_PORTABLE;

#else

    return NGX_OCI_SHA2_IMPL_PORTABLE;

#endif
}


static void
ngx_oci_sha2_blocks(ngx_oci_sha2_t *s, const u_char *p, size_t n)
{
    size_t    i;
    uint32_t  st[8];

    if (s->alg == NGX_OCI_SHA512) {
        ngx_oci_sha512_blocks(s->h, p, n);
        return;
    }

    for (i = 0; i < 8; i++) {
        st[i] = (uint32_t) s->h[i];
    }

#if (NGX_OCI_SHA2_HAVE_SHANI)
    if (s->impl == NGX_OCI_SHA2_IMPL_SHANI) {
        ngx_oci_sha256_blocks_shani(st, p, n);

    } else {
        ngx_oci_sha256_blocks(st, p, n);
    }
#else
    ngx_oci_sha256_blocks(st, p, n);
#endif

    for (i = 0; i < 8; i++) {
        s->h[i] = st[i];
    }
}


static void
ngx_oci_sha256_blocks(uint32_t *st, const u_char *p, size_t n)
{
    int       j;
    uint32_t  a, b, c, d, e, f, g, h, t, w[16];

    while (n--) {
        a = st[0];
        b = st[1];
        c = st[2];
        d = st[3];
        e = st[4];
        f = st[5];
        g = st[6];
        h = st[7];

        for (j = 0; j < 16; j++) {
            w[j] = ngx_oci_sha2_get32(p + j * 4);
        }

        ngx_oci_sha2_r16(ngx_oci_sha256_S0, ngx_oci_sha256_S1,
                         ngx_oci_sha256_k, ngx_oci_sha2_w0, 0);

        ngx_oci_sha2_r16(ngx_oci_sha256_S0, ngx_oci_sha256_S1,
                         ngx_oci_sha256_k, ngx_oci_sha256_w, 16);
        ngx_oci_sha2_r16(ngx_oci_sha256_S0, ngx_oci_sha256_S1,
                         ngx_oci_sha256_k, ngx_oci_sha256_w, 32);
        ngx_oci_sha2_r16(ngx_oci_sha256_S0, ngx_oci_sha256_S1,
                         ngx_oci_sha256_k, ngx_oci_sha256_w, 48);

        st[0] += a;
        st[1] += b;
        st[2] += c;
        st[3] += d;
        st[4] += e;
        st[5] += f;
        st[6] += g;
        st[7] += h;

        p += 64;
    }
}


static void
ngx_oci_sha512_blocks(uint64_t *st, const u_char *p, size_t n)
{
    int       j;
    uint64_t  a, b, c, d, e, f, g, h, t, w[16];

    while (n--) {
        a = st[0];
        b = st[1];
        c = st[2];
        d = st[3];
        e = st[4];
        f = st[5];
        g = st[6];
        h = st[7];

        for (j = 0; j < 16; j++) {
            w[j] = ngx_oci_sha2_get64(p + j * 8);
        }

        ngx_oci_sha2_r16(ngx_oci_sha512_S0, ngx_oci_sha512_S1,
                         ngx_oci_sha512_k, ngx_oci_sha2_w0, 0);

        ngx_oci_sha2_r16(ngx_oci_sha512_S0, ngx_oci_sha512_S1,
                         ngx_oci_sha512_k, ngx_oci_sha512_w, 16);
        ngx_oci_sha2_r16(ngx_oci_sha512_S0, ngx_oci_sha512_S1,
                         ngx_oci_sha512_k, ngx_oci_sha512_w, 32);
        ngx_oci_sha2_r16(ngx_oci_sha512_S0, ngx_oci_sha512_S1,
                         ngx_oci_sha512_k, ngx_oci_sha512_w, 48);
        ngx_oci_sha2_r16(ngx_oci_sha512_S0, ngx_oci_sha512_S1,
                         ngx_oci_sha512_k, ngx_oci_sha512_w, 64);

        st[0] += a;
        st[1] += b;
        st[2] += c;
        st[3] += d;
        st[4] += e;
        st[5] += f;
        st[6] += g;
        st[7] += h;

        p += 128;
    }
}


#if (NGX_OCI_SHA2_HAVE_SHANI)

/*
 * The SHA-NI instructions keep the state as ABEF and CDGH and do four
 * rounds per pair of sha256rnds2; sha256msg1/sha256msg2 extend the message
 * schedule four words at a time, three groups ahead of the rounds.
 */

#define ngx_oci_shani_rounds(w, i)                                           \
    m = _mm_add_epi32(w,                                                     \
                      _mm_load_si128((const __m128i *) &ngx_oci_sha256_k[i])); \
    s1 = _mm_sha256rnds2_epu32(s1, s0, m);                                   \
    s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(m, 0x0e))

#define ngx_oci_shani_msg1(a, b)                                             \
    a = _mm_sha256msg1_epu32(a, b)

#define ngx_oci_shani_msg2(a, b, c)                                          \
    a = _mm_sha256msg2_epu32(_mm_add_epi32(a, _mm_alignr_epi8(b, c, 4)), b)

#define ngx_oci_shani_load(w, i)                                             \
    w = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *) (p + (i))), bswap)


static void
ngx_oci_sha256_blocks_shani(uint32_t *st, const u_char *p, size_t n)
{
    __m128i  s0, s1, m, m0, m1, m2, m3, t, abef, cdgh, bswap;

    bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);

    t = _mm_loadu_si128((const __m128i *) &st[0]);
    s1 = _mm_loadu_si128((const __m128i *) &st[4]);

    t = _mm_shuffle_epi32(t, 0xb1);
    s1 = _mm_shuffle_epi32(s1, 0x1b);
    s0 = _mm_alignr_epi8(t, s1, 8);
    s1 = _mm_blend_epi16(s1, t, 0xf0);

    while (n--) {
        abef = s0;
        cdgh = s1;

        ngx_oci_shani_load(m0, 0);
        ngx_oci_shani_rounds(m0, 0);

        ngx_oci_shani_load(m1, 16);
        ngx_oci_shani_rounds(m1, 4);
        ngx_oci_shani_msg1(m0, m1);

        ngx_oci_shani_load(m2, 32);
        ngx_oci_shani_rounds(m2, 8);
        ngx_oci_shani_msg1(m1, m2);

        ngx_oci_shani_load(m3, 48);
        ngx_oci_shani_rounds(m3, 12);
        ngx_oci_shani_msg2(m0, m3, m2);
        ngx_oci_shani_msg1(m2, m3);

        ngx_oci_shani_rounds(m0, 16);
        ngx_oci_shani_msg2(m1, m0, m3);
        ngx_oci_shani_msg1(m3, m0);

        ngx_oci_shani_rounds(m1, 20);
        ngx_oci_shani_msg2(m2, m1, m0);
        ngx_oci_shani_msg1(m0, m1);

        ngx_oci_shani_rounds(m2, 24);
        ngx_oci_shani_msg2(m3, m2, m1);
        ngx_oci_shani_msg1(m1, m2);

        ngx_oci_shani_rounds(m3, 28);
        ngx_oci_shani_msg2(m0, m3, m2);
        ngx_oci_shani_msg1(m2, m3);

        ngx_oci_shani_rounds(m0, 32);
        ngx_oci_shani_msg2(m1, m0, m3);
        ngx_oci_shani_msg1(m3, m0);

        ngx_oci_shani_rounds(m1, 36);
        ngx_oci_shani_msg2(m2, m1, m0);
        ngx_oci_shani_msg1(m0, m1);

        ngx_oci_shani_rounds(m2, 40);
        ngx_oci_shani_msg2(m3, m2, m1);
        ngx_oci_shani_msg1(m1, m2);

        ngx_oci_shani_rounds(m3, 44);
        ngx_oci_shani_msg2(m0, m3, m2);
        ngx_oci_shani_msg1(m2, m3);

        ngx_oci_shani_rounds(m0, 48);
        ngx_oci_shani_msg2(m1, m0, m3);
        ngx_oci_shani_msg1(m3, m0);

        ngx_oci_shani_rounds(m1, 52);
        ngx_oci_shani_msg2(m2, m1, m0);

        ngx_oci_shani_rounds(m2, 56);
        ngx_oci_shani_msg2(m3, m2, m1);

        ngx_oci_shani_rounds(m3, 60);

        s0 = _mm_add_epi32(s0, abef);
        s1 = _mm_add_epi32(s1, cdgh);

        p += 64;
    }

    t = _mm_shuffle_epi32(s0, 0x1b);
    s1 = _mm_shuffle_epi32(s1, 0xb1);
    s0 = _mm_blend_epi16(t, s1, 0xf0);
    s1 = _mm_alignr_epi8(s1, t, 8);

    _mm_storeu_si128((__m128i *) &st[0], s0);
    _mm_storeu_si128((__m128i *) &st[4], s1);
}

#endif


static uint32_t
ngx_oci_sha2_crc32(const u_char *p, size_t len)
{
    int       k;
    uint32_t  crc;

    /* bitwise: it runs once per save or load over 208 bytes */

    crc = 0xffffffff;

    while (len--) {
        crc ^= *p++;

        for (k = 0; k < 8; k++) {
            crc = (crc >> 1) ^ (0xedb88320 & (0 - (crc & 1)));
        }
    }

    return crc ^ 0xffffffff;
}


static void
ngx_oci_sha2_put64(u_char *p, uint64_t v)
{
    ngx_oci_sha2_put32(p, (uint32_t) (v >> 32));
    ngx_oci_sha2_put32(p + 4, (uint32_t) v);
}


static uint64_t
ngx_oci_sha2_get64(const u_char *p)
{
    return (uint64_t) ngx_oci_sha2_get32(p) << 32
           | ngx_oci_sha2_get32(p + 4);
}
