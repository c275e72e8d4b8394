
/*
 * Error responses.
 *
 * Handlers only record which spec error applies and return the status;
 * nginx then produces its special response, and the filters below swap
 * its HTML page for the spec's JSON body. The same path converts errors
 * raised by other modules in a registry location (auth_basic's 401,
 * limit_req's 429, client_max_body_size's 413, the range filter's 416),
 * so a client never sees an HTML page under /v2/.
 */


#include "ngx_oci_http.h"


typedef struct {
    ngx_str_t   code;
    ngx_str_t   message;
} ngx_oci_err_t;


static ngx_int_t ngx_oci_error_retry(ngx_http_request_t *r,
    ngx_uint_t status, ngx_oci_err_e err, const char *retry_after,
    const char *message);
static ngx_oci_err_e ngx_oci_default_err(ngx_uint_t status);
static ngx_int_t ngx_oci_error_body(ngx_http_request_t *r,
    ngx_oci_ctx_t *ctx, ngx_buf_t **bp);
static ngx_int_t ngx_oci_error_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_oci_error_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static ngx_oci_err_t  ngx_oci_errors[] = {
    { ngx_null_string, ngx_null_string },
    { ngx_string("BLOB_UNKNOWN"),
      ngx_string("blob unknown to registry") },
    { ngx_string("BLOB_UPLOAD_INVALID"),
      ngx_string("blob upload invalid") },
    { ngx_string("BLOB_UPLOAD_UNKNOWN"),
      ngx_string("blob upload unknown to registry") },
    { ngx_string("DIGEST_INVALID"),
      ngx_string("provided digest did not match uploaded content") },
    { ngx_string("MANIFEST_BLOB_UNKNOWN"),
      ngx_string("manifest references a manifest or blob unknown to "
                 "registry") },
    { ngx_string("MANIFEST_INVALID"),
      ngx_string("manifest invalid") },
    { ngx_string("MANIFEST_UNKNOWN"),
      ngx_string("manifest unknown to registry") },
    { ngx_string("NAME_INVALID"),
      ngx_string("invalid repository name") },
    { ngx_string("NAME_UNKNOWN"),
      ngx_string("repository name not known to registry") },
    { ngx_string("SIZE_INVALID"),
      ngx_string("provided length did not match content length") },
    { ngx_string("UNAUTHORIZED"),
      ngx_string("authentication required") },
    { ngx_string("DENIED"),
      ngx_string("requested access to the resource is denied") },
    { ngx_string("UNSUPPORTED"),
      ngx_string("the operation is unsupported") },
    { ngx_string("TOOMANYREQUESTS"),
      ngx_string("too many requests") },
    { ngx_string("PRECONDITION_FAILED"),
      ngx_string("the tag does not match the request's precondition") },
    { ngx_string("UNKNOWN"),
      ngx_string("unknown error") },
    { ngx_string("UNAVAILABLE"),
      ngx_string("service unavailable") }
};


ngx_int_t
ngx_oci_error(ngx_http_request_t *r, ngx_uint_t status, ngx_oci_err_e err,
    const char *message)
{
    ngx_uint_t      level;
    ngx_oci_ctx_t  *ctx;

    ctx = ngx_oci_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->err = err;

    if (message) {
        ctx->err_message.data = (u_char *) message;
        ctx->err_message.len = ngx_strlen(message);
    }

    /* a client mistake is worth an info line, not an error */

    level = (status >= NGX_HTTP_INTERNAL_SERVER_ERROR) ? NGX_LOG_ERR
                                                       : NGX_LOG_INFO;

    ngx_log_error(level, r->connection->log, 0, "oci: %V %V: %s",
                  &ngx_oci_errors[err].code, &r->uri,
                  message ? message
                          : (char *) ngx_oci_errors[err].message.data);

    return status;
}


/* an error whose detail names the digest it is about */

ngx_int_t
ngx_oci_error_digest(ngx_http_request_t *r, ngx_uint_t status,
    ngx_oci_err_e err, const char *message, ngx_str_t *digest)
{
    ngx_oci_ctx_t  *ctx;

    ctx = ngx_oci_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->err_detail.data = ngx_pnalloc(r->pool, sizeof("{\"digest\":\"\"}")
                                                + digest->len);
    if (ctx->err_detail.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->err_detail.len = ngx_sprintf(ctx->err_detail.data,
                                      "{\"digest\":\"%V\"}", digest)
                          - ctx->err_detail.data;

    return ngx_oci_error(r, status, err, message);
}


/*
 * 503 with Retry-After: a dependency (the tag lock, Redis) cannot serve
 * the request now, and the client may come back after that many seconds.
 */

ngx_int_t
ngx_oci_error_unavailable(ngx_http_request_t *r, const char *retry_after,
    const char *message)
{
    return ngx_oci_error_retry(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                               NGX_OCI_ERR_UNAVAILABLE, retry_after, message);
}


/*
 * 429 with Retry-After: the client asks for more than it may have now
 * (upload sessions over their cap); the filter adds no second
 * Retry-After.
 */

ngx_int_t
ngx_oci_error_too_many(ngx_http_request_t *r, const char *retry_after,
    const char *message)
{
    return ngx_oci_error_retry(r, NGX_HTTP_TOO_MANY_REQUESTS,
                               NGX_OCI_ERR_TOOMANYREQUESTS, retry_after,
                               message);
}


static ngx_int_t
ngx_oci_error_retry(ngx_http_request_t *r, ngx_uint_t status,
    ngx_oci_err_e err, const char *retry_after, const char *message)
{
    ngx_str_t  retry;

    retry.data = (u_char *) retry_after;
    retry.len = ngx_strlen(retry_after);

    if (ngx_oci_add_header(r, "Retry-After", &retry) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_oci_error(r, status, err, message);
}


/* storage failed and has logged why: the client learns no more */

ngx_int_t
ngx_oci_error_storage(ngx_http_request_t *r)
{
    return ngx_oci_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                         NGX_OCI_ERR_UNKNOWN, "storage error");
}


/*
 * The answer to a storage result other than NGX_OK: NGX_DECLINED ("not
 * there") is 404 with the given error code, anything else 500.
 */

ngx_int_t
ngx_oci_error_not_ok(ngx_http_request_t *r, ngx_int_t rc,
    ngx_oci_err_e unknown)
{
    if (rc == NGX_DECLINED) {
        return ngx_oci_error(r, NGX_HTTP_NOT_FOUND, unknown, NULL);
    }

    return ngx_oci_error_storage(r);
}


ngx_int_t
ngx_oci_error_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_oci_error_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_oci_error_body_filter;

    return NGX_OK;
}


/* the spec's name of an error code, "" for none */

ngx_str_t *
ngx_oci_error_code(ngx_oci_err_e err)
{
    return &ngx_oci_errors[err].code;
}


static ngx_oci_err_e
ngx_oci_default_err(ngx_uint_t status)
{
    switch (status) {

    case NGX_HTTP_UNAUTHORIZED:
        return NGX_OCI_ERR_UNAUTHORIZED;

    case NGX_HTTP_FORBIDDEN:
        return NGX_OCI_ERR_DENIED;

    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
    case NGX_HTTP_RANGE_NOT_SATISFIABLE:
        return NGX_OCI_ERR_SIZE_INVALID;

    case NGX_HTTP_REQUEST_URI_TOO_LARGE:
        return NGX_OCI_ERR_NAME_INVALID;

    case 429:
        return NGX_OCI_ERR_TOOMANYREQUESTS;

    case NGX_HTTP_BAD_GATEWAY:
    case NGX_HTTP_SERVICE_UNAVAILABLE:
    case NGX_HTTP_GATEWAY_TIME_OUT:
        return NGX_OCI_ERR_UNAVAILABLE;
    }

    return status >= 500 ? NGX_OCI_ERR_UNKNOWN : NGX_OCI_ERR_UNSUPPORTED;
}


static ngx_int_t
ngx_oci_error_body(ngx_http_request_t *r, ngx_oci_ctx_t *ctx,
    ngx_buf_t **bp)
{
    size_t      len;
    ngx_buf_t  *b;
    ngx_str_t  *code, *msg, *detail;

    static ngx_str_t  empty = ngx_string("{}");

    code = &ngx_oci_errors[ctx->err].code;
    msg = ctx->err_message.len ? &ctx->err_message
                               : &ngx_oci_errors[ctx->err].message;
    detail = ctx->err_detail.len ? &ctx->err_detail : &empty;

    len = sizeof("{\"errors\":[{\"code\":\"\",\"message\":\"\","
                 "\"detail\":}]}\n") - 1
          + code->len + msg->len
          + ngx_escape_json(NULL, msg->data, msg->len)
          + detail->len;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->last = ngx_sprintf(b->last, "{\"errors\":[{\"code\":\"%V\","
                          "\"message\":\"", code);
    b->last = (u_char *) ngx_escape_json(b->last, msg->data, msg->len);
    b->last = ngx_sprintf(b->last, "\",\"detail\":%V}]}\n", detail);

    *bp = b;

    return NGX_OK;
}


static ngx_int_t
ngx_oci_error_header_filter(ngx_http_request_t *r)
{
    ngx_buf_t           *b;
    ngx_oci_ctx_t       *ctx;
    ngx_oci_loc_conf_t  *olcf;

    static ngx_str_t  retry = ngx_string("1");
    static ngx_str_t  version = ngx_string("registry/2.0");

    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    if (!olcf->enable || r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_oci_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    /*
     * A client may send its next request on another connection as soon
     * as it reads this answer: what the endpoint holds (an upload
     * session's lock) is let go first.
     */

    if (ctx->before_header) {
        ctx->before_header(ctx->before_header_data);
        ctx->before_header = NULL;
    }

    if (ngx_oci_add_header(r, "Docker-Distribution-API-Version", &version)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (r->headers_out.status < NGX_HTTP_BAD_REQUEST) {
        return ngx_http_next_header_filter(r);
    }

    if (ctx->err == NGX_OCI_ERR_NONE) {
        ctx->err = ngx_oci_default_err(r->headers_out.status);
        ctx->err_elsewhere = 1;         /* by another module */
    }

    /*
     * A bearer token refused in the access phase: its challenge goes
     * with the 401 only (another module may have let the request in).
     */

    if (r->headers_out.status == NGX_HTTP_UNAUTHORIZED
        && ctx->token_challenge.len)
    {
        if (ngx_oci_add_header(r, "WWW-Authenticate", &ctx->token_challenge)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (ctx->err_elsewhere) {
            ctx->err_message = ctx->token_message;
            ctx->err_detail = ctx->token_detail;
        }
    }

    if (ngx_oci_error_body(r, ctx, &b) != NGX_OK) {
        return NGX_ERROR;
    }

    b->last_buf = 1;
    b->last_in_chain = 1;

    ctx->json_error = 1;
    ctx->error_body = b;

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.charset.len = 0;

    ngx_http_clear_content_length(r);
    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);

    r->headers_out.content_length_n = b->last - b->pos;

    if (r->headers_out.status == 429
        && ctx->err_elsewhere
        && ngx_oci_add_header(r, "Retry-After", &retry) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_oci_error_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_chain_t     out, *cl;
    ngx_oci_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_oci_module);

    if (ctx == NULL || !ctx->json_error) {
        return ngx_http_next_body_filter(r, in);
    }

    /* the body nginx generated is dropped in favour of ours */

    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;
        cl->buf->file_pos = cl->buf->file_last;
    }

    if (ctx->json_sent) {
        return NGX_OK;
    }

    ctx->json_sent = 1;

    out.buf = ctx->error_body;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}
