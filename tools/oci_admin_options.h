
/*
 * oci-admin: the command line of a subcommand.  The options they share
 * are --storage, --redis, --password, --db, --prefix, --master, --json,
 * --quiet and --help, each with the same getopt value in every
 * subcommand's table.
 */


#ifndef _OCI_ADMIN_OPTIONS_H_INCLUDED_
#define _OCI_ADMIN_OPTIONS_H_INCLUDED_


#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

#include "oci_admin_defs.h"
#include "oci_admin_redis.h"


/* the entries of the shared options in a subcommand's table */

#define OCI_ADMIN_OPTION_STORAGE                                             \
    { "storage",  required_argument, NULL, 's' }

#define OCI_ADMIN_OPTIONS_REDIS                                              \
    { "redis",    required_argument, NULL, 'r' },                            \
    { "password", required_argument, NULL, 'p' },                            \
    { "db",       required_argument, NULL, 'd' },                            \
    { "prefix",   required_argument, NULL, 'P' },                            \
    { "master",   required_argument, NULL, 'm' }

#define OCI_ADMIN_OPTIONS_OUTPUT                                             \
    { "json",     no_argument,       NULL, 'j' },                            \
    { "quiet",    no_argument,       NULL, 'q' },                            \
    { "help",     no_argument,       NULL, 'h' }


typedef struct {
    const char         *storage;        /* without trailing slashes */
    const char         *redis_addr;
    const char         *master;         /* with --redis sentinel=... */
    const char         *password;
    const char         *prefix;
    size_t              prefix_len;
    long                db;
    int                 json;
    int                 quiet;
    char                root[OCI_ADMIN_PATH_LEN];
} oci_admin_opts_t;

typedef struct {
    const char             *name;       /* "gc", for messages */
    const struct option    *longopts;
    const char             *usage;     /* the text of --help */

    /*
     * The subcommand's own options, looked at first: 0 taken, 1 not its
     * own, -1 after a message when the value is wrong
     */
    int                   (*option)(void *data, int c, char *arg);

    int                     redis_required;
    size_t                  reserve;    /* bytes of root kept for paths */
    int                     no_storage; /* Redis only: no --storage */
} oci_admin_getopt_t;

/*
 * Parses argv, checks --storage (a directory, its trailing slashes
 * removed, stored in o->root) and --prefix, takes the password from
 * $REDISCLI_AUTH when not given and enables the progress line.  -1 to go
 * on, else the exit status.
 */
int oci_admin_options(oci_admin_opts_t *o, const oci_admin_getopt_t *g,
    void *data, int argc, char **argv);

/* connects as the options say: OCI_ADMIN_EXIT_OK, or the exit status */
int oci_admin_options_redis(oci_admin_opts_t *o, oci_admin_redis_t *r);

/*
 * The value of the option --<name> of the subcommand cmd: "30s", "10m",
 * "1h", "7d", "2w" or a number of seconds, in nanoseconds in *ns.  0, or
 * -1 after a message when it is none of these or more than 100 years.
 */
int oci_admin_option_duration(const char *cmd, const char *name,
    const char *arg, int64_t *ns);


#endif /* _OCI_ADMIN_OPTIONS_H_INCLUDED_ */
