
/*
 * oci-admin fsck: checks the storage and, with --repair, puts right what
 * can be put right without guessing (docs/admin.md).
 */


#ifndef _OCI_ADMIN_FSCK_H_INCLUDED_
#define _OCI_ADMIN_FSCK_H_INCLUDED_


/* argc and argv start at the subcommand's name; the exit status */
int oci_admin_fsck(int argc, char **argv);


#endif /* _OCI_ADMIN_FSCK_H_INCLUDED_ */
