
/*
 * Registry events, as data (docs/events.md): the envelope of one event,
 * in the notification format of the reference registry (distribution),
 * so that its consumers read ours without a new parser, and the name of
 * the Redis Stream that holds them. Pure: the module, oci-admin, the
 * unit tests and the fuzzer build the same bytes.
 */


#ifndef _NGX_OCI_EVENT_H_INCLUDED_
#define _NGX_OCI_EVENT_H_INCLUDED_


#include <stddef.h>
#include <sys/types.h>


/* the stream: "<prefix>events", one key (any Redis Cluster slot) */
#define NGX_OCI_EVENT_STREAM    "events"

/* the media type of a batch of events, as the reference registry's */
#define NGX_OCI_EVENT_MEDIA_TYPE                                             \
    "application/vnd.docker.distribution.events.v1+json"


/* bytes and their length; data NULL (or len 0): absent */
typedef struct {
    const unsigned char      *data;
    size_t                    len;
} ngx_oci_event_str_t;


typedef struct {
    ngx_oci_event_str_t       id;           /* a UUID */
    ngx_oci_event_str_t       timestamp;    /* RFC 3339 */
    ngx_oci_event_str_t       action;       /* push, pull, delete */

    /* target */
    ngx_oci_event_str_t       media_type;
    ngx_oci_event_str_t       digest;
    off_t                     size;         /* -1: absent */
    ngx_oci_event_str_t       repository;
    ngx_oci_event_str_t       url;
    ngx_oci_event_str_t       tag;
    ngx_oci_event_str_t       artifact_type;
    ngx_oci_event_str_t       subject;      /* the subject's digest */

    /* request */
    ngx_oci_event_str_t       request_id;
    ngx_oci_event_str_t       addr;
    ngx_oci_event_str_t       host;
    ngx_oci_event_str_t       method;
    ngx_oci_event_str_t       useragent;

    /* actor, source */
    ngx_oci_event_str_t       actor;
    ngx_oci_event_str_t       source_addr;
} ngx_oci_event_t;


/*
 * The event as one compact JSON object, NUL-terminated, from malloc()
 * (the caller frees it), or NULL when out of memory. Bytes that are not
 * UTF-8 (a User-Agent may carry any) are written as U+FFFD, so any input
 * gives valid JSON.
 */
char *ngx_oci_event_json(const ngx_oci_event_t *ev);

/* a UUID (version 4) of 16 random bytes: 36 characters into out */
void ngx_oci_event_uuid(const unsigned char random[16], char out[36]);

/* "action" is one of those the stream records */
int ngx_oci_event_action_valid(const char *action, size_t len);


#endif /* _NGX_OCI_EVENT_H_INCLUDED_ */
