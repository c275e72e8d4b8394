
/*
 * Tags: a tag is a file "_tags/<tag>" holding the digest it points to,
 * replaced by rename(). Changes to the tags of a repository are made while
 * holding flock() on "_tags/.lock", so a conditional update reads and
 * replaces the tag with nobody in between. The lock is held for a few
 * system calls, and never across events but by the job that drops the
 * tags of a deleted manifest (as long as it takes to read every tag): it
 * is only ever tried (LOCK_NB), and whoever finds it taken retries later
 * instead of waiting.
 */


#include "ngx_oci_store.h"
#include "ngx_oci_grammar.h"

#include <sys/file.h>


static ngx_int_t ngx_oci_store_tag_repo_exists(ngx_oci_store_t *st,
    ngx_str_t *name);
static ngx_int_t ngx_oci_store_tag_push(ngx_oci_store_t *st,
    ngx_array_t *tags, u_char *p, size_t len);
static ngx_int_t ngx_oci_store_tag_drop_step(ngx_oci_store_job_t *job);
static ngx_int_t ngx_oci_store_tag_drop_one(ngx_oci_store_job_t *job,
    u_char *name, size_t len);


/* tags one step of a drop reads: a few ms at most */
#define NGX_OCI_TAG_DROP_STEP  64

/* more than the longest digest, "sha512:" and 128 digits */
#define NGX_OCI_TAG_FILE_MAX   160


typedef struct {
    ngx_dir_t             dir;
    u_char               *path;         /* "<tags dir>/", then a tag */
    size_t                dir_len;
    ngx_str_t             digest;
    ngx_fd_t              lock;
    unsigned              open:1;
    ngx_oci_store_job_t   job;
} ngx_oci_tag_drop_t;


/*
 * The tags of a repository, unsorted, into an array of ngx_str_t.
 * NGX_DECLINED when there is no such repository.
 */

ngx_int_t
ngx_oci_store_tag_list(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_array_t *tags)
{
    ngx_int_t  rc;
    ngx_err_t  err;
    ngx_str_t  dir;
    ngx_dir_t  d;

    if (ngx_oci_store_path(st, NGX_OCI_LAYOUT_TAGS_DIR, name, NULL, &dir)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_oci_store_dir_open(st, &dir, &d);

    if (rc == NGX_DECLINED) {
        return ngx_oci_store_tag_repo_exists(st, name);
    }

    if (rc != NGX_OK) {
        return rc;
    }

    for ( ;; ) {
        ngx_set_errno(0);

        if (ngx_read_dir(&d) == NGX_ERROR) {
            err = ngx_errno;

            (void) ngx_close_dir(&d);

            if (err == NGX_ENOMOREFILES) {
                return NGX_OK;
            }

            return ngx_oci_store_failed(st, err, "readdir()", &dir);
        }

        rc = ngx_oci_store_tag_push(st, tags, ngx_de_name(&d),
                                    ngx_de_namelen(&d));
        if (rc != NGX_OK) {
            (void) ngx_close_dir(&d);
            return rc;
        }
    }
}


/*
 * A repository without tags still exists if it holds content; a
 * directory that only leads to deeper repositories does not.
 */

static ngx_int_t
ngx_oci_store_tag_repo_exists(ngx_oci_store_t *st, ngx_str_t *name)
{
    ngx_int_t        rc;
    ngx_str_t        dir;
    ngx_file_info_t  fi;

    if (ngx_oci_store_path(st, NGX_OCI_LAYOUT_REPO_BLOBS_DIR, name, NULL,
                           &dir)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_oci_store_file_stat(st, &dir, &fi);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (ngx_oci_store_path(st, NGX_OCI_LAYOUT_MANIFESTS_DIR, name, NULL,
                           &dir)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_oci_store_file_stat(st, &dir, &fi);
}


static ngx_int_t
ngx_oci_store_tag_push(ngx_oci_store_t *st, ngx_array_t *tags, u_char *p,
    size_t len)
{
    ngx_str_t  *tag;

    /* the lock file and temporary files are not tags */

    if (!ngx_oci_tag_valid(p, len)) {
        return NGX_OK;
    }

    tag = ngx_array_push(tags);
    if (tag == NULL) {
        return NGX_ERROR;
    }

    tag->data = ngx_pnalloc(st->pool, len);
    if (tag->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(tag->data, p, len);
    tag->len = len;

    return NGX_OK;
}


/* NGX_OK with the digest, NGX_DECLINED when there is no such tag */

ngx_int_t
ngx_oci_store_tag_read(ngx_oci_store_t *st, ngx_str_t *name, ngx_str_t *tag,
    ngx_str_t *digest)
{
    ngx_int_t  rc;

    rc = ngx_oci_store_read(st, NGX_OCI_LAYOUT_TAG, name, tag, digest,
                            7 + 128 + 1);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_oci_digest_parse(digest->data, digest->len, NULL, NULL, NULL)
        != NGX_OCI_DIGEST_OK)
    {
        ngx_log_error(NGX_LOG_ERR, st->log, 0,
                      "oci: tag \"%V\" of \"%V\" does not hold a digest",
                      tag, name);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* NGX_OK with the lock held, NGX_BUSY, or NGX_ERROR */

ngx_int_t
ngx_oci_store_tag_lock(ngx_oci_store_t *st, ngx_str_t *name, ngx_fd_t *fd)
{
    ngx_err_t  err;
    ngx_str_t  path;

    if (ngx_oci_store_path(st, NGX_OCI_LAYOUT_TAG_LOCK_FILE, name, NULL,
                           &path)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_oci_store_file_open(st, &path, O_RDWR|O_CREAT, 0600, fd)
        != NGX_OK)
    {
        *fd = NGX_INVALID_FILE;
        return NGX_ERROR;
    }

    if (flock(*fd, LOCK_EX|LOCK_NB) == -1) {
        err = ngx_errno;
        ngx_close_file(*fd);
        *fd = NGX_INVALID_FILE;

        return err == EWOULDBLOCK
               ? NGX_BUSY : ngx_oci_store_failed(st, err, "flock()", &path);
    }

    return NGX_OK;
}


void
ngx_oci_store_tag_unlock(ngx_fd_t fd)
{
    if (fd != NGX_INVALID_FILE) {
        ngx_close_file(fd);
    }
}


ngx_int_t
ngx_oci_store_tag_write(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *tag, ngx_str_t *digest)
{
    ngx_str_t  path;

    if (ngx_oci_store_path(st, NGX_OCI_LAYOUT_TAG, name, tag, &path)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_oci_store_file_write(st, &path, digest->data, digest->len, 1);
}


/*
 * Removes every tag of the repository that points to the digest, as a
 * job (ngx_oci_store_job.c): a repository may have thousands of tags,
 * each a file to read. The job owns the tag lock "fd" and lets it go
 * when it ends; "done" runs with job->rc. NGX_OK when started, NGX_ERROR
 * (the caller still holds the lock).
 */

ngx_int_t
ngx_oci_store_tag_drop_digest(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *digest, ngx_fd_t fd, ngx_oci_store_done_pt done, void *owner)
{
    ngx_int_t            rc;
    ngx_str_t            dir;
    ngx_oci_tag_drop_t  *td;

    td = ngx_pcalloc(st->pool, sizeof(ngx_oci_tag_drop_t));
    if (td == NULL) {
        return NGX_ERROR;
    }

    if (ngx_oci_store_path(st, NGX_OCI_LAYOUT_TAGS_DIR, name, NULL, &dir)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    td->path = ngx_pnalloc(st->pool, dir.len + 1 + NGX_OCI_TAG_MAX_LEN + 1);
    if (td->path == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(td->path, dir.data, dir.len + 1);
    td->dir_len = dir.len;
    td->digest = *digest;
    td->lock = fd;

    /*
     * The directory is opened here, on the event loop, below the root
     * and never through a link; the job only reads and removes entries
     * of that descriptor. No directory: no tags, the job just ends.
     */

    rc = ngx_oci_store_dir_open(st, &dir, &td->dir);
    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    td->open = (rc == NGX_OK);

    td->job.step = ngx_oci_store_tag_drop_step;
    td->job.done = done;
    td->job.data = td;
    td->job.owner = owner;

    if (ngx_oci_store_job_start(st, &td->job) != NGX_OK) {
        if (td->open) {
            (void) ngx_close_dir(&td->dir);
        }

        return NGX_ERROR;
    }

    return NGX_OK;
}


/* at most NGX_OCI_TAG_DROP_STEP tags; no pool is touched, it may run on a
 * thread */

static ngx_int_t
ngx_oci_store_tag_drop_step(ngx_oci_store_job_t *job)
{
    ngx_err_t            err;
    ngx_int_t            rc;
    ngx_uint_t           n;
    ngx_oci_tag_drop_t  *td;

    td = job->data;
    rc = NGX_AGAIN;

    if (!td->open) {
        rc = NGX_OK;
        goto done;
    }

    for (n = 0; n < NGX_OCI_TAG_DROP_STEP; n++) {
        ngx_set_errno(0);

        if (ngx_read_dir(&td->dir) == NGX_ERROR) {
            err = ngx_errno;
            rc = (err == NGX_ENOMOREFILES) ? NGX_OK : NGX_ERROR;

            if (rc == NGX_ERROR) {
                ngx_log_error(NGX_LOG_CRIT, job->log, err,
                              "oci: readdir() \"%*s\" failed",
                              td->dir_len, td->path);
            }

            break;
        }

        rc = ngx_oci_store_tag_drop_one(job, ngx_de_name(&td->dir),
                                        ngx_de_namelen(&td->dir));
        if (rc != NGX_AGAIN) {
            break;
        }
    }

    if (rc == NGX_AGAIN) {
        return NGX_AGAIN;
    }

    (void) ngx_close_dir(&td->dir);
    td->open = 0;

done:

    ngx_oci_store_tag_unlock(td->lock);
    td->lock = NGX_INVALID_FILE;

    return rc;
}


/* NGX_AGAIN (carry on) or NGX_ERROR */

static ngx_int_t
ngx_oci_store_tag_drop_one(ngx_oci_store_job_t *job, u_char *name,
    size_t len)
{
    u_char              *p, buf[NGX_OCI_TAG_FILE_MAX];
    ssize_t              n;
    ngx_fd_t             fd;
    ngx_err_t            err;
    ngx_oci_tag_drop_t  *td;

    td = job->data;

    if (!ngx_oci_tag_valid(name, len)) {
        return NGX_AGAIN;               /* ".lock", "." and ".." */
    }

    p = ngx_cpymem(td->path + td->dir_len, "/", 1);
    p = ngx_cpymem(p, name, len);
    *p = '\0';

    /* the entry itself, never what a planted link points to */

    fd = openat(dirfd(td->dir.dir), (char *) p - len,
                O_RDONLY|O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC);

    if (fd == NGX_INVALID_FILE) {
        err = ngx_errno;
        td->path[td->dir_len] = '\0';

        if (err == NGX_ENOENT) {
            return NGX_AGAIN;
        }

        if (err == ELOOP) {
            ngx_log_error(NGX_LOG_ERR, job->log, 0,
                          "oci: tag \"%*s\" of \"%s\" is a symbolic link, "
                          "left alone", len, name, td->path);
            return NGX_AGAIN;
        }

        ngx_log_error(NGX_LOG_CRIT, job->log, err,
                      "oci: open() tag \"%*s\" failed", len, name);
        return NGX_ERROR;
    }

    n = ngx_read_fd(fd, buf, sizeof(buf));
    err = ngx_errno;

    ngx_close_file(fd);

    if (n < 0) {
        ngx_log_error(NGX_LOG_CRIT, job->log, err,
                      "oci: read() \"%s\" failed", td->path);
        td->path[td->dir_len] = '\0';
        return NGX_ERROR;
    }

    if ((size_t) n == td->digest.len
        && ngx_strncmp(buf, td->digest.data, n) == 0
        && unlinkat(dirfd(td->dir.dir), (char *) p - len, 0) == -1
        && ngx_errno != NGX_ENOENT)
    {
        ngx_log_error(NGX_LOG_CRIT, job->log, ngx_errno,
                      "oci: unlink() \"%s\" failed", td->path);
        td->path[td->dir_len] = '\0';
        return NGX_ERROR;
    }

    td->path[td->dir_len] = '\0';

    return NGX_AGAIN;
}
