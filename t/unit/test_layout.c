
/*
 * ngx_oci_layout_path(): every kind of path of the storage layout, and
 * the refusals (no room, a digest without an algorithm).
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

    /* digests the layout cannot place */
    { NGX_OCI_LAYOUT_BLOB, NULL, "sha256", NULL },
    { NGX_OCI_LAYOUT_BLOB, NULL, ":abcd", NULL },
    { NGX_OCI_LAYOUT_BLOB, NULL, "sha256:a", NULL },
    { NGX_OCI_LAYOUT_MANIFEST, "a", "nocolon", NULL },
    { NGX_OCI_LAYOUT_REPO_BLOB, "a", "", NULL },
    { (ngx_oci_layout_e) 99, "a", D256, NULL },
    { 0, NULL, NULL, NULL }
};


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

    return tap_done();
}
