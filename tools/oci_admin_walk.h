
/*
 * oci-admin: the repository walker.
 *
 * Repositories are the directories under <root>/repositories holding
 * "_manifests", "_blobs" or "_tags", so one that only ever had blobs
 * pushed is one too.  The tree is walked depth first, the entries of each
 * directory in byte order, so a repository comes before the ones nested
 * in it.  For each: repo(), then, if set, manifest() for each
 * "_manifests/<alg>/<hex>" in order and tag() for each tag in order,
 * then repo_done().  Any callback may be NULL.  A callback returns
 * OCI_ADMIN_OK, OCI_ADMIN_SKIP (go on with the next repository,
 * repo_done() is not called) or OCI_ADMIN_ABORT (oci_admin_walk() returns
 * OCI_ADMIN_ABORT at once).
 *
 * Entries that do not belong (anything but a directory, a directory
 * starting with "." or "_" other than a repository's own four, the
 * fourth being the registry's "_referrers" cache) go to
 * stray(), with their path under the root.  A repository whose name is
 * not valid goes to invalid(), or is skipped with a warning and counted.
 * Symbolic links are not followed.  Unreadable directories are warned
 * about and counted in "errors".
 */


#ifndef _OCI_ADMIN_WALK_H_INCLUDED_
#define _OCI_ADMIN_WALK_H_INCLUDED_


#include <stdint.h>

#include "oci_admin_store.h"


typedef struct oci_admin_walk_s  oci_admin_walk_t;

struct oci_admin_walk_s {
    const char  *root;
    void        *data;

    /* repositories without "_manifests" are not walked */
    unsigned     manifests_only:1;

    int        (*stray)(oci_admin_walk_t *w, const char *rel);
    int        (*invalid)(oci_admin_walk_t *w, const char *name,
                          size_t len);
    int        (*repo)(oci_admin_walk_t *w, oci_admin_repo_t *repo);
    int        (*manifest)(oci_admin_walk_t *w, oci_admin_repo_t *repo,
                           oci_admin_digest_t *d);
    int        (*tag)(oci_admin_walk_t *w, oci_admin_repo_t *repo,
                      const char *tag);
    int        (*repo_done)(oci_admin_walk_t *w, oci_admin_repo_t *repo);

    uint64_t     invalid_names;
    uint64_t     errors;
};

/* OCI_ADMIN_OK, or OCI_ADMIN_ABORT from a callback */
int oci_admin_walk(oci_admin_walk_t *w);


#endif /* _OCI_ADMIN_WALK_H_INCLUDED_ */
