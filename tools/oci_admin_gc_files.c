
/*
 * oci-admin gc: blobs/, _tmp/ and _uploads/ (oci_admin_gc_files.h).
 */


#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "oci_admin_digests.h"
#include "oci_admin_gc_files.h"
#include "oci_admin_message.h"


/* temporary files are collected a day after the grace */
#define OCI_GC_TMP_EXTRA  (86400 * OCI_ADMIN_NS)


static int oci_admin_gc_blob_file(void *data, oci_admin_file_t *f);
static int oci_admin_gc_blob_unused(oci_admin_gc_t *gx, struct stat *st);
static void oci_admin_gc_blob(oci_admin_gc_t *gx, const char *path,
    const char *digest);
static void oci_admin_gc_relink(oci_admin_gc_t *gx, const char *path,
    int fd);


void
oci_admin_gc_blobs(oci_admin_gc_t *gx)
{
    (void) oci_admin_digests(gx->opt.storage, NULL, NGX_OCI_LAYOUT_BLOBS,
                             oci_admin_gc_blob_file, gx, NULL);
}


static int
oci_admin_gc_blob_file(void *data, oci_admin_file_t *f)
{
    /* strays are for fsck to report, and a human to judge */

    if (f->kind == OCI_ADMIN_FILE_DIGEST) {
        oci_admin_gc_blob(data, f->path, f->d.str);
    }

    return OCI_ADMIN_OK;
}


/*
 * A file of blobs/ goes when it is its inode's only link, and old.  A
 * push that links it in the moment between the check and the unlink
 * finds it gone (and fails) or has linked it: then it is put back.
 */

static void
oci_admin_gc_blob(oci_admin_gc_t *gx, const char *path, const char *digest)
{
    int          fd;
    struct stat  st, fst;

    gx->blob_files++;

    oci_admin_gc_progress(gx);

    if (lstat(path, &st) == -1 || !S_ISREG(st.st_mode)
        || !oci_admin_gc_blob_unused(gx, &st))
    {
        return;
    }

    if (gx->dry_run) {
        oci_admin_gc_would(gx, OCI_GC_WOULD_BLOB_FILE, NULL, digest,
                           st.st_size);
        gx->del_files++;
        gx->del_bytes += st.st_size;
        return;
    }

    fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd == -1) {
        return;
    }

    if (fstat(fd, &fst) == -1 || fst.st_ino != st.st_ino
        || fst.st_dev != st.st_dev || fst.st_nlink != 1
        || oci_admin_gc_stamp(gx, &fst) != oci_admin_gc_stamp(gx, &st))
    {
        close(fd);
        gx->changed++;
        return;
    }

    if (unlink(path) != 0) {
        oci_admin_warn("%s: unlink(): %s", path, strerror(errno));
        gx->errors++;
        close(fd);
        return;
    }

    if (fstat(fd, &fst) == 0 && fst.st_nlink > 0) {
        oci_admin_gc_relink(gx, path, fd);
        close(fd);
        return;
    }

    close(fd);

    gx->del_files++;
    gx->del_bytes += st.st_size;
}


/* one link left (not counting those --dry-run would remove), and old */

static int
oci_admin_gc_blob_unused(oci_admin_gc_t *gx, struct stat *st)
{
    nlink_t             links;
    oci_admin_inode_t  *e;

    links = st->st_nlink;

    if (gx->dry_run) {
        e = oci_admin_imap_get(&gx->inodes, st->st_dev, st->st_ino, 0);

        if (e && e->n < links) {
            links -= e->n;
        }
    }

    if (links != 1) {
        return 0;
    }

    if (!oci_admin_gc_old(gx, oci_admin_gc_stamp(gx, st), gx->grace)) {
        gx->kept_young++;
        return 0;
    }

    return 1;
}


/* a push linked the inode while it was being deleted: it is put back */

static void
oci_admin_gc_relink(oci_admin_gc_t *gx, const char *path, int fd)
{
    char  proc[64];

    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);

    if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) != 0
        && errno != EEXIST)
    {
        oci_admin_warn("%s: linked by a push while being deleted, and "
                       "cannot be put back: %s; \"oci-admin fsck "
                       "--repair\" links it again", path, strerror(errno));
        gx->errors++;
    }

    gx->changed++;
}


/*
 * Files the module left in _tmp/ and _uploads/: its sweeper removes them
 * after oci_upload_timeout while nginx runs; these are a day past the
 * grace.  A session's data file another process holds locked stays.
 */

void
oci_admin_gc_tmp(oci_admin_gc_t *gx, ngx_oci_layout_e what)
{
    int             fd, data;
    char            dir[OCI_ADMIN_PATH_LEN], path[OCI_ADMIN_PATH_LEN];
    size_t          i;
    struct stat     st;
    oci_admin_ls_t  ls;

    if (oci_admin_layout(dir, gx->opt.storage, what, NULL, 0, NULL) < 0
        || oci_admin_ls(dir, &ls) != OCI_ADMIN_OK)
    {
        return;
    }

    for (i = 0; i < ls.n; i++) {

        /* the registry's invalidated referrers pages, left by a crash */

        if (ls.e[i].type == DT_DIR && what == NGX_OCI_LAYOUT_TMP
            && strncmp(ls.e[i].name, NGX_OCI_LAYOUT_TMP_PAGES,
                       sizeof(NGX_OCI_LAYOUT_TMP_PAGES) - 1) == 0
            && oci_admin_path(path, "%s/%s", dir, ls.e[i].name) >= 0
            && lstat(path, &st) == 0
            && oci_admin_gc_old(gx, oci_admin_mtime(&st),
                                gx->grace + OCI_GC_TMP_EXTRA)
            && !gx->dry_run)
        {
            if (oci_admin_rmtree(path, 3) != 0) {
                oci_admin_warn("%s: not removed: %s", path, strerror(errno));
                gx->errors++;
            }

            continue;
        }

        if (ls.e[i].type != DT_REG
            || oci_admin_path(path, "%s/%s", dir, ls.e[i].name) < 0
            || lstat(path, &st) == -1
            || !oci_admin_gc_old(gx, oci_admin_mtime(&st),
                                 gx->grace + OCI_GC_TMP_EXTRA))
        {
            continue;
        }

        fd = -1;

        if (what == NGX_OCI_LAYOUT_UPLOADS
            && oci_admin_upload_file(ls.e[i].name, &data) == 0 && data)
        {
            fd = oci_admin_upload_lock(path);
            if (fd < 0) {
                continue;
            }
        }

        if (!gx->dry_run && unlink(path) != 0) {
            if (errno != ENOENT) {
                oci_admin_warn("%s: unlink(): %s", path, strerror(errno));
                gx->errors++;
            }

        } else {
            if (gx->dry_run) {
                oci_admin_gc_would(gx, OCI_GC_WOULD_TEMPORARY, NULL, path,
                                   st.st_nlink == 1 ? st.st_size : 0);
            }

            gx->del_tmp++;
            gx->tmp_bytes += st.st_nlink == 1 ? (uint64_t) st.st_size : 0;
        }

        if (fd != -1) {
            close(fd);
        }
    }

    oci_admin_ls_free(&ls);
}
