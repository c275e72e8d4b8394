
/*
 * libFuzzer harness for ngx_oci_sha2: the input is hashed in pieces with a
 * save/load round trip between pieces, switching implementations, and
 * must equal OpenSSL's one-shot digest.  The input is also offered to
 * ngx_oci_sha2_load(): a state it accepts must save back byte for byte.
 *
 * Input: byte 0 selects the algorithm, bytes 1..8 seed the split points,
 * the rest is the message.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ngx_oci_sha2.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int             alg, impls[2], nimpls;
    u_char          md[64], ref[64], st[NGX_OCI_SHA2_STATE_SIZE];
    size_t          off, piece, len, i;
    uint64_t        seed;
    unsigned int    n;
    const u_char   *msg;
    ngx_oci_sha2_t  s, r;

    if (size >= NGX_OCI_SHA2_STATE_SIZE
        && ngx_oci_sha2_load(&r, data, NGX_OCI_SHA2_STATE_SIZE) == 0)
    {
        ngx_oci_sha2_save(&r, st);

        if (memcmp(st, data, NGX_OCI_SHA2_STATE_SIZE) != 0) {
            abort();
        }

        ngx_oci_sha2_update(&r, data, size);
        ngx_oci_sha2_final(&r, md);
    }

    if (size < 9) {
        return 0;
    }

    alg = (data[0] & 1) ? NGX_OCI_SHA512 : NGX_OCI_SHA256;

    seed = 0;
    for (i = 1; i < 9; i++) {
        seed = seed << 8 | data[i];
    }

    seed |= 1;

    msg = data + 9;
    len = size - 9;

    nimpls = 0;
    impls[nimpls++] = NGX_OCI_SHA2_IMPL_PORTABLE;

    if (ngx_oci_sha2_impl_detect() == NGX_OCI_SHA2_IMPL_SHANI) {
        impls[nimpls++] = NGX_OCI_SHA2_IMPL_SHANI;
    }

    if (!EVP_Digest(msg, len, ref, &n,
                    alg == NGX_OCI_SHA512 ? EVP_sha512() : EVP_sha256(),
                    NULL))
    {
        abort();
    }

    ngx_oci_sha2_init(&s, alg);
    s.impl = impls[seed % nimpls];

    for (off = 0; off < len; off += piece) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;

        piece = (size_t) (seed % 300);

        if (piece > len - off) {
            piece = len - off;
        }

        ngx_oci_sha2_update(&s, msg + off, piece);

        ngx_oci_sha2_save(&s, st);

        if (ngx_oci_sha2_load(&r, st, sizeof(st)) != 0) {
            abort();
        }

        r.impl = impls[(seed >> 32) % nimpls];
        s = r;
    }

    if (ngx_oci_sha2_final(&s, md) != n || memcmp(md, ref, n) != 0) {
        abort();
    }

    return 0;
}
