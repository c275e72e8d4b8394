
/*
 * oci-admin events: reads the registry's event stream (docs/events.md);
 * "oci-admin events relay" delivers it as webhooks.
 */


#ifndef _OCI_ADMIN_EVENTS_H_INCLUDED_
#define _OCI_ADMIN_EVENTS_H_INCLUDED_


int oci_admin_events(int argc, char **argv);


#endif /* _OCI_ADMIN_EVENTS_H_INCLUDED_ */
