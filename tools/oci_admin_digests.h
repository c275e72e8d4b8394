
/*
 * oci-admin: the directories of files named by their digest.  A
 * repository's "_blobs/<alg>/<hex>" and "_manifests/<alg>/<hex>" (with
 * "<hex>.type" beside), and "blobs/<alg>/<xx>/<hex>".
 */


#ifndef _OCI_ADMIN_DIGESTS_H_INCLUDED_
#define _OCI_ADMIN_DIGESTS_H_INCLUDED_


#include <stdint.h>

#include "oci_admin_store.h"


/* what a file found there is */
#define OCI_ADMIN_FILE_DIGEST   0       /* a regular file named by a digest */
#define OCI_ADMIN_FILE_TYPE     1       /* "<hex>.type", in "_manifests" */
#define OCI_ADMIN_FILE_STRAY    2       /* anything else */
#define OCI_ADMIN_FILE_DONE     3       /* the end of an "<alg>/" */

typedef struct {
    int                  kind;
    const char          *why;           /* of a stray */
    const char          *path;
    const char          *rel;           /* path under the storage root */
    oci_admin_digest_t   d;             /* of a digest or ".type" */
} oci_admin_file_t;

/* a file, in byte order: OCI_ADMIN_OK, or what stops the walk */
typedef int (*oci_admin_file_pt)(void *data, oci_admin_file_t *f);

/*
 * The files under "what" of root: NGX_OCI_LAYOUT_BLOBS, or of the
 * repository NGX_OCI_LAYOUT_REPO_BLOBS_DIR or NGX_OCI_LAYOUT_MANIFESTS_DIR.
 * Directories that cannot be listed are warned about and counted in
 * *errors if errors is not NULL; what does not belong there is a stray,
 * each directory that does not, not what it holds.  OCI_ADMIN_OK, or
 * what the callback returned to stop.
 */
int oci_admin_digests(const char *root, oci_admin_repo_t *repo,
    ngx_oci_layout_e what, oci_admin_file_pt file, void *data,
    uint64_t *errors);


#endif /* _OCI_ADMIN_DIGESTS_H_INCLUDED_ */
