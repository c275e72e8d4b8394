
/*
 * An upstream registry's challenge, the token request it leads to, the
 * token endpoint's reply and Basic credentials: see ngx_oci_challenge.h.
 *
 * The challenge is read in one pass over the value, each byte looked
 * at a bounded number of times, whatever the upstream sends.
 */


#include <stdint.h>
#include <string.h>
#include <jansson.h>

#include "ngx_oci_challenge.h"


/* the known parameters a challenge has given, to refuse them twice */
#define NGX_OCI_CHALLENGE_REALM     0x01
#define NGX_OCI_CHALLENGE_SERVICE   0x02
#define NGX_OCI_CHALLENGE_SCOPE     0x04
#define NGX_OCI_CHALLENGE_ERROR     0x08
#define NGX_OCI_CHALLENGE_CHARSET   0x10


static int ngx_oci_challenge_one(const u_char **pp, const u_char *end,
    ngx_oci_challenge_t *ch);
static int ngx_oci_challenge_param(const u_char **pp, const u_char *end,
    ngx_oci_challenge_t *ch, u_int *seen);
static int ngx_oci_challenge_value(const u_char **pp, const u_char *end,
    char *dst, size_t size);
static int ngx_oci_challenge_token68(const u_char **pp, const u_char *end);
static int ngx_oci_challenge_is_param(const u_char *p, const u_char *end);
static int ngx_oci_challenge_url_valid(const u_char *p, size_t len);
static int ngx_oci_challenge_put(char *buf, size_t size, size_t *n,
    const char *s, size_t len);
static int ngx_oci_challenge_escape(char *buf, size_t size, size_t *n,
    const char *s);
static const u_char *ngx_oci_challenge_ows(const u_char *p,
    const u_char *end);
static const u_char *ngx_oci_challenge_token(const u_char *p,
    const u_char *end);
static int ngx_oci_challenge_is(const ngx_oci_challenge_str_t *s,
    const char *name);
static int ngx_oci_challenge_tchar(u_char c);
static int ngx_oci_challenge_alnum(u_char c);
static int ngx_oci_challenge_hex(u_char c);


static const char  ngx_oci_challenge_hexdigits[] = "0123456789ABCDEF";

static const char  ngx_oci_challenge_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";


int
ngx_oci_challenge_parse(const u_char *p, size_t len, ngx_oci_challenge_t *ch)
{
    const u_char         *end;
    ngx_oci_challenge_t   cur;

    memset(ch, 0, sizeof(ngx_oci_challenge_t));

    /* nothing to read, and p may be NULL: no arithmetic on it */

    if (len == 0) {
        return -1;
    }

    memset(&cur, 0, sizeof(ngx_oci_challenge_t));

    end = p + len;

    for ( ;; ) {

        /* a list may have empty elements: ", ," */

        while (p < end && (*p == ',' || *p == ' ' || *p == '\t')) {
            p++;
        }

        if (p == end) {
            break;
        }

        /*
         * the fields of the last challenge are emptied, not the whole
         * structure: a value of many short challenges costs no more
         * than its length
         */

        cur.scheme = NGX_OCI_CHALLENGE_NONE;
        cur.realm[0] = '\0';
        cur.service[0] = '\0';
        cur.scope[0] = '\0';
        cur.error[0] = '\0';

        if (ngx_oci_challenge_one(&p, end, &cur) != 0) {
            memset(ch, 0, sizeof(ngx_oci_challenge_t));
            return -1;
        }

        if (cur.scheme == NGX_OCI_CHALLENGE_BEARER
            && ch->scheme != NGX_OCI_CHALLENGE_BEARER)
        {
            *ch = cur;

        } else if (cur.scheme == NGX_OCI_CHALLENGE_BASIC
                   && ch->scheme == NGX_OCI_CHALLENGE_NONE)
        {
            ch->scheme = NGX_OCI_CHALLENGE_BASIC;
        }
    }

    return ch->scheme == NGX_OCI_CHALLENGE_NONE ? -1 : 0;
}


/*
 * One challenge at *pp: the scheme, then nothing, a token68 or
 * parameters.  Leaves *pp at the end of the value or at the comma list
 * before the next challenge.
 */

static int
ngx_oci_challenge_one(const u_char **pp, const u_char *end,
    ngx_oci_challenge_t *ch)
{
    u_int                     seen;
    const u_char             *p, *q;
    ngx_oci_challenge_str_t   scheme;

    p = *pp;

    scheme.data = p;
    p = ngx_oci_challenge_token(p, end);
    scheme.len = p - scheme.data;

    if (scheme.len == 0) {
        return -1;
    }

    if (ngx_oci_challenge_is(&scheme, "bearer")) {
        ch->scheme = NGX_OCI_CHALLENGE_BEARER;

    } else if (ngx_oci_challenge_is(&scheme, "basic")) {
        ch->scheme = NGX_OCI_CHALLENGE_BASIC;
    }

    q = ngx_oci_challenge_ows(p, end);

    if (q < end && *q != ',') {

        /* the scheme and what follows are apart */

        if (q == p) {
            return -1;
        }

        p = q;

        if (ngx_oci_challenge_token68(&p, end) != 0) {
            seen = 0;

            do {
                if (ngx_oci_challenge_param(&p, end, ch, &seen) != 0) {
                    return -1;
                }

                p = ngx_oci_challenge_ows(p, end);

                if (p < end && *p != ',') {
                    return -1;
                }

                while (p < end && (*p == ',' || *p == ' ' || *p == '\t')) {
                    p++;
                }

            } while (ngx_oci_challenge_is_param(p, end));
        }

        q = p;
    }

    *pp = q;

    if (ch->scheme == NGX_OCI_CHALLENGE_BEARER
        && !ngx_oci_challenge_url_valid((u_char *) ch->realm,
                                        strlen(ch->realm)))
    {
        return -1;
    }

    return 0;
}


/* name = value: a known one goes into its field, once */

static int
ngx_oci_challenge_param(const u_char **pp, const u_char *end,
    ngx_oci_challenge_t *ch, u_int *seen)
{
    u_int                     bit;
    char                     *dst;
    size_t                    size;
    const u_char             *p;
    ngx_oci_challenge_str_t   name;

    p = *pp;

    name.data = p;
    p = ngx_oci_challenge_token(p, end);
    name.len = p - name.data;

    p = ngx_oci_challenge_ows(p, end);

    if (name.len == 0 || p == end || *p != '=') {
        return -1;
    }

    p = ngx_oci_challenge_ows(p + 1, end);

    dst = NULL;
    size = 0;
    bit = 0;

    if (ch->scheme == NGX_OCI_CHALLENGE_BEARER) {

        if (ngx_oci_challenge_is(&name, "realm")) {
            dst = ch->realm;
            size = sizeof(ch->realm);
            bit = NGX_OCI_CHALLENGE_REALM;

        } else if (ngx_oci_challenge_is(&name, "service")) {
            dst = ch->service;
            size = sizeof(ch->service);
            bit = NGX_OCI_CHALLENGE_SERVICE;

        } else if (ngx_oci_challenge_is(&name, "scope")) {
            dst = ch->scope;
            size = sizeof(ch->scope);
            bit = NGX_OCI_CHALLENGE_SCOPE;

        } else if (ngx_oci_challenge_is(&name, "error")) {
            dst = ch->error;
            size = sizeof(ch->error);
            bit = NGX_OCI_CHALLENGE_ERROR;
        }

    } else if (ch->scheme == NGX_OCI_CHALLENGE_BASIC) {

        /* RFC 7617's parameters, checked but not kept */

        if (ngx_oci_challenge_is(&name, "realm")) {
            bit = NGX_OCI_CHALLENGE_REALM;

        } else if (ngx_oci_challenge_is(&name, "charset")) {
            bit = NGX_OCI_CHALLENGE_CHARSET;
        }
    }

    if (bit) {
        if (*seen & bit) {
            return -1;
        }

        *seen |= bit;
    }

    if (ngx_oci_challenge_value(&p, end, dst, size) != 0) {
        return -1;
    }

    *pp = p;

    return 0;
}


/*
 * A token or a quoted-string at *pp, without its quotes and escapes
 * into dst (with a NUL, size bytes in all) unless dst is NULL: -1 when
 * malformed or too long.  Quoted text is HTAB, SP, visible ASCII and
 * bytes above 0x7f (RFC 7230's qdtext and quoted-pair): no NUL and no
 * other control byte reaches dst.
 */

static int
ngx_oci_challenge_value(const u_char **pp, const u_char *end, char *dst,
    size_t size)
{
    u_char        c;
    size_t        n;
    const u_char  *p, *q;

    p = *pp;
    n = 0;

    if (p < end && *p == '"') {

        for (p++; ; n++) {
            if (p == end) {
                return -1;
            }

            c = *p++;

            if (c == '"') {
                break;
            }

            if (c == '\\') {
                if (p == end) {
                    return -1;
                }

                c = *p++;
            }

            if (c != '\t' && (c < 0x20 || c == 0x7f)) {
                return -1;
            }

            if (dst) {
                if (n + 1 >= size) {
                    return -1;
                }

                dst[n] = (char) c;
            }
        }

    } else {
        q = ngx_oci_challenge_token(p, end);
        n = q - p;

        if (n == 0) {
            return -1;
        }

        if (dst) {
            if (n >= size) {
                return -1;
            }

            memcpy(dst, p, n);
        }

        p = q;
    }

    if (dst) {
        dst[n] = '\0';
    }

    *pp = p;

    return 0;
}


/*
 * A token68 (RFC 7235: the credentials of schemes like Negotiate) at
 * *pp, ignored: 1*( ALPHA / DIGIT / "-._~+/" ) *"=", then the end of
 * the challenge.  Tried before parameters: no "name=value" reads as
 * one, since a value is never empty and never starts with "=".
 */

static int
ngx_oci_challenge_token68(const u_char **pp, const u_char *end)
{
    const u_char  *p, *start;

    p = *pp;
    start = p;

    while (p < end
           && (ngx_oci_challenge_alnum(*p) || *p == '-' || *p == '.'
               || *p == '_' || *p == '~' || *p == '+' || *p == '/'))
    {
        p++;
    }

    if (p == start) {
        return -1;
    }

    while (p < end && *p == '=') {
        p++;
    }

    p = ngx_oci_challenge_ows(p, end);

    if (p < end && *p != ',') {
        return -1;
    }

    *pp = p;

    return 0;
}


/*
 * After a comma: "name =" goes on with the parameters of the same
 * challenge, anything else starts the next challenge
 */

static int
ngx_oci_challenge_is_param(const u_char *p, const u_char *end)
{
    const u_char  *q;

    q = ngx_oci_challenge_token(p, end);

    if (q == p) {
        return 0;
    }

    q = ngx_oci_challenge_ows(q, end);

    return q < end && *q == '=';
}


/*
 * The realm: "http://" or "https://" (any case), a host name, an IPv4
 * address or a bracketed IPv6 one, an optional port, then a path and
 * query of RFC 3986's characters.  "@" before the path (userinfo), "#",
 * white space, control bytes, bytes above 0x7e and a "%" not followed
 * by two hex digits are refused: the URL is fetched as it is and the
 * token request's arguments are appended to it.
 */

static int
ngx_oci_challenge_url_valid(const u_char *p, size_t len)
{
    u_char                    c;
    u_int                     port;
    const u_char             *end, *start;
    ngx_oci_challenge_str_t   scheme;

    end = p + len;

    /* "http" or "https", "://" and at least one byte of host */

    scheme.data = p;

    for (scheme.len = 0; scheme.len < len && scheme.len < 6; scheme.len++) {
        if (p[scheme.len] == ':') {
            break;
        }
    }

    if ((!ngx_oci_challenge_is(&scheme, "http")
         && !ngx_oci_challenge_is(&scheme, "https"))
        || len - scheme.len < 4
        || memcmp(p + scheme.len, "://", 3) != 0)
    {
        return 0;
    }

    p += scheme.len + 3;

    start = p;

    if (*p == '[') {
        for (p++; p < end && *p != ']'; p++) {
            if (!ngx_oci_challenge_hex(*p) && *p != ':' && *p != '.') {
                return 0;
            }
        }

        if (p == end || p == start + 1) {
            return 0;
        }

        p++;

    } else {
        while (p < end
               && (ngx_oci_challenge_alnum(*p) || *p == '-' || *p == '.'
                   || *p == '_' || *p == '~'))
        {
            p++;
        }

        if (p == start) {
            return 0;
        }
    }

    if (p < end && *p == ':') {
        start = ++p;
        port = 0;

        while (p < end && p - start < 5 && *p >= '0' && *p <= '9') {
            port = port * 10 + (*p++ - '0');
        }

        if (p == start || port == 0 || port > 65535) {
            return 0;
        }
    }

    if (p < end && *p != '/' && *p != '?') {
        return 0;
    }

    for ( /* void */ ; p < end; p++) {
        c = *p;

        if (c == '%') {
            if (end - p < 3 || !ngx_oci_challenge_hex(p[1])
                || !ngx_oci_challenge_hex(p[2]))
            {
                return 0;
            }

            p += 2;
            continue;
        }

        if (!ngx_oci_challenge_alnum(c)
            && (c == '\0' || strchr("-._~!$&'()*+,;=:@/?", c) == NULL))
        {
            return 0;
        }
    }

    return 1;
}


size_t
ngx_oci_challenge_token_url(char *buf, size_t size,
    const ngx_oci_challenge_t *ch, const char *scope)
{
    size_t       n, rlen;
    const char  *sep, *q;

    if (size == 0) {
        return 0;
    }

    buf[0] = '\0';

    rlen = strnlen(ch->realm, sizeof(ch->realm));

    if (rlen == sizeof(ch->realm)
        || !ngx_oci_challenge_url_valid((u_char *) ch->realm, rlen))
    {
        return 0;
    }

    if (scope == NULL) {
        scope = ch->scope;
    }

    q = memchr(ch->realm, '?', rlen);

    if (q == NULL) {
        sep = "?";

    } else if (ch->realm[rlen - 1] == '?' || ch->realm[rlen - 1] == '&') {
        sep = "";

    } else {
        sep = "&";
    }

    n = 0;

    if (!ngx_oci_challenge_put(buf, size, &n, ch->realm, rlen)) {
        goto full;
    }

    if (ch->service[0] != '\0') {
        if (!ngx_oci_challenge_put(buf, size, &n, sep, strlen(sep))
            || !ngx_oci_challenge_put(buf, size, &n, "service=", 8)
            || !ngx_oci_challenge_escape(buf, size, &n, ch->service))
        {
            goto full;
        }

        sep = "&";
    }

    if (scope[0] != '\0') {
        if (!ngx_oci_challenge_put(buf, size, &n, sep, strlen(sep))
            || !ngx_oci_challenge_put(buf, size, &n, "scope=", 6)
            || !ngx_oci_challenge_escape(buf, size, &n, scope))
        {
            goto full;
        }
    }

    buf[n] = '\0';

    return n;

full:

    buf[0] = '\0';

    return 0;
}


/* appends len bytes if they fit with a NUL after them */

static int
ngx_oci_challenge_put(char *buf, size_t size, size_t *n, const char *s,
    size_t len)
{
    if (len >= size - *n) {
        return 0;
    }

    memcpy(buf + *n, s, len);
    *n += len;

    return 1;
}


/* appends s percent-encoded but for unreserved characters (RFC 3986) */

static int
ngx_oci_challenge_escape(char *buf, size_t size, size_t *n, const char *s)
{
    u_char  c;
    char    esc[3];

    for ( /* void */ ; *s; s++) {
        c = (u_char) *s;

        if (ngx_oci_challenge_alnum(c)
            || c == '-' || c == '.' || c == '_' || c == '~')
        {
            if (!ngx_oci_challenge_put(buf, size, n, s, 1)) {
                return 0;
            }

            continue;
        }

        esc[0] = '%';
        esc[1] = ngx_oci_challenge_hexdigits[c >> 4];
        esc[2] = ngx_oci_challenge_hexdigits[c & 0x0f];

        if (!ngx_oci_challenge_put(buf, size, n, esc, 3)) {
            return 0;
        }
    }

    return 1;
}


int
ngx_oci_challenge_token_parse(const u_char *p, size_t len, char *tok,
    long *expires)
{
    int          rc;
    long         lifetime;
    size_t       i, n;
    json_t      *j, *token, *access, *e;
    json_int_t   v;
    const char  *s;

    tok[0] = '\0';

    if (len > NGX_OCI_CHALLENGE_REPLY_MAX) {
        return -1;
    }

    /* JSON_ALLOW_NUL is not given: a "\u0000" in a string is refused */

    j = json_loadb((const char *) p, len, JSON_REJECT_DUPLICATES, NULL);
    if (j == NULL) {
        return -1;
    }

    rc = -1;

    if (!json_is_object(j)) {
        goto done;
    }

    token = json_object_get(j, "token");
    access = json_object_get(j, "access_token");

    if ((token != NULL && !json_is_string(token))
        || (access != NULL && !json_is_string(access)))
    {
        goto done;
    }

    if (token == NULL || json_string_length(token) == 0) {
        token = access;
    }

    if (token == NULL) {
        goto done;
    }

    s = json_string_value(token);
    n = json_string_length(token);

    if (n == 0 || n > NGX_OCI_CHALLENGE_TOKEN_MAX) {
        goto done;
    }

    /* it goes into a header: visible ASCII, no space */

    for (i = 0; i < n; i++) {
        if ((u_char) s[i] < 0x21 || (u_char) s[i] > 0x7e) {
            goto done;
        }
    }

    e = json_object_get(j, "expires_in");

    if (e == NULL) {
        lifetime = NGX_OCI_CHALLENGE_EXPIRES_MIN;

    } else {
        if (!json_is_integer(e)) {
            goto done;
        }

        v = json_integer_value(e);

        if (v < 1 || v > NGX_OCI_CHALLENGE_EXPIRES_MAX) {
            goto done;
        }

        lifetime = v < NGX_OCI_CHALLENGE_EXPIRES_MIN
                   ? NGX_OCI_CHALLENGE_EXPIRES_MIN : (long) v;
    }

    memcpy(tok, s, n);
    tok[n] = '\0';
    *expires = lifetime;

    rc = 0;

done:

    json_decref(j);

    return rc;
}


size_t
ngx_oci_challenge_basic(char *buf, size_t size, const char *userpass,
    size_t len)
{
    size_t         i, n, need;
    uint32_t       v;
    const u_char  *s;

    if (size == 0) {
        return 0;
    }

    buf[0] = '\0';

    if (len / 3 >= (SIZE_MAX - 16) / 4) {
        return 0;
    }

    need = sizeof("Basic ") - 1 + 4 * (len / 3 + (len % 3 != 0));

    if (need >= size) {
        return 0;
    }

    memcpy(buf, "Basic ", sizeof("Basic ") - 1);
    n = sizeof("Basic ") - 1;

    s = (const u_char *) userpass;

    for (i = 0; i + 2 < len; i += 3) {
        v = (uint32_t) s[i] << 16 | (uint32_t) s[i + 1] << 8 | s[i + 2];

        buf[n++] = ngx_oci_challenge_b64[v >> 18];
        buf[n++] = ngx_oci_challenge_b64[(v >> 12) & 0x3f];
        buf[n++] = ngx_oci_challenge_b64[(v >> 6) & 0x3f];
        buf[n++] = ngx_oci_challenge_b64[v & 0x3f];
    }

    if (i < len) {
        v = (uint32_t) s[i] << 16;

        if (i + 1 < len) {
            v |= (uint32_t) s[i + 1] << 8;
        }

        buf[n++] = ngx_oci_challenge_b64[v >> 18];
        buf[n++] = ngx_oci_challenge_b64[(v >> 12) & 0x3f];
        buf[n++] = i + 1 < len ? ngx_oci_challenge_b64[(v >> 6) & 0x3f]
                               : '=';
        buf[n++] = '=';
    }

    buf[n] = '\0';

    return n;
}


static const u_char *
ngx_oci_challenge_ows(const u_char *p, const u_char *end)
{
    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    return p;
}


static const u_char *
ngx_oci_challenge_token(const u_char *p, const u_char *end)
{
    while (p < end && ngx_oci_challenge_tchar(*p)) {
        p++;
    }

    return p;
}


/* an ASCII name, any case; no locale involved */

static int
ngx_oci_challenge_is(const ngx_oci_challenge_str_t *s, const char *name)
{
    u_char  c;
    size_t  i;

    for (i = 0; i < s->len; i++) {
        c = s->data[i];

        if (c >= 'A' && c <= 'Z') {
            c |= 0x20;
        }

        if (name[i] == '\0' || c != (u_char) name[i]) {
            return 0;
        }
    }

    return name[i] == '\0';
}


/* RFC 7230's tchar */

static int
ngx_oci_challenge_tchar(u_char c)
{
    return ngx_oci_challenge_alnum(c)
           || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}


static int
ngx_oci_challenge_alnum(u_char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9');
}


static int
ngx_oci_challenge_hex(u_char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
           || (c >= 'A' && c <= 'F');
}
