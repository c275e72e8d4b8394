
/*
 * Storage: every path and every system call under "oci_storage".
 *
 * Blobs, manifests, tags and their lock, upload sessions: the endpoints
 * ask for them by repository, digest, tag or session id and never build
 * a path or call the file system themselves. Storage knows nothing of
 * HTTP: it returns nginx codes and logs what failed:
 *
 *     NGX_OK        done;
 *     NGX_DECLINED  the thing asked about is not there;
 *     NGX_BUSY      a lock is held by another request (never waited for);
 *     NGX_ERROR     a system call failed, logged at "crit" with its path,
 *                   or memory ran out.
 *
 * Paths come from ngx_oci_layout.h, the one place the layout is spelled.
 * Every file system call is made relative to a descriptor of the root,
 * and no symbolic link below the root is ever followed: a link met where
 * a file or directory of the layout should be is logged at "error" and
 * taken for "not there" (NGX_DECLINED) by reads, and fails writes
 * (NGX_ERROR). See docs/storage.md.
 */


#ifndef _NGX_OCI_STORE_H_INCLUDED_
#define _NGX_OCI_STORE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#if (NGX_THREADS)
#include <ngx_thread_pool.h>
#endif

#include "ngx_oci_layout.h"
#include "ngx_oci_sha2.h"


#if !(NGX_THREADS)
typedef void  ngx_thread_pool_t;
#endif


/* what ngx_oci_store_file_read() takes in one read(), without fstat() */
#define NGX_OCI_STORE_READ_MAX  1024


/*
 * A storage root's descriptor, kept by a worker for all its requests:
 * opened on first use, looked at again at most once a second (a root
 * replaced on disk is opened anew under the same descriptor number),
 * closed with the pool it was made from (the configuration's).
 */
typedef struct {
    ngx_str_t                 path;         /* NUL-terminated */
    ngx_fd_t                  fd;           /* NGX_INVALID_FILE: not yet */
    dev_t                     dev;
    ino_t                     ino;
    time_t                    checked;
    unsigned                  no_xattr:1;   /* keeps no user.* attributes */
} ngx_oci_store_root_t;


/*
 * where a request's storage work happens: its root, pool and log, and
 * the thread pool its long jobs run on (NULL: in steps from a timer).
 * The root's descriptor is the worker's "shared" one; without it, it is
 * opened by storage on first use and closed with the pool (zeroed
 * fields: not opened yet).
 */
typedef struct {
    ngx_str_t                 root;
    ngx_pool_t               *pool;
    ngx_log_t                *log;
    ngx_thread_pool_t        *thread_pool;
    ngx_oci_store_root_t     *shared;
    ngx_fd_t                  root_fd;
    ngx_uint_t                root_open;
} ngx_oci_store_t;


/* the caps on upload sessions (0: none), and when one is abandoned */
typedef struct {
    ngx_uint_t                total;
    ngx_uint_t                repository;
    time_t                    timeout;
} ngx_oci_upload_caps_t;


/* where the sweep of abandoned uploads stopped, from one call to the next */
typedef struct {
    ngx_dir_t                 dir;
    ngx_str_t                 dir_path;     /* NGX_MAX_PATH bytes */
    ngx_uint_t                phase;        /* 0 _uploads, 1 _tmp, 2 done */
    ngx_uint_t                expired;      /* sessions removed, ever */
    ngx_uint_t                seen;         /* sessions met in this pass */
    ngx_uint_t                live;         /* left at the last pass' end */
    unsigned                  open:1;
} ngx_oci_upload_sweep_t;


typedef struct ngx_oci_store_job_s  ngx_oci_store_job_t;

/* a tag's lock while it is held (ngx_oci_store_tag.c) */
typedef struct ngx_oci_tag_lock_s  ngx_oci_tag_lock_t;

/*
 * Which tags are immutable once written: none when "immutable" is 0;
 * else all but those "mutable" matches (NULL: all)
 */
typedef struct {
    ngx_flag_t                immutable;
#if (NGX_PCRE)
    ngx_regex_t              *mutable;
#endif
} ngx_oci_tag_policy_t;

/* a bounded amount of work: NGX_AGAIN (more is left), NGX_OK, NGX_ERROR */
typedef ngx_int_t (*ngx_oci_store_step_pt)(ngx_oci_store_job_t *job);
typedef void (*ngx_oci_store_done_pt)(ngx_oci_store_job_t *job);

/*
 * A long piece of storage work, off the event loop (ngx_oci_store_job.c).
 * Its owner keeps the job and the pool it came from alive until "done"
 * runs: a job on a thread cannot be called back.
 */
struct ngx_oci_store_job_s {
    ngx_oci_store_step_pt     step;
    ngx_oci_store_done_pt     done;
    void                     *data;         /* the step's own state */
    void                     *owner;        /* for "done" */
    ngx_int_t                 rc;           /* of the last step */
    ngx_event_t               ev;
    ngx_log_t                *log;
    unsigned                  threaded:1;   /* steps run on a thread */
};


/*
 * A cached page of the referrers API: a small one read whole ("body"
 * set, "fd" closed already), a larger one open to be sent from "fd"
 */
typedef struct {
    ngx_fd_t                  fd;
    ngx_str_t                 path;
    u_char                   *body;         /* a small page's body */
    off_t                     offset;       /* where the body starts */
    off_t                     size;         /* of the body */
    ngx_oci_layout_page_t     page;         /* its header, parsed */
} ngx_oci_store_page_t;


/* a blob being fetched from an upstream (ngx_oci_store_fill.c) */
typedef struct {
    ngx_fd_t                  fd;
    ngx_fd_t                  dir;          /* _tmp/ */
    u_char                   *file;         /* its name in dir */
    ngx_str_t                 path;
    ngx_str_t                 digest;       /* the one asked for */
    off_t                     written;
    u_char                   *buf;          /* gathered, not written */
    size_t                    pending;
    time_t                    touched;      /* last written */
    ngx_oci_store_t          *store;
    unsigned                  busy:1;
} ngx_oci_fill_t;


typedef struct {
    ngx_fd_t                  fd;           /* the session's data file */
    ngx_str_t                 id;
    ngx_str_t                 name;         /* repository it belongs to */
    ngx_str_t                 data_path;
    ngx_str_t                 state_path;
    off_t                     offset;       /* bytes committed */
    off_t                     written;      /* offset + this request */
    off_t                     limit;        /* -1, or end of Content-Range */
    u_char                   *buf;          /* bytes gathered, not written */
    size_t                    pending;      /* the last of "written" */
    ngx_oci_sha2_t            sha;
    ngx_oci_store_t          *store;
} ngx_oci_upload_t;


/*
 * ngx_oci_store.c: paths and the primitives the parts below share; the
 * file_ ones take a path, the others a kind of path of the layout, its
 * repository name and its reference (a digest, tag or id)
 */
ngx_oci_store_root_t *ngx_oci_store_root_create(ngx_pool_t *pool,
    ngx_str_t *path);
ngx_int_t ngx_oci_store_path(ngx_oci_store_t *st, ngx_oci_layout_e what,
    ngx_str_t *name, ngx_str_t *ref, ngx_str_t *path);
ngx_int_t ngx_oci_store_exists(ngx_oci_store_t *st, ngx_oci_layout_e what,
    ngx_str_t *name, ngx_str_t *ref);
ngx_int_t ngx_oci_store_size(ngx_oci_store_t *st, ngx_oci_layout_e what,
    ngx_str_t *name, ngx_str_t *ref, off_t *size);
ngx_int_t ngx_oci_store_read(ngx_oci_store_t *st, ngx_oci_layout_e what,
    ngx_str_t *name, ngx_str_t *ref, ngx_str_t *out, size_t max);
ngx_int_t ngx_oci_store_unlink(ngx_oci_store_t *st, ngx_oci_layout_e what,
    ngx_str_t *name, ngx_str_t *ref);
ngx_int_t ngx_oci_store_parent(ngx_oci_store_t *st, ngx_str_t *path,
    ngx_uint_t create, ngx_fd_t *dir, u_char **name);
ngx_int_t ngx_oci_store_file_open(ngx_oci_store_t *st, ngx_str_t *path,
    int flags, mode_t mode, ngx_fd_t *fd);
ngx_int_t ngx_oci_store_file_stat(ngx_oci_store_t *st, ngx_str_t *path,
    ngx_file_info_t *fi);
ngx_int_t ngx_oci_store_dir_open(ngx_oci_store_t *st, ngx_str_t *path,
    ngx_dir_t *d);
ngx_int_t ngx_oci_store_file_exists(ngx_oci_store_t *st, ngx_str_t *path);
ngx_int_t ngx_oci_store_file_size(ngx_oci_store_t *st, ngx_str_t *path,
    off_t *size);
ngx_int_t ngx_oci_store_file_link(ngx_oci_store_t *st, ngx_str_t *from,
    ngx_str_t *to);
ngx_int_t ngx_oci_store_file_write(ngx_oci_store_t *st, ngx_str_t *path,
    u_char *data, size_t len, ngx_uint_t replace);
ngx_int_t ngx_oci_store_file_read(ngx_oci_store_t *st, ngx_str_t *path,
    ngx_str_t *out, size_t max);
ngx_int_t ngx_oci_store_file_unlink(ngx_oci_store_t *st, ngx_str_t *path);
ngx_int_t ngx_oci_store_file_rename(ngx_oci_store_t *st, ngx_str_t *from,
    ngx_str_t *to, ngx_fd_t *to_dir, u_char **to_name);
ngx_int_t ngx_oci_store_failed(ngx_oci_store_t *st, ngx_err_t err,
    const char *op, ngx_str_t *path);
void ngx_oci_store_no_xattr(ngx_oci_store_t *st);
ngx_int_t ngx_oci_store_lock_break(ngx_fd_t dir, u_char *file,
    ngx_file_info_t *stale, ngx_log_t *log);
ngx_int_t ngx_oci_store_random_hex(u_char *dst, size_t bytes);
ngx_int_t ngx_oci_store_digest(ngx_pool_t *pool, int alg, u_char *md,
    ngx_str_t *out);

/* ngx_oci_store_job.c: long work on a thread pool or in steps */
ngx_int_t ngx_oci_store_job_start(ngx_oci_store_t *st,
    ngx_oci_store_job_t *job);

/* ngx_oci_store_blob.c: a repository's links to blob content */
ngx_int_t ngx_oci_store_blob_path(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *digest, ngx_str_t *path);
ngx_int_t ngx_oci_store_blob_mount(ngx_oci_store_t *st, ngx_str_t *from,
    ngx_str_t *name, ngx_str_t *digest);
ngx_int_t ngx_oci_store_blob_publish(ngx_oci_store_t *st, ngx_str_t *file,
    ngx_str_t *name, ngx_str_t *digest);

/* ngx_oci_store_manifest.c: manifests and their media types */
ngx_int_t ngx_oci_store_manifest_locate(ngx_oci_store_t *st,
    ngx_str_t *name, ngx_str_t *digest, ngx_str_t *path, ngx_str_t *type);
ngx_int_t ngx_oci_store_manifest_open(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *digest, ngx_str_t *path, ngx_fd_t *fd, ngx_str_t *type);
ngx_int_t ngx_oci_store_manifest_type(ngx_oci_store_t *st, ngx_fd_t fd,
    ngx_str_t *name, ngx_str_t *digest, ngx_str_t *type);
ngx_int_t ngx_oci_store_manifest_save(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *digest, ngx_str_t *body, ngx_str_t *type, ngx_uint_t *added);
ngx_int_t ngx_oci_store_manifest_unlink(ngx_oci_store_t *st,
    ngx_str_t *name, ngx_str_t *digest);

/* ngx_oci_store_tag.c: tag files and the lock each one's changes take */
ngx_int_t ngx_oci_store_tag_list(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_array_t *tags);
ngx_int_t ngx_oci_store_tag_read(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *tag, ngx_str_t *digest);
ngx_int_t ngx_oci_store_tag_lock(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *tag, ngx_oci_tag_lock_t **lock);
void ngx_oci_store_tag_unlock(ngx_oci_tag_lock_t *lock);
ngx_uint_t ngx_oci_store_tag_lock_fresh(ngx_oci_tag_lock_t *lock);
ngx_int_t ngx_oci_store_tag_age(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *tag, ngx_str_t *digest, time_t *written);
ngx_int_t ngx_oci_store_tag_write(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *tag, ngx_str_t *digest);
ngx_int_t ngx_oci_store_tag_drop_digest(ngx_oci_store_t *st,
    ngx_str_t *name, ngx_str_t *digest, ngx_oci_tag_policy_t *policy,
    ngx_oci_store_done_pt done, void *owner);
ngx_int_t ngx_oci_store_tag_find_digest(ngx_oci_store_t *st,
    ngx_str_t *name, ngx_str_t *digest, ngx_oci_tag_policy_t *policy,
    ngx_str_t *found, ngx_oci_store_done_pt done, void *owner);
ngx_uint_t ngx_oci_store_tag_immutable(ngx_oci_tag_policy_t *policy,
    ngx_str_t *tag);
ngx_int_t ngx_oci_store_digest_lock(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *digest, ngx_oci_tag_lock_t **lock);
ngx_int_t ngx_oci_store_digest_locked(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *digest);

/* ngx_oci_store_referrers.c: rendered pages of the referrers API */
ngx_int_t ngx_oci_store_page_open(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *subject, ngx_str_t *page, ngx_oci_store_page_t *pg);
ngx_int_t ngx_oci_store_page_dir(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *subject, ngx_fd_t *dir);
ngx_int_t ngx_oci_store_page_mkdir(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *subject);
ngx_int_t ngx_oci_store_page_publish(ngx_oci_store_t *st, ngx_fd_t dir,
    ngx_str_t *page, u_char *header, u_char *body, size_t len);
ngx_int_t ngx_oci_store_page_synced(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *subject, time_t *when);
ngx_int_t ngx_oci_store_page_sync(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *subject);
ngx_int_t ngx_oci_store_page_invalidate(ngx_oci_store_t *st,
    ngx_str_t *name, ngx_str_t *subject);

/* ngx_oci_store_fill.c: blobs fetched from an upstream */
ngx_int_t ngx_oci_store_fill_open(ngx_oci_store_t *st, ngx_str_t *digest,
    ngx_oci_fill_t **fill);
ngx_int_t ngx_oci_store_fill_append(ngx_oci_fill_t *f, u_char *p,
    size_t len);
ngx_int_t ngx_oci_store_fill_publish(ngx_oci_fill_t *f, ngx_str_t *name);
void ngx_oci_store_fill_abandon(ngx_oci_fill_t *f);

/* ngx_oci_store_upload.c: upload sessions */
ngx_int_t ngx_oci_store_upload_create(ngx_oci_store_t *st, ngx_str_t *name,
    int alg, ngx_oci_upload_caps_t *caps, ngx_oci_upload_t **up);
ngx_int_t ngx_oci_store_upload_open(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *id, time_t timeout, ngx_oci_upload_t **up);
ngx_int_t ngx_oci_store_upload_lock(ngx_oci_upload_t *u, time_t timeout);
ngx_int_t ngx_oci_store_upload_append(ngx_oci_upload_t *u, u_char *p,
    size_t len);
ngx_int_t ngx_oci_store_upload_commit(ngx_oci_upload_t *u);
ngx_int_t ngx_oci_store_upload_digest(ngx_oci_upload_t *u,
    ngx_str_t *digest);
ngx_int_t ngx_oci_store_upload_rehash(ngx_oci_upload_t *u, int alg,
    ngx_oci_store_done_pt done, void *owner);
ngx_int_t ngx_oci_store_upload_publish(ngx_oci_upload_t *u,
    ngx_str_t *digest);
void ngx_oci_store_upload_release(ngx_oci_upload_t *u);
ngx_int_t ngx_oci_store_upload_remove(ngx_oci_upload_t *u);
ngx_int_t ngx_oci_store_upload_sweep(ngx_oci_upload_sweep_t *sw,
    ngx_log_t *log, ngx_str_t *root, ngx_msec_t timeout, ngx_uint_t max);


#endif /* _NGX_OCI_STORE_H_INCLUDED_ */
