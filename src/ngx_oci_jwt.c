
/*
 * Bearer tokens: parsing, signatures and claims, see ngx_oci_jwt.h; the
 * key sets are in ngx_oci_jwt_keys.c.
 */


#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>

#include "ngx_oci_jwt.h"


typedef struct {
    const char            *name;
    ngx_oci_jwt_alg_e      alg;
    ngx_oci_jwt_family_e   family;
} ngx_oci_jwt_alg_t;


static const ngx_oci_jwt_alg_t  ngx_oci_jwt_algs[] = {
    { "RS256", NGX_OCI_JWT_RS256, NGX_OCI_JWT_KEY_RSA },
    { "RS384", NGX_OCI_JWT_RS384, NGX_OCI_JWT_KEY_RSA },
    { "RS512", NGX_OCI_JWT_RS512, NGX_OCI_JWT_KEY_RSA },
    { "ES256", NGX_OCI_JWT_ES256, NGX_OCI_JWT_KEY_P256 },
    { "ES384", NGX_OCI_JWT_ES384, NGX_OCI_JWT_KEY_P384 },
    { "EdDSA", NGX_OCI_JWT_EDDSA, NGX_OCI_JWT_KEY_ED25519 },
    { NULL, 0, 0 }
};


/* the orders of P-256 and P-384: ECDSA's r and s lie in [1, n - 1] */

static const u_char  ngx_oci_p256_order[32] = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84,
    0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51
};

static const u_char  ngx_oci_p384_order[48] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xc7, 0x63, 0x4d, 0x81, 0xf4, 0x37, 0x2d, 0xdf,
    0x58, 0x1a, 0x0d, 0xb2, 0x48, 0xb0, 0xa7, 0x7a,
    0xec, 0xec, 0x19, 0x6a, 0xcc, 0xc5, 0x29, 0x73
};


static int ngx_oci_jwt_b64_value(u_char c);
static json_t *ngx_oci_jwt_json(const u_char *p, size_t len);
static ngx_oci_jwt_rc_e ngx_oci_jwt_header(ngx_oci_jwt_t *jwt);
static const ngx_oci_jwt_key_t *ngx_oci_jwt_find_key(
    const ngx_oci_jwt_t *jwt, const ngx_oci_jwt_keys_t *keys,
    ngx_oci_jwt_rc_e *rc);
static int ngx_oci_jwt_scalar_ok(const u_char *p, const u_char *order,
    size_t len);
static ngx_oci_jwt_rc_e ngx_oci_jwt_ecdsa_der(const ngx_oci_jwt_t *jwt,
    size_t half, u_char **der, size_t *der_len);
static int ngx_oci_jwt_time(json_t *payload, const char *name, int64_t *t);
static ngx_oci_jwt_rc_e ngx_oci_jwt_access_check(json_t *access);


/* base64url */

static int
ngx_oci_jwt_b64_value(u_char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }

    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }

    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }

    if (c == '-') {
        return 62;
    }

    if (c == '_') {
        return 63;
    }

    return -1;
}


/*
 * One spelling per value (RFC 7515, appendix C, without padding): the bits
 * of the last character below the decoded bytes must be zero, so a token
 * cannot be altered without changing what was signed.
 */

int
ngx_oci_jwt_base64url_decode(const u_char *src, size_t len, u_char *dst,
    size_t *dst_len)
{
    int       v[4];
    size_t    i, k, n, rest;
    u_char   *d;

    rest = len % 4;

    if (rest == 1) {
        return -1;
    }

    d = dst;

    for (i = 0; i < len; i += 4) {
        n = (len - i < 4) ? len - i : 4;

        for (k = 0; k < n; k++) {
            v[k] = ngx_oci_jwt_b64_value(src[i + k]);

            if (v[k] < 0) {
                return -1;
            }
        }

        *d++ = (u_char) (v[0] << 2 | v[1] >> 4);

        if (n == 2) {
            if (v[1] & 0x0f) {
                return -1;
            }

            break;
        }

        *d++ = (u_char) ((v[1] & 0x0f) << 4 | v[2] >> 2);

        if (n == 3) {
            if (v[2] & 0x03) {
                return -1;
            }

            break;
        }

        *d++ = (u_char) ((v[2] & 0x03) << 6 | v[3]);
    }

    *dst_len = d - dst;

    return 0;
}


/*
 * jansson recurses once per level, up to 2048: a small bound first keeps
 * a nesting bomb from costing more than a scan of its bytes.
 */

int
ngx_oci_jwt_depth_ok(const u_char *p, size_t len, int max)
{
    int     depth, in_string;
    size_t  i;

    depth = 0;
    in_string = 0;

    for (i = 0; i < len; i++) {

        if (in_string) {
            if (p[i] == '\\') {
                i++;

            } else if (p[i] == '"') {
                in_string = 0;
            }

            continue;
        }

        switch (p[i]) {

        case '"':
            in_string = 1;
            break;

        case '[':
        case '{':
            if (++depth > max) {
                return 0;
            }
            break;

        case ']':
        case '}':
            /* a close before its open is not JSON: no need to go on */
            if (--depth < 0) {
                return 0;
            }
            break;
        }
    }

    return 1;
}


/* a JSON object without duplicate keys, or NULL */

static json_t *
ngx_oci_jwt_json(const u_char *p, size_t len)
{
    json_t        *j;
    json_error_t   error;

    if (!ngx_oci_jwt_depth_ok(p, len, NGX_OCI_JWT_MAX_DEPTH)) {
        return NULL;
    }

    j = json_loadb((const char *) p, len, JSON_REJECT_DUPLICATES, &error);

    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }

    return j;
}


ngx_oci_jwt_rc_e
ngx_oci_jwt_parse(const u_char *token, size_t len, ngx_oci_jwt_t *jwt)
{
    size_t             n;
    u_char            *scratch;
    const u_char      *dot1, *dot2, *end;
    ngx_oci_jwt_rc_e   rc;

    memset(jwt, 0, sizeof(ngx_oci_jwt_t));

    if (len == 0 || len > NGX_OCI_JWT_MAX_LEN) {
        return NGX_OCI_JWT_MALFORMED;
    }

    end = token + len;

    dot1 = memchr(token, '.', len);
    if (dot1 == NULL || dot1 == token) {
        return NGX_OCI_JWT_MALFORMED;
    }

    dot2 = memchr(dot1 + 1, '.', end - dot1 - 1);
    if (dot2 == NULL || dot2 == dot1 + 1
        || memchr(dot2 + 1, '.', end - dot2 - 1) != NULL)
    {
        return NGX_OCI_JWT_MALFORMED;
    }

    /* the signed input, the signature, then room for header and payload */

    jwt->input = malloc(3 * len);
    if (jwt->input == NULL) {
        return NGX_OCI_JWT_ERROR;
    }

    jwt->input_len = dot2 - token;
    memcpy(jwt->input, token, jwt->input_len);

    jwt->sig = jwt->input + len;
    scratch = jwt->sig + len;

    rc = NGX_OCI_JWT_MALFORMED;

    if (ngx_oci_jwt_base64url_decode(token, dot1 - token, scratch, &n) != 0) {
        goto failed;
    }

    jwt->header = ngx_oci_jwt_json(scratch, n);
    if (jwt->header == NULL) {
        goto failed;
    }

    /* an algorithm we refuse says so before anything else is looked at */

    rc = ngx_oci_jwt_header(jwt);
    if (rc != NGX_OCI_JWT_OK) {
        goto failed;
    }

    rc = NGX_OCI_JWT_MALFORMED;

    if (ngx_oci_jwt_base64url_decode(dot1 + 1, dot2 - dot1 - 1, scratch, &n)
        != 0)
    {
        goto failed;
    }

    jwt->payload = ngx_oci_jwt_json(scratch, n);
    if (jwt->payload == NULL) {
        goto failed;
    }

    if (ngx_oci_jwt_base64url_decode(dot2 + 1, end - dot2 - 1, jwt->sig,
                                     &jwt->sig_len)
        != 0
        || jwt->sig_len == 0)
    {
        goto failed;
    }

    return NGX_OCI_JWT_OK;

failed:

    ngx_oci_jwt_free(jwt);

    return rc;
}


static ngx_oci_jwt_rc_e
ngx_oci_jwt_header(ngx_oci_jwt_t *jwt)
{
    json_t  *v;

    v = json_object_get(jwt->header, "alg");
    if (!json_is_string(v)) {
        return NGX_OCI_JWT_MALFORMED;
    }

    /* exact names: "none", HS* and everything else are refused alike */

    jwt->alg = ngx_oci_jwt_alg_from(json_string_value(v));

    if (jwt->alg == NGX_OCI_JWT_ALG_ANY) {
        return NGX_OCI_JWT_BAD_ALG;
    }

    v = json_object_get(jwt->header, "typ");
    if (v != NULL
        && !(json_is_string(v) && strcmp(json_string_value(v), "JWT") == 0))
    {
        return NGX_OCI_JWT_MALFORMED;
    }

    /* RFC 7515, 4.1.11: no extension is understood here */

    if (json_object_get(jwt->header, "crit") != NULL) {
        return NGX_OCI_JWT_MALFORMED;
    }

    v = json_object_get(jwt->header, "kid");
    if (v != NULL) {
        if (!json_is_string(v) || json_string_length(v) == 0
            || json_string_length(v) > NGX_OCI_JWT_KID_MAX)
        {
            return NGX_OCI_JWT_MALFORMED;
        }

        jwt->kid = json_string_value(v);
    }

    return NGX_OCI_JWT_OK;
}


void
ngx_oci_jwt_free(ngx_oci_jwt_t *jwt)
{
    if (jwt->header) {
        json_decref(jwt->header);
    }

    if (jwt->payload) {
        json_decref(jwt->payload);
    }

    free(jwt->input);

    memset(jwt, 0, sizeof(ngx_oci_jwt_t));
}


/* signatures */

ngx_oci_jwt_alg_e
ngx_oci_jwt_alg_from(const char *name)
{
    const ngx_oci_jwt_alg_t  *a;

    for (a = ngx_oci_jwt_algs; a->name; a++) {
        if (strcmp(name, a->name) == 0) {
            return a->alg;
        }
    }

    return NGX_OCI_JWT_ALG_ANY;
}


ngx_oci_jwt_family_e
ngx_oci_jwt_alg_family(ngx_oci_jwt_alg_e alg)
{
    const ngx_oci_jwt_alg_t  *a;

    for (a = ngx_oci_jwt_algs; a->name; a++) {
        if (a->alg == alg) {
            return a->family;
        }
    }

    return 0;
}


/*
 * With a kid, the key of that kid, which must be of the token's
 * algorithm; without one, the only key of the set that fits the
 * algorithm: trying several would let a token pick among them.
 */

static const ngx_oci_jwt_key_t *
ngx_oci_jwt_find_key(const ngx_oci_jwt_t *jwt, const ngx_oci_jwt_keys_t *keys,
    ngx_oci_jwt_rc_e *rc)
{
    size_t                    i, fits;
    ngx_oci_jwt_family_e      family;
    const ngx_oci_jwt_key_t  *k, *found;

    family = ngx_oci_jwt_alg_family(jwt->alg);

    if (jwt->kid) {
        for (i = 0; i < keys->nkeys; i++) {
            k = &keys->keys[i];

            if (k->kid == NULL || strcmp(k->kid, jwt->kid) != 0) {
                continue;
            }

            if (k->family != family
                || (k->alg != NGX_OCI_JWT_ALG_ANY && k->alg != jwt->alg))
            {
                *rc = NGX_OCI_JWT_BAD_ALG;
                return NULL;
            }

            return k;
        }

        *rc = NGX_OCI_JWT_UNKNOWN_KEY;
        return NULL;
    }

    found = NULL;
    fits = 0;

    for (i = 0; i < keys->nkeys; i++) {
        k = &keys->keys[i];

        if (k->family == family
            && (k->alg == NGX_OCI_JWT_ALG_ANY || k->alg == jwt->alg))
        {
            found = k;
            fits++;
        }
    }

    if (fits != 1) {
        *rc = NGX_OCI_JWT_UNKNOWN_KEY;
        return NULL;
    }

    return found;
}


/* 0 < p < order, both big-endian of len bytes */

static int
ngx_oci_jwt_scalar_ok(const u_char *p, const u_char *order, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (p[i]) {
            break;
        }
    }

    return i < len && memcmp(p, order, len) < 0;
}


/* JWS writes R || S (RFC 7518, 3.4); EVP wants DER */

static ngx_oci_jwt_rc_e
ngx_oci_jwt_ecdsa_der(const ngx_oci_jwt_t *jwt, size_t half, u_char **der,
    size_t *der_len)
{
    int         n;
    BIGNUM     *r, *s;
    ECDSA_SIG  *es;

    es = ECDSA_SIG_new();
    r = BN_bin2bn(jwt->sig, half, NULL);
    s = BN_bin2bn(jwt->sig + half, half, NULL);

    if (es == NULL || r == NULL || s == NULL) {
        goto failed;
    }

    if (ECDSA_SIG_set0(es, r, s) != 1) {
        goto failed;
    }

    r = NULL;
    s = NULL;

    *der = NULL;
    n = i2d_ECDSA_SIG(es, der);

    ECDSA_SIG_free(es);

    if (n <= 0) {
        return NGX_OCI_JWT_ERROR;
    }

    *der_len = n;

    return NGX_OCI_JWT_OK;

failed:

    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);

    return NGX_OCI_JWT_ERROR;
}


ngx_oci_jwt_rc_e
ngx_oci_jwt_verify(const ngx_oci_jwt_t *jwt, const ngx_oci_jwt_keys_t *keys)
{
    int                       ok;
    size_t                    half, sig_len;
    u_char                   *der;
    const u_char             *sig, *order;
    EVP_MD_CTX               *ctx;
    const EVP_MD             *md;
    ngx_oci_jwt_rc_e          rc;
    const ngx_oci_jwt_key_t  *key;

    key = ngx_oci_jwt_find_key(jwt, keys, &rc);
    if (key == NULL) {
        return rc;
    }

    der = NULL;
    sig = jwt->sig;
    sig_len = jwt->sig_len;
    md = NULL;

    switch (jwt->alg) {

    case NGX_OCI_JWT_RS256:
    case NGX_OCI_JWT_RS384:
    case NGX_OCI_JWT_RS512:
        md = (jwt->alg == NGX_OCI_JWT_RS256) ? EVP_sha256()
             : (jwt->alg == NGX_OCI_JWT_RS384) ? EVP_sha384() : EVP_sha512();

        /* RFC 7518, 3.3: exactly the size of the modulus */

        if (sig_len != (size_t) EVP_PKEY_get_size(key->pkey)) {
            return NGX_OCI_JWT_BAD_SIGNATURE;
        }

        break;

    case NGX_OCI_JWT_ES256:
    case NGX_OCI_JWT_ES384:
        if (jwt->alg == NGX_OCI_JWT_ES256) {
            md = EVP_sha256();
            half = 32;
            order = ngx_oci_p256_order;

        } else {
            md = EVP_sha384();
            half = 48;
            order = ngx_oci_p384_order;
        }

        /*
         * r and s are checked here rather than left to the library: a
         * DER encoding of out-of-range values is no signature. A high s
         * (n - s of a signature) is valid ECDSA and JWS asks for no
         * normalization; signers such as Go's do not normalize.
         */

        if (sig_len != 2 * half
            || !ngx_oci_jwt_scalar_ok(sig, order, half)
            || !ngx_oci_jwt_scalar_ok(sig + half, order, half))
        {
            return NGX_OCI_JWT_BAD_SIGNATURE;
        }

        rc = ngx_oci_jwt_ecdsa_der(jwt, half, &der, &sig_len);
        if (rc != NGX_OCI_JWT_OK) {
            return rc;
        }

        sig = der;
        break;

    case NGX_OCI_JWT_EDDSA:
        if (sig_len != 64) {
            return NGX_OCI_JWT_BAD_SIGNATURE;
        }

        break;

    default:
        return NGX_OCI_JWT_BAD_ALG;
    }

    rc = NGX_OCI_JWT_ERROR;

    ctx = EVP_MD_CTX_new();

    if (ctx != NULL
        && EVP_DigestVerifyInit(ctx, NULL, md, NULL, key->pkey) == 1)
    {
        ok = EVP_DigestVerify(ctx, sig, sig_len, jwt->input, jwt->input_len);
        rc = (ok == 1) ? NGX_OCI_JWT_OK : NGX_OCI_JWT_BAD_SIGNATURE;
    }

    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);

    /* what failed is in the code; the queue must not reach nginx's TLS */
    ERR_clear_error();

    return rc;
}


/* claims */

/* 1 and *t, 0 when absent, -1 when not an integer in range */

static int
ngx_oci_jwt_time(json_t *payload, const char *name, int64_t *t)
{
    json_t      *v;
    json_int_t   i;

    v = json_object_get(payload, name);

    if (v == NULL) {
        return 0;
    }

    if (!json_is_integer(v)) {
        return -1;
    }

    i = json_integer_value(v);

    if (i < 0 || i > NGX_OCI_JWT_TIME_MAX) {
        return -1;
    }

    *t = i;

    return 1;
}


/* [{"type": s, "name": s, "actions": [s, ...] or null or absent}, ...] */

static ngx_oci_jwt_rc_e
ngx_oci_jwt_access_check(json_t *access)
{
    size_t   i, k;
    json_t  *entry, *actions, *a;

    if (!json_is_array(access)) {
        return NGX_OCI_JWT_MALFORMED;
    }

    json_array_foreach(access, i, entry) {

        if (!json_is_object(entry)
            || !json_is_string(json_object_get(entry, "type"))
            || !json_is_string(json_object_get(entry, "name")))
        {
            return NGX_OCI_JWT_MALFORMED;
        }

        actions = json_object_get(entry, "actions");

        if (actions == NULL || json_is_null(actions)) {
            continue;
        }

        if (!json_is_array(actions)) {
            return NGX_OCI_JWT_MALFORMED;
        }

        json_array_foreach(actions, k, a) {
            if (!json_is_string(a)) {
                return NGX_OCI_JWT_MALFORMED;
            }
        }
    }

    return NGX_OCI_JWT_OK;
}


ngx_oci_jwt_rc_e
ngx_oci_jwt_claims_check(json_t *payload, const ngx_oci_jwt_expect_t *expect,
    ngx_oci_jwt_claims_t *claims)
{
    int               found;
    size_t            i;
    int64_t           t, leeway, now;
    json_t           *v, *a;
    const char       *s;
    ngx_oci_jwt_rc_e  rc;

    memset(claims, 0, sizeof(ngx_oci_jwt_claims_t));

    v = json_object_get(payload, "iss");
    if (!json_is_string(v)) {
        return NGX_OCI_JWT_WRONG_ISSUER;
    }

    s = json_string_value(v);

    for (i = 0; i < expect->nissuers; i++) {
        if (strcmp(s, expect->issuers[i]) == 0) {
            break;
        }
    }

    if (i == expect->nissuers) {
        return NGX_OCI_JWT_WRONG_ISSUER;
    }

    /* RFC 7519, 4.1.3: one string, or an array of them */

    v = json_object_get(payload, "aud");

    if (json_is_string(v)) {
        if (strcmp(json_string_value(v), expect->service) != 0) {
            return NGX_OCI_JWT_WRONG_AUDIENCE;
        }

    } else if (json_is_array(v)) {
        rc = NGX_OCI_JWT_WRONG_AUDIENCE;

        json_array_foreach(v, i, a) {
            if (!json_is_string(a)) {
                return NGX_OCI_JWT_MALFORMED;
            }

            if (strcmp(json_string_value(a), expect->service) == 0) {
                rc = NGX_OCI_JWT_OK;
            }
        }

        if (rc != NGX_OCI_JWT_OK) {
            return rc;
        }

    } else if (v == NULL) {
        return NGX_OCI_JWT_WRONG_AUDIENCE;

    } else {
        return NGX_OCI_JWT_MALFORMED;
    }

    leeway = expect->leeway;

    if (leeway < 0) {
        leeway = 0;

    } else if (leeway > NGX_OCI_JWT_LEEWAY_MAX) {
        leeway = NGX_OCI_JWT_LEEWAY_MAX;
    }

    now = expect->now;

    /* a token without "exp" never expires: refused as expired */

    found = ngx_oci_jwt_time(payload, "exp", &t);
    if (found < 0) {
        return NGX_OCI_JWT_MALFORMED;
    }

    if (found == 0 || now > t + leeway) {
        return NGX_OCI_JWT_EXPIRED;
    }

    found = ngx_oci_jwt_time(payload, "nbf", &t);
    if (found < 0) {
        return NGX_OCI_JWT_MALFORMED;
    }

    if (found && now < t - leeway) {
        return NGX_OCI_JWT_NOT_YET_VALID;
    }

    /* issued in the future: a token server's clock, or a forgery */

    found = ngx_oci_jwt_time(payload, "iat", &t);
    if (found < 0) {
        return NGX_OCI_JWT_MALFORMED;
    }

    if (found && now < t - leeway) {
        return NGX_OCI_JWT_NOT_YET_VALID;
    }

    v = json_object_get(payload, "sub");
    if (v != NULL) {
        if (!json_is_string(v)) {
            return NGX_OCI_JWT_MALFORMED;
        }

        claims->sub = json_string_value(v);
        claims->sub_len = json_string_length(v);
    }

    v = json_object_get(payload, "access");
    if (v != NULL && !json_is_null(v)) {
        rc = ngx_oci_jwt_access_check(v);
        if (rc != NGX_OCI_JWT_OK) {
            return rc;
        }

        claims->access = v;
    }

    return NGX_OCI_JWT_OK;
}


/*
 * As docker-registry reads "access": entries of the same type and name
 * add up, "*" among the granted actions grants them all, and the name is
 * compared exactly (no pattern; a "*" name is just a name). "class" is
 * not looked at.
 */

ngx_oci_jwt_rc_e
ngx_oci_jwt_granted(const ngx_oci_jwt_claims_t *claims, const char *type,
    const u_char *name, size_t name_len, const char *action)
{
    size_t       i, k;
    json_t      *entry, *n, *a;
    const char  *s;

    if (claims->access == NULL) {
        return NGX_OCI_JWT_INSUFFICIENT_SCOPE;
    }

    json_array_foreach(claims->access, i, entry) {

        if (strcmp(json_string_value(json_object_get(entry, "type")), type)
            != 0)
        {
            continue;
        }

        n = json_object_get(entry, "name");

        if (json_string_length(n) != name_len
            || memcmp(json_string_value(n), name, name_len) != 0)
        {
            continue;
        }

        json_array_foreach(json_object_get(entry, "actions"), k, a) {
            s = json_string_value(a);

            if (strcmp(s, action) == 0 || strcmp(s, "*") == 0) {
                return NGX_OCI_JWT_OK;
            }
        }
    }

    return NGX_OCI_JWT_INSUFFICIENT_SCOPE;
}


const char *
ngx_oci_jwt_strerror(ngx_oci_jwt_rc_e rc)
{
    switch (rc) {
    case NGX_OCI_JWT_OK:
        return "valid";
    case NGX_OCI_JWT_MALFORMED:
        return "malformed token";
    case NGX_OCI_JWT_BAD_ALG:
        return "signature algorithm not accepted";
    case NGX_OCI_JWT_UNKNOWN_KEY:
        return "no key for this token";
    case NGX_OCI_JWT_BAD_SIGNATURE:
        return "bad signature";
    case NGX_OCI_JWT_EXPIRED:
        return "token expired";
    case NGX_OCI_JWT_NOT_YET_VALID:
        return "token not yet valid";
    case NGX_OCI_JWT_WRONG_AUDIENCE:
        return "token for another service";
    case NGX_OCI_JWT_WRONG_ISSUER:
        return "token from an issuer not accepted";
    case NGX_OCI_JWT_INSUFFICIENT_SCOPE:
        return "access not granted by the token";
    default:
        return "internal error";
    }
}


/* RFC 6750, 3.1 */

const char *
ngx_oci_jwt_error_param(ngx_oci_jwt_rc_e rc)
{
    switch (rc) {
    case NGX_OCI_JWT_OK:
    case NGX_OCI_JWT_ERROR:
        return NULL;
    case NGX_OCI_JWT_INSUFFICIENT_SCOPE:
        return "insufficient_scope";
    default:
        return "invalid_token";
    }
}
