/* HDF5 helpers: what is written is read back by an independent reader (python3 h5py),
 * and by our own readers; extendible tables grow; overwrite protection holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/xb_test.h"
#include "xbar/h5.h"

static void test_roundtrip_h5py(void **state)
{
    char *dir = xb_test_tmpdir("h5");
    char path[1024];
    snprintf(path, sizeof path, "%s/a.h5", dir);
    xb_error err;
    xb_error_clear(&err);
    hid_t f;
    assert_int_equal(xb_h5_create(path, 0, &f, &err), XB_OK);
    double m[6] = {1.5, -2, 3e-6, 4, 5, 6.25};
    hsize_t d[2] = {2, 3};
    assert_int_equal(xb_h5_write_doubles(f, "g1/sub/m", 2, d, m, "S", &err), XB_OK);
    int64_t iv[3] = {7, -8, 9000000000LL};
    hsize_t d1 = 3;
    assert_int_equal(xb_h5_write_int64s(f, "g1/ints", 1, &d1, iv, "1", &err), XB_OK);
    assert_int_equal(xb_h5_write_text(f, "g1/text", "line one\nline two", &err), XB_OK);
    assert_int_equal(xb_h5_attr_set_double(f, "g1", "r_wire_ohm", 2.5, &err), XB_OK);
    assert_int_equal(xb_h5_attr_set_string(f, "g1", "device", "rram", &err), XB_OK);
    assert_int_equal(xb_h5_attr_set_int64(f, ".", "count", 42, &err), XB_OK);
    double row[4] = {1, 2, 3, 4};
    assert_int_equal(xb_h5_append_rows(f, "tab", 2, 1, row, "A", &err), XB_OK);
    assert_int_equal(xb_h5_append_rows(f, "tab", 2, 1, row + 2, "A", &err), XB_OK);
    assert_int_equal(xb_h5_append_rows(f, "tab", 3, 1, row, "A", &err), XB_EINPUT); /* wrong width */
    assert_int_equal(xb_h5_close(f, &err), XB_OK);

    /* Independent reader. */
    char script[4096];
    snprintf(script, sizeof script,
             "import h5py, numpy as np\n"
             "f = h5py.File('%s', 'r')\n"
             "m = f['g1/sub/m'][...]\n"
             "assert m.shape == (2, 3), m.shape\n"
             "assert np.array_equal(m, np.array([[1.5, -2, 3e-6], [4, 5, 6.25]]))\n"
             "assert f['g1/sub/m'].attrs['units'].decode() == 'S'\n"
             "assert list(f['g1/ints'][...]) == [7, -8, 9000000000]\n"
             "assert f['g1/text'][()].decode() == 'line one\\nline two'\n"
             "assert f['g1'].attrs['r_wire_ohm'] == 2.5\n"
             "assert f['g1'].attrs['device'].decode() == 'rram'\n"
             "assert f.attrs['count'] == 42\n"
             "t = f['tab'][...]\n"
             "assert t.shape == (2, 2) and np.array_equal(t, [[1, 2], [3, 4]]), t\n"
             "assert f['tab'].maxshape[0] is None\n"
             "print('ok')\n",
             path);
    char *a[] = {"/usr/bin/python3", "-c", script, NULL};
    char *out = NULL, *e = NULL;
    int rc = xb_test_run(a, &out, &e);
    if (rc) fprintf(stderr, "%s%s", out, e);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "ok"));
    free(out);
    free(e);

    /* Our own readers on the same file. */
    assert_int_equal(xb_h5_open(path, 0, &f, &err), XB_OK);
    double *data;
    int rank;
    hsize_t dims[4];
    assert_int_equal(xb_h5_read_doubles(f, "g1/sub/m", &data, &rank, dims, &err), XB_OK);
    assert_int_equal(rank, 2);
    assert_int_equal(dims[0], 2);
    assert_int_equal(dims[1], 3);
    for (int k = 0; k < 6; k++) assert_true(data[k] == m[k]);
    free(data);
    char units[16];
    assert_int_equal(xb_h5_read_units(f, "g1/sub/m", units, sizeof units, &err), XB_OK);
    assert_string_equal(units, "S");
    char *txt;
    assert_int_equal(xb_h5_read_text(f, "g1/text", &txt, &err), XB_OK);
    assert_string_equal(txt, "line one\nline two");
    free(txt);
    double r;
    assert_int_equal(xb_h5_attr_get_double(f, "g1", "r_wire_ohm", &r, &err), XB_OK);
    assert_true(r == 2.5);
    int64_t c;
    assert_int_equal(xb_h5_attr_get_int64(f, ".", "count", &c, &err), XB_OK);
    assert_int_equal(c, 42);
    assert_true(xb_h5_exists(f, "g1/sub/m"));
    assert_false(xb_h5_exists(f, "g1/nope/m"));
    char **names;
    size_t n;
    assert_int_equal(xb_h5_list(f, "g1", &names, &n, &err), XB_OK);
    assert_int_equal(n, 3);
    assert_string_equal(names[0], "ints");
    assert_string_equal(names[1], "sub");
    assert_string_equal(names[2], "text");
    xb_h5_free_names(names, n);
    /* Missing things are input errors naming the object. */
    assert_int_equal(xb_h5_read_doubles(f, "g1/none", &data, &rank, dims, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "g1/none"));
    assert_int_equal(xb_h5_attr_get_double(f, "g1", "nope", &r, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "nope"));
    xb_h5_close(f, &err);

    /* No silent overwrite; explicit overwrite truncates. */
    assert_int_equal(xb_h5_create(path, 0, &f, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "exists"));
    assert_int_equal(xb_h5_create(path, 1, &f, &err), XB_OK);
    assert_false(xb_h5_exists(f, "g1"));
    xb_h5_close(f, &err);

    /* Not HDF5. */
    char *txtpath = xb_test_write_file(dir, "x.h5", "not hdf5\n");
    assert_false(xb_h5_is_hdf5(txtpath));
    assert_int_equal(xb_h5_open(txtpath, 0, &f, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "not an HDF5"));
    free(txtpath);
    free(dir);
}

static void test_large_chunked(void **state)
{
    char *dir = xb_test_tmpdir("h5big");
    char path[1024];
    snprintf(path, sizeof path, "%s/b.h5", dir);
    xb_error err;
    hid_t f;
    assert_int_equal(xb_h5_create(path, 0, &f, &err), XB_OK);
    size_t n = 100 * 90;
    double *m = malloc(n * sizeof *m);
    for (size_t k = 0; k < n; k++) m[k] = (double)k * 0.5 - 7;
    hsize_t d[2] = {100, 90};
    assert_int_equal(xb_h5_write_doubles(f, "m", 2, d, m, "V", &err), XB_OK);
    xb_h5_close(f, &err);
    assert_int_equal(xb_h5_open(path, 0, &f, &err), XB_OK);
    double *back;
    int rank;
    hsize_t dims[4];
    assert_int_equal(xb_h5_read_doubles(f, "m", &back, &rank, dims, &err), XB_OK);
    assert_int_equal(dims[0] * dims[1], n);
    assert_memory_equal(back, m, n * sizeof *m);
    free(back);
    free(m);
    xb_h5_close(f, &err);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_h5py),
        cmocka_unit_test(test_large_chunked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
