
/*
 * $oci_repository, $oci_reference, $oci_action, $oci_digest,
 * $oci_bytes_received, $oci_mount_from and $oci_token_subject (the "sub"
 * of the bearer token that let the request in); in a token issuer's
 * location, $oci_token_scope_type, _name and _actions: the scope whose
 * grant is being decided. In the subrequests of a mirror to its
 * upstream, $oci_proxy_authorization, _accept and _url: what to send.
 *
 * They are computed from the URI (and, for a mount, its arguments)
 * alone, so access rules in earlier phases (auth_request, map,
 * limit_req) see the same routing the handler uses.
 */


#include "ngx_oci_http.h"
#include "ngx_oci_grammar.h"


static ngx_int_t ngx_oci_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_oci_variable_fetch(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


#define NGX_OCI_VAR_REPOSITORY  0
#define NGX_OCI_VAR_REFERENCE   1
#define NGX_OCI_VAR_ACTION      2
#define NGX_OCI_VAR_DIGEST      3
#define NGX_OCI_VAR_RECEIVED    4
#define NGX_OCI_VAR_MOUNT_FROM  5
#define NGX_OCI_VAR_SUBJECT     6
#define NGX_OCI_VAR_SCOPE_TYPE  7
#define NGX_OCI_VAR_SCOPE_NAME  8
#define NGX_OCI_VAR_SCOPE_ACT   9

#define NGX_OCI_VAR_PROXY_AUTH    offsetof(ngx_oci_fetch_t, authorization)
#define NGX_OCI_VAR_PROXY_ACCEPT  offsetof(ngx_oci_fetch_t, accept)
#define NGX_OCI_VAR_PROXY_URL     offsetof(ngx_oci_fetch_t, url)


static ngx_http_variable_t  ngx_oci_vars[] = {

    { ngx_string("oci_repository"), NULL, ngx_oci_variable,
      NGX_OCI_VAR_REPOSITORY, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("oci_reference"), NULL, ngx_oci_variable,
      NGX_OCI_VAR_REFERENCE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("oci_action"), NULL, ngx_oci_variable,
      NGX_OCI_VAR_ACTION, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("oci_digest"), NULL, ngx_oci_variable,
      NGX_OCI_VAR_DIGEST, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("oci_bytes_received"), NULL, ngx_oci_variable,
      NGX_OCI_VAR_RECEIVED, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("oci_mount_from"), NULL, ngx_oci_variable,
      NGX_OCI_VAR_MOUNT_FROM, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("oci_token_subject"), NULL, ngx_oci_variable,
      NGX_OCI_VAR_SUBJECT, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("oci_token_scope_type"), NULL, ngx_oci_variable,
      NGX_OCI_VAR_SCOPE_TYPE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("oci_token_scope_name"), NULL, ngx_oci_variable,
      NGX_OCI_VAR_SCOPE_NAME, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("oci_token_scope_actions"), NULL, ngx_oci_variable,
      NGX_OCI_VAR_SCOPE_ACT, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("oci_proxy_authorization"), NULL, ngx_oci_variable_fetch,
      NGX_OCI_VAR_PROXY_AUTH, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("oci_proxy_accept"), NULL, ngx_oci_variable_fetch,
      NGX_OCI_VAR_PROXY_ACCEPT, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("oci_proxy_url"), NULL, ngx_oci_variable_fetch,
      NGX_OCI_VAR_PROXY_URL, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_oci_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_oci_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_oci_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    ngx_int_t       rc;
    ngx_str_t       name;
    const char     *action;
    ngx_oci_ctx_t  *ctx;

    /*
     * Always the main request's route: an auth_request subrequest to
     * "/_auth" asks about the registry request that caused it.
     */

    ctx = ngx_oci_route_request(r->main);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->len = 0;
    v->data = (u_char *) "";

    switch (data) {

    case NGX_OCI_VAR_SUBJECT:
        v->data = ctx->token_subject.data;
        v->len = ctx->token_subject.len;
        return NGX_OK;

    case NGX_OCI_VAR_SCOPE_TYPE:
        v->data = ctx->scope_type.data;
        v->len = ctx->scope_type.len;
        return NGX_OK;

    case NGX_OCI_VAR_SCOPE_NAME:
        v->data = ctx->scope_name.data;
        v->len = ctx->scope_name.len;
        return NGX_OK;

    case NGX_OCI_VAR_SCOPE_ACT:
        v->data = ctx->scope_actions.data;
        v->len = ctx->scope_actions.len;
        return NGX_OK;
    }

    if (ctx->route_rc != NGX_OCI_ROUTE_OK) {
        return NGX_OK;
    }

    switch (data) {

    case NGX_OCI_VAR_REPOSITORY:
        v->data = (u_char *) ctx->route.name;
        v->len = ctx->route.name_len;
        break;

    case NGX_OCI_VAR_REFERENCE:
        v->data = (u_char *) ctx->route.ref;
        v->len = ctx->route.ref_len;
        break;

    case NGX_OCI_VAR_DIGEST:
        v->data = ctx->digest.data;
        v->len = ctx->digest.len;
        break;

    case NGX_OCI_VAR_RECEIVED:
        v->data = ngx_pnalloc(r->pool, NGX_OFF_T_LEN);
        if (v->data == NULL) {
            return NGX_ERROR;
        }

        v->len = ngx_sprintf(v->data, "%O", ctx->received) - v->data;
        break;

    case NGX_OCI_VAR_MOUNT_FROM:
        rc = ngx_oci_mount_from(r, &name);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_OK) {
            v->data = name.data;
            v->len = name.len;
        }

        break;

    default: /* NGX_OCI_VAR_ACTION */

        if (ctx->route.endpoint == NGX_OCI_EP_BASE) {
            action = "";

        } else if (ctx->route.endpoint == NGX_OCI_EP_CATALOG) {

            /* no repository: rules written for pulls do not match it */

            action = "catalog";

        } else if (ctx->route.endpoint == NGX_OCI_EP_UPLOADS
                   || ctx->route.endpoint == NGX_OCI_EP_UPLOAD)
        {
            action = "push";

        } else if (r->main->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
            action = "pull";

        } else if (r->main->method == NGX_HTTP_DELETE
                   && (ctx->route.endpoint == NGX_OCI_EP_MANIFEST
                       || ctx->route.endpoint == NGX_OCI_EP_BLOB))
        {
            action = "delete";

        } else {
            action = "push";
        }

        v->data = (u_char *) action;
        v->len = ngx_strlen(action);
    }

    return NGX_OK;
}


/*
 * The repository a cross-repository mount reads: a POST to
 * /v2/<name>/blobs/uploads/ with a valid ?mount= digest and a valid
 * ?from= name, decoded as the uploads endpoint decodes it.  NGX_OK with
 * the name, NGX_DECLINED (and an empty name) for any other request,
 * NGX_ERROR.  Always about the main request, as the variables are.
 */

ngx_int_t
ngx_oci_mount_from(ngx_http_request_t *r, ngx_str_t *from)
{
    ngx_int_t       rc;
    ngx_str_t       mount, name;
    ngx_oci_ctx_t  *ctx;

    ngx_str_null(from);

    r = r->main;

    ctx = ngx_oci_route_request(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    if (!ctx->mount_checked) {

        if (ctx->route_rc == NGX_OCI_ROUTE_OK
            && ctx->route.endpoint == NGX_OCI_EP_UPLOADS
            && r->method == NGX_HTTP_POST)
        {
            rc = ngx_oci_arg(r, "mount", &mount);

            if (rc == NGX_OK) {
                rc = ngx_oci_arg(r, "from", &name);
            }

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (rc == NGX_OK
                && ngx_oci_digest_parse(mount.data, mount.len, NULL, NULL,
                                        NULL)
                   == NGX_OCI_DIGEST_OK
                && ngx_oci_name_valid(name.data, name.len))
            {
                ctx->mount_from = name;
            }
        }

        ctx->mount_checked = 1;
    }

    *from = ctx->mount_from;

    return from->len ? NGX_OK : NGX_DECLINED;
}


/* what the subrequest a mirror sends its upstream carries; else empty */

static ngx_int_t
ngx_oci_variable_fetch(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    ngx_str_t      *value;
    ngx_oci_ctx_t  *ctx;

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->len = 0;
    v->data = (u_char *) "";

    ctx = ngx_http_get_module_ctx(r, ngx_oci_module);

    if (r != r->main && ctx != NULL && ctx->fetch != NULL) {
        value = (ngx_str_t *) ((u_char *) ctx->fetch + data);
        v->data = value->data;
        v->len = value->len;
    }

    return NGX_OK;
}
