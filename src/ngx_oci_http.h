
/*
 * Request plumbing: what every endpoint uses to take a request and
 * answer it. The location configuration and the request context; query
 * arguments and request headers; the request body reader; sending a file
 * through nginx's static path, or a small body; the spec's JSON errors
 * and the filter that writes them; retrying a request from a timer; the
 * $oci_* variables; bearer token authentication in the access phase.
 *
 * Plumbing never calls storage or Redis and knows no endpoint: an
 * endpoint hands it callbacks (a body sink, a hook before the header
 * goes out, a handler to retry). It only opens files to send what an
 * endpoint found in storage, through nginx's open file cache.
 */


#ifndef _NGX_OCI_HTTP_H_INCLUDED_
#define _NGX_OCI_HTTP_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_oci_route.h"
#include "ngx_oci_link.h"
#include "ngx_oci_jwt.h"
#include "ngx_oci_redis.h"
#include "ngx_oci_store.h"
#include "ngx_oci_events.h"


/* the error codes of the distribution spec, indexes into a table */
typedef enum {
    NGX_OCI_ERR_NONE = 0,
    NGX_OCI_ERR_BLOB_UNKNOWN,
    NGX_OCI_ERR_BLOB_UPLOAD_INVALID,
    NGX_OCI_ERR_BLOB_UPLOAD_UNKNOWN,
    NGX_OCI_ERR_DIGEST_INVALID,
    NGX_OCI_ERR_MANIFEST_BLOB_UNKNOWN,
    NGX_OCI_ERR_MANIFEST_INVALID,
    NGX_OCI_ERR_MANIFEST_UNKNOWN,
    NGX_OCI_ERR_NAME_INVALID,
    NGX_OCI_ERR_NAME_UNKNOWN,
    NGX_OCI_ERR_SIZE_INVALID,
    NGX_OCI_ERR_UNAUTHORIZED,
    NGX_OCI_ERR_DENIED,
    NGX_OCI_ERR_UNSUPPORTED,
    NGX_OCI_ERR_TOOMANYREQUESTS,
    NGX_OCI_ERR_PRECONDITION,
    NGX_OCI_ERR_UNKNOWN,
    NGX_OCI_ERR_UNAVAILABLE,
    NGX_OCI_ERR_LAST
} ngx_oci_err_e;


#define NGX_OCI_SUBJECT_ACCEPT    0
#define NGX_OCI_SUBJECT_WARN      1
#define NGX_OCI_SUBJECT_REJECT    2


/* bearer token authentication (ngx_oci_http_token.c) */
typedef struct {
    ngx_str_t                 realm;        /* empty: off */
    ngx_str_t                 service;
    ngx_array_t              *issuers;      /* const char *, NUL-ended */
    ngx_oci_jwt_keys_t       *keys;
    ngx_int_t                 leeway;       /* seconds */

    /* the issuer, an endpoint of its own (ngx_oci_api_token.c) */
    ngx_str_t                 issue;        /* its "iss"; empty: none */
    ngx_oci_jwt_signer_t     *signer;
    ngx_http_complex_value_t *grant;
    ngx_int_t                 expires;      /* seconds */
} ngx_oci_token_conf_t;


/* a token an upstream gave a mirror, kept by the worker */
typedef struct {
    time_t                    expires;      /* 0: a free slot */
    u_char                    scope[320];   /* "repository:<name>:pull" */
    size_t                    scope_len;
    u_char                   *token;        /* "Bearer ...", NUL-ended */
    size_t                    token_len;
} ngx_oci_proxy_token_t;


/* an upstream registry of a mirror location (oci_proxy) */
typedef struct {
    ngx_str_t                 host;         /* its ?ns= and OCI-Namespace */
    ngx_str_t                 uri;          /* the internal location */
    ngx_str_t                 basic;        /* "Basic ..." or empty */
    ngx_flag_t                library;      /* Docker Hub's "library/" */
    ngx_flag_t                is_default;
    ngx_oci_proxy_token_t    *tokens;       /* the worker's, or NULL */
} ngx_oci_proxy_upstream_t;


typedef struct {
    ngx_array_t              *upstreams;    /* NULL: not a mirror */
    ngx_oci_proxy_upstream_t *dflt;         /* when ?ns= is absent */
    ngx_str_t                 follow;       /* oci_proxy_follow */
    time_t                    tag_ttl;
    ngx_msec_t                wait;
    ngx_flag_t                push;
} ngx_oci_proxy_conf_t;


/*
 * What the endpoints count besides requests (ngx_oci_http_metrics.c);
 * each is a counter of the metrics zone, rendered under its own name.
 */
typedef enum {
    NGX_OCI_METRIC_UPLOADS_OPENED = 0,
    NGX_OCI_METRIC_REFERRERS_QUERIES,
    NGX_OCI_METRIC_REFERRERS_CACHE_HITS,
    NGX_OCI_METRIC_REFERRERS_CACHE_MISSES,
    NGX_OCI_METRIC_TAG_LOCK_RETRIES,
    NGX_OCI_METRIC_LAST
} ngx_oci_metric_e;


typedef struct ngx_oci_metrics_slot_s  ngx_oci_metrics_slot_t;
typedef struct ngx_oci_metrics_zone_s  ngx_oci_metrics_zone_t;


/*
 * The metrics of the configuration, one for all its locations: the
 * shared zone (NULL: no "oci_metrics" anywhere, nothing is counted) and
 * the slot this process writes, chosen when it starts.
 */
typedef struct {
    ngx_shm_zone_t           *zone;
    ngx_oci_metrics_zone_t   *sh;           /* in the zone */
    ngx_uint_t                workers;      /* slots per generation */
    ngx_uint_t                reused;       /* the zone of a reload */
    ngx_oci_metrics_slot_t   *slot;         /* NULL: not counting */
    ngx_oci_redis_stats_t    *redis;        /* in the slot, or NULL */
} ngx_oci_metrics_t;


typedef struct {
    ngx_flag_t                enable;
    ngx_str_t                 storage;
    ngx_oci_store_root_t     *root;         /* the worker's descriptor */
    size_t                    max_manifest_size;
    ngx_flag_t                delete;
    ngx_oci_tag_policy_t      tag_policy;   /* oci_immutable_tags */
    ngx_msec_t                upload_timeout;
    ngx_flag_t                check_references;
    ngx_uint_t                tags_page_size;
    ngx_uint_t                subject_policy;
    ngx_uint_t                referrers_page_size;
    ngx_flag_t                referrers_cache;
    ngx_uint_t                catalog_page_size;
    ngx_oci_redis_conf_t      redis;
    ngx_oci_events_conf_t     events;
    ngx_http_complex_value_t *mount_allow;  /* NULL: mounts allowed */
    ngx_thread_pool_t        *thread_pool;  /* NULL: jobs in steps */
    ngx_uint_t                max_uploads;  /* 0: no cap */
    ngx_uint_t                max_uploads_repo;
    ngx_oci_token_conf_t      token;
    ngx_oci_proxy_conf_t      proxy;
    ngx_oci_metrics_t        *metrics;      /* the configuration's */
} ngx_oci_loc_conf_t;


/* consumes request body bytes as they arrive; NGX_OK or an HTTP status */
typedef ngx_int_t (*ngx_oci_sink_pt)(ngx_http_request_t *r, void *data,
    u_char *p, size_t len);

/* runs once, when the response header is about to go out */
typedef void (*ngx_oci_hook_pt)(void *data);

typedef ngx_int_t (*ngx_oci_retry_pt)(ngx_http_request_t *r);


typedef struct ngx_oci_fetch_s  ngx_oci_fetch_t;

/*
 * The upstream's status and headers are in (ngx_oci_http_fetch.c):
 * NGX_OK streams the body to the client (the callback sent the main
 * request's header), NGX_AGAIN gathers it into memory, NGX_DECLINED
 * drops it, NGX_ERROR
 */
typedef ngx_int_t (*ngx_oci_fetch_header_pt)(ngx_http_request_t *r,
    ngx_oci_fetch_t *f);

/* a streamed buffer, before the client gets it: NGX_OK or NGX_ERROR */
typedef ngx_int_t (*ngx_oci_fetch_data_pt)(ngx_http_request_t *r,
    ngx_oci_fetch_t *f, u_char *p, size_t len, ngx_uint_t last);

/* the subrequest is over: the result finalizes the main request */
typedef ngx_int_t (*ngx_oci_fetch_done_pt)(ngx_http_request_t *r,
    ngx_oci_fetch_t *f);


struct ngx_oci_fetch_s {
    ngx_str_t                 uri;          /* of an internal location */
    ngx_str_t                 args;
    ngx_str_t                 authorization;    /* the $oci_proxy_* */
    ngx_str_t                 accept;
    ngx_str_t                 url;
    size_t                    max;          /* the most gathered */
    ngx_uint_t                head;         /* HEAD, not GET */

    ngx_oci_fetch_header_pt   header;
    ngx_oci_fetch_data_pt     data;
    ngx_oci_fetch_done_pt     done;
    void                     *ctx;          /* the endpoint's */

    ngx_http_request_t       *main;
    ngx_http_request_t       *sr;
    ngx_uint_t                status;       /* the subrequest's */
    ngx_buf_t                *body;         /* gathered, or NULL */

    unsigned                  streaming:1;
    unsigned                  gather:1;
    unsigned                  truncated:1;  /* more than max */
    unsigned                  in_file:1;    /* nginx buffered to a file */
    unsigned                  failed:1;
    unsigned                  finished:1;
};


typedef struct {
    ngx_oci_route_t           route;
    ngx_int_t                 route_rc;

    ngx_str_t                 name;         /* route.name as ngx_str_t */
    ngx_str_t                 ref;          /* route.ref as ngx_str_t */
    ngx_oci_store_t           store;        /* this request's storage */
    void                     *endpoint;     /* the endpoint's own state */

    ngx_oci_err_e             err;
    ngx_str_t                 err_message;
    ngx_str_t                 err_detail;   /* raw JSON, or empty */
    ngx_buf_t                *error_body;

    ngx_oci_sink_pt           sink;
    void                     *sink_data;

    ngx_oci_hook_pt           before_header;
    void                     *before_header_data;

    ngx_event_t               retry;
    ngx_uint_t                retries;
    ngx_oci_retry_pt          retry_handler;

    ngx_str_t                 digest;       /* for $oci_digest */
    off_t                     received;     /* body bytes taken */
    ngx_str_t                 mount_from;   /* for $oci_mount_from */

    ngx_str_t                 token_subject;    /* $oci_token_subject */
    ngx_str_t                 token_challenge;  /* sent with a 401 */
    ngx_str_t                 token_message;
    ngx_str_t                 token_detail;

    ngx_oci_fetch_t          *fetch;        /* of a subrequest */
    ngx_oci_fetch_t          *fetching;     /* of the main request */

    ngx_str_t                 scope_type;   /* $oci_token_scope_* */
    ngx_str_t                 scope_name;
    ngx_str_t                 scope_actions;

    unsigned                  routed:1;
    unsigned                  json_error:1;
    unsigned                  json_sent:1;
    unsigned                  mount_checked:1;
    unsigned                  err_elsewhere:1;
} ngx_oci_ctx_t;


extern ngx_module_t  ngx_oci_module;


/* ngx_oci_http_request.c */
ngx_oci_ctx_t *ngx_oci_get_ctx(ngx_http_request_t *r);
ngx_oci_ctx_t *ngx_oci_route_request(ngx_http_request_t *r);
ngx_int_t ngx_oci_arg(ngx_http_request_t *r, const char *name,
    ngx_str_t *value);
ngx_int_t ngx_oci_arg_next(ngx_str_t *args, const char *name,
    ngx_str_t *value);
ngx_int_t ngx_oci_arg_count(ngx_http_request_t *r, ngx_uint_t max,
    ngx_uint_t *n);
ngx_table_elt_t *ngx_oci_header_in(ngx_http_request_t *r, const char *name);
ngx_table_elt_t *ngx_oci_header_find(ngx_list_t *list, const char *name,
    ngx_table_elt_t *after);
ngx_int_t ngx_oci_add_header(ngx_http_request_t *r, const char *name,
    ngx_str_t *value);
ngx_int_t ngx_oci_add_next_link(ngx_http_request_t *r,
    ngx_oci_link_str_t *path, ngx_uint_t npath, ngx_uint_t n,
    ngx_str_t *last, ngx_oci_link_param_t *params, ngx_uint_t nparams);

/* ngx_oci_http_error.c */
ngx_int_t ngx_oci_error(ngx_http_request_t *r, ngx_uint_t status,
    ngx_oci_err_e err, const char *message);
ngx_int_t ngx_oci_error_digest(ngx_http_request_t *r, ngx_uint_t status,
    ngx_oci_err_e err, const char *message, ngx_str_t *digest);
ngx_int_t ngx_oci_error_unavailable(ngx_http_request_t *r,
    const char *retry_after, const char *message);
ngx_int_t ngx_oci_error_too_many(ngx_http_request_t *r,
    const char *retry_after, const char *message);
ngx_int_t ngx_oci_error_storage(ngx_http_request_t *r);
ngx_int_t ngx_oci_error_not_ok(ngx_http_request_t *r, ngx_int_t rc,
    ngx_oci_err_e unknown);
ngx_int_t ngx_oci_error_filter_init(ngx_conf_t *cf);
ngx_str_t *ngx_oci_error_code(ngx_oci_err_e err);

/* ngx_oci_http_body.c */
ngx_int_t ngx_oci_body_filter_init(ngx_conf_t *cf);
ngx_int_t ngx_oci_read_body(ngx_http_request_t *r, ngx_oci_sink_pt sink,
    void *data, ngx_http_client_body_handler_pt done);

/* ngx_oci_http_send.c */
typedef ngx_int_t (*ngx_oci_send_type_pt)(ngx_http_request_t *r,
    ngx_fd_t fd, ngx_str_t *type);

ngx_uint_t ngx_oci_send_cached(ngx_http_request_t *r);
ngx_int_t ngx_oci_send_file(ngx_http_request_t *r, ngx_str_t *path,
    ngx_fd_t fd, ngx_str_t *content_type, ngx_str_t *digest,
    ngx_uint_t ranges);
ngx_int_t ngx_oci_send_cached_typed(ngx_http_request_t *r, ngx_str_t *path,
    ngx_oci_send_type_pt type_of, ngx_str_t *type, ngx_str_t *digest);
ngx_int_t ngx_oci_send_part(ngx_http_request_t *r, ngx_fd_t fd,
    ngx_str_t *path, off_t offset, off_t size, ngx_str_t *content_type);
ngx_int_t ngx_oci_send_empty(ngx_http_request_t *r, ngx_uint_t status);
ngx_int_t ngx_oci_set_etag(ngx_http_request_t *r, ngx_str_t *value);
ngx_int_t ngx_oci_send_body(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *content_type, ngx_buf_t *b);

/* ngx_oci_http_retry.c */
ngx_int_t ngx_oci_fetch(ngx_http_request_t *r, ngx_oci_fetch_t *f);
ngx_int_t ngx_oci_fetch_filter_init(ngx_conf_t *cf);
ngx_table_elt_t *ngx_oci_fetch_header_out(ngx_oci_fetch_t *f,
    const char *name);

ngx_int_t ngx_oci_retry_later(ngx_http_request_t *r,
    ngx_oci_retry_pt handler);
ngx_int_t ngx_oci_retry_in(ngx_http_request_t *r, ngx_oci_retry_pt handler,
    ngx_msec_t delay);

/* ngx_oci_http_wait.c */
void ngx_oci_wait(ngx_http_request_t *r);
void ngx_oci_resume(ngx_http_request_t *r, ngx_oci_retry_pt handler);

/* ngx_oci_http_token.c */
void ngx_oci_token_conf_init(ngx_oci_token_conf_t *tc);
char *ngx_oci_token_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_oci_token_conf_merge(ngx_conf_t *cf, ngx_oci_token_conf_t *conf,
    ngx_oci_token_conf_t *prev, ngx_flag_t enabled);
ngx_int_t ngx_oci_token_init(ngx_conf_t *cf);
ngx_int_t ngx_oci_token_access(ngx_http_request_t *r);

/* ngx_oci_http_metrics.c */
ngx_oci_metrics_t *ngx_oci_metrics_create(ngx_conf_t *cf);
char *ngx_oci_metrics_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_oci_metrics_init(ngx_conf_t *cf, ngx_oci_metrics_t *m);
void ngx_oci_metrics_init_module(ngx_oci_metrics_t *m);
void ngx_oci_metrics_init_process(ngx_cycle_t *cycle, ngx_oci_metrics_t *m);
void ngx_oci_metrics_count(ngx_http_request_t *r, ngx_oci_metric_e metric);
void ngx_oci_metrics_uploads_swept(ngx_oci_metrics_t *m, ngx_uint_t expired,
    ngx_int_t live);

/* ngx_oci_http_variables.c */
ngx_int_t ngx_oci_add_variables(ngx_conf_t *cf);
ngx_int_t ngx_oci_mount_from(ngx_http_request_t *r, ngx_str_t *from);


#endif /* _NGX_OCI_HTTP_H_INCLUDED_ */
