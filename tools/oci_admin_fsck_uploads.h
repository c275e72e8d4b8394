
/*
 * oci-admin fsck: the upload sessions in _uploads/.  Their state must be
 * readable and agree with their data, and they must not be long
 * abandoned; with --repair such sessions are removed, as the module's
 * sweeper does.
 */


#ifndef _OCI_ADMIN_FSCK_UPLOADS_H_INCLUDED_
#define _OCI_ADMIN_FSCK_UPLOADS_H_INCLUDED_


#include "oci_admin_fsck_problem.h"


void oci_admin_fsck_uploads(oci_admin_fsck_t *fx);


#endif /* _OCI_ADMIN_FSCK_UPLOADS_H_INCLUDED_ */
