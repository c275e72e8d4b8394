
/*
 * oci-admin: the options the subcommands share (oci_admin_options.h).
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oci_admin_fs.h"
#include "oci_admin_message.h"
#include "oci_admin_options.h"


static int oci_admin_option(oci_admin_opts_t *o, const oci_admin_getopt_t *g,
    int c, char **argv);
static int oci_admin_options_check(oci_admin_opts_t *o,
    const oci_admin_getopt_t *g);
static int oci_admin_duration(const char *s, int64_t *seconds);


int
oci_admin_options(oci_admin_opts_t *o, const oci_admin_getopt_t *g,
    void *data, int argc, char **argv)
{
    int  c, rc;

    o->prefix = "oci:";
    o->db = 0;
    o->quiet = 0;

    opterr = 0;
    optind = 1;

    for ( ;; ) {
        c = getopt_long(argc, argv, ":h", g->longopts, NULL);
        if (c == -1) {
            break;
        }

        rc = g->option ? g->option(data, c, optarg) : 1;

        if (rc == -1) {
            return OCI_ADMIN_EXIT_USAGE;
        }

        if (rc == 1) {
            rc = oci_admin_option(o, g, c, argv);

            if (rc == -2) {
                goto usage;
            }

            if (rc != -1) {
                return rc;
            }
        }
    }

    if (optind < argc) {
        fprintf(stderr, "oci-admin %s: unexpected argument \"%s\"\n",
                g->name, argv[optind]);
        goto usage;
    }

    if ((o->storage == NULL && !g->no_storage)
        || (g->redis_required && o->redis_addr == NULL))
    {
        fprintf(stderr, "oci-admin %s: %s required\n", g->name,
                g->no_storage ? "--redis is"
                : g->redis_required ? "--storage and --redis are"
                                    : "--storage is");
        goto usage;
    }

    rc = oci_admin_options_check(o, g);
    if (rc != -1) {
        return rc;
    }

    oci_admin_progress_init(!o->quiet && isatty(STDERR_FILENO));

    return -1;

usage:

    fprintf(stderr, "\"oci-admin %s --help\" lists the options\n", g->name);

    return OCI_ADMIN_EXIT_USAGE;
}


/*
 * A shared option: -1 to go on, -2 after a message for a usage error,
 * else the exit status
 */

static int
oci_admin_option(oci_admin_opts_t *o, const oci_admin_getopt_t *g, int c,
    char **argv)
{
    char  *end;

    switch (c) {

    case 's':
        o->storage = optarg;
        return -1;

    case 'r':
        o->redis_addr = optarg;
        return -1;

    case 'p':
        o->password = optarg;
        return -1;

    case 'm':
        o->master = optarg;
        return -1;

    case 'd':
        o->db = strtol(optarg, &end, 10);

        if (optarg[0] == '\0' || *end != '\0' || o->db < 0
            || o->db > 1000000)
        {
            fprintf(stderr, "oci-admin %s: --db \"%s\" is not a database "
                    "number\n", g->name, optarg);
            return OCI_ADMIN_EXIT_USAGE;
        }

        return -1;

    case 'P':
        o->prefix = optarg;
        return -1;

    case 'j':
        o->json = 1;
        return -1;

    case 'q':
        o->quiet = 1;
        return -1;

    case 'h':
        fputs(g->usage, stdout);
        return OCI_ADMIN_EXIT_OK;

    case ':':
        fprintf(stderr, "oci-admin %s: %s needs a value\n", g->name,
                argv[optind - 1]);
        break;

    default:
        fprintf(stderr, "oci-admin %s: unknown option \"%s\"\n", g->name,
                argv[optind - 1]);
        break;
    }

    return -2;
}


/* the values given: -1 to go on, else the exit status after a message */

static int
oci_admin_options_check(oci_admin_opts_t *o, const oci_admin_getopt_t *g)
{
    size_t       len;
    struct stat  st;

    if (o->password == NULL) {
        o->password = getenv("REDISCLI_AUTH");
    }

    o->prefix_len = strlen(o->prefix);

    /* as oci_redis_prefix: the hash tag must be the pair's */

    if (strchr(o->prefix, '{') || strchr(o->prefix, '}')) {
        fprintf(stderr, "oci-admin %s: --prefix must not contain \"{\" or "
                "\"}\"\n", g->name);
        return OCI_ADMIN_EXIT_USAGE;
    }

    if (o->storage == NULL) {
        return -1;
    }

    /* "/srv/oci/" is "/srv/oci" in messages */

    len = strlen(o->storage);

    while (len > 1 && o->storage[len - 1] == '/') {
        len--;
    }

    if (len >= sizeof(o->root) - g->reserve) {
        fprintf(stderr, "oci-admin %s: --storage is too long\n", g->name);
        return OCI_ADMIN_EXIT_USAGE;
    }

    memcpy(o->root, o->storage, len);
    o->root[len] = '\0';
    o->storage = o->root;

    if (stat(o->storage, &st) == -1 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "oci-admin %s: --storage \"%s\" is not a "
                "directory\n", g->name, o->storage);
        return OCI_ADMIN_EXIT_USAGE;
    }

    return -1;
}


int
oci_admin_options_redis(oci_admin_opts_t *o, oci_admin_redis_t *r)
{
    int  rc;

    rc = oci_admin_redis_connect(r, o->redis_addr, o->password, o->db,
                                 o->master);
    if (rc != 0) {
        return rc == -2 ? OCI_ADMIN_EXIT_USAGE : OCI_ADMIN_EXIT_REDIS;
    }

    return OCI_ADMIN_EXIT_OK;
}


int
oci_admin_option_duration(const char *cmd, const char *name,
    const char *arg, int64_t *ns)
{
    int64_t  seconds;

    if (oci_admin_duration(arg, &seconds) != 0) {
        fprintf(stderr, "oci-admin %s: --%s \"%s\" is not a duration (30s, "
                "10m, 1h, 7d)\n", cmd, name, arg);
        return -1;
    }

    *ns = seconds * OCI_ADMIN_NS;

    return 0;
}


static int
oci_admin_duration(const char *s, int64_t *seconds)
{
    int64_t      n, unit;
    const char  *p;

    n = 0;

    for (p = s; *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (*p - '0');

        if (n > 100LL * 366 * 86400) {
            return -1;
        }
    }

    if (p == s) {
        return -1;
    }

    switch (*p) {
    case '\0':
    case 's':
        unit = 1;
        break;
    case 'm':
        unit = 60;
        break;
    case 'h':
        unit = 3600;
        break;
    case 'd':
        unit = 86400;
        break;
    case 'w':
        unit = 7 * 86400;
        break;
    default:
        return -1;
    }

    if (*p != '\0' && p[1] != '\0') {
        return -1;
    }

    if (n > 100LL * 366 * 86400 / unit) {
        return -1;
    }

    *seconds = n * unit;

    return 0;
}
