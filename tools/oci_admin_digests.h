
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

typedef struct {
    int                  kind;
    const char          *why;           /* of a stray */
    const char          *path;
    const char          *rel;           /* path under the storage root */
    oci_admin_digest_t   d;             /* of a digest or ".type" */
} oci_admin_file_t;


typedef struct oci_admin_digests_s  oci_admin_digests_t;

struct oci_admin_digests_s {
    void        *data;

    /* each entry, in byte order: OCI_ADMIN_OK, or OCI_ADMIN_ABORT */
    int        (*file)(oci_admin_digests_t *ds, oci_admin_file_t *f);

    /* after the files of each "<alg>/", if not NULL: the same */
    int        (*done)(oci_admin_digests_t *ds);

    uint64_t     errors;                /* directories not listed */
};

/*
 * The files under "what" of root: NGX_OCI_LAYOUT_BLOBS, or of the
 * repository NGX_OCI_LAYOUT_REPO_BLOBS_DIR or NGX_OCI_LAYOUT_MANIFESTS_DIR.
 * Directories that cannot be listed are warned about and counted; what
 * does not belong there is a stray, each directory that does not, not
 * what it holds.  OCI_ADMIN_OK, or OCI_ADMIN_ABORT from a callback.
 */
int oci_admin_digests(oci_admin_digests_t *ds, const char *root,
    oci_admin_repo_t *repo, ngx_oci_layout_e what);


#endif /* _OCI_ADMIN_DIGESTS_H_INCLUDED_ */
