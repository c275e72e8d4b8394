
/*
 * The base endpoint, /v2/: "this is a registry", an empty JSON object.
 */


#include "ngx_oci_api.h"


ngx_int_t
ngx_oci_api_base(ngx_http_request_t *r)
{
    ngx_int_t   rc;
    ngx_buf_t  *b;

    static u_char     body[] = "{}";
    static ngx_str_t  json = ngx_string("application/json");

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_oci_error(r, NGX_HTTP_NOT_ALLOWED, NGX_OCI_ERR_UNSUPPORTED,
                             "the base endpoint answers GET and HEAD");
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = body;
    b->last = body + sizeof(body) - 1;
    b->memory = 1;

    return ngx_oci_send_body(r, NGX_HTTP_OK, &json, b);
}
