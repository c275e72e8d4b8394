
/*
 * Tags: a tag is a file "_tags/<tag>" holding the digest it points to,
 * replaced by rename(). Changes to the tags of a repository are made while
 * holding flock() on "_tags/.lock", so a conditional update reads and
 * replaces the tag with nobody in between. The lock is held for a few
 * system calls and never across events: it is only ever tried (LOCK_NB),
 * and whoever finds it taken retries later instead of waiting.
 */


#include "ngx_oci_store.h"
#include "ngx_oci_grammar.h"

#include <sys/file.h>


static ngx_int_t ngx_oci_store_tag_repo_exists(ngx_oci_store_t *st,
    ngx_str_t *name);
static ngx_int_t ngx_oci_store_tag_push(ngx_oci_store_t *st,
    ngx_array_t *tags, u_char *p, size_t len);


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

    if (ngx_open_dir(&dir, &d) == NGX_ERROR) {
        err = ngx_errno;

        if (err != NGX_ENOENT && err != NGX_ENOTDIR) {
            return ngx_oci_store_failed(st, err, "opendir()", &dir);
        }

        return ngx_oci_store_tag_repo_exists(st, name);
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
    ngx_str_t        dir;
    ngx_file_info_t  fi;

    if (ngx_oci_store_path(st, NGX_OCI_LAYOUT_REPO_BLOBS_DIR, name, NULL,
                           &dir)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_file_info(dir.data, &fi) != NGX_FILE_ERROR) {
        return NGX_OK;
    }

    if (ngx_oci_store_path(st, NGX_OCI_LAYOUT_MANIFESTS_DIR, name, NULL,
                           &dir)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_file_info(dir.data, &fi) != NGX_FILE_ERROR) {
        return NGX_OK;
    }

    return NGX_DECLINED;
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

    *fd = ngx_open_file(path.data, NGX_FILE_RDWR, NGX_FILE_CREATE_OR_OPEN,
                        0600);

    if (*fd == NGX_INVALID_FILE && ngx_errno == NGX_ENOENT) {
        if (ngx_create_full_path(path.data, 0700) != 0) {
            return ngx_oci_store_failed(st, ngx_errno, "mkdir", &path);
        }

        *fd = ngx_open_file(path.data, NGX_FILE_RDWR,
                            NGX_FILE_CREATE_OR_OPEN, 0600);
    }

    if (*fd == NGX_INVALID_FILE) {
        return ngx_oci_store_failed(st, ngx_errno, "open()", &path);
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


/* removes every tag of the repository that points to the digest */

ngx_int_t
ngx_oci_store_tag_drop_digest(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *digest)
{
    ngx_int_t     rc;
    ngx_str_t    *tag, current;
    ngx_uint_t    i;
    ngx_array_t   tags;

    if (ngx_array_init(&tags, st->pool, 16, sizeof(ngx_str_t)) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = ngx_oci_store_tag_list(st, name, &tags);
    if (rc != NGX_OK) {
        return rc == NGX_DECLINED ? NGX_OK : rc;
    }

    tag = tags.elts;

    for (i = 0; i < tags.nelts; i++) {
        rc = ngx_oci_store_tag_read(st, name, &tag[i], &current);

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

        rc = ngx_oci_store_unlink(st, NGX_OCI_LAYOUT_TAG, name, &tag[i]);
        if (rc == NGX_ERROR) {
            return rc;
        }
    }

    return NGX_OK;
}
