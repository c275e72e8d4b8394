
/*
 * oci-admin gc: links not pulled for --unpulled-for (oci_admin_gc_expire.h).
 */


#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oci_admin_array.h"
#include "oci_admin_digests.h"
#include "oci_admin_gc_expire.h"
#include "oci_admin_manifest.h"
#include "oci_admin_message.h"
#include "oci_admin_walk.h"


/* "m" or "b", the repository, "@", the digest */
#define OCI_GC_EXPIRED_LEN  (1 + NGX_OCI_NAME_MAX_LEN + 1                     \
                             + OCI_ADMIN_DIGEST_LEN + 1)


typedef struct {
    oci_admin_gc_t     *gx;
    oci_admin_repo_t   *repo;
    oci_gc_repo_t       r;              /* its links to expire */
    int                 rc;             /* OCI_ADMIN_ABORT: out of memory */
} oci_gc_scan_t;


static int oci_admin_gc_scan_invalid(oci_admin_walk_t *w, const char *name,
    size_t len);
static int oci_admin_gc_scan_repo(oci_admin_walk_t *w,
    oci_admin_repo_t *repo);
static int oci_admin_gc_scan_manifest(void *data, oci_admin_file_t *f);
static int oci_admin_gc_scan_blob(void *data, oci_admin_file_t *f);
static int oci_admin_gc_scan_link(oci_gc_scan_t *sc, oci_admin_file_t *f,
    int manifest);
static void oci_admin_gc_expire_repo(oci_admin_gc_t *gx, oci_gc_repo_t *r);
static void oci_admin_gc_expire_manifest(oci_admin_gc_t *gx,
    oci_admin_repo_t *repo, oci_gc_cand_t *c);
static void oci_admin_gc_expire_link(oci_admin_gc_t *gx,
    oci_admin_repo_t *repo, oci_gc_cand_t *c);
static void oci_admin_gc_expire_tag(oci_admin_gc_t *gx,
    oci_admin_repo_t *repo, const char *tag);
static int oci_admin_gc_gone(oci_admin_gc_t *gx, oci_admin_repo_t *repo,
    oci_admin_digest_t *d);
static int oci_admin_gc_expired_key(char *key, int manifest,
    const char *repo, const char *digest);


int
oci_admin_gc_expire(oci_admin_gc_t *gx)
{
    int               rc;
    size_t            i;
    oci_gc_scan_t     sc;
    oci_admin_walk_t  w;

    memset(&sc, 0, sizeof(oci_gc_scan_t));
    memset(&w, 0, sizeof(oci_admin_walk_t));

    sc.gx = gx;
    sc.rc = OCI_ADMIN_OK;

    w.root = gx->opt.storage;
    w.data = &sc;
    w.invalid = oci_admin_gc_scan_invalid;
    w.repo = oci_admin_gc_scan_repo;

    /* nothing changes while looking */

    rc = oci_admin_walk(&w);

    gx->errors += w.errors;

    if (rc == OCI_ADMIN_OK && gx->nexpiring && gx->pause_expire) {
        oci_admin_progress_end();
        fprintf(stderr, "oci-admin: gc: unpulled links found, pausing "
                "%ld s\n", gx->pause_expire);
        fflush(stderr);
        sleep((unsigned) gx->pause_expire);
    }

    for (i = 0; i < gx->nexpiring; i++) {
        if (rc == OCI_ADMIN_OK) {
            oci_admin_gc_expire_repo(gx, &gx->expiring[i]);
            oci_admin_gc_progress(gx);
        }

        oci_admin_gc_repo_free(&gx->expiring[i]);
    }

    free(gx->expiring);
    gx->expiring = NULL;
    gx->nexpiring = 0;

    return rc;
}


/* the mark warns about it and counts it */

static int
oci_admin_gc_scan_invalid(oci_admin_walk_t *w, const char *name, size_t len)
{
    (void) w;
    (void) name;
    (void) len;

    return OCI_ADMIN_OK;
}


static int
oci_admin_gc_scan_repo(oci_admin_walk_t *w, oci_admin_repo_t *repo)
{
    oci_gc_repo_t   *rs;
    oci_gc_scan_t   *sc = w->data;
    oci_admin_gc_t  *gx;

    gx = sc->gx;

    memset(&sc->r, 0, sizeof(oci_gc_repo_t));
    sc->repo = repo;

    (void) oci_admin_digests(gx->opt.storage, repo,
                             NGX_OCI_LAYOUT_MANIFESTS_DIR,
                             oci_admin_gc_scan_manifest, sc, &gx->errors);

    if (sc->rc == OCI_ADMIN_OK) {
        (void) oci_admin_digests(gx->opt.storage, repo,
                                 NGX_OCI_LAYOUT_REPO_BLOBS_DIR,
                                 oci_admin_gc_scan_blob, sc, &gx->errors);
    }

    oci_admin_gc_progress(gx);

    if (sc->rc == OCI_ADMIN_OK
        && (sc->r.nmanifests || sc->r.nblobs))
    {
        rs = oci_admin_array_room(gx->expiring, gx->nexpiring,
                                  &gx->expiring_size, sizeof(oci_gc_repo_t),
                                  16);
        if (rs != NULL) {
            gx->expiring = rs;
            sc->r.name = strdup(repo->name);
        }

        if (rs == NULL || sc->r.name == NULL) {
            sc->rc = OCI_ADMIN_ABORT;

        } else {
            gx->expiring[gx->nexpiring++] = sc->r;
            return OCI_ADMIN_OK;
        }
    }

    oci_admin_gc_repo_free(&sc->r);

    if (sc->rc != OCI_ADMIN_OK) {
        oci_admin_warn("out of memory");
        return OCI_ADMIN_ABORT;
    }

    return OCI_ADMIN_OK;
}


static int
oci_admin_gc_scan_manifest(void *data, oci_admin_file_t *f)
{
    return oci_admin_gc_scan_link(data, f, 1);
}


static int
oci_admin_gc_scan_blob(void *data, oci_admin_file_t *f)
{
    return oci_admin_gc_scan_link(data, f, 0);
}


/*
 * A link not pulled for long, and old: to go.  A manifest's age is the
 * younger of its link's and its ".type"'s, as for the mark.  A manifest
 * that cannot be read or is not valid stays: the mark does not collect
 * its repository, and says so.
 */

static int
oci_admin_gc_scan_link(oci_gc_scan_t *sc, oci_admin_file_t *f, int manifest)
{
    int                    rc;
    char                   type[OCI_ADMIN_PATH_LEN];
    int64_t                stamp, t;
    struct stat            st, tst;
    oci_gc_repo_t         *r;
    oci_admin_gc_t        *gx;
    oci_admin_digest_t     subject;
    oci_admin_manifest_t   mf;

    gx = sc->gx;
    r = &sc->r;

    if (f->kind != OCI_ADMIN_FILE_DIGEST
        || lstat(f->path, &st) == -1 || !S_ISREG(st.st_mode)
        || !oci_admin_gc_unpulled(gx, &st))
    {
        return OCI_ADMIN_OK;
    }

    stamp = oci_admin_gc_stamp(gx, &st);

    if (manifest
        && oci_admin_repo_layout(type, sc->repo, NGX_OCI_LAYOUT_MANIFEST_TYPE,
                                 f->d.str)
           > 0
        && lstat(type, &tst) == 0)
    {
        t = oci_admin_gc_stamp(gx, &tst);
        stamp = t > stamp ? t : stamp;
    }

    if (!oci_admin_gc_old(gx, stamp, gx->grace)) {
        return OCI_ADMIN_OK;
    }

    if (!manifest) {
        rc = oci_admin_gc_cand_add(r, 0, f->d.str, NULL, &st, stamp);

    } else {
        rc = oci_admin_manifest_read(sc->repo, &f->d, &mf);

        if (rc != OCI_ADMIN_OK || !mf.hash_ok
            || mf.parse_rc != NGX_OCI_MANIFEST_OK)
        {
            oci_admin_manifest_free(&mf);
            return OCI_ADMIN_OK;
        }

        rc = oci_admin_gc_cand_add(r, 1, f->d.str,
                                   oci_admin_manifest_subject(&mf, &subject)
                                   == 0 ? subject.str : NULL,
                                   &st, stamp);

        oci_admin_manifest_free(&mf);
    }

    if (rc != 0) {
        sc->rc = OCI_ADMIN_ABORT;
        return OCI_ADMIN_ABORT;
    }

    if (manifest) {
        r->manifests[r->nmanifests - 1].unpulled = 1;

    } else {
        r->blobs[r->nblobs - 1].unpulled = 1;
    }

    return OCI_ADMIN_OK;
}


static void
oci_admin_gc_expire_repo(oci_admin_gc_t *gx, oci_gc_repo_t *r)
{
    size_t            i;
    oci_admin_repo_t  repo;

    if (oci_admin_repo_init(&repo, gx->opt.storage, r->name,
                            strlen(r->name))
        != 0)
    {
        return;
    }

    for (i = 0; i < r->nmanifests; i++) {
        oci_admin_gc_expire_manifest(gx, &repo, &r->manifests[i]);
    }

    for (i = 0; i < r->nblobs; i++) {
        oci_admin_gc_expire_link(gx, &repo, &r->blobs[i]);
    }
}


/*
 * The link goes, then the ".type", unless a fill stored the manifest
 * again meanwhile (the module writes ".type" first, then the link), then
 * its index entry and its subject's cached referrers pages, as when gc
 * deletes a manifest
 */

static void
oci_admin_gc_expire_manifest(oci_admin_gc_t *gx, oci_admin_repo_t *repo,
    oci_gc_cand_t *c)
{
    char         path[OCI_ADMIN_PATH_LEN], type[OCI_ADMIN_PATH_LEN];
    char         key[OCI_GC_EXPIRED_LEN];
    struct stat  st;

    if (gx->dry_run) {
        if (oci_admin_gc_expired_key(key, 1, repo->name, c->digest) < 0
            || oci_admin_set_add(&gx->expired, key, strlen(key)) < 0)
        {
            oci_admin_warn("out of memory");
            gx->errors++;
        }

        oci_admin_gc_pending(gx, c);
        oci_admin_gc_would(gx, OCI_GC_WOULD_EXPIRE_MANIFEST, repo->name,
                           c->digest, 0);
        gx->exp_manifests++;
        gx->unindexed += (gx->redis_on && c->subject);
        return;
    }

    if (oci_admin_repo_layout(path, repo, NGX_OCI_LAYOUT_MANIFEST, c->digest)
        < 0
        || oci_admin_repo_layout(type, repo, NGX_OCI_LAYOUT_MANIFEST_TYPE,
                                 c->digest)
           < 0
        || oci_admin_gc_unlink(gx, c, path, type) != 1)
    {
        return;
    }

    if (lstat(path, &st) == 0) {
        gx->changed++;
        return;
    }

    if (unlink(type) != 0 && errno != ENOENT) {
        oci_admin_warn("%s: unlink(): %s", type, strerror(errno));
        gx->errors++;
    }

    gx->exp_manifests++;

    oci_admin_gc_unindex(gx, repo, c);

    /* after the index: no cached page of the subject may list it */

    if (c->subject && oci_admin_pages_drop(repo, c->subject) != 0) {
        gx->errors++;
    }
}


static void
oci_admin_gc_expire_link(oci_admin_gc_t *gx, oci_admin_repo_t *repo,
    oci_gc_cand_t *c)
{
    char  path[OCI_ADMIN_PATH_LEN], key[OCI_GC_EXPIRED_LEN];

    if (gx->dry_run) {
        if (oci_admin_gc_expired_key(key, 0, repo->name, c->digest) < 0
            || oci_admin_set_add(&gx->expired, key, strlen(key)) < 0)
        {
            oci_admin_warn("out of memory");
            gx->errors++;
        }

        oci_admin_gc_pending(gx, c);
        oci_admin_gc_would(gx, OCI_GC_WOULD_EXPIRE_BLOB_LINK, repo->name,
                           c->digest, 0);
        gx->exp_links++;
        return;
    }

    if (oci_admin_repo_layout(path, repo, NGX_OCI_LAYOUT_REPO_BLOB, c->digest)
        > 0
        && oci_admin_gc_unlink(gx, c, path, NULL) == 1)
    {
        gx->exp_links++;
    }
}


void
oci_admin_gc_expire_tags(oci_admin_gc_t *gx, oci_admin_repo_t *repo)
{
    size_t          i;
    oci_admin_ls_t  tags;

    /* one that cannot be listed: the mark does not collect it */

    if (oci_admin_tags_ls(repo, &tags) != OCI_ADMIN_OK) {
        return;
    }

    for (i = 0; i < tags.n; i++) {
        if (oci_admin_tag_kind(&tags.e[i], NULL) == OCI_ADMIN_TAG) {
            oci_admin_gc_expire_tag(gx, repo, tags.e[i].name);
        }
    }

    oci_admin_ls_free(&tags);
}


/*
 * As the module changes a tag: under its lock, and only if it still
 * names the same manifest, still gone.  A fill that stores the manifest
 * again writes the tag after it.
 */

static void
oci_admin_gc_expire_tag(oci_admin_gc_t *gx, oci_admin_repo_t *repo,
    const char *tag)
{
    char                path[OCI_ADMIN_PATH_LEN];
    oci_admin_digest_t  d, again;

    if (oci_admin_tag_read(repo, tag, &d) != OCI_ADMIN_OK
        || !oci_admin_gc_gone(gx, repo, &d))
    {
        /* an unreadable tag is for the mark to see, and fsck to report */
        return;
    }

    if (gx->dry_run) {
        oci_admin_gc_would(gx, OCI_GC_WOULD_EXPIRE_TAG, repo->name, tag, 0);
        gx->exp_tags++;
        return;
    }

    if (oci_admin_repo_layout(path, repo, NGX_OCI_LAYOUT_TAG, tag) < 0
        || oci_admin_tag_lock(repo, tag) != 0)
    {
        gx->errors++;
        return;
    }

    if (oci_admin_tag_read(repo, tag, &again) != OCI_ADMIN_OK
        || strcmp(again.str, d.str) != 0 || !oci_admin_gc_gone(gx, repo, &d))
    {
        gx->changed++;

    } else if (unlink(path) == 0) {
        gx->exp_tags++;

    } else {
        oci_admin_warn("%s: unlink(): %s", path, strerror(errno));
        gx->errors++;
    }

    oci_admin_tag_unlock(repo, tag);
}


/* the manifest's link is not there, or with --dry-run would go */

static int
oci_admin_gc_gone(oci_admin_gc_t *gx, oci_admin_repo_t *repo,
    oci_admin_digest_t *d)
{
    char         path[OCI_ADMIN_PATH_LEN];
    struct stat  st;

    if (oci_admin_repo_layout(path, repo, NGX_OCI_LAYOUT_MANIFEST, d->str)
        < 0)
    {
        return 0;
    }

    if (lstat(path, &st) == -1) {
        return errno == ENOENT;
    }

    return oci_admin_gc_expired(gx, 1, repo->name, d->str);
}


int
oci_admin_gc_expired(oci_admin_gc_t *gx, int manifest, const char *repo,
    const char *digest)
{
    char  key[OCI_GC_EXPIRED_LEN];

    if (gx->expired.count == 0
        || oci_admin_gc_expired_key(key, manifest, repo, digest) < 0)
    {
        return 0;
    }

    return oci_admin_set_has(&gx->expired, key, strlen(key));
}


static int
oci_admin_gc_expired_key(char *key, int manifest, const char *repo,
    const char *digest)
{
    int  n;

    n = snprintf(key, OCI_GC_EXPIRED_LEN, "%c%s@%s", manifest ? 'm' : 'b',
                 repo, digest);

    return n < 0 || n >= OCI_GC_EXPIRED_LEN ? -1 : 0;
}
