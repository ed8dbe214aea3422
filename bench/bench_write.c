/*
 * bench_write: array programming on the native solver (issue 15 item 3).
 *
 *   bench_write [--size N] [--max-pulses K] [--replay M] [--replay-pulses P]
 *               [--check M] [--check-device D] [--ts N] [--ts-replay M]
 *
 *   1. N x N (default 128) RRAM 1T1R, V/3, write-verify (tol 0.05, c2c noise, seed 1) of a
 *      target matrix uniform over the window, on the native solver: wall and CPU time,
 *      pulses per cell, final error, disturb, energy        [target: <= 600 s on 2 cores]
 *   2. --replay M (default 32; 0 skips): P pulses (default 6, SET and RESET) on an M x M RRAM
 *      1T1R V/3 array by ngspice and by the native solver from the same states: the cross-check
 *      in ngspice at 32x32 (a whole write-verify there is ~16 000 pulses at ~1 min each).
 *   3. --check M (default 0: skipped) the same write-verify of device D (default ecram) by
 *      ngspice and by the native solver: the largest relative deviation of the final
 *      conductances, pulses used by each, the speed ratio (8x8 ECRAM: ~15 min of ngspice).
 *   4. --ts N (default 0: skipped) the write-verify of 1. on N x N RRAM 1S1R with the
 *      threshold-switching selector (V/3), native: wall and CPU time.
 *   5. --ts-replay M (default 0: skipped) the replay of 2. on M x M RRAM 1S1R ts, V/2 and V/3,
 *      SET and RESET at +-1.75-1.9 V, one round each (ngspice ~1 min per pulse at 8x8).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xbar/characterize.h"
#include "xbar/engine.h"
#include "bench_util.h"

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}


/* Targets uniform over the middle 90 % of the window. */
static xb_matrix *targets(const xb_array_params *p)
{
    xb_matrix *g = xb_matrix_new(p->rows, p->cols);
    unsigned long long s = 2024 + p->rows;
    const double lo = p->g_min_siemens, hi = p->g_max_siemens;
    for (size_t k = 0; g && k < p->rows * p->cols; k++) g->data[k] = lo + (hi - lo) * (0.05 + 0.9 * xb_bench_urand_splitmix(&s));
    return g;
}

static int program(const xb_array_params *p, const xb_matrix *g, const xb_write_solver *sv, size_t max_pulses,
                   xb_write_result *r, double *wall, double *cpu)
{
    xb_engine_opts eo;
    xb_engine_opts_default(&eo);
    xb_write_opts o;
    xb_write_opts_default(&o);
    o.scheme = XB_WRITE_V3;
    o.verify = 1;
    o.max_pulses = max_pulses;
    xb_error err;
    double w0 = wall_now(), c0 = xb_bench_cpu_s();
    int rc = xb_char_write(&eo, p, g, &o, sv, r, &err);
    *wall = wall_now() - w0;
    *cpu = xb_bench_cpu_s() - c0;
    if (rc) fprintf(stderr, "bench_write: %s: %s\n", sv->name, err.msg);
    return rc;
}

static void summary(const char *what, const xb_array_params *p, const xb_write_result *r, double wall, double cpu)
{
    xb_write_summary sm;
    xb_write_result_summary(r, &sm);
    printf("%s: %zux%zu %s %s%s v3: wall %.1f s, cpu %.1f s; %zu pulses (%.2f per cell, max %.0f), %zu rounds; "
           "converged %.4f; rms error %.3g uS (%.3g of the window); max |disturb| %.3g uS; energy %.4g nJ "
           "(%.4g pJ per pulse)\n",
           what, r->rows, r->cols, xb_device_name(p->device), xb_cell_name(p->cell),
           p->selector == XB_SELECTOR_THRESHOLD ? " ts" : "", wall, cpu, r->n_pulses,
           (double)r->n_pulses / (double)(r->rows * r->cols), sm.pulses_max, r->n_rounds, sm.converged_fraction, 1e6 * sm.rms_error_siemens,
           sm.rms_error_siemens / (p->g_max_siemens - p->g_min_siemens), 1e6 * sm.max_abs_disturb_siemens, 1e9 * r->e_total_joule,
           r->n_pulses ? 1e12 * r->e_total_joule / (double)r->n_pulses : 0.0);
}

/* --replay M: K pulses (the recipe's SET ladder, every third a RESET) on cells spread over an
 * M x M RRAM 1T1R V/3 array whose states spread over the window, as one round, by ngspice and
 * by the native solver from the same states and noise: the conductance of every cell after
 * the round and of each pulsed cell after its pulse.  A whole write-verify of a 32x32 array
 * is ~16 000 pulses, out of ngspice's reach; this is the same circuit pulse by pulse. */
static int replay(size_t m, size_t k_pulses, int ts, xb_write_scheme scheme)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_RRAM);
    p.rows = p.cols = m;
    p.cell = XB_CELL_1T1R;
    if (ts) { /* 1S1R ts without the 1 fF internal nodes: the native solver's circuit */
        p.cell = XB_CELL_1S1R;
        p.selector = XB_SELECTOR_THRESHOLD;
        p.c_node_farad = 0;
    }
    const xb_write_recipe r = xb_device_info_get(XB_DEVICE_RRAM)->write;
    const size_t nc = m * m;
    const double gate_up = xb_netlist_compliance_gate_volt(&p, r.compliance_amp);
    double *st = malloc(nc * sizeof *st), *noise = malloc(nc * sizeof *noise), *end[2];
    double *sb[2], *sa[2], *ej[2], wall[2];
    xb_write_pulse *q = malloc(k_pulses * sizeof *q);
    for (int s = 0; s < 2; s++) {
        end[s] = malloc(nc * sizeof *end[s]);
        sb[s] = malloc(k_pulses * sizeof *sb[s]);
        sa[s] = malloc(k_pulses * sizeof *sa[s]);
        ej[s] = malloc(k_pulses * sizeof *ej[s]);
    }
    for (size_t c = 0; c < nc; c++) {
        st[c] = 0.2 + 1.5 * (double)((c * 7919) % nc) / (double)nc; /* gap, nm */
        noise[c] = xb_netlist_c2c_input(XB_DEVICE_RRAM, xb_netlist_c2c_draw(3, c, 0), r.width_s);
    }
    for (size_t k = 0; k < k_pulses; k++) {
        size_t c = (k * 37 * m / 8 + 5) % nc;
        int down = k % 3 == 2;
        double v = down ? r.down_start_volt + (double)(k % 4) * r.down_step_volt
                        : r.up_start_volt + (double)(3 + k % 5) * r.up_step_volt;
        q[k] = (xb_write_pulse){c / m, c % m, v, r.width_s, down ? p.v_gate_volt : gate_up};
        if (ts) q[k].v_volt = (k % 2 ? -1 : 1) * (1.75 + 0.05 * (double)(k % 4)); /* as tests/test_write_native */
    }
    xb_engine_opts eo;
    xb_engine_opts_default(&eo);
    const xb_write_solver *sv[2] = {&xb_write_solver_spice, &xb_write_solver_native};
    for (int s = 0; s < 2; s++) {
        xb_write_round in = {&p, scheme, st, noise, k_pulses, q, r.edge_s, 5e-9, 0, ts ? 0.2e-9 : 0};
        xb_write_round_out out = {end[s], sb[s], sa[s], ej[s], 0, NULL};
        xb_error err;
        double w0 = wall_now();
        int rc = sv[s]->solve(sv[s], &eo, &in, &out, &err);
        wall[s] = wall_now() - w0;
        free(out.deck);
        if (rc) {
            fprintf(stderr, "bench_write: replay on %s: %s\n", sv[s]->name, err.msg);
            return 1;
        }
    }
    double d_all = 0, d_sel = 0, e_dev = 0, moved = 0;
    for (size_t c = 0; c < nc; c++) {
        double gs = xb_netlist_dyn_g(&p, c, end[0][c]), gn = xb_netlist_dyn_g(&p, c, end[1][c]);
        d_all = fmax(d_all, fabs(gn - gs) / gs);
    }
    for (size_t k = 0; k < k_pulses; k++) {
        size_t c = q[k].row * m + q[k].col;
        double gs = xb_netlist_dyn_g(&p, c, sa[0][k]), gn = xb_netlist_dyn_g(&p, c, sa[1][k]);
        d_sel = fmax(d_sel, fabs(gn - gs) / gs);
        moved = fmax(moved, fabs(gs - xb_netlist_dyn_g(&p, c, sb[0][k])) / xb_netlist_dyn_g(&p, c, sb[0][k]));
        e_dev = fmax(e_dev, fabs(ej[1][k] - ej[0][k]) / ej[0][k]);
    }
    printf("replay %zux%zu rram %s %s, %zu pulses (SET and RESET, G moved up to %.0f %%) ngspice vs native: pulsed "
           "cells' G after their pulse %.2e, every cell's G after the round %.2e, energy %.2e relative; ngspice %.1f s, "
           "native %.3f s (%.0fx)\n",
           m, m, ts ? "1s1r ts" : "1t1r", xb_write_scheme_name(scheme), k_pulses, 100 * moved, d_sel, d_all, e_dev, wall[0], wall[1], wall[1] > 0 ? wall[0] / wall[1] : 0.0);
    printf("cross-check (%zux%zu in ngspice, 1e-3 relative as tests/test_write_native): %s\n", m, m,
           d_sel <= 1e-3 && d_all <= 1e-3 ? "agree" : "DISAGREE");
    for (int s = 0; s < 2; s++) {
        free(end[s]);
        free(sb[s]);
        free(sa[s]);
        free(ej[s]);
    }
    free(st);
    free(noise);
    free(q);
    return d_sel <= 1e-3 && d_all <= 1e-3 ? 0 : 1;
}

/* Write-verify of an n x n RRAM array on the native solver, with its summary; the 1T1R run
 * prints the 600 s target.  Non-zero when the programming failed. */
static int native_run(size_t n, xb_cell_kind cell, xb_selector_kind sel, size_t kmax, int target)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_RRAM);
    p.rows = p.cols = n;
    p.cell = cell;
    p.selector = sel;
    xb_matrix *g = targets(&p);
    xb_write_result r;
    double wall, cpu;
    int rc = program(&p, g, &xb_write_solver_native, kmax, &r, &wall, &cpu);
    if (rc == 0) {
        summary("native", &p, &r, wall, cpu);
        if (target)
            printf("target (%zux%zu RRAM 1T1R V/3 write-verify <= 600 s wall on 2 cores): %s\n", n, n,
                   wall <= 600 ? "target met" : "not met");
        xb_write_result_clear(&r);
    }
    xb_matrix_free(g);
    return rc != 0;
}

int main(int argc, char **argv)
{
    size_t n = 128, m = 0, kmax = 50, rm = 32, rk = 6, tn = 0, tm = 0;
    const char *check_dev = "ecram";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--size") == 0) n = (size_t)atol(argv[i + 1]);
        else if (strcmp(argv[i], "--replay") == 0) rm = (size_t)atol(argv[i + 1]);
        else if (strcmp(argv[i], "--replay-pulses") == 0) rk = (size_t)atol(argv[i + 1]);
        else if (strcmp(argv[i], "--check") == 0) m = (size_t)atol(argv[i + 1]);
        else if (strcmp(argv[i], "--check-device") == 0) check_dev = argv[i + 1];
        else if (strcmp(argv[i], "--max-pulses") == 0) kmax = (size_t)atol(argv[i + 1]);
        else if (strcmp(argv[i], "--ts") == 0) tn = (size_t)atol(argv[i + 1]);
        else if (strcmp(argv[i], "--ts-replay") == 0) tm = (size_t)atol(argv[i + 1]);
    }
    int fail = 0;
    if (n > 0 && native_run(n, XB_CELL_1T1R, XB_SELECTOR_SINH, kmax, 1)) fail = 1;
    if (rm > 0 && rk > 0 && replay(rm, rk, 0, XB_WRITE_V3)) fail = 1;
    if (tn > 0 && native_run(tn, XB_CELL_1S1R, XB_SELECTOR_THRESHOLD, kmax, 0)) fail = 1;
    if (tm > 0 && rk > 0 && (replay(tm, rk, 1, XB_WRITE_V2) | replay(tm, rk, 1, XB_WRITE_V3))) fail = 1;
    if (m > 0) {
        xb_array_params p;
        xb_device_kind dk;
        if (xb_device_from_name(check_dev, &dk) != XB_OK) {
            fprintf(stderr, "bench_write: --check-device %s: unknown\n", check_dev);
            return 2;
        }
        xb_array_params_default(&p, dk);
        p.rows = p.cols = m;
        p.cell = xb_device_info_get(dk)->dyn_gated ? XB_CELL_1R : XB_CELL_1T1R;
        xb_matrix *g = targets(&p);
        xb_write_result rs, rn;
        double ws, cs, wn, cn;
        int ok = program(&p, g, &xb_write_solver_spice, kmax, &rs, &ws, &cs) == 0 &&
                 program(&p, g, &xb_write_solver_native, kmax, &rn, &wn, &cn) == 0;
        if (ok) {
            summary("ngspice", &p, &rs, ws, cs);
            summary("native", &p, &rn, wn, cn);
            /* write-verify is closed loop: a read within 1e-4 of the band's edge takes one more
             * or one less pulse, and that cell's trajectory then differs by a whole step; the
             * deviation is therefore given over all cells and over those whose pulse count agrees */
            double dev = 0, dev_same = 0;
            size_t same = 0;
            for (size_t k = 0; k < m * m; k++) {
                double d = fabs(rn.g_final[k] - rs.g_final[k]) / rs.g_final[k];
                dev = fmax(dev, d);
                if (rn.pulses[k] == rs.pulses[k]) {
                    same++;
                    dev_same = fmax(dev_same, d);
                }
            }
            printf("cross-check %zux%zu %s: max relative deviation of the final conductances %.3g (%.3g over the %zu "
                   "of %zu cells with the same pulse count); native %.1fx faster (wall %.1f s vs %.1f s)\n",
                   m, m, check_dev, dev, dev_same, same, m * m, wn > 0 ? ws / wn : 0.0, wn, ws);
            xb_write_result_clear(&rs);
            xb_write_result_clear(&rn);
        } else {
            fail = 1;
        }
        xb_matrix_free(g);
    }
    return fail;
}
