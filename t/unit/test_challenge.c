
/*
 * ngx_oci_challenge_*(): the WWW-Authenticate values of real registries
 * (Docker Hub, the reference registry, ghcr.io, quay.io, ECR, ACR),
 * escapes, white space, several challenges in one value, duplicate and
 * missing parameters, realms that are not absolute http(s) URLs, every
 * length limit at and past its end; random Bearer challenges read back
 * to what was written; the token request's URL; token replies; Basic
 * credentials against OpenSSL's base64.
 */


#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "tap.h"
#include "ngx_oci_challenge.h"


#define BASIC   NGX_OCI_CHALLENGE_BASIC
#define BEARER  NGX_OCI_CHALLENGE_BEARER


typedef struct {
    const char  *in;
    int          rc;
    int          scheme;
    const char  *realm;
    const char  *service;
    const char  *scope;
    const char  *error;
} parse_case_t;


#define HUB  "https://auth.docker.io/token"

static const parse_case_t  parse_cases[] = {

    /* real registries */

    { "Bearer realm=\"" HUB "\",service=\"registry.docker.io\","
      "scope=\"repository:library/alpine:pull\"",
      0, BEARER, HUB, "registry.docker.io",
      "repository:library/alpine:pull", "" },

    { "Bearer realm=\"https://registry.example/auth\","
      "service=\"registry.example\","
      "scope=\"repository:team/app:pull,push\","
      "error=\"insufficient_scope\"",
      0, BEARER, "https://registry.example/auth", "registry.example",
      "repository:team/app:pull,push", "insufficient_scope" },

    /* docker-registry 2.8.2 (Debian 12), a token it cannot verify */
    { "Bearer realm=\"https://auth.example.test/token\","
      "service=\"registry.example.test\","
      "scope=\"repository:library/alpine:pull\",error=\"invalid_token\"",
      0, BEARER, "https://auth.example.test/token", "registry.example.test",
      "repository:library/alpine:pull", "invalid_token" },

    { "Bearer realm=\"https://ghcr.io/token\",service=\"ghcr.io\","
      "scope=\"repository:user/image:pull\"",
      0, BEARER, "https://ghcr.io/token", "ghcr.io",
      "repository:user/image:pull", "" },

    { "Bearer realm=\"https://quay.io/v2/auth\",service=\"quay.io\"",
      0, BEARER, "https://quay.io/v2/auth", "quay.io", "", "" },

    { "Bearer realm=\"https://myregistry.azurecr.io/oauth2/token\","
      "service=\"myregistry.azurecr.io\"",
      0, BEARER, "https://myregistry.azurecr.io/oauth2/token",
      "myregistry.azurecr.io", "", "" },

    { "Basic realm=\"Registry Realm\"", 0, BASIC, "", "", "", "" },

    /* ECR: Basic with a parameter Basic does not know */
    { "Basic realm=\"https://123456789012.dkr.ecr.us-east-1.amazonaws.com/"
      "\",service=\"ecr.amazonaws.com\"",
      0, BASIC, "", "", "", "" },

    { "Basic", 0, BASIC, "", "", "", "" },
    { "Basic realm=\"x\", charset=\"UTF-8\"", 0, BASIC, "", "", "", "" },
    { "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", 0, BASIC, "", "", "", "" },

    /* case */

    { "BEARER REALM=\"https://a.example/t\",Service=\"s\",SCOPE=\"x\","
      "Error=\"e\"",
      0, BEARER, "https://a.example/t", "s", "x", "e" },
    { "bearer realm=\"HTTPS://A.Example/T\"",
      0, BEARER, "HTTPS://A.Example/T", "", "", "" },
    { "bAsIc realm=\"r\"", 0, BASIC, "", "", "", "" },

    /* white space */

    { "Bearer realm = \"https://a.example/t\" , service= \"s\" ,"
      "scope =\"x\"",
      0, BEARER, "https://a.example/t", "s", "x", "" },
    { "  Bearer\trealm\t=\t\"https://a.example/t\"\t,\tservice=s  ",
      0, BEARER, "https://a.example/t", "s", "", "" },
    { "Bearer    realm=\"https://a.example/t\"",
      0, BEARER, "https://a.example/t", "", "", "" },
    { "Bearer realm=\"https://a.example/t\",,, ,service=\"s\",",
      0, BEARER, "https://a.example/t", "s", "", "" },
    { "Bearer realm=\"https://a.example/t\",service=\"a b\tc\"",
      0, BEARER, "https://a.example/t", "a b\tc", "", "" },

    /* escapes and token values */

    { "Bearer realm=\"https://a.example/t\",service=\"s\\\"q\","
      "scope=\"a\\\\b\",error=\"\\x\\ \"",
      0, BEARER, "https://a.example/t", "s\"q", "a\\b", "x " },
    { "Bearer realm=\"https:\\/\\/a.example\\/t\"",
      0, BEARER, "https://a.example/t", "", "", "" },
    { "Bearer realm=\"https://a.example/t\",service=registry.docker.io,"
      "scope=a!#$%&'*+-.^_`|~9",
      0, BEARER, "https://a.example/t", "registry.docker.io",
      "a!#$%&'*+-.^_`|~9", "" },
    { "Bearer realm=\"https://a.example/t\",service=\"\",scope=\"\"",
      0, BEARER, "https://a.example/t", "", "", "" },
    { "Bearer realm=\"https://a.example/t\",scope=\"repository:\xc3\xa9:pull\"",
      0, BEARER, "https://a.example/t", "", "repository:\xc3\xa9:pull", "" },
    { "Bearer realm=\"https://a.example/t\",service=\"a,b=c\"",
      0, BEARER, "https://a.example/t", "a,b=c", "", "" },

    /* unknown parameters: ignored, even twice */

    { "Bearer realm=\"https://a.example/t\",foo=\"1\",foo=bar,"
      "error_description=\"x\",service=\"s\"",
      0, BEARER, "https://a.example/t", "s", "", "" },

    /* several challenges: Bearer wins, the first of them */

    { "Basic realm=\"x\", Bearer realm=\"https://a.example/t\"",
      0, BEARER, "https://a.example/t", "", "", "" },
    { "Bearer realm=\"https://a.example/t\",service=\"s\", Basic realm=\"x\"",
      0, BEARER, "https://a.example/t", "s", "", "" },
    { "Bearer realm=\"https://a.example/1\", Bearer realm=\"https://b/2\","
      "service=\"t\"",
      0, BEARER, "https://a.example/1", "", "", "" },
    { "Negotiate, Basic realm=\"x\"", 0, BASIC, "", "", "", "" },
    { "Negotiate YIIBhwYGKwYBBQUCoIIBezCCAXeg==, Bearer "
      "realm=\"https://a.example/t\"",
      0, BEARER, "https://a.example/t", "", "", "" },
    { "Digest realm=\"x\", nonce=\"y\", qop=auth, Bearer "
      "realm=\"https://a.example/t\", scope=\"z\"",
      0, BEARER, "https://a.example/t", "", "z", "" },
    { "Newauth realm=\"apps\", type=1, title=\"Login to \\\"apps\\\"\", "
      "Basic realm=\"simple\"",
      0, BASIC, "", "", "", "" },
    { "Basic realm=\"x\",Bearer realm=\"https://a.example/t\",Basic",
      0, BEARER, "https://a.example/t", "", "", "" },

    /* neither Basic nor Bearer */

    { "", -1, 0, "", "", "", "" },
    { "   ", -1, 0, "", "", "", "" },
    { ", ,", -1, 0, "", "", "", "" },
    { "Digest realm=\"x\", nonce=\"y\"", -1, 0, "", "", "", "" },
    { "Negotiate", -1, 0, "", "", "", "" },
    { "Bearerx realm=\"https://a.example/t\"", -1, 0, "", "", "", "" },
    { "Basi realm=\"x\"", -1, 0, "", "", "", "" },

    /* malformed */

    { "Bearer realm=\"https://a.example/t", -1, 0, "", "", "", "" },
    { "Bearer realm=\"https://a.example/t\\", -1, 0, "", "", "", "" },
    { "Bearer realm=\"https://a.example/t\" service=\"s\"",
      -1, 0, "", "", "", "" },
    { "Bearer realm=\"https://a.example/t\"x", -1, 0, "", "", "", "" },
    { "Bearer realm=", -1, 0, "", "", "", "" },
    { "Bearer realm=\"https://a.example/t\",service=", -1, 0, "", "", "", "" },
    { "Bearer realm=\"https://a.example/t\",service= ,", -1, 0, "", "", "",
      "" },
    { "Bearer realm=\"https://a.example/t\",=x", -1, 0, "", "", "", "" },
    { "=Bearer", -1, 0, "", "", "", "" },
    { "Bearer=x", -1, 0, "", "", "", "" },
    { "realm=\"https://a.example/t\"", -1, 0, "", "", "", "" },
    { "\"Bearer\" realm=\"https://a.example/t\"", -1, 0, "", "", "", "" },
    { "Bearer realm=\"https://a.example/t\",service=a\"b\"",
      -1, 0, "", "", "", "" },
    { "Bearer realm=\"https://a.example/t\",service=\"a\rb\"",
      -1, 0, "", "", "", "" },
    { "Bearer realm=\"https://a.example/t\",service=\"a\r\n b\"",
      -1, 0, "", "", "", "" },
    { "Bearer realm=\"https://a.example/t\",service=\"a\x7f\"",
      -1, 0, "", "", "", "" },
    { "Bearer realm=\"https://a.example/t\",service=\"a\\\x01\"",
      -1, 0, "", "", "", "" },
    { "Bearer realm=\"https://a.example/t\"\r\nX-Evil: 1",
      -1, 0, "", "", "", "" },
    { "Bearer realm=\"https://a.example/t\";service=\"s\"",
      -1, 0, "", "", "", "" },
    { "Bearer realm=\"https://a.example/t\",service=\"s\" \"t\"",
      -1, 0, "", "", "", "" },
    { "Bearer abc==, realm=\"https://a.example/t\"", -1, 0, "", "", "", "" },
    { "Basic realm=\"x\", Bearer", -1, 0, "", "", "", "" },
    { "Basic realm=\"x\" Bearer realm=\"https://a.example/t\"",
      -1, 0, "", "", "", "" },

    /* duplicates of known parameters */

    { "Bearer realm=\"https://a.example/t\",realm=\"https://b.example/t\"",
      -1, 0, "", "", "", "" },
    { "Bearer realm=\"https://a.example/t\",service=\"a\",SERVICE=\"a\"",
      -1, 0, "", "", "", "" },
    { "Bearer realm=\"https://a.example/t\",scope=\"a\",scope=\"b\"",
      -1, 0, "", "", "", "" },
    { "Bearer realm=\"https://a.example/t\",error=\"a\",error=\"b\"",
      -1, 0, "", "", "", "" },
    { "Basic realm=\"x\",realm=\"y\"", -1, 0, "", "", "", "" },
    { "Basic charset=\"UTF-8\",Charset=\"UTF-8\"", -1, 0, "", "", "", "" },
    { "Bearer realm=\"https://a.example/t\", Bearer "
      "realm=\"https://a.example/t\",service=\"a\",service=\"b\"",
      -1, 0, "", "", "", "" },

    /* the same name in two challenges is no duplicate */

    { "Basic realm=\"x\", Bearer realm=\"https://a.example/t\"",
      0, BEARER, "https://a.example/t", "", "", "" },

    /* a Bearer challenge without a realm */

    { "Bearer", -1, 0, "", "", "", "" },
    { "Bearer service=\"s\",scope=\"x\"", -1, 0, "", "", "", "" },
    { "Bearer realm=\"\"", -1, 0, "", "", "", "" },
    { "Bearer realm", -1, 0, "", "", "", "" },
    { "Bearer abc==", -1, 0, "", "", "", "" },
    { "Basic realm=\"x\", Bearer service=\"s\"", -1, 0, "", "", "", "" },
    { "Bearer realm=\"https://a.example/t\", Bearer service=\"s\"",
      -1, 0, "", "", "", "" },

    { NULL, 0, 0, NULL, NULL, NULL, NULL }
};


/* s on one TAP line: control bytes, bytes above 0x7e and "#" as \xXX */

static const char *
show(const char *s)
{
    char         *p;
    static char   buf[4][512];
    static int    k;

    p = buf[k = (k + 1) % 4];

    for ( /* void */ ; *s && p < buf[k] + sizeof(buf[k]) - 8; s++) {
        if ((u_char) *s < 0x20 || (u_char) *s > 0x7e || *s == '#') {
            p += sprintf(p, "\\x%02X", (u_char) *s);

        } else {
            *p++ = *s;
        }
    }

    strcpy(p, *s ? "..." : "");

    return buf[k];
}


static int
parse_str(const char *in, ngx_oci_challenge_t *ch)
{
    return ngx_oci_challenge_parse((const u_char *) in, strlen(in), ch);
}


static int
is_zero(const ngx_oci_challenge_t *ch)
{
    ngx_oci_challenge_t  zero;

    memset(&zero, 0, sizeof(zero));

    return memcmp(ch, &zero, sizeof(zero)) == 0;
}


static void
test_parse(void)
{
    int                   rc;
    ngx_oci_challenge_t   ch;
    const parse_case_t   *c;

    for (c = parse_cases; c->in; c++) {
        memset(&ch, 0x5a, sizeof(ch));

        rc = parse_str(c->in, &ch);

        if (c->rc != 0) {
            if (!tap_ok(rc == -1 && is_zero(&ch), "refused: %s", show(c->in))) {
                tap_diag("rc %d, scheme %d, realm \"%s\"", rc,
                         (int) ch.scheme, show(ch.realm));
            }

            continue;
        }

        if (!tap_ok(rc == 0 && (int) ch.scheme == c->scheme
                    && strcmp(ch.realm, c->realm) == 0
                    && strcmp(ch.service, c->service) == 0
                    && strcmp(ch.scope, c->scope) == 0
                    && strcmp(ch.error, c->error) == 0,
                    "parsed: %s", show(c->in)))
        {
            tap_diag("rc %d, scheme %d, realm \"%s\", service \"%s\", "
                     "scope \"%s\", error \"%s\"", rc, (int) ch.scheme,
                     show(ch.realm), show(ch.service), show(ch.scope),
                     show(ch.error));
        }
    }
}


/* bytes the table cannot hold: a NUL inside the value */

static void
test_nul(void)
{
    ngx_oci_challenge_t  ch;

    static const char  quoted[] = "Bearer realm=\"https://a.example/t\","
                                  "service=\"a\0b\"";
    static const char  token[] = "Bearer realm=\"https://a.example/t\","
                                 "service=a\0b";
    static const char  after[] = "Bearer realm=\"https://a.example/t\"\0";
    static const char  escaped[] = "Bearer realm=\"https://a.example/t\","
                                   "service=\"a\\\0\"";

    tap_ok(ngx_oci_challenge_parse((const u_char *) quoted,
                                   sizeof(quoted) - 1, &ch) == -1,
           "a NUL in a quoted-string is refused");
    tap_ok(ngx_oci_challenge_parse((const u_char *) token,
                                   sizeof(token) - 1, &ch) == -1,
           "a NUL after a token value is refused");
    tap_ok(ngx_oci_challenge_parse((const u_char *) after,
                                   sizeof(after) - 1, &ch) == -1,
           "a NUL after the value is refused");
    tap_ok(ngx_oci_challenge_parse((const u_char *) escaped,
                                   sizeof(escaped) - 1, &ch) == -1,
           "an escaped NUL is refused");

    /* the length given is what is read, not up to a NUL */

    tap_ok(ngx_oci_challenge_parse((const u_char *) after,
                                   sizeof(after) - 2, &ch) == 0
           && ch.scheme == BEARER,
           "the value ends where its length says");
    tap_ok(ngx_oci_challenge_parse((const u_char *) "Basic", 3, &ch) == -1,
           "\"Bas\" of \"Basic\" is no scheme");

    memset(&ch, 0x5a, sizeof(ch));
    tap_ok(ngx_oci_challenge_parse(NULL, 0, &ch) == -1 && is_zero(&ch),
           "no bytes at all");
}


typedef struct {
    const char  *realm;
    int          ok;
} realm_case_t;


static const realm_case_t  realms[] = {
    { "https://auth.docker.io/token", 1 },
    { "http://127.0.0.1:5000/token", 1 },
    { "https://[::1]:5000/token", 1 },
    { "https://[2001:db8::1]/t", 1 },
    { "https://registry.example:443/auth?service=x&a=b%2F", 1 },
    { "https://registry.example?x=1", 1 },
    { "https://registry.example", 1 },
    { "https://registry.example/", 1 },
    { "https://a.example/t@x/~u/!$&'()*+,;=:", 1 },
    { "HTTPS://A.EXAMPLE/T", 1 },
    { "Http://a.example/t", 1 },
    { "https://a_b-c.example./t", 1 },
    { "https://a.example:65535/t", 1 },
    { "https://a.example:1/t", 1 },

    { "javascript:alert(1)", 0 },
    { "/token", 0 },
    { "token", 0 },
    { "//auth.docker.io/token", 0 },
    { "ftp://a.example/t", 0 },
    { "file:///etc/passwd", 0 },
    { "httpss://a.example/t", 0 },
    { "http:/a.example/t", 0 },
    { "http:a.example/t", 0 },
    { "https//a.example/t", 0 },
    { "https://", 0 },
    { "https:///token", 0 },
    { "https://?x", 0 },
    { "https://:443/t", 0 },
    { "https://user:password@a.example/t", 0 },
    { "https://user@a.example/t", 0 },
    { "https://@a.example/t", 0 },
    { "https://a.example\\@evil.example/t", 0 },
    { "https://a.example/a b", 0 },
    { "https://a.example /t", 0 },
    { "https://a.example/\tt", 0 },
    { "https://a.example/t#frag", 0 },
    { "https://a.example/t<x>", 0 },
    { "https://a.example/t\"", 0 },
    { "https://a.example/t{x}", 0 },
    { "https://a.example/t|x", 0 },
    { "https://a.example/t^x", 0 },
    { "https://a.example/t`x", 0 },
    { "https://a.example/t[x]", 0 },
    { "https://a.example/t\xc3\xa9", 0 },
    { "https://a.example/%zz", 0 },
    { "https://a.example/%g0", 0 },
    { "https://a.example/%0g", 0 },
    { "https://a.example/%2", 0 },
    { "https://a.example/%", 0 },
    { "https://a.example:0/t", 0 },
    { "https://a.example:65536/t", 0 },
    { "https://a.example:99999/t", 0 },
    { "https://a.example:000443/t", 0 },
    { "https://a.example:/t", 0 },
    { "https://a.example:x/t", 0 },
    { "https://a.example:443:443/t", 0 },
    { "https://[]/t", 0 },
    { "https://[::1/t", 0 },
    { "https://[::g]/t", 0 },
    { "https://a%2Eexample/t", 0 },
    { NULL, 0 }
};


/* a Bearer challenge around a realm, its '"' and '\\' escaped */

static void
bearer(char *buf, const char *realm)
{
    char  *p;

    p = buf + sprintf(buf, "Bearer realm=\"");

    for ( /* void */ ; *realm; realm++) {
        if (*realm == '"' || *realm == '\\') {
            *p++ = '\\';
        }

        *p++ = *realm;
    }

    strcpy(p, "\",service=\"s\"");
}


static void
test_realms(void)
{
    int                   rc;
    char                  in[2048];
    ngx_oci_challenge_t   ch;
    const realm_case_t   *c;

    for (c = realms; c->realm; c++) {
        bearer(in, c->realm);

        rc = parse_str(in, &ch);

        if (!tap_ok(c->ok ? rc == 0 && strcmp(ch.realm, c->realm) == 0
                          : rc == -1,
                    "realm %s: %s", show(c->realm),
                    c->ok ? "taken" : "refused"))
        {
            tap_diag("rc %d from %s", rc, show(in));
        }
    }
}


/* a value of len bytes: a URL or plain letters, some written escaped */

static void
fill(char *buf, size_t len, int url)
{
    size_t  i, n;

    n = 0;

    if (url) {
        n = sprintf(buf, "https://a.example/");
    }

    for (i = n; i < len; i++) {
        buf[i] = 'a' + i % 26;
    }

    buf[len] = '\0';
}


/* quotes s, escaping every third byte that needs no escape */

static void
quote(char *dst, const char *s)
{
    size_t  i;

    *dst++ = '"';

    for (i = 0; s[i]; i++) {
        if (i % 3 == 2 || s[i] == '"' || s[i] == '\\') {
            *dst++ = '\\';
        }

        *dst++ = s[i];
    }

    *dst++ = '"';
    *dst = '\0';
}


static void
test_lengths(void)
{
    int                  rc, esc;
    char                 in[8192], v[2048], q[4096];
    size_t               i, len;
    ngx_oci_challenge_t  ch;

    static const struct {
        const char  *name;
        size_t       max;
    } fields[] = {
        { "realm", sizeof(ch.realm) - 1 },
        { "service", sizeof(ch.service) - 1 },
        { "scope", sizeof(ch.scope) - 1 },
        { "error", sizeof(ch.error) - 1 },
    };

    for (i = 0; i < 4; i++) {
        for (esc = 0; esc < 2; esc++) {
            for (len = fields[i].max - 1; len <= fields[i].max + 2; len++) {
                fill(v, len, i == 0);

                if (esc) {
                    quote(q, v);

                } else {
                    sprintf(q, "\"%s\"", v);
                }

                if (i == 0) {
                    sprintf(in, "Bearer realm=%s", q);

                } else {
                    sprintf(in, "Bearer realm=\"https://a.example/t\",%s=%s",
                            fields[i].name, q);
                }

                rc = parse_str(in, &ch);

                tap_ok(len <= fields[i].max ? rc == 0 : rc == -1,
                       "%s of %zu bytes (max %zu)%s: %s", fields[i].name,
                       len, fields[i].max, esc ? ", escaped" : "",
                       len <= fields[i].max ? "taken" : "refused");
            }
        }
    }

    /* as a token: the same limits */

    fill(v, sizeof(ch.service) - 1, 0);
    sprintf(in, "Bearer realm=\"https://a.example/t\",service=%s", v);
    rc = parse_str(in, &ch);
    tap_ok(rc == 0 && strcmp(ch.service, v) == 0,
           "a token service of 255 bytes is taken");

    fill(v, sizeof(ch.service), 0);
    sprintf(in, "Bearer realm=\"https://a.example/t\",service=%s", v);
    tap_ok(parse_str(in, &ch) == -1, "a token service of 256 is refused");

    /* the limits are those of the challenge used, and of every other */

    fill(v, sizeof(ch.scope), 0);
    sprintf(in, "Bearer realm=\"https://a.example/t\", "
            "Bearer realm=\"https://b.example/t\",scope=\"%s\"", v);
    tap_ok(parse_str(in, &ch) == -1,
           "a scope too long in a second Bearer challenge is refused");

    /* unknown parameters have no limit */

    memset(v, 'x', sizeof(v) - 1);
    v[sizeof(v) - 1] = '\0';
    sprintf(in, "Bearer realm=\"https://a.example/t\",foo=\"%s\"", v);
    tap_ok(parse_str(in, &ch) == 0, "an unknown parameter of 2047 bytes");

    sprintf(in, "Digest realm=\"%s\", Basic realm=\"%.1000s\"", v, v);
    tap_ok(parse_str(in, &ch) == 0 && ch.scheme == BASIC,
           "Basic's realm is not kept, so not limited");
}


/* random Bearer challenges, written in every way allowed, read back */

static const char *
spaces(void)
{
    static const char  *ws[] = { "", "", " ", "\t", "  ", " \t " };

    return ws[tap_rng() % 6];
}


static void
random_value(char *v, size_t max)
{
    size_t  i, len;

    /* visible ASCII, space, tab, '"', '\\' and bytes above 0x7f */

    len = tap_rng() % (max + 1);

    for (i = 0; i < len; i++) {
        switch (tap_rng() % 8) {
        case 0:
            v[i] = '"';
            break;
        case 1:
            v[i] = '\\';
            break;
        case 2:
            v[i] = tap_rng() % 2 ? ' ' : '\t';
            break;
        case 3:
            v[i] = (char) (0x80 + tap_rng() % 0x80);
            break;
        default:
            v[i] = (char) (0x21 + tap_rng() % 0x5e);
        }
    }

    v[len] = '\0';
}


static void
random_case(char *name)
{
    for ( /* void */ ; *name; name++) {
        if (tap_rng() % 2) {
            *name ^= 0x20;
        }
    }
}


static void
test_random(void)
{
    int                  i, j, k, t, bad, order[4];
    char                 in[16384], q[4096], names[4][16];
    char                 want[4][1024], *p;
    size_t               max[4];
    ngx_oci_challenge_t  ch;

    tap_rng_state = 0x0c1a11e46eULL;

    max[0] = 0;
    max[1] = sizeof(ch.service) - 1;
    max[2] = sizeof(ch.scope) - 1;
    max[3] = sizeof(ch.error) - 1;

    bad = 0;

    for (i = 0; i < 2000; i++) {
        sprintf(want[0], "https://h%d.example:%d/t?x=%d", i, 1 + i % 65535,
                i);
        random_value(want[1], max[1]);
        random_value(want[2], max[2]);
        random_value(want[3], max[3]);

        strcpy(names[0], "realm");
        strcpy(names[1], "service");
        strcpy(names[2], "scope");
        strcpy(names[3], "error");

        for (k = 0; k < 4; k++) {
            order[k] = k;
            random_case(names[k]);
        }

        for (k = 3; k > 0; k--) {
            j = tap_rng() % (k + 1);
            t = order[k];
            order[k] = order[j];
            order[j] = t;
        }

        p = in;

        if (tap_rng() % 2) {
            p += sprintf(p, "Basic realm=\"x\",%s", spaces());
        }

        p += sprintf(p, "%sBeArEr ", spaces());

        for (k = 0; k < 4; k++) {
            quote(q, want[order[k]]);
            p += sprintf(p, "%s%s%s=%s%s%s%s", k ? "," : "", spaces(),
                         names[order[k]], spaces(), q, spaces(),
                         tap_rng() % 4 ? "" : ",unknown=\"a,b\\\"\"");
        }

        if (tap_rng() % 2) {
            p += sprintf(p, ",%sBasic%s", spaces(), spaces());
        }

        if (parse_str(in, &ch) != 0 || ch.scheme != BEARER
            || strcmp(ch.realm, want[0]) != 0
            || strcmp(ch.service, want[1]) != 0
            || strcmp(ch.scope, want[2]) != 0
            || strcmp(ch.error, want[3]) != 0)
        {
            if (bad++ == 0) {
                tap_diag("not read back: %s", show(in));
            }
        }
    }

    tap_ok(bad == 0, "2000 random Bearer challenges read back (%d not)",
           bad);
}


typedef struct {
    const char  *realm;
    const char  *service;
    const char  *scope;
    const char  *arg;
    const char  *url;
} url_case_t;


static const url_case_t  url_cases[] = {
    { HUB, "registry.docker.io", "repository:library/alpine:pull", NULL,
      HUB "?service=registry.docker.io"
      "&scope=repository%3Alibrary%2Falpine%3Apull" },

    /* the scope the module asks for replaces the challenge's */
    { HUB, "registry.docker.io", "repository:library/alpine:pull",
      "repository:library/busybox:pull",
      HUB "?service=registry.docker.io"
      "&scope=repository%3Alibrary%2Fbusybox%3Apull" },
    { HUB, "registry.docker.io", "repository:x:pull", "",
      HUB "?service=registry.docker.io" },

    { "https://a.example/t", "s", "repository:a/b:pull,push repository:c:pull",
      NULL,
      "https://a.example/t?service=s"
      "&scope=repository%3Aa%2Fb%3Apull%2Cpush%20repository%3Ac%3Apull" },

    /* a realm with a query already */
    { "https://a.example/t?account=x", "s", "y", NULL,
      "https://a.example/t?account=x&service=s&scope=y" },
    { "https://a.example/t?", "s", "y", NULL,
      "https://a.example/t?service=s&scope=y" },
    { "https://a.example/t?a=1&", "", "y", NULL,
      "https://a.example/t?a=1&scope=y" },

    { "https://a.example/t", "", "", NULL, "https://a.example/t" },
    { "https://a.example/t", "", "", "", "https://a.example/t" },
    { "https://a.example/t?a=1", "", "", NULL, "https://a.example/t?a=1" },
    { "https://a.example/t", "s", "", NULL, "https://a.example/t?service=s" },
    { "https://a.example/t", "", "", "x", "https://a.example/t?scope=x" },

    /* unreserved bytes as they are, every other one encoded */
    { "https://a.example/t", "Az09-._~", "+%&=?#/ \t\"\\\xc3\xa9\x01", NULL,
      "https://a.example/t?service=Az09-._~"
      "&scope=%2B%25%26%3D%3F%23%2F%20%09%22%5C%C3%A9%01" },

    { NULL, NULL, NULL, NULL, NULL }
};


static void
set(ngx_oci_challenge_t *ch, const char *realm, const char *service,
    const char *scope)
{
    memset(ch, 0, sizeof(ngx_oci_challenge_t));
    ch->scheme = BEARER;
    strcpy(ch->realm, realm);
    strcpy(ch->service, service);
    strcpy(ch->scope, scope);
}


static void
test_token_url(void)
{
    char                 buf[8192];
    size_t               n, want;
    ngx_oci_challenge_t  ch;
    const url_case_t    *c;

    for (c = url_cases; c->realm; c++) {
        set(&ch, c->realm, c->service, c->scope);

        n = ngx_oci_challenge_token_url(buf, sizeof(buf), &ch, c->arg);

        if (!tap_ok(n == strlen(c->url) && strcmp(buf, c->url) == 0,
                    "token URL %s", show(c->url)))
        {
            tap_diag("got %zu: %s", n, show(buf));
        }
    }

    /* the size: the URL and its NUL, no more */

    set(&ch, HUB, "registry.docker.io", "repository:library/alpine:pull");
    want = strlen(url_cases[0].url);

    n = ngx_oci_challenge_token_url(buf, want + 1, &ch, NULL);
    tap_ok(n == want && strcmp(buf, url_cases[0].url) == 0,
           "the URL fits in its length + 1");

    for (n = 0; n <= want; n++) {
        memset(buf, 'x', sizeof(buf));

        if (ngx_oci_challenge_token_url(buf, n, &ch, NULL) != 0
            || (n && buf[0] != '\0') || buf[n] != 'x')
        {
            break;
        }
    }

    tap_ok(n == want + 1, "sizes 0 to its length: 0, buf empty, nothing "
           "written past the size (stopped at %zu)", n);

    /* what a parse gave, with the longest fields: it fits in 8 KiB */

    memset(ch.realm, 'r', sizeof(ch.realm) - 1);
    memcpy(ch.realm, "https://", 8);
    ch.realm[sizeof(ch.realm) - 1] = '\0';
    memset(ch.service, ' ', sizeof(ch.service) - 1);
    ch.service[sizeof(ch.service) - 1] = '\0';
    memset(ch.scope, '/', sizeof(ch.scope) - 1);
    ch.scope[sizeof(ch.scope) - 1] = '\0';

    n = ngx_oci_challenge_token_url(buf, sizeof(buf), &ch, NULL);
    tap_ok(n == 1023 + 1 + 8 + 255 * 3 + 1 + 6 + 1023 * 3
           && strlen(buf) == n,
           "the longest fields make %zu bytes", n);

    /* no realm, or one the parser would refuse */

    set(&ch, "", "s", "x");
    tap_ok(ngx_oci_challenge_token_url(buf, sizeof(buf), &ch, NULL) == 0
           && buf[0] == '\0', "no realm: no URL");

    set(&ch, "https://a.example/t#x", "s", "x");
    tap_ok(ngx_oci_challenge_token_url(buf, sizeof(buf), &ch, NULL) == 0,
           "a realm with a fragment: no URL");

    set(&ch, "https://u@a.example/t", "s", "x");
    tap_ok(ngx_oci_challenge_token_url(buf, sizeof(buf), &ch, NULL) == 0,
           "a realm with userinfo: no URL");

    memset(ch.realm, 'a', sizeof(ch.realm));
    memcpy(ch.realm, "https://", 8);
    tap_ok(ngx_oci_challenge_token_url(buf, sizeof(buf), &ch, NULL) == 0,
           "a realm without its NUL: no URL");

    /* parsed, then asked for */

    tap_ok(parse_str(parse_cases[0].in, &ch) == 0
           && ngx_oci_challenge_token_url(buf, sizeof(buf), &ch, NULL) > 0
           && strcmp(buf, url_cases[0].url) == 0,
           "Docker Hub's challenge gives Docker Hub's token URL");
}


typedef struct {
    const char  *in;
    int          rc;
    const char  *token;
    long         expires;
} token_case_t;


#define JWT  "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJhY2Nlc3MiOltdfQ." \
             "c2lnbmF0dXJlLV8"

static const token_case_t  token_cases[] = {
    { "{\"token\":\"abc\"}", 0, "abc", 60 },
    { "{\"access_token\":\"abc\"}", 0, "abc", 60 },
    { "{\"token\":\"" JWT "\",\"access_token\":\"" JWT "\","
      "\"expires_in\":300,\"issued_at\":\"2024-05-01T10:00:00.123Z\"}",
      0, JWT, 300 },
    { "{\"token\":\"a\",\"access_token\":\"b\"}", 0, "a", 60 },
    { "{\"access_token\":\"b\",\"token\":\"a\"}", 0, "a", 60 },
    { "{\"token\":\"\",\"access_token\":\"b\"}", 0, "b", 60 },
    { " \n{ \"token\" : \"a\" , \"refresh_token\":\"r\", \"x\":[1,{}] }\n",
      0, "a", 60 },
    { "{\"token\":\"a\\/b\\u0041\"}", 0, "a/bA", 60 },
    { "{\"token\":\"!~\"}", 0, "!~", 60 },

    /* expires_in */
    { "{\"token\":\"a\",\"expires_in\":1}", 0, "a", 60 },
    { "{\"token\":\"a\",\"expires_in\":59}", 0, "a", 60 },
    { "{\"token\":\"a\",\"expires_in\":60}", 0, "a", 60 },
    { "{\"token\":\"a\",\"expires_in\":61}", 0, "a", 61 },
    { "{\"token\":\"a\",\"expires_in\":3600}", 0, "a", 3600 },
    { "{\"token\":\"a\",\"expires_in\":31622400}", 0, "a", 31622400 },
    { "{\"token\":\"a\",\"expires_in\":31622401}", -1, "", 0 },
    { "{\"token\":\"a\",\"expires_in\":0}", -1, "", 0 },
    { "{\"token\":\"a\",\"expires_in\":-5}", -1, "", 0 },
    { "{\"token\":\"a\",\"expires_in\":1000000000}", -1, "", 0 },
    { "{\"token\":\"a\",\"expires_in\":1e9}", -1, "", 0 },
    { "{\"token\":\"a\",\"expires_in\":60.0}", -1, "", 0 },
    { "{\"token\":\"a\",\"expires_in\":\"60\"}", -1, "", 0 },
    { "{\"token\":\"a\",\"expires_in\":null}", -1, "", 0 },
    { "{\"token\":\"a\",\"expires_in\":true}", -1, "", 0 },
    { "{\"token\":\"a\",\"expires_in\":99999999999999999999999}", -1, "", 0 },

    /* the token */
    { "{}", -1, "", 0 },
    { "{\"expires_in\":60}", -1, "", 0 },
    { "{\"token\":\"\"}", -1, "", 0 },
    { "{\"token\":\"\",\"access_token\":\"\"}", -1, "", 0 },
    { "{\"token\":\"a b\"}", -1, "", 0 },
    { "{\"token\":\" a\"}", -1, "", 0 },
    { "{\"token\":\"a\\tb\"}", -1, "", 0 },
    { "{\"token\":\"a\\r\\nX-Evil: 1\"}", -1, "", 0 },
    { "{\"token\":\"a\\u0000b\"}", -1, "", 0 },
    { "{\"token\":\"a\\u007f\"}", -1, "", 0 },
    { "{\"token\":\"\xc3\xa9\"}", -1, "", 0 },
    { "{\"token\":\"\xff\"}", -1, "", 0 },
    { "{\"token\":42}", -1, "", 0 },
    { "{\"token\":null,\"access_token\":\"b\"}", -1, "", 0 },
    { "{\"token\":\"a\",\"access_token\":7}", -1, "", 0 },
    { "{\"token\":[\"a\"]}", -1, "", 0 },
    { "{\"Token\":\"a\"}", -1, "", 0 },
    { "{\"token\":\"a\",\"token\":\"a\"}", -1, "", 0 },

    /* not an object, not JSON */
    { "", -1, "", 0 },
    { "[\"token\"]", -1, "", 0 },
    { "\"token\"", -1, "", 0 },
    { "42", -1, "", 0 },
    { "null", -1, "", 0 },
    { "{\"token\":\"a\"", -1, "", 0 },
    { "{\"token\":\"a\"} {}", -1, "", 0 },
    { "{\"token\":\"a\"}x", -1, "", 0 },
    { "{token:\"a\"}", -1, "", 0 },
    { "<html>401</html>", -1, "", 0 },

    { NULL, 0, NULL, 0 }
};


static int
token_str(const char *in, char *tok, long *expires)
{
    return ngx_oci_challenge_token_parse((const u_char *) in, strlen(in),
                                         tok, expires);
}


static void
test_token_parse(void)
{
    int                  rc;
    char                 tok[NGX_OCI_CHALLENGE_TOKEN_MAX + 1];
    char                *big;
    long                 expires;
    size_t               len;
    const token_case_t  *c;

    for (c = token_cases; c->in; c++) {
        memset(tok, 'z', sizeof(tok));
        expires = -7;

        rc = token_str(c->in, tok, &expires);

        if (!tap_ok(c->rc == 0 ? rc == 0 && strcmp(tok, c->token) == 0
                                 && expires == c->expires
                               : rc == -1 && tok[0] == '\0' && expires == -7,
                    "token reply %s: %s", show(c->in),
                    c->rc == 0 ? "taken" : "refused"))
        {
            tap_diag("rc %d, token \"%s\", expires %ld", rc,
                     rc == 0 ? show(tok) : "", expires);
        }
    }

    /* a token of the longest length, and one byte more */

    big = malloc(NGX_OCI_CHALLENGE_REPLY_MAX + 2);
    if (big == NULL) {
        abort();
    }

    for (len = NGX_OCI_CHALLENGE_TOKEN_MAX;
         len <= NGX_OCI_CHALLENGE_TOKEN_MAX + 1;
         len++)
    {
        memcpy(big, "{\"token\":\"", 10);
        memset(big + 10, 'T', len);
        strcpy(big + 10 + len, "\"}");
        memset(tok, 'z', sizeof(tok));

        rc = token_str(big, tok, &expires);

        tap_ok(len == NGX_OCI_CHALLENGE_TOKEN_MAX
               ? rc == 0 && strlen(tok) == len && tok[0] == 'T'
               : rc == -1 && tok[0] == '\0',
               "a token of %zu bytes: %s", len,
               len == NGX_OCI_CHALLENGE_TOKEN_MAX ? "taken" : "refused");
    }

    /* a huge token: refused, nothing written past tok */

    memcpy(big, "{\"access_token\":\"", 17);
    memset(big + 17, 'T', 60000);
    strcpy(big + 17 + 60000, "\"}");
    tap_ok(token_str(big, tok, &expires) == -1,
           "a token of 60000 bytes is refused");

    /* a reply of 64 KiB, white space after the object, and one more */

    strcpy(big, "{\"token\":\"abc\",\"expires_in\":120}");
    len = strlen(big);
    memset(big + len, ' ', NGX_OCI_CHALLENGE_REPLY_MAX + 1 - len);

    expires = 0;
    rc = ngx_oci_challenge_token_parse((u_char *) big,
                                       NGX_OCI_CHALLENGE_REPLY_MAX, tok,
                                       &expires);
    tap_ok(rc == 0 && strcmp(tok, "abc") == 0 && expires == 120,
           "a reply of 64 KiB is read");

    rc = ngx_oci_challenge_token_parse((u_char *) big,
                                       NGX_OCI_CHALLENGE_REPLY_MAX + 1, tok,
                                       &expires);
    tap_ok(rc == -1 && tok[0] == '\0', "a reply of 64 KiB + 1 is refused");

    /* a NUL inside the length given */

    rc = ngx_oci_challenge_token_parse((u_char *) "{\"token\":\"a\"}\0", 14,
                                       tok, &expires);
    tap_ok(rc == -1, "a NUL after the object is refused");

    free(big);
}


typedef struct {
    const char  *in;
    size_t       len;
    const char  *out;
} basic_case_t;


#define B(in, out)  { in, sizeof(in) - 1, out }

static const basic_case_t  basic_cases[] = {
    B("Aladdin:open sesame", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
    B("test:123\xc2\xa3", "Basic dGVzdDoxMjPCow=="),
    B("", "Basic "),
    B("a", "Basic YQ=="),
    B("ab", "Basic YWI="),
    B("abc", "Basic YWJj"),
    B("user:p\0ss", "Basic dXNlcjpwAHNz"),
    B("\xff\xfe\xfd", "Basic //79"),
    { NULL, 0, NULL }
};


static void
test_basic(void)
{
    int                  i, bad;
    char                 buf[512];
    u_char               in[256], ref[512];
    size_t               n, len, want;
    const basic_case_t  *c;

    for (c = basic_cases; c->in; c++) {
        n = ngx_oci_challenge_basic(buf, sizeof(buf), c->in, c->len);

        if (!tap_ok(n == strlen(c->out) && strcmp(buf, c->out) == 0,
                    "basic: %s", c->out))
        {
            tap_diag("got %zu: %s", n, show(buf));
        }
    }

    /* the size: the value and its NUL, no more */

    want = strlen(basic_cases[0].out);

    memset(buf, 'x', sizeof(buf));
    n = ngx_oci_challenge_basic(buf, want + 1, basic_cases[0].in,
                                basic_cases[0].len);
    tap_ok(n == want && strcmp(buf, basic_cases[0].out) == 0,
           "basic fits in its length + 1");

    for (n = 0; n <= want; n++) {
        memset(buf, 'x', sizeof(buf));

        if (ngx_oci_challenge_basic(buf, n, basic_cases[0].in,
                                    basic_cases[0].len) != 0
            || (n && buf[0] != '\0') || buf[n] != 'x')
        {
            break;
        }
    }

    tap_ok(n == want + 1, "basic: sizes 0 to its length give 0, nothing "
           "written past the size (stopped at %zu)", n);

    /* random credentials, as OpenSSL encodes them */

    tap_rng_state = 0xba51cULL;
    bad = 0;

    for (i = 0; i < 1000; i++) {
        len = tap_rng() % sizeof(in);

        for (n = 0; n < len; n++) {
            in[n] = (u_char) tap_rng();
        }

        want = EVP_EncodeBlock(ref, in, (int) len);
        n = ngx_oci_challenge_basic(buf, sizeof(buf), (char *) in, len);

        if (n != want + 6 || memcmp(buf, "Basic ", 6) != 0
            || memcmp(buf + 6, ref, want) != 0 || buf[n] != '\0')
        {
            bad++;
        }
    }

    tap_ok(bad == 0, "1000 random credentials encoded as OpenSSL does "
           "(%d not)", bad);
}


int
main(void)
{
    test_parse();
    test_nul();
    test_realms();
    test_lengths();
    test_random();
    test_token_url();
    test_token_parse();
    test_basic();

    return tap_done();
}
