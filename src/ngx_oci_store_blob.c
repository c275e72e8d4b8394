
/*
 * Blobs: content lives once in blobs/, and each repository that holds a
 * blob has a hard link to it in its _blobs/. Removing a repository's link
 * leaves the content to garbage collection.
 */


#include "ngx_oci_store.h"


/* the path nginx serves a repository's blob from */

ngx_int_t
ngx_oci_store_blob_path(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *digest, ngx_str_t *path)
{
    return ngx_oci_store_path(st, NGX_OCI_LAYOUT_REPO_BLOB, name, digest,
                              path);
}


/* links <from>'s blob into <name>: NGX_DECLINED when <from> lacks it */

ngx_int_t
ngx_oci_store_blob_mount(ngx_oci_store_t *st, ngx_str_t *from,
    ngx_str_t *name, ngx_str_t *digest)
{
    ngx_int_t  rc;
    ngx_str_t  src, dst;

    if (ngx_oci_store_blob_path(st, from, digest, &src) != NGX_OK
        || ngx_oci_store_blob_path(st, name, digest, &dst) != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_oci_store_file_exists(st, &src);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_oci_store_file_link(st, &src, &dst);
}


/*
 * A complete file whose content has the digest becomes the blob: linked
 * into blobs/ (where the first copy wins), then into the repository.
 */

ngx_int_t
ngx_oci_store_blob_publish(ngx_oci_store_t *st, ngx_str_t *file,
    ngx_str_t *name, ngx_str_t *digest)
{
    ngx_int_t  rc;
    ngx_str_t  blob, link;

    if (ngx_oci_store_path(st, NGX_OCI_LAYOUT_BLOB, NULL, digest, &blob)
        != NGX_OK
        || ngx_oci_store_blob_path(st, name, digest, &link) != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_oci_store_file_link(st, file, &blob);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_oci_store_file_link(st, &blob, &link);
}


