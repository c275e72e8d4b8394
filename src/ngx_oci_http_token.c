
/*
 * Bearer token authentication, the resource server side of the Docker
 * token scheme: the oci_token_* directives (key sets read at
 * configuration time, so a reload picks up rotated keys) and an
 * ACCESS-phase handler, so that "satisfy", allow/deny, auth_basic and
 * auth_request compose with it as they do with each other.
 *
 * The scope a request needs comes from its route (routed once, in the
 * request context) and its method; the token is checked by the pure
 * verifier (ngx_oci_jwt.c).  A refusal leaves its challenge and detail
 * in the context: the error filter writes them with the 401 only, so a
 * request let in by another module under "satisfy any" carries no
 * Bearer challenge.
 */


#include "ngx_oci_http.h"


/* a file of keys larger than this is not a key set */
#define NGX_OCI_TOKEN_KEY_FILE_MAX  (1024 * 1024)

/* what one request can need: pull and push, and pull on a mount source */
#define NGX_OCI_TOKEN_SCOPES_MAX    3


typedef struct {
    const char               *type;
    ngx_str_t                 name;
    const char               *action;
} ngx_oci_token_scope_t;


static char *ngx_oci_token_key(ngx_conf_t *cf, ngx_oci_token_conf_t *tc,
    ngx_str_t *file);
static void ngx_oci_token_keys_cleanup(void *data);
static ngx_uint_t ngx_oci_token_scopes(ngx_http_request_t *r,
    ngx_oci_ctx_t *ctx, ngx_oci_token_scope_t *sc);
static ngx_int_t ngx_oci_token_check(ngx_http_request_t *r,
    ngx_oci_token_conf_t *tc, ngx_str_t *token, ngx_oci_token_scope_t *sc,
    ngx_uint_t n, ngx_oci_ctx_t *ctx);
static ngx_int_t ngx_oci_token_refuse(ngx_http_request_t *r,
    ngx_oci_token_conf_t *tc, ngx_oci_ctx_t *ctx, ngx_oci_token_scope_t *sc,
    ngx_uint_t n, ngx_oci_jwt_rc_e rc);


void
ngx_oci_token_conf_init(ngx_oci_token_conf_t *tc)
{
    /*
     * set by ngx_pcalloc():
     *
     *     tc->realm = { 0, NULL };
     *     tc->service = { 0, NULL };
     *     tc->issue = { 0, NULL };
     */

    tc->issuers = NGX_CONF_UNSET_PTR;
    tc->keys = NGX_CONF_UNSET_PTR;
    tc->leeway = NGX_CONF_UNSET;
    tc->signer = NGX_CONF_UNSET_PTR;
    tc->grant = NGX_CONF_UNSET_PTR;
    tc->expires = NGX_CONF_UNSET;
}


/*
 * oci_token_realm url | off; oci_token_service name;
 * oci_token_issuer name (repeatable); oci_token_key file (repeatable);
 * oci_token_leeway time.
 */

char *
ngx_oci_token_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    const char           **iss;
    ngx_str_t             *value;
    ngx_oci_token_conf_t  *tc;

    tc = (ngx_oci_token_conf_t *) ((char *) conf + cmd->offset);
    value = cf->args->elts;

    if (value[1].len == 0) {
        return "takes a non-empty value";
    }

    if (ngx_strcmp(cmd->name.data, "oci_token_realm") == 0) {

        if (tc->realm.data) {
            return "is duplicate";
        }

        tc->realm = value[1];
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(cmd->name.data, "oci_token_service") == 0) {

        if (tc->service.data) {
            return "is duplicate";
        }

        tc->service = value[1];
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(cmd->name.data, "oci_token_issuer") == 0) {

        if (tc->issuers == NGX_CONF_UNSET_PTR) {
            tc->issuers = ngx_array_create(cf->pool, 2, sizeof(char *));
            if (tc->issuers == NULL) {
                return NGX_CONF_ERROR;
            }
        }

        iss = ngx_array_push(tc->issuers);
        if (iss == NULL) {
            return NGX_CONF_ERROR;
        }

        /* configuration values are NUL-terminated */
        *iss = (const char *) value[1].data;

        return NGX_CONF_OK;
    }

    if (ngx_strcmp(cmd->name.data, "oci_token_key") == 0) {
        return ngx_oci_token_key(cf, tc, &value[1]);
    }

    /* oci_token_leeway */

    if (tc->leeway != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    tc->leeway = ngx_parse_time(&value[1], 1);

    if (tc->leeway == NGX_ERROR || tc->leeway > NGX_OCI_JWT_LEEWAY_MAX) {
        return "takes a time from 0 to 600s";
    }

    return NGX_CONF_OK;
}


/* a PEM file (keys, certificates) or a JWKS document, told by its "{" */

static char *
ngx_oci_token_key(ngx_conf_t *cf, ngx_oci_token_conf_t *tc, ngx_str_t *file)
{
    int                  n;
    char                 err[NGX_OCI_JWT_ERROR_LEN];
    u_char              *buf, *p;
    size_t               size;
    ssize_t              got;
    ngx_fd_t             fd;
    ngx_str_t            name;
    ngx_file_info_t      fi;
    ngx_pool_cleanup_t  *cln;

    if (tc->keys == NGX_CONF_UNSET_PTR) {
        cln = ngx_pool_cleanup_add(cf->pool, sizeof(ngx_oci_jwt_keys_t));
        if (cln == NULL) {
            return NGX_CONF_ERROR;
        }

        tc->keys = cln->data;
        ngx_oci_jwt_keys_init(tc->keys);

        cln->handler = ngx_oci_token_keys_cleanup;
    }

    name = *file;

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", &name);
        return NGX_CONF_ERROR;
    }

    buf = NULL;
    size = 0;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed", &name);
        goto failed;
    }

    if (ngx_file_size(&fi) > NGX_OCI_TOKEN_KEY_FILE_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" is larger than 1m: not a key file",
                           &name);
        goto failed;
    }

    size = (size_t) ngx_file_size(&fi);

    buf = ngx_pnalloc(cf->temp_pool, size + 1);
    if (buf == NULL) {
        goto failed;
    }

    got = ngx_read_fd(fd, buf, size);

    if (got == -1 || (size_t) got != size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_read_fd_n " \"%V\" failed or was short",
                           &name);
        goto failed;
    }

    ngx_close_file(fd);
    fd = NGX_INVALID_FILE;

    for (p = buf; p < buf + size; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            break;
        }
    }

    if (p < buf + size && *p == '{') {
        n = ngx_oci_jwt_keys_add_jwks(tc->keys, buf, size, err);

    } else {
        n = ngx_oci_jwt_keys_add_pem(tc->keys, buf, size, err);
    }

    if (n < 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"oci_token_key\": \"%V\": %s", &name, err);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

failed:

    if (fd != NGX_INVALID_FILE) {
        ngx_close_file(fd);
    }

    return NGX_CONF_ERROR;
}


static void
ngx_oci_token_keys_cleanup(void *data)
{
    ngx_oci_jwt_keys_free(data);
}


/*
 * A location with a realm must say which tokens it takes: the service
 * (their audience), the issuers and the keys, or it would refuse every
 * token; "enabled" is whether the location is a registry.
 */

char *
ngx_oci_token_conf_merge(ngx_conf_t *cf, ngx_oci_token_conf_t *conf,
    ngx_oci_token_conf_t *prev, ngx_flag_t enabled)
{
    ngx_conf_merge_str_value(conf->realm, prev->realm, "");
    ngx_conf_merge_str_value(conf->service, prev->service, "");
    ngx_conf_merge_ptr_value(conf->issuers, prev->issuers, NULL);
    ngx_conf_merge_ptr_value(conf->keys, prev->keys, NULL);
    ngx_conf_merge_value(conf->leeway, prev->leeway, 60);

    if (conf->realm.len == 3
        && ngx_strncmp(conf->realm.data, "off", 3) == 0)
    {
        ngx_str_null(&conf->realm);
    }

    if (!enabled || conf->realm.len == 0) {
        return NGX_CONF_OK;
    }

    if (conf->service.len == 0 || conf->issuers == NULL
        || conf->keys == NULL)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"oci_token_realm\" is set but \"%s\" is not: "
                           "token authentication needs the service, at "
                           "least one issuer and at least one key",
                           conf->service.len == 0 ? "oci_token_service"
                           : conf->issuers == NULL ? "oci_token_issuer"
                           : "oci_token_key");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_oci_token_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_oci_token_access;

    return NGX_OK;
}


ngx_int_t
ngx_oci_token_access(ngx_http_request_t *r)
{
    ngx_str_t              token;
    ngx_uint_t             n;
    ngx_table_elt_t       *h;
    ngx_oci_ctx_t         *ctx;
    ngx_oci_loc_conf_t    *olcf;
    ngx_oci_token_scope_t  sc[NGX_OCI_TOKEN_SCOPES_MAX];

    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    if (!olcf->enable || olcf->token.realm.len == 0) {
        return NGX_DECLINED;
    }

    ctx = ngx_oci_route_request(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* no endpoint, or a bad name: the content handler says which */

    if (ctx->route_rc != NGX_OCI_ROUTE_OK) {
        return NGX_DECLINED;
    }

    n = ngx_oci_token_scopes(r, ctx, sc);

    h = r->headers_in.authorization;

    /* "Bearer" then spaces and the token (nginx trims the value's end) */

    if (h == NULL
        || h->value.len < sizeof("Bearer") - 1
        || ngx_strncasecmp(h->value.data, (u_char *) "Bearer",
                           sizeof("Bearer") - 1) != 0
        || (h->value.len > sizeof("Bearer") - 1
            && h->value.data[sizeof("Bearer") - 1] != ' '))
    {
        /* anonymous, or another scheme: the challenge says which token */
        return ngx_oci_token_refuse(r, &olcf->token, ctx, sc, n,
                                    NGX_OCI_JWT_OK);
    }

    token.data = h->value.data + sizeof("Bearer") - 1;
    token.len = h->value.len - (sizeof("Bearer") - 1);

    while (token.len && token.data[0] == ' ') {
        token.data++;
        token.len--;
    }

    while (token.len && token.data[token.len - 1] == ' ') {
        token.len--;
    }

    return ngx_oci_token_check(r, &olcf->token, &token, sc, n, ctx);
}


/*
 * As docker-registry asks: GET and HEAD pull, DELETE deletes, any other
 * method pulls and pushes; every request to an upload session pushes
 * (its state is the pusher's), and a mount pulls its source too.  The
 * base endpoint needs a valid token and no scope; the catalog needs
 * "registry:catalog:*", and lists every repository then.
 */

static ngx_uint_t
ngx_oci_token_scopes(ngx_http_request_t *r, ngx_oci_ctx_t *ctx,
    ngx_oci_token_scope_t *sc)
{
    ngx_uint_t  n;
    ngx_str_t   from;

    if (ctx->route.endpoint == NGX_OCI_EP_BASE) {
        return 0;
    }

    if (ctx->route.endpoint == NGX_OCI_EP_CATALOG) {
        sc[0].type = "registry";
        ngx_str_set(&sc[0].name, "catalog");
        sc[0].action = "*";
        return 1;
    }

    n = 0;

    if (ctx->route.endpoint != NGX_OCI_EP_UPLOADS
        && ctx->route.endpoint != NGX_OCI_EP_UPLOAD)
    {
        if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
            sc[n].type = "repository";
            sc[n].name = ctx->name;
            sc[n++].action = "pull";
            return n;
        }

        if (r->method == NGX_HTTP_DELETE) {
            sc[n].type = "repository";
            sc[n].name = ctx->name;
            sc[n++].action = "delete";
            return n;
        }
    }

    sc[n].type = "repository";
    sc[n].name = ctx->name;
    sc[n++].action = "pull";

    sc[n].type = "repository";
    sc[n].name = ctx->name;
    sc[n++].action = "push";

    /* the route is valid, so the only failure left is memory: no mount */

    if (ngx_oci_mount_from(r, &from) == NGX_OK
        && (from.len != ctx->name.len
            || ngx_strncmp(from.data, ctx->name.data, from.len) != 0))
    {
        sc[n].type = "repository";
        sc[n].name = from;
        sc[n++].action = "pull";
    }

    return n;
}


static ngx_int_t
ngx_oci_token_check(ngx_http_request_t *r, ngx_oci_token_conf_t *tc,
    ngx_str_t *token, ngx_oci_token_scope_t *sc, ngx_uint_t n,
    ngx_oci_ctx_t *ctx)
{
    ngx_uint_t            i;
    ngx_oci_jwt_t         jwt;
    ngx_oci_jwt_rc_e      rc;
    ngx_oci_jwt_claims_t  claims;
    ngx_oci_jwt_expect_t  expect;

    if (token->len == 0 || token->len > NGX_OCI_JWT_MAX_LEN) {
        return ngx_oci_token_refuse(r, tc, ctx, sc, n,
                                    NGX_OCI_JWT_MALFORMED);
    }

    rc = ngx_oci_jwt_parse(token->data, token->len, &jwt);
    if (rc != NGX_OCI_JWT_OK) {
        return ngx_oci_token_refuse(r, tc, ctx, sc, n, rc);
    }

    rc = ngx_oci_jwt_verify(&jwt, tc->keys);

    if (rc == NGX_OCI_JWT_OK) {
        expect.issuers = tc->issuers->elts;
        expect.nissuers = tc->issuers->nelts;
        expect.service = (const char *) tc->service.data;
        expect.now = (int64_t) ngx_time();
        expect.leeway = tc->leeway;

        rc = ngx_oci_jwt_claims_check(jwt.payload, &expect, &claims);
    }

    for (i = 0; rc == NGX_OCI_JWT_OK && i < n; i++) {
        rc = ngx_oci_jwt_granted(&claims, sc[i].type, sc[i].name.data,
                                 sc[i].name.len, sc[i].action);
    }

    if (rc == NGX_OCI_JWT_OK && claims.sub) {
        ctx->token_subject.data = ngx_pnalloc(r->pool, claims.sub_len);
        if (ctx->token_subject.data == NULL) {
            rc = NGX_OCI_JWT_ERROR;

        } else {
            ngx_memcpy(ctx->token_subject.data, claims.sub, claims.sub_len);
            ctx->token_subject.len = claims.sub_len;
        }
    }

    ngx_oci_jwt_free(&jwt);

    if (rc == NGX_OCI_JWT_OK) {
        return NGX_OK;
    }

    return ngx_oci_token_refuse(r, tc, ctx, sc, n, rc);
}


/*
 * 401 with the challenge
 *
 *     Bearer realm="...",service="...",scope="repository:a:pull,push
 *     repository:b:pull",error="..."
 *
 * written as docker-registry writes it: one "type:name:actions" per
 * resource, space-separated; "error" only when a token was sent.  Every
 * value is a quoted string built by ngx_oci_link_quoted(): nothing in a
 * name or the configuration can end it.  The detail of the JSON body
 * lists what the request needs, as docker-registry's does.
 */

static ngx_int_t
ngx_oci_token_refuse(ngx_http_request_t *r, ngx_oci_token_conf_t *tc,
    ngx_oci_ctx_t *ctx, ngx_oci_token_scope_t *sc, ngx_uint_t n,
    ngx_oci_jwt_rc_e rc)
{
    u_char      *p, *scope, *s;
    size_t       len, slen;
    ngx_uint_t   i;
    const char  *error;

    if (rc == NGX_OCI_JWT_ERROR) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oci: token check failed: %s",
                      ngx_oci_jwt_strerror(rc));
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    error = (rc == NGX_OCI_JWT_OK) ? NULL : ngx_oci_jwt_error_param(rc);

    /* the scope, resources in order, actions of one resource joined */

    slen = 0;

    for (i = 0; i < n; i++) {
        slen += ngx_strlen(sc[i].type) + sc[i].name.len
                + ngx_strlen(sc[i].action) + 3;
    }

    scope = ngx_pnalloc(r->pool, slen + 1);
    if (scope == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    s = scope;

    for (i = 0; i < n; i++) {
        if (i > 0
            && sc[i].name.len == sc[i - 1].name.len
            && ngx_strncmp(sc[i].name.data, sc[i - 1].name.data,
                           sc[i].name.len) == 0)
        {
            s = ngx_sprintf(s, ",%s", sc[i].action);
            continue;
        }

        s = ngx_sprintf(s, "%s%s:%V:%s", i ? " " : "", sc[i].type,
                        &sc[i].name, sc[i].action);
    }

    slen = s - scope;

    len = sizeof("Bearer realm=,service=,scope=,error=") - 1
          + ngx_oci_link_quoted(NULL, tc->realm.data, tc->realm.len)
          + ngx_oci_link_quoted(NULL, tc->service.data, tc->service.len)
          + ngx_oci_link_quoted(NULL, scope, slen)
          + (error ? ngx_strlen(error) + 2 : 0);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->token_challenge.data = p;

    p = ngx_cpymem(p, "Bearer realm=", sizeof("Bearer realm=") - 1);
    p += ngx_oci_link_quoted(p, tc->realm.data, tc->realm.len);
    p = ngx_cpymem(p, ",service=", sizeof(",service=") - 1);
    p += ngx_oci_link_quoted(p, tc->service.data, tc->service.len);

    if (slen) {
        p = ngx_cpymem(p, ",scope=", sizeof(",scope=") - 1);
        p += ngx_oci_link_quoted(p, scope, slen);
    }

    if (error) {
        p = ngx_sprintf(p, ",error=\"%s\"", error);
    }

    ctx->token_challenge.len = p - ctx->token_challenge.data;

    /* [{"Type":"repository","Class":"","Name":"...","Action":"..."}] */

    len = 2;

    for (i = 0; i < n; i++) {
        len += sizeof("{\"Type\":\"\",\"Class\":\"\",\"Name\":\"\","
                      "\"Action\":\"\"},") - 1
               + ngx_strlen(sc[i].type) + ngx_strlen(sc[i].action)
               + sc[i].name.len
               + ngx_escape_json(NULL, sc[i].name.data, sc[i].name.len);
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->token_detail.data = p;

    *p++ = '[';

    for (i = 0; i < n; i++) {
        p = ngx_sprintf(p, "%s{\"Type\":\"%s\",\"Class\":\"\",\"Name\":\"",
                        i ? "," : "", sc[i].type);
        p = (u_char *) ngx_escape_json(p, sc[i].name.data, sc[i].name.len);
        p = ngx_sprintf(p, "\",\"Action\":\"%s\"}", sc[i].action);
    }

    *p++ = ']';

    ctx->token_detail.len = p - ctx->token_detail.data;

    ngx_str_set(&ctx->token_message, "authentication required");

    if (rc != NGX_OCI_JWT_OK) {
        ctx->token_message.data = (u_char *) ngx_oci_jwt_strerror(rc);
        ctx->token_message.len = ngx_strlen(ngx_oci_jwt_strerror(rc));
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "oci: bearer token refused for \"%V\": %V",
                  &r->uri, &ctx->token_message);

    return NGX_HTTP_UNAUTHORIZED;
}
