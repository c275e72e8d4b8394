
/*
 * The token issuer: a location handler that answers the Docker token
 * endpoint (GET ?service=...&scope=...) with a token in the format the
 * verifier reads, signed with a configured private key.
 *
 * It checks no credentials itself: whatever module guards its location
 * (auth_basic, auth_request, client certificates) has done that before
 * the content phase. For each requested scope it sets
 * $oci_token_scope_type, _name and _actions and evaluates
 * "oci_token_grant", whose value lists the actions allowed ("pull,push",
 * "*", or nothing); the token grants what was asked and is allowed.
 */


#include <openssl/rand.h>

#include "ngx_oci_api.h"
#include "ngx_oci_grammar.h"


/* scopes one request may ask for; more are refused (each costs a map) */
#define NGX_OCI_ISSUE_SCOPES_MAX   16

/* actions of one scope */
#define NGX_OCI_ISSUE_ACTIONS_MAX  8

#define NGX_OCI_ISSUE_EXPIRES_MAX  86400


static char *ngx_oci_api_token_key(ngx_conf_t *cf,
    ngx_oci_token_conf_t *tc, ngx_str_t *file);
static void ngx_oci_api_token_key_cleanup(void *data);
static ngx_int_t ngx_oci_api_token_scopes(ngx_http_request_t *r,
    ngx_oci_token_conf_t *tc, ngx_str_t *value, json_t *access,
    ngx_uint_t *n);
static ngx_int_t ngx_oci_api_token_grant(ngx_http_request_t *r,
    ngx_oci_token_conf_t *tc, ngx_str_t *allowed);
static ngx_uint_t ngx_oci_api_token_granted(ngx_str_t *allowed, u_char *a,
    u_char *last, ngx_str_t *granted);
static ngx_int_t ngx_oci_api_token_scope(ngx_http_request_t *r,
    ngx_oci_token_conf_t *tc, u_char *p, u_char *last, json_t *access);
static ngx_int_t ngx_oci_api_token_allowed(ngx_str_t *allowed, u_char *a,
    size_t len);
static ngx_int_t ngx_oci_api_token_answer(ngx_http_request_t *r,
    ngx_oci_token_conf_t *tc, json_t *access);
static ngx_int_t ngx_oci_api_token_refuse(ngx_http_request_t *r,
    ngx_uint_t status, const char *message);


/*
 * oci_token_issue name; oci_token_signing_key file;
 * oci_token_grant value; oci_token_expires time
 */

char *
ngx_oci_api_token_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t                         *value;
    ngx_oci_token_conf_t              *tc;
    ngx_http_core_loc_conf_t          *clcf;
    ngx_http_compile_complex_value_t   ccv;

    tc = (ngx_oci_token_conf_t *) ((char *) conf + cmd->offset);
    value = cf->args->elts;

    if (ngx_strcmp(cmd->name.data, "oci_token_issue") == 0) {

        if (tc->issue.data) {
            return "is duplicate";
        }

        if (value[1].len == 0) {
            return "takes the issuer's name";
        }

        tc->issue = value[1];

        clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
        clcf->handler = ngx_oci_api_token;

        return NGX_CONF_OK;
    }

    if (ngx_strcmp(cmd->name.data, "oci_token_signing_key") == 0) {
        return ngx_oci_api_token_key(cf, tc, &value[1]);
    }

    if (ngx_strcmp(cmd->name.data, "oci_token_grant") == 0) {

        if (tc->grant != NGX_CONF_UNSET_PTR) {
            return "is duplicate";
        }

        tc->grant = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
        if (tc->grant == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

        ccv.cf = cf;
        ccv.value = &value[1];
        ccv.complex_value = tc->grant;

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    /* oci_token_expires */

    if (tc->expires != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    tc->expires = ngx_parse_time(&value[1], 1);

    if (tc->expires == NGX_ERROR || tc->expires < 1
        || tc->expires > NGX_OCI_ISSUE_EXPIRES_MAX)
    {
        return "takes a time from 1s to 1d";
    }

    return NGX_CONF_OK;
}


static char *
ngx_oci_api_token_key(ngx_conf_t *cf, ngx_oci_token_conf_t *tc,
    ngx_str_t *file)
{
    char                 err[NGX_OCI_JWT_ERROR_LEN];
    ngx_str_t            name;
    ngx_pool_cleanup_t  *cln;

    u_char               buf[16384];
    ssize_t              n;
    ngx_fd_t             fd;

    if (tc->signer != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
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

    n = ngx_read_fd(fd, buf, sizeof(buf));

    ngx_close_file(fd);

    if (n == -1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_read_fd_n " \"%V\" failed", &name);
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, sizeof(ngx_oci_jwt_signer_t));
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    tc->signer = cln->data;

    if (ngx_oci_jwt_signer_load(tc->signer, buf, n, err) != 0) {
        ngx_explicit_memzero(buf, sizeof(buf));
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"oci_token_signing_key\": \"%V\": %s",
                           &name, err);
        return NGX_CONF_ERROR;
    }

    ngx_explicit_memzero(buf, sizeof(buf));

    cln->handler = ngx_oci_api_token_key_cleanup;

    return NGX_CONF_OK;
}


static void
ngx_oci_api_token_key_cleanup(void *data)
{
    ngx_oci_jwt_signer_free(data);
}


char *
ngx_oci_api_token_merge(ngx_conf_t *cf, ngx_oci_token_conf_t *conf,
    ngx_oci_token_conf_t *prev)
{
    ngx_conf_merge_ptr_value(conf->signer, prev->signer, NULL);
    ngx_conf_merge_ptr_value(conf->grant, prev->grant, NULL);
    ngx_conf_merge_value(conf->expires, prev->expires, 300);

    if (conf->issue.len == 0) {
        return NGX_CONF_OK;
    }

    if (conf->signer == NULL || conf->service.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"oci_token_issue\" needs \"%s\"",
                           conf->signer == NULL ? "oci_token_signing_key"
                                                : "oci_token_service");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_oci_api_token(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_str_t              args, value, service;
    ngx_uint_t             n;
    json_t                *access;
    ngx_oci_loc_conf_t    *olcf;
    ngx_oci_token_conf_t  *tc;

    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);
    tc = &olcf->token;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_oci_api_token_refuse(r, NGX_HTTP_NOT_ALLOWED,
                                        "the token endpoint answers GET");
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_oci_arg(r, "service", &service);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_OK
        && (service.len != tc->service.len
            || ngx_strncmp(service.data, tc->service.data, service.len) != 0))
    {
        return ngx_oci_api_token_refuse(r, NGX_HTTP_BAD_REQUEST,
                                        "no tokens for this service here");
    }

    access = json_array();
    if (access == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    n = 0;
    args = r->args;
    rc = NGX_OK;

    while (rc == NGX_OK && ngx_oci_arg_next(&args, "scope", &value) == NGX_OK)
    {
        rc = ngx_oci_api_token_scopes(r, tc, &value, access, &n);
    }

    if (rc == NGX_OK) {
        rc = ngx_oci_api_token_answer(r, tc, access);
    }

    json_decref(access);

    return rc;
}


/* one "scope" argument: scopes separated by spaces, percent-encoded */

static ngx_int_t
ngx_oci_api_token_scopes(ngx_http_request_t *r, ngx_oci_token_conf_t *tc,
    ngx_str_t *value, json_t *access, ngx_uint_t *n)
{
    u_char     *dst, *src, *p, *last, *end;
    ngx_int_t   rc;

    dst = ngx_pnalloc(r->pool, value->len);
    if (dst == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = dst;
    src = value->data;

    ngx_unescape_uri(&dst, &src, value->len, NGX_UNESCAPE_URI);
    end = dst;

    /* a form's "+" is a space; no scope holds a "+" of its own */

    for (dst = p; dst < end; dst++) {
        if (*dst == '+') {
            *dst = ' ';
        }
    }

    while (p < end) {
        while (p < end && *p == ' ') {
            p++;
        }

        last = p;

        while (last < end && *last != ' ') {
            last++;
        }

        if (last == p) {
            break;
        }

        if (++*n > NGX_OCI_ISSUE_SCOPES_MAX) {
            return ngx_oci_api_token_refuse(r, NGX_HTTP_BAD_REQUEST,
                                            "too many scopes");
        }

        rc = ngx_oci_api_token_scope(r, tc, p, last, access);
        if (rc != NGX_OK) {
            return rc;
        }

        p = last;
    }

    return NGX_OK;
}


/*
 * "type:name:actions": the name is what lies between the first and the
 * last ":" (a registry host in a name has its own); the actions are
 * separated by ",".  Types other than "repository" and "registry", and
 * repository names outside the spec's grammar, are granted nothing.
 */

static ngx_int_t
ngx_oci_api_token_scope(ngx_http_request_t *r, ngx_oci_token_conf_t *tc,
    u_char *p, u_char *last, json_t *access)
{
    u_char         *c1, *c2;
    json_t         *entry, *actions;
    ngx_str_t       allowed;
    ngx_uint_t      i, k;
    ngx_oci_ctx_t  *ctx;
    ngx_str_t       granted[NGX_OCI_ISSUE_ACTIONS_MAX];

    c1 = ngx_strlchr(p, last, ':');

    for (c2 = last - 1; c1 && c2 > c1 && *c2 != ':'; c2--) { /* void */ }

    if (c1 == NULL || c2 == c1) {
        return ngx_oci_api_token_refuse(r, NGX_HTTP_BAD_REQUEST,
                                        "a scope is type:name:actions");
    }

    ctx = ngx_oci_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->scope_type.data = p;
    ctx->scope_type.len = c1 - p;
    ctx->scope_name.data = c1 + 1;
    ctx->scope_name.len = c2 - c1 - 1;
    ctx->scope_actions.data = c2 + 1;
    ctx->scope_actions.len = last - c2 - 1;

    if (ctx->scope_type.len == 10
        && ngx_strncmp(p, "repository", 10) == 0)
    {
        if (!ngx_oci_name_valid(ctx->scope_name.data, ctx->scope_name.len)) {
            return NGX_OK;
        }

    } else if (ctx->scope_type.len != 8
               || ngx_strncmp(p, "registry", 8) != 0)
    {
        return NGX_OK;
    }

    if (ngx_oci_api_token_grant(r, tc, &allowed) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    k = ngx_oci_api_token_granted(&allowed, c2 + 1, last, granted);

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "oci token: %V:%V allowed \"%V\", %ui granted",
                   &ctx->scope_type, &ctx->scope_name, &allowed, k);

    if (k == 0) {
        return NGX_OK;
    }

    actions = json_array();
    entry = json_pack("{s:s%, s:s%, s:o}",
                      "type", ctx->scope_type.data, ctx->scope_type.len,
                      "name", ctx->scope_name.data, ctx->scope_name.len,
                      "actions", actions);
    if (entry == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < k; i++) {
        if (json_array_append_new(actions,
                                  json_stringn((char *) granted[i].data,
                                               granted[i].len))
            != 0)
        {
            json_decref(entry);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (json_array_append_new(access, entry) != 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_OK;
}


/*
 * The grant's value for the scope in the request's variables. nginx
 * keeps the value of a "map" for the rest of the request unless the map
 * is "volatile": the variables of the grant are forgotten first, so each
 * scope gets its own answer.
 */

static ngx_int_t
ngx_oci_api_token_grant(ngx_http_request_t *r, ngx_oci_token_conf_t *tc,
    ngx_str_t *allowed)
{
    ngx_uint_t  *idx;

    ngx_str_null(allowed);

    if (tc->grant == NULL) {
        return NGX_OK;
    }

    for (idx = tc->grant->flushes; idx && *idx != (ngx_uint_t) -1; idx++) {
        r->variables[*idx].valid = 0;
        r->variables[*idx].not_found = 0;
    }

    return ngx_http_complex_value(r, tc->grant, allowed);
}


/* the requested actions "a" to "last" that the grant allows, each once */

static ngx_uint_t
ngx_oci_api_token_granted(ngx_str_t *allowed, u_char *a, u_char *last,
    ngx_str_t *granted)
{
    u_char      *e;
    ngx_uint_t   i, k;

    k = 0;

    for ( /* void */ ; a < last; a = e + 1) {
        e = ngx_strlchr(a, last, ',');
        if (e == NULL) {
            e = last;
        }

        if (e == a || k == NGX_OCI_ISSUE_ACTIONS_MAX) {
            continue;
        }

        if (!ngx_oci_api_token_allowed(allowed, a, e - a)) {
            continue;
        }

        for (i = 0; i < k; i++) {
            if (granted[i].len == (size_t) (e - a)
                && ngx_strncmp(granted[i].data, a, e - a) == 0)
            {
                break;
            }
        }

        if (i == k) {
            granted[k].data = a;
            granted[k++].len = e - a;
        }
    }

    return k;
}


/*
 * Is the action in the allowed list (separated by "," or spaces)? "*"
 * there allows every action but "*" itself, which needs "*" spelt out
 * as the verifier reads it, so a grant of "*" allows "*" too.
 */

static ngx_int_t
ngx_oci_api_token_allowed(ngx_str_t *allowed, u_char *a, size_t len)
{
    u_char  *p, *e, *last;

    last = allowed->data + allowed->len;

    for (p = allowed->data; p < last; p = e + 1) {

        for (e = p; e < last && *e != ',' && *e != ' '; e++) { /* void */ }

        if ((size_t) (e - p) == 1 && *p == '*') {
            return 1;
        }

        if ((size_t) (e - p) == len && ngx_strncmp(p, a, len) == 0) {
            return 1;
        }
    }

    return 0;
}


/*
 * {"token": ..., "access_token": ..., "expires_in": ..., "issued_at":
 * "RFC 3339"}, the token's claims: iss, sub ($remote_user, empty when
 * anonymous), aud, exp, nbf, iat, jti, access.
 */

static ngx_int_t
ngx_oci_api_token_answer(ngx_http_request_t *r, ngx_oci_token_conf_t *tc,
    json_t *access)
{
    char         *token, *body;
    u_char        rnd[16], jti[33];
    size_t        len;
    time_t        now;
    json_t       *claims, *answer;
    ngx_tm_t      tm;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    u_char        issued[sizeof("1970-01-01T00:00:00Z")];

    static ngx_str_t  json = ngx_string("application/json");

    if (ngx_http_auth_basic_user(r) == NGX_ERROR) {
        ngx_str_null(&r->headers_in.user);
    }

    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_hex_dump(jti, rnd, sizeof(rnd));
    jti[32] = '\0';

    now = ngx_time();

    claims = json_pack("{s:s%, s:s%, s:s%, s:I, s:I, s:I, s:s, s:O}",
                       "iss", tc->issue.data, tc->issue.len,
                       "sub", r->headers_in.user.data
                              ? (char *) r->headers_in.user.data : "",
                       r->headers_in.user.len,
                       "aud", tc->service.data, tc->service.len,
                       "exp", (json_int_t) (now + tc->expires),
                       "nbf", (json_int_t) now,
                       "iat", (json_int_t) now,
                       "jti", (char *) jti,
                       "access", access);
    if (claims == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_oci_jwt_sign(tc->signer, claims, &token, &len);
    json_decref(claims);

    if (rc != 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oci: signing a token failed");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_gmtime(now, &tm);
    ngx_sprintf(issued, "%4d-%02d-%02dT%02d:%02d:%02dZ%Z",
                tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);

    answer = json_pack("{s:s, s:s, s:I, s:s}",
                       "token", token, "access_token", token,
                       "expires_in", (json_int_t) tc->expires,
                       "issued_at", (char *) issued);
    free(token);

    if (answer == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    body = json_dumps(answer, JSON_COMPACT);
    json_decref(answer);

    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = ngx_strlen(body);

    b = ngx_create_temp_buf(r->pool, len + 1);
    if (b == NULL) {
        free(body);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, body, len);
    *b->last++ = '\n';
    free(body);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "oci: token issued to \"%V\"", &r->headers_in.user);

    return ngx_oci_send_body(r, NGX_HTTP_OK, &json, b);
}


/* the registry's JSON error shape, from a location that is no registry */

static ngx_int_t
ngx_oci_api_token_refuse(ngx_http_request_t *r, ngx_uint_t status,
    const char *message)
{
    ngx_buf_t  *b;

    static ngx_str_t  json = ngx_string("application/json");

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "oci: token request refused: %s", message);

    b = ngx_create_temp_buf(r->pool, ngx_strlen(message) + 80);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_sprintf(b->last, "{\"errors\":[{\"code\":\"%s\","
                          "\"message\":\"%s\",\"detail\":{}}]}\n",
                          "UNSUPPORTED", message);

    return ngx_oci_send_body(r, status, &json, b);
}
