
/*
 * oci-admin: what it tells the operator.  Warnings on stderr, the
 * progress line, and the JSON summary on stdout.
 */


#ifndef _OCI_ADMIN_MESSAGE_H_INCLUDED_
#define _OCI_ADMIN_MESSAGE_H_INCLUDED_


#include <jansson.h>


/* stderr, "oci-admin: " first, the progress line cleared */
void oci_admin_warn(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/*
 * The progress line: a single line of stderr rewritten with "\r", at most
 * ten times a second unless "force", and only when enabled (stderr is a
 * terminal and --quiet was not given).  oci_admin_progress_end() erases
 * it.
 */
void oci_admin_progress_init(int enabled);
void oci_admin_progress(int force, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void oci_admin_progress_end(void);

/* seconds from a monotonic clock */
double oci_admin_now(void);

/* seconds rounded to milliseconds, as the JSON summaries give them */
double oci_admin_ms(double seconds);

/*
 * Prints the summary object o as one compact line and flushes stdout,
 * dropping the reference to o: 0, or -1 after a message
 */
int oci_admin_print_json(json_t *o);


#endif /* _OCI_ADMIN_MESSAGE_H_INCLUDED_ */
