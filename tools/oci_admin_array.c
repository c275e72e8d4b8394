
/*
 * oci-admin: growing arrays (oci_admin_array.h).
 */


#include <stdlib.h>

#include "oci_admin_array.h"


void *
oci_admin_array_room(void *a, size_t n, size_t *nalloc, size_t size,
    size_t first)
{
    size_t  grown;

    if (n < *nalloc) {
        return a;
    }

    grown = *nalloc ? *nalloc * 2 : first;

    a = realloc(a, grown * size);

    if (a != NULL) {
        *nalloc = grown;
    }

    return a;
}
