
/*
 * oci-admin fsck: blobs/ and the links to it (oci_admin_fsck_content.h).
 */


#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oci_admin_digests.h"
#include "oci_admin_fsck_content.h"
#include "oci_admin_fsck_repair.h"
#include "oci_admin_message.h"


/* in messages */
#define OCI_FSCK_BLOBS        NGX_OCI_LAYOUT_BLOBS_DIR "/"

/* oci_admin_inode_t.n of a hashed inode */
#define OCI_FSCK_HASHED       1
#define OCI_FSCK_QUARANTINED  2


/* a repository's link being checked */

typedef struct {
    oci_admin_repo_t    *repo;
    oci_admin_digest_t  *d;
    ngx_oci_layout_e     what;

    char                 path[OCI_ADMIN_PATH_LEN];
    char                 blob[OCI_ADMIN_PATH_LEN];     /* its blobs/ file */
    const char          *rel;
    const char          *blob_rel;

    struct stat          st;
    struct stat          bst;
    int                  have_blob;
    int                  same;          /* the link is the blobs/ file */
    int                  blob_rc;       /* the blobs/ file's content */
    char                 actual[OCI_ADMIN_DIGEST_LEN + 1];
} oci_fsck_link_t;


static int oci_admin_fsck_blob_file(void *data, oci_admin_file_t *f);
static void oci_admin_fsck_blob(oci_admin_fsck_t *fx, oci_admin_digest_t *d,
    const char *path);
static int oci_admin_fsck_content(oci_admin_fsck_t *fx, const char *path,
    oci_admin_digest_t *d, struct stat *st, char *actual);
static void oci_admin_fsck_quarantined(oci_admin_fsck_t *fx,
    struct stat *st);
static int oci_admin_fsck_link_right(oci_admin_fsck_t *fx,
    oci_fsck_link_t *l);
static void oci_admin_fsck_link_copy(oci_admin_fsck_t *fx,
    oci_fsck_link_t *l);
static int oci_admin_fsck_link_corrupt(oci_admin_fsck_t *fx,
    oci_fsck_link_t *l);
static int oci_admin_fsck_link_away(oci_admin_fsck_t *fx, oci_fsck_link_t *l,
    char *action, size_t size);
static uint64_t oci_admin_fsck_prefix(const char *hex);


void
oci_admin_fsck_blobs(oci_admin_fsck_t *fx)
{
    (void) oci_admin_digests(fx->opt.storage, NULL, NGX_OCI_LAYOUT_BLOBS,
                             oci_admin_fsck_blob_file, fx, &fx->errors);
}


static int
oci_admin_fsck_blob_file(void *data, oci_admin_file_t *f)
{
    oci_admin_fsck_t  *fx = data;

    if (f->kind == OCI_ADMIN_FILE_STRAY) {
        oci_admin_fsck_stray(fx, f->rel, f->why);

    } else if (f->kind == OCI_ADMIN_FILE_DIGEST) {
        oci_admin_fsck_blob(fx, &f->d, f->path);
    }

    return OCI_ADMIN_OK;
}


static void
oci_admin_fsck_blob(oci_admin_fsck_t *fx, oci_admin_digest_t *d,
    const char *path)
{
    int          outcome;
    char         action[2 * OCI_ADMIN_PATH_LEN];
    char         actual[OCI_ADMIN_DIGEST_LEN + 1];
    const char  *rel;
    struct stat  st;

    fx->blob_files++;

    oci_admin_fsck_progress(fx);

    if (lstat(path, &st) == -1) {
        /* removed meanwhile */
        return;
    }

    if (oci_admin_fsck_content(fx, path, d, &st, actual)
        != OCI_ADMIN_CORRUPT)
    {
        return;
    }

    rel = oci_admin_rel(fx->opt.storage, path);
    outcome = OCI_FSCK_NOT_TRIED;
    action[0] = '\0';

    if (fx->repair) {
        outcome = oci_admin_fsck_quarantine(fx, rel, action, sizeof(action));

        if (outcome == OCI_FSCK_REPAIRED) {
            oci_admin_fsck_quarantined(fx, &st);
        }
    }

    oci_admin_fsck_problem(fx, OCI_FSCK_CORRUPT, NULL, d->str, outcome,
                           action, "%s: the content is %s", rel, actual);
}


/*
 * Does the file (st, from lstat()) hold the content of d?  Each inode is
 * hashed once: the map keeps the algorithm and the first 64 bits of what
 * it hashed to.  OCI_ADMIN_OK, OCI_ADMIN_CORRUPT with the digest found in
 * actual ("" when known from an earlier hash only), OCI_ADMIN_MISSING,
 * or OCI_ADMIN_ERROR after a warning.
 */

static int
oci_admin_fsck_content(oci_admin_fsck_t *fx, const char *path,
    oci_admin_digest_t *d, struct stat *st, char *actual)
{
    int                 fd, rc;
    char                hex[2 * NGX_OCI_SHA2_MAX_SIZE + 1], reason[256];
    struct stat         fst;
    oci_admin_inode_t  *e;

    actual[0] = '\0';

    e = oci_admin_imap_get(&fx->inodes, st->st_dev, st->st_ino, 0);

    if (e && e->b == d->alg) {
        return (uint64_t) e->a == oci_admin_fsck_prefix(
                                      oci_admin_digest_hex(d))
               ? OCI_ADMIN_OK : OCI_ADMIN_CORRUPT;
    }

    fd = oci_admin_open_read(path);
    if (fd == -1) {
        if (errno == ENOENT) {
            return OCI_ADMIN_MISSING;
        }

        oci_admin_warn("%s: open(): %s", path, strerror(errno));
        fx->errors++;
        return OCI_ADMIN_ERROR;
    }

    if (fstat(fd, &fst) == -1 || !S_ISREG(fst.st_mode)) {
        oci_admin_warn("%s: not a regular file", path);
        fx->errors++;
        close(fd);
        return OCI_ADMIN_ERROR;
    }

    *st = fst;

    rc = oci_admin_hash_fd(fd, d->alg, hex, &fx->bytes, reason,
                           sizeof(reason));
    close(fd);

    if (rc != OCI_ADMIN_OK) {
        oci_admin_warn("%s: %s", path, reason);
        fx->errors++;
        return OCI_ADMIN_ERROR;
    }

    snprintf(actual, OCI_ADMIN_DIGEST_LEN + 1, "%s:%s",
             oci_admin_digest_alg(d), hex);

    e = oci_admin_imap_get(&fx->inodes, fst.st_dev, fst.st_ino, 1);
    if (e == NULL) {
        oci_admin_warn("out of memory");
        fx->errors++;

    } else {
        e->a = (int64_t) oci_admin_fsck_prefix(hex);
        e->b = d->alg;
        e->n |= OCI_FSCK_HASHED;
    }

    return strcmp(hex, oci_admin_digest_hex(d)) == 0
           ? OCI_ADMIN_OK : OCI_ADMIN_CORRUPT;
}


/* the inode is in quarantine now: its other links need not go there */

static void
oci_admin_fsck_quarantined(oci_admin_fsck_t *fx, struct stat *st)
{
    oci_admin_inode_t  *e;

    e = oci_admin_imap_get(&fx->inodes, st->st_dev, st->st_ino, 1);
    if (e) {
        e->n |= OCI_FSCK_QUARANTINED;
    }
}


int
oci_admin_fsck_link(oci_admin_fsck_t *fx, oci_admin_repo_t *repo,
    ngx_oci_layout_e what, oci_admin_digest_t *d)
{
    int              rc;
    char             actual[OCI_ADMIN_DIGEST_LEN + 1];
    oci_fsck_link_t  l;

    l.repo = repo;
    l.d = d;
    l.what = what;

    if (oci_admin_repo_layout(l.path, repo, what, d->str) < 0
        || oci_admin_layout(l.blob, fx->opt.storage, NGX_OCI_LAYOUT_BLOB,
                            NULL, 0, d->str)
           < 0)
    {
        return -1;
    }

    l.rel = oci_admin_rel(fx->opt.storage, l.path);
    l.blob_rel = oci_admin_rel(fx->opt.storage, l.blob);

    if (lstat(l.path, &l.st) == -1) {
        return 0;
    }

    l.have_blob = (lstat(l.blob, &l.bst) == 0 && S_ISREG(l.bst.st_mode));
    l.same = l.have_blob && l.bst.st_dev == l.st.st_dev
             && l.bst.st_ino == l.st.st_ino;

    rc = oci_admin_fsck_content(fx, l.path, d, &l.st, l.actual);

    if (rc == OCI_ADMIN_MISSING || rc == OCI_ADMIN_ERROR) {
        return rc == OCI_ADMIN_MISSING ? 0 : -1;
    }

    /* the blobs/ file, when the link is not it */

    l.blob_rc = OCI_ADMIN_MISSING;

    if (l.have_blob && !l.same) {
        l.blob_rc = oci_admin_fsck_content(fx, l.blob, d, &l.bst, actual);
        if (l.blob_rc == OCI_ADMIN_ERROR) {
            return -1;
        }
    }

    return rc == OCI_ADMIN_OK ? oci_admin_fsck_link_right(fx, &l)
                              : oci_admin_fsck_link_corrupt(fx, &l);
}


/* the link's content is right: it must be the blobs/ file too */

static int
oci_admin_fsck_link_right(oci_admin_fsck_t *fx, oci_fsck_link_t *l)
{
    int   outcome;
    char  action[OCI_ADMIN_PATH_LEN + 64];

    if (l->same) {
        return 1;
    }

    if (l->blob_rc == OCI_ADMIN_CORRUPT) {
        /* without --repair only: the blobs/ pass quarantined it */
        oci_admin_fsck_problem(fx, OCI_FSCK_UNLINKED, l->repo->name,
                               l->d->str, oci_admin_fsck_left(fx),
                               "its " OCI_FSCK_BLOBS " file is still there",
                               "%s: not a hard link of %s, which is "
                               "corrupt", l->rel, l->blob_rel);
        return 1;
    }

    if (l->blob_rc == OCI_ADMIN_OK) {
        oci_admin_fsck_link_copy(fx, l);
        return 1;
    }

    outcome = OCI_FSCK_NOT_TRIED;
    snprintf(action, sizeof(action), "linked into " OCI_FSCK_BLOBS);

    if (fx->repair) {
        outcome = OCI_FSCK_REPAIRED;

        if ((oci_admin_mkdirs(l->blob) != 0 || link(l->path, l->blob) != 0)
            && errno != EEXIST)
        {
            outcome = OCI_FSCK_FAILED;
            snprintf(action, sizeof(action), "link(): %s", strerror(errno));
        }
    }

    oci_admin_fsck_problem(fx, OCI_FSCK_UNLINKED, l->repo->name, l->d->str,
                           outcome, action,
                           "%s: its " OCI_FSCK_BLOBS " file is missing",
                           l->rel);
    return 1;
}


/* a copy: a hard link of the blobs/ file takes its place */

static void
oci_admin_fsck_link_copy(oci_admin_fsck_t *fx, oci_fsck_link_t *l)
{
    int   outcome;
    char  tmp[OCI_ADMIN_PATH_LEN], action[OCI_ADMIN_PATH_LEN + 64];

    outcome = OCI_FSCK_NOT_TRIED;
    snprintf(action, sizeof(action), "replaced by a hard link");

    if (fx->repair) {
        outcome = OCI_FSCK_FAILED;

        if (oci_admin_fsck_tmp(fx, tmp) < 0) {
            snprintf(action, sizeof(action), "path too long");

        } else if (oci_admin_mkdirs(tmp) != 0 || link(l->blob, tmp) != 0
                   || rename(tmp, l->path) != 0)
        {
            snprintf(action, sizeof(action), "%s", strerror(errno));
            (void) unlink(tmp);

        } else {
            outcome = OCI_FSCK_REPAIRED;
        }
    }

    oci_admin_fsck_problem(fx, OCI_FSCK_UNLINKED, l->repo->name, l->d->str,
                           outcome, action,
                           "%s: a copy of %s, not a hard link of it",
                           l->rel, l->blob_rel);
}


/*
 * The link's content is corrupt: with --repair it goes to quarantine (or
 * only away, when its inode is there already), and an intact blobs/ file
 * takes its place
 */

static int
oci_admin_fsck_link_corrupt(oci_admin_fsck_t *fx, oci_fsck_link_t *l)
{
    char          type[OCI_ADMIN_PATH_LEN], action[2 * OCI_ADMIN_PATH_LEN];
    char          ignored[2 * OCI_ADMIN_PATH_LEN];
    const char   *actual;
    struct stat   st;

    actual = l->actual[0] ? l->actual : "something else";

    if (!fx->repair) {
        if (l->same) {
            oci_admin_fsck_problem(fx, OCI_FSCK_CORRUPT, l->repo->name,
                                   l->d->str, OCI_FSCK_NOT_TRIED, NULL,
                                   "%s: a hard link of %s, which is "
                                   "corrupt", l->rel, l->blob_rel);

        } else {
            oci_admin_fsck_problem(fx, OCI_FSCK_CORRUPT, l->repo->name,
                                   l->d->str, OCI_FSCK_NOT_TRIED, NULL,
                                   "%s: the content is %s", l->rel, actual);
        }

        return 0;
    }

    if (oci_admin_fsck_link_away(fx, l, action, sizeof(action)) != 0) {
        return 0;
    }

    if (l->blob_rc == OCI_ADMIN_OK && link(l->blob, l->path) == 0) {
        oci_admin_fsck_problem(fx, OCI_FSCK_CORRUPT, l->repo->name,
                               l->d->str, OCI_FSCK_REPAIRED, action,
                               "%s: the content is %s; linked to %s "
                               "instead", l->rel, actual, l->blob_rel);
        return 1;
    }

    /* a manifest's media type goes with it */

    if (l->what == NGX_OCI_LAYOUT_MANIFEST
        && oci_admin_repo_layout(type, l->repo, NGX_OCI_LAYOUT_MANIFEST_TYPE,
                                 l->d->str)
           > 0
        && lstat(type, &st) == 0)
    {
        (void) oci_admin_fsck_quarantine(fx,
                                         oci_admin_rel(fx->opt.storage, type),
                                         ignored, sizeof(ignored));
    }

    oci_admin_fsck_problem(fx, OCI_FSCK_CORRUPT, l->repo->name, l->d->str,
                           OCI_FSCK_REPAIRED, action, "%s: %s", l->rel,
                           l->same ? "a hard link of corrupt content"
                                   : "corrupt content");
    return 0;
}


/*
 * The corrupt link goes: to quarantine, or removed when the blobs/ pass
 * put the same inode there already (same inode, another name now).
 * action says what was done; 0, or -1 after the problem is told.
 */

static int
oci_admin_fsck_link_away(oci_admin_fsck_t *fx, oci_fsck_link_t *l,
    char *action, size_t size)
{
    oci_admin_inode_t  *e;

    e = oci_admin_imap_get(&fx->inodes, l->st.st_dev, l->st.st_ino, 0);

    if (e && (e->n & OCI_FSCK_QUARANTINED)) {
        l->same = 1;

        if (unlink(l->path) != 0 && errno != ENOENT) {
            snprintf(action, size, "unlink(): %s", strerror(errno));
            oci_admin_fsck_problem(fx, OCI_FSCK_CORRUPT, l->repo->name,
                                   l->d->str, OCI_FSCK_FAILED, action,
                                   "%s: a hard link of corrupt content",
                                   l->rel);
            return -1;
        }

        snprintf(action, size, "removed, the content is in quarantine");
        return 0;
    }

    if (oci_admin_fsck_quarantine(fx, l->rel, action, size)
        != OCI_FSCK_REPAIRED)
    {
        oci_admin_fsck_problem(fx, OCI_FSCK_CORRUPT, l->repo->name,
                               l->d->str, OCI_FSCK_FAILED, action,
                               "%s: the content is %s", l->rel,
                               l->actual[0] ? l->actual : "something else");
        return -1;
    }

    oci_admin_fsck_quarantined(fx, &l->st);

    return 0;
}


static uint64_t
oci_admin_fsck_prefix(const char *hex)
{
    int       i;
    uint64_t  v;

    v = 0;

    for (i = 0; i < 16 && hex[i]; i++) {
        v = (v << 4) | (uint64_t) (hex[i] <= '9' ? hex[i] - '0'
                                                 : hex[i] - 'a' + 10);
    }

    return v;
}
