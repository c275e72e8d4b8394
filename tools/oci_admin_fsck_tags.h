
/*
 * oci-admin fsck: the tags of a repository.  Each must name a stored
 * manifest; with --repair, under the module's lock, one naming nothing is
 * removed and one holding no digest goes to quarantine.
 */


#ifndef _OCI_ADMIN_FSCK_TAGS_H_INCLUDED_
#define _OCI_ADMIN_FSCK_TAGS_H_INCLUDED_


#include "oci_admin_fsck_problem.h"
#include "oci_admin_store.h"


void oci_admin_fsck_tags(oci_admin_fsck_t *fx, oci_admin_repo_t *repo);


#endif /* _OCI_ADMIN_FSCK_TAGS_H_INCLUDED_ */
