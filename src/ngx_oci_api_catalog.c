
/*
 * The catalog: GET /v2/_catalog, the names of the repositories, in byte
 * order, paginated with ?n= and ?last= and a Link header to the next
 * page. It is read from the catalog in Redis (one ZRANGEBYLEX of at most
 * n + 1 names), never from a walk of the storage: docs/api.md#catalog.
 */


#include "ngx_oci_api.h"
#include "ngx_oci_grammar.h"
#include "ngx_oci_index_catalog.h"


typedef struct {
    ngx_uint_t                want;         /* page size asked for */
} ngx_oci_api_catalog_t;


static void ngx_oci_api_catalog_listed(ngx_http_request_t *r, void *data,
    ngx_int_t rc, redisReply *list);
static ngx_int_t ngx_oci_api_catalog_send(ngx_http_request_t *r,
    redisReply **names, ngx_uint_t count, ngx_uint_t n, redisReply *last);
static ngx_int_t ngx_oci_api_catalog_link(ngx_http_request_t *r,
    ngx_uint_t n, redisReply *last);
static ngx_int_t ngx_oci_api_catalog_unavailable(ngx_http_request_t *r);


ngx_int_t
ngx_oci_api_catalog(ngx_http_request_t *r)
{
    u_char                 *p;
    ngx_int_t               rc;
    ngx_str_t               arg, last;
    ngx_oci_loc_conf_t     *olcf;
    ngx_oci_api_catalog_t  *q;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_oci_error(r, NGX_HTTP_NOT_ALLOWED, NGX_OCI_ERR_UNSUPPORTED,
                             "the catalog answers GET and HEAD");
    }

    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    if (olcf->redis.redis == NULL) {

        /* as registries without a catalog answer: clients report it */

        return ngx_oci_error(r, NGX_HTTP_NOT_FOUND, NGX_OCI_ERR_UNSUPPORTED,
                             "the catalog needs \"oci_redis\"");
    }

    q = ngx_pcalloc(r->pool, sizeof(ngx_oci_api_catalog_t));
    if (q == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    q->want = olcf->catalog_page_size;

    if (ngx_oci_arg_count(r, olcf->catalog_page_size, &q->want)
        == NGX_ERROR)
    {
        return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST, NGX_OCI_ERR_UNSUPPORTED,
                             "?n= must be a non-negative integer");
    }

    /* clients may escape the "/" of a name: ?last= is decoded */

    ngx_str_null(&last);

    if (ngx_oci_arg(r, "last", &arg) == NGX_OK && arg.len) {
        last.data = ngx_pnalloc(r->pool, arg.len);
        if (last.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p = last.data;
        ngx_unescape_uri(&p, &arg.data, arg.len, NGX_UNESCAPE_URI);
        last.len = p - last.data;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (q->want == 0) {
        return ngx_oci_api_catalog_send(r, NULL, 0, 0, NULL);
    }

    if (ngx_oci_index_catalog_list(r, &olcf->redis, &last, q->want,
                                   ngx_oci_api_catalog_listed, q)
        != NGX_OK)
    {
        return ngx_oci_api_catalog_unavailable(r);
    }

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_oci_api_catalog_listed(ngx_http_request_t *r, void *data, ngx_int_t rc,
    redisReply *list)
{
    ngx_uint_t              count;
    ngx_oci_api_catalog_t  *q = data;

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, ngx_oci_api_catalog_unavailable(r));
        return;
    }

    /* the one name more than asked says that another page follows */

    count = ngx_min(list->elements, q->want);

    ngx_http_finalize_request(r,
        ngx_oci_api_catalog_send(r, list->element, count, q->want,
                                 list->elements > q->want
                                 ? list->element[count - 1] : NULL));
}


/*
 * {"repositories":[...]}: a member that is not a valid name (Redis is
 * shared, anyone may write to it) is left out, so nothing in the set can
 * break the JSON; valid names need no escaping
 */

static ngx_int_t
ngx_oci_api_catalog_send(ngx_http_request_t *r, redisReply **names,
    ngx_uint_t count, ngx_uint_t n, redisReply *last)
{
    size_t       len;
    ngx_buf_t   *b;
    ngx_uint_t   i, listed;
    redisReply  *name;

    static ngx_str_t  json = ngx_string("application/json");

    len = sizeof("{\"repositories\":[]}\n") - 1;

    for (i = 0; i < count; i++) {
        len += names[i]->len + 3;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, "{\"repositories\":[",
                         sizeof("{\"repositories\":[") - 1);

    for (i = 0, listed = 0; i < count; i++) {
        name = names[i];

        if (name->type != REDIS_REPLY_STRING
            || !ngx_oci_name_valid((u_char *) name->str, name->len))
        {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "oci: the catalog holds a member that is not a "
                          "repository name, left out");
            continue;
        }

        if (listed++) {
            *b->last++ = ',';
        }

        *b->last++ = '"';
        b->last = ngx_cpymem(b->last, name->str, name->len);
        *b->last++ = '"';
    }

    b->last = ngx_cpymem(b->last, "]}\n", 3);

    if (last && last->type == REDIS_REPLY_STRING
        && ngx_oci_api_catalog_link(r, n, last) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_oci_send_body(r, NGX_HTTP_OK, &json, b);
}


/* the next page's Link: no name in Redis can add a link or a parameter */

static ngx_int_t
ngx_oci_api_catalog_link(ngx_http_request_t *r, ngx_uint_t n,
    redisReply *last)
{
    ngx_str_t              after;
    ngx_oci_link_str_t     path[1] = { NGX_OCI_LINK_LITERAL("/v2/_catalog") };
    ngx_oci_link_param_t   params[2];

    after.data = (u_char *) last->str;
    after.len = last->len;

    return ngx_oci_add_next_link(r, path, 1, n, &after, params, 2);
}


static ngx_int_t
ngx_oci_api_catalog_unavailable(ngx_http_request_t *r)
{
    return ngx_oci_error_unavailable(r, "5", "the catalog (redis) is "
                                             "unavailable");
}
