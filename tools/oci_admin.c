
/*
 * oci-admin: the subcommand table, messages, the progress line and the
 * small containers the subcommands share.
 */


#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "oci_admin.h"


typedef struct {
    const char  *name;
    int        (*handler)(int argc, char **argv);
    const char  *summary;
} oci_admin_command_t;


static void oci_admin_usage(FILE *f);
static int oci_admin_option(oci_admin_opts_t *o, const oci_admin_getopt_t *g,
    int c, char **argv);
static void oci_admin_progress_clear(void);
static uint64_t oci_admin_set_hash(const char *p, size_t len);
static int oci_admin_set_grow(oci_admin_set_t *s);


static oci_admin_command_t  oci_admin_commands[] = {
    { "reindex", oci_admin_reindex,
      "rebuild the referrers index in Redis from the storage" },
    { "fsck", oci_admin_fsck,
      "check the storage, and repair it with --repair" },
    { "gc", oci_admin_gc,
      "delete blobs (and with --untagged, manifests) nothing refers to" },
    { NULL, NULL, NULL }
};


static int     oci_admin_progress_on;
static int     oci_admin_progress_shown;
static double  oci_admin_progress_last;


int
main(int argc, char **argv)
{
    oci_admin_command_t  *cmd;

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
    oci_admin_command_t  *cmd;

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


int
oci_admin_options(oci_admin_opts_t *o, const oci_admin_getopt_t *g,
    void *data, int argc, char **argv)
{
    int          c, rc;
    size_t       len;
    struct stat  st;

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

    if (o->storage == NULL || (g->redis_required && o->redis_addr == NULL)) {
        fprintf(stderr, "oci-admin %s: %s required\n", g->name,
                g->redis_required ? "--storage and --redis are"
                                  : "--storage is");
        goto usage;
    }

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
        g->usage(stdout);
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


int
oci_admin_options_redis(oci_admin_opts_t *o, oci_admin_redis_t *r)
{
    int  rc;

    rc = oci_admin_redis_connect(r, o->redis_addr, o->password, o->db);
    if (rc != 0) {
        return rc == -2 ? OCI_ADMIN_EXIT_USAGE : OCI_ADMIN_EXIT_REDIS;
    }

    return OCI_ADMIN_EXIT_OK;
}


void
oci_admin_warn(const char *fmt, ...)
{
    va_list  args;

    oci_admin_progress_clear();

    fputs("oci-admin: ", stderr);

    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);

    fputc('\n', stderr);
}


void
oci_admin_progress_init(int enabled)
{
    oci_admin_progress_on = enabled;
    oci_admin_progress_shown = 0;
    oci_admin_progress_last = 0;
}


void
oci_admin_progress(int force, const char *fmt, ...)
{
    int      n, pad;
    char     line[256];
    double   now;
    va_list  args;

    if (!oci_admin_progress_on) {
        return;
    }

    now = oci_admin_now();

    if (!force && now - oci_admin_progress_last < 0.1) {
        return;
    }

    oci_admin_progress_last = now;

    va_start(args, fmt);
    n = vsnprintf(line, sizeof(line), fmt, args);
    va_end(args);

    if (n < 0) {
        return;
    }

    if ((size_t) n >= sizeof(line)) {
        n = sizeof(line) - 1;
    }

    /* spaces over what a longer previous line left */

    pad = oci_admin_progress_shown > n ? oci_admin_progress_shown - n : 0;

    fprintf(stderr, "\r%s%*s", line, pad, "");
    fflush(stderr);

    oci_admin_progress_shown = n;
}


void
oci_admin_progress_end(void)
{
    oci_admin_progress_clear();
    oci_admin_progress_on = 0;
}


static void
oci_admin_progress_clear(void)
{
    if (oci_admin_progress_shown) {
        fprintf(stderr, "\r%*s\r", oci_admin_progress_shown, "");
        fflush(stderr);
        oci_admin_progress_shown = 0;
    }
}


double
oci_admin_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}


int
oci_admin_set_add(oci_admin_set_t *s, const char *p, size_t len)
{
    char      *e;
    size_t     i, mask;

    if (oci_admin_set_has(s, p, len)) {
        return 0;
    }

    /* at most half full */

    if ((s->count + 1) * 2 > s->size && oci_admin_set_grow(s) != 0) {
        return -1;
    }

    e = malloc(len + 1);
    if (e == NULL) {
        return -1;
    }

    memcpy(e, p, len);
    e[len] = '\0';

    mask = s->size - 1;

    for (i = oci_admin_set_hash(p, len) & mask; s->slots[i]; i = (i + 1) & mask)
    {
        /* void */
    }

    s->slots[i] = e;
    s->count++;

    return 1;
}


int
oci_admin_set_has(oci_admin_set_t *s, const char *p, size_t len)
{
    size_t   i, mask;
    char    *e;

    if (s->size == 0) {
        return 0;
    }

    mask = s->size - 1;

    for (i = oci_admin_set_hash(p, len) & mask; s->slots[i]; i = (i + 1) & mask)
    {
        e = s->slots[i];

        if (strncmp(e, p, len) == 0 && e[len] == '\0') {
            return 1;
        }
    }

    return 0;
}


void
oci_admin_set_free(oci_admin_set_t *s)
{
    size_t  i;

    for (i = 0; i < s->size; i++) {
        free(s->slots[i]);
    }

    free(s->slots);

    s->slots = NULL;
    s->size = 0;
    s->count = 0;
}


static uint64_t
oci_admin_set_hash(const char *p, size_t len)
{
    size_t    i;
    uint64_t  h;

    /* FNV-1a */

    h = 0xcbf29ce484222325ULL;

    for (i = 0; i < len; i++) {
        h ^= (u_char) p[i];
        h *= 0x100000001b3ULL;
    }

    return h;
}


static int
oci_admin_set_grow(oci_admin_set_t *s)
{
    char    **slots, *e;
    size_t    i, j, size, mask;

    size = s->size ? s->size * 2 : 64;
    mask = size - 1;

    slots = calloc(size, sizeof(char *));
    if (slots == NULL) {
        return -1;
    }

    for (i = 0; i < s->size; i++) {
        e = s->slots[i];
        if (e == NULL) {
            continue;
        }

        for (j = oci_admin_set_hash(e, strlen(e)) & mask; slots[j];
             j = (j + 1) & mask)
        {
            /* void */
        }

        slots[j] = e;
    }

    free(s->slots);

    s->slots = slots;
    s->size = size;

    return 0;
}


int
oci_admin_cmd_push(oci_admin_cmd_t *c, const char *p, size_t len)
{
    int           cap;
    size_t       *l;
    const char  **a;

    if (c->argc == c->cap) {
        cap = c->cap ? c->cap * 2 : 16;

        a = realloc(c->argv, cap * sizeof(const char *));
        if (a == NULL) {
            return -1;
        }

        c->argv = a;

        l = realloc(c->len, cap * sizeof(size_t));
        if (l == NULL) {
            return -1;
        }

        c->len = l;
        c->cap = cap;
    }

    c->argv[c->argc] = p;
    c->len[c->argc] = len;
    c->argc++;

    return 0;
}


void
oci_admin_cmd_free(oci_admin_cmd_t *c)
{
    free(c->argv);
    free(c->len);

    c->argv = NULL;
    c->len = NULL;
    c->argc = 0;
    c->cap = 0;
}
