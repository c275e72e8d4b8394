
/*
 * Paths of the storage layout (ngx_oci_layout.h), built from a table:
 * each kind of path is a top directory, then optionally the repository
 * and a directory of its own, then the reference and a suffix.
 */


#include <string.h>

#include "ngx_oci_layout.h"
#include "ngx_oci_grammar.h"
#include "ngx_oci_sha2.h"


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
      NGX_OCI_REF_TEXT, NONE },
    /* NGX_OCI_LAYOUT_REFERRERS_ROOT */
    { R, 1, S(NGX_OCI_LAYOUT_REPO_REFERRERS), NGX_OCI_REF_NONE, NONE },
    /* NGX_OCI_LAYOUT_REFERRERS_DIR */
    { R, 1, S(NGX_OCI_LAYOUT_REPO_REFERRERS), NGX_OCI_REF_DIGEST, NONE }
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
        p = ngx_oci_layout_add(p, end, NGX_OCI_LAYOUT_HIDDEN,
                               sizeof(NGX_OCI_LAYOUT_HIDDEN) - 1);
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


/* "<v>\n" in decimal at p, which has room for 21 bytes */

static u_char *
ngx_oci_layout_decimal(u_char *p, size_t v)
{
    u_char  tmp[20], *t;

    t = tmp + sizeof(tmp);

    do {
        *--t = (u_char) ('0' + v % 10);
        v /= 10;
    } while (v);

    memcpy(p, t, tmp + sizeof(tmp) - t);
    p += tmp + sizeof(tmp) - t;
    *p++ = '\n';

    return p;
}


/*
 * The key is hashed with each part's length in front of it, so that no
 * two keys run into one another: "n", "last", then the filter (or none).
 * The lengths are decimal lines; no filter is the length SIZE_MAX and "-".
 * A read of a cached page computes this name: no printf on that path.
 */

size_t
ngx_oci_layout_page_name(u_char *buf, size_t size, size_t n,
    const u_char *last, size_t last_len, const u_char *type,
    size_t type_len)
{
    u_char                   num[3 * 21], md[64], *p;
    size_t                   i;
    ngx_oci_sha2_t           sha;
    static const char        hex[] = "0123456789abcdef";
    static const u_char      none[] = "-";

    if (size < NGX_OCI_LAYOUT_PAGE_NAME_LEN + 1) {
        return 0;
    }

    ngx_oci_sha2_init(&sha, NGX_OCI_SHA256);

    p = ngx_oci_layout_decimal(num, n);
    p = ngx_oci_layout_decimal(p, last_len);
    p = ngx_oci_layout_decimal(p, type ? type_len : (size_t) -1);
    ngx_oci_sha2_update(&sha, num, p - num);

    if (last_len) {
        ngx_oci_sha2_update(&sha, last, last_len);
    }

    if (type && type_len) {
        ngx_oci_sha2_update(&sha, type, type_len);

    } else if (type == NULL) {
        ngx_oci_sha2_update(&sha, none, 1);
    }

    (void) ngx_oci_sha2_final(&sha, md);

    p = buf;
    memcpy(p, NGX_OCI_LAYOUT_PAGE_PREFIX,
           sizeof(NGX_OCI_LAYOUT_PAGE_PREFIX) - 1);
    p += sizeof(NGX_OCI_LAYOUT_PAGE_PREFIX) - 1;

    for (i = 0; i < 32; i++) {
        *p++ = hex[md[i] >> 4];
        *p++ = hex[md[i] & 0xf];
    }

    *p = '\0';

    return p - buf;
}


#define NGX_OCI_PAGE_ETAG  (sizeof(NGX_OCI_LAYOUT_PAGE_MAGIC) - 1)
#define NGX_OCI_PAGE_LAST  (NGX_OCI_PAGE_ETAG + 64 + 1)


int
ngx_oci_layout_page_header(u_char *buf, const u_char *etag,
    const u_char *last, size_t last_len)
{
    if (last && last_len > NGX_OCI_LAYOUT_PAGE_HEADER - 1 - NGX_OCI_PAGE_LAST)
    {
        return -1;
    }

    memset(buf, ' ', NGX_OCI_LAYOUT_PAGE_HEADER);
    memcpy(buf, NGX_OCI_LAYOUT_PAGE_MAGIC, NGX_OCI_PAGE_ETAG);
    memcpy(buf + NGX_OCI_PAGE_ETAG, etag, 64);
    buf[NGX_OCI_PAGE_LAST - 1] = '\n';

    if (last) {
        memcpy(buf + NGX_OCI_PAGE_LAST, last, last_len);
    }

    buf[NGX_OCI_LAYOUT_PAGE_HEADER - 1] = '\n';

    return 0;
}


/*
 * Every read of a cached page parses its header: memchr(), memcmp() and
 * the digests' table, no branch per byte, where a byte loop was the
 * largest cost of the module's own in a page read.
 */

int
ngx_oci_layout_page_parse(const u_char *buf, size_t len,
    ngx_oci_layout_page_t *page)
{
    size_t         i;
    const u_char  *p, *end, *blank;

    if (len < NGX_OCI_LAYOUT_PAGE_HEADER
        || memcmp(buf, NGX_OCI_LAYOUT_PAGE_MAGIC, NGX_OCI_PAGE_ETAG) != 0
        || buf[NGX_OCI_PAGE_LAST - 1] != '\n'
        || buf[NGX_OCI_LAYOUT_PAGE_HEADER - 1] != '\n')
    {
        return -1;
    }

    memcpy(page->etag, buf + NGX_OCI_PAGE_ETAG, 64);

    if (!ngx_oci_lower_hex(page->etag, 64)) {
        return -1;
    }

    p = buf + NGX_OCI_PAGE_LAST;
    end = buf + NGX_OCI_LAYOUT_PAGE_HEADER - 1;

    blank = memchr(p, ' ', end - p);
    i = (blank != NULL) ? (size_t) (blank - p) : (size_t) (end - p);

    /* the rest is padding only: blank, and equal to itself one byte on */

    if (blank != NULL && memcmp(blank, blank + 1, end - blank - 1) != 0) {
        return -1;
    }

    page->last = NULL;
    page->last_len = 0;

    if (i == 0) {
        return 0;
    }

    if (ngx_oci_digest_parse(p, i, NULL, NULL, NULL) != NGX_OCI_DIGEST_OK) {
        return -1;
    }

    page->last = p;
    page->last_len = i;

    return 0;
}
