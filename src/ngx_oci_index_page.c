
/*
 * One page of the referrers API from the index's reply
 * (ngx_oci_index_page.h).
 */


#include <string.h>

#include "ngx_oci_index_page.h"
#include "ngx_oci_grammar.h"


static const char  ngx_oci_index_page_head[] =
    "{\"schemaVersion\":2,\"mediaType\":"
    "\"application/vnd.oci.image.index.v1+json\",\"manifests\":[";

static const char  ngx_oci_index_page_tail[] = "]}\n";


size_t
ngx_oci_index_page_size(const redisReply *reply)
{
    size_t       len, i;
    redisReply  *desc;

    len = sizeof(ngx_oci_index_page_head) - 1
          + sizeof(ngx_oci_index_page_tail) - 1;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        return len;
    }

    for (i = 0; i + 1 < reply->elements; i += 2) {
        desc = reply->element[i + 1];

        if (desc->type == REDIS_REPLY_STRING) {
            len += desc->len + 1;
        }
    }

    return len;
}


int
ngx_oci_index_page(const redisReply *reply, size_t want,
    ngx_oci_index_page_check_pt check, void *data, u_char *buf,
    size_t size, ngx_oci_index_page_t *page)
{
    int          rc, listable;
    u_char      *p, *end;
    size_t       i, entries;
    redisReply  *id, *desc;

    memset(page, 0, sizeof(ngx_oci_index_page_t));
    page->last = NGX_OCI_INDEX_PAGE_NONE;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || size < ngx_oci_index_page_size(reply))
    {
        return NGX_OCI_INDEX_PAGE_BAD;
    }

    p = buf;
    end = buf + size;

    memcpy(p, ngx_oci_index_page_head, sizeof(ngx_oci_index_page_head) - 1);
    p += sizeof(ngx_oci_index_page_head) - 1;

    entries = reply->elements / 2;

    for (i = 0; i < entries; i++) {

        if (page->count == want) {
            page->more = 1;
            break;
        }

        id = reply->element[2 * i];
        desc = reply->element[2 * i + 1];

        if (id->type != REDIS_REPLY_STRING) {
            continue;
        }

        listable = desc->type == REDIS_REPLY_STRING
                   && ngx_oci_digest_parse((u_char *) id->str, id->len,
                                           NULL, NULL, NULL)
                      == NGX_OCI_DIGEST_OK;

        rc = check(data, (u_char *) id->str, id->len, listable);

        if (rc < 0) {
            return NGX_OCI_INDEX_PAGE_ERROR;
        }

        /* a cursor must be a digest: the next request checks ?last= */

        if (ngx_oci_digest_parse((u_char *) id->str, id->len, NULL, NULL,
                                 NULL)
            == NGX_OCI_DIGEST_OK)
        {
            page->last = 2 * i;
        }

        if (rc == 0 || !listable) {
            continue;
        }

        if (page->count++) {
            *p++ = ',';
        }

        memcpy(p, desc->str, desc->len);
        p += desc->len;
    }

    /*
     * All entries examined, fewer than asked listed: when the index gave
     * a full page plus one, stale entries took the place of stored ones
     * that may follow.
     */

    if (i == entries && entries > want) {
        page->more = 1;
    }

    if (page->last == NGX_OCI_INDEX_PAGE_NONE) {
        page->more = 0;
    }

    if ((size_t) (end - p) < sizeof(ngx_oci_index_page_tail) - 1) {
        return NGX_OCI_INDEX_PAGE_BAD;
    }

    memcpy(p, ngx_oci_index_page_tail, sizeof(ngx_oci_index_page_tail) - 1);
    p += sizeof(ngx_oci_index_page_tail) - 1;

    page->len = p - buf;

    return NGX_OCI_INDEX_PAGE_OK;
}
