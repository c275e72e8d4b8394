
/*
 * Redis Cluster, as data: the slot of a key (CRC16 of its hash tag), the
 * key a command names, and the redirections a node answers with.  Pure,
 * shared by the module's client, oci-admin and the unit tests.
 */


#ifndef _NGX_OCI_REDIS_SLOT_H_INCLUDED_
#define _NGX_OCI_REDIS_SLOT_H_INCLUDED_


#include <stddef.h>
#include <sys/types.h>


#define NGX_OCI_REDIS_SLOTS  16384


/*
 * The slot of a key: CRC16 (XMODEM) modulo 16384 of the hash tag, the
 * bytes between the first '{' and the first '}' after it when there is at
 * least one byte between them, else of the whole key.
 */
unsigned ngx_oci_redis_slot(const u_char *key, size_t len);

/*
 * The position in argv of the first key a command names, or -1 when it
 * names none (MULTI, EXEC, PING, EVAL with no keys...): argv[1] for
 * ordinary commands, argv[3] for EVAL, EVALSHA and FCALL when their
 * numkeys (argv[2]) is at least one, the argument after STREAMS for XREAD
 * and XREADGROUP.
 */
int ngx_oci_redis_command_key(size_t argc, const u_char *const *argv,
    const size_t *argvlen);

/*
 * An error reply "MOVED <slot> <host>:<port>" or "ASK <slot> <host>:<port>":
 * returns 1 (MOVED) or 2 (ASK) with *slot and *addr, *addr_len (pointing
 * into err) set, 0 for any other error.
 */
#define NGX_OCI_REDIS_MOVED  1
#define NGX_OCI_REDIS_ASK    2

int ngx_oci_redis_redirect(const u_char *err, size_t len, unsigned *slot,
    const u_char **addr, size_t *addr_len);


#endif /* _NGX_OCI_REDIS_SLOT_H_INCLUDED_ */
