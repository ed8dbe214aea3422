/* Campaign [drift] records: a tiny PCM campaign (ideal engine) writes /points/<p>/drift;
 * the read at t0 equals sample 0's programmed G up to read noise (closed-form aihwkit
 * sigma derived here), and `xb_fit_results` on the file yields /stats/pcm_drift whose
 * nu mean at g_ref = g_max is within a few standard errors of the law
 * xb_netlist_drift_nu_mean; bad [drift] keys are file:line errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/xb_test.h"
#include "xbar/characterize.h"
#include "xbar/fit.h"
#include "xbar/h5.h"

static void test_drift_keys(void **state)
{
    (void)state;
    xb_campaign *c = NULL;
    xb_error err;
    xb_error_clear(&err);
    const char *ok = "[array]\nsize = 4x4\ndevice = pcm, rram\n[drift]\nenabled = yes\ntimes_s = 20, 200, 2000\n";
    assert_int_equal(xb_char_campaign_parse(ok, "t.ini", &c, &err), XB_OK);
    assert_int_equal(xb_char_campaign_npoints(c), 2); /* times_s is not a sweep axis */
    const xb_char_point *P = xb_char_campaign_point(c, 0);
    assert_int_equal(P->drift, 1);
    assert_int_equal(P->drift_n_times, 3);
    assert_true(P->drift_times_s[2] == 2000);
    assert_int_equal(xb_char_campaign_point(c, 1)->drift, 0); /* rram: ignored */
    xb_char_campaign_free(c);

    const char *def = "[array]\nsize = 4x4\ndevice = pcm\n";
    assert_int_equal(xb_char_campaign_parse(def, "t.ini", &c, &err), XB_OK);
    assert_int_equal(xb_char_campaign_point(c, 0)->drift, 0);
    assert_int_equal(xb_char_campaign_point(c, 0)->drift_n_times, 7);
    xb_char_campaign_free(c);

    struct { const char *text, *want; } bad[] = {
        {"[array]\nsize = 4x4\n[drift]\nenabled = maybe\n", "t.ini:4: enabled"},
        {"[array]\nsize = 4x4\n[drift]\nenabled = yes\ntimes_s = 20, 10, 30\n", "t.ini:5: times_s: must increase"},
        {"[array]\nsize = 4x4\n[drift]\ntimes_s = 20, 60\n", "t.ini:4: times_s: give 3 to 64"},
        {"[array]\nsize = 4x4\n[drift]\ntimes_s = 20, -1, 30\n", "t.ini:4: times_s"},
        {"[array]\nsize = 4x4\n[drift]\nperiod = 3\n", "t.ini:4: unknown key 'period' in [drift]"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        xb_error_clear(&err);
        assert_int_equal(xb_char_campaign_parse(bad[k].text, "t.ini", &c, &err), XB_EINPUT);
        if (!strstr(err.msg, bad[k].want)) fprintf(stderr, "got: %s\nwant: %s\n", err.msg, bad[k].want);
        assert_non_null(strstr(err.msg, bad[k].want));
    }
}

/* aihwkit PCM read-noise law, written out independently of src/netlist/drift.c */
static double read_sigma(double g_prog, double g_now, double g_max, double t_s)
{
    double gt = fmin(fmax(g_prog / g_max, 0), 1);
    double qs = fmin(0.0088 / fmax(pow(gt, 0.65), 1e-3), 0.2);
    return g_now * qs * sqrt(log((t_s + 250e-9) / (2 * 250e-9)));
}

static void test_drift_record_and_fit(void **state)
{
    (void)state;
    /* g_min = 0.4 g_max: the aihwkit nu law is flat there (mu 0.049, sigma 0.008), so the
     * fitted line's value at x = 0 has a closed-form target */
    const char *text = "[campaign]\nname = drift\nengine = ideal\nseed = 5\n"
                       "[array]\nsize = 16x16\ndevice = pcm\ng_max_siemens = 25e-6\ng_min_siemens = 10e-6\n"
                       "[inputs]\nsamples = 1\nvectors = 1\n[read]\nschemes = none\n"
                       "[drift]\nenabled = yes\ntimes_s = 20, 60, 600, 3600, 86400, 2.6e6, 3.15e7\n";
    xb_campaign *c = NULL;
    xb_error err;
    xb_error_clear(&err);
    int rc = xb_char_campaign_parse(text, "t.ini", &c, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, XB_OK);
    char *dir = xb_test_tmpdir("chardrift");
    char path[1024], model[1024];
    snprintf(path, sizeof path, "%s/r.h5", dir);
    snprintf(model, sizeof model, "%s/m.h5", dir);
    remove(path);
    xb_char_run_opts o = {0};
    o.n_parallel = 1;
    xb_char_run_stats st;
    rc = xb_char_run(c, path, &o, &st, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, XB_OK);
    assert_int_equal(st.failed, 0);

    hid_t f;
    assert_int_equal(xb_h5_open(path, 0, &f, &err), XB_OK);
    double *ts, *g, *gp;
    int rk;
    hsize_t d[4];
    assert_int_equal(xb_h5_read_doubles(f, "points/p00000/drift/t_s", &ts, &rk, d, &err), XB_OK);
    assert_int_equal(d[0], 7);
    assert_int_equal(xb_h5_read_doubles(f, "points/p00000/drift/g", &g, &rk, d, &err), XB_OK);
    assert_int_equal(rk, 2);
    assert_int_equal(d[0], 7);
    assert_int_equal(d[1], 256);
    char units[16];
    assert_int_equal(xb_h5_read_units(f, "points/p00000/drift/g", units, sizeof units, &err), XB_OK);
    assert_string_equal(units, "S");
    assert_int_equal(xb_h5_read_doubles(f, "points/p00000/mvm/g", &gp, &rk, d, &err), XB_OK);
    xb_h5_close(f, &err);

    /* t0 = 20 s: no drift yet, so g = G_prog + read noise: normalized residuals ~ N(0, 1) */
    const double gmax = 25e-6;
    double s1 = 0, s2 = 0, zmax = 0;
    for (size_t i = 0; i < 256; i++) {
        double z = (g[i] - gp[i]) / read_sigma(gp[i], gp[i], gmax, ts[0]);
        s1 += z;
        s2 += z * z;
        zmax = fmax(zmax, fabs(z));
    }
    double zm = s1 / 256, zs = sqrt(s2 / 256 - zm * zm);
    printf("# t0 read: residual/sigma mean %.3f std %.3f max |z| %.2f\n", zm, zs, zmax);
    assert_true(fabs(zm) < 4.0 / 16);
    assert_true(zs > 0.8 && zs < 1.2);
    assert_true(zmax < 5.5);
    /* later reads are lower (nu ~ 0.049 > 0): at 1 year G/G_prog ~ (3.15e7/20)^-0.049 = 0.50 */
    double ratio = 0;
    for (size_t i = 0; i < 256; i++) ratio += g[6 * 256 + i] / gp[i] / 256;
    double want = pow(3.15e7 / 20, -0.049);
    printf("# 1 year: mean G/G_prog %.4f (law ~%.4f)\n", ratio, want);
    assert_true(fabs(ratio - want) < 0.05 * want);

    xb_fit_summary *sum = NULL;
    rc = xb_fit_results(path, model, 1, NULL, NULL, NULL, &sum, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, XB_OK);
    assert_int_equal(sum->n_drift_devices, 256);
    xb_fit_summary_free(sum);
    assert_int_equal(xb_h5_open(model, 0, &f, &err), XB_OK);
    double *a, *gref;
    assert_int_equal(xb_h5_read_doubles(f, "stats/pcm_drift/nu_mean_coef", &a, &rk, d, &err), XB_OK);
    assert_int_equal(xb_h5_read_doubles(f, "stats/pcm_drift/g_ref_siemens", &gref, &rk, d, &err), XB_OK);
    xb_h5_close(f, &err);
    assert_true(fabs(gref[0] - gmax) < 1e-12);
    /* standard error of a least-squares intercept at x = 0 over x_i = ln(G_i/g_max):
     * per-device nu spread sigma_nu plus the slope error the reads add (read noise
     * sigma/G over the spread of ln t, at the noisiest device, G = g_min) */
    double mx = 0, sxx = 0, lt[7], mlt = 0, slt = 0;
    for (size_t i = 0; i < 256; i++) mx += log(gp[i] / gmax) / 256;
    for (size_t i = 0; i < 256; i++) sxx += pow(log(gp[i] / gmax) - mx, 2);
    for (int t = 0; t < 7; t++) mlt += (lt[t] = log(ts[t] / ts[0])) / 7;
    for (int t = 0; t < 7; t++) slt += (lt[t] - mlt) * (lt[t] - mlt);
    double rel = read_sigma(10e-6, 1, gmax, ts[6]);
    double sd = sqrt(0.008 * 0.008 + rel * rel / slt);
    double se = sd * sqrt(1.0 / 256 + mx * mx / sxx);
    double law = xb_netlist_drift_nu_mean(1.0);
    printf("# fitted nu at g_ref %.5f, law %.5f, standard error %.5f\n", a[0], law, se);
    assert_true(fabs(law - 0.049) < 1e-12); /* flat part of the law: min(max(0.0244, 0.049), 0.1) */
    assert_true(fabs(a[0] - law) < 4 * se);
    free(a);
    free(gref);
    free(ts);
    free(g);
    free(gp);
    xb_char_campaign_free(c);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drift_keys),
        cmocka_unit_test(test_drift_record_and_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
