
/*
 * ngx_oci_query_next(): every value of a repeatable argument, in order,
 * and nothing that only looks like one.
 */


#include <string.h>

#include "tap.h"
#include "ngx_oci_query.h"


typedef struct {
    const char  *args;
    const char  *name;
    const char  *values[4];      /* NULL-terminated */
} query_case_t;


static const query_case_t  cases[] = {
    { "", "tag", { NULL } },
    { "tag=a", "tag", { "a", NULL } },
    { "tag=a&tag=b", "tag", { "a", "b", NULL } },
    { "x=1&tag=a&y=2&tag=b&", "tag", { "a", "b", NULL } },
    { "tag=", "tag", { "", NULL } },
    { "tag", "tag", { NULL } },
    { "tags=a&atag=b&tag", "tag", { NULL } },
    { "&&tag=a&&", "tag", { "a", NULL } },
    { "tag=a=b&tag=%26", "tag", { "a=b", "%26", NULL } },
    { "artifactType=a%2Fb", "artifactType", { "a%2Fb", NULL } },
    { "TAG=a", "tag", { NULL } },
    { NULL, NULL, { NULL } }
};


int
main(void)
{
    size_t               len, vlen, n;
    const u_char        *p, *v;
    const query_case_t  *c;

    for (c = cases; c->args; c++) {
        p = (const u_char *) c->args;
        len = strlen(c->args);

        for (n = 0; ngx_oci_query_next(&p, &len, c->name, strlen(c->name),
                                       &v, &vlen);
             n++)
        {
            if (n >= 3 || c->values[n] == NULL) {
                break;
            }

            if (!tap_ok(vlen == strlen(c->values[n])
                        && memcmp(v, c->values[n], vlen) == 0,
                        "\"%s\": value %zu is \"%s\"", c->args, n,
                        c->values[n]))
            {
                tap_diag("got \"%.*s\"", (int) vlen, (const char *) v);
            }
        }

        tap_ok(c->values[n] == NULL, "\"%s\": %zu values of %s", c->args, n,
               c->name);
        tap_ok(len == 0 || n >= 3, "\"%s\": scanned to the end", c->args);
    }

    return tap_done();
}
