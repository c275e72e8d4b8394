
/*
 * oci-admin gc: the run's state, and ages as gc judges them.
 *
 * Ages come from the inode: the later of mtime and ctime, since ctime
 * moves when a link is made.  Links this run removes move the ctime of
 * the inodes they shared; the ctime each of its own changes left is
 * noted, so an inode nobody else touched keeps its age.
 *
 * With --unpulled-for, what clients have not pulled for that long goes
 * first (oci_admin_gc_expire.c): the access time of a link tells when a
 * client last pulled it, to a day with relatime.
 */


#ifndef _OCI_ADMIN_GC_RUN_H_INCLUDED_
#define _OCI_ADMIN_GC_RUN_H_INCLUDED_


#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <jansson.h>

#include "oci_admin_fs.h"
#include "oci_admin_options.h"
#include "oci_admin_redis.h"
#include "oci_admin_set.h"
#include "oci_admin_store.h"


/* something the mark found unreferenced and old */

typedef struct {
    char               *digest;
    char               *subject;        /* of a manifest, or NULL */
    dev_t               dev;
    ino_t               ino;
    int64_t             stamp;          /* at the mark */
    unsigned            keep:1;         /* referenced after all */
    unsigned            unpulled:1;     /* goes only if still not pulled */
} oci_gc_cand_t;

/* the candidates of a repository */

typedef struct {
    char               *name;
    oci_gc_cand_t      *manifests;      /* sorted by digest */
    size_t              nmanifests;
    size_t              manifests_size;
    oci_gc_cand_t      *blobs;          /* sorted by digest */
    size_t              nblobs;
    size_t              blobs_size;
    int                 unsure;
} oci_gc_repo_t;


/* what a dry run names */

typedef enum {
    OCI_GC_WOULD_MANIFEST = 0,
    OCI_GC_WOULD_BLOB_LINK,
    OCI_GC_WOULD_BLOB_FILE,
    OCI_GC_WOULD_TEMPORARY,
    OCI_GC_WOULD_EXPIRE_MANIFEST,
    OCI_GC_WOULD_EXPIRE_BLOB_LINK,
    OCI_GC_WOULD_EXPIRE_TAG,
    OCI_GC_WOULD_N
} oci_gc_would_e;


typedef struct {
    oci_admin_opts_t    opt;
    int                 untagged;
    int                 dry_run;
    int64_t             grace;              /* ns */
    int64_t             orphan_grace;       /* ns */
    int64_t             unpulled;           /* ns, 0 without the option */
    const char         *unpulled_arg;       /* as given */
    int64_t             offset;             /* ns, --age-offset */
    long                pause;              /* s, --pause-after-mark */
    long                pause_expire;       /* s, --pause-before-expire */

    oci_admin_redis_t   redis;
    int                 redis_on;
    int                 redis_failed;

    int64_t             t0;                 /* wall clock at the start */
    double              start;

    oci_gc_repo_t      *repos;
    size_t              nrepos;
    size_t              repos_size;

    /* --unpulled-for: the links to expire, by repository */
    oci_gc_repo_t      *expiring;
    size_t              nexpiring;
    size_t              expiring_size;

    /*
     * --unpulled-for --dry-run: "m<repo>@<digest>" of each manifest and
     * "b<repo>@<digest>" of each blob link that would expire, which the
     * mark and the sweep take for gone
     */
    oci_admin_set_t     expired;

    /*
     * An inode a link of which this run removed: a = the ctime left,
     * b = the stamp before; n = links to remove (--dry-run)
     */
    oci_admin_imap_t    inodes;

    json_t             *would;              /* --dry-run --json */

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
    uint64_t            exp_manifests;
    uint64_t            exp_links;
    uint64_t            exp_tags;
    uint64_t            kept_young;
    uint64_t            kept_orphans;
    uint64_t            changed;
    uint64_t            unindexed;
    uint64_t            skipped;
    uint64_t            invalid_names;
    uint64_t            errors;
} oci_admin_gc_t;


/*
 * The start, on the filesystem's clock: the ctime of a file made now.
 * Links made by pushes from now on have a ctime as late or later, even
 * when the filesystem's clock is coarse, or a file server's.
 */
int64_t oci_admin_gc_t0(oci_admin_gc_t *gx);

/* the stamp of an inode, not counting the changes this run made to it */
int64_t oci_admin_gc_stamp(oci_admin_gc_t *gx, const struct stat *st);

/* whether a stamp is older than the grace, on the clock --age-offset set */
int oci_admin_gc_old(oci_admin_gc_t *gx, int64_t stamp, int64_t grace);

/*
 * A link of the inode, open as fd, was removed by this run: the ctime it
 * left, and the stamp from before (the first of this run's changes, if
 * several)
 */
void oci_admin_gc_touched(oci_admin_gc_t *gx, const struct stat *before,
    int fd);

/*
 * Removes the candidate's link at path if it is still the candidate's
 * inode and neither it nor "type" (when not NULL) changed since the
 * mark; a candidate marked "unpulled" must also still be unpulled for
 * --unpulled-for.  1 removed; 0 changed, counted; -1 gone, or after a
 * warning.
 */
int oci_admin_gc_unlink(oci_admin_gc_t *gx, oci_gc_cand_t *c,
    const char *path, const char *type);

/* whether the link st describes was not pulled for --unpulled-for */
int oci_admin_gc_unpulled(oci_admin_gc_t *gx, const struct stat *st);

/* --dry-run: one link of the candidate's inode less, for blobs/ */
void oci_admin_gc_pending(oci_admin_gc_t *gx, oci_gc_cand_t *c);

/*
 * With --redis, the manifest c of the repository, which has a subject,
 * leaves every key of its pair, as when the module deletes it
 */
void oci_admin_gc_unindex(oci_admin_gc_t *gx, oci_admin_repo_t *repo,
    oci_gc_cand_t *c);

void oci_admin_gc_progress(oci_admin_gc_t *gx);

/*
 * --dry-run: names what would be deleted, a line of stdout ("would delete
 * manifest REPO@DIGEST", "... blob file DIGEST (N bytes)", "would expire
 * tag REPO:TAG"), or with --json an entry of the summary's "would_delete"
 * or "would_expire": repo and digest (or tag) for a manifest, a blob
 * link or a tag, repo NULL and the digest or path with its size for a
 * file
 */
void oci_admin_gc_would(oci_admin_gc_t *gx, oci_gc_would_e kind,
    const char *repo, const char *name, int64_t size);

/*
 * The summary's tail for --dry-run --json: {"would_delete": {"manifests":
 * [...], "blob_links": [...], "blob_files": [...], "temporary": [...]}},
 * and with --unpulled-for "would_expire": {"manifests": [...],
 * "blob_links": [...], "tags": [...]}; gx->would is taken.  NULL out of
 * memory
 */
json_t *oci_admin_gc_would_json(oci_admin_gc_t *gx);

/* a candidate of r, a manifest or a blob link: 0, or -1 out of memory */
int oci_admin_gc_cand_add(oci_gc_repo_t *r, int manifest,
    const char *digest, const char *subject, const struct stat *st,
    int64_t stamp);
void oci_admin_gc_repo_free(oci_gc_repo_t *r);


#endif /* _OCI_ADMIN_GC_RUN_H_INCLUDED_ */
