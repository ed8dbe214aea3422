/* Running a campaign into a results file.
 *
 * Crash safety: the results file is open only while a finished point is copied in (a
 * few milliseconds per point) and closed (flushed) right after, so a kill -9 at any other
 * moment leaves a consistent file.  A point is computed in a forked point process into
 * its own scratch file (<out>.parts/pNNNNN.h5); the parent copies the finished group to
 * /points/.incoming_pNNNNN and renames it to /points/pNNNNN (one link operation), so a
 * point is either absent or complete.  Groups without a "status" attribute and stale
 * .incoming links are removed when a run starts. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "xbar/characterize.h"
#include "xbar/h5.h"
#include "characterize/run_internal.h"

static void utc_now(char *buf, size_t n)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* libngspice's version, read in a short-lived child so this process never loads a circuit. */
static void ngspice_version(char *buf, size_t n)
{
    snprintf(buf, n, "unknown");
    int fd[2];
    if (pipe(fd) != 0) return;
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return;
    }
    if (pid == 0) {
        close(fd[0]);
        char v[256] = "";
        /* silence anything libngspice prints on its own */
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        if (xb_engine_ngspice_version_inprocess(v, sizeof v) == XB_OK) {
            ssize_t w = write(fd[1], v, strlen(v));
            (void)w;
        }
        close(fd[1]);
        _exit(0);
    }
    close(fd[1]);
    size_t got = 0;
    ssize_t r;
    while (got + 1 < n && (r = read(fd[0], buf + got, n - 1 - got)) > 0) got += (size_t)r;
    close(fd[0]);
    int st;
    waitpid(pid, &st, 0);
    if (got) buf[got] = '\0';
    else snprintf(buf, n, "unknown");
}

static int write_header(hid_t f, const xb_campaign *c, xb_error *err)
{
    char now[64], ng[256], h5v[64];
    xb_h5_library_version(h5v, sizeof h5v);
    utc_now(now, sizeof now);
    ngspice_version(ng, sizeof ng);
    int rc = xb_h5_attr_set_string(f, ".", "format", XB_CHAR_FORMAT, err);
    if (!rc) rc = xb_h5_attr_set_int64(f, ".", "format_version", XB_CHAR_FORMAT_VERSION, err);
    if (!rc) rc = xb_h5_attr_set_string(f, ".", "xbar_version", xb_version(), err);
    if (!rc) rc = xb_h5_attr_set_string(f, ".", "ngspice_version", ng, err);
    if (!rc) rc = xb_h5_attr_set_string(f, ".", "hdf5_version", h5v, err);
    if (!rc) rc = xb_h5_attr_set_string(f, ".", "created_utc", now, err);
    if (!rc) rc = xb_h5_attr_set_string(f, ".", "campaign_name", xb_char_campaign_name(c), err);
    if (!rc) rc = xb_h5_attr_set_int64(f, ".", "n_points", (int64_t)xb_char_campaign_npoints(c), err);
    if (!rc) rc = xb_h5_attr_set_int64(f, ".", "runs", 0, err);
    if (!rc) rc = xb_h5_write_text(f, "campaign/text", xb_char_campaign_text(c), err);
    if (!rc) {
        /* the sweep as a table: one line per point, its key */
        size_t n = xb_char_campaign_npoints(c), len = 1;
        for (size_t k = 0; k < n; k++) len += strlen(xb_char_campaign_point(c, k)->key) + 16;
        char *t = malloc(len), *w = t;
        if (!t) return xb_errorf(err, XB_ERUNTIME, "out of memory");
        *w = '\0';
        for (size_t k = 0; k < n; k++) {
            const xb_char_point *P = xb_char_campaign_point(c, k);
            w += sprintf(w, "%s %s\n", P->name, P->key);
        }
        rc = xb_h5_write_text(f, "campaign/points", t, err);
        free(t);
    }
    if (!rc) {
        hid_t g;
        rc = xb_h5_group_create(f, "points", &g, err);
        if (!rc) xb_h5_group_close(g);
    }
    return rc;
}

/* Make sure the results file can grow by `bytes` before HDF5 writes into it: a write that
 * fails inside H5Ocopy (full disk, RLIMIT_FSIZE) crashes libhdf5 1.10.8 (segfault in its
 * cleanup), losing the run; found by tests/test_fault.c.  The blocks are allocated, then
 * released (the file keeps its size).  Also before the small metadata updates of a resumed
 * run and of the summary, which would otherwise fail inside libhdf5 the same way. */
static int reserve_space(const char *out, off_t bytes, const char *what, xb_error *err)
{
    int fd = open(out, O_WRONLY);
    if (fd < 0) return xb_errorf(err, XB_ERUNTIME, "%s: cannot open for writing: %s", out, strerror(errno));
    struct stat sb;
    int rc = XB_OK;
    if (fstat(fd, &sb) != 0) {
        rc = xb_errorf(err, XB_ERUNTIME, "%s: %s", out, strerror(errno));
    } else {
        int e = posix_fallocate(fd, sb.st_size, bytes);
        if (e && e != EOPNOTSUPP && e != EINVAL)
            rc = xb_errorf(err, XB_ERUNTIME, "%s: no room to %s (%s); the finished points are kept", out, what,
                           strerror(e));
        if (ftruncate(fd, sb.st_size) != 0 && !rc)
            rc = xb_errorf(err, XB_ERUNTIME, "%s: cannot restore the file size: %s", out, strerror(errno));
    }
    close(fd);
    return rc;
}

/* Open (or create) the results file for this campaign; *f left open. */
static int prepare_file(const xb_campaign *c, const char *path, int force, hid_t *f, xb_error *err)
{
    int exists = access(path, F_OK) == 0;
    if (exists && !force) {
        if (!xb_h5_is_hdf5(path))
            return xb_errorf(err, XB_EINPUT, "%s: exists and is not an xbar results file (use --force to overwrite)",
                             path);
        int rc = xb_h5_open(path, 1, f, err);
        if (rc) return rc;
        /* a resumed run updates the file: make sure it can grow (a full disk fails here) */
        rc = reserve_space(path, 65536, "resume the campaign", err);
        if (rc) {
            xb_h5_close(*f, NULL);
            return rc;
        }
        char *fmt = NULL, *text = NULL;
        int ok = xb_h5_attr_get_string(*f, ".", "format", &fmt, NULL) == XB_OK && strcmp(fmt, XB_CHAR_FORMAT) == 0;
        if (!ok) {
            free(fmt);
            xb_h5_close(*f, NULL);
            return xb_errorf(err, XB_EINPUT, "%s: exists and is not an xbar results file (use --force to overwrite)",
                             path);
        }
        ok = xb_h5_read_text(*f, "campaign/text", &text, NULL) == XB_OK &&
             strcmp(text, xb_char_campaign_text(c)) == 0;
        free(fmt);
        free(text);
        if (!ok) {
            xb_h5_close(*f, NULL);
            return xb_errorf(err, XB_EINPUT,
                             "%s: holds the results of a different campaign text (use --force to overwrite)", path);
        }
        return XB_OK;
    }
    /* a new file appears complete with its header, or not at all: an existing file (--force)
     * is replaced only once the new one is on disk */
    int rc = xb_h5_create_atomic(path, 1, f, err);
    if (rc) return rc;
    rc = write_header(*f, c, err);
    if (rc) {
        xb_h5_discard(*f);
        return rc;
    }
    rc = xb_h5_close(*f, err);
    if (!rc) rc = xb_h5_open(path, 1, f, err);
    return rc;
}

void xb_char_internal_part_path(const char *out, const char *name, char *buf, size_t n)
{
    snprintf(buf, n, "%s.parts/%s.h5", out, name);
}

void xb_char_internal_clean_dir(const char *dir, int remove_dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[8192];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    if (remove_dir) rmdir(dir);
}

static void clean_parts_dir(const char *out, int remove_dir)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s.parts", out);
    xb_char_internal_clean_dir(dir, remove_dir);
}

/* Point process: compute point k into its scratch file; exit status 0 ok, 3 failed point. */
static void point_child(const xb_campaign *c, size_t k, const char *out, const xb_engine_opts *eo)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1) _exit(4);
    /* the run's interrupt handler is the parent's: Ctrl-C stops a point process at once */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    const xb_char_point *P = xb_char_campaign_point(c, k);
    char path[4096];
    xb_char_internal_part_path(out, P->name, path, sizeof path);
    hid_t f, g;
    xb_error err;
    xb_error_clear(&err);
    if (xb_h5_create(path, 1, &f, &err)) _exit(5);
    if (xb_h5_group_create(f, "point", &g, &err)) _exit(5);
    double t0 = xb_now_s();
    int rc = xb_char_point_compute(c, k, eo, g, &err);
    double dt = xb_now_s() - t0;
    char now[64];
    utc_now(now, sizeof now);
    if (rc) {
        /* keep what was computed, mark the point failed with the message (it quotes the
         * ngspice log tail for simulation failures) */
        xb_h5_attr_set_string(g, ".", "error", err.msg, NULL);
        xb_h5_attr_set_int64(g, ".", "error_code", rc, NULL);
    }
    xb_h5_attr_set_double(g, ".", "elapsed_s", dt, NULL);
    xb_h5_attr_set_string(g, ".", "finished_utc", now, NULL);
    xb_h5_attr_set_string(g, ".", "status", rc ? "failed" : "ok", NULL);
    xb_h5_group_close(g);
    if (xb_h5_close(f, NULL)) _exit(5);
    _exit(rc ? 3 : 0);
}

/* Parent: move the finished point from its scratch file into the results file. */
static int collect_point(const char *out, const xb_char_point *P, int wstatus, size_t run_number, int *point_ok,
                         char *msg, size_t msz, double *elapsed, xb_error *err)
{
    char path[4096], inc[96], fin[96];
    xb_char_internal_part_path(out, P->name, path, sizeof path);
    snprintf(inc, sizeof inc, "points/.incoming_%s", P->name);
    snprintf(fin, sizeof fin, "points/%s", P->name);
    hid_t f;
    struct stat psb;
    int rc = reserve_space(out, (stat(path, &psb) == 0 ? psb.st_size : 0) + 65536, "store another point", err);
    if (rc) return rc;
    /* a reader (xbar report, h5py) may hold the file for a moment: retry for ~10 s */
    for (int attempt = 0; attempt < 200; attempt++) {
        rc = xb_h5_open(out, 1, &f, err);
        if (rc == XB_OK) break;
        usleep(50000);
    }
    if (rc) return rc;
    xb_h5_delete(f, inc, NULL);
    xb_h5_delete(f, fin, NULL);
    hid_t pf = -1;
    int have = WIFEXITED(wstatus) && (WEXITSTATUS(wstatus) == 0 || WEXITSTATUS(wstatus) == 3) &&
               xb_h5_open(path, 0, &pf, NULL) == XB_OK && xb_h5_attr_exists(pf, "point", "status");
    msg[0] = '\0';
    *elapsed = 0;
    if (have) {
        rc = xb_h5_copy(pf, "point", f, inc, NULL) != XB_OK
                 ? xb_errorf(err, XB_ERUNTIME, "%s: cannot copy point %s into %s", path, P->name, out)
                 : XB_OK;
        char *st = NULL;
        *point_ok = xb_h5_attr_get_string(pf, "point", "status", &st, NULL) == XB_OK && strcmp(st, "ok") == 0;
        free(st);
        if (!*point_ok) {
            char *e = NULL;
            if (xb_h5_attr_get_string(pf, "point", "error", &e, NULL) == XB_OK) snprintf(msg, msz, "%s", e);
            free(e);
        }
        xb_h5_attr_get_double(pf, "point", "elapsed_s", elapsed, NULL);
    } else {
        *point_ok = 0;
        if (WIFSIGNALED(wstatus))
            snprintf(msg, msz, "%s: point process killed by signal %d", P->name, WTERMSIG(wstatus));
        else
            snprintf(msg, msz, "%s: point process exited with status %d and no result", P->name,
                     WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1);
        hid_t g;
        rc = xb_h5_group_create(f, inc, &g, err);
        if (!rc) {
            char now[64];
            utc_now(now, sizeof now);
            rc = xb_h5_attr_set_string(g, ".", "key", P->key, err);
            if (!rc) rc = xb_h5_attr_set_int64(g, ".", "index", (int64_t)P->index, err);
            if (!rc) rc = xb_h5_attr_set_string(g, ".", "error", msg, err);
            if (!rc) rc = xb_h5_attr_set_string(g, ".", "finished_utc", now, err);
            if (!rc) rc = xb_h5_attr_set_string(g, ".", "status", "failed", err);
            xb_h5_group_close(g);
        }
    }
    if (pf >= 0) xb_h5_close(pf, NULL);
    if (!rc) rc = xb_h5_attr_set_int64(f, inc, "run", (int64_t)run_number, err);
    if (!rc && xb_h5_move(f, inc, fin, NULL) != XB_OK)
        rc = xb_errorf(err, XB_ERUNTIME, "%s: cannot rename %s", out, inc);
    int rc2 = xb_h5_close(f, err);
    unlink(path);
    return rc ? rc : rc2;
}

typedef struct {
    pid_t pid;
    size_t k;
    double t0;
} flight;

/* Open/create the results file, count this run, drop what a killed run left, and list the
 * points to compute (*todo, malloc'd; max_points applied).  Shared with the MPI runner. */
int xb_char_internal_prepare(const xb_campaign *c, const char *out_path, const xb_char_run_opts *o,
                             size_t **todo_out, size_t *ntodo_out, xb_char_run_stats *st_out, xb_error *err)
{
    xb_char_run_stats st = {0};
    const size_t n = xb_char_campaign_npoints(c);
    st.total = n;
    hid_t f;
    *todo_out = NULL;
    *ntodo_out = 0;
    int rc = prepare_file(c, out_path, o->force, &f, err);
    if (rc) return rc;

    /* run number; clean up what a killed run may have left; find the points to compute */
    int64_t runs = 0;
    xb_h5_attr_get_int64(f, ".", "runs", &runs, NULL);
    st.run_number = (size_t)runs + 1;
    rc = xb_h5_attr_set_int64(f, ".", "runs", (int64_t)st.run_number, err);
    char **names = NULL;
    size_t nn = 0;
    if (!rc) rc = xb_h5_list(f, "points", &names, &nn, err);
    for (size_t q = 0; q < nn && !rc; q++)
        if (strncmp(names[q], ".incoming_", 10) == 0) {
            char pth[128];
            snprintf(pth, sizeof pth, "points/%s", names[q]);
            rc = xb_h5_delete(f, pth, err);
        }
    xb_h5_free_names(names, nn);
    size_t *todo = calloc(n ? n : 1, sizeof *todo), ntodo = 0;
    if (!todo && !rc) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    for (size_t k = 0; k < n && !rc; k++) {
        const xb_char_point *P = xb_char_campaign_point(c, k);
        char pth[96];
        snprintf(pth, sizeof pth, "points/%s", P->name);
        int done = 0;
        if (xb_h5_exists(f, pth)) {
            /* the point of that name must be this configuration */
            char *key = NULL;
            if (xb_h5_attr_get_string(f, pth, "key", &key, NULL) == XB_OK && strcmp(key, P->key) != 0) {
                free(key);
                rc = xb_errorf(err, XB_EINPUT,
                               "%s:/%s: holds another configuration than this campaign's point %zu "
                               "(file from another xbar version?); use --force to start over",
                               out_path, pth, k);
                break;
            }
            free(key);
            char *s = NULL;
            if (xb_h5_attr_get_string(f, pth, "status", &s, NULL) == XB_OK)
                done = strcmp(s, "ok") == 0 || (strcmp(s, "failed") == 0 && !o->retry_failed);
            free(s);
            if (!done) rc = xb_h5_delete(f, pth, err);
        }
        if (done) st.skipped++;
        else todo[ntodo++] = k;
    }
    int rc2 = xb_h5_close(f, err);
    if (!rc) rc = rc2;
    if (rc) {
        free(todo);
        return rc;
    }
    if (o->max_points && ntodo > o->max_points) ntodo = o->max_points;
    *todo_out = todo;
    *ntodo_out = ntodo;
    *st_out = st;
    return XB_OK;
}

/* Engine options of a point process, and the points in flight (capped at ntodo). */
void xb_char_internal_setup(const xb_campaign *c, const xb_char_run_opts *o, size_t ntodo, xb_engine_opts *eo,
                            int *par_out)
{
    xb_engine_opts_default(eo);
    eo->n_workers = 1;
    eo->timeout_s = o->timeout_s > 0 ? o->timeout_s : xb_char_campaign_timeout_s(c);
    int par = o->n_parallel > 0 ? o->n_parallel : xb_char_campaign_workers(c);
    if (par <= 0) {
        long nc = sysconf(_SC_NPROCESSORS_ONLN);
        par = nc > 0 ? (int)nc : 1;
    }
    if ((size_t)par > ntodo) par = ntodo ? (int)ntodo : 1;
    *par_out = par;
}

/* Summary attributes after a run (points_ok, points_failed, complete). */
int xb_char_internal_finish(const xb_campaign *c, const char *out_path, xb_error *err)
{
    const size_t n = xb_char_campaign_npoints(c);
    hid_t f;
    int rc = reserve_space(out_path, 65536, "write the summary", err);
    if (rc) return rc;
    if (xb_h5_open(out_path, 1, &f, err) == XB_OK) {
        size_t ok = 0, failed = 0;
        for (size_t k = 0; k < n; k++) {
            char pth[96];
            snprintf(pth, sizeof pth, "points/%s", xb_char_campaign_point(c, k)->name);
            char *s = NULL;
            if (xb_h5_attr_get_string(f, pth, "status", &s, NULL) == XB_OK) {
                if (strcmp(s, "ok") == 0) ok++;
                else failed++;
            }
            free(s);
        }
        xb_h5_attr_set_int64(f, ".", "points_ok", (int64_t)ok, NULL);
        xb_h5_attr_set_int64(f, ".", "points_failed", (int64_t)failed, NULL);
        xb_h5_attr_set_int64(f, ".", "complete", ok + failed == n, NULL);
        rc = xb_h5_close(f, err);
    }
    return rc;
}

void xb_char_internal_point_child(const xb_campaign *c, size_t k, const char *out, const xb_engine_opts *eo)
{
    point_child(c, k, out, eo);
}

int xb_char_internal_collect_point(const char *out, const xb_char_point *P, int wstatus, size_t run_number,
                                   int *point_ok, char *msg, size_t msz, double *elapsed, xb_error *err)
{
    return collect_point(out, P, wstatus, run_number, point_ok, msg, msz, elapsed, err);
}

/* ------------------------------------------------------------------ interruption
 * Ctrl-C (SIGINT to the terminal's process group) or SIGTERM stops the run cleanly: the
 * points in flight are dropped (not recorded as failed: they are computed again by the next
 * run), the scratch directory removed, and the run returns "interrupted: N of M points done,
 * resume with the same command".  A signal handler can only reach a static flag: this is the
 * one piece of static state here, set only between install and restore below. */
static volatile sig_atomic_t g_interrupted;

static void on_interrupt(int sig) { g_interrupted = sig; }

typedef struct {
    struct sigaction old_int, old_term;
} interrupt_guard;

static void interrupt_install(interrupt_guard *g)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt; /* no SA_RESTART: waitpid returns EINTR */
    sigemptyset(&sa.sa_mask);
    g_interrupted = 0;
    sigaction(SIGINT, &sa, &g->old_int);
    sigaction(SIGTERM, &sa, &g->old_term);
}

/* The caller's handlers back (process-wide settings restored on every way out). */
static void interrupt_restore(const interrupt_guard *g)
{
    sigaction(SIGINT, &g->old_int, NULL);
    sigaction(SIGTERM, &g->old_term, NULL);
}

/* The run loop: fork point processes, collect them as they finish. */
static int run_points(const xb_campaign *c, const char *out_path, const xb_char_run_opts *o, const size_t *todo,
                      size_t ntodo, const xb_engine_opts *eo, int par, xb_char_run_stats *st, int *interrupted,
                      xb_error *err)
{
    xb_char_progress pr = {0};
    pr.total = xb_char_campaign_npoints(c);
    pr.skipped = st->skipped;
    pr.to_run = ntodo;
    pr.eta_s = -1;
    pr.message = "";
    const double t_start = xb_now_s();
    if (o->progress) o->progress(o->user, &pr);

    flight *fl = calloc((size_t)par, sizeof *fl);
    if (!fl) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    size_t next = 0, running = 0;
    int rc = XB_OK;
    fflush(NULL);
    while ((next < ntodo || running) && !rc && !g_interrupted) {
        while (next < ntodo && running < (size_t)par && !g_interrupted) {
            size_t slot = 0;
            while (fl[slot].pid) slot++;
            pid_t pid = fork();
            if (pid < 0) {
                rc = xb_errorf(err, XB_ERUNTIME, "fork: %s", strerror(errno));
                break;
            }
            if (pid == 0) point_child(c, todo[next], out_path, eo); /* does not return */
            fl[slot] = (flight){pid, todo[next], xb_now_s()};
            next++;
            running++;
        }
        if (!running || g_interrupted) break;
        int ws = 0;
        pid_t pid = waitpid(-1, &ws, 0);
        if (pid < 0) {
            if (errno == EINTR) continue;
            rc = xb_errorf(err, XB_ERUNTIME, "waitpid: %s", strerror(errno));
            break;
        }
        size_t slot = 0;
        while (slot < (size_t)par && fl[slot].pid != pid) slot++;
        if (slot == (size_t)par) continue; /* not a point process of ours */
        if (WIFSIGNALED(ws) && WTERMSIG(ws) == SIGINT) {
            /* Ctrl-C reached the point process before this one noticed: an interruption,
             * not a failure of the point */
            fl[slot].pid = 0;
            running--;
            g_interrupted = SIGINT;
            break;
        }
        const xb_char_point *P = xb_char_campaign_point(c, fl[slot].k);
        int ok = 0;
        char msg[XB_ERROR_MSG_MAX];
        double el = 0;
        rc = collect_point(out_path, P, ws, st->run_number, &ok, msg, sizeof msg, &el, err);
        fl[slot].pid = 0;
        running--;
        st->ran++;
        if (!ok) st->failed++;
        pr.done = st->ran;
        pr.failed = st->failed;
        pr.point = P->name;
        pr.key = P->key;
        pr.status = ok ? XB_OK : XB_ERUNTIME;
        pr.message = ok ? "" : msg;
        pr.point_s = xb_now_s() - fl[slot].t0;
        pr.elapsed_s = xb_now_s() - t_start;
        pr.eta_s = pr.elapsed_s / (double)pr.done * (double)(ntodo - pr.done);
        if (o->progress) o->progress(o->user, &pr);
    }
    /* on an error of our own or an interruption, stop the point processes still running */
    for (int s = 0; s < par; s++)
        if (fl[s].pid) {
            kill(fl[s].pid, SIGKILL);
            waitpid(fl[s].pid, NULL, 0);
        }
    free(fl);
    *interrupted = !rc && g_interrupted;
    return rc;
}

int xb_char_run(const xb_campaign *c, const char *out_path, const xb_char_run_opts *o,
                xb_char_run_stats *stats, xb_error *err)
{
    if (!c || !out_path) return xb_errorf(err, XB_EINPUT, "xb_char_run: no campaign or output");
    xb_char_run_opts dflt = {0};
    if (!o) o = &dflt;
    xb_char_run_stats st = {0};
    /* one run per results file: a second one refuses at once (it would interleave points and
     * remove this run's scratch files) */
    xb_lock *lock = NULL;
    int rc = xb_lock_output(out_path, &lock, err);
    if (rc) return rc;
    size_t *todo = NULL, ntodo = 0;
    rc = xb_char_internal_prepare(c, out_path, o, &todo, &ntodo, &st, err);
    if (rc) {
        xb_lock_release(lock);
        return rc;
    }
    xb_engine_opts eo;
    int par;
    xb_char_internal_setup(c, o, ntodo, &eo, &par);

    char dir[4096];
    snprintf(dir, sizeof dir, "%s.parts", out_path);
    clean_parts_dir(out_path, 0);
    if (ntodo && mkdir(dir, 0777) != 0 && errno != EEXIST) {
        free(todo);
        xb_lock_release(lock);
        return xb_errorf(err, XB_ERUNTIME, "%s: cannot create: %s", dir, strerror(errno));
    }
    interrupt_guard guard;
    interrupt_install(&guard);
    int interrupted = 0;
    rc = run_points(c, out_path, o, todo, ntodo, &eo, par, &st, &interrupted, err);
    interrupt_restore(&guard);
    free(todo);
    clean_parts_dir(out_path, 1);

    if (!rc && interrupted) {
        size_t done = st.skipped + st.ran;
        rc = xb_errorf(err, XB_ERUNTIME, "interrupted: %zu of %zu points done, resume with the same command", done,
                       st.total);
    }
    /* summary attributes */
    if (!rc) rc = xb_char_internal_finish(c, out_path, err);
    xb_lock_release(lock);
    if (stats) *stats = st;
    return rc;
}
