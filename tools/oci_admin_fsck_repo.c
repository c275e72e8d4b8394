
/*
 * oci-admin fsck: the repositories (oci_admin_fsck_repo.h).
 */


#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oci_admin_array.h"
#include "oci_admin_digests.h"
#include "oci_admin_fsck_content.h"
#include "oci_admin_fsck_repair.h"
#include "oci_admin_fsck_repo.h"
#include "oci_admin_fsck_tags.h"
#include "oci_admin_manifest.h"
#include "oci_admin_message.h"
#include "oci_admin_walk.h"


/* digests met in an "<alg>/" of _manifests, looked at once it is done */

typedef struct {
    oci_admin_digest_t  *d;
    size_t               n;
    size_t               nalloc;
} oci_fsck_list_t;

/* a directory of the repository being checked */

typedef struct {
    oci_admin_fsck_t    *fx;
    oci_admin_repo_t    *repo;
    ngx_oci_layout_e     what;
    oci_fsck_list_t      types;         /* ".type" files */
    oci_fsck_list_t      valid;         /* manifests stored and valid */
} oci_fsck_dir_t;


static int oci_admin_fsck_repo_stray(oci_admin_walk_t *w, const char *rel);
static int oci_admin_fsck_repo_invalid(oci_admin_walk_t *w, const char *name,
    size_t len);
static int oci_admin_fsck_repo(oci_admin_walk_t *w, oci_admin_repo_t *repo);
static void oci_admin_fsck_repo_dir(oci_admin_fsck_t *fx,
    oci_admin_repo_t *repo, ngx_oci_layout_e what);
static int oci_admin_fsck_repo_file(void *data, oci_admin_file_t *f);
static void oci_admin_fsck_list_add(oci_admin_fsck_t *fx,
    oci_fsck_list_t *l, oci_admin_digest_t *d);
static void oci_admin_fsck_orphan(oci_admin_fsck_t *fx,
    oci_admin_repo_t *repo, oci_admin_digest_t *d);
static int oci_admin_fsck_type(oci_admin_fsck_t *fx, oci_admin_repo_t *repo,
    oci_admin_digest_t *d);
static int oci_admin_fsck_retype(oci_admin_fsck_t *fx,
    oci_admin_repo_t *repo, oci_admin_digest_t *d, oci_admin_manifest_t *mf,
    char *action, size_t size);
static void oci_admin_fsck_attr(oci_admin_fsck_t *fx, oci_admin_repo_t *repo,
    oci_admin_digest_t *d, oci_admin_manifest_t *mf);
static void oci_admin_fsck_refs(oci_admin_fsck_t *fx, oci_admin_repo_t *repo,
    oci_admin_digest_t *d);
static int oci_admin_fsck_ref(oci_admin_fsck_t *fx, oci_admin_repo_t *repo,
    oci_admin_digest_t *d, json_t *desc, const char *role, size_t i);


void
oci_admin_fsck_repos(oci_admin_fsck_t *fx)
{
    oci_admin_walk_t  w;

    memset(&w, 0, sizeof(oci_admin_walk_t));

    w.root = fx->opt.storage;
    w.data = fx;
    w.stray = oci_admin_fsck_repo_stray;
    w.invalid = oci_admin_fsck_repo_invalid;
    w.repo = oci_admin_fsck_repo;

    (void) oci_admin_walk(&w);

    fx->errors += w.errors;
}


static int
oci_admin_fsck_repo_stray(oci_admin_walk_t *w, const char *rel)
{
    oci_admin_fsck_stray(w->data, rel, "not part of the storage layout");

    return OCI_ADMIN_OK;
}


static int
oci_admin_fsck_repo_invalid(oci_admin_walk_t *w, const char *name,
    size_t len)
{
    char  path[OCI_ADMIN_PATH_LEN];

    if (oci_admin_layout(path, w->root, NGX_OCI_LAYOUT_REPO, name, len, NULL)
        > 0)
    {
        oci_admin_fsck_stray(w->data, oci_admin_rel(w->root, path),
                             "not a valid repository name");
    }

    return OCI_ADMIN_OK;
}


static int
oci_admin_fsck_repo(oci_admin_walk_t *w, oci_admin_repo_t *repo)
{
    oci_admin_fsck_t  *fx = w->data;

    fx->repositories++;

    oci_admin_fsck_progress(fx);

    /* links to blobs first: the manifests' references are checked after */

    oci_admin_fsck_repo_dir(fx, repo, NGX_OCI_LAYOUT_REPO_BLOBS_DIR);
    oci_admin_fsck_repo_dir(fx, repo, NGX_OCI_LAYOUT_MANIFESTS_DIR);
    oci_admin_fsck_tags(fx, repo);

    return OCI_ADMIN_OK;
}


/*
 * "_blobs" or "_manifests".  Three passes over each "_manifests/<alg>/":
 * the links' content and media types as they come, then once it is done
 * the ".type" files (repairs may have removed links, or recreated types),
 * then what the stored manifests refer to.
 */

static void
oci_admin_fsck_repo_dir(oci_admin_fsck_t *fx, oci_admin_repo_t *repo,
    ngx_oci_layout_e what)
{
    oci_fsck_dir_t  ctx;

    memset(&ctx, 0, sizeof(oci_fsck_dir_t));

    ctx.fx = fx;
    ctx.repo = repo;
    ctx.what = what;

    (void) oci_admin_digests(fx->opt.storage, repo, what,
                             oci_admin_fsck_repo_file, &ctx, &fx->errors);

    free(ctx.types.d);
    free(ctx.valid.d);
}


static int
oci_admin_fsck_repo_file(void *data, oci_admin_file_t *f)
{
    size_t           i;
    oci_fsck_dir_t  *ctx = data;

    switch (f->kind) {

    case OCI_ADMIN_FILE_STRAY:
        oci_admin_fsck_stray(ctx->fx, f->rel, f->why);
        break;

    case OCI_ADMIN_FILE_TYPE:
        oci_admin_fsck_list_add(ctx->fx, &ctx->types, &f->d);
        break;

    case OCI_ADMIN_FILE_DONE:
        for (i = 0; i < ctx->types.n; i++) {
            oci_admin_fsck_orphan(ctx->fx, ctx->repo, &ctx->types.d[i]);
        }

        for (i = 0; i < ctx->valid.n; i++) {
            oci_admin_fsck_refs(ctx->fx, ctx->repo, &ctx->valid.d[i]);
        }

        ctx->types.n = 0;
        ctx->valid.n = 0;
        break;

    default:
        if (ctx->what == NGX_OCI_LAYOUT_REPO_BLOBS_DIR) {
            (void) oci_admin_fsck_link(ctx->fx, ctx->repo,
                                       NGX_OCI_LAYOUT_REPO_BLOB, &f->d);
            break;
        }

        ctx->fx->manifests++;

        if (oci_admin_fsck_link(ctx->fx, ctx->repo, NGX_OCI_LAYOUT_MANIFEST,
                                &f->d)
            > 0
            && oci_admin_fsck_type(ctx->fx, ctx->repo, &f->d) > 0)
        {
            oci_admin_fsck_list_add(ctx->fx, &ctx->valid, &f->d);
        }

        break;
    }

    return OCI_ADMIN_OK;
}


static void
oci_admin_fsck_list_add(oci_admin_fsck_t *fx, oci_fsck_list_t *l,
    oci_admin_digest_t *d)
{
    oci_admin_digest_t  *a;

    a = oci_admin_array_room(l->d, l->n, &l->nalloc,
                             sizeof(oci_admin_digest_t), 64);
    if (a == NULL) {
        oci_admin_warn("out of memory");
        fx->errors++;
        return;
    }

    l->d = a;
    l->d[l->n++] = *d;
}


/* a ".type" whose manifest is not there (any more) */

static void
oci_admin_fsck_orphan(oci_admin_fsck_t *fx, oci_admin_repo_t *repo,
    oci_admin_digest_t *d)
{
    int          outcome;
    char         path[OCI_ADMIN_PATH_LEN], type[OCI_ADMIN_PATH_LEN];
    const char  *action;
    struct stat  st;

    /* gone with a quarantined manifest, or its manifest is there */

    if (oci_admin_repo_layout(type, repo, NGX_OCI_LAYOUT_MANIFEST_TYPE,
                              d->str)
        < 0
        || lstat(type, &st) == -1
        || oci_admin_repo_layout(path, repo, NGX_OCI_LAYOUT_MANIFEST, d->str)
           < 0
        || lstat(path, &st) == 0)
    {
        return;
    }

    outcome = OCI_FSCK_NOT_TRIED;
    action = NULL;

    if (fx->repair) {
        outcome = OCI_FSCK_REPAIRED;
        action = "removed";

        if (unlink(type) != 0 && errno != ENOENT) {
            outcome = OCI_FSCK_FAILED;
            action = strerror(errno);
        }
    }

    oci_admin_fsck_problem(fx, OCI_FSCK_ORPHAN_TYPE, repo->name, d->str,
                           outcome, action, "a " NGX_OCI_LAYOUT_TYPE_SUFFIX
                           " file without its manifest");
}


/*
 * The ".type" of a manifest whose content is right; a missing or
 * unusable one is recreated from what the manifest says it is.  Returns
 * 1 when the manifest is stored and valid, 0 otherwise.
 */

static int
oci_admin_fsck_type(oci_admin_fsck_t *fx, oci_admin_repo_t *repo,
    oci_admin_digest_t *d)
{
    int                    rc, kind, outcome;
    char                   action[OCI_ADMIN_PATH_LEN];
    oci_admin_manifest_t   mf;

    rc = oci_admin_manifest_read(repo, d, &mf);

    if (rc == OCI_ADMIN_ERROR) {
        oci_admin_manifest_warn(repo, d, "", mf.reason);
        fx->errors++;

    } else if (rc == OCI_ADMIN_CORRUPT) {
        oci_admin_fsck_problem(fx, OCI_FSCK_INVALID, repo->name, d->str,
                               oci_admin_fsck_left(fx),
                               "push it again or delete it", "%s",
                               mf.reason);

    } else if (rc == OCI_ADMIN_OK && mf.type_rc == OCI_ADMIN_OK) {
        rc = (mf.parse_rc == NGX_OCI_MANIFEST_OK);

        if (!rc) {
            oci_admin_fsck_problem(fx, OCI_FSCK_INVALID, repo->name, d->str,
                                   oci_admin_fsck_left(fx),
                                   "push it again or delete it",
                                   "not a valid %s: %s", mf.type,
                                   mf.m.error);

        } else {
            oci_admin_fsck_attr(fx, repo, d, &mf);
        }

        oci_admin_manifest_free(&mf);
        return rc;

    } else if (rc == OCI_ADMIN_OK) {
        /* parsed without a Content-Type: mediaType, else its structure */

        kind = mf.type_rc == OCI_ADMIN_MISSING ? OCI_FSCK_MISSING_TYPE
                                                : OCI_FSCK_BAD_TYPE;

        outcome = oci_admin_fsck_retype(fx, repo, d, &mf, action,
                                        sizeof(action));

        oci_admin_fsck_problem(fx, kind, repo->name, d->str, outcome, action,
                               "%s", mf.reason);

        oci_admin_manifest_free(&mf);
        return outcome == OCI_FSCK_REPAIRED;
    }

    oci_admin_manifest_free(&mf);

    return 0;
}


/* with --repair, the ".type" written from the manifest: the outcome */

static int
oci_admin_fsck_retype(oci_admin_fsck_t *fx, oci_admin_repo_t *repo,
    oci_admin_digest_t *d, oci_admin_manifest_t *mf, char *action,
    size_t size)
{
    char  path[OCI_ADMIN_PATH_LEN], tmp[OCI_ADMIN_PATH_LEN];

    action[0] = '\0';

    if (!fx->repair) {
        return OCI_FSCK_NOT_TRIED;
    }

    if (mf->parse_rc != NGX_OCI_MANIFEST_OK) {
        snprintf(action, size, "cannot tell its media type: %s",
                 mf->m.error);
        return OCI_FSCK_FAILED;
    }

    if (oci_admin_repo_layout(path, repo, NGX_OCI_LAYOUT_MANIFEST_TYPE,
                              d->str)
        < 0
        || oci_admin_fsck_tmp(fx, tmp) < 0)
    {
        snprintf(action, size, "path too long");
        return OCI_FSCK_FAILED;
    }

    if (oci_admin_write(tmp, path, mf->m.media_type,
                        strlen(mf->m.media_type))
        != 0)
    {
        snprintf(action, size, "%s", strerror(errno));
        return OCI_FSCK_FAILED;
    }

    snprintf(action, size, "recreated as %s", mf->m.media_type);

    /* the copy the content keeps, if it has one, must not disagree */

    if (mf->attr_rc != OCI_ADMIN_ERROR
        && oci_admin_manifest_mark(repo, d, mf->m.media_type,
                                   strlen(mf->m.media_type))
           == 0)
    {
        fx->attrs_set += (mf->attr_rc == OCI_ADMIN_MISSING);
    }

    return OCI_FSCK_REPAIRED;
}


/*
 * The copy of the media type the content keeps (docs/storage.md): one
 * naming another type than ".type" is a problem, GETs answer with it;
 * none is not (GETs read ".type"), but --repair sets it, as a push does.
 */

static void
oci_admin_fsck_attr(oci_admin_fsck_t *fx, oci_admin_repo_t *repo,
    oci_admin_digest_t *d, oci_admin_manifest_t *mf)
{
    int          outcome;
    const char  *action;

    if (mf->attr_rc == OCI_ADMIN_MISSING) {
        if (!fx->repair) {
            fx->attrs_missing++;

        } else if (oci_admin_manifest_mark(repo, d, mf->type, mf->type_len)
                   == 0)
        {
            fx->attrs_set++;

        } else if (errno != EOPNOTSUPP) {
            oci_admin_manifest_warn(repo, d, "setting its type attribute: ",
                                    strerror(errno));
            fx->errors++;
        }

        return;
    }

    if (mf->attr_rc != OCI_ADMIN_OK
        || mf->attr_len == 0
        || (mf->attr_len == mf->type_len
            && memcmp(mf->attr, mf->type, mf->type_len) == 0))
    {
        return;
    }

    outcome = OCI_FSCK_NOT_TRIED;
    action = NULL;

    if (fx->repair) {
        outcome = OCI_FSCK_REPAIRED;
        action = "emptied: the " NGX_OCI_LAYOUT_TYPE_SUFFIX " files tell";

        if (oci_admin_manifest_mark(repo, d, mf->type, mf->type_len) != 0) {
            outcome = OCI_FSCK_FAILED;
            action = strerror(errno);
        }
    }

    oci_admin_fsck_problem(fx, OCI_FSCK_TYPE_ATTR, repo->name, d->str,
                           outcome, action, "its content's "
                           NGX_OCI_LAYOUT_TYPE_XATTR " is %s, its "
                           NGX_OCI_LAYOUT_TYPE_SUFFIX " %s", mf->attr,
                           mf->type);
}

/* with --mirror, a manifest some of whose references are absent counts */

static void
oci_admin_fsck_refs(oci_admin_fsck_t *fx, oci_admin_repo_t *repo,
    oci_admin_digest_t *d)
{
    int                    absent;
    size_t                 i;
    oci_admin_manifest_t   mf;

    if (oci_admin_manifest_load(repo, d, &mf) != OCI_ADMIN_OK) {
        /* reported already */
        oci_admin_manifest_free(&mf);
        return;
    }

    absent = 0;

    if (mf.m.config) {
        absent |= oci_admin_fsck_ref(fx, repo, d, mf.m.config, "config", 0);
    }

    for (i = 0; i < json_array_size(mf.m.layers); i++) {
        absent |= oci_admin_fsck_ref(fx, repo, d,
                                     json_array_get(mf.m.layers, i),
                                     "layers", i);
    }

    for (i = 0; i < json_array_size(mf.m.manifests); i++) {
        absent |= oci_admin_fsck_ref(fx, repo, d,
                                     json_array_get(mf.m.manifests, i),
                                     "manifests", i);
    }

    fx->not_fetched += absent;

    oci_admin_manifest_free(&mf);

    oci_admin_fsck_progress(fx);
}


/*
 * What the manifest refers to is in the repository, or is a problem; on
 * a mirror it may not have been pulled yet (docs/mirrors.md): 1 then
 */

static int
oci_admin_fsck_ref(oci_admin_fsck_t *fx, oci_admin_repo_t *repo,
    oci_admin_digest_t *d, json_t *desc, const char *role, size_t i)
{
    char                path[OCI_ADMIN_PATH_LEN], where[64];
    size_t              len;
    struct stat         st;
    const u_char       *p;
    oci_admin_digest_t  r;

    if (ngx_oci_descriptor_is_foreign(desc)
        || ngx_oci_descriptor_digest(desc, &p, &len, NULL)
           != NGX_OCI_DIGEST_OK
        || oci_admin_digest_set(&r, (const char *) p, len) != 0)
    {
        return 0;
    }

    if (role[0] == 'c') {
        snprintf(where, sizeof(where), "its config");

    } else {
        snprintf(where, sizeof(where), "%s[%zu]", role, i);
    }

    if (role[0] == 'm') {
        if (oci_admin_manifest_stored(repo, &r)) {
            return 0;
        }

        if (fx->mirror) {
            return 1;
        }

        oci_admin_fsck_problem(fx, OCI_FSCK_MISSING_MANIFEST, repo->name,
                               d->str, oci_admin_fsck_left(fx),
                               "push the manifest again, or the index",
                               "%s %s is not stored in the repository",
                               where, r.str);
        return 0;
    }

    if (oci_admin_repo_layout(path, repo, NGX_OCI_LAYOUT_REPO_BLOB, r.str)
        < 0
        || (lstat(path, &st) == 0 && S_ISREG(st.st_mode)))
    {
        return 0;
    }

    if (fx->mirror) {
        return 1;
    }

    oci_admin_fsck_problem(fx, OCI_FSCK_MISSING_BLOB, repo->name, d->str,
                           oci_admin_fsck_left(fx),
                           "push the blob again, or delete the manifest",
                           "%s %s is not in the repository", where, r.str);

    return 0;
}
