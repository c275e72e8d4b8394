
/*
 * Mirrors (oci_proxy, docs/mirrors.md): pulls of a location that is a
 * pull-through cache of upstream registries. What storage holds is
 * served by the blobs and manifests endpoints, handed in as "serve";
 * what it does not is fetched from the upstream through a subrequest to
 * the upstream's internal location (ngx_oci_fetch), checked against its
 * digest, stored, and served.
 *
 *   blob:      streamed to the client as it arrives, hashed and written
 *              to a fill file, published when the digest verifies; the
 *              connection is cut before the last bytes when it does not
 *   manifest:  gathered, checked, stored, then served from storage
 *   tag:       served from storage until oci_proxy_tag_ttl has passed,
 *              then revalidated with a HEAD; stale when the upstream
 *              fails
 *
 * Credentials: a 401 with a Bearer challenge sends the challenge's realm
 * (through oci_proxy_follow) a token request, and the token, kept by
 * the worker per upstream and scope, goes with the retry.
 */


#include "ngx_oci_api.h"
#include "ngx_oci_grammar.h"
#include "ngx_oci_index.h"
#include "ngx_oci_index_schema.h"
#include "ngx_oci_manifest_check.h"
#include "ngx_oci_challenge.h"


/* between two looks at a blob another request is filling */
#define NGX_OCI_PROXY_WAIT_STEP     100

/* redirects and credentials followed for one pull */
#define NGX_OCI_PROXY_HOPS          4

/* the tokens a worker keeps per upstream */
#define NGX_OCI_PROXY_TOKENS        64

/* the longest token request: every byte of realm, service, scope escaped */
#define NGX_OCI_PROXY_TOKEN_URL     8192

/* the upstream's referrers of a subject a mirror fetches */
#define NGX_OCI_PROXY_REFERRERS_MAX 256

/* a token is not used in its last seconds */
#define NGX_OCI_PROXY_TOKEN_MARGIN  10

#define NGX_OCI_PROXY_TOKEN_SIZE    (sizeof("Bearer ") - 1                \
                                     + NGX_OCI_CHALLENGE_TOKEN_MAX + 1)

#define NGX_OCI_PROXY_ACCEPT                                                 \
    NGX_OCI_MEDIA_OCI_MANIFEST ", " NGX_OCI_MEDIA_OCI_INDEX ", "             \
    NGX_OCI_MEDIA_DOCKER_MANIFEST ", " NGX_OCI_MEDIA_DOCKER_LIST


/* what a fetch of the endpoint asks the upstream for */
typedef enum {
    NGX_OCI_PROXY_BLOB = 0,
    NGX_OCI_PROXY_MANIFEST,
    NGX_OCI_PROXY_REFERRERS,        /* the referrers API */
    NGX_OCI_PROXY_REFERRERS_TAG,    /* the spec's fallback tag */
    NGX_OCI_PROXY_REFERRER          /* a manifest the list names */
} ngx_oci_proxy_kind_e;


typedef struct {
    ngx_oci_proxy_upstream_t *up;
    ngx_oci_retry_pt          serve;        /* answers from storage */
    ngx_oci_retry_pt          then;         /* after indexing */
    ngx_oci_proxy_kind_e      kind;
    ngx_str_t                 base;         /* "<uri>v2/<name>/" */
    size_t                    base_len;     /* of base without a path */
    ngx_str_t                 remote;       /* the name upstream */
    ngx_str_t                 ref;          /* the reference upstream */
    ngx_str_t                 digest;       /* of a manifest stored */
    ngx_oci_index_pair_t      pair;         /* its subject, to index */
    ngx_array_t              *list;         /* referrers upstream */
    ngx_uint_t                next;
    size_t                    size;         /* of the manifest stored */
    ngx_str_t                 scope;        /* of a token for it */
    ngx_str_t                 stored;       /* the tag's digest here */
    ngx_oci_fetch_t           fetch;
    ngx_oci_fetch_t           token;
    ngx_oci_fill_t           *fill;
    ngx_oci_sha2_t            sha;
    off_t                     length;       /* the upstream's, or -1 */
    off_t                     received;
    time_t                    deadline;     /* of waiting for a fill */
    ngx_uint_t                hops;
    unsigned                  head:1;       /* asks the upstream HEAD */
    unsigned                  tag:1;
    unsigned                  passthrough:1;    /* nothing stored */
    unsigned                  blind:1;      /* bytes not seen */
    unsigned                  verified:1;
    unsigned                  fresh_token:1;
    unsigned                  basic_sent:1;
} ngx_oci_proxy_t;


static ngx_int_t ngx_oci_api_proxy_missing(ngx_http_request_t *r,
    ngx_int_t rc, ngx_oci_err_e err);
static ngx_int_t ngx_oci_api_proxy_blob(ngx_http_request_t *r);
static ngx_int_t ngx_oci_api_proxy_blob_header(ngx_http_request_t *r,
    ngx_oci_fetch_t *f);
static ngx_int_t ngx_oci_api_proxy_blob_data(ngx_http_request_t *r,
    ngx_oci_fetch_t *f, u_char *p, size_t len, ngx_uint_t last);
static ngx_int_t ngx_oci_api_proxy_blob_done(ngx_http_request_t *r,
    ngx_oci_fetch_t *f);
static ngx_int_t ngx_oci_api_proxy_blob_send_header(ngx_http_request_t *r,
    off_t length);
static ngx_int_t ngx_oci_api_proxy_blob_relay(ngx_http_request_t *r,
    ngx_oci_fetch_t *f);
static ngx_int_t ngx_oci_api_proxy_manifest(ngx_http_request_t *r);
static ngx_int_t ngx_oci_api_proxy_manifest_header(ngx_http_request_t *r,
    ngx_oci_fetch_t *f);
static ngx_int_t ngx_oci_api_proxy_manifest_done(ngx_http_request_t *r,
    ngx_oci_fetch_t *f);
static ngx_int_t ngx_oci_api_proxy_revalidated(ngx_http_request_t *r,
    ngx_oci_proxy_t *px, ngx_oci_fetch_t *f);
static ngx_int_t ngx_oci_api_proxy_store(ngx_http_request_t *r,
    ngx_oci_proxy_t *px, ngx_oci_fetch_t *f);
static ngx_int_t ngx_oci_api_proxy_stored(ngx_http_request_t *r);
static ngx_int_t ngx_oci_api_proxy_save(ngx_http_request_t *r,
    ngx_oci_proxy_t *px, ngx_oci_fetch_t *f, ngx_oci_manifest_t *mf);
static ngx_int_t ngx_oci_api_proxy_index(ngx_http_request_t *r,
    ngx_oci_proxy_t *px, ngx_oci_manifest_t *mf, ngx_oci_retry_pt then);
static void ngx_oci_api_proxy_indexed(ngx_http_request_t *r, void *data,
    ngx_int_t rc, redisReply *reply);
static ngx_int_t ngx_oci_api_proxy_referrers(ngx_http_request_t *r);
static ngx_int_t ngx_oci_api_proxy_referrers_done(ngx_http_request_t *r,
    ngx_oci_fetch_t *f);
static ngx_int_t ngx_oci_api_proxy_referrers_next(ngx_http_request_t *r);
static ngx_int_t ngx_oci_api_proxy_referrer_done(ngx_http_request_t *r,
    ngx_oci_fetch_t *f);
static ngx_int_t ngx_oci_api_proxy_tag(ngx_http_request_t *r,
    ngx_oci_proxy_t *px, ngx_str_t *digest);
static ngx_int_t ngx_oci_api_proxy_names(ngx_http_request_t *r,
    ngx_oci_proxy_t *px);
static ngx_int_t ngx_oci_api_proxy_start(ngx_http_request_t *r,
    ngx_oci_proxy_t *px);
static ngx_int_t ngx_oci_api_proxy_answer(ngx_http_request_t *r,
    ngx_oci_proxy_t *px, ngx_oci_fetch_t *f);
static ngx_int_t ngx_oci_api_proxy_auth(ngx_http_request_t *r,
    ngx_oci_proxy_t *px, ngx_oci_fetch_t *f);
static ngx_oci_challenge_t *ngx_oci_api_proxy_challenge(
    ngx_http_request_t *r, ngx_oci_fetch_t *f);
static ngx_int_t ngx_oci_api_proxy_token_header(ngx_http_request_t *r,
    ngx_oci_fetch_t *f);
static ngx_int_t ngx_oci_api_proxy_token_done(ngx_http_request_t *r,
    ngx_oci_fetch_t *f);
static ngx_oci_proxy_token_t *ngx_oci_api_proxy_token_find(
    ngx_oci_proxy_upstream_t *up, ngx_str_t *scope, ngx_uint_t slot);
static ngx_int_t ngx_oci_api_proxy_credentials(ngx_conf_t *cf,
    ngx_str_t *param, ngx_oci_proxy_upstream_t *up);
static ngx_int_t ngx_oci_api_proxy_unavailable(ngx_http_request_t *r,
    ngx_uint_t status, const char *fmt, ngx_uint_t n);


/*
 * A GET or HEAD of a blob or a manifest on a mirror location; "serve" is
 * the endpoint that answers it from storage.
 */

ngx_int_t
ngx_oci_api_proxy(ngx_http_request_t *r, ngx_oci_retry_pt serve)
{
    ngx_str_t                  ns;
    ngx_uint_t                 i;
    ngx_oci_ctx_t             *ctx;
    ngx_oci_proxy_t           *px;
    ngx_oci_loc_conf_t        *olcf;
    ngx_oci_proxy_upstream_t  *up;

    ctx = ngx_oci_get_ctx(r);
    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    up = olcf->proxy.dflt;

    if (ngx_oci_arg(r, "ns", &ns) == NGX_OK) {
        up = olcf->proxy.upstreams->elts;

        for (i = 0; i < olcf->proxy.upstreams->nelts; i++) {
            if (up[i].host.len == ns.len
                && ngx_strncasecmp(up[i].host.data, ns.data, ns.len) == 0)
            {
                break;
            }
        }

        up = (i < olcf->proxy.upstreams->nelts) ? &up[i] : NULL;
    }

    /* no upstream for it: what storage holds, and nothing else */

    if (up == NULL) {
        return serve(r);
    }

    if (ngx_oci_add_header(r, "OCI-Namespace", &up->host) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    px = ngx_pcalloc(r->pool, sizeof(ngx_oci_proxy_t));
    if (px == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    px->up = up;
    px->serve = serve;
    px->ref = ctx->ref;
    px->length = -1;
    ctx->endpoint = px;

    /* what a miss needs is made by ngx_oci_api_proxy_names() */

    switch (ctx->route.endpoint) {

    case NGX_OCI_EP_BLOB:
        px->kind = NGX_OCI_PROXY_BLOB;
        return ngx_oci_api_proxy_blob(r);

    case NGX_OCI_EP_REFERRERS:
        return ngx_oci_api_proxy_referrers(r);

    default: /* NGX_OCI_EP_MANIFEST */
        px->kind = NGX_OCI_PROXY_MANIFEST;
        px->tag = ngx_strlchr(ctx->ref.data, ctx->ref.data + ctx->ref.len,
                              ':')
                  == NULL;

        return ngx_oci_api_proxy_manifest(r);
    }
}


/* the writes a read-only mirror refuses */

ngx_int_t
ngx_oci_api_proxy_refuse(ngx_http_request_t *r)
{
    return ngx_oci_error(r, NGX_HTTP_NOT_ALLOWED, NGX_OCI_ERR_UNSUPPORTED,
                         "this registry is a read-only mirror "
                         "(oci_proxy_push off)");
}


/*
 * Whether "serve" found nothing (its 404 with the error code "err"): the
 * error it recorded is forgotten, the request goes on upstream.
 */

static ngx_int_t
ngx_oci_api_proxy_missing(ngx_http_request_t *r, ngx_int_t rc,
    ngx_oci_err_e err)
{
    ngx_oci_ctx_t  *ctx;

    ctx = ngx_oci_get_ctx(r);

    if (rc != NGX_HTTP_NOT_FOUND || ctx->err != err) {
        return 0;
    }

    ctx->err = NGX_OCI_ERR_NONE;
    ngx_str_null(&ctx->err_message);
    ngx_str_null(&ctx->err_detail);

    return 1;
}


/*
 * A blob: served if stored; else fetched by this request, or, while
 * another one fetches it, looked for again every NGX_OCI_PROXY_WAIT_STEP
 * until oci_proxy_wait is over (then fetched without being stored).
 */

static ngx_int_t
ngx_oci_api_proxy_blob(ngx_http_request_t *r)
{
    ngx_int_t            rc;
    ngx_str_t            path;
    ngx_oci_ctx_t       *ctx;
    ngx_oci_proxy_t     *px;
    ngx_oci_loc_conf_t  *olcf;

    ctx = ngx_oci_get_ctx(r);
    px = ctx->endpoint;

    /* while waiting, a look that logs nothing: the blobs endpoint would */

    if (px->deadline) {
        if (ngx_oci_store_blob_path(&ctx->store, &ctx->name, &ctx->digest,
                                    &path)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rc = ngx_oci_store_file_exists(&ctx->store, &path);

        if (rc == NGX_ERROR) {
            return ngx_oci_error_storage(r);
        }

        if (rc == NGX_OK) {
            return px->serve(r);
        }

    } else {
        rc = px->serve(r);

        if (!ngx_oci_api_proxy_missing(r, rc, NGX_OCI_ERR_BLOB_UNKNOWN)) {
            return rc;
        }
    }

    if (r->method == NGX_HTTP_HEAD) {
        px->head = 1;
        return ngx_oci_api_proxy_start(r, px);
    }

    rc = ngx_oci_store_fill_open(&ctx->store, &ctx->digest, &px->fill);

    if (rc == NGX_BUSY) {
        olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

        if (px->deadline == 0) {
            px->deadline = ngx_time() + olcf->proxy.wait / 1000;
        }

        if (ngx_time() < px->deadline) {
            return ngx_oci_retry_in(r, ngx_oci_api_proxy_blob,
                                    NGX_OCI_PROXY_WAIT_STEP);
        }

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "oci: \"%V\" is still being fetched by another "
                      "request after oci_proxy_wait: fetched again, "
                      "not stored", &ctx->digest);

        px->passthrough = 1;

    } else if (rc == NGX_ERROR) {

        /* storage said why; the client can still have the blob */

        px->passthrough = 1;
    }

    return ngx_oci_api_proxy_start(r, px);
}


static ngx_int_t
ngx_oci_api_proxy_blob_header(ngx_http_request_t *r, ngx_oci_fetch_t *f)
{
    int               alg;
    ngx_int_t         rc;
    ngx_oci_ctx_t    *ctx;
    ngx_oci_proxy_t  *px;

    px = f->ctx;

    if (f->status != NGX_HTTP_OK || px->head) {
        return NGX_DECLINED;
    }

    ctx = ngx_oci_get_ctx(r);

    (void) ngx_oci_digest_parse(ctx->digest.data, ctx->digest.len, &alg,
                                NULL, NULL);
    ngx_oci_sha2_init(&px->sha, alg);

    px->length = f->sr->headers_out.content_length_n;

    rc = ngx_oci_api_proxy_blob_send_header(r, px->length);

    if (rc == NGX_ERROR || rc > NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Each buffer of the upstream's body before the client gets it: hashed,
 * written to the fill file; the buffer that completes the blob is held
 * back, and the connection cut, when the digest is not the one asked for.
 */

static ngx_int_t
ngx_oci_api_proxy_blob_data(ngx_http_request_t *r, ngx_oci_fetch_t *f,
    u_char *p, size_t len, ngx_uint_t last)
{
    u_char            md[64];
    ngx_str_t         got;
    ngx_oci_ctx_t    *ctx;
    ngx_oci_proxy_t  *px;

    px = f->ctx;
    ctx = ngx_oci_get_ctx(r);

    if (px->verified || px->blind) {
        return NGX_OK;
    }

    if (f->in_file) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "oci: the upstream's body of \"%V\" was buffered to a "
                      "file, not stored (set proxy_max_temp_file_size 0 in "
                      "the upstream's location)", &ctx->digest);

        px->blind = 1;

        if (px->fill) {
            ngx_oci_store_fill_abandon(px->fill);
            px->fill = NULL;
        }

        return NGX_OK;
    }

    if (len) {
        ngx_oci_sha2_update(&px->sha, p, len);
        px->received += len;

        if (px->fill && ngx_oci_store_fill_append(px->fill, p, len) != NGX_OK)
        {
            ngx_oci_store_fill_abandon(px->fill);
            px->fill = NULL;
        }
    }

    if (px->length >= 0 ? px->received < px->length : !last) {
        return NGX_OK;
    }

    (void) ngx_oci_sha2_final(&px->sha, md);

    if (ngx_oci_store_digest(r->pool, px->sha.alg, md, &got) != NGX_OK) {
        return NGX_ERROR;
    }

    if (got.len == ctx->digest.len
        && ngx_strncmp(got.data, ctx->digest.data, got.len) == 0)
    {
        px->verified = 1;
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "oci: the upstream sent \"%V\" with the digest \"%V\" "
                  "(%O bytes): not stored, connection closed",
                  &ctx->digest, &got, px->received);

    if (px->fill) {
        ngx_oci_store_fill_abandon(px->fill);
        px->fill = NULL;
    }

    return NGX_ERROR;
}


static ngx_int_t
ngx_oci_api_proxy_blob_done(ngx_http_request_t *r, ngx_oci_fetch_t *f)
{
    ngx_oci_ctx_t    *ctx;
    ngx_oci_proxy_t  *px;

    px = f->ctx;
    ctx = ngx_oci_get_ctx(r);

    if (!f->streaming) {

        if (px->head && f->status == NGX_HTTP_OK) {
            return ngx_oci_api_proxy_blob_relay(r, f);
        }

        /*
         * the fill is kept across a redirect or the token dance; an
         * error answered ends the request, and the pool removes it
         */

        return ngx_oci_api_proxy_answer(r, px, f);
    }

    /* the header went out: an incomplete blob can only cut the stream */

    if (f->failed || !(px->verified || px->blind)) {
        return NGX_ERROR;
    }

    if (px->fill) {
        (void) ngx_oci_store_fill_publish(px->fill, &ctx->name);
        px->fill = NULL;
    }

    return ngx_http_send_special(r, NGX_HTTP_LAST);
}


/* the client's header for a blob of "length" bytes from the upstream */

static ngx_int_t
ngx_oci_api_proxy_blob_send_header(ngx_http_request_t *r, off_t length)
{
    ngx_oci_ctx_t  *ctx;

    static ngx_str_t  octet = ngx_string("application/octet-stream");

    ctx = ngx_oci_get_ctx(r);

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = length;
    r->headers_out.content_type = octet;
    r->headers_out.content_type_len = octet.len;

    if (ngx_oci_add_header(r, "Docker-Content-Digest", &ctx->digest)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_send_header(r);
}


/* a HEAD of a blob not stored: the upstream's answer, nothing stored */

static ngx_int_t
ngx_oci_api_proxy_blob_relay(ngx_http_request_t *r, ngx_oci_fetch_t *f)
{
    ngx_int_t  rc;

    rc = ngx_oci_api_proxy_blob_send_header(r,
                                       f->sr->headers_out.content_length_n);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_send_special(r, NGX_HTTP_LAST);
}


/*
 * A manifest: by digest, served if stored, else fetched; by tag, served
 * while the tag is younger than oci_proxy_tag_ttl, else revalidated
 * with a HEAD of the tag (fetched whole when never seen).
 */

static ngx_int_t
ngx_oci_api_proxy_manifest(ngx_http_request_t *r)
{
    time_t               written;
    ngx_int_t            rc;
    ngx_oci_ctx_t       *ctx;
    ngx_oci_proxy_t     *px;
    ngx_oci_loc_conf_t  *olcf;

    ctx = ngx_oci_get_ctx(r);
    px = ctx->endpoint;
    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    if (!px->tag) {
        rc = px->serve(r);

        if (!ngx_oci_api_proxy_missing(r, rc, NGX_OCI_ERR_MANIFEST_UNKNOWN)) {
            return rc;
        }

        return ngx_oci_api_proxy_start(r, px);
    }

    if (!ngx_oci_tag_valid(ctx->ref.data, ctx->ref.len)) {
        return px->serve(r);
    }

    rc = ngx_oci_store_tag_age(&ctx->store, &ctx->name, &ctx->ref,
                               &px->stored, &written);

    if (rc == NGX_ERROR) {
        return ngx_oci_error_storage(r);
    }

    if (rc == NGX_OK) {
        if (ngx_time() - written < olcf->proxy.tag_ttl) {
            return px->serve(r);
        }

        px->head = 1;

    } else {
        ngx_str_null(&px->stored);
    }

    return ngx_oci_api_proxy_start(r, px);
}


static ngx_int_t
ngx_oci_api_proxy_manifest_header(ngx_http_request_t *r, ngx_oci_fetch_t *f)
{
    ngx_oci_proxy_t  *px;

    px = f->ctx;

    return (f->status == NGX_HTTP_OK && !px->head) ? NGX_AGAIN
                                                   : NGX_DECLINED;
}


static ngx_int_t
ngx_oci_api_proxy_manifest_done(ngx_http_request_t *r, ngx_oci_fetch_t *f)
{
    ngx_uint_t        status;
    ngx_oci_proxy_t  *px;

    static ngx_str_t  stale = ngx_string("110 - \"Response is Stale\"");

    px = f->ctx;
    status = f->status;

    if (status == NGX_HTTP_OK && !f->failed) {
        return px->head ? ngx_oci_api_proxy_revalidated(r, px, f)
                        : ngx_oci_api_proxy_store(r, px, f);
    }

    /* the upstream is away: a tag stored is better than nothing */

    if (px->stored.len
        && (status == 0 || status >= NGX_HTTP_INTERNAL_SERVER_ERROR
            || f->failed))
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "oci: the upstream answered %ui: stale tag served",
                      status);

        if (ngx_oci_add_header(r, "Warning", &stale) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return px->serve(r);
    }

    /*
     * a tag the upstream does not have was pushed here (oci_proxy_push):
     * it stays, renewed, and is asked about again after the TTL
     */

    if (px->stored.len && status == NGX_HTTP_NOT_FOUND) {
        return ngx_oci_api_proxy_tag(r, px, &px->stored);
    }

    return ngx_oci_api_proxy_answer(r, px, f);
}


/*
 * The upstream's HEAD of a tag: the same digest renews the tag; another
 * one stored already is tagged; else the manifest is fetched by digest.
 */

static ngx_int_t
ngx_oci_api_proxy_revalidated(ngx_http_request_t *r, ngx_oci_proxy_t *px,
    ngx_oci_fetch_t *f)
{
    ngx_int_t         rc;
    ngx_str_t         digest, path, type;
    ngx_oci_ctx_t    *ctx;
    ngx_table_elt_t  *h;

    ctx = ngx_oci_get_ctx(r);
    px->head = 0;

    h = ngx_oci_fetch_header_out(f, "Docker-Content-Digest");

    if (h == NULL
        || ngx_oci_digest_parse(h->value.data, h->value.len, NULL, NULL,
                                NULL)
           != NGX_OCI_DIGEST_OK)
    {
        /* no digest to compare: the manifest itself, by tag */
        return ngx_oci_api_proxy_start(r, px);
    }

    digest.len = h->value.len;
    digest.data = ngx_pstrdup(r->pool, &h->value);
    if (digest.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_oci_store_manifest_locate(&ctx->store, &ctx->name, &digest,
                                       &path, &type);

    if (rc == NGX_ERROR) {
        return ngx_oci_error_storage(r);
    }

    if (rc == NGX_OK) {
        return ngx_oci_api_proxy_tag(r, px, &digest);
    }

    px->ref = digest;

    return ngx_oci_api_proxy_start(r, px);
}


/* a manifest the upstream sent whole: checked, stored, tagged, served */

static ngx_int_t
ngx_oci_api_proxy_store(ngx_http_request_t *r, ngx_oci_proxy_t *px,
    ngx_oci_fetch_t *f)
{
    ngx_int_t           rc;
    ngx_oci_manifest_t  mf;

    rc = ngx_oci_api_proxy_save(r, px, f, &mf);

    if (rc == NGX_DECLINED) {
        return ngx_oci_api_proxy_unavailable(r, NGX_HTTP_BAD_GATEWAY,
                   "the upstream's manifest is not one to store (the "
                   "error log says why)", 0);
    }

    if (rc != NGX_OK) {
        return ngx_oci_error_storage(r);
    }

    return ngx_oci_api_proxy_index(r, px, &mf, ngx_oci_api_proxy_stored);
}


static ngx_int_t
ngx_oci_api_proxy_stored(ngx_http_request_t *r)
{
    ngx_oci_ctx_t    *ctx;
    ngx_oci_proxy_t  *px;

    ctx = ngx_oci_get_ctx(r);
    px = ctx->endpoint;

    if (px->tag) {
        return ngx_oci_api_proxy_tag(r, px, &px->digest);
    }

    return px->serve(r);
}


/*
 * The gathered manifest: its digest checked when it was asked for by
 * one, parsed, and stored (px->digest). NGX_OK with "mf" parsed (freed
 * by ngx_oci_api_proxy_index()), NGX_DECLINED when the upstream's bytes
 * are not a manifest to store (logged), NGX_ERROR (storage).
 */

static ngx_int_t
ngx_oci_api_proxy_save(ngx_http_request_t *r, ngx_oci_proxy_t *px,
    ngx_oci_fetch_t *f, ngx_oci_manifest_t *mf)
{
    int             alg, rc;
    u_char          md[64];
    ngx_str_t       body, type, ct;
    ngx_uint_t      added;
    ngx_oci_ctx_t  *ctx;
    ngx_oci_sha2_t  sha;

    ctx = ngx_oci_get_ctx(r);

    if (f->truncated || f->body == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oci: the upstream's manifest \"%V\" is empty or "
                      "larger than oci_max_manifest_size: not stored",
                      &px->ref);
        return NGX_DECLINED;
    }

    body.data = f->body->pos;
    body.len = f->body->last - f->body->pos;

    alg = NGX_OCI_SHA256;

    if (ngx_strlchr(px->ref.data, px->ref.data + px->ref.len, ':')) {
        (void) ngx_oci_digest_parse(px->ref.data, px->ref.len, &alg, NULL,
                                    NULL);
    }

    ngx_oci_sha2_init(&sha, alg);
    ngx_oci_sha2_update(&sha, body.data, body.len);
    (void) ngx_oci_sha2_final(&sha, md);

    if (ngx_oci_store_digest(r->pool, alg, md, &px->digest) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_strlchr(px->ref.data, px->ref.data + px->ref.len, ':')
        && (px->digest.len != px->ref.len
            || ngx_strncmp(px->digest.data, px->ref.data, px->ref.len) != 0))
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oci: the upstream sent manifest \"%V\" with the "
                      "digest \"%V\": not stored", &px->ref, &px->digest);
        return NGX_DECLINED;
    }

    ngx_str_null(&ct);
    if (f->sr->headers_out.content_type.len) {
        ct = f->sr->headers_out.content_type;
    }

    rc = ngx_oci_manifest_parse(body.data, body.len, ct.data, ct.len, mf);

    if (rc != NGX_OCI_MANIFEST_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oci: the upstream's manifest \"%V\" is not stored: "
                      "%s", &px->digest, mf->error);
        ngx_oci_manifest_free(mf);
        return NGX_DECLINED;
    }

    type.len = ngx_strlen(mf->media_type);
    type.data = (u_char *) mf->media_type;

    px->size = body.len;

    if (ngx_oci_store_manifest_save(&ctx->store, &ctx->name, &px->digest,
                                    &body, &type, &added)
        != NGX_OK)
    {
        ngx_oci_manifest_free(mf);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * A stored manifest with a subject goes into the referrers index, as a
 * pushed one does, before "then" runs; "mf" is freed. Should Redis fail,
 * the manifest stays stored, unlisted until oci-admin reindex (logged).
 */

static ngx_int_t
ngx_oci_api_proxy_index(ngx_http_request_t *r, ngx_oci_proxy_t *px,
    ngx_oci_manifest_t *mf, ngx_oci_retry_pt then)
{
    size_t               len;
    ngx_int_t            rc;
    const u_char        *p;
    ngx_str_t            descriptor;
    ngx_oci_ctx_t       *ctx;
    ngx_oci_loc_conf_t  *olcf;

    ctx = ngx_oci_get_ctx(r);
    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    if (mf->subject == NULL || olcf->redis.redis == NULL
        || ngx_oci_descriptor_digest(mf->subject, &p, &len, NULL)
           != NGX_OCI_DIGEST_OK)
    {
        ngx_oci_manifest_free(mf);
        return then(r);
    }

    px->pair.redis = &olcf->redis;
    px->pair.name = ctx->name;
    px->pair.subject.len = len;
    px->pair.subject.data = ngx_pnalloc(r->pool, len);

    if (px->pair.subject.data != NULL) {
        ngx_memcpy(px->pair.subject.data, p, len);
    }

    /* p is in the document: copied before it is freed */

    rc = ngx_oci_index_describe(r->pool, mf, &px->digest, px->size,
                                &descriptor);

    ngx_oci_manifest_free(mf);

    if (rc != NGX_OK || px->pair.subject.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    px->then = then;

    if (ngx_oci_index_add(r, &px->pair, &px->digest, &descriptor,
                          ngx_oci_api_proxy_indexed, px)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oci: the upstream's referrer \"%V\" is stored but "
                      "not indexed", &px->digest);
        return then(r);
    }

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_oci_api_proxy_indexed(ngx_http_request_t *r, void *data, ngx_int_t rc,
    redisReply *reply)
{
    ngx_oci_ctx_t    *ctx;
    ngx_oci_proxy_t  *px = data;

    ctx = ngx_oci_get_ctx(r);

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oci: the upstream's referrer \"%V\" is stored but "
                      "not indexed", &px->digest);

    } else {
        (void) ngx_oci_store_page_invalidate(&ctx->store, &ctx->name,
                                             &px->pair.subject);
    }

    ngx_http_finalize_request(r, px->then(r));
}


/*
 * Referrers of a subject: the upstream's list (the referrers API, or the
 * spec's fallback tag "<alg>-<hex>") is fetched at most once per
 * oci_proxy_tag_ttl, each manifest it names that is not stored is
 * fetched, stored and indexed, and the local endpoint answers: the
 * upstream's referrers and the ones pushed here, from one index.
 */

static ngx_int_t
ngx_oci_api_proxy_referrers(ngx_http_request_t *r)
{
    time_t               when;
    ngx_int_t            rc;
    ngx_oci_ctx_t       *ctx;
    ngx_oci_proxy_t     *px;
    ngx_oci_loc_conf_t  *olcf;

    ctx = ngx_oci_get_ctx(r);
    px = ctx->endpoint;
    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    if (olcf->redis.redis == NULL
        || ngx_oci_digest_parse(ctx->ref.data, ctx->ref.len, NULL, NULL,
                                NULL)
           != NGX_OCI_DIGEST_OK)
    {
        return px->serve(r);
    }

    rc = ngx_oci_store_page_synced(&ctx->store, &ctx->name, &ctx->ref,
                                   &when);

    if (rc == NGX_ERROR) {
        return ngx_oci_error_storage(r);
    }

    if (rc == NGX_OK && ngx_time() - when < olcf->proxy.tag_ttl) {
        return px->serve(r);
    }

    px->kind = NGX_OCI_PROXY_REFERRERS;

    return ngx_oci_api_proxy_start(r, px);
}


static ngx_int_t
ngx_oci_api_proxy_referrers_done(ngx_http_request_t *r, ngx_oci_fetch_t *f)
{
    u_char             *p;
    size_t              len, i, n;
    ngx_str_t          *d;
    ngx_oci_ctx_t      *ctx;
    ngx_oci_proxy_t    *px;
    ngx_oci_manifest_t  mf;

    px = f->ctx;
    ctx = ngx_oci_get_ctx(r);

    px->list = ngx_array_create(r->pool, 8, sizeof(ngx_str_t));
    if (px->list == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    px->next = 0;

    if (f->status == NGX_HTTP_NOT_FOUND
        && px->kind == NGX_OCI_PROXY_REFERRERS)
    {
        /* no referrers API upstream: its fallback tag, "<alg>-<hex>" */

        px->kind = NGX_OCI_PROXY_REFERRERS_TAG;
        px->ref.data = ngx_pstrdup(r->pool, &ctx->ref);
        if (px->ref.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p = ngx_strlchr(px->ref.data, px->ref.data + px->ref.len, ':');
        *p = '-';

        return ngx_oci_api_proxy_start(r, px);
    }

    if (f->status == NGX_HTTP_NOT_FOUND) {
        return ngx_oci_api_proxy_referrers_next(r);
    }

    if (f->status == NGX_HTTP_UNAUTHORIZED
        || (f->status >= NGX_HTTP_MOVED_PERMANENTLY
            && f->status <= NGX_HTTP_PERMANENT_REDIRECT))
    {
        return ngx_oci_api_proxy_answer(r, px, f);
    }

    if (f->status != NGX_HTTP_OK || f->failed || f->truncated
        || f->body == NULL)
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "oci: the upstream's referrers of \"%V\" are "
                      "unavailable (%ui): the local ones are listed",
                      &ctx->ref, f->status);

        return px->serve(r);
    }

    if (ngx_oci_manifest_parse(f->body->pos, f->body->last - f->body->pos,
                               (u_char *) NGX_OCI_MEDIA_OCI_INDEX,
                               sizeof(NGX_OCI_MEDIA_OCI_INDEX) - 1, &mf)
        != NGX_OCI_MANIFEST_OK
        || mf.manifests == NULL)
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "oci: the upstream's referrers of \"%V\" are not "
                      "an image index: the local ones are listed",
                      &ctx->ref);
        ngx_oci_manifest_free(&mf);

        return px->serve(r);
    }

    n = ngx_min(json_array_size(mf.manifests), NGX_OCI_PROXY_REFERRERS_MAX);

    for (i = 0; i < n; i++) {
        if (ngx_oci_descriptor_digest(json_array_get(mf.manifests, i),
                                      (const u_char **) &p, &len, NULL)
            != NGX_OCI_DIGEST_OK)
        {
            continue;
        }

        d = ngx_array_push(px->list);
        if (d == NULL) {
            ngx_oci_manifest_free(&mf);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        d->len = len;
        d->data = ngx_pnalloc(r->pool, len);
        if (d->data == NULL) {
            ngx_oci_manifest_free(&mf);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(d->data, p, len);
    }

    ngx_oci_manifest_free(&mf);

    return ngx_oci_api_proxy_referrers_next(r);
}


/* the next referrer of the list not stored here; then the answer */

static ngx_int_t
ngx_oci_api_proxy_referrers_next(ngx_http_request_t *r)
{
    ngx_int_t         rc;
    ngx_str_t        *d, path, type;
    ngx_oci_ctx_t    *ctx;
    ngx_oci_proxy_t  *px;

    ctx = ngx_oci_get_ctx(r);
    px = ctx->endpoint;

    d = px->list->elts;

    while (px->next < px->list->nelts) {
        px->ref = d[px->next++];

        rc = ngx_oci_store_manifest_locate(&ctx->store, &ctx->name, &px->ref,
                                           &path, &type);

        if (rc == NGX_DECLINED) {
            px->kind = NGX_OCI_PROXY_REFERRER;
            return ngx_oci_api_proxy_start(r, px);
        }

        if (rc != NGX_OK) {
            return ngx_oci_error_storage(r);
        }
    }

    if (ngx_oci_store_page_sync(&ctx->store, &ctx->name, &ctx->ref)
        != NGX_OK)
    {
        return ngx_oci_error_storage(r);
    }

    return px->serve(r);
}


static ngx_int_t
ngx_oci_api_proxy_referrer_done(ngx_http_request_t *r, ngx_oci_fetch_t *f)
{
    ngx_int_t           rc;
    ngx_oci_proxy_t    *px;
    ngx_oci_manifest_t  mf;

    px = f->ctx;

    if (f->status == NGX_HTTP_UNAUTHORIZED
        || (f->status >= NGX_HTTP_MOVED_PERMANENTLY
            && f->status <= NGX_HTTP_PERMANENT_REDIRECT))
    {
        return ngx_oci_api_proxy_answer(r, px, f);
    }

    if (f->status != NGX_HTTP_OK || f->failed) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "oci: the upstream's referrer \"%V\" is "
                      "unavailable (%ui): not listed", &px->ref, f->status);

        return ngx_oci_api_proxy_referrers_next(r);
    }

    rc = ngx_oci_api_proxy_save(r, px, f, &mf);

    if (rc == NGX_DECLINED) {
        return ngx_oci_api_proxy_referrers_next(r);
    }

    if (rc != NGX_OK) {
        return ngx_oci_error_storage(r);
    }

    return ngx_oci_api_proxy_index(r, px, &mf,
                                   ngx_oci_api_proxy_referrers_next);
}


/*
 * The tag written (or renewed) with "digest", and the manifest served by
 * its digest: when another request holds the tag's lock, it is writing
 * the tag, and this one is served all the same.
 */

static ngx_int_t
ngx_oci_api_proxy_tag(ngx_http_request_t *r, ngx_oci_proxy_t *px,
    ngx_str_t *digest)
{
    ngx_int_t            rc;
    ngx_oci_ctx_t       *ctx;
    ngx_oci_tag_lock_t  *lock;

    ctx = ngx_oci_get_ctx(r);

    rc = ngx_oci_store_tag_lock(&ctx->store, &ctx->name, &ctx->ref, &lock);

    if (rc == NGX_OK) {
        rc = ngx_oci_store_tag_write(&ctx->store, &ctx->name, &ctx->ref,
                                     digest);
        ngx_oci_store_tag_unlock(lock);
    }

    if (rc == NGX_ERROR) {
        return ngx_oci_error_storage(r);
    }

    ctx->ref = *digest;

    return px->serve(r);
}


/*
 * The names a fetch uses, made on the first miss only (a pull of what is
 * stored costs nothing more): the repository upstream (Docker Hub's
 * official images are "library/<name>"), the scope of a token for it,
 * and "<uri>v2/<name>/", to which each fetch adds "<what>/<reference>".
 */

static ngx_int_t
ngx_oci_api_proxy_names(ngx_http_request_t *r, ngx_oci_proxy_t *px)
{
    u_char                    *p;
    ngx_oci_ctx_t             *ctx;
    ngx_oci_proxy_upstream_t  *up;

    ctx = ngx_oci_get_ctx(r);
    up = px->up;

    px->remote = ctx->name;

    if (up->library
        && ngx_strlchr(ctx->name.data, ctx->name.data + ctx->name.len, '/')
           == NULL)
    {
        px->remote.len = sizeof("library/") - 1 + ctx->name.len;
        px->remote.data = ngx_pnalloc(r->pool, px->remote.len);
        if (px->remote.data == NULL) {
            return NGX_ERROR;
        }

        p = ngx_cpymem(px->remote.data, "library/", sizeof("library/") - 1);
        ngx_memcpy(p, ctx->name.data, ctx->name.len);
    }

    px->scope.len = sizeof("repository:") - 1 + px->remote.len
                    + sizeof(":pull") - 1;
    px->scope.data = ngx_pnalloc(r->pool, px->scope.len);
    if (px->scope.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(px->scope.data, "repository:%V:pull", &px->remote);

    px->base_len = up->uri.len + sizeof("v2/") - 1 + px->remote.len + 1;
    px->base.data = ngx_pnalloc(r->pool, px->base_len
                                         + sizeof("manifests/") + 7 + 128);
    if (px->base.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(px->base.data, "%Vv2/%V/", &up->uri, &px->remote);

    return NGX_OK;
}


/* the fetch of the content, with the credentials the upstream wants */

static ngx_int_t
ngx_oci_api_proxy_start(ngx_http_request_t *r, ngx_oci_proxy_t *px)
{
    ngx_str_t               what;
    ngx_oci_fetch_t        *f;
    ngx_oci_loc_conf_t     *olcf;
    ngx_oci_proxy_token_t  *t;

    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);
    f = &px->fetch;

    if (px->base.data == NULL && ngx_oci_api_proxy_names(r, px) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    switch (px->kind) {

    case NGX_OCI_PROXY_BLOB:
        ngx_str_set(&what, "blobs/");
        break;

    case NGX_OCI_PROXY_REFERRERS:
        ngx_str_set(&what, "referrers/");
        break;

    default:
        ngx_str_set(&what, "manifests/");
        break;
    }

    f->uri.data = px->base.data;
    f->uri.len = ngx_sprintf(px->base.data + px->base_len, "%V%V", &what,
                             &px->ref)
                 - px->base.data;
    ngx_str_null(&f->args);
    ngx_str_null(&f->url);
    f->head = px->head;
    f->ctx = px;

    if (px->fresh_token || px->basic_sent) {
        /* f->authorization is the one just obtained */

    } else {
        t = ngx_oci_api_proxy_token_find(px->up, &px->scope, 0);

        if (t) {
            f->authorization.data = t->token;
            f->authorization.len = t->token_len;

        } else {
            ngx_str_null(&f->authorization);
        }
    }

    f->data = NULL;
    f->max = olcf->max_manifest_size;
    f->header = ngx_oci_api_proxy_manifest_header;
    ngx_str_set(&f->accept, NGX_OCI_PROXY_ACCEPT);

    switch (px->kind) {

    case NGX_OCI_PROXY_BLOB:
        ngx_str_null(&f->accept);
        f->max = 0;
        f->header = ngx_oci_api_proxy_blob_header;
        f->data = ngx_oci_api_proxy_blob_data;
        f->done = ngx_oci_api_proxy_blob_done;
        break;

    case NGX_OCI_PROXY_MANIFEST:
        f->done = ngx_oci_api_proxy_manifest_done;
        break;

    case NGX_OCI_PROXY_REFERRER:
        f->done = ngx_oci_api_proxy_referrer_done;
        break;

    default: /* the list: an index */
        ngx_str_set(&f->accept, NGX_OCI_MEDIA_OCI_INDEX);
        f->done = ngx_oci_api_proxy_referrers_done;
        break;
    }

    return ngx_oci_fetch(r, f) == NGX_DONE ? NGX_DONE
                                           : NGX_HTTP_INTERNAL_SERVER_ERROR;
}


/*
 * What the upstream answered when it is not the content: a redirect is
 * followed, credentials are obtained, the rest becomes the spec's error.
 */

static ngx_int_t
ngx_oci_api_proxy_answer(ngx_http_request_t *r, ngx_oci_proxy_t *px,
    ngx_oci_fetch_t *f)
{
    ngx_uint_t           status;
    ngx_oci_ctx_t       *ctx;
    ngx_table_elt_t     *h;
    ngx_oci_loc_conf_t  *olcf;

    ctx = ngx_oci_get_ctx(r);
    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);
    status = f->status;

    if (f->failed || status == 0) {
        return ngx_oci_api_proxy_unavailable(r, NGX_HTTP_BAD_GATEWAY,
                                             "the upstream is unavailable",
                                             0);
    }

    if ((status == NGX_HTTP_MOVED_PERMANENTLY
         || status == NGX_HTTP_MOVED_TEMPORARILY
         || status == NGX_HTTP_SEE_OTHER
         || status == NGX_HTTP_TEMPORARY_REDIRECT
         || status == NGX_HTTP_PERMANENT_REDIRECT)
        && px->hops < NGX_OCI_PROXY_HOPS)
    {
        h = ngx_oci_fetch_header_out(f, "Location");

        if (h == NULL || olcf->proxy.follow.len == 0
            || h->value.len < sizeof("http://x") - 1
            || (ngx_strncasecmp(h->value.data, (u_char *) "http://", 7) != 0
                && ngx_strncasecmp(h->value.data, (u_char *) "https://", 8)
                   != 0))
        {
            return ngx_oci_api_proxy_unavailable(r, NGX_HTTP_BAD_GATEWAY,
                       "the upstream redirects (%ui) and oci_proxy_follow "
                       "is not set, or the Location is not absolute",
                       status);
        }

        px->hops++;

        f->url.len = h->value.len;
        f->url.data = ngx_pstrdup(r->pool, &h->value);
        if (f->url.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        f->uri = olcf->proxy.follow;
        ngx_str_null(&f->authorization);

        return ngx_oci_fetch(r, f) == NGX_DONE
               ? NGX_DONE : NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (status == NGX_HTTP_UNAUTHORIZED && px->hops < NGX_OCI_PROXY_HOPS) {
        px->hops++;
        return ngx_oci_api_proxy_auth(r, px, f);
    }

    if (status == NGX_HTTP_NOT_FOUND) {
        return ngx_oci_error(r, NGX_HTTP_NOT_FOUND,
                             ctx->route.endpoint == NGX_OCI_EP_BLOB
                             ? NGX_OCI_ERR_BLOB_UNKNOWN
                             : NGX_OCI_ERR_MANIFEST_UNKNOWN,
                             "not found here nor upstream");
    }

    if (status == NGX_HTTP_GATEWAY_TIME_OUT) {
        return ngx_oci_api_proxy_unavailable(r, NGX_HTTP_GATEWAY_TIME_OUT,
                                             "the upstream timed out", 0);
    }

    if (status >= NGX_HTTP_INTERNAL_SERVER_ERROR) {
        return ngx_oci_api_proxy_unavailable(r, NGX_HTTP_BAD_GATEWAY,
                   "the upstream is unavailable (%ui)", status);
    }

    return ngx_oci_api_proxy_unavailable(r, NGX_HTTP_BAD_GATEWAY,
                                         "the upstream answered %ui",
                                         status);
}


/*
 * A 401: Basic gets the configured credentials; Bearer a token from the
 * challenge's realm for the scope of the repository, then the retry.
 */

static ngx_int_t
ngx_oci_api_proxy_auth(ngx_http_request_t *r, ngx_oci_proxy_t *px,
    ngx_oci_fetch_t *f)
{
    u_char               *url, *scope;
    size_t                len;
    ngx_oci_fetch_t      *t;
    ngx_oci_loc_conf_t   *olcf;
    ngx_oci_challenge_t  *ch;

    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    ch = ngx_oci_api_proxy_challenge(r, f);
    if (ch == NULL) {
        return ngx_oci_api_proxy_unavailable(r, NGX_HTTP_BAD_GATEWAY,
                   "the upstream answered 401 without a challenge this "
                   "registry can answer", 0);
    }

    if (ch->scheme == NGX_OCI_CHALLENGE_BASIC) {

        if (px->up->basic.len == 0 || px->basic_sent) {
            return ngx_oci_api_proxy_unavailable(r, NGX_HTTP_BAD_GATEWAY,
                       "the upstream wants credentials: none configured, "
                       "or refused (oci_proxy credentials=)", 0);
        }

        px->basic_sent = 1;
        px->fetch.authorization = px->up->basic;

        return ngx_oci_api_proxy_start(r, px);
    }

    if (px->fresh_token) {
        return ngx_oci_api_proxy_unavailable(r, NGX_HTTP_BAD_GATEWAY,
                   "the upstream refused the token its realm gave", 0);
    }

    if (olcf->proxy.follow.len == 0) {
        return ngx_oci_api_proxy_unavailable(r, NGX_HTTP_BAD_GATEWAY,
                   "the upstream wants a token and oci_proxy_follow is "
                   "not set", 0);
    }

    scope = ngx_pnalloc(r->pool, px->scope.len + 1);
    url = ngx_pnalloc(r->pool, NGX_OCI_PROXY_TOKEN_URL);
    if (scope == NULL || url == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    *ngx_cpymem(scope, px->scope.data, px->scope.len) = '\0';

    len = ngx_oci_challenge_token_url((char *) url, NGX_OCI_PROXY_TOKEN_URL,
                                      ch, (char *) scope);
    if (len == 0) {
        return ngx_oci_api_proxy_unavailable(r, NGX_HTTP_BAD_GATEWAY,
                   "the upstream's token realm is too long", 0);
    }

    t = &px->token;
    ngx_memzero(t, sizeof(ngx_oci_fetch_t));

    t->uri = olcf->proxy.follow;
    t->url.data = url;
    t->url.len = len;
    t->authorization = px->up->basic;
    t->max = NGX_OCI_CHALLENGE_REPLY_MAX;
    t->header = ngx_oci_api_proxy_token_header;
    t->done = ngx_oci_api_proxy_token_done;
    t->ctx = px;

    return ngx_oci_fetch(r, t) == NGX_DONE ? NGX_DONE
                                           : NGX_HTTP_INTERNAL_SERVER_ERROR;
}


/*
 * The challenge to answer among the upstream's WWW-Authenticate headers:
 * the first Bearer one, else the first Basic one, else NULL.
 */

static ngx_oci_challenge_t *
ngx_oci_api_proxy_challenge(ngx_http_request_t *r, ngx_oci_fetch_t *f)
{
    ngx_table_elt_t      *h;
    ngx_oci_challenge_t  *ch, *basic;

    ch = ngx_palloc(r->pool, 2 * sizeof(ngx_oci_challenge_t));
    if (ch == NULL) {
        return NULL;
    }

    basic = NULL;
    h = NULL;

    while ((h = ngx_oci_header_find(&f->sr->headers_out.headers,
                                    "WWW-Authenticate", h))
           != NULL)
    {
        if (ngx_oci_challenge_parse(h->value.data, h->value.len, ch) != 0) {
            continue;
        }

        if (ch->scheme == NGX_OCI_CHALLENGE_BEARER) {
            return ch;
        }

        if (basic == NULL) {
            basic = &ch[1];
            *basic = *ch;
        }
    }

    return basic;
}


static ngx_int_t
ngx_oci_api_proxy_token_header(ngx_http_request_t *r, ngx_oci_fetch_t *f)
{
    return (f->status == NGX_HTTP_OK) ? NGX_AGAIN : NGX_DECLINED;
}


/* the token endpoint's reply: kept, and the content asked for again */

static ngx_int_t
ngx_oci_api_proxy_token_done(ngx_http_request_t *r, ngx_oci_fetch_t *f)
{
    long                    expires;
    char                   *tok;
    ngx_oci_proxy_t        *px;
    ngx_oci_proxy_token_t  *t;

    px = f->ctx;

    if (f->status != NGX_HTTP_OK || f->failed || f->truncated
        || f->body == NULL)
    {
        return ngx_oci_api_proxy_unavailable(r, NGX_HTTP_BAD_GATEWAY,
                   "the upstream's token endpoint answered %ui",
                   f->status);
    }

    tok = ngx_pnalloc(r->pool, NGX_OCI_CHALLENGE_TOKEN_MAX + 1);
    if (tok == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_oci_challenge_token_parse(f->body->pos,
                                      f->body->last - f->body->pos, tok,
                                      &expires)
        != 0)
    {
        return ngx_oci_api_proxy_unavailable(r, NGX_HTTP_BAD_GATEWAY,
                   "the upstream's token endpoint sent no token", 0);
    }

    px->fresh_token = 1;
    px->fetch.authorization.data = ngx_pnalloc(r->pool,
                                               NGX_OCI_PROXY_TOKEN_SIZE);
    if (px->fetch.authorization.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    px->fetch.authorization.len = ngx_sprintf(px->fetch.authorization.data,
                                              "Bearer %s", tok)
                                  - px->fetch.authorization.data;

    /* kept for the next pulls of the repository, when a slot is had */

    t = ngx_oci_api_proxy_token_find(px->up, &px->scope, 1);

    if (t) {
        ngx_memcpy(t->token, px->fetch.authorization.data,
                   px->fetch.authorization.len);
        t->token_len = px->fetch.authorization.len;
        t->token[t->token_len] = '\0';
        t->expires = ngx_time() + expires - NGX_OCI_PROXY_TOKEN_MARGIN;
    }

    return ngx_oci_api_proxy_start(r, px);
}


/*
 * The worker's token for (upstream, scope): a live one, or NULL; with
 * "slot", the slot to keep a new one in (the same scope's, a free one,
 * or the one that expires first).
 */

static ngx_oci_proxy_token_t *
ngx_oci_api_proxy_token_find(ngx_oci_proxy_upstream_t *up, ngx_str_t *scope,
    ngx_uint_t slot)
{
    time_t                  now;
    ngx_uint_t              i;
    ngx_oci_proxy_token_t  *t, *pick;

    if (scope->len > sizeof(t->scope)) {
        return NULL;
    }

    if (up->tokens == NULL) {
        if (!slot) {
            return NULL;
        }

        up->tokens = ngx_pcalloc(ngx_cycle->pool, NGX_OCI_PROXY_TOKENS
                                 * sizeof(ngx_oci_proxy_token_t));
        if (up->tokens == NULL) {
            return NULL;
        }
    }

    now = ngx_time();
    pick = NULL;

    for (i = 0; i < NGX_OCI_PROXY_TOKENS; i++) {
        t = &up->tokens[i];

        if (t->scope_len == scope->len
            && ngx_strncmp(t->scope, scope->data, scope->len) == 0)
        {
            if (!slot) {
                return (t->expires > now) ? t : NULL;
            }

            pick = t;
            break;
        }

        if (pick == NULL || t->expires < pick->expires) {
            pick = t;
        }
    }

    if (!slot) {
        return NULL;
    }

    if (pick->token == NULL) {
        pick->token = ngx_palloc(ngx_cycle->pool, NGX_OCI_PROXY_TOKEN_SIZE);
        if (pick->token == NULL) {
            return NULL;
        }
    }

    ngx_memcpy(pick->scope, scope->data, scope->len);
    pick->scope_len = scope->len;

    return pick;
}


/* 502 or 504, UNAVAILABLE, with a message of the pool */

static ngx_int_t
ngx_oci_api_proxy_unavailable(ngx_http_request_t *r, ngx_uint_t status,
    const char *fmt, ngx_uint_t n)
{
    u_char  *msg, *last;

    msg = ngx_pnalloc(r->pool, 256);
    if (msg == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = ngx_snprintf(msg, 255, fmt, n);
    *last = '\0';

    return ngx_oci_error(r, status, NGX_OCI_ERR_UNAVAILABLE, (char *) msg);
}


/*
 * oci_proxy host uri [default] [library] [credentials=file]: an upstream
 * of the location, reached through the internal location "uri".
 */

char *
ngx_oci_api_proxy_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t                 *value;
    ngx_uint_t                 i;
    ngx_oci_proxy_conf_t      *pc;
    ngx_oci_proxy_upstream_t  *up;

    pc = (ngx_oci_proxy_conf_t *) ((char *) conf + cmd->offset);
    value = cf->args->elts;

    if (pc->upstreams == NULL) {
        pc->upstreams = ngx_array_create(cf->pool, 2,
                                         sizeof(ngx_oci_proxy_upstream_t));
        if (pc->upstreams == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    up = pc->upstreams->elts;

    for (i = 0; i < pc->upstreams->nelts; i++) {
        if (up[i].host.len == value[1].len
            && ngx_strncasecmp(up[i].host.data, value[1].data,
                               value[1].len) == 0)
        {
            return "names an upstream twice";
        }
    }

    if (value[1].len == 0 || value[1].len > 255
        || ngx_strlchr(value[1].data, value[1].data + value[1].len, '/'))
    {
        return "takes a registry host without \"/\"";
    }

    if (value[2].len == 0 || value[2].data[0] != '/'
        || value[2].data[value[2].len - 1] != '/')
    {
        return "takes the internal location's URI, beginning and ending "
               "with \"/\"";
    }

    up = ngx_array_push(pc->upstreams);
    if (up == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(up, sizeof(ngx_oci_proxy_upstream_t));

    up->host = value[1];
    up->uri = value[2];

    for (i = 3; i < cf->args->nelts; i++) {

        if (ngx_strcmp(value[i].data, "default") == 0) {
            if (pc->dflt) {
                return "has two default upstreams";
            }

            up->is_default = 1;
            pc->dflt = up;
            continue;
        }

        if (ngx_strcmp(value[i].data, "library") == 0) {
            up->library = 1;
            continue;
        }

        if (ngx_strncmp(value[i].data, "credentials=", 12) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        if (ngx_oci_api_proxy_credentials(cf, &value[i], up) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/*
 * credentials=file: the first line of the file, "user:password", as the
 * Authorization value sent when the upstream asks (Basic, or for a
 * token). Both buffers are wiped whatever happens.
 */

static ngx_int_t
ngx_oci_api_proxy_credentials(ngx_conf_t *cf, ngx_str_t *param,
    ngx_oci_proxy_upstream_t *up)
{
    u_char      *p, *last;
    size_t       len;
    ssize_t      n;
    ngx_int_t    rc;
    ngx_str_t    file;
    ngx_file_t   f;

    u_char  line[1024], basic[2048];

    file.data = param->data + 12;
    file.len = param->len - 12;

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_memzero(&f, sizeof(ngx_file_t));
    f.name = file;
    f.log = cf->log;

    f.fd = ngx_open_file(file.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (f.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", &file);
        return NGX_ERROR;
    }

    n = ngx_read_file(&f, line, sizeof(line) - 1, 0);
    ngx_close_file(f.fd);

    rc = NGX_ERROR;

    if (n == NGX_ERROR) {
        goto done;
    }

    last = ngx_strlchr(line, line + n, '\n');
    len = (last ? last : line + n) - line;

    if (len && line[len - 1] == '\r') {
        len--;
    }

    p = ngx_strlchr(line, line + len, ':');

    if (p == NULL || p == line) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" does not begin with a "
                           "\"user:password\" line", &file);
        goto done;
    }

    up->basic.len = ngx_oci_challenge_basic((char *) basic, sizeof(basic),
                                            (char *) line, len);

    if (up->basic.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": the credentials are too long", &file);
        goto done;
    }

    up->basic.data = ngx_pnalloc(cf->pool, up->basic.len);

    if (up->basic.data != NULL) {
        ngx_memcpy(up->basic.data, basic, up->basic.len);
        rc = NGX_OK;
    }

done:

    ngx_explicit_memzero(line, sizeof(line));
    ngx_explicit_memzero(basic, sizeof(basic));

    return rc;
}


char *
ngx_oci_api_proxy_merge(ngx_conf_t *cf, ngx_oci_proxy_conf_t *conf,
    ngx_oci_proxy_conf_t *prev)
{
    if (conf->upstreams == NULL) {
        conf->upstreams = prev->upstreams;
        conf->dflt = prev->dflt;
    }

    if (conf->upstreams && conf->dflt == NULL
        && conf->upstreams->nelts == 1)
    {
        conf->dflt = conf->upstreams->elts;
    }

    ngx_conf_merge_str_value(conf->follow, prev->follow, "");
    ngx_conf_merge_sec_value(conf->tag_ttl, prev->tag_ttl, 300);
    ngx_conf_merge_msec_value(conf->wait, prev->wait, 60000);
    ngx_conf_merge_value(conf->push, prev->push, 0);

    return NGX_CONF_OK;
}
