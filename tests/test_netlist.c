/* Netlist writer: circuits from xb_netlist_* run in the stock ngspice binary against
 * closed forms derived here (ideal product, 1xN ladder, 2x2 sneak paths), plus the
 * structure (shorts, sources, outputs) and the seeded variability. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support/xb_spice_ref.h"
#include "support/xb_test.h"
#include "xbar/netlist.h"

static char *g_dir;

static int setup(void **state)
{
    g_dir = xb_test_tmpdir("netlist");
    return g_dir ? 0 : -1;
}

static int teardown(void **state)
{
    free(g_dir);
    return 0;
}

static void assert_rel(double got, double want, double rel, const char *what)
{
    if (!(fabs(got - want) <= rel * fabs(want) + 1e-21)) {
        print_error("%s: got %.15g want %.15g (rel %.3g)\n", what, got, want, rel);
        fail();
    }
}

/* Solve a netlist in stock ngspice with its sources at `values`; returns the outputs
 * (malloc'ed, n_outputs values), currents into the sense nodes. */
static double *solve(const xb_netlist *n, const double *values)
{
    size_t ns = xb_netlist_n_sources(n), no = xb_netlist_n_outputs(n);
    const xb_netlist_source *s = xb_netlist_sources(n);
    const char *body = xb_netlist_body(n);
    size_t cap = strlen(body) + 128 * (ns + 2);
    char *deck = malloc(cap);
    size_t len = (size_t)snprintf(deck, cap, "%s", body);
    for (size_t k = 0; k < ns; k++)
        len += (size_t)snprintf(deck + len, cap - len, "V%s %s %s DC %.17g\n", s[k].name, s[k].node_pos,
                                s[k].node_neg, values[k]);
    char vecs[8192] = "";
    size_t vl = 0;
    for (size_t k = 0; k < no; k++) vl += (size_t)snprintf(vecs + vl, sizeof vecs - vl, "%s ", xb_netlist_outputs(n)[k]);
    char analysis[256];
    snprintf(analysis, sizeof analysis, ".dc V%s %.17g %.17g 1", s[0].name, values[0], values[0]);
    double *d;
    size_t nr, nc;
    int rc = xb_spice_ref_run(g_dir, "nl", deck, analysis, vecs, &d, &nr, &nc);
    free(deck);
    assert_int_equal(rc, 0);
    assert_int_equal(nc, no + 1);
    double *out = malloc(no * sizeof *out);
    for (size_t k = 0; k < no; k++) out[k] = d[1 + k];
    free(d);
    return out;
}

static size_t count(const char *hay, const char *needle)
{
    size_t c = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++) c++;
    return c;
}

/* linear cells, zero wire/driver/sense resistance: exactly V.G (1e-9) */
static void test_linear_ideal(void **state)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_LINEAR);
    p.rows = 3;
    p.cols = 4;
    p.r_wire_row_ohm = p.r_wire_col_ohm = p.r_driver_ohm = p.r_sense_ohm = 0;
    xb_matrix *g = xb_matrix_new(3, 4);
    for (size_t k = 0; k < 12; k++) g->data[k] = 1e-6 * (1 + (double)((k * 7) % 11));
    xb_netlist *n;
    xb_error err;
    assert_int_equal(xb_netlist_mvm_new(&p, g, &n, &err), XB_OK);
    /* zero resistances are shorts: no wire, driver or sense resistor is emitted */
    assert_int_equal(count(xb_netlist_body(n), "\nRr"), 0);
    assert_int_equal(count(xb_netlist_body(n), "\nRc"), 0);
    assert_int_equal(count(xb_netlist_body(n), "\nRd"), 0);
    assert_int_equal(count(xb_netlist_body(n), "\nRs"), 0);
    assert_int_equal(count(xb_netlist_body(n), "\nRg"), 12);
    assert_int_equal(xb_netlist_n_sources(n), 3);
    assert_int_equal(xb_netlist_n_outputs(n), 4);
    assert_string_equal(xb_netlist_outputs(n)[2], "i(vs2)");
    double v[3] = {0.2, -0.1, 0.15};
    double *i = solve(n, v);
    for (size_t j = 0; j < 4; j++) {
        double want = 0;
        for (size_t r = 0; r < 3; r++) want += v[r] * g->data[r * 4 + j];
        assert_rel(i[j], want, 1e-9, "ideal column current");
    }
    /* the C ideal product agrees */
    xb_matrix *vm = xb_matrix_new(1, 3), *im = xb_matrix_new(1, 4);
    memcpy(vm->data, v, sizeof v);
    assert_int_equal(xb_engine_mvm_ideal(g, vm, im, &err), XB_OK);
    for (size_t j = 0; j < 4; j++) assert_rel(im->data[j], i[j], 1e-9, "xb_engine_mvm_ideal");
    free(i);
    xb_matrix_free(vm);
    xb_matrix_free(im);
    xb_netlist_free(n);
    xb_matrix_free(g);
}

/* 1 x N line with driver, row wire, column wire and sense resistances: the ladder solved
 * by its continued fraction from the far end. */
static void test_ladder_1xN(void **state)
{
    enum { N = 6 };
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_LINEAR);
    p.rows = 1;
    p.cols = N;
    p.r_driver_ohm = 150;
    p.r_wire_row_ohm = 250; /* large, so the IR drop is far above the tolerance */
    p.r_wire_col_ohm = 40;
    p.r_sense_ohm = 10;
    xb_matrix *g = xb_matrix_new(1, N);
    for (size_t j = 0; j < N; j++) g->data[j] = 1e-4 * (1.0 + 0.3 * (double)j);
    double V = 0.2;
    /* branch resistance of cell j down to ground: 1/g + one column segment + sense */
    double rb[N], z[N + 1], vnode[N];
    for (size_t j = 0; j < N; j++) rb[j] = 1 / g->data[j] + p.r_wire_col_ohm + p.r_sense_ohm;
    /* z[j] = resistance seen looking into node j (cell j's row node) towards the far end */
    z[N - 1] = rb[N - 1];
    for (size_t j = N - 1; j-- > 0;) z[j] = 1 / (1 / rb[j] + 1 / (p.r_wire_row_ohm + z[j + 1]));
    /* forward: divider from the source through driver + first segment */
    double iin = V / (p.r_driver_ohm + p.r_wire_row_ohm + z[0]);
    vnode[0] = iin * z[0];
    for (size_t j = 1; j < N; j++) vnode[j] = vnode[j - 1] * z[j] / (p.r_wire_row_ohm + z[j]);
    xb_netlist *n;
    xb_error err;
    assert_int_equal(xb_netlist_mvm_new(&p, g, &n, &err), XB_OK);
    double *i = solve(n, &V);
    for (size_t j = 0; j < N; j++) assert_rel(i[j], vnode[j] / rb[j], 1e-9, "ladder column current");
    /* IR drop is real: the far cell sees clearly less than the near one */
    assert_true(i[N - 1] / g->data[N - 1] < 0.95 * i[0] / g->data[0]);
    free(i);
    xb_netlist_free(n);
    xb_matrix_free(g);
}

/* 2x2 passive array, read of cell (0,0): floating lines give the sneak path
 * g01 -> g11 -> g10 in series; V/2 and V/3 give the half/third-selected cell currents. */
static void test_sneak_2x2(void **state)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_LINEAR);
    p.rows = p.cols = 2;
    p.r_wire_row_ohm = p.r_wire_col_ohm = p.r_sense_ohm = 0;
    p.r_driver_ohm = 0;
    double g00 = 2e-6, g01 = 30e-6, g10 = 25e-6, g11 = 40e-6, V = p.v_read_volt;
    xb_matrix *g = xb_matrix_new(2, 2);
    g->data[0] = g00; g->data[1] = g01; g->data[2] = g10; g->data[3] = g11;
    xb_netlist *n;
    xb_error err;
    double gs = 1 / (1 / g01 + 1 / g11 + 1 / g10);

    assert_int_equal(xb_netlist_read_new(&p, g, XB_READ_FLOAT, 0, 0, &n, &err), XB_OK);
    assert_int_equal(xb_netlist_n_sources(n), 1);
    assert_int_equal(xb_netlist_n_outputs(n), 1);
    double *i = solve(n, &V);
    assert_rel(i[0], V * (g00 + gs), 1e-9, "float: cell + sneak");
    free(i);
    xb_netlist_free(n);

    /* with a driver resistance the divider is closed-form too */
    p.r_driver_ohm = 1000;
    assert_int_equal(xb_netlist_read_new(&p, g, XB_READ_FLOAT, 0, 0, &n, &err), XB_OK);
    i = solve(n, &V);
    assert_rel(i[0], V / (p.r_driver_ohm + 1 / (g00 + gs)), 1e-9, "float with driver");
    free(i);
    xb_netlist_free(n);
    p.r_driver_ohm = 0;

    assert_int_equal(xb_netlist_read_new(&p, g, XB_READ_V2, 0, 0, &n, &err), XB_OK);
    i = solve(n, &V);
    assert_rel(i[0], V * g00 + V / 2 * g10, 1e-9, "V/2");
    free(i);
    xb_netlist_free(n);

    assert_int_equal(xb_netlist_read_new(&p, g, XB_READ_V3, 0, 0, &n, &err), XB_OK);
    i = solve(n, &V);
    assert_rel(i[0], V * g00 + V / 3 * g10, 1e-9, "V/3");
    free(i);
    xb_netlist_free(n);

    /* other selected cell: (1,1) floating, sneak g10 -> g00 -> g01 */
    assert_int_equal(xb_netlist_read_new(&p, g, XB_READ_FLOAT, 1, 1, &n, &err), XB_OK);
    i = solve(n, &V);
    assert_rel(i[0], V * (g11 + 1 / (1 / g10 + 1 / g00 + 1 / g01)), 1e-9, "float (1,1)");
    free(i);
    xb_netlist_free(n);

    assert_int_equal(xb_netlist_read_new(&p, g, XB_READ_FLOAT, 2, 0, &n, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "--cell-at"));
    xb_matrix_free(g);
}

/* RRAM 1R with zero resistances: each column current is the sum of the device equation. */
static void test_rram_cells(void **state)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_RRAM);
    p.rows = 2;
    p.cols = 2;
    p.r_wire_row_ohm = p.r_wire_col_ohm = p.r_driver_ohm = p.r_sense_ohm = 0;
    xb_matrix *g = xb_matrix_new(2, 2);
    g->data[0] = 5e-6; g->data[1] = 30e-6; g->data[2] = 12e-6; g->data[3] = 1e-6;
    xb_netlist *n;
    xb_error err;
    assert_int_equal(xb_netlist_mvm_new(&p, g, &n, &err), XB_OK);
    /* self-contained: the read subcircuit is copied in, no .include */
    assert_non_null(strstr(xb_netlist_body(n), "\n.subckt rram_read "));
    assert_null(strstr(xb_netlist_body(n), ".include"));
    double v[2] = {0.3, -0.25};
    double *i = solve(n, v);
    for (size_t j = 0; j < 2; j++) {
        /* closed form: I = G vr sinh(V/V0)/sinh(vr/V0) */
        double want = 0;
        for (size_t r = 0; r < 2; r++)
            want += g->data[r * 2 + j] * p.v_read_volt * sinh(v[r] / p.rram_v0_volt) / sinh(p.v_read_volt / p.rram_v0_volt);
        assert_rel(i[j], want, 1e-9, "rram column");
    }
    free(i);
    xb_netlist_free(n);
    xb_matrix_free(g);
}

/* 1T1R and 1S1R cells: 1x1 array solved in ngspice equals the series solution of the
 * C equations (bisection on the internal node, an independent solve). */
static double bisect_series(const xb_array_params *p, double g, double V, int t1r)
{
    double lo = 0, hi = V;
    for (int it = 0; it < 200; it++) {
        double m = 0.5 * (lo + hi), idev, iacc;
        xb_device_read_iv(p, g, V - m, &idev, NULL);
        if (t1r) xb_nmos_iv(p, p->v_gate_volt, m, &iacc, NULL, NULL);
        else xb_selector_iv(p, m, &iacc, NULL);
        if (idev > iacc) lo = m; else hi = m;
    }
    double i;
    xb_device_read_iv(p, g, V - 0.5 * (lo + hi), &i, NULL);
    return i;
}

static void test_access_cells(void **state)
{
    for (int t1r = 0; t1r < 2; t1r++) {
        xb_array_params p;
        xb_array_params_default(&p, XB_DEVICE_RRAM);
        p.rows = p.cols = 1;
        p.cell = t1r ? XB_CELL_1T1R : XB_CELL_1S1R;
        p.r_wire_row_ohm = p.r_wire_col_ohm = p.r_driver_ohm = p.r_sense_ohm = 0;
        xb_matrix *g = xb_matrix_new(1, 1);
        g->data[0] = 40e-6;
        xb_netlist *n;
        xb_error err;
        assert_int_equal(xb_netlist_mvm_new(&p, g, &n, &err), XB_OK);
        double V = 0.5;
        double *i = solve(n, &V);
        /* nonlinear: ngspice stops Newton at its reltol/abstol, and puts gmin across MOS
         * junctions: 1e-6 relative */
        assert_rel(i[0], bisect_series(&p, 40e-6, V, t1r), 1e-6, t1r ? "1t1r" : "1s1r");
        free(i);
        xb_netlist_free(n);
        xb_matrix_free(g);
    }
}

static void test_variability(void **state)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_PCM);
    enum { R = 40, C = 50 };
    xb_matrix *t = xb_matrix_new(R, C), *a = xb_matrix_new(R, C), *b = xb_matrix_new(R, C);
    for (size_t k = 0; k < R * C; k++) t->data[k] = 12.5e-6;
    xb_error err;
    /* off: identity */
    assert_int_equal(xb_netlist_program(&p, t, a, &err), XB_OK);
    for (size_t k = 0; k < R * C; k++) assert_true(a->data[k] == t->data[k]);
    /* programming error: reproducible, mean ~ target, sigma = IBM polynomial at 0.5 */
    p.var_program = 1;
    p.seed = 7;
    assert_int_equal(xb_netlist_program(&p, t, a, &err), XB_OK);
    assert_int_equal(xb_netlist_program(&p, t, b, &err), XB_OK);
    double s1 = 0, s2 = 0;
    for (size_t k = 0; k < R * C; k++) {
        assert_true(a->data[k] == b->data[k]);
        s1 += a->data[k];
        s2 += a->data[k] * a->data[k];
    }
    double mean = s1 / (R * C), sd = sqrt(s2 / (R * C) - mean * mean);
    double want_sd = (-1.1731 * 0.25 + 1.9650 * 0.5 + 0.2635) * 1e-6; /* uS polynomial at g_T = 0.5 */
    assert_true(fabs(mean - 12.5e-6) < 4 * want_sd / sqrt(R * C));
    assert_true(fabs(sd / want_sd - 1) < 0.06);
    p.seed = 8;
    assert_int_equal(xb_netlist_program(&p, t, b, &err), XB_OK);
    assert_true(a->data[0] != b->data[0]);
    /* stuck-at rates */
    p.var_program = 0;
    p.stuck_on_rate = 0.1;
    p.stuck_off_rate = 0.2;
    assert_int_equal(xb_netlist_program(&p, t, a, &err), XB_OK);
    size_t on = 0, off = 0;
    for (size_t k = 0; k < R * C; k++) {
        if (a->data[k] == p.g_max_siemens) on++;
        else if (a->data[k] == p.g_min_siemens) off++;
        else assert_true(a->data[k] == t->data[k]);
    }
    /* binomial: 2000 cells, 4 sigma */
    assert_true(fabs((double)on - 200) < 4 * sqrt(2000 * 0.1 * 0.9));
    assert_true(fabs((double)off - 400) < 4 * sqrt(2000 * 0.2 * 0.8));
    /* RRAM sigma: Wan 2022 polynomial at g/g_max = 1 equals the coefficient sum */
    xb_array_params_default(&p, XB_DEVICE_RRAM);
    assert_rel(xb_netlist_sigma_program(&p, 40e-6), (0.348 + 16.030 - 43.853 + 45.393 - 16.815) * 1e-6, 1e-12,
               "rram sigma");
    xb_matrix_free(t);
    xb_matrix_free(a);
    xb_matrix_free(b);
}

static void test_bad_input(void **state)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_LINEAR);
    p.rows = 2;
    p.cols = 2;
    xb_matrix *g = xb_matrix_new(2, 3);
    xb_netlist *n;
    xb_error err;
    assert_int_equal(xb_netlist_mvm_new(&p, g, &n, &err), XB_EINPUT);
    assert_null(n);
    xb_matrix_free(g);
    g = xb_matrix_new(2, 2);
    g->data[3] = -1e-6;
    assert_int_equal(xb_netlist_mvm_new(&p, g, &n, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "(2,2)"));
    g->data[3] = 1e-6;
    p.rows = 0;
    assert_int_equal(xb_netlist_mvm_new(&p, g, &n, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "--rows"));
    p.rows = 2;
    p.r_wire_col_ohm = -1;
    assert_int_equal(xb_netlist_mvm_new(&p, g, &n, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "--r-wire-col"));
    p.r_wire_col_ohm = 1;
    p.diff_pairs = 1;
    p.cols = 2;
    assert_int_equal(xb_netlist_mvm_new(&p, g, &n, &err), XB_OK);
    xb_netlist_free(n);
    xb_matrix_free(g);
}

static void test_diff_combine(void **state)
{
    xb_matrix *a = xb_matrix_new(2, 4), *o = xb_matrix_new(2, 2);
    for (size_t k = 0; k < 8; k++) a->data[k] = (double)(k * k);
    xb_error err;
    assert_int_equal(xb_netlist_diff_combine(a, o, &err), XB_OK);
    assert_true(o->data[0] == 0.0 - 1.0 && o->data[1] == 4.0 - 9.0 && o->data[3] == 36.0 - 49.0);
    xb_matrix_free(a);
    xb_matrix_free(o);
}


/* Dynamic ECRAM array with its gate lines: pulses on gate line 0 program only row 0's cell;
 * row 1 (gate at the channel potential) holds its state; the sense current of the final read
 * equals the channel law at the simulated states. */
static void test_dynamic_ecram_gate_lines(void **state)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_ECRAM);
    p.rows = 2;
    p.cols = 1;
    p.r_wire_row_ohm = p.r_wire_col_ohm = p.r_driver_ohm = p.r_sense_ohm = 0;
    p.c_wire_farad = 0;
    xb_matrix *x0 = xb_matrix_new(2, 1);
    x0->data[0] = 0.4;
    x0->data[1] = 0.3;
    xb_netlist *n;
    xb_error err;
    assert_int_equal(xb_netlist_dynamic_new(&p, x0, &n, &err), XB_OK);
    /* sources: in0, gl0, in1, gl1 */
    assert_int_equal(xb_netlist_n_sources(n), 4);
    assert_int_equal(xb_netlist_n_outputs(n), 1 + 2);
    assert_string_equal(xb_netlist_outputs(n)[1], "v(xg0_0.xd.x)");
    const xb_netlist_source *s = xb_netlist_sources(n);
    char deck[16384];
    size_t len = (size_t)snprintf(deck, sizeof deck, "%s", xb_netlist_body(n));
    for (size_t k = 0; k < 4; k++) {
        const char *wave;
        if (strncmp(s[k].name, "in", 2) == 0) /* rows: 0 V while programming, 0.1 V read from 200 ns */
            wave = "PWL(0 0 200n 0 200.1n 0.1 300n 0.1)";
        else if (strcmp(s[k].name, "gl0") == 0) /* three +1 V 10 ns pulses, then at V_ch of the read */
            wave = "PWL(0 0 10n 0 10.1n 1 20.1n 1 20.2n 0 50n 0 50.1n 1 60.1n 1 60.2n 0 90n 0 90.1n 1 "
                   "100.1n 1 100.2n 0 200n 0 200.1n 0.05 300n 0.05)";
        else
            wave = "PWL(0 0 200n 0 200.1n 0.05 300n 0.05)";
        len += (size_t)snprintf(deck + len, sizeof deck - len, "V%s %s %s %s\n", s[k].name, s[k].node_pos,
                                s[k].node_neg, wave);
    }
    double *d;
    size_t nr, nc;
    assert_int_equal(xb_spice_ref_run(g_dir, "dyn_ecram", deck, ".tran 0.5n 300n", "i(vs0) v(xg0_0.xd.x) v(xg1_0.xd.x)",
                                      &d, &nr, &nc), 0);
    assert_int_equal(nc, 4);
    double *last = d + (nr - 1) * nc;
    assert_true(last[2] > 0.4 + 2.5e-3);              /* three potentiation steps of ~1e-3 */
    assert_rel(last[3], 0.3, 1e-9, "row 1 holds");    /* its gate line never moved off V_ch */
    double want = 0.1 * (1e-6 + 9e-6 * last[2]) + 0.1 * (1e-6 + 9e-6 * last[3]);
    assert_rel(last[1], want, 1e-6, "read current from the states");
    free(d);
    xb_netlist_free(n);
    xb_matrix_free(x0);
}

/* Dynamic RRAM 1x2 array with wires and capacitance: a SET pulse on the row shrinks both
 * gaps; the d2d spread gives per-cell parameters that are reproducible for a seed. */
static void test_dynamic_rram_d2d(void **state)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_RRAM);
    p.rows = 1;
    p.cols = 2;
    p.var_d2d = 1;
    p.seed = 5;
    p.r_driver_ohm = 0; /* with a driver resistance the first cell to SET starves the other */
    xb_matrix *x0 = xb_matrix_new(1, 2);
    x0->data[0] = x0->data[1] = 1.7;
    xb_netlist *n, *n2;
    xb_error err;
    assert_int_equal(xb_netlist_dynamic_new(&p, x0, &n, &err), XB_OK);
    assert_int_equal(xb_netlist_dynamic_new(&p, x0, &n2, &err), XB_OK);
    assert_string_equal(xb_netlist_body(n), xb_netlist_body(n2));
    xb_netlist_free(n2);
    assert_non_null(strstr(xb_netlist_body(n), "\nCr0_1 "));
    assert_non_null(strstr(xb_netlist_body(n), "\nCc0_1 "));
    /* the two cells got different vel0 samples */
    const char *b = xb_netlist_body(n);
    const char *c0 = strstr(b, "Xg0_0 "), *c1 = strstr(b, "Xg0_1 ");
    assert_non_null(c0);
    assert_non_null(c1);
    assert_true(strtod(strstr(c0, "vel0=") + 5, NULL) != strtod(strstr(c1, "vel0=") + 5, NULL));
    char deck[16384];
    const xb_netlist_source *s = xb_netlist_sources(n);
    snprintf(deck, sizeof deck, "%sV%s %s %s PWL(0 0.1 1u 0.1 1.01u 1.6 11u 1.6 11.01u 0.1 12u 0.1)\n",
             xb_netlist_body(n), s[0].name, s[0].node_pos, s[0].node_neg);
    double *d;
    size_t nr, nc;
    assert_int_equal(xb_spice_ref_run(g_dir, "dyn_rram", deck, ".tran 10n 12u", "v(xg0_0.xd.gap) v(xg0_1.xd.gap)", &d,
                                      &nr, &nc), 0);
    assert_true(d[1] > 1.69 && d[2] > 1.69);
    assert_true(d[(nr - 1) * nc + 1] < 0.25 && d[(nr - 1) * nc + 2] < 0.25);
    /* the cells' own parameter samples: they cross 1 nm at different times */
    double t_cross[2] = {0, 0};
    for (size_t k = 0; k < nr; k++)
        for (int c = 0; c < 2; c++)
            if (t_cross[c] == 0 && d[k * nc + 1 + c] < 1.0) t_cross[c] = d[k * nc];
    assert_true(t_cross[0] > 0 && t_cross[1] > 0 && t_cross[0] != t_cross[1]);
    free(d);
    xb_netlist_free(n);
    p.device = XB_DEVICE_LINEAR;
    assert_int_equal(xb_netlist_dynamic_new(&p, x0, &n, &err), XB_EINPUT);
    xb_matrix_free(x0);
}


/* --node: segment resistances from R = rho/(w^2 AR) x length with the NeuroSim rho, AR and
 * wire width w per node; crossbar segment 2w, 1T1R row 4w, column 12w (rounded table). */
static void test_tech_node(void **state)
{
    struct { long node; double rho, ar, w; } t[] = {
        {130, 2.20e-8, 1.6, 175e-9}, {45, 3.31e-8, 1.7, 80e-9}, {22, 4.03e-8, 1.9, 40e-9}, {14, 5.08e-8, 2.0, 25e-9}};
    xb_error err;
    for (int k = 0; k < 4; k++) {
        double per_m = t[k].rho / (t[k].w * t[k].w * t[k].ar);
        xb_array_params p;
        xb_array_params_default(&p, XB_DEVICE_RRAM);
        assert_int_equal(xb_array_params_tech_node(&p, t[k].node, &err), XB_OK);
        assert_rel(p.r_wire_row_ohm, per_m * 2 * t[k].w, 0.05, "crossbar row");
        assert_rel(p.r_wire_col_ohm, per_m * 2 * t[k].w, 0.05, "crossbar col");
        p.cell = XB_CELL_1T1R;
        assert_int_equal(xb_array_params_tech_node(&p, t[k].node, &err), XB_OK);
        assert_rel(p.r_wire_row_ohm, per_m * 4 * t[k].w, 0.05, "1t1r row");
        assert_rel(p.r_wire_col_ohm, per_m * 12 * t[k].w, 0.05, "1t1r col");
    }
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_RRAM);
    assert_int_equal(xb_array_params_tech_node(&p, 28, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "--node"));
}

/* The reference decks in netlists/ run in stock ngspice from any working directory (relative
 * .include) and print the documented values. */
static double log_value(const char *log, const char *key)
{
    const char *p = strstr(log, key);
    if (!p) {
        print_error("'%s' missing in:\n%s\n", key, log);
        fail();
    }
    p = strchr(p, '=');
    return strtod(p + 1, NULL);
}

static char *run_reference(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/netlists/%s", XB_SOURCE_DIR, name);
    char *argv[] = {XB_NGSPICE_EXE, "-b", path, NULL};
    char *out = NULL, *err = NULL;
    int rc = xb_test_run(argv, &out, &err);
    if (rc != 0 || strstr(out, "rror") || strstr(out, "too small")) {
        print_error("%s: exit %d\n%s\n%s\n", name, rc, out, err ? err : "");
        fail();
    }
    free(err);
    return out;
}

static void test_reference_netlists(void **state)
{
    char *o = run_reference("rram_set_reset.cir");
    assert_rel(log_value(o, "r_on ="), 0.1 / (61.4e-6 * exp(-0.2 / 0.25) * sinh(0.4)), 0.1, "r_on");
    assert_rel(log_value(o, "r_off ="), 0.1 / (61.4e-6 * exp(-1.7 / 0.25) * sinh(0.4)), 0.1, "r_off");
    free(o);
    o = run_reference("pcm_set_reset.cir");
    assert_rel(log_value(o, "g_set ="), 25e-6, 0.1, "g_set");
    assert_true(log_value(o, "g_set =") / log_value(o, "g_reset =") >= 10);
    free(o);
    o = run_reference("ecram_pulses.cir");
    double xu = log_value(o, "x_up "), xe = log_value(o, "x_end ");
    /* 50 steps of ~0.95e-3 up; near x = 0.5 the depression steps are smaller (qdn > qup and the
     * gamma_down soft bound), so 50 down pulses do not return to 0.5 */
    assert_true(xu > 0.54 && xu < 0.56);
    assert_true(xe < xu && xe > 0.5);
    free(o);
    o = run_reference("sneak_2x2_float.cir");
    assert_rel(log_value(o, "i(vs0) ="), 0.2 * (2e-6 + 1 / (1 / 30e-6 + 1 / 40e-6 + 1 / 25e-6)), 1e-6, "sneak");
    free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_ideal), cmocka_unit_test(test_ladder_1xN),
        cmocka_unit_test(test_sneak_2x2),    cmocka_unit_test(test_rram_cells),
        cmocka_unit_test(test_access_cells), cmocka_unit_test(test_variability),
        cmocka_unit_test(test_bad_input),    cmocka_unit_test(test_diff_combine),
        cmocka_unit_test(test_dynamic_ecram_gate_lines), cmocka_unit_test(test_dynamic_rram_d2d),
        cmocka_unit_test(test_tech_node), cmocka_unit_test(test_reference_netlists),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
