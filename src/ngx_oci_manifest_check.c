
/*
 * Manifest validation, see ngx_oci_manifest_check.h.
 */


#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ngx_oci_sha2.h"
#include "ngx_oci_grammar.h"
#include "ngx_oci_manifest_check.h"


#define NGX_OCI_WHERE_LEN  64


typedef struct {
    const char  *type;
    size_t       len;
} ngx_oci_mt_str_t;


static void ngx_oci_manifest_error(char *err, size_t err_len,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int ngx_oci_manifest_version(json_t *root, const char *body,
    size_t body_len, const u_char *type, size_t type_len,
    ngx_oci_manifest_t *m);
static int ngx_oci_manifest_which(json_t *root, const char *body,
    size_t body_len, const u_char *type, size_t type_len,
    ngx_oci_manifest_t *m);
static int ngx_oci_manifest_body_kind(const char *body, size_t body_len,
    const u_char *type, size_t type_len, ngx_oci_manifest_t *m);
static int ngx_oci_manifest_image(json_t *root, ngx_oci_manifest_t *m);
static int ngx_oci_manifest_index(json_t *root, ngx_oci_manifest_t *m);
static int ngx_oci_manifest_descriptors(json_t *root, const char *key,
    ngx_oci_manifest_t *m, json_t **list);
static int ngx_oci_manifest_optional(json_t *root, ngx_oci_manifest_t *m);
static int ngx_oci_check_string_map(json_t *obj, char *err, size_t err_len,
    const char *where);
static int ngx_oci_check_string_array(json_t *arr, char *err,
    size_t err_len, const char *where);
static int ngx_oci_check_platform(json_t *p, char *err, size_t err_len,
    const char *where);
static int ngx_oci_check_data(json_t *data, json_int_t size, json_t *digest,
    char *err, size_t err_len, const char *where);
static void ngx_oci_content_type(const u_char *p, size_t len,
    const u_char **type, size_t *type_len);
static int ngx_oci_lookup(const ngx_oci_mt_str_t *t, const u_char *p,
    size_t len, int caseless);
static const char *ngx_oci_safe(const char *s, char *buf, size_t size);


/* indexed by NGX_OCI_MT_* */

static const ngx_oci_mt_str_t  ngx_oci_manifest_types[] = {
    { "", 0 },
    { NGX_OCI_MEDIA_OCI_MANIFEST, sizeof(NGX_OCI_MEDIA_OCI_MANIFEST) - 1 },
    { NGX_OCI_MEDIA_OCI_INDEX, sizeof(NGX_OCI_MEDIA_OCI_INDEX) - 1 },
    { NGX_OCI_MEDIA_DOCKER_MANIFEST,
      sizeof(NGX_OCI_MEDIA_DOCKER_MANIFEST) - 1 },
    { NGX_OCI_MEDIA_DOCKER_LIST, sizeof(NGX_OCI_MEDIA_DOCKER_LIST) - 1 },
    { NULL, 0 }
};


#define ngx_oci_mt(s)  { s, sizeof(s) - 1 }

static const ngx_oci_mt_str_t  ngx_oci_schema1_types[] = {
    { "", 0 },
    ngx_oci_mt("application/vnd.docker.distribution.manifest.v1+json"),
    ngx_oci_mt("application/vnd.docker.distribution.manifest.v1+prettyjws"),
    { NULL, 0 }
};


static const ngx_oci_mt_str_t  ngx_oci_foreign_types[] = {
    { "", 0 },
    ngx_oci_mt("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"),
    ngx_oci_mt("application/vnd.oci.image.layer.nondistributable.v1.tar"),
    ngx_oci_mt("application/vnd.oci.image.layer.nondistributable.v1.tar"
               "+gzip"),
    ngx_oci_mt("application/vnd.oci.image.layer.nondistributable.v1.tar"
               "+zstd"),
    { NULL, 0 }
};


static const signed char  ngx_oci_base64[256] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1, -1, 63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
    -1,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, -1,
    -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1
};


int
ngx_oci_manifest_parse(const u_char *data, size_t len,
    const u_char *content_type, size_t ct_len, ngx_oci_manifest_t *m)
{
    int           rc;
    json_t       *root;
    json_error_t  jerr;

    memset(m, 0, sizeof(ngx_oci_manifest_t));

    root = json_loadb((const char *) data, len, JSON_REJECT_DUPLICATES,
                      &jerr);

    if (root == NULL) {
        ngx_oci_manifest_error(m->error, sizeof(m->error),
                               "invalid JSON at byte %d: %s",
                               jerr.position, jerr.text);
        return NGX_OCI_MANIFEST_INVALID;
    }

    rc = ngx_oci_manifest_check(root, content_type, ct_len, m);

    if (rc != NGX_OCI_MANIFEST_OK) {
        json_decref(root);

        /* keep the reason only: every pointer into root is now stale */

        m->root = NULL;
        m->kind = 0;
        m->media_type = NULL;
        m->config = NULL;
        m->layers = NULL;
        m->manifests = NULL;
        m->subject = NULL;
        m->artifact_type = NULL;
        m->annotations = NULL;

        return rc;
    }

    m->owned = 1;

    return NGX_OCI_MANIFEST_OK;
}


int
ngx_oci_manifest_check(json_t *root, const u_char *content_type,
    size_t ct_len, ngx_oci_manifest_t *m)
{
    int            rc;
    size_t         type_len, body_len;
    json_t        *mt;
    const char    *body;
    const u_char  *type;

    memset(m, 0, sizeof(ngx_oci_manifest_t));

    m->root = root;

    if (!json_is_object(root)) {
        ngx_oci_manifest_error(m->error, sizeof(m->error),
                               "manifest: not a JSON object");
        return NGX_OCI_MANIFEST_INVALID;
    }

    ngx_oci_content_type(content_type, ct_len, &type, &type_len);

    mt = json_object_get(root, "mediaType");

    body = NULL;
    body_len = 0;

    if (mt != NULL) {
        if (!json_is_string(mt)) {
            ngx_oci_manifest_error(m->error, sizeof(m->error),
                                   "mediaType: not a string");
            return NGX_OCI_MANIFEST_INVALID;
        }

        body = json_string_value(mt);
        body_len = json_string_length(mt);
    }

    rc = ngx_oci_manifest_version(root, body, body_len, type, type_len, m);
    if (rc != NGX_OCI_MANIFEST_OK) {
        return rc;
    }

    rc = ngx_oci_manifest_which(root, body, body_len, type, type_len, m);
    if (rc != NGX_OCI_MANIFEST_OK) {
        return rc;
    }

    m->media_type = ngx_oci_manifest_types[m->kind].type;

    if (m->kind == NGX_OCI_MT_OCI_MANIFEST
        || m->kind == NGX_OCI_MT_DOCKER_MANIFEST)
    {
        return ngx_oci_manifest_image(root, m);
    }

    return ngx_oci_manifest_index(root, m);
}


/*
 * schemaVersion 2, and not Docker's schema 1 by any sign: its version,
 * its mediaType or the Content-Type. A v2 mediaType with schemaVersion 1
 * is just invalid.
 */

static int
ngx_oci_manifest_version(json_t *root, const char *body, size_t body_len,
    const u_char *type, size_t type_len, ngx_oci_manifest_t *m)
{
    json_t  *sv;

    sv = json_object_get(root, "schemaVersion");

    if ((json_is_integer(sv) && json_integer_value(sv) == 1 && body == NULL)
        || (body && ngx_oci_lookup(ngx_oci_schema1_types,
                                   (const u_char *) body, body_len, 0))
        || (type_len && ngx_oci_lookup(ngx_oci_schema1_types, type,
                                       type_len, 1)))
    {
        ngx_oci_manifest_error(m->error, sizeof(m->error),
                               "Docker schema 1 manifests are not "
                               "supported");
        return NGX_OCI_MANIFEST_UNSUPPORTED;
    }

    if (sv == NULL) {
        ngx_oci_manifest_error(m->error, sizeof(m->error),
                               "schemaVersion: missing");
        return NGX_OCI_MANIFEST_INVALID;
    }

    if (!json_is_integer(sv) || json_integer_value(sv) != 2) {
        ngx_oci_manifest_error(m->error, sizeof(m->error),
                               "schemaVersion: must be the integer 2");
        return NGX_OCI_MANIFEST_INVALID;
    }

    if (type_len && !ngx_oci_media_type_valid(type, type_len)) {
        ngx_oci_manifest_error(m->error, sizeof(m->error),
                               "Content-Type: malformed");
        return NGX_OCI_MANIFEST_INVALID;
    }

    return NGX_OCI_MANIFEST_OK;
}


/*
 * Which manifest this is, into m->kind: from its mediaType, which must
 * then agree with the Content-Type; else from the Content-Type; else, for
 * OCI manifests, from what the content holds.
 */

static int
ngx_oci_manifest_which(json_t *root, const char *body, size_t body_len,
    const u_char *type, size_t type_len, ngx_oci_manifest_t *m)
{
    int  kind;

    if (body) {
        return ngx_oci_manifest_body_kind(body, body_len, type, type_len, m);
    }

    if (type_len) {
        kind = ngx_oci_lookup(ngx_oci_manifest_types, type, type_len, 1);

        if (kind == 0) {
            ngx_oci_manifest_error(m->error, sizeof(m->error),
                                   "Content-Type is not a supported "
                                   "manifest type");
            return NGX_OCI_MANIFEST_UNSUPPORTED;
        }

        if (kind == NGX_OCI_MT_DOCKER_MANIFEST
            || kind == NGX_OCI_MT_DOCKER_LIST)
        {
            ngx_oci_manifest_error(m->error, sizeof(m->error),
                                   "mediaType: missing, Docker manifests "
                                   "require it");
            return NGX_OCI_MANIFEST_INVALID;
        }

    } else if (json_object_get(root, "manifests") != NULL) {
        kind = NGX_OCI_MT_OCI_INDEX;

    } else if (json_object_get(root, "config") != NULL) {
        kind = NGX_OCI_MT_OCI_MANIFEST;

    } else {
        ngx_oci_manifest_error(m->error, sizeof(m->error),
                               "mediaType: missing, and neither "
                               "Content-Type nor the content tells the "
                               "manifest type");
        return NGX_OCI_MANIFEST_INVALID;
    }

    m->kind = kind;

    return NGX_OCI_MANIFEST_OK;
}


static int
ngx_oci_manifest_body_kind(const char *body, size_t body_len,
    const u_char *type, size_t type_len, ngx_oci_manifest_t *m)
{
    char  buf[48];

    if (!ngx_oci_media_type_valid((const u_char *) body, body_len)) {
        ngx_oci_manifest_error(m->error, sizeof(m->error),
                               "mediaType: malformed");
        return NGX_OCI_MANIFEST_INVALID;
    }

    if (type_len
        && (type_len != body_len
            || strncasecmp((const char *) type, body, body_len) != 0))
    {
        ngx_oci_manifest_error(m->error, sizeof(m->error),
                               "mediaType '%s' does not match Content-Type",
                               ngx_oci_safe(body, buf, sizeof(buf)));
        return NGX_OCI_MANIFEST_INVALID;
    }

    m->kind = ngx_oci_lookup(ngx_oci_manifest_types, (const u_char *) body,
                             body_len, 0);

    if (m->kind == 0) {
        ngx_oci_manifest_error(m->error, sizeof(m->error),
                               "mediaType '%s' is not supported",
                               ngx_oci_safe(body, buf, sizeof(buf)));
        return NGX_OCI_MANIFEST_UNSUPPORTED;
    }

    return NGX_OCI_MANIFEST_OK;
}


void
ngx_oci_manifest_free(ngx_oci_manifest_t *m)
{
    if (m->owned && m->root) {
        json_decref(m->root);
    }

    m->root = NULL;
    m->owned = 0;
    m->config = NULL;
    m->layers = NULL;
    m->manifests = NULL;
    m->subject = NULL;
    m->artifact_type = NULL;
    m->annotations = NULL;
}


int
ngx_oci_descriptor_check(json_t *d, char *err, size_t err_len,
    const char *where)
{
    int         rc;
    json_t     *mt, *digest, *size, *v;
    json_int_t  n;

    if (!json_is_object(d)) {
        ngx_oci_manifest_error(err, err_len, "%s: not an object", where);
        return NGX_OCI_MANIFEST_INVALID;
    }

    mt = json_object_get(d, "mediaType");

    if (mt == NULL) {
        ngx_oci_manifest_error(err, err_len, "%s.mediaType: missing", where);
        return NGX_OCI_MANIFEST_INVALID;
    }

    if (!json_is_string(mt)
        || !ngx_oci_media_type_valid((const u_char *) json_string_value(mt),
                                     json_string_length(mt)))
    {
        ngx_oci_manifest_error(err, err_len, "%s.mediaType: %s", where,
                               json_is_string(mt) ? "malformed"
                                                  : "not a string");
        return NGX_OCI_MANIFEST_INVALID;
    }

    digest = json_object_get(d, "digest");

    if (digest == NULL) {
        ngx_oci_manifest_error(err, err_len, "%s.digest: missing", where);
        return NGX_OCI_MANIFEST_INVALID;
    }

    if (!json_is_string(digest)) {
        ngx_oci_manifest_error(err, err_len, "%s.digest: not a string",
                               where);
        return NGX_OCI_MANIFEST_INVALID;
    }

    rc = ngx_oci_digest_parse((const u_char *) json_string_value(digest),
                              json_string_length(digest), NULL, NULL, NULL);

    if (rc != NGX_OCI_DIGEST_OK) {
        ngx_oci_manifest_error(err, err_len, "%s.digest: %s", where,
                               rc == NGX_OCI_DIGEST_UNSUPPORTED
                               ? "unsupported algorithm" : "malformed");
        return NGX_OCI_MANIFEST_INVALID;
    }

    size = json_object_get(d, "size");

    if (size == NULL) {
        ngx_oci_manifest_error(err, err_len, "%s.size: missing", where);
        return NGX_OCI_MANIFEST_INVALID;
    }

    if (!json_is_integer(size)) {
        ngx_oci_manifest_error(err, err_len, "%s.size: not an integer",
                               where);
        return NGX_OCI_MANIFEST_INVALID;
    }

    n = json_integer_value(size);

    if (n < 0) {
        ngx_oci_manifest_error(err, err_len, "%s.size: negative", where);
        return NGX_OCI_MANIFEST_INVALID;
    }

    v = json_object_get(d, "urls");

    if (v != NULL
        && ngx_oci_check_string_array(v, err, err_len, where) != 0)
    {
        return NGX_OCI_MANIFEST_INVALID;
    }

    v = json_object_get(d, "annotations");

    if (v != NULL && ngx_oci_check_string_map(v, err, err_len, where) != 0) {
        return NGX_OCI_MANIFEST_INVALID;
    }

    v = json_object_get(d, "artifactType");

    if (v != NULL
        && (!json_is_string(v)
            || !ngx_oci_media_type_valid(
                   (const u_char *) json_string_value(v),
                   json_string_length(v))))
    {
        ngx_oci_manifest_error(err, err_len, "%s.artifactType: %s", where,
                               json_is_string(v) ? "malformed"
                                                 : "not a string");
        return NGX_OCI_MANIFEST_INVALID;
    }

    v = json_object_get(d, "data");

    if (v != NULL
        && ngx_oci_check_data(v, n, digest, err, err_len, where) != 0)
    {
        return NGX_OCI_MANIFEST_INVALID;
    }

    v = json_object_get(d, "platform");

    if (v != NULL && ngx_oci_check_platform(v, err, err_len, where) != 0) {
        return NGX_OCI_MANIFEST_INVALID;
    }

    return NGX_OCI_MANIFEST_OK;
}


int
ngx_oci_descriptor_is_foreign(json_t *d)
{
    json_t  *v;

    v = json_object_get(d, "mediaType");

    if (json_is_string(v)
        && ngx_oci_lookup(ngx_oci_foreign_types,
                          (const u_char *) json_string_value(v),
                          json_string_length(v), 0))
    {
        return 1;
    }

    v = json_object_get(d, "urls");

    return json_is_array(v) && json_array_size(v) > 0;
}


int
ngx_oci_descriptor_digest(json_t *d, const u_char **digest, size_t *len,
    int *alg)
{
    int            rc, a;
    size_t         n;
    json_t        *v;
    const u_char  *p;

    v = json_object_get(d, "digest");

    if (!json_is_string(v)) {
        return NGX_OCI_DIGEST_MALFORMED;
    }

    p = (const u_char *) json_string_value(v);
    n = json_string_length(v);

    rc = ngx_oci_digest_parse(p, n, &a, NULL, NULL);

    if (rc == NGX_OCI_DIGEST_MALFORMED) {
        return rc;
    }

    if (digest) {
        *digest = p;
    }

    if (len) {
        *len = n;
    }

    if (alg) {
        *alg = a;
    }

    return rc;
}


int
ngx_oci_descriptor_size(json_t *d, int64_t *size)
{
    json_t  *v;

    v = json_object_get(d, "size");

    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        return -1;
    }

    *size = json_integer_value(v);

    return 0;
}

int
ngx_oci_manifest_kind(const u_char *p, size_t len)
{
    size_t         type_len;
    const u_char  *type;

    ngx_oci_content_type(p, len, &type, &type_len);

    return ngx_oci_lookup(ngx_oci_manifest_types, type, type_len, 1);
}


const char *
ngx_oci_manifest_media_type(int kind)
{
    if (kind < NGX_OCI_MT_OCI_MANIFEST || kind > NGX_OCI_MT_DOCKER_LIST) {
        return NULL;
    }

    return ngx_oci_manifest_types[kind].type;
}


static int
ngx_oci_manifest_image(json_t *root, ngx_oci_manifest_t *m)
{
    if (json_object_get(root, "manifests") != NULL) {
        ngx_oci_manifest_error(m->error, sizeof(m->error),
                               "manifests: not allowed in an image "
                               "manifest");
        return NGX_OCI_MANIFEST_INVALID;
    }

    m->config = json_object_get(root, "config");

    if (m->config == NULL) {
        ngx_oci_manifest_error(m->error, sizeof(m->error),
                               "config: missing");
        return NGX_OCI_MANIFEST_INVALID;
    }

    if (ngx_oci_descriptor_check(m->config, m->error, sizeof(m->error),
                                 "config")
        != NGX_OCI_MANIFEST_OK)
    {
        return NGX_OCI_MANIFEST_INVALID;
    }

    if (ngx_oci_manifest_descriptors(root, "layers", m, &m->layers)
        != NGX_OCI_MANIFEST_OK)
    {
        return NGX_OCI_MANIFEST_INVALID;
    }

    /* OCI artifacts may have no layers, Docker images may not */

    if (m->kind == NGX_OCI_MT_DOCKER_MANIFEST
        && json_array_size(m->layers) == 0)
    {
        ngx_oci_manifest_error(m->error, sizeof(m->error),
                               "layers: empty in a Docker manifest");
        return NGX_OCI_MANIFEST_INVALID;
    }

    if (ngx_oci_manifest_optional(root, m) != NGX_OCI_MANIFEST_OK) {
        return NGX_OCI_MANIFEST_INVALID;
    }

    if (m->artifact_type == NULL) {
        m->artifact_type = json_string_value(json_object_get(m->config,
                                                             "mediaType"));
    }

    return NGX_OCI_MANIFEST_OK;
}


static int
ngx_oci_manifest_index(json_t *root, ngx_oci_manifest_t *m)
{
    if (json_object_get(root, "config") != NULL
        || json_object_get(root, "layers") != NULL)
    {
        ngx_oci_manifest_error(m->error, sizeof(m->error),
                               "%s: not allowed in an index",
                               json_object_get(root, "config") ? "config"
                                                               : "layers");
        return NGX_OCI_MANIFEST_INVALID;
    }

    if (ngx_oci_manifest_descriptors(root, "manifests", m, &m->manifests)
        != NGX_OCI_MANIFEST_OK)
    {
        return NGX_OCI_MANIFEST_INVALID;
    }

    return ngx_oci_manifest_optional(root, m);
}


/* "key": an array, each element a descriptor ("key[i]" in an error) */

static int
ngx_oci_manifest_descriptors(json_t *root, const char *key,
    ngx_oci_manifest_t *m, json_t **list)
{
    char     where[NGX_OCI_WHERE_LEN];
    size_t   i;
    json_t  *v;

    *list = json_object_get(root, key);

    if (*list == NULL) {
        ngx_oci_manifest_error(m->error, sizeof(m->error), "%s: missing",
                               key);
        return NGX_OCI_MANIFEST_INVALID;
    }

    if (!json_is_array(*list)) {
        ngx_oci_manifest_error(m->error, sizeof(m->error),
                               "%s: not an array", key);
        return NGX_OCI_MANIFEST_INVALID;
    }

    json_array_foreach(*list, i, v) {
        snprintf(where, sizeof(where), "%s[%zu]", key, i);

        if (ngx_oci_descriptor_check(v, m->error, sizeof(m->error), where)
            != NGX_OCI_MANIFEST_OK)
        {
            return NGX_OCI_MANIFEST_INVALID;
        }
    }

    return NGX_OCI_MANIFEST_OK;
}


/* subject, artifactType and annotations, common to all four types */

static int
ngx_oci_manifest_optional(json_t *root, ngx_oci_manifest_t *m)
{
    json_t  *v;

    m->subject = json_object_get(root, "subject");

    if (m->subject != NULL
        && ngx_oci_descriptor_check(m->subject, m->error, sizeof(m->error),
                                    "subject")
           != NGX_OCI_MANIFEST_OK)
    {
        return NGX_OCI_MANIFEST_INVALID;
    }

    v = json_object_get(root, "artifactType");

    if (v != NULL
        && (m->kind == NGX_OCI_MT_OCI_MANIFEST
            || m->kind == NGX_OCI_MT_OCI_INDEX))
    {
        if (!json_is_string(v)) {
            ngx_oci_manifest_error(m->error, sizeof(m->error),
                                   "artifactType: not a string");
            return NGX_OCI_MANIFEST_INVALID;
        }

        if (!ngx_oci_media_type_valid((const u_char *) json_string_value(v),
                                      json_string_length(v)))
        {
            ngx_oci_manifest_error(m->error, sizeof(m->error),
                                   "artifactType: malformed");
            return NGX_OCI_MANIFEST_INVALID;
        }

        m->artifact_type = json_string_value(v);
    }

    m->annotations = json_object_get(root, "annotations");

    if (m->annotations != NULL
        && ngx_oci_check_string_map(m->annotations, m->error,
                                    sizeof(m->error), NULL)
           != 0)
    {
        return NGX_OCI_MANIFEST_INVALID;
    }

    return NGX_OCI_MANIFEST_OK;
}


/* "annotations" of where (NULL: the manifest), an object of strings */

static int
ngx_oci_check_string_map(json_t *obj, char *err, size_t err_len,
    const char *where)
{
    char         buf[48];
    json_t      *v;
    const char  *key, *dot;

    dot = where ? "." : "";
    where = where ? where : "";

    if (!json_is_object(obj)) {
        ngx_oci_manifest_error(err, err_len, "%s%sannotations: not an object",
                               where, dot);
        return -1;
    }

    json_object_foreach(obj, key, v) {
        if (!json_is_string(v)) {
            ngx_oci_manifest_error(err, err_len,
                                   "%s%sannotations['%s']: not a string",
                                   where, dot,
                                   ngx_oci_safe(key, buf, sizeof(buf)));
            return -1;
        }
    }

    return 0;
}


/* "urls" of the descriptor at where, an array of non-empty strings */

static int
ngx_oci_check_string_array(json_t *arr, char *err, size_t err_len,
    const char *where)
{
    size_t   i;
    json_t  *v;

    if (!json_is_array(arr)) {
        ngx_oci_manifest_error(err, err_len, "%s.urls: not an array", where);
        return -1;
    }

    json_array_foreach(arr, i, v) {
        if (!json_is_string(v) || json_string_length(v) == 0) {
            ngx_oci_manifest_error(err, err_len, "%s.urls[%zu]: %s", where,
                                   i, json_is_string(v) ? "empty"
                                                        : "not a string");
            return -1;
        }
    }

    return 0;
}


static int
ngx_oci_check_platform(json_t *p, char *err, size_t err_len,
    const char *where)
{
    size_t       i, j;
    json_t      *v, *e;
    const char  *name;

    static const char  *required[] = { "architecture", "os" };
    static const char  *strings[] = { "os.version", "variant" };
    static const char  *arrays[] = { "os.features", "features" };

    if (!json_is_object(p)) {
        ngx_oci_manifest_error(err, err_len, "%s.platform: not an object",
                               where);
        return -1;
    }

    for (i = 0; i < 2; i++) {
        name = required[i];
        v = json_object_get(p, name);

        if (!json_is_string(v)) {
            ngx_oci_manifest_error(err, err_len, "%s.platform.%s: %s",
                                   where, name,
                                   v ? "not a string" : "missing");
            return -1;
        }

        name = strings[i];
        v = json_object_get(p, name);

        if (v != NULL && !json_is_string(v)) {
            ngx_oci_manifest_error(err, err_len,
                                   "%s.platform['%s']: not a string",
                                   where, name);
            return -1;
        }

        name = arrays[i];
        v = json_object_get(p, name);

        if (v == NULL) {
            continue;
        }

        if (!json_is_array(v)) {
            ngx_oci_manifest_error(err, err_len,
                                   "%s.platform['%s']: not an array",
                                   where, name);
            return -1;
        }

        json_array_foreach(v, j, e) {
            if (!json_is_string(e)) {
                ngx_oci_manifest_error(err, err_len,
                                       "%s.platform['%s'][%zu]: "
                                       "not a string", where, name, j);
                return -1;
            }
        }
    }

    return 0;
}


/*
 * Embedded content: standard padded base64 whose decoded length is the
 * descriptor's size and whose digest is its digest.  It is decoded in
 * small pieces straight into the hash, so nothing is allocated.
 */

static int
ngx_oci_check_data(json_t *data, json_int_t size, json_t *digest, char *err,
    size_t err_len, const char *where)
{
    int             alg, pad, k;
    u_char          out[96], md[NGX_OCI_SHA2_MAX_SIZE];
    size_t          len, i, n, hex_len, md_len;
    uint32_t        q;
    const u_char   *p, *hex;
    ngx_oci_sha2_t  s;

    static const char  hexdigits[] = "0123456789abcdef";

    if (!json_is_string(data)) {
        ngx_oci_manifest_error(err, err_len, "%s.data: not a string", where);
        return -1;
    }

    p = (const u_char *) json_string_value(data);
    len = json_string_length(data);

    if (len % 4 != 0) {
        goto malformed;
    }

    pad = 0;

    if (len >= 4) {
        pad = (p[len - 1] == '=') + (p[len - 1] == '=' && p[len - 2] == '=');
    }

    if ((uint64_t) (len / 4 * 3 - pad) != (uint64_t) size) {
        ngx_oci_manifest_error(err, err_len,
                               "%s.data: decodes to %zu bytes, size is %lld",
                               where, len / 4 * 3 - pad, (long long) size);
        return -1;
    }

    if (ngx_oci_digest_parse((const u_char *) json_string_value(digest),
                             json_string_length(digest), &alg, &hex,
                             &hex_len)
        != NGX_OCI_DIGEST_OK)
    {
        goto malformed;
    }

    ngx_oci_sha2_init(&s, alg);

    n = 0;

    for (i = 0; i < len; i += 4) {
        q = 0;

        for (k = 0; k < 4; k++) {
            if (i + k >= len - pad) {
                q <<= 6;
                continue;
            }

            if (ngx_oci_base64[p[i + k]] < 0) {
                goto malformed;
            }

            q = q << 6 | (uint32_t) ngx_oci_base64[p[i + k]];
        }

        out[n++] = (u_char) (q >> 16);
        out[n++] = (u_char) (q >> 8);
        out[n++] = (u_char) q;

        if (i + 4 >= len) {
            n -= pad;
        }

        if (n == sizeof(out) || i + 4 >= len) {
            ngx_oci_sha2_update(&s, out, n);
            n = 0;
        }
    }

    md_len = ngx_oci_sha2_final(&s, md);

    for (i = 0; i < md_len; i++) {
        if (hex[i * 2] != hexdigits[md[i] >> 4]
            || hex[i * 2 + 1] != hexdigits[md[i] & 0xf])
        {
            ngx_oci_manifest_error(err, err_len,
                                   "%s.data: does not match the digest",
                                   where);
            return -1;
        }
    }

    return 0;

malformed:

    ngx_oci_manifest_error(err, err_len, "%s.data: not valid base64", where);

    return -1;
}


/*
 * The type/subtype of a Content-Type value: surrounding whitespace and
 * parameters dropped.  An empty result means no Content-Type.
 */

static void
ngx_oci_content_type(const u_char *p, size_t len, const u_char **type,
    size_t *type_len)
{
    const u_char  *last, *semi;

    if (p == NULL) {
        len = 0;
        p = (const u_char *) "";
    }

    last = p + len;

    semi = memchr(p, ';', len);
    if (semi) {
        last = semi;
    }

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    while (last > p && (last[-1] == ' ' || last[-1] == '\t')) {
        last--;
    }

    *type = p;
    *type_len = (size_t) (last - p);
}


/* index of p in t (from 1, t[0] is a placeholder), 0 if absent */

static int
ngx_oci_lookup(const ngx_oci_mt_str_t *t, const u_char *p, size_t len,
    int caseless)
{
    int  i;

    for (i = 1; t[i].type; i++) {
        if (t[i].len != len) {
            continue;
        }

        if (caseless ? strncasecmp(t[i].type, (const char *) p, len) == 0
                     : memcmp(t[i].type, p, len) == 0)
        {
            return i;
        }
    }

    return 0;
}


/* a bounded copy of document text for an error message */

static const char *
ngx_oci_safe(const char *s, char *buf, size_t size)
{
    size_t  i;

    for (i = 0; s[i] && i < size - 4; i++) {
        buf[i] = s[i];
    }

    if (s[i]) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }

    buf[i] = '\0';

    return buf;
}


/*
 * Formats the message, then replaces what could break a JSON string or a
 * log line: the text may quote the document or jansson's error.
 */

static void
ngx_oci_manifest_error(char *err, size_t err_len, const char *fmt, ...)
{
    u_char  *p;
    va_list  args;

    if (err == NULL || err_len == 0) {
        return;
    }

    va_start(args, fmt);
    vsnprintf(err, err_len, fmt, args);
    va_end(args);

    for (p = (u_char *) err; *p; p++) {
        if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\') {
            *p = '?';
        }
    }
}
