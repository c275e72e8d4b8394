
/*
 * The referrers index in Redis (ngx_oci_index.h).
 *
 * Disk is the source of truth; Redis only answers "which manifests of this
 * repository name this subject" fast. Both keys of a pair change in one
 * MULTI/EXEC, one round trip. A page is read by one script, so a reader
 * never sees a set and a hash that disagree.
 */


#include "ngx_oci_index.h"
#include "ngx_oci_index_schema.h"


typedef struct {
    ngx_oci_index_pair_t     *pair;
    ngx_str_t                 refs_key;
    ngx_str_t                 desc_key;
    ngx_str_t                 digest;       /* the entry changed, if one */
    ngx_oci_index_done_pt     done;
    void                     *data;
} ngx_oci_index_op_t;


static ngx_oci_index_op_t *ngx_oci_index_op(ngx_http_request_t *r,
    ngx_oci_index_pair_t *pair, ngx_oci_index_done_pt done, void *data);
static ngx_array_t *ngx_oci_index_cmd(ngx_http_request_t *r,
    ngx_array_t *cmds, ngx_uint_t argc);
static ngx_int_t ngx_oci_index_update(ngx_http_request_t *r,
    ngx_oci_index_pair_t *pair, ngx_str_t *digest, ngx_str_t *descriptor,
    ngx_oci_index_done_pt done, void *data);
static void ngx_oci_index_updated(ngx_http_request_t *r, void *data,
    ngx_int_t rc, redisReply **replies, ngx_uint_t n);
static void ngx_oci_index_listed(ngx_http_request_t *r, void *data,
    ngx_int_t rc, redisReply **replies, ngx_uint_t n);
static void ngx_oci_index_dropped(ngx_http_request_t *r, void *data,
    ngx_int_t rc, redisReply **replies, ngx_uint_t n);


/*
 * One page of referrers in one round trip: members after ARGV[1] in
 * digest order, their descriptors, filtered by artifactType (ARGV[3...])
 * when asked; at most ARGV[2] + 1 of them, so the caller knows whether
 * another page follows. Returns digest, descriptor, digest, ...
 */

static ngx_str_t  ngx_oci_index_script = ngx_string(
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


/* the state of one operation, with both keys of the pair */

static ngx_oci_index_op_t *
ngx_oci_index_op(ngx_http_request_t *r, ngx_oci_index_pair_t *pair,
    ngx_oci_index_done_pt done, void *data)
{
    size_t               size;
    ngx_str_t           *prefix;
    ngx_oci_index_op_t  *op;

    op = ngx_pcalloc(r->pool, sizeof(ngx_oci_index_op_t));
    if (op == NULL) {
        return NULL;
    }

    op->pair = pair;
    op->done = done;
    op->data = data;

    prefix = &pair->redis->prefix;
    size = prefix->len + pair->name.len + pair->subject.len
           + sizeof("{@}" NGX_OCI_INDEX_REFS);

    op->refs_key.data = ngx_pnalloc(r->pool, size);
    op->desc_key.data = ngx_pnalloc(r->pool, size);

    if (op->refs_key.data == NULL || op->desc_key.data == NULL) {
        return NULL;
    }

    op->refs_key.len = ngx_oci_index_key(op->refs_key.data, size,
                           prefix->data, prefix->len,
                           pair->name.data, pair->name.len,
                           pair->subject.data, pair->subject.len,
                           NGX_OCI_INDEX_REFS);

    op->desc_key.len = ngx_oci_index_key(op->desc_key.data, size,
                           prefix->data, prefix->len,
                           pair->name.data, pair->name.len,
                           pair->subject.data, pair->subject.len,
                           NGX_OCI_INDEX_DESC);

    if (op->refs_key.len == 0 || op->desc_key.len == 0) {
        return NULL;
    }

    return op;
}


/* a command of argc arguments, all empty, added to cmds */

static ngx_array_t *
ngx_oci_index_cmd(ngx_http_request_t *r, ngx_array_t *cmds, ngx_uint_t argc)
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


ngx_int_t
ngx_oci_index_add(ngx_http_request_t *r, ngx_oci_index_pair_t *pair,
    ngx_str_t *digest, ngx_str_t *descriptor, ngx_oci_index_done_pt done,
    void *data)
{
    return ngx_oci_index_update(r, pair, digest, descriptor, done, data);
}


ngx_int_t
ngx_oci_index_remove(ngx_http_request_t *r, ngx_oci_index_pair_t *pair,
    ngx_str_t *digest, ngx_oci_index_done_pt done, void *data)
{
    return ngx_oci_index_update(r, pair, digest, NULL, done, data);
}


static ngx_int_t
ngx_oci_index_update(ngx_http_request_t *r, ngx_oci_index_pair_t *pair,
    ngx_str_t *digest, ngx_str_t *descriptor, ngx_oci_index_done_pt done,
    void *data)
{
    ngx_str_t           *argv;
    ngx_uint_t           argc;
    ngx_array_t         *cmds, *multi, *refs, *desc, *exec;
    ngx_oci_index_op_t  *op;

    op = ngx_oci_index_op(r, pair, done, data);
    if (op == NULL) {
        return NGX_ERROR;
    }

    op->digest = *digest;

    argc = descriptor ? 4 : 3;

    cmds = ngx_array_create(r->pool, 4, sizeof(ngx_array_t));
    multi = ngx_oci_index_cmd(r, cmds, 1);
    refs = ngx_oci_index_cmd(r, cmds, argc);
    desc = ngx_oci_index_cmd(r, cmds, argc);
    exec = ngx_oci_index_cmd(r, cmds, 1);

    if (multi == NULL || refs == NULL || desc == NULL || exec == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(&((ngx_str_t *) multi->elts)[0], "MULTI");
    ngx_str_set(&((ngx_str_t *) exec->elts)[0], "EXEC");

    argv = refs->elts;
    argv[1] = op->refs_key;

    if (descriptor) {
        ngx_str_set(&argv[0], "ZADD");
        ngx_str_set(&argv[2], "0");
        argv[3] = *digest;

    } else {
        ngx_str_set(&argv[0], "ZREM");
        argv[2] = *digest;
    }

    argv = desc->elts;
    argv[1] = op->desc_key;
    argv[2] = *digest;

    if (descriptor) {
        ngx_str_set(&argv[0], "HSET");
        argv[3] = *descriptor;

    } else {
        ngx_str_set(&argv[0], "HDEL");
    }

    return ngx_oci_redis_query(r, pair->redis, cmds, ngx_oci_index_updated,
                               op);
}


static void
ngx_oci_index_updated(ngx_http_request_t *r, void *data, ngx_int_t rc,
    redisReply **replies, ngx_uint_t n)
{
    redisReply          *exec;
    ngx_oci_index_op_t  *op = data;

    exec = (rc == NGX_OK && n == 4) ? replies[3] : NULL;

    if (exec == NULL || exec->type != REDIS_REPLY_ARRAY) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oci: updating the referrers index of %V for "
                      "\"%V\" failed%s%*s", &op->digest, &op->pair->name,
                      exec ? ": " : "", exec ? (size_t) exec->len : 0,
                      exec ? exec->str : "");

        op->done(r, op->data, NGX_ERROR, NULL);
        return;
    }

    op->done(r, op->data, NGX_OK, exec);
}


/*
 * One page: at most n entries after "last" (exclusive, may be empty), of
 * the artifact types in "types" (ngx_str_t) if it is not NULL; one more
 * entry than asked when another page follows.
 */

ngx_int_t
ngx_oci_index_list(ngx_http_request_t *r, ngx_oci_index_pair_t *pair,
    ngx_str_t *last, ngx_uint_t n, ngx_array_t *types,
    ngx_oci_index_done_pt done, void *data)
{
    ngx_str_t           *argv;
    ngx_uint_t           ntypes;
    ngx_array_t         *cmds, *cmd;
    ngx_oci_index_op_t  *op;

    op = ngx_oci_index_op(r, pair, done, data);
    if (op == NULL) {
        return NGX_ERROR;
    }

    ntypes = types ? types->nelts : 0;

    cmds = ngx_array_create(r->pool, 1, sizeof(ngx_array_t));
    cmd = ngx_oci_index_cmd(r, cmds, 7 + ntypes);
    if (cmd == NULL) {
        return NGX_ERROR;
    }

    argv = cmd->elts;
    ngx_str_set(&argv[0], "EVAL");
    argv[1] = ngx_oci_index_script;
    ngx_str_set(&argv[2], "2");
    argv[3] = op->refs_key;
    argv[4] = op->desc_key;
    argv[5] = *last;

    argv[6].data = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (argv[6].data == NULL) {
        return NGX_ERROR;
    }

    argv[6].len = ngx_sprintf(argv[6].data, "%ui", n) - argv[6].data;

    if (ntypes) {
        ngx_memcpy(&argv[7], types->elts, ntypes * sizeof(ngx_str_t));
    }

    return ngx_oci_redis_query(r, pair->redis, cmds, ngx_oci_index_listed,
                               op);
}


static void
ngx_oci_index_listed(ngx_http_request_t *r, void *data, ngx_int_t rc,
    redisReply **replies, ngx_uint_t n)
{
    redisReply          *list;
    ngx_oci_index_op_t  *op = data;

    list = (rc == NGX_OK && n == 1) ? replies[0] : NULL;

    if (list && list->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oci: redis refused the referrers script for %V "
                      "in \"%V\": %*s", &op->pair->subject, &op->pair->name,
                      list->len, list->str);
    }

    if (list == NULL || list->type != REDIS_REPLY_ARRAY) {
        op->done(r, op->data, NGX_ERROR, NULL);
        return;
    }

    op->done(r, op->data, NGX_OK, list);
}


/* removes entries (ngx_str_t digests) whose manifests are not stored */

ngx_int_t
ngx_oci_index_drop(ngx_http_request_t *r, ngx_oci_index_pair_t *pair,
    ngx_array_t *stale, ngx_oci_index_done_pt done, void *data)
{
    ngx_str_t           *argv;
    ngx_array_t         *cmds, *zrem, *hdel;
    ngx_oci_index_op_t  *op;

    op = ngx_oci_index_op(r, pair, done, data);
    if (op == NULL) {
        return NGX_ERROR;
    }

    cmds = ngx_array_create(r->pool, 2, sizeof(ngx_array_t));
    zrem = ngx_oci_index_cmd(r, cmds, 2 + stale->nelts);
    hdel = ngx_oci_index_cmd(r, cmds, 2 + stale->nelts);

    if (zrem == NULL || hdel == NULL) {
        return NGX_ERROR;
    }

    argv = zrem->elts;
    ngx_str_set(&argv[0], "ZREM");
    argv[1] = op->refs_key;
    ngx_memcpy(&argv[2], stale->elts, stale->nelts * sizeof(ngx_str_t));

    argv = hdel->elts;
    ngx_str_set(&argv[0], "HDEL");
    argv[1] = op->desc_key;
    ngx_memcpy(&argv[2], stale->elts, stale->nelts * sizeof(ngx_str_t));

    return ngx_oci_redis_query(r, pair->redis, cmds, ngx_oci_index_dropped,
                               op);
}


static void
ngx_oci_index_dropped(ngx_http_request_t *r, void *data, ngx_int_t rc,
    redisReply **replies, ngx_uint_t n)
{
    ngx_oci_index_op_t  *op = data;

    op->done(r, op->data, rc == NGX_OK ? NGX_OK : NGX_ERROR, NULL);
}
