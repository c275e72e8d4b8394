
/*
 * Running a handler again from a timer, a few milliseconds later: what a
 * request does when another worker holds a lock for its few system calls,
 * instead of waiting for it.
 */


#include "ngx_oci_http.h"


#define NGX_OCI_RETRY_DELAY    2
#define NGX_OCI_RETRY_MAX      500


static ngx_int_t ngx_oci_retry_schedule(ngx_http_request_t *r,
    ngx_oci_retry_pt handler, ngx_msec_t delay, ngx_uint_t max);
static void ngx_oci_retry_cleanup(void *data);
static void ngx_oci_retry_handler(ngx_event_t *ev);


/*
 * NGX_DONE: the handler runs again later and its result finalizes the
 * request; NGX_DECLINED: it has been retried too often already (about a
 * second), the caller answers; NGX_ERROR.
 */

ngx_int_t
ngx_oci_retry_later(ngx_http_request_t *r, ngx_oci_retry_pt handler)
{
    return ngx_oci_retry_schedule(r, handler, NGX_OCI_RETRY_DELAY,
                                  NGX_OCI_RETRY_MAX);
}


/* the same after "delay", as often as the caller likes: NGX_DONE, NGX_ERROR */

ngx_int_t
ngx_oci_retry_in(ngx_http_request_t *r, ngx_oci_retry_pt handler,
    ngx_msec_t delay)
{
    return ngx_oci_retry_schedule(r, handler, delay, NGX_MAX_UINT32_VALUE);
}


static ngx_int_t
ngx_oci_retry_schedule(ngx_http_request_t *r, ngx_oci_retry_pt handler,
    ngx_msec_t delay, ngx_uint_t max)
{
    ngx_oci_ctx_t       *ctx;
    ngx_pool_cleanup_t  *cln;

    ctx = ngx_oci_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    if (ctx->retries == 0) {

        /* a request that goes away must not leave its timer behind */

        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }

        cln->handler = ngx_oci_retry_cleanup;
        cln->data = &ctx->retry;
    }

    if (++ctx->retries > max) {
        return NGX_DECLINED;
    }

    ctx->retry_handler = handler;
    ctx->retry.handler = ngx_oci_retry_handler;
    ctx->retry.data = r;
    ctx->retry.log = r->connection->log;

    ngx_add_timer(&ctx->retry, delay);

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_oci_retry_cleanup(void *data)
{
    ngx_event_t  *ev = data;

    if (ev->timer_set) {
        ngx_del_timer(ev);
    }
}


static void
ngx_oci_retry_handler(ngx_event_t *ev)
{
    ngx_connection_t    *c;
    ngx_oci_ctx_t       *ctx;
    ngx_http_request_t  *r;

    r = ev->data;
    c = r->connection;
    ctx = ngx_http_get_module_ctx(r, ngx_oci_module);

    ngx_http_finalize_request(r, ctx->retry_handler(r));
    ngx_http_run_posted_requests(c);
}
