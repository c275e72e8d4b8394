
/*
 * oci-admin: a set of strings and a map of inodes (oci_admin_set.h).
 */


#include <stdlib.h>
#include <string.h>

#include "oci_admin_set.h"


static uint64_t oci_admin_set_hash(const char *p, size_t len);
static size_t oci_admin_set_slot(oci_admin_set_t *s, const char *p,
    size_t len);
static int oci_admin_set_grow(oci_admin_set_t *s);
static size_t oci_admin_imap_slot(oci_admin_imap_t *m, dev_t dev,
    ino_t ino);
static int oci_admin_imap_grow(oci_admin_imap_t *m);


int
oci_admin_set_add(oci_admin_set_t *s, const char *p, size_t len)
{
    char  *e;

    if (oci_admin_set_has(s, p, len)) {
        return 0;
    }

    if ((s->count + 1) * 2 > s->size && oci_admin_set_grow(s) != 0) {
        return -1;
    }

    e = malloc(len + 1);
    if (e == NULL) {
        return -1;
    }

    memcpy(e, p, len);
    e[len] = '\0';

    s->slots[oci_admin_set_slot(s, p, len)] = e;
    s->count++;

    return 1;
}


int
oci_admin_set_has(oci_admin_set_t *s, const char *p, size_t len)
{
    return s->size && s->slots[oci_admin_set_slot(s, p, len)] != NULL;
}


void
oci_admin_set_free(oci_admin_set_t *s)
{
    size_t  i;

    for (i = 0; i < s->size; i++) {
        free(s->slots[i]);
    }

    free(s->slots);

    s->slots = NULL;
    s->size = 0;
    s->count = 0;
}


static uint64_t
oci_admin_set_hash(const char *p, size_t len)
{
    size_t    i;
    uint64_t  h;

    /* FNV-1a */

    h = 0xcbf29ce484222325ULL;

    for (i = 0; i < len; i++) {
        h ^= (u_char) p[i];
        h *= 0x100000001b3ULL;
    }

    return h;
}


/* the slot of the string, or the empty slot where it would go */

static size_t
oci_admin_set_slot(oci_admin_set_t *s, const char *p, size_t len)
{
    char    *e;
    size_t   i, mask;

    mask = s->size - 1;

    for (i = oci_admin_set_hash(p, len) & mask; s->slots[i]; i = (i + 1) & mask)
    {
        e = s->slots[i];

        if (strncmp(e, p, len) == 0 && e[len] == '\0') {
            break;
        }
    }

    return i;
}


static int
oci_admin_set_grow(oci_admin_set_t *s)
{
    size_t            i;
    oci_admin_set_t   n;

    n.size = s->size ? s->size * 2 : 64;
    n.count = s->count;

    n.slots = calloc(n.size, sizeof(char *));
    if (n.slots == NULL) {
        return -1;
    }

    for (i = 0; i < s->size; i++) {
        if (s->slots[i]) {
            n.slots[oci_admin_set_slot(&n, s->slots[i], strlen(s->slots[i]))]
                = s->slots[i];
        }
    }

    free(s->slots);

    *s = n;

    return 0;
}


oci_admin_inode_t *
oci_admin_imap_get(oci_admin_imap_t *m, dev_t dev, ino_t ino, int create)
{
    oci_admin_inode_t  *e;

    if (m->size) {
        e = &m->slots[oci_admin_imap_slot(m, dev, ino)];

        if (e->used) {
            return e;
        }
    }

    if (!create) {
        return NULL;
    }

    if ((m->count + 1) * 2 > m->size && oci_admin_imap_grow(m) != 0) {
        return NULL;
    }

    e = &m->slots[oci_admin_imap_slot(m, dev, ino)];

    memset(e, 0, sizeof(oci_admin_inode_t));
    e->dev = dev;
    e->ino = ino;
    e->used = 1;

    m->count++;

    return e;
}


void
oci_admin_imap_free(oci_admin_imap_t *m)
{
    free(m->slots);

    m->slots = NULL;
    m->size = 0;
    m->count = 0;
}


/* the slot of the inode, or the empty slot where it would go */

static size_t
oci_admin_imap_slot(oci_admin_imap_t *m, dev_t dev, ino_t ino)
{
    size_t    i, mask;
    uint64_t  h;

    h = ((uint64_t) ino * 0x9e3779b97f4a7c15ULL) ^ (uint64_t) dev;
    mask = m->size - 1;

    for (i = h & mask; m->slots[i].used; i = (i + 1) & mask) {
        if (m->slots[i].ino == ino && m->slots[i].dev == dev) {
            break;
        }
    }

    return i;
}


static int
oci_admin_imap_grow(oci_admin_imap_t *m)
{
    size_t             i;
    oci_admin_imap_t   n;

    n.size = m->size ? m->size * 2 : 256;
    n.count = m->count;

    n.slots = calloc(n.size, sizeof(oci_admin_inode_t));
    if (n.slots == NULL) {
        return -1;
    }

    for (i = 0; i < m->size; i++) {
        if (m->slots[i].used) {
            n.slots[oci_admin_imap_slot(&n, m->slots[i].dev,
                                        m->slots[i].ino)]
                = m->slots[i];
        }
    }

    free(m->slots);

    *m = n;

    return 0;
}
