
/*
 * ngx_oci_event_json(): the envelope of each kind of event, with the
 * fields of the reference registry's notifications, absent fields left
 * out, bytes that are not UTF-8 replaced, and random bytes in every
 * field always giving a JSON object that says them back; the UUIDs.
 */


#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "tap.h"
#include "ngx_oci_event.h"


#define S(s)  { (const unsigned char *) (s), sizeof(s) - 1 }


static const char *
get(json_t *root, const char *obj, const char *key)
{
    json_t  *o;

    o = obj ? json_object_get(root, obj) : root;

    return json_string_value(json_object_get(o, key));
}


static int
same(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}


static void
test_push(void)
{
    char            *out;
    json_t          *j, *t;
    ngx_oci_event_t  ev = {
        .id = S("5b6e1c7a-0000-4000-8000-000000000000"),
        .timestamp = S("2026-01-02T03:04:05.678Z"),
        .action = S("push"),
        .media_type = S("application/vnd.oci.image.manifest.v1+json"),
        .digest = S("sha256:0123"),
        .size = 708,
        .repository = S("team/app"),
        .tag = S("v1"),
        .artifact_type = S("application/vnd.example.sbom"),
        .subject = S("sha256:abcd"),
        .addr = S("192.0.2.1"),
        .host = S("registry.example"),
        .method = S("PUT"),
        .useragent = S("containerd/1.7"),
        .actor = S("alice"),
        .source_addr = S("node1"),
    };

    out = ngx_oci_event_json(&ev);
    j = out ? json_loads(out, 0, NULL) : NULL;
    tap_ok(j != NULL, "a push: valid JSON");

    if (j == NULL) {
        free(out);
        return;
    }

    t = json_object_get(j, "target");

    tap_ok(same(get(j, NULL, "id"), "5b6e1c7a-0000-4000-8000-000000000000")
           && same(get(j, NULL, "timestamp"), "2026-01-02T03:04:05.678Z")
           && same(get(j, NULL, "action"), "push"),
           "id, timestamp, action");
    tap_ok(same(get(j, "target", "mediaType"),
                "application/vnd.oci.image.manifest.v1+json")
           && same(get(j, "target", "digest"), "sha256:0123")
           && json_integer_value(json_object_get(t, "size")) == 708
           && json_integer_value(json_object_get(t, "length")) == 708
           && same(get(j, "target", "repository"), "team/app")
           && same(get(j, "target", "tag"), "v1")
           && same(get(j, "target", "artifactType"),
                   "application/vnd.example.sbom"),
           "target");
    tap_ok(same(get(t, "subject", "digest"), "sha256:abcd"),
           "target.subject.digest");
    tap_ok(same(get(j, "request", "addr"), "192.0.2.1")
           && same(get(j, "request", "host"), "registry.example")
           && same(get(j, "request", "method"), "PUT")
           && same(get(j, "request", "useragent"), "containerd/1.7"),
           "request");
    tap_ok(same(get(j, "actor", "name"), "alice"), "actor.name");
    tap_ok(same(get(j, "source", "addr"), "node1"), "source.addr");
    tap_ok(strncmp(out, "{\"id\":", 6) == 0 && strchr(out, '\n') == NULL,
           "compact, id first");

    json_decref(j);
    free(out);
}


static void
test_tag_delete(void)
{
    char            *out;
    json_t          *j, *t;
    ngx_oci_event_t  ev;

    memset(&ev, 0, sizeof(ev));
    ev.action = (ngx_oci_event_str_t) S("delete");
    ev.repository = (ngx_oci_event_str_t) S("team/app");
    ev.tag = (ngx_oci_event_str_t) S("old");
    ev.size = -1;

    out = ngx_oci_event_json(&ev);
    j = out ? json_loads(out, 0, NULL) : NULL;
    t = json_object_get(j, "target");

    tap_ok(j && json_object_size(t) == 2
           && same(get(j, "target", "tag"), "old"),
           "a tag's delete: repository and tag only");
    tap_ok(j && json_object_size(json_object_get(j, "actor")) == 0
           && json_object_size(json_object_get(j, "request")) == 0
           && json_object_get(j, "id") == NULL,
           "absent fields are left out, empty objects stay");

    json_decref(j);
    free(out);
}


static void
test_utf8(void)
{
    char            *out;
    json_t          *j;
    ngx_oci_event_t  ev;

    memset(&ev, 0, sizeof(ev));
    ev.size = -1;
    ev.useragent = (ngx_oci_event_str_t) S("a\xff" "b\xc3\xa9" "c\xed\xa0\x80");
    ev.actor = (ngx_oci_event_str_t) S("\xe2\x82");

    out = ngx_oci_event_json(&ev);
    j = out ? json_loads(out, 0, NULL) : NULL;

    tap_ok(same(get(j, "request", "useragent"),
                "a\xef\xbf\xbd" "b\xc3\xa9" "c\xef\xbf\xbd\xef\xbf\xbd"
                "\xef\xbf\xbd"),
           "a bad byte, a surrogate: U+FFFD each; good UTF-8 kept");
    tap_ok(same(get(j, "actor", "name"), "\xef\xbf\xbd\xef\xbf\xbd"),
           "a truncated sequence");

    json_decref(j);
    free(out);
}


static void
test_random(void)
{
    int              i, k, bad;
    char            *out;
    json_t          *j;
    unsigned char    buf[4][64];
    ngx_oci_event_t  ev;

    bad = 0;

    for (i = 0; i < 2000; i++) {
        memset(&ev, 0, sizeof(ev));

        for (k = 0; k < 4; k++) {
            size_t  n, len = tap_rng() % 64;

            for (n = 0; n < len; n++) {
                buf[k][n] = (unsigned char) tap_rng();
            }

            if (k == 0) {
                ev.repository.data = buf[k];
                ev.repository.len = len;
            } else if (k == 1) {
                ev.tag.data = buf[k];
                ev.tag.len = len;
            } else if (k == 2) {
                ev.useragent.data = buf[k];
                ev.useragent.len = len;
            } else {
                ev.actor.data = buf[k];
                ev.actor.len = len;
            }
        }

        ev.size = (off_t) (tap_rng() % 3) - 1;

        /* a NUL is "\u0000": valid JSON, which jansson reads if asked */

        out = ngx_oci_event_json(&ev);
        j = out ? json_loads(out, JSON_ALLOW_NUL, NULL) : NULL;

        if (j == NULL
            || (ev.tag.len
                && json_string_length(json_object_get(
                       json_object_get(j, "target"), "tag"))
                   < ev.tag.len))
        {
            bad++;
        }

        json_decref(j);
        free(out);
    }

    tap_ok(bad == 0, "2000 events of random bytes: valid JSON, nothing "
           "shortened (%d bad)", bad);
}


static void
test_uuid(void)
{
    int            i, ok;
    char           out[37];
    unsigned char  r[16];

    ok = 1;

    for (i = 0; i < 100; i++) {
        int  k;

        for (k = 0; k < 16; k++) {
            r[k] = (unsigned char) tap_rng();
        }

        ngx_oci_event_uuid(r, out);
        out[36] = '\0';

        for (k = 0; k < 36; k++) {
            int  dash = (k == 8 || k == 13 || k == 18 || k == 23);

            if (dash ? out[k] != '-'
                     : strchr("0123456789abcdef", out[k]) == NULL)
            {
                ok = 0;
            }
        }

        if (out[14] != '4' || strchr("89ab", out[19]) == NULL) {
            ok = 0;
        }
    }

    tap_ok(ok, "UUIDs: version 4, the RFC 4122 variant, lower-case hex");

    tap_ok(ngx_oci_event_action_valid("push", 4)
           && ngx_oci_event_action_valid("pull", 4)
           && ngx_oci_event_action_valid("delete", 6)
           && !ngx_oci_event_action_valid("mount", 5)
           && !ngx_oci_event_action_valid("pus", 3),
           "the actions");
}


int
main(void)
{
    test_push();
    test_tag_delete();
    test_utf8();
    test_random();
    test_uuid();

    return tap_done();
}
