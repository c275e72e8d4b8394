
/*
 * The referrers API: GET /v2/<name>/referrers/<digest>, an image index
 * of the manifests whose subject is <digest>, from the index in Redis.
 *
 * Every read checks that the manifests it is about to list are stored,
 * and leaves out (and drops from the index) any that is not, so a
 * referrer is never listed without its manifest, whatever failed in
 * between. docs/referrers.md explains the guarantees.
 *
 * Pages whose key is bounded by the stored data (the page size, a "last"
 * that is a referrer, at most one artifactType that some referrer has)
 * are cached as files by storage and sent from there without Redis until
 * a writer invalidates the pair (docs/referrers.md, "The page cache").
 */


#include "ngx_oci_api.h"
#include "ngx_oci_grammar.h"
#include "ngx_oci_index.h"
#include "ngx_oci_index_page.h"

#include <openssl/evp.h>


/* ?artifactType= values one request may give; 400 over it */
#define NGX_OCI_REFERRERS_MAX_TYPES     16

/* the filters of a page that may be cached: none or one type */
#define NGX_OCI_REFERRERS_CACHE_TYPES   1


typedef struct {
    ngx_oci_index_pair_t      pair;
    ngx_array_t              *types;        /* ?artifactType=, decoded */
    ngx_array_t              *stale;        /* digests to drop */
    ngx_buf_t                *body;
    ngx_str_t                 last;         /* the next page starts after */
    ngx_str_t                 after;        /* ?last= */
    ngx_uint_t                want;         /* page size asked for */
    ngx_http_request_t       *request;      /* for the page's callback */
    ngx_int_t                 status;       /* why the page failed */
    ngx_str_t                 page;         /* its file name, if cached */
    ngx_fd_t                  dir;          /* the pair's pages */
    ngx_oci_index_facts_t     facts;
    u_char                    etag[64];
    unsigned                  more:1;
    unsigned                  cache:1;      /* the key may be cached */
    unsigned                  have_dir:1;   /* dir opened before the list */
} ngx_oci_api_referrers_t;


static ngx_int_t ngx_oci_api_referrers_args(ngx_http_request_t *r,
    ngx_oci_api_referrers_t *q, ngx_str_t *last);
static ngx_int_t ngx_oci_api_referrers_cached(ngx_http_request_t *r,
    ngx_oci_api_referrers_t *q);
static void ngx_oci_api_referrers_publish(ngx_http_request_t *r,
    ngx_oci_api_referrers_t *q);
static ngx_int_t ngx_oci_api_referrers_headers(ngx_http_request_t *r,
    ngx_oci_api_referrers_t *q);
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
static ngx_int_t ngx_oci_api_referrers_etag(ngx_oci_api_referrers_t *q);
static ngx_int_t ngx_oci_api_referrers_link(ngx_http_request_t *r,
    ngx_oci_api_referrers_t *q);
static ngx_int_t ngx_oci_api_referrers_memory(ngx_http_request_t *r,
    u_char *body, off_t size, ngx_str_t *type);
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

    q->after = last;
    q->cache = olcf->referrers_cache
               && q->want == olcf->referrers_page_size
               && (q->types == NULL
                   || q->types->nelts <= NGX_OCI_REFERRERS_CACHE_TYPES);

    ngx_oci_metrics_count(r, NGX_OCI_METRIC_REFERRERS_QUERIES);

    if (q->cache) {
        rc = ngx_oci_api_referrers_cached(r, q);
        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    if (ngx_oci_index_list(r, &q->pair, &last, q->want, q->types,
                           q->cache ? &q->facts : NULL,
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

        if (q->types && q->types->nelts == NGX_OCI_REFERRERS_MAX_TYPES) {
            return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                                 NGX_OCI_ERR_UNSUPPORTED,
                                 "at most 16 ?artifactType= filters");
        }

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


/*
 * The page from the cache when it is there: NGX_DECLINED when it is not,
 * with the pair's directory opened (if it exists) to publish into once
 * the index has been read, and not before the read.
 */

static ngx_int_t
ngx_oci_api_referrers_cached(ngx_http_request_t *r,
    ngx_oci_api_referrers_t *q)
{
    size_t                 len;
    ngx_int_t              rc;
    ngx_str_t             *type;
    ngx_oci_ctx_t         *ctx;
    ngx_oci_store_page_t   pg;

    static ngx_str_t  index = ngx_string("application/vnd.oci.image.index.v1"
                                         "+json");

    ctx = ngx_oci_get_ctx(r);

    q->page.data = ngx_pnalloc(r->pool, NGX_OCI_LAYOUT_PAGE_NAME_LEN + 1);
    if (q->page.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    type = q->types ? q->types->elts : NULL;

    len = ngx_oci_layout_page_name(q->page.data,
                                   NGX_OCI_LAYOUT_PAGE_NAME_LEN + 1, q->want,
                                   q->after.data, q->after.len,
                                   type ? type->data : NULL,
                                   type ? type->len : 0);
    if (len == 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    q->page.len = len;

    rc = ngx_oci_store_page_open(&ctx->store, &q->pair.name,
                                 &q->pair.subject, &q->page, &pg);

    if (rc == NGX_OK) {
        ngx_oci_metrics_count(r, NGX_OCI_METRIC_REFERRERS_CACHE_HITS);

        ngx_memcpy(q->etag, pg.page.etag, 64);

        q->more = (pg.page.last != NULL);
        q->last.data = (u_char *) pg.page.last;
        q->last.len = pg.page.last_len;

        if (ngx_oci_api_referrers_headers(r, q) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (pg.body != NULL) {
            return ngx_oci_api_referrers_memory(r, pg.body, pg.size, &index);
        }

        return ngx_oci_send_part(r, pg.fd, &pg.path, pg.offset, pg.size,
                                 &index);
    }

    ngx_oci_metrics_count(r, NGX_OCI_METRIC_REFERRERS_CACHE_MISSES);

    /* a page that cannot be read is rendered, and not cached */

    if (rc == NGX_ERROR) {
        q->cache = 0;
        return NGX_DECLINED;
    }

    rc = ngx_oci_store_page_dir(&ctx->store, &q->pair.name,
                                &q->pair.subject, &q->dir);
    if (rc == NGX_ERROR) {
        q->cache = 0;
    }

    q->have_dir = (rc == NGX_OK);

    return NGX_DECLINED;
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

    if (ngx_oci_api_referrers_etag(q) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (q->cache) {
        ngx_oci_api_referrers_publish(r, q);
    }

    if (ngx_oci_api_referrers_headers(r, q) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_oci_send_body(r, NGX_HTTP_OK, &index, q->body);
}


/*
 * A page whose key is bounded by the stored data goes into the pair's
 * directory opened before the index was read (so an invalidation after
 * that read removes it). A pair that has referrers and no directory yet
 * gets one for the next reader; a subject without referrers, none.
 */

static void
ngx_oci_api_referrers_publish(ngx_http_request_t *r,
    ngx_oci_api_referrers_t *q)
{
    u_char          header[NGX_OCI_LAYOUT_PAGE_HEADER];
    ngx_int_t       more;
    ngx_oci_ctx_t  *ctx;

    if (!q->facts.referrers
        || (q->after.len && !q->facts.last)
        || (q->types && !q->facts.types))
    {
        return;
    }

    ctx = ngx_oci_get_ctx(r);

    if (!q->have_dir) {
        (void) ngx_oci_store_page_mkdir(&ctx->store, &q->pair.name,
                                        &q->pair.subject);
        return;
    }

    more = q->more && q->last.len;

    if (ngx_oci_layout_page_header(header, q->etag,
                                   more ? q->last.data : NULL,
                                   more ? q->last.len : 0)
        != 0)
    {
        return;
    }

    (void) ngx_oci_store_page_publish(&ctx->store, q->dir, &q->page, header,
                                      q->body->pos,
                                      q->body->last - q->body->pos);
}


/* ETag, OCI-Filters-Applied and Link, whether the page is cached or not */

static ngx_int_t
ngx_oci_api_referrers_headers(ngx_http_request_t *r,
    ngx_oci_api_referrers_t *q)
{
    ngx_str_t         etag;
    static ngx_str_t  filters = ngx_string("artifactType");

    etag.data = q->etag;
    etag.len = 64;

    if (ngx_oci_set_etag(r, &etag) != NGX_OK) {
        return NGX_ERROR;
    }

    if (q->types
        && ngx_oci_add_header(r, "OCI-Filters-Applied", &filters) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (q->more && q->last.len && ngx_oci_api_referrers_link(r, q) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the ETag is the body's own digest: it changes exactly when the list does */

static ngx_int_t
ngx_oci_api_referrers_etag(ngx_oci_api_referrers_t *q)
{
    u_char  md[EVP_MAX_MD_SIZE];

    if (EVP_Digest(q->body->pos, q->body->last - q->body->pos, md, NULL,
                   EVP_sha256(), NULL)
        != 1)
    {
        return NGX_ERROR;
    }

    (void) ngx_hex_dump(q->etag, md, 32);

    return NGX_OK;
}


/* the next page keeps this page's size and filters */

static ngx_int_t
ngx_oci_api_referrers_link(ngx_http_request_t *r, ngx_oci_api_referrers_t *q)
{
    ngx_str_t             *type;
    ngx_uint_t             i, n;
    ngx_oci_link_param_t  *params;
    ngx_oci_link_str_t     path[4] = {
        NGX_OCI_LINK_LITERAL("/v2/"),
        { q->pair.name.data, q->pair.name.len },
        NGX_OCI_LINK_LITERAL("/referrers/"),
        { q->pair.subject.data, q->pair.subject.len }
    };

    /* the filters are the decoded ?artifactType= values, escaped again */

    n = 2 + (q->types ? q->types->nelts : 0);

    params = ngx_palloc(r->pool, n * sizeof(ngx_oci_link_param_t));
    if (params == NULL) {
        return NGX_ERROR;
    }

    type = q->types ? q->types->elts : NULL;

    for (i = 2; i < n; i++) {
        ngx_str_set(&params[i].name, "artifactType");
        params[i].value.data = type[i - 2].data;
        params[i].value.len = type[i - 2].len;
    }

    return ngx_oci_add_next_link(r, path, 4, q->want, &q->last, params, n);
}


/* a small cached page, read whole: its body from memory */

static ngx_int_t
ngx_oci_api_referrers_memory(ngx_http_request_t *r, u_char *body, off_t size,
    ngx_str_t *type)
{
    ngx_buf_t  *b;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = body;
    b->last = body + size;
    b->memory = 1;

    return ngx_oci_send_body(r, NGX_HTTP_OK, type, b);
}


static ngx_int_t
ngx_oci_api_referrers_unavailable(ngx_http_request_t *r)
{
    return ngx_oci_error_unavailable(r, "5", "the referrers index (redis) is "
                                             "unavailable");
}
