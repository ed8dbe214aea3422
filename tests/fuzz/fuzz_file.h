/* Helper for the file-format fuzz targets: the loaders under test take a path, so each
 * input is written to one scratch file per process (tmpfs when available) and the
 * target opens that path.  Not a target itself (fuzz_*.c files are the targets). */
#ifndef XB_FUZZ_FILE_H
#define XB_FUZZ_FILE_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

static char xb_fuzz_path[256];
static inline void xb_fuzz_cleanup(void) { unlink(xb_fuzz_path); }

/* Path of this process's scratch file, rewritten with (data, size); NULL on I/O failure.
 * The file is removed at exit. */
static inline const char *xb_fuzz_file(const uint8_t *data, size_t size, const char *suffix)
{
    char *path = xb_fuzz_path;
    if (!path[0]) {
        /* HDF5's own error stack printing off once: only crashes matter to the fuzzer. */
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(path, sizeof xb_fuzz_path, "%s/xbar-fuzz-%ld%s", dir, (long)getpid(), suffix);
        atexit(xb_fuzz_cleanup);
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return NULL;
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0) {
            close(fd);
            return NULL;
        }
        off += (size_t)w;
    }
    close(fd);
    return path;
}

/* One-line, non-empty error message (the xb_error contract). */
static inline int xb_fuzz_msg_ok(const char *msg)
{
    return msg[0] != '\0' && strchr(msg, '\n') == NULL;
}

/* XB_FUZZ_VERBOSE=1: print each loader verdict (to check that seeds are accepted). */
static inline void xb_fuzz_verdict(const char *what, int rc, const char *msg)
{
    static int verbose = -1;
    if (verbose < 0) verbose = getenv("XB_FUZZ_VERBOSE") && atoi(getenv("XB_FUZZ_VERBOSE")) != 0;
    if (verbose) fprintf(stderr, "%s: rc=%d %s\n", what, rc, rc ? msg : "accepted");
}

#endif
