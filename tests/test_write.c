/* The write path: device dynamics under their real programming bias and with seeded
 * cycle-to-cycle noise, compliance, the threshold selector, and arrays programmed in circuit
 * (src/characterize/write.c, `xbar program`).  Every expected value is a closed form derived
 * here from the model equations (the models/ libraries), stock `ngspice -b`, a second circuit,
 * or a second round solver (ECRAM in closed form) replayed against the records. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support/xb_spice_ref.h"
#include "support/xb_test.h"
#include "xbar/characterize.h"
#include "xbar/engine.h"
#include "xbar/h5.h"

static char *g_dir;

static int setup(void **state)
{
    (void)state;
    g_dir = xb_test_tmpdir("write");
    return g_dir ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(g_dir);
    return 0;
}

static void assert_rel(double got, double want, double tol, const char *what)
{
    double d = fabs(got - want), s = fabs(want) > 0 ? fabs(want) : 1;
    if (!(d <= tol * s)) {
        print_error("%s: got %.10g, want %.10g (rel %.3g > %.3g)\n", what, got, want, d / s, tol);
        fail();
    }
}

/* Run a programming circuit body (xb_netlist_program_c2c_new) for t_stop in a worker and
 * return time and the vectors asked for. */
static xb_engine_result *run_body(const char *body, double t_stop, double t_step, const char *const *vecs, size_t nv)
{
    xb_engine_opts eo;
    xb_engine_opts_default(&eo);
    eo.reltol = 1e-4;
    eo.abstol_amp = 1e-12;
    eo.vntol_volt = 1e-6;
    char *opt = xb_engine_options_card(&eo);
    size_t n = strlen(body) + strlen(opt) + 256;
    char *deck = malloc(n);
    snprintf(deck, n, "test program circuit\n%s%s.tran %.17g %.17g 0 %.17g\n.end\n", body, opt, t_step, t_stop, t_step);
    free(opt);
    xb_engine_result *r = NULL;
    xb_error err;
    assert_int_equal(xb_engine_run(&eo, deck, nv, vecs, &r, &err), XB_OK);
    if (xb_engine_result_status(r) != XB_OK) {
        print_error("ngspice: %s\n", xb_engine_result_error(r));
        fail();
    }
    free(deck);
    return r;
}

static double sample(const double *t, const double *y, size_t n, double at)
{
    for (size_t k = 1; k < n; k++)
        if (t[k] >= at) return y[k - 1] + (y[k] - y[k - 1]) * (at - t[k - 1]) / (t[k] - t[k - 1]);
    return y[n - 1];
}

/* ECRAM gate charge of one trapezoid of amplitude a (flat w, ramps e) with the channel at
 * 0 V: Q = i0g [w sinh(a/vg0) + 2 (e vg0/|a|)(cosh(a/vg0) - 1) sign(a)] (the integral of
 * i0g sinh(v(t)/vg0) over the ramps in closed form). */
static double ecram_charge(double a, double w, double e)
{
    const double i0g = 1e-12, vg0 = 0.1;
    double s = a >= 0 ? 1 : -1;
    return i0g * (w * sinh(a / vg0) + s * 2 * (e * vg0 / fabs(a)) * (cosh(a / vg0) - 1));
}

/* The soft-bounded update integrated exactly over a pulse of charge q, with the c2c factor f:
 * up: 1 - gup x' = (1 - gup x) exp(-gup f q / qup); down (q < 0): the same in 1 - x with
 * gdn, qdn. */
static double ecram_step(double x, double q, double f)
{
    const double qup = 1.1e-13, qdn = 1.2e-13, gup = 0.1153, gdn = 0.5085;
    if (q >= 0) return (1 - (1 - gup * x) * exp(-gup * f * q / qup)) / gup;
    double y = 1 - x;
    y = (1 - (1 - gdn * y) * exp(-gdn * f * -q / qdn)) / gdn;
    return 1 - y;
}

/* ECRAM up then down trains in the campaign's programming circuit: with the drain grounded
 * during every gate pulse, each pulse moves x exactly by the integrated step law (no read
 * between pulses moves it: the gate sits at the channel potential), and 20 up / 20 down
 * pulses of +-1.3 V / 10 ns from x = 0.5 come back near 0.5 (the model's mild asymmetry),
 * unlike the drain-at-v_read bias (down steps ~5x the up steps).  With c2c noise every step
 * carries its factor max(1 + 0.3 z, 0). */
static void ecram_train(int c2c)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_ECRAM);
    const size_t n = 20, total = 2 * n;
    const double a = 1.3, w = 10e-9, e = 1e-9, win = 15e-9, period = w + 2 * e + win;
    double *pwl = malloc((2 + 8 * total) * sizeof *pwl), *xi = malloc(total * sizeof *xi);
    size_t m = 0;
    pwl[m++] = 0;
    pwl[m++] = 0;
    for (size_t k = 0; k < total; k++) {
        double t = win + (double)k * period, v = k < n ? a : -a;
        const double q[8] = {t, 0, t + e, v, t + e + w, v, t + 2 * e + w, 0};
        memcpy(pwl + m, q, sizeof q);
        m += 8;
        xi[k] = c2c ? xb_netlist_c2c_input(p.device, xb_netlist_c2c_draw(11, 0, k), w) : 0;
    }
    xb_netlist *nl;
    xb_error err;
    assert_int_equal(xb_netlist_program_c2c_new(&p, pwl, m / 2, c2c ? xi : NULL, c2c ? total : 0, &nl, &err), XB_OK);
    /* the device's bias: a drain source stepping to 0 around each pulse, the gate offset */
    assert_non_null(strstr(xb_netlist_body(nl), "Vd d 0 PWL("));
    assert_non_null(strstr(xb_netlist_body(nl), "Vp g go PWL("));
    assert_non_null(strstr(xb_netlist_body(nl), "Bgate go 0 V = 0.5*v(d)"));
    const char *vecs[3] = {"time", "v(x1.x)", "v(d)"};
    xb_engine_result *r = run_body(xb_netlist_body(nl), win + (double)total * period, 0.05e-9, vecs, 3);
    size_t nt;
    const double *t = xb_engine_result_vec(r, "time", &nt), *x = xb_engine_result_vec(r, "v(x1.x)", &nt),
                 *vd = xb_engine_result_vec(r, "v(d)", &nt);
    double xr = 0.5, worst = 0;
    size_t clamped = 0;
    for (size_t k = 0; k < total; k++) {
        double t0 = win + (double)k * period;
        double xb = sample(t, x, nt, t0 - 2e-9), xa = sample(t, x, nt, t0 + 2 * e + w + 2e-9);
        /* the drain is grounded during the pulse, at v_read in the read windows */
        assert_true(fabs(sample(t, vd, nt, t0 + e + w / 2)) < 1e-9);
        assert_rel(sample(t, vd, nt, t0 - 5e-9), 0.2, 1e-9, "drain at v_read between pulses");
        /* nothing moves during the read window */
        assert_true(fabs(sample(t, x, nt, t0 + 2 * e + w + 10e-9) - xa) < 1e-9);
        double f = c2c ? fmax(1 + 0.3 * xb_netlist_c2c_draw(11, 0, k), 0) : 1;
        double want = ecram_step(xb, ecram_charge(k < n ? a : -a, w, e), f);
        if (f == 0) { /* z < -1/0.3: the factor clamps at 0, the pulse does nothing */
            assert_true(fabs(xa - xb) < 1e-9 && fabs(want - xb) < 1e-15);
            clamped++;
            continue;
        }
        double rel = fabs((xa - xb) - (want - xb)) / fabs(want - xb);
        if (rel > worst) worst = rel;
        assert_rel(xa - xb, want - xb, 2e-3, "ECRAM step vs the integrated step law");
        xr = ecram_step(xr, ecram_charge(k < n ? a : -a, w, e), f);
    }
    double x_up = sample(t, x, nt, win + (double)n * period - 2e-9), x_end = x[nt - 1];
    fprintf(stderr, "ECRAM %s: x 0.5 -> %.4f (20 up) -> %.4f (20 down); closed form %.4f; worst step error %.2g; "
                    "%zu pulses with the factor clamped at 0\n",
            c2c ? "with c2c" : "no noise", x_up, x_end, xr, worst, clamped);
    assert_rel(x_end, xr, 2e-3, "chain of steps");
    if (!c2c) {
        assert_true(x_up > 0.86 && x_up < 0.90);  /* near symmetric: 0.5 -> 0.881 -> 0.557 */
        assert_true(x_end > 0.53 && x_end < 0.58);
    }
    xb_engine_result_free(r);
    xb_netlist_free(nl);
    free(pwl);
    free(xi);
}

static void test_ecram_train_grounded_drain(void **state)
{
    (void)state;
    ecram_train(0);
}

static void test_ecram_train_c2c(void **state)
{
    (void)state;
    ecram_train(1);
}

/* The draws: standard normal (mean, std, fourth moment over 40000), pure functions of
 * (seed, cell, pulse), different across cells, pulses and seeds. */
static void test_c2c_draws(void **state)
{
    (void)state;
    double s1 = 0, s2 = 0, s4 = 0;
    const size_t n = 40000;
    for (size_t k = 0; k < n; k++) {
        double z = xb_netlist_c2c_draw(5, k % 200, k / 200);
        s1 += z;
        s2 += z * z;
        s4 += z * z * z * z;
    }
    double mean = s1 / n, var = s2 / n - mean * mean;
    assert_true(fabs(mean) < 4.0 / sqrt((double)n)); /* 4 sigma */
    assert_true(fabs(var - 1) < 0.03);
    assert_true(fabs(s4 / n - 3) < 0.15);
    assert_true(xb_netlist_c2c_draw(5, 3, 7) == xb_netlist_c2c_draw(5, 3, 7));
    assert_true(xb_netlist_c2c_draw(5, 3, 7) != xb_netlist_c2c_draw(5, 4, 7));
    assert_true(xb_netlist_c2c_draw(5, 3, 7) != xb_netlist_c2c_draw(5, 3, 8));
    assert_true(xb_netlist_c2c_draw(5, 3, 7) != xb_netlist_c2c_draw(6, 3, 7));
    /* the terminal value: z for the per-pulse laws, z sqrt(1 ns / t) for the RRAM Wiener law */
    assert_rel(xb_netlist_c2c_input(XB_DEVICE_ECRAM, 0.7, 10e-9), 0.7, 1e-15, "ecram xi");
    assert_rel(xb_netlist_c2c_input(XB_DEVICE_RRAM, 0.7, 25e-9), 0.7 * 0.2, 1e-12, "rram xi");
    assert_true(xb_netlist_c2c_input(XB_DEVICE_LINEAR, 0.7, 25e-9) == 0);
}

/* RRAM gap noise (the Stanford-PKU stochastic term): with the drift switched off (vel0 = 0)
 * and no heating (i0 tiny), a pulse of V on the cell changes the gap by exactly
 * dgn chi(T0) xi int gon(t) dt, gon the minimum-field gate; over 120 pulses the changes have
 * mean ~0 and the standard deviation dgn chi(T0) sqrt(1 ns * tau) of the configured law. */
static void test_rram_gap_noise(void **state)
{
    (void)state;
    const size_t n = 120;
    const double v = 2.0, w = 20e-9, e = 0.1e-9, per = 30e-9, g_start = 0.95;
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    fprintf(f, ".include %s/rram.lib\nX1 a 0 nz rram_dyn gini=%g vel0=0 i0=1e-15\n", XB_SOURCE_DIR "/models", g_start);
    fprintf(f, "V1 a 0 PULSE(0 %g %g %g %g %g %g %zu)\n", v, 10e-9, e, e, w, per, n);
    /* the noise terminal: xi_k during pulse k, switching half way between pulses */
    fprintf(f, "Vnz nz 0 PWL(0 %.17g", xb_netlist_c2c_input(XB_DEVICE_RRAM, xb_netlist_c2c_draw(3, 0, 0), w));
    for (size_t k = 1; k < n; k++) {
        double ts = 10e-9 + (double)k * per - 5e-9;
        fprintf(f, "\n+ %.17g %.17g %.17g %.17g", ts, xb_netlist_c2c_input(XB_DEVICE_RRAM, xb_netlist_c2c_draw(3, 0, k - 1), w),
                ts + 0.1e-9, xb_netlist_c2c_input(XB_DEVICE_RRAM, xb_netlist_c2c_draw(3, 0, k), w));
    }
    fprintf(f, ")\n");
    fclose(f);
    char an[64];
    snprintf(an, sizeof an, ".tran 1n %gn", (10e-9 + (double)n * per) * 1e9);
    double *d;
    size_t nr, nc;
    assert_int_equal(xb_spice_ref_run(g_dir, "rram_noise", body, an, "v(x1.gap)", &d, &nr, &nc), 0);
    free(body);
    /* the gate integral over one trapezoid, numerically from the model's tanh (gap ~ const) */
    const double chi = 1 / (1 + exp((450 - 298) / 500.0));
    double s1 = 0, s2 = 0, worst = 0;
    size_t used = 0;
    for (size_t k = 0; k < n; k++) {
        double t0 = 10e-9 + (double)k * per;
        double tb[1] = {0}, gb = 0, ga = 0;
        (void)tb;
        /* gap before/after: mid-gap samples */
        for (size_t r = 1; r < nr; r++) {
            double tt = d[r * nc];
            if (tt <= t0 - 5e-9) gb = d[r * nc + 1];
            if (tt <= t0 + w + 2 * e + 4e-9) ga = d[r * nc + 1];
        }
        if (gb < 0.3 || gb > 1.6) continue; /* away from the smooth bounds */
        double gam = 16 - 0.8 * gb * gb * gb, ion = 0;
        const int steps = 4000;
        for (int q = 0; q < steps; q++) { /* trapezoid: 0 -> v over e, v for w, v -> 0 over e */
            double tt = (q + 0.5) / steps * (w + 2 * e), vv = tt < e ? v * tt / e : tt < e + w ? v : v * (w + 2 * e - tt) / e;
            ion += 0.5 * (1 + tanh((gam * vv / 12 - 1.4) / 0.01)) * (w + 2 * e) / steps;
        }
        double xi = xb_netlist_c2c_input(XB_DEVICE_RRAM, xb_netlist_c2c_draw(3, 0, k), w);
        double want = 2e7 * chi * xi * ion;
        double rel = fabs((ga - gb) - want) / fmax(fabs(want), 1e-4);
        if (rel > worst) worst = rel;
        if (fabs(want) > 1e-3) assert_rel(ga - gb, want, 0.01, "gap change of one pulse");
        s1 += ga - gb;
        s2 += (ga - gb) * (ga - gb);
        used++;
    }
    free(d);
    assert_true(used > 100);
    double mean = s1 / (double)used, sd = sqrt(s2 / (double)used - mean * mean);
    double sd_law = 2e7 * chi * sqrt(1e-9 * w); /* the configured law per pulse */
    fprintf(stderr, "RRAM gap noise: %zu pulses, mean %.3g nm, std %.4g nm (law %.4g nm), worst pulse error %.2g\n", used,
            mean, sd, sd_law, worst);
    assert_true(fabs(mean) < 4 * sd_law / sqrt((double)used));
    assert_true(fabs(sd / sd_law - 1) < 0.2); /* 120 samples: the std of the std is ~7 % */
}

/* Compliance: the 1T1R access NMOS biased for a saturation current I caps the SET current
 * of the RRAM sweep at I (lambda = 0: exact), and the SET stops at the gap where the cell
 * carries I at its switching threshold. */
static void test_compliance(void **state)
{
    (void)state;
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_RRAM);
    assert_rel(xb_netlist_compliance_gate_volt(&p, 200e-6), 0.4 + sqrt(2 * 200e-6 / 600e-6), 1e-12, "gate voltage");
    xb_iv_opts o = {0, 1, 200e-6, 0};
    xb_netlist_deck dk;
    xb_error err;
    assert_int_equal(xb_netlist_iv_dynamic_deck_opts(&p, &o, &dk, &err), XB_OK);
    xb_engine_opts eo;
    xb_engine_opts_default(&eo);
    xb_engine_result *r = NULL;
    assert_int_equal(xb_engine_run(&eo, dk.text, dk.n_vectors, (const char *const *)dk.vectors, &r, &err), XB_OK);
    assert_int_equal(xb_engine_result_status(r), XB_OK);
    size_t n;
    const double *i = xb_engine_result_vec(r, dk.vectors[2], &n), *g = xb_engine_result_vec(r, dk.vectors[3], &n);
    double ipk = 0, gmin = 9;
    for (size_t k = 0; k < n; k++) {
        ipk = fmax(ipk, i[k]);
        gmin = fmin(gmin, g[k]);
    }
    fprintf(stderr, "compliance 200 uA: peak %.6g A, SET gap %.4f nm\n", ipk, gmin);
    assert_true(ipk <= 200e-6 * (1 + 1e-6));
    assert_true(ipk > 0.97 * 200e-6);
    double gl = 0.5;
    for (int it = 0; it < 100; it++) gl = 0.25 * log(61.4e-6 * sinh(1.4 * 12 / (16 - 0.8 * gl * gl * gl) / 0.25) / 200e-6);
    assert_true(fabs(gmin - gl) < 0.05);
    xb_engine_result_free(r);
    xb_netlist_deck_free(&dk);
    /* ECRAM is programmed through its gate: --compliance names itself */
    xb_array_params_default(&p, XB_DEVICE_ECRAM);
    assert_int_equal(xb_netlist_iv_dynamic_deck_opts(&p, &o, &dk, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "--compliance"));
}

/* The threshold selector: a slow ramp through 100 kohm turns it on at V_th (to the window
 * width dvw = 20 mV), the on state holds V_hold + I R_on, and it is off again (volatile)
 * once the ramp is back near 0. */
static void test_threshold_selector(void **state)
{
    (void)state;
    char body[512];
    snprintf(body, sizeof body,
             ".include %s/selector.lib\nX1 a 0 sel_ts vth=1.0 vhold=0.5 ron=1k roff=100meg\nR1 in a 100k\n"
             "V1 in 0 PWL(0 0 1u 2.5 2u 0)\n",
             XB_SOURCE_DIR "/models");
    double *d;
    size_t nr, nc;
    assert_int_equal(xb_spice_ref_run(g_dir, "sel_ts", body, ".tran 1n 2u", "v(a) v(in) v(x1.s)", &d, &nr, &nc), 0);
    double v_on = 0, v_hold = 0, i_hold = 0, s_end = d[(nr - 1) * nc + 3];
    int on = 0;
    for (size_t k = 1; k < nr; k++) {
        /* the switching voltage: the highest selector voltage before the state turns on */
        if (!on && d[k * nc + 3] >= 0.5) on = 1;
        if (!on) v_on = fmax(v_on, d[k * nc + 1]);
        if (d[k * nc] < 0.95e-6 && d[k * nc] > 0.9e-6) {
            v_hold = d[k * nc + 1];
            i_hold = (d[k * nc + 2] - v_hold) / 100e3;
        }
    }
    assert_true(on);
    free(d);
    fprintf(stderr, "threshold selector: on at %.4f V, holds %.4f V at %.3g A\n", v_on, v_hold, i_hold);
    assert_true(v_on > 1.0 - 1e-3 && v_on < 1.0 + 0.02);
    /* the on branch: I R_on = sp(V - V_hold), sp the smooth max of width dvw = 20 mV */
    assert_rel(i_hold * 1e3, 0.02 * log(1 + exp((v_hold - 0.5) / 0.02)), 2e-3, "on-state I-V, V ~ V_hold + I R_on");
    assert_true(s_end < 1e-3);
}

/* A 2x2 V/2 write of cell (0,0) disturbs the half-selected cells by exactly what a single
 * cell gives at V/2 with the same pulse: ECRAM, whose V/2 update is exponentially smaller
 * but not zero.  Half-selected (0,1) and (1,0) see V/2 gate-to-channel, (1,1) sees 0. */
static void test_v2_disturb_equals_single_cell(void **state)
{
    (void)state;
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_ECRAM);
    p.rows = p.cols = 2;
    const double v = 1.6, w = 10e-9, e = 1e-9;
    double st[4] = {0.3, 0.3, 0.3, 0.3}, end[4], sb, sa, ej;
    xb_write_pulse q = {0, 0, v, w, 0};
    xb_write_round in = {&p, XB_WRITE_V2, st, NULL, 1, &q, e, 5e-9, 0, 0};
    xb_write_round_out out = {end, &sb, &sa, &ej, 0, NULL};
    xb_engine_opts eo;
    xb_engine_opts_default(&eo);
    xb_error err;
    int rc = xb_write_solver_spice.solve(&xb_write_solver_spice, &eo, &in, &out, &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, XB_OK);
    free(out.deck);
    out.deck = NULL;
    /* the single cell: the campaign's programming circuit (another circuit writer) with the
     * same trapezoid at V/2 */
    xb_array_params p1;
    xb_array_params_default(&p1, XB_DEVICE_ECRAM);
    double pwl[10] = {0, 0, 2e-9, 0, 2e-9 + e, v / 2, 2e-9 + e + w, v / 2, 2e-9 + 2 * e + w, 0};
    xb_netlist *nl;
    assert_int_equal(xb_netlist_program_new(&p1, pwl, 5, &nl, &err), XB_OK);
    /* start the single cell at x = 0.3 as well */
    char *body = strdup(xb_netlist_body(nl));
    char *x0 = strstr(body, "ecram_dyn x0=0.5");
    assert_non_null(x0);
    memcpy(x0, "ecram_dyn x0=0.3", 16);
    const char *vecs[2] = {"time", "v(x1.x)"};
    xb_engine_result *r = run_body(body, 30e-9, 0.1e-9, vecs, 2);
    size_t nt;
    const double *x = xb_engine_result_vec(r, "v(x1.x)", &nt);
    double dx_single = x[nt - 1] - 0.3;
    double dx_closed = ecram_step(0.3, ecram_charge(v / 2, w, e), 1) - 0.3;
    fprintf(stderr, "V/2 disturb: (0,1) %.6g, (1,0) %.6g, single cell at V/2 %.6g, closed form %.6g, (1,1) %.3g, "
                    "selected %.6g\n",
            end[1] - 0.3, end[2] - 0.3, dx_single, dx_closed, end[3] - 0.3, end[0] - 0.3);
    assert_true(dx_single > 1e-7);
    assert_rel(end[1] - 0.3, dx_single, 5e-3, "half-selected (0,1) = single cell at V/2");
    assert_rel(end[2] - 0.3, dx_single, 5e-3, "half-selected (1,0) = single cell at V/2");
    assert_rel(dx_single, dx_closed, 5e-3, "single cell at V/2 = closed form");
    assert_true(fabs(end[3] - 0.3) < 1e-4 * dx_single);
    assert_rel(end[0] - 0.3, ecram_step(0.3, ecram_charge(v, w, e), 1) - 0.3, 5e-3, "selected cell");
    xb_engine_result_free(r);
    xb_netlist_free(nl);
    free(body);
    /* RRAM: V/2 = 0.7 V is below the minimum switching field, so the disturb is nil */
    xb_array_params_default(&p, XB_DEVICE_RRAM);
    p.rows = p.cols = 2;
    double sr[4] = {1.0, 1.0, 1.0, 1.0};
    q.v_volt = 1.4;
    q.width_s = 20e-9;
    in.p = &p;
    in.state = sr;
    rc = xb_write_solver_spice.solve(&xb_write_solver_spice, &eo, &in, &out, &err);
    assert_int_equal(rc, XB_OK);
    free(out.deck);
    assert_true(end[0] < 0.999); /* the selected cell SETs */
    for (int k = 1; k < 4; k++) assert_true(fabs(end[k] - 1.0) < 1e-9);
}

/* V/3 on a 2x2 ECRAM array: the half-selected cells (0,1) and (1,0) see +V/3 between gate and
 * channel, the unselected (1,1) -V/3 (its gate line at V/3, its channel at 2V/3): each
 * moves by the integrated step law at its voltage.  Drivers and wires of 10 mohm: the
 * channel currents of the unselected columns (2 V across 4.6 uS) would otherwise drop ~2 mV
 * on 100 ohm drivers, which the sinh gate kinetics (e-fold per 100 mV) turn into ~1 %.  The
 * tolerance is the round solver's integration accuracy at its time step (write_spice.c:
 * 0.5-0.7 % measured). */
static void test_v3_disturb_closed_form(void **state)
{
    (void)state;
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_ECRAM);
    p.rows = p.cols = 2;
    p.r_driver_ohm = p.r_wire_row_ohm = p.r_wire_col_ohm = 0.01;
    const double v = 1.5, w = 10e-9, e = 1e-9, x0 = 0.4;
    double st[4] = {x0, x0, x0, x0}, end[4], sb, sa, ej;
    xb_write_pulse q = {0, 0, v, w, 0};
    xb_write_round in = {&p, XB_WRITE_V3, st, NULL, 1, &q, e, 5e-9, 0, 0};
    xb_write_round_out out = {end, &sb, &sa, &ej, 0, NULL};
    xb_engine_opts eo;
    xb_engine_opts_default(&eo);
    xb_error err;
    int rc = xb_write_solver_spice.solve(&xb_write_solver_spice, &eo, &in, &out, &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, XB_OK);
    free(out.deck);
    double up = ecram_step(x0, ecram_charge(v / 3, w, e), 1) - x0;
    double dn = ecram_step(x0, ecram_charge(-v / 3, w, e), 1) - x0;
    fprintf(stderr, "V/3 disturb: (0,1) %.6g, (1,0) %.6g (closed form %.6g); (1,1) %.6g (closed form %.6g); "
                    "selected %.6g (closed form %.6g)\n",
            end[1] - x0, end[2] - x0, up, end[3] - x0, dn, sa - sb, ecram_step(x0, ecram_charge(v, w, e), 1) - x0);
    assert_true(up > 1e-6 && dn < -1e-6);
    assert_rel(end[1] - x0, up, 1e-2, "(0,1) at +V/3");
    assert_rel(end[2] - x0, up, 1e-2, "(1,0) at +V/3");
    assert_rel(end[3] - x0, dn, 1e-2, "(1,1) at -V/3");
    assert_rel(sa - sb, ecram_step(x0, ecram_charge(v, w, e), 1) - x0, 1e-2, "selected cell at V");
    assert_rel(sb, x0, 1e-9, "state before the slot");
}

/* PCM cycle-to-cycle noise: the crystallization rate of a pulse carries the factor
 * f = max(1 + sc2c z, 0).  Below the melt window the state obeys dc/dt = f wx(T)(1 - c)/taucr,
 * so 1 - c_after = (1 - c_before) exp(-f int wx(T(t)) dt / taucr) exactly for the temperature
 * T(t) the run itself produced: the factor of every pulse, recovered from stock ngspice's c
 * and T, equals max(1 + 0.6 z) of its draw.  Partial SET pulses of 1.5 V, 5 ns through 10 kohm
 * (T rise ~280 K: inside the crystallization window, far below the melt). */
static void test_pcm_c2c_factor(void **state)
{
    (void)state;
    const size_t n = 12;
    const double per = 20e-9, t0 = 2e-9, w = 5e-9, e = 0.5e-9;
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    fprintf(f, ".include %s/pcm.lib\nX1 te 0 nz pcm_dyn c0=0.05\nR1 a te 10k\n", XB_SOURCE_DIR "/models");
    fprintf(f, "V1 a 0 PULSE(0 1.5 %g %g %g %g %g %zu)\n", t0, e, e, w, per, n);
    fprintf(f, "Vnz nz 0 PWL(0 %.17g", xb_netlist_c2c_input(XB_DEVICE_PCM, xb_netlist_c2c_draw(9, 0, 0), w));
    for (size_t k = 1; k < n; k++) {
        double ts = t0 + (double)k * per - 5e-9;
        fprintf(f, "\n+ %.17g %.17g %.17g %.17g", ts, xb_netlist_c2c_draw(9, 0, k - 1), ts + 0.1e-9,
                xb_netlist_c2c_draw(9, 0, k));
    }
    fprintf(f, ")\n");
    fclose(f);
    double *d;
    size_t nr, nc;
    char an[64];
    snprintf(an, sizeof an, ".tran 0.01n %gn 0 0.02n", (t0 + (double)n * per) * 1e9);
    assert_int_equal(xb_spice_ref_run(g_dir, "pcm_c2c", body, an, "v(x1.c) v(x1.t)", &d, &nr, &nc), 0);
    free(body);
    double worst = 0;
    size_t clamped = 0;
    for (size_t k = 0; k < n; k++) {
        const double ta = t0 + (double)k * per - 1e-9, tb = ta + per - 2e-9;
        double cb = NAN, ca = NAN, iw = 0;
        for (size_t r = 1; r < nr; r++) {
            double t = d[r * nc], tp = d[(r - 1) * nc];
            if (tp <= ta && t > ta) cb = d[(r - 1) * nc + 1];
            if (tp < tb && t >= tb) ca = d[r * nc + 1];
            if (t <= ta || tp >= tb) continue;
            /* wx(T) of the model (tamb 300, tx 450, tm 900, dtw 10), trapezoids */
            double wx[2];
            for (int s = 0; s < 2; s++) {
                double tt = 300 + d[(r - s) * nc + 2];
                double wm = 1 / (1 + exp(fmin(-(tt - 900) / 10, 80)));
                wx[s] = (1 - wm) / (1 + exp(fmin(-(tt - 450) / 10, 80)));
            }
            iw += 0.5 * (wx[0] + wx[1]) * (t - tp) / 20e-9;
        }
        assert_true(isfinite(cb) && isfinite(ca) && iw > 0.01);
        double z = xb_netlist_c2c_draw(9, 0, k), want = fmax(1 + 0.6 * z, 0);
        double got = log((1 - cb) / (1 - ca)) / iw;
        clamped += want == 0;
        worst = fmax(worst, fabs(got - want));
        if (fabs(got - want) > 0.01) {
            print_error("pulse %zu: z %.4f, factor %.5f, want %.5f (c %.4f -> %.4f)\n", k, z, got, want, cb, ca);
            fail();
        }
    }
    fprintf(stderr, "PCM c2c: %zu pulses, factor error at most %.2g (%zu clamped at 0)\n", n, worst, clamped);
    free(d);
}

/* 1S1R with the threshold-switching selector, V/2: the selected cell's selector switches on
 * (2 V > V_th = 1 V) and its RRAM SETs; the half-selected cells' selectors see 1 V - the
 * selected lines' drop, stay below V_th (off, 100 Mohm) and their gaps do not move; the
 * selected pulse costs orders of magnitude more energy than a pulse that only half-selects. */
static void test_1s1r_threshold_selector_round(void **state)
{
    (void)state;
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_RRAM);
    p.rows = p.cols = 2;
    p.cell = XB_CELL_1S1R;
    p.selector = XB_SELECTOR_THRESHOLD;
    double st[4] = {1.0, 1.0, 1.0, 1.0}, end[4], sb, sa, ej;
    xb_write_pulse q = {0, 0, 2.0, 20e-9, 0};
    xb_write_round in = {&p, XB_WRITE_V2, st, NULL, 1, &q, 1e-9, 5e-9, 0, 0};
    xb_write_round_out out = {end, &sb, &sa, &ej, 0, NULL};
    xb_engine_opts eo;
    xb_engine_opts_default(&eo);
    xb_error err;
    int rc = xb_write_solver_spice.solve(&xb_write_solver_spice, &eo, &in, &out, &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, XB_OK);
    assert_non_null(strstr(out.deck, "sel_ts"));
    free(out.deck);
    fprintf(stderr, "1S1R ts, V/2 at 2 V: selected gap 1.0 -> %.4f nm, half-selected %.3g %.3g, unselected %.3g nm; "
                    "%.3g J\n",
            end[0], end[1] - 1, end[2] - 1, end[3] - 1, ej);
    assert_true(end[0] < 0.99);
    for (int k = 1; k < 4; k++) assert_true(fabs(end[k] - 1.0) < 1e-9);
    /* the same pulse on an array whose selected cell is the only one (1x1): the half-selected
     * cells of the 2x2 add next to nothing (their selectors are off) */
    xb_array_params p1 = p;
    p1.rows = p1.cols = 1;
    double s1 = 1.0, e1, sb1, sa1, ej1;
    xb_write_round in1 = {&p1, XB_WRITE_V2, &s1, NULL, 1, &q, 1e-9, 5e-9, 0, 0};
    xb_write_round_out out1 = {&e1, &sb1, &sa1, &ej1, 0, NULL};
    assert_int_equal(xb_write_solver_spice.solve(&xb_write_solver_spice, &eo, &in1, &out1, &err), XB_OK);
    free(out1.deck);
    fprintf(stderr, "  alone: gap -> %.4f nm, %.3g J\n", e1, ej1);
    assert_rel(end[0] - 1, e1 - 1, 2e-2, "selected cell as if alone");
    assert_rel(ej, ej1, 5e-2, "energy as if alone");
}

/* ------------------------------------------------------------------ programming logic */
/* A second round solver: ECRAM in closed form.  Every cell of the array gets, per pulse, the
 * integrated step law at its gate-to-channel voltage under the scheme (characterize.h: V on
 * the selected cell, V - a_col V on its row, a_row V on its column, a_row V - a_col V
 * elsewhere; a_row = a_col = 1/2 for V/2, 1/3 and 2/3 for V/3), times its noise factor
 * max(1 + 0.3 xi); no wires.  The energy is this solver's own bookkeeping number, V^2 x 1 uS x
 * width, so that the sums of the records can be checked. */
static double scheme_vgc(xb_write_scheme s, const xb_write_pulse *q, size_t r, size_t c)
{
    const double a_row = s == XB_WRITE_V3 ? 1.0 / 3 : 0.5, a_col = s == XB_WRITE_V3 ? 2.0 / 3 : 0.5;
    return (r == q->row ? q->v_volt : a_row * q->v_volt) - (c == q->col ? 0 : a_col * q->v_volt);
}

static double closed_pulse(double x, double vgc, double w, double e, double xi)
{
    return vgc == 0 ? x : ecram_step(x, ecram_charge(vgc, w, e), fmax(1 + 0.3 * xi, 0));
}

static int closed_solve(const xb_write_solver *s, const xb_engine_opts *eo, const xb_write_round *in,
                        xb_write_round_out *out, xb_error *err)
{
    (void)s;
    (void)eo;
    (void)err;
    const size_t R = in->p->rows, C = in->p->cols;
    double *x = malloc(R * C * sizeof *x);
    memcpy(x, in->state, R * C * sizeof *x);
    out->t_sim_s = 0;
    for (size_t k = 0; k < in->n_pulses; k++) {
        const xb_write_pulse *q = &in->pulses[k];
        out->state_before[k] = x[q->row * C + q->col];
        for (size_t r = 0; r < R; r++)
            for (size_t c = 0; c < C; c++)
                x[r * C + c] = closed_pulse(x[r * C + c], scheme_vgc(in->scheme, q, r, c), q->width_s, in->edge_s,
                                            in->noise ? in->noise[r * C + c] : 0);
        out->state_after[k] = x[q->row * C + q->col];
        out->e_joule[k] = q->v_volt * q->v_volt * 1e-6 * q->width_s;
        out->t_sim_s += 2 * in->edge_s + q->width_s + in->gap_s;
    }
    memcpy(out->state_end, x, R * C * sizeof *x);
    free(x);
    return XB_OK;
}

static const xb_write_solver k_closed = {"closed", closed_solve};

static double ecram_g(double x) { return 1e-6 + 9e-6 * x; }

/* Replays the records of a result through the closed form, cell by cell, pulse by pulse:
 * the pulses, their noise draws (cell k's n-th pulse: draw(seed, k, n); a cell without a pulse
 * in a round carries its next draw), the conductances before/after every pulse, the disturb of
 * every cell (its change from the other cells' pulses), the final conductances and the energy
 * sums all have to come out as recorded. */
static void replay(const xb_array_params *p, const xb_write_opts *o, const xb_write_result *r, const double *gt)
{
    const size_t R = p->rows, C = p->cols, nc = R * C;
    double x[16], z[16], dist[16] = {0}, ecell[16] = {0}, gv[16];
    int64_t cnt[16] = {0};
    assert_true(nc <= 16);
    for (size_t k = 0; k < nc; k++) {
        x[k] = 0;
        gv[k] = ecram_g(0);
    }
    double etot = 0;
    for (size_t m = 0; m < r->n_pulses; m++) {
        if (m == 0 || r->p_round[m] != r->p_round[m - 1]) /* a new round: every cell's draw */
            for (size_t k = 0; k < nc; k++)
                z[k] = o->c2c ? xb_netlist_c2c_draw(o->seed, k, (uint64_t)cnt[k]) : 0;
        const size_t sel = (size_t)(r->p_row[m] * (int64_t)C + r->p_col[m]);
        assert_true(r->p_z[m] == z[sel]);
        assert_rel(r->p_g_before[m], ecram_g(x[sel]), 1e-12, "g before the pulse");
        xb_write_pulse q = {(size_t)r->p_row[m], (size_t)r->p_col[m], r->p_volt[m], r->p_width_s[m], 0};
        for (size_t k = 0; k < nc; k++) {
            double xn = closed_pulse(x[k], scheme_vgc(o->scheme, &q, k / C, k % C), q.width_s, 1e-9, z[k]);
            if (k != sel) dist[k] += ecram_g(xn) - ecram_g(x[k]);
            x[k] = xn;
        }
        assert_rel(r->p_g_after[m], ecram_g(x[sel]), 1e-12, "g after the pulse");
        gv[sel] = ecram_g(x[sel]);
        cnt[sel]++;
        ecell[sel] += r->p_e_joule[m];
        etot += r->p_e_joule[m];
        assert_rel(r->p_e_joule[m], q.v_volt * q.v_volt * 1e-6 * q.width_s, 1e-12, "pulse energy record");
    }
    const double tol_s = o->tol * 9e-6;
    for (size_t k = 0; k < nc; k++) {
        assert_int_equal(r->pulses[k], cnt[k]);
        assert_rel(r->g_final[k], ecram_g(x[k]), 1e-12, "final g");
        assert_rel(r->g_verify[k], gv[k], 1e-12, "last read after the cell's own pulse");
        assert_true(fabs(r->disturb[k] - dist[k]) <= 1e-9 * 9e-6);
        assert_rel(r->e_cell_joule[k], ecell[k], 1e-12, "cell energy");
        assert_int_equal(r->converged[k], fabs(gv[k] - gt[k]) <= tol_s);
        assert_rel(r->state_final[k], x[k], 1e-12, "final state");
    }
    assert_rel(r->e_total_joule, etot, 1e-12, "total energy");
    int64_t sum = 0;
    for (size_t u = 0; u < r->n_rounds; u++) sum += r->r_pulses[u];
    assert_int_equal(sum, (int64_t)r->n_pulses);
}

static void targets3(xb_matrix *m, double *d)
{
    /* 3x3 across the lower two thirds of the window (1..10 uS) */
    const double t[9] = {2e-6, 3.5e-6, 5e-6, 2.5e-6, 4e-6, 6.5e-6, 3e-6, 4.5e-6, 7e-6};
    memcpy(d, t, sizeof t);
    *m = (xb_matrix){3, 3, d};
}

/* Write-verify (V/2, c2c noise) on the closed-form solver: every cell converges within tol,
 * the records replay, and every cell's amplitudes follow incremental step pulse programming:
 * +50 mV per pulse in the same direction up to the maximum (1.5 V), back to the start (1 V)
 * when the direction flips; a cell gets another pulse exactly when its last read is outside
 * the band. */
static void test_write_verify_logic(void **state)
{
    (void)state;
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_ECRAM);
    p.rows = p.cols = 3;
    double d[9];
    xb_matrix gt;
    targets3(&gt, d);
    xb_write_opts o;
    xb_write_opts_default(&o);
    o.tol = 0.02;
    o.max_pulses = 80;
    o.seed = 7;
    xb_engine_opts eo;
    xb_engine_opts_default(&eo);
    xb_write_result r;
    xb_error err;
    assert_int_equal(xb_char_write(&eo, &p, &gt, &o, &k_closed, &r, &err), XB_OK);
    replay(&p, &o, &r, d);
    const double tol_s = o.tol * 9e-6;
    size_t flips = 0;
    for (size_t k = 0; k < 9; k++) {
        assert_true(r.converged[k]);
        assert_true(fabs(r.g_verify[k] - d[k]) <= tol_s);
        double prev = 0, g_prev = ecram_g(0);
        for (size_t m = 0; m < r.n_pulses; m++) {
            if ((size_t)(r.p_row[m] * 3 + r.p_col[m]) != k) continue;
            double v = r.p_volt[m], want;
            /* direction from the last read, the amplitude from the previous pulse */
            int dir = g_prev < d[k] ? 1 : -1;
            assert_true(fabs(g_prev - d[k]) > tol_s);
            if (prev != 0 && (prev > 0) == (dir > 0)) want = dir * fmin(fabs(prev) + 0.05, 1.5);
            else want = dir * 1.0;
            flips += prev != 0 && (prev > 0) != (dir > 0);
            assert_rel(v, want, 1e-12, "ISPP amplitude");
            prev = v;
            g_prev = r.p_g_after[m];
        }
    }
    fprintf(stderr, "verify (closed form): %zu pulses in %zu rounds, %zu direction flips, max |disturb| %.3g S\n",
            r.n_pulses, r.n_rounds, flips, fabs(r.disturb[0]));
    assert_true(flips > 0); /* the band is narrower than the large steps: overshoots corrected */
    xb_write_result_clear(&r);
}

/* Seeded noise: the same seed gives the same programming bit for bit, another seed another
 * one; without noise the seed does not matter and every draw record is 0. */
static void test_write_seeds(void **state)
{
    (void)state;
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_ECRAM);
    p.rows = p.cols = 3;
    double d[9];
    xb_matrix gt;
    targets3(&gt, d);
    xb_write_opts o;
    xb_write_opts_default(&o);
    xb_engine_opts eo;
    xb_engine_opts_default(&eo);
    xb_error err;
    xb_write_result a, b, c;
    o.seed = 21;
    assert_int_equal(xb_char_write(&eo, &p, &gt, &o, &k_closed, &a, &err), XB_OK);
    assert_int_equal(xb_char_write(&eo, &p, &gt, &o, &k_closed, &b, &err), XB_OK);
    assert_int_equal(a.n_pulses, b.n_pulses);
    assert_memory_equal(a.p_g_after, b.p_g_after, a.n_pulses * sizeof(double));
    assert_memory_equal(a.g_final, b.g_final, 9 * sizeof(double));
    o.seed = 22;
    assert_int_equal(xb_char_write(&eo, &p, &gt, &o, &k_closed, &c, &err), XB_OK);
    replay(&p, &o, &c, d);
    size_t differ = 0;
    for (size_t k = 0; k < 9; k++) differ += a.g_final[k] != c.g_final[k];
    assert_true(differ >= 8);
    assert_true(a.p_z[0] != c.p_z[0]);
    xb_write_result_clear(&a);
    xb_write_result_clear(&b);
    xb_write_result_clear(&c);
    o.c2c = 0;
    assert_int_equal(xb_char_write(&eo, &p, &gt, &o, &k_closed, &a, &err), XB_OK);
    o.seed = 21;
    assert_int_equal(xb_char_write(&eo, &p, &gt, &o, &k_closed, &b, &err), XB_OK);
    replay(&p, &o, &b, d);
    assert_memory_equal(a.g_final, b.g_final, 9 * sizeof(double));
    for (size_t m = 0; m < a.n_pulses; m++) assert_true(a.p_z[m] == 0);
    xb_write_result_clear(&a);
    xb_write_result_clear(&b);
}

/* Open loop (V/3, no noise): each target gets the pulse count whose point on the single-cell
 * calibration curve (the ISPP ladder 1, 1.05, ... V from the start state, computed here in
 * closed form) is nearest; the array then gets those pulses without reads, the records
 * replay, and the error left is the calibration step plus the V/3 disturb. */
static void test_write_open_loop(void **state)
{
    (void)state;
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_ECRAM);
    p.rows = p.cols = 2;
    double d[4] = {1.5e-6, 3e-6, 5.5e-6, 8e-6};
    xb_matrix gt = {2, 2, d};
    xb_write_opts o;
    xb_write_opts_default(&o);
    o.verify = 0;
    o.c2c = 0;
    o.scheme = XB_WRITE_V3;
    o.max_pulses = 14;
    xb_engine_opts eo;
    xb_engine_opts_default(&eo);
    xb_write_result r;
    xb_error err;
    assert_int_equal(xb_char_write(&eo, &p, &gt, &o, &k_closed, &r, &err), XB_OK);
    double gcal[15], x = 0;
    gcal[0] = ecram_g(0);
    for (size_t k = 0; k < 14; k++) {
        x = closed_pulse(x, fmin(1.0 + 0.05 * (double)k, 1.5), 10e-9, 1e-9, 0);
        gcal[k + 1] = ecram_g(x);
    }
    for (size_t c = 0; c < 4; c++) {
        size_t best = 0;
        for (size_t m = 1; m <= 14; m++)
            if (fabs(gcal[m] - d[c]) < fabs(gcal[best] - d[c])) best = m;
        assert_int_equal(r.pulses[c], (int64_t)best);
        fprintf(stderr, "open loop cell %zu: target %.3g S, %zu pulses, calibration %.4g S, read %.4g S, final %.4g S\n", c,
                d[c], best, gcal[best], r.g_verify[c], r.g_final[c]);
    }
    for (size_t m = 0; m < r.n_pulses; m++)
        assert_rel(r.p_volt[m], fmin(1.0 + 0.05 * (double)r.p_round[m], 1.5), 1e-12, "ladder amplitude");
    replay(&p, &o, &r, d);
    xb_write_result_clear(&r);
    /* bad input: a target outside the window names the cell */
    d[3] = 20e-6;
    assert_int_equal(xb_char_write(&eo, &p, &gt, &o, &k_closed, &r, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "(2,2)"));
}

/* ------------------------------------------------------------------ xbar program */
static int run_xbar(char **argv, char **out, char **err) { return xb_test_run_xbar(argv, out, err); }

static double h5_attr(hid_t f, const char *name)
{
    double v = NAN;
    xb_error err;
    if (xb_h5_attr_get_double(f, ".", name, &v, &err)) {
        int64_t i;
        if (xb_h5_attr_get_int64(f, ".", name, &i, &err) == XB_OK) v = (double)i;
    }
    return v;
}

static double *h5_vec(hid_t f, const char *name, size_t *n)
{
    double *d = NULL;
    int rank;
    hsize_t dims[4];
    xb_error e;
    assert_int_equal(xb_h5_read_doubles(f, name, &d, &rank, dims, &e), XB_OK);
    *n = 1;
    for (int k = 0; k < rank; k++) *n *= (size_t)dims[k];
    return d;
}

/* The stored deck of round 0 run by stock ngspice: every vector it saves plus each source's
 * node voltage and current.  Returns the table (time, states..., then v, i per source). */
typedef struct {
    double *d;
    size_t nr, nc, n_states, n_src;
} round_ref;

static void run_round_ref(const char *deck, round_ref *o)
{
    /* body: the deck without its title, .save cards, analysis and .end */
    char *body = strdup(strchr(deck, '\n') + 1), *tran = strstr(body, "\n.tran ");
    assert_non_null(tran);
    char an[256];
    snprintf(an, sizeof an, "%.*s", (int)strcspn(tran + 1, "\n"), tran + 1);
    tran[1] = 0;
    char vecs[4096] = "";
    o->n_states = o->n_src = 0;
    char *sv = strstr(body, "\n.save");
    assert_non_null(sv);
    /* states: the v(...) of the .save card (the netlist's outputs, row-major) */
    for (char *c = sv + 1; *c && !(c[0] == '\n' && c[1] != '+'); c++) {
        if (strncmp(c, "v(", 2) == 0) {
            size_t l = strcspn(c, " \n");
            strncat(vecs, c, l);
            strcat(vecs, " ");
            o->n_states++;
        }
    }
    for (char *c = sv + 1; *c && !(c[0] == '\n' && c[1] != '+'); c++) *c = '*';
    /* sources: "V<name> <n+> 0 PWL(" */
    for (char *l = body; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        char name[64], np[64], nn[64];
        if (l[0] != 'V' || sscanf(l, "%63s %63s %63s PWL(", name, np, nn) != 3 || !strstr(l, "PWL(") ||
            strchr(l, '\n') < strstr(l, "PWL("))
            continue;
        assert_string_equal(nn, "0");
        char q[160];
        snprintf(q, sizeof q, "v(%s) i(%s) ", np, name);
        strcat(vecs, q);
        o->n_src++;
    }
    assert_int_equal(xb_spice_ref_run(g_dir, "round0", body, an, vecs, &o->d, &o->nr, &o->nc), 0);
    assert_int_equal(o->nc, 1 + o->n_states + 2 * o->n_src);
    free(body);
}

static double ref_at(const round_ref *o, size_t col, double t)
{
    for (size_t r = 1; r < o->nr; r++)
        if (o->d[r * o->nc] >= t) {
            double t0 = o->d[(r - 1) * o->nc], t1 = o->d[r * o->nc];
            double y0 = o->d[(r - 1) * o->nc + col], y1 = o->d[r * o->nc + col];
            return t1 > t0 ? y0 + (y1 - y0) * (t - t0) / (t1 - t0) : y1;
        }
    return o->d[(o->nr - 1) * o->nc + col];
}

/* Energy every source delivers over [ta, tb]: -v i summed, trapezoids between the samples. */
static double ref_energy(const round_ref *o, double ta, double tb)
{
    double e = 0;
    for (size_t r = 1; r < o->nr; r++) {
        double t0 = o->d[(r - 1) * o->nc], t1 = o->d[r * o->nc];
        double a = fmax(t0, ta), b = fmin(t1, tb);
        if (b <= a) continue;
        double pa = 0, pb = 0;
        for (size_t s = 0; s < o->n_src; s++) {
            size_t cv = 1 + o->n_states + 2 * s;
            pa += -ref_at(o, cv, a) * ref_at(o, cv + 1, a);
            pb += -ref_at(o, cv, b) * ref_at(o, cv + 1, b);
        }
        e += 0.5 * (pa + pb) * (b - a);
    }
    return e;
}

/* `xbar program --verify` on a 2x2 ECRAM array with noise: every cell converges within tol,
 * the records add up, the noise draws follow the counter contract, and for every pulse of
 * round 0 the conductances before and after its slot and its energy (the integral of V I of
 * every source over the slot) equal stock ngspice's run of the stored deck. */
static void test_program_cli_verify(void **state)
{
    (void)state;
    const double tg[4] = {2e-6, 2.6e-6, 3.2e-6, 4e-6};
    char *gp = xb_test_write_file(g_dir, "g2e.csv", "2e-6,2.6e-6\n3.2e-6,4e-6\n"), out_h5[1024];
    snprintf(out_h5, sizeof out_h5, "%s/p2e.h5", g_dir);
    char *argv[] = {"xbar", "program", "--device", "ecram", "--cell", "1r", "--scheme", "v2", "--g", gp, "--verify",
                    "--tol", "0.03", "--max-pulses", "40", "--seed", "4", "-o", out_h5, NULL};
    char *out = NULL, *err = NULL;
    int rc = run_xbar(argv, &out, &err);
    if (rc) print_error("%s\n%s\n", out, err);
    assert_int_equal(rc, 0);
    fprintf(stderr, "program 2x2 ecram v2 verify:\n%s", out);
    assert_non_null(strstr(out, "converged_fraction=1"));
    free(out);
    free(err);
    hid_t f;
    xb_error e;
    assert_int_equal(xb_h5_open(out_h5, 0, &f, &e), XB_OK);
    char *fmt = NULL;
    assert_int_equal(xb_h5_attr_get_string(f, ".", "format", &fmt, &e), XB_OK);
    assert_string_equal(fmt, "xbar-program");
    free(fmt);
    assert_true(h5_attr(f, "format_version") == 1);
    size_t n, np;
    double *gt = h5_vec(f, "cells/g_target", &n), *gv = h5_vec(f, "cells/g_verify", &n);
    double *gf = h5_vec(f, "cells/g_final", &n), *ce = h5_vec(f, "cells/e_joule", &n);
    double *cp = h5_vec(f, "cells/pulses", &n), *dist = h5_vec(f, "cells/disturb", &n);
    double *pe = h5_vec(f, "pulses/e_joule", &np), *pz = h5_vec(f, "pulses/z", &np);
    double *pw = h5_vec(f, "pulses/width_s", &np), *prow = h5_vec(f, "pulses/row", &np);
    double *pcol = h5_vec(f, "pulses/col", &np), *pround = h5_vec(f, "pulses/round", &np);
    double *gb = h5_vec(f, "pulses/g_before", &np), *ga = h5_vec(f, "pulses/g_after", &np);
    assert_int_equal(n, 4);
    const double tol_s = 0.03 * 9e-6;
    double esum = 0, cesum = 0, npul = 0;
    for (size_t k = 0; k < 4; k++) {
        assert_true(gt[k] == tg[k]);
        assert_true(fabs(gv[k] - gt[k]) <= tol_s * (1 + 1e-9));
        /* the final G is the last read plus the disturb of the pulses after it */
        assert_true(fabs(gf[k] - gt[k]) <= tol_s + fabs(dist[k]) + 1e-12);
        cesum += ce[k];
        npul += cp[k];
    }
    assert_true(npul == (double)np);
    for (size_t k = 0; k < np; k++) {
        esum += pe[k];
        size_t cell = (size_t)(prow[k] * 2 + pcol[k]), nth = 0;
        for (size_t m = 0; m < k; m++) nth += (size_t)(prow[m] * 2 + pcol[m]) == cell;
        assert_true(pz[k] == xb_netlist_c2c_draw(4, cell, nth));
    }
    assert_rel(esum, h5_attr(f, "e_total_joule"), 1e-12, "total energy = sum over pulses");
    assert_rel(cesum, esum, 1e-12, "cells' energy = sum over pulses");
    char *deck = NULL;
    assert_int_equal(xb_h5_read_text(f, "netlist", &deck, &e), XB_OK);
    round_ref ref;
    run_round_ref(deck, &ref);
    assert_int_equal(ref.n_states, 4);
    size_t n0 = 0;
    while (n0 < np && pround[n0] == 0) n0++;
    assert_int_equal(n0, 4);
    /* slots: 2 ns idle, then per pulse 2 edges (1 ns) + width + 5 ns gap */
    double ts = 2e-9, worst_g = 0, worst_e = 0;
    for (size_t k = 0; k < n0; k++) {
        double te = ts + 2e-9 + pw[k] + 5e-9;
        size_t cell = (size_t)(prow[k] * 2 + pcol[k]);
        double g0 = ecram_g(ref_at(&ref, 1 + cell, ts)), g1 = ecram_g(ref_at(&ref, 1 + cell, te));
        double ek = ref_energy(&ref, ts, te);
        worst_g = fmax(worst_g, fmax(fabs(gb[k] - g0) / g0, fabs(ga[k] - g1) / g1));
        worst_e = fmax(worst_e, fabs(pe[k] - ek) / ek);
        assert_rel(gb[k], g0, 1e-6, "G before the slot = stock ngspice");
        assert_rel(ga[k], g1, 1e-6, "G after the slot = stock ngspice");
        assert_rel(pe[k], ek, 1e-3, "pulse energy = integral of V I from stock ngspice's waveforms");
        ts = te;
    }
    fprintf(stderr, "round 0 vs stock ngspice: G to %.2g, energy to %.2g (relative)\n", worst_g, worst_e);
    free(ref.d);
    free(deck);
    double *all[] = {gt, gv, gf, ce, cp, dist, pe, pz, pw, prow, pcol, pround, gb, ga};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) free(all[k]);
    xb_h5_close(f, &e);
    free(gp);
}

/* `xbar program` on a 1x2 RRAM 1T1R array with V/3, verify and no noise: the compliance-gated
 * SET climbs in steps and both cells converge within tol; the compliance is recorded. */
static void test_program_cli_rram(void **state)
{
    (void)state;
    char *gp = xb_test_write_file(g_dir, "g12.csv", "7e-6,13e-6\n");
    char out_h5[1024];
    snprintf(out_h5, sizeof out_h5, "%s/p12.h5", g_dir);
    char *argv[] = {"xbar", "program", "--device", "rram", "--cell", "1t1r", "--scheme", "v3", "--g", gp, "--verify",
                    "--no-c2c", "--tol", "0.05", "-o", out_h5, NULL};
    char *out = NULL, *err = NULL;
    int rc = run_xbar(argv, &out, &err);
    if (rc) print_error("%s\n%s\n", out, err);
    assert_int_equal(rc, 0);
    fprintf(stderr, "program 1x2 rram 1t1r v3:\n%s", out);
    assert_non_null(strstr(out, "converged_fraction=1"));
    free(out);
    free(err);
    hid_t f;
    xb_error e;
    assert_int_equal(xb_h5_open(out_h5, 0, &f, &e), XB_OK);
    size_t n, np;
    double *gv = h5_vec(f, "cells/g_verify", &n), *gt = h5_vec(f, "cells/g_target", &n);
    double *gb = h5_vec(f, "pulses/g_before", &np), *ga = h5_vec(f, "pulses/g_after", &np);
    for (size_t k = 0; k < 2; k++) assert_true(fabs(gv[k] - gt[k]) <= 0.05 * 39e-6 * (1 + 1e-9));
    /* SET pulses only ever raise G here (no RESET needed) */
    for (size_t k = 0; k < np; k++) assert_true(ga[k] >= gb[k] * (1 - 1e-9));
    assert_true(h5_attr(f, "compliance_amp") == 500e-6);
    free(gv);
    free(gt);
    free(gb);
    free(ga);
    xb_h5_close(f, &e);
    free(gp);
}

/* ------------------------------------------------------------------ [write] campaigns */
/* A campaign with [write]: the point's write/ group is exactly what xb_char_write gives on
 * the point's sample-0 targets with the point's seed (the campaign adds nothing of its own);
 * a device without a dynamic model skips it; `xbar report` turns it into write_summary.csv
 * (the file's numbers), histograms that count every cell once, and the four plots. */
static void test_write_campaign(void **state)
{
    (void)state;
    const char *ini = "[campaign]\nname = w\nengine = ideal\n[array]\nsize = 2x2\ndevice = ecram, linear\n"
                      "[inputs]\nsamples = 1\nvectors = 1\n[read]\nschemes = none\n"
                      "[write]\nenabled = yes\nscheme = v3\ntol = 0.04\nmax_pulses = 25\n";
    xb_campaign *c = NULL;
    xb_error err;
    assert_int_equal(xb_char_campaign_parse(ini, "w.ini", &c, &err), XB_OK);
    assert_int_equal(xb_char_campaign_npoints(c), 2);
    const xb_char_point *P = xb_char_campaign_point(c, 0);
    assert_true(P->write && !xb_char_campaign_point(c, 1)->write);
    assert_non_null(strstr(P->key, " write=v3"));
    char path[1024];
    snprintf(path, sizeof path, "%s/wc.h5", g_dir);
    xb_char_run_stats st;
    xb_char_run_opts ro = {0};
    int rc = xb_char_run(c, path, &ro, &st, &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, XB_OK);
    assert_int_equal(st.failed, 0);
    hid_t f;
    assert_int_equal(xb_h5_open(path, 0, &f, &err), XB_OK);
    assert_false(xb_h5_exists(f, "points/p00001/write"));
    size_t n;
    double *gt = h5_vec(f, "points/p00000/mvm/g_target", &n);
    assert_int_equal(n, 4);
    xb_write_opts o;
    xb_write_opts_default(&o);
    o.scheme = XB_WRITE_V3;
    o.tol = 0.04;
    o.max_pulses = 25;
    o.seed = P->seed;
    xb_matrix gm = {2, 2, gt};
    xb_engine_opts eo;
    xb_engine_opts_default(&eo);
    xb_write_result r;
    assert_int_equal(xb_char_write(&eo, &P->array, &gm, &o, NULL, &r, &err), XB_OK);
    const char *cells[] = {"g_target", "g_verify", "g_final", "disturb", "e_joule", "pulses"};
    const double *mine[] = {r.g_target, r.g_verify, r.g_final, r.disturb, r.e_cell_joule, NULL};
    for (size_t q = 0; q < 6; q++) {
        char name[96];
        snprintf(name, sizeof name, "points/p00000/write/cells/%s", cells[q]);
        double *d = h5_vec(f, name, &n);
        assert_int_equal(n, 4);
        for (size_t k = 0; k < 4; k++) assert_true(d[k] == (mine[q] ? mine[q][k] : (double)r.pulses[k]));
        free(d);
    }
    char *sch = NULL;
    assert_int_equal(xb_h5_attr_get_string(f, "points/p00000/write", "scheme", &sch, &err), XB_OK);
    assert_string_equal(sch, "v3");
    free(sch);
    xb_h5_close(f, &err);
    /* the report */
    char dir[1024], line[4096];
    snprintf(dir, sizeof dir, "%s/wrep", g_dir);
    char *argv[] = {"xbar", "report", path, "-o", dir, NULL};
    char *out = NULL, *eout = NULL;
    rc = run_xbar(argv, &out, &eout);
    if (rc) print_error("%s\n%s\n", out, eout);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "5 plots")); /* the four below and g_histogram.png (report_plots.c) */
    free(out);
    free(eout);
    const char *pngs[] = {"write_error_hist", "write_pulses_hist", "write_disturb_map", "write_energy_vs_size"};
    for (size_t q = 0; q < 4; q++) {
        snprintf(line, sizeof line, "%s/%s.png", dir, pngs[q]);
        FILE *pf = fopen(line, "rb");
        assert_non_null(pf);
        fclose(pf);
    }
    snprintf(line, sizeof line, "%s/write_summary.csv", dir);
    FILE *cf = fopen(line, "r");
    assert_non_null(cf);
    assert_non_null(fgets(line, sizeof line, cf));
    assert_non_null(fgets(line, sizeof line, cf));
    assert_null(fgets(line + 2048, 2048, cf)); /* one programmed point */
    fclose(cf);
    double se = 0, esum = 0, pm = 0;
    for (size_t k = 0; k < 4; k++) {
        se += (r.g_final[k] - r.g_target[k]) * (r.g_final[k] - r.g_target[k]);
        pm += (double)r.pulses[k] / 4;
    }
    esum = r.e_total_joule;
    char want[512];
    snprintf(want, sizeof want, "p00000,ecram,1r,v3,2,2,1,0.04,%.6g,", pm);
    assert_true(strncmp(line, want, strlen(want)) == 0);
    double v[6];
    const char *q = line + strlen(want);
    assert_int_equal(sscanf(q, "%lf,%lf,%lf,%lf,%lf", &v[0], &v[1], &v[2], &v[3], &v[4]), 5);
    assert_rel(v[1], sqrt(se / 4), 1e-5, "rms error in write_summary.csv");
    assert_rel(v[3], esum, 1e-5, "energy in write_summary.csv");
    /* the pulses histogram: fractions of the 4 cells, summing to 1, at the cells' counts */
    snprintf(line, sizeof line, "%s/write_pulses_hist.dat", dir);
    FILE *hf = fopen(line, "r");
    assert_non_null(hf);
    double tot = 0, x, y;
    size_t at_counts = 0;
    while (fgets(line, sizeof line, hf))
        if (sscanf(line, "%lf %lf", &x, &y) == 2) {
            tot += y;
            for (size_t k = 0; k < 4; k++) at_counts += y > 0 && x == (double)r.pulses[k];
        }
    fclose(hf);
    assert_rel(tot, 1, 1e-9, "histogram sums to 1");
    assert_true(at_counts >= 1);
    xb_write_result_clear(&r);
    free(gt);
    xb_char_campaign_free(c);
    /* bad [write] keys name FILE:LINE */
    const char *bad[] = {"[array]\nsize = 2\n[write]\nscheme = v4\n", "[array]\nsize = 2\n[write]\ntol = 1.5\n",
                         "[array]\nsize = 2\n[write]\nselector = diode\n"};
    for (size_t k = 0; k < 3; k++) {
        c = NULL;
        assert_int_equal(xb_char_campaign_parse(bad[k], "x.ini", &c, &err), XB_EINPUT);
        if (!strstr(err.msg, "x.ini:4:")) {
            print_error("case %zu: %s\n", k, err.msg);
            fail();
        }
        fprintf(stderr, "%s\n", err.msg);
    }
}

/* Bad input: one line naming the flag or file:line, exit 2. */
static void test_program_cli_errors(void **state)
{
    (void)state;
    char *gp = xb_test_write_file(g_dir, "gbad.csv", "# targets\n5e-6,20e-6\n30e-6,90e-6\n");
    char *gok = xb_test_write_file(g_dir, "gok.csv", "5e-6,6e-6\n");
    struct { const char *want; char *argv[16]; } cases[] = {
        {"gbad.csv:3", {"xbar", "program", "--device", "rram", "--g", gp, "-o", "x.h5", NULL}},
        {"--g", {"xbar", "program", "--device", "rram", "-o", "x.h5", NULL}},
        {"-o", {"xbar", "program", "--device", "rram", "--g", gok, NULL}},
        {"--device", {"xbar", "program", "--g", gok, "-o", "x.h5", NULL}},
        {"--device", {"xbar", "program", "--device", "linear", "--g", gok, "-o", "x.h5", NULL}},
        {"--scheme", {"xbar", "program", "--device", "rram", "--scheme", "float", "--g", gok, "-o", "x.h5", NULL}},
        {"--tol", {"xbar", "program", "--device", "rram", "--tol", "2", "--g", gok, "-o", "x.h5", NULL}},
        {"--cell", {"xbar", "program", "--device", "ecram", "--cell", "1t1r", "--g", gok, "-o", "x.h5", NULL}},
        {"--selector", {"xbar", "program", "--device", "rram", "--selector", "ts", "--g", gok, "-o", "x.h5", NULL}},
        {"--var-program", {"xbar", "program", "--device", "rram", "--var-program", "--g", gok, "-o", "x.h5", NULL}},
        {"--max-pulses", {"xbar", "program", "--device", "rram", "--max-pulses", "0", "--g", gok, "-o", "x.h5", NULL}},
        {"--force", {"xbar", "program", "--device", "rram", "--g", gok, "-o", gp, NULL}}, /* an existing output */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char *out = NULL, *err = NULL;
        int rc = run_xbar(cases[c].argv, &out, &err);
        if (rc != 2 || !strstr(err, cases[c].want) || xb_test_count_lines(err) != 1) {
            print_error("case %zu: exit %d, stderr: %s (want one line naming %s)\n", c, rc, err, cases[c].want);
            fail();
        }
        free(out);
        free(err);
    }
    free(gp);
    free(gok);
}

/* `xbar iv --mode read` outside a read law's validity: one warning line on stderr naming the
 * limit, the numbers still written (exit 0); none inside. */
static void test_iv_validity_warning(void **state)
{
    (void)state;
    char csv[1024];
    snprintf(csv, sizeof csv, "%s/iv.csv", g_dir);
    struct { const char *dev, *vmax; int warn; } cases[] = {
        {"pcm", "1.5", 1}, {"pcm", "0.5", 0}, {"rram", "1.2", 1}, {"rram", "0.9", 0}, {"ecram", "0.6", 1}, {"linear", "3", 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char *argv[] = {"xbar", "iv", "--device", (char *)cases[c].dev, "--mode", "read", "--v-max", (char *)cases[c].vmax,
                        "--no-png", "-o", csv, NULL};
        char *out = NULL, *err = NULL;
        int rc = run_xbar(argv, &out, &err);
        int warned = strstr(err, "warning:") != NULL;
        if (rc != 0 || warned != cases[c].warn || xb_test_count_lines(err) != (size_t)cases[c].warn) {
            print_error("iv %s --v-max %s: exit %d, stderr: %s\n", cases[c].dev, cases[c].vmax, rc, err);
            fail();
        }
        if (warned) fprintf(stderr, "%s", err);
        free(out);
        free(err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ecram_train_grounded_drain),
        cmocka_unit_test(test_ecram_train_c2c),
        cmocka_unit_test(test_c2c_draws),
        cmocka_unit_test(test_rram_gap_noise),
        cmocka_unit_test(test_pcm_c2c_factor),
        cmocka_unit_test(test_compliance),
        cmocka_unit_test(test_threshold_selector),
        cmocka_unit_test(test_v2_disturb_equals_single_cell),
        cmocka_unit_test(test_v3_disturb_closed_form),
        cmocka_unit_test(test_1s1r_threshold_selector_round),
        cmocka_unit_test(test_write_verify_logic),
        cmocka_unit_test(test_write_seeds),
        cmocka_unit_test(test_write_open_loop),
        cmocka_unit_test(test_program_cli_verify),
        cmocka_unit_test(test_program_cli_rram),
        cmocka_unit_test(test_program_cli_errors),
        cmocka_unit_test(test_write_campaign),
        cmocka_unit_test(test_iv_validity_warning),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
