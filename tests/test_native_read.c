/* Native single-cell reads (src/engine/native_read.c) against independent references:
 *   - closed forms derived here: a 2x2 float read whose sneak path is three cells in series,
 *     and 2x2 V/2 and V/3 reads where every node is fixed;
 *   - stock `ngspice -b` on the deck of xb_netlist_read_new (the circuit `xbar sneak` runs),
 *     tolerances tightened, for every device read mode x cell type x scheme (float, V/2,
 *     V/3) on 4x5 .. 32x32 arrays, with open cells, shorts and floating merged lines;
 *   - `xbar sneak` itself: the six quantities it prints. */
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
#include "xbar/netlist.h"

static char *g_dir;
static double g_worst; /* largest native-vs-ngspice relative difference seen */

static int setup(void **state)
{
    g_dir = xb_test_tmpdir("native_read");
    return g_dir ? 0 : -1;
}

static int teardown(void **state)
{
    fprintf(stderr, "largest native vs ngspice single-cell read difference: %.3g relative\n", g_worst);
    free(g_dir);
    return 0;
}

static double native_read(const xb_array_params *p, const xb_matrix *g, xb_read_scheme s, size_t r, size_t c)
{
    xb_error err = {0};
    double i = NAN;
    int rc = xb_engine_native_read(NULL, p, g, s, r, c, &i, &err);
    if (rc) print_error("native read: %s\n", err.msg);
    assert_int_equal(rc, XB_OK);
    return i;
}

/* The read current from stock ngspice on the netlist writer's read deck, tolerances far
 * below the 1e-9 asked for; gmin at its default 1e-12 S, which the native circuit models. */
static double spice_read(const xb_array_params *p, const xb_matrix *g, xb_read_scheme s, size_t r, size_t c)
{
    xb_netlist *n = NULL;
    xb_error err = {0};
    assert_int_equal(xb_netlist_read_new(p, g, s, r, c, &n, &err), XB_OK);
    assert_int_equal(xb_netlist_n_sources(n), 1);
    const xb_netlist_source *src = xb_netlist_sources(n);
    const char *body = xb_netlist_body(n);
    size_t cap = strlen(body) + 512;
    char *deck = malloc(cap);
    snprintf(deck, cap, "%sV%s %s %s DC %.17g\n.options reltol=1e-10 abstol=1e-20 vntol=1e-14 gmin=1e-12 itl1=500\n",
             body, src->name, src->node_pos, src->node_neg, p->v_read_volt);
    char analysis[128];
    snprintf(analysis, sizeof analysis, ".dc V%s %.17g %.17g 1", src->name, p->v_read_volt, p->v_read_volt);
    double *d = NULL;
    size_t nr, nc;
    int rc = xb_spice_ref_run(g_dir, "read", deck, analysis, xb_netlist_outputs(n)[0], &d, &nr, &nc);
    free(deck);
    xb_netlist_free(n);
    assert_int_equal(rc, 0);
    assert_int_equal(nc, 2);
    double i = d[1];
    free(d);
    return i;
}

static void compare(const xb_array_params *p, const xb_matrix *g, xb_read_scheme s, size_t r, size_t c, double rel)
{
    double in = native_read(p, g, s, r, c), is = spice_read(p, g, s, r, c);
    char what[200];
    snprintf(what, sizeof what, "%zux%zu %s %s %s cell %zu,%zu wires %g/%g drv %g sense %g", p->rows, p->cols,
             xb_device_name(p->device), xb_cell_name(p->cell), xb_read_scheme_name(s), r, c, p->r_wire_row_ohm,
             p->r_wire_col_ohm, p->r_driver_ohm, p->r_sense_ohm);
    double d = fabs(in - is) / fabs(is);
    if (d > g_worst) g_worst = d;
    xb_test_assert_close(in, is, rel * fabs(is), what);
}

/* ------------------------------------------------------------------ closed forms */

/* 2x2 linear 1R, no wire resistance, cell (0,0) read with the other lines floating: the
 * sneak path row 0 -> G01 -> column 1 -> G11 -> row 1 -> G10 -> column 0 is three cells in
 * series, parallel to G00, so I = V / (Rd + 1/(G00 + Gs) + Rs), Gs = 1/(1/G01+1/G11+1/G10). */
static void test_2x2_float_hand(void **state)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_LINEAR);
    p.rows = p.cols = 2;
    p.r_wire_row_ohm = p.r_wire_col_ohm = 0;
    p.r_driver_ohm = 300;
    p.r_sense_ohm = 700;
    const double G00 = 30e-6, G01 = 20e-6, G10 = 15e-6, G11 = 40e-6, V = p.v_read_volt;
    xb_matrix *g = xb_matrix_new(2, 2);
    g->data[0] = G00;
    g->data[1] = G01;
    g->data[2] = G10;
    g->data[3] = G11;
    double gs = 1.0 / (1 / G01 + 1 / G11 + 1 / G10);
    double want = V / (p.r_driver_ohm + 1 / (G00 + gs) + p.r_sense_ohm);
    xb_test_assert_close(native_read(&p, g, XB_READ_FLOAT, 0, 0), want, 1e-13 * want, "2x2 float by hand");
    /* the same with the selected cell open: only the sneak path conducts */
    g->data[0] = 0;
    want = V / (p.r_driver_ohm + 1 / gs + p.r_sense_ohm);
    xb_test_assert_close(native_read(&p, g, XB_READ_FLOAT, 0, 0), want, 1e-13 * want, "2x2 float, selected open");
    xb_matrix_free(g);
}

/* 2x2, no resistance anywhere: every node is a source, so the read of (1,0) is exact:
 * V/2: I = G10 V + G00 V/2; V/3: I = G10 V + G00 V/3 (column 0 at 0 V, row 0 biased). */
static void test_2x2_biased_exact(void **state)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_LINEAR);
    p.rows = p.cols = 2;
    p.r_wire_row_ohm = p.r_wire_col_ohm = p.r_driver_ohm = p.r_sense_ohm = 0;
    const double G00 = 30e-6, G01 = 20e-6, G10 = 15e-6, G11 = 40e-6, V = p.v_read_volt;
    xb_matrix *g = xb_matrix_new(2, 2);
    g->data[0] = G00;
    g->data[1] = G01;
    g->data[2] = G10;
    g->data[3] = G11;
    double want = G10 * V + G00 * (V / 2);
    xb_test_assert_close(native_read(&p, g, XB_READ_V2, 1, 0), want, 1e-15 * want, "2x2 V/2 exact");
    want = G10 * V + G00 * (V / 3);
    xb_test_assert_close(native_read(&p, g, XB_READ_V3, 1, 0), want, 1e-15 * want, "2x2 V/3 exact");
    xb_matrix_free(g);
}

/* ------------------------------------------------------------------ vs ngspice */

/* every device read mode x cell type x scheme, 4x5 with wires, drivers and sense resistors,
 * one open cell, the selected cell in the middle and at a corner */
static void test_spice_all_modes(void **state)
{
    const xb_device_kind devs[] = {XB_DEVICE_LINEAR, XB_DEVICE_RRAM, XB_DEVICE_PCM, XB_DEVICE_ECRAM};
    const xb_cell_kind cells[] = {XB_CELL_1R, XB_CELL_1T1R, XB_CELL_1S1R};
    const xb_read_scheme schemes[] = {XB_READ_FLOAT, XB_READ_V2, XB_READ_V3};
    for (size_t d = 0; d < 4; d++)
        for (size_t c = 0; c < 3; c++) {
            xb_array_params p;
            xb_array_params_default(&p, devs[d]);
            p.rows = 4;
            p.cols = 5;
            p.cell = cells[c];
            p.r_wire_row_ohm = 2.5;
            p.r_wire_col_ohm = 4.0;
            p.r_driver_ohm = 100;
            p.r_sense_ohm = 20;
            xb_matrix *g = xb_test_random_g(&p, 500 + 10 * d + c);
            g->data[3] = 0; /* an open cell (left out of 1S1R / 1T1R cells) */
            for (size_t s = 0; s < 3; s++) {
                compare(&p, g, schemes[s], 1, 2, 1e-9);
                compare(&p, g, schemes[s], 3, 0, 1e-9);
            }
            xb_matrix_free(g);
        }
}

/* shorts: merged lines (zero wire resistance) that float, drivers / sense of zero */
static void test_spice_shorts(void **state)
{
    const xb_cell_kind cells[] = {XB_CELL_1R, XB_CELL_1T1R, XB_CELL_1S1R};
    const xb_read_scheme schemes[] = {XB_READ_FLOAT, XB_READ_V2, XB_READ_V3};
    for (size_t c = 0; c < 3; c++)
        for (size_t s = 0; s < 3; s++) {
            xb_array_params p;
            xb_array_params_default(&p, XB_DEVICE_RRAM);
            p.rows = 5;
            p.cols = 4;
            p.cell = cells[c];
            xb_matrix *g = xb_test_random_g(&p, 600 + 3 * c + s);
            p.r_wire_row_ohm = 0; /* every row one node behind its driver (or floating) */
            p.r_driver_ohm = 150;
            p.r_wire_col_ohm = 3;
            p.r_sense_ohm = 0;
            compare(&p, g, schemes[s], 2, 1, 1e-9);
            p.r_wire_row_ohm = 5;
            p.r_driver_ohm = 0;
            p.r_wire_col_ohm = 0; /* every column one node above its sense resistor */
            p.r_sense_ohm = 80;
            compare(&p, g, schemes[s], 4, 3, 1e-9);
            p.r_wire_row_ohm = p.r_wire_col_ohm = 0; /* only drivers and sense resistors */
            p.r_driver_ohm = 50;
            p.r_sense_ohm = 30;
            compare(&p, g, schemes[s], 0, 0, 1e-9);
            xb_matrix_free(g);
        }
}

/* larger arrays: 16x16 for every cell type and scheme (RRAM, PCM), one 32x32 per cell type */
static void test_spice_16_32(void **state)
{
    const xb_cell_kind cells[] = {XB_CELL_1R, XB_CELL_1T1R, XB_CELL_1S1R};
    const xb_read_scheme schemes[] = {XB_READ_FLOAT, XB_READ_V2, XB_READ_V3};
    for (size_t c = 0; c < 3; c++) {
        xb_array_params p;
        xb_array_params_default(&p, c == 1 ? XB_DEVICE_PCM : XB_DEVICE_RRAM);
        p.rows = p.cols = 16;
        p.cell = cells[c];
        p.r_wire_row_ohm = p.r_wire_col_ohm = 5;
        xb_matrix *g = xb_test_random_g(&p, 700 + c);
        for (size_t s = 0; s < 3; s++) compare(&p, g, schemes[s], 5, 11, 1e-9);
        xb_matrix_free(g);
        p.rows = p.cols = 32;
        p.device = XB_DEVICE_RRAM;
        xb_array_params_default(&p, XB_DEVICE_RRAM);
        p.rows = p.cols = 32;
        p.cell = cells[c];
        /* worst case of `xbar sneak`: every cell at g_max */
        g = xb_matrix_new(32, 32);
        for (size_t k = 0; k < 32 * 32; k++) g->data[k] = p.g_max_siemens;
        compare(&p, g, schemes[c], 31, 0, 1e-9);
        xb_matrix_free(g);
    }
}

/* the sneak quantities against four ngspice reads (sneak relative to the read current) */
static void test_sneak_vs_spice(void **state)
{
    const xb_cell_kind cells[] = {XB_CELL_1R, XB_CELL_1T1R, XB_CELL_1S1R};
    for (size_t c = 0; c < 3; c++) {
        xb_array_params p;
        xb_array_params_default(&p, XB_DEVICE_RRAM);
        p.rows = p.cols = 8;
        p.cell = cells[c];
        p.r_wire_row_ohm = p.r_wire_col_ohm = 3;
        xb_matrix *g = xb_test_random_g(&p, 800 + c);
        const size_t r = 2, k = 5;
        xb_engine_sneak_result s;
        xb_error err = {0};
        assert_int_equal(xb_engine_native_sneak(NULL, &p, g, XB_READ_V2, r, k, &s, &err), XB_OK);
        double rd = spice_read(&p, g, XB_READ_V2, r, k);
        double keep = g->data[r * 8 + k];
        g->data[r * 8 + k] = p.g_max_siemens;
        double on = spice_read(&p, g, XB_READ_V2, r, k);
        g->data[r * 8 + k] = p.g_min_siemens;
        double off = spice_read(&p, g, XB_READ_V2, r, k);
        xb_array_params p1 = p;
        p1.rows = p1.cols = 1;
        xb_matrix *g1 = xb_matrix_new(1, 1);
        g1->data[0] = keep;
        double cell = spice_read(&p1, g1, XB_READ_FLOAT, 0, 0);
        xb_test_assert_close(s.i_read_amp, rd, 1e-9 * fabs(rd), "sneak: read");
        xb_test_assert_close(s.i_read_on_amp, on, 1e-9 * fabs(on), "sneak: read on");
        xb_test_assert_close(s.i_read_off_amp, off, 1e-9 * fabs(off), "sneak: read off");
        xb_test_assert_close(s.i_cell_amp, cell, 1e-9 * fabs(cell), "sneak: cell alone");
        xb_test_assert_close(s.i_sneak_amp, rd - cell, 1e-9 * fabs(rd), "sneak: sneak current");
        xb_test_assert_close(s.margin, (on - off) / on, 1e-9, "sneak: margin");
        xb_matrix_free(g1);
        xb_matrix_free(g);
    }
}

/* `xbar sneak` (ngspice at the engine's reltol 1e-9) prints the same six numbers; so does
 * `xbar sneak --engine native` (the native class through the engine interface) */
static double field(const char *out, const char *name)
{
    const char *s = strstr(out, name);
    assert_non_null(s);
    return strtod(s + strlen(name) + 1, NULL);
}

static void test_xbar_sneak_cli(void **state)
{
    const char *cells[] = {"1r", "1t1r", "1s1r"};
    const char *schemes[] = {"float", "v2", "v3"};
    const xb_cell_kind ck[] = {XB_CELL_1R, XB_CELL_1T1R, XB_CELL_1S1R};
    const xb_read_scheme sk[] = {XB_READ_FLOAT, XB_READ_V2, XB_READ_V3};
    for (int c = 0; c < 3; c++) {
        char *argv[] = {"xbar", "sneak", "--rows", "6", "--cols", "5", "--device", "rram", "--cell", (char *)cells[c],
                        "--cell-at", "2,3", "--scheme", (char *)schemes[c], NULL};
        char *out = NULL, *errs = NULL;
        int rc = xb_test_run_xbar(argv, &out, &errs);
        if (rc) print_error("xbar sneak: %s\n", errs);
        assert_int_equal(rc, 0);
        xb_array_params p;
        xb_array_params_default(&p, XB_DEVICE_RRAM);
        p.rows = 6;
        p.cols = 5;
        p.cell = ck[c];
        xb_matrix *g = xb_matrix_new(6, 5);
        for (size_t k = 0; k < 30; k++) g->data[k] = p.g_max_siemens;
        xb_engine_sneak_result s;
        xb_error err = {0};
        assert_int_equal(xb_engine_native_sneak(NULL, &p, g, sk[c], 2, 3, &s, &err), XB_OK);
        double rd = field(out, "read_current_amp");
        xb_test_assert_close(s.i_read_amp, rd, 1e-7 * rd, "xbar sneak read_current_amp");
        xb_test_assert_close(s.i_cell_amp, field(out, "cell_current_amp"), 1e-7 * rd, "xbar sneak cell_current_amp");
        xb_test_assert_close(s.i_sneak_amp, field(out, "sneak_current_amp"), 1e-7 * rd, "xbar sneak sneak_current_amp");
        xb_test_assert_close(s.i_read_on_amp, field(out, "read_on_amp"), 1e-7 * rd, "xbar sneak read_on_amp");
        xb_test_assert_close(s.i_read_off_amp, field(out, "read_off_amp"), 1e-7 * rd, "xbar sneak read_off_amp");
        xb_test_assert_close(s.margin, field(out, "margin"), 1e-7, "xbar sneak margin");
        char *argn[] = {"xbar", "sneak", "--rows", "6", "--cols", "5", "--device", "rram", "--cell", (char *)cells[c],
                        "--cell-at", "2,3", "--scheme", (char *)schemes[c], "--engine", "native", NULL};
        char *outn = NULL, *errn = NULL;
        assert_int_equal(xb_test_run_xbar(argn, &outn, &errn), 0);
        const char *names[] = {"read_current_amp", "cell_current_amp", "sneak_current_amp", "read_on_amp",
                               "read_off_amp"};
        for (size_t q = 0; q < 5; q++) xb_test_assert_close(field(outn, names[q]), field(out, names[q]), 1e-7 * rd, names[q]);
        xb_test_assert_close(field(outn, "margin"), s.margin, 1e-12, "xbar sneak --engine native margin");
        free(outn);
        free(errn);
        char *argb[] = {"xbar", "sneak", "--rows", "6", "--cols", "5", "--cell-at", "2,3", "--scheme", "v2",
                        "--engine", "ideal", NULL};
        assert_int_equal(xb_test_run_xbar(argb, &outn, &errn), 2);
        assert_non_null(strstr(errn, "--engine: unknown engine 'ideal' (spice, native)"));
        free(outn);
        free(errn);
        xb_matrix_free(g);
        free(out);
        free(errs);
    }
}

/* floating lines whose cells are all open carry no current: the read is the rest alone */
static void test_open_floating_line(void **state)
{
    const xb_cell_kind cells[] = {XB_CELL_1R, XB_CELL_1T1R, XB_CELL_1S1R};
    for (size_t c = 0; c < 3; c++) {
        xb_array_params p;
        xb_array_params_default(&p, XB_DEVICE_RRAM);
        p.rows = 4;
        p.cols = 4;
        p.cell = cells[c];
        p.r_wire_row_ohm = 0; /* row 3 is one floating node ... */
        p.r_wire_col_ohm = 0; /* (columns too, so that the array without row 3 is the same) */
        xb_matrix *g = xb_test_random_g(&p, 900 + c);
        for (size_t j = 0; j < 4; j++) g->data[3 * 4 + j] = 0; /* ... with every cell open */
        double with = native_read(&p, g, XB_READ_FLOAT, 0, 1);
        /* (1S1R: the netlist writer keeps an open cell's selector, dangling; with the whole
         * row floating that island makes ngspice's matrix singular) */
        if (p.cell != XB_CELL_1S1R) compare(&p, g, XB_READ_FLOAT, 0, 1, 1e-9);
        /* the same array without that row reads the same current */
        xb_array_params p3 = p;
        p3.rows = 3;
        xb_matrix *g3 = xb_matrix_new(3, 4);
        memcpy(g3->data, g->data, 12 * sizeof(double));
        double without = native_read(&p3, g3, XB_READ_FLOAT, 0, 1);
        xb_test_assert_close(with, without, 1e-12 * fabs(without), "open floating row");
        xb_matrix_free(g3);
        xb_matrix_free(g);
    }
}

static void test_bad_input(void **state)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_RRAM);
    p.rows = p.cols = 3;
    xb_matrix *g = xb_test_random_g(&p, 1);
    xb_error err = {0};
    double i;
    assert_int_equal(xb_engine_native_read(NULL, &p, g, XB_READ_V2, 3, 0, &i, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "--cell-at"));
    assert_int_equal(xb_engine_native_read(NULL, &p, g, XB_READ_MVM, 0, 0, &i, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "--scheme"));
    g->data[4] = -1e-6;
    assert_int_equal(xb_engine_native_read(NULL, &p, g, XB_READ_V3, 0, 0, &i, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "(2,2)"));
    g->data[4] = 1e-6;
    xb_engine_opts o;
    xb_engine_opts_default(&o);
    o.gmin_siemens = -1;
    assert_int_equal(xb_engine_native_read(&o, &p, g, XB_READ_V3, 0, 0, &i, &err), XB_EINPUT);
    xb_engine_sneak_result s;
    p.v_read_volt = 0;
    assert_int_equal(xb_engine_native_sneak(NULL, &p, g, XB_READ_V3, 0, 0, &s, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "--v-read"));
    assert_int_equal(xb_engine_native_read(NULL, &p, g, XB_READ_V3, 0, 0, NULL, &err), XB_EINPUT);
    xb_matrix_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_2x2_float_hand),     cmocka_unit_test(test_2x2_biased_exact),
        cmocka_unit_test(test_spice_all_modes),    cmocka_unit_test(test_spice_shorts),
        cmocka_unit_test(test_spice_16_32),        cmocka_unit_test(test_sneak_vs_spice),
        cmocka_unit_test(test_xbar_sneak_cli),     cmocka_unit_test(test_open_floating_line),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
