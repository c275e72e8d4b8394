
/*
 * oci-admin: walking the directories of digests (oci_admin_digests.h).
 * One path buffer serves the whole walk: each level writes its name after
 * its parent's path.
 */


#include <stdio.h>
#include <string.h>

#include "oci_admin_digests.h"


typedef struct {
    oci_admin_digests_t  *ds;
    const char           *root;
    ngx_oci_layout_e      what;
    char                  path[OCI_ADMIN_PATH_LEN];
} oci_admin_dwalk_t;


static int oci_admin_digests_alg(oci_admin_dwalk_t *w, int n,
    oci_admin_name_t *alg);
static int oci_admin_digests_fan(oci_admin_dwalk_t *w, int n,
    const char *alg, oci_admin_name_t *xx);
static int oci_admin_digests_file(oci_admin_dwalk_t *w, int n,
    const char *alg, const char *xx, oci_admin_name_t *e);
static int oci_admin_digests_stray(oci_admin_dwalk_t *w, const char *why);
static int oci_admin_digests_join(oci_admin_dwalk_t *w, int n,
    const char *name);
static int oci_admin_digests_ls(oci_admin_dwalk_t *w, oci_admin_ls_t *ls);


int
oci_admin_digests(oci_admin_digests_t *ds, const char *root,
    oci_admin_repo_t *repo, ngx_oci_layout_e what)
{
    int                rc, n;
    size_t             i;
    oci_admin_ls_t     algs;
    oci_admin_dwalk_t  w;

    w.ds = ds;
    w.root = root;
    w.what = what;

    n = repo ? oci_admin_repo_layout(w.path, repo, what, NULL)
             : oci_admin_layout(w.path, root, what, NULL, 0, NULL);

    if (n < 0 || oci_admin_digests_ls(&w, &algs) != OCI_ADMIN_OK) {
        return OCI_ADMIN_OK;
    }

    rc = OCI_ADMIN_OK;

    for (i = 0; rc == OCI_ADMIN_OK && i < algs.n; i++) {
        rc = oci_admin_digests_alg(&w, n, &algs.e[i]);
    }

    oci_admin_ls_free(&algs);

    return rc;
}


static int
oci_admin_digests_alg(oci_admin_dwalk_t *w, int n, oci_admin_name_t *alg)
{
    int             rc;
    size_t          i;
    oci_admin_ls_t  ls;

    n = oci_admin_digests_join(w, n, alg->name);
    if (n < 0) {
        return OCI_ADMIN_OK;
    }

    if (alg->type != DT_DIR
        || (strcmp(alg->name, "sha256") != 0
            && strcmp(alg->name, "sha512") != 0))
    {
        return oci_admin_digests_stray(w, "not part of the storage layout");
    }

    if (oci_admin_digests_ls(w, &ls) != OCI_ADMIN_OK) {
        return OCI_ADMIN_OK;
    }

    rc = OCI_ADMIN_OK;

    for (i = 0; rc == OCI_ADMIN_OK && i < ls.n; i++) {
        rc = (w->what == NGX_OCI_LAYOUT_BLOBS)
             ? oci_admin_digests_fan(w, n, alg->name, &ls.e[i])
             : oci_admin_digests_file(w, n, alg->name, NULL, &ls.e[i]);
    }

    oci_admin_ls_free(&ls);

    if (rc == OCI_ADMIN_OK && w->ds->done) {
        rc = w->ds->done(w->ds);
    }

    return rc;
}


/* "blobs/<alg>/<xx>": the first two digits of the digests it holds */

static int
oci_admin_digests_fan(oci_admin_dwalk_t *w, int n, const char *alg,
    oci_admin_name_t *xx)
{
    int             rc;
    size_t          i;
    oci_admin_ls_t  ls;

    n = oci_admin_digests_join(w, n, xx->name);
    if (n < 0) {
        return OCI_ADMIN_OK;
    }

    if (xx->type != DT_DIR || strlen(xx->name) != 2
        || strspn(xx->name, "0123456789abcdef") != 2)
    {
        return oci_admin_digests_stray(w, "not part of the storage layout");
    }

    if (oci_admin_digests_ls(w, &ls) != OCI_ADMIN_OK) {
        return OCI_ADMIN_OK;
    }

    rc = OCI_ADMIN_OK;

    for (i = 0; rc == OCI_ADMIN_OK && i < ls.n; i++) {
        rc = oci_admin_digests_file(w, n, alg, xx->name, &ls.e[i]);
    }

    oci_admin_ls_free(&ls);

    return rc;
}


/*
 * "<hex>", or in "_manifests" "<hex>.type", a regular file; under
 * "blobs/<alg>/<xx>" the digest must start with <xx>
 */

static int
oci_admin_digests_file(oci_admin_dwalk_t *w, int n, const char *alg,
    const char *xx, oci_admin_name_t *e)
{
    int                m;
    char               digest[OCI_ADMIN_PATH_LEN];
    const char        *dot;
    oci_admin_file_t   f;

    if (oci_admin_digests_join(w, n, e->name) < 0) {
        return OCI_ADMIN_OK;
    }

    dot = (w->what == NGX_OCI_LAYOUT_MANIFESTS_DIR) ? strchr(e->name, '.')
                                                    : NULL;

    m = oci_admin_path(digest, "%s:%.*s", alg,
                       dot ? (int) (dot - e->name) : (int) strlen(e->name),
                       e->name);

    if (e->type != DT_REG) {
        return oci_admin_digests_stray(w, "not a regular file");
    }

    if (m < 0 || oci_admin_digest_set(&f.d, digest, m) != 0
        || (xx && strncmp(e->name, xx, 2) != 0)
        || (dot && strcmp(dot, NGX_OCI_LAYOUT_TYPE_SUFFIX) != 0))
    {
        return oci_admin_digests_stray(w, xx ? "not named by its digest"
                                             : "not named by a digest");
    }

    f.kind = dot ? OCI_ADMIN_FILE_TYPE : OCI_ADMIN_FILE_DIGEST;
    f.why = NULL;
    f.path = w->path;
    f.rel = oci_admin_rel(w->root, w->path);

    return w->ds->file(w->ds, &f);
}


static int
oci_admin_digests_stray(oci_admin_dwalk_t *w, const char *why)
{
    oci_admin_file_t  f;

    memset(&f, 0, sizeof(oci_admin_file_t));

    f.kind = OCI_ADMIN_FILE_STRAY;
    f.why = why;
    f.path = w->path;
    f.rel = oci_admin_rel(w->root, w->path);

    return w->ds->file(w->ds, &f);
}


/* "/<name>" after the first n bytes of the path: its length, or -1 */

static int
oci_admin_digests_join(oci_admin_dwalk_t *w, int n, const char *name)
{
    int  m;

    m = snprintf(w->path + n, sizeof(w->path) - n, "/%s", name);

    if (m < 0 || (size_t) m >= sizeof(w->path) - n) {
        return -1;
    }

    return n + m;
}


/* the directory at the path: OCI_ADMIN_OK, or not, an error counted */

static int
oci_admin_digests_ls(oci_admin_dwalk_t *w, oci_admin_ls_t *ls)
{
    int  rc;

    rc = oci_admin_ls(w->path, ls);

    w->ds->errors += (rc == OCI_ADMIN_ERROR);

    return rc;
}
