
/*
 * oci-admin: referrers and fallback tags in the storage
 * (oci_admin_referrers.h).
 */


#include <string.h>

#include "oci_admin_message.h"
#include "oci_admin_referrers.h"


#define OCI_ADMIN_FALLBACK_LEN  (OCI_ADMIN_ALG_LEN + 64)


static int oci_admin_fallback_named(oci_admin_repo_t *repo,
    oci_admin_digest_t *d, const char *prefix, oci_admin_digest_t *s);
static int oci_admin_index_lists(oci_admin_manifest_t *index,
    oci_admin_digest_t *d);


int
oci_admin_fallback_tag_valid(const char *tag)
{
    size_t  i;

    if (strlen(tag) != OCI_ADMIN_FALLBACK_LEN
        || (strncmp(tag, "sha256-", OCI_ADMIN_ALG_LEN) != 0
            && strncmp(tag, "sha512-", OCI_ADMIN_ALG_LEN) != 0))
    {
        return 0;
    }

    for (i = OCI_ADMIN_ALG_LEN; tag[i]; i++) {
        if (!((tag[i] >= '0' && tag[i] <= '9')
              || (tag[i] >= 'a' && tag[i] <= 'f')))
        {
            return 0;
        }
    }

    return 1;
}


void
oci_admin_fallback_tag(oci_admin_digest_t *subject, char *tag)
{
    memcpy(tag, subject->str, OCI_ADMIN_FALLBACK_LEN);
    tag[OCI_ADMIN_ALG_LEN - 1] = '-';
    tag[OCI_ADMIN_FALLBACK_LEN] = '\0';
}


int
oci_admin_fallback_load(oci_admin_repo_t *repo, const char *tag,
    oci_admin_manifest_t *index)
{
    oci_admin_digest_t  d;

    memset(index, 0, sizeof(oci_admin_manifest_t));

    if (oci_admin_tag_read(repo, tag, &d) != OCI_ADMIN_OK
        || oci_admin_manifest_load(repo, &d, index) != OCI_ADMIN_OK
        || index->m.kind != NGX_OCI_MT_OCI_INDEX)
    {
        return OCI_ADMIN_MISSING;
    }

    return OCI_ADMIN_OK;
}


int
oci_admin_fallback_subject(oci_admin_repo_t *repo, const char *tag,
    oci_admin_manifest_t *index, oci_admin_digest_t *s)
{
    int                 rc, found;
    char                prefix[OCI_ADMIN_FALLBACK_LEN + 1];
    char                path[OCI_ADMIN_PATH_LEN];
    size_t              i, n;
    oci_admin_digest_t  d, c;

    memcpy(prefix, tag, sizeof(prefix));
    prefix[OCI_ADMIN_ALG_LEN - 1] = ':';

    if (strncmp(tag, "sha256-", OCI_ADMIN_ALG_LEN) == 0) {
        return oci_admin_digest_set(s, prefix, sizeof(prefix) - 1) == 0
               ? OCI_ADMIN_OK : OCI_ADMIN_SKIP;
    }

    rc = oci_admin_manifest_find(repo, prefix, s);

    if (rc == OCI_ADMIN_OK || rc == OCI_ADMIN_ERROR) {
        return rc;
    }

    found = (rc == OCI_ADMIN_CORRUPT) ? -1 : 0;
    n = json_array_size(index->m.manifests);

    for (i = 0; found >= 0 && i < n; i++) {
        if (oci_admin_manifest_child(index, i, &d) != 0
            || oci_admin_fallback_named(repo, &d, prefix, &c) != 0)
        {
            continue;
        }

        if (found && strcmp(c.str, s->str) != 0) {
            found = -1;

        } else {
            *s = c;
            found = 1;
        }
    }

    if (found > 0) {
        return OCI_ADMIN_OK;
    }

    if (oci_admin_repo_layout(path, repo, NGX_OCI_LAYOUT_TAG, tag) > 0) {
        oci_admin_warn("%s: %s sha512 subject it lists referrers of, "
                       "skipped", path,
                       found ? "cannot tell which" : "found no");
    }

    return OCI_ADMIN_SKIP;
}


/* the subject of the manifest d, when it starts with prefix: 0, or -1 */

static int
oci_admin_fallback_named(oci_admin_repo_t *repo, oci_admin_digest_t *d,
    const char *prefix, oci_admin_digest_t *s)
{
    int                    rc;
    size_t                 len;
    oci_admin_manifest_t   mf;

    len = strlen(prefix);

    rc = oci_admin_manifest_load(repo, d, &mf) == OCI_ADMIN_OK
         && oci_admin_manifest_subject(&mf, s) == 0
         && s->len > len && memcmp(s->str, prefix, len) == 0 ? 0 : -1;

    oci_admin_manifest_free(&mf);

    return rc;
}


int
oci_admin_referrer_load(oci_admin_repo_t *repo, oci_admin_digest_t *subject,
    oci_admin_digest_t *d, oci_admin_manifest_t *mf)
{
    int                    rc;
    char                   tag[OCI_ADMIN_FALLBACK_LEN + 1];
    oci_admin_digest_t     s;
    oci_admin_manifest_t   index;

    rc = oci_admin_manifest_load(repo, d, mf);

    if (rc != OCI_ADMIN_OK) {
        return rc == OCI_ADMIN_ERROR ? OCI_ADMIN_ERROR : OCI_ADMIN_MISSING;
    }

    if (oci_admin_manifest_subject(mf, &s) == 0
        && strcmp(s.str, subject->str) == 0)
    {
        return OCI_ADMIN_OK;
    }

    /* or listed by the subject's fallback tag */

    oci_admin_fallback_tag(subject, tag);

    rc = oci_admin_fallback_load(repo, tag, &index) == OCI_ADMIN_OK
         && oci_admin_index_lists(&index, d) ? OCI_ADMIN_OK
                                             : OCI_ADMIN_MISSING;

    oci_admin_manifest_free(&index);

    return rc;
}


static int
oci_admin_index_lists(oci_admin_manifest_t *index, oci_admin_digest_t *d)
{
    size_t              i, n;
    oci_admin_digest_t  e;

    n = json_array_size(index->m.manifests);

    for (i = 0; i < n; i++) {
        if (oci_admin_manifest_child(index, i, &e) == 0
            && strcmp(e.str, d->str) == 0)
        {
            return 1;
        }
    }

    return 0;
}
