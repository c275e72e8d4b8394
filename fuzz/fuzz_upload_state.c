
/*
 * ngx_oci_upload_state_decode() on arbitrary bytes: whatever it accepts
 * has a valid name inside the input, a hash that counts its offset, and
 * encodes back to exactly the same bytes.
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_oci_upload_state.h"


int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    u_char                  buf[NGX_OCI_UPLOAD_STATE_MAX];
    size_t                  len;
    ngx_oci_upload_state_t  st;

    if (ngx_oci_upload_state_decode(data, size, &st) != 0) {
        return 0;
    }

    if (st.name < data || st.name + st.name_len > data + size
        || !ngx_oci_name_valid(st.name, st.name_len)
        || st.sha.total != st.offset)
    {
        abort();
    }

    len = ngx_oci_upload_state_encode(buf, st.offset, st.name, st.name_len,
                                      &st.sha);

    if (len != size || memcmp(buf, data, size) != 0) {
        abort();
    }

    return 0;
}
