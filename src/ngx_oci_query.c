
/*
 * Query arguments (ngx_oci_query.h).
 */


#include <string.h>

#include "ngx_oci_query.h"


int
ngx_oci_query_next(const u_char **args, size_t *len, const char *name,
    size_t name_len, const u_char **value, size_t *value_len)
{
    size_t         n, step;
    const u_char  *p, *amp;

    while (*len) {
        p = *args;
        amp = memchr(p, '&', *len);
        n = amp ? (size_t) (amp - p) : *len;

        /* the '&' goes too, unless the argument ends the query */

        step = (n < *len) ? n + 1 : n;
        *args += step;
        *len -= step;

        if (n > name_len
            && p[name_len] == '='
            && memcmp(p, name, name_len) == 0)
        {
            *value = p + name_len + 1;
            *value_len = n - name_len - 1;
            return 1;
        }
    }

    return 0;
}
