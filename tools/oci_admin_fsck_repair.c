
/*
 * oci-admin fsck: quarantine and temporary files (oci_admin_fsck_repair.h).
 */


#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "oci_admin_fs.h"
#include "oci_admin_fsck_repair.h"
#include "oci_admin_store.h"


static int oci_admin_fsck_move(oci_admin_fsck_t *fx, const char *rel);
static int oci_admin_fsck_quarantine_dir(oci_admin_fsck_t *fx);


int
oci_admin_fsck_quarantine(oci_admin_fsck_t *fx, const char *rel,
    char *action, size_t size)
{
    if (oci_admin_fsck_move(fx, rel) != 0) {
        snprintf(action, size, "%s", strerror(errno));
        return OCI_FSCK_FAILED;
    }

    snprintf(action, size, "moved to %s/%s", fx->quarantine, rel);

    return OCI_FSCK_REPAIRED;
}


/* 0, or -1 with errno */

static int
oci_admin_fsck_move(oci_admin_fsck_t *fx, const char *rel)
{
    char  from[OCI_ADMIN_PATH_LEN], path[OCI_ADMIN_PATH_LEN];

    if (!fx->quarantine_ready && oci_admin_fsck_quarantine_dir(fx) != 0) {
        return -1;
    }

    if (oci_admin_path(from, "%s/%s", fx->opt.storage, rel) < 0
        || oci_admin_path(path, "%s/%s/%s", fx->opt.storage, fx->quarantine,
                          rel)
           < 0)
    {
        errno = ENAMETOOLONG;
        return -1;
    }

    if (oci_admin_mkdirs(path) != 0 || rename(from, path) != 0) {
        return -1;
    }

    return 0;
}


/* "_quarantine/<time>", or with "-<n>" for a run of the same second */

static int
oci_admin_fsck_quarantine_dir(oci_admin_fsck_t *fx)
{
    int         i, n;
    char        path[OCI_ADMIN_PATH_LEN], stamp[32];
    struct tm   tm;

    gmtime_r(&fx->wall_start, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);

    if (oci_admin_layout(path, fx->opt.storage, NGX_OCI_LAYOUT_QUARANTINE,
                         NULL, 0, NULL)
        < 0)
    {
        errno = ENAMETOOLONG;
        return -1;
    }

    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        return -1;
    }

    for (i = 1; i < 100; i++) {
        n = snprintf(fx->quarantine, sizeof(fx->quarantine),
                     i == 1 ? NGX_OCI_LAYOUT_QUARANTINE_DIR "/%s"
                            : NGX_OCI_LAYOUT_QUARANTINE_DIR "/%s-%d",
                     stamp, i);

        if (n < 0 || oci_admin_path(path, "%s/%s", fx->opt.storage,
                                    fx->quarantine)
                     < 0)
        {
            errno = ENAMETOOLONG;
            return -1;
        }

        if (mkdir(path, 0700) == 0) {
            fx->quarantine_ready = 1;
            return 0;
        }

        if (errno != EEXIST) {
            return -1;
        }
    }

    errno = EEXIST;

    return -1;
}


int
oci_admin_fsck_tmp(oci_admin_fsck_t *fx, char *tmp)
{
    char  id[64];

    snprintf(id, sizeof(id), "oci-admin-fsck.%ld.%u", (long) getpid(),
             fx->tmp_n++);

    return oci_admin_layout(tmp, fx->opt.storage, NGX_OCI_LAYOUT_TMP_FILE,
                            NULL, 0, id);
}
