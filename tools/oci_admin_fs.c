
/*
 * oci-admin: the filesystem, without the storage's layout
 * (oci_admin_fs.h).
 */


#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "ngx_oci_sha2.h"
#include "oci_admin_array.h"
#include "oci_admin_fs.h"
#include "oci_admin_message.h"


#define OCI_ADMIN_READ_SIZE  (1024 * 1024)


static int oci_admin_ls_add(DIR *dir, struct dirent *de, oci_admin_ls_t *ls,
    size_t *nalloc);
static int oci_admin_name_cmp(const void *a, const void *b);
static int oci_admin_read_fd(int fd, size_t max, u_char **data, size_t *len,
    char *reason, size_t reason_len);
static ssize_t oci_admin_read_some(int fd, u_char *buf, size_t size,
    char *reason, size_t reason_len);
static void oci_admin_hex(const u_char *md, size_t len, char *hex);


/* the files opened without O_NOATIME: the kernel refused it */
static uint64_t  oci_admin_atime_moved;


int
oci_admin_ls(const char *path, oci_admin_ls_t *ls)
{
    DIR            *dir;
    size_t          nalloc;
    struct dirent  *de;

    ls->e = NULL;
    ls->n = 0;

    dir = opendir(path);
    if (dir == NULL) {
        if (errno == ENOENT || errno == ENOTDIR) {
            return OCI_ADMIN_MISSING;
        }

        oci_admin_warn("%s: opendir(): %s", path, strerror(errno));
        return OCI_ADMIN_ERROR;
    }

    nalloc = 0;

    for ( ;; ) {
        errno = 0;

        de = readdir(dir);
        if (de == NULL) {
            break;
        }

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }

        if (oci_admin_ls_add(dir, de, ls, &nalloc) != 0) {
            oci_admin_warn("%s: out of memory", path);
            closedir(dir);
            oci_admin_ls_free(ls);
            return OCI_ADMIN_ERROR;
        }
    }

    if (errno != 0) {
        oci_admin_warn("%s: readdir(): %s", path, strerror(errno));
        closedir(dir);
        oci_admin_ls_free(ls);
        return OCI_ADMIN_ERROR;
    }

    closedir(dir);

    if (ls->n) {
        qsort(ls->e, ls->n, sizeof(oci_admin_name_t), oci_admin_name_cmp);
    }

    return OCI_ADMIN_OK;
}


/* 0, or -1 out of memory */

static int
oci_admin_ls_add(DIR *dir, struct dirent *de, oci_admin_ls_t *ls,
    size_t *nalloc)
{
    struct stat        st;
    oci_admin_name_t  *e;

    e = oci_admin_array_room(ls->e, ls->n, nalloc, sizeof(oci_admin_name_t),
                             32);
    if (e == NULL) {
        return -1;
    }

    ls->e = e;

    e = &ls->e[ls->n];

    e->name = strdup(de->d_name);
    if (e->name == NULL) {
        return -1;
    }

    e->type = de->d_type;
    ls->n++;

    if (e->type == DT_UNKNOWN
        && fstatat(dirfd(dir), e->name, &st, AT_SYMLINK_NOFOLLOW) == 0)
    {
        e->type = S_ISDIR(st.st_mode) ? DT_DIR
                  : S_ISREG(st.st_mode) ? DT_REG
                  : S_ISLNK(st.st_mode) ? DT_LNK : DT_UNKNOWN;
    }

    if (e->type != DT_DIR && e->type != DT_REG && e->type != DT_LNK) {
        e->type = DT_UNKNOWN;
    }

    return 0;
}


void
oci_admin_ls_free(oci_admin_ls_t *ls)
{
    size_t  i;

    for (i = 0; i < ls->n; i++) {
        free(ls->e[i].name);
    }

    free(ls->e);

    ls->e = NULL;
    ls->n = 0;
}


static int
oci_admin_name_cmp(const void *a, const void *b)
{
    const oci_admin_name_t  *x = a, *y = b;

    return strcmp(x->name, y->name);
}


int
oci_admin_path(char *buf, const char *fmt, ...)
{
    int      n;
    va_list  args;

    va_start(args, fmt);
    n = vsnprintf(buf, OCI_ADMIN_PATH_LEN, fmt, args);
    va_end(args);

    if (n < 0 || n >= OCI_ADMIN_PATH_LEN) {
        return -1;
    }

    return n;
}


int
oci_admin_mkdirs(const char *path)
{
    char  *p, buf[OCI_ADMIN_PATH_LEN];

    if (strlen(path) >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }

    strcpy(buf, path);

    for (p = buf + 1; *p; p++) {
        if (*p != '/') {
            continue;
        }

        *p = '\0';

        if (mkdir(buf, 0700) == -1 && errno != EEXIST) {
            return -1;
        }

        *p = '/';
    }

    return 0;
}


/* the entries of the open directory "fd", then it: 0 or -1 */

static int
oci_admin_rmtree_at(int parent, const char *name, int depth)
{
    int             fd, rc;
    DIR            *dir;
    struct dirent  *de;

    fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW
                              | O_CLOEXEC);
    if (fd == -1) {
        return (errno == ENOTDIR || errno == ELOOP)
               ? unlinkat(parent, name, 0) : -1;
    }

    dir = fdopendir(fd);
    if (dir == NULL) {
        close(fd);
        return -1;
    }

    rc = 0;

    while ((de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }

        if (unlinkat(dirfd(dir), de->d_name, 0) == 0) {
            continue;
        }

        if (errno != EISDIR || depth <= 1
            || oci_admin_rmtree_at(dirfd(dir), de->d_name, depth - 1) != 0)
        {
            rc = -1;
        }
    }

    closedir(dir);

    if (rc != 0) {
        return rc;
    }

    return unlinkat(parent, name, AT_REMOVEDIR);
}


int
oci_admin_rmtree(const char *path, int depth)
{
    int  i, rc;

    for (i = 0; i < 8; i++) {
        rc = oci_admin_rmtree_at(AT_FDCWD, path, depth);

        if (rc == 0 || errno == ENOENT) {
            return 0;
        }

        if (errno != ENOTEMPTY) {
            break;
        }
    }

    return -1;
}


int
oci_admin_open_read(const char *path)
{
    int  fd, flags;

    flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;

    fd = open(path, flags | O_NOATIME);

    if (fd == -1 && errno == EPERM) {
        fd = open(path, flags);
        oci_admin_atime_moved += (fd != -1);
    }

    return fd;
}


uint64_t
oci_admin_atime_refused(void)
{
    return oci_admin_atime_moved;
}


int
oci_admin_atime_mode(const char *path)
{
    struct statvfs  sv;

    if (statvfs(path, &sv) == -1) {
        return -1;
    }

    if (sv.f_flag & ST_NOATIME) {
        return OCI_ADMIN_ATIME_NONE;
    }

    return (sv.f_flag & ST_RELATIME) ? OCI_ADMIN_ATIME_RELATIME
                                     : OCI_ADMIN_ATIME_STRICT;
}


int
oci_admin_read(const char *path, size_t max, struct stat *st, u_char **data,
    size_t *len, char *reason, size_t reason_len)
{
    int          fd, rc;
    struct stat  fst;

    *data = NULL;
    *len = 0;

    fd = oci_admin_open_read(path);
    if (fd == -1) {
        if (errno == ENOENT || errno == ENOTDIR) {
            snprintf(reason, reason_len, "not found");
            return OCI_ADMIN_MISSING;
        }

        if (errno == ELOOP) {
            snprintf(reason, reason_len, "a symbolic link");
            return OCI_ADMIN_CORRUPT;
        }

        snprintf(reason, reason_len, "open(): %s", strerror(errno));
        return OCI_ADMIN_ERROR;
    }

    if (st == NULL) {
        st = &fst;
    }

    if (fstat(fd, st) == -1) {
        snprintf(reason, reason_len, "fstat(): %s", strerror(errno));
        rc = OCI_ADMIN_ERROR;

    } else if (!S_ISREG(st->st_mode)) {
        snprintf(reason, reason_len, "not a regular file");
        rc = OCI_ADMIN_CORRUPT;

    } else {
        rc = oci_admin_read_fd(fd, max, data, len, reason, reason_len);
    }

    close(fd);

    return rc;
}


/* what fd reads to its end, at most max bytes (a larger file is CORRUPT) */

static int
oci_admin_read_fd(int fd, size_t max, u_char **data, size_t *len,
    char *reason, size_t reason_len)
{
    u_char   *p, *np;
    size_t    size, got;
    ssize_t   n;

    size = 4096;
    got = 0;

    p = malloc(size + 1);
    if (p == NULL) {
        snprintf(reason, reason_len, "out of memory");
        return OCI_ADMIN_ERROR;
    }

    for ( ;; ) {
        if (got == size) {
            if (size >= max) {
                free(p);
                snprintf(reason, reason_len, "larger than %zu bytes", max);
                return OCI_ADMIN_CORRUPT;
            }

            size = size * 2 > max ? max : size * 2;

            np = realloc(p, size + 1);
            if (np == NULL) {
                free(p);
                snprintf(reason, reason_len, "out of memory");
                return OCI_ADMIN_ERROR;
            }

            p = np;
        }

        n = oci_admin_read_some(fd, p + got, size - got, reason, reason_len);

        if (n <= 0) {
            break;
        }

        got += n;
    }

    if (n == -1) {
        free(p);
        return OCI_ADMIN_ERROR;
    }

    p[got] = '\0';

    *data = p;
    *len = got;

    return OCI_ADMIN_OK;
}


/* read(), again when interrupted: -1 with the reason */

static ssize_t
oci_admin_read_some(int fd, u_char *buf, size_t size, char *reason,
    size_t reason_len)
{
    ssize_t  n;

    do {
        n = read(fd, buf, size);
    } while (n == -1 && errno == EINTR);

    if (n == -1) {
        snprintf(reason, reason_len, "read(): %s", strerror(errno));
    }

    return n;
}


int
oci_admin_write(const char *tmp, const char *path, const char *content,
    size_t len)
{
    int      fd, err;
    ssize_t  n;

    if (oci_admin_mkdirs(tmp) != 0) {
        return -1;
    }

    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd == -1) {
        return -1;
    }

    n = write(fd, content, len);
    err = errno;

    if (close(fd) != 0 || n != (ssize_t) len) {
        (void) unlink(tmp);
        errno = n == -1 ? err : EIO;
        return -1;
    }

    if (rename(tmp, path) != 0) {
        err = errno;
        (void) unlink(tmp);
        errno = err;
        return -1;
    }

    return 0;
}


int
oci_admin_xattr_get(const char *path, const char *name, char *buf,
    size_t size, size_t *len)
{
    ssize_t  n;

    n = lgetxattr(path, name, buf, size);

    if (n == -1) {
        return errno == ENODATA ? OCI_ADMIN_MISSING : OCI_ADMIN_ERROR;
    }

    *len = (size_t) n;

    return OCI_ADMIN_OK;
}


int
oci_admin_xattr_set(const char *path, const char *name, const char *value,
    size_t len, int flags)
{
    return lsetxattr(path, name, value, len, flags);
}


int
oci_admin_xattr_remove(const char *path, const char *name)
{
    return lremovexattr(path, name);
}


size_t
oci_admin_trim(const u_char *p, size_t len, size_t *start)
{
    size_t  s;

    for (s = 0; s < len && (p[s] == ' ' || p[s] == '\t' || p[s] == '\r'
                            || p[s] == '\n'); s++)
    {
        /* void */
    }

    while (len > s && (p[len - 1] == ' ' || p[len - 1] == '\t'
                       || p[len - 1] == '\r' || p[len - 1] == '\n'))
    {
        len--;
    }

    *start = s;

    return len - s;
}


int
oci_admin_hash_fd(int fd, int alg, char *hex, uint64_t *bytes,
    char *reason, size_t reason_len)
{
    u_char          *buf, md[NGX_OCI_SHA2_MAX_SIZE];
    ssize_t          n;
    ngx_oci_sha2_t   sha;

    buf = malloc(OCI_ADMIN_READ_SIZE);
    if (buf == NULL) {
        snprintf(reason, reason_len, "out of memory");
        return OCI_ADMIN_ERROR;
    }

    ngx_oci_sha2_init(&sha, alg);

    for ( ;; ) {
        n = oci_admin_read_some(fd, buf, OCI_ADMIN_READ_SIZE, reason,
                                reason_len);

        if (n <= 0) {
            break;
        }

        ngx_oci_sha2_update(&sha, buf, n);
        *bytes += n;
    }

    free(buf);

    if (n == -1) {
        return OCI_ADMIN_ERROR;
    }

    oci_admin_hex(md, ngx_oci_sha2_final(&sha, md), hex);

    return OCI_ADMIN_OK;
}


void
oci_admin_hash(int alg, const u_char *p, size_t len, char *hex)
{
    u_char  md[NGX_OCI_SHA2_MAX_SIZE];

    oci_admin_hex(md, ngx_oci_sha2(alg, p, len, md), hex);
}


static void
oci_admin_hex(const u_char *md, size_t len, char *hex)
{
    size_t  i;

    static const char  digits[] = "0123456789abcdef";

    for (i = 0; i < len; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 0xf];
    }

    hex[2 * len] = '\0';
}


int64_t
oci_admin_clock(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);

    return (int64_t) ts.tv_sec * OCI_ADMIN_NS + ts.tv_nsec;
}


int64_t
oci_admin_mtime(const struct stat *st)
{
    return (int64_t) st->st_mtim.tv_sec * OCI_ADMIN_NS + st->st_mtim.tv_nsec;
}


int64_t
oci_admin_ctime(const struct stat *st)
{
    return (int64_t) st->st_ctim.tv_sec * OCI_ADMIN_NS + st->st_ctim.tv_nsec;
}


int64_t
oci_admin_atime(const struct stat *st)
{
    return (int64_t) st->st_atim.tv_sec * OCI_ADMIN_NS + st->st_atim.tv_nsec;
}


int64_t
oci_admin_stamp(const struct stat *st)
{
    int64_t  m, c;

    m = oci_admin_mtime(st);
    c = oci_admin_ctime(st);

    return m > c ? m : c;
}
