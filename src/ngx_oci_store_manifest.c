
/*
 * Manifests: the content is a blob in blobs/, the repository holds a hard
 * link to it in _manifests/ and, beside the link, a ".type" file with the
 * media type it was pushed with. The type file is written before the link
 * and removed before it, so whoever finds the link finds its type.
 */


#include "ngx_oci_store.h"


/* a media type is two parts of at most 127 bytes and a "/" */
#define NGX_OCI_TYPE_FILE_MAX  256


static ngx_int_t ngx_oci_store_manifest_paths(ngx_oci_store_t *st,
    ngx_str_t *name, ngx_str_t *digest, ngx_str_t *link, ngx_str_t *type);


static ngx_int_t
ngx_oci_store_manifest_paths(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *digest, ngx_str_t *link, ngx_str_t *type)
{
    if (ngx_oci_store_path(st, NGX_OCI_LAYOUT_MANIFEST, name, digest, link)
        != NGX_OK
        || ngx_oci_store_path(st, NGX_OCI_LAYOUT_MANIFEST_TYPE, name, digest,
                              type)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The path to serve a manifest from and its media type, NGX_DECLINED
 * when the repository has no such manifest. The type is read from disk
 * each time, not through the open file cache, so a deleted manifest is
 * gone at once.
 */

ngx_int_t
ngx_oci_store_manifest_locate(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *digest, ngx_str_t *path, ngx_str_t *type)
{
    ngx_str_t  type_path;

    if (ngx_oci_store_manifest_paths(st, name, digest, path, &type_path)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_oci_store_file_read(st, &type_path, type,
                              NGX_OCI_TYPE_FILE_MAX);
}


/*
 * Stores the manifest's bytes once in blobs/, its type, then the link
 * that makes it visible; *added tells whether the link is new, so a
 * caller that must withdraw the manifest knows it may.
 */

ngx_int_t
ngx_oci_store_manifest_save(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *digest, ngx_str_t *body, ngx_str_t *type, ngx_uint_t *added)
{
    ngx_int_t  rc;
    ngx_str_t  blob, link, type_path;

    if (ngx_oci_store_path(st, NGX_OCI_LAYOUT_BLOB, NULL, digest, &blob)
        != NGX_OK
        || ngx_oci_store_manifest_paths(st, name, digest, &link, &type_path)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_oci_store_file_exists(st, &blob);

    if (rc == NGX_DECLINED) {
        rc = ngx_oci_store_file_write(st, &blob, body->data, body->len, 0);
    }

    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_oci_store_file_write(st, &type_path, type->data, type->len, 1);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_oci_store_file_exists(st, &link);
    if (rc == NGX_ERROR) {
        return rc;
    }

    *added = (rc == NGX_DECLINED);

    return ngx_oci_store_file_link(st, &blob, &link);
}


/* NGX_OK, NGX_DECLINED when the repository has no such manifest */

ngx_int_t
ngx_oci_store_manifest_unlink(ngx_oci_store_t *st, ngx_str_t *name,
    ngx_str_t *digest)
{
    ngx_int_t  rc;
    ngx_str_t  link, type_path;

    if (ngx_oci_store_manifest_paths(st, name, digest, &link, &type_path)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_oci_store_file_unlink(st, &type_path);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_oci_store_file_unlink(st, &link);

    return rc == NGX_DECLINED ? NGX_OK : rc;
}
