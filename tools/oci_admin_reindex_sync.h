
/*
 * oci-admin reindex, the Redis side: the run's state, and the
 * synchronization of the index of (repository, subject) pairs with what
 * the walk of oci_admin_reindex.c found.
 */


#ifndef _OCI_ADMIN_REINDEX_SYNC_H_INCLUDED_
#define _OCI_ADMIN_REINDEX_SYNC_H_INCLUDED_


#include <stdint.h>

#include "oci_admin_index.h"
#include "oci_admin_options.h"
#include "oci_admin_redis.h"
#include "oci_admin_set.h"
#include "oci_admin_store.h"


#define OCI_ADMIN_GROUPS        (OCI_ADMIN_REDIS_BATCH / 2)


/* an entry the index must have */

typedef struct {
    char               *subject;
    char               *digest;
    char               *descriptor;
    int                 fallback;       /* found through a fallback tag */
} oci_admin_referrer_t;


/* what Redis holds in the set of one artifactType of a pair */

typedef struct {
    char               *type;           /* malloc()ed, as are key */
    size_t              len;
    char               *key;
    size_t              key_len;
    redisReply         *zset;
} oci_admin_typeset_t;


/* the index of one (repository, subject) pair */

typedef struct {
    oci_admin_repo_t      *repo;
    const char            *subject;
    oci_admin_referrer_t  *entries;     /* what it must hold, by digest */
    size_t                 n;
    oci_admin_keys_t       keys;
    redisReply            *zset;
    redisReply            *hash;
    oci_admin_typeset_t   *types;       /* of the entries it must hold,
                                           and of the descriptors it has */
    size_t                 ntypes;
    const char            *scan_type;   /* the type of the key SCAN found */
    size_t                 scan_type_len;
} oci_admin_group_t;

/* pairs synchronized together, in one round trip */

typedef struct {
    oci_admin_group_t      g[OCI_ADMIN_GROUPS];
    size_t                 n;
} oci_admin_batch_t;


typedef struct {
    oci_admin_opts_t       opt;

    oci_admin_redis_t      redis;
    int                    redis_failed;
    int                    dry_run;     /* count the changes, write none */

    oci_admin_set_t        done;        /* "<name>@<subject>" synchronized */

    oci_admin_referrer_t  *entries;     /* of the repository being walked */
    size_t                 nentries;
    size_t                 entries_size;

    char                 **catalog;     /* the repositories walked */
    size_t                 ncatalog;
    size_t                 catalog_size;

    uint64_t               repositories;
    uint64_t               manifests;
    uint64_t               referrers;
    uint64_t               fallback;
    uint64_t               fallback_missing;
    uint64_t               added;
    uint64_t               removed;
    uint64_t               rewritten;
    uint64_t               catalog_added;
    uint64_t               catalog_removed;
    uint64_t               corrupt;
    uint64_t               errors;

    double                 start;
} oci_admin_reindex_t;


/* the batch's next group, cleared, for the caller to set up */
oci_admin_group_t *oci_admin_batch_next(oci_admin_batch_t *b);

/*
 * The group set up is in the batch, which is synchronized when full:
 * OCI_ADMIN_OK, or OCI_ADMIN_ABORT after a message (rx->redis_failed set
 * if Redis is the reason)
 */
int oci_admin_batch_add(oci_admin_reindex_t *rx, oci_admin_batch_t *b);

/*
 * Makes the index of the batch's pairs what it must be: reads what Redis
 * holds in two round trips (the sets per artifactType in the second),
 * then queues the changes.  Each pair is added to rx->done as
 * "<name>@<subject>", and each set it synchronized as
 * "<name>@<subject>}:type:<type>".  The same results.
 */
int oci_admin_batch_flush(oci_admin_reindex_t *rx, oci_admin_batch_t *b);


#endif /* _OCI_ADMIN_REINDEX_SYNC_H_INCLUDED_ */
