
/*
 * oci-admin: what it tells the operator.  Warnings on stderr, the
 * progress line, the JSON summary on stdout, and the exit status.
 */


#ifndef _OCI_ADMIN_MESSAGE_H_INCLUDED_
#define _OCI_ADMIN_MESSAGE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "oci_admin_defs.h"


/* stderr, "oci-admin: " first, the progress line cleared */
void oci_admin_warn(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/*
 * The progress line: a single line of stderr rewritten with "\r", at most
 * ten times a second, and only when enabled (stderr is a terminal and
 * --quiet was not given).  oci_admin_progress_end() erases it.
 */
void oci_admin_progress_init(int enabled);
void oci_admin_progress(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
void oci_admin_progress_end(void);

/* a line of stdout, the progress line cleared first */
void oci_admin_say(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* seconds from a monotonic clock */
double oci_admin_now(void);

/*
 * The exit status of a run that got to its end, the same rules for every
 * subcommand: OCI_ADMIN_EXIT_ERROR when the summary could not be printed
 * (printed is not 0), else OCI_ADMIN_EXIT_REDIS when Redis failed, else
 * OCI_ADMIN_EXIT_ERROR after errors, else OCI_ADMIN_EXIT_CORRUPT when
 * corrupt content is left, else OCI_ADMIN_EXIT_OK
 */
int oci_admin_exit(int printed, int redis_failed, uint64_t errors,
    uint64_t corrupt);


/* a counter of a summary, as --json names it */

typedef struct {
    const char  *name;
    uint64_t     n;
} oci_admin_count_t;

/*
 * The summary as one compact JSON object on stdout: the members of o,
 * the counters, the members of tail if not NULL, then "seconds" rounded
 * to milliseconds.  The references to o and tail are taken; o NULL is
 * out of memory.  0, or -1 after a message.
 */
int oci_admin_print_json(json_t *o, const oci_admin_count_t *c, size_t n,
    json_t *tail, double seconds);


#endif /* _OCI_ADMIN_MESSAGE_H_INCLUDED_ */
