/* The engine interface (engine.h) and its registry, against independent references:
 *   - every class of the complete table (xb_fit_engines) programs a 4x4 array and answers
 *     an MVM: ideal against the closed form I = V.G written out here, native against spice
 *     (two implementations of the circuit, 1e-9 relative), the fitted model against the fit
 *     stage's own evaluation of the same parameters, and, for ohmic cells, against native;
 *   - the capability flags as declared, and as behaved (repeatable MVMs, single-cell reads
 *     only where declared, circuit engines differing from I = V.G);
 *   - the spice engine's single-cell reads against stock `ngspice -b` on the read netlist;
 *   - unknown names, bad shapes and missing operations give one-line errors;
 *   - an engine defined here (program and mvm only) runs through the executor;
 *   - several tiles programmed at once (xb_engine_program_multi) are the tiles programmed one
 *     by one, for any number of workers. */
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
#include "xbar/exec.h"
#include "xbar/fit.h"

static char *g_dir;

static int setup(void **state)
{
    g_dir = xb_test_tmpdir("engine_iface");
    return g_dir ? 0 : -1;
}

static int teardown(void **state)
{
    free(g_dir);
    return 0;
}

/* splitmix64 numbers in [0, 1) */
static double urand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

static double rel_l2(const xb_matrix *a, const xb_matrix *ref)
{
    double num = 0, den = 0;
    for (size_t q = 0; q < a->rows * a->cols; q++) {
        num += (a->data[q] - ref->data[q]) * (a->data[q] - ref->data[q]);
        den += ref->data[q] * ref->data[q];
    }
    return sqrt(num / den);
}

/* A 4x4 array of device dev, cell 1R, 2 ohm wires, G uniform in the device range, and K = 3
 * input vectors of both signs up to v_read. */
static void array4(xb_device_kind dev, xb_array_params *p, xb_matrix **g, xb_matrix **v)
{
    xb_array_params_default(p, dev);
    p->rows = p->cols = 4;
    p->r_wire_row_ohm = p->r_wire_col_ohm = 2.0;
    uint64_t s = 41 + (uint64_t)dev;
    *g = xb_matrix_new(4, 4);
    *v = xb_matrix_new(3, 4);
    for (size_t q = 0; q < 16; q++) (*g)->data[q] = p->g_min_siemens + (p->g_max_siemens - p->g_min_siemens) * urand(&s);
    for (size_t q = 0; q < 12; q++) (*v)->data[q] = p->v_read_volt * (2 * urand(&s) - 1);
}

/* program + mvm + free through engine e */
static xb_matrix *engine_mvm(xb_engine *e, const xb_array_params *p, const xb_matrix *g, const xb_matrix *v)
{
    xb_error err;
    xb_engine_tile *t = NULL;
    xb_matrix *i = xb_matrix_new(v->rows, p->cols);
    int rc = xb_engine_program(e, p, g, &t, &err);
    if (!rc) rc = xb_engine_mvm(t, v, i, &err);
    if (rc) print_error("%s: %s\n", xb_engine_name(e), err.msg);
    assert_int_equal(rc, XB_OK);
    /* deterministic engines give the same bits on a second call */
    if (xb_engine_caps(e) & XB_ENGINE_CAP_DETERMINISTIC) {
        xb_matrix *i2 = xb_matrix_new(v->rows, p->cols);
        assert_int_equal(xb_engine_mvm(t, v, i2, &err), XB_OK);
        assert_memory_equal(i->data, i2->data, v->rows * p->cols * sizeof(double));
        xb_matrix_free(i2);
    }
    xb_engine_tile_free(t);
    return i;
}

/* The model file of nominal (unfitted) parameters for p, written here. */
static char *model_file(const xb_array_params *p)
{
    xb_fit_params m;
    xb_fit_params_nominal(&m, p);
    char *path = malloc(strlen(g_dir) + 16);
    sprintf(path, "%s/m.h5", g_dir);
    xb_fit_provenance prov = {"none", "test", "", "ngspice-39", "0"};
    hid_t f;
    xb_error err;
    assert_int_equal(xb_fit_file_create(path, 1, &prov, &f, &err), XB_OK);
    assert_int_equal(xb_fit_file_add_model(f, 0, &m, NULL, NULL, &err), XB_OK);
    assert_int_equal(xb_h5_close(f, &err), XB_OK);
    return path;
}

/* ------------------------------------------------------------------ registry */
static void test_registry(void **state)
{
    char names[128];
    xb_engine_class_names(xb_engine_builtins, ", ", names, sizeof names);
    assert_string_equal(names, "ideal, native, spice");
    size_t n = xb_engine_class_names(xb_fit_engines, ", ", names, sizeof names);
    assert_string_equal(names, "ideal, native, spice, model");
    assert_int_equal(n, strlen(names));
    assert_int_equal(xb_engine_class_names(xb_fit_engines, "|", names, 6), strlen("ideal|native|spice|model"));
    assert_string_equal(names, "ideal"); /* truncated, terminated */
    const xb_engine_class *c = NULL;
    xb_error err;
    assert_int_equal(xb_engine_class_find(xb_fit_engines, "native", &c, &err), XB_OK);
    assert_ptr_equal(c, &xb_engine_class_native);
    assert_int_equal(xb_engine_class_find(xb_fit_engines, "model", &c, &err), XB_OK);
    assert_ptr_equal(c, &xb_fit_engine_class_model);
    /* the engine stage's table does not know the fit stage's model */
    assert_int_equal(xb_engine_class_find(xb_engine_builtins, "model", &c, &err), XB_EINPUT);
    assert_null(c);
    assert_string_equal(err.msg, "unknown engine 'model' (ideal, native, spice)");
    xb_engine *e = NULL;
    assert_int_equal(xb_engine_new_by_name(xb_fit_engines, "Spice", NULL, &e, &err), XB_EINPUT);
    assert_null(e);
    assert_string_equal(err.msg, "unknown engine 'Spice' (ideal, native, spice, model)");
    assert_null(strchr(err.msg, '\n'));
    /* every class has a name, a one-line summary and a constructor; names are unique */
    for (size_t k = 0; xb_fit_engines[k]; k++) {
        const xb_engine_class *a = xb_fit_engines[k];
        assert_non_null(a->create);
        assert_true(a->summary && *a->summary && !strchr(a->summary, '\n'));
        for (size_t j = 0; j < k; j++) assert_true(strcmp(a->name, xb_fit_engines[j]->name) != 0);
    }
    /* the model class needs its file and the array */
    assert_int_equal(xb_engine_new(&xb_fit_engine_class_model, NULL, &e, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "model file"));
}

/* ------------------------------------------------------------------ capabilities */
static void test_capabilities(void **state)
{
    const struct {
        const xb_engine_class *c;
        unsigned caps;
    } want[] = {
        {&xb_engine_class_ideal, XB_ENGINE_CAP_DETERMINISTIC},
        {&xb_engine_class_native,
         XB_ENGINE_CAP_DETERMINISTIC | XB_ENGINE_CAP_CIRCUIT | XB_ENGINE_CAP_CELL_READ | XB_ENGINE_CAP_TRANSIENT},
        {&xb_engine_class_spice, XB_ENGINE_CAP_DETERMINISTIC | XB_ENGINE_CAP_CIRCUIT | XB_ENGINE_CAP_CELL_READ},
        {&xb_fit_engine_class_model, XB_ENGINE_CAP_DETERMINISTIC},
    };
    size_t n = 0;
    while (xb_fit_engines[n]) n++;
    assert_int_equal(n, sizeof want / sizeof want[0]);
    xb_array_params p;
    xb_matrix *g, *v;
    array4(XB_DEVICE_RRAM, &p, &g, &v);
    char *mf = model_file(&p);
    for (size_t k = 0; k < n; k++) {
        assert_ptr_equal(xb_fit_engines[k], want[k].c);
        assert_int_equal(want[k].c->caps, want[k].caps);
        xb_engine_config cfg;
        xb_engine_config_default(&cfg);
        cfg.file = mf;
        cfg.array = &p;
        xb_engine *e = NULL;
        xb_error err;
        assert_int_equal(xb_engine_new(want[k].c, &cfg, &e, &err), XB_OK);
        assert_ptr_equal(xb_engine_class_of(e), want[k].c);
        assert_string_equal(xb_engine_name(e), want[k].c->name);
        assert_int_equal(xb_engine_caps(e), want[k].caps); /* the default configuration */
        /* single-cell reads exactly where declared */
        xb_engine_tile *t = NULL;
        double i_read = 0;
        assert_int_equal(xb_engine_program(e, &p, g, &t, &err), XB_OK);
        int rc = xb_engine_cell_read(t, XB_READ_V2, 1, 2, &i_read, &err);
        if (want[k].caps & XB_ENGINE_CAP_CELL_READ) {
            assert_int_equal(rc, XB_OK);
            assert_true(i_read > 0);
        } else {
            assert_int_equal(rc, XB_EINPUT);
            assert_non_null(strstr(err.msg, "no single-cell reads"));
        }
        xb_engine_tile_free(t);
        /* circuit engines see the wires and the device's sinh read: not I = V.G */
        xb_matrix *ii = xb_matrix_new(3, 4), *i = engine_mvm(e, &p, g, v);
        assert_int_equal(xb_engine_mvm_ideal(g, v, ii, &err), XB_OK);
        double d = rel_l2(i, ii);
        print_message("%-6s vs I = V.G: %.3g\n", want[k].c->name, d);
        if (want[k].caps & XB_ENGINE_CAP_CIRCUIT) assert_true(d > 1e-4);
        if (want[k].c == &xb_engine_class_ideal) assert_true(d == 0);
        xb_matrix_free(i);
        xb_matrix_free(ii);
        xb_engine_free(e);
    }
    /* the model with its residual read noise is not deterministic */
    xb_fit_params m;
    xb_fit_params_nominal(&m, &p);
    m.resid_sigma_rel = 0.01;
    xb_engine *e = xb_test_model_engine(&m, 1, 7, 1);
    assert_int_equal(xb_engine_caps(e), 0);
    assert_true(xb_engine_residual_noise(e) == 0.01);
    xb_engine_free(e);
    /* transients through the interface exactly where declared (native) */
    for (size_t k = 0; k < n; k++) {
        xb_engine_config cfg;
        xb_engine_config_default(&cfg);
        cfg.file = mf;
        cfg.array = &p;
        xb_engine *et = NULL;
        xb_engine_tile *t = NULL;
        xb_error err;
        assert_int_equal(xb_engine_new(want[k].c, &cfg, &et, &err), XB_OK);
        assert_int_equal(xb_engine_program(et, &p, g, &t, &err), XB_OK);
        xb_engine_tran_result tr;
        memset(&tr, 0, sizeof tr);
        int rc = xb_engine_transient(t, v->data, NULL, &tr, &err);
        if (want[k].caps & XB_ENGINE_CAP_TRANSIENT) {
            assert_int_equal(rc, XB_OK);
            assert_true(tr.settled && tr.e_read_joule > 0);
        } else {
            assert_int_equal(rc, XB_EINPUT);
            assert_non_null(strstr(err.msg, "no read transients"));
        }
        xb_engine_tran_result_clear(&tr);
        xb_engine_tile_free(t);
        xb_engine_free(et);
    }
    free(mf);
    xb_matrix_free(g);
    xb_matrix_free(v);
}

/* ------------------------------------------------------------------ MVM against references */
/* The ideal class on a 2x2 whose product is written out by hand. */
static void test_ideal_closed_form(void **state)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_LINEAR);
    p.rows = p.cols = 2;
    double gd[4] = {1e-5, 2e-5, 3e-5, 4e-5}, vd[4] = {0.1, 0.2, -0.05, 0.3};
    xb_matrix g = {2, 2, gd}, v = {2, 2, vd};
    xb_engine *e = xb_test_engine("ideal");
    xb_matrix *i = engine_mvm(e, &p, &g, &v);
    const double want[4] = {0.1 * 1e-5 + 0.2 * 3e-5, 0.1 * 2e-5 + 0.2 * 4e-5, -0.05 * 1e-5 + 0.3 * 3e-5,
                            -0.05 * 2e-5 + 0.3 * 4e-5};
    for (size_t q = 0; q < 4; q++) assert_true(fabs(i->data[q] - want[q]) <= 1e-15 * fabs(want[q]));
    xb_matrix_free(i);
    /* more vectors and columns than one 4x4 block of the kernel, and remainders: every
     * output the sum written out here, bit for bit (same order of the sums) */
    enum { K = 7, R = 5, C = 6 };
    xb_matrix *gb = xb_matrix_new(R, C), *vb = xb_matrix_new(K, R);
    uint64_t s = 3;
    for (size_t q = 0; q < R * C; q++) gb->data[q] = 1e-5 * urand(&s);
    for (size_t q = 0; q < K * R; q++) vb->data[q] = urand(&s) - 0.5;
    xb_array_params pb = p;
    pb.rows = R;
    pb.cols = C;
    i = engine_mvm(e, &pb, gb, vb);
    for (size_t k = 0; k < K; k++)
        for (size_t j = 0; j < C; j++) {
            double acc = 0;
            for (size_t r = 0; r < R; r++) acc += vb->data[k * R + r] * gb->data[r * C + j];
            assert_true(i->data[k * C + j] == acc);
        }
    xb_matrix_free(i);
    xb_matrix_free(gb);
    xb_matrix_free(vb);
    xb_engine_free(e);
}

/* native and spice solve the same circuit: 1e-9 relative, linear and sinh devices. */
static void test_native_vs_spice(void **state)
{
    const xb_device_kind devs[] = {XB_DEVICE_LINEAR, XB_DEVICE_RRAM, XB_DEVICE_PCM};
    xb_engine_opts o;
    xb_engine_opts_default(&o);
    o.reltol = 1e-12;
    o.gmin_siemens = 1e-20;
    xb_engine_config cfg;
    xb_engine_config_default(&cfg);
    cfg.opts = &o;
    xb_engine *en = xb_test_engine("native"), *es = NULL;
    xb_error err;
    assert_int_equal(xb_engine_new_by_name(xb_fit_engines, "spice", &cfg, &es, &err), XB_OK);
    for (size_t d = 0; d < 3; d++) {
        xb_array_params p;
        xb_matrix *g, *v;
        array4(devs[d], &p, &g, &v);
        xb_matrix *in = engine_mvm(en, &p, g, v), *is = engine_mvm(es, &p, g, v);
        double e = rel_l2(in, is);
        print_message("%s: native vs spice %.3g\n", xb_device_name(devs[d]), e);
        assert_true(e < 1e-9);
        /* the one-shot forms agree with the tiles */
        xb_matrix *i1 = xb_matrix_new(3, 4);
        assert_int_equal(xb_engine_mvm_native(&p, g, v, i1, &err), XB_OK);
        assert_memory_equal(i1->data, in->data, 12 * sizeof(double));
        assert_int_equal(xb_engine_mvm_spice(&o, &p, g, v, i1, &err), XB_OK);
        assert_memory_equal(i1->data, is->data, 12 * sizeof(double));
        /* several tiles at once (spice: worker processes; native: one by one) == one at a time */
        xb_engine *both[2] = {en, es};
        for (int b = 0; b < 2; b++) {
            xb_engine_tile *t[2] = {NULL, NULL};
            xb_matrix *o0 = xb_matrix_new(3, 4), *o1 = xb_matrix_new(3, 4);
            xb_matrix *outs[2] = {o0, o1};
            assert_int_equal(xb_engine_program(both[b], &p, g, &t[0], &err), XB_OK);
            assert_int_equal(xb_engine_program(both[b], &p, g, &t[1], &err), XB_OK);
            assert_int_equal(xb_engine_mvm_multi(t, 2, v, outs, &err), XB_OK);
            const xb_matrix *ref = b ? is : in;
            assert_memory_equal(o0->data, ref->data, 12 * sizeof(double));
            assert_memory_equal(o1->data, ref->data, 12 * sizeof(double));
            xb_engine_tile_free(t[0]);
            xb_engine_tile_free(t[1]);
            xb_matrix_free(o0);
            xb_matrix_free(o1);
        }
        xb_matrix_free(i1);
        xb_matrix_free(in);
        xb_matrix_free(is);
        xb_matrix_free(g);
        xb_matrix_free(v);
    }
    xb_engine_free(en);
    xb_engine_free(es);
}

/* The model class from a model file == the fit stage's evaluation of those parameters (full
 * model, and its fast form for ohmic cells); for ohmic cells the reduced-order IR drop is
 * the exact circuit (native) up to its sweeps' tolerance. */
static void test_model_class(void **state)
{
    const xb_device_kind devs[] = {XB_DEVICE_LINEAR, XB_DEVICE_RRAM};
    for (size_t d = 0; d < 2; d++) {
        xb_array_params p;
        xb_matrix *g, *v;
        array4(devs[d], &p, &g, &v);
        char *mf = model_file(&p);
        xb_fit_params m;
        xb_fit_params_nominal(&m, &p);
        xb_matrix *ref = xb_matrix_new(3, 4);
        xb_error err;
        assert_int_equal(xb_fit_model_mvm(&m, g, v, ref, &err), XB_OK);
        xb_engine_config cfg;
        xb_engine_config_default(&cfg);
        cfg.file = mf;
        cfg.array = &p;
        for (int exact = 1; exact >= 0; exact--) {
            cfg.exact = exact;
            xb_engine *e = NULL;
            assert_int_equal(xb_engine_new_by_name(xb_fit_engines, "model", &cfg, &e, &err), XB_OK);
            xb_fit_engine_info info;
            assert_int_equal(xb_fit_engine_get_info(e, &info, &err), XB_OK);
            assert_int_equal(info.from_family, 0);
            assert_int_equal(info.exact, exact);
            xb_matrix *i = engine_mvm(e, &p, g, v);
            double r = rel_l2(i, ref);
            print_message("%s model (%s) vs xb_fit_model_mvm: %.3g\n", xb_device_name(devs[d]),
                          exact ? "exact" : "fast form", r);
            if (exact) assert_true(r < 1e-14);
            else if (devs[d] == XB_DEVICE_LINEAR) assert_true(r < 1e-9); /* linear: the fast form is the model */
            else assert_true(r < 1e-3);
            assert_true(xb_engine_provides(e, XB_ENGINE_OP_FAST_FORM) && xb_engine_provides(e, XB_ENGINE_OP_READ_TIME));
            xb_matrix_free(i);
            xb_engine_free(e);
        }
        if (devs[d] == XB_DEVICE_LINEAR) {
            xb_engine *en = xb_test_engine("native");
            xb_matrix *in = engine_mvm(en, &p, g, v);
            double r = rel_l2(ref, in);
            print_message("linear nominal model vs native: %.3g\n", r);
            assert_true(r < 1e-6);
            xb_matrix_free(in);
            xb_engine_free(en);
        }
        /* a model engine is the model: the others are not */
        xb_engine *ei = xb_test_engine("ideal");
        xb_fit_engine_info info;
        assert_int_equal(xb_fit_engine_get_info(ei, &info, &err), XB_EINPUT);
        assert_non_null(strstr(err.msg, "not a fitted model"));
        xb_engine_free(ei);
        free(mf);
        xb_matrix_free(ref);
        xb_matrix_free(g);
        xb_matrix_free(v);
    }
}

/* ------------------------------------------------------------------ several tiles at once */
/* n tiles programmed by k engines of one configuration must be the same tiles: tile t of a
 * program_multi call is the tile xb_engine_program gives when called for t in order (the
 * model engine numbers its tiles: fit vectors and read-noise streams), for any number of
 * workers (the model engine uses as many as OpenBLAS threads), and the numbering goes on
 * after the call.  Read noise on, so equal outputs mean equal streams.  (The reference runs
 * at the library's thread count, the others at 1-3: the fast form's basis, an SVD through
 * GSL's BLAS calls, is computed on one thread so that its bits do not follow the count.) */
static void multi_outputs(const char *engine, const char *mf, const xb_array_params *p, xb_matrix *const *g,
                          size_t n, int mode, const xb_matrix *v, xb_matrix **out)
{
    xb_error err;
    xb_engine_config cfg;
    xb_engine_config_default(&cfg);
    cfg.file = mf;
    cfg.array = p;
    cfg.read_noise = 1;
    cfg.seed = 77;
    xb_engine *e = NULL;
    assert_int_equal(xb_engine_new_by_name(xb_fit_engines, engine, &cfg, &e, &err), XB_OK);
    xb_engine_tile **t = calloc(n + 1, sizeof *t);
    if (mode == 0) { /* one by one */
        for (size_t k = 0; k < n; k++) assert_int_equal(xb_engine_program(e, p, g[k], &t[k], &err), XB_OK);
    } else { /* at once, on mode OpenBLAS threads, the first two alone first */
        const int nth = xb_blas_threads_begin(mode);
        assert_int_equal(xb_engine_program_multi(e, p, (const xb_matrix *const *)g, 2, t, &err), XB_OK);
        assert_int_equal(xb_engine_program_multi(e, p, (const xb_matrix *const *)g + 2, n - 2, t + 2, &err), XB_OK);
        xb_blas_threads_end(nth);
    }
    assert_int_equal(xb_engine_program(e, p, g[0], &t[n], &err), XB_OK); /* tile number n + 1 */
    for (size_t k = 0; k <= n; k++) {
        out[k] = xb_matrix_new(v->rows, p->cols);
        assert_int_equal(xb_engine_mvm(t[k], v, out[k], &err), XB_OK);
        xb_engine_tile_free(t[k]);
    }
    free(t);
    xb_engine_free(e);
}

static void test_program_multi(void **state)
{
    xb_array_params p;
    xb_matrix *g0, *v;
    array4(XB_DEVICE_RRAM, &p, &g0, &v);
    xb_fit_params m;
    xb_fit_params_nominal(&m, &p);
    m.resid_sigma_rel = 0.01;
    char *mf = malloc(strlen(g_dir) + 16);
    sprintf(mf, "%s/mn.h5", g_dir);
    xb_fit_provenance prov = {"none", "test", "", "ngspice-39", "0"};
    hid_t f;
    xb_error err;
    assert_int_equal(xb_fit_file_create(mf, 1, &prov, &f, &err), XB_OK);
    assert_int_equal(xb_fit_file_add_model(f, 0, &m, NULL, NULL, &err), XB_OK);
    assert_int_equal(xb_h5_close(f, &err), XB_OK);
    enum { N = 7 };
    xb_matrix *g[N];
    uint64_t s = 99;
    for (size_t k = 0; k < N; k++) {
        g[k] = xb_matrix_new(4, 4);
        for (size_t q = 0; q < 16; q++)
            g[k]->data[q] = p.g_min_siemens + (p.g_max_siemens - p.g_min_siemens) * urand(&s);
    }
    const char *engines[] = {"model", "ideal"}; /* ideal: no program_multi, the interface loops */
    for (size_t en = 0; en < 2; en++) {
        xb_matrix *ref[N + 1], *got[N + 1];
        multi_outputs(engines[en], mf, &p, g, N, 0, v, ref);
        for (int threads = 1; threads <= 3; threads++) {
            multi_outputs(engines[en], mf, &p, g, N, threads, v, got);
            for (size_t k = 0; k <= N; k++) {
                assert_memory_equal(got[k]->data, ref[k]->data, v->rows * p.cols * sizeof(double));
                xb_matrix_free(got[k]);
            }
        }
        /* the noise makes the tiles differ: equal outputs are not equal by default */
        assert_true(memcmp(ref[0]->data, ref[N]->data, v->rows * p.cols * sizeof(double)) != 0 || en == 1);
        for (size_t k = 0; k <= N; k++) xb_matrix_free(ref[k]);
    }
    /* bad input: one conductance out of limits, one wrong shape; no tile comes back */
    xb_engine_config cfg;
    xb_engine_config_default(&cfg);
    cfg.file = mf;
    cfg.array = &p;
    xb_engine *e = NULL;
    assert_int_equal(xb_engine_new_by_name(xb_fit_engines, "model", &cfg, &e, &err), XB_OK);
    xb_engine_tile *t[N];
    const double keep = g[5]->data[3];
    g[5]->data[3] = -1.0;
    assert_int_equal(xb_engine_program_multi(e, &p, (const xb_matrix *const *)g, N, t, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "conductance (1,4)"));
    for (size_t k = 0; k < N; k++) assert_null(t[k]);
    g[5]->data[3] = keep;
    xb_matrix *wrong = xb_matrix_new(3, 4), *saved = g[2];
    g[2] = wrong;
    assert_int_equal(xb_engine_program_multi(e, &p, (const xb_matrix *const *)g, N, t, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "3x4"));
    for (size_t k = 0; k < N; k++) assert_null(t[k]);
    g[2] = saved;
    assert_int_equal(xb_engine_program_multi(e, &p, (const xb_matrix *const *)g, 0, t, &err), XB_OK);
    assert_int_equal(xb_engine_provides(e, XB_ENGINE_OP_PROGRAM_MULTI), 1);
    xb_engine_free(e);
    xb_matrix_free(wrong);
    for (size_t k = 0; k < N; k++) xb_matrix_free(g[k]);
    xb_matrix_free(g0);
    xb_matrix_free(v);
    free(mf);
}

/* ------------------------------------------------------------------ single-cell reads */
/* The spice and native engines' reads of cell (1,2) with every scheme and cell type ==
 * stock ngspice on the read netlist of xb_netlist_read_new with its one source at v_read
 * (both through the interface, with the same options); and a 1x1 float read == a 1x1 MVM
 * at v_read (two netlist writers, one circuit). */
static void test_cell_read(void **state)
{
    const xb_cell_kind cells[] = {XB_CELL_1R, XB_CELL_1T1R, XB_CELL_1S1R};
    const xb_read_scheme schemes[] = {XB_READ_FLOAT, XB_READ_V2, XB_READ_V3};
    xb_engine_opts o;
    xb_engine_opts_default(&o);
    o.reltol = 1e-10; /* gmin stays at 1e-12: it keeps the nodes behind off transistors defined */
    xb_engine_config cfg;
    xb_engine_config_default(&cfg);
    cfg.opts = &o;
    xb_engine *es = NULL, *en = NULL;
    xb_error err;
    assert_int_equal(xb_engine_new(&xb_engine_class_spice, &cfg, &es, &err), XB_OK);
    assert_int_equal(xb_engine_new(&xb_engine_class_native, &cfg, &en, &err), XB_OK);
    for (size_t c = 0; c < 3; c++)
        for (size_t s = 0; s < 3; s++) {
            xb_array_params p;
            xb_matrix *g, *v;
            array4(XB_DEVICE_RRAM, &p, &g, &v);
            p.cell = cells[c];
            xb_engine_tile *t = NULL;
            double got = 0;
            assert_int_equal(xb_engine_program(es, &p, g, &t, &err), XB_OK);
            int rc = xb_engine_cell_read(t, schemes[s], 1, 2, &got, &err);
            if (rc) print_error("%s\n", err.msg);
            assert_int_equal(rc, XB_OK);
            /* bad reads */
            double dummy;
            assert_int_equal(xb_engine_cell_read(t, schemes[s], 4, 0, &dummy, &err), XB_EINPUT);
            assert_string_equal(err.msg, "cell 4,0 is outside the 4x4 array");
            assert_int_equal(xb_engine_cell_read(t, XB_READ_MVM, 0, 0, &dummy, &err), XB_EINPUT);
            xb_engine_tile_free(t);
            double got_native = 0;
            assert_int_equal(xb_engine_cell_read_once(en, &p, g, schemes[s], 1, 2, &got_native, &err), XB_OK);
            /* reference: stock ngspice */
            xb_netlist *n = NULL;
            assert_int_equal(xb_netlist_read_new(&p, g, schemes[s], 1, 2, &n, &err), XB_OK);
            assert_int_equal(xb_netlist_n_sources(n), 1);
            const xb_netlist_source *src = xb_netlist_sources(n);
            const char *body = xb_netlist_body(n);
            size_t cap = strlen(body) + 512;
            char *deck = malloc(cap);
            snprintf(deck, cap, "%sV%s %s %s DC %.17g\n.options reltol=1e-10 abstol=1e-18 vntol=1e-13 gmin=1e-12\n",
                     body, src[0].name, src[0].node_pos, src[0].node_neg, p.v_read_volt);
            char analysis[128], vec[64];
            snprintf(analysis, sizeof analysis, ".dc V%s %.17g %.17g 1", src[0].name, p.v_read_volt, p.v_read_volt);
            snprintf(vec, sizeof vec, "%s", xb_netlist_outputs(n)[0]);
            double *dd = NULL;
            size_t nr, nc;
            assert_int_equal(xb_spice_ref_run(g_dir, "cell_read", deck, analysis, vec, &dd, &nr, &nc), 0);
            assert_int_equal(nc, 2);
            print_message("%s %s: spice %.12g A, native %.12g A, ngspice -b %.12g A\n", xb_cell_name(cells[c]),
                          xb_read_scheme_name(schemes[s]), got, got_native, dd[1]);
            assert_true(fabs(got - dd[1]) <= 1e-9 * fabs(dd[1]));
            assert_true(fabs(got_native - dd[1]) <= 1e-9 * fabs(dd[1]));
            free(dd);
            free(deck);
            xb_netlist_free(n);
            xb_matrix_free(g);
            xb_matrix_free(v);
        }
    xb_array_params p1;
    xb_array_params_default(&p1, XB_DEVICE_RRAM);
    p1.rows = p1.cols = 1;
    double g1d = 2e-5, vr = p1.v_read_volt, i_mvm = 0, i_read = 0;
    xb_matrix g1 = {1, 1, &g1d}, v1 = {1, 1, &vr}, o1 = {1, 1, &i_mvm};
    xb_engine_tile *t = NULL;
    assert_int_equal(xb_engine_program(es, &p1, &g1, &t, &err), XB_OK);
    assert_int_equal(xb_engine_mvm(t, &v1, &o1, &err), XB_OK);
    assert_int_equal(xb_engine_cell_read(t, XB_READ_FLOAT, 0, 0, &i_read, &err), XB_OK);
    print_message("1x1: read %.15g A, mvm %.15g A\n", i_read, i_mvm);
    assert_true(fabs(i_read - i_mvm) <= 1e-12 * fabs(i_mvm));
    xb_engine_tile_free(t);
    assert_int_equal(xb_engine_program(en, &p1, &g1, &t, &err), XB_OK);
    assert_int_equal(xb_engine_cell_read(t, XB_READ_FLOAT, 0, 0, &i_read, &err), XB_OK);
    assert_true(fabs(i_read - i_mvm) <= 1e-9 * fabs(i_mvm));
    xb_engine_tile_free(t);
    xb_engine_free(en);
    xb_engine_free(es);
}

/* ------------------------------------------------------------------ argument checks */
static int bare_program(void *self, const xb_array_params *p, const xb_matrix *g, void **tile, xb_error *err);
static int bare_mvm(void *self, void *tile, const xb_matrix *v, xb_matrix *i_out, xb_error *err);

static void test_bad_calls(void **state)
{
    xb_array_params p;
    xb_matrix *g, *v;
    array4(XB_DEVICE_LINEAR, &p, &g, &v);
    xb_engine *e = xb_test_engine("ideal");
    xb_error err;
    xb_engine_tile *t = NULL;
    xb_array_params p3 = p;
    p3.rows = 3;
    assert_int_equal(xb_engine_program(e, &p3, g, &t, &err), XB_EINPUT);
    assert_string_equal(err.msg, "engine ideal: conductances are 4x4, the array 3x4");
    assert_null(t);
    assert_int_equal(xb_engine_program(e, &p, g, &t, &err), XB_OK);
    xb_matrix *bad = xb_matrix_new(3, 5), *i = xb_matrix_new(3, 4);
    assert_int_equal(xb_engine_mvm(t, bad, i, &err), XB_EINPUT);
    assert_string_equal(err.msg, "engine ideal: v is 3x5 and i_out 3x4 for a 4x4 array");
    assert_int_equal(xb_engine_mvm(t, v, bad, &err), XB_EINPUT);
    /* K = 0: nothing to do */
    xb_matrix v0 = {0, 4, NULL}, i0 = {0, 4, NULL};
    assert_int_equal(xb_engine_mvm(t, &v0, &i0, &err), XB_OK);
    /* optional operations the ideal engine does not have */
    double ej = 0, kr, kc;
    assert_false(xb_engine_provides(e, XB_ENGINE_OP_ARRAY_ENERGY));
    assert_int_equal(xb_engine_array_energy(t, v, i, &ej), XB_EINPUT);
    assert_true(isnan(xb_engine_read_time_s(t)));
    assert_null(xb_engine_fast_form(t));
    assert_int_equal(xb_engine_energy_law(e, &kr, &kc), 0);
    assert_true(xb_engine_residual_noise(e) == 0.0);
    assert_ptr_equal(xb_engine_tile_engine(t), e);
    xb_engine_tile_free(t);
    /* tiles of two engines in one multi call */
    xb_engine *e2 = xb_test_engine("ideal");
    xb_engine_tile *tt[2] = {NULL, NULL};
    assert_int_equal(xb_engine_program(e, &p, g, &tt[0], &err), XB_OK);
    assert_int_equal(xb_engine_program(e2, &p, g, &tt[1], &err), XB_OK);
    xb_matrix *outs[2] = {i, i};
    assert_int_equal(xb_engine_mvm_multi(tt, 2, v, outs, &err), XB_EINPUT);
    xb_engine_tile_free(tt[0]);
    xb_engine_tile_free(tt[1]);
    xb_engine_free(e2);
    /* an implementation must give program and mvm */
    static const xb_engine_class k_half = {"half", "no mvm", 0, NULL};
    const xb_engine_ops half = {.program = bare_program};
    xb_engine *h = NULL;
    assert_int_equal(xb_engine_wrap(&k_half, &half, NULL, 0, &h, &err), XB_EINPUT);
    assert_null(h);
    assert_string_equal(err.msg, "engine half: program and mvm are required");
    (void)bare_mvm;
    xb_matrix_free(bad);
    xb_matrix_free(i);
    xb_matrix_free(g);
    xb_matrix_free(v);
    xb_engine_free(e);
}

/* ------------------------------------------------------------------ a minimal engine */
/* Defined here with program and mvm only: tiles are slots of its self (no release), and
 * its MVM is I = V.G written out here. */
typedef struct {
    double g[8][16];
    size_t rows[8], cols[8], n;
    size_t mvms;
} bare_engine;

static int bare_program(void *self, const xb_array_params *p, const xb_matrix *g, void **tile, xb_error *err)
{
    bare_engine *b = self;
    if (b->n == 8 || g->rows * g->cols > 16) return xb_errorf(err, XB_ERUNTIME, "bare: full");
    memcpy(b->g[b->n], g->data, g->rows * g->cols * sizeof(double));
    b->rows[b->n] = g->rows;
    b->cols[b->n] = g->cols;
    *tile = &b->g[b->n];
    b->n++;
    return XB_OK;
}

static int bare_mvm(void *self, void *tile, const xb_matrix *v, xb_matrix *i_out, xb_error *err)
{
    bare_engine *b = self;
    const double *g = tile;
    const size_t k = (size_t)((double(*)[16])tile - b->g), R = b->rows[k], C = b->cols[k];
    for (size_t q = 0; q < v->rows; q++)
        for (size_t j = 0; j < C; j++) {
            double s = 0;
            for (size_t i = 0; i < R; i++) s += v->data[q * R + i] * g[i * C + j];
            i_out->data[q * C + j] = s;
        }
    b->mvms++;
    return XB_OK;
}

static void test_minimal_engine_in_executor(void **state)
{
    enum { NI = 6, NO = 3, NS = 5 };
    const float w[NO * NI] = {0.9f, -0.4f, 0.2f, -1.0f, -0.3f, 0.7f, 0.5f, 0.1f, -0.6f,
                              0.8f, 0.3f, -0.2f, 0.4f, 0.6f, -0.9f, 0.05f, 0.2f, -0.5f};
    const float bias[NO] = {0.1f, -0.2f, 0.05f};
    float x[NS * NI];
    uint64_t s = 5;
    for (size_t q = 0; q < NS * NI; q++) x[q] = (float)(2 * urand(&s) - 1); /* signed: two phases */
    size_t shape[1] = {NI};
    xb_network *net = NULL;
    xb_error err;
    assert_int_equal(xb_network_new(shape, 1, &net, &err), XB_OK);
    assert_int_equal(xb_network_add_dense(net, NO, NI, w, bias, &err), XB_OK);
    static const xb_engine_class k_bare = {"bare", "I = V.G, written out in the test", 0, NULL};
    const xb_engine_ops ops = {.program = bare_program, .mvm = bare_mvm};
    bare_engine self = {0};
    xb_engine *e = NULL;
    assert_int_equal(xb_engine_wrap(&k_bare, &ops, &self, XB_ENGINE_CAP_DETERMINISTIC, &e, &err), XB_OK);
    xb_exec_config c;
    xb_exec_config_default(&c, XB_DEVICE_LINEAR);
    c.tile_rows = 4; /* 6 inputs: 2 row tiles */
    c.tile_cols = 4; /* 2 outputs per tile: 2 column tiles */
    c.dac_bits = c.adc_bits = 0;
    c.affine_calibration = 0;
    xb_exec *ex = NULL;
    assert_int_equal(xb_exec_new(net, &c, e, &ex, &err), XB_OK);
    assert_int_equal(self.n, 4);
    float y[NS * NO], yref[NS * NO];
    float *a[1] = {y}, *ar[1] = {yref};
    assert_int_equal(xb_exec_calibrate(ex, x, NS, &err), XB_OK);
    assert_int_equal(xb_exec_forward(ex, x, NS, a, &err), XB_OK);
    assert_true(self.mvms > 0);
    assert_int_equal(xb_network_forward(net, x, NS, ar, &err), XB_OK);
    double e_rel = xb_test_rel_l2f(y, yref, NS * NO);
    print_message("minimal engine through the executor vs the float network: %.3g\n", e_rel);
    assert_true(e_rel < 1e-5);
    /* latency at the executor's default read time: the engine has none */
    xb_exec_layer_stats st;
    assert_int_equal(xb_exec_get_layer_stats(ex, 0, &st), XB_OK);
    assert_true(fabs(st.latency_s - st.n_phases * c.energy.t_mvm_s) <= 1e-12 * st.latency_s);
    xb_exec_free(ex);
    xb_engine_free(e);
    xb_network_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_capabilities),
        cmocka_unit_test(test_ideal_closed_form),
        cmocka_unit_test(test_native_vs_spice),
        cmocka_unit_test(test_model_class),
        cmocka_unit_test(test_program_multi),
        cmocka_unit_test(test_cell_read),
        cmocka_unit_test(test_bad_calls),
        cmocka_unit_test(test_minimal_engine_in_executor),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
