
/*
 * Blobs: GET and HEAD are served from the repository's hard link to the
 * content, DELETE removes that link (the content itself goes when no
 * repository links it any more, by garbage collection).
 */


#include "ngx_oci_api.h"
#include "ngx_oci_grammar.h"


static ngx_int_t ngx_oci_api_blobs_delete(ngx_http_request_t *r,
    ngx_oci_ctx_t *ctx);


ngx_int_t
ngx_oci_api_blobs(ngx_http_request_t *r)
{
    ngx_fd_t             fd;
    ngx_int_t            rc;
    ngx_str_t            path;
    ngx_oci_ctx_t       *ctx;
    ngx_oci_loc_conf_t  *olcf;

    static ngx_str_t  octet = ngx_string("application/octet-stream");

    ctx = ngx_oci_get_ctx(r);

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_DELETE))) {
        return ngx_oci_error(r, NGX_HTTP_NOT_ALLOWED, NGX_OCI_ERR_UNSUPPORTED,
                             "a blob answers GET, HEAD and DELETE");
    }

    if (ngx_oci_digest_parse(ctx->ref.data, ctx->ref.len, NULL, NULL, NULL)
        != NGX_OCI_DIGEST_OK)
    {
        return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                             NGX_OCI_ERR_DIGEST_INVALID,
                             "invalid or unsupported digest");
    }

    ctx->digest = ctx->ref;

    if (r->method == NGX_HTTP_DELETE) {
        olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

        if (!olcf->delete) {
            return ngx_oci_error(r, NGX_HTTP_NOT_ALLOWED,
                                 NGX_OCI_ERR_UNSUPPORTED,
                                 "deletes are disabled (oci_delete off)");
        }

        return ngx_oci_api_blobs_delete(r, ctx);
    }

    if (ngx_oci_store_blob_path(&ctx->store, &ctx->name, &ctx->digest,
                                &path)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /*
     * without an open file cache, one openat2() from the worker's root
     * descriptor, where nginx's walk would open each directory on the way
     */

    fd = NGX_INVALID_FILE;
    rc = NGX_OK;

    if (!ngx_oci_send_cached(r)) {
        rc = ngx_oci_store_file_open(&ctx->store, &path, O_RDONLY|O_NONBLOCK,
                                     0, &fd);
    }

    if (rc == NGX_OK) {
        rc = ngx_oci_send_file(r, &path, fd, &octet, &ctx->digest, 1);

    } else if (rc == NGX_ERROR) {
        return ngx_oci_error_storage(r);
    }

    if (rc == NGX_DECLINED) {
        return ngx_oci_error(r, NGX_HTTP_NOT_FOUND, NGX_OCI_ERR_BLOB_UNKNOWN,
                             NULL);
    }

    return rc;
}


static ngx_int_t
ngx_oci_api_blobs_delete(ngx_http_request_t *r, ngx_oci_ctx_t *ctx)
{
    ngx_int_t            rc;
    ngx_oci_event_t      ev;
    ngx_oci_loc_conf_t  *olcf;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_oci_store_unlink(&ctx->store, NGX_OCI_LAYOUT_REPO_BLOB,
                              &ctx->name, &ctx->digest);

    if (rc != NGX_OK) {
        return ngx_oci_error_not_ok(r, rc, NGX_OCI_ERR_BLOB_UNKNOWN);
    }

    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    if (olcf->events.enable) {
        ngx_memzero(&ev, sizeof(ngx_oci_event_t));

        ngx_str_set(&ev.action, "delete");
        ev.size = -1;
        ev.digest.data = ctx->digest.data;
        ev.digest.len = ctx->digest.len;
        ev.repository.data = ctx->name.data;
        ev.repository.len = ctx->name.len;
        ev.actor.data = ctx->token_subject.data;
        ev.actor.len = ctx->token_subject.len;

        ngx_oci_events_record(r, &olcf->events, &olcf->redis, &ev);
    }

    return ngx_oci_send_empty(r, NGX_HTTP_ACCEPTED);
}
