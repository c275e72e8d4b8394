
/*
 * The referrers index in Redis (ngx_oci_index.h).
 *
 * Disk is the source of truth; Redis only answers "which manifests of this
 * repository name this subject" fast. The keys of a pair change together
 * in one MULTI/EXEC (an entry added) or one script (entries removed), one
 * round trip. A page is read by one script, so a reader never sees sets
 * and a hash that disagree; its cost is bounded by the page size, not by
 * the number of referrers: a filter reads the sets of its artifact types.
 */


#include "ngx_oci_index.h"
#include "ngx_oci_index_schema.h"


typedef struct {
    ngx_oci_index_pair_t     *pair;
    ngx_str_t                 refs_key;
    ngx_str_t                 desc_key;
    ngx_str_t                 type_base;    /* type keys start so */
    ngx_str_t                 digest;       /* the entry changed, if one */
    ngx_oci_index_facts_t    *facts;        /* a listing's, if asked */
    ngx_uint_t                asked;        /* commands after the list */
    ngx_uint_t                ntypes;       /* types asked about */
    unsigned                  ask_last:1;
    ngx_oci_index_done_pt     done;
    void                     *data;
} ngx_oci_index_op_t;


static ngx_oci_index_op_t *ngx_oci_index_op(ngx_http_request_t *r,
    ngx_oci_index_pair_t *pair, ngx_oci_index_done_pt done, void *data);
static ngx_int_t ngx_oci_index_type(ngx_http_request_t *r,
    ngx_oci_index_op_t *op, u_char *type, size_t len, ngx_str_t *key);
static ngx_array_t *ngx_oci_index_cmd(ngx_http_request_t *r,
    ngx_array_t *cmds, ngx_uint_t argc);
static void ngx_oci_index_updated(ngx_http_request_t *r, void *data,
    ngx_int_t rc, redisReply **replies, ngx_uint_t n);
static ngx_str_t *ngx_oci_index_eval(ngx_http_request_t *r,
    ngx_oci_index_op_t *op, ngx_str_t *script, ngx_array_t *types,
    ngx_uint_t extra, ngx_array_t **cmdsp);
static ngx_int_t ngx_oci_index_remove_entries(ngx_http_request_t *r,
    ngx_oci_index_pair_t *pair, ngx_array_t *types, ngx_str_t *digests,
    ngx_uint_t n, ngx_oci_index_done_pt done, void *data);
static void ngx_oci_index_removed(ngx_http_request_t *r, void *data,
    ngx_int_t rc, redisReply **replies, ngx_uint_t n);
static void ngx_oci_index_listed(ngx_http_request_t *r, void *data,
    ngx_int_t rc, redisReply **replies, ngx_uint_t n);


/*
 * The descriptor an entry of "mf" holds, in the pool: the same bytes
 * oci-admin reindex writes. "digest" must be NUL-terminated.
 */

ngx_int_t
ngx_oci_index_describe(ngx_pool_t *pool, ngx_oci_manifest_t *mf,
    ngx_str_t *digest, size_t size, ngx_str_t *descriptor)
{
    char  *desc;

    desc = ngx_oci_index_descriptor(mf, (char *) digest->data, size);
    if (desc == NULL) {
        return NGX_ERROR;
    }

    descriptor->len = ngx_strlen(desc);
    descriptor->data = ngx_pnalloc(pool, descriptor->len);

    if (descriptor->data != NULL) {
        ngx_memcpy(descriptor->data, desc, descriptor->len);
    }

    free(desc);

    return descriptor->data ? NGX_OK : NGX_ERROR;
}


/*
 * One page of referrers in one round trip: members after ARGV[1] in
 * digest order, at most ARGV[2] + 1 of them (so the caller knows whether
 * another page follows), with their descriptors (nil for a member without
 * one). KEYS[1] is ":refs", KEYS[2] ":desc"; a filter passes the sets of
 * its artifact types as KEYS[3...], merged in digest order: byte order,
 * as ZRANGEBYLEX's (Lua's "<" on strings follows the locale). At most
 * (number of types) * (ARGV[2] + 1) members are read.
 */

static ngx_str_t  ngx_oci_index_script = ngx_string(
    "local cursor = '-'\n"
    "if ARGV[1] ~= '' then cursor = '(' .. ARGV[1] end\n"
    "local want = tonumber(ARGV[2]) + 1\n"
    "local ids = {}\n"
    "if #KEYS == 2 then\n"
    "  ids = redis.call('ZRANGEBYLEX', KEYS[1], cursor, '+',\n"
    "                   'LIMIT', 0, want)\n"
    "elseif #KEYS == 3 then\n"
    "  ids = redis.call('ZRANGEBYLEX', KEYS[3], cursor, '+',\n"
    "                   'LIMIT', 0, want)\n"
    "else\n"
    "  local function before(a, b)\n"
    "    for i = 1, math.min(#a, #b) do\n"
    "      local x, y = string.byte(a, i), string.byte(b, i)\n"
    "      if x ~= y then return x < y end\n"
    "    end\n"
    "    return #a < #b\n"
    "  end\n"
    "  local lists, pos = {}, {}\n"
    "  for k = 3, #KEYS do\n"
    "    lists[k] = redis.call('ZRANGEBYLEX', KEYS[k], cursor, '+',\n"
    "                          'LIMIT', 0, want)\n"
    "    pos[k] = 1\n"
    "  end\n"
    "  while #ids < want do\n"
    "    local best, id = nil, nil\n"
    "    for k = 3, #KEYS do\n"
    "      local c = lists[k][pos[k]]\n"
    "      if c and (id == nil or before(c, id)) then\n"
    "        best, id = k, c\n"
    "      end\n"
    "    end\n"
    "    if best == nil then break end\n"
    "    pos[best] = pos[best] + 1\n"
    "    if id ~= ids[#ids] then ids[#ids + 1] = id end\n"
    "  end\n"
    "end\n"
    "if #ids == 0 then return {} end\n"
    "local descs = redis.call('HMGET', KEYS[2], unpack(ids))\n"
    "local out = {}\n"
    "for i, id in ipairs(ids) do\n"
    "  out[2 * i - 1] = id\n"
    "  out[2 * i] = descs[i]\n"
    "end\n"
    "return out\n");


static ngx_str_t  ngx_oci_index_remove_script =
    ngx_string(NGX_OCI_INDEX_REMOVE_SCRIPT);


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
           + sizeof("{@}" NGX_OCI_INDEX_TYPE);

    op->refs_key.data = ngx_pnalloc(r->pool, size);
    op->desc_key.data = ngx_pnalloc(r->pool, size);
    op->type_base.data = ngx_pnalloc(r->pool, size);

    if (op->refs_key.data == NULL || op->desc_key.data == NULL
        || op->type_base.data == NULL)
    {
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

    op->type_base.len = ngx_oci_index_type_key(op->type_base.data, size,
                            prefix->data, prefix->len,
                            pair->name.data, pair->name.len,
                            pair->subject.data, pair->subject.len,
                            NULL, 0);

    if (op->refs_key.len == 0 || op->desc_key.len == 0
        || op->type_base.len == 0)
    {
        return NULL;
    }

    return op;
}


/* the set of the entries of one artifact type */

static ngx_int_t
ngx_oci_index_type(ngx_http_request_t *r, ngx_oci_index_op_t *op,
    u_char *type, size_t len, ngx_str_t *key)
{
    key->data = ngx_pnalloc(r->pool, op->type_base.len + len);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(key->data, op->type_base.data, op->type_base.len);
    ngx_memcpy(key->data + op->type_base.len, type, len);
    key->len = op->type_base.len + len;

    return NGX_OK;
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


/*
 * MULTI, ZADD to ":refs", HSET to ":desc", ZADD to the set of the entry's
 * artifactType if it has one, EXEC
 */

ngx_int_t
ngx_oci_index_add(ngx_http_request_t *r, ngx_oci_index_pair_t *pair,
    ngx_str_t *digest, ngx_str_t *descriptor, ngx_oci_index_done_pt done,
    void *data)
{
    int                  has;
    char                *type;
    size_t               type_len;
    ngx_int_t            rc;
    ngx_str_t           *argv;
    ngx_array_t         *cmds, *multi, *refs, *desc, *typed, *exec;
    ngx_oci_index_op_t  *op;

    op = ngx_oci_index_op(r, pair, done, data);
    if (op == NULL) {
        return NGX_ERROR;
    }

    op->digest = *digest;

    has = ngx_oci_index_artifact_type((char *) descriptor->data,
                                      descriptor->len, &type, &type_len);
    if (has < 0) {
        return NGX_ERROR;
    }

    cmds = ngx_array_create(r->pool, 5, sizeof(ngx_array_t));
    multi = ngx_oci_index_cmd(r, cmds, 1);
    refs = ngx_oci_index_cmd(r, cmds, 4);
    desc = ngx_oci_index_cmd(r, cmds, 4);
    typed = has ? ngx_oci_index_cmd(r, cmds, 4) : NULL;
    exec = ngx_oci_index_cmd(r, cmds, 1);

    rc = NGX_OK;

    if (multi == NULL || refs == NULL || desc == NULL || exec == NULL
        || (has && typed == NULL))
    {
        rc = NGX_ERROR;

    } else if (has) {
        argv = typed->elts;
        ngx_str_set(&argv[0], "ZADD");
        ngx_str_set(&argv[2], "0");
        argv[3] = *digest;

        rc = ngx_oci_index_type(r, op, (u_char *) type, type_len,
                                &argv[1]);
    }

    ngx_free(type);

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_str_set(&((ngx_str_t *) multi->elts)[0], "MULTI");
    ngx_str_set(&((ngx_str_t *) exec->elts)[0], "EXEC");

    argv = refs->elts;
    ngx_str_set(&argv[0], "ZADD");
    argv[1] = op->refs_key;
    ngx_str_set(&argv[2], "0");
    argv[3] = *digest;

    argv = desc->elts;
    ngx_str_set(&argv[0], "HSET");
    argv[1] = op->desc_key;
    argv[2] = *digest;
    argv[3] = *descriptor;

    return ngx_oci_redis_query(r, pair->redis, cmds, ngx_oci_index_updated,
                               op);
}


static void
ngx_oci_index_updated(ngx_http_request_t *r, void *data, ngx_int_t rc,
    redisReply **replies, ngx_uint_t n)
{
    redisReply          *exec;
    ngx_oci_index_op_t  *op = data;

    exec = (rc == NGX_OK && n >= 4) ? replies[n - 1] : NULL;

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


ngx_int_t
ngx_oci_index_remove(ngx_http_request_t *r, ngx_oci_index_pair_t *pair,
    ngx_str_t *digest, ngx_oci_index_done_pt done, void *data)
{
    return ngx_oci_index_remove_entries(r, pair, NULL, digest, 1, done, data);
}


/*
 * "EVAL <script> <2 + types> <refs> <desc> <a type key each>", with room
 * for "extra" arguments after them, as the one command of *cmdsp: its
 * argv, or NULL
 */

static ngx_str_t *
ngx_oci_index_eval(ngx_http_request_t *r, ngx_oci_index_op_t *op,
    ngx_str_t *script, ngx_array_t *types, ngx_uint_t extra,
    ngx_array_t **cmdsp)
{
    ngx_str_t    *argv, *type;
    ngx_uint_t    i, ntypes;
    ngx_array_t  *cmds, *cmd;

    ntypes = types ? types->nelts : 0;

    cmds = ngx_array_create(r->pool, 1, sizeof(ngx_array_t));
    cmd = ngx_oci_index_cmd(r, cmds, 5 + ntypes + extra);
    if (cmd == NULL) {
        return NULL;
    }

    argv = cmd->elts;
    ngx_str_set(&argv[0], "EVAL");
    argv[1] = *script;

    argv[2].data = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (argv[2].data == NULL) {
        return NULL;
    }

    argv[2].len = ngx_sprintf(argv[2].data, "%ui", 2 + ntypes)
                  - argv[2].data;
    argv[3] = op->refs_key;
    argv[4] = op->desc_key;

    type = ntypes ? types->elts : NULL;

    for (i = 0; i < ntypes; i++) {
        if (ngx_oci_index_type(r, op, type[i].data, type[i].len,
                               &argv[5 + i])
            != NGX_OK)
        {
            return NULL;
        }
    }

    *cmdsp = cmds;

    return argv;
}


/*
 * The entries leave every key of the pair in one script (the artifactType
 * is read from the descriptor in Redis), and the sets of "types" too
 */

static ngx_int_t
ngx_oci_index_remove_entries(ngx_http_request_t *r,
    ngx_oci_index_pair_t *pair, ngx_array_t *types, ngx_str_t *digests,
    ngx_uint_t n, ngx_oci_index_done_pt done, void *data)
{
    ngx_str_t           *argv;
    ngx_uint_t           ntypes;
    ngx_array_t         *cmds;
    ngx_oci_index_op_t  *op;

    op = ngx_oci_index_op(r, pair, done, data);
    if (op == NULL) {
        return NGX_ERROR;
    }

    op->digest = digests[0];

    argv = ngx_oci_index_eval(r, op, &ngx_oci_index_remove_script, types,
                              1 + n, &cmds);
    if (argv == NULL) {
        return NGX_ERROR;
    }

    ntypes = types ? types->nelts : 0;

    argv[5 + ntypes] = op->type_base;
    ngx_memcpy(&argv[6 + ntypes], digests, n * sizeof(ngx_str_t));

    return ngx_oci_redis_query(r, pair->redis, cmds, ngx_oci_index_removed,
                               op);
}


static void
ngx_oci_index_removed(ngx_http_request_t *r, void *data, ngx_int_t rc,
    redisReply **replies, ngx_uint_t n)
{
    redisReply          *reply;
    ngx_oci_index_op_t  *op = data;

    reply = (rc == NGX_OK && n == 1) ? replies[0] : NULL;

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oci: removing %V from the referrers index of %V in "
                      "\"%V\" failed%s%*s", &op->digest,
                      &op->pair->subject, &op->pair->name,
                      reply ? ": " : "", reply ? (size_t) reply->len : 0,
                      reply ? reply->str : "");

        op->done(r, op->data, NGX_ERROR, NULL);
        return;
    }

    op->done(r, op->data, NGX_OK, reply);
}


/*
 * One page: at most n entries after "last" (exclusive, may be empty), of
 * the artifact types in "types" (ngx_str_t) if it is not NULL; one more
 * entry than asked when another page follows. With "facts", the same
 * round trip also asks whether the pair has entries (ZCARD), whether
 * "last" is one of them (ZSCORE) and whether each type has some (EXISTS).
 */

ngx_int_t
ngx_oci_index_list(ngx_http_request_t *r, ngx_oci_index_pair_t *pair,
    ngx_str_t *last, ngx_uint_t n, ngx_array_t *types,
    ngx_oci_index_facts_t *facts, ngx_oci_index_done_pt done, void *data)
{
    ngx_str_t           *argv, *keys;
    ngx_uint_t           ntypes, i;
    ngx_array_t         *cmds, *cmd;
    ngx_oci_index_op_t  *op;

    op = ngx_oci_index_op(r, pair, done, data);
    if (op == NULL) {
        return NGX_ERROR;
    }

    argv = ngx_oci_index_eval(r, op, &ngx_oci_index_script, types, 2,
                              &cmds);
    if (argv == NULL) {
        return NGX_ERROR;
    }

    ntypes = types ? types->nelts : 0;

    argv[5 + ntypes] = *last;

    argv[6 + ntypes].data = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (argv[6 + ntypes].data == NULL) {
        return NGX_ERROR;
    }

    argv[6 + ntypes].len = ngx_sprintf(argv[6 + ntypes].data, "%ui", n)
                           - argv[6 + ntypes].data;

    if (facts == NULL) {
        return ngx_oci_redis_query(r, pair->redis, cmds,
                                   ngx_oci_index_listed, op);
    }

    ngx_memzero(facts, sizeof(ngx_oci_index_facts_t));
    op->facts = facts;
    op->asked = 1;

    cmd = ngx_oci_index_cmd(r, cmds, 2);
    if (cmd == NULL) {
        return NGX_ERROR;
    }

    argv = cmd->elts;
    ngx_str_set(&argv[0], "ZCARD");
    argv[1] = op->refs_key;

    if (last->len) {
        cmd = ngx_oci_index_cmd(r, cmds, 3);
        if (cmd == NULL) {
            return NGX_ERROR;
        }

        argv = cmd->elts;
        ngx_str_set(&argv[0], "ZSCORE");
        argv[1] = op->refs_key;
        argv[2] = *last;
        op->asked++;
        op->ask_last = 1;
    }

    if (ntypes) {
        cmd = ngx_oci_index_cmd(r, cmds, 1 + ntypes);
        if (cmd == NULL) {
            return NGX_ERROR;
        }

        /* the type keys the script was given, after its first two */

        keys = ((ngx_str_t *) ((ngx_array_t *) cmds->elts)[0].elts) + 5;
        argv = cmd->elts;
        ngx_str_set(&argv[0], "EXISTS");

        for (i = 0; i < ntypes; i++) {
            argv[1 + i] = keys[i];
        }

        op->asked++;
        op->ntypes = ntypes;
    }

    return ngx_oci_redis_query(r, pair->redis, cmds, ngx_oci_index_listed,
                               op);
}


static void
ngx_oci_index_listed(ngx_http_request_t *r, void *data, ngx_int_t rc,
    redisReply **replies, ngx_uint_t n)
{
    redisReply             *list, *reply;
    ngx_uint_t              i;
    ngx_oci_index_op_t     *op = data;
    ngx_oci_index_facts_t  *facts;

    list = (rc == NGX_OK && n == 1 + op->asked) ? replies[0] : NULL;

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

    facts = op->facts;

    if (facts) {

        /* what cannot be read says "no": the page is not cached */

        i = 1;
        reply = replies[i++];
        facts->referrers = reply->type == REDIS_REPLY_INTEGER
                           && reply->integer > 0;

        if (op->ask_last) {
            reply = replies[i++];
            facts->last = reply->type == REDIS_REPLY_STRING;
        }

        if (op->ntypes) {
            reply = replies[i++];
            facts->types = reply->type == REDIS_REPLY_INTEGER
                           && reply->integer == (long long) op->ntypes;
        }
    }

    op->done(r, op->data, NGX_OK, list);
}


/*
 * removes entries (ngx_str_t digests) whose manifests are not stored;
 * "types" are the sets the page was read from, if it was filtered
 */

ngx_int_t
ngx_oci_index_drop(ngx_http_request_t *r, ngx_oci_index_pair_t *pair,
    ngx_array_t *types, ngx_array_t *stale, ngx_oci_index_done_pt done,
    void *data)
{
    return ngx_oci_index_remove_entries(r, pair, types, stale->elts,
                                        stale->nelts, done, data);
}


/*
 * Counts an event of the stream as recorded (the XADD succeeded) or
 * failed (it could not be: Redis down, refused, late), for the metrics
 * (oci_events_recorded_total, oci_events_failed_total). A no-op while
 * metrics are off.
 */

void
ngx_oci_index_count_event(ngx_oci_redis_conf_t *rc, ngx_uint_t recorded)
{
    ngx_oci_redis_stats_t  *st;

    if (rc->stats == NULL || *rc->stats == NULL) {
        return;
    }

    st = *rc->stats;

    if (recorded) {
        st->events_recorded++;

    } else {
        st->events_failed++;
    }
}
