
/*
 * oci-admin gc: the sweep, a repository at a time.  First the
 * repository's manifests and tags are looked at again, and whatever a
 * manifest pushed since the start refers to, or a tag now names, is no
 * candidate any more.  Then the candidates go, each checked again just
 * before (same inode, not changed since the mark).
 */


#ifndef _OCI_ADMIN_GC_SWEEP_H_INCLUDED_
#define _OCI_ADMIN_GC_SWEEP_H_INCLUDED_


#include "oci_admin_gc_run.h"


/* the candidates of r go, or with --dry-run are counted */
void oci_admin_gc_sweep(oci_admin_gc_t *gx, oci_gc_repo_t *r);


#endif /* _OCI_ADMIN_GC_SWEEP_H_INCLUDED_ */
