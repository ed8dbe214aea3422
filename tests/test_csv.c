/* CSV matrix contract: values, and one-line errors naming file:line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "xbar/common.h"

static void test_parse_ok(void **state)
{
    const char *t = "# G matrix\n1e-6, 2.5e-6 ,3\n\n4,5,6\r\n";
    xb_matrix *m = NULL;
    xb_error err;
    assert_int_equal(xb_csv_parse_matrix(t, strlen(t), "g.csv", &m, &err), XB_OK);
    assert_int_equal(m->rows, 2);
    assert_int_equal(m->cols, 3);
    assert_true(m->data[0] == 1e-6 && m->data[1] == 2.5e-6 && m->data[5] == 6.0);
    xb_matrix_free(m);
}

static void expect_error(const char *t, const char *needle)
{
    xb_matrix *m = NULL;
    xb_error err;
    assert_int_equal(xb_csv_parse_matrix(t, strlen(t), "g.csv", &m, &err), XB_EINPUT);
    assert_null(m);
    assert_non_null(strstr(err.msg, needle));
    assert_null(strchr(err.msg, '\n'));
}

static void test_parse_errors(void **state)
{
    expect_error("1,2\n3,abc\n", "g.csv:2: field 2 'abc' is not a number");
    expect_error("1,2\n3\n", "g.csv:2: 1 fields, expected 2");
    expect_error("1,,2\n", "g.csv:1: field 2 is empty");
    expect_error("# only a comment\n", "g.csv: no data rows");
    expect_error("1e999\n", "g.csv:1: field 1 '1e999' is out of range");
    expect_error("nan\n", "out of range");
}

static void test_parse_numbers(void **state)
{
    xb_error err;
    double d;
    size_t n;
    assert_int_equal(xb_parse_double("2.5", "--r-wire", &d, &err), XB_OK);
    assert_true(d == 2.5);
    assert_int_equal(xb_parse_double("2.5x", "--r-wire", &d, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "--r-wire"));
    assert_int_equal(xb_parse_size("-3", "--rows", &n, &err), XB_EINPUT);
    assert_int_equal(xb_parse_size("64", "--rows", &n, &err), XB_OK);
    assert_int_equal(n, 64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ok),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
