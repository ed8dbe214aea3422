/* xbar fit / inspect / report on pulse-train records: a results file written here in the
 * layout of docs/hdf5-results.md (program/train_*) from a closed-form soft-bounds law ->
 * /update/<device> (the law recovered), its inspect line and update_model_<device>.png; bad
 * records and bad update groups give one line naming the file and dataset, exit 2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "support/xb_test.h"
#include "xbar/fit.h"
#include "xbar/h5.h"

/* Soft-bounds device: f_up = 0.05 (9 uS - G), f_down = -0.05 (G - 1 uS), 5 % multiplicative
 * noise, 10 % device-to-device spread of the rates. */
#define AU 0.05
#define BU 9e-6
#define AD 0.05
#define BD 1e-6

enum { D = 3, S = 2, PULSES = 30, CYCLES = 2, NPRE = 5, K = NPRE + 2 * PULSES * CYCLES };

typedef enum { BAD_NONE = 0, BAD_NO_DIRECTION, BAD_ENERGY_SHAPE, BAD_G_UNIT, BAD_DIRECTION_VALUE, BAD_CYCLES } bad_kind;

static const char *const k_bad_dataset[] = {"", "train_direction", "train_energy", "train_g", "train_direction", ""};

/* start 0: 5 idle slots; start 1: 5 up pulses (preset), then the cycles */
static int slot_dir(int s, int k)
{
    if (k < NPRE) return s ? 1 : 0;
    return ((k - NPRE) % (2 * PULSES)) < PULSES ? 1 : -1;
}

static void write_results(const char *path, const char *device, bad_kind bad)
{
    hid_t f;
    xb_error err;
    assert_int_equal(xb_h5_create(path, 1, &f, &err), XB_OK);
    xb_h5_attr_set_string(f, ".", "format", "xbar-results", &err);
    xb_h5_attr_set_int64(f, ".", "format_version", 1, &err);
    hid_t g, pg;
    assert_int_equal(xb_h5_group_create(f, "points/p00000", &g, &err), XB_OK);
    xb_h5_attr_set_string(g, ".", "status", "ok", &err);
    xb_h5_attr_set_string(g, ".", "device", device, &err);
    assert_int_equal(xb_h5_group_create(g, "program", &pg, &err), XB_OK);
    static double gg[D * S * (K + 1)], e[D * S * K], pv[S * K];
    static int64_t dir[S * K];
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 21);
    for (int s = 0; s < S; s++)
        for (int k = 0; k < K; k++) {
            dir[s * K + k] = slot_dir(s, k);
            pv[s * K + k] = dir[s * K + k] > 0 ? 1.3 : dir[s * K + k] < 0 ? -1.3 : 0;
        }
    for (int d = 0; d < D; d++) {
        const double au = AU * (1 + 0.1 * gsl_ran_gaussian(r, 1)), ad = AD * (1 + 0.1 * gsl_ran_gaussian(r, 1));
        for (int s = 0; s < S; s++) {
            double x = 4e-6, *t = gg + (d * S + s) * (K + 1);
            t[0] = x;
            for (int k = 0; k < K; k++) {
                const int q = slot_dir(s, k);
                const double fs = q > 0 ? au * (BU - x) : q < 0 ? -ad * (x - BD) : 0;
                x += fs * (1 + 0.05 * gsl_ran_gaussian(r, 1));
                t[k + 1] = x;
                e[(d * S + s) * K + k] = q ? 2e-15 : 0;
            }
        }
    }
    gsl_rng_free(r);
    if (bad == BAD_DIRECTION_VALUE) dir[7] = 3;
    hsize_t dg[3] = {D, S, K + 1}, de[3] = {D, S, bad == BAD_ENERGY_SHAPE ? K - 1 : K}, dd[2] = {S, K};
    assert_int_equal(xb_h5_write_doubles(pg, "train_g", 3, dg, gg, bad == BAD_G_UNIT ? "A" : "S", &err), XB_OK);
    assert_int_equal(xb_h5_write_doubles(pg, "train_energy", 3, de, e, "J", &err), XB_OK);
    if (bad != BAD_NO_DIRECTION) assert_int_equal(xb_h5_write_int64s(pg, "train_direction", 2, dd, dir, "1", &err), XB_OK);
    assert_int_equal(xb_h5_write_doubles(pg, "train_pulse_volt", 2, dd, pv, "V", &err), XB_OK);
    xb_h5_attr_set_double(pg, ".", "up_volt", 1.3, &err);
    xb_h5_attr_set_double(pg, ".", "down_volt", -1.3, &err);
    xb_h5_attr_set_double(pg, ".", "pulse_width_s", 10e-9, &err);
    xb_h5_attr_set_int64(pg, ".", "pulses", PULSES, &err);
    xb_h5_attr_set_int64(pg, ".", "cycles", bad == BAD_CYCLES ? 3 : CYCLES, &err);
    xb_h5_attr_set_int64(pg, ".", "preset_slots", NPRE, &err);
    xb_h5_attr_set_int64(pg, ".", "devices", D, &err);
    H5Gclose(pg);
    H5Gclose(g);
    assert_int_equal(xb_h5_close(f, &err), XB_OK);
}

static int run(char **out, char **errs, const char *a0, const char *a1, const char *a2, const char *a3, const char *a4,
               const char *a5, const char *a6)
{
    char *argv[] = {"xbar", (char *)a0, (char *)a1, (char *)a2, (char *)a3, (char *)a4, (char *)a5, (char *)a6, NULL};
    return xb_test_run_xbar(argv, out, errs);
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && st.st_size > 0;
}

/* fit -> /update/ecram with the law recovered (the soft-bounds line through f(g_min), f(g_max)
 * of the mean device within 10 %: 3 devices with a 10 % spread of the rates give a mean rate
 * within ~6 % (1 SE) of the nominal; the noise adds < 1 %); inspect; report with and without
 * --model; the fitted law forced with --update-law. */
static void test_fit_inspect_report(void **state)
{
    (void)state;
    char *dir = xb_test_tmpdir("update-cli");
    char res[1024], mod[1024], mod2[1024], rep[1024], rep2[1024], png[1100];
    snprintf(res, sizeof res, "%s/r.h5", dir);
    snprintf(mod, sizeof mod, "%s/m.h5", dir);
    snprintf(mod2, sizeof mod2, "%s/m2.h5", dir);
    snprintf(rep, sizeof rep, "%s/rep", dir);
    snprintf(rep2, sizeof rep2, "%s/rep2", dir);
    write_results(res, "ecram", BAD_NONE);
    char *out = NULL, *errs = NULL;
    int rc = run(&out, &errs, "fit", res, "-o", mod, "--update-law", "softbounds", NULL);
    if (rc) fprintf(stderr, "%s%s", out, errs);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "update model /update/ecram: law softbounds, 3 devices"));
    free(out);
    free(errs);
    xb_update_model *m = NULL;
    size_t n = 0;
    xb_error err;
    assert_int_equal(xb_fit_update_read_all(mod, &m, &n, &err), XB_OK);
    assert_int_equal(n, 1);
    assert_int_equal(m[0].device, XB_DEVICE_ECRAM);
    assert_int_equal(m[0].n_trains, D * S);
    const double lo = m[0].g_min_siemens, hi = m[0].g_max_siemens;
    const double eu[2] = {AU * (BU - lo), AU * (BU - hi)}, ed[2] = {-AD * (lo - BD), -AD * (hi - BD)};
    for (int j = 0; j < 2; j++) {
        fprintf(stderr, "up s%d %.4g (nominal %.4g), down s%d %.4g (nominal %.4g)\n", j, m[0].up[j], eu[j], j,
                m[0].down[j], ed[j]);
        assert_true(fabs(m[0].up[j] - eu[j]) <= 0.1 * fabs(eu[0]));
        assert_true(fabs(m[0].down[j] - ed[j]) <= 0.1 * fabs(ed[1]));
    }
    assert_true(fabs(m[0].energy_up_joule - 2e-15) < 1e-27);
    assert_true(m[0].up_volt == 1.3 && m[0].down_volt == -1.3 && m[0].width_s == 10e-9);
    xb_fit_update_free_all(m, n);
    assert_int_equal(run(&out, &errs, "inspect", mod, NULL, NULL, NULL, NULL, NULL), 0);
    assert_non_null(strstr(out, "update models: 1"));
    assert_non_null(strstr(out, "  ecram  softbounds"));
    free(out);
    free(errs);
    assert_int_equal(run(&out, &errs, "report", res, "-o", rep, "--model", mod, NULL), 0);
    snprintf(png, sizeof png, "%s/update_model_ecram.png", rep);
    assert_true(exists(png));
    free(out);
    free(errs);
    assert_int_equal(run(&out, &errs, "report", res, "-o", rep2, NULL, NULL, NULL), 0);
    snprintf(png, sizeof png, "%s/update_model_ecram.png", rep2);
    assert_true(exists(png));
    free(out);
    free(errs);
    assert_int_equal(run(&out, &errs, "fit", res, "-o", mod2, "--update-law", "exp", NULL), 0);
    assert_non_null(strstr(out, "law exp"));
    free(out);
    free(errs);
    assert_int_equal(run(&out, &errs, "fit", res, "-o", mod2, "--force", "--update-law", "cubic"), 2);
    assert_int_equal(xb_test_count_lines(errs), 1);
    assert_non_null(strstr(errs, "--update-law"));
    free(out);
    free(errs);
    free(dir);
}

/* Bad pulse-train records: one line naming the file and the dataset, exit 2. */
static void test_bad_records(void **state)
{
    (void)state;
    char *dir = xb_test_tmpdir("update-cli-bad");
    for (int b = BAD_NO_DIRECTION; b <= BAD_CYCLES; b++) {
        char res[1024], mod[1024], want[1200];
        snprintf(res, sizeof res, "%s/r%d.h5", dir, b);
        snprintf(mod, sizeof mod, "%s/m%d.h5", dir, b);
        write_results(res, "ecram", (bad_kind)b);
        char *out = NULL, *errs = NULL;
        int rc = run(&out, &errs, "fit", res, "-o", mod, NULL, NULL, NULL);
        fprintf(stderr, "bad record %d: exit %d: %s", b, rc, errs);
        assert_int_equal(rc, 2);
        assert_int_equal(xb_test_count_lines(errs), 1);
        snprintf(want, sizeof want, "%s:/points/p00000/program%s%s", res, k_bad_dataset[b][0] ? "/" : "",
                 k_bad_dataset[b]);
        assert_non_null(strstr(errs, want));
        assert_false(exists(mod)); /* no half-written model */
        free(out);
        free(errs);
        /* report reads the same records */
        char rep[1100];
        snprintf(rep, sizeof rep, "%s/rep%d", dir, b);
        assert_int_equal(run(&out, &errs, "report", res, "-o", rep, NULL, NULL, NULL), 2);
        assert_int_equal(xb_test_count_lines(errs), 1);
        assert_non_null(strstr(errs, want));
        free(out);
        free(errs);
    }
    free(dir);
}

/* Bad /update groups: xbar inspect and xbar report --model name the file and dataset. */
static void edit_model(const char *path, const char *what)
{
    hid_t f;
    xb_error err;
    assert_int_equal(xb_h5_open(path, 1, &f, &err), XB_OK);
    if (strcmp(what, "missing") == 0) {
        assert_int_equal(xb_h5_delete(f, "update/ecram/law/up_knot_siemens", &err), XB_OK);
    } else if (strcmp(what, "unit") == 0) {
        hid_t ds = H5Dopen2(f, "update/ecram/g_min_siemens", H5P_DEFAULT);
        H5Adelete(ds, "units");
        H5Dclose(ds);
        double v = 1e-6;
        assert_int_equal(xb_h5_delete(f, "update/ecram/g_min_siemens", &err), XB_OK);
        hid_t g;
        assert_int_equal(xb_h5_group_open(f, "update/ecram", &g, &err), XB_OK);
        assert_int_equal(xb_h5_write_doubles(g, "g_min_siemens", 0, NULL, &v, "A", &err), XB_OK);
        H5Gclose(g);
    } else {
        assert_int_equal(xb_h5_attr_set_int64(f, "update/ecram", "version", 3, &err), XB_OK);
    }
    assert_int_equal(xb_h5_close(f, &err), XB_OK);
}

static void test_bad_update_group(void **state)
{
    (void)state;
    char *dir = xb_test_tmpdir("update-cli-model");
    char res[1024], rres[1024];
    snprintf(res, sizeof res, "%s/r.h5", dir);
    snprintf(rres, sizeof rres, "%s/rr.h5", dir);
    write_results(res, "ecram", BAD_NONE);
    write_results(rres, "rram", BAD_NONE);
    static const char *const kinds[] = {"missing", "unit", "version"};
    static const char *const want[] = {"/update/ecram/law/up_knot_siemens: missing dataset",
                                       "/update/ecram/g_min_siemens: unit 'A'", "update model version 3"};
    for (int k = 0; k < 3; k++) {
        char mod[1024], rep[1100];
        snprintf(mod, sizeof mod, "%s/m%d.h5", dir, k);
        snprintf(rep, sizeof rep, "%s/rep%d", dir, k);
        char *out = NULL, *errs = NULL;
        assert_int_equal(run(&out, &errs, "fit", res, "-o", mod, NULL, NULL, NULL), 0);
        free(out);
        free(errs);
        edit_model(mod, kinds[k]);
        assert_int_equal(run(&out, &errs, "inspect", mod, NULL, NULL, NULL, NULL, NULL), 2);
        fprintf(stderr, "%s: %s", kinds[k], errs);
        assert_int_equal(xb_test_count_lines(errs), 1);
        assert_non_null(strstr(errs, mod));
        assert_non_null(strstr(errs, want[k]));
        free(out);
        free(errs);
        assert_int_equal(run(&out, &errs, "report", res, "-o", rep, "--model", mod, NULL), 2);
        assert_int_equal(xb_test_count_lines(errs), 1);
        assert_non_null(strstr(errs, want[k]));
        free(out);
        free(errs);
    }
    /* a model without the device of the trains */
    char mod[1024], rep[1100];
    snprintf(mod, sizeof mod, "%s/mr.h5", dir);
    snprintf(rep, sizeof rep, "%s/repr", dir);
    char *out = NULL, *errs = NULL;
    assert_int_equal(run(&out, &errs, "fit", rres, "-o", mod, NULL, NULL, NULL), 0);
    free(out);
    free(errs);
    assert_int_equal(run(&out, &errs, "report", res, "-o", rep, "--model", mod, NULL), 2);
    assert_int_equal(xb_test_count_lines(errs), 1);
    assert_non_null(strstr(errs, "no /update/ecram"));
    free(out);
    free(errs);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit_inspect_report),
        cmocka_unit_test(test_bad_records),
        cmocka_unit_test(test_bad_update_group),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
