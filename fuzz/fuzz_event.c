
/*
 * The event envelope on arbitrary bytes: the input is cut into the
 * fields of an event; whatever they hold, the envelope is a JSON object
 * jansson reads back.
 */


#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "ngx_oci_event.h"


int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    int                   i;
    char                 *out;
    size_t                cut, rest;
    json_t               *j;
    ngx_oci_event_t       ev;
    ngx_oci_event_str_t  *f[] = {
        &ev.action, &ev.repository, &ev.tag, &ev.digest, &ev.useragent,
        &ev.actor, &ev.host, &ev.subject
    };

    memset(&ev, 0, sizeof(ev));
    ev.size = size % 2 ? (off_t) size : -1;

    rest = size;

    for (i = 0; i < 8 && rest; i++) {
        cut = data[0] % (rest < 64 ? rest : 64);
        data++;
        rest--;
        cut = cut > rest ? rest : cut;
        f[i]->data = data;
        f[i]->len = cut;
        data += cut;
        rest -= cut;
    }

    out = ngx_oci_event_json(&ev);
    if (out == NULL) {
        abort();
    }

    j = json_loads(out, JSON_ALLOW_NUL, NULL);
    if (j == NULL || !json_is_object(j)) {
        abort();
    }

    json_decref(j);
    free(out);

    return 0;
}
