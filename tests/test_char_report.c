/* xbar report: the plots of a results file are PNG files (gnuplot), summary.csv has one
 * line per point with the numbers stored in the file; bad input exits 2. */
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
#include "xbar/h5.h"

static int is_png(const char *dir, const char *name)
{
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    if (!f) return 0;
    unsigned char m[8] = {0};
    size_t n = fread(m, 1, 8, f);
    fclose(f);
    static const unsigned char png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    return n == 8 && memcmp(m, png, 8) == 0;
}

/* The quick campaign's measurements at 4x4 (spice: MVM, read schemes, transient, program
 * curves), then every plot of the report. */
static void test_report_all_plots(void **state)
{
    char *dir = xb_test_tmpdir("charreport");
    char *ini = xb_test_write_file(dir, "q.ini",
                                   "[campaign]\nname = q\nengine = spice\n"
                                   "[array]\nsize = 3x3, 4x4\ndevice = linear, rram\nr_wire_ohm = 2\n"
                                   "[inputs]\nsamples = 1\nvectors = 2\n"
                                   "[read]\nschemes = float, v2\n"
                                   "[transient]\nenabled = yes\n"
                                   "[program]\nenabled = yes\npulses = 4\ncycles = 2\n");
    char h5[1024], outdir[1024];
    snprintf(h5, sizeof h5, "%s/r.h5", dir);
    snprintf(outdir, sizeof outdir, "%s/plots", dir);
    char *a[] = {"xbar", "characterize", ini, "-o", h5, NULL};
    char *out = NULL, *err = NULL;
    int rc = xb_test_run_xbar(a, &out, &err);
    if (rc) fprintf(stderr, "%s", err);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(err, "4 computed, 0 failed"));
    free(out);
    free(err);
    char *b[] = {"xbar", "report", h5, "-o", outdir, NULL};
    rc = xb_test_run_xbar(b, &out, &err);
    if (rc) fprintf(stderr, "%s", err);
    assert_int_equal(rc, 0);
    free(out);
    free(err);
    const char *pngs[] = {"mvm_error_vs_size.png", "ir_drop_map.png", "sneak_margin_vs_size.png",
                          "settling_vs_size.png", "energy_vs_size.png", "energy_per_op_vs_size.png",
                          "program_curves.png", "settling_waveforms.png", "i_col_waveforms.png",
                          "energy_per_mac_tile.png", "g_histogram.png"};
    for (size_t k = 0; k < sizeof pngs / sizeof pngs[0]; k++) {
        if (!is_png(outdir, pngs[k])) fprintf(stderr, "missing %s\n", pngs[k]);
        assert_true(is_png(outdir, pngs[k]));
    }
    /* energy_per_mac_tile.csv, 4x4 linear (p00002): the array's share is the transient's energy
     * per MAC; the periphery per MAC of one 4x4 MVM, written out here from the cited figures
     * (ISAAC, ISCA 2016: 4 mW per 1024 1-bit DACs and 2 mW per 8-bit 1.28 GS/s ADC at a 100 ns
     * read; 10 uW per 1024 S&H; Horowitz 2014: 0.1 pJ per 32-bit add): 8 DAC bits per row and
     * one ADC conversion, one sense and one add per column, over 16 MACs */
    {
        char tp[1100], tl[512];
        snprintf(tp, sizeof tp, "%s/energy_per_mac_tile.csv", outdir);
        FILE *tf = fopen(tp, "r");
        assert_non_null(tf);
        int found = 0;
        while (fgets(tl, sizeof tl, tf)) {
            double n, arr, dac, sense, adc, dig, per, tot, share;
            if (strncmp(tl, "linear 1r, 2 ohm,4,", 19) != 0) continue;
            assert_int_equal(sscanf(tl + 17, "%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &n, &arr, &dac, &sense, &adc, &dig,
                                    &per, &tot, &share), 9);
            xb_assert_near(dac, 4 * 8 * (4e-3 / 1024 * 100e-9) / 16 * 1e15, 1e-3, 0);
            xb_assert_near(adc, 4 * (2e-3 / 1.28e9) / 16 * 1e15, 1e-3, 0);
            xb_assert_near(sense, 4 * (10e-6 / 1024 * 100e-9) / 16 * 1e15, 1e-3, 0);
            xb_assert_near(dig, 4 * 0.1e-12 / 16 * 1e15, 1e-3, 0);
            xb_assert_near(tot, arr + dac + sense + adc + dig, 1e-3, 0);
            hid_t th;
            xb_error te;
            double epm = 0;
            assert_int_equal(xb_h5_open(h5, 0, &th, &te), XB_OK);
            assert_int_equal(xb_h5_attr_get_double(th, "points/p00002/transient", "e_per_mac_joule", &epm, &te), XB_OK);
            xb_h5_close(th, &te);
            xb_assert_near(arr, epm * 1e15, 1e-3, 0);
            found = 1;
        }
        fclose(tf);
        assert_true(found);
    }
    /* model_parity.png: the fitted model of these points against their stored currents; the
     * data file's first pair is (stored circuit current, the model engine's own MVM) */
    {
        char mp[1100];
        snprintf(mp, sizeof mp, "%s/m.h5", dir);
        char *fa[] = {"xbar", "fit", h5, "-o", mp, "--quiet", NULL};
        rc = xb_test_run_xbar(fa, &out, &err);
        if (rc) fprintf(stderr, "%s", err);
        assert_int_equal(rc, 0);
        free(out);
        free(err);
        char *ra[] = {"xbar", "report", h5, "-o", outdir, "--model", mp, NULL};
        rc = xb_test_run_xbar(ra, &out, &err);
        if (rc) fprintf(stderr, "%s", err);
        assert_int_equal(rc, 0);
        free(out);
        free(err);
        assert_true(is_png(outdir, "model_parity.png"));
        char dp[1100];
        snprintf(dp, sizeof dp, "%s/model_parity.dat", outdir);
        FILE *pf = fopen(dp, "r");
        assert_non_null(pf);
        double xc = 0, ym = 0;
        assert_int_equal(fscanf(pf, "%lf %lf", &xc, &ym), 2);
        fclose(pf);
        hid_t ph;
        xb_error pe;
        assert_int_equal(xb_h5_open(h5, 0, &ph, &pe), XB_OK);
        double *icp;
        int prk;
        hsize_t pd[4];
        assert_int_equal(xb_h5_read_doubles(ph, "points/p00000/mvm/i_circuit", &icp, &prk, pd, &pe), XB_OK);
        xb_h5_close(ph, &pe);
        xb_assert_near(xc, icp[0] * 1e6, 1e-6, 0);
        xb_assert_near(ym, xc, 0.05, 0); /* the fit of a linear 3x3 point: close to the circuit */
        free(icp);
    }
    /* summary.csv: header + 4 points, and its error column is the stored mean error */
    char sp[1100];
    snprintf(sp, sizeof sp, "%s/summary.csv", outdir);
    FILE *f = fopen(sp, "r");
    assert_non_null(f);
    char line[4096];
    int lines = 0;
    double err_csv = NAN;
    while (fgets(line, sizeof line, f)) {
        if (lines == 1) {
            /* column 12: err_total_mean */
            char *s = line;
            for (int c = 0; c < 11 && s; c++) s = strchr(s, ',') ? strchr(s, ',') + 1 : NULL;
            assert_non_null(s);
            err_csv = strtod(s, NULL);
            assert_non_null(strstr(line, "p00000,ok,linear"));
        }
        lines++;
    }
    fclose(f);
    assert_int_equal(lines, 5);
    hid_t h;
    xb_error e;
    assert_int_equal(xb_h5_open(h5, 0, &h, &e), XB_OK);
    double err_h5 = -1;
    assert_int_equal(xb_h5_attr_get_double(h, "points/p00000/mvm", "err_total_mean", &err_h5, &e), XB_OK);
    /* the mean error equals the one recomputed from the stored currents */
    double *ic, *ii;
    int rank;
    hsize_t d[4];
    assert_int_equal(xb_h5_read_doubles(h, "points/p00000/mvm/i_circuit", &ic, &rank, d, &e), XB_OK);
    assert_int_equal(xb_h5_read_doubles(h, "points/p00000/mvm/i_ideal", &ii, &rank, d, &e), XB_OK);
    double num = 0, den = 0;
    for (hsize_t k = 0; k < d[0] * d[1] * d[2]; k++) {
        num += (ic[k] - ii[k]) * (ic[k] - ii[k]);
        den += ii[k] * ii[k];
    }
    assert_true(fabs(sqrt(num / den) - err_h5) < 1e-12 * err_h5 + 1e-300);
    assert_true(fabs(err_csv - err_h5) < 1e-5 * err_h5);
    free(ic);
    free(ii);
    xb_h5_close(h, &e);
    free(ini);
    free(dir);
}

static void test_report_bad_input(void **state)
{
    char *dir = xb_test_tmpdir("charreportbad");
    char *txt = xb_test_write_file(dir, "x.h5", "not hdf5\n");
    char outdir[1024];
    snprintf(outdir, sizeof outdir, "%s/o", dir);
    char *a[] = {"xbar", "report", txt, "-o", outdir, NULL};
    char *out = NULL, *err = NULL;
    assert_int_equal(xb_test_run_xbar(a, &out, &err), 2);
    assert_int_equal(xb_test_count_lines(err), 1);
    assert_non_null(strstr(err, "xbar report:"));
    free(out);
    free(err);
    /* an HDF5 file that is not a results file */
    char h5[1024];
    snprintf(h5, sizeof h5, "%s/other.h5", dir);
    hid_t f;
    xb_error e;
    assert_int_equal(xb_h5_create(h5, 0, &f, &e), XB_OK);
    xb_h5_close(f, &e);
    char *b[] = {"xbar", "report", h5, "-o", outdir, NULL};
    assert_int_equal(xb_test_run_xbar(b, &out, &err), 2);
    assert_non_null(strstr(err, "not an xbar results file"));
    free(out);
    free(err);
    char *c[] = {"xbar", "report", h5, NULL};
    assert_int_equal(xb_test_run_xbar(c, &out, &err), 2);
    assert_non_null(strstr(err, "-o"));
    free(out);
    free(err);
    free(txt);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_bad_input),
        cmocka_unit_test(test_report_all_plots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
