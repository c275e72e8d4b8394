
/*
 * oci-admin fsck: problems, the progress line and the summary
 * (oci_admin_fsck_problem.h).
 */


#include <stdarg.h>
#include <stdio.h>

#include "oci_admin_fsck_problem.h"
#include "oci_admin_message.h"


static void oci_admin_fsck_summary(oci_admin_fsck_t *fx, double seconds);
static json_t *oci_admin_fsck_counts(oci_admin_fsck_t *fx);


static const char  *const oci_admin_fsck_kinds[] = {
    "corrupt",
    "unlinked",
    "missing-type",
    "bad-type",
    "type-attribute",
    "invalid-manifest",
    "missing-blob",
    "missing-manifest",
    "orphan-type",
    "dangling-tag",
    "bad-tag",
    "stray",
    "upload-corrupt",
    "upload-expired"
};


void
oci_admin_fsck_problem(oci_admin_fsck_t *fx, int kind, const char *repo,
    const char *ref, int outcome, const char *action, const char *fmt, ...)
{
    char     what[1024];
    json_t  *o;
    va_list  args;

    va_start(args, fmt);
    vsnprintf(what, sizeof(what), fmt, args);
    va_end(args);

    fx->found++;
    fx->counts[kind]++;
    fx->repaired += (outcome == OCI_FSCK_REPAIRED);

    if (outcome == OCI_FSCK_NOT_TRIED || action == NULL) {
        oci_admin_warn("%s %s %s: %s", oci_admin_fsck_kinds[kind],
                       repo ? repo : "-", ref, what);

    } else {
        oci_admin_warn("%s %s %s: %s; %s: %s", oci_admin_fsck_kinds[kind],
                       repo ? repo : "-", ref, what,
                       outcome == OCI_FSCK_REPAIRED ? "repaired"
                                                    : "not repaired",
                       action);
    }

    if (fx->problems == NULL) {
        return;
    }

    o = json_pack("{ssss?sssssbss?}",
                  "kind", oci_admin_fsck_kinds[kind],
                  "repository", repo,
                  "ref", ref,
                  "problem", what,
                  "repaired", outcome == OCI_FSCK_REPAIRED,
                  "action", outcome == OCI_FSCK_NOT_TRIED ? NULL : action);

    if (o == NULL || json_array_append_new(fx->problems, o) != 0) {
        oci_admin_warn("out of memory");
        fx->errors++;
    }
}


void
oci_admin_fsck_stray(oci_admin_fsck_t *fx, const char *rel, const char *why)
{
    oci_admin_fsck_problem(fx, OCI_FSCK_STRAY, NULL, rel,
                           oci_admin_fsck_left(fx),
                           "left alone, not knowing what it is", "%s", why);
}


void
oci_admin_fsck_progress(oci_admin_fsck_t *fx)
{
    oci_admin_progress("fsck: %llu blob files, %.1f MB hashed, "
                       "%llu repositories, %llu manifests, %llu problems, "
                       "%.1f s",
                       (unsigned long long) fx->blob_files,
                       (double) fx->bytes / 1e6,
                       (unsigned long long) fx->repositories,
                       (unsigned long long) fx->manifests,
                       (unsigned long long) fx->found,
                       oci_admin_now() - fx->start);
}


int
oci_admin_fsck_report(oci_admin_fsck_t *fx)
{
    double              seconds;
    json_t             *tail;
    oci_admin_count_t   c[] = {
        { "blob_files", fx->blob_files },
        { "bytes_hashed", fx->bytes },
        { "repositories", fx->repositories },
        { "manifests", fx->manifests },
        { "not_fetched", fx->not_fetched },
        { "type_attributes_missing", fx->attrs_missing },
        { "type_attributes_set", fx->attrs_set },
        { "tags", fx->tags },
        { "upload_sessions", fx->uploads },
        { "problems_found", fx->found },
        { "repaired", fx->repaired },
        { "remaining", fx->found - fx->repaired },
        { "errors", fx->errors }
    };

    seconds = oci_admin_now() - fx->start;

    if (!fx->opt.json) {
        oci_admin_fsck_summary(fx, seconds);
        return fflush(stdout) == 0 ? 0 : -1;
    }

    tail = json_pack("{sosOsbsb}", "counts", oci_admin_fsck_counts(fx),
                     "problems", fx->problems, "repair", fx->repair,
                     "mirror", fx->mirror);

    if (tail == NULL) {
        oci_admin_warn("out of memory");
        return -1;
    }

    return oci_admin_print_json(json_object(), c, sizeof(c) / sizeof(c[0]),
                                tail, seconds);
}


static void
oci_admin_fsck_summary(oci_admin_fsck_t *fx, double seconds)
{
    int          k, first;
    const char  *sep;

    printf("fsck: %llu blob files (%llu bytes hashed), %llu "
           "repositories, %llu manifests",
           (unsigned long long) fx->blob_files,
           (unsigned long long) fx->bytes,
           (unsigned long long) fx->repositories,
           (unsigned long long) fx->manifests);

    /*
     * not problems: what a mirror has not fetched yet, content whose GETs
     * read ".type"
     */

    sep = " (";

    if (fx->mirror) {
        printf("%s%llu not fetched whole yet", sep,
               (unsigned long long) fx->not_fetched);
        sep = ", ";
    }

    if (fx->attrs_missing) {
        printf("%s%llu without their type attribute", sep,
               (unsigned long long) fx->attrs_missing);
        sep = ", ";

    } else if (fx->attrs_set) {
        printf("%s%llu type attributes set", sep,
               (unsigned long long) fx->attrs_set);
        sep = ", ";
    }

    if (sep[0] == ',') {
        printf(")");
    }

    printf(", %llu tags, %llu upload sessions; %llu problems",
           (unsigned long long) fx->tags,
           (unsigned long long) fx->uploads,
           (unsigned long long) fx->found);

    first = 1;

    for (k = 0; k < OCI_FSCK_KINDS; k++) {
        if (fx->counts[k]) {
            printf("%s%llu %s", first ? " (" : ", ",
                   (unsigned long long) fx->counts[k],
                   oci_admin_fsck_kinds[k]);
            first = 0;
        }
    }

    printf("%s, %llu repaired, %llu remain; %llu errors; %.2f s\n",
           first ? "" : ")", (unsigned long long) fx->repaired,
           (unsigned long long) (fx->found - fx->repaired),
           (unsigned long long) fx->errors, seconds);
}


/* the count of each kind, those that are 0 too */

static json_t *
oci_admin_fsck_counts(oci_admin_fsck_t *fx)
{
    int      k;
    json_t  *counts;

    counts = json_object();
    if (counts == NULL) {
        return NULL;
    }

    for (k = 0; k < OCI_FSCK_KINDS; k++) {
        if (json_object_set_new(counts, oci_admin_fsck_kinds[k],
                                json_integer((json_int_t) fx->counts[k]))
            != 0)
        {
            json_decref(counts);
            return NULL;
        }
    }

    return counts;
}
