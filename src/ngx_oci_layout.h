
/*
 * The storage layout under "oci_storage": the one place where its
 * directory names and path formats are spelled.  Pure (libc only), so
 * the module, oci-admin and the unit tests build paths the same way.
 *
 *   blobs/<alg>/<xx>/<hex>                         content, once per digest
 *   repositories/<name>/_blobs/<alg>/<hex>         hard link: blob in <name>
 *   repositories/<name>/_manifests/<alg>/<hex>     hard link: manifest
 *   repositories/<name>/_manifests/<alg>/<hex>.type    its media type
 *   repositories/<name>/_tags/<tag>                "<alg>:<hex>"
 *   repositories/<name>/_tags/.<tag>.lock          the tag's lock, while held
 *   repositories/<name>/_tags/.<alg>:<hex>.lock    a digest's delete lock
 *   _uploads/<id>.data, _uploads/<id>.state        upload sessions
 *   repositories/<name>/_referrers/<alg>/<hex>/<page>  rendered pages
 *                                                  of the referrers API
 *   _tmp/<id>                                      files before publication
 *   _tmp/fill-<alg>:<hex>                          a blob being fetched
 *                                                  from an upstream
 *   _slots/_all/<n>, _slots/<name>/_uploads/<n>    upload sessions' slots
 *   _quarantine/                                   what fsck --repair moved
 *
 * <xx> is the first two digits of <hex>.  The registry's own directories
 * start with "_", which a repository name component cannot.
 *
 * A manifest's content file may also hold its media type in the extended
 * attribute NGX_OCI_LAYOUT_TYPE_XATTR: the ".type" beside each link is
 * what a repository pushed, the attribute a copy of it that a GET reads
 * on the descriptor it serves, left empty by a push that found another
 * type in it (the ".type" files then decide).
 */


#ifndef _NGX_OCI_LAYOUT_H_INCLUDED_
#define _NGX_OCI_LAYOUT_H_INCLUDED_


#include <stddef.h>
#include <sys/types.h>


#define NGX_OCI_LAYOUT_BLOBS_DIR       "blobs"
#define NGX_OCI_LAYOUT_REPOS_DIR       "repositories"
#define NGX_OCI_LAYOUT_UPLOADS_DIR     "_uploads"
#define NGX_OCI_LAYOUT_TMP_DIR         "_tmp"
#define NGX_OCI_LAYOUT_QUARANTINE_DIR  "_quarantine"
#define NGX_OCI_LAYOUT_SLOTS_DIR       "_slots"
#define NGX_OCI_LAYOUT_SLOTS_ALL       "_all"
#define NGX_OCI_LAYOUT_SLOTS_REPO      "_uploads"

#define NGX_OCI_LAYOUT_REPO_BLOBS      "_blobs"
#define NGX_OCI_LAYOUT_REPO_MANIFESTS  "_manifests"
#define NGX_OCI_LAYOUT_REPO_TAGS       "_tags"
#define NGX_OCI_LAYOUT_REPO_REFERRERS  "_referrers"

#define NGX_OCI_LAYOUT_TYPE_SUFFIX     ".type"
#define NGX_OCI_LAYOUT_DATA_SUFFIX     ".data"
#define NGX_OCI_LAYOUT_STATE_SUFFIX    ".state"
#define NGX_OCI_LAYOUT_HIDDEN          "."          /* before a lock's tag */
#define NGX_OCI_LAYOUT_TAG_LOCK        ".lock"      /* after ".<tag>" */
#define NGX_OCI_LAYOUT_TYPE_XATTR      "user.oci.type"

/* the longest relative path: a 255-byte name and a sha512 digest fit */
#define NGX_OCI_LAYOUT_MAX             512


/*
 * What a path names, and which arguments it takes: N a repository name,
 * D a digest "<alg>:<hex>", T a tag, I an upload or temporary file id.
 */
typedef enum {
    NGX_OCI_LAYOUT_BLOBS = 0,       /* blobs */
    NGX_OCI_LAYOUT_BLOB,            /* blobs/<alg>/<xx>/<hex>          D */
    NGX_OCI_LAYOUT_REPOS,           /* repositories */
    NGX_OCI_LAYOUT_REPO,            /* repositories/<name>             N */
    NGX_OCI_LAYOUT_REPO_BLOBS_DIR,  /* .../<name>/_blobs               N */
    NGX_OCI_LAYOUT_REPO_BLOB,       /* .../<name>/_blobs/<alg>/<hex>   ND */
    NGX_OCI_LAYOUT_MANIFESTS_DIR,   /* .../<name>/_manifests           N */
    NGX_OCI_LAYOUT_MANIFEST,        /* .../_manifests/<alg>/<hex>      ND */
    NGX_OCI_LAYOUT_MANIFEST_TYPE,   /* .../_manifests/<alg>/<hex>.type ND */
    NGX_OCI_LAYOUT_TAGS_DIR,        /* .../<name>/_tags                N */
    NGX_OCI_LAYOUT_TAG,             /* .../<name>/_tags/<tag>          NT */
    NGX_OCI_LAYOUT_TAG_LOCK_FILE,   /* .../<name>/_tags/.<tag>.lock    NT */
    NGX_OCI_LAYOUT_DIGEST_LOCK_FILE, /* .../_tags/.<alg>:<hex>.lock    ND */
    NGX_OCI_LAYOUT_UPLOADS,         /* _uploads */
    NGX_OCI_LAYOUT_UPLOAD_DATA,     /* _uploads/<id>.data              I */
    NGX_OCI_LAYOUT_UPLOAD_STATE,    /* _uploads/<id>.state             I */
    NGX_OCI_LAYOUT_TMP,             /* _tmp */
    NGX_OCI_LAYOUT_TMP_FILE,        /* _tmp/<id>                       I */
    NGX_OCI_LAYOUT_QUARANTINE,      /* _quarantine */
    NGX_OCI_LAYOUT_SLOTS,           /* _slots */
    NGX_OCI_LAYOUT_SLOT,            /* _slots/_all/<n>                 I */
    NGX_OCI_LAYOUT_REPO_SLOT,       /* _slots/<name>/_uploads/<n>      NI */
    NGX_OCI_LAYOUT_REFERRERS_ROOT,  /* .../<name>/_referrers           N */
    NGX_OCI_LAYOUT_REFERRERS_DIR    /* .../_referrers/<alg>/<hex>      ND */
} ngx_oci_layout_e;


/*
 * Writes the path of "what", relative to the storage root (no leading
 * "/"), NUL-terminated, into buf.  name is the repository (ignored where
 * the path has none), ref the digest, tag or id.  The arguments must be
 * valid by the spec's grammar already: this checks only that a digest
 * has an algorithm and at least two digits.  Returns the length, or 0
 * when the path does not fit or a digest is not "<alg>:<hex>".
 */
size_t ngx_oci_layout_path(u_char *buf, size_t size, ngx_oci_layout_e what,
    const u_char *name, size_t name_len, const u_char *ref, size_t ref_len);



/*
 * A page of the referrers API, cached in the directory of its (repository,
 * subject) pair: "page-<64 hex>", the SHA-256 of the page's key (the page
 * size, the "last" digest it starts after, its artifactType filter), so
 * that any filter bytes make a plain file name.  Pages are written under
 * ".tmp-<id>" in the same directory and renamed.
 */
#define NGX_OCI_LAYOUT_PAGE_PREFIX     "page-"

/* in a mirror, its mtime says when the pair's referrers were fetched */
#define NGX_OCI_LAYOUT_PAGE_SYNCED     ".synced"
#define NGX_OCI_LAYOUT_PAGE_TMP        ".tmp-"

/* a blob being fetched from an upstream: "_tmp/fill-<alg>:<hex>" */
#define NGX_OCI_LAYOUT_TMP_FILL        "fill-"

/* an invalidated directory of pages, in _tmp/ until it is removed */
#define NGX_OCI_LAYOUT_TMP_PAGES       "referrers-"
#define NGX_OCI_LAYOUT_PAGE_NAME_LEN   (sizeof(NGX_OCI_LAYOUT_PAGE_PREFIX) \
                                        - 1 + 64)

/*
 * A page file is a header of NGX_OCI_LAYOUT_PAGE_HEADER bytes, then the
 * body as sent.  The header is text, padded with spaces:
 *
 *   "ocirefs1\n" <ETag: 64 hex digits> "\n" [<last digest>] ... "\n"
 *
 * where <last digest>, when present, is the cursor of the Link to the
 * next page (no digest: the page is the last one).
 */
#define NGX_OCI_LAYOUT_PAGE_HEADER     256
#define NGX_OCI_LAYOUT_PAGE_MAGIC      "ocirefs1\n"

/* a cached page's header, as read back */
typedef struct {
    u_char        etag[64];         /* hex digits of the body's SHA-256 */
    const u_char *last;             /* into the header; NULL: no Link */
    size_t        last_len;
} ngx_oci_layout_page_t;


/*
 * Writes the page's file name (NGX_OCI_LAYOUT_PAGE_NAME_LEN bytes and a
 * NUL) into buf for pages of n entries starting after "last" (may be
 * empty) and filtered by "type" (NULL: no filter).  Returns the length,
 * or 0 when buf is too small.
 */
size_t ngx_oci_layout_page_name(u_char *buf, size_t size, size_t n,
    const u_char *last, size_t last_len, const u_char *type,
    size_t type_len);

/*
 * Writes the header (NGX_OCI_LAYOUT_PAGE_HEADER bytes) of a page whose
 * body has the SHA-256 "etag" (64 hex digits) and whose Link starts
 * after "last" (NULL: no Link).  0, or -1 when "last" does not fit.
 */
int ngx_oci_layout_page_header(u_char *buf, const u_char *etag,
    const u_char *last, size_t last_len);

/* reads a header back: 0, or -1 when it is not one */
int ngx_oci_layout_page_parse(const u_char *buf, size_t len,
    ngx_oci_layout_page_t *page);


#endif /* _NGX_OCI_LAYOUT_H_INCLUDED_ */
