
/*
 * The referrers index schema: Redis keys and the descriptor of an entry.
 */


#include <stdio.h>
#include <string.h>

#include "ngx_oci_index_schema.h"


size_t
ngx_oci_index_key(u_char *buf, size_t size, const u_char *prefix,
    size_t prefix_len, const u_char *name, size_t name_len,
    const u_char *subject, size_t subject_len, const char *suffix)
{
    int  n;

    n = snprintf((char *) buf, size, "%.*s{%.*s@%.*s}%s",
                 (int) prefix_len, prefix, (int) name_len, name,
                 (int) subject_len, subject, suffix);

    return (n < 0 || (size_t) n >= size) ? 0 : (size_t) n;
}


char *
ngx_oci_index_descriptor(ngx_oci_manifest_t *m, const char *digest,
    size_t size)
{
    char    *s;
    json_t  *d;

    d = json_object();
    if (d == NULL) {
        return NULL;
    }

    /* insertion order is the order jansson writes, and the order we list */

    if (json_object_set_new(d, "mediaType", json_string(m->media_type)) != 0
        || json_object_set_new(d, "digest", json_string(digest)) != 0
        || json_object_set_new(d, "size", json_integer((json_int_t) size))
           != 0
        || (m->artifact_type
            && json_object_set_new(d, "artifactType",
                                   json_string(m->artifact_type)) != 0)
        || (m->annotations && json_object_size(m->annotations)
            && json_object_set(d, "annotations", m->annotations) != 0))
    {
        json_decref(d);
        return NULL;
    }

    s = json_dumps(d, JSON_COMPACT);

    json_decref(d);

    return s;
}
