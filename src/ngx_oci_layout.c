
/*
 * Paths of the storage layout (ngx_oci_layout.h).
 */


#include <stdio.h>
#include <string.h>

#include "ngx_oci_layout.h"


#define NGX_OCI_REPO_FMT  NGX_OCI_LAYOUT_REPOS_DIR "/%.*s/"


size_t
ngx_oci_layout_path(u_char *buf, size_t size, ngx_oci_layout_e what,
    const u_char *name, size_t name_len, const u_char *ref, size_t ref_len)
{
    int            n, nl, al, hl;
    const char    *nm, *alg, *hex;
    const u_char  *colon;

    nm = (const char *) name;
    nl = (int) name_len;

    alg = (const char *) ref;
    al = (int) ref_len;
    hex = NULL;
    hl = 0;

    colon = (ref != NULL) ? memchr(ref, ':', ref_len) : NULL;

    if (colon != NULL) {
        al = (int) (colon - ref);
        hex = (const char *) colon + 1;
        hl = (int) (ref + ref_len - colon - 1);
    }

    switch (what) {

    case NGX_OCI_LAYOUT_BLOB:
    case NGX_OCI_LAYOUT_REPO_BLOB:
    case NGX_OCI_LAYOUT_MANIFEST:
    case NGX_OCI_LAYOUT_MANIFEST_TYPE:
        if (hex == NULL || al == 0 || hl < 2) {
            return 0;
        }
        break;

    default:
        break;
    }

    switch (what) {

    case NGX_OCI_LAYOUT_BLOBS:
        n = snprintf((char *) buf, size, NGX_OCI_LAYOUT_BLOBS_DIR);
        break;

    case NGX_OCI_LAYOUT_BLOB:
        n = snprintf((char *) buf, size,
                     NGX_OCI_LAYOUT_BLOBS_DIR "/%.*s/%.2s/%.*s",
                     al, alg, hex, hl, hex);
        break;

    case NGX_OCI_LAYOUT_REPOS:
        n = snprintf((char *) buf, size, NGX_OCI_LAYOUT_REPOS_DIR);
        break;

    case NGX_OCI_LAYOUT_REPO:
        n = snprintf((char *) buf, size, NGX_OCI_LAYOUT_REPOS_DIR "/%.*s",
                     nl, nm);
        break;

    case NGX_OCI_LAYOUT_REPO_BLOBS_DIR:
        n = snprintf((char *) buf, size,
                     NGX_OCI_REPO_FMT NGX_OCI_LAYOUT_REPO_BLOBS, nl, nm);
        break;

    case NGX_OCI_LAYOUT_REPO_BLOB:
        n = snprintf((char *) buf, size,
                     NGX_OCI_REPO_FMT NGX_OCI_LAYOUT_REPO_BLOBS "/%.*s/%.*s",
                     nl, nm, al, alg, hl, hex);
        break;

    case NGX_OCI_LAYOUT_MANIFESTS_DIR:
        n = snprintf((char *) buf, size,
                     NGX_OCI_REPO_FMT NGX_OCI_LAYOUT_REPO_MANIFESTS, nl, nm);
        break;

    case NGX_OCI_LAYOUT_MANIFEST:
    case NGX_OCI_LAYOUT_MANIFEST_TYPE:
        n = snprintf((char *) buf, size,
                     NGX_OCI_REPO_FMT NGX_OCI_LAYOUT_REPO_MANIFESTS
                     "/%.*s/%.*s%s",
                     nl, nm, al, alg, hl, hex,
                     what == NGX_OCI_LAYOUT_MANIFEST_TYPE
                     ? NGX_OCI_LAYOUT_TYPE_SUFFIX : "");
        break;

    case NGX_OCI_LAYOUT_TAGS_DIR:
        n = snprintf((char *) buf, size,
                     NGX_OCI_REPO_FMT NGX_OCI_LAYOUT_REPO_TAGS, nl, nm);
        break;

    case NGX_OCI_LAYOUT_TAG:
        n = snprintf((char *) buf, size,
                     NGX_OCI_REPO_FMT NGX_OCI_LAYOUT_REPO_TAGS "/%.*s",
                     nl, nm, (int) ref_len, (const char *) ref);
        break;

    case NGX_OCI_LAYOUT_TAG_LOCK_FILE:
        n = snprintf((char *) buf, size,
                     NGX_OCI_REPO_FMT NGX_OCI_LAYOUT_REPO_TAGS "/"
                     NGX_OCI_LAYOUT_TAG_LOCK, nl, nm);
        break;

    case NGX_OCI_LAYOUT_UPLOADS:
        n = snprintf((char *) buf, size, NGX_OCI_LAYOUT_UPLOADS_DIR);
        break;

    case NGX_OCI_LAYOUT_UPLOAD_DATA:
    case NGX_OCI_LAYOUT_UPLOAD_STATE:
        n = snprintf((char *) buf, size,
                     NGX_OCI_LAYOUT_UPLOADS_DIR "/%.*s%s",
                     (int) ref_len, (const char *) ref,
                     what == NGX_OCI_LAYOUT_UPLOAD_DATA
                     ? NGX_OCI_LAYOUT_DATA_SUFFIX
                     : NGX_OCI_LAYOUT_STATE_SUFFIX);
        break;

    case NGX_OCI_LAYOUT_TMP:
        n = snprintf((char *) buf, size, NGX_OCI_LAYOUT_TMP_DIR);
        break;

    case NGX_OCI_LAYOUT_TMP_FILE:
        n = snprintf((char *) buf, size, NGX_OCI_LAYOUT_TMP_DIR "/%.*s",
                     (int) ref_len, (const char *) ref);
        break;

    case NGX_OCI_LAYOUT_QUARANTINE:
        n = snprintf((char *) buf, size, NGX_OCI_LAYOUT_QUARANTINE_DIR);
        break;

    default:
        return 0;
    }

    return (n < 0 || (size_t) n >= size) ? 0 : (size_t) n;
}
