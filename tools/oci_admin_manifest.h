
/*
 * oci-admin: the manifests of a repository, read one way for every
 * subcommand, and what they refer to.
 */


#ifndef _OCI_ADMIN_MANIFEST_H_INCLUDED_
#define _OCI_ADMIN_MANIFEST_H_INCLUDED_


#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "ngx_oci_manifest_check.h"
#include "oci_admin_store.h"


#define OCI_ADMIN_MANIFEST_MAX  (64 * 1024 * 1024)


typedef struct {
    struct stat          st;            /* of the link */
    u_char              *data;
    size_t               len;

    int                  hash_ok;       /* the bytes hash to the name */
    char                 actual[OCI_ADMIN_DIGEST_LEN + 1];

    int                  type_rc;       /* of reading the ".type" */
    struct stat          type_st;       /* valid unless MISSING */
    size_t               type_len;
    char                 type[OCI_ADMIN_TYPE_LEN + 1];

    int                  attr_rc;       /* of reading the content's */
    size_t               attr_len;      /* copy of its media type */
    char                 attr[OCI_ADMIN_TYPE_LEN + 1];

    int                  parse_rc;      /* NGX_OCI_MANIFEST_* */
    ngx_oci_manifest_t   m;             /* valid if parse_rc is OK */

    char                 reason[512];
} oci_admin_manifest_t;

/*
 * Reads "_manifests/<alg>/<hex>" (not following a symbolic link), its
 * ".type" and the copy of the media type its content keeps (attr_rc:
 * OCI_ADMIN_OK, OCI_ADMIN_MISSING, or OCI_ADMIN_ERROR, the file system
 * keeping none), hashes the bytes and parses them with the ".type" as
 * Content-Type when it is usable, else with none (the module's rule for
 * a push without Content-Type).  OCI_ADMIN_OK with the findings in mf,
 * OCI_ADMIN_MISSING (no link), OCI_ADMIN_CORRUPT (not a regular file, or
 * too large) or OCI_ADMIN_ERROR, with mf->reason; type_rc is one of the
 * same, mf->reason saying why when it is not OCI_ADMIN_OK.
 */
int oci_admin_manifest_read(oci_admin_repo_t *repo, oci_admin_digest_t *d,
    oci_admin_manifest_t *mf);

/*
 * The manifest as the registry serves it: read, with its ".type", the
 * bytes hashing to the digest and valid.  OCI_ADMIN_OK; OCI_ADMIN_MISSING
 * when the manifest or its ".type" is not there; OCI_ADMIN_CORRUPT; or
 * OCI_ADMIN_ERROR; mf->reason says why for the last two.
 */
int oci_admin_manifest_load(oci_admin_repo_t *repo, oci_admin_digest_t *d,
    oci_admin_manifest_t *mf);

/*
 * The copy of the media type the content keeps made to agree with the
 * type of the manifest d in this repository, as the module does on a
 * push: set when there is none, emptied when it holds another type (the
 * ".type" files then tell).  0, or -1 with errno.
 */
int oci_admin_manifest_mark(oci_admin_repo_t *repo, oci_admin_digest_t *d,
    const char *type, size_t len);

/* must be called after either, whatever the result */
void oci_admin_manifest_free(oci_admin_manifest_t *mf);

/* a warning about the manifest d: "<its path>: <what><reason>" */
void oci_admin_manifest_warn(oci_admin_repo_t *repo, oci_admin_digest_t *d,
    const char *what, const char *reason);

/* the digest of the subject: 0, or -1 when there is no usable one */
int oci_admin_manifest_subject(oci_admin_manifest_t *mf,
    oci_admin_digest_t *s);

/* the digest of the i-th entry of an index: 0, or -1 when unusable */
int oci_admin_manifest_child(oci_admin_manifest_t *mf, size_t i,
    oci_admin_digest_t *d);

/*
 * The one manifest of the repository whose digest starts with prefix
 * ("<alg>:<hex digits>"): OCI_ADMIN_OK, OCI_ADMIN_MISSING if there is
 * none, OCI_ADMIN_CORRUPT if there are several, OCI_ADMIN_ERROR after a
 * warning
 */
int oci_admin_manifest_find(oci_admin_repo_t *repo, const char *prefix,
    oci_admin_digest_t *d);


/*
 * What a manifest refers to: the digests of its config and layers (also
 * non-distributable ones, the registry may hold them) and of its index
 * entries, and its subject.  Strings are malloc()ed; -1 out of memory.
 */

typedef struct {
    char                **s;
    size_t                n;
    size_t                nalloc;
} oci_admin_strings_t;

typedef struct {
    oci_admin_strings_t   blobs;
    oci_admin_strings_t   children;
    char                 *subject;
} oci_admin_refs_t;

int oci_admin_refs_get(ngx_oci_manifest_t *m, oci_admin_refs_t *refs);
void oci_admin_refs_free(oci_admin_refs_t *refs);


#endif /* _OCI_ADMIN_MANIFEST_H_INCLUDED_ */
