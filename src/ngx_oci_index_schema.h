
/*
 * The referrers index, as data: the Redis key schema (docs/referrers.md)
 * and the descriptor a referrer is listed with. Pure, shared by the
 * module and the index rebuild tool, so both write identical entries.
 */


#ifndef _NGX_OCI_INDEX_SCHEMA_H_INCLUDED_
#define _NGX_OCI_INDEX_SCHEMA_H_INCLUDED_


#include <stddef.h>
#include <sys/types.h>
#include <jansson.h>

#include "ngx_oci_manifest_check.h"


/*
 * Both keys of a (repository, subject) pair share the hash tag
 * "{<name>@<subject>}", so they live in one Redis Cluster slot and one
 * MULTI or script can touch both:
 *
 *   <prefix>{<name>@<subject>}:refs   sorted set of referrer digests,
 *                                     all scores 0: ordered by digest
 *   <prefix>{<name>@<subject>}:desc   hash: referrer digest -> descriptor
 */
#define NGX_OCI_INDEX_REFS  ":refs"
#define NGX_OCI_INDEX_DESC  ":desc"


/* writes "<prefix>{<name>@<subject>}<suffix>"; returns the length */
size_t ngx_oci_index_key(u_char *buf, size_t size, const u_char *prefix,
    size_t prefix_len, const u_char *name, size_t name_len,
    const u_char *subject, size_t subject_len, const char *suffix);

/*
 * The descriptor of a manifest as the referrers API lists it: mediaType,
 * digest, size, then artifactType (the manifest's, else its config's media
 * type) and annotations when present. Compact JSON, malloc()ed; NULL on
 * allocation failure.
 */
char *ngx_oci_index_descriptor(ngx_oci_manifest_t *m, const char *digest,
    size_t size);


#endif /* _NGX_OCI_INDEX_SCHEMA_H_INCLUDED_ */
