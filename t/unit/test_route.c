
/*
 * ngx_oci_route_parse(): which endpoint, repository and reference a path
 * names, including names that contain the endpoint words themselves.
 */


#include <string.h>

#include "tap.h"
#include "ngx_oci_route.h"


typedef struct {
    const char  *uri;
    int          rc;
    int          endpoint;
    const char  *name;
    const char  *ref;
} route_case_t;


static const route_case_t  cases[] = {
    { "/v2/", 0, NGX_OCI_EP_BASE, "", "" },
    { "/v2", 0, NGX_OCI_EP_BASE, "", "" },
    { "/v2x", NGX_OCI_ROUTE_UNKNOWN, 0, NULL, NULL },
    { "/v1/", NGX_OCI_ROUTE_UNKNOWN, 0, NULL, NULL },
    { "/v2/a/tags/list", 0, NGX_OCI_EP_TAGS, "a", "" },
    { "/v2/a/b/c/tags/list", 0, NGX_OCI_EP_TAGS, "a/b/c", "" },
    { "/v2/a/tags/lists", NGX_OCI_ROUTE_UNKNOWN, 0, NULL, NULL },
    { "/v2/a/manifests/latest", 0, NGX_OCI_EP_MANIFEST, "a", "latest" },
    { "/v2/a/manifests/", NGX_OCI_ROUTE_UNKNOWN, 0, NULL, NULL },
    { "/v2/a/blobs/sha256:x", 0, NGX_OCI_EP_BLOB, "a", "sha256:x" },
    { "/v2/a/blobs/uploads/", 0, NGX_OCI_EP_UPLOADS, "a", "" },
    { "/v2/a/blobs/uploads/abc", 0, NGX_OCI_EP_UPLOAD, "a", "abc" },
    { "/v2/a/referrers/sha256:x", 0, NGX_OCI_EP_REFERRERS, "a",
      "sha256:x" },
    { "/v2/_catalog", 0, NGX_OCI_EP_CATALOG, "", "" },
    { "/v2/_catalog/", NGX_OCI_ROUTE_UNKNOWN, 0, NULL, NULL },
    { "/v2/_catalogs", NGX_OCI_ROUTE_UNKNOWN, 0, NULL, NULL },
    { "/v2/_catalog/tags/list", NGX_OCI_ROUTE_NAME_INVALID, 0, NULL,
      NULL },

    /* names made of endpoint words */
    { "/v2/blobs/manifests/x", 0, NGX_OCI_EP_MANIFEST, "blobs", "x" },
    { "/v2/a/manifests/b/manifests/x", 0, NGX_OCI_EP_MANIFEST,
      "a/manifests/b", "x" },
    { "/v2/a/blobs/uploads/blobs/uploads/", 0, NGX_OCI_EP_UPLOADS,
      "a/blobs/uploads", "" },
    { "/v2/tags/tags/list", 0, NGX_OCI_EP_TAGS, "tags", "" },

    /* endpoints without a name */
    { "/v2/manifests/x", NGX_OCI_ROUTE_UNKNOWN, 0, NULL, NULL },
    { "/v2/blobs/uploads/", NGX_OCI_ROUTE_UNKNOWN, 0, NULL, NULL },
    { "/v2//blobs/uploads/", NGX_OCI_ROUTE_NAME_INVALID, 0, NULL, NULL },

    /* names that break the grammar */
    { "/v2/A/tags/list", NGX_OCI_ROUTE_NAME_INVALID, 0, NULL, NULL },
    { "/v2/../tags/list", NGX_OCI_ROUTE_NAME_INVALID, 0, NULL, NULL },
    { "/v2/a//b/tags/list", NGX_OCI_ROUTE_NAME_INVALID, 0, NULL, NULL },
    { "/v2/a/./b/tags/list", NGX_OCI_ROUTE_NAME_INVALID, 0, NULL, NULL },
    { "/v2/a/_blobs/tags/list", NGX_OCI_ROUTE_NAME_INVALID, 0, NULL, NULL },
    { "/v2/a/foo/x", NGX_OCI_ROUTE_UNKNOWN, 0, NULL, NULL },
    { NULL, 0, 0, NULL, NULL }
};


static int
same(const u_char *p, size_t len, const char *s)
{
    /* p is NULL for an empty part: memcmp() must not see it */
    return s == NULL
           || (len == strlen(s) && (len == 0 || memcmp(p, s, len) == 0));
}


int
main(void)
{
    char                 long_name[300];
    ngx_oci_route_t      rt;
    const route_case_t  *c;
    int                  rc;

    for (c = cases; c->uri; c++) {
        rc = ngx_oci_route_parse((const u_char *) c->uri, strlen(c->uri), &rt);

        if (!tap_ok(rc == c->rc
                    && (rc != 0
                        || ((int) rt.endpoint == c->endpoint
                            && same(rt.name, rt.name_len, c->name)
                            && same(rt.ref, rt.ref_len, c->ref))),
                    "%s", c->uri))
        {
            tap_diag("rc %d endpoint %d name \"%.*s\" ref \"%.*s\"", rc,
                     (int) rt.endpoint, (int) rt.name_len,
                     rt.name ? (const char *) rt.name : "",
                     (int) rt.ref_len,
                     rt.ref ? (const char *) rt.ref : "");
        }
    }

    /* the 255-byte limit of names */

    memcpy(long_name, "/v2/", 4);
    memset(long_name + 4, 'a', 255);
    memcpy(long_name + 4 + 255, "/tags/list", 11);

    tap_ok(ngx_oci_route_parse((u_char *) long_name, strlen(long_name), &rt)
           == 0, "a 255-byte name");

    memset(long_name + 4, 'a', 256);
    memcpy(long_name + 4 + 256, "/tags/list", 11);

    tap_ok(ngx_oci_route_parse((u_char *) long_name, strlen(long_name), &rt)
           == NGX_OCI_ROUTE_NAME_INVALID, "a 256-byte name");

    return tap_done();
}
