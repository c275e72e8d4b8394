
/*
 * ngx_oci_sha2 against OpenSSL EVP: NIST vectors, every length around the
 * padding boundaries, then random inputs hashed in random pieces with a
 * save/load round trip between pieces, which is what uploads do.  Each
 * piece may be hashed by a different implementation, so a state saved by
 * one worker resumes identically on another.
 *
 * Built twice: test_sha2 (SHA-NI when the CPU has it) and
 * test_sha2_portable (-DNGX_OCI_SHA2_NO_SHANI).
 */


#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "ngx_oci_sha2.h"
#include "tap.h"


static int  impls[2];
static int  nimpls;


static uint32_t
crc32_ieee(const u_char *p, size_t len)
{
    int       k;
    uint32_t  crc;

    crc = 0xffffffff;

    while (len--) {
        crc ^= *p++;

        for (k = 0; k < 8; k++) {
            crc = (crc & 1) ? (crc >> 1) ^ 0xedb88320 : crc >> 1;
        }
    }

    return ~crc;
}


/* recompute the trailer so that only the content checks can reject */

static void
reseal(u_char *st)
{
    uint32_t  crc;

    crc = crc32_ieee(st, NGX_OCI_SHA2_STATE_SIZE - 4);

    st[208] = (u_char) (crc >> 24);
    st[209] = (u_char) (crc >> 16);
    st[210] = (u_char) (crc >> 8);
    st[211] = (u_char) crc;
}


static void
rng_fill(u_char *p, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        p[i] = (u_char) (tap_rng() >> 24);
    }
}


static size_t
evp(int alg, const u_char *p, size_t len, u_char *md)
{
    unsigned int  n;

    if (!EVP_Digest(p, len, md, &n,
                    alg == NGX_OCI_SHA512 ? EVP_sha512() : EVP_sha256(),
                    NULL))
    {
        abort();
    }

    return n;
}


static const char *
alg_name(int alg)
{
    return alg == NGX_OCI_SHA512 ? "sha512" : "sha256";
}


static const char *
impl_name(int impl)
{
    return impl == NGX_OCI_SHA2_IMPL_SHANI ? "sha-ni" : "portable";
}


static void
hex(const u_char *md, size_t n, char *out)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        sprintf(out + i * 2, "%02x", md[i]);
    }
}


static int
one_shot(int alg, int impl, const u_char *p, size_t len, u_char *md)
{
    ngx_oci_sha2_t  s;

    ngx_oci_sha2_init(&s, alg);
    s.impl = impl;
    ngx_oci_sha2_update(&s, p, len);

    return (int) ngx_oci_sha2_final(&s, md);
}


static void
test_vectors(int alg, int impl)
{
    u_char          md[64], ref[64], *buf;
    char            h1[129], h2[129];
    size_t          n, i, piece;
    ngx_oci_sha2_t  s;

    static const char  *msgs[] = {
        "abc",
        "",
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
        "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
        "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
    };

    static const char  *abc[] = {
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
    };

    one_shot(alg, impl, (const u_char *) "abc", 3, md);
    hex(md, alg == NGX_OCI_SHA512 ? 64 : 32, h1);
    tap_ok(strcmp(h1, abc[alg - 1]) == 0, "%s %s: FIPS 180-4 \"abc\"",
           alg_name(alg), impl_name(impl))
        || (tap_diag("got %s", h1), 0);

    for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
        n = (size_t) one_shot(alg, impl, (const u_char *) msgs[i],
                              strlen(msgs[i]), md);
        evp(alg, (const u_char *) msgs[i], strlen(msgs[i]), ref);
        hex(md, n, h1);
        hex(ref, n, h2);

        tap_ok(memcmp(md, ref, n) == 0, "%s %s: NIST vector %zu (%zu bytes)",
               alg_name(alg), impl_name(impl), i, strlen(msgs[i]))
            || (tap_diag("got %s, want %s", h1, h2), 0);
    }

    /* one million 'a', fed in uneven pieces */

    buf = malloc(1000000);
    if (buf == NULL) {
        abort();
    }

    memset(buf, 'a', 1000000);
    evp(alg, buf, 1000000, ref);

    ngx_oci_sha2_init(&s, alg);
    s.impl = impl;

    for (i = 0; i < 1000000; i += piece) {
        piece = 1 + (size_t) (tap_rng() % 9973);
        if (piece > 1000000 - i) {
            piece = 1000000 - i;
        }

        ngx_oci_sha2_update(&s, buf + i, piece);
    }

    n = ngx_oci_sha2_final(&s, md);

    tap_ok(memcmp(md, ref, n) == 0, "%s %s: one million 'a'",
           alg_name(alg), impl_name(impl));

    free(buf);
}


static void
test_lengths(int alg, int impl)
{
    u_char  buf[1100], md[64], ref[64];
    size_t  len, n, bad;

    rng_fill(buf, sizeof(buf));
    bad = 0;

    for (len = 0; len <= sizeof(buf); len++) {
        n = (size_t) one_shot(alg, impl, buf, len, md);
        evp(alg, buf, len, ref);

        if (n != (alg == NGX_OCI_SHA512 ? 64 : 32) || memcmp(md, ref, n)) {
            if (bad++ == 0) {
                tap_diag("first mismatch at length %zu", len);
            }
        }
    }

    tap_ok(bad == 0, "%s %s: every length 0..%zu", alg_name(alg),
           impl_name(impl), sizeof(buf));
}


static void
test_resume(int alg, size_t rounds)
{
    int             impl, mixed;
    u_char         *buf, st[NGX_OCI_SHA2_STATE_SIZE];
    u_char          st2[NGX_OCI_SHA2_STATE_SIZE], md[64], ref[64];
    size_t          i, len, off, piece, n, bad, splits;
    ngx_oci_sha2_t  s, r;

    buf = malloc(1 << 20);
    if (buf == NULL) {
        abort();
    }

    bad = 0;
    splits = 0;
    mixed = 0;

    for (i = 0; i < rounds; i++) {

        /* mostly small inputs, where the block boundaries are */

        switch (tap_rng() % 4) {
        case 0:
            len = (size_t) (tap_rng() % 300);
            break;
        case 1:
        case 2:
            len = (size_t) (tap_rng() % 5000);
            break;
        default:
            len = (size_t) (tap_rng() % (1 << 20));
        }

        rng_fill(buf, len);
        evp(alg, buf, len, ref);

        ngx_oci_sha2_init(&s, alg);
        s.impl = impls[tap_rng() % nimpls];

        for (off = 0; off < len; off += piece) {
            piece = (tap_rng() % 3 == 0) ? (size_t) (tap_rng() % 130)
                                     : (size_t) (tap_rng() % (len - off + 1));
            if (piece > len - off) {
                piece = len - off;
            }

            ngx_oci_sha2_update(&s, buf + off, piece);

            ngx_oci_sha2_save(&s, st);
            memset(&r, 0xa5, sizeof(r));

            if (ngx_oci_sha2_load(&r, st, sizeof(st)) != 0) {
                if (bad++ == 0) {
                    tap_diag("load failed, input %zu offset %zu", i, off);
                }
                break;
            }

            ngx_oci_sha2_save(&r, st2);

            if (memcmp(st, st2, sizeof(st)) != 0 || r.alg != s.alg
                || r.total != s.total)
            {
                if (bad++ == 0) {
                    tap_diag("state differs, input %zu offset %zu", i, off);
                }
                break;
            }

            /* resume on a "different worker", perhaps another impl */

            impl = impls[tap_rng() % nimpls];
            mixed += (impl != s.impl);
            r.impl = impl;
            s = r;
            splits++;
        }

        n = ngx_oci_sha2_final(&s, md);

        if (memcmp(md, ref, n) != 0) {
            if (bad++ == 0) {
                tap_diag("digest mismatch, input %zu, length %zu", i, len);
            }
        }
    }

    tap_ok(bad == 0, "%s: %zu random inputs, %zu save/load splits, "
           "%d implementation switches", alg_name(alg), rounds, splits,
           mixed);

    free(buf);
}


static void
test_load_rejects(int alg)
{
    int             rc;
    u_char          st[NGX_OCI_SHA2_STATE_SIZE], bad[NGX_OCI_SHA2_STATE_SIZE];
    u_char          buf[200];
    size_t          i, bit, accepted;
    ngx_oci_sha2_t  s, r, keep;

    rng_fill(buf, sizeof(buf));

    ngx_oci_sha2_init(&s, alg);
    ngx_oci_sha2_update(&s, buf, 77);
    ngx_oci_sha2_save(&s, st);

    memset(&r, 0x5a, sizeof(r));
    keep = r;

    tap_ok(ngx_oci_sha2_load(&r, st, sizeof(st)) == 0,
           "%s: a saved state loads", alg_name(alg));

    r = keep;

    rc = ngx_oci_sha2_load(&r, st, sizeof(st) - 1);
    tap_ok(rc == -1, "%s: short state rejected", alg_name(alg));

    accepted = 0;

    for (i = 0; i < sizeof(st); i++) {
        for (bit = 0; bit < 8; bit++) {
            memcpy(bad, st, sizeof(st));
            bad[i] ^= (u_char) (1 << bit);

            if (ngx_oci_sha2_load(&r, bad, sizeof(bad)) != -1) {
                if (accepted++ == 0) {
                    tap_diag("flip of byte %zu bit %zu accepted", i, bit);
                }
            }
        }
    }

    tap_ok(accepted == 0, "%s: every single-bit corruption rejected",
           alg_name(alg));

    tap_ok(memcmp(&r, &keep, sizeof(r)) == 0,
           "%s: a rejected load leaves the context untouched",
           alg_name(alg));

    memcpy(bad, st, sizeof(st));
    reseal(bad);
    tap_ok(memcmp(bad, st, sizeof(st)) == 0, "%s: trailer is CRC-32/IEEE",
           alg_name(alg));

    /* valid CRC but inconsistent content */

    memcpy(bad, st, sizeof(st));
    bad[80 + 100] = 1;
    reseal(bad);
    tap_ok(ngx_oci_sha2_load(&r, bad, sizeof(bad)) == -1,
           "%s: junk after the pending bytes rejected", alg_name(alg));

    memcpy(bad, st, sizeof(st));
    bad[5] = 3;
    reseal(bad);
    tap_ok(ngx_oci_sha2_load(&r, bad, sizeof(bad)) == -1,
           "%s: unknown algorithm rejected", alg_name(alg));

    memcpy(bad, st, sizeof(st));
    bad[4] = 2;
    reseal(bad);
    tap_ok(ngx_oci_sha2_load(&r, bad, sizeof(bad)) == -1,
           "%s: unknown version rejected", alg_name(alg));

    memcpy(bad, st, sizeof(st));
    bad[7] = 1;
    reseal(bad);
    tap_ok(ngx_oci_sha2_load(&r, bad, sizeof(bad)) == -1,
           "%s: non-zero reserved bytes rejected", alg_name(alg));

    if (alg == NGX_OCI_SHA256) {
        memcpy(bad, st, sizeof(st));
        bad[16 + 3 * 8] = 1;
        reseal(bad);
        tap_ok(ngx_oci_sha2_load(&r, bad, sizeof(bad)) == -1,
               "sha256: a word above 32 bits rejected");
    }

    tap_ok(memcmp(&r, &keep, sizeof(r)) == 0,
           "%s: still untouched after the rejects", alg_name(alg));

    memset(bad, 0, sizeof(bad));
    tap_ok(ngx_oci_sha2_load(&r, bad, sizeof(bad)) == -1,
           "%s: all-zero state rejected", alg_name(alg));
}


static void
test_state_size(void)
{
    u_char          st[NGX_OCI_SHA2_STATE_SIZE + 16];
    size_t          i;
    ngx_oci_sha2_t  s;

    memset(st, 0xee, sizeof(st));

    ngx_oci_sha2_init(&s, NGX_OCI_SHA512);
    ngx_oci_sha2_update(&s, (const u_char *) "hello", 5);
    ngx_oci_sha2_save(&s, st);

    for (i = NGX_OCI_SHA2_STATE_SIZE; i < sizeof(st); i++) {
        if (st[i] != 0xee) {
            break;
        }
    }

    tap_ok(i == sizeof(st), "save() writes exactly %d bytes",
           NGX_OCI_SHA2_STATE_SIZE);

    tap_ok(memcmp(st, "OCIH\001\002", 6) == 0, "state header");
}


int
main(int argc, char **argv)
{
    int          i, alg;
    size_t       rounds;
    const char  *env;

    env = getenv("SHA2_TEST_SEED");
    if (env) {
        tap_rng_state = strtoull(env, NULL, 0) | 1;
    }

    env = getenv("SHA2_TEST_ROUNDS");
    rounds = env ? (size_t) strtoul(env, NULL, 0) : 2000;

    impls[nimpls++] = NGX_OCI_SHA2_IMPL_PORTABLE;

    if (ngx_oci_sha2_impl_detect() == NGX_OCI_SHA2_IMPL_SHANI) {
        impls[nimpls++] = NGX_OCI_SHA2_IMPL_SHANI;
    }

    tap_diag("implementations: %s%s", impl_name(impls[0]),
             nimpls > 1 ? ", sha-ni" : "");

    for (i = 0; i < nimpls; i++) {
        test_vectors(NGX_OCI_SHA256, impls[i]);
        test_lengths(NGX_OCI_SHA256, impls[i]);
    }

    test_resume(NGX_OCI_SHA256, rounds);
    test_load_rejects(NGX_OCI_SHA256);

    /* SHA-512 has a portable implementation only */

    alg = NGX_OCI_SHA512;
    nimpls = 1;

    test_vectors(alg, impls[0]);
    test_lengths(alg, impls[0]);
    test_resume(alg, rounds);
    test_load_rejects(alg);

    test_state_size();

    (void) argc;
    (void) argv;

    return tap_done();
}
