/* `xbar run` on inputs from files (--input, --labels, --calib-input, --logits) and the arrays
 * behind it (src/exec/npy.c, src/exec/inputs.c).  The references come from numpy:
 *  - .npy files written by numpy (dtypes, byte orders, shapes, version 2.0) read by the C
 *    reader equal the values the test derives from the same formula; the C writer's file is
 *    read back by numpy;
 *  - the --logits of --engine ideal on a 3x8x8 conv net written with tools/xbar_network.py
 *    equal that script's float64 numpy forward pass to float rounding, and its accuracy the
 *    numpy argmax against the labels; on tiles with exact products and ideal converters
 *    (no calibration) the outputs stay within 1e-4 of it; HDF5 inputs (the only dataset, or
 *    named FILE:/PATH) give the same outputs as the .npy; uint8 inputs are pixels / 255;
 *  - bad files and flags: one line naming the file and what is wrong, exit 2 (a failed write
 *    of --logits: exit 1, no file left behind). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/xb_test.h"
#include "xbar/exec.h"

/* The fixtures, written by numpy into argv[2] (tools/ under argv[1]). */
static const char k_py_fixtures[] =
    "import sys, numpy as np, h5py\n"
    "sys.path.insert(0, sys.argv[1] + '/tools')\n"
    "import xbar_network as xn\n"
    "d = sys.argv[2]\n"
    "i = np.arange(24)\n"
    "f = i * 0.25 - 3\n"
    "k = i * 7 % 13 - 6\n"
    "np.save(d + '/f32.npy', f.astype('<f4').reshape(2, 3, 4))\n"
    "np.save(d + '/f64.npy', f.astype('<f8').reshape(4, 6))\n"
    "np.save(d + '/f32be.npy', f.astype('>f4').reshape(6, 4))\n"
    "np.save(d + '/u8.npy', (i * 11 % 256).astype(np.uint8).reshape(2, 2, 2, 3))\n"
    "np.save(d + '/i64.npy', k.astype('<i8'))\n"
    "np.save(d + '/i16be.npy', k.astype('>i2').reshape(3, 8))\n"
    "np.save(d + '/b.npy', i % 3 == 0)\n"
    "np.save(d + '/scalar.npy', np.float64(2.5))\n"
    "np.save(d + '/empty.npy', np.zeros((0, 3), np.float32))\n"
    "with open(d + '/v2.npy', 'wb') as fh:\n"
    "    np.lib.format.write_array(fh, f.astype('<f4').reshape(4, 6), version=(2, 0))\n"
    "np.save(d + '/fortran.npy', np.asfortranarray(f.reshape(4, 6)))\n"
    "np.save(d + '/c64.npy', np.zeros(4, np.complex64))\n"
    "rng = np.random.default_rng(5)\n"
    "L = [xn.conv2d(rng.uniform(-0.5, 0.5, (4, 3, 3, 3)), rng.uniform(-0.1, 0.1, 4), stride=1, padding=1),\n"
    "     xn.relu(), xn.maxpool2d(2), xn.flatten(),\n"
    "     xn.dense(rng.uniform(-0.5, 0.5, (5, 64)), rng.uniform(-0.1, 0.1, 5)), xn.softmax()]\n"
    "xn.write(d + '/cnn.h5', (3, 8, 8), L)\n"
    "shape, L2 = xn.read(d + '/cnn.h5')\n"
    "X = rng.uniform(0, 1, (20, 3, 8, 8)).astype(np.float32)\n"
    "y = rng.integers(0, 5, 20)\n"
    "np.save(d + '/X.npy', X)\n"
    "np.save(d + '/y.npy', y)\n"
    "ref = xn.forward(shape, L2, X.reshape(20, -1))[-1]\n"
    "np.save(d + '/ref.npy', ref)\n"
    "print('%.17g' % np.mean(ref.argmax(axis=1) == y))\n"
    "Xu = np.round(X * 255).astype(np.uint8)\n"
    "np.save(d + '/Xu8.npy', Xu)\n"
    "np.save(d + '/ref_u8.npy', xn.forward(shape, L2, (Xu / 255.0).reshape(20, -1))[-1])\n"
    "with h5py.File(d + '/X.h5', 'w') as h:\n"
    "    h['inputs'] = X\n"
    "with h5py.File(d + '/X2.h5', 'w') as h:\n"
    "    h['a/x'] = X\n"
    "    h['y'] = y\n"
    "np.save(d + '/Xhwc.npy', X.transpose(0, 2, 3, 1))\n"
    "np.save(d + '/Xi32.npy', Xu.astype(np.int32))\n"
    "np.save(d + '/y7.npy', np.full(20, 7))\n"
    "np.save(d + '/y10.npy', y[:10])\n"
    "np.save(d + '/yf.npy', y.astype(np.float32))\n";

/* Largest |a - b| of two float arrays written by numpy/xbar, computed by numpy. */
static const char k_py_maxdiff[] =
    "import sys, numpy as np\n"
    "a, b = np.load(sys.argv[1]), np.load(sys.argv[2])\n"
    "assert a.shape == b.shape, (a.shape, b.shape)\n"
    "print('%s %.17g' % (a.dtype, np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))))\n";

static char *g_dir;
static double g_acc_ref; /* numpy's top-1 accuracy of the float network on X, y */

static int setup(void **state)
{
    if (xb_test_group_tmpdir(state)) return -1;
    g_dir = *state;
    char *argv[] = {XB_TEST_PYTHON, "-c", (char *)k_py_fixtures, XB_SOURCE_DIR, g_dir, NULL};
    char *out = NULL, *err = NULL;
    int rc = xb_test_run(argv, &out, &err);
    if (rc) fprintf(stderr, "fixtures: %s\n", err);
    g_acc_ref = out ? atof(out) : -1;
    free(out);
    free(err);
    return rc;
}

static char *in_dir(const char *name) { return xb_test_path(g_dir, name); }

/* numpy's largest |a - b| of two .npy files; *dtype gets a's dtype. */
static double np_maxdiff(const char *a, const char *b, char *dtype, size_t n)
{
    char *pa = in_dir(a), *pb = in_dir(b);
    char *argv[] = {XB_TEST_PYTHON, "-c", (char *)k_py_maxdiff, pa, pb, NULL};
    char *out = xb_test_run_ok(argv);
    double d = -1;
    char dt[32] = "";
    assert_int_equal(sscanf(out, "%31s %lf", dt, &d), 2);
    if (dtype) snprintf(dtype, n, "%s", dt);
    free(out);
    free(pa);
    free(pb);
    return d;
}

/* ------------------------------------------------------------------ the .npy reader and writer */
static xb_array *read_ok(const char *name)
{
    char *p = in_dir(name);
    xb_array *a = NULL;
    xb_error err;
    int rc = xb_npy_read(p, &a, &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, XB_OK);
    free(p);
    return a;
}

static void check_shape(const xb_array *a, char kind, size_t itemsize, size_t ndim, const size_t *shape)
{
    assert_int_equal(a->kind, kind);
    assert_int_equal(a->itemsize, itemsize);
    assert_int_equal(a->ndim, ndim);
    size_t n = 1;
    for (size_t d = 0; d < ndim; d++) {
        assert_int_equal(a->shape[d], shape[d]);
        n *= shape[d];
    }
    assert_int_equal(a->n, n);
}

static void test_npy_reads_numpy(void **state)
{
    /* f[i] = i/4 - 3, k[i] = (7 i mod 13) - 6, u[i] = 11 i mod 256 */
    xb_array *a = read_ok("f32.npy");
    check_shape(a, 'f', 4, 3, (const size_t[]){2, 3, 4});
    for (size_t i = 0; i < 24; i++) assert_true(((float *)a->data)[i] == (float)(i * 0.25 - 3));
    xb_array_free(a);
    const char *floats[] = {"f64.npy", "f32be.npy", "v2.npy"};
    const size_t fshape[3][2] = {{4, 6}, {6, 4}, {4, 6}};
    for (int k = 0; k < 3; k++) {
        a = read_ok(floats[k]);
        check_shape(a, 'f', k == 0 ? 8 : 4, 2, fshape[k]);
        for (size_t i = 0; i < 24; i++)
            assert_true((k == 0 ? ((double *)a->data)[i] : ((float *)a->data)[i]) == i * 0.25 - 3);
        xb_array_free(a);
    }
    a = read_ok("u8.npy");
    check_shape(a, 'u', 1, 4, (const size_t[]){2, 2, 2, 3});
    for (size_t i = 0; i < 24; i++) assert_int_equal(((unsigned char *)a->data)[i], i * 11 % 256);
    xb_array_free(a);
    a = read_ok("i64.npy");
    check_shape(a, 'i', 8, 1, (const size_t[]){24});
    for (size_t i = 0; i < 24; i++) assert_true(((int64_t *)a->data)[i] == (int64_t)(i * 7 % 13) - 6);
    xb_array_free(a);
    a = read_ok("i16be.npy");
    check_shape(a, 'i', 2, 2, (const size_t[]){3, 8});
    for (size_t i = 0; i < 24; i++) assert_true(((int16_t *)a->data)[i] == (int16_t)((int)(i * 7 % 13) - 6));
    xb_array_free(a);
    a = read_ok("b.npy");
    check_shape(a, 'b', 1, 1, (const size_t[]){24});
    for (size_t i = 0; i < 24; i++) assert_int_equal(((unsigned char *)a->data)[i], i % 3 == 0);
    xb_array_free(a);
    a = read_ok("scalar.npy");
    check_shape(a, 'f', 8, 0, NULL);
    assert_true(((double *)a->data)[0] == 2.5);
    xb_array_free(a);
    a = read_ok("empty.npy");
    check_shape(a, 'f', 4, 2, (const size_t[]){0, 3});
    xb_array_free(a);
}

/* A copy of src with its bytes changed: cut to `keep` bytes (0: whole), `extra` appended,
 * byte `at` set to `val` (at < 0: none). */
static char *variant(const char *src, const char *name, long keep, const char *extra, long at, int val)
{
    char *ps = in_dir(src), *pd = in_dir(name);
    FILE *f = fopen(ps, "rb");
    assert_non_null(f);
    unsigned char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (keep > 0 && (size_t)keep < n) n = (size_t)keep;
    if (at >= 0) buf[at] = (unsigned char)val;
    f = fopen(pd, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, n, f), n);
    if (extra) fputs(extra, f);
    fclose(f);
    free(ps);
    return pd;
}

static void expect_npy_error(const char *path, const char *part)
{
    xb_array *a = (xb_array *)1;
    xb_error err;
    assert_int_equal(xb_npy_read(path, &a, &err), XB_EINPUT);
    assert_null(a);
    xb_assert_contains(err.msg, path);
    xb_assert_contains(err.msg, part);
    assert_null(strchr(err.msg, '\n'));
}

static void test_npy_errors(void **state)
{
    char *p = in_dir("fortran.npy");
    expect_npy_error(p, "fortran_order True is not supported");
    free(p);
    p = in_dir("c64.npy");
    expect_npy_error(p, "dtype '<c8' is not supported");
    free(p);
    p = xb_test_write_file(g_dir, "text.npy", "hello, not an array\n");
    expect_npy_error(p, "not a .npy file (bad magic)");
    free(p);
    p = variant("f32.npy", "short.npy", 128 + 40, NULL, -1, 0); /* 10 of 24 floats */
    expect_npy_error(p, "truncated: the header declares 24 elements (96 bytes), the file has 40 bytes");
    free(p);
    p = variant("f32.npy", "long.npy", 0, "xx", -1, 0);
    expect_npy_error(p, "bytes after the 24 elements");
    free(p);
    p = variant("f32.npy", "v9.npy", 0, NULL, 6, 9);
    expect_npy_error(p, ".npy version 9.0 is not supported");
    free(p);
    expect_npy_error("/nonexistent/x.npy", "cannot open");
}

static void test_npy_writer(void **state)
{
    float v[15];
    for (size_t i = 0; i < 15; i++) v[i] = (float)i * 0.5f - 2.0f + (float)i * 1e-7f;
    char *p = in_dir("w.npy");
    xb_error err;
    assert_int_equal(xb_npy_write_f32(p, v, 3, 5, &err), XB_OK);
    /* numpy reads it: dtype, shape and values (as C printed them, exactly) */
    char script[1024];
    snprintf(script, sizeof script,
             "import numpy as np\na = np.load('%s')\nassert a.dtype == np.float32 and a.shape == (3, 5), a\n"
             "v = [%.9g, %.9g, %.9g, %.9g, %.9g, %.9g, %.9g, %.9g, %.9g, %.9g, %.9g, %.9g, %.9g, %.9g, %.9g]\n"
             "assert (a.ravel() == np.array(v, np.float32)).all(), a\nprint('ok')\n",
             p, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14]);
    char *argv[] = {XB_TEST_PYTHON, "-c", script, NULL};
    char *out = xb_test_run_ok(argv);
    assert_string_equal(out, "ok\n");
    free(out);
    /* and the C reader */
    xb_array *a = NULL;
    assert_int_equal(xb_npy_read(p, &a, &err), XB_OK);
    check_shape(a, 'f', 4, 2, (const size_t[]){3, 5});
    assert_memory_equal(a->data, v, sizeof v);
    xb_array_free(a);
    /* an unwritable place: XB_ERUNTIME naming it, nothing left behind */
    char *bad = in_dir("no/such/dir/w.npy");
    assert_int_equal(xb_npy_write_f32(bad, v, 3, 5, &err), XB_ERUNTIME);
    xb_assert_contains(err.msg, bad);
    xb_assert_contains(err.msg, "cannot write");
    free(bad);
    free(p);
}

/* ------------------------------------------------------------------ xbar run --input */
static void test_logits_ideal_equal_numpy(void **state)
{
    char *net = in_dir("cnn.h5"), *x = in_dir("X.npy"), *y = in_dir("y.npy"), *lg = in_dir("L_ideal.npy"),
         *js = in_dir("ideal.json");
    char *a[] = {"xbar", "run", "--network", net, "--engine", "ideal", "--input", x, "--labels", y,
                 "--logits", lg, "--json", js, NULL};
    char *out = xb_test_xbar_ok(a);
    xb_assert_contains(out, "images: 20 from ");
    xb_assert_contains(out, "top-1 accuracy: ");
    free(out);
    char dt[32];
    const double d = np_maxdiff("L_ideal.npy", "ref.npy", dt, sizeof dt);
    print_message("--logits (ideal) vs numpy forward: max |diff| %.3g\n", d);
    assert_string_equal(dt, "float32");
    xb_assert_below(d, 1e-6); /* probabilities in [0, 1]: float32 rounding of the layers */
    assert_true(g_acc_ref >= 0);
    xb_assert_near(xb_test_json_file_number(js, "accuracy"), g_acc_ref, 0, 1e-6);
    xb_assert_near(xb_test_json_file_number(js, "accuracy_ideal"), g_acc_ref, 0, 1e-6);
    free(net);
    free(x);
    free(y);
    free(lg);
    free(js);
}

/* The multi-channel net on 8x8 tiles: with exact products and ideal converters the outputs
 * follow the float network; HDF5 inputs give the same outputs as the .npy. */
static void test_multichannel_tiles(void **state)
{
    char *net = in_dir("cnn.h5"), *x = in_dir("X.npy"), *y = in_dir("y.npy"), *lg = in_dir("L_tiles.npy");
    char *a[] = {"xbar", "run", "--network", net, "--input", x, "--labels", y, "--tile-rows", "8", "--tile-cols", "8",
                 "--dac-bits", "0", "--adc-bits", "0", "--no-calibration", "--logits", lg, NULL};
    char *out = xb_test_xbar_ok(a);
    xb_assert_contains(out, "engine: tiled-ideal");
    xb_assert_contains(out, "  0     conv2d    4x8x8");
    free(out);
    const double d = np_maxdiff("L_tiles.npy", "ref.npy", NULL, 0);
    print_message("--logits (tiled-ideal, ideal converters) vs numpy forward: max |diff| %.3g\n", d);
    xb_assert_below(d, 1e-5);
    /* the same inputs from HDF5: the file's only dataset, or named */
    const char *specs[] = {"X.h5", "X2.h5:/a/x"};
    for (int k = 0; k < 2; k++) {
        char *h = in_dir(specs[k]), *lh = in_dir(k ? "L_h5b.npy" : "L_h5a.npy");
        char *b[] = {"xbar", "run", "--network", net, "--input", h, "--tile-rows", "8", "--tile-cols", "8",
                     "--dac-bits", "0", "--adc-bits", "0", "--no-calibration", "--logits", lh, NULL};
        out = xb_test_xbar_ok(b);
        xb_assert_contains(out, "(no labels)");
        assert_null(strstr(out, "top-1 accuracy"));
        free(out);
        assert_true(np_maxdiff(k ? "L_h5b.npy" : "L_h5a.npy", "L_tiles.npy", NULL, 0) == 0.0);
        free(h);
        free(lh);
    }
    /* default converters and calibration on the input's first images or a file */
    char *js = in_dir("tiles.json");
    char *c[] = {"xbar", "run", "--network", net, "--input", x, "--labels", y, "--tile-rows", "8", "--tile-cols", "8",
                 "--calib", "10", "--json", js, NULL};
    free(xb_test_xbar_ok(c));
    xb_assert_near(xb_test_json_file_number(js, "calibration_images"), 10, 0, 0);
    char *xc = in_dir("X2.h5:/a/x");
    char *e[] = {"xbar", "run", "--network", net, "--input", x, "--calib-input", xc, "--json", js, NULL};
    free(xb_test_xbar_ok(e));
    xb_assert_near(xb_test_json_file_number(js, "calibration_images"), 20, 0, 0);
    char *jt = xb_test_read_file(js);
    xb_assert_contains(jt, "\"accuracy\": null");
    xb_assert_contains(jt, "\"labels\": null");
    free(jt);
    free(xc);
    free(js);
    free(net);
    free(x);
    free(y);
    free(lg);
}

/* uint8 inputs are pixels / 255 */
static void test_uint8_inputs(void **state)
{
    char *net = in_dir("cnn.h5"), *x = in_dir("Xu8.npy"), *lg = in_dir("L_u8.npy");
    char *a[] = {"xbar", "run", "--network", net, "--engine", "ideal", "--input", x, "--logits", lg, NULL};
    free(xb_test_xbar_ok(a));
    xb_assert_below(np_maxdiff("L_u8.npy", "ref_u8.npy", NULL, 0), 1e-6);
    free(net);
    free(x);
    free(lg);
}

static void test_bad_inputs(void **state)
{
    char *net = in_dir("cnn.h5"), *mlp = XB_SOURCE_DIR "/data/fmnist_mlp.h5";
    char *x = in_dir("X.npy"), *hwc = in_dir("Xhwc.npy"), *xi = in_dir("Xi32.npy"), *txt = in_dir("text.npy");
    char *y7 = in_dir("y7.npy"), *y10 = in_dir("y10.npy"), *yf = in_dir("yf.npy"), *x2 = in_dir("X2.h5");
    char *x2bad = in_dir("X2.h5:/nope"), *fort = in_dir("fortran.npy"), *lbad = in_dir("no/dir/L.npy");
    char *y = in_dir("y.npy");
    char *a[] = {"xbar", "run", "--network", net, "--input", hwc, NULL};
    xb_test_xbar_fails(2, a, hwc, "shape (20, 8, 8, 3) does not match the network's input (3, 8, 8)",
                       "expected (N, 3, 8, 8) or (N, 192)");
    char *b[] = {"xbar", "run", "--network", mlp, "--input", x, NULL};
    xb_test_xbar_fails(2, b, x, "shape (20, 3, 8, 8) does not match the network's input (784)");
    char *c[] = {"xbar", "run", "--network", net, "--input", xi, NULL};
    xb_test_xbar_fails(2, c, xi, "dtype int32 is not supported for inputs");
    char *d[] = {"xbar", "run", "--network", net, "--input", txt, NULL};
    xb_test_xbar_fails(2, d, txt, "bad magic");
    char *e[] = {"xbar", "run", "--network", net, "--input", fort, NULL};
    xb_test_xbar_fails(2, e, fort, "fortran_order True");
    char *f[] = {"xbar", "run", "--network", net, "--input", x, "--labels", y7, NULL};
    xb_test_xbar_fails(2, f, y7, "label 7 of sample 0 is not a class of the network (0 to 4)");
    char *g[] = {"xbar", "run", "--network", net, "--input", x, "--labels", y10, NULL};
    xb_test_xbar_fails(2, g, y10, "10 labels for 20 inputs");
    char *h[] = {"xbar", "run", "--network", net, "--input", x, "--labels", yf, NULL};
    xb_test_xbar_fails(2, h, yf, "labels must be integers");
    char *i[] = {"xbar", "run", "--network", net, "--input", x2, NULL};
    xb_test_xbar_fails(2, i, x2, "2 datasets (/a/x, /y): name one as");
    char *j[] = {"xbar", "run", "--network", net, "--input", x2bad, NULL};
    xb_test_xbar_fails(2, j, x2, "no dataset '/nope'");
    char *k[] = {"xbar", "run", "--network", net, "--labels", y, NULL};
    xb_test_xbar_fails(2, k, "--labels: only with --input");
    char *l[] = {"xbar", "run", "--network", net, "--input", "/nonexistent/x.npy", NULL};
    xb_test_xbar_fails(2, l, "/nonexistent/x.npy: cannot open");
    char *m[] = {"xbar", "run", "--network", net, "--input", x, "--time-sweep", NULL};
    xb_test_xbar_fails(2, m, "--time-sweep: needs labels");
    /* a --logits file that cannot be written: exit 1, one line, nothing left */
    char *n[] = {"xbar", "run", "--network", net, "--engine", "ideal", "--input", x, "--logits", lbad, NULL};
    xb_test_xbar_fails(1, n, "--logits: ", lbad, "cannot write");
    free(net);
    free(x);
    free(hwc);
    free(xi);
    free(txt);
    free(y7);
    free(y10);
    free(yf);
    free(x2);
    free(x2bad);
    free(fort);
    free(lbad);
    free(y);
}

/* no temporary files of --logits stay behind */
static void test_no_temporary_files(void **state)
{
    DIR *dir = opendir(g_dir);
    assert_non_null(dir);
    for (struct dirent *e; (e = readdir(dir));)
        if (strstr(e->d_name, ".tmp")) fail_msg("left behind: %s", e->d_name);
    closedir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_npy_reads_numpy),          cmocka_unit_test(test_npy_errors),
        cmocka_unit_test(test_npy_writer),               cmocka_unit_test(test_logits_ideal_equal_numpy),
        cmocka_unit_test(test_multichannel_tiles),       cmocka_unit_test(test_uint8_inputs),
        cmocka_unit_test(test_bad_inputs),               cmocka_unit_test(test_no_temporary_files),
    };
    return cmocka_run_group_tests(tests, setup, xb_test_group_tmpdir_remove);
}
