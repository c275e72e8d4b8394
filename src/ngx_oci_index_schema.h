
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
 * All keys of a (repository, subject) pair share the hash tag
 * "{<name>@<subject>}", so they live in one Redis Cluster slot and one
 * MULTI or script can touch them all:
 *
 *   <prefix>{<name>@<subject>}:refs   sorted set of referrer digests,
 *                                     all scores 0: ordered by digest
 *   <prefix>{<name>@<subject>}:desc   hash: referrer digest -> descriptor
 *   <prefix>{<name>@<subject>}:type:<artifactType>
 *                                     sorted set, score 0, of the digests
 *                                     of that artifactType (the bytes of
 *                                     the descriptor's, unescaped), so a
 *                                     filter reads only matching entries;
 *                                     none for entries without one
 */
#define NGX_OCI_INDEX_REFS  ":refs"
#define NGX_OCI_INDEX_DESC  ":desc"
#define NGX_OCI_INDEX_TYPE  ":type:"


/*
 * The catalog: "<prefix>catalog", a sorted set of repository names, all
 * scores 0, so ZRANGEBYLEX pages it in byte order.  A repository is in it
 * while its "_manifests" directory exists: a manifest PUT adds it, and
 * nothing but "oci-admin reindex" takes it out (docs/api.md#catalog).
 * One key, so one Redis Cluster slot; it has no hash tag.
 */
#define NGX_OCI_INDEX_CATALOG  "catalog"


/* writes "<prefix>{<name>@<subject>}<suffix>"; returns the length */
size_t ngx_oci_index_key(u_char *buf, size_t size, const u_char *prefix,
    size_t prefix_len, const u_char *name, size_t name_len,
    const u_char *subject, size_t subject_len, const char *suffix);

/*
 * writes "<prefix>{<name>@<subject>}:type:<type>" (type may hold any
 * byte; with type_len 0, the part all type keys start with); returns the
 * length, 0 if it does not fit
 */
size_t ngx_oci_index_type_key(u_char *buf, size_t size, const u_char *prefix,
    size_t prefix_len, const u_char *name, size_t name_len,
    const u_char *subject, size_t subject_len, const u_char *type,
    size_t type_len);

/*
 * The artifactType of a descriptor as ngx_oci_index_descriptor() writes
 * it: 1 with *type and *len set (malloc()ed, the caller frees), 0 when it
 * has none (or is not a descriptor), -1 out of memory.
 */
int ngx_oci_index_artifact_type(const char *descriptor, size_t size,
    char **type, size_t *len);

/*
 * The script that removes entries, the module's and oci-admin's: KEYS[1]
 * the pair's ":refs", KEYS[2] its ":desc", KEYS[3...] type sets to remove
 * the entries from in any case; ARGV[1] the start of the pair's type keys
 * (ngx_oci_index_type_key() with type_len 0), ARGV[2...] the digests.
 * Each entry leaves the set of the artifactType its descriptor names too:
 * a key built from ARGV[1], in the slot of the hash tag of KEYS[1].
 */
#define NGX_OCI_INDEX_REMOVE_SCRIPT                                          \
    "for i = 2, #ARGV do\n"                                                  \
    "  local id = ARGV[i]\n"                                                 \
    "  local d = redis.call('HGET', KEYS[2], id)\n"                          \
    "  if d then\n"                                                          \
    "    local ok, obj = pcall(cjson.decode, d)\n"                           \
    "    if ok and type(obj) == 'table'\n"                                   \
    "       and type(obj.artifactType) == 'string' then\n"                   \
    "      redis.call('ZREM', ARGV[1] .. obj.artifactType, id)\n"            \
    "    end\n"                                                              \
    "  end\n"                                                                \
    "  for k = 3, #KEYS do redis.call('ZREM', KEYS[k], id) end\n"            \
    "  redis.call('ZREM', KEYS[1], id)\n"                                    \
    "  redis.call('HDEL', KEYS[2], id)\n"                                    \
    "end\n"                                                                  \
    "return #ARGV - 1\n"

/*
 * The descriptor of a manifest as the referrers API lists it: mediaType,
 * digest, size, then artifactType (the manifest's, else its config's media
 * type) and annotations when present. Compact JSON, malloc()ed; NULL on
 * allocation failure.
 */
char *ngx_oci_index_descriptor(ngx_oci_manifest_t *m, const char *digest,
    size_t size);


#endif /* _NGX_OCI_INDEX_SCHEMA_H_INCLUDED_ */
