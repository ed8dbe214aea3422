/* `xbar mvm --engine native` against `xbar mvm --engine spice` on the same files (the
 * ngspice batch path is the independent reference), plus its input errors. */
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

static char *g_dir, *g_gpath, *g_vpath;

static int setup(void **state)
{
    g_dir = xb_test_tmpdir("native_cli");
    if (!g_dir) return -1;
    /* 5 x 4 RRAM conductances (siemens) and 3 input vectors of 5 voltages */
    g_gpath = xb_test_write_file(g_dir, "G.csv",
                                 "4e-5,1e-6,2.2e-5,3.3e-5\n"
                                 "1.5e-5,3.9e-5,7e-6,2e-6\n"
                                 "2.7e-5,1.1e-5,3.6e-5,1.9e-5\n"
                                 "5e-6,2.4e-5,1.3e-5,3.8e-5\n"
                                 "3.1e-5,8e-6,2.9e-5,1.7e-5\n");
    g_vpath = xb_test_write_file(g_dir, "V.csv",
                                 "0.2,0.1,0.05,0.15,0.2\n"
                                 "-0.2,0.2,0,0.1,-0.05\n"
                                 "0.12,0.12,0.12,0.12,0.12\n");
    return g_gpath && g_vpath ? 0 : -1;
}

static int teardown(void **state)
{
    free(g_gpath);
    free(g_vpath);
    free(g_dir);
    return 0;
}

static xb_matrix *run_mvm(const char *engine, const char *cell)
{
    char *argv[] = {"xbar", "mvm", "--device", "rram", "--cell", (char *)cell, "--r-wire", "3",
                    "--r-sense", "25", "--g", g_gpath, "--v", g_vpath, "--engine", (char *)engine, NULL};
    char *out = NULL, *err = NULL;
    int rc = xb_test_run_xbar(argv, &out, &err);
    if (rc != 0) print_error("xbar mvm --engine %s: exit %d: %s\n", engine, rc, err);
    assert_int_equal(rc, 0);
    xb_matrix *m = NULL;
    xb_error e = {0};
    assert_int_equal(xb_csv_parse_matrix(out, strlen(out), "stdout", &m, &e), XB_OK);
    free(out);
    free(err);
    return m;
}

static void test_native_vs_spice(void **state)
{
    const char *cells[] = {"1r", "1s1r"};
    for (size_t c = 0; c < 2; c++) {
        xb_matrix *a = run_mvm("native", cells[c]);
        xb_matrix *b = run_mvm("spice", cells[c]);
        assert_int_equal(a->rows, 3);
        assert_int_equal(a->cols, 4);
        assert_int_equal(b->rows, 3);
        assert_int_equal(b->cols, 4);
        for (size_t k = 0; k < 12; k++) {
            double tol = 1e-6 * fabs(b->data[k]) + 1e-15;
            if (!(fabs(a->data[k] - b->data[k]) <= tol)) {
                print_error("%s entry %zu: native %.15g spice %.15g\n", cells[c], k, a->data[k], b->data[k]);
                fail();
            }
        }
        xb_matrix_free(a);
        xb_matrix_free(b);
    }
}

static void test_native_errors(void **state)
{
    char *bad = xb_test_write_file(g_dir, "Gbad.csv", "1e-5,2e-5\n-1e-5,1e-5\n");
    char *v2 = xb_test_write_file(g_dir, "V2.csv", "0.1,0.2\n");
    char *argv[] = {"xbar", "mvm", "--g", bad, "--v", v2, "--engine", "native", NULL};
    char *out = NULL, *err = NULL;
    int rc = xb_test_run_xbar(argv, &out, &err);
    assert_int_equal(rc, 2);
    assert_int_equal(xb_test_count_lines(err), 1);
    assert_non_null(strstr(err, "xbar mvm: "));
    free(out);
    free(err);
    /* V has 2 inputs, G has 5 rows */
    char *argv2[] = {"xbar", "mvm", "--g", g_gpath, "--v", v2, "--engine", "native", NULL};
    rc = xb_test_run_xbar(argv2, &out, &err);
    assert_int_equal(rc, 2);
    assert_int_equal(xb_test_count_lines(err), 1);
    free(out);
    free(err);
    char *argv3[] = {"xbar", "mvm", "--help", NULL};
    rc = xb_test_run_xbar(argv3, &out, &err);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "usage: xbar mvm"));
    assert_non_null(strstr(out, "native"));
    free(out);
    free(err);
    free(bad);
    free(v2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_native_vs_spice),
        cmocka_unit_test(test_native_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
