
/*
 * oci-admin: reading manifests, and what they refer to
 * (oci_admin_manifest.h).
 */


#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "oci_admin_array.h"
#include "oci_admin_digests.h"
#include "oci_admin_manifest.h"
#include "oci_admin_message.h"


typedef struct {
    const char          *prefix;
    size_t               len;
    int                  found;
    oci_admin_digest_t  *d;
} oci_admin_find_t;


static void oci_admin_manifest_type(oci_admin_repo_t *repo,
    oci_admin_digest_t *d, oci_admin_manifest_t *mf);
static int oci_admin_manifest_match(void *data, oci_admin_file_t *f);
static int oci_admin_refs_add(oci_admin_strings_t *l, json_t *d);
static int oci_admin_refs_add_all(oci_admin_strings_t *l, json_t *array);
static void oci_admin_refs_list_free(oci_admin_strings_t *l);


int
oci_admin_manifest_read(oci_admin_repo_t *repo, oci_admin_digest_t *d,
    oci_admin_manifest_t *mf)
{
    int   rc;
    char  path[OCI_ADMIN_PATH_LEN], hex[2 * NGX_OCI_SHA2_MAX_SIZE + 1];

    memset(mf, 0, sizeof(oci_admin_manifest_t));

    if (oci_admin_repo_layout(path, repo, NGX_OCI_LAYOUT_MANIFEST, d->str)
        < 0)
    {
        snprintf(mf->reason, sizeof(mf->reason), "path too long");
        return OCI_ADMIN_ERROR;
    }

    rc = oci_admin_read(path, OCI_ADMIN_MANIFEST_MAX, &mf->st, &mf->data,
                        &mf->len, mf->reason, sizeof(mf->reason));
    if (rc != OCI_ADMIN_OK) {
        return rc;
    }

    oci_admin_hash(d->alg, mf->data, mf->len, hex);

    mf->hash_ok = (strcmp(hex, oci_admin_digest_hex(d)) == 0);
    snprintf(mf->actual, sizeof(mf->actual), "%s:%s",
             oci_admin_digest_alg(d), hex);

    oci_admin_manifest_type(repo, d, mf);

    mf->attr_rc = oci_admin_xattr_get(path, NGX_OCI_LAYOUT_TYPE_XATTR,
                                      mf->attr, OCI_ADMIN_TYPE_LEN,
                                      &mf->attr_len);
    mf->attr[mf->attr_rc == OCI_ADMIN_OK ? mf->attr_len : 0] = '\0';

    mf->parse_rc = ngx_oci_manifest_parse(mf->data, mf->len,
                                          mf->type_rc == OCI_ADMIN_OK
                                          ? (u_char *) mf->type : NULL,
                                          mf->type_len, &mf->m);

    return OCI_ADMIN_OK;
}


/* the media type: missing, unusable, or a Content-Type to parse with */

static void
oci_admin_manifest_type(oci_admin_repo_t *repo, oci_admin_digest_t *d,
    oci_admin_manifest_t *mf)
{
    char     path[OCI_ADMIN_PATH_LEN], reason[256];
    u_char  *type;
    size_t   len, start;

    if (oci_admin_repo_layout(path, repo, NGX_OCI_LAYOUT_MANIFEST_TYPE,
                              d->str)
        < 0)
    {
        mf->type_rc = OCI_ADMIN_ERROR;
        snprintf(mf->reason, sizeof(mf->reason), "path too long");
        return;
    }

    mf->type_rc = oci_admin_read(path, OCI_ADMIN_TYPE_LEN + 1, &mf->type_st,
                                 &type, &len, reason, sizeof(reason));

    if (mf->type_rc == OCI_ADMIN_MISSING) {
        snprintf(mf->reason, sizeof(mf->reason),
                 "no " NGX_OCI_LAYOUT_TYPE_SUFFIX " file");
        return;
    }

    if (mf->type_rc != OCI_ADMIN_OK) {
        snprintf(mf->reason, sizeof(mf->reason),
                 NGX_OCI_LAYOUT_TYPE_SUFFIX ": %s", reason);
        return;
    }

    len = oci_admin_trim(type, len, &start);

    if (len == 0 || len > OCI_ADMIN_TYPE_LEN) {
        mf->type_rc = OCI_ADMIN_CORRUPT;
        snprintf(mf->reason, sizeof(mf->reason),
                 "the " NGX_OCI_LAYOUT_TYPE_SUFFIX " file does not hold a "
                 "media type");

    } else {
        memcpy(mf->type, type + start, len);
        mf->type[len] = '\0';
        mf->type_len = len;
    }

    free(type);
}


int
oci_admin_manifest_mark(oci_admin_repo_t *repo, oci_admin_digest_t *d,
    const char *type, size_t len)
{
    int     rc;
    char    path[OCI_ADMIN_PATH_LEN], attr[OCI_ADMIN_TYPE_LEN];
    size_t  n;

    if (oci_admin_repo_layout(path, repo, NGX_OCI_LAYOUT_MANIFEST, d->str)
        < 0)
    {
        errno = ENAMETOOLONG;
        return -1;
    }

    if (oci_admin_xattr_set(path, NGX_OCI_LAYOUT_TYPE_XATTR, type, len,
                            XATTR_CREATE)
        == 0)
    {
        return 0;
    }

    if (errno != EEXIST) {
        return -1;
    }

    rc = oci_admin_xattr_get(path, NGX_OCI_LAYOUT_TYPE_XATTR, attr,
                             sizeof(attr), &n);

    if (rc == OCI_ADMIN_OK && (n == 0 || (n == len && memcmp(attr, type, n)
                                                      == 0)))
    {
        return 0;
    }

    return oci_admin_xattr_set(path, NGX_OCI_LAYOUT_TYPE_XATTR, "", 0, 0);
}


int
oci_admin_manifest_load(oci_admin_repo_t *repo, oci_admin_digest_t *d,
    oci_admin_manifest_t *mf)
{
    int  rc;

    rc = oci_admin_manifest_read(repo, d, mf);

    if (rc != OCI_ADMIN_OK) {
        return rc;
    }

    if (mf->type_rc != OCI_ADMIN_OK) {
        return mf->type_rc;
    }

    if (!mf->hash_ok) {
        snprintf(mf->reason, sizeof(mf->reason), "the content is %s",
                 mf->actual);
        return OCI_ADMIN_CORRUPT;
    }

    if (mf->parse_rc != NGX_OCI_MANIFEST_OK) {
        snprintf(mf->reason, sizeof(mf->reason), "not a valid %s: %s",
                 mf->type, mf->m.error);
        return OCI_ADMIN_CORRUPT;
    }

    return OCI_ADMIN_OK;
}


void
oci_admin_manifest_free(oci_admin_manifest_t *mf)
{
    ngx_oci_manifest_free(&mf->m);

    free(mf->data);

    mf->data = NULL;
    mf->len = 0;
}


void
oci_admin_manifest_warn(oci_admin_repo_t *repo, oci_admin_digest_t *d,
    const char *what, const char *reason)
{
    char  path[OCI_ADMIN_PATH_LEN];

    if (oci_admin_repo_layout(path, repo, NGX_OCI_LAYOUT_MANIFEST, d->str)
        < 0)
    {
        (void) oci_admin_path(path, "%s: %s", repo->path, d->str);
    }

    oci_admin_warn("%s: %s%s", path, what, reason);
}


int
oci_admin_manifest_subject(oci_admin_manifest_t *mf, oci_admin_digest_t *s)
{
    size_t         len;
    const u_char  *p;

    if (mf->m.subject == NULL
        || ngx_oci_descriptor_digest(mf->m.subject, &p, &len, NULL)
           != NGX_OCI_DIGEST_OK)
    {
        return -1;
    }

    return oci_admin_digest_set(s, (const char *) p, len);
}


int
oci_admin_manifest_child(oci_admin_manifest_t *mf, size_t i,
    oci_admin_digest_t *d)
{
    size_t         len;
    const u_char  *p;

    if (ngx_oci_descriptor_digest(json_array_get(mf->m.manifests, i), &p,
                                  &len, NULL)
        != NGX_OCI_DIGEST_OK)
    {
        return -1;
    }

    return oci_admin_digest_set(d, (const char *) p, len);
}


int
oci_admin_manifest_find(oci_admin_repo_t *repo, const char *prefix,
    oci_admin_digest_t *d)
{
    uint64_t          errors;
    oci_admin_find_t  find;

    if (strchr(prefix, ':') == NULL) {
        return OCI_ADMIN_MISSING;
    }

    find.prefix = prefix;
    find.len = strlen(prefix);
    find.found = 0;
    find.d = d;

    errors = 0;

    (void) oci_admin_digests(repo->root, repo, NGX_OCI_LAYOUT_MANIFESTS_DIR,
                             oci_admin_manifest_match, &find, &errors);

    if (errors) {
        return OCI_ADMIN_ERROR;
    }

    return find.found == 0 ? OCI_ADMIN_MISSING
           : find.found == 1 ? OCI_ADMIN_OK : OCI_ADMIN_CORRUPT;
}


static int
oci_admin_manifest_match(void *data, oci_admin_file_t *f)
{
    oci_admin_find_t  *find = data;

    if (f->kind != OCI_ADMIN_FILE_DIGEST
        || strncmp(f->d.str, find->prefix, find->len) != 0)
    {
        return OCI_ADMIN_OK;
    }

    *find->d = f->d;

    /* a second one is enough to tell */

    return ++find->found < 2 ? OCI_ADMIN_OK : OCI_ADMIN_ABORT;
}


int
oci_admin_refs_get(ngx_oci_manifest_t *m, oci_admin_refs_t *refs)
{
    size_t         len;
    const u_char  *p;

    memset(refs, 0, sizeof(oci_admin_refs_t));

    if ((m->config && oci_admin_refs_add(&refs->blobs, m->config) != 0)
        || oci_admin_refs_add_all(&refs->blobs, m->layers) != 0
        || oci_admin_refs_add_all(&refs->children, m->manifests) != 0)
    {
        goto nomem;
    }

    if (m->subject
        && ngx_oci_descriptor_digest(m->subject, &p, &len, NULL)
           == NGX_OCI_DIGEST_OK)
    {
        refs->subject = strndup((const char *) p, len);
        if (refs->subject == NULL) {
            goto nomem;
        }
    }

    return 0;

nomem:

    oci_admin_refs_free(refs);

    return -1;
}


void
oci_admin_refs_free(oci_admin_refs_t *refs)
{
    oci_admin_refs_list_free(&refs->blobs);
    oci_admin_refs_list_free(&refs->children);

    free(refs->subject);

    memset(refs, 0, sizeof(oci_admin_refs_t));
}


/* 0, also for a descriptor without a usable digest; -1 out of memory */

static int
oci_admin_refs_add(oci_admin_strings_t *l, json_t *d)
{
    char          *s, **a;
    size_t         len;
    const u_char  *p;

    if (ngx_oci_descriptor_digest(d, &p, &len, NULL) != NGX_OCI_DIGEST_OK) {
        return 0;
    }

    a = oci_admin_array_room(l->s, l->n, &l->nalloc, sizeof(char *), 4);
    if (a == NULL) {
        return -1;
    }

    l->s = a;

    s = strndup((const char *) p, len);
    if (s == NULL) {
        return -1;
    }

    l->s[l->n++] = s;

    return 0;
}


/* the descriptors of a JSON array, which may be NULL */

static int
oci_admin_refs_add_all(oci_admin_strings_t *l, json_t *array)
{
    size_t  i;

    for (i = 0; i < json_array_size(array); i++) {
        if (oci_admin_refs_add(l, json_array_get(array, i)) != 0) {
            return -1;
        }
    }

    return 0;
}


static void
oci_admin_refs_list_free(oci_admin_strings_t *l)
{
    size_t  i;

    for (i = 0; i < l->n; i++) {
        free(l->s[i]);
    }

    free(l->s);
}
