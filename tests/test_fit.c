/* Fit stage: the behavioural model and its fit, against independent references
 * (a dense Newton nodal solver written here, checked against stock ngspice -b). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "support/xb_test.h"
#include "test_fit_support.h"
#include "xbar/fit.h"

static void params(xb_array_params *p, xb_device_kind d, size_t n, double r_wire)
{
    xb_array_params_default(p, d);
    p->rows = p->cols = n;
    p->r_wire_row_ohm = p->r_wire_col_ohm = r_wire;
}

/* The reference solver itself against stock ngspice on the same 3x3 circuit. */
static void test_reference_vs_ngspice(void **state)
{
    xb_array_params p;
    params(&p, XB_DEVICE_RRAM, 3, 2.0);
    p.r_driver_ohm = 150;
    xb_matrix *g = xb_matrix_new(3, 3);
    double v[3] = {0.2, 0.05, 0.13};
    for (size_t q = 0; q < 9; q++) g->data[q] = (5 + 4.0 * (double)q) * 1e-6;
    char deck[8192];
    size_t o = 0;
    o += (size_t)snprintf(deck + o, sizeof deck - o, "ref 3x3\n");
    for (size_t i = 0; i < 3; i++) {
        o += (size_t)snprintf(deck + o, sizeof deck - o, "VIN%zu in%zu 0 %.17g\nRD%zu in%zu r%zu_0 %.17g\n", i, i,
                              v[i], i, i, i, p.r_driver_ohm + p.r_wire_row_ohm);
        for (size_t j = 1; j < 3; j++)
            o += (size_t)snprintf(deck + o, sizeof deck - o, "RR%zu_%zu r%zu_%zu r%zu_%zu %.17g\n", i, j, i,
                                  j - 1, i, j, p.r_wire_row_ohm);
    }
    for (size_t j = 0; j < 3; j++) {
        for (size_t i = 1; i < 3; i++)
            o += (size_t)snprintf(deck + o, sizeof deck - o, "RC%zu_%zu c%zu_%zu c%zu_%zu %.17g\n", i, j, i - 1,
                                  j, i, j, p.r_wire_col_ohm);
        o += (size_t)snprintf(deck + o, sizeof deck - o, "RS%zu c2_%zu s%zu %.17g\nVS%zu s%zu 0 0\n", j, j, j,
                              p.r_wire_col_ohm, j, j);
    }
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++) {
            double gg = g->data[i * 3 + j], v0 = p.rram_v0_volt, vr = p.v_read_volt;
            o += (size_t)snprintf(deck + o, sizeof deck - o,
                                  "B%zu_%zu r%zu_%zu c%zu_%zu I = %.17g*%.17g*sinh(v(r%zu_%zu,c%zu_%zu)/%.17g)/sinh(%.17g)\n",
                                  i, j, i, j, i, j, gg, vr, i, j, i, j, v0, vr / v0);
        }
    o += (size_t)snprintf(deck + o, sizeof deck - o,
                          ".options reltol=1e-10 abstol=1e-18 vntol=1e-12\n.control\nset numdgt=15\nop\n"
                          "print i(vs0) i(vs1) i(vs2)\n.endc\n.end\n");
    char *dir = xb_test_tmpdir("fitref");
    char *path = xb_test_write_file(dir, "ref.cir", deck);
    char *out = NULL, *errs = NULL;
    char *argv[] = {XB_NGSPICE_EXE, "-b", path, NULL};
    xb_test_run(argv, &out, &errs); /* ngspice -b exits 1 after a .control run: check the output */
    assert_non_null(out);
    double ic[3];
    assert_int_equal(ref_solve(&p, g, v, ic), 0);
    for (size_t j = 0; j < 3; j++) {
        char key[32];
        snprintf(key, sizeof key, "i(vs%zu) = ", j);
        char *s = strstr(out, key);
        assert_non_null(s);
        double isp = strtod(s + strlen(key), NULL); /* into the + node (s), through the source */
        assert_true(fabs(isp - ic[j]) <= 1e-7 * fabs(ic[j]));
    }
    free(out);
    free(errs);
    free(path);
    free(dir);
    xb_matrix_free(g);
}

/* Linear cells: the model's IR-drop sweeps, run to convergence with the nominal circuit
 * parameters, are the exact circuit solution. */
static void test_model_converges_to_circuit(void **state)
{
    xb_array_params p;
    params(&p, XB_DEVICE_LINEAR, 8, 3.0);
    p.r_sense_ohm = 20;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 11);
    xb_matrix *g, *v, *i;
    ref_sample(&p, rng, 4, &g, &v, &i);
    xb_fit_params m;
    xb_fit_params_nominal(&m, &p);
    m.n_sweeps = 80;
    xb_matrix *out = xb_matrix_new(4, 8);
    xb_error err;
    assert_int_equal(xb_fit_model_mvm(&m, g, v, out, &err), XB_OK);
    assert_true(xb_fit_rel_l2(out, i) < 1e-10);
    /* nonlinear RRAM too */
    xb_matrix_free(g); xb_matrix_free(v); xb_matrix_free(i);
    params(&p, XB_DEVICE_RRAM, 8, 3.0);
    ref_sample(&p, rng, 4, &g, &v, &i);
    xb_fit_params_nominal(&m, &p);
    m.n_sweeps = 80;
    assert_int_equal(xb_fit_model_mvm(&m, g, v, out, &err), XB_OK);
    assert_true(xb_fit_rel_l2(out, i) < 1e-10);
    xb_matrix_free(out);
    xb_matrix_free(g); xb_matrix_free(v); xb_matrix_free(i);
    gsl_rng_free(rng);
}

/* Fit on some (G, V) sets, score on held-out sets never used in the fit. */
static void fit_case(xb_device_kind d, size_t n, double r_wire, size_t n_sets, size_t K, unsigned seed)
{
    xb_array_params p;
    params(&p, d, n, r_wire);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    xb_matrix *g[16], *v[16], *i[16];
    xb_fit_sample s[16];
    for (size_t k = 0; k < n_sets + 2; k++) {
        ref_sample(&p, rng, K, &g[k], &v[k], &i[k]);
        s[k] = (xb_fit_sample){g[k], v[k], i[k]};
    }
    xb_fit_opts o;
    xb_fit_opts_default(&o);
    xb_fit_params m;
    xb_fit_metrics met;
    xb_error err;
    assert_int_equal(xb_fit_mvm(&p, s, n_sets, &o, &m, &met, &err), XB_OK);
    double e_model, e_ideal;
    /* the two extra sets were never seen by the fit */
    assert_int_equal(xb_fit_score(&m, s + n_sets, 2, &e_model, &e_ideal, &err), XB_OK);
    printf("# %s %zux%zu r_wire %.1f: held-out model %.3e ideal %.3e (fit-internal held-out %.3e, "
           "nominal %.3e, %d iterations)\n",
           xb_device_name(d), n, n, r_wire, e_model, e_ideal, met.heldout_rel_l2, met.nominal_rel_l2,
           met.iterations);
    assert_true(e_model <= 0.01);
    if (e_ideal > 0.02) assert_true(e_model * 20 <= e_ideal);
    assert_true(met.heldout_rel_l2 <= 0.01);
    assert_true(met.heldout_ideal_rel_l2 > 0);
    assert_true(m.valid_v_max_volt <= p.v_read_volt && m.valid_v_min_volt >= 0);
    for (size_t k = 0; k < n_sets + 2; k++) {
        xb_matrix_free(g[k]); xb_matrix_free(v[k]); xb_matrix_free(i[k]);
    }
    gsl_rng_free(rng);
}

static void test_fit_rram(void **state) { fit_case(XB_DEVICE_RRAM, 8, 5.0, 4, 12, 1); }
static void test_fit_pcm(void **state) { fit_case(XB_DEVICE_PCM, 8, 0.5, 4, 12, 2); }
static void test_fit_rram_12(void **state) { fit_case(XB_DEVICE_RRAM, 12, 2.0, 3, 8, 3); }
static void test_fit_pcm_12(void **state) { fit_case(XB_DEVICE_PCM, 12, 5.0, 3, 8, 4); }

/* The fit moves the parameters: data from a circuit whose V0 and driver resistance differ
 * from the nominal values the fit starts from; the fitted values must recover the truth. */
static void test_fit_recovers_parameters(void **state)
{
    for (int dev = 0; dev < 2; dev++) {
        xb_array_params truth;
        params(&truth, dev ? XB_DEVICE_PCM : XB_DEVICE_RRAM, 8, 2.0);
        truth.r_driver_ohm = 140;
        truth.rram_v0_volt = 0.35;
        truth.pcm_v0_low_volt = 0.25;
        truth.pcm_v0_high_volt = 0.7;
        gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
        gsl_rng_set(rng, 21 + (unsigned)dev);
        xb_matrix *g[5], *v[5], *i[5];
        xb_fit_sample s[5];
        for (int k = 0; k < 5; k++) {
            ref_sample(&truth, rng, 12, &g[k], &v[k], &i[k]);
            s[k] = (xb_fit_sample){g[k], v[k], i[k]};
        }
        xb_array_params nominal;
        params(&nominal, truth.device, 8, 2.0); /* V0 and r_driver at their defaults */
        xb_fit_opts o;
        xb_fit_opts_default(&o);
        xb_fit_params m;
        xb_fit_metrics met;
        xb_error err;
        assert_int_equal(xb_fit_mvm(&nominal, s, 5, &o, &m, &met, &err), XB_OK);
        printf("# %s: fitted r_driver %.2f ohm (true 140), V0 knots %.4f %.4f %.4f; held-out %.2e, nominal %.2e [status %d, %d it]\n",
               xb_device_name(truth.device), m.r_driver_ohm, m.knot_v0_volt[0], m.knot_v0_volt[1], m.knot_v0_volt[2],
               met.heldout_rel_l2, met.nominal_rel_l2, met.lm_status, met.iterations);
        assert_true(fabs(m.r_driver_ohm - 140) < 0.05 * 140);
        if (dev == 0) {
            for (int k = 0; k < 3; k++) assert_true(fabs(m.knot_v0_volt[k] - 0.35) < 0.02 * 0.35);
        } else {
            /* knots at x = 0, 0.5, 1 of the linear V0(G) law; x = 0 is poorly excited
             * (G near g_min carries little current), so a looser bound there */
            assert_true(fabs(m.knot_v0_volt[1] - 0.475) < 0.05 * 0.475);
            assert_true(fabs(m.knot_v0_volt[2] - 0.7) < 0.05 * 0.7);
        }
        assert_true(met.heldout_rel_l2 < 1e-3 && met.nominal_rel_l2 > 10 * met.heldout_rel_l2);
        for (int k = 0; k < 5; k++) {
            xb_matrix_free(g[k]); xb_matrix_free(v[k]); xb_matrix_free(i[k]);
        }
        gsl_rng_free(rng);
    }
}

/* Residual-noise sampling: zero mean, the stored relative spread, reproducible by seed. */
static void test_residual_noise(void **state)
{
    xb_array_params p;
    params(&p, XB_DEVICE_RRAM, 8, 1.0);
    xb_fit_params m;
    xb_fit_params_nominal(&m, &p);
    m.resid_sigma_rel = 0.01;
    xb_matrix *g = xb_matrix_new(8, 8), *v = xb_matrix_new(400, 8);
    xb_matrix *clean = xb_matrix_new(400, 8), *n1 = xb_matrix_new(400, 8), *n2 = xb_matrix_new(400, 8);
    for (size_t q = 0; q < 64; q++) g->data[q] = (1 + (double)(q % 7) * 5) * 1e-6;
    for (size_t q = 0; q < 3200; q++) v->data[q] = 0.2 * (double)((q * 37) % 101) / 100.0;
    xb_fit_eval *e;
    xb_error err;
    assert_int_equal(xb_fit_eval_new(&m, g, &e, &err), XB_OK);
    assert_int_equal(xb_fit_eval_mvm(e, v, clean, &err), XB_OK);
    assert_int_equal(xb_fit_eval_set_noise(e, 1, 5, &err), XB_OK);
    assert_int_equal(xb_fit_eval_mvm(e, v, n1, &err), XB_OK);
    assert_int_equal(xb_fit_eval_set_noise(e, 1, 5, &err), XB_OK);
    assert_int_equal(xb_fit_eval_mvm(e, v, n2, &err), XB_OK);
    double s = 0, s2 = 0;
    size_t n = 0;
    for (size_t k = 0; k < 400; k++) {
        double ms = 0;
        for (size_t j = 0; j < 8; j++) ms += clean->data[k * 8 + j] * clean->data[k * 8 + j];
        double rms = sqrt(ms / 8);
        for (size_t j = 0; j < 8; j++) {
            assert_true(n1->data[k * 8 + j] == n2->data[k * 8 + j]);
            double z = (n1->data[k * 8 + j] - clean->data[k * 8 + j]) / rms;
            s += z;
            s2 += z * z;
            n++;
        }
    }
    double mean = s / (double)n, sd = sqrt(s2 / (double)n - mean * mean);
    assert_true(fabs(mean) < 4 * 0.01 / sqrt((double)n));
    assert_true(fabs(sd - 0.01) < 0.05 * 0.01);
    xb_fit_eval_free(e);
    xb_matrix_free(g); xb_matrix_free(v); xb_matrix_free(clean); xb_matrix_free(n1); xb_matrix_free(n2);
}

static void test_shape_errors(void **state)
{
    xb_array_params p;
    params(&p, XB_DEVICE_RRAM, 4, 1.0);
    xb_fit_params m;
    xb_fit_params_nominal(&m, &p);
    xb_matrix *g = xb_matrix_new(4, 3), *v = xb_matrix_new(2, 4), *out = xb_matrix_new(2, 3);
    xb_error err;
    assert_int_equal(xb_fit_model_mvm(&m, g, v, out, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "G is 4x3 but the model is for 4x4"));
    xb_matrix_free(g);
    g = xb_matrix_new(4, 4);
    for (size_t q = 0; q < 16; q++) g->data[q] = 1e-5;
    xb_matrix *v3 = xb_matrix_new(2, 3), *o4 = xb_matrix_new(2, 4);
    assert_int_equal(xb_fit_model_mvm(&m, g, v3, o4, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "V has 3 columns but the model has 4 rows"));
    /* validity ranges */
    char msg[256];
    assert_int_equal(xb_fit_validity(&m, &p, g, v, msg, sizeof msg), 0);
    v->data[1] = 0.5;
    assert_int_equal(xb_fit_validity(&m, &p, g, v, msg, sizeof msg), 1);
    assert_non_null(strstr(msg, "V(1,2) = 0.5 V is outside"));
    v->data[1] = 0;
    /* the envelope, not the samples: V = 0 and v_read, G = g_min and g_max are inside */
    xb_fit_params ms = m;
    ms.valid_g_min_siemens = ms.valid_g_max_siemens = 1e-5; /* as a narrow sample range stored */
    ms.valid_v_min_volt = 0.05;
    ms.valid_v_max_volt = 0.1;
    for (size_t q = 0; q < 16; q++) g->data[q] = q % 2 ? p.g_min_siemens : p.g_max_siemens;
    for (size_t q = 0; q < 8; q++) v->data[q] = q % 2 ? 0.0 : p.v_read_volt;
    assert_int_equal(xb_fit_validity(&ms, &p, g, v, msg, sizeof msg), 0);
    v->data[3] = -1e-3; /* signed inputs: outside a model fitted on non-negative ones */
    assert_int_equal(xb_fit_validity(&ms, &p, g, v, msg, sizeof msg), 1);
    assert_non_null(strstr(msg, "fitted on non-negative inputs"));
    ms.valid_v_min_volt = -p.v_read_volt; /* fitted signed */
    assert_int_equal(xb_fit_validity(&ms, &p, g, v, msg, sizeof msg), 0);
    g->data[2] = p.g_max_siemens * 1.01;
    assert_int_equal(xb_fit_validity(&ms, &p, g, v, msg, sizeof msg), 1);
    assert_non_null(strstr(msg, "G(1,3)"));
    for (size_t q = 0; q < 16; q++) g->data[q] = 1e-5;
    for (size_t q = 0; q < 8; q++) v->data[q] = 0;
    /* the circuit is the selection's business; the device and cell are the model's */
    xb_array_params p2 = p;
    p2.r_wire_row_ohm = 2;
    assert_int_equal(xb_fit_validity(&m, &p2, g, v, msg, sizeof msg), 0);
    p2.device = XB_DEVICE_PCM;
    assert_int_equal(xb_fit_validity(&m, &p2, g, v, msg, sizeof msg), 1);
    assert_non_null(strstr(msg, "--device pcm --cell 1r differ"));
    g->data[5] = 1e-3;
    assert_int_equal(xb_fit_validity(&m, &p, g, v, msg, sizeof msg), 1);
    assert_non_null(strstr(msg, "G(2,2)"));
    m.knot_v0_volt[0] = -1;
    assert_int_equal(xb_fit_params_check(&m, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "knot_v0_volt[0]"));
    xb_matrix_free(g); xb_matrix_free(v); xb_matrix_free(out); xb_matrix_free(v3); xb_matrix_free(o4);
}

/* Regressions against exact polynomial data (closed form: the coefficients used to make it). */
static void test_regressions(void **state)
{
    double x[20], y[20], c[3], r2, rms;
    for (int k = 0; k < 20; k++) {
        x[k] = 0.1 * k;
        y[k] = 0.5 - 2.0 * x[k] + 0.25 * x[k] * x[k];
    }
    xb_error err;
    assert_int_equal(xb_fit_poly(x, y, 20, 2, c, &r2, &rms, &err), XB_OK);
    assert_true(fabs(c[0] - 0.5) < 1e-10 && fabs(c[1] + 2.0) < 1e-10 && fabs(c[2] - 0.25) < 1e-10);
    assert_true(r2 > 1 - 1e-12 && rms < 1e-10);
    assert_int_equal(xb_fit_poly(x, y, 2, 2, c, &r2, &rms, &err), XB_EINPUT);
    /* a large regression (the PCM drift statistics regress thousands of devices) gives the
     * same bits for any OpenBLAS thread count: GSL's BLAS calls run on one thread */
    enum { N = 6000, P = 3 };
    double *X = malloc(N * P * sizeof *X), *yy = malloc(N * sizeof *yy), cr[3][P], r2t[3];
    uint64_t s = 5;
    for (size_t k = 0; k < N; k++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        const double u = (double)(s >> 11) * 0x1.0p-53;
        X[k * P] = 1.0;
        X[k * P + 1] = u;
        X[k * P + 2] = u * u;
        yy[k] = 0.3 + 1.7 * u - 0.9 * u * u + 0.01 * sin(1e3 * u);
    }
    for (int t = 1; t <= 3; t++) {
        const int prev = xb_blas_threads_begin(t);
        assert_int_equal(xb_fit_linear(X, yy, N, P, cr[t - 1], &r2t[t - 1], NULL, &err), XB_OK);
        xb_blas_threads_end(prev);
    }
    assert_memory_equal(cr[0], cr[1], sizeof cr[0]);
    assert_memory_equal(cr[0], cr[2], sizeof cr[0]);
    assert_true(r2t[0] == r2t[1] && r2t[0] == r2t[2]);
    assert_true(fabs(cr[0][1] - 1.7) < 1e-2);
    free(X);
    free(yy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_vs_ngspice),
        cmocka_unit_test(test_model_converges_to_circuit),
        cmocka_unit_test(test_fit_rram),
        cmocka_unit_test(test_fit_pcm),
        cmocka_unit_test(test_fit_rram_12),
        cmocka_unit_test(test_fit_pcm_12),
        cmocka_unit_test(test_fit_recovers_parameters),
        cmocka_unit_test(test_residual_noise),
        cmocka_unit_test(test_shape_errors),
        cmocka_unit_test(test_regressions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
