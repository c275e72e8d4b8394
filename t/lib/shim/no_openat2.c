
/*
 * LD_PRELOAD shim for the tests: syscall(SYS_openat2, ...) fails with
 * ENOSYS, as on a kernel before 5.6, so that storage walks paths one
 * component at a time. Every other call goes to the C library. Built
 * with -DOCI_MARK='"<file>"', it creates that file when it refuses a
 * call, to show the walk was taken (nginx clears the environment of its
 * workers, so the name cannot come from there).
 */


#define _GNU_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <unistd.h>


long
syscall(long n, ...)
{
    int      i, fd;
    long     a[6];
    va_list  ap;

    static long  (*real)(long, ...);

    va_start(ap, n);

    for (i = 0; i < 6; i++) {
        a[i] = va_arg(ap, long);
    }

    va_end(ap);

#ifdef SYS_openat2
    if (n == SYS_openat2) {
#ifdef OCI_MARK
        fd = open(OCI_MARK, O_WRONLY|O_CREAT|O_CLOEXEC, 0644);
        if (fd != -1) {
            close(fd);
        }
#else
        (void) fd;
#endif

        errno = ENOSYS;
        return -1;
    }
#endif

    if (real == NULL) {
        real = (long (*)(long, ...)) dlsym(RTLD_NEXT, "syscall");
    }

    return real(n, a[0], a[1], a[2], a[3], a[4], a[5]);
}
