
/*
 * oci-admin reindex: the catalog.  The walk gives the names (each
 * repository with "_manifests", whose name is valid), Redis the members;
 * both are sorted in byte order, as ZRANGEBYLEX sorts, and compared.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_oci_index_schema.h"
#include "oci_admin_array.h"
#include "oci_admin_message.h"
#include "oci_admin_reindex_catalog.h"


/* members read from Redis per ZRANGEBYLEX */
#define OCI_ADMIN_CATALOG_PAGE  1000


typedef struct {
    const char                *p;
    size_t                     len;
} oci_admin_catalog_name_t;


static int oci_admin_catalog_read(oci_admin_reindex_t *rx, const char *key,
    size_t key_len, redisReply ***pages, size_t *npages);
static int oci_admin_catalog_cmp(const void *a, const void *b);
static int oci_admin_catalog_change(oci_admin_reindex_t *rx,
    const char *verb, const char *key, size_t key_len, const char *p,
    size_t len);


int
oci_admin_reindex_catalog_add(oci_admin_reindex_t *rx, const char *name,
    size_t len)
{
    char  **names, *s;

    names = oci_admin_array_room(rx->catalog, rx->ncatalog,
                                 &rx->catalog_size, sizeof(char *), 64);
    s = malloc(len + 1);

    if (names == NULL || s == NULL) {
        free(s);
        oci_admin_warn("out of memory");
        rx->errors++;
        return OCI_ADMIN_ABORT;
    }

    memcpy(s, name, len);
    s[len] = '\0';

    rx->catalog = names;
    rx->catalog[rx->ncatalog++] = s;

    return OCI_ADMIN_OK;
}


int
oci_admin_reindex_catalog(oci_admin_reindex_t *rx)
{
    int                        rc, c;
    char                      *key;
    size_t                     i, j, k, n, key_len, npages;
    redisReply               **pages;
    oci_admin_catalog_name_t  *have, *want;

    key_len = rx->opt.prefix_len + sizeof(NGX_OCI_INDEX_CATALOG) - 1;
    key = malloc(key_len + 1);

    pages = NULL;
    npages = 0;
    have = NULL;
    want = malloc((rx->ncatalog + 1) * sizeof(oci_admin_catalog_name_t));

    rc = OCI_ADMIN_ABORT;

    if (key == NULL || want == NULL) {
        oci_admin_warn("out of memory");
        goto done;
    }

    memcpy(key, rx->opt.prefix, rx->opt.prefix_len);
    memcpy(key + rx->opt.prefix_len, NGX_OCI_INDEX_CATALOG,
           sizeof(NGX_OCI_INDEX_CATALOG));

    if (oci_admin_catalog_read(rx, key, key_len, &pages, &npages) != 0) {
        goto done;
    }

    for (n = 0, i = 0; i < npages; i++) {
        n += pages[i]->elements;
    }

    have = malloc((n + 1) * sizeof(oci_admin_catalog_name_t));
    if (have == NULL) {
        oci_admin_warn("out of memory");
        goto done;
    }

    for (n = 0, i = 0; i < npages; i++) {
        for (j = 0; j < pages[i]->elements; j++) {
            have[n].p = pages[i]->element[j]->str;
            have[n++].len = pages[i]->element[j]->len;
        }
    }

    for (i = 0; i < rx->ncatalog; i++) {
        want[i].p = rx->catalog[i];
        want[i].len = strlen(rx->catalog[i]);
    }

    /* the walk is depth first: "a/b" comes before "a-b" there */

    qsort(want, rx->ncatalog, sizeof(oci_admin_catalog_name_t),
          oci_admin_catalog_cmp);

    rc = OCI_ADMIN_OK;

    for (j = 0, k = 0; rc == OCI_ADMIN_OK && (j < n || k < rx->ncatalog);
         /* void */)
    {
        if (j == n) {
            c = 1;

        } else if (k == rx->ncatalog) {
            c = -1;

        } else {
            c = oci_admin_catalog_cmp(&have[j], &want[k]);
        }

        if (c == 0) {
            j++;
            k++;

        } else if (c < 0) {
            rx->catalog_removed++;
            rc = oci_admin_catalog_change(rx, "ZREM", key, key_len,
                                          have[j].p, have[j].len);
            j++;

        } else {
            rx->catalog_added++;
            rc = oci_admin_catalog_change(rx, "ZADD", key, key_len,
                                          want[k].p, want[k].len);
            k++;
        }
    }

done:

    for (i = 0; i < npages; i++) {
        freeReplyObject(pages[i]);
    }

    for (i = 0; i < rx->ncatalog; i++) {
        free(rx->catalog[i]);
    }

    rx->ncatalog = 0;

    free(pages);
    free(have);
    free(want);
    free(key);

    return rc;
}


/* every member, a page of ZRANGEBYLEX at a time: 0, or -1 after a message */

static int
oci_admin_catalog_read(oci_admin_reindex_t *rx, const char *key,
    size_t key_len, redisReply ***pages, size_t *npages)
{
    char         cursor[1 + 4096], count[32];
    size_t       size, argvlen[7];
    redisReply  *reply, *last, **p;
    const char  *argv[7];

    size = 0;
    strcpy(cursor, "-");
    snprintf(count, sizeof(count), "%d", OCI_ADMIN_CATALOG_PAGE);

    for ( ;; ) {
        argv[0] = "ZRANGEBYLEX";
        argv[1] = key;
        argv[2] = cursor;
        argv[3] = "+";
        argv[4] = "LIMIT";
        argv[5] = "0";
        argv[6] = count;

        argvlen[0] = 11;
        argvlen[1] = key_len;
        argvlen[2] = strlen(cursor);
        argvlen[3] = 1;
        argvlen[4] = 5;
        argvlen[5] = 1;
        argvlen[6] = strlen(count);

        reply = oci_admin_redis_command(&rx->redis, 7, argv, argvlen);

        if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
            if (reply) {
                oci_admin_warn("reindex: reading %s: %s", key,
                               reply->type == REDIS_REPLY_ERROR
                               ? reply->str : "not a sorted set");
                freeReplyObject(reply);
            }

            rx->redis_failed = 1;
            return -1;
        }

        p = oci_admin_array_room(*pages, *npages, &size,
                                 sizeof(redisReply *), 4);
        if (p == NULL) {
            freeReplyObject(reply);
            oci_admin_warn("out of memory");
            return -1;
        }

        *pages = p;
        (*pages)[(*npages)++] = reply;

        if (reply->elements < OCI_ADMIN_CATALOG_PAGE) {
            return 0;
        }

        last = reply->element[reply->elements - 1];

        if (last->type != REDIS_REPLY_STRING
            || last->len + 2 > sizeof(cursor))
        {
            oci_admin_warn("reindex: %s holds a member that is no name",
                           key);
            rx->redis_failed = 1;
            return -1;
        }

        cursor[0] = '(';
        memcpy(cursor + 1, last->str, last->len);
        cursor[1 + last->len] = '\0';
    }
}


/* byte order, as ZRANGEBYLEX's */

static int
oci_admin_catalog_cmp(const void *a, const void *b)
{
    int                              rc;
    const oci_admin_catalog_name_t  *x = a, *y = b;

    rc = memcmp(x->p, y->p, x->len < y->len ? x->len : y->len);

    if (rc != 0) {
        return rc;
    }

    return (x->len > y->len) - (x->len < y->len);
}


static int
oci_admin_catalog_change(oci_admin_reindex_t *rx, const char *verb,
    const char *key, size_t key_len, const char *p, size_t len)
{
    int          argc;
    size_t       argvlen[4];
    const char  *argv[4];

    if (rx->dry_run) {
        return OCI_ADMIN_OK;
    }

    argc = 0;
    argv[argc] = verb;
    argvlen[argc++] = 4;
    argv[argc] = key;
    argvlen[argc++] = key_len;

    if (verb[1] == 'A') {
        argv[argc] = "0";
        argvlen[argc++] = 1;
    }

    argv[argc] = p;
    argvlen[argc++] = len;

    if (oci_admin_redis_write(&rx->redis, argc, argv, argvlen) != 0) {
        rx->redis_failed = 1;
        return OCI_ADMIN_ABORT;
    }

    return OCI_ADMIN_OK;
}
