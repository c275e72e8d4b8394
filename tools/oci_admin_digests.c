
/*
 * oci-admin: walking the directories of digests (oci_admin_digests.h).
 * One path buffer serves the whole walk: each level writes its name after
 * its parent's path.
 */


#include <stdio.h>
#include <string.h>

#include "oci_admin_digests.h"


typedef struct {
    const char           *root;
    ngx_oci_layout_e      what;
    oci_admin_file_pt     file;
    void                 *data;
    uint64_t             *errors;
    const char           *alg;          /* of the directory being walked */
    const char           *xx;           /* of blobs/<alg>/<xx>, or NULL */
    char                  path[OCI_ADMIN_PATH_LEN];
} oci_admin_dwalk_t;


static int oci_admin_digests_dir(oci_admin_dwalk_t *w, int n,
    oci_admin_name_t *e, int depth);
static int oci_admin_digests_belongs(oci_admin_dwalk_t *w,
    oci_admin_name_t *e, int depth);
static int oci_admin_digests_file(oci_admin_dwalk_t *w, int n,
    oci_admin_name_t *e);
static int oci_admin_digests_call(oci_admin_dwalk_t *w, int kind,
    const char *why, oci_admin_digest_t *d);
static int oci_admin_digests_join(oci_admin_dwalk_t *w, int n,
    const char *name);
static int oci_admin_digests_ls(oci_admin_dwalk_t *w, oci_admin_ls_t *ls);


int
oci_admin_digests(const char *root, oci_admin_repo_t *repo,
    ngx_oci_layout_e what, oci_admin_file_pt file, void *data,
    uint64_t *errors)
{
    int                rc, n;
    size_t             i;
    oci_admin_ls_t     algs;
    oci_admin_dwalk_t  w;

    w.root = root;
    w.what = what;
    w.file = file;
    w.data = data;
    w.errors = errors;
    w.xx = NULL;

    n = repo ? oci_admin_repo_layout(w.path, repo, what, NULL)
             : oci_admin_layout(w.path, root, what, NULL, 0, NULL);

    if (n < 0 || oci_admin_digests_ls(&w, &algs) != OCI_ADMIN_OK) {
        return OCI_ADMIN_OK;
    }

    rc = OCI_ADMIN_OK;

    for (i = 0; rc == OCI_ADMIN_OK && i < algs.n; i++) {
        rc = oci_admin_digests_dir(&w, n, &algs.e[i], 0);
    }

    oci_admin_ls_free(&algs);

    return rc;
}


/*
 * "<alg>" at depth 0, and under blobs/ "<alg>/<xx>" at depth 1, <xx>
 * being the first two digits of the digests it holds
 */

static int
oci_admin_digests_dir(oci_admin_dwalk_t *w, int n, oci_admin_name_t *e,
    int depth)
{
    int             rc, fan;
    size_t          i;
    oci_admin_ls_t  ls;

    n = oci_admin_digests_join(w, n, e->name);
    if (n < 0) {
        return OCI_ADMIN_OK;
    }

    if (!oci_admin_digests_belongs(w, e, depth)) {
        return oci_admin_digests_call(w, OCI_ADMIN_FILE_STRAY,
                                      "not part of the storage layout", NULL);
    }

    if (oci_admin_digests_ls(w, &ls) != OCI_ADMIN_OK) {
        return OCI_ADMIN_OK;
    }

    fan = (depth == 0 && w->what == NGX_OCI_LAYOUT_BLOBS);
    rc = OCI_ADMIN_OK;

    for (i = 0; rc == OCI_ADMIN_OK && i < ls.n; i++) {
        rc = fan ? oci_admin_digests_dir(w, n, &ls.e[i], 1)
                 : oci_admin_digests_file(w, n, &ls.e[i]);
    }

    oci_admin_ls_free(&ls);

    if (rc == OCI_ADMIN_OK && depth == 0) {
        rc = oci_admin_digests_call(w, OCI_ADMIN_FILE_DONE, NULL, NULL);
    }

    return rc;
}


static int
oci_admin_digests_belongs(oci_admin_dwalk_t *w, oci_admin_name_t *e,
    int depth)
{
    if (e->type != DT_DIR) {
        return 0;
    }

    if (depth == 1) {
        w->xx = e->name;

        return strlen(e->name) == 2
               && strspn(e->name, "0123456789abcdef") == 2;
    }

    w->alg = e->name;

    return strcmp(e->name, "sha256") == 0 || strcmp(e->name, "sha512") == 0;
}


/*
 * "<hex>", or in "_manifests" "<hex>.type", a regular file; under
 * "blobs/<alg>/<xx>" the digest must start with <xx>
 */

static int
oci_admin_digests_file(oci_admin_dwalk_t *w, int n, oci_admin_name_t *e)
{
    int                 m;
    char                digest[OCI_ADMIN_PATH_LEN];
    const char         *dot;
    oci_admin_digest_t  d;

    if (oci_admin_digests_join(w, n, e->name) < 0) {
        return OCI_ADMIN_OK;
    }

    if (e->type != DT_REG) {
        return oci_admin_digests_call(w, OCI_ADMIN_FILE_STRAY,
                                      "not a regular file", NULL);
    }

    dot = (w->what == NGX_OCI_LAYOUT_MANIFESTS_DIR) ? strchr(e->name, '.')
                                                    : NULL;

    m = oci_admin_path(digest, "%s:%.*s", w->alg,
                       dot ? (int) (dot - e->name) : (int) strlen(e->name),
                       e->name);

    if (m < 0 || oci_admin_digest_set(&d, digest, m) != 0
        || (w->xx && strncmp(e->name, w->xx, 2) != 0)
        || (dot && strcmp(dot, NGX_OCI_LAYOUT_TYPE_SUFFIX) != 0))
    {
        return oci_admin_digests_call(w, OCI_ADMIN_FILE_STRAY,
                                      w->xx ? "not named by its digest"
                                            : "not named by a digest",
                                      NULL);
    }

    return oci_admin_digests_call(w, dot ? OCI_ADMIN_FILE_TYPE
                                         : OCI_ADMIN_FILE_DIGEST, NULL, &d);
}


static int
oci_admin_digests_call(oci_admin_dwalk_t *w, int kind, const char *why,
    oci_admin_digest_t *d)
{
    oci_admin_file_t  f;

    f.kind = kind;
    f.why = why;
    f.path = w->path;
    f.rel = oci_admin_rel(w->root, w->path);

    if (d) {
        f.d = *d;
    }

    return w->file(w->data, &f);
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

    if (rc == OCI_ADMIN_ERROR && w->errors) {
        (*w->errors)++;
    }

    return rc;
}
