
/*
 * A non-blocking Redis client on nginx's event loop.
 *
 * Per worker and per endpoint there is one connection and a FIFO of the
 * queries written on it.  A query is appended to the output buffer as a
 * whole and to the FIFO as one node that knows how many replies it waits
 * for; Redis answers in order, so each reply the reader produces belongs
 * to the node at the head.  The first node of a new connection is the
 * internal one of AUTH and SELECT.
 *
 * The connection is:
 *
 *   closed      no connection; the next query connects;
 *   connecting  connect() in progress: queries wait in the buffer;
 *   connected   the buffer is written as soon as something is added;
 *   idle        connected with an empty FIFO: no timer, c->idle set, so a
 *               graceful shutdown closes it.
 *
 * Any failure (connect, read, write, protocol, AUTH or SELECT refused)
 * closes the connection and fails every query in the FIFO.  When
 * connect() fails at once, the failure is posted as an event, so handlers
 * never run inside ngx_oci_redis_query().
 *
 * A query out of time fails alone: its handler gets NGX_OCI_REDIS_TIMEOUT
 * at its deadline and the node is detached, but it stays in the FIFO, so
 * its replies, when they come, are read and dropped, and the replies
 * after them still reach their queries.  The connection is reset only
 * when it is stuck: a timed-out query still without its replies one more
 * timeout after its deadline, or a deadline passed while connecting or
 * during AUTH and SELECT.
 *
 * The FIFO nodes are allocated with ngx_alloc(): a node lives as long as
 * the query is in the stream, which can be longer than the request (the
 * request pool's cleanup only detaches it) and is unrelated to any pool.
 */


#include "ngx_oci_redis.h"


#define NGX_OCI_REDIS_READ_SIZE     16384
#define NGX_OCI_REDIS_OUT_MIN       4096
#define NGX_OCI_REDIS_OUT_KEEP      65536


typedef struct ngx_oci_redis_query_s  ngx_oci_redis_query_t;


struct ngx_oci_redis_s {
    ngx_addr_t                  addr;
    ngx_str_t                   password;
    ngx_int_t                   db;            /* -1: no SELECT */

    /* AUTH and SELECT, formatted once, for every new connection */
    ngx_str_t                   setup;
    ngx_uint_t                  nsetup;

    ngx_http_core_loc_conf_t   *clcf;          /* for its error_log */

    /* per worker, from here on */

    ngx_peer_connection_t       peer;
    ngx_log_t                   log;
    redisReader                *reader;
    ngx_queue_t                 queries;

    u_char                     *out;
    size_t                      out_pos;
    size_t                      out_len;
    size_t                      out_size;

    ngx_event_t                 fail;

    unsigned                    connected:1;
};


struct ngx_oci_redis_query_s {
    ngx_queue_t                 queue;
    ngx_oci_redis_t            *redis;

    ngx_http_request_t         *request;       /* NULL once detached */
    ngx_oci_redis_handler_pt    handler;       /* NULL once detached */
    void                       *data;
    ngx_pool_cleanup_t         *cleanup;

    ngx_msec_t                  deadline;
    ngx_msec_t                  timeout;
    ngx_uint_t                  nreplies;
    ngx_uint_t                  received;
    redisReply                **replies;

    unsigned                    setup:1;
    unsigned                    timedout:1;
};


static ngx_int_t ngx_oci_redis_address(ngx_conf_t *cf,
    ngx_oci_redis_t *redis, ngx_str_t *addr);
static ngx_int_t ngx_oci_redis_params(ngx_conf_t *cf, ngx_oci_redis_t *redis,
    ngx_str_t *params, ngx_uint_t n);
static char *ngx_oci_redis_endpoint(ngx_conf_t *cf, ngx_oci_redis_conf_t *rc);
static char *ngx_oci_redis_format_setup(ngx_conf_t *cf,
    ngx_oci_redis_t *redis);
static void ngx_oci_redis_cleanup(void *data);
static ngx_int_t ngx_oci_redis_connect(ngx_oci_redis_t *redis,
    ngx_msec_t timeout);
static ngx_oci_redis_query_t *ngx_oci_redis_node(ngx_oci_redis_t *redis,
    ngx_uint_t n, ngx_msec_t timeout, ngx_log_t *log);
static ngx_int_t ngx_oci_redis_append_cmds(ngx_oci_redis_t *redis,
    ngx_array_t *cmds, ngx_log_t *log);
static ngx_int_t ngx_oci_redis_append(ngx_oci_redis_t *redis, u_char *data,
    size_t len, ngx_log_t *log);
static void ngx_oci_redis_arm(ngx_oci_redis_t *redis, ngx_msec_t deadline);
static void ngx_oci_redis_write_handler(ngx_event_t *wev);
static ngx_int_t ngx_oci_redis_test_connect(ngx_connection_t *c);
static void ngx_oci_redis_read_handler(ngx_event_t *rev);
static ngx_int_t ngx_oci_redis_dispatch(ngx_oci_redis_t *redis);
static ngx_int_t ngx_oci_redis_setup_reply(ngx_oci_redis_t *redis,
    ngx_oci_redis_query_t *q, redisReply *reply);
static ngx_int_t ngx_oci_redis_idle(ngx_oci_redis_t *redis);
static void ngx_oci_redis_expire(ngx_oci_redis_t *redis);
static void ngx_oci_redis_time_out(ngx_oci_redis_query_t *q);
static void ngx_oci_redis_fail_handler(ngx_event_t *ev);
static void ngx_oci_redis_close(ngx_oci_redis_t *redis);
static void ngx_oci_redis_finish(ngx_oci_redis_query_t *q, ngx_int_t rc);
static void ngx_oci_redis_free(ngx_oci_redis_query_t *q);
static void ngx_oci_redis_detach(void *data);
static u_char *ngx_oci_redis_log_error(ngx_log_t *log, u_char *buf,
    size_t len);


char *
ngx_oci_redis_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t             *value;
    ngx_oci_redis_conf_t  *rc;

    rc = (ngx_oci_redis_conf_t *) ((char *) conf + cmd->offset);
    value = cf->args->elts;

    if (cmd->name.len == sizeof("oci_redis") - 1) {
        return ngx_oci_redis_endpoint(cf, rc);
    }

    if (cf->args->nelts != 2) {
        return "takes one parameter";
    }

    if (ngx_strcmp(cmd->name.data, "oci_redis_timeout") == 0) {

        if (rc->timeout != NGX_CONF_UNSET_MSEC) {
            return "is duplicate";
        }

        rc->timeout = ngx_parse_time(&value[1], 0);

        if (rc->timeout == (ngx_msec_t) NGX_ERROR || rc->timeout == 0) {
            return "takes a time greater than zero, such as 500ms or 2s";
        }

        return NGX_CONF_OK;
    }

    /* oci_redis_prefix; an empty prefix is allowed */

    if (rc->prefix.data) {
        return "is duplicate";
    }

    rc->prefix = value[1];

    return NGX_CONF_OK;
}


static char *
ngx_oci_redis_endpoint(ngx_conf_t *cf, ngx_oci_redis_conf_t *rc)
{
    ngx_str_t           *value;
    ngx_oci_redis_t     *redis;
    ngx_pool_cleanup_t  *cln;

    if (rc->redis != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts < 2 || cf->args->nelts > 4) {
        return "takes an address, then \"password=\" and \"db=\" if needed";
    }

    if (ngx_strcmp(value[1].data, "off") == 0) {
        if (cf->args->nelts != 2) {
            return "takes no other parameter with \"off\"";
        }

        rc->redis = NULL;
        return NGX_CONF_OK;
    }

    redis = ngx_pcalloc(cf->pool, sizeof(ngx_oci_redis_t));
    if (redis == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_oci_redis_address(cf, redis, &value[1]) != NGX_OK
        || ngx_oci_redis_params(cf, redis, &value[2], cf->args->nelts - 2)
           != NGX_OK
        || ngx_oci_redis_format_setup(cf, redis) != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    redis->clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    ngx_queue_init(&redis->queries);

    redis->fail.handler = ngx_oci_redis_fail_handler;
    redis->fail.data = redis;
    redis->fail.log = &redis->log;

    /* frees what a worker holds when its cycle ends */

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_oci_redis_cleanup;
    cln->data = redis;

    rc->redis = redis;

    return NGX_CONF_OK;
}


/*
 * "host[:port]" or "unix:/path"; of a name with several addresses, the
 * first one is used
 */

static ngx_int_t
ngx_oci_redis_address(ngx_conf_t *cf, ngx_oci_redis_t *redis,
    ngx_str_t *addr)
{
    ngx_url_t  u;

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = *addr;
    u.default_port = 6379;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        if (u.err) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s in \"oci_redis\" address \"%V\"",
                               u.err, &u.url);
        }

        return NGX_ERROR;
    }

    if (u.uri.len || u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"oci_redis\" takes \"host:port\" or "
                           "\"unix:/path\", not \"%V\"", &u.url);
        return NGX_ERROR;
    }

    redis->addr = u.addrs[0];

    return NGX_OK;
}


/* "password=" and "db=", each at most once */

static ngx_int_t
ngx_oci_redis_params(ngx_conf_t *cf, ngx_oci_redis_t *redis,
    ngx_str_t *params, ngx_uint_t n)
{
    ngx_str_t   s;
    ngx_uint_t  i;

    redis->db = -1;

    for (i = 0; i < n; i++) {
        s = params[i];

        if (ngx_strncmp(s.data, "password=", 9) == 0) {

            /* never echo a password parameter back */

            if (redis->password.data || s.len == 9) {
                s.len = 9;
                goto invalid;
            }

            redis->password.data = s.data + 9;
            redis->password.len = s.len - 9;
            continue;
        }

        if (ngx_strncmp(s.data, "db=", 3) != 0 || redis->db != -1) {
            goto invalid;
        }

        redis->db = ngx_atoi(s.data + 3, s.len - 3);

        if (redis->db == NGX_ERROR) {
            goto invalid;
        }
    }

    return NGX_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid or repeated \"oci_redis\" parameter \"%V\"",
                       &s);
    return NGX_ERROR;
}


static char *
ngx_oci_redis_format_setup(ngx_conf_t *cf, ngx_oci_redis_t *redis)
{
    int          len[2];
    char        *cmd[2];
    u_char      *p, db[NGX_INT_T_LEN];
    size_t       argvlen[2];
    ngx_uint_t   i, n;
    const char  *argv[2];

    n = 0;

    if (redis->password.len) {
        argv[0] = "AUTH";
        argvlen[0] = 4;
        argv[1] = (const char *) redis->password.data;
        argvlen[1] = redis->password.len;

        len[n] = redisFormatCommandArgv(&cmd[n], 2, argv, argvlen);
        if (len[n] < 0) {
            return NGX_CONF_ERROR;
        }

        n++;
    }

    if (redis->db != -1) {
        argv[0] = "SELECT";
        argvlen[0] = 6;
        argv[1] = (const char *) db;
        argvlen[1] = ngx_sprintf(db, "%i", redis->db) - db;

        len[n] = redisFormatCommandArgv(&cmd[n], 2, argv, argvlen);
        if (len[n] < 0) {
            if (n) {
                redisFreeCommand(cmd[0]);
            }

            return NGX_CONF_ERROR;
        }

        n++;
    }

    redis->nsetup = n;
    redis->setup.len = 0;

    for (i = 0; i < n; i++) {
        redis->setup.len += len[i];
    }

    p = ngx_pnalloc(cf->pool, redis->setup.len);
    redis->setup.data = p;

    for (i = 0; i < n; i++) {
        if (p) {
            p = ngx_cpymem(p, cmd[i], len[i]);
        }

        redisFreeCommand(cmd[i]);
    }

    if (n && redis->setup.data == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


void
ngx_oci_redis_conf_init(ngx_oci_redis_conf_t *rc)
{
    rc->redis = NGX_CONF_UNSET_PTR;
    rc->timeout = NGX_CONF_UNSET_MSEC;
    ngx_str_null(&rc->prefix);
}


char *
ngx_oci_redis_conf_merge(ngx_conf_t *cf, ngx_oci_redis_conf_t *conf,
    ngx_oci_redis_conf_t *prev)
{
    ngx_conf_merge_ptr_value(conf->redis, prev->redis, NULL);
    ngx_conf_merge_msec_value(conf->timeout, prev->timeout, 1000);
    ngx_conf_merge_str_value(conf->prefix, prev->prefix, "oci:");

    return NGX_CONF_OK;
}


/*
 * The cycle pool goes away when a worker exits, or in the master after a
 * reload.  Handlers are not called any more at that point: only memory is
 * released, and the request pools still holding a cleanup are told to
 * forget it.
 */

static void
ngx_oci_redis_cleanup(void *data)
{
    ngx_oci_redis_t *redis = data;

    ngx_queue_t            *qu;
    ngx_oci_redis_query_t  *q;

    if (redis->fail.posted) {
        ngx_delete_posted_event(&redis->fail);
    }

    while (!ngx_queue_empty(&redis->queries)) {
        qu = ngx_queue_head(&redis->queries);
        ngx_queue_remove(qu);

        q = ngx_queue_data(qu, ngx_oci_redis_query_t, queue);
        ngx_oci_redis_free(q);
    }

    if (redis->peer.connection) {
        ngx_close_connection(redis->peer.connection);
        redis->peer.connection = NULL;
    }

    if (redis->reader) {
        redisReaderFree(redis->reader);
        redis->reader = NULL;
    }

    if (redis->out) {
        ngx_free(redis->out);
        redis->out = NULL;
    }
}


ngx_int_t
ngx_oci_redis_query(ngx_http_request_t *r, ngx_oci_redis_conf_t *rc,
    ngx_array_t *cmds, ngx_oci_redis_handler_pt handler, void *data)
{
    ngx_uint_t              i;
    ngx_array_t            *argvs;
    ngx_connection_t       *c;
    ngx_oci_redis_t        *redis;
    ngx_pool_cleanup_t     *cln;
    ngx_oci_redis_query_t  *q;

    redis = rc->redis;

    if (redis == NULL || redis == NGX_CONF_UNSET_PTR) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "redis query without \"oci_redis\" configured");
        return NGX_ERROR;
    }

    if (cmds->nelts == 0) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "redis query without commands");
        return NGX_ERROR;
    }

    argvs = cmds->elts;

    for (i = 0; i < cmds->nelts; i++) {
        if (argvs[i].nelts == 0 || argvs[i].nelts > NGX_MAX_INT32_VALUE) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "redis command %ui of a query has %ui arguments",
                          i, argvs[i].nelts);
            return NGX_ERROR;
        }
    }

    if (redis->peer.connection == NULL && !redis->fail.posted) {
        if (ngx_oci_redis_connect(redis, rc->timeout) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    q = ngx_oci_redis_node(redis, cmds->nelts, rc->timeout,
                           r->connection->log);
    if (q == NULL) {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        ngx_free(q);
        return NGX_ERROR;
    }

    c = redis->peer.connection;

    /* without a connection the query only waits for the posted failure */

    if (c && ngx_oci_redis_append_cmds(redis, cmds, r->connection->log)
             != NGX_OK)
    {
        ngx_free(q);
        return NGX_ERROR;
    }

    q->request = r;
    q->handler = handler;
    q->data = data;
    q->cleanup = cln;

    cln->handler = ngx_oci_redis_detach;
    cln->data = q;

    ngx_queue_insert_tail(&redis->queries, &q->queue);

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "oci redis query %p: %ui commands, %uz bytes queued, %s",
                   q, cmds->nelts, redis->out_len - redis->out_pos,
                   c == NULL ? "failing" : redis->connected ? "connected"
                                                           : "connecting");

    if (c == NULL) {
        return NGX_OK;
    }

    c->idle = 0;
    ngx_oci_redis_arm(redis, q->deadline);

    /*
     * The write is posted, not done here: queries of the same event loop
     * turn go out in one send(), and no failure can reach a handler from
     * inside this function.
     */

    if (redis->connected && !c->write->posted) {
        ngx_post_event(c->write, &ngx_posted_events);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_oci_redis_connect(ngx_oci_redis_t *redis, ngx_msec_t timeout)
{
    ngx_int_t               rc;
    ngx_log_t              *log;
    ngx_connection_t       *c;
    ngx_oci_redis_query_t  *q;

    log = redis->clcf->error_log ? redis->clcf->error_log : ngx_cycle->log;

    redis->log = *log;
    redis->log.handler = ngx_oci_redis_log_error;
    redis->log.data = redis;
    redis->log.action = "connecting to redis";

    ngx_memzero(&redis->peer, sizeof(ngx_peer_connection_t));

    redis->peer.sockaddr = redis->addr.sockaddr;
    redis->peer.socklen = redis->addr.socklen;
    redis->peer.name = &redis->addr.name;
    redis->peer.get = ngx_event_get_peer;
    redis->peer.log = &redis->log;
    redis->peer.log_error = NGX_ERROR_ERR;
    redis->peer.so_keepalive = 1;

    redis->reader = redisReaderCreate();
    if (redis->reader == NULL) {
        return NGX_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, &redis->log, 0,
                   "oci redis connect to %V", &redis->addr.name);

    rc = ngx_event_connect_peer(&redis->peer);

    if (rc != NGX_OK && rc != NGX_AGAIN) {

        /* logged; the queries about to be added fail on the next turn */

        redis->peer.connection = NULL;
        redisReaderFree(redis->reader);
        redis->reader = NULL;

        ngx_post_event(&redis->fail, &ngx_posted_events);

        return NGX_OK;
    }

    c = redis->peer.connection;

    c->data = redis;
    c->read->handler = ngx_oci_redis_read_handler;
    c->write->handler = ngx_oci_redis_write_handler;

    if (redis->nsetup) {
        q = ngx_oci_redis_node(redis, redis->nsetup, timeout, &redis->log);

        if (q == NULL
            || ngx_oci_redis_append(redis, redis->setup.data,
                                    redis->setup.len, &redis->log)
               != NGX_OK)
        {
            if (q) {
                ngx_free(q);
            }

            ngx_oci_redis_close(redis);
            return NGX_ERROR;
        }

        q->setup = 1;
        ngx_queue_insert_tail(&redis->queries, &q->queue);
    }

    if (rc == NGX_OK) {
        redis->connected = 1;
        redis->log.action = "talking to redis";
    }

    /* otherwise the first write event tells how connect() ended */

    return NGX_OK;
}


static ngx_oci_redis_query_t *
ngx_oci_redis_node(ngx_oci_redis_t *redis, ngx_uint_t n, ngx_msec_t timeout,
    ngx_log_t *log)
{
    ngx_oci_redis_query_t  *q;

    q = ngx_calloc(sizeof(ngx_oci_redis_query_t) + n * sizeof(redisReply *),
                   log);
    if (q == NULL) {
        return NULL;
    }

    q->redis = redis;
    q->timeout = timeout;
    q->deadline = ngx_current_msec + timeout;
    q->nreplies = n;
    q->replies = (redisReply **) (q + 1);

    return q;
}


static ngx_int_t
ngx_oci_redis_append_cmds(ngx_oci_redis_t *redis, ngx_array_t *cmds,
    ngx_log_t *log)
{
    int           len;
    char         *cmd;
    size_t        pending, *argvlen;
    ngx_int_t     rc;
    ngx_str_t    *arg;
    ngx_uint_t    i, j, max;
    const char  **argv;
    ngx_array_t  *argvs;

    argvs = cmds->elts;
    max = 0;

    /* the commands were checked by ngx_oci_redis_query() */

    for (i = 0; i < cmds->nelts; i++) {
        if (argvs[i].nelts > max) {
            max = argvs[i].nelts;
        }
    }

    argv = ngx_alloc(max * (sizeof(char *) + sizeof(size_t)), log);
    if (argv == NULL) {
        return NGX_ERROR;
    }

    argvlen = (size_t *) (argv + max);

    /* on failure, what this query appended is taken back */

    pending = redis->out_len - redis->out_pos;
    rc = NGX_OK;

    for (i = 0; i < cmds->nelts; i++) {
        arg = argvs[i].elts;

        for (j = 0; j < argvs[i].nelts; j++) {
            argv[j] = arg[j].data ? (const char *) arg[j].data : "";
            argvlen[j] = arg[j].len;
        }

        len = redisFormatCommandArgv(&cmd, (int) argvs[i].nelts, argv,
                                     argvlen);
        if (len < 0) {
            rc = NGX_ERROR;
            break;
        }

        rc = ngx_oci_redis_append(redis, (u_char *) cmd, len, log);

        redisFreeCommand(cmd);

        if (rc != NGX_OK) {
            break;
        }
    }

    ngx_free(argv);

    if (rc != NGX_OK) {
        redis->out_len = redis->out_pos + pending;
    }

    return rc;
}


static ngx_int_t
ngx_oci_redis_append(ngx_oci_redis_t *redis, u_char *data, size_t len,
    ngx_log_t *log)
{
    u_char  *out;
    size_t   size, pending;

    if (redis->out_size - redis->out_len < len) {

        pending = redis->out_len - redis->out_pos;

        if (redis->out_pos) {
            ngx_memmove(redis->out, redis->out + redis->out_pos, pending);
            redis->out_pos = 0;
            redis->out_len = pending;
        }

        if (redis->out_size - redis->out_len < len) {
            size = ngx_max(redis->out_size * 2, NGX_OCI_REDIS_OUT_MIN);

            while (size - pending < len) {
                size *= 2;
            }

            out = ngx_alloc(size, log);
            if (out == NULL) {
                return NGX_ERROR;
            }

            if (redis->out) {
                ngx_memcpy(out, redis->out, pending);
                ngx_free(redis->out);
            }

            redis->out = out;
            redis->out_size = size;
        }
    }

    ngx_memcpy(redis->out + redis->out_len, data, len);
    redis->out_len += len;

    return NGX_OK;
}


/*
 * One read timer serves the whole FIFO: it is set for the earliest
 * deadline, and when it fires early (that query was answered) it is set
 * again for the next one.
 */

static void
ngx_oci_redis_arm(ngx_oci_redis_t *redis, ngx_msec_t deadline)
{
    ngx_event_t     *rev;
    ngx_msec_int_t   left;

    rev = redis->peer.connection->read;

    if (rev->timer_set
        && (ngx_msec_int_t) (deadline - rev->timer.key) >= 0)
    {
        return;
    }

    left = (ngx_msec_int_t) (deadline - ngx_current_msec);

    ngx_add_timer(rev, left > 0 ? (ngx_msec_t) left : 1);
}


static void
ngx_oci_redis_write_handler(ngx_event_t *wev)
{
    ssize_t            n;
    ngx_connection_t  *c;
    ngx_oci_redis_t   *redis;

    c = wev->data;
    redis = c->data;

    if (!redis->connected) {
        if (ngx_oci_redis_test_connect(c) != NGX_OK) {
            ngx_oci_redis_close(redis);
            return;
        }

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "oci redis connected to %V", &redis->addr.name);

        redis->connected = 1;
        redis->log.action = "talking to redis";
    }

    while (redis->out_pos < redis->out_len) {

        n = c->send(c, redis->out + redis->out_pos,
                    redis->out_len - redis->out_pos);

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "oci redis send: %z of %uz",
                       n, redis->out_len - redis->out_pos);

        if (n == NGX_ERROR) {
            ngx_oci_redis_close(redis);
            return;
        }

        if (n == NGX_AGAIN || n == 0) {
            break;
        }

        redis->out_pos += n;
    }

    if (redis->out_pos == redis->out_len) {
        redis->out_pos = 0;
        redis->out_len = 0;

        /* a burst does not keep a large buffer for the worker's life */

        if (redis->out_size > NGX_OCI_REDIS_OUT_KEEP) {
            ngx_free(redis->out);
            redis->out = NULL;
            redis->out_size = 0;
        }
    }

    if (ngx_handle_write_event(wev, 0) != NGX_OK) {
        ngx_oci_redis_close(redis);
    }
}


static ngx_int_t
ngx_oci_redis_test_connect(ngx_connection_t *c)
{
    int        err;
    socklen_t  len;

#if (NGX_HAVE_KQUEUE)

    if (ngx_event_flags & NGX_USE_KQUEUE_EVENT) {
        if (c->write->pending_eof || c->read->pending_eof) {
            err = c->write->pending_eof ? c->write->kq_errno
                                        : c->read->kq_errno;

            (void) ngx_connection_error(c, err, "connect() failed");
            return NGX_ERROR;
        }

        return NGX_OK;
    }

#endif

    err = 0;
    len = sizeof(int);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len) == -1) {
        err = ngx_socket_errno;
    }

    if (err) {
        (void) ngx_connection_error(c, err, "connect() failed");
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_oci_redis_read_handler(ngx_event_t *rev)
{
    u_char             buf[NGX_OCI_REDIS_READ_SIZE];
    ssize_t            n;
    ngx_connection_t  *c;
    ngx_oci_redis_t   *redis;

    c = rev->data;
    redis = c->data;

    if (c->close) {

        /* shutting down: idle, or worker_shutdown_timeout expired */

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "oci redis connection closed on shutdown");

        ngx_oci_redis_close(redis);
        return;
    }

    if (rev->timedout) {
        rev->timedout = 0;
        ngx_oci_redis_expire(redis);
        return;
    }

    for ( ;; ) {

        n = c->recv(c, buf, NGX_OCI_REDIS_READ_SIZE);

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "oci redis recv: %z", n);

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == 0) {
            if (ngx_queue_empty(&redis->queries)) {
                ngx_log_error(NGX_LOG_INFO, c->log, 0,
                              "redis closed the idle connection");

            } else {
                ngx_log_error(NGX_LOG_ERR, c->log, 0,
                              "redis closed the connection with queries "
                              "pending");
            }

            ngx_oci_redis_close(redis);
            return;
        }

        if (n == NGX_ERROR) {
            ngx_oci_redis_close(redis);
            return;
        }

        if (redisReaderFeed(redis->reader, (const char *) buf, n)
            != REDIS_OK)
        {
            ngx_log_error(NGX_LOG_ERR, c->log, 0,
                          "redis reader failed: %s", redis->reader->errstr);
            ngx_oci_redis_close(redis);
            return;
        }

        if (ngx_oci_redis_dispatch(redis) != NGX_OK) {
            return;
        }
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_oci_redis_close(redis);
    }
}


/*
 * Hands the parsed replies to the queries at the head of the FIFO.
 * Returns NGX_OK to read on, anything else when the connection is gone.
 * The handlers called here cannot close the connection: a query they
 * make is only queued.
 */

static ngx_int_t
ngx_oci_redis_dispatch(ngx_oci_redis_t *redis)
{
    void                   *reply;
    ngx_log_t              *log;
    ngx_oci_redis_query_t  *q;

    log = &redis->log;

    for ( ;; ) {

        if (redisReaderGetReply(redis->reader, &reply) != REDIS_OK) {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "redis sent an invalid reply: %s",
                          redis->reader->errstr);
            ngx_oci_redis_close(redis);
            return NGX_ERROR;
        }

        if (reply == NULL) {
            return NGX_OK;
        }

        if (ngx_queue_empty(&redis->queries)) {
            freeReplyObject(reply);

            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "redis sent a reply no query waits for");
            ngx_oci_redis_close(redis);
            return NGX_ERROR;
        }

        q = ngx_queue_data(ngx_queue_head(&redis->queries),
                           ngx_oci_redis_query_t, queue);

        ngx_log_debug4(NGX_LOG_DEBUG_HTTP, log, 0,
                       "oci redis reply %ui/%ui for %p%s",
                       q->received + 1, q->nreplies, q,
                       q->setup ? " (setup)"
                       : q->handler ? "" : " (detached, dropped)");

        if (q->setup) {
            if (ngx_oci_redis_setup_reply(redis, q, reply) != NGX_OK) {
                ngx_oci_redis_close(redis);
                return NGX_ERROR;
            }

        } else if (q->handler == NULL) {
            freeReplyObject(reply);

        } else {
            q->replies[q->received] = reply;
        }

        if (++q->received < q->nreplies) {
            continue;
        }

        ngx_queue_remove(&q->queue);

        ngx_oci_redis_finish(q, NGX_OK);

        if (ngx_queue_empty(&redis->queries)
            && ngx_oci_redis_idle(redis) != NGX_OK)
        {
            return NGX_DONE;
        }
    }
}


static ngx_int_t
ngx_oci_redis_setup_reply(ngx_oci_redis_t *redis, ngx_oci_redis_query_t *q,
    redisReply *reply)
{
    char  *name;

    name = (redis->password.len && q->received == 0) ? "AUTH" : "SELECT";

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, &redis->log, 0,
                      "redis refused %s: \"%*s\"",
                      name, (size_t) reply->len, reply->str);
        freeReplyObject(reply);
        return NGX_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, &redis->log, 0,
                   "oci redis %s accepted", name);

    freeReplyObject(reply);

    return NGX_OK;
}


static ngx_int_t
ngx_oci_redis_idle(ngx_oci_redis_t *redis)
{
    ngx_connection_t  *c;

    c = redis->peer.connection;

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    /* ngx_close_idle_connections() ran once, when the shutdown began */

    if (ngx_exiting || ngx_terminate) {
        ngx_oci_redis_close(redis);
        return NGX_DONE;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0, "oci redis idle");

    c->idle = 1;

    return NGX_OK;
}


/*
 * The read timer: queries past their deadline time out one by one; the
 * connection is reset only when it is stuck (see the top of this file).
 */

static void
ngx_oci_redis_expire(ngx_oci_redis_t *redis)
{
    ngx_uint_t              expired, total, stuck;
    ngx_queue_t            *qu;
    ngx_msec_int_t          left, next;
    ngx_oci_redis_query_t  *q;

    expired = 0;
    total = 0;
    stuck = 0;
    next = 0;

    for (qu = ngx_queue_head(&redis->queries);
         qu != ngx_queue_sentinel(&redis->queries);
         qu = ngx_queue_next(qu))
    {
        q = ngx_queue_data(qu, ngx_oci_redis_query_t, queue);

        total++;
        left = (ngx_msec_int_t) (q->deadline - ngx_current_msec);

        if (!q->timedout && left <= 0) {
            q->timedout = 1;
            expired++;

            if (q->setup || !redis->connected) {
                stuck++;
                continue;
            }
        }

        if (q->timedout) {

            /* its replies are still awaited for one more timeout */

            left += q->timeout;

            if (left <= 0) {
                stuck++;
                continue;
            }
        }

        if (next == 0 || left < next) {
            next = left;
        }
    }

    if (stuck) {
        ngx_log_error(NGX_LOG_ERR, &redis->log, NGX_ETIMEDOUT,
                      "redis timed out: %ui of %ui pending queries not "
                      "answered in time, closing the connection",
                      stuck, total);

        ngx_oci_redis_close(redis);
        return;
    }

    if (expired) {
        ngx_log_error(NGX_LOG_ERR, &redis->log, NGX_ETIMEDOUT,
                      "redis timed out: %ui of %ui pending queries not "
                      "answered in time, their answers will be dropped",
                      expired, total);

        /*
         * The handlers may only queue new queries, at the tail, with
         * deadlines still to come: the walk sees each expired node once.
         */

        for (qu = ngx_queue_head(&redis->queries);
             qu != ngx_queue_sentinel(&redis->queries);
             qu = ngx_queue_next(qu))
        {
            q = ngx_queue_data(qu, ngx_oci_redis_query_t, queue);

            if (q->timedout && q->handler) {
                ngx_oci_redis_time_out(q);
            }
        }
    }

    if (next && redis->peer.connection) {
        ngx_oci_redis_arm(redis, ngx_current_msec + (ngx_msec_t) next);
    }
}


/* the handler learns of the timeout now; the replies will be dropped */

static void
ngx_oci_redis_time_out(ngx_oci_redis_query_t *q)
{
    void                      *data;
    ngx_connection_t          *c;
    ngx_http_request_t        *r;
    ngx_oci_redis_handler_pt   handler;

    r = q->request;
    handler = q->handler;
    data = q->data;

    if (q->cleanup) {
        q->cleanup->handler = NULL;
    }

    ngx_oci_redis_detach(q);

    c = r->connection;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "oci redis query %p timed out", q);

    handler(r, data, NGX_OCI_REDIS_TIMEOUT, NULL, 0);

    ngx_http_run_posted_requests(c);
}


static void
ngx_oci_redis_fail_handler(ngx_event_t *ev)
{
    ngx_oci_redis_t  *redis;

    redis = ev->data;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "oci redis connect failed, failing queries");

    ngx_oci_redis_close(redis);
}


/*
 * Closes the connection and fails every query on it.  The FIFO is
 * emptied first, so a handler that queries again starts a new connection
 * instead of finding this one half torn down.
 */

static void
ngx_oci_redis_close(ngx_oci_redis_t *redis)
{
    ngx_queue_t             pending, *qu;
    ngx_oci_redis_query_t  *q;

    ngx_queue_init(&pending);

    if (!ngx_queue_empty(&redis->queries)) {
        ngx_queue_add(&pending, &redis->queries);
        ngx_queue_init(&redis->queries);
    }

    if (redis->fail.posted) {
        ngx_delete_posted_event(&redis->fail);
    }

    if (redis->peer.connection) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, &redis->log, 0,
                       "oci redis close connection to %V",
                       &redis->addr.name);

        ngx_close_connection(redis->peer.connection);
        redis->peer.connection = NULL;
    }

    redis->connected = 0;

    if (redis->reader) {
        redisReaderFree(redis->reader);
        redis->reader = NULL;
    }

    redis->out_pos = 0;
    redis->out_len = 0;

    while (!ngx_queue_empty(&pending)) {
        qu = ngx_queue_head(&pending);
        ngx_queue_remove(qu);

        q = ngx_queue_data(qu, ngx_oci_redis_query_t, queue);

        ngx_oci_redis_finish(q, q->timedout ? NGX_OCI_REDIS_TIMEOUT
                                            : NGX_ERROR);
    }
}


static void
ngx_oci_redis_finish(ngx_oci_redis_query_t *q, ngx_int_t rc)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    if (q->cleanup) {
        q->cleanup->handler = NULL;
        q->cleanup = NULL;
    }

    if (q->handler) {
        r = q->request;
        c = r->connection;

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "oci redis query %p done: %i", q, rc);

        q->handler(r, q->data, rc, rc == NGX_OK ? q->replies : NULL,
                   rc == NGX_OK ? q->nreplies : 0);

        /* as nginx does after any event that may finalize a request */

        ngx_http_run_posted_requests(c);
    }

    ngx_oci_redis_free(q);
}


static void
ngx_oci_redis_free(ngx_oci_redis_query_t *q)
{
    ngx_uint_t  i;

    if (q->cleanup) {
        q->cleanup->handler = NULL;
    }

    for (i = 0; i < q->received && i < q->nreplies; i++) {
        if (q->replies[i]) {
            freeReplyObject(q->replies[i]);
        }
    }

    ngx_free(q);
}


/*
 * The request pool's cleanup: the query stays in the FIFO, so that its
 * replies are still read and the next ones reach the right queries, but
 * nobody is called for it.
 */

static void
ngx_oci_redis_detach(void *data)
{
    ngx_oci_redis_query_t *q = data;

    ngx_uint_t  i;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, &q->redis->log, 0,
                   "oci redis query %p detached", q);

    for (i = 0; i < q->received && i < q->nreplies; i++) {
        if (q->replies[i]) {
            freeReplyObject(q->replies[i]);
            q->replies[i] = NULL;
        }
    }

    q->request = NULL;
    q->handler = NULL;
    q->data = NULL;
    q->cleanup = NULL;
}


static u_char *
ngx_oci_redis_log_error(ngx_log_t *log, u_char *buf, size_t len)
{
    u_char           *p;
    ngx_oci_redis_t  *redis;

    p = buf;

    if (log->action) {
        p = ngx_snprintf(buf, len, " while %s", log->action);
        len -= p - buf;
    }

    redis = log->data;

    return ngx_snprintf(p, len, ", redis: %V", &redis->addr.name);
}
