
/*
 * oci-admin: walking the repositories (oci_admin_walk.h).
 */


#include <stdio.h>
#include <string.h>

#include "oci_admin_digests.h"
#include "oci_admin_message.h"
#include "oci_admin_walk.h"


/* the directories of a repository's own, as a listing shows them */
#define OCI_ADMIN_OWN_MANIFESTS  1
#define OCI_ADMIN_OWN_BLOBS      2
#define OCI_ADMIN_OWN_TAGS       4
#define OCI_ADMIN_OWN_REFERRERS  8


typedef struct {
    oci_admin_walk_t   *w;
    oci_admin_repo_t   *repo;
} oci_admin_walk_ctx_t;


static int oci_admin_walk_dir(oci_admin_walk_t *w, char *name, size_t len);
static unsigned oci_admin_walk_own(oci_admin_name_t *e);
static int oci_admin_walk_stray(oci_admin_walk_t *w, char *path, int n,
    const char *entry);
static int oci_admin_walk_found(oci_admin_walk_t *w, const char *name,
    size_t len, unsigned own);
static int oci_admin_walk_repo(oci_admin_walk_t *w, oci_admin_repo_t *repo);
static int oci_admin_walk_manifests(oci_admin_walk_t *w,
    oci_admin_repo_t *repo);
static int oci_admin_walk_manifest(void *data, oci_admin_file_t *f);
static int oci_admin_walk_tags(oci_admin_walk_t *w, oci_admin_repo_t *repo);


int
oci_admin_walk(oci_admin_walk_t *w)
{
    char  name[NGX_OCI_NAME_MAX_LEN + 1];

    return oci_admin_walk_dir(w, name, 0);
}


/*
 * name[0 .. len - 1] is the directory's path under "repositories", empty
 * for "repositories" itself
 */

static int
oci_admin_walk_dir(oci_admin_walk_t *w, char *name, size_t len)
{
    int             rc, n;
    char            path[OCI_ADMIN_PATH_LEN];
    size_t          i, l, sep;
    unsigned        own;
    oci_admin_ls_t  ls;

    n = oci_admin_layout(path, w->root, len ? NGX_OCI_LAYOUT_REPO
                                            : NGX_OCI_LAYOUT_REPOS,
                         name, len, NULL);
    if (n < 0) {
        oci_admin_warn("%s/%s/%.*s: path too long", w->root,
                       NGX_OCI_LAYOUT_REPOS_DIR, (int) len, name);
        w->errors++;
        return OCI_ADMIN_OK;
    }

    rc = oci_admin_ls(path, &ls);

    if (rc != OCI_ADMIN_OK) {
        w->errors += (rc == OCI_ADMIN_ERROR);
        return OCI_ADMIN_OK;
    }

    own = 0;

    for (i = 0; len && i < ls.n; i++) {
        own |= oci_admin_walk_own(&ls.e[i]);
    }

    rc = own ? oci_admin_walk_found(w, name, len, own) : OCI_ADMIN_OK;

    sep = len ? 1 : 0;

    for (i = 0; rc == OCI_ADMIN_OK && i < ls.n; i++) {
        if (own && oci_admin_walk_own(&ls.e[i])) {
            continue;
        }

        l = strlen(ls.e[i].name);

        if (ls.e[i].type != DT_DIR || ls.e[i].name[0] == '_'
            || ls.e[i].name[0] == '.' || len + sep + l > NGX_OCI_NAME_MAX_LEN)
        {
            rc = oci_admin_walk_stray(w, path, n, ls.e[i].name);
            continue;
        }

        if (len) {
            name[len] = '/';
        }

        memcpy(name + len + sep, ls.e[i].name, l);

        rc = oci_admin_walk_dir(w, name, len + sep + l);
    }

    oci_admin_ls_free(&ls);

    return rc == OCI_ADMIN_ABORT ? OCI_ADMIN_ABORT : OCI_ADMIN_OK;
}


static unsigned
oci_admin_walk_own(oci_admin_name_t *e)
{
    if (e->type != DT_DIR) {
        return 0;
    }

    if (strcmp(e->name, NGX_OCI_LAYOUT_REPO_MANIFESTS) == 0) {
        return OCI_ADMIN_OWN_MANIFESTS;
    }

    if (strcmp(e->name, NGX_OCI_LAYOUT_REPO_BLOBS) == 0) {
        return OCI_ADMIN_OWN_BLOBS;
    }

    if (strcmp(e->name, NGX_OCI_LAYOUT_REPO_TAGS) == 0) {
        return OCI_ADMIN_OWN_TAGS;
    }

    /* the registry's cache of rendered pages, rebuilt whenever wanted */

    if (strcmp(e->name, NGX_OCI_LAYOUT_REPO_REFERRERS) == 0) {
        return OCI_ADMIN_OWN_REFERRERS;
    }

    return 0;
}


/* the entry of the directory at path[0 .. n - 1] does not belong */

static int
oci_admin_walk_stray(oci_admin_walk_t *w, char *path, int n,
    const char *entry)
{
    if (w->stray == NULL
        || snprintf(path + n, OCI_ADMIN_PATH_LEN - n, "/%s", entry)
           >= OCI_ADMIN_PATH_LEN - n)
    {
        return OCI_ADMIN_OK;
    }

    return w->stray(w, oci_admin_rel(w->root, path));
}


static int
oci_admin_walk_found(oci_admin_walk_t *w, const char *name, size_t len,
    unsigned own)
{
    int               rc;
    oci_admin_repo_t  repo;

    if (w->manifests_only && !(own & OCI_ADMIN_OWN_MANIFESTS)) {
        return OCI_ADMIN_OK;
    }

    if (oci_admin_repo_init(&repo, w->root, name, len) != 0) {
        if (w->invalid) {
            return w->invalid(w, name, len);
        }

        oci_admin_warn("%s/%s/%.*s: \"%.*s\" is not a valid repository "
                       "name, skipped", w->root, NGX_OCI_LAYOUT_REPOS_DIR,
                       (int) len, name, (int) len, name);
        w->invalid_names++;
        return OCI_ADMIN_OK;
    }

    rc = oci_admin_walk_repo(w, &repo);

    return rc == OCI_ADMIN_ABORT ? OCI_ADMIN_ABORT : OCI_ADMIN_OK;
}


static int
oci_admin_walk_repo(oci_admin_walk_t *w, oci_admin_repo_t *repo)
{
    int  rc;

    if (w->repo) {
        rc = w->repo(w, repo);
        if (rc != OCI_ADMIN_OK) {
            return rc;
        }
    }

    if (w->manifest) {
        rc = oci_admin_walk_manifests(w, repo);
        if (rc != OCI_ADMIN_OK) {
            return rc;
        }
    }

    if (w->tag) {
        rc = oci_admin_walk_tags(w, repo);
        if (rc != OCI_ADMIN_OK) {
            return rc;
        }
    }

    return w->repo_done ? w->repo_done(w, repo) : OCI_ADMIN_OK;
}


static int
oci_admin_walk_manifests(oci_admin_walk_t *w, oci_admin_repo_t *repo)
{
    oci_admin_walk_ctx_t  ctx;

    ctx.w = w;
    ctx.repo = repo;

    return oci_admin_digests(w->root, repo, NGX_OCI_LAYOUT_MANIFESTS_DIR,
                             oci_admin_walk_manifest, &ctx, &w->errors);
}


static int
oci_admin_walk_manifest(void *data, oci_admin_file_t *f)
{
    oci_admin_walk_ctx_t  *ctx = data;

    if (f->kind != OCI_ADMIN_FILE_DIGEST) {
        return OCI_ADMIN_OK;
    }

    return ctx->w->manifest(ctx->w, ctx->repo, &f->d);
}


static int
oci_admin_walk_tags(oci_admin_walk_t *w, oci_admin_repo_t *repo)
{
    int             rc;
    size_t          i;
    oci_admin_ls_t  ls;

    rc = oci_admin_tags_ls(repo, &ls);
    if (rc != OCI_ADMIN_OK) {
        /* a repository without tags has no "_tags" */
        w->errors += (rc == OCI_ADMIN_ERROR);
        return OCI_ADMIN_OK;
    }

    rc = OCI_ADMIN_OK;

    for (i = 0; rc == OCI_ADMIN_OK && i < ls.n; i++) {
        if (oci_admin_tag_kind(&ls.e[i], NULL) == OCI_ADMIN_TAG) {
            rc = w->tag(w, repo, ls.e[i].name);
        }
    }

    oci_admin_ls_free(&ls);

    return rc;
}
