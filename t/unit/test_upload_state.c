
/*
 * ngx_oci_upload_state_encode() and _decode(): round trips (empty and
 * partial blocks, both algorithms, the longest name), the exact layout
 * of a known state, and every kind of corrupt file refused.
 */


#include <string.h>

#include "tap.h"
#include "ngx_oci_upload_state.h"


static size_t
make_state(u_char *buf, int alg, const char *name, size_t bytes)
{
    size_t          i;
    u_char          c;
    ngx_oci_sha2_t  sha;

    ngx_oci_sha2_init(&sha, alg);

    for (i = 0; i < bytes; i++) {
        c = (u_char) (i * 7);
        ngx_oci_sha2_update(&sha, &c, 1);
    }

    return ngx_oci_upload_state_encode(buf, bytes, (const u_char *) name,
                                       strlen(name), &sha);
}


static void
round_trip(int alg, const char *name, size_t bytes)
{
    u_char                  buf[NGX_OCI_UPLOAD_STATE_MAX];
    u_char                  md1[NGX_OCI_SHA2_MAX_SIZE];
    u_char                  md2[NGX_OCI_SHA2_MAX_SIZE];
    size_t                  len, i;
    u_char                  c;
    ngx_oci_sha2_t          sha;
    ngx_oci_upload_state_t  st;

    len = make_state(buf, alg, name, bytes);

    if (!tap_ok(len == NGX_OCI_UPLOAD_STATE_MIN + strlen(name),
                "alg %d, %zu bytes: encoded", alg, bytes))
    {
        return;
    }

    if (!tap_ok(ngx_oci_upload_state_decode(buf, len, &st) == 0
                && st.offset == bytes && st.sha.alg == alg
                && st.name_len == strlen(name)
                && memcmp(st.name, name, st.name_len) == 0,
                "alg %d, %zu bytes: decoded", alg, bytes))
    {
        return;
    }

    /* the decoded hash carries on where the encoded one stopped */

    ngx_oci_sha2_init(&sha, alg);

    for (i = 0; i < bytes + 3; i++) {
        c = (u_char) (i * 7);
        ngx_oci_sha2_update(&sha, &c, 1);

        if (i >= bytes) {
            ngx_oci_sha2_update(&st.sha, &c, 1);
        }
    }

    memset(md1, 0, sizeof(md1));
    memset(md2, 0, sizeof(md2));

    ngx_oci_sha2_final(&sha, md1);
    ngx_oci_sha2_final(&st.sha, md2);

    tap_ok(memcmp(md1, md2, NGX_OCI_SHA2_MAX_SIZE) == 0,
           "alg %d, %zu bytes: the hash resumes", alg, bytes);
}


int
main(void)
{
    u_char                  buf[NGX_OCI_UPLOAD_STATE_MAX + 1];
    u_char                  copy[NGX_OCI_UPLOAD_STATE_MAX + 1];
    char                    longname[NGX_OCI_NAME_MAX_LEN + 2];
    size_t                  len, i;
    ngx_oci_sha2_t          sha;
    ngx_oci_upload_state_t  st;

    round_trip(NGX_OCI_SHA256, "a", 0);
    round_trip(NGX_OCI_SHA256, "library/alpine", 63);
    round_trip(NGX_OCI_SHA256, "library/alpine", 64);
    round_trip(NGX_OCI_SHA512, "x/y-z", 127);
    round_trip(NGX_OCI_SHA512, "x/y-z", 1000);

    memset(longname, 'a', NGX_OCI_NAME_MAX_LEN);
    longname[NGX_OCI_NAME_MAX_LEN] = '\0';
    round_trip(NGX_OCI_SHA512, longname, 129);

    /* the layout, byte for byte */

    len = make_state(buf, NGX_OCI_SHA256, "ab", 0x0102);

    tap_ok(len == 8 + 8 + 2 + 2 + NGX_OCI_SHA2_STATE_SIZE
           && memcmp(buf, "OCIUPLD1", 8) == 0
           && memcmp(buf + 8, "\0\0\0\0\0\0\x01\x02", 8) == 0
           && memcmp(buf + 16, "\0\x02" "ab", 4) == 0,
           "magic, big-endian offset, name length and name");

    /* what encode refuses */

    ngx_oci_sha2_init(&sha, NGX_OCI_SHA256);

    longname[NGX_OCI_NAME_MAX_LEN] = 'a';
    longname[NGX_OCI_NAME_MAX_LEN + 1] = '\0';

    tap_ok(ngx_oci_upload_state_encode(buf, 0, (u_char *) longname,
                                       strlen(longname), &sha) == 0,
           "encode refuses a name one byte too long");
    tap_ok(ngx_oci_upload_state_encode(buf, 0, (u_char *) "A", 1, &sha) == 0,
           "encode refuses an invalid name");
    tap_ok(ngx_oci_upload_state_encode(buf, 5, (u_char *) "a", 1, &sha) == 0,
           "encode refuses an offset the hash did not count");

    /* what decode refuses */

    len = make_state(buf, NGX_OCI_SHA256, "repo", 100);

    tap_ok(ngx_oci_upload_state_decode(buf, len - 1, &st) == -1,
           "decode refuses a truncated state");
    tap_ok(ngx_oci_upload_state_decode(buf, 10, &st) == -1,
           "decode refuses a state shorter than its header");

    buf[len] = 0;
    tap_ok(ngx_oci_upload_state_decode(buf, len + 1, &st) == -1,
           "decode refuses a byte past the end");

    /* a name changed into another valid name cannot be told apart */

    for (i = 0; i < len; i++) {
        if (i >= 18 && i < 18 + 4) {
            continue;
        }

        memcpy(copy, buf, len);
        copy[i] ^= 0x01;

        if (ngx_oci_upload_state_decode(copy, len, &st) == 0) {
            break;
        }
    }

    tap_ok(i == len, "decode refuses a bit flipped in any byte but the "
           "name's (%zu of %zu)", i, len);

    memcpy(copy, buf, len);
    copy[16] = 0;
    copy[17] = 0;

    tap_ok(ngx_oci_upload_state_decode(copy, len - 4, &st) == -1,
           "decode refuses an empty name");

    memcpy(copy, buf, len);
    memset(copy + 8, 0xff, 8);

    tap_ok(ngx_oci_upload_state_decode(copy, len, &st) == -1,
           "decode refuses an offset past off_t");

    return tap_done();
}
