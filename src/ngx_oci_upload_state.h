
/*
 * The state file of an upload session, "_uploads/<id>.state": what a
 * worker needs to carry on a session another worker (or nginx before a
 * reload) started. Pure (libc only), so the module, oci-admin, the unit
 * tests and the fuzzer read and write it the same way.
 *
 *   offset  size
 *        0     8  "OCIUPLD1"
 *        8     8  bytes committed, big-endian
 *       16     2  length of the repository name, big-endian
 *       18     n  the repository name
 *     18+n   212  the hash state of ngx_oci_sha2_save()
 *
 * The file is exactly that long; the hash state counts exactly the bytes
 * committed.
 */


#ifndef _NGX_OCI_UPLOAD_STATE_H_INCLUDED_
#define _NGX_OCI_UPLOAD_STATE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ngx_oci_sha2.h"
#include "ngx_oci_grammar.h"


#define NGX_OCI_UPLOAD_STATE_MAGIC  "OCIUPLD1"
#define NGX_OCI_UPLOAD_STATE_MIN    (8 + 8 + 2 + NGX_OCI_SHA2_STATE_SIZE)
#define NGX_OCI_UPLOAD_STATE_MAX    (NGX_OCI_UPLOAD_STATE_MIN                \
                                     + NGX_OCI_NAME_MAX_LEN)


typedef struct {
    uint64_t         offset;      /* bytes committed */
    const u_char    *name;        /* the repository, inside the input */
    size_t           name_len;
    ngx_oci_sha2_t   sha;         /* hash of the bytes committed */
} ngx_oci_upload_state_t;


/*
 * Writes the state into buf (at least NGX_OCI_UPLOAD_STATE_MAX bytes);
 * returns its length, or 0 when the name is not a valid repository name
 * or the hash state does not count "offset" bytes.
 */
size_t ngx_oci_upload_state_encode(u_char *buf, uint64_t offset,
    const u_char *name, size_t name_len, const ngx_oci_sha2_t *sha);

/* 0 and *st filled, or -1 when the bytes are not a valid state */
int ngx_oci_upload_state_decode(const u_char *p, size_t len,
    ngx_oci_upload_state_t *st);


#endif /* _NGX_OCI_UPLOAD_STATE_H_INCLUDED_ */
