
/*
 * Blob uploads: POST opens a session (or uploads monolithically, or
 * mounts from another repository), PATCH appends a chunk, PUT closes the
 * session with the expected digest, GET reports progress, DELETE cancels.
 */


#include "ngx_oci_api.h"
#include "ngx_oci_grammar.h"


static ngx_int_t ngx_oci_api_uploads_session(ngx_http_request_t *r,
    ngx_oci_ctx_t *ctx);
static ngx_int_t ngx_oci_api_uploads_start(ngx_http_request_t *r,
    ngx_oci_ctx_t *ctx);
static ngx_int_t ngx_oci_api_uploads_algorithm(ngx_http_request_t *r,
    ngx_oci_ctx_t *ctx, int *alg);
static ngx_int_t ngx_oci_api_uploads_mount(ngx_http_request_t *r,
    ngx_oci_ctx_t *ctx, ngx_str_t *digest, ngx_str_t *from);
static ngx_int_t ngx_oci_api_uploads_may_mount(ngx_http_request_t *r,
    ngx_oci_ctx_t *ctx, ngx_str_t *digest, ngx_str_t *from);
static void ngx_oci_api_uploads_hold(ngx_oci_ctx_t *ctx,
    ngx_oci_upload_t *u);
static ngx_int_t ngx_oci_api_uploads_read(ngx_http_request_t *r,
    ngx_oci_upload_t *u, ngx_http_client_body_handler_pt done);
static ngx_int_t ngx_oci_api_uploads_chunk(ngx_http_request_t *r,
    ngx_oci_upload_t *u);
static ngx_int_t ngx_oci_api_uploads_sink(ngx_http_request_t *r,
    void *data, u_char *p, size_t len);
static ngx_int_t ngx_oci_api_uploads_received(ngx_http_request_t *r,
    ngx_oci_upload_t *u);
static void ngx_oci_api_uploads_patched(ngx_http_request_t *r);
static void ngx_oci_api_uploads_closed(ngx_http_request_t *r);
static ngx_int_t ngx_oci_api_uploads_publish(ngx_http_request_t *r,
    ngx_oci_ctx_t *ctx, ngx_oci_upload_t *u);
static void ngx_oci_api_uploads_rehashed(ngx_oci_store_job_t *job);
static ngx_int_t ngx_oci_api_uploads_unhashed(ngx_http_request_t *r);
static ngx_int_t ngx_oci_api_uploads_verify(ngx_http_request_t *r);
static ngx_int_t ngx_oci_api_uploads_headers(ngx_http_request_t *r,
    ngx_oci_upload_t *u);
static ngx_int_t ngx_oci_api_uploads_progress(ngx_http_request_t *r,
    ngx_oci_upload_t *u, ngx_uint_t status);
static ngx_int_t ngx_oci_api_uploads_created(ngx_http_request_t *r,
    ngx_oci_ctx_t *ctx, ngx_str_t *digest);


ngx_int_t
ngx_oci_api_uploads(ngx_http_request_t *r)
{
    ngx_int_t          rc;
    ngx_oci_ctx_t     *ctx;
    ngx_oci_upload_t  *u;

    ctx = ngx_oci_get_ctx(r);

    if (ctx->route.endpoint == NGX_OCI_EP_UPLOADS) {
        if (r->method != NGX_HTTP_POST) {
            return ngx_oci_error(r, NGX_HTTP_NOT_ALLOWED,
                                 NGX_OCI_ERR_UNSUPPORTED,
                                 "uploads start with POST");
        }

        return ngx_oci_api_uploads_start(r, ctx);
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_PATCH
                       |NGX_HTTP_PUT|NGX_HTTP_DELETE)))
    {
        return ngx_oci_error(r, NGX_HTTP_NOT_ALLOWED, NGX_OCI_ERR_UNSUPPORTED,
                             "an upload session answers GET, PATCH, PUT "
                             "and DELETE");
    }

    rc = ngx_oci_api_uploads_session(r, ctx);
    if (rc != NGX_OK) {
        return rc;
    }

    u = ctx->endpoint;

    switch (r->method) {

    case NGX_HTTP_PATCH:
        return ngx_oci_api_uploads_read(r, u, ngx_oci_api_uploads_patched);

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

        return ngx_oci_api_uploads_read(r, u, ngx_oci_api_uploads_closed);

    case NGX_HTTP_DELETE:
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        if (ngx_oci_store_upload_remove(u) != NGX_OK) {
            return ngx_oci_error_storage(r);
        }

        return ngx_oci_send_empty(r, NGX_HTTP_NO_CONTENT);

    default: /* GET, HEAD */
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_oci_api_uploads_progress(r, u, NGX_HTTP_NO_CONTENT);
    }
}


/* the session the URL names, locked unless the request only reads it */

static ngx_int_t
ngx_oci_api_uploads_session(ngx_http_request_t *r, ngx_oci_ctx_t *ctx)
{
    time_t               timeout;
    ngx_int_t            rc;
    ngx_oci_upload_t    *u;
    ngx_oci_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);
    timeout = (time_t) (olcf->upload_timeout / 1000);

    rc = ngx_oci_store_upload_open(&ctx->store, &ctx->name, &ctx->ref,
                                   timeout, &u);

    if (rc == NGX_OK && !(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        rc = ngx_oci_store_upload_lock(u, timeout);

        if (rc == NGX_BUSY) {
            (void) ngx_oci_api_uploads_headers(r, u);

            return ngx_oci_error(r, NGX_HTTP_RANGE_NOT_SATISFIABLE,
                                 NGX_OCI_ERR_BLOB_UPLOAD_INVALID,
                                 "another request is writing to this upload");
        }
    }

    if (rc != NGX_OK) {
        return ngx_oci_error_not_ok(r, rc, NGX_OCI_ERR_BLOB_UPLOAD_UNKNOWN);
    }

    ngx_oci_api_uploads_hold(ctx, u);

    return NGX_OK;
}


static ngx_int_t
ngx_oci_api_uploads_start(ngx_http_request_t *r, ngx_oci_ctx_t *ctx)
{
    int                     alg;
    ngx_int_t               rc;
    ngx_str_t               mount, from;
    ngx_oci_upload_t       *u;
    ngx_oci_loc_conf_t     *olcf;
    ngx_oci_upload_caps_t   caps;

    if (ngx_oci_arg(r, "mount", &mount) == NGX_OK) {
        if (ngx_oci_digest_parse(mount.data, mount.len, NULL, NULL, NULL)
            != NGX_OCI_DIGEST_OK)
        {
            return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                                 NGX_OCI_ERR_DIGEST_INVALID,
                                 "invalid ?mount= digest");
        }

        if (ngx_oci_arg(r, "from", &from) == NGX_OK) {
            rc = ngx_oci_api_uploads_mount(r, ctx, &mount, &from);
            if (rc != NGX_DECLINED) {
                return rc;
            }
        }

        /* nothing to mount from: the client gets a session instead */
    }

    rc = ngx_oci_api_uploads_algorithm(r, ctx, &alg);
    if (rc != NGX_OK) {
        return rc;
    }

    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    caps.total = olcf->max_uploads;
    caps.repository = olcf->max_uploads_repo;
    caps.timeout = (time_t) (olcf->upload_timeout / 1000);

    rc = ngx_oci_store_upload_create(&ctx->store, &ctx->name, alg, &caps, &u);

    if (rc == NGX_DECLINED) {

        /* a slot frees when another upload ends: seconds, not less */

        return ngx_oci_error_too_many(r, "5", "too many upload sessions "
                                      "are open; finish or cancel some");
    }

    if (rc != NGX_OK) {
        return ngx_oci_error_storage(r);
    }

    ngx_oci_metrics_count(r, NGX_OCI_METRIC_UPLOADS_OPENED);

    ngx_oci_api_uploads_hold(ctx, u);

    if (ctx->digest.len) {

        /* a monolithic upload: the whole blob in this request's body */

        return ngx_oci_read_body(r, ngx_oci_api_uploads_sink, u,
                                 ngx_oci_api_uploads_closed);
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_oci_api_uploads_progress(r, u, NGX_HTTP_ACCEPTED);
}


/* from ?digest= (a monolithic upload) or ?digest-algorithm= */

static ngx_int_t
ngx_oci_api_uploads_algorithm(ngx_http_request_t *r, ngx_oci_ctx_t *ctx,
    int *alg)
{
    ngx_str_t  algorithm;

    *alg = NGX_OCI_SHA256;

    if (ngx_oci_arg(r, "digest", &ctx->digest) == NGX_OK) {

        if (ngx_oci_digest_parse(ctx->digest.data, ctx->digest.len, alg,
                                 NULL, NULL)
            != NGX_OCI_DIGEST_OK)
        {
            return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                                 NGX_OCI_ERR_DIGEST_INVALID,
                                 "invalid or unsupported ?digest=");
        }

        return NGX_OK;
    }

    if (ngx_oci_arg(r, "digest-algorithm", &algorithm) != NGX_OK) {
        return NGX_OK;
    }

    if (algorithm.len == 6 && ngx_strncmp(algorithm.data, "sha512", 6) == 0) {
        *alg = NGX_OCI_SHA512;
        return NGX_OK;
    }

    if (algorithm.len == 6 && ngx_strncmp(algorithm.data, "sha256", 6) == 0) {
        return NGX_OK;
    }

    return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST, NGX_OCI_ERR_DIGEST_INVALID,
                         "?digest-algorithm= must be sha256 or sha512");
}


/*
 * NGX_DECLINED when <from> does not have the blob, or when the request
 * may not read <from>: the answer is the same session either way.
 */

static ngx_int_t
ngx_oci_api_uploads_mount(ngx_http_request_t *r, ngx_oci_ctx_t *ctx,
    ngx_str_t *digest, ngx_str_t *from)
{
    ngx_int_t  rc;

    if (!ngx_oci_name_valid(from->data, from->len)) {
        return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST, NGX_OCI_ERR_NAME_INVALID,
                             "invalid ?from= repository name");
    }

    rc = ngx_oci_api_uploads_may_mount(r, ctx, digest, from);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_oci_store_blob_mount(&ctx->store, from, &ctx->name, digest);

    if (rc == NGX_DECLINED) {
        return NGX_DECLINED;
    }

    if (rc != NGX_OK) {
        return ngx_oci_error_storage(r);
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_oci_api_uploads_created(r, ctx, digest);
}


/*
 * A mount reads <from>: "oci_mount_allow" decides whether this request
 * may.  NGX_OK, NGX_DECLINED (empty or "0"), or an HTTP status.
 */

static ngx_int_t
ngx_oci_api_uploads_may_mount(ngx_http_request_t *r, ngx_oci_ctx_t *ctx,
    ngx_str_t *digest, ngx_str_t *from)
{
    ngx_str_t            allow;
    ngx_oci_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    if (olcf->mount_allow == NULL) {
        return NGX_OK;
    }

    if (ngx_http_complex_value(r, olcf->mount_allow, &allow) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (allow.len == 0 || (allow.len == 1 && allow.data[0] == '0')) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oci: mount of %V from \"%V\" into \"%V\" not "
                      "allowed by \"oci_mount_allow\", a session is opened "
                      "instead", digest, from, &ctx->name);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * The request holds the session: a client may send its next request on
 * another connection as soon as it reads the answer, so the session's
 * lock goes before the header does.
 */

static void
ngx_oci_api_uploads_hold(ngx_oci_ctx_t *ctx, ngx_oci_upload_t *u)
{
    ctx->endpoint = u;
    ctx->before_header = (ngx_oci_hook_pt) ngx_oci_store_upload_release;
    ctx->before_header_data = u;
}


static ngx_int_t
ngx_oci_api_uploads_read(ngx_http_request_t *r, ngx_oci_upload_t *u,
    ngx_http_client_body_handler_pt done)
{
    ngx_int_t  rc;

    rc = ngx_oci_api_uploads_chunk(r, u);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_oci_read_body(r, ngx_oci_api_uploads_sink, u, done);
}


/*
 * Checks Content-Range against the session before any byte is read: a
 * chunk must start where the session ends.
 */

static ngx_int_t
ngx_oci_api_uploads_chunk(ngx_http_request_t *r, ngx_oci_upload_t *u)
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

    if (start != u->offset) {
        (void) ngx_oci_api_uploads_headers(r, u);

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

    u->limit = end + 1;

    return NGX_OK;
}


static ngx_int_t
ngx_oci_api_uploads_sink(ngx_http_request_t *r, void *data, u_char *p,
    size_t len)
{
    ngx_int_t  rc;

    rc = ngx_oci_store_upload_append(data, p, len);

    if (rc == NGX_DECLINED) {
        return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                             NGX_OCI_ERR_SIZE_INVALID,
                             "the body is longer than its Content-Range");
    }

    return rc == NGX_OK ? NGX_OK : ngx_oci_error_storage(r);
}


static ngx_int_t
ngx_oci_api_uploads_received(ngx_http_request_t *r, ngx_oci_upload_t *u)
{
    if (u->limit >= 0 && u->written != u->limit) {
        return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                             NGX_OCI_ERR_SIZE_INVALID,
                             "the body is shorter than its Content-Range");
    }

    return NGX_OK;
}


static void
ngx_oci_api_uploads_patched(ngx_http_request_t *r)
{
    ngx_int_t          rc;
    ngx_oci_ctx_t     *ctx;
    ngx_oci_upload_t  *u;

    ctx = ngx_http_get_module_ctx(r, ngx_oci_module);
    u = ctx->endpoint;

    rc = ngx_oci_api_uploads_received(r, u);

    if (rc == NGX_OK && ngx_oci_store_upload_commit(u) != NGX_OK) {
        rc = ngx_oci_error_storage(r);
    }

    if (rc == NGX_OK) {
        rc = ngx_oci_api_uploads_progress(r, u, NGX_HTTP_ACCEPTED);
    }

    ngx_http_finalize_request(r, rc);
}


static void
ngx_oci_api_uploads_closed(ngx_http_request_t *r)
{
    ngx_int_t          rc;
    ngx_oci_ctx_t     *ctx;
    ngx_oci_upload_t  *u;

    ctx = ngx_http_get_module_ctx(r, ngx_oci_module);
    u = ctx->endpoint;

    rc = ngx_oci_api_uploads_received(r, u);

    if (rc == NGX_OK) {
        rc = ngx_oci_api_uploads_publish(r, ctx, u);
    }

    ngx_http_finalize_request(r, rc);
}


/*
 * The digest of everything received decides: on a match the data file
 * becomes the blob, otherwise nothing is stored and the session is
 * dropped. A session hashed with another algorithm than the digest's
 * (opened without ?digest-algorithm=, closed with sha512) is hashed again
 * first, off the event loop.
 */

static ngx_int_t
ngx_oci_api_uploads_publish(ngx_http_request_t *r, ngx_oci_ctx_t *ctx,
    ngx_oci_upload_t *u)
{
    int  alg;

    (void) ngx_oci_digest_parse(ctx->digest.data, ctx->digest.len, &alg,
                                NULL, NULL);

    if (alg == u->sha.alg) {
        return ngx_oci_api_uploads_verify(r);
    }

    if (ngx_oci_store_upload_rehash(u, alg, ngx_oci_api_uploads_rehashed, r)
        != NGX_OK)
    {
        return ngx_oci_error_storage(r);
    }

    ngx_oci_wait(r);

    return NGX_DONE;
}


static void
ngx_oci_api_uploads_rehashed(ngx_oci_store_job_t *job)
{
    ngx_http_request_t  *r;

    r = job->owner;

    ngx_oci_resume(r, job->rc == NGX_OK ? ngx_oci_api_uploads_verify
                                        : ngx_oci_api_uploads_unhashed);
}


static ngx_int_t
ngx_oci_api_uploads_unhashed(ngx_http_request_t *r)
{
    return ngx_oci_error_storage(r);
}


static ngx_int_t
ngx_oci_api_uploads_verify(ngx_http_request_t *r)
{
    ngx_str_t          actual;
    ngx_oci_ctx_t     *ctx;
    ngx_oci_upload_t  *u;

    ctx = ngx_http_get_module_ctx(r, ngx_oci_module);
    u = ctx->endpoint;

    if (ngx_oci_store_upload_digest(u, &actual) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (actual.len != ctx->digest.len
        || ngx_strncmp(actual.data, ctx->digest.data, actual.len) != 0)
    {
        (void) ngx_oci_store_upload_remove(u);

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oci: upload to \"%V\" declared %V but its content is "
                      "%V", &u->name, &ctx->digest, &actual);

        return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                             NGX_OCI_ERR_DIGEST_INVALID, NULL);
    }

    if (ngx_oci_store_upload_publish(u, &actual) != NGX_OK) {
        return ngx_oci_error_storage(r);
    }

    return ngx_oci_api_uploads_created(r, ctx, &actual);
}


/* Location, Range and the session id: where the client carries on */

static ngx_int_t
ngx_oci_api_uploads_headers(ngx_http_request_t *r, ngx_oci_upload_t *u)
{
    ngx_str_t           location, range;
    ngx_oci_link_str_t  path[4] = {
        NGX_OCI_LINK_LITERAL("/v2/"),
        { u->name.data, u->name.len },
        NGX_OCI_LINK_LITERAL("/blobs/uploads/"),
        { u->id.data, u->id.len }
    };

    location.len = ngx_oci_link_uri(NULL, path, 4, NULL, 0);
    location.data = ngx_pnalloc(r->pool, location.len);
    range.data = ngx_pnalloc(r->pool, 2 * NGX_OFF_T_LEN + 1);

    if (location.data == NULL || range.data == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_oci_link_uri(location.data, path, 4, NULL, 0);

    /* the spec reports an empty session as "0-0" */

    range.len = ngx_sprintf(range.data, "0-%O",
                            u->offset ? u->offset - 1 : 0)
                - range.data;

    if (ngx_oci_add_header(r, "Location", &location) != NGX_OK
        || ngx_oci_add_header(r, "Range", &range) != NGX_OK
        || ngx_oci_add_header(r, "Docker-Upload-UUID", &u->id) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_oci_api_uploads_progress(ngx_http_request_t *r, ngx_oci_upload_t *u,
    ngx_uint_t status)
{
    if (ngx_oci_api_uploads_headers(r, u) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_oci_send_empty(r, status);
}


static ngx_int_t
ngx_oci_api_uploads_created(ngx_http_request_t *r, ngx_oci_ctx_t *ctx,
    ngx_str_t *digest)
{
    ngx_str_t           location;
    ngx_oci_link_str_t  path[4] = {
        NGX_OCI_LINK_LITERAL("/v2/"),
        { ctx->name.data, ctx->name.len },
        NGX_OCI_LINK_LITERAL("/blobs/"),
        { digest->data, digest->len }
    };

    location.len = ngx_oci_link_uri(NULL, path, 4, NULL, 0);
    location.data = ngx_pnalloc(r->pool, location.len);
    if (location.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    (void) ngx_oci_link_uri(location.data, path, 4, NULL, 0);

    ctx->digest = *digest;

    if (ngx_oci_add_header(r, "Location", &location) != NGX_OK
        || ngx_oci_add_header(r, "Docker-Content-Digest", digest) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_oci_send_empty(r, NGX_HTTP_CREATED);
}
