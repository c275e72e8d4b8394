
/*
 * Signing tokens in the form the verifier reads (ngx_oci_jwt.h): a
 * private key from PEM, its algorithm and its libtrust key id, and the
 * compact JWS of a payload.  RSA keys sign RS256, P-256 ES256, P-384
 * ES384, Ed25519 EdDSA; the same keys and sizes the verifier accepts.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "ngx_oci_jwt.h"


static int ngx_oci_jwt_sign_ecdsa(const u_char *der, size_t der_len,
    size_t half, u_char *out);


static const char  ngx_oci_jwt_b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


size_t
ngx_oci_jwt_base64url_encode(u_char *dst, const u_char *src, size_t len)
{
    size_t        i, n;
    unsigned int  v;

    n = 0;

    for (i = 0; i + 2 < len; i += 3) {
        v = (unsigned int) src[i] << 16 | src[i + 1] << 8 | src[i + 2];
        dst[n++] = ngx_oci_jwt_b64url[v >> 18];
        dst[n++] = ngx_oci_jwt_b64url[(v >> 12) & 0x3f];
        dst[n++] = ngx_oci_jwt_b64url[(v >> 6) & 0x3f];
        dst[n++] = ngx_oci_jwt_b64url[v & 0x3f];
    }

    if (len - i == 1) {
        v = (unsigned int) src[i] << 16;
        dst[n++] = ngx_oci_jwt_b64url[v >> 18];
        dst[n++] = ngx_oci_jwt_b64url[(v >> 12) & 0x3f];

    } else if (len - i == 2) {
        v = (unsigned int) src[i] << 16 | src[i + 1] << 8;
        dst[n++] = ngx_oci_jwt_b64url[v >> 18];
        dst[n++] = ngx_oci_jwt_b64url[(v >> 12) & 0x3f];
        dst[n++] = ngx_oci_jwt_b64url[(v >> 6) & 0x3f];
    }

    return n;
}


int
ngx_oci_jwt_signer_load(ngx_oci_jwt_signer_t *s, const u_char *pem,
    size_t len, char *err)
{
    BIO       *bio;
    char       group[32];
    size_t     glen;
    EVP_PKEY  *pkey;

    memset(s, 0, sizeof(ngx_oci_jwt_signer_t));

    bio = BIO_new_mem_buf(pem, (int) len);
    if (bio == NULL) {
        snprintf(err, NGX_OCI_JWT_ERROR_LEN, "out of memory");
        return -1;
    }

    pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);

    if (pkey == NULL) {
        ERR_clear_error();
        snprintf(err, NGX_OCI_JWT_ERROR_LEN,
                 "no unencrypted PEM private key");
        return -1;
    }

    if (EVP_PKEY_is_a(pkey, "RSA")) {
        if (EVP_PKEY_get_bits(pkey) < NGX_OCI_JWT_RSA_MIN_BITS) {
            snprintf(err, NGX_OCI_JWT_ERROR_LEN,
                     "RSA key of %d bits, less than %d",
                     EVP_PKEY_get_bits(pkey), NGX_OCI_JWT_RSA_MIN_BITS);
            goto failed;
        }

        s->alg = NGX_OCI_JWT_RS256;

    } else if (EVP_PKEY_is_a(pkey, "EC")) {
        if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) != 1) {
            ERR_clear_error();
            snprintf(err, NGX_OCI_JWT_ERROR_LEN, "EC key without a curve");
            goto failed;
        }

        if (strcmp(group, "prime256v1") == 0) {
            s->alg = NGX_OCI_JWT_ES256;

        } else if (strcmp(group, "secp384r1") == 0) {
            s->alg = NGX_OCI_JWT_ES384;

        } else {
            snprintf(err, NGX_OCI_JWT_ERROR_LEN,
                     "EC key on curve %s, not P-256 or P-384", group);
            goto failed;
        }

    } else if (EVP_PKEY_is_a(pkey, "ED25519")) {
        s->alg = NGX_OCI_JWT_EDDSA;

    } else {
        snprintf(err, NGX_OCI_JWT_ERROR_LEN,
                 "key of type %s, not RSA, EC or Ed25519",
                 EVP_PKEY_get0_type_name(pkey));
        goto failed;
    }

    if (ngx_oci_jwt_libtrust_kid(pkey, s->kid) != 0) {
        snprintf(err, NGX_OCI_JWT_ERROR_LEN, "no key id for the key");
        goto failed;
    }

    s->pkey = pkey;

    return 0;

failed:

    EVP_PKEY_free(pkey);

    return -1;
}


void
ngx_oci_jwt_signer_free(ngx_oci_jwt_signer_t *s)
{
    EVP_PKEY_free(s->pkey);
    s->pkey = NULL;
}


/*
 * header.payload.signature, NUL-terminated, in *out (free() it); the
 * header names the algorithm and the key's libtrust id.
 */

int
ngx_oci_jwt_sign(const ngx_oci_jwt_signer_t *s, json_t *payload,
    char **out, size_t *out_len)
{
    int            rc;
    char          *hjson, *pjson;
    json_t        *h;
    u_char        *buf, *p, sig[512], raw[132];
    size_t         hlen, plen, sig_len, input_len;
    const char    *alg;
    EVP_MD_CTX    *md;
    const EVP_MD  *type;

    switch (s->alg) {
    case NGX_OCI_JWT_RS256:
        alg = "RS256";
        type = EVP_sha256();
        break;
    case NGX_OCI_JWT_ES256:
        alg = "ES256";
        type = EVP_sha256();
        break;
    case NGX_OCI_JWT_ES384:
        alg = "ES384";
        type = EVP_sha384();
        break;
    case NGX_OCI_JWT_EDDSA:
        alg = "EdDSA";
        type = NULL;
        break;
    default:
        return -1;
    }

    rc = -1;
    buf = NULL;
    md = NULL;

    hjson = NULL;
    pjson = json_dumps(payload, JSON_COMPACT);

    h = json_pack("{s:s, s:s, s:s}", "typ", "JWT", "alg", alg, "kid", s->kid);

    if (h) {
        hjson = json_dumps(h, JSON_COMPACT);
        json_decref(h);
    }

    if (hjson == NULL || pjson == NULL) {
        goto done;
    }

    hlen = strlen(hjson);
    plen = strlen(pjson);

    /* the signature is at most 512 bytes: RSA of 4096 bits */

    buf = malloc((hlen + plen + sizeof(sig)) / 3 * 4 + 16);
    if (buf == NULL) {
        goto done;
    }

    p = buf;
    p += ngx_oci_jwt_base64url_encode(p, (u_char *) hjson, hlen);
    *p++ = '.';
    p += ngx_oci_jwt_base64url_encode(p, (u_char *) pjson, plen);

    input_len = p - buf;

    md = EVP_MD_CTX_new();
    if (md == NULL
        || EVP_DigestSignInit(md, NULL, type, NULL, s->pkey) != 1
        || EVP_DigestSign(md, NULL, &sig_len, buf, input_len) != 1
        || sig_len > sizeof(sig)
        || EVP_DigestSign(md, sig, &sig_len, buf, input_len) != 1)
    {
        ERR_clear_error();
        goto done;
    }

    /* ECDSA: DER from OpenSSL, R || S in a JWS (RFC 7518, 3.4) */

    if (s->alg == NGX_OCI_JWT_ES256 || s->alg == NGX_OCI_JWT_ES384) {
        plen = (s->alg == NGX_OCI_JWT_ES256) ? 32 : 48;

        if (ngx_oci_jwt_sign_ecdsa(sig, sig_len, plen, raw) != 0) {
            goto done;
        }

        memcpy(sig, raw, 2 * plen);
        sig_len = 2 * plen;
    }

    *p++ = '.';
    p += ngx_oci_jwt_base64url_encode(p, sig, sig_len);
    *p = '\0';

    *out = (char *) buf;
    *out_len = p - buf;
    buf = NULL;
    rc = 0;

done:

    EVP_MD_CTX_free(md);
    free(buf);
    free(hjson);
    free(pjson);

    return rc;
}


static int
ngx_oci_jwt_sign_ecdsa(const u_char *der, size_t der_len, size_t half,
    u_char *out)
{
    int             rc;
    const BIGNUM   *r, *s;
    ECDSA_SIG      *es;

    es = d2i_ECDSA_SIG(NULL, &der, (long) der_len);
    if (es == NULL) {
        ERR_clear_error();
        return -1;
    }

    ECDSA_SIG_get0(es, &r, &s);

    rc = (BN_bn2binpad(r, out, (int) half) == (int) half
          && BN_bn2binpad(s, out + half, (int) half) == (int) half)
         ? 0 : -1;

    ECDSA_SIG_free(es);

    return rc;
}
