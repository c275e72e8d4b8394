
/*
 * A synchronous hiredis connection used for pipelining: the tool runs
 * offline, so blocking is fine, and batching commands keeps round trips
 * few.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "oci_admin_array.h"
#include "oci_admin_message.h"
#include "oci_admin_redis.h"


#define OCI_ADMIN_REDIS_PORT     6379
#define OCI_ADMIN_CONNECT_TIME   5
#define OCI_ADMIN_COMMAND_TIME   60


static int oci_admin_redis_setup(oci_admin_redis_t *r, const char *addr,
    const char *what, int argc, const char **argv, size_t *argvlen);
static int oci_admin_redis_open(oci_admin_redis_t *r, const char *addr);
static int oci_admin_redis_check(oci_admin_redis_t *r, redisReply *reply);
static void oci_admin_redis_lost(oci_admin_redis_t *r);


int
oci_admin_redis_connect(oci_admin_redis_t *r, const char *addr,
    const char *password, long db)
{
    int             rc;
    char            n[32], select[64];
    const char     *argv[2];
    size_t          argvlen[2];
    struct timeval  tv;

    memset(r, 0, sizeof(oci_admin_redis_t));

    rc = oci_admin_redis_open(r, addr);
    if (rc != 0) {
        return rc;
    }

    if (r->ctx->err) {
        oci_admin_warn("cannot connect to Redis at %s: %s", addr,
                       r->ctx->errstr);
        oci_admin_redis_close(r);
        return -1;
    }

    tv.tv_sec = OCI_ADMIN_COMMAND_TIME;
    tv.tv_usec = 0;

    if (redisSetTimeout(r->ctx, tv) != REDIS_OK) {
        oci_admin_warn("Redis at %s: cannot set the timeout", addr);
        oci_admin_redis_close(r);
        return -1;
    }

    argv[0] = "AUTH";
    argv[1] = password;

    if (password
        && oci_admin_redis_setup(r, addr, "AUTH", 2, argv, argvlen) != 0)
    {
        goto failed;
    }

    snprintf(n, sizeof(n), "%ld", db);
    snprintf(select, sizeof(select), "SELECT %s", n);

    argv[0] = "SELECT";
    argv[1] = n;

    if (db > 0
        && oci_admin_redis_setup(r, addr, select, 2, argv, argvlen) != 0)
    {
        goto failed;
    }

    /* a server wanting a password says so here */

    argv[0] = "PING";

    if (oci_admin_redis_setup(r, addr, "PING", 1, argv, argvlen) != 0) {
        goto failed;
    }

    return 0;

failed:

    oci_admin_redis_close(r);

    return -1;
}


/*
 * A command of the connection's setup, its arguments strings, "what" it
 * is called in messages: 0, or -1 after a message when the link failed
 * or the reply is an error
 */

static int
oci_admin_redis_setup(oci_admin_redis_t *r, const char *addr,
    const char *what, int argc, const char **argv, size_t *argvlen)
{
    int          i;
    redisReply  *reply;

    for (i = 0; i < argc; i++) {
        argvlen[i] = strlen(argv[i]);
    }

    reply = oci_admin_redis_command(r, argc, argv, argvlen);
    if (reply == NULL) {
        return -1;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        oci_admin_warn("Redis at %s: %s: %s", addr, what, reply->str);
        freeReplyObject(reply);
        return -1;
    }

    freeReplyObject(reply);

    return 0;
}


/* 0, -1 if out of memory, -2 if addr is not an address */

static int
oci_admin_redis_open(oci_admin_redis_t *r, const char *addr)
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

    r->ctx = ctx;

    return 0;

invalid:

    oci_admin_warn("--redis: \"%s\" is neither host[:port] nor unix:/path",
                   addr);

    return -2;
}


void
oci_admin_redis_close(oci_admin_redis_t *r)
{
    if (r->ctx) {
        redisFree(r->ctx);
        r->ctx = NULL;
    }
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


int
oci_admin_redis_append(oci_admin_redis_t *r, int argc, const char **argv,
    const size_t *argvlen)
{
    if (redisAppendCommandArgv(r->ctx, argc, argv, argvlen) != REDIS_OK) {
        oci_admin_redis_lost(r);
        return -1;
    }

    r->reads++;

    return 0;
}


redisReply *
oci_admin_redis_reply(oci_admin_redis_t *r)
{
    void  *reply;

    if (oci_admin_redis_flush(r) != 0) {
        return NULL;
    }

    if (r->reads == 0) {
        oci_admin_warn("Redis: no reply is expected");
        return NULL;
    }

    if (redisGetReply(r->ctx, &reply) != REDIS_OK || reply == NULL) {
        oci_admin_redis_lost(r);
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

    if (redisAppendCommandArgv(r->ctx, argc, argv, argvlen) != REDIS_OK) {
        oci_admin_redis_lost(r);
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
    void  *reply;

    while (r->writes) {
        if (redisGetReply(r->ctx, &reply) != REDIS_OK || reply == NULL) {
            oci_admin_redis_lost(r);
            return -1;
        }

        r->writes--;

        (void) oci_admin_redis_check(r, reply);

        freeReplyObject(reply);
    }

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
oci_admin_redis_lost(oci_admin_redis_t *r)
{
    oci_admin_warn("Redis: %s", r->ctx->err ? r->ctx->errstr
                                            : "connection lost");
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
