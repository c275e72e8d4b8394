
/*
 * Tags: the tag list endpoint, and tag files.
 *
 * A tag is a file "<repo>/_tags/<tag>" holding the digest it points to,
 * replaced by rename(). Changes to the tags of a repository are made while
 * holding flock() on "<repo>/_tags/.lock", so a conditional update reads
 * and replaces the tag with nobody in between. The lock is held for a few
 * system calls and never across events; a request that finds it taken
 * retries from a timer instead of waiting.
 */


#include "ngx_oci.h"

#include <sys/file.h>


#define NGX_OCI_RETRY_DELAY    2
#define NGX_OCI_RETRY_MAX      500


static ngx_int_t ngx_oci_tags_collect(ngx_http_request_t *r,
    ngx_str_t *name, ngx_array_t *tags);
static ngx_int_t ngx_oci_tag_path(ngx_http_request_t *r, ngx_str_t *path,
    ngx_str_t *name, ngx_str_t *tag);
static int ngx_libc_cdecl ngx_oci_tag_cmp(const void *one, const void *two);
static void ngx_oci_retry_cleanup(void *data);
static void ngx_oci_retry_handler(ngx_event_t *ev);


ngx_int_t
ngx_oci_tags_handler(ngx_http_request_t *r)
{
    size_t               len;
    ngx_uint_t           n;
    ngx_int_t            rc;
    ngx_str_t            name, last, *tag, link;
    ngx_buf_t           *b;
    ngx_uint_t           i, first, count, more;
    ngx_array_t          tags;
    ngx_oci_ctx_t       *ctx;
    ngx_oci_loc_conf_t  *olcf;

    static ngx_str_t  json = ngx_string("application/json");

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_oci_error(r, NGX_HTTP_NOT_ALLOWED, NGX_OCI_ERR_UNSUPPORTED,
                             "the tag list answers GET and HEAD");
    }

    ctx = ngx_oci_get_ctx(r);
    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    name.data = (u_char *) ctx->route.name;
    name.len = ctx->route.name_len;

    n = olcf->tags_page_size;

    if (ngx_oci_arg_count(r, olcf->tags_page_size, &n) == NGX_ERROR) {
        return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST, NGX_OCI_ERR_UNSUPPORTED,
                             "?n= must be a non-negative integer");
    }

    ngx_str_null(&last);
    (void) ngx_oci_arg(r, "last", &last);

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_array_init(&tags, r->pool, 16, sizeof(ngx_str_t)) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_oci_tags_collect(r, &name, &tags);

    if (rc == NGX_DECLINED) {
        return ngx_oci_error(r, NGX_HTTP_NOT_FOUND, NGX_OCI_ERR_NAME_UNKNOWN,
                             NULL);
    }

    if (rc != NGX_OK) {
        return rc;
    }

    tag = tags.elts;
    ngx_qsort(tag, tags.nelts, sizeof(ngx_str_t), ngx_oci_tag_cmp);

    /* "last" is exclusive: start after it */

    for (first = 0; last.len && first < tags.nelts; first++) {
        if (ngx_oci_tag_cmp(&tag[first], &last) > 0) {
            break;
        }
    }

    count = ngx_min(tags.nelts - first, n);
    more = (first + count < tags.nelts && count > 0);

    len = sizeof("{\"name\":\"\",\"tags\":[]}\n") - 1 + name.len;
    for (i = first; i < first + count; i++) {
        len += tag[i].len + 3;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_sprintf(b->last, "{\"name\":\"%V\",\"tags\":[", &name);

    for (i = first; i < first + count; i++) {
        b->last = ngx_sprintf(b->last, "%s\"%V\"", i == first ? "" : ",",
                              &tag[i]);
    }

    b->last = ngx_cpymem(b->last, "]}\n", 3);

    if (more) {
        link.data = ngx_pnalloc(r->pool, sizeof("</v2//tags/list?n=&last=>; "
                                                "rel=\"next\"") - 1
                                         + name.len + NGX_INT64_LEN
                                         + tag[first + count - 1].len);
        if (link.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        link.len = ngx_sprintf(link.data, "</v2/%V/tags/list?n=%ui&last=%V>; "
                               "rel=\"next\"", &name, n,
                               &tag[first + count - 1])
                   - link.data;

        if (ngx_oci_add_header(r, "Link", &link) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_oci_send_body(r, NGX_HTTP_OK, &json, b);
}


static ngx_int_t
ngx_oci_tags_collect(ngx_http_request_t *r, ngx_str_t *name,
    ngx_array_t *tags)
{
    u_char           *p;
    size_t            len;
    ngx_err_t         err;
    ngx_str_t         dir, *tag;
    ngx_dir_t         d;
    ngx_file_info_t   fi;

    if (ngx_oci_path(r, &dir, "/repositories/%V/_tags", name) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_open_dir(&dir, &d) == NGX_ERROR) {
        err = ngx_errno;

        if (err != NGX_ENOENT && err != NGX_ENOTDIR) {
            return ngx_oci_storage_error(r, err, "opendir()", &dir);
        }

        /*
         * A repository without tags still exists if it holds content; a
         * directory that only leads to deeper repositories does not.
         */

        if (ngx_oci_path(r, &dir, "/repositories/%V/_blobs", name)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ngx_file_info(dir.data, &fi) != NGX_FILE_ERROR) {
            return NGX_OK;
        }

        if (ngx_oci_path(r, &dir, "/repositories/%V/_manifests", name)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ngx_file_info(dir.data, &fi) != NGX_FILE_ERROR) {
            return NGX_OK;
        }

        return NGX_DECLINED;
    }

    for ( ;; ) {
        ngx_set_errno(0);

        if (ngx_read_dir(&d) == NGX_ERROR) {
            err = ngx_errno;

            (void) ngx_close_dir(&d);

            if (err == NGX_ENOMOREFILES) {
                return NGX_OK;
            }

            return ngx_oci_storage_error(r, err, "readdir()", &dir);
        }

        p = ngx_de_name(&d);
        len = ngx_de_namelen(&d);

        /* ".lock" and temporary files are not tags */

        if (!ngx_oci_tag_valid(p, len)) {
            continue;
        }

        tag = ngx_array_push(tags);
        if (tag == NULL) {
            (void) ngx_close_dir(&d);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        tag->data = ngx_pnalloc(r->pool, len);
        if (tag->data == NULL) {
            (void) ngx_close_dir(&d);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(tag->data, p, len);
        tag->len = len;
    }
}


static int ngx_libc_cdecl
ngx_oci_tag_cmp(const void *one, const void *two)
{
    ngx_int_t         rc;
    const ngx_str_t  *a = one, *b = two;

    rc = ngx_memcmp(a->data, b->data, ngx_min(a->len, b->len));

    if (rc != 0) {
        return rc;
    }

    return (int) a->len - (int) b->len;
}


static ngx_int_t
ngx_oci_tag_path(ngx_http_request_t *r, ngx_str_t *path, ngx_str_t *name,
    ngx_str_t *tag)
{
    return ngx_oci_path(r, path, "/repositories/%V/_tags/%V", name, tag);
}


/* NGX_OK with the digest, NGX_DECLINED when there is no such tag */

ngx_int_t
ngx_oci_tag_read(ngx_http_request_t *r, ngx_str_t *name, ngx_str_t *tag,
    ngx_str_t *digest)
{
    ngx_int_t  rc;
    ngx_str_t  path;

    if (ngx_oci_tag_path(r, &path, name, tag) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_oci_read_small(r, &path, digest, 7 + 128 + 1);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_oci_digest_parse(digest->data, digest->len, NULL, NULL, NULL)
        != NGX_OCI_DIGEST_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oci: tag file \"%V\" does not hold a digest", &path);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* NGX_OK with the lock held, NGX_BUSY, or an HTTP status */

ngx_int_t
ngx_oci_tag_lock(ngx_http_request_t *r, ngx_str_t *name, ngx_fd_t *fd)
{
    ngx_err_t  err;
    ngx_str_t  path;

    if (ngx_oci_path(r, &path, "/repositories/%V/_tags/.lock", name)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    *fd = ngx_open_file(path.data, NGX_FILE_RDWR, NGX_FILE_CREATE_OR_OPEN,
                        0600);

    if (*fd == NGX_INVALID_FILE && ngx_errno == NGX_ENOENT) {
        if (ngx_create_full_path(path.data, 0700) != 0) {
            return ngx_oci_storage_error(r, ngx_errno, "mkdir", &path);
        }

        *fd = ngx_open_file(path.data, NGX_FILE_RDWR,
                            NGX_FILE_CREATE_OR_OPEN, 0600);
    }

    if (*fd == NGX_INVALID_FILE) {
        return ngx_oci_storage_error(r, ngx_errno, "open()", &path);
    }

    if (flock(*fd, LOCK_EX|LOCK_NB) == -1) {
        err = ngx_errno;
        ngx_close_file(*fd);
        *fd = NGX_INVALID_FILE;

        return err == EWOULDBLOCK
               ? NGX_BUSY : ngx_oci_storage_error(r, err, "flock()", &path);
    }

    return NGX_OK;
}


void
ngx_oci_tag_unlock(ngx_fd_t fd)
{
    if (fd != NGX_INVALID_FILE) {
        ngx_close_file(fd);
    }
}


ngx_int_t
ngx_oci_tag_write(ngx_http_request_t *r, ngx_str_t *name, ngx_str_t *tag,
    ngx_str_t *digest)
{
    ngx_str_t  path;

    if (ngx_oci_tag_path(r, &path, name, tag) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_oci_write_file(r, &path, digest->data, digest->len, 1);
}


/* NGX_OK, NGX_DECLINED when there is no such tag, or an HTTP status */

ngx_int_t
ngx_oci_tag_remove(ngx_http_request_t *r, ngx_str_t *name, ngx_str_t *tag)
{
    ngx_str_t  path;

    if (ngx_oci_tag_path(r, &path, name, tag) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_delete_file(path.data) == NGX_FILE_ERROR) {
        if (ngx_errno == NGX_ENOENT || ngx_errno == NGX_ENOTDIR) {
            return NGX_DECLINED;
        }

        return ngx_oci_storage_error(r, ngx_errno, "unlink()", &path);
    }

    return NGX_OK;
}


/* removes every tag of the repository that points to the digest */

ngx_int_t
ngx_oci_tags_drop_digest(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *digest)
{
    ngx_int_t     rc;
    ngx_str_t    *tag, current;
    ngx_uint_t    i;
    ngx_array_t   tags;

    if (ngx_array_init(&tags, r->pool, 16, sizeof(ngx_str_t)) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_oci_tags_collect(r, name, &tags);
    if (rc != NGX_OK) {
        return rc == NGX_DECLINED ? NGX_OK : rc;
    }

    tag = tags.elts;

    for (i = 0; i < tags.nelts; i++) {
        rc = ngx_oci_tag_read(r, name, &tag[i], &current);

        if (rc == NGX_DECLINED) {
            continue;
        }

        if (rc != NGX_OK) {
            return rc;
        }

        if (current.len != digest->len
            || ngx_strncmp(current.data, digest->data, digest->len) != 0)
        {
            continue;
        }

        rc = ngx_oci_tag_remove(r, name, &tag[i]);
        if (rc != NGX_OK && rc != NGX_DECLINED) {
            return rc;
        }
    }

    return NGX_OK;
}


/*
 * Runs the handler again from a timer: used when another worker holds
 * the tag lock for its few system calls.
 */

ngx_int_t
ngx_oci_retry_later(ngx_http_request_t *r,
    ngx_int_t (*handler)(ngx_http_request_t *r))
{
    ngx_oci_ctx_t       *ctx;
    ngx_pool_cleanup_t  *cln;

    static ngx_str_t  retry = ngx_string("1");

    ctx = ngx_oci_get_ctx(r);

    if (ctx->retries == 0) {

        /* a request that goes away must not leave its timer behind */

        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        cln->handler = ngx_oci_retry_cleanup;
        cln->data = &ctx->retry;
    }

    if (++ctx->retries > NGX_OCI_RETRY_MAX) {
        if (ngx_oci_add_header(r, "Retry-After", &retry) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_oci_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                             NGX_OCI_ERR_UNAVAILABLE,
                             "the repository's tags stayed locked");
    }

    ctx->retry_handler = handler;
    ctx->retry.handler = ngx_oci_retry_handler;
    ctx->retry.data = r;
    ctx->retry.log = r->connection->log;

    ngx_add_timer(&ctx->retry, NGX_OCI_RETRY_DELAY);

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_oci_retry_cleanup(void *data)
{
    ngx_event_t  *ev = data;

    if (ev->timer_set) {
        ngx_del_timer(ev);
    }
}


static void
ngx_oci_retry_handler(ngx_event_t *ev)
{
    ngx_connection_t    *c;
    ngx_oci_ctx_t       *ctx;
    ngx_http_request_t  *r;

    r = ev->data;
    c = r->connection;
    ctx = ngx_http_get_module_ctx(r, ngx_oci_module);

    ngx_http_finalize_request(r, ctx->retry_handler(r));
    ngx_http_run_posted_requests(c);
}
