
/*
 * ngx_oci_route_parse() on arbitrary paths: whatever it accepts, the name
 * satisfies the grammar, and name and reference lie inside the input.
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_oci_route.h"
#include "ngx_oci_grammar.h"


int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    ngx_oci_route_t  rt;

    if (ngx_oci_route_parse(data, size, &rt) != NGX_OCI_ROUTE_OK) {
        return 0;
    }

    /* neither has a name */

    if (rt.endpoint == NGX_OCI_EP_BASE || rt.endpoint == NGX_OCI_EP_CATALOG) {
        return 0;
    }

    if (!ngx_oci_name_valid(rt.name, rt.name_len)
        || rt.name < data || rt.name + rt.name_len > data + size
        || (rt.ref_len && (rt.ref < data || rt.ref + rt.ref_len > data + size))
        || (rt.ref_len && memchr(rt.ref, '/', rt.ref_len) != NULL))
    {
        abort();
    }

    return 0;
}
