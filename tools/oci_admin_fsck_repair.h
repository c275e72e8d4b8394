
/*
 * oci-admin fsck: the means of its repairs, which never delete content:
 * the run's quarantine directory, and names for new files in _tmp/.
 */


#ifndef _OCI_ADMIN_FSCK_REPAIR_H_INCLUDED_
#define _OCI_ADMIN_FSCK_REPAIR_H_INCLUDED_


#include <stddef.h>

#include "oci_admin_fsck_problem.h"


/*
 * Renames <root>/<rel> to <root>/_quarantine/<time>/<rel>, the run's
 * directory made on first use.  OCI_FSCK_REPAIRED, action saying where
 * it went, or OCI_FSCK_FAILED, action saying why.
 */
int oci_admin_fsck_quarantine(oci_admin_fsck_t *fx, const char *rel,
    char *action, size_t size);

/* a path in _tmp/ no other file has: its length, or -1 */
int oci_admin_fsck_tmp(oci_admin_fsck_t *fx, char *tmp);


#endif /* _OCI_ADMIN_FSCK_REPAIR_H_INCLUDED_ */
