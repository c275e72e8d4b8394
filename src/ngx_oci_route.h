
/*
 * Maps a /v2/ request path to an endpoint, a repository name and a
 * reference. Pure: bytes in, a code out, so tests and fuzzers can drive it.
 */


#ifndef _NGX_OCI_ROUTE_H_INCLUDED_
#define _NGX_OCI_ROUTE_H_INCLUDED_


#include <sys/types.h>
#include <stddef.h>


typedef enum {
    NGX_OCI_EP_NONE = 0,
    NGX_OCI_EP_BASE,            /* /v2/ */
    NGX_OCI_EP_TAGS,            /* /v2/<name>/tags/list */
    NGX_OCI_EP_MANIFEST,        /* /v2/<name>/manifests/<reference> */
    NGX_OCI_EP_BLOB,            /* /v2/<name>/blobs/<digest> */
    NGX_OCI_EP_UPLOADS,         /* /v2/<name>/blobs/uploads/ */
    NGX_OCI_EP_UPLOAD,          /* /v2/<name>/blobs/uploads/<id> */
    NGX_OCI_EP_REFERRERS,       /* /v2/<name>/referrers/<digest> */
    NGX_OCI_EP_CATALOG          /* /v2/_catalog */
} ngx_oci_endpoint_e;


/* results of ngx_oci_route_parse() */
#define NGX_OCI_ROUTE_OK             0
#define NGX_OCI_ROUTE_UNKNOWN       -1   /* not a registry endpoint: 404 */
#define NGX_OCI_ROUTE_NAME_INVALID  -2   /* endpoint found, bad name: 400 */


typedef struct {
    ngx_oci_endpoint_e   endpoint;
    const u_char        *name;
    size_t               name_len;
    const u_char        *ref;           /* tag, digest or session id */
    size_t               ref_len;
} ngx_oci_route_t;


int ngx_oci_route_parse(const u_char *uri, size_t len, ngx_oci_route_t *rt);


#endif /* _NGX_OCI_ROUTE_H_INCLUDED_ */
