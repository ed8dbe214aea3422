/* The xbar front end: usage errors are one line on stderr with exit code 2;
 * --version names the libraries actually loaded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "support/xb_test.h"

static void expect_usage_error(char *const argv[], const char *needle)
{
    char *out = NULL, *err = NULL;
    int rc = xb_test_run_xbar(argv, &out, &err);
    assert_int_equal(rc, 2);
    assert_int_equal(xb_test_count_lines(err), 1);
    assert_non_null(strstr(err, needle));
    assert_string_equal(out, "");
    free(out);
    free(err);
}

static void test_bad_flag_value(void **state)
{
    char *a1[] = {"xbar", "netlist", "--rows", "x", NULL};
    expect_usage_error(a1, "--rows");
    char *a2[] = {"xbar", "netlist", "--rows", "4", "--r-wire", "-1", NULL};
    expect_usage_error(a2, "--r-wire");
    char *a3[] = {"xbar", "netlist", "--device", "memristor", NULL};
    expect_usage_error(a3, "--device");
    char *a4[] = {"xbar", "netlist", "--rows", NULL};
    expect_usage_error(a4, "--rows");
}

static void test_demo_bad_input(void **state)
{
    char *a1[] = {"xbar", "demo", "--limit", "0", NULL};
    expect_usage_error(a1, "--limit");
    char *a2[] = {"xbar", "demo", "--campaign", "/nonexistent/demo.ini", NULL};
    expect_usage_error(a2, "--campaign");
    char *a3[] = {"xbar", "demo", "--frobnicate", NULL};
    expect_usage_error(a3, "--frobnicate");
}

static void test_unknown_command(void **state)
{
    char *a[] = {"xbar", "frobnicate", NULL};
    expect_usage_error(a, "frobnicate");
}

static void test_help_everywhere(void **state)
{
    const char *cmds[] = {"netlist", "mvm", "iv", "sneak", "characterize", "report",
                          "fit", "inspect", "train", "run", "demo"};
    for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++) {
        char *a[] = {"xbar", (char *)cmds[k], "--help", NULL};
        char *out = NULL, *err = NULL;
        int rc = xb_test_run_xbar(a, &out, &err);
        assert_int_equal(rc, 0);
        assert_non_null(strstr(out, "usage: xbar"));
        free(out);
        free(err);
    }
}

static void test_version(void **state)
{
    char *a[] = {"xbar", "--version", NULL};
    char *out = NULL, *err = NULL;
    assert_int_equal(xb_test_run_xbar(a, &out, &err), 0);
    assert_non_null(strstr(out, "xbar "));
    assert_non_null(strstr(out, "libngspice ngspice-"));
    assert_non_null(strstr(out, "GSL 2."));
    assert_non_null(strstr(out, "HDF5 1."));
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_flag_value),
        cmocka_unit_test(test_unknown_command),
        cmocka_unit_test(test_demo_bad_input),
        cmocka_unit_test(test_help_everywhere),
        cmocka_unit_test(test_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
