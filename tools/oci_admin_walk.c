
/*
 * The storage as docs/storage.md lays it out: walking the repositories,
 * reading manifests and tags.
 */


#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oci_admin.h"
#include "oci_admin_store.h"


static int oci_admin_walk_cb(void *data, int what, const char *name,
    size_t len);
static int oci_admin_walk_repo(oci_admin_walk_t *w, const char *name,
    size_t len);
static int oci_admin_walk_manifests(oci_admin_walk_t *w,
    oci_admin_repo_t *repo);
static int oci_admin_walk_tags(oci_admin_walk_t *w, oci_admin_repo_t *repo);
static int oci_admin_read_file(const char *path, size_t max, u_char **data,
    size_t *len, char *reason, size_t reason_len);
static size_t oci_admin_trim(const u_char *p, size_t len, size_t *start);


int
oci_admin_digest_set(oci_admin_digest_t *d, const char *p, size_t len)
{
    int  alg;

    if (len > OCI_ADMIN_DIGEST_LEN
        || ngx_oci_digest_parse((const u_char *) p, len, &alg, NULL, NULL)
           != NGX_OCI_DIGEST_OK)
    {
        return -1;
    }

    d->alg = alg;
    d->len = len;
    memcpy(d->str, p, len);
    d->str[len] = '\0';

    return 0;
}


int
oci_admin_repo_init(oci_admin_repo_t *repo, const char *root,
    const char *name, size_t len)
{
    int  n;

    if (!ngx_oci_name_valid((const u_char *) name, len)) {
        return -1;
    }

    n = snprintf(repo->path, sizeof(repo->path), "%s/repositories/%.*s",
                 root, (int) len, name);

    if (n < 0 || (size_t) n >= sizeof(repo->path)) {
        return -1;
    }

    repo->root = root;
    repo->path_len = n;
    repo->name_len = len;
    memcpy(repo->name, name, len);
    repo->name[len] = '\0';

    return 0;
}


int
oci_admin_manifest_load(oci_admin_repo_t *repo, oci_admin_digest_t *d,
    oci_admin_manifest_t *mf)
{
    int              rc, n;
    char             path[OCI_ADMIN_PATH_LEN];
    char             hex[2 * NGX_OCI_SHA2_MAX_SIZE + 1];
    u_char           md[NGX_OCI_SHA2_MAX_SIZE], *type;
    size_t           i, len, start, type_len;
    ngx_oci_sha2_t   sha;

    static const char  digits[] = "0123456789abcdef";

    memset(mf, 0, sizeof(oci_admin_manifest_t));

    n = snprintf(path, sizeof(path), "%s/_manifests/%s/%s.type", repo->path,
                 oci_admin_digest_alg(d), oci_admin_digest_hex(d));

    if (n < 0 || (size_t) n >= sizeof(path)) {
        snprintf(mf->reason, sizeof(mf->reason), "path too long");
        return OCI_ADMIN_ERROR;
    }

    /* the manifest itself, then its media type */

    path[n - (sizeof(".type") - 1)] = '\0';

    rc = oci_admin_read_file(path, 0, &mf->data, &mf->len, mf->reason,
                             sizeof(mf->reason));
    if (rc != OCI_ADMIN_OK) {
        return rc;
    }

    path[n - (sizeof(".type") - 1)] = '.';

    rc = oci_admin_read_file(path, OCI_ADMIN_TYPE_LEN + 1, &type, &type_len,
                             mf->reason, sizeof(mf->reason));
    if (rc != OCI_ADMIN_OK) {
        if (rc == OCI_ADMIN_MISSING) {
            snprintf(mf->reason, sizeof(mf->reason), "no .type file");
        }

        return rc;
    }

    len = oci_admin_trim(type, type_len, &start);

    if (len == 0 || len > OCI_ADMIN_TYPE_LEN) {
        free(type);
        snprintf(mf->reason, sizeof(mf->reason),
                 "the .type file does not hold a media type");
        return OCI_ADMIN_CORRUPT;
    }

    memcpy(mf->type, type + start, len);
    mf->type[len] = '\0';
    mf->type_len = len;

    free(type);

    /* the bytes must hash to the name */

    ngx_oci_sha2_init(&sha, d->alg);
    ngx_oci_sha2_update(&sha, mf->data, mf->len);
    len = ngx_oci_sha2_final(&sha, md);

    for (i = 0; i < len; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 0xf];
    }

    hex[2 * len] = '\0';

    if (strcmp(hex, oci_admin_digest_hex(d)) != 0) {
        snprintf(mf->reason, sizeof(mf->reason), "the content is %s:%s",
                 oci_admin_digest_alg(d), hex);
        return OCI_ADMIN_CORRUPT;
    }

    if (ngx_oci_manifest_parse(mf->data, mf->len, (u_char *) mf->type,
                               mf->type_len, &mf->m)
        != NGX_OCI_MANIFEST_OK)
    {
        snprintf(mf->reason, sizeof(mf->reason), "not a valid %s: %s",
                 mf->type, mf->m.error);
        return OCI_ADMIN_CORRUPT;
    }

    return OCI_ADMIN_OK;
}


void
oci_admin_manifest_free(oci_admin_manifest_t *mf)
{
    ngx_oci_manifest_free(&mf->m);

    free(mf->data);

    mf->data = NULL;
    mf->len = 0;
}


int
oci_admin_manifest_find(oci_admin_repo_t *repo, const char *prefix,
    oci_admin_digest_t *d)
{
    int              rc, n, found;
    char             path[OCI_ADMIN_PATH_LEN], digest[OCI_ADMIN_PATH_LEN];
    size_t           i, len;
    const char      *colon;
    oci_admin_ls_t   list;

    colon = strchr(prefix, ':');
    if (colon == NULL) {
        return OCI_ADMIN_MISSING;
    }

    n = snprintf(path, sizeof(path), "%s/_manifests/%.*s", repo->path,
                 (int) (colon - prefix), prefix);
    if (n < 0 || (size_t) n >= sizeof(path)) {
        return OCI_ADMIN_MISSING;
    }

    rc = oci_admin_ls(path, &list);
    if (rc != OCI_ADMIN_OK) {
        return rc;
    }

    len = strlen(colon + 1);
    found = 0;

    for (i = 0; found < 2 && i < list.n; i++) {
        if (list.e[i].type != DT_REG
            || strncmp(list.e[i].name, colon + 1, len) != 0)
        {
            continue;
        }

        n = snprintf(digest, sizeof(digest), "%.*s:%s",
                     (int) (colon - prefix), prefix, list.e[i].name);

        if (n > 0 && (size_t) n < sizeof(digest)
            && oci_admin_digest_set(d, digest, n) == 0)
        {
            found++;
        }
    }

    oci_admin_ls_free(&list);

    return found == 0 ? OCI_ADMIN_MISSING
           : found == 1 ? OCI_ADMIN_OK : OCI_ADMIN_CORRUPT;
}


int
oci_admin_tag_read(oci_admin_repo_t *repo, const char *tag,
    oci_admin_digest_t *d)
{
    int       rc, n;
    char      path[OCI_ADMIN_PATH_LEN], reason[256];
    u_char   *data;
    size_t    len, start;

    n = snprintf(path, sizeof(path), "%s/_tags/%s", repo->path, tag);

    if (n < 0 || (size_t) n >= sizeof(path)) {
        oci_admin_warn("%s/_tags/%s: path too long", repo->path, tag);
        return OCI_ADMIN_ERROR;
    }

    rc = oci_admin_read_file(path, OCI_ADMIN_DIGEST_LEN + 2, &data, &len,
                             reason, sizeof(reason));

    if (rc == OCI_ADMIN_ERROR) {
        oci_admin_warn("%s: %s", path, reason);
    }

    if (rc != OCI_ADMIN_OK) {
        return rc;
    }

    len = oci_admin_trim(data, len, &start);

    rc = oci_admin_digest_set(d, (char *) data + start, len);

    free(data);

    return rc == 0 ? OCI_ADMIN_OK : OCI_ADMIN_CORRUPT;
}


int
oci_admin_walk(oci_admin_walk_t *w)
{
    return oci_admin_repos(w->root, oci_admin_walk_cb, w, &w->errors);
}


/*
 * Of what oci_admin_repos() finds, the walk's repositories are those with
 * "_manifests": one holding only blobs or tags has nothing to walk.  When
 * "_manifests" cannot be looked at, the repository is walked, so that
 * oci_admin_walk_manifests() says why.
 */

static int
oci_admin_walk_cb(void *data, int what, const char *name, size_t len)
{
    oci_admin_walk_t  *w = data;

    int          rc;
    char         path[OCI_ADMIN_PATH_LEN];
    struct stat  st;

    if (what == OCI_ADMIN_REPO_STRAY) {
        return OCI_ADMIN_OK;
    }

    if (oci_admin_path(path, "%s/repositories/%.*s/_manifests", w->root,
                       (int) len, name)
        > 0)
    {
        if (lstat(path, &st) == -1) {
            if (errno == ENOENT || errno == ENOTDIR) {
                return OCI_ADMIN_OK;
            }

        } else if (!S_ISDIR(st.st_mode)) {
            return OCI_ADMIN_OK;
        }
    }

    rc = oci_admin_walk_repo(w, name, len);

    return rc == OCI_ADMIN_ABORT ? OCI_ADMIN_ABORT : OCI_ADMIN_OK;
}


static int
oci_admin_walk_repo(oci_admin_walk_t *w, const char *name, size_t len)
{
    int               rc;
    oci_admin_repo_t  repo;

    if (oci_admin_repo_init(&repo, w->root, name, len) != 0) {
        oci_admin_warn("%s/repositories/%.*s: \"%.*s\" is not a valid "
                       "repository name, skipped", w->root, (int) len, name,
                       (int) len, name);
        w->invalid_names++;
        return OCI_ADMIN_OK;
    }

    if (w->repo) {
        rc = w->repo(w, &repo);
        if (rc != OCI_ADMIN_OK) {
            return rc;
        }
    }

    rc = oci_admin_walk_manifests(w, &repo);
    if (rc != OCI_ADMIN_OK) {
        return rc;
    }

    rc = oci_admin_walk_tags(w, &repo);
    if (rc != OCI_ADMIN_OK) {
        return rc;
    }

    if (w->repo_done) {
        return w->repo_done(w, &repo);
    }

    return OCI_ADMIN_OK;
}


static int
oci_admin_walk_manifests(oci_admin_walk_t *w, oci_admin_repo_t *repo)
{
    int                  rc, n;
    char                 path[OCI_ADMIN_PATH_LEN], digest[OCI_ADMIN_PATH_LEN];
    size_t               a, i;
    oci_admin_ls_t       algs, files;
    oci_admin_digest_t   d;

    n = snprintf(path, sizeof(path), "%s/_manifests", repo->path);
    if (n < 0 || (size_t) n >= sizeof(path)) {
        return OCI_ADMIN_OK;
    }

    rc = oci_admin_ls(path, &algs);
    if (rc != OCI_ADMIN_OK) {
        w->errors += (rc == OCI_ADMIN_ERROR);
        return OCI_ADMIN_OK;
    }

    rc = OCI_ADMIN_OK;

    for (a = 0; rc == OCI_ADMIN_OK && a < algs.n; a++) {
        if (algs.e[a].type != DT_DIR
            || (strcmp(algs.e[a].name, "sha256") != 0
                && strcmp(algs.e[a].name, "sha512") != 0))
        {
            continue;
        }

        n = snprintf(path, sizeof(path), "%s/_manifests/%s", repo->path,
                     algs.e[a].name);
        if (n < 0 || (size_t) n >= sizeof(path)) {
            continue;
        }

        rc = oci_admin_ls(path, &files);
        if (rc != OCI_ADMIN_OK) {
            w->errors += (rc == OCI_ADMIN_ERROR);
            rc = OCI_ADMIN_OK;
            continue;
        }

        for (i = 0; rc == OCI_ADMIN_OK && i < files.n; i++) {
            if (files.e[i].type != DT_REG) {
                continue;
            }

            /* "<hex>" only: ".type" files and strays are not manifests */

            n = snprintf(digest, sizeof(digest), "%s:%s", algs.e[a].name,
                         files.e[i].name);

            if (n < 0 || (size_t) n >= sizeof(digest)
                || oci_admin_digest_set(&d, digest, n) != 0)
            {
                continue;
            }

            if (w->manifest) {
                rc = w->manifest(w, repo, &d);
            }
        }

        oci_admin_ls_free(&files);
    }

    oci_admin_ls_free(&algs);

    return rc;
}


static int
oci_admin_walk_tags(oci_admin_walk_t *w, oci_admin_repo_t *repo)
{
    int              rc, n;
    char             path[OCI_ADMIN_PATH_LEN];
    size_t           i;
    oci_admin_ls_t   list;

    if (w->tag == NULL) {
        return OCI_ADMIN_OK;
    }

    n = snprintf(path, sizeof(path), "%s/_tags", repo->path);
    if (n < 0 || (size_t) n >= sizeof(path)) {
        return OCI_ADMIN_OK;
    }

    rc = oci_admin_ls(path, &list);
    if (rc != OCI_ADMIN_OK) {
        /* a repository without tags has no "_tags" */
        w->errors += (rc == OCI_ADMIN_ERROR);
        return OCI_ADMIN_OK;
    }

    rc = OCI_ADMIN_OK;

    for (i = 0; rc == OCI_ADMIN_OK && i < list.n; i++) {
        if (list.e[i].type == DT_REG
            && ngx_oci_tag_valid((u_char *) list.e[i].name,
                                 strlen(list.e[i].name)))
        {
            rc = w->tag(w, repo, list.e[i].name);
        }
    }

    oci_admin_ls_free(&list);

    return rc;
}


/*
 * The entries of a directory but "." and "..", sorted, their type
 * resolved without following symbolic links.  OCI_ADMIN_OK,
 * OCI_ADMIN_MISSING, or OCI_ADMIN_ERROR after a warning.
 */

/*
 * The whole file, or its first "max" bytes when max is not 0; data is
 * malloc()ed.  OCI_ADMIN_OK, OCI_ADMIN_MISSING, OCI_ADMIN_CORRUPT (not a
 * regular file) or OCI_ADMIN_ERROR, with the reason.
 */

static int
oci_admin_read_file(const char *path, size_t max, u_char **data,
    size_t *len, char *reason, size_t reason_len)
{
    int          fd, err;
    size_t       size, got;
    u_char      *p;
    ssize_t      n;
    struct stat  st;

    *data = NULL;
    *len = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        if (errno == ENOENT || errno == ENOTDIR) {
            snprintf(reason, reason_len, "not found");
            return OCI_ADMIN_MISSING;
        }

        snprintf(reason, reason_len, "open(): %s", strerror(errno));
        return OCI_ADMIN_ERROR;
    }

    if (fstat(fd, &st) == -1) {
        snprintf(reason, reason_len, "fstat(): %s", strerror(errno));
        close(fd);
        return OCI_ADMIN_ERROR;
    }

    if (!S_ISREG(st.st_mode)) {
        snprintf(reason, reason_len, "not a regular file");
        close(fd);
        return OCI_ADMIN_CORRUPT;
    }

    size = (size_t) st.st_size;

    if (max && size > max) {
        size = max;
    }

    p = malloc(size + 1);
    if (p == NULL) {
        snprintf(reason, reason_len, "out of memory");
        close(fd);
        return OCI_ADMIN_ERROR;
    }

    for (got = 0; got < size; got += n) {
        n = read(fd, p + got, size - got);

        if (n == -1) {
            if (errno == EINTR) {
                n = 0;
                continue;
            }

            err = errno;
            snprintf(reason, reason_len, "read(): %s", strerror(err));
            free(p);
            close(fd);
            return OCI_ADMIN_ERROR;
        }

        if (n == 0) {
            break;
        }
    }

    close(fd);

    p[got] = '\0';

    *data = p;
    *len = got;

    return OCI_ADMIN_OK;
}


/* the length of p without surrounding whitespace, from *start */

static size_t
oci_admin_trim(const u_char *p, size_t len, size_t *start)
{
    size_t  s;

    for (s = 0; s < len && (p[s] == ' ' || p[s] == '\t' || p[s] == '\r'
                            || p[s] == '\n'); s++)
    {
        /* void */
    }

    while (len > s && (p[len - 1] == ' ' || p[len - 1] == '\t'
                       || p[len - 1] == '\r' || p[len - 1] == '\n'))
    {
        len--;
    }

    *start = s;

    return len - s;
}
