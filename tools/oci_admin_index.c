
/*
 * oci-admin: keys of the referrers index and changes to them
 * (oci_admin_index.h).
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_oci_index_schema.h"
#include "oci_admin_index.h"
#include "oci_admin_message.h"


int
oci_admin_keys_init(oci_admin_keys_t *k, const char *prefix,
    size_t prefix_len, const char *name, size_t name_len,
    const char *subject)
{
    size_t  i, size, len[3];

    static const char  *suffix[3] = { NGX_OCI_INDEX_REFS, NGX_OCI_INDEX_DESC,
                                      NGX_OCI_INDEX_TYPE };

    /* one buffer for all; the braces, "@" and a suffix fit in 16 */

    size = prefix_len + name_len + strlen(subject) + 16;

    k->refs = malloc(3 * size);
    if (k->refs == NULL) {
        oci_admin_warn("out of memory");
        return -1;
    }

    k->desc = k->refs + size;
    k->types = k->refs + 2 * size;

    for (i = 0; i < 3; i++) {
        len[i] = ngx_oci_index_key((u_char *) k->refs + i * size, size,
                                   (u_char *) prefix, prefix_len,
                                   (u_char *) name, name_len,
                                   (u_char *) subject, strlen(subject),
                                   suffix[i]);
        if (len[i] == 0) {
            oci_admin_warn("cannot build the keys of %.*s@%s",
                           (int) name_len, name, subject);
            oci_admin_keys_free(k);
            return -1;
        }
    }

    k->refs_len = len[0];
    k->desc_len = len[1];
    k->types_len = len[2];

    return 0;
}


char *
oci_admin_type_key(oci_admin_keys_t *k, const char *type, size_t len,
    size_t *key_len)
{
    char  *key;

    key = malloc(k->types_len + len + 1);
    if (key == NULL) {
        return NULL;
    }

    memcpy(key, k->types, k->types_len);
    memcpy(key + k->types_len, type, len);
    key[k->types_len + len] = '\0';

    *key_len = k->types_len + len;

    return key;
}


oci_admin_type_change_t *
oci_admin_change_type(oci_admin_change_t *ch, char *key, size_t key_len)
{
    size_t                    i, cap;
    oci_admin_type_change_t  *t;

    for (i = 0; i < ch->ntypes; i++) {
        if (strcmp(ch->types[i].key, key) == 0) {
            free(key);
            return &ch->types[i];
        }
    }

    if (ch->ntypes == ch->types_cap) {
        cap = ch->types_cap ? 2 * ch->types_cap : 4;

        t = realloc(ch->types, cap * sizeof(oci_admin_type_change_t));
        if (t == NULL) {
            free(key);
            return NULL;
        }

        ch->types = t;
        ch->types_cap = cap;
    }

    t = &ch->types[ch->ntypes];
    memset(t, 0, sizeof(oci_admin_type_change_t));
    t->key = key;
    ch->ntypes++;

    if (oci_admin_cmd_push(&t->zadd, "ZADD", 4) != 0
        || oci_admin_cmd_push(&t->zadd, key, key_len) != 0
        || oci_admin_cmd_push(&t->zrem, "ZREM", 4) != 0
        || oci_admin_cmd_push(&t->zrem, key, key_len) != 0)
    {
        return NULL;
    }

    return t;
}


void
oci_admin_keys_free(oci_admin_keys_t *k)
{
    free(k->refs);

    k->refs = NULL;
    k->desc = NULL;
    k->types = NULL;
}


int
oci_admin_change_init(oci_admin_change_t *ch, oci_admin_keys_t *k)
{
    memset(ch, 0, sizeof(oci_admin_change_t));

    if (oci_admin_cmd_push(&ch->zadd, "ZADD", 4) != 0
        || oci_admin_cmd_push(&ch->zadd, k->refs, k->refs_len) != 0
        || oci_admin_cmd_push(&ch->hset, "HSET", 4) != 0
        || oci_admin_cmd_push(&ch->hset, k->desc, k->desc_len) != 0
        || oci_admin_cmd_push(&ch->zrem, "ZREM", 4) != 0
        || oci_admin_cmd_push(&ch->zrem, k->refs, k->refs_len) != 0
        || oci_admin_cmd_push(&ch->hdel, "HDEL", 4) != 0
        || oci_admin_cmd_push(&ch->hdel, k->desc, k->desc_len) != 0)
    {
        return -1;
    }

    return 0;
}


void
oci_admin_change_free(oci_admin_change_t *ch)
{
    size_t  i;

    oci_admin_cmd_free(&ch->zadd);
    oci_admin_cmd_free(&ch->hset);
    oci_admin_cmd_free(&ch->zrem);
    oci_admin_cmd_free(&ch->hdel);

    for (i = 0; i < ch->ntypes; i++) {
        oci_admin_cmd_free(&ch->types[i].zadd);
        oci_admin_cmd_free(&ch->types[i].zrem);
        free(ch->types[i].key);
    }

    free(ch->types);

    ch->types = NULL;
    ch->ntypes = 0;
    ch->types_cap = 0;
}


/* a command that changes something: more than its name and key */

static int
oci_admin_change_cmd(oci_admin_redis_t *r, oci_admin_cmd_t *c)
{
    if (c->argc <= 2) {
        return 0;
    }

    return oci_admin_redis_write(r, c->argc, c->argv, c->len);
}


int
oci_admin_change_write(oci_admin_redis_t *r, oci_admin_change_t *ch)
{
    size_t  i, n;

    static const char  *multi[] = { "MULTI" }, *exec[] = { "EXEC" };
    static size_t       multi_len[] = { 5 }, exec_len[] = { 4 };

    n = (ch->hset.argc > 2) + (ch->zadd.argc > 2) + (ch->zrem.argc > 2)
        + (ch->hdel.argc > 2);

    for (i = 0; i < ch->ntypes; i++) {
        n += (ch->types[i].zadd.argc > 2) + (ch->types[i].zrem.argc > 2);
    }

    if (n == 0) {
        return 0;
    }

    if (oci_admin_redis_write(r, 1, multi, multi_len) != 0
        || oci_admin_change_cmd(r, &ch->hset) != 0
        || oci_admin_change_cmd(r, &ch->zadd) != 0)
    {
        return -1;
    }

    for (i = 0; i < ch->ntypes; i++) {
        if (oci_admin_change_cmd(r, &ch->types[i].zadd) != 0
            || oci_admin_change_cmd(r, &ch->types[i].zrem) != 0)
        {
            return -1;
        }
    }

    if (oci_admin_change_cmd(r, &ch->zrem) != 0
        || oci_admin_change_cmd(r, &ch->hdel) != 0)
    {
        return -1;
    }

    return oci_admin_redis_write(r, 1, exec, exec_len);
}


int
oci_admin_index_remove(oci_admin_redis_t *r, oci_admin_keys_t *k,
    const char *digest, size_t len)
{
    const char  *argv[7];
    size_t       argvlen[7];

    argv[0] = "EVAL";
    argvlen[0] = 4;
    argv[1] = NGX_OCI_INDEX_REMOVE_SCRIPT;
    argvlen[1] = sizeof(NGX_OCI_INDEX_REMOVE_SCRIPT) - 1;
    argv[2] = "2";
    argvlen[2] = 1;
    argv[3] = k->refs;
    argvlen[3] = k->refs_len;
    argv[4] = k->desc;
    argvlen[4] = k->desc_len;
    argv[5] = k->types;
    argvlen[5] = k->types_len;
    argv[6] = digest;
    argvlen[6] = len;

    return oci_admin_redis_write(r, 7, argv, argvlen);
}
