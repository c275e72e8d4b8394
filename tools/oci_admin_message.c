
/*
 * oci-admin: warnings, the progress line and the JSON summary.
 *
 * The progress line is the process's one line of stderr, so its state is
 * the file's: every warning has to clear it first, whoever prints it.
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "oci_admin_message.h"


static void oci_admin_progress_clear(void);
static json_t *oci_admin_json(json_t *o, const oci_admin_count_t *c,
    size_t n, json_t *tail, double seconds);


static int     oci_admin_progress_on;
static int     oci_admin_progress_shown;
static double  oci_admin_progress_last;


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
oci_admin_say(const char *fmt, ...)
{
    va_list  args;

    oci_admin_progress_clear();

    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);

    putchar('\n');
}


void
oci_admin_progress_init(int enabled)
{
    oci_admin_progress_on = enabled;
    oci_admin_progress_shown = 0;
    oci_admin_progress_last = 0;
}


void
oci_admin_progress(const char *fmt, ...)
{
    int      n, pad;
    char     line[256];
    double   now;
    va_list  args;

    if (!oci_admin_progress_on) {
        return;
    }

    now = oci_admin_now();

    if (now - oci_admin_progress_last < 0.1) {
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
oci_admin_exit(int printed, int redis_failed, uint64_t errors,
    uint64_t corrupt)
{
    if (printed != 0) {
        return OCI_ADMIN_EXIT_ERROR;
    }

    if (redis_failed) {
        return OCI_ADMIN_EXIT_REDIS;
    }

    if (errors) {
        return OCI_ADMIN_EXIT_ERROR;
    }

    return corrupt ? OCI_ADMIN_EXIT_CORRUPT : OCI_ADMIN_EXIT_OK;
}


int
oci_admin_print_json(json_t *o, const oci_admin_count_t *c, size_t n,
    json_t *tail, double seconds)
{
    int    rc;
    char  *s;

    o = oci_admin_json(o, c, n, tail, seconds);

    s = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;

    json_decref(o);

    if (s == NULL) {
        oci_admin_warn("out of memory");
        return -1;
    }

    rc = printf("%s\n", s) < 0 || fflush(stdout) != 0 ? -1 : 0;

    free(s);

    return rc;
}


/* the summary object: NULL out of memory */

static json_t *
oci_admin_json(json_t *o, const oci_admin_count_t *c, size_t n, json_t *tail,
    double seconds)
{
    int     rc;
    size_t  i;

    /* milliseconds are enough */

    seconds = (double) (long long) (seconds * 1000 + 0.5) / 1000;

    rc = (o == NULL);

    for (i = 0; rc == 0 && i < n; i++) {
        rc = json_object_set_new(o, c[i].name,
                                 json_integer((json_int_t) c[i].n));
    }

    if (rc == 0 && tail) {
        rc = json_object_update(o, tail);
    }

    if (rc == 0) {
        rc = json_object_set_new(o, "seconds", json_real(seconds));
    }

    json_decref(tail);

    if (rc != 0) {
        json_decref(o);
        return NULL;
    }

    return o;
}
