
/*
 * The query arguments the module reads, on arbitrary query strings: the
 * scanner of repeatable arguments (?tag=, ?artifactType=) and what the
 * endpoints then parse from the values (?n=, ?last=, ?digest=). Every
 * value lies inside the input, right after "<name>=", contains no "&",
 * and the scan always ends.
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_oci_query.h"
#include "ngx_oci_grammar.h"


static void
scan(const unsigned char *data, size_t size, const char *name)
{
    size_t          len, vlen, nlen, count;
    uint64_t        n;
    const u_char   *p, *v, *before;

    p = data;
    len = size;
    nlen = strlen(name);

    for (count = 0; ; count++) {
        before = p;

        if (!ngx_oci_query_next(&p, &len, name, nlen, &v, &vlen)) {
            break;
        }

        if (p <= before || count > size
            || v < data + nlen + 1 || v + vlen > data + size
            || memcmp(v - nlen - 1, name, nlen) != 0 || v[-1] != '='
            || (vlen && memchr(v, '&', vlen) != NULL))
        {
            abort();
        }

        (void) ngx_oci_uint_parse(v, vlen, (uint64_t) -1 >> 1, &n);
        (void) ngx_oci_digest_parse(v, vlen, NULL, NULL, NULL);
        (void) ngx_oci_tag_valid(v, vlen);
        (void) ngx_oci_media_type_valid(v, vlen);
    }

    if (len != 0 || p != data + size) {
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    scan(data, size, "tag");
    scan(data, size, "artifactType");
    scan(data, size, "n");

    return 0;
}
