
/*
 * The catalog in Redis (ngx_oci_index_catalog.h): one sorted set with
 * all scores 0, so ZRANGEBYLEX reads a page in byte order, at most n + 1
 * members, whatever the number of repositories.
 */


#include "ngx_oci_index_catalog.h"
#include "ngx_oci_index_schema.h"


typedef struct {
    ngx_str_t                  name;
    ngx_oci_index_catalog_pt   done;
    void                      *data;
} ngx_oci_index_catalog_op_t;


static ngx_str_t *ngx_oci_index_catalog_cmd(ngx_http_request_t *r,
    ngx_oci_redis_conf_t *redis, ngx_uint_t argc, ngx_array_t **cmdsp);
static void ngx_oci_index_catalog_added(ngx_http_request_t *r, void *data,
    ngx_int_t rc, redisReply **replies, ngx_uint_t n);
static void ngx_oci_index_catalog_listed(ngx_http_request_t *r, void *data,
    ngx_int_t rc, redisReply **replies, ngx_uint_t n);


/* one command of argc arguments, the first two the verb's and the key */

static ngx_str_t *
ngx_oci_index_catalog_cmd(ngx_http_request_t *r, ngx_oci_redis_conf_t *redis,
    ngx_uint_t argc, ngx_array_t **cmdsp)
{
    u_char       *p;
    ngx_str_t    *argv;
    ngx_array_t  *cmds, *cmd;

    cmds = ngx_array_create(r->pool, 1, sizeof(ngx_array_t));
    if (cmds == NULL) {
        return NULL;
    }

    cmd = ngx_array_push(cmds);
    if (cmd == NULL
        || ngx_array_init(cmd, r->pool, argc, sizeof(ngx_str_t)) != NGX_OK)
    {
        return NULL;
    }

    cmd->nelts = argc;
    argv = cmd->elts;
    ngx_memzero(argv, argc * sizeof(ngx_str_t));

    p = ngx_pnalloc(r->pool,
                    redis->prefix.len + sizeof(NGX_OCI_INDEX_CATALOG) - 1);
    if (p == NULL) {
        return NULL;
    }

    argv[1].data = p;
    p = ngx_cpymem(p, redis->prefix.data, redis->prefix.len);
    p = ngx_cpymem(p, NGX_OCI_INDEX_CATALOG,
                   sizeof(NGX_OCI_INDEX_CATALOG) - 1);
    argv[1].len = p - argv[1].data;

    *cmdsp = cmds;

    return argv;
}


ngx_int_t
ngx_oci_index_catalog_add(ngx_http_request_t *r, ngx_oci_redis_conf_t *redis,
    ngx_str_t *name)
{
    ngx_str_t                   *argv;
    ngx_array_t                 *cmds;
    ngx_oci_index_catalog_op_t  *op;

    op = ngx_pcalloc(r->pool, sizeof(ngx_oci_index_catalog_op_t));
    argv = ngx_oci_index_catalog_cmd(r, redis, 4, &cmds);

    if (op == NULL || argv == NULL) {
        return NGX_ERROR;
    }

    op->name = *name;

    ngx_str_set(&argv[0], "ZADD");
    ngx_str_set(&argv[2], "0");
    argv[3] = *name;

    return ngx_oci_redis_query(r, redis, cmds, ngx_oci_index_catalog_added,
                               op);
}


static void
ngx_oci_index_catalog_added(ngx_http_request_t *r, void *data, ngx_int_t rc,
    redisReply **replies, ngx_uint_t n)
{
    redisReply                  *reply;
    ngx_oci_index_catalog_op_t  *op = data;

    reply = (rc == NGX_OK && n == 1) ? replies[0] : NULL;

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oci: adding \"%V\" to the catalog failed%s%*s; "
                      "\"oci-admin reindex\" adds it", &op->name,
                      reply ? ": " : "", reply ? (size_t) reply->len : 0,
                      reply ? reply->str : "");
    }
}


ngx_int_t
ngx_oci_index_catalog_list(ngx_http_request_t *r,
    ngx_oci_redis_conf_t *redis, ngx_str_t *last, ngx_uint_t n,
    ngx_oci_index_catalog_pt done, void *data)
{
    ngx_str_t                   *argv;
    ngx_array_t                 *cmds;
    ngx_oci_index_catalog_op_t  *op;

    op = ngx_pcalloc(r->pool, sizeof(ngx_oci_index_catalog_op_t));
    argv = ngx_oci_index_catalog_cmd(r, redis, 7, &cmds);

    if (op == NULL || argv == NULL) {
        return NGX_ERROR;
    }

    op->done = done;
    op->data = data;

    ngx_str_set(&argv[0], "ZRANGEBYLEX");

    /* "(" and the name: exclusive, whatever bytes the name holds */

    if (last->len == 0) {
        ngx_str_set(&argv[2], "-");

    } else {
        argv[2].data = ngx_pnalloc(r->pool, last->len + 1);
        if (argv[2].data == NULL) {
            return NGX_ERROR;
        }

        argv[2].data[0] = '(';
        ngx_memcpy(argv[2].data + 1, last->data, last->len);
        argv[2].len = last->len + 1;
    }

    ngx_str_set(&argv[3], "+");
    ngx_str_set(&argv[4], "LIMIT");
    ngx_str_set(&argv[5], "0");

    argv[6].data = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (argv[6].data == NULL) {
        return NGX_ERROR;
    }

    argv[6].len = ngx_sprintf(argv[6].data, "%ui", n + 1) - argv[6].data;

    return ngx_oci_redis_query(r, redis, cmds, ngx_oci_index_catalog_listed,
                               op);
}


static void
ngx_oci_index_catalog_listed(ngx_http_request_t *r, void *data, ngx_int_t rc,
    redisReply **replies, ngx_uint_t n)
{
    redisReply                  *list;
    ngx_oci_index_catalog_op_t  *op = data;

    list = (rc == NGX_OK && n == 1) ? replies[0] : NULL;

    if (list && list->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oci: redis refused to list the catalog: %*s",
                      list->len, list->str);
    }

    if (list == NULL || list->type != REDIS_REPLY_ARRAY) {
        op->done(r, op->data, NGX_ERROR, NULL);
        return;
    }

    op->done(r, op->data, NGX_OK, list);
}
