/* Fault injection on `xbar characterize` (issue 9), run as a subprocess:
 *   - a point process SIGKILLed mid-campaign, and an engine worker (the process running
 *     libngspice) SIGKILLed mid-point; a point that hangs past --timeout;
 *   - an ngspice non-convergence (a device model with no DC solution, via XBAR_MODELS_DIR);
 *   - an unwritable output: a non-existent directory, a read-only directory, /dev/full;
 *   - a full device: RLIMIT_FSIZE with SIGXFSZ ignored;
 *   - a results file damaged (truncated) by an earlier crash;
 *   - two runs on one output at once (issue 14): one runs, the other refuses;
 *   - Ctrl-C (SIGINT to the process group): nothing recorded as failed, the rerun resumes.
 * Each time: the failure is reported per point, every finished point is in the file
 * (reopened and checked: status ok and its datasets readable), the run exits non-zero
 * with a one-line message.  The expected verdicts are the faults we inject, not xbar's
 * own bookkeeping: which point we killed / broke is known here. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "support/xb_test.h"
#include "xbar/h5.h"

/* ------------------------------------------------------------------ helpers */
/* The file's text ("" when it cannot be read). */
static char *slurp(const char *path)
{
    char *s = xb_test_read_file(path);
    return s ? s : strdup("");
}

/* Last non-empty line of s (static buffer). */
static const char *last_line(const char *s)
{
    static char buf[4096];
    size_t n = strlen(s);
    while (n && s[n - 1] == '\n') n--;
    size_t b = n;
    while (b && s[b - 1] != '\n') b--;
    snprintf(buf, sizeof buf, "%.*s", (int)(n - b), s + b);
    return buf;
}

typedef struct {
    int drop_to_nobody;      /* root: run as uid/gid 65534 (directory permissions apply) */
    rlim_t fsize_limit;      /* > 0: RLIMIT_FSIZE in bytes, SIGXFSZ ignored */
    int own_group;           /* its own process group (a terminal's Ctrl-C reaches the group) */
} run_opts;

/* In the child before exec: the options, and no LSan suppression statistics after xbar's
 * last line in sanitizer builds. */
static int child_setup(void *user)
{
    const run_opts *ro = user;
    if (ro && ro->own_group) setpgid(0, 0);
    const char *lo = getenv("LSAN_OPTIONS");
    char lbuf[2048];
    snprintf(lbuf, sizeof lbuf, "%s%sprint_suppressions=0", lo ? lo : "", lo && *lo ? ":" : "");
    setenv("LSAN_OPTIONS", lbuf, 1);
    if (ro && ro->drop_to_nobody && geteuid() == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0) return 1;
    }
    if (ro && ro->fsize_limit) {
        signal(SIGXFSZ, SIG_IGN); /* inherited across exec: writes fail with EFBIG */
        struct rlimit rl = {ro->fsize_limit, ro->fsize_limit};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0) return 1;
    }
    return 0;
}

/* Start `xbar characterize ARGS...` with stderr to err_path; returns the pid. */
static pid_t start_xbar(const run_opts *ro, const char *err_path, char *const args[])
{
    char *argv[32];
    int n = 0;
    argv[n++] = "xbar";
    argv[n++] = "characterize";
    for (int k = 0; args[k] && n < 31; k++) argv[n++] = args[k];
    argv[n] = NULL;
    return (pid_t)xb_test_xbar_start(argv, err_path, child_setup, (void *)ro);
}

static int run_xbar(const run_opts *ro, const char *err_path, char *const args[])
{
    return xb_test_wait(start_xbar(ro, err_path, args));
}

/* First child pid of process `pid` (Linux /proc), 0 if none. */
static pid_t first_child(pid_t pid)
{
    char p[128];
    snprintf(p, sizeof p, "/proc/%d/task/%d/children", (int)pid, (int)pid);
    FILE *f = fopen(p, "r");
    if (!f) return 0;
    long c = 0;
    if (fscanf(f, "%ld", &c) != 1) c = 0;
    fclose(f);
    return (pid_t)c;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Wait (up to 60 s) until path exists; 1 if it did. */
static int wait_for_file(const char *path)
{
    for (int k = 0; k < 60000; k++) {
        if (access(path, F_OK) == 0) return 1;
        sleep_ms(1);
    }
    return 0;
}

static char *attr_str(hid_t f, const char *obj, const char *name)
{
    char *s = NULL;
    xb_error err;
    if (xb_h5_attr_get_string(f, obj, name, &s, &err) != XB_OK) return NULL;
    return s;
}

/* Point `name` is in the file with status `want`; for "ok" its circuit currents are
 * readable and finite, of the expected K x cols shape (rows*cols known from the test). */
static void check_point(hid_t f, const char *name, const char *want, size_t cols, const char *msg_part)
{
    char obj[128];
    snprintf(obj, sizeof obj, "points/%s", name);
    assert_true(xb_h5_exists(f, obj));
    char *st = attr_str(f, obj, "status");
    assert_non_null(st);
    assert_string_equal(st, want);
    free(st);
    if (strcmp(want, "ok") == 0) {
        char ds[160];
        snprintf(ds, sizeof ds, "%s/mvm/i_circuit", obj);
        double *d = NULL;
        int rank = 0;
        hsize_t dims[4];
        xb_error err;
        assert_int_equal(xb_h5_read_doubles(f, ds, &d, &rank, dims, &err), XB_OK);
        assert_true(rank >= 2);
        assert_int_equal(dims[rank - 1], cols);
        size_t n = 1;
        for (int k = 0; k < rank; k++) n *= dims[k];
        double mx = 0;
        for (size_t k = 0; k < n; k++) {
            assert_true(d[k] == d[k]);
            if (d[k] > mx) mx = d[k];
        }
        assert_true(mx > 0); /* positive inputs, positive conductances: current flows */
        free(d);
    } else {
        char *e = attr_str(f, obj, "error");
        assert_non_null(e);
        assert_null(strchr(e, '\n'));
        if (msg_part && !strstr(e, msg_part)) fail_msg("point %s error '%s' lacks '%s'", name, e, msg_part);
        free(e);
    }
}

/* stderr ends with exactly one "xbar characterize: ..." error line containing `part`. */
static void check_final_message(const char *err_path, const char *part)
{
    char *e = slurp(err_path);
    const char *l = last_line(e);
    if (strncmp(l, "xbar characterize: ", 19) != 0 || !strstr(l, part))
        fail_msg("last stderr line '%s' lacks '%s' (stderr: %s)", l, part, e);
    free(e);
}

/* One test's files: a temporary directory with the campaign NAME.ini, the output NAME.h5 and
 * xbar's stderr NAME.err. */
typedef struct {
    char *dir, *ini, *out, *errp;
} fcase;

static void fcase_new(fcase *c, const char *tag, const char *name, const char *ini_text)
{
    char f[64];
    c->dir = xb_test_tmpdir(tag);
    assert_non_null(c->dir);
    snprintf(f, sizeof f, "%s.ini", name);
    c->ini = xb_test_write_file(c->dir, f, ini_text);
    snprintf(f, sizeof f, "%s.h5", name);
    c->out = xb_test_path(c->dir, f);
    snprintf(f, sizeof f, "%s.err", name);
    c->errp = xb_test_path(c->dir, f);
}

static void fcase_free(fcase *c)
{
    free(c->ini);
    free(c->out);
    free(c->errp);
    xb_test_tmpdir_remove(c->dir);
}

/* ------------------------------------------------------------------ tests */
/* Point p00001 (64x64 in ngspice, ~2 s) loses its point process to SIGKILL, point p00002
 * (48x48) loses the engine worker running libngspice; p00000 and p00003 are unaffected. */
static void test_killed_point_and_worker(void **state)
{
    (void)state;
    fcase fc;
    fcase_new(&fc, "fault-kill", "k",
              "[campaign]\nname = kill\nseed = 1\nengine = spice\nworkers = 1\n"
              "[array]\nsize = 2x2, 64x64, 48x48, 3x3\n"
              "[inputs]\nsamples = 1\nvectors = 2\n[read]\nschemes = none\n");
    char *ini = fc.ini, *out = fc.out, *errp = fc.errp;
    char parts1[4200], parts2[4200];
    snprintf(parts1, sizeof parts1, "%s.parts/p00001.h5", out);
    snprintf(parts2, sizeof parts2, "%s.parts/p00002.h5", out);
    char *args[] = {ini, "-o", out, NULL};
    pid_t pid = start_xbar(NULL, errp, args);
    assert_true(pid > 0);

    /* p00001 started: kill its point process (the child of xbar). */
    assert_true(wait_for_file(parts1));
    pid_t pp = 0;
    for (int k = 0; k < 5000 && !pp; k++, sleep_ms(1)) pp = first_child(pid);
    assert_true(pp > 0);
    assert_int_equal(kill(pp, SIGKILL), 0);

    /* p00002 started: wait for its engine worker (child of the point process), kill it. */
    assert_true(wait_for_file(parts2));
    pid_t worker = 0;
    for (int k = 0; k < 20000 && !worker; k++, sleep_ms(1)) {
        pid_t p2 = first_child(pid);
        if (p2 && p2 != pp) worker = first_child(p2);
    }
    assert_true(worker > 0);
    assert_int_equal(kill(worker, SIGKILL), 0);

    assert_int_equal(xb_test_wait(pid), 1);
    check_final_message(errp, "2 of 4 points failed");
    char *e = slurp(errp);
    assert_non_null(strstr(e, "p00001 FAILED"));
    assert_non_null(strstr(e, "p00002 FAILED"));
    free(e);

    hid_t f;
    xb_error err;
    assert_int_equal(xb_h5_open(out, 0, &f, &err), XB_OK);
    check_point(f, "p00000", "ok", 2, NULL);
    check_point(f, "p00001", "failed", 0, "killed by signal 9");
    check_point(f, "p00002", "failed", 0, NULL);
    check_point(f, "p00003", "ok", 3, NULL);
    xb_h5_close(f, &err);
    assert_int_not_equal(access(parts1, F_OK), 0); /* scratch files cleaned */
    fcase_free(&fc);
}

/* A point that hangs: the 128x128 ngspice solve (minutes: Sparse 1.3 reordering) against
 * --timeout 2 s, long enough for the 2x2 point even under sanitizers on a loaded machine; the engine
 * kills the job, the point is recorded as failed with the time limit, the other is ok. */
static void test_hung_point_timeout(void **state)
{
    (void)state;
    fcase fc;
    fcase_new(&fc, "fault-hang", "h",
              "[campaign]\nname = hang\nseed = 1\nengine = spice\nworkers = 1\n"
              "[array]\nsize = 2x2, 128x128\n"
              "[inputs]\nsamples = 1\nvectors = 2\n[read]\nschemes = none\n");
    char *ini = fc.ini, *out = fc.out, *errp = fc.errp;
    char *args[] = {ini, "-o", out, "--timeout", "2", NULL};
    double t0 = xb_now_s();
    assert_int_equal(run_xbar(NULL, errp, args), 1);
    assert_true(xb_now_s() - t0 < 30);
    check_final_message(errp, "1 of 2 points failed");
    hid_t f;
    xb_error err;
    assert_int_equal(xb_h5_open(out, 0, &f, &err), XB_OK);
    check_point(f, "p00000", "ok", 2, NULL);
    check_point(f, "p00001", "failed", 0, "timed out after 2 s");
    xb_h5_close(f, &err);
    fcase_free(&fc);
}

/* A device model with no DC solution (B source I = 1 + V^2 on a private node: gmin and
 * source stepping cannot help) breaks every rram point in ngspice; linear points stay ok. */
static void test_nonconvergence(void **state)
{
    (void)state;
    fcase fc;
    fcase_new(&fc, "fault-nc", "nc",
              "[campaign]\nname = nc\nseed = 1\nengine = spice\nworkers = 1\n"
              "[array]\nsize = 3x3\ndevice = linear, rram\n"
              "[inputs]\nsamples = 1\nvectors = 2\n[read]\nschemes = none\n");
    char *dir = fc.dir, *ini = fc.ini, *out = fc.out, *errp = fc.errp;
    char src[4096];
    snprintf(src, sizeof src, "%s/models/rram.lib", XB_SOURCE_DIR);
    char *lib = slurp(src);
    const char *sub = strstr(lib, ".subckt rram_read");
    assert_non_null(sub);
    const char *eol = strchr(sub, '\n');
    assert_non_null(eol);
    size_t head = (size_t)(eol + 1 - lib);
    size_t n = strlen(lib) + 128;
    char *broken = malloc(n);
    snprintf(broken, n, "%.*sBnc nc 0 I = 1 + v(nc)*v(nc)\n%s", (int)head, lib, lib + head);
    char *mdir = xb_test_path(dir, "models");
    assert_int_equal(mkdir(mdir, 0755), 0);
    free(xb_test_write_file(mdir, "rram.lib", broken));
    /* the other libraries unchanged */
    const char *others[] = {"pcm.lib", "ecram.lib", "selector.lib"};
    for (int k = 0; k < 3; k++) {
        snprintf(src, sizeof src, "%s/models/%s", XB_SOURCE_DIR, others[k]);
        char *t = slurp(src);
        free(xb_test_write_file(mdir, others[k], t));
        free(t);
    }
    char *args[] = {ini, "-o", out, NULL};
    setenv("XBAR_MODELS_DIR", mdir, 1);
    int rc = run_xbar(NULL, errp, args);
    unsetenv("XBAR_MODELS_DIR");
    assert_int_equal(rc, 1);
    check_final_message(errp, "1 of 2 points failed");
    hid_t f;
    xb_error err;
    assert_int_equal(xb_h5_open(out, 0, &f, &err), XB_OK);
    check_point(f, "p00000", "ok", 3, NULL);
    check_point(f, "p00001", "failed", 0, "convergence");
    xb_h5_close(f, &err);

    /* With the stock models the rerun (--retry-failed) recomputes only the failed point. */
    char *args2[] = {ini, "-o", out, "--retry-failed", NULL};
    assert_int_equal(run_xbar(NULL, errp, args2), 0);
    char *e = slurp(errp);
    assert_non_null(strstr(e, "1 skipped (already done), 1 computed, 0 failed"));
    free(e);
    assert_int_equal(xb_h5_open(out, 0, &f, &err), XB_OK);
    check_point(f, "p00001", "ok", 3, NULL);
    xb_h5_close(f, &err);
    free(broken);
    free(lib);
    free(mdir);
    fcase_free(&fc);
}

static const char *k_small_campaign =
    "[campaign]\nname = small\nseed = 1\nengine = native\nworkers = 1\n"
    "[array]\nsize = 4x4, 5x5, 6x6, 7x7, 8x8, 9x9\ndevice = linear, rram\n"
    "[inputs]\nsamples = 1\nvectors = 4\n[read]\nschemes = none\n";

/* Output in a missing directory, in a read-only directory (as an unprivileged user when
 * the tests run as root), and on /dev/full: exit 1, one line naming the output path. */
static void test_unwritable_output(void **state)
{
    (void)state;
    char *dir = xb_test_tmpdir("fault-ro");
    assert_int_equal(chmod(dir, 0755), 0);
    char *ini = xb_test_write_file(dir, "s.ini", k_small_campaign);
    assert_int_equal(chmod(ini, 0644), 0);
    char *errp = xb_test_path(dir, "s.err");

    char *missing = xb_test_path(dir, "no/such/dir/r.h5");
    char *a1[] = {ini, "-o", missing, NULL};
    assert_int_equal(run_xbar(NULL, errp, a1), 1);
    check_final_message(errp, missing);
    char *e = slurp(errp);
    assert_int_equal(xb_test_count_lines(e), 1);
    free(e);

    char *ro = xb_test_path(dir, "ro");
    assert_int_equal(mkdir(ro, 0555), 0);
    assert_int_equal(chmod(ro, 0555), 0);
    char *in_ro = xb_test_path(ro, "r.h5");
    /* stderr file must be writable by the unprivileged user */
    int fd = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    close(fd);
    assert_int_equal(chmod(errp, 0666), 0);
    run_opts nobody = {1, 0, 0};
    char *a2[] = {ini, "-o", in_ro, NULL};
    assert_int_equal(run_xbar(&nobody, errp, a2), 1);
    check_final_message(errp, in_ro);
    assert_int_not_equal(access(in_ro, F_OK), 0);

    char *a3[] = {ini, "-o", "/dev/full", "--force", NULL};
    assert_int_equal(run_xbar(NULL, errp, a3), 1);
    check_final_message(errp, "/dev/full");
    free(in_ro);
    free(ro);
    free(missing);
    free(errp);
    free(ini);
    xb_test_tmpdir_remove(dir);
}

/* The file may not grow past 160 kB (RLIMIT_FSIZE, SIGXFSZ ignored: writes fail with
 * EFBIG as on a full disk): the run stops with exit 1 and one line, the points stored
 * before are complete, and a rerun without the limit completes the campaign. */
static void test_full_device(void **state)
{
    (void)state;
    fcase fc;
    fcase_new(&fc, "fault-full", "s", k_small_campaign);
    char *ini = fc.ini, *out = fc.out, *errp = fc.errp;
    char *args[] = {ini, "-o", out, NULL};
    run_opts lim = {0, 160 * 1024, 0};
    assert_int_equal(run_xbar(&lim, errp, args), 1);
    check_final_message(errp, out);

    struct stat sb;
    assert_int_equal(stat(out, &sb), 0);
    assert_true(sb.st_size <= 160 * 1024);
    hid_t f;
    xb_error err;
    assert_int_equal(xb_h5_open(out, 0, &f, &err), XB_OK);
    char **names = NULL;
    size_t n = 0;
    assert_int_equal(xb_h5_list(f, "points", &names, &n, &err), XB_OK);
    /* some points made it, not all (12 points of >= 10 kB each do not fit) */
    assert_true(n >= 1);
    assert_true(n < 12);
    static const size_t side[6] = {4, 5, 6, 7, 8, 9};
    for (size_t k = 0; k < n; k++) {
        unsigned idx = 0;
        assert_int_equal(sscanf(names[k], "p%05u", &idx), 1);
        /* points in sweep order: size is the outer axis, device the inner */
        check_point(f, names[k], "ok", side[idx / 2], NULL);
    }
    xb_h5_free_names(names, n);
    xb_h5_close(f, &err);

    /* room again: the rerun resumes and completes */
    assert_int_equal(run_xbar(NULL, errp, args), 0);
    assert_int_equal(xb_h5_open(out, 0, &f, &err), XB_OK);
    assert_int_equal(xb_h5_list(f, "points", &names, &n, &err), XB_OK);
    assert_int_equal(n, 12);
    xb_h5_free_names(names, n);
    check_point(f, "p00011", "ok", 9, NULL);
    xb_h5_close(f, &err);
    fcase_free(&fc);
}

/* A results file damaged by an earlier crash (truncated to half): the rerun refuses it with
 * one line (exit 2) instead of writing into it; --force starts over and completes. */
static void test_damaged_results_file(void **state)
{
    (void)state;
    fcase fc;
    fcase_new(&fc, "fault-damaged", "s", k_small_campaign);
    char *ini = fc.ini, *out = fc.out, *errp = fc.errp;
    char *args[] = {ini, "-o", out, NULL};
    assert_int_equal(run_xbar(NULL, errp, args), 0);
    struct stat sb;
    assert_int_equal(stat(out, &sb), 0);
    assert_int_equal(truncate(out, sb.st_size / 2), 0);
    assert_int_equal(run_xbar(NULL, errp, args), 2);
    check_final_message(errp, out);
    char *e = slurp(errp);
    assert_int_equal(xb_test_count_lines(e), 1);
    free(e);
    assert_int_equal(stat(out, &sb), 0); /* left alone */
    char *args2[] = {ini, "-o", out, "--force", NULL};
    assert_int_equal(run_xbar(NULL, errp, args2), 0);
    hid_t f;
    xb_error err;
    assert_int_equal(xb_h5_open(out, 0, &f, &err), XB_OK);
    check_point(f, "p00000", "ok", 4, NULL);
    check_point(f, "p00011", "ok", 9, NULL);
    xb_h5_close(f, &err);
    fcase_free(&fc);
}

/* Every dataset of `a` is in `b` with the same shape and values (numbers bit for bit,
 * strings equal), and b has no other: the results of two runs compared. */
typedef struct {
    char *path[512];
    size_t n;
} ds_list;

static int list_ds(void *user, const char *path, int is_group, const xb_h5_info *info)
{
    (void)info;
    ds_list *l = user;
    if (!is_group && l->n < 512) l->path[l->n++] = strdup(path);
    return 0;
}

static void same_datasets(const char *a, const char *b)
{
    hid_t fa, fb;
    xb_error err;
    assert_int_equal(xb_h5_open(a, 0, &fa, &err), XB_OK);
    assert_int_equal(xb_h5_open(b, 0, &fb, &err), XB_OK);
    ds_list la = {0}, lb = {0};
    assert_int_equal(xb_h5_visit(fa, list_ds, &la, &err), XB_OK);
    assert_int_equal(xb_h5_visit(fb, list_ds, &lb, &err), XB_OK);
    assert_int_equal(la.n, lb.n);
    assert_true(la.n > 10);
    for (size_t k = 0; k < la.n; k++) {
        assert_string_equal(la.path[k], lb.path[k]);
        xb_h5_info ia, ib;
        assert_int_equal(xb_h5_dataset_info(fa, la.path[k], &ia, &err), XB_OK);
        assert_int_equal(xb_h5_dataset_info(fb, lb.path[k], &ib, &err), XB_OK);
        assert_int_equal(ia.cls, ib.cls);
        assert_int_equal(ia.rank, ib.rank);
        if (ia.cls == XB_H5_STRING) {
            char *ta = NULL, *tb = NULL;
            assert_int_equal(xb_h5_read_text(fa, la.path[k], &ta, &err), XB_OK);
            assert_int_equal(xb_h5_read_text(fb, lb.path[k], &tb, &err), XB_OK);
            assert_string_equal(ta, tb);
            free(ta);
            free(tb);
        } else if (ia.cls == XB_H5_NUMERIC) {
            double *da = NULL, *db = NULL;
            int ra, rb;
            hsize_t dma[4], dmb[4];
            assert_int_equal(xb_h5_read_doubles(fa, la.path[k], &da, &ra, dma, &err), XB_OK);
            assert_int_equal(xb_h5_read_doubles(fb, lb.path[k], &db, &rb, dmb, &err), XB_OK);
            size_t n = 1;
            for (int q = 0; q < ra; q++) {
                assert_int_equal(dma[q], dmb[q]);
                n *= dma[q];
            }
            if (memcmp(da, db, n * sizeof *da) != 0) fail_msg("%s:/%s differs from %s", b, lb.path[k], a);
            free(da);
            free(db);
        }
        free(la.path[k]);
        free(lb.path[k]);
    }
    xb_h5_close(fa, &err);
    xb_h5_close(fb, &err);
}

/* Two campaigns started at once on one output, 20 times: exactly one runs (exit 0), the
 * other refuses at once (exit 1, one line naming the output and the holder's pid); the
 * file equals an uninterrupted run's, and no scratch, lock or temporary file is left.
 * Before the lock, 5 of 6 such trials left a truncated file. */
static void test_concurrent_campaigns(void **state)
{
    (void)state;
    char *dir = xb_test_tmpdir("fault-conc");
    /* six native points (~0.1 s): the holder runs far longer than the two starts differ */
    char *ini = xb_test_write_file(dir, "s.ini",
                                   "[campaign]\nname = conc\nseed = 1\nengine = native\nworkers = 1\n"
                                   "[array]\nsize = 4x4, 6x6, 8x8\ndevice = linear, rram\n"
                                   "[inputs]\nsamples = 1\nvectors = 4\n[read]\nschemes = none\n");
    char *ref = xb_test_path(dir, "ref.h5"), *out = xb_test_path(dir, "c.h5");
    char *e1 = xb_test_path(dir, "e1"), *e2 = xb_test_path(dir, "e2");
    char *aref[] = {ini, "-o", ref, "-q", NULL};
    assert_int_equal(run_xbar(NULL, e1, aref), 0);
    char *args[] = {ini, "-o", out, "-q", NULL};
    int refused_first = 0, sequential = 0;
    for (int trial = 0; trial < 20; trial++) {
        unlink(out);
        pid_t p1 = start_xbar(NULL, e1, args), p2 = start_xbar(NULL, e2, args);
        int r1 = xb_test_wait(p1), r2 = xb_test_wait(p2);
        if (r1 == 0 && r2 == 0) {
            /* on a loaded machine the second may start after the first has finished: it then
             * resumes a complete file (nothing to do), which is right; the runs did not overlap */
            same_datasets(ref, out);
            sequential++;
            continue;
        }
        if (!((r1 == 0 && r2 == 1) || (r1 == 1 && r2 == 0)))
            fail_msg("trial %d: exits %d and %d, expected one 0 and one 1", trial, r1, r2);
        const char *ep = r1 ? e1 : e2;
        pid_t winner = r1 ? p2 : p1;
        refused_first += r1 != 0;
        char *e = slurp(ep);
        char want[64];
        snprintf(want, sizeof want, "pid %d", (int)winner);
        if (xb_test_count_lines(e) != 1 || !strstr(e, out) || !strstr(e, "in use by another xbar process") ||
            !strstr(e, want))
            fail_msg("trial %d: refusal '%s' lacks the output, the lock or '%s'", trial, e, want);
        free(e);
        same_datasets(ref, out);
        /* only the two results files, the campaign and the stderr captures */
        DIR *d = opendir(dir);
        struct dirent *de;
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "s.ini") &&
                strcmp(de->d_name, "ref.h5") && strcmp(de->d_name, "c.h5") && strcmp(de->d_name, "e1") &&
                strcmp(de->d_name, "e2"))
                fail_msg("trial %d: %s left in %s", trial, de->d_name, dir);
        closedir(d);
    }
    print_message("concurrent campaigns: 20 trials, %d overlapped (the first started refused %d times), %d ran one "
                  "after the other\n",
                  20 - sequential, refused_first, sequential);
    /* the lock itself must have been exercised: most trials overlap even under load */
    assert_true(20 - sequential >= 10);
    free(e1);
    free(e2);
    free(ref);
    free(out);
    free(ini);
    xb_test_tmpdir_remove(dir);
}

/* Ctrl-C (SIGINT to the whole process group, as a terminal sends it) while the third of four
 * points (48x48 in ngspice, ~1 s) runs: exit 1 with "interrupted: 2 of 4 points done, resume
 * with the same command"; the two finished points are kept, the interrupted one is not
 * recorded (as failed or otherwise); the rerun computes the last two and none fails. */
static void test_interrupt_resume(void **state)
{
    (void)state;
    char *dir = xb_test_tmpdir("fault-int");
    char *ini = xb_test_write_file(dir, "i.ini",
                                   "[campaign]\nname = int\nseed = 1\nengine = spice\nworkers = 1\n"
                                   "[array]\nsize = 2x2, 3x3, 48x48, 4x4\n"
                                   "[inputs]\nsamples = 1\nvectors = 2\n[read]\nschemes = none\n");
    char *out = xb_test_path(dir, "i.h5"), *errp = xb_test_path(dir, "i.err");
    char parts[4200], lockp[4200];
    snprintf(parts, sizeof parts, "%s.parts/p00002.h5", out);
    snprintf(lockp, sizeof lockp, "%s.lock", out);
    char *args[] = {ini, "-o", out, NULL};
    run_opts grp = {0, 0, 1};
    pid_t pid = start_xbar(&grp, errp, args);
    assert_true(pid > 0);
    assert_true(wait_for_file(parts));
    sleep_ms(100); /* ngspice under way */
    assert_int_equal(kill(-pid, SIGINT), 0);
    assert_int_equal(xb_test_wait(pid), 1);
    check_final_message(errp, "interrupted: 2 of 4 points done, resume with the same command");
    char *e = slurp(errp);
    assert_null(strstr(e, "FAILED"));
    free(e);
    hid_t f;
    xb_error err;
    assert_int_equal(xb_h5_open(out, 0, &f, &err), XB_OK);
    check_point(f, "p00000", "ok", 2, NULL);
    check_point(f, "p00001", "ok", 3, NULL);
    assert_false(xb_h5_exists(f, "points/p00002"));
    assert_false(xb_h5_exists(f, "points/p00003"));
    xb_h5_close(f, &err);
    char pdir[4200];
    snprintf(pdir, sizeof pdir, "%s.parts", out);
    assert_int_not_equal(access(pdir, F_OK), 0);
    assert_int_not_equal(access(lockp, F_OK), 0);

    assert_int_equal(run_xbar(NULL, errp, args), 0);
    e = slurp(errp);
    assert_non_null(strstr(e, "2 skipped (already done), 2 computed, 0 failed"));
    free(e);
    assert_int_equal(xb_h5_open(out, 0, &f, &err), XB_OK);
    check_point(f, "p00002", "ok", 48, NULL);
    check_point(f, "p00003", "ok", 4, NULL);
    xb_h5_close(f, &err);
    free(ini);
    free(out);
    free(errp);
    xb_test_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_killed_point_and_worker),
        cmocka_unit_test(test_hung_point_timeout),
        cmocka_unit_test(test_nonconvergence),
        cmocka_unit_test(test_unwritable_output),
        cmocka_unit_test(test_full_device),
        cmocka_unit_test(test_damaged_results_file),
        cmocka_unit_test(test_concurrent_campaigns),
        cmocka_unit_test(test_interrupt_resume),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
