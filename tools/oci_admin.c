
/*
 * oci-admin: the subcommand table, messages, the progress line and the
 * small containers the subcommands share.
 */


#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oci_admin.h"


typedef struct {
    const char  *name;
    int        (*handler)(int argc, char **argv);
    const char  *summary;
} oci_admin_command_t;


static void oci_admin_usage(FILE *f);
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
