
/*
 * oci-admin reindex: what the walk (oci_admin_reindex.c) and the Redis
 * side (oci_admin_reindex_sync.c) share.
 */


#ifndef _OCI_ADMIN_REINDEX_H_INCLUDED_
#define _OCI_ADMIN_REINDEX_H_INCLUDED_


#include "oci_admin.h"


#define OCI_ADMIN_GROUPS        (OCI_ADMIN_REDIS_BATCH / 2)


/* an entry the index must have */

typedef struct {
    char       *subject;
    char       *digest;
    char       *descriptor;
    int         fallback;       /* found through a fallback tag */
} oci_admin_entry_t;


/* the index of one (repository, subject) pair */

typedef struct {
    oci_admin_repo_t   *repo;
    const char         *subject;
    oci_admin_entry_t  *entries;        /* what it must hold, by digest */
    size_t              n;
    char               *refs;
    char               *desc;
    size_t              refs_len;
    size_t              desc_len;
    redisReply         *zset;
    redisReply         *hash;
} oci_admin_group_t;


typedef struct {
    oci_admin_opts_t    opt;

    oci_admin_redis_t   redis;
    int                 redis_failed;

    oci_admin_set_t     done;           /* "<name>@<subject>" synchronized */

    oci_admin_entry_t  *entries;        /* of the repository being walked */
    size_t              nentries;
    size_t              entries_size;

    uint64_t            repositories;
    uint64_t            manifests;
    uint64_t            referrers;
    uint64_t            fallback;
    uint64_t            fallback_missing;
    uint64_t            added;
    uint64_t            removed;
    uint64_t            rewritten;
    uint64_t            corrupt;
    uint64_t            errors;

    double              start;
} oci_admin_reindex_t;


void oci_admin_reindex_progress(oci_admin_reindex_t *rx, int force);

/* "<alg>-<64 lowercase hex digits>" */
int oci_admin_fallback_tag_valid(const char *tag);

/* the fallback tag of a subject, 72 bytes with the NUL */
void oci_admin_fallback_tag(oci_admin_digest_t *subject, char *tag);

/*
 * Makes the index of up to OCI_ADMIN_GROUPS pairs what it must be: reads
 * what Redis holds in one round trip, then queues the changes.  Each
 * pair is added to rx->done.  OCI_ADMIN_OK, or OCI_ADMIN_ABORT after a
 * message (rx->redis_failed set if Redis is the reason).
 */
int oci_admin_reindex_sync(oci_admin_reindex_t *rx, oci_admin_group_t *g,
    size_t n);

/* the same for the pairs that SCAN finds and rx->done does not hold */
int oci_admin_reindex_scan(oci_admin_reindex_t *rx);


#endif /* _OCI_ADMIN_REINDEX_H_INCLUDED_ */
