
/*
 * oci-admin: arrays that grow as a walk finds more, doubling.
 */


#ifndef _OCI_ADMIN_ARRAY_H_INCLUDED_
#define _OCI_ADMIN_ARRAY_H_INCLUDED_


#include <stddef.h>


/*
 * Room for the element a[n], a being an array of *nalloc elements of
 * "size" bytes: a, or a larger copy when it was full (nalloc updated, at
 * least "first" elements); NULL when out of memory, a being untouched
 */
void *oci_admin_array_room(void *a, size_t n, size_t *nalloc, size_t size,
    size_t first);


#endif /* _OCI_ADMIN_ARRAY_H_INCLUDED_ */
