
/*
 * oci-admin fsck: checks the storage against docs/storage.md and, with
 * --repair, puts right what can be put right without guessing.
 *
 *   - blobs/: every file is hashed (each inode once) and compared with
 *     its name;
 *   - each repository: its links in _blobs/ and _manifests/ must be hard
 *     links of the blobs/ file of their digest, or at least hold the right
 *     content; each manifest needs a usable ".type", must be valid with
 *     it, and what it refers to (config, layers, index entries) must be
 *     in the repository; each tag must name a stored manifest;
 *   - _uploads/: sessions must be readable and not long abandoned;
 *   - anything else in the layout is a stray.
 *
 * Repairs never delete content: corrupt files are renamed into
 * <root>/_quarantine/<time>/, keeping their path.  What is removed is a
 * link whose content is quarantined, a tag naming nothing, a ".type"
 * without its manifest, an abandoned upload session.
 */


#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "oci_admin.h"
#include "oci_admin_store.h"


enum {
    OCI_FSCK_CORRUPT = 0,
    OCI_FSCK_UNLINKED,
    OCI_FSCK_MISSING_TYPE,
    OCI_FSCK_BAD_TYPE,
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

static const char  *oci_admin_fsck_kinds[] = {
    "corrupt",
    "unlinked",
    "missing-type",
    "bad-type",
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


/* outcomes of a problem */
#define OCI_FSCK_NOT_TRIED   -1         /* no --repair */
#define OCI_FSCK_FAILED       0
#define OCI_FSCK_REPAIRED     1

/* oci_admin_inode_t.n of a hashed inode */
#define OCI_FSCK_HASHED       1
#define OCI_FSCK_QUARANTINED  2

/* the module's sweeper gets to an expired session within this */
#define OCI_FSCK_SWEEP_DELAY  (5 * 60)

#define OCI_FSCK_STATE_MAGIC  "OCIUPLD1"
#define OCI_FSCK_STATE_MAX    (8 + 8 + 2 + 255 + NGX_OCI_SHA2_STATE_SIZE)


typedef struct {
    oci_admin_opts_t    opt;
    int                 repair;
    int64_t             upload_timeout;     /* seconds */

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
    uint64_t            tags;
    uint64_t            uploads;

    unsigned            tmp_n;
    int                 quarantine_ready;
    char                quarantine[OCI_ADMIN_PATH_LEN];  /* relative */

    double              start;
    time_t              wall_start;
} oci_admin_fsck_t;


static void oci_admin_fsck_usage(FILE *f);
static int oci_admin_fsck_option(void *data, int c, char *arg);
static void oci_admin_fsck_progress(oci_admin_fsck_t *fx, int force);
static void oci_admin_fsck_problem(oci_admin_fsck_t *fx, int kind,
    const char *repo, const char *ref, int outcome, const char *action,
    const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static void oci_admin_fsck_root(oci_admin_fsck_t *fx);
static void oci_admin_fsck_stray(oci_admin_fsck_t *fx, const char *rel,
    const char *why);
static void oci_admin_fsck_blobs(oci_admin_fsck_t *fx);
static void oci_admin_fsck_blob(oci_admin_fsck_t *fx, oci_admin_digest_t *d);
static int oci_admin_fsck_content(oci_admin_fsck_t *fx, const char *path,
    oci_admin_digest_t *d, struct stat *st, char *actual);
static int oci_admin_fsck_repo_cb(void *data, int what, const char *name,
    size_t len);
static void oci_admin_fsck_repo(oci_admin_fsck_t *fx,
    oci_admin_repo_t *repo);
static int oci_admin_fsck_alg_dir(oci_admin_fsck_t *fx,
    oci_admin_repo_t *repo, const char *kind, oci_admin_name_t *alg,
    char *path, oci_admin_ls_t *files);
static void oci_admin_fsck_repo_blobs(oci_admin_fsck_t *fx,
    oci_admin_repo_t *repo);
static void oci_admin_fsck_repo_manifests(oci_admin_fsck_t *fx,
    oci_admin_repo_t *repo);
static int oci_admin_fsck_link(oci_admin_fsck_t *fx, oci_admin_repo_t *repo,
    const char *dir, oci_admin_digest_t *d);
static int oci_admin_fsck_type(oci_admin_fsck_t *fx, oci_admin_repo_t *repo,
    oci_admin_digest_t *d);
static void oci_admin_fsck_refs(oci_admin_fsck_t *fx, oci_admin_repo_t *repo,
    oci_admin_digest_t *d);
static void oci_admin_fsck_ref(oci_admin_fsck_t *fx, oci_admin_repo_t *repo,
    oci_admin_digest_t *d, json_t *desc, const char *role, size_t i);
static void oci_admin_fsck_tags(oci_admin_fsck_t *fx, oci_admin_repo_t *repo);
static void oci_admin_fsck_tag(oci_admin_fsck_t *fx, oci_admin_repo_t *repo,
    const char *tag);
static void oci_admin_fsck_uploads(oci_admin_fsck_t *fx);
static void oci_admin_fsck_upload(oci_admin_fsck_t *fx, const char *id,
    int data, int state);
static int oci_admin_fsck_state(const char *path, uint64_t *offset,
    char *reason, size_t reason_len);
static int oci_admin_fsck_stored(oci_admin_repo_t *repo,
    oci_admin_digest_t *d);
static int oci_admin_fsck_quarantine(oci_admin_fsck_t *fx, const char *rel,
    char *to);
static int oci_admin_fsck_write(oci_admin_fsck_t *fx, const char *path,
    const char *content, size_t len);
static const char *oci_admin_fsck_rel(oci_admin_fsck_t *fx,
    const char *path);
static uint64_t oci_admin_fsck_prefix(const char *hex);
static int oci_admin_fsck_report(oci_admin_fsck_t *fx);


static struct option  oci_admin_fsck_long[] = {
    { "storage",        required_argument, NULL, 's' },
    { "repair",         no_argument,       NULL, 'R' },
    { "upload-timeout", required_argument, NULL, 'u' },
    { "json",           no_argument,       NULL, 'j' },
    { "quiet",          no_argument,       NULL, 'q' },
    { "help",           no_argument,       NULL, 'h' },
    { NULL, 0, NULL, 0 }
};

/*
 * --repair is 'R': 'r' is --redis to oci_admin_options(), which fsck
 * does not have.  Room is kept under the root for the paths fsck makes.
 */

static oci_admin_getopt_t  oci_admin_fsck_getopt = {
    "fsck", oci_admin_fsck_long, oci_admin_fsck_usage, oci_admin_fsck_option,
    0, 256
};


int
oci_admin_fsck(int argc, char **argv)
{
    int               rc;
    oci_admin_fsck_t  fx;

    memset(&fx, 0, sizeof(oci_admin_fsck_t));

    fx.upload_timeout = 3600;

    rc = oci_admin_options(&fx.opt, &oci_admin_fsck_getopt, &fx, argc, argv);
    if (rc != -1) {
        return rc;
    }

    fx.start = oci_admin_now();
    fx.wall_start = time(NULL);

    if (fx.opt.json) {
        fx.problems = json_array();
        if (fx.problems == NULL) {
            oci_admin_warn("out of memory");
            return OCI_ADMIN_EXIT_ERROR;
        }
    }

    oci_admin_fsck_root(&fx);
    oci_admin_fsck_blobs(&fx);

    (void) oci_admin_repos(fx.opt.storage, oci_admin_fsck_repo_cb, &fx,
                           &fx.errors);

    oci_admin_fsck_uploads(&fx);

    oci_admin_progress_end();

    rc = oci_admin_fsck_report(&fx);

    json_decref(fx.problems);
    oci_admin_imap_free(&fx.inodes);

    if (rc != 0 || fx.errors) {
        return OCI_ADMIN_EXIT_ERROR;
    }

    return fx.found > fx.repaired ? OCI_ADMIN_EXIT_CORRUPT : OCI_ADMIN_EXIT_OK;
}


static void
oci_admin_fsck_usage(FILE *f)
{
    fprintf(f,
"usage: oci-admin fsck --storage <root> [--repair] [options]\n"
"\n"
"Checks the storage: every blob file is hashed and compared with its\n"
"name, every repository link with its blob, every manifest is parsed and\n"
"what it refers to looked for, every tag must name a stored manifest;\n"
"stray files and corrupt or abandoned upload sessions are reported.  One\n"
"line per problem on stderr, a summary on stdout.\n"
"\n"
"  --storage <root>        the oci_storage directory\n"
"  --repair                move corrupt content to <root>/_quarantine/,\n"
"                          remove links to it, tags naming nothing and\n"
"                          abandoned sessions, recreate missing .type files\n"
"  --upload-timeout <dur>  as oci_upload_timeout (default: 1h)\n"
"  --json                  print the summary as a JSON object\n"
"  --quiet                 no progress line on a terminal\n"
"  --help                  this text\n"
"\n"
"exit status: 0 clean (or all repaired), 1 usage error, 3 problems remain,\n"
"4 I/O errors (on stderr)\n");
}


/* fsck's own options: 0 taken, 1 not its own, -1 after a message */

static int
oci_admin_fsck_option(void *data, int c, char *arg)
{
    oci_admin_fsck_t  *fx = data;

    switch (c) {

    case 'R':
        fx->repair = 1;
        return 0;

    case 'u':
        if (oci_admin_duration(arg, &fx->upload_timeout) != 0) {
            fprintf(stderr, "oci-admin fsck: --upload-timeout \"%s\" is "
                    "not a duration (30s, 10m, 1h, 7d)\n", arg);
            return -1;
        }

        return 0;

    default:
        return 1;
    }
}


static void
oci_admin_fsck_progress(oci_admin_fsck_t *fx, int force)
{
    oci_admin_progress(force, "fsck: %llu blob files, %.1f MB hashed, "
                       "%llu repositories, %llu manifests, %llu problems, "
                       "%.1f s",
                       (unsigned long long) fx->blob_files,
                       (double) fx->bytes / 1e6,
                       (unsigned long long) fx->repositories,
                       (unsigned long long) fx->manifests,
                       (unsigned long long) fx->found,
                       oci_admin_now() - fx->start);
}


/*
 * One line on stderr: "<kind> <repository or -> <ref>: <problem>", then
 * "; repaired: <action>" or "; not repaired: <why>" with --repair
 */

static void
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


/* what the root holds besides blobs/, repositories/ and the module's own */

static void
oci_admin_fsck_root(oci_admin_fsck_t *fx)
{
    int             rc;
    size_t          i;
    const char     *n;
    oci_admin_ls_t  ls;

    rc = oci_admin_ls(fx->opt.storage, &ls);
    if (rc != OCI_ADMIN_OK) {
        fx->errors++;
        return;
    }

    for (i = 0; i < ls.n; i++) {
        n = ls.e[i].name;

        if (ls.e[i].type == DT_DIR
            && (strcmp(n, "blobs") == 0 || strcmp(n, "repositories") == 0
                || strcmp(n, "_uploads") == 0 || strcmp(n, "_tmp") == 0
                || strcmp(n, "_quarantine") == 0
                || strcmp(n, "lost+found") == 0))
        {
            continue;
        }

        oci_admin_fsck_problem(fx, OCI_FSCK_STRAY, NULL, n,
                               fx->repair ? OCI_FSCK_FAILED
                                          : OCI_FSCK_NOT_TRIED,
                               "left alone, not knowing what it is",
                               "not part of the storage layout");
    }

    oci_admin_ls_free(&ls);
}


static void
oci_admin_fsck_stray(oci_admin_fsck_t *fx, const char *rel, const char *why)
{
    oci_admin_fsck_problem(fx, OCI_FSCK_STRAY, NULL, rel,
                           fx->repair ? OCI_FSCK_FAILED : OCI_FSCK_NOT_TRIED,
                           "left alone, not knowing what it is", "%s", why);
}


static void
oci_admin_fsck_blobs(oci_admin_fsck_t *fx)
{
    int                 rc, n;
    char                path[OCI_ADMIN_PATH_LEN], rel[OCI_ADMIN_PATH_LEN];
    char                digest[OCI_ADMIN_PATH_LEN];
    size_t              a, x, i;
    oci_admin_ls_t      algs, dirs, files;
    oci_admin_digest_t  d;

    if (oci_admin_path(path, "%s/blobs", fx->opt.storage) < 0) {
        return;
    }

    rc = oci_admin_ls(path, &algs);
    if (rc != OCI_ADMIN_OK) {
        fx->errors += (rc == OCI_ADMIN_ERROR);
        return;
    }

    for (a = 0; a < algs.n; a++) {
        if (algs.e[a].type != DT_DIR
            || (strcmp(algs.e[a].name, "sha256") != 0
                && strcmp(algs.e[a].name, "sha512") != 0))
        {
            snprintf(rel, sizeof(rel), "blobs/%s", algs.e[a].name);
            oci_admin_fsck_stray(fx, rel, "not part of the storage layout");
            continue;
        }

        if (oci_admin_path(path, "%s/blobs/%s", fx->opt.storage,
                           algs.e[a].name) < 0
            || oci_admin_ls(path, &dirs) != OCI_ADMIN_OK)
        {
            fx->errors++;
            continue;
        }

        for (x = 0; x < dirs.n; x++) {
            if (dirs.e[x].type != DT_DIR || strlen(dirs.e[x].name) != 2
                || strspn(dirs.e[x].name, "0123456789abcdef") != 2)
            {
                snprintf(rel, sizeof(rel), "blobs/%s/%s", algs.e[a].name,
                         dirs.e[x].name);
                oci_admin_fsck_stray(fx, rel,
                                     "not part of the storage layout");
                continue;
            }

            if (oci_admin_path(path, "%s/blobs/%s/%s", fx->opt.storage,
                               algs.e[a].name, dirs.e[x].name) < 0
                || oci_admin_ls(path, &files) != OCI_ADMIN_OK)
            {
                fx->errors++;
                continue;
            }

            for (i = 0; i < files.n; i++) {
                n = oci_admin_path(digest, "%s:%s", algs.e[a].name,
                                   files.e[i].name);

                if (files.e[i].type == DT_REG && n > 0
                    && oci_admin_digest_set(&d, digest, n) == 0
                    && strncmp(files.e[i].name, dirs.e[x].name, 2) == 0)
                {
                    oci_admin_fsck_blob(fx, &d);
                    continue;
                }

                snprintf(rel, sizeof(rel), "blobs/%s/%s/%s", algs.e[a].name,
                         dirs.e[x].name, files.e[i].name);
                oci_admin_fsck_stray(fx, rel,
                                     files.e[i].type == DT_REG
                                     ? "not named by its digest"
                                     : "not a regular file");
            }

            oci_admin_ls_free(&files);
        }

        oci_admin_ls_free(&dirs);
    }

    oci_admin_ls_free(&algs);
}


static void
oci_admin_fsck_blob(oci_admin_fsck_t *fx, oci_admin_digest_t *d)
{
    int                 rc;
    char                path[OCI_ADMIN_PATH_LEN], to[OCI_ADMIN_PATH_LEN];
    char                action[OCI_ADMIN_PATH_LEN + 16];
    char                actual[OCI_ADMIN_DIGEST_LEN + 1];
    struct stat         st;
    oci_admin_inode_t  *e;

    fx->blob_files++;

    oci_admin_fsck_progress(fx, 0);

    if (oci_admin_blob_path(path, fx->opt.storage, d) < 0) {
        return;
    }

    if (lstat(path, &st) == -1) {
        /* removed meanwhile */
        return;
    }

    rc = oci_admin_fsck_content(fx, path, d, &st, actual);

    if (rc != OCI_ADMIN_CORRUPT) {
        return;
    }

    if (!fx->repair) {
        oci_admin_fsck_problem(fx, OCI_FSCK_CORRUPT, NULL, d->str,
                               OCI_FSCK_NOT_TRIED, NULL,
                               "%s: the content is %s",
                               oci_admin_fsck_rel(fx, path), actual);
        return;
    }

    if (oci_admin_fsck_quarantine(fx, oci_admin_fsck_rel(fx, path), to)
        != 0)
    {
        oci_admin_fsck_problem(fx, OCI_FSCK_CORRUPT, NULL, d->str,
                               OCI_FSCK_FAILED, strerror(errno),
                               "%s: the content is %s",
                               oci_admin_fsck_rel(fx, path), actual);
        return;
    }

    e = oci_admin_imap_get(&fx->inodes, st.st_dev, st.st_ino, 0);
    if (e) {
        e->n |= OCI_FSCK_QUARANTINED;
    }

    snprintf(action, sizeof(action), "moved to %s", to);

    oci_admin_fsck_problem(fx, OCI_FSCK_CORRUPT, NULL, d->str,
                           OCI_FSCK_REPAIRED, action, "%s: the content is %s",
                           oci_admin_fsck_rel(fx, path), actual);
}


/*
 * Does the file (st, from lstat()) hold the content of d?  Each inode is
 * hashed once: the map keeps the algorithm and the first 64 bits of what
 * it hashed to.  OCI_ADMIN_OK, OCI_ADMIN_CORRUPT with the digest found in
 * actual ("" when known from an earlier hash only), OCI_ADMIN_MISSING,
 * or OCI_ADMIN_ERROR after a warning.
 */

static int
oci_admin_fsck_content(oci_admin_fsck_t *fx, const char *path,
    oci_admin_digest_t *d, struct stat *st, char *actual)
{
    int                 fd, rc;
    char                hex[2 * NGX_OCI_SHA2_MAX_SIZE + 1], reason[256];
    struct stat         fst;
    oci_admin_inode_t  *e;

    actual[0] = '\0';

    e = oci_admin_imap_get(&fx->inodes, st->st_dev, st->st_ino, 0);

    if (e && e->b == d->alg) {
        return (uint64_t) e->a == oci_admin_fsck_prefix(
                                      oci_admin_digest_hex(d))
               ? OCI_ADMIN_OK : OCI_ADMIN_CORRUPT;
    }

    fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd == -1) {
        if (errno == ENOENT) {
            return OCI_ADMIN_MISSING;
        }

        oci_admin_warn("%s: open(): %s", path, strerror(errno));
        fx->errors++;
        return OCI_ADMIN_ERROR;
    }

    if (fstat(fd, &fst) == -1 || !S_ISREG(fst.st_mode)) {
        oci_admin_warn("%s: not a regular file", path);
        fx->errors++;
        close(fd);
        return OCI_ADMIN_ERROR;
    }

    *st = fst;

    rc = oci_admin_hash_fd(fd, d->alg, hex, &fx->bytes, reason,
                           sizeof(reason));
    close(fd);

    if (rc != OCI_ADMIN_OK) {
        oci_admin_warn("%s: %s", path, reason);
        fx->errors++;
        return OCI_ADMIN_ERROR;
    }

    snprintf(actual, OCI_ADMIN_DIGEST_LEN + 1, "%s:%s",
             oci_admin_digest_alg(d), hex);

    e = oci_admin_imap_get(&fx->inodes, fst.st_dev, fst.st_ino, 1);
    if (e == NULL) {
        oci_admin_warn("out of memory");
        fx->errors++;

    } else {
        e->a = (int64_t) oci_admin_fsck_prefix(hex);
        e->b = d->alg;
        e->n |= OCI_FSCK_HASHED;
    }

    return strcmp(hex, oci_admin_digest_hex(d)) == 0
           ? OCI_ADMIN_OK : OCI_ADMIN_CORRUPT;
}


static int
oci_admin_fsck_repo_cb(void *data, int what, const char *name, size_t len)
{
    char               rel[OCI_ADMIN_PATH_LEN];
    oci_admin_repo_t   repo;
    oci_admin_fsck_t  *fx = data;

    if (what == OCI_ADMIN_REPO_STRAY) {
        oci_admin_fsck_stray(fx, name, "not part of the storage layout");
        return OCI_ADMIN_OK;
    }

    if (what == OCI_ADMIN_REPO_INVALID
        || oci_admin_repo_init(&repo, fx->opt.storage, name, len) != 0)
    {
        snprintf(rel, sizeof(rel), "repositories/%.*s", (int) len, name);
        oci_admin_fsck_stray(fx, rel, "not a valid repository name");
        return OCI_ADMIN_OK;
    }

    oci_admin_fsck_repo(fx, &repo);

    return OCI_ADMIN_OK;
}


static void
oci_admin_fsck_repo(oci_admin_fsck_t *fx, oci_admin_repo_t *repo)
{
    fx->repositories++;

    oci_admin_fsck_progress(fx, 0);

    /* links to blobs first: the manifests' references are checked after */

    oci_admin_fsck_repo_blobs(fx, repo);
    oci_admin_fsck_repo_manifests(fx, repo);
    oci_admin_fsck_tags(fx, repo);
}


/*
 * Lists "<repo>/<kind>/<alg>/" into "files", leaving its path in "path";
 * anything there but a digest algorithm's directory is a stray.
 */

static int
oci_admin_fsck_alg_dir(oci_admin_fsck_t *fx, oci_admin_repo_t *repo,
    const char *kind, oci_admin_name_t *alg, char *path,
    oci_admin_ls_t *files)
{
    int  rc;

    if (oci_admin_path(path, "%s/%s/%s", repo->path, kind, alg->name) < 0) {
        return OCI_ADMIN_ERROR;
    }

    if (alg->type != DT_DIR
        || (strcmp(alg->name, "sha256") != 0
            && strcmp(alg->name, "sha512") != 0))
    {
        oci_admin_fsck_stray(fx, oci_admin_fsck_rel(fx, path),
                             "not part of the storage layout");
        return OCI_ADMIN_MISSING;
    }

    rc = oci_admin_ls(path, files);
    if (rc != OCI_ADMIN_OK) {
        fx->errors += (rc == OCI_ADMIN_ERROR);
    }

    return rc;
}


static void
oci_admin_fsck_repo_blobs(oci_admin_fsck_t *fx, oci_admin_repo_t *repo)
{
    int                 rc, n;
    char                path[OCI_ADMIN_PATH_LEN], digest[OCI_ADMIN_PATH_LEN];
    size_t              a, i;
    oci_admin_ls_t      algs, files;
    oci_admin_digest_t  d;

    if (oci_admin_path(path, "%s/_blobs", repo->path) < 0) {
        return;
    }

    rc = oci_admin_ls(path, &algs);
    if (rc != OCI_ADMIN_OK) {
        fx->errors += (rc == OCI_ADMIN_ERROR);
        return;
    }

    for (a = 0; a < algs.n; a++) {
        if (oci_admin_fsck_alg_dir(fx, repo, "_blobs", &algs.e[a], path,
                                   &files)
            != OCI_ADMIN_OK)
        {
            continue;
        }

        for (i = 0; i < files.n; i++) {
            n = oci_admin_path(digest, "%s:%s", algs.e[a].name,
                               files.e[i].name);

            if (files.e[i].type == DT_REG && n > 0
                && oci_admin_digest_set(&d, digest, n) == 0)
            {
                (void) oci_admin_fsck_link(fx, repo, "_blobs", &d);
                continue;
            }

            if (oci_admin_path(path, "%s/_blobs/%s/%s", repo->path,
                               algs.e[a].name, files.e[i].name)
                > 0)
            {
                oci_admin_fsck_stray(fx, oci_admin_fsck_rel(fx, path),
                                     files.e[i].type == DT_REG
                                     ? "not named by a digest"
                                     : "not a regular file");
            }
        }

        oci_admin_ls_free(&files);
    }

    oci_admin_ls_free(&algs);
}


/*
 * Three passes over "_manifests/<alg>/": the links' content, then the
 * ".type" files (repairs may have removed links, or recreated types),
 * then what the stored manifests refer to.
 */

static void
oci_admin_fsck_repo_manifests(oci_admin_fsck_t *fx, oci_admin_repo_t *repo)
{
    int                 rc, n;
    char                path[OCI_ADMIN_PATH_LEN], digest[OCI_ADMIN_PATH_LEN];
    char               *dot;
    size_t              a, i, len;
    struct stat         st;
    oci_admin_ls_t      algs, files;
    oci_admin_digest_t  d;

    if (oci_admin_path(path, "%s/_manifests", repo->path) < 0) {
        return;
    }

    rc = oci_admin_ls(path, &algs);
    if (rc != OCI_ADMIN_OK) {
        fx->errors += (rc == OCI_ADMIN_ERROR);
        return;
    }

    for (a = 0; a < algs.n; a++) {
        if (oci_admin_fsck_alg_dir(fx, repo, "_manifests", &algs.e[a], path,
                                   &files)
            != OCI_ADMIN_OK)
        {
            continue;
        }

        /* the links and their media types */

        for (i = 0; i < files.n; i++) {
            len = strlen(files.e[i].name);
            dot = strchr(files.e[i].name, '.');

            n = oci_admin_path(digest, "%s:%.*s", algs.e[a].name,
                               dot ? (int) (dot - files.e[i].name)
                                   : (int) len,
                               files.e[i].name);

            if (files.e[i].type == DT_REG && n > 0
                && oci_admin_digest_set(&d, digest, n) == 0
                && (dot == NULL || strcmp(dot, ".type") == 0))
            {
                if (dot == NULL) {
                    fx->manifests++;

                    if (oci_admin_fsck_link(fx, repo, "_manifests", &d) > 0) {
                        (void) oci_admin_fsck_type(fx, repo, &d);
                    }
                }

                continue;
            }

            if (oci_admin_path(path, "%s/_manifests/%s/%s", repo->path,
                               algs.e[a].name, files.e[i].name)
                > 0)
            {
                oci_admin_fsck_stray(fx, oci_admin_fsck_rel(fx, path),
                                     files.e[i].type == DT_REG
                                     ? "not named by a digest"
                                     : "not a regular file");
            }
        }

        /* media types whose manifest is not there (any more) */

        for (i = 0; i < files.n; i++) {
            dot = strchr(files.e[i].name, '.');

            if (files.e[i].type != DT_REG || dot == NULL
                || strcmp(dot, ".type") != 0)
            {
                continue;
            }

            n = oci_admin_path(digest, "%s:%.*s", algs.e[a].name,
                               (int) (dot - files.e[i].name),
                               files.e[i].name);

            if (n < 0 || oci_admin_digest_set(&d, digest, n) != 0
                || oci_admin_path(path, "%s/_manifests/%s/%s", repo->path,
                                  algs.e[a].name, files.e[i].name)
                   < 0)
            {
                continue;
            }

            /* gone with a quarantined manifest, or its manifest is there */

            if (lstat(path, &st) == -1) {
                continue;
            }

            path[strlen(path) - (sizeof(".type") - 1)] = '\0';

            if (lstat(path, &st) == 0) {
                continue;
            }

            path[strlen(path)] = '.';

            if (!fx->repair) {
                oci_admin_fsck_problem(fx, OCI_FSCK_ORPHAN_TYPE, repo->name,
                                       d.str, OCI_FSCK_NOT_TRIED, NULL,
                                       "a .type file without its manifest");

            } else if (unlink(path) == 0 || errno == ENOENT) {
                oci_admin_fsck_problem(fx, OCI_FSCK_ORPHAN_TYPE, repo->name,
                                       d.str, OCI_FSCK_REPAIRED, "removed",
                                       "a .type file without its manifest");

            } else {
                oci_admin_fsck_problem(fx, OCI_FSCK_ORPHAN_TYPE, repo->name,
                                       d.str, OCI_FSCK_FAILED,
                                       strerror(errno),
                                       "a .type file without its manifest");
            }
        }

        /* what the stored manifests refer to */

        for (i = 0; i < files.n; i++) {
            n = oci_admin_path(digest, "%s:%s", algs.e[a].name,
                               files.e[i].name);

            if (files.e[i].type == DT_REG && n > 0
                && oci_admin_digest_set(&d, digest, n) == 0)
            {
                oci_admin_fsck_refs(fx, repo, &d);
            }
        }

        oci_admin_ls_free(&files);
    }

    oci_admin_ls_free(&algs);
}


/*
 * A repository's link "<dir>/<alg>/<hex>" and the blobs/ file of the
 * digest.  Returns 1 when the link is there with the right content
 * (after a repair, maybe), 0 when it is not, -1 on I/O errors.
 */

static int
oci_admin_fsck_link(oci_admin_fsck_t *fx, oci_admin_repo_t *repo,
    const char *dir, oci_admin_digest_t *d)
{
    int                 rc, brc, same, have_b, outcome, manifest;
    char                path[OCI_ADMIN_PATH_LEN], blob[OCI_ADMIN_PATH_LEN];
    char                tmp[OCI_ADMIN_PATH_LEN], to[OCI_ADMIN_PATH_LEN];
    char                action[OCI_ADMIN_PATH_LEN + 64];
    char                actual[OCI_ADMIN_DIGEST_LEN + 1];
    char                bactual[OCI_ADMIN_DIGEST_LEN + 1];
    const char         *rel;
    struct stat         st, bst;
    oci_admin_inode_t  *e;

    manifest = (dir[1] == 'm');

    if (oci_admin_path(path, "%s/%s/%s/%s", repo->path, dir,
                       oci_admin_digest_alg(d), oci_admin_digest_hex(d))
        < 0
        || oci_admin_blob_path(blob, fx->opt.storage, d) < 0)
    {
        return -1;
    }

    rel = oci_admin_fsck_rel(fx, path);

    if (lstat(path, &st) == -1) {
        return 0;
    }

    have_b = (lstat(blob, &bst) == 0 && S_ISREG(bst.st_mode));
    same = have_b && bst.st_dev == st.st_dev && bst.st_ino == st.st_ino;

    rc = oci_admin_fsck_content(fx, path, d, &st, actual);

    if (rc == OCI_ADMIN_MISSING) {
        return 0;
    }

    if (rc == OCI_ADMIN_ERROR) {
        return -1;
    }

    /* the blobs/ file, when the link is not it */

    brc = OCI_ADMIN_MISSING;

    if (have_b && !same) {
        brc = oci_admin_fsck_content(fx, blob, d, &bst, bactual);
        if (brc == OCI_ADMIN_ERROR) {
            return -1;
        }
    }

    if (rc == OCI_ADMIN_OK) {
        if (same) {
            return 1;
        }

        if (!have_b || brc == OCI_ADMIN_MISSING) {
            outcome = OCI_FSCK_NOT_TRIED;
            snprintf(action, sizeof(action), "linked into blobs/");

            if (fx->repair) {
                outcome = OCI_FSCK_REPAIRED;

                if ((oci_admin_mkdirs(blob) != 0 || link(path, blob) != 0)
                    && errno != EEXIST)
                {
                    outcome = OCI_FSCK_FAILED;
                    snprintf(action, sizeof(action), "link(): %s",
                             strerror(errno));
                }
            }

            oci_admin_fsck_problem(fx, OCI_FSCK_UNLINKED, repo->name, d->str,
                                   outcome, action,
                                   "%s: its blobs/ file is missing", rel);
            return 1;
        }

        if (brc == OCI_ADMIN_CORRUPT) {
            /* without --repair only: the blobs/ pass quarantined it */
            oci_admin_fsck_problem(fx, OCI_FSCK_UNLINKED, repo->name, d->str,
                                   fx->repair ? OCI_FSCK_FAILED
                                              : OCI_FSCK_NOT_TRIED,
                                   "its blobs/ file is still there",
                                   "%s: not a hard link of %s, which is "
                                   "corrupt", rel,
                                   oci_admin_fsck_rel(fx, blob));
            return 1;
        }

        /* a copy: a hard link of the blobs/ file takes its place */

        outcome = OCI_FSCK_NOT_TRIED;
        snprintf(action, sizeof(action), "replaced by a hard link");

        if (fx->repair) {
            outcome = OCI_FSCK_FAILED;

            if (oci_admin_path(tmp, "%s/_tmp/oci-admin-fsck.%ld.%u",
                               fx->opt.storage, (long) getpid(), fx->tmp_n++)
                < 0)
            {
                snprintf(action, sizeof(action), "path too long");

            } else if ((oci_admin_mkdirs(tmp) != 0 || link(blob, tmp) != 0)
                       || rename(tmp, path) != 0)
            {
                snprintf(action, sizeof(action), "%s", strerror(errno));
                (void) unlink(tmp);

            } else {
                outcome = OCI_FSCK_REPAIRED;
            }
        }

        oci_admin_fsck_problem(fx, OCI_FSCK_UNLINKED, repo->name, d->str,
                               outcome, action,
                               "%s: a copy of %s, not a hard link of it",
                               rel, oci_admin_fsck_rel(fx, blob));
        return 1;
    }

    /* corrupt */

    if (!fx->repair) {
        if (same) {
            oci_admin_fsck_problem(fx, OCI_FSCK_CORRUPT, repo->name, d->str,
                                   OCI_FSCK_NOT_TRIED, NULL,
                                   "%s: a hard link of %s, which is "
                                   "corrupt", rel,
                                   oci_admin_fsck_rel(fx, blob));

        } else {
            oci_admin_fsck_problem(fx, OCI_FSCK_CORRUPT, repo->name, d->str,
                                   OCI_FSCK_NOT_TRIED, NULL,
                                   "%s: the content is %s", rel,
                                   actual[0] ? actual : "something else");
        }

        return 0;
    }

    e = oci_admin_imap_get(&fx->inodes, st.st_dev, st.st_ino, 0);

    /* the blobs/ pass may have moved it: same inode, another name now */

    same = same || (e && (e->n & OCI_FSCK_QUARANTINED));

    if (e && (e->n & OCI_FSCK_QUARANTINED)) {
        /* the same inode is in quarantine already: a link less */

        if (unlink(path) != 0 && errno != ENOENT) {
            snprintf(action, sizeof(action), "unlink(): %s", strerror(errno));
            oci_admin_fsck_problem(fx, OCI_FSCK_CORRUPT, repo->name, d->str,
                                   OCI_FSCK_FAILED, action,
                                   "%s: a hard link of corrupt content", rel);
            return 0;
        }

        snprintf(action, sizeof(action), "removed, the content is in "
                 "quarantine");

    } else {
        if (oci_admin_fsck_quarantine(fx, rel, to) != 0) {
            snprintf(action, sizeof(action), "%s", strerror(errno));
            oci_admin_fsck_problem(fx, OCI_FSCK_CORRUPT, repo->name, d->str,
                                   OCI_FSCK_FAILED, action,
                                   "%s: the content is %s", rel,
                                   actual[0] ? actual : "something else");
            return 0;
        }

        e = oci_admin_imap_get(&fx->inodes, st.st_dev, st.st_ino, 1);
        if (e) {
            e->n |= OCI_FSCK_QUARANTINED;
        }

        snprintf(action, sizeof(action), "moved to %s", to);
    }

    /* an intact blobs/ file takes its place */

    if (brc == OCI_ADMIN_OK && link(blob, path) == 0) {
        oci_admin_fsck_problem(fx, OCI_FSCK_CORRUPT, repo->name, d->str,
                               OCI_FSCK_REPAIRED, action,
                               "%s: the content is %s; linked to %s instead",
                               rel, actual[0] ? actual : "something else",
                               oci_admin_fsck_rel(fx, blob));
        return 1;
    }

    /* a manifest's media type goes with it */

    if (manifest && oci_admin_path(tmp, "%s.type", path) > 0
        && lstat(tmp, &st) == 0)
    {
        (void) oci_admin_fsck_quarantine(fx, oci_admin_fsck_rel(fx, tmp),
                                         to);
    }

    oci_admin_fsck_problem(fx, OCI_FSCK_CORRUPT, repo->name, d->str,
                           OCI_FSCK_REPAIRED, action, "%s: %s", rel,
                           same ? "a hard link of corrupt content"
                                : "corrupt content");
    return 0;
}


/*
 * The ".type" of a manifest whose content is right; a missing or
 * unusable one is recreated from what the manifest says it is.  Returns
 * 1 when the manifest is stored and valid, 0 otherwise.
 */

static int
oci_admin_fsck_type(oci_admin_fsck_t *fx, oci_admin_repo_t *repo,
    oci_admin_digest_t *d)
{
    int              rc, kind, outcome;
    char             path[OCI_ADMIN_PATH_LEN], action[OCI_ADMIN_PATH_LEN];
    char             why[sizeof(((oci_admin_mf_t *) 0)->reason)];
    oci_admin_mf_t   mf;

    rc = oci_admin_mf_read(repo, d, &mf);

    if (rc != OCI_ADMIN_OK) {
        if (rc == OCI_ADMIN_ERROR) {
            oci_admin_warn("%s/_manifests/%s/%s: %s", repo->path,
                           oci_admin_digest_alg(d), oci_admin_digest_hex(d),
                           mf.reason);
            fx->errors++;

        } else if (rc == OCI_ADMIN_CORRUPT) {
            oci_admin_fsck_problem(fx, OCI_FSCK_INVALID, repo->name, d->str,
                                   fx->repair ? OCI_FSCK_FAILED
                                              : OCI_FSCK_NOT_TRIED,
                                   "push it again or delete it", "%s",
                                   mf.reason);
        }

        oci_admin_mf_free(&mf);
        return 0;
    }

    if (mf.type_rc == OCI_ADMIN_OK) {
        rc = (mf.parse_rc == NGX_OCI_MANIFEST_OK);

        if (!rc) {
            oci_admin_fsck_problem(fx, OCI_FSCK_INVALID, repo->name, d->str,
                                   fx->repair ? OCI_FSCK_FAILED
                                              : OCI_FSCK_NOT_TRIED,
                                   "push it again or delete it",
                                   "not a valid %s: %s", mf.type,
                                   mf.m.error);
        }

        oci_admin_mf_free(&mf);
        return rc;
    }

    /* parsed without a Content-Type: mediaType, else its structure */

    kind = mf.type_rc == OCI_ADMIN_MISSING ? OCI_FSCK_MISSING_TYPE
                                            : OCI_FSCK_BAD_TYPE;
    snprintf(why, sizeof(why), "%s", mf.reason);

    outcome = OCI_FSCK_NOT_TRIED;
    action[0] = '\0';

    if (fx->repair) {
        outcome = OCI_FSCK_FAILED;

        if (mf.parse_rc != NGX_OCI_MANIFEST_OK) {
            snprintf(action, sizeof(action), "cannot tell its media type: "
                     "%s", mf.m.error);

        } else if (oci_admin_path(path, "%s/_manifests/%s/%s.type",
                                  repo->path, oci_admin_digest_alg(d),
                                  oci_admin_digest_hex(d))
                   < 0)
        {
            snprintf(action, sizeof(action), "path too long");

        } else if (oci_admin_fsck_write(fx, path, mf.m.media_type,
                                        strlen(mf.m.media_type))
                   != 0)
        {
            snprintf(action, sizeof(action), "%s", strerror(errno));

        } else {
            outcome = OCI_FSCK_REPAIRED;
            snprintf(action, sizeof(action), "recreated as %s",
                     mf.m.media_type);
        }
    }

    oci_admin_fsck_problem(fx, kind, repo->name, d->str, outcome, action,
                           "%s", why);

    rc = (outcome == OCI_FSCK_REPAIRED);

    oci_admin_mf_free(&mf);

    return rc;
}


static void
oci_admin_fsck_refs(oci_admin_fsck_t *fx, oci_admin_repo_t *repo,
    oci_admin_digest_t *d)
{
    size_t          i;
    oci_admin_mf_t  mf;

    if (oci_admin_mf_read(repo, d, &mf) != OCI_ADMIN_OK || !mf.hash_ok
        || mf.type_rc != OCI_ADMIN_OK || mf.parse_rc != NGX_OCI_MANIFEST_OK)
    {
        /* reported already */
        oci_admin_mf_free(&mf);
        return;
    }

    if (mf.m.config) {
        oci_admin_fsck_ref(fx, repo, d, mf.m.config, "config", 0);
    }

    for (i = 0; i < json_array_size(mf.m.layers); i++) {
        oci_admin_fsck_ref(fx, repo, d, json_array_get(mf.m.layers, i),
                           "layers", i);
    }

    for (i = 0; i < json_array_size(mf.m.manifests); i++) {
        oci_admin_fsck_ref(fx, repo, d, json_array_get(mf.m.manifests, i),
                           "manifests", i);
    }

    oci_admin_mf_free(&mf);

    oci_admin_fsck_progress(fx, 0);
}


static void
oci_admin_fsck_ref(oci_admin_fsck_t *fx, oci_admin_repo_t *repo,
    oci_admin_digest_t *d, json_t *desc, const char *role, size_t i)
{
    char                path[OCI_ADMIN_PATH_LEN], where[64];
    size_t              len;
    struct stat         st;
    const u_char       *p;
    oci_admin_digest_t  r;

    if (ngx_oci_descriptor_is_foreign(desc)
        || ngx_oci_descriptor_digest(desc, &p, &len, NULL)
           != NGX_OCI_DIGEST_OK
        || oci_admin_digest_set(&r, (const char *) p, len) != 0)
    {
        return;
    }

    if (role[0] == 'c') {
        snprintf(where, sizeof(where), "its config");

    } else {
        snprintf(where, sizeof(where), "%s[%zu]", role, i);
    }

    if (role[0] == 'm') {
        if (oci_admin_fsck_stored(repo, &r)) {
            return;
        }

        oci_admin_fsck_problem(fx, OCI_FSCK_MISSING_MANIFEST, repo->name,
                               d->str,
                               fx->repair ? OCI_FSCK_FAILED
                                          : OCI_FSCK_NOT_TRIED,
                               "push the manifest again, or the index",
                               "%s %s is not stored in the repository",
                               where, r.str);
        return;
    }

    if (oci_admin_path(path, "%s/_blobs/%s/%s", repo->path,
                       oci_admin_digest_alg(&r), oci_admin_digest_hex(&r))
        < 0
        || (lstat(path, &st) == 0 && S_ISREG(st.st_mode)))
    {
        return;
    }

    oci_admin_fsck_problem(fx, OCI_FSCK_MISSING_BLOB, repo->name, d->str,
                           fx->repair ? OCI_FSCK_FAILED : OCI_FSCK_NOT_TRIED,
                           "push the blob again, or delete the manifest",
                           "%s %s is not in the repository", where, r.str);
}


static void
oci_admin_fsck_tags(oci_admin_fsck_t *fx, oci_admin_repo_t *repo)
{
    int             rc;
    char            path[OCI_ADMIN_PATH_LEN];
    size_t          i;
    oci_admin_ls_t  ls;

    if (oci_admin_path(path, "%s/_tags", repo->path) < 0) {
        return;
    }

    rc = oci_admin_ls(path, &ls);
    if (rc != OCI_ADMIN_OK) {
        fx->errors += (rc == OCI_ADMIN_ERROR);
        return;
    }

    for (i = 0; i < ls.n; i++) {
        if (ls.e[i].type == DT_REG && strcmp(ls.e[i].name, ".lock") == 0) {
            continue;
        }

        if (ls.e[i].type == DT_REG
            && ngx_oci_tag_valid((u_char *) ls.e[i].name,
                                 strlen(ls.e[i].name)))
        {
            oci_admin_fsck_tag(fx, repo, ls.e[i].name);
            continue;
        }

        if (oci_admin_path(path, "%s/_tags/%s", repo->path, ls.e[i].name)
            > 0)
        {
            oci_admin_fsck_stray(fx, oci_admin_fsck_rel(fx, path),
                                 ls.e[i].type == DT_REG
                                 ? "not a valid tag name"
                                 : "not a regular file");
        }
    }

    oci_admin_ls_free(&ls);
}


static void
oci_admin_fsck_tag(oci_admin_fsck_t *fx, oci_admin_repo_t *repo,
    const char *tag)
{
    int                 rc, fd, outcome;
    char                path[OCI_ADMIN_PATH_LEN], to[OCI_ADMIN_PATH_LEN];
    char                action[OCI_ADMIN_PATH_LEN + 32];
    oci_admin_digest_t  d, again;

    fx->tags++;

    rc = oci_admin_tag_read(repo, tag, &d);

    if (rc == OCI_ADMIN_ERROR) {
        fx->errors++;
        return;
    }

    if (rc == OCI_ADMIN_MISSING
        || (rc == OCI_ADMIN_OK && oci_admin_fsck_stored(repo, &d)))
    {
        return;
    }

    if (oci_admin_path(path, "%s/_tags/%s", repo->path, tag) < 0) {
        return;
    }

    outcome = OCI_FSCK_NOT_TRIED;
    action[0] = '\0';

    if (fx->repair) {
        outcome = OCI_FSCK_FAILED;

        /* as the module changes tags: under the lock, if still so */

        fd = oci_admin_tags_lock(repo);

        if (fd == -1) {
            snprintf(action, sizeof(action), "cannot lock the tags");

        } else if (oci_admin_tag_read(repo, tag, &again) != rc
                   || (rc == OCI_ADMIN_OK
                       && (strcmp(again.str, d.str) != 0
                           || oci_admin_fsck_stored(repo, &again))))
        {
            snprintf(action, sizeof(action), "it changed meanwhile");

        } else if (rc == OCI_ADMIN_OK) {
            if (unlink(path) == 0) {
                outcome = OCI_FSCK_REPAIRED;
                snprintf(action, sizeof(action), "removed");

            } else {
                snprintf(action, sizeof(action), "unlink(): %s",
                         strerror(errno));
            }

        } else if (oci_admin_fsck_quarantine(fx, oci_admin_fsck_rel(fx, path),
                                             to)
                   == 0)
        {
            outcome = OCI_FSCK_REPAIRED;
            snprintf(action, sizeof(action), "moved to %s", to);

        } else {
            snprintf(action, sizeof(action), "%s", strerror(errno));
        }

        if (fd != -1) {
            close(fd);
        }
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


/* the registry serves a manifest when both the link and ".type" exist */

static int
oci_admin_fsck_stored(oci_admin_repo_t *repo, oci_admin_digest_t *d)
{
    char         path[OCI_ADMIN_PATH_LEN];
    struct stat  st;

    if (oci_admin_path(path, "%s/_manifests/%s/%s.type", repo->path,
                       oci_admin_digest_alg(d), oci_admin_digest_hex(d))
        < 0
        || lstat(path, &st) == -1)
    {
        return 0;
    }

    path[strlen(path) - (sizeof(".type") - 1)] = '\0';

    return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}


static void
oci_admin_fsck_uploads(oci_admin_fsck_t *fx)
{
    int             rc, data, state;
    char            path[OCI_ADMIN_PATH_LEN], id[NGX_OCI_UPLOAD_ID_LEN + 1];
    char           *name;
    size_t          i, len;
    oci_admin_ls_t  ls;

    if (oci_admin_path(path, "%s/_uploads", fx->opt.storage) < 0) {
        return;
    }

    rc = oci_admin_ls(path, &ls);
    if (rc != OCI_ADMIN_OK) {
        fx->errors += (rc == OCI_ADMIN_ERROR);
        return;
    }

    /* sorted: "<id>.data" comes right before "<id>.state" */

    for (i = 0; i < ls.n; i++) {
        name = ls.e[i].name;
        len = strlen(name);

        if (ls.e[i].type != DT_REG
            || len <= NGX_OCI_UPLOAD_ID_LEN
            || !ngx_oci_upload_id_valid((u_char *) name,
                                        NGX_OCI_UPLOAD_ID_LEN)
            || (strcmp(name + NGX_OCI_UPLOAD_ID_LEN, ".data") != 0
                && strcmp(name + NGX_OCI_UPLOAD_ID_LEN, ".state") != 0))
        {
            snprintf(path, sizeof(path), "_uploads/%s", name);
            oci_admin_fsck_stray(fx, path, "not part of an upload session");
            continue;
        }

        memcpy(id, name, NGX_OCI_UPLOAD_ID_LEN);
        id[NGX_OCI_UPLOAD_ID_LEN] = '\0';

        data = (name[NGX_OCI_UPLOAD_ID_LEN + 1] == 'd');
        state = !data;

        if (data && i + 1 < ls.n && ls.e[i + 1].type == DT_REG
            && strncmp(ls.e[i + 1].name, id, NGX_OCI_UPLOAD_ID_LEN) == 0
            && strcmp(ls.e[i + 1].name + NGX_OCI_UPLOAD_ID_LEN, ".state")
               == 0)
        {
            state = 1;
            i++;
        }

        oci_admin_fsck_upload(fx, id, data, state);
    }

    oci_admin_ls_free(&ls);
}


static void
oci_admin_fsck_upload(oci_admin_fsck_t *fx, const char *id, int data,
    int state)
{
    int          fd, kind, outcome;
    char         dpath[OCI_ADMIN_PATH_LEN], spath[OCI_ADMIN_PATH_LEN];
    char         reason[256], action[256], ref[64];
    int64_t      newest, idle;
    uint64_t     offset;
    struct stat  dst, sst;

    fx->uploads++;

    if (oci_admin_path(dpath, "%s/_uploads/%s.data", fx->opt.storage, id) < 0
        || oci_admin_path(spath, "%s/_uploads/%s.state", fx->opt.storage, id)
           < 0)
    {
        return;
    }

    data = data && lstat(dpath, &dst) == 0;
    state = state && lstat(spath, &sst) == 0;

    if (!data && !state) {
        return;
    }

    newest = 0;

    if (data) {
        newest = oci_admin_mtime(&dst);
    }

    if (state && oci_admin_mtime(&sst) > newest) {
        newest = oci_admin_mtime(&sst);
    }

    idle = (oci_admin_clock() - newest) / OCI_ADMIN_NS;

    kind = -1;
    reason[0] = '\0';

    if (state) {
        if (oci_admin_fsck_state(spath, &offset, reason, sizeof(reason))
            != OCI_ADMIN_OK)
        {
            kind = OCI_FSCK_UPLOAD_CORRUPT;

        } else if (!data) {
            /* the module removes the state first */
            kind = OCI_FSCK_UPLOAD_CORRUPT;
            snprintf(reason, sizeof(reason), "a state without a data file");

        } else if ((uint64_t) dst.st_size < offset) {
            kind = OCI_FSCK_UPLOAD_CORRUPT;
            snprintf(reason, sizeof(reason), "the data file has %llu bytes, "
                     "the state says %llu", (unsigned long long) dst.st_size,
                     (unsigned long long) offset);
        }

    } else if (idle > fx->upload_timeout) {
        /* a session being opened has a data file only, for a moment */
        kind = OCI_FSCK_UPLOAD_CORRUPT;
        snprintf(reason, sizeof(reason), "a data file without a state");
    }

    if (kind == -1) {
        if (idle <= fx->upload_timeout + OCI_FSCK_SWEEP_DELAY) {
            return;
        }

        kind = OCI_FSCK_UPLOAD_EXPIRED;
        snprintf(reason, sizeof(reason), "idle for %lld s",
                 (long long) idle);
    }

    outcome = OCI_FSCK_NOT_TRIED;
    action[0] = '\0';

    if (fx->repair) {
        outcome = OCI_FSCK_FAILED;

        /* as the module's sweeper: not while a request holds it */

        fd = data ? open(dpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) : -1;

        if (data && fd == -1) {
            snprintf(action, sizeof(action), "open(): %s", strerror(errno));

        } else if (fd != -1 && flock(fd, LOCK_EX | LOCK_NB) == -1) {
            snprintf(action, sizeof(action), "in use by a request");

        } else if ((state && unlink(spath) != 0 && errno != ENOENT)
                   || (data && unlink(dpath) != 0 && errno != ENOENT))
        {
            snprintf(action, sizeof(action), "unlink(): %s",
                     strerror(errno));

        } else {
            outcome = OCI_FSCK_REPAIRED;
            snprintf(action, sizeof(action), "removed");
        }

        if (fd != -1) {
            close(fd);
        }
    }

    snprintf(ref, sizeof(ref), "_uploads/%s", id);

    oci_admin_fsck_problem(fx, kind, NULL, ref, outcome, action, "%s",
                           reason);
}


/* the state file as ngx_oci_session.c writes it */

static int
oci_admin_fsck_state(const char *path, uint64_t *offset, char *reason,
    size_t reason_len)
{
    int              fd;
    u_char           buf[OCI_FSCK_STATE_MAX + 1], *p;
    size_t           len, i;
    ssize_t          n;
    ngx_oci_sha2_t   sha;

    fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd == -1) {
        snprintf(reason, reason_len, "state: open(): %s", strerror(errno));
        return OCI_ADMIN_CORRUPT;
    }

    for (len = 0; len < sizeof(buf); len += n) {
        n = read(fd, buf + len, sizeof(buf) - len);

        if (n == -1 && errno == EINTR) {
            n = 0;
            continue;
        }

        if (n <= 0) {
            break;
        }
    }

    close(fd);

    p = buf;

    if (len < 8 + 8 + 2 || memcmp(p, OCI_FSCK_STATE_MAGIC, 8) != 0) {
        snprintf(reason, reason_len, "the state file is corrupt");
        return OCI_ADMIN_CORRUPT;
    }

    p += 8;

    *offset = 0;

    for (i = 0; i < 8; i++) {
        *offset = (*offset << 8) | *p++;
    }

    i = (p[0] << 8) | p[1];
    p += 2;

    if (len != 8 + 8 + 2 + i + NGX_OCI_SHA2_STATE_SIZE
        || !ngx_oci_name_valid(p, i)
        || ngx_oci_sha2_load(&sha, p + i, NGX_OCI_SHA2_STATE_SIZE) != 0
        || sha.total != *offset)
    {
        snprintf(reason, reason_len, "the state file is corrupt");
        return OCI_ADMIN_CORRUPT;
    }

    return OCI_ADMIN_OK;
}


/*
 * Renames <root>/<rel> to <root>/_quarantine/<time>/<rel>, the run's
 * directory made on first use; "to" gets the new path relative to the
 * root.  0, or -1 with errno.
 */

static int
oci_admin_fsck_quarantine(oci_admin_fsck_t *fx, const char *rel, char *to)
{
    int         i, n;
    char        from[OCI_ADMIN_PATH_LEN], path[OCI_ADMIN_PATH_LEN];
    char        stamp[32];
    struct tm   tm;

    if (!fx->quarantine_ready) {
        gmtime_r(&fx->wall_start, &tm);
        strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);

        if (oci_admin_path(path, "%s/_quarantine", fx->opt.storage) < 0) {
            errno = ENAMETOOLONG;
            return -1;
        }

        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            return -1;
        }

        /* a run of the same second has its own */

        for (i = 1; i < 100; i++) {
            n = snprintf(fx->quarantine, sizeof(fx->quarantine),
                         i == 1 ? "_quarantine/%s" : "_quarantine/%s-%d",
                         stamp, i);

            if (n < 0 || oci_admin_path(path, "%s/%s", fx->opt.storage,
                                        fx->quarantine)
                         < 0)
            {
                errno = ENAMETOOLONG;
                return -1;
            }

            if (mkdir(path, 0700) == 0) {
                break;
            }

            if (errno != EEXIST) {
                return -1;
            }
        }

        if (i == 100) {
            errno = EEXIST;
            return -1;
        }

        fx->quarantine_ready = 1;
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

    if (oci_admin_path(to, "%s/%s", fx->quarantine, rel) < 0) {
        strcpy(to, fx->quarantine);
    }

    return 0;
}


/* a small file written whole to _tmp/ and renamed into place */

static int
oci_admin_fsck_write(oci_admin_fsck_t *fx, const char *path,
    const char *content, size_t len)
{
    int      fd, err;
    char     tmp[OCI_ADMIN_PATH_LEN];
    ssize_t  n;

    if (oci_admin_path(tmp, "%s/_tmp/oci-admin-fsck.%ld.%u", fx->opt.storage,
                       (long) getpid(), fx->tmp_n++)
        < 0)
    {
        errno = ENAMETOOLONG;
        return -1;
    }

    if (oci_admin_mkdirs(tmp) != 0) {
        return -1;
    }

    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd == -1) {
        return -1;
    }

    n = write(fd, content, len);
    err = errno;

    if (close(fd) != 0 || n != (ssize_t) len) {
        (void) unlink(tmp);
        errno = n == -1 ? err : EIO;
        return -1;
    }

    if (rename(tmp, path) != 0) {
        err = errno;
        (void) unlink(tmp);
        errno = err;
        return -1;
    }

    return 0;
}


static const char *
oci_admin_fsck_rel(oci_admin_fsck_t *fx, const char *path)
{
    size_t  len;

    len = strlen(fx->opt.storage);

    if (strncmp(path, fx->opt.storage, len) == 0 && path[len] == '/') {
        return path + len + 1;
    }

    return path;
}


static uint64_t
oci_admin_fsck_prefix(const char *hex)
{
    int       i;
    uint64_t  v;

    v = 0;

    for (i = 0; i < 16 && hex[i]; i++) {
        v = (v << 4) | (uint64_t) (hex[i] <= '9' ? hex[i] - '0'
                                                 : hex[i] - 'a' + 10);
    }

    return v;
}


static int
oci_admin_fsck_report(oci_admin_fsck_t *fx)
{
    int      rc, k, first;
    char    *s;
    double   seconds;
    json_t  *o, *counts;

    seconds = oci_admin_now() - fx->start;

    if (!fx->opt.json) {
        printf("fsck: %llu blob files (%llu bytes hashed), %llu "
               "repositories, %llu manifests, %llu tags, %llu upload "
               "sessions; %llu problems",
               (unsigned long long) fx->blob_files,
               (unsigned long long) fx->bytes,
               (unsigned long long) fx->repositories,
               (unsigned long long) fx->manifests,
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

        return fflush(stdout) == 0 ? 0 : -1;
    }

    seconds = (double) (long long) (seconds * 1000 + 0.5) / 1000;

    counts = json_object();
    if (counts == NULL) {
        goto nomem;
    }

    for (k = 0; k < OCI_FSCK_KINDS; k++) {
        if (json_object_set_new(counts, oci_admin_fsck_kinds[k],
                                json_integer((json_int_t) fx->counts[k]))
            != 0)
        {
            json_decref(counts);
            goto nomem;
        }
    }

    o = json_pack("{sIsIsIsIsIsIsIsIsIsIsosOsbsf}",
                  "blob_files", (json_int_t) fx->blob_files,
                  "bytes_hashed", (json_int_t) fx->bytes,
                  "repositories", (json_int_t) fx->repositories,
                  "manifests", (json_int_t) fx->manifests,
                  "tags", (json_int_t) fx->tags,
                  "upload_sessions", (json_int_t) fx->uploads,
                  "problems_found", (json_int_t) fx->found,
                  "repaired", (json_int_t) fx->repaired,
                  "remaining", (json_int_t) (fx->found - fx->repaired),
                  "errors", (json_int_t) fx->errors,
                  "counts", counts,
                  "problems", fx->problems,
                  "repair", fx->repair,
                  "seconds", seconds);

    if (o == NULL) {
        goto nomem;
    }

    s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));

    json_decref(o);

    if (s == NULL) {
        goto nomem;
    }

    rc = printf("%s\n", s) < 0 || fflush(stdout) != 0 ? -1 : 0;

    free(s);

    return rc;

nomem:

    oci_admin_warn("out of memory");

    return -1;
}
