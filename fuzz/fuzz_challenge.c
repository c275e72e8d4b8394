
/*
 * An upstream's challenge and token reply on arbitrary bytes: the same
 * input is read as a WWW-Authenticate value, as a token reply and as
 * credentials.  A challenge taken has NUL-terminated fields without
 * control bytes, a Bearer one a realm of http(s); the token URL starts
 * with the realm, holds only URL bytes after it and decodes back to the
 * service and scope; a token taken is visible ASCII with a lifetime in
 * range; credentials decode back to themselves.
 */


#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ngx_oci_challenge.h"


static void
check_field(const char *f, size_t size)
{
    size_t  i;

    if (strnlen(f, size) == size) {
        abort();
    }

    for (i = 0; f[i]; i++) {
        if (f[i] != '\t' && ((u_char) f[i] < 0x20 || f[i] == 0x7f)) {
            abort();
        }
    }
}


static int
unhex(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }

    abort();
}


/* "name=<pct>" at *pp, decoded into dst; every byte a URL's */

static void
decode(const char **pp, const char *name, char *dst)
{
    const char  *p;
    size_t       n;

    p = *pp;
    n = strlen(name);

    if (strncmp(p, name, n) != 0 || p[n] != '=') {
        abort();
    }

    for (p += n + 1; *p && *p != '&'; p++) {
        if (*p == '%') {
            *dst++ = (char) (unhex(p[1]) << 4 | unhex(p[2]));
            p += 2;
            continue;
        }

        if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                   "0123456789-._~", *p) == NULL)
        {
            abort();
        }

        *dst++ = *p;
    }

    *dst = '\0';
    *pp = p;
}


static void
check_url(const ngx_oci_challenge_t *ch, const char *scope)
{
    char         url[8192], got[1024];
    size_t       n, rlen;
    const char  *p;

    n = ngx_oci_challenge_token_url(url, sizeof(url), ch, scope);

    if (n == 0 || strlen(url) != n) {
        abort();
    }

    /* one byte less does not fit, and is said so */

    if (ngx_oci_challenge_token_url(url, n, ch, scope) != 0
        || url[0] != '\0'
        || ngx_oci_challenge_token_url(url, n + 1, ch, scope) != n)
    {
        abort();
    }

    rlen = strlen(ch->realm);

    if (strncmp(url, ch->realm, rlen) != 0) {
        abort();
    }

    if (scope == NULL) {
        scope = ch->scope;
    }

    p = url + rlen;

    /* "?" starts the query, "&" goes on with the realm's own */

    if (*p != '\0') {
        if (strchr(ch->realm, '?') == NULL) {
            if (*p++ != '?') {
                abort();
            }

        } else if (ch->realm[rlen - 1] != '?' && ch->realm[rlen - 1] != '&')
        {
            if (*p++ != '&') {
                abort();
            }
        }
    }

    if (ch->service[0]) {
        decode(&p, "service", got);

        if (strcmp(got, ch->service) != 0) {
            abort();
        }

        if (scope[0] && *p++ != '&') {
            abort();
        }
    }

    if (scope[0]) {
        decode(&p, "scope", got);

        if (strcmp(got, scope) != 0) {
            abort();
        }
    }

    if (*p != '\0') {
        abort();
    }
}


/* a base64 digit's value; "=" (padding) counts as 0 */

static unsigned int
b64(char c)
{
    const char  *p;

    static const char  alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    if (c == '=') {
        return 0;
    }

    p = strchr(alphabet, c);
    if (c == '\0' || p == NULL) {
        abort();
    }

    return (unsigned int) (p - alphabet);
}


static void
check_basic(const unsigned char *data, size_t size)
{
    char          buf[1024], out[1024], *q;
    size_t        i, n, len, pad;
    unsigned int  v;

    len = size < 512 ? size : 512;

    n = ngx_oci_challenge_basic(buf, sizeof(buf), (const char *) data, len);

    if (n != 6 + (len + 2) / 3 * 4 || memcmp(buf, "Basic ", 6) != 0
        || buf[n] != '\0')
    {
        abort();
    }

    /* the padding, and nowhere else */

    pad = (3 - len % 3) % 3;
    q = strchr(buf, '=');

    if (q != (pad ? buf + n - pad : NULL)) {
        abort();
    }

    for (i = 6; i < n; i += 4) {
        v = b64(buf[i]) << 18 | b64(buf[i + 1]) << 12
            | b64(buf[i + 2]) << 6 | b64(buf[i + 3]);

        out[(i - 6) / 4 * 3] = (char) (v >> 16);
        out[(i - 6) / 4 * 3 + 1] = (char) (v >> 8);
        out[(i - 6) / 4 * 3 + 2] = (char) v;
    }

    if (memcmp(out, data, len) != 0) {
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    int                  rc;
    char                 tok[NGX_OCI_CHALLENGE_TOKEN_MAX + 1], scope[128];
    long                 expires;
    size_t               i;
    const char          *p;
    ngx_oci_challenge_t  ch;

    rc = ngx_oci_challenge_parse(data, size, &ch);

    if (rc == -1) {
        if (ch.scheme != NGX_OCI_CHALLENGE_NONE || ch.realm[0]
            || ch.service[0] || ch.scope[0] || ch.error[0])
        {
            abort();
        }

    } else if (rc != 0) {
        abort();
    }

    check_field(ch.realm, sizeof(ch.realm));
    check_field(ch.service, sizeof(ch.service));
    check_field(ch.scope, sizeof(ch.scope));
    check_field(ch.error, sizeof(ch.error));

    if (ch.scheme == NGX_OCI_CHALLENGE_BASIC
        && (ch.realm[0] || ch.service[0] || ch.scope[0] || ch.error[0]))
    {
        abort();
    }

    if (ch.scheme == NGX_OCI_CHALLENGE_BEARER) {
        if (strncasecmp(ch.realm, "http://", 7) != 0
            && strncasecmp(ch.realm, "https://", 8) != 0)
        {
            abort();
        }

        if (strpbrk(ch.realm, " \t\"#<>\\^`{|}") != NULL) {
            abort();
        }

        /* no userinfo: no "@" before the path */

        p = strstr(ch.realm, "://") + 3;

        if (memchr(p, '@', strcspn(p, "/?")) != NULL) {
            abort();
        }

        check_url(&ch, NULL);

        /* the scope the module asks for: the input's first bytes */

        for (i = 0; i < sizeof(scope) - 1 && i < size && data[i]; i++) {
            scope[i] = (char) data[i];
        }

        scope[i] = '\0';

        check_url(&ch, scope);
        check_url(&ch, "");
    }

    expires = -1;
    rc = ngx_oci_challenge_token_parse(data, size, tok, &expires);

    if (rc == 0) {
        if (tok[0] == '\0' || strlen(tok) > NGX_OCI_CHALLENGE_TOKEN_MAX
            || expires < NGX_OCI_CHALLENGE_EXPIRES_MIN
            || expires > NGX_OCI_CHALLENGE_EXPIRES_MAX)
        {
            abort();
        }

        for (i = 0; tok[i]; i++) {
            if ((u_char) tok[i] < 0x21 || (u_char) tok[i] > 0x7e) {
                abort();
            }
        }

    } else if (rc != -1 || tok[0] != '\0' || expires != -1) {
        abort();
    }

    check_basic(data, size);

    return 0;
}
