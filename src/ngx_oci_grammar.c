
/*
 * The OCI Distribution Specification grammars, see ngx_oci_grammar.h.
 */


/* off_t must be as wide as in nginx, which defines this in its headers */

#ifndef _FILE_OFFSET_BITS
#define _FILE_OFFSET_BITS  64
#endif


#include "ngx_oci_grammar.h"


#define ngx_oci_is_lower_alnum(c)                                            \
    (((c) >= 'a' && (c) <= 'z') || ((c) >= '0' && (c) <= '9'))

#define ngx_oci_is_alnum(c)                                                  \
    (ngx_oci_is_lower_alnum(c) || ((c) >= 'A' && (c) <= 'Z'))

#define ngx_oci_is_digit(c)      ((c) >= '0' && (c) <= '9')


/* 0 for the digits of a lowercase hex string: a lookup, not two ranges */
static const u_char  ngx_oci_not_lower_hex[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,     /* 0x00 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1,     /* 0-9 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1,     /* a-f */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,     /* 0x80 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
};


static const u_char *ngx_oci_parse_number(const u_char *p,
    const u_char *last, uint64_t max, uint64_t *out);
static int ngx_oci_restricted_name(const u_char *p, size_t len);


int
ngx_oci_name_valid(const u_char *p, size_t len)
{
    u_char         c;
    const u_char  *last;
    enum {
        sw_component = 0,
        sw_alnum,
        sw_separator,
        sw_underscore,
        sw_dash
    } state;

    if (len == 0 || len > NGX_OCI_NAME_MAX_LEN) {
        return 0;
    }

    /*
     * sw_component: at the start of a path component, an alnum is due;
     * sw_separator: after "." or "__", an alnum is due;
     * sw_underscore: after one "_", either "_" or an alnum;
     * sw_dash: after one or more "-", either "-" or an alnum.
     */

    state = sw_component;

    for (last = p + len; p < last; p++) {
        c = *p;

        if (ngx_oci_is_lower_alnum(c)) {
            state = sw_alnum;
            continue;
        }

        switch (state) {

        case sw_alnum:
            switch (c) {
            case '.':
                state = sw_separator;
                break;
            case '_':
                state = sw_underscore;
                break;
            case '-':
                state = sw_dash;
                break;
            case '/':
                state = sw_component;
                break;
            default:
                return 0;
            }
            break;

        case sw_underscore:
            if (c != '_') {
                return 0;
            }
            state = sw_separator;
            break;

        case sw_dash:
            if (c != '-') {
                return 0;
            }
            break;

        default:
            return 0;
        }
    }

    return state == sw_alnum;
}


int
ngx_oci_tag_valid(const u_char *p, size_t len)
{
    size_t  i;

    if (len == 0 || len > NGX_OCI_TAG_MAX_LEN) {
        return 0;
    }

    if (!ngx_oci_is_alnum(p[0]) && p[0] != '_') {
        return 0;
    }

    for (i = 1; i < len; i++) {
        if (!ngx_oci_is_alnum(p[i])
            && p[i] != '_' && p[i] != '.' && p[i] != '-')
        {
            return 0;
        }
    }

    return 1;
}


int
ngx_oci_digest_parse(const u_char *p, size_t len, int *alg,
    const u_char **hex, size_t *hex_len)
{
    int            a, component;
    u_char         c;
    size_t         i, alen, elen;
    const u_char  *e;

    /* algorithm: components of [a-z0-9]+ joined by single [+._-] */

    component = 0;

    for (i = 0; i < len; i++) {
        c = p[i];

        if (ngx_oci_is_lower_alnum(c)) {
            component = 1;
            continue;
        }

        if (!component) {
            return NGX_OCI_DIGEST_MALFORMED;
        }

        if (c == ':') {
            break;
        }

        if (c != '+' && c != '.' && c != '_' && c != '-') {
            return NGX_OCI_DIGEST_MALFORMED;
        }

        component = 0;
    }

    if (i == len) {
        return NGX_OCI_DIGEST_MALFORMED;
    }

    alen = i;
    e = p + alen + 1;
    elen = len - alen - 1;

    if (elen == 0) {
        return NGX_OCI_DIGEST_MALFORMED;
    }

    /*
     * the encoded part of a known algorithm is lowercase hex, a subset of
     * what any encoded part may hold: one pass over it, not two
     */

    if (alen == 6 && p[0] == 's' && p[1] == 'h' && p[2] == 'a'
        && p[3] == '2' && p[4] == '5' && p[5] == '6')
    {
        if (elen != 64 || !ngx_oci_lower_hex(e, elen)) {
            return NGX_OCI_DIGEST_MALFORMED;
        }

        a = NGX_OCI_SHA256;

    } else if (alen == 6 && p[0] == 's' && p[1] == 'h' && p[2] == 'a'
               && p[3] == '5' && p[4] == '1' && p[5] == '2')
    {
        if (elen != 128 || !ngx_oci_lower_hex(e, elen)) {
            return NGX_OCI_DIGEST_MALFORMED;
        }

        a = NGX_OCI_SHA512;

    } else {
        for (i = 0; i < elen; i++) {
            c = e[i];

            if (!ngx_oci_is_alnum(c) && c != '=' && c != '_' && c != '-') {
                return NGX_OCI_DIGEST_MALFORMED;
            }
        }

        a = 0;
    }

    if (alg) {
        *alg = a;
    }

    if (hex) {
        *hex = e;
    }

    if (hex_len) {
        *hex_len = elen;
    }

    return a ? NGX_OCI_DIGEST_OK : NGX_OCI_DIGEST_UNSUPPORTED;
}


int
ngx_oci_upload_id_valid(const u_char *p, size_t len)
{
    return len == NGX_OCI_UPLOAD_ID_LEN && ngx_oci_lower_hex(p, len);
}


int
ngx_oci_media_type_valid(const u_char *p, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (p[i] == '/') {
            return ngx_oci_restricted_name(p, i)
                   && ngx_oci_restricted_name(p + i + 1, len - i - 1);
        }
    }

    return 0;
}


int
ngx_oci_content_range_parse(const u_char *p, size_t len, off_t *start,
    off_t *end)
{
    uint64_t       s, e, total, max;
    const u_char  *last;

    max = ((uint64_t) 1 << (sizeof(off_t) * 8 - 1)) - 1;
    last = p + len;

    if (len > 6
        && (p[0] | 0x20) == 'b' && (p[1] | 0x20) == 'y'
        && (p[2] | 0x20) == 't' && (p[3] | 0x20) == 'e'
        && (p[4] | 0x20) == 's' && (p[5] == ' ' || p[5] == '='))
    {
        p += 6;
    }

    p = ngx_oci_parse_number(p, last, max, &s);

    if (p == NULL || p == last || *p++ != '-') {
        return -1;
    }

    /*
     * the end is inclusive: the length "end + 1" of what the chunk leaves
     * behind must fit off_t as well, so the end stops one short of max
     */

    p = ngx_oci_parse_number(p, last, max - 1, &e);

    if (p == NULL || s > e) {
        return -1;
    }

    if (p < last) {
        if (*p++ != '/') {
            return -1;
        }

        if (last - p == 1 && *p == '*') {
            p++;

        } else {
            p = ngx_oci_parse_number(p, last, max, &total);

            if (p == NULL || total <= e) {
                return -1;
            }
        }

        if (p != last) {
            return -1;
        }
    }

    *start = (off_t) s;
    *end = (off_t) e;

    return 0;
}


int
ngx_oci_uint_parse(const u_char *p, size_t len, uint64_t max, uint64_t *out)
{
    uint64_t       v;
    const u_char  *last;

    last = p + len;

    if (ngx_oci_parse_number(p, last, max, &v) != last) {
        return -1;
    }

    *out = v;

    return 0;
}


/*
 * Parses the longest run of digits at p; returns the byte after it, or
 * NULL if there is no digit or the value exceeds max.
 */

int
ngx_oci_etag_matches(const u_char *p, size_t len, const u_char *digest,
    size_t digest_len)
{
    size_t         i;
    const u_char  *last, *start, *end;

    last = p + len;

    while (p < last) {

        /* one element of the list, without the blanks around it */

        while (p < last && (*p == ' ' || *p == '\t' || *p == ',')) {
            p++;
        }

        start = p;

        while (p < last && *p != ',') {
            p++;
        }

        end = p;

        while (end > start && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }

        if (end - start == 1 && *start == '*') {
            return 1;
        }

        if (end - start >= 2 && *start == '"' && end[-1] == '"') {
            start++;
            end--;
        }

        if (digest_len == 0 || (size_t) (end - start) != digest_len) {
            continue;
        }

        for (i = 0; i < digest_len && start[i] == digest[i]; i++) {
            /* void */
        }

        if (i == digest_len) {
            return 1;
        }
    }

    return 0;
}


int
ngx_oci_precondition(const u_char *match, size_t match_len,
    const u_char *none, size_t none_len, const u_char *current,
    size_t current_len)
{
    /* a conditional PUT may only ask for a tag that does not exist yet */

    if (none && (none_len != 1 || none[0] != '*')) {
        return NGX_OCI_PRECONDITION_UNSUPPORTED;
    }

    if (none && current) {
        return NGX_OCI_PRECONDITION_FAILED;
    }

    if (match
        && (current == NULL
            || !ngx_oci_etag_matches(match, match_len, current,
                                     current_len)))
    {
        return NGX_OCI_PRECONDITION_FAILED;
    }

    return NGX_OCI_PRECONDITION_OK;
}


static const u_char *
ngx_oci_parse_number(const u_char *p, const u_char *last, uint64_t max,
    uint64_t *out)
{
    uint64_t  v, d;

    if (p == last || !ngx_oci_is_digit(*p)) {
        return NULL;
    }

    v = 0;

    while (p < last && ngx_oci_is_digit(*p)) {
        d = (uint64_t) (*p++ - '0');

        if (v > max / 10 || (v == max / 10 && d > max % 10)) {
            return NULL;
        }

        v = v * 10 + d;
    }

    *out = v;

    return p;
}


static int
ngx_oci_restricted_name(const u_char *p, size_t len)
{
    size_t  i;
    u_char  c;

    if (len == 0 || len > NGX_OCI_MEDIA_TYPE_PART_MAX
        || !ngx_oci_is_alnum(p[0]))
    {
        return 0;
    }

    for (i = 1; i < len; i++) {
        c = p[i];

        if (ngx_oci_is_alnum(c)) {
            continue;
        }

        switch (c) {
        case '!':
        case '#':
        case '$':
        case '&':
        case '-':
        case '^':
        case '_':
        case '.':
        case '+':
            continue;
        default:
            return 0;
        }
    }

    return 1;
}


int
ngx_oci_lower_hex(const u_char *p, size_t len)
{
    u_char  bad;
    size_t  i;

    /* no branch per byte: digests are checked on every pull */

    bad = 0;

    for (i = 0; i < len; i++) {
        bad |= ngx_oci_not_lower_hex[p[i]];
    }

    return bad == 0;
}
