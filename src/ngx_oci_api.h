
/*
 * Endpoints: one file each, named after the part of the API it answers.
 * Each checks its method and arguments, asks storage (and the referrers
 * index) for what it needs, and chooses the status and error code of the
 * answer. Endpoints never call each other: what two of them share lives
 * in a layer below.
 */


#ifndef _NGX_OCI_API_H_INCLUDED_
#define _NGX_OCI_API_H_INCLUDED_


#include "ngx_oci_http.h"


ngx_int_t ngx_oci_api_base(ngx_http_request_t *r);
ngx_int_t ngx_oci_api_blobs(ngx_http_request_t *r);
ngx_int_t ngx_oci_api_uploads(ngx_http_request_t *r);
ngx_int_t ngx_oci_api_manifests(ngx_http_request_t *r);
ngx_int_t ngx_oci_api_tags(ngx_http_request_t *r);
ngx_int_t ngx_oci_api_referrers(ngx_http_request_t *r);
ngx_int_t ngx_oci_api_catalog(ngx_http_request_t *r);

/* mirrors: pulls of what storage lacks go upstream (oci_proxy) */
ngx_int_t ngx_oci_api_proxy(ngx_http_request_t *r, ngx_oci_retry_pt serve);
ngx_int_t ngx_oci_api_proxy_refuse(ngx_http_request_t *r);
char *ngx_oci_api_proxy_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_oci_api_proxy_merge(ngx_conf_t *cf, ngx_oci_proxy_conf_t *conf,
    ngx_oci_proxy_conf_t *prev);

/* the token issuer: a location of its own, not a /v2/ endpoint */
ngx_int_t ngx_oci_api_token(ngx_http_request_t *r);
char *ngx_oci_api_token_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_oci_api_token_merge(ngx_conf_t *cf, ngx_oci_token_conf_t *conf,
    ngx_oci_token_conf_t *prev);


#endif /* _NGX_OCI_API_H_INCLUDED_ */
