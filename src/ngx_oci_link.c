
/*
 * Location and Link values, and quoted strings, that no byte of a
 * request or of storage can break out of: see ngx_oci_link.h.
 */


#include <string.h>

#include "ngx_oci_link.h"


static u_char *ngx_oci_link_put(u_char *dst, size_t *n, const char *s,
    size_t len);


static const char  ngx_oci_link_hex[] = "0123456789ABCDEF";


/*
 * Kept as they are: unreserved characters, and "/" and ":" that paths
 * and digests need.  Nothing here can end a header field, a <...> or a
 * quoted string, or start a parameter (",", ";", "=", "&" are encoded).
 */

static int
ngx_oci_link_safe(u_char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9')
           || c == '-' || c == '.' || c == '_' || c == '~'
           || c == '/' || c == ':';
}


size_t
ngx_oci_link_escape(u_char *dst, const u_char *src, size_t len)
{
    size_t  i, n;

    n = 0;

    for (i = 0; i < len; i++) {
        if (ngx_oci_link_safe(src[i])) {
            if (dst) {
                dst[n] = src[i];
            }

            n++;
            continue;
        }

        if (dst) {
            dst[n] = '%';
            dst[n + 1] = ngx_oci_link_hex[src[i] >> 4];
            dst[n + 2] = ngx_oci_link_hex[src[i] & 0x0f];
        }

        n += 3;
    }

    return n;
}


size_t
ngx_oci_link_uri(u_char *dst, const ngx_oci_link_str_t *path, size_t npath,
    const ngx_oci_link_param_t *params, size_t nparams)
{
    size_t  i, n;

    n = 0;

    for (i = 0; i < npath; i++) {
        n += ngx_oci_link_escape(dst ? dst + n : NULL, path[i].data,
                                 path[i].len);
    }

    for (i = 0; i < nparams; i++) {
        dst = ngx_oci_link_put(dst, &n, i == 0 ? "?" : "&", 1);

        n += ngx_oci_link_escape(dst ? dst + n : NULL, params[i].name.data,
                                 params[i].name.len);

        dst = ngx_oci_link_put(dst, &n, "=", 1);

        n += ngx_oci_link_escape(dst ? dst + n : NULL, params[i].value.data,
                                 params[i].value.len);
    }

    return n;
}


size_t
ngx_oci_link_header(u_char *dst, const ngx_oci_link_str_t *path,
    size_t npath, const ngx_oci_link_param_t *params, size_t nparams,
    const ngx_oci_link_str_t *rel)
{
    size_t  n;

    n = 0;

    dst = ngx_oci_link_put(dst, &n, "<", 1);
    n += ngx_oci_link_uri(dst ? dst + n : NULL, path, npath, params,
                          nparams);
    dst = ngx_oci_link_put(dst, &n, ">; rel=", 7);
    n += ngx_oci_link_quoted(dst ? dst + n : NULL, rel->data, rel->len);

    return n;
}


size_t
ngx_oci_link_quoted(u_char *dst, const u_char *src, size_t len)
{
    u_char  c, esc[3];
    size_t  i, n;

    n = 0;

    dst = ngx_oci_link_put(dst, &n, "\"", 1);

    for (i = 0; i < len; i++) {
        c = src[i];

        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = c;
            dst = ngx_oci_link_put(dst, &n, (char *) esc, 2);

        } else if (c < 0x20 || c > 0x7e || c == '%') {
            esc[0] = '%';
            esc[1] = ngx_oci_link_hex[c >> 4];
            esc[2] = ngx_oci_link_hex[c & 0x0f];
            dst = ngx_oci_link_put(dst, &n, (char *) esc, 3);

        } else {
            dst = ngx_oci_link_put(dst, &n, (char *) &c, 1);
        }
    }

    dst = ngx_oci_link_put(dst, &n, "\"", 1);

    return n;
}


/* appends len bytes at dst + *n (unless only counting); returns dst */

static u_char *
ngx_oci_link_put(u_char *dst, size_t *n, const char *s, size_t len)
{
    if (dst) {
        memcpy(dst + *n, s, len);
    }

    *n += len;

    return dst;
}
