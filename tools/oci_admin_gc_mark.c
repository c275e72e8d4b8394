
/*
 * oci-admin gc: the mark (oci_admin_gc_mark.h).
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oci_admin_array.h"
#include "oci_admin_digests.h"
#include "oci_admin_gc_expire.h"
#include "oci_admin_gc_mark.h"
#include "oci_admin_manifest.h"
#include "oci_admin_message.h"
#include "oci_admin_walk.h"


/* a manifest of the repository being marked */

typedef struct {
    char                digest[OCI_ADMIN_DIGEST_LEN + 1];
    oci_admin_refs_t    refs;
    struct stat         st;
    int64_t             stamp;
    unsigned            keep:1;
} oci_gc_node_t;

/* a manifest with a subject, found by it */

typedef struct {
    const char         *subject;
    size_t              node;
} oci_gc_referrer_t;

typedef struct {
    oci_admin_gc_t     *gx;
    oci_admin_repo_t   *repo;

    oci_gc_node_t      *nodes;          /* sorted by digest */
    size_t              nnodes;
    size_t              nodes_size;

    size_t             *stack;          /* kept, to follow what they keep */
    size_t              top;
    oci_gc_referrer_t  *refs;           /* sorted by subject */
    size_t              nrefs;

    oci_gc_repo_t       r;              /* its candidates */
    oci_admin_set_t     blobs;          /* what kept manifests use */

    const char         *unsure;         /* why it is not collected */
    char                unsure_buf[OCI_ADMIN_PATH_LEN + 64];
} oci_gc_mark_t;


static int oci_admin_gc_mark_repo(oci_admin_walk_t *w,
    oci_admin_repo_t *repo);
static int oci_admin_gc_nodes(oci_gc_mark_t *m);
static int oci_admin_gc_node_file(void *data, oci_admin_file_t *f);
static int oci_admin_gc_node(oci_gc_mark_t *m, oci_admin_digest_t *d);
static void oci_admin_gc_nodes_free(oci_gc_mark_t *m);
static int oci_admin_gc_keep(oci_gc_mark_t *m);
static void oci_admin_gc_roots(oci_gc_mark_t *m);
static void oci_admin_gc_graces(oci_gc_mark_t *m);
static void oci_admin_gc_hold(oci_gc_mark_t *m, ssize_t k);
static void oci_admin_gc_closure(oci_gc_mark_t *m);
static ssize_t oci_admin_gc_find(oci_gc_mark_t *m, const char *digest);
static int oci_admin_gc_node_cmp(const void *digest, const void *node);
static int oci_admin_gc_referrer_cmp(const void *a, const void *b);
static int oci_admin_gc_candidates(oci_gc_mark_t *m);
static int oci_admin_gc_link_file(void *data, oci_admin_file_t *f);
static int oci_admin_gc_push(oci_admin_gc_t *gx, oci_gc_repo_t *r,
    const char *name);


int
oci_admin_gc_mark(oci_admin_gc_t *gx)
{
    int               rc;
    oci_gc_mark_t     m;
    oci_admin_walk_t  w;

    memset(&m, 0, sizeof(oci_gc_mark_t));
    memset(&w, 0, sizeof(oci_admin_walk_t));

    m.gx = gx;

    w.root = gx->opt.storage;
    w.data = &m;
    w.repo = oci_admin_gc_mark_repo;

    rc = oci_admin_walk(&w);

    gx->errors += w.errors;
    gx->invalid_names += w.invalid_names;

    oci_admin_gc_nodes_free(&m);
    free(m.nodes);

    return rc;
}


/* OCI_ADMIN_OK, or OCI_ADMIN_ABORT after a message (out of memory) */

static int
oci_admin_gc_mark_repo(oci_admin_walk_t *w, oci_admin_repo_t *repo)
{
    int             rc;
    oci_gc_mark_t  *m = w->data;

    m->repo = repo;
    m->unsure = NULL;

    m->gx->repositories++;

    if (m->gx->unpulled) {
        oci_admin_gc_expire_tags(m->gx, repo);
    }

    rc = oci_admin_gc_nodes(m);

    if (rc == OCI_ADMIN_OK) {
        rc = oci_admin_gc_keep(m);
    }

    if (rc == OCI_ADMIN_OK && m->unsure) {
        oci_admin_warn("%s: not collected: %s; \"oci-admin fsck\" tells "
                       "more", repo->path, m->unsure);
        m->gx->skipped++;

    } else if (rc == OCI_ADMIN_OK) {
        rc = oci_admin_gc_candidates(m);
    }

    oci_admin_gc_nodes_free(m);
    oci_admin_gc_progress(m->gx);

    return rc == OCI_ADMIN_OK ? OCI_ADMIN_OK : OCI_ADMIN_ABORT;
}


/*
 * The repository's manifests.  A manifest that cannot be read or parsed
 * leaves its references unknown: m->unsure is set and nothing of the
 * repository is collected.
 */

static int
oci_admin_gc_nodes(oci_gc_mark_t *m)
{
    int       rc;
    uint64_t  errors;

    errors = 0;

    rc = oci_admin_digests(m->gx->opt.storage, m->repo,
                           NGX_OCI_LAYOUT_MANIFESTS_DIR,
                           oci_admin_gc_node_file, m, &errors);

    if (errors) {
        m->gx->errors += errors;
        m->unsure = "its manifests cannot be listed";
    }

    m->gx->manifests += m->nnodes;

    return rc;
}


static int
oci_admin_gc_node_file(void *data, oci_admin_file_t *f)
{
    oci_gc_mark_t  *m = data;

    if (f->kind != OCI_ADMIN_FILE_DIGEST
        || oci_admin_gc_expired(m->gx, 1, m->repo->name, f->d.str))
    {
        return OCI_ADMIN_OK;
    }

    return oci_admin_gc_node(m, &f->d);
}


static int
oci_admin_gc_node(oci_gc_mark_t *m, oci_admin_digest_t *d)
{
    int                    rc;
    int64_t                t;
    oci_gc_node_t         *node;
    oci_admin_manifest_t   mf;

    rc = oci_admin_manifest_read(m->repo, d, &mf);

    if (rc == OCI_ADMIN_MISSING) {
        oci_admin_manifest_free(&mf);
        return OCI_ADMIN_OK;
    }

    if (rc != OCI_ADMIN_OK || !mf.hash_ok
        || mf.parse_rc != NGX_OCI_MANIFEST_OK)
    {
        snprintf(m->unsure_buf, sizeof(m->unsure_buf), "manifest %s is %s",
                 d->str, rc == OCI_ADMIN_ERROR ? "unreadable"
                         : rc == OCI_ADMIN_OK && mf.hash_ok ? "not valid"
                         : "corrupt");
        m->unsure = m->unsure_buf;
        m->gx->errors += (rc == OCI_ADMIN_ERROR);
        oci_admin_manifest_free(&mf);
        return OCI_ADMIN_OK;
    }

    node = oci_admin_array_room(m->nodes, m->nnodes, &m->nodes_size,
                                sizeof(oci_gc_node_t), 64);
    if (node == NULL) {
        goto nomem;
    }

    m->nodes = node;
    node = &m->nodes[m->nnodes];

    memset(node, 0, sizeof(oci_gc_node_t));

    if (oci_admin_refs_get(&mf.m, &node->refs) != 0) {
        goto nomem;
    }

    memcpy(node->digest, d->str, d->len + 1);
    node->st = mf.st;
    node->stamp = oci_admin_stamp(&mf.st);

    if (mf.type_rc != OCI_ADMIN_MISSING) {
        t = oci_admin_stamp(&mf.type_st);

        if (t > node->stamp) {
            node->stamp = t;
        }
    }

    m->nnodes++;

    oci_admin_manifest_free(&mf);

    return OCI_ADMIN_OK;

nomem:

    oci_admin_warn("out of memory");
    oci_admin_manifest_free(&mf);

    return OCI_ADMIN_ABORT;
}


static void
oci_admin_gc_nodes_free(oci_gc_mark_t *m)
{
    size_t  i;

    for (i = 0; i < m->nnodes; i++) {
        oci_admin_refs_free(&m->nodes[i].refs);
    }

    m->nnodes = 0;
}


/*
 * Which manifests are kept: the roots and what they keep, then what only
 * the graces keep, counted as such.  OCI_ADMIN_OK, or OCI_ADMIN_ABORT
 * after a message.
 */

static int
oci_admin_gc_keep(oci_gc_mark_t *m)
{
    size_t  i, n;

    n = m->nnodes;

    m->stack = malloc((n + 1) * sizeof(size_t));
    m->refs = malloc((n + 1) * sizeof(oci_gc_referrer_t));

    if (m->stack == NULL || m->refs == NULL) {
        free(m->stack);
        free(m->refs);
        oci_admin_warn("out of memory");
        return OCI_ADMIN_ABORT;
    }

    /* who refers to whom, by subject */

    m->top = 0;
    m->nrefs = 0;

    for (i = 0; i < n; i++) {
        if (m->nodes[i].refs.subject) {
            m->refs[m->nrefs].subject = m->nodes[i].refs.subject;
            m->refs[m->nrefs].node = i;
            m->nrefs++;
        }
    }

    if (m->nrefs) {
        qsort(m->refs, m->nrefs, sizeof(oci_gc_referrer_t),
              oci_admin_gc_referrer_cmp);
    }

    oci_admin_gc_roots(m);

    if (m->unsure == NULL) {
        oci_admin_gc_closure(m);
        oci_admin_gc_graces(m);
        oci_admin_gc_closure(m);
    }

    free(m->stack);
    free(m->refs);

    return OCI_ADMIN_OK;
}


/* the roots: tagged manifests, or without --untagged all of them */

static void
oci_admin_gc_roots(oci_gc_mark_t *m)
{
    int                 rc;
    size_t              i;
    oci_admin_ls_t      tags;
    oci_admin_digest_t  d;

    rc = oci_admin_tags_ls(m->repo, &tags);

    if (rc == OCI_ADMIN_ERROR) {
        m->unsure = "its tags cannot be read";
    }

    for (i = 0; m->unsure == NULL && i < tags.n; i++) {
        if (oci_admin_tag_kind(&tags.e[i], NULL) != OCI_ADMIN_TAG) {
            continue;
        }

        rc = oci_admin_tag_read(m->repo, tags.e[i].name, &d);

        if (rc == OCI_ADMIN_CORRUPT || rc == OCI_ADMIN_ERROR) {
            snprintf(m->unsure_buf, sizeof(m->unsure_buf), "tag \"%s\" "
                     "cannot be read or holds no digest", tags.e[i].name);
            m->unsure = m->unsure_buf;

        } else if (rc == OCI_ADMIN_OK) {
            oci_admin_gc_hold(m, oci_admin_gc_find(m, d.str));
        }
    }

    oci_admin_ls_free(&tags);

    for (i = 0; !m->gx->untagged && i < m->nnodes; i++) {
        oci_admin_gc_hold(m, i);
    }
}


/* the manifests only the graces keep */

static void
oci_admin_gc_graces(oci_gc_mark_t *m)
{
    size_t           i;
    oci_gc_node_t   *node;
    oci_admin_gc_t  *gx;

    gx = m->gx;

    for (i = 0; i < m->nnodes; i++) {
        node = &m->nodes[i];

        if (node->keep) {
            continue;
        }

        if (!oci_admin_gc_old(gx, node->stamp, gx->grace)) {
            gx->kept_young++;

        } else if (node->refs.subject
                   && oci_admin_gc_find(m, node->refs.subject) < 0
                   && !oci_admin_gc_old(gx, node->stamp, gx->orphan_grace))
        {
            gx->kept_orphans++;

        } else {
            continue;
        }

        oci_admin_gc_hold(m, i);
    }
}


/* the node k, if any, is kept: what it keeps is to be followed */

static void
oci_admin_gc_hold(oci_gc_mark_t *m, ssize_t k)
{
    if (k >= 0 && !m->nodes[k].keep) {
        m->nodes[k].keep = 1;
        m->stack[m->top++] = k;
    }
}


/* keeps what the kept nodes on the stack lead to */

static void
oci_admin_gc_closure(oci_gc_mark_t *m)
{
    size_t          i, lo, hi, mid;
    oci_gc_node_t  *node;

    while (m->top) {
        node = &m->nodes[m->stack[--m->top]];

        for (i = 0; i < node->refs.children.n; i++) {
            oci_admin_gc_hold(m, oci_admin_gc_find(m,
                                                   node->refs.children.s[i]));
        }

        /* the first referrer of this node, then all that follow */

        lo = 0;
        hi = m->nrefs;

        while (lo < hi) {
            mid = (lo + hi) / 2;

            if (strcmp(m->refs[mid].subject, node->digest) < 0) {
                lo = mid + 1;

            } else {
                hi = mid;
            }
        }

        for (i = lo;
             i < m->nrefs && strcmp(m->refs[i].subject, node->digest) == 0;
             i++)
        {
            oci_admin_gc_hold(m, m->refs[i].node);
        }
    }
}


static ssize_t
oci_admin_gc_find(oci_gc_mark_t *m, const char *digest)
{
    oci_gc_node_t  *node;

    if (m->nnodes == 0) {
        return -1;
    }

    node = bsearch(digest, m->nodes, m->nnodes, sizeof(oci_gc_node_t),
                   oci_admin_gc_node_cmp);

    return node ? node - m->nodes : -1;
}


static int
oci_admin_gc_node_cmp(const void *digest, const void *node)
{
    return strcmp(digest, ((const oci_gc_node_t *) node)->digest);
}


static int
oci_admin_gc_referrer_cmp(const void *a, const void *b)
{
    const oci_gc_referrer_t  *x = a, *y = b;

    return strcmp(x->subject, y->subject);
}


/* the manifests not kept and the links no kept manifest uses */

static int
oci_admin_gc_candidates(oci_gc_mark_t *m)
{
    int             rc;
    size_t          i, j;
    oci_gc_node_t  *node;

    memset(&m->r, 0, sizeof(oci_gc_repo_t));
    memset(&m->blobs, 0, sizeof(oci_admin_set_t));

    rc = OCI_ADMIN_OK;

    for (i = 0; rc == OCI_ADMIN_OK && i < m->nnodes; i++) {
        node = &m->nodes[i];

        if (!node->keep) {
            if (oci_admin_gc_cand_add(&m->r, 1, node->digest,
                                      node->refs.subject, &node->st,
                                      node->stamp)
                != 0)
            {
                rc = OCI_ADMIN_ERROR;
            }

            continue;
        }

        for (j = 0; rc == OCI_ADMIN_OK && j < node->refs.blobs.n; j++) {
            if (oci_admin_set_add(&m->blobs, node->refs.blobs.s[j],
                                  strlen(node->refs.blobs.s[j]))
                < 0)
            {
                rc = OCI_ADMIN_ERROR;
            }
        }
    }

    /* the repository's links to blobs that no kept manifest uses, if old */

    if (rc == OCI_ADMIN_OK) {
        rc = oci_admin_digests(m->gx->opt.storage, m->repo,
                               NGX_OCI_LAYOUT_REPO_BLOBS_DIR,
                               oci_admin_gc_link_file, m, &m->gx->errors);
    }

    oci_admin_set_free(&m->blobs);

    if (rc == OCI_ADMIN_OK) {
        rc = oci_admin_gc_push(m->gx, &m->r, m->repo->name);
    }

    if (rc != OCI_ADMIN_OK) {
        oci_admin_warn("out of memory");
        oci_admin_gc_repo_free(&m->r);
        return OCI_ADMIN_ABORT;
    }

    return OCI_ADMIN_OK;
}


static int
oci_admin_gc_link_file(void *data, oci_admin_file_t *f)
{
    int64_t          stamp;
    struct stat      st;
    oci_admin_gc_t  *gx;
    oci_gc_mark_t   *m = data;

    gx = m->gx;

    if (f->kind != OCI_ADMIN_FILE_DIGEST
        || oci_admin_gc_expired(gx, 0, m->repo->name, f->d.str))
    {
        return OCI_ADMIN_OK;
    }

    gx->blob_links++;

    if (oci_admin_set_has(&m->blobs, f->d.str, f->d.len)
        || lstat(f->path, &st) == -1)
    {
        return OCI_ADMIN_OK;
    }

    stamp = oci_admin_gc_stamp(gx, &st);

    if (!oci_admin_gc_old(gx, stamp, gx->grace)) {
        gx->kept_young++;
        return OCI_ADMIN_OK;
    }

    if (oci_admin_gc_cand_add(&m->r, 0, f->d.str, NULL, &st, stamp) != 0) {
        return OCI_ADMIN_ABORT;
    }

    return OCI_ADMIN_OK;
}


/* the repository's candidates, if any, for the sweep */

static int
oci_admin_gc_push(oci_admin_gc_t *gx, oci_gc_repo_t *r, const char *name)
{
    oci_gc_repo_t  *rs;

    if (r->nmanifests == 0 && r->nblobs == 0) {
        return OCI_ADMIN_OK;
    }

    rs = oci_admin_array_room(gx->repos, gx->nrepos, &gx->repos_size,
                              sizeof(oci_gc_repo_t), 16);
    if (rs == NULL) {
        return OCI_ADMIN_ERROR;
    }

    gx->repos = rs;

    r->name = strdup(name);
    if (r->name == NULL) {
        return OCI_ADMIN_ERROR;
    }

    gx->repos[gx->nrepos++] = *r;

    return OCI_ADMIN_OK;
}
