
/*
 * The referrers API: GET /v2/<name>/referrers/<digest>, an image index
 * of the manifests whose subject is <digest>, from the index in Redis.
 *
 * Every read checks that the manifests it is about to list are stored,
 * and leaves out (and drops from the index) any that is not, so a
 * referrer is never listed without its manifest, whatever failed in
 * between. docs/referrers.md explains the guarantees.
 */


#include "ngx_oci_api.h"
#include "ngx_oci_grammar.h"
#include "ngx_oci_index.h"
#include "ngx_oci_index_page.h"

#include <openssl/evp.h>


typedef struct {
    ngx_oci_index_pair_t      pair;
    ngx_array_t              *types;        /* ?artifactType=, decoded */
    ngx_array_t              *stale;        /* digests to drop */
    ngx_buf_t                *body;
    ngx_str_t                 last;         /* the next page starts after */
    ngx_uint_t                want;         /* page size asked for */
    ngx_http_request_t       *request;      /* for the page's callback */
    ngx_int_t                 status;       /* why the page failed */
    unsigned                  more:1;
} ngx_oci_api_referrers_t;


static ngx_int_t ngx_oci_api_referrers_args(ngx_http_request_t *r,
    ngx_oci_api_referrers_t *q, ngx_str_t *last);
static void ngx_oci_api_referrers_listed(ngx_http_request_t *r, void *data,
    ngx_int_t rc, redisReply *list);
static ngx_int_t ngx_oci_api_referrers_page(ngx_http_request_t *r,
    ngx_oci_api_referrers_t *q, redisReply *list);
static int ngx_oci_api_referrers_entry(void *data, const u_char *id,
    size_t len, int listable);
static ngx_int_t ngx_oci_api_referrers_copy(ngx_pool_t *pool,
    ngx_str_t *dst, redisReply *src);
static ngx_int_t ngx_oci_api_referrers_drop_stale(ngx_http_request_t *r,
    ngx_oci_api_referrers_t *q);
static void ngx_oci_api_referrers_dropped(ngx_http_request_t *r,
    void *data, ngx_int_t rc, redisReply *reply);
static ngx_int_t ngx_oci_api_referrers_send(ngx_http_request_t *r,
    ngx_oci_api_referrers_t *q);
static ngx_int_t ngx_oci_api_referrers_etag(ngx_http_request_t *r,
    ngx_buf_t *body);
static ngx_int_t ngx_oci_api_referrers_link(ngx_http_request_t *r,
    ngx_oci_api_referrers_t *q);
static ngx_int_t ngx_oci_api_referrers_unavailable(ngx_http_request_t *r);


ngx_int_t
ngx_oci_api_referrers(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_str_t                 last;
    ngx_oci_ctx_t            *ctx;
    ngx_oci_loc_conf_t       *olcf;
    ngx_oci_api_referrers_t  *q;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_oci_error(r, NGX_HTTP_NOT_ALLOWED, NGX_OCI_ERR_UNSUPPORTED,
                             "the referrers API answers GET and HEAD");
    }

    ctx = ngx_oci_get_ctx(r);
    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    if (ngx_oci_digest_parse(ctx->ref.data, ctx->ref.len, NULL, NULL, NULL)
        != NGX_OCI_DIGEST_OK)
    {
        return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                             NGX_OCI_ERR_DIGEST_INVALID,
                             "invalid or unsupported subject digest");
    }

    if (olcf->redis.redis == NULL) {

        /* clients fall back to the tag schema on a 404 */

        return ngx_oci_error(r, NGX_HTTP_NOT_FOUND, NGX_OCI_ERR_UNSUPPORTED,
                             "the referrers API needs \"oci_redis\"");
    }

    q = ngx_pcalloc(r->pool, sizeof(ngx_oci_api_referrers_t));
    if (q == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    q->pair.redis = &olcf->redis;
    q->pair.name = ctx->name;
    q->pair.subject = ctx->ref;
    q->want = olcf->referrers_page_size;

    rc = ngx_oci_api_referrers_args(r, q, &last);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_oci_index_list(r, &q->pair, &last, q->want, q->types,
                           ngx_oci_api_referrers_listed, q)
        != NGX_OK)
    {
        return ngx_oci_api_referrers_unavailable(r);
    }

    r->main->count++;

    return NGX_DONE;
}


/* ?n=, ?last= and ?artifactType=a&artifactType=b (any of them) */

static ngx_int_t
ngx_oci_api_referrers_args(ngx_http_request_t *r, ngx_oci_api_referrers_t *q,
    ngx_str_t *last)
{
    u_char     *p;
    ngx_str_t   raw, value, *type;

    if (ngx_oci_arg_count(r, q->want, &q->want) == NGX_ERROR) {
        return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST, NGX_OCI_ERR_UNSUPPORTED,
                             "?n= must be a non-negative integer");
    }

    ngx_str_null(last);

    if (ngx_oci_arg(r, "last", last) == NGX_OK
        && ngx_oci_digest_parse(last->data, last->len, NULL, NULL, NULL)
           != NGX_OCI_DIGEST_OK)
    {
        return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                             NGX_OCI_ERR_DIGEST_INVALID,
                             "?last= must be a digest");
    }

    raw = r->args;

    while (ngx_oci_arg_next(&raw, "artifactType", &value) == NGX_OK) {

        if (q->types == NULL) {
            q->types = ngx_array_create(r->pool, 2, sizeof(ngx_str_t));
            if (q->types == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }

        type = ngx_array_push(q->types);
        if (type == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        type->data = ngx_pnalloc(r->pool, value.len);
        if (type->data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p = type->data;
        ngx_unescape_uri(&p, &value.data, value.len, NGX_UNESCAPE_URI);
        type->len = p - type->data;
    }

    return NGX_OK;
}


static void
ngx_oci_api_referrers_listed(ngx_http_request_t *r, void *data,
    ngx_int_t rc, redisReply *list)
{
    ngx_oci_api_referrers_t  *q = data;

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, ngx_oci_api_referrers_unavailable(r));
        return;
    }

    rc = ngx_oci_api_referrers_page(r, q, list);

    if (rc == NGX_OK) {
        rc = (q->stale->nelts == 0) ? ngx_oci_api_referrers_send(r, q)
                                    : ngx_oci_api_referrers_drop_stale(r, q);
    }

    ngx_http_finalize_request(r, rc);
}


/* the index body of one page, without entries whose manifest is gone */

static ngx_int_t
ngx_oci_api_referrers_page(ngx_http_request_t *r, ngx_oci_api_referrers_t *q,
    redisReply *list)
{
    size_t                size;
    ngx_oci_index_page_t  page;

    q->stale = ngx_array_create(r->pool, 2, sizeof(ngx_str_t));
    if (q->stale == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    size = ngx_oci_index_page_size(list);

    q->body = ngx_create_temp_buf(r->pool, size);
    if (q->body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    q->request = r;

    switch (ngx_oci_index_page(list, q->want, ngx_oci_api_referrers_entry, q,
                               q->body->pos, size, &page))
    {
    case NGX_OCI_INDEX_PAGE_OK:
        break;

    case NGX_OCI_INDEX_PAGE_ERROR:
        return q->status;

    default:
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "oci: the referrers index sent no list");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    q->body->last = q->body->pos + page.len;
    q->more = page.more;

    if (page.last != NGX_OCI_INDEX_PAGE_NONE) {
        return ngx_oci_api_referrers_copy(r->pool, &q->last,
                                          list->element[page.last]);
    }

    return NGX_OK;
}


/* one entry of the page: stored (1), or stale and set aside (0) */

static int
ngx_oci_api_referrers_entry(void *data, const u_char *id, size_t len,
    int listable)
{
    ngx_oci_api_referrers_t *q = data;

    ngx_int_t            rc;
    ngx_str_t            digest, *stale;
    ngx_oci_ctx_t       *ctx;
    ngx_http_request_t  *r;

    r = q->request;
    ctx = ngx_oci_get_ctx(r);

    digest.data = (u_char *) id;
    digest.len = len;

    rc = NGX_DECLINED;

    if (listable) {
        rc = ngx_oci_store_exists(&ctx->store, NGX_OCI_LAYOUT_MANIFEST,
                                  &ctx->name, &digest);
    }

    if (rc == NGX_ERROR) {
        q->status = ngx_oci_error_storage(r);
        return -1;
    }

    if (rc != NGX_DECLINED) {
        return 1;
    }

    stale = ngx_array_push(q->stale);
    if (stale == NULL) {
        q->status = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return -1;
    }

    stale->data = ngx_pnalloc(r->pool, len);
    if (stale->data == NULL) {
        q->status = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return -1;
    }

    ngx_memcpy(stale->data, id, len);
    stale->len = len;

    return 0;
}


/* a reply's string outlives the reply */

static ngx_int_t
ngx_oci_api_referrers_copy(ngx_pool_t *pool, ngx_str_t *dst,
    redisReply *src)
{
    dst->data = ngx_pnalloc(pool, src->len);
    if (dst->data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(dst->data, src->str, src->len);
    dst->len = src->len;

    return NGX_OK;
}


static ngx_int_t
ngx_oci_api_referrers_drop_stale(ngx_http_request_t *r,
    ngx_oci_api_referrers_t *q)
{
    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "oci: dropping %ui referrers of %V in \"%V\" whose "
                  "manifests are not stored", q->stale->nelts,
                  &q->pair.subject, &q->pair.name);

    /* the answer does not wait for this when it cannot be sent */

    if (ngx_oci_index_drop(r, &q->pair, q->types, q->stale,
                           ngx_oci_api_referrers_dropped, q)
        != NGX_OK)
    {
        return ngx_oci_api_referrers_send(r, q);
    }

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_oci_api_referrers_dropped(ngx_http_request_t *r, void *data,
    ngx_int_t rc, redisReply *reply)
{
    ngx_http_finalize_request(r, ngx_oci_api_referrers_send(r, data));
}


static ngx_int_t
ngx_oci_api_referrers_send(ngx_http_request_t *r, ngx_oci_api_referrers_t *q)
{
    static ngx_str_t  index = ngx_string("application/vnd.oci.image.index.v1"
                                         "+json");
    static ngx_str_t  filters = ngx_string("artifactType");

    if (ngx_oci_api_referrers_etag(r, q->body) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (q->types
        && ngx_oci_add_header(r, "OCI-Filters-Applied", &filters) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (q->more && q->last.len && ngx_oci_api_referrers_link(r, q) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_oci_send_body(r, NGX_HTTP_OK, &index, q->body);
}


/* the ETag is the body's own digest: it changes exactly when the list does */

static ngx_int_t
ngx_oci_api_referrers_etag(ngx_http_request_t *r, ngx_buf_t *body)
{
    u_char     hex[2 * 32], md[EVP_MAX_MD_SIZE];
    ngx_str_t  value;

    if (EVP_Digest(body->pos, body->last - body->pos, md, NULL, EVP_sha256(),
                   NULL)
        != 1)
    {
        return NGX_ERROR;
    }

    value.data = hex;
    value.len = ngx_hex_dump(hex, md, 32) - hex;

    return ngx_oci_set_etag(r, &value);
}


/* the next page keeps this page's size and filters */

static ngx_int_t
ngx_oci_api_referrers_link(ngx_http_request_t *r, ngx_oci_api_referrers_t *q)
{
    u_char                *count;
    ngx_str_t              link, *type;
    ngx_uint_t             i, n;
    ngx_oci_link_str_t     rel = NGX_OCI_LINK_LITERAL("next");
    ngx_oci_link_param_t  *params;
    ngx_oci_link_str_t     path[4] = {
        NGX_OCI_LINK_LITERAL("/v2/"),
        { q->pair.name.data, q->pair.name.len },
        NGX_OCI_LINK_LITERAL("/referrers/"),
        { q->pair.subject.data, q->pair.subject.len }
    };

    /*
     * The filters are the decoded ?artifactType= values, escaped again
     * by the builder: none can add a link, a parameter or a header.
     */

    n = 2 + (q->types ? q->types->nelts : 0);

    params = ngx_palloc(r->pool, n * sizeof(ngx_oci_link_param_t));
    count = ngx_pnalloc(r->pool, NGX_INT_T_LEN);

    if (params == NULL || count == NULL) {
        return NGX_ERROR;
    }

    params[0].name.data = (u_char *) "n";
    params[0].name.len = 1;
    params[0].value.data = count;
    params[0].value.len = ngx_sprintf(count, "%ui", q->want) - count;

    params[1].name.data = (u_char *) "last";
    params[1].name.len = 4;
    params[1].value.data = q->last.data;
    params[1].value.len = q->last.len;

    type = q->types ? q->types->elts : NULL;

    for (i = 2; i < n; i++) {
        params[i].name.data = (u_char *) "artifactType";
        params[i].name.len = sizeof("artifactType") - 1;
        params[i].value.data = type[i - 2].data;
        params[i].value.len = type[i - 2].len;
    }

    link.len = ngx_oci_link_header(NULL, path, 4, params, n, &rel);

    link.data = ngx_pnalloc(r->pool, link.len);
    if (link.data == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_oci_link_header(link.data, path, 4, params, n, &rel);

    return ngx_oci_add_header(r, "Link", &link);
}


static ngx_int_t
ngx_oci_api_referrers_unavailable(ngx_http_request_t *r)
{
    return ngx_oci_error_unavailable(r, "5", "the referrers index (redis) is "
                                             "unavailable");
}
