/* Every writer of xbar under faults (issue 14, "nothing lost, nothing silent"):
 *   - a full disk: RLIMIT_FSIZE in the forked child with SIGXFSZ ignored (writes fail with
 *     EFBIG as they fail with ENOSPC on a full disk), and /dev/full;
 *   - standard output that cannot be written (/dev/full);
 *   - an output another xbar process is writing (its lock held by this test);
 *   - an HDF5 file another process holds open (this test, through libhdf5's file lock);
 *   - a gnuplot that never finishes (a fake one first on PATH).
 * Each writer must exit 1 with one stderr line naming the file (and errno), leave an
 * existing target byte-identical and no temporary or partial file behind.  The previous
 * targets are real outputs of the same command, written first without the fault. */
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
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "support/xb_test.h"
#include "xbar/exec.h"
#include "xbar/h5.h"

/* ------------------------------------------------------------------ running xbar */
typedef struct {
    rlim_t fsize;             /* > 0: RLIMIT_FSIZE in bytes, SIGXFSZ ignored */
    const char *stdout_path;  /* NULL: /dev/null */
    const char *path_first;   /* a directory put first on PATH */
    const char *env_name, *env_value;
} wopts;

/* Run `xbar ARGS... NULL` with the faults of o; *err_out = its stderr (malloc'ed). */
static int xbar_v(const wopts *o, char **err_out, va_list ap)
{
    char *argv[48];
    int n = 0;
    argv[n++] = (char *)XB_XBAR_EXE;
    for (char *a = va_arg(ap, char *); a && n < 47; a = va_arg(ap, char *)) argv[n++] = a;
    argv[n] = NULL;
    int pe[2];
    if (pipe(pe) != 0) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int out = open(o && o->stdout_path ? o->stdout_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0666);
        if (in < 0 || out < 0) _exit(126);
        dup2(in, 0);
        dup2(out, 1);
        dup2(pe[1], 2); /* a pipe: not limited by RLIMIT_FSIZE */
        close(pe[0]);
        close(pe[1]);
        const char *lo = getenv("LSAN_OPTIONS");
        char lbuf[2048];
        snprintf(lbuf, sizeof lbuf, "%s%sprint_suppressions=0", lo ? lo : "", lo && *lo ? ":" : "");
        setenv("LSAN_OPTIONS", lbuf, 1);
        if (o && o->path_first) {
            char pbuf[8192];
            const char *p = getenv("PATH");
            snprintf(pbuf, sizeof pbuf, "%s:%s", o->path_first, p ? p : "/usr/bin:/bin");
            setenv("PATH", pbuf, 1);
        }
        if (o && o->env_name) setenv(o->env_name, o->env_value, 1);
        if (o && o->fsize) {
            signal(SIGXFSZ, SIG_IGN); /* inherited across exec: writes fail with EFBIG */
            struct rlimit rl = {o->fsize, o->fsize};
            if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(126);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    close(pe[1]);
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    ssize_t r;
    for (;;) {
        if (len + 1024 > cap) buf = realloc(buf, cap *= 2);
        r = read(pe[0], buf + len, cap - len - 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        len += (size_t)r;
    }
    buf[len] = '\0';
    close(pe[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    *err_out = buf;
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return -1;
}

static int xbar(const wopts *o, char **err_out, ...)
{
    va_list ap;
    va_start(ap, err_out);
    int rc = xbar_v(o, err_out, ap);
    va_end(ap);
    return rc;
}

/* Run without faults; the test fails (printing stderr) unless it exits 0. */
static void xbar_ok(const char *what, ...)
{
    char *e = NULL;
    va_list ap;
    va_start(ap, what);
    int rc = xbar_v(NULL, &e, ap);
    va_end(ap);
    if (rc != 0) fail_msg("%s: exit %d: %s", what, rc, e);
    free(e);
}

/* ------------------------------------------------------------------ files */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0, r;
    char *b = malloc(cap);
    while ((r = fread(b + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (n + 1 == cap) b = realloc(b, cap *= 2);
    }
    fclose(f);
    b[n] = '\0';
    if (len) *len = n;
    return b;
}

/* A directory's contents: every entry (hidden ones too), sorted, with its bytes. */
typedef struct {
    size_t n;
    char *name[64];
    char *data[64];
    size_t len[64];
} dir_snap;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void snap(const char *dir, dir_snap *s)
{
    memset(s, 0, sizeof *s);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            assert_true(s->n < 64);
            s->name[s->n++] = strdup(e->d_name);
        }
    closedir(d);
    qsort(s->name, s->n, sizeof s->name[0], cmp_str);
    for (size_t k = 0; k < s->n; k++) {
        char *p = xb_test_path(dir, s->name[k]);
        struct stat sb;
        if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode)) s->data[k] = slurp(p, &s->len[k]);
        free(p);
    }
}

static void snap_free(dir_snap *s)
{
    for (size_t k = 0; k < s->n; k++) {
        free(s->name[k]);
        free(s->data[k]);
    }
}

/* dir holds exactly what it held before, byte for byte: the previous outputs intact, no
 * temporary, partial, lock or staging file left. */
static void expect_unchanged(const char *dir, dir_snap *before)
{
    dir_snap now;
    snap(dir, &now);
    if (now.n != before->n) {
        for (size_t k = 0; k < now.n; k++) print_message("now: %s\n", now.name[k]);
        for (size_t k = 0; k < before->n; k++) print_message("before: %s\n", before->name[k]);
        fail_msg("%s: %zu entries, %zu before", dir, now.n, before->n);
    }
    for (size_t k = 0; k < now.n; k++) {
        assert_string_equal(now.name[k], before->name[k]);
        if ((now.data[k] == NULL) != (before->data[k] == NULL) || now.len[k] != before->len[k] ||
            (now.data[k] && memcmp(now.data[k], before->data[k], now.len[k]) != 0))
            fail_msg("%s/%s changed", dir, now.name[k]);
    }
    snap_free(&now);
}

/* Exit 1, exactly one stderr line, naming `name` (and `part` when given). */
static void expect_one_line(int rc, const char *e, const char *name, const char *part)
{
    if (rc != 1 || xb_test_count_lines(e) != 1 || !strstr(e, name) || (part && !strstr(e, part)))
        fail_msg("expected exit 1 and one line naming %s%s%s, got exit %d: %s", name, part ? " and " : "",
                 part ? part : "", rc, e);
}

/* ------------------------------------------------------------------ fixtures */
typedef struct {
    char *dir;       /* inputs */
    char *g6, *v6, *g40, *v40, *ini, *results, *model, *acc_csv;
} fixture;

static fixture F;

static char *matrix_csv(const char *dir, const char *name, size_t rows, size_t cols, double lo, double hi)
{
    size_t cap = rows * cols * 32 + 1;
    char *t = malloc(cap), *w = t;
    uint64_t s = 42 + rows * 1000 + cols;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            w += sprintf(w, "%.6g%s", lo + (hi - lo) * xb_splitmix64_uniform(&s), j + 1 < cols ? "," : "\n");
    char *p = xb_test_write_file(dir, name, t);
    free(t);
    return p;
}

static const char *k_campaign =
    "[campaign]\nname = writers\nseed = 1\nengine = native\nworkers = 1\n"
    "[array]\nsize = 4x4, 6x6\ndevice = linear, rram\n"
    "[inputs]\nsamples = 1\nvectors = 4\n[read]\nschemes = none\n";

static int setup(void **state)
{
    (void)state;
    F.dir = xb_test_tmpdir("writers");
    F.g6 = matrix_csv(F.dir, "g6.csv", 6, 6, 1e-6, 4e-5);
    F.v6 = matrix_csv(F.dir, "v6.csv", 5, 6, -0.2, 0.2);
    F.g40 = matrix_csv(F.dir, "g40.csv", 40, 40, 1e-6, 4e-5);
    F.v40 = matrix_csv(F.dir, "v40.csv", 2, 40, -0.2, 0.2);
    F.ini = xb_test_write_file(F.dir, "w.ini", k_campaign);
    F.results = xb_test_path(F.dir, "r.h5");
    F.model = xb_test_path(F.dir, "m.h5");
    F.acc_csv = xb_test_write_file(F.dir, "acc.csv",
                                   "time_s,accuracy_no_comp,accuracy_comp,accuracy_ideal\n"
                                   "1,0.8,0.81,0.85\n3600,0.7,0.8,0.85\n31557600,0.5,0.78,0.85\n");
    xbar_ok("characterize", "characterize", F.ini, "-o", F.results, "-q", NULL);
    xbar_ok("fit", "fit", F.results, "-o", F.model, "--quiet", NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(F.g6);
    free(F.v6);
    free(F.g40);
    free(F.v40);
    free(F.ini);
    free(F.results);
    free(F.model);
    free(F.acc_csv);
    xb_test_tmpdir_remove(F.dir);
    return 0;
}

/* A fresh output directory for one test. */
static char *outdir(const char *tag) { return xb_test_tmpdir(tag); }

/* ------------------------------------------------------------------ text writers */
/* netlist -o: the 40x40 deck (> 64 kB) on a disk with 16 kB left. */
static void test_netlist_full_disk(void **state)
{
    (void)state;
    char *d = outdir("w-netlist"), *deck = xb_test_path(d, "deck.cir");
    xbar_ok("netlist", "netlist", "--g", F.g40, "--v", F.v40, "-o", deck, NULL);
    size_t len = 0;
    free(slurp(deck, &len));
    assert_true(len > 64 * 1024);
    dir_snap before;
    snap(d, &before);
    wopts o = {.fsize = 16 * 1024};
    char *e;
    int rc = xbar(&o, &e, "netlist", "--g", F.g40, "--v", F.v40, "-o", deck, NULL);
    expect_one_line(rc, e, deck, "File too large");
    expect_unchanged(d, &before);
    free(e);
    /* no previous file: none is left */
    char *deck2 = xb_test_path(d, "new.cir");
    rc = xbar(&o, &e, "netlist", "--g", F.g40, "--v", F.v40, "-o", deck2, NULL);
    expect_one_line(rc, e, deck2, NULL);
    expect_unchanged(d, &before);
    free(e);
    rc = xbar(NULL, &e, "netlist", "--g", F.g40, "--v", F.v40, "-o", "/dev/full", NULL);
    expect_one_line(rc, e, "/dev/full", "No space left on device");
    free(e);
    snap_free(&before);
    free(deck2);
    free(deck);
    xb_test_tmpdir_remove(d);
}

/* mvm -o: a CSV of 5 x 6 currents (~700 bytes) on a disk with 256 bytes left. */
static void test_mvm_full_disk(void **state)
{
    (void)state;
    char *d = outdir("w-mvm"), *csv = xb_test_path(d, "i.csv");
    xbar_ok("mvm", "mvm", "--g", F.g6, "--v", F.v6, "--engine", "ideal", "-o", csv, NULL);
    dir_snap before;
    snap(d, &before);
    wopts o = {.fsize = 256};
    char *e;
    int rc = xbar(&o, &e, "mvm", "--g", F.g6, "--v", F.v6, "--engine", "ideal", "-o", csv, NULL);
    expect_one_line(rc, e, csv, "File too large");
    expect_unchanged(d, &before);
    free(e);
    rc = xbar(NULL, &e, "mvm", "--g", F.g6, "--v", F.v6, "--engine", "ideal", "-o", "/dev/full", NULL);
    expect_one_line(rc, e, "/dev/full", "No space left on device");
    free(e);
    snap_free(&before);
    free(csv);
    xb_test_tmpdir_remove(d);
}

/* iv -o: the CSV (~6 kB) with 1 kB left; then room for the CSV but not the PNG (~10 kB):
 * the PNG gnuplot could not finish is not moved over the previous one; then --mode dynamic. */
static void test_iv_full_disk(void **state)
{
    (void)state;
    char *d = outdir("w-iv"), *csv = xb_test_path(d, "iv.csv"), *png = xb_test_path(d, "iv.png");
    xbar_ok("iv", "iv", "--device", "rram", "--mode", "read", "-o", csv, NULL);
    assert_int_equal(access(png, F_OK), 0);
    dir_snap before;
    snap(d, &before);
    wopts o = {.fsize = 1024};
    char *e;
    int rc = xbar(&o, &e, "iv", "--device", "rram", "--mode", "read", "-o", csv, NULL);
    expect_one_line(rc, e, csv, "File too large");
    expect_unchanged(d, &before);
    free(e);
    /* room for the CSV (~6 kB, the same numbers again) but not for the PNG (~10 kB) */
    wopts o7 = {.fsize = 7 * 1024};
    rc = xbar(&o7, &e, "iv", "--device", "rram", "--mode", "read", "-o", csv, NULL);
    expect_one_line(rc, e, png, "no complete PNG");
    expect_unchanged(d, &before);
    free(e);
    snap_free(&before);
    /* --mode dynamic (the rram SET/RESET sweep, ~170 kB of CSV) with 64 kB left: the
     * previous sweep and its PNG stay, no partial CSV */
    char *dyn = xb_test_path(d, "dyn.csv");
    xbar_ok("iv dynamic", "iv", "--device", "rram", "--mode", "dynamic", "-o", dyn, NULL);
    snap(d, &before);
    wopts o64 = {.fsize = 64 * 1024};
    rc = xbar(&o64, &e, "iv", "--device", "rram", "--mode", "dynamic", "-o", dyn, NULL);
    expect_one_line(rc, e, dyn, "File too large");
    expect_unchanged(d, &before);
    free(e);
    snap_free(&before);
    free(dyn);
    free(csv);
    free(png);
    xb_test_tmpdir_remove(d);
}

/* iv -o /dev/full used to hang forever (gnuplot read /dev/full as its data) and create
 * /dev/full.png: now the CSV write fails at once, no PNG anywhere. */
static void test_iv_dev_full(void **state)
{
    (void)state;
    char *e;
    int had = access("/dev/full.png", F_OK) == 0;
    double t0 = xb_now_s();
    int rc = xbar(NULL, &e, "iv", "--device", "rram", "--mode", "dynamic", "--pulses", "5", "-o", "/dev/full", NULL);
    expect_one_line(rc, e, "/dev/full", "No space left on device");
    assert_true(xb_now_s() - t0 < 60);
    if (!had) assert_int_not_equal(access("/dev/full.png", F_OK), 0);
    free(e);
    /* /dev/stdout: written through, no PNG named after it */
    char *d = outdir("w-ivstdout"), *out = xb_test_path(d, "stdout.csv");
    wopts o = {.stdout_path = out};
    had = access("/dev/stdout.png", F_OK) == 0;
    rc = xbar(&o, &e, "iv", "--device", "rram", "--mode", "read", "--states", "2", "--points", "5", "-o", "/dev/stdout",
              NULL);
    if (rc) fail_msg("iv -o /dev/stdout: exit %d: %s", rc, e);
    free(e);
    char *t = slurp(out, NULL);
    assert_non_null(t);
    assert_int_equal(xb_test_count_lines(t), 6); /* header + 5 points */
    free(t);
    if (!had) assert_int_not_equal(access("/dev/stdout.png", F_OK), 0);
    /* a PNG is renamed into place: never over a device (as root that would replace it) */
    char *csv = xb_test_path(d, "iv.csv");
    rc = xbar(NULL, &e, "iv", "--device", "rram", "--mode", "read", "--states", "2", "--points", "5", "-o", csv, "--png",
              "/dev/null", NULL);
    if (rc != 2 || xb_test_count_lines(e) != 1 || !strstr(e, "--png") || !strstr(e, "/dev/null"))
        fail_msg("iv --png /dev/null: exit %d: %s", rc, e);
    free(e);
    struct stat sb;
    assert_int_equal(stat("/dev/null", &sb), 0);
    assert_true(S_ISCHR(sb.st_mode));
    free(csv);
    free(out);
    xb_test_tmpdir_remove(d);
}

/* A gnuplot that never finishes is killed after XBAR_GNUPLOT_TIMEOUT s with its process
 * group: one line, exit 1, no PNG; the CSV (written before the plot) is complete. */
static void test_gnuplot_timeout(void **state)
{
    (void)state;
    char *d = outdir("w-gnuplot"), *bin = xb_test_path(d, "bin"), *pidf = xb_test_path(d, "fake.pid");
    assert_int_equal(mkdir(bin, 0755), 0);
    char script[8192];
    snprintf(script, sizeof script, "#!/bin/sh\necho $$ > '%s'\nexec sleep 600\n", pidf);
    char *fake = xb_test_write_file(bin, "gnuplot", script);
    assert_int_equal(chmod(fake, 0755), 0);
    char *csv = xb_test_path(d, "iv.csv"), *png = xb_test_path(d, "iv.png");
    wopts o = {.path_first = bin, .env_name = "XBAR_GNUPLOT_TIMEOUT", .env_value = "1"};
    char *e;
    double t0 = xb_now_s();
    int rc = xbar(&o, &e, "iv", "--device", "rram", "--mode", "read", "--states", "2", "-o", csv, NULL);
    double dt = xb_now_s() - t0;
    expect_one_line(rc, e, "gnuplot", "killed");
    assert_true(dt < 30);
    assert_int_not_equal(access(png, F_OK), 0);
    char *t = slurp(csv, NULL);
    assert_non_null(t);
    assert_true(strlen(t) > 100);
    free(t);
    char *ps = slurp(pidf, NULL);
    assert_non_null(ps);
    long pid = strtol(ps, NULL, 10);
    assert_true(pid > 0);
    assert_int_not_equal(kill((pid_t)pid, 0), 0); /* the fake gnuplot is gone */
    free(ps);
    free(e);
    free(fake);
    free(csv);
    free(png);
    free(pidf);
    free(bin);
    xb_test_tmpdir_remove(d);
}

/* report -o DIR: summary.csv cannot be written (256 bytes), then the PNGs cannot (8 kB): the
 * previous report stays as it was, file for file. */
static void test_report_full_disk(void **state)
{
    (void)state;
    char *d = outdir("w-report"), *plots = xb_test_path(d, "plots");
    xbar_ok("report", "report", F.results, "-o", plots, NULL);
    dir_snap before;
    snap(plots, &before);
    assert_true(before.n >= 6);
    const size_t limits[2] = {256, 8 * 1024};
    const char *what[2] = {"summary.csv", ".png"};
    for (int k = 0; k < 2; k++) {
        wopts o = {.fsize = limits[k]};
        char *e;
        int rc = xbar(&o, &e, "report", F.results, "-o", plots, NULL);
        expect_one_line(rc, e, plots, what[k]);
        expect_unchanged(plots, &before);
        free(e);
    }
    snap_free(&before);
    free(plots);
    xb_test_tmpdir_remove(d);
}

/* report --accuracy-time: the PNG cannot be written (4 kB). */
static void test_report_accuracy_full_disk(void **state)
{
    (void)state;
    char *d = outdir("w-acc"), *plots = xb_test_path(d, "plots");
    xbar_ok("report --accuracy-time", "report", "--accuracy-time", F.acc_csv, "-o", plots, NULL);
    dir_snap before;
    snap(plots, &before);
    assert_int_equal(before.n, 3); /* accuracy_vs_time.gp, .png, gnuplot.log */
    wopts o = {.fsize = 4096};
    char *e;
    int rc = xbar(&o, &e, "report", "--accuracy-time", F.acc_csv, "-o", plots, NULL);
    expect_one_line(rc, e, "accuracy_vs_time.png", "no complete PNG");
    expect_unchanged(plots, &before);
    free(e);
    rc = xbar(NULL, &e, "report", "--accuracy-time", "/dev/zero", "-o", plots, NULL);
    assert_int_equal(rc, 2);
    free(e);
    snap_free(&before);
    free(plots);
    xb_test_tmpdir_remove(d);
}

/* run --json, --time-csv and --logits. */
static void test_run_outputs_full_disk(void **state)
{
    (void)state;
    char net[4096];
    snprintf(net, sizeof net, "%s/data/fmnist_mlp.h5", XB_SOURCE_DIR);
    char *d = outdir("w-run"), *json = xb_test_path(d, "r.json"), *tcsv = xb_test_path(d, "t.csv");
    xbar_ok("run --json", "run", "--network", net, "--engine", "ideal", "--limit", "20", "--json", json, NULL);
    xbar_ok("run --time-csv", "run", "--network", net, "--engine", "tiled-ideal", "--device", "pcm", "--limit", "20",
            "--calib", "16", "--tile-rows", "16", "--tile-cols", "16", "--time-sweep=1h,1y", "--time-csv", tcsv, NULL);
    dir_snap before;
    snap(d, &before);
    assert_int_equal(before.n, 2);
    wopts o = {.fsize = 200};
    char *e;
    int rc = xbar(&o, &e, "run", "--network", net, "--engine", "ideal", "--limit", "20", "--json", json, NULL);
    expect_one_line(rc, e, json, "File too large");
    expect_unchanged(d, &before);
    free(e);
    o.fsize = 60;
    rc = xbar(&o, &e, "run", "--network", net, "--engine", "tiled-ideal", "--device", "pcm", "--limit", "20", "--calib",
              "16", "--tile-rows", "16", "--tile-cols", "16", "--time-sweep=1h,1y", "--time-csv", tcsv, NULL);
    expect_one_line(rc, e, tcsv, "File too large");
    expect_unchanged(d, &before);
    free(e);
    snap_free(&before);
    /* --logits (20 x 10 float32 after a 128-byte header) with 300 bytes left */
    char *x = xb_test_path(F.dir, "x20.npy"), *lg = xb_test_path(d, "l.npy");
    float px[20 * 784];
    uint64_t seed = 7;
    for (size_t k = 0; k < 20 * 784; k++) px[k] = (float)xb_splitmix64_uniform(&seed);
    xb_error err;
    assert_int_equal(xb_npy_write_f32(x, px, 20, 784, &err), XB_OK);
    xbar_ok("run --logits", "run", "--network", net, "--engine", "ideal", "--input", x, "--logits", lg, NULL);
    snap(d, &before);
    o.fsize = 300;
    rc = xbar(&o, &e, "run", "--network", net, "--engine", "ideal", "--input", x, "--logits", lg, NULL);
    expect_one_line(rc, e, lg, "File too large");
    expect_unchanged(d, &before);
    free(e);
    snap_free(&before);
    free(x);
    free(lg);
    free(json);
    free(tcsv);
    xb_test_tmpdir_remove(d);
}

/* ------------------------------------------------------------------ HDF5 writers */
/* fit -o on a full disk used to segfault (exit 139) in libhdf5 at exit. */
static void test_fit_full_disk(void **state)
{
    (void)state;
    char *d = outdir("w-fit"), *m = xb_test_path(d, "m.h5");
    xbar_ok("fit", "fit", F.results, "-o", m, "--quiet", NULL);
    dir_snap before;
    snap(d, &before);
    wopts o = {.fsize = 4096};
    char *e;
    int rc = xbar(&o, &e, "fit", F.results, "-o", m, "--force", "--quiet", NULL);
    expect_one_line(rc, e, m, "File too large");
    expect_unchanged(d, &before);
    free(e);
    rc = xbar(NULL, &e, "fit", F.results, "-o", "/dev/full", "--force", "--quiet", NULL);
    expect_one_line(rc, e, "/dev/full", "No space left on device");
    free(e);
    snap_free(&before);
    free(m);
    xb_test_tmpdir_remove(d);
}

/* The stderr of an export without its "note:" lines (the laws the model file lacks). */
static char *without_notes(char *e)
{
    char *w = e;
    for (const char *r = e; *r;) {
        const char *nl = strchr(r, '\n');
        size_t n = nl ? (size_t)(nl - r) + 1 : strlen(r);
        if (strncmp(r, "xbar export: note: ", 19) != 0) {
            memmove(w, r, n);
            w += n;
        }
        r += n;
    }
    *w = '\0';
    return e;
}

/* export: the module on a full disk or /dev/full, an existing module kept */
static void test_export_full_disk(void **state)
{
    (void)state;
    char *d = outdir("w-export"), *m = xb_test_path(d, "xbar_rram.py");
    xbar_ok("export", "export", "crosssim", F.model, "--device", "rram", "-o", m, NULL);
    dir_snap before;
    snap(d, &before);
    wopts o = {.fsize = 1024};
    char *e;
    int rc = xbar(&o, &e, "export", "aihwkit", F.model, "--device", "rram", "-o", m, "--force", NULL);
    expect_one_line(rc, without_notes(e), m, "File too large");
    expect_unchanged(d, &before);
    free(e);
    rc = xbar(NULL, &e, "export", "crosssim", F.model, "--device", "rram", "-o", "/dev/full", NULL);
    expect_one_line(rc, without_notes(e), "/dev/full", "No space left on device");
    free(e);
    snap_free(&before);
    free(m);
    xb_test_tmpdir_remove(d);
}

/* train --out on a full disk used to segfault and leave an unusable network file; an
 * existing file is refused without --force. */
static void test_train_full_disk(void **state)
{
    (void)state;
    char *d = outdir("w-train"), *n = xb_test_path(d, "n.h5");
    xbar_ok("train", "train", "--out", n, "--hidden", "4", "--epochs", "1", "--limit", "200", "--test-limit", "50",
            "--threads", "1", "--quiet", NULL);
    dir_snap before;
    snap(d, &before);
    char *e;
    int rc = xbar(NULL, &e, "train", "--out", n, "--hidden", "4", "--epochs", "1", "--limit", "200", "--test-limit",
                  "50", "--threads", "1", "--quiet", NULL);
    assert_int_equal(rc, 2);
    assert_int_equal(xb_test_count_lines(e), 1);
    assert_non_null(strstr(e, n));
    assert_non_null(strstr(e, "--force"));
    expect_unchanged(d, &before);
    free(e);
    wopts o = {.fsize = 4096};
    rc = xbar(&o, &e, "train", "--out", n, "--force", "--hidden", "4", "--epochs", "1", "--limit", "200",
              "--test-limit", "50", "--threads", "1", "--quiet", NULL);
    expect_one_line(rc, e, n, "File too large");
    expect_unchanged(d, &before);
    free(e);
    /* a campaign's results are not a network to overwrite either */
    rc = xbar(NULL, &e, "train", "--out", F.results, "--hidden", "4", "--epochs", "1", "--limit", "200", NULL);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(e, "--force"));
    free(e);
    snap_free(&before);
    free(n);
    xb_test_tmpdir_remove(d);
}

/* characterize --force on a full disk: the new file's header cannot be written, the
 * previous results file stays as it was. */
static void test_characterize_force_full_disk(void **state)
{
    (void)state;
    char *d = outdir("w-char"), *r = xb_test_path(d, "r.h5");
    xbar_ok("characterize", "characterize", F.ini, "-o", r, "-q", NULL);
    dir_snap before;
    snap(d, &before);
    wopts o = {.fsize = 2048};
    char *e;
    int rc = xbar(&o, &e, "characterize", F.ini, "-o", r, "--force", "-q", NULL);
    expect_one_line(rc, e, r, "File too large");
    expect_unchanged(d, &before);
    free(e);
    snap_free(&before);
    free(r);
    xb_test_tmpdir_remove(d);
}

/* ------------------------------------------------------------------ standard output */
/* Every command printing to a full standard output: exit 1, one line. */
static void test_stdout_full(void **state)
{
    (void)state;
    char *d = outdir("w-stdout"), *m = xb_test_path(d, "m.h5");
    char net[4096];
    snprintf(net, sizeof net, "%s/data/fmnist_mlp.h5", XB_SOURCE_DIR);
    wopts o = {.stdout_path = "/dev/full"};
    struct {
        const char *cmd;
        char *args[16];
    } cases[] = {
        {"mvm", {"mvm", "--g", F.g6, "--v", F.v6, "--engine", "ideal", NULL}},
        {"netlist", {"netlist", "--g", F.g6, "--v", F.v6, "-o", "-", NULL}},
        {"sneak", {"sneak", "--rows", "3", "--cols", "3", "--cell-at", "1,1", "--scheme", "v2", NULL}},
        {"inspect", {"inspect", F.results, "--tree", NULL}},
        {"fit", {"fit", F.results, "-o", m, "--quiet", NULL}},
        {"characterize", {"characterize", F.ini, "--dry-run", NULL}},
        {"run", {"run", "--network", net, "--engine", "ideal", "--limit", "20", NULL}},
        {"iv", {"iv", "--help", NULL}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *argv[20] = {0};
        size_t n = 0;
        for (; cases[k].args[n]; n++) argv[n] = cases[k].args[n];
        argv[n] = NULL;
        char *e;
        int rc = xbar(&o, &e, argv[0], argv[1], argv[2], argv[3], argv[4], argv[5], argv[6], argv[7], argv[8], argv[9],
                      argv[10], NULL);
        char want[128];
        snprintf(want, sizeof want, "xbar %s: writing standard output: No space left on device", cases[k].cmd);
        expect_one_line(rc, e, want, NULL);
        free(e);
    }
    free(m);
    xb_test_tmpdir_remove(d);
}

/* ------------------------------------------------------------------ concurrent writers */
/* The lock of OUT held by this test (as another xbar would hold it, pid written): fit,
 * train and characterize refuse at once, naming the holder's pid, exit 1, and touch
 * nothing. */
static void test_output_locked(void **state)
{
    (void)state;
    char *d = outdir("w-lock"), *out = xb_test_path(d, "o.h5"), *lockp = xb_test_path(d, "o.h5.lock");
    int fd = open(lockp, O_RDWR | O_CREAT, 0666);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    char pid[32];
    int pl = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    assert_int_equal(write(fd, pid, (size_t)pl), pl);
    pid[pl - 1] = '\0';
    char want[64];
    snprintf(want, sizeof want, "pid %s", pid);
    dir_snap before;
    snap(d, &before);
    char *e;
    double t0 = xb_now_s();
    int rc = xbar(NULL, &e, "characterize", F.ini, "-o", out, "-q", NULL);
    expect_one_line(rc, e, out, want);
    free(e);
    rc = xbar(NULL, &e, "fit", F.results, "-o", out, "--quiet", NULL);
    expect_one_line(rc, e, out, want);
    free(e);
    rc = xbar(NULL, &e, "train", "--out", out, "--hidden", "4", "--epochs", "1", "--limit", "100", "--test-limit",
              "20", "--quiet", NULL);
    expect_one_line(rc, e, out, want);
    free(e);
    assert_true(xb_now_s() - t0 < 60); /* refused at once, not after the work */
    expect_unchanged(d, &before);
    close(fd);
    /* released: the next writer takes the lock and removes the lock file when done */
    xbar_ok("characterize", "characterize", F.ini, "-o", out, "-q", NULL);
    assert_int_not_equal(access(lockp, F_OK), 0);
    snap_free(&before);
    free(lockp);
    free(out);
    xb_test_tmpdir_remove(d);
}

/* A results file held open by another process (this test, read-only through libhdf5,
 * which locks it): resuming the campaign is refused as a runtime condition (exit 1,
 * "open in another process"), not as a damaged file (exit 2). */
static void test_results_held_by_reader(void **state)
{
    (void)state;
    char *d = outdir("w-reader"), *r = xb_test_path(d, "r.h5");
    xbar_ok("characterize", "characterize", F.ini, "-o", r, "-q", NULL);
    hid_t f;
    xb_error err;
    assert_int_equal(xb_h5_open(r, 0, &f, &err), XB_OK);
    char *e;
    int rc = xbar(NULL, &e, "characterize", F.ini, "-o", r, "-q", NULL);
    expect_one_line(rc, e, r, "open in another process");
    free(e);
    xb_h5_close(f, &err);
    /* and the other way: a writer holds it, readers say so */
    assert_int_equal(xb_h5_open(r, 1, &f, &err), XB_OK);
    rc = xbar(NULL, &e, "inspect", r, NULL);
    expect_one_line(rc, e, r, "open in another process");
    free(e);
    char *m = xb_test_path(d, "m.h5");
    rc = xbar(NULL, &e, "fit", r, "-o", m, NULL);
    expect_one_line(rc, e, r, "open in another process");
    free(e);
    xb_h5_close(f, &err);
    free(m);
    free(r);
    xb_test_tmpdir_remove(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_netlist_full_disk),
        cmocka_unit_test(test_mvm_full_disk),
        cmocka_unit_test(test_iv_full_disk),
        cmocka_unit_test(test_iv_dev_full),
        cmocka_unit_test(test_gnuplot_timeout),
        cmocka_unit_test(test_report_full_disk),
        cmocka_unit_test(test_report_accuracy_full_disk),
        cmocka_unit_test(test_run_outputs_full_disk),
        cmocka_unit_test(test_fit_full_disk),
        cmocka_unit_test(test_export_full_disk),
        cmocka_unit_test(test_train_full_disk),
        cmocka_unit_test(test_characterize_force_full_disk),
        cmocka_unit_test(test_stdout_full),
        cmocka_unit_test(test_output_locked),
        cmocka_unit_test(test_results_held_by_reader),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
