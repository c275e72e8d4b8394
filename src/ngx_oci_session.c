
/*
 * Upload sessions on disk.
 *
 * A session is two files in <root>/_uploads: "<id>.data", the bytes
 * received, and "<id>.state", the committed length, the repository and the
 * serialised hash state. Any worker, before or after a reload, can carry
 * on a session. The state is replaced by rename() after each accepted
 * chunk, so a crash mid-chunk leaves the previous state in force and the
 * bytes past its length are overwritten by the next chunk.
 *
 * A request that writes holds flock() on the data file for its duration;
 * the lock is only ever tried (LOCK_NB), never waited for, and the kernel
 * drops it if the worker dies.
 */


#include "ngx_oci.h"

#include <sys/file.h>


#define NGX_OCI_STATE_MAGIC  "OCIUPLD1"
#define NGX_OCI_STATE_MAX    (8 + 8 + 2 + 255 + NGX_OCI_SHA2_STATE_SIZE)


static ngx_int_t ngx_oci_session_paths(ngx_http_request_t *r,
    ngx_oci_session_t *s);
static ngx_int_t ngx_oci_session_save(ngx_http_request_t *r,
    ngx_oci_session_t *s);
static ngx_int_t ngx_oci_session_load(ngx_http_request_t *r,
    ngx_oci_session_t *s);
static void ngx_oci_sweep_dir(ngx_cycle_t *cycle, ngx_str_t *dir,
    ngx_msec_t timeout, ngx_uint_t uploads);


static ngx_int_t
ngx_oci_session_paths(ngx_http_request_t *r, ngx_oci_session_t *s)
{
    if (ngx_oci_path(r, &s->data_path, "/_uploads/%V.data", &s->id)
        != NGX_OK
        || ngx_oci_path(r, &s->state_path, "/_uploads/%V.state", &s->id)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_oci_session_t *
ngx_oci_session_alloc(ngx_http_request_t *r, ngx_str_t *id)
{
    ngx_oci_ctx_t        *ctx;
    ngx_pool_cleanup_t   *cln;
    ngx_oci_session_t    *s;

    ctx = ngx_oci_get_ctx(r);
    if (ctx == NULL) {
        return NULL;
    }

    s = ngx_pcalloc(r->pool, sizeof(ngx_oci_session_t));
    if (s == NULL) {
        return NULL;
    }

    s->fd = NGX_INVALID_FILE;
    s->limit = -1;
    s->id = *id;
    s->name.data = (u_char *) ctx->route.name;
    s->name.len = ctx->route.name_len;

    if (ngx_oci_session_paths(r, s) != NGX_OK) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = (ngx_pool_cleanup_pt) ngx_oci_session_release;
    cln->data = s;

    return s;
}


void
ngx_oci_session_release(ngx_oci_session_t *s)
{
    /* closing the descriptor also drops the lock */

    if (s->fd != NGX_INVALID_FILE) {
        ngx_close_file(s->fd);
        s->fd = NGX_INVALID_FILE;
    }
}


ngx_int_t
ngx_oci_session_create(ngx_http_request_t *r, int alg,
    ngx_oci_session_t **sp)
{
    ngx_str_t           id;
    ngx_oci_session_t  *s;

    id.len = 32;
    id.data = ngx_pnalloc(r->pool, id.len);
    if (id.data == NULL || ngx_oci_random_hex(id.data, 16) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    s = ngx_oci_session_alloc(r, &id);
    if (s == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    s->fd = ngx_open_file(s->data_path.data, NGX_FILE_RDWR,
                          O_CREAT|O_EXCL, 0600);
    if (s->fd == NGX_INVALID_FILE) {
        return ngx_oci_storage_error(r, ngx_errno, "open()", &s->data_path);
    }

    if (flock(s->fd, LOCK_EX|LOCK_NB) == -1) {
        return ngx_oci_storage_error(r, ngx_errno, "flock()", &s->data_path);
    }

    ngx_oci_sha2_init(&s->sha, alg);

    *sp = s;

    return ngx_oci_session_save(r, s);
}


/*
 * Finds a session of this repository: NGX_OK, NGX_DECLINED when unknown
 * (or expired, or of another repository), or an HTTP status. With "lock",
 * the data file is opened and locked; NGX_BUSY when another request holds
 * it.
 */

ngx_int_t
ngx_oci_session_open(ngx_http_request_t *r, ngx_str_t *id,
    ngx_oci_session_t **sp)
{
    ngx_int_t           rc;
    ngx_oci_session_t  *s;

    if (!ngx_oci_upload_id_valid(id->data, id->len)) {
        return NGX_DECLINED;
    }

    s = ngx_oci_session_alloc(r, id);
    if (s == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_oci_session_load(r, s);
    if (rc != NGX_OK) {
        return rc;
    }

    *sp = s;

    return NGX_OK;
}


ngx_int_t
ngx_oci_session_lock(ngx_http_request_t *r, ngx_oci_session_t *s)
{
    ngx_err_t  err;

    s->fd = ngx_open_file(s->data_path.data, NGX_FILE_RDWR, NGX_FILE_OPEN, 0);
    if (s->fd == NGX_INVALID_FILE) {
        err = ngx_errno;
        return err == NGX_ENOENT
               ? NGX_DECLINED
               : ngx_oci_storage_error(r, err, "open()", &s->data_path);
    }

    if (flock(s->fd, LOCK_EX|LOCK_NB) == -1) {
        err = ngx_errno;

        ngx_close_file(s->fd);
        s->fd = NGX_INVALID_FILE;

        return err == EWOULDBLOCK
               ? NGX_BUSY
               : ngx_oci_storage_error(r, err, "flock()", &s->data_path);
    }

    /* another request may have committed since the state was read */

    return ngx_oci_session_load(r, s);
}


static ngx_int_t
ngx_oci_session_load(ngx_http_request_t *r, ngx_oci_session_t *s)
{
    u_char              *p;
    size_t               len;
    uint64_t             offset;
    ngx_int_t            rc;
    ngx_str_t            state;
    ngx_file_info_t      fi;
    ngx_oci_loc_conf_t  *olcf;

    rc = ngx_oci_read_small(r, &s->state_path, &state, NGX_OCI_STATE_MAX + 1);
    if (rc != NGX_OK) {
        return rc;
    }

    p = state.data;

    if (state.len < 8 + 8 + 2
        || ngx_memcmp(p, NGX_OCI_STATE_MAGIC, 8) != 0)
    {
        goto corrupt;
    }

    p += 8;

    offset = 0;
    for (len = 0; len < 8; len++) {
        offset = (offset << 8) | *p++;
    }

    len = (p[0] << 8) | p[1];
    p += 2;

    if (offset > NGX_MAX_OFF_T_VALUE
        || state.len != 8 + 8 + 2 + len + NGX_OCI_SHA2_STATE_SIZE)
    {
        goto corrupt;
    }

    /* a session belongs to the repository it was opened in */

    if (len != s->name.len || ngx_memcmp(p, s->name.data, len) != 0) {
        return NGX_DECLINED;
    }

    p += len;

    if (ngx_oci_sha2_load(&s->sha, p, NGX_OCI_SHA2_STATE_SIZE) != 0
        || s->sha.total != offset)
    {
        goto corrupt;
    }

    s->offset = (off_t) offset;
    s->written = s->offset;

    /* an abandoned session is gone even before the sweeper gets to it */

    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    if (ngx_file_info(s->state_path.data, &fi) != NGX_FILE_ERROR
        && ngx_time() - ngx_file_mtime(&fi)
           > (time_t) (olcf->upload_timeout / 1000))
    {
        if (s->fd != NGX_INVALID_FILE) {
            (void) ngx_oci_session_remove(r, s);
        }

        return NGX_DECLINED;
    }

    return NGX_OK;

corrupt:

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "oci: upload state \"%V\" is corrupt", &s->state_path);

    return NGX_DECLINED;
}


static ngx_int_t
ngx_oci_session_save(ngx_http_request_t *r, ngx_oci_session_t *s)
{
    u_char    buf[NGX_OCI_STATE_MAX], *p;
    uint64_t  offset;
    ngx_int_t i;

    p = ngx_cpymem(buf, NGX_OCI_STATE_MAGIC, 8);

    offset = (uint64_t) s->offset;
    for (i = 7; i >= 0; i--) {
        p[i] = (u_char) (offset & 0xff);
        offset >>= 8;
    }

    p += 8;

    *p++ = (u_char) (s->name.len >> 8);
    *p++ = (u_char) (s->name.len & 0xff);
    p = ngx_cpymem(p, s->name.data, s->name.len);

    ngx_oci_sha2_save(&s->sha, p);
    p += NGX_OCI_SHA2_STATE_SIZE;

    return ngx_oci_write_file(r, &s->state_path, buf, p - buf, 1);
}


/* the sink of a chunk: write once, hash once, as the bytes arrive */

ngx_int_t
ngx_oci_session_append(ngx_http_request_t *r, ngx_oci_session_t *s,
    u_char *p, size_t len)
{
    ssize_t  n;
    size_t   done;

    if (s->limit >= 0 && s->written + (off_t) len > s->limit) {
        return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST,
                             NGX_OCI_ERR_SIZE_INVALID,
                             "the body is longer than its Content-Range");
    }

    for (done = 0; done < len; done += n) {
        n = pwrite(s->fd, p + done, len - done, s->written + done);

        if (n <= 0) {
            return ngx_oci_storage_error(r, n < 0 ? ngx_errno : NGX_ENOSPC,
                                         "pwrite()", &s->data_path);
        }
    }

    ngx_oci_sha2_update(&s->sha, p, len);
    s->written += len;

    return NGX_OK;
}


/* makes the bytes of this request part of the session */

ngx_int_t
ngx_oci_session_commit(ngx_http_request_t *r, ngx_oci_session_t *s)
{
    ngx_file_info_t  fi;

    if (ngx_fd_info(s->fd, &fi) == NGX_FILE_ERROR) {
        return ngx_oci_storage_error(r, ngx_errno, "fstat()", &s->data_path);
    }

    /* bytes left by a request that failed half-way are cut off */

    if (ngx_file_size(&fi) > s->written
        && ftruncate(s->fd, s->written) == -1)
    {
        return ngx_oci_storage_error(r, ngx_errno, "ftruncate()",
                                     &s->data_path);
    }

    s->offset = s->written;

    return ngx_oci_session_save(r, s);
}


ngx_int_t
ngx_oci_session_remove(ngx_http_request_t *r, ngx_oci_session_t *s)
{
    if (ngx_delete_file(s->state_path.data) == NGX_FILE_ERROR
        && ngx_errno != NGX_ENOENT)
    {
        return ngx_oci_storage_error(r, ngx_errno, "unlink()",
                                     &s->state_path);
    }

    if (ngx_delete_file(s->data_path.data) == NGX_FILE_ERROR
        && ngx_errno != NGX_ENOENT)
    {
        return ngx_oci_storage_error(r, ngx_errno, "unlink()",
                                     &s->data_path);
    }

    return NGX_OK;
}


void
ngx_oci_session_sweep(ngx_cycle_t *cycle, ngx_str_t *storage,
    ngx_msec_t timeout)
{
    u_char     buf[NGX_MAX_PATH];
    ngx_str_t  dir;

    dir.data = buf;

    dir.len = ngx_snprintf(buf, sizeof(buf) - 1, "%V/_uploads", storage)
              - buf;
    buf[dir.len] = '\0';
    ngx_oci_sweep_dir(cycle, &dir, timeout, 1);

    dir.len = ngx_snprintf(buf, sizeof(buf) - 1, "%V/_tmp", storage) - buf;
    buf[dir.len] = '\0';
    ngx_oci_sweep_dir(cycle, &dir, timeout, 0);
}


/*
 * Removes files idle for longer than the timeout. A session whose data
 * file is locked is in the middle of a request and is left alone.
 */

static void
ngx_oci_sweep_dir(ngx_cycle_t *cycle, ngx_str_t *dir, ngx_msec_t timeout,
    ngx_uint_t uploads)
{
    u_char           path[NGX_MAX_PATH], *name, *last;
    size_t           len;
    ngx_fd_t         fd;
    ngx_dir_t        d;
    ngx_file_info_t  fi;

    if (ngx_open_dir(dir, &d) == NGX_ERROR) {
        return;
    }

    while (ngx_read_dir(&d) == NGX_OK) {

        name = ngx_de_name(&d);
        len = ngx_de_namelen(&d);

        if (name[0] == '.') {
            continue;
        }

        last = ngx_snprintf(path, sizeof(path) - 1, "%V/%*s", dir, len, name);
        *last = '\0';

        if (ngx_file_info(path, &fi) == NGX_FILE_ERROR
            || ngx_time() - ngx_file_mtime(&fi) <= (time_t) (timeout / 1000))
        {
            continue;
        }

        if (!uploads || len < 5 || ngx_strncmp(last - 5, ".data", 5) != 0) {
            if (!uploads) {
                (void) ngx_delete_file(path);
            }

            continue;
        }

        fd = ngx_open_file(path, NGX_FILE_RDWR, NGX_FILE_OPEN, 0);
        if (fd == NGX_INVALID_FILE) {
            continue;
        }

        if (flock(fd, LOCK_EX|LOCK_NB) == 0) {
            ngx_log_error(NGX_LOG_INFO, cycle->log, 0,
                          "oci: removing abandoned upload \"%s\"", path);

            ngx_memcpy(last - 5, ".state", 7);

            if (ngx_file_info(path, &fi) == NGX_FILE_ERROR
                || ngx_time() - ngx_file_mtime(&fi)
                   > (time_t) (timeout / 1000))
            {
                (void) ngx_delete_file(path);
                ngx_memcpy(last - 5, ".data", 6);
                (void) ngx_delete_file(path);
            }
        }

        ngx_close_file(fd);
    }

    (void) ngx_close_dir(&d);
}
