
/*
 * libFuzzer harness for ngx_oci_manifest_check.
 *
 * Input: an optional selector byte 0x01..0x08 picks the Content-Type (8:
 * the first line of the rest is the Content-Type), otherwise the input
 * size picks one; the rest is the manifest.  Accepted manifests must be
 * self-consistent, and accepted again once re-serialised.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_oci_grammar.h"
#include "ngx_oci_manifest_check.h"


static const char  *content_types[] = {
    "",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "application/json; charset=utf-8",
};


static void
check_safe(const char *e)
{
    for ( /* void */ ; *e; e++) {
        if ((u_char) *e < 0x20 || (u_char) *e >= 0x7f || *e == '"'
            || *e == '\\')
        {
            abort();
        }
    }
}


static void
check_descriptors(json_t *arr)
{
    int      rc, alg;
    size_t   i, len;
    json_t  *d;

    const u_char  *digest;

    json_array_foreach(arr, i, d) {
        rc = ngx_oci_descriptor_digest(d, &digest, &len, &alg);

        if (rc != NGX_OCI_DIGEST_OK || len < 71) {
            abort();
        }

        if (!json_is_string(json_object_get(d, "mediaType"))
            || !json_is_integer(json_object_get(d, "size")))
        {
            abort();
        }

        (void) ngx_oci_descriptor_is_foreign(d);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                 rc, rc2;
    char               *dump;
    size_t              ct_len;
    const u_char       *ct, *nl;
    ngx_oci_manifest_t  m, m2;

    if (size && data[0] >= 1 && data[0] <= 8) {
        if (data[0] == 8) {
            nl = memchr(data + 1, '\n', size - 1);
            ct = data + 1;
            ct_len = nl ? (size_t) (nl - ct) : 0;
            data = nl ? nl + 1 : data + 1;
            size -= (size_t) (data - ct) + 1;

        } else {
            ct = (const u_char *) content_types[data[0] - 1];
            ct_len = strlen((const char *) ct);
            data++;
            size--;
        }

    } else {
        ct = (const u_char *) content_types[size % 7];
        ct_len = strlen((const char *) ct);
    }

    rc = ngx_oci_manifest_parse(data, size, ct, ct_len, &m);

    check_safe(m.error);

    if (rc != NGX_OCI_MANIFEST_OK) {
        if ((rc != NGX_OCI_MANIFEST_INVALID
             && rc != NGX_OCI_MANIFEST_UNSUPPORTED)
            || m.root != NULL || m.error[0] == '\0')
        {
            abort();
        }

        ngx_oci_manifest_free(&m);
        return 0;
    }

    if (m.kind < NGX_OCI_MT_OCI_MANIFEST || m.kind > NGX_OCI_MT_DOCKER_LIST
        || m.root == NULL || !m.owned || m.error[0] != '\0'
        || strcmp(m.media_type, ngx_oci_manifest_media_type(m.kind)) != 0)
    {
        abort();
    }

    if (m.kind == NGX_OCI_MT_OCI_MANIFEST
        || m.kind == NGX_OCI_MT_DOCKER_MANIFEST)
    {
        if (!json_is_object(m.config) || !json_is_array(m.layers)
            || m.manifests != NULL || m.artifact_type == NULL)
        {
            abort();
        }

        check_descriptors(m.layers);

    } else if (!json_is_array(m.manifests) || m.config || m.layers) {
        abort();

    } else {
        check_descriptors(m.manifests);
    }

    if ((m.subject && !json_is_object(m.subject))
        || (m.annotations && !json_is_object(m.annotations))
        || (m.artifact_type
            && !ngx_oci_media_type_valid((const u_char *) m.artifact_type,
                                         strlen(m.artifact_type))))
    {
        abort();
    }

    /* the same document, re-serialised and typed by its media type */

    dump = json_dumps(m.root, JSON_COMPACT);
    if (dump == NULL) {
        abort();
    }

    rc2 = ngx_oci_manifest_parse((u_char *) dump, strlen(dump),
                                 (const u_char *) m.media_type,
                                 strlen(m.media_type), &m2);

    if (rc2 != NGX_OCI_MANIFEST_OK || m2.kind != m.kind) {
        abort();
    }

    ngx_oci_manifest_free(&m2);
    free(dump);

    ngx_oci_manifest_free(&m);

    return 0;
}
