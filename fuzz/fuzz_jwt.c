
/*
 * libFuzzer harness for the bearer token verifier (ngx_oci_jwt.c,
 * ngx_oci_jwt_keys.c).
 *
 * Input: the first byte picks what the rest is: 'J' a JWKS document, 'P'
 * PEM, 'B' base64url, anything else a token (the whole input), which is
 * parsed, verified against keys made at start and its claims checked
 * whatever the signature said, so that the claims see arbitrary JSON.
 * A decoded base64url string must encode back to itself (one spelling
 * per value); a parsed token must point inside what was decoded.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rsa.h>

#include "ngx_oci_jwt.h"


static ngx_oci_jwt_keys_t  keys;
static int                 keys_made;


static EVP_PKEY *
keygen(const char *type, const char *curve, int bits)
{
    EVP_PKEY      *pkey;
    EVP_PKEY_CTX  *ctx;

    pkey = NULL;
    ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);

    if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1
        || (curve && EVP_PKEY_CTX_set_group_name(ctx, curve) != 1)
        || (bits && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits) != 1)
        || EVP_PKEY_generate(ctx, &pkey) != 1)
    {
        abort();
    }

    EVP_PKEY_CTX_free(ctx);

    return pkey;
}


/* keys under fixed kids, and one without, as a JWKS would give them */

static void
make_keys(void)
{
    size_t             i;
    ngx_oci_jwt_key_t  *k;

    static const struct {
        const char            *type;
        const char            *curve;
        int                    bits;
        ngx_oci_jwt_family_e   family;
        const char            *kid;
    } spec[] = {
        { "RSA", NULL, 2048, NGX_OCI_JWT_KEY_RSA, "rsa" },
        { "EC", "P-256", 0, NGX_OCI_JWT_KEY_P256, "p256" },
        { "EC", "P-384", 0, NGX_OCI_JWT_KEY_P384, "p384" },
        { "ED25519", NULL, 0, NGX_OCI_JWT_KEY_ED25519, NULL },
    };

    ngx_oci_jwt_keys_init(&keys);

    keys.keys = calloc(4, sizeof(ngx_oci_jwt_key_t));
    if (keys.keys == NULL) {
        abort();
    }

    keys.nalloc = 4;

    for (i = 0; i < 4; i++) {
        k = &keys.keys[i];
        k->pkey = keygen(spec[i].type, spec[i].curve, spec[i].bits);
        k->family = spec[i].family;
        k->kid = spec[i].kid ? strdup(spec[i].kid) : NULL;
        keys.nkeys++;
    }

    keys_made = 1;
}


static size_t
encode(const u_char *p, size_t len, u_char *out)
{
    size_t  i, n;
    u_int   v;

    static const char  a[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    n = 0;

    for (i = 0; i < len; i += 3) {
        v = p[i] << 16;
        v |= (i + 1 < len) ? p[i + 1] << 8 : 0;
        v |= (i + 2 < len) ? p[i + 2] : 0;

        out[n++] = a[v >> 18];
        out[n++] = a[(v >> 12) & 63];

        if (i + 1 < len) {
            out[n++] = a[(v >> 6) & 63];
        }

        if (i + 2 < len) {
            out[n++] = a[v & 63];
        }
    }

    return n;
}


static void
base64url(const u_char *data, size_t size)
{
    size_t   len, n;
    u_char  *out, *again;

    out = malloc(size + 1);
    again = malloc(size + 4);

    if (out == NULL || again == NULL) {
        abort();
    }

    if (ngx_oci_jwt_base64url_decode(data, size, out, &len) == 0) {
        n = encode(out, len, again);

        if (len != size / 4 * 3 + (size % 4 ? size % 4 - 1 : 0)
            || n != size || memcmp(again, data, size) != 0)
        {
            abort();
        }
    }

    free(out);
    free(again);
}


static void
token(const u_char *data, size_t size)
{
    json_t                *payload;
    ngx_oci_jwt_t          jwt;
    ngx_oci_jwt_rc_e       rc;
    ngx_oci_jwt_claims_t   claims;

    static const char  *issuers[] = { "auth.test" };
    static const ngx_oci_jwt_expect_t  expect = {
        issuers, 1, "registry.test", 1700000000, 60
    };

    rc = ngx_oci_jwt_parse(data, size, &jwt);

    if (rc != NGX_OCI_JWT_OK) {
        if (jwt.input || jwt.header || jwt.payload) {
            abort();
        }

        return;
    }

    if (jwt.alg == NGX_OCI_JWT_ALG_ANY || jwt.sig_len == 0
        || jwt.input_len >= size || size > NGX_OCI_JWT_MAX_LEN
        || memcmp(jwt.input, data, jwt.input_len) != 0
        || data[jwt.input_len] != '.'
        || !json_is_object(jwt.header) || !json_is_object(jwt.payload))
    {
        abort();
    }

    rc = ngx_oci_jwt_verify(&jwt, &keys);

    /* no input can carry a signature of keys made at start */

    if (rc == NGX_OCI_JWT_OK || ERR_peek_error() != 0) {
        abort();
    }

    payload = jwt.payload;

    if (ngx_oci_jwt_claims_check(payload, &expect, &claims)
        == NGX_OCI_JWT_OK)
    {
        (void) ngx_oci_jwt_granted(&claims, "repository",
                                   (const u_char *) "a/b", 3, "pull");
        (void) ngx_oci_jwt_granted(&claims, "registry",
                                   (const u_char *) "catalog", 7, "*");

        if (claims.sub && strlen(claims.sub) != claims.sub_len) {
            abort();
        }
    }

    ngx_oci_jwt_free(&jwt);
}


static void
key_set(const u_char *data, size_t size, int pem)
{
    int                 rc;
    char                err[NGX_OCI_JWT_ERROR_LEN];
    size_t              i;
    ngx_oci_jwt_keys_t  set;

    ngx_oci_jwt_keys_init(&set);

    rc = pem ? ngx_oci_jwt_keys_add_pem(&set, data, size, err)
             : ngx_oci_jwt_keys_add_jwks(&set, data, size, err);

    if ((rc < 0 && set.nkeys != 0) || (rc >= 0 && (size_t) rc != set.nkeys)
        || ERR_peek_error() != 0)
    {
        abort();
    }

    for (i = 0; i < set.nkeys; i++) {
        if (set.keys[i].pkey == NULL || set.keys[i].family == 0) {
            abort();
        }
    }

    ngx_oci_jwt_keys_free(&set);
}


int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (!keys_made) {
        make_keys();
    }

    if (size > 0 && data[0] == 'J') {
        key_set(data + 1, size - 1, 0);

    } else if (size > 0 && data[0] == 'P') {
        key_set(data + 1, size - 1, 1);

    } else if (size > 0 && data[0] == 'B') {
        base64url(data + 1, size - 1);

    } else {
        token(data, size);
    }

    return 0;
}
