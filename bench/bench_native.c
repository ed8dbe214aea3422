/*
 * bench_native: the native sparse engine against stock ngspice on the same circuit, and
 * its absolute speed on large arrays (issue 8 targets).
 *
 *   bench_native [--no-spice] [--spice-max N] [--no-512] [--only N]
 *
 * Part 1, side by side: N x N arrays (1R, default 1 ohm wires, 100 ohm drivers), one
 *   input vector; ngspice = the stock binary running `.op` on the netlist of
 *   xb_netlist_mvm_new (what `xbar netlist` writes), wall time of the process; native =
 *   xb_engine_native_new + one mvm.  Both sets of currents are compared.
 * Part 2, absolute: 128x128 first solve and per extra vector, 256x256 with 256 vectors,
 *   512x512; every case runs in its own child process so that its peak memory
 *   (getrusage ru_maxrss) is its own.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xbar/engine.h"
#include "xbar/netlist.h"
#include "bench_util.h"

static void setup(xb_array_params *p, xb_device_kind dev, xb_cell_kind cell, size_t n, xb_matrix **g,
                  xb_matrix **v, size_t k)
{
    xb_array_params_default(p, dev);
    p->rows = p->cols = n;
    p->cell = cell;
    unsigned long long s = 12345 + n;
    *g = xb_matrix_new(n, n);
    for (size_t q = 0; q < n * n; q++)
        (*g)->data[q] = p->g_min_siemens + (p->g_max_siemens - p->g_min_siemens) * xb_bench_urand_splitmix(&s);
    *v = xb_matrix_new(k, n);
    for (size_t q = 0; q < k * n; q++) (*v)->data[q] = p->v_read_volt * xb_bench_urand_splitmix(&s);
}

static double peak_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
           1e-6 * (double)ru.ru_stime.tv_usec;
}

/* Stock ngspice on the netlist with vector v; returns wall seconds, fills i_ref (n). */
static double run_spice(const xb_array_params *p, const xb_matrix *g, const double *v, double *i_ref)
{
    xb_netlist *nl = NULL;
    xb_error err = {0};
    if (xb_netlist_mvm_new(p, g, &nl, &err)) {
        fprintf(stderr, "netlist: %s\n", err.msg);
        return NAN;
    }
    char dir[] = "/tmp/bench_native_XXXXXX";
    if (!mkdtemp(dir)) return NAN;
    char cir[512], out[512];
    snprintf(cir, sizeof cir, "%s/a.cir", dir);
    snprintf(out, sizeof out, "%s/a.out", dir);
    FILE *f = fopen(cir, "w");
    if (!f) return NAN;
    fprintf(f, "* bench\n%s", xb_netlist_body(nl));
    for (size_t k = 0; k < xb_netlist_n_sources(nl); k++) {
        const xb_netlist_source *s = xb_netlist_sources(nl) + k;
        fprintf(f, "V%s %s %s DC %.17g\n", s->name, s->node_pos, s->node_neg, v[k]);
    }
    fprintf(f, ".options reltol=1e-9 abstol=1e-18 vntol=1e-12\n.op\n.control\nset wr_singlescale\n"
               "option numdgt=15\nrun\nwrdata %s",
            out);
    for (size_t j = 0; j < xb_netlist_n_outputs(nl); j++) fprintf(f, " %s", xb_netlist_outputs(nl)[j]);
    fprintf(f, "\nquit 0\n.endc\n.end\n");
    fclose(f);
    fflush(stdout); /* the child must not flush a copy of our buffer */
    double t0 = xb_now_s();
    pid_t pid = fork();
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execl(XB_NGSPICE_EXE, "ngspice", "-b", cir, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    double t = xb_now_s() - t0;
    f = fopen(out, "r");
    size_t got = 0;
    if (f) {
        /* wrdata, .op: one line "scale value" per... with wr_singlescale: 0 v1 v2 ... */
        double x;
        if (fscanf(f, "%lf", &x) == 1)
            for (; got < p->cols && fscanf(f, "%lf", &i_ref[got]) == 1; got++) {}
        fclose(f);
    }
    remove(out);
    remove(cir);
    rmdir(dir);
    xb_netlist_free(nl);
    return got == p->cols ? t : NAN;
}

static void side_by_side(xb_device_kind dev, size_t n)
{
    xb_array_params p;
    xb_matrix *g, *v;
    setup(&p, dev, XB_CELL_1R, n, &g, &v, 1);
    double *ref = malloc(n * sizeof *ref);
    double ts = run_spice(&p, g, v->data, ref);
    xb_matrix *i = xb_matrix_new(1, n);
    xb_error err = {0};
    double t0 = xb_now_s();
    int rc = xb_engine_mvm_native(&p, g, v, i, &err);
    double tn = xb_now_s() - t0;
    if (rc) {
        printf("%-7s %4zu  native failed: %s\n", xb_device_name(dev), n, err.msg);
    } else {
        double worst = 0, scale = 0;
        for (size_t j = 0; j < n; j++) scale = fmax(scale, fabs(ref[j]));
        for (size_t j = 0; j < n; j++) worst = fmax(worst, fabs(i->data[j] - ref[j]) / scale);
        printf("%-7s %4zu  %9.3f  %9.4f  %8.1f  %10.2e\n", xb_device_name(dev), n, ts, tn, ts / tn,
               isnan(ts) ? NAN : worst);
    }
    fflush(stdout);
    free(ref);
    xb_matrix_free(i);
    xb_matrix_free(g);
    xb_matrix_free(v);
}

/* One absolute case: new + mvm of 1 vector (first solve), then mvm of k more vectors. */
static size_t g_only;     /* --only N: absolute cases of size N only */
static const char *g_self; /* argv[0]: absolute cases re-exec this program */

/* One absolute case, in a fresh process (`--case DEV CELL N K`): new + mvm of 1 vector
 * (first solve), then mvm of k more vectors. */
static int run_case(xb_device_kind dev, xb_cell_kind cell, size_t n, size_t k, const char *target)
{
    xb_array_params p;
    xb_matrix *g, *v;
    setup(&p, dev, cell, n, &g, &v, k + 1);
    xb_matrix v1 = {1, n, v->data}, vk = {k, n, v->data + n};
    xb_matrix *i = xb_matrix_new(k + 1, n);
    xb_matrix i1 = {1, n, i->data}, ik = {k, n, i->data + n};
    xb_engine_native *e = NULL;
    xb_error err = {0};
    double t0 = xb_now_s();
    int rc = xb_engine_native_new(&p, g, &e, &err);
    if (!rc) rc = xb_engine_native_mvm(e, &v1, &i1, &err);
    double t_first = xb_now_s() - t0, cpu_first = cpu_s();
    t0 = xb_now_s();
    if (!rc && k) rc = xb_engine_native_mvm(e, &vk, &ik, &err);
    double t_k = xb_now_s() - t0, cpu_k = cpu_s() - cpu_first;
    if (rc) {
        printf("%zux%zu %s %s: %s\n", n, n, xb_device_name(dev), xb_cell_name(cell), err.msg);
        return 1;
    }
    xb_engine_native_stats st;
    xb_engine_native_get_stats(e, &st);
    printf("%4zux%-4zu %-6s %-5s  first %8.3f s  +%4zu vectors %8.3f s (%8.2f ms/vector)  total %8.3f s  "
           "peak %7.0f MB  unknowns %zu  nnz(factor) %.3g  %s  newton %zu+%zu (setup %.2f s, factor %.2f s, "
           "solve %.2f s)  cpu first %.2f s + %.2f s  %s\n",
           n, n, xb_device_name(dev), xb_cell_name(cell), t_first, k, t_k, k ? 1e3 * t_k / (double)k : 0.0,
           t_first + t_k, peak_mb(), st.n_unknowns, st.nnz_factor, st.solver, st.newton_iterations,
           st.reuse_steps, st.t_setup_s, st.t_factor_s, st.t_solve_s, cpu_first, cpu_k, target);
    fflush(stdout);
    xb_engine_native_free(e);
    xb_matrix_free(i);
    xb_matrix_free(g);
    xb_matrix_free(v);
    return 0;
}

/* Spawn `self --case ...` (fork + immediate exec: BLAS threads of this process do not
 * survive a bare fork) and wait for it. */
static void absolute_case(xb_device_kind dev, xb_cell_kind cell, size_t n, size_t k, const char *target)
{
    if (g_only && n != g_only) return;
    char sn[32], sk[32];
    snprintf(sn, sizeof sn, "%zu", n);
    snprintf(sk, sizeof sk, "%zu", k);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execl(g_self, g_self, "--case", xb_device_name(dev), xb_cell_name(cell), sn, sk, target, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st))
        printf("%zux%zu %s %s: case process failed (status %d)\n", n, n, xb_device_name(dev),
               xb_cell_name(cell), st);
}

int main(int argc, char **argv)
{
    int spice = 1, big = 1;
    size_t spice_max = 128;
    g_self = argv[0];
    if (argc == 7 && !strcmp(argv[1], "--case")) {
        xb_device_kind dev;
        xb_cell_kind cell;
        if (xb_device_from_name(argv[2], &dev) || xb_cell_from_name(argv[3], &cell)) return 2;
        return run_case(dev, cell, (size_t)atol(argv[4]), (size_t)atol(argv[5]), argv[6]);
    }
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--no-spice")) spice = 0;
        else if (!strcmp(argv[a], "--no-512")) big = 0;
        else if (!strcmp(argv[a], "--spice-max") && a + 1 < argc) spice_max = (size_t)atol(argv[++a]);
        else if (!strcmp(argv[a], "--only") && a + 1 < argc) g_only = (size_t)atol(argv[++a]);
        else {
            fprintf(stderr, "usage: bench_native [--no-spice] [--spice-max N] [--no-512] [--only N]\n");
            return 2;
        }
    }
    printf("# bench_native: native sparse engine (SuiteSparse) vs stock ngspice %s\n", XB_NGSPICE_EXE);
    if (spice) {
        printf("\n## side by side: 1R, 1 ohm wires, 100 ohm drivers, one vector (ngspice: `ngspice -b` .op, "
               "process wall time)\n");
        printf("device     N  ngspice_s   native_s     ratio  max_rel_diff\n");
        size_t sizes[] = {32, 64, 128};
        for (size_t s = 0; s < 3; s++)
            if (sizes[s] <= spice_max) side_by_side(XB_DEVICE_LINEAR, sizes[s]);
        for (size_t s = 0; s < 2; s++)
            if (sizes[s] <= spice_max) side_by_side(XB_DEVICE_RRAM, sizes[s]);
    }
    printf("\n## absolute (each case in its own process; peak = its max RSS)\n");
    absolute_case(XB_DEVICE_LINEAR, XB_CELL_1R, 128, 128, "[targets: first <= 0.3 s, <= 20 ms/vector]");
    absolute_case(XB_DEVICE_RRAM, XB_CELL_1R, 128, 16, "");
    absolute_case(XB_DEVICE_RRAM, XB_CELL_1S1R, 128, 4, "");
    absolute_case(XB_DEVICE_RRAM, XB_CELL_1T1R, 128, 4, "");
    absolute_case(XB_DEVICE_LINEAR, XB_CELL_1R, 256, 255, "[target: 256 vectors <= 30 s in total]");
    absolute_case(XB_DEVICE_RRAM, XB_CELL_1R, 256, 15, "");
    if (big) {
        absolute_case(XB_DEVICE_LINEAR, XB_CELL_1R, 512, 63, "[target: runs]");
        absolute_case(XB_DEVICE_RRAM, XB_CELL_1R, 512, 3, "");
        absolute_case(XB_DEVICE_RRAM, XB_CELL_1S1R, 512, 1, "");
        absolute_case(XB_DEVICE_RRAM, XB_CELL_1T1R, 512, 1, "");
    }
    return 0;
}
