/*
 * bench_native_tran: the native read transient and single-cell reads (issue 18) against
 * ngspice on the same circuits, and their absolute speed on large arrays.
 *
 *   bench_native_tran [--no-spice] [--spice-max N] [--tight-max N] [--no-big] [--only transient|read]
 *
 * Part 1, transient side by side: N x N 1R arrays (default parameters: 1 ohm / 0.2 fF wire
 *   segments, 100 ohm drivers; inputs step over 10 ps to U(0, v_read), held 10 ns; 200
 *   points), ngspice = xb_char_transient_run (the deck and settings of a campaign's
 *   transient read, in a libngspice worker), native = xb_engine_native_transient with its
 *   defaults.  Wall times, ratio, and the differences of settling time, energy and final
 *   currents (ngspice's own error at these settings is ~1e-3 of the final value and a few %
 *   in settling, docs/native.md); up to --tight-max N also against the same deck with
 *   ngspice's accuracy options tightened.
 * Part 2, 256x256 transients, native alone, each in its own process (peak memory = its own).
 * Part 3, single-cell reads: 32x32 all cells at g_max (the worst case of `xbar sneak`)
 *   side by side with ngspice as `xbar sneak` runs it (one batch analysis per read), then
 *   native alone: the four reads of `xbar sneak` at 256x256, one read at 1024x1024.
 * Times are wall clock with the CPU time of the case beside them: the machine is shared.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xbar/characterize.h"
#include "xbar/engine.h"
#include "xbar/netlist.h"
#include "bench_util.h"

static const char *g_self;

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
           1e-6 * (double)ru.ru_stime.tv_usec;
}

static double peak_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

static void setup(xb_array_params *p, xb_device_kind dev, xb_cell_kind cell, size_t n, xb_matrix **g, double **v)
{
    xb_array_params_default(p, dev);
    p->rows = p->cols = n;
    p->cell = cell;
    unsigned long long s = 4242 + n;
    *g = xb_matrix_new(n, n);
    for (size_t q = 0; q < n * n; q++) (*g)->data[q] = p->g_min_siemens + (p->g_max_siemens - p->g_min_siemens) * xb_bench_urand_splitmix(&s);
    *v = malloc(n * sizeof **v);
    for (size_t i = 0; i < n; i++) (*v)[i] = p->v_read_volt * xb_bench_urand_splitmix(&s);
}

/* ------------------------------------------------------------------ part 1 */
/* transient.c's definitions of settling and energy over a waveform set */
static void post(const double *time, const double *icol, size_t nt, size_t C, double tol, double *ts)
{
    for (size_t j = 0; j < C; j++) {
        double fin = icol[(nt - 1) * C + j], band = tol * fabs(fin);
        ts[j] = 0;
        for (size_t q = nt - 1; q-- > 0;) {
            double eq = fabs(icol[q * C + j] - fin);
            if (eq > band) {
                double eq1 = fabs(icol[(q + 1) * C + j] - fin);
                ts[j] = time[q] + ((eq - eq1) > 0 ? (eq - band) / (eq - eq1) : 1.0) * (time[q + 1] - time[q]);
                break;
            }
        }
    }
}

/* transient.c's deck with its accuracy options tightened (docs/native.md: chgtol below the
 * wire charges, reltol 1e-7, 2000 points, small first step); settling per column and energy.
 * Returns the wall time, NAN on failure. */
static double spice_tight(const char *deck, const xb_array_params *p, const double *v, const xb_engine_tran_opts *o,
                          double *ts, double *e)
{
    const char *op = strstr(deck, ".options");
    if (!op) return NAN;
    size_t cap = strlen(deck) + 1024;
    char *d2 = malloc(cap);
    double t_stop = o->t_rise_s + o->t_read_s;
    snprintf(d2, cap,
             "%.*s.options reltol=1e-7 abstol=1e-18 vntol=1e-12 chgtol=1e-24 gmin=1e-12 itl1=200\n"
             ".tran %.17g %.17g 0 %.17g\n.end\n",
             (int)(op - deck), deck, t_stop * 1e-6, t_stop, t_stop / 2000);
    size_t C = p->cols, R = p->rows, nv = 1 + C + R;
    char **names = calloc(nv, sizeof *names);
    names[0] = strdup("time");
    for (size_t j = 0; j < C; j++) {
        names[1 + j] = malloc(32);
        snprintf(names[1 + j], 32, "vs%zu#branch", j);
    }
    for (size_t i = 0; i < R; i++) {
        names[1 + C + i] = malloc(32);
        snprintf(names[1 + C + i], 32, "vin%zu#branch", i);
    }
    xb_engine_opts eo;
    xb_engine_opts_default(&eo);
    eo.timeout_s = 3600;
    xb_engine_result *res = NULL;
    xb_error err = {0};
    double t0 = xb_now_s(), wall = NAN;
    if (xb_engine_run(&eo, d2, nv, (const char *const *)names, &res, &err) == XB_OK &&
        xb_engine_result_status(res) == XB_OK) {
        wall = xb_now_s() - t0;
        size_t nt = 0, len = 0;
        const double *time = xb_engine_result_vec(res, "time", &nt);
        double *icol = malloc(nt * C * sizeof *icol);
        for (size_t j = 0; j < C; j++) {
            const double *y = xb_engine_result_vec(res, names[1 + j], &len);
            for (size_t q = 0; q < nt; q++) icol[q * C + j] = y[q];
        }
        post(time, icol, nt, C, o->settle_tol, ts);
        *e = 0;
        double pprev = 0;
        for (size_t q = 0; q < nt; q++) {
            double pw = 0;
            for (size_t i = 0; i < R; i++)
                pw += -v[i] * fmin(time[q] / o->t_rise_s, 1.0) * xb_engine_result_vec(res, names[1 + C + i], &len)[q];
            if (q) *e += 0.5 * (pw + pprev) * (time[q] - time[q - 1]);
            pprev = pw;
        }
        free(icol);
    }
    xb_engine_result_free(res);
    for (size_t k = 0; k < nv; k++) free(names[k]);
    free(names);
    free(d2);
    return wall;
}

static void tran_side_by_side(xb_device_kind dev, size_t n, size_t tight_max)
{
    xb_array_params p;
    xb_matrix *g;
    double *v;
    setup(&p, dev, XB_CELL_1R, n, &g, &v);
    xb_engine_tran_opts o;
    xb_engine_tran_opts_default(&o);
    xb_engine_opts eo;
    xb_engine_opts_default(&eo);
    eo.timeout_s = 3600;
    xb_error err = {0};
    xb_char_transient t;
    char *deck = NULL;
    double t0 = xb_now_s();
    int rc = xb_char_transient_run(&eo, &p, g, v, o.t_rise_s, o.t_read_s, o.settle_tol, o.t_points, &t, &deck, &err);
    double ts = xb_now_s() - t0;
    if (rc) {
        printf("%-7s %4zu  ngspice failed: %s\n", xb_device_name(dev), n, err.msg);
        goto out;
    }
    xb_engine_tran_result r;
    double c0 = cpu_s();
    t0 = xb_now_s();
    rc = xb_engine_native_transient(&p, g, v, &o, &r, &err);
    double tn = xb_now_s() - t0, cn = cpu_s() - c0;
    if (rc) {
        printf("%-7s %4zu  native failed: %s\n", xb_device_name(dev), n, err.msg);
        xb_char_transient_clear(&t);
        goto out;
    }
    double dts = 0, dfin = 0, fmax_ = 0;
    for (size_t j = 0; j < n; j++) fmax_ = fmax(fmax_, fabs(t.i_final_amp[j]));
    for (size_t j = 0; j < n; j++) {
        dts = fmax(dts, fabs(r.t_settle_s[j] - t.t_settle_s[j]) / t.t_settle_s[j]);
        dfin = fmax(dfin, fabs(r.i_final_amp[j] - t.i_final_amp[j]) / fmax_);
    }
    printf("%-7s %4zu  %9.2f  %9.3f (%6.3f cpu)  %8.1f  %6zu / %6zu  %9.2e  %9.2e  %9.2e  %11.4e  %11.4e",
           xb_device_name(dev), n, ts, tn, cn, ts / tn, t.n_time, r.n_time, dts,
           fabs(r.e_read_joule - t.e_read_joule) / t.e_read_joule, dfin, t.t_settle_max_s, r.t_settle_max_s);
    if (n <= tight_max) {
        double *tt = calloc(n, sizeof *tt), et = 0, dtt = 0;
        double wt = spice_tight(deck, &p, v, &o, tt, &et);
        for (size_t j = 0; j < n; j++) dtt = fmax(dtt, fabs(r.t_settle_s[j] - tt[j]) / tt[j]);
        printf("   tight ngspice %.1f s: d_settle %.2e d_energy %.2e", wt, dtt, fabs(r.e_read_joule - et) / et);
        free(tt);
    }
    printf("\n");
    fflush(stdout);
    xb_char_transient_clear(&t);
    xb_engine_tran_result_clear(&r);
out:
    free(deck);
    free(v);
    xb_matrix_free(g);
}

/* ------------------------------------------------------------------ part 2 */
static int tran_case(xb_device_kind dev, xb_cell_kind cell, size_t n, const char *target)
{
    xb_array_params p;
    xb_matrix *g;
    double *v;
    setup(&p, dev, cell, n, &g, &v);
    xb_engine_tran_opts o;
    xb_engine_tran_opts_default(&o);
    xb_engine_tran_result r;
    xb_error err = {0};
    double t0 = xb_now_s();
    int rc = xb_engine_native_transient(&p, g, v, &o, &r, &err);
    double t = xb_now_s() - t0;
    if (rc) {
        printf("%zux%zu %s %s transient: %s\n", n, n, xb_device_name(dev), xb_cell_name(cell), err.msg);
        return 1;
    }
    int met = t <= 60.0;
    printf("%4zux%-4zu %-6s %-5s  %7.2f s wall  %7.2f s cpu  peak %6.0f MB  unknowns %7zu  steps %4zu (+%zu rejected)  "
           "factorizations %3zu (%6.2f s)  solves %5zu (%6.2f s)  settling %.4g s  energy %.5g J  steady from %.3g s  %s%s\n",
           n, n, xb_device_name(dev), xb_cell_name(cell), t, cpu_s(), peak_mb(), r.n_unknowns, r.steps, r.rejected,
           r.factorizations, r.t_factor_s, r.solves, r.t_solve_s, r.t_settle_max_s, r.e_read_joule, r.t_steady_s,
           target, *target ? (met ? " met" : " NOT met") : "");
    fflush(stdout);
    xb_engine_tran_result_clear(&r);
    free(v);
    xb_matrix_free(g);
    return 0;
}

/* ------------------------------------------------------------------ part 3 */
/* One read the way `xbar sneak` runs it on ngspice: one batch analysis of the read deck. */
static int spice_read(const xb_array_params *p, const xb_matrix *g, xb_read_scheme s, size_t r, size_t c, double *out,
                      xb_error *err)
{
    xb_netlist *n;
    int rc = xb_netlist_read_new(p, g, s, r, c, &n, err);
    if (rc) return rc;
    const xb_netlist_source *ns = xb_netlist_sources(n);
    xb_engine_source src = {ns[0].name, ns[0].node_pos, ns[0].node_neg};
    double v = p->v_read_volt;
    xb_engine_batch b = {.title = "bench read", .body = xb_netlist_body(n), .n_sources = 1, .sources = &src,
                         .k_vectors = 1, .values = &v, .n_outputs = 1, .outputs = xb_netlist_outputs(n)};
    xb_engine_opts eo;
    xb_engine_opts_default(&eo);
    eo.timeout_s = 3600;
    rc = xb_engine_batch_run(&eo, &b, out, err);
    xb_netlist_free(n);
    return rc;
}

static void read_side_by_side(xb_cell_kind cell, xb_read_scheme s, size_t n)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_RRAM);
    p.rows = p.cols = n;
    p.cell = cell;
    xb_matrix *g = xb_matrix_new(n, n);
    for (size_t q = 0; q < n * n; q++) g->data[q] = p.g_max_siemens;
    xb_error err = {0};
    double is = 0, in = 0;
    double t0 = xb_now_s();
    int rc = spice_read(&p, g, s, n - 1, 0, &is, &err);
    double ts = xb_now_s() - t0;
    t0 = xb_now_s();
    if (!rc) rc = xb_engine_native_read(NULL, &p, g, s, n - 1, 0, &in, &err);
    double tn = xb_now_s() - t0;
    if (rc) printf("rram %-5s %-5s %4zu  failed: %s\n", xb_cell_name(cell), xb_read_scheme_name(s), n, err.msg);
    else
        printf("rram %-5s %-5s %4zu  %9.3f  %9.4f  %8.1f  %12.6e  %9.2e\n", xb_cell_name(cell), xb_read_scheme_name(s), n,
               ts, tn, ts / tn, in, fabs(in - is) / fabs(is));
    fflush(stdout);
    xb_matrix_free(g);
}

static int read_case(xb_device_kind dev, xb_cell_kind cell, xb_read_scheme s, size_t n, int sneak)
{
    xb_array_params p;
    xb_array_params_default(&p, dev);
    p.rows = p.cols = n;
    p.cell = cell;
    xb_matrix *g = xb_matrix_new(n, n);
    for (size_t q = 0; q < n * n; q++) g->data[q] = p.g_max_siemens;
    xb_error err = {0};
    double t0 = xb_now_s();
    int rc;
    if (sneak) {
        xb_engine_sneak_result r;
        rc = xb_engine_native_sneak(NULL, &p, g, s, n - 1, 0, &r, &err);
        if (!rc)
            printf("%4zux%-4zu %-6s %-5s %-5s sneak (4 reads)  %8.2f s wall  %8.2f s cpu  peak %6.0f MB  read %.6e A  "
                   "sneak %.6e A  margin %.6f\n",
                   n, n, xb_device_name(dev), xb_cell_name(cell), xb_read_scheme_name(s), xb_now_s() - t0, cpu_s(),
                   peak_mb(), r.i_read_amp, r.i_sneak_amp, r.margin);
    } else {
        double i = 0;
        rc = xb_engine_native_read(NULL, &p, g, s, n - 1, 0, &i, &err);
        if (!rc)
            printf("%4zux%-4zu %-6s %-5s %-5s one read         %8.2f s wall  %8.2f s cpu  peak %6.0f MB  read %.6e A\n", n,
                   n, xb_device_name(dev), xb_cell_name(cell), xb_read_scheme_name(s), xb_now_s() - t0, cpu_s(),
                   peak_mb(), i);
    }
    if (rc) printf("%zux%zu %s %s read: %s\n", n, n, xb_device_name(dev), xb_cell_name(cell), err.msg);
    fflush(stdout);
    xb_matrix_free(g);
    return rc ? 1 : 0;
}

/* Run `self --case KIND DEV CELL N [SCHEME SNEAK]` in a fresh process (fork + immediate exec:
 * BLAS threads of this process do not survive a bare fork) and wait for it. */
static void spawn(const char *kind, xb_device_kind dev, xb_cell_kind cell, size_t n, const char *a5, const char *a6)
{
    char sn[32];
    snprintf(sn, sizeof sn, "%zu", n);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execl(g_self, g_self, "--case", kind, xb_device_name(dev), xb_cell_name(cell), sn, a5, a6, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st))
        printf("%zux%zu %s %s %s: case process failed (status %d)\n", n, n, xb_device_name(dev), xb_cell_name(cell),
               kind, st);
}

int main(int argc, char **argv)
{
    int spice = 1, big = 1, do_tran = 1, do_read = 1;
    size_t spice_max = 64, tight_max = 32;
    g_self = argv[0];
    if (argc == 8 && !strcmp(argv[1], "--case")) {
        xb_device_kind dev;
        xb_cell_kind cell;
        if (xb_device_from_name(argv[3], &dev) || xb_cell_from_name(argv[4], &cell)) return 2;
        size_t n = (size_t)atol(argv[5]);
        if (!strcmp(argv[2], "tran")) return tran_case(dev, cell, n, argv[6]);
        xb_read_scheme s;
        if (xb_read_scheme_from_name(argv[6], &s)) return 2;
        return read_case(dev, cell, s, n, atoi(argv[7]));
    }
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--no-spice")) spice = 0;
        else if (!strcmp(argv[a], "--no-big")) big = 0;
        else if (!strcmp(argv[a], "--spice-max") && a + 1 < argc) spice_max = (size_t)atol(argv[++a]);
        else if (!strcmp(argv[a], "--tight-max") && a + 1 < argc) tight_max = (size_t)atol(argv[++a]);
        else if (!strcmp(argv[a], "--only") && a + 1 < argc) {
            a++;
            do_tran = !strcmp(argv[a], "transient");
            do_read = !strcmp(argv[a], "read");
        } else {
            fprintf(stderr, "usage: bench_native_tran [--no-spice] [--spice-max N] [--tight-max N] [--no-big] [--only transient|read]\n");
            return 2;
        }
    }
    printf("# bench_native_tran: native transients and single-cell reads vs ngspice %s\n", XB_NGSPICE_EXE);
    if (do_tran && spice) {
        printf("\n## transient side by side: 1R, default array and transient parameters (10 ps rise, 10 ns read, 200 "
               "points)\n");
        printf("device     N  ngspice_s   native_s (cpu)         ratio  points ng/nat  d_settle   d_energy   d_final    "
               "settle_ng_s  settle_nat_s\n");
        size_t sizes[] = {16, 32, 64};
        for (size_t d = 0; d < 2; d++)
            for (size_t s = 0; s < 3; s++)
                if (sizes[s] <= spice_max) tran_side_by_side(d ? XB_DEVICE_RRAM : XB_DEVICE_LINEAR, sizes[s], tight_max);
    }
    if (do_tran && big) {
        printf("\n## transient 256x256, native (each case in its own process)\n");
        spawn("tran", XB_DEVICE_LINEAR, XB_CELL_1R, 256, "[target <= 60 s]", "0");
        spawn("tran", XB_DEVICE_RRAM, XB_CELL_1R, 256, "[target <= 60 s]", "0");
        spawn("tran", XB_DEVICE_RRAM, XB_CELL_1S1R, 256, "", "0");
        spawn("tran", XB_DEVICE_RRAM, XB_CELL_1T1R, 256, "", "0");
    }
    if (do_read && spice) {
        printf("\n## single-cell read side by side: RRAM, every cell at g_max, cell (N-1, 0) (ngspice: one batch analysis, "
               "as `xbar sneak`)\n");
        printf("cell  scheme    N  ngspice_s   native_s     ratio  native_read_A  rel_diff\n");
        const xb_cell_kind cells[] = {XB_CELL_1R, XB_CELL_1T1R, XB_CELL_1S1R};
        const xb_read_scheme sch[] = {XB_READ_FLOAT, XB_READ_V2, XB_READ_V3};
        for (size_t c = 0; c < 3; c++)
            for (size_t s = 0; s < 3; s++) read_side_by_side(cells[c], sch[s], 32);
    }
    if (do_read && big) {
        printf("\n## single-cell reads, native (each case in its own process)\n");
        spawn("read", XB_DEVICE_RRAM, XB_CELL_1R, 256, "v2", "1");
        spawn("read", XB_DEVICE_RRAM, XB_CELL_1R, 256, "float", "1");
        spawn("read", XB_DEVICE_RRAM, XB_CELL_1S1R, 256, "v3", "1");
        spawn("read", XB_DEVICE_RRAM, XB_CELL_1T1R, 256, "float", "1");
        spawn("read", XB_DEVICE_LINEAR, XB_CELL_1R, 1024, "v2", "0");
        spawn("read", XB_DEVICE_RRAM, XB_CELL_1R, 1024, "v2", "0");
    }
    return 0;
}
