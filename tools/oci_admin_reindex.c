
/*
 * oci-admin reindex: makes the referrers index in Redis (docs/admin.md,
 * src/ngx_oci_index_schema.h) equal to what the storage holds.
 *
 * Each repository is walked, then its index is synchronized at once, so a
 * registry serving meanwhile races with the tool on one repository's
 * recent changes only:
 *
 *   - every stored manifest with a "subject", and every stored manifest
 *     listed by a fallback tag "<alg>-<hex>" (an image index), is the
 *     entry the index must have for that subject, with the descriptor
 *     ngx_oci_index_descriptor() gives: missing entries are added,
 *     different ones rewritten;
 *   - members of the index that the walk did not find are looked at again
 *     on disk, then removed unless they now turn out to be referrers;
 *   - then SCAN finds the index keys of (repository, subject) pairs the
 *     walk did not see at all, and the same goes for their members;
 *   - then the catalog is made to list exactly the repositories walked;
 *   - once Redis has taken every change, the registry's cached pages of
 *     every repository are dropped (they may list what the index had
 *     before), so the answers after a reindex are those of the index.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ngx_oci_index_schema.h"
#include "oci_admin_array.h"
#include "oci_admin_message.h"
#include "oci_admin_referrers.h"
#include "oci_admin_reindex.h"
#include "oci_admin_reindex_catalog.h"
#include "oci_admin_reindex_scan.h"
#include "oci_admin_walk.h"


static void oci_admin_reindex_progress(oci_admin_reindex_t *rx);
static int oci_admin_reindex_pages(oci_admin_walk_t *w,
    oci_admin_repo_t *repo);
static int oci_admin_reindex_skip(oci_admin_walk_t *w, const char *name,
    size_t len);
static int oci_admin_reindex_repo(oci_admin_walk_t *w,
    oci_admin_repo_t *repo);
static int oci_admin_reindex_manifest(oci_admin_walk_t *w,
    oci_admin_repo_t *repo, oci_admin_digest_t *d);
static int oci_admin_reindex_tag(oci_admin_walk_t *w, oci_admin_repo_t *repo,
    const char *tag);
static int oci_admin_reindex_listed(oci_admin_reindex_t *rx,
    oci_admin_repo_t *repo, oci_admin_digest_t *s, oci_admin_digest_t *d);
static int oci_admin_reindex_add(oci_admin_reindex_t *rx,
    const char *subject, oci_admin_digest_t *d, oci_admin_manifest_t *mf,
    int fallback);
static void oci_admin_reindex_entries_free(oci_admin_reindex_t *rx);
static int oci_admin_referrer_cmp(const void *a, const void *b);
static int oci_admin_reindex_repo_done(oci_admin_walk_t *w,
    oci_admin_repo_t *repo);
static void oci_admin_reindex_unique(oci_admin_reindex_t *rx);
static int oci_admin_reindex_rest(oci_admin_reindex_t *rx);
static int oci_admin_reindex_end(oci_admin_reindex_t *rx,
    oci_admin_walk_t *w, int rc);
static int oci_admin_reindex_report(oci_admin_reindex_t *rx);
static int oci_admin_reindex_option(void *data, int c, char *arg);


static const char  oci_admin_reindex_usage[] =
"usage: oci-admin reindex --storage <root> --redis <addr> [options]\n"
"\n"
"Rebuilds the referrers index in Redis from the manifests in the storage:\n"
"adds what is missing, rewrites wrong descriptors, removes entries whose\n"
"manifest is not stored; and the catalog, the repositories that hold\n"
"manifests.  A second run changes nothing.\n"
"\n"
"  --storage <root>   the oci_storage directory\n"
"  --redis <addr>     host[:port], [v6]:port or unix:/path, as oci_redis;\n"
"                     sentinel=host:port,... (with --master) or\n"
"                     cluster=host:port,... (every master is scanned)\n"
"  --master <name>    the master's name the sentinels know\n"
"  --password <pw>    AUTH with this password (default: $REDISCLI_AUTH)\n"
"  --db <n>           database number (default: 0)\n"
"  --prefix <p>       key prefix, as oci_redis_prefix (default: \"oci:\")\n"
"  --dry-run          change nothing, count what would change\n"
"  --json             print the summary as a JSON object\n"
"  --quiet            no progress line on a terminal\n"
"  --help             this text\n"
"\n"
"exit status: 0 done, 1 usage error, 2 Redis unreachable or failing,\n"
"3 corrupt content found (and skipped, the rest indexed), 4 other errors\n"
"(on stderr)\n";


static const struct option  oci_admin_reindex_long[] = {
    OCI_ADMIN_OPTION_STORAGE,
    OCI_ADMIN_OPTIONS_REDIS,
    { "dry-run",       no_argument,       NULL, 'n' },
    OCI_ADMIN_OPTIONS_OUTPUT,
    { NULL, 0, NULL, 0 }
};

static const oci_admin_getopt_t  oci_admin_reindex_getopt = {
    "reindex", oci_admin_reindex_long, oci_admin_reindex_usage,
    oci_admin_reindex_option, 1, 0, 0
};


static int
oci_admin_reindex_option(void *data, int c, char *arg)
{
    oci_admin_reindex_t  *rx = data;

    (void) arg;

    if (c != 'n') {
        return 1;
    }

    rx->dry_run = 1;

    return 0;
}


int
oci_admin_reindex(int argc, char **argv)
{
    int                  rc;
    oci_admin_walk_t     w, w2;
    oci_admin_reindex_t  rx;

    memset(&rx, 0, sizeof(oci_admin_reindex_t));

    rc = oci_admin_options(&rx.opt, &oci_admin_reindex_getopt, &rx, argc,
                           argv);
    if (rc != -1) {
        return rc;
    }

    rx.start = oci_admin_now();

    rc = oci_admin_options_redis(&rx.opt, &rx.redis);
    if (rc != OCI_ADMIN_EXIT_OK) {
        return rc;
    }

    memset(&w, 0, sizeof(oci_admin_walk_t));

    w.root = rx.opt.storage;
    w.data = &rx;
    w.manifests_only = 1;
    w.repo = oci_admin_reindex_repo;
    w.manifest = oci_admin_reindex_manifest;
    w.tag = oci_admin_reindex_tag;
    w.repo_done = oci_admin_reindex_repo_done;

    rc = oci_admin_walk(&w);

    oci_admin_reindex_entries_free(&rx);
    free(rx.entries);

    if (rc == OCI_ADMIN_OK) {
        rc = oci_admin_reindex_rest(&rx);
    }

    if (rc == OCI_ADMIN_OK) {
        rc = oci_admin_reindex_catalog(&rx);
    }

    while (rx.ncatalog) {
        free(rx.catalog[--rx.ncatalog]);
    }

    free(rx.catalog);

    if (rc == OCI_ADMIN_OK && oci_admin_redis_flush(&rx.redis) != 0) {
        rx.redis_failed = 1;
        rc = OCI_ADMIN_ABORT;
    }

    /* whatever Redis took, pages rendered before may disagree with it */

    if (!rx.dry_run) {
        memset(&w2, 0, sizeof(oci_admin_walk_t));
        w2.root = rx.opt.storage;
        w2.data = &rx;
        w2.repo = oci_admin_reindex_pages;
        w2.invalid = oci_admin_reindex_skip;

        (void) oci_admin_walk(&w2);
    }

    oci_admin_progress_end();

    rx.errors += w.errors + rx.redis.errors;

    oci_admin_redis_close(&rx.redis);
    oci_admin_set_free(&rx.done);

    return oci_admin_reindex_end(&rx, &w, rc);
}


static int
oci_admin_reindex_pages(oci_admin_walk_t *w, oci_admin_repo_t *repo)
{
    oci_admin_reindex_t  *rx = w->data;

    if (oci_admin_pages_drop(repo, NULL) != 0) {
        rx->errors++;
    }

    return OCI_ADMIN_SKIP;
}


/* the first walk warned about it already */

static int
oci_admin_reindex_skip(oci_admin_walk_t *w, const char *name, size_t len)
{
    (void) w;
    (void) name;
    (void) len;

    return OCI_ADMIN_OK;
}


static void
oci_admin_reindex_progress(oci_admin_reindex_t *rx)
{
    oci_admin_progress("reindex: %llu repositories, %llu manifests, "
                       "%llu indexed, %.1f s",
                       (unsigned long long) rx->repositories,
                       (unsigned long long) rx->manifests,
                       (unsigned long long) rx->referrers,
                       oci_admin_now() - rx->start);
}


static int
oci_admin_reindex_repo(oci_admin_walk_t *w, oci_admin_repo_t *repo)
{
    oci_admin_reindex_t  *rx = w->data;

    rx->repositories++;

    oci_admin_reindex_entries_free(rx);
    oci_admin_reindex_progress(rx);

    return oci_admin_reindex_catalog_add(rx, repo->name, repo->name_len);
}


static int
oci_admin_reindex_manifest(oci_admin_walk_t *w, oci_admin_repo_t *repo,
    oci_admin_digest_t *d)
{
    int                    rc;
    oci_admin_digest_t     s;
    oci_admin_manifest_t   mf;
    oci_admin_reindex_t   *rx = w->data;

    rx->manifests++;

    oci_admin_reindex_progress(rx);

    rc = oci_admin_manifest_load(repo, d, &mf);

    if (rc == OCI_ADMIN_CORRUPT) {
        oci_admin_manifest_warn(repo, d, "corrupt, skipped: ", mf.reason);
        rx->corrupt++;

    } else if (rc == OCI_ADMIN_ERROR) {
        oci_admin_manifest_warn(repo, d, "", mf.reason);
        rx->errors++;

    } else if (rc == OCI_ADMIN_OK
               && oci_admin_manifest_subject(&mf, &s) == 0)
    {
        /* OCI_ADMIN_MISSING: removed meanwhile, or half deleted */
        rc = oci_admin_reindex_add(rx, s.str, d, &mf, 0);
    }

    oci_admin_manifest_free(&mf);

    return rc == OCI_ADMIN_ABORT ? OCI_ADMIN_ABORT : OCI_ADMIN_OK;
}


/* a fallback tag: its index lists referrers of the subject it names */

static int
oci_admin_reindex_tag(oci_admin_walk_t *w, oci_admin_repo_t *repo,
    const char *tag)
{
    int                    rc;
    size_t                 i, n;
    oci_admin_digest_t     s, d;
    oci_admin_manifest_t   index;
    oci_admin_reindex_t   *rx = w->data;

    if (!oci_admin_fallback_tag_valid(tag)) {
        return OCI_ADMIN_OK;
    }

    /* a corrupt index was reported by the manifest walk already */

    rc = oci_admin_fallback_load(repo, tag, &index);

    if (rc == OCI_ADMIN_OK) {
        rc = oci_admin_fallback_subject(repo, tag, &index, &s);
        rx->errors += (rc == OCI_ADMIN_ERROR);
    }

    n = (rc == OCI_ADMIN_OK) ? json_array_size(index.m.manifests) : 0;

    for (i = 0; rc == OCI_ADMIN_OK && i < n; i++) {
        if (oci_admin_manifest_child(&index, i, &d) == 0) {
            rc = oci_admin_reindex_listed(rx, repo, &s, &d);
        }
    }

    oci_admin_manifest_free(&index);

    return rc == OCI_ADMIN_ABORT ? OCI_ADMIN_ABORT : OCI_ADMIN_OK;
}


/* an entry d of the fallback index of subject s */

static int
oci_admin_reindex_listed(oci_admin_reindex_t *rx, oci_admin_repo_t *repo,
    oci_admin_digest_t *s, oci_admin_digest_t *d)
{
    int                    rc;
    oci_admin_manifest_t   mf;

    rc = oci_admin_manifest_load(repo, d, &mf);

    switch (rc) {

    case OCI_ADMIN_OK:
        rc = oci_admin_reindex_add(rx, s->str, d, &mf, 1);
        break;

    case OCI_ADMIN_MISSING:
        /* never listed: the registry lists stored manifests only */
        rx->fallback_missing++;
        rc = OCI_ADMIN_OK;
        break;

    case OCI_ADMIN_CORRUPT:
        /* reported by the manifest walk */
        rc = OCI_ADMIN_OK;
        break;

    default:
        oci_admin_manifest_warn(repo, d, "", mf.reason);
        rx->errors++;
        rc = OCI_ADMIN_OK;
        break;
    }

    oci_admin_manifest_free(&mf);

    return rc;
}


/* OCI_ADMIN_OK, or OCI_ADMIN_ABORT after a message */

static int
oci_admin_reindex_add(oci_admin_reindex_t *rx, const char *subject,
    oci_admin_digest_t *d, oci_admin_manifest_t *mf, int fallback)
{
    oci_admin_referrer_t  *e;

    e = oci_admin_array_room(rx->entries, rx->nentries, &rx->entries_size,
                             sizeof(oci_admin_referrer_t), 64);
    if (e == NULL) {
        goto nomem;
    }

    rx->entries = e;
    e = &rx->entries[rx->nentries];

    e->subject = strdup(subject);
    e->digest = strdup(d->str);
    e->descriptor = ngx_oci_index_descriptor(&mf->m, d->str, mf->len);
    e->fallback = fallback;

    if (e->subject == NULL || e->digest == NULL || e->descriptor == NULL) {
        free(e->subject);
        free(e->digest);
        free(e->descriptor);
        goto nomem;
    }

    rx->nentries++;

    return OCI_ADMIN_OK;

nomem:

    oci_admin_warn("out of memory");
    rx->errors++;

    return OCI_ADMIN_ABORT;
}


static void
oci_admin_reindex_entries_free(oci_admin_reindex_t *rx)
{
    size_t  i;

    for (i = 0; i < rx->nentries; i++) {
        free(rx->entries[i].subject);
        free(rx->entries[i].digest);
        free(rx->entries[i].descriptor);
    }

    rx->nentries = 0;
}


static int
oci_admin_referrer_cmp(const void *a, const void *b)
{
    int                          rc;
    const oci_admin_referrer_t  *x = a, *y = b;

    rc = strcmp(x->subject, y->subject);

    return rc ? rc : strcmp(x->digest, y->digest);
}


/* the repository's entries go to Redis, a subject at a time */

static int
oci_admin_reindex_repo_done(oci_admin_walk_t *w, oci_admin_repo_t *repo)
{
    int                    rc;
    size_t                 i, j, n;
    oci_admin_batch_t      b;
    oci_admin_group_t     *g;
    oci_admin_referrer_t  *e;
    oci_admin_reindex_t   *rx = w->data;

    oci_admin_reindex_unique(rx);

    e = rx->entries;
    n = rx->nentries;

    b.n = 0;
    rc = OCI_ADMIN_OK;

    for (i = 0; rc == OCI_ADMIN_OK && i < n; i = j) {
        for (j = i + 1; j < n && strcmp(e[j].subject, e[i].subject) == 0;
             j++)
        {
            /* void */
        }

        g = oci_admin_batch_next(&b);

        g->repo = repo;
        g->subject = e[i].subject;
        g->entries = &e[i];
        g->n = j - i;

        rc = oci_admin_batch_add(rx, &b);
    }

    if (rc == OCI_ADMIN_OK) {
        rc = oci_admin_batch_flush(rx, &b);
    }

    oci_admin_reindex_entries_free(rx);
    oci_admin_reindex_progress(rx);

    return rc;
}


/*
 * The entries sorted, one per (subject, digest): a referrer may be found
 * twice, by its subject and by a fallback tag
 */

static void
oci_admin_reindex_unique(oci_admin_reindex_t *rx)
{
    size_t                 i, j, n;
    oci_admin_referrer_t  *e;

    e = rx->entries;
    n = rx->nentries;

    if (n) {
        qsort(e, n, sizeof(oci_admin_referrer_t), oci_admin_referrer_cmp);
    }

    for (i = 0, j = 0; i < n; i++) {
        if (j && strcmp(e[j - 1].subject, e[i].subject) == 0
            && strcmp(e[j - 1].digest, e[i].digest) == 0)
        {
            e[j - 1].fallback |= e[i].fallback;
            free(e[i].subject);
            free(e[i].digest);
            free(e[i].descriptor);
            continue;
        }

        e[j++] = e[i];
    }

    rx->nentries = j;

    for (i = 0; i < j; i++) {
        rx->referrers++;
        rx->fallback += e[i].fallback ? 1 : 0;
    }
}


/*
 * The index keys of pairs the walk did not see: a repository gone, a
 * subject no stored manifest refers to any more
 */

static int
oci_admin_reindex_rest(oci_admin_reindex_t *rx)
{
    int     rc;
    char    cursor[32];
    size_t  node;

    rc = OCI_ADMIN_OK;

    /* SCAN walks one node: every master of a cluster is walked */

    for (node = 0; rc == OCI_ADMIN_OK && node < rx->redis.nnodes; node++) {
        strcpy(cursor, "0");

        do {
            rc = oci_admin_reindex_scan(rx, node, cursor, sizeof(cursor));

            oci_admin_reindex_progress(rx);

        } while (rc == OCI_ADMIN_OK && strcmp(cursor, "0") != 0);
    }

    return rc;
}


/* the summary and the exit status */

static int
oci_admin_reindex_end(oci_admin_reindex_t *rx, oci_admin_walk_t *w, int rc)
{
    if (rc != OCI_ADMIN_OK) {
        if (rx->redis_failed) {
            oci_admin_warn("reindex: stopped, the index is incomplete");
            return OCI_ADMIN_EXIT_REDIS;
        }

        oci_admin_warn("reindex: stopped");
        return OCI_ADMIN_EXIT_ERROR;
    }

    if (w->invalid_names) {
        oci_admin_warn("reindex: %llu repositories with invalid names "
                       "skipped", (unsigned long long) w->invalid_names);
    }

    return oci_admin_exit(oci_admin_reindex_report(rx), 0, rx->errors,
                          rx->corrupt);
}


static int
oci_admin_reindex_report(oci_admin_reindex_t *rx)
{
    double              seconds;
    oci_admin_count_t   c[] = {
        { "repositories", rx->repositories },
        { "manifests", rx->manifests },
        { "referrers_indexed", rx->referrers },
        { "fallback_entries", rx->fallback },
        { "fallback_missing", rx->fallback_missing },
        { "added", rx->added },
        { "removed", rx->removed },
        { "rewritten", rx->rewritten },
        { "catalog_added", rx->catalog_added },
        { "catalog_removed", rx->catalog_removed },
        { "skipped_corrupt", rx->corrupt },
        { "errors", rx->errors }
    };

    seconds = oci_admin_now() - rx->start;

    if (rx->opt.json) {
        return oci_admin_print_json(json_pack("{sb}", "dry_run", rx->dry_run),
                                    c, sizeof(c) / sizeof(c[0]), NULL,
                                    seconds);
    }

    printf("reindex%s: %llu repositories, %llu manifests, %llu referrers "
           "indexed (%llu from fallback tags, %llu listed there but not "
           "stored); %llu added, %llu removed, %llu rewritten; catalog: "
           "%llu added, %llu removed; %llu corrupt skipped, %llu errors; "
           "%.2f s\n",
           rx->dry_run ? " (dry run)" : "",
           (unsigned long long) rx->repositories,
           (unsigned long long) rx->manifests,
           (unsigned long long) rx->referrers,
           (unsigned long long) rx->fallback,
           (unsigned long long) rx->fallback_missing,
           (unsigned long long) rx->added,
           (unsigned long long) rx->removed,
           (unsigned long long) rx->rewritten,
           (unsigned long long) rx->catalog_added,
           (unsigned long long) rx->catalog_removed,
           (unsigned long long) rx->corrupt,
           (unsigned long long) rx->errors, seconds);

    return fflush(stdout) == 0 ? 0 : -1;
}
