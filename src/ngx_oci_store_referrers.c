
/*
 * Rendered pages of the referrers API, cached as files in the directory
 * of their (repository, subject) pair, so that a page asked for again is
 * an open and a sendfile (docs/referrers.md, "The page cache").
 *
 * A page is published into a descriptor of the pair's directory opened
 * before the index was read; a writer invalidates the pair after its
 * index update by renaming the directory away into _tmp/ (then removed
 * by a job): a reader that read the index before the update publishes
 * into the dead directory, and no page older than the update survives.
 */


#include "ngx_oci_store.h"


/* entries removed per step when the job runs in steps */
#define NGX_OCI_PAGES_STEP      64

/* rmdir() tries, against readers still publishing into the dead directory */
#define NGX_OCI_PAGES_PASSES    8


typedef struct {
    ngx_pool_t               *pool;
    ngx_oci_store_job_t       job;
    ngx_fd_t                  tmp_dir;      /* _tmp/ */
    u_char                    name[48];     /* the directory in it */
    ngx_str_t                 path;         /* for the log */
    DIR                      *dir;
    ngx_uint_t                passes;
} ngx_oci_store_pages_drop_t;


/*
 * A page this small or smaller is read whole and answered from memory:
 * ten referrers take about 2.5 KiB; larger pages are sent by sendfile
 */
#define NGX_OCI_STORE_PAGE_READ  4096


static ngx_int_t ngx_oci_store_page_path(ngx_oci_store_t *st,
    ngx_str_t *name, ngx_str_t *subject, ngx_str_t *page,
    ngx_str_t *path);
static ngx_int_t ngx_oci_store_pages_drop_step(ngx_oci_store_job_t *job);
static void ngx_oci_store_pages_dropped(ngx_oci_store_job_t *job);


/* "<root>/repositories/<name>/_referrers/<alg>/<hex>/<page>" */

static ngx_int_t
ngx_oci_store_page_path(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *subject, ngx_str_t *page, ngx_str_t *path)
{
    u_char     *p;
    ngx_str_t   dir;

    if (ngx_oci_store_path(st, NGX_OCI_LAYOUT_REFERRERS_DIR, name, subject,
                           &dir)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(st->pool, dir.len + 1 + page->len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    path->data = p;
    p = ngx_cpymem(p, dir.data, dir.len);
    *p++ = '/';
    p = ngx_cpymem(p, page->data, page->len);
    *p = '\0';
    path->len = p - path->data;

    return NGX_OK;
}


/*
 * A cached page: read whole when it fits in NGX_OCI_STORE_PAGE_READ (one
 * pread(), the descriptor closed at once), else open (closed with the
 * pool) with its header read. NGX_OK; NGX_DECLINED when it is not cached
 * (or not a regular file, or its header is damaged: it is then rendered
 * again and replaced); NGX_ERROR.
 */

ngx_int_t
ngx_oci_store_page_open(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *subject, ngx_str_t *page, ngx_oci_store_page_t *pg)
{
    u_char                   *buf;
    ssize_t                   n;
    ngx_fd_t                  fd;
    ngx_int_t                 rc;
    ngx_err_t                 err;
    ngx_str_t                 path;
    ngx_file_info_t           fi;
    ngx_pool_cleanup_t       *cln;
    ngx_pool_cleanup_file_t  *clnf;

    if (ngx_oci_store_page_path(st, name, subject, page, &path) != NGX_OK) {
        return NGX_ERROR;
    }

    buf = ngx_pnalloc(st->pool, NGX_OCI_STORE_PAGE_READ);
    cln = ngx_pool_cleanup_add(st->pool, sizeof(ngx_pool_cleanup_file_t));

    if (buf == NULL || cln == NULL) {
        return NGX_ERROR;
    }

    /* O_NONBLOCK: a FIFO planted in the layout must not block the worker */

    rc = ngx_oci_store_file_open(st, &path, O_RDONLY|O_NONBLOCK, 0, &fd);
    if (rc != NGX_OK) {
        return rc;
    }

    cln->handler = ngx_pool_cleanup_file;
    clnf = cln->data;
    clnf->fd = fd;
    clnf->name = path.data;
    clnf->log = st->log;

    pg->fd = fd;
    pg->path = path;
    pg->body = NULL;

    n = pread(fd, buf, NGX_OCI_STORE_PAGE_READ, 0);

    if (n == -1) {
        err = ngx_errno;

        /* a directory or a FIFO where the layout has a page */

        if (err == NGX_EISDIR || err == ESPIPE) {
            return NGX_DECLINED;
        }

        return ngx_oci_store_failed(st, err, "pread()", &path);
    }

    if (n < NGX_OCI_LAYOUT_PAGE_HEADER) {
        return NGX_DECLINED;
    }

    if (ngx_oci_layout_page_parse(buf, n, &pg->page) != 0) {
        ngx_log_error(NGX_LOG_ERR, st->log, 0,
                      "oci: cached referrers page \"%V\" is damaged, "
                      "rendered again", &path);
        return NGX_DECLINED;
    }

    pg->offset = NGX_OCI_LAYOUT_PAGE_HEADER;

    if (n < NGX_OCI_STORE_PAGE_READ) {

        /* the whole page: no fstat(), and the answer is sent from memory */

        pg->body = buf + NGX_OCI_LAYOUT_PAGE_HEADER;
        pg->size = n - NGX_OCI_LAYOUT_PAGE_HEADER;

        return NGX_OK;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        return ngx_oci_store_failed(st, ngx_errno, "fstat()", &path);
    }

    if (!ngx_is_file(&fi)) {
        return NGX_DECLINED;
    }

    pg->size = ngx_file_size(&fi) - NGX_OCI_LAYOUT_PAGE_HEADER;

    return NGX_OK;
}


/*
 * The pair's directory of pages, when it exists: opened (closed with the
 * pool) before the index is read, to publish into. NGX_OK, NGX_DECLINED
 * (absent, or a link: logged), NGX_ERROR.
 */

ngx_int_t
ngx_oci_store_page_dir(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *subject, ngx_fd_t *dir)
{
    ngx_int_t                 rc;
    ngx_str_t                 path;
    ngx_pool_cleanup_t       *cln;
    ngx_pool_cleanup_file_t  *clnf;

    if (ngx_oci_store_path(st, NGX_OCI_LAYOUT_REFERRERS_DIR, name, subject,
                           &path)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(st->pool, sizeof(ngx_pool_cleanup_file_t));
    if (cln == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_oci_store_file_open(st, &path, O_RDONLY|O_DIRECTORY, 0, dir);
    if (rc != NGX_OK) {
        return rc;
    }

    cln->handler = ngx_pool_cleanup_file;
    clnf = cln->data;
    clnf->fd = *dir;
    clnf->name = path.data;
    clnf->log = st->log;

    return NGX_OK;
}


/*
 * Makes the pair's directory, for the readers that come next: the one
 * that makes it publishes nothing into it, since it read the index
 * before the directory was there.
 */

ngx_int_t
ngx_oci_store_page_mkdir(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *subject)
{
    u_char     *last;
    ngx_fd_t    dir;
    ngx_str_t   path, page;

    ngx_str_set(&page, "x");

    if (ngx_oci_store_page_path(st, name, subject, &page, &path) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the parent of a page in it, made with its missing directories */

    if (ngx_oci_store_parent(st, &path, 1, &dir, &last) != NGX_OK) {
        return NGX_ERROR;
    }

    (void) close(dir);

    return NGX_OK;
}


/*
 * Writes the page (header, then body) under a temporary name of the
 * directory "dir" and renames it in place. NGX_DECLINED when the
 * directory has been removed meanwhile (invalidated: nothing to do).
 */

ngx_int_t
ngx_oci_store_page_publish(ngx_oci_store_t *st, ngx_fd_t dir,
    ngx_str_t *page, u_char *header, u_char *body, size_t len)
{
    u_char        tmp[sizeof(NGX_OCI_LAYOUT_PAGE_TMP) + 32], name[128];
    ssize_t       n;
    ngx_fd_t      fd;
    ngx_err_t     err;
    ngx_str_t     what;
    struct iovec  iov[2];

    if (page->len >= sizeof(name)) {
        return NGX_ERROR;
    }

    ngx_memcpy(name, page->data, page->len);
    name[page->len] = '\0';

    ngx_memcpy(tmp, NGX_OCI_LAYOUT_PAGE_TMP,
               sizeof(NGX_OCI_LAYOUT_PAGE_TMP) - 1);

    if (ngx_oci_store_random_hex(tmp + sizeof(NGX_OCI_LAYOUT_PAGE_TMP) - 1,
                                 16)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    tmp[sizeof(tmp) - 1] = '\0';

    what.data = name;
    what.len = page->len;

    fd = openat(dir, (char *) tmp,
                O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, 0644);
    if (fd == -1) {
        err = ngx_errno;

        /* a dead directory takes no new entry */

        if (err == NGX_ENOENT) {
            return NGX_DECLINED;
        }

        return ngx_oci_store_failed(st, err, "open() of a page for", &what);
    }

    iov[0].iov_base = header;
    iov[0].iov_len = NGX_OCI_LAYOUT_PAGE_HEADER;
    iov[1].iov_base = body;
    iov[1].iov_len = len;

    n = writev(fd, iov, 2);
    err = ngx_errno;

    ngx_close_file(fd);

    if (n != (ssize_t) (NGX_OCI_LAYOUT_PAGE_HEADER + len)) {
        (void) unlinkat(dir, (char *) tmp, 0);
        return ngx_oci_store_failed(st, n < 0 ? err : NGX_ENOSPC,
                                    "write() of a page for", &what);
    }

    /* a link or anything else planted under the page's name is replaced */

    if (renameat(dir, (char *) tmp, dir, (char *) name) == -1) {
        err = ngx_errno;
        (void) unlinkat(dir, (char *) tmp, 0);

        if (err == NGX_ENOENT) {
            return NGX_DECLINED;
        }

        return ngx_oci_store_failed(st, err, "rename() of a page to", &what);
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, st->log, 0,
                   "oci: referrers page %V published", &what);

    return NGX_OK;
}


/*
 * Every cached page of the pair goes: its directory is renamed into
 * _tmp/ at once (the pair's next reader finds none), then removed by a
 * job of its own, on "st"'s thread pool or in steps. NGX_OK also when
 * there was nothing cached; NGX_ERROR when the directory could not be
 * moved (logged: pages may be stale).
 */

ngx_int_t
ngx_oci_store_page_invalidate(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *subject)
{
    u_char                      *last, *tmp_name;
    ngx_fd_t                     dir;
    ngx_int_t                    rc;
    ngx_err_t                    err;
    ngx_str_t                    path, tmp, ref;
    ngx_pool_t                  *pool;
    ngx_oci_store_t              jst;
    ngx_oci_store_pages_drop_t  *d;

    if (ngx_oci_store_path(st, NGX_OCI_LAYOUT_REFERRERS_DIR, name, subject,
                           &path)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_oci_store_parent(st, &path, 0, &dir, &last);
    if (rc == NGX_DECLINED) {
        return NGX_OK;
    }

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    /* the work outlives the request: a pool of its own */

    pool = ngx_create_pool(1024, ngx_cycle->log);
    if (pool == NULL) {
        (void) close(dir);
        return NGX_ERROR;
    }

    d = ngx_pcalloc(pool, sizeof(ngx_oci_store_pages_drop_t));
    if (d == NULL) {
        goto failed;
    }

    d->pool = pool;
    d->tmp_dir = NGX_INVALID_FILE;

    ref.len = sizeof(NGX_OCI_LAYOUT_TMP_PAGES) - 1;
    ngx_memcpy(d->name, NGX_OCI_LAYOUT_TMP_PAGES, ref.len);

    if (ngx_oci_store_random_hex(d->name + ref.len, 16) != NGX_OK) {
        goto failed;
    }

    ref.len += 32;
    d->name[ref.len] = '\0';
    ref.data = d->name;

    if (ngx_oci_store_path(st, NGX_OCI_LAYOUT_TMP_FILE, NULL, &ref, &tmp)
        != NGX_OK
        || ngx_oci_store_parent(st, &tmp, 1, &d->tmp_dir, &tmp_name)
           != NGX_OK)
    {
        goto failed;
    }

    if (renameat(dir, (char *) last, d->tmp_dir, (char *) d->name) == -1) {
        err = ngx_errno;

        if (err == NGX_ENOENT) {
            (void) close(dir);
            (void) close(d->tmp_dir);
            ngx_destroy_pool(pool);
            return NGX_OK;
        }

        (void) ngx_oci_store_failed(st, err, "rename() to _tmp/ of", &path);
        goto failed;
    }

    (void) close(dir);
    dir = NGX_INVALID_FILE;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, st->log, 0,
                   "oci: referrers pages of %V invalidated", subject);

    d->path.data = ngx_pstrdup(pool, &tmp);
    d->path.len = d->path.data ? tmp.len : 0;

    d->job.step = ngx_oci_store_pages_drop_step;
    d->job.done = ngx_oci_store_pages_dropped;
    d->job.data = d;

    jst = *st;
    jst.pool = pool;
    jst.log = ngx_cycle->log;
    jst.root_open = 0;

    if (ngx_oci_store_job_start(&jst, &d->job) != NGX_OK) {

        /* moved already: what is left in _tmp/ harms no one */

        (void) close(d->tmp_dir);
        ngx_destroy_pool(pool);
    }

    return NGX_OK;

failed:

    if (dir != NGX_INVALID_FILE) {
        (void) close(dir);
    }

    if (d && d->tmp_dir != NGX_INVALID_FILE) {
        (void) close(d->tmp_dir);
    }

    ngx_destroy_pool(pool);

    return NGX_ERROR;
}


/*
 * Removes the files of the dead directory, then the directory: again
 * when a reader that held it published into it meanwhile, a few times.
 * Runs on a thread or from a timer: no pool, no shared state.
 */

static ngx_int_t
ngx_oci_store_pages_drop_step(ngx_oci_store_job_t *job)
{
    int                          fd;
    ngx_uint_t                   n;
    struct dirent               *de;
    ngx_oci_store_pages_drop_t  *d;

    d = job->data;

    if (d->dir == NULL) {
        fd = openat(d->tmp_dir, (char *) d->name,
                    O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC);
        if (fd == -1) {
            return NGX_OK;
        }

        d->dir = fdopendir(fd);
        if (d->dir == NULL) {
            (void) close(fd);
            return NGX_ERROR;
        }
    }

    de = NULL;

    for (n = 0; job->threaded || n < NGX_OCI_PAGES_STEP; n++) {

        ngx_set_errno(0);
        de = readdir(d->dir);

        if (de == NULL) {
            break;
        }

        if (de->d_name[0] == '.'
            && (de->d_name[1] == '\0'
                || (de->d_name[1] == '.' && de->d_name[2] == '\0')))
        {
            continue;
        }

        /* a directory planted here goes if empty; a link is removed itself */

        if (unlinkat(dirfd(d->dir), de->d_name, 0) == -1
            && ngx_errno == EISDIR)
        {
            (void) unlinkat(dirfd(d->dir), de->d_name, AT_REMOVEDIR);
        }
    }

    if (de != NULL) {
        return NGX_AGAIN;
    }

    (void) closedir(d->dir);
    d->dir = NULL;

    if (unlinkat(d->tmp_dir, (char *) d->name, AT_REMOVEDIR) == 0) {
        return NGX_OK;
    }

    if (ngx_errno == ENOTEMPTY && ++d->passes < NGX_OCI_PAGES_PASSES) {
        return NGX_AGAIN;
    }

    ngx_log_error(NGX_LOG_CRIT, job->log, ngx_errno,
                  "oci: removing \"%V\" failed", &d->path);

    return NGX_ERROR;
}


static void
ngx_oci_store_pages_dropped(ngx_oci_store_job_t *job)
{
    ngx_oci_store_pages_drop_t  *d;

    d = job->data;

    if (d->dir) {
        (void) closedir(d->dir);
    }

    (void) close(d->tmp_dir);
    ngx_destroy_pool(d->pool);
}


/*
 * When a mirror last fetched the pair's referrers from its upstream
 * (the mtime of the directory's NGX_OCI_LAYOUT_PAGE_SYNCED): NGX_OK,
 * NGX_DECLINED (never, or invalidated since), NGX_ERROR.
 */

ngx_int_t
ngx_oci_store_page_synced(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *subject, time_t *when)
{
    ngx_int_t        rc;
    ngx_str_t        page, path;
    ngx_file_info_t  fi;

    ngx_str_set(&page, NGX_OCI_LAYOUT_PAGE_SYNCED);

    if (ngx_oci_store_page_path(st, name, subject, &page, &path) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = ngx_oci_store_file_stat(st, &path, &fi);
    if (rc == NGX_OK) {
        *when = fi.st_mtime;
    }

    return rc;
}


/* the mark of a fetch of the pair's referrers, in a fresh directory */

ngx_int_t
ngx_oci_store_page_sync(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *subject)
{
    ngx_str_t  page, path;

    ngx_str_set(&page, NGX_OCI_LAYOUT_PAGE_SYNCED);

    if (ngx_oci_store_page_mkdir(st, name, subject) != NGX_OK
        || ngx_oci_store_page_path(st, name, subject, &page, &path)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_oci_store_file_write(st, &path, (u_char *) "", 0, 1);
}
