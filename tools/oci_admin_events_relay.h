
/*
 * oci-admin events: what the listing and the relay share (the stream's
 * key, its entries, stopping on a signal), and the relay, which delivers
 * the events as webhooks (docs/events.md).
 */


#ifndef _OCI_ADMIN_EVENTS_RELAY_H_INCLUDED_
#define _OCI_ADMIN_EVENTS_RELAY_H_INCLUDED_


#include <signal.h>
#include <stddef.h>
#include <hiredis/hiredis.h>

#include "oci_admin_options.h"


/* one entry of the stream, pointing into its reply */
typedef struct {
    const char     *id;
    const char     *action;         /* NULL: the entry lacks the field */
    const char     *repository;
    const char     *event;
    size_t          event_len;
} oci_admin_event_entry_t;


/* set by SIGTERM and SIGINT */
extern volatile sig_atomic_t  oci_admin_events_stop;

/* SIGTERM and SIGINT set the flag, interrupting sleeps (no SA_RESTART) */
void oci_admin_events_signals(void);

/* "<prefix>events", malloc()ed; NULL out of memory */
char *oci_admin_events_key(const oci_admin_opts_t *o);

/* [id, [field, value, ...]]: 0, or -1 when the reply is not an entry */
int oci_admin_events_entry(redisReply *e, oci_admin_event_entry_t *out);

/* sleeps ms, in slices, returning early once the flag is set */
void oci_admin_events_sleep(long ms);

/* "oci-admin events relay ...": the exit status */
int oci_admin_events_relay(int argc, char **argv);


#endif /* _OCI_ADMIN_EVENTS_RELAY_H_INCLUDED_ */
