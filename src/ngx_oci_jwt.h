
/*
 * Bearer tokens of the Docker token scheme: a compact JWS (RFC 7515)
 * whose payload is a JWT (RFC 7519) with an "access" claim, verified
 * against a set of public keys. Pure: libc, jansson and OpenSSL's EVP;
 * bytes in, a code out (docs/auth.md says what is accepted).
 *
 *   ngx_oci_jwt_parse()        token bytes -> header, payload, signature
 *   ngx_oci_jwt_verify()       the signature, with a key of the set
 *   ngx_oci_jwt_claims_check() iss, aud, exp, nbf, iat, sub, access
 *   ngx_oci_jwt_granted()      is (type, name, action) in "access"?
 *
 * Keys come from PEM (public keys, X.509 certificates) and JWKS
 * documents held in memory; the caller reads the files. A PEM key is
 * known by its libtrust key id, the one docker-registry and the token
 * servers made for it put in "kid"; a JWK by its own "kid".
 *
 * Everything allocated here is released by the matching free function;
 * nothing is global. The key sets are in ngx_oci_jwt_keys.c, signing
 * (for the issuer) in ngx_oci_jwt_sign.c.
 */


#ifndef _NGX_OCI_JWT_H_INCLUDED_
#define _NGX_OCI_JWT_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <openssl/evp.h>


/* a longer Authorization header is refused before anything is decoded */
#define NGX_OCI_JWT_MAX_LEN        8192

/* JSON nesting of the header and payload; the claims need 4 */
#define NGX_OCI_JWT_MAX_DEPTH      16

/* times are integers of seconds in [0, 9999-12-31T23:59:59Z] */
#define NGX_OCI_JWT_TIME_MAX       253402300799LL
#define NGX_OCI_JWT_LEEWAY_MAX     600

/* "XXXX:" * 11 + "XXXX": 240 bits of SHA-256 in base32 */
#define NGX_OCI_JWT_LIBTRUST_KID_LEN  59

#define NGX_OCI_JWT_KID_MAX        256
#define NGX_OCI_JWT_KEYS_MAX       256
#define NGX_OCI_JWT_RSA_MIN_BITS   2048

#define NGX_OCI_JWT_ERROR_LEN      128


typedef enum {
    NGX_OCI_JWT_OK = 0,
    NGX_OCI_JWT_MALFORMED,          /* not a token we read */
    NGX_OCI_JWT_BAD_ALG,            /* none, HS*, unknown, or not the key's */
    NGX_OCI_JWT_UNKNOWN_KEY,        /* no key of the set for this kid */
    NGX_OCI_JWT_BAD_SIGNATURE,
    NGX_OCI_JWT_EXPIRED,
    NGX_OCI_JWT_NOT_YET_VALID,
    NGX_OCI_JWT_WRONG_AUDIENCE,
    NGX_OCI_JWT_WRONG_ISSUER,
    NGX_OCI_JWT_INSUFFICIENT_SCOPE,
    NGX_OCI_JWT_ERROR               /* out of memory, library failure */
} ngx_oci_jwt_rc_e;


typedef enum {
    NGX_OCI_JWT_ALG_ANY = 0,        /* a key: any algorithm of its family */
    NGX_OCI_JWT_RS256,
    NGX_OCI_JWT_RS384,
    NGX_OCI_JWT_RS512,
    NGX_OCI_JWT_ES256,
    NGX_OCI_JWT_ES384,
    NGX_OCI_JWT_EDDSA
} ngx_oci_jwt_alg_e;


typedef enum {
    NGX_OCI_JWT_KEY_RSA = 1,
    NGX_OCI_JWT_KEY_P256,
    NGX_OCI_JWT_KEY_P384,
    NGX_OCI_JWT_KEY_ED25519
} ngx_oci_jwt_family_e;


typedef struct {
    EVP_PKEY              *pkey;
    char                  *kid;      /* NUL-terminated; NULL: a JWK without */
    ngx_oci_jwt_family_e   family;
    ngx_oci_jwt_alg_e      alg;      /* a JWK's "alg", or ALG_ANY */
} ngx_oci_jwt_key_t;


typedef struct {
    ngx_oci_jwt_key_t     *keys;
    size_t                 nkeys;
    size_t                 nalloc;
} ngx_oci_jwt_keys_t;


typedef struct {
    ngx_oci_jwt_alg_e      alg;
    const char            *kid;      /* in header, or NULL */
    json_t                *header;   /* objects, owned */
    json_t                *payload;
    u_char                *input;    /* "header.payload" as signed */
    size_t                 input_len;
    u_char                *sig;      /* decoded, in the same allocation */
    size_t                 sig_len;
} ngx_oci_jwt_t;


typedef struct {
    const char * const    *issuers;  /* accepted "iss" values */
    size_t                 nissuers;
    const char            *service;  /* must be in "aud" */
    int64_t                now;      /* seconds since the epoch */
    int64_t                leeway;   /* 0 .. NGX_OCI_JWT_LEEWAY_MAX */
} ngx_oci_jwt_expect_t;


/* a private key that signs tokens, with its algorithm and libtrust id */
typedef struct {
    EVP_PKEY              *pkey;
    ngx_oci_jwt_alg_e      alg;
    char                   kid[NGX_OCI_JWT_LIBTRUST_KID_LEN + 1];
} ngx_oci_jwt_signer_t;


typedef struct {
    const char            *sub;      /* in the payload, or NULL */
    size_t                 sub_len;
    json_t                *access;   /* checked array in the payload, or NULL */
} ngx_oci_jwt_claims_t;


/* "RS256" ... "EdDSA", or ALG_ANY for any other name; and its keys */
ngx_oci_jwt_alg_e ngx_oci_jwt_alg_from(const char *name);
ngx_oci_jwt_family_e ngx_oci_jwt_alg_family(ngx_oci_jwt_alg_e alg);

/* JSON text nested at most max deep (a scan, before jansson recurses) */
int ngx_oci_jwt_depth_ok(const u_char *p, size_t len, int max);

/* the strict base64url of JWS: no padding, zero trailing bits */
int ngx_oci_jwt_base64url_decode(const u_char *src, size_t len, u_char *dst,
    size_t *dst_len);

/*
 * Splits, decodes and reads a compact JWS; on NGX_OCI_JWT_OK the caller
 * releases *jwt with ngx_oci_jwt_free(), on any other code there is
 * nothing to release. Codes: MALFORMED, BAD_ALG, ERROR.
 */
ngx_oci_jwt_rc_e ngx_oci_jwt_parse(const u_char *token, size_t len,
    ngx_oci_jwt_t *jwt);
void ngx_oci_jwt_free(ngx_oci_jwt_t *jwt);

/* Codes: UNKNOWN_KEY, BAD_ALG, BAD_SIGNATURE, ERROR */
ngx_oci_jwt_rc_e ngx_oci_jwt_verify(const ngx_oci_jwt_t *jwt,
    const ngx_oci_jwt_keys_t *keys);

/*
 * Checks the claims of a verified payload, in this order: iss, aud, exp,
 * nbf, iat, sub, access. *claims points into the payload. Codes:
 * WRONG_ISSUER, WRONG_AUDIENCE, EXPIRED, NOT_YET_VALID, MALFORMED.
 */
ngx_oci_jwt_rc_e ngx_oci_jwt_claims_check(json_t *payload,
    const ngx_oci_jwt_expect_t *expect, ngx_oci_jwt_claims_t *claims);

/*
 * OK when an entry of "access" has this type and exactly this name, and
 * lists the action or "*" (which grants every action); a wanted action
 * "*" needs a granted "*". INSUFFICIENT_SCOPE otherwise.
 */
ngx_oci_jwt_rc_e ngx_oci_jwt_granted(const ngx_oci_jwt_claims_t *claims,
    const char *type, const u_char *name, size_t name_len,
    const char *action);

/* a phrase for the log, and the "error" of WWW-Authenticate (or NULL) */
const char *ngx_oci_jwt_strerror(ngx_oci_jwt_rc_e rc);
const char *ngx_oci_jwt_error_param(ngx_oci_jwt_rc_e rc);


void ngx_oci_jwt_keys_init(ngx_oci_jwt_keys_t *keys);
void ngx_oci_jwt_keys_free(ngx_oci_jwt_keys_t *keys);

/*
 * Every "PUBLIC KEY" and "CERTIFICATE" block of a PEM buffer, or every
 * usable key of a JWKS document ({"keys": [...]}). Returns the number of
 * keys added, or -1 with a reason in err (NGX_OCI_JWT_ERROR_LEN bytes):
 * a private key, an unsupported or weak key, a malformed document, a kid
 * already in the set for another key, nothing usable at all.
 */
int ngx_oci_jwt_keys_add_pem(ngx_oci_jwt_keys_t *keys, const u_char *buf,
    size_t len, char *err);
int ngx_oci_jwt_keys_add_jwks(ngx_oci_jwt_keys_t *keys, const u_char *buf,
    size_t len, char *err);

/* the libtrust key id of a public key: NGX_OCI_JWT_LIBTRUST_KID_LEN + 1 */
int ngx_oci_jwt_libtrust_kid(EVP_PKEY *pkey, char *kid);


/* ngx_oci_jwt_sign.c */

/* base64url without padding; writes (len + 2) / 3 * 4 bytes at most */
size_t ngx_oci_jwt_base64url_encode(u_char *dst, const u_char *src,
    size_t len);

/*
 * The first private key of a PEM buffer (unencrypted): RSA of 2048 bits
 * or more (RS256), P-256 (ES256), P-384 (ES384), Ed25519 (EdDSA). 0, or
 * -1 with a reason in err; ngx_oci_jwt_signer_free() releases it.
 */
int ngx_oci_jwt_signer_load(ngx_oci_jwt_signer_t *s, const u_char *pem,
    size_t len, char *err);
void ngx_oci_jwt_signer_free(ngx_oci_jwt_signer_t *s);

/*
 * The compact JWS of a payload object, with "typ", "alg" and the key's
 * libtrust "kid" in its header: a NUL-terminated string in *out that
 * the caller free()s.  0, or -1 (memory, library failure).
 */
int ngx_oci_jwt_sign(const ngx_oci_jwt_signer_t *s, json_t *payload,
    char **out, size_t *out_len);


#endif /* _NGX_OCI_JWT_H_INCLUDED_ */
