
/*
 * oci-admin fsck: checks the storage against docs/storage.md and, with
 * --repair, puts right what can be put right without guessing.
 *
 *   - blobs/: every file is hashed (each inode once) and compared with
 *     its name;
 *   - each repository: its links in _blobs/ and _manifests/ must be hard
 *     links of the blobs/ file of their digest, or at least hold the right
 *     content; each manifest needs a usable ".type", must be valid with
 *     it, and what it refers to (config, layers, index entries) must be
 *     in the repository, unless --mirror says the storage is a mirror's,
 *     filled as clients pull; each tag must name a stored manifest;
 *   - _uploads/: sessions must be readable and not long abandoned;
 *   - anything else in the layout is a stray.
 *
 * Repairs never delete content: corrupt files are renamed into
 * <root>/_quarantine/<time>/, keeping their path.  What is removed is a
 * link whose content is quarantined, a tag naming nothing, a ".type"
 * without its manifest, an abandoned upload session.
 */


#include <stdio.h>
#include <string.h>
#include <time.h>

#include "oci_admin_fsck.h"
#include "oci_admin_fsck_content.h"
#include "oci_admin_fsck_problem.h"
#include "oci_admin_fsck_repo.h"
#include "oci_admin_fsck_uploads.h"
#include "oci_admin_message.h"
#include "oci_admin_store.h"


static int oci_admin_fsck_option(void *data, int c, char *arg);
static void oci_admin_fsck_root(oci_admin_fsck_t *fx);
static int oci_admin_fsck_known(const char *name);


static const char  oci_admin_fsck_usage[] =
"usage: oci-admin fsck --storage <root> [--repair] [options]\n"
"\n"
"Checks the storage: every blob file is hashed and compared with its\n"
"name, every repository link with its blob, every manifest is parsed and\n"
"what it refers to looked for, every tag must name a stored manifest;\n"
"stray files and corrupt or abandoned upload sessions are reported.  One\n"
"line per problem on stderr, a summary on stdout.\n"
"\n"
"  --storage <root>        the oci_storage directory\n"
"  --repair                move corrupt content to <root>/"
    NGX_OCI_LAYOUT_QUARANTINE_DIR "/,\n"
"                          remove links to it, tags naming nothing and\n"
"                          abandoned sessions, recreate missing "
    NGX_OCI_LAYOUT_TYPE_SUFFIX " files\n"
"  --mirror                the storage of a mirror: what a manifest refers\n"
"                          to may not be fetched yet; counted, no problem\n"
"  --upload-timeout <dur>  as oci_upload_timeout (default: 1h)\n"
"  --json                  print the summary as a JSON object\n"
"  --quiet                 no progress line on a terminal\n"
"  --help                  this text\n"
"\n"
"exit status: 0 clean (or all repaired), 1 usage error, 3 problems remain,\n"
"4 I/O errors (on stderr)\n";


static const struct option  oci_admin_fsck_long[] = {
    OCI_ADMIN_OPTION_STORAGE,
    { "repair",         no_argument,       NULL, 'R' },
    { "mirror",         no_argument,       NULL, 'M' },
    { "upload-timeout", required_argument, NULL, 'u' },
    OCI_ADMIN_OPTIONS_OUTPUT,
    { NULL, 0, NULL, 0 }
};

/*
 * --repair is 'R': 'r' is --redis to oci_admin_options(), which fsck
 * does not have.  Room is kept under the root for the paths fsck makes.
 */

static const oci_admin_getopt_t  oci_admin_fsck_getopt = {
    "fsck", oci_admin_fsck_long, oci_admin_fsck_usage, oci_admin_fsck_option,
    0, 256, 0
};


int
oci_admin_fsck(int argc, char **argv)
{
    int               rc;
    oci_admin_fsck_t  fx;

    memset(&fx, 0, sizeof(oci_admin_fsck_t));

    fx.upload_timeout = 3600 * OCI_ADMIN_NS;

    rc = oci_admin_options(&fx.opt, &oci_admin_fsck_getopt, &fx, argc, argv);
    if (rc != -1) {
        return rc;
    }

    fx.start = oci_admin_now();
    fx.wall_start = time(NULL);

    if (fx.opt.json) {
        fx.problems = json_array();
        if (fx.problems == NULL) {
            oci_admin_warn("out of memory");
            return OCI_ADMIN_EXIT_ERROR;
        }
    }

    oci_admin_fsck_root(&fx);
    oci_admin_fsck_blobs(&fx);
    oci_admin_fsck_repos(&fx);
    oci_admin_fsck_uploads(&fx);

    oci_admin_progress_end();

    if (fx.mirror && oci_admin_atime_refused()) {
        oci_admin_warn("fsck: %llu files were read without O_NOATIME, which "
                       "only their owner may use: their access times now "
                       "say they were pulled; run oci-admin as the user "
                       "that owns the storage",
                       (unsigned long long) oci_admin_atime_refused());
    }

    rc = oci_admin_fsck_report(&fx);

    json_decref(fx.problems);
    oci_admin_imap_free(&fx.inodes);

    return oci_admin_exit(rc, 0, fx.errors, fx.found - fx.repaired);
}


/* fsck's own options: 0 taken, 1 not its own, -1 after a message */

static int
oci_admin_fsck_option(void *data, int c, char *arg)
{
    oci_admin_fsck_t  *fx = data;

    switch (c) {

    case 'R':
        fx->repair = 1;
        return 0;

    case 'M':
        fx->mirror = 1;
        return 0;

    case 'u':
        return oci_admin_option_duration("fsck", "upload-timeout", arg,
                                         &fx->upload_timeout);

    default:
        return 1;
    }
}


/* what the root holds besides the directories of the layout */

static void
oci_admin_fsck_root(oci_admin_fsck_t *fx)
{
    int             rc;
    size_t          i;
    oci_admin_ls_t  ls;

    rc = oci_admin_ls(fx->opt.storage, &ls);
    if (rc != OCI_ADMIN_OK) {
        fx->errors++;
        return;
    }

    for (i = 0; i < ls.n; i++) {
        if (ls.e[i].type != DT_DIR || !oci_admin_fsck_known(ls.e[i].name)) {
            oci_admin_fsck_stray(fx, ls.e[i].name,
                                 "not part of the storage layout");
        }
    }

    oci_admin_ls_free(&ls);
}


static int
oci_admin_fsck_known(const char *name)
{
    size_t  i;

    static const char  *dirs[] = {
        NGX_OCI_LAYOUT_BLOBS_DIR, NGX_OCI_LAYOUT_REPOS_DIR,
        NGX_OCI_LAYOUT_UPLOADS_DIR, NGX_OCI_LAYOUT_TMP_DIR,
        NGX_OCI_LAYOUT_QUARANTINE_DIR, NGX_OCI_LAYOUT_SLOTS_DIR, "lost+found"
    };

    for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        if (strcmp(name, dirs[i]) == 0) {
            return 1;
        }
    }

    return 0;
}
