
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
    redisContext  *ctx;
    unsigned       writes;         /* written, reply not read yet */
    unsigned       reads;          /* appended after them, not read yet */
    uint64_t       errors;         /* error replies to written commands */
} oci_admin_redis_t;

/*
 * addr is "host[:port]", "[v6]:port" or "unix:/path"; password may be
 * NULL.  Returns 0; -1 after a message if the server is unreachable or
 * refuses; -2 after a message if addr is not an address.
 */
int oci_admin_redis_connect(oci_admin_redis_t *r, const char *addr,
    const char *password, long db);
void oci_admin_redis_close(oci_admin_redis_t *r);

/* one command and its reply; NULL after a message if the link failed */
redisReply *oci_admin_redis_command(oci_admin_redis_t *r, int argc,
    const char **argv, const size_t *argvlen);

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
