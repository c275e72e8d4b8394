
/*
 * oci-admin: the referrers index in Redis (src/ngx_oci_index_schema.h).
 * The keys of a (repository, subject) pair, and changes to them written
 * in one MULTI ... EXEC.
 */


#ifndef _OCI_ADMIN_INDEX_H_INCLUDED_
#define _OCI_ADMIN_INDEX_H_INCLUDED_


#include <stddef.h>

#include "oci_admin_redis.h"


typedef struct {
    char              *refs;            /* the sorted set of digests */
    char              *desc;            /* the hash of descriptors, in the
                                           same buffer */
    char              *types;           /* what the keys of the sets per
                                           artifactType start with, too */
    size_t             refs_len;
    size_t             desc_len;
    size_t             types_len;
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

/* the changes to the set of one artifactType, and its key (malloc()ed) */

typedef struct {
    char              *key;
    oci_admin_cmd_t    zadd;            /* then "0", member, ... */
    oci_admin_cmd_t    zrem;            /* then member, ... */
} oci_admin_type_change_t;

typedef struct {
    oci_admin_cmd_t    zadd;            /* then "0", member, ... */
    oci_admin_cmd_t    hset;            /* then member, descriptor, ... */
    oci_admin_cmd_t    zrem;            /* then member, ... */
    oci_admin_cmd_t    hdel;            /* then member, ... */

    oci_admin_type_change_t  *types;
    size_t                    ntypes;
    size_t                    types_cap;
} oci_admin_change_t;

/* 0, or -1 out of memory; oci_admin_change_free() either way */
int oci_admin_change_init(oci_admin_change_t *ch, oci_admin_keys_t *k);
void oci_admin_change_free(oci_admin_change_t *ch);

/*
 * The key of the set of an artifactType, malloc()ed, NUL-terminated (the
 * type may hold any byte but NUL); NULL out of memory
 */
char *oci_admin_type_key(oci_admin_keys_t *k, const char *type,
    size_t len, size_t *key_len);

/*
 * The changes to the set of an artifactType (key as made by
 * oci_admin_type_key(), taken over); NULL out of memory
 */
oci_admin_type_change_t *oci_admin_change_type(oci_admin_change_t *ch,
    char *key, size_t key_len);

/*
 * MULTI, the descriptors before the members, removals the other way
 * round, EXEC, as writes; nothing if there is nothing to change.  0, or
 * -1 after a message if the link failed.
 */
int oci_admin_change_write(oci_admin_redis_t *r, oci_admin_change_t *ch);

/*
 * Removes one entry from every key of its pair, as the module does when a
 * referrer is deleted (NGX_OCI_INDEX_REMOVE_SCRIPT), as a write.  0, or
 * -1 after a message if the link failed.
 */
int oci_admin_index_remove(oci_admin_redis_t *r, oci_admin_keys_t *k,
    const char *digest, size_t len);


#endif /* _OCI_ADMIN_INDEX_H_INCLUDED_ */
