
/*
 * One page of the referrers API, built from the index's reply. Pure: the
 * reply is hiredis' parsed data (no I/O), the check whether a manifest is
 * stored is the caller's callback, so the unit tests and the fuzzer drive
 * the same code as the module.
 */


#ifndef _NGX_OCI_INDEX_PAGE_H_INCLUDED_
#define _NGX_OCI_INDEX_PAGE_H_INCLUDED_


#include <stddef.h>
#include <sys/types.h>
#include <hiredis/hiredis.h>


#define NGX_OCI_INDEX_PAGE_OK      0
#define NGX_OCI_INDEX_PAGE_ERROR  -1      /* the callback failed */
#define NGX_OCI_INDEX_PAGE_BAD    -2      /* the reply is not a list */

#define NGX_OCI_INDEX_PAGE_NONE   ((size_t) -1)


/*
 * Called for each entry of the reply up to the end of the page, in order:
 * "listable" is 0 when the entry cannot be listed whatever the storage
 * holds (its id is not a digest, or it has no descriptor). Returns 1 to
 * list it (its manifest is stored), 0 for an entry that is stale (the
 * caller remembers it, to drop it from the index), -1 on failure.
 */
typedef int (*ngx_oci_index_page_check_pt)(void *data, const u_char *id,
    size_t len, int listable);


typedef struct {
    size_t        len;          /* bytes of the body written */
    size_t        count;        /* entries listed */
    size_t        last;         /* index in the reply of the digest the
                                   next page starts after, or _NONE */
    unsigned      more:1;       /* more entries may follow: link on */
} ngx_oci_index_page_t;


/*
 * The most bytes the page of "reply" (digest, descriptor, digest, ...;
 * want + 1 entries at most when the index has more) can take.
 */
size_t ngx_oci_index_page_size(const redisReply *reply);

/*
 * Writes the image index of at most "want" entries of "reply" into buf
 * (ngx_oci_index_page_size() bytes): stored entries listed, stale ones
 * handed to the callback and left out.
 *
 * Another page may follow when the reply holds more entries than this
 * page took (the index returns want + 1 when it has more), also when the
 * page is short because stale entries were left out: a client that
 * follows Link then sees every stored referrer. The next page starts
 * after the last entry this page examined (listed or stale).
 */
int ngx_oci_index_page(const redisReply *reply, size_t want,
    ngx_oci_index_page_check_pt check, void *data, u_char *buf,
    size_t size, ngx_oci_index_page_t *page);


#endif /* _NGX_OCI_INDEX_PAGE_H_INCLUDED_ */
