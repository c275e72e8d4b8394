
/*
 * oci-admin: the referrers index in Redis (src/ngx_oci_index_schema.h).
 * The two keys of a (repository, subject) pair, and changes to them
 * written in one MULTI ... EXEC.
 */


#ifndef _OCI_ADMIN_INDEX_H_INCLUDED_
#define _OCI_ADMIN_INDEX_H_INCLUDED_


#include <stddef.h>

#include "oci_admin_redis.h"


typedef struct {
    char              *refs;            /* the sorted set of digests */
    char              *desc;            /* the hash of descriptors, in the
                                           same buffer */
    size_t             refs_len;
    size_t             desc_len;
} oci_admin_keys_t;

/* 0, or -1 after a message */
int oci_admin_keys_init(oci_admin_keys_t *k, const char *prefix,
    size_t prefix_len, const char *name, size_t name_len,
    const char *subject);
void oci_admin_keys_free(oci_admin_keys_t *k);


/*
 * Commands being built, each holding its name and key first: members to
 * give score 0, descriptors to set, members to remove from either key
 */

typedef struct {
    oci_admin_cmd_t    zadd;            /* then "0", member, ... */
    oci_admin_cmd_t    hset;            /* then member, descriptor, ... */
    oci_admin_cmd_t    zrem;            /* then member, ... */
    oci_admin_cmd_t    hdel;            /* then member, ... */
} oci_admin_change_t;

/* 0, or -1 out of memory; oci_admin_change_free() either way */
int oci_admin_change_init(oci_admin_change_t *ch, oci_admin_keys_t *k);
void oci_admin_change_free(oci_admin_change_t *ch);

/*
 * MULTI, the descriptors before the members, removals the other way
 * round, EXEC, as writes; nothing if there is nothing to change.  0, or
 * -1 after a message if the link failed.
 */
int oci_admin_change_write(oci_admin_redis_t *r, oci_admin_change_t *ch);


#endif /* _OCI_ADMIN_INDEX_H_INCLUDED_ */
