
/*
 * oci-admin gc: after the sweep, files in blobs/ that no repository links
 * (one link left) and older than the grace, and old leftovers in _tmp/
 * and _uploads/.
 */


#ifndef _OCI_ADMIN_GC_FILES_H_INCLUDED_
#define _OCI_ADMIN_GC_FILES_H_INCLUDED_


#include "ngx_oci_layout.h"
#include "oci_admin_gc_run.h"


void oci_admin_gc_blobs(oci_admin_gc_t *gx);

/* "what" is NGX_OCI_LAYOUT_TMP or NGX_OCI_LAYOUT_UPLOADS */
void oci_admin_gc_tmp(oci_admin_gc_t *gx, ngx_oci_layout_e what);


#endif /* _OCI_ADMIN_GC_FILES_H_INCLUDED_ */
