
/*
 * oci-admin fsck: content.  Every file of blobs/ is hashed and compared
 * with its name; each link of a repository must be a hard link of the
 * blobs/ file of its digest, or at least hold the right content.  Each
 * inode is hashed once.
 */


#ifndef _OCI_ADMIN_FSCK_CONTENT_H_INCLUDED_
#define _OCI_ADMIN_FSCK_CONTENT_H_INCLUDED_


#include "oci_admin_fsck_problem.h"
#include "oci_admin_store.h"


/* the files of blobs/ */
void oci_admin_fsck_blobs(oci_admin_fsck_t *fx);

/*
 * The repository's link "what" (NGX_OCI_LAYOUT_REPO_BLOB or
 * NGX_OCI_LAYOUT_MANIFEST) to d and the blobs/ file of d.  Returns 1 when
 * the link is there with the right content (after a repair, maybe), 0
 * when it is not, -1 on I/O errors.
 */
int oci_admin_fsck_link(oci_admin_fsck_t *fx, oci_admin_repo_t *repo,
    ngx_oci_layout_e what, oci_admin_digest_t *d);


#endif /* _OCI_ADMIN_FSCK_CONTENT_H_INCLUDED_ */
