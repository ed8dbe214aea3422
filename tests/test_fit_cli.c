/* xbar fit / xbar inspect / model files: end to end on a results file written here in the
 * layout of docs/hdf5-results.md, with circuit currents from the dense Newton reference
 * solver (tests/test_fit_support.h); bad input gives one-line errors and exit 2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "support/xb_test.h"
#include <gsl/gsl_randist.h>

#include "test_fit_support.h"
#include "xbar/fit.h"
#include "xbar/h5.h"

typedef struct {
    xb_device_kind dev;
    size_t n;
    double r_wire;
} cfg;

/* One point group /points/NAME with N = sets G matrices of K vectors each. */
static void write_point(hid_t f, const char *name, const cfg *c, size_t sets, size_t K, gsl_rng *rng,
                        int drop_i, int bad_shape)
{
    xb_array_params p;
    xb_array_params_default(&p, c->dev);
    p.rows = p.cols = c->n;
    p.r_wire_row_ohm = p.r_wire_col_ohm = c->r_wire;
    char gp[64];
    snprintf(gp, sizeof gp, "points/%s", name);
    hid_t g, mg;
    xb_error err;
    assert_int_equal(xb_h5_group_create(f, gp, &g, &err), XB_OK);
    xb_h5_attr_set_string(g, ".", "status", "ok", &err);
    xb_h5_attr_set_string(g, ".", "device", xb_device_name(c->dev), &err);
    xb_h5_attr_set_string(g, ".", "cell", "1r", &err);
    xb_h5_attr_set_string(g, ".", "engine", "native", &err);
    xb_h5_attr_set_string(g, ".", "key", "test point", &err);
    xb_h5_attr_set_int64(g, ".", "rows", (int64_t)c->n, &err);
    xb_h5_attr_set_int64(g, ".", "cols", (int64_t)c->n, &err);
    xb_h5_attr_set_int64(g, ".", "var_program", 0, &err);
    const struct { const char *n; double v; } d[] = {
        {"r_wire_row_ohm", p.r_wire_row_ohm}, {"r_wire_col_ohm", p.r_wire_col_ohm},
        {"r_driver_ohm", p.r_driver_ohm},     {"r_sense_ohm", p.r_sense_ohm},
        {"c_wire_farad", p.c_wire_farad},     {"v_read_volt", p.v_read_volt},
        {"g_min_siemens", p.g_min_siemens},   {"g_max_siemens", p.g_max_siemens},
    };
    for (size_t k = 0; k < sizeof d / sizeof d[0]; k++) xb_h5_attr_set_double(g, ".", d[k].n, d[k].v, &err);
    size_t R = c->n, C = c->n;
    double *ga = malloc(sets * R * C * sizeof *ga), *va = malloc(sets * K * R * sizeof *va);
    double *ia = malloc(sets * K * C * sizeof *ia);
    for (size_t s = 0; s < sets; s++) {
        xb_matrix *gm, *vm, *im;
        ref_sample(&p, rng, K, &gm, &vm, &im);
        memcpy(ga + s * R * C, gm->data, R * C * sizeof(double));
        memcpy(va + s * K * R, vm->data, K * R * sizeof(double));
        memcpy(ia + s * K * C, im->data, K * C * sizeof(double));
        xb_matrix_free(gm); xb_matrix_free(vm); xb_matrix_free(im);
    }
    assert_int_equal(xb_h5_group_create(g, "mvm", &mg, &err), XB_OK);
    hsize_t dg[3] = {sets, R, C}, dv[3] = {sets, K, R}, di[3] = {sets, K, bad_shape ? C + 1 : C};
    assert_int_equal(xb_h5_write_doubles(mg, "g_target", 3, dg, ga, "S", &err), XB_OK);
    assert_int_equal(xb_h5_write_doubles(mg, "g", 3, dg, ga, "S", &err), XB_OK);
    assert_int_equal(xb_h5_write_doubles(mg, "v", 3, dv, va, "V", &err), XB_OK);
    if (!drop_i) {
        double *ib = ia;
        if (bad_shape) {
            ib = calloc(sets * K * (C + 1), sizeof *ib);
        }
        assert_int_equal(xb_h5_write_doubles(mg, "i_circuit", 3, di, ib, "A", &err), XB_OK);
        if (ib != ia) free(ib);
    }
    H5Gclose(mg);
    H5Gclose(g);
    free(ga);
    free(va);
    free(ia);
}

static char *write_results(const char *dir, const char *fname, const cfg *cs, size_t n, int drop_i, int bad_shape)
{
    char *path = xb_test_write_file(dir, fname, "");
    remove(path);
    hid_t f;
    xb_error err;
    assert_int_equal(xb_h5_create(path, 1, &f, &err), XB_OK);
    xb_h5_attr_set_string(f, ".", "format", "xbar-results", &err);
    xb_h5_attr_set_int64(f, ".", "format_version", 1, &err);
    xb_h5_attr_set_string(f, ".", "ngspice_version", "ngspice-39 (test reference: dense Newton)", &err);
    xb_h5_attr_set_string(f, ".", "campaign_name", "fit-test", &err);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 77);
    for (size_t k = 0; k < n; k++) {
        char name[32];
        snprintf(name, sizeof name, "p%05zu", k);
        write_point(f, name, &cs[k], 4, 8, rng, drop_i, bad_shape);
    }
    gsl_rng_free(rng);
    assert_int_equal(xb_h5_close(f, &err), XB_OK);
    return path;
}

static int run(char *const argv[], char **out, char **err)
{
    int rc = xb_test_run_xbar(argv, out, err);
    return rc;
}

static void test_fit_end_to_end(void **state)
{
    char *dir = xb_test_tmpdir("fitcli");
    const cfg cs[] = {
        {XB_DEVICE_RRAM, 6, 1.0}, {XB_DEVICE_RRAM, 8, 1.0}, {XB_DEVICE_RRAM, 8, 4.0},
        {XB_DEVICE_PCM, 6, 2.0},  {XB_DEVICE_PCM, 8, 2.0},
    };
    char *res = write_results(dir, "r.h5", cs, 5, 0, 0);
    /* a failed point and a point being copied in (no status): both skipped, though their
     * data would not load */
    {
        hid_t f, g;
        xb_error e;
        assert_int_equal(xb_h5_open(res, 1, &f, &e), XB_OK);
        const char *bad[2] = {"points/p00099", "points/.incoming_p00100"};
        for (int k = 0; k < 2; k++) {
            assert_int_equal(xb_h5_group_create(f, bad[k], &g, &e), XB_OK);
            if (k == 0) xb_h5_attr_set_string(g, ".", "status", "failed", &e);
            xb_h5_attr_set_string(g, ".", "device", "rram", &e);
            hid_t mg;
            xb_h5_group_create(g, "mvm", &mg, &e);
            H5Gclose(mg);
            H5Gclose(g);
        }
        xb_h5_close(f, &e);
    }
    char *model = xb_test_write_file(dir, "m.h5", "");
    remove(model);
    char *out = NULL, *errs = NULL;
    char *a1[] = {"xbar", "fit", res, "-o", model, NULL};
    int rc = run(a1, &out, &errs);
    if (rc) fprintf(stderr, "%s%s", out, errs);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "5 model(s)"));
    assert_non_null(strstr(out, "left out"));
    free(out); free(errs);
    /* refuses to overwrite */
    rc = run(a1, &out, &errs);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(errs, "exists (use --force"));
    assert_int_equal((int)xb_test_count_lines(errs), 1);
    free(out); free(errs);
    /* inspect the model and the results */
    char *a2[] = {"xbar", "inspect", model, NULL};
    assert_int_equal(run(a2, &out, &errs), 0);
    assert_non_null(strstr(out, "format: xbar-model version 1"));
    assert_non_null(strstr(out, "models: 5"));
    assert_non_null(strstr(out, "source_file"));
    assert_non_null(strstr(out, "/family: pcm_1r rram_1r"));
    free(out); free(errs);
    char *a3[] = {"xbar", "inspect", res, NULL};
    assert_int_equal(run(a3, &out, &errs), 0);
    assert_non_null(strstr(out, "points: 7"));
    assert_non_null(strstr(out, "p00099   failed"));
    free(out); free(errs);

    /* the written models, read back, predict fresh reference samples (never fitted) */
    xb_fit_params *ms;
    xb_fit_metrics *mt;
    size_t n;
    xb_error err;
    assert_int_equal(xb_fit_file_read(model, &ms, &mt, &n, &err), XB_OK);
    assert_int_equal(n, 5);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 991);
    for (size_t k = 0; k < 5; k++) {
        xb_array_params p;
        xb_array_params_default(&p, cs[k].dev);
        p.rows = p.cols = cs[k].n;
        p.r_wire_row_ohm = p.r_wire_col_ohm = cs[k].r_wire;
        size_t idx;
        assert_int_equal(xb_fit_select(ms, n, &p, &idx, &err), XB_OK);
        assert_int_equal(idx, k);
        xb_matrix *g, *v, *i;
        ref_sample(&p, rng, 6, &g, &v, &i);
        xb_fit_sample s = {g, v, i};
        double em, ei;
        assert_int_equal(xb_fit_score(&ms[idx], &s, 1, &em, &ei, &err), XB_OK);
        assert_true(em <= 0.01);
        if (ei > 0.02) assert_true(20 * em <= ei);
        assert_true(mt[k].heldout_rel_l2 <= 0.01 && mt[k].n_heldout_vectors == 8);
        xb_matrix_free(g); xb_matrix_free(v); xb_matrix_free(i);
    }
    /* a size between the fitted ones: parameters from the size/wire-resistance family */
    {
        xb_array_params p7;
        xb_array_params_default(&p7, XB_DEVICE_RRAM);
        p7.rows = p7.cols = 7;
        p7.r_wire_row_ohm = p7.r_wire_col_ohm = 2.0;
        xb_fit_params m7;
        int fam = 0;
        assert_int_equal(xb_fit_file_model_for(model, &p7, &m7, &fam, &err), XB_OK);
        assert_int_equal(fam, 1);
        assert_int_equal(m7.config.rows, 7);
        xb_matrix *g, *v, *i;
        ref_sample(&p7, rng, 6, &g, &v, &i);
        xb_fit_sample s = {g, v, i};
        double em, ei;
        assert_int_equal(xb_fit_score(&m7, &s, 1, &em, &ei, &err), XB_OK);
        printf("# 7x7 from the family: model %.3e ideal %.3e\n", em, ei);
        assert_true(em <= 0.01 && 20 * em <= ei);
        xb_matrix_free(g); xb_matrix_free(v); xb_matrix_free(i);
    }
    /* shape not in the file */
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_RRAM);
    p.rows = p.cols = 5;
    size_t idx;
    assert_int_equal(xb_fit_select(ms, n, &p, &idx, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "array is 5x5 but the rram/1r models are for 6x6, 8x8, 8x8"));
    gsl_rng_free(rng);
    free(ms);
    free(mt);
    free(res);
    free(model);
    free(dir);
}

static void expect_fail(char *const argv[], const char *needle)
{
    char *out = NULL, *errs = NULL;
    int rc = run(argv, &out, &errs);
    if (rc != 2 || !strstr(errs, needle)) fprintf(stderr, "rc=%d stderr: %s\n", rc, errs);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(errs, needle));
    assert_int_equal((int)xb_test_count_lines(errs), 1);
    free(out);
    free(errs);
}

static void test_fit_bad_input(void **state)
{
    char *dir = xb_test_tmpdir("fitbad");
    const cfg cs[] = {{XB_DEVICE_RRAM, 4, 1.0}};
    char *noi = write_results(dir, "noi.h5", cs, 1, 1, 0);
    char *bad = write_results(dir, "bad.h5", cs, 1, 0, 1);
    char *good = write_results(dir, "good.h5", cs, 1, 0, 0);
    char *txt = xb_test_write_file(dir, "x.h5", "not hdf5\n");
    char *m = xb_test_write_file(dir, "m.h5", "");
    remove(m);
    char *a1[] = {"xbar", "fit", txt, "-o", m, NULL};
    expect_fail(a1, "x.h5: not an HDF5 file");
    char *a2[] = {"xbar", "fit", noi, "-o", m, NULL};
    expect_fail(a2, "i_circuit: missing dataset");
    char *a3[] = {"xbar", "fit", bad, "-o", m, NULL};
    expect_fail(a3, "mvm/i_circuit: shape must be (4, 8, 4)");
    char *a4[] = {"xbar", "fit", good, NULL};
    expect_fail(a4, "missing -o MODEL.h5");
    char *a5[] = {"xbar", "fit", good, "-o", m, "--knots", "99", NULL};
    expect_fail(a5, "--knots: at most 8");
    char *a6[] = {"xbar", "inspect", txt, NULL};
    expect_fail(a6, "not an HDF5 file");
    /* a results file is not a model file and vice versa */
    char *a7[] = {"xbar", "fit", good, "-o", m, NULL};
    char *out = NULL, *errs = NULL;
    assert_int_equal(run(a7, &out, &errs), 0);
    free(out); free(errs);
    char *m2 = xb_test_write_file(dir, "m2.h5", "");
    remove(m2);
    char *a8[] = {"xbar", "fit", m, "-o", m2, NULL};
    expect_fail(a8, "root attribute 'format' is 'xbar-model', expected 'xbar-results'");
    xb_fit_params *ms;
    size_t n;
    xb_error err;
    assert_int_equal(xb_fit_file_read(good, &ms, NULL, &n, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "format 'xbar-results', expected 'xbar-model'"));
    /* wrong version, missing dataset, wrong unit: edit the model file */
    hid_t f;
    assert_int_equal(xb_h5_open(m, 1, &f, &err), XB_OK);
    xb_h5_attr_set_int64(f, ".", "version", 2, &err);
    xb_h5_close(f, &err);
    assert_int_equal(xb_fit_file_read(m, &ms, NULL, &n, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "model format version 2, this xbar reads version 1"));
    assert_int_equal(xb_h5_open(m, 1, &f, &err), XB_OK);
    xb_h5_attr_set_int64(f, ".", "version", 1, &err);
    xb_h5_delete(f, "models/000/params/gain", &err);
    xb_h5_close(f, &err);
    assert_int_equal(xb_fit_file_read(m, &ms, NULL, &n, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "gain: missing dataset"));
    assert_int_equal(xb_h5_open(m, 1, &f, &err), XB_OK);
    hid_t pg;
    xb_h5_group_open(f, "models/000/params", &pg, &err);
    double one = 1;
    xb_h5_write_doubles(pg, "gain", 0, NULL, &one, "A", &err);
    H5Gclose(pg);
    xb_h5_close(f, &err);
    assert_int_equal(xb_fit_file_read(m, &ms, NULL, &n, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "gain: unit 'A', expected '1'"));
    free(noi); free(bad); free(good); free(txt); free(m); free(m2); free(dir);
}

/* Model selection by configuration (docs/fit.md "Model selection"): RRAM models at 6x6 and 8x8,
 * 1 and 4 ohm.  A fitted circuit gets its own model; 8x8 at 2.5 ohm (between the fitted wire
 * resistances) the family, as interpolation, within 1e-3 of the native engine on fresh G and V;
 * a size beyond 6..8 or another driver resistance is extrapolation, which --strict refuses;
 * V = 0, V = v_read, G = g_min and g_max pass --strict. */
static double native_rel_l2(const xb_fit_params *m, const xb_array_params *p, gsl_rng *rng, double *ideal)
{
    xb_matrix *g = xb_matrix_new(p->rows, p->cols), *v = xb_matrix_new(8, p->rows);
    xb_matrix *im = xb_matrix_new(8, p->cols), *in = xb_matrix_new(8, p->cols), *ii = xb_matrix_new(8, p->cols);
    for (size_t q = 0; q < p->rows * p->cols; q++)
        g->data[q] = p->g_min_siemens + gsl_rng_uniform(rng) * (p->g_max_siemens - p->g_min_siemens);
    for (size_t q = 0; q < 8 * p->rows; q++) v->data[q] = gsl_rng_uniform(rng) * p->v_read_volt;
    xb_error err;
    assert_int_equal(xb_fit_model_mvm(m, g, v, im, &err), XB_OK);
    assert_int_equal(xb_engine_mvm_native(p, g, v, in, &err), XB_OK);
    assert_int_equal(xb_engine_mvm_ideal(g, v, ii, &err), XB_OK);
    double e = xb_fit_rel_l2(im, in);
    *ideal = xb_fit_rel_l2(ii, in);
    xb_matrix_free(g); xb_matrix_free(v); xb_matrix_free(im); xb_matrix_free(in); xb_matrix_free(ii);
    return e;
}

static void test_model_selection(void **state)
{
    char *dir = xb_test_tmpdir("fitselect");
    const cfg cs[] = {
        {XB_DEVICE_RRAM, 6, 1.0}, {XB_DEVICE_RRAM, 6, 4.0}, {XB_DEVICE_RRAM, 8, 1.0}, {XB_DEVICE_RRAM, 8, 4.0},
    };
    char *res = write_results(dir, "r.h5", cs, 4, 0, 0);
    char *model = xb_test_write_file(dir, "m.h5", "");
    remove(model);
    char *out = NULL, *errs = NULL;
    char *a1[] = {"xbar", "fit", res, "-o", model, NULL};
    int rc = run(a1, &out, &errs);
    if (rc) fprintf(stderr, "%s%s", out, errs);
    assert_int_equal(rc, 0);
    free(out); free(errs);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 1999);
    xb_error err;
    xb_fit_params m;
    xb_fit_choice ch;
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_RRAM);
    /* every fitted circuit: its own model */
    for (size_t k = 0; k < 4; k++) {
        p.rows = p.cols = cs[k].n;
        p.r_wire_row_ohm = p.r_wire_col_ohm = cs[k].r_wire;
        assert_int_equal(xb_fit_file_choose(model, &p, &m, &ch, &err), XB_OK);
        assert_int_equal(ch.kind, XB_FIT_CHOICE_FITTED);
        assert_int_equal(ch.index, k);
        assert_int_equal(ch.extrapolation, 0);
        assert_string_equal(ch.line, "");
    }
    /* between the fitted wire resistances: the r_wire interpolation between the bracketing
     * models (equal row/column wires) or the family (unequal ones, or at 7x7 between the
     * sizes), within 1e-3 of native */
    const struct { size_t n; double row, col; xb_fit_choice_kind kind; const char *line; } bw[] = {
        {8, 2.5, 2.5, XB_FIT_CHOICE_INTERP, "8x8 r_wire 2.5/2.5 ohm: interpolation in r_wire between models 002 (1 ohm) "
                                            "and 003 (4 ohm)"},
        {8, 1.75, 1.75, XB_FIT_CHOICE_INTERP, "interpolation in r_wire between models 002"},
        {8, 1.0, 4.0, XB_FIT_CHOICE_FAMILY, "8x8 r_wire 1/4 ohm: rram/1r size/wire-resistance family, interpolation "
                                            "between fitted models"},
        {7, 2.5, 2.5, XB_FIT_CHOICE_FAMILY, "rram/1r size/wire-resistance family, interpolation between"},
    };
    for (size_t k = 0; k < sizeof bw / sizeof bw[0]; k++) {
        p.rows = p.cols = bw[k].n;
        p.r_wire_row_ohm = bw[k].row;
        p.r_wire_col_ohm = bw[k].col;
        assert_int_equal(xb_fit_file_choose(model, &p, &m, &ch, &err), XB_OK);
        assert_int_equal(ch.kind, bw[k].kind);
        assert_int_equal(ch.extrapolation, 0);
        assert_non_null(strstr(ch.line, bw[k].line));
        double ei, e = native_rel_l2(&m, &p, rng, &ei);
        printf("# %zux%zu r_wire %g/%g ohm (%s): %.3e vs native (ideal %.3e)\n", bw[k].n, bw[k].n, bw[k].row,
               bw[k].col, ch.line, e, ei);
        assert_true(e <= 1e-3 && 20 * e <= ei);
    }
    /* beyond the fitted sizes, another driver: extrapolation, named */
    p.rows = p.cols = 12;
    p.r_wire_row_ohm = p.r_wire_col_ohm = 2;
    assert_int_equal(xb_fit_file_choose(model, &p, &m, &ch, &err), XB_OK);
    assert_int_equal(ch.kind, XB_FIT_CHOICE_FAMILY);
    assert_int_equal(ch.extrapolation, 1);
    assert_non_null(strstr(ch.line, "extrapolation (size 12x12 beyond the fitted 6..8)"));
    p.rows = p.cols = 8;
    p.r_driver_ohm = 250;
    assert_int_equal(xb_fit_file_choose(model, &p, &m, &ch, &err), XB_OK);
    assert_int_equal(ch.extrapolation, 1);
    assert_non_null(strstr(ch.line, "r_driver 250 where every fitted model has 100"));
    gsl_rng_free(rng);

    /* the held-out error by input distribution and by configuration, stored at fit time
     * against the native engine: consistent with the fit's own held-out error (reference
     * currents of the dense Newton solver) and with the family's error measured above */
    xb_fit_params *ms;
    xb_fit_metrics *mt;
    size_t nm;
    assert_int_equal(xb_fit_file_read(model, &ms, &mt, &nm, &err), XB_OK);
    for (size_t k = 0; k < nm; k++) {
        assert_true(mt[k].has_inputs && mt[k].input_vectors == XB_FIT_INPUT_VECTORS);
        printf("# model %zu (%zux%zu %g ohm): held-out %.2e; by input", k, ms[k].config.rows, ms[k].config.cols,
               ms[k].config.r_wire_row_ohm, mt[k].heldout_rel_l2);
        for (int q = 0; q < XB_FIT_N_INPUTS; q++) {
            printf(" %s %.2e/%.2e", xb_fit_input_name(q), mt[k].input_rel_l2[q], mt[k].input_ideal_rel_l2[q]);
            assert_true(mt[k].input_rel_l2[q] <= 1e-3 && 20 * mt[k].input_rel_l2[q] <= mt[k].input_ideal_rel_l2[q]);
        }
        printf("\n");
        const double u = mt[k].input_rel_l2[XB_FIT_IN_UNIFORM];
        assert_true(u <= 5 * mt[k].heldout_rel_l2 && mt[k].heldout_rel_l2 <= 5 * u);
        /* the envelope: the device window and 0..v_read */
        assert_true(ms[k].valid_g_min_siemens <= ms[k].config.g_min_siemens);
        assert_true(ms[k].valid_g_max_siemens >= ms[k].config.g_max_siemens);
        assert_true(ms[k].valid_v_min_volt == 0 && ms[k].valid_v_max_volt == ms[k].config.v_read_volt);
    }
    free(ms);
    free(mt);
    xb_fit_config_error *ce;
    size_t nc;
    assert_int_equal(xb_fit_file_config_errors(model, &ce, &nc, &err), XB_OK);
    assert_int_equal(nc, 2); /* 2.5 ohm at 6x6 and 8x8 */
    for (size_t k = 0; k < nc; k++) {
        assert_true(ce[k].device == XB_DEVICE_RRAM && fabs(ce[k].r_wire_ohm - 2.5) < 1e-12);
        for (int q = 0; q < XB_FIT_N_INPUTS; q++) {
            assert_true(ce[k].rel_l2[q] <= 1e-3 && 20 * ce[k].rel_l2[q] <= ce[k].ideal_rel_l2[q]);
            assert_true(ce[k].family_rel_l2[q] <= 1e-3 && 20 * ce[k].family_rel_l2[q] <= ce[k].ideal_rel_l2[q]);
        }
    }
    free(ce);
    char *ai[] = {"xbar", "inspect", model, NULL};
    assert_int_equal(run(ai, &out, &errs), 0);
    assert_non_null(strstr(out, "held-out by input: uniform "));
    assert_non_null(strstr(out, "rram/1r 8x8 r_wire 2.5: uniform "));
    assert_non_null(strstr(out, "        family: uniform "));
    free(out); free(errs);

    /* xbar mvm: one line naming the family; --strict passes V = 0, v_read, G = g_min, g_max */
    char gtxt[4096] = "", vtxt[2048] = "";
    size_t o = 0;
    for (size_t i = 0; i < 8; i++)
        for (size_t j = 0; j < 8; j++)
            o += (size_t)snprintf(gtxt + o, sizeof gtxt - o, "%.17g%s", (i + j) % 3 == 0 ? p.g_min_siemens
                                  : (i + j) % 3 == 1 ? p.g_max_siemens : 2e-5, j == 7 ? "\n" : ",");
    o = 0;
    for (size_t k = 0; k < 3; k++)
        for (size_t i = 0; i < 8; i++)
            o += (size_t)snprintf(vtxt + o, sizeof vtxt - o, "%.17g%s", k == 0 ? 0.0 : k == 1 ? p.v_read_volt
                                  : 0.1 * (double)(i % 3), i == 7 ? "\n" : ",");
    char *gp = xb_test_write_file(dir, "G.csv", gtxt), *vp = xb_test_write_file(dir, "V.csv", vtxt);
    char *a2[] = {"xbar", "mvm", "--engine", "model", "--model", model, "--device", "rram", "--r-wire", "2.5",
                  "--strict", "--g", gp, "--v", vp, NULL};
    rc = run(a2, &out, &errs);
    if (rc) fprintf(stderr, "%s", errs);
    assert_int_equal(rc, 0);
    assert_int_equal((int)xb_test_count_lines(errs), 1);
    assert_non_null(strstr(errs, "xbar mvm: model: "));
    assert_non_null(strstr(errs, "8x8 r_wire 2.5/2.5 ohm: interpolation in r_wire between models 002 (1 ohm) and 003"));
    free(out); free(errs);
    char *a3[] = {"xbar", "mvm", "--engine", "model", "--model", model, "--device", "rram", "--r-wire", "4",
                  "--strict", "--g", gp, "--v", vp, NULL};
    rc = run(a3, &out, &errs); /* a fitted circuit: silent */
    assert_int_equal(rc, 0);
    assert_string_equal(errs, "");
    free(out); free(errs);
    char *a4[] = {"xbar", "mvm", "--engine", "model", "--model", model, "--device", "rram", "--r-wire", "2.5",
                  "--r-driver", "250", "--g", gp, "--v", vp, NULL};
    rc = run(a4, &out, &errs);
    assert_int_equal(rc, 0);
    assert_int_equal((int)xb_test_count_lines(errs), 1);
    assert_non_null(strstr(errs, "xbar mvm: warning: "));
    assert_non_null(strstr(errs, "extrapolation (r_driver 250 where every fitted model has 100)"));
    free(out); free(errs);
    char *a5[] = {"xbar", "mvm", "--engine", "model", "--model", model, "--device", "rram", "--r-wire", "2.5",
                  "--r-driver", "250", "--strict", "--g", gp, "--v", vp, NULL};
    expect_fail(a5, "--strict refuses extrapolation");
    free(gp); free(vp); free(res); free(model); free(dir);
}

/* Statistics sections: programming-error sigma(G) from Monte Carlo points, energy and settling
 * regressions from transient points.  The synthetic laws below are the closed forms the
 * fitted coefficients must reproduce. */
static double sigma_law(double g) { return 0.05e-6 + 0.02 * g; }

static void test_fit_stats(void **state)
{
    char *dir = xb_test_tmpdir("fitstats");
    char *path = xb_test_write_file(dir, "r.h5", "");
    remove(path);
    hid_t f;
    xb_error err;
    assert_int_equal(xb_h5_create(path, 1, &f, &err), XB_OK);
    xb_h5_attr_set_string(f, ".", "format", "xbar-results", &err);
    xb_h5_attr_set_int64(f, ".", "format_version", 1, &err);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 5);
    const size_t S = 2, M = 25, K = 2;
    for (size_t pt = 0; pt < 6; pt++) {
        xb_array_params p;
        xb_array_params_default(&p, XB_DEVICE_RRAM);
        p.rows = p.cols = 4 + pt;
        p.r_wire_row_ohm = p.r_wire_col_ohm = 0.5 + (double)pt;
        p.c_wire_farad = (1.0 + (double)pt) * 2e-14; /* line charging ~10% of the energy */
        const size_t R = p.rows, C = p.cols, N = S * M;
        char gp[64];
        snprintf(gp, sizeof gp, "points/p%05zu", pt);
        hid_t g, mg, tg;
        assert_int_equal(xb_h5_group_create(f, gp, &g, &err), XB_OK);
        xb_h5_attr_set_string(g, ".", "status", "ok", &err);
        xb_h5_attr_set_string(g, ".", "device", "rram", &err);
        xb_h5_attr_set_string(g, ".", "cell", "1r", &err);
        xb_h5_attr_set_string(g, ".", "engine", "native", &err);
        xb_h5_attr_set_int64(g, ".", "rows", (int64_t)R, &err);
        xb_h5_attr_set_int64(g, ".", "cols", (int64_t)C, &err);
        xb_h5_attr_set_int64(g, ".", "var_program", 1, &err);
        xb_h5_attr_set_double(g, ".", "r_wire_row_ohm", p.r_wire_row_ohm, &err);
        xb_h5_attr_set_double(g, ".", "r_wire_col_ohm", p.r_wire_col_ohm, &err);
        xb_h5_attr_set_double(g, ".", "c_wire_farad", p.c_wire_farad, &err);
        double *gt = malloc(S * R * C * sizeof *gt), *ga = malloc(N * R * C * sizeof *ga);
        double *va = malloc(N * K * R * sizeof *va), *ia = malloc(N * K * C * sizeof *ia);
        for (size_t q = 0; q < S * R * C; q++)
            gt[q] = p.g_min_siemens + gsl_rng_uniform(rng) * (p.g_max_siemens - p.g_min_siemens);
        xb_matrix *gm = xb_matrix_new(R, C);
        for (size_t n = 0; n < N; n++) {
            for (size_t q = 0; q < R * C; q++) {
                double t = gt[(n / M) * R * C + q];
                gm->data[q] = ga[n * R * C + q] = t + gsl_ran_gaussian(rng, sigma_law(t));
            }
            for (size_t q = 0; q < K * R; q++) va[n * K * R + q] = gsl_rng_uniform(rng) * p.v_read_volt;
            for (size_t k = 0; k < K; k++)
                assert_int_equal(ref_solve(&p, gm, va + n * K * R + k * R, ia + n * K * C + k * C), 0);
        }
        xb_matrix_free(gm);
        assert_int_equal(xb_h5_group_create(g, "mvm", &mg, &err), XB_OK);
        hsize_t dt[3] = {S, R, C}, dg[3] = {N, R, C}, dv[3] = {N, K, R}, di[3] = {N, K, C};
        xb_h5_write_doubles(mg, "g_target", 3, dt, gt, "S", &err);
        xb_h5_write_doubles(mg, "g", 3, dg, ga, "S", &err);
        xb_h5_write_doubles(mg, "v", 3, dv, va, "V", &err);
        xb_h5_write_doubles(mg, "i_circuit", 3, di, ia, "A", &err);
        H5Gclose(mg);
        /* transient of sample 0, vector 0: the synthetic laws of energy and settling, with
         * the exact row currents of the reference solver */
        double t_read = 1e-8 * (1 + (double)(pt % 3)), t_rise = 1e-10 * (1 + (double)(pt % 2));
        double svi = 0, sv2 = 0, irow[16], icol[16];
        xb_matrix *g0 = xb_matrix_new(R, C);
        memcpy(g0->data, ga, R * C * sizeof(double));
        assert_int_equal(ref_solve_rows(&p, g0, va, icol, irow), 0);
        xb_matrix_free(g0);
        for (size_t i = 0; i < R; i++) {
            svi += va[i] * irow[i];
            sv2 += va[i] * va[i];
        }
        double fe = (t_read + t_rise / 3) * svi, fc = p.c_wire_farad * (double)C * sv2;
        double tr = (p.r_driver_ohm + p.r_wire_row_ohm * (double)C / 2) * p.c_wire_farad * (double)C;
        double tc = (p.r_sense_ohm + p.r_wire_col_ohm * (double)R / 2) * p.c_wire_farad * (double)R;
        assert_int_equal(xb_h5_group_create(g, "transient", &tg, &err), XB_OK);
        xb_h5_attr_set_double(tg, ".", "t_read_s", t_read, &err);
        xb_h5_attr_set_double(tg, ".", "t_rise_s", t_rise, &err);
        xb_h5_attr_set_double(tg, ".", "c_wire_farad", p.c_wire_farad, &err);
        xb_h5_attr_set_double(tg, ".", "e_read_joule", 2.0 * fe + 3.0 * fc, &err);
        xb_h5_attr_set_double(tg, ".", "t_settle_max_s", 1.5 * t_rise + 2.2 * tr + 0.7 * tc, &err);
        H5Gclose(tg);
        H5Gclose(g);
        free(gt); free(ga); free(va); free(ia);
    }
    gsl_rng_free(rng);
    xb_h5_close(f, &err);
    char *model = xb_test_write_file(dir, "m.h5", "");
    remove(model);
    char *out = NULL, *errs = NULL;
    char *a[] = {"xbar", "fit", path, "-o", model, NULL};
    int rc = run(a, &out, &errs);
    if (rc) fprintf(stderr, "%s", errs);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "sigma(G) fitted for 1 device"));
    assert_non_null(strstr(out, "energy and settling regressions over 6 transient points"));
    free(out); free(errs);
    assert_int_equal(xb_h5_open(model, 0, &f, &err), XB_OK);
    double *c = NULL;
    int rk;
    hsize_t d[4];
    assert_int_equal(xb_h5_read_doubles(f, "stats/energy/coef", &c, &rk, d, &err), XB_OK);
    /* the model's row currents stand in for the exact ones: agreement to the model's accuracy */
    printf("# energy coef %.6f %.6f (true 2, 3)\n", c[0], c[1]);
    assert_true(fabs(c[0] - 2.0) < 2e-3 * 2.0 && fabs(c[1] - 3.0) < 2e-3 * 3.0);
    free(c);
    assert_int_equal(xb_h5_read_doubles(f, "stats/settling/coef", &c, &rk, d, &err), XB_OK);
    assert_true(fabs(c[0] - 1.5) < 1e-6 && fabs(c[1] - 2.2) < 1e-6 && fabs(c[2] - 0.7) < 1e-6);
    free(c);
    assert_int_equal(xb_h5_read_doubles(f, "stats/sigma_program/rram/coef", &c, &rk, d, &err), XB_OK);
    for (double gg = 5e-6; gg <= 35e-6; gg += 10e-6) {
        double sg = 0, gk = 1;
        for (size_t k = 0; k < (size_t)d[0]; k++, gk *= gg) sg += c[k] * gk;
        printf("# sigma(%.0f uS): fitted %.4f uS, true %.4f uS\n", gg * 1e6, sg * 1e6, sigma_law(gg) * 1e6);
        assert_true(fabs(sg - sigma_law(gg)) < 0.08 * sigma_law(gg));
    }
    free(c);
    xb_h5_close(f, &err);
    /* read back for an executor: the regression reproduces the synthetic law on a new array */
    xb_fit_stats st;
    assert_int_equal(xb_fit_stats_read(model, &st, &err), XB_OK);
    assert_true(st.have_energy && st.have_settling);
    xb_fit_params *ms;
    size_t nm;
    assert_int_equal(xb_fit_file_read(model, &ms, NULL, &nm, &err), XB_OK);
    xb_array_params p = ms[0].config; /* 4x4, 0.5 ohm */
    xb_matrix *g4 = xb_matrix_new(4, 4);
    double v4[4] = {0.1, 0.2, 0.05, 0.15}, ir4[4], ic4[4], svi = 0, sv2 = 0;
    for (size_t q = 0; q < 16; q++) g4->data[q] = (2.0 + 2.0 * (double)q) * 1e-6;
    assert_int_equal(ref_solve_rows(&p, g4, v4, ic4, ir4), 0);
    for (size_t i = 0; i < 4; i++) {
        svi += v4[i] * ir4[i];
        sv2 += v4[i] * v4[i];
    }
    double e_true = 2.0 * (1e-8 + 1e-10 / 3) * svi + 3.0 * p.c_wire_farad * 4 * sv2;
    double e_fit = xb_fit_stats_energy_joule(&st, &ms[0], g4, v4, 1e-8, 1e-10);
    printf("# energy of a new 4x4 read: regression %.6e J, law %.6e J\n", e_fit, e_true);
    assert_true(fabs(e_fit - e_true) < 2e-3 * e_true);
    p.rows = p.cols = 3;
    p.c_wire_farad = 2e-16;
    p.r_wire_row_ohm = p.r_wire_col_ohm = 1.0;
    p.r_driver_ohm = 100;
    p.r_sense_ohm = 0;
    double t_true = 1.5 * 1e-10 + 2.2 * (100 + 1.0 * 1.5) * 2e-16 * 3 + 0.7 * (0 + 1.0 * 1.5) * 2e-16 * 3;
    assert_true(fabs(xb_fit_stats_settling_s(&st, &p, 1e-10) - t_true) < 1e-6 * t_true);
    xb_matrix_free(g4);
    free(ms);
    free(model);
    free(path);
    free(dir);
}

/* End to end on a real campaign: xbar characterize (native engine, Monte Carlo programming
 * error) -> xbar fit -> xbar mvm --engine model vs --engine native on fresh G and V; the fitted
 * sigma(G) against the device's own programming-error law (xb_netlist_sigma_program). */
static double *read_csv_out(const char *text, size_t *n)
{
    xb_matrix *m = NULL;
    xb_error err;
    if (xb_csv_parse_matrix(text, strlen(text), "stdout", &m, &err)) return NULL;
    *n = m->rows * m->cols;
    double *d = malloc(*n * sizeof *d);
    memcpy(d, m->data, *n * sizeof *d);
    xb_matrix_free(m);
    return d;
}

static void test_fit_real_campaign(void **state)
{
    char *dir = xb_test_tmpdir("fitreal");
    char *ini = xb_test_write_file(dir, "var.ini",
                                   "[campaign]\nname = fitvar\nseed = 3\nengine = native\n"
                                   "[array]\nsize = 8x8, 12x12\ndevice = rram, pcm\nr_wire_ohm = 2\n"
                                   "[inputs]\nsamples = 3\nvectors = 6\n"
                                   "[variability]\nprogram = true\nmonte_carlo = 8\n");
    char *res = xb_test_write_file(dir, "r.h5", ""), *model = xb_test_write_file(dir, "m.h5", "");
    remove(res);
    remove(model);
    char *out = NULL, *errs = NULL;
    char *a1[] = {"xbar", "characterize", ini, "-o", res, NULL};
    int rc = run(a1, &out, &errs);
    if (rc) fprintf(stderr, "%s", errs);
    assert_int_equal(rc, 0);
    free(out); free(errs);
    char *a2[] = {"xbar", "fit", res, "-o", model, NULL};
    rc = run(a2, &out, &errs);
    if (rc) fprintf(stderr, "%s", errs);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "4 model(s)"));
    assert_non_null(strstr(out, "sigma(G) fitted for 2 device(s)"));
    free(out); free(errs);
    /* sigma(G) vs the device law that produced the Monte Carlo samples */
    hid_t f;
    xb_error err;
    assert_int_equal(xb_h5_open(model, 0, &f, &err), XB_OK);
    const xb_device_kind dk[2] = {XB_DEVICE_RRAM, XB_DEVICE_PCM};
    for (int d = 0; d < 2; d++) {
        char path[64];
        snprintf(path, sizeof path, "stats/sigma_program/%s/coef", xb_device_name(dk[d]));
        double *c;
        int rk;
        hsize_t dims[4];
        assert_int_equal(xb_h5_read_doubles(f, path, &c, &rk, dims, &err), XB_OK);
        xb_array_params p;
        xb_array_params_default(&p, dk[d]);
        for (double x = 0.2; x < 0.85; x += 0.2) {
            double g = p.g_min_siemens + x * (p.g_max_siemens - p.g_min_siemens), sg = 0, gk = 1;
            for (size_t k = 0; k < (size_t)dims[0]; k++, gk *= g) sg += c[k] * gk;
            double law = xb_netlist_sigma_program(&p, g);
            printf("# %s sigma(%.2f uS): fitted %.4f uS, device law %.4f uS\n", xb_device_name(dk[d]), g * 1e6,
                   sg * 1e6, law * 1e6);
            assert_true(fabs(sg - law) < 0.08 * law);
        }
        free(c);
    }
    xb_h5_close(f, &err);
    /* the Python reader gives the same sigma(G) */
    {
        char script[2048];
        snprintf(script, sizeof script,
                 "import sys; sys.path.insert(0, '%s/tools'); import xbar_model as xm\n"
                 "s = xm.load_stats('%s'); print('%%.12e' %% xm.sigma_program(s, 'pcm', 10e-6))\n",
                 XB_SOURCE_DIR, model);
        char *pa[] = {"/usr/bin/python3", "-c", script, NULL};
        char *pout = NULL, *perr = NULL;
        assert_int_equal(xb_test_run(pa, &pout, &perr), 0);
        double *c;
        int rk;
        hsize_t dims[4];
        assert_int_equal(xb_h5_open(model, 0, &f, &err), XB_OK);
        assert_int_equal(xb_h5_read_doubles(f, "stats/sigma_program/pcm/coef", &c, &rk, dims, &err), XB_OK);
        xb_h5_close(f, &err);
        double sg = 0, gk = 1;
        for (size_t k = 0; k < (size_t)dims[0]; k++, gk *= 10e-6) sg += c[k] * gk;
        assert_true(fabs(strtod(pout, NULL) - sg) <= 1e-9 * sg);
        free(c); free(pout); free(perr);
    }
    /* xbar mvm --engine model against --engine native, fresh G and V (8x8 RRAM, 2 ohm) */
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 4242);
    char gtxt[8192] = "", vtxt[4096] = "";
    size_t o = 0;
    for (size_t i = 0; i < 8; i++)
        for (size_t j = 0; j < 8; j++)
            o += (size_t)snprintf(gtxt + o, sizeof gtxt - o, "%.17g%s", 1e-6 + 39e-6 * gsl_rng_uniform(rng),
                                  j == 7 ? "\n" : ",");
    o = 0;
    for (size_t k = 0; k < 5; k++)
        for (size_t i = 0; i < 8; i++)
            o += (size_t)snprintf(vtxt + o, sizeof vtxt - o, "%.17g%s", 0.2 * gsl_rng_uniform(rng), i == 7 ? "\n" : ",");
    gsl_rng_free(rng);
    char *gp = xb_test_write_file(dir, "G.csv", gtxt), *vp = xb_test_write_file(dir, "V.csv", vtxt);
    const char *engines[3] = {"model", "native", "ideal"};
    double *I[3];
    size_t n[3];
    for (int e = 0; e < 3; e++) {
        char *a[] = {"xbar", "mvm", "--engine", (char *)engines[e], "--model", model, "--device", "rram",
                     "--r-wire", "2", "--g", gp, "--v", vp, NULL};
        char **argv = a;
        char *a_nomodel[] = {"xbar", "mvm", "--engine", (char *)engines[e], "--device", "rram", "--r-wire", "2",
                             "--g", gp, "--v", vp, NULL};
        if (e > 0) argv = a_nomodel;
        rc = run(argv, &out, &errs);
        if (rc) fprintf(stderr, "%s", errs);
        assert_int_equal(rc, 0);
        I[e] = read_csv_out(out, &n[e]);
        assert_non_null(I[e]);
        assert_int_equal(n[e], 40);
        free(out); free(errs);
    }
    double nm = 0, ni = 0, den = 0;
    for (size_t q = 0; q < 40; q++) {
        nm += (I[0][q] - I[1][q]) * (I[0][q] - I[1][q]);
        ni += (I[2][q] - I[1][q]) * (I[2][q] - I[1][q]);
        den += I[1][q] * I[1][q];
    }
    double em = sqrt(nm / den), ei = sqrt(ni / den);
    printf("# xbar mvm 8x8 rram: model vs native %.3e, ideal vs native %.3e\n", em, ei);
    assert_true(em <= 0.01 && 20 * em <= ei);
    for (int e = 0; e < 3; e++) free(I[e]);
    free(gp); free(vp); free(ini); free(res); free(model); free(dir);
}

/* PCM drift and read noise: devices drawn from known laws (x = ln(G/g_max)):
 * nu ~ N(0.03 - 0.01 x, (0.01 - 0.003 x)^2), read noise sigma/G = exp(-4.7 - 0.6 x) *
 * sqrt(ln((t + 250 ns)/(500 ns))); the fit must return those coefficients. */
static void test_fit_drift(void **state)
{
    char *dir = xb_test_tmpdir("fitdrift");
    char *path = xb_test_write_file(dir, "r.h5", "");
    remove(path);
    hid_t f, g;
    xb_error err;
    assert_int_equal(xb_h5_create(path, 1, &f, &err), XB_OK);
    xb_h5_attr_set_string(f, ".", "format", "xbar-results", &err);
    xb_h5_attr_set_int64(f, ".", "format_version", 1, &err);
    assert_int_equal(xb_h5_group_create(f, "points/p00000/drift", &g, &err), XB_OK);
    xb_h5_attr_set_string(f, "points/p00000", "device", "pcm", &err);
    xb_h5_attr_set_string(f, "points/p00000", "status", "ok", &err);
    const double gmax = 25e-6;
    xb_h5_attr_set_double(f, "points/p00000", "g_max_siemens", gmax, &err);
    enum { T = 12, N = 6000 };
    double t_s[T];
    for (int t = 0; t < T; t++) t_s[t] = 20.0 * pow(2.0, t);
    double *gg = malloc(T * N * sizeof *gg);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 9);
    for (int i = 0; i < N; i++) {
        double g0 = 0.25e-6 + gsl_rng_uniform(rng) * (gmax - 0.25e-6), x = log(g0 / gmax);
        double nu = 0.03 - 0.01 * x + gsl_ran_gaussian(rng, 0.01 - 0.003 * x), q = exp(-4.7 - 0.6 * x);
        for (int t = 0; t < T; t++) {
            double w = sqrt(log((t_s[t] + 250e-9) / (2 * 250e-9)));
            gg[t * N + i] = g0 * pow(t_s[t] / t_s[0], -nu) * (1 + q * w * gsl_ran_gaussian(rng, 1.0));
        }
    }
    gsl_rng_free(rng);
    hsize_t dt = T, dg[2] = {T, N};
    xb_h5_write_doubles(g, "t_s", 1, &dt, t_s, "s", &err);
    xb_h5_write_doubles(g, "g", 2, dg, gg, "S", &err);
    H5Gclose(g);
    xb_h5_close(f, &err);
    free(gg);
    char *model = xb_test_write_file(dir, "m.h5", "");
    remove(model);
    char *out = NULL, *errs = NULL;
    char *a[] = {"xbar", "fit", path, "-o", model, NULL};
    int rc = run(a, &out, &errs);
    if (rc) fprintf(stderr, "%s", errs);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "PCM drift and read-noise statistics from 6000 devices"));
    free(out); free(errs);
    assert_int_equal(xb_h5_open(model, 0, &f, &err), XB_OK);
    double *a1, *b1, *c1;
    int rk;
    hsize_t d[4];
    assert_int_equal(xb_h5_read_doubles(f, "stats/pcm_drift/nu_mean_coef", &a1, &rk, d, &err), XB_OK);
    assert_int_equal(xb_h5_read_doubles(f, "stats/pcm_drift/nu_std_coef", &b1, &rk, d, &err), XB_OK);
    assert_int_equal(xb_h5_read_doubles(f, "stats/pcm_drift/log_q_coef", &c1, &rk, d, &err), XB_OK);
    printf("# drift: nu_mean %.4f %+.4f x (true 0.03 -0.01), nu_std %.4f %+.4f x (true 0.01 -0.003), "
           "ln Q %.3f %+.3f x (true -4.7 -0.6)\n", a1[0], a1[1], b1[0], b1[1], c1[0], c1[1]);
    for (double x = -4; x <= 0; x += 1) {
        /* at x = -4 the reads carry ~45% noise: the log-domain slope is a few % low there */
        assert_true(fabs(a1[0] + a1[1] * x - (0.03 - 0.01 * x)) < 0.05 * (0.03 - 0.01 * x));
        assert_true(fabs(b1[0] + b1[1] * x - (0.01 - 0.003 * x)) < 0.1 * (0.01 - 0.003 * x));
        assert_true(fabs(exp(c1[0] + c1[1] * x) - exp(-4.7 - 0.6 * x)) < 0.08 * exp(-4.7 - 0.6 * x));
    }
    free(a1); free(b1); free(c1);
    xb_h5_close(f, &err);
    free(model); free(path); free(dir);
}

/* xbar inspect on a network file and on an HDF5 file of no xbar format (tree listing). */
static void test_inspect_other(void **state)
{
    char *out = NULL, *errs = NULL;
    char net[4096];
    snprintf(net, sizeof net, "%s/data/fmnist_mlp.h5", XB_SOURCE_DIR);
    if (xb_h5_is_hdf5(net)) {
        char *a[] = {"xbar", "inspect", net, NULL};
        assert_int_equal(run(a, &out, &errs), 0);
        assert_non_null(strstr(out, "format: xbar-network"));
        assert_non_null(strstr(out, "layers: "));
        free(out); free(errs);
    }
    char *dir = xb_test_tmpdir("fitinspect");
    char *path = xb_test_write_file(dir, "plain.h5", "");
    remove(path);
    hid_t f, g;
    xb_error err;
    assert_int_equal(xb_h5_create(path, 1, &f, &err), XB_OK);
    assert_int_equal(xb_h5_group_create(f, "a/b", &g, &err), XB_OK);
    hsize_t d[2] = {3, 2};
    double x[6] = {0};
    xb_h5_write_doubles(g, "volts", 2, d, x, "V", &err);
    H5Gclose(g);
    xb_h5_close(f, &err);
    char *a2[] = {"xbar", "inspect", path, NULL};
    assert_int_equal(run(a2, &out, &errs), 0);
    assert_non_null(strstr(out, "format: (none: not an xbar file)"));
    assert_non_null(strstr(out, "/a/b/volts  [3x2]  units=V"));
    free(out); free(errs);
    char *a3[] = {"xbar", "inspect", NULL};
    expect_fail(a3, "missing FILE.h5");
    free(path);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit_end_to_end),
        cmocka_unit_test(test_fit_bad_input),
        cmocka_unit_test(test_model_selection),
        cmocka_unit_test(test_fit_stats),
        cmocka_unit_test(test_fit_real_campaign),
        cmocka_unit_test(test_fit_drift),
        cmocka_unit_test(test_inspect_other),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
