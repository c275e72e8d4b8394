
/*
 * Registry events in a Redis Stream (ngx_oci_events.h).
 *
 * One XADD per event, "MAXLEN = n" so the stream never holds more than
 * n entries: the exact form, which costs Redis a little more than "~"
 * but makes the bound the one configured. The entry's fields are the
 * action and the repository, for consumers that filter without parsing,
 * and the envelope itself. The query belongs to no request
 * (ngx_oci_redis_query_unowned()): its answer is read after the request
 * is gone, so a failure is seen however fast the request ends.
 */


#include "ngx_oci_events.h"
#include "ngx_oci_index.h"

#include <openssl/rand.h>


static ngx_int_t ngx_oci_events_timestamp(ngx_http_request_t *r,
    ngx_oci_event_str_t *out);
static void ngx_oci_events_added(ngx_http_request_t *r, void *data,
    ngx_int_t rc, redisReply **replies, ngx_uint_t n);


void
ngx_oci_events_record(ngx_http_request_t *r, ngx_oci_events_conf_t *ec,
    ngx_oci_redis_conf_t *redis, ngx_oci_event_t *ev)
{
    char                 *json;
    u_char               *p, random[16];
    ngx_str_t            *argv;
    ngx_uint_t            i;
    ngx_array_t          *cmds, *cmd;
    static ngx_str_t      fields[] = {
        ngx_string("XADD"), ngx_null_string, ngx_string("MAXLEN"),
        ngx_string("="), ngx_null_string, ngx_string("*"),
        ngx_string("action"), ngx_null_string,
        ngx_string("repository"), ngx_null_string,
        ngx_string("event"), ngx_null_string
    };

    if (!ec->enable || redis->redis == NULL
        || redis->redis == NGX_CONF_UNSET_PTR || ec->log == NULL)
    {
        return;
    }

    p = ngx_pnalloc(r->pool, 36);
    if (p == NULL || RAND_bytes(random, sizeof(random)) != 1) {
        goto lost;
    }

    ngx_oci_event_uuid(random, (char *) p);
    ev->id.data = p;
    ev->id.len = 36;

    if (ngx_oci_events_timestamp(r, &ev->timestamp) != NGX_OK) {
        goto lost;
    }

    ev->addr.data = r->connection->addr_text.data;
    ev->addr.len = r->connection->addr_text.len;
    ev->method.data = r->method_name.data;
    ev->method.len = r->method_name.len;

    if (r->headers_in.server.len) {
        ev->host.data = r->headers_in.server.data;
        ev->host.len = r->headers_in.server.len;
    }

    if (r->headers_in.user_agent) {
        ev->useragent.data = r->headers_in.user_agent->value.data;
        ev->useragent.len = r->headers_in.user_agent->value.len;
    }

    if (ev->actor.len == 0 && ngx_http_auth_basic_user(r) == NGX_OK) {
        ev->actor.data = r->headers_in.user.data;
        ev->actor.len = r->headers_in.user.len;
    }

    if (ev->source_addr.len == 0) {
        ev->source_addr.data = ngx_cycle->hostname.data;
        ev->source_addr.len = ngx_cycle->hostname.len;
    }

    json = ngx_oci_event_json(ev);
    if (json == NULL) {
        goto lost;
    }

    cmds = ngx_array_create(r->pool, 1, sizeof(ngx_array_t));
    cmd = cmds ? ngx_array_push(cmds) : NULL;

    if (cmd == NULL
        || ngx_array_init(cmd, r->pool, 12, sizeof(ngx_str_t)) != NGX_OK)
    {
        free(json);
        goto lost;
    }

    argv = ngx_array_push_n(cmd, 12);
    for (i = 0; i < 12; i++) {
        argv[i] = fields[i];
    }

    argv[1].len = redis->prefix.len + sizeof(NGX_OCI_EVENT_STREAM) - 1;
    argv[1].data = ngx_pnalloc(r->pool, argv[1].len);
    argv[4].data = ngx_pnalloc(r->pool, NGX_ATOMIC_T_LEN);
    argv[11].len = ngx_strlen(json);
    argv[11].data = ngx_pnalloc(r->pool, argv[11].len);

    if (argv[1].data == NULL || argv[4].data == NULL
        || argv[11].data == NULL)
    {
        free(json);
        goto lost;
    }

    ngx_memcpy(ngx_cpymem(argv[1].data, redis->prefix.data,
                          redis->prefix.len),
               NGX_OCI_EVENT_STREAM, sizeof(NGX_OCI_EVENT_STREAM) - 1);
    argv[4].len = ngx_sprintf(argv[4].data, "%ui", ec->maxlen)
                  - argv[4].data;
    ngx_memcpy(argv[11].data, json, argv[11].len);
    free(json);

    argv[7].data = (u_char *) ev->action.data;
    argv[7].len = ev->action.len;
    argv[9].data = (u_char *) ev->repository.data;
    argv[9].len = ev->repository.len;

    if (ngx_oci_redis_query_unowned(redis, cmds, ec->log,
                                    ngx_oci_events_added, ec)
        == NGX_OK)
    {
        return;
    }

lost:

    ngx_oci_events_lost(ec, r->connection->log, "could not send it",
                        sizeof("could not send it") - 1);
}


/* UTC, to the millisecond: 2006-01-02T15:04:05.000Z */

static ngx_int_t
ngx_oci_events_timestamp(ngx_http_request_t *r, ngx_oci_event_str_t *out)
{
    u_char      *p;
    ngx_tm_t     tm;
    ngx_time_t  *tp;

    p = ngx_pnalloc(r->pool, sizeof("2006-01-02T15:04:05.000Z") - 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    tp = ngx_timeofday();
    ngx_gmtime(tp->sec, &tm);

    out->data = p;
    out->len = ngx_sprintf(p, "%4d-%02d-%02dT%02d:%02d:%02d.%03MZ",
                           tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                           tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec,
                           tp->msec)
               - p;

    return NGX_OK;
}


/* r is NULL: the query is nobody's; data is the location's events conf */

static void
ngx_oci_events_added(ngx_http_request_t *r, void *data, ngx_int_t rc,
    redisReply **replies, ngx_uint_t n)
{
    ngx_oci_events_conf_t  *ec = data;

    if (rc == NGX_OCI_REDIS_TIMEOUT) {
        ngx_oci_events_lost(ec, ec->log, "redis timed out",
                            sizeof("redis timed out") - 1);

    } else if (rc != NGX_OK || n != 1) {
        ngx_oci_events_lost(ec, ec->log, "no redis connection",
                            sizeof("no redis connection") - 1);

    } else if (replies[0]->type == REDIS_REPLY_ERROR) {
        ngx_oci_events_lost(ec, ec->log, replies[0]->str, replies[0]->len);

    } else if (ec->redis) {
        ngx_oci_index_count_event(ec->redis, 1);
    }
}


void
ngx_oci_events_lost(ngx_oci_events_conf_t *ec, ngx_log_t *log,
    const char *why, size_t len)
{
    if (ec->redis) {
        ngx_oci_index_count_event(ec->redis, 0);
    }

    ngx_log_error(NGX_LOG_WARN, log, 0,
                  "oci: event not recorded in the stream: %*s", len, why);
}
