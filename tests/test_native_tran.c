/* Native read transient (src/engine/native_tran.c) against independent references:
 *   - a 1xN RC ladder (row wire, cells, column wires and sense, c_wire at every node) by the
 *     eigen-decomposition of its nodal equations written out here (GSL): waveforms, energy
 *     in closed form, and the convergence order of fixed-step backward Euler (1) and
 *     trapezoidal rule (2);
 *   - a symmetric 2x2 array without wire resistance, reduced by hand to two nodes whose
 *     modes come from the quadratic formula: waveforms, settling time, energy;
 *   - ngspice .tran on the deck src/characterize/transient.c builds (the same circuit, its
 *     accuracy options tightened: chgtol below the wire charges, reltol 1e-7, 2000 points)
 *     for every device x cell type, with shorts, with a cell capacitance added to the deck;
 *   - the static native engine for the final currents. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <gsl/gsl_eigen.h>

#include "xbar/characterize.h"
#include "xbar/engine.h"
#include "xbar/netlist.h"
#include "support/xb_test.h"

static void run_native(const xb_array_params *p, const xb_matrix *g, const double *v, const xb_engine_tran_opts *o,
                       xb_engine_tran_result *r)
{
    xb_error err = {0};
    int rc = xb_engine_native_transient(p, g, v, o, r, &err);
    if (rc) print_error("native transient: %s\n", err.msg);
    assert_int_equal(rc, XB_OK);
}

/* ------------------------------------------------------------------ modal reference */
/* A linear RC network with equal capacitance c at every node, C x' = -G x + e_0 g_in u(t),
 * u = V min(t/t_r, 1): with G/c = Q diag(lambda) Q^T, mode k obeys y' = -lambda y + a_k u,
 * a_k = Q_0k g_in / c, so (from rest)
 *   t <= t_r: y = a s (t/lambda + expm1(-lambda t)/lambda^2), s = V/t_r;
 *   t >= t_r: y = y_ss + (y(t_r) - y_ss) exp(-lambda (t - t_r)), y_ss = a V / lambda. */
typedef struct {
    size_t n;
    double *lam, *q, *a; /* q: n x n, column k = mode k */
    double V, tr, gin;
} modal;

static void modal_from(modal *m, const double *A /* G/c, n x n */, size_t n, double gin_over_c, double gin, double V,
                       double tr)
{
    gsl_matrix *M = gsl_matrix_alloc(n, n), *Q = gsl_matrix_alloc(n, n);
    gsl_vector *ev = gsl_vector_alloc(n);
    gsl_eigen_symmv_workspace *w = gsl_eigen_symmv_alloc(n);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) gsl_matrix_set(M, i, j, A[i * n + j]);
    gsl_eigen_symmv(M, ev, Q, w);
    m->n = n;
    m->lam = malloc(n * sizeof *m->lam);
    m->q = malloc(n * n * sizeof *m->q);
    m->a = malloc(n * sizeof *m->a);
    for (size_t k = 0; k < n; k++) {
        m->lam[k] = gsl_vector_get(ev, k);
        assert_true(m->lam[k] > 0);
        m->a[k] = gsl_matrix_get(Q, 0, k) * gin_over_c;
        for (size_t i = 0; i < n; i++) m->q[i * n + k] = gsl_matrix_get(Q, i, k);
    }
    m->V = V;
    m->tr = tr;
    m->gin = gin;
    gsl_eigen_symmv_free(w);
    gsl_vector_free(ev);
    gsl_matrix_free(M);
    gsl_matrix_free(Q);
}

static void modal_free(modal *m)
{
    free(m->lam);
    free(m->q);
    free(m->a);
}

static double mode_y(const modal *m, size_t k, double t)
{
    double l = m->lam[k], s = m->V / m->tr, a = m->a[k];
    if (t <= m->tr) return a * s * (t / l + expm1(-l * t) / (l * l));
    double ytr = a * s * (m->tr / l + expm1(-l * m->tr) / (l * l)), yss = a * m->V / l;
    return yss + (ytr - yss) * exp(-l * (t - m->tr));
}

static double modal_node(const modal *m, size_t i, double t)
{
    double x = 0;
    for (size_t k = 0; k < m->n; k++) x += m->q[i * m->n + k] * mode_y(m, k, t);
    return x;
}

/* Energy the source delivers through g_in into node 0 over [0, T]:
 * E = g_in (int u^2 dt - sum_k Q_0k int u y_k dt), every integral in closed form. */
static double modal_energy(const modal *m, double T)
{
    double V = m->V, tr = m->tr, s = V / tr;
    double uu = s * s * tr * tr * tr / 3 + V * V * (T - tr);
    double uy = 0;
    for (size_t k = 0; k < m->n; k++) {
        double l = m->lam[k], a = m->a[k], x = l * tr;
        /* ramp: int_0^tr s t a s (t/l + (e^{-lt} - 1)/l^2) dt */
        double i_te = (-expm1(-x) - x * exp(-x)) / (l * l); /* int_0^tr t e^{-lt} dt */
        double ramp = a * s * s * (tr * tr * tr / (3 * l) + (i_te - tr * tr / 2) / (l * l));
        double ytr = a * s * (tr / l + expm1(-x) / (l * l)), yss = a * V / l;
        double flat = V * (yss * (T - tr) + (ytr - yss) * (-expm1(-l * (T - tr))) / l);
        uy += m->q[k] * (ramp + flat); /* q[0 * n + k] */
    }
    return m->gin * (uu - uy);
}

/* Settling time of a reference waveform f(t) after the ramp: the last time |f - f_end| >
 * tol |f_end|, by a dense scan and bisection. */
static double modal_settle(double (*f)(const void *, double), const void *ctx, double t0, double t1, double tol)
{
    double fin = f(ctx, t1), band = tol * fabs(fin);
    const int n = 200000;
    double last = t0;
    for (int q = 0; q <= n; q++) {
        double t = t0 + (t1 - t0) * q / n;
        if (fabs(f(ctx, t) - fin) > band) last = t;
    }
    double lo = last, hi = fmin(t1, last + (t1 - t0) / n);
    for (int it = 0; it < 100; it++) {
        double mid = 0.5 * (lo + hi);
        if (fabs(f(ctx, mid) - fin) > band) lo = mid;
        else hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* ------------------------------------------------------------------ 1xN RC ladder */
/* Nodes r_0..r_{N-1} (row, after each segment) and c_0..c_{N-1} (the one node of each
 * column): r_0 -- (Rd + Rw) -- source, r_{j-1} -- Rw -- r_j, r_j -- G_j -- c_j,
 * c_j -- (Rc + Rs) -- ground, capacitance c at every node; column current (Rc+Rs)^-1 c_j. */
typedef struct {
    xb_array_params p;
    xb_matrix *g;
    modal m;
    double gout;
    size_t N;
} ladder;

static void ladder_new(ladder *L, size_t N, double V, double tr)
{
    xb_array_params *p = &L->p;
    xb_array_params_default(p, XB_DEVICE_LINEAR);
    p->rows = 1;
    p->cols = N;
    p->r_driver_ohm = 100;
    p->r_wire_row_ohm = 50;
    p->r_wire_col_ohm = 30;
    p->r_sense_ohm = 200;
    p->c_wire_farad = 1e-13;
    L->N = N;
    L->g = xb_matrix_new(1, N);
    size_t n = 2 * N;
    double c = p->c_wire_farad, gw = 1 / p->r_wire_row_ohm, gin = 1 / (p->r_driver_ohm + p->r_wire_row_ohm);
    L->gout = 1 / (p->r_wire_col_ohm + p->r_sense_ohm);
    double *A = calloc(n * n, sizeof *A);
    for (size_t j = 0; j < N; j++) {
        double G = 1e-3 * (1 + 0.5 * sin((double)j + 1));
        L->g->data[j] = G;
        double d = G + (j == 0 ? gin : gw) + (j + 1 < N ? gw : 0);
        A[j * n + j] = d / c;
        if (j > 0) A[j * n + j - 1] = A[(j - 1) * n + j] = -gw / c;
        A[j * n + N + j] = A[(N + j) * n + j] = -G / c;
        A[(N + j) * n + N + j] = (G + L->gout) / c;
    }
    modal_from(&L->m, A, n, gin / c, gin, V, tr);
    free(A);
}

static void ladder_free(ladder *L)
{
    modal_free(&L->m);
    xb_matrix_free(L->g);
}

static double ladder_icol(const ladder *L, size_t j, double t) { return L->gout * modal_node(&L->m, L->N + j, t); }

/* largest |I_native - I_exact| over the native time points and columns, / |I_final| */
static double ladder_error(const ladder *L, const xb_engine_tran_result *r)
{
    double e = 0, fin = 0;
    for (size_t j = 0; j < L->N; j++) fin = fmax(fin, fabs(ladder_icol(L, j, 1.0)));
    for (size_t q = 0; q < r->n_time; q++)
        for (size_t j = 0; j < L->N; j++) e = fmax(e, fabs(r->i_col_amp[q * L->N + j] - ladder_icol(L, j, r->time_s[q])));
    return e / fin;
}

/* Fixed steps: the error falls 2x per halving for BE and 4x for TRAP. */
static void test_ladder_order(void **state)
{
    const double V = 0.2;
    ladder L;
    xb_engine_tran_opts o;
    xb_engine_tran_opts_default(&o);
    o.t_rise_s = 50e-12; /* the ladder's time constants are 1.3 .. 20 ps */
    o.t_read_s = 500e-12;
    o.lte_rtol = 0;
    ladder_new(&L, 6, V, o.t_rise_s);
    for (int meth = 0; meth < 2; meth++) {
        o.method = meth ? XB_TRAN_BE : XB_TRAN_TRAP;
        double e[3];
        for (int k = 0; k < 3; k++) {
            o.t_points = (size_t)200 << k;
            xb_engine_tran_result r;
            run_native(&L.p, L.g, &V, &o, &r);
            e[k] = ladder_error(&L, &r);
            /* one matrix per segment (ramp, hold): every step of a segment has one size */
            assert_int_equal(r.factorizations, 2);
            xb_engine_tran_result_clear(&r);
        }
        double o1 = log2(e[0] / e[1]), o2 = log2(e[1] / e[2]);
        fprintf(stderr, "ladder %s fixed steps: errors %.3e %.3e %.3e (of the final current), orders %.3f %.3f\n",
                meth ? "BE" : "TRAP", e[0], e[1], e[2], o1, o2);
        double want = meth ? 1.0 : 2.0;
        assert_true(fabs(o1 - want) < 0.15 && fabs(o2 - want) < 0.15);
        assert_true(e[2] < (meth ? 1e-2 : 2e-4));
    }
    ladder_free(&L);
}

/* Adaptive steps: waveforms, energy (closed form) and settling against the exact solution. */
static double ladder_last_col(const void *ctx, double t)
{
    const ladder *L = ctx;
    return ladder_icol(L, L->N - 1, t);
}

static void test_ladder_adaptive(void **state)
{
    const double V = 0.2;
    ladder L;
    xb_engine_tran_opts o;
    xb_engine_tran_opts_default(&o);
    o.t_rise_s = 50e-12;
    o.t_read_s = 500e-12;
    o.t_points = 100;
    ladder_new(&L, 6, V, o.t_rise_s);
    const double T = o.t_rise_s + o.t_read_s, e_ref = modal_energy(&L.m, T);
    for (int meth = 0; meth < 2; meth++) {
        o.method = meth ? XB_TRAN_BE : XB_TRAN_TRAP;
        o.lte_rtol = meth ? 1e-6 : 1e-7;
        xb_engine_tran_result r;
        run_native(&L.p, L.g, &V, &o, &r);
        double e = ladder_error(&L, &r);
        double ts_ref = modal_settle(ladder_last_col, &L, o.t_rise_s, T, o.settle_tol);
        fprintf(stderr,
                "ladder %s lte_rtol %g: %zu steps, %zu factorizations, error %.3e of the final current, energy %.10g J "
                "(exact %.10g), settling %.6g s (exact %.6g)\n",
                meth ? "BE" : "TRAP", o.lte_rtol, r.steps, r.factorizations, e, r.e_read_joule, e_ref,
                r.t_settle_s[L.N - 1], ts_ref);
        assert_true(e < (meth ? 2e-3 : 1e-4));
        xb_test_assert_close(r.e_read_joule, e_ref, (meth ? 1e-3 : 1e-5) * e_ref, "ladder energy");
        xb_test_assert_close(r.t_settle_s[L.N - 1], ts_ref, (meth ? 1e-2 : 1e-3) * ts_ref, "ladder settling");
        xb_engine_tran_result_clear(&r);
    }
    ladder_free(&L);
}

/* ------------------------------------------------------------------ 2x2 by hand */
/* 2x2, no wire resistance, equal cells G, equal inputs: both rows are one node r with
 * capacitance 2c (c_wire x cols) behind Rd, both columns one node k with 2c above Rs:
 *   2c r' = (u - r)/Rd - 2G (r - k),    2c k' = 2G (r - k) - k/Rs.
 * With a = (1/Rd + 2G)/2c, d = (2G + 1/Rs)/2c, b = 2G/2c: lambda = (a+d)/2 -+ sqrt(((a-d)/2)^2 + b^2),
 * eigenvector (b, a - lambda) normalised.  Column current k/Rs, energy 2 x that of one row. */
typedef struct {
    modal m;
    double gs;
} two;

static double two_icol(const void *ctx, double t)
{
    const two *w = ctx;
    return w->gs * modal_node(&w->m, 1, t);
}

static void test_2x2_hand(void **state)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_LINEAR);
    p.rows = p.cols = 2;
    p.r_wire_row_ohm = p.r_wire_col_ohm = 0;
    p.r_driver_ohm = 2000;
    p.r_sense_ohm = 500;
    p.c_wire_farad = 20e-15;
    const double G = 400e-6, V = 0.15, c2 = 2 * p.c_wire_farad;
    xb_matrix *g = xb_matrix_new(2, 2);
    for (int k = 0; k < 4; k++) g->data[k] = G;
    double v[2] = {V, V};
    xb_engine_tran_opts o;
    xb_engine_tran_opts_default(&o);
    o.t_rise_s = 20e-12;
    o.t_read_s = 1e-9;
    o.t_points = 100;
    o.lte_rtol = 1e-7;
    /* the two modes by hand */
    double gd = 1 / p.r_driver_ohm, gs = 1 / p.r_sense_ohm;
    double a = (gd + 2 * G) / c2, d = (2 * G + gs) / c2, b = 2 * G / c2;
    double mid = 0.5 * (a + d), rad = sqrt(0.25 * (a - d) * (a - d) + b * b);
    two w;
    w.gs = gs;
    w.m.n = 2;
    double lam[2] = {mid - rad, mid + rad}, q[4], am[2];
    for (int k = 0; k < 2; k++) {
        double e0 = b, e1 = a - lam[k], nn = hypot(e0, e1);
        q[0 * 2 + k] = e0 / nn; /* node 0 = r */
        q[1 * 2 + k] = e1 / nn; /* node 1 = k */
        am[k] = q[k] * gd / c2;
    }
    w.m.lam = lam;
    w.m.q = q;
    w.m.a = am;
    w.m.V = V;
    w.m.tr = o.t_rise_s;
    w.m.gin = gd;
    const double T = o.t_rise_s + o.t_read_s;
    double e_ref = 2 * modal_energy(&w.m, T), ts_ref = modal_settle(two_icol, &w, o.t_rise_s, T, o.settle_tol);
    for (int meth = 0; meth < 2; meth++) {
        o.method = meth ? XB_TRAN_BE : XB_TRAN_TRAP;
        xb_engine_tran_result r;
        run_native(&p, g, v, &o, &r);
        double fin = two_icol(&w, T), err = 0;
        for (size_t t = 0; t < r.n_time; t++)
            for (int j = 0; j < 2; j++) err = fmax(err, fabs(r.i_col_amp[t * 2 + j] - two_icol(&w, r.time_s[t])));
        fprintf(stderr, "2x2 by hand, %s: %zu steps, error %.3e of the final current, energy %.10g J (exact %.10g), "
                        "settling %.6g s (exact %.6g)\n",
                meth ? "BE" : "TRAP", r.steps, err / fin, r.e_read_joule, e_ref, r.t_settle_s[0], ts_ref);
        assert_true(err < (meth ? 1e-3 : 1e-5) * fin);
        xb_test_assert_close(r.e_read_joule, e_ref, (meth ? 1e-3 : 1e-5) * e_ref, "2x2 energy");
        xb_test_assert_close(r.t_settle_s[1], ts_ref, (meth ? 5e-3 : 1e-3) * ts_ref, "2x2 settling");
        /* supply peak: the ramp's end or the final value, whichever is larger, 2 (V - r)/Rd */
        double ipk = 0;
        for (size_t t = 0; t < r.n_time; t++) ipk = fmax(ipk, 2 * gd * (fmin(r.time_s[t] / o.t_rise_s, 1) * V -
                                                                      modal_node(&w.m, 0, r.time_s[t])));
        xb_test_assert_close(r.i_supply_peak_amp, ipk, (meth ? 1e-3 : 1e-5) * ipk, "2x2 supply peak");
        xb_engine_tran_result_clear(&r);
    }
    xb_matrix_free(g);
}

/* ------------------------------------------------------------------ vs ngspice */
/* transient.c's definitions, applied to any waveform set */
static void post(const double *time, const double *icol, size_t nt, size_t C, double tol, double *ts, double *fin)
{
    for (size_t j = 0; j < C; j++) {
        fin[j] = icol[(nt - 1) * C + j];
        double band = tol * fabs(fin[j]);
        ts[j] = 0;
        for (size_t q = nt - 1; q-- > 0;) {
            double eq = fabs(icol[q * C + j] - fin[j]);
            if (eq > band) {
                double eq1 = fabs(icol[(q + 1) * C + j] - fin[j]);
                double fr = (eq - eq1) > 0 ? (eq - band) / (eq - eq1) : 1.0;
                ts[j] = time[q] + fr * (time[q + 1] - time[q]);
                break;
            }
        }
    }
}

static double interp(const double *t, const double *y, size_t n, size_t stride, double tq)
{
    if (tq <= t[0]) return y[0];
    size_t lo = 0, hi = n - 1;
    if (tq >= t[hi]) return y[hi * stride];
    while (hi - lo > 1) {
        size_t m = (lo + hi) / 2;
        if (t[m] <= tq) lo = m;
        else hi = m;
    }
    double f = (tq - t[lo]) / (t[hi] - t[lo]);
    return y[lo * stride] + f * (y[hi * stride] - y[lo * stride]);
}

typedef struct {
    size_t nt;
    double *time, *icol, *pw; /* nt, nt x cols, nt */
    double e, ipk_sup;
} spice_tran;

/* ngspice on transient.c's deck, accuracy options tightened; extra: more deck lines (cell
 * capacitors) or NULL. */
static void run_spice(const xb_array_params *p, const xb_matrix *g, const double *v, const xb_engine_tran_opts *o,
                      const char *extra, spice_tran *s)
{
    xb_engine_opts eo;
    xb_engine_opts_default(&eo);
    xb_char_transient t;
    char *deck = NULL;
    xb_error err = {0};
    int rc = xb_char_transient_run(&eo, p, g, v, o->t_rise_s, o->t_read_s, o->settle_tol, o->t_points, &t, &deck, &err);
    if (rc) print_error("transient.c: %s\n", err.msg);
    assert_int_equal(rc, XB_OK);
    /* transient.c's own post-processing is the definition the native engine repeats */
    double *ts = malloc(p->cols * sizeof *ts), *fin = malloc(p->cols * sizeof *fin);
    post(t.time_s, t.i_col_amp, t.n_time, p->cols, o->settle_tol, ts, fin);
    for (size_t j = 0; j < p->cols; j++) assert_true(ts[j] == t.t_settle_s[j] && fin[j] == t.i_final_amp[j]);
    xb_char_transient_clear(&t);
    /* the same deck: options line and analysis replaced, extra elements added */
    char *op = strstr(deck, ".options"), *tr = strstr(deck, ".tran");
    assert_non_null(op);
    assert_non_null(tr);
    size_t cap = strlen(deck) + (extra ? strlen(extra) : 0) + 1024;
    char *d2 = malloc(cap);
    size_t l = (size_t)snprintf(d2, cap, "%.*s%s", (int)(op - deck), deck, extra ? extra : "");
    const double t_stop = o->t_rise_s + o->t_read_s, tmax = t_stop / 2000;
    /* chgtol: ngspice's charge tolerance (1e-14 C) exceeds the wire charges (~1e-16 C) and
     * would switch its truncation-error control off.  A small print step: ngspice's first
     * time step (one backward-Euler step without an error estimate) is a fraction of it */
    snprintf(d2 + l, cap - l,
             ".options reltol=1e-7 abstol=1e-18 vntol=1e-12 chgtol=1e-24 gmin=1e-12 itl1=200\n"
             ".tran %.17g %.17g 0 %.17g\n.end\n",
             t_stop * 1e-6, t_stop, tmax);
    free(deck);
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
    xb_engine_result *res = NULL;
    rc = xb_engine_run(&eo, d2, nv, (const char *const *)names, &res, &err);
    assert_int_equal(rc, XB_OK);
    if (xb_engine_result_status(res)) print_error("ngspice: %s\n", xb_engine_result_error(res));
    assert_int_equal(xb_engine_result_status(res), XB_OK);
    size_t nt = 0, len = 0;
    const double *time = xb_engine_result_vec(res, "time", &nt);
    s->nt = nt;
    s->time = malloc(nt * sizeof(double));
    s->icol = malloc(nt * C * sizeof(double));
    s->pw = calloc(nt, sizeof(double));
    memcpy(s->time, time, nt * sizeof(double));
    double *isum = calloc(nt, sizeof(double));
    for (size_t j = 0; j < C; j++) {
        const double *y = xb_engine_result_vec(res, names[1 + j], &len);
        assert_non_null(y);
        for (size_t q = 0; q < nt; q++) s->icol[q * C + j] = y[q];
    }
    for (size_t i = 0; i < R; i++) {
        const double *y = xb_engine_result_vec(res, names[1 + C + i], &len);
        assert_non_null(y);
        for (size_t q = 0; q < nt; q++) {
            double u = v[i] * fmin(time[q] / o->t_rise_s, 1.0);
            s->pw[q] += -u * y[q]; /* a source delivering power has i < 0 */
            isum[q] += -y[q];
        }
    }
    s->e = 0;
    s->ipk_sup = 0;
    for (size_t q = 0; q < nt; q++) {
        s->ipk_sup = fmax(s->ipk_sup, fabs(isum[q]));
        if (q) s->e += 0.5 * (s->pw[q] + s->pw[q - 1]) * (time[q] - time[q - 1]);
    }
    free(isum);
    xb_engine_result_free(res);
    for (size_t k = 0; k < nv; k++) free(names[k]);
    free(names);
    free(d2);
    free(ts);
    free(fin);
}

static double g_worst_ts, g_worst_wave, g_worst_e;

/* Native vs ngspice: settling within 1 %, waveforms within 1e-3 of the final value, energy
 * and peaks within 1e-3, final currents to the static engine within 1e-9. */
static void compare(const xb_array_params *p, const xb_matrix *g, const double *v, const xb_engine_tran_opts *o,
                    const char *extra)
{
    xb_engine_tran_result r;
    run_native(p, g, v, o, &r);
    spice_tran s;
    run_spice(p, g, v, o, extra, &s);
    size_t C = p->cols;
    double *ts = malloc(C * sizeof *ts), *fin = malloc(C * sizeof *fin);
    post(s.time, s.icol, s.nt, C, o->settle_tol, ts, fin);
    char what[256];
    snprintf(what, sizeof what, "%zux%zu %s %s %s wires %g/%g drv %g sense %g c_cell %g", p->rows, p->cols,
             xb_device_name(p->device), xb_cell_name(p->cell), o->method == XB_TRAN_BE ? "BE" : "TRAP",
             p->r_wire_row_ohm, p->r_wire_col_ohm, p->r_driver_ohm, p->r_sense_ohm, o->c_cell_farad);
    double wts = 0, wwave = 0;
    for (size_t j = 0; j < C; j++) {
        double pk = 0;
        for (size_t q = 0; q < s.nt; q++) pk = fmax(pk, fabs(s.icol[q * C + j]));
        /* waveform scale: the final value; with cell capacitors the capacitive current of
         * the ramp exceeds it 100-fold, and the peak is the scale */
        double f = o->c_cell_farad > 0 ? pk : fabs(fin[j]), dts = fabs(r.t_settle_s[j] - ts[j]) / ts[j], dw = 0;
        /* at ngspice's time points (samples of its solution), the native waveform
         * interpolated linearly between its own */
        for (size_t q = 0; q < s.nt; q++)
            dw = fmax(dw, fabs(interp(r.time_s, r.i_col_amp + j, r.n_time, C, s.time[q]) - s.icol[q * C + j]));
        wts = fmax(wts, dts);
        wwave = fmax(wwave, dw / f);
        xb_test_assert_close(r.t_settle_s[j], ts[j], 1e-2 * ts[j], what);
        xb_test_assert_close(dw / f, 0, 1e-3, what);
        xb_test_assert_close(r.i_peak_amp[j], pk, 1e-3 * pk, what);
        xb_test_assert_close(r.i_final_amp[j], fin[j], 1e-6 * fabs(fin[j]), what);
    }
    double de = fabs(r.e_read_joule - s.e) / s.e;
    fprintf(stderr, "%s: %zu steps (ngspice %zu points), settling max rel diff %.2e, waveform %.2e of its scale, energy "
                    "%.2e, native %.3f s\n",
            what, r.steps, s.nt, wts, wwave, de, r.t_total_s);
    g_worst_ts = fmax(g_worst_ts, wts);
    g_worst_wave = fmax(g_worst_wave, wwave);
    g_worst_e = fmax(g_worst_e, de);
    xb_test_assert_close(r.e_read_joule, s.e, 1e-3 * s.e, what);
    xb_test_assert_close(r.i_supply_peak_amp, s.ipk_sup, 1e-3 * s.ipk_sup, what);
    /* the end of the run is the DC operating point of the static engine */
    if (o->c_cell_farad == 0) {
        xb_matrix vm = {1, p->rows, (double *)v};
        xb_matrix *idc = xb_matrix_new(1, C);
        xb_error err = {0};
        assert_int_equal(xb_engine_mvm_native(p, g, &vm, idc, &err), XB_OK);
        for (size_t j = 0; j < C; j++)
            xb_test_assert_close(r.i_final_amp[j], idc->data[j], 1e-9 * fabs(idc->data[j]), "final vs static native");
        xb_matrix_free(idc);
    }
    free(ts);
    free(fin);
    free(s.time);
    free(s.icol);
    free(s.pw);
    xb_engine_tran_result_clear(&r);
}

static double *random_v(const xb_array_params *p, uint64_t seed)
{
    double *v = malloc(p->rows * sizeof *v);
    for (size_t i = 0; i < p->rows; i++) v[i] = p->v_read_volt * (0.3 + 0.7 * xb_test_urand(&seed));
    return v;
}

static void tran_opts(xb_engine_tran_opts *o)
{
    xb_engine_tran_opts_default(o);
    o->t_read_s = 1e-9; /* the arrays below settle within ~50 ps */
}

/* every device read mode x every cell type, 4x4, 5 ohm wires, 1 fF per segment */
static void test_spice_all_modes(void **state)
{
    const xb_device_kind devs[] = {XB_DEVICE_LINEAR, XB_DEVICE_RRAM, XB_DEVICE_PCM, XB_DEVICE_ECRAM};
    const xb_cell_kind cells[] = {XB_CELL_1R, XB_CELL_1T1R, XB_CELL_1S1R};
    for (size_t d = 0; d < 4; d++)
        for (size_t c = 0; c < 3; c++) {
            xb_array_params p;
            xb_array_params_default(&p, devs[d]);
            p.rows = p.cols = 4;
            p.cell = cells[c];
            p.r_wire_row_ohm = p.r_wire_col_ohm = 5;
            p.r_sense_ohm = 10;
            p.c_wire_farad = 1e-15;
            xb_matrix *g = xb_test_random_g(&p, 100 + 10 * d + c);
            double *v = random_v(&p, 200 + 10 * d + c);
            xb_engine_tran_opts o;
            tran_opts(&o);
            compare(&p, g, v, &o, NULL);
            free(v);
            xb_matrix_free(g);
        }
}

/* larger: 12x12 RRAM 1S1R with backward Euler, 16x16 linear 1R */
static void test_spice_larger(void **state)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_RRAM);
    p.rows = p.cols = 12;
    p.cell = XB_CELL_1S1R;
    p.r_wire_row_ohm = p.r_wire_col_ohm = 5;
    p.c_wire_farad = 1e-15;
    xb_matrix *g = xb_test_random_g(&p, 300);
    double *v = random_v(&p, 301);
    xb_engine_tran_opts o;
    tran_opts(&o);
    o.method = XB_TRAN_BE;
    o.lte_rtol = 1e-6; /* first order: a tighter tolerance for the same accuracy */
    compare(&p, g, v, &o, NULL);
    free(v);
    xb_matrix_free(g);
    xb_array_params_default(&p, XB_DEVICE_LINEAR);
    p.rows = p.cols = 16;
    p.c_wire_farad = 0.5e-15;
    g = xb_test_random_g(&p, 302);
    v = random_v(&p, 303);
    tran_opts(&o);
    compare(&p, g, v, &o, NULL);
    free(v);
    xb_matrix_free(g);
}

/* shorts: lines without wire resistance (their capacitance on one node), capacitors on a
 * source node (no driver, no row wire) and on the virtual ground (no sense, no column wire) */
static void test_spice_shorts(void **state)
{
    const xb_cell_kind cells[] = {XB_CELL_1R, XB_CELL_1T1R, XB_CELL_1S1R};
    for (size_t c = 0; c < 3; c++) {
        xb_array_params p;
        xb_array_params_default(&p, XB_DEVICE_RRAM);
        p.rows = 3;
        p.cols = 4;
        p.cell = cells[c];
        p.c_wire_farad = 2e-15;
        xb_matrix *g = xb_test_random_g(&p, 400 + c);
        double *v = random_v(&p, 410 + c);
        xb_engine_tran_opts o;
        tran_opts(&o);
        p.r_wire_row_ohm = 0;
        p.r_driver_ohm = 200;
        p.r_wire_col_ohm = 4;
        p.r_sense_ohm = 0;
        compare(&p, g, v, &o, NULL);
        p.r_wire_row_ohm = 6;
        p.r_driver_ohm = 0;
        p.r_wire_col_ohm = 0;
        p.r_sense_ohm = 300;
        compare(&p, g, v, &o, NULL);
        p.r_wire_row_ohm = 0; /* row capacitors across the sources, column ones on ground */
        p.r_driver_ohm = 0;
        p.r_wire_col_ohm = 0;
        p.r_sense_ohm = 0;
        if (c == 0) compare(&p, g, v, &o, NULL);
        free(v);
        xb_matrix_free(g);
    }
}

/* a cell capacitance: the same deck plus one capacitor per cell between its row and column
 * node (node names of the netlist writer with wires on both lines) */
static void test_spice_cell_capacitance(void **state)
{
    const xb_cell_kind cells[] = {XB_CELL_1R, XB_CELL_1T1R, XB_CELL_1S1R};
    for (size_t c = 0; c < 3; c++) {
        xb_array_params p;
        xb_array_params_default(&p, XB_DEVICE_PCM);
        p.rows = 3;
        p.cols = 5;
        p.cell = cells[c];
        p.r_wire_row_ohm = p.r_wire_col_ohm = 8;
        p.c_wire_farad = 0.5e-15;
        xb_matrix *g = xb_test_random_g(&p, 500 + c);
        double *v = random_v(&p, 510 + c);
        xb_engine_tran_opts o;
        tran_opts(&o);
        o.c_cell_farad = 2e-15;
        char extra[4096];
        size_t l = 0;
        for (size_t i = 0; i < p.rows; i++)
            for (size_t j = 0; j < p.cols; j++)
                l += (size_t)snprintf(extra + l, sizeof extra - l, "Ccell%zu_%zu r%zu_%zu c%zu_%zu %.17g\n", i, j, i, j + 1,
                                      i, j, o.c_cell_farad);
        compare(&p, g, v, &o, extra);
        free(v);
        xb_matrix_free(g);
    }
}

static void test_bad_input(void **state)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_RRAM);
    p.rows = p.cols = 3;
    xb_matrix *g = xb_test_random_g(&p, 1);
    double v[3] = {0.1, 0.2, 0.1};
    xb_engine_tran_opts o;
    xb_engine_tran_result r;
    xb_error err = {0};
    tran_opts(&o);
    o.t_rise_s = 0;
    assert_int_equal(xb_engine_native_transient(&p, g, v, &o, &r, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "t_rise_s"));
    tran_opts(&o);
    o.t_points = 5;
    assert_int_equal(xb_engine_native_transient(&p, g, v, &o, &r, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "t_points"));
    tran_opts(&o);
    o.method = (xb_engine_tran_method)7;
    assert_int_equal(xb_engine_native_transient(&p, g, v, &o, &r, &err), XB_EINPUT);
    tran_opts(&o);
    o.lte_rtol = -1;
    assert_int_equal(xb_engine_native_transient(&p, g, v, &o, &r, &err), XB_EINPUT);
    tran_opts(&o);
    o.c_cell_farad = NAN;
    assert_int_equal(xb_engine_native_transient(&p, g, v, &o, &r, &err), XB_EINPUT);
    tran_opts(&o);
    v[1] = INFINITY;
    assert_int_equal(xb_engine_native_transient(&p, g, v, &o, &r, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "V(1,2)"));
    v[1] = 0.2;
    g->data[5] = -1;
    assert_int_equal(xb_engine_native_transient(&p, g, v, &o, &r, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "(2,3)"));
    assert_int_equal(xb_engine_native_transient(&p, g, v, &o, NULL, &err), XB_EINPUT);
    xb_matrix_free(g);
}

static int teardown(void **state)
{
    fprintf(stderr, "native vs ngspice transients: largest settling difference %.3g relative, waveform %.3g of the "
                    "final value, energy %.3g relative\n",
            g_worst_ts, g_worst_wave, g_worst_e);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ladder_order),      cmocka_unit_test(test_ladder_adaptive),
        cmocka_unit_test(test_2x2_hand),          cmocka_unit_test(test_spice_all_modes),
        cmocka_unit_test(test_spice_larger),      cmocka_unit_test(test_spice_shorts),
        cmocka_unit_test(test_spice_cell_capacitance), cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
