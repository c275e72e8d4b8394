
/*
 * oci-admin: keys of the referrers index and changes to them
 * (oci_admin_index.h).
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_oci_index_schema.h"
#include "oci_admin_index.h"
#include "oci_admin_message.h"


static size_t oci_admin_key(char **key, size_t size, const char *prefix,
    size_t prefix_len, const char *name, size_t name_len,
    const char *subject, const char *suffix);


int
oci_admin_keys_init(oci_admin_keys_t *k, const char *prefix,
    size_t prefix_len, const char *name, size_t name_len,
    const char *subject)
{
    size_t  size;

    /* the braces, "@" and the longer suffix fit in 16 */

    size = prefix_len + name_len + strlen(subject) + 16;

    k->refs_len = oci_admin_key(&k->refs, size, prefix, prefix_len, name,
                                name_len, subject, NGX_OCI_INDEX_REFS);
    k->desc_len = oci_admin_key(&k->desc, size, prefix, prefix_len, name,
                                name_len, subject, NGX_OCI_INDEX_DESC);

    if (k->refs == NULL || k->desc == NULL) {
        oci_admin_warn("out of memory");
        oci_admin_keys_free(k);
        return -1;
    }

    if (k->refs_len == 0 || k->desc_len == 0) {
        oci_admin_warn("cannot build the keys of %.*s@%s", (int) name_len,
                       name, subject);
        oci_admin_keys_free(k);
        return -1;
    }

    return 0;
}


/* *key malloc()ed, NULL out of memory; the length, 0 when it fails */

static size_t
oci_admin_key(char **key, size_t size, const char *prefix, size_t prefix_len,
    const char *name, size_t name_len, const char *subject,
    const char *suffix)
{
    *key = malloc(size);

    if (*key == NULL) {
        return 0;
    }

    return ngx_oci_index_key((u_char *) *key, size, (u_char *) prefix,
                             prefix_len, (u_char *) name, name_len,
                             (u_char *) subject, strlen(subject), suffix);
}


void
oci_admin_keys_free(oci_admin_keys_t *k)
{
    free(k->refs);
    free(k->desc);

    k->refs = NULL;
    k->desc = NULL;
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
    oci_admin_cmd_free(&ch->zadd);
    oci_admin_cmd_free(&ch->hset);
    oci_admin_cmd_free(&ch->zrem);
    oci_admin_cmd_free(&ch->hdel);
}


int
oci_admin_change_write(oci_admin_redis_t *r, oci_admin_change_t *ch)
{
    size_t            i;
    oci_admin_cmd_t  *cmds[4];

    static const char  *multi[] = { "MULTI" }, *exec[] = { "EXEC" };
    static size_t       multi_len[] = { 5 }, exec_len[] = { 4 };

    cmds[0] = &ch->hset;
    cmds[1] = &ch->zadd;
    cmds[2] = &ch->zrem;
    cmds[3] = &ch->hdel;

    if (ch->hset.argc == 2 && ch->zadd.argc == 2 && ch->zrem.argc == 2
        && ch->hdel.argc == 2)
    {
        return 0;
    }

    if (oci_admin_redis_write(r, 1, multi, multi_len) != 0) {
        return -1;
    }

    for (i = 0; i < 4; i++) {
        if (cmds[i]->argc > 2
            && oci_admin_redis_write(r, cmds[i]->argc, cmds[i]->argv,
                                     cmds[i]->len)
               != 0)
        {
            return -1;
        }
    }

    return oci_admin_redis_write(r, 1, exec, exec_len);
}
