
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
    ngx_err_t        err;
    ngx_file_info_t  fi;

    if (ngx_file_info(path->data, &fi) == NGX_FILE_ERROR) {
        err = ngx_errno;

        if (err == NGX_ENOENT || err == NGX_ENOTDIR) {
            return NGX_DECLINED;
        }

        return ngx_oci_store_failed(st, err, "stat()", path);
    }

    if (!ngx_is_file(&fi)) {
        return NGX_DECLINED;
    }

    *size = ngx_file_size(&fi);

    return NGX_OK;
}


/* link(2), creating missing parent directories; an existing target wins */

ngx_int_t
ngx_oci_store_file_link(ngx_oci_store_t *st, ngx_str_t *from, ngx_str_t *to)
{
    ngx_err_t  err;

    if (link((char *) from->data, (char *) to->data) == 0) {
        return NGX_OK;
    }

    err = ngx_errno;

    if (err == NGX_EEXIST) {
        return NGX_OK;
    }

    if (err == NGX_ENOENT) {
        if (ngx_create_full_path(to->data, 0700) != 0) {
            return ngx_oci_store_failed(st, ngx_errno, "mkdir", to);
        }

        if (link((char *) from->data, (char *) to->data) == 0
            || ngx_errno == NGX_EEXIST)
        {
            return NGX_OK;
        }

        err = ngx_errno;
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
    u_char     id[32];
    ssize_t    n;
    ngx_fd_t   fd;
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

    fd = ngx_open_file(tmp.data, NGX_FILE_WRONLY, NGX_FILE_CREATE_OR_OPEN,
                       0600);
    if (fd == NGX_INVALID_FILE) {
        return ngx_oci_store_failed(st, ngx_errno, "open()", &tmp);
    }

    n = ngx_write_fd(fd, data, len);
    err = ngx_errno;

    ngx_close_file(fd);

    if (n != (ssize_t) len) {
        ngx_delete_file(tmp.data);
        return ngx_oci_store_failed(st, n < 0 ? err : NGX_ENOSPC,
                                    "write()", &tmp);
    }

    if (!replace) {
        rc = ngx_oci_store_file_link(st, &tmp, path);
        ngx_delete_file(tmp.data);
        return rc;
    }

    if (ngx_rename_file(tmp.data, path->data) == 0) {
        return NGX_OK;
    }

    err = ngx_errno;

    if (err == NGX_ENOENT) {
        if (ngx_create_full_path(path->data, 0700) == 0
            && ngx_rename_file(tmp.data, path->data) == 0)
        {
            return NGX_OK;
        }

        err = ngx_errno;
    }

    ngx_delete_file(tmp.data);

    return ngx_oci_store_failed(st, err, "rename() to", path);
}


/*
 * A small file, whole, into a buffer of its own size (at most "max"):
 * NGX_OK, NGX_DECLINED when absent, NGX_ERROR.
 */

ngx_int_t
ngx_oci_store_file_read(ngx_oci_store_t *st, ngx_str_t *path, ngx_str_t *out,
    size_t max)
{
    size_t           size;
    ssize_t          n;
    ngx_fd_t         fd;
    ngx_err_t        err;
    ngx_file_info_t  fi;

    fd = ngx_open_file(path->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        err = ngx_errno;
        if (err == NGX_ENOENT || err == NGX_ENOTDIR) {
            return NGX_DECLINED;
        }

        return ngx_oci_store_failed(st, err, "open()", path);
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        err = ngx_errno;
        ngx_close_file(fd);
        return ngx_oci_store_failed(st, err, "fstat()", path);
    }

    size = (size_t) ngx_min((off_t) max, ngx_file_size(&fi));

    out->data = ngx_pnalloc(st->pool, size + 1);
    if (out->data == NULL) {
        ngx_close_file(fd);
        return NGX_ERROR;
    }

    for (out->len = 0; out->len < size; out->len += n) {
        n = ngx_read_fd(fd, out->data + out->len, size - out->len);

        if (n == 0) {
            break;
        }

        if (n < 0) {
            err = ngx_errno;
            ngx_close_file(fd);
            return ngx_oci_store_failed(st, err, "read()", path);
        }
    }

    ngx_close_file(fd);

    return NGX_OK;
}


/* NGX_OK, NGX_DECLINED when there was nothing to remove, NGX_ERROR */

ngx_int_t
ngx_oci_store_file_unlink(ngx_oci_store_t *st, ngx_str_t *path)
{
    ngx_err_t  err;

    if (ngx_delete_file(path->data) != NGX_FILE_ERROR) {
        return NGX_OK;
    }

    err = ngx_errno;

    if (err == NGX_ENOENT || err == NGX_ENOTDIR) {
        return NGX_DECLINED;
    }

    return ngx_oci_store_failed(st, err, "unlink()", path);
}


ngx_int_t
ngx_oci_store_failed(ngx_oci_store_t *st, ngx_err_t err, const char *op,
    ngx_str_t *path)
{
    ngx_log_error(NGX_LOG_CRIT, st->log, err,
                  "oci: storage %s \"%V\" failed", op, path);

    return NGX_ERROR;
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
