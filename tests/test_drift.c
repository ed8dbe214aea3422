/* Drift and read noise over time after programming (src/netlist/drift.c) and the
 * executor's drift / global drift compensation (xb_exec_set_time).
 *  - PCM drift exponents from many cells: sample mean and std of
 *    nu_hat = -ln(G(t)/G_prog)/ln(t/t0) against mu_nu(g_T), sigma_nu(g_T) (the aihwkit laws,
 *    written again here), within 5 standard errors; at g_T = 0.01 the truncation at 0 is
 *    checked with the censored-normal mean/variance closed form;
 *  - t = t0 gives G_prog exactly; seeds reproduce, different seeds differ;
 *  - PCM 1/f read-noise sigma against G Q_s sqrt(ln((t+t_read)/(2 t_read)));
 *  - RRAM CMO decay mean/std in ln(t/t0); ECRAM unchanged;
 *  - executor: with every nu = 0.05 on exact tiles (no DAC/ADC quantization, no affine), the
 *    outputs at t are exactly (t/t0)^-nu times those at t0; the compensation undoes it;
 *  - CLI: --time -1, --time 1x -> one-line error, exit 2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "support/xb_test.h"
#include "xbar/exec.h"
#include "xbar/fit.h"
#include "xbar/netlist.h"

/* the laws of Joshi 2020 / aihwkit PCMLikeNoiseModel, independently of drift.c */
static double mu_nu(double gt) { return fmin(fmax(-0.0155 * log(gt) + 0.0244, 0.049), 0.1); }
static double sig_nu(double gt) { return fmin(fmax(-0.0125 * log(gt) - 0.0059, 0.008), 0.045); }
static double phi(double x) { return exp(-0.5 * x * x) / sqrt(2 * M_PI); }
static double Phi(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

static xb_matrix *filled(size_t r, size_t c, double v)
{
    xb_matrix *m = xb_matrix_new(r, c);
    assert_non_null(m);
    for (size_t i = 0; i < r * c; i++) m->data[i] = v;
    return m;
}

/* Mean and variance of max(0, N(mu, sg^2)) (the drift exponent, censored at 0):
 * E = mu Phi(a) + s phi(a), E[Y^2] = (mu^2 + s^2) Phi(a) + mu s phi(a), a = mu / s. */
static void censored_moments(double mu, double sg, double *mean, double *var)
{
    const double a = mu / sg;
    *mean = mu * Phi(a) + sg * phi(a);
    *var = (mu * mu + sg * sg) * Phi(a) + mu * sg * phi(a) - *mean * *mean;
}

/* sample mean and std of the estimated drift exponents */
static void nu_stats(const xb_matrix *g0, const xb_matrix *gt, double t, double *mean, double *sd)
{
    size_t n = g0->rows * g0->cols;
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        double nu = -log(gt->data[i] / g0->data[i]) / log(t / XB_DRIFT_T0_S);
        s += nu;
        s2 += nu * nu;
    }
    *mean = s / (double)n;
    *sd = sqrt((s2 - s * s / (double)n) / (double)(n - 1));
}

static void test_pcm_nu_statistics(void **state)
{
    (void)state;
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_PCM);
    const double t = 3600.0;
    const size_t N = 20000;
    const double gts[] = {0.5, 0.1};
    for (size_t k = 0; k < 2; k++) {
        double gt = gts[k];
        xb_matrix *g0 = filled(100, N / 100, gt * p.g_max_siemens), *g = xb_matrix_new(100, N / 100);
        xb_error err;
        assert_int_equal(xb_netlist_drift(&p, g0, t, 7 + k, -1.0, g, &err), XB_OK);
        double m, sd;
        nu_stats(g0, g, t, &m, &sd);
        /* truncation at 0 is > 2 sigma away for these g_T: a P < 0.01 effect, still use the
         * censored-normal moments so the bound is exact */
        double em, var;
        censored_moments(mu_nu(gt), sig_nu(gt), &em, &var);
        double se_m = sqrt(var / (double)N), se_s = sqrt(var / (2.0 * (double)N)) * 1.5;
        xb_assert_near(m, em, 0, 5 * se_m);
        xb_assert_near(sd, sqrt(var), 0, 5 * se_s);
        xb_matrix_free(g0);
        xb_matrix_free(g);
    }
}

static void test_pcm_nu_truncated(void **state)
{
    (void)state;
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_PCM);
    const double gt = 0.01, t = 86400.0;
    const size_t N = 40000;
    xb_matrix *g0 = filled(200, N / 200, gt * p.g_max_siemens), *g = xb_matrix_new(200, N / 200);
    xb_error err;
    assert_int_equal(xb_netlist_drift(&p, g0, t, 99, -1.0, g, &err), XB_OK);
    double em, var;
    censored_moments(mu_nu(gt), sig_nu(gt), &em, &var);
    double m, sd;
    nu_stats(g0, g, t, &m, &sd);
    xb_assert_near(m, em, 0, 5 * sqrt(var / (double)N));
    size_t zeros = 0;
    for (size_t i = 0; i < N; i++) zeros += g->data[i] == g0->data[i];
    double pz = Phi(-mu_nu(gt) / sig_nu(gt)); /* P(nu <= 0) */
    xb_assert_near((double)zeros / (double)N, pz, 0, 5 * sqrt(pz * (1 - pz) / (double)N));
    assert_true(zeros > 0);
    xb_matrix_free(g0);
    xb_matrix_free(g);
}

static void test_t0_and_seeds(void **state)
{
    (void)state;
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_PCM);
    xb_matrix *g0 = xb_matrix_new(8, 8), *a = xb_matrix_new(8, 8), *b = xb_matrix_new(8, 8);
    for (size_t i = 0; i < 64; i++) g0->data[i] = p.g_min_siemens + (p.g_max_siemens - p.g_min_siemens) * (double)i / 63.0;
    xb_error err;
    assert_int_equal(xb_netlist_drift(&p, g0, XB_DRIFT_T0_S, 1, -1.0, a, &err), XB_OK);
    for (size_t i = 0; i < 64; i++) assert_true(a->data[i] == g0->data[i]);
    assert_int_equal(xb_netlist_drift(&p, g0, 1e6, 5, -1.0, a, &err), XB_OK);
    assert_int_equal(xb_netlist_drift(&p, g0, 1e6, 5, -1.0, b, &err), XB_OK);
    assert_memory_equal(a->data, b->data, 64 * sizeof(double));
    assert_int_equal(xb_netlist_drift(&p, g0, 1e6, 6, -1.0, b, &err), XB_OK);
    size_t same = 0;
    for (size_t i = 0; i < 64; i++) same += a->data[i] == b->data[i];
    assert_true(same < 8);
    /* a fixed exponent: the closed form */
    assert_int_equal(xb_netlist_drift(&p, g0, 1e6, 6, 0.07, b, &err), XB_OK);
    for (size_t i = 0; i < 64; i++) xb_assert_near(b->data[i], g0->data[i] * pow(1e6 / 20.0, -0.07), 0, 1e-12 * g0->data[i] + 1e-30);
    /* bad time */
    assert_int_equal(xb_netlist_drift(&p, g0, 0.0, 6, -1.0, b, &err), XB_EINPUT);
    assert_int_equal(xb_netlist_drift(&p, g0, -5.0, 6, -1.0, b, &err), XB_EINPUT);
    xb_matrix_free(g0);
    xb_matrix_free(a);
    xb_matrix_free(b);
}

static void test_pcm_read_noise(void **state)
{
    (void)state;
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_PCM);
    const double gt = 0.2, t = 3620.0;
    const size_t N = 20000;
    xb_matrix *g0 = filled(100, N / 100, gt * p.g_max_siemens), *gd = xb_matrix_new(100, N / 100),
              *gr = xb_matrix_new(100, N / 100);
    xb_error err;
    assert_int_equal(xb_netlist_drift(&p, g0, t, 3, -1.0, gd, &err), XB_OK);
    assert_int_equal(xb_netlist_read_noise(&p, g0, gd, t, 4, gr, &err), XB_OK);
    double qs = fmin(0.0088 / fmax(pow(gt, 0.65), 1e-3), 0.2);
    double rel = qs * sqrt(log((t + 250e-9) / (2 * 250e-9)));
    double s = 0, s2 = 0;
    for (size_t i = 0; i < N; i++) {
        double z = (gr->data[i] - gd->data[i]) / gd->data[i];
        s += z;
        s2 += z * z;
    }
    double m = s / (double)N, sd = sqrt((s2 - s * s / (double)N) / (double)(N - 1));
    xb_assert_below(fabs(m), 5 * rel / sqrt((double)N));
    xb_assert_near(sd, rel, 0, 5 * rel / sqrt(2.0 * (double)N));
    /* IBM PCM model (Joshi et al., Nat. Commun. 11, 2473, 2020): 11.9 % at g_T = 0.2, 1 h after
     * the first read (reference table in docs/physics.md "PCM drift and read-noise statistics") */
    xb_assert_near(rel, 0.119, 0, 0.001);
    xb_matrix_free(g0);
    xb_matrix_free(gd);
    xb_matrix_free(gr);
}

static void test_rram_ecram(void **state)
{
    (void)state;
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_RRAM);
    const double t = 1e5, l = log(t / 20.0);
    const size_t N = 20000;
    xb_matrix *g0 = filled(100, N / 100, 20e-6), *g = xb_matrix_new(100, N / 100);
    xb_error err;
    assert_int_equal(xb_netlist_drift(&p, g0, t, 11, -1.0, g, &err), XB_OK);
    double s = 0, s2 = 0;
    for (size_t i = 0; i < N; i++) {
        double d = g->data[i] - g0->data[i];
        s += d;
        s2 += d * d;
    }
    double m = s / (double)N, sd = sqrt((s2 - s * s / (double)N) / (double)(N - 1));
    double em = -0.089e-6 * l, es = 0.042e-6 * l;
    xb_assert_near(m, em, 0, 5 * es / sqrt((double)N));
    xb_assert_near(sd, es, 0, 5 * es / sqrt(2.0 * (double)N));
    xb_array_params_default(&p, XB_DEVICE_ECRAM);
    assert_int_equal(xb_netlist_drift(&p, g0, t, 11, -1.0, g, &err), XB_OK);
    assert_memory_equal(g->data, g0->data, N * sizeof(double));
    xb_matrix_free(g0);
    xb_matrix_free(g);
}

/* exact tiles, nu fixed: outputs scale by (t/t0)^-nu, compensation restores them */
static void test_exec_drift_closed_form(void **state)
{
    (void)state;
    const size_t n_in = 10, n_out = 6, n = 5;
    uint64_t s = 42;
    float w[60], x[50];
    for (size_t i = 0; i < 60; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        w[i] = (float)((double)(s >> 11) * 0x1.0p-53 * 2.0 - 1.0);
    }
    for (size_t i = 0; i < 50; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((double)(s >> 11) * 0x1.0p-53);
    }
    size_t shape[1] = {n_in};
    xb_network *net = NULL;
    xb_error err;
    assert_int_equal(xb_network_new(shape, 1, &net, &err), XB_OK);
    assert_int_equal(xb_network_add_dense(net, n_out, n_in, w, NULL, &err), XB_OK);
    xb_exec_config cfg;
    xb_exec_config_default(&cfg, XB_DEVICE_PCM);
    cfg.tile_rows = 4;
    cfg.tile_cols = 4; /* 3 x 3 tiles */
    cfg.dac_bits = cfg.adc_bits = 0;
    cfg.affine_calibration = 0;
    cfg.drift_fixed_nu = 1;
    cfg.drift_nu = 0.05;
    xb_engine *eng = xb_test_engine("ideal");
    xb_exec *ex = NULL;
    assert_int_equal(xb_exec_new(net, &cfg, eng, &ex, &err), XB_OK);
    assert_int_equal(xb_exec_calibrate(ex, x, n, &err), XB_OK);
    float y0[30], y1[30], y2[30], y3[30];
    float *a0[1] = {y0}, *a1[1] = {y1}, *a2[1] = {y2}, *a3[1] = {y3};
    assert_int_equal(xb_exec_forward(ex, x, n, a0, &err), XB_OK);
    const double t = 86400.0 * 365.25, f = pow(t / 20.0, -0.05);
    assert_int_equal(xb_exec_set_time(ex, t, 0, &err), XB_OK);
    assert_int_equal(xb_exec_forward(ex, x, n, a1, &err), XB_OK);
    assert_int_equal(xb_exec_set_time(ex, t, 1, &err), XB_OK);
    xb_assert_near(xb_exec_drift_alpha(ex, 0, 4), 1.0 / f, 0, 1e-9);
    assert_int_equal(xb_exec_forward(ex, x, n, a2, &err), XB_OK);
    assert_int_equal(xb_exec_set_time(ex, 20.0, 0, &err), XB_OK);
    assert_int_equal(xb_exec_forward(ex, x, n, a3, &err), XB_OK);
    double ymax = 0;
    for (size_t i = 0; i < 30; i++) ymax = fmax(ymax, fabs(y0[i]));
    assert_true(ymax > 0.1 && f < 0.6);
    for (size_t i = 0; i < 30; i++) {
        xb_assert_near(y1[i], f * y0[i], 0, 1e-5 * ymax);
        xb_assert_near(y2[i], y0[i], 0, 1e-5 * ymax);
        xb_assert_near(y3[i], y0[i], 0, 1e-5 * ymax);
    }
    assert_int_equal(xb_exec_set_time(ex, -1.0, 1, &err), XB_EINPUT);
    xb_exec_free(ex);
    xb_engine_free(eng);
    xb_network_free(net);
}

static void test_parse_time(void **state)
{
    (void)state;
    xb_error err;
    double t = 0;
    assert_int_equal(xb_exec_parse_time("1h", "--time", &t, &err), XB_OK);
    assert_true(t == 3600.0);
    assert_int_equal(xb_exec_parse_time("2.5m", "--time", &t, &err), XB_OK);
    assert_true(t == 150.0);
    assert_int_equal(xb_exec_parse_time("1y", "--time", &t, &err), XB_OK);
    assert_true(t == 31557600.0);
    assert_int_equal(xb_exec_parse_time("7", "--time", &t, &err), XB_OK);
    assert_true(t == 7.0);
    assert_int_equal(xb_exec_parse_time("1x", "--time", &t, &err), XB_EINPUT);
    xb_assert_contains(err.msg, "--time");
    assert_int_equal(xb_exec_parse_time("-1", "--time", &t, &err), XB_EINPUT);
    assert_int_equal(xb_exec_parse_time("0d", "--time", &t, &err), XB_EINPUT);
}

static void test_cli_bad_time(void **state)
{
    (void)state;
    const char *bad[] = {"-1", "1x"};
    for (size_t k = 0; k < 2; k++) {
        char *argv[] = {"xbar", "run", "--network", XB_SOURCE_DIR "/data/fmnist_mlp.h5", "--time", (char *)bad[k], NULL};
        xb_test_xbar_fails(2, argv, "xbar run: --time");
    }
}

/* read noise per MVM through the executor: one input repeated K times on one exact tile;
 * the sample variance of each output against (w_max/dg)^2 sum_i x_i^2 (s+^2 + s-^2),
 * s = G(t) Q_s(g_prog) sqrt(ln((t+t_read)/(2 t_read))), derived here */
static void check_exec_read_noise(int use_model)
{
    const size_t n_in = 4, n_out = 2, K = 4000;
    const float w[8] = {0.9f, -0.4f, 0.2f, -1.0f, -0.3f, 0.7f, 0.5f, 0.1f};
    const float x1[4] = {0.8f, 0.5f, 1.0f, 0.3f};
    size_t shape[1] = {n_in};
    xb_network *net = NULL;
    xb_error err;
    assert_int_equal(xb_network_new(shape, 1, &net, &err), XB_OK);
    assert_int_equal(xb_network_add_dense(net, n_out, n_in, w, NULL, &err), XB_OK);
    xb_exec_config cfg;
    xb_exec_config_default(&cfg, XB_DEVICE_PCM);
    cfg.tile_rows = 4;
    cfg.tile_cols = 4;
    cfg.dac_bits = cfg.adc_bits = 0;
    cfg.affine_calibration = 0;
    cfg.drift_fixed_nu = 1;
    cfg.drift_nu = 0.05;
    cfg.drift_read_noise = 1;
    xb_engine *eng = NULL;
    if (use_model) {
        /* the model engine's fast path: the pair variances through a second GEMM */
        xb_array_params tp = cfg.array;
        tp.rows = tp.cols = 4;
        tp.diff_pairs = 1;
        xb_fit_params fm;
        xb_fit_params_nominal(&fm, &tp);
        eng = xb_test_model_engine(&fm, 0, 1, 0);
    } else {
        eng = xb_test_engine("ideal");
    }
    xb_exec *ex = NULL;
    assert_int_equal(xb_exec_new(net, &cfg, eng, &ex, &err), XB_OK);
    float *x = malloc(K * n_in * sizeof(float)), *y = malloc(K * n_out * sizeof(float));
    for (size_t k = 0; k < K; k++) memcpy(x + k * n_in, x1, sizeof x1);
    assert_int_equal(xb_exec_calibrate(ex, x, 8, &err), XB_OK);
    float y0[2 * 8];
    float *a0[1] = {y0}, *a1[1] = {y};
    assert_int_equal(xb_exec_forward(ex, x, 8, a0, &err), XB_OK);
    assert_true(y0[0] == y0[2] && y0[1] == y0[3]); /* no noise at t0 */
    const double t = 3600.0, f = pow(t / 20.0, -0.05);
    assert_int_equal(xb_exec_set_time(ex, t, 0, &err), XB_OK);
    assert_int_equal(xb_exec_forward(ex, x, K, a1, &err), XB_OK);
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_PCM);
    const double gmin = p.g_min_siemens, gmax = p.g_max_siemens, dg = gmax - gmin, wmax = 1.0;
    const double ln = sqrt(log((t + 250e-9) / (2 * 250e-9)));
    for (size_t j = 0; j < n_out; j++) {
        double var = 0;
        for (size_t i = 0; i < n_in; i++) {
            double ww = w[j * n_in + i] / wmax;
            double gp[2] = {gmin + dg * (ww > 0 ? ww : 0), gmin + dg * (ww < 0 ? -ww : 0)};
            for (int h = 0; h < 2; h++) {
                double qs = fmin(0.0088 / fmax(pow(gp[h] / gmax, 0.65), 1e-3), 0.2);
                double sg = gp[h] * f * qs * ln;
                var += (double)x1[i] * x1[i] * sg * sg;
            }
        }
        var *= (wmax / dg) * (wmax / dg);
        double s = 0, s2 = 0;
        for (size_t k = 0; k < K; k++) {
            s += y[k * n_out + j];
            s2 += (double)y[k * n_out + j] * y[k * n_out + j];
        }
        double m = s / (double)K, v = (s2 - s * s / (double)K) / (double)(K - 1);
        if (!use_model) /* (nonlinear PCM cells: the drifted mean is not f x the t0 one) */
            xb_assert_near(m, f * y0[j], 0, 5 * sqrt(var / (double)K));
        print_message("%s: output %zu variance / closed form %.4f\n", use_model ? "model (fast path)" : "exact tiles",
                      j, v / var);
        xb_assert_near(v / var, 1.0, 0, 5 * sqrt(2.0 / (double)(K - 1)));
    }
    free(x);
    free(y);
    xb_exec_free(ex);
    xb_engine_free(eng);
    xb_network_free(net);
}

static void test_exec_read_noise(void **state)
{
    (void)state;
    check_exec_read_noise(0);
    check_exec_read_noise(1);
}

/* the sweep's no-compensation / compensation accuracies equal single --time runs (a second
 * code path: xbar run --time T [--no-drift-compensation] --json) and the report plots them */
/* the sweep's no-compensation / compensation accuracies equal single --time runs (a second
 * code path: xbar run --time T [--no-drift-compensation] --json) and the report plots them */
static void test_cli_sweep(void **state)
{
    const char *dir = *state;
    char *csv = xb_test_path(dir, "at.csv"), *js = xb_test_path(dir, "r.json"), *rep = xb_test_path(dir, "rep");
    char *png = xb_test_path(rep, "accuracy_vs_time.png");
    char *argv[] = {"xbar", "run", "--network", XB_SOURCE_DIR "/data/fmnist_mlp.h5", "--device", "pcm", "--limit", "200",
                    "--calib", "64", "--time-sweep=1m,1y", "--time-csv", csv, NULL};
    free(xb_test_xbar_ok(argv));
    FILE *f = fopen(csv, "r");
    assert_non_null(f);
    char line[256];
    assert_non_null(fgets(line, sizeof line, f));
    double t[2], nc[2], c[2], id;
    for (int k = 0; k < 2; k++) {
        assert_non_null(fgets(line, sizeof line, f));
        assert_int_equal(sscanf(line, "%lf,%lf,%lf,%lf", &t[k], &nc[k], &c[k], &id), 4);
    }
    fclose(f);
    assert_true(t[0] == 60.0 && t[1] == 31557600.0);
    for (int comp = 0; comp < 2; comp++) {
        char *a2[] = {"xbar", "run", "--network", XB_SOURCE_DIR "/data/fmnist_mlp.h5", "--device", "pcm", "--limit", "200",
                      "--calib", "64", "--time", "1y", "--json", js, comp ? NULL : "--no-drift-compensation", NULL};
        free(xb_test_xbar_ok(a2));
        xb_assert_near(xb_test_json_file_number(js, "accuracy"), comp ? c[1] : nc[1], 0, 1e-6);
    }
    char *a3[] = {"xbar", "report", "--accuracy-time", csv, "-o", rep, NULL};
    free(xb_test_xbar_ok(a3));
    FILE *p = fopen(png, "rb");
    assert_non_null(p);
    unsigned char sig[8] = {0};
    assert_int_equal(fread(sig, 1, 8, p), 8);
    fclose(p);
    assert_true(sig[1] == 'P' && sig[2] == 'N' && sig[3] == 'G');
    free(csv);
    free(js);
    free(rep);
    free(png);
}

/* drift through circuit tiles: spice and native tiles on the same drifted conductances
 * (PCM, sampled nu, 2 x 2 tiles with wires) give the same outputs and compensation
 * factors (a second implementation of the circuit solve), and differ from t0 */
static void circuit_drift(xb_engine *eng, double t, int comp, float *y, double *alpha)
{
    const size_t n_in = 6, n_out = 4, n = 3;
    const float w[24] = {0.9f, -0.4f, 0.2f, -1.0f, -0.3f, 0.7f, 0.5f, 0.1f, -0.6f, 0.8f, 0.3f, -0.2f,
                         0.4f, 0.6f, -0.9f, 0.05f, 0.2f, -0.5f, -0.7f, 0.3f, 0.9f, -0.1f, 0.6f, 0.4f};
    const float x[18] = {0.8f, 0.5f, 1.0f, 0.3f, 0.1f, 0.6f, 0.2f, 0.9f, 0.4f, 0.7f, 0.0f, 0.5f,
                         1.0f, 0.3f, 0.6f, 0.2f, 0.8f, 0.4f};
    size_t shape[1] = {n_in};
    xb_network *net = NULL;
    xb_error err;
    assert_int_equal(xb_network_new(shape, 1, &net, &err), XB_OK);
    assert_int_equal(xb_network_add_dense(net, n_out, n_in, w, NULL, &err), XB_OK);
    xb_exec_config cfg;
    xb_exec_config_default(&cfg, XB_DEVICE_PCM);
    cfg.tile_rows = 4;
    cfg.tile_cols = 4;
    cfg.dac_bits = cfg.adc_bits = 0;
    cfg.affine_calibration = 0;
    cfg.array.r_wire_row_ohm = cfg.array.r_wire_col_ohm = 2.0;
    xb_exec *ex = NULL;
    assert_int_equal(xb_exec_new(net, &cfg, eng, &ex, &err), XB_OK);
    assert_int_equal(xb_exec_calibrate(ex, x, n, &err), XB_OK);
    if (t > 0) assert_int_equal(xb_exec_set_time(ex, t, comp, &err), XB_OK);
    float *a[1] = {y};
    assert_int_equal(xb_exec_forward(ex, x, n, a, &err), XB_OK);
    *alpha = xb_exec_drift_alpha(ex, 0, 3);
    xb_exec_free(ex);
    xb_network_free(net);
}

static void test_circuit_engines(void **state)
{
    (void)state;
    xb_engine *en = xb_test_engine("native"), *es = xb_test_engine("spice");
    float y0[12], yn[12], ys[12], ync[12], ysc[12];
    double a0, an, as, anc, asc;
    circuit_drift(en, 0, 0, y0, &a0);
    circuit_drift(en, 31557600.0, 0, yn, &an);
    circuit_drift(es, 31557600.0, 0, ys, &as);
    circuit_drift(en, 31557600.0, 1, ync, &anc);
    circuit_drift(es, 31557600.0, 1, ysc, &asc);
    print_message("drift: native 1y vs t0 %.3g, spice vs native %.3g (comp %.3g), alpha %.4f / %.4f\n",
                  xb_test_rel_l2f(yn, y0, 12), xb_test_rel_l2f(ys, yn, 12), xb_test_rel_l2f(ysc, ync, 12), anc, asc);
    xb_assert_below(0.2, xb_test_rel_l2f(yn, y0, 12));     /* drifted by ~40 % */
    xb_assert_below(xb_test_rel_l2f(ys, yn, 12), 1e-4);    /* the engines agree on the drifted G */
    xb_assert_below(xb_test_rel_l2f(ysc, ync, 12), 1e-4);
    xb_assert_near(asc, anc, 1e-4, 0);
    xb_assert_below(1.3, anc);
    xb_assert_below(xb_test_rel_l2f(ync, y0, 12), 0.5 * xb_test_rel_l2f(yn, y0, 12)); /* compensation helps */
    assert_true(an == 1.0 && as == 1.0);
    xb_engine_free(en);
    xb_engine_free(es);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pcm_nu_statistics), cmocka_unit_test(test_pcm_nu_truncated),
        cmocka_unit_test(test_t0_and_seeds),      cmocka_unit_test(test_pcm_read_noise),
        cmocka_unit_test(test_rram_ecram),        cmocka_unit_test(test_exec_drift_closed_form),
        cmocka_unit_test(test_parse_time),        cmocka_unit_test(test_cli_bad_time),
        cmocka_unit_test(test_exec_read_noise),   cmocka_unit_test(test_cli_sweep),
        cmocka_unit_test(test_circuit_engines),
    };
    return cmocka_run_group_tests(tests, xb_test_group_tmpdir, xb_test_group_tmpdir_remove);
}
