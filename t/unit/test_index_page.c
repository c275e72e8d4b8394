
/*
 * ngx_oci_index_page(): the referrers page built from the index's reply,
 * parsed from RESP by hiredis' reader as in the module.  Stale entries
 * are left out and handed to the callback; a page short of them still
 * links on when the reply held more entries than it took.
 */


#include <string.h>

#include <hiredis/hiredis.h>

#include "tap.h"
#include "ngx_oci_index_page.h"


#define HEAD  "{\"schemaVersion\":2,\"mediaType\":" \
              "\"application/vnd.oci.image.index.v1+json\",\"manifests\":["

#define HEX64(c)  c c c c c c c c c c c c c c c c \
                  c c c c c c c c c c c c c c c c \
                  c c c c c c c c c c c c c c c c \
                  c c c c c c c c c c c c c c c c

#define DA  "sha256:" HEX64("a")
#define DB  "sha256:" HEX64("b")
#define DC  "sha256:" HEX64("c")


/* which digests are stored (by their 8th character), and what was seen */

typedef struct {
    const char  *stored;
    int          fail;
    char         stale[8];
    int          nstale;
    int          unlistable;
} check_t;


static int
check(void *data, const u_char *id, size_t len, int listable)
{
    check_t  *c = data;

    if (c->fail) {
        return -1;
    }

    if (listable && len > 7 && strchr(c->stored, id[7])) {
        return 1;
    }

    c->unlistable += !listable;

    if (c->nstale < 7) {
        c->stale[c->nstale++] = len > 7 ? (char) id[7] : '?';
    }

    return 0;
}


static redisReply *
parse(const char *resp)
{
    void         *reply;
    redisReader  *rd;

    reply = NULL;
    rd = redisReaderCreate();

    if (rd == NULL
        || redisReaderFeed(rd, resp, strlen(resp)) != REDIS_OK
        || redisReaderGetReply(rd, &reply) != REDIS_OK)
    {
        reply = NULL;
    }

    if (rd) {
        redisReaderFree(rd);
    }

    return reply;
}


/* digest and a short descriptor "{"d":"<x>"}" */
#define ENTRY(d, x)  "$71\r\n" d "\r\n$9\r\n{\"d\":\"" x "\"}\r\n"
#define NIL_ENTRY(d) "$71\r\n" d "\r\n$-1\r\n"


/* *last: the 8th character of the cursor's digest, or 0 */

static int
page_of(const char *resp, size_t want, check_t *c, char *body,
    ngx_oci_index_page_t *page, char *last)
{
    int          rc;
    size_t       size;
    redisReply  *r;

    *last = 0;
    body[0] = '\0';

    r = parse(resp);
    if (r == NULL) {
        return -100;
    }

    size = ngx_oci_index_page_size(r);

    if (size >= 1024) {
        freeReplyObject(r);
        return -101;
    }

    rc = ngx_oci_index_page(r, want, check, c, (u_char *) body, size, page);

    if (rc == NGX_OCI_INDEX_PAGE_OK) {
        body[page->len] = '\0';

        if (page->last != NGX_OCI_INDEX_PAGE_NONE) {
            *last = r->element[page->last]->str[7];
        }
    }

    freeReplyObject(r);

    return rc;
}


int
main(void)
{
    int                    rc;
    char                   body[1024];
    check_t                c;
    char                   last;
    ngx_oci_index_page_t   page;

    /* a full page and one more: the next page follows the second */

    memset(&c, 0, sizeof(check_t));
    c.stored = "abc";
    rc = page_of("*6\r\n" ENTRY(DA, "a") ENTRY(DB, "b") ENTRY(DC, "c"), 2,
                 &c, body, &page, &last);
    tap_ok(rc == NGX_OCI_INDEX_PAGE_OK, "full page: ok");
    tap_ok(strcmp(body, HEAD "{\"d\":\"a\"},{\"d\":\"b\"}]}\n") == 0,
           "full page: the first two, in order");
    tap_ok(page.count == 2 && page.more && last == 'b',
           "full page: link on after the second");

    /* everything fits */

    memset(&c, 0, sizeof(check_t));
    c.stored = "abc";
    rc = page_of("*4\r\n" ENTRY(DA, "a") ENTRY(DB, "b"), 2, &c, body, &page,
                 &last);
    tap_ok(rc == NGX_OCI_INDEX_PAGE_OK && page.count == 2 && !page.more,
           "the last page: no link");

    /* a stale entry takes a place: the page is short, and links on */

    memset(&c, 0, sizeof(check_t));
    c.stored = "bc";
    rc = page_of("*6\r\n" ENTRY(DA, "a") ENTRY(DB, "b") ENTRY(DC, "c"), 2,
                 &c, body, &page, &last);
    tap_ok(rc == NGX_OCI_INDEX_PAGE_OK
           && strcmp(body, HEAD "{\"d\":\"b\"},{\"d\":\"c\"}]}\n") == 0,
           "stale first: the two stored ones listed");
    tap_ok(page.more && last == 'c', "stale first: links on after the third");
    tap_ok(c.nstale == 1 && c.stale[0] == 'a', "stale first: handed over");

    memset(&c, 0, sizeof(check_t));
    c.stored = "b";
    rc = page_of("*6\r\n" ENTRY(DA, "a") ENTRY(DB, "b") ENTRY(DC, "c"), 2,
                 &c, body, &page, &last);
    tap_ok(rc == NGX_OCI_INDEX_PAGE_OK && page.count == 1 && page.more
           && last == 'c', "one listed of three: links on after the last");

    memset(&c, 0, sizeof(check_t));
    c.stored = "";
    rc = page_of("*6\r\n" ENTRY(DA, "a") ENTRY(DB, "b") ENTRY(DC, "c"), 2,
                 &c, body, &page, &last);
    tap_ok(rc == NGX_OCI_INDEX_PAGE_OK && page.count == 0 && page.more
           && last == 'c' && strcmp(body, HEAD "]}\n") == 0,
           "all stale: an empty page that links on");

    /* a short reply with a stale entry is the end */

    memset(&c, 0, sizeof(check_t));
    c.stored = "b";
    rc = page_of("*4\r\n" ENTRY(DA, "a") ENTRY(DB, "b"), 2, &c, body, &page,
                 &last);
    tap_ok(rc == NGX_OCI_INDEX_PAGE_OK && page.count == 1 && !page.more,
           "the index had no more: no link");

    /* no descriptor (nil), an id that is not a digest */

    memset(&c, 0, sizeof(check_t));
    c.stored = "abc";
    rc = page_of("*6\r\n" NIL_ENTRY(DA) "$3\r\nxyz\r\n$9\r\n{\"d\":\"x\"}\r\n"
                 ENTRY(DC, "c"), 3, &c, body, &page, &last);
    tap_ok(rc == NGX_OCI_INDEX_PAGE_OK && page.count == 1
           && c.unlistable == 2 && c.nstale == 2,
           "nil descriptor and non-digest: not listable, stale");
    tap_ok(last == 'c' && !page.more, "the cursor is the digest");

    /* n = 0: nothing listed, no cursor, no link */

    memset(&c, 0, sizeof(check_t));
    c.stored = "abc";
    rc = page_of("*2\r\n" ENTRY(DA, "a"), 0, &c, body, &page, &last);
    tap_ok(rc == NGX_OCI_INDEX_PAGE_OK && page.count == 0 && !page.more
           && last == 0, "n=0: an empty page, no link");

    /* failures */

    memset(&c, 0, sizeof(check_t));
    c.stored = "abc";
    c.fail = 1;
    rc = page_of("*2\r\n" ENTRY(DA, "a"), 2, &c, body, &page, &last);
    tap_ok(rc == NGX_OCI_INDEX_PAGE_ERROR, "the check failed: error");

    memset(&c, 0, sizeof(check_t));
    c.stored = "abc";
    rc = page_of("-ERR no\r\n", 2, &c, body, &page, &last);
    tap_ok(rc == NGX_OCI_INDEX_PAGE_BAD, "an error reply: not a list");

    rc = page_of(":1\r\n", 2, &c, body, &page, &last);
    tap_ok(rc == NGX_OCI_INDEX_PAGE_BAD, "an integer: not a list");

    return tap_done();
}
