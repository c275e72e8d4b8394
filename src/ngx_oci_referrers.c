
/*
 * The referrers API and the reverse index it reads, kept in Redis.
 *
 * Disk is the source of truth; Redis only answers "which manifests of this
 * repository name this subject" fast. Every read stats the manifests it is
 * about to list and leaves out (and removes from the index) any that is
 * not stored, so a referrer is never listed without its manifest, whatever
 * failed in between. docs/referrers.md explains the guarantees.
 */


#include "ngx_oci.h"
#include "ngx_oci_index_schema.h"

#include <openssl/evp.h>


typedef struct {
    ngx_str_t      refs_key;
    ngx_str_t      desc_key;
    ngx_array_t   *stale;          /* ngx_str_t digests to drop */
    ngx_buf_t     *body;
    ngx_str_t      last;           /* digest of the last entry listed */
    ngx_uint_t     want;           /* page size asked for */
    unsigned       more:1;
    unsigned       filtered:1;
    ngx_oci_referrers_done_pt  done;
} ngx_oci_referrers_ctx_t;


static ngx_int_t ngx_oci_referrers_keys(ngx_http_request_t *r,
    ngx_str_t *subject, ngx_oci_referrers_ctx_t *rctx);
static ngx_array_t *ngx_oci_referrers_cmds(ngx_http_request_t *r,
    ngx_uint_t n);
static ngx_array_t *ngx_oci_referrers_cmd(ngx_http_request_t *r,
    ngx_array_t *cmds, ngx_uint_t argc);
static void ngx_oci_referrers_listed(ngx_http_request_t *r, void *data,
    ngx_int_t rc, redisReply **replies, ngx_uint_t n);
static ngx_int_t ngx_oci_referrers_stored(ngx_http_request_t *r,
    const char *digest, size_t len);
static ngx_int_t ngx_oci_referrers_page(ngx_http_request_t *r,
    ngx_oci_referrers_ctx_t *rctx, redisReply *list);
static ngx_int_t ngx_oci_referrers_drop_stale(ngx_http_request_t *r,
    ngx_oci_referrers_ctx_t *rctx);
static ngx_int_t ngx_oci_referrers_send(ngx_http_request_t *r,
    ngx_oci_referrers_ctx_t *rctx);
static ngx_int_t ngx_oci_referrers_update(ngx_http_request_t *r,
    ngx_str_t *subject, ngx_str_t *digest, ngx_str_t *descriptor,
    ngx_oci_referrers_done_pt done);
static void ngx_oci_referrers_cleaned(ngx_http_request_t *r, void *data,
    ngx_int_t rc, redisReply **replies, ngx_uint_t n);
static void ngx_oci_referrers_updated(ngx_http_request_t *r, void *data,
    ngx_int_t rc, redisReply **replies, ngx_uint_t n);
static ngx_int_t ngx_oci_referrers_unavailable(ngx_http_request_t *r);


/*
 * One page of referrers in one round trip: members after ARGV[1] in
 * digest order, their descriptors, filtered by artifactType (ARGV[3...])
 * when asked; at most ARGV[2] + 1 of them, so the caller knows whether
 * another page follows. Returns digest, descriptor, digest, ...
 */

static ngx_str_t  ngx_oci_referrers_script = ngx_string(
    "local cursor = '-'\n"
    "if ARGV[1] ~= '' then cursor = '(' .. ARGV[1] end\n"
    "local want = tonumber(ARGV[2]) + 1\n"
    "local types = {}\n"
    "for i = 3, #ARGV do types[ARGV[i]] = true end\n"
    "local filter = #ARGV > 2\n"
    "local out = {}\n"
    "while #out < want * 2 do\n"
    "  local ids = redis.call('ZRANGEBYLEX', KEYS[1], cursor, '+',\n"
    "                         'LIMIT', 0, 128)\n"
    "  if #ids == 0 then break end\n"
    "  local descs = redis.call('HMGET', KEYS[2], unpack(ids))\n"
    "  for i, id in ipairs(ids) do\n"
    "    local d = descs[i]\n"
    "    local keep = d ~= false\n"
    "    if keep and filter then\n"
    "      local ok, obj = pcall(cjson.decode, d)\n"
    "      keep = ok and obj.artifactType ~= nil\n"
    "             and types[obj.artifactType] == true\n"
    "    end\n"
    "    if keep and #out < want * 2 then\n"
    "      out[#out + 1] = id\n"
    "      out[#out + 1] = d\n"
    "    end\n"
    "  end\n"
    "  cursor = '(' .. ids[#ids]\n"
    "end\n"
    "return out\n");


ngx_int_t
ngx_oci_referrers_handler(ngx_http_request_t *r)
{
    u_char                   *p;
    ngx_int_t                 rc;
    ngx_str_t                 subject, last, raw, value, *argv;
    ngx_uint_t                n;
    ngx_array_t              *cmds, *cmd;
    ngx_oci_ctx_t            *ctx;
    ngx_oci_loc_conf_t       *olcf;
    ngx_oci_referrers_ctx_t  *rctx;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_oci_error(r, NGX_HTTP_NOT_ALLOWED, NGX_OCI_ERR_UNSUPPORTED,
                             "the referrers API answers GET and HEAD");
    }

    ctx = ngx_oci_get_ctx(r);
    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    subject.data = (u_char *) ctx->route.ref;
    subject.len = ctx->route.ref_len;

    if (ngx_oci_digest_parse(subject.data, subject.len, NULL, NULL, NULL)
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

    n = olcf->referrers_page_size;

    if (ngx_oci_arg_count(r, olcf->referrers_page_size, &n) == NGX_ERROR) {
        return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST, NGX_OCI_ERR_UNSUPPORTED,
                             "?n= must be a non-negative integer");
    }

    ngx_str_null(&last);

    if (ngx_oci_arg(r, "last", &last) == NGX_OK
        && ngx_oci_digest_parse(last.data, last.len, NULL, NULL, NULL)
           != NGX_OCI_DIGEST_OK)
    {
        return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                             NGX_OCI_ERR_DIGEST_INVALID,
                             "?last= must be a digest");
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    rctx = ngx_pcalloc(r->pool, sizeof(ngx_oci_referrers_ctx_t));
    if (rctx == NULL
        || ngx_oci_referrers_keys(r, &subject, rctx) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cmds = ngx_oci_referrers_cmds(r, 1);
    cmd = ngx_oci_referrers_cmd(r, cmds, 7);
    if (cmd == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    argv = cmd->elts;
    ngx_str_set(&argv[0], "EVAL");
    argv[1] = ngx_oci_referrers_script;
    ngx_str_set(&argv[2], "2");
    argv[3] = rctx->refs_key;
    argv[4] = rctx->desc_key;
    argv[5] = last;

    argv[6].data = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (argv[6].data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    argv[6].len = ngx_sprintf(argv[6].data, "%ui", n) - argv[6].data;
    rctx->want = n;

    /* ?artifactType=a&artifactType=b: any of them */

    raw = r->args;

    while (ngx_oci_arg_next(&raw, "artifactType", &value) == NGX_OK) {

        argv = ngx_array_push(cmd);
        if (argv == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        argv->data = ngx_pnalloc(r->pool, value.len);
        if (argv->data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p = argv->data;
        ngx_unescape_uri(&p, &value.data, value.len, NGX_UNESCAPE_URI);
        argv->len = p - argv->data;

        rctx->filtered = 1;
    }

    if (ngx_oci_redis_query(r, &olcf->redis, cmds, ngx_oci_referrers_listed,
                            rctx)
        != NGX_OK)
    {
        return ngx_oci_referrers_unavailable(r);
    }

    r->main->count++;

    return NGX_DONE;
}


static ngx_int_t
ngx_oci_referrers_keys(ngx_http_request_t *r, ngx_str_t *subject,
    ngx_oci_referrers_ctx_t *rctx)
{
    size_t               size;
    ngx_oci_ctx_t       *ctx;
    ngx_oci_loc_conf_t  *olcf;

    ctx = ngx_oci_get_ctx(r);
    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    size = olcf->redis.prefix.len + ctx->route.name_len + subject->len
           + sizeof("{@}:refs");

    rctx->refs_key.data = ngx_pnalloc(r->pool, size);
    rctx->desc_key.data = ngx_pnalloc(r->pool, size);

    if (rctx->refs_key.data == NULL || rctx->desc_key.data == NULL) {
        return NGX_ERROR;
    }

    rctx->refs_key.len = ngx_oci_index_key(rctx->refs_key.data, size,
                             olcf->redis.prefix.data, olcf->redis.prefix.len,
                             ctx->route.name, ctx->route.name_len,
                             subject->data, subject->len,
                             NGX_OCI_INDEX_REFS);

    rctx->desc_key.len = ngx_oci_index_key(rctx->desc_key.data, size,
                             olcf->redis.prefix.data, olcf->redis.prefix.len,
                             ctx->route.name, ctx->route.name_len,
                             subject->data, subject->len,
                             NGX_OCI_INDEX_DESC);

    if (rctx->refs_key.len == 0 || rctx->desc_key.len == 0) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_array_t *
ngx_oci_referrers_cmds(ngx_http_request_t *r, ngx_uint_t n)
{
    return ngx_array_create(r->pool, n, sizeof(ngx_array_t));
}


static ngx_array_t *
ngx_oci_referrers_cmd(ngx_http_request_t *r, ngx_array_t *cmds,
    ngx_uint_t argc)
{
    ngx_array_t  *cmd;

    if (cmds == NULL) {
        return NULL;
    }

    cmd = ngx_array_push(cmds);
    if (cmd == NULL
        || ngx_array_init(cmd, r->pool, argc, sizeof(ngx_str_t)) != NGX_OK)
    {
        return NULL;
    }

    cmd->nelts = argc;
    ngx_memzero(cmd->elts, argc * sizeof(ngx_str_t));

    return cmd;
}


static void
ngx_oci_referrers_listed(ngx_http_request_t *r, void *data, ngx_int_t rc,
    redisReply **replies, ngx_uint_t n)
{
    redisReply               *list;
    ngx_oci_ctx_t            *ctx;
    ngx_oci_referrers_ctx_t  *rctx = data;

    ctx = ngx_oci_get_ctx(r);

    list = (rc == NGX_OK && n == 1) ? replies[0] : NULL;

    if (list == NULL || list->type != REDIS_REPLY_ARRAY) {
        if (list && list->type == REDIS_REPLY_ERROR) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "oci: redis refused the referrers script for %*s "
                          "in \"%*s\": %*s", ctx->route.ref_len,
                          ctx->route.ref, ctx->route.name_len,
                          ctx->route.name, list->len, list->str);
        }

        ngx_http_finalize_request(r, ngx_oci_referrers_unavailable(r));
        return;
    }

    rc = ngx_oci_referrers_page(r, rctx, list);

    if (rc == NGX_OK) {
        rc = (rctx->stale->nelts == 0) ? ngx_oci_referrers_send(r, rctx)
                                       : ngx_oci_referrers_drop_stale(r, rctx);
    }

    ngx_http_finalize_request(r, rc);
}


/* the index body of one page, without entries whose manifest is gone */

static ngx_int_t
ngx_oci_referrers_page(ngx_http_request_t *r, ngx_oci_referrers_ctx_t *rctx,
    redisReply *list)
{
    size_t       len;
    ngx_int_t    rc;
    ngx_str_t   *stale;
    ngx_buf_t   *b;
    ngx_uint_t   i, count;
    redisReply  *id, *desc;

    static u_char  head[] = "{\"schemaVersion\":2,\"mediaType\":"
                            "\"application/vnd.oci.image.index.v1+json\","
                            "\"manifests\":[";

    rctx->stale = ngx_array_create(r->pool, 2, sizeof(ngx_str_t));
    if (rctx->stale == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = sizeof(head) - 1 + sizeof("]}\n") - 1;

    for (i = 0; i + 1 < list->elements; i += 2) {
        len += list->element[i + 1]->len + 1;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, head, sizeof(head) - 1);

    count = 0;

    for (i = 0; i + 1 < list->elements; i += 2) {
        id = list->element[i];
        desc = list->element[i + 1];

        if (id->type != REDIS_REPLY_STRING
            || desc->type != REDIS_REPLY_STRING)
        {
            continue;
        }

        if (count == rctx->want) {

            /* the script returns one more than asked: a next page */

            rctx->more = 1;
            break;
        }

        rc = ngx_oci_referrers_stored(r, id->str, id->len);

        if (rc == NGX_DECLINED) {
            stale = ngx_array_push(rctx->stale);
            if (stale == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            stale->data = ngx_pnalloc(r->pool, id->len);
            if (stale->data == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            stale->len = id->len;
            ngx_memcpy(stale->data, id->str, id->len);
            continue;
        }

        if (rc != NGX_OK) {
            return rc;
        }

        if (count++) {
            *b->last++ = ',';
        }

        b->last = ngx_cpymem(b->last, desc->str, desc->len);

        rctx->last.data = ngx_pnalloc(r->pool, id->len);
        if (rctx->last.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rctx->last.len = id->len;
        ngx_memcpy(rctx->last.data, id->str, id->len);
    }

    b->last = ngx_cpymem(b->last, "]}\n", 3);
    rctx->body = b;

    return NGX_OK;
}


/* NGX_OK when the repository stores the manifest, NGX_DECLINED if not */

static ngx_int_t
ngx_oci_referrers_stored(ngx_http_request_t *r, const char *digest,
    size_t len)
{
    ngx_int_t       rc;
    ngx_str_t       d, name, path;
    ngx_oci_ctx_t  *ctx;

    if (ngx_oci_digest_parse((u_char *) digest, len, NULL, NULL, NULL)
        != NGX_OCI_DIGEST_OK)
    {
        return NGX_DECLINED;
    }

    ctx = ngx_oci_get_ctx(r);

    d.data = (u_char *) digest;
    d.len = len;
    name.data = (u_char *) ctx->route.name;
    name.len = ctx->route.name_len;

    if (ngx_oci_repo_path(r, &path, &name, "_manifests", &d, "") != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_oci_file_exists(&path);

    if (rc == NGX_ERROR) {
        return ngx_oci_storage_error(r, ngx_errno, "stat()", &path);
    }

    return rc;
}


static ngx_int_t
ngx_oci_referrers_drop_stale(ngx_http_request_t *r,
    ngx_oci_referrers_ctx_t *rctx)
{
    ngx_str_t           *argv;
    ngx_array_t         *cmds, *zrem, *hdel;
    ngx_oci_ctx_t       *ctx;
    ngx_oci_loc_conf_t  *olcf;

    ctx = ngx_oci_get_ctx(r);
    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "oci: dropping %ui referrers of %*s in \"%*s\" whose "
                  "manifests are not stored", rctx->stale->nelts,
                  ctx->route.ref_len, ctx->route.ref, ctx->route.name_len,
                  ctx->route.name);

    cmds = ngx_oci_referrers_cmds(r, 2);
    zrem = ngx_oci_referrers_cmd(r, cmds, 2 + rctx->stale->nelts);
    hdel = ngx_oci_referrers_cmd(r, cmds, 2 + rctx->stale->nelts);

    if (zrem == NULL || hdel == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    argv = zrem->elts;
    ngx_str_set(&argv[0], "ZREM");
    argv[1] = rctx->refs_key;
    ngx_memcpy(&argv[2], rctx->stale->elts,
               rctx->stale->nelts * sizeof(ngx_str_t));

    argv = hdel->elts;
    ngx_str_set(&argv[0], "HDEL");
    argv[1] = rctx->desc_key;
    ngx_memcpy(&argv[2], rctx->stale->elts,
               rctx->stale->nelts * sizeof(ngx_str_t));

    /* the answer does not wait for this when it cannot be sent */

    if (ngx_oci_redis_query(r, &olcf->redis, cmds, ngx_oci_referrers_cleaned,
                            rctx)
        != NGX_OK)
    {
        return ngx_oci_referrers_send(r, rctx);
    }

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_oci_referrers_cleaned(ngx_http_request_t *r, void *data, ngx_int_t rc,
    redisReply **replies, ngx_uint_t n)
{
    ngx_http_finalize_request(r, ngx_oci_referrers_send(r, data));
}


static ngx_int_t
ngx_oci_referrers_send(ngx_http_request_t *r, ngx_oci_referrers_ctx_t *rctx)
{
    u_char           *p, md[EVP_MAX_MD_SIZE];
    size_t            len;
    ngx_str_t         link, raw, value;
    ngx_oci_ctx_t    *ctx;
    ngx_table_elt_t  *etag;

    static ngx_str_t  index = ngx_string("application/vnd.oci.image.index.v1"
                                         "+json");
    static ngx_str_t  filters = ngx_string("artifactType");

    ctx = ngx_oci_get_ctx(r);

    /*
     * The ETag is the body's own digest: it changes exactly when the
     * list does, and nginx's not-modified filter answers If-None-Match
     * with 304.
     */

    if (EVP_Digest(rctx->body->pos, rctx->body->last - rctx->body->pos, md,
                   NULL, EVP_sha256(), NULL)
        != 1)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    etag = ngx_list_push(&r->headers_out.headers);
    if (etag == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    etag->hash = 1;
    ngx_str_set(&etag->key, "ETag");

    etag->value.data = ngx_pnalloc(r->pool, 2 * 32 + 2);
    if (etag->value.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = etag->value.data;
    *p++ = '"';
    p = ngx_hex_dump(p, md, 32);
    *p++ = '"';
    etag->value.len = p - etag->value.data;
    r->headers_out.etag = etag;

    if (rctx->filtered
        && ngx_oci_add_header(r, "OCI-Filters-Applied", &filters) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rctx->more && rctx->last.len) {

        /* the next page keeps this page's size and filters */

        len = sizeof("</v2//referrers/?n=&last=>; rel=\"next\"") - 1
              + ctx->route.name_len + ctx->route.ref_len + NGX_INT64_LEN
              + rctx->last.len + r->args.len;

        link.data = ngx_pnalloc(r->pool, len);
        if (link.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p = ngx_sprintf(link.data, "</v2/%*s/referrers/%*s?n=%ui&last=%V",
                        ctx->route.name_len, ctx->route.name,
                        ctx->route.ref_len, ctx->route.ref, rctx->want,
                        &rctx->last);

        raw = r->args;

        while (ngx_oci_arg_next(&raw, "artifactType", &value) == NGX_OK) {
            p = ngx_cpymem(p, "&artifactType=",
                           sizeof("&artifactType=") - 1);
            p = ngx_cpymem(p, value.data, value.len);
        }

        p = ngx_cpymem(p, ">; rel=\"next\"", sizeof(">; rel=\"next\"") - 1);
        link.len = p - link.data;

        if (ngx_oci_add_header(r, "Link", &link) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_oci_send_body(r, NGX_HTTP_OK, &index, rctx->body);
}


static ngx_int_t
ngx_oci_referrers_unavailable(ngx_http_request_t *r)
{
    static ngx_str_t  retry = ngx_string("5");

    if (ngx_oci_add_header(r, "Retry-After", &retry) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_oci_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                         NGX_OCI_ERR_UNAVAILABLE,
                         "the referrers index (redis) is unavailable");
}


/*
 * Index changes. Both keys of the pair change in one MULTI/EXEC, one
 * round trip; the caller's handler gets NGX_OK, or NGX_ERROR when Redis
 * could not confirm the change.
 */

ngx_int_t
ngx_oci_referrers_add(ngx_http_request_t *r, ngx_str_t *subject,
    ngx_str_t *digest, ngx_str_t *descriptor, ngx_oci_referrers_done_pt done)
{
    return ngx_oci_referrers_update(r, subject, digest, descriptor, done);
}


ngx_int_t
ngx_oci_referrers_remove(ngx_http_request_t *r, ngx_str_t *subject,
    ngx_str_t *digest, ngx_oci_referrers_done_pt done)
{
    return ngx_oci_referrers_update(r, subject, digest, NULL, done);
}


static ngx_int_t
ngx_oci_referrers_update(ngx_http_request_t *r, ngx_str_t *subject,
    ngx_str_t *digest, ngx_str_t *descriptor, ngx_oci_referrers_done_pt done)
{
    ngx_str_t                *argv;
    ngx_array_t              *cmds, *multi, *refs, *desc, *exec;
    ngx_oci_loc_conf_t       *olcf;
    ngx_oci_referrers_ctx_t  *rctx;

    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    rctx = ngx_pcalloc(r->pool, sizeof(ngx_oci_referrers_ctx_t));
    if (rctx == NULL
        || ngx_oci_referrers_keys(r, subject, rctx) != NGX_OK)
    {
        return NGX_ERROR;
    }

    rctx->done = done;

    cmds = ngx_oci_referrers_cmds(r, 4);
    multi = ngx_oci_referrers_cmd(r, cmds, 1);
    refs = ngx_oci_referrers_cmd(r, cmds, descriptor ? 4 : 3);
    desc = ngx_oci_referrers_cmd(r, cmds, descriptor ? 4 : 3);
    exec = ngx_oci_referrers_cmd(r, cmds, 1);

    if (multi == NULL || refs == NULL || desc == NULL || exec == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(&((ngx_str_t *) multi->elts)[0], "MULTI");
    ngx_str_set(&((ngx_str_t *) exec->elts)[0], "EXEC");

    argv = refs->elts;

    if (descriptor) {
        ngx_str_set(&argv[0], "ZADD");
        argv[1] = rctx->refs_key;
        ngx_str_set(&argv[2], "0");
        argv[3] = *digest;

    } else {
        ngx_str_set(&argv[0], "ZREM");
        argv[1] = rctx->refs_key;
        argv[2] = *digest;
    }

    argv = desc->elts;

    if (descriptor) {
        ngx_str_set(&argv[0], "HSET");
        argv[1] = rctx->desc_key;
        argv[2] = *digest;
        argv[3] = *descriptor;

    } else {
        ngx_str_set(&argv[0], "HDEL");
        argv[1] = rctx->desc_key;
        argv[2] = *digest;
    }

    if (ngx_oci_redis_query(r, &olcf->redis, cmds, ngx_oci_referrers_updated,
                            rctx)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_oci_referrers_updated(ngx_http_request_t *r, void *data, ngx_int_t rc,
    redisReply **replies, ngx_uint_t n)
{
    redisReply               *exec;
    ngx_oci_ctx_t            *ctx;
    ngx_oci_referrers_ctx_t  *rctx = data;

    ctx = ngx_oci_get_ctx(r);

    exec = (rc == NGX_OK && n == 4) ? replies[3] : NULL;

    if (exec == NULL || exec->type != REDIS_REPLY_ARRAY) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oci: updating the referrers index of %V for "
                      "\"%*s\" failed%s%*s", &ctx->digest,
                      ctx->route.name_len, ctx->route.name,
                      exec ? ": " : "", exec ? (size_t) exec->len : 0,
                      exec ? exec->str : "");
        rc = NGX_ERROR;

    } else {
        rc = NGX_OK;
    }

    ngx_http_finalize_request(r, rctx->done(r, rc));
}
