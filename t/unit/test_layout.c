
/*
 * ngx_oci_layout_path(): every kind of path of the storage layout, and
 * the refusals (no room, a digest without an algorithm); the names and
 * headers of cached referrers pages.
 */


#include <string.h>

#include "tap.h"
#include "ngx_oci_layout.h"


#define D256  "sha256:" \
    "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"


typedef struct {
    ngx_oci_layout_e   what;
    const char        *name;
    const char        *ref;
    const char        *path;       /* NULL: refused */
} layout_case_t;


static const layout_case_t  cases[] = {
    { NGX_OCI_LAYOUT_BLOBS, NULL, NULL, "blobs" },
    { NGX_OCI_LAYOUT_BLOB, NULL, D256,
      "blobs/sha256/2c/"
      "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" },
    { NGX_OCI_LAYOUT_REPOS, NULL, NULL, "repositories" },
    { NGX_OCI_LAYOUT_REPO, "library/alpine", NULL,
      "repositories/library/alpine" },
    { NGX_OCI_LAYOUT_REPO_BLOBS_DIR, "a/b", NULL, "repositories/a/b/_blobs" },
    { NGX_OCI_LAYOUT_REPO_BLOB, "a", D256,
      "repositories/a/_blobs/sha256/"
      "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" },
    { NGX_OCI_LAYOUT_MANIFESTS_DIR, "a", NULL, "repositories/a/_manifests" },
    { NGX_OCI_LAYOUT_MANIFEST, "a", D256,
      "repositories/a/_manifests/sha256/"
      "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" },
    { NGX_OCI_LAYOUT_MANIFEST_TYPE, "a", D256,
      "repositories/a/_manifests/sha256/"
      "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
      ".type" },
    { NGX_OCI_LAYOUT_TAGS_DIR, "a", NULL, "repositories/a/_tags" },
    { NGX_OCI_LAYOUT_TAG, "a", "v1.0", "repositories/a/_tags/v1.0" },
    { NGX_OCI_LAYOUT_TAG_LOCK_FILE, "a", "v1.0",
      "repositories/a/_tags/.v1.0.lock" },
    { NGX_OCI_LAYOUT_DIGEST_LOCK_FILE, "a", D256,
      "repositories/a/_tags/.sha256:"
      "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
      ".lock" },
    { NGX_OCI_LAYOUT_UPLOADS, NULL, NULL, "_uploads" },
    { NGX_OCI_LAYOUT_UPLOAD_DATA, NULL, "0123abcd", "_uploads/0123abcd.data" },
    { NGX_OCI_LAYOUT_UPLOAD_STATE, NULL, "0123abcd",
      "_uploads/0123abcd.state" },
    { NGX_OCI_LAYOUT_TMP, NULL, NULL, "_tmp" },
    { NGX_OCI_LAYOUT_TMP_FILE, NULL, "ff00", "_tmp/ff00" },
    { NGX_OCI_LAYOUT_QUARANTINE, NULL, NULL, "_quarantine" },
    { NGX_OCI_LAYOUT_SLOTS, NULL, NULL, "_slots" },
    { NGX_OCI_LAYOUT_SLOT, NULL, "17", "_slots/_all/17" },
    { NGX_OCI_LAYOUT_REPO_SLOT, "a/b", "0", "_slots/a/b/_uploads/0" },
    { NGX_OCI_LAYOUT_REFERRERS_ROOT, "a/b", NULL,
      "repositories/a/b/_referrers" },
    { NGX_OCI_LAYOUT_REFERRERS_DIR, "a", D256,
      "repositories/a/_referrers/sha256/"
      "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" },

    /* digests the layout cannot place */
    { NGX_OCI_LAYOUT_BLOB, NULL, "sha256", NULL },
    { NGX_OCI_LAYOUT_BLOB, NULL, ":abcd", NULL },
    { NGX_OCI_LAYOUT_BLOB, NULL, "sha256:a", NULL },
    { NGX_OCI_LAYOUT_MANIFEST, "a", "nocolon", NULL },
    { NGX_OCI_LAYOUT_REPO_BLOB, "a", "", NULL },
    { (ngx_oci_layout_e) 99, "a", D256, NULL },
    { 0, NULL, NULL, NULL }
};


static void test_pages(void);


int
main(void)
{
    u_char                buf[NGX_OCI_LAYOUT_MAX];
    size_t                n, len;
    const char           *name, *ref;
    const layout_case_t  *c;

    for (c = cases; c->name || c->ref || c->path; c++) {
        name = c->name ? c->name : "";
        ref = c->ref ? c->ref : "";

        memset(buf, 'x', sizeof(buf));

        n = ngx_oci_layout_path(buf, sizeof(buf), c->what,
                                (const u_char *) name, strlen(name),
                                (const u_char *) ref, strlen(ref));

        if (c->path == NULL) {
            tap_ok(n == 0, "kind %d \"%s\" \"%s\" refused", (int) c->what,
                   name, ref);
            continue;
        }

        if (!tap_ok(n == strlen(c->path) && buf[n] == '\0'
                    && memcmp(buf, c->path, n) == 0, "%s", c->path))
        {
            tap_diag("got %zu \"%.*s\"", n, (int) n, (char *) buf);
        }
    }

    /* exactly the room needed, and one byte less */

    len = strlen("repositories/a/_tags/v1");

    tap_ok(ngx_oci_layout_path(buf, len + 1, NGX_OCI_LAYOUT_TAG,
                               (const u_char *) "a", 1,
                               (const u_char *) "v1", 2) == len,
           "a path that just fits");

    tap_ok(ngx_oci_layout_path(buf, len, NGX_OCI_LAYOUT_TAG,
                               (const u_char *) "a", 1,
                               (const u_char *) "v1", 2) == 0,
           "a path one byte too long");

    /* the longest name with a sha512 digest fits NGX_OCI_LAYOUT_MAX */

    {
        u_char  longname[255], digest[7 + 128];

        memset(longname, 'a', sizeof(longname));
        memcpy(digest, "sha512:", 7);
        memset(digest + 7, 'f', 128);

        tap_ok(ngx_oci_layout_path(buf, sizeof(buf),
                                   NGX_OCI_LAYOUT_MANIFEST_TYPE,
                                   longname, sizeof(longname),
                                   digest, sizeof(digest)) > 0,
               "a 255-byte name and a sha512 digest fit");
    }

    test_pages();

    return tap_done();
}


/* page names differ by every part of the key; headers read back */

static void
test_pages(void)
{
    u_char                  a[128], b[128], h[NGX_OCI_LAYOUT_PAGE_HEADER];
    u_char                  etag[64];
    size_t                  n;
    ngx_oci_layout_page_t   pg;
    static const u_char     last[] = D256;

    n = ngx_oci_layout_page_name(a, sizeof(a), 100, NULL, 0, NULL, 0);
    tap_ok(n == NGX_OCI_LAYOUT_PAGE_NAME_LEN && a[n] == '\0'
           && memcmp(a, "page-", 5) == 0, "a page name: %s", a);

    tap_ok(ngx_oci_layout_page_name(b, sizeof(b), 100, NULL, 0, NULL, 0) == n
           && memcmp(a, b, n) == 0, "the same key, the same name");

    /*
     * Names already on disk must still be found: SHA-256 of
     * "100\n0\n18446744073709551615\n-" and of
     * "10\n71\n17\n<digest>application/vnd.x"
     */

    tap_ok(strcmp((char *) a, "page-8005e20e3cbb1abdb6c8df52a913a241"
                  "9d4e02a53e90b1015bb516eda4a78bfa") == 0,
           "the name of the first page, unfiltered");

    (void) ngx_oci_layout_page_name(b, sizeof(b), 10, last, sizeof(last) - 1,
                                    (const u_char *) "application/vnd.x", 17);
    tap_ok(strcmp((char *) b, "page-f19c3008e3830f3dc5a532704aa01682"
                  "d173da30b3deeecdef663befde433cd0") == 0,
           "the name of a later page, filtered");

    (void) ngx_oci_layout_page_name(b, sizeof(b), 10, NULL, 0, NULL, 0);
    tap_ok(memcmp(a, b, n) != 0, "another page size, another name");

    (void) ngx_oci_layout_page_name(b, sizeof(b), 100, last,
                                    sizeof(last) - 1, NULL, 0);
    tap_ok(memcmp(a, b, n) != 0, "a last digest, another name");

    (void) ngx_oci_layout_page_name(b, sizeof(b), 100, NULL, 0,
                                    (const u_char *) "", 0);
    tap_ok(memcmp(a, b, n) != 0, "an empty filter is not no filter");

    (void) ngx_oci_layout_page_name(a, sizeof(a), 100, NULL, 0,
                                    (const u_char *) "t", 1);
    tap_ok(memcmp(a, b, n) != 0, "filters differ");

    tap_ok(ngx_oci_layout_page_name(a, n, 100, NULL, 0, NULL, 0) == 0,
           "no room for a name");

    memset(etag, 'a', sizeof(etag));

    tap_ok(ngx_oci_layout_page_header(h, etag, last, sizeof(last) - 1) == 0
           && ngx_oci_layout_page_parse(h, sizeof(h), &pg) == 0
           && memcmp(pg.etag, etag, 64) == 0
           && pg.last_len == sizeof(last) - 1
           && memcmp(pg.last, last, pg.last_len) == 0,
           "a header with a Link read back");

    tap_ok(ngx_oci_layout_page_header(h, etag, NULL, 0) == 0
           && ngx_oci_layout_page_parse(h, sizeof(h), &pg) == 0
           && pg.last == NULL, "a header without a Link read back");

    tap_ok(ngx_oci_layout_page_parse(h, sizeof(h) - 1, &pg) == -1,
           "a short header refused");

    h[20] = 'X';
    tap_ok(ngx_oci_layout_page_parse(h, sizeof(h), &pg) == -1,
           "an ETag that is not hex refused");

    (void) ngx_oci_layout_page_header(h, etag, last, sizeof(last) - 1);
    h[200] = 'x';
    tap_ok(ngx_oci_layout_page_parse(h, sizeof(h), &pg) == -1,
           "padding that is not blank refused");

    (void) ngx_oci_layout_page_header(h, etag, last, sizeof(last) - 1);
    h[NGX_OCI_LAYOUT_PAGE_HEADER - 2] = 'x';
    tap_ok(ngx_oci_layout_page_parse(h, sizeof(h), &pg) == -1,
           "padding whose last byte is not blank refused");

    (void) ngx_oci_layout_page_header(h, etag, last, sizeof(last) - 1);
    h[9 + 64 + 1 + sizeof(last) - 1] = '\t';
    tap_ok(ngx_oci_layout_page_parse(h, sizeof(h), &pg) == -1,
           "padding whose first byte is not blank refused");

    (void) ngx_oci_layout_page_header(h, etag, (const u_char *) "nope", 4);
    tap_ok(ngx_oci_layout_page_parse(h, sizeof(h), &pg) == -1,
           "a cursor that is not a digest refused");
}
