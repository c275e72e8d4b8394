
/*
 * ngx_oci_link_*(): Location and Link values and quoted strings, with
 * request bytes that try to add a header field, a link or a parameter;
 * the count (NULL output) always equals what is written; random bytes
 * always decode back to themselves.
 */


#include <string.h>

#include "tap.h"
#include "ngx_oci_link.h"


#define S(s)  { (const u_char *) (s), sizeof(s) - 1 }


typedef struct {
    const char  *in;
    size_t       len;
    const char  *out;
} escape_case_t;


#define E(in, out)  { in, sizeof(in) - 1, out }

static const escape_case_t  escapes[] = {
    E("team/app", "team/app"),
    E("sha256:0a1b", "sha256:0a1b"),
    E("v1.0-rc_1~x", "v1.0-rc_1~x"),
    E("a\r\nSet-Cookie: x", "a%0D%0ASet-Cookie:%20x"),
    E("x>; rel=\"prev\"", "x%3E%3B%20rel%3D%22prev%22"),
    E("a,<http://evil/>", "a%2C%3Chttp://evil/%3E"),
    E("%0d%0a", "%250d%250a"),
    E("application/vnd.example+json", "application/vnd.example%2Bjson"),
    E("a&b=c?d#e", "a%26b%3Dc%3Fd%23e"),
    E("\xff\x00", "%FF%00"),
    E("", ""),
    { NULL, 0, NULL }
};


static int
unhex(u_char c)
{
    return c <= '9' ? c - '0' : c - 'A' + 10;
}


/* percent-decodes what ngx_oci_link_escape() wrote */

static size_t
unescape(u_char *dst, const u_char *src, size_t len)
{
    size_t  i, n;

    for (i = 0, n = 0; i < len; i++, n++) {
        if (src[i] == '%' && i + 2 < len) {
            dst[n] = (u_char) (unhex(src[i + 1]) << 4 | unhex(src[i + 2]));
            i += 2;

        } else {
            dst[n] = src[i];
        }
    }

    return n;
}


static void
test_escape(void)
{
    u_char                buf[256];
    size_t                n;
    const escape_case_t  *c;

    for (c = escapes; c->in; c++) {
        n = ngx_oci_link_escape(buf, (const u_char *) c->in, c->len);

        if (!tap_ok(n == strlen(c->out) && memcmp(buf, c->out, n) == 0
                    && ngx_oci_link_escape(NULL, (const u_char *) c->in,
                                           c->len)
                       == n,
                    "escape: %s", c->out))
        {
            tap_diag("got \"%.*s\"", (int) n, (char *) buf);
        }
    }
}


static void
test_header(void)
{
    u_char                buf[512];
    size_t                n;
    ngx_oci_link_str_t    path[3] = { S("/v2/"), S("team/app"),
                                      S("/tags/list") };
    ngx_oci_link_str_t    rel = S("next");
    ngx_oci_link_param_t  params[2] = { { S("n"), S("10") },
                                        { S("last"), S("v1") } };
    ngx_oci_link_param_t  evil[2] = {
        { S("n"), S("1>; rel=\"x\", <http://evil/>") },
        { S("last"), S("a\r\nX-Evil: 1") }
    };

    const char  *want = "</v2/team/app/tags/list?n=10&last=v1>; "
                        "rel=\"next\"";
    const char  *want_evil = "</v2/team/app/tags/list"
                             "?n=1%3E%3B%20rel%3D%22x%22%2C%20"
                             "%3Chttp://evil/%3E"
                             "&last=a%0D%0AX-Evil:%201>; rel=\"next\"";

    n = ngx_oci_link_header(buf, path, 3, params, 2, &rel);

    if (!tap_ok(n == strlen(want) && memcmp(buf, want, n) == 0
                && ngx_oci_link_header(NULL, path, 3, params, 2, &rel) == n,
                "a next link"))
    {
        tap_diag("got \"%.*s\"", (int) n, (char *) buf);
    }

    n = ngx_oci_link_header(buf, path, 3, evil, 2, &rel);

    if (!tap_ok(n == strlen(want_evil) && memcmp(buf, want_evil, n) == 0
                && ngx_oci_link_header(NULL, path, 3, evil, 2, &rel) == n,
                "a next link with values that try to break out"))
    {
        tap_diag("got \"%.*s\"", (int) n, (char *) buf);
    }

    n = ngx_oci_link_uri(buf, path, 2, NULL, 0);

    tap_ok(n == strlen("/v2/team/app") && memcmp(buf, "/v2/team/app", n) == 0,
           "a URI without parameters has no \"?\"");
}


static void
test_quoted(void)
{
    u_char      buf[256];
    size_t      n;
    const char  *in = "subject \"x\" \\ 100% in\r\nX: y\x7f";
    const char  *want = "\"subject \\\"x\\\" \\\\ 100%25 in%0D%0AX: y%7F\"";

    n = ngx_oci_link_quoted(buf, (const u_char *) in, strlen(in));

    if (!tap_ok(n == strlen(want) && memcmp(buf, want, n) == 0
                && ngx_oci_link_quoted(NULL, (const u_char *) in, strlen(in))
                   == n,
                "a quoted string"))
    {
        tap_diag("got \"%.*s\"", (int) n, (char *) buf);
    }

    n = ngx_oci_link_quoted(buf, (const u_char *) "", 0);

    tap_ok(n == 2 && memcmp(buf, "\"\"", 2) == 0, "an empty quoted string");
}


/* random bytes: only safe bytes come out, and they decode back */

static void
test_random(void)
{
    int     bad;
    u_char  in[64], out[3 * 64], back[64];
    size_t  i, j, len, n;

    tap_rng_state = 0x1234567887654321ULL;
    bad = 0;

    for (i = 0; i < 10000 && !bad; i++) {
        len = tap_rng() % sizeof(in);

        for (j = 0; j < len; j++) {
            in[j] = (u_char) tap_rng();
        }

        n = ngx_oci_link_escape(out, in, len);

        for (j = 0; j < n; j++) {
            if (out[j] < 0x21 || out[j] > 0x7e || strchr("\"<>,;=&?\\",
                                                         out[j]))
            {
                bad = 1;
            }
        }

        if (unescape(back, out, n) != len || memcmp(back, in, len) != 0) {
            bad = 1;
        }
    }

    tap_ok(!bad, "10000 random values: safe bytes only, decoded back");
}


int
main(void)
{
    test_escape();
    test_header();
    test_quoted();
    test_random();

    return tap_done();
}
