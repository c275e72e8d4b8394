
/*
 * oci-admin, the operations tool of ngx_oci_module: what every part of it
 * speaks, the results of its functions and its exit statuses.
 */


#ifndef _OCI_ADMIN_DEFS_H_INCLUDED_
#define _OCI_ADMIN_DEFS_H_INCLUDED_


/* results of the functions, and of the callbacks of the walkers */
#define OCI_ADMIN_OK          0
#define OCI_ADMIN_MISSING     1     /* not stored */
#define OCI_ADMIN_CORRUPT     2     /* stored, but not what it must be */
#define OCI_ADMIN_SKIP        3     /* callback: skip this repository */
#define OCI_ADMIN_ERROR      -1     /* I/O error, out of memory */
#define OCI_ADMIN_ABORT      -2     /* callback: stop the walk */

/* exit statuses, the same for every subcommand */
#define OCI_ADMIN_EXIT_OK       0
#define OCI_ADMIN_EXIT_USAGE    1
#define OCI_ADMIN_EXIT_REDIS    2   /* unreachable, refused, lost */
#define OCI_ADMIN_EXIT_CORRUPT  3   /* corrupt content found */
#define OCI_ADMIN_EXIT_ERROR    4   /* I/O errors, Redis error replies */

/* an absolute path: the storage root and a path of the layout */
#define OCI_ADMIN_PATH_LEN      4096


#endif /* _OCI_ADMIN_DEFS_H_INCLUDED_ */
