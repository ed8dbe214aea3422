/* Executor numerics.
 *  - ideal forward pass == a straightforward double-precision reference written here
 *    (conv with padding/stride, pools, relu, flatten, dense, softmax), to 1e-5;
 *  - tiled differential mapping with exact tiles: unquantized == ideal (rounding only);
 *    quantized error within the DAC + ADC bound derived here; more bits, less error;
 *  - conv through tiles (im2col) == ideal when unquantized;
 *  - array energy and converter counts == closed forms derived here;
 *  - native circuit tiles with zero wire/driver resistance == exact tiles; with wire
 *    resistance the error grows (IR drop);
 *  - affine (per-channel scale, shift) and residual add layers: the float forward pass and
 *    the executor on exact unquantized tiles == the double reference; builder errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xbar/exec.h"
#include "support/xb_test.h"
#include "xbar/fit.h"

/* The registry's engines, made once for the whole suite (group setup). */
static xb_engine *g_ideal, *g_native, *g_spice;

static int engines_setup(void **state)
{
    g_ideal = xb_test_engine("ideal");
    g_native = xb_test_engine("native");
    g_spice = xb_test_engine("spice");
    return 0;
}

static int engines_teardown(void **state)
{
    xb_engine_free(g_ideal);
    xb_engine_free(g_native);
    xb_engine_free(g_spice);
    return 0;
}

/* ---------------------------------------------------------------- helpers */
static uint64_t g_rng = 12345;
static double urand(void) /* [0,1), xorshift64* */
{
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return (double)((g_rng * 2685821657736338717ull) >> 11) * 0x1.0p-53;
}
static float srand1(void) { return (float)(2.0 * urand() - 1.0); }
static float *rand_vec(size_t n, float lo, float hi)
{
    float *v = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) v[i] = lo + (hi - lo) * (float)urand();
    return v;
}

/* ---------------------------------------------------------------- reference forward (double, naive loops) */
typedef struct {
    size_t c, h, w;
    double *d;
} tensor;

static tensor t_new(size_t c, size_t h, size_t w)
{
    tensor t = {c, h, w, calloc(c * h * w, sizeof(double))};
    return t;
}
#define AT(t, ci, y, x) (t).d[((ci) * (t).h + (y)) * (t).w + (x)]

static tensor ref_conv(tensor in, const float *W, const float *b, size_t oc, size_t k, size_t s, size_t p)
{
    size_t oh = (in.h + 2 * p - k) / s + 1, ow = (in.w + 2 * p - k) / s + 1;
    tensor o = t_new(oc, oh, ow);
    for (size_t co = 0; co < oc; co++)
        for (size_t y = 0; y < oh; y++)
            for (size_t x = 0; x < ow; x++) {
                double acc = b ? b[co] : 0.0;
                for (size_t ci = 0; ci < in.c; ci++)
                    for (size_t ky = 0; ky < k; ky++)
                        for (size_t kx = 0; kx < k; kx++) {
                            long iy = (long)(y * s + ky) - (long)p, ix = (long)(x * s + kx) - (long)p;
                            if (iy < 0 || ix < 0 || iy >= (long)in.h || ix >= (long)in.w) continue;
                            acc += (double)W[((co * in.c + ci) * k + ky) * k + kx] * AT(in, ci, iy, ix);
                        }
                AT(o, co, y, x) = acc;
            }
    return o;
}

static tensor ref_pool(tensor in, size_t k, size_t s, int is_max)
{
    size_t oh = (in.h - k) / s + 1, ow = (in.w - k) / s + 1;
    tensor o = t_new(in.c, oh, ow);
    for (size_t c = 0; c < in.c; c++)
        for (size_t y = 0; y < oh; y++)
            for (size_t x = 0; x < ow; x++) {
                double acc = is_max ? -1e300 : 0.0;
                for (size_t ky = 0; ky < k; ky++)
                    for (size_t kx = 0; kx < k; kx++) {
                        double v = AT(in, c, y * s + ky, x * s + kx);
                        acc = is_max ? fmax(acc, v) : acc + v;
                    }
                AT(o, c, y, x) = is_max ? acc : acc / (double)(k * k);
            }
    return o;
}

static void ref_dense(const double *x, size_t n_in, const float *W, const float *b, size_t n_out, double *y)
{
    for (size_t j = 0; j < n_out; j++) {
        double acc = b ? b[j] : 0.0;
        for (size_t i = 0; i < n_in; i++) acc += (double)W[j * n_in + i] * x[i];
        y[j] = acc;
    }
}

/* ---------------------------------------------------------------- 1. ideal forward vs reference */
static void test_ideal_vs_reference(void **state)
{
    /* input 2x9x9 -> conv 3x(2x3x3) stride 2 pad 1 -> relu -> maxpool 2/1 -> conv 4x(3x2x2) s1 p0
     * -> avgpool 2/2 ... keep shapes valid:
     *   conv1: (9+2-3)/2+1 = 5 -> 3x5x5; maxpool k2 s1 -> 3x4x4; conv2 k2 -> 4x3x3;
     *   avgpool k2 s1 -> 4x2x2; flatten 16; dense 16->7; relu; dense 7->5 (no bias); softmax. */
    size_t shape[3] = {2, 9, 9};
    xb_network *net = NULL;
    xb_error err;
    assert_int_equal(xb_network_new(shape, 3, &net, &err), XB_OK);
    float *w1 = rand_vec(3 * 2 * 9, -1, 1), *b1 = rand_vec(3, -0.5f, 0.5f);
    float *w2 = rand_vec(4 * 3 * 4, -1, 1), *b2 = rand_vec(4, -0.5f, 0.5f);
    float *w3 = rand_vec(7 * 16, -1, 1), *b3 = rand_vec(7, -0.5f, 0.5f);
    float *w4 = rand_vec(5 * 7, -1, 1);
    assert_int_equal(xb_network_add_conv2d(net, 3, 2, 3, 3, 2, 1, w1, b1, &err), XB_OK);
    assert_int_equal(xb_network_add(net, XB_LAYER_RELU, &err), XB_OK);
    assert_int_equal(xb_network_add_pool(net, XB_LAYER_MAXPOOL2D, 2, 1, &err), XB_OK);
    assert_int_equal(xb_network_add_conv2d(net, 4, 3, 2, 2, 1, 0, w2, b2, &err), XB_OK);
    assert_int_equal(xb_network_add_pool(net, XB_LAYER_AVGPOOL2D, 2, 1, &err), XB_OK);
    assert_int_equal(xb_network_add(net, XB_LAYER_FLATTEN, &err), XB_OK);
    assert_int_equal(xb_network_add_dense(net, 7, 16, w3, b3, &err), XB_OK);
    assert_int_equal(xb_network_add(net, XB_LAYER_RELU, &err), XB_OK);
    assert_int_equal(xb_network_add_dense(net, 5, 7, w4, NULL, &err), XB_OK);
    assert_int_equal(xb_network_add(net, XB_LAYER_SOFTMAX, &err), XB_OK);
    assert_int_equal(xb_network_output_size(net), 5);

    const size_t n = 6, in_sz = 2 * 81;
    float *x = rand_vec(n * in_sz, -1, 1);
    float **acts = xb_network_acts_new(net, n);
    assert_int_equal(xb_network_forward(net, x, n, acts, &err), XB_OK);
    size_t nl = xb_network_n_layers(net);

    for (size_t s = 0; s < n; s++) {
        tensor in = t_new(2, 9, 9);
        for (size_t i = 0; i < in_sz; i++) in.d[i] = x[s * in_sz + i];
        tensor a1 = ref_conv(in, w1, b1, 3, 3, 2, 1);
        for (size_t i = 0; i < 75; i++) a1.d[i] = a1.d[i] > 0 ? a1.d[i] : 0;
        tensor a2 = ref_pool(a1, 2, 1, 1);
        tensor a3 = ref_conv(a2, w2, b2, 4, 2, 1, 0);
        tensor a4 = ref_pool(a3, 2, 1, 0);
        double h[7], o[5];
        ref_dense(a4.d, 16, w3, b3, 7, h);
        for (size_t j = 0; j < 7; j++) h[j] = h[j] > 0 ? h[j] : 0;
        ref_dense(h, 7, w4, NULL, 5, o);
        /* intermediate: conv2 output (layer 3) and the logits (layer 8) */
        for (size_t i = 0; i < 36; i++) assert_true(fabs(acts[3][s * 36 + i] - a3.d[i]) <= 1e-5 * fmax(1, fabs(a3.d[i])));
        for (size_t j = 0; j < 5; j++) assert_true(fabs(acts[8][s * 5 + j] - o[j]) <= 1e-5 * fmax(1, fabs(o[j])));
        double mx = o[0], sum = 0;
        for (size_t j = 1; j < 5; j++) mx = fmax(mx, o[j]);
        for (size_t j = 0; j < 5; j++) sum += exp(o[j] - mx);
        for (size_t j = 0; j < 5; j++) assert_true(fabs(acts[nl - 1][s * 5 + j] - exp(o[j] - mx) / sum) <= 1e-5);
        free(in.d);
        free(a1.d);
        free(a2.d);
        free(a3.d);
        free(a4.d);
    }
    xb_network_acts_free(acts, nl);
    xb_network_free(net);
    free(x);
    free(w1); free(b1); free(w2); free(b2); free(w3); free(b3); free(w4);
}

/* ---------------------------------------------------------------- 2. tiled dense vs quantization bound */
#define NI 70
#define NO 10
#define NS 40

static xb_network *dense_net(const float *w, const float *b)
{
    size_t shape[1] = {NI};
    xb_network *net = NULL;
    xb_error err;
    assert_int_equal(xb_network_new(shape, 1, &net, &err), XB_OK);
    assert_int_equal(xb_network_add_dense(net, NO, NI, w, b, &err), XB_OK);
    return net;
}

static void tile_cfg(xb_exec_config *c, int dac_bits, int adc_bits)
{
    xb_exec_config_default(c, XB_DEVICE_LINEAR);
    c->tile_rows = 16; /* 70 inputs -> 5 row tiles, the last one 6 rows */
    c->tile_cols = 8;  /* 4 weights per tile -> 3 column tiles, the last one 2 */
    c->dac_bits = dac_bits;
    c->adc_bits = adc_bits;
    c->affine_calibration = 0;
}

/* Run the tiled layer on x (calibrated on the same x); y out (NS x NO). */
static double run_tiled(const xb_network *net, const xb_exec_config *c, const float *x, float *y, xb_exec **keep)
{
    xb_exec *ex = NULL;
    xb_error err;
    assert_int_equal(xb_exec_new(net, c, g_ideal, &ex, &err), XB_OK);
    assert_int_equal(xb_exec_calibrate(ex, x, NS, &err), XB_OK);
    float *acts[1] = {y};
    assert_int_equal(xb_exec_forward(ex, x, NS, acts, &err), XB_OK);
    double xr = xb_exec_dac_range(ex, 0);
    if (keep) *keep = ex;
    else xb_exec_free(ex);
    return xr;
}

static void test_tiled_quantization_bound(void **state)
{
    float *w = malloc(NO * NI * sizeof(float)), *b = rand_vec(NO, -0.3f, 0.3f);
    for (size_t i = 0; i < NO * NI; i++) w[i] = srand1();
    float *x = malloc(NS * NI * sizeof(float));
    for (size_t i = 0; i < NS * NI; i++) x[i] = srand1(); /* signed: two DAC phases */
    xb_network *net = dense_net(w, b);
    /* exact reference in double */
    double *yref = malloc(NS * NO * sizeof(double)), wmax = 0, xr = 0;
    for (size_t s = 0; s < NS; s++) {
        double xd[NI];
        for (size_t i = 0; i < NI; i++) xd[i] = x[s * NI + i];
        ref_dense(xd, NI, w, b, NO, yref + s * NO);
    }
    for (size_t i = 0; i < NO * NI; i++) wmax = fmax(wmax, fabs(w[i]));
    for (size_t i = 0; i < NS * NI; i++) xr = fmax(xr, fabs(x[i]));

    /* (a) no quantization: tiling, differential pairs, two phases and the digital
     *     sums reproduce W x + b up to float rounding. */
    xb_exec_config c;
    float *y = malloc(NS * NO * sizeof(float));
    tile_cfg(&c, 0, 0);
    double xr_cal = run_tiled(net, &c, x, y, NULL);
    assert_true(fabs(xr_cal - xr) <= 1e-6 * xr);
    for (size_t i = 0; i < NS * NO; i++) assert_true(fabs(y[i] - yref[i]) <= 1e-5 * fmax(1, fabs(yref[i])));

    /* (b) DAC 5 bits, ADC 6 bits.  Bound, per output j of sample s:
     *   DAC: every |x_i| <= xr is rounded to a grid of xr/L (L = 2^B - 1): |dx_i| <= xr/(2L),
     *        so the error it causes is at most sum_i |w_ji| xr/(2L);
     *   ADC: per tile, range = max over the calibration vectors of |I+ - I-|; in weight units
     *        (I * w_max xr / (dg v_read)) that is at most  R_t = max_{s,phase,j in tile}
     *        |sum_{i in tile} w_ji x^phase_i| + sum_{i in tile} |w_ji| xr/(2L); the ADC step is
     *        R_t / H (H = 2^(b-1) - 1) and rounding costs <= R_t/(2H) per tile and phase. */
    const int dbits = 5, abits = 6;
    const double L = (1 << dbits) - 1, H = (1 << (abits - 1)) - 1, dx = xr / (2 * L);
    tile_cfg(&c, dbits, abits);
    run_tiled(net, &c, x, y, NULL);
    const size_t R = 16, P = 4, nrt = (NI + R - 1) / R, nct = (NO + P - 1) / P;
    double *Rt = calloc(nrt * nct, sizeof(double));
    for (size_t r = 0; r < nrt; r++)
        for (size_t ct = 0; ct < nct; ct++) {
            double mx = 0, dac_slack = 0;
            for (size_t j = ct * P; j < (ct + 1) * P && j < NO; j++) {
                double sl = 0;
                for (size_t i = r * R; i < (r + 1) * R && i < NI; i++) sl += fabs(w[j * NI + i]) * dx;
                dac_slack = fmax(dac_slack, sl);
                for (size_t s = 0; s < NS; s++)
                    for (int ph = 0; ph < 2; ph++) {
                        double acc = 0;
                        for (size_t i = r * R; i < (r + 1) * R && i < NI; i++) {
                            double xi = ph ? -x[s * NI + i] : x[s * NI + i];
                            acc += w[j * NI + i] * (xi > 0 ? xi : 0);
                        }
                        mx = fmax(mx, fabs(acc));
                    }
            }
            Rt[r * nct + ct] = mx + dac_slack;
        }
    double worst_ratio = 0, sum_err = 0;
    for (size_t s = 0; s < NS; s++)
        for (size_t j = 0; j < NO; j++) {
            double bound = 0;
            for (size_t i = 0; i < NI; i++) bound += fabs(w[j * NI + i]) * dx;
            for (size_t r = 0; r < nrt; r++) bound += 2 * Rt[r * nct + j / P] / (2 * H); /* 2 phases */
            bound += 1e-5 * (1 + fabs(yref[s * NO + j]));
            double e = fabs(y[s * NO + j] - yref[s * NO + j]);
            assert_true(e <= bound);
            worst_ratio = fmax(worst_ratio, e / bound);
            sum_err += e;
        }
    assert_true(sum_err > 0);         /* quantization is really applied */
    print_message("quantization: worst error / bound = %.3f\n", worst_ratio);
    assert_true(worst_ratio > 0.02);  /* and the bound is not vacuous */
    (void)wmax;

    /* (c) finer converters, smaller error */
    double e_coarse = 0, e_fine = 0;
    tile_cfg(&c, 3, 4);
    run_tiled(net, &c, x, y, NULL);
    for (size_t i = 0; i < NS * NO; i++) e_coarse += (y[i] - yref[i]) * (y[i] - yref[i]);
    tile_cfg(&c, 10, 12);
    run_tiled(net, &c, x, y, NULL);
    for (size_t i = 0; i < NS * NO; i++) e_fine += (y[i] - yref[i]) * (y[i] - yref[i]);
    assert_true(e_fine < e_coarse / 100);

    free(Rt);
    free(y);
    free(yref);
    free(x);
    free(w);
    free(b);
    xb_network_free(net);
}

/* ---------------------------------------------------------------- 3. energy and counts */
static void test_energy_closed_form(void **state)
{
    float *w = malloc(NO * NI * sizeof(float)), *b = rand_vec(NO, -0.3f, 0.3f);
    for (size_t i = 0; i < NO * NI; i++) w[i] = srand1();
    float *x = rand_vec(NS * NI, 0.0f, 1.0f); /* non-negative: one phase */
    xb_network *net = dense_net(w, b);
    xb_exec_config c;
    tile_cfg(&c, 0, 7);
    float *y = malloc(NS * NO * sizeof(float));
    xb_exec *ex = NULL;
    double xr = run_tiled(net, &c, x, y, &ex);
    xb_exec_layer_stats st;
    assert_int_equal(xb_exec_get_layer_stats(ex, 0, &st), XB_OK);
    const size_t R = 16, P = 4, C = 8, nrt = 5, nct = 3;
    assert_int_equal(st.n_tiles, nrt * nct);
    assert_true(st.n_vectors == NS && st.n_phases == NS);
    assert_true(st.dac_conversions == (double)NS * NI * nct);
    assert_true(st.adc_conversions == (double)NS * NO * nrt);
    assert_true(st.macs == (double)NS * NI * NO);
    assert_true(fabs(st.latency_s - NS * c.energy.t_mvm_s) <= 1e-20);
    assert_true(fabs(st.e_adc_joule - st.adc_conversions * c.energy.adc_fom_joule_per_step * 128) <= 1e-25);
    /* E = t sum_s sum_i V_si^2 sum_{all columns} G_ij, with V = x v_read / xr and, per input
     * row, sum_j G = nct*C*g_min + dg sum_j |w_ji| / w_max (unused pairs at g_min). */
    const xb_array_params *p = &c.array;
    double wmax = 0, e = 0, dg = p->g_max_siemens - p->g_min_siemens;
    for (size_t i = 0; i < NO * NI; i++) wmax = fmax(wmax, fabs(w[i]));
    for (size_t i = 0; i < NI; i++) {
        double gsum = nct * C * p->g_min_siemens;
        for (size_t j = 0; j < NO; j++) gsum += dg * fabs(w[j * NI + i]) / wmax;
        double v2 = 0;
        for (size_t s = 0; s < NS; s++) {
            double v = x[s * NI + i] / xr * p->v_read_volt;
            v2 += v * v;
        }
        e += v2 * gsum;
    }
    e *= c.energy.t_mvm_s;
    assert_true(fabs(st.e_array_joule - e) <= 1e-9 * e);
    (void)R;
    (void)P;
    xb_exec_free(ex);
    free(y);
    free(x);
    free(w);
    free(b);
    xb_network_free(net);
}

/* ---------------------------------------------------------------- 4. conv through tiles */
static void test_tiled_conv_exact(void **state)
{
    size_t shape[3] = {3, 6, 6};
    xb_network *net = NULL;
    xb_error err;
    assert_int_equal(xb_network_new(shape, 3, &net, &err), XB_OK);
    float *w = rand_vec(5 * 3 * 9, -1, 1), *b = rand_vec(5, -1, 1);
    assert_int_equal(xb_network_add_conv2d(net, 5, 3, 3, 3, 1, 1, w, b, &err), XB_OK);
    assert_int_equal(xb_network_add(net, XB_LAYER_FLATTEN, &err), XB_OK);
    const size_t n = 4, in_sz = 108, out_sz = 180;
    float *x = rand_vec(n * in_sz, -1, 1);
    float **ai = xb_network_acts_new(net, n), **aa = xb_network_acts_new(net, n);
    assert_int_equal(xb_network_forward(net, x, n, ai, &err), XB_OK);
    xb_exec_config c;
    xb_exec_config_default(&c, XB_DEVICE_RRAM);
    c.tile_rows = 8; /* 27 inputs -> 4 row tiles */
    c.tile_cols = 4; /* 2 channels per tile -> 3 column tiles */
    c.dac_bits = c.adc_bits = 0;
    c.affine_calibration = 0;
    xb_exec *ex = NULL;
    assert_int_equal(xb_exec_new(net, &c, g_ideal, &ex, &err), XB_OK);
    assert_int_equal(xb_exec_forward(ex, x, n, aa, &err), XB_EINPUT); /* not calibrated */
    assert_non_null(strstr(err.msg, "calibrat"));
    assert_int_equal(xb_exec_calibrate(ex, x, n, &err), XB_OK);
    assert_int_equal(xb_exec_forward(ex, x, n, aa, &err), XB_OK);
    for (size_t i = 0; i < n * out_sz; i++) assert_true(fabs(aa[1][i] - ai[1][i]) <= 1e-5 * fmax(1, fabs(ai[1][i])));
    xb_exec_layer_stats st;
    xb_exec_get_layer_stats(ex, 0, &st);
    assert_true(st.n_vectors == (double)(n * 36)); /* one vector per output position */
    xb_exec_free(ex);
    xb_network_acts_free(ai, 2);
    xb_network_acts_free(aa, 2);
    free(x);
    free(w);
    free(b);
    xb_network_free(net);
}

/* ---------------------------------------------------------------- affine and residual add layers */
/* input 2x6x6 -> conv 2->2 k3 p1 -> affine -> relu -> add(input) -> conv 2->2 k3 p1 -> add(layer 2)
 * -> flatten -> affine (72 elements) -> dense 72->4: the float forward pass against the double
 * reference, and the executor (exact tiles, no quantization) against the float pass. */
static void test_affine_add_layers(void **state)
{
    size_t shape[3] = {2, 6, 6};
    xb_network *net = NULL;
    xb_error err;
    assert_int_equal(xb_network_new(shape, 3, &net, &err), XB_OK);
    float *w1 = rand_vec(2 * 2 * 9, -1, 1), *b1 = rand_vec(2, -0.5f, 0.5f);
    float *w2 = rand_vec(2 * 2 * 9, -1, 1), *b2 = rand_vec(2, -0.5f, 0.5f);
    float *a1 = rand_vec(2, 0.5f, 2), *s1 = rand_vec(2, -1, 1), *a2 = rand_vec(72, -2, 2), *s2 = rand_vec(72, -1, 1);
    float *w3 = rand_vec(4 * 72, -1, 1), *b3 = rand_vec(4, -0.5f, 0.5f);
    assert_int_equal(xb_network_add_conv2d(net, 2, 2, 3, 3, 1, 1, w1, b1, &err), XB_OK);
    assert_int_equal(xb_network_add_affine(net, a1, s1, &err), XB_OK);
    assert_int_equal(xb_network_add(net, XB_LAYER_RELU, &err), XB_OK);
    assert_int_equal(xb_network_add_residual(net, -1, &err), XB_OK);
    assert_int_equal(xb_network_add_conv2d(net, 2, 2, 3, 3, 1, 1, w2, b2, &err), XB_OK);
    assert_int_equal(xb_network_add_residual(net, 2, &err), XB_OK);
    assert_int_equal(xb_network_add(net, XB_LAYER_FLATTEN, &err), XB_OK);
    assert_int_equal(xb_network_add_affine(net, a2, s2, &err), XB_OK);
    assert_int_equal(xb_network_add_dense(net, 4, 72, w3, b3, &err), XB_OK);
    const size_t nl = xb_network_n_layers(net), n = 5, in_sz = 72;
    assert_int_equal(nl, 9);
    assert_int_equal(xb_network_layer(net, 1)->kind, XB_LAYER_AFFINE);
    assert_int_equal(xb_network_layer(net, 5)->source, 2);
    /* errors: a later or missing source, another shape, no scale, not finite */
    assert_int_equal(xb_network_add_residual(net, 9, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "layer 9 (add): source 9 is not an earlier layer"));
    assert_int_equal(xb_network_add_residual(net, -2, &err), XB_EINPUT);
    assert_int_equal(xb_network_add_residual(net, 3, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "source 3 gives 2x6x6, the input is 4x1x1"));
    assert_int_equal(xb_network_add_affine(net, NULL, NULL, &err), XB_EINPUT);
    float bad[4] = {1, NAN, 1, 1};
    assert_int_equal(xb_network_add_affine(net, bad, NULL, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "layer 9 (affine): channel 1"));
    assert_int_equal(xb_network_add(net, XB_LAYER_ADD, &err), XB_EINPUT); /* needs its source */
    assert_int_equal(xb_network_n_layers(net), nl);

    float *x = rand_vec(n * in_sz, -1, 1);
    float **ai = xb_network_acts_new(net, n), **aa = xb_network_acts_new(net, n);
    assert_int_equal(xb_network_forward(net, x, n, ai, &err), XB_OK);
    for (size_t s = 0; s < n; s++) {
        tensor in = t_new(2, 6, 6);
        for (size_t i = 0; i < in_sz; i++) in.d[i] = x[s * in_sz + i];
        tensor h = ref_conv(in, w1, b1, 2, 3, 1, 1);
        for (size_t i = 0; i < 72; i++) {
            double v = a1[i / 36] * h.d[i] + s1[i / 36];
            h.d[i] = (v > 0 ? v : 0); /* layer 2 */
        }
        tensor r = t_new(2, 6, 6);
        for (size_t i = 0; i < 72; i++) r.d[i] = h.d[i] + in.d[i]; /* layer 3 */
        tensor c2 = ref_conv(r, w2, b2, 2, 3, 1, 1);
        double v[72], o[4];
        for (size_t i = 0; i < 72; i++) v[i] = a2[i] * (c2.d[i] + h.d[i]) + s2[i]; /* layers 5-7 */
        ref_dense(v, 72, w3, b3, 4, o);
        for (size_t i = 0; i < 72; i++) xb_assert_near(ai[3][s * 72 + i], r.d[i], 1e-5, 1e-5);
        for (size_t j = 0; j < 4; j++) xb_assert_near(ai[8][s * 4 + j], o[j], 1e-5, 1e-5);
        free(in.d);
        free(h.d);
        free(r.d);
        free(c2.d);
    }
    xb_exec_config c;
    xb_exec_config_default(&c, XB_DEVICE_RRAM);
    c.tile_rows = 8;
    c.tile_cols = 4;
    c.dac_bits = c.adc_bits = 0;
    c.affine_calibration = 0;
    xb_exec *ex = NULL;
    assert_int_equal(xb_exec_new(net, &c, g_ideal, &ex, &err), XB_OK);
    assert_int_equal(xb_exec_calibrate(ex, x, n, &err), XB_OK);
    assert_int_equal(xb_exec_forward(ex, x, n, aa, &err), XB_OK);
    for (size_t k = 0; k < nl; k++) {
        size_t m = n * xb_layer_out_size(xb_network_layer(net, k));
        for (size_t i = 0; i < m; i++) xb_assert_near(aa[k][i], ai[k][i], 1e-5, 1e-5);
    }
    xb_exec_layer_stats st;
    xb_exec_get_layer_stats(ex, 5, &st);
    assert_true(st.dig_adds == (double)(n * 72)); /* the add's work: one add per value */
    xb_exec_free(ex);
    xb_network_acts_free(ai, nl);
    xb_network_acts_free(aa, nl);
    xb_network_free(net);
    free(x);
    free(w1); free(b1); free(w2); free(b2); free(a1); free(s1); free(a2); free(s2); free(w3); free(b3);
}

/* More vectors than one engine call takes (8192): chunking and two-pass calibration. */
static void test_tiled_conv_chunks(void **state)
{
    size_t shape[3] = {1, 32, 32};
    xb_network *net = NULL;
    xb_error err;
    assert_int_equal(xb_network_new(shape, 3, &net, &err), XB_OK);
    float *w = rand_vec(2 * 9, -1, 1);
    assert_int_equal(xb_network_add_conv2d(net, 2, 1, 3, 3, 1, 1, w, NULL, &err), XB_OK);
    const size_t n = 9, in_sz = 1024, out_sz = 2048; /* 9216 vectors */
    float *x = rand_vec(n * in_sz, 0, 1);
    float *yi = malloc(n * out_sz * sizeof(float)), *ya = malloc(n * out_sz * sizeof(float));
    float *ai[1] = {yi}, *aa[1] = {ya};
    assert_int_equal(xb_network_forward(net, x, n, ai, &err), XB_OK);
    xb_exec_config c;
    xb_exec_config_default(&c, XB_DEVICE_LINEAR);
    c.tile_rows = 4;
    c.tile_cols = 2;
    c.dac_bits = c.adc_bits = 0;
    xb_exec *ex = NULL;
    assert_int_equal(xb_exec_new(net, &c, g_ideal, &ex, &err), XB_OK);
    assert_int_equal(xb_exec_calibrate(ex, x, n, &err), XB_OK);
    assert_int_equal(xb_exec_forward(ex, x, n, aa, &err), XB_OK);
    for (size_t i = 0; i < n * out_sz; i++) assert_true(fabs(ya[i] - yi[i]) <= 1e-5 * fmax(1, fabs(yi[i])));
    xb_exec_free(ex);
    /* quantized: every output within the DAC + ADC bound of 3 row tiles, one phase */
    c.dac_bits = 6;
    c.adc_bits = 8;
    c.affine_calibration = 0;
    assert_int_equal(xb_exec_new(net, &c, g_ideal, &ex, &err), XB_OK);
    assert_int_equal(xb_exec_calibrate(ex, x, n, &err), XB_OK);
    assert_int_equal(xb_exec_forward(ex, x, n, aa, &err), XB_OK);
    double wsum[2] = {0, 0}, xr = xb_exec_dac_range(ex, 0), worst = 0;
    for (size_t co = 0; co < 2; co++)
        for (size_t i = 0; i < 9; i++) wsum[co] += fabs(w[co * 9 + i]);
    for (size_t s = 0; s < n; s++)
        for (size_t co = 0; co < 2; co++) {
            /* ADC range per tile <= 4 rows x max|w| x xr (+ DAC slack); 127 levels a side */
            double wm = 0;
            for (size_t i = 0; i < 9; i++) wm = fmax(wm, fabs(w[co * 9 + i]));
            double bound = wsum[co] * xr / (2 * 63) + 3 * (4 * wm * xr * 1.01) / (2 * 127) + 1e-5;
            for (size_t p = 0; p < 1024; p++) {
                size_t idx = s * out_sz + co * 1024 + p;
                double e = fabs(ya[idx] - yi[idx]);
                assert_true(e <= bound);
                worst = fmax(worst, e);
            }
        }
    assert_true(worst > 0);
    xb_exec_free(ex);
    free(x);
    free(yi);
    free(ya);
    free(w);
    xb_network_free(net);
}

/* ---------------------------------------------------------------- 5. native circuit tiles */
static double native_err(double r_wire, double r_driver)
{
    float w[6 * 12], b[6];
    for (size_t i = 0; i < 72; i++) w[i] = srand1();
    for (size_t i = 0; i < 6; i++) b[i] = srand1();
    size_t shape[1] = {12};
    xb_network *net = NULL;
    xb_error err;
    assert_int_equal(xb_network_new(shape, 1, &net, &err), XB_OK);
    assert_int_equal(xb_network_add_dense(net, 6, 12, w, b, &err), XB_OK);
    const size_t n = 5;
    float *x = rand_vec(n * 12, -1, 1), y_ideal[5 * 6], y_nat[5 * 6];
    float *ai[1] = {y_ideal}, *an[1] = {y_nat};
    xb_exec_config c;
    xb_exec_config_default(&c, XB_DEVICE_LINEAR);
    c.tile_rows = 8;
    c.tile_cols = 8;
    c.dac_bits = c.adc_bits = 0;
    c.affine_calibration = 0;
    c.array.r_wire_row_ohm = c.array.r_wire_col_ohm = r_wire;
    c.array.r_driver_ohm = r_driver;
    c.array.r_sense_ohm = 0;
    xb_exec *exi = NULL, *exn = NULL;
    assert_int_equal(xb_exec_new(net, &c, g_ideal, &exi, &err), XB_OK);
    assert_int_equal(xb_exec_new(net, &c, g_native, &exn, &err), XB_OK);
    assert_int_equal(xb_exec_calibrate(exi, x, n, &err), XB_OK);
    assert_int_equal(xb_exec_calibrate(exn, x, n, &err), XB_OK);
    assert_int_equal(xb_exec_forward(exi, x, n, ai, &err), XB_OK);
    assert_int_equal(xb_exec_forward(exn, x, n, an, &err), XB_OK);
    double num = 0, den = 0;
    for (size_t i = 0; i < n * 6; i++) {
        num += (y_nat[i] - y_ideal[i]) * (y_nat[i] - y_ideal[i]);
        den += y_ideal[i] * y_ideal[i];
    }
    xb_exec_free(exi);
    xb_exec_free(exn);
    xb_network_free(net);
    free(x);
    return sqrt(num / den);
}

static void test_native_tiles(void **state)
{
    double e0 = native_err(0.0, 0.0);
    assert_true(e0 < 1e-6);
    double e1 = native_err(5.0, 500.0);
    print_message("native tiles: rel-L2 vs exact %.3g (no wires), %.3g (5 ohm wires)\n", e0, e1);
    assert_true(e1 > 1e-4); /* IR drop visible */
    assert_true(e1 < 0.2);
}

/* Executor outputs (unquantized, no affine) of one engine on a 12-input, 6-output dense
 * layer with 8x8 tiles (2 row tiles x 2 column tiles), RRAM with 2 ohm wires. */
static void circuit_outputs(xb_engine *eng, size_t tile_cols, float *y)
{
    static float w[6 * 12], b[6], x[5 * 12];
    static int init = 0;
    if (!init) {
        for (size_t i = 0; i < 72; i++) w[i] = srand1();
        for (size_t i = 0; i < 6; i++) b[i] = srand1();
        for (size_t i = 0; i < 60; i++) x[i] = srand1();
        init = 1;
    }
    size_t shape[1] = {12};
    xb_network *net = NULL;
    xb_error err;
    assert_int_equal(xb_network_new(shape, 1, &net, &err), XB_OK);
    assert_int_equal(xb_network_add_dense(net, 6, 12, w, b, &err), XB_OK);
    xb_exec_config c;
    xb_exec_config_default(&c, XB_DEVICE_RRAM);
    c.tile_rows = 8;
    c.tile_cols = tile_cols;
    c.dac_bits = c.adc_bits = 0;
    c.affine_calibration = 0;
    c.array.r_wire_row_ohm = c.array.r_wire_col_ohm = 2.0;
    xb_exec *ex = NULL;
    float *acts[1] = {y};
    assert_int_equal(xb_exec_new(net, &c, eng, &ex, &err), XB_OK);
    int rc = xb_exec_calibrate(ex, x, 5, &err);
    if (rc) print_message("%s\n", err.msg);
    assert_int_equal(rc, XB_OK);
    assert_int_equal(xb_exec_forward(ex, x, 5, acts, &err), XB_OK);
    xb_exec_free(ex);
    xb_network_free(net);
}

/* An engine defined here over another one (its self): program, mvm and release only, so
 * the executor solves tile by tile (no several-tiles-at-once operation). */
static int one_program(void *self, const xb_array_params *p, const xb_matrix *g, void **tile, xb_error *err)
{
    return xb_engine_program(self, p, g, (xb_engine_tile **)tile, err);
}
static int one_mvm(void *self, void *tile, const xb_matrix *v, xb_matrix *i_out, xb_error *err)
{
    return xb_engine_mvm(tile, v, i_out, err);
}
static void one_release(void *self, void *tile) { xb_engine_tile_free(tile); }
static const xb_engine_class k_one_by_one = {"one-by-one", "inner engine, one tile at a time", 0, NULL};

/* ngspice tiles (second implementation of the circuit) == native tiles; the column
 * tiles of a row band solved together (mvm_multi, worker pool) == one by one. */
static void test_spice_tiles(void **state)
{
    float y_nat[30], y_sp[30], y_sp1[30], y_id[30];
    circuit_outputs(g_ideal, 8, y_id);
    circuit_outputs(g_native, 8, y_nat);
    assert_true(xb_engine_provides(g_spice, XB_ENGINE_OP_MVM_MULTI));
    circuit_outputs(g_spice, 8, y_sp); /* 2 column tiles: mvm_multi */
    const xb_engine_ops ops = {.program = one_program, .mvm = one_mvm, .release = one_release};
    xb_engine *one = NULL;
    xb_error err;
    assert_int_equal(xb_engine_wrap(&k_one_by_one, &ops, g_spice, 0, &one, &err), XB_OK);
    assert_false(xb_engine_provides(one, XB_ENGINE_OP_MVM_MULTI));
    circuit_outputs(one, 8, y_sp1); /* one ngspice run per tile */
    xb_engine_free(one);
    double e_nat = xb_test_rel_l2f(y_nat, y_id, 30), e_sp = xb_test_rel_l2f(y_sp, y_nat, 30), e_sp1 = xb_test_rel_l2f(y_sp1, y_sp, 30);
    print_message("spice tiles: native vs exact %.3g, spice vs native %.3g, multi vs single %.3g\n", e_nat, e_sp,
                  e_sp1);
    assert_true(e_nat > 1e-3);           /* the circuit differs from I = V G ... */
    assert_true(e_sp < 1e-3 * e_nat);    /* ... and both circuit engines agree */
    assert_true(e_sp1 < 1e-9);
}

/* A user-defined engine through the engine interface: exact V G, then a gain of 0.8 and a
 * per-column offset (0.3 uA x column index) -- a per-column affine distortion of every
 * pair's I+ - I-.  Its optional operations report 50 ns per MVM and 1 pJ per call. */
static int dist_program(void *self, const xb_array_params *p, const xb_matrix *g, void **tile, xb_error *err)
{
    xb_matrix *c = xb_matrix_new(g->rows, g->cols);
    memcpy(c->data, g->data, g->rows * g->cols * sizeof(double));
    *tile = c;
    return XB_OK;
}
static void dist_release(void *self, void *tile) { xb_matrix_free(tile); }
static int dist_mvm(void *ctx, void *tile, const xb_matrix *v, xb_matrix *i_out, xb_error *err)
{
    const xb_matrix *g = tile;
    for (size_t k = 0; k < v->rows; k++)
        for (size_t j = 0; j < g->cols; j++) {
            double acc = 0;
            for (size_t i = 0; i < g->rows; i++) acc += v->data[k * v->cols + i] * g->data[i * g->cols + j];
            i_out->data[k * i_out->cols + j] = 0.8 * acc + 0.3e-6 * (double)j;
        }
    return XB_OK;
}
static double dist_time(void *ctx, void *tile) { return 50e-9; }
static int dist_energy(void *ctx, void *tile, const xb_matrix *v, const xb_matrix *i, double *e)
{
    *e = 1e-12;
    return XB_OK;
}

static void test_affine_calibration(void **state)
{
    float *w = malloc(NO * NI * sizeof(float)), *b = rand_vec(NO, -0.3f, 0.3f);
    for (size_t i = 0; i < NO * NI; i++) w[i] = srand1();
    float *x = rand_vec(NS * NI, 0.0f, 1.0f);
    xb_network *net = dense_net(w, b);
    double yref[NS * NO];
    for (size_t s = 0; s < NS; s++) {
        double xd[NI];
        for (size_t i = 0; i < NI; i++) xd[i] = x[s * NI + i];
        ref_dense(xd, NI, w, b, NO, yref + s * NO);
    }
    static const xb_engine_class k_dist = {"distorted", "exact V G, gain and per-column offset", 0, NULL};
    const xb_engine_ops ops = {.program = dist_program, .mvm = dist_mvm, .release = dist_release,
                               .read_time_s = dist_time, .array_energy = dist_energy};
    xb_engine *dist = NULL;
    xb_error err;
    assert_int_equal(xb_engine_wrap(&k_dist, &ops, NULL, XB_ENGINE_CAP_DETERMINISTIC, &dist, &err), XB_OK);
    xb_exec_config c;
    tile_cfg(&c, 0, 0);
    float y_off[NS * NO], y_on[NS * NO];
    xb_exec *ex = NULL;
    float *a1[1] = {y_off}, *a2[1] = {y_on};
    assert_int_equal(xb_exec_new(net, &c, dist, &ex, &err), XB_OK);
    assert_int_equal(xb_exec_calibrate(ex, x, NS, &err), XB_OK);
    assert_int_equal(xb_exec_forward(ex, x, NS, a1, &err), XB_OK);
    xb_exec_layer_stats st;
    xb_exec_get_layer_stats(ex, 0, &st);
    assert_true(fabs(st.latency_s - NS * 50e-9) < 1e-18);            /* engine's settling time */
    assert_true(fabs(st.e_array_joule - 15 * 1e-12) < 1e-24);        /* 15 tiles x 1 call x 1 pJ */
    xb_exec_free(ex);
    c.affine_calibration = 1;
    assert_int_equal(xb_exec_new(net, &c, dist, &ex, &err), XB_OK);
    assert_int_equal(xb_exec_calibrate(ex, x, NS, &err), XB_OK);
    assert_int_equal(xb_exec_forward(ex, x, NS, a2, &err), XB_OK);
    xb_exec_free(ex);
    xb_engine_free(dist);
    double e_off = 0, e_on = 0, ref = 0;
    for (size_t i = 0; i < NS * NO; i++) {
        e_off += (y_off[i] - yref[i]) * (y_off[i] - yref[i]);
        e_on += (y_on[i] - yref[i]) * (y_on[i] - yref[i]);
        ref += yref[i] * yref[i];
    }
    print_message("affine calibration: rel-L2 %.3g without, %.3g with\n", sqrt(e_off / ref), sqrt(e_on / ref));
    assert_true(sqrt(e_off / ref) > 0.1);  /* the distortion is large */
    assert_true(sqrt(e_on / ref) < 1e-4);  /* a per-column affine map undoes it exactly */
    free(w);
    free(b);
    free(x);
    xb_network_free(net);
}

/* The fitted-model tile engine (here the fit stage's nominal, unfitted parameters) is a
 * reduced-order circuit model: much closer to the exact circuit (native) than I = V G. */
static void test_model_tiles(void **state)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_RRAM);
    p.rows = p.cols = 8;
    p.r_wire_row_ohm = p.r_wire_col_ohm = 2.0;
    p.diff_pairs = 1;
    xb_fit_params m;
    xb_fit_params_nominal(&m, &p);
    xb_error err;
    xb_engine *em = xb_test_model_engine(&m, 0, 1, 0);
    float y_id[30], y_nat[30], y_mod[30];
    circuit_outputs(g_ideal, 8, y_id);
    circuit_outputs(g_native, 8, y_nat);
    circuit_outputs(em, 8, y_mod);
    double e_ideal = xb_test_rel_l2f(y_id, y_nat, 30), e_model = xb_test_rel_l2f(y_mod, y_nat, 30);
    print_message("model tiles: vs native %.3g (exact I = V G: %.3g)\n", e_model, e_ideal);
    assert_true(e_model < 0.2 * e_ideal);
    /* a model for another array size is refused when the tiles are programmed */
    xb_engine_free(em);
    p.rows = p.cols = 16;
    xb_fit_params_nominal(&m, &p);
    em = xb_test_model_engine(&m, 0, 1, 0);
    float w[4] = {1, 2, 3, 4};
    size_t shape[1] = {2};
    xb_network *net = NULL;
    assert_int_equal(xb_network_new(shape, 1, &net, &err), XB_OK);
    assert_int_equal(xb_network_add_dense(net, 2, 2, w, NULL, &err), XB_OK);
    xb_exec_config c;
    xb_exec_config_default(&c, XB_DEVICE_RRAM);
    c.tile_rows = c.tile_cols = 8;
    xb_exec *ex = NULL;
    assert_int_equal(xb_exec_new(net, &c, em, &ex, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "model is for 16x16 arrays"));
    xb_network_free(net);
    xb_engine_free(em);
}

/* Fused calibration + evaluation == calibrate then forward: outputs and statistics. */
static void check_fused(const xb_network *net, const xb_exec_config *c, const float *xc, size_t nc, const float *x,
                        size_t n)
{
    size_t nl = xb_network_n_layers(net);
    float **a1 = xb_network_acts_new(net, n), **a2 = xb_network_acts_new(net, n);
    xb_exec *e1 = NULL, *e2 = NULL;
    xb_error err;
    assert_int_equal(xb_exec_new(net, c, g_ideal, &e1, &err), XB_OK);
    assert_int_equal(xb_exec_new(net, c, g_ideal, &e2, &err), XB_OK);
    assert_int_equal(xb_exec_calibrate(e1, xc, nc, &err), XB_OK);
    assert_int_equal(xb_exec_forward(e1, x, n, a1, &err), XB_OK);
    assert_int_equal(xb_exec_calibrate_forward(e2, xc, nc, x, n, a2, &err), XB_OK);
    for (size_t k = 0; k < nl; k++) {
        size_t sz = n * xb_layer_out_size(xb_network_layer(net, k));
        for (size_t i = 0; i < sz; i++) assert_true(fabs(a1[k][i] - a2[k][i]) <= 1e-5 * fmax(1, fabs(a1[k][i])));
        xb_exec_layer_stats s1, s2;
        xb_exec_get_layer_stats(e1, k, &s1);
        xb_exec_get_layer_stats(e2, k, &s2);
        const double v1[] = {s1.n_vectors, s1.n_phases, s1.n_tile_reads, s1.dac_conversions, s1.adc_conversions,
                             s1.dig_adds, s1.dig_muls, s1.e_array_joule, s1.latency_s, s1.macs};
        const double v2[] = {s2.n_vectors, s2.n_phases, s2.n_tile_reads, s2.dac_conversions, s2.adc_conversions,
                             s2.dig_adds, s2.dig_muls, s2.e_array_joule, s2.latency_s, s2.macs};
        for (size_t q = 0; q < sizeof v1 / sizeof v1[0]; q++) {
            if (fabs(v1[q] - v2[q]) > 1e-9 * fabs(v1[q])) print_message("layer %zu stat %zu: %g vs %g\n", k, q, v1[q], v2[q]);
            assert_true(fabs(v1[q] - v2[q]) <= 1e-9 * fabs(v1[q]));
        }
    }
    xb_exec_free(e1);
    xb_exec_free(e2);
    xb_network_acts_free(a1, nl);
    xb_network_acts_free(a2, nl);
}

static void test_fused_calibration(void **state)
{
    /* dense, signed inputs (two phases), quantized, affine on */
    float *w = malloc(NO * NI * sizeof(float)), *b = rand_vec(NO, -0.3f, 0.3f);
    for (size_t i = 0; i < NO * NI; i++) w[i] = srand1();
    float *xc = rand_vec(NS * NI, -1, 1), *x = rand_vec(7 * NI, -1.2f, 1.2f); /* some clipping */
    xb_network *net = dense_net(w, b);
    xb_exec_config c;
    tile_cfg(&c, 6, 7);
    c.affine_calibration = 1;
    check_fused(net, &c, xc, NS, x, 7);
    xb_network_free(net);
    free(w);
    free(b);
    free(xc);
    free(x);
    /* conv + relu + dense with more vectors than one chunk (two-pass path) */
    size_t shape[3] = {1, 32, 32};
    assert_int_equal(xb_network_new(shape, 3, &net, NULL), XB_OK);
    float *wc = rand_vec(2 * 9, -1, 1), *wd = rand_vec(3 * 8, -1, 1);
    assert_int_equal(xb_network_add_conv2d(net, 2, 1, 3, 3, 2, 1, wc, NULL, NULL), XB_OK); /* 2x16x16 */
    assert_int_equal(xb_network_add(net, XB_LAYER_RELU, NULL), XB_OK);
    assert_int_equal(xb_network_add_pool(net, XB_LAYER_AVGPOOL2D, 8, 8, NULL), XB_OK); /* 2x2x2 */
    assert_int_equal(xb_network_add(net, XB_LAYER_FLATTEN, NULL), XB_OK);
    assert_int_equal(xb_network_add_dense(net, 3, 8, wd, NULL, NULL), XB_OK);
    xc = rand_vec(40 * 1024, 0, 1); /* 40 x 256 = 10240 calibration vectors in the conv */
    x = rand_vec(3 * 1024, 0, 1);
    xb_exec_config_default(&c, XB_DEVICE_PCM);
    c.tile_rows = 4;
    c.tile_cols = 2;
    check_fused(net, &c, xc, 40, x, 3);
    xb_network_free(net);
    free(wc);
    free(wd);
    free(xc);
    free(x);
}

static void test_config_errors(void **state)
{
    xb_exec_config c;
    xb_error err;
    xb_exec_config_default(&c, XB_DEVICE_PCM);
    assert_int_equal(xb_exec_config_check(&c, &err), XB_OK);
    c.tile_cols = 7;
    assert_int_equal(xb_exec_config_check(&c, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "--tile-cols"));
    xb_exec_config_default(&c, XB_DEVICE_PCM);
    c.adc_bits = 1;
    assert_int_equal(xb_exec_config_check(&c, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "--adc-bits"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ideal_vs_reference),
        cmocka_unit_test(test_tiled_quantization_bound),
        cmocka_unit_test(test_energy_closed_form),
        cmocka_unit_test(test_tiled_conv_exact),
        cmocka_unit_test(test_affine_add_layers),
        cmocka_unit_test(test_tiled_conv_chunks),
        cmocka_unit_test(test_native_tiles),
        cmocka_unit_test(test_spice_tiles),
        cmocka_unit_test(test_affine_calibration),
        cmocka_unit_test(test_model_tiles),
        cmocka_unit_test(test_fused_calibration),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, engines_setup, engines_teardown);
}
