
/*
 * oci-admin reindex, the Redis side: each (repository, subject) pair's
 * keys are compared with the entries the walk found and corrected in one
 * MULTI ... EXEC; members the walk did not find are judged on what the
 * disk holds when they are met.  The sets per artifactType are made to
 * hold exactly the members whose descriptor, once corrected, names that
 * type.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_oci_index_schema.h"
#include "oci_admin_message.h"
#include "oci_admin_referrers.h"
#include "oci_admin_reindex_sync.h"


/* a member of what Redis holds: a digest with its score or descriptor */

typedef struct {
    const char           *str;
    size_t                len;
    const char           *value;
    size_t                value_len;
} oci_admin_member_t;


/* a pair being synchronized: what Redis holds, the changes it needs */

typedef struct {
    oci_admin_member_t   *zm;
    size_t                zn;
    oci_admin_member_t   *hm;
    size_t                hn;
    oci_admin_change_t    ch;
    char                **made;         /* descriptors ch refers to */
    size_t                nmade;
} oci_admin_pair_t;


static int oci_admin_reindex_sync(oci_admin_reindex_t *rx,
    oci_admin_group_t *g, size_t n);
static int oci_admin_reindex_read(oci_admin_reindex_t *rx,
    oci_admin_group_t *g, size_t n);
static int oci_admin_reindex_zrange(oci_admin_reindex_t *rx,
    const char *key, size_t len);
static void oci_admin_reindex_done(oci_admin_reindex_t *rx,
    oci_admin_group_t *g, int *rc);
static int oci_admin_reindex_group(oci_admin_reindex_t *rx,
    oci_admin_group_t *g);
static int oci_admin_pair_init(oci_admin_pair_t *p, oci_admin_group_t *g);
static void oci_admin_pair_free(oci_admin_pair_t *p);
static int oci_admin_pair_found(oci_admin_reindex_t *rx,
    oci_admin_group_t *g, oci_admin_pair_t *p);
static int oci_admin_pair_extra(oci_admin_reindex_t *rx,
    oci_admin_group_t *g, oci_admin_pair_t *p, oci_admin_member_t *m);
static int oci_admin_pair_set(oci_admin_pair_t *p, oci_admin_member_t *key,
    const char *descriptor);
static int oci_admin_member_right(oci_admin_member_t *z,
    oci_admin_member_t *h, const char *descriptor);
static int oci_admin_members(redisReply *r, const char *key,
    oci_admin_member_t **out, size_t *n);
static int oci_admin_member_cmp(const void *a, const void *b);
static oci_admin_member_t *oci_admin_member_find(oci_admin_member_t *m,
    size_t n, oci_admin_member_t *key);
static oci_admin_referrer_t *oci_admin_referrer_find(
    oci_admin_referrer_t *e, size_t n, oci_admin_member_t *key);
static int oci_admin_referrer_cmp(const void *key, const void *e);
static int oci_admin_reindex_types(oci_admin_group_t *g);
static int oci_admin_typeset_add(oci_admin_group_t *g, const char *desc,
    size_t len);
static int oci_admin_typeset_new(oci_admin_group_t *g, char *type,
    size_t len);
static int oci_admin_pair_types(oci_admin_reindex_t *rx,
    oci_admin_group_t *g, oci_admin_pair_t *p);
static int oci_admin_pair_typeset(oci_admin_reindex_t *rx,
    oci_admin_group_t *g, oci_admin_pair_t *p, oci_admin_member_t *f,
    size_t nf, oci_admin_member_t *sets, size_t ns, oci_admin_member_t *dels,
    size_t nd, oci_admin_typeset_t *t);
static int oci_admin_reindex_evaluate(oci_admin_reindex_t *rx,
    oci_admin_repo_t *repo, const char *subject, const char *p, size_t len,
    char **descriptor);


oci_admin_group_t *
oci_admin_batch_next(oci_admin_batch_t *b)
{
    memset(&b->g[b->n], 0, sizeof(oci_admin_group_t));

    return &b->g[b->n];
}


int
oci_admin_batch_add(oci_admin_reindex_t *rx, oci_admin_batch_t *b)
{
    if (++b->n < OCI_ADMIN_GROUPS) {
        return OCI_ADMIN_OK;
    }

    return oci_admin_batch_flush(rx, b);
}


int
oci_admin_batch_flush(oci_admin_reindex_t *rx, oci_admin_batch_t *b)
{
    int  rc;

    rc = b->n ? oci_admin_reindex_sync(rx, b->g, b->n) : OCI_ADMIN_OK;

    b->n = 0;

    return rc;
}


static int
oci_admin_reindex_sync(oci_admin_reindex_t *rx, oci_admin_group_t *g,
    size_t n)
{
    int     rc;
    size_t  i;

    rc = oci_admin_reindex_read(rx, g, n);

    for (i = 0; rc == OCI_ADMIN_OK && i < n; i++) {
        rc = oci_admin_reindex_group(rx, &g[i]);
    }

    for (i = 0; i < n; i++) {
        oci_admin_reindex_done(rx, &g[i], &rc);
    }

    return rc;
}


/* the keys of the pairs, then what Redis holds there, in one round trip */

static int
oci_admin_reindex_read(oci_admin_reindex_t *rx, oci_admin_group_t *g,
    size_t n)
{
    size_t       i, j;
    const char  *argv[2];
    size_t       argvlen[2];

    for (i = 0; i < n; i++) {
        if (oci_admin_keys_init(&g[i].keys, rx->opt.prefix,
                                rx->opt.prefix_len, g[i].repo->name,
                                g[i].repo->name_len, g[i].subject)
            != 0)
        {
            return OCI_ADMIN_ABORT;
        }

        if (oci_admin_reindex_zrange(rx, g[i].keys.refs,
                                     g[i].keys.refs_len)
            != 0)
        {
            goto failed;
        }

        argv[0] = "HGETALL";
        argvlen[0] = 7;
        argv[1] = g[i].keys.desc;
        argvlen[1] = g[i].keys.desc_len;

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

    /* then the sets of the artifact types they name, in another */

    for (i = 0; i < n; i++) {
        if (oci_admin_reindex_types(&g[i]) != 0) {
            oci_admin_warn("out of memory");
            return OCI_ADMIN_ABORT;
        }

        for (j = 0; j < g[i].ntypes; j++) {
            if (oci_admin_reindex_zrange(rx, g[i].types[j].key,
                                         g[i].types[j].key_len)
                != 0)
            {
                goto failed;
            }
        }
    }

    for (i = 0; i < n; i++) {
        for (j = 0; j < g[i].ntypes; j++) {
            g[i].types[j].zset = oci_admin_redis_reply(&rx->redis);
            if (g[i].types[j].zset == NULL) {
                goto failed;
            }
        }
    }

    return OCI_ADMIN_OK;

failed:

    rx->redis_failed = 1;

    return OCI_ADMIN_ABORT;
}


/* a sorted set whole, with its scores: its reply is read later */

static int
oci_admin_reindex_zrange(oci_admin_reindex_t *rx, const char *key,
    size_t len)
{
    const char  *argv[5] = { "ZRANGE", key, "0", "-1", "WITHSCORES" };
    size_t       argvlen[5] = { 6, len, 1, 2, 10 };

    return oci_admin_redis_append(&rx->redis, 5, argv, argvlen);
}


/* the pair is synchronized, or given up: it is not looked at again */

static void
oci_admin_reindex_done(oci_admin_reindex_t *rx, oci_admin_group_t *g,
    int *rc)
{
    int     len;
    size_t  i;
    char  pair[NGX_OCI_NAME_MAX_LEN + 1 + OCI_ADMIN_DIGEST_LEN + 1];

    len = snprintf(pair, sizeof(pair), "%s@%s", g->repo->name, g->subject);

    if (len < 0 || (size_t) len >= sizeof(pair)
        || oci_admin_set_add(&rx->done, pair, len) < 0)
    {
        oci_admin_warn("out of memory");
        *rc = OCI_ADMIN_ABORT;
    }

    /* "<name>@<subject>}:type:<type>": SCAN need not find the set again */

    for (i = 0; i < g->ntypes; i++) {
        if (oci_admin_set_add(&rx->done,
                              g->types[i].key + rx->opt.prefix_len + 1,
                              g->types[i].key_len - rx->opt.prefix_len - 1)
            < 0)
        {
            oci_admin_warn("out of memory");
            *rc = OCI_ADMIN_ABORT;
        }
    }

    if (g->zset) {
        freeReplyObject(g->zset);
    }

    if (g->hash) {
        freeReplyObject(g->hash);
    }

    for (i = 0; i < g->ntypes; i++) {
        if (g->types[i].zset) {
            freeReplyObject(g->types[i].zset);
        }

        free(g->types[i].type);
        free(g->types[i].key);
    }

    free(g->types);

    oci_admin_keys_free(&g->keys);

    g->zset = NULL;
    g->hash = NULL;
    g->types = NULL;
    g->ntypes = 0;
}


/*
 * The artifact types of the entries the pair must hold and of the
 * descriptors it holds, each once, with their keys: 0, or -1 out of
 * memory
 */

static int
oci_admin_reindex_types(oci_admin_group_t *g)
{
    char        *type;
    size_t       i;
    redisReply  *h;

    for (i = 0; i < g->n; i++) {
        if (oci_admin_typeset_add(g, g->entries[i].descriptor,
                                  strlen(g->entries[i].descriptor))
            != 0)
        {
            return -1;
        }
    }

    if (g->scan_type) {
        type = malloc(g->scan_type_len + 1);

        if (type == NULL) {
            return -1;
        }

        memcpy(type, g->scan_type, g->scan_type_len);

        if (oci_admin_typeset_new(g, type, g->scan_type_len) != 0) {
            return -1;
        }
    }

    h = g->hash;

    for (i = 1; h->type == REDIS_REPLY_ARRAY && i < h->elements; i += 2) {
        if (h->element[i]->type == REDIS_REPLY_STRING
            && oci_admin_typeset_add(g, h->element[i]->str,
                                     h->element[i]->len)
               != 0)
        {
            return -1;
        }
    }

    return 0;
}


static int
oci_admin_typeset_add(oci_admin_group_t *g, const char *desc, size_t len)
{
    int      rc;
    char    *type;
    size_t   tlen;

    rc = ngx_oci_index_artifact_type(desc, len, &type, &tlen);

    if (rc <= 0) {
        return rc;
    }

    return oci_admin_typeset_new(g, type, tlen);
}


/* a type (malloc()ed, taken over) unless the group has it: 0, or -1 */

static int
oci_admin_typeset_new(oci_admin_group_t *g, char *type, size_t tlen)
{
    size_t                i;
    oci_admin_typeset_t  *t;

    for (i = 0; i < g->ntypes; i++) {
        if (g->types[i].len == tlen
            && memcmp(g->types[i].type, type, tlen) == 0)
        {
            free(type);
            return 0;
        }
    }

    /* few types per pair: one more each time is enough */

    t = realloc(g->types, (g->ntypes + 1) * sizeof(oci_admin_typeset_t));
    if (t == NULL) {
        free(type);
        return -1;
    }

    g->types = t;
    t = &g->types[g->ntypes];

    t->type = type;
    t->len = tlen;
    t->zset = NULL;
    t->key = oci_admin_type_key(&g->keys, type, tlen, &t->key_len);

    if (t->key == NULL) {
        free(type);
        return -1;
    }

    g->ntypes++;

    return 0;
}


/*
 * Compares one pair's keys with what it must hold and queues the changes
 * in one MULTI ... EXEC.  Members of the keys that the walk did not find
 * are judged on what the disk holds now, each once.
 */

static int
oci_admin_reindex_group(oci_admin_reindex_t *rx, oci_admin_group_t *g)
{
    int                rc;
    size_t             i;
    oci_admin_pair_t   p;

    rc = oci_admin_pair_init(&p, g);

    if (rc == OCI_ADMIN_SKIP) {
        /* a key of another type: leave the pair alone */
        rx->errors++;
        oci_admin_pair_free(&p);
        return OCI_ADMIN_OK;
    }

    if (rc == OCI_ADMIN_OK) {
        rc = oci_admin_pair_found(rx, g, &p);
    }

    for (i = 0; rc == OCI_ADMIN_OK && i < p.zn; i++) {
        if (!oci_admin_referrer_find(g->entries, g->n, &p.zm[i])) {
            rc = oci_admin_pair_extra(rx, g, &p, &p.zm[i]);
        }
    }

    for (i = 0; rc == OCI_ADMIN_OK && i < p.hn; i++) {
        if (!oci_admin_referrer_find(g->entries, g->n, &p.hm[i])
            && !oci_admin_member_find(p.zm, p.zn, &p.hm[i]))
        {
            rc = oci_admin_pair_extra(rx, g, &p, &p.hm[i]);
        }
    }

    if (rc == OCI_ADMIN_OK) {
        rc = oci_admin_pair_types(rx, g, &p);
    }

    if (rc != OCI_ADMIN_OK) {
        oci_admin_warn("out of memory");

    } else if (!rx->dry_run
               && oci_admin_change_write(&rx->redis, &p.ch) != 0)
    {
        rx->redis_failed = 1;
        rc = OCI_ADMIN_ERROR;
    }

    oci_admin_pair_free(&p);

    return rc == OCI_ADMIN_OK ? OCI_ADMIN_OK : OCI_ADMIN_ABORT;
}


/*
 * What Redis holds, and the changes started: OCI_ADMIN_OK, OCI_ADMIN_SKIP
 * after a message when a reply is not what the index holds, or
 * OCI_ADMIN_ERROR out of memory
 */

static int
oci_admin_pair_init(oci_admin_pair_t *p, oci_admin_group_t *g)
{
    memset(p, 0, sizeof(oci_admin_pair_t));

    if (oci_admin_members(g->zset, g->keys.refs, &p->zm, &p->zn) != 0
        || oci_admin_members(g->hash, g->keys.desc, &p->hm, &p->hn) != 0)
    {
        return OCI_ADMIN_SKIP;
    }

    p->made = malloc((p->zn + p->hn + 1) * sizeof(char *));

    if (p->made == NULL || oci_admin_change_init(&p->ch, &g->keys) != 0) {
        return OCI_ADMIN_ERROR;
    }

    return OCI_ADMIN_OK;
}


static void
oci_admin_pair_free(oci_admin_pair_t *p)
{
    size_t  i;

    for (i = 0; i < p->nmade; i++) {
        free(p->made[i]);
    }

    free(p->made);
    free(p->zm);
    free(p->hm);

    oci_admin_change_free(&p->ch);
}


/* what the walk found: OCI_ADMIN_OK, or OCI_ADMIN_ERROR out of memory */

static int
oci_admin_pair_found(oci_admin_reindex_t *rx, oci_admin_group_t *g,
    oci_admin_pair_t *p)
{
    size_t                 i;
    oci_admin_digest_t     d;
    oci_admin_member_t     key, *z, *h;
    oci_admin_referrer_t  *e;

    for (i = 0; i < g->n; i++) {
        e = &g->entries[i];

        key.str = e->digest;
        key.len = strlen(e->digest);

        z = oci_admin_member_find(p->zm, p->zn, &key);
        h = oci_admin_member_find(p->hm, p->hn, &key);

        if (oci_admin_member_right(z, h, e->descriptor)) {
            continue;
        }

        /* deleted since the walk saw it? */

        if (oci_admin_digest_set(&d, key.str, key.len) != 0
            || !oci_admin_manifest_stored(g->repo, &d))
        {
            continue;
        }

        if (z == NULL && h == NULL) {
            rx->added++;

        } else {
            rx->rewritten++;
        }

        if (oci_admin_pair_set(p, &key, e->descriptor) != 0) {
            return OCI_ADMIN_ERROR;
        }
    }

    return OCI_ADMIN_OK;
}


/*
 * A member of either key the walk did not find: removed, unless it turns
 * out to be a referrer now (pushed since the walk, or being pushed), when
 * it is kept and made right.  OCI_ADMIN_OK, or OCI_ADMIN_ERROR out of
 * memory.
 */

static int
oci_admin_pair_extra(oci_admin_reindex_t *rx, oci_admin_group_t *g,
    oci_admin_pair_t *p, oci_admin_member_t *m)
{
    int                  ok;
    char                *descriptor;
    oci_admin_member_t  *z, *h;

    z = oci_admin_member_find(p->zm, p->zn, m);
    h = oci_admin_member_find(p->hm, p->hn, m);

    ok = oci_admin_reindex_evaluate(rx, g->repo, g->subject, m->str, m->len,
                                    &descriptor);

    if (ok == OCI_ADMIN_ERROR) {
        return OCI_ADMIN_OK;
    }

    if (ok == OCI_ADMIN_MISSING) {
        rx->removed++;

        if ((z && oci_admin_cmd_push(&p->ch.zrem, z->str, z->len) != 0)
            || (h && oci_admin_cmd_push(&p->ch.hdel, h->str, h->len) != 0))
        {
            return OCI_ADMIN_ERROR;
        }

        return OCI_ADMIN_OK;
    }

    p->made[p->nmade++] = descriptor;

    if (oci_admin_member_right(z, h, descriptor)) {
        return OCI_ADMIN_OK;
    }

    rx->rewritten++;

    return oci_admin_pair_set(p, m, descriptor) == 0 ? OCI_ADMIN_OK
                                                     : OCI_ADMIN_ERROR;
}


/*
 * The sets per artifactType after the changes queued: each holds the
 * members whose descriptor will name its type.  A member corrected only
 * there counts as rewritten, one in a set without a descriptor as
 * removed.  OCI_ADMIN_OK, or OCI_ADMIN_ERROR out of memory.
 */

static int
oci_admin_pair_types(oci_admin_reindex_t *rx, oci_admin_group_t *g,
    oci_admin_pair_t *p)
{
    int                  rc;
    size_t               i, nf, ns, nd;
    oci_admin_cmd_t     *hset, *hdel;
    oci_admin_member_t  *f, *sets, *dels, key;

    hset = &p->ch.hset;
    hdel = &p->ch.hdel;

    ns = (hset->argc - 2) / 2;
    nd = hdel->argc - 2;

    f = malloc((ns + p->hn + 1) * sizeof(oci_admin_member_t));
    sets = malloc((ns + 1) * sizeof(oci_admin_member_t));
    dels = malloc((nd + 1) * sizeof(oci_admin_member_t));

    rc = OCI_ADMIN_ERROR;

    if (f == NULL || sets == NULL || dels == NULL) {
        goto done;
    }

    /* the descriptors to be set, the members to be deleted, sorted */

    for (i = 0; i < ns; i++) {
        sets[i].str = hset->argv[2 + 2 * i];
        sets[i].len = hset->len[2 + 2 * i];
        sets[i].value = hset->argv[3 + 2 * i];
        sets[i].value_len = hset->len[3 + 2 * i];
    }

    for (i = 0; i < nd; i++) {
        dels[i].str = hdel->argv[2 + i];
        dels[i].len = hdel->len[2 + i];
        dels[i].value = NULL;
        dels[i].value_len = 0;
    }

    if (ns) {
        qsort(sets, ns, sizeof(oci_admin_member_t), oci_admin_member_cmp);
    }

    if (nd) {
        qsort(dels, nd, sizeof(oci_admin_member_t), oci_admin_member_cmp);
    }

    /* every member with the descriptor it will have */

    memcpy(f, sets, ns * sizeof(oci_admin_member_t));
    nf = ns;

    for (i = 0; i < p->hn; i++) {
        key = p->hm[i];

        if (!oci_admin_member_find(sets, ns, &key)
            && !oci_admin_member_find(dels, nd, &key))
        {
            f[nf++] = key;
        }
    }

    if (nf) {
        qsort(f, nf, sizeof(oci_admin_member_t), oci_admin_member_cmp);
    }

    rc = OCI_ADMIN_OK;

    for (i = 0; rc == OCI_ADMIN_OK && i < g->ntypes; i++) {
        rc = oci_admin_pair_typeset(rx, g, p, f, nf, sets, ns, dels, nd,
                                    &g->types[i]);
    }

done:

    free(f);
    free(sets);
    free(dels);

    return rc;
}


static int
oci_admin_pair_typeset(oci_admin_reindex_t *rx, oci_admin_group_t *g,
    oci_admin_pair_t *p, oci_admin_member_t *f, size_t nf,
    oci_admin_member_t *sets, size_t ns, oci_admin_member_t *dels,
    size_t nd, oci_admin_typeset_t *t)
{
    int                       has, rc;
    char                     *type, *key;
    size_t                    i, n, cn, tlen, klen;
    oci_admin_member_t       *cm, *c, *want;
    oci_admin_type_change_t  *tc;

    if (oci_admin_members(t->zset, t->key, &cm, &cn) != 0) {
        rx->errors++;
        return OCI_ADMIN_OK;
    }

    rc = OCI_ADMIN_ERROR;
    n = 0;

    want = malloc((nf + 1) * sizeof(oci_admin_member_t));
    key = oci_admin_type_key(&g->keys, t->type, t->len, &klen);
    tc = key ? oci_admin_change_type(&p->ch, key, klen) : NULL;

    if (want == NULL || tc == NULL) {
        goto done;
    }

    /* the members that must be in the set, in order */

    for (i = 0; i < nf; i++) {
        has = ngx_oci_index_artifact_type(f[i].value, f[i].value_len, &type,
                                          &tlen);
        if (has < 0) {
            goto done;
        }

        if (has && tlen == t->len && memcmp(type, t->type, tlen) == 0) {
            want[n++] = f[i];
        }

        free(type);
    }

    for (i = 0; i < n; i++) {
        c = oci_admin_member_find(cm, cn, &want[i]);

        if (c && c->value_len == 1 && c->value[0] == '0') {
            continue;
        }

        if (oci_admin_cmd_push(&tc->zadd, "0", 1) != 0
            || oci_admin_cmd_push(&tc->zadd, want[i].str, want[i].len) != 0)
        {
            goto done;
        }

        /* an entry otherwise right: its set was wrong */

        rx->rewritten += !oci_admin_member_find(sets, ns, &want[i]);
    }

    for (i = 0; i < cn; i++) {
        if (oci_admin_member_find(want, n, &cm[i])) {
            continue;
        }

        if (oci_admin_cmd_push(&tc->zrem, cm[i].str, cm[i].len) != 0) {
            goto done;
        }

        /* counted already when the entry changes anyway */

        if (oci_admin_member_find(dels, nd, &cm[i])
            || oci_admin_member_find(sets, ns, &cm[i]))
        {
            continue;
        }

        if (oci_admin_member_find(f, nf, &cm[i])) {
            rx->rewritten++;

        } else {
            rx->removed++;
        }
    }

    rc = OCI_ADMIN_OK;

done:

    free(want);
    free(cm);

    return rc;
}


/* queues what makes the member right; 0, or -1 out of memory */

static int
oci_admin_pair_set(oci_admin_pair_t *p, oci_admin_member_t *key,
    const char *descriptor)
{
    size_t               dlen;
    oci_admin_member_t  *z, *h;

    z = oci_admin_member_find(p->zm, p->zn, key);
    h = oci_admin_member_find(p->hm, p->hn, key);

    if (!(z && z->value_len == 1 && z->value[0] == '0')) {
        if (oci_admin_cmd_push(&p->ch.zadd, "0", 1) != 0
            || oci_admin_cmd_push(&p->ch.zadd, key->str, key->len) != 0)
        {
            return -1;
        }
    }

    dlen = strlen(descriptor);

    if (!(h && h->value_len == dlen
          && memcmp(h->value, descriptor, dlen) == 0))
    {
        if (oci_admin_cmd_push(&p->ch.hset, key->str, key->len) != 0
            || oci_admin_cmd_push(&p->ch.hset, descriptor, dlen) != 0)
        {
            return -1;
        }
    }

    return 0;
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


/*
 * The pairs of a ZRANGE WITHSCORES or HGETALL reply, sorted.  -1 after a
 * message when the reply is an error or not a list of pairs.
 */

static int
oci_admin_members(redisReply *r, const char *key, oci_admin_member_t **out,
    size_t *n)
{
    size_t               i;
    oci_admin_member_t  *m;

    *out = NULL;
    *n = 0;

    if (r->type == REDIS_REPLY_ERROR) {
        oci_admin_warn("key \"%s\": %s, left alone", key, r->str);
        return -1;
    }

    for (i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        if (r->element[i]->type != REDIS_REPLY_STRING) {
            break;
        }
    }

    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 || i < r->elements) {
        oci_admin_warn("key \"%s\": unexpected reply, left alone", key);
        return -1;
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


/* m is never NULL: oci_admin_members() allocates an element more */

static oci_admin_member_t *
oci_admin_member_find(oci_admin_member_t *m, size_t n,
    oci_admin_member_t *key)
{
    return bsearch(key, m, n, sizeof(oci_admin_member_t),
                   oci_admin_member_cmp);
}


/* entries are sorted by digest with strcmp(), the order of members */

static oci_admin_referrer_t *
oci_admin_referrer_find(oci_admin_referrer_t *e, size_t n,
    oci_admin_member_t *key)
{
    return n ? bsearch(key, e, n, sizeof(oci_admin_referrer_t),
                       oci_admin_referrer_cmp)
             : NULL;
}


static int
oci_admin_referrer_cmp(const void *key, const void *e)
{
    oci_admin_member_t           m;
    const oci_admin_referrer_t  *r = e;

    m.str = r->digest;
    m.len = strlen(r->digest);

    return oci_admin_member_cmp(key, &m);
}


/*
 * Whether the manifest p is, on disk now, a referrer of the subject in
 * the repository: OCI_ADMIN_OK with its descriptor (malloc()ed),
 * OCI_ADMIN_MISSING, or OCI_ADMIN_ERROR when the disk could not tell.
 */

static int
oci_admin_reindex_evaluate(oci_admin_reindex_t *rx, oci_admin_repo_t *repo,
    const char *subject, const char *p, size_t len, char **descriptor)
{
    int                    rc;
    oci_admin_digest_t     d, s;
    oci_admin_manifest_t   mf;

    *descriptor = NULL;

    if (oci_admin_digest_set(&d, p, len) != 0
        || oci_admin_digest_set(&s, subject, strlen(subject)) != 0)
    {
        return OCI_ADMIN_MISSING;
    }

    rc = oci_admin_referrer_load(repo, &s, &d, &mf);

    if (rc == OCI_ADMIN_ERROR) {
        oci_admin_manifest_warn(repo, &d, "", mf.reason);
        rx->errors++;

    } else if (rc == OCI_ADMIN_OK) {
        *descriptor = ngx_oci_index_descriptor(&mf.m, d.str, mf.len);

        if (*descriptor == NULL) {
            oci_admin_warn("out of memory");
            rx->errors++;
            rc = OCI_ADMIN_ERROR;
        }
    }

    oci_admin_manifest_free(&mf);

    return rc;
}
