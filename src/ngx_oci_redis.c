
/*
 * A non-blocking Redis client on nginx's event loop.
 *
 * An endpoint (one "oci_redis" directive) reaches Redis through one or
 * more nodes.  Per worker and per node there is at most one connection,
 * opened lazily, and a FIFO of the queries written on it.  A query is
 * formatted once, when it is made; it waits in the endpoint's list until
 * it is routed to a node, then is appended to the node's output buffer
 * as a whole and to its FIFO as one entry that knows how many replies it
 * waits for; Redis answers in order, so each reply the reader produces
 * belongs to the entry at the head.  The first entry of a new connection
 * is the internal one of AUTH and SELECT.
 *
 * Routing depends on the endpoint's mode:
 *
 *   single    one node, the address given;
 *   sentinel  the master the sentinels name: asked for with SENTINEL
 *             get-master-addr-by-name when none is known, again when the
 *             master's connection is lost or it answers READONLY (it was
 *             demoted);
 *   cluster   the node owning the slot of the query's key (its first
 *             command with a key), from the map CLUSTER SLOTS answers;
 *             MOVED updates the map and sends the query to the new owner,
 *             ASK sends it there once, after ASKING.
 *
 * Learning the master or the slot map is "discovery": one internal query
 * at a time, to one sentinel (or known cluster node) after another.
 * Queries wait for it in the endpoint's list, up to their deadline.  When
 * no sentinel or node answers, the waiting queries fail and discovery
 * backs off (after one retry at once, doubling from 100 ms up to 2 s,
 * with jitter): until then queries fail at once, on the next turn of the
 * event loop.  A node whose
 * connect() failed backs off the same way: queries routed to it fail at
 * once instead of each trying to connect.
 *
 * What is retried: a query never written to a node (its connection
 * failed before it was established) and a query a node refused with
 * MOVED, ASK or READONLY (not applied), at most NGX_OCI_REDIS_REDIRECTS
 * times.  A query written to a connection that is then lost fails: it
 * may or may not have been applied.
 *
 * The connection of a node is:
 *
 *   closed      no connection; the next query connects;
 *   connecting  connect() in progress: queries wait in the buffer;
 *   connected   the buffer is written as soon as something is added;
 *   idle        connected with an empty FIFO: no timer, c->idle set, so a
 *               graceful shutdown closes it.
 *
 * Any failure (connect, read, write, protocol, AUTH or SELECT refused)
 * closes the connection and fails (or sends back to routing) every query
 * in the FIFO.  When connect() fails at once, the failure is posted as an
 * event, so handlers never run inside ngx_oci_redis_query().
 *
 * A query out of time fails alone: its handler gets NGX_OCI_REDIS_TIMEOUT
 * at its deadline and the entry is detached, but it stays in the FIFO, so
 * its replies, when they come, are read and dropped, and the replies
 * after them still reach their queries.  The connection is reset only
 * when it is stuck: a timed-out query still without its replies one more
 * timeout after its deadline, or a deadline passed while connecting or
 * during AUTH and SELECT.
 *
 * The queries are allocated with ngx_alloc(): a query lives as long as it
 * is in a FIFO, which can be longer than the request (the request pool's
 * cleanup only detaches it) and is unrelated to any pool.  Nodes learned
 * at run time are allocated from the endpoint's per-worker pool and live
 * as long as the worker.
 */


#include "ngx_oci_redis.h"
#include "ngx_oci_redis_slot.h"


#define NGX_OCI_REDIS_READ_SIZE     16384
#define NGX_OCI_REDIS_OUT_MIN       4096
#define NGX_OCI_REDIS_OUT_KEEP      65536

#define NGX_OCI_REDIS_BACKOFF_MIN   100
#define NGX_OCI_REDIS_BACKOFF_MAX   2000
#define NGX_OCI_REDIS_REDIRECTS     5

/* a dead node asks for a new slot map or master at most this often */
#define NGX_OCI_REDIS_REFRESH       100


#define NGX_OCI_REDIS_SINGLE        0
#define NGX_OCI_REDIS_SENTINEL      1
#define NGX_OCI_REDIS_CLUSTER       2

#define NGX_OCI_REDIS_READONLY      3


typedef struct ngx_oci_redis_conn_s   ngx_oci_redis_conn_t;
typedef struct ngx_oci_redis_query_s  ngx_oci_redis_query_t;

typedef void (*ngx_oci_redis_internal_pt)(ngx_oci_redis_t *redis,
    ngx_oci_redis_conn_t *c, ngx_int_t rc, redisReply *reply);


struct ngx_oci_redis_conn_s {
    ngx_queue_t                 link;          /* in redis->conns */
    ngx_oci_redis_t            *redis;
    ngx_addr_t                  addr;

    ngx_peer_connection_t       peer;
    ngx_log_t                   log;
    redisReader                *reader;
    ngx_queue_t                 queries;

    u_char                     *out;
    size_t                      out_pos;
    size_t                      out_len;
    size_t                      out_size;

    ngx_event_t                 fail;

    ngx_msec_t                  retry_at;      /* connect() backs off */
    ngx_msec_t                  backoff;

    unsigned                    connected:1;
    unsigned                    sentinel:1;
};


struct ngx_oci_redis_s {
    ngx_uint_t                  mode;
    ngx_array_t                 seeds;         /* of ngx_addr_t */
    ngx_str_t                   master_name;
    ngx_str_t                   password;
    ngx_int_t                   db;            /* -1: no SELECT */

    /* AUTH and SELECT, formatted once, for every new data connection */
    ngx_str_t                   setup;
    ngx_uint_t                  nsetup;

    ngx_http_core_loc_conf_t   *clcf;          /* for its error_log */

    /* per worker, from here on */

    ngx_pool_t                 *pool;
    ngx_log_t                   log;
    ngx_queue_t                 conns;
    ngx_queue_t                 waiting;       /* queries not routed yet */

    ngx_oci_redis_conn_t       *master;        /* single, sentinel */
    ngx_oci_redis_conn_t      **slots;         /* cluster */

    ngx_event_t                 wake;          /* posted: route */
    ngx_event_t                 timer;         /* waiting queries' deadlines */

    ngx_msec_t                  timeout;       /* of discovery queries */
    ngx_oci_redis_stats_t     **stats;         /* of the last query's conf */
    ngx_uint_t                  next;          /* the next one to ask */
    ngx_uint_t                  tries;
    ngx_msec_t                  retry_at;      /* discovery backs off */
    ngx_msec_t                  backoff;
    ngx_msec_t                  refresh_at;

    unsigned                    started:1;
    unsigned                    discovering:1;
};


struct ngx_oci_redis_query_s {
    ngx_queue_t                 queue;
    ngx_oci_redis_t            *redis;
    ngx_oci_redis_conn_t       *conn;          /* NULL while waiting */

    ngx_http_request_t         *request;       /* NULL once detached */
    ngx_oci_redis_handler_pt    handler;       /* NULL once detached */
    void                       *data;
    ngx_pool_cleanup_t         *cleanup;
    ngx_oci_redis_internal_pt   internal;      /* discovery's own */

    ngx_msec_t                  deadline;
    ngx_msec_t                  timeout;
    ngx_oci_redis_stats_t      *stats;         /* NULL: not counted */
    ngx_uint_t                  nreplies;
    ngx_uint_t                  received;
    ngx_uint_t                  skip;          /* ASKING's reply */
    redisReply                **replies;

    u_char                     *cmd;           /* formatted, to resend */
    size_t                      cmd_len;
    ngx_int_t                   slot;          /* -1: no key */
    ngx_uint_t                  redirects;

    unsigned                    setup:1;
    unsigned                    timedout:1;
    unsigned                    asking:1;
};


static char *ngx_oci_redis_endpoint(ngx_conf_t *cf, ngx_oci_redis_conf_t *rc);
static ngx_int_t ngx_oci_redis_seeds(ngx_conf_t *cf, ngx_oci_redis_t *redis,
    ngx_str_t *list, in_port_t port);
static ngx_int_t ngx_oci_redis_params(ngx_conf_t *cf, ngx_oci_redis_t *redis,
    ngx_str_t *params, ngx_uint_t n);
static char *ngx_oci_redis_format_setup(ngx_conf_t *cf,
    ngx_oci_redis_t *redis);
static void ngx_oci_redis_cleanup(void *data);
static ngx_int_t ngx_oci_redis_enqueue(ngx_http_request_t *r,
    ngx_log_t *log, ngx_oci_redis_conf_t *rc, ngx_array_t *cmds,
    ngx_oci_redis_handler_pt handler, void *data);
static ngx_int_t ngx_oci_redis_start(ngx_oci_redis_t *redis);
static ngx_oci_redis_conn_t *ngx_oci_redis_conn_add(ngx_oci_redis_t *redis,
    ngx_addr_t *addr, ngx_uint_t sentinel);
static ngx_oci_redis_conn_t *ngx_oci_redis_conn_get(ngx_oci_redis_t *redis,
    u_char *host, size_t host_len, u_char *port, size_t port_len);
static ngx_oci_redis_query_t *ngx_oci_redis_format(ngx_oci_redis_t *redis,
    ngx_array_t *cmds, ngx_msec_t timeout, ngx_log_t *log);
static void ngx_oci_redis_wait(ngx_oci_redis_t *redis,
    ngx_oci_redis_query_t *q);
static void ngx_oci_redis_wake_handler(ngx_event_t *ev);
static void ngx_oci_redis_route(ngx_oci_redis_t *redis);
static void ngx_oci_redis_timer_handler(ngx_event_t *ev);
static ngx_int_t ngx_oci_redis_send(ngx_oci_redis_conn_t *c,
    ngx_oci_redis_query_t *q);
static ngx_uint_t ngx_oci_redis_down(ngx_oci_redis_conn_t *c);
static void ngx_oci_redis_backoff(ngx_msec_t *retry_at, ngx_msec_t *backoff);
static void ngx_oci_redis_discover(ngx_oci_redis_t *redis);
static void ngx_oci_redis_discover_next(ngx_oci_redis_t *redis);
static void ngx_oci_redis_discovered(ngx_oci_redis_t *redis,
    ngx_oci_redis_conn_t *c, ngx_int_t rc, redisReply *reply);
static ngx_int_t ngx_oci_redis_master(ngx_oci_redis_t *redis,
    redisReply *reply);
static ngx_int_t ngx_oci_redis_slots(ngx_oci_redis_t *redis,
    ngx_oci_redis_conn_t *c, redisReply *reply);
static void ngx_oci_redis_discovery_failed(ngx_oci_redis_t *redis);
static ngx_int_t ngx_oci_redis_connect(ngx_oci_redis_conn_t *c,
    ngx_msec_t timeout);
static ngx_oci_redis_query_t *ngx_oci_redis_node(ngx_oci_redis_t *redis,
    ngx_uint_t n, size_t len, ngx_msec_t timeout, ngx_log_t *log);
static ngx_int_t ngx_oci_redis_append(ngx_oci_redis_conn_t *c, u_char *data,
    size_t len, ngx_log_t *log);
static void ngx_oci_redis_arm(ngx_oci_redis_conn_t *c, ngx_msec_t deadline);
static void ngx_oci_redis_write_handler(ngx_event_t *wev);
static ngx_int_t ngx_oci_redis_test_connect(ngx_connection_t *c);
static void ngx_oci_redis_read_handler(ngx_event_t *rev);
static ngx_int_t ngx_oci_redis_dispatch(ngx_oci_redis_conn_t *c);
static ngx_int_t ngx_oci_redis_redirected(ngx_oci_redis_conn_t *c,
    ngx_oci_redis_query_t *q);
static ngx_int_t ngx_oci_redis_setup_reply(ngx_oci_redis_conn_t *c,
    ngx_oci_redis_query_t *q, redisReply *reply);
static ngx_int_t ngx_oci_redis_idle(ngx_oci_redis_conn_t *c);
static void ngx_oci_redis_expire(ngx_oci_redis_conn_t *c);
static void ngx_oci_redis_time_out(ngx_oci_redis_query_t *q);
static void ngx_oci_redis_fail_handler(ngx_event_t *ev);
static void ngx_oci_redis_close(ngx_oci_redis_conn_t *c);
static void ngx_oci_redis_finish(ngx_oci_redis_query_t *q, ngx_int_t rc);
static void ngx_oci_redis_count(ngx_oci_redis_query_t *q, ngx_int_t rc);
static void ngx_oci_redis_drop_replies(ngx_oci_redis_query_t *q);
static void ngx_oci_redis_free(ngx_oci_redis_query_t *q);
static void ngx_oci_redis_detach(void *data);
static u_char *ngx_oci_redis_log_conn(ngx_log_t *log, u_char *buf,
    size_t len);
static u_char *ngx_oci_redis_log_endpoint(ngx_log_t *log, u_char *buf,
    size_t len);


static u_char  ngx_oci_redis_asking[] = "*1\r\n$6\r\nASKING\r\n";


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
    ngx_str_t           *value, list;
    in_port_t            port;
    ngx_oci_redis_t     *redis;
    ngx_pool_cleanup_t  *cln;

    if (rc->redis != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts < 2 || cf->args->nelts > 5) {
        return "takes an address, \"sentinel=\" or \"cluster=\", then "
               "\"master=\", \"password=\" and \"db=\" if needed";
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

    list = value[1];
    port = 6379;

    if (ngx_strncmp(list.data, "sentinel=", 9) == 0) {
        redis->mode = NGX_OCI_REDIS_SENTINEL;
        list.data += 9;
        list.len -= 9;
        port = 26379;

    } else if (ngx_strncmp(list.data, "cluster=", 8) == 0) {
        redis->mode = NGX_OCI_REDIS_CLUSTER;
        list.data += 8;
        list.len -= 8;
    }

    if (ngx_array_init(&redis->seeds, cf->pool, 3, sizeof(ngx_addr_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_oci_redis_seeds(cf, redis, &list, port) != NGX_OK
        || ngx_oci_redis_params(cf, redis, &value[2], cf->args->nelts - 2)
           != NGX_OK
        || ngx_oci_redis_format_setup(cf, redis) != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (redis->mode == NGX_OCI_REDIS_SENTINEL && redis->master_name.len == 0)
    {
        return "takes \"master=\" with \"sentinel=\"";
    }

    if (redis->mode != NGX_OCI_REDIS_SENTINEL && redis->master_name.len) {
        return "takes \"master=\" only with \"sentinel=\"";
    }

    if (redis->mode == NGX_OCI_REDIS_CLUSTER && redis->db > 0) {
        return "takes no \"db=\" other than 0 with \"cluster=\"";
    }

    redis->clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    ngx_queue_init(&redis->conns);
    ngx_queue_init(&redis->waiting);

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
 * "host[:port]" or "unix:/path", or for sentinel= and cluster= a list of
 * "host[:port]" separated by commas; of a name with several addresses,
 * the first one is used
 */

static ngx_int_t
ngx_oci_redis_seeds(ngx_conf_t *cf, ngx_oci_redis_t *redis, ngx_str_t *list,
    in_port_t port)
{
    u_char      *p, *last, *comma;
    ngx_url_t    u;
    ngx_addr_t  *addr;

    p = list->data;
    last = list->data + list->len;

    do {
        comma = ngx_strlchr(p, last, ',');

        if (comma == NULL) {
            comma = last;
        }

        ngx_memzero(&u, sizeof(ngx_url_t));

        u.url.data = p;
        u.url.len = comma - p;
        u.default_port = port;

        if (u.url.len == 0
            || (redis->mode != NGX_OCI_REDIS_SINGLE
                && ngx_strncmp(p, "unix:", 5) == 0))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"oci_redis\" takes a list of \"host:port\" "
                               "with \"sentinel=\" and \"cluster=\"");
            return NGX_ERROR;
        }

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

        if (redis->mode == NGX_OCI_REDIS_SINGLE && comma != last) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"oci_redis\" takes one address, or "
                               "\"sentinel=\" or \"cluster=\" with a list");
            return NGX_ERROR;
        }

        addr = ngx_array_push(&redis->seeds);
        if (addr == NULL) {
            return NGX_ERROR;
        }

        *addr = u.addrs[0];

        p = comma + 1;

    } while (comma != last);

    return NGX_OK;
}


/* "master=", "password=" and "db=", each at most once */

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

        if (ngx_strncmp(s.data, "master=", 7) == 0) {

            if (redis->master_name.data || s.len == 7) {
                goto invalid;
            }

            redis->master_name.data = s.data + 7;
            redis->master_name.len = s.len - 7;
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

    ngx_queue_t            *qu, *cq;
    ngx_oci_redis_conn_t   *c;
    ngx_oci_redis_query_t  *q;

    if (!redis->started) {
        return;
    }

    if (redis->wake.posted) {
        ngx_delete_posted_event(&redis->wake);
    }

    if (redis->timer.timer_set) {
        ngx_del_timer(&redis->timer);
    }

    while (!ngx_queue_empty(&redis->waiting)) {
        qu = ngx_queue_head(&redis->waiting);
        ngx_queue_remove(qu);
        ngx_oci_redis_free(ngx_queue_data(qu, ngx_oci_redis_query_t, queue));
    }

    for (cq = ngx_queue_head(&redis->conns);
         cq != ngx_queue_sentinel(&redis->conns);
         cq = ngx_queue_next(cq))
    {
        c = ngx_queue_data(cq, ngx_oci_redis_conn_t, link);

        if (c->fail.posted) {
            ngx_delete_posted_event(&c->fail);
        }

        while (!ngx_queue_empty(&c->queries)) {
            qu = ngx_queue_head(&c->queries);
            ngx_queue_remove(qu);

            q = ngx_queue_data(qu, ngx_oci_redis_query_t, queue);
            ngx_oci_redis_free(q);
        }

        if (c->peer.connection) {
            ngx_close_connection(c->peer.connection);
            c->peer.connection = NULL;
        }

        if (c->reader) {
            redisReaderFree(c->reader);
            c->reader = NULL;
        }

        if (c->out) {
            ngx_free(c->out);
            c->out = NULL;
        }
    }

    if (redis->slots) {
        ngx_free(redis->slots);
        redis->slots = NULL;
    }

    ngx_destroy_pool(redis->pool);
    redis->started = 0;
}


/* the worker's state of an endpoint, on its first query */

static ngx_int_t
ngx_oci_redis_start(ngx_oci_redis_t *redis)
{
    ngx_log_t             *log;
    ngx_uint_t             i;
    ngx_addr_t            *seed;
    ngx_oci_redis_conn_t  *c;

    if (redis->started) {
        return NGX_OK;
    }

    log = redis->clcf->error_log ? redis->clcf->error_log : ngx_cycle->log;

    redis->log = *log;
    redis->log.handler = ngx_oci_redis_log_endpoint;
    redis->log.data = redis;
    redis->log.action = NULL;

    redis->pool = ngx_create_pool(4096, &redis->log);
    if (redis->pool == NULL) {
        return NGX_ERROR;
    }

    redis->started = 1;

    redis->wake.handler = ngx_oci_redis_wake_handler;
    redis->wake.data = redis;
    redis->wake.log = &redis->log;

    redis->timer.handler = ngx_oci_redis_timer_handler;
    redis->timer.data = redis;
    redis->timer.log = &redis->log;
    redis->timer.cancelable = 1;

    seed = redis->seeds.elts;

    for (i = 0; i < redis->seeds.nelts; i++) {
        c = ngx_oci_redis_conn_add(redis, &seed[i],
                                   redis->mode == NGX_OCI_REDIS_SENTINEL);
        if (c == NULL) {
            return NGX_ERROR;
        }

        if (redis->mode == NGX_OCI_REDIS_SINGLE) {
            redis->master = c;
        }
    }

    return NGX_OK;
}


static ngx_oci_redis_conn_t *
ngx_oci_redis_conn_add(ngx_oci_redis_t *redis, ngx_addr_t *addr,
    ngx_uint_t sentinel)
{
    ngx_oci_redis_conn_t  *c;

    c = ngx_pcalloc(redis->pool, sizeof(ngx_oci_redis_conn_t));
    if (c == NULL) {
        return NULL;
    }

    c->redis = redis;
    c->addr = *addr;
    c->sentinel = sentinel;

    ngx_queue_init(&c->queries);

    c->log = redis->log;
    c->log.handler = ngx_oci_redis_log_conn;
    c->log.data = c;
    c->log.action = "connecting to redis";

    c->fail.handler = ngx_oci_redis_fail_handler;
    c->fail.data = c;
    c->fail.log = &c->log;

    ngx_queue_insert_tail(&redis->conns, &c->link);

    return c;
}


/* the data node at host and port (an IP address, as Redis reports it) */

static ngx_oci_redis_conn_t *
ngx_oci_redis_conn_get(ngx_oci_redis_t *redis, u_char *host, size_t host_len,
    u_char *port, size_t port_len)
{
    u_char                *p, *name;
    size_t                 len;
    ngx_int_t              n;
    ngx_addr_t             addr;
    ngx_queue_t           *cq;
    ngx_oci_redis_conn_t  *c;

    if (host_len == 0 || host_len > NGX_SOCKADDR_STRLEN || port_len == 0
        || port_len > 5)
    {
        return NULL;
    }

    n = ngx_atoi(port, port_len);

    if (n <= 0 || n > 65535) {
        return NULL;
    }

    /* the name as nginx writes it: "[v6]:port" or "v4:port" */

    name = ngx_pnalloc(redis->pool, host_len + port_len + 3);
    if (name == NULL) {
        return NULL;
    }

    p = name;

    if (ngx_strlchr(host, host + host_len, ':') && host[0] != '[') {
        *p++ = '[';
        p = ngx_cpymem(p, host, host_len);
        *p++ = ']';

    } else {
        p = ngx_cpymem(p, host, host_len);
    }

    *p++ = ':';
    p = ngx_cpymem(p, port, port_len);
    len = p - name;

    for (cq = ngx_queue_head(&redis->conns);
         cq != ngx_queue_sentinel(&redis->conns);
         cq = ngx_queue_next(cq))
    {
        c = ngx_queue_data(cq, ngx_oci_redis_conn_t, link);

        if (!c->sentinel && c->addr.name.len == len
            && ngx_strncmp(c->addr.name.data, name, len) == 0)
        {
            return c;
        }
    }

    ngx_memzero(&addr, sizeof(ngx_addr_t));

    if (ngx_parse_addr_port(redis->pool, &addr, name, len) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, &redis->log, 0,
                      "redis named a node \"%*s\" that is not an address",
                      len, name);
        return NULL;
    }

    addr.name.data = name;
    addr.name.len = len;

    return ngx_oci_redis_conn_add(redis, &addr, 0);
}


ngx_int_t
ngx_oci_redis_query(ngx_http_request_t *r, ngx_oci_redis_conf_t *rc,
    ngx_array_t *cmds, ngx_oci_redis_handler_pt handler, void *data)
{
    return ngx_oci_redis_enqueue(r, r->connection->log, rc, cmds, handler,
                                 data);
}


ngx_int_t
ngx_oci_redis_query_unowned(ngx_oci_redis_conf_t *rc, ngx_array_t *cmds,
    ngx_log_t *log, ngx_oci_redis_handler_pt handler, void *data)
{
    return ngx_oci_redis_enqueue(NULL, log, rc, cmds, handler, data);
}


/* a query of a request, or of nobody (r is NULL): its pool has no say */

static ngx_int_t
ngx_oci_redis_enqueue(ngx_http_request_t *r, ngx_log_t *log,
    ngx_oci_redis_conf_t *rc, ngx_array_t *cmds,
    ngx_oci_redis_handler_pt handler, void *data)
{
    ngx_uint_t              i;
    ngx_array_t            *argvs;
    ngx_oci_redis_t        *redis;
    ngx_pool_cleanup_t     *cln;
    ngx_oci_redis_query_t  *q;

    redis = rc->redis;

    if (redis == NULL || redis == NGX_CONF_UNSET_PTR) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "redis query without \"oci_redis\" configured");
        return NGX_ERROR;
    }

    if (cmds->nelts == 0) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "redis query without commands");
        return NGX_ERROR;
    }

    argvs = cmds->elts;

    for (i = 0; i < cmds->nelts; i++) {
        if (argvs[i].nelts == 0 || argvs[i].nelts > NGX_MAX_INT32_VALUE) {
            ngx_log_error(NGX_LOG_ALERT, log, 0,
                          "redis command %ui of a query has %ui arguments",
                          i, argvs[i].nelts);
            return NGX_ERROR;
        }
    }

    if (ngx_oci_redis_start(redis) != NGX_OK) {
        return NGX_ERROR;
    }

    redis->timeout = rc->timeout;
    redis->stats = rc->stats;

    q = ngx_oci_redis_format(redis, cmds, rc->timeout, log);
    if (q == NULL) {
        return NGX_ERROR;
    }

    cln = NULL;

    if (r) {
        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            ngx_free(q);
            return NGX_ERROR;
        }
    }

    q->request = r;
    q->handler = handler;
    q->data = data;
    q->cleanup = cln;
    q->stats = rc->stats ? *rc->stats : NULL;

    if (cln) {
        cln->handler = ngx_oci_redis_detach;
        cln->data = q;
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, log, 0,
                   "oci redis query %p: %ui commands, %uz bytes, slot %i",
                   q, cmds->nelts, q->cmd_len, q->slot);

    /*
     * Routing is posted, not done here: queries of the same event loop
     * turn go out in one send(), and no failure can reach a handler from
     * inside this function.
     */

    ngx_oci_redis_wait(redis, q);

    return NGX_OK;
}


/* a query with its commands formatted, and the slot of its first key */

static ngx_oci_redis_query_t *
ngx_oci_redis_format(ngx_oci_redis_t *redis, ngx_array_t *cmds,
    ngx_msec_t timeout, ngx_log_t *log)
{
    int                     len;
    char                  **out;
    u_char                 *p;
    size_t                  total, *argvlen;
    ngx_int_t               key;
    ngx_str_t              *arg;
    ngx_uint_t              i, j, max;
    const char            **argv;
    ngx_array_t            *argvs;
    ngx_oci_redis_query_t  *q;

    argvs = cmds->elts;
    max = 0;

    for (i = 0; i < cmds->nelts; i++) {
        if (argvs[i].nelts > max) {
            max = argvs[i].nelts;
        }
    }

    argv = ngx_alloc(max * (sizeof(char *) + sizeof(size_t))
                     + cmds->nelts * sizeof(char *), log);
    if (argv == NULL) {
        return NULL;
    }

    argvlen = (size_t *) (argv + max);
    out = (char **) (argvlen + max);

    total = 0;
    q = NULL;
    key = -1;

    for (i = 0; i < cmds->nelts; i++) {
        arg = argvs[i].elts;

        for (j = 0; j < argvs[i].nelts; j++) {
            argv[j] = arg[j].data ? (const char *) arg[j].data : "";
            argvlen[j] = arg[j].len;
        }

        if (key == -1) {
            key = ngx_oci_redis_command_key(argvs[i].nelts,
                                            (const u_char *const *) argv,
                                            argvlen);
            if (key != -1) {
                key = ngx_oci_redis_slot(arg[key].data, arg[key].len);
            }
        }

        len = redisFormatCommandArgv(&out[i], (int) argvs[i].nelts, argv,
                                     argvlen);
        if (len < 0) {
            goto failed;
        }

        total += len;
    }

    q = ngx_oci_redis_node(redis, cmds->nelts, total, timeout, log);

    if (q) {
        q->slot = key;
        p = q->cmd;

        for (i = 0; i < cmds->nelts; i++) {
            p = ngx_cpymem(p, out[i], ngx_strlen(out[i]));
        }

        q->cmd_len = p - q->cmd;
    }

failed:

    while (i--) {
        redisFreeCommand(out[i]);
    }

    ngx_free(argv);

    return q;
}


static void
ngx_oci_redis_wait(ngx_oci_redis_t *redis, ngx_oci_redis_query_t *q)
{
    q->conn = NULL;

    ngx_queue_insert_tail(&redis->waiting, &q->queue);

    if (!redis->wake.posted) {
        ngx_post_event(&redis->wake, &ngx_posted_events);
    }

    if (!redis->timer.timer_set
        || (ngx_msec_int_t) (q->deadline - redis->timer.timer.key) < 0)
    {
        ngx_add_timer(&redis->timer,
                      (ngx_msec_int_t) (q->deadline - ngx_current_msec) > 0
                      ? q->deadline - ngx_current_msec : 1);
    }
}


static void
ngx_oci_redis_wake_handler(ngx_event_t *ev)
{
    ngx_oci_redis_route(ev->data);
}


/*
 * Sends each waiting query to its node, starts discovery when the node
 * is not known, or fails the query at once when that cannot help now.
 */

static void
ngx_oci_redis_route(ngx_oci_redis_t *redis)
{
    ngx_queue_t             list, *qu;
    ngx_oci_redis_conn_t   *c;
    ngx_oci_redis_query_t  *q;

    if (ngx_queue_empty(&redis->waiting)) {
        return;
    }

    /* the handlers called here may queue new queries: they are posted */

    ngx_queue_init(&list);
    ngx_queue_add(&list, &redis->waiting);
    ngx_queue_init(&redis->waiting);

    while (!ngx_queue_empty(&list)) {
        qu = ngx_queue_head(&list);
        ngx_queue_remove(qu);

        q = ngx_queue_data(qu, ngx_oci_redis_query_t, queue);

        if (q->handler == NULL) {
            ngx_oci_redis_free(q);
            continue;
        }

        if (redis->mode == NGX_OCI_REDIS_CLUSTER) {
            c = redis->slots ? redis->slots[q->slot == -1 ? 0 : q->slot]
                             : NULL;

        } else {
            c = redis->master;
        }

        if (c && ngx_oci_redis_down(c)) {

            /* a new master or slot owner may be known by now */

            if (redis->mode != NGX_OCI_REDIS_SINGLE && !redis->discovering
                && (ngx_msec_int_t) (ngx_current_msec - redis->refresh_at)
                   >= 0)
            {
                redis->refresh_at = ngx_current_msec
                                    + NGX_OCI_REDIS_REFRESH;
                ngx_oci_redis_discover(redis);
            }

            ngx_oci_redis_finish(q, NGX_ERROR);
            continue;
        }

        if (c) {
            if (ngx_oci_redis_send(c, q) != NGX_OK) {
                ngx_oci_redis_finish(q, NGX_ERROR);
            }

            continue;
        }

        if (!redis->discovering
            && (ngx_msec_int_t) (ngx_current_msec - redis->retry_at) < 0)
        {
            ngx_oci_redis_finish(q, NGX_ERROR);
            continue;
        }

        ngx_queue_insert_tail(&redis->waiting, &q->queue);

        ngx_oci_redis_discover(redis);
    }
}


/* the deadlines of queries still waiting to be routed */

static void
ngx_oci_redis_timer_handler(ngx_event_t *ev)
{
    ngx_oci_redis_t *redis = ev->data;

    ngx_queue_t             list, *qu, *next;
    ngx_msec_int_t          left, soonest;
    ngx_oci_redis_query_t  *q;

    ngx_queue_init(&list);
    soonest = 0;

    for (qu = ngx_queue_head(&redis->waiting);
         qu != ngx_queue_sentinel(&redis->waiting);
         qu = next)
    {
        next = ngx_queue_next(qu);
        q = ngx_queue_data(qu, ngx_oci_redis_query_t, queue);

        left = (ngx_msec_int_t) (q->deadline - ngx_current_msec);

        if (left <= 0 || q->handler == NULL) {
            ngx_queue_remove(qu);
            ngx_queue_insert_tail(&list, qu);
            continue;
        }

        if (soonest == 0 || left < soonest) {
            soonest = left;
        }
    }

    if (soonest) {
        ngx_add_timer(&redis->timer, (ngx_msec_t) soonest);
    }

    if (!ngx_queue_empty(&list)) {
        ngx_log_error(NGX_LOG_ERR, &redis->log, NGX_ETIMEDOUT,
                      "redis timed out: no node to send a query to");
    }

    while (!ngx_queue_empty(&list)) {
        qu = ngx_queue_head(&list);
        ngx_queue_remove(qu);

        q = ngx_queue_data(qu, ngx_oci_redis_query_t, queue);
        q->timedout = 1;

        ngx_oci_redis_finish(q, NGX_OCI_REDIS_TIMEOUT);
    }
}


/* appends the query to the node's buffer and FIFO, connecting if needed */

static ngx_int_t
ngx_oci_redis_send(ngx_oci_redis_conn_t *c, ngx_oci_redis_query_t *q)
{
    size_t              pending;
    ngx_connection_t   *pc;

    if (c->peer.connection == NULL && !c->fail.posted) {
        if (ngx_oci_redis_connect(c, q->timeout) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    pc = c->peer.connection;

    /* without a connection the query only waits for the posted failure */

    if (pc) {
        pending = c->out_len;

        if ((q->asking
             && ngx_oci_redis_append(c, ngx_oci_redis_asking,
                                     sizeof(ngx_oci_redis_asking) - 1,
                                     &c->log)
                != NGX_OK)
            || ngx_oci_redis_append(c, q->cmd, q->cmd_len, &c->log)
               != NGX_OK)
        {
            c->out_len = ngx_min(c->out_len, pending);
            return NGX_ERROR;
        }
    }

    q->conn = c;
    q->skip = q->asking;
    q->received = 0;

    ngx_queue_insert_tail(&c->queries, &q->queue);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, &c->log, 0,
                   "oci redis query %p to %V, %s", q, &c->addr.name,
                   pc == NULL ? "failing"
                   : c->connected ? "connected" : "connecting");

    if (pc == NULL) {
        return NGX_OK;
    }

    pc->idle = 0;
    ngx_oci_redis_arm(c, q->deadline);

    if (c->connected && !pc->write->posted) {
        ngx_post_event(pc->write, &ngx_posted_events);
    }

    return NGX_OK;
}


/* a node whose connect() failed lately: not tried again before retry_at */

static ngx_uint_t
ngx_oci_redis_down(ngx_oci_redis_conn_t *c)
{
    return c->peer.connection == NULL
           && (ngx_msec_int_t) (ngx_current_msec - c->retry_at) < 0;
}


/*
 * The first failure may be retried at once (a restart, a dropped
 * connection); then the wait doubles, from the minimum up to the
 * maximum, with jitter so that workers do not retry together.
 */

static void
ngx_oci_redis_backoff(ngx_msec_t *retry_at, ngx_msec_t *backoff)
{
    ngx_msec_t  b;

    if (*backoff == 0) {
        *backoff = 1;
        *retry_at = ngx_current_msec;
        return;
    }

    b = *backoff * 2;
    b = ngx_max(b, NGX_OCI_REDIS_BACKOFF_MIN);
    b = ngx_min(b, NGX_OCI_REDIS_BACKOFF_MAX);

    *backoff = b;
    *retry_at = ngx_current_msec + b / 2 + (ngx_msec_t) ngx_random() % (b / 2);
}


static void
ngx_oci_redis_discover(ngx_oci_redis_t *redis)
{
    if (redis->discovering) {
        return;
    }

    redis->discovering = 1;
    redis->tries = 0;

    ngx_oci_redis_discover_next(redis);
}


/* asks the next sentinel, or the next cluster node, that is not down */

static void
ngx_oci_redis_discover_next(ngx_oci_redis_t *redis)
{
    ngx_str_t               argv[3];
    ngx_uint_t              i, n, total;
    ngx_array_t             cmd, cmds;
    ngx_queue_t            *cq;
    ngx_oci_redis_conn_t   *c;
    ngx_oci_redis_query_t  *q;

    total = 0;

    for (cq = ngx_queue_head(&redis->conns);
         cq != ngx_queue_sentinel(&redis->conns);
         cq = ngx_queue_next(cq))
    {
        c = ngx_queue_data(cq, ngx_oci_redis_conn_t, link);
        total += (c->sentinel == (redis->mode == NGX_OCI_REDIS_SENTINEL));
    }

    while (redis->tries++ < total) {

        n = redis->next++ % total;
        c = NULL;
        i = 0;

        for (cq = ngx_queue_head(&redis->conns);
             cq != ngx_queue_sentinel(&redis->conns);
             cq = ngx_queue_next(cq))
        {
            c = ngx_queue_data(cq, ngx_oci_redis_conn_t, link);

            if (c->sentinel != (redis->mode == NGX_OCI_REDIS_SENTINEL)) {
                continue;
            }

            if (i++ == n) {
                break;
            }
        }

        if (c == NULL || ngx_oci_redis_down(c)) {
            continue;
        }

        cmd.elts = argv;
        cmd.size = sizeof(ngx_str_t);

        if (redis->mode == NGX_OCI_REDIS_SENTINEL) {
            ngx_str_set(&argv[0], "SENTINEL");
            ngx_str_set(&argv[1], "get-master-addr-by-name");
            argv[2] = redis->master_name;
            cmd.nelts = 3;

        } else {
            ngx_str_set(&argv[0], "CLUSTER");
            ngx_str_set(&argv[1], "SLOTS");
            cmd.nelts = 2;
        }

        cmds.elts = &cmd;
        cmds.nelts = 1;
        cmds.size = sizeof(ngx_array_t);

        q = ngx_oci_redis_format(redis, &cmds, redis->timeout, &redis->log);
        if (q == NULL) {
            break;
        }

        q->internal = ngx_oci_redis_discovered;

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, &redis->log, 0,
                       "oci redis discovery: asking %V", &c->addr.name);

        if (ngx_oci_redis_send(c, q) == NGX_OK) {
            return;
        }

        ngx_oci_redis_free(q);
    }

    ngx_oci_redis_discovery_failed(redis);
}


static void
ngx_oci_redis_discovered(ngx_oci_redis_t *redis, ngx_oci_redis_conn_t *c,
    ngx_int_t rc, redisReply *reply)
{
    ngx_int_t  ok;

    if (rc != NGX_OK || reply == NULL) {
        ngx_oci_redis_discover_next(redis);
        return;
    }

    if (redis->mode == NGX_OCI_REDIS_SENTINEL) {
        ok = ngx_oci_redis_master(redis, reply);

    } else {
        ok = ngx_oci_redis_slots(redis, c, reply);
    }

    if (ok != NGX_OK) {
        if (reply->type == REDIS_REPLY_ERROR) {
            ngx_log_error(NGX_LOG_ERR, &c->log, 0,
                          "redis refused discovery: \"%*s\"",
                          (size_t) reply->len, reply->str);
        }

        ngx_oci_redis_discover_next(redis);
        return;
    }

    redis->discovering = 0;
    redis->backoff = 0;
    redis->retry_at = ngx_current_msec;

    if (!ngx_queue_empty(&redis->waiting) && !redis->wake.posted) {
        ngx_post_event(&redis->wake, &ngx_posted_events);
    }
}


/* SENTINEL get-master-addr-by-name: [ip, port], nil if unknown */

static ngx_int_t
ngx_oci_redis_master(ngx_oci_redis_t *redis, redisReply *reply)
{
    redisReply            *ip, *port;
    ngx_oci_redis_conn_t  *m;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
        return NGX_DECLINED;
    }

    ip = reply->element[0];
    port = reply->element[1];

    if (ip->type != REDIS_REPLY_STRING || port->type != REDIS_REPLY_STRING) {
        return NGX_DECLINED;
    }

    m = ngx_oci_redis_conn_get(redis, (u_char *) ip->str, ip->len,
                               (u_char *) port->str, port->len);

    if (m == NULL || ngx_oci_redis_down(m)) {
        return NGX_DECLINED;
    }

    if (redis->master != m) {
        ngx_log_error(NGX_LOG_NOTICE, &redis->log, 0,
                      "redis master is %V", &m->addr.name);
        redis->master = m;
    }

    return NGX_OK;
}


/*
 * CLUSTER SLOTS: [[start, end, [ip, port, id, ...], replicas...], ...];
 * an empty ip is the node asked
 */

static ngx_int_t
ngx_oci_redis_slots(ngx_oci_redis_t *redis, ngx_oci_redis_conn_t *c,
    redisReply *reply)
{
    size_t                 i;
    long long              s, start, end;
    redisReply            *range, *node, *ip, *port;
    ngx_oci_redis_conn_t  *owner;
    u_char                 pbuf[NGX_INT_T_LEN];

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
        return NGX_DECLINED;
    }

    if (redis->slots == NULL) {
        redis->slots = ngx_alloc(NGX_OCI_REDIS_SLOTS
                                 * sizeof(ngx_oci_redis_conn_t *),
                                 &redis->log);
        if (redis->slots == NULL) {
            return NGX_ERROR;
        }
    }

    ngx_memzero(redis->slots,
                NGX_OCI_REDIS_SLOTS * sizeof(ngx_oci_redis_conn_t *));

    for (i = 0; i < reply->elements; i++) {
        range = reply->element[i];

        if (range->type != REDIS_REPLY_ARRAY || range->elements < 3
            || range->element[0]->type != REDIS_REPLY_INTEGER
            || range->element[1]->type != REDIS_REPLY_INTEGER
            || range->element[2]->type != REDIS_REPLY_ARRAY
            || range->element[2]->elements < 2)
        {
            return NGX_DECLINED;
        }

        start = range->element[0]->integer;
        end = range->element[1]->integer;
        node = range->element[2];
        ip = node->element[0];
        port = node->element[1];

        if (start < 0 || end >= NGX_OCI_REDIS_SLOTS || start > end
            || ip->type != REDIS_REPLY_STRING
            || port->type != REDIS_REPLY_INTEGER)
        {
            return NGX_DECLINED;
        }

        if (ip->len == 0 || (ip->len == 1 && ip->str[0] == '?')) {
            owner = c;

        } else {
            owner = ngx_oci_redis_conn_get(redis, (u_char *) ip->str,
                                           ip->len, pbuf,
                                           ngx_sprintf(pbuf, "%L",
                                                       port->integer)
                                           - pbuf);
            if (owner == NULL) {
                return NGX_DECLINED;
            }
        }

        for (s = start; s <= end; s++) {
            redis->slots[s] = owner;
        }
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, &redis->log, 0,
                   "oci redis slot map: %uz ranges", reply->elements);

    return NGX_OK;
}


/* nobody answered: the waiting queries fail, and discovery backs off */

static void
ngx_oci_redis_discovery_failed(ngx_oci_redis_t *redis)
{
    ngx_queue_t             list, *qu;
    ngx_oci_redis_query_t  *q;

    redis->discovering = 0;

    ngx_oci_redis_backoff(&redis->retry_at, &redis->backoff);

    ngx_log_error(NGX_LOG_ERR, &redis->log, 0,
                  "redis: no %s known, next try in %M ms",
                  redis->mode == NGX_OCI_REDIS_SENTINEL ? "master"
                                                        : "slot map",
                  (ngx_msec_t) (redis->retry_at - ngx_current_msec));

    ngx_queue_init(&list);

    if (!ngx_queue_empty(&redis->waiting)) {
        ngx_queue_add(&list, &redis->waiting);
        ngx_queue_init(&redis->waiting);
    }

    while (!ngx_queue_empty(&list)) {
        qu = ngx_queue_head(&list);
        ngx_queue_remove(qu);

        q = ngx_queue_data(qu, ngx_oci_redis_query_t, queue);
        ngx_oci_redis_finish(q, NGX_ERROR);
    }
}


static ngx_int_t
ngx_oci_redis_connect(ngx_oci_redis_conn_t *c, ngx_msec_t timeout)
{
    ngx_int_t               rc;
    ngx_connection_t       *pc;
    ngx_oci_redis_t        *redis;
    ngx_oci_redis_query_t  *q;

    redis = c->redis;

    /* a connection attempt, the first or after one was lost */

    if (redis->stats && *redis->stats) {
        (*redis->stats)->connects++;
    }

    c->log.action = "connecting to redis";

    ngx_memzero(&c->peer, sizeof(ngx_peer_connection_t));

    c->peer.sockaddr = c->addr.sockaddr;
    c->peer.socklen = c->addr.socklen;
    c->peer.name = &c->addr.name;
    c->peer.get = ngx_event_get_peer;
    c->peer.log = &c->log;
    c->peer.log_error = NGX_ERROR_ERR;
    c->peer.so_keepalive = 1;

    c->reader = redisReaderCreate();
    if (c->reader == NULL) {
        return NGX_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, &c->log, 0,
                   "oci redis connect to %V", &c->addr.name);

    rc = ngx_event_connect_peer(&c->peer);

    if (rc != NGX_OK && rc != NGX_AGAIN) {

        /* logged; the queries about to be added fail on the next turn */

        c->peer.connection = NULL;
        redisReaderFree(c->reader);
        c->reader = NULL;

        ngx_oci_redis_backoff(&c->retry_at, &c->backoff);
        ngx_post_event(&c->fail, &ngx_posted_events);

        return NGX_OK;
    }

    pc = c->peer.connection;

    pc->data = c;
    pc->read->handler = ngx_oci_redis_read_handler;
    pc->write->handler = ngx_oci_redis_write_handler;

    if (redis->nsetup && !c->sentinel) {
        q = ngx_oci_redis_node(redis, redis->nsetup, 0, timeout, &c->log);

        if (q == NULL
            || ngx_oci_redis_append(c, redis->setup.data, redis->setup.len,
                                    &c->log)
               != NGX_OK)
        {
            if (q) {
                ngx_free(q);
            }

            ngx_oci_redis_close(c);
            return NGX_ERROR;
        }

        q->setup = 1;
        q->conn = c;
        ngx_queue_insert_tail(&c->queries, &q->queue);
    }

    if (rc == NGX_OK) {
        c->connected = 1;
        c->log.action = "talking to redis";
    }

    /* otherwise the first write event tells how connect() ended */

    return NGX_OK;
}


static ngx_oci_redis_query_t *
ngx_oci_redis_node(ngx_oci_redis_t *redis, ngx_uint_t n, size_t len,
    ngx_msec_t timeout, ngx_log_t *log)
{
    ngx_oci_redis_query_t  *q;

    /* one more reply: ASKING's */

    q = ngx_calloc(sizeof(ngx_oci_redis_query_t)
                   + (n + 1) * sizeof(redisReply *) + len, log);
    if (q == NULL) {
        return NULL;
    }

    q->redis = redis;
    q->timeout = timeout;
    q->deadline = ngx_current_msec + timeout;
    q->nreplies = n;
    q->replies = (redisReply **) (q + 1);
    q->cmd = (u_char *) (q->replies + n + 1);
    q->slot = -1;

    return q;
}


static ngx_int_t
ngx_oci_redis_append(ngx_oci_redis_conn_t *c, u_char *data, size_t len,
    ngx_log_t *log)
{
    u_char  *out;
    size_t   size, pending;

    if (c->out_size - c->out_len < len) {

        pending = c->out_len - c->out_pos;

        if (c->out_pos) {
            ngx_memmove(c->out, c->out + c->out_pos, pending);
            c->out_pos = 0;
            c->out_len = pending;
        }

        if (c->out_size - c->out_len < len) {
            size = ngx_max(c->out_size * 2, NGX_OCI_REDIS_OUT_MIN);

            while (size - pending < len) {
                size *= 2;
            }

            out = ngx_alloc(size, log);
            if (out == NULL) {
                return NGX_ERROR;
            }

            if (c->out) {
                ngx_memcpy(out, c->out, pending);
                ngx_free(c->out);
            }

            c->out = out;
            c->out_size = size;
        }
    }

    ngx_memcpy(c->out + c->out_len, data, len);
    c->out_len += len;

    return NGX_OK;
}


/*
 * One read timer serves the whole FIFO: it is set for the earliest
 * deadline, and when it fires early (that query was answered) it is set
 * again for the next one.
 */

static void
ngx_oci_redis_arm(ngx_oci_redis_conn_t *c, ngx_msec_t deadline)
{
    ngx_event_t     *rev;
    ngx_msec_int_t   left;

    rev = c->peer.connection->read;

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
    ssize_t                n;
    ngx_connection_t      *pc;
    ngx_oci_redis_conn_t  *c;

    pc = wev->data;
    c = pc->data;

    if (!c->connected) {
        if (ngx_oci_redis_test_connect(pc) != NGX_OK) {
            ngx_oci_redis_close(c);
            return;
        }

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                       "oci redis connected to %V", &c->addr.name);

        c->connected = 1;
        c->log.action = "talking to redis";
    }

    while (c->out_pos < c->out_len) {

        n = pc->send(pc, c->out + c->out_pos, c->out_len - c->out_pos);

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                       "oci redis send: %z of %uz",
                       n, c->out_len - c->out_pos);

        if (n == NGX_ERROR) {
            ngx_oci_redis_close(c);
            return;
        }

        if (n == NGX_AGAIN || n == 0) {
            break;
        }

        c->out_pos += n;
    }

    if (c->out_pos == c->out_len) {
        c->out_pos = 0;
        c->out_len = 0;

        /* a burst does not keep a large buffer for the worker's life */

        if (c->out_size > NGX_OCI_REDIS_OUT_KEEP) {
            ngx_free(c->out);
            c->out = NULL;
            c->out_size = 0;
        }
    }

    if (ngx_handle_write_event(wev, 0) != NGX_OK) {
        ngx_oci_redis_close(c);
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
    u_char                 buf[NGX_OCI_REDIS_READ_SIZE];
    ssize_t                n;
    ngx_connection_t      *pc;
    ngx_oci_redis_conn_t  *c;

    pc = rev->data;
    c = pc->data;

    if (pc->close) {

        /* shutting down: idle, or worker_shutdown_timeout expired */

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                       "oci redis connection closed on shutdown");

        ngx_oci_redis_close(c);
        return;
    }

    if (rev->timedout) {
        rev->timedout = 0;
        ngx_oci_redis_expire(c);
        return;
    }

    for ( ;; ) {

        n = pc->recv(pc, buf, NGX_OCI_REDIS_READ_SIZE);

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                       "oci redis recv: %z", n);

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == 0) {
            if (ngx_queue_empty(&c->queries)) {
                ngx_log_error(NGX_LOG_INFO, pc->log, 0,
                              "redis closed the idle connection");

            } else {
                ngx_log_error(NGX_LOG_ERR, pc->log, 0,
                              "redis closed the connection with queries "
                              "pending");
            }

            ngx_oci_redis_close(c);
            return;
        }

        if (n == NGX_ERROR) {
            ngx_oci_redis_close(c);
            return;
        }

        if (redisReaderFeed(c->reader, (const char *) buf, n) != REDIS_OK) {
            ngx_log_error(NGX_LOG_ERR, pc->log, 0,
                          "redis reader failed: %s", c->reader->errstr);
            ngx_oci_redis_close(c);
            return;
        }

        if (ngx_oci_redis_dispatch(c) != NGX_OK) {
            return;
        }
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_oci_redis_close(c);
    }
}


/*
 * Hands the parsed replies to the queries at the head of the FIFO.
 * Returns NGX_OK to read on, anything else when the connection is gone.
 * The handlers called here cannot close this connection: a query they
 * make is only queued, and a query sent on after a redirection is only
 * appended.
 */

static ngx_int_t
ngx_oci_redis_dispatch(ngx_oci_redis_conn_t *c)
{
    void                   *reply;
    ngx_log_t              *log;
    ngx_oci_redis_query_t  *q;

    log = &c->log;

    for ( ;; ) {

        if (redisReaderGetReply(c->reader, &reply) != REDIS_OK) {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "redis sent an invalid reply: %s",
                          c->reader->errstr);
            ngx_oci_redis_close(c);
            return NGX_ERROR;
        }

        if (reply == NULL) {
            return NGX_OK;
        }

        if (ngx_queue_empty(&c->queries)) {
            freeReplyObject(reply);

            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "redis sent a reply no query waits for");
            ngx_oci_redis_close(c);
            return NGX_ERROR;
        }

        q = ngx_queue_data(ngx_queue_head(&c->queries),
                           ngx_oci_redis_query_t, queue);

        ngx_log_debug4(NGX_LOG_DEBUG_HTTP, log, 0,
                       "oci redis reply %ui/%ui for %p%s",
                       q->received + 1, q->nreplies, q,
                       q->setup ? " (setup)"
                       : (q->handler || q->internal) ? ""
                       : " (detached, dropped)");

        if (q->setup) {
            if (ngx_oci_redis_setup_reply(c, q, reply) != NGX_OK) {
                ngx_oci_redis_close(c);
                return NGX_ERROR;
            }

        } else if (q->skip) {

            /* ASKING's "+OK" */

            q->skip--;
            freeReplyObject(reply);
            continue;

        } else if (q->handler == NULL && q->internal == NULL) {
            freeReplyObject(reply);

        } else {
            q->replies[q->received] = reply;
        }

        if (++q->received < q->nreplies) {
            continue;
        }

        ngx_queue_remove(&q->queue);

        if (q->setup) {

            /* connected and accepted: connect() may be tried at once */

            c->backoff = 0;
        }

        if (q->handler == NULL || ngx_oci_redis_redirected(c, q) != NGX_OK) {
            ngx_oci_redis_finish(q, NGX_OK);
        }

        if (ngx_queue_empty(&c->queries)
            && ngx_oci_redis_idle(c) != NGX_OK)
        {
            return NGX_DONE;
        }
    }
}


/*
 * A query some node did not apply because it is not the one to ask:
 * MOVED or ASK (cluster), READONLY (a demoted master).  Sent on, or back
 * to routing, with NGX_OK; NGX_DECLINED: the handler gets the replies.
 */

static ngx_int_t
ngx_oci_redis_redirected(ngx_oci_redis_conn_t *c, ngx_oci_redis_query_t *q)
{
    int                    kind;
    u_char                *addr, *colon;
    size_t                 len;
    unsigned               slot;
    ngx_uint_t             i;
    redisReply            *r;
    ngx_oci_redis_t       *redis;
    ngx_oci_redis_conn_t  *to;

    redis = c->redis;
    kind = 0;
    addr = NULL;
    len = 0;
    slot = 0;
    to = NULL;

    for (i = 0; i < q->nreplies; i++) {
        r = q->replies[i];

        if (r == NULL || r->type != REDIS_REPLY_ERROR) {
            continue;
        }

        kind = ngx_oci_redis_redirect((u_char *) r->str, r->len, &slot,
                                      (const u_char **) &addr, &len);
        if (kind) {
            break;
        }

        if (r->len >= 8 && ngx_strncmp(r->str, "READONLY", 8) == 0
            && redis->mode == NGX_OCI_REDIS_SENTINEL)
        {
            kind = NGX_OCI_REDIS_READONLY;
            break;
        }
    }

    if (kind == 0) {
        return NGX_DECLINED;
    }

    if (q->timedout || q->redirects++ >= NGX_OCI_REDIS_REDIRECTS) {
        ngx_log_error(NGX_LOG_ERR, &c->log, 0,
                      "redis redirected a query too often");
        return NGX_DECLINED;
    }

    if (kind != NGX_OCI_REDIS_READONLY) {
        if (redis->mode != NGX_OCI_REDIS_CLUSTER) {
            return NGX_DECLINED;
        }

        for (colon = addr + len - 1; *colon != ':'; colon--) {
            /* void */
        }

        to = ngx_oci_redis_conn_get(redis, addr, colon - addr, colon + 1,
                                    addr + len - colon - 1);
        if (to == NULL) {
            return NGX_DECLINED;
        }
    }

    ngx_oci_redis_drop_replies(q);

    q->asking = (kind == NGX_OCI_REDIS_ASK);

    if (kind == NGX_OCI_REDIS_READONLY) {
        ngx_log_error(NGX_LOG_WARN, &c->log, 0,
                      "redis node is a replica now, asking the sentinels "
                      "for the master");

        if (redis->master == c) {
            redis->master = NULL;
        }

        ngx_oci_redis_wait(redis, q);
        return NGX_OK;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, &c->log, 0,
                   "oci redis query %p: %s to %V", q,
                   q->asking ? "ASK" : "MOVED", &to->addr.name);

    if (kind == NGX_OCI_REDIS_MOVED) {
        if (redis->slots) {
            redis->slots[slot] = to;
        }

        /* the other slots of that node have likely moved too */

        if (!redis->discovering
            && (ngx_msec_int_t) (ngx_current_msec - redis->refresh_at) >= 0)
        {
            redis->refresh_at = ngx_current_msec + NGX_OCI_REDIS_REFRESH;
            ngx_oci_redis_discover(redis);
        }
    }

    if (ngx_oci_redis_send(to, q) != NGX_OK) {
        ngx_oci_redis_finish(q, NGX_ERROR);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_oci_redis_setup_reply(ngx_oci_redis_conn_t *c, ngx_oci_redis_query_t *q,
    redisReply *reply)
{
    char  *name;

    name = (c->redis->password.len && q->received == 0) ? "AUTH" : "SELECT";

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, &c->log, 0,
                      "redis refused %s: \"%*s\"",
                      name, (size_t) reply->len, reply->str);
        freeReplyObject(reply);
        return NGX_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, &c->log, 0,
                   "oci redis %s accepted", name);

    freeReplyObject(reply);

    return NGX_OK;
}


static ngx_int_t
ngx_oci_redis_idle(ngx_oci_redis_conn_t *c)
{
    ngx_connection_t  *pc;

    pc = c->peer.connection;

    if (pc == NULL) {
        return NGX_DONE;
    }

    if (pc->read->timer_set) {
        ngx_del_timer(pc->read);
    }

    /* ngx_close_idle_connections() ran once, when the shutdown began */

    if (ngx_exiting || ngx_terminate) {
        ngx_oci_redis_close(c);
        return NGX_DONE;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, pc->log, 0, "oci redis idle");

    pc->idle = 1;

    return NGX_OK;
}


/*
 * The read timer: queries past their deadline time out one by one; the
 * connection is reset only when it is stuck (see the top of this file).
 */

static void
ngx_oci_redis_expire(ngx_oci_redis_conn_t *c)
{
    ngx_uint_t              expired, total, stuck;
    ngx_queue_t            *qu;
    ngx_msec_int_t          left, next;
    ngx_oci_redis_query_t  *q;

    expired = 0;
    total = 0;
    stuck = 0;
    next = 0;

    for (qu = ngx_queue_head(&c->queries);
         qu != ngx_queue_sentinel(&c->queries);
         qu = ngx_queue_next(qu))
    {
        q = ngx_queue_data(qu, ngx_oci_redis_query_t, queue);

        total++;
        left = (ngx_msec_int_t) (q->deadline - ngx_current_msec);

        if (!q->timedout && left <= 0) {
            q->timedout = 1;
            expired++;

            if (q->setup || !c->connected) {
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
        ngx_log_error(NGX_LOG_ERR, &c->log, NGX_ETIMEDOUT,
                      "redis timed out: %ui of %ui pending queries not "
                      "answered in time, closing the connection",
                      stuck, total);

        ngx_oci_redis_close(c);
        return;
    }

    if (expired) {
        ngx_log_error(NGX_LOG_ERR, &c->log, NGX_ETIMEDOUT,
                      "redis timed out: %ui of %ui pending queries not "
                      "answered in time, their answers will be dropped",
                      expired, total);

        /*
         * The handlers may only queue new queries, which are posted for
         * routing: the walk sees each expired entry once.
         */

        for (qu = ngx_queue_head(&c->queries);
             qu != ngx_queue_sentinel(&c->queries);
             qu = ngx_queue_next(qu))
        {
            q = ngx_queue_data(qu, ngx_oci_redis_query_t, queue);

            if (q->timedout && (q->handler || q->internal)) {
                ngx_oci_redis_time_out(q);
            }
        }
    }

    if (next && c->peer.connection) {
        ngx_oci_redis_arm(c, ngx_current_msec + (ngx_msec_t) next);
    }
}


/* the handler learns of the timeout now; the replies will be dropped */

static void
ngx_oci_redis_time_out(ngx_oci_redis_query_t *q)
{
    void                       *data;
    ngx_connection_t           *c;
    ngx_http_request_t         *r;
    ngx_oci_redis_handler_pt    handler;
    ngx_oci_redis_internal_pt   internal;

    if (q->internal) {
        internal = q->internal;
        q->internal = NULL;
        internal(q->redis, q->conn, NGX_OCI_REDIS_TIMEOUT, NULL);
        return;
    }

    r = q->request;
    handler = q->handler;
    data = q->data;

    if (q->cleanup) {
        q->cleanup->handler = NULL;
    }

    ngx_oci_redis_detach(q);

    if (r == NULL) {
        handler(NULL, data, NGX_OCI_REDIS_TIMEOUT, NULL, 0);
        return;
    }

    c = r->connection;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "oci redis query %p timed out", q);

    ngx_oci_redis_count(q, NGX_OCI_REDIS_TIMEOUT);

    handler(r, data, NGX_OCI_REDIS_TIMEOUT, NULL, 0);

    ngx_http_run_posted_requests(c);
}


static void
ngx_oci_redis_fail_handler(ngx_event_t *ev)
{
    ngx_oci_redis_conn_t  *c;

    c = ev->data;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "oci redis connect failed, failing queries");

    ngx_oci_redis_close(c);
}


/*
 * Closes the connection and fails every query on it, or sends it back to
 * routing when it was never written (the connection was not up yet) and
 * another node may take it.  The FIFO is emptied first, so a handler
 * that queries again starts a new connection instead of finding this one
 * half torn down.
 */

static void
ngx_oci_redis_close(ngx_oci_redis_conn_t *c)
{
    ngx_uint_t              sent;
    ngx_queue_t             pending, *qu;
    ngx_oci_redis_t        *redis;
    ngx_oci_redis_query_t  *q;

    redis = c->redis;

    ngx_queue_init(&pending);

    if (!ngx_queue_empty(&c->queries)) {
        ngx_queue_add(&pending, &c->queries);
        ngx_queue_init(&c->queries);
    }

    if (c->fail.posted) {
        ngx_delete_posted_event(&c->fail);
    }

    if (c->peer.connection) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, &c->log, 0,
                       "oci redis close connection to %V", &c->addr.name);

        ngx_close_connection(c->peer.connection);
        c->peer.connection = NULL;
    }

    sent = c->connected;

    if (!c->connected && (ngx_msec_int_t) (c->retry_at - ngx_current_msec)
                         <= 0)
    {
        ngx_oci_redis_backoff(&c->retry_at, &c->backoff);
    }

    c->connected = 0;

    if (c->reader) {
        redisReaderFree(c->reader);
        c->reader = NULL;
    }

    c->out_pos = 0;
    c->out_len = 0;

    if (redis->mode == NGX_OCI_REDIS_SENTINEL && redis->master == c) {
        redis->master = NULL;
    }

    while (!ngx_queue_empty(&pending)) {
        qu = ngx_queue_head(&pending);
        ngx_queue_remove(qu);

        q = ngx_queue_data(qu, ngx_oci_redis_query_t, queue);

        if (!sent && !q->setup && !q->timedout && q->handler
            && redis->mode != NGX_OCI_REDIS_SINGLE)
        {
            ngx_oci_redis_drop_replies(q);
            ngx_oci_redis_wait(redis, q);
            continue;
        }

        ngx_oci_redis_finish(q, q->timedout ? NGX_OCI_REDIS_TIMEOUT
                                            : NGX_ERROR);
    }
}


static void
ngx_oci_redis_finish(ngx_oci_redis_query_t *q, ngx_int_t rc)
{
    ngx_connection_t           *c;
    ngx_http_request_t         *r;
    ngx_oci_redis_internal_pt   internal;

    if (q->cleanup) {
        q->cleanup->handler = NULL;
        q->cleanup = NULL;
    }

    ngx_oci_redis_count(q, rc);

    if (q->internal) {
        internal = q->internal;
        q->internal = NULL;

        internal(q->redis, q->conn, rc, rc == NGX_OK ? q->replies[0] : NULL);

    } else if (q->handler && q->request == NULL) {
        q->handler(NULL, q->data, rc, rc == NGX_OK ? q->replies : NULL,
                   rc == NGX_OK ? q->nreplies : 0);

    } else if (q->handler) {
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
ngx_oci_redis_drop_replies(ngx_oci_redis_query_t *q)
{
    ngx_uint_t  i;

    for (i = 0; i < q->received && i < q->nreplies; i++) {
        if (q->replies[i]) {
            freeReplyObject(q->replies[i]);
            q->replies[i] = NULL;
        }
    }

    q->received = 0;
}


/*
 * A request's query is counted once, when its handler learns how it
 * ended (a late answer to a timed-out query is not counted again; the
 * client's own discovery queries are not counted); its latency is
 * measured from when it was queued, on nginx's cached clock.
 */

static void
ngx_oci_redis_count(ngx_oci_redis_query_t *q, ngx_int_t rc)
{
    ngx_uint_t              i;
    ngx_msec_t              ms;
    ngx_oci_redis_stats_t  *st;

    static const ngx_msec_t  bounds[] = { NGX_OCI_REDIS_LATENCY_BOUNDS };

    st = q->stats;
    if (st == NULL) {
        return;
    }

    q->stats = NULL;

    st->queries++;

    if (rc == NGX_OCI_REDIS_TIMEOUT) {
        st->timeouts++;

    } else if (rc != NGX_OK) {
        st->errors++;
    }

    ms = ngx_current_msec - (q->deadline - q->timeout);

    for (i = 0; i < NGX_OCI_REDIS_LATENCY_BUCKETS - 1; i++) {
        if (ms <= bounds[i]) {
            break;
        }
    }

    st->latency[i]++;
    st->latency_msec += ms;
}


static void
ngx_oci_redis_free(ngx_oci_redis_query_t *q)
{
    if (q->cleanup) {
        q->cleanup->handler = NULL;
    }

    ngx_oci_redis_drop_replies(q);

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

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, &q->redis->log, 0,
                   "oci redis query %p detached", q);

    ngx_oci_redis_drop_replies(q);

    q->request = NULL;
    q->handler = NULL;
    q->data = NULL;
    q->cleanup = NULL;
}


static u_char *
ngx_oci_redis_log_conn(ngx_log_t *log, u_char *buf, size_t len)
{
    u_char                *p;
    ngx_oci_redis_conn_t  *c;

    p = buf;

    if (log->action) {
        p = ngx_snprintf(buf, len, " while %s", log->action);
        len -= p - buf;
    }

    c = log->data;

    return ngx_snprintf(p, len, ", redis%s: %V",
                        c->sentinel ? " sentinel" : "", &c->addr.name);
}


static u_char *
ngx_oci_redis_log_endpoint(ngx_log_t *log, u_char *buf, size_t len)
{
    ngx_addr_t       *seed;
    ngx_oci_redis_t  *redis;

    redis = log->data;
    seed = redis->seeds.elts;

    if (redis->mode == NGX_OCI_REDIS_SENTINEL) {
        return ngx_snprintf(buf, len, ", redis master \"%V\"",
                            &redis->master_name);
    }

    return ngx_snprintf(buf, len, ", redis%s: %V",
                        redis->mode == NGX_OCI_REDIS_CLUSTER
                        ? " cluster" : "", &seed[0].name);
}
