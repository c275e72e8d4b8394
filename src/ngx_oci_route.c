
/*
 * Routing of registry paths.
 *
 * A repository name may itself contain "blobs" or "manifests" components,
 * so the path is read from its end: the last component is the reference,
 * the one before it says which endpoint this is, and whatever precedes
 * them is the name, which must then satisfy the spec's grammar.
 */


/* memrchr(3) */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <string.h>

#include "ngx_oci_route.h"
#include "ngx_oci_grammar.h"


#define ngx_oci_is(p, n, s)                                                  \
    ((n) == sizeof(s) - 1 && memcmp(p, s, sizeof(s) - 1) == 0)


/* the C library's memrchr(): a digest is 71 bytes to walk back over */

static const u_char *
ngx_oci_route_prev_slash(const u_char *start, const u_char *p)
{
    return memrchr(start, '/', p - start);
}


int
ngx_oci_route_parse(const u_char *uri, size_t len, ngx_oci_route_t *rt)
{
    size_t         kind_len;
    const u_char  *p, *end, *last, *kind, *name_end;

    memset(rt, 0, sizeof(ngx_oci_route_t));

    if (len < 3 || memcmp(uri, "/v2", 3) != 0) {
        return NGX_OCI_ROUTE_UNKNOWN;
    }

    if (len == 3 || (len == 4 && uri[3] == '/')) {
        rt->endpoint = NGX_OCI_EP_BASE;
        return NGX_OCI_ROUTE_OK;
    }

    if (uri[3] != '/') {
        return NGX_OCI_ROUTE_UNKNOWN;
    }

    p = uri + 4;
    end = uri + len;

    /* no name component starts with "_": no repository is named so */

    if (ngx_oci_is(p, end - p, "_catalog")) {
        rt->endpoint = NGX_OCI_EP_CATALOG;
        return NGX_OCI_ROUTE_OK;
    }

    /* "<kind>/<reference>" at the end; the reference may be empty */

    last = ngx_oci_route_prev_slash(p, end);
    if (last == NULL) {
        return NGX_OCI_ROUTE_UNKNOWN;
    }

    rt->ref = last + 1;
    rt->ref_len = end - (last + 1);

    name_end = ngx_oci_route_prev_slash(p, last);
    if (name_end == NULL) {
        return NGX_OCI_ROUTE_UNKNOWN;
    }

    kind = name_end + 1;
    kind_len = last - kind;

    if (ngx_oci_is(kind, kind_len, "uploads")) {

        /* ".../blobs/uploads/<id>" */

        if (name_end - p < 6
            || memcmp(name_end - 6, "/blobs", 6) != 0)
        {
            return NGX_OCI_ROUTE_UNKNOWN;
        }

        name_end -= 6;
        rt->endpoint = rt->ref_len ? NGX_OCI_EP_UPLOAD : NGX_OCI_EP_UPLOADS;

    } else if (rt->ref_len == 0) {
        return NGX_OCI_ROUTE_UNKNOWN;

    } else if (ngx_oci_is(kind, kind_len, "manifests")) {
        rt->endpoint = NGX_OCI_EP_MANIFEST;

    } else if (ngx_oci_is(kind, kind_len, "blobs")) {
        rt->endpoint = NGX_OCI_EP_BLOB;

    } else if (ngx_oci_is(kind, kind_len, "referrers")) {
        rt->endpoint = NGX_OCI_EP_REFERRERS;

    } else if (ngx_oci_is(kind, kind_len, "tags")
               && ngx_oci_is(rt->ref, rt->ref_len, "list"))
    {
        rt->endpoint = NGX_OCI_EP_TAGS;
        rt->ref = NULL;
        rt->ref_len = 0;

    } else {
        return NGX_OCI_ROUTE_UNKNOWN;
    }

    rt->name = p;
    rt->name_len = name_end - p;

    if (!ngx_oci_name_valid(rt->name, rt->name_len)) {
        return NGX_OCI_ROUTE_NAME_INVALID;
    }

    return NGX_OCI_ROUTE_OK;
}
