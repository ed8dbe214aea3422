/* One writer per output at a time (issue 14): see xb_lock_output in include/xbar/common.h.
 *
 * Two `xbar characterize` runs on one results file used to interleave their points, delete
 * each other's scratch directory and truncate the file.  A writer now holds flock(2) on
 * OUT.lock for as long as it writes OUT.  flock locks belong to the open file, so the kernel
 * drops them when the holder dies (kill -9 needs no cleanup) and they do not depend on the
 * pid file's contents (the pid is only for the message).  The lock file is removed on
 * release; a process that opened it just before could then lock an unlinked file, so after
 * locking we check that the name still refers to the file we hold, else start over. */
#include "xbar/common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct xb_lock {
    int fd;
    char *path; /* OUT.lock */
};

/* The holder's pid from the lock file; it writes it right after locking, so give it a
 * moment. 0 if unknown. */
static long holder_pid(int fd)
{
    for (int k = 0; k < 20; k++) {
        char buf[32];
        ssize_t r = pread(fd, buf, sizeof buf - 1, 0);
        if (r > 0) {
            buf[r] = '\0';
            long pid = strtol(buf, NULL, 10);
            if (pid > 0) return pid;
        }
        struct timespec ts = {0, 5000000L};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* Our pid into the lock file (only for the message of a process refused; a read-only lock
 * file of another user stays empty: "pid unknown"). */
static void write_pid(int fd)
{
    char buf[32];
    int len = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0) return;
    if (pwrite(fd, buf, (size_t)len, 0) != len) return;
}

int xb_lock_output(const char *path, xb_lock **out, xb_error *err)
{
    if (!out) return xb_errorf(err, XB_EINPUT, "xb_lock_output: no output");
    *out = NULL;
    if (!path || !*path) return xb_errorf(err, XB_EINPUT, "xb_lock_output: no path");
    if (xb_output_in_place(path)) return XB_OK; /* a device, /dev/stdout: no lock file beside it */
    size_t n = strlen(path) + 6;
    char *lp = malloc(n);
    if (!lp) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    snprintf(lp, n, "%s.lock", path);
    int rc = XB_OK;
    for (int attempt = 0; attempt < 1000; attempt++) {
        int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0 && errno == EACCES) fd = open(lp, O_RDONLY | O_CLOEXEC); /* another user's lock file */
        if (fd < 0) {
            rc = xb_errorf(err, XB_ERUNTIME, "%s: cannot create the lock file %s: %s", path, lp, strerror(errno));
            break;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            if (e == EINTR) {
                close(fd);
                continue;
            }
            if (e == EWOULDBLOCK) {
                long pid = holder_pid(fd);
                char who[48] = "pid unknown";
                if (pid > 0) snprintf(who, sizeof who, "pid %ld", pid);
                rc = xb_errorf(err, XB_ERUNTIME, "%s: in use by another xbar process (%s; lock file %s)", path, who, lp);
            } else {
                rc = xb_errorf(err, XB_ERUNTIME, "%s: cannot lock %s: %s", path, lp, strerror(e));
            }
            close(fd);
            break;
        }
        struct stat held, named;
        if (fstat(fd, &held) == 0 && stat(lp, &named) == 0 && held.st_dev == named.st_dev &&
            held.st_ino == named.st_ino) {
            write_pid(fd);
            xb_lock *l = malloc(sizeof *l);
            if (!l) {
                unlink(lp);
                close(fd);
                rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
                break;
            }
            l->fd = fd;
            l->path = lp;
            *out = l;
            return XB_OK;
        }
        close(fd); /* released and removed meanwhile: lock the current file */
    }
    if (!rc) rc = xb_errorf(err, XB_ERUNTIME, "%s: cannot lock %s", path, lp);
    free(lp);
    return rc;
}

void xb_lock_release(xb_lock *l)
{
    if (!l) return;
    unlink(l->path); /* while still holding it: see the comment at the top */
    close(l->fd);
    free(l->path);
    free(l);
}
