
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
 *     walk did not see at all, and the same goes for their members.
 */


#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "oci_admin.h"
#include "oci_admin_reindex.h"
#include "ngx_oci_index_schema.h"


static void oci_admin_reindex_usage(FILE *f);
static int oci_admin_reindex_repo(oci_admin_walk_t *w,
    oci_admin_repo_t *repo);
static int oci_admin_reindex_manifest(oci_admin_walk_t *w,
    oci_admin_repo_t *repo, oci_admin_digest_t *d);
static int oci_admin_reindex_tag(oci_admin_walk_t *w, oci_admin_repo_t *repo,
    const char *tag);
static int oci_admin_reindex_repo_done(oci_admin_walk_t *w,
    oci_admin_repo_t *repo);
static int oci_admin_reindex_subject(oci_admin_reindex_t *rx,
    oci_admin_repo_t *repo, const char *tag, oci_admin_manifest_t *index,
    oci_admin_digest_t *s);
static int oci_admin_reindex_add(oci_admin_reindex_t *rx,
    const char *subject, size_t subject_len, oci_admin_digest_t *d,
    oci_admin_manifest_t *mf, int fallback);
static void oci_admin_reindex_entries_free(oci_admin_reindex_t *rx);
static int oci_admin_entry_cmp(const void *a, const void *b);
static int oci_admin_reindex_report(oci_admin_reindex_t *rx);


static struct option  oci_admin_reindex_long[] = {
    { "storage",  required_argument, NULL, 's' },
    { "redis",    required_argument, NULL, 'r' },
    { "password", required_argument, NULL, 'p' },
    { "db",       required_argument, NULL, 'd' },
    { "prefix",   required_argument, NULL, 'P' },
    { "json",     no_argument,       NULL, 'j' },
    { "quiet",    no_argument,       NULL, 'q' },
    { "help",     no_argument,       NULL, 'h' },
    { NULL, 0, NULL, 0 }
};

static oci_admin_getopt_t  oci_admin_reindex_getopt = {
    "reindex", oci_admin_reindex_long, oci_admin_reindex_usage, NULL, 1, 0
};


int
oci_admin_reindex(int argc, char **argv)
{
    int                  rc;
    oci_admin_walk_t     w;
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
    w.repo = oci_admin_reindex_repo;
    w.manifest = oci_admin_reindex_manifest;
    w.tag = oci_admin_reindex_tag;
    w.repo_done = oci_admin_reindex_repo_done;

    rc = oci_admin_walk(&w);

    oci_admin_reindex_entries_free(&rx);
    free(rx.entries);

    if (rc == OCI_ADMIN_OK) {
        rc = oci_admin_reindex_scan(&rx);
    }

    if (rc == OCI_ADMIN_OK && oci_admin_redis_flush(&rx.redis) != 0) {
        rx.redis_failed = 1;
        rc = OCI_ADMIN_ABORT;
    }

    oci_admin_progress_end();

    rx.errors += w.errors + rx.redis.errors;

    oci_admin_redis_close(&rx.redis);
    oci_admin_set_free(&rx.done);

    if (rc != OCI_ADMIN_OK) {
        if (rx.redis_failed) {
            oci_admin_warn("reindex: stopped, the index is incomplete");
            return OCI_ADMIN_EXIT_REDIS;
        }

        oci_admin_warn("reindex: stopped");
        return OCI_ADMIN_EXIT_ERROR;
    }

    if (w.invalid_names) {
        oci_admin_warn("reindex: %llu repositories with invalid names "
                       "skipped", (unsigned long long) w.invalid_names);
    }

    if (oci_admin_reindex_report(&rx) != 0) {
        return OCI_ADMIN_EXIT_ERROR;
    }

    if (rx.errors) {
        return OCI_ADMIN_EXIT_ERROR;
    }

    return rx.corrupt ? OCI_ADMIN_EXIT_CORRUPT : OCI_ADMIN_EXIT_OK;
}


static void
oci_admin_reindex_usage(FILE *f)
{
    fprintf(f,
"usage: oci-admin reindex --storage <root> --redis <addr> [options]\n"
"\n"
"Rebuilds the referrers index in Redis from the manifests in the storage:\n"
"adds what is missing, rewrites wrong descriptors, removes entries whose\n"
"manifest is not stored.  A second run changes nothing.\n"
"\n"
"  --storage <root>   the oci_storage directory\n"
"  --redis <addr>     host[:port], [v6]:port or unix:/path, as oci_redis\n"
"  --password <pw>    AUTH with this password (default: $REDISCLI_AUTH)\n"
"  --db <n>           database number (default: 0)\n"
"  --prefix <p>       key prefix, as oci_redis_prefix (default: \"oci:\")\n"
"  --json             print the summary as a JSON object\n"
"  --quiet            no progress line on a terminal\n"
"  --help             this text\n"
"\n"
"exit status: 0 done, 1 usage error, 2 Redis unreachable or failing,\n"
"3 corrupt content found (and skipped, the rest indexed), 4 other errors\n"
"(on stderr)\n");
}


void
oci_admin_reindex_progress(oci_admin_reindex_t *rx, int force)
{
    oci_admin_progress(force, "reindex: %llu repositories, %llu manifests, "
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

    (void) repo;

    rx->repositories++;

    oci_admin_reindex_entries_free(rx);
    oci_admin_reindex_progress(rx, 0);

    return OCI_ADMIN_OK;
}


static int
oci_admin_reindex_manifest(oci_admin_walk_t *w, oci_admin_repo_t *repo,
    oci_admin_digest_t *d)
{
    int                    rc;
    size_t                 len;
    const u_char          *subject;
    oci_admin_manifest_t   mf;
    oci_admin_reindex_t   *rx = w->data;

    rx->manifests++;

    oci_admin_reindex_progress(rx, 0);

    rc = oci_admin_manifest_load(repo, d, &mf);

    switch (rc) {

    case OCI_ADMIN_OK:
        break;

    case OCI_ADMIN_CORRUPT:
        oci_admin_warn("%s/_manifests/%s/%s: corrupt, skipped: %s",
                       repo->path, oci_admin_digest_alg(d),
                       oci_admin_digest_hex(d), mf.reason);
        rx->corrupt++;
        rc = OCI_ADMIN_OK;
        goto done;

    case OCI_ADMIN_ERROR:
        oci_admin_warn("%s/_manifests/%s/%s: %s", repo->path,
                       oci_admin_digest_alg(d), oci_admin_digest_hex(d),
                       mf.reason);
        rx->errors++;
        rc = OCI_ADMIN_OK;
        goto done;

    default: /* OCI_ADMIN_MISSING: removed meanwhile, or half deleted */
        rc = OCI_ADMIN_OK;
        goto done;
    }

    if (mf.m.subject == NULL) {
        goto done;
    }

    if (ngx_oci_descriptor_digest(mf.m.subject, &subject, &len, NULL)
        != NGX_OCI_DIGEST_OK)
    {
        /* the validation allows sha256 and sha512 only */
        goto done;
    }

    rc = oci_admin_reindex_add(rx, (const char *) subject, len, d, &mf, 0);

done:

    oci_admin_manifest_free(&mf);

    return rc == OCI_ADMIN_ERROR ? OCI_ADMIN_ABORT : OCI_ADMIN_OK;
}


/*
 * A fallback tag "<alg>-<ref>" is an image index listing the referrers of
 * a subject, as clients keep it for registries without the referrers API
 * (distribution spec, "Referrers Tag Schema").  <ref> is the subject's
 * hex digits cut to 64: all of a sha256, the first half of a sha512.
 */

static int
oci_admin_reindex_tag(oci_admin_walk_t *w, oci_admin_repo_t *repo,
    const char *tag)
{
    int                    rc;
    size_t                 i, len, n;
    json_t                *desc;
    const u_char          *p;
    oci_admin_digest_t     s, index, d;
    oci_admin_manifest_t   mf, entry;
    oci_admin_reindex_t   *rx = w->data;

    if (!oci_admin_fallback_tag_valid(tag)) {
        return OCI_ADMIN_OK;
    }

    if (oci_admin_tag_read(repo, tag, &index) != OCI_ADMIN_OK) {
        return OCI_ADMIN_OK;
    }

    /* a corrupt index was reported by the manifest walk already */

    rc = oci_admin_manifest_load(repo, &index, &mf);

    if (rc != OCI_ADMIN_OK || mf.m.kind != NGX_OCI_MT_OCI_INDEX) {
        oci_admin_manifest_free(&mf);
        return OCI_ADMIN_OK;
    }

    if (oci_admin_reindex_subject(rx, repo, tag, &mf, &s) != OCI_ADMIN_OK) {
        oci_admin_manifest_free(&mf);
        return OCI_ADMIN_OK;
    }

    rc = OCI_ADMIN_OK;

    n = json_array_size(mf.m.manifests);

    for (i = 0; rc == OCI_ADMIN_OK && i < n; i++) {
        desc = json_array_get(mf.m.manifests, i);

        if (ngx_oci_descriptor_digest(desc, &p, &len, NULL)
            != NGX_OCI_DIGEST_OK
            || oci_admin_digest_set(&d, (const char *) p, len) != 0)
        {
            continue;
        }

        rc = oci_admin_manifest_load(repo, &d, &entry);

        switch (rc) {

        case OCI_ADMIN_OK:
            rc = oci_admin_reindex_add(rx, s.str, s.len, &d, &entry, 1);
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
            oci_admin_warn("%s/_manifests/%s/%s: %s", repo->path,
                           oci_admin_digest_alg(&d),
                           oci_admin_digest_hex(&d), entry.reason);
            rx->errors++;
            rc = OCI_ADMIN_OK;
            break;
        }

        oci_admin_manifest_free(&entry);
    }

    oci_admin_manifest_free(&mf);

    return rc == OCI_ADMIN_ERROR ? OCI_ADMIN_ABORT : OCI_ADMIN_OK;
}


int
oci_admin_fallback_tag_valid(const char *tag)
{
    size_t  i;

    if (strlen(tag) != OCI_ADMIN_ALG_LEN + 64
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
    memcpy(tag, subject->str, OCI_ADMIN_ALG_LEN + 64);
    tag[OCI_ADMIN_ALG_LEN - 1] = '-';
    tag[OCI_ADMIN_ALG_LEN + 64] = '\0';
}


/*
 * The subject of a fallback tag.  A sha256 tag names it whole.  A sha512
 * tag names half of it: the subject is the manifest of the repository
 * whose digest starts so, else the subject the entries of the index name,
 * if they agree.  OCI_ADMIN_OK, or OCI_ADMIN_SKIP after a warning.
 */

static int
oci_admin_reindex_subject(oci_admin_reindex_t *rx, oci_admin_repo_t *repo,
    const char *tag, oci_admin_manifest_t *index, oci_admin_digest_t *s)
{
    int                    rc, found;
    char                   prefix[OCI_ADMIN_ALG_LEN + 64 + 1];
    size_t                 i, n, len;
    const u_char          *p;
    oci_admin_digest_t     d, c;
    oci_admin_manifest_t   entry;

    memcpy(prefix, tag, sizeof(prefix));
    prefix[OCI_ADMIN_ALG_LEN - 1] = ':';

    if (strncmp(tag, "sha256-", OCI_ADMIN_ALG_LEN) == 0) {
        return oci_admin_digest_set(s, prefix, sizeof(prefix) - 1) == 0
               ? OCI_ADMIN_OK : OCI_ADMIN_SKIP;
    }

    rc = oci_admin_manifest_find(repo, prefix, s);

    if (rc == OCI_ADMIN_OK || rc == OCI_ADMIN_ERROR) {
        rx->errors += (rc == OCI_ADMIN_ERROR);
        return rc == OCI_ADMIN_OK ? OCI_ADMIN_OK : OCI_ADMIN_SKIP;
    }

    found = (rc == OCI_ADMIN_CORRUPT) ? -1 : 0;
    n = json_array_size(index->m.manifests);

    for (i = 0; found >= 0 && i < n; i++) {
        if (ngx_oci_descriptor_digest(json_array_get(index->m.manifests, i),
                                      &p, &len, NULL)
            != NGX_OCI_DIGEST_OK
            || oci_admin_digest_set(&d, (const char *) p, len) != 0)
        {
            continue;
        }

        if (oci_admin_manifest_load(repo, &d, &entry) != OCI_ADMIN_OK) {
            oci_admin_manifest_free(&entry);
            continue;
        }

        if (entry.m.subject
            && ngx_oci_descriptor_digest(entry.m.subject, &p, &len, NULL)
               == NGX_OCI_DIGEST_OK
            && len > sizeof(prefix) - 1
            && memcmp(p, prefix, sizeof(prefix) - 1) == 0
            && oci_admin_digest_set(&c, (const char *) p, len) == 0)
        {
            if (found && strcmp(c.str, s->str) != 0) {
                found = -1;

            } else {
                *s = c;
                found = 1;
            }
        }

        oci_admin_manifest_free(&entry);
    }

    if (found > 0) {
        return OCI_ADMIN_OK;
    }

    oci_admin_warn("%s/_tags/%s: %s sha512 subject it lists referrers of, "
                   "skipped", repo->path, tag,
                   found ? "cannot tell which" : "found no");

    return OCI_ADMIN_SKIP;
}


/* OCI_ADMIN_OK, or OCI_ADMIN_ERROR after a message */

static int
oci_admin_reindex_add(oci_admin_reindex_t *rx, const char *subject,
    size_t subject_len, oci_admin_digest_t *d, oci_admin_manifest_t *mf,
    int fallback)
{
    size_t              size;
    oci_admin_entry_t  *e;

    if (rx->nentries == rx->entries_size) {
        size = rx->entries_size ? rx->entries_size * 2 : 64;

        e = realloc(rx->entries, size * sizeof(oci_admin_entry_t));
        if (e == NULL) {
            goto nomem;
        }

        rx->entries = e;
        rx->entries_size = size;
    }

    e = &rx->entries[rx->nentries];

    e->subject = strndup(subject, subject_len);
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

    return OCI_ADMIN_ERROR;
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
oci_admin_entry_cmp(const void *a, const void *b)
{
    int                       rc;
    const oci_admin_entry_t  *x = a, *y = b;

    rc = strcmp(x->subject, y->subject);

    return rc ? rc : strcmp(x->digest, y->digest);
}


/* the repository's entries go to Redis, a subject at a time */

static int
oci_admin_reindex_repo_done(oci_admin_walk_t *w, oci_admin_repo_t *repo)
{
    int                   rc;
    size_t                i, j, n, k;
    oci_admin_entry_t    *e;
    oci_admin_group_t     groups[OCI_ADMIN_GROUPS];
    oci_admin_reindex_t  *rx = w->data;

    e = rx->entries;
    n = rx->nentries;

    if (n) {
        qsort(e, n, sizeof(oci_admin_entry_t), oci_admin_entry_cmp);
    }

    /* one entry per (subject, digest): a referrer may be found twice */

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

    rx->nentries = n = j;

    for (i = 0; i < n; i++) {
        rx->referrers++;
        rx->fallback += e[i].fallback ? 1 : 0;
    }

    rc = OCI_ADMIN_OK;
    k = 0;

    for (i = 0; rc == OCI_ADMIN_OK && i < n; i = j) {
        for (j = i + 1; j < n && strcmp(e[j].subject, e[i].subject) == 0;
             j++)
        {
            /* void */
        }

        memset(&groups[k], 0, sizeof(oci_admin_group_t));

        groups[k].repo = repo;
        groups[k].subject = e[i].subject;
        groups[k].entries = &e[i];
        groups[k].n = j - i;

        if (++k == OCI_ADMIN_GROUPS) {
            rc = oci_admin_reindex_sync(rx, groups, k);
            k = 0;
        }
    }

    if (rc == OCI_ADMIN_OK && k) {
        rc = oci_admin_reindex_sync(rx, groups, k);
    }

    oci_admin_reindex_entries_free(rx);
    oci_admin_reindex_progress(rx, 0);

    return rc;
}


static int
oci_admin_reindex_report(oci_admin_reindex_t *rx)
{
    int      rc;
    char    *s;
    double   seconds;
    json_t  *o;

    seconds = oci_admin_now() - rx->start;

    if (!rx->opt.json) {
        printf("reindex: %llu repositories, %llu manifests, %llu referrers "
               "indexed (%llu from fallback tags, %llu listed there but not "
               "stored); %llu added, %llu removed, %llu rewritten; %llu "
               "corrupt skipped, %llu errors; %.2f s\n",
               (unsigned long long) rx->repositories,
               (unsigned long long) rx->manifests,
               (unsigned long long) rx->referrers,
               (unsigned long long) rx->fallback,
               (unsigned long long) rx->fallback_missing,
               (unsigned long long) rx->added,
               (unsigned long long) rx->removed,
               (unsigned long long) rx->rewritten,
               (unsigned long long) rx->corrupt,
               (unsigned long long) rx->errors, seconds);

        return fflush(stdout) == 0 ? 0 : -1;
    }

    /* milliseconds are enough */

    seconds = (double) (long long) (seconds * 1000 + 0.5) / 1000;

    o = json_pack("{sIsIsIsIsIsIsIsIsIsIsf}",
                  "repositories", (json_int_t) rx->repositories,
                  "manifests", (json_int_t) rx->manifests,
                  "referrers_indexed", (json_int_t) rx->referrers,
                  "fallback_entries", (json_int_t) rx->fallback,
                  "fallback_missing", (json_int_t) rx->fallback_missing,
                  "added", (json_int_t) rx->added,
                  "removed", (json_int_t) rx->removed,
                  "rewritten", (json_int_t) rx->rewritten,
                  "skipped_corrupt", (json_int_t) rx->corrupt,
                  "errors", (json_int_t) rx->errors,
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
