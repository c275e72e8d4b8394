
/*
 * LD_PRELOAD shim for the tests: the extended attribute calls on a
 * descriptor fail with EOPNOTSUPP, as on a file system that keeps no
 * user.* attributes (NFS v3, tmpfs before Linux 6.6), so that storage
 * keeps manifests' media types in their ".type" files only. Built with
 * -DOCI_MARK='"<file>"', each refused call appends a byte to that file,
 * so that the test counts them.
 */


#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>


static int
refuse(void)
{
#ifdef OCI_MARK
    int  fd;

    fd = open(OCI_MARK, O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC, 0644);
    if (fd != -1) {
        (void) write(fd, "x", 1);
        close(fd);
    }
#endif

    errno = EOPNOTSUPP;
    return -1;
}


ssize_t
fgetxattr(int fd, const char *name, void *value, size_t size)
{
    (void) fd;
    (void) name;
    (void) value;
    (void) size;

    return refuse();
}


int
fsetxattr(int fd, const char *name, const void *value, size_t size,
    int flags)
{
    (void) fd;
    (void) name;
    (void) value;
    (void) size;
    (void) flags;

    return refuse();
}


int
fremovexattr(int fd, const char *name)
{
    (void) fd;
    (void) name;

    return refuse();
}
