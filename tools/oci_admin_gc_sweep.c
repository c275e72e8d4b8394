
/*
 * oci-admin gc: the sweep (oci_admin_gc_sweep.h).
 */


#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oci_admin_digests.h"
#include "oci_admin_gc_expire.h"
#include "oci_admin_gc_sweep.h"
#include "oci_admin_manifest.h"
#include "oci_admin_message.h"


/* how deep index entries and referrers are followed */
#define OCI_GC_DEPTH      64

/* manifests removed between two readings of the tags */
#define OCI_GC_BATCH      64


typedef struct {
    oci_admin_gc_t     *gx;
    oci_gc_repo_t      *r;
    oci_admin_repo_t    repo;
    oci_admin_set_t     visited;        /* kept, but no candidates */
} oci_gc_sweep_t;


static void oci_admin_gc_sweep_manifests(oci_gc_sweep_t *s);
static void oci_admin_gc_sweep_links(oci_gc_sweep_t *s);
static void oci_admin_gc_rescan(oci_gc_sweep_t *s);
static int oci_admin_gc_rescan_file(void *data, oci_admin_file_t *f);
static void oci_admin_gc_retag(oci_gc_sweep_t *s);
static void oci_admin_gc_unmark(oci_gc_sweep_t *s, const char *digest,
    int depth);
static int oci_admin_gc_follow(oci_gc_sweep_t *s, const char *digest,
    oci_admin_refs_t *refs);
static oci_gc_cand_t *oci_admin_gc_cand_find(oci_gc_cand_t *list, size_t n,
    const char *digest);
static int oci_admin_gc_cand_cmp(const void *digest, const void *c);
static int oci_admin_gc_manifest(oci_gc_sweep_t *s, oci_gc_cand_t *c);
static void oci_admin_gc_settle(oci_gc_sweep_t *s, oci_gc_cand_t **gone,
    size_t n);
static void oci_admin_gc_relink(oci_gc_sweep_t *s, oci_gc_cand_t *c);
static void oci_admin_gc_link(oci_gc_sweep_t *s, oci_gc_cand_t *c);


void
oci_admin_gc_sweep(oci_admin_gc_t *gx, oci_gc_repo_t *r)
{
    oci_gc_sweep_t  s;

    memset(&s, 0, sizeof(oci_gc_sweep_t));

    s.gx = gx;
    s.r = r;

    if (oci_admin_repo_init(&s.repo, gx->opt.storage, r->name,
                            strlen(r->name))
        != 0)
    {
        return;
    }

    oci_admin_gc_rescan(&s);

    if (!r->unsure) {
        oci_admin_gc_sweep_manifests(&s);
    }

    if (!r->unsure) {
        oci_admin_gc_sweep_links(&s);

    } else {
        oci_admin_warn("%s: not collected: a manifest it refers to cannot "
                       "be read or is not valid; \"oci-admin fsck\" tells "
                       "more", s.repo.path);
        gx->skipped++;
    }

    oci_admin_set_free(&s.visited);
}


/*
 * The module takes no lock over all the tags: a push writes its tag,
 * then looks at its manifest and stores it again if it is gone. So
 * manifests are removed in batches, each between two readings of the
 * tags: before, to keep what the tags name; after, to bring back a
 * manifest a tag came to name in between (its link only is removed
 * until then, its ".type" stays).
 */

static void
oci_admin_gc_sweep_manifests(oci_gc_sweep_t *s)
{
    size_t           i, n;
    oci_gc_cand_t   *c, *gone[OCI_GC_BATCH];
    oci_admin_gc_t  *gx;

    gx = s->gx;
    n = 0;

    for (i = 0; i < s->r->nmanifests && !s->r->unsure; i++) {
        c = &s->r->manifests[i];

        if (c->keep) {
            continue;
        }

        if (gx->dry_run) {
            oci_admin_gc_pending(gx, c);
            oci_admin_gc_would(gx, OCI_GC_WOULD_MANIFEST, s->r->name,
                               c->digest, 0);
            gx->del_manifests++;
            gx->unindexed += (gx->redis_on && c->subject);
            continue;
        }

        if (n == 0) {
            oci_admin_gc_retag(s);

            if (c->keep || s->r->unsure) {
                continue;
            }
        }

        if (oci_admin_gc_manifest(s, c) == 1) {
            gone[n++] = c;
        }

        if (n == OCI_GC_BATCH) {
            oci_admin_gc_settle(s, gone, n);
            n = 0;
        }
    }

    if (n) {
        oci_admin_gc_settle(s, gone, n);
    }
}


/*
 * The tags are read again: a manifest removed that a tag names now is
 * linked back; the others lose their ".type" and their index entry.
 */

static void
oci_admin_gc_settle(oci_gc_sweep_t *s, oci_gc_cand_t **gone, size_t n)
{
    char         path[OCI_ADMIN_PATH_LEN], type[OCI_ADMIN_PATH_LEN];
    size_t       i;
    struct stat  st;

    for (i = 0; i < n; i++) {
        gone[i]->keep = 0;
    }

    /* an error reading them: unsure, so everything comes back */

    oci_admin_gc_retag(s);

    for (i = 0; i < n; i++) {
        if (gone[i]->keep || s->r->unsure) {
            oci_admin_gc_relink(s, gone[i]);
            continue;
        }

        if (oci_admin_repo_layout(path, &s->repo, NGX_OCI_LAYOUT_MANIFEST,
                                  gone[i]->digest)
            < 0
            || oci_admin_repo_layout(type, &s->repo,
                                     NGX_OCI_LAYOUT_MANIFEST_TYPE,
                                     gone[i]->digest)
               < 0)
        {
            continue;
        }

        /* pushed again meanwhile: its ".type" is its push's */

        if (lstat(path, &st) == 0) {
            s->gx->changed++;
            continue;
        }

        if (unlink(type) != 0 && errno != ENOENT) {
            oci_admin_warn("%s: unlink(): %s", type, strerror(errno));
            s->gx->errors++;
        }

        s->gx->del_manifests++;

        oci_admin_gc_unindex(s->gx, &s->repo, gone[i]);

        /* after the index: no cached page of the subject may list it */

        if (gone[i]->subject
            && oci_admin_pages_drop(&s->repo, gone[i]->subject) != 0)
        {
            s->gx->errors++;
        }
    }
}


/* a tag came to name it while it was removed: back from blobs/ */

static void
oci_admin_gc_relink(oci_gc_sweep_t *s, oci_gc_cand_t *c)
{
    char  path[OCI_ADMIN_PATH_LEN], blob[OCI_ADMIN_PATH_LEN];

    if (oci_admin_repo_layout(path, &s->repo, NGX_OCI_LAYOUT_MANIFEST,
                              c->digest)
        < 0
        || oci_admin_layout(blob, s->gx->opt.storage, NGX_OCI_LAYOUT_BLOB,
                            NULL, 0, c->digest)
           < 0)
    {
        s->gx->errors++;
        return;
    }

    if (link(blob, path) != 0 && errno != EEXIST) {
        oci_admin_warn("%s: link() back from %s: %s", path, blob,
                       strerror(errno));
        s->gx->errors++;
        return;
    }

    s->gx->changed++;
}


static void
oci_admin_gc_sweep_links(oci_gc_sweep_t *s)
{
    size_t  i;

    for (i = 0; i < s->r->nblobs; i++) {
        if (s->r->blobs[i].keep) {
            continue;
        }

        if (s->gx->dry_run) {
            oci_admin_gc_pending(s->gx, &s->r->blobs[i]);
            oci_admin_gc_would(s->gx, OCI_GC_WOULD_BLOB_LINK, s->r->name,
                               s->r->blobs[i].digest, 0);
            s->gx->del_links++;
            continue;
        }

        oci_admin_gc_link(s, &s->r->blobs[i]);
    }
}


/*
 * Manifests pushed since the start (their link or ".type" is newer), or
 * for candidates, since the mark; and manifests tags name now: they are
 * kept, and what they refer to
 */

static void
oci_admin_gc_rescan(oci_gc_sweep_t *s)
{
    (void) oci_admin_digests(s->gx->opt.storage, &s->repo,
                             NGX_OCI_LAYOUT_MANIFESTS_DIR,
                             oci_admin_gc_rescan_file, s, NULL);

    oci_admin_gc_retag(s);
}


static int
oci_admin_gc_rescan_file(void *data, oci_admin_file_t *f)
{
    char             type[OCI_ADMIN_PATH_LEN];
    int64_t          stamp, t;
    struct stat      st;
    oci_gc_cand_t   *c;
    oci_gc_sweep_t  *s = data;

    if (f->kind != OCI_ADMIN_FILE_DIGEST
        || oci_admin_repo_layout(type, &s->repo, NGX_OCI_LAYOUT_MANIFEST_TYPE,
                                 f->d.str)
           < 0)
    {
        return OCI_ADMIN_OK;
    }

    stamp = 0;

    if (lstat(type, &st) == 0) {
        stamp = oci_admin_gc_stamp(s->gx, &st);
    }

    if (lstat(f->path, &st) == 0) {
        t = oci_admin_gc_stamp(s->gx, &st);
        stamp = t > stamp ? t : stamp;
    }

    c = oci_admin_gc_cand_find(s->r->manifests, s->r->nmanifests, f->d.str);

    if (c ? stamp > c->stamp : stamp >= s->gx->t0) {
        oci_admin_gc_unmark(s, f->d.str, 0);
    }

    return s->r->unsure ? OCI_ADMIN_ABORT : OCI_ADMIN_OK;
}


/* the manifests the tags name now are kept */

static void
oci_admin_gc_retag(oci_gc_sweep_t *s)
{
    int                 rc;
    size_t              i;
    oci_admin_ls_t      tags;
    oci_admin_digest_t  d;

    rc = oci_admin_tags_ls(&s->repo, &tags);

    if (rc == OCI_ADMIN_ERROR) {
        s->r->unsure = 1;
        return;
    }

    for (i = 0; i < tags.n && !s->r->unsure; i++) {
        if (oci_admin_tag_kind(&tags.e[i], NULL) != OCI_ADMIN_TAG) {
            continue;
        }

        rc = oci_admin_tag_read(&s->repo, tags.e[i].name, &d);

        if (rc == OCI_ADMIN_OK) {
            oci_admin_gc_unmark(s, d.str, 0);

        } else if (rc != OCI_ADMIN_MISSING) {
            s->r->unsure = 1;
        }
    }

    oci_admin_ls_free(&tags);
}


/*
 * The manifest is to be kept, and so is what it refers to: its config
 * and layers, its index entries and its referrers, recursively.  Only
 * candidates need looking at: anything else is kept already.
 */

static void
oci_admin_gc_unmark(oci_gc_sweep_t *s, const char *digest, int depth)
{
    int                rc;
    size_t             i;
    oci_gc_cand_t     *c;
    oci_admin_refs_t   refs;

    if (depth > OCI_GC_DEPTH) {
        s->r->unsure = 1;
        return;
    }

    /* --dry-run: as if it had expired */

    if (oci_admin_gc_expired(s->gx, 1, s->r->name, digest)) {
        return;
    }

    c = oci_admin_gc_cand_find(s->r->manifests, s->r->nmanifests, digest);

    if (c) {
        if (c->keep) {
            return;
        }

        c->keep = 1;

    } else {
        rc = oci_admin_set_add(&s->visited, digest, strlen(digest));

        if (rc <= 0) {
            s->r->unsure |= (rc < 0);
            return;
        }
    }

    if (oci_admin_gc_follow(s, digest, &refs) != OCI_ADMIN_OK) {
        return;
    }

    for (i = 0; i < refs.blobs.n; i++) {
        c = oci_admin_gc_cand_find(s->r->blobs, s->r->nblobs,
                                   refs.blobs.s[i]);

        if (c) {
            c->keep = 1;
        }
    }

    for (i = 0; i < refs.children.n && !s->r->unsure; i++) {
        oci_admin_gc_unmark(s, refs.children.s[i], depth + 1);
    }

    oci_admin_refs_free(&refs);

    for (i = 0; i < s->r->nmanifests && !s->r->unsure; i++) {
        c = &s->r->manifests[i];

        if (!c->keep && c->subject && strcmp(c->subject, digest) == 0) {
            oci_admin_gc_unmark(s, c->digest, depth + 1);
        }
    }
}


/*
 * What the manifest refers to: OCI_ADMIN_OK with refs; OCI_ADMIN_MISSING
 * when it is not stored; OCI_ADMIN_ERROR, r->unsure set, when it cannot
 * be read or is not valid
 */

static int
oci_admin_gc_follow(oci_gc_sweep_t *s, const char *digest,
    oci_admin_refs_t *refs)
{
    int                    rc;
    oci_admin_digest_t     d;
    oci_admin_manifest_t   mf;

    if (oci_admin_digest_set(&d, digest, strlen(digest)) != 0) {
        return OCI_ADMIN_MISSING;
    }

    rc = oci_admin_manifest_read(&s->repo, &d, &mf);

    if (rc == OCI_ADMIN_OK
        && (!mf.hash_ok || mf.parse_rc != NGX_OCI_MANIFEST_OK
            || oci_admin_refs_get(&mf.m, refs) != 0))
    {
        rc = OCI_ADMIN_ERROR;
    }

    if (rc != OCI_ADMIN_OK && rc != OCI_ADMIN_MISSING) {
        s->r->unsure = 1;
        rc = OCI_ADMIN_ERROR;
    }

    oci_admin_manifest_free(&mf);

    return rc;
}


static oci_gc_cand_t *
oci_admin_gc_cand_find(oci_gc_cand_t *list, size_t n, const char *digest)
{
    if (n == 0) {
        return NULL;
    }

    return bsearch(digest, list, n, sizeof(oci_gc_cand_t),
                   oci_admin_gc_cand_cmp);
}


static int
oci_admin_gc_cand_cmp(const void *digest, const void *c)
{
    return strcmp(digest, ((const oci_gc_cand_t *) c)->digest);
}


/*
 * The manifest's link goes (its ".type" when the tags have been read
 * again, see ..._settle()): 1 removed, else 0.
 */

static int
oci_admin_gc_manifest(oci_gc_sweep_t *s, oci_gc_cand_t *c)
{
    int   rc;
    char  path[OCI_ADMIN_PATH_LEN], type[OCI_ADMIN_PATH_LEN];

    if (oci_admin_repo_layout(path, &s->repo, NGX_OCI_LAYOUT_MANIFEST,
                              c->digest)
        < 0
        || oci_admin_repo_layout(type, &s->repo,
                                 NGX_OCI_LAYOUT_MANIFEST_TYPE, c->digest)
           < 0)
    {
        return 0;
    }

    rc = oci_admin_gc_unlink(s->gx, c, path, type);

    if (rc == 0) {
        /* pushed again since the mark: it stays, and what it refers to */
        oci_admin_gc_unmark(s, c->digest, 0);
    }

    return rc == 1;
}


static void
oci_admin_gc_link(oci_gc_sweep_t *s, oci_gc_cand_t *c)
{
    char  path[OCI_ADMIN_PATH_LEN];

    /* linked anew since the mark: an upload that has no manifest yet */

    if (oci_admin_repo_layout(path, &s->repo, NGX_OCI_LAYOUT_REPO_BLOB,
                              c->digest)
        > 0
        && oci_admin_gc_unlink(s->gx, c, path, NULL) > 0)
    {
        s->gx->del_links++;
    }
}
