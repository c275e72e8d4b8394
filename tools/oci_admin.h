
/*
 * oci-admin, the operations tool of ngx_oci_module: what its subcommands
 * share.  Messages and the progress line, the storage walker, manifests
 * and tags as stored (docs/storage.md), a pipelining Redis connection and
 * a set of strings.
 */


#ifndef _OCI_ADMIN_H_INCLUDED_
#define _OCI_ADMIN_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>

#include "ngx_oci_sha2.h"
#include "ngx_oci_grammar.h"
#include "ngx_oci_manifest_check.h"


/* results of the storage functions and of the walker's callbacks */
#define OCI_ADMIN_OK          0
#define OCI_ADMIN_MISSING     1     /* not stored */
#define OCI_ADMIN_CORRUPT     2     /* stored, but not what it must be */
#define OCI_ADMIN_SKIP        3     /* callback: skip this repository */
#define OCI_ADMIN_ERROR      -1     /* I/O error, out of memory */
#define OCI_ADMIN_ABORT      -2     /* callback: stop the walk */

/* exit statuses, the same for every subcommand */
#define OCI_ADMIN_EXIT_OK       0
#define OCI_ADMIN_EXIT_USAGE    1
#define OCI_ADMIN_EXIT_REDIS    2   /* unreachable, refused, lost */
#define OCI_ADMIN_EXIT_CORRUPT  3   /* corrupt content found */
#define OCI_ADMIN_EXIT_ERROR    4   /* I/O errors, Redis error replies */

#define OCI_ADMIN_PATH_LEN      4096
#define OCI_ADMIN_TYPE_LEN      256

/* "sha256:" and "sha512:" are both 7 bytes long */
#define OCI_ADMIN_ALG_LEN       7
#define OCI_ADMIN_DIGEST_LEN    (OCI_ADMIN_ALG_LEN + 128)


/* messages: stderr, "oci-admin: " first, the progress line cleared */

void oci_admin_warn(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/*
 * The progress line: a single line of stderr rewritten with "\r", at most
 * ten times a second unless "force", and only when enabled (stderr is a
 * terminal and --quiet was not given).  oci_admin_progress_end() erases
 * it.
 */
void oci_admin_progress_init(int enabled);
void oci_admin_progress(int force, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void oci_admin_progress_end(void);

/* seconds from a monotonic clock */
double oci_admin_now(void);


/* a digest of a supported algorithm, as "<alg>:<hex>" */

typedef struct {
    int       alg;                          /* NGX_OCI_SHA256 or _SHA512 */
    size_t    len;                          /* of str */
    char      str[OCI_ADMIN_DIGEST_LEN + 1];
} oci_admin_digest_t;

#define oci_admin_digest_hex(d)  ((d)->str + OCI_ADMIN_ALG_LEN)
#define oci_admin_digest_alg(d)                                              \
    ((d)->alg == NGX_OCI_SHA512 ? "sha512" : "sha256")

/* 0, or -1 when p is not a sha256 or sha512 digest */
int oci_admin_digest_set(oci_admin_digest_t *d, const char *p, size_t len);


/* a repository: its name and directory */

typedef struct {
    const char  *root;
    size_t       name_len;
    size_t       path_len;
    char         name[NGX_OCI_NAME_MAX_LEN + 1];
    char         path[OCI_ADMIN_PATH_LEN];    /* <root>/repositories/<name> */
} oci_admin_repo_t;

/* 0, or -1 when the name is not valid or the path too long */
int oci_admin_repo_init(oci_admin_repo_t *repo, const char *root,
    const char *name, size_t len);


/* a manifest as stored in a repository */

typedef struct {
    u_char              *data;
    size_t               len;
    size_t               type_len;
    char                 type[OCI_ADMIN_TYPE_LEN + 1];
    ngx_oci_manifest_t   m;                 /* valid if OCI_ADMIN_OK */
    char                 reason[512];       /* why CORRUPT or ERROR */
} oci_admin_manifest_t;

/*
 * Reads "_manifests/<alg>/<hex>" and its ".type", checks that the bytes
 * hash to the digest and parses them with the stored media type as the
 * Content-Type.  Returns:
 *
 *   OCI_ADMIN_OK       mf->m is the parsed manifest;
 *   OCI_ADMIN_MISSING  the manifest or its ".type" is not there: the
 *                      registry does not serve it;
 *   OCI_ADMIN_CORRUPT  wrong digest, unusable ".type", invalid manifest;
 *   OCI_ADMIN_ERROR    I/O error or out of memory.
 *
 * mf->reason says why for the last two.  oci_admin_manifest_free() must
 * be called whatever the result.
 */
int oci_admin_manifest_load(oci_admin_repo_t *repo, oci_admin_digest_t *d,
    oci_admin_manifest_t *mf);
void oci_admin_manifest_free(oci_admin_manifest_t *mf);

/*
 * The one manifest of the repository whose digest starts with prefix
 * ("<alg>:<hex digits>"): OCI_ADMIN_OK, OCI_ADMIN_MISSING if there is
 * none, OCI_ADMIN_CORRUPT if there are several, OCI_ADMIN_ERROR after a
 * warning
 */
int oci_admin_manifest_find(oci_admin_repo_t *repo, const char *prefix,
    oci_admin_digest_t *d);

/*
 * The digest a tag points to: OCI_ADMIN_OK, OCI_ADMIN_MISSING,
 * OCI_ADMIN_CORRUPT (the file does not hold a digest) or OCI_ADMIN_ERROR
 */
int oci_admin_tag_read(oci_admin_repo_t *repo, const char *tag,
    oci_admin_digest_t *d);


/*
 * The storage walker.  Repositories are the directories under
 * <root>/repositories that have "_manifests"; the tree is walked depth
 * first, the entries of each directory in byte order, so a repository
 * comes before the ones nested in it.  For each one: repo(), then
 * manifest() for each "_manifests/<alg>/<hex>" in order, then tag() for
 * each tag in order, then repo_done().  Any callback may be NULL.  A
 * callback returns OCI_ADMIN_OK, OCI_ADMIN_SKIP (go on with the next
 * repository, repo_done() is not called) or OCI_ADMIN_ABORT
 * (oci_admin_walk() returns OCI_ADMIN_ABORT at once).
 *
 * Directory names starting with "_" are never entered, other than a
 * repository's own "_manifests" and "_tags"; symbolic links are not
 * followed.  Repositories whose name is not valid are skipped with a
 * warning and counted.  Unreadable directories are warned about and
 * counted in "errors".
 */

typedef struct oci_admin_walk_s  oci_admin_walk_t;

struct oci_admin_walk_s {
    const char  *root;
    void        *data;

    int        (*repo)(oci_admin_walk_t *w, oci_admin_repo_t *repo);
    int        (*manifest)(oci_admin_walk_t *w, oci_admin_repo_t *repo,
                           oci_admin_digest_t *d);
    int        (*tag)(oci_admin_walk_t *w, oci_admin_repo_t *repo,
                      const char *tag);
    int        (*repo_done)(oci_admin_walk_t *w, oci_admin_repo_t *repo);

    uint64_t     invalid_names;
    uint64_t     errors;
};

int oci_admin_walk(oci_admin_walk_t *w);


/* a set of strings, for what a run has already seen */

typedef struct {
    char      **slots;
    size_t      size;                       /* a power of two */
    size_t      count;
} oci_admin_set_t;

/* 1 added, 0 already there, -1 out of memory */
int oci_admin_set_add(oci_admin_set_t *s, const char *p, size_t len);
int oci_admin_set_has(oci_admin_set_t *s, const char *p, size_t len);
void oci_admin_set_free(oci_admin_set_t *s);


/*
 * A Redis connection for pipelining: commands are appended, and their
 * replies read in order, in batches of OCI_ADMIN_REDIS_BATCH.
 */

#define OCI_ADMIN_REDIS_BATCH  256

typedef struct {
    redisContext  *ctx;
    unsigned       writes;         /* written, reply not read yet */
    unsigned       reads;          /* appended after them, not read yet */
    uint64_t       errors;         /* error replies to written commands */
} oci_admin_redis_t;

/*
 * addr is "host[:port]", "[v6]:port" or "unix:/path"; password may be
 * NULL.  Returns 0; -1 after a message if the server is unreachable or
 * refuses; -2 after a message if addr is not an address.
 */
int oci_admin_redis_connect(oci_admin_redis_t *r, const char *addr,
    const char *password, long db);
void oci_admin_redis_close(oci_admin_redis_t *r);

/* one command and its reply; NULL after a message if the link failed */
redisReply *oci_admin_redis_command(oci_admin_redis_t *r, int argc,
    const char **argv, const size_t *argvlen);

/* appends; 0, or -1 after a message */
int oci_admin_redis_append(oci_admin_redis_t *r, int argc,
    const char **argv, const size_t *argvlen);

/*
 * The reply of the oldest command appended with oci_admin_redis_append(),
 * after those of the writes before it; NULL after a message if the link
 * failed.  The caller frees it with freeReplyObject().
 */
redisReply *oci_admin_redis_reply(oci_admin_redis_t *r);

/*
 * Write commands whose reply only matters when it is an error: appended,
 * and their replies read once OCI_ADMIN_REDIS_BATCH are pending, before
 * the reply of a later read, or at oci_admin_redis_flush().  Error
 * replies (also inside an EXEC reply) are reported and counted in
 * r->errors.  Writes must not be appended while replies of reads are
 * pending.  0, or -1 after a message if the link failed.
 */
int oci_admin_redis_write(oci_admin_redis_t *r, int argc,
    const char **argv, const size_t *argvlen);
int oci_admin_redis_flush(oci_admin_redis_t *r);


/* an argv being built: strings are referenced, not copied */

typedef struct {
    const char  **argv;
    size_t       *len;
    int           argc;
    int           cap;
} oci_admin_cmd_t;

/* 0, or -1 out of memory */
int oci_admin_cmd_push(oci_admin_cmd_t *c, const char *p, size_t len);
void oci_admin_cmd_free(oci_admin_cmd_t *c);


/*
 * The options the subcommands share: --storage, --redis, --password,
 * --db, --prefix, --json, --quiet and --help, each with the same getopt
 * value in every subcommand's table.
 */

typedef struct {
    const char         *storage;        /* without trailing slashes */
    const char         *redis_addr;
    const char         *password;
    const char         *prefix;
    size_t              prefix_len;
    long                db;
    int                 json;
    int                 quiet;
    char                root[OCI_ADMIN_PATH_LEN];
} oci_admin_opts_t;

struct option;

typedef struct {
    const char             *name;       /* "gc", for messages */
    const struct option    *longopts;
    void                  (*usage)(FILE *f);

    /*
     * The subcommand's own options, looked at first: 0 taken, 1 not its
     * own, -1 after a message when the value is wrong
     */
    int                   (*option)(void *data, int c, char *arg);

    int                     redis_required;
    size_t                  reserve;    /* bytes of root kept for paths */
} oci_admin_getopt_t;

/*
 * Parses argv, checks --storage (a directory, its trailing slashes
 * removed, stored in o->root) and --prefix, takes the password from
 * $REDISCLI_AUTH when not given and enables the progress line.  -1 to go
 * on, else the exit status.
 */
int oci_admin_options(oci_admin_opts_t *o, const oci_admin_getopt_t *g,
    void *data, int argc, char **argv);

/* connects as the options say: OCI_ADMIN_EXIT_OK, or the exit status */
int oci_admin_options_redis(oci_admin_opts_t *o, oci_admin_redis_t *r);


/* the subcommands: argc and argv start at the subcommand's name */

int oci_admin_reindex(int argc, char **argv);
int oci_admin_fsck(int argc, char **argv);
int oci_admin_gc(int argc, char **argv);


#endif /* _OCI_ADMIN_H_INCLUDED_ */
