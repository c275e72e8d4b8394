
/*
 * oci-admin, the operations tool of ngx_oci_module: the subcommand table.
 * The top of the tool: nothing calls into this file, and it calls only
 * the subcommands.
 */


#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "oci_admin_defs.h"
#include "oci_admin_events.h"
#include "oci_admin_fsck.h"
#include "oci_admin_gc.h"
#include "oci_admin_reindex.h"


typedef struct {
    const char  *name;
    int        (*handler)(int argc, char **argv);
    const char  *summary;
} oci_admin_command_t;


static void oci_admin_usage(FILE *f);


static const oci_admin_command_t  oci_admin_commands[] = {
    { "reindex", oci_admin_reindex,
      "rebuild the referrers index in Redis from the storage" },
    { "fsck", oci_admin_fsck,
      "check the storage, and repair it with --repair" },
    { "gc", oci_admin_gc,
      "delete blobs (and with --untagged, manifests) nothing refers to" },
    { "events", oci_admin_events,
      "list the registry's events; \"events relay\" sends them as webhooks" },
    { NULL, NULL, NULL }
};


int
main(int argc, char **argv)
{
    const oci_admin_command_t  *cmd;

    /* a connection closed by the server is an error, not a signal */

    signal(SIGPIPE, SIG_IGN);

    if (argc < 2) {
        oci_admin_usage(stderr);
        return OCI_ADMIN_EXIT_USAGE;
    }

    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0
        || strcmp(argv[1], "help") == 0)
    {
        oci_admin_usage(stdout);
        return OCI_ADMIN_EXIT_OK;
    }

    for (cmd = oci_admin_commands; cmd->name; cmd++) {
        if (strcmp(argv[1], cmd->name) == 0) {
            return cmd->handler(argc - 1, argv + 1);
        }
    }

    fprintf(stderr, "oci-admin: unknown command \"%s\"\n\n", argv[1]);
    oci_admin_usage(stderr);

    return OCI_ADMIN_EXIT_USAGE;
}


static void
oci_admin_usage(FILE *f)
{
    const oci_admin_command_t  *cmd;

    fprintf(f,
            "usage: oci-admin <command> [options]\n"
            "\n"
            "Operations on the storage and the referrers index of an\n"
            "ngx_oci_module registry.\n"
            "\n"
            "commands:\n");

    for (cmd = oci_admin_commands; cmd->name; cmd++) {
        fprintf(f, "  %-10s %s\n", cmd->name, cmd->summary);
    }

    fprintf(f,
            "\n"
            "\"oci-admin <command> --help\" describes a command's options.\n"
            "\n"
            "exit status: 0 done, 1 usage error, 2 Redis unreachable or\n"
            "failing, 3 corrupt content found, 4 other errors (on "
            "stderr)\n");
}
