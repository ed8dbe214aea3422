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
        double mu = mu_nu(gt), sg = sig_nu(gt);
        /* truncation at 0 is > 2 sigma away for these g_T: a P < 0.01 effect, still use the
         * censored-normal moments so the bound is exact */
        double a = mu / sg;
        double em = mu * Phi(a) + sg * phi(a);
        double e2 = (mu * mu + sg * sg) * Phi(a) + mu * sg * phi(a);
        double var = e2 - em * em;
        double se_m = sqrt(var / (double)N), se_s = sqrt(var / (2.0 * (double)N)) * 1.5;
        assert_true(fabs(m - em) < 5 * se_m);
        assert_true(fabs(sd - sqrt(var)) < 5 * se_s);
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
    double mu = mu_nu(gt), sg = sig_nu(gt), a = mu / sg;
    /* censored at 0: E = mu Phi(a) + s phi(a); E[Y^2] = (mu^2+s^2) Phi(a) + mu s phi(a) */
    double em = mu * Phi(a) + sg * phi(a);
    double var = (mu * mu + sg * sg) * Phi(a) + mu * sg * phi(a) - em * em;
    double m, sd;
    nu_stats(g0, g, t, &m, &sd);
    assert_true(fabs(m - em) < 5 * sqrt(var / (double)N));
    size_t zeros = 0;
    for (size_t i = 0; i < N; i++) zeros += g->data[i] == g0->data[i];
    double pz = Phi(-a); /* P(nu <= 0) */
    assert_true(fabs((double)zeros / (double)N - pz) < 5 * sqrt(pz * (1 - pz) / (double)N));
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
    for (size_t i = 0; i < 64; i++) assert_true(fabs(b->data[i] - g0->data[i] * pow(1e6 / 20.0, -0.07)) <= 1e-12 * g0->data[i] + 1e-30);
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
    assert_true(fabs(m) < 5 * rel / sqrt((double)N));
    assert_true(fabs(sd - rel) < 5 * rel / sqrt(2.0 * (double)N));
    /* reference table of device-physics.md sec. 2.2: 11.9 % at g_T = 0.2, 1 h */
    assert_true(fabs(rel - 0.119) < 0.001);
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
    assert_true(fabs(m - em) < 5 * es / sqrt((double)N));
    assert_true(fabs(sd - es) < 5 * es / sqrt(2.0 * (double)N));
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
    xb_tile_engine eng;
    xb_tile_engine_ideal(&eng);
    xb_exec *ex = NULL;
    assert_int_equal(xb_exec_new(net, &cfg, &eng, &ex, &err), XB_OK);
    assert_int_equal(xb_exec_calibrate(ex, x, n, &err), XB_OK);
    float y0[30], y1[30], y2[30], y3[30];
    float *a0[1] = {y0}, *a1[1] = {y1}, *a2[1] = {y2}, *a3[1] = {y3};
    assert_int_equal(xb_exec_forward(ex, x, n, a0, &err), XB_OK);
    const double t = 86400.0 * 365.25, f = pow(t / 20.0, -0.05);
    assert_int_equal(xb_exec_set_time(ex, t, 0, &err), XB_OK);
    assert_int_equal(xb_exec_forward(ex, x, n, a1, &err), XB_OK);
    assert_int_equal(xb_exec_set_time(ex, t, 1, &err), XB_OK);
    assert_true(fabs(xb_exec_drift_alpha(ex, 0, 4) - 1.0 / f) < 1e-9);
    assert_int_equal(xb_exec_forward(ex, x, n, a2, &err), XB_OK);
    assert_int_equal(xb_exec_set_time(ex, 20.0, 0, &err), XB_OK);
    assert_int_equal(xb_exec_forward(ex, x, n, a3, &err), XB_OK);
    double ymax = 0;
    for (size_t i = 0; i < 30; i++) ymax = fmax(ymax, fabs(y0[i]));
    assert_true(ymax > 0.1 && f < 0.6);
    for (size_t i = 0; i < 30; i++) {
        assert_true(fabs(y1[i] - f * y0[i]) < 1e-5 * ymax);
        assert_true(fabs(y2[i] - y0[i]) < 1e-5 * ymax);
        assert_true(fabs(y3[i] - y0[i]) < 1e-5 * ymax);
    }
    assert_int_equal(xb_exec_set_time(ex, -1.0, 1, &err), XB_EINPUT);
    xb_exec_free(ex);
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
    assert_non_null(strstr(err.msg, "--time"));
    assert_int_equal(xb_exec_parse_time("-1", "--time", &t, &err), XB_EINPUT);
    assert_int_equal(xb_exec_parse_time("0d", "--time", &t, &err), XB_EINPUT);
}

static void test_cli_bad_time(void **state)
{
    (void)state;
    const char *bad[] = {"-1", "1x"};
    for (size_t k = 0; k < 2; k++) {
        char *argv[] = {"xbar", "run", "--network", XB_SOURCE_DIR "/data/fmnist_mlp.h5", "--time", (char *)bad[k], NULL};
        char *out = NULL, *er = NULL;
        int rc = xb_test_run_xbar(argv, &out, &er);
        assert_int_equal(rc, 2);
        assert_int_equal(xb_test_count_lines(er), 1);
        assert_non_null(strstr(er, "xbar run: --time"));
        free(out);
        free(er);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pcm_nu_statistics), cmocka_unit_test(test_pcm_nu_truncated),
        cmocka_unit_test(test_t0_and_seeds),      cmocka_unit_test(test_pcm_read_noise),
        cmocka_unit_test(test_rram_ecram),        cmocka_unit_test(test_exec_drift_closed_form),
        cmocka_unit_test(test_parse_time),        cmocka_unit_test(test_cli_bad_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
