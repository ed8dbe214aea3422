/* Self-contained decks (docs/netlist.md "Deck layout"):
 *  - the deck of `xbar netlist`, copied alone into an empty directory and run there by stock
 *    `ngspice -b` (other working directory, XBAR_MODELS_DIR pointing nowhere), prints exactly
 *    the numbers of `xbar mvm --engine spice` (every device x cell, compared as doubles to the
 *    last bit); it holds no .include and no path to the models directory, and
 *    `--include-models` gives the same numbers with .include lines;
 *  - the .param/.subckt layout gives bit-identical results to the flat layout the writer
 *    had before (reproduced below as the reference, ref_flat_body) for MVM reads, single-cell
 *    reads (float/V2/V3) and dynamic arrays, for every device and cell type, in stock ngspice.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support/xb_test.h"
#include "xbar/engine.h"
#include "xbar/netlist.h"

#ifndef XB_NGSPICE_EXE
#define XB_NGSPICE_EXE "ngspice"
#endif

static char *g_dir;

static int setup(void **state)
{
    g_dir = xb_test_tmpdir("deck");
    return g_dir ? 0 : -1;
}

static int teardown(void **state)
{
    free(g_dir);
    return 0;
}

/* ------------------------------------------------------------------ the flat reference */
/* The writer's layout before the device table and self-contained decks (commit 441ed66):
 * .include lines, literal values, one element line per device, no subcircuit per cell. */
static void ref_row_node(const xb_array_params *p, size_t i, size_t k, char *buf, size_t n)
{
    if (p->r_wire_row_ohm > 0) snprintf(buf, n, "r%zu_%zu", i, k);
    else snprintf(buf, n, "r%zu", i);
}

static void ref_col_node(const xb_array_params *p, size_t k, size_t j, char *buf, size_t n)
{
    if (p->r_wire_col_ohm > 0) snprintf(buf, n, "c%zu_%zu", k, j);
    else snprintf(buf, n, "c%zu", j);
}

typedef struct {
    const int *row_mode, *col_mode; /* 1 driven/sensed, 2 biased, 0 floating */
    const double *row_bias, *col_bias, *gate_volt;
    const xb_matrix *state0;
} ref_plan;

static void ref_device(FILE *f, const xb_array_params *p, size_t i, size_t j, double g, const char *a, const char *b)
{
    if (g <= 0) {
        fprintf(f, "* cell %zu,%zu: G = 0 (open)\n", i, j);
        return;
    }
    if (p->device == XB_DEVICE_RRAM || p->device == XB_DEVICE_PCM)
        fprintf(f, "Xg%zu_%zu %s %s %s g=%.17g vr=%.17g v0=%.17g\n", i, j, a, b,
                p->device == XB_DEVICE_RRAM ? "rram_read" : "pcm_read", g, p->v_read_volt, xb_device_v0_volt(p, g));
    else
        fprintf(f, "Rg%zu_%zu %s %s %.17g\n", i, j, a, b, 1.0 / g);
}

static void ref_dynamic(FILE *f, const xb_array_params *p, size_t i, size_t j, double state, const char *a,
                        const char *b)
{
    static const char *const state_name[] = {"", "gini", "c0", "x0"};
    static const char *const subckt[] = {"", "rram_dyn", "pcm_dyn", "ecram_dyn"};
    char ov[64], *inst = NULL;
    xb_error err;
    snprintf(ov, sizeof ov, "%s=%.17g", state_name[p->device], state);
    assert_int_equal(xb_netlist_dyn_instance(p, i * p->cols + j, ov, &inst, &err), XB_OK);
    /* the noise terminal: a node per cell fed by a 0 A source into 1 ohm (no noise) */
    if (p->device == XB_DEVICE_ECRAM) fprintf(f, "Xg%zu_%zu %s %s gl%zu nz%zu_%zu ecram_dyn %s\n", i, j, a, b, i, i, j, inst);
    else fprintf(f, "Xg%zu_%zu %s %s nz%zu_%zu %s %s\n", i, j, a, b, i, j, subckt[p->device], inst);
    fprintf(f, "Inz%zu_%zu 0 nz%zu_%zu DC 0\nRnz%zu_%zu nz%zu_%zu 0 1\n", i, j, i, j, i, j, i, j);
    free(inst);
}

static char *ref_flat_body(const xb_array_params *p, const xb_matrix *g, const ref_plan *d)
{
    char *buf = NULL, a[64], b[64], c[64];
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    const char *dir = xb_netlist_models_dir();
    fprintf(f, "* reference flat deck\n");
    if (p->device == XB_DEVICE_RRAM) fprintf(f, ".include %s/rram.lib\n", dir);
    if (p->device == XB_DEVICE_PCM) fprintf(f, ".include %s/pcm.lib\n", dir);
    if (d->state0 && p->device == XB_DEVICE_ECRAM) fprintf(f, ".include %s/ecram.lib\n", dir);
    if (p->cell == XB_CELL_1S1R) fprintf(f, ".include %s/selector.lib\n", dir);
    if (p->cell == XB_CELL_1T1R)
        fprintf(f, ".model xbnmos nmos level=1 kp=%.17g vto=%.17g lambda=%.17g gamma=0 is=0\n", p->nmos_kp_a_per_v2,
                p->nmos_vt_volt, p->nmos_lambda_per_v);
    for (size_t i = 0; i < p->rows; i++) {
        if (d->row_mode[i] == 0) {
            fprintf(f, "* row %zu floating\n", i);
        } else {
            if (p->r_driver_ohm > 0) snprintf(a, sizeof a, "d%zu", i);
            else ref_row_node(p, i, 0, a, sizeof a);
            if (d->row_mode[i] == 2) fprintf(f, "Vb%zu %s 0 DC %.17g\n", i, a, d->row_bias[i]);
            if (p->r_driver_ohm > 0) {
                ref_row_node(p, i, 0, b, sizeof b);
                fprintf(f, "Rd%zu %s %s %.17g\n", i, a, b, p->r_driver_ohm);
            }
        }
        if (p->r_wire_row_ohm > 0)
            for (size_t k = 0; k < p->cols; k++) {
                ref_row_node(p, i, k, a, sizeof a);
                ref_row_node(p, i, k + 1, b, sizeof b);
                fprintf(f, "Rr%zu_%zu %s %s %.17g\n", i, k, a, b, p->r_wire_row_ohm);
            }
        if (!d->state0 && p->cell == XB_CELL_1T1R) fprintf(f, "Vgl%zu gl%zu 0 DC %.17g\n", i, i, d->gate_volt[i]);
        if (d->state0 && p->c_wire_farad > 0)
            for (size_t k = 1; k <= p->cols; k++) {
                if (p->r_wire_row_ohm <= 0 && k > 1) break;
                ref_row_node(p, i, k, a, sizeof a);
                fprintf(f, "Cr%zu_%zu %s 0 %.17g\n", i, k, a,
                        p->c_wire_farad * (p->r_wire_row_ohm > 0 ? 1.0 : (double)p->cols));
            }
    }
    for (size_t j = 0; j < p->cols; j++) {
        if (d->state0 && p->c_wire_farad > 0)
            for (size_t k = 0; k < p->rows; k++) {
                if (p->r_wire_col_ohm <= 0 && k > 0) break;
                ref_col_node(p, k, j, a, sizeof a);
                fprintf(f, "Cc%zu_%zu %s 0 %.17g\n", k, j, a,
                        p->c_wire_farad * (p->r_wire_col_ohm > 0 ? 1.0 : (double)p->rows));
            }
        if (p->r_wire_col_ohm > 0)
            for (size_t k = 0; k < p->rows; k++) {
                ref_col_node(p, k, j, a, sizeof a);
                ref_col_node(p, k + 1, j, b, sizeof b);
                fprintf(f, "Rc%zu_%zu %s %s %.17g\n", k, j, a, b, p->r_wire_col_ohm);
            }
        if (d->col_mode[j] == 0) {
            fprintf(f, "* column %zu floating\n", j);
            continue;
        }
        if (p->r_sense_ohm > 0) snprintf(a, sizeof a, "s%zu", j);
        else ref_col_node(p, p->rows, j, a, sizeof a);
        if (p->r_sense_ohm > 0) {
            ref_col_node(p, p->rows, j, b, sizeof b);
            fprintf(f, "Rs%zu %s %s %.17g\n", j, b, a, p->r_sense_ohm);
        }
        if (d->col_mode[j] == 1) fprintf(f, "Vs%zu %s 0 DC 0\n", j, a);
        else fprintf(f, "Vcb%zu %s 0 DC %.17g\n", j, a, d->col_bias[j]);
    }
    for (size_t i = 0; i < p->rows; i++)
        for (size_t j = 0; j < p->cols; j++) {
            double gij = g->data[i * g->cols + j];
            ref_row_node(p, i, j + 1, a, sizeof a);
            ref_col_node(p, i, j, b, sizeof b);
            snprintf(c, sizeof c, "m%zu_%zu", i, j);
            if (p->cell == XB_CELL_1R) {
                if (d->state0) ref_dynamic(f, p, i, j, gij, a, b);
                else ref_device(f, p, i, j, gij, a, b);
            } else if (p->cell == XB_CELL_1T1R) {
                if (d->state0) ref_dynamic(f, p, i, j, gij, a, c);
                else ref_device(f, p, i, j, gij, a, c);
                fprintf(f, "Mt%zu_%zu %s gl%zu %s 0 xbnmos w=%.17gu l=1u\n", i, j, c, i, b, p->nmos_w_over_l);
                /* dynamic cells: the capacitance of the node between device and access element */
                if (d->state0) fprintf(f, "Cm%zu_%zu %s 0 %.17g\n", i, j, c, p->c_node_farad);
            } else {
                fprintf(f, "Xs%zu_%zu %s %s sel_read is=%.17g vs=%.17g\n", i, j, a, c, p->sel_is_amp, p->sel_vs_volt);
                if (d->state0) ref_dynamic(f, p, i, j, gij, c, b);
                else ref_device(f, p, i, j, gij, c, b);
                if (d->state0) fprintf(f, "Cm%zu_%zu %s 0 %.17g\n", i, j, c, p->c_node_farad);
            }
        }
    fclose(f);
    return buf;
}

/* ------------------------------------------------------------------ running ngspice */
/* Run a deck in stock ngspice in directory `dir`; the lines "<k>\t..." it prints (the batch
 * deck's table, or a transient print), as one string. */
static char *ngspice_table(const char *dir, const char *name, const char *deck, const char *env)
{
    char *path = xb_test_write_file(dir, name, deck);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd '%s' && %s %s -b '%s' 2>&1", dir, env ? env : "", XB_NGSPICE_EXE, name);
    char *argv[] = {"sh", "-c", cmd, NULL};
    char *out = NULL;
    xb_test_run(argv, &out, NULL);
    free(path);
    if (!out || strstr(out, "rror")) {
        print_error("ngspice on %s/%s:\n%s\n", dir, name, out ? out : "(no output)");
        fail();
    }
    char *t = calloc(strlen(out) + 1, 1);
    size_t tl = 0;
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        const char *q = l;
        while (*q >= '0' && *q <= '9') q++;
        if (q == l || *q != '\t') continue;
        tl += (size_t)sprintf(t + tl, "%s\n", l);
    }
    free(out);
    assert_true(tl > 0);
    return t;
}

/* The batch deck of a static netlist body with the netlist's sources at `values` (K rows). */
static char *batch_deck(const char *body, const xb_netlist *n, const double *values, size_t K)
{
    size_t ns = xb_netlist_n_sources(n);
    xb_engine_source *src = malloc((ns ? ns : 1) * sizeof *src);
    for (size_t k = 0; k < ns; k++) {
        src[k].name = xb_netlist_sources(n)[k].name;
        src[k].node_pos = xb_netlist_sources(n)[k].node_pos;
        src[k].node_neg = xb_netlist_sources(n)[k].node_neg;
    }
    xb_engine_opts eo;
    xb_engine_opts_default(&eo);
    xb_engine_batch b = {.title = "deck test", .body = body, .n_sources = ns, .sources = src, .k_vectors = K,
                         .values = values, .n_outputs = xb_netlist_n_outputs(n), .outputs = xb_netlist_outputs(n)};
    xb_error err;
    char *deck = xb_engine_batch_deck(&eo, &b, &err);
    free(src);
    assert_non_null(deck);
    return deck;
}

static void expect_same_tables(const char *what, const char *new_body, const char *ref_body, const xb_netlist *n,
                               const double *values, size_t K)
{
    char *dn = batch_deck(new_body, n, values, K), *dr = batch_deck(ref_body, n, values, K);
    char *tn = ngspice_table(g_dir, "new.cir", dn, NULL), *tr = ngspice_table(g_dir, "ref.cir", dr, NULL);
    if (strcmp(tn, tr) != 0) {
        print_error("%s: the new deck's numbers differ from the flat reference\nnew:\n%sref:\n%s", what, tn, tr);
        fail();
    }
    free(dn);
    free(dr);
    free(tn);
    free(tr);
}

/* A 4x5 conductance matrix inside the device window, one cell at G = 0 (open). */
static xb_matrix *test_g(const xb_array_params *p)
{
    xb_matrix *g = xb_matrix_new(p->rows, p->cols);
    for (size_t k = 0; k < p->rows * p->cols; k++) {
        double u = fmod(0.6180339887498949 * (double)(k + 1), 1.0);
        g->data[k] = p->g_min_siemens + u * (p->g_max_siemens - p->g_min_siemens);
    }
    g->data[p->cols + 2] = 0;
    return g;
}

/* MVM bodies: new layout vs the flat reference, every device and cell, with and without wire,
 * driver and sense resistances. */
/* The devices the flat layout knew (ref_flat_body). */
static const xb_device_kind k_flat_devices[] = {XB_DEVICE_LINEAR, XB_DEVICE_RRAM, XB_DEVICE_PCM, XB_DEVICE_ECRAM};

static void test_mvm_bit_identical(void **state)
{
    static const double inputs[3][4] = {{0.2, -0.1, 0.05, 0.15}, {-0.2, 0.3, 0.1, 0}, {0.11, 0.07, -0.13, 0.2}};
    for (size_t fd = 0; fd < sizeof k_flat_devices / sizeof k_flat_devices[0]; fd++)
        for (int cell = XB_CELL_1R; cell <= XB_CELL_1S1R; cell++)
            for (int shorts = 0; shorts < 2; shorts++) {
                xb_array_params p;
                xb_array_params_default(&p, k_flat_devices[fd]);
                p.rows = 4;
                p.cols = 5;
                p.cell = (xb_cell_kind)cell;
                p.r_wire_row_ohm = shorts ? 0 : 1.5;
                p.r_wire_col_ohm = shorts ? 0 : 3.3;
                p.r_driver_ohm = shorts ? 0 : 100;
                p.r_sense_ohm = shorts ? 0 : 7.7;
                xb_matrix *g = test_g(&p);
                xb_netlist *n;
                xb_error err;
                assert_int_equal(xb_netlist_mvm_new(&p, g, &n, &err), XB_OK);
                int all1[5] = {1, 1, 1, 1, 1};
                double gate[4] = {p.v_gate_volt, p.v_gate_volt, p.v_gate_volt, p.v_gate_volt};
                ref_plan d = {all1, all1, NULL, NULL, gate, NULL};
                char *ref = ref_flat_body(&p, g, &d);
                char what[96];
                snprintf(what, sizeof what, "mvm %s %s%s", xb_device_name(p.device), xb_cell_name(p.cell),
                         shorts ? " (shorts)" : "");
                expect_same_tables(what, xb_netlist_body(n), ref, n, &inputs[0][0], 3);
                free(ref);
                xb_netlist_free(n);
                xb_matrix_free(g);
            }
}

/* Single-cell reads with unselected lines floating or biased (V/2, V/3). */
static void test_read_schemes_bit_identical(void **state)
{
    for (int dev = XB_DEVICE_LINEAR; dev <= XB_DEVICE_PCM; dev++)
        for (int cell = XB_CELL_1R; cell <= XB_CELL_1S1R; cell++)
            for (int sch = XB_READ_FLOAT; sch <= XB_READ_V3; sch++) {
                xb_array_params p;
                xb_array_params_default(&p, (xb_device_kind)dev);
                p.rows = 4;
                p.cols = 5;
                p.cell = (xb_cell_kind)cell;
                p.r_wire_row_ohm = p.r_wire_col_ohm = 2.5;
                xb_matrix *g = test_g(&p);
                xb_netlist *n;
                xb_error err;
                const size_t sr = 2, sc = 3;
                assert_int_equal(xb_netlist_read_new(&p, g, (xb_read_scheme)sch, sr, sc, &n, &err), XB_OK);
                int rm[4], cm[5];
                double rb[4], cb[5], gate[4], v = p.v_read_volt;
                for (size_t i = 0; i < 4; i++) {
                    rm[i] = i == sr ? 1 : (sch == XB_READ_FLOAT ? 0 : 2);
                    rb[i] = sch == XB_READ_V2 ? v / 2 : v / 3;
                    gate[i] = i == sr ? p.v_gate_volt : 0.0;
                }
                for (size_t j = 0; j < 5; j++) {
                    cm[j] = j == sc ? 1 : (sch == XB_READ_FLOAT ? 0 : 2);
                    cb[j] = sch == XB_READ_V2 ? v / 2 : 2 * v / 3;
                }
                ref_plan d = {rm, cm, rb, cb, gate, NULL};
                char *ref = ref_flat_body(&p, g, &d);
                char what[96];
                snprintf(what, sizeof what, "read %s %s %s", xb_device_name(p.device), xb_cell_name(p.cell),
                         xb_read_scheme_name((xb_read_scheme)sch));
                double v2[2] = {v, v}; /* two vectors: ngspice prints a one-point sweep in another format */
                expect_same_tables(what, xb_netlist_body(n), ref, n, v2, 2);
                free(ref);
                xb_netlist_free(n);
                xb_matrix_free(g);
            }
}

/* Dynamic arrays: the cell subcircuit passes every dynamic parameter on as a number, so a
 * transient (SET pulse on the rows, every gate line pulsed for ECRAM) is bit-identical. */
static void test_dynamic_bit_identical(void **state)
{
    static const struct { xb_device_kind dev; xb_cell_kind cell; double state0, pulse; } cases[] = {
        {XB_DEVICE_RRAM, XB_CELL_1R, 1.7, 1.6},  {XB_DEVICE_RRAM, XB_CELL_1T1R, 1.7, 1.6},
        {XB_DEVICE_RRAM, XB_CELL_1S1R, 1.7, 1.8}, {XB_DEVICE_PCM, XB_CELL_1R, 0.0, 0.8},
        {XB_DEVICE_ECRAM, XB_CELL_1R, 0.5, 1.0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        xb_array_params p;
        xb_array_params_default(&p, cases[c].dev);
        p.rows = 2;
        p.cols = 2;
        p.cell = cases[c].cell;
        p.var_d2d = 1;
        p.seed = 7;
        p.r_driver_ohm = 0;
        xb_matrix *x0 = xb_matrix_new(2, 2);
        for (size_t k = 0; k < 4; k++) x0->data[k] = cases[c].state0;
        xb_netlist *n;
        xb_error err;
        assert_int_equal(xb_netlist_dynamic_new(&p, x0, &n, &err), XB_OK);
        int all1[2] = {1, 1};
        ref_plan d = {all1, all1, NULL, NULL, NULL, x0};
        char *ref = ref_flat_body(&p, x0, &d);
        /* the caller's sources: rows pulse (gate lines pulse for gated cells) */
        char src[2048] = "";
        size_t sl = 0;
        for (size_t k = 0; k < xb_netlist_n_sources(n); k++) {
            const xb_netlist_source *s = &xb_netlist_sources(n)[k];
            int gate = strncmp(s->name, "gl", 2) == 0;
            double amp = gate && p.cell == XB_CELL_1T1R ? 1.2 : (gate == (p.device == XB_DEVICE_ECRAM)) ? cases[c].pulse : 0;
            sl += (size_t)snprintf(src + sl, sizeof src - sl, "V%s %s %s PWL(0 0 10n 0 11n %.17g 211n %.17g 212n 0 300n 0)\n",
                                   s->name, s->node_pos, s->node_neg, amp, amp);
        }
        char tail[256];
        /* reltol 1e-4 as xbar's programming runs (a 1T1R SET with gate and row rising together
         * stops with "timestep too small" at ngspice's default 1e-3) */
        snprintf(tail, sizeof tail, ".options reltol=1e-4\n.tran 1n 300n\n.control\nset numdgt=17\nset width=400\nset nobreak\nrun\nprint i(vs0) i(vs1)\n"
                                    "quit 0\n.endc\n.end\n");
        size_t nn = strlen(xb_netlist_body(n)) + strlen(src) + strlen(tail) + 64,
               nr = strlen(ref) + strlen(src) + strlen(tail) + 64;
        char *dn = malloc(nn), *dr = malloc(nr);
        snprintf(dn, nn, "dyn new\n%s%s%s", xb_netlist_body(n), src, tail);
        snprintf(dr, nr, "dyn ref\n%s%s%s", ref, src, tail);
        char *tn = ngspice_table(g_dir, "dyn_new.cir", dn, NULL), *tr = ngspice_table(g_dir, "dyn_ref.cir", dr, NULL);
        if (strcmp(tn, tr) != 0) {
            print_error("dynamic %s %s: new deck differs from the flat reference\nnew:\n%.2000s\nref:\n%.2000s",
                        xb_device_name(p.device), xb_cell_name(p.cell), tn, tr);
            fail();
        }
        if (xb_test_count_lines(tn) <= 50) print_error("dynamic %s %s: short output\n%.3000s\n", xb_device_name(p.device), xb_cell_name(p.cell), tn);
        assert_true(xb_test_count_lines(tn) > 50);
        free(tn);
        free(tr);
        free(dn);
        free(dr);
        free(ref);
        xb_netlist_free(n);
        xb_matrix_free(x0);
    }
}

/* ------------------------------------------------------------------ `xbar netlist` alone */
static xb_matrix *read_csv_matrix(const char *text)
{
    size_t rows = 0, cols = 0;
    double vals[4096];
    size_t nv = 0;
    char *dup = strdup(text);
    for (char *save = NULL, *l = strtok_r(dup, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        size_t c = 0;
        for (char *s2 = NULL, *t = strtok_r(l, ",", &s2); t; t = strtok_r(NULL, ",", &s2)) {
            vals[nv++] = strtod(t, NULL);
            c++;
        }
        if (!cols) cols = c;
        rows++;
    }
    free(dup);
    xb_matrix *m = xb_matrix_new(rows, cols);
    memcpy(m->data, vals, nv * sizeof(double));
    return m;
}

static void test_netlist_deck_runs_alone(void **state)
{
    static const char k_g[] = "1e-5,2.5e-5,3.3e-6\n4e-5,1.7e-6,2.2e-5\n7.7e-6,3.1e-5,1.9e-5\n";
    static const char k_v[] = "0.2,-0.1,0.05\n-0.15,0.2,0.1\n";
    char *g = xb_test_write_file(g_dir, "G.csv", k_g), *v = xb_test_write_file(g_dir, "V.csv", k_v);
    const char *models = xb_netlist_models_dir();
    for (int dev = 0; dev < XB_DEVICE_COUNT; dev++)
        for (int cell = XB_CELL_1R; cell <= XB_CELL_1S1R; cell++)
            for (int inc = 0; inc < 2; inc++) {
                const char *dn = xb_device_name((xb_device_kind)dev), *cn = xb_cell_name((xb_cell_kind)cell);
                char *args[32] = {"xbar", "netlist", "--device", (char *)dn, "--cell", (char *)cn, "--r-wire", "2.5",
                                  "--r-sense", "10", "--g", g, "--v", v, "--g-min", "1e-6", "--g-max", "4e-5",
                                  "-o", "-", inc ? "--include-models" : NULL, NULL};
                char *deck = NULL, *err = NULL;
                assert_int_equal(xb_test_run_xbar(args, &deck, &err), 0);
                free(err);
                if (!inc) {
                    /* nothing outside the deck: no .include, no path to the models */
                    assert_null(strstr(deck, ".include"));
                    assert_null(strstr(deck, models));
                } else if (xb_device_info_get((xb_device_kind)dev)->read.kind == XB_READ_SINH || cell == XB_CELL_1S1R) {
                    assert_non_null(strstr(deck, ".include"));
                }
                /* an empty directory, another working directory, no models directory */
                char sub[512];
                snprintf(sub, sizeof sub, "%s/alone_%s_%s_%d", g_dir, dn, cn, inc);
                char mk[1200];
                snprintf(mk, sizeof mk, "rm -rf '%s' && mkdir '%s'", sub, sub);
                char *mkv[] = {"sh", "-c", mk, NULL};
                assert_int_equal(xb_test_run(mkv, NULL, NULL), 0);
                char *table = ngspice_table(sub, "deck.cir", deck, "XBAR_MODELS_DIR=/nonexistent");
                free(deck);
                char *mvm_args[32] = {"xbar", "mvm", "--device", (char *)dn, "--cell", (char *)cn, "--r-wire", "2.5",
                                      "--r-sense", "10", "--g", g, "--v", v, "--g-min", "1e-6", "--g-max", "4e-5",
                                      "--engine", "spice", NULL};
                char *csv = NULL;
                assert_int_equal(xb_test_run_xbar(mvm_args, &csv, &err), 0);
                free(err);
                xb_matrix *ms = read_csv_matrix(csv);
                free(csv);
                /* the printed table: "k <tab> k <tab> i(vs0) ... i(vs2)" per input vector */
                size_t k = 0;
                for (char *save = NULL, *l = strtok_r(table, "\n", &save); l; l = strtok_r(NULL, "\n", &save), k++) {
                    char *s = l, *e;
                    double x[8];
                    size_t c = 0;
                    while (c < 8) {
                        x[c] = strtod(s, &e);
                        if (e == s) break;
                        c++;
                        s = e;
                    }
                    assert_int_equal(c, 2 + ms->cols);
                    for (size_t j = 0; j < ms->cols; j++)
                        if (x[2 + j] != ms->data[k * ms->cols + j]) {
                            print_error("%s %s%s: ngspice alone %.17g, xbar mvm --engine spice %.17g (vector %zu, "
                                        "column %zu)\n",
                                        dn, cn, inc ? " --include-models" : "", x[2 + j], ms->data[k * ms->cols + j], k, j);
                            fail();
                        }
                }
                assert_int_equal(k, ms->rows);
                xb_matrix_free(ms);
                free(table);
            }
    free(g);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mvm_bit_identical),
        cmocka_unit_test(test_read_schemes_bit_identical),
        cmocka_unit_test(test_dynamic_bit_identical),
        cmocka_unit_test(test_netlist_deck_runs_alone),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
