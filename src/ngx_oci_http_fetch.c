
/*
 * Fetching a URI of an internal location (a proxy_pass to an upstream
 * registry) through a subrequest, on behalf of the main request.
 *
 * The subrequest's header and body pass the filters of this file, which
 * run before every other filter: the header hands the endpoint the
 * upstream's status and headers (ngx_oci_fetch_t.header); the body is
 * either streamed to the client, each buffer shown to the endpoint first
 * (.data), or gathered into memory up to .max bytes, or dropped. When
 * the subrequest is over, the main request resumes with .done, whose
 * result finalizes it.
 *
 * The endpoint chooses what to send the client: it sends the main
 * request's header itself from .header when it streams, and the last
 * buffer (ngx_http_send_special) from .done.
 */


#include "ngx_oci_http.h"


/* a body that is not gathered is read and dropped up to this size */
#define NGX_OCI_FETCH_DROP_MAX  (64 * 1024)


static ngx_int_t ngx_oci_fetch_done(ngx_http_request_t *sr, void *data,
    ngx_int_t rc);
static void ngx_oci_fetch_resume(ngx_http_request_t *r);
static ngx_int_t ngx_oci_fetch_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_oci_fetch_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_oci_fetch_gather(ngx_oci_fetch_t *f, ngx_buf_t *b);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


/*
 * Starts the subrequest; NGX_DONE (the caller returns it: the request is
 * finalized by .done's result later) or NGX_ERROR.
 */

ngx_int_t
ngx_oci_fetch(ngx_http_request_t *r, ngx_oci_fetch_t *f)
{
    ngx_oci_ctx_t                *ctx, *sctx;
    ngx_http_request_t           *sr;
    ngx_http_post_subrequest_t   *ps;

    static ngx_str_t  head = ngx_string("HEAD ");

    ctx = ngx_oci_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        return NGX_ERROR;
    }

    ps->handler = ngx_oci_fetch_done;
    ps->data = f;

    f->status = 0;
    f->body = NULL;
    f->streaming = 0;
    f->gather = 0;
    f->truncated = 0;
    f->failed = 0;
    f->finished = 0;
    f->in_file = 0;

    if (ngx_http_subrequest(r, &f->uri, f->args.len ? &f->args : NULL, &sr,
                            ps, 0)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    f->sr = sr;
    f->main = r;

    sctx = ngx_pcalloc(r->pool, sizeof(ngx_oci_ctx_t));
    if (sctx == NULL) {
        return NGX_ERROR;
    }

    sctx->fetch = f;
    ngx_http_set_ctx(sr, sctx, ngx_oci_module);

    if (f->head) {
        sr->method = NGX_HTTP_HEAD;
        sr->method_name.len = head.len - 1;
        sr->method_name.data = head.data;
        sr->header_only = 1;
    }

    /* held until .done has run, as a request waiting for storage is */

    r->main->count++;
    ctx->fetching = f;
    r->write_event_handler = ngx_oci_fetch_resume;

    return NGX_DONE;
}


/* may run more than once (an error answered with a special response) */

static ngx_int_t
ngx_oci_fetch_done(ngx_http_request_t *sr, void *data, ngx_int_t rc)
{
    ngx_oci_fetch_t  *f = data;

    if (rc == NGX_ERROR) {
        f->failed = 1;
    }

    f->finished = 1;

    return rc;
}


/*
 * The main request, woken when the subrequest is over (and, while it
 * runs, by events that are not for it).
 */

static void
ngx_oci_fetch_resume(ngx_http_request_t *r)
{
    ngx_oci_ctx_t    *ctx;
    ngx_oci_fetch_t  *f;

    ctx = ngx_http_get_module_ctx(r, ngx_oci_module);
    if (ctx == NULL || ctx->fetching == NULL) {
        return;
    }

    f = ctx->fetching;

    if (!f->finished || !f->sr->done) {
        return;
    }

    ctx->fetching = NULL;
    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_http_finalize_request(r, f->done(r, f));
}


ngx_int_t
ngx_oci_fetch_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_oci_fetch_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_oci_fetch_body_filter;

    return NGX_OK;
}


static ngx_int_t
ngx_oci_fetch_header_filter(ngx_http_request_t *r)
{
    ngx_int_t         rc;
    ngx_oci_ctx_t    *ctx;
    ngx_oci_fetch_t  *f;

    if (r == r->main) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_oci_module);
    if (ctx == NULL || ctx->fetch == NULL) {
        return ngx_http_next_header_filter(r);
    }

    f = ctx->fetch;
    f->status = r->headers_out.status;

    rc = f->header(f->main, f);

    if (rc == NGX_ERROR) {
        f->failed = 1;
        return NGX_ERROR;
    }

    if (rc == NGX_OK) {
        f->streaming = 1;

    } else if (rc == NGX_AGAIN) {
        f->gather = 1;
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_oci_fetch_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    size_t            len;
    ngx_int_t         rc;
    ngx_buf_t        *b;
    ngx_chain_t      *cl;
    ngx_oci_ctx_t    *ctx;
    ngx_oci_fetch_t  *f;

    if (r == r->main || in == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_oci_module);
    if (ctx == NULL || ctx->fetch == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    f = ctx->fetch;

    if (f->streaming) {

        /* the endpoint sees each buffer before the client does */

        for (cl = in; cl; cl = cl->next) {
            b = cl->buf;

            if (b->in_file && !ngx_buf_in_memory(b)) {
                f->in_file = 1;
            }

            len = ngx_buf_in_memory(b) ? (size_t) (b->last - b->pos) : 0;

            rc = f->data(f->main, f, len ? b->pos : NULL, len,
                         b->last_buf || b->last_in_chain);

            if (rc != NGX_OK) {
                f->failed = 1;
                return NGX_ERROR;
            }
        }

        return ngx_http_next_body_filter(r, in);
    }

    /* gathered or dropped: nothing of it reaches the client */

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (f->gather && ngx_oci_fetch_gather(f, b) != NGX_OK) {
            return NGX_ERROR;
        }

        b->pos = b->last;

        if (b->in_file) {
            b->file_pos = b->file_last;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_oci_fetch_gather(ngx_oci_fetch_t *f, ngx_buf_t *b)
{
    size_t  len, room;

    if (!ngx_buf_in_memory(b)) {
        if (b->in_file && b->file_last > b->file_pos) {
            f->truncated = 1;
        }

        return NGX_OK;
    }

    len = b->last - b->pos;
    if (len == 0) {
        return NGX_OK;
    }

    if (f->body == NULL) {
        f->body = ngx_create_temp_buf(f->main->pool,
                                      f->max ? f->max
                                             : NGX_OCI_FETCH_DROP_MAX);
        if (f->body == NULL) {
            return NGX_ERROR;
        }
    }

    room = f->body->end - f->body->last;

    if (len > room) {
        f->truncated = 1;
        len = room;
    }

    f->body->last = ngx_cpymem(f->body->last, b->pos, len);

    return NGX_OK;
}


/* a header of the upstream's answer, by name */

ngx_table_elt_t *
ngx_oci_fetch_header_out(ngx_oci_fetch_t *f, const char *name)
{
    return ngx_oci_header_find(&f->sr->headers_out.headers, name, NULL);
}
