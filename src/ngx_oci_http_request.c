
/*
 * The request context and what a handler reads from a request: its
 * route, query arguments and headers.
 */


#include "ngx_oci_http.h"
#include "ngx_oci_grammar.h"
#include "ngx_oci_query.h"


ngx_oci_ctx_t *
ngx_oci_get_ctx(ngx_http_request_t *r)
{
    ngx_oci_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_oci_module);
    if (ctx) {
        return ctx;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_oci_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    ngx_http_set_ctx(r, ctx, ngx_oci_module);

    return ctx;
}


/*
 * The context with the request's URI routed, once: variables in earlier
 * phases and the content handler see the same route.
 */

ngx_oci_ctx_t *
ngx_oci_route_request(ngx_http_request_t *r)
{
    ngx_oci_ctx_t  *ctx;

    ctx = ngx_oci_get_ctx(r);
    if (ctx == NULL || ctx->routed) {
        return ctx;
    }

    ctx->route_rc = ngx_oci_route_parse(r->uri.data, r->uri.len,
                                        &ctx->route);
    ctx->routed = 1;

    if (ctx->route_rc == NGX_OCI_ROUTE_OK) {
        ctx->name.data = (u_char *) ctx->route.name;
        ctx->name.len = ctx->route.name_len;
        ctx->ref.data = (u_char *) ctx->route.ref;
        ctx->ref.len = ctx->route.ref_len;
    }

    return ctx;
}


/* the first "name=" argument, percent-decoded; NGX_DECLINED if absent */

ngx_int_t
ngx_oci_arg(ngx_http_request_t *r, const char *name, ngx_str_t *value)
{
    u_char     *dst, *src;
    ngx_str_t   raw;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &raw) != NGX_OK) {
        return NGX_DECLINED;
    }

    dst = ngx_pnalloc(r->pool, raw.len);
    if (dst == NULL) {
        return NGX_ERROR;
    }

    value->data = dst;
    src = raw.data;

    ngx_unescape_uri(&dst, &src, raw.len, NGX_UNESCAPE_URI);

    value->len = dst - value->data;

    return NGX_OK;
}


/*
 * The next raw (still percent-encoded) value of a repeatable argument:
 * "args" is consumed as it is scanned. NGX_DECLINED when none is left.
 */

ngx_int_t
ngx_oci_arg_next(ngx_str_t *args, const char *name, ngx_str_t *value)
{
    const u_char  *p, *v;

    p = args->data;

    if (!ngx_oci_query_next(&p, &args->len, name, ngx_strlen(name), &v,
                            &value->len))
    {
        return NGX_DECLINED;
    }

    args->data = (u_char *) p;
    value->data = (u_char *) v;

    return NGX_OK;
}


/* ?n=: NGX_OK with the count lowered to "max", NGX_DECLINED, NGX_ERROR */

ngx_int_t
ngx_oci_arg_count(ngx_http_request_t *r, ngx_uint_t max, ngx_uint_t *n)
{
    uint64_t   v;
    ngx_str_t  arg;

    if (ngx_oci_arg(r, "n", &arg) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (ngx_oci_uint_parse(arg.data, arg.len, (uint64_t) -1 >> 1, &v) != 0) {
        return NGX_ERROR;
    }

    *n = (ngx_uint_t) ngx_min(v, (uint64_t) max);

    return NGX_OK;
}


/*
 * A request header by name, from the list itself: nginx 1.22 keeps only
 * the first of some repeated headers in headers_in.
 */

ngx_table_elt_t *
ngx_oci_header_in(ngx_http_request_t *r, const char *name)
{
    return ngx_oci_header_find(&r->headers_in.headers, name, NULL);
}


/*
 * The first header of a list (a request's, or the answer of an upstream)
 * named "name" that comes after "after" (NULL: from the start); headers
 * taken out (hash 0) are skipped.
 */

ngx_table_elt_t *
ngx_oci_header_find(ngx_list_t *list, const char *name,
    ngx_table_elt_t *after)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = ngx_strlen(name);
    part = &list->part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (after) {
            if (&h[i] == after) {
                after = NULL;
            }

            continue;
        }

        if (h[i].hash != 0 && h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            return &h[i];
        }
    }
}


ngx_int_t
ngx_oci_add_header(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value = *value;

    return NGX_OK;
}


/*
 * The Link to a listing's next page: "path" with ?n=<n>&last=<last> and
 * what the caller put in params[2...]; params[0] and [1] are filled here.
 * Every value is escaped by the builder: none can add a link, a
 * parameter or a header.
 */

ngx_int_t
ngx_oci_add_next_link(ngx_http_request_t *r, ngx_oci_link_str_t *path,
    ngx_uint_t npath, ngx_uint_t n, ngx_str_t *last,
    ngx_oci_link_param_t *params, ngx_uint_t nparams)
{
    u_char              *count;
    ngx_str_t            link;
    ngx_oci_link_str_t   rel = NGX_OCI_LINK_LITERAL("next");

    count = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (count == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(&params[0].name, "n");
    params[0].value.data = count;
    params[0].value.len = ngx_sprintf(count, "%ui", n) - count;

    ngx_str_set(&params[1].name, "last");
    params[1].value.data = last->data;
    params[1].value.len = last->len;

    link.len = ngx_oci_link_header(NULL, path, npath, params, nparams, &rel);

    link.data = ngx_pnalloc(r->pool, link.len);
    if (link.data == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_oci_link_header(link.data, path, npath, params, nparams,
                               &rel);

    return ngx_oci_add_header(r, "Link", &link);
}
