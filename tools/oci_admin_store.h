
/*
 * oci-admin: what fsck and gc need of the storage beyond the walker of
 * oci_admin_walk.c, which is built on the first two: sorted directory
 * listings, a walk that also finds repositories holding only blobs or
 * tags and reports what does not belong, file times, a map of inodes,
 * hashing of files, manifests read for inspection rather than for
 * serving, durations.
 */


#ifndef _OCI_ADMIN_STORE_H_INCLUDED_
#define _OCI_ADMIN_STORE_H_INCLUDED_


#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "oci_admin.h"


/* a directory's entries but "." and "..", sorted */

typedef struct {
    char           *name;
    unsigned char   type;       /* DT_DIR, DT_REG, DT_LNK or DT_UNKNOWN */
} oci_admin_name_t;

typedef struct {
    oci_admin_name_t  *e;
    size_t             n;
} oci_admin_ls_t;

/* OCI_ADMIN_OK, OCI_ADMIN_MISSING, or OCI_ADMIN_ERROR after a warning */
int oci_admin_ls(const char *path, oci_admin_ls_t *ls);
void oci_admin_ls_free(oci_admin_ls_t *ls);


/* snprintf() into an OCI_ADMIN_PATH_LEN buffer: the length, or -1 */
int oci_admin_path(char *buf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "blobs/<alg>/<xx>/<hex>" under root; -1 when too long */
int oci_admin_blob_path(char *buf, const char *root, oci_admin_digest_t *d);

/* creates the missing parent directories of path, mode 0700: 0 or -1 */
int oci_admin_mkdirs(const char *path);


/*
 * Times, in nanoseconds since the epoch.  A file's stamp is the later of
 * its mtime and ctime: ctime moves when a hard link to the inode is made
 * or removed, so a link made a minute ago to old content is a minute old.
 */

#define OCI_ADMIN_NS  1000000000LL

int64_t oci_admin_clock(void);
int64_t oci_admin_mtime(const struct stat *st);
int64_t oci_admin_ctime(const struct stat *st);
int64_t oci_admin_stamp(const struct stat *st);

/*
 * "30s", "10m", "1h", "7d", "2w" or a number of seconds: 0, or -1 when
 * it is none of these or more than 100 years
 */
int oci_admin_duration(const char *s, int64_t *seconds);


/* a map from inodes to what a run knows of them */

typedef struct {
    dev_t       dev;
    ino_t       ino;
    int64_t     a;
    int64_t     b;
    uint32_t    n;
    uint32_t    used;
} oci_admin_inode_t;

typedef struct {
    oci_admin_inode_t  *slots;
    size_t              size;           /* a power of two */
    size_t              count;
} oci_admin_imap_t;

/* the entry, NULL if absent; with "create", NULL means out of memory */
oci_admin_inode_t *oci_admin_imap_get(oci_admin_imap_t *m, dev_t dev,
    ino_t ino, int create);
void oci_admin_imap_free(oci_admin_imap_t *m);


/*
 * The digest of what fd reads to its end, hex into hex[] (129 bytes),
 * the bytes read added to *bytes.  OCI_ADMIN_OK, or OCI_ADMIN_ERROR with
 * the reason.
 */
int oci_admin_hash_fd(int fd, int alg, char *hex, uint64_t *bytes,
    char *reason, size_t reason_len);

void oci_admin_hex(const u_char *md, size_t len, char *hex);


/*
 * The repositories under <root>/repositories, depth first, each
 * directory's entries in byte order.  A directory is a repository if it
 * holds "_manifests", "_blobs" or "_tags", so one that only ever had
 * blobs pushed is one too.  For each repository, cb(OCI_ADMIN_REPO_OK)
 * or cb(OCI_ADMIN_REPO_INVALID) when its path is not a valid name; for
 * each entry that does not belong (anything but a directory, a directory
 * starting with "." or "_" other than a repository's own three),
 * cb(OCI_ADMIN_REPO_STRAY) with the path relative to <root>.  Symbolic
 * links are not followed.  cb returns OCI_ADMIN_OK or OCI_ADMIN_ABORT;
 * unreadable directories are warned about and counted in *errors.
 */

#define OCI_ADMIN_REPO_OK       0
#define OCI_ADMIN_REPO_INVALID  1
#define OCI_ADMIN_REPO_STRAY    2

typedef int (*oci_admin_repo_pt)(void *data, int what, const char *name,
    size_t len);

int oci_admin_repos(const char *root, oci_admin_repo_pt cb, void *data,
    uint64_t *errors);


/* the names of a repository's "_tags": valid tags, sorted */
int oci_admin_tag_names(oci_admin_repo_t *repo, oci_admin_ls_t *ls);

/*
 * flock(LOCK_EX) on "_tags/.lock", the module's lock for tag changes,
 * waiting for it: the module holds it for a few system calls.  The
 * descriptor to close(), or -1 after a warning.
 */
int oci_admin_tags_lock(oci_admin_repo_t *repo);


/* a manifest link as found, for inspection */

#define OCI_ADMIN_MANIFEST_MAX  (64 * 1024 * 1024)

typedef struct {
    struct stat          st;            /* of the link */
    u_char              *data;
    size_t               len;

    int                  hash_ok;       /* the bytes hash to the name */
    char                 actual[OCI_ADMIN_DIGEST_LEN + 1];

    int                  type_rc;       /* OK, MISSING or CORRUPT */
    struct stat          type_st;       /* valid unless MISSING */
    size_t               type_len;
    char                 type[OCI_ADMIN_TYPE_LEN + 1];

    int                  parse_rc;      /* NGX_OCI_MANIFEST_* */
    ngx_oci_manifest_t   m;             /* valid if parse_rc is OK */

    char                 reason[512];
} oci_admin_mf_t;

/*
 * Reads "_manifests/<alg>/<hex>" of the repository (not following a
 * symbolic link) and its ".type", hashes the bytes and parses them with
 * the ".type" as Content-Type when it is usable, else with none (the
 * module's rule for a push without Content-Type).  OCI_ADMIN_OK with the
 * findings in mf, OCI_ADMIN_MISSING (no link), OCI_ADMIN_CORRUPT (not a
 * regular file, or too large) or OCI_ADMIN_ERROR, with mf->reason.
 * oci_admin_mf_free() must be called whatever the result.
 */
int oci_admin_mf_read(oci_admin_repo_t *repo, oci_admin_digest_t *d,
    oci_admin_mf_t *mf);
void oci_admin_mf_free(oci_admin_mf_t *mf);


/*
 * What a manifest refers to: the digests of its config and layers (also
 * non-distributable ones, the registry may hold them) and of its index
 * entries, and its subject.  Strings are malloc()ed; -1 out of memory.
 */

typedef struct {
    char      **blobs;
    size_t      nblobs;
    char      **children;
    size_t      nchildren;
    char       *subject;
} oci_admin_refs_t;

int oci_admin_refs_get(ngx_oci_manifest_t *m, oci_admin_refs_t *refs);
void oci_admin_refs_free(oci_admin_refs_t *refs);


#endif /* _OCI_ADMIN_STORE_H_INCLUDED_ */
