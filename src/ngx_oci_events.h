
/*
 * Registry events in a Redis Stream (docs/events.md): each push, delete
 * and, if asked, pull is added to "<prefix>events" with XADD on the
 * location's Redis connection. Built on the Redis client; the envelope
 * is ngx_oci_event.h's, shared with oci-admin.
 *
 * Recording never holds the request: the XADD goes out with the next
 * write of the connection and its answer is read when it comes, after
 * the request may be gone. An event that could not be recorded (no
 * connection, timeout, a refusal) is logged and counted by
 * ngx_oci_events_lost().
 */


#ifndef _NGX_OCI_EVENTS_H_INCLUDED_
#define _NGX_OCI_EVENTS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_oci_redis.h"
#include "ngx_oci_event.h"


/*
 *     oci_events on | off;
 *     oci_events_maxlen number;
 *     oci_events_pulls on | off;
 */
typedef struct {
    ngx_flag_t                enable;
    ngx_uint_t                maxlen;
    ngx_flag_t                pulls;
    ngx_log_t                *log;          /* the location's error_log */
    ngx_oci_redis_conf_t     *redis;        /* the location's, to count */
} ngx_oci_events_conf_t;


/*
 * Adds the event: id, timestamp, the request's fields and the actor (a
 * Basic user, unless ev->actor is set) are filled in here. Never fails
 * the caller: a failure is ngx_oci_events_lost()'s.
 */
void ngx_oci_events_record(ngx_http_request_t *r, ngx_oci_events_conf_t *ec,
    ngx_oci_redis_conf_t *redis, ngx_oci_event_t *ev);

/*
 * An event that was not recorded: logged at warn with a stable message,
 * "oci: event not recorded in the stream: <why>", and counted
 * (oci_events_failed_total).
 */
void ngx_oci_events_lost(ngx_oci_events_conf_t *ec, ngx_log_t *log,
    const char *why, size_t len);


#endif /* _NGX_OCI_EVENTS_H_INCLUDED_ */
