
/*
 * oci-admin reindex: the pairs of the index the walk did not see.
 */


#ifndef _OCI_ADMIN_REINDEX_SCAN_H_INCLUDED_
#define _OCI_ADMIN_REINDEX_SCAN_H_INCLUDED_


#include <stddef.h>

#include "oci_admin_reindex_sync.h"


/*
 * One round of SCAN on rx->redis.nodes[node] from cursor, which is
 * updated (size bytes): the pairs whose keys it finds and rx->done does
 * not hold are synchronized.
 * OCI_ADMIN_OK, or OCI_ADMIN_ABORT after a message (rx->redis_failed set
 * if Redis is the reason).
 */
int oci_admin_reindex_scan(oci_admin_reindex_t *rx, size_t node,
    char *cursor, size_t size);


#endif /* _OCI_ADMIN_REINDEX_SCAN_H_INCLUDED_ */
