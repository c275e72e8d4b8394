
/*
 * oci-admin gc: the mark, for each repository, changing nothing.  The
 * manifests to keep are the tagged ones, the entries of kept indexes and
 * the referrers of kept manifests (both recursively), those younger than
 * --grace, orphaned referrers (their subject is not stored) younger than
 * --orphan-referrers-grace, and without --untagged simply all of them.
 * The blobs to keep are the config and layers of kept manifests.  What
 * is left, and older than the grace, is a candidate.  With
 * --unpulled-for, the tags that name a manifest gone go first.
 */


#ifndef _OCI_ADMIN_GC_MARK_H_INCLUDED_
#define _OCI_ADMIN_GC_MARK_H_INCLUDED_


#include "oci_admin_gc_run.h"


/*
 * The candidates of each repository into gx->repos.  A repository one of
 * whose manifests or tags cannot be read is not collected at all.
 * OCI_ADMIN_OK, or OCI_ADMIN_ABORT after a message (out of memory).
 */
int oci_admin_gc_mark(oci_admin_gc_t *gx);


#endif /* _OCI_ADMIN_GC_MARK_H_INCLUDED_ */
