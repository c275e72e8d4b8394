
/*
 * Blob uploads: POST opens a session (or uploads monolithically, or
 * mounts from another repository), PATCH appends a chunk, PUT closes the
 * session with the expected digest, GET reports progress, DELETE cancels.
 */


#include "ngx_oci.h"


static ngx_int_t ngx_oci_upload_start(ngx_http_request_t *r);
static ngx_int_t ngx_oci_upload_mount(ngx_http_request_t *r,
    ngx_str_t *digest, ngx_str_t *from);
static ngx_int_t ngx_oci_upload_chunk(ngx_http_request_t *r,
    ngx_oci_session_t *s);
static ngx_int_t ngx_oci_upload_sink(ngx_http_request_t *r, u_char *p,
    size_t len);
static void ngx_oci_upload_patched(ngx_http_request_t *r);
static void ngx_oci_upload_closed(ngx_http_request_t *r);
static ngx_int_t ngx_oci_upload_publish(ngx_http_request_t *r,
    ngx_oci_session_t *s);
static ngx_int_t ngx_oci_upload_progress(ngx_http_request_t *r,
    ngx_oci_session_t *s, ngx_uint_t status);
static ngx_int_t ngx_oci_upload_blob_created(ngx_http_request_t *r,
    ngx_str_t *digest);


ngx_int_t
ngx_oci_upload_handler(ngx_http_request_t *r)
{
    ngx_int_t           rc;
    ngx_oci_ctx_t      *ctx;
    ngx_str_t           id;
    ngx_oci_session_t  *s;

    ctx = ngx_oci_get_ctx(r);

    if (ctx->route.endpoint == NGX_OCI_EP_UPLOADS) {
        if (r->method != NGX_HTTP_POST) {
            return ngx_oci_error(r, NGX_HTTP_NOT_ALLOWED,
                                 NGX_OCI_ERR_UNSUPPORTED,
                                 "uploads start with POST");
        }

        return ngx_oci_upload_start(r);
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_PATCH
                       |NGX_HTTP_PUT|NGX_HTTP_DELETE)))
    {
        return ngx_oci_error(r, NGX_HTTP_NOT_ALLOWED, NGX_OCI_ERR_UNSUPPORTED,
                             "an upload session answers GET, PATCH, PUT "
                             "and DELETE");
    }

    id.data = (u_char *) ctx->route.ref;
    id.len = ctx->route.ref_len;

    rc = ngx_oci_session_open(r, &id, &s);

    if (rc == NGX_OK && !(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        rc = ngx_oci_session_lock(r, s);

        if (rc == NGX_BUSY) {
            (void) ngx_oci_upload_progress_headers(r, s);

            return ngx_oci_error(r, NGX_HTTP_RANGE_NOT_SATISFIABLE,
                                 NGX_OCI_ERR_BLOB_UPLOAD_INVALID,
                                 "another request is writing to this upload");
        }
    }

    if (rc == NGX_DECLINED) {
        return ngx_oci_error(r, NGX_HTTP_NOT_FOUND,
                             NGX_OCI_ERR_BLOB_UPLOAD_UNKNOWN, NULL);
    }

    if (rc != NGX_OK) {
        return rc;
    }

    ctx->session = s;

    switch (r->method) {

    case NGX_HTTP_PATCH:
        rc = ngx_oci_upload_chunk(r, s);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_oci_read_body(r, ngx_oci_upload_sink,
                                 ngx_oci_upload_patched);

    case NGX_HTTP_PUT:
        if (ngx_oci_arg(r, "digest", &ctx->digest) != NGX_OK
            || ngx_oci_digest_parse(ctx->digest.data, ctx->digest.len,
                                    NULL, NULL, NULL) != NGX_OCI_DIGEST_OK)
        {
            return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                                 NGX_OCI_ERR_DIGEST_INVALID,
                                 "closing an upload needs ?digest= with a "
                                 "sha256 or sha512 digest");
        }

        rc = ngx_oci_upload_chunk(r, s);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_oci_read_body(r, ngx_oci_upload_sink,
                                 ngx_oci_upload_closed);

    case NGX_HTTP_DELETE:
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        rc = ngx_oci_session_remove(r, s);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_oci_send_empty(r, NGX_HTTP_NO_CONTENT);

    default: /* GET, HEAD */
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_oci_upload_progress(r, s, NGX_HTTP_NO_CONTENT);
    }
}


static ngx_int_t
ngx_oci_upload_start(ngx_http_request_t *r)
{
    int                 alg;
    ngx_int_t           rc;
    ngx_str_t           mount, from, algorithm;
    ngx_oci_ctx_t      *ctx;
    ngx_oci_session_t  *s;

    ctx = ngx_oci_get_ctx(r);

    if (ngx_oci_arg(r, "mount", &mount) == NGX_OK) {
        if (ngx_oci_digest_parse(mount.data, mount.len, NULL, NULL, NULL)
            != NGX_OCI_DIGEST_OK)
        {
            return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                                 NGX_OCI_ERR_DIGEST_INVALID,
                                 "invalid ?mount= digest");
        }

        if (ngx_oci_arg(r, "from", &from) == NGX_OK) {
            rc = ngx_oci_upload_mount(r, &mount, &from);
            if (rc != NGX_DECLINED) {
                return rc;
            }
        }

        /* nothing to mount from: the client gets a session instead */
    }

    alg = NGX_OCI_SHA256;

    if (ngx_oci_arg(r, "digest", &ctx->digest) == NGX_OK) {

        /* a monolithic upload: the whole blob in this request's body */

        if (ngx_oci_digest_parse(ctx->digest.data, ctx->digest.len, &alg,
                                 NULL, NULL)
            != NGX_OCI_DIGEST_OK)
        {
            return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                                 NGX_OCI_ERR_DIGEST_INVALID,
                                 "invalid or unsupported ?digest=");
        }

    } else if (ngx_oci_arg(r, "digest-algorithm", &algorithm) == NGX_OK) {

        if (algorithm.len == 6
            && ngx_strncmp(algorithm.data, "sha512", 6) == 0)
        {
            alg = NGX_OCI_SHA512;

        } else if (algorithm.len != 6
                   || ngx_strncmp(algorithm.data, "sha256", 6) != 0)
        {
            return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                                 NGX_OCI_ERR_DIGEST_INVALID,
                                 "?digest-algorithm= must be sha256 or "
                                 "sha512");
        }
    }

    rc = ngx_oci_session_create(r, alg, &s);
    if (rc != NGX_OK) {
        return rc;
    }

    ctx->session = s;

    if (ctx->digest.len) {
        return ngx_oci_read_body(r, ngx_oci_upload_sink,
                                 ngx_oci_upload_closed);
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_oci_upload_progress(r, s, NGX_HTTP_ACCEPTED);
}


/* NGX_DECLINED when <from> does not have the blob */

static ngx_int_t
ngx_oci_upload_mount(ngx_http_request_t *r, ngx_str_t *digest,
    ngx_str_t *from)
{
    ngx_int_t       rc;
    ngx_str_t       src, dst, name;
    ngx_oci_ctx_t  *ctx;

    ctx = ngx_oci_get_ctx(r);

    if (!ngx_oci_name_valid(from->data, from->len)) {
        return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST, NGX_OCI_ERR_NAME_INVALID,
                             "invalid ?from= repository name");
    }

    name.data = (u_char *) ctx->route.name;
    name.len = ctx->route.name_len;

    if (ngx_oci_repo_path(r, &src, from, "_blobs", digest, "") != NGX_OK
        || ngx_oci_repo_path(r, &dst, &name, "_blobs", digest, "") != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_oci_file_exists(&src);
    if (rc == NGX_DECLINED) {
        return NGX_DECLINED;
    }

    if (rc != NGX_OK) {
        return ngx_oci_storage_error(r, ngx_errno, "stat()", &src);
    }

    rc = ngx_oci_link(r, &src, &dst);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    ctx->digest = *digest;

    return ngx_oci_upload_blob_created(r, digest);
}


/*
 * Checks Content-Range against the session before any byte is read: a
 * chunk must start where the session ends.
 */

static ngx_int_t
ngx_oci_upload_chunk(ngx_http_request_t *r, ngx_oci_session_t *s)
{
    off_t             start, end;
    ngx_table_elt_t  *h;

    h = ngx_oci_header_in(r, "Content-Range");

    if (h == NULL) {
        return NGX_OK;
    }

    if (ngx_oci_content_range_parse(h->value.data, h->value.len,
                                    &start, &end) != 0)
    {
        return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                             NGX_OCI_ERR_BLOB_UPLOAD_INVALID,
                             "malformed Content-Range");
    }

    if (start != s->offset) {
        (void) ngx_oci_upload_progress_headers(r, s);

        return ngx_oci_error(r, NGX_HTTP_RANGE_NOT_SATISFIABLE,
                             NGX_OCI_ERR_BLOB_UPLOAD_INVALID,
                             "the chunk does not start where the upload "
                             "ends");
    }

    if (r->headers_in.content_length_n >= 0
        && r->headers_in.content_length_n != end - start + 1)
    {
        return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                             NGX_OCI_ERR_SIZE_INVALID,
                             "Content-Length does not match Content-Range");
    }

    s->limit = end + 1;

    return NGX_OK;
}


static ngx_int_t
ngx_oci_upload_sink(ngx_http_request_t *r, u_char *p, size_t len)
{
    ngx_oci_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_oci_module);

    return ngx_oci_session_append(r, ctx->session, p, len);
}


static ngx_int_t
ngx_oci_upload_received(ngx_http_request_t *r, ngx_oci_session_t *s)
{
    if (s->limit >= 0 && s->written != s->limit) {
        return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                             NGX_OCI_ERR_SIZE_INVALID,
                             "the body is shorter than its Content-Range");
    }

    return NGX_OK;
}


static void
ngx_oci_upload_patched(ngx_http_request_t *r)
{
    ngx_int_t           rc;
    ngx_oci_ctx_t      *ctx;
    ngx_oci_session_t  *s;

    ctx = ngx_http_get_module_ctx(r, ngx_oci_module);
    s = ctx->session;

    rc = ngx_oci_upload_received(r, s);

    if (rc == NGX_OK) {
        rc = ngx_oci_session_commit(r, s);
    }

    if (rc == NGX_OK) {
        rc = ngx_oci_upload_progress(r, s, NGX_HTTP_ACCEPTED);
    }

    ngx_http_finalize_request(r, rc);
}


static void
ngx_oci_upload_closed(ngx_http_request_t *r)
{
    ngx_int_t           rc;
    ngx_oci_ctx_t      *ctx;
    ngx_oci_session_t  *s;

    ctx = ngx_http_get_module_ctx(r, ngx_oci_module);
    s = ctx->session;

    rc = ngx_oci_upload_received(r, s);

    if (rc == NGX_OK) {
        rc = ngx_oci_upload_publish(r, s);
    }

    ngx_http_finalize_request(r, rc);
}


/*
 * The digest of everything received decides: on a match the data file
 * becomes the blob by link(), otherwise nothing is stored and the session
 * is dropped.
 */

static ngx_int_t
ngx_oci_upload_publish(ngx_http_request_t *r, ngx_oci_session_t *s)
{
    int             alg;
    u_char          md[NGX_OCI_SHA2_MAX_SIZE];
    ngx_int_t       rc;
    ngx_str_t       actual, blob, link, name;
    ngx_oci_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_oci_module);

    (void) ngx_oci_digest_parse(ctx->digest.data, ctx->digest.len, &alg,
                                NULL, NULL);

    if (alg != s->sha.alg) {
        (void) ngx_oci_session_remove(r, s);

        return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                             NGX_OCI_ERR_DIGEST_INVALID,
                             "the digest's algorithm is not the one the "
                             "upload was started with; use "
                             "?digest-algorithm= when starting it");
    }

    ngx_oci_sha2_final(&s->sha, md);

    if (ngx_oci_digest_string(r, alg, md, &actual) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (actual.len != ctx->digest.len
        || ngx_strncmp(actual.data, ctx->digest.data, actual.len) != 0)
    {
        (void) ngx_oci_session_remove(r, s);

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oci: upload to \"%V\" declared %V but its content is "
                      "%V", &s->name, &ctx->digest, &actual);

        return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                             NGX_OCI_ERR_DIGEST_INVALID, NULL);
    }

    if (ftruncate(s->fd, s->written) == -1) {
        return ngx_oci_storage_error(r, ngx_errno, "ftruncate()",
                                     &s->data_path);
    }

    name.data = (u_char *) ctx->route.name;
    name.len = ctx->route.name_len;

    if (ngx_oci_blob_path(r, &blob, &actual) != NGX_OK
        || ngx_oci_repo_path(r, &link, &name, "_blobs", &actual, "")
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_oci_link(r, &s->data_path, &blob);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_oci_link(r, &blob, &link);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_oci_session_remove(r, s);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_oci_upload_blob_created(r, &actual);
}


ngx_int_t
ngx_oci_upload_progress_headers(ngx_http_request_t *r, ngx_oci_session_t *s)
{
    ngx_str_t       location, range;
    ngx_oci_ctx_t  *ctx;

    ctx = ngx_oci_get_ctx(r);

    location.data = ngx_pnalloc(r->pool, sizeof("/v2//blobs/uploads/") - 1
                                + ctx->route.name_len + s->id.len);
    range.data = ngx_pnalloc(r->pool, 2 * NGX_OFF_T_LEN + 1);

    if (location.data == NULL || range.data == NULL) {
        return NGX_ERROR;
    }

    location.len = ngx_sprintf(location.data, "/v2/%*s/blobs/uploads/%V",
                               ctx->route.name_len, ctx->route.name, &s->id)
                   - location.data;

    /* the spec reports an empty session as "0-0" */

    range.len = ngx_sprintf(range.data, "0-%O",
                            s->offset ? s->offset - 1 : 0)
                - range.data;

    if (ngx_oci_add_header(r, "Location", &location) != NGX_OK
        || ngx_oci_add_header(r, "Range", &range) != NGX_OK
        || ngx_oci_add_header(r, "Docker-Upload-UUID", &s->id) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_oci_upload_progress(ngx_http_request_t *r, ngx_oci_session_t *s,
    ngx_uint_t status)
{
    if (ngx_oci_upload_progress_headers(r, s) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_oci_send_empty(r, status);
}


static ngx_int_t
ngx_oci_upload_blob_created(ngx_http_request_t *r, ngx_str_t *digest)
{
    ngx_str_t       location;
    ngx_oci_ctx_t  *ctx;

    ctx = ngx_oci_get_ctx(r);

    location.data = ngx_pnalloc(r->pool, sizeof("/v2//blobs/") - 1
                                + ctx->route.name_len + digest->len);
    if (location.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    location.len = ngx_sprintf(location.data, "/v2/%*s/blobs/%V",
                               ctx->route.name_len, ctx->route.name, digest)
                   - location.data;

    ctx->digest = *digest;

    if (ngx_oci_add_header(r, "Location", &location) != NGX_OK
        || ngx_oci_add_header(r, "Docker-Content-Digest", digest) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_oci_send_empty(r, NGX_HTTP_CREATED);
}
