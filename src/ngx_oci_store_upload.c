
/*
 * Upload sessions on disk.
 *
 * A session is two files in _uploads/: "<id>.data", the bytes received,
 * and "<id>.state", the committed length, the repository and the
 * serialised hash state. Any worker, before or after a reload, can carry
 * on a session. The state is replaced by rename() after each accepted
 * chunk, so a crash mid-chunk leaves the previous state in force and the
 * bytes past its length are overwritten by the next chunk.
 *
 * A request that writes holds flock() on the data file for its duration;
 * the lock is only ever tried (LOCK_NB), never waited for, and the kernel
 * drops it if the worker dies.
 *
 * A session also holds a slot of its repository and one of the storage,
 * when those are capped: a file "_slots/<name>/_uploads/<n>" or
 * "_slots/_all/<n>", created with O_EXCL, that holds the session id. The
 * slots' numbers are the last 8 hex digits of the id, so a session that
 * ends frees them without a lookup. Creating a file is atomic on every
 * host that shares the storage, and the work is bounded by the cap, not
 * by how many sessions lie on disk. A slot whose session is gone (a crash,
 * the sweeper, oci-admin) or has expired is taken over when the cap is
 * reached.
 */


#include "ngx_oci_store.h"
#include "ngx_oci_grammar.h"
#include "ngx_oci_upload_state.h"

#include <sys/file.h>


/* what one step of a re-hash reads: a few ms of SHA-512 */
#define NGX_OCI_REHASH_STEP  (512 * 1024)

/*
 * Body bytes arrive in pieces of client_body_buffer_size (8 KiB by
 * default): they are gathered into a buffer of this size from the
 * request's pool, and written by one pwrite() when it is full and when
 * the body ends. A piece as large comes straight from nginx's buffer.
 */
#define NGX_OCI_UPLOAD_BUFFER  (256 * 1024)


/* the id: 24 random hex digits, the repository slot, the storage slot */
#define NGX_OCI_UPLOAD_RANDOM   24
#define NGX_OCI_UPLOAD_NO_SLOT  0xffff

/* a slot being filled (empty) for longer than this is a crash's */
#define NGX_OCI_SLOT_GRACE      60

/*
 * A data file of its own (no blob shares it) larger than this is not
 * unlinked in the event loop: the file system frees its blocks there and
 * then (ext4: tens of ms for a gigabyte). It is cut by this much per
 * step, or unlinked on a thread.
 */
#define NGX_OCI_DROP_MIN        (16 * 1024 * 1024)
#define NGX_OCI_DROP_STEP       (64 * 1024 * 1024)


typedef struct {
    ngx_fd_t              fd;
    off_t                 size;
    ngx_str_t             path;         /* in _tmp/, for the log */
    ngx_oci_store_t       store;
    ngx_fd_t              dir;          /* _tmp/ */
    u_char               *name;         /* the file's name there */
    ngx_pool_t           *pool;
    ngx_oci_store_job_t   job;
} ngx_oci_upload_drop_t;


/* slots looked at for a stale one when none is free */
#define NGX_OCI_SLOT_STALE_TRIES  32


typedef struct {
    ngx_oci_upload_t     *upload;
    ngx_oci_sha2_t        sha;
    off_t                 pos;
    u_char               *buf;
    ngx_oci_store_job_t   job;
} ngx_oci_upload_rehash_t;


static ngx_oci_upload_t *ngx_oci_store_upload_alloc(ngx_oci_store_t *st,
    ngx_str_t *name, ngx_str_t *id);
static ngx_int_t ngx_oci_store_upload_load(ngx_oci_upload_t *u,
    time_t timeout);
static ngx_int_t ngx_oci_store_upload_save(ngx_oci_upload_t *u);
static ngx_int_t ngx_oci_store_upload_write(ngx_oci_upload_t *u, u_char *p,
    size_t len, off_t offset);
static ngx_int_t ngx_oci_store_upload_flush(ngx_oci_upload_t *u);
static ngx_int_t ngx_oci_store_upload_end(ngx_oci_upload_t *u);
static ngx_int_t ngx_oci_store_slot_claim(ngx_oci_store_t *st,
    ngx_oci_layout_e what, ngx_str_t *name, ngx_uint_t cap, time_t timeout,
    ngx_fd_t *fd);
static ngx_int_t ngx_oci_store_slot_try(ngx_oci_store_t *st,
    ngx_str_t *path, ngx_fd_t *fd);
static ngx_uint_t ngx_oci_store_slot_stale(ngx_oci_store_t *st,
    ngx_str_t *path, time_t timeout);
static ngx_int_t ngx_oci_store_slot_path(ngx_oci_store_t *st,
    ngx_oci_layout_e what, ngx_str_t *name, ngx_uint_t n, ngx_str_t *path);
static void ngx_oci_store_slot_free(ngx_oci_upload_t *u,
    ngx_oci_layout_e what, ngx_uint_t n);
static ngx_int_t ngx_oci_store_upload_drop(ngx_oci_upload_t *u);
static ngx_int_t ngx_oci_store_upload_drop_file(ngx_str_t root,
    ngx_thread_pool_t *tp, ngx_fd_t fd, ngx_str_t *path, ngx_str_t *name);
static ngx_int_t ngx_oci_store_upload_drop_step(ngx_oci_store_job_t *job);
static void ngx_oci_store_upload_dropped(ngx_oci_store_job_t *job);
static ngx_int_t ngx_oci_store_upload_rehash_step(ngx_oci_store_job_t *job);
static ngx_uint_t ngx_oci_store_sweep_dir(ngx_oci_upload_sweep_t *sw,
    ngx_log_t *log, ngx_str_t *root, time_t timeout, ngx_uint_t max);
static ngx_int_t ngx_oci_store_sweep_open(ngx_oci_upload_sweep_t *sw);
static ngx_fd_t ngx_oci_store_sweep_entry(int dfd, u_char *name);
static ngx_uint_t ngx_oci_store_sweep_linked(int dfd, u_char *name,
    ngx_fd_t fd);
static void ngx_oci_store_sweep_file(ngx_str_t *root, int dfd,
    ngx_str_t *path,
    u_char *name, size_t len);


static ngx_oci_upload_t *
ngx_oci_store_upload_alloc(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *id)
{
    ngx_oci_upload_t    *u;
    ngx_pool_cleanup_t  *cln;

    u = ngx_pcalloc(st->pool, sizeof(ngx_oci_upload_t));
    if (u == NULL) {
        return NULL;
    }

    u->fd = NGX_INVALID_FILE;
    u->limit = -1;
    u->id = *id;
    u->name = *name;
    u->store = st;

    if (ngx_oci_store_path(st, NGX_OCI_LAYOUT_UPLOAD_DATA, NULL, id,
                           &u->data_path)
        != NGX_OK
        || ngx_oci_store_path(st, NGX_OCI_LAYOUT_UPLOAD_STATE, NULL, id,
                              &u->state_path)
           != NGX_OK)
    {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(st->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = (ngx_pool_cleanup_pt) ngx_oci_store_upload_release;
    cln->data = u;

    return u;
}


void
ngx_oci_store_upload_release(ngx_oci_upload_t *u)
{
    /* closing the descriptor also drops the lock */

    if (u->fd != NGX_INVALID_FILE) {
        ngx_close_file(u->fd);
        u->fd = NGX_INVALID_FILE;
    }
}


/*
 * A new session, its data file created and locked: NGX_OK, NGX_DECLINED
 * when a cap is reached, NGX_ERROR.
 */

ngx_int_t
ngx_oci_store_upload_create(ngx_oci_store_t *st, ngx_str_t *name, int alg,
    ngx_oci_upload_caps_t *caps, ngx_oci_upload_t **up)
{
    ngx_fd_t           fd[2];
    ngx_int_t          rc, slot[2];
    ngx_str_t          id, path;
    ngx_uint_t         i;
    ngx_oci_upload_t  *u;

    id.len = NGX_OCI_UPLOAD_ID_LEN;
    id.data = ngx_pnalloc(st->pool, id.len);
    if (id.data == NULL
        || ngx_oci_store_random_hex(id.data, NGX_OCI_UPLOAD_RANDOM / 2)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    fd[0] = NGX_INVALID_FILE;
    fd[1] = NGX_INVALID_FILE;

    slot[0] = ngx_oci_store_slot_claim(st, NGX_OCI_LAYOUT_REPO_SLOT, name,
                                       caps->repository, caps->timeout,
                                       &fd[0]);
    slot[1] = NGX_ERROR;

    if (slot[0] >= 0) {
        slot[1] = ngx_oci_store_slot_claim(st, NGX_OCI_LAYOUT_SLOT, NULL,
                                           caps->total, caps->timeout,
                                           &fd[1]);
    }

    (void) ngx_sprintf(id.data + NGX_OCI_UPLOAD_RANDOM, "%04xi%04xi",
                       slot[0] >= 0 ? slot[0] : NGX_OCI_UPLOAD_NO_SLOT,
                       slot[1] >= 0 ? slot[1] : NGX_OCI_UPLOAD_NO_SLOT);

    rc = NGX_ERROR;
    u = NULL;

    if (slot[0] == NGX_DECLINED || slot[1] == NGX_DECLINED) {
        rc = NGX_DECLINED;
        goto failed;
    }

    if (slot[0] < 0 || slot[1] < 0) {
        goto failed;
    }

    u = ngx_oci_store_upload_alloc(st, name, &id);
    if (u == NULL) {
        goto failed;
    }

    if (ngx_oci_store_file_open(st, &u->data_path, O_RDWR|O_CREAT|O_EXCL,
                                0600, &u->fd)
        != NGX_OK)
    {
        u->fd = NGX_INVALID_FILE;
        goto failed;
    }

    if (flock(u->fd, LOCK_EX|LOCK_NB) == -1) {
        (void) ngx_oci_store_failed(st, ngx_errno, "flock()", &u->data_path);
        goto failed;
    }

    ngx_oci_sha2_init(&u->sha, alg);

    if (ngx_oci_store_upload_save(u) != NGX_OK) {
        goto failed;
    }

    /* the slots name their session once it exists */

    for (i = 0; i < 2; i++) {
        if (fd[i] != NGX_INVALID_FILE) {
            (void) ngx_write_fd(fd[i], id.data, id.len);
            ngx_close_file(fd[i]);
        }
    }

    *up = u;

    return NGX_OK;

failed:

    if (u != NULL) {
        if (u->fd != NGX_INVALID_FILE) {
            (void) ngx_oci_store_file_unlink(st, &u->data_path);
        }

        (void) ngx_oci_store_file_unlink(st, &u->state_path);
    }

    for (i = 0; i < 2; i++) {
        if (fd[i] != NGX_INVALID_FILE) {
            ngx_close_file(fd[i]);

            if (ngx_oci_store_slot_path(st, i == 0 ? NGX_OCI_LAYOUT_REPO_SLOT
                                                   : NGX_OCI_LAYOUT_SLOT,
                                        name, slot[i], &path)
                == NGX_OK)
            {
                (void) ngx_delete_file(path.data);
            }
        }
    }

    return rc;
}


/*
 * A free slot out of "cap", its file created and left open: its number,
 * NGX_OCI_UPLOAD_NO_SLOT without a cap, NGX_DECLINED when all are taken
 * by live sessions, NGX_ERROR. At most two passes over the cap's slots,
 * the second one only when the first found none free.
 */

static ngx_int_t
ngx_oci_store_slot_claim(ngx_oci_store_t *st, ngx_oci_layout_e what,
    ngx_str_t *name, ngx_uint_t cap, time_t timeout, ngx_fd_t *fd)
{
    ngx_int_t   rc;
    ngx_str_t   path;
    ngx_uint_t  i, n, start, pass, tries;

    if (cap == 0) {
        return NGX_OCI_UPLOAD_NO_SLOT;
    }

    start = (ngx_uint_t) ngx_random() % cap;

    for (pass = 0; pass < 2; pass++) {

        /* looking for a stale slot costs more: a few of them at a time */

        tries = (pass == 0) ? cap : ngx_min(cap, NGX_OCI_SLOT_STALE_TRIES);

        for (i = 0; i < tries; i++) {
            n = (start + i) % cap;

            if (ngx_oci_store_slot_path(st, what, name, n, &path) != NGX_OK) {
                return NGX_ERROR;
            }

            if (pass == 1 && !ngx_oci_store_slot_stale(st, &path, timeout)) {
                continue;
            }

            rc = ngx_oci_store_slot_try(st, &path, fd);

            if (rc == NGX_OK) {
                return n;
            }

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }
        }
    }

    return NGX_DECLINED;
}


/*
 * NGX_OK with the slot's file created (and the directories of the cap,
 * for the repository's first session), NGX_BUSY if taken, NGX_ERROR
 */

static ngx_int_t
ngx_oci_store_slot_try(ngx_oci_store_t *st, ngx_str_t *path, ngx_fd_t *fd)
{
    ngx_int_t  rc;

    rc = ngx_oci_store_file_open(st, path, O_WRONLY|O_CREAT|O_EXCL, 0600,
                                 fd);

    /* a link planted where the slot or its directory goes is refused */

    return rc == NGX_DECLINED ? NGX_ERROR : rc;
}


/*
 * A slot is stale, and removed, when the session it names is gone or has
 * expired, or when it was left empty by a crash.
 */

static ngx_uint_t
ngx_oci_store_slot_stale(ngx_oci_store_t *st, ngx_str_t *path,
    time_t timeout)
{
    ngx_int_t        rc;
    ngx_str_t        id, state;
    ngx_file_info_t  fi;

    rc = ngx_oci_store_file_read(st, path, &id, NGX_OCI_UPLOAD_ID_LEN);

    if (rc == NGX_DECLINED) {
        return 1;                       /* freed meanwhile */
    }

    if (rc != NGX_OK) {
        return 0;
    }

    if (id.len != NGX_OCI_UPLOAD_ID_LEN
        || !ngx_oci_upload_id_valid(id.data, id.len))
    {
        if (ngx_oci_store_file_stat(st, path, &fi) != NGX_OK
            || ngx_time() - ngx_file_mtime(&fi) <= NGX_OCI_SLOT_GRACE)
        {
            return 0;
        }

    } else {
        if (ngx_oci_store_path(st, NGX_OCI_LAYOUT_UPLOAD_STATE, NULL, &id,
                               &state)
            != NGX_OK)
        {
            return 0;
        }

        rc = ngx_oci_store_file_stat(st, &state, &fi);

        if (rc == NGX_ERROR
            || (rc == NGX_OK && ngx_time() - ngx_file_mtime(&fi) <= timeout))
        {
            return 0;
        }
    }

    ngx_log_error(NGX_LOG_INFO, st->log, 0,
                  "oci: upload slot \"%V\" freed: its session is gone",
                  path);

    (void) ngx_oci_store_file_unlink(st, path);

    return 1;
}


static ngx_int_t
ngx_oci_store_slot_path(ngx_oci_store_t *st, ngx_oci_layout_e what,
    ngx_str_t *name, ngx_uint_t n, ngx_str_t *path)
{
    u_char     buf[NGX_INT_T_LEN];
    ngx_str_t  ref;

    ref.data = buf;
    ref.len = ngx_sprintf(buf, "%ui", n) - buf;

    return ngx_oci_store_path(st, what, name, &ref, path);
}


/* the slot is freed if it is still this session's */

static void
ngx_oci_store_slot_free(ngx_oci_upload_t *u, ngx_oci_layout_e what,
    ngx_uint_t n)
{
    ngx_str_t  path, id;

    if (n == NGX_OCI_UPLOAD_NO_SLOT
        || ngx_oci_store_slot_path(u->store, what, &u->name, n, &path)
           != NGX_OK
        || ngx_oci_store_file_read(u->store, &path, &id,
                                   NGX_OCI_UPLOAD_ID_LEN)
           != NGX_OK)
    {
        return;
    }

    if (id.len == u->id.len && ngx_memcmp(id.data, u->id.data, id.len) == 0)
    {
        (void) ngx_oci_store_file_unlink(u->store, &path);
    }
}


/*
 * Finds a session of this repository: NGX_OK, NGX_DECLINED when unknown
 * (or idle for longer than "timeout" seconds, or of another repository),
 * or NGX_ERROR.
 */

ngx_int_t
ngx_oci_store_upload_open(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *id, time_t timeout, ngx_oci_upload_t **up)
{
    ngx_int_t          rc;
    ngx_oci_upload_t  *u;

    if (!ngx_oci_upload_id_valid(id->data, id->len)) {
        return NGX_DECLINED;
    }

    u = ngx_oci_store_upload_alloc(st, name, id);
    if (u == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_oci_store_upload_load(u, timeout);
    if (rc != NGX_OK) {
        return rc;
    }

    *up = u;

    return NGX_OK;
}


/* NGX_OK with the data file locked, NGX_BUSY, NGX_DECLINED, NGX_ERROR */

ngx_int_t
ngx_oci_store_upload_lock(ngx_oci_upload_t *u, time_t timeout)
{
    ngx_int_t  rc;
    ngx_err_t  err;

    rc = ngx_oci_store_file_open(u->store, &u->data_path, O_RDWR, 0, &u->fd);
    if (rc != NGX_OK) {
        u->fd = NGX_INVALID_FILE;
        return rc;
    }

    if (flock(u->fd, LOCK_EX|LOCK_NB) == -1) {
        err = ngx_errno;

        ngx_close_file(u->fd);
        u->fd = NGX_INVALID_FILE;

        return err == EWOULDBLOCK
               ? NGX_BUSY
               : ngx_oci_store_failed(u->store, err, "flock()",
                                      &u->data_path);
    }

    /* another request may have committed since the state was read */

    return ngx_oci_store_upload_load(u, timeout);
}


static ngx_int_t
ngx_oci_store_upload_load(ngx_oci_upload_t *u, time_t timeout)
{
    ngx_int_t               rc;
    ngx_str_t               state;
    ngx_file_info_t         fi;
    ngx_oci_upload_state_t  us;

    rc = ngx_oci_store_file_read(u->store, &u->state_path, &state,
                                 NGX_OCI_UPLOAD_STATE_MAX + 1);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_oci_upload_state_decode(state.data, state.len, &us) != 0
        || us.offset > (uint64_t) NGX_MAX_OFF_T_VALUE)
    {
        ngx_log_error(NGX_LOG_ERR, u->store->log, 0,
                      "oci: upload state \"%V\" is corrupt",
                      &u->state_path);
        return NGX_DECLINED;
    }

    /* a session belongs to the repository it was opened in */

    if (us.name_len != u->name.len
        || ngx_memcmp(us.name, u->name.data, us.name_len) != 0)
    {
        return NGX_DECLINED;
    }

    u->sha = us.sha;
    u->offset = (off_t) us.offset;
    u->written = u->offset;

    /* an abandoned session is gone even before the sweeper gets to it */

    if (ngx_oci_store_file_stat(u->store, &u->state_path, &fi) == NGX_OK
        && ngx_time() - ngx_file_mtime(&fi) > timeout)
    {
        if (u->fd != NGX_INVALID_FILE) {
            (void) ngx_oci_store_upload_remove(u);
        }

        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_oci_store_upload_save(ngx_oci_upload_t *u)
{
    u_char  buf[NGX_OCI_UPLOAD_STATE_MAX];
    size_t  len;

    len = ngx_oci_upload_state_encode(buf, (uint64_t) u->offset,
                                      u->name.data, u->name.len, &u->sha);
    if (len == 0) {
        ngx_log_error(NGX_LOG_ALERT, u->store->log, 0,
                      "oci: upload state of \"%V\" cannot be encoded",
                      &u->state_path);
        return NGX_ERROR;
    }

    return ngx_oci_store_file_write(u->store, &u->state_path, buf, len, 1);
}


/*
 * The sink of a chunk: write once, hash once, as the bytes arrive.
 * NGX_DECLINED when the bytes go past the chunk's announced end.
 */

ngx_int_t
ngx_oci_store_upload_append(ngx_oci_upload_t *u, u_char *p, size_t len)
{
    off_t   max;
    size_t  n;

    /* compared by subtraction: "written + len" could overflow off_t */

    max = (u->limit >= 0) ? u->limit : NGX_MAX_OFF_T_VALUE;

    if (u->written > max || len > (size_t) (max - u->written)) {
        return NGX_DECLINED;
    }

    /* hashed as it arrives, while it is in the cache */

    ngx_oci_sha2_update(&u->sha, p, len);

    while (len) {

        if (u->pending == 0 && len >= NGX_OCI_UPLOAD_BUFFER) {
            if (ngx_oci_store_upload_write(u, p, len, u->written) != NGX_OK) {
                return NGX_ERROR;
            }

            u->written += len;
            return NGX_OK;
        }

        if (u->buf == NULL) {
            u->buf = ngx_palloc(u->store->pool, NGX_OCI_UPLOAD_BUFFER);
            if (u->buf == NULL) {
                return NGX_ERROR;
            }
        }

        n = ngx_min(len, NGX_OCI_UPLOAD_BUFFER - u->pending);

        ngx_memcpy(u->buf + u->pending, p, n);

        u->pending += n;
        u->written += n;
        p += n;
        len -= n;

        if (u->pending == NGX_OCI_UPLOAD_BUFFER
            && ngx_oci_store_upload_flush(u) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * The gathered bytes to the data file; at the end of a body (before the
 * state is committed, the file hashed again or published), the buffer
 * goes back to the pool.
 */

static ngx_int_t
ngx_oci_store_upload_flush(ngx_oci_upload_t *u)
{
    size_t  n;

    n = u->pending;

    if (n) {
        u->pending = 0;

        if (ngx_oci_store_upload_write(u, u->buf, n, u->written - n)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_oci_store_upload_write(ngx_oci_upload_t *u, u_char *p, size_t len,
    off_t offset)
{
    size_t   done;
    ssize_t  n;

    for (done = 0; done < len; done += n) {
        n = pwrite(u->fd, p + done, len - done, offset + done);

        if (n <= 0) {
            return ngx_oci_store_failed(u->store,
                                        n < 0 ? ngx_errno : NGX_ENOSPC,
                                        "pwrite()", &u->data_path);
        }
    }

    return NGX_OK;
}


/* the body is over: what is gathered is written, the buffer let go */

static ngx_int_t
ngx_oci_store_upload_end(ngx_oci_upload_t *u)
{
    if (ngx_oci_store_upload_flush(u) != NGX_OK) {
        return NGX_ERROR;
    }

    if (u->buf) {
        (void) ngx_pfree(u->store->pool, u->buf);
        u->buf = NULL;
    }

    return NGX_OK;
}


ngx_int_t
ngx_oci_store_upload_commit(ngx_oci_upload_t *u)
{
    ngx_file_info_t  fi;

    if (ngx_oci_store_upload_end(u) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_fd_info(u->fd, &fi) == NGX_FILE_ERROR) {
        return ngx_oci_store_failed(u->store, ngx_errno, "fstat()",
                                    &u->data_path);
    }

    /* bytes left by a request that failed half-way are cut off */

    if (ngx_file_size(&fi) > u->written
        && ftruncate(u->fd, u->written) == -1)
    {
        return ngx_oci_store_failed(u->store, ngx_errno, "ftruncate()",
                                    &u->data_path);
    }

    u->offset = u->written;

    return ngx_oci_store_upload_save(u);
}


/* the digest of everything received; the hash is finished by this */

ngx_int_t
ngx_oci_store_upload_digest(ngx_oci_upload_t *u, ngx_str_t *digest)
{
    u_char  md[NGX_OCI_SHA2_MAX_SIZE];

    ngx_oci_sha2_final(&u->sha, md);

    return ngx_oci_store_digest(u->store->pool, u->sha.alg, md, digest);
}


/*
 * Hashes the data file again with another algorithm, off the event loop:
 * a session opened for sha256 and closed with a sha512 digest. When
 * "done" runs with job->rc NGX_OK, the session's hash is the new one and
 * ngx_oci_store_upload_digest() gives its digest. The data file stays
 * locked meanwhile, and the caller keeps the request alive.
 */

ngx_int_t
ngx_oci_store_upload_rehash(ngx_oci_upload_t *u, int alg,
    ngx_oci_store_done_pt done, void *owner)
{
    ngx_oci_upload_rehash_t  *rh;

    if (ngx_oci_store_upload_end(u) != NGX_OK) {
        return NGX_ERROR;
    }

    rh = ngx_pcalloc(u->store->pool, sizeof(ngx_oci_upload_rehash_t));
    if (rh == NULL) {
        return NGX_ERROR;
    }

    rh->buf = ngx_palloc(u->store->pool, NGX_OCI_REHASH_STEP);
    if (rh->buf == NULL) {
        return NGX_ERROR;
    }

    rh->upload = u;
    ngx_oci_sha2_init(&rh->sha, alg);

    rh->job.step = ngx_oci_store_upload_rehash_step;
    rh->job.done = done;
    rh->job.data = rh;
    rh->job.owner = owner;

    return ngx_oci_store_job_start(u->store, &rh->job);
}


static ngx_int_t
ngx_oci_store_upload_rehash_step(ngx_oci_store_job_t *job)
{
    off_t                     left;
    size_t                    len;
    ssize_t                   n;
    ngx_oci_upload_t         *u;
    ngx_oci_upload_rehash_t  *rh;

    rh = job->data;
    u = rh->upload;

    left = u->written - rh->pos;

    if (left == 0) {
        u->sha = rh->sha;
        return NGX_OK;
    }

    len = left < NGX_OCI_REHASH_STEP ? (size_t) left : NGX_OCI_REHASH_STEP;

    n = pread(u->fd, rh->buf, len, rh->pos);

    if (n <= 0) {
        ngx_log_error(NGX_LOG_CRIT, job->log, n < 0 ? ngx_errno : 0,
                      "oci: pread() \"%V\" failed%s", &u->data_path,
                      n < 0 ? "" : ": the file is shorter than the upload");
        return NGX_ERROR;
    }

    ngx_oci_sha2_update(&rh->sha, rh->buf, n);
    rh->pos += n;

    return NGX_AGAIN;
}


/*
 * The data file, whose content has the digest, becomes the blob of the
 * session's repository, and the session ends.
 */

ngx_int_t
ngx_oci_store_upload_publish(ngx_oci_upload_t *u, ngx_str_t *digest)
{
    ngx_int_t  rc;

    if (ngx_oci_store_upload_end(u) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ftruncate(u->fd, u->written) == -1) {
        return ngx_oci_store_failed(u->store, ngx_errno, "ftruncate()",
                                    &u->data_path);
    }

    rc = ngx_oci_store_blob_publish(u->store, &u->data_path, &u->name,
                                    digest);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_oci_store_upload_remove(u);
}


ngx_int_t
ngx_oci_store_upload_remove(ngx_oci_upload_t *u)
{
    if (ngx_oci_store_file_unlink(u->store, &u->state_path) == NGX_ERROR
        || (ngx_oci_store_upload_drop(u) == NGX_DECLINED
            && ngx_oci_store_file_unlink(u->store, &u->data_path)
               == NGX_ERROR))
    {
        return NGX_ERROR;
    }

    /* the session has ended: its slots go */

    ngx_oci_store_slot_free(u, NGX_OCI_LAYOUT_REPO_SLOT,
                            ngx_hextoi(u->id.data + NGX_OCI_UPLOAD_RANDOM, 4));
    ngx_oci_store_slot_free(u, NGX_OCI_LAYOUT_SLOT,
                            ngx_hextoi(u->id.data + NGX_OCI_UPLOAD_RANDOM + 4,
                                       4));

    return NGX_OK;
}


/*
 * A big data file of its own leaves the event loop to be freed: renamed
 * into _tmp/ (where the sweeper finishes the work of a worker that dies
 * on it), then unlinked on a thread or cut down step by step. NGX_OK when
 * it is on its way, NGX_DECLINED when unlinking it here is cheap (or
 * could not be arranged otherwise).
 */

static ngx_int_t
ngx_oci_store_upload_drop(ngx_oci_upload_t *u)
{
    return ngx_oci_store_upload_drop_file(u->store->root,
                                          u->store->thread_pool, u->fd,
                                          &u->data_path, &u->id);
}


/*
 * The file at "path", open as "fd", renamed to _tmp/<name> and freed by
 * a job of its own, in steps or on "tp".
 */

static ngx_int_t
ngx_oci_store_upload_drop_file(ngx_str_t root, ngx_thread_pool_t *tp,
    ngx_fd_t fd, ngx_str_t *path, ngx_str_t *name)
{
    ngx_pool_t             *pool;
    ngx_oci_store_t        *st;
    ngx_file_info_t         fi;
    ngx_oci_upload_drop_t  *d;

    if (fd == NGX_INVALID_FILE
        || ngx_fd_info(fd, &fi) == NGX_FILE_ERROR
        || fi.st_nlink > 1
        || ngx_file_size(&fi) < NGX_OCI_DROP_MIN)
    {
        return NGX_DECLINED;
    }

    /*
     * The work outlives the request: a pool of its own, which also holds
     * the root's descriptor; the file is moved and removed relative to
     * descriptors of its directories, never through a link.
     */

    pool = ngx_create_pool(1024, ngx_cycle->log);
    if (pool == NULL) {
        return NGX_DECLINED;
    }

    d = ngx_pcalloc(pool, sizeof(ngx_oci_upload_drop_t));
    if (d == NULL) {
        ngx_destroy_pool(pool);
        return NGX_DECLINED;
    }

    /* in the pool: the root's descriptor is closed by its cleanup */

    st = &d->store;
    st->root = root;
    st->pool = pool;
    st->log = ngx_cycle->log;
    st->thread_pool = tp;

    if (ngx_oci_store_path(st, NGX_OCI_LAYOUT_TMP_FILE, NULL, name, &d->path)
        != NGX_OK)
    {
        ngx_destroy_pool(pool);
        return NGX_DECLINED;
    }

    d->fd = dup(fd);
    if (d->fd == NGX_INVALID_FILE) {
        ngx_destroy_pool(pool);
        return NGX_DECLINED;
    }

    if (ngx_oci_store_file_rename(st, path, &d->path, &d->dir, &d->name)
        != NGX_OK)
    {
        ngx_close_file(d->fd);
        ngx_destroy_pool(pool);
        return NGX_DECLINED;
    }

    /* fresh to the sweeper of _tmp/ while the job frees it */

    (void) futimens(d->fd, NULL);

    d->size = ngx_file_size(&fi);
    d->pool = pool;

    d->job.step = ngx_oci_store_upload_drop_step;
    d->job.done = ngx_oci_store_upload_dropped;
    d->job.data = d;

    if (ngx_oci_store_job_start(st, &d->job) != NGX_OK) {

        /* renamed already: freed here after all */

        ngx_close_file(d->fd);
        (void) unlinkat(d->dir, (char *) d->name, 0);
        (void) close(d->dir);
        ngx_destroy_pool(pool);
    }

    return NGX_OK;
}


/* on a thread: the unlink at once; in steps: cut, then unlink */

static ngx_int_t
ngx_oci_store_upload_drop_step(ngx_oci_store_job_t *job)
{
    ngx_oci_upload_drop_t  *d;

    d = job->data;

    if (!job->threaded && d->size > NGX_OCI_DROP_STEP) {
        d->size -= NGX_OCI_DROP_STEP;

        if (ftruncate(d->fd, d->size) == 0) {
            return NGX_AGAIN;
        }
    }

    ngx_close_file(d->fd);

    if (unlinkat(d->dir, (char *) d->name, 0) == -1
        && ngx_errno != NGX_ENOENT)
    {
        ngx_log_error(NGX_LOG_CRIT, job->log, ngx_errno,
                      "unlink() \"%V\" failed", &d->path);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_oci_store_upload_dropped(ngx_oci_store_job_t *job)
{
    ngx_oci_upload_drop_t  *d;

    d = job->data;

    (void) close(d->dir);
    ngx_destroy_pool(d->pool);
}


/*
 * Removes sessions and temporary files idle for longer than timeout, at
 * most "max" directory entries per call so that one turn of the event
 * loop stays short whatever lies in _uploads/: NGX_AGAIN when the sweep
 * is not over (the next call carries on where this one stopped), NGX_OK
 * when both directories have been read to the end.
 */

ngx_int_t
ngx_oci_store_upload_sweep(ngx_oci_upload_sweep_t *sw, ngx_log_t *log,
    ngx_str_t *root, ngx_msec_t timeout, ngx_uint_t max)
{
    u_char            buf[NGX_MAX_PATH];
    size_t            len;
    ngx_str_t         dir;
    ngx_uint_t        n;
    ngx_oci_layout_e  what;

    for (n = 0; n < max; /* void */) {

        if (!sw->open) {
            if (sw->phase == 2) {
                sw->phase = 0;
                sw->live = sw->seen;
                sw->seen = 0;
                return NGX_OK;
            }

            if (root->len + 1 + NGX_OCI_LAYOUT_MAX > sizeof(buf)) {
                return NGX_OK;
            }

            what = sw->phase == 0 ? NGX_OCI_LAYOUT_UPLOADS
                                  : NGX_OCI_LAYOUT_TMP;

            ngx_memcpy(buf, root->data, root->len);
            buf[root->len] = '/';

            len = ngx_oci_layout_path(buf + root->len + 1, NGX_OCI_LAYOUT_MAX,
                                      what, NULL, 0, NULL, 0);

            dir.data = buf;
            dir.len = root->len + 1 + len;

            sw->dir_path.len = dir.len;
            ngx_memcpy(sw->dir_path.data, dir.data, dir.len);
            sw->dir_path.data[dir.len] = '\0';

            if (ngx_oci_store_sweep_open(sw) != NGX_OK) {
                sw->phase++;
                continue;
            }

            sw->open = 1;
        }

        n += ngx_oci_store_sweep_dir(sw, log, root, timeout / 1000, max - n);

        if (sw->open) {
            return NGX_AGAIN;
        }

        sw->phase++;
    }

    return NGX_AGAIN;
}


/*
 * At most "max" entries of the open directory; closes it at its end.
 * A session whose data file is locked is in the middle of a request and
 * is left alone.
 */

static ngx_uint_t
ngx_oci_store_sweep_dir(ngx_oci_upload_sweep_t *sw, ngx_log_t *log,
    ngx_str_t *root, time_t timeout, ngx_uint_t max)
{
    int              dfd;
    char            *state;
    u_char           path[NGX_MAX_PATH], *name, *last, *suffix;
    size_t           len;
    ngx_fd_t         fd;
    ngx_str_t       *dir, file, id;
    ngx_uint_t       n, uploads;
    ngx_file_info_t  fi;

    static const size_t  data_len = sizeof(NGX_OCI_LAYOUT_DATA_SUFFIX) - 1;

    dir = &sw->dir_path;
    dfd = dirfd(sw->dir.dir);
    uploads = (sw->phase == 0);

    for (n = 0; n < max; n++) {

        if (ngx_read_dir(&sw->dir) != NGX_OK) {
            (void) ngx_close_dir(&sw->dir);
            sw->open = 0;
            break;
        }

        name = ngx_de_name(&sw->dir);
        len = ngx_de_namelen(&sw->dir);

        if (name[0] == '.') {
            continue;
        }

        last = ngx_snprintf(path, sizeof(path) - 8, "%V/%*s", dir, len, name);
        *last = '\0';

        /* the entry itself: a link planted here is not followed */

        if (fstatat(dfd, (char *) name, &fi, AT_SYMLINK_NOFOLLOW) == -1
            || !ngx_is_file(&fi))
        {
            continue;
        }

        suffix = last - data_len;

        /* a session is its data file: counted, then maybe removed */

        if (uploads
            && len >= data_len
            && ngx_strcmp(suffix, NGX_OCI_LAYOUT_DATA_SUFFIX) == 0)
        {
            sw->seen++;

        } else if (uploads) {
            continue;
        }

        if (ngx_time() - ngx_file_mtime(&fi) <= timeout) {
            continue;
        }

        file.data = path;
        file.len = last - path;

        if (!uploads) {
            ngx_oci_store_sweep_file(root, dfd, &file, name, len);
            continue;
        }

        fd = ngx_oci_store_sweep_entry(dfd, name);
        if (fd == NGX_INVALID_FILE) {
            continue;
        }

        if (flock(fd, LOCK_EX|LOCK_NB) == 0
            && ngx_oci_store_sweep_linked(dfd, name, fd))
        {
            ngx_log_error(NGX_LOG_INFO, log, 0,
                          "oci: removing abandoned upload \"%s\"", path);

            ngx_memcpy(suffix, NGX_OCI_LAYOUT_STATE_SUFFIX,
                       sizeof(NGX_OCI_LAYOUT_STATE_SUFFIX));

            state = (char *) last - len;

            if (fstatat(dfd, state, &fi, AT_SYMLINK_NOFOLLOW) == -1
                || ngx_time() - ngx_file_mtime(&fi) > timeout)
            {
                (void) unlinkat(dfd, state, 0);
                ngx_memcpy(suffix, NGX_OCI_LAYOUT_DATA_SUFFIX,
                           data_len + 1);

                /* a big data file is freed in steps, as a session's */

                id.data = name;
                id.len = len - data_len;

                if (ngx_oci_store_upload_drop_file(*root, NULL, fd, &file,
                                                   &id)
                    == NGX_DECLINED)
                {
                    (void) unlinkat(dfd, (char *) last - len, 0);
                }

                sw->expired++;
                sw->seen--;
            }
        }

        ngx_close_file(fd);
    }

    return n;
}


/* a stray temporary file; a big one is freed in steps */

static void
ngx_oci_store_sweep_file(ngx_str_t *root, int dfd, ngx_str_t *path,
    u_char *name, size_t len)
{
    ngx_fd_t   fd;
    ngx_str_t  id;

    fd = ngx_oci_store_sweep_entry(dfd, name);
    if (fd == NGX_INVALID_FILE) {
        return;
    }

    id.data = name;
    id.len = len;

    if (ngx_oci_store_upload_drop_file(*root, NULL, fd, path, &id)
        == NGX_DECLINED)
    {
        (void) unlinkat(dfd, (char *) name, 0);
    }

    ngx_close_file(fd);
}


/*
 * _uploads/ or _tmp/ of the root, never through a link: the sweep works
 * on the entries of this descriptor only.
 */

static ngx_int_t
ngx_oci_store_sweep_open(ngx_oci_upload_sweep_t *sw)
{
    int  fd;

    fd = open((char *) sw->dir_path.data,
              O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC);
    if (fd == -1) {
        return NGX_ERROR;
    }

    ngx_memzero(&sw->dir, sizeof(ngx_dir_t));

    sw->dir.dir = fdopendir(fd);
    if (sw->dir.dir == NULL) {
        (void) close(fd);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Whether "fd" is still the file at "name": the sweeper of another front
 * on the same storage may have removed (or moved into _tmp/) the session
 * between our openat() and our flock(), which it held until then.
 */

static ngx_uint_t
ngx_oci_store_sweep_linked(int dfd, u_char *name, ngx_fd_t fd)
{
    ngx_file_info_t  fi, at;

    return ngx_fd_info(fd, &fi) != NGX_FILE_ERROR
           && fstatat(dfd, (char *) name, &at, AT_SYMLINK_NOFOLLOW) == 0
           && fi.st_ino == at.st_ino
           && fi.st_dev == at.st_dev;
}


/* an entry of the swept directory that is a regular file, not a link */

static ngx_fd_t
ngx_oci_store_sweep_entry(int dfd, u_char *name)
{
    ngx_fd_t         fd;
    ngx_file_info_t  fi;

    fd = openat(dfd, (char *) name,
                O_RDWR|O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC);
    if (fd == NGX_INVALID_FILE) {
        return NGX_INVALID_FILE;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR || !ngx_is_file(&fi)) {
        ngx_close_file(fd);
        return NGX_INVALID_FILE;
    }

    return fd;
}
