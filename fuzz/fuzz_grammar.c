
/*
 * libFuzzer harness for ngx_oci_grammar: every parser on the input, each
 * answer checked against a regular expression or re-derived.
 */


#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_oci_grammar.h"


static regex_t  re_name, re_tag, re_digest, re_media, re_sha256, re_sha512;
static int      re_ready;


static void
compile(regex_t *re, const char *s)
{
    if (regcomp(re, s, REG_EXTENDED | REG_NOSUB) != 0) {
        abort();
    }
}


static int
match(regex_t *re, const char *s)
{
    return regexec(re, s, 0, NULL, 0) == 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int            rc, alg, has_nul;
    char          *s, buf[64];
    off_t          start, end, s2, e2;
    size_t         hex_len;
    uint64_t       v, max;
    const u_char  *p, *hex;

    if (!re_ready) {
        compile(&re_name, "^[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*"
                          "(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*$");
        compile(&re_tag, "^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$");
        compile(&re_digest, "^[a-z0-9]+([+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$");
        compile(&re_media, "^[a-zA-Z0-9][a-zA-Z0-9!#$&^_.+-]{0,126}"
                           "/[a-zA-Z0-9][a-zA-Z0-9!#$&^_.+-]{0,126}$");
        compile(&re_sha256, "^sha256:[a-f0-9]{64}$");
        compile(&re_sha512, "^sha512:[a-f0-9]{128}$");
        re_ready = 1;
    }

    p = data;

    /* exact-size heap copy, so ASan sees any read past the end */

    s = malloc(size + 1);
    if (s == NULL) {
        return 0;
    }

    memcpy(s, data, size);
    s[size] = '\0';
    has_nul = (memchr(data, 0, size) != NULL);

    /* nothing in these grammars admits NUL: the regexes see C strings */

    if (ngx_oci_name_valid(p, size)
        != (!has_nul && size <= 255 && match(&re_name, s)))
    {
        abort();
    }

    if (ngx_oci_tag_valid(p, size) != (!has_nul && match(&re_tag, s))) {
        abort();
    }

    if (ngx_oci_media_type_valid(p, size)
        != (!has_nul && match(&re_media, s)))
    {
        abort();
    }

    rc = ngx_oci_digest_parse(p, size, &alg, &hex, &hex_len);

    if ((rc != NGX_OCI_DIGEST_MALFORMED)
        != (!has_nul && match(&re_digest, s)
            && (strncmp(s, "sha256:", 7) != 0 || match(&re_sha256, s))
            && (strncmp(s, "sha512:", 7) != 0 || match(&re_sha512, s))))
    {
        abort();
    }

    if (rc == NGX_OCI_DIGEST_OK
        && !((alg == NGX_OCI_SHA256 && hex_len == 64)
             || (alg == NGX_OCI_SHA512 && hex_len == 128)))
    {
        abort();
    }

    if (rc != NGX_OCI_DIGEST_MALFORMED
        && (hex <= p || hex + hex_len != p + size || hex[-1] != ':'))
    {
        abort();
    }

    if (ngx_oci_upload_id_valid(p, size)
        && (size != 32 || strspn(s, "0123456789abcdef") != 32))
    {
        abort();
    }

    if (ngx_oci_content_range_parse(p, size, &start, &end) == 0) {
        if (start < 0 || start > end) {
            abort();
        }

        /* the canonical form parses to the same range */

        snprintf(buf, sizeof(buf), "%lld-%lld", (long long) start,
                 (long long) end);

        if (ngx_oci_content_range_parse((u_char *) buf, strlen(buf), &s2,
                                        &e2)
            != 0 || s2 != start || e2 != end)
        {
            abort();
        }
    }

    max = size ? (uint64_t) data[0] * 1000003 : UINT64_MAX;

    if (ngx_oci_uint_parse(p, size, max, &v) == 0) {
        if (v > max || has_nul || strspn(s, "0123456789") != size) {
            abort();
        }

        if (strtoull(s, NULL, 10) != v) {
            abort();
        }
    }

    free(s);

    return 0;
}
