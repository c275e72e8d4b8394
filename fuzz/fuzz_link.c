
/*
 * libFuzzer harness for ngx_oci_link: the input, split at its first two
 * NUL bytes into a path part and two parameter values, goes through
 * every builder.  Each output must be exactly as long as counted, hold
 * no byte that could end the header field, the <...>, the quoted rel or
 * a parameter, and decode back to the input.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_oci_link.h"


static int
unhex(u_char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }

    abort();
}


/* checks an escaped value and decodes it back into dst */

static size_t
decode(u_char *dst, const u_char *p, size_t len)
{
    size_t  i, n;

    for (i = 0, n = 0; i < len; i++, n++) {
        if (p[i] < 0x21 || p[i] > 0x7e || strchr("\"<>,;=&?\\ ", p[i])) {
            abort();
        }

        if (p[i] == '%') {
            if (i + 2 >= len) {
                abort();
            }

            dst[n] = (u_char) (unhex(p[i + 1]) << 4 | unhex(p[i + 2]));
            i += 2;

        } else {
            dst[n] = p[i];
        }
    }

    return n;
}


static void
check_escape(const u_char *in, size_t len)
{
    u_char  *out, *back;
    size_t   n;

    n = ngx_oci_link_escape(NULL, in, len);
    out = malloc(n + 1);
    back = malloc(len + 1);

    if (out == NULL || back == NULL || ngx_oci_link_escape(out, in, len) != n
        || decode(back, out, n) != len || memcmp(back, in, len) != 0)
    {
        abort();
    }

    free(out);
    free(back);
}


static void
check_quoted(const u_char *in, size_t len)
{
    u_char  *out;
    size_t   i, n;

    n = ngx_oci_link_quoted(NULL, in, len);
    out = malloc(n);

    if (out == NULL || ngx_oci_link_quoted(out, in, len) != n || n < 2
        || out[0] != '"' || out[n - 1] != '"')
    {
        abort();
    }

    /* inside: printable bytes, a '"' or '\' only after a '\' */

    for (i = 1; i < n - 1; i++) {
        if (out[i] < 0x20 || out[i] > 0x7e) {
            abort();
        }

        if (out[i] == '\\') {
            if (i + 1 >= n - 1 || (out[i + 1] != '"' && out[i + 1] != '\\')) {
                abort();
            }

            i++;

        } else if (out[i] == '"') {
            abort();
        }
    }

    free(out);
}


static void
check_header(const u_char *path, size_t path_len, const u_char *a,
    size_t a_len, const u_char *b, size_t b_len)
{
    u_char                *out;
    size_t                 n, i, lt, gt;
    ngx_oci_link_str_t     parts[3], rel;
    ngx_oci_link_param_t   params[2];

    parts[0].data = (const u_char *) "/v2/";
    parts[0].len = 4;
    parts[1].data = path;
    parts[1].len = path_len;
    parts[2].data = (const u_char *) "/tags/list";
    parts[2].len = 10;

    params[0].name.data = (const u_char *) "n";
    params[0].name.len = 1;
    params[0].value.data = a;
    params[0].value.len = a_len;
    params[1].name.data = (const u_char *) "last";
    params[1].name.len = 4;
    params[1].value.data = b;
    params[1].value.len = b_len;

    rel.data = (const u_char *) "next";
    rel.len = 4;

    n = ngx_oci_link_header(NULL, parts, 3, params, 2, &rel);
    out = malloc(n);

    if (out == NULL || ngx_oci_link_header(out, parts, 3, params, 2, &rel)
                       != n)
    {
        abort();
    }

    /* one link: one "<", one ">", then exactly the rel parameter */

    lt = 0;
    gt = 0;

    for (i = 0; i < n; i++) {
        if (out[i] < 0x20 || out[i] > 0x7e) {
            abort();
        }

        lt += out[i] == '<';
        gt += out[i] == '>';
    }

    if (lt != 1 || gt != 1 || out[0] != '<'
        || n < sizeof(">; rel=\"next\"") - 1
        || memcmp(out + n - (sizeof(">; rel=\"next\"") - 1),
                  ">; rel=\"next\"", sizeof(">; rel=\"next\"") - 1) != 0)
    {
        abort();
    }

    /* and exactly two parameters in the URI */

    lt = 0;

    for (i = 0; i < n; i++) {
        lt += out[i] == '&' || out[i] == '?' || out[i] == ',' || out[i] == ';';
    }

    if (lt != 3) {      /* "?", "&" and the ";" before rel */
        abort();
    }

    free(out);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t         i, a, b;
    const u_char  *p = data;

    check_escape(p, size);
    check_quoted(p, size);

    /* path \0 value \0 value */

    a = size;
    b = size;

    for (i = 0; i < size; i++) {
        if (p[i] == '\0') {
            if (a == size) {
                a = i;

            } else {
                b = i;
                break;
            }
        }
    }

    if (a == size) {
        check_header(p, size, p, 0, p, 0);

    } else if (b == size) {
        check_header(p, a, p + a + 1, size - a - 1, p, 0);

    } else {
        check_header(p, a, p + a + 1, b - a - 1, p + b + 1, size - b - 1);
    }

    return 0;
}
