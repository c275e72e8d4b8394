
/*
 * oci-admin reindex: the index keys of (repository, subject) pairs the
 * walk did not see, a repository gone, a subject no stored manifest
 * refers to any more, found with SCAN and synchronized as the others.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_oci_index_schema.h"
#include "oci_admin_message.h"
#include "oci_admin_reindex_scan.h"


#define OCI_ADMIN_SCAN_COUNT    "1000"


static char *oci_admin_scan_pattern(oci_admin_reindex_t *rx, size_t *len);
static int oci_admin_scan_keys(oci_admin_reindex_t *rx, redisReply *keys);
static int oci_admin_scan_key(oci_admin_reindex_t *rx, const char *key,
    size_t len, oci_admin_group_t *g);


int
oci_admin_reindex_scan(oci_admin_reindex_t *rx, size_t node, char *cursor,
    size_t size)
{
    int          rc;
    char        *pattern;
    size_t       len;
    const char  *argv[6];
    size_t       argvlen[6];
    redisReply  *reply;

    pattern = oci_admin_scan_pattern(rx, &len);
    if (pattern == NULL) {
        return OCI_ADMIN_ABORT;
    }

    argv[0] = "SCAN";
    argvlen[0] = 4;
    argv[1] = cursor;
    argvlen[1] = strlen(cursor);
    argv[2] = "MATCH";
    argvlen[2] = 5;
    argv[3] = pattern;
    argvlen[3] = len;
    argv[4] = "COUNT";
    argvlen[4] = 5;
    argv[5] = OCI_ADMIN_SCAN_COUNT;
    argvlen[5] = sizeof(OCI_ADMIN_SCAN_COUNT) - 1;

    reply = oci_admin_redis_command_at(&rx->redis, node, 6, argv, argvlen);

    free(pattern);

    if (reply == NULL) {
        rx->redis_failed = 1;
        return OCI_ADMIN_ABORT;
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2
        || reply->element[0]->type != REDIS_REPLY_STRING
        || reply->element[0]->len >= size
        || reply->element[1]->type != REDIS_REPLY_ARRAY)
    {
        oci_admin_warn("Redis: SCAN: %s", reply->type == REDIS_REPLY_ERROR
                                          ? reply->str : "unexpected reply");
        freeReplyObject(reply);
        rx->redis_failed = 1;
        return OCI_ADMIN_ABORT;
    }

    memcpy(cursor, reply->element[0]->str, reply->element[0]->len);
    cursor[reply->element[0]->len] = '\0';

    rc = oci_admin_scan_keys(rx, reply->element[1]);

    /* the subjects of the groups pointed into the reply */

    freeReplyObject(reply);

    return rc;
}


/* the index keys' pattern: the prefix matches itself only, escaped */

static char *
oci_admin_scan_pattern(oci_admin_reindex_t *rx, size_t *len)
{
    char    *pattern, *q;
    size_t   i;

    pattern = malloc(2 * rx->opt.prefix_len + 3);
    if (pattern == NULL) {
        oci_admin_warn("out of memory");
        return NULL;
    }

    for (q = pattern, i = 0; i < rx->opt.prefix_len; i++) {
        if (strchr("*?[]\\", rx->opt.prefix[i])) {
            *q++ = '\\';
        }

        *q++ = rx->opt.prefix[i];
    }

    *q++ = '{';
    *q++ = '*';
    *q = '\0';

    *len = q - pattern;

    return pattern;
}


/* the pairs of the keys SCAN returned, in batches */

static int
oci_admin_scan_keys(oci_admin_reindex_t *rx, redisReply *keys)
{
    int                 rc;
    size_t              k;
    oci_admin_repo_t   *repos;
    oci_admin_batch_t   b;
    oci_admin_group_t  *g;

    repos = malloc(OCI_ADMIN_GROUPS * sizeof(oci_admin_repo_t));
    if (repos == NULL) {
        oci_admin_warn("out of memory");
        return OCI_ADMIN_ABORT;
    }

    b.n = 0;
    rc = OCI_ADMIN_OK;

    for (k = 0; rc == OCI_ADMIN_OK && k < keys->elements; k++) {
        if (keys->element[k]->type != REDIS_REPLY_STRING) {
            continue;
        }

        g = oci_admin_batch_next(&b);
        g->repo = &repos[b.n];

        rc = oci_admin_scan_key(rx, keys->element[k]->str,
                                keys->element[k]->len, g);

        if (rc == OCI_ADMIN_OK) {
            rc = oci_admin_batch_add(rx, &b);

        } else if (rc == OCI_ADMIN_SKIP) {
            rc = OCI_ADMIN_OK;

        } else {
            rc = OCI_ADMIN_ABORT;
        }
    }

    if (rc == OCI_ADMIN_OK) {
        rc = oci_admin_batch_flush(rx, &b);
    }

    free(repos);

    return rc;
}


/*
 * "<prefix>{<name>@<subject>}:refs" or ":desc" of a pair not synchronized
 * yet, or ":type:<type>" of a set not synchronized yet (a pair whose
 * descriptors no longer name the type): OCI_ADMIN_OK with the group set
 * up.  Keys of other suffixes are not the index's; keys that do not parse
 * are left alone with a warning.
 */

static int
oci_admin_scan_key(oci_admin_reindex_t *rx, const char *key, size_t len,
    oci_admin_group_t *g)
{
    size_t       n;
    const char  *p, *end, *at, *close, *suffix, *type;

    if (len < rx->opt.prefix_len + 1
        || memcmp(key, rx->opt.prefix, rx->opt.prefix_len) != 0
        || key[rx->opt.prefix_len] != '{')
    {
        return OCI_ADMIN_SKIP;
    }

    p = key + rx->opt.prefix_len + 1;
    end = key + len;

    close = memchr(p, '}', end - p);
    if (close == NULL) {
        return OCI_ADMIN_SKIP;
    }

    suffix = close + 1;
    type = NULL;
    n = sizeof(NGX_OCI_INDEX_TYPE) - 1;

    if ((size_t) (end - suffix) > n
        && memcmp(suffix, NGX_OCI_INDEX_TYPE, n) == 0)
    {
        /* a set of an artifactType: once per set */
        type = suffix + n;

    } else if (!((size_t) (end - suffix) == sizeof(NGX_OCI_INDEX_REFS) - 1
                 && memcmp(suffix, NGX_OCI_INDEX_REFS, end - suffix) == 0)
               && !((size_t) (end - suffix) == sizeof(NGX_OCI_INDEX_DESC) - 1
                    && memcmp(suffix, NGX_OCI_INDEX_DESC, end - suffix)
                       == 0))
    {
        return OCI_ADMIN_SKIP;
    }

    at = memchr(p, '@', close - p);

    if (at == NULL
        || ngx_oci_digest_parse((u_char *) at + 1, close - at - 1, NULL,
                                NULL, NULL) != NGX_OCI_DIGEST_OK
        || oci_admin_repo_init(g->repo, rx->opt.storage, p, at - p) != 0)
    {
        oci_admin_warn("key \"%.*s\" is not that of a repository and a "
                       "subject, left alone", (int) len, key);
        return OCI_ADMIN_SKIP;
    }

    /*
     * Once per pair: the walk saw it, or it is the other key of a pair
     * seen, or SCAN returns a key twice
     */

    switch (oci_admin_set_add(&rx->done, p, (type ? end : close) - p)) {

    case 1:
        break;

    case 0:
        return OCI_ADMIN_SKIP;

    default:
        oci_admin_warn("out of memory");
        return OCI_ADMIN_ERROR;
    }

    /* ends with '}', which the key functions do not need */

    g->subject = at + 1;

    if (type) {
        g->scan_type = type;
        g->scan_type_len = end - type;
    }

    ((char *) close)[0] = '\0';

    return OCI_ADMIN_OK;
}
