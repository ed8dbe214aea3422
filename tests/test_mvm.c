/* CLI contract of xbar mvm / netlist / sneak / iv: the spice engine against the ideal
 * product and closed forms, the `xbar netlist` deck in stock ngspice against
 * `xbar mvm --engine spice`, and one-line errors with exit code 2. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support/xb_test.h"
#include "xbar/common.h"

static char *g_dir;

static int setup(void **state)
{
    g_dir = xb_test_tmpdir("mvm");
    return g_dir ? 0 : -1;
}

static int teardown(void **state)
{
    free(g_dir);
    return 0;
}

static void assert_rel(double got, double want, double rel, const char *what)
{
    if (!(fabs(got - want) <= rel * fabs(want) + 1e-21)) {
        print_error("%s: got %.15g want %.15g (rel %.3g)\n", what, got, want, rel);
        fail();
    }
}

static xb_matrix *parse(const char *text)
{
    xb_matrix *m = NULL;
    xb_error err;
    if (xb_csv_parse_matrix(text, strlen(text), "stdout", &m, &err) != XB_OK) {
        print_error("cannot parse output: %s\n%s\n", err.msg, text);
        fail();
    }
    return m;
}

/* Run xbar with args (NULL-terminated), expect exit 0, return stdout parsed as CSV. */
static xb_matrix *xbar_csv(char **args)
{
    char *argv[64];
    int n = 0;
    argv[n++] = "xbar";
    for (char **a = args; *a; a++) argv[n++] = *a;
    argv[n] = NULL;
    char *out = NULL, *err = NULL;
    int rc = xb_test_run_xbar(argv, &out, &err);
    if (rc != 0) {
        print_error("xbar %s exited %d: %s\n", args[0], rc, err ? err : "");
        fail();
    }
    xb_matrix *m = parse(out);
    free(out);
    free(err);
    return m;
}

static const char k_g[] = "1e-5,2e-5,3e-5,4e-5\n4e-5,5e-6,6e-6,7e-6\n# comment line\n2.5e-5,1e-6,0,3.3e-5\n";
static const char k_v[] = "0.1,0.2,-0.05\n0.2,-0.1,0.15\n0,0,0.2\n";

/* --device linear with zero wire/driver/sense resistance: spice equals ideal to 1e-9 */
static void test_spice_equals_ideal(void **state)
{
    char *g = xb_test_write_file(g_dir, "G.csv", k_g), *v = xb_test_write_file(g_dir, "V.csv", k_v);
    char *a_ideal[] = {"mvm", "--g", g, "--v", v, "--engine", "ideal", NULL};
    char *a_spice[] = {"mvm", "--g", g, "--v", v, "--engine", "spice", "--r-wire", "0", "--r-driver", "0",
                       "--r-sense", "0", NULL};
    xb_matrix *mi = xbar_csv(a_ideal), *ms = xbar_csv(a_spice);
    assert_int_equal(mi->rows, 3);
    assert_int_equal(mi->cols, 4);
    assert_int_equal(ms->rows, 3);
    assert_int_equal(ms->cols, 4);
    /* independent: the product computed here */
    double G[3][4] = {{1e-5, 2e-5, 3e-5, 4e-5}, {4e-5, 5e-6, 6e-6, 7e-6}, {2.5e-5, 1e-6, 0, 3.3e-5}};
    double V[3][3] = {{0.1, 0.2, -0.05}, {0.2, -0.1, 0.15}, {0, 0, 0.2}};
    for (int k = 0; k < 3; k++)
        for (int j = 0; j < 4; j++) {
            double want = 0;
            for (int i = 0; i < 3; i++) want += V[k][i] * G[i][j];
            assert_rel(mi->data[k * 4 + j], want, 1e-12, "ideal");
            assert_rel(ms->data[k * 4 + j], want, 1e-9, "spice");
        }
    xb_matrix_free(mi);
    xb_matrix_free(ms);
    /* differential pairs: outputs are column differences */
    char *a_diff[] = {"mvm", "--g", g, "--v", v, "--engine", "spice", "--r-wire", "0", "--r-driver", "0", "--diff", NULL};
    xb_matrix *md = xbar_csv(a_diff);
    assert_int_equal(md->cols, 2);
    for (int k = 0; k < 3; k++)
        for (int j = 0; j < 2; j++) {
            double want = 0;
            for (int i = 0; i < 3; i++) want += V[k][i] * (G[i][2 * j] - G[i][2 * j + 1]);
            assert_rel(md->data[k * 2 + j], want, 1e-8, "diff");
        }
    xb_matrix_free(md);
    free(g);
    free(v);
}

/* Extract the K x M current table printed by ngspice for the `xbar netlist` deck: the last
 * K lines of the log that consist of M+ numbers (the deck's print format, docs/engine.md);
 * the trailing M numbers of each are the outputs. */
static xb_matrix *parse_ngspice_table(const char *log, size_t K, size_t M)
{
    xb_matrix *m = xb_matrix_new(K, M);
    size_t found = 0;
    char *dup = strdup(log);
    char *lines[100000];
    size_t nl = 0;
    for (char *save = NULL, *l = strtok_r(dup, "\n", &save); l && nl < 100000; l = strtok_r(NULL, "\n", &save))
        lines[nl++] = l;
    /* walk backwards collecting numeric rows */
    double row[256];
    for (size_t q = nl; q-- > 0 && found < K;) {
        size_t c = 0;
        char *s = lines[q], *e;
        for (;;) {
            while (*s == ' ' || *s == '\t' || *s == ',') s++;
            if (!*s) break;
            double x = strtod(s, &e);
            if (e == s) { c = 0; break; }
            if (c < 256) row[c++] = x;
            s = e;
        }
        if (c >= M) {
            for (size_t j = 0; j < M; j++) m->data[(K - 1 - found) * M + j] = row[c - M + j];
            found++;
        }
    }
    free(dup);
    if (found != K) {
        print_error("found %zu of %zu numeric rows in the ngspice output:\n%s\n", found, K, log);
        fail();
    }
    return m;
}

/* The deck from `xbar netlist`, run by stock ngspice, equals `xbar mvm --engine spice` */
static void test_netlist_deck_in_stock_ngspice(void **state)
{
    const char *devices[] = {"rram", "linear", "pcm"};
    const char *cells[] = {"1r", "1t1r", "1s1r"};
    char *g = xb_test_write_file(g_dir, "G2.csv", k_g), *v = xb_test_write_file(g_dir, "V2.csv", k_v);
    for (int d = 0; d < 3; d++) {
        char cir[1024];
        snprintf(cir, sizeof cir, "%s/deck_%s.cir", g_dir, devices[d]);
        char *common[] = {"--device", (char *)devices[d], "--cell", (char *)cells[d], "--r-wire", "2.5",
                          "--r-sense", "10", "--g", g, "--v", v};
        char *a_nl[32] = {"xbar", "netlist"}, *a_mvm[32] = {"mvm"};
        int n1 = 2, n2 = 1;
        for (int k = 0; k < 12; k++) { a_nl[n1++] = common[k]; a_mvm[n2++] = common[k]; }
        a_nl[n1++] = "-o";
        a_nl[n1++] = cir;
        a_nl[n1] = NULL;
        a_mvm[n2++] = "--engine";
        a_mvm[n2++] = "spice";
        a_mvm[n2] = NULL;
        char *out = NULL, *err = NULL;
        assert_int_equal(xb_test_run_xbar(a_nl, &out, &err), 0);
        free(out);
        free(err);
        char *ng[] = {XB_NGSPICE_EXE, "-b", cir, NULL};
        /* ngspice 39 -b exits 1 after a .control block even on success: check the log instead */
        int ngrc = xb_test_run(ng, &out, &err);
        if (ngrc > 1 || strstr(out, "rror") || (err && strstr(err, "rror"))) {
            print_error("ngspice -b %s: exit %d\n%s\n%s\n", cir, ngrc, out, err ? err : "");
            fail();
        }
        xb_matrix *mn = parse_ngspice_table(out, 3, 4);
        free(out);
        free(err);
        xb_matrix *ms = xbar_csv(a_mvm);
        for (size_t k = 0; k < 12; k++) assert_rel(mn->data[k], ms->data[k], 1e-9, devices[d]);
        /* IR drop and nonlinearity make it differ from the ideal product */
        xb_matrix_free(mn);
        xb_matrix_free(ms);
    }
    free(g);
    free(v);
}

static void expect_input_error(char **args, const char *needle)
{
    char *argv[64];
    int n = 0;
    argv[n++] = "xbar";
    for (char **a = args; *a; a++) argv[n++] = *a;
    argv[n] = NULL;
    char *out = NULL, *err = NULL;
    int rc = xb_test_run_xbar(argv, &out, &err);
    if (rc != 2 || !err || xb_test_count_lines(err) != 1 || !strstr(err, needle) ||
        strncmp(err, "xbar ", 5) != 0) {
        print_error("xbar %s ...: exit %d, stderr '%s', expected one line with '%s'\n", args[0], rc,
                    err ? err : "", needle);
        fail();
    }
    free(out);
    free(err);
}

static void test_bad_input(void **state)
{
    char *g = xb_test_write_file(g_dir, "G3.csv", k_g), *v = xb_test_write_file(g_dir, "V3.csv", k_v);
    char *gnan = xb_test_write_file(g_dir, "Gnan.csv", "1e-5,2e-5\n1e-5,abc\n");
    char *grow = xb_test_write_file(g_dir, "Grow.csv", "1e-5,2e-5\n1e-5\n");
    char *gneg = xb_test_write_file(g_dir, "Gneg.csv", "# header\n1e-5,2e-5\n\n1e-5,-3e-6\n");
    char *vbad = xb_test_write_file(g_dir, "Vbad.csv", "0.1,0.2\n");
    const char *cmds[] = {"mvm", "netlist"};
    for (int c = 0; c < 2; c++) {
        char *cmd = (char *)cmds[c];
        char *o = c ? "-o" : "--engine", *ov = c ? "/dev/null" : "ideal";
        char *a1[] = {cmd, "--g", gnan, "--v", v, o, ov, NULL};
        expect_input_error(a1, "Gnan.csv:2");
        char *a2[] = {cmd, "--g", grow, "--v", v, o, ov, NULL};
        expect_input_error(a2, "Grow.csv:2");
        char *a3[] = {cmd, "--g", gneg, "--v", v, o, ov, NULL};
        expect_input_error(a3, "Gneg.csv:4");
        char *a4[] = {cmd, "--rows", "0", "--g", g, "--v", v, o, ov, NULL};
        expect_input_error(a4, "--rows");
        char *a5[] = {cmd, "--device", "memristor", "--g", g, "--v", v, o, ov, NULL};
        expect_input_error(a5, "--device");
        char *a6[] = {cmd, "--g", g, "--v", vbad, o, ov, NULL};
        expect_input_error(a6, "Vbad.csv:1");
        char *a7[] = {cmd, "--rows", "2", "--g", g, "--v", v, o, ov, NULL};
        expect_input_error(a7, "--rows");
        char *a8[] = {cmd, "--g", g, "--v", v, "--r-wire", "x", o, ov, NULL};
        expect_input_error(a8, "--r-wire");
        char *a9[] = {cmd, "--bogus", NULL};
        expect_input_error(a9, "--bogus");
    }
    char *b1[] = {"mvm", "--g", g, "--v", v, "--engine", "quantum", NULL};
    expect_input_error(b1, "--engine");
    char *b2[] = {"sneak", "--rows", "2", "--cols", "2", "--cell-at", "2,0", "--scheme", "float", NULL};
    expect_input_error(b2, "--cell-at");
    char *b3[] = {"sneak", "--rows", "2", "--cols", "2", "--cell-at", "0,0", "--scheme", "v4", NULL};
    expect_input_error(b3, "--scheme");
    char *b4[] = {"iv", "--device", "linear", "--mode", "dynamic", "-o", "/dev/null", NULL};
    expect_input_error(b4, "--device");
    char *b5[] = {"iv", "--device", "rram", "--mode", "write", "-o", "/dev/null", NULL};
    expect_input_error(b5, "--mode");
    free(g);
    free(v);
    free(gnan);
    free(grow);
    free(gneg);
    free(vbad);
}

static double kv(const char *out, const char *key)
{
    const char *p = strstr(out, key);
    assert_non_null(p);
    return strtod(p + strlen(key) + 1, NULL);
}

/* xbar sneak on a 2x2 passive array, floating lines: the analytic sneak path */
static void test_sneak_cli(void **state)
{
    double g00 = 2e-6, g01 = 30e-6, g10 = 25e-6, g11 = 40e-6, V = 0.2;
    char *g = xb_test_write_file(g_dir, "G4.csv", "2e-6,30e-6\n25e-6,40e-6\n");
    char *argv[] = {"xbar", "sneak", "--g", g, "--cell-at", "0,0", "--scheme", "float", "--r-wire", "0",
                    "--r-driver", "0", NULL};
    char *out = NULL, *err = NULL;
    assert_int_equal(xb_test_run_xbar(argv, &out, &err), 0);
    double gs = 1 / (1 / g01 + 1 / g11 + 1 / g10);
    assert_rel(kv(out, "read_current_amp"), V * (g00 + gs), 1e-9, "read");
    assert_rel(kv(out, "cell_current_amp"), V * g00, 1e-9, "cell");
    assert_rel(kv(out, "sneak_current_amp"), V * gs, 1e-6, "sneak");
    /* margin with the selected cell at g_max / g_min (linear defaults 40 / 1 uS) */
    double on = V * (40e-6 + gs), off = V * (1e-6 + gs);
    assert_rel(kv(out, "margin"), (on - off) / on, 1e-8, "margin");
    free(out);
    free(err);
    free(g);
}

/* xbar iv: the read CSV equals the sinh equation; the dynamic RRAM sweep SETs and RESETs */
static void test_iv_cli(void **state)
{
    char csv[1024];
    snprintf(csv, sizeof csv, "%s/iv.csv", g_dir);
    char *argv[] = {"xbar", "iv", "--device", "rram", "--mode", "read", "--states", "3", "--points", "21",
                    "--no-png", "-o", csv, NULL};
    char *out = NULL, *err = NULL;
    assert_int_equal(xb_test_run_xbar(argv, &out, &err), 0);
    free(out);
    free(err);
    xb_matrix *m = NULL;
    xb_error e;
    assert_int_equal(xb_csv_read_matrix(csv, &m, &e), XB_OK);
    assert_int_equal(m->rows, 21);
    assert_int_equal(m->cols, 4);
    double gs[3] = {1e-6, sqrt(40e-6 * 1e-6), 40e-6};
    for (size_t r = 0; r < 21; r++)
        for (int s = 0; s < 3; s++) {
            double vv = m->data[r * 4];
            assert_rel(m->data[r * 4 + 1 + s], gs[s] * 0.2 * sinh(vv / 0.25) / sinh(0.2 / 0.25), 1e-6, "iv read");
        }
    xb_matrix_free(m);
    char *argv2[] = {"xbar", "iv", "--device", "rram", "--mode", "dynamic", "--no-png", "-o", csv, NULL};
    assert_int_equal(xb_test_run_xbar(argv2, &out, &err), 0);
    free(out);
    free(err);
    assert_int_equal(xb_csv_read_matrix(csv, &m, &e), XB_OK);
    assert_int_equal(m->cols, 5); /* time, v, i, gap, v_cell */
    double gmin = 10, gend = m->data[(m->rows - 1) * 5 + 3], ipeak = 0;
    for (size_t r = 0; r < m->rows; r++) {
        if (m->data[r * 5 + 3] < gmin) gmin = m->data[r * 5 + 3];
        if (m->data[r * 5 + 2] > ipeak) ipeak = m->data[r * 5 + 2];
    }
    assert_true(m->data[3] > 1.69);      /* starts OFF */
    /* SET stops where the 100 uA compliance of the recipe holds the cell at its switching
     * threshold: I0 e^{-g/g0} sinh(V_min/V0) = 100 uA with V_min = fmin tox / gamma(g) */
    double g_lim = 0.5;
    for (int it = 0; it < 100; it++) {
        double vmin = 1.4 * 12 / (16 - 0.8 * g_lim * g_lim * g_lim);
        g_lim = 0.25 * log(61.4e-6 * sinh(vmin / 0.25) / 100e-6);
    }
    assert_true(fabs(gmin - g_lim) < 0.05);
    assert_true(ipeak <= 100e-6 * (1 + 1e-6) && ipeak > 0.99 * 100e-6); /* the compliance caps the SET */
    assert_true(gend > 1.69);            /* RESET returns to OFF */
    xb_matrix_free(m);
    /* without compliance the SET crashes the gap to its lower bound at far higher current */
    char *argv3[] = {"xbar", "iv", "--device", "rram", "--mode", "dynamic", "--compliance", "0", "--no-png", "-o", csv, NULL};
    assert_int_equal(xb_test_run_xbar(argv3, &out, &err), 0);
    free(out);
    free(err);
    assert_int_equal(xb_csv_read_matrix(csv, &m, &e), XB_OK);
    gmin = 10;
    ipeak = 0;
    for (size_t r = 0; r < m->rows; r++) {
        if (m->data[r * 5 + 3] < gmin) gmin = m->data[r * 5 + 3];
        if (m->data[r * 5 + 2] > ipeak) ipeak = m->data[r * 5 + 2];
    }
    assert_true(gmin < 0.21);
    assert_true(ipeak > 5 * 100e-6); /* 0.94 mA behind the 1 kohm series resistance alone */
    xb_matrix_free(m);
}


/* A 1 x N line through `xbar mvm --engine spice` (batched, two vectors) equals the
 * closed-form ladder solution: continued fraction from the far end, then the divider. */
static void test_ladder_cli(void **state)
{
    enum { N = 5 };
    double g[N] = {1e-4, 2e-4, 0.5e-4, 3e-4, 1.5e-4};
    double rd = 150, rw = 250, rc = 40, rs = 10;
    char gtext[256] = "", *q = gtext;
    for (int j = 0; j < N; j++) q += sprintf(q, "%s%.17g", j ? "," : "", g[j]);
    strcat(gtext, "\n");
    char *gp = xb_test_write_file(g_dir, "Gl.csv", gtext), *vp = xb_test_write_file(g_dir, "Vl.csv", "0.2\n-0.15\n");
    char *args[] = {"mvm", "--g", gp, "--v", vp, "--r-driver", "150", "--r-wire-row", "250", "--r-wire-col", "40",
                    "--r-sense", "10", "--engine", "spice", NULL};
    xb_matrix *m = xbar_csv(args);
    assert_int_equal(m->rows, 2);
    assert_int_equal(m->cols, N);
    double rb[N], z[N], vn[N];
    for (int j = 0; j < N; j++) rb[j] = 1 / g[j] + rc + rs;
    z[N - 1] = rb[N - 1];
    for (int j = N - 1; j-- > 0;) z[j] = 1 / (1 / rb[j] + 1 / (rw + z[j + 1]));
    double vin[2] = {0.2, -0.15};
    for (int k = 0; k < 2; k++) {
        vn[0] = vin[k] / (rd + rw + z[0]) * z[0];
        for (int j = 1; j < N; j++) vn[j] = vn[j - 1] * z[j] / (rw + z[j]);
        for (int j = 0; j < N; j++) assert_rel(m->data[k * N + j], vn[j] / rb[j], 1e-9, "ladder via xbar mvm");
    }
    xb_matrix_free(m);
    free(gp);
    free(vp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spice_equals_ideal),
        cmocka_unit_test(test_netlist_deck_in_stock_ngspice),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_sneak_cli),
        cmocka_unit_test(test_iv_cli),
        cmocka_unit_test(test_ladder_cli),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
