
/*
 * Manifests: GET and HEAD by tag or digest, PUT with validation and
 * conditional tag updates, DELETE by digest (the manifest and its tags)
 * or by tag (untag).
 */


#include "ngx_oci.h"
#include "ngx_oci_manifest_check.h"
#include "ngx_oci_index_schema.h"

#include <openssl/evp.h>


static ngx_int_t ngx_oci_manifest_get(ngx_http_request_t *r,
    ngx_str_t *name, ngx_str_t *ref, ngx_uint_t is_digest);
static ngx_int_t ngx_oci_manifest_put(ngx_http_request_t *r,
    ngx_str_t *ref, ngx_uint_t is_digest);
static ngx_int_t ngx_oci_manifest_sink(ngx_http_request_t *r, u_char *p,
    size_t len);
static void ngx_oci_manifest_received(ngx_http_request_t *r);
static ngx_int_t ngx_oci_manifest_indexed(ngx_http_request_t *r,
    ngx_int_t rc);
static ngx_int_t ngx_oci_manifest_digest(ngx_http_request_t *r);
static ngx_int_t ngx_oci_manifest_validate(ngx_http_request_t *r);
static ngx_int_t ngx_oci_manifest_subject(ngx_http_request_t *r,
    ngx_oci_manifest_t *m);
static ngx_int_t ngx_oci_manifest_store(ngx_http_request_t *r);
static ngx_int_t ngx_oci_manifest_check_refs(ngx_http_request_t *r,
    ngx_oci_manifest_t *m);
static ngx_int_t ngx_oci_manifest_ref_exists(ngx_http_request_t *r,
    json_t *d, const char *kind);
static ngx_int_t ngx_oci_manifest_tag(ngx_http_request_t *r);
static ngx_int_t ngx_oci_manifest_precondition(ngx_http_request_t *r,
    ngx_str_t *tag);
static ngx_int_t ngx_oci_manifest_created(ngx_http_request_t *r);
static ngx_int_t ngx_oci_manifest_delete(ngx_http_request_t *r);
static ngx_int_t ngx_oci_manifest_find_subject(ngx_http_request_t *r,
    ngx_str_t *path);
static ngx_int_t ngx_oci_manifest_deleted(ngx_http_request_t *r,
    ngx_int_t rc);
static ngx_int_t ngx_oci_manifest_untag(ngx_http_request_t *r);


ngx_int_t
ngx_oci_manifest_handler(ngx_http_request_t *r)
{
    int                  rc;
    ngx_str_t            name, ref;
    ngx_uint_t           is_digest;
    ngx_oci_ctx_t       *ctx;
    ngx_oci_loc_conf_t  *olcf;

    ctx = ngx_oci_get_ctx(r);

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_PUT
                       |NGX_HTTP_DELETE)))
    {
        return ngx_oci_error(r, NGX_HTTP_NOT_ALLOWED, NGX_OCI_ERR_UNSUPPORTED,
                             "a manifest answers GET, HEAD, PUT and DELETE");
    }

    name.data = (u_char *) ctx->route.name;
    name.len = ctx->route.name_len;
    ref.data = (u_char *) ctx->route.ref;
    ref.len = ctx->route.ref_len;

    is_digest = 0;

    if (ngx_strlchr(ref.data, ref.data + ref.len, ':')) {
        rc = ngx_oci_digest_parse(ref.data, ref.len, NULL, NULL, NULL);

        if (rc != NGX_OCI_DIGEST_OK) {
            return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                                 NGX_OCI_ERR_DIGEST_INVALID,
                                 rc == NGX_OCI_DIGEST_UNSUPPORTED
                                 ? "unsupported digest algorithm"
                                 : "malformed digest");
        }

        is_digest = 1;
        ctx->digest = ref;

    } else if (!ngx_oci_tag_valid(ref.data, ref.len)) {

        if (r->method == NGX_HTTP_PUT) {
            return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                                 NGX_OCI_ERR_MANIFEST_INVALID,
                                 "invalid tag");
        }

        /* no manifest can have such a tag */

        return ngx_oci_error(r, NGX_HTTP_NOT_FOUND,
                             NGX_OCI_ERR_MANIFEST_UNKNOWN, "invalid tag");
    }

    if (r->method == NGX_HTTP_PUT) {
        return ngx_oci_manifest_put(r, &ref, is_digest);
    }

    if (r->method == NGX_HTTP_DELETE) {
        olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

        if (!olcf->delete) {
            return ngx_oci_error(r, NGX_HTTP_NOT_ALLOWED,
                                 NGX_OCI_ERR_UNSUPPORTED,
                                 "deletes are disabled (oci_delete off)");
        }

        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return is_digest ? ngx_oci_manifest_delete(r)
                         : ngx_oci_manifest_untag(r);
    }

    return ngx_oci_manifest_get(r, &name, &ref, is_digest);
}


static ngx_int_t
ngx_oci_manifest_get(ngx_http_request_t *r, ngx_str_t *name, ngx_str_t *ref,
    ngx_uint_t is_digest)
{
    ngx_int_t       rc;
    ngx_str_t       digest, path, type;
    ngx_oci_ctx_t  *ctx;

    ctx = ngx_oci_get_ctx(r);

    digest = *ref;
    rc = is_digest ? NGX_OK : ngx_oci_tag_read(r, name, ref, &digest);

    if (rc == NGX_OK) {
        ctx->digest = digest;

        if (ngx_oci_repo_path(r, &path, name, "_manifests", &digest, ".type")
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /*
         * The media type is read from disk each time, not through the
         * open file cache, so a deleted manifest is gone at once.
         */

        rc = ngx_oci_read_small(r, &path, &type, 256);
    }

    if (rc == NGX_OK) {
        path.len -= sizeof(".type") - 1;
        path.data[path.len] = '\0';

        rc = ngx_oci_serve_file(r, &path, &type, &digest, 0);
    }

    if (rc != NGX_DECLINED) {
        return rc;
    }

    return ngx_oci_error(r, NGX_HTTP_NOT_FOUND, NGX_OCI_ERR_MANIFEST_UNKNOWN,
                         NULL);
}


static ngx_int_t
ngx_oci_manifest_put(ngx_http_request_t *r, ngx_str_t *ref,
    ngx_uint_t is_digest)
{
    ngx_str_t            *tag, value, raw;
    ngx_oci_ctx_t        *ctx;
    ngx_oci_loc_conf_t   *olcf;

    ctx = ngx_oci_get_ctx(r);
    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    ctx->tags = ngx_array_create(r->pool, 2, sizeof(ngx_str_t));
    if (ctx->tags == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!is_digest) {
        tag = ngx_array_push(ctx->tags);
        if (tag == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        *tag = *ref;
    }

    /* ?tag=a&tag=b: tags applied along with a push by digest */

    raw = r->args;

    while (ngx_oci_arg_next(&raw, "tag", &value) == NGX_OK) {

        if (!ngx_oci_tag_valid(value.data, value.len)) {
            return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                                 NGX_OCI_ERR_MANIFEST_INVALID,
                                 "invalid ?tag= value");
        }

        tag = ngx_array_push(ctx->tags);
        if (tag == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        *tag = value;
        ctx->query_tags++;
    }

    if (r->headers_in.content_length_n > (off_t) olcf->max_manifest_size) {
        return ngx_oci_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                             NGX_OCI_ERR_MANIFEST_INVALID,
                             "the manifest is larger than "
                             "oci_max_manifest_size");
    }

    ctx->body_max = olcf->max_manifest_size;

    return ngx_oci_read_body(r, ngx_oci_manifest_sink,
                             ngx_oci_manifest_received);
}


static ngx_int_t
ngx_oci_manifest_sink(ngx_http_request_t *r, u_char *p, size_t len)
{
    u_char         *body;
    size_t          size;
    ngx_oci_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_oci_module);

    if (len > ctx->body_max - ctx->body_len) {
        return ngx_oci_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                             NGX_OCI_ERR_MANIFEST_INVALID,
                             "the manifest is larger than "
                             "oci_max_manifest_size");
    }

    if (ctx->body_len + len > ctx->body_size) {

        /* the declared length, or doubling for a chunked body */

        size = ngx_max(ctx->body_size * 2, ctx->body_len + len);

        if (r->headers_in.content_length_n > 0) {
            size = ngx_max(size, (size_t) r->headers_in.content_length_n);
        }

        size = ngx_min(size, ctx->body_max);

        body = ngx_pnalloc(r->pool, size);
        if (body == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(body, ctx->body, ctx->body_len);
        ctx->body = body;
        ctx->body_size = size;
    }

    ngx_memcpy(ctx->body + ctx->body_len, p, len);
    ctx->body_len += len;

    return NGX_OK;
}


static void
ngx_oci_manifest_received(ngx_http_request_t *r)
{
    ngx_int_t        rc;
    ngx_oci_ctx_t   *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_oci_module);

    rc = ngx_oci_manifest_store(r);

    if (rc == NGX_OK && ctx->referrer.len) {

        /* stored on disk first: then indexed under its subject */

        rc = ngx_oci_referrers_add(r, &ctx->subject, &ctx->digest,
                                   &ctx->referrer, ngx_oci_manifest_indexed);

        if (rc == NGX_ERROR) {
            rc = ngx_oci_manifest_indexed(r, NGX_ERROR);
        }

    } else if (rc == NGX_OK) {
        rc = ngx_oci_manifest_tag(r);
    }

    ngx_http_finalize_request(r, rc);
}


/*
 * Redis answered (or failed to) about the index entry. On failure the
 * manifest this request linked is withdrawn, so nothing new is visible
 * and the client's retry starts from the same state; should Redis have
 * applied the entry after all, readers skip and drop it because its
 * manifest is not stored.
 */

static ngx_int_t
ngx_oci_manifest_indexed(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_str_t        name, path;
    ngx_oci_ctx_t   *ctx;

    static ngx_str_t  retry = ngx_string("5");

    ctx = ngx_http_get_module_ctx(r, ngx_oci_module);

    if (rc == NGX_OK) {
        if (ngx_oci_add_header(r, "OCI-Subject", &ctx->subject) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_oci_manifest_tag(r);
    }

    name.data = (u_char *) ctx->route.name;
    name.len = ctx->route.name_len;

    if (ctx->link_new
        && ngx_oci_repo_path(r, &path, &name, "_manifests", &ctx->digest,
                             ".type")
           == NGX_OK)
    {
        (void) ngx_delete_file(path.data);

        path.len -= sizeof(".type") - 1;
        path.data[path.len] = '\0';
        (void) ngx_delete_file(path.data);
    }

    if (ngx_oci_add_header(r, "Retry-After", &retry) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_oci_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                         NGX_OCI_ERR_UNAVAILABLE,
                         "the referrers index (redis) is unavailable; "
                         "nothing was stored, retry later");
}


/* the digest of the exact bytes, in the reference's algorithm */

static ngx_int_t
ngx_oci_manifest_digest(ngx_http_request_t *r)
{
    int              alg;
    u_char           md[EVP_MAX_MD_SIZE];
    ngx_str_t        digest;
    ngx_oci_ctx_t   *ctx;
    const EVP_MD    *evp;

    ctx = ngx_http_get_module_ctx(r, ngx_oci_module);

    alg = NGX_OCI_SHA256;
    if (ctx->digest.len) {
        (void) ngx_oci_digest_parse(ctx->digest.data, ctx->digest.len, &alg,
                                    NULL, NULL);
    }

    evp = (alg == NGX_OCI_SHA512) ? EVP_sha512() : EVP_sha256();

    if (EVP_Digest(ctx->body, ctx->body_len, md, NULL, evp, NULL) != 1
        || ngx_oci_digest_string(r, alg, md, &digest) != NGX_OK)
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
ngx_oci_manifest_validate(ngx_http_request_t *r)
{
    int                  rc;
    u_char              *p;
    size_t               len;
    ngx_str_t            ct;
    ngx_int_t            ret;
    ngx_oci_ctx_t       *ctx;
    ngx_oci_loc_conf_t  *olcf;
    ngx_oci_manifest_t   m;

    ctx = ngx_http_get_module_ctx(r, ngx_oci_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    ngx_str_null(&ct);
    if (r->headers_in.content_type) {
        ct = r->headers_in.content_type->value;
    }

    rc = ngx_oci_manifest_parse(ctx->body ? ctx->body : (u_char *) "",
                                ctx->body_len, ct.data, ct.len, &m);

    if (rc != NGX_OCI_MANIFEST_OK) {
        len = ngx_strlen(m.error);
        p = ngx_pnalloc(r->pool, len + 1);
        if (p != NULL) {
            ngx_memcpy(p, m.error, len + 1);
        }

        ngx_oci_manifest_free(&m);

        return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                             NGX_OCI_ERR_MANIFEST_INVALID, (char *) p);
    }

    ret = NGX_OK;

    if (olcf->check_references) {
        ret = ngx_oci_manifest_check_refs(r, &m);
    }

    if (ret == NGX_OK && m.subject) {
        ret = ngx_oci_manifest_subject(r, &m);
    }

    if (ret == NGX_OK) {
        ctx->type.len = ngx_strlen(m.media_type);
        ctx->type.data = ngx_pnalloc(r->pool, ctx->type.len);

        if (ctx->type.data == NULL) {
            ret = NGX_HTTP_INTERNAL_SERVER_ERROR;

        } else {
            ngx_memcpy(ctx->type.data, m.media_type, ctx->type.len);
        }
    }

    ngx_oci_manifest_free(&m);

    return ret;
}


/*
 * The subject policy, and the descriptor the referrers index will list
 * this manifest with. A subject that does not exist is accepted unless the
 * location says otherwise ("reject" is not what the spec asks for).
 */

static ngx_int_t
ngx_oci_manifest_subject(ngx_http_request_t *r, ngx_oci_manifest_t *m)
{
    int                  alg;
    char                *desc;
    size_t               len;
    ngx_int_t            rc;
    ngx_str_t            name, path, warning;
    const u_char        *p;
    ngx_oci_ctx_t       *ctx;
    ngx_oci_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_oci_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    if (ngx_oci_descriptor_digest(m->subject, &p, &len, &alg) != 0) {
        return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                             NGX_OCI_ERR_MANIFEST_INVALID,
                             "the subject has no valid digest");
    }

    ctx->subject.data = ngx_pnalloc(r->pool, len);
    if (ctx->subject.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(ctx->subject.data, p, len);
    ctx->subject.len = len;

    if (olcf->subject_policy != NGX_OCI_SUBJECT_ACCEPT) {
        name.data = (u_char *) ctx->route.name;
        name.len = ctx->route.name_len;

        if (ngx_oci_repo_path(r, &path, &name, "_manifests", &ctx->subject,
                              "")
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rc = ngx_oci_file_exists(&path);

        if (rc == NGX_ERROR) {
            return ngx_oci_storage_error(r, ngx_errno, "stat()", &path);
        }

        if (rc == NGX_DECLINED
            && olcf->subject_policy == NGX_OCI_SUBJECT_REJECT)
        {
            return ngx_oci_error_digest(r, NGX_HTTP_BAD_REQUEST,
                                        NGX_OCI_ERR_MANIFEST_BLOB_UNKNOWN,
                                        "the subject is not in the "
                                        "repository (oci_subject_policy "
                                        "reject)", &ctx->subject);
        }

        if (rc == NGX_DECLINED) {
            warning.data = ngx_pnalloc(r->pool, sizeof("299 - \"subject  not "
                                                       "found in \"") - 1
                                                + len + name.len);
            if (warning.data == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            warning.len = ngx_sprintf(warning.data, "299 - \"subject %V not "
                                      "found in %V\"", &ctx->subject, &name)
                          - warning.data;

            if (ngx_oci_add_header(r, "Warning", &warning) != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }
    }

    if (olcf->redis.redis == NULL) {
        return NGX_OK;
    }

    /* ngx_oci_digest_string() leaves the digest NUL-terminated */

    desc = ngx_oci_index_descriptor(m, (char *) ctx->digest.data,
                                       ctx->body_len);
    if (desc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->referrer.len = ngx_strlen(desc);
    ctx->referrer.data = ngx_pnalloc(r->pool, ctx->referrer.len);

    if (ctx->referrer.data != NULL) {
        ngx_memcpy(ctx->referrer.data, desc, ctx->referrer.len);
    }

    free(desc);

    return ctx->referrer.data ? NGX_OK : NGX_HTTP_INTERNAL_SERVER_ERROR;
}


static ngx_int_t
ngx_oci_manifest_store(ngx_http_request_t *r)
{
    ngx_str_t        name, blob, link;
    ngx_int_t        rc;
    ngx_oci_ctx_t   *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_oci_module);

    rc = ngx_oci_manifest_digest(r);

    if (rc == NGX_OK) {
        rc = ngx_oci_manifest_validate(r);
    }

    if (rc != NGX_OK) {
        return rc;
    }

    name.data = (u_char *) ctx->route.name;
    name.len = ctx->route.name_len;

    if (ngx_oci_blob_path(r, &blob, &ctx->digest) != NGX_OK
        || ngx_oci_repo_path(r, &link, &name, "_manifests", &ctx->digest,
                             ".type")
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_oci_file_exists(&blob);

    if (rc == NGX_DECLINED) {
        rc = ngx_oci_write_file(r, &blob, ctx->body, ctx->body_len, 0);
    }

    if (rc != NGX_OK) {
        return rc == NGX_ERROR
               ? ngx_oci_storage_error(r, ngx_errno, "stat()", &blob) : rc;
    }

    /* the media type first: the link makes the manifest visible */

    rc = ngx_oci_write_file(r, &link, ctx->type.data, ctx->type.len, 1);
    if (rc != NGX_OK) {
        return rc;
    }

    link.len -= sizeof(".type") - 1;
    link.data[link.len] = '\0';

    rc = ngx_oci_file_exists(&link);

    if (rc == NGX_ERROR) {
        return ngx_oci_storage_error(r, ngx_errno, "stat()", &link);
    }

    /* a manifest this request made visible is withdrawn if indexing fails */

    ctx->link_new = (rc == NGX_DECLINED);

    return ngx_oci_link(r, &blob, &link);
}


static ngx_int_t
ngx_oci_manifest_check_refs(ngx_http_request_t *r, ngx_oci_manifest_t *m)
{
    size_t      i;
    ngx_int_t   rc;

    if (m->config) {
        rc = ngx_oci_manifest_ref_exists(r, m->config, "_blobs");
        if (rc != NGX_OK) {
            return rc;
        }
    }

    for (i = 0; m->layers && i < json_array_size(m->layers); i++) {
        rc = ngx_oci_manifest_ref_exists(r, json_array_get(m->layers, i),
                                         "_blobs");
        if (rc != NGX_OK) {
            return rc;
        }
    }

    for (i = 0; m->manifests && i < json_array_size(m->manifests); i++) {
        rc = ngx_oci_manifest_ref_exists(r, json_array_get(m->manifests, i),
                                         "_manifests");
        if (rc != NGX_OK) {
            return rc;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_oci_manifest_ref_exists(ngx_http_request_t *r, json_t *d,
    const char *kind)
{
    int              alg;
    size_t           len;
    ngx_int_t        rc;
    ngx_str_t        digest, name, path;
    const u_char    *p;
    ngx_oci_ctx_t   *ctx;

    if (ngx_oci_descriptor_is_foreign(d)) {
        return NGX_OK;
    }

    if (ngx_oci_descriptor_digest(d, &p, &len, &alg) != 0) {
        return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                             NGX_OCI_ERR_MANIFEST_INVALID,
                             "a descriptor has no valid digest");
    }

    ctx = ngx_oci_get_ctx(r);

    digest.data = (u_char *) p;
    digest.len = len;
    name.data = (u_char *) ctx->route.name;
    name.len = ctx->route.name_len;

    if (ngx_oci_repo_path(r, &path, &name, kind, &digest, "") != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_oci_file_exists(&path);

    if (rc == NGX_OK) {
        return NGX_OK;
    }

    if (rc == NGX_ERROR) {
        return ngx_oci_storage_error(r, ngx_errno, "stat()", &path);
    }

    return ngx_oci_error_digest(r, NGX_HTTP_BAD_REQUEST,
                                NGX_OCI_ERR_MANIFEST_BLOB_UNKNOWN,
                                kind[1] == 'b' ? "a referenced blob is not "
                                                 "in the repository"
                                               : "a referenced manifest is "
                                                 "not in the repository",
                                &digest);
}


/* applies the tags under the repository's tag lock; may retry later */

static ngx_int_t
ngx_oci_manifest_tag(ngx_http_request_t *r)
{
    ngx_fd_t        fd;
    ngx_int_t       rc;
    ngx_str_t       name, *tag;
    ngx_uint_t      i;
    ngx_oci_ctx_t  *ctx;

    ctx = ngx_oci_get_ctx(r);

    if (ctx->tags->nelts == 0) {
        return ngx_oci_manifest_created(r);
    }

    name.data = (u_char *) ctx->route.name;
    name.len = ctx->route.name_len;

    rc = ngx_oci_tag_lock(r, &name, &fd);

    if (rc == NGX_BUSY) {
        return ngx_oci_retry_later(r, ngx_oci_manifest_tag);
    }

    if (rc != NGX_OK) {
        return rc;
    }

    tag = ctx->tags->elts;

    for (i = 0; i < ctx->tags->nelts; i++) {
        rc = ngx_oci_manifest_precondition(r, &tag[i]);
        if (rc != NGX_OK) {
            ngx_oci_tag_unlock(fd);
            return rc;
        }
    }

    for (i = 0; i < ctx->tags->nelts; i++) {
        rc = ngx_oci_tag_write(r, &name, &tag[i], &ctx->digest);
        if (rc != NGX_OK) {
            ngx_oci_tag_unlock(fd);
            return rc;
        }
    }

    ngx_oci_tag_unlock(fd);

    return ngx_oci_manifest_created(r);
}


/*
 * If-Match: "<digest>" (or a list, or *) and If-None-Match: *, checked
 * against the tag as it is while the tag lock is held.
 */

static ngx_int_t
ngx_oci_manifest_precondition(ngx_http_request_t *r, ngx_str_t *tag)
{
    u_char           *p, *end, *start;
    ngx_int_t         rc;
    ngx_str_t         name, current;
    ngx_uint_t        exists;
    ngx_oci_ctx_t    *ctx;
    ngx_table_elt_t  *match, *none;

    match = ngx_oci_header_in(r, "If-Match");
    none = ngx_oci_header_in(r, "If-None-Match");

    if (match == NULL && none == NULL) {
        return NGX_OK;
    }

    ctx = ngx_oci_get_ctx(r);

    name.data = (u_char *) ctx->route.name;
    name.len = ctx->route.name_len;

    rc = ngx_oci_tag_read(r, &name, tag, &current);
    if (rc != NGX_OK && rc != NGX_DECLINED) {
        return rc;
    }

    exists = (rc == NGX_OK);

    if (none) {
        if (none->value.len == 1 && none->value.data[0] == '*') {
            if (exists) {
                goto failed;
            }

        } else {
            return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                                 NGX_OCI_ERR_UNSUPPORTED,
                                 "If-None-Match on a manifest PUT must be "
                                 "\"*\"");
        }
    }

    if (match == NULL) {
        return NGX_OK;
    }

    if (!exists) {
        goto failed;
    }

    p = match->value.data;
    end = p + match->value.len;

    while (p < end) {
        while (p < end && (*p == ' ' || *p == ',')) {
            p++;
        }

        start = p;

        while (p < end && *p != ',') {
            p++;
        }

        while (p > start && p[-1] == ' ') {
            p--;
        }

        if (p - start == 1 && *start == '*') {
            return NGX_OK;
        }

        if (p - start >= 2 && *start == '"' && p[-1] == '"') {
            start++;
            p--;
        }

        if ((size_t) (p - start) == current.len
            && ngx_strncmp(start, current.data, current.len) == 0)
        {
            return NGX_OK;
        }

        while (p < end && *p != ',') {
            p++;
        }
    }

failed:

    return ngx_oci_error(r, NGX_HTTP_PRECONDITION_FAILED,
                         NGX_OCI_ERR_PRECONDITION, NULL);
}


static ngx_int_t
ngx_oci_manifest_created(ngx_http_request_t *r)
{
    ngx_str_t       location, *tag;
    ngx_uint_t      i;
    ngx_oci_ctx_t  *ctx;

    ctx = ngx_oci_get_ctx(r);

    location.data = ngx_pnalloc(r->pool, sizeof("/v2//manifests/") - 1
                                + ctx->route.name_len + ctx->digest.len);
    if (location.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    location.len = ngx_sprintf(location.data, "/v2/%*s/manifests/%V",
                               ctx->route.name_len, ctx->route.name,
                               &ctx->digest)
                   - location.data;

    if (ngx_oci_add_header(r, "Location", &location) != NGX_OK
        || ngx_oci_add_header(r, "Docker-Content-Digest", &ctx->digest)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* one OCI-Tag per ?tag= value, in the order given */

    tag = ctx->tags->elts;

    for (i = ctx->tags->nelts - ctx->query_tags; i < ctx->tags->nelts; i++) {
        if (ngx_oci_add_header(r, "OCI-Tag", &tag[i]) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_oci_send_empty(r, NGX_HTTP_CREATED);
}


static ngx_int_t
ngx_oci_manifest_delete(ngx_http_request_t *r)
{
    ngx_fd_t        fd;
    ngx_int_t       rc;
    ngx_str_t       name, path, type;
    ngx_oci_ctx_t  *ctx;

    ctx = ngx_oci_get_ctx(r);

    name.data = (u_char *) ctx->route.name;
    name.len = ctx->route.name_len;

    if (ngx_oci_repo_path(r, &path, &name, "_manifests", &ctx->digest, "")
        != NGX_OK
        || ngx_oci_repo_path(r, &type, &name, "_manifests", &ctx->digest,
                             ".type")
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_oci_manifest_find_subject(r, &path);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_oci_tag_lock(r, &name, &fd);

    if (rc == NGX_BUSY) {
        return ngx_oci_retry_later(r, ngx_oci_manifest_delete);
    }

    if (rc != NGX_OK) {
        return rc;
    }

    /* the media type goes first: readers look it up before the content */

    if (ngx_delete_file(type.data) == NGX_FILE_ERROR) {
        ngx_oci_tag_unlock(fd);

        if (ngx_errno == NGX_ENOENT || ngx_errno == NGX_ENOTDIR) {
            return ngx_oci_error(r, NGX_HTTP_NOT_FOUND,
                                 NGX_OCI_ERR_MANIFEST_UNKNOWN, NULL);
        }

        return ngx_oci_storage_error(r, ngx_errno, "unlink()", &type);
    }

    if (ngx_delete_file(path.data) == NGX_FILE_ERROR
        && ngx_errno != NGX_ENOENT)
    {
        ngx_oci_tag_unlock(fd);
        return ngx_oci_storage_error(r, ngx_errno, "unlink()", &path);
    }

    rc = ngx_oci_tags_drop_digest(r, &name, &ctx->digest);

    ngx_oci_tag_unlock(fd);

    if (rc != NGX_OK) {
        return rc;
    }

    /*
     * The manifest is gone from disk first: should the index update fail,
     * readers already skip the entry and drop it.
     */

    if (ctx->subject.len) {
        rc = ngx_oci_referrers_remove(r, &ctx->subject, &ctx->digest,
                                      ngx_oci_manifest_deleted);
        if (rc != NGX_ERROR) {
            return rc;
        }
    }

    return ngx_oci_manifest_deleted(r, NGX_OK);
}


static ngx_int_t
ngx_oci_manifest_deleted(ngx_http_request_t *r, ngx_int_t rc)
{
    return ngx_oci_send_empty(r, NGX_HTTP_ACCEPTED);
}


/* a manifest about to be deleted: its subject, if the index lists it */

static ngx_int_t
ngx_oci_manifest_find_subject(ngx_http_request_t *r, ngx_str_t *path)
{
    int                  alg;
    size_t               len;
    ngx_int_t            rc;
    ngx_str_t            body;
    const u_char        *p;
    ngx_oci_ctx_t       *ctx;
    ngx_oci_loc_conf_t  *olcf;
    ngx_oci_manifest_t   m;

    ctx = ngx_http_get_module_ctx(r, ngx_oci_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    if (olcf->redis.redis == NULL || ctx->subject.len) {
        return NGX_OK;
    }

    rc = ngx_oci_read_small(r, path, &body, olcf->max_manifest_size);
    if (rc != NGX_OK) {
        return rc == NGX_DECLINED ? NGX_OK : rc;
    }

    if (ngx_oci_manifest_parse(body.data, body.len, NULL, 0, &m)
        == NGX_OCI_MANIFEST_OK
        && m.subject
        && ngx_oci_descriptor_digest(m.subject, &p, &len, &alg) == 0)
    {
        ctx->subject.data = ngx_pnalloc(r->pool, len);
        if (ctx->subject.data == NULL) {
            ngx_oci_manifest_free(&m);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(ctx->subject.data, p, len);
        ctx->subject.len = len;
    }

    ngx_oci_manifest_free(&m);

    return NGX_OK;
}


static ngx_int_t
ngx_oci_manifest_untag(ngx_http_request_t *r)
{
    ngx_fd_t        fd;
    ngx_int_t       rc;
    ngx_str_t       name, tag;
    ngx_oci_ctx_t  *ctx;

    ctx = ngx_oci_get_ctx(r);

    name.data = (u_char *) ctx->route.name;
    name.len = ctx->route.name_len;
    tag.data = (u_char *) ctx->route.ref;
    tag.len = ctx->route.ref_len;

    rc = ngx_oci_tag_lock(r, &name, &fd);

    if (rc == NGX_BUSY) {
        return ngx_oci_retry_later(r, ngx_oci_manifest_untag);
    }

    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_oci_tag_remove(r, &name, &tag);

    ngx_oci_tag_unlock(fd);

    if (rc == NGX_DECLINED) {
        return ngx_oci_error(r, NGX_HTTP_NOT_FOUND,
                             NGX_OCI_ERR_MANIFEST_UNKNOWN, NULL);
    }

    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_oci_send_empty(r, NGX_HTTP_ACCEPTED);
}
