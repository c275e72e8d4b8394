
/*
 * oci-admin gc --unpulled-for: what no client pulled for that long leaves
 * each repository before the mark (docs/admin.md).  A pull reads the
 * file, and the kernel records it in the inode's access time: with
 * relatime, once a day at most, and at the first read after a write, so
 * content a fill stored is fresh (docs/mirrors.md).
 *
 * First every repository is looked at, changing nothing: the links in
 * "_manifests" and "_blobs" whose inode was not accessed for
 * --unpulled-for, and that are older than the grace (a link made a
 * moment ago to content nobody pulled for long is a fresh one), are to
 * go.  Then they go, each checked again just before, as the sweep does:
 * the same inode, not changed, still not accessed.  The tags that name a
 * manifest not stored go when the mark comes to their repository.  The
 * access time is the inode's, shared by every repository that links the
 * content: a blob pulled through one of them is pulled for all.
 */


#ifndef _OCI_ADMIN_GC_EXPIRE_H_INCLUDED_
#define _OCI_ADMIN_GC_EXPIRE_H_INCLUDED_


#include "oci_admin_gc_run.h"


/*
 * Finds and removes (with --dry-run, names and counts) the links not
 * pulled for --unpulled-for.  OCI_ADMIN_OK, or OCI_ADMIN_ABORT after a
 * message (out of memory).
 */
int oci_admin_gc_expire(oci_admin_gc_t *gx);

/*
 * The tags of the repository that name a manifest whose link is gone (or
 * with --dry-run would go) are removed under their locks, if they still
 * do; before the repository is marked.
 */
void oci_admin_gc_expire_tags(oci_admin_gc_t *gx, oci_admin_repo_t *repo);

/*
 * --dry-run: whether the manifest (manifest 1) or the blob link of the
 * repository would have expired: the mark and the sweep take it for gone
 */
int oci_admin_gc_expired(oci_admin_gc_t *gx, int manifest, const char *repo,
    const char *digest);


#endif /* _OCI_ADMIN_GC_EXPIRE_H_INCLUDED_ */
