/* Network files and datasets.
 *  - C writer -> C reader round trip;
 *  - tools/xbar_network.py (numpy + h5py) writes a CNN and its own float64 numpy forward
 *    pass: the C reader + forward pass must agree (1e-5); Python reads a C-written file;
 *  - malformed files (unknown type, shape mismatch, missing dataset, wrong format or
 *    version, missing layer, affine/add parameters) give one-line errors naming the file and
 *    the layer; affine and add layers read, written and read back;
 *  - IDX reader on small gzip and plain files written here, and its errors;
 *  - `xbar run` end to end on a tiny dataset written here (text + JSON), and its errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "support/xb_test.h"
#include "xbar/exec.h"
#include "xbar/fit.h"

static char *g_dir;

static char *path_in(const char *name) { return xb_test_path(g_dir, name); }

static float frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(*s >> 11) * 0x1.0p-53 * 2.0 - 1.0);
}

/* ---------------------------------------------------------------- C round trip */
static void test_roundtrip(void **state)
{
    uint64_t s = 7;
    size_t shape[3] = {1, 8, 8};
    xb_network *net = NULL, *back = NULL;
    xb_error err;
    float w1[4 * 1 * 3 * 3], b1[4], w2[5 * 36];
    for (size_t i = 0; i < sizeof w1 / sizeof *w1; i++) w1[i] = frand(&s);
    for (size_t i = 0; i < 4; i++) b1[i] = frand(&s);
    for (size_t i = 0; i < sizeof w2 / sizeof *w2; i++) w2[i] = frand(&s);
    assert_int_equal(xb_network_new(shape, 3, &net, &err), XB_OK);
    assert_int_equal(xb_network_add_conv2d(net, 4, 1, 3, 3, 2, 1, w1, b1, &err), XB_OK); /* 4x4x4 */
    assert_int_equal(xb_network_add_pool(net, XB_LAYER_AVGPOOL2D, 2, 1, &err), XB_OK);    /* 4x3x3 */
    assert_int_equal(xb_network_add(net, XB_LAYER_FLATTEN, &err), XB_OK);
    assert_int_equal(xb_network_add_dense(net, 5, 36, w2, NULL, &err), XB_OK);
    char *p = path_in("rt.h5");
    assert_int_equal(xb_network_write(net, p, &err), XB_OK);
    assert_int_equal(xb_network_read(p, &back, &err), XB_OK);
    assert_int_equal(xb_network_n_layers(back), 4);
    assert_int_equal(xb_network_input_ndim(back), 3);
    const xb_layer *c = xb_network_layer(back, 0), *d = xb_network_layer(back, 3), *pl = xb_network_layer(back, 1);
    assert_int_equal(c->kind, XB_LAYER_CONV2D);
    assert_int_equal(c->stride, 2);
    assert_int_equal(c->padding, 1);
    assert_int_equal(c->out_h, 4);
    assert_memory_equal(c->weight, w1, sizeof w1);
    assert_memory_equal(c->bias, b1, sizeof b1);
    assert_int_equal(pl->kh, 2);
    assert_int_equal(pl->stride, 1);
    assert_int_equal(d->kind, XB_LAYER_DENSE);
    assert_null(d->bias);
    assert_memory_equal(d->weight, w2, sizeof w2);
    xb_network_free(net);
    xb_network_free(back);
    free(p);
}

/* ---------------------------------------------------------------- Python writer + numpy reference */
static const char k_py_write[] =
    "import sys, numpy as np\n"
    "sys.path.insert(0, sys.argv[1] + '/tools')\n"
    "import xbar_network as xn\n"
    "rng = np.random.default_rng(3)\n"
    "L = [xn.conv2d(rng.uniform(-1, 1, (3, 2, 3, 3)), rng.uniform(-1, 1, 3), stride=1, padding=1),\n"
    "     xn.relu(), xn.maxpool2d(2),\n"
    "     xn.conv2d(rng.uniform(-1, 1, (4, 3, 2, 2)), None, stride=2, padding=0),\n"
    "     xn.avgpool2d(2, 1), xn.flatten(),\n"
    "     xn.dense(rng.uniform(-1, 1, (6, 4)), rng.uniform(-1, 1, 6)), xn.softmax()]\n"
    "xn.write(sys.argv[2] + '/py.h5', (2, 8, 8), L)\n"
    "shape, L2 = xn.read(sys.argv[2] + '/py.h5')\n"
    "x = rng.uniform(0, 1, (5, 128))\n"
    "outs = xn.forward(shape, L2, x)\n"
    "np.savetxt(sys.argv[2] + '/py_x.csv', x.astype(np.float32), delimiter=',', fmt='%.9g')\n"
    "np.savetxt(sys.argv[2] + '/py_y.csv', outs[-2].reshape(5, -1), delimiter=',', fmt='%.17g')\n"
    "np.savetxt(sys.argv[2] + '/py_c1.csv', outs[0].reshape(5, -1), delimiter=',', fmt='%.17g')\n";

static void test_python_writer(void **state)
{
    char *argv[] = {XB_TEST_PYTHON, "-c", (char *)k_py_write, XB_SOURCE_DIR, g_dir, NULL};
    free(xb_test_run_ok(argv));
    char *p = path_in("py.h5"), *px = path_in("py_x.csv"), *py = path_in("py_y.csv"), *pc = path_in("py_c1.csv");
    xb_network *net = NULL;
    xb_error err;
    assert_int_equal(xb_network_read(p, &net, &err), XB_OK);
    assert_int_equal(xb_network_n_layers(net), 8);
    xb_matrix *X = NULL, *Y = NULL, *C1 = NULL;
    assert_int_equal(xb_csv_read_matrix(px, &X, &err), XB_OK);
    assert_int_equal(xb_csv_read_matrix(py, &Y, &err), XB_OK);
    assert_int_equal(xb_csv_read_matrix(pc, &C1, &err), XB_OK);
    assert_int_equal(X->cols, 128);
    assert_int_equal(Y->cols, 6);
    float *x = malloc(5 * 128 * sizeof(float));
    for (size_t i = 0; i < 5 * 128; i++) x[i] = (float)X->data[i];
    float **acts = xb_network_acts_new(net, 5);
    assert_int_equal(xb_network_forward(net, x, 5, acts, &err), XB_OK);
    for (size_t i = 0; i < 5 * 6; i++) xb_assert_near(acts[6][i], Y->data[i], 1e-5, 1e-5);
    assert_int_equal(C1->cols, 3 * 64);
    for (size_t i = 0; i < 5 * 192; i++) xb_assert_near(acts[0][i], C1->data[i], 1e-5, 1e-5);
    xb_network_acts_free(acts, 8);
    free(x);
    xb_matrix_free(X);
    xb_matrix_free(Y);
    xb_matrix_free(C1);
    xb_network_free(net);
    free(p);
    free(px);
    free(py);
    free(pc);
}

/* Python's reader on a C-written file. */
static void test_python_reads_c(void **state)
{
    float w[3 * 4] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, b[3] = {0.5f, -1, 2};
    size_t shape[1] = {4};
    xb_network *net = NULL;
    xb_error err;
    assert_int_equal(xb_network_new(shape, 1, &net, &err), XB_OK);
    assert_int_equal(xb_network_add_dense(net, 3, 4, w, b, &err), XB_OK);
    assert_int_equal(xb_network_add(net, XB_LAYER_RELU, &err), XB_OK);
    char *p = path_in("c.h5");
    assert_int_equal(xb_network_write(net, p, &err), XB_OK);
    static const char py[] =
        "import sys, numpy as np\n"
        "sys.path.insert(0, sys.argv[1] + '/tools')\n"
        "import xbar_network as xn\n"
        "shape, L = xn.read(sys.argv[2])\n"
        "y = xn.forward(shape, L, np.array([[1.0, -1.0, 0.5, 2.0]]))[-1]\n"
        "print(shape, [l['type'] for l in L], ' '.join('%g' % v for v in y.ravel()))\n";
    char *argv[] = {XB_TEST_PYTHON, "-c", (char *)py, XB_SOURCE_DIR, p, NULL};
    char *out = xb_test_run_ok(argv);
    /* W x + b = [1-2+1.5+8+0.5, 5-6+3.5+16-1, 9-10+5.5+24+2] = [9, 17.5, 30.5] */
    xb_assert_contains(out, "(4,) ['dense', 'relu'] 9 17.5 30.5");
    free(out);
    free(p);
    xb_network_free(net);
}

/* ---------------------------------------------------------------- malformed files */
static void attr_str(hid_t o, const char *name, const char *v)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(v));
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(o, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, v);
    H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
}

static void attr_ints(hid_t o, const char *name, const long *v, size_t n)
{
    hsize_t d[1] = {n};
    hid_t s = n == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, d, NULL);
    hid_t a = H5Acreate2(o, name, H5T_NATIVE_LONG, s, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_LONG, v);
    H5Aclose(a);
    H5Sclose(s);
}

static void dset(hid_t g, const char *name, size_t r, size_t c)
{
    hsize_t d[2] = {r, c};
    hid_t s = H5Screate_simple(c ? 2 : 1, d, NULL);
    hid_t ds = H5Dcreate2(g, name, H5T_NATIVE_FLOAT, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    float *z = calloc(r * (c ? c : 1), sizeof(float));
    H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, z);
    free(z);
    H5Dclose(ds);
    H5Sclose(s);
}

/* Layer spec: "dense:OUTxIN", "dense-noweight", "affine:N" (N scales), "add:SOURCE", a bare
 * type name. */
static char *make_file(const char *name, const char *format, long version, const char *const *layers, size_t n)
{
    char *p = path_in(name);
    hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    attr_str(f, "format", format);
    attr_ints(f, "version", &version, 1);
    long shp[1] = {16};
    attr_ints(f, "input_shape", shp, 1);
    hid_t lg = H5Gcreate2(f, "layers", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    for (size_t k = 0; k < n; k++) {
        char gname[32];
        snprintf(gname, sizeof gname, "%zu", k);
        if (!layers[k]) continue; /* a gap in the numbering */
        hid_t g = H5Gcreate2(lg, gname, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        unsigned o = 0, i = 0;
        long src = 0;
        if (sscanf(layers[k], "affine:%u", &o) == 1) {
            attr_str(g, "type", "affine");
            dset(g, "weight", o, 0);
        } else if (sscanf(layers[k], "add:%ld", &src) == 1) {
            attr_str(g, "type", "add");
            attr_ints(g, "source", &src, 1);
        } else if (sscanf(layers[k], "dense:%ux%u", &o, &i) == 2) {
            attr_str(g, "type", "dense");
            dset(g, "weight", o, i);
        } else if (strcmp(layers[k], "dense-noweight") == 0) {
            attr_str(g, "type", "dense");
            dset(g, "bias", 4, 0);
        } else {
            attr_str(g, "type", layers[k]);
        }
        H5Gclose(g);
    }
    H5Gclose(lg);
    H5Fclose(f);
    return p;
}

static void expect_read_error(const char *p, const char *needle1, const char *needle2)
{
    xb_network *net = (xb_network *)1;
    xb_error err;
    xb_error_clear(&err);
    assert_int_equal(xb_network_read(p, &net, &err), XB_EINPUT);
    assert_null(net);
    xb_assert_contains(err.msg, needle1);
    if (needle2) xb_assert_contains(err.msg, needle2);
    xb_assert_contains(err.msg, p); /* names the file */
    assert_null(strchr(err.msg, '\n'));
}

static void test_malformed(void **state)
{
    const char *ok[] = {"dense:4x16", "relu", "dense:2x4", "softmax"};
    char *p = make_file("ok.h5", "xbar-network", 1, ok, 4);
    xb_network *net = NULL;
    xb_error err;
    assert_int_equal(xb_network_read(p, &net, &err), XB_OK);
    assert_int_equal(xb_network_n_layers(net), 4);
    xb_network_free(net);
    free(p);

    const char *unk[] = {"dense:4x16", "batchnorm"};
    p = make_file("unknown.h5", "xbar-network", 1, unk, 2);
    expect_read_error(p, "/layers/1", "unknown layer type 'batchnorm'");
    free(p);

    const char *mis[] = {"dense:4x16", "relu", "dense:3x5"};
    p = make_file("mismatch.h5", "xbar-network", 1, mis, 3);
    expect_read_error(p, "/layers/2 (dense)", "weight is 3x5 but the input has 4 values");
    free(p);

    const char *first[] = {"dense:4x15"};
    p = make_file("first.h5", "xbar-network", 1, first, 1);
    expect_read_error(p, "/layers/0 (dense)", "input has 16 values");
    free(p);

    const char *miss[] = {"dense:4x16", "dense-noweight"};
    p = make_file("missing.h5", "xbar-network", 1, miss, 2);
    expect_read_error(p, "/layers/1 (dense)", "missing dataset 'weight'");
    free(p);

    const char *gap[] = {"dense:4x16", NULL, "relu"};
    p = make_file("gap.h5", "xbar-network", 1, gap, 3);
    expect_read_error(p, "/layers/1", "missing");
    free(p);

    p = make_file("format.h5", "xbar-results", 1, ok, 4);
    expect_read_error(p, "format is 'xbar-results'", "xbar-network");
    free(p);

    p = make_file("version.h5", "xbar-network", 2, ok, 4);
    expect_read_error(p, "version 2", NULL);
    free(p);

    /* affine and add: a file that reads, written back by the C writer and read again */
    const char *res[] = {"dense:4x16", "affine:4", "relu", "add:0", "add:3"};
    p = make_file("residual.h5", "xbar-network", 1, res, 5);
    assert_int_equal(xb_network_read(p, &net, &err), XB_OK);
    free(p);
    p = path_in("residual2.h5");
    xb_network *back = NULL;
    assert_int_equal(xb_network_write(net, p, &err), XB_OK);
    assert_int_equal(xb_network_read(p, &back, &err), XB_OK);
    assert_int_equal(xb_network_n_layers(back), 5);
    assert_int_equal(xb_network_layer(back, 1)->kind, XB_LAYER_AFFINE);
    assert_int_equal(xb_network_layer(back, 1)->n_out, 4);
    assert_int_equal(xb_network_layer(back, 3)->kind, XB_LAYER_ADD);
    assert_int_equal(xb_network_layer(back, 3)->source, 0);
    assert_int_equal(xb_network_layer(back, 4)->source, 3);
    xb_network_free(net);
    xb_network_free(back);
    free(p);
    const char *aff[] = {"dense:4x16", "affine:3"};
    p = make_file("affine.h5", "xbar-network", 1, aff, 2);
    expect_read_error(p, "/layers/1 (affine)", "weight/bias have 3/3 values, the input has 4 channels");
    free(p);
    const char *nosrc[] = {"dense:4x16", "add"};
    p = make_file("nosrc.h5", "xbar-network", 1, nosrc, 2);
    expect_read_error(p, "/layers/1 (add)", "missing int attribute 'source'");
    free(p);
    const char *later[] = {"dense:4x16", "add:5"};
    p = make_file("later.h5", "xbar-network", 1, later, 2);
    expect_read_error(p, "/layers/1 (add)", "source 5 is not an earlier layer");
    free(p);
    const char *shp[] = {"dense:4x16", "add:-1"};
    p = make_file("addshape.h5", "xbar-network", 1, shp, 2);
    expect_read_error(p, "/layers/1 (add)", "source -1 gives 16x1x1, the input is 4x1x1");
    free(p);

    const char *pool[] = {"maxpool2d"};
    p = make_file("pool.h5", "xbar-network", 1, pool, 1);
    expect_read_error(p, "/layers/0 (maxpool2d)", "'kernel'");
    free(p);

    p = path_in("not_h5.h5");
    FILE *f = fopen(p, "w");
    fputs("hello\n", f);
    fclose(f);
    expect_read_error(p, "not an HDF5 file", NULL);
    free(p);
    expect_read_error("/nonexistent/net.h5", "cannot open", NULL);
}

/* ---------------------------------------------------------------- IDX reader */
static void put_be32(unsigned char *b, uint32_t v)
{
    b[0] = (unsigned char)(v >> 24);
    b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8);
    b[3] = (unsigned char)v;
}

/* n images of r x c with pixel (s,i) = (s*31 + i*7) % 256, labels s % 10. */
static void write_idx(const char *dir, const char *prefix, size_t n, size_t r, size_t c, int gz, int truncate)
{
    char ip[1024], lp[1024];
    snprintf(ip, sizeof ip, "%s/%s-images-idx3-ubyte%s", dir, prefix, gz ? ".gz" : "");
    snprintf(lp, sizeof lp, "%s/%s-labels-idx1-ubyte%s", dir, prefix, gz ? ".gz" : "");
    size_t isz = 16 + n * r * c, lsz = 8 + n;
    unsigned char *ib = malloc(isz), *lb = malloc(lsz);
    put_be32(ib, 0x803);
    put_be32(ib + 4, (uint32_t)n);
    put_be32(ib + 8, (uint32_t)r);
    put_be32(ib + 12, (uint32_t)c);
    for (size_t s = 0; s < n; s++)
        for (size_t i = 0; i < r * c; i++) ib[16 + s * r * c + i] = (unsigned char)((s * 31 + i * 7) % 256);
    put_be32(lb, 0x801);
    put_be32(lb + 4, (uint32_t)n);
    for (size_t s = 0; s < n; s++) lb[8 + s] = (unsigned char)(s % 10);
    if (truncate) isz -= 5;
    gzFile f = gzopen(ip, gz ? "wb" : "wbT");
    gzwrite(f, ib, (unsigned)isz);
    gzclose(f);
    f = gzopen(lp, gz ? "wb" : "wbT");
    gzwrite(f, lb, (unsigned)lsz);
    gzclose(f);
    free(ib);
    free(lb);
}

static void test_idx(void **state)
{
    char *d = path_in("idx");
    assert_int_equal(mkdir(d, 0777), 0);
    write_idx(d, "train", 12, 3, 5, 1, 0);
    write_idx(d, "t10k", 7, 3, 5, 0, 0);
    xb_dataset *ds = NULL;
    xb_error err;
    assert_int_equal(xb_dataset_load_fmnist(d, 1, 0, &ds, &err), XB_OK);
    assert_int_equal(ds->n, 12);
    assert_int_equal(ds->rows, 3);
    assert_int_equal(ds->cols, 5);
    for (size_t s = 0; s < 12; s++) {
        assert_int_equal(ds->labels[s], s % 10);
        for (size_t i = 0; i < 15; i++) assert_true(ds->images[s * 15 + i] == (float)((s * 31 + i * 7) % 256) / 255.0f);
    }
    xb_dataset_free(ds);
    assert_int_equal(xb_dataset_load_fmnist(d, 0, 4, &ds, &err), XB_OK); /* plain files, limit */
    assert_int_equal(ds->n, 4);
    assert_true(ds->images[3 * 15 + 2] == (float)((3 * 31 + 14) % 256) / 255.0f);
    xb_dataset_free(ds);

    /* errors name the file */
    char ip[1024], lp[1024];
    snprintf(lp, sizeof lp, "%s/t10k-labels-idx1-ubyte", d);
    snprintf(ip, sizeof ip, "%s/train-images-idx3-ubyte.gz", d);
    assert_int_equal(xb_dataset_read_idx(lp, lp, 0, &ds, &err), XB_EINPUT); /* labels as images */
    xb_assert_contains(err.msg, lp);
    xb_assert_contains(err.msg, "1 dimensions, expected 3");
    assert_int_equal(xb_dataset_read_idx(ip, lp, 0, &ds, &err), XB_EINPUT); /* 12 images, 7 labels */
    xb_assert_contains(err.msg, "7 labels");
    write_idx(d, "trunc", 6, 3, 5, 1, 1);
    snprintf(ip, sizeof ip, "%s/trunc-images-idx3-ubyte.gz", d);
    snprintf(lp, sizeof lp, "%s/trunc-labels-idx1-ubyte.gz", d);
    assert_int_equal(xb_dataset_read_idx(ip, lp, 0, &ds, &err), XB_EINPUT);
    xb_assert_contains(err.msg, ip);
    xb_assert_contains(err.msg, "truncated at image 5");
    assert_int_equal(xb_dataset_read_idx(ip, lp, 5, &ds, &err), XB_OK); /* the first 5 are whole */
    xb_dataset_free(ds);
    char *bad = path_in("idx/bad.gz");
    gzFile f = gzopen(bad, "wb");
    gzwrite(f, "\x12\x34\x08\x03", 4);
    gzclose(f);
    assert_int_equal(xb_dataset_read_idx(bad, lp, 0, &ds, &err), XB_EINPUT);
    xb_assert_contains(err.msg, "bad.gz: not an IDX file");
    assert_int_equal(xb_dataset_load_fmnist("/nonexistent", 0, 0, &ds, &err), XB_EINPUT);
    xb_assert_contains(err.msg, "/nonexistent/t10k-images-idx3-ubyte.gz");
    free(bad);
    free(d);
}

/* ---------------------------------------------------------------- xbar run, end to end */
/* --engine model with a model file for the 8x8 tiles (the fit stage's nominal parameters of
 * the default linear-device array: wires 1 ohm, driver 100 ohm): fast form == full model. */
static void cli_run_model(char *np, char *d)
{
    xb_array_params tp;
    xb_array_params_default(&tp, XB_DEVICE_LINEAR);
    tp.rows = tp.cols = 8;
    tp.diff_pairs = 1;
    xb_fit_params fm;
    xb_fit_params_nominal(&fm, &tp);
    char *mp = path_in("model.h5");
    xb_fit_provenance prov = {"none", "test", "", "ngspice-39", "0"};
    hid_t mf;
    xb_error err;
    assert_int_equal(xb_fit_file_create(mp, 1, &prov, &mf, &err), XB_OK);
    assert_int_equal(xb_fit_file_add_model(mf, 0, &fm, NULL, NULL, &err), XB_OK);
    assert_int_equal(xb_h5_close(mf, &err), XB_OK);
    char *am[] = {"xbar", "run", "--network", np, "--dataset", d, "--engine", "model", "--model", mp,
                  "--tile-rows", "8", "--tile-cols", "8", "--calib", "30", NULL};
    char *out = xb_test_xbar_ok(am);
    xb_assert_contains(out, "engine: model");
    xb_assert_contains(out, "top-1 accuracy: ideal");
    /* ohmic model: one basis term, the fast form equals the full model */
    xb_assert_contains(out, "model: fast form, 1 basis term(s)");
    const char *acc_fast = strstr(out, "top-1 accuracy: ideal");
    char line_fast[160];
    snprintf(line_fast, sizeof line_fast, "%.*s", (int)strcspn(acc_fast, "\n"), acc_fast);
    free(out);
    char *ax[] = {"xbar", "run", "--network", np, "--dataset", d, "--engine", "model", "--model", mp,
                  "--tile-rows", "8", "--tile-cols", "8", "--calib", "30", "--model-exact", NULL};
    out = xb_test_xbar_ok(ax);
    xb_assert_contains(out, "model: full model per input vector");
    xb_assert_contains(out, line_fast); /* same accuracies */
    free(out);
    /* tiles of another circuit than the file's one model (no family): one warning line naming
     * the model and the difference, as xbar mvm prints; the fitted circuit prints none */
    char *aw[] = {"xbar", "run", "--network", np, "--dataset", d, "--engine", "model", "--model", mp,
                  "--tile-rows", "8", "--tile-cols", "8", "--calib", "30", "--r-wire", "2.5", NULL};
    char *so = NULL, *se = NULL;
    assert_int_equal(xb_test_run_xbar(aw, &so, &se), 0);
    xb_assert_contains(se, "xbar run: warning: ");
    xb_assert_contains(se, "8x8: no model fitted for this circuit and no size family: model 000 (fitted for "
                           "r_wire_row 1, here 2.5), extrapolation");
    free(so);
    free(se);
    assert_int_equal(xb_test_run_xbar(am, &so, &se), 0);
    assert_null(strstr(se, "xbar run: "));
    free(so);
    free(se);
    char *bx[] = {"xbar", "run", "--network", np, "--dataset", d, "--model-exact", NULL};
    xb_test_xbar_fails(2, bx, "--model-exact: only with --engine model");
    char *bm[] = {"xbar", "run", "--network", np, "--dataset", d, "--engine", "model", NULL};
    xb_test_xbar_fails(2, bm, "--model");
    free(mp);
}

/* spice (fused calibration) and native tiles on the same images agree. */
static void cli_run_spice_native(char *np, char *d, char *jp)
{
    double accs[2];
    const char *engs[2] = {"native", "spice"};
    for (int e = 0; e < 2; e++) {
        char *as[] = {"xbar", "run", "--network", np, "--dataset", d, "--engine", (char *)engs[e], "--limit", "20",
                      "--tile-rows", "8", "--tile-cols", "8", "--calib", "10", "--device", "rram", "--json", jp, NULL};
        free(xb_test_xbar_ok(as));
        char *jb = xb_test_read_file(jp);
        assert_non_null(jb);
        accs[e] = xb_test_json_number(jb, "accuracy");
        free(jb);
    }
    xb_assert_near(accs[0], accs[1], 0, 1e-9);
    char *ns[] = {"xbar", "run", "--network", np, "--dataset", d, "--engine", "spice", NULL};
    xb_test_xbar_fails(2, ns, "--limit");
}

static void test_cli_run(void **state)
{
    /* 4x4 images (16 inputs), 10 classes: a dense 16->12, relu, dense 12->10, softmax. */
    char *d = path_in("runds");
    assert_int_equal(mkdir(d, 0777), 0);
    write_idx(d, "train", 30, 4, 4, 1, 0);
    write_idx(d, "t10k", 20, 4, 4, 1, 0);
    uint64_t s = 11;
    float w1[12 * 16], b1[12], w2[10 * 12];
    for (size_t i = 0; i < 192; i++) w1[i] = frand(&s);
    for (size_t i = 0; i < 12; i++) b1[i] = frand(&s);
    for (size_t i = 0; i < 120; i++) w2[i] = frand(&s);
    size_t shape[3] = {1, 4, 4};
    xb_network *net = NULL;
    xb_error err;
    assert_int_equal(xb_network_new(shape, 3, &net, &err), XB_OK);
    assert_int_equal(xb_network_add(net, XB_LAYER_FLATTEN, &err), XB_OK);
    assert_int_equal(xb_network_add_dense(net, 12, 16, w1, b1, &err), XB_OK);
    assert_int_equal(xb_network_add(net, XB_LAYER_RELU, &err), XB_OK);
    assert_int_equal(xb_network_add_dense(net, 10, 12, w2, NULL, &err), XB_OK);
    assert_int_equal(xb_network_add(net, XB_LAYER_SOFTMAX, &err), XB_OK);
    char *np = path_in("run.h5"), *jp = path_in("run.json");
    assert_int_equal(xb_network_write(net, np, &err), XB_OK);

    char *a[] = {"xbar", "run", "--network", np, "--dataset", d, "--engine", "tiled-ideal", "--tile-rows", "8",
                 "--tile-cols", "8", "--calib", "30", "--batch", "7", "--json", jp, NULL};
    char *out = xb_test_xbar_ok(a);
    xb_assert_contains(out, "top-1 accuracy: ideal");
    xb_assert_contains(out, "images: 20 ");
    xb_assert_contains(out, "energy per inference");
    xb_assert_contains(out, "TOPS/W");
    free(out);
    /* the ideal accuracy in the JSON equals the C forward pass on the same images */
    xb_dataset *ds = NULL;
    assert_int_equal(xb_dataset_load_fmnist(d, 0, 0, &ds, &err), XB_OK);
    double acc = xb_test_net_accuracy(net, ds);
    char *buf = xb_test_read_file(jp);
    assert_non_null(buf);
    xb_assert_near(xb_test_json_number(buf, "accuracy_ideal"), acc, 0, 1e-9);
    xb_assert_contains(buf, "\"rel_l2_vs_ideal\"");
    xb_assert_contains(buf, "\"tops_per_watt\"");
    free(buf);
    /* the JSON parses */
    char *pa[] = {XB_TEST_PYTHON, "-c", "import json,sys; d=json.load(open(sys.argv[1])); print(len(d['layers']))", jp, NULL};
    out = xb_test_run_ok(pa);
    assert_string_equal(out, "5\n");
    free(out);

    cli_run_model(np, d);
    cli_run_spice_native(np, d, jp);

    /* usage and input errors: one line, exit 2 */
    char *b1a[] = {"xbar", "run", "--network", np, "--dataset", d, "--tile-cols", "7", NULL};
    xb_test_xbar_fails(2, b1a, "--tile-cols");
    char *b2[] = {"xbar", "run", "--network", "/nonexistent.h5", NULL};
    xb_test_xbar_fails(2, b2, "xbar run: /nonexistent.h5");
    char *b3[] = {"xbar", "run", "--network", np, "--engine", "quantum", NULL};
    xb_test_xbar_fails(2, b3, "--engine");

    xb_dataset_free(ds);
    xb_network_free(net);
    free(np);
    free(jp);
    free(d);
}

int main(void)
{
    g_dir = xb_test_tmpdir("network");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_python_writer),
        cmocka_unit_test(test_python_reads_c),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_idx),
        cmocka_unit_test(test_cli_run),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    xb_test_tmpdir_remove(g_dir);
    return rc;
}
