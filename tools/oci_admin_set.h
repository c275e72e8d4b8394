
/*
 * oci-admin: what a run has seen already, as open-addressing hash tables
 * at most half full: a set of strings, and a map of inodes.
 */


#ifndef _OCI_ADMIN_SET_H_INCLUDED_
#define _OCI_ADMIN_SET_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>


typedef struct {
    char      **slots;
    size_t      size;                       /* a power of two */
    size_t      count;
} oci_admin_set_t;

/* 1 added, 0 already there, -1 out of memory */
int oci_admin_set_add(oci_admin_set_t *s, const char *p, size_t len);
int oci_admin_set_has(oci_admin_set_t *s, const char *p, size_t len);
void oci_admin_set_free(oci_admin_set_t *s);


/* what a run knows of an inode: the meaning of a, b and n is the run's */

typedef struct {
    dev_t       dev;
    ino_t       ino;
    int64_t     a;
    int64_t     b;
    uint32_t    n;
    uint32_t    used;
} oci_admin_inode_t;

typedef struct {
    oci_admin_inode_t  *slots;
    size_t              size;           /* a power of two */
    size_t              count;
} oci_admin_imap_t;

/* the entry, NULL if absent; with "create", NULL means out of memory */
oci_admin_inode_t *oci_admin_imap_get(oci_admin_imap_t *m, dev_t dev,
    ino_t ino, int create);
void oci_admin_imap_free(oci_admin_imap_t *m);


#endif /* _OCI_ADMIN_SET_H_INCLUDED_ */
