
/*
 * The storage layout (docs/storage.md describes it for operators):
 *
 *   <root>/blobs/<alg>/<xx>/<hex>                 content, once per digest
 *   <root>/repositories/<name>/_blobs/<alg>/<hex>      hard link: the blob
 *                                                      is in <name>
 *   <root>/repositories/<name>/_manifests/<alg>/<hex>  hard link: manifest
 *   <root>/repositories/<name>/_manifests/<alg>/<hex>.type   media type
 *   <root>/repositories/<name>/_tags/<tag>        "<alg>:<hex>"
 *   <root>/_uploads/<id>.data, <id>.state         upload sessions
 *   <root>/_tmp/                                  files before rename
 *
 * Everything is published by rename() or link() of a complete file, so a
 * reader sees all of a file or none of it, and two writers of the same
 * content end with one copy.
 */


#include "ngx_oci.h"

#include <openssl/rand.h>


static ngx_oci_loc_conf_t *
ngx_oci_conf(ngx_http_request_t *r)
{
    return ngx_http_get_module_loc_conf(r, ngx_oci_module);
}


ngx_int_t
ngx_oci_path(ngx_http_request_t *r, ngx_str_t *path, const char *fmt, ...)
{
    u_char              *p, *last;
    size_t               len;
    va_list              args;
    ngx_oci_loc_conf_t  *olcf;

    olcf = ngx_oci_conf(r);

    /* names, tags and digests are validated and short: this is ample */

    len = olcf->storage.len + 512 + 1;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    last = ngx_cpymem(p, olcf->storage.data, olcf->storage.len);

    va_start(args, fmt);
    last = ngx_vslprintf(last, p + len - 1, fmt, args);
    va_end(args);

    *last = '\0';

    path->data = p;
    path->len = last - p;

    return NGX_OK;
}


static ngx_int_t
ngx_oci_split_digest(ngx_str_t *digest, ngx_str_t *alg, ngx_str_t *hex)
{
    u_char  *colon;

    colon = ngx_strlchr(digest->data, digest->data + digest->len, ':');
    if (colon == NULL) {
        return NGX_ERROR;
    }

    alg->data = digest->data;
    alg->len = colon - digest->data;
    hex->data = colon + 1;
    hex->len = digest->data + digest->len - hex->data;

    return NGX_OK;
}


ngx_int_t
ngx_oci_repo_path(ngx_http_request_t *r, ngx_str_t *path, ngx_str_t *name,
    const char *kind, ngx_str_t *digest, const char *suffix)
{
    ngx_str_t  alg, hex;

    if (ngx_oci_split_digest(digest, &alg, &hex) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_oci_path(r, path, "/repositories/%V/%s/%V/%V%s", name, kind,
                        &alg, &hex, suffix);
}


ngx_int_t
ngx_oci_blob_path(ngx_http_request_t *r, ngx_str_t *path, ngx_str_t *digest)
{
    ngx_str_t  alg, hex, pre;

    if (ngx_oci_split_digest(digest, &alg, &hex) != NGX_OK) {
        return NGX_ERROR;
    }

    pre.data = hex.data;
    pre.len = 2;

    return ngx_oci_path(r, path, "/blobs/%V/%V/%V", &alg, &pre, &hex);
}


ngx_int_t
ngx_oci_file_exists(ngx_str_t *path)
{
    ngx_file_info_t  fi;

    if (ngx_file_info(path->data, &fi) == NGX_FILE_ERROR) {
        return ngx_errno == NGX_ENOENT || ngx_errno == NGX_ENOTDIR
               ? NGX_DECLINED : NGX_ERROR;
    }

    return ngx_is_file(&fi) ? NGX_OK : NGX_DECLINED;
}


/* link(2), creating missing parent directories; an existing target wins */

ngx_int_t
ngx_oci_link(ngx_http_request_t *r, ngx_str_t *from, ngx_str_t *to)
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
            return ngx_oci_storage_error(r, ngx_errno, "mkdir", to);
        }

        if (link((char *) from->data, (char *) to->data) == 0
            || ngx_errno == NGX_EEXIST)
        {
            return NGX_OK;
        }

        err = ngx_errno;
    }

    return ngx_oci_storage_error(r, err, "link() to", to);
}


ngx_int_t
ngx_oci_random_hex(u_char *dst, size_t bytes)
{
    u_char  raw[32];

    if (bytes > sizeof(raw) || RAND_bytes(raw, (int) bytes) != 1) {
        return NGX_ERROR;
    }

    ngx_hex_dump(dst, raw, bytes);

    return NGX_OK;
}


/*
 * Writes a complete file under _tmp, then puts it in place: rename() over
 * what was there ("replace"), or link(), which leaves an existing file
 * alone, so content that readers may already hold is never swapped.
 */

ngx_int_t
ngx_oci_write_file(ngx_http_request_t *r, ngx_str_t *path, u_char *data,
    size_t len, ngx_uint_t replace)
{
    u_char     name[32];
    ssize_t    n;
    ngx_fd_t   fd;
    ngx_int_t  rc;
    ngx_err_t  err;
    ngx_str_t  tmp;

    if (ngx_oci_random_hex(name, 16) != NGX_OK
        || ngx_oci_path(r, &tmp, "/_tmp/%*s", (size_t) 32, name) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    fd = ngx_open_file(tmp.data, NGX_FILE_WRONLY, NGX_FILE_CREATE_OR_OPEN,
                       0600);
    if (fd == NGX_INVALID_FILE) {
        return ngx_oci_storage_error(r, ngx_errno, "open()", &tmp);
    }

    n = ngx_write_fd(fd, data, len);
    err = ngx_errno;

    ngx_close_file(fd);

    if (n != (ssize_t) len) {
        ngx_delete_file(tmp.data);
        return ngx_oci_storage_error(r, n < 0 ? err : NGX_ENOSPC,
                                     "write()", &tmp);
    }

    if (!replace) {
        rc = ngx_oci_link(r, &tmp, path);
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

    return ngx_oci_storage_error(r, err, "rename() to", path);
}


/* returns NGX_OK, NGX_DECLINED when absent, or an HTTP status */

ngx_int_t
ngx_oci_read_small(ngx_http_request_t *r, ngx_str_t *path, ngx_str_t *out,
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

        return ngx_oci_storage_error(r, err, "open()", path);
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        err = ngx_errno;
        ngx_close_file(fd);
        return ngx_oci_storage_error(r, err, "fstat()", path);
    }

    /* the file's size, so a small file costs a small buffer */

    size = (size_t) ngx_min((off_t) max, ngx_file_size(&fi));

    out->data = ngx_pnalloc(r->pool, size + 1);
    if (out->data == NULL) {
        ngx_close_file(fd);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (out->len = 0; out->len < size; out->len += n) {
        n = ngx_read_fd(fd, out->data + out->len, size - out->len);

        if (n == 0) {
            break;
        }

        if (n < 0) {
            err = ngx_errno;
            ngx_close_file(fd);
            return ngx_oci_storage_error(r, err, "read()", path);
        }
    }

    ngx_close_file(fd);

    return NGX_OK;
}


ngx_int_t
ngx_oci_digest_string(ngx_http_request_t *r, int alg, u_char *md,
    ngx_str_t *out)
{
    size_t       n;
    const char  *name;

    name = (alg == NGX_OCI_SHA512) ? "sha512:" : "sha256:";
    n = (alg == NGX_OCI_SHA512) ? 64 : 32;

    /* NUL-terminated too: jansson takes it as a C string */

    out->data = ngx_pnalloc(r->pool, 7 + 2 * n + 1);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(out->data, name, 7);
    ngx_hex_dump(out->data + 7, md, n);
    out->len = 7 + 2 * n;
    out->data[out->len] = '\0';

    return NGX_OK;
}


ngx_int_t
ngx_oci_storage_error(ngx_http_request_t *r, ngx_err_t err, const char *op,
    ngx_str_t *path)
{
    ngx_log_error(NGX_LOG_CRIT, r->connection->log, err,
                  "oci: storage %s \"%V\" failed", op, path);

    return ngx_oci_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                         NGX_OCI_ERR_UNKNOWN, "storage error");
}
