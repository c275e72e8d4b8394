
/*
 * Blobs fetched from an upstream registry (a mirror location), on their
 * way to storage: the fill file "_tmp/fill-<digest>" is written as the
 * bytes arrive, and becomes the blob once the endpoint, which hashes
 * them on their way to the client, has found the digest right. The file
 * is also the blob's fill lock: it is created with O_EXCL, so one
 * request of all workers and fronts fetches a blob while the others
 * wait for it to be stored; one that has not grown for
 * NGX_OCI_FILL_STALE seconds was left by a worker that died, and is
 * taken over.
 */


#include "ngx_oci_store.h"


/* bytes gathered before a write, as for upload sessions */
#define NGX_OCI_FILL_BUFFER    (256 * 1024)

/* a buffer of at least this size is written without being gathered */
#define NGX_OCI_FILL_DIRECT    (64 * 1024)

/* a fill file not written to for this long is taken over */
#define NGX_OCI_FILL_STALE     30

/* the fill file is written at least this often, so that it looks alive */
#define NGX_OCI_FILL_TOUCH     5


static ngx_int_t ngx_oci_store_fill_create(ngx_oci_fill_t *f);
static ngx_int_t ngx_oci_store_fill_flush(ngx_oci_fill_t *f);
static ngx_int_t ngx_oci_store_fill_write(ngx_oci_fill_t *f, u_char *p,
    size_t len);
static void ngx_oci_store_fill_cleanup(void *data);


/*
 * NGX_OK with the fill file created and held; NGX_BUSY when another
 * request is filling the blob; NGX_ERROR. The file goes with the pool
 * unless it was published.
 */

ngx_int_t
ngx_oci_store_fill_open(ngx_oci_store_t *st, ngx_str_t *digest,
    ngx_oci_fill_t **fill)
{
    u_char              *p;
    ngx_str_t            id;
    ngx_oci_fill_t      *f;
    ngx_pool_cleanup_t  *cln;

    *fill = NULL;

    id.len = sizeof(NGX_OCI_LAYOUT_TMP_FILL) - 1 + digest->len;
    id.data = ngx_pnalloc(st->pool, id.len);
    if (id.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(id.data, NGX_OCI_LAYOUT_TMP_FILL,
                   sizeof(NGX_OCI_LAYOUT_TMP_FILL) - 1);
    ngx_memcpy(p, digest->data, digest->len);

    cln = ngx_pool_cleanup_add(st->pool, sizeof(ngx_oci_fill_t));
    if (cln == NULL) {
        return NGX_ERROR;
    }

    f = cln->data;
    ngx_memzero(f, sizeof(ngx_oci_fill_t));

    f->fd = NGX_INVALID_FILE;
    f->dir = NGX_INVALID_FILE;
    f->store = st;
    f->digest = *digest;

    if (ngx_oci_store_path(st, NGX_OCI_LAYOUT_TMP_FILE, NULL, &id, &f->path)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    cln->handler = ngx_oci_store_fill_cleanup;

    if (ngx_oci_store_parent(st, &f->path, 0, &f->dir, &f->file)
        != NGX_OK)
    {
        f->dir = NGX_INVALID_FILE;
        return NGX_ERROR;
    }

    if (ngx_oci_store_fill_create(f) != NGX_OK) {
        (void) close(f->dir);
        f->dir = NGX_INVALID_FILE;
        return f->busy ? NGX_BUSY : NGX_ERROR;
    }

    f->touched = ngx_time();
    *fill = f;

    return NGX_OK;
}


static ngx_int_t
ngx_oci_store_fill_create(ngx_oci_fill_t *f)
{
    ngx_int_t        rc;
    ngx_uint_t       tries;
    ngx_file_info_t  fi;

    for (tries = 0; tries < 2; tries++) {
        f->fd = openat(f->dir, (char *) f->file,
                       O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, 0644);

        if (f->fd != NGX_INVALID_FILE) {
            return NGX_OK;
        }

        if (ngx_errno != NGX_EEXIST) {
            return ngx_oci_store_failed(f->store, ngx_errno, "open()",
                                        &f->path);
        }

        if (fstatat(f->dir, (char *) f->file, &fi, AT_SYMLINK_NOFOLLOW)
            == -1)
        {
            if (ngx_errno == NGX_ENOENT) {
                continue;
            }

            return ngx_oci_store_failed(f->store, ngx_errno, "stat()",
                                        &f->path);
        }

        if (ngx_time() - fi.st_mtime < NGX_OCI_FILL_STALE) {
            f->busy = 1;
            return NGX_ERROR;
        }

        rc = ngx_oci_store_lock_break(f->dir, f->file, &fi, f->store->log);

        if (rc == NGX_BUSY) {
            f->busy = 1;
        }

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }
    }

    f->busy = 1;

    return NGX_ERROR;
}


/* gathered into large writes; the caller hashes what it appends */

ngx_int_t
ngx_oci_store_fill_append(ngx_oci_fill_t *f, u_char *p, size_t len)
{
    size_t  n;

    if (f->fd == NGX_INVALID_FILE) {
        return NGX_ERROR;
    }

    while (len) {

        /* a large buffer of the upstream's goes as it is: no copy */

        if (f->pending == 0 && len >= NGX_OCI_FILL_DIRECT) {
            return ngx_oci_store_fill_write(f, p, len);
        }

        if (f->buf == NULL) {
            f->buf = ngx_palloc(f->store->pool, NGX_OCI_FILL_BUFFER);
            if (f->buf == NULL) {
                return NGX_ERROR;
            }
        }

        n = ngx_min(len, NGX_OCI_FILL_BUFFER - f->pending);

        ngx_memcpy(f->buf + f->pending, p, n);

        f->pending += n;
        p += n;
        len -= n;

        if (f->pending == NGX_OCI_FILL_BUFFER
            && ngx_oci_store_fill_flush(f) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    /* a slow upstream still shows waiting requests that the fill lives */

    if (f->pending && ngx_time() - f->touched >= NGX_OCI_FILL_TOUCH) {
        return ngx_oci_store_fill_flush(f);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_oci_store_fill_flush(ngx_oci_fill_t *f)
{
    size_t  n;

    n = f->pending;
    f->pending = 0;

    return ngx_oci_store_fill_write(f, f->buf, n);
}


static ngx_int_t
ngx_oci_store_fill_write(ngx_oci_fill_t *f, u_char *p, size_t len)
{
    ssize_t  n;
    size_t   done;

    for (done = 0; done < len; done += n) {
        n = pwrite(f->fd, p + done, len - done, f->written + done);

        if (n == -1) {
            if (ngx_errno == NGX_EINTR) {
                n = 0;
                continue;
            }

            return ngx_oci_store_failed(f->store, ngx_errno, "pwrite()",
                                        &f->path);
        }
    }

    f->written += len;
    f->touched = ngx_time();

    return NGX_OK;
}


/*
 * The blob into storage, linked in repository "name", once the caller
 * has checked the digest of what was appended: NGX_OK, NGX_DECLINED
 * (the fill was taken over, logged), NGX_ERROR.
 */

ngx_int_t
ngx_oci_store_fill_publish(ngx_oci_fill_t *f, ngx_str_t *name)
{
    ngx_int_t        rc;
    ngx_file_info_t  fi, mine;

    if (f->fd == NGX_INVALID_FILE) {
        return NGX_ERROR;
    }

    if (ngx_oci_store_fill_flush(f) != NGX_OK) {
        return NGX_ERROR;
    }

    /*
     * a fill that stalled for NGX_OCI_FILL_STALE seconds may have been
     * taken over: the path is then another request's partial file
     */

    if (fstat(f->fd, &mine) == -1
        || fstatat(f->dir, (char *) f->file, &fi, AT_SYMLINK_NOFOLLOW) == -1
        || fi.st_ino != mine.st_ino || fi.st_dev != mine.st_dev)
    {
        ngx_log_error(NGX_LOG_WARN, f->store->log, 0,
                      "oci: the fill of \"%V\" was taken over: not stored",
                      &f->digest);
        (void) close(f->fd);
        f->fd = NGX_INVALID_FILE;
        (void) close(f->dir);
        f->dir = NGX_INVALID_FILE;
        return NGX_DECLINED;
    }

    rc = ngx_oci_store_blob_publish(f->store, &f->path, name, &f->digest);

    ngx_oci_store_fill_abandon(f);

    return rc;
}


/* the fill file goes, and with it the fill lock */

void
ngx_oci_store_fill_abandon(ngx_oci_fill_t *f)
{
    if (f->fd != NGX_INVALID_FILE) {
        (void) close(f->fd);
        f->fd = NGX_INVALID_FILE;
    }

    if (f->dir == NGX_INVALID_FILE) {
        return;
    }

    if (unlinkat(f->dir, (char *) f->file, 0) == -1
        && ngx_errno != NGX_ENOENT)
    {
        ngx_log_error(NGX_LOG_CRIT, f->store->log, ngx_errno,
                      "oci: unlink() \"%V\" failed", &f->path);
    }

    (void) close(f->dir);
    f->dir = NGX_INVALID_FILE;
}


static void
ngx_oci_store_fill_cleanup(void *data)
{
    ngx_oci_store_fill_abandon(data);
}
