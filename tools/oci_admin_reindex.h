
/*
 * oci-admin reindex: rebuilds the referrers index in Redis from the
 * storage (docs/admin.md).
 */


#ifndef _OCI_ADMIN_REINDEX_H_INCLUDED_
#define _OCI_ADMIN_REINDEX_H_INCLUDED_


/* argc and argv start at the subcommand's name; the exit status */
int oci_admin_reindex(int argc, char **argv);


#endif /* _OCI_ADMIN_REINDEX_H_INCLUDED_ */
