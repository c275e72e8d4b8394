
/*
 * Bearer tokens (ngx_oci_jwt.c, ngx_oci_jwt_keys.c): every algorithm
 * signed here with keys made by OpenSSL at start, and every way a token
 * or a key set can be wrong; the issuer's signing (ngx_oci_jwt_sign.c)
 * read back by the verifier.
 */


#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tap.h"
#include "ngx_oci_jwt.h"


#define NOW        1700000000LL
#define TOKEN_MAX  (2 * NGX_OCI_JWT_MAX_LEN)


typedef struct {
    const char    *alg;
    EVP_PKEY      *pkey;
    const EVP_MD  *md;
    size_t         half;          /* ECDSA: size of r and s */
    char           kid[NGX_OCI_JWT_LIBTRUST_KID_LEN + 1];
} signer_t;


static signer_t  rs256, rs384, rs512, es256, es384, eddsa;
static signer_t  *signers[] = { &rs256, &rs384, &rs512, &es256, &es384,
                                &eddsa, NULL };

static const char  *issuers[] = { "other.test", "auth.test" };

static char  default_payload[1024];


static const ngx_oci_jwt_expect_t  expect = {
    issuers, 2, "registry.test", NOW, 60
};


static const char *
rc_name(ngx_oci_jwt_rc_e rc)
{
    static const char  *names[] = {
        "OK", "MALFORMED", "BAD_ALG", "UNKNOWN_KEY", "BAD_SIGNATURE",
        "EXPIRED", "NOT_YET_VALID", "WRONG_AUDIENCE", "WRONG_ISSUER",
        "INSUFFICIENT_SCOPE", "ERROR"
    };

    return (rc <= NGX_OCI_JWT_ERROR) ? names[rc] : "?";
}


static int
is_rc(ngx_oci_jwt_rc_e got, ngx_oci_jwt_rc_e want, const char *what)
{
    if (!tap_ok(got == want, "%s: %s", what, rc_name(want))) {
        tap_diag("got %s", rc_name(got));
        return 0;
    }

    return 1;
}


static size_t
b64url(const u_char *p, size_t len, char *out)
{
    size_t   i, n;
    u_int    v;

    static const char  a[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    n = 0;

    for (i = 0; i + 2 < len; i += 3) {
        v = p[i] << 16 | p[i + 1] << 8 | p[i + 2];
        out[n++] = a[v >> 18];
        out[n++] = a[(v >> 12) & 63];
        out[n++] = a[(v >> 6) & 63];
        out[n++] = a[v & 63];
    }

    if (len - i == 1) {
        v = p[i] << 16;
        out[n++] = a[v >> 18];
        out[n++] = a[(v >> 12) & 63];

    } else if (len - i == 2) {
        v = p[i] << 16 | p[i + 1] << 8;
        out[n++] = a[v >> 18];
        out[n++] = a[(v >> 12) & 63];
        out[n++] = a[(v >> 6) & 63];
    }

    out[n] = '\0';

    return n;
}


/* a signature as JWS writes it: R || S for ECDSA */

static size_t
sign(const signer_t *s, const char *input, size_t len, u_char *out)
{
    size_t            n;
    u_char            der[1024];
    EVP_MD_CTX       *ctx;
    ECDSA_SIG        *es;
    const u_char     *p;
    const BIGNUM     *r, *sv;

    ctx = EVP_MD_CTX_new();
    n = sizeof(der);

    if (EVP_DigestSignInit(ctx, NULL, s->md, NULL, s->pkey) != 1
        || EVP_DigestSign(ctx, der, &n, (const u_char *) input, len) != 1)
    {
        tap_diag("signing failed");
        exit(EXIT_FAILURE);
    }

    EVP_MD_CTX_free(ctx);

    if (s->half == 0) {
        memcpy(out, der, n);
        return n;
    }

    p = der;
    es = d2i_ECDSA_SIG(NULL, &p, n);
    ECDSA_SIG_get0(es, &r, &sv);
    BN_bn2binpad(r, out, s->half);
    BN_bn2binpad(sv, out + s->half, s->half);
    ECDSA_SIG_free(es);

    return 2 * s->half;
}


/* header.payload.signature; header NULL: alg, typ and the signer's kid */

static size_t
make(const signer_t *s, const char *header, const char *payload, char *out)
{
    char    hdr[512];
    size_t  n, sig_len;
    u_char  sig[1024];

    if (header == NULL) {
        snprintf(hdr, sizeof(hdr),
                 "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
                 s->alg, s->kid);
        header = hdr;
    }

    if (payload == NULL) {
        payload = default_payload;
    }

    n = b64url((const u_char *) header, strlen(header), out);
    out[n++] = '.';
    n += b64url((const u_char *) payload, strlen(payload), out + n);

    sig_len = sign(s, out, n, sig);

    out[n++] = '.';
    n += b64url(sig, sig_len, out + n);

    return n;
}


/* the token with a signature of sig_len bytes: the real one, cut or grown */

static size_t
resize_sig(char *tok, size_t n, size_t sig_len)
{
    char    *dot;
    size_t   len;
    u_char   sig[1024];

    dot = strrchr(tok, '.');
    len = 0;
    memset(sig, 0, sizeof(sig));

    if (ngx_oci_jwt_base64url_decode((u_char *) dot + 1, tok + n - dot - 1,
                                     sig, &len) != 0)
    {
        exit(EXIT_FAILURE);
    }

    return dot + 1 - tok + b64url(sig, sig_len, dot + 1);
}


/* parse, verify, check the claims: the first code that is not OK */

static ngx_oci_jwt_rc_e
check(const char *token, size_t len, const ngx_oci_jwt_keys_t *keys,
    const ngx_oci_jwt_expect_t *e)
{
    ngx_oci_jwt_t         jwt;
    ngx_oci_jwt_rc_e      rc;
    ngx_oci_jwt_claims_t  claims;

    rc = ngx_oci_jwt_parse((const u_char *) token, len, &jwt);
    if (rc != NGX_OCI_JWT_OK) {
        return rc;
    }

    rc = ngx_oci_jwt_verify(&jwt, keys);

    if (rc == NGX_OCI_JWT_OK) {
        rc = ngx_oci_jwt_claims_check(jwt.payload, e ? e : &expect, &claims);
    }

    ngx_oci_jwt_free(&jwt);

    return rc;
}


static ngx_oci_jwt_rc_e
check_payload(const signer_t *s, const char *payload,
    const ngx_oci_jwt_keys_t *keys)
{
    char  tok[TOKEN_MAX];

    return check(tok, make(s, NULL, payload, tok), keys, NULL);
}


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
        tap_diag("cannot make a %s key", type);
        exit(EXIT_FAILURE);
    }

    EVP_PKEY_CTX_free(ctx);

    return pkey;
}


static size_t
pubkey_pem(EVP_PKEY *pkey, char *out, size_t size)
{
    BIO     *bio;
    char    *p;
    long     n;

    bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, pkey);
    n = BIO_get_mem_data(bio, &p);

    if (n <= 0 || (size_t) n >= size) {
        exit(EXIT_FAILURE);
    }

    memcpy(out, p, n);
    out[n] = '\0';
    BIO_free(bio);

    return n;
}


static size_t
cert_pem(EVP_PKEY *pkey, char *out, size_t size)
{
    BIO        *bio;
    X509       *x;
    char       *p;
    long        n;
    X509_NAME  *name;

    x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pkey);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const u_char *) "token signer", -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_sign(x, pkey, EVP_PKEY_is_a(pkey, "ED25519") ? NULL : EVP_sha256());

    bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, x);
    n = BIO_get_mem_data(bio, &p);

    if (n <= 0 || (size_t) n >= size) {
        exit(EXIT_FAILURE);
    }

    memcpy(out, p, n);
    out[n] = '\0';
    BIO_free(bio);
    X509_free(x);

    return n;
}


static void
b64url_bn(EVP_PKEY *pkey, const char *param, size_t pad, char *out)
{
    int      n;
    u_char   buf[1024];
    BIGNUM  *bn;

    bn = NULL;
    EVP_PKEY_get_bn_param(pkey, param, &bn);
    n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
    b64url(buf, n, out);
    BN_free(bn);
}


/* the public JWK of a key, with a kid */

static void
jwk(EVP_PKEY *pkey, const char *kid, char *out, size_t size)
{
    char    a[1024], b[1024];
    size_t  len;
    u_char  raw[32];

    if (EVP_PKEY_is_a(pkey, "RSA")) {
        b64url_bn(pkey, OSSL_PKEY_PARAM_RSA_N, 0, a);
        b64url_bn(pkey, OSSL_PKEY_PARAM_RSA_E, 0, b);
        snprintf(out, size, "{\"kty\":\"RSA\",\"kid\":\"%s\",\"n\":\"%s\","
                 "\"e\":\"%s\"}", kid, a, b);

    } else if (EVP_PKEY_is_a(pkey, "EC")) {
        len = (EVP_PKEY_get_bits(pkey) + 7) / 8;
        b64url_bn(pkey, OSSL_PKEY_PARAM_EC_PUB_X, len, a);
        b64url_bn(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, len, b);
        snprintf(out, size, "{\"kty\":\"EC\",\"kid\":\"%s\",\"crv\":\"%s\","
                 "\"x\":\"%s\",\"y\":\"%s\"}", kid,
                 len == 32 ? "P-256" : "P-384", a, b);

    } else {
        len = sizeof(raw);
        EVP_PKEY_get_raw_public_key(pkey, raw, &len);
        b64url(raw, len, a);
        snprintf(out, size, "{\"kty\":\"OKP\",\"kid\":\"%s\",\"crv\":"
                 "\"Ed25519\",\"x\":\"%s\",\"use\":\"sig\"}", kid, a);
    }
}


static void
setup(void)
{
    EVP_PKEY  *rsa;

    rsa = keygen("RSA", NULL, 2048);

    rs256 = (signer_t) { "RS256", rsa, EVP_sha256(), 0, "" };
    rs384 = (signer_t) { "RS384", rsa, EVP_sha384(), 0, "" };
    rs512 = (signer_t) { "RS512", rsa, EVP_sha512(), 0, "" };
    es256 = (signer_t) { "ES256", keygen("EC", "P-256", 0), EVP_sha256(),
                         32, "" };
    es384 = (signer_t) { "ES384", keygen("EC", "P-384", 0), EVP_sha384(),
                         48, "" };
    eddsa = (signer_t) { "EdDSA", keygen("ED25519", NULL, 0), NULL, 0, "" };

    snprintf(default_payload, sizeof(default_payload),
             "{\"iss\":\"auth.test\",\"sub\":\"alice\","
             "\"aud\":\"registry.test\",\"exp\":%lld,\"nbf\":%lld,"
             "\"iat\":%lld,\"jti\":\"j1\",\"access\":["
             "{\"type\":\"repository\",\"name\":\"library/alpine\","
             "\"actions\":[\"pull\",\"push\"]},"
             "{\"type\":\"repository\",\"name\":\"team/app\","
             "\"actions\":[\"*\"]},"
             "{\"type\":\"repository\",\"name\":\"library/alpine\","
             "\"class\":\"image\",\"actions\":[\"delete\"]},"
             "{\"type\":\"registry\",\"name\":\"catalog\","
             "\"actions\":[\"*\"]},"
             "{\"type\":\"repository\",\"name\":\"empty\","
             "\"actions\":null}]}",
             NOW + 300, NOW - 10, NOW - 10);
}


/* a key set of the PEM public keys of every signer */

static void
pem_keys(ngx_oci_jwt_keys_t *keys)
{
    int         rc;
    char        pem[4096], err[NGX_OCI_JWT_ERROR_LEN];
    size_t      n;
    signer_t  **s;

    ngx_oci_jwt_keys_init(keys);

    for (s = signers; *s; s++) {
        if (ngx_oci_jwt_libtrust_kid((*s)->pkey, (*s)->kid) != 0) {
            exit(EXIT_FAILURE);
        }

        n = pubkey_pem((*s)->pkey, pem, sizeof(pem));
        rc = ngx_oci_jwt_keys_add_pem(keys, (u_char *) pem, n, err);

        /* the RSA key is the same for the three RS algorithms */

        if (!tap_ok(rc == (*s == &rs384 || *s == &rs512 ? 0 : 1),
                    "PEM public key for %s loaded", (*s)->alg))
        {
            tap_diag("%d: %s", rc, err);
        }
    }

    tap_ok(keys->nkeys == 4, "4 keys in the set");
}


static void
test_base64url(void)
{
    size_t  n;
    u_char  out[16];

    static const struct {
        const char  *in;
        const char  *out;         /* NULL: refused */
    } cases[] = {
        { "", "" },
        { "QQ", "A" },
        { "QUI", "AB" },
        { "QUJD", "ABC" },
        { "_-8", "\xff\xef" },
        { "QR", NULL },            /* bits past the byte */
        { "QUJ", NULL },
        { "Q", NULL },             /* 6 bits are no byte */
        { "QQ==", NULL },          /* padding */
        { "Q+/A", NULL },          /* base64, not base64url */
        { "QU I", NULL },
        { "QUJD\n", NULL },       /* named by number: no newline in TAP */
        { NULL, NULL }
    };

    for (n = 0; cases[n].in; n++) {
        size_t  len = 99;
        int     rc;

        rc = ngx_oci_jwt_base64url_decode((const u_char *) cases[n].in,
                                          strlen(cases[n].in), out, &len);

        if (cases[n].out == NULL) {
            tap_ok(rc == -1, "base64url case %d refused", (int) n);

        } else {
            tap_ok(rc == 0 && len == strlen(cases[n].out)
                   && memcmp(out, cases[n].out, len) == 0,
                   "base64url \"%s\" decoded", cases[n].in);
        }
    }
}


/*
 * A fixed P-256 key (made with openssl ecparam) and its libtrust id:
 * Debian's docker-registry 2.8.2, given a certificate of this key as its
 * rootcertbundle, answered GET /v2/ with 200 to an ES256 token carrying
 * this kid, and with 401 to the same token with another kid.
 */

static void
test_libtrust_kid(const ngx_oci_jwt_keys_t *keys)
{
    int        rc;
    char       kid[NGX_OCI_JWT_LIBTRUST_KID_LEN + 1];
    char       err[NGX_OCI_JWT_ERROR_LEN];
    size_t     i;
    ngx_oci_jwt_keys_t  fixed;

    static const char  pem[] =
        "-----BEGIN PUBLIC KEY-----\n"
        "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEn/FuYGQcTRNbQeXEENi/rgA/rQpX\n"
        "kF2cEayExA3PcFocclsZ1YymC3JgrZOlS02bOYQyjm60sKQIyqaiM/0ZPA==\n"
        "-----END PUBLIC KEY-----\n";

    static const char  want[] =
        "RDBP:7427:WYZX:4KQB:3TPD:NPOS:FUJO:RAZL:3B4X:PAE7:T6H3:YOAC";

    ngx_oci_jwt_keys_init(&fixed);

    rc = ngx_oci_jwt_keys_add_pem(&fixed, (const u_char *) pem,
                                  sizeof(pem) - 1, err);

    if (tap_ok(rc == 1 && fixed.nkeys == 1, "the fixed key loads")) {
        tap_ok(strcmp(fixed.keys[0].kid, want) == 0,
               "libtrust kid of the fixed key");

        ngx_oci_jwt_libtrust_kid(fixed.keys[0].pkey, kid);
        tap_ok(strcmp(kid, want) == 0, "ngx_oci_jwt_libtrust_kid() agrees");
    }

    ngx_oci_jwt_keys_free(&fixed);

    for (i = 0; i < keys->nkeys; i++) {
        tap_ok(keys->keys[i].kid != NULL
               && strlen(keys->keys[i].kid) == NGX_OCI_JWT_LIBTRUST_KID_LEN
               && keys->keys[i].kid[4] == ':'
               && keys->keys[i].kid[54] == ':',
               "PEM key %zu named by a libtrust kid", i);
    }
}


static void
test_good(const ngx_oci_jwt_keys_t *keys)
{
    char                   tok[TOKEN_MAX];
    size_t                 n;
    signer_t             **s;
    ngx_oci_jwt_t          jwt;
    ngx_oci_jwt_rc_e       rc;
    ngx_oci_jwt_claims_t   claims;

    static const u_char  alpine[] = "library/alpine";

    for (s = signers; *s; s++) {
        n = make(*s, NULL, NULL, tok);

        rc = ngx_oci_jwt_parse((u_char *) tok, n, &jwt);
        if (!is_rc(rc, NGX_OCI_JWT_OK, (*s)->alg)) {
            continue;
        }

        is_rc(ngx_oci_jwt_verify(&jwt, keys), NGX_OCI_JWT_OK,
              "signature verified");
        is_rc(ngx_oci_jwt_claims_check(jwt.payload, &expect, &claims),
              NGX_OCI_JWT_OK, "claims accepted");

        tap_ok(claims.sub_len == 5 && strcmp(claims.sub, "alice") == 0,
               "sub is alice");

        is_rc(ngx_oci_jwt_granted(&claims, "repository", alpine, 14, "pull"),
              NGX_OCI_JWT_OK, "pull of library/alpine granted");

        ngx_oci_jwt_free(&jwt);
    }

    /* no kid: the one key of the algorithm's family */

    n = make(&es256, "{\"alg\":\"ES256\"}", NULL, tok);
    is_rc(check(tok, n, keys, NULL), NGX_OCI_JWT_OK,
          "ES256 without kid nor typ, one P-256 key");

    /* the signed bytes of RS256 are the ones JWS says: change one */

    n = make(&rs256, NULL, NULL, tok);
    tok[n / 2] = (tok[n / 2] == 'A') ? 'B' : 'A';
    is_rc(check(tok, n, keys, NULL), NGX_OCI_JWT_BAD_SIGNATURE,
          "one byte of header or payload changed");
}


static void
test_access(const ngx_oci_jwt_keys_t *keys)
{
    char                   tok[TOKEN_MAX];
    size_t                 n;
    ngx_oci_jwt_t          jwt;
    ngx_oci_jwt_claims_t   claims;

    static const struct {
        const char        *type;
        const char        *name;
        const char        *action;
        ngx_oci_jwt_rc_e   rc;
    } cases[] = {
        { "repository", "library/alpine", "pull", NGX_OCI_JWT_OK },
        { "repository", "library/alpine", "push", NGX_OCI_JWT_OK },
        /* entries of one name add up, whatever their class */
        { "repository", "library/alpine", "delete", NGX_OCI_JWT_OK },
        { "repository", "library/alpine", "*",
          NGX_OCI_JWT_INSUFFICIENT_SCOPE },
        { "repository", "library/alpin", "pull",
          NGX_OCI_JWT_INSUFFICIENT_SCOPE },
        { "repository", "library/alpine2", "pull",
          NGX_OCI_JWT_INSUFFICIENT_SCOPE },
        { "repository", "Library/alpine", "pull",
          NGX_OCI_JWT_INSUFFICIENT_SCOPE },
        { "registry", "library/alpine", "pull",
          NGX_OCI_JWT_INSUFFICIENT_SCOPE },
        /* a granted "*" grants every action, even one it never named */
        { "repository", "team/app", "delete", NGX_OCI_JWT_OK },
        { "repository", "team/app", "*", NGX_OCI_JWT_OK },
        { "repository", "team/other", "pull",
          NGX_OCI_JWT_INSUFFICIENT_SCOPE },
        { "registry", "catalog", "*", NGX_OCI_JWT_OK },
        { "repository", "catalog", "*", NGX_OCI_JWT_INSUFFICIENT_SCOPE },
        { "repository", "empty", "pull", NGX_OCI_JWT_INSUFFICIENT_SCOPE },
        { NULL, NULL, NULL, 0 }
    };

    char    what[128];
    size_t  i;

    n = make(&es384, NULL, NULL, tok);

    if (ngx_oci_jwt_parse((u_char *) tok, n, &jwt) != NGX_OCI_JWT_OK
        || ngx_oci_jwt_verify(&jwt, keys) != NGX_OCI_JWT_OK
        || ngx_oci_jwt_claims_check(jwt.payload, &expect, &claims)
           != NGX_OCI_JWT_OK)
    {
        tap_ok(0, "a token to test access with");
        return;
    }

    for (i = 0; cases[i].type; i++) {
        snprintf(what, sizeof(what), "%s:%s:%s", cases[i].type,
                 cases[i].name, cases[i].action);
        is_rc(ngx_oci_jwt_granted(&claims, cases[i].type,
                                  (const u_char *) cases[i].name,
                                  strlen(cases[i].name), cases[i].action),
              cases[i].rc, what);
    }

    /* a name is compared with its length: no prefix, no NUL trick */

    is_rc(ngx_oci_jwt_granted(&claims, "repository",
                              (const u_char *) "team/appX", 8, "pull"),
          NGX_OCI_JWT_OK, "name given by length");

    ngx_oci_jwt_free(&jwt);

    /* no access claim at all: nothing granted, the token still valid */

    n = make(&eddsa, NULL, "{\"iss\":\"auth.test\",\"aud\":"
             "\"registry.test\",\"exp\":1700000100}", tok);

    if (is_rc(ngx_oci_jwt_parse((u_char *) tok, n, &jwt), NGX_OCI_JWT_OK,
              "token without access"))
    {
        is_rc(ngx_oci_jwt_claims_check(jwt.payload, &expect, &claims),
              NGX_OCI_JWT_OK, "claims without access or sub");
        tap_ok(claims.sub == NULL, "no sub");
        is_rc(ngx_oci_jwt_granted(&claims, "repository",
                                  (const u_char *) "a", 1, "pull"),
              NGX_OCI_JWT_INSUFFICIENT_SCOPE, "nothing granted");
        ngx_oci_jwt_free(&jwt);
    }

    tap_ok(strcmp(ngx_oci_jwt_error_param(NGX_OCI_JWT_INSUFFICIENT_SCOPE),
                  "insufficient_scope") == 0
           && strcmp(ngx_oci_jwt_error_param(NGX_OCI_JWT_EXPIRED),
                     "invalid_token") == 0
           && strcmp(ngx_oci_jwt_error_param(NGX_OCI_JWT_MALFORMED),
                     "invalid_token") == 0
           && ngx_oci_jwt_error_param(NGX_OCI_JWT_ERROR) == NULL
           && ngx_oci_jwt_error_param(NGX_OCI_JWT_OK) == NULL,
           "WWW-Authenticate error of each code");
}


static void
test_claims(const ngx_oci_jwt_keys_t *keys)
{
    char                  p[1024];
    size_t                i;
    ngx_oci_jwt_expect_t  e;

    static const struct {
        const char        *claims;       /* after iss */
        ngx_oci_jwt_rc_e   rc;
        const char        *what;
    } cases[] = {
        { "\"aud\":\"registry.test\",\"exp\":1699999940", NGX_OCI_JWT_OK,
          "expired 60 s ago, within the leeway" },
        { "\"aud\":\"registry.test\",\"exp\":1699999939",
          NGX_OCI_JWT_EXPIRED, "expired 61 s ago" },
        { "\"aud\":\"registry.test\"", NGX_OCI_JWT_EXPIRED, "no exp" },
        { "\"aud\":\"registry.test\",\"exp\":1700000100.0",
          NGX_OCI_JWT_MALFORMED, "exp a real" },
        { "\"aud\":\"registry.test\",\"exp\":\"1700000100\"",
          NGX_OCI_JWT_MALFORMED, "exp a string" },
        { "\"aud\":\"registry.test\",\"exp\":-1", NGX_OCI_JWT_MALFORMED,
          "exp negative" },
        { "\"aud\":\"registry.test\",\"exp\":253402300800",
          NGX_OCI_JWT_MALFORMED, "exp after year 9999" },
        { "\"aud\":\"registry.test\",\"exp\":9223372036854775807",
          NGX_OCI_JWT_MALFORMED, "exp INT64_MAX" },
        { "\"aud\":\"registry.test\",\"exp\":1700000100,\"nbf\":1700000060",
          NGX_OCI_JWT_OK, "nbf 60 s ahead, within the leeway" },
        { "\"aud\":\"registry.test\",\"exp\":1700000100,\"nbf\":1700000061",
          NGX_OCI_JWT_NOT_YET_VALID, "nbf 61 s ahead" },
        { "\"aud\":\"registry.test\",\"exp\":1700000100,\"nbf\":null",
          NGX_OCI_JWT_MALFORMED, "nbf null" },
        { "\"aud\":\"registry.test\",\"exp\":1700000100,\"iat\":1700000061",
          NGX_OCI_JWT_NOT_YET_VALID, "issued 61 s in the future" },
        { "\"aud\":\"registry.test\",\"exp\":1700000100,\"iat\":true",
          NGX_OCI_JWT_MALFORMED, "iat a boolean" },
        { "\"aud\":\"other\",\"exp\":1700000100",
          NGX_OCI_JWT_WRONG_AUDIENCE, "another audience" },
        { "\"aud\":\"Registry.test\",\"exp\":1700000100",
          NGX_OCI_JWT_WRONG_AUDIENCE, "audience in another case" },
        { "\"exp\":1700000100", NGX_OCI_JWT_WRONG_AUDIENCE, "no aud" },
        { "\"aud\":[\"a\",\"registry.test\"],\"exp\":1700000100",
          NGX_OCI_JWT_OK, "aud an array holding the service" },
        { "\"aud\":[\"a\",\"b\"],\"exp\":1700000100",
          NGX_OCI_JWT_WRONG_AUDIENCE, "aud an array without it" },
        { "\"aud\":[],\"exp\":1700000100",
          NGX_OCI_JWT_WRONG_AUDIENCE, "aud an empty array" },
        { "\"aud\":[\"registry.test\",1],\"exp\":1700000100",
          NGX_OCI_JWT_MALFORMED, "aud an array with a number" },
        { "\"aud\":{},\"exp\":1700000100", NGX_OCI_JWT_MALFORMED,
          "aud an object" },
        { "\"aud\":\"registry.test\",\"exp\":1700000100,\"sub\":7",
          NGX_OCI_JWT_MALFORMED, "sub a number" },
        { "\"aud\":\"registry.test\",\"exp\":1700000100,\"access\":{}",
          NGX_OCI_JWT_MALFORMED, "access an object" },
        { "\"aud\":\"registry.test\",\"exp\":1700000100,\"access\":"
          "[{\"type\":\"repository\",\"actions\":[\"pull\"]}]",
          NGX_OCI_JWT_MALFORMED, "access entry without name" },
        { "\"aud\":\"registry.test\",\"exp\":1700000100,\"access\":"
          "[{\"type\":\"repository\",\"name\":\"a\",\"actions\":\"pull\"}]",
          NGX_OCI_JWT_MALFORMED, "actions a string" },
        { "\"aud\":\"registry.test\",\"exp\":1700000100,\"access\":"
          "[{\"type\":\"repository\",\"name\":\"a\",\"actions\":[1]}]",
          NGX_OCI_JWT_MALFORMED, "an action a number" },
        { "\"aud\":\"registry.test\",\"exp\":1700000100,\"access\":[1]",
          NGX_OCI_JWT_MALFORMED, "an access entry a number" },
        { "\"aud\":\"registry.test\",\"exp\":1700000100,\"access\":null",
          NGX_OCI_JWT_OK, "access null" },
        { NULL, 0, NULL }
    };

    for (i = 0; cases[i].claims; i++) {
        snprintf(p, sizeof(p), "{\"iss\":\"auth.test\",%s}",
                 cases[i].claims);
        is_rc(check_payload(&es256, p, keys), cases[i].rc, cases[i].what);
    }

    snprintf(p, sizeof(p), "{\"iss\":\"evil.test\",\"aud\":\"registry.test\","
             "\"exp\":1700000100}");
    is_rc(check_payload(&es256, p, keys), NGX_OCI_JWT_WRONG_ISSUER,
          "another issuer");

    snprintf(p, sizeof(p), "{\"iss\":\"other.test\",\"aud\":"
             "\"registry.test\",\"exp\":1700000100}");
    is_rc(check_payload(&es256, p, keys), NGX_OCI_JWT_OK,
          "the other accepted issuer");

    snprintf(p, sizeof(p), "{\"aud\":\"registry.test\",\"exp\":1700000100}");
    is_rc(check_payload(&es256, p, keys), NGX_OCI_JWT_WRONG_ISSUER,
          "no iss");

    /* the leeway is the caller's, bounded */

    snprintf(p, sizeof(p), "{\"iss\":\"auth.test\",\"aud\":\"registry.test\","
             "\"exp\":%lld}", NOW - 1);
    e = expect;
    e.leeway = 0;

    {
        char  tok[TOKEN_MAX];
        size_t  n = make(&es256, NULL, p, tok);

        is_rc(check(tok, n, keys, &e), NGX_OCI_JWT_EXPIRED,
              "expired 1 s ago, no leeway");

        e.leeway = 1000000;
        snprintf(p, sizeof(p), "{\"iss\":\"auth.test\",\"aud\":"
                 "\"registry.test\",\"exp\":%lld}",
                 NOW - NGX_OCI_JWT_LEEWAY_MAX - 1);
        n = make(&es256, NULL, p, tok);
        is_rc(check(tok, n, keys, &e), NGX_OCI_JWT_EXPIRED,
              "a leeway past the maximum counts as the maximum");
    }
}


static void
test_header(const ngx_oci_jwt_keys_t *keys)
{
    char    tok[TOKEN_MAX], hdr[256];
    size_t  n, i;

    static const struct {
        const char        *header;
        ngx_oci_jwt_rc_e   rc;
        const char        *what;
    } cases[] = {
        { "{\"alg\":\"ES256\",\"typ\":\"JOSE\"}", NGX_OCI_JWT_MALFORMED,
          "typ JOSE" },
        { "{\"alg\":\"ES256\",\"typ\":1}", NGX_OCI_JWT_MALFORMED,
          "typ a number" },
        { "{\"alg\":\"ES256\",\"crit\":[\"exp\"],\"exp\":1}",
          NGX_OCI_JWT_MALFORMED, "crit" },
        { "{\"alg\":\"ES256\",\"kid\":\"\"}", NGX_OCI_JWT_MALFORMED,
          "empty kid" },
        { "{\"alg\":\"ES256\",\"kid\":7}", NGX_OCI_JWT_MALFORMED,
          "kid a number" },
        { "{\"alg\":\"ES256\",\"kid\":\"nobody\"}", NGX_OCI_JWT_UNKNOWN_KEY,
          "unknown kid" },
        { "{\"typ\":\"JWT\"}", NGX_OCI_JWT_MALFORMED, "no alg" },
        { "{\"alg\":\"es256\"}", NGX_OCI_JWT_BAD_ALG, "alg es256" },
        { "{\"alg\":\"ES512\"}", NGX_OCI_JWT_BAD_ALG, "alg ES512" },
        { "{\"alg\":\"PS256\"}", NGX_OCI_JWT_BAD_ALG, "alg PS256" },
        { "{\"alg\":\"ES256\",\"alg\":\"none\"}", NGX_OCI_JWT_MALFORMED,
          "alg twice in the header" },
        { "[\"ES256\"]", NGX_OCI_JWT_MALFORMED, "header an array" },
        { "{\"alg\":\"ES256\"", NGX_OCI_JWT_MALFORMED, "header cut" },
        { "{\"alg\":\"ES256\",\"x\":\"\\u0000\"}", NGX_OCI_JWT_MALFORMED,
          "NUL in the header" },
        { NULL, 0, NULL }
    };

    for (i = 0; cases[i].header; i++) {
        n = make(&es256, cases[i].header, NULL, tok);
        is_rc(check(tok, n, keys, NULL), cases[i].rc, cases[i].what);
    }

    /* the kid of an ECDSA key with an RSA algorithm */

    snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS256\",\"kid\":\"%s\"}",
             es256.kid);
    n = make(&rs256, hdr, NULL, tok);
    is_rc(check(tok, n, keys, NULL), NGX_OCI_JWT_BAD_ALG,
          "RS256 with the kid of a P-256 key");

    snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES384\",\"kid\":\"%s\"}",
             es256.kid);
    n = make(&es384, hdr, NULL, tok);
    is_rc(check(tok, n, keys, NULL), NGX_OCI_JWT_BAD_ALG,
          "ES384 with the kid of a P-256 key");

    /* without kid, RS256 has one RSA key to go with: the same one */

    n = make(&rs512, "{\"alg\":\"RS512\"}", NULL, tok);
    is_rc(check(tok, n, keys, NULL), NGX_OCI_JWT_OK, "RS512 without kid");
}


/* alg none, and HS256 keyed with the public key (RFC 8725, 2.1) */

static void
test_confusion(const ngx_oci_jwt_keys_t *keys)
{
    char          tok[TOKEN_MAX], pem[4096], mac_b64[128];
    size_t        n, pem_len;
    u_char        mac[EVP_MAX_MD_SIZE];
    unsigned int  mac_len;

    n = b64url((const u_char *) "{\"alg\":\"none\",\"typ\":\"JWT\"}", 26, tok);
    tok[n++] = '.';
    n += b64url((const u_char *) default_payload, strlen(default_payload),
                tok + n);
    tok[n++] = '.';
    tok[n] = '\0';

    is_rc(check(tok, n, keys, NULL), NGX_OCI_JWT_BAD_ALG,
          "alg none, empty signature");

    memcpy(tok + n, "AAAA", 4);
    is_rc(check(tok, n + 4, keys, NULL), NGX_OCI_JWT_BAD_ALG,
          "alg none, a signature");

    pem_len = pubkey_pem(rs256.pkey, pem, sizeof(pem));

    snprintf(pem + pem_len + 1, 200, "{\"alg\":\"HS256\",\"kid\":\"%s\"}",
             rs256.kid);
    n = b64url((u_char *) pem + pem_len + 1, strlen(pem + pem_len + 1), tok);
    tok[n++] = '.';
    n += b64url((const u_char *) default_payload, strlen(default_payload),
                tok + n);

    HMAC(EVP_sha256(), pem, pem_len, (u_char *) tok, n, mac, &mac_len);
    b64url(mac, mac_len, mac_b64);

    tok[n++] = '.';
    memcpy(tok + n, mac_b64, strlen(mac_b64));
    n += strlen(mac_b64);

    is_rc(check(tok, n, keys, NULL), NGX_OCI_JWT_BAD_ALG,
          "HS256 keyed with the PEM of the RSA public key");
}


static void
test_shape(const ngx_oci_jwt_keys_t *keys)
{
    char    tok[TOKEN_MAX], big[TOKEN_MAX], p[TOKEN_MAX];
    size_t  n, len, pad;

    n = make(&rs256, NULL, NULL, tok);

    memcpy(big, tok, n);
    is_rc(check(big, resize_sig(big, n, 255), keys, NULL),
          NGX_OCI_JWT_BAD_SIGNATURE, "signature 1 byte short");
    memcpy(big, tok, n);
    is_rc(check(big, resize_sig(big, n, 257), keys, NULL),
          NGX_OCI_JWT_BAD_SIGNATURE, "signature 1 byte long");
    memcpy(big, tok, n);
    is_rc(check(big, resize_sig(big, n, 256), keys, NULL),
          NGX_OCI_JWT_OK, "signature re-encoded");
    is_rc(check(tok, n - 1, keys, NULL), NGX_OCI_JWT_MALFORMED,
          "signature cut inside a byte");
    is_rc(check(tok, strchr(tok, '.') - tok + 5, keys, NULL),
          NGX_OCI_JWT_MALFORMED, "cut in the payload");
    is_rc(check(tok, strrchr(tok, '.') - tok, keys, NULL),
          NGX_OCI_JWT_MALFORMED, "no signature part");
    is_rc(check(tok, strrchr(tok, '.') - tok + 1, keys, NULL),
          NGX_OCI_JWT_MALFORMED, "empty signature");
    is_rc(check(tok, 0, keys, NULL), NGX_OCI_JWT_MALFORMED, "empty token");
    is_rc(check(".", 1, keys, NULL), NGX_OCI_JWT_MALFORMED, "a dot");
    is_rc(check("..", 2, keys, NULL), NGX_OCI_JWT_MALFORMED, "two dots");

    memcpy(big, tok, n);
    memcpy(big + n, "AAAA", 4);
    is_rc(check(big, n + 4, keys, NULL), NGX_OCI_JWT_BAD_SIGNATURE,
          "signature 3 bytes long");

    memcpy(big + n, ".AAAA.AAAA", 10);
    is_rc(check(big, n + 10, keys, NULL), NGX_OCI_JWT_MALFORMED,
          "five parts (JWE)");

    memcpy(big + n, "==", 2);
    is_rc(check(big, n + 2, keys, NULL), NGX_OCI_JWT_MALFORMED,
          "padding after the signature");

    memcpy(big, tok, n);
    big[n - 3] = '+';
    is_rc(check(big, n, keys, NULL), NGX_OCI_JWT_MALFORMED,
          "'+' in the signature");

    memcpy(big, tok, n);
    big[2] = '/';
    is_rc(check(big, n, keys, NULL), NGX_OCI_JWT_MALFORMED,
          "'/' in the header");

    memcpy(big, tok, n);
    big[strchr(tok, '.') - tok + 3] = ' ';
    is_rc(check(big, n, keys, NULL), NGX_OCI_JWT_MALFORMED,
          "space in the payload");

    /* exactly NGX_OCI_JWT_MAX_LEN bytes passes, one more does not */

    len = 0;
    pad = 0;

    for (pad = 5000; pad < 7000; pad++) {
        snprintf(p, sizeof(p), "{\"iss\":\"auth.test\",\"aud\":"
                 "\"registry.test\",\"exp\":1700000100,\"x\":\"%0*d\"}",
                 (int) pad, 0);
        len = make(&es256, NULL, p, big);

        if (len >= NGX_OCI_JWT_MAX_LEN) {
            break;
        }
    }

    /* base64 of the payload grows by 4 every 3 bytes: find 8192 exactly */

    for (pad -= 3; pad < 7000; pad++) {
        snprintf(p, sizeof(p), "{\"iss\":\"auth.test\",\"aud\":"
                 "\"registry.test\",\"exp\":1700000100,\"x\":\"%0*d\"}",
                 (int) pad, 0);
        len = make(&es256, NULL, p, big);

        if (len == NGX_OCI_JWT_MAX_LEN) {
            is_rc(check(big, len, keys, NULL), NGX_OCI_JWT_OK,
                  "a token of NGX_OCI_JWT_MAX_LEN bytes");
        }

        if (len > NGX_OCI_JWT_MAX_LEN) {
            is_rc(check(big, len, keys, NULL), NGX_OCI_JWT_MALFORMED,
                  "a token over NGX_OCI_JWT_MAX_LEN bytes");
            break;
        }
    }

    /* duplicate keys in the payload: which one counts is not guessed */

    is_rc(check_payload(&es256, "{\"iss\":\"auth.test\",\"aud\":\"x\","
                        "\"aud\":\"registry.test\",\"exp\":1700000100}",
                        keys),
          NGX_OCI_JWT_MALFORMED, "aud twice in the payload");

    is_rc(check_payload(&es256, "[]", keys), NGX_OCI_JWT_MALFORMED,
          "payload an array");
    is_rc(check_payload(&es256, "{\"iss\":\"auth.test\"", keys),
          NGX_OCI_JWT_MALFORMED, "payload cut");
    is_rc(check_payload(&es256, "{\"iss\":\"\xff\"}", keys),
          NGX_OCI_JWT_MALFORMED, "payload not UTF-8");
}


static void
test_nesting(const ngx_oci_jwt_keys_t *keys)
{
    char    p[8192], tok[TOKEN_MAX], hdr[256];
    size_t  n, depth;

    static const char  head[] =
        "{\"iss\":\"auth.test\",\"aud\":\"registry.test\","
        "\"exp\":1700000100,\"x\":";

    /* the payload object and 15 arrays: NGX_OCI_JWT_MAX_DEPTH */

    for (depth = 15; depth <= 16; depth++) {
        n = sizeof(head) - 1;
        memcpy(p, head, n);
        memset(p + n, '[', depth);
        memset(p + n + depth, ']', depth);
        strcpy(p + n + 2 * depth, "}");

        is_rc(check_payload(&es256, p, keys),
              depth == 15 ? NGX_OCI_JWT_OK : NGX_OCI_JWT_MALFORMED,
              depth == 15 ? "nested 16 deep" : "nested 17 deep");
    }

    /* brackets inside strings are not nesting */

    n = sizeof(head) - 1;
    memcpy(p, head, n);
    strcpy(p + n, "\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[[[[\"}");
    is_rc(check_payload(&es256, p, keys), NGX_OCI_JWT_OK,
          "brackets in a string");

    /* a close before any open: refused by the scan, not by jansson */

    tap_ok(ngx_oci_jwt_depth_ok((const u_char *) "]]]{}", 5, 16) == 0,
           "a close before its open");
    tap_ok(ngx_oci_jwt_depth_ok((const u_char *) "{\"a\":[[]]}", 11, 16) == 1,
           "balanced");

    /* a bomb: 6000 levels, unclosed */

    memset(p, '[', 6000);
    p[6000] = '\0';
    is_rc(check_payload(&es256, p, keys), NGX_OCI_JWT_MALFORMED,
          "6000 nested arrays");

    strcpy(hdr, "{\"alg\":\"ES256\",\"x\":");
    n = strlen(hdr);
    memset(hdr + n, '[', 100);
    memset(hdr + n + 100, ']', 100);
    strcpy(hdr + n + 200, "}");
    hdr[255] = '\0';

    n = make(&es256, hdr, NULL, tok);
    is_rc(check(tok, n, keys, NULL), NGX_OCI_JWT_MALFORMED,
          "header nested 101 deep");
}


/* r and s of ES256 and ES384: in range, high s, out of range */

static void
test_ecdsa(const ngx_oci_jwt_keys_t *keys)
{
    char           tok[TOKEN_MAX], sig64[256], name[64];
    u_char         sig[96], raw[96];
    size_t         n, half, dot, i, sig_len;
    BIGNUM        *s, *order;
    EC_GROUP      *group;
    signer_t      *signer;

    for (i = 0; i < 2; i++) {
        signer = i ? &es384 : &es256;
        half = signer->half;

        n = make(signer, NULL, NULL, tok);
        dot = strrchr(tok, '.') - tok;

        ngx_oci_jwt_base64url_decode((u_char *) tok + dot + 1, n - dot - 1,
                                     raw, &sig_len);

        group = EC_GROUP_new_by_curve_name(i ? NID_secp384r1
                                             : NID_X9_62_prime256v1);
        order = BN_dup(EC_GROUP_get0_order(group));
        EC_GROUP_free(group);

#define WITH_SIG(what, want)                                                 \
        b64url(sig, 2 * half, sig64);                                        \
        strcpy(tok + dot + 1, sig64);                                        \
        snprintf(name, sizeof(name), "%s %s", signer->alg, what);            \
        is_rc(check(tok, strlen(tok), keys, NULL), want, name)

        /* n - s: the same signature for ECDSA, as Go's signers make */

        memcpy(sig, raw, 2 * half);
        s = BN_bin2bn(raw + half, half, NULL);
        BN_sub(s, order, s);
        BN_bn2binpad(s, sig + half, half);
        BN_free(s);
        WITH_SIG("high s (n - s) accepted", NGX_OCI_JWT_OK);

        memcpy(sig, raw, 2 * half);
        memset(sig, 0, half);
        WITH_SIG("r = 0", NGX_OCI_JWT_BAD_SIGNATURE);

        memcpy(sig, raw, 2 * half);
        memset(sig + half, 0, half);
        WITH_SIG("s = 0", NGX_OCI_JWT_BAD_SIGNATURE);

        memcpy(sig, raw, 2 * half);
        BN_bn2binpad(order, sig, half);
        WITH_SIG("r = n", NGX_OCI_JWT_BAD_SIGNATURE);

        memcpy(sig, raw, 2 * half);
        BN_bn2binpad(order, sig + half, half);
        WITH_SIG("s = n", NGX_OCI_JWT_BAD_SIGNATURE);

        /* s + n still fits when s is small: the same s modulo n */

        memcpy(sig, raw, 2 * half);
        memset(sig + half, 0, half);
        sig[2 * half - 1] = 1;
        s = BN_bin2bn(sig + half, half, NULL);
        BN_add(s, s, order);
        BN_bn2binpad(s, sig + half, half);
        BN_free(s);
        WITH_SIG("s = 1 + n", NGX_OCI_JWT_BAD_SIGNATURE);

        memcpy(sig, raw, 2 * half);
        memset(sig + half, 0xff, half);
        WITH_SIG("s = 2^k - 1", NGX_OCI_JWT_BAD_SIGNATURE);

        memcpy(sig, raw, 2 * half);
        sig[0] ^= 1;
        WITH_SIG("r changed", NGX_OCI_JWT_BAD_SIGNATURE);

        memcpy(sig, raw, 2 * half);
        WITH_SIG("the signature itself", NGX_OCI_JWT_OK);

        /* DER as some libraries return it, not R || S */

        {
            u_char       *der = NULL;
            int           der_len;
            ECDSA_SIG    *es = ECDSA_SIG_new();

            ECDSA_SIG_set0(es, BN_bin2bn(raw, half, NULL),
                           BN_bin2bn(raw + half, half, NULL));
            der_len = i2d_ECDSA_SIG(es, &der);
            b64url(der, der_len, sig64);
            strcpy(tok + dot + 1, sig64);
            is_rc(check(tok, strlen(tok), keys, NULL),
                  NGX_OCI_JWT_BAD_SIGNATURE, "a DER signature");
            OPENSSL_free(der);
            ECDSA_SIG_free(es);
        }

#undef WITH_SIG

        BN_free(order);
    }

    /* Ed25519: 64 bytes exactly */

    n = make(&eddsa, NULL, NULL, tok);
    is_rc(check(tok, resize_sig(tok, n, 63), keys, NULL),
          NGX_OCI_JWT_BAD_SIGNATURE, "Ed25519 signature 1 byte short");

    n = make(&es256, NULL, NULL, tok);
    is_rc(check(tok, resize_sig(tok, n, 63), keys, NULL),
          NGX_OCI_JWT_BAD_SIGNATURE, "ES256 signature 1 byte short");
    n = make(&es256, NULL, NULL, tok);
    is_rc(check(tok, resize_sig(tok, n, 65), keys, NULL),
          NGX_OCI_JWT_BAD_SIGNATURE, "ES256 signature 1 byte long");
}


static void
test_cert(void)
{
    int                 rc;
    char                pem[8192], tok[TOKEN_MAX];
    char                err[NGX_OCI_JWT_ERROR_LEN];
    size_t              n, len;
    signer_t          **s;
    ngx_oci_jwt_keys_t  keys;

    /* a bundle of certificates, as docker-registry's rootcertbundle */

    ngx_oci_jwt_keys_init(&keys);

    len = 0;

    for (s = signers; *s; s++) {
        if ((*s)->md == EVP_sha384() && (*s)->half == 0) {
            continue;
        }

        if ((*s)->md == EVP_sha512()) {
            continue;
        }

        len += cert_pem((*s)->pkey, pem + len, sizeof(pem) - len);
    }

    /* twice the same: a bundle put together by hand */

    len += cert_pem(rs256.pkey, pem + len, sizeof(pem) - len);

    rc = ngx_oci_jwt_keys_add_pem(&keys, (u_char *) pem, len, err);
    if (!tap_ok(rc == 4 && keys.nkeys == 4, "4 certificates, one twice")) {
        tap_diag("%d: %s", rc, err);
    }

    for (s = signers; *s; s++) {
        n = make(*s, NULL, NULL, tok);
        is_rc(check(tok, n, &keys, NULL), NGX_OCI_JWT_OK, (*s)->alg);
    }

    ngx_oci_jwt_keys_free(&keys);
}


static void
test_jwks(void)
{
    int                 rc;
    char                doc[16384], a[4096], b[2048], c[2048], d[1024];
    char                tok[TOKEN_MAX], hdr[256];
    char                err[NGX_OCI_JWT_ERROR_LEN];
    size_t              n;
    EVP_PKEY           *second;
    ngx_oci_jwt_keys_t  keys;

    ngx_oci_jwt_keys_init(&keys);

    jwk(rs256.pkey, "rsa-1", a, sizeof(a));
    jwk(es256.pkey, "ec-256", b, sizeof(b));
    jwk(es384.pkey, "ec-384", c, sizeof(c));
    jwk(eddsa.pkey, "ed-1", d, sizeof(d));

    snprintf(doc, sizeof(doc), "{\"keys\":[%s,%s,%s,%s,"
             "{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"},"
             "{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"AA\",\"y\":\"AA\"},"
             "{\"kty\":\"RSA\",\"use\":\"enc\",\"n\":\"AA\",\"e\":\"AQAB\"},"
             "{\"kty\":\"RSA\",\"alg\":\"RSA-OAEP\",\"n\":\"AA\","
             "\"e\":\"AQAB\"}]}", a, b, c, d);

    rc = ngx_oci_jwt_keys_add_jwks(&keys, (u_char *) doc, strlen(doc), err);
    if (!tap_ok(rc == 4 && keys.nkeys == 4,
                "JWKS: 4 keys, the others skipped"))
    {
        tap_diag("%d: %s", rc, err);
    }

#define KID_TOKEN(signer, kid, want, what)                                   \
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"%s\"}",            \
             (signer)->alg, kid);                                            \
    n = make(signer, hdr, NULL, tok);                                        \
    is_rc(check(tok, n, &keys, NULL), want, what)

    KID_TOKEN(&rs256, "rsa-1", NGX_OCI_JWT_OK, "JWKS RSA key, RS256");
    KID_TOKEN(&rs512, "rsa-1", NGX_OCI_JWT_OK, "JWKS RSA key, RS512");
    KID_TOKEN(&es256, "ec-256", NGX_OCI_JWT_OK, "JWKS P-256 key");
    KID_TOKEN(&es384, "ec-384", NGX_OCI_JWT_OK, "JWKS P-384 key");
    KID_TOKEN(&eddsa, "ed-1", NGX_OCI_JWT_OK, "JWKS Ed25519 key");
    KID_TOKEN(&es256, "ec-384", NGX_OCI_JWT_BAD_ALG,
              "ES256 with the kid of the P-384 key");
    KID_TOKEN(&es256, es256.kid, NGX_OCI_JWT_UNKNOWN_KEY,
              "a libtrust kid against a JWKS");

    ngx_oci_jwt_keys_free(&keys);

    /* a JWK's alg restricts the key to it */

    ngx_oci_jwt_keys_init(&keys);
    snprintf(doc, sizeof(doc), "{\"keys\":[%.*s,\"alg\":\"RS384\"}]}",
             (int) strlen(a) - 1, a);
    rc = ngx_oci_jwt_keys_add_jwks(&keys, (u_char *) doc, strlen(doc), err);
    tap_ok(rc == 1 && keys.keys[0].alg == NGX_OCI_JWT_RS384,
           "JWK with alg RS384");
    KID_TOKEN(&rs384, "rsa-1", NGX_OCI_JWT_OK, "RS384 with a RS384 key");
    KID_TOKEN(&rs256, "rsa-1", NGX_OCI_JWT_BAD_ALG, "RS256 with it");
    ngx_oci_jwt_keys_free(&keys);

    /* without kid: only a token without kid may use it */

    ngx_oci_jwt_keys_init(&keys);
    snprintf(doc, sizeof(doc), "{\"keys\":[{\"kty\":\"OKP\",\"crv\":"
             "\"Ed25519\",%s]}", strstr(d, "\"x\""));
    rc = ngx_oci_jwt_keys_add_jwks(&keys, (u_char *) doc, strlen(doc), err);
    tap_ok(rc == 1 && keys.keys[0].kid == NULL, "JWK without kid");
    KID_TOKEN(&eddsa, "ed-1", NGX_OCI_JWT_UNKNOWN_KEY, "a token with a kid");
    n = make(&eddsa, "{\"alg\":\"EdDSA\"}", NULL, tok);
    is_rc(check(tok, n, &keys, NULL), NGX_OCI_JWT_OK, "a token without");

    /* a second key of the family: without kid, no key is chosen */

    second = keygen("ED25519", NULL, 0);
    jwk(second, "ed-2", d, sizeof(d));
    EVP_PKEY_free(second);
    snprintf(doc, sizeof(doc), "{\"keys\":[%s]}", d);
    rc = ngx_oci_jwt_keys_add_jwks(&keys, (u_char *) doc, strlen(doc), err);
    tap_ok(rc == 1 && keys.nkeys == 2, "a second Ed25519 key");
    is_rc(check(tok, n, &keys, NULL), NGX_OCI_JWT_UNKNOWN_KEY,
          "no kid, two keys that fit");

#undef KID_TOKEN

    ngx_oci_jwt_keys_free(&keys);
}


static void
test_bad_keys(void)
{
    int                 rc;
    char                pem[8192], doc[8192], good[2048], more[2048];
    char                err[NGX_OCI_JWT_ERROR_LEN];
    size_t              i, n;
    BIO                *bio;
    char               *p;
    EVP_PKEY           *weak, *other;
    ngx_oci_jwt_keys_t  keys;

    static const struct {
        const char  *doc;
        const char  *what;
    } bad_jwks[] = {
        { "", "empty" },
        { "[]", "an array" },
        { "{\"keys\":{}}", "keys an object" },
        { "{\"keys\":[]}", "no key" },
        { "{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}]}",
          "only a symmetric key" },
        { "{\"keys\":[1]}", "a key a number" },
        { "{\"keys\":[{\"n\":\"AQAB\"}]}", "no kty" },
        { "{\"keys\":[],\"keys\":[]}", "keys twice" },
        { "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":"
          "\"AQAB\",\"y\":\"AQAB\"}]}", "EC coordinates too short" },
        { "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
          "\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
          "\"y\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE\"}]}",
          "a point not on P-256" },
        { "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AQAB\"}]}",
          "Ed25519 x too short" },
        { "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
          "RSA modulus of 17 bits" },
        { "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQA=\",\"e\":\"AQAB\"}]}",
          "padded base64url" },
        { "{\"keys\":[{\"kty\":\"RSA\",\"kid\":1,\"n\":\"AQAB\","
          "\"e\":\"AQAB\"}]}", "kid a number" },
        { "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":"
          "\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\",\"d\":"
          "\"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\"}]}",
          "a private key" },
        { NULL, NULL }
    };

    for (i = 0; bad_jwks[i].doc; i++) {
        ngx_oci_jwt_keys_init(&keys);
        err[0] = '\0';
        rc = ngx_oci_jwt_keys_add_jwks(&keys, (const u_char *) bad_jwks[i].doc,
                                       strlen(bad_jwks[i].doc), err);
        if (!tap_ok(rc == -1 && keys.nkeys == 0 && err[0],
                    "JWKS refused: %s", bad_jwks[i].what))
        {
            tap_diag("%d: %s", rc, err);
        }
        ngx_oci_jwt_keys_free(&keys);
    }

    /* a private key in PEM */

    bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, es256.pkey, NULL, NULL, 0, NULL, NULL);
    n = BIO_get_mem_data(bio, &p);
    memcpy(pem, p, n);
    BIO_free(bio);

    ngx_oci_jwt_keys_init(&keys);
    rc = ngx_oci_jwt_keys_add_pem(&keys, (u_char *) pem, n, err);
    tap_ok(rc == -1 && strstr(err, "private") != NULL,
           "PEM private key refused");

    weak = keygen("RSA", NULL, 1024);
    n = pubkey_pem(weak, pem, sizeof(pem));
    rc = ngx_oci_jwt_keys_add_pem(&keys, (u_char *) pem, n, err);
    tap_ok(rc == -1 && keys.nkeys == 0, "RSA key of 1024 bits refused");
    EVP_PKEY_free(weak);

    other = keygen("EC", "P-521", 0);
    n = pubkey_pem(other, pem, sizeof(pem));
    rc = ngx_oci_jwt_keys_add_pem(&keys, (u_char *) pem, n, err);
    tap_ok(rc == -1 && keys.nkeys == 0, "P-521 key refused");
    EVP_PKEY_free(other);

    rc = ngx_oci_jwt_keys_add_pem(&keys, (u_char *) "hello\n", 6, err);
    tap_ok(rc == -1 && keys.nkeys == 0, "no PEM block refused");

    n = pubkey_pem(es256.pkey, pem, sizeof(pem));
    pem[40] ^= 4;
    rc = ngx_oci_jwt_keys_add_pem(&keys, (u_char *) pem, n, err);
    tap_ok(rc == -1 && keys.nkeys == 0, "damaged PEM refused");

    n = pubkey_pem(es256.pkey, pem, sizeof(pem));
    memcpy(pem + n, "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n",
           53);
    rc = ngx_oci_jwt_keys_add_pem(&keys, (u_char *) pem, n + 53, err);
    tap_ok(rc == -1 && keys.nkeys == 0,
           "a CRL after a key: nothing kept");

    /* a kid of the set given to another key: refused, the set unchanged */

    jwk(es256.pkey, "k", good, sizeof(good));
    snprintf(doc, sizeof(doc), "{\"keys\":[%s]}", good);
    rc = ngx_oci_jwt_keys_add_jwks(&keys, (u_char *) doc, strlen(doc), err);
    tap_ok(rc == 1, "a JWK of kid k");

    snprintf(doc, sizeof(doc), "{\"keys\":[%s]}", good);
    rc = ngx_oci_jwt_keys_add_jwks(&keys, (u_char *) doc, strlen(doc), err);
    tap_ok(rc == 0 && keys.nkeys == 1, "the same JWK again: kept once");

    jwk(eddsa.pkey, "j", good, sizeof(good));
    jwk(es384.pkey, "k", more, sizeof(more));
    snprintf(doc, sizeof(doc), "{\"keys\":[%s,%s]}", good, more);
    rc = ngx_oci_jwt_keys_add_jwks(&keys, (u_char *) doc, strlen(doc), err);
    tap_ok(rc == -1 && keys.nkeys == 1,
           "kid k for another key: the whole JWKS refused");

    ngx_oci_jwt_keys_free(&keys);
}


/* a private key's PEM, as the issuer reads it */

static size_t
private_pem(EVP_PKEY *pkey, char *out, size_t size)
{
    BIO     *bio;
    char    *p;
    long     n;

    bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL);
    n = BIO_get_mem_data(bio, &p);

    if (n <= 0 || (size_t) n >= size) {
        exit(EXIT_FAILURE);
    }

    memcpy(out, p, n);
    out[n] = '\0';
    BIO_free(bio);

    return n;
}


static void
test_sign(const ngx_oci_jwt_keys_t *keys)
{
    int                    rc;
    char                  *tok, pem[8192], err[NGX_OCI_JWT_ERROR_LEN];
    size_t                 i, len, n;
    json_t                *payload;
    u_char                 enc[8];
    ngx_oci_jwt_t          jwt;
    ngx_oci_jwt_signer_t   signer;

    static const signer_t  *which[] = { &rs256, &es256, &es384, &eddsa };
    static const char      *algs[] = { "RS256", "ES256", "ES384", "EdDSA" };

    tap_ok(ngx_oci_jwt_base64url_encode(enc, (u_char *) "\xfb\xff", 2) == 3
           && memcmp(enc, "-_8", 3) == 0,
           "base64url encoding: URL alphabet, no padding");

    for (i = 0; i < 4; i++) {
        n = private_pem(which[i]->pkey, pem, sizeof(pem));
        rc = ngx_oci_jwt_signer_load(&signer, (u_char *) pem, n, err);
        tap_ok(rc == 0, "%s: the private key loads (%s)", algs[i],
               rc ? err : "ok");

        if (rc != 0) {
            continue;
        }

        tap_ok(strcmp(signer.kid, which[i]->kid) == 0,
               "%s: the signer's kid is the key's libtrust id", algs[i]);

        payload = json_loads(default_payload, 0, NULL);
        rc = ngx_oci_jwt_sign(&signer, payload, &tok, &len);
        json_decref(payload);

        tap_ok(rc == 0 && strlen(tok) == len, "%s: signed", algs[i]);

        if (rc != 0) {
            ngx_oci_jwt_signer_free(&signer);
            continue;
        }

        tap_ok(check(tok, len, keys, NULL) == NGX_OCI_JWT_OK,
               "%s: the verifier accepts the signed token", algs[i]);

        tap_ok(ngx_oci_jwt_parse((u_char *) tok, len, &jwt)
               == NGX_OCI_JWT_OK
               && strcmp(json_string_value(json_object_get(jwt.header,
                                                           "alg")),
                         algs[i]) == 0
               && jwt.kid && strcmp(jwt.kid, signer.kid) == 0,
               "%s: its header names the algorithm and the kid", algs[i]);
        ngx_oci_jwt_free(&jwt);

        /* one byte of the payload changed: the signature fails */
        tok[strchr(tok, '.') - tok + 3] ^= 1;
        rc = check(tok, len, keys, NULL);
        tap_ok(rc == NGX_OCI_JWT_BAD_SIGNATURE || rc == NGX_OCI_JWT_MALFORMED,
               "%s: an altered token is refused (%s)", algs[i],
               rc_name(rc));

        free(tok);
        ngx_oci_jwt_signer_free(&signer);
    }

    n = pubkey_pem(rs256.pkey, pem, sizeof(pem));
    tap_ok(ngx_oci_jwt_signer_load(&signer, (u_char *) pem, n, err) == -1,
           "a public key does not sign");
    tap_ok(ngx_oci_jwt_signer_load(&signer, (u_char *) "junk", 4, err) == -1,
           "junk does not sign");
    ERR_clear_error();
}


int
main(void)
{
    ngx_oci_jwt_keys_t  keys;

    setup();
    pem_keys(&keys);

    test_base64url();
    test_libtrust_kid(&keys);
    test_good(&keys);
    test_access(&keys);
    test_claims(&keys);
    test_header(&keys);
    test_confusion(&keys);
    test_shape(&keys);
    test_nesting(&keys);
    test_ecdsa(&keys);
    test_cert();
    test_jwks();
    test_bad_keys();
    test_sign(&keys);

    ngx_oci_jwt_keys_free(&keys);

    tap_ok(ERR_peek_error() == 0, "no OpenSSL error left in the queue");

    return tap_done();
}
