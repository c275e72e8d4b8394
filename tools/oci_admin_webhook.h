
/*
 * oci-admin: one webhook delivery, an HTTP POST with libcurl (http:// and
 * https://, the system's CA certificates), signed with HMAC-SHA256.
 */


#ifndef _OCI_ADMIN_WEBHOOK_H_INCLUDED_
#define _OCI_ADMIN_WEBHOOK_H_INCLUDED_


#include <stddef.h>


/* the signature header: "X-OCI-Signature-256: sha256=<hex>" */
#define OCI_ADMIN_WEBHOOK_SIGNATURE  "X-OCI-Signature-256"


typedef struct {
    const char     *url;
    const char     *content_type;
    const char     *secret;         /* NULL: no signature */
    size_t          secret_len;
    long            timeout_ms;     /* the whole POST */
} oci_admin_webhook_t;


/* once per process, before any thread: 0, or -1 after a message */
int oci_admin_webhook_init(void);
void oci_admin_webhook_cleanup(void);

/*
 * POSTs body: the HTTP status, or -1 when there was none (err says why:
 * DNS, connect, TLS, timeout).
 */
long oci_admin_webhook_post(const oci_admin_webhook_t *w, const char *body,
    size_t len, char *err, size_t err_len);

/* "sha256=<hex>" of body under secret, 71 characters and a NUL */
int oci_admin_webhook_sign(const char *secret, size_t secret_len,
    const char *body, size_t len, char out[72]);


#endif /* _OCI_ADMIN_WEBHOOK_H_INCLUDED_ */
