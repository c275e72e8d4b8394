
/*
 * ngx_oci_module: an OCI Distribution registry inside nginx.
 *
 * Types shared by the module's files: the location configuration, the
 * per-request context and the entry points each file offers the others.
 */


#ifndef _NGX_OCI_H_INCLUDED_
#define _NGX_OCI_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_oci_route.h"
#include "ngx_oci_sha2.h"
#include "ngx_oci_grammar.h"
#include "ngx_oci_redis.h"


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
    NGX_OCI_ERR_UNAVAILABLE
} ngx_oci_err_e;


#define NGX_OCI_SUBJECT_ACCEPT    0
#define NGX_OCI_SUBJECT_WARN      1
#define NGX_OCI_SUBJECT_REJECT    2


typedef struct {
    ngx_flag_t                enable;
    ngx_str_t                 storage;
    size_t                    max_manifest_size;
    ngx_flag_t                delete;
    ngx_msec_t                upload_timeout;
    ngx_flag_t                check_references;
    ngx_uint_t                tags_page_size;
    ngx_uint_t                subject_policy;
    ngx_uint_t                referrers_page_size;
    ngx_oci_redis_conf_t      redis;
} ngx_oci_loc_conf_t;


typedef struct {
    ngx_array_t               storages;     /* ngx_str_t, for the sweeper */
    ngx_msec_t                sweep_timeout;
} ngx_oci_main_conf_t;


typedef struct ngx_oci_ctx_s  ngx_oci_ctx_t;

/* consumes request body bytes as they arrive; returns NGX_OK or a status */
typedef ngx_int_t (*ngx_oci_sink_pt)(ngx_http_request_t *r, u_char *p,
    size_t len);


typedef struct {
    ngx_fd_t                  fd;           /* the session's data file */
    ngx_str_t                 id;
    ngx_str_t                 data_path;
    ngx_str_t                 state_path;
    off_t                     offset;       /* bytes committed */
    off_t                     written;      /* offset + this request */
    off_t                     limit;        /* -1, or end of Content-Range */
    ngx_oci_sha2_t            sha;
    ngx_str_t                 name;         /* repository it belongs to */
} ngx_oci_session_t;


struct ngx_oci_ctx_s {
    ngx_oci_route_t           route;
    ngx_int_t                 route_rc;

    ngx_oci_err_e             err;
    ngx_str_t                 err_message;
    ngx_str_t                 err_detail;   /* raw JSON, or empty */
    ngx_buf_t                *error_body;

    ngx_oci_sink_pt           sink;
    ngx_http_client_body_handler_pt  body_done;

    ngx_oci_session_t        *session;

    /* manifest PUT */
    u_char                   *body;
    size_t                    body_len;
    size_t                    body_size;
    size_t                    body_max;
    ngx_array_t              *tags;         /* ngx_str_t */
    ngx_uint_t                query_tags;   /* how many came as ?tag= */
    ngx_str_t                 type;         /* effective media type */
    ngx_str_t                 subject;      /* subject digest, if any */
    ngx_str_t                 referrer;     /* descriptor to index */

    /* tag lock retry */
    ngx_event_t               retry;
    ngx_uint_t                retries;
    ngx_int_t               (*retry_handler)(ngx_http_request_t *r);

    ngx_str_t                 digest;       /* for $oci_digest */
    off_t                     received;     /* body bytes taken */

    unsigned                  routed:1;
    unsigned                  link_new:1;
    unsigned                  json_error:1;
    unsigned                  json_sent:1;
};


extern ngx_module_t  ngx_oci_module;


/* ngx_oci_module.c */
ngx_oci_ctx_t *ngx_oci_get_ctx(ngx_http_request_t *r);
ngx_int_t ngx_oci_arg(ngx_http_request_t *r, const char *name,
    ngx_str_t *value);
ngx_int_t ngx_oci_arg_next(ngx_str_t *args, const char *name,
    ngx_str_t *value);
ngx_int_t ngx_oci_arg_count(ngx_http_request_t *r, ngx_uint_t max,
    ngx_uint_t *n);
ngx_table_elt_t *ngx_oci_header_in(ngx_http_request_t *r, const char *name);

/* ngx_oci_error.c */
ngx_int_t ngx_oci_error(ngx_http_request_t *r, ngx_uint_t status,
    ngx_oci_err_e err, const char *message);
ngx_int_t ngx_oci_error_digest(ngx_http_request_t *r, ngx_uint_t status,
    ngx_oci_err_e err, const char *message, ngx_str_t *digest);
ngx_int_t ngx_oci_error_filter_init(ngx_conf_t *cf);
ngx_int_t ngx_oci_add_header(ngx_http_request_t *r, const char *name,
    ngx_str_t *value);

/* ngx_oci_variables.c */
ngx_int_t ngx_oci_add_variables(ngx_conf_t *cf);

/* ngx_oci_body.c */
ngx_int_t ngx_oci_body_filter_init(ngx_conf_t *cf);
ngx_int_t ngx_oci_read_body(ngx_http_request_t *r, ngx_oci_sink_pt sink,
    ngx_http_client_body_handler_pt done);

/* ngx_oci_storage.c */
ngx_int_t ngx_oci_path(ngx_http_request_t *r, ngx_str_t *path,
    const char *fmt, ...);
ngx_int_t ngx_oci_repo_path(ngx_http_request_t *r, ngx_str_t *path,
    ngx_str_t *name, const char *kind, ngx_str_t *digest,
    const char *suffix);
ngx_int_t ngx_oci_blob_path(ngx_http_request_t *r, ngx_str_t *path,
    ngx_str_t *digest);
ngx_int_t ngx_oci_file_exists(ngx_str_t *path);
ngx_int_t ngx_oci_link(ngx_http_request_t *r, ngx_str_t *from,
    ngx_str_t *to);
ngx_int_t ngx_oci_write_file(ngx_http_request_t *r, ngx_str_t *path,
    u_char *data, size_t len, ngx_uint_t replace);
ngx_int_t ngx_oci_read_small(ngx_http_request_t *r, ngx_str_t *path,
    ngx_str_t *out, size_t max);
ngx_int_t ngx_oci_digest_string(ngx_http_request_t *r, int alg,
    u_char *md, ngx_str_t *out);
ngx_int_t ngx_oci_random_hex(u_char *dst, size_t bytes);
ngx_int_t ngx_oci_storage_error(ngx_http_request_t *r, ngx_err_t err,
    const char *op, ngx_str_t *path);

/* ngx_oci_serve.c */
ngx_int_t ngx_oci_serve_file(ngx_http_request_t *r, ngx_str_t *path,
    ngx_str_t *content_type, ngx_str_t *digest, ngx_uint_t ranges);
ngx_int_t ngx_oci_send_empty(ngx_http_request_t *r, ngx_uint_t status);
ngx_int_t ngx_oci_send_body(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *content_type, ngx_buf_t *b);

/* ngx_oci_blob.c */
ngx_int_t ngx_oci_blob_handler(ngx_http_request_t *r);

/* ngx_oci_session.c */
ngx_int_t ngx_oci_session_create(ngx_http_request_t *r, int alg,
    ngx_oci_session_t **sp);
ngx_int_t ngx_oci_session_open(ngx_http_request_t *r, ngx_str_t *id,
    ngx_oci_session_t **sp);
ngx_int_t ngx_oci_session_lock(ngx_http_request_t *r,
    ngx_oci_session_t *s);
ngx_int_t ngx_oci_session_append(ngx_http_request_t *r,
    ngx_oci_session_t *s, u_char *p, size_t len);
ngx_int_t ngx_oci_session_commit(ngx_http_request_t *r,
    ngx_oci_session_t *s);
void ngx_oci_session_release(ngx_oci_session_t *s);
ngx_int_t ngx_oci_session_remove(ngx_http_request_t *r,
    ngx_oci_session_t *s);
void ngx_oci_session_sweep(ngx_cycle_t *cycle, ngx_str_t *storage,
    ngx_msec_t timeout);

/* ngx_oci_upload.c */
ngx_int_t ngx_oci_upload_handler(ngx_http_request_t *r);
ngx_int_t ngx_oci_upload_progress_headers(ngx_http_request_t *r,
    ngx_oci_session_t *s);

/* ngx_oci_manifest.c */
ngx_int_t ngx_oci_manifest_handler(ngx_http_request_t *r);

/* ngx_oci_referrers.c */
typedef ngx_int_t (*ngx_oci_referrers_done_pt)(ngx_http_request_t *r,
    ngx_int_t rc);

ngx_int_t ngx_oci_referrers_handler(ngx_http_request_t *r);
ngx_int_t ngx_oci_referrers_add(ngx_http_request_t *r, ngx_str_t *subject,
    ngx_str_t *digest, ngx_str_t *descriptor, ngx_oci_referrers_done_pt done);
ngx_int_t ngx_oci_referrers_remove(ngx_http_request_t *r,
    ngx_str_t *subject, ngx_str_t *digest, ngx_oci_referrers_done_pt done);

/* ngx_oci_tags.c */
ngx_int_t ngx_oci_tags_handler(ngx_http_request_t *r);
ngx_int_t ngx_oci_tag_read(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *tag, ngx_str_t *digest);
ngx_int_t ngx_oci_tag_lock(ngx_http_request_t *r, ngx_str_t *name,
    ngx_fd_t *fd);
void ngx_oci_tag_unlock(ngx_fd_t fd);
ngx_int_t ngx_oci_tag_write(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *tag, ngx_str_t *digest);
ngx_int_t ngx_oci_tag_remove(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *tag);
ngx_int_t ngx_oci_tags_drop_digest(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *digest);
ngx_int_t ngx_oci_retry_later(ngx_http_request_t *r,
    ngx_int_t (*handler)(ngx_http_request_t *r));


#endif /* _NGX_OCI_H_INCLUDED_ */
