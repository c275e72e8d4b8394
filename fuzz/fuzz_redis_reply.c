
/*
 * libFuzzer harness for the Redis reply handling of the referrers API:
 * arbitrary bytes through hiredis' redisReader (the parser the module's
 * client uses), then each reply through ngx_oci_index_page(), the page
 * the module builds from the index's answer.
 *
 * Input: byte 0 is the page size asked for, byte 1 seeds which entries
 * count as stored (and where the stream is cut in two feeds); the rest is
 * what Redis sent.  The page must stay inside its buffer, list at most the
 * page size, and link on whenever the reply held more entries than it
 * took, after a digest of the reply.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "ngx_oci_grammar.h"
#include "ngx_oci_index_page.h"


/*
 * hiredis 0.14 allocates an array's slots as soon as it reads its count:
 * "*2000000000\r\n" asks for 16 GB.  The module trusts its Redis server
 * that far (a failed allocation closes the connection); the harness
 * skips such counts instead of reporting the allocation.
 */
#define FUZZ_MAX_ELEMENTS  4096


typedef struct {
    unsigned   seed;
    size_t     calls;
} fuzz_state_t;


static int
fuzz_check(void *data, const u_char *id, size_t len, int listable)
{
    size_t         i;
    unsigned       h;
    fuzz_state_t  *st = data;

    if (listable
        && ngx_oci_digest_parse(id, len, NULL, NULL, NULL)
           != NGX_OCI_DIGEST_OK)
    {
        abort();
    }

    st->calls++;

    h = st->seed;

    for (i = 0; i < len; i++) {
        h = h * 31 + id[i];
    }

    if (!listable) {
        return 0;
    }

    /* stored, stale, and now and then a failed stat() */

    switch (h % 7) {
    case 0:
        return 0;
    case 1:
        return (st->seed & 0x80) ? -1 : 0;
    default:
        return 1;
    }
}


static int
fuzz_counts_ok(const uint8_t *p, size_t len)
{
    size_t  i, n;

    for (i = 0; i < len; i++) {
        if (p[i] != '*') {
            continue;
        }

        for (n = 0, i++; i < len && p[i] >= '0' && p[i] <= '9'; i++) {
            n = n * 10 + (p[i] - '0');

            if (n > FUZZ_MAX_ELEMENTS) {
                return 0;
            }
        }
    }

    return 1;
}


static void
fuzz_page(redisReply *reply, size_t want, fuzz_state_t *st)
{
    int                   rc;
    u_char               *buf;
    size_t                size, entries;
    redisReply           *last;
    ngx_oci_index_page_t  page;

    size = ngx_oci_index_page_size(reply);

    buf = malloc(size);
    if (buf == NULL) {
        return;
    }

    rc = ngx_oci_index_page(reply, want, fuzz_check, st, buf, size, &page);

    if (reply->type != REDIS_REPLY_ARRAY) {
        if (rc != NGX_OCI_INDEX_PAGE_BAD) {
            abort();
        }

        free(buf);
        return;
    }

    if (rc == NGX_OCI_INDEX_PAGE_ERROR) {
        free(buf);
        return;
    }

    if (rc != NGX_OCI_INDEX_PAGE_OK || page.len > size || page.count > want
        || page.count > reply->elements / 2
        || memcmp(buf, "{\"schemaVersion\":2,", 19) != 0
        || memcmp(buf + page.len - 3, "]}\n", 3) != 0)
    {
        abort();
    }

    entries = reply->elements / 2;

    if (page.last != NGX_OCI_INDEX_PAGE_NONE) {
        if (page.last >= reply->elements || page.last % 2) {
            abort();
        }

        last = reply->element[page.last];

        if (last->type != REDIS_REPLY_STRING
            || ngx_oci_digest_parse((u_char *) last->str, last->len, NULL,
                                    NULL, NULL)
               != NGX_OCI_DIGEST_OK)
        {
            abort();
        }

        /* a walk never stops while entries remain after this page */

        if (entries > want && !page.more) {
            abort();
        }

    } else if (page.more) {
        abort();
    }

    free(buf);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    void          *reply;
    size_t         want, cut;
    redisReader   *rd;
    fuzz_state_t   st;

    if (size < 2 || !fuzz_counts_ok(data + 2, size - 2)) {
        return 0;
    }

    want = data[0];
    st.seed = data[1];
    st.calls = 0;

    data += 2;
    size -= 2;

    rd = redisReaderCreate();
    if (rd == NULL) {
        return 0;
    }

    cut = size ? st.seed % (size + 1) : 0;

    if (redisReaderFeed(rd, (const char *) data, cut) != REDIS_OK
        || redisReaderFeed(rd, (const char *) data + cut, size - cut)
           != REDIS_OK)
    {
        redisReaderFree(rd);
        return 0;
    }

    for ( ;; ) {
        reply = NULL;

        if (redisReaderGetReply(rd, &reply) != REDIS_OK || reply == NULL) {
            break;
        }

        fuzz_page(reply, want, &st);

        freeReplyObject(reply);
    }

    redisReaderFree(rd);

    return 0;
}
