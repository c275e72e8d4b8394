
/*
 * oci-admin fsck: the run's state, and the problems it finds: each told
 * as one line on stderr, and counted for the summary.
 */


#ifndef _OCI_ADMIN_FSCK_PROBLEM_H_INCLUDED_
#define _OCI_ADMIN_FSCK_PROBLEM_H_INCLUDED_


#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "oci_admin_options.h"
#include "oci_admin_set.h"


/* the kinds of problems, as the output names them */

enum {
    OCI_FSCK_CORRUPT = 0,
    OCI_FSCK_UNLINKED,
    OCI_FSCK_MISSING_TYPE,
    OCI_FSCK_BAD_TYPE,
    OCI_FSCK_TYPE_ATTR,
    OCI_FSCK_INVALID,
    OCI_FSCK_MISSING_BLOB,
    OCI_FSCK_MISSING_MANIFEST,
    OCI_FSCK_ORPHAN_TYPE,
    OCI_FSCK_DANGLING_TAG,
    OCI_FSCK_BAD_TAG,
    OCI_FSCK_STRAY,
    OCI_FSCK_UPLOAD_CORRUPT,
    OCI_FSCK_UPLOAD_EXPIRED,
    OCI_FSCK_KINDS
};

/* outcomes of a problem */
#define OCI_FSCK_NOT_TRIED   -1         /* no --repair */
#define OCI_FSCK_FAILED       0
#define OCI_FSCK_REPAIRED     1

/* the outcome of a problem fsck leaves to a human */
#define oci_admin_fsck_left(fx)                                              \
    ((fx)->repair ? OCI_FSCK_FAILED : OCI_FSCK_NOT_TRIED)


typedef struct {
    oci_admin_opts_t    opt;
    int                 repair;
    int                 mirror;             /* lazy fills are no problem */
    int64_t             upload_timeout;     /* ns */

    oci_admin_imap_t    inodes;             /* hashed: a digest's prefix */
    json_t             *problems;

    uint64_t            counts[OCI_FSCK_KINDS];
    uint64_t            found;
    uint64_t            repaired;
    uint64_t            errors;

    uint64_t            blob_files;
    uint64_t            bytes;
    uint64_t            repositories;
    uint64_t            manifests;
    uint64_t            not_fetched;        /* --mirror: manifests */
    uint64_t            attrs_missing;      /* no copy of their type */
    uint64_t            attrs_set;          /* given one by --repair */
    uint64_t            tags;
    uint64_t            uploads;

    unsigned            tmp_n;
    int                 quarantine_ready;
    char                quarantine[OCI_ADMIN_PATH_LEN];  /* relative */

    double              start;
    time_t              wall_start;
} oci_admin_fsck_t;


/*
 * One line on stderr: "<kind> <repository or -> <ref>: <problem>", then
 * "; repaired: <action>" or "; not repaired: <why>" with --repair
 */
void oci_admin_fsck_problem(oci_admin_fsck_t *fx, int kind, const char *repo,
    const char *ref, int outcome, const char *action, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/* what does not belong in the layout: reported, never touched */
void oci_admin_fsck_stray(oci_admin_fsck_t *fx, const char *rel,
    const char *why);

void oci_admin_fsck_progress(oci_admin_fsck_t *fx);

/* the summary on stdout: 0, or -1 after a message */
int oci_admin_fsck_report(oci_admin_fsck_t *fx);


#endif /* _OCI_ADMIN_FSCK_PROBLEM_H_INCLUDED_ */
