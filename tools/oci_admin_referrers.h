
/*
 * oci-admin: referrers as the storage holds them.  A manifest is a
 * referrer of a subject when its "subject" says so, or when the subject's
 * fallback tag "<alg>-<ref>" names an image index that lists it, as
 * clients keep for registries without the referrers API (distribution
 * spec, "Referrers Tag Schema").  <ref> is the subject's hex digits cut
 * to 64: all of a sha256, the first half of a sha512.
 */


#ifndef _OCI_ADMIN_REFERRERS_H_INCLUDED_
#define _OCI_ADMIN_REFERRERS_H_INCLUDED_


#include "oci_admin_manifest.h"


/* "<alg>-<64 lowercase hex digits>" */
int oci_admin_fallback_tag_valid(const char *tag);

/* the fallback tag of a subject, 72 bytes with the NUL */
void oci_admin_fallback_tag(oci_admin_digest_t *subject, char *tag);

/*
 * The image index a fallback tag names: OCI_ADMIN_OK with it loaded, or
 * OCI_ADMIN_MISSING when the tag or the manifest is not there or not an
 * OCI image index.  oci_admin_manifest_free() whatever the result.
 */
int oci_admin_fallback_load(oci_admin_repo_t *repo, const char *tag,
    oci_admin_manifest_t *index);

/*
 * The subject of a fallback tag and its index.  A sha256 tag names it
 * whole.  A sha512 tag names half of it: the subject is the manifest of
 * the repository whose digest starts so, else the subject the entries of
 * the index name, if they agree.  OCI_ADMIN_OK; OCI_ADMIN_SKIP after a
 * warning; OCI_ADMIN_ERROR after one when the manifests cannot be listed.
 */
int oci_admin_fallback_subject(oci_admin_repo_t *repo, const char *tag,
    oci_admin_manifest_t *index, oci_admin_digest_t *s);

/*
 * Whether the manifest d is, on disk now, a referrer of the subject:
 * OCI_ADMIN_OK with it loaded into mf; OCI_ADMIN_MISSING when it is not
 * one, or not stored, or corrupt; OCI_ADMIN_ERROR with mf->reason.
 * oci_admin_manifest_free() whatever the result.
 */
int oci_admin_referrer_load(oci_admin_repo_t *repo,
    oci_admin_digest_t *subject, oci_admin_digest_t *d,
    oci_admin_manifest_t *mf);


#endif /* _OCI_ADMIN_REFERRERS_H_INCLUDED_ */
