
/*
 * Key sets of the bearer token verifier, see ngx_oci_jwt.h: PEM public
 * keys and certificates, JWKS documents, libtrust key ids.
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ngx_oci_jwt.h"


/* the longest member of a JWK we decode: an RSA modulus of 8192 bits */
#define NGX_OCI_JWK_BYTES_MAX  1024


static void ngx_oci_jwt_error(char *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int ngx_oci_jwt_keys_add(ngx_oci_jwt_keys_t *keys, EVP_PKEY *pkey,
    const char *kid, ngx_oci_jwt_alg_e alg, char *err);
static void ngx_oci_jwt_keys_truncate(ngx_oci_jwt_keys_t *keys, size_t n);
static EVP_PKEY *ngx_oci_jwt_pem_block(const char *name, const u_char *data,
    long len, char *err);
static int ngx_oci_jwt_jwk(ngx_oci_jwt_keys_t *keys, json_t *jwk, size_t i,
    char *err);
static int ngx_oci_jwt_jwk_bytes(json_t *jwk, const char *name, u_char *buf,
    size_t *len);
static EVP_PKEY *ngx_oci_jwt_jwk_rsa(json_t *jwk, size_t i, char *err);
static EVP_PKEY *ngx_oci_jwt_jwk_ec(json_t *jwk, const char *crv, size_t i,
    char *err);
static EVP_PKEY *ngx_oci_jwt_jwk_okp(json_t *jwk, size_t i, char *err);
static EVP_PKEY *ngx_oci_jwt_fromdata(const char *type,
    OSSL_PARAM_BLD *bld);


static void
ngx_oci_jwt_error(char *err, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    vsnprintf(err, NGX_OCI_JWT_ERROR_LEN, fmt, args);
    va_end(args);
}


void
ngx_oci_jwt_keys_init(ngx_oci_jwt_keys_t *keys)
{
    memset(keys, 0, sizeof(ngx_oci_jwt_keys_t));
}


static void
ngx_oci_jwt_keys_truncate(ngx_oci_jwt_keys_t *keys, size_t n)
{
    while (keys->nkeys > n) {
        keys->nkeys--;
        EVP_PKEY_free(keys->keys[keys->nkeys].pkey);
        free(keys->keys[keys->nkeys].kid);
    }
}


void
ngx_oci_jwt_keys_free(ngx_oci_jwt_keys_t *keys)
{
    ngx_oci_jwt_keys_truncate(keys, 0);
    free(keys->keys);
    memset(keys, 0, sizeof(ngx_oci_jwt_keys_t));
}


/*
 * libtrust's key id: SHA-256 of the DER SubjectPublicKeyInfo, its first
 * 240 bits in base32 (48 characters), in groups of 4 joined by ':'.
 */

int
ngx_oci_jwt_libtrust_kid(EVP_PKEY *pkey, char *kid)
{
    int             n;
    u_char         *der;
    size_t          i, bit;
    unsigned int    v;
    u_char          md[EVP_MAX_MD_SIZE];

    static const char  alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

    der = NULL;
    n = i2d_PUBKEY(pkey, &der);

    if (n <= 0) {
        ERR_clear_error();
        return -1;
    }

    if (EVP_Digest(der, n, md, NULL, EVP_sha256(), NULL) != 1) {
        OPENSSL_free(der);
        ERR_clear_error();
        return -1;
    }

    OPENSSL_free(der);

    for (i = 0; i < 48; i++) {
        bit = i * 5;
        v = (unsigned int) md[bit / 8] << 8 | md[bit / 8 + 1];
        v = (v >> (11 - bit % 8)) & 0x1f;

        *kid++ = alphabet[v];

        if (i % 4 == 3 && i != 47) {
            *kid++ = ':';
        }
    }

    *kid = '\0';

    return 0;
}


static int
ngx_oci_jwt_keys_add(ngx_oci_jwt_keys_t *keys, EVP_PKEY *pkey,
    const char *kid, ngx_oci_jwt_alg_e alg, char *err)
{
    int                    bits;
    size_t                 i, len;
    char                   group[32];
    char                   libtrust[NGX_OCI_JWT_LIBTRUST_KID_LEN + 1];
    ngx_oci_jwt_key_t     *k;
    ngx_oci_jwt_family_e   family;

    if (EVP_PKEY_is_a(pkey, "RSA")) {
        bits = EVP_PKEY_get_bits(pkey);

        if (bits < NGX_OCI_JWT_RSA_MIN_BITS) {
            ngx_oci_jwt_error(err, "RSA key of %d bits, less than %d", bits,
                              NGX_OCI_JWT_RSA_MIN_BITS);
            return -1;
        }

        family = NGX_OCI_JWT_KEY_RSA;

    } else if (EVP_PKEY_is_a(pkey, "EC")) {
        if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &len) != 1) {
            ERR_clear_error();
            ngx_oci_jwt_error(err, "EC key without a named curve");
            return -1;
        }

        if (strcmp(group, "prime256v1") == 0) {
            family = NGX_OCI_JWT_KEY_P256;

        } else if (strcmp(group, "secp384r1") == 0) {
            family = NGX_OCI_JWT_KEY_P384;

        } else {
            ngx_oci_jwt_error(err, "EC key on curve %s, not P-256 or P-384",
                              group);
            return -1;
        }

    } else if (EVP_PKEY_is_a(pkey, "ED25519")) {
        family = NGX_OCI_JWT_KEY_ED25519;

    } else {
        ngx_oci_jwt_error(err, "key of type %s, not RSA, EC or Ed25519",
                          EVP_PKEY_get0_type_name(pkey));
        return -1;
    }

    if (alg != NGX_OCI_JWT_ALG_ANY && ngx_oci_jwt_alg_family(alg) != family) {
        ngx_oci_jwt_error(err, "\"alg\" does not fit the key");
        return -1;
    }

    if (kid == NULL) {
        if (ngx_oci_jwt_libtrust_kid(pkey, libtrust) != 0) {
            ngx_oci_jwt_error(err, "no key id for the key");
            return -1;
        }

        kid = libtrust;
    }

    /* the same key twice (a certificate bundled twice) is kept once */

    for (i = 0; kid[0] && i < keys->nkeys; i++) {
        k = &keys->keys[i];

        if (k->kid == NULL || strcmp(k->kid, kid) != 0) {
            continue;
        }

        if (EVP_PKEY_eq(k->pkey, pkey) == 1 && k->alg == alg) {
            EVP_PKEY_free(pkey);
            return 0;
        }

        ERR_clear_error();
        ngx_oci_jwt_error(err, "kid \"%.64s\" already names another key",
                          kid);
        return -1;
    }

    if (keys->nkeys == NGX_OCI_JWT_KEYS_MAX) {
        ngx_oci_jwt_error(err, "more than %d keys", NGX_OCI_JWT_KEYS_MAX);
        return -1;
    }

    if (keys->nkeys == keys->nalloc) {
        len = keys->nalloc ? 2 * keys->nalloc : 4;

        k = realloc(keys->keys, len * sizeof(ngx_oci_jwt_key_t));
        if (k == NULL) {
            ngx_oci_jwt_error(err, "out of memory");
            return -1;
        }

        keys->keys = k;
        keys->nalloc = len;
    }

    k = &keys->keys[keys->nkeys];

    k->kid = NULL;

    if (kid[0]) {
        k->kid = strdup(kid);
        if (k->kid == NULL) {
            ngx_oci_jwt_error(err, "out of memory");
            return -1;
        }
    }

    k->pkey = pkey;
    k->family = family;
    k->alg = alg;

    keys->nkeys++;

    return 1;
}


static EVP_PKEY *
ngx_oci_jwt_pem_block(const char *name, const u_char *data, long len,
    char *err)
{
    X509            *x;
    EVP_PKEY        *pkey;
    const u_char    *p;

    p = data;

    if (strcmp(name, "PUBLIC KEY") == 0) {
        pkey = d2i_PUBKEY(NULL, &p, len);

        if (pkey == NULL || p != data + len) {
            EVP_PKEY_free(pkey);
            ngx_oci_jwt_error(err, "malformed public key");
            return NULL;
        }

        return pkey;
    }

    if (strcmp(name, "CERTIFICATE") == 0) {
        x = d2i_X509(NULL, &p, len);

        if (x == NULL || p != data + len) {
            X509_free(x);
            ngx_oci_jwt_error(err, "malformed certificate");
            return NULL;
        }

        pkey = X509_get_pubkey(x);
        X509_free(x);

        if (pkey == NULL) {
            ngx_oci_jwt_error(err, "certificate with an unknown key type");
        }

        return pkey;
    }

    if (strstr(name, "PRIVATE KEY") != NULL) {
        ngx_oci_jwt_error(err, "a private key: give the public key or "
                          "the certificate");
        return NULL;
    }

    ngx_oci_jwt_error(err, "PEM block \"%.32s\" is neither a public key nor "
                      "a certificate", name);
    return NULL;
}


int
ngx_oci_jwt_keys_add_pem(ngx_oci_jwt_keys_t *keys, const u_char *buf,
    size_t len, char *err)
{
    int             rc, added, blocks;
    long            data_len;
    BIO            *bio;
    char           *name, *header;
    size_t          start;
    u_char         *data;
    EVP_PKEY       *pkey;
    unsigned long   e;

    if (len == 0 || len > 1024 * 1024) {
        ngx_oci_jwt_error(err, "no PEM data, or more than 1 MiB");
        return -1;
    }

    bio = BIO_new_mem_buf(buf, (int) len);
    if (bio == NULL) {
        ngx_oci_jwt_error(err, "out of memory");
        return -1;
    }

    start = keys->nkeys;
    added = 0;
    blocks = 0;

    for ( ;; ) {
        if (PEM_read_bio(bio, &name, &header, &data, &data_len) != 1) {
            e = ERR_peek_last_error();
            ERR_clear_error();

            if (ERR_GET_LIB(e) == ERR_LIB_PEM
                && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
            {
                break;
            }

            ngx_oci_jwt_error(err, "malformed PEM");
            goto failed;
        }

        blocks++;

        pkey = ngx_oci_jwt_pem_block(name, data, data_len, err);

        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);

        if (pkey == NULL) {
            ERR_clear_error();
            goto failed;
        }

        rc = ngx_oci_jwt_keys_add(keys, pkey, NULL, NGX_OCI_JWT_ALG_ANY, err);

        if (rc < 0) {
            EVP_PKEY_free(pkey);
            goto failed;
        }

        added += rc;
    }

    BIO_free(bio);

    if (blocks == 0) {
        ngx_oci_jwt_error(err, "no public key or certificate in PEM");
        return -1;
    }

    return added;

failed:

    BIO_free(bio);
    ngx_oci_jwt_keys_truncate(keys, start);

    return -1;
}


int
ngx_oci_jwt_keys_add_jwks(ngx_oci_jwt_keys_t *keys, const u_char *buf,
    size_t len, char *err)
{
    int            rc, added, usable;
    size_t         i, start;
    json_t        *root, *list, *jwk;
    json_error_t   error;

    if (!ngx_oci_jwt_depth_ok(buf, len, NGX_OCI_JWT_MAX_DEPTH)) {
        ngx_oci_jwt_error(err, "JWKS nested deeper than %d",
                          NGX_OCI_JWT_MAX_DEPTH);
        return -1;
    }

    root = json_loadb((const char *) buf, len, JSON_REJECT_DUPLICATES,
                      &error);
    if (root == NULL) {
        ngx_oci_jwt_error(err, "JWKS: %.64s at line %d", error.text,
                          error.line);
        return -1;
    }

    list = json_object_get(root, "keys");

    if (!json_is_object(root) || !json_is_array(list)) {
        json_decref(root);
        ngx_oci_jwt_error(err, "JWKS without a \"keys\" array");
        return -1;
    }

    start = keys->nkeys;
    added = 0;
    usable = 0;

    json_array_foreach(list, i, jwk) {
        rc = ngx_oci_jwt_jwk(keys, jwk, i, err);

        if (rc < 0) {
            json_decref(root);
            ngx_oci_jwt_keys_truncate(keys, start);
            return -1;
        }

        if (rc > 0) {
            usable++;
            added += (rc == 1);
        }
    }

    json_decref(root);

    if (usable == 0) {
        ngx_oci_jwt_error(err, "no key of the JWKS verifies signatures");
        return -1;
    }

    return added;
}


/*
 * One JWK: 1 added, 2 already in the set, 0 skipped (RFC 7517, 5: keys
 * for something else, or of a type not understood, are ignored), -1
 * refused.
 */

static int
ngx_oci_jwt_jwk(ngx_oci_jwt_keys_t *keys, json_t *jwk, size_t i, char *err)
{
    int                 rc;
    json_t             *v;
    EVP_PKEY           *pkey;
    const char         *kty, *crv, *kid;
    ngx_oci_jwt_alg_e   alg;

    if (!json_is_object(jwk)
        || !json_is_string(json_object_get(jwk, "kty")))
    {
        ngx_oci_jwt_error(err, "keys[%zu]: not a JWK with \"kty\"", i);
        return -1;
    }

    /* a private member: the file is not one to publish or to hold here */

    if (json_object_get(jwk, "d") != NULL) {
        ngx_oci_jwt_error(err, "keys[%zu]: a private key", i);
        return -1;
    }

    v = json_object_get(jwk, "use");
    if (v != NULL
        && !(json_is_string(v) && strcmp(json_string_value(v), "sig") == 0))
    {
        return 0;
    }

    alg = NGX_OCI_JWT_ALG_ANY;

    v = json_object_get(jwk, "alg");
    if (v != NULL) {
        if (!json_is_string(v)) {
            ngx_oci_jwt_error(err, "keys[%zu]: \"alg\" is not a string", i);
            return -1;
        }

        alg = ngx_oci_jwt_alg_from(json_string_value(v));

        /* for another algorithm (PS256, RSA-OAEP...): not ours to use */

        if (alg == NGX_OCI_JWT_ALG_ANY) {
            return 0;
        }
    }

    kid = NULL;

    v = json_object_get(jwk, "kid");
    if (v != NULL) {
        if (!json_is_string(v) || json_string_length(v) == 0
            || json_string_length(v) > NGX_OCI_JWT_KID_MAX)
        {
            ngx_oci_jwt_error(err, "keys[%zu]: \"kid\" is not a string of "
                              "1 to %d bytes", i, NGX_OCI_JWT_KID_MAX);
            return -1;
        }

        kid = json_string_value(v);
    }

    kty = json_string_value(json_object_get(jwk, "kty"));
    v = json_object_get(jwk, "crv");
    crv = json_is_string(v) ? json_string_value(v) : "";

    if (strcmp(kty, "RSA") == 0) {
        pkey = ngx_oci_jwt_jwk_rsa(jwk, i, err);

    } else if (strcmp(kty, "EC") == 0
               && (strcmp(crv, "P-256") == 0 || strcmp(crv, "P-384") == 0))
    {
        pkey = ngx_oci_jwt_jwk_ec(jwk, crv, i, err);

    } else if (strcmp(kty, "OKP") == 0 && strcmp(crv, "Ed25519") == 0) {
        pkey = ngx_oci_jwt_jwk_okp(jwk, i, err);

    } else {
        return 0;
    }

    if (pkey == NULL) {
        return -1;
    }

    /* without a kid, "" keeps the key out of the libtrust naming */

    rc = ngx_oci_jwt_keys_add(keys, pkey, kid ? kid : "", alg, err);

    if (rc < 0) {
        EVP_PKEY_free(pkey);
        return -1;
    }

    return (rc == 1) ? 1 : 2;
}


/* a base64url member decoded into buf (NGX_OCI_JWK_BYTES_MAX bytes) */

static int
ngx_oci_jwt_jwk_bytes(json_t *jwk, const char *name, u_char *buf,
    size_t *len)
{
    json_t  *v;

    v = json_object_get(jwk, name);

    if (!json_is_string(v) || json_string_length(v) == 0
        || json_string_length(v) > NGX_OCI_JWK_BYTES_MAX / 3 * 4)
    {
        return -1;
    }

    return ngx_oci_jwt_base64url_decode((const u_char *) json_string_value(v),
                                        json_string_length(v), buf, len);
}


static EVP_PKEY *
ngx_oci_jwt_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY      *pkey;
    OSSL_PARAM    *params;
    EVP_PKEY_CTX  *ctx;

    pkey = NULL;
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);

    if (params == NULL || ctx == NULL
        || EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
    {
        pkey = NULL;
        goto done;
    }

    EVP_PKEY_CTX_free(ctx);

    /* a point on the curve, a modulus and exponent that make sense */

    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);

    if (ctx == NULL || EVP_PKEY_public_check(ctx) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }

done:

    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    ERR_clear_error();

    return pkey;
}


static EVP_PKEY *
ngx_oci_jwt_jwk_rsa(json_t *jwk, size_t i, char *err)
{
    size_t           n_len, e_len;
    BIGNUM          *n, *e;
    EVP_PKEY        *pkey;
    OSSL_PARAM_BLD  *bld;
    u_char           nb[NGX_OCI_JWK_BYTES_MAX], eb[NGX_OCI_JWK_BYTES_MAX];

    if (ngx_oci_jwt_jwk_bytes(jwk, "n", nb, &n_len) != 0
        || ngx_oci_jwt_jwk_bytes(jwk, "e", eb, &e_len) != 0
        || e_len > 8)
    {
        ngx_oci_jwt_error(err, "keys[%zu]: RSA key without valid \"n\" and "
                          "\"e\"", i);
        return NULL;
    }

    n = BN_bin2bn(nb, n_len, NULL);
    e = BN_bin2bn(eb, e_len, NULL);
    bld = OSSL_PARAM_BLD_new();
    pkey = NULL;

    if (n && e && bld
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) == 1
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) == 1)
    {
        pkey = ngx_oci_jwt_fromdata("RSA", bld);
    }

    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    ERR_clear_error();

    if (pkey == NULL) {
        ngx_oci_jwt_error(err, "keys[%zu]: not a valid RSA public key", i);
    }

    return pkey;
}


static EVP_PKEY *
ngx_oci_jwt_jwk_ec(json_t *jwk, const char *crv, size_t i, char *err)
{
    size_t           size, x_len, y_len;
    EVP_PKEY        *pkey;
    const char      *group;
    OSSL_PARAM_BLD  *bld;
    u_char           x[NGX_OCI_JWK_BYTES_MAX], y[NGX_OCI_JWK_BYTES_MAX];
    u_char           point[1 + 2 * 48];

    if (strcmp(crv, "P-256") == 0) {
        group = "prime256v1";
        size = 32;

    } else {
        group = "secp384r1";
        size = 48;
    }

    /* RFC 7518, 6.2.1.2: coordinates are exactly the field's size */

    if (ngx_oci_jwt_jwk_bytes(jwk, "x", x, &x_len) != 0
        || ngx_oci_jwt_jwk_bytes(jwk, "y", y, &y_len) != 0
        || x_len != size || y_len != size)
    {
        ngx_oci_jwt_error(err, "keys[%zu]: %s key without valid \"x\" and "
                          "\"y\"", i, crv);
        return NULL;
    }

    point[0] = 0x04;
    memcpy(point + 1, x, size);
    memcpy(point + 1 + size, y, size);

    bld = OSSL_PARAM_BLD_new();
    pkey = NULL;

    if (bld
        && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                           group, 0) == 1
        && OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                            point, 1 + 2 * size) == 1)
    {
        pkey = ngx_oci_jwt_fromdata("EC", bld);
    }

    OSSL_PARAM_BLD_free(bld);
    ERR_clear_error();

    if (pkey == NULL) {
        ngx_oci_jwt_error(err, "keys[%zu]: not a point of %s", i, crv);
    }

    return pkey;
}


static EVP_PKEY *
ngx_oci_jwt_jwk_okp(json_t *jwk, size_t i, char *err)
{
    size_t     x_len;
    EVP_PKEY  *pkey;
    u_char     x[NGX_OCI_JWK_BYTES_MAX];

    if (ngx_oci_jwt_jwk_bytes(jwk, "x", x, &x_len) != 0 || x_len != 32) {
        ngx_oci_jwt_error(err, "keys[%zu]: Ed25519 key without a valid "
                          "\"x\"", i);
        return NULL;
    }

    pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, x_len);

    if (pkey == NULL) {
        ERR_clear_error();
        ngx_oci_jwt_error(err, "keys[%zu]: not an Ed25519 public key", i);
    }

    return pkey;
}
