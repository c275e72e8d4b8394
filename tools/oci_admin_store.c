
/*
 * oci-admin: digests, repositories, paths and tags of the storage
 * (oci_admin_store.h).
 */


#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "oci_admin_message.h"
#include "oci_admin_store.h"


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
    if (!ngx_oci_name_valid((const u_char *) name, len)
        || oci_admin_layout(repo->path, root, NGX_OCI_LAYOUT_REPO, name, len,
                            NULL)
           < 0)
    {
        return -1;
    }

    repo->root = root;
    repo->name_len = len;
    memcpy(repo->name, name, len);
    repo->name[len] = '\0';

    return 0;
}


int
oci_admin_layout(char *buf, const char *root, ngx_oci_layout_e what,
    const char *name, size_t name_len, const char *ref)
{
    int     n;
    size_t  len;

    n = oci_admin_path(buf, "%s/", root);
    if (n < 0) {
        return -1;
    }

    len = ngx_oci_layout_path((u_char *) buf + n, OCI_ADMIN_PATH_LEN - n,
                              what, (const u_char *) name, name_len,
                              (const u_char *) ref, ref ? strlen(ref) : 0);

    return len ? n + (int) len : -1;
}


int
oci_admin_repo_layout(char *buf, oci_admin_repo_t *repo,
    ngx_oci_layout_e what, const char *ref)
{
    return oci_admin_layout(buf, repo->root, what, repo->name,
                            repo->name_len, ref);
}


const char *
oci_admin_rel(const char *root, const char *path)
{
    size_t  len;

    len = strlen(root);

    if (strncmp(path, root, len) == 0 && path[len] == '/') {
        return path + len + 1;
    }

    return path;
}


int
oci_admin_manifest_stored(oci_admin_repo_t *repo, oci_admin_digest_t *d)
{
    char         path[OCI_ADMIN_PATH_LEN];
    struct stat  st;

    if (oci_admin_repo_layout(path, repo, NGX_OCI_LAYOUT_MANIFEST_TYPE,
                              d->str)
        < 0
        || lstat(path, &st) == -1
        || oci_admin_repo_layout(path, repo, NGX_OCI_LAYOUT_MANIFEST,
                                 d->str)
           < 0)
    {
        return 0;
    }

    return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}


int
oci_admin_tags_ls(oci_admin_repo_t *repo, oci_admin_ls_t *ls)
{
    char  path[OCI_ADMIN_PATH_LEN];

    if (oci_admin_repo_layout(path, repo, NGX_OCI_LAYOUT_TAGS_DIR, NULL) < 0)
    {
        ls->e = NULL;
        ls->n = 0;
        return OCI_ADMIN_MISSING;
    }

    return oci_admin_ls(path, ls);
}


int
oci_admin_tag_kind(oci_admin_name_t *e, const char **why)
{
    const char  *dummy;

    if (why == NULL) {
        why = &dummy;
    }

    *why = NULL;

    if (e->type != DT_REG) {
        *why = "not a regular file";
        return OCI_ADMIN_TAG_STRAY;
    }

    /*
     * ".<tag>.lock" while a tag changes, ".<tag>.lock.<hex>" for an
     * instant while a stale one is removed, ".lock" left by versions
     * that locked all tags at once: no tag starts with "."
     */

    if (e->name[0] == NGX_OCI_LAYOUT_HIDDEN[0]
        && strstr(e->name, NGX_OCI_LAYOUT_TAG_LOCK))
    {
        return OCI_ADMIN_TAG_LOCK;
    }

    if (!ngx_oci_tag_valid((u_char *) e->name, strlen(e->name))) {
        *why = "not a valid tag name";
        return OCI_ADMIN_TAG_STRAY;
    }

    return OCI_ADMIN_TAG;
}


int
oci_admin_tag_read(oci_admin_repo_t *repo, const char *tag,
    oci_admin_digest_t *d)
{
    int       rc;
    char      path[OCI_ADMIN_PATH_LEN], reason[256];
    u_char   *data;
    size_t    len, start;

    if (oci_admin_repo_layout(path, repo, NGX_OCI_LAYOUT_TAG, tag) < 0) {
        oci_admin_warn("%s/%s/%s: path too long", repo->path,
                       NGX_OCI_LAYOUT_REPO_TAGS, tag);
        return OCI_ADMIN_ERROR;
    }

    rc = oci_admin_read(path, OCI_ADMIN_DIGEST_LEN + 2, NULL, &data, &len,
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
oci_admin_upload_file(const char *name, int *data)
{
    const char  *suffix;

    if (strlen(name) <= NGX_OCI_UPLOAD_ID_LEN
        || !ngx_oci_upload_id_valid((u_char *) name, NGX_OCI_UPLOAD_ID_LEN))
    {
        return -1;
    }

    suffix = name + NGX_OCI_UPLOAD_ID_LEN;

    *data = (strcmp(suffix, NGX_OCI_LAYOUT_DATA_SUFFIX) == 0);

    return *data || strcmp(suffix, NGX_OCI_LAYOUT_STATE_SUFFIX) == 0 ? 0 : -1;
}


int
oci_admin_upload_lock(const char *path)
{
    int  fd;

    fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

    if (fd != -1 && flock(fd, LOCK_EX | LOCK_NB) == -1) {
        close(fd);
        return -2;
    }

    return fd;
}


int
oci_admin_tag_lock(oci_admin_repo_t *repo, const char *tag)
{
    int              fd;
    char             path[OCI_ADMIN_PATH_LEN];
    unsigned         waited;
    struct stat      st;
    struct timespec  nap = { 0, 1000000 };

    if (oci_admin_repo_layout(path, repo, NGX_OCI_LAYOUT_TAG_LOCK_FILE, tag)
        < 0)
    {
        oci_admin_warn("%s/%s/.%s%s: path too long", repo->path,
                       NGX_OCI_LAYOUT_REPO_TAGS, tag, NGX_OCI_LAYOUT_TAG_LOCK);
        return -1;
    }

    for (waited = 0; /* void */; waited++) {
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0600);

        if (fd != -1) {
            close(fd);
            return 0;
        }

        if (errno == ENOENT && waited == 0 && oci_admin_mkdirs(path) == 0) {
            continue;
        }

        if (errno != EEXIST) {
            oci_admin_warn("%s: open(): %s", path, strerror(errno));
            return -1;
        }

        /* a lock that old was left by a worker that died holding it */

        if (lstat(path, &st) == 0
            && time(NULL) - st.st_mtime >= OCI_ADMIN_TAG_LOCK_STALE
            && unlink(path) == 0)
        {
            oci_admin_warn("%s: stale lock removed", path);
            continue;
        }

        if (waited == 60000) {
            oci_admin_warn("%s: still locked after a minute", path);
            return -1;
        }

        nanosleep(&nap, NULL);
    }
}


void
oci_admin_tag_unlock(oci_admin_repo_t *repo, const char *tag)
{
    char  path[OCI_ADMIN_PATH_LEN];

    if (oci_admin_repo_layout(path, repo, NGX_OCI_LAYOUT_TAG_LOCK_FILE, tag)
        >= 0
        && unlink(path) == -1 && errno != ENOENT)
    {
        oci_admin_warn("%s: unlink(): %s", path, strerror(errno));
    }
}


int
oci_admin_pages_drop(oci_admin_repo_t *repo, const char *subject)
{
    char           path[OCI_ADMIN_PATH_LEN], tmp[OCI_ADMIN_PATH_LEN];
    char           id[64];
    static int     n;

    if (oci_admin_repo_layout(path, repo,
                              subject ? NGX_OCI_LAYOUT_REFERRERS_DIR
                                      : NGX_OCI_LAYOUT_REFERRERS_ROOT,
                              subject)
        < 0)
    {
        return -1;
    }

    snprintf(id, sizeof(id), NGX_OCI_LAYOUT_TMP_PAGES "admin-%ld-%d-%d",
             (long) getpid(), ++n, rand());

    if (oci_admin_layout(tmp, repo->root, NGX_OCI_LAYOUT_TMP_FILE, NULL, 0,
                         id)
        < 0
        || oci_admin_mkdirs(tmp) != 0)
    {
        oci_admin_warn("%s/%s: cannot be made", repo->root,
                       NGX_OCI_LAYOUT_TMP_DIR);
        return -1;
    }

    if (rename(path, tmp) != 0) {
        if (errno == ENOENT) {
            return 0;
        }

        oci_admin_warn("%s: rename() to %s: %s", path, tmp, strerror(errno));
        return -1;
    }

    /* all subjects: <alg>/<hex>/<page>; one: <page> */

    if (oci_admin_rmtree(tmp, subject ? 1 : 3) != 0) {
        oci_admin_warn("%s: not removed: %s", tmp, strerror(errno));
    }

    return 0;
}
