
/*
 * Request bodies of registry requests.
 *
 * A request body filter hands every piece of body to the request's sink
 * (an upload session's file and hash, or a manifest buffer) as it arrives,
 * after nginx has undone chunked transfer-encoding, and keeps nothing: no
 * temporary file, no second copy, no re-read. Only the final empty buffer
 * reaches nginx's own save filter, so it knows the body is complete.
 */


#include "ngx_oci_http.h"


static ngx_int_t ngx_oci_request_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


static ngx_http_request_body_filter_pt   ngx_http_next_request_body_filter;


ngx_int_t
ngx_oci_body_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_request_body_filter = ngx_http_top_request_body_filter;
    ngx_http_top_request_body_filter = ngx_oci_request_body_filter;

    return NGX_OK;
}


ngx_int_t
ngx_oci_read_body(ngx_http_request_t *r, ngx_oci_sink_pt sink, void *data,
    ngx_http_client_body_handler_pt done)
{
    ngx_int_t       rc;
    ngx_oci_ctx_t  *ctx;

    ctx = ngx_oci_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->sink = sink;
    ctx->sink_data = data;

    rc = ngx_http_read_client_request_body(r, done);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static ngx_int_t
ngx_oci_request_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_int_t       rc;
    ngx_buf_t      *b;
    ngx_chain_t    *cl, last;
    ngx_oci_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_oci_module);

    if (ctx == NULL || ctx->sink == NULL) {
        return ngx_http_next_request_body_filter(r, in);
    }

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (b->pos < b->last) {
            ctx->received += b->last - b->pos;

            rc = ctx->sink(r, ctx->sink_data, b->pos, b->last - b->pos);

            if (rc != NGX_OK) {
                /*
                 * the sink has recorded the error to answer with; the rest
                 * of the body is not read, so the connection cannot be
                 * kept alive
                 */
                ctx->sink = NULL;
                r->keepalive = 0;
                r->lingering_close = 1;
                return rc;
            }

            b->pos = b->last;
        }

        if (b->last_buf) {
            last = *cl;
            last.next = NULL;

            return ngx_http_next_request_body_filter(r, &last);
        }
    }

    return NGX_OK;
}
