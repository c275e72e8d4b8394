
/*
 * oci-admin: the filesystem as the storage uses it, knowing nothing of its
 * layout.  Sorted directory listings, whole small files read and written,
 * files hashed, times of inodes.
 */


#ifndef _OCI_ADMIN_FS_H_INCLUDED_
#define _OCI_ADMIN_FS_H_INCLUDED_


#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "oci_admin_defs.h"


/* a directory's entries but "." and "..", sorted */

typedef struct {
    char           *name;
    unsigned char   type;       /* DT_DIR, DT_REG, DT_LNK or DT_UNKNOWN */
} oci_admin_name_t;

typedef struct {
    oci_admin_name_t  *e;
    size_t             n;
} oci_admin_ls_t;

/*
 * The types are resolved without following symbolic links.  OCI_ADMIN_OK,
 * OCI_ADMIN_MISSING, or OCI_ADMIN_ERROR after a warning.
 */
int oci_admin_ls(const char *path, oci_admin_ls_t *ls);
void oci_admin_ls_free(oci_admin_ls_t *ls);


/* snprintf() into an OCI_ADMIN_PATH_LEN buffer: the length, or -1 */
int oci_admin_path(char *buf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* creates the missing parent directories of path, mode 0700: 0 or -1 */
int oci_admin_mkdirs(const char *path);

/*
 * Removes the directory "path" and what it holds, "depth" levels down at
 * most, never through a symbolic link (a link is removed itself); again,
 * a few times, when something is added to it meanwhile.  0, or -1 with
 * errno.
 */
int oci_admin_rmtree(const char *path, int depth);


/*
 * Opens a file to read, not following a symbolic link, without moving its
 * access time (O_NOATIME): on a mirror the access time tells when a
 * client last pulled the file, and reading it is no pull.  The kernel
 * allows O_NOATIME to the file's owner only (and to root); for others
 * the file is opened all the same, and counted.  The descriptor, or -1
 * with errno.
 */
int oci_admin_open_read(const char *path);

/* how many files were opened to read without O_NOATIME */
uint64_t oci_admin_atime_refused(void);

/*
 * How the file system that holds path records reads in access times:
 * every read (strictatime), once a day at most and at the first read
 * after a write (relatime, Linux's default), or never (noatime).  The
 * mode, or -1 with errno.
 */
#define OCI_ADMIN_ATIME_STRICT    0
#define OCI_ADMIN_ATIME_RELATIME  1
#define OCI_ADMIN_ATIME_NONE      2

int oci_admin_atime_mode(const char *path);

/*
 * A whole regular file, not following a symbolic link, into data
 * (malloc()ed, NUL-terminated), its stat into *st if st is not NULL.
 * OCI_ADMIN_OK; OCI_ADMIN_MISSING; OCI_ADMIN_CORRUPT when it is a
 * symbolic link, not a regular file or larger than max bytes;
 * OCI_ADMIN_ERROR.  The reason is in reason, but for OCI_ADMIN_OK.
 */
int oci_admin_read(const char *path, size_t max, struct stat *st,
    u_char **data, size_t *len, char *reason, size_t reason_len);

/*
 * Writes content to tmp, created anew, then renames it to path, so that
 * path is either what it was or all of content: 0, or -1 with errno
 */
int oci_admin_write(const char *tmp, const char *path, const char *content,
    size_t len);

/*
 * The extended attribute "name" of path, not following a symbolic link:
 * OCI_ADMIN_OK with its value in buf (*len bytes, at most size, not
 * NUL-terminated), OCI_ADMIN_MISSING when the file has none,
 * OCI_ADMIN_ERROR with errno (EOPNOTSUPP: the file system keeps none;
 * ERANGE: longer than size).
 */
int oci_admin_xattr_get(const char *path, const char *name, char *buf,
    size_t size, size_t *len);

/* lsetxattr(2) and lremovexattr(2): 0, or -1 with errno */
int oci_admin_xattr_set(const char *path, const char *name,
    const char *value, size_t len, int flags);
int oci_admin_xattr_remove(const char *path, const char *name);

/* the length of p without surrounding whitespace, from *start */
size_t oci_admin_trim(const u_char *p, size_t len, size_t *start);


/*
 * The digest of what fd reads to its end, hex into hex[] (129 bytes),
 * the bytes read added to *bytes.  OCI_ADMIN_OK, or OCI_ADMIN_ERROR with
 * the reason.
 */
int oci_admin_hash_fd(int fd, int alg, char *hex, uint64_t *bytes,
    char *reason, size_t reason_len);

/* the digest of p, hex into hex[] (129 bytes) */
void oci_admin_hash(int alg, const u_char *p, size_t len, char *hex);


/*
 * Times, in nanoseconds since the epoch.  A file's stamp is the later of
 * its mtime and ctime: ctime moves when a hard link to the inode is made
 * or removed, so a link made a minute ago to old content is a minute old.
 */

#define OCI_ADMIN_NS  1000000000LL

int64_t oci_admin_clock(void);
int64_t oci_admin_mtime(const struct stat *st);
int64_t oci_admin_ctime(const struct stat *st);
int64_t oci_admin_atime(const struct stat *st);
int64_t oci_admin_stamp(const struct stat *st);


#endif /* _OCI_ADMIN_FS_H_INCLUDED_ */
