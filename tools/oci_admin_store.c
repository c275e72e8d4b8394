
/*
 * oci-admin: the storage as fsck and gc see it (oci_admin_store.h).
 */


#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "oci_admin_store.h"


#define OCI_ADMIN_READ_SIZE  (1024 * 1024)


static int oci_admin_repos_dir(const char *root, char *name, size_t len,
    oci_admin_repo_pt cb, void *data, uint64_t *errors);
static int oci_admin_name_cmp(const void *a, const void *b);
static int oci_admin_read_fd(int fd, size_t max, u_char **data, size_t *len,
    char *reason, size_t reason_len);
static int oci_admin_refs_add(char ***list, size_t *n, json_t *d);


int
oci_admin_ls(const char *path, oci_admin_ls_t *ls)
{
    DIR               *dir;
    size_t             size;
    struct stat        st;
    struct dirent     *de;
    oci_admin_name_t  *e;

    ls->e = NULL;
    ls->n = 0;

    dir = opendir(path);
    if (dir == NULL) {
        if (errno == ENOENT || errno == ENOTDIR) {
            return OCI_ADMIN_MISSING;
        }

        oci_admin_warn("%s: opendir(): %s", path, strerror(errno));
        return OCI_ADMIN_ERROR;
    }

    size = 0;

    for ( ;; ) {
        errno = 0;

        de = readdir(dir);
        if (de == NULL) {
            break;
        }

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }

        if (ls->n == size) {
            size = size ? size * 2 : 32;

            e = realloc(ls->e, size * sizeof(oci_admin_name_t));
            if (e == NULL) {
                goto nomem;
            }

            ls->e = e;
        }

        e = &ls->e[ls->n];

        e->name = strdup(de->d_name);
        if (e->name == NULL) {
            goto nomem;
        }

        e->type = de->d_type;
        ls->n++;

        if (e->type == DT_UNKNOWN
            && fstatat(dirfd(dir), e->name, &st, AT_SYMLINK_NOFOLLOW) == 0)
        {
            e->type = S_ISDIR(st.st_mode) ? DT_DIR
                      : S_ISREG(st.st_mode) ? DT_REG
                      : S_ISLNK(st.st_mode) ? DT_LNK : DT_UNKNOWN;
        }

        if (e->type != DT_DIR && e->type != DT_REG && e->type != DT_LNK) {
            e->type = DT_UNKNOWN;
        }
    }

    if (errno != 0) {
        oci_admin_warn("%s: readdir(): %s", path, strerror(errno));
        closedir(dir);
        oci_admin_ls_free(ls);
        return OCI_ADMIN_ERROR;
    }

    closedir(dir);

    if (ls->n) {
        qsort(ls->e, ls->n, sizeof(oci_admin_name_t), oci_admin_name_cmp);
    }

    return OCI_ADMIN_OK;

nomem:

    oci_admin_warn("%s: out of memory", path);
    closedir(dir);
    oci_admin_ls_free(ls);

    return OCI_ADMIN_ERROR;
}


void
oci_admin_ls_free(oci_admin_ls_t *ls)
{
    size_t  i;

    for (i = 0; i < ls->n; i++) {
        free(ls->e[i].name);
    }

    free(ls->e);

    ls->e = NULL;
    ls->n = 0;
}


static int
oci_admin_name_cmp(const void *a, const void *b)
{
    const oci_admin_name_t  *x = a, *y = b;

    return strcmp(x->name, y->name);
}


int
oci_admin_path(char *buf, const char *fmt, ...)
{
    int      n;
    va_list  args;

    va_start(args, fmt);
    n = vsnprintf(buf, OCI_ADMIN_PATH_LEN, fmt, args);
    va_end(args);

    if (n < 0 || n >= OCI_ADMIN_PATH_LEN) {
        return -1;
    }

    return n;
}


int
oci_admin_blob_path(char *buf, const char *root, oci_admin_digest_t *d)
{
    const char  *hex;

    hex = oci_admin_digest_hex(d);

    return oci_admin_path(buf, "%s/blobs/%s/%.2s/%s", root,
                          oci_admin_digest_alg(d), hex, hex);
}


int
oci_admin_mkdirs(const char *path)
{
    char  *p, buf[OCI_ADMIN_PATH_LEN];

    if (strlen(path) >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }

    strcpy(buf, path);

    for (p = buf + 1; *p; p++) {
        if (*p != '/') {
            continue;
        }

        *p = '\0';

        if (mkdir(buf, 0700) == -1 && errno != EEXIST) {
            return -1;
        }

        *p = '/';
    }

    return 0;
}


int64_t
oci_admin_clock(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);

    return (int64_t) ts.tv_sec * OCI_ADMIN_NS + ts.tv_nsec;
}


int64_t
oci_admin_mtime(const struct stat *st)
{
    return (int64_t) st->st_mtim.tv_sec * OCI_ADMIN_NS + st->st_mtim.tv_nsec;
}


int64_t
oci_admin_ctime(const struct stat *st)
{
    return (int64_t) st->st_ctim.tv_sec * OCI_ADMIN_NS + st->st_ctim.tv_nsec;
}


int64_t
oci_admin_stamp(const struct stat *st)
{
    int64_t  m, c;

    m = oci_admin_mtime(st);
    c = oci_admin_ctime(st);

    return m > c ? m : c;
}


int
oci_admin_duration(const char *s, int64_t *seconds)
{
    int64_t      n, unit;
    const char  *p;

    n = 0;

    for (p = s; *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (*p - '0');

        if (n > 100LL * 366 * 86400) {
            return -1;
        }
    }

    if (p == s) {
        return -1;
    }

    switch (*p) {
    case '\0':
    case 's':
        unit = 1;
        break;
    case 'm':
        unit = 60;
        break;
    case 'h':
        unit = 3600;
        break;
    case 'd':
        unit = 86400;
        break;
    case 'w':
        unit = 7 * 86400;
        break;
    default:
        return -1;
    }

    if (*p != '\0' && p[1] != '\0') {
        return -1;
    }

    if (n > 100LL * 366 * 86400 / unit) {
        return -1;
    }

    *seconds = n * unit;

    return 0;
}


oci_admin_inode_t *
oci_admin_imap_get(oci_admin_imap_t *m, dev_t dev, ino_t ino, int create)
{
    size_t              i, j, size, mask;
    uint64_t            h;
    oci_admin_inode_t  *slots, *e;

    if (m->size) {
        h = ((uint64_t) ino * 0x9e3779b97f4a7c15ULL) ^ (uint64_t) dev;
        mask = m->size - 1;

        for (i = h & mask; m->slots[i].used; i = (i + 1) & mask) {
            if (m->slots[i].ino == ino && m->slots[i].dev == dev) {
                return &m->slots[i];
            }
        }
    }

    if (!create) {
        return NULL;
    }

    /* at most half full */

    if ((m->count + 1) * 2 > m->size) {
        size = m->size ? m->size * 2 : 256;
        mask = size - 1;

        slots = calloc(size, sizeof(oci_admin_inode_t));
        if (slots == NULL) {
            return NULL;
        }

        for (i = 0; i < m->size; i++) {
            e = &m->slots[i];
            if (!e->used) {
                continue;
            }

            h = ((uint64_t) e->ino * 0x9e3779b97f4a7c15ULL)
                ^ (uint64_t) e->dev;

            for (j = h & mask; slots[j].used; j = (j + 1) & mask) {
                /* void */
            }

            slots[j] = *e;
        }

        free(m->slots);

        m->slots = slots;
        m->size = size;
    }

    h = ((uint64_t) ino * 0x9e3779b97f4a7c15ULL) ^ (uint64_t) dev;
    mask = m->size - 1;

    for (i = h & mask; m->slots[i].used; i = (i + 1) & mask) {
        /* void */
    }

    e = &m->slots[i];

    memset(e, 0, sizeof(oci_admin_inode_t));
    e->dev = dev;
    e->ino = ino;
    e->used = 1;

    m->count++;

    return e;
}


void
oci_admin_imap_free(oci_admin_imap_t *m)
{
    free(m->slots);

    m->slots = NULL;
    m->size = 0;
    m->count = 0;
}


int
oci_admin_hash_fd(int fd, int alg, char *hex, uint64_t *bytes,
    char *reason, size_t reason_len)
{
    u_char          *buf, md[NGX_OCI_SHA2_MAX_SIZE];
    size_t           len;
    ssize_t          n;
    ngx_oci_sha2_t   sha;

    buf = malloc(OCI_ADMIN_READ_SIZE);
    if (buf == NULL) {
        snprintf(reason, reason_len, "out of memory");
        return OCI_ADMIN_ERROR;
    }

    ngx_oci_sha2_init(&sha, alg);

    for ( ;; ) {
        n = read(fd, buf, OCI_ADMIN_READ_SIZE);

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }

            snprintf(reason, reason_len, "read(): %s", strerror(errno));
            free(buf);
            return OCI_ADMIN_ERROR;
        }

        if (n == 0) {
            break;
        }

        ngx_oci_sha2_update(&sha, buf, n);
        *bytes += n;
    }

    free(buf);

    len = ngx_oci_sha2_final(&sha, md);
    oci_admin_hex(md, len, hex);

    return OCI_ADMIN_OK;
}


void
oci_admin_hex(const u_char *md, size_t len, char *hex)
{
    size_t  i;

    static const char  digits[] = "0123456789abcdef";

    for (i = 0; i < len; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 0xf];
    }

    hex[2 * len] = '\0';
}


int
oci_admin_repos(const char *root, oci_admin_repo_pt cb, void *data,
    uint64_t *errors)
{
    char  name[NGX_OCI_NAME_MAX_LEN + 1];

    return oci_admin_repos_dir(root, name, 0, cb, data, errors);
}


/*
 * name[0 .. len - 1] is the directory's path under "repositories", empty
 * for "repositories" itself
 */

static int
oci_admin_repos_dir(const char *root, char *name, size_t len,
    oci_admin_repo_pt cb, void *data, uint64_t *errors)
{
    int             rc, repo, own, n;
    char            path[OCI_ADMIN_PATH_LEN], rel[OCI_ADMIN_PATH_LEN];
    size_t          i, l;
    oci_admin_ls_t  ls;

    n = oci_admin_path(path, "%s/repositories%s%.*s", root, len ? "/" : "",
                       (int) len, name);
    if (n < 0) {
        oci_admin_warn("%s/repositories/%.*s: path too long", root,
                       (int) len, name);
        (*errors)++;
        return OCI_ADMIN_OK;
    }

    rc = oci_admin_ls(path, &ls);

    if (rc == OCI_ADMIN_MISSING) {
        return OCI_ADMIN_OK;
    }

    if (rc != OCI_ADMIN_OK) {
        (*errors)++;
        return OCI_ADMIN_OK;
    }

    repo = 0;

    for (i = 0; len && i < ls.n; i++) {
        if (ls.e[i].type == DT_DIR
            && (strcmp(ls.e[i].name, "_manifests") == 0
                || strcmp(ls.e[i].name, "_blobs") == 0
                || strcmp(ls.e[i].name, "_tags") == 0))
        {
            repo = 1;
        }
    }

    rc = OCI_ADMIN_OK;

    if (repo) {
        rc = cb(data, ngx_oci_name_valid((u_char *) name, len)
                      ? OCI_ADMIN_REPO_OK : OCI_ADMIN_REPO_INVALID,
                name, len);
    }

    for (i = 0; rc == OCI_ADMIN_OK && i < ls.n; i++) {
        own = repo && ls.e[i].type == DT_DIR
              && (strcmp(ls.e[i].name, "_manifests") == 0
                  || strcmp(ls.e[i].name, "_blobs") == 0
                  || strcmp(ls.e[i].name, "_tags") == 0);

        if (own) {
            continue;
        }

        l = strlen(ls.e[i].name);

        if (ls.e[i].type != DT_DIR || ls.e[i].name[0] == '_'
            || ls.e[i].name[0] == '.'
            || len + (len ? 1 : 0) + l > NGX_OCI_NAME_MAX_LEN)
        {
            n = oci_admin_path(rel, "repositories/%.*s%s%s", (int) len, name,
                               len ? "/" : "", ls.e[i].name);
            if (n > 0) {
                rc = cb(data, OCI_ADMIN_REPO_STRAY, rel, n);
            }

            continue;
        }

        if (len) {
            name[len] = '/';
        }

        memcpy(name + len + (len ? 1 : 0), ls.e[i].name, l);

        rc = oci_admin_repos_dir(root, name, len + (len ? 1 : 0) + l, cb,
                                 data, errors);
    }

    oci_admin_ls_free(&ls);

    return rc == OCI_ADMIN_ABORT ? OCI_ADMIN_ABORT : OCI_ADMIN_OK;
}


int
oci_admin_tag_names(oci_admin_repo_t *repo, oci_admin_ls_t *ls)
{
    int     rc;
    char    path[OCI_ADMIN_PATH_LEN];
    size_t  i, j;

    if (oci_admin_path(path, "%s/_tags", repo->path) < 0) {
        ls->e = NULL;
        ls->n = 0;
        return OCI_ADMIN_MISSING;
    }

    rc = oci_admin_ls(path, ls);
    if (rc != OCI_ADMIN_OK) {
        return rc;
    }

    for (i = 0, j = 0; i < ls->n; i++) {
        if (ls->e[i].type == DT_REG
            && ngx_oci_tag_valid((u_char *) ls->e[i].name,
                                 strlen(ls->e[i].name)))
        {
            ls->e[j++] = ls->e[i];
            continue;
        }

        free(ls->e[i].name);
    }

    ls->n = j;

    return OCI_ADMIN_OK;
}


int
oci_admin_tags_lock(oci_admin_repo_t *repo)
{
    int   fd;
    char  path[OCI_ADMIN_PATH_LEN];

    if (oci_admin_path(path, "%s/_tags/.lock", repo->path) < 0) {
        oci_admin_warn("%s/_tags/.lock: path too long", repo->path);
        return -1;
    }

    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

    if (fd == -1 && errno == ENOENT) {
        if (oci_admin_mkdirs(path) == 0) {
            fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        }
    }

    if (fd == -1) {
        oci_admin_warn("%s: open(): %s", path, strerror(errno));
        return -1;
    }

    while (flock(fd, LOCK_EX) == -1) {
        if (errno != EINTR) {
            oci_admin_warn("%s: flock(): %s", path, strerror(errno));
            close(fd);
            return -1;
        }
    }

    return fd;
}


int
oci_admin_mf_read(oci_admin_repo_t *repo, oci_admin_digest_t *d,
    oci_admin_mf_t *mf)
{
    int              fd, rc, n;
    char             path[OCI_ADMIN_PATH_LEN];
    char             hex[2 * NGX_OCI_SHA2_MAX_SIZE + 1];
    u_char          *type, md[NGX_OCI_SHA2_MAX_SIZE];
    size_t           len, s, e;
    ngx_oci_sha2_t   sha;

    memset(mf, 0, sizeof(oci_admin_mf_t));

    n = oci_admin_path(path, "%s/_manifests/%s/%s.type", repo->path,
                       oci_admin_digest_alg(d), oci_admin_digest_hex(d));
    if (n < 0) {
        snprintf(mf->reason, sizeof(mf->reason), "path too long");
        return OCI_ADMIN_ERROR;
    }

    path[n - (sizeof(".type") - 1)] = '\0';

    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd == -1) {
        if (errno == ENOENT || errno == ENOTDIR) {
            snprintf(mf->reason, sizeof(mf->reason), "not found");
            return OCI_ADMIN_MISSING;
        }

        if (errno == ELOOP) {
            snprintf(mf->reason, sizeof(mf->reason), "a symbolic link");
            return OCI_ADMIN_CORRUPT;
        }

        snprintf(mf->reason, sizeof(mf->reason), "open(): %s",
                 strerror(errno));
        return OCI_ADMIN_ERROR;
    }

    if (fstat(fd, &mf->st) == -1) {
        snprintf(mf->reason, sizeof(mf->reason), "fstat(): %s",
                 strerror(errno));
        close(fd);
        return OCI_ADMIN_ERROR;
    }

    if (!S_ISREG(mf->st.st_mode)) {
        snprintf(mf->reason, sizeof(mf->reason), "not a regular file");
        close(fd);
        return OCI_ADMIN_CORRUPT;
    }

    if (mf->st.st_size > OCI_ADMIN_MANIFEST_MAX) {
        snprintf(mf->reason, sizeof(mf->reason), "%lld bytes, too large "
                 "for a manifest", (long long) mf->st.st_size);
        close(fd);
        return OCI_ADMIN_CORRUPT;
    }

    rc = oci_admin_read_fd(fd, OCI_ADMIN_MANIFEST_MAX, &mf->data, &mf->len,
                           mf->reason, sizeof(mf->reason));
    close(fd);

    if (rc != OCI_ADMIN_OK) {
        return rc;
    }

    ngx_oci_sha2_init(&sha, d->alg);
    ngx_oci_sha2_update(&sha, mf->data, mf->len);
    len = ngx_oci_sha2_final(&sha, md);
    oci_admin_hex(md, len, hex);

    mf->hash_ok = (strcmp(hex, oci_admin_digest_hex(d)) == 0);
    snprintf(mf->actual, sizeof(mf->actual), "%s:%s",
             oci_admin_digest_alg(d), hex);

    /* the media type: missing, unusable, or a Content-Type to parse with */

    path[n - (sizeof(".type") - 1)] = '.';

    mf->type_rc = OCI_ADMIN_CORRUPT;

    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

    if (fd == -1) {
        if (errno == ENOENT) {
            mf->type_rc = OCI_ADMIN_MISSING;
            snprintf(mf->reason, sizeof(mf->reason), "no .type file");

        } else {
            snprintf(mf->reason, sizeof(mf->reason), ".type: open(): %s",
                     strerror(errno));
        }

    } else if (fstat(fd, &mf->type_st) == -1) {
        snprintf(mf->reason, sizeof(mf->reason), ".type: fstat(): %s",
                 strerror(errno));

    } else if (!S_ISREG(mf->type_st.st_mode)) {
        snprintf(mf->reason, sizeof(mf->reason),
                 ".type is not a regular file");

    } else if (oci_admin_read_fd(fd, OCI_ADMIN_TYPE_LEN + 1, &type, &len,
                                 mf->reason, sizeof(mf->reason))
               == OCI_ADMIN_OK)
    {
        for (s = 0; s < len && (type[s] == ' ' || type[s] == '\t'
                                || type[s] == '\r' || type[s] == '\n'); s++)
        {
            /* void */
        }

        for (e = len; e > s && (type[e - 1] == ' ' || type[e - 1] == '\t'
                                || type[e - 1] == '\r'
                                || type[e - 1] == '\n'); e--)
        {
            /* void */
        }

        if (e > s && e - s <= OCI_ADMIN_TYPE_LEN) {
            memcpy(mf->type, type + s, e - s);
            mf->type[e - s] = '\0';
            mf->type_len = e - s;
            mf->type_rc = OCI_ADMIN_OK;

        } else {
            snprintf(mf->reason, sizeof(mf->reason),
                     "the .type file does not hold a media type");
        }

        free(type);
    }

    if (fd != -1) {
        close(fd);
    }

    mf->parse_rc = ngx_oci_manifest_parse(mf->data, mf->len,
                                          mf->type_rc == OCI_ADMIN_OK
                                          ? (u_char *) mf->type : NULL,
                                          mf->type_len, &mf->m);

    return OCI_ADMIN_OK;
}


void
oci_admin_mf_free(oci_admin_mf_t *mf)
{
    ngx_oci_manifest_free(&mf->m);

    free(mf->data);

    mf->data = NULL;
    mf->len = 0;
}


/* the whole file, at most max bytes (a larger file is CORRUPT) */

static int
oci_admin_read_fd(int fd, size_t max, u_char **data, size_t *len,
    char *reason, size_t reason_len)
{
    u_char   *p, *np;
    size_t    size, got;
    ssize_t   n;

    *data = NULL;
    *len = 0;

    size = 4096;
    got = 0;

    p = malloc(size + 1);
    if (p == NULL) {
        snprintf(reason, reason_len, "out of memory");
        return OCI_ADMIN_ERROR;
    }

    for ( ;; ) {
        if (got == size) {
            if (size >= max) {
                free(p);
                snprintf(reason, reason_len, "larger than %zu bytes", max);
                return OCI_ADMIN_CORRUPT;
            }

            size = size * 2 > max ? max : size * 2;

            np = realloc(p, size + 1);
            if (np == NULL) {
                free(p);
                snprintf(reason, reason_len, "out of memory");
                return OCI_ADMIN_ERROR;
            }

            p = np;
        }

        n = read(fd, p + got, size - got);

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }

            snprintf(reason, reason_len, "read(): %s", strerror(errno));
            free(p);
            return OCI_ADMIN_ERROR;
        }

        if (n == 0) {
            break;
        }

        got += n;
    }

    p[got] = '\0';

    *data = p;
    *len = got;

    return OCI_ADMIN_OK;
}


int
oci_admin_refs_get(ngx_oci_manifest_t *m, oci_admin_refs_t *refs)
{
    size_t         i;
    size_t         len;
    const u_char  *p;

    memset(refs, 0, sizeof(oci_admin_refs_t));

    if (m->config && oci_admin_refs_add(&refs->blobs, &refs->nblobs,
                                        m->config)
                     != 0)
    {
        goto nomem;
    }

    for (i = 0; i < json_array_size(m->layers); i++) {
        if (oci_admin_refs_add(&refs->blobs, &refs->nblobs,
                               json_array_get(m->layers, i))
            != 0)
        {
            goto nomem;
        }
    }

    for (i = 0; i < json_array_size(m->manifests); i++) {
        if (oci_admin_refs_add(&refs->children, &refs->nchildren,
                               json_array_get(m->manifests, i))
            != 0)
        {
            goto nomem;
        }
    }

    if (m->subject
        && ngx_oci_descriptor_digest(m->subject, &p, &len, NULL)
           == NGX_OCI_DIGEST_OK)
    {
        refs->subject = strndup((const char *) p, len);
        if (refs->subject == NULL) {
            goto nomem;
        }
    }

    return 0;

nomem:

    oci_admin_refs_free(refs);

    return -1;
}


void
oci_admin_refs_free(oci_admin_refs_t *refs)
{
    size_t  i;

    for (i = 0; i < refs->nblobs; i++) {
        free(refs->blobs[i]);
    }

    for (i = 0; i < refs->nchildren; i++) {
        free(refs->children[i]);
    }

    free(refs->blobs);
    free(refs->children);
    free(refs->subject);

    memset(refs, 0, sizeof(oci_admin_refs_t));
}


/* 0, also for a descriptor without a usable digest; -1 out of memory */

static int
oci_admin_refs_add(char ***list, size_t *n, json_t *d)
{
    char          *s, **l;
    size_t         len;
    const u_char  *p;

    if (ngx_oci_descriptor_digest(d, &p, &len, NULL) != NGX_OCI_DIGEST_OK) {
        return 0;
    }

    /* a power of two: grow */

    if ((*n & (*n - 1)) == 0) {
        l = realloc(*list, (*n ? *n * 2 : 1) * sizeof(char *));
        if (l == NULL) {
            return -1;
        }

        *list = l;
    }

    s = strndup((const char *) p, len);
    if (s == NULL) {
        return -1;
    }

    (*list)[(*n)++] = s;

    return 0;
}
