
/*
 * oci-admin gc: mark and sweep, while nginx may be serving pushes.
 *
 * Mark, for each repository, changing nothing: the manifests to keep are
 * the tagged ones, the entries of kept indexes and the referrers of kept
 * manifests (both recursively), those younger than --grace, orphaned
 * referrers (their subject is not stored) younger than
 * --orphan-referrers-grace, and without --untagged simply all of them.
 * The blobs to keep are the config and layers of kept manifests.  What
 * is left, and older than the grace, is a candidate.
 *
 * Sweep, a repository at a time: first the repository's manifests and
 * tags are looked at again, and whatever a manifest pushed since the
 * start refers to, or a tag now names, is no candidate any more.  Then
 * the candidates go, each checked again just before (same inode, not
 * changed since the mark).  Last, files in blobs/ that no repository
 * links (one link left) and older than the grace, and old leftovers in
 * _tmp/ and _uploads/.
 *
 * Ages come from the inode: the later of mtime and ctime, since ctime
 * moves when a link is made.  Links this run removes move the ctime of
 * the inodes they shared; the ctime each of its own changes left is
 * noted, so an inode nobody else touched keeps its age.
 */


#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "oci_admin.h"
#include "oci_admin_store.h"
#include "ngx_oci_index_schema.h"


/* how far file times may lag the clock (--dry-run only) */
#define OCI_GC_MARGIN     (OCI_ADMIN_NS / 10)

/* temporary files are collected a day after the grace */
#define OCI_GC_TMP_EXTRA  (86400 * OCI_ADMIN_NS)

#define OCI_GC_DEPTH      64


/* something the mark found unreferenced and old */

typedef struct {
    char           *digest;
    char           *subject;        /* of a manifest, or NULL */
    dev_t           dev;
    ino_t           ino;
    int64_t         stamp;          /* at the mark */
    unsigned        keep:1;         /* referenced after all */
} oci_gc_cand_t;

typedef struct {
    char           *name;
    oci_gc_cand_t  *manifests;      /* sorted by digest */
    size_t          nmanifests;
    oci_gc_cand_t  *blobs;          /* sorted by digest */
    size_t          nblobs;
    int             unsure;
} oci_gc_repo_t;

/* a manifest of the repository being marked */

typedef struct {
    char                digest[OCI_ADMIN_DIGEST_LEN + 1];
    oci_admin_refs_t    refs;
    dev_t               dev;
    ino_t               ino;
    int64_t             stamp;
    unsigned            keep:1;
} oci_gc_node_t;

typedef struct {
    const char         *subject;
    size_t              node;
} oci_gc_referrer_t;


typedef struct {
    oci_admin_opts_t    opt;
    int                 untagged;
    int                 dry_run;
    int64_t             grace;              /* ns */
    int64_t             orphan_grace;       /* ns */
    int64_t             offset;             /* ns, --age-offset */
    long                pause;              /* s, --pause-after-mark */

    oci_admin_redis_t   redis;
    int                 redis_on;
    int                 redis_failed;

    int64_t             t0;                 /* wall clock at the start */
    double              start;

    oci_gc_repo_t      *repos;
    size_t              nrepos;
    size_t              repos_size;

    /* a removed link: a = ctime left, b = stamp before; n = to remove */
    oci_admin_imap_t    inodes;

    oci_gc_node_t      *nodes;
    size_t              nnodes;
    size_t              nodes_size;
    const char         *unsure;             /* why, for the marked repo */
    char                unsure_buf[OCI_ADMIN_PATH_LEN + 64];

    oci_admin_set_t     visited;

    const char         *phase;
    uint64_t            swept;

    uint64_t            repositories;
    uint64_t            manifests;
    uint64_t            blob_links;
    uint64_t            blob_files;
    uint64_t            del_manifests;
    uint64_t            del_links;
    uint64_t            del_files;
    uint64_t            del_bytes;
    uint64_t            del_tmp;
    uint64_t            tmp_bytes;
    uint64_t            kept_young;
    uint64_t            kept_orphans;
    uint64_t            changed;
    uint64_t            unindexed;
    uint64_t            skipped;
    uint64_t            invalid_names;
    uint64_t            errors;
} oci_admin_gc_t;


static void oci_admin_gc_usage(FILE *f);
static int oci_admin_gc_option(void *data, int c, char *arg);
static void oci_admin_gc_progress(oci_admin_gc_t *gx, int force);
static int64_t oci_admin_gc_t0(oci_admin_gc_t *gx);
static int64_t oci_admin_gc_stamp(oci_admin_gc_t *gx, const struct stat *st);
static int oci_admin_gc_old(oci_admin_gc_t *gx, int64_t stamp,
    int64_t grace);
static void oci_admin_gc_touched(oci_admin_gc_t *gx,
    const struct stat *before, int fd);
static int oci_admin_gc_repo_cb(void *data, int what, const char *name,
    size_t len);
static int oci_admin_gc_mark(oci_admin_gc_t *gx, oci_admin_repo_t *repo);
static int oci_admin_gc_nodes(oci_admin_gc_t *gx, oci_admin_repo_t *repo);
static int oci_admin_gc_node(oci_admin_gc_t *gx, oci_admin_repo_t *repo,
    oci_admin_digest_t *d);
static void oci_admin_gc_closure(oci_admin_gc_t *gx,
    oci_gc_referrer_t *refs, size_t nrefs, size_t *stack, size_t top);
static ssize_t oci_admin_gc_find(oci_admin_gc_t *gx, const char *digest);
static int oci_admin_gc_referrer_cmp(const void *a, const void *b);
static int oci_admin_gc_links(oci_admin_gc_t *gx, oci_admin_repo_t *repo,
    oci_gc_repo_t *r, oci_admin_set_t *keep);
static int oci_admin_gc_cand_add(oci_gc_cand_t **list, size_t *n,
    const char *digest, const char *subject, dev_t dev, ino_t ino,
    int64_t stamp);
static void oci_admin_gc_repo_free(oci_gc_repo_t *r);
static void oci_admin_gc_nodes_free(oci_admin_gc_t *gx);
static int oci_admin_gc_sweep(oci_admin_gc_t *gx, oci_gc_repo_t *r);
static void oci_admin_gc_rescan(oci_admin_gc_t *gx, oci_admin_repo_t *repo,
    oci_gc_repo_t *r);
static void oci_admin_gc_retag(oci_admin_gc_t *gx, oci_admin_repo_t *repo,
    oci_gc_repo_t *r);
static void oci_admin_gc_unmark(oci_admin_gc_t *gx, oci_admin_repo_t *repo,
    oci_gc_repo_t *r, const char *digest, int depth);
static oci_gc_cand_t *oci_admin_gc_cand_find(oci_gc_cand_t *list, size_t n,
    const char *digest);
static void oci_admin_gc_manifest(oci_admin_gc_t *gx, oci_admin_repo_t *repo,
    oci_gc_repo_t *r, oci_gc_cand_t *c);
static void oci_admin_gc_link(oci_admin_gc_t *gx, oci_admin_repo_t *repo,
    oci_gc_cand_t *c);
static void oci_admin_gc_pending(oci_admin_gc_t *gx, oci_gc_cand_t *c);
static void oci_admin_gc_unindex(oci_admin_gc_t *gx, oci_admin_repo_t *repo,
    oci_gc_cand_t *c);
static void oci_admin_gc_blobs(oci_admin_gc_t *gx);
static void oci_admin_gc_blob(oci_admin_gc_t *gx, const char *path);
static void oci_admin_gc_tmp(oci_admin_gc_t *gx, const char *dir,
    int uploads);
static int oci_admin_gc_report(oci_admin_gc_t *gx);


static struct option  oci_admin_gc_long[] = {
    { "storage",                 required_argument, NULL, 's' },
    { "untagged",                no_argument,       NULL, 'u' },
    { "grace",                   required_argument, NULL, 'g' },
    { "orphan-referrers-grace",  required_argument, NULL, 'o' },
    { "redis",                   required_argument, NULL, 'r' },
    { "password",                required_argument, NULL, 'p' },
    { "db",                      required_argument, NULL, 'd' },
    { "prefix",                  required_argument, NULL, 'P' },
    { "dry-run",                 no_argument,       NULL, 'n' },
    { "json",                    no_argument,       NULL, 'j' },
    { "quiet",                   no_argument,       NULL, 'q' },
    { "help",                    no_argument,       NULL, 'h' },

    /*
     * For the tests only, and not in --help: sleep between mark and
     * sweep, so a test can push meanwhile; compute ages as if the time
     * were later, since a test cannot set a ctime back.
     */
    { "pause-after-mark",        required_argument, NULL, 'Z' },
    { "age-offset",              required_argument, NULL, 'A' },

    { NULL, 0, NULL, 0 }
};

/* room under the root for the paths gc makes */

static oci_admin_getopt_t  oci_admin_gc_getopt = {
    "gc", oci_admin_gc_long, oci_admin_gc_usage, oci_admin_gc_option, 0, 256
};


int
oci_admin_gc(int argc, char **argv)
{
    int                rc;
    size_t             i;
    oci_admin_gc_t     gx;
    oci_admin_repo_t   repo;

    memset(&gx, 0, sizeof(oci_admin_gc_t));

    gx.grace = 3600 * OCI_ADMIN_NS;
    gx.orphan_grace = 86400 * OCI_ADMIN_NS;

    rc = oci_admin_options(&gx.opt, &oci_admin_gc_getopt, &gx, argc, argv);
    if (rc != -1) {
        return rc;
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

    /* mark: nothing changes */

    gx.phase = "mark";

    rc = oci_admin_repos(gx.opt.storage, oci_admin_gc_repo_cb, &gx, &gx.errors);

    oci_admin_gc_nodes_free(&gx);
    free(gx.nodes);

    if (rc == OCI_ADMIN_OK && gx.pause) {
        oci_admin_progress_end();
        fprintf(stderr, "oci-admin: gc: marked, pausing %ld s\n", gx.pause);
        fflush(stderr);
        sleep((unsigned) gx.pause);
    }

    /* sweep */

    gx.phase = "sweep";

    for (i = 0; rc == OCI_ADMIN_OK && i < gx.nrepos; i++) {
        if (oci_admin_repo_init(&repo, gx.opt.storage, gx.repos[i].name,
                                strlen(gx.repos[i].name))
            == 0)
        {
            rc = oci_admin_gc_sweep(&gx, &gx.repos[i]);
        }

        gx.swept++;
        oci_admin_gc_progress(&gx, 0);
    }

    for (i = 0; i < gx.nrepos; i++) {
        oci_admin_gc_repo_free(&gx.repos[i]);
    }

    free(gx.repos);

    if (rc == OCI_ADMIN_OK) {
        gx.phase = "blobs";
        oci_admin_gc_blobs(&gx);

        oci_admin_gc_tmp(&gx, "_tmp", 0);
        oci_admin_gc_tmp(&gx, "_uploads", 1);
    }

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

    if (rc != OCI_ADMIN_OK) {
        oci_admin_warn("gc: stopped");
        return OCI_ADMIN_EXIT_ERROR;
    }

    if (gx.invalid_names) {
        oci_admin_warn("gc: %llu repositories with invalid names skipped",
                       (unsigned long long) gx.invalid_names);
    }

    if (gx.redis_failed) {
        oci_admin_warn("gc: Redis failed; the index may list manifests that "
                       "are gone until the module drops them or "
                       "\"oci-admin reindex\" runs");
    }

    if (oci_admin_gc_report(&gx) != 0) {
        return OCI_ADMIN_EXIT_ERROR;
    }

    if (gx.redis_failed) {
        return OCI_ADMIN_EXIT_REDIS;
    }

    if (gx.errors) {
        return OCI_ADMIN_EXIT_ERROR;
    }

    return gx.skipped ? OCI_ADMIN_EXIT_CORRUPT : OCI_ADMIN_EXIT_OK;
}


static void
oci_admin_gc_usage(FILE *f)
{
    fprintf(f,
"usage: oci-admin gc --storage <root> [options]\n"
"\n"
"Deletes what nothing refers to: repository links to blobs that no kept\n"
"manifest uses, then files in blobs/ that no repository links, then old\n"
"temporary files.  With --untagged, also manifests that are not tagged,\n"
"not in a kept index and not referrers of a kept manifest.  Safe to run\n"
"while nginx serves.\n"
"\n"
"  --storage <root>                 the oci_storage directory\n"
"  --untagged                       delete unreferenced manifests too\n"
"  --grace <dur>                    keep anything younger (default: 1h)\n"
"  --orphan-referrers-grace <dur>   keep referrers whose subject is not\n"
"                                   stored this long (default: 24h)\n"
"  --redis <addr>                   remove deleted referrers from the\n"
"                                   index: host[:port], [v6]:port or\n"
"                                   unix:/path, as oci_redis\n"
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
"(on stderr)\n");
}


/* gc's own options: 0 taken, 1 not its own, -1 after a message */

static int
oci_admin_gc_option(void *data, int c, char *arg)
{
    oci_admin_gc_t  *gx = data;

    char     *end;
    int64_t   s;

    switch (c) {

    case 'u':
        gx->untagged = 1;
        return 0;

    case 'g':
    case 'o':
    case 'A':
        if (oci_admin_duration(arg, &s) != 0) {
            fprintf(stderr, "oci-admin gc: --%s \"%s\" is not a "
                    "duration (30s, 10m, 1h, 7d)\n",
                    c == 'g' ? "grace" : c == 'o'
                    ? "orphan-referrers-grace" : "age-offset", arg);
            return -1;
        }

        if (c == 'g') {
            gx->grace = s * OCI_ADMIN_NS;

        } else if (c == 'o') {
            gx->orphan_grace = s * OCI_ADMIN_NS;

        } else {
            gx->offset = s * OCI_ADMIN_NS;
        }

        return 0;

    case 'Z':
        gx->pause = strtol(arg, &end, 10);

        if (arg[0] == '\0' || *end != '\0' || gx->pause < 0
            || gx->pause > 3600)
        {
            fprintf(stderr, "oci-admin gc: --pause-after-mark \"%s\" is "
                    "not a number of seconds\n", arg);
            return -1;
        }

        return 0;

    case 'n':
        gx->dry_run = 1;
        return 0;

    default:
        return 1;
    }
}


static void
oci_admin_gc_progress(oci_admin_gc_t *gx, int force)
{
    oci_admin_progress(force, "gc: %s: %llu repositories, %llu manifests, "
                       "%llu blob links, %llu swept, %llu blob files, "
                       "%.1f s", gx->phase,
                       (unsigned long long) gx->repositories,
                       (unsigned long long) gx->manifests,
                       (unsigned long long) gx->blob_links,
                       (unsigned long long) gx->swept,
                       (unsigned long long) gx->blob_files,
                       oci_admin_now() - gx->start);
}


/*
 * The start, on the filesystem's clock: the ctime of a file made now.
 * Links made by pushes from now on have a ctime as late or later, even
 * when the filesystem's clock is coarse, or a file server's.
 */

static int64_t
oci_admin_gc_t0(oci_admin_gc_t *gx)
{
    int          fd;
    char         path[OCI_ADMIN_PATH_LEN];
    struct stat  st;

    if (!gx->dry_run
        && oci_admin_path(path, "%s/_tmp/oci-admin-gc.%ld", gx->opt.storage,
                          (long) getpid())
           > 0
        && oci_admin_mkdirs(path) == 0)
    {
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        if (fd != -1) {
            if (fstat(fd, &st) == 0) {
                close(fd);
                (void) unlink(path);
                return oci_admin_ctime(&st);
            }

            close(fd);
            (void) unlink(path);
        }
    }

    /* a dry run changes nothing: the clock, less what it may be ahead */

    return oci_admin_clock() - OCI_GC_MARGIN;
}


/* the stamp of an inode, not counting the changes this run made to it */

static int64_t
oci_admin_gc_stamp(oci_admin_gc_t *gx, const struct stat *st)
{
    int64_t             m, c;
    oci_admin_inode_t  *e;

    m = oci_admin_mtime(st);
    c = oci_admin_ctime(st);

    e = oci_admin_imap_get(&gx->inodes, st->st_dev, st->st_ino, 0);

    if (e && e->a && e->a == c) {
        c = e->b;
    }

    return m > c ? m : c;
}


static int
oci_admin_gc_old(oci_admin_gc_t *gx, int64_t stamp, int64_t grace)
{
    return oci_admin_clock() + gx->offset - stamp >= grace;
}


/*
 * A link of the inode was removed by this run: the ctime it left, and the
 * stamp from before (the first of this run's changes, if several)
 */

static void
oci_admin_gc_touched(oci_admin_gc_t *gx, const struct stat *before, int fd)
{
    int64_t             b;
    struct stat         st;
    oci_admin_inode_t  *e;

    b = oci_admin_gc_stamp(gx, before);

    if (fstat(fd, &st) == -1 || st.st_nlink == 0) {
        return;
    }

    e = oci_admin_imap_get(&gx->inodes, st.st_dev, st.st_ino, 1);
    if (e == NULL) {
        /* it is only ever kept for longer */
        return;
    }

    e->a = oci_admin_ctime(&st);
    e->b = b;
}


static int
oci_admin_gc_repo_cb(void *data, int what, const char *name, size_t len)
{
    int                rc;
    oci_admin_repo_t   repo;
    oci_admin_gc_t    *gx = data;

    if (what == OCI_ADMIN_REPO_STRAY) {
        return OCI_ADMIN_OK;
    }

    if (what == OCI_ADMIN_REPO_INVALID
        || oci_admin_repo_init(&repo, gx->opt.storage, name, len) != 0)
    {
        oci_admin_warn("%s/repositories/%.*s: \"%.*s\" is not a valid "
                       "repository name, skipped", gx->opt.storage, (int) len,
                       name, (int) len, name);
        gx->invalid_names++;
        return OCI_ADMIN_OK;
    }

    gx->repositories++;

    rc = oci_admin_gc_mark(gx, &repo);

    oci_admin_gc_nodes_free(gx);
    oci_admin_gc_progress(gx, 0);

    return rc;
}


/* OCI_ADMIN_OK, or OCI_ADMIN_ABORT after a message (out of memory) */

static int
oci_admin_gc_mark(oci_admin_gc_t *gx, oci_admin_repo_t *repo)
{
    int                 rc;
    size_t              i, j, n, top, *stack;
    ssize_t             k;
    oci_gc_repo_t       r, *rs;
    oci_admin_ls_t      tags;
    oci_admin_set_t     keep;
    oci_gc_node_t      *node;
    oci_admin_digest_t  d;
    oci_gc_referrer_t  *refs;

    gx->unsure = NULL;

    rc = oci_admin_gc_nodes(gx, repo);
    if (rc != OCI_ADMIN_OK) {
        return rc;
    }

    n = gx->nnodes;
    gx->manifests += n;

    stack = malloc((n + 1) * sizeof(size_t));
    refs = malloc((n + 1) * sizeof(oci_gc_referrer_t));

    if (stack == NULL || refs == NULL) {
        free(stack);
        free(refs);
        oci_admin_warn("out of memory");
        return OCI_ADMIN_ABORT;
    }

    /* who refers to whom, by subject */

    for (i = 0, j = 0; i < n; i++) {
        if (gx->nodes[i].refs.subject) {
            refs[j].subject = gx->nodes[i].refs.subject;
            refs[j].node = i;
            j++;
        }
    }

    if (j) {
        qsort(refs, j, sizeof(oci_gc_referrer_t), oci_admin_gc_referrer_cmp);
    }

    /* the roots: tagged manifests, or all of them */

    top = 0;

    rc = oci_admin_tag_names(repo, &tags);

    if (rc == OCI_ADMIN_ERROR) {
        gx->unsure = "its tags cannot be read";
    }

    for (i = 0; gx->unsure == NULL && i < tags.n; i++) {
        rc = oci_admin_tag_read(repo, tags.e[i].name, &d);

        if (rc == OCI_ADMIN_CORRUPT || rc == OCI_ADMIN_ERROR) {
            snprintf(gx->unsure_buf, sizeof(gx->unsure_buf), "tag \"%s\" "
                     "cannot be read or holds no digest", tags.e[i].name);
            gx->unsure = gx->unsure_buf;
            break;
        }

        if (rc == OCI_ADMIN_OK) {
            k = oci_admin_gc_find(gx, d.str);

            if (k >= 0 && !gx->nodes[k].keep) {
                gx->nodes[k].keep = 1;
                stack[top++] = k;
            }
        }
    }

    oci_admin_ls_free(&tags);

    if (gx->unsure) {
        oci_admin_warn("%s: not collected: %s; \"oci-admin fsck\" tells "
                       "more", repo->path, gx->unsure);
        gx->skipped++;
        free(stack);
        free(refs);
        return OCI_ADMIN_OK;
    }

    for (i = 0; !gx->untagged && i < n; i++) {
        if (!gx->nodes[i].keep) {
            gx->nodes[i].keep = 1;
            stack[top++] = i;
        }
    }

    oci_admin_gc_closure(gx, refs, j, stack, top);

    /* then what only the graces keep, counted as such */

    top = 0;

    for (i = 0; i < n; i++) {
        node = &gx->nodes[i];

        if (node->keep) {
            continue;
        }

        if (!oci_admin_gc_old(gx, node->stamp, gx->grace)) {
            gx->kept_young++;

        } else if (node->refs.subject
                   && oci_admin_gc_find(gx, node->refs.subject) < 0
                   && !oci_admin_gc_old(gx, node->stamp, gx->orphan_grace))
        {
            gx->kept_orphans++;

        } else {
            continue;
        }

        node->keep = 1;
        stack[top++] = i;
    }

    oci_admin_gc_closure(gx, refs, j, stack, top);

    free(stack);
    free(refs);

    /* the candidates */

    memset(&r, 0, sizeof(oci_gc_repo_t));
    memset(&keep, 0, sizeof(oci_admin_set_t));

    rc = OCI_ADMIN_OK;

    for (i = 0; rc == OCI_ADMIN_OK && i < n; i++) {
        node = &gx->nodes[i];

        if (!node->keep) {
            if (oci_admin_gc_cand_add(&r.manifests, &r.nmanifests,
                                      node->digest, node->refs.subject,
                                      node->dev, node->ino, node->stamp)
                != 0)
            {
                rc = OCI_ADMIN_ABORT;
            }

            continue;
        }

        for (j = 0; j < node->refs.nblobs; j++) {
            if (oci_admin_set_add(&keep, node->refs.blobs[j],
                                  strlen(node->refs.blobs[j]))
                < 0)
            {
                rc = OCI_ADMIN_ABORT;
                break;
            }
        }
    }

    if (rc == OCI_ADMIN_OK) {
        rc = oci_admin_gc_links(gx, repo, &r, &keep);
    }

    oci_admin_set_free(&keep);

    if (rc != OCI_ADMIN_OK) {
        oci_admin_warn("out of memory");
        oci_admin_gc_repo_free(&r);
        return OCI_ADMIN_ABORT;
    }

    if (r.nmanifests == 0 && r.nblobs == 0) {
        return OCI_ADMIN_OK;
    }

    if (gx->nrepos == gx->repos_size) {
        n = gx->repos_size ? gx->repos_size * 2 : 16;

        rs = realloc(gx->repos, n * sizeof(oci_gc_repo_t));
        if (rs == NULL) {
            oci_admin_warn("out of memory");
            oci_admin_gc_repo_free(&r);
            return OCI_ADMIN_ABORT;
        }

        gx->repos = rs;
        gx->repos_size = n;
    }

    r.name = strdup(repo->name);
    if (r.name == NULL) {
        oci_admin_warn("out of memory");
        oci_admin_gc_repo_free(&r);
        return OCI_ADMIN_ABORT;
    }

    gx->repos[gx->nrepos++] = r;

    return OCI_ADMIN_OK;
}


/*
 * The repository's manifests, sorted by digest.  A manifest that cannot
 * be read or parsed leaves its references unknown: gx->unsure is set and
 * nothing of the repository is collected.
 */

static int
oci_admin_gc_nodes(oci_admin_gc_t *gx, oci_admin_repo_t *repo)
{
    int                 rc, n;
    char                path[OCI_ADMIN_PATH_LEN], digest[OCI_ADMIN_PATH_LEN];
    size_t              a, i;
    oci_admin_ls_t      files;
    oci_admin_digest_t  d;

    static const char  *alg[] = { "sha256", "sha512" };

    for (a = 0; a < 2; a++) {
        if (oci_admin_path(path, "%s/_manifests/%s", repo->path, alg[a]) < 0)
        {
            continue;
        }

        rc = oci_admin_ls(path, &files);

        if (rc == OCI_ADMIN_MISSING) {
            continue;
        }

        if (rc != OCI_ADMIN_OK) {
            gx->errors++;
            gx->unsure = "its manifests cannot be listed";
            return OCI_ADMIN_OK;
        }

        rc = OCI_ADMIN_OK;

        for (i = 0; rc == OCI_ADMIN_OK && i < files.n; i++) {
            n = oci_admin_path(digest, "%s:%s", alg[a], files.e[i].name);

            if (files.e[i].type != DT_REG || n < 0
                || oci_admin_digest_set(&d, digest, n) != 0)
            {
                continue;
            }

            rc = oci_admin_gc_node(gx, repo, &d);
        }

        oci_admin_ls_free(&files);

        if (rc != OCI_ADMIN_OK) {
            return rc;
        }
    }

    return OCI_ADMIN_OK;
}


static int
oci_admin_gc_node(oci_admin_gc_t *gx, oci_admin_repo_t *repo,
    oci_admin_digest_t *d)
{
    int              rc;
    size_t           size;
    int64_t          t;
    oci_gc_node_t   *node;
    oci_admin_mf_t   mf;

    rc = oci_admin_mf_read(repo, d, &mf);

    if (rc == OCI_ADMIN_MISSING) {
        oci_admin_mf_free(&mf);
        return OCI_ADMIN_OK;
    }

    if (rc != OCI_ADMIN_OK || !mf.hash_ok
        || mf.parse_rc != NGX_OCI_MANIFEST_OK)
    {
        snprintf(gx->unsure_buf, sizeof(gx->unsure_buf), "manifest %s is "
                 "%s", d->str,
                 rc == OCI_ADMIN_ERROR ? "unreadable"
                 : rc == OCI_ADMIN_OK && mf.hash_ok ? "not valid"
                 : "corrupt");
        gx->unsure = gx->unsure_buf;
        gx->errors += (rc == OCI_ADMIN_ERROR);
        oci_admin_mf_free(&mf);
        return OCI_ADMIN_OK;
    }

    if (gx->nnodes == gx->nodes_size) {
        size = gx->nodes_size ? gx->nodes_size * 2 : 64;

        node = realloc(gx->nodes, size * sizeof(oci_gc_node_t));
        if (node == NULL) {
            goto nomem;
        }

        gx->nodes = node;
        gx->nodes_size = size;
    }

    node = &gx->nodes[gx->nnodes];

    memset(node, 0, sizeof(oci_gc_node_t));

    if (oci_admin_refs_get(&mf.m, &node->refs) != 0) {
        goto nomem;
    }

    memcpy(node->digest, d->str, d->len + 1);
    node->dev = mf.st.st_dev;
    node->ino = mf.st.st_ino;
    node->stamp = oci_admin_stamp(&mf.st);

    if (mf.type_rc != OCI_ADMIN_MISSING) {
        t = oci_admin_stamp(&mf.type_st);

        if (t > node->stamp) {
            node->stamp = t;
        }
    }

    gx->nnodes++;

    oci_admin_mf_free(&mf);

    return OCI_ADMIN_OK;

nomem:

    oci_admin_warn("out of memory");
    oci_admin_mf_free(&mf);

    return OCI_ADMIN_ABORT;
}


/* keeps what the kept nodes on the stack lead to */

static void
oci_admin_gc_closure(oci_admin_gc_t *gx, oci_gc_referrer_t *refs,
    size_t nrefs, size_t *stack, size_t top)
{
    size_t              i, lo, hi, mid;
    ssize_t             k;
    oci_gc_node_t      *node;

    while (top) {
        node = &gx->nodes[stack[--top]];

        for (i = 0; i < node->refs.nchildren; i++) {
            k = oci_admin_gc_find(gx, node->refs.children[i]);

            if (k >= 0 && !gx->nodes[k].keep) {
                gx->nodes[k].keep = 1;
                stack[top++] = k;
            }
        }

        /* the first referrer of this node, then all that follow */

        lo = 0;
        hi = nrefs;

        while (lo < hi) {
            mid = (lo + hi) / 2;

            if (strcmp(refs[mid].subject, node->digest) < 0) {
                lo = mid + 1;

            } else {
                hi = mid;
            }
        }

        for (i = lo; i < nrefs && strcmp(refs[i].subject, node->digest) == 0;
             i++)
        {
            k = refs[i].node;

            if (!gx->nodes[k].keep) {
                gx->nodes[k].keep = 1;
                stack[top++] = k;
            }
        }
    }
}


static int
oci_admin_gc_referrer_cmp(const void *a, const void *b)
{
    const oci_gc_referrer_t  *x = a, *y = b;

    return strcmp(x->subject, y->subject);
}


static ssize_t
oci_admin_gc_find(oci_admin_gc_t *gx, const char *digest)
{
    int     c;
    size_t  lo, hi, mid;

    lo = 0;
    hi = gx->nnodes;

    while (lo < hi) {
        mid = (lo + hi) / 2;
        c = strcmp(gx->nodes[mid].digest, digest);

        if (c == 0) {
            return mid;
        }

        if (c < 0) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    return -1;
}


/* the repository's links to blobs that no kept manifest uses, if old */

static int
oci_admin_gc_links(oci_admin_gc_t *gx, oci_admin_repo_t *repo,
    oci_gc_repo_t *r, oci_admin_set_t *keep)
{
    int                 rc, n;
    char                path[OCI_ADMIN_PATH_LEN], digest[OCI_ADMIN_PATH_LEN];
    size_t              a, i;
    struct stat         st;
    oci_admin_ls_t      files;
    oci_admin_digest_t  d;

    static const char  *alg[] = { "sha256", "sha512" };

    for (a = 0; a < 2; a++) {
        if (oci_admin_path(path, "%s/_blobs/%s", repo->path, alg[a]) < 0) {
            continue;
        }

        rc = oci_admin_ls(path, &files);
        if (rc != OCI_ADMIN_OK) {
            gx->errors += (rc == OCI_ADMIN_ERROR);
            continue;
        }

        rc = OCI_ADMIN_OK;

        for (i = 0; rc == OCI_ADMIN_OK && i < files.n; i++) {
            n = oci_admin_path(digest, "%s:%s", alg[a], files.e[i].name);

            if (files.e[i].type != DT_REG || n < 0
                || oci_admin_digest_set(&d, digest, n) != 0)
            {
                continue;
            }

            gx->blob_links++;

            if (oci_admin_set_has(keep, d.str, d.len)
                || oci_admin_path(path, "%s/_blobs/%s/%s", repo->path,
                                  alg[a], files.e[i].name)
                   < 0
                || lstat(path, &st) == -1)
            {
                continue;
            }

            if (!oci_admin_gc_old(gx, oci_admin_gc_stamp(gx, &st),
                                  gx->grace))
            {
                gx->kept_young++;
                continue;
            }

            rc = oci_admin_gc_cand_add(&r->blobs, &r->nblobs, d.str, NULL,
                                       st.st_dev, st.st_ino,
                                       oci_admin_gc_stamp(gx, &st));
        }

        oci_admin_ls_free(&files);

        if (rc != OCI_ADMIN_OK) {
            return rc;
        }
    }

    return OCI_ADMIN_OK;
}


static int
oci_admin_gc_cand_add(oci_gc_cand_t **list, size_t *n, const char *digest,
    const char *subject, dev_t dev, ino_t ino, int64_t stamp)
{
    oci_gc_cand_t  *l, *c;

    if ((*n & (*n - 1)) == 0) {
        l = realloc(*list, (*n ? *n * 2 : 1) * sizeof(oci_gc_cand_t));
        if (l == NULL) {
            return OCI_ADMIN_ABORT;
        }

        *list = l;
    }

    c = &(*list)[*n];

    memset(c, 0, sizeof(oci_gc_cand_t));

    c->digest = strdup(digest);
    c->subject = subject ? strdup(subject) : NULL;
    c->dev = dev;
    c->ino = ino;
    c->stamp = stamp;

    if (c->digest == NULL || (subject && c->subject == NULL)) {
        free(c->digest);
        free(c->subject);
        return OCI_ADMIN_ABORT;
    }

    (*n)++;

    return OCI_ADMIN_OK;
}


static void
oci_admin_gc_repo_free(oci_gc_repo_t *r)
{
    size_t  i;

    for (i = 0; i < r->nmanifests; i++) {
        free(r->manifests[i].digest);
        free(r->manifests[i].subject);
    }

    for (i = 0; i < r->nblobs; i++) {
        free(r->blobs[i].digest);
    }

    free(r->manifests);
    free(r->blobs);
    free(r->name);

    memset(r, 0, sizeof(oci_gc_repo_t));
}


static void
oci_admin_gc_nodes_free(oci_admin_gc_t *gx)
{
    size_t  i;

    for (i = 0; i < gx->nnodes; i++) {
        oci_admin_refs_free(&gx->nodes[i].refs);
    }

    gx->nnodes = 0;
}


/*
 * One repository's candidates: whatever was pushed or tagged since the
 * start keeps what it refers to, then the rest goes.  OCI_ADMIN_OK, or
 * OCI_ADMIN_ABORT after a message.
 */

static int
oci_admin_gc_sweep(oci_admin_gc_t *gx, oci_gc_repo_t *r)
{
    int               fd;
    size_t            i, held;
    oci_admin_repo_t  repo;

    if (oci_admin_repo_init(&repo, gx->opt.storage, r->name, strlen(r->name))
        != 0)
    {
        return OCI_ADMIN_OK;
    }

    oci_admin_gc_rescan(gx, &repo, r);

    if (r->unsure) {
        goto unsure;
    }

    fd = -1;
    held = 0;

    for (i = 0; i < r->nmanifests && !r->unsure; i++) {
        if (r->manifests[i].keep) {
            continue;
        }

        if (gx->dry_run) {
            oci_admin_gc_pending(gx, &r->manifests[i]);
            gx->del_manifests++;
            gx->unindexed += (gx->redis_on && r->manifests[i].subject);
            continue;
        }

        /*
         * Tags change under this lock: none can name the manifest between
         * the last look at them and its removal
         */

        if (fd == -1) {
            fd = oci_admin_tags_lock(&repo);
            if (fd == -1) {
                gx->errors++;
                break;
            }

            oci_admin_gc_retag(gx, &repo, r);

            if (r->manifests[i].keep || r->unsure) {
                continue;
            }
        }

        oci_admin_gc_manifest(gx, &repo, r, &r->manifests[i]);

        /* the module retries for a second at most: let it in now and then */

        if (++held == 64) {
            close(fd);
            fd = -1;
            held = 0;
        }
    }

    if (fd != -1) {
        close(fd);
    }

    if (r->unsure) {
        goto unsure;
    }

    for (i = 0; i < r->nblobs; i++) {
        if (r->blobs[i].keep) {
            continue;
        }

        if (gx->dry_run) {
            oci_admin_gc_pending(gx, &r->blobs[i]);
            gx->del_links++;
            continue;
        }

        oci_admin_gc_link(gx, &repo, &r->blobs[i]);
    }

    oci_admin_set_free(&gx->visited);

    return OCI_ADMIN_OK;

unsure:

    oci_admin_warn("%s: not collected: a manifest it refers to cannot be "
                   "read or is not valid; \"oci-admin fsck\" tells more",
                   repo.path);
    gx->skipped++;

    oci_admin_set_free(&gx->visited);

    return OCI_ADMIN_OK;
}


/*
 * Manifests pushed since the start (their link or ".type" is newer), or
 * for candidates, since the mark; and manifests tags name now: they are
 * kept, and what they refer to
 */

static void
oci_admin_gc_rescan(oci_admin_gc_t *gx, oci_admin_repo_t *repo,
    oci_gc_repo_t *r)
{
    int                 n;
    char                path[OCI_ADMIN_PATH_LEN], digest[OCI_ADMIN_PATH_LEN];
    size_t              a, i;
    int64_t             stamp, t;
    struct stat         st;
    oci_gc_cand_t      *c;
    oci_admin_ls_t      files;
    oci_admin_digest_t  d;

    static const char  *alg[] = { "sha256", "sha512" };

    for (a = 0; a < 2; a++) {
        if (oci_admin_path(path, "%s/_manifests/%s", repo->path, alg[a]) < 0
            || oci_admin_ls(path, &files) != OCI_ADMIN_OK)
        {
            continue;
        }

        for (i = 0; i < files.n && !r->unsure; i++) {
            n = oci_admin_path(digest, "%s:%s", alg[a], files.e[i].name);

            if (files.e[i].type != DT_REG || n < 0
                || oci_admin_digest_set(&d, digest, n) != 0
                || oci_admin_path(path, "%s/_manifests/%s/%s.type",
                                  repo->path, alg[a], files.e[i].name)
                   < 0)
            {
                continue;
            }

            stamp = 0;

            if (lstat(path, &st) == 0) {
                stamp = oci_admin_gc_stamp(gx, &st);
            }

            path[strlen(path) - (sizeof(".type") - 1)] = '\0';

            if (lstat(path, &st) == 0) {
                t = oci_admin_gc_stamp(gx, &st);
                stamp = t > stamp ? t : stamp;
            }

            c = oci_admin_gc_cand_find(r->manifests, r->nmanifests, d.str);

            if (c ? stamp > c->stamp : stamp >= gx->t0) {
                oci_admin_gc_unmark(gx, repo, r, d.str, 0);
            }
        }

        oci_admin_ls_free(&files);
    }

    oci_admin_gc_retag(gx, repo, r);
}


/* the manifests the tags name now are kept */

static void
oci_admin_gc_retag(oci_admin_gc_t *gx, oci_admin_repo_t *repo,
    oci_gc_repo_t *r)
{
    int                 rc;
    size_t              i;
    oci_admin_ls_t      tags;
    oci_admin_digest_t  d;

    rc = oci_admin_tag_names(repo, &tags);

    if (rc == OCI_ADMIN_ERROR) {
        r->unsure = 1;
        return;
    }

    for (i = 0; i < tags.n && !r->unsure; i++) {
        rc = oci_admin_tag_read(repo, tags.e[i].name, &d);

        if (rc == OCI_ADMIN_OK) {
            oci_admin_gc_unmark(gx, repo, r, d.str, 0);

        } else if (rc != OCI_ADMIN_MISSING) {
            r->unsure = 1;
        }
    }

    oci_admin_ls_free(&tags);
}


/*
 * The manifest is to be kept, and so is what it refers to: its config
 * and layers, its index entries and its referrers, recursively.  Only
 * candidates need looking at: anything else is kept already.
 */

static void
oci_admin_gc_unmark(oci_admin_gc_t *gx, oci_admin_repo_t *repo,
    oci_gc_repo_t *r, const char *digest, int depth)
{
    int                 rc;
    size_t              i;
    oci_gc_cand_t      *c;
    oci_admin_mf_t      mf;
    oci_admin_refs_t    refs;
    oci_admin_digest_t  d;

    if (depth > OCI_GC_DEPTH) {
        r->unsure = 1;
        return;
    }

    c = oci_admin_gc_cand_find(r->manifests, r->nmanifests, digest);

    if (c) {
        if (c->keep) {
            return;
        }

        c->keep = 1;

    } else {
        rc = oci_admin_set_add(&gx->visited, digest, strlen(digest));

        if (rc == 0) {
            return;
        }

        if (rc < 0) {
            r->unsure = 1;
            return;
        }
    }

    if (oci_admin_digest_set(&d, digest, strlen(digest)) != 0) {
        return;
    }

    rc = oci_admin_mf_read(repo, &d, &mf);

    if (rc == OCI_ADMIN_MISSING) {
        oci_admin_mf_free(&mf);
        return;
    }

    if (rc != OCI_ADMIN_OK || !mf.hash_ok
        || mf.parse_rc != NGX_OCI_MANIFEST_OK
        || oci_admin_refs_get(&mf.m, &refs) != 0)
    {
        oci_admin_mf_free(&mf);
        r->unsure = 1;
        return;
    }

    oci_admin_mf_free(&mf);

    for (i = 0; i < refs.nblobs; i++) {
        c = oci_admin_gc_cand_find(r->blobs, r->nblobs, refs.blobs[i]);

        if (c) {
            c->keep = 1;
        }
    }

    for (i = 0; i < refs.nchildren && !r->unsure; i++) {
        oci_admin_gc_unmark(gx, repo, r, refs.children[i], depth + 1);
    }

    oci_admin_refs_free(&refs);

    for (i = 0; i < r->nmanifests && !r->unsure; i++) {
        c = &r->manifests[i];

        if (!c->keep && c->subject && strcmp(c->subject, digest) == 0) {
            oci_admin_gc_unmark(gx, repo, r, c->digest, depth + 1);
        }
    }
}


static oci_gc_cand_t *
oci_admin_gc_cand_find(oci_gc_cand_t *list, size_t n, const char *digest)
{
    int     c;
    size_t  lo, hi, mid;

    lo = 0;
    hi = n;

    while (lo < hi) {
        mid = (lo + hi) / 2;
        c = strcmp(list[mid].digest, digest);

        if (c == 0) {
            return &list[mid];
        }

        if (c < 0) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    return NULL;
}


/*
 * As the module deletes a manifest: ".type" first, then the link.  The
 * tags need no change: a manifest a tag names is never a candidate.
 */

static void
oci_admin_gc_manifest(oci_admin_gc_t *gx, oci_admin_repo_t *repo,
    oci_gc_repo_t *r, oci_gc_cand_t *c)
{
    int                 fd;
    char                path[OCI_ADMIN_PATH_LEN], type[OCI_ADMIN_PATH_LEN];
    struct stat         st, tst;
    oci_admin_digest_t  d;

    if (oci_admin_digest_set(&d, c->digest, strlen(c->digest)) != 0
        || oci_admin_path(path, "%s/_manifests/%s/%s", repo->path,
                          oci_admin_digest_alg(&d), oci_admin_digest_hex(&d))
           < 0
        || oci_admin_path(type, "%s.type", path) < 0)
    {
        return;
    }

    fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd == -1) {
        /* deleted meanwhile */
        return;
    }

    /* pushed again since the mark: it stays, and what it refers to */

    if (fstat(fd, &st) == -1 || st.st_dev != c->dev || st.st_ino != c->ino
        || oci_admin_gc_stamp(gx, &st) > c->stamp
        || (lstat(type, &tst) == 0 && oci_admin_gc_stamp(gx, &tst) > c->stamp))
    {
        close(fd);
        gx->changed++;
        oci_admin_gc_unmark(gx, repo, r, c->digest, 0);
        return;
    }

    if (unlink(type) != 0 && errno != ENOENT) {
        oci_admin_warn("%s: unlink(): %s", type, strerror(errno));
        gx->errors++;
        close(fd);
        return;
    }

    if (unlink(path) != 0) {
        oci_admin_warn("%s: unlink(): %s", path, strerror(errno));
        gx->errors++;
        close(fd);
        return;
    }

    oci_admin_gc_touched(gx, &st, fd);
    close(fd);

    gx->del_manifests++;

    if (gx->redis_on && c->subject) {
        oci_admin_gc_unindex(gx, repo, c);
    }
}


static void
oci_admin_gc_link(oci_admin_gc_t *gx, oci_admin_repo_t *repo,
    oci_gc_cand_t *c)
{
    int                 fd;
    char                path[OCI_ADMIN_PATH_LEN];
    struct stat         st;
    oci_admin_digest_t  d;

    if (oci_admin_digest_set(&d, c->digest, strlen(c->digest)) != 0
        || oci_admin_path(path, "%s/_blobs/%s/%s", repo->path,
                          oci_admin_digest_alg(&d), oci_admin_digest_hex(&d))
           < 0)
    {
        return;
    }

    fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd == -1) {
        return;
    }

    /* linked anew since the mark: an upload that has no manifest yet */

    if (fstat(fd, &st) == -1 || st.st_dev != c->dev || st.st_ino != c->ino
        || oci_admin_gc_stamp(gx, &st) > c->stamp)
    {
        close(fd);
        gx->changed++;
        return;
    }

    if (unlink(path) != 0) {
        oci_admin_warn("%s: unlink(): %s", path, strerror(errno));
        gx->errors++;
        close(fd);
        return;
    }

    oci_admin_gc_touched(gx, &st, fd);
    close(fd);

    gx->del_links++;
}


/* --dry-run: one link of the inode less, for the blobs/ pass */

static void
oci_admin_gc_pending(oci_admin_gc_t *gx, oci_gc_cand_t *c)
{
    oci_admin_inode_t  *e;

    e = oci_admin_imap_get(&gx->inodes, c->dev, c->ino, 1);
    if (e) {
        e->n++;
    }
}


/* ZREM and HDEL, as the module does when a referrer is deleted */

static void
oci_admin_gc_unindex(oci_admin_gc_t *gx, oci_admin_repo_t *repo,
    oci_gc_cand_t *c)
{
    int           rc;
    char         *refs, *desc;
    size_t        size, refs_len, desc_len, dlen;
    const char   *argv[3];
    size_t        argvlen[3];

    static const char  *multi[] = { "MULTI" }, *exec[] = { "EXEC" };
    static size_t       multi_len[] = { 5 }, exec_len[] = { 4 };

    if (gx->redis_failed) {
        return;
    }

    size = gx->opt.prefix_len + repo->name_len + strlen(c->subject) + 16;

    refs = malloc(size);
    desc = malloc(size);

    if (refs == NULL || desc == NULL) {
        free(refs);
        free(desc);
        oci_admin_warn("out of memory");
        gx->errors++;
        return;
    }

    refs_len = ngx_oci_index_key((u_char *) refs, size,
                                    (u_char *) gx->opt.prefix,
                                    gx->opt.prefix_len,
                                    (u_char *) repo->name, repo->name_len,
                                    (u_char *) c->subject,
                                    strlen(c->subject),
                                    NGX_OCI_INDEX_REFS);
    desc_len = ngx_oci_index_key((u_char *) desc, size,
                                    (u_char *) gx->opt.prefix,
                                    gx->opt.prefix_len,
                                    (u_char *) repo->name, repo->name_len,
                                    (u_char *) c->subject,
                                    strlen(c->subject),
                                    NGX_OCI_INDEX_DESC);

    dlen = strlen(c->digest);

    rc = oci_admin_redis_write(&gx->redis, 1, multi, multi_len);

    if (rc == 0) {
        argv[0] = "ZREM";
        argvlen[0] = 4;
        argv[1] = refs;
        argvlen[1] = refs_len;
        argv[2] = c->digest;
        argvlen[2] = dlen;

        rc = oci_admin_redis_write(&gx->redis, 3, argv, argvlen);
    }

    if (rc == 0) {
        argv[0] = "HDEL";
        argv[1] = desc;
        argvlen[1] = desc_len;

        rc = oci_admin_redis_write(&gx->redis, 3, argv, argvlen);
    }

    if (rc == 0) {
        rc = oci_admin_redis_write(&gx->redis, 1, exec, exec_len);
    }

    free(refs);
    free(desc);

    if (rc != 0) {
        gx->redis_failed = 1;
        return;
    }

    gx->unindexed++;
}


static void
oci_admin_gc_blobs(oci_admin_gc_t *gx)
{
    int                 n;
    char                path[OCI_ADMIN_PATH_LEN], digest[OCI_ADMIN_PATH_LEN];
    size_t              a, x, i;
    oci_admin_ls_t      dirs, files;
    oci_admin_digest_t  d;

    static const char  *alg[] = { "sha256", "sha512" };

    for (a = 0; a < 2; a++) {
        if (oci_admin_path(path, "%s/blobs/%s", gx->opt.storage, alg[a]) < 0
            || oci_admin_ls(path, &dirs) != OCI_ADMIN_OK)
        {
            continue;
        }

        for (x = 0; x < dirs.n; x++) {
            if (dirs.e[x].type != DT_DIR
                || oci_admin_path(path, "%s/blobs/%s/%s", gx->opt.storage,
                                  alg[a], dirs.e[x].name)
                   < 0
                || oci_admin_ls(path, &files) != OCI_ADMIN_OK)
            {
                continue;
            }

            for (i = 0; i < files.n; i++) {
                n = oci_admin_path(digest, "%s:%s", alg[a], files.e[i].name);

                /* strays are for fsck to report, and a human to judge */

                if (files.e[i].type != DT_REG || n < 0
                    || oci_admin_digest_set(&d, digest, n) != 0
                    || strncmp(files.e[i].name, dirs.e[x].name, 2) != 0
                    || oci_admin_path(path, "%s/blobs/%s/%s/%s",
                                      gx->opt.storage, alg[a], dirs.e[x].name,
                                      files.e[i].name)
                       < 0)
                {
                    continue;
                }

                oci_admin_gc_blob(gx, path);
            }

            oci_admin_ls_free(&files);
        }

        oci_admin_ls_free(&dirs);
    }
}


/*
 * A file of blobs/ goes when it is its inode's only link, and old.  A
 * push that links it in the moment between the check and the unlink
 * finds it gone (and fails) or has linked it: then it is put back.
 */

static void
oci_admin_gc_blob(oci_admin_gc_t *gx, const char *path)
{
    int                 fd;
    char                proc[64];
    nlink_t             links;
    struct stat         st, fst;
    oci_admin_inode_t  *e;

    gx->blob_files++;

    oci_admin_gc_progress(gx, 0);

    if (lstat(path, &st) == -1 || !S_ISREG(st.st_mode)) {
        return;
    }

    links = st.st_nlink;

    if (gx->dry_run) {
        e = oci_admin_imap_get(&gx->inodes, st.st_dev, st.st_ino, 0);

        if (e && e->n < links) {
            links -= e->n;
        }
    }

    if (links != 1) {
        return;
    }

    if (!oci_admin_gc_old(gx, oci_admin_gc_stamp(gx, &st), gx->grace)) {
        gx->kept_young++;
        return;
    }

    if (gx->dry_run) {
        gx->del_files++;
        gx->del_bytes += st.st_size;
        return;
    }

    fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd == -1) {
        return;
    }

    if (fstat(fd, &fst) == -1 || fst.st_ino != st.st_ino
        || fst.st_dev != st.st_dev || fst.st_nlink != 1
        || oci_admin_gc_stamp(gx, &fst) != oci_admin_gc_stamp(gx, &st))
    {
        close(fd);
        gx->changed++;
        return;
    }

    if (unlink(path) != 0) {
        oci_admin_warn("%s: unlink(): %s", path, strerror(errno));
        gx->errors++;
        close(fd);
        return;
    }

    if (fstat(fd, &fst) == 0 && fst.st_nlink > 0) {
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);

        if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) != 0
            && errno != EEXIST)
        {
            oci_admin_warn("%s: linked by a push while being deleted, and "
                           "cannot be put back: %s; \"oci-admin fsck "
                           "--repair\" links it again", path,
                           strerror(errno));
            gx->errors++;
        }

        close(fd);
        gx->changed++;
        return;
    }

    close(fd);

    gx->del_files++;
    gx->del_bytes += st.st_size;
}


/*
 * Files the module left in _tmp/ and _uploads/: its sweeper removes them
 * after oci_upload_timeout while nginx runs; these are a day past the
 * grace.  A session's data file another process holds locked stays.
 */

static void
oci_admin_gc_tmp(oci_admin_gc_t *gx, const char *dir, int uploads)
{
    int             fd;
    char            path[OCI_ADMIN_PATH_LEN];
    size_t          i, len;
    struct stat     st;
    oci_admin_ls_t  ls;

    if (oci_admin_path(path, "%s/%s", gx->opt.storage, dir) < 0
        || oci_admin_ls(path, &ls) != OCI_ADMIN_OK)
    {
        return;
    }

    for (i = 0; i < ls.n; i++) {
        if (ls.e[i].type != DT_REG
            || oci_admin_path(path, "%s/%s/%s", gx->opt.storage, dir,
                              ls.e[i].name)
               < 0
            || lstat(path, &st) == -1
            || !oci_admin_gc_old(gx, oci_admin_mtime(&st),
                                 gx->grace + OCI_GC_TMP_EXTRA))
        {
            continue;
        }

        len = strlen(ls.e[i].name);
        fd = -1;

        if (uploads && len > 5 && strcmp(ls.e[i].name + len - 5, ".data") == 0)
        {
            fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

            if (fd == -1 || flock(fd, LOCK_EX | LOCK_NB) == -1) {
                if (fd != -1) {
                    close(fd);
                }

                continue;
            }
        }

        if (!gx->dry_run && unlink(path) != 0) {
            if (errno != ENOENT) {
                oci_admin_warn("%s: unlink(): %s", path, strerror(errno));
                gx->errors++;
            }

        } else {
            gx->del_tmp++;
            gx->tmp_bytes += st.st_nlink == 1 ? (uint64_t) st.st_size : 0;
        }

        if (fd != -1) {
            close(fd);
        }
    }

    oci_admin_ls_free(&ls);
}


static int
oci_admin_gc_report(oci_admin_gc_t *gx)
{
    int      rc;
    char    *s;
    double   seconds;
    json_t  *o;

    seconds = oci_admin_now() - gx->start;

    if (!gx->opt.json) {
        printf("gc%s: %llu repositories, %llu manifests, %llu blob links, "
               "%llu blob files; %s %llu manifests, %llu blob links, %llu "
               "blob files (%llu bytes), %llu temporary files (%llu bytes); "
               "kept %llu younger than the grace, %llu orphaned referrers, "
               "%llu changed during the run; %llu referrers unindexed; "
               "%llu repositories skipped, %llu errors; %.2f s\n",
               gx->dry_run ? " (dry run)" : "",
               (unsigned long long) gx->repositories,
               (unsigned long long) gx->manifests,
               (unsigned long long) gx->blob_links,
               (unsigned long long) gx->blob_files,
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

    seconds = (double) (long long) (seconds * 1000 + 0.5) / 1000;

    o = json_pack("{sbsbsIsIsIsIsIsIsIsIsIsIsIsIsIsIsIsIsf}",
                  "dry_run", gx->dry_run,
                  "untagged", gx->untagged,
                  "repositories", (json_int_t) gx->repositories,
                  "manifests", (json_int_t) gx->manifests,
                  "blob_links", (json_int_t) gx->blob_links,
                  "blob_files", (json_int_t) gx->blob_files,
                  "deleted_manifests", (json_int_t) gx->del_manifests,
                  "deleted_blob_links", (json_int_t) gx->del_links,
                  "deleted_blob_files", (json_int_t) gx->del_files,
                  "freed_bytes", (json_int_t) gx->del_bytes,
                  "deleted_temporary", (json_int_t) gx->del_tmp,
                  "temporary_bytes", (json_int_t) gx->tmp_bytes,
                  "kept_young", (json_int_t) gx->kept_young,
                  "kept_orphans", (json_int_t) gx->kept_orphans,
                  "changed", (json_int_t) gx->changed,
                  "unindexed", (json_int_t) gx->unindexed,
                  "skipped_repositories", (json_int_t) gx->skipped,
                  "errors", (json_int_t) gx->errors,
                  "seconds", seconds);

    if (o == NULL) {
        oci_admin_warn("out of memory");
        return -1;
    }

    s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));

    json_decref(o);

    if (s == NULL) {
        oci_admin_warn("out of memory");
        return -1;
    }

    rc = printf("%s\n", s) < 0 || fflush(stdout) != 0 ? -1 : 0;

    free(s);

    return rc;
}
