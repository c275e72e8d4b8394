
/*
 * The grammars of the OCI Distribution Specification v1.1: repository
 * names, tags, digests, media types, and the header values the registry
 * parses.  Pure functions over (pointer, length), so they are shared by
 * the nginx module, the tools, the unit tests and the fuzzers.
 */


#ifndef _NGX_OCI_GRAMMAR_H_INCLUDED_
#define _NGX_OCI_GRAMMAR_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ngx_oci_sha2.h"


#define NGX_OCI_NAME_MAX_LEN         255
#define NGX_OCI_TAG_MAX_LEN          128
#define NGX_OCI_UPLOAD_ID_LEN        32
#define NGX_OCI_MEDIA_TYPE_PART_MAX  127

#define NGX_OCI_DIGEST_OK            0
#define NGX_OCI_DIGEST_MALFORMED     -1
#define NGX_OCI_DIGEST_UNSUPPORTED   -2


/*
 * [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
 * at most 255 bytes; returns 1 if valid, 0 if not
 */
int ngx_oci_name_valid(const u_char *p, size_t len);

/* [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}; returns 1 if valid, 0 if not */
int ngx_oci_tag_valid(const u_char *p, size_t len);

/*
 * digest   = algorithm ":" encoded
 * algorithm = component (separator component)*
 * component = [a-z0-9]+,  separator = [+._-],  encoded = [a-zA-Z0-9=_-]+
 *
 * sha256 needs exactly 64 and sha512 exactly 128 lowercase hex digits.
 * Returns NGX_OCI_DIGEST_OK with *alg NGX_OCI_SHA256 or NGX_OCI_SHA512;
 * NGX_OCI_DIGEST_UNSUPPORTED for a well-formed digest of another
 * algorithm, with *alg 0; NGX_OCI_DIGEST_MALFORMED otherwise.  *hex and
 * *hex_len point at the encoded part unless malformed.  Any output
 * pointer may be NULL.
 */
int ngx_oci_digest_parse(const u_char *p, size_t len, int *alg,
    const u_char **hex, size_t *hex_len);

/* exactly 32 lowercase hex digits, as the module generates them */
int ngx_oci_upload_id_valid(const u_char *p, size_t len);

/* 1 when all len bytes are lowercase hex digits */
int ngx_oci_lower_hex(const u_char *p, size_t len);

/*
 * RFC 6838 type "/" subtype, both restricted-name: an alphanumeric then
 * up to 126 of [a-zA-Z0-9!#$&^_.+-]; no parameters, no whitespace.
 * Returns 1 if valid, 0 if not.
 */
int ngx_oci_media_type_valid(const u_char *p, size_t len);

/*
 * Content-Range of a chunked upload: "<start>-<end>", inclusive, decimal,
 * start <= end, end + 1 (the length after the chunk) fitting off_t, so
 * end - start + 1 and end + 1 never overflow.  Tolerates a "bytes " or "bytes="
 * prefix (any case) and a suffix of "/" then either the total length
 * (which must exceed end) or an asterisk.
 * Returns 0 and sets *start and *end, or -1.  Standalone users must build
 * with -D_FILE_OFFSET_BITS=64, as nginx does, for off_t to match.
 */
int ngx_oci_content_range_parse(const u_char *p, size_t len, off_t *start,
    off_t *end);

/* decimal digits only, at least one, value <= max; 0 ok, -1 otherwise */
int ngx_oci_uint_parse(const u_char *p, size_t len, uint64_t max,
    uint64_t *out);

/*
 * An If-Match value: "*", or a comma-separated list of entity tags, one
 * of which is the digest, quoted or not.  Blanks (SP, HTAB) around the
 * elements and empty elements are ignored.  Returns 1 or 0.
 */
int ngx_oci_etag_matches(const u_char *p, size_t len, const u_char *digest,
    size_t digest_len);

#define NGX_OCI_PRECONDITION_OK           0
#define NGX_OCI_PRECONDITION_FAILED       1
#define NGX_OCI_PRECONDITION_UNSUPPORTED  2

/*
 * The conditions of a manifest PUT on a tag: "match" and "none" are the
 * values of If-Match and If-None-Match (NULL when the header is absent),
 * "current" the digest the tag names now (NULL when there is no such
 * tag).  If-None-Match must be "*" (UNSUPPORTED otherwise); it holds when
 * the tag does not exist, If-Match when the tag exists and matches.
 * Returns NGX_OCI_PRECONDITION_OK when every given condition holds,
 * NGX_OCI_PRECONDITION_FAILED when one does not, or
 * NGX_OCI_PRECONDITION_UNSUPPORTED.
 */
int ngx_oci_precondition(const u_char *match, size_t match_len,
    const u_char *none, size_t none_len, const u_char *current,
    size_t current_len);


#endif /* _NGX_OCI_GRAMMAR_H_INCLUDED_ */
