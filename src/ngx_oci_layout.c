
/*
 * Paths of the storage layout (ngx_oci_layout.h), built from a table:
 * each kind of path is a top directory, then optionally the repository
 * and a directory of its own, then the reference and a suffix.
 */


#include <string.h>

#include "ngx_oci_layout.h"


#define NGX_OCI_REF_NONE    0
#define NGX_OCI_REF_TEXT    1     /* "/<ref>": a tag or an id */
#define NGX_OCI_REF_DIGEST  2     /* "/<alg>/<hex>" */
#define NGX_OCI_REF_FANOUT  3     /* "/<alg>/<xx>/<hex>" */
#define NGX_OCI_REF_HIDDEN  4     /* "/.<ref>": no tag starts with "." */


/* a string and its length, known at compile time */
typedef struct {
    const char  *s;
    size_t       len;
} ngx_oci_layout_str_t;

#define S(str)  { str, sizeof(str) - 1 }
#define NONE    { "", 0 }


typedef struct {
    ngx_oci_layout_str_t  dir;
    int                   name;   /* "/<name>" follows dir */
    ngx_oci_layout_str_t  sub;    /* "/<sub>" after the name, if any */
    int                   ref;
    ngx_oci_layout_str_t  suffix;
} ngx_oci_layout_kind_t;


static inline u_char *ngx_oci_layout_add(u_char *p, u_char *end,
    const char *s, size_t len);
static u_char *ngx_oci_layout_ref(u_char *p, u_char *end, int kind,
    const u_char *ref, size_t ref_len);


#define R  S(NGX_OCI_LAYOUT_REPOS_DIR)

static const ngx_oci_layout_kind_t  ngx_oci_layout_kinds[] = {
    /* NGX_OCI_LAYOUT_BLOBS */
    { S(NGX_OCI_LAYOUT_BLOBS_DIR), 0, NONE, NGX_OCI_REF_NONE, NONE },
    /* NGX_OCI_LAYOUT_BLOB */
    { S(NGX_OCI_LAYOUT_BLOBS_DIR), 0, NONE, NGX_OCI_REF_FANOUT, NONE },
    /* NGX_OCI_LAYOUT_REPOS */
    { R, 0, NONE, NGX_OCI_REF_NONE, NONE },
    /* NGX_OCI_LAYOUT_REPO */
    { R, 1, NONE, NGX_OCI_REF_NONE, NONE },
    /* NGX_OCI_LAYOUT_REPO_BLOBS_DIR */
    { R, 1, S(NGX_OCI_LAYOUT_REPO_BLOBS), NGX_OCI_REF_NONE, NONE },
    /* NGX_OCI_LAYOUT_REPO_BLOB */
    { R, 1, S(NGX_OCI_LAYOUT_REPO_BLOBS), NGX_OCI_REF_DIGEST, NONE },
    /* NGX_OCI_LAYOUT_MANIFESTS_DIR */
    { R, 1, S(NGX_OCI_LAYOUT_REPO_MANIFESTS), NGX_OCI_REF_NONE, NONE },
    /* NGX_OCI_LAYOUT_MANIFEST */
    { R, 1, S(NGX_OCI_LAYOUT_REPO_MANIFESTS), NGX_OCI_REF_DIGEST, NONE },
    /* NGX_OCI_LAYOUT_MANIFEST_TYPE */
    { R, 1, S(NGX_OCI_LAYOUT_REPO_MANIFESTS), NGX_OCI_REF_DIGEST,
      S(NGX_OCI_LAYOUT_TYPE_SUFFIX) },
    /* NGX_OCI_LAYOUT_TAGS_DIR */
    { R, 1, S(NGX_OCI_LAYOUT_REPO_TAGS), NGX_OCI_REF_NONE, NONE },
    /* NGX_OCI_LAYOUT_TAG */
    { R, 1, S(NGX_OCI_LAYOUT_REPO_TAGS), NGX_OCI_REF_TEXT, NONE },
    /* NGX_OCI_LAYOUT_TAG_LOCK_FILE */
    { R, 1, S(NGX_OCI_LAYOUT_REPO_TAGS), NGX_OCI_REF_HIDDEN,
      S(NGX_OCI_LAYOUT_TAG_LOCK) },
    /* NGX_OCI_LAYOUT_DIGEST_LOCK_FILE: no tag has a ":" */
    { R, 1, S(NGX_OCI_LAYOUT_REPO_TAGS), NGX_OCI_REF_HIDDEN,
      S(NGX_OCI_LAYOUT_TAG_LOCK) },
    /* NGX_OCI_LAYOUT_UPLOADS */
    { S(NGX_OCI_LAYOUT_UPLOADS_DIR), 0, NONE, NGX_OCI_REF_NONE, NONE },
    /* NGX_OCI_LAYOUT_UPLOAD_DATA */
    { S(NGX_OCI_LAYOUT_UPLOADS_DIR), 0, NONE, NGX_OCI_REF_TEXT,
      S(NGX_OCI_LAYOUT_DATA_SUFFIX) },
    /* NGX_OCI_LAYOUT_UPLOAD_STATE */
    { S(NGX_OCI_LAYOUT_UPLOADS_DIR), 0, NONE, NGX_OCI_REF_TEXT,
      S(NGX_OCI_LAYOUT_STATE_SUFFIX) },
    /* NGX_OCI_LAYOUT_TMP */
    { S(NGX_OCI_LAYOUT_TMP_DIR), 0, NONE, NGX_OCI_REF_NONE, NONE },
    /* NGX_OCI_LAYOUT_TMP_FILE */
    { S(NGX_OCI_LAYOUT_TMP_DIR), 0, NONE, NGX_OCI_REF_TEXT, NONE },
    /* NGX_OCI_LAYOUT_QUARANTINE */
    { S(NGX_OCI_LAYOUT_QUARANTINE_DIR), 0, NONE, NGX_OCI_REF_NONE, NONE },
    /* NGX_OCI_LAYOUT_SLOTS */
    { S(NGX_OCI_LAYOUT_SLOTS_DIR), 0, NONE, NGX_OCI_REF_NONE, NONE },
    /* NGX_OCI_LAYOUT_SLOT */
    { S(NGX_OCI_LAYOUT_SLOTS_DIR "/" NGX_OCI_LAYOUT_SLOTS_ALL), 0, NONE,
      NGX_OCI_REF_TEXT, NONE },
    /* NGX_OCI_LAYOUT_REPO_SLOT */
    { S(NGX_OCI_LAYOUT_SLOTS_DIR), 1, S(NGX_OCI_LAYOUT_SLOTS_REPO),
      NGX_OCI_REF_TEXT, NONE }
};

#undef R
#undef S
#undef NONE


size_t
ngx_oci_layout_path(u_char *buf, size_t size, ngx_oci_layout_e what,
    const u_char *name, size_t name_len, const u_char *ref, size_t ref_len)
{
    u_char                       *p, *end;
    const ngx_oci_layout_kind_t  *k;

    if ((size_t) what >= sizeof(ngx_oci_layout_kinds)
                         / sizeof(ngx_oci_layout_kinds[0])
        || size == 0)
    {
        return 0;
    }

    k = &ngx_oci_layout_kinds[what];

    /* the last byte is kept for the NUL */

    p = buf;
    end = buf + size - 1;

    p = ngx_oci_layout_add(p, end, k->dir.s, k->dir.len);

    if (k->name) {
        p = ngx_oci_layout_add(p, end, "/", 1);
        p = ngx_oci_layout_add(p, end, (const char *) name, name_len);
    }

    if (k->sub.len) {
        p = ngx_oci_layout_add(p, end, "/", 1);
        p = ngx_oci_layout_add(p, end, k->sub.s, k->sub.len);
    }

    p = ngx_oci_layout_ref(p, end, k->ref, ref, ref_len);
    p = ngx_oci_layout_add(p, end, k->suffix.s, k->suffix.len);

    if (p == NULL) {
        return 0;
    }

    *p = '\0';

    return p - buf;
}


/* appends, or NULL when there is no room (or no p to begin with) */

static inline u_char *
ngx_oci_layout_add(u_char *p, u_char *end, const char *s, size_t len)
{
    if (p == NULL || (size_t) (end - p) < len) {
        return NULL;
    }

    memcpy(p, s, len);

    return p + len;
}


static u_char *
ngx_oci_layout_ref(u_char *p, u_char *end, int kind, const u_char *ref,
    size_t ref_len)
{
    size_t         alg_len, hex_len;
    const u_char  *colon, *hex;

    if (kind == NGX_OCI_REF_NONE) {
        return p;
    }

    p = ngx_oci_layout_add(p, end, "/", 1);

    if (kind == NGX_OCI_REF_HIDDEN) {
        p = ngx_oci_layout_add(p, end, ".", 1);
        kind = NGX_OCI_REF_TEXT;
    }

    if (kind == NGX_OCI_REF_TEXT) {
        return ngx_oci_layout_add(p, end, (const char *) ref, ref_len);
    }

    /* a digest: "<alg>:<hex>", at least two digits for the fan-out */

    colon = (ref != NULL) ? memchr(ref, ':', ref_len) : NULL;

    if (colon == NULL || colon == ref || ref + ref_len - colon - 1 < 2) {
        return NULL;
    }

    alg_len = colon - ref;
    hex = colon + 1;
    hex_len = ref + ref_len - hex;

    p = ngx_oci_layout_add(p, end, (const char *) ref, alg_len);
    p = ngx_oci_layout_add(p, end, "/", 1);

    if (kind == NGX_OCI_REF_FANOUT) {
        p = ngx_oci_layout_add(p, end, (const char *) hex, 2);
        p = ngx_oci_layout_add(p, end, "/", 1);
    }

    return ngx_oci_layout_add(p, end, (const char *) hex, hex_len);
}
