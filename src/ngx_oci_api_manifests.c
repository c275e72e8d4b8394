
/*
 * Manifests: GET and HEAD by tag or digest; PUT with validation, the
 * subject policy, the referrers index and conditional tag updates;
 * DELETE by digest (the manifest and its tags) or by tag (untag).
 *
 * A PUT reads top to bottom: the body is taken, hashed and validated,
 * stored, indexed under its subject when it has one, then tagged under
 * the locks of its tags.
 */


#include "ngx_oci_api.h"
#include "ngx_oci_grammar.h"
#include "ngx_oci_manifest_check.h"
#include "ngx_oci_index_schema.h"
#include "ngx_oci_index_catalog.h"
#include "ngx_oci_index.h"

#include <openssl/evp.h>


typedef struct {
    u_char                   *body;
    size_t                    body_len;
    size_t                    body_size;
    size_t                    body_max;
    ngx_array_t              *tags;         /* ngx_str_t */
    ngx_str_t                *old;          /* what each tag named */
    ngx_oci_tag_lock_t      **locks;        /* NULL: a tag given twice */
    ngx_uint_t                query_tags;   /* how many came as ?tag= */
    ngx_str_t                 type;         /* effective media type */
    ngx_str_t                 referrer;     /* descriptor to index */
    ngx_oci_index_pair_t      pair;         /* the subject, if any */
    ngx_uint_t                added;        /* this request linked it */
    ngx_oci_tag_lock_t       *delete_lock;  /* the digest's, deleting */
    ngx_str_t                 immutable;    /* a tag naming it, if any */
    ngx_str_t                 artifact_type;
} ngx_oci_api_manifest_t;


static ngx_int_t ngx_oci_api_manifests_reference(ngx_http_request_t *r,
    ngx_oci_ctx_t *ctx, ngx_uint_t *is_digest);
static ngx_int_t ngx_oci_api_manifests_get(ngx_http_request_t *r,
    ngx_oci_ctx_t *ctx, ngx_uint_t is_digest);
static ngx_int_t ngx_oci_api_manifests_type(ngx_http_request_t *r,
    ngx_fd_t fd, ngx_str_t *type);
static ngx_int_t ngx_oci_api_manifests_put(ngx_http_request_t *r,
    ngx_oci_ctx_t *ctx, ngx_uint_t is_digest);
static ngx_int_t ngx_oci_api_manifests_sink(ngx_http_request_t *r,
    void *data, u_char *p, size_t len);
static void ngx_oci_api_manifests_received(ngx_http_request_t *r);
static ngx_int_t ngx_oci_api_manifests_digest(ngx_http_request_t *r,
    ngx_oci_ctx_t *ctx, ngx_oci_api_manifest_t *m);
static ngx_int_t ngx_oci_api_manifests_validate(ngx_http_request_t *r,
    ngx_oci_ctx_t *ctx, ngx_oci_api_manifest_t *m);
static ngx_int_t ngx_oci_api_manifests_check_refs(ngx_http_request_t *r,
    ngx_oci_ctx_t *ctx, ngx_oci_manifest_t *mf);
static ngx_int_t ngx_oci_api_manifests_ref_exists(ngx_http_request_t *r,
    ngx_oci_ctx_t *ctx, json_t *d, ngx_oci_layout_e what);
static ngx_int_t ngx_oci_api_manifests_subject(ngx_http_request_t *r,
    ngx_oci_ctx_t *ctx, ngx_oci_api_manifest_t *m, ngx_oci_manifest_t *mf);
static ngx_int_t ngx_oci_api_manifests_subject_of(ngx_http_request_t *r,
    ngx_oci_api_manifest_t *m, json_t *subject);
static ngx_int_t ngx_oci_api_manifests_policy(ngx_http_request_t *r,
    ngx_oci_ctx_t *ctx, ngx_str_t *subject);
static ngx_int_t ngx_oci_api_manifests_store(ngx_http_request_t *r,
    ngx_oci_ctx_t *ctx, ngx_oci_api_manifest_t *m);
static void ngx_oci_api_manifests_indexed(ngx_http_request_t *r,
    void *data, ngx_int_t rc, redisReply *reply);
static ngx_int_t ngx_oci_api_manifests_withdraw(ngx_http_request_t *r,
    ngx_oci_ctx_t *ctx, ngx_oci_api_manifest_t *m);
static ngx_int_t ngx_oci_api_manifests_lock(ngx_http_request_t *r,
    ngx_oci_ctx_t *ctx, ngx_str_t *tags, ngx_uint_t n,
    ngx_oci_tag_lock_t **locks, ngx_oci_retry_pt again);
static ngx_int_t ngx_oci_api_manifests_later(ngx_http_request_t *r,
    ngx_oci_retry_pt again, const char *message);
static void ngx_oci_api_manifests_unlock(ngx_oci_tag_lock_t **locks,
    ngx_uint_t n);
static ngx_int_t ngx_oci_api_manifests_tag(ngx_http_request_t *r);
static ngx_int_t ngx_oci_api_manifests_write(ngx_http_request_t *r,
    ngx_oci_ctx_t *ctx, ngx_oci_api_manifest_t *m);
static void ngx_oci_api_manifests_undo(ngx_oci_ctx_t *ctx,
    ngx_oci_api_manifest_t *m);
static ngx_int_t ngx_oci_api_manifests_restore(ngx_http_request_t *r,
    ngx_oci_ctx_t *ctx, ngx_oci_api_manifest_t *m);
static ngx_int_t ngx_oci_api_manifests_precondition(ngx_http_request_t *r,
    ngx_oci_ctx_t *ctx, ngx_str_t *tag, ngx_str_t *old);
static ngx_uint_t ngx_oci_api_manifests_guarded(ngx_http_request_t *r,
    ngx_oci_api_manifest_t *m);
static ngx_int_t ngx_oci_api_manifests_moves(ngx_http_request_t *r,
    ngx_oci_ctx_t *ctx, ngx_str_t *tag, ngx_str_t *old);
static ngx_int_t ngx_oci_api_manifests_deleting(ngx_http_request_t *r,
    ngx_oci_ctx_t *ctx);
static ngx_int_t ngx_oci_api_manifests_denied(ngx_http_request_t *r,
    const char *fmt, ngx_str_t *tag, ngx_str_t *digest);
static ngx_int_t ngx_oci_api_manifests_created(ngx_http_request_t *r,
    ngx_oci_ctx_t *ctx, ngx_oci_api_manifest_t *m);
static void ngx_oci_api_manifests_event(ngx_http_request_t *r,
    ngx_oci_ctx_t *ctx, const char *action, ngx_str_t *type, off_t size,
    ngx_str_t *tag, ngx_oci_api_manifest_t *m);
static ngx_int_t ngx_oci_api_manifests_delete(ngx_http_request_t *r);
static void ngx_oci_api_manifests_searched(ngx_oci_store_job_t *job);
static ngx_int_t ngx_oci_api_manifests_checked(ngx_http_request_t *r);
static ngx_int_t ngx_oci_api_manifests_remove(ngx_http_request_t *r,
    ngx_oci_ctx_t *ctx, ngx_oci_api_manifest_t *m);
static void ngx_oci_api_manifests_untagged(ngx_oci_store_job_t *job);
static ngx_int_t ngx_oci_api_manifests_deleted(ngx_http_request_t *r);
static ngx_int_t ngx_oci_api_manifests_find_subject(ngx_http_request_t *r,
    ngx_oci_ctx_t *ctx, ngx_oci_api_manifest_t *m);
static void ngx_oci_api_manifests_unindexed(ngx_http_request_t *r,
    void *data, ngx_int_t rc, redisReply *reply);
static ngx_int_t ngx_oci_api_manifests_untag(ngx_http_request_t *r);


ngx_int_t
ngx_oci_api_manifests(ngx_http_request_t *r)
{
    ngx_int_t                rc;
    ngx_uint_t               is_digest;
    ngx_oci_ctx_t           *ctx;
    ngx_oci_loc_conf_t      *olcf;
    ngx_oci_api_manifest_t  *m;

    ctx = ngx_oci_get_ctx(r);
    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_PUT
                       |NGX_HTTP_DELETE)))
    {
        return ngx_oci_error(r, NGX_HTTP_NOT_ALLOWED, NGX_OCI_ERR_UNSUPPORTED,
                             "a manifest answers GET, HEAD, PUT and DELETE");
    }

    rc = ngx_oci_api_manifests_reference(r, ctx, &is_digest);
    if (rc != NGX_OK) {
        return rc;
    }

    /* a pull needs nothing more than its context */

    if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
        return ngx_oci_api_manifests_get(r, ctx, is_digest);
    }

    m = ngx_pcalloc(r->pool, sizeof(ngx_oci_api_manifest_t));
    if (m == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    m->pair.redis = &olcf->redis;
    m->pair.name = ctx->name;
    ctx->endpoint = m;

    if (r->method == NGX_HTTP_PUT) {
        return ngx_oci_api_manifests_put(r, ctx, is_digest);
    }

    if (!olcf->delete) {
        return ngx_oci_error(r, NGX_HTTP_NOT_ALLOWED, NGX_OCI_ERR_UNSUPPORTED,
                             "deletes are disabled (oci_delete off)");
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    return is_digest ? ngx_oci_api_manifests_delete(r)
                     : ngx_oci_api_manifests_untag(r);
}


/* a digest (then in ctx->digest) or a tag */

static ngx_int_t
ngx_oci_api_manifests_reference(ngx_http_request_t *r, ngx_oci_ctx_t *ctx,
    ngx_uint_t *is_digest)
{
    int  rc;

    *is_digest = 0;

    if (ngx_strlchr(ctx->ref.data, ctx->ref.data + ctx->ref.len, ':')) {
        rc = ngx_oci_digest_parse(ctx->ref.data, ctx->ref.len, NULL, NULL,
                                  NULL);

        if (rc != NGX_OCI_DIGEST_OK) {
            return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                                 NGX_OCI_ERR_DIGEST_INVALID,
                                 rc == NGX_OCI_DIGEST_UNSUPPORTED
                                 ? "unsupported digest algorithm"
                                 : "malformed digest");
        }

        *is_digest = 1;
        ctx->digest = ctx->ref;

        return NGX_OK;
    }

    if (ngx_oci_tag_valid(ctx->ref.data, ctx->ref.len)) {
        return NGX_OK;
    }

    if (r->method == NGX_HTTP_PUT) {
        return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                             NGX_OCI_ERR_MANIFEST_INVALID, "invalid tag");
    }

    /* no manifest can have such a tag */

    return ngx_oci_error(r, NGX_HTTP_NOT_FOUND, NGX_OCI_ERR_MANIFEST_UNKNOWN,
                         "invalid tag");
}


static ngx_int_t
ngx_oci_api_manifests_get(ngx_http_request_t *r, ngx_oci_ctx_t *ctx,
    ngx_uint_t is_digest)
{
    ngx_fd_t             fd;
    ngx_int_t            rc;
    ngx_str_t            digest, path, type;
    ngx_uint_t           cached;
    ngx_oci_loc_conf_t  *olcf;

    digest = ctx->ref;

    rc = is_digest ? NGX_OK
                   : ngx_oci_store_tag_read(&ctx->store, &ctx->name,
                                            &ctx->ref, &digest);

    fd = NGX_INVALID_FILE;
    cached = ngx_oci_send_cached(r);

    /*
     * storage opens the manifest and reads its type on that descriptor;
     * through the open file cache, storage gives the path, the cache the
     * descriptor, and the type is read on that one
     */

    if (rc == NGX_OK) {
        ctx->digest = digest;

        rc = ngx_oci_store_manifest_open(&ctx->store, &ctx->name, &digest,
                                         &path, cached ? NULL : &fd, &type);
    }

    if (rc != NGX_OK) {
        return ngx_oci_error_not_ok(r, rc, NGX_OCI_ERR_MANIFEST_UNKNOWN);
    }

    rc = cached ? ngx_oci_send_cached_typed(r, &path,
                                            ngx_oci_api_manifests_type,
                                            &type, &digest)
                : ngx_oci_send_file(r, &path, fd, &type, &digest, 0);

    /* a pull is a GET that found the manifest, as the reference's */

    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    if (r->method == NGX_HTTP_GET && olcf->events.pulls
        && rc != NGX_DECLINED && rc != NGX_ERROR
        && rc < NGX_HTTP_SPECIAL_RESPONSE)
    {
        ngx_oci_api_manifests_event(r, ctx, "pull", &type, -1,
                                    is_digest ? NULL : &ctx->ref, NULL);
    }

    if (rc == NGX_DECLINED) {
        return ngx_oci_error(r, NGX_HTTP_NOT_FOUND,
                             NGX_OCI_ERR_MANIFEST_UNKNOWN, NULL);
    }

    return rc;
}


/*
 * The type of a manifest the open file cache opened, on its descriptor.
 * A DELETE unlinks the file the cache may still hold: until
 * open_file_cache_valid, a GET by digest can send those bytes (those of
 * the digest asked for, as for blobs); by tag it cannot, the tags of a
 * deleted manifest go with it.
 */

static ngx_int_t
ngx_oci_api_manifests_type(ngx_http_request_t *r, ngx_fd_t fd,
    ngx_str_t *type)
{
    ngx_oci_ctx_t  *ctx;

    ctx = ngx_oci_get_ctx(r);

    return ngx_oci_store_manifest_type(&ctx->store, fd, &ctx->name,
                                       &ctx->digest, type);
}


static ngx_int_t
ngx_oci_api_manifests_put(ngx_http_request_t *r, ngx_oci_ctx_t *ctx,
    ngx_uint_t is_digest)
{
    ngx_str_t               *tag, value, raw;
    ngx_oci_loc_conf_t      *olcf;
    ngx_oci_api_manifest_t  *m;

    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);
    m = ctx->endpoint;

    m->tags = ngx_array_create(r->pool, 2, sizeof(ngx_str_t));
    if (m->tags == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!is_digest) {
        tag = ngx_array_push(m->tags);
        if (tag == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        *tag = ctx->ref;
    }

    /* ?tag=a&tag=b: tags applied along with a push by digest */

    raw = r->args;

    while (ngx_oci_arg_next(&raw, "tag", &value) == NGX_OK) {

        if (!ngx_oci_tag_valid(value.data, value.len)) {
            return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                                 NGX_OCI_ERR_MANIFEST_INVALID,
                                 "invalid ?tag= value");
        }

        tag = ngx_array_push(m->tags);
        if (tag == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        *tag = value;
        m->query_tags++;
    }

    if (r->headers_in.content_length_n > (off_t) olcf->max_manifest_size) {
        return ngx_oci_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                             NGX_OCI_ERR_MANIFEST_INVALID,
                             "the manifest is larger than "
                             "oci_max_manifest_size");
    }

    m->body_max = olcf->max_manifest_size;

    return ngx_oci_read_body(r, ngx_oci_api_manifests_sink, m,
                             ngx_oci_api_manifests_received);
}


/* the body into one buffer: a manifest is parsed whole */

static ngx_int_t
ngx_oci_api_manifests_sink(ngx_http_request_t *r, void *data, u_char *p,
    size_t len)
{
    u_char                  *body;
    size_t                   size;
    ngx_oci_api_manifest_t  *m = data;

    if (len > m->body_max - m->body_len) {
        return ngx_oci_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                             NGX_OCI_ERR_MANIFEST_INVALID,
                             "the manifest is larger than "
                             "oci_max_manifest_size");
    }

    if (m->body_len + len > m->body_size) {

        /* the declared length, or doubling for a chunked body */

        size = ngx_max(m->body_size * 2, m->body_len + len);

        if (r->headers_in.content_length_n > 0) {
            size = ngx_max(size, (size_t) r->headers_in.content_length_n);
        }

        size = ngx_min(size, m->body_max);

        body = ngx_pnalloc(r->pool, size);
        if (body == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* no copy before the first chunk: m->body is still NULL */

        if (m->body_len) {
            ngx_memcpy(body, m->body, m->body_len);
        }

        m->body = body;
        m->body_size = size;
    }

    ngx_memcpy(m->body + m->body_len, p, len);
    m->body_len += len;

    return NGX_OK;
}


static void
ngx_oci_api_manifests_received(ngx_http_request_t *r)
{
    ngx_int_t                rc;
    ngx_oci_ctx_t           *ctx;
    ngx_oci_api_manifest_t  *m;

    ctx = ngx_http_get_module_ctx(r, ngx_oci_module);
    m = ctx->endpoint;

    rc = ngx_oci_api_manifests_digest(r, ctx, m);

    if (rc == NGX_OK) {
        rc = ngx_oci_api_manifests_validate(r, ctx, m);
    }

    if (rc == NGX_OK) {
        rc = ngx_oci_api_manifests_store(r, ctx, m);
    }

    /*
     * The catalog lists the repository from now on; the push does not
     * wait for it, nor fail with it: a name Redis missed, reindex adds
     */

    if (rc == NGX_OK && m->pair.redis->redis) {
        (void) ngx_oci_index_catalog_add(r, m->pair.redis, &ctx->name);
    }

    if (rc == NGX_OK && m->referrer.len) {

        /* stored on disk first: then indexed under its subject */

        if (ngx_oci_index_add(r, &m->pair, &ctx->digest, &m->referrer,
                              ngx_oci_api_manifests_indexed, m)
            == NGX_OK)
        {
            r->main->count++;
            rc = NGX_DONE;

        } else {
            rc = ngx_oci_api_manifests_withdraw(r, ctx, m);
        }

    } else if (rc == NGX_OK) {
        rc = ngx_oci_api_manifests_tag(r);
    }

    ngx_http_finalize_request(r, rc);
}


/* the digest of the exact bytes, in the reference's algorithm */

static ngx_int_t
ngx_oci_api_manifests_digest(ngx_http_request_t *r, ngx_oci_ctx_t *ctx,
    ngx_oci_api_manifest_t *m)
{
    int            alg;
    u_char         md[EVP_MAX_MD_SIZE];
    ngx_str_t      digest;
    const EVP_MD  *evp;

    alg = NGX_OCI_SHA256;
    if (ctx->digest.len) {
        (void) ngx_oci_digest_parse(ctx->digest.data, ctx->digest.len, &alg,
                                    NULL, NULL);
    }

    evp = (alg == NGX_OCI_SHA512) ? EVP_sha512() : EVP_sha256();

    if (EVP_Digest(m->body, m->body_len, md, NULL, evp, NULL) != 1
        || ngx_oci_store_digest(r->pool, alg, md, &digest) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->digest.len
        && (ctx->digest.len != digest.len
            || ngx_strncmp(ctx->digest.data, digest.data, digest.len) != 0))
    {
        return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                             NGX_OCI_ERR_DIGEST_INVALID,
                             "the manifest's digest is not the one in the "
                             "URL");
    }

    ctx->digest = digest;

    return NGX_OK;
}


static ngx_int_t
ngx_oci_api_manifests_validate(ngx_http_request_t *r, ngx_oci_ctx_t *ctx,
    ngx_oci_api_manifest_t *m)
{
    int                  rc;
    u_char              *p;
    size_t               len;
    ngx_str_t            ct;
    ngx_int_t            ret;
    ngx_oci_manifest_t   mf;
    ngx_oci_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    ngx_str_null(&ct);
    if (r->headers_in.content_type) {
        ct = r->headers_in.content_type->value;
    }

    rc = ngx_oci_manifest_parse(m->body ? m->body : (u_char *) "",
                                m->body_len, ct.data, ct.len, &mf);

    if (rc != NGX_OCI_MANIFEST_OK) {
        len = ngx_strlen(mf.error);
        p = ngx_pnalloc(r->pool, len + 1);
        if (p != NULL) {
            ngx_memcpy(p, mf.error, len + 1);
        }

        ngx_oci_manifest_free(&mf);

        return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                             NGX_OCI_ERR_MANIFEST_INVALID, (char *) p);
    }

    ret = NGX_OK;

    if (olcf->check_references) {
        ret = ngx_oci_api_manifests_check_refs(r, ctx, &mf);
    }

    if (ret == NGX_OK && mf.subject) {
        ret = ngx_oci_api_manifests_subject(r, ctx, m, &mf);
    }

    if (ret == NGX_OK) {
        m->type.len = ngx_strlen(mf.media_type);
        m->type.data = ngx_pnalloc(r->pool, m->type.len);

        if (m->type.data == NULL) {
            ret = NGX_HTTP_INTERNAL_SERVER_ERROR;

        } else {
            ngx_memcpy(m->type.data, mf.media_type, m->type.len);
        }
    }

    if (ret == NGX_OK && mf.artifact_type) {
        m->artifact_type.len = ngx_strlen(mf.artifact_type);
        m->artifact_type.data = ngx_pnalloc(r->pool, m->artifact_type.len);

        if (m->artifact_type.data == NULL) {
            ret = NGX_HTTP_INTERNAL_SERVER_ERROR;

        } else {
            ngx_memcpy(m->artifact_type.data, mf.artifact_type,
                       m->artifact_type.len);
        }
    }

    ngx_oci_manifest_free(&mf);

    return ret;
}


static ngx_int_t
ngx_oci_api_manifests_check_refs(ngx_http_request_t *r, ngx_oci_ctx_t *ctx,
    ngx_oci_manifest_t *mf)
{
    size_t     i;
    ngx_int_t  rc;

    if (mf->config) {
        rc = ngx_oci_api_manifests_ref_exists(r, ctx, mf->config,
                                              NGX_OCI_LAYOUT_REPO_BLOB);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    for (i = 0; mf->layers && i < json_array_size(mf->layers); i++) {
        rc = ngx_oci_api_manifests_ref_exists(r, ctx,
                                              json_array_get(mf->layers, i),
                                              NGX_OCI_LAYOUT_REPO_BLOB);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    for (i = 0; mf->manifests && i < json_array_size(mf->manifests); i++) {
        rc = ngx_oci_api_manifests_ref_exists(r, ctx,
                                         json_array_get(mf->manifests, i),
                                         NGX_OCI_LAYOUT_MANIFEST);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_oci_api_manifests_ref_exists(ngx_http_request_t *r, ngx_oci_ctx_t *ctx,
    json_t *d, ngx_oci_layout_e what)
{
    int            alg;
    off_t          stored;
    size_t         len;
    int64_t        size;
    ngx_int_t      rc;
    ngx_str_t      digest;
    const u_char  *p;

    if (ngx_oci_descriptor_is_foreign(d)) {
        return NGX_OK;
    }

    if (ngx_oci_descriptor_digest(d, &p, &len, &alg) != 0
        || ngx_oci_descriptor_size(d, &size) != 0)
    {
        return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                             NGX_OCI_ERR_MANIFEST_INVALID,
                             "a descriptor has no valid digest or size");
    }

    digest.data = (u_char *) p;
    digest.len = len;

    rc = ngx_oci_store_size(&ctx->store, what, &ctx->name, &digest,
                            &stored);

    if (rc == NGX_OK) {
        if (stored == (off_t) size) {
            return NGX_OK;
        }

        /* a client that trusts the size would read too much or too little */

        return ngx_oci_error_digest(r, NGX_HTTP_BAD_REQUEST,
                                    NGX_OCI_ERR_MANIFEST_INVALID,
                                    "a descriptor's size is not that of "
                                    "the content it references",
                                    &digest);
    }

    if (rc != NGX_DECLINED) {
        return ngx_oci_error_storage(r);
    }

    return ngx_oci_error_digest(r, NGX_HTTP_BAD_REQUEST,
                                NGX_OCI_ERR_MANIFEST_BLOB_UNKNOWN,
                                what == NGX_OCI_LAYOUT_MANIFEST
                                ? "a referenced manifest is not in the "
                                  "repository"
                                : "a referenced blob is not in the "
                                  "repository",
                                &digest);
}


/*
 * The subject policy, and the descriptor the referrers index will list
 * this manifest with. A subject that does not exist is accepted unless the
 * location says otherwise ("reject" is not what the spec asks for).
 */

static ngx_int_t
ngx_oci_api_manifests_subject(ngx_http_request_t *r, ngx_oci_ctx_t *ctx,
    ngx_oci_api_manifest_t *m, ngx_oci_manifest_t *mf)
{
    ngx_int_t            rc;
    ngx_oci_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    rc = ngx_oci_api_manifests_subject_of(r, m, mf->subject);

    if (rc == NGX_DECLINED) {
        return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                             NGX_OCI_ERR_MANIFEST_INVALID,
                             "the subject has no valid digest");
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (olcf->subject_policy != NGX_OCI_SUBJECT_ACCEPT) {
        rc = ngx_oci_api_manifests_policy(r, ctx, &m->pair.subject);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (olcf->redis.redis == NULL) {
        return NGX_OK;
    }

    /* ngx_oci_store_digest() leaves the digest NUL-terminated */

    if (ngx_oci_index_describe(r->pool, mf, &ctx->digest, m->body_len,
                               &m->referrer)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_OK;
}


/* the subject's digest, kept: NGX_OK, NGX_DECLINED if it has none */

static ngx_int_t
ngx_oci_api_manifests_subject_of(ngx_http_request_t *r,
    ngx_oci_api_manifest_t *m, json_t *subject)
{
    int            alg;
    size_t         len;
    const u_char  *p;

    if (ngx_oci_descriptor_digest(subject, &p, &len, &alg) != 0) {
        return NGX_DECLINED;
    }

    m->pair.subject.data = ngx_pnalloc(r->pool, len);
    if (m->pair.subject.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(m->pair.subject.data, p, len);
    m->pair.subject.len = len;

    return NGX_OK;
}


/* "reject" refuses a subject the repository lacks, "warn" says so */

static ngx_int_t
ngx_oci_api_manifests_policy(ngx_http_request_t *r, ngx_oci_ctx_t *ctx,
    ngx_str_t *subject)
{
    ngx_int_t            rc;
    ngx_str_t            warning, text;
    ngx_oci_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    rc = ngx_oci_store_exists(&ctx->store, NGX_OCI_LAYOUT_MANIFEST,
                              &ctx->name, subject);

    if (rc == NGX_OK) {
        return NGX_OK;
    }

    if (rc != NGX_DECLINED) {
        return ngx_oci_error_storage(r);
    }

    if (olcf->subject_policy == NGX_OCI_SUBJECT_REJECT) {
        return ngx_oci_error_digest(r, NGX_HTTP_BAD_REQUEST,
                                    NGX_OCI_ERR_MANIFEST_BLOB_UNKNOWN,
                                    "the subject is not in the repository "
                                    "(oci_subject_policy reject)", subject);
    }

    /* the text is a quoted string that neither value can end */

    text.len = sizeof("subject  not found in ") - 1 + subject->len
               + ctx->name.len;
    text.data = ngx_pnalloc(r->pool, text.len);
    if (text.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    (void) ngx_sprintf(text.data, "subject %V not found in %V", subject,
                       &ctx->name);

    warning.len = sizeof("299 - ") - 1
                  + ngx_oci_link_quoted(NULL, text.data, text.len);
    warning.data = ngx_pnalloc(r->pool, warning.len);
    if (warning.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    (void) ngx_oci_link_quoted(ngx_cpymem(warning.data, "299 - ", 6),
                               text.data, text.len);

    if (ngx_oci_add_header(r, "Warning", &warning) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_oci_api_manifests_store(ngx_http_request_t *r, ngx_oci_ctx_t *ctx,
    ngx_oci_api_manifest_t *m)
{
    ngx_str_t  body;

    body.data = m->body;
    body.len = m->body_len;

    if (ngx_oci_store_manifest_save(&ctx->store, &ctx->name, &ctx->digest,
                                    &body, &m->type, &m->added)
        != NGX_OK)
    {
        return ngx_oci_error_storage(r);
    }

    return NGX_OK;
}


static void
ngx_oci_api_manifests_indexed(ngx_http_request_t *r, void *data,
    ngx_int_t rc, redisReply *reply)
{
    ngx_oci_ctx_t           *ctx;
    ngx_oci_api_manifest_t  *m = data;

    ctx = ngx_http_get_module_ctx(r, ngx_oci_module);

    if (rc != NGX_OK) {
        rc = ngx_oci_api_manifests_withdraw(r, ctx, m);

    } else if (ngx_oci_store_page_invalidate(&ctx->store, &ctx->name,
                                             &m->pair.subject)
               != NGX_OK)
    {
        rc = ngx_oci_error_storage(r);

    } else if (ngx_oci_add_header(r, "OCI-Subject", &m->pair.subject)
               != NGX_OK)
    {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;

    } else {
        rc = ngx_oci_api_manifests_tag(r);
    }

    ngx_http_finalize_request(r, rc);
}


/*
 * Redis could not index the manifest: the manifest this request linked
 * is withdrawn, so nothing new is visible and the client's retry starts
 * from the same state; should Redis have applied the entry after all,
 * readers skip and drop it because its manifest is not stored.
 */

static ngx_int_t
ngx_oci_api_manifests_withdraw(ngx_http_request_t *r, ngx_oci_ctx_t *ctx,
    ngx_oci_api_manifest_t *m)
{
    if (m->added) {
        (void) ngx_oci_store_manifest_unlink(&ctx->store, &ctx->name,
                                             &ctx->digest);
    }

    /*
     * Redis may have taken the entry after all, and a reader listed it
     * while the manifest was stored: no cached page may keep it.
     */

    (void) ngx_oci_store_page_invalidate(&ctx->store, &ctx->name,
                                         &m->pair.subject);

    return ngx_oci_error_unavailable(r, "5",
                                     "the referrers index (redis) is "
                                     "unavailable; nothing was stored, "
                                     "retry later");
}


/*
 * The locks of the tags, each tag once, taken in order: NGX_OK when all
 * are held. When another request holds one, those taken are let go and
 * "again" runs from a timer (NGX_DONE); after about a second of that the
 * answer is 503. Tags differ from one another, so two requests each
 * holding a lock the other wants both let go and neither waits.
 */

static ngx_int_t
ngx_oci_api_manifests_lock(ngx_http_request_t *r, ngx_oci_ctx_t *ctx,
    ngx_str_t *tags, ngx_uint_t n, ngx_oci_tag_lock_t **locks,
    ngx_oci_retry_pt again)
{
    ngx_int_t   rc;
    ngx_uint_t  i, j;

    rc = NGX_OK;

    for (i = 0; i < n; i++) {
        locks[i] = NULL;

        for (j = 0; j < i; j++) {
            if (tags[j].len == tags[i].len
                && ngx_strncmp(tags[j].data, tags[i].data, tags[i].len) == 0)
            {
                break;
            }
        }

        if (j < i) {
            continue;
        }

        rc = ngx_oci_store_tag_lock(&ctx->store, &ctx->name, &tags[i],
                                    &locks[i]);
        if (rc != NGX_OK) {
            break;
        }
    }

    if (rc == NGX_OK) {
        return NGX_OK;
    }

    ngx_oci_api_manifests_unlock(locks, i);

    if (rc != NGX_BUSY) {
        return ngx_oci_error_storage(r);
    }

    /* counted by bench/tag-contention */
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "oci: tag lock of \"%V\" busy, retrying", &ctx->name);

    ngx_oci_metrics_count(r, NGX_OCI_METRIC_TAG_LOCK_RETRIES);

    return ngx_oci_api_manifests_later(r, again, "the tag stayed locked");
}


/* "again" from a timer, or 503 with the message after about a second */

static ngx_int_t
ngx_oci_api_manifests_later(ngx_http_request_t *r, ngx_oci_retry_pt again,
    const char *message)
{
    ngx_int_t  rc;

    rc = ngx_oci_retry_later(r, again);

    if (rc == NGX_DECLINED) {
        return ngx_oci_error_unavailable(r, "1", message);
    }

    return rc == NGX_DONE ? NGX_DONE : NGX_HTTP_INTERNAL_SERVER_ERROR;
}


static void
ngx_oci_api_manifests_unlock(ngx_oci_tag_lock_t **locks, ngx_uint_t n)
{
    ngx_uint_t  i;

    for (i = 0; i < n; i++) {
        ngx_oci_store_tag_unlock(locks[i]);
        locks[i] = NULL;
    }
}


/* applies the tags under their locks; may retry later */

static ngx_int_t
ngx_oci_api_manifests_tag(ngx_http_request_t *r)
{
    ngx_int_t                rc;
    ngx_uint_t               n;
    ngx_oci_ctx_t           *ctx;
    ngx_oci_api_manifest_t  *m;

    ctx = ngx_oci_get_ctx(r);
    m = ctx->endpoint;
    n = m->tags->nelts;

    if (n == 0) {
        return ngx_oci_api_manifests_created(r, ctx, m);
    }

    if (m->locks == NULL) {
        m->locks = ngx_pcalloc(r->pool, n * sizeof(ngx_oci_tag_lock_t *));
        m->old = ngx_pcalloc(r->pool, n * sizeof(ngx_str_t));

        if (m->locks == NULL || m->old == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    rc = ngx_oci_api_manifests_lock(r, ctx, m->tags->elts, n, m->locks,
                                    ngx_oci_api_manifests_tag);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_oci_api_manifests_write(r, ctx, m);

    ngx_oci_api_manifests_unlock(m->locks, n);

    if (rc == NGX_BUSY) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oci: manifest \"%V\" of \"%V\" is being deleted, "
                      "retrying", &ctx->digest, &ctx->name);

        return ngx_oci_api_manifests_later(r, ngx_oci_api_manifests_tag,
                                           "the manifest is being deleted");
    }

    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_oci_api_manifests_created(r, ctx, m);
}


/*
 * Under the tags' locks. A DELETE by digest takes no lock: it removes
 * the manifest, then reads every tag and removes, under its lock, each
 * that names it. So the manifest is looked at before the tags are
 * written (the DELETE may have come first), and again after: a DELETE
 * that removed it in between may have read the tags before they were
 * written, and a tag must never name a manifest that is not stored.
 */

static ngx_int_t
ngx_oci_api_manifests_write(ngx_http_request_t *r, ngx_oci_ctx_t *ctx,
    ngx_oci_api_manifest_t *m)
{
    ngx_int_t    rc;
    ngx_str_t   *tag;
    ngx_uint_t   i, guarded;

    rc = ngx_oci_api_manifests_restore(r, ctx, m);
    if (rc != NGX_OK) {
        return rc;
    }

    tag = m->tags->elts;

    for (i = 0; i < m->tags->nelts; i++) {
        if (m->locks[i] == NULL) {
            continue;                   /* given twice */
        }

        rc = ngx_oci_api_manifests_precondition(r, ctx, &tag[i], &m->old[i]);

        if (rc == NGX_OK) {
            rc = ngx_oci_api_manifests_moves(r, ctx, &tag[i], &m->old[i]);
        }

        if (rc != NGX_OK) {
            return rc;
        }
    }

    /*
     * An immutable tag must not come to name a manifest that a DELETE,
     * having found no immutable tag naming it, is about to remove: the
     * DELETE holds the digest's lock from before it reads the tags until
     * the manifest is gone, and the lock is looked at before the tags are
     * written and after. Seen after: this request wrote its tags before
     * the DELETE took the lock, the DELETE reads them and refuses. Not
     * seen: this request's tags are undone and written again later.
     */

    guarded = ngx_oci_api_manifests_guarded(r, m);

    if (guarded) {
        rc = ngx_oci_api_manifests_deleting(r, ctx);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    for (i = 0; i < m->tags->nelts; i++) {
        if (m->locks[i]
            && ngx_oci_store_tag_write(&ctx->store, &ctx->name, &tag[i],
                                       &ctx->digest)
               != NGX_OK)
        {
            ngx_oci_api_manifests_undo(ctx, m);
            return ngx_oci_error_storage(r);
        }
    }

    rc = guarded ? ngx_oci_api_manifests_deleting(r, ctx) : NGX_OK;

    if (rc == NGX_OK) {
        rc = ngx_oci_api_manifests_restore(r, ctx, m);
    }

    if (rc != NGX_OK) {
        ngx_oci_api_manifests_undo(ctx, m);
    }

    return rc;
}


/* the tags back to what they named, as far as storage lets it */

static void
ngx_oci_api_manifests_undo(ngx_oci_ctx_t *ctx, ngx_oci_api_manifest_t *m)
{
    ngx_str_t   *tag;
    ngx_uint_t   i;

    tag = m->tags->elts;

    for (i = 0; i < m->tags->nelts; i++) {
        if (m->locks[i] == NULL) {
            continue;
        }

        if (m->old[i].data) {
            (void) ngx_oci_store_tag_write(&ctx->store, &ctx->name, &tag[i],
                                           &m->old[i]);

        } else {
            (void) ngx_oci_store_unlink(&ctx->store, NGX_OCI_LAYOUT_TAG,
                                        &ctx->name, &tag[i]);
        }
    }
}


/*
 * A DELETE by digest may have removed the manifest since this request
 * stored it. The body is still in memory, so the manifest is stored
 * again, as if the DELETE had come first. A manifest with a subject is
 * not: the DELETE takes it out of the referrers index, so the client is
 * asked to push it again, which indexes it anew.
 */

static ngx_int_t
ngx_oci_api_manifests_restore(ngx_http_request_t *r, ngx_oci_ctx_t *ctx,
    ngx_oci_api_manifest_t *m)
{
    ngx_int_t   rc;
    ngx_str_t   body;
    ngx_uint_t  added;

    rc = ngx_oci_store_exists(&ctx->store, NGX_OCI_LAYOUT_MANIFEST,
                              &ctx->name, &ctx->digest);

    if (rc == NGX_OK) {
        return NGX_OK;
    }

    if (rc != NGX_DECLINED) {
        return ngx_oci_error_storage(r);
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "oci: manifest \"%V\" of \"%V\" was deleted while "
                  "its tags were written", &ctx->digest, &ctx->name);

    if (m->pair.subject.len) {
        return ngx_oci_error_unavailable(r, "1",
                                         "the manifest was deleted while "
                                         "it was pushed; nothing was "
                                         "tagged, push it again");
    }

    body.data = m->body;
    body.len = m->body_len;

    if (ngx_oci_store_manifest_save(&ctx->store, &ctx->name, &ctx->digest,
                                    &body, &m->type, &added)
        != NGX_OK)
    {
        return ngx_oci_error_storage(r);
    }

    return NGX_OK;
}


/*
 * If-Match: "<digest>" (or a list, or *) and If-None-Match: *, checked
 * against the tag as it is while its lock is held; the headers are
 * judged by ngx_oci_precondition() (pure, unit-tested and fuzzed). What
 * the tag names goes to "old" (data NULL: no such tag), should the tags
 * have to be put back.
 */

static ngx_int_t
ngx_oci_api_manifests_precondition(ngx_http_request_t *r,
    ngx_oci_ctx_t *ctx, ngx_str_t *tag, ngx_str_t *old)
{
    ngx_int_t         rc;
    ngx_str_t         current;
    ngx_table_elt_t  *match, *none;

    rc = ngx_oci_store_tag_read(&ctx->store, &ctx->name, tag, &current);

    if (rc == NGX_ERROR) {
        return ngx_oci_error_storage(r);
    }

    if (rc == NGX_OK) {
        *old = current;

    } else {
        ngx_str_null(old);
    }

    match = ngx_oci_header_in(r, "If-Match");
    none = ngx_oci_header_in(r, "If-None-Match");

    if (match == NULL && none == NULL) {
        return NGX_OK;
    }

    switch (ngx_oci_precondition(match ? match->value.data : NULL,
                                 match ? match->value.len : 0,
                                 none ? none->value.data : NULL,
                                 none ? none->value.len : 0,
                                 rc == NGX_OK ? current.data : NULL,
                                 rc == NGX_OK ? current.len : 0))
    {
    case NGX_OCI_PRECONDITION_OK:
        return NGX_OK;

    case NGX_OCI_PRECONDITION_UNSUPPORTED:
        return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST, NGX_OCI_ERR_UNSUPPORTED,
                             "If-None-Match on a manifest PUT must be "
                             "\"*\"");

    default:
        return ngx_oci_error(r, NGX_HTTP_PRECONDITION_FAILED,
                             NGX_OCI_ERR_PRECONDITION, NULL);
    }
}


/* whether a tag of this request is immutable by the location's policy */

static ngx_uint_t
ngx_oci_api_manifests_guarded(ngx_http_request_t *r,
    ngx_oci_api_manifest_t *m)
{
    ngx_str_t           *tag;
    ngx_uint_t           i;
    ngx_oci_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);
    tag = m->tags->elts;

    for (i = 0; i < m->tags->nelts; i++) {
        if (ngx_oci_store_tag_immutable(&olcf->tag_policy, &tag[i])) {
            return 1;
        }
    }

    return 0;
}


/*
 * Under the tag's lock: an immutable tag that names another manifest
 * stays. Naming the same one again is no move (a retried push).
 */

static ngx_int_t
ngx_oci_api_manifests_moves(ngx_http_request_t *r, ngx_oci_ctx_t *ctx,
    ngx_str_t *tag, ngx_str_t *old)
{
    ngx_oci_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    if (old->data == NULL
        || (old->len == ctx->digest.len
            && ngx_strncmp(old->data, ctx->digest.data, old->len) == 0)
        || !ngx_oci_store_tag_immutable(&olcf->tag_policy, tag))
    {
        return NGX_OK;
    }

    return ngx_oci_api_manifests_denied(r, "tag \"%V\" is immutable and "
                                        "names %V already", tag, old);
}


/* NGX_BUSY while a DELETE of the manifest holds the digest's lock */

static ngx_int_t
ngx_oci_api_manifests_deleting(ngx_http_request_t *r, ngx_oci_ctx_t *ctx)
{
    ngx_int_t  rc;

    rc = ngx_oci_store_digest_locked(&ctx->store, &ctx->name, &ctx->digest);

    if (rc == NGX_DECLINED) {
        return NGX_OK;
    }

    return rc == NGX_OK ? NGX_BUSY : ngx_oci_error_storage(r);
}


/*
 * 409 DENIED: the request conflicts with the tag as it is, not with who
 * asks (403 would suggest other credentials), and docker prints the
 * message of a DENIED and does not retry it (docs/api.md, "Immutable
 * tags")
 */

static ngx_int_t
ngx_oci_api_manifests_denied(ngx_http_request_t *r, const char *fmt,
    ngx_str_t *tag, ngx_str_t *digest)
{
    u_char  *msg, *last;
    size_t   len;

    len = ngx_strlen(fmt) + tag->len + (digest ? digest->len : 0) + 1;

    msg = ngx_pnalloc(r->pool, len);
    if (msg == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = digest ? ngx_snprintf(msg, len - 1, fmt, tag, digest)
                  : ngx_snprintf(msg, len - 1, fmt, tag);
    *last = '\0';

    return ngx_oci_error(r, NGX_HTTP_CONFLICT, NGX_OCI_ERR_DENIED,
                         (char *) msg);
}


static ngx_int_t
ngx_oci_api_manifests_created(ngx_http_request_t *r, ngx_oci_ctx_t *ctx,
    ngx_oci_api_manifest_t *m)
{
    ngx_str_t           location, *tag;
    ngx_uint_t          i;
    ngx_oci_link_str_t  path[4] = {
        NGX_OCI_LINK_LITERAL("/v2/"),
        { ctx->name.data, ctx->name.len },
        NGX_OCI_LINK_LITERAL("/manifests/"),
        { ctx->digest.data, ctx->digest.len }
    };

    location.len = ngx_oci_link_uri(NULL, path, 4, NULL, 0);
    location.data = ngx_pnalloc(r->pool, location.len);
    if (location.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    (void) ngx_oci_link_uri(location.data, path, 4, NULL, 0);

    if (ngx_oci_add_header(r, "Location", &location) != NGX_OK
        || ngx_oci_add_header(r, "Docker-Content-Digest", &ctx->digest)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* one OCI-Tag per ?tag= value, in the order given */

    tag = m->tags->elts;

    for (i = m->tags->nelts - m->query_tags; i < m->tags->nelts; i++) {
        if (ngx_oci_add_header(r, "OCI-Tag", &tag[i]) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    /* stored and tagged: one push event per tag, or one without */

    for (i = 0; i < m->tags->nelts; i++) {
        ngx_oci_api_manifests_event(r, ctx, "push", &m->type, m->body_len,
                                    &tag[i], m);
    }

    if (m->tags->nelts == 0) {
        ngx_oci_api_manifests_event(r, ctx, "push", &m->type, m->body_len,
                                    NULL, m);
    }

    return ngx_oci_send_empty(r, NGX_HTTP_CREATED);
}


/*
 * DELETE by digest: the manifest goes, then the tags that point to it,
 * each under its lock (a PUT that tags it meanwhile stores it again, see
 * ..._write()); the index entry after that, so should its update fail,
 * readers already skip the entry and drop it.
 *
 * With immutable tags, nothing goes while one names the manifest: the
 * digest's lock is taken, the tags are read off the event loop (there
 * may be thousands), and the manifest is removed before the lock goes
 * (see ..._write() for a PUT meanwhile).
 */

static ngx_int_t
ngx_oci_api_manifests_delete(ngx_http_request_t *r)
{
    ngx_int_t                rc;
    ngx_oci_ctx_t           *ctx;
    ngx_oci_loc_conf_t      *olcf;
    ngx_oci_api_manifest_t  *m;

    ctx = ngx_oci_get_ctx(r);
    m = ctx->endpoint;
    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    rc = ngx_oci_api_manifests_find_subject(r, ctx, m);
    if (rc != NGX_OK) {
        return rc;
    }

    if (!olcf->tag_policy.immutable) {
        return ngx_oci_api_manifests_remove(r, ctx, m);
    }

    rc = ngx_oci_store_digest_lock(&ctx->store, &ctx->name, &ctx->digest,
                                   &m->delete_lock);

    if (rc == NGX_BUSY) {
        return ngx_oci_api_manifests_later(r, ngx_oci_api_manifests_delete,
                                           "the manifest is being deleted");
    }

    if (rc == NGX_OK) {
        rc = ngx_oci_store_exists(&ctx->store, NGX_OCI_LAYOUT_MANIFEST,
                                  &ctx->name, &ctx->digest);
    }

    if (rc == NGX_OK) {
        rc = ngx_oci_store_tag_find_digest(&ctx->store, &ctx->name,
                                           &ctx->digest, &olcf->tag_policy,
                                           &m->immutable,
                                           ngx_oci_api_manifests_searched, r);
        if (rc == NGX_OK) {
            ngx_oci_wait(r);
            return NGX_DONE;
        }
    }

    ngx_oci_store_tag_unlock(m->delete_lock);

    return ngx_oci_error_not_ok(r, rc, NGX_OCI_ERR_MANIFEST_UNKNOWN);
}


static void
ngx_oci_api_manifests_searched(ngx_oci_store_job_t *job)
{
    ngx_oci_resume(job->owner, job->rc == NGX_OK
                               ? ngx_oci_api_manifests_checked
                               : ngx_oci_error_storage);
}


/* the tags have been read under the digest's lock, which is still held */

static ngx_int_t
ngx_oci_api_manifests_checked(ngx_http_request_t *r)
{
    ngx_int_t                rc;
    ngx_oci_ctx_t           *ctx;
    ngx_oci_api_manifest_t  *m;

    ctx = ngx_oci_get_ctx(r);
    m = ctx->endpoint;

    if (m->immutable.len) {
        ngx_oci_store_tag_unlock(m->delete_lock);

        return ngx_oci_api_manifests_denied(r, "the immutable tag \"%V\" "
                                            "names this manifest",
                                            &m->immutable, NULL);
    }

    if (!ngx_oci_store_tag_lock_fresh(m->delete_lock)) {
        ngx_oci_store_tag_unlock(m->delete_lock);

        return ngx_oci_error_unavailable(r, "1", "reading the tags took too "
                                         "long; nothing was deleted");
    }

    rc = ngx_oci_api_manifests_remove(r, ctx, m);

    ngx_oci_store_tag_unlock(m->delete_lock);

    return rc;
}


/* the manifest, then the tags naming it, off the event loop */

static ngx_int_t
ngx_oci_api_manifests_remove(ngx_http_request_t *r, ngx_oci_ctx_t *ctx,
    ngx_oci_api_manifest_t *m)
{
    ngx_int_t            rc;
    ngx_oci_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    rc = ngx_oci_store_manifest_unlink(&ctx->store, &ctx->name,
                                       &ctx->digest);

    if (rc == NGX_OK) {
        rc = ngx_oci_store_tag_drop_digest(&ctx->store, &ctx->name,
                                           &ctx->digest, &olcf->tag_policy,
                                           ngx_oci_api_manifests_untagged, r);
        if (rc == NGX_OK) {
            ngx_oci_wait(r);
            return NGX_DONE;
        }
    }

    return ngx_oci_error_not_ok(r, rc, NGX_OCI_ERR_MANIFEST_UNKNOWN);
}


static void
ngx_oci_api_manifests_untagged(ngx_oci_store_job_t *job)
{
    ngx_oci_resume(job->owner, job->rc == NGX_OK
                               ? ngx_oci_api_manifests_deleted
                               : ngx_oci_error_storage);
}


static ngx_int_t
ngx_oci_api_manifests_deleted(ngx_http_request_t *r)
{
    ngx_oci_ctx_t           *ctx;
    ngx_oci_api_manifest_t  *m;

    ctx = ngx_oci_get_ctx(r);
    m = ctx->endpoint;

    /* queued first: it leaves in the same write as the index update */

    ngx_oci_api_manifests_event(r, ctx, "delete", NULL, -1, NULL, m);

    if (m->pair.subject.len
        && ngx_oci_index_remove(r, &m->pair, &ctx->digest,
                                ngx_oci_api_manifests_unindexed, m)
           == NGX_OK)
    {
        r->main->count++;
        return NGX_DONE;
    }

    /* no Redis to update: the cached pages go all the same */

    if (m->pair.subject.len
        && ngx_oci_store_page_invalidate(&ctx->store, &ctx->name,
                                         &m->pair.subject)
           != NGX_OK)
    {
        return ngx_oci_error_storage(r);
    }

    return ngx_oci_send_empty(r, NGX_HTTP_ACCEPTED);
}


/* a manifest about to be deleted: its subject, if the index lists it */

static ngx_int_t
ngx_oci_api_manifests_find_subject(ngx_http_request_t *r,
    ngx_oci_ctx_t *ctx, ngx_oci_api_manifest_t *m)
{
    ngx_int_t            rc;
    ngx_str_t            body;
    ngx_oci_manifest_t   mf;
    ngx_oci_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    if (olcf->redis.redis == NULL || m->pair.subject.len) {
        return NGX_OK;
    }

    rc = ngx_oci_store_read(&ctx->store, NGX_OCI_LAYOUT_MANIFEST, &ctx->name,
                            &ctx->digest, &body, olcf->max_manifest_size);
    if (rc == NGX_DECLINED) {
        return NGX_OK;
    }

    if (rc != NGX_OK) {
        return ngx_oci_error_storage(r);
    }

    rc = NGX_OK;

    if (ngx_oci_manifest_parse(body.data, body.len, NULL, 0, &mf)
        == NGX_OCI_MANIFEST_OK
        && mf.subject)
    {
        rc = ngx_oci_api_manifests_subject_of(r, m, mf.subject);
    }

    ngx_oci_manifest_free(&mf);

    return rc == NGX_ERROR ? NGX_HTTP_INTERNAL_SERVER_ERROR : NGX_OK;
}


/*
 * The manifest is gone whatever Redis said: readers drop stale entries,
 * and no cached page lists it after this.
 */

static void
ngx_oci_api_manifests_unindexed(ngx_http_request_t *r, void *data,
    ngx_int_t rc, redisReply *reply)
{
    ngx_oci_ctx_t           *ctx;
    ngx_oci_api_manifest_t  *m = data;

    ctx = ngx_oci_get_ctx(r);

    if (ngx_oci_store_page_invalidate(&ctx->store, &ctx->name,
                                      &m->pair.subject)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, ngx_oci_error_storage(r));
        return;
    }

    ngx_http_finalize_request(r, ngx_oci_send_empty(r, NGX_HTTP_ACCEPTED));
}


static ngx_int_t
ngx_oci_api_manifests_untag(ngx_http_request_t *r)
{
    ngx_int_t            rc;
    ngx_oci_ctx_t       *ctx;
    ngx_oci_loc_conf_t  *olcf;
    ngx_oci_tag_lock_t  *lock;

    ctx = ngx_oci_get_ctx(r);

    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    rc = ngx_oci_api_manifests_lock(r, ctx, &ctx->ref, 1, &lock,
                                    ngx_oci_api_manifests_untag);
    if (rc != NGX_OK) {
        return rc;
    }

    /* under the lock: the tag is there, or it would be 404 */

    if (ngx_oci_store_tag_immutable(&olcf->tag_policy, &ctx->ref)) {
        rc = ngx_oci_store_exists(&ctx->store, NGX_OCI_LAYOUT_TAG,
                                  &ctx->name, &ctx->ref);

        if (rc == NGX_OK) {
            ngx_oci_store_tag_unlock(lock);

            return ngx_oci_api_manifests_denied(r, "tag \"%V\" is "
                                                "immutable and cannot be "
                                                "deleted", &ctx->ref, NULL);
        }
    }

    rc = ngx_oci_store_unlink(&ctx->store, NGX_OCI_LAYOUT_TAG, &ctx->name,
                              &ctx->ref);

    ngx_oci_store_tag_unlock(lock);

    if (rc != NGX_OK) {
        return ngx_oci_error_not_ok(r, rc, NGX_OCI_ERR_MANIFEST_UNKNOWN);
    }

    ngx_oci_api_manifests_event(r, ctx, "delete", NULL, -1, &ctx->ref, NULL);

    return ngx_oci_send_empty(r, NGX_HTTP_ACCEPTED);
}


/*
 * An event of this manifest (docs/events.md): a push once stored and
 * tagged, a delete once removed, a pull once found; a tag's delete names
 * the tag and no digest, as the reference registry's does.
 */

static void
ngx_oci_api_manifests_event(ngx_http_request_t *r, ngx_oci_ctx_t *ctx,
    const char *action, ngx_str_t *type, off_t size, ngx_str_t *tag,
    ngx_oci_api_manifest_t *m)
{
    ngx_oci_event_t      ev;
    ngx_oci_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    if (!olcf->events.enable) {
        return;
    }

    ngx_memzero(&ev, sizeof(ngx_oci_event_t));

    ev.action.data = (u_char *) action;
    ev.action.len = ngx_strlen(action);
    ev.repository.data = ctx->name.data;
    ev.repository.len = ctx->name.len;
    ev.size = size;

    if (ctx->digest.len) {
        ev.digest.data = ctx->digest.data;
        ev.digest.len = ctx->digest.len;
    }

    if (type) {
        ev.media_type.data = type->data;
        ev.media_type.len = type->len;
    }

    if (tag) {
        ev.tag.data = tag->data;
        ev.tag.len = tag->len;
    }

    if (m) {
        ev.artifact_type.data = m->artifact_type.data;
        ev.artifact_type.len = m->artifact_type.len;
        ev.subject.data = m->pair.subject.data;
        ev.subject.len = m->pair.subject.len;
    }

    ev.actor.data = ctx->token_subject.data;
    ev.actor.len = ctx->token_subject.len;

    ngx_oci_events_record(r, &olcf->events, &olcf->redis, &ev);
}
