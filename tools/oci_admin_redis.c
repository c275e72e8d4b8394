
/*
 * A synchronous hiredis connection used for pipelining: the tool runs
 * offline, so blocking is fine, and batching commands keeps round trips
 * few.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "ngx_oci_redis_slot.h"

#include "oci_admin_array.h"
#include "oci_admin_message.h"
#include "oci_admin_redis.h"


#define OCI_ADMIN_REDIS_PORT     6379
#define OCI_ADMIN_CONNECT_TIME   5
#define OCI_ADMIN_COMMAND_TIME   60


static int oci_admin_redis_node(oci_admin_redis_t *r, const char *addr,
    const char *password, long db);
static redisReply *oci_admin_redis_sync(redisContext *ctx, const char *addr,
    const char *what, int argc, const char **argv);
static int oci_admin_redis_sentinel(oci_admin_redis_t *r, const char *list,
    const char *password, long db, const char *master);
static int oci_admin_redis_cluster(oci_admin_redis_t *r, const char *list,
    const char *password);
static int oci_admin_redis_map(oci_admin_redis_t *r, redisReply *slots,
    const char *password);
static char *oci_admin_redis_next(const char **list);
static int oci_admin_redis_open(redisContext **ctx, const char *addr);
static int oci_admin_redis_route(oci_admin_redis_t *r, int argc,
    const char **argv, const size_t *argvlen, size_t *node);
static int oci_admin_redis_push(oci_admin_redis_t *r, size_t node);
static int oci_admin_redis_check(oci_admin_redis_t *r, redisReply *reply);
static void oci_admin_redis_lost(oci_admin_redis_t *r, size_t node);
static int oci_admin_redis_queue(oci_admin_redis_t *r, int argc,
    const char **argv, const size_t *argvlen);


int
oci_admin_redis_connect(oci_admin_redis_t *r, const char *addr,
    const char *password, long db, const char *master)
{
    int  rc;

    memset(r, 0, sizeof(oci_admin_redis_t));

    if (strncmp(addr, "sentinel=", 9) == 0) {
        if (master == NULL) {
            oci_admin_warn("--redis sentinel=... needs --master <name>");
            return -2;
        }

        rc = oci_admin_redis_sentinel(r, addr + 9, password, db, master);

    } else if (strncmp(addr, "cluster=", 8) == 0) {
        if (db > 0) {
            oci_admin_warn("--redis cluster=... has no --db but 0");
            return -2;
        }

        rc = oci_admin_redis_cluster(r, addr + 8, password);

    } else {
        rc = oci_admin_redis_node(r, addr, password, db);
    }

    if (rc != 0) {
        oci_admin_redis_close(r);
        return rc;
    }

    r->ctx = r->nodes[0].ctx;

    return 0;
}


/* connects to one more node, with AUTH, SELECT and a PING */

static int
oci_admin_redis_node(oci_admin_redis_t *r, const char *addr,
    const char *password, long db)
{
    int                      rc;
    char                     n[32];
    const char              *argv[2];
    redisReply              *reply;
    redisContext            *ctx;
    struct timeval           tv;
    oci_admin_redis_node_t  *nodes;

    nodes = realloc(r->nodes, (r->nnodes + 1) * sizeof(*nodes));
    if (nodes == NULL) {
        oci_admin_warn("out of memory");
        return -1;
    }

    r->nodes = nodes;

    rc = oci_admin_redis_open(&ctx, addr);
    if (rc != 0) {
        return rc;
    }

    nodes[r->nnodes].ctx = ctx;
    nodes[r->nnodes].addr = strdup(addr);
    r->nnodes++;

    if (nodes[r->nnodes - 1].addr == NULL) {
        oci_admin_warn("out of memory");
        return -1;
    }

    if (ctx->err) {
        oci_admin_warn("cannot connect to Redis at %s: %s", addr,
                       ctx->errstr);
        return -1;
    }

    tv.tv_sec = OCI_ADMIN_COMMAND_TIME;
    tv.tv_usec = 0;

    if (redisSetTimeout(ctx, tv) != REDIS_OK) {
        oci_admin_warn("Redis at %s: cannot set the timeout", addr);
        return -1;
    }

    argv[0] = "AUTH";
    argv[1] = password;

    if (password) {
        reply = oci_admin_redis_sync(ctx, addr, "AUTH", 2, argv);
        if (reply == NULL) {
            return -1;
        }

        freeReplyObject(reply);
    }

    snprintf(n, sizeof(n), "%ld", db);

    argv[0] = "SELECT";
    argv[1] = n;

    if (db > 0) {
        reply = oci_admin_redis_sync(ctx, addr, "SELECT", 2, argv);
        if (reply == NULL) {
            return -1;
        }

        freeReplyObject(reply);
    }

    /* a server wanting a password says so here */

    argv[0] = "PING";

    reply = oci_admin_redis_sync(ctx, addr, "PING", 1, argv);
    if (reply == NULL) {
        return -1;
    }

    freeReplyObject(reply);

    return 0;
}


/*
 * A command of the setup, outside the pipeline, "what" it is called in
 * messages: its reply, or NULL after a message when the link failed or
 * the reply is an error
 */

static redisReply *
oci_admin_redis_sync(redisContext *ctx, const char *addr, const char *what,
    int argc, const char **argv)
{
    int          i;
    size_t       argvlen[4];
    redisReply  *reply;

    for (i = 0; i < argc; i++) {
        argvlen[i] = strlen(argv[i]);
    }

    reply = redisCommandArgv(ctx, argc, argv, argvlen);

    if (reply == NULL) {
        oci_admin_warn("Redis at %s: %s: %s", addr, what,
                       ctx->err ? ctx->errstr : "connection lost");
        return NULL;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        oci_admin_warn("Redis at %s: %s: %s", addr, what, reply->str);
        freeReplyObject(reply);
        return NULL;
    }

    return reply;
}


/* the master the first sentinel that knows it names */

static int
oci_admin_redis_sentinel(oci_admin_redis_t *r, const char *list,
    const char *password, long db, const char *master)
{
    int            rc;
    char          *addr, found[300];
    const char    *argv[3];
    redisReply    *reply;
    redisContext  *ctx;

    argv[0] = "SENTINEL";
    argv[1] = "get-master-addr-by-name";
    argv[2] = master;

    found[0] = '\0';

    while (found[0] == '\0' && (addr = oci_admin_redis_next(&list))) {

        rc = oci_admin_redis_open(&ctx, addr);
        if (rc != 0) {
            free(addr);
            return rc;
        }

        if (ctx->err) {
            oci_admin_warn("cannot connect to the sentinel at %s: %s",
                           addr, ctx->errstr);
            redisFree(ctx);
            free(addr);
            continue;
        }

        reply = oci_admin_redis_sync(ctx, addr, "SENTINEL", 3, argv);

        if (reply && reply->type == REDIS_REPLY_ARRAY
            && reply->elements == 2
            && reply->element[0]->type == REDIS_REPLY_STRING
            && reply->element[1]->type == REDIS_REPLY_STRING
            && reply->element[0]->len < 256)
        {
            snprintf(found, sizeof(found),
                     strchr(reply->element[0]->str, ':') ? "[%s]:%s"
                                                         : "%s:%s",
                     reply->element[0]->str, reply->element[1]->str);

        } else if (reply) {
            oci_admin_warn("the sentinel at %s knows no master \"%s\"",
                           addr, master);
        }

        if (reply) {
            freeReplyObject(reply);
        }

        redisFree(ctx);
        free(addr);
    }

    if (list == NULL) {
        return -2;
    }

    if (found[0] == '\0') {
        oci_admin_warn("no sentinel named the master \"%s\"", master);
        return -1;
    }

    return oci_admin_redis_node(r, found, password, db);
}


/* the slot map from the first node that answers, then every master */

static int
oci_admin_redis_cluster(oci_admin_redis_t *r, const char *list,
    const char *password)
{
    int            rc;
    char          *addr;
    const char    *argv[2];
    redisReply    *reply, *a;
    redisContext  *ctx;

    argv[0] = "CLUSTER";
    argv[1] = "SLOTS";

    while ((addr = oci_admin_redis_next(&list))) {

        rc = oci_admin_redis_open(&ctx, addr);
        if (rc != 0) {
            free(addr);
            return rc;
        }

        reply = NULL;

        if (ctx->err) {
            oci_admin_warn("cannot connect to Redis at %s: %s", addr,
                           ctx->errstr);

        } else {
            a = NULL;

            if (password) {
                argv[0] = "AUTH";
                argv[1] = password;
                a = oci_admin_redis_sync(ctx, addr, "AUTH", 2, argv);
                argv[0] = "CLUSTER";
                argv[1] = "SLOTS";
            }

            if (password == NULL || a) {
                reply = oci_admin_redis_sync(ctx, addr, "CLUSTER SLOTS", 2,
                                             argv);
            }

            if (a) {
                freeReplyObject(a);
            }
        }

        redisFree(ctx);
        free(addr);

        if (reply) {
            rc = oci_admin_redis_map(r, reply, password);
            freeReplyObject(reply);
            return rc;
        }
    }

    if (list == NULL) {
        return -2;
    }

    oci_admin_warn("no node of the cluster answered CLUSTER SLOTS");

    return -1;
}


static int
oci_admin_redis_map(oci_admin_redis_t *r, redisReply *slots,
    const char *password)
{
    int          rc;
    char         addr[300];
    size_t       i, j;
    long long    s, start, end;
    redisReply  *range, *ip, *port;

    r->slots = calloc(NGX_OCI_REDIS_SLOTS, sizeof(uint16_t));
    if (r->slots == NULL) {
        oci_admin_warn("out of memory");
        return -1;
    }

    for (i = 0; i < NGX_OCI_REDIS_SLOTS; i++) {
        r->slots[i] = UINT16_MAX;
    }

    for (i = 0; i < slots->elements; i++) {
        range = slots->element[i];

        if (range->type != REDIS_REPLY_ARRAY || range->elements < 3
            || range->element[2]->type != REDIS_REPLY_ARRAY
            || range->element[2]->elements < 2)
        {
            goto invalid;
        }

        start = range->element[0]->integer;
        end = range->element[1]->integer;
        ip = range->element[2]->element[0];
        port = range->element[2]->element[1];

        if (start < 0 || end >= NGX_OCI_REDIS_SLOTS || start > end
            || ip->type != REDIS_REPLY_STRING || ip->len == 0
            || ip->len > 255 || port->type != REDIS_REPLY_INTEGER)
        {
            goto invalid;
        }

        snprintf(addr, sizeof(addr),
                 strchr(ip->str, ':') ? "[%s]:%lld" : "%s:%lld",
                 ip->str, port->integer);

        for (j = 0; j < r->nnodes; j++) {
            if (strcmp(r->nodes[j].addr, addr) == 0) {
                break;
            }
        }

        if (j == r->nnodes) {
            rc = oci_admin_redis_node(r, addr, password, 0);
            if (rc != 0) {
                return rc;
            }
        }

        for (s = start; s <= end; s++) {
            r->slots[s] = (uint16_t) j;
        }
    }

    if (r->nnodes == 0) {
        goto invalid;
    }

    for (i = 0; i < NGX_OCI_REDIS_SLOTS; i++) {
        if (r->slots[i] == UINT16_MAX) {
            oci_admin_warn("Redis Cluster: slot %zu has no master", i);
            return -1;
        }
    }

    return 0;

invalid:

    oci_admin_warn("Redis Cluster: CLUSTER SLOTS answered an unexpected "
                   "reply");
    return -1;
}


/* the next member of a list separated by commas, malloc()ed */

static char *
oci_admin_redis_next(const char **list)
{
    char        *addr;
    size_t       len;
    const char  *p, *comma;

    p = *list;

    if (p == NULL || *p == '\0') {
        return NULL;
    }

    comma = strchr(p, ',');
    len = comma ? (size_t) (comma - p) : strlen(p);

    if (len == 0 || strncmp(p, "unix:", 5) == 0) {
        oci_admin_warn("--redis: a list of host:port is expected, not "
                       "\"%s\"", p);
        *list = NULL;
        return NULL;
    }

    addr = strndup(p, len);
    if (addr == NULL) {
        oci_admin_warn("out of memory");
        *list = NULL;
        return NULL;
    }

    *list = comma ? comma + 1 : p + len;

    return addr;
}


/* 0, -1 if out of memory, -2 if addr is not an address */

static int
oci_admin_redis_open(redisContext **out, const char *addr)
{
    long             port;
    char            *end, host[256];
    size_t           len;
    const char      *p, *colon;
    redisContext    *ctx;
    struct timeval   tv;

    tv.tv_sec = OCI_ADMIN_CONNECT_TIME;
    tv.tv_usec = 0;

    if (strncmp(addr, "unix:", 5) == 0) {
        if (addr[5] == '\0') {
            goto invalid;
        }

        ctx = redisConnectUnixWithTimeout(addr + 5, tv);
        goto done;
    }

    /* "host", "host:port", "[v6]", "[v6]:port"; a bare v6 has no port */

    port = OCI_ADMIN_REDIS_PORT;

    if (addr[0] == '[') {
        p = strchr(addr, ']');
        if (p == NULL || (p[1] != '\0' && p[1] != ':')) {
            goto invalid;
        }

        len = p - addr - 1;
        p++;
        addr++;
        colon = (*p == ':') ? p : NULL;

    } else {
        colon = strchr(addr, ':');

        if (colon && strchr(colon + 1, ':')) {
            colon = NULL;
        }

        len = colon ? (size_t) (colon - addr) : strlen(addr);
    }

    if (len == 0 || len >= sizeof(host)) {
        goto invalid;
    }

    memcpy(host, addr, len);
    host[len] = '\0';

    if (colon) {
        port = strtol(colon + 1, &end, 10);

        if (colon[1] == '\0' || *end != '\0' || port < 1 || port > 65535) {
            goto invalid;
        }
    }

    ctx = redisConnectWithTimeout(host, (int) port, tv);

done:

    if (ctx == NULL) {
        oci_admin_warn("cannot allocate a Redis context");
        return -1;
    }

    *out = ctx;

    return 0;

invalid:

    oci_admin_warn("--redis: \"%s\" is neither host[:port] nor unix:/path",
                   addr);

    return -2;
}


void
oci_admin_redis_close(oci_admin_redis_t *r)
{
    size_t  i;

    for (i = 0; i < r->nnodes; i++) {
        if (r->nodes[i].ctx) {
            redisFree(r->nodes[i].ctx);
        }

        free(r->nodes[i].addr);
    }

    free(r->nodes);
    free(r->slots);
    free(r->fifo);

    r->nodes = NULL;
    r->nnodes = 0;
    r->slots = NULL;
    r->fifo = NULL;
    r->ctx = NULL;
}


redisReply *
oci_admin_redis_command(oci_admin_redis_t *r, int argc, const char **argv,
    const size_t *argvlen)
{
    if (oci_admin_redis_append(r, argc, argv, argvlen) != 0) {
        return NULL;
    }

    return oci_admin_redis_reply(r);
}


redisReply *
oci_admin_redis_command_at(oci_admin_redis_t *r, size_t node, int argc,
    const char **argv, const size_t *argvlen)
{
    if (oci_admin_redis_flush(r) != 0) {
        return NULL;
    }

    if (node >= r->nnodes
        || redisAppendCommandArgv(r->nodes[node].ctx, argc, argv, argvlen)
           != REDIS_OK
        || oci_admin_redis_push(r, node) != 0)
    {
        oci_admin_redis_lost(r, node < r->nnodes ? node : 0);
        return NULL;
    }

    r->reads++;

    return oci_admin_redis_reply(r);
}


/* the command queued on its node's connection, not sent yet */

static int
oci_admin_redis_queue(oci_admin_redis_t *r, int argc, const char **argv,
    const size_t *argvlen)
{
    size_t  node;

    if (oci_admin_redis_route(r, argc, argv, argvlen, &node) != 0) {
        return -1;
    }

    if (redisAppendCommandArgv(r->nodes[node].ctx, argc, argv, argvlen)
        != REDIS_OK)
    {
        oci_admin_redis_lost(r, node);
        return -1;
    }

    return 0;
}


int
oci_admin_redis_append(oci_admin_redis_t *r, int argc, const char **argv,
    const size_t *argvlen)
{
    if (oci_admin_redis_queue(r, argc, argv, argvlen) != 0) {
        return -1;
    }

    r->reads++;

    return 0;
}


redisReply *
oci_admin_redis_reply(oci_admin_redis_t *r)
{
    void    *reply;
    size_t   node;

    if (oci_admin_redis_flush(r) != 0) {
        return NULL;
    }

    if (r->reads == 0 || r->fifo_len == 0) {
        oci_admin_warn("Redis: no reply is expected");
        return NULL;
    }

    node = r->fifo[r->fifo_head];
    r->fifo_head = (r->fifo_head + 1) % r->fifo_cap;
    r->fifo_len--;

    if (redisGetReply(r->nodes[node].ctx, &reply) != REDIS_OK
        || reply == NULL)
    {
        oci_admin_redis_lost(r, node);
        return NULL;
    }

    r->reads--;

    return reply;
}


int
oci_admin_redis_write(oci_admin_redis_t *r, int argc, const char **argv,
    const size_t *argvlen)
{
    if (r->reads) {
        oci_admin_warn("Redis: a write was queued behind unread replies");
        return -1;
    }

    if (oci_admin_redis_queue(r, argc, argv, argvlen) != 0) {
        return -1;
    }

    r->writes++;

    if (r->writes >= OCI_ADMIN_REDIS_BATCH) {
        return oci_admin_redis_flush(r);
    }

    return 0;
}


int
oci_admin_redis_flush(oci_admin_redis_t *r)
{
    void    *reply;
    size_t   node;

    while (r->writes) {
        node = r->fifo[r->fifo_head];
        r->fifo_head = (r->fifo_head + 1) % r->fifo_cap;
        r->fifo_len--;

        if (redisGetReply(r->nodes[node].ctx, &reply) != REDIS_OK
            || reply == NULL)
        {
            oci_admin_redis_lost(r, node);
            return -1;
        }

        r->writes--;

        (void) oci_admin_redis_check(r, reply);

        freeReplyObject(reply);
    }

    return 0;
}


/*
 * The node a command goes to, noted in the FIFO of replies to read: the
 * master of its key's slot in a cluster (the keys of one command share a
 * slot: the index's hash tags), else the one node
 */

static int
oci_admin_redis_route(oci_admin_redis_t *r, int argc, const char **argv,
    const size_t *argvlen, size_t *node)
{
    int  key;

    *node = 0;

    if (r->slots) {
        key = ngx_oci_redis_command_key((size_t) argc,
                                        (const u_char *const *) argv,
                                        argvlen);
        if (key >= 0) {
            *node = r->slots[ngx_oci_redis_slot((const u_char *) argv[key],
                                                argvlen[key])];
        }
    }

    return oci_admin_redis_push(r, *node);
}


static int
oci_admin_redis_push(oci_admin_redis_t *r, size_t node)
{
    size_t     i, cap;
    uint16_t  *fifo;

    if (r->fifo_len == r->fifo_cap) {
        cap = r->fifo_cap ? 2 * r->fifo_cap : 2 * OCI_ADMIN_REDIS_BATCH;

        fifo = malloc(cap * sizeof(uint16_t));
        if (fifo == NULL) {
            oci_admin_warn("out of memory");
            return -1;
        }

        for (i = 0; i < r->fifo_len; i++) {
            fifo[i] = r->fifo[(r->fifo_head + i) % r->fifo_cap];
        }

        free(r->fifo);

        r->fifo = fifo;
        r->fifo_cap = cap;
        r->fifo_head = 0;
    }

    r->fifo[(r->fifo_head + r->fifo_len) % r->fifo_cap] = (uint16_t) node;
    r->fifo_len++;

    return 0;
}


/* reports the error replies in a reply, EXEC's included */

static int
oci_admin_redis_check(oci_admin_redis_t *r, redisReply *reply)
{
    int     rc;
    size_t  i;

    if (reply->type == REDIS_REPLY_ERROR) {
        oci_admin_warn("Redis: %s", reply->str);
        r->errors++;
        return -1;
    }

    rc = 0;

    if (reply->type == REDIS_REPLY_ARRAY) {
        for (i = 0; i < reply->elements; i++) {
            if (oci_admin_redis_check(r, reply->element[i]) != 0) {
                rc = -1;
            }
        }
    }

    return rc;
}


static void
oci_admin_redis_lost(oci_admin_redis_t *r, size_t node)
{
    redisContext  *ctx;

    ctx = r->nodes[node].ctx;

    oci_admin_warn("Redis at %s: %s", r->nodes[node].addr,
                   ctx->err ? ctx->errstr : "connection lost");
}


int
oci_admin_cmd_push(oci_admin_cmd_t *c, const char *p, size_t len)
{
    size_t        cap;
    size_t       *l;
    const char  **a;

    /* both grow alike: cap is theirs once both have grown */

    cap = c->cap;

    a = oci_admin_array_room(c->argv, c->argc, &cap, sizeof(const char *),
                             16);
    if (a == NULL) {
        return -1;
    }

    c->argv = a;
    cap = c->cap;

    l = oci_admin_array_room(c->len, c->argc, &cap, sizeof(size_t), 16);
    if (l == NULL) {
        return -1;
    }

    c->len = l;
    c->cap = cap;

    c->argv[c->argc] = p;
    c->len[c->argc] = len;
    c->argc++;

    return 0;
}


void
oci_admin_cmd_free(oci_admin_cmd_t *c)
{
    free(c->argv);
    free(c->len);

    c->argv = NULL;
    c->len = NULL;
    c->argc = 0;
    c->cap = 0;
}
