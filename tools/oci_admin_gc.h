
/*
 * oci-admin gc: deletes blobs (and with --untagged, manifests) nothing
 * refers to (docs/admin.md).
 */


#ifndef _OCI_ADMIN_GC_H_INCLUDED_
#define _OCI_ADMIN_GC_H_INCLUDED_


/* argc and argv start at the subcommand's name; the exit status */
int oci_admin_gc(int argc, char **argv);


#endif /* _OCI_ADMIN_GC_H_INCLUDED_ */
