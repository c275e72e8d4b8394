
/*
 * oci-admin: a webhook delivery (oci_admin_webhook.h). libcurl rather than
 * a socket of our own: operators expect https:// receivers, and TLS with
 * certificate checks is libcurl's everyday work. No redirect is followed
 * (a receiver that moved answers 3xx, a failure the relay retries), and
 * the answer's body is read and dropped.
 */


#include <stdio.h>
#include <string.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "oci_admin_webhook.h"


static size_t oci_admin_webhook_drop(char *p, size_t size, size_t n,
    void *data);


int
oci_admin_webhook_init(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "oci-admin: libcurl could not be initialized\n");
        return -1;
    }

    return 0;
}


void
oci_admin_webhook_cleanup(void)
{
    curl_global_cleanup();
}


long
oci_admin_webhook_post(const oci_admin_webhook_t *w, const char *body,
    size_t len, char *err, size_t err_len)
{
    char                ctype[256], sig[72],
                        sig_header[sizeof(OCI_ADMIN_WEBHOOK_SIGNATURE) + 80];
    long                status;
    CURL               *curl;
    CURLcode            rc;
    struct curl_slist  *headers, *h;

    err[0] = '\0';
    status = -1;
    headers = NULL;

    curl = curl_easy_init();
    if (curl == NULL) {
        snprintf(err, err_len, "libcurl: out of memory");
        return -1;
    }

    snprintf(ctype, sizeof(ctype), "Content-Type: %s", w->content_type);
    h = curl_slist_append(headers, ctype);
    headers = h ? h : headers;

    /* no "Expect: 100-continue": one round trip */

    h = h ? curl_slist_append(headers, "Expect:") : NULL;

    if (h && w->secret) {
        if (oci_admin_webhook_sign(w->secret, w->secret_len, body, len, sig)
            != 0)
        {
            h = NULL;

        } else {
            snprintf(sig_header, sizeof(sig_header), "%s: %s",
                     OCI_ADMIN_WEBHOOK_SIGNATURE, sig);
            h = curl_slist_append(headers, sig_header);
        }
    }

    if (h == NULL) {
        snprintf(err, err_len, "out of memory");
        goto done;
    }

    curl_easy_setopt(curl, CURLOPT_URL, w->url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) len);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, w->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, w->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "oci-admin-events-relay");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, oci_admin_webhook_drop);

    rc = curl_easy_perform(curl);

    if (rc != CURLE_OK) {
        snprintf(err, err_len, "%s", curl_easy_strerror(rc));
        goto done;
    }

    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);

    if (status < 200 || status > 299) {
        snprintf(err, err_len, "HTTP status %ld", status);
    }

done:

    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);

    return status;
}


static size_t
oci_admin_webhook_drop(char *p, size_t size, size_t n, void *data)
{
    (void) p;
    (void) data;

    return size * n;
}


int
oci_admin_webhook_sign(const char *secret, size_t secret_len,
    const char *body, size_t len, char out[72])
{
    unsigned int         i, md_len;
    unsigned char        md[EVP_MAX_MD_SIZE];
    static const char    hex[] = "0123456789abcdef";

    if (HMAC(EVP_sha256(), secret, (int) secret_len,
             (const unsigned char *) body, len, md, &md_len)
        == NULL || md_len != 32)
    {
        return -1;
    }

    memcpy(out, "sha256=", 7);

    for (i = 0; i < md_len; i++) {
        out[7 + 2 * i] = hex[md[i] >> 4];
        out[8 + 2 * i] = hex[md[i] & 0x0f];
    }

    out[7 + 2 * md_len] = '\0';

    return 0;
}
