
/*
 * The storage root: paths, and the primitives every part of storage is
 * built from.
 *
 * Everything is published by rename() or link() of a complete file, so a
 * reader sees all of a file or none of it, and two writers of the same
 * content end with one copy (docs/storage.md).
 */


#include "ngx_oci_store.h"

#include <openssl/rand.h>
#include <sys/syscall.h>

#ifdef SYS_openat2
#include <linux/openat2.h>
#endif


static void ngx_oci_store_root_shared_close(void *data);
static ngx_int_t ngx_oci_store_root_shared(ngx_oci_store_t *st);
static ngx_int_t ngx_oci_store_root(ngx_oci_store_t *st);
static void ngx_oci_store_root_close(void *data);
#ifdef SYS_openat2
static ngx_fd_t ngx_oci_store_beneath(ngx_oci_store_t *st, u_char *rel,
    int flags);
static ngx_int_t ngx_oci_store_file_open2(ngx_oci_store_t *st,
    ngx_str_t *path, int flags, ngx_fd_t *fd);
#endif
static ngx_int_t ngx_oci_store_refused(ngx_oci_store_t *st,
    ngx_str_t *path);
static ngx_int_t ngx_oci_store_file_read_sized(ngx_oci_store_t *st,
    ngx_fd_t fd, ngx_str_t *path, ngx_str_t *out, size_t max);
static ngx_int_t ngx_oci_store_walk(ngx_oci_store_t *st, u_char *dir,
    ngx_uint_t create, ngx_fd_t *fd, ngx_err_t *err);


/*
 * "<root>/<what>" for a repository name and a digest, tag or id, from
 * the pool. Names, tags and digests are validated before they get here.
 */

ngx_int_t
ngx_oci_store_path(ngx_oci_store_t *st, ngx_oci_layout_e what,
    ngx_str_t *name, ngx_str_t *ref, ngx_str_t *path)
{
    u_char     *p;
    size_t      len, size;
    ngx_str_t   none = ngx_null_string;

    if (name == NULL) {
        name = &none;
    }

    if (ref == NULL) {
        ref = &none;
    }

    size = st->root.len + 1 + NGX_OCI_LAYOUT_MAX;

    p = ngx_pnalloc(st->pool, size);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, st->root.data, st->root.len);
    p[st->root.len] = '/';

    len = ngx_oci_layout_path(p + st->root.len + 1, NGX_OCI_LAYOUT_MAX,
                              what, name->data, name->len, ref->data,
                              ref->len);
    if (len == 0) {
        ngx_log_error(NGX_LOG_ALERT, st->log, 0,
                      "oci: no storage path for \"%V\" \"%V\"", name, ref);
        return NGX_ERROR;
    }

    path->data = p;
    path->len = st->root.len + 1 + len;

    return NGX_OK;
}


/* by kind: the same as the file_ functions below, on the kind's path */

ngx_int_t
ngx_oci_store_exists(ngx_oci_store_t *st, ngx_oci_layout_e what,
    ngx_str_t *name, ngx_str_t *ref)
{
    ngx_str_t  path;

    if (ngx_oci_store_path(st, what, name, ref, &path) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_oci_store_file_exists(st, &path);
}


ngx_int_t
ngx_oci_store_size(ngx_oci_store_t *st, ngx_oci_layout_e what,
    ngx_str_t *name, ngx_str_t *ref, off_t *size)
{
    ngx_str_t  path;

    if (ngx_oci_store_path(st, what, name, ref, &path) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_oci_store_file_size(st, &path, size);
}


ngx_int_t
ngx_oci_store_read(ngx_oci_store_t *st, ngx_oci_layout_e what,
    ngx_str_t *name, ngx_str_t *ref, ngx_str_t *out, size_t max)
{
    ngx_str_t  path;

    if (ngx_oci_store_path(st, what, name, ref, &path) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_oci_store_file_read(st, &path, out, max);
}


ngx_int_t
ngx_oci_store_unlink(ngx_oci_store_t *st, ngx_oci_layout_e what,
    ngx_str_t *name, ngx_str_t *ref)
{
    ngx_str_t  path;

    if (ngx_oci_store_path(st, what, name, ref, &path) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_oci_store_file_unlink(st, &path);
}


/*
 * A root of the configuration, for its workers to share: nothing is
 * opened here (the master never opens it); the descriptor a worker opens
 * is closed when the configuration's pool goes, at the worker's exit or
 * after a reload.
 */

ngx_oci_store_root_t *
ngx_oci_store_root_create(ngx_pool_t *pool, ngx_str_t *path)
{
    ngx_pool_cleanup_t    *cln;
    ngx_oci_store_root_t  *root;

    root = ngx_pcalloc(pool, sizeof(ngx_oci_store_root_t));
    if (root == NULL) {
        return NULL;
    }

    root->path.data = ngx_pnalloc(pool, path->len + 1);
    if (root->path.data == NULL) {
        return NULL;
    }

    ngx_memcpy(root->path.data, path->data, path->len);
    root->path.data[path->len] = '\0';
    root->path.len = path->len;
    root->fd = NGX_INVALID_FILE;

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_oci_store_root_shared_close;
    cln->data = root;

    return root;
}


static void
ngx_oci_store_root_shared_close(void *data)
{
    ngx_oci_store_root_t  *root = data;

    if (root->fd != NGX_INVALID_FILE) {
        (void) close(root->fd);
        root->fd = NGX_INVALID_FILE;
    }
}


/*
 * The worker's descriptor of a root, opened on first use. The root may
 * be replaced on disk (renamed away, another directory put in its place):
 * once a second at most, the configured path is looked at again, and a
 * different directory is opened and put under the same descriptor number
 * (dup3), so what a request holds is never a closed or reused number. A
 * root that cannot be opened fails every request until it can.
 */

static ngx_int_t
ngx_oci_store_root_shared(ngx_oci_store_t *st)
{
    ngx_fd_t               fd;
    ngx_err_t              err;
    ngx_file_info_t        fi;
    ngx_oci_store_root_t  *root;

    root = st->shared;

    if (root->fd != NGX_INVALID_FILE) {

        if (root->checked == ngx_time()) {
            return NGX_OK;
        }

        if (stat((char *) root->path.data, &fi) == 0
            && fi.st_dev == root->dev && fi.st_ino == root->ino)
        {
            root->checked = ngx_time();
            return NGX_OK;
        }
    }

    fd = open((char *) root->path.data, O_PATH|O_DIRECTORY|O_CLOEXEC);
    if (fd == -1) {
        return ngx_oci_store_failed(st, ngx_errno, "open()", &st->root);
    }

    if (fstat(fd, &fi) == -1) {
        err = ngx_errno;
        (void) close(fd);
        return ngx_oci_store_failed(st, err, "fstat()", &st->root);
    }

    if (root->fd == NGX_INVALID_FILE) {
        root->fd = fd;

    } else {
        ngx_log_error(NGX_LOG_NOTICE, st->log, 0,
                      "oci: storage root \"%V\" was replaced, opened anew",
                      &st->root);

        if (dup3(fd, root->fd, O_CLOEXEC) == -1) {
            err = ngx_errno;
            (void) close(fd);
            return ngx_oci_store_failed(st, err, "dup3()", &st->root);
        }

        (void) close(fd);
    }

    root->dev = fi.st_dev;
    root->ino = fi.st_ino;
    root->checked = ngx_time();
    root->no_xattr = 0;

    return NGX_OK;
}


/*
 * The root's descriptor for this piece of work: the worker's own when
 * there is one, else opened once and closed with the pool. The root
 * itself may be reached through links (it is the operator's choice),
 * nothing below it.
 */

static ngx_int_t
ngx_oci_store_root(ngx_oci_store_t *st)
{
    u_char              *p;
    ngx_pool_cleanup_t  *cln;

    if (st->shared) {
        if (ngx_oci_store_root_shared(st) != NGX_OK) {
            return NGX_ERROR;
        }

        st->root_fd = st->shared->fd;

        return NGX_OK;
    }

    if (st->root_open) {
        return NGX_OK;
    }

    cln = ngx_pool_cleanup_add(st->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(st->pool, st->root.len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, st->root.data, st->root.len);
    p[st->root.len] = '\0';

    st->root_fd = open((char *) p, O_PATH|O_DIRECTORY|O_CLOEXEC);
    if (st->root_fd == -1) {
        return ngx_oci_store_failed(st, ngx_errno, "open()", &st->root);
    }

    st->root_open = 1;

    cln->handler = ngx_oci_store_root_close;
    cln->data = st;

    return NGX_OK;
}


static void
ngx_oci_store_root_close(void *data)
{
    ngx_oci_store_t  *st = data;

    if (st->root_open) {
        (void) close(st->root_fd);
        st->root_open = 0;
    }
}


/*
 * A link, or something else than a directory, where the layout has a
 * directory or a file: someone planted it, and storage neither follows
 * nor serves it.
 */

static ngx_int_t
ngx_oci_store_refused(ngx_oci_store_t *st, ngx_str_t *path)
{
    ngx_log_error(NGX_LOG_ERR, st->log, 0,
                  "oci: storage path \"%V\" meets a symbolic link or "
                  "another non-directory, refused", path);

    return NGX_DECLINED;
}


/*
 * The directory "dir" (relative, NUL-terminated, modified in place then
 * restored) opened beneath the root, one component at a time with
 * O_NOFOLLOW; with "create", missing directories are made. For kernels
 * without openat2(2), and for creation.
 */

static ngx_int_t
ngx_oci_store_walk(ngx_oci_store_t *st, u_char *dir, ngx_uint_t create,
    ngx_fd_t *fd, ngx_err_t *err)
{
    u_char    *p, *slash;
    ngx_fd_t   at, next;

    at = openat(st->root_fd, ".", O_PATH|O_DIRECTORY|O_CLOEXEC);
    if (at == -1) {
        *err = ngx_errno;
        return NGX_ERROR;
    }

    for (p = dir; *p; p = slash + 1) {
        slash = (u_char *) ngx_strchr(p, '/');
        if (slash) {
            *slash = '\0';
        }

        next = openat(at, (char *) p, O_PATH|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC);

        if (next == -1 && ngx_errno == NGX_ENOENT && create) {
            if (mkdirat(at, (char *) p, 0700) == 0 || ngx_errno == NGX_EEXIST) {
                next = openat(at, (char *) p,
                              O_PATH|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC);
            }
        }

        *err = ngx_errno;

        if (slash) {
            *slash = '/';
        }

        (void) close(at);

        if (next == -1) {
            return NGX_ERROR;
        }

        at = next;

        if (slash == NULL) {
            break;
        }
    }

    *fd = at;

    return NGX_OK;
}


/*
 * The directory holding "path" (a path of ngx_oci_store_path()), opened
 * beneath the root without following any link, and the path's last
 * component. The caller closes *dir. NGX_OK; NGX_DECLINED when a
 * directory is missing, or is a link (logged); NGX_ERROR.
 */

ngx_int_t
ngx_oci_store_parent(ngx_oci_store_t *st, ngx_str_t *path,
    ngx_uint_t create, ngx_fd_t *dir, u_char **name)
{
    u_char     buf[NGX_OCI_LAYOUT_MAX + 1], *rel, *last, *p;
    size_t     len;
    ngx_err_t  err;

    if (path->len <= st->root.len + 1
        || ngx_strncmp(path->data, st->root.data, st->root.len) != 0
        || path->data[st->root.len] != '/')
    {
        ngx_log_error(NGX_LOG_ALERT, st->log, 0,
                      "oci: \"%V\" is not below the storage root", path);
        return NGX_ERROR;
    }

    rel = path->data + st->root.len + 1;
    last = path->data + path->len;

    for (p = last; p > rel && p[-1] != '/'; p--) { /* void */ }

    *name = p;

    if (ngx_oci_store_root(st) != NGX_OK) {
        return NGX_ERROR;
    }

    if (p == rel) {
        *dir = openat(st->root_fd, ".", O_PATH|O_DIRECTORY|O_CLOEXEC);
        return *dir == -1 ? ngx_oci_store_failed(st, ngx_errno, "open()",
                                                 &st->root)
                          : NGX_OK;
    }

    len = p - 1 - rel;

    if (len > NGX_OCI_LAYOUT_MAX) {
        return ngx_oci_store_failed(st, NGX_ENAMETOOLONG, "open()", path);
    }

    ngx_memcpy(buf, rel, len);
    buf[len] = '\0';

#ifdef SYS_openat2

    *dir = ngx_oci_store_beneath(st, buf, O_PATH|O_DIRECTORY);

    if (*dir != -1) {
        return NGX_OK;
    }

    err = ngx_errno;

    /*
     * ENOSYS: a kernel before 5.6; EPERM: a seccomp filter that does not
     * know the call. The walk below gives the same answer, more slowly.
     */

    if (err != NGX_ENOSYS && err != NGX_EPERM
        && !(err == NGX_ENOENT && create))
    {
        goto failed;
    }

#endif

    if (ngx_oci_store_walk(st, buf, create, dir, &err) == NGX_OK) {
        return NGX_OK;
    }

#ifdef SYS_openat2
failed:
#endif

    if (err == NGX_ENOENT && !create) {
        return NGX_DECLINED;
    }

    if (err == NGX_ELOOP || err == NGX_ENOTDIR || err == NGX_EXDEV
        || err == NGX_EEXIST)
    {
        (void) ngx_oci_store_refused(st, path);
        return create ? NGX_ERROR : NGX_DECLINED;
    }

    return ngx_oci_store_failed(st, err, create ? "mkdir" : "open()", path);
}


/*
 * open(2) of a file of the layout, never through a link: NGX_OK;
 * NGX_DECLINED when it is absent (or a link, logged); NGX_BUSY when
 * O_EXCL finds it there; NGX_ERROR. With O_CREAT missing directories are
 * made.
 */

ngx_int_t
ngx_oci_store_file_open(ngx_oci_store_t *st, ngx_str_t *path, int flags,
    mode_t mode, ngx_fd_t *fd)
{
    u_char     *name;
    ngx_fd_t    dir;
    ngx_int_t   rc;
    ngx_err_t   err;

#ifdef SYS_openat2

    /* an existing file: one openat2() from the root instead of two calls */

    if (!(flags & O_CREAT)) {
        rc = ngx_oci_store_file_open2(st, path, flags, fd);
        if (rc != NGX_AGAIN) {
            return rc;
        }
    }

#endif

    rc = ngx_oci_store_parent(st, path, (flags & O_CREAT) != 0, &dir, &name);
    if (rc != NGX_OK) {
        return rc;
    }

    *fd = openat(dir, (char *) name, flags|O_NOFOLLOW|O_CLOEXEC, mode);
    err = ngx_errno;

    (void) close(dir);

    if (*fd != -1) {
        return NGX_OK;
    }

    if (err == NGX_ENOENT) {
        return NGX_DECLINED;
    }

    if (err == NGX_EEXIST && (flags & O_EXCL)) {
        return NGX_BUSY;
    }

    /* O_DIRECTORY|O_NOFOLLOW on a link is ENOTDIR */

    if (err == NGX_ELOOP || (err == NGX_ENOTDIR && (flags & O_DIRECTORY))) {
        return ngx_oci_store_refused(st, path);
    }

    return ngx_oci_store_failed(st, err, "open()", path);
}


/* lstat(2), in effect: NGX_OK, NGX_DECLINED (absent, or a link), NGX_ERROR */

ngx_int_t
ngx_oci_store_file_stat(ngx_oci_store_t *st, ngx_str_t *path,
    ngx_file_info_t *fi)
{
    u_char     *name;
    ngx_fd_t    dir;
    ngx_int_t   rc;
    ngx_err_t   err;

    rc = ngx_oci_store_parent(st, path, 0, &dir, &name);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = fstatat(dir, (char *) name, fi, AT_SYMLINK_NOFOLLOW);
    err = ngx_errno;

    (void) close(dir);

    if (rc == -1) {
        if (err == NGX_ENOENT || err == NGX_ENOTDIR) {
            return NGX_DECLINED;
        }

        return ngx_oci_store_failed(st, err, "stat()", path);
    }

    if (S_ISLNK(fi->st_mode)) {
        return ngx_oci_store_refused(st, path);
    }

    return NGX_OK;
}


/* a directory of the layout for ngx_read_dir(), never through a link */

ngx_int_t
ngx_oci_store_dir_open(ngx_oci_store_t *st, ngx_str_t *path, ngx_dir_t *d)
{
    ngx_fd_t   fd;
    ngx_int_t  rc;

    rc = ngx_oci_store_file_open(st, path, O_RDONLY|O_DIRECTORY, 0, &fd);
    if (rc != NGX_OK) {
        return rc;
    }

    ngx_memzero(d, sizeof(ngx_dir_t));

    d->dir = fdopendir(fd);
    if (d->dir == NULL) {
        (void) close(fd);
        return ngx_oci_store_failed(st, ngx_errno, "fdopendir()", path);
    }

    return NGX_OK;
}


/* NGX_OK for a regular file, NGX_DECLINED when absent, NGX_ERROR */

ngx_int_t
ngx_oci_store_file_exists(ngx_oci_store_t *st, ngx_str_t *path)
{
    off_t  size;

    return ngx_oci_store_file_size(st, path, &size);
}


/* the same, with the file's size: one stat() either way */

ngx_int_t
ngx_oci_store_file_size(ngx_oci_store_t *st, ngx_str_t *path, off_t *size)
{
    ngx_int_t        rc;
    ngx_file_info_t  fi;

    rc = ngx_oci_store_file_stat(st, path, &fi);
    if (rc != NGX_OK) {
        return rc;
    }

    if (!ngx_is_file(&fi)) {
        return NGX_DECLINED;
    }

    *size = ngx_file_size(&fi);

    return NGX_OK;
}


/*
 * link(2) of a regular file (never of a link), creating missing parent
 * directories; an existing target wins
 */

ngx_int_t
ngx_oci_store_file_link(ngx_oci_store_t *st, ngx_str_t *from, ngx_str_t *to)
{
    u_char           *from_name, *to_name;
    ngx_fd_t          from_dir, to_dir;
    ngx_int_t         rc;
    ngx_err_t         err;
    ngx_file_info_t   fi;

    rc = ngx_oci_store_parent(st, from, 0, &from_dir, &from_name);
    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    if (fstatat(from_dir, (char *) from_name, &fi, AT_SYMLINK_NOFOLLOW)
        == -1)
    {
        err = ngx_errno;
        (void) close(from_dir);
        return ngx_oci_store_failed(st, err, "stat()", from);
    }

    if (!ngx_is_file(&fi)) {
        (void) close(from_dir);
        (void) ngx_oci_store_refused(st, from);
        return NGX_ERROR;
    }

    rc = ngx_oci_store_parent(st, to, 1, &to_dir, &to_name);
    if (rc != NGX_OK) {
        (void) close(from_dir);
        return NGX_ERROR;
    }

    rc = linkat(from_dir, (char *) from_name, to_dir, (char *) to_name, 0);
    err = ngx_errno;

    (void) close(from_dir);
    (void) close(to_dir);

    if (rc == 0 || err == NGX_EEXIST) {
        return NGX_OK;
    }

    return ngx_oci_store_failed(st, err, "link() to", to);
}


/*
 * Writes a complete file under _tmp, then puts it in place: rename() over
 * what was there ("replace"), or link(), which leaves an existing file
 * alone, so content that readers may already hold is never swapped.
 */

ngx_int_t
ngx_oci_store_file_write(ngx_oci_store_t *st, ngx_str_t *path, u_char *data,
    size_t len, ngx_uint_t replace)
{
    u_char     id[32], *tmp_name, *name;
    ssize_t    n;
    ngx_fd_t   fd, tmp_dir, dir;
    ngx_int_t  rc;
    ngx_err_t  err;
    ngx_str_t  tmp, ref;

    ref.data = id;
    ref.len = sizeof(id);

    if (ngx_oci_store_random_hex(id, sizeof(id) / 2) != NGX_OK
        || ngx_oci_store_path(st, NGX_OCI_LAYOUT_TMP_FILE, NULL, &ref, &tmp)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_oci_store_parent(st, &tmp, 1, &tmp_dir, &tmp_name) != NGX_OK) {
        return NGX_ERROR;
    }

    fd = openat(tmp_dir, (char *) tmp_name,
                O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, 0600);
    if (fd == -1) {
        err = ngx_errno;
        (void) close(tmp_dir);
        return ngx_oci_store_failed(st, err, "open()", &tmp);
    }

    n = ngx_write_fd(fd, data, len);
    err = ngx_errno;

    ngx_close_file(fd);

    if (n != (ssize_t) len) {
        (void) unlinkat(tmp_dir, (char *) tmp_name, 0);
        (void) close(tmp_dir);
        return ngx_oci_store_failed(st, n < 0 ? err : NGX_ENOSPC,
                                    "write()", &tmp);
    }

    if (!replace) {
        rc = ngx_oci_store_file_link(st, &tmp, path);
        (void) unlinkat(tmp_dir, (char *) tmp_name, 0);
        (void) close(tmp_dir);
        return rc;
    }

    /* a link planted where the file goes is replaced, not followed */

    if (ngx_oci_store_parent(st, path, 1, &dir, &name) != NGX_OK) {
        (void) unlinkat(tmp_dir, (char *) tmp_name, 0);
        (void) close(tmp_dir);
        return NGX_ERROR;
    }

    rc = renameat(tmp_dir, (char *) tmp_name, dir, (char *) name);
    err = ngx_errno;

    (void) close(dir);

    if (rc == 0) {
        (void) close(tmp_dir);
        return NGX_OK;
    }

    (void) unlinkat(tmp_dir, (char *) tmp_name, 0);
    (void) close(tmp_dir);

    return ngx_oci_store_failed(st, err, "rename() to", path);
}


/*
 * A file, whole, into a buffer of its own size (at most "max" bytes of
 * it): NGX_OK, NGX_DECLINED when absent (or not a regular file),
 * NGX_ERROR. Small ones (tags, media types, upload states: "max" at
 * most NGX_OCI_STORE_READ_MAX) take one read() of a byte more than
 * "max", without an fstat() for their size: a read() of a regular file
 * stops short only at its end. What is not a regular file is refused
 * all the same: a directory fails that read(), a FIFO (opened
 * O_NONBLOCK: it must not block the worker) fails it or reads nothing,
 * and only what reads nothing, an empty file or such a FIFO, is looked
 * at with fstat().
 */

ngx_int_t
ngx_oci_store_file_read(ngx_oci_store_t *st, ngx_str_t *path, ngx_str_t *out,
    size_t max)
{
    u_char           buf[NGX_OCI_STORE_READ_MAX + 1];
    ssize_t          n;
    ngx_fd_t         fd;
    ngx_int_t        rc;
    ngx_err_t        err;
    ngx_file_info_t  fi;

    rc = ngx_oci_store_file_open(st, path, O_RDONLY|O_NONBLOCK, 0, &fd);
    if (rc != NGX_OK) {
        return rc;
    }

    if (max > NGX_OCI_STORE_READ_MAX) {
        rc = ngx_oci_store_file_read_sized(st, fd, path, out, max);
        ngx_close_file(fd);
        return rc;
    }

    n = ngx_read_fd(fd, buf, max + 1);
    err = ngx_errno;

    if (n == 0) {
        if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
            err = ngx_errno;
            ngx_close_file(fd);
            return ngx_oci_store_failed(st, err, "fstat()", path);
        }

        if (!ngx_is_file(&fi)) {
            ngx_close_file(fd);
            return ngx_oci_store_refused(st, path);
        }
    }

    ngx_close_file(fd);

    if (n < 0) {
        if (err == NGX_EISDIR || err == NGX_EAGAIN) {
            return ngx_oci_store_refused(st, path);
        }

        return ngx_oci_store_failed(st, err, "read()", path);
    }

    out->len = ngx_min((size_t) n, max);

    out->data = ngx_pnalloc(st->pool, out->len + 1);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(out->data, buf, out->len);

    return NGX_OK;
}


/* a larger file (a manifest): its size first, then that many bytes */

static ngx_int_t
ngx_oci_store_file_read_sized(ngx_oci_store_t *st, ngx_fd_t fd,
    ngx_str_t *path, ngx_str_t *out, size_t max)
{
    size_t           size;
    ssize_t          n;
    ngx_file_info_t  fi;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        return ngx_oci_store_failed(st, ngx_errno, "fstat()", path);
    }

    if (!ngx_is_file(&fi)) {
        return ngx_oci_store_refused(st, path);
    }

    size = (size_t) ngx_min((off_t) max, ngx_file_size(&fi));

    out->data = ngx_pnalloc(st->pool, size + 1);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    for (out->len = 0; out->len < size; out->len += n) {
        n = ngx_read_fd(fd, out->data + out->len, size - out->len);

        if (n == 0) {
            break;
        }

        if (n < 0) {
            return ngx_oci_store_failed(st, ngx_errno, "read()", path);
        }
    }

    return NGX_OK;
}


/*
 * A file system that keeps no extended attributes of the user.*
 * namespace (EOPNOTSUPP): the worker stops asking it for them until the
 * root is opened anew, and says so once.
 */

void
ngx_oci_store_no_xattr(ngx_oci_store_t *st)
{
    if (st->shared == NULL || st->shared->no_xattr) {
        return;
    }

    st->shared->no_xattr = 1;

    ngx_log_error(NGX_LOG_NOTICE, st->log, 0,
                  "oci: storage \"%V\" keeps no extended attributes: "
                  "manifests' media types are read from their \"%s\" "
                  "files", &st->root, NGX_OCI_LAYOUT_TYPE_SUFFIX);
}


/*
 * NGX_OK, NGX_DECLINED when there was nothing to remove, NGX_ERROR; a
 * link is removed itself, what it points to is left alone
 */

ngx_int_t
ngx_oci_store_file_unlink(ngx_oci_store_t *st, ngx_str_t *path)
{
    u_char     *name;
    ngx_fd_t    dir;
    ngx_int_t   rc;
    ngx_err_t   err;

    rc = ngx_oci_store_parent(st, path, 0, &dir, &name);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = unlinkat(dir, (char *) name, 0);
    err = ngx_errno;

    (void) close(dir);

    if (rc == 0) {
        return NGX_OK;
    }

    if (err == NGX_ENOENT || err == NGX_ENOTDIR) {
        return NGX_DECLINED;
    }

    return ngx_oci_store_failed(st, err, "unlink()", path);
}


/*
 * rename(2) of a file of the layout to another place of the layout, no
 * link followed on either side; the directory of "to" is made if missing
 * and left open in *to_dir (its last component in *to_name) for the
 * caller to work on the file there: NGX_OK, NGX_DECLINED when "from" is
 * not there, NGX_ERROR.
 */

ngx_int_t
ngx_oci_store_file_rename(ngx_oci_store_t *st, ngx_str_t *from,
    ngx_str_t *to, ngx_fd_t *to_dir, u_char **to_name)
{
    u_char     *name;
    ngx_fd_t    dir;
    ngx_int_t   rc;
    ngx_err_t   err;

    rc = ngx_oci_store_parent(st, from, 0, &dir, &name);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_oci_store_parent(st, to, 1, to_dir, to_name);
    if (rc != NGX_OK) {
        (void) close(dir);
        return rc == NGX_DECLINED ? NGX_ERROR : rc;
    }

    rc = renameat(dir, (char *) name, *to_dir, (char *) *to_name);
    err = ngx_errno;

    (void) close(dir);

    if (rc == 0) {
        return NGX_OK;
    }

    (void) close(*to_dir);
    *to_dir = NGX_INVALID_FILE;

    if (err == NGX_ENOENT) {
        return NGX_DECLINED;
    }

    return ngx_oci_store_failed(st, err, "rename()", from);
}


ngx_int_t
ngx_oci_store_failed(ngx_oci_store_t *st, ngx_err_t err, const char *op,
    ngx_str_t *path)
{
    ngx_log_error(NGX_LOG_CRIT, st->log, err,
                  "oci: storage %s \"%V\" failed", op, path);

    return NGX_ERROR;
}


/*
 * A lock file found stale (its holder died: a tag lock, the file of a
 * blob being filled from an upstream) is renamed to a name of this
 * request's first, so that of two requests that find it stale at once
 * only one removes it; should the file renamed be another one by then
 * (a lock just taken anew), it is put back. NGX_OK
 * when it is gone, NGX_BUSY, NGX_ERROR.
 */

ngx_int_t
ngx_oci_store_lock_break(ngx_fd_t dir, u_char *file,
    ngx_file_info_t *stale, ngx_log_t *log)
{
    u_char           aside[NGX_OCI_LAYOUT_MAX + 1 + 16 + 1], *p;
    ngx_file_info_t  fi;

    p = ngx_cpystrn(aside, file, NGX_OCI_LAYOUT_MAX + 1);
    *p++ = '.';

    if (ngx_oci_store_random_hex(p, 8) != NGX_OK) {
        return NGX_ERROR;
    }

    p[16] = '\0';

    if (renameat(dir, (char *) file, dir, (char *) aside) == -1) {

        if (ngx_errno == NGX_ENOENT) {
            return NGX_OK;
        }

        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      "oci: rename() stale lock \"%s\" failed", file);
        return NGX_ERROR;
    }

    if (fstatat(dir, (char *) aside, &fi, AT_SYMLINK_NOFOLLOW) == 0
        && (fi.st_ino != stale->st_ino || fi.st_dev != stale->st_dev))
    {
        if (linkat(dir, (char *) aside, dir, (char *) file, 0) == -1) {
            ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                          "oci: lock \"%s\" taken anew while its stale "
                          "one was removed", file);
        }

        (void) unlinkat(dir, (char *) aside, 0);

        return NGX_BUSY;
    }

    (void) unlinkat(dir, (char *) aside, 0);

    ngx_log_error(NGX_LOG_WARN, log, 0,
                  "oci: stale lock \"%s\" removed", file);

    return NGX_OK;
}


ngx_int_t
ngx_oci_store_random_hex(u_char *dst, size_t bytes)
{
    u_char  raw[32];

    if (bytes > sizeof(raw) || RAND_bytes(raw, (int) bytes) != 1) {
        return NGX_ERROR;
    }

    ngx_hex_dump(dst, raw, bytes);

    return NGX_OK;
}


/* "<alg>:<hex>" of a hash value, NUL-terminated (jansson takes it so) */

ngx_int_t
ngx_oci_store_digest(ngx_pool_t *pool, int alg, u_char *md, ngx_str_t *out)
{
    size_t       n;
    const char  *name;

    name = (alg == NGX_OCI_SHA512) ? "sha512:" : "sha256:";
    n = (alg == NGX_OCI_SHA512) ? 64 : 32;

    out->data = ngx_pnalloc(pool, 7 + 2 * n + 1);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(out->data, name, 7);
    ngx_hex_dump(out->data + 7, md, n);
    out->len = 7 + 2 * n;
    out->data[out->len] = '\0';

    return NGX_OK;
}


#ifdef SYS_openat2

/* "rel" opened beneath the root, no link followed: -1 and errno else */

static ngx_fd_t
ngx_oci_store_beneath(ngx_oci_store_t *st, u_char *rel, int flags)
{
    struct open_how  how;

    ngx_memzero(&how, sizeof(struct open_how));
    how.flags = flags|O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS;

    return syscall(SYS_openat2, st->root_fd, rel, &how,
                   sizeof(struct open_how));
}


/*
 * The file itself opened beneath the root by openat2(2), no link
 * followed on the way or at the end: NGX_OK, NGX_DECLINED (absent, or a
 * link, logged), NGX_ERROR, or NGX_AGAIN where the kernel lacks the call
 * and the caller walks instead.
 */

static ngx_int_t
ngx_oci_store_file_open2(ngx_oci_store_t *st, ngx_str_t *path, int flags,
    ngx_fd_t *fd)
{
    u_char     buf[NGX_OCI_LAYOUT_MAX + 1];
    size_t     len;
    ngx_err_t  err;

    if (path->len <= st->root.len + 1
        || ngx_strncmp(path->data, st->root.data, st->root.len) != 0
        || path->data[st->root.len] != '/'
        || path->len - st->root.len - 1 > NGX_OCI_LAYOUT_MAX)
    {
        return NGX_AGAIN;
    }

    if (ngx_oci_store_root(st) != NGX_OK) {
        return NGX_ERROR;
    }

    len = path->len - st->root.len - 1;
    ngx_memcpy(buf, path->data + st->root.len + 1, len);
    buf[len] = '\0';

    *fd = ngx_oci_store_beneath(st, buf, flags|O_NOFOLLOW);
    if (*fd != -1) {
        return NGX_OK;
    }

    err = ngx_errno;

    switch (err) {

    case NGX_ENOSYS:
    case NGX_EPERM:
        return NGX_AGAIN;

    case NGX_ENOENT:
        return NGX_DECLINED;

    case NGX_ELOOP:
    case NGX_EXDEV:
    case NGX_ENOTDIR:
        return ngx_oci_store_refused(st, path);
    }

    return ngx_oci_store_failed(st, err, "open()", path);
}

#endif
