/* Output files that appear whole or not at all (issue 14, docs/hardening.md): xb_afile_* for
 * one file, xb_stage_* for a set of files of one directory (plots).  See include/xbar/common.h.
 *
 * A file is written to a temporary in the directory of its target (a rename is atomic only
 * within one file system), every write is checked, the data flushed and fsync'ed, and only
 * then renamed over the target, followed by an fsync of the directory (the rename itself
 * durable).  On any failure the temporary is removed: a full disk, a kill or a crash leaves
 * the old file (or none), never a truncated one. */
#define _GNU_SOURCE /* fopencookie: a stream that keeps the errno of its first failed write */
#include "xbar/common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ checked streams */
/* stdio keeps only an error flag after a failed write (and after a large fwrite that failed
 * there is nothing left for the final fflush to fail on); this cookie keeps the errno of the
 * first failure, so the message can say "No space left on device" rather than guess. */
typedef xb_wstream wstream;

static ssize_t ws_write(void *cookie, const char *buf, size_t n)
{
    wstream *w = cookie;
    size_t done = 0;
    while (done < n) {
        ssize_t r = write(w->fd, buf + done, n - done);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            if (!w->err_no) w->err_no = r < 0 ? errno : EIO;
            return (ssize_t)done; /* short count: stdio sets the stream's error flag */
        }
        done += (size_t)r;
    }
    return (ssize_t)n;
}

static int ws_close(void *cookie)
{
    wstream *w = cookie;
    int r = 0;
    if (w->fd >= 0 && close(w->fd) != 0) {
        if (!w->err_no) w->err_no = errno;
        r = -1;
    }
    w->fd = -1;
    return r;
}

static FILE *ws_open(wstream *w)
{
    cookie_io_functions_t io = {NULL, ws_write, NULL, ws_close};
    return fopencookie(w, "w", io);
}

FILE *xb_wstream_open(xb_wstream *w)
{
    if (!w || w->fd < 0) return NULL;
    w->err_no = 0;
    return ws_open(w);
}

/* Flush, fsync (sync != 0), close: 0 or the errno of the first failure. */
static int ws_finish(FILE *f, wstream *w, int sync)
{
    int e = 0;
    if (fflush(f) != 0 || ferror(f)) e = w->err_no ? w->err_no : EIO;
    if (!e && sync && w->fd >= 0 && fsync(w->fd) != 0) e = errno;
    if (fclose(f) != 0 && !e) e = w->err_no ? w->err_no : EIO;
    return e;
}

/* fsync a directory so that a rename into it survives a power cut (errors ignored: some
 * file systems refuse to fsync directories, and the data itself is already on disk). */
static void sync_dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

/* A new file "DIR/.BASE.tmp-XXXXXX" next to target (mode 0666 less the umask, as a new
 * target would get); 0 or errno. */
static int make_temp(const char *target, char **tmp_out, int *fd_out)
{
    const char *slash = strrchr(target, '/');
    const int dlen = slash ? (int)(slash - target + 1) : 0;
    const char *base = slash ? slash + 1 : target;
    size_t n = strlen(target) + 32;
    char *t = malloc(n);
    if (!t) return ENOMEM;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t s = ((uint64_t)getpid() << 32) ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)ts.tv_nsec;
    for (int k = 0; k < 100; k++) {
        snprintf(t, n, "%.*s.%s.tmp-%06llx", dlen, target, base, (unsigned long long)(xb_splitmix64(&s) & 0xffffffu));
        int fd = open(t, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            *tmp_out = t;
            *fd_out = fd;
            return 0;
        }
        if (errno != EEXIST) {
            int e = errno;
            free(t);
            return e;
        }
    }
    free(t);
    return EEXIST;
}

int xb_output_in_place(const char *path)
{
    if (!path || strcmp(path, "-") == 0 || strncmp(path, "/dev/", 5) == 0 || strncmp(path, "/proc/", 6) == 0) return 1;
    struct stat sb;
    return stat(path, &sb) == 0 && !S_ISREG(sb.st_mode);
}

/* ------------------------------------------------------------------ one file */
struct xb_afile {
    char *name;    /* as the caller gave it (messages) */
    char *target;  /* the file replaced: name, or what a symbolic link names */
    char *tmp;     /* the temporary, NULL when written in place */
    FILE *f;
    wstream ws;
    int is_stdout;
};

static void afile_free(xb_afile *a)
{
    free(a->name);
    free(a->target);
    free(a->tmp);
    free(a);
}

int xb_afile_open(const char *path, xb_afile **out, xb_error *err)
{
    if (!out) return xb_errorf(err, XB_EINPUT, "xb_afile_open: no output");
    *out = NULL;
    if (!path || !*path) return xb_errorf(err, XB_EINPUT, "xb_afile_open: no path");
    xb_afile *a = calloc(1, sizeof *a);
    if (!a) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    a->ws.fd = -1;
    if (strcmp(path, "-") == 0) {
        /* a checked stream on a duplicate of descriptor 1, after what stdout holds */
        a->is_stdout = 1;
        fflush(stdout);
        a->ws.fd = dup(1);
        a->f = a->ws.fd >= 0 ? ws_open(&a->ws) : NULL;
        if (!a->f) {
            int e = errno;
            if (a->ws.fd >= 0) close(a->ws.fd);
            afile_free(a);
            return xb_errorf(err, XB_ERUNTIME, "writing standard output: %s", strerror(e));
        }
        *out = a;
        return XB_OK;
    }
    struct stat sb;
    char *real = NULL;
    const int in_place = xb_output_in_place(path);
    if (!in_place && lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode)) real = realpath(path, NULL);
    a->name = strdup(path);
    a->target = real ? real : strdup(path);
    if (!a->name || !a->target) {
        afile_free(a);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    const int exists = stat(a->target, &sb) == 0;
    int fd = -1;
    if (in_place) {
        /* a device, a FIFO, /dev/stdout: nothing to rename over, write in place */
        fd = open(a->target, O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT && !exists) fd = open(a->target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (fd < 0) {
            int e = errno;
            afile_free(a);
            return xb_errorf(err, XB_ERUNTIME, "%s: cannot write: %s", path, strerror(e));
        }
    } else {
        /* a file the user may not write stays refused, as fopen would refuse it */
        if (exists && access(a->target, W_OK) != 0) {
            int e = errno;
            afile_free(a);
            return xb_errorf(err, XB_ERUNTIME, "%s: cannot write: %s", path, strerror(e));
        }
        int e = make_temp(a->target, &a->tmp, &fd);
        if (e) {
            afile_free(a);
            return xb_errorf(err, XB_ERUNTIME, "%s: cannot write: %s", path, strerror(e));
        }
        if (exists) (void)fchmod(fd, sb.st_mode & 07777); /* the replaced file's mode */
    }
    a->ws.fd = fd;
    a->f = ws_open(&a->ws);
    if (!a->f) {
        close(fd);
        if (a->tmp) unlink(a->tmp);
        afile_free(a);
        return xb_errorf(err, XB_ERUNTIME, "%s: cannot write: out of memory", path);
    }
    *out = a;
    return XB_OK;
}

FILE *xb_afile_stream(const xb_afile *a) { return a ? a->f : NULL; }

int xb_afile_commit(xb_afile *a, xb_error *err)
{
    if (!a) return xb_errorf(err, XB_EINPUT, "xb_afile_commit: no file");
    int rc = XB_OK;
    if (a->is_stdout) {
        int e = ws_finish(a->f, &a->ws, 0);
        if (e) rc = xb_errorf(err, XB_ERUNTIME, "writing standard output: %s", strerror(e));
        afile_free(a);
        return rc;
    }
    int e = ws_finish(a->f, &a->ws, a->tmp != NULL);
    if (e) {
        rc = xb_errorf(err, XB_ERUNTIME, "%s: write failed: %s", a->name, strerror(e));
    } else if (a->tmp) {
        if (rename(a->tmp, a->target) != 0) rc = xb_errorf(err, XB_ERUNTIME, "%s: cannot replace: %s", a->name, strerror(errno));
        else sync_dir_of(a->target);
    }
    if (rc && a->tmp) unlink(a->tmp);
    afile_free(a);
    return rc;
}

void xb_afile_abort(xb_afile *a)
{
    if (!a) return;
    fclose(a->f);
    if (a->tmp) unlink(a->tmp);
    afile_free(a);
}

int xb_afile_write(const char *path, const void *data, size_t n, xb_error *err)
{
    xb_afile *a;
    int rc = xb_afile_open(path, &a, err);
    if (rc) return rc;
    if (n) fwrite(data, 1, n, a->f); /* checked at commit: the stream keeps the error */
    return xb_afile_commit(a, err);
}

/* ------------------------------------------------------------------ a set of files */
typedef struct {
    char *name;   /* in the stage */
    char *final;  /* in dir, NULL: scratch */
    FILE *f;      /* open stream of xb_stage_fopen, else NULL */
    wstream *ws;
} stage_entry;

struct xb_stage {
    char *dir, *path;
    stage_entry *e;
    size_t n, cap;
};

const char *xb_stage_path(const xb_stage *s) { return s ? s->path : NULL; }
const char *xb_stage_dir(const xb_stage *s) { return s ? s->dir : NULL; }

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

int xb_stage_new(const char *dir, xb_stage **out, xb_error *err)
{
    if (!out) return xb_errorf(err, XB_EINPUT, "xb_stage_new: no output");
    *out = NULL;
    if (!dir || !*dir) return xb_errorf(err, XB_EINPUT, "xb_stage_new: no directory");
    xb_stage *s = calloc(1, sizeof *s);
    if (s) {
        s->dir = strdup(dir);
        s->path = join(dir, ".xbar-stage-XXXXXX");
    }
    if (!s || !s->dir || !s->path) {
        if (s) {
            free(s->dir);
            free(s->path);
        }
        free(s);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    if (!mkdtemp(s->path)) {
        int e = errno;
        free(s->dir);
        free(s->path);
        free(s);
        return xb_errorf(err, XB_ERUNTIME, "%s: cannot write: %s", dir, strerror(e));
    }
    *out = s;
    return XB_OK;
}

static stage_entry *stage_add(xb_stage *s, const char *name, const char *final)
{
    for (size_t k = 0; k < s->n; k++)
        if (strcmp(s->e[k].name, name) == 0) {
            char *nf = final ? strdup(final) : NULL;
            if (final && !nf) return NULL;
            free(s->e[k].final);
            s->e[k].final = nf;
            return &s->e[k];
        }
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 8;
        stage_entry *ne = realloc(s->e, cap * sizeof *ne);
        if (!ne) return NULL;
        s->e = ne;
        s->cap = cap;
    }
    stage_entry *e = &s->e[s->n];
    memset(e, 0, sizeof *e);
    e->name = strdup(name);
    e->final = final ? strdup(final) : NULL;
    if (!e->name || (final && !e->final)) {
        free(e->name);
        free(e->final);
        return NULL;
    }
    s->n++;
    return e;
}

int xb_stage_fopen(xb_stage *s, const char *name, int keep, FILE **f, xb_error *err)
{
    if (!s || !name || !f || strchr(name, '/')) return xb_errorf(err, XB_EINPUT, "xb_stage_fopen: bad arguments");
    *f = NULL;
    stage_entry *e = stage_add(s, name, keep ? name : NULL);
    wstream *ws = e ? calloc(1, sizeof *ws) : NULL;
    char *p = ws ? join(s->path, name) : NULL;
    if (!p) {
        free(ws);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    int errno_open = errno;
    free(p);
    if (fd < 0) {
        free(ws);
        return xb_errorf(err, XB_ERUNTIME, "%s/%s: cannot write: %s", s->dir, name, strerror(errno_open));
    }
    ws->fd = fd;
    FILE *fp = ws_open(ws);
    if (!fp) {
        close(fd);
        free(ws);
        return xb_errorf(err, XB_ERUNTIME, "%s/%s: cannot write: out of memory", s->dir, name);
    }
    free(e->ws);
    e->ws = ws;
    e->f = fp;
    *f = fp;
    return XB_OK;
}

int xb_stage_fclose(xb_stage *s, FILE *f, xb_error *err)
{
    if (!s || !f) return xb_errorf(err, XB_EINPUT, "xb_stage_fclose: no stream");
    for (size_t k = 0; k < s->n; k++) {
        stage_entry *e = &s->e[k];
        if (e->f != f) continue;
        int x = ws_finish(f, e->ws, 1);
        e->f = NULL;
        if (x) return xb_errorf(err, XB_ERUNTIME, "%s/%s: write failed: %s", s->dir, e->final ? e->final : e->name,
                                strerror(x));
        return XB_OK;
    }
    return xb_errorf(err, XB_EINPUT, "xb_stage_fclose: not a stream of this stage");
}

int xb_stage_keep(xb_stage *s, const char *name, const char *final_name, xb_error *err)
{
    if (!s || !name || !final_name || strchr(name, '/') || strchr(final_name, '/'))
        return xb_errorf(err, XB_EINPUT, "xb_stage_keep: bad arguments");
    char *p = join(s->path, name);
    if (!p) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    struct stat sb;
    int ok = stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
    free(p);
    if (!ok) return xb_errorf(err, XB_ERUNTIME, "%s/%s: was not written", s->dir, final_name);
    if (!stage_add(s, name, final_name)) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    return XB_OK;
}

/* fsync a file another program wrote (its data on disk before the rename publishes it). */
static int sync_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    int e = fsync(fd) != 0 ? errno : 0;
    close(fd);
    return e;
}

int xb_stage_commit(xb_stage *s, xb_error *err)
{
    if (!s) return xb_errorf(err, XB_EINPUT, "xb_stage_commit: no stage");
    int rc = XB_OK;
    for (size_t k = 0; k < s->n && !rc; k++)
        if (s->e[k].f) rc = xb_stage_fclose(s, s->e[k].f, err);
    for (size_t k = 0; k < s->n && !rc; k++) {
        stage_entry *e = &s->e[k];
        if (!e->final) continue;
        char *from = join(s->path, e->name), *to = join(s->dir, e->final);
        if (!from || !to) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
        int x = rc ? 0 : sync_file(from);
        if (x) rc = xb_errorf(err, XB_ERUNTIME, "%s: write failed: %s", to, strerror(x));
        else if (!rc && rename(from, to) != 0) rc = xb_errorf(err, XB_ERUNTIME, "%s: cannot replace: %s", to, strerror(errno));
        free(from);
        free(to);
    }
    if (!rc) {
        char *probe = join(s->dir, ".");
        if (probe) sync_dir_of(probe);
        free(probe);
    }
    xb_stage_free(s);
    return rc;
}

void xb_stage_free(xb_stage *s)
{
    if (!s) return;
    for (size_t k = 0; k < s->n; k++) {
        if (s->e[k].f) fclose(s->e[k].f);
        free(s->e[k].ws);
        free(s->e[k].name);
        free(s->e[k].final);
    }
    free(s->e);
    /* everything left in the stage: our scratch files and whatever gnuplot wrote */
    DIR *d = opendir(s->path);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
            char *p = join(s->path, de->d_name);
            if (p) unlink(p);
            free(p);
        }
        closedir(d);
    }
    rmdir(s->path);
    free(s->path);
    free(s->dir);
    free(s);
}
