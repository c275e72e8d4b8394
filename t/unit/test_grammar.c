
/*
 * ngx_oci_grammar: tables of valid and invalid inputs, then random
 * strings over each grammar's alphabet checked against POSIX extended
 * regular expressions transcribed from the specification.
 */


#include <errno.h>
#include <regex.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "ngx_oci_grammar.h"
#include "tap.h"


#define S(s)   (const u_char *) (s), sizeof(s) - 1

#define H64    "0123456789abcdef0123456789abcdef"                            \
               "0123456789abcdef0123456789abcdef"
#define H128   H64 H64


typedef struct {
    const char  *s;
    size_t       len;       /* 0: strlen(s) */
    int          want;
} case_t;


/* printable form of a test string for the TAP description */

static const char *
esc(const char *s, size_t len)
{
    size_t       i, n;
    static char  buf[4][256];
    static int   k;

    k = (k + 1) % 4;
    n = 0;

    for (i = 0; i < len && n < 200; i++) {
        if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\') {
            buf[k][n++] = s[i];

        } else {
            n += sprintf(buf[k] + n, "\\x%02x", (u_char) s[i]);
        }
    }

    if (i < len) {
        n += sprintf(buf[k] + n, "...");
    }

    buf[k][n] = '\0';

    return buf[k];
}


static void
run_table(const char *what, int (*fn)(const u_char *, size_t),
    const case_t *c, size_t n)
{
    int     got;
    size_t  i, len;

    for (i = 0; i < n; i++) {
        len = c[i].len ? c[i].len : strlen(c[i].s);
        got = fn((const u_char *) c[i].s, len);

        tap_ok(got == c[i].want, "%s(\"%s\") == %d", what,
               esc(c[i].s, len), c[i].want)
            || (tap_diag("got %d", got), 0);
    }
}


static char *
repeat(char c, size_t n)
{
    char  *s;

    s = malloc(n + 1);
    if (s == NULL) {
        abort();
    }

    memset(s, c, n);
    s[n] = '\0';

    return s;
}


static void
test_names(void)
{
    char   *a255, *a256, *long_ok;
    size_t  i;

    static const case_t  cases[] = {
        { "a", 0, 1 },
        { "0", 0, 1 },
        { "library/ubuntu", 0, 1 },
        { "a/b/c/d/e", 0, 1 },
        { "my-app", 0, 1 },
        { "my--app", 0, 1 },
        { "my---------app", 0, 1 },
        { "my.app", 0, 1 },
        { "my_app", 0, 1 },
        { "my__app", 0, 1 },
        { "a.b_c__d-e--f/g0.h1", 0, 1 },
        { "foo/bar.baz-qux__x", 0, 1 },
        { "", 0, 0 },
        { "A", 0, 0 },
        { "library/Ubuntu", 0, 0 },
        { "a...b", 0, 0 },
        { "a..b", 0, 0 },
        { "a___b", 0, 0 },
        { "a._b", 0, 0 },
        { "a_.b", 0, 0 },
        { "a-.b", 0, 0 },
        { "a.-b", 0, 0 },
        { "a-_b", 0, 0 },
        { "-a", 0, 0 },
        { ".a", 0, 0 },
        { "_a", 0, 0 },
        { "a-", 0, 0 },
        { "a.", 0, 0 },
        { "a_", 0, 0 },
        { "a__", 0, 0 },
        { "/a", 0, 0 },
        { "a/", 0, 0 },
        { "a//b", 0, 0 },
        { "a/-b", 0, 0 },
        { "a/.b", 0, 0 },
        { "a b", 0, 0 },
        { "a:b", 0, 0 },
        { "a\0b", 3, 0 },
        { "a%2fb", 0, 0 },
        { "caf\xc3\xa9", 0, 0 },
        { "a\n", 0, 0 },
    };

    run_table("name", ngx_oci_name_valid, cases,
              sizeof(cases) / sizeof(cases[0]));

    a255 = repeat('a', 255);
    a256 = repeat('a', 256);
    long_ok = repeat('a', 255);

    for (i = 1; i < 255; i += 2) {
        long_ok[i] = (i % 4 == 1) ? '/' : '-';
    }

    tap_ok(ngx_oci_name_valid((u_char *) a255, 255), "name of 255 bytes");
    tap_ok(!ngx_oci_name_valid((u_char *) a256, 256),
           "name of 256 bytes rejected");
    tap_ok(ngx_oci_name_valid((u_char *) long_ok, 255),
           "255 bytes of a/a-a/... accepted");

    free(a255);
    free(a256);
    free(long_ok);
}


static void
test_tags(void)
{
    char  *t128, *t129;

    static const case_t  cases[] = {
        { "latest", 0, 1 },
        { "v1.2.3", 0, 1 },
        { "V1.2.3-RC_1", 0, 1 },
        { "_hidden", 0, 1 },
        { "9", 0, 1 },
        { "a..--__", 0, 1 },
        { "", 0, 0 },
        { ".hidden", 0, 0 },
        { "-x", 0, 0 },
        { "a/b", 0, 0 },
        { "a:b", 0, 0 },
        { "a b", 0, 0 },
        { "a+b", 0, 0 },
        { "sha256:" H64, 0, 0 },
        { "a\0", 2, 0 },
        { "t\xc3\xa9", 0, 0 },
    };

    run_table("tag", ngx_oci_tag_valid, cases,
              sizeof(cases) / sizeof(cases[0]));

    t128 = repeat('x', 128);
    t129 = repeat('x', 129);

    tap_ok(ngx_oci_tag_valid((u_char *) t128, 128), "tag of 128 bytes");
    tap_ok(!ngx_oci_tag_valid((u_char *) t129, 129),
           "tag of 129 bytes rejected");

    free(t128);
    free(t129);
}


static void
test_digests(void)
{
    int            rc, alg;
    size_t         i, len, hex_len;
    const u_char  *hex;

    static const struct {
        const char  *s;
        int          rc;
        int          alg;
    } cases[] = {
        { "sha256:" H64, NGX_OCI_DIGEST_OK, NGX_OCI_SHA256 },
        { "sha512:" H128, NGX_OCI_DIGEST_OK, NGX_OCI_SHA512 },
        { "sha256:" H64 "0", NGX_OCI_DIGEST_MALFORMED, 0 },
        { "sha256:" H128, NGX_OCI_DIGEST_MALFORMED, 0 },
        { "sha512:" H64, NGX_OCI_DIGEST_MALFORMED, 0 },
        { "sha256:0123456789ABCDEF0123456789abcdef"
          "0123456789abcdef0123456789abcdef", NGX_OCI_DIGEST_MALFORMED, 0 },
        { "sha256:g123456789abcdef0123456789abcdef"
          "0123456789abcdef0123456789abcdef", NGX_OCI_DIGEST_MALFORMED, 0 },
        { "sha256:0123456789abcdef0123456789abcdef"
          "0123456789abcdef0123456789abcde=", NGX_OCI_DIGEST_MALFORMED, 0 },
        { "sha256:0123456789abcdef0123456789abcdef"
          "0123456789abcdef0123456789abcde\xe6", NGX_OCI_DIGEST_MALFORMED,
          0 },
        { "sha512:" H64 "0123456789abcdef0123456789abcdef"
          "0123456789abcdef0123456789abcde/", NGX_OCI_DIGEST_MALFORMED, 0 },
        { "SHA256:" H64, NGX_OCI_DIGEST_MALFORMED, 0 },
        { "sha256:", NGX_OCI_DIGEST_MALFORMED, 0 },
        { "sha256", NGX_OCI_DIGEST_MALFORMED, 0 },
        { ":" H64, NGX_OCI_DIGEST_MALFORMED, 0 },
        { "", NGX_OCI_DIGEST_MALFORMED, 0 },
        { "sha256::" H64, NGX_OCI_DIGEST_MALFORMED, 0 },
        { "sha256:" H64 ":", NGX_OCI_DIGEST_MALFORMED, 0 },
        { " sha256:" H64, NGX_OCI_DIGEST_MALFORMED, 0 },
        { "sha256:" H64 " ", NGX_OCI_DIGEST_MALFORMED, 0 },
        { "sha384:abc", NGX_OCI_DIGEST_UNSUPPORTED, 0 },
        { "md5:d41d8cd98f00b204e9800998ecf8427e", NGX_OCI_DIGEST_UNSUPPORTED,
          0 },
        { "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8",
          NGX_OCI_DIGEST_UNSUPPORTED, 0 },
        { "sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564",
          NGX_OCI_DIGEST_UNSUPPORTED, 0 },
        { "a.b_c-d+e:x=", NGX_OCI_DIGEST_UNSUPPORTED, 0 },
        { "sha256:+" H64, NGX_OCI_DIGEST_MALFORMED, 0 },
        { "sha256+:" H64, NGX_OCI_DIGEST_MALFORMED, 0 },
        { "sha256..x:abc", NGX_OCI_DIGEST_MALFORMED, 0 },
        { "+sha256:abc", NGX_OCI_DIGEST_MALFORMED, 0 },
        { "sha-256:abc", NGX_OCI_DIGEST_UNSUPPORTED, 0 },
        { "Sha256:abc", NGX_OCI_DIGEST_MALFORMED, 0 },
        { "foo:a/b", NGX_OCI_DIGEST_MALFORMED, 0 },
        { "foo:a.b", NGX_OCI_DIGEST_MALFORMED, 0 },
        { "foo:a+b", NGX_OCI_DIGEST_MALFORMED, 0 },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        len = strlen(cases[i].s);
        alg = -7;
        hex = NULL;
        hex_len = 0;

        rc = ngx_oci_digest_parse((const u_char *) cases[i].s, len, &alg,
                                  &hex, &hex_len);

        tap_ok(rc == cases[i].rc
               && (rc == NGX_OCI_DIGEST_MALFORMED || alg == cases[i].alg),
               "digest(\"%.40s%s\") == %d", cases[i].s,
               len > 40 ? "..." : "", cases[i].rc)
            || (tap_diag("got rc %d alg %d", rc, alg), 0);

        if (rc != NGX_OCI_DIGEST_MALFORMED) {
            tap_ok(hex == (const u_char *) strchr(cases[i].s, ':') + 1
                   && hex + hex_len == (const u_char *) cases[i].s + len,
                   "digest(\"%.40s%s\"): encoded part located", cases[i].s,
                   len > 40 ? "..." : "");
        }
    }

    rc = ngx_oci_digest_parse(S("sha256:" H64), NULL, NULL, NULL);
    tap_ok(rc == NGX_OCI_DIGEST_OK, "digest with NULL outputs");

    rc = ngx_oci_digest_parse(S("sha256:" H64 "\0"), NULL, NULL, NULL);
    tap_ok(rc == NGX_OCI_DIGEST_MALFORMED, "digest with trailing NUL");
}


static void
test_upload_ids(void)
{
    static const case_t  cases[] = {
        { "0123456789abcdef0123456789abcdef", 0, 1 },
        { "0123456789abcdef0123456789abcde", 0, 0 },
        { "0123456789abcdef0123456789abcdef0", 0, 0 },
        { "0123456789ABCDEF0123456789abcdef", 0, 0 },
        { "0123456789abcdeg0123456789abcdef", 0, 0 },
        { "../../../../../../../etc/passwd/", 0, 0 },
        { "", 0, 0 },
    };

    run_table("upload_id", ngx_oci_upload_id_valid, cases,
              sizeof(cases) / sizeof(cases[0]));
}


static void
test_media_types(void)
{
    char  *mt;

    static const case_t  cases[] = {
        { "application/vnd.oci.image.manifest.v1+json", 0, 1 },
        { "application/vnd.oci.image.layer.v1.tar+gzip", 0, 1 },
        { "application/vnd.docker.distribution.manifest.v2+json", 0, 1 },
        { "text/plain", 0, 1 },
        { "Application/JSON", 0, 1 },
        { "a/b", 0, 1 },
        { "x/a!#$&-^_.+", 0, 1 },
        { "application/vnd.cncf.helm.config.v1+json", 0, 1 },
        { "", 0, 0 },
        { "application", 0, 0 },
        { "application/", 0, 0 },
        { "/json", 0, 0 },
        { "application/json; charset=utf-8", 0, 0 },
        { "application/json;charset=utf-8", 0, 0 },
        { "application/json ", 0, 0 },
        { " application/json", 0, 0 },
        { "application/json/x", 0, 0 },
        { "application/.json", 0, 0 },
        { "+application/json", 0, 0 },
        { "appli cation/json", 0, 0 },
        { "application/js\"on", 0, 0 },
        { "application/js*on", 0, 0 },
        { "application/js\0on", 17, 0 },
        { "application/j\xc3\xa9", 0, 0 },
    };

    run_table("media_type", ngx_oci_media_type_valid, cases,
              sizeof(cases) / sizeof(cases[0]));

    mt = repeat('a', 127 + 1 + 127 + 1);
    mt[127] = '/';

    tap_ok(ngx_oci_media_type_valid((u_char *) mt, 255),
           "media type with 127-byte type and subtype");
    tap_ok(!ngx_oci_media_type_valid((u_char *) mt, 256),
           "media type with 128-byte subtype rejected");

    mt[127] = 'a';
    mt[128] = '/';
    tap_ok(!ngx_oci_media_type_valid((u_char *) mt, 255),
           "media type with 128-byte type rejected");

    free(mt);
}


static void
test_content_ranges(void)
{
    int     rc;
    off_t   s, e;
    size_t  i;

    static const struct {
        const char  *s;
        int          rc;
        int64_t      start;
        int64_t      end;
    } cases[] = {
        { "0-0", 0, 0, 0 },
        { "0-1023", 0, 0, 1023 },
        { "1024-2047", 0, 1024, 2047 },
        { "bytes 0-99", 0, 0, 99 },
        { "bytes=0-99", 0, 0, 99 },
        { "BYTES 0-99", 0, 0, 99 },
        { "0-99/100", 0, 0, 99 },
        { "0-99/*", 0, 0, 99 },
        { "bytes 5-9/*", 0, 5, 9 },
        { "bytes 5-9/1000", 0, 5, 9 },
        { "007-8", 0, 7, 8 },
        { "9223372036854775805-9223372036854775806", 0,
          INT64_C(9223372036854775805), INT64_C(9223372036854775806) },
        { "0-9223372036854775806", 0, 0, INT64_C(9223372036854775806) },
        { "0-9223372036854775806/9223372036854775807", 0, 0,
          INT64_C(9223372036854775806) },
        { "9223372036854775806-9223372036854775807", -1, 0, 0 },
        { "0-9223372036854775807", -1, 0, 0 },
        { "9223372036854775807-9223372036854775807", -1, 0, 0 },
        { "bytes 0-9223372036854775807/*", -1, 0, 0 },
        { "9223372036854775807-9223372036854775808", -1, 0, 0 },
        { "0-18446744073709551616", -1, 0, 0 },
        { "0-99999999999999999999999999", -1, 0, 0 },
        { "5-4", -1, 0, 0 },
        { "0-99/99", -1, 0, 0 },
        { "0-99/", -1, 0, 0 },
        { "0-99/**", -1, 0, 0 },
        { "0-99/*x", -1, 0, 0 },
        { "0-99/100x", -1, 0, 0 },
        { "", -1, 0, 0 },
        { "-", -1, 0, 0 },
        { "0-", -1, 0, 0 },
        { "-5", -1, 0, 0 },
        { "+0-5", -1, 0, 0 },
        { "0-+5", -1, 0, 0 },
        { "0--5", -1, 0, 0 },
        { " 0-5", -1, 0, 0 },
        { "0 -5", -1, 0, 0 },
        { "0- 5", -1, 0, 0 },
        { "0-5 ", -1, 0, 0 },
        { "bytes  0-5", -1, 0, 0 },
        { "bytes", -1, 0, 0 },
        { "bytes ", -1, 0, 0 },
        { "bytes0-5", -1, 0, 0 },
        { "bits 0-5", -1, 0, 0 },
        { "0x10-0x20", -1, 0, 0 },
        { "1,2-3", -1, 0, 0 },
        { "1-2,3-4", -1, 0, 0 },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        s = -1;
        e = -1;

        rc = ngx_oci_content_range_parse((const u_char *) cases[i].s,
                                         strlen(cases[i].s), &s, &e);

        tap_ok(rc == cases[i].rc
               && (rc != 0 || (s == cases[i].start && e == cases[i].end)),
               "content_range(\"%s\") == %d", cases[i].s, cases[i].rc)
            || (tap_diag("got rc %d start %lld end %lld", rc,
                         (long long) s, (long long) e), 0);
    }

    rc = ngx_oci_content_range_parse(S("0-5\0"), &s, &e);
    tap_ok(rc == -1, "content_range with trailing NUL");
}


static void
test_preconditions(void)
{
    int         got;
    size_t      i;
    const char  *m, *n, *c;

    static const char  *d = "sha256:" H64;

    static const struct {
        const char  *list;
        int          want;
    } lists[] = {
        { "*", 1 },
        { " * ", 1 },
        { "\"sha256:" H64 "\"", 1 },
        { "sha256:" H64, 1 },
        { "\"a\", \"sha256:" H64 "\"", 1 },
        { "\"a\",\t\"sha256:" H64 "\"\t", 1 },
        { ",,\"sha256:" H64 "\",,", 1 },
        { "\"a\", *", 1 },
        { "", 0 },
        { ",", 0 },
        { " , ", 0 },
        { "\"\"", 0 },
        { "\"", 0 },
        { "**", 0 },
        { "\"*\"", 0 },
        { "W/\"sha256:" H64 "\"", 0 },
        { "\"sha256:" H64, 0 },
        { "sha256:" H64 "\"", 0 },
        { "\"sha256:" H64 "0\"", 0 },
        { "\"sha256:" H64 " \"", 0 },
        { "\"SHA256:" H64 "\"", 0 },
        { "\"a\" \"sha256:" H64 "\"", 0 },
    };

    /* match, none, current (NULL: absent), expected */

    static const struct {
        const char  *match;
        const char  *none;
        const char  *current;
        int          want;
    } cases[] = {
        { NULL, NULL, NULL, NGX_OCI_PRECONDITION_OK },
        { NULL, NULL, "x", NGX_OCI_PRECONDITION_OK },
        { NULL, "*", NULL, NGX_OCI_PRECONDITION_OK },
        { NULL, "*", "x", NGX_OCI_PRECONDITION_FAILED },
        { NULL, "\"x\"", NULL, NGX_OCI_PRECONDITION_UNSUPPORTED },
        { NULL, "", NULL, NGX_OCI_PRECONDITION_UNSUPPORTED },
        { NULL, " *", NULL, NGX_OCI_PRECONDITION_UNSUPPORTED },
        { NULL, "*, \"x\"", "x", NGX_OCI_PRECONDITION_UNSUPPORTED },
        { "\"x\"", "\"y\"", "x", NGX_OCI_PRECONDITION_UNSUPPORTED },
        { "*", NULL, NULL, NGX_OCI_PRECONDITION_FAILED },
        { "*", NULL, "x", NGX_OCI_PRECONDITION_OK },
        { "\"x\"", NULL, "x", NGX_OCI_PRECONDITION_OK },
        { "\"x\"", NULL, "y", NGX_OCI_PRECONDITION_FAILED },
        { "\"x\"", NULL, NULL, NGX_OCI_PRECONDITION_FAILED },
        { "", NULL, "x", NGX_OCI_PRECONDITION_FAILED },
        { "*", "*", "x", NGX_OCI_PRECONDITION_FAILED },
        { "*", "*", NULL, NGX_OCI_PRECONDITION_FAILED },
    };

    for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        got = ngx_oci_etag_matches((const u_char *) lists[i].list,
                                   strlen(lists[i].list),
                                   (const u_char *) d, strlen(d));
        tap_ok(got == lists[i].want, "etag_matches(%s) == %d",
               esc(lists[i].list, strlen(lists[i].list)), lists[i].want);
    }

    tap_ok(!ngx_oci_etag_matches(S("\"\""), (const u_char *) "", 0),
           "an empty entity tag matches no empty digest");
    tap_ok(!ngx_oci_etag_matches(S("\"sha256:" H64 "\"\0"),
                                 (const u_char *) d, strlen(d)),
           "etag_matches with a trailing NUL");

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        m = cases[i].match;
        n = cases[i].none;
        c = cases[i].current;

        got = ngx_oci_precondition((const u_char *) m, m ? strlen(m) : 0,
                                   (const u_char *) n, n ? strlen(n) : 0,
                                   (const u_char *) c, c ? strlen(c) : 0);

        tap_ok(got == cases[i].want,
               "precondition(If-Match %s, If-None-Match %s, tag %s) == %d",
               m ? esc(m, strlen(m)) : "-", n ? esc(n, strlen(n)) : "-",
               c ? c : "-", cases[i].want)
            || (tap_diag("got %d", got), 0);
    }
}


static void
test_uints(void)
{
    int       rc;
    size_t    i;
    uint64_t  v;

    static const struct {
        const char  *s;
        uint64_t     max;
        int          rc;
        uint64_t     v;
    } cases[] = {
        { "0", 100, 0, 0 },
        { "100", 100, 0, 100 },
        { "101", 100, -1, 0 },
        { "0000100", 100, 0, 100 },
        { "18446744073709551615", UINT64_MAX, 0, UINT64_MAX },
        { "18446744073709551616", UINT64_MAX, -1, 0 },
        { "99999999999999999999", UINT64_MAX, -1, 0 },
        { "10000", 9999, -1, 0 },
        { "", 100, -1, 0 },
        { "-1", 100, -1, 0 },
        { "+1", 100, -1, 0 },
        { " 1", 100, -1, 0 },
        { "1 ", 100, -1, 0 },
        { "1e2", 1000, -1, 0 },
        { "0x10", 1000, -1, 0 },
        { "0", 0, 0, 0 },
        { "1", 0, -1, 0 },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        v = 12345;

        rc = ngx_oci_uint_parse((const u_char *) cases[i].s,
                                strlen(cases[i].s), cases[i].max, &v);

        tap_ok(rc == cases[i].rc && (rc != 0 || v == cases[i].v),
               "uint(\"%s\", %llu) == %d", cases[i].s,
               (unsigned long long) cases[i].max, cases[i].rc);
    }
}


/*
 * A random string: either len characters of the alphabet, biased
 * towards its first four to reach deep states, or, given a seed, the seed
 * after up to three random replacements, insertions or deletions.
 */

static size_t
gen(char *buf, size_t max_len, const char *alphabet, const char *seed)
{
    size_t  j, k, len, alen, pos;

    alen = strlen(alphabet);

    if (seed == NULL) {
        len = (size_t) (tap_rng() % (max_len + 1));

        for (j = 0; j < len; j++) {
            buf[j] = alphabet[tap_rng() % ((tap_rng() & 1) ? alen : 4)];
        }

        buf[len] = '\0';
        return len;
    }

    len = strlen(seed);
    memcpy(buf, seed, len + 1);

    for (k = tap_rng() % 4; k; k--) {
        pos = (size_t) (tap_rng() % (len + 1));

        switch (tap_rng() % 3) {
        case 0:
            if (pos < len) {
                buf[pos] = alphabet[tap_rng() % alen];
            }
            break;

        case 1:
            if (len < max_len) {
                memmove(buf + pos + 1, buf + pos, len - pos + 1);
                buf[pos] = alphabet[tap_rng() % alen];
                len++;
            }
            break;

        default:
            if (pos < len) {
                memmove(buf + pos, buf + pos + 1, len - pos);
                len--;
            }
        }
    }

    return len;
}


/* random strings, judged by a regular expression */

static void
differential(const char *what, const char *re, const char *alphabet,
    const char *seed, size_t max_len, int (*fn)(const u_char *, size_t),
    size_t rounds)
{
    int      want, got;
    char     buf[512];
    size_t   i, len, bad, valid;
    regex_t  rx;

    if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) != 0) {
        tap_ok(0, "%s: regcomp", what);
        return;
    }

    bad = 0;
    valid = 0;

    for (i = 0; i < rounds; i++) {
        len = gen(buf, max_len, alphabet, seed);

        want = regexec(&rx, buf, 0, NULL, 0) == 0;
        got = fn((const u_char *) buf, len);

        valid += want;

        if (want != got) {
            if (bad++ < 5) {
                tap_diag("%s(\"%s\"): got %d, regex says %d", what,
                         esc(buf, len), got, want);
            }
        }
    }

    tap_ok(bad == 0, "%s: %zu random strings agree with the regex "
           "(%zu valid)", what, rounds, valid);

    regfree(&rx);
}


static int
name_len_ok(const u_char *p, size_t len)
{
    /* the regex cannot express the length limit */

    return ngx_oci_name_valid(p, len) || len > NGX_OCI_NAME_MAX_LEN;
}


static int
digest_shape(const u_char *p, size_t len)
{
    return ngx_oci_digest_parse(p, len, NULL, NULL, NULL)
           != NGX_OCI_DIGEST_MALFORMED;
}


static int
digest_ok(const u_char *p, size_t len)
{
    return ngx_oci_digest_parse(p, len, NULL, NULL, NULL)
           == NGX_OCI_DIGEST_OK;
}


static int
content_range_oracle(const char *buf)
{
    char               *q;
    regex_t             rx;
    unsigned long long  a, b, t;

    static const char  *re =
        "^([Bb][Yy][Tt][Ee][Ss][ =])?[0-9]+-[0-9]+(/([0-9]+|[*]))?$";

    if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) != 0) {
        abort();
    }

    if (regexec(&rx, buf, 0, NULL, 0) != 0) {
        regfree(&rx);
        return -1;
    }

    regfree(&rx);

    q = (char *) buf;
    if (strncasecmp(q, "bytes", 5) == 0) {
        q += 6;
    }

    errno = 0;
    a = strtoull(q, &q, 10);
    b = strtoull(q + 1, &q, 10);
    t = (*q == '/' && q[1] != '*') ? strtoull(q + 1, NULL, 10) : ~0ULL;

    if (errno || a > INT64_MAX || b >= INT64_MAX || a > b || t <= b) {
        return -1;
    }

    return 0;
}


static void
test_content_range_random(size_t rounds)
{
    int                 want, got;
    char                buf[64];
    off_t               s, e;
    size_t              i, len, bad, valid;
    unsigned long long  a, b;

    static const char  *seeds[] = {
        NULL, "bytes 10-20/30", "0-9223372036854775807", "5-5/*",
        "bytes=18446744073709551615-1"
    };

    bad = 0;
    valid = 0;

    for (i = 0; i < rounds; i++) {
        len = gen(buf, 30, "0-1/9* bytes=B", seeds[i % 5]);

        want = content_range_oracle(buf);
        got = ngx_oci_content_range_parse((u_char *) buf, len, &s, &e);

        if (want == 0 && got == 0) {
            valid++;

            a = strtoull(buf + strcspn(buf, "0123456789"), NULL, 10);
            b = strtoull(strchr(buf, '-') + 1, NULL, 10);

            if ((unsigned long long) s != a || (unsigned long long) e != b) {
                got = -2;
            }
        }

        if (want != got && bad++ < 5) {
            tap_diag("content_range(\"%s\"): got %d, oracle says %d", buf,
                     got, want);
        }
    }

    tap_ok(bad == 0, "content range: %zu random strings agree with the "
           "oracle (%zu valid)", rounds, valid);
}


static void
test_differential(void)
{
    size_t  n;

    n = 200000;

    static const char  *name_re =
        "^[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*"
        "(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*$";

    static const char  *media_re =
        "^[a-zA-Z0-9][a-zA-Z0-9!#$&^_.+-]{0,126}"
        "/[a-zA-Z0-9][a-zA-Z0-9!#$&^_.+-]{0,126}$";

    differential("name", name_re, "a._-/0zA :", NULL, 24,
                 ngx_oci_name_valid, n);

    differential("name (mutated)", name_re, "a._-/0zA :",
                 "a.b_c__d-e--f/g0/h1-2", 40, ngx_oci_name_valid, n);

    differential("long name",
        "^(.{256,}|[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*"
        "(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*)$",
        "a-/._b", NULL, 300, name_len_ok, n / 10);

    differential("tag", "^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$",
                 "aZ._-9/:+", NULL, 140, ngx_oci_tag_valid, n);

    differential("digest",
        "^[a-z0-9]+([+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$",
        "a:0+._-=Z/ ", NULL, 20, digest_shape, n);

    differential("sha256 digest (mutated)", "^sha256:[a-f0-9]{64}$",
                 "a0fF:", "sha256:" H64, 71, digest_ok, n / 10);

    differential("sha512 digest (mutated)", "^sha512:[a-f0-9]{128}$",
                 "a0fF:", "sha512:" H128, 140, digest_ok, n / 10);

    differential("media type", media_re, "a/+.Z9!#$&^_- ;=*", NULL, 20,
                 ngx_oci_media_type_valid, n);

    differential("media type (mutated)", media_re, "a/+.Z9!#$&^_- ;=*",
                 "application/vnd.oci.image.manifest.v1+json", 60,
                 ngx_oci_media_type_valid, n);

    differential("upload id (mutated)", "^[0-9a-f]{32}$", "0aF9g",
                 "0123456789abcdef0123456789abcdef", 33,
                 ngx_oci_upload_id_valid, n / 10);

    test_content_range_random(n);
}


int
main(void)
{
    tap_rng_state = 0x2545f4914f6cdd1dULL;

    test_names();
    test_tags();
    test_digests();
    test_upload_ids();
    test_media_types();
    test_content_ranges();
    test_uints();
    test_preconditions();
    test_differential();

    return tap_done();
}
