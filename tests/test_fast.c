/* The fit stage's fast form (xb_fit_basis_*, xb_fit_fast_*) and the executor's GEMM path
 * on it, checked against closed forms and against the full model evaluated per vector
 * (a second implementation of the same model: xb_fit_eval_*, and the executor's per-tile
 * path of the model engine with cfg.exact). */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xbar/exec.h"
#include "support/xb_test.h"
#include "xbar/fit.h"
#include "xbar/h5.h"

static uint64_t g_rng = 777;
static double urand(void)
{
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return (double)((g_rng * 2685821657736338717ull) >> 11) * 0x1.0p-53;
}

static xb_matrix *rand_g(const xb_array_params *p)
{
    xb_matrix *g = xb_matrix_new(p->rows, p->cols);
    for (size_t q = 0; q < p->rows * p->cols; q++)
        g->data[q] = p->g_min_siemens + urand() * (p->g_max_siemens - p->g_min_siemens);
    return g;
}

/* sparse-ish non-negative inputs on [0, v_read], like DAC outputs */
static xb_matrix *rand_v(size_t k, size_t rows, double v_read)
{
    xb_matrix *v = xb_matrix_new(k, rows);
    for (size_t q = 0; q < k * rows; q++) v->data[q] = urand() < 0.6 ? v_read * urand() : 0.0;
    return v;
}

static void params(xb_array_params *p, xb_device_kind d, size_t n, double r_wire)
{
    xb_array_params_default(p, d);
    p->rows = p->cols = n;
    p->r_wire_row_ohm = p->r_wire_col_ohm = r_wire;
    p->diff_pairs = 1;
}

/* Ohmic cells, no wires, no driver/sense resistance: the full model is I = V G, so the
 * fast form must be phi(v) = v and M_0 = G (closed form); with wires it must still equal
 * the (then linear) full model to rounding. */
static void test_fast_ohmic_exact(void **state)
{
    (void)state;
    xb_array_params p;
    xb_error err;
    params(&p, XB_DEVICE_LINEAR, 12, 0.0);
    p.r_driver_ohm = p.r_sense_ohm = 0;
    xb_fit_params m;
    xb_fit_params_nominal(&m, &p);
    xb_fit_basis *b = NULL;
    assert_int_equal(xb_fit_basis_new(&m, 1e-6, 4, &b, &err), XB_OK);
    assert_int_equal(xb_fit_basis_terms(b), 1);
    assert_true(xb_fit_basis_is_linear(b));
    assert_true(xb_fit_basis_eval(b, 0, 0.137) == 0.137);
    xb_matrix *g = rand_g(&p);
    xb_fit_fast *f = NULL;
    assert_int_equal(xb_fit_fast_new(&m, b, 0, g, 1, &f, &err), XB_OK);
    const double *M = xb_fit_fast_matrix(f, 0);
    double emax = 0;
    for (size_t q = 0; q < 144; q++) emax = fmax(emax, fabs(M[q] - g->data[q]) / p.g_max_siemens);
    print_message("ohmic, no wires: max |M - G| / g_max = %.2e\n", emax);
    assert_true(emax < 1e-10);
    xb_fit_fast_free(f);
    /* with wires and drivers: equal to the full model on fresh vectors */
    params(&p, XB_DEVICE_LINEAR, 12, 2.5);
    xb_fit_params_nominal(&m, &p);
    assert_int_equal(xb_fit_fast_new(&m, b, 0, g, 2, &f, &err), XB_OK);
    xb_matrix *v = rand_v(20, 12, p.v_read_volt), *i_fast = xb_matrix_new(20, 12), *i_full = xb_matrix_new(20, 12);
    assert_int_equal(xb_fit_fast_mvm(f, v, i_fast, &err), XB_OK);
    assert_int_equal(xb_fit_model_mvm(&m, g, v, i_full, &err), XB_OK);
    double e = xb_fit_rel_l2(i_fast, i_full);
    print_message("ohmic, 2.5 ohm wires: fast vs full model %.2e (held-out %.2e)\n", e, xb_fit_fast_error(f));
    assert_true(e < 1e-10);
    assert_true(xb_fit_fast_error(f) < 1e-10);
    xb_matrix_free(v);
    xb_matrix_free(i_fast);
    xb_matrix_free(i_full);
    xb_matrix_free(g);
    xb_fit_fast_free(f);
    xb_fit_basis_free(b);
}

/* RRAM with one V0 and no series element: the cell current is G v shc(v/V0)/shc(v_read/V0);
 * the basis spans it and its IR-drop derivative v d/dv exactly: two terms, and the closed
 * form I_cell(v) is reproduced by the two basis functions to interpolation accuracy. */
static void test_basis_rram_closed_form(void **state)
{
    (void)state;
    xb_array_params p;
    xb_error err;
    params(&p, XB_DEVICE_RRAM, 8, 1.0);
    xb_fit_params m;
    xb_fit_params_nominal(&m, &p);
    xb_fit_basis *b = NULL;
    assert_int_equal(xb_fit_basis_new(&m, 1e-6, 4, &b, &err), XB_OK);
    assert_int_equal(xb_fit_basis_terms(b), 2);
    /* least squares of f(v) = v sinh(v/V0)/(v/V0) on {phi_0, phi_1} over 301 points */
    const double V0 = p.rram_v0_volt;
    double A[2][2] = {{0}}, y[2] = {0};
    for (int t = 1; t <= 301; t++) {
        double v = p.v_read_volt * t / 301.0, f = V0 * sinh(v / V0), ph[2];
        for (int a = 0; a < 2; a++) ph[a] = xb_fit_basis_eval(b, (size_t)a, v);
        for (int a = 0; a < 2; a++) {
            y[a] += ph[a] * f;
            for (int c = 0; c < 2; c++) A[a][c] += ph[a] * ph[c];
        }
    }
    double det = A[0][0] * A[1][1] - A[0][1] * A[1][0];
    double c0 = (y[0] * A[1][1] - y[1] * A[0][1]) / det, c1 = (A[0][0] * y[1] - A[1][0] * y[0]) / det;
    double emax = 0, fmax_ = 0;
    for (int t = 0; t <= 301; t++) {
        double v = p.v_read_volt * t / 301.0, f = V0 * sinh(v / V0);
        double fit = c0 * xb_fit_basis_eval(b, 0, v) + c1 * xb_fit_basis_eval(b, 1, v);
        emax = fmax(emax, fabs(fit - f));
        fmax_ = fmax(fmax_, fabs(f));
        /* odd: phi(-v) = -phi(v) */
        assert_true(xb_fit_basis_eval(b, 0, -v) == -xb_fit_basis_eval(b, 0, v));
    }
    print_message("RRAM basis: max |span fit - V0 sinh(v/V0)| / max = %.2e\n", emax / fmax_);
    assert_true(emax / fmax_ < 1e-6);
    xb_fit_basis_free(b);
}

/* Nonlinear devices with IR drop: the fast form vs the full model on fresh input vectors
 * (not the fit set), against the size of the effects it approximates. */
static void test_fast_vs_full_model(void **state)
{
    (void)state;
    const xb_device_kind dev[2] = {XB_DEVICE_RRAM, XB_DEVICE_PCM};
    for (int d = 0; d < 2; d++) {
        xb_array_params p;
        xb_error err;
        params(&p, dev[d], 16, 1.0);
        xb_fit_params m;
        xb_fit_params_nominal(&m, &p);
        xb_fit_basis *b = NULL;
        assert_int_equal(xb_fit_basis_new(&m, 1e-6, 4, &b, &err), XB_OK);
        xb_matrix *g = rand_g(&p), *v = rand_v(40, 16, p.v_read_volt);
        xb_matrix *i_full = xb_matrix_new(40, 16), *i_fast = xb_matrix_new(40, 16), *i_id = xb_matrix_new(40, 16);
        assert_int_equal(xb_fit_model_mvm(&m, g, v, i_full, &err), XB_OK);
        assert_int_equal(xb_engine_mvm_ideal(g, v, i_id, &err), XB_OK);
        double e_ideal = xb_fit_rel_l2(i_id, i_full), e_prev = INFINITY;
        for (size_t t = 1; t <= xb_fit_basis_terms(b); t++) {
            xb_fit_fast *f = NULL;
            assert_int_equal(xb_fit_fast_new(&m, b, t, g, 3, &f, &err), XB_OK);
            assert_int_equal(xb_fit_fast_terms(f), t);
            assert_int_equal(xb_fit_fast_mvm(f, v, i_fast, &err), XB_OK);
            double e = xb_fit_rel_l2(i_fast, i_full);
            print_message("%s 16x16 1 ohm, %zu term(s): fast vs full %.2e (held-out %.2e; I = V G: %.2e)\n",
                          xb_device_name(dev[d]), t, e, xb_fit_fast_error(f), e_ideal);
            if (t >= 2) {
                assert_true(e < 2e-3);
                assert_true(e < 0.05 * e_ideal);
                assert_true(e <= 1.5 * e_prev); /* more terms do not make it worse */
            }
            /* the held-out estimate is of the same size as the error on other vectors */
            assert_true(xb_fit_fast_error(f) < 5 * e + 1e-12 && e < 5 * xb_fit_fast_error(f) + 1e-12);
            e_prev = e;
            xb_fit_fast_free(f);
        }
        xb_matrix_free(g);
        xb_matrix_free(v);
        xb_matrix_free(i_full);
        xb_matrix_free(i_fast);
        xb_matrix_free(i_id);
        xb_fit_basis_free(b);
    }
}

/* The column-kernel cross groups (XB_FIT_CROSS_COLUMN): where along a column the other rows'
 * currents enter decides the drop a cell sees, which the tile's total input (XB_FIT_CROSS_SUM)
 * cannot tell.  Inputs on a contiguous block of rows (top, middle or bottom of the tile,
 * as a layer's partly used band or a feature map's patch): the column form must be closer to
 * the full model than the sum form, on column-pair differences (the executor's outputs).
 * Ohmic cells: with cross groups of either kind the form stays the (linear) full model. */
static double pair_err(const xb_matrix *a, const xb_matrix *ref)
{
    double d = 0, n = 0;
    for (size_t q = 0; q < a->rows * a->cols; q += 2) {
        const double r = ref->data[q] - ref->data[q + 1], e = a->data[q] - a->data[q + 1] - r;
        d += e * e;
        n += r * r;
    }
    return sqrt(d / n);
}

static void test_fast_cross_column(void **state)
{
    (void)state;
    xb_array_params p;
    xb_error err;
    params(&p, XB_DEVICE_RRAM, 32, 2.5);
    xb_fit_params m;
    xb_fit_params_nominal(&m, &p);
    xb_fit_basis *b = NULL;
    assert_int_equal(xb_fit_basis_new(&m, 1e-6, 4, &b, &err), XB_OK);
    assert_int_equal(xb_fit_basis_terms(b), 2);
    xb_matrix *g = rand_g(&p);
    const size_t K = 60;
    xb_matrix *v = xb_matrix_new(K, 32), *ifull = xb_matrix_new(K, 32), *ifast = xb_matrix_new(K, 32);
    for (size_t k = 0; k < K; k++) {
        const size_t len = 8 + (size_t)(urand() * 9), i0 = (k % 3) * (32 - len) / 2; /* top, middle, bottom */
        for (size_t i = 0; i < 32; i++)
            v->data[k * 32 + i] = i >= i0 && i < i0 + len ? p.v_read_volt * (0.2 + 0.8 * urand()) : 0.0;
    }
    assert_int_equal(xb_fit_model_mvm(&m, g, v, ifull, &err), XB_OK);
    double e[2];
    for (int kind = 0; kind < 2; kind++) {
        xb_fit_fast *f = NULL;
        assert_int_equal(xb_fit_fast_new_form(&m, b, 2, 2, (xb_fit_cross_kind)kind, g, 5, &f, &err), XB_OK);
        assert_int_equal(xb_fit_fast_cross_kind(f), kind);
        assert_int_equal(xb_fit_fast_mvm(f, v, ifast, &err), XB_OK);
        e[kind] = pair_err(ifast, ifull);
        xb_fit_fast_free(f);
    }
    print_message("rram 32x32 2.5 ohm, row blocks: pair error vs the full model, cross groups of the total input "
                  "%.2e, column kernel %.2e\n",
                  e[0], e[1]);
    assert_true(e[1] < 0.5 * e[0]);
    assert_true(e[1] < 4e-4);
    xb_matrix_free(g);
    xb_fit_basis_free(b);
    /* ohmic cells, 2.5 ohm wires: one cross group of either kind, still the linear full model */
    params(&p, XB_DEVICE_LINEAR, 12, 2.5);
    xb_fit_params_nominal(&m, &p);
    assert_int_equal(xb_fit_basis_new(&m, 1e-6, 4, &b, &err), XB_OK);
    g = rand_g(&p);
    xb_matrix *vo = rand_v(20, 12, p.v_read_volt), *fo = xb_matrix_new(20, 12), *ro = xb_matrix_new(20, 12);
    assert_int_equal(xb_fit_model_mvm(&m, g, vo, ro, &err), XB_OK);
    for (int kind = 0; kind < 2; kind++) {
        xb_fit_fast *f = NULL;
        assert_int_equal(xb_fit_fast_new_form(&m, b, 1, 1, (xb_fit_cross_kind)kind, g, 6, &f, &err), XB_OK);
        assert_int_equal(xb_fit_fast_mvm(f, vo, fo, &err), XB_OK);
        const double eo = xb_fit_rel_l2(fo, ro);
        print_message("ohmic 12x12 2.5 ohm, cross kind %d: fast vs full model %.2e\n", kind, eo);
        assert_true(eo < 1e-12);
        xb_fit_fast_free(f);
    }
    xb_fit_fast *f = NULL;
    assert_int_equal(xb_fit_fast_new_form(&m, b, 1, 1, (xb_fit_cross_kind)7, g, 6, &f, &err), XB_EINPUT);
    assert_null(f);
    xb_matrix_free(vo);
    xb_matrix_free(fo);
    xb_matrix_free(ro);
    xb_matrix_free(g);
    xb_fit_basis_free(b);
    xb_matrix_free(v);
    xb_matrix_free(ifull);
    xb_matrix_free(ifast);
}

/* Bad arguments */
static void test_fast_bad_input(void **state)
{
    (void)state;
    xb_array_params p;
    xb_error err;
    params(&p, XB_DEVICE_RRAM, 8, 1.0);
    xb_fit_params m;
    xb_fit_params_nominal(&m, &p);
    xb_fit_basis *b = NULL;
    assert_int_equal(xb_fit_basis_new(&m, 0.0, 4, &b, &err), XB_EINPUT);
    assert_int_equal(xb_fit_basis_new(&m, 1e-6, 9, &b, &err), XB_EINPUT);
    assert_int_equal(xb_fit_basis_new(&m, 1e-6, 4, &b, &err), XB_OK);
    xb_fit_fast *f = NULL;
    xb_matrix *g = xb_matrix_new(4, 8);
    assert_int_equal(xb_fit_fast_new(&m, b, 0, g, 1, &f, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "G is 4x8"));
    xb_matrix_free(g);
    g = rand_g(&p);
    assert_int_equal(xb_fit_fast_new(&m, b, 7, g, 1, &f, &err), XB_EINPUT);
    assert_null(f);
    xb_matrix_free(g);
    xb_fit_basis_free(b);
}

/* ---- executor ---- */
#define NI 40
#define NO 12
#define NS 24

static xb_network *small_net(void)
{
    size_t shape[1] = {NI};
    xb_network *net = NULL;
    xb_error err;
    float w1[NO * NI], w2[5 * NO], b1[NO];
    for (size_t i = 0; i < NO * NI; i++) w1[i] = (float)(2 * urand() - 1);
    for (size_t i = 0; i < 5 * NO; i++) w2[i] = (float)(2 * urand() - 1);
    for (size_t i = 0; i < NO; i++) b1[i] = (float)(0.1 * urand());
    assert_int_equal(xb_network_new(shape, 1, &net, &err), XB_OK);
    assert_int_equal(xb_network_add_dense(net, NO, NI, w1, b1, &err), XB_OK);
    assert_int_equal(xb_network_add(net, XB_LAYER_RELU, &err), XB_OK);
    assert_int_equal(xb_network_add_dense(net, 5, NO, w2, NULL, &err), XB_OK);
    return net;
}

/* Calibrate on x, optionally move to t_s after programming, and run x through net on eng. */
static float **run_engine(const xb_network *net, const xb_exec_config *c, xb_engine *eng, const float *x,
                          double t_s)
{
    xb_error err;
    xb_exec *ex = NULL;
    float **a = xb_network_acts_new(net, NS);
    assert_int_equal(xb_exec_new(net, c, eng, &ex, &err), XB_OK);
    assert_int_equal(xb_exec_calibrate(ex, x, NS, &err), XB_OK);
    if (t_s > 0) assert_int_equal(xb_exec_set_time(ex, t_s, 0, &err), XB_OK);
    assert_int_equal(xb_exec_forward(ex, x, NS, a, &err), XB_OK);
    xb_exec_free(ex);
    return a;
}

/* The same on the model engine of m (exact or fast); t_s > 0: after xb_exec_set_time (the
 * fast weights must be rebuilt from the drifted tiles). */
static float **run_model(const xb_network *net, const xb_exec_config *c, const xb_fit_params *m, int exact,
                         const float *x, double t_s, size_t *terms)
{
    xb_engine *eng = xb_test_model_engine(m, 0, 1, exact);
    float **a = run_engine(net, c, eng, x, t_s);
    xb_fit_engine_info info;
    assert_int_equal(xb_fit_engine_get_info(eng, &info, NULL), XB_OK);
    if (terms) *terms = info.fast_terms;
    xb_engine_free(eng);
    return a;
}

static void exec_cfg(xb_exec_config *c, xb_device_kind d, int bits)
{
    xb_exec_config_default(c, d);
    c->tile_rows = 16;
    c->tile_cols = 16;
    c->dac_bits = c->adc_bits = bits;
    c->affine_calibration = 0;
    c->array.r_wire_row_ohm = c->array.r_wire_col_ohm = 1.0;
}

static void model_for(const xb_exec_config *c, xb_fit_params *m)
{
    xb_array_params p = c->array;
    p.rows = c->tile_rows;
    p.cols = c->tile_cols;
    p.diff_pairs = 1;
    xb_fit_params_nominal(m, &p);
}

/* The executor's band GEMMs on the fast form vs the per-tile full model, ideal converters
 * (only the fast form's approximation and float rounding differ), and with 8-bit ones. */
static void test_exec_fast_vs_exact(void **state)
{
    (void)state;
    xb_network *net = small_net();
    const size_t nl = xb_network_n_layers(net);
    float x[NS * NI];
    for (size_t i = 0; i < NS * NI; i++) x[i] = urand() < 0.3 ? 0.0f : (float)urand();
    const xb_device_kind dev[2] = {XB_DEVICE_RRAM, XB_DEVICE_PCM};
    for (int d = 0; d < 2; d++)
        for (int bits = 0; bits <= 8; bits += 8) {
            xb_exec_config c;
            exec_cfg(&c, dev[d], bits);
            xb_fit_params m;
            model_for(&c, &m);
            size_t terms = 0;
            float **ae = run_model(net, &c, &m, 1, x, 0, NULL), **af = run_model(net, &c, &m, 0, x, 0, &terms);
            assert_true(terms >= 2);
            for (size_t k = 0; k < nl; k++) {
                size_t n = NS * xb_layer_out_size(xb_network_layer(net, k));
                double e = xb_test_rel_l2f(af[k], ae[k], n);
                print_message("%s bits %d layer %zu: fast (%zu terms) vs exact model %.2e\n", xb_device_name(dev[d]),
                              bits, k, terms, e);
                /* ideal converters: the fast form's own error; 8 bits: a few codes flip */
                assert_true(e < (bits ? 2e-2 : 3e-3));
            }
            xb_network_acts_free(ae, nl);
            xb_network_acts_free(af, nl);
        }
    xb_network_free(net);
}

/* The network-level error of the fast form (issue 19 item 5): a 96-64-10 ReLU MLP with
 * network-like inputs (sparse pixels, half of them saturated) on 32x32 RRAM tiles with 2.5 ohm
 * wires (strong IR drop), ideal converters, so that only the fast form differs from the full
 * model.  The engine's form (IR-drop cross groups chosen by the held-out budget) must be
 * within 2e-3 of the full model at the network output and at most half the error of the
 * plain form (xb_fit_engine_plain_fast), and the printed error (network-like vectors,
 * column pairs) of the same order as the first layer's measured error. */
#define XI 96
#define XH 64
#define XS 64
static void test_exec_fast_cross_network(void **state)
{
    (void)state;
    size_t shape[1] = {XI};
    xb_network *net = NULL;
    xb_error err;
    static float w1[XH * XI], w2[10 * XH], x[XS * XI];
    for (size_t i = 0; i < XH * XI; i++) w1[i] = (float)(2 * urand() - 1);
    for (size_t i = 0; i < 10 * XH; i++) w2[i] = (float)(2 * urand() - 1);
    for (size_t i = 0; i < XS * XI; i++) {
        const double u = urand();
        x[i] = u < 0.4 ? 0.0f : u < 0.7 ? 1.0f : (float)urand();
    }
    assert_int_equal(xb_network_new(shape, 1, &net, &err), XB_OK);
    assert_int_equal(xb_network_add_dense(net, XH, XI, w1, NULL, &err), XB_OK);
    assert_int_equal(xb_network_add(net, XB_LAYER_RELU, &err), XB_OK);
    assert_int_equal(xb_network_add_dense(net, 10, XH, w2, NULL, &err), XB_OK);
    const size_t nl = xb_network_n_layers(net), nout = XS * 10, n0 = XS * XH;
    xb_exec_config c;
    exec_cfg(&c, XB_DEVICE_RRAM, 0);
    c.tile_rows = c.tile_cols = 32;
    c.array.r_wire_row_ohm = c.array.r_wire_col_ohm = 2.5;
    xb_fit_params m;
    model_for(&c, &m);
    float *a[3][3] = {{0}}; /* exact, fast (engine's choice), plain: layer outputs */
    size_t cross = 0;
    double printed = 0;
    for (int v = 0; v < 3; v++) {
        xb_engine *eng = xb_test_model_engine(&m, 0, 1, v == 0);
        if (v == 2) assert_int_equal(xb_fit_engine_plain_fast(eng, &err), XB_OK);
        xb_exec *ex = NULL;
        float **acts = xb_network_acts_new(net, XS);
        assert_int_equal(xb_exec_new(net, &c, eng, &ex, &err), XB_OK);
        assert_int_equal(xb_exec_calibrate(ex, x, XS, &err), XB_OK);
        assert_int_equal(xb_exec_forward(ex, x, XS, acts, &err), XB_OK);
        xb_fit_engine_info info;
        assert_int_equal(xb_fit_engine_get_info(eng, &info, NULL), XB_OK);
        if (v == 1) {
            cross = info.fast_cross;
            printed = info.fast_error;
        }
        if (v == 2) assert_int_equal(info.fast_cross, 0);
        for (size_t k = 0; k < nl; k++) {
            const size_t n = XS * xb_layer_out_size(xb_network_layer(net, k));
            a[v][k] = malloc(n * sizeof(float));
            memcpy(a[v][k], acts[k], n * sizeof(float));
        }
        xb_network_acts_free(acts, nl);
        xb_exec_free(ex);
        xb_engine_free(eng);
    }
    const double ec = xb_test_rel_l2f(a[1][2], a[0][2], nout), ep = xb_test_rel_l2f(a[2][2], a[0][2], nout);
    const double l0 = xb_test_rel_l2f(a[1][0], a[0][0], n0);
    print_message("rram 32x32 2.5 ohm, MLP output vs the full model: fast form (%zu cross groups) %.2e, plain %.2e; "
                  "layer 0 %.2e, printed %.2e\n",
                  cross, ec, ep, l0, printed);
    assert_true(cross >= 1);
    assert_true(ec < 2e-3);
    assert_true(ec < 0.5 * ep);
    assert_true(printed < 10 * l0 + 1e-12 && l0 < 10 * printed + 1e-12);
    for (int v = 0; v < 3; v++)
        for (size_t k = 0; k < nl; k++) free(a[v][k]);
    xb_network_free(net);
}

/* Ohmic cells without wires: the model engine's GEMM path equals the exact tile engine
 * (I = V G) up to float rounding, converters ideal. */
static void test_exec_fast_ohmic_equals_ideal(void **state)
{
    (void)state;
    xb_network *net = small_net();
    const size_t nl = xb_network_n_layers(net);
    float x[NS * NI];
    for (size_t i = 0; i < NS * NI; i++) x[i] = (float)urand();
    xb_exec_config c;
    exec_cfg(&c, XB_DEVICE_LINEAR, 0);
    c.array.r_wire_row_ohm = c.array.r_wire_col_ohm = c.array.r_driver_ohm = c.array.r_sense_ohm = 0;
    xb_fit_params m;
    model_for(&c, &m);
    size_t terms = 0;
    float **af = run_model(net, &c, &m, 0, x, 0, &terms);
    assert_int_equal(terms, 1);
    xb_engine *ei = xb_test_engine("ideal");
    float **ai = run_engine(net, &c, ei, x, 0);
    xb_engine_free(ei);
    for (size_t k = 0; k < nl; k++) {
        double e = xb_test_rel_l2f(af[k], ai[k], NS * xb_layer_out_size(xb_network_layer(net, k)));
        print_message("ohmic layer %zu: fast model vs exact tiles %.2e\n", k, e);
        assert_true(e < 1e-5);
    }
    xb_network_acts_free(af, nl);
    xb_network_acts_free(ai, nl);
    xb_network_free(net);
}

/* After xb_exec_set_time the tiles are reprogrammed with drifted conductances: the fast
 * path must follow them (a stale GEMM weight would keep the t0 outputs). */
static void test_exec_fast_drift(void **state)
{
    (void)state;
    xb_network *net = small_net();
    const size_t nl = xb_network_n_layers(net);
    float x[NS * NI];
    for (size_t i = 0; i < NS * NI; i++) x[i] = (float)urand();
    xb_exec_config c;
    exec_cfg(&c, XB_DEVICE_PCM, 0);
    c.drift_fixed_nu = 1;
    c.drift_nu = 0.05;
    xb_fit_params m;
    model_for(&c, &m);
    const double t_s = 86400.0;
    float **a0 = run_model(net, &c, &m, 0, x, 0, NULL);
    float **ae = run_model(net, &c, &m, 1, x, t_s, NULL), **af = run_model(net, &c, &m, 0, x, t_s, NULL);
    const size_t n0 = NS * NO;
    double moved = xb_test_rel_l2f(af[0], a0[0], n0), e = xb_test_rel_l2f(af[0], ae[0], n0);
    print_message("PCM 1 day: fast vs exact %.2e, outputs moved %.2e from t0\n", e, moved);
    assert_true(moved > 10 * e);
    assert_true(e < 3e-3);
    xb_network_acts_free(a0, nl);
    xb_network_acts_free(ae, nl);
    xb_network_acts_free(af, nl);
    xb_network_free(net);
}

/* Energy and latency from a model file's regressions on the fast path: with coef (1, 0) the
 * fitted law over the read window equals the executor's Joule-heat default sum V^2 G t
 * (ohmic cells, no wires: I_row = v sum_j G); with coef (0.9, 0.5) the fast path's row
 * currents (row sums of the fast form) agree with the full model's (--model-exact path, a
 * second implementation); the read time is the fitted settling time when it exceeds the window. */
static double layer0_energy(const xb_network *net, const xb_exec_config *c, xb_engine *eng,
                            const float *x, double *latency)
{
    xb_error err;
    xb_exec *ex = NULL;
    float **a = xb_network_acts_new(net, NS);
    assert_int_equal(xb_exec_new(net, c, eng, &ex, &err), XB_OK);
    assert_int_equal(xb_exec_calibrate(ex, x, NS, &err), XB_OK);
    assert_int_equal(xb_exec_forward(ex, x, NS, a, &err), XB_OK);
    xb_exec_layer_stats st;
    assert_int_equal(xb_exec_get_layer_stats(ex, 0, &st), XB_OK);
    if (latency) *latency = st.latency_s / st.n_phases;
    xb_exec_free(ex);
    xb_network_acts_free(a, xb_network_n_layers(net));
    return st.e_array_joule;
}

static char *model_file_with_stats(const xb_exec_config *c, double e0, double e1, double s0, const char *tag)
{
    xb_error err;
    xb_fit_params m;
    model_for(c, &m);
    char *dir = xb_test_tmpdir(tag), *path = malloc(strlen(dir) + 16);
    sprintf(path, "%s/m.h5", dir);
    free(dir);
    xb_fit_provenance prov = {"none", "test", "", "ngspice-39", "0"};
    hid_t f, g;
    assert_int_equal(xb_fit_file_create(path, 1, &prov, &f, &err), XB_OK);
    assert_int_equal(xb_fit_file_add_model(f, 0, &m, NULL, NULL, &err), XB_OK);
    assert_int_equal(xb_h5_group_create(f, "stats", &g, &err), XB_OK);
    H5Gclose(g);
    const double ec[2] = {e0, e1}, sc[3] = {s0, 0, 0};
    hsize_t d2 = 2, d3 = 3;
    assert_int_equal(xb_h5_group_create(f, "stats/energy", &g, &err), XB_OK);
    assert_int_equal(xb_h5_write_doubles(g, "coef", 1, &d2, ec, "1", &err), XB_OK);
    H5Gclose(g);
    assert_int_equal(xb_h5_group_create(f, "stats/settling", &g, &err), XB_OK);
    assert_int_equal(xb_h5_write_doubles(g, "coef", 1, &d3, sc, "1", &err), XB_OK);
    H5Gclose(g);
    assert_int_equal(xb_h5_close(f, &err), XB_OK);
    return path;
}

static void test_exec_fast_energy_law(void **state)
{
    (void)state;
    xb_network *net = small_net();
    float x[NS * NI];
    for (size_t i = 0; i < NS * NI; i++) x[i] = urand() < 0.3 ? 0.0f : (float)urand();
    xb_exec_config c;
    exec_cfg(&c, XB_DEVICE_LINEAR, 8);
    c.array.r_wire_row_ohm = c.array.r_wire_col_ohm = c.array.r_driver_ohm = c.array.r_sense_ohm = 0;
    xb_array_params tp = c.array;
    tp.rows = c.tile_rows;
    tp.cols = c.tile_cols;
    tp.diff_pairs = 1;
    xb_error err;
    xb_engine *ei = xb_test_engine("ideal");
    const double e_joule = layer0_energy(net, &c, ei, x, NULL);
    xb_engine_free(ei);
    /* coef (1, 0), t_rise -> 0: the law is the executor's default */
    char *p1 = model_file_with_stats(&c, 1.0, 0.0, 1.0, "fastlaw1");
    xb_engine_config ec;
    xb_engine_config_default(&ec);
    ec.array = &tp;
    ec.file = p1;
    ec.seed = tp.seed;
    ec.t_window_s = c.energy.t_mvm_s;
    ec.t_rise_s = 1e-18;
    xb_engine *em = NULL;
    xb_fit_engine_info info;
    assert_int_equal(xb_engine_new(&xb_fit_engine_class_model, &ec, &em, &err), XB_OK);
    double e_law = layer0_energy(net, &c, em, x, NULL);
    print_message("energy law (1, 0) %.6e J vs Joule heat default %.6e J\n", e_law, e_joule);
    assert_true(fabs(e_law - e_joule) <= 1e-6 * e_joule);
    xb_engine_free(em);
    /* coef (0.9, 0.5): fast path vs the full model's row currents; settling 400 x t_rise */
    char *p2 = model_file_with_stats(&c, 0.9, 0.5, 400.0, "fastlaw2");
    ec.file = p2;
    ec.t_window_s = 1e-9;
    ec.t_rise_s = 10e-12;
    double e[2], lat[2];
    for (int exact = 0; exact < 2; exact++) {
        ec.exact = exact;
        assert_int_equal(xb_engine_new(&xb_fit_engine_class_model, &ec, &em, &err), XB_OK);
        e[exact] = layer0_energy(net, &c, em, x, &lat[exact]);
        assert_int_equal(xb_fit_engine_get_info(em, &info, &err), XB_OK);
        assert_true(fabs(info.settling_s - 4e-9) < 1e-15);
        xb_engine_free(em);
    }
    print_message("energy law (0.9, 0.5): fast %.6e J, exact %.6e J; read time %.3g s\n", e[0], e[1], lat[0]);
    assert_true(fabs(e[0] - e[1]) <= 1e-5 * e[1]);
    /* resistive part: 0.9 (t - t_rise + t_rise/3) sum v I_row = that / t_mvm x the Joule default */
    const double res = 0.9 * (4e-9 - 10e-12 + 10e-12 / 3) / c.energy.t_mvm_s * e_joule;
    print_message("resistive part %.6e J, capacitive %.6e J\n", res, e[0] - res);
    assert_true(e[0] > res * (1 + 1e-9)); /* the wire-charging term adds */
    assert_true(fabs(lat[0] - 4e-9) < 1e-15 && fabs(lat[1] - 4e-9) < 1e-15);
    /* calibration fused with the evaluation (the fast path's per-band route, energy counted
     * for the evaluated rows only) == calibrate, then forward */
    ec.exact = 0;
    assert_int_equal(xb_engine_new(&xb_fit_engine_class_model, &ec, &em, &err), XB_OK);
    xb_exec *ex = NULL;
    float **af = xb_network_acts_new(net, NS);
    assert_int_equal(xb_exec_new(net, &c, em, &ex, &err), XB_OK);
    assert_int_equal(xb_exec_calibrate_forward(ex, x, NS, x, NS, af, &err), XB_OK);
    xb_exec_layer_stats stf;
    assert_int_equal(xb_exec_get_layer_stats(ex, 0, &stf), XB_OK);
    print_message("fused calibration + evaluation: %.9e J (calibrate, forward: %.9e J)\n", stf.e_array_joule, e[0]);
    assert_true(fabs(stf.e_array_joule - e[0]) <= 1e-9 * e[0]);
    xb_exec_free(ex);
    xb_network_acts_free(af, xb_network_n_layers(net));
    xb_engine_free(em);
    free(p1);
    free(p2);
    xb_network_free(net);
}

/* The fast path spreads blocks of 256 vectors over the BLAS thread count: outputs are
 * identical with one and with three workers (disjoint rows; the residual noise is drawn
 * from counters), statistics equal to rounding. */
extern void openblas_set_num_threads(int num_threads);
extern int openblas_get_num_threads(void);

static void test_exec_fast_workers(void **state)
{
    (void)state;
    enum { NB = 700 };
    xb_network *net = small_net();
    const size_t nl = xb_network_n_layers(net);
    float *x = malloc(NB * NI * sizeof(float));
    for (size_t i = 0; i < NB * NI; i++) x[i] = urand() < 0.3 ? 0.0f : (float)urand();
    xb_exec_config c;
    exec_cfg(&c, XB_DEVICE_RRAM, 8);
    xb_fit_params m;
    model_for(&c, &m);
    m.resid_sigma_rel = 0.01;
    const int keep = openblas_get_num_threads();
    for (int noise = 0; noise < 2; noise++) {
        float **a[2];
        xb_exec_layer_stats st[2];
        for (int v = 0; v < 2; v++) {
            openblas_set_num_threads(v ? 3 : 1);
            xb_error err;
            xb_engine *eng = xb_test_model_engine(&m, noise, 1, 0);
            xb_exec *ex = NULL;
            a[v] = xb_network_acts_new(net, NB);
            assert_int_equal(xb_exec_new(net, &c, eng, &ex, &err), XB_OK);
            assert_int_equal(xb_exec_calibrate(ex, x, 64, &err), XB_OK);
            assert_int_equal(xb_exec_forward(ex, x, NB, a[v], &err), XB_OK);
            assert_int_equal(xb_exec_get_layer_stats(ex, 0, &st[v]), XB_OK);
            xb_exec_free(ex);
            xb_engine_free(eng);
        }
        openblas_set_num_threads(keep);
        for (size_t k = 0; k < nl; k++)
            assert_memory_equal(a[0][k], a[1][k], NB * xb_layer_out_size(xb_network_layer(net, k)) * sizeof(float));
        print_message("1 vs 3 workers%s: outputs identical, array energy %.9e vs %.9e J\n",
                      noise ? ", residual noise" : "", st[0].e_array_joule, st[1].e_array_joule);
        assert_true(fabs(st[0].e_array_joule - st[1].e_array_joule) <= 1e-12 * st[0].e_array_joule);
        assert_true(st[0].adc_conversions == st[1].adc_conversions && st[0].n_tile_reads == st[1].n_tile_reads);
        assert_true(st[0].n_tile_reads > 0);
        xb_network_acts_free(a[0], nl);
        xb_network_acts_free(a[1], nl);
    }
    free(x);
    xb_network_free(net);
}

/* The model's residual read noise (--read-noise): every physical column current gets
 * N(0, rel x rms over the tile's columns), so a pair difference y_j (output units) has
 * variance scale^2 x 2 rel^2 rms^2, rms from I = V G (ohmic cells, no wires: closed form).
 * Checked on the fast path (counter-based draws in the executor) and on the per-tile path
 * (--model-exact: the model tile's own stream), 4000 repeats of one input. */
static void test_exec_fast_residual_noise(void **state)
{
    (void)state;
    enum { KR = 4000, NIN = 4, NOUT = 2 };
    const float w[NOUT * NIN] = {0.9f, -0.4f, 0.2f, -1.0f, -0.3f, 0.7f, 0.5f, 0.1f};
    const float x1[NIN] = {0.8f, 0.5f, 1.0f, 0.3f};
    size_t shape[1] = {NIN};
    xb_network *net = NULL;
    xb_error err;
    assert_int_equal(xb_network_new(shape, 1, &net, &err), XB_OK);
    assert_int_equal(xb_network_add_dense(net, NOUT, NIN, w, NULL, &err), XB_OK);
    xb_exec_config c;
    exec_cfg(&c, XB_DEVICE_LINEAR, 0);
    c.tile_rows = c.tile_cols = 4;
    c.array.r_wire_row_ohm = c.array.r_wire_col_ohm = c.array.r_driver_ohm = c.array.r_sense_ohm = 0;
    xb_fit_params m;
    model_for(&c, &m);
    const double rel = 0.02;
    m.resid_sigma_rel = rel;
    float *x = malloc(KR * NIN * sizeof(float)), *y = malloc(KR * NOUT * sizeof(float));
    for (size_t k = 0; k < KR; k++) memcpy(x + k * NIN, x1, sizeof x1);
    /* closed form: v = x / max(x) v_read, G from the differential mapping, I = v G */
    const xb_array_params *ap = &c.array;
    const double gmin = ap->g_min_siemens, dg = ap->g_max_siemens - gmin, vr = ap->v_read_volt, xr = 1.0;
    double I[4] = {0}, ms = 0;
    for (size_t j = 0; j < NOUT; j++)
        for (size_t i = 0; i < NIN; i++) {
            const double ww = w[j * NIN + i] / 1.0, v = x1[i] / xr * vr;
            I[2 * j] += v * (gmin + dg * (ww > 0 ? ww : 0));
            I[2 * j + 1] += v * (gmin + dg * (ww < 0 ? -ww : 0));
        }
    for (size_t j = 0; j < 4; j++) ms += I[j] * I[j] / 4.0;
    const double scale = 1.0 * xr / (dg * vr), var_ref = scale * scale * 2.0 * rel * rel * ms;
    for (int exact = 0; exact < 2; exact++) {
        xb_engine *eng = xb_test_model_engine(&m, 1, 5, exact);
        assert_false(xb_engine_caps(eng) & XB_ENGINE_CAP_DETERMINISTIC); /* noisy */
        xb_exec *ex = NULL;
        float *a[1] = {y};
        assert_int_equal(xb_exec_new(net, &c, eng, &ex, &err), XB_OK);
        assert_int_equal(xb_exec_calibrate(ex, x, 8, &err), XB_OK);
        assert_int_equal(xb_exec_forward(ex, x, KR, a, &err), XB_OK);
        for (size_t j = 0; j < NOUT; j++) {
            double s1 = 0, s2 = 0, y0 = scale * (I[2 * j] - I[2 * j + 1]);
            for (size_t k = 0; k < KR; k++) {
                s1 += y[k * NOUT + j];
                s2 += (double)y[k * NOUT + j] * y[k * NOUT + j];
            }
            const double mean = s1 / KR, var = (s2 - s1 * s1 / KR) / (KR - 1);
            print_message("%s: output %zu mean %.5f (noiseless %.5f), variance / closed form %.4f\n",
                          exact ? "per-tile (exact model)" : "fast path", j, mean, y0, var / var_ref);
            assert_true(fabs(mean - y0) < 5 * sqrt(var_ref / KR));
            assert_true(fabs(var / var_ref - 1.0) < 5 * sqrt(2.0 / (KR - 1)));
        }
        xb_exec_free(ex);
        xb_engine_free(eng);
    }
    free(x);
    free(y);
    xb_network_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_ohmic_exact),
        cmocka_unit_test(test_basis_rram_closed_form),
        cmocka_unit_test(test_fast_vs_full_model),
        cmocka_unit_test(test_fast_cross_column),
        cmocka_unit_test(test_fast_bad_input),
        cmocka_unit_test(test_exec_fast_vs_exact),
        cmocka_unit_test(test_exec_fast_cross_network),
        cmocka_unit_test(test_exec_fast_ohmic_equals_ideal),
        cmocka_unit_test(test_exec_fast_drift),
        cmocka_unit_test(test_exec_fast_energy_law),
        cmocka_unit_test(test_exec_fast_workers),
        cmocka_unit_test(test_exec_fast_residual_noise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
