
/*
 * Sending stored content: nginx's own static file path. The open file
 * cache, sendfile, ranges and conditional requests all apply, so a pull
 * costs what a static file costs.
 */


#include "ngx_oci_http.h"


/* a file without ranges this small is sent from memory: a manifest */
#define NGX_OCI_SEND_MEMORY_MAX  4096

/* the size under which nginx's open file code asks for no read ahead */
#define NGX_OCI_MIN_READ_AHEAD  (128 * 1024)


static ngx_int_t ngx_oci_send_opened(ngx_http_request_t *r, ngx_str_t *path,
    ngx_fd_t fd, ngx_open_file_info_t *of);
static ngx_int_t ngx_oci_send_open(ngx_http_request_t *r, ngx_str_t *path,
    ngx_http_core_loc_conf_t *clcf, ngx_open_file_info_t *of);
static ngx_int_t ngx_oci_send_prepare(ngx_http_request_t *r,
    ngx_str_t *path, ngx_fd_t fd, ngx_open_file_info_t *of);
static ngx_int_t ngx_oci_send_opened_file(ngx_http_request_t *r,
    ngx_str_t *path, ngx_open_file_info_t *of, ngx_str_t *content_type,
    ngx_str_t *digest, ngx_uint_t ranges);
static ngx_int_t ngx_oci_send_small(ngx_http_request_t *r, ngx_fd_t fd,
    ngx_str_t *path, off_t size);
static ngx_int_t ngx_oci_send_region(ngx_http_request_t *r, ngx_fd_t fd,
    ngx_str_t *path, off_t offset, off_t size, ngx_uint_t directio);


/*
 * Whether this location keeps an open file cache: then a file to send is
 * opened through it, as nginx's static module would; otherwise storage
 * opens it (one openat2() from the worker's root descriptor) and hands
 * the descriptor to ngx_oci_send_file().
 */

ngx_uint_t
ngx_oci_send_cached(ngx_http_request_t *r)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    return clcf->open_file_cache != NULL;
}


/*
 * Sends "path": "fd" is its descriptor as storage opened it (this
 * function closes it with the request), or NGX_INVALID_FILE to open it
 * through the open file cache. NGX_DECLINED when the file does not
 * exist, else a handler result.
 */

ngx_int_t
ngx_oci_send_file(ngx_http_request_t *r, ngx_str_t *path, ngx_fd_t fd,
    ngx_str_t *content_type, ngx_str_t *digest, ngx_uint_t ranges)
{
    ngx_int_t             rc;
    ngx_open_file_info_t  of;

    rc = ngx_oci_send_prepare(r, path, fd, &of);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_oci_send_opened_file(r, path, &of, content_type, digest,
                                    ranges);
}


/*
 * Sends "path" opened through the open file cache, with the media type
 * "type_of" reads on the cached descriptor (NGX_DECLINED from it: the
 * file is not there). The type is left in "type". NGX_DECLINED when the
 * file does not exist, else a handler result.
 */

ngx_int_t
ngx_oci_send_cached_typed(ngx_http_request_t *r, ngx_str_t *path,
    ngx_oci_send_type_pt type_of, ngx_str_t *type, ngx_str_t *digest)
{
    ngx_int_t             rc;
    ngx_open_file_info_t  of;

    rc = ngx_oci_send_prepare(r, path, NGX_INVALID_FILE, &of);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = type_of(r, of.fd, type);

    if (rc == NGX_ERROR) {
        return ngx_oci_error_storage(r);
    }

    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_oci_send_opened_file(r, path, &of, type, digest, 0);
}


/* "fd" taken over, or "path" opened through the cache; the body read */

static ngx_int_t
ngx_oci_send_prepare(ngx_http_request_t *r, ngx_str_t *path, ngx_fd_t fd,
    ngx_open_file_info_t *of)
{
    ngx_int_t                  rc;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (fd != NGX_INVALID_FILE) {
        rc = ngx_oci_send_opened(r, path, fd, of);

    } else {
        rc = ngx_oci_send_open(r, path, clcf, of);
    }

    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_discard_request_body(r);
}


static ngx_int_t
ngx_oci_send_opened_file(ngx_http_request_t *r, ngx_str_t *path,
    ngx_open_file_info_t *of, ngx_str_t *content_type, ngx_str_t *digest,
    ngx_uint_t ranges)
{
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = of->size;
    r->headers_out.last_modified_time = of->mtime;
    r->headers_out.content_type = *content_type;
    r->headers_out.content_type_len = content_type->len;

    /* content never changes under a digest: it is the strongest ETag */

    if (ngx_oci_set_etag(r, digest) != NGX_OK
        || ngx_oci_add_header(r, "Docker-Content-Digest", digest) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->allow_ranges = ranges ? 1 : 0;

    if (!ranges && of->size > 0 && of->size <= NGX_OCI_SEND_MEMORY_MAX
        && !of->is_directio)
    {
        return ngx_oci_send_small(r, of->fd, path, of->size);
    }

    return ngx_oci_send_region(r, of->fd, path, 0, of->size, of->is_directio);
}


/*
 * A small file without ranges (a manifest) read whole after the header
 * and sent from memory: one pread() where sendfile takes a sendfile()
 * and two setsockopt() around it for TCP_CORK.
 */

static ngx_int_t
ngx_oci_send_small(ngx_http_request_t *r, ngx_fd_t fd, ngx_str_t *path,
    off_t size)
{
    ssize_t      n;
    ngx_int_t    rc;
    ngx_buf_t   *b;
    ngx_chain_t  out;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    /* HEAD and 304 stop above: only a body to send is read */

    b = ngx_create_temp_buf(r->pool, (size_t) size);
    if (b == NULL) {
        return NGX_ERROR;
    }

    n = pread(fd, b->pos, (size_t) size, 0);

    if (n != (ssize_t) size) {

        /* content files never change: one shorter than its size is damage */

        ngx_log_error(NGX_LOG_CRIT, r->connection->log,
                      n == -1 ? ngx_errno : 0,
                      "oci: pread() of %O bytes of \"%V\" returned %z",
                      size, path, n);
        return NGX_ERROR;
    }

    b->last = b->pos + n;
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/*
 * A part of a file storage opened already (it closes it with the pool):
 * "size" bytes from "offset", by sendfile where it is on. The endpoint
 * sets the ETag; nginx's not-modified filter answers If-None-Match.
 */

ngx_int_t
ngx_oci_send_part(ngx_http_request_t *r, ngx_fd_t fd, ngx_str_t *path,
    off_t offset, off_t size, ngx_str_t *content_type)
{
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = size;
    r->headers_out.content_type = *content_type;
    r->headers_out.content_type_len = content_type->len;

    return ngx_oci_send_region(r, fd, path, offset, size, 0);
}


/* the header, then "size" bytes of "fd" from "offset" as the whole body */

static ngx_int_t
ngx_oci_send_region(ngx_http_request_t *r, ngx_fd_t fd, ngx_str_t *path,
    off_t offset, off_t size, ngx_uint_t directio)
{
    ngx_int_t    rc;
    ngx_buf_t   *b;
    ngx_chain_t  out;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->file = ngx_pcalloc(r->pool, sizeof(ngx_file_t));
    if (b->file == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b->file_pos = offset;
    b->file_last = offset + size;
    b->in_file = size ? 1 : 0;
    b->last_buf = 1;
    b->last_in_chain = 1;
    b->file->fd = fd;
    b->file->name = *path;
    b->file->log = r->connection->log;
    b->file->directio = directio;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


ngx_int_t
ngx_oci_send_empty(ngx_http_request_t *r, ngx_uint_t status)
{
    ngx_int_t  rc;

    r->headers_out.status = status;
    r->headers_out.content_length_n = 0;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_send_special(r, NGX_HTTP_LAST);
}


ngx_int_t
ngx_oci_send_body(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *content_type, ngx_buf_t *b)
{
    ngx_int_t    rc;
    ngx_chain_t  out;

    r->headers_out.status = status;
    r->headers_out.content_length_n = b->last - b->pos;
    r->headers_out.content_type = *content_type;
    r->headers_out.content_type_len = content_type->len;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/*
 * A strong ETag, "<value>": nginx's not-modified filter then answers
 * If-None-Match with 304.
 */

ngx_int_t
ngx_oci_set_etag(ngx_http_request_t *r, ngx_str_t *value)
{
    u_char           *p;
    ngx_table_elt_t  *etag;

    etag = ngx_list_push(&r->headers_out.headers);
    if (etag == NULL) {
        return NGX_ERROR;
    }

    etag->hash = 1;
    ngx_str_set(&etag->key, "ETag");

    p = ngx_pnalloc(r->pool, value->len + 2);
    if (p == NULL) {
        return NGX_ERROR;
    }

    etag->value.data = p;
    etag->value.len = value->len + 2;

    *p++ = '"';
    p = ngx_cpymem(p, value->data, value->len);
    *p = '"';

    r->headers_out.etag = etag;

    return NGX_OK;
}


/*
 * A descriptor storage opened, closed with the request: what nginx's
 * static module does on a file it opens without a cache (fstat(), read
 * ahead, directio), and nothing more.
 */

static ngx_int_t
ngx_oci_send_opened(ngx_http_request_t *r, ngx_str_t *path, ngx_fd_t fd,
    ngx_open_file_info_t *of)
{
    ngx_file_info_t            fi;
    ngx_pool_cleanup_t        *cln;
    ngx_pool_cleanup_file_t   *clnf;
    ngx_http_core_loc_conf_t  *clcf;

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_pool_cleanup_file_t));
    if (cln == NULL) {
        ngx_close_file(fd);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_pool_cleanup_file;
    clnf = cln->data;
    clnf->fd = fd;
    clnf->name = path->data;
    clnf->log = r->connection->log;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_CRIT, r->connection->log, ngx_errno,
                      "oci: storage fstat() \"%V\" failed", path);
        return ngx_oci_error_storage(r);
    }

    /* a directory or a FIFO where the layout has a file */

    if (!ngx_is_file(&fi)) {
        return NGX_DECLINED;
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    ngx_memzero(of, sizeof(ngx_open_file_info_t));

    of->fd = fd;
    of->size = ngx_file_size(&fi);
    of->mtime = ngx_file_mtime(&fi);
    of->is_file = 1;

    if (clcf->read_ahead && of->size > NGX_OCI_MIN_READ_AHEAD) {
        (void) ngx_read_ahead(fd, clcf->read_ahead);
    }

    if (clcf->directio <= of->size) {
        if (ngx_directio_on(fd) == NGX_FILE_ERROR) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, ngx_errno,
                          ngx_directio_on_n " \"%V\" failed", path);

        } else {
            of->is_directio = 1;
        }
    }

    return NGX_OK;
}


/* through the open file cache, never following a link below the root */

static ngx_int_t
ngx_oci_send_open(ngx_http_request_t *r, ngx_str_t *path,
    ngx_http_core_loc_conf_t *clcf, ngx_open_file_info_t *of)
{
    ngx_oci_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    ngx_memzero(of, sizeof(ngx_open_file_info_t));

    of->read_ahead = clcf->read_ahead;
    of->directio = clcf->directio;
    of->valid = clcf->open_file_cache_valid;
    of->min_uses = clcf->open_file_cache_min_uses;
    of->errors = clcf->open_file_cache_errors;
    of->events = clcf->open_file_cache_events;

    /*
     * whatever the location's disable_symlinks says, no link below the
     * storage root is followed: nginx opens the root, then each component
     * after it with O_NOFOLLOW (openat)
     */

    if (path->len <= olcf->storage.len
        || ngx_strncmp(path->data, olcf->storage.data, olcf->storage.len)
           != 0
        || path->data[olcf->storage.len] != '/')
    {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "oci: \"%V\" is not below the storage root", path);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

#if (NGX_HAVE_OPENAT)
    of->disable_symlinks = NGX_DISABLE_SYMLINKS_ON;
    of->disable_symlinks_from = olcf->storage.len;
#else
#error ngx_oci_module needs openat(2) to refuse symbolic links in storage
#endif

    if (ngx_open_cached_file(clcf->open_file_cache, path, of, r->pool)
        != NGX_OK)
    {
        if (of->err == NGX_ENOENT) {
            return NGX_DECLINED;
        }

        if (of->err == NGX_ENOTDIR || of->err == NGX_ELOOP) {

            /* a link or another non-directory planted in the layout */

            ngx_log_error(NGX_LOG_ERR, r->connection->log, of->err,
                          "oci: storage path \"%V\" meets a symbolic link "
                          "or another non-directory, refused", path);
            return NGX_DECLINED;
        }

        ngx_log_error(NGX_LOG_CRIT, r->connection->log, of->err,
                      "oci: storage open() \"%V\" failed", path);

        return ngx_oci_error_storage(r);
    }

    if (!of->is_file) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}
