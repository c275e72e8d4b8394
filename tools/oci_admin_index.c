
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
    size_t  i, size, len[2];

    static const char  *suffix[2] = { NGX_OCI_INDEX_REFS, NGX_OCI_INDEX_DESC };

    /* one buffer for both; the braces, "@" and a suffix fit in 16 */

    size = prefix_len + name_len + strlen(subject) + 16;

    k->refs = malloc(2 * size);
    if (k->refs == NULL) {
        oci_admin_warn("out of memory");
        return -1;
    }

    k->desc = k->refs + size;

    for (i = 0; i < 2; i++) {
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

    return 0;
}


void
oci_admin_keys_free(oci_admin_keys_t *k)
{
    free(k->refs);

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
