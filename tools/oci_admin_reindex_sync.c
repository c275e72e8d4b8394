
/*
 * oci-admin reindex, the Redis side: each (repository, subject) pair's
 * keys are compared with the entries the walk found and corrected in one
 * MULTI ... EXEC; members the walk did not find are judged on what the
 * disk holds when they are met.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "oci_admin.h"
#include "oci_admin_reindex.h"
#include "ngx_oci_index_schema.h"


#define OCI_ADMIN_SCAN_COUNT    "1000"

#define OCI_ADMIN_VALID         0
#define OCI_ADMIN_INVALID       1


/* a member of what Redis holds: a digest with its score or descriptor */

typedef struct {
    const char         *str;
    size_t              len;
    const char         *value;
    size_t              value_len;
} oci_admin_member_t;


/* the changes to one pair's keys */

typedef struct {
    oci_admin_cmd_t     zadd;
    oci_admin_cmd_t     hset;
    oci_admin_cmd_t     zrem;
    oci_admin_cmd_t     hdel;
} oci_admin_change_t;


static int oci_admin_reindex_group(oci_admin_reindex_t *rx,
    oci_admin_group_t *g);
static int oci_admin_member_right(oci_admin_member_t *z,
    oci_admin_member_t *h, const char *descriptor);
static int oci_admin_change_set(oci_admin_change_t *ch, const char *p,
    size_t len, const char *descriptor, oci_admin_member_t *z,
    oci_admin_member_t *h);
static int oci_admin_change_write(oci_admin_redis_t *r,
    oci_admin_change_t *ch);
static int oci_admin_reindex_members(redisReply *r, const char *key,
    oci_admin_member_t **out, size_t *n);
static int oci_admin_member_cmp(const void *a, const void *b);
static oci_admin_member_t *oci_admin_member_find(oci_admin_member_t *m,
    size_t n, const char *p, size_t len);
static oci_admin_entry_t *oci_admin_entry_find(oci_admin_entry_t *e,
    size_t n, const char *p, size_t len);
static int oci_admin_reindex_evaluate(oci_admin_reindex_t *rx,
    oci_admin_repo_t *repo, const char *subject, const char *p, size_t len,
    char **descriptor);
static int oci_admin_reindex_stored(oci_admin_repo_t *repo, const char *p,
    size_t len);
static int oci_admin_reindex_keys(oci_admin_reindex_t *rx,
    oci_admin_group_t *g);
static void oci_admin_group_free(oci_admin_group_t *g);
static int oci_admin_reindex_scan_key(oci_admin_reindex_t *rx,
    const char *key, size_t len, oci_admin_group_t *g);


int
oci_admin_reindex_sync(oci_admin_reindex_t *rx, oci_admin_group_t *g,
    size_t n)
{
    int          rc, len;
    char         pair[NGX_OCI_NAME_MAX_LEN + 1 + OCI_ADMIN_DIGEST_LEN + 1];
    size_t       i;
    const char  *argv[5];
    size_t       argvlen[5];

    rc = OCI_ADMIN_OK;

    for (i = 0; i < n; i++) {
        if (oci_admin_reindex_keys(rx, &g[i]) != 0) {
            rc = OCI_ADMIN_ABORT;
            goto done;
        }

        argv[0] = "ZRANGE";
        argvlen[0] = 6;
        argv[1] = g[i].refs;
        argvlen[1] = g[i].refs_len;
        argv[2] = "0";
        argvlen[2] = 1;
        argv[3] = "-1";
        argvlen[3] = 2;
        argv[4] = "WITHSCORES";
        argvlen[4] = 10;

        if (oci_admin_redis_append(&rx->redis, 5, argv, argvlen) != 0) {
            goto failed;
        }

        argv[0] = "HGETALL";
        argvlen[0] = 7;
        argv[1] = g[i].desc;
        argvlen[1] = g[i].desc_len;

        if (oci_admin_redis_append(&rx->redis, 2, argv, argvlen) != 0) {
            goto failed;
        }
    }

    for (i = 0; i < n; i++) {
        g[i].zset = oci_admin_redis_reply(&rx->redis);
        if (g[i].zset == NULL) {
            goto failed;
        }

        g[i].hash = oci_admin_redis_reply(&rx->redis);
        if (g[i].hash == NULL) {
            goto failed;
        }
    }

    for (i = 0; rc == OCI_ADMIN_OK && i < n; i++) {
        rc = oci_admin_reindex_group(rx, &g[i]);
    }

    goto done;

failed:

    rx->redis_failed = 1;
    rc = OCI_ADMIN_ABORT;

done:

    for (i = 0; i < n; i++) {
        len = snprintf(pair, sizeof(pair), "%s@%s", g[i].repo->name,
                       g[i].subject);

        if (len < 0 || (size_t) len >= sizeof(pair)
            || oci_admin_set_add(&rx->done, pair, len) < 0)
        {
            oci_admin_warn("out of memory");
            rc = OCI_ADMIN_ABORT;
        }

        oci_admin_group_free(&g[i]);
    }

    return rc;
}


static int
oci_admin_reindex_keys(oci_admin_reindex_t *rx, oci_admin_group_t *g)
{
    size_t  size, sl;

    sl = strlen(g->subject);
    size = rx->opt.prefix_len + g->repo->name_len + sl + 16;

    g->refs = malloc(size);
    g->desc = malloc(size);

    if (g->refs == NULL || g->desc == NULL) {
        oci_admin_warn("out of memory");
        return -1;
    }

    g->refs_len = ngx_oci_index_key((u_char *) g->refs, size,
                                       (u_char *) rx->opt.prefix,
                                       rx->opt.prefix_len,
                                       (u_char *) g->repo->name,
                                       g->repo->name_len,
                                       (u_char *) g->subject, sl,
                                       NGX_OCI_INDEX_REFS);

    g->desc_len = ngx_oci_index_key((u_char *) g->desc, size,
                                       (u_char *) rx->opt.prefix,
                                       rx->opt.prefix_len,
                                       (u_char *) g->repo->name,
                                       g->repo->name_len,
                                       (u_char *) g->subject, sl,
                                       NGX_OCI_INDEX_DESC);

    if (g->refs_len == 0 || g->desc_len == 0) {
        oci_admin_warn("cannot build the keys of %s@%s", g->repo->name,
                       g->subject);
        return -1;
    }

    return 0;
}


static void
oci_admin_group_free(oci_admin_group_t *g)
{
    if (g->zset) {
        freeReplyObject(g->zset);
    }

    if (g->hash) {
        freeReplyObject(g->hash);
    }

    free(g->refs);
    free(g->desc);

    g->zset = NULL;
    g->hash = NULL;
    g->refs = NULL;
    g->desc = NULL;
}


/*
 * Compares one pair's keys with what it must hold and queues the changes
 * in one MULTI ... EXEC.  Members of the keys that the walk did not find
 * are judged on what the disk holds now.
 */

static int
oci_admin_reindex_group(oci_admin_reindex_t *rx, oci_admin_group_t *g)
{
    int                  rc, ok;
    char                *descriptor, **made;
    size_t               i, zn, hn, nmade, extra_n;
    oci_admin_entry_t   *e;
    oci_admin_member_t  *zm, *hm, *z, *h, **extra;
    oci_admin_change_t   ch;

    zm = NULL;
    hm = NULL;
    made = NULL;
    extra = NULL;
    nmade = 0;
    extra_n = 0;

    memset(&ch, 0, sizeof(oci_admin_change_t));

    if (oci_admin_reindex_members(g->zset, g->refs, &zm, &zn) != 0
        || oci_admin_reindex_members(g->hash, g->desc, &hm, &hn) != 0)
    {
        /* a key of another type: leave the pair alone */
        rx->errors++;
        rc = OCI_ADMIN_OK;
        goto done;
    }

    rc = OCI_ADMIN_ABORT;

    made = malloc((zn + hn + 1) * sizeof(char *));
    extra = malloc((zn + hn + 1) * sizeof(oci_admin_member_t *));

    if (made == NULL || extra == NULL
        || oci_admin_cmd_push(&ch.zadd, "ZADD", 4) != 0
        || oci_admin_cmd_push(&ch.zadd, g->refs, g->refs_len) != 0
        || oci_admin_cmd_push(&ch.hset, "HSET", 4) != 0
        || oci_admin_cmd_push(&ch.hset, g->desc, g->desc_len) != 0
        || oci_admin_cmd_push(&ch.zrem, "ZREM", 4) != 0
        || oci_admin_cmd_push(&ch.zrem, g->refs, g->refs_len) != 0
        || oci_admin_cmd_push(&ch.hdel, "HDEL", 4) != 0
        || oci_admin_cmd_push(&ch.hdel, g->desc, g->desc_len) != 0)
    {
        goto nomem;
    }

    /* what the walk found */

    for (i = 0; i < g->n; i++) {
        e = &g->entries[i];

        z = oci_admin_member_find(zm, zn, e->digest, strlen(e->digest));
        h = oci_admin_member_find(hm, hn, e->digest, strlen(e->digest));

        if (oci_admin_member_right(z, h, e->descriptor)) {
            continue;
        }

        /* deleted since the walk saw it? */

        if (oci_admin_reindex_stored(g->repo, e->digest, strlen(e->digest))
            == OCI_ADMIN_MISSING)
        {
            continue;
        }

        if (z == NULL && h == NULL) {
            rx->added++;

        } else {
            rx->rewritten++;
        }

        if (oci_admin_change_set(&ch, e->digest, strlen(e->digest),
                                 e->descriptor, z, h)
            != 0)
        {
            goto nomem;
        }
    }

    /* what Redis holds and the walk did not find, each member once */

    for (i = 0; i < zn; i++) {
        if (!oci_admin_entry_find(g->entries, g->n, zm[i].str, zm[i].len)) {
            extra[extra_n++] = &zm[i];
        }
    }

    for (i = 0; i < hn; i++) {
        if (!oci_admin_entry_find(g->entries, g->n, hm[i].str, hm[i].len)
            && !oci_admin_member_find(zm, zn, hm[i].str, hm[i].len))
        {
            extra[extra_n++] = &hm[i];
        }
    }

    for (i = 0; i < extra_n; i++) {
        z = oci_admin_member_find(zm, zn, extra[i]->str, extra[i]->len);
        h = oci_admin_member_find(hm, hn, extra[i]->str, extra[i]->len);

        ok = oci_admin_reindex_evaluate(rx, g->repo, g->subject,
                                        extra[i]->str, extra[i]->len,
                                        &descriptor);

        if (ok == OCI_ADMIN_ERROR) {
            continue;
        }

        if (ok == OCI_ADMIN_INVALID) {
            rx->removed++;

            if ((z && oci_admin_cmd_push(&ch.zrem, z->str, z->len) != 0)
                || (h && oci_admin_cmd_push(&ch.hdel, h->str, h->len) != 0))
            {
                goto nomem;
            }

            continue;
        }

        /* pushed since the walk, or being pushed: kept, and made right */

        made[nmade++] = descriptor;

        if (oci_admin_member_right(z, h, descriptor)) {
            continue;
        }

        rx->rewritten++;

        if (oci_admin_change_set(&ch, extra[i]->str, extra[i]->len,
                                 descriptor, z, h)
            != 0)
        {
            goto nomem;
        }
    }

    if (oci_admin_change_write(&rx->redis, &ch) != 0) {
        rx->redis_failed = 1;
        goto done;
    }

    rc = OCI_ADMIN_OK;
    goto done;

nomem:

    oci_admin_warn("out of memory");

done:

    for (i = 0; i < nmade; i++) {
        free(made[i]);
    }

    free(made);
    free(extra);
    free(zm);
    free(hm);

    oci_admin_cmd_free(&ch.zadd);
    oci_admin_cmd_free(&ch.hset);
    oci_admin_cmd_free(&ch.zrem);
    oci_admin_cmd_free(&ch.hdel);

    return rc;
}


/* the member has score 0 and the descriptor */

static int
oci_admin_member_right(oci_admin_member_t *z, oci_admin_member_t *h,
    const char *descriptor)
{
    return z && z->value_len == 1 && z->value[0] == '0'
           && h && h->value_len == strlen(descriptor)
           && memcmp(h->value, descriptor, h->value_len) == 0;
}


/* queues what makes the member right; 0, or -1 out of memory */

static int
oci_admin_change_set(oci_admin_change_t *ch, const char *p, size_t len,
    const char *descriptor, oci_admin_member_t *z, oci_admin_member_t *h)
{
    size_t  dlen;

    if (!(z && z->value_len == 1 && z->value[0] == '0')) {
        if (oci_admin_cmd_push(&ch->zadd, "0", 1) != 0
            || oci_admin_cmd_push(&ch->zadd, p, len) != 0)
        {
            return -1;
        }
    }

    dlen = strlen(descriptor);

    if (!(h && h->value_len == dlen
          && memcmp(h->value, descriptor, dlen) == 0))
    {
        if (oci_admin_cmd_push(&ch->hset, p, len) != 0
            || oci_admin_cmd_push(&ch->hset, descriptor, dlen) != 0)
        {
            return -1;
        }
    }

    return 0;
}


/*
 * MULTI, the descriptors before the members, removals the other way
 * round, EXEC; nothing if there is nothing to change
 */

static int
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

    /* each holds its command and key */

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


/*
 * The pairs of a ZRANGE WITHSCORES or HGETALL reply, sorted.  -1 after a
 * message when the reply is an error or not a list of pairs.
 */

static int
oci_admin_reindex_members(redisReply *r, const char *key,
    oci_admin_member_t **out, size_t *n)
{
    size_t               i;
    oci_admin_member_t  *m;

    *out = NULL;
    *n = 0;

    if (r->type == REDIS_REPLY_ERROR) {
        oci_admin_warn("key \"%s\": %s, left alone", key, r->str);
        return -1;
    }

    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2) {
        oci_admin_warn("key \"%s\": unexpected reply, left alone", key);
        return -1;
    }

    for (i = 0; i < r->elements; i++) {
        if (r->element[i]->type != REDIS_REPLY_STRING) {
            oci_admin_warn("key \"%s\": unexpected reply, left alone", key);
            return -1;
        }
    }

    m = malloc((r->elements / 2 + 1) * sizeof(oci_admin_member_t));
    if (m == NULL) {
        oci_admin_warn("out of memory");
        return -1;
    }

    for (i = 0; i < r->elements / 2; i++) {
        m[i].str = r->element[2 * i]->str;
        m[i].len = r->element[2 * i]->len;
        m[i].value = r->element[2 * i + 1]->str;
        m[i].value_len = r->element[2 * i + 1]->len;
    }

    *n = r->elements / 2;
    *out = m;

    if (*n) {
        qsort(m, *n, sizeof(oci_admin_member_t), oci_admin_member_cmp);
    }

    return 0;
}


static int
oci_admin_member_cmp(const void *a, const void *b)
{
    int                        rc;
    const oci_admin_member_t  *x = a, *y = b;

    rc = memcmp(x->str, y->str, x->len < y->len ? x->len : y->len);

    if (rc == 0) {
        rc = (x->len > y->len) - (x->len < y->len);
    }

    return rc;
}


static oci_admin_member_t *
oci_admin_member_find(oci_admin_member_t *m, size_t n, const char *p,
    size_t len)
{
    oci_admin_member_t  key;

    if (n == 0) {
        return NULL;
    }

    key.str = p;
    key.len = len;

    return bsearch(&key, m, n, sizeof(oci_admin_member_t),
                   oci_admin_member_cmp);
}


static oci_admin_entry_t *
oci_admin_entry_find(oci_admin_entry_t *e, size_t n, const char *p,
    size_t len)
{
    int     rc;
    size_t  lo, hi, mid, l;

    /* entries are sorted by digest with strcmp(), the same order */

    lo = 0;
    hi = n;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        l = strlen(e[mid].digest);

        rc = memcmp(e[mid].digest, p, l < len ? l : len);
        if (rc == 0) {
            rc = (l > len) - (l < len);
        }

        if (rc == 0) {
            return &e[mid];
        }

        if (rc < 0) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    return NULL;
}


/*
 * Whether the manifest p is, on disk now, a referrer of the subject in
 * the repository: OCI_ADMIN_VALID with its descriptor (malloc()ed),
 * OCI_ADMIN_INVALID, or OCI_ADMIN_ERROR when the disk could not tell.
 */

static int
oci_admin_reindex_evaluate(oci_admin_reindex_t *rx, oci_admin_repo_t *repo,
    const char *subject, const char *p, size_t len, char **descriptor)
{
    int                    rc, found;
    char                   tag[OCI_ADMIN_DIGEST_LEN + 1];
    size_t                 i, n, l;
    const u_char          *s;
    oci_admin_digest_t     d, sd, index, e;
    oci_admin_manifest_t   mf, fb;

    *descriptor = NULL;

    if (oci_admin_digest_set(&d, p, len) != 0) {
        return OCI_ADMIN_INVALID;
    }

    rc = oci_admin_manifest_load(repo, &d, &mf);

    if (rc == OCI_ADMIN_ERROR) {
        oci_admin_warn("%s/_manifests/%s/%s: %s", repo->path,
                       oci_admin_digest_alg(&d), oci_admin_digest_hex(&d),
                       mf.reason);
        oci_admin_manifest_free(&mf);
        rx->errors++;
        return OCI_ADMIN_ERROR;
    }

    if (rc != OCI_ADMIN_OK) {
        oci_admin_manifest_free(&mf);
        return OCI_ADMIN_INVALID;
    }

    found = 0;

    if (mf.m.subject
        && ngx_oci_descriptor_digest(mf.m.subject, &s, &l, NULL)
           == NGX_OCI_DIGEST_OK
        && l == strlen(subject) && memcmp(s, subject, l) == 0)
    {
        found = 1;
    }

    /* or listed by the subject's fallback tag */

    if (!found && oci_admin_digest_set(&sd, subject, strlen(subject)) == 0) {
        oci_admin_fallback_tag(&sd, tag);

        if (oci_admin_tag_read(repo, tag, &index) == OCI_ADMIN_OK) {
            if (oci_admin_manifest_load(repo, &index, &fb) == OCI_ADMIN_OK
                && fb.m.kind == NGX_OCI_MT_OCI_INDEX)
            {
                n = json_array_size(fb.m.manifests);

                for (i = 0; !found && i < n; i++) {
                    if (ngx_oci_descriptor_digest(
                            json_array_get(fb.m.manifests, i), &s, &l, NULL)
                        == NGX_OCI_DIGEST_OK
                        && oci_admin_digest_set(&e, (const char *) s, l) == 0
                        && strcmp(e.str, d.str) == 0)
                    {
                        found = 1;
                    }
                }
            }

            oci_admin_manifest_free(&fb);
        }
    }

    if (found) {
        *descriptor = ngx_oci_index_descriptor(&mf.m, d.str, mf.len);

        if (*descriptor == NULL) {
            oci_admin_warn("out of memory");
            rx->errors++;
            found = -1;
        }
    }

    oci_admin_manifest_free(&mf);

    if (found < 0) {
        return OCI_ADMIN_ERROR;
    }

    return found ? OCI_ADMIN_VALID : OCI_ADMIN_INVALID;
}


/* OCI_ADMIN_OK if the manifest and its media type are there */

static int
oci_admin_reindex_stored(oci_admin_repo_t *repo, const char *p, size_t len)
{
    int                 n;
    char                path[OCI_ADMIN_PATH_LEN];
    struct stat         st;
    oci_admin_digest_t  d;

    if (oci_admin_digest_set(&d, p, len) != 0) {
        return OCI_ADMIN_MISSING;
    }

    n = snprintf(path, sizeof(path), "%s/_manifests/%s/%s.type", repo->path,
                 oci_admin_digest_alg(&d), oci_admin_digest_hex(&d));

    if (n < 0 || (size_t) n >= sizeof(path)) {
        return OCI_ADMIN_ERROR;
    }

    if (stat(path, &st) == -1) {
        return OCI_ADMIN_MISSING;
    }

    path[n - (sizeof(".type") - 1)] = '\0';

    if (stat(path, &st) == -1) {
        return OCI_ADMIN_MISSING;
    }

    return OCI_ADMIN_OK;
}


/*
 * The index keys of pairs the walk did not see: a repository gone, a
 * subject no stored manifest refers to any more.
 */

int
oci_admin_reindex_scan(oci_admin_reindex_t *rx)
{
    int                rc;
    char              *pattern, *q, cursor[32];
    size_t             i, k, ng, len;
    const char        *argv[6];
    size_t             argvlen[6];
    redisReply        *reply, *keys;
    oci_admin_repo_t  *repos;
    oci_admin_group_t  groups[OCI_ADMIN_GROUPS];

    /* the prefix matches itself only: glob characters are escaped */

    pattern = malloc(2 * rx->opt.prefix_len + 3);
    repos = malloc(OCI_ADMIN_GROUPS * sizeof(oci_admin_repo_t));

    if (pattern == NULL || repos == NULL) {
        free(pattern);
        free(repos);
        oci_admin_warn("out of memory");
        return OCI_ADMIN_ABORT;
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

    strcpy(cursor, "0");
    rc = OCI_ADMIN_OK;

    do {
        argv[0] = "SCAN";
        argvlen[0] = 4;
        argv[1] = cursor;
        argvlen[1] = strlen(cursor);
        argv[2] = "MATCH";
        argvlen[2] = 5;
        argv[3] = pattern;
        argvlen[3] = q - pattern;
        argv[4] = "COUNT";
        argvlen[4] = 5;
        argv[5] = OCI_ADMIN_SCAN_COUNT;
        argvlen[5] = sizeof(OCI_ADMIN_SCAN_COUNT) - 1;

        reply = oci_admin_redis_command(&rx->redis, 6, argv, argvlen);
        if (reply == NULL) {
            rx->redis_failed = 1;
            rc = OCI_ADMIN_ABORT;
            break;
        }

        if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2
            || reply->element[0]->type != REDIS_REPLY_STRING
            || reply->element[0]->len >= sizeof(cursor)
            || reply->element[1]->type != REDIS_REPLY_ARRAY)
        {
            oci_admin_warn("Redis: SCAN: %s",
                           reply->type == REDIS_REPLY_ERROR
                           ? reply->str : "unexpected reply");
            freeReplyObject(reply);
            rx->redis_failed = 1;
            rc = OCI_ADMIN_ABORT;
            break;
        }

        memcpy(cursor, reply->element[0]->str, reply->element[0]->len);
        cursor[reply->element[0]->len] = '\0';

        keys = reply->element[1];
        ng = 0;

        for (k = 0; rc == OCI_ADMIN_OK && k < keys->elements; k++) {
            if (keys->element[k]->type != REDIS_REPLY_STRING) {
                continue;
            }

            memset(&groups[ng], 0, sizeof(oci_admin_group_t));
            groups[ng].repo = &repos[ng];

            len = keys->element[k]->len;

            switch (oci_admin_reindex_scan_key(rx, keys->element[k]->str,
                                               len, &groups[ng]))
            {
            case OCI_ADMIN_OK:
                break;

            case OCI_ADMIN_SKIP:
                continue;

            default:
                rc = OCI_ADMIN_ABORT;
                continue;
            }

            if (++ng == OCI_ADMIN_GROUPS) {
                rc = oci_admin_reindex_sync(rx, groups, ng);
                ng = 0;
            }
        }

        if (rc == OCI_ADMIN_OK && ng) {
            rc = oci_admin_reindex_sync(rx, groups, ng);
        }

        /* the subjects of the groups point into the reply */

        freeReplyObject(reply);

        oci_admin_reindex_progress(rx, 0);

    } while (rc == OCI_ADMIN_OK && strcmp(cursor, "0") != 0);

    free(pattern);
    free(repos);

    return rc;
}


/*
 * "<prefix>{<name>@<subject>}:refs" or ":desc" of a pair not synchronized
 * yet: OCI_ADMIN_OK with the group set up.  Keys of other suffixes are
 * not the index's; keys that do not parse are left alone with a warning.
 */

static int
oci_admin_reindex_scan_key(oci_admin_reindex_t *rx, const char *key,
    size_t len, oci_admin_group_t *g)
{
    const char  *p, *end, *at, *close, *suffix;

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

    if (!((size_t) (end - suffix) == sizeof(NGX_OCI_INDEX_REFS) - 1
          && memcmp(suffix, NGX_OCI_INDEX_REFS, end - suffix) == 0)
        && !((size_t) (end - suffix) == sizeof(NGX_OCI_INDEX_DESC) - 1
             && memcmp(suffix, NGX_OCI_INDEX_DESC, end - suffix) == 0))
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

    switch (oci_admin_set_add(&rx->done, p, close - p)) {

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

    ((char *) close)[0] = '\0';

    return OCI_ADMIN_OK;
}
