
/*
 * Blobs: GET and HEAD are served from the repository's hard link to the
 * content, DELETE removes that link (the content itself goes when no
 * repository links it any more, by garbage collection).
 */


#include "ngx_oci.h"


static ngx_int_t ngx_oci_blob_delete(ngx_http_request_t *r,
    ngx_str_t *path);


ngx_int_t
ngx_oci_blob_handler(ngx_http_request_t *r)
{
    ngx_int_t            rc;
    ngx_str_t            digest, name, path;
    ngx_oci_ctx_t       *ctx;
    ngx_oci_loc_conf_t  *olcf;

    static ngx_str_t  octet = ngx_string("application/octet-stream");

    ctx = ngx_oci_get_ctx(r);

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_DELETE))) {
        return ngx_oci_error(r, NGX_HTTP_NOT_ALLOWED, NGX_OCI_ERR_UNSUPPORTED,
                             "a blob answers GET, HEAD and DELETE");
    }

    digest.data = (u_char *) ctx->route.ref;
    digest.len = ctx->route.ref_len;

    if (ngx_oci_digest_parse(digest.data, digest.len, NULL, NULL, NULL)
        != NGX_OCI_DIGEST_OK)
    {
        return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                             NGX_OCI_ERR_DIGEST_INVALID,
                             "invalid or unsupported digest");
    }

    ctx->digest = digest;

    name.data = (u_char *) ctx->route.name;
    name.len = ctx->route.name_len;

    if (ngx_oci_repo_path(r, &path, &name, "_blobs", &digest, "") != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r->method == NGX_HTTP_DELETE) {
        olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

        if (!olcf->delete) {
            return ngx_oci_error(r, NGX_HTTP_NOT_ALLOWED,
                                 NGX_OCI_ERR_UNSUPPORTED,
                                 "deletes are disabled (oci_delete off)");
        }

        return ngx_oci_blob_delete(r, &path);
    }

    rc = ngx_oci_serve_file(r, &path, &octet, &digest, 1);

    if (rc == NGX_DECLINED) {
        return ngx_oci_error(r, NGX_HTTP_NOT_FOUND, NGX_OCI_ERR_BLOB_UNKNOWN,
                             NULL);
    }

    return rc;
}


static ngx_int_t
ngx_oci_blob_delete(ngx_http_request_t *r, ngx_str_t *path)
{
    ngx_int_t  rc;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_delete_file(path->data) == NGX_FILE_ERROR) {
        if (ngx_errno == NGX_ENOENT || ngx_errno == NGX_ENOTDIR) {
            return ngx_oci_error(r, NGX_HTTP_NOT_FOUND,
                                 NGX_OCI_ERR_BLOB_UNKNOWN, NULL);
        }

        return ngx_oci_storage_error(r, ngx_errno, "unlink()", path);
    }

    return ngx_oci_send_empty(r, NGX_HTTP_ACCEPTED);
}
