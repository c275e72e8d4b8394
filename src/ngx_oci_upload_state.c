
/*
 * The upload state file, encoded and decoded (ngx_oci_upload_state.h).
 */


#include <string.h>

#include "ngx_oci_upload_state.h"


/* off_t is 64 bits (_FILE_OFFSET_BITS=64): a larger offset is corrupt */
#define NGX_OCI_UPLOAD_OFFSET_MAX  ((uint64_t) INT64_MAX)


size_t
ngx_oci_upload_state_encode(u_char *buf, uint64_t offset, const u_char *name,
    size_t name_len, const ngx_oci_sha2_t *sha)
{
    int      i;
    u_char  *p;

    if (!ngx_oci_name_valid(name, name_len)
        || offset > NGX_OCI_UPLOAD_OFFSET_MAX
        || sha->total != offset)
    {
        return 0;
    }

    p = buf;

    memcpy(p, NGX_OCI_UPLOAD_STATE_MAGIC, 8);
    p += 8;

    for (i = 7; i >= 0; i--) {
        p[i] = (u_char) (offset & 0xff);
        offset >>= 8;
    }

    p += 8;

    *p++ = (u_char) (name_len >> 8);
    *p++ = (u_char) (name_len & 0xff);

    memcpy(p, name, name_len);
    p += name_len;

    ngx_oci_sha2_save(sha, p);
    p += NGX_OCI_SHA2_STATE_SIZE;

    return (size_t) (p - buf);
}


int
ngx_oci_upload_state_decode(const u_char *p, size_t len,
    ngx_oci_upload_state_t *st)
{
    size_t  i, n;

    if (len < NGX_OCI_UPLOAD_STATE_MIN || len > NGX_OCI_UPLOAD_STATE_MAX
        || memcmp(p, NGX_OCI_UPLOAD_STATE_MAGIC, 8) != 0)
    {
        return -1;
    }

    p += 8;

    st->offset = 0;

    for (i = 0; i < 8; i++) {
        st->offset = (st->offset << 8) | *p++;
    }

    n = ((size_t) p[0] << 8) | p[1];
    p += 2;

    if (st->offset > NGX_OCI_UPLOAD_OFFSET_MAX
        || len != NGX_OCI_UPLOAD_STATE_MIN + n
        || !ngx_oci_name_valid(p, n))
    {
        return -1;
    }

    st->name = p;
    st->name_len = n;
    p += n;

    if (ngx_oci_sha2_load(&st->sha, p, NGX_OCI_SHA2_STATE_SIZE) != 0
        || st->sha.total != st->offset)
    {
        return -1;
    }

    return 0;
}
