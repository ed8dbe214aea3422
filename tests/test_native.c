/* Native sparse engine (src/engine/native*.c) against independent references:
 *   - closed forms derived here: ideal product with every resistance zero (exact), the
 *     1xN ladder by its continued fraction, a symmetric 2x2 solved by hand, and a
 *     general 2x2 whose four nodal equations are written out here and solved densely;
 *   - stock `ngspice -b` on the netlist of xb_netlist_mvm_new (the deck `xbar netlist`
 *     writes), tolerances tightened, for every device read mode and cell type on
 *     4x4 .. 16x16 arrays, with and without shorts. */
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
#include "xbar/engine.h"
#include "xbar/netlist.h"

static char *g_dir;
static double g_worst; /* largest native-vs-ngspice relative difference seen */

static int setup(void **state)
{
    g_dir = xb_test_tmpdir("native");
    return g_dir ? 0 : -1;
}

static int teardown(void **state)
{
    free(g_dir);
    return 0;
}

/* Deterministic pseudo-random numbers in [0,1) (splitmix64). */
static xb_matrix *native_mvm(const xb_array_params *p, const xb_matrix *g, const xb_matrix *v)
{
    xb_engine_native *e = NULL;
    xb_error err = {0};
    int rc = xb_engine_native_new(p, g, &e, &err);
    if (rc) print_error("native_new: %s\n", err.msg);
    assert_int_equal(rc, XB_OK);
    xb_matrix *i = xb_matrix_new(v->rows, p->cols);
    rc = xb_engine_native_mvm(e, v, i, &err);
    if (rc) print_error("native_mvm: %s\n", err.msg);
    assert_int_equal(rc, XB_OK);
    xb_engine_native_free(e);
    return i;
}

/* Column currents from stock ngspice for one input vector, on the netlist writer's deck
 * with tolerances far below the 1e-6 the comparison asks for. */
static double *spice_mvm(const xb_array_params *p, const xb_matrix *g, const double *v)
{
    xb_netlist *n = NULL;
    xb_error err = {0};
    assert_int_equal(xb_netlist_mvm_new(p, g, &n, &err), XB_OK);
    size_t ns = xb_netlist_n_sources(n), no = xb_netlist_n_outputs(n);
    const xb_netlist_source *s = xb_netlist_sources(n);
    const char *body = xb_netlist_body(n);
    size_t cap = strlen(body) + 128 * (ns + 4);
    char *deck = malloc(cap);
    size_t len = (size_t)snprintf(deck, cap, "%s", body);
    for (size_t k = 0; k < ns; k++)
        len += (size_t)snprintf(deck + len, cap - len, "V%s %s %s DC %.17g\n", s[k].name, s[k].node_pos,
                                s[k].node_neg, v[k]);
    /* gmin is the conductance ngspice puts across MOS junctions: make it negligible */
    snprintf(deck + len, cap - len, ".options reltol=1e-10 abstol=1e-18 vntol=1e-13 gmin=1e-20 itl1=500\n");
    size_t vcap = 16 * no + 1;
    char *vecs = malloc(vcap);
    size_t vl = 0;
    vecs[0] = '\0';
    for (size_t k = 0; k < no; k++) vl += (size_t)snprintf(vecs + vl, vcap - vl, "%s ", xb_netlist_outputs(n)[k]);
    char analysis[256];
    snprintf(analysis, sizeof analysis, ".dc V%s %.17g %.17g 1", s[0].name, v[0], v[0]);
    double *d = NULL;
    size_t nr, nc;
    int rc = xb_spice_ref_run(g_dir, "native", deck, analysis, vecs, &d, &nr, &nc);
    free(deck);
    free(vecs);
    assert_int_equal(rc, 0);
    assert_int_equal(nc, no + 1);
    double *out = malloc(no * sizeof *out);
    for (size_t k = 0; k < no; k++) out[k] = d[1 + k];
    free(d);
    xb_netlist_free(n);
    return out;
}

/* ------------------------------------------------------------------ closed forms */

/* Every resistance zero: each cell sees exactly V_i, so I = V.G; the engine has no unknown
 * left and must return the product itself, bit for bit. */
static void test_ideal_exact(void **state)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_LINEAR);
    p.rows = 5;
    p.cols = 3;
    p.r_wire_row_ohm = p.r_wire_col_ohm = p.r_driver_ohm = p.r_sense_ohm = 0;
    xb_matrix *g = xb_test_random_g(&p, 11);
    xb_matrix *v = xb_matrix_new(4, 5);
    uint64_t s = 5;
    for (size_t k = 0; k < 20; k++) v->data[k] = 0.4 * xb_test_urand(&s) - 0.2;
    xb_engine_native *e = NULL;
    xb_error err = {0};
    assert_int_equal(xb_engine_native_new(&p, g, &e, &err), XB_OK);
    xb_matrix *i = xb_matrix_new(4, 3);
    assert_int_equal(xb_engine_native_mvm(e, v, i, &err), XB_OK);
    for (size_t k = 0; k < 4; k++)
        for (size_t j = 0; j < 3; j++) {
            double want = 0;
            for (size_t r = 0; r < 5; r++) want += v->data[k * 5 + r] * g->data[r * 3 + j];
            assert_true(i->data[k * 3 + j] == want);
        }
    xb_engine_native_stats st;
    assert_int_equal(xb_engine_native_get_stats(e, &st), XB_OK);
    assert_int_equal(st.n_unknowns, 0);
    assert_string_equal(st.solver, "none");
    /* the IR-drop map is the input itself */
    double vc[15];
    assert_int_equal(xb_engine_native_cell_voltages(e, v->data, vc, &err), XB_OK);
    for (size_t r = 0; r < 5; r++)
        for (size_t j = 0; j < 3; j++) assert_true(vc[r * 3 + j] == v->data[r]);
    xb_engine_native_free(e);
    xb_matrix_free(g);
    xb_matrix_free(v);
    xb_matrix_free(i);
}

/* 1 x N line: driver, row segments, column segment + sense below every cell.  The input
 * resistance seen from each row node towards the far end is a continued fraction; the
 * node voltages follow by voltage division from the source. */
static void test_ladder_1xN(void **state)
{
    enum { N = 7 };
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_LINEAR);
    p.rows = 1;
    p.cols = N;
    p.r_driver_ohm = 120;
    p.r_wire_row_ohm = 300;
    p.r_wire_col_ohm = 35;
    p.r_sense_ohm = 15;
    xb_matrix *g = xb_matrix_new(1, N);
    for (size_t j = 0; j < N; j++) g->data[j] = 2e-4 * (1.0 + 0.4 * (double)j);
    const double V = 0.25;
    double rb[N], z[N], u[N], want[N];
    for (size_t j = 0; j < N; j++) rb[j] = 1 / g->data[j] + p.r_wire_col_ohm + p.r_sense_ohm;
    z[N - 1] = rb[N - 1];
    for (size_t j = N - 1; j-- > 0;) z[j] = 1 / (1 / rb[j] + 1 / (p.r_wire_row_ohm + z[j + 1]));
    double up = V, rs = p.r_driver_ohm + p.r_wire_row_ohm; /* node before, series R to node j */
    for (size_t j = 0; j < N; j++) {
        u[j] = up * z[j] / (rs + z[j]);
        want[j] = u[j] / rb[j];
        up = u[j];
        rs = p.r_wire_row_ohm;
    }
    xb_matrix *v = xb_matrix_new(1, 1);
    v->data[0] = V;
    xb_matrix *i = native_mvm(&p, g, v);
    for (size_t j = 0; j < N; j++) xb_test_assert_close(i->data[j], want[j], 1e-12 * fabs(want[j]), "ladder current");
    /* cell voltages: row node minus column node (the cell's branch current through 1/g) */
    xb_engine_native *e = NULL;
    xb_error err = {0};
    assert_int_equal(xb_engine_native_new(&p, g, &e, &err), XB_OK);
    double vc[N];
    assert_int_equal(xb_engine_native_cell_voltages(e, &V, vc, &err), XB_OK);
    for (size_t j = 0; j < N; j++) xb_test_assert_close(vc[j], want[j] / g->data[j], 1e-12 * V, "ladder cell voltage");
    xb_engine_native_free(e);
    xb_matrix_free(g);
    xb_matrix_free(v);
    xb_matrix_free(i);
}

/* 2x2, no wire resistance, equal cells G, driver Rd, sense Rs.  By symmetry both column
 * nodes sit at w; row node i: u_i = (V_i/Rd + 2 G w) / a with a = 1/Rd + 2G; column KCL
 * G (u_1 + u_2) - 2 G w = w / Rs gives
 *     w (1/Rs + 2G - 4G^2/a) = G (V_1 + V_2) / (Rd a),   I_1 = I_2 = w / Rs. */
static void test_2x2_hand(void **state)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_LINEAR);
    p.rows = p.cols = 2;
    p.r_wire_row_ohm = p.r_wire_col_ohm = 0;
    p.r_driver_ohm = 2000;
    p.r_sense_ohm = 3000;
    const double G = 3e-4, V1 = 0.2, V2 = -0.05;
    xb_matrix *g = xb_matrix_new(2, 2);
    for (size_t k = 0; k < 4; k++) g->data[k] = G;
    double Rd = p.r_driver_ohm, Rs = p.r_sense_ohm, a = 1 / Rd + 2 * G;
    double w = G * (V1 + V2) / (Rd * a) / (1 / Rs + 2 * G - 4 * G * G / a);
    xb_matrix *v = xb_matrix_new(1, 2);
    v->data[0] = V1;
    v->data[1] = V2;
    xb_matrix *i = native_mvm(&p, g, v);
    xb_test_assert_close(i->data[0], w / Rs, 1e-13 * fabs(w / Rs), "2x2 column 0");
    xb_test_assert_close(i->data[1], w / Rs, 1e-13 * fabs(w / Rs), "2x2 column 1");
    xb_matrix_free(i);
    xb_matrix_free(g);
    xb_matrix_free(v);
}

/* Dense Gaussian elimination with partial pivoting (n <= 8): the second implementation. */
static void dense_solve(double *A, double *b, int n)
{
    for (int c = 0; c < n; c++) {
        int piv = c;
        for (int r = c + 1; r < n; r++)
            if (fabs(A[r * n + c]) > fabs(A[piv * n + c])) piv = r;
        for (int k = 0; k < n; k++) {
            double t = A[c * n + k];
            A[c * n + k] = A[piv * n + k];
            A[piv * n + k] = t;
        }
        double t = b[c];
        b[c] = b[piv];
        b[piv] = t;
        for (int r = c + 1; r < n; r++) {
            double f = A[r * n + c] / A[c * n + c];
            for (int k = c; k < n; k++) A[r * n + k] -= f * A[c * n + k];
            b[r] -= f * b[c];
        }
    }
    for (int r = n - 1; r >= 0; r--) {
        double s = b[r];
        for (int k = r + 1; k < n; k++) s -= A[r * n + k] * b[k];
        b[r] = s / A[r * n + r];
    }
}

/* General 2x2 with every resistance: the 8 node voltages r00 r01 r10 r11 c00 c01 c10 c11
 * (row i position j, column j position i), equations written out one by one. */
static void test_2x2_general(void **state)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_LINEAR);
    p.rows = p.cols = 2;
    p.r_driver_ohm = 500;
    p.r_wire_row_ohm = 70;
    p.r_wire_col_ohm = 90;
    p.r_sense_ohm = 250;
    const double g00 = 1e-3, g01 = 2.5e-4, g10 = 6e-4, g11 = 1.5e-3, V0 = 0.3, V1 = 0.1;
    double gi = 1 / (p.r_driver_ohm + p.r_wire_row_ohm), gr = 1 / p.r_wire_row_ohm;
    double gc = 1 / p.r_wire_col_ohm, go = 1 / (p.r_wire_col_ohm + p.r_sense_ohm);
    enum { R00, R01, R10, R11, C00, C01, C10, C11 };
    double A[64] = {0}, b[8] = {0};
#define ST(a, c, gg) do { A[(a) * 8 + (a)] += (gg); A[(c) * 8 + (c)] += (gg); \
                          A[(a) * 8 + (c)] -= (gg); A[(c) * 8 + (a)] -= (gg); } while (0)
    A[R00 * 8 + R00] += gi; b[R00] += gi * V0; /* driver + first segment to source 0 */
    A[R10 * 8 + R10] += gi; b[R10] += gi * V1;
    ST(R00, R01, gr);
    ST(R10, R11, gr);
    ST(C00, C10, gc); /* column 0: c(0,0) - c(1,0) */
    ST(C01, C11, gc);
    A[C10 * 8 + C10] += go; /* last segment + sense to the virtual ground */
    A[C11 * 8 + C11] += go;
    ST(R00, C00, g00);
    ST(R01, C01, g01);
    ST(R10, C10, g10);
    ST(R11, C11, g11);
#undef ST
    dense_solve(A, b, 8);
    double want0 = b[C10] * go, want1 = b[C11] * go;
    xb_matrix *g = xb_matrix_new(2, 2);
    g->data[0] = g00;
    g->data[1] = g01;
    g->data[2] = g10;
    g->data[3] = g11;
    xb_matrix *v = xb_matrix_new(1, 2);
    v->data[0] = V0;
    v->data[1] = V1;
    xb_matrix *i = native_mvm(&p, g, v);
    xb_test_assert_close(i->data[0], want0, 1e-12 * fabs(want0), "2x2 general column 0");
    xb_test_assert_close(i->data[1], want1, 1e-12 * fabs(want1), "2x2 general column 1");
    xb_matrix_free(i);
    xb_matrix_free(g);
    xb_matrix_free(v);
}

/* ------------------------------------------------------------------ vs ngspice */

/* Compare native and ngspice on K random vectors (mixed signs when `mixed`). */
static void compare_spice(const xb_array_params *p, size_t K, int mixed, uint64_t seed, double rel)
{
    xb_matrix *g = xb_test_random_g(p, seed);
    /* a few cells at the range ends, one open cell */
    g->data[0] = p->g_max_siemens;
    g->data[p->rows * p->cols - 1] = p->g_min_siemens;
    if (p->rows * p->cols > 2) g->data[1] = 0;
    xb_matrix *v = xb_matrix_new(K, p->rows);
    uint64_t s = seed * 31 + 7;
    for (size_t k = 0; k < K * p->rows; k++)
        v->data[k] = p->v_read_volt * (mixed ? 2 * xb_test_urand(&s) - 1 : xb_test_urand(&s));
    xb_matrix *i = native_mvm(p, g, v);
    for (size_t k = 0; k < K; k++) {
        double *ref = spice_mvm(p, g, xb_matrix_row(v, k));
        double scale = 0;
        for (size_t j = 0; j < p->cols; j++) scale = fmax(scale, fabs(ref[j]));
        for (size_t j = 0; j < p->cols; j++) {
            char what[160];
            snprintf(what, sizeof what, "%zux%zu %s %s wire %g/%g drv %g sense %g: vector %zu column %zu",
                     p->rows, p->cols, xb_device_name(p->device), xb_cell_name(p->cell), p->r_wire_row_ohm,
                     p->r_wire_col_ohm, p->r_driver_ohm, p->r_sense_ohm, k, j);
            /* relative to the column's own current, floored at 1e-3 of the largest column
             * (mixed-sign inputs can cancel a column to nearly zero) */
            double tol = rel * fmax(fabs(ref[j]), 1e-3 * scale);
            double r = fabs(xb_matrix_row(i, k)[j] - ref[j]) / fmax(fabs(ref[j]), 1e-3 * scale);
            if (r > g_worst) g_worst = r;
            xb_test_assert_close(xb_matrix_row(i, k)[j], ref[j], tol, what);
        }
        free(ref);
    }
    xb_matrix_free(g);
    xb_matrix_free(v);
    xb_matrix_free(i);
}

/* every device read mode x every cell type, 4x5 with wires on both lines */
static void test_spice_all_modes(void **state)
{
    const xb_device_kind devs[] = {XB_DEVICE_LINEAR, XB_DEVICE_RRAM, XB_DEVICE_PCM, XB_DEVICE_ECRAM};
    const xb_cell_kind cells[] = {XB_CELL_1R, XB_CELL_1T1R, XB_CELL_1S1R};
    for (size_t d = 0; d < 4; d++)
        for (size_t c = 0; c < 3; c++) {
            xb_array_params p;
            xb_array_params_default(&p, devs[d]);
            p.rows = 4;
            p.cols = 5;
            p.cell = cells[c];
            p.r_wire_row_ohm = 2.5;
            p.r_wire_col_ohm = 4.0;
            p.r_driver_ohm = 100;
            p.r_sense_ohm = 20;
            compare_spice(&p, 2, 1, 100 + 10 * d + c, 1e-6);
        }
}

/* shorts on one line or the other: merged nodes must give the same circuit */
static void test_spice_shorts(void **state)
{
    const xb_cell_kind cells[] = {XB_CELL_1R, XB_CELL_1T1R, XB_CELL_1S1R};
    for (size_t c = 0; c < 3; c++) {
        xb_array_params p;
        xb_array_params_default(&p, XB_DEVICE_RRAM);
        p.rows = 5;
        p.cols = 4;
        p.cell = cells[c];
        p.r_wire_row_ohm = 0; /* row nodes merged behind the driver */
        p.r_driver_ohm = 150;
        p.r_wire_col_ohm = 3;
        p.r_sense_ohm = 0;
        compare_spice(&p, 1, 0, 300 + c, 1e-6);
        p.r_wire_row_ohm = 5;
        p.r_driver_ohm = 0;
        p.r_wire_col_ohm = 0; /* column nodes merged above the sense resistor */
        p.r_sense_ohm = 80;
        compare_spice(&p, 1, 1, 310 + c, 1e-6);
        p.r_wire_col_ohm = 0; /* every node fixed: nonlinear cells evaluated directly */
        p.r_sense_ohm = 0;
        p.r_wire_row_ohm = 0;
        compare_spice(&p, 1, 1, 320 + c, 1e-6);
    }
}

/* 16x16, every cell type, RRAM, the literature's worst wire (10 ohm) */
static void test_spice_16x16(void **state)
{
    const xb_cell_kind cells[] = {XB_CELL_1R, XB_CELL_1T1R, XB_CELL_1S1R};
    for (size_t c = 0; c < 3; c++) {
        xb_array_params p;
        xb_array_params_default(&p, XB_DEVICE_RRAM);
        p.rows = 16;
        p.cols = 16;
        p.cell = cells[c];
        p.r_wire_row_ohm = p.r_wire_col_ohm = 10;
        compare_spice(&p, 1, 0, 400 + c, 1e-6);
    }
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_PCM);
    p.rows = 12;
    p.cols = 16;
    p.r_wire_row_ohm = p.r_wire_col_ohm = 5;
    compare_spice(&p, 2, 1, 410, 1e-6);
}

/* harsh operating points: strong sinh nonlinearity, steep selector, access transistor in
 * saturation with channel-length modulation, large wire drops */
static void test_spice_harsh(void **state)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_RRAM);
    p.rows = 6;
    p.cols = 5;
    p.v_read_volt = 1.0; /* V/V0 = 4 */
    p.r_wire_row_ohm = p.r_wire_col_ohm = 20;
    compare_spice(&p, 2, 1, 600, 1e-6);
    p.cell = XB_CELL_1S1R;
    p.sel_vs_volt = 0.05;
    p.v_read_volt = 0.5;
    compare_spice(&p, 2, 1, 601, 1e-6);
    p.cell = XB_CELL_1T1R;
    p.v_gate_volt = 0.7; /* V_GS - V_T = 0.3 V: saturates at moderate V_DS */
    p.nmos_lambda_per_v = 0.05;
    p.nmos_w_over_l = 0.5;
    compare_spice(&p, 2, 1, 602, 1e-6);
    xb_array_params_default(&p, XB_DEVICE_PCM);
    p.rows = 5;
    p.cols = 6;
    p.cell = XB_CELL_1S1R;
    p.r_wire_row_ohm = 50;
    p.r_wire_col_ohm = 30;
    p.r_sense_ohm = 200;
    p.v_read_volt = 0.4;
    compare_spice(&p, 2, 1, 603, 1e-6);
}

/* K vectors in blocks equal K single solves; stats say one factorization (linear) */
static void test_multi_vector(void **state)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_LINEAR);
    p.rows = 6;
    p.cols = 7;
    xb_matrix *g = xb_test_random_g(&p, 77);
    enum { K = 9 };
    xb_matrix *v = xb_matrix_new(K, 6);
    uint64_t s = 3;
    for (size_t k = 0; k < K * 6; k++) v->data[k] = 0.2 * xb_test_urand(&s);
    xb_engine_native *e = NULL;
    xb_error err = {0};
    assert_int_equal(xb_engine_native_new(&p, g, &e, &err), XB_OK);
    xb_matrix *i = xb_matrix_new(K, 7);
    assert_int_equal(xb_engine_native_mvm(e, v, i, &err), XB_OK);
    xb_engine_native_stats st;
    xb_engine_native_get_stats(e, &st);
    assert_int_equal(st.factorizations, 1);
    assert_int_equal(st.rhs_solved, K);
    assert_string_equal(st.solver, "cholmod");
    assert_int_equal(st.n_unknowns, 2 * 6 * 7);
    /* cell voltages times G summed down each column give the column currents */
    for (size_t k = 0; k < K; k++) {
        double vc[42];
        assert_int_equal(xb_engine_native_cell_voltages(e, xb_matrix_row(v, k), vc, &err), XB_OK);
        for (size_t j = 0; j < 7; j++) {
            double sum = 0;
            for (size_t r = 0; r < 6; r++) sum += g->data[r * 7 + j] * vc[r * 7 + j];
            xb_test_assert_close(sum, xb_matrix_row(i, k)[j], 1e-12 * fabs(sum), "sum G v_cell");
        }
    }
    xb_engine_native_get_stats(e, &st);
    assert_int_equal(st.factorizations, 1); /* still the one factorization */
    assert_true(st.linear);
    xb_engine_native_free(e);
    /* the ECRAM channel reads ohmic (gate floating): also one factorization */
    p.device = XB_DEVICE_ECRAM;
    assert_int_equal(xb_engine_native_new(&p, g, &e, &err), XB_OK);
    assert_int_equal(xb_engine_native_mvm(e, v, i, &err), XB_OK);
    xb_engine_native_get_stats(e, &st);
    assert_true(st.linear);
    assert_int_equal(st.factorizations, 1);
    xb_engine_native_free(e);
    /* RRAM is not */
    p.device = XB_DEVICE_RRAM;
    assert_int_equal(xb_engine_native_new(&p, g, &e, &err), XB_OK);
    assert_int_equal(xb_engine_native_mvm(e, v, i, &err), XB_OK);
    xb_engine_native_get_stats(e, &st);
    assert_false(st.linear);
    assert_true(st.last_kcl_rel <= 1e-9);
    xb_engine_native_free(e);
    /* the Newton path does not depend on timings: a second engine gives the same bits */
    xb_matrix *i2 = xb_matrix_new(K, 7);
    assert_int_equal(xb_engine_native_new(&p, g, &e, &err), XB_OK);
    assert_int_equal(xb_engine_native_mvm(e, v, i2, &err), XB_OK);
    assert_memory_equal(i->data, i2->data, K * 7 * sizeof(double));
    xb_engine_native_free(e);
    xb_matrix_free(i2);
    xb_matrix_free(g);
    xb_matrix_free(v);
    xb_matrix_free(i);
}

/* cell voltages of a nonlinear array against ngspice node voltages */
static void test_cell_voltages_spice(void **state)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_RRAM);
    p.rows = 3;
    p.cols = 3;
    p.r_wire_row_ohm = p.r_wire_col_ohm = 400; /* large drops */
    xb_matrix *g = xb_test_random_g(&p, 9);
    double vin[3] = {0.2, 0.15, -0.1};
    xb_netlist *n = NULL;
    xb_error err = {0};
    assert_int_equal(xb_netlist_mvm_new(&p, g, &n, &err), XB_OK);
    char deck[16384];
    size_t len = (size_t)snprintf(deck, sizeof deck, "%s", xb_netlist_body(n));
    for (size_t k = 0; k < 3; k++)
        len += (size_t)snprintf(deck + len, sizeof deck - len, "V%s %s %s DC %.17g\n", xb_netlist_sources(n)[k].name,
                                xb_netlist_sources(n)[k].node_pos, xb_netlist_sources(n)[k].node_neg, vin[k]);
    snprintf(deck + len, sizeof deck - len, ".options reltol=1e-10 abstol=1e-18 vntol=1e-13\n");
    /* netlist.c node names: r<i>_<j+1> is cell (i,j)'s row node, c<i>_<j> its column node */
    char vecs[1024] = "";
    size_t vl = 0;
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++)
            vl += (size_t)snprintf(vecs + vl, sizeof vecs - vl, "v(r%zu_%zu,c%zu_%zu) ", i, j + 1, i, j);
    double *d = NULL;
    size_t nr, nc;
    char analysis[128];
    snprintf(analysis, sizeof analysis, ".dc Vin0 %.17g %.17g 1", vin[0], vin[0]);
    assert_int_equal(xb_spice_ref_run(g_dir, "native_vc", deck, analysis, vecs, &d, &nr, &nc), 0);
    assert_int_equal(nc, 10);
    xb_engine_native *e = NULL;
    assert_int_equal(xb_engine_native_new(&p, g, &e, &err), XB_OK);
    double vc[9];
    assert_int_equal(xb_engine_native_cell_voltages(e, vin, vc, &err), XB_OK);
    for (size_t q = 0; q < 9; q++) xb_test_assert_close(vc[q], d[1 + q], 1e-9, "cell voltage vs ngspice");
    free(d);
    xb_engine_native_free(e);
    xb_netlist_free(n);
    xb_matrix_free(g);
}

/* the batched ngspice path of the engine stage (xb_engine_mvm_spice: one .dc analysis for
 * all K vectors, in a libngspice worker), every cell type, 8x8 */
static void test_engine_mvm_spice(void **state)
{
    const xb_cell_kind cells[] = {XB_CELL_1R, XB_CELL_1T1R, XB_CELL_1S1R};
    xb_engine_opts o;
    xb_engine_opts_default(&o);
    o.n_workers = 1;
    o.reltol = 1e-10;
    o.gmin_siemens = 1e-20; /* ngspice puts gmin across the MOS junctions */
    for (size_t c = 0; c < 3; c++) {
        xb_array_params p;
        xb_array_params_default(&p, c == 0 ? XB_DEVICE_PCM : XB_DEVICE_RRAM);
        p.rows = 8;
        p.cols = 6;
        p.cell = cells[c];
        p.r_wire_row_ohm = 2.5;
        p.r_wire_col_ohm = 1.5;
        xb_matrix *g = xb_test_random_g(&p, 500 + c);
        enum { K = 3 };
        xb_matrix *v = xb_matrix_new(K, p.rows);
        uint64_t s = 17 + c;
        for (size_t k = 0; k < K * p.rows; k++) v->data[k] = p.v_read_volt * (2 * xb_test_urand(&s) - 1);
        xb_matrix *ref = xb_matrix_new(K, p.cols);
        xb_error err = {0};
        int rc = xb_engine_mvm_spice(&o, &p, g, v, ref, &err);
        if (rc) print_error("mvm_spice: %s\n", err.msg);
        assert_int_equal(rc, XB_OK);
        xb_matrix *i = native_mvm(&p, g, v);
        for (size_t k = 0; k < K; k++) {
            double scale = 0;
            for (size_t j = 0; j < p.cols; j++) scale = fmax(scale, fabs(xb_matrix_row(ref, k)[j]));
            for (size_t j = 0; j < p.cols; j++) {
                double want = xb_matrix_row(ref, k)[j], den = fmax(fabs(want), 1e-3 * scale);
                double r = fabs(xb_matrix_row(i, k)[j] - want) / den;
                if (r > g_worst) g_worst = r;
                xb_test_assert_close(xb_matrix_row(i, k)[j], want, 1e-6 * den, xb_cell_name(p.cell));
            }
        }
        xb_matrix_free(ref);
        xb_matrix_free(i);
        xb_matrix_free(v);
        xb_matrix_free(g);
    }
}

/* The memory estimate against the engine's own count: the factor entries of the estimate lie
 * within 0.8x..3x of the symbolic analysis's (nested dissection, AMD, KLU's L+U), on
 * 64x64 arrays of every cell type (the refusals against the memory limit: test_limits.c). */
static void test_memory_estimate(void **state)
{
    const xb_cell_kind cells[] = {XB_CELL_1R, XB_CELL_1T1R, XB_CELL_1S1R};
    for (size_t c = 0; c < 3; c++) {
        xb_array_params p;
        xb_array_params_default(&p, XB_DEVICE_LINEAR);
        p.rows = p.cols = 64;
        p.cell = cells[c];
        xb_matrix *g = xb_matrix_new(64, 64);
        for (size_t k = 0; k < 64 * 64; k++) g->data[k] = p.g_min_siemens + (k % 7) * 1e-6;
        xb_engine_native *n = NULL;
        xb_error err;
        assert_int_equal(xb_engine_native_new(&p, g, &n, &err), XB_OK);
        xb_matrix *v = xb_matrix_new(1, 64), *i = xb_matrix_new(1, 64);
        for (size_t k = 0; k < 64; k++) v->data[k] = 0.1;
        assert_int_equal(xb_engine_native_mvm(n, v, i, &err), XB_OK);
        xb_engine_native_stats st;
        assert_int_equal(xb_engine_native_get_stats(n, &st), XB_OK);
        const double bytes = xb_engine_native_memory_estimate(&p), fill = xb_engine_native_factor_estimate(&p);
        print_message("64x64 %s: factor %.3g entries, estimate %.3g; estimate %.1f MB\n", xb_cell_name(cells[c]),
                      st.nnz_factor, fill, bytes / 1e6);
        /* the shape estimate within 20 % below to 3x above the analysis (the engine re-checks the
         * exact size after it), the bytes above the factor's own 12 B per entry */
        assert_true(fill >= 0.8 * st.nnz_factor && fill <= 3 * st.nnz_factor);
        assert_true(bytes > 12 * st.nnz_factor);
        xb_matrix_free(v);
        xb_matrix_free(i);
        xb_matrix_free(g);
        xb_engine_native_free(n);
    }
}

static void test_bad_input(void **state)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_RRAM);
    p.rows = 2;
    p.cols = 3;
    xb_matrix *g = xb_matrix_new(2, 3);
    for (size_t k = 0; k < 6; k++) g->data[k] = 1e-5;
    xb_engine_native *e = NULL;
    xb_error err = {0};
    g->data[4] = -1e-6;
    assert_int_equal(xb_engine_native_new(&p, g, &e, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "(2,2)"));
    assert_null(e);
    g->data[4] = NAN;
    assert_int_equal(xb_engine_native_new(&p, g, &e, &err), XB_EINPUT);
    g->data[4] = 1e-5;
    p.rows = 3;
    assert_int_equal(xb_engine_native_new(&p, g, &e, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "2x3"));
    p.rows = 2;
    p.r_wire_row_ohm = -1;
    assert_int_equal(xb_engine_native_new(&p, g, &e, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "--r-wire-row"));
    p.r_wire_row_ohm = 1;
    assert_int_equal(xb_engine_native_new(&p, g, &e, &err), XB_OK);
    xb_matrix *v = xb_matrix_new(2, 3), *i = xb_matrix_new(2, 3);
    assert_int_equal(xb_engine_native_mvm(e, v, i, &err), XB_EINPUT); /* 3 inputs for 2 rows */
    assert_non_null(strstr(err.msg, "3 columns"));
    xb_matrix_free(v);
    v = xb_matrix_new(2, 2);
    v->data[3] = INFINITY;
    assert_int_equal(xb_engine_native_mvm(e, v, i, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "V(2,2)"));
    v->data[3] = 0.1;
    xb_matrix *i_bad = xb_matrix_new(2, 2);
    assert_int_equal(xb_engine_native_mvm(e, v, i_bad, &err), XB_EINPUT);
    assert_int_equal(xb_engine_native_mvm(e, v, i, &err), XB_OK);
    xb_matrix_free(i_bad);
    xb_matrix_free(v);
    xb_matrix_free(i);
    xb_engine_native_free(e);
    xb_matrix_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ideal_exact),
        cmocka_unit_test(test_ladder_1xN),
        cmocka_unit_test(test_2x2_hand),
        cmocka_unit_test(test_2x2_general),
        cmocka_unit_test(test_multi_vector),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_memory_estimate),
        cmocka_unit_test(test_spice_all_modes),
        cmocka_unit_test(test_spice_shorts),
        cmocka_unit_test(test_spice_16x16),
        cmocka_unit_test(test_spice_harsh),
        cmocka_unit_test(test_cell_voltages_spice),
        cmocka_unit_test(test_engine_mvm_spice),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    printf("largest native vs ngspice relative difference: %.3g\n", g_worst);
    return rc;
}
