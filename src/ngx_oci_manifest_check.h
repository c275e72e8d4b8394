
/*
 * Validation of pushed manifests (OCI image manifest and index, Docker
 * image manifest v2 schema 2 and manifest list) on jansson values.
 *
 * Media type resolution, in this order:
 *
 *   - the body must be a JSON object without duplicate keys;
 *   - Docker schema 1 (its media types in the body or in Content-Type,
 *     or schemaVersion 1 without mediaType) is NGX_OCI_MANIFEST_UNSUPPORTED;
 *   - schemaVersion must be the integer 2;
 *   - Content-Type is compared by type/subtype, case-insensitively, its
 *     parameters ignored; empty or only whitespace means "not given"; a
 *     malformed one is INVALID;
 *   - when the body has mediaType it must be a valid media type, must
 *     equal Content-Type if that is given (else INVALID: the type of a
 *     document must not depend on the request, CVE-2021-41190) and must
 *     be one of the four supported types, spelt exactly (else
 *     UNSUPPORTED);
 *   - without mediaType in the body, a given Content-Type decides; an
 *     unknown one is UNSUPPORTED: nothing says what the document is, so
 *     the caller chooses between 415 and 400.  Docker types require
 *     mediaType in the body, as Docker's schema does (else INVALID);
 *   - with neither, a body with "manifests" is an OCI index, one with
 *     "config" an OCI image manifest, anything else is INVALID.
 *
 * Whatever the type, an image manifest holding "manifests", or an index
 * holding "config" or "layers", is INVALID: such documents are the
 * ambiguous ones of CVE-2021-41190.
 *
 * The image spec's "artifactType MUST be set when config.mediaType is the
 * empty descriptor type" is not enforced: clients in the field omit it.
 * Docker manifests have no artifactType; the field is ignored there.
 *
 * error[] is NUL-terminated printable ASCII without '"' or '\', safe to
 * embed in a JSON error response.  It names the JSON path, for example
 * "layers[2].digest: malformed".
 */


#ifndef _NGX_OCI_MANIFEST_CHECK_H_INCLUDED_
#define _NGX_OCI_MANIFEST_CHECK_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>


enum {
    NGX_OCI_MT_OCI_MANIFEST = 1,
    NGX_OCI_MT_OCI_INDEX,
    NGX_OCI_MT_DOCKER_MANIFEST,
    NGX_OCI_MT_DOCKER_LIST
};


#define NGX_OCI_MEDIA_OCI_MANIFEST                                           \
    "application/vnd.oci.image.manifest.v1+json"
#define NGX_OCI_MEDIA_OCI_INDEX                                              \
    "application/vnd.oci.image.index.v1+json"
#define NGX_OCI_MEDIA_DOCKER_MANIFEST                                        \
    "application/vnd.docker.distribution.manifest.v2+json"
#define NGX_OCI_MEDIA_DOCKER_LIST                                            \
    "application/vnd.docker.distribution.manifest.list.v2+json"

#define NGX_OCI_MANIFEST_OK           0
#define NGX_OCI_MANIFEST_INVALID      1    /* 400 MANIFEST_INVALID */
#define NGX_OCI_MANIFEST_UNSUPPORTED  2    /* 415 or 400, caller decides */

#define NGX_OCI_MANIFEST_ERROR_LEN    160


typedef struct {
    json_t      *root;          /* owned if "owned" is set */
    int          owned;         /* root is released by manifest_free() */
    int          kind;          /* NGX_OCI_MT_* */
    const char  *media_type;    /* the canonical NGX_OCI_MEDIA_* string */
    json_t      *config;        /* descriptor or NULL */
    json_t      *layers;        /* array or NULL */
    json_t      *manifests;     /* array or NULL */
    json_t      *subject;       /* descriptor or NULL */
    const char  *artifact_type; /* artifactType, else config.mediaType of
                                   an image manifest, else NULL */
    json_t      *annotations;   /* object or NULL */
    char         error[NGX_OCI_MANIFEST_ERROR_LEN];
} ngx_oci_manifest_t;


/*
 * Parses with JSON_REJECT_DUPLICATES, then ngx_oci_manifest_check().  On
 * success m owns the document; on failure nothing is held and m->error
 * says why.  Calling ngx_oci_manifest_free() is always allowed.
 */
int ngx_oci_manifest_parse(const u_char *data, size_t len,
    const u_char *content_type, size_t ct_len, ngx_oci_manifest_t *m);

/* validates root, which stays owned by the caller */
int ngx_oci_manifest_check(json_t *root, const u_char *content_type,
    size_t ct_len, ngx_oci_manifest_t *m);

void ngx_oci_manifest_free(ngx_oci_manifest_t *m);

/*
 * Returns NGX_OCI_MANIFEST_OK or NGX_OCI_MANIFEST_INVALID with the reason
 * in err, prefixed with "where"; digests of algorithms other than sha256
 * and sha512 are INVALID too.
 */
int ngx_oci_descriptor_check(json_t *d, char *err, size_t err_len,
    const char *where);

/*
 * 1 for a non-distributable layer: Docker foreign or OCI nondistributable
 * media type, or a non-empty "urls"; the registry need not have its blob
 */
int ngx_oci_descriptor_is_foreign(json_t *d);

/*
 * The descriptor's "digest" string, whole ("sha256:..."), and its
 * algorithm; returns NGX_OCI_DIGEST_OK, _UNSUPPORTED or _MALFORMED (also
 * when there is no digest string).  Outputs may be NULL.
 */
int ngx_oci_descriptor_digest(json_t *d, const u_char **digest, size_t *len,
    int *alg);

/*
 * The descriptor's "size", a non-negative integer once the descriptor
 * passed ngx_oci_descriptor_check(); returns 0, or -1 when it is not one.
 */
int ngx_oci_descriptor_size(json_t *d, int64_t *size);

/*
 * NGX_OCI_MT_* of a media type or Content-Type value (parameters and
 * surrounding whitespace ignored, case-insensitive), 0 if it is not one
 * of the four
 */
int ngx_oci_manifest_kind(const u_char *p, size_t len);

/* the canonical media type string of NGX_OCI_MT_*, NULL if unknown */
const char *ngx_oci_manifest_media_type(int kind);


#endif /* _NGX_OCI_MANIFEST_CHECK_H_INCLUDED_ */
