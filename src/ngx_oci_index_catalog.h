
/*
 * The catalog in Redis: the names of the repositories that hold
 * manifests, the sorted set NGX_OCI_INDEX_CATALOG of
 * ngx_oci_index_schema.h (docs/api.md#catalog).
 *
 * Like the referrers index, it knows nothing of HTTP: each call returns
 * NGX_OK when its handler will be called, NGX_ERROR when it will not (no
 * Redis); the handler gets NGX_OK or NGX_ERROR (logged).
 */


#ifndef _NGX_OCI_INDEX_CATALOG_H_INCLUDED_
#define _NGX_OCI_INDEX_CATALOG_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_oci_redis.h"


/* reply: the names, an array of strings */
typedef void (*ngx_oci_index_catalog_pt)(ngx_http_request_t *r, void *data,
    ngx_int_t rc, redisReply *reply);


/*
 * ZADD of the repository, not waited for: the request goes on, and a
 * failure is logged if the request is still there when it is known
 */
ngx_int_t ngx_oci_index_catalog_add(ngx_http_request_t *r,
    ngx_oci_redis_conf_t *redis, ngx_str_t *name);

/*
 * At most n + 1 names after "last" (exclusive; empty: from the start), in
 * byte order: one more than asked when another page follows
 */
ngx_int_t ngx_oci_index_catalog_list(ngx_http_request_t *r,
    ngx_oci_redis_conf_t *redis, ngx_str_t *last, ngx_uint_t n,
    ngx_oci_index_catalog_pt done, void *data);


#endif /* _NGX_OCI_INDEX_CATALOG_H_INCLUDED_ */
