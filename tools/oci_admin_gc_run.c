
/*
 * oci-admin gc: ages, progress and candidates (oci_admin_gc_run.h).
 */


#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oci_admin_array.h"
#include "oci_admin_gc_run.h"
#include "oci_admin_index.h"
#include "oci_admin_message.h"
#include "oci_admin_store.h"


/* how far file times may lag the clock (--dry-run only) */
#define OCI_GC_MARGIN     (OCI_ADMIN_NS / 10)


static json_t *oci_admin_gc_would_list(oci_admin_gc_t *gx,
    oci_gc_would_e kind);


/* by oci_gc_would_e */

static const char  *oci_gc_would_key[] = {
    "manifests", "blob_links", "blob_files", "temporary",
    "manifests", "blob_links", "tags"
};

static const char  *oci_gc_would_text[] = {
    "manifest", "blob link", "blob file", "temporary file",
    "manifest", "blob link", "tag"
};

#define oci_gc_would_expires(kind)  ((kind) >= OCI_GC_WOULD_EXPIRE_MANIFEST)


int64_t
oci_admin_gc_t0(oci_admin_gc_t *gx)
{
    int          fd;
    char         path[OCI_ADMIN_PATH_LEN], id[64];
    struct stat  st;

    snprintf(id, sizeof(id), "oci-admin-gc.%ld", (long) getpid());

    if (!gx->dry_run
        && oci_admin_layout(path, gx->opt.storage, NGX_OCI_LAYOUT_TMP_FILE,
                            NULL, 0, id)
           > 0
        && oci_admin_mkdirs(path) == 0)
    {
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        if (fd != -1) {
            if (fstat(fd, &st) == 0) {
                close(fd);
                (void) unlink(path);
                return oci_admin_ctime(&st);
            }

            close(fd);
            (void) unlink(path);
        }
    }

    /* a dry run changes nothing: the clock, less what it may be ahead */

    return oci_admin_clock() - OCI_GC_MARGIN;
}


int64_t
oci_admin_gc_stamp(oci_admin_gc_t *gx, const struct stat *st)
{
    int64_t             m, c;
    oci_admin_inode_t  *e;

    m = oci_admin_mtime(st);
    c = oci_admin_ctime(st);

    e = oci_admin_imap_get(&gx->inodes, st->st_dev, st->st_ino, 0);

    if (e && e->a && e->a == c) {
        c = e->b;
    }

    return m > c ? m : c;
}


int
oci_admin_gc_old(oci_admin_gc_t *gx, int64_t stamp, int64_t grace)
{
    return oci_admin_clock() + gx->offset - stamp >= grace;
}


void
oci_admin_gc_touched(oci_admin_gc_t *gx, const struct stat *before, int fd)
{
    int64_t             b;
    struct stat         st;
    oci_admin_inode_t  *e;

    b = oci_admin_gc_stamp(gx, before);

    if (fstat(fd, &st) == -1 || st.st_nlink == 0) {
        return;
    }

    e = oci_admin_imap_get(&gx->inodes, st.st_dev, st.st_ino, 1);
    if (e == NULL) {
        /* it is only ever kept for longer */
        return;
    }

    e->a = oci_admin_ctime(&st);
    e->b = b;
}


int
oci_admin_gc_unlink(oci_admin_gc_t *gx, oci_gc_cand_t *c, const char *path,
    const char *type)
{
    int          fd;
    struct stat  st, tst;

    fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd == -1) {
        /* deleted meanwhile */
        return -1;
    }

    /* a pull moves the access time alone: the kernel's, on a read */

    if (fstat(fd, &st) == -1 || st.st_dev != c->dev || st.st_ino != c->ino
        || oci_admin_gc_stamp(gx, &st) > c->stamp
        || (c->unpulled && !oci_admin_gc_unpulled(gx, &st))
        || (type && lstat(type, &tst) == 0
            && oci_admin_gc_stamp(gx, &tst) > c->stamp))
    {
        close(fd);
        gx->changed++;
        return 0;
    }

    if (unlink(path) == 0) {
        oci_admin_gc_touched(gx, &st, fd);
        close(fd);
        return 1;
    }

    oci_admin_warn("%s: unlink(): %s", path, strerror(errno));
    gx->errors++;
    close(fd);

    return -1;
}


int
oci_admin_gc_unpulled(oci_admin_gc_t *gx, const struct stat *st)
{
    return gx->unpulled
           && oci_admin_gc_old(gx, oci_admin_atime(st), gx->unpulled);
}


void
oci_admin_gc_pending(oci_admin_gc_t *gx, oci_gc_cand_t *c)
{
    oci_admin_inode_t  *e;

    e = oci_admin_imap_get(&gx->inodes, c->dev, c->ino, 1);
    if (e) {
        e->n++;
    }
}


void
oci_admin_gc_unindex(oci_admin_gc_t *gx, oci_admin_repo_t *repo,
    oci_gc_cand_t *c)
{
    int                  rc;
    oci_admin_keys_t     keys;

    if (!gx->redis_on || gx->redis_failed || c->subject == NULL) {
        return;
    }

    if (oci_admin_keys_init(&keys, gx->opt.prefix, gx->opt.prefix_len,
                            repo->name, repo->name_len, c->subject)
        != 0)
    {
        gx->errors++;
        return;
    }

    rc = oci_admin_index_remove(&gx->redis, &keys, c->digest,
                                strlen(c->digest));

    gx->redis_failed |= (rc != 0);
    gx->unindexed += (rc == 0);

    oci_admin_keys_free(&keys);
}


void
oci_admin_gc_progress(oci_admin_gc_t *gx)
{
    oci_admin_progress("gc: %s: %llu repositories, %llu manifests, "
                       "%llu blob links, %llu swept, %llu blob files, "
                       "%.1f s", gx->phase,
                       (unsigned long long) gx->repositories,
                       (unsigned long long) gx->manifests,
                       (unsigned long long) gx->blob_links,
                       (unsigned long long) gx->swept,
                       (unsigned long long) gx->blob_files,
                       oci_admin_now() - gx->start);
}


void
oci_admin_gc_would(oci_admin_gc_t *gx, oci_gc_would_e kind,
    const char *repo, const char *name, int64_t size)
{
    json_t  *list, *e;

    if (!gx->opt.json) {
        if (repo) {
            oci_admin_say("would %s %s %s%c%s",
                          oci_gc_would_expires(kind) ? "expire" : "delete",
                          oci_gc_would_text[kind], repo,
                          kind == OCI_GC_WOULD_EXPIRE_TAG ? ':' : '@', name);

        } else {
            oci_admin_say("would delete %s %s (%lld bytes)",
                          oci_gc_would_text[kind], name, (long long) size);
        }

        return;
    }

    list = oci_admin_gc_would_list(gx, kind);

    e = repo ? json_pack("{ssss}", "repository", repo,
                         kind == OCI_GC_WOULD_EXPIRE_TAG ? "tag" : "digest",
                         name)
             : json_pack("{sssI}",
                         kind == OCI_GC_WOULD_BLOB_FILE ? "digest" : "path",
                         name, "bytes", (json_int_t) size);

    if (list == NULL || json_array_append_new(list, e) != 0) {
        oci_admin_warn("out of memory");
        gx->errors++;
    }
}


json_t *
oci_admin_gc_would_json(oci_admin_gc_t *gx)
{
    int      kind;
    json_t  *o;

    for (kind = 0; kind < OCI_GC_WOULD_N; kind++) {
        if ((gx->unpulled || !oci_gc_would_expires(kind))
            && oci_admin_gc_would_list(gx, kind) == NULL)
        {
            return NULL;
        }
    }

    o = gx->would;
    gx->would = NULL;

    return o;
}


/*
 * The array of one kind in gx->would, under "would_delete" or
 * "would_expire", made if need be; NULL out of memory
 */

static json_t *
oci_admin_gc_would_list(oci_admin_gc_t *gx, oci_gc_would_e kind)
{
    json_t      *group, *list;
    const char  *name;

    if (gx->would == NULL) {
        gx->would = json_object();
        if (gx->would == NULL) {
            return NULL;
        }
    }

    name = oci_gc_would_expires(kind) ? "would_expire" : "would_delete";

    group = json_object_get(gx->would, name);

    if (group == NULL) {
        group = json_object();

        if (json_object_set_new(gx->would, name, group) != 0) {
            return NULL;
        }
    }

    list = json_object_get(group, oci_gc_would_key[kind]);

    if (list == NULL) {
        list = json_array();

        if (json_object_set_new(group, oci_gc_would_key[kind], list) != 0) {
            return NULL;
        }
    }

    return list;
}


int
oci_admin_gc_cand_add(oci_gc_repo_t *r, int manifest, const char *digest,
    const char *subject, const struct stat *st, int64_t stamp)
{
    size_t          *n;
    oci_gc_cand_t  **list, *c;

    list = manifest ? &r->manifests : &r->blobs;
    n = manifest ? &r->nmanifests : &r->nblobs;

    c = oci_admin_array_room(*list, *n, manifest ? &r->manifests_size
                                                 : &r->blobs_size,
                             sizeof(oci_gc_cand_t), 4);
    if (c == NULL) {
        return -1;
    }

    *list = c;
    c = &(*list)[*n];

    memset(c, 0, sizeof(oci_gc_cand_t));

    c->digest = strdup(digest);
    c->subject = subject ? strdup(subject) : NULL;
    c->dev = st->st_dev;
    c->ino = st->st_ino;
    c->stamp = stamp;

    if (c->digest == NULL || (subject && c->subject == NULL)) {
        free(c->digest);
        free(c->subject);
        return -1;
    }

    (*n)++;

    return 0;
}


void
oci_admin_gc_repo_free(oci_gc_repo_t *r)
{
    size_t  i;

    for (i = 0; i < r->nmanifests; i++) {
        free(r->manifests[i].digest);
        free(r->manifests[i].subject);
    }

    for (i = 0; i < r->nblobs; i++) {
        free(r->blobs[i].digest);
    }

    free(r->manifests);
    free(r->blobs);
    free(r->name);

    memset(r, 0, sizeof(oci_gc_repo_t));
}
