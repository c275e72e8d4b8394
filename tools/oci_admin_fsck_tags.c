
/*
 * oci-admin fsck: tags (oci_admin_fsck_tags.h).
 */


#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "oci_admin_fsck_repair.h"
#include "oci_admin_fsck_tags.h"


static void oci_admin_fsck_tag(oci_admin_fsck_t *fx, oci_admin_repo_t *repo,
    const char *tag);
static int oci_admin_fsck_untag(oci_admin_fsck_t *fx, oci_admin_repo_t *repo,
    const char *tag, int rc, oci_admin_digest_t *d, char *action,
    size_t size);


void
oci_admin_fsck_tags(oci_admin_fsck_t *fx, oci_admin_repo_t *repo)
{
    int             rc;
    char            path[OCI_ADMIN_PATH_LEN];
    size_t          i;
    const char     *why;
    oci_admin_ls_t  ls;

    rc = oci_admin_tags_ls(repo, &ls);
    if (rc != OCI_ADMIN_OK) {
        fx->errors += (rc == OCI_ADMIN_ERROR);
        return;
    }

    for (i = 0; i < ls.n; i++) {
        switch (oci_admin_tag_kind(&ls.e[i], &why)) {

        case OCI_ADMIN_TAG:
            oci_admin_fsck_tag(fx, repo, ls.e[i].name);
            break;

        case OCI_ADMIN_TAG_STRAY:
            if (oci_admin_repo_layout(path, repo, NGX_OCI_LAYOUT_TAG,
                                      ls.e[i].name)
                > 0)
            {
                oci_admin_fsck_stray(fx, oci_admin_rel(fx->opt.storage, path),
                                     why);
            }

            break;

        default: /* the lock */
            break;
        }
    }

    oci_admin_ls_free(&ls);
}


static void
oci_admin_fsck_tag(oci_admin_fsck_t *fx, oci_admin_repo_t *repo,
    const char *tag)
{
    int                 rc, outcome;
    char                action[2 * OCI_ADMIN_PATH_LEN];
    oci_admin_digest_t  d;

    fx->tags++;

    rc = oci_admin_tag_read(repo, tag, &d);

    if (rc == OCI_ADMIN_ERROR) {
        fx->errors++;
        return;
    }

    if (rc == OCI_ADMIN_MISSING
        || (rc == OCI_ADMIN_OK && oci_admin_manifest_stored(repo, &d)))
    {
        return;
    }

    outcome = OCI_FSCK_NOT_TRIED;
    action[0] = '\0';

    if (fx->repair) {
        outcome = oci_admin_fsck_untag(fx, repo, tag, rc, &d, action,
                                       sizeof(action));
    }

    if (rc == OCI_ADMIN_OK) {
        oci_admin_fsck_problem(fx, OCI_FSCK_DANGLING_TAG, repo->name, tag,
                               outcome, action,
                               "points to %s, which is not stored", d.str);

    } else {
        oci_admin_fsck_problem(fx, OCI_FSCK_BAD_TAG, repo->name, tag,
                               outcome, action, "does not hold a digest");
    }
}


/*
 * As the module changes tags: under its lock, if the tag still reads as
 * it did (rc and d).  The outcome, action saying what was done.
 */

static int
oci_admin_fsck_untag(oci_admin_fsck_t *fx, oci_admin_repo_t *repo,
    const char *tag, int rc, oci_admin_digest_t *d, char *action,
    size_t size)
{
    int                 outcome;
    char                path[OCI_ADMIN_PATH_LEN];
    const char         *rel;
    oci_admin_digest_t  again;

    if (oci_admin_repo_layout(path, repo, NGX_OCI_LAYOUT_TAG, tag) < 0) {
        snprintf(action, size, "path too long");
        return OCI_FSCK_FAILED;
    }

    rel = oci_admin_rel(fx->opt.storage, path);

    if (oci_admin_tag_lock(repo, tag) != 0) {
        snprintf(action, size, "cannot lock the tag");
        return OCI_FSCK_FAILED;
    }

    outcome = OCI_FSCK_FAILED;

    if (oci_admin_tag_read(repo, tag, &again) != rc
        || (rc == OCI_ADMIN_OK
            && (strcmp(again.str, d->str) != 0
                || oci_admin_manifest_stored(repo, &again))))
    {
        snprintf(action, size, "it changed meanwhile");

    } else if (rc == OCI_ADMIN_OK) {
        if (unlink(path) == 0) {
            outcome = OCI_FSCK_REPAIRED;
            snprintf(action, size, "removed");

        } else {
            snprintf(action, size, "unlink(): %s", strerror(errno));
        }

    } else {
        outcome = oci_admin_fsck_quarantine(fx, rel, action, size);
    }

    oci_admin_tag_unlock(repo, tag);

    return outcome;
}
