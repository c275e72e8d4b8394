
/*
 * oci-admin fsck: the repositories.  Their links in _blobs/ and
 * _manifests/; each manifest needs a usable ".type", must be valid with
 * it, and what it refers to (config, layers, index entries) must be in
 * the repository; each tag must name a stored manifest.
 */


#ifndef _OCI_ADMIN_FSCK_REPO_H_INCLUDED_
#define _OCI_ADMIN_FSCK_REPO_H_INCLUDED_


#include "oci_admin_fsck_problem.h"


/* every repository, and what does not belong under repositories/ */
void oci_admin_fsck_repos(oci_admin_fsck_t *fx);


#endif /* _OCI_ADMIN_FSCK_REPO_H_INCLUDED_ */
