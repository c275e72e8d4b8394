
/*
 * The referrers index schema: Redis keys and the descriptor of an entry.
 */


#include <stdio.h>
#include <stdlib.h>
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


size_t
ngx_oci_index_type_key(u_char *buf, size_t size, const u_char *prefix,
    size_t prefix_len, const u_char *name, size_t name_len,
    const u_char *subject, size_t subject_len, const u_char *type,
    size_t type_len)
{
    size_t  n;

    n = ngx_oci_index_key(buf, size, prefix, prefix_len, name, name_len,
                          subject, subject_len, NGX_OCI_INDEX_TYPE);

    if (n == 0 || size - n <= type_len) {
        return 0;
    }

    if (type_len) {
        memcpy(buf + n, type, type_len);
    }

    buf[n + type_len] = '\0';

    return n + type_len;
}


int
ngx_oci_index_artifact_type(const char *descriptor, size_t size,
    char **type, size_t *len)
{
    json_t  *d, *t;

    *type = NULL;
    *len = 0;

    d = json_loadb(descriptor, size, 0, NULL);
    if (d == NULL) {
        return 0;
    }

    t = json_object_get(d, "artifactType");

    if (!json_is_string(t)) {
        json_decref(d);
        return 0;
    }

    *len = json_string_length(t);
    *type = malloc(*len + 1);

    if (*type == NULL) {
        json_decref(d);
        return -1;
    }

    memcpy(*type, json_string_value(t), *len + 1);

    json_decref(d);

    return 1;
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
