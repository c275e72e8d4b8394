
/*
 * oci-admin: a Redis connection for pipelining.  Commands are appended,
 * and their replies read in order, in batches of OCI_ADMIN_REDIS_BATCH.
 */


#ifndef _OCI_ADMIN_REDIS_H_INCLUDED_
#define _OCI_ADMIN_REDIS_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>


#define OCI_ADMIN_REDIS_BATCH  256


typedef struct {
    char          *addr;           /* "host:port", as Redis names it */
    redisContext  *ctx;
} oci_admin_redis_node_t;

typedef struct {
    redisContext            *ctx;      /* the first node's */
    unsigned                 writes;   /* written, reply not read yet */
    unsigned                 reads;    /* appended after them, not read */
    uint64_t                 errors;   /* error replies to written commands */

    /* one node, the master the sentinels name, or a cluster's masters */
    oci_admin_redis_node_t  *nodes;
    size_t                   nnodes;
    uint16_t                *slots;    /* cluster: the node of each slot */

    /* the node of each command whose reply is still to be read */
    uint16_t                *fifo;
    size_t                   fifo_head;
    size_t                   fifo_len;
    size_t                   fifo_cap;
} oci_admin_redis_t;

/*
 * addr is "host[:port]", "[v6]:port" or "unix:/path"; or
 * "sentinel=host:port,..." with master the name the sentinels know the
 * master by; or "cluster=host:port,..." (any nodes of the cluster: the
 * slot map is asked to the first that answers, and every master is
 * connected to).  password may be NULL.  Returns 0; -1 after a message
 * if the servers are unreachable or refuse; -2 after a message if addr
 * is not an address or master is missing.
 */
int oci_admin_redis_connect(oci_admin_redis_t *r, const char *addr,
    const char *password, long db, const char *master);
void oci_admin_redis_close(oci_admin_redis_t *r);

/*
 * One command and its reply; NULL after a message if the link failed.
 * In a cluster, a command goes to the master of its key's slot; one
 * without a key to the first master.
 */
redisReply *oci_admin_redis_command(oci_admin_redis_t *r, int argc,
    const char **argv, const size_t *argvlen);

/* the same, to r->nodes[node] (SCAN walks each master of a cluster) */
redisReply *oci_admin_redis_command_at(oci_admin_redis_t *r, size_t node,
    int argc, const char **argv, const size_t *argvlen);

/* appends; 0, or -1 after a message */
int oci_admin_redis_append(oci_admin_redis_t *r, int argc,
    const char **argv, const size_t *argvlen);

/*
 * The reply of the oldest command appended with oci_admin_redis_append(),
 * after those of the writes before it; NULL after a message if the link
 * failed.  The caller frees it with freeReplyObject().
 */
redisReply *oci_admin_redis_reply(oci_admin_redis_t *r);

/*
 * Write commands whose reply only matters when it is an error: appended,
 * and their replies read once OCI_ADMIN_REDIS_BATCH are pending, before
 * the reply of a later read, or at oci_admin_redis_flush().  Error
 * replies (also inside an EXEC reply) are reported and counted in
 * r->errors.  Writes must not be appended while replies of reads are
 * pending.  0, or -1 after a message if the link failed.
 */
int oci_admin_redis_write(oci_admin_redis_t *r, int argc,
    const char **argv, const size_t *argvlen);
int oci_admin_redis_flush(oci_admin_redis_t *r);


/* a command being built: strings are referenced, not copied */

typedef struct {
    const char  **argv;
    size_t       *len;
    int           argc;
    size_t        cap;
} oci_admin_cmd_t;

/* 0, or -1 out of memory */
int oci_admin_cmd_push(oci_admin_cmd_t *c, const char *p, size_t len);
void oci_admin_cmd_free(oci_admin_cmd_t *c);


#endif /* _OCI_ADMIN_REDIS_H_INCLUDED_ */
