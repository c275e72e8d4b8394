
/*
 * libFuzzer harness for the conditions of a manifest PUT: after a first
 * byte whose bits 0, 1, 2 say whether If-Match, If-None-Match and the
 * tag are present, the input is split at 0xff bytes into If-Match,
 * If-None-Match and the tag's current digest, and
 * ngx_oci_precondition() is checked against an oracle written another
 * way: the If-Match list cut with strsep() on a NUL-terminated copy.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_oci_grammar.h"


static char *
dup_part(const uint8_t *p, size_t len)
{
    char  *s;

    s = malloc(len + 1);
    if (s == NULL) {
        abort();
    }

    memcpy(s, p, len);
    s[len] = '\0';

    return s;
}


static int
trim_blank(int c)
{
    return c == ' ' || c == '\t';
}


/* NUL bytes are ordinary bytes here: the list is walked by length */

static int
oracle_matches(const uint8_t *p, size_t len, const uint8_t *d,
    size_t d_len)
{
    size_t         n;
    const uint8_t  *comma, *s, *e, *last;

    last = p + len;

    for (s = p; s <= last; s = comma + 1) {
        comma = memchr(s, ',', last - s);
        if (comma == NULL) {
            comma = last;
        }

        e = comma;

        while (s < e && trim_blank(*s)) {
            s++;
        }

        while (e > s && trim_blank(e[-1])) {
            e--;
        }

        n = e - s;

        if (n == 1 && s[0] == '*') {
            return 1;
        }

        if (n >= 2 && s[0] == '"' && e[-1] == '"') {
            s++;
            n -= 2;
        }

        if (n == d_len && n > 0 && memcmp(s, d, n) == 0) {
            return 1;
        }
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int             rc, want, present[3];
    char           *part[3];
    size_t          len[3], i, n;
    const uint8_t  *p, *last, *sep;

    if (size == 0) {
        return 0;
    }

    p = data + 1;
    last = data + size;

    /* exact-size heap copies, so ASan sees any read past a part's end */

    for (n = 0; n < 3; n++) {
        sep = memchr(p, 0xff, last - p);
        len[n] = (sep ? sep : last) - p;
        part[n] = dup_part(p, len[n]);

        if (sep) {
            p = sep + 1;

        } else {
            p = last;
        }
    }

    for (i = 0; i < 3; i++) {
        present[i] = (data[0] >> i) & 1;
    }

    rc = ngx_oci_precondition(present[0] ? (u_char *) part[0] : NULL,
                              len[0],
                              present[1] ? (u_char *) part[1] : NULL,
                              len[1],
                              present[2] ? (u_char *) part[2] : NULL,
                              len[2]);

    if (present[1] && (len[1] != 1 || part[1][0] != '*')) {
        want = NGX_OCI_PRECONDITION_UNSUPPORTED;

    } else if ((present[1] && present[2])
               || (present[0]
                   && (!present[2]
                       || !oracle_matches((uint8_t *) part[0], len[0],
                                          (uint8_t *) part[2], len[2]))))
    {
        want = NGX_OCI_PRECONDITION_FAILED;

    } else {
        want = NGX_OCI_PRECONDITION_OK;
    }

    if (rc != want) {
        abort();
    }

    /* the whole input as a list against each part as a digest */

    for (i = 0; i < n; i++) {
        if (ngx_oci_etag_matches(data, size, (u_char *) part[i], len[i])
            != oracle_matches(data, size, (uint8_t *) part[i], len[i]))
        {
            abort();
        }

        free(part[i]);
    }

    return 0;
}
