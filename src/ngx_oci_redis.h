
/*
 * A non-blocking Redis client on nginx's event loop.
 *
 * The socket belongs to nginx: connect, reads, writes and timers are
 * nginx events.  hiredis only formats commands and parses replies (RESP),
 * so the blocking parts of hiredis are never used.
 *
 * Each "oci_redis" directive is one endpoint.  Each worker keeps at most
 * one connection to it, opened on the first query and kept alive; the
 * queries of all requests are pipelined on that connection and answered
 * in the order they were sent.
 *
 * Directives, all handled by ngx_oci_redis_directive(); the command table
 * gives each the offset of the ngx_oci_redis_conf_t in the location
 * configuration:
 *
 *     oci_redis host[:port] | unix:/path [password=secret] [db=n] | off;
 *     oci_redis_timeout 1s;
 *     oci_redis_prefix oci:;
 *
 * "oci_redis" is one endpoint per directive: locations that inherit it
 * share its connection, two directives naming the same address make two.
 */


#ifndef _NGX_OCI_REDIS_H_INCLUDED_
#define _NGX_OCI_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>


/* the "rc" a handler gets when its query was not answered in time */
#define NGX_OCI_REDIS_TIMEOUT  NGX_HTTP_GATEWAY_TIME_OUT


/* one Redis endpoint and its per-worker connection state */
typedef struct ngx_oci_redis_s  ngx_oci_redis_t;


/*
 * The upper bounds, in milliseconds, of the buckets of the query
 * latency histogram; a last bucket takes what is slower.
 */
#define NGX_OCI_REDIS_LATENCY_BOUNDS  1, 2, 5, 10, 25, 50, 100, 250, 500, 1000
#define NGX_OCI_REDIS_LATENCY_BUCKETS  11


/*
 * What one process counts of its Redis traffic, in its own slot of the
 * metrics zone (docs/operations.md#metrics): only that process writes
 * it, so plain increments do. The events of the index are counted here
 * too, as they travel on the same connection.
 */
typedef struct {
    ngx_atomic_t              queries;      /* answered, failed or late */
    ngx_atomic_t              errors;       /* NGX_ERROR */
    ngx_atomic_t              timeouts;     /* NGX_OCI_REDIS_TIMEOUT */
    ngx_atomic_t              connects;     /* connections opened */
    ngx_atomic_t              latency[NGX_OCI_REDIS_LATENCY_BUCKETS];
    ngx_atomic_t              latency_msec; /* their sum */
    ngx_atomic_t              events_recorded;
    ngx_atomic_t              events_failed;
} ngx_oci_redis_stats_t;


typedef struct {
    ngx_oci_redis_t          *redis;       /* NULL: not configured, "off" */
    ngx_msec_t                timeout;
    ngx_str_t                 prefix;

    /* where this process counts: *stats, NULL while metrics are off */
    ngx_oci_redis_stats_t   **stats;
} ngx_oci_redis_conf_t;


/*
 * Called once per query with:
 *
 *   NGX_OK                 replies[0 .. n - 1], one per command, in order;
 *                          a command Redis refused is a REDIS_REPLY_ERROR
 *                          reply, not a failure;
 *   NGX_ERROR              no connection, connection lost, protocol error,
 *                          or the connection was reset because it was
 *                          stuck (below);
 *   NGX_OCI_REDIS_TIMEOUT  this query was not answered within
 *                          "oci_redis_timeout".
 *
 * Timeouts are per query: a query out of time gets NGX_OCI_REDIS_TIMEOUT
 * at its deadline, alone; the connection stays up, and the query's
 * replies, when they come, are read and dropped, so the queries sent
 * after it on the same connection are still answered.  The connection is
 * reset (and every query on it fails with NGX_ERROR, or
 * NGX_OCI_REDIS_TIMEOUT if that query was out of time) only when it is
 * stuck: a timed-out query has still not been answered one more
 * "oci_redis_timeout" after its deadline (twice its timeout after it was
 * sent), or a deadline passed while connecting or during AUTH and SELECT.
 * A command that Redis applies late (a MULTI/EXEC out of time) is still
 * applied: callers treat a timeout as "may or may not have happened".
 *
 * replies is NULL and n is 0 unless rc is NGX_OK.  The replies are freed
 * when the handler returns: it copies what it keeps, or takes a reply by
 * setting replies[i] to NULL and later calls freeReplyObject() on it.
 *
 * The handler always runs from an event handler, never from inside
 * ngx_oci_redis_query(), and ngx_http_run_posted_requests() is run after
 * it.  If the request pool is destroyed first (the client went away), the
 * handler is not called at all; the query's replies are read and dropped.
 */
typedef void (*ngx_oci_redis_handler_pt)(ngx_http_request_t *r, void *data,
    ngx_int_t rc, redisReply **replies, ngx_uint_t n);


char *ngx_oci_redis_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
void ngx_oci_redis_conf_init(ngx_oci_redis_conf_t *rc);
char *ngx_oci_redis_conf_merge(ngx_conf_t *cf, ngx_oci_redis_conf_t *conf,
    ngx_oci_redis_conf_t *prev);

/*
 * Sends the commands of "cmds" (an array of ngx_array_t, each an array of
 * ngx_str_t: the argv of one command) in one write; they reach Redis
 * together, so MULTI ... EXEC in one query is not interleaved with other
 * requests' commands.  Commands that change the connection's state for
 * everyone (SELECT, AUTH, SUBSCRIBE, MONITOR, CLIENT REPLY, QUIT, a WATCH
 * or MULTI left open) must not be sent.
 *
 * Returns NGX_OK, and the handler will be called, or NGX_ERROR, and it
 * will not be.  The caller usually does r->main->count++, returns
 * NGX_DONE, and finalizes the request in the handler.
 */
ngx_int_t ngx_oci_redis_query(ngx_http_request_t *r,
    ngx_oci_redis_conf_t *rc, ngx_array_t *cmds,
    ngx_oci_redis_handler_pt handler, void *data);

/*
 * The same for a query that belongs to no request, so that its answer
 * is seen even after the request that sent it is gone (an event is
 * recorded while the request answers at once): the handler gets r NULL
 * and data, which must live as long as the configuration; errors go to
 * "log", which must too.
 */
ngx_int_t ngx_oci_redis_query_unowned(ngx_oci_redis_conf_t *rc,
    ngx_array_t *cmds, ngx_log_t *log, ngx_oci_redis_handler_pt handler,
    void *data);

#endif /* _NGX_OCI_REDIS_H_INCLUDED_ */
