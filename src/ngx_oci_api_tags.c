
/*
 * The tag list: GET /v2/<name>/tags/list, in lexical order, paginated
 * with ?n= and ?last= and a Link header to the next page.
 */


#include "ngx_oci_api.h"


static ngx_buf_t *ngx_oci_api_tags_body(ngx_http_request_t *r,
    ngx_str_t *name, ngx_str_t *tag, ngx_uint_t count);
static ngx_int_t ngx_oci_api_tags_link(ngx_http_request_t *r,
    ngx_str_t *name, ngx_uint_t n, ngx_str_t *last);
static int ngx_libc_cdecl ngx_oci_api_tags_cmp(const void *one,
    const void *two);


ngx_int_t
ngx_oci_api_tags(ngx_http_request_t *r)
{
    ngx_int_t            rc;
    ngx_str_t            last, *tag;
    ngx_buf_t           *b;
    ngx_uint_t           n, first, count;
    ngx_array_t          tags;
    ngx_oci_ctx_t       *ctx;
    ngx_oci_loc_conf_t  *olcf;

    static ngx_str_t  json = ngx_string("application/json");

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_oci_error(r, NGX_HTTP_NOT_ALLOWED, NGX_OCI_ERR_UNSUPPORTED,
                             "the tag list answers GET and HEAD");
    }

    ctx = ngx_oci_get_ctx(r);
    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    n = olcf->tags_page_size;

    if (ngx_oci_arg_count(r, olcf->tags_page_size, &n) == NGX_ERROR) {
        return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST, NGX_OCI_ERR_UNSUPPORTED,
                             "?n= must be a non-negative integer");
    }

    ngx_str_null(&last);
    (void) ngx_oci_arg(r, "last", &last);

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_array_init(&tags, r->pool, 16, sizeof(ngx_str_t)) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_oci_store_tag_list(&ctx->store, &ctx->name, &tags);

    if (rc != NGX_OK) {
        return ngx_oci_error_not_ok(r, rc, NGX_OCI_ERR_NAME_UNKNOWN);
    }

    tag = tags.elts;
    ngx_qsort(tag, tags.nelts, sizeof(ngx_str_t), ngx_oci_api_tags_cmp);

    /* "last" is exclusive: start after it */

    for (first = 0; last.len && first < tags.nelts; first++) {
        if (ngx_oci_api_tags_cmp(&tag[first], &last) > 0) {
            break;
        }
    }

    count = ngx_min(tags.nelts - first, n);

    b = ngx_oci_api_tags_body(r, &ctx->name, &tag[first], count);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (count > 0 && first + count < tags.nelts
        && ngx_oci_api_tags_link(r, &ctx->name, n, &tag[first + count - 1])
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_oci_send_body(r, NGX_HTTP_OK, &json, b);
}


static ngx_buf_t *
ngx_oci_api_tags_body(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *tag, ngx_uint_t count)
{
    size_t      len;
    ngx_buf_t  *b;
    ngx_uint_t  i;

    len = sizeof("{\"name\":\"\",\"tags\":[]}\n") - 1 + name->len;

    for (i = 0; i < count; i++) {
        len += tag[i].len + 3;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NULL;
    }

    b->last = ngx_sprintf(b->last, "{\"name\":\"%V\",\"tags\":[", name);

    for (i = 0; i < count; i++) {
        b->last = ngx_sprintf(b->last, "%s\"%V\"", i == 0 ? "" : ",",
                              &tag[i]);
    }

    b->last = ngx_cpymem(b->last, "]}\n", 3);

    return b;
}


/* the next page's Link: no tag can add a link or a parameter */

static ngx_int_t
ngx_oci_api_tags_link(ngx_http_request_t *r, ngx_str_t *name, ngx_uint_t n,
    ngx_str_t *last)
{
    ngx_oci_link_param_t   params[2];
    ngx_oci_link_str_t     path[3] = {
        NGX_OCI_LINK_LITERAL("/v2/"),
        { name->data, name->len },
        NGX_OCI_LINK_LITERAL("/tags/list")
    };

    return ngx_oci_add_next_link(r, path, 3, n, last, params, 2);
}


static int ngx_libc_cdecl
ngx_oci_api_tags_cmp(const void *one, const void *two)
{
    ngx_int_t         rc;
    const ngx_str_t  *a = one, *b = two;

    rc = ngx_memcmp(a->data, b->data, ngx_min(a->len, b->len));

    if (rc != 0) {
        return rc;
    }

    return (int) a->len - (int) b->len;
}
