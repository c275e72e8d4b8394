
/*
 * oci-admin reindex: the catalog, the sorted set of the repositories
 * holding a "_manifests" directory (src/ngx_oci_index_schema.h).
 */


#ifndef _OCI_ADMIN_REINDEX_CATALOG_H_INCLUDED_
#define _OCI_ADMIN_REINDEX_CATALOG_H_INCLUDED_


#include <stddef.h>

#include "oci_admin_reindex_sync.h"


/* a repository the walk found: OCI_ADMIN_OK, or OCI_ADMIN_ABORT (memory) */
int oci_admin_reindex_catalog_add(oci_admin_reindex_t *rx, const char *name,
    size_t len);

/*
 * The catalog made equal to the repositories found: what Redis holds is
 * read in pages, then the names missing are added and the others
 * removed (counted only, with --dry-run).  OCI_ADMIN_OK, or
 * OCI_ADMIN_ABORT after a message (rx->redis_failed set if Redis is the
 * reason).
 */
int oci_admin_reindex_catalog(oci_admin_reindex_t *rx);


#endif /* _OCI_ADMIN_REINDEX_CATALOG_H_INCLUDED_ */
