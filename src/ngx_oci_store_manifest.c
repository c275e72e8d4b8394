
/*
 * Manifests: the content is a blob in blobs/, the repository holds a hard
 * link to it in _manifests/ and, beside the link, a ".type" file with the
 * media type it was pushed with. The type file is written before the link
 * and removed before it, so whoever finds the link finds its type.
 *
 * The content file keeps a copy of the type in an extended attribute,
 * set before the link too: a GET reads it on the descriptor it sends
 * from (one fgetxattr() where ".type" takes an open(), a read() and a
 * close()). Content is shared by the repositories that push the same
 * bytes, each with its own ".type": the attribute is created once and,
 * should a push find another type there (the type of a valid manifest
 * follows from its bytes, but an attribute may have been set by hand),
 * emptied for good, which sends every GET of that content to its
 * ".type" (so does a file system without such attributes, or content
 * stored before them).
 */


#include "ngx_oci_store.h"

#include <sys/xattr.h>


/* a media type is two parts of at most 127 bytes and a "/" */
#define NGX_OCI_TYPE_FILE_MAX  256


static ngx_int_t ngx_oci_store_manifest_paths(ngx_oci_store_t *st,
    ngx_str_t *name, ngx_str_t *digest, ngx_str_t *link, ngx_str_t *type);
static ngx_int_t ngx_oci_store_manifest_attr(ngx_oci_store_t *st,
    ngx_fd_t fd, ngx_str_t *type);
static ngx_int_t ngx_oci_store_manifest_mark(ngx_oci_store_t *st,
    ngx_str_t *blob, ngx_str_t *type);
static ngx_int_t ngx_oci_store_manifest_unmark(ngx_oci_store_t *st,
    ngx_fd_t fd, ngx_str_t *blob);


static ngx_int_t
ngx_oci_store_manifest_paths(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *digest, ngx_str_t *link, ngx_str_t *type)
{
    if (ngx_oci_store_path(st, NGX_OCI_LAYOUT_MANIFEST, name, digest, link)
        != NGX_OK
        || ngx_oci_store_path(st, NGX_OCI_LAYOUT_MANIFEST_TYPE, name, digest,
                              type)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The path of a manifest and its media type from ".type", on disk:
 * NGX_DECLINED when the repository has no such manifest.
 */

ngx_int_t
ngx_oci_store_manifest_locate(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *digest, ngx_str_t *path, ngx_str_t *type)
{
    ngx_str_t  type_path;

    if (ngx_oci_store_manifest_paths(st, name, digest, path, &type_path)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_oci_store_file_read(st, &type_path, type,
                              NGX_OCI_TYPE_FILE_MAX);
}


/*
 * The manifest to send, open: its path, its descriptor (which the caller
 * closes) and its media type (ngx_oci_store_manifest_type()).
 * NGX_DECLINED when the repository has no such manifest. Without "fd"
 * (the caller sends through the open file cache) only the path: the
 * caller asks for the type on the descriptor the cache gives it.
 */

ngx_int_t
ngx_oci_store_manifest_open(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *digest, ngx_str_t *path, ngx_fd_t *fd, ngx_str_t *type)
{
    ngx_int_t  rc;

    if (ngx_oci_store_path(st, NGX_OCI_LAYOUT_MANIFEST, name, digest, path)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (fd == NULL) {
        return NGX_OK;
    }

    rc = ngx_oci_store_file_open(st, path, O_RDONLY|O_NONBLOCK, 0, fd);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_oci_store_manifest_type(st, *fd, name, digest, type);

    if (rc != NGX_OK) {
        ngx_close_file(*fd);
        *fd = NGX_INVALID_FILE;
    }

    return rc;
}


/*
 * The media type of the manifest open on "fd": from the content's
 * attribute when it holds one, else from ".type". NGX_OK; NGX_DECLINED
 * when neither has it (a link whose ".type" is not there, yet or any
 * more); NGX_ERROR.
 */

ngx_int_t
ngx_oci_store_manifest_type(ngx_oci_store_t *st, ngx_fd_t fd,
    ngx_str_t *name, ngx_str_t *digest, ngx_str_t *type)
{
    ngx_int_t  rc;
    ngx_str_t  type_path;

    rc = ngx_oci_store_manifest_attr(st, fd, type);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (ngx_oci_store_path(st, NGX_OCI_LAYOUT_MANIFEST_TYPE, name, digest,
                           &type_path)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_oci_store_file_read(st, &type_path, type,
                                   NGX_OCI_TYPE_FILE_MAX);
}


/*
 * The media type kept with the content: NGX_OK, NGX_DECLINED when there
 * is none to use (no attribute, an empty one, a file system without
 * them), NGX_ERROR.
 */

static ngx_int_t
ngx_oci_store_manifest_attr(ngx_oci_store_t *st, ngx_fd_t fd,
    ngx_str_t *type)
{
    u_char   buf[NGX_OCI_TYPE_FILE_MAX];
    ssize_t  n;

    if (st->shared && st->shared->no_xattr) {
        return NGX_DECLINED;
    }

    n = fgetxattr(fd, NGX_OCI_LAYOUT_TYPE_XATTR, buf, sizeof(buf));

    if (n <= 0) {
        if (n == -1 && ngx_errno == NGX_EOPNOTSUPP) {
            ngx_oci_store_no_xattr(st);
        }

        return NGX_DECLINED;
    }

    type->data = ngx_pnalloc(st->pool, n);
    if (type->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(type->data, buf, n);
    type->len = n;

    return NGX_OK;
}


/*
 * Stores the manifest's bytes once in blobs/, its type (with the
 * content, and in ".type"), then the link that makes it visible; *added
 * tells whether the link is new, so a caller that must withdraw the
 * manifest knows it may.
 */

ngx_int_t
ngx_oci_store_manifest_save(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *digest, ngx_str_t *body, ngx_str_t *type, ngx_uint_t *added)
{
    ngx_int_t  rc;
    ngx_str_t  blob, link, type_path;

    if (ngx_oci_store_path(st, NGX_OCI_LAYOUT_BLOB, NULL, digest, &blob)
        != NGX_OK
        || ngx_oci_store_manifest_paths(st, name, digest, &link, &type_path)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_oci_store_file_exists(st, &blob);

    if (rc == NGX_DECLINED) {
        rc = ngx_oci_store_file_write(st, &blob, body->data, body->len, 0);
    }

    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_oci_store_manifest_mark(st, &blob, type) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = ngx_oci_store_file_write(st, &type_path, type->data, type->len, 1);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_oci_store_file_exists(st, &link);
    if (rc == NGX_ERROR) {
        return rc;
    }

    *added = (rc == NGX_DECLINED);

    return ngx_oci_store_file_link(st, &blob, &link);
}


/*
 * The content's attribute made to agree with a push of it as "type": set
 * when it has none; emptied when it holds another type. NGX_ERROR only
 * when an attribute naming another type is left: a GET of this push
 * would answer with that type. Where attributes cannot be set, ".type"
 * serves alone.
 */

static ngx_int_t
ngx_oci_store_manifest_mark(ngx_oci_store_t *st, ngx_str_t *blob,
    ngx_str_t *type)
{
    u_char     buf[NGX_OCI_TYPE_FILE_MAX];
    ssize_t    n;
    ngx_fd_t   fd;
    ngx_int_t  rc;
    ngx_err_t  err;

    if (st->shared && st->shared->no_xattr) {
        return NGX_OK;
    }

    rc = ngx_oci_store_file_open(st, blob, O_RDONLY|O_NONBLOCK, 0, &fd);
    if (rc != NGX_OK) {
        return rc == NGX_DECLINED ? NGX_OK : rc;
    }

    rc = NGX_OK;

    if (fsetxattr(fd, NGX_OCI_LAYOUT_TYPE_XATTR, type->data, type->len,
                  XATTR_CREATE)
        == 0)
    {
        goto done;
    }

    err = ngx_errno;

    if (err == NGX_EEXIST) {
        n = fgetxattr(fd, NGX_OCI_LAYOUT_TYPE_XATTR, buf, sizeof(buf));

        if (n == 0
            || (n == (ssize_t) type->len
                && ngx_memcmp(buf, type->data, n) == 0))
        {
            goto done;
        }

        rc = ngx_oci_store_manifest_unmark(st, fd, blob);
        goto done;
    }

    if (err == NGX_EOPNOTSUPP) {
        ngx_oci_store_no_xattr(st);

    } else {
        ngx_log_error(NGX_LOG_INFO, st->log, err,
                      "oci: storage fsetxattr() \"%V\" failed, its "
                      "\"%s\" files tell its media type", blob,
                      NGX_OCI_LAYOUT_TYPE_SUFFIX);
    }

done:

    ngx_close_file(fd);

    return rc;
}


/* the attribute emptied, else removed: the ".type" files decide */

static ngx_int_t
ngx_oci_store_manifest_unmark(ngx_oci_store_t *st, ngx_fd_t fd,
    ngx_str_t *blob)
{
    ngx_err_t  err;

    if (fsetxattr(fd, NGX_OCI_LAYOUT_TYPE_XATTR, "", 0, 0) == 0) {
        return NGX_OK;
    }

    err = ngx_errno;

    if (fremovexattr(fd, NGX_OCI_LAYOUT_TYPE_XATTR) == 0
        || ngx_errno == ENODATA)
    {
        return NGX_OK;
    }

    return ngx_oci_store_failed(st, err, "fsetxattr()", blob);
}


/* NGX_OK, NGX_DECLINED when the repository has no such manifest */

ngx_int_t
ngx_oci_store_manifest_unlink(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *digest)
{
    ngx_int_t  rc;
    ngx_str_t  link, type_path;

    if (ngx_oci_store_manifest_paths(st, name, digest, &link, &type_path)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_oci_store_file_unlink(st, &type_path);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_oci_store_file_unlink(st, &link);

    return rc == NGX_DECLINED ? NGX_OK : rc;
}
