
/*
 * The envelope of a registry event (ngx_oci_event.h). The fields and
 * their nesting are those of the reference registry's notifications
 * (target, request, actor, source); a field without a value is left out
 * rather than written empty, as the reference registry does.
 */


#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "ngx_oci_event.h"


static json_t *ngx_oci_event_string(const ngx_oci_event_str_t *s);
static int ngx_oci_event_set(json_t *obj, const char *key,
    const ngx_oci_event_str_t *s);
static size_t ngx_oci_event_utf8(const unsigned char *p, size_t len);


static const char  *ngx_oci_event_actions[] = {
    "push", "pull", "delete", NULL
};


char *
ngx_oci_event_json(const ngx_oci_event_t *ev)
{
    int      rc;
    char    *out;
    json_t  *root, *target, *request, *actor, *source;

    root = json_object();
    target = json_object();
    request = json_object();
    actor = json_object();
    source = json_object();

    if (root == NULL || target == NULL || request == NULL || actor == NULL
        || source == NULL)
    {
        goto failed;
    }

    rc = ngx_oci_event_set(root, "id", &ev->id)
         | ngx_oci_event_set(root, "timestamp", &ev->timestamp)
         | ngx_oci_event_set(root, "action", &ev->action)
         | ngx_oci_event_set(target, "mediaType", &ev->media_type)
         | ngx_oci_event_set(target, "digest", &ev->digest);

    /* "length" repeats "size": older consumers read that one */

    if (ev->size >= 0) {
        rc |= json_object_set_new(target, "size",
                                  json_integer((json_int_t) ev->size));
        rc |= json_object_set_new(target, "length",
                                  json_integer((json_int_t) ev->size));
    }

    rc |= ngx_oci_event_set(target, "repository", &ev->repository)
          | ngx_oci_event_set(target, "url", &ev->url)
          | ngx_oci_event_set(target, "tag", &ev->tag)
          | ngx_oci_event_set(target, "artifactType", &ev->artifact_type);

    if (ev->subject.len) {
        json_t  *subject = json_object();

        rc |= subject == NULL
              || ngx_oci_event_set(subject, "digest", &ev->subject)
              || json_object_set_new(target, "subject", subject);
    }

    rc |= ngx_oci_event_set(request, "id", &ev->request_id)
          | ngx_oci_event_set(request, "addr", &ev->addr)
          | ngx_oci_event_set(request, "host", &ev->host)
          | ngx_oci_event_set(request, "method", &ev->method)
          | ngx_oci_event_set(request, "useragent", &ev->useragent)
          | ngx_oci_event_set(actor, "name", &ev->actor)
          | ngx_oci_event_set(source, "addr", &ev->source_addr);

    rc |= json_object_set(root, "target", target)
          | json_object_set(root, "request", request)
          | json_object_set(root, "actor", actor)
          | json_object_set(root, "source", source);

    if (rc != 0) {
        goto failed;
    }

    out = json_dumps(root, JSON_COMPACT|JSON_PRESERVE_ORDER);

    json_decref(root);
    json_decref(target);
    json_decref(request);
    json_decref(actor);
    json_decref(source);

    return out;

failed:

    json_decref(root);
    json_decref(target);
    json_decref(request);
    json_decref(actor);
    json_decref(source);

    return NULL;
}


/* sets key to s if s has bytes; 0 on success, -1 when out of memory */

static int
ngx_oci_event_set(json_t *obj, const char *key, const ngx_oci_event_str_t *s)
{
    json_t  *v;

    if (s->data == NULL || s->len == 0) {
        return 0;
    }

    v = ngx_oci_event_string(s);
    if (v == NULL) {
        return -1;
    }

    return json_object_set_new(obj, key, v) == 0 ? 0 : -1;
}


/* a JSON string of the bytes, each byte of a bad sequence as U+FFFD */

static json_t *
ngx_oci_event_string(const ngx_oci_event_str_t *s)
{
    size_t                n, i, size;
    json_t               *v;
    unsigned char        *buf, *q;
    const unsigned char  *p, *end;

    v = json_stringn((const char *) s->data, s->len);
    if (v != NULL) {
        return v;
    }

    /* not UTF-8 (or NUL inside: jansson takes it, so out of memory) */

    if (s->len > (size_t) -1 / 3) {
        return NULL;
    }

    size = s->len * 3;
    buf = malloc(size ? size : 1);
    if (buf == NULL) {
        return NULL;
    }

    p = s->data;
    end = p + s->len;
    q = buf;

    while (p < end) {
        n = ngx_oci_event_utf8(p, end - p);

        if (n == 0) {
            *q++ = 0xef; *q++ = 0xbf; *q++ = 0xbd;
            p++;
            continue;
        }

        for (i = 0; i < n; i++) {
            *q++ = *p++;
        }
    }

    v = json_stringn((const char *) buf, q - buf);
    free(buf);

    return v;
}


/* the length of the UTF-8 sequence at p, 0 if it is not one */

static size_t
ngx_oci_event_utf8(const unsigned char *p, size_t len)
{
    size_t         n, i;
    unsigned long  cp, min;

    if (p[0] < 0x80) {
        return 1;
    }

    if ((p[0] & 0xe0) == 0xc0) {
        n = 2; cp = p[0] & 0x1f; min = 0x80;

    } else if ((p[0] & 0xf0) == 0xe0) {
        n = 3; cp = p[0] & 0x0f; min = 0x800;

    } else if ((p[0] & 0xf8) == 0xf0) {
        n = 4; cp = p[0] & 0x07; min = 0x10000;

    } else {
        return 0;
    }

    if (len < n) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }

        cp = (cp << 6) | (p[i] & 0x3f);
    }

    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }

    return n;
}


void
ngx_oci_event_uuid(const unsigned char random[16], char out[36])
{
    int                  i, j;
    unsigned char        b[16];
    static const char    hex[] = "0123456789abcdef";

    memcpy(b, random, 16);

    b[6] = (b[6] & 0x0f) | 0x40;    /* version 4 */
    b[8] = (b[8] & 0x3f) | 0x80;    /* the RFC 4122 variant */

    for (i = 0, j = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out[j++] = '-';
        }

        out[j++] = hex[b[i] >> 4];
        out[j++] = hex[b[i] & 0x0f];
    }
}


int
ngx_oci_event_action_valid(const char *action, size_t len)
{
    int  i;

    for (i = 0; ngx_oci_event_actions[i]; i++) {
        if (strlen(ngx_oci_event_actions[i]) == len
            && memcmp(ngx_oci_event_actions[i], action, len) == 0)
        {
            return 1;
        }
    }

    return 0;
}
