
/*
 * oci-admin gc: mark and sweep, while nginx may be serving pushes
 * (docs/admin.md).  With --unpulled-for, the links no client pulled for
 * that long go first (oci_admin_gc_expire.c).  The mark
 * (oci_admin_gc_mark.c) changes nothing; the sweep (oci_admin_gc_sweep.c)
 * looks again at each repository before it removes anything; last, the
 * files nothing links any more (oci_admin_gc_files.c).
 */


#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oci_admin_gc.h"
#include "oci_admin_gc_expire.h"
#include "oci_admin_gc_files.h"
#include "oci_admin_gc_mark.h"
#include "oci_admin_gc_run.h"
#include "oci_admin_gc_sweep.h"
#include "oci_admin_message.h"


static int oci_admin_gc_option(void *data, int c, char *arg);
static int oci_admin_gc_atime(oci_admin_gc_t *gx);
static int oci_admin_gc_run(oci_admin_gc_t *gx);
static void oci_admin_gc_sweep_all(oci_admin_gc_t *gx);
static int oci_admin_gc_end(oci_admin_gc_t *gx, int rc);
static int oci_admin_gc_report(oci_admin_gc_t *gx);
static void oci_admin_gc_report_expired(oci_admin_gc_t *gx);


static const char  oci_admin_gc_usage[] =
"usage: oci-admin gc --storage <root> [options]\n"
"\n"
"Deletes what nothing refers to: repository links to blobs that no kept\n"
"manifest uses, then files in " NGX_OCI_LAYOUT_BLOBS_DIR "/ that no "
    "repository links, then old\n"
"temporary files.  With --untagged, also manifests that are not tagged,\n"
"not in a kept index and not referrers of a kept manifest.  With\n"
"--unpulled-for, first the links to manifests and blobs that no client\n"
"pulled for that long (a mirror's cached content), and the tags of those\n"
"manifests.  Safe to run while nginx serves.\n"
"\n"
"  --storage <root>                 the oci_storage directory\n"
"  --untagged                       delete unreferenced manifests too\n"
"  --grace <dur>                    keep anything younger (default: 1h)\n"
"  --orphan-referrers-grace <dur>   keep referrers whose subject is not\n"
"                                   stored this long (default: 24h)\n"
"  --unpulled-for <dur>             first remove the links no client\n"
"                                   pulled for that long (their access\n"
"                                   time: not on a noatime mount)\n"
"  --redis <addr>                   remove deleted referrers from the\n"
"                                   index: host[:port], [v6]:port or\n"
"                                   unix:/path, as oci_redis;\n"
"                                   sentinel=host:port,... with --master\n"
"                                   or cluster=host:port,...\n"
"  --master <name>                  the master's name for the sentinels\n"
"  --password <pw>                  AUTH (default: $REDISCLI_AUTH)\n"
"  --db <n>                         database number (default: 0)\n"
"  --prefix <p>                     as oci_redis_prefix (default: \"oci:\")\n"
"  --dry-run                        change nothing, report what would go\n"
"  --json                           print the summary as a JSON object\n"
"  --quiet                          no progress line on a terminal\n"
"  --help                           this text\n"
"\n"
"Durations: 30s, 10m, 1h, 7d, 2w.\n"
"\n"
"exit status: 0 done, 1 usage error, 2 Redis unreachable or failing,\n"
"3 repositories with corrupt manifests or tags skipped, 4 other errors\n"
"(on stderr)\n";


static const struct option  oci_admin_gc_long[] = {
    OCI_ADMIN_OPTION_STORAGE,
    { "untagged",                no_argument,       NULL, 'u' },
    { "grace",                   required_argument, NULL, 'g' },
    { "orphan-referrers-grace",  required_argument, NULL, 'o' },
    { "unpulled-for",            required_argument, NULL, 'U' },
    OCI_ADMIN_OPTIONS_REDIS,
    { "dry-run",                 no_argument,       NULL, 'n' },
    OCI_ADMIN_OPTIONS_OUTPUT,

    /*
     * For the tests only, and not in --help: sleep between mark and
     * sweep, or between finding unpulled links and removing them, so a
     * test can push or pull meanwhile; compute ages as if the time were
     * later, since a test cannot set a ctime back.
     */
    { "pause-after-mark",        required_argument, NULL, 'Z' },
    { "pause-before-expire",     required_argument, NULL, 'X' },
    { "age-offset",              required_argument, NULL, 'A' },

    { NULL, 0, NULL, 0 }
};

/* room under the root for the paths gc makes */

static const oci_admin_getopt_t  oci_admin_gc_getopt = {
    "gc", oci_admin_gc_long, oci_admin_gc_usage, oci_admin_gc_option, 0, 256,
    0
};


int
oci_admin_gc(int argc, char **argv)
{
    int             rc;
    oci_admin_gc_t  gx;

    memset(&gx, 0, sizeof(oci_admin_gc_t));

    gx.grace = 3600 * OCI_ADMIN_NS;
    gx.orphan_grace = 86400 * OCI_ADMIN_NS;

    rc = oci_admin_options(&gx.opt, &oci_admin_gc_getopt, &gx, argc, argv);
    if (rc != -1) {
        return rc;
    }

    if (gx.unpulled && oci_admin_gc_atime(&gx) != 0) {
        return OCI_ADMIN_EXIT_USAGE;
    }

    gx.start = oci_admin_now();
    gx.t0 = oci_admin_gc_t0(&gx);

    if (gx.opt.redis_addr) {
        rc = oci_admin_options_redis(&gx.opt, &gx.redis);
        if (rc != OCI_ADMIN_EXIT_OK) {
            return rc;
        }

        gx.redis_on = 1;
    }

    rc = oci_admin_gc_run(&gx);

    if (gx.redis_on && !gx.redis_failed
        && oci_admin_redis_flush(&gx.redis) != 0)
    {
        gx.redis_failed = 1;
    }

    oci_admin_progress_end();

    if (gx.redis_on) {
        gx.errors += gx.redis.errors;
        oci_admin_redis_close(&gx.redis);
    }

    oci_admin_imap_free(&gx.inodes);
    oci_admin_set_free(&gx.expired);

    rc = oci_admin_gc_end(&gx, rc);

    /* the summary took it, unless there was none */
    json_decref(gx.would);

    return rc;
}


/* gc's own options: 0 taken, 1 not its own, -1 after a message */

static int
oci_admin_gc_option(void *data, int c, char *arg)
{
    oci_admin_gc_t  *gx = data;

    long   pause;
    char  *end;

    switch (c) {

    case 'u':
        gx->untagged = 1;
        return 0;

    case 'g':
        return oci_admin_option_duration("gc", "grace", arg, &gx->grace);

    case 'o':
        return oci_admin_option_duration("gc", "orphan-referrers-grace", arg,
                                         &gx->orphan_grace);

    case 'U':
        gx->unpulled_arg = arg;

        if (oci_admin_option_duration("gc", "unpulled-for", arg,
                                      &gx->unpulled)
            != 0)
        {
            return -1;
        }

        if (gx->unpulled == 0) {
            fprintf(stderr, "oci-admin gc: --unpulled-for must be longer "
                    "than 0\n");
            return -1;
        }

        return 0;

    case 'A':
        return oci_admin_option_duration("gc", "age-offset", arg,
                                         &gx->offset);

    case 'Z':
    case 'X':
        pause = strtol(arg, &end, 10);

        if (arg[0] == '\0' || *end != '\0' || pause < 0 || pause > 3600) {
            fprintf(stderr, "oci-admin gc: --%s \"%s\" is not a number of "
                    "seconds\n", c == 'Z' ? "pause-after-mark"
                                          : "pause-before-expire", arg);
            return -1;
        }

        *(c == 'Z' ? &gx->pause : &gx->pause_expire) = pause;

        return 0;

    case 'n':
        gx->dry_run = 1;
        return 0;

    default:
        return 1;
    }
}


/*
 * --unpulled-for needs access times that move when a client pulls: not
 * on a noatime mount, where everything would look unpulled since it was
 * stored.  With relatime a file read all the time has an access time up
 * to a day old.  0, or -1 after a message.
 */

static int
oci_admin_gc_atime(oci_admin_gc_t *gx)
{
    switch (oci_admin_atime_mode(gx->opt.storage)) {

    case OCI_ADMIN_ATIME_NONE:
        fprintf(stderr, "oci-admin gc: --unpulled-for: %s is on a file "
                "system mounted noatime, where access times do not tell "
                "pulls\n", gx->opt.storage);
        return -1;

    case OCI_ADMIN_ATIME_RELATIME:
        if (gx->unpulled <= 86400 * OCI_ADMIN_NS) {
            oci_admin_warn("gc: --unpulled-for %s: with relatime an access "
                           "time moves once a day at most, so content "
                           "pulled all the time can look unpulled for a "
                           "day", gx->unpulled_arg);
        }

        return 0;

    case -1:
        oci_admin_warn("gc: %s: statvfs(): %s", gx->opt.storage,
                       strerror(errno));
        return 0;

    default:
        return 0;
    }
}


/* mark, sweep, then the files: OCI_ADMIN_OK, or OCI_ADMIN_ABORT */

static int
oci_admin_gc_run(oci_admin_gc_t *gx)
{
    int  rc;

    rc = OCI_ADMIN_OK;

    if (gx->unpulled) {
        gx->phase = "expire";
        rc = oci_admin_gc_expire(gx);
    }

    /* mark: nothing changes, but for the tags of manifests expired */

    gx->phase = "mark";

    if (rc == OCI_ADMIN_OK) {
        rc = oci_admin_gc_mark(gx);
    }

    if (rc == OCI_ADMIN_OK && gx->pause) {
        oci_admin_progress_end();
        fprintf(stderr, "oci-admin: gc: marked, pausing %ld s\n", gx->pause);
        fflush(stderr);
        sleep((unsigned) gx->pause);
    }

    if (rc == OCI_ADMIN_OK) {
        gx->phase = "sweep";
        oci_admin_gc_sweep_all(gx);

        gx->phase = "blobs";
        oci_admin_gc_blobs(gx);

        oci_admin_gc_tmp(gx, NGX_OCI_LAYOUT_TMP);
        oci_admin_gc_tmp(gx, NGX_OCI_LAYOUT_UPLOADS);
    }

    return rc;
}


static void
oci_admin_gc_sweep_all(oci_admin_gc_t *gx)
{
    size_t  i;

    for (i = 0; i < gx->nrepos; i++) {
        oci_admin_gc_sweep(gx, &gx->repos[i]);

        gx->swept++;
        oci_admin_gc_progress(gx);
    }
}


/* the summary and the exit status */

static int
oci_admin_gc_end(oci_admin_gc_t *gx, int rc)
{
    size_t  i;

    for (i = 0; i < gx->nrepos; i++) {
        oci_admin_gc_repo_free(&gx->repos[i]);
    }

    free(gx->repos);

    if (rc != OCI_ADMIN_OK) {
        oci_admin_warn("gc: stopped");
        return OCI_ADMIN_EXIT_ERROR;
    }

    if (gx->invalid_names) {
        oci_admin_warn("gc: %llu repositories with invalid names skipped",
                       (unsigned long long) gx->invalid_names);
    }

    if (gx->redis_failed) {
        oci_admin_warn("gc: Redis failed; the index may list manifests that "
                       "are gone until the module drops them or "
                       "\"oci-admin reindex\" runs");
    }

    if (gx->unpulled && oci_admin_atime_refused()) {
        oci_admin_warn("gc: %llu files were read without O_NOATIME, which "
                       "only their owner may use: their access times now "
                       "say they were pulled; run oci-admin as the user "
                       "that owns the storage",
                       (unsigned long long) oci_admin_atime_refused());
    }

    return oci_admin_exit(oci_admin_gc_report(gx), gx->redis_failed,
                          gx->errors, gx->skipped);
}


static int
oci_admin_gc_report(oci_admin_gc_t *gx)
{
    double              seconds;
    oci_admin_count_t   c[] = {
        { "repositories", gx->repositories },
        { "manifests", gx->manifests },
        { "blob_links", gx->blob_links },
        { "blob_files", gx->blob_files },
        { "expired_manifests", gx->exp_manifests },
        { "expired_blob_links", gx->exp_links },
        { "expired_tags", gx->exp_tags },
        { "deleted_manifests", gx->del_manifests },
        { "deleted_blob_links", gx->del_links },
        { "deleted_blob_files", gx->del_files },
        { "freed_bytes", gx->del_bytes },
        { "deleted_temporary", gx->del_tmp },
        { "temporary_bytes", gx->tmp_bytes },
        { "kept_young", gx->kept_young },
        { "kept_orphans", gx->kept_orphans },
        { "changed", gx->changed },
        { "unindexed", gx->unindexed },
        { "skipped_repositories", gx->skipped },
        { "errors", gx->errors }
    };

    seconds = oci_admin_now() - gx->start;

    if (gx->opt.json) {
        return oci_admin_print_json(json_pack("{sbsbso}",
                                              "dry_run", gx->dry_run,
                                              "untagged", gx->untagged,
                                              "unpulled_for",
                                              gx->unpulled
                                              ? json_integer(gx->unpulled
                                                             / OCI_ADMIN_NS)
                                              : json_null()),
                                    c, sizeof(c) / sizeof(c[0]),
                                    gx->dry_run ? oci_admin_gc_would_json(gx)
                                                : NULL,
                                    seconds);
    }

    printf("gc%s: %llu repositories, %llu manifests, %llu blob links, "
           "%llu blob files; ",
           gx->dry_run ? " (dry run)" : "",
           (unsigned long long) gx->repositories,
           (unsigned long long) gx->manifests,
           (unsigned long long) gx->blob_links,
           (unsigned long long) gx->blob_files);

    oci_admin_gc_report_expired(gx);

    printf("%s %llu manifests, %llu blob links, %llu "
           "blob files (%llu bytes), %llu temporary files (%llu bytes); "
           "kept %llu younger than the grace, %llu orphaned referrers, "
           "%llu changed during the run; %llu referrers unindexed; "
           "%llu repositories skipped, %llu errors; %.2f s\n",
           gx->dry_run ? "would delete" : "deleted",
           (unsigned long long) gx->del_manifests,
           (unsigned long long) gx->del_links,
           (unsigned long long) gx->del_files,
           (unsigned long long) gx->del_bytes,
           (unsigned long long) gx->del_tmp,
           (unsigned long long) gx->tmp_bytes,
           (unsigned long long) gx->kept_young,
           (unsigned long long) gx->kept_orphans,
           (unsigned long long) gx->changed,
           (unsigned long long) gx->unindexed,
           (unsigned long long) gx->skipped,
           (unsigned long long) gx->errors, seconds);

    return fflush(stdout) == 0 ? 0 : -1;
}


/* "expired 2 manifests, 3 blob links, 1 tags not pulled for 30d; " */

static void
oci_admin_gc_report_expired(oci_admin_gc_t *gx)
{
    if (!gx->unpulled) {
        return;
    }

    printf("%s %llu manifests, %llu blob links, %llu tags not pulled for "
           "%s; ", gx->dry_run ? "would expire" : "expired",
           (unsigned long long) gx->exp_manifests,
           (unsigned long long) gx->exp_links,
           (unsigned long long) gx->exp_tags, gx->unpulled_arg);
}
