/* HDF5 helpers: what is written is read back by an independent reader (python3 h5py),
 * and by our own readers; extendible tables grow; overwrite protection holds; HDF5's error
 * printing is off inside every helper and the caller's handler is back after it, including
 * through the results, model and network readers built on them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/xb_test.h"
#include "xbar/characterize.h"
#include "xbar/exec.h"
#include "xbar/fit.h"
#include "xbar/h5.h"

static int run_python(const char *script)
{
    char *a[] = {"/usr/bin/python3", "-c", (char *)script, NULL};
    char *out = NULL, *e = NULL;
    int rc = xb_test_run(a, &out, &e);
    if (rc || !strstr(out, "ok")) fprintf(stderr, "%s%s", out, e);
    int ok = rc == 0 && strstr(out, "ok") != NULL;
    free(out);
    free(e);
    return ok;
}

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


/* A handler that counts HDF5's automatic error reports. */
static herr_t count_reports(hid_t stack, void *data)
{
    (void)stack;
    ++*(int *)data;
    return 0;
}

static void assert_handler_is(H5E_auto2_t func, void *data)
{
    H5E_auto2_t f = NULL;
    void *d = NULL;
    assert_true(H5Eget_auto2(H5E_DEFAULT, &f, &d) >= 0);
    assert_true(f == func);
    assert_ptr_equal(d, data);
}

/* Process-wide HDF5 error printing: switched off only inside xbar's calls.  With a counting
 * handler installed, a raw failing HDF5 call reports (the control: the handler is live);
 * failing xb_h5 calls and the schema readers report nothing, and the handler is still the
 * caller's afterwards. */
static void test_error_printing_restored(void **state)
{
    char *dir = xb_test_tmpdir("h5quiet");
    char path[1024];
    snprintf(path, sizeof path, "%s/q.h5", dir);
    char *txt = xb_test_write_file(dir, "x.h5", "not hdf5\n");
    int reports = 0;
    H5E_auto2_t old_func;
    void *old_data;
    H5Eget_auto2(H5E_DEFAULT, &old_func, &old_data);
    H5Eset_auto2(H5E_DEFAULT, count_reports, &reports);

    xb_error err;
    hid_t f;
    assert_int_equal(xb_h5_create(path, 0, &f, &err), XB_OK);
    double one = 1;
    assert_int_equal(xb_h5_write_doubles(f, "d", 0, NULL, &one, "1", &err), XB_OK);
    assert_int_equal(xb_h5_write_text(f, "s", "text", &err), XB_OK);
    assert_handler_is(count_reports, &reports);
    /* control: the handler is called for a failing raw call */
    hid_t bad = H5Dopen2(f, "nope", H5P_DEFAULT);
    assert_true(bad < 0);
    assert_true(reports > 0);
    reports = 0;
    /* failing helpers: errors in err, nothing reported, the handler back */
    double *d = NULL;
    int rank;
    hsize_t dims[4];
    hid_t g;
    char *str = NULL;
    assert_int_equal(xb_h5_read_doubles(f, "s", &d, &rank, dims, &err), XB_EINPUT); /* H5Dread fails */
    assert_non_null(strstr(err.msg, "not numeric"));
    assert_int_equal(xb_h5_read_text(f, "d", &str, &err), XB_EINPUT);
    assert_int_equal(xb_h5_group_open(f, "d", &g, &err), XB_EINPUT); /* a dataset, not a group */
    assert_int_equal(xb_h5_write_doubles(f, "d", 0, NULL, &one, "1", &err), XB_ERUNTIME); /* exists */
    assert_int_equal(xb_h5_attr_get_double(f, "s", "units", &one, &err), XB_EINPUT);
    assert_int_equal(xb_h5_copy(f, "nope", f, "copy", &err), XB_ERUNTIME);
    assert_int_equal(xb_h5_move(f, "nope", "moved", &err), XB_ERUNTIME);
    assert_int_equal(xb_h5_close(f, &err), XB_OK);
    assert_int_equal(xb_h5_open(txt, 0, &f, &err), XB_EINPUT);
    assert_false(xb_h5_is_hdf5(txt));
    assert_int_equal(xb_h5_create(dir, 1, &f, &err), XB_ERUNTIME); /* a directory */
    /* the schema readers, each on a file of another schema */
    xb_char_results *res = NULL;
    assert_int_equal(xb_char_results_open(path, &res, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "'format'"));
    xb_fit_params *ms = NULL;
    size_t n = 0;
    assert_int_equal(xb_fit_file_read(path, &ms, NULL, &n, &err), XB_EINPUT);
    xb_network *net = NULL;
    assert_int_equal(xb_network_read(path, &net, &err), XB_EINPUT);
    assert_int_equal(reports, 0);
    assert_handler_is(count_reports, &reports);

    H5Eset_auto2(H5E_DEFAULT, old_func, old_data);
    free(txt);
    free(dir);
}

/* float32 weights (one chunk, shuffle + deflate), integer-array attributes, shapes, copy,
 * move and the tree walk, against h5py. */
typedef struct {
    char seen[16][64];
    int group[16];
    xb_h5_info info[16];
    size_t n;
} walk;

static int walk_cb(void *user, const char *name, int is_group, const xb_h5_info *info)
{
    walk *w = user;
    if (w->n == 16) return 1;
    snprintf(w->seen[w->n], sizeof w->seen[0], "%s", name);
    w->group[w->n] = is_group;
    if (info) w->info[w->n] = *info;
    w->n++;
    return 0;
}

static void test_floats_shapes_tree(void **state)
{
    char *dir = xb_test_tmpdir("h5f");
    char path[1024];
    snprintf(path, sizeof path, "%s/w.h5", dir);
    xb_error err;
    hid_t f;
    assert_int_equal(xb_h5_create(path, 0, &f, &err), XB_OK);
    float w[24];
    for (int k = 0; k < 24; k++) w[k] = (float)k * 0.25f - 3.0f;
    hsize_t d4[4] = {2, 3, 2, 2};
    assert_int_equal(xb_h5_write_floats(f, "net/w", 4, d4, w, NULL, &err), XB_OK);
    const int64_t shape[3] = {1, 28, 28};
    assert_int_equal(xb_h5_attr_set_int64s(f, "net", "input_shape", 3, shape, &err), XB_OK);
    assert_int_equal(xb_h5_attr_set_double(f, "net", "ratio", 0.5, &err), XB_OK);
    assert_int_equal(xb_h5_write_text(f, "net/label", "abc", &err), XB_OK);
    assert_int_equal(xb_h5_copy(f, "net", f, "copy/of_net", &err), XB_OK);
    assert_int_equal(xb_h5_move(f, "copy/of_net", "moved", &err), XB_OK);
    assert_int_equal(xb_h5_close(f, &err), XB_OK);

    char script[2048];
    snprintf(script, sizeof script,
             "import h5py, numpy as np\n"
             "f = h5py.File('%s', 'r')\n"
             "w = f['net/w']\n"
             "assert w.dtype == np.float32 and w.shape == (2, 3, 2, 2), (w.dtype, w.shape)\n"
             "assert w.chunks == (2, 3, 2, 2) and w.shuffle and w.compression == 'gzip' and w.compression_opts == 6\n"
             "assert np.array_equal(w[...].ravel(), np.arange(24, dtype=np.float32) * 0.25 - 3)\n"
             "assert list(f['net'].attrs['input_shape']) == [1, 28, 28]\n"
             "assert f['net'].attrs['input_shape'].dtype == np.int64\n"
             "assert np.array_equal(f['moved/w'][...], w[...]) and 'copy/of_net' not in f\n"
             "print('ok')\n",
             path);
    assert_true(run_python(script));

    assert_int_equal(xb_h5_open(path, 0, &f, &err), XB_OK);
    float *back = NULL;
    int rank;
    hsize_t dims[4];
    assert_int_equal(xb_h5_read_floats(f, "moved/w", &back, &rank, dims, &err), XB_OK);
    assert_int_equal(rank, 4);
    assert_int_equal(dims[1], 3);
    assert_memory_equal(back, w, sizeof w);
    free(back);
    int64_t v[4];
    size_t n = 0;
    assert_int_equal(xb_h5_attr_get_int64s(f, "net", "input_shape", 4, v, &n, &err), XB_OK);
    assert_int_equal(n, 3);
    assert_int_equal(v[2], 28);
    assert_int_equal(xb_h5_attr_get_int64s(f, "net", "input_shape", 2, v, &n, &err), XB_EINPUT); /* too many */
    assert_non_null(strstr(err.msg, "'input_shape' is not 1 to 2 integers"));
    assert_int_equal(xb_h5_attr_get_int64s(f, "net", "ratio", 1, v, &n, &err), XB_EINPUT); /* a float */
    assert_non_null(strstr(err.msg, "w.h5:/net: attribute 'ratio' is not an integer"));
    xb_h5_info info;
    assert_int_equal(xb_h5_dataset_info(f, "net/w", &info, &err), XB_OK);
    assert_int_equal(info.cls, XB_H5_NUMERIC);
    assert_int_equal(info.rank, 4);
    assert_int_equal(info.dims[3], 2);
    assert_int_equal(xb_h5_dataset_info(f, "net/label", &info, &err), XB_OK);
    assert_int_equal(info.cls, XB_H5_STRING);
    assert_int_equal(info.rank, 0);
    assert_int_equal(xb_h5_dataset_info(f, "net/none", &info, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "w.h5:/net/none: missing dataset"));
    assert_int_equal(xb_h5_dataset_info(f, "net", &info, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "not a dataset"));
    /* the walk: root, the groups and datasets in name order */
    walk wk = {0};
    assert_int_equal(xb_h5_visit(f, walk_cb, &wk, &err), XB_OK);
    const char *want[] = {".", "copy", "moved", "moved/label", "moved/w", "net", "net/label", "net/w"};
    assert_int_equal(wk.n, 8);
    for (size_t k = 0; k < 8; k++) assert_string_equal(wk.seen[k], want[k]);
    assert_true(wk.group[0] && wk.group[1] && !wk.group[4]);
    assert_int_equal(wk.info[4].rank, 4);
    assert_int_equal(wk.info[3].cls, XB_H5_STRING);
    xb_h5_close(f, &err);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_h5py),
        cmocka_unit_test(test_large_chunked),
        cmocka_unit_test(test_error_printing_restored),
        cmocka_unit_test(test_floats_shapes_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
