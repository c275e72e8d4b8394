
/*
 * Tags: a tag is a file "_tags/<tag>" holding the digest it points to,
 * replaced by rename(). A change to a tag is made holding that tag's own
 * lock, so a conditional update reads and replaces the tag with nobody
 * in between, and changes to different tags never wait for each other.
 * A lock is held for a few system calls, never across events: it is
 * only ever tried, and whoever finds it taken retries later instead of
 * waiting. See docs/storage.md for what it asks of the file system.
 *
 * A digest has a lock of the same kind, ".<alg>:<hex>.lock" among the
 * tags, which a DELETE by digest holds while it looks for immutable tags
 * naming the manifest and removes it (docs/storage.md, "Immutable
 * tags"): a PUT of such a tag does not wait for it either, it looks
 * whether it is there.
 */


#include "ngx_oci_store.h"
#include "ngx_oci_grammar.h"



static ngx_int_t ngx_oci_store_tag_repo_exists(ngx_oci_store_t *st,
    ngx_str_t *name);
static ngx_int_t ngx_oci_store_tag_lock_file(ngx_oci_store_t *st,
    ngx_oci_layout_e what, ngx_str_t *name, ngx_str_t *ref,
    ngx_oci_tag_lock_t **lock);
static ngx_int_t ngx_oci_store_tag_job(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *digest, ngx_oci_tag_policy_t *policy, ngx_str_t *found,
    ngx_oci_store_done_pt done, void *owner);
#if (NGX_PCRE2)
static void ngx_oci_store_tag_match_data_free(void *data);
#endif
static ngx_uint_t ngx_oci_store_tag_immutable_at(
    ngx_oci_tag_policy_t *policy, u_char *tag, size_t len, void *md);
static ngx_int_t ngx_oci_store_tag_push(ngx_oci_store_t *st,
    ngx_array_t *tags, u_char *p, size_t len);
static void ngx_oci_store_tag_lock_cleanup(void *data);
static ngx_int_t ngx_oci_store_tag_lock_at(ngx_fd_t dir, u_char *file,
    ngx_log_t *log);
static void ngx_oci_store_tag_unlock_at(ngx_fd_t dir, u_char *file,
    ngx_log_t *log);
static ngx_int_t ngx_oci_store_tag_drop_step(ngx_oci_store_job_t *job);
static ngx_int_t ngx_oci_store_tag_drop_one(ngx_oci_store_job_t *job,
    u_char *name, size_t len);
static ngx_int_t ngx_oci_store_tag_drop_match(ngx_oci_store_job_t *job,
    u_char *name);


/* tags one step of a drop reads: a few ms at most */
#define NGX_OCI_TAG_DROP_STEP  64

/* more than the longest digest, "sha512:" and 128 digits */
#define NGX_OCI_TAG_FILE_MAX   160

/* ".<tag>.lock", or ".<alg>:<hex>.lock": "sha512:" and 128 digits */
#define NGX_OCI_TAG_LOCK_FILE_LEN                                          \
    (1 + ngx_max(NGX_OCI_TAG_MAX_LEN, 7 + 128)                             \
     + sizeof(NGX_OCI_LAYOUT_TAG_LOCK) - 1)

/*
 * Seconds after which a tag lock is taken for the leftover of a worker
 * that died holding it (a lock is held for a few system calls). The
 * clocks of the fronts must agree with the file server's within this.
 */
#define NGX_OCI_TAG_LOCK_STALE  30


struct ngx_oci_tag_lock_s {
    ngx_fd_t              dir;          /* "_tags/", O_PATH */
    u_char                file[NGX_OCI_TAG_LOCK_FILE_LEN + 1];
    ngx_log_t            *log;
    time_t                taken;
};


typedef struct {
    ngx_dir_t             dir;
    u_char               *path;         /* "<tags dir>/", then a tag */
    size_t                dir_len;
    ngx_str_t             digest;
    u_char                busy[NGX_OCI_TAG_MAX_LEN];
    size_t                busy_len;     /* a tag whose lock was taken */
    ngx_oci_tag_policy_t *policy;       /* NULL: no tag is immutable */
    void                 *match_data;   /* the step's own, on a thread */
    ngx_str_t            *found;        /* NULL: drop, else find */
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


/* the tag's digest and when it was last written: NGX_OK, NGX_DECLINED */

ngx_int_t
ngx_oci_store_tag_age(ngx_oci_store_t *st, ngx_str_t *name, ngx_str_t *tag,
    ngx_str_t *digest, time_t *written)
{
    ngx_int_t        rc;
    ngx_str_t        path;
    ngx_file_info_t  fi;

    if (ngx_oci_store_path(st, NGX_OCI_LAYOUT_TAG, name, tag, &path)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_oci_store_file_stat(st, &path, &fi);
    if (rc != NGX_OK) {
        return rc;
    }

    *written = fi.st_mtime;

    return ngx_oci_store_tag_read(st, name, tag, digest);
}


/*
 * A tag's lock: NGX_OK with it held, NGX_BUSY when another request holds
 * it, NGX_ERROR. It is let go by ngx_oci_store_tag_unlock(), or with the
 * pool should the request end first.
 */

ngx_int_t
ngx_oci_store_tag_lock(ngx_oci_store_t *st, ngx_str_t *name, ngx_str_t *tag,
    ngx_oci_tag_lock_t **lock)
{
    return ngx_oci_store_tag_lock_file(st, NGX_OCI_LAYOUT_TAG_LOCK_FILE, name,
                                       tag, lock);
}


/*
 * The delete lock of a digest, taken and let go as a tag's; it is held
 * across the events of a job, which nobody waits for: another DELETE of
 * the digest retries later, a PUT looks whether it is held
 * (ngx_oci_store_digest_locked()).
 */

ngx_int_t
ngx_oci_store_digest_lock(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *digest, ngx_oci_tag_lock_t **lock)
{
    return ngx_oci_store_tag_lock_file(st, NGX_OCI_LAYOUT_DIGEST_LOCK_FILE,
                                       name, digest, lock);
}


/*
 * NGX_OK when a DELETE of the digest holds its lock, NGX_DECLINED when
 * nobody does (a lock older than NGX_OCI_TAG_LOCK_STALE is the leftover
 * of a worker that died), NGX_ERROR.
 */

ngx_int_t
ngx_oci_store_digest_locked(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *digest)
{
    ngx_int_t        rc;
    ngx_str_t        path;
    ngx_file_info_t  fi;

    if (ngx_oci_store_path(st, NGX_OCI_LAYOUT_DIGEST_LOCK_FILE, name, digest,
                           &path)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_oci_store_file_stat(st, &path, &fi);
    if (rc != NGX_OK) {
        return rc;
    }

    return (ngx_time() - fi.st_mtime < NGX_OCI_TAG_LOCK_STALE)
           ? NGX_OK : NGX_DECLINED;
}


static ngx_int_t
ngx_oci_store_tag_lock_file(ngx_oci_store_t *st, ngx_oci_layout_e what,
    ngx_str_t *name, ngx_str_t *ref, ngx_oci_tag_lock_t **lock)
{
    u_char               *file;
    ngx_int_t             rc;
    ngx_str_t             path;
    ngx_pool_cleanup_t   *cln;
    ngx_oci_tag_lock_t   *lk;

    *lock = NULL;

    if (ngx_oci_store_path(st, what, name, ref, &path) != NGX_OK) {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(st->pool, sizeof(ngx_oci_tag_lock_t));
    if (cln == NULL) {
        return NGX_ERROR;
    }

    lk = cln->data;
    lk->dir = NGX_INVALID_FILE;
    lk->log = st->log;

    if (ngx_oci_store_parent(st, &path, 1, &lk->dir, &file) != NGX_OK) {
        lk->dir = NGX_INVALID_FILE;
        return NGX_ERROR;
    }

    ngx_cpystrn(lk->file, file, sizeof(lk->file));

    cln->handler = ngx_oci_store_tag_lock_cleanup;

    rc = ngx_oci_store_tag_lock_at(lk->dir, lk->file, st->log);

    if (rc != NGX_OK) {
        (void) close(lk->dir);
        lk->dir = NGX_INVALID_FILE;
        return rc;
    }

    lk->taken = ngx_time();
    *lock = lk;

    return NGX_OK;
}


/*
 * Whether a lock held across events is still safe to act under: once
 * half of NGX_OCI_TAG_LOCK_STALE has gone by, others will soon take it
 * for a dead worker's.
 */

ngx_uint_t
ngx_oci_store_tag_lock_fresh(ngx_oci_tag_lock_t *lock)
{
    return lock != NULL && lock->dir != NGX_INVALID_FILE
           && ngx_time() - lock->taken < NGX_OCI_TAG_LOCK_STALE / 2;
}


void
ngx_oci_store_tag_unlock(ngx_oci_tag_lock_t *lock)
{
    if (lock == NULL || lock->dir == NGX_INVALID_FILE) {
        return;
    }

    ngx_oci_store_tag_unlock_at(lock->dir, lock->file, lock->log);

    (void) close(lock->dir);
    lock->dir = NGX_INVALID_FILE;
}


static void
ngx_oci_store_tag_lock_cleanup(void *data)
{
    ngx_oci_store_tag_unlock(data);
}


/*
 * The lock is the file ".<tag>.lock" in "_tags/", created with O_EXCL:
 * whoever creates it holds the lock, and removing it lets it go. O_EXCL
 * is atomic on a local file system and on NFS (v3 and later) alike, so
 * fronts on several hosts exclude each other as the workers of one do.
 * NGX_OK, NGX_BUSY or NGX_ERROR; no pool is touched, it may run on a
 * thread.
 */

static ngx_int_t
ngx_oci_store_tag_lock_at(ngx_fd_t dir, u_char *file, ngx_log_t *log)
{
    ngx_fd_t         fd;
    ngx_int_t        rc;
    ngx_uint_t       tries;
    ngx_file_info_t  fi;

    for (tries = 0; tries < 2; tries++) {
        fd = openat(dir, (char *) file,
                    O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, 0600);

        if (fd != NGX_INVALID_FILE) {
            ngx_close_file(fd);
            return NGX_OK;
        }

        if (ngx_errno != NGX_EEXIST) {
            ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                          "oci: open() tag lock \"%s\" failed", file);
            return NGX_ERROR;
        }

        if (fstatat(dir, (char *) file, &fi, AT_SYMLINK_NOFOLLOW) == -1) {

            if (ngx_errno == NGX_ENOENT) {
                /* let go meanwhile: the next try will do */
                return NGX_BUSY;
            }

            ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                          "oci: stat() tag lock \"%s\" failed", file);
            return NGX_ERROR;
        }

        if (ngx_time() - fi.st_mtime < NGX_OCI_TAG_LOCK_STALE) {
            return NGX_BUSY;
        }

        rc = ngx_oci_store_lock_break(dir, file, &fi, log);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    return NGX_BUSY;
}


static void
ngx_oci_store_tag_unlock_at(ngx_fd_t dir, u_char *file, ngx_log_t *log)
{
    if (unlinkat(dir, (char *) file, 0) == -1 && ngx_errno != NGX_ENOENT) {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      "oci: unlink() tag lock \"%s\" failed", file);
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
 * each a file to read. A tag that names the digest is removed under its
 * own lock; one whose lock is taken is tried again at the next step.
 * Immutable tags by the policy are left alone. "done" runs with
 * job->rc. NGX_OK when started, or NGX_ERROR.
 */

ngx_int_t
ngx_oci_store_tag_drop_digest(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *digest, ngx_oci_tag_policy_t *policy,
    ngx_oci_store_done_pt done, void *owner)
{
    return ngx_oci_store_tag_job(st, name, digest, policy, NULL, done,
                                 owner);
}


/*
 * Looks for an immutable tag, by the policy, that points to the digest,
 * as a job like the above: "done" runs with job->rc NGX_OK, and the tag
 * in "found" (empty when there is none), or NGX_ERROR. The tags are
 * read without their locks: a tag is replaced by rename(), so it reads
 * whole, either before or after a change. NGX_OK when started, or
 * NGX_ERROR.
 */

ngx_int_t
ngx_oci_store_tag_find_digest(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *digest, ngx_oci_tag_policy_t *policy, ngx_str_t *found,
    ngx_oci_store_done_pt done, void *owner)
{
    found->len = 0;
    found->data = ngx_pnalloc(st->pool, NGX_OCI_TAG_MAX_LEN);
    if (found->data == NULL) {
        return NGX_ERROR;
    }

    return ngx_oci_store_tag_job(st, name, digest, policy, found, done,
                                 owner);
}


static ngx_int_t
ngx_oci_store_tag_job(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *digest, ngx_oci_tag_policy_t *policy, ngx_str_t *found,
    ngx_oci_store_done_pt done, void *owner)
{
    ngx_int_t            rc;
    ngx_str_t            dir;
    ngx_oci_tag_drop_t  *td;
#if (NGX_PCRE2)
    ngx_pool_cleanup_t  *cln;
#endif

    td = ngx_pcalloc(st->pool, sizeof(ngx_oci_tag_drop_t));
    if (td == NULL) {
        return NGX_ERROR;
    }

    td->found = found;

    if (policy && policy->immutable) {
        td->policy = policy;

#if (NGX_PCRE2)
        /*
         * ngx_regex_exec() matches into data of nginx's own, which a
         * step on a thread must not share with the event loop
         */

        if (policy->mutable) {
            cln = ngx_pool_cleanup_add(st->pool, 0);
            if (cln == NULL) {
                return NGX_ERROR;
            }

            td->match_data = pcre2_match_data_create(1, NULL);
            if (td->match_data == NULL) {
                return NGX_ERROR;
            }

            cln->handler = ngx_oci_store_tag_match_data_free;
            cln->data = td->match_data;
        }
#endif
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


#if (NGX_PCRE2)

static void
ngx_oci_store_tag_match_data_free(void *data)
{
    pcre2_match_data_free(data);
}

#endif


/* whether the policy makes the tag immutable; on the event loop */

ngx_uint_t
ngx_oci_store_tag_immutable(ngx_oci_tag_policy_t *policy, ngx_str_t *tag)
{
    return ngx_oci_store_tag_immutable_at(policy, tag->data, tag->len,
                                          NULL);
}


/*
 * With match data of its own (md), a step may match on a thread. A
 * regex that fails to run (a match limit) leaves the tag immutable: the
 * policy errs on the side of keeping tags.
 */

static ngx_uint_t
ngx_oci_store_tag_immutable_at(ngx_oci_tag_policy_t *policy, u_char *tag,
    size_t len, void *md)
{
#if (NGX_PCRE)
    ngx_int_t  rc;
    ngx_str_t  s;
#endif

    if (policy == NULL || !policy->immutable) {
        return 0;
    }

#if (NGX_PCRE)

    if (policy->mutable == NULL) {
        return 1;
    }

#if (NGX_PCRE2)
    if (md) {
        rc = pcre2_match(policy->mutable, tag, len, 0, 0, md, NULL);
        return rc < 0;
    }
#endif

    s.data = tag;
    s.len = len;

    rc = ngx_regex_exec(policy->mutable, &s, NULL, 0);

    return rc < 0;

#else

    return 1;

#endif
}


/*
 * at most NGX_OCI_TAG_DROP_STEP tags; no pool is touched, it may run on
 * a thread
 */

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
        return NGX_OK;
    }

    if (td->busy_len) {
        rc = ngx_oci_store_tag_drop_one(job, td->busy, td->busy_len);

        if (rc == NGX_BUSY) {
            if (job->threaded) {
                /* off the event loop: a short nap, not a busy loop */
                ngx_msleep(1);
            }

            return NGX_AGAIN;
        }

        td->busy_len = 0;
    }

    for (n = 0; rc == NGX_AGAIN && n < NGX_OCI_TAG_DROP_STEP; n++) {
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

        if (rc == NGX_BUSY) {
            /* its lock is taken: this tag again at the next step */
            td->busy_len = ngx_de_namelen(&td->dir);
            ngx_memcpy(td->busy, ngx_de_name(&td->dir), td->busy_len);
            rc = NGX_AGAIN;
            break;
        }
    }

    if (rc == NGX_AGAIN) {
        return NGX_AGAIN;
    }

    (void) ngx_close_dir(&td->dir);
    td->open = 0;

    return rc;
}


/*
 * A tag that names the digest goes, under its lock: it is read again
 * once the lock is held, since a push may have changed it meanwhile.
 * NGX_AGAIN (carry on), NGX_BUSY (its lock is taken) or NGX_ERROR; when
 * finding, NGX_OK for an immutable tag that names it.
 */

static ngx_int_t
ngx_oci_store_tag_drop_one(ngx_oci_store_job_t *job, u_char *name,
    size_t len)
{
    u_char              *p, lock[NGX_OCI_TAG_LOCK_FILE_LEN + 1];
    ngx_int_t            rc;
    ngx_uint_t           immutable;
    ngx_oci_tag_drop_t  *td;

    td = job->data;

    if (!ngx_oci_tag_valid(name, len)) {
        return NGX_AGAIN;               /* locks, "." and ".." */
    }

    immutable = ngx_oci_store_tag_immutable_at(td->policy, name, len,
                                               td->match_data);

    if (immutable != (td->found != NULL)) {
        /* finding: a mutable tag does not count; dropping: kept */
        return NGX_AGAIN;
    }

    p = ngx_cpymem(td->path + td->dir_len, "/", 1);
    p = ngx_cpymem(p, name, len);
    *p = '\0';

    rc = ngx_oci_store_tag_drop_match(job, p - len);

    if (rc == NGX_OK && td->found) {
        ngx_memcpy(td->found->data, name, len);
        td->found->len = len;
        td->path[td->dir_len] = '\0';
        return NGX_OK;
    }

    if (rc != NGX_OK) {
        td->path[td->dir_len] = '\0';
        return rc == NGX_DECLINED ? NGX_AGAIN : NGX_ERROR;
    }

    p = ngx_cpymem(lock, NGX_OCI_LAYOUT_HIDDEN,
                   sizeof(NGX_OCI_LAYOUT_HIDDEN) - 1);
    p = ngx_cpymem(p, name, len);
    p = ngx_cpymem(p, NGX_OCI_LAYOUT_TAG_LOCK, sizeof(NGX_OCI_LAYOUT_TAG_LOCK));

    rc = ngx_oci_store_tag_lock_at(dirfd(td->dir.dir), lock, job->log);

    if (rc != NGX_OK) {
        td->path[td->dir_len] = '\0';
        return rc;
    }

    p = td->path + td->dir_len + 1;

    rc = ngx_oci_store_tag_drop_match(job, p);

    if (rc == NGX_OK
        && unlinkat(dirfd(td->dir.dir), (char *) p, 0) == -1
        && ngx_errno != NGX_ENOENT)
    {
        ngx_log_error(NGX_LOG_CRIT, job->log, ngx_errno,
                      "oci: unlink() \"%s\" failed", td->path);
        rc = NGX_ERROR;
    }

    ngx_oci_store_tag_unlock_at(dirfd(td->dir.dir), lock, job->log);

    td->path[td->dir_len] = '\0';

    return rc == NGX_ERROR ? NGX_ERROR : NGX_AGAIN;
}


/*
 * NGX_OK when the tag "name" of the directory names the digest,
 * NGX_DECLINED when it does not or is not there, NGX_ERROR. The entry
 * itself is read, never what a planted link points to, and a FIFO does
 * not block.
 */

static ngx_int_t
ngx_oci_store_tag_drop_match(ngx_oci_store_job_t *job, u_char *name)
{
    u_char              buf[NGX_OCI_TAG_FILE_MAX];
    ssize_t             n;
    ngx_fd_t            fd;
    ngx_err_t           err;
    ngx_oci_tag_drop_t *td;

    td = job->data;

    fd = openat(dirfd(td->dir.dir), (char *) name,
                O_RDONLY|O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC);

    if (fd == NGX_INVALID_FILE) {
        err = ngx_errno;

        if (err == NGX_ENOENT) {
            return NGX_DECLINED;
        }

        if (err == ELOOP) {
            ngx_log_error(NGX_LOG_ERR, job->log, 0,
                          "oci: tag \"%s\" of \"%*s\" is a symbolic link, "
                          "left alone", name, td->dir_len, td->path);
            return NGX_DECLINED;
        }

        ngx_log_error(NGX_LOG_CRIT, job->log, err,
                      "oci: open() tag \"%s\" failed", td->path);
        return NGX_ERROR;
    }

    n = ngx_read_fd(fd, buf, sizeof(buf));
    err = ngx_errno;

    ngx_close_file(fd);

    if (n < 0) {
        ngx_log_error(NGX_LOG_CRIT, job->log, err,
                      "oci: read() \"%s\" failed", td->path);
        return NGX_ERROR;
    }

    if ((size_t) n == td->digest.len
        && ngx_strncmp(buf, td->digest.data, n) == 0)
    {
        return NGX_OK;
    }

    return NGX_DECLINED;
}
