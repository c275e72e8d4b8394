
/*
 * Throughput of ngx_oci_sha2 (portable, SHA-NI) and OpenSSL EVP over a
 * 256 MiB buffer, hashed in 64 KiB updates like a request body.
 *
 * usage: sha2_bench [MiB]
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "ngx_oci_sha2.h"


#define CHUNK  (64 * 1024)


static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


static double
bench_ngx(int alg, int impl, const u_char *p, size_t len, u_char *md)
{
    size_t          off, n;
    double          t;
    ngx_oci_sha2_t  s;

    t = now();

    ngx_oci_sha2_init(&s, alg);
    s.impl = impl;

    for (off = 0; off < len; off += n) {
        n = len - off < CHUNK ? len - off : CHUNK;
        ngx_oci_sha2_update(&s, p + off, n);
    }

    ngx_oci_sha2_final(&s, md);

    return now() - t;
}


static double
bench_evp(int alg, const u_char *p, size_t len, u_char *md)
{
    size_t  off, n;
    double  t;
    EVP_MD_CTX  *ctx;

    ctx = EVP_MD_CTX_new();

    t = now();

    EVP_DigestInit_ex(ctx, alg == NGX_OCI_SHA512 ? EVP_sha512()
                                                 : EVP_sha256(), NULL);

    for (off = 0; off < len; off += n) {
        n = len - off < CHUNK ? len - off : CHUNK;
        EVP_DigestUpdate(ctx, p + off, n);
    }

    EVP_DigestFinal_ex(ctx, md, NULL);

    t = now() - t;

    EVP_MD_CTX_free(ctx);

    return t;
}


static void
report(const char *name, size_t len, double t, const u_char *md,
    const u_char *ref, size_t n)
{
    printf("%-22s %9.1f MB/s %s\n", name, len / t / 1e6,
           memcmp(md, ref, n) == 0 ? "" : "  MISMATCH");
}


int
main(int argc, char **argv)
{
    int      shani;
    size_t   len, i;
    u_char  *p, ref[64], md[64];
    double   t;

    len = (size_t) (argc > 1 ? atoi(argv[1]) : 256) << 20;

    p = malloc(len);
    if (p == NULL) {
        return 1;
    }

    for (i = 0; i < len; i++) {
        p[i] = (u_char) (i * 2654435761U >> 13);
    }

    shani = (ngx_oci_sha2_impl_detect() == NGX_OCI_SHA2_IMPL_SHANI);

    printf("%zu MiB buffer, %d KiB updates, %s\n", len >> 20, CHUNK >> 10,
           OpenSSL_version(OPENSSL_VERSION));

    t = bench_evp(NGX_OCI_SHA256, p, len, ref);
    report("sha256 openssl evp", len, t, ref, ref, 32);

    t = bench_ngx(NGX_OCI_SHA256, NGX_OCI_SHA2_IMPL_PORTABLE, p, len, md);
    report("sha256 portable", len, t, md, ref, 32);

    if (shani) {
        t = bench_ngx(NGX_OCI_SHA256, NGX_OCI_SHA2_IMPL_SHANI, p, len, md);
        report("sha256 sha-ni", len, t, md, ref, 32);

    } else {
        printf("%-22s   (not available on this CPU)\n", "sha256 sha-ni");
    }

    t = bench_evp(NGX_OCI_SHA512, p, len, ref);
    report("sha512 openssl evp", len, t, ref, ref, 64);

    t = bench_ngx(NGX_OCI_SHA512, NGX_OCI_SHA2_IMPL_PORTABLE, p, len, md);
    report("sha512 portable", len, t, md, ref, 64);

    free(p);

    return 0;
}
