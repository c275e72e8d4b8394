
/*
 * oci-admin: the storage as src/ngx_oci_layout.h lays it out.  Digests
 * and repositories, the absolute paths of the layout, and tags.
 */


#ifndef _OCI_ADMIN_STORE_H_INCLUDED_
#define _OCI_ADMIN_STORE_H_INCLUDED_


#include <stddef.h>
#include <sys/types.h>

#include "ngx_oci_grammar.h"
#include "ngx_oci_layout.h"
#include "oci_admin_defs.h"
#include "oci_admin_fs.h"


#define OCI_ADMIN_TYPE_LEN      256

/* "sha256:" and "sha512:" are both 7 bytes long */
#define OCI_ADMIN_ALG_LEN       7
#define OCI_ADMIN_DIGEST_LEN    (OCI_ADMIN_ALG_LEN + 128)


/* a digest of a supported algorithm, as "<alg>:<hex>" */

typedef struct {
    int       alg;                          /* NGX_OCI_SHA256 or _SHA512 */
    size_t    len;                          /* of str */
    char      str[OCI_ADMIN_DIGEST_LEN + 1];
} oci_admin_digest_t;

#define oci_admin_digest_hex(d)  ((d)->str + OCI_ADMIN_ALG_LEN)
#define oci_admin_digest_alg(d)                                              \
    ((d)->alg == NGX_OCI_SHA512 ? "sha512" : "sha256")

/* 0, or -1 when p is not a sha256 or sha512 digest */
int oci_admin_digest_set(oci_admin_digest_t *d, const char *p, size_t len);


/* a repository: its name and directory */

typedef struct {
    const char  *root;
    size_t       name_len;
    char         name[NGX_OCI_NAME_MAX_LEN + 1];
    char         path[OCI_ADMIN_PATH_LEN];    /* <root>/repositories/<name> */
} oci_admin_repo_t;

/* 0, or -1 when the name is not valid or the path too long */
int oci_admin_repo_init(oci_admin_repo_t *repo, const char *root,
    const char *name, size_t len);


/*
 * "<root>/" and the path of "what" that ngx_oci_layout_path() gives for
 * the repository name and ref (a digest, tag or id, NUL-terminated), into
 * an OCI_ADMIN_PATH_LEN buffer: the length, or -1 when it does not fit
 */
int oci_admin_layout(char *buf, const char *root, ngx_oci_layout_e what,
    const char *name, size_t name_len, const char *ref);

/* the same for a path of the repository */
int oci_admin_repo_layout(char *buf, oci_admin_repo_t *repo,
    ngx_oci_layout_e what, const char *ref);

/*
 * Drops the cached referrers pages of the repository for one subject, or
 * for all (subject NULL): the directory is renamed into _tmp/ first, so
 * the registry's readers that hold it publish into a dead directory, then
 * removed.  0 (also when nothing was cached), or -1 after a warning.
 */
int oci_admin_pages_drop(oci_admin_repo_t *repo, const char *subject);

/* path relative to the storage root, when it is under it */
const char *oci_admin_rel(const char *root, const char *path);


/*
 * The registry serves a manifest while both "_manifests/<alg>/<hex>", a
 * regular file, and its ".type" exist: 1 if so, else 0
 */
int oci_admin_manifest_stored(oci_admin_repo_t *repo, oci_admin_digest_t *d);


/* what an entry of "_tags" is */
#define OCI_ADMIN_TAG           0
#define OCI_ADMIN_TAG_LOCK      1       /* a tag's lock, while held */
#define OCI_ADMIN_TAG_STRAY     2

/*
 * The entries of the repository's "_tags", sorted: OCI_ADMIN_OK,
 * OCI_ADMIN_MISSING (no tags), or OCI_ADMIN_ERROR after a warning
 */
int oci_admin_tags_ls(oci_admin_repo_t *repo, oci_admin_ls_t *ls);

/* OCI_ADMIN_TAG, _TAG_LOCK or _TAG_STRAY; why, if not NULL, says why */
int oci_admin_tag_kind(oci_admin_name_t *e, const char **why);

/*
 * The digest a tag points to: OCI_ADMIN_OK, OCI_ADMIN_MISSING,
 * OCI_ADMIN_CORRUPT (the file does not hold a digest), or
 * OCI_ADMIN_ERROR after a warning
 */
int oci_admin_tag_read(oci_admin_repo_t *repo, const char *tag,
    oci_admin_digest_t *d);

/* "<id>.data" or "<id>.state" of an upload session: 0, *data set; or -1 */
int oci_admin_upload_file(const char *name, int *data);

/*
 * Locks the data file of an upload session as the module's sweeper does,
 * so that no request takes the session meanwhile: the descriptor to
 * close(); -1 with errno when it cannot be opened; -2 when a request
 * holds it
 */
int oci_admin_upload_lock(const char *path);

/*
 * The tag's lock, the file "_tags/.<tag>.lock" the module creates with
 * O_EXCL, waiting for it: the module holds it for a few system calls
 * (one older than OCI_ADMIN_TAG_LOCK_STALE seconds is a dead worker's
 * and is removed).  0 when held, to let go with oci_admin_tag_unlock();
 * -1 after a warning.
 */
#define OCI_ADMIN_TAG_LOCK_STALE  30

int oci_admin_tag_lock(oci_admin_repo_t *repo, const char *tag);
void oci_admin_tag_unlock(oci_admin_repo_t *repo, const char *tag);


#endif /* _OCI_ADMIN_STORE_H_INCLUDED_ */
