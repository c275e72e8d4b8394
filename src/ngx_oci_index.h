
/*
 * The referrers index in Redis: which manifests of a repository name a
 * subject (docs/referrers.md). Built on the Redis client; the keys and
 * entries are those of ngx_oci_index_schema.h, shared with oci-admin.
 *
 * Like storage, the index knows nothing of HTTP: each call returns NGX_OK
 * when its handler will be called, or NGX_ERROR when it will not (no
 * Redis); the handler gets NGX_OK or NGX_ERROR (logged), and for a list
 * the reply: digest, descriptor, digest, descriptor ... (a descriptor is
 * nil when the hash lacks it: a stale entry).
 */


#ifndef _NGX_OCI_INDEX_H_INCLUDED_
#define _NGX_OCI_INDEX_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_oci_redis.h"
#include "ngx_oci_manifest_check.h"


typedef void (*ngx_oci_index_done_pt)(ngx_http_request_t *r, void *data,
    ngx_int_t rc, redisReply *reply);


/* one (repository, subject) pair of the index */
typedef struct {
    ngx_oci_redis_conf_t     *redis;
    ngx_str_t                 name;
    ngx_str_t                 subject;
} ngx_oci_index_pair_t;


/*
 * What a listing may learn besides its page, in the same round trip, for
 * the page cache to know a page's key is bounded by the stored data.
 */
typedef struct {
    unsigned                  referrers:1;  /* the pair has entries */
    unsigned                  last:1;       /* "last" is one of them */
    unsigned                  types:1;      /* each type filtered has one */
} ngx_oci_index_facts_t;


ngx_int_t ngx_oci_index_describe(ngx_pool_t *pool, ngx_oci_manifest_t *mf,
    ngx_str_t *digest, size_t size, ngx_str_t *descriptor);
ngx_int_t ngx_oci_index_add(ngx_http_request_t *r,
    ngx_oci_index_pair_t *pair, ngx_str_t *digest, ngx_str_t *descriptor,
    ngx_oci_index_done_pt done, void *data);
ngx_int_t ngx_oci_index_remove(ngx_http_request_t *r,
    ngx_oci_index_pair_t *pair, ngx_str_t *digest,
    ngx_oci_index_done_pt done, void *data);
ngx_int_t ngx_oci_index_list(ngx_http_request_t *r,
    ngx_oci_index_pair_t *pair, ngx_str_t *last, ngx_uint_t n,
    ngx_array_t *types, ngx_oci_index_facts_t *facts,
    ngx_oci_index_done_pt done, void *data);
void ngx_oci_index_count_event(ngx_oci_redis_conf_t *rc,
    ngx_uint_t recorded);
ngx_int_t ngx_oci_index_drop(ngx_http_request_t *r,
    ngx_oci_index_pair_t *pair, ngx_array_t *types, ngx_array_t *stale,
    ngx_oci_index_done_pt done, void *data);


#endif /* _NGX_OCI_INDEX_H_INCLUDED_ */
