/* The HDF5 network file (docs/hdf5-network.md): reader with one-line errors naming the
 * file and the layer, and a writer (float32, shuffle + deflate).  All HDF5 access goes
 * through src/h5 (xbar/h5.h). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec_internal.h"
#include "xbar/h5.h"

/* Largest weight tensor accepted: 2^28 values (1 GiB of float32); extents come from the
 * file (found by tests/fuzz).  The same bound holds for the input and every layer's output
 * (a conv padding of 2^40 in a file made `xbar run` fail with "out of memory"). */
#define XB_NET_MAX_VALUES ((size_t)1 << 28)
/* Largest kernel, stride and padding attribute: 2^16 (an image side far beyond any network
 * xbar runs; bounded before any size arithmetic so that nothing wraps around). */
#define XB_NET_MAX_INT_ATTR 65536L

/* ------------------------------------------------------------------ reading */
/* Optional single non-negative int attribute: 0 ok (found or default), -1 missing when
 * required, not one integer, or negative, with the error filled. */
static int layer_int(hid_t g, const char *path, const char *lname, const char *name, long dflt, int required,
                     long *out, xb_error *err)
{
    if (!xb_h5_attr_exists(g, ".", name)) {
        if (required) {
            xb_errorf(err, XB_EINPUT, "%s: %s: missing int attribute '%s'", path, lname, name);
            return -1;
        }
        *out = dflt;
        return 0;
    }
    int64_t v;
    size_t cnt = 0;
    if (xb_h5_attr_get_int64s(g, ".", name, 1, &v, &cnt, NULL) != XB_OK) {
        xb_errorf(err, XB_EINPUT, "%s: %s: attribute '%s' is not a single integer", path, lname, name);
        return -1;
    }
    if (v < 0) {
        xb_errorf(err, XB_EINPUT, "%s: %s: attribute '%s' is %lld, must be >= 0", path, lname, name, (long long)v);
        return -1;
    }
    if (v > XB_NET_MAX_INT_ATTR) {
        xb_errorf(err, XB_EINPUT, "%s: %s: attribute '%s' is %lld, must be <= %ld", path, lname, name, (long long)v,
                  XB_NET_MAX_INT_ATTR);
        return -1;
    }
    *out = (long)v;
    return 0;
}

/* Number of values of a shape, saturating above XB_NET_MAX_VALUES (overflow-safe). */
static size_t shape_values(const hsize_t *dims, int rank)
{
    size_t n = 1;
    for (int k = 0; k < rank; k++)
        n = (dims[k] && n > XB_NET_MAX_VALUES / dims[k]) ? XB_NET_MAX_VALUES + 1 : n * (size_t)dims[k];
    return n;
}

/* A numeric dataset of the given rank read as float; dims filled; *data malloc'ed (NULL
 * when the dataset is absent and not required). */
static int read_float_ds(hid_t g, const char *path, const char *lname, const char *name, int required, int rank,
                         hsize_t *dims, float **data, xb_error *err)
{
    *data = NULL;
    if (!xb_h5_exists(g, name)) {
        if (!required) return XB_OK;
        return xb_errorf(err, XB_EINPUT, "%s: %s: missing dataset '%s'", path, lname, name);
    }
    xb_h5_info info;
    if (xb_h5_dataset_info(g, name, &info, NULL) != XB_OK)
        return xb_errorf(err, XB_EINPUT, "%s: %s: '%s' is not a dataset", path, lname, name);
    if (info.cls != XB_H5_NUMERIC)
        return xb_errorf(err, XB_EINPUT, "%s: %s: dataset '%s' is not numeric", path, lname, name);
    if (info.rank != rank)
        return xb_errorf(err, XB_EINPUT, "%s: %s: dataset '%s' has %d dimensions, expected %d", path, lname, name,
                         info.rank, rank);
    size_t n = shape_values(info.dims, rank);
    if (n == 0 || n > XB_NET_MAX_VALUES)
        return xb_errorf(err, XB_EINPUT, "%s: %s: dataset '%s' has %zu values", path, lname, name, n);
    int r;
    hsize_t d[4];
    int rc = xb_h5_read_floats(g, name, data, &r, d, NULL);
    if (rc == XB_ERUNTIME) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    if (rc) return xb_errorf(err, XB_EINPUT, "%s: %s: cannot read dataset '%s'", path, lname, name);
    /* every weight and bias finite and within the weight limits (common.h): a NaN weight ran
     * a whole network and reported an accuracy */
    char where[400];
    snprintf(where, sizeof where, "%s: %.*s/%s", path, (int)strcspn(lname, " "), lname, name);
    if ((rc = xb_check_floats(XB_QTY_WEIGHT, *data, n, where, err))) {
        free(*data);
        *data = NULL;
        return rc;
    }
    memcpy(dims, info.dims, (size_t)rank * sizeof *dims);
    return XB_OK;
}

/* The output of the layer just added holds at most XB_NET_MAX_VALUES values. */
static int check_output_size(const xb_network *net, const char *path, const char *lname, xb_error *err)
{
    const xb_layer *l = xb_network_layer(net, xb_network_n_layers(net) - 1);
    double n = (double)l->out_c * (double)l->out_h * (double)l->out_w;
    if (n <= (double)XB_NET_MAX_VALUES) return XB_OK;
    return xb_errorf(err, XB_EINPUT, "%s: %s: output %zux%zux%zu has more than 2^28 values", path, lname, l->out_c,
                     l->out_h, l->out_w);
}

/* Append the layer of group g (type already parsed) to net. */
static int add_layer(xb_network *net, hid_t g, xb_layer_kind kind, const char *path, const char *lname,
                     xb_error *err)
{
    hsize_t wd[4] = {0}, bd[1] = {0};
    float *w = NULL, *b = NULL;
    int rc = XB_OK;
    if (kind == XB_LAYER_DENSE || kind == XB_LAYER_CONV2D) {
        int rank = kind == XB_LAYER_DENSE ? 2 : 4;
        rc = read_float_ds(g, path, lname, "weight", 1, rank, wd, &w, err);
        if (!rc) rc = read_float_ds(g, path, lname, "bias", 0, 1, bd, &b, err);
        if (!rc && b && bd[0] != wd[0])
            rc = xb_errorf(err, XB_EINPUT, "%s: %s: bias has %llu values but weight has %llu outputs", path, lname,
                           (unsigned long long)bd[0], (unsigned long long)wd[0]);
    }
    if (kind == XB_LAYER_AFFINE) {
        rc = read_float_ds(g, path, lname, "weight", 1, 1, wd, &w, err);
        if (!rc) rc = read_float_ds(g, path, lname, "bias", 0, 1, bd, &b, err);
        const xb_layer *last = xb_network_n_layers(net) ? xb_network_layer(net, xb_network_n_layers(net) - 1) : NULL;
        const size_t ch = last ? last->out_c : xb_network_input_shape(net)[0];
        if (!rc && (wd[0] != ch || (b && bd[0] != ch)))
            rc = xb_errorf(err, XB_EINPUT, "%s: %s: weight/bias have %llu/%llu values, the input has %zu channels", path,
                           lname, (unsigned long long)wd[0], (unsigned long long)(b ? bd[0] : wd[0]), ch);
    }
    xb_error e2;
    xb_error_clear(&e2);
    long stride = 1, padding = 0, kernel = 0;
    int64_t source = 0;
    size_t cnt = 0;
    if (!rc) switch (kind) {
        case XB_LAYER_DENSE:
            rc = xb_network_add_dense(net, (size_t)wd[0], (size_t)wd[1], w, b, &e2);
            break;
        case XB_LAYER_CONV2D:
            if (layer_int(g, path, lname, "stride", 1, 0, &stride, err) ||
                layer_int(g, path, lname, "padding", 0, 0, &padding, err)) {
                rc = XB_EINPUT;
                break;
            }
            rc = xb_network_add_conv2d(net, (size_t)wd[0], (size_t)wd[1], (size_t)wd[2], (size_t)wd[3],
                                       (size_t)stride, (size_t)padding, w, b, &e2);
            break;
        case XB_LAYER_MAXPOOL2D:
        case XB_LAYER_AVGPOOL2D:
            if (layer_int(g, path, lname, "kernel", 0, 1, &kernel, err) ||
                layer_int(g, path, lname, "stride", kernel, 0, &stride, err)) {
                rc = XB_EINPUT;
                break;
            }
            rc = xb_network_add_pool(net, kind, (size_t)kernel, (size_t)stride, &e2);
            break;
        case XB_LAYER_AFFINE:
            rc = xb_network_add_affine(net, w, b, &e2);
            break;
        case XB_LAYER_ADD:
            if (xb_h5_attr_get_int64s(g, ".", "source", 1, &source, &cnt, NULL) != XB_OK) {
                rc = xb_errorf(err, XB_EINPUT, "%s: %s: missing int attribute 'source' (the layer added; -1: the input)",
                               path, lname);
                break;
            }
            rc = xb_network_add_residual(net, source < -1 || source > LONG_MAX ? -2 : (long)source, &e2);
            break;
        default:
            rc = xb_network_add(net, kind, &e2);
            break;
        }
    if (rc && e2.msg[0]) {
        /* The builder's message starts "layer K (type): ...": restate it with the file. */
        const char *colon = strstr(e2.msg, "): ");
        rc = xb_errorf(err, rc, "%s: %s: %s", path, lname, colon ? colon + 3 : e2.msg);
    }
    if (!rc) rc = check_output_size(net, path, lname, err);
    free(w);
    free(b);
    return rc;
}

static int read_layer(xb_network *net, hid_t layers, size_t k, const char *path, xb_error *err)
{
    char gname[32], lname[160];
    snprintf(gname, sizeof gname, "%zu", k);
    if (!xb_h5_exists(layers, gname))
        return xb_errorf(err, XB_EINPUT, "%s: /layers/%zu: missing (layers must be numbered 0, 1, ...)", path, k);
    hid_t g;
    if (xb_h5_group_open(layers, gname, &g, NULL) != XB_OK)
        return xb_errorf(err, XB_EINPUT, "%s: /layers/%zu: not a group", path, k);
    char *type = NULL;
    xb_layer_kind kind;
    int rc = XB_OK;
    if (xb_h5_attr_get_string(g, ".", "type", &type, NULL) != XB_OK)
        rc = xb_errorf(err, XB_EINPUT, "%s: /layers/%zu: missing string attribute 'type'", path, k);
    else if (xb_layer_kind_from_name(type, &kind))
        rc = xb_errorf(err, XB_EINPUT,
                       "%s: /layers/%zu: unknown layer type '%.63s' (dense, conv2d, maxpool2d, avgpool2d, relu, "
                       "flatten, softmax, affine, add)",
                       path, k, type);
    if (!rc) {
        snprintf(lname, sizeof lname, "/layers/%zu (%.63s)", k, type);
        rc = add_layer(net, g, kind, path, lname, err);
    }
    free(type);
    xb_h5_group_close(g);
    return rc;
}

/* The root attributes: format, version, input_shape (1 or 3 positive integers). */
static int read_header(hid_t f, const char *path, size_t shape[3], size_t *ndim, xb_error *err)
{
    char *fmt = NULL;
    if (xb_h5_attr_get_string(f, ".", "format", &fmt, NULL) != XB_OK)
        return xb_errorf(err, XB_EINPUT, "%s: missing root attribute 'format' (expected \"%s\")", path,
                         XB_NETWORK_FORMAT);
    int rc = strcmp(fmt, XB_NETWORK_FORMAT) == 0
                 ? XB_OK
                 : xb_errorf(err, XB_EINPUT, "%s: format is '%.63s', expected \"%s\"", path, fmt, XB_NETWORK_FORMAT);
    free(fmt);
    if (rc) return rc;
    int64_t ver, shp[4];
    size_t cnt = 0;
    if (xb_h5_attr_get_int64s(f, ".", "version", 1, &ver, &cnt, NULL) != XB_OK)
        return xb_errorf(err, XB_EINPUT, "%s: missing integer root attribute 'version'", path);
    if (ver != XB_NETWORK_FORMAT_VERSION)
        return xb_errorf(err, XB_EINPUT, "%s: version %lld is not supported (this xbar reads version %d)", path,
                         (long long)ver, XB_NETWORK_FORMAT_VERSION);
    if (xb_h5_attr_get_int64s(f, ".", "input_shape", 4, shp, &cnt, NULL) != XB_OK || (cnt != 1 && cnt != 3))
        return xb_errorf(err, XB_EINPUT,
                         "%s: root attribute 'input_shape' must hold 1 (length) or 3 (C,H,W) integers", path);
    double total = 1;
    for (size_t d = 0; d < cnt; d++) {
        if (shp[d] <= 0) return xb_errorf(err, XB_EINPUT, "%s: input_shape[%zu] is %lld", path, d, (long long)shp[d]);
        shape[d] = (size_t)shp[d];
        total *= (double)shp[d];
    }
    if (total > (double)XB_NET_MAX_VALUES)
        return xb_errorf(err, XB_EINPUT, "%s: root attribute 'input_shape' has more than 2^28 values", path);
    *ndim = cnt;
    return XB_OK;
}

static int read_network(hid_t f, const char *path, xb_network **out, xb_error *err)
{
    size_t shape[3], ndim = 0;
    int rc = read_header(f, path, shape, &ndim, err);
    if (rc) return rc;
    if ((rc = xb_network_new(shape, ndim, out, err))) return xb_error_prefix(err, "%s: ", path), rc;
    hid_t layers;
    if (!xb_h5_exists(f, "layers") || xb_h5_group_open(f, "layers", &layers, NULL) != XB_OK)
        return xb_errorf(err, XB_EINPUT, "%s: missing group /layers", path);
    char **names = NULL;
    size_t n = 0;
    if (xb_h5_list(f, "layers", &names, &n, NULL) != XB_OK) rc = xb_errorf(err, XB_EINPUT, "%s: cannot list /layers", path);
    else if (n == 0) rc = xb_errorf(err, XB_EINPUT, "%s: /layers is empty", path);
    xb_h5_free_names(names, n);
    for (size_t k = 0; !rc && k < n; k++) rc = read_layer(*out, layers, k, path, err);
    xb_h5_group_close(layers);
    return rc;
}

int xb_network_read(const char *path, xb_network **out, xb_error *err)
{
    if (!out) return xb_errorf(err, XB_EINPUT, "xb_network_read: no output");
    *out = NULL;
    if (!path) return xb_errorf(err, XB_EINPUT, "xb_network_read: no path");
    hid_t f;
    int rc = xb_h5_open(path, 0, &f, err);
    if (rc) return rc;
    xb_network *net = NULL;
    rc = read_network(f, path, &net, err);
    xb_h5_close(f, NULL);
    if (rc) xb_network_free(net);
    else *out = net;
    return rc;
}

/* ------------------------------------------------------------------ writing */
static int write_layer(hid_t layers, size_t k, const xb_layer *l, xb_error *err)
{
    char gname[32];
    snprintf(gname, sizeof gname, "%zu", k);
    hid_t g;
    int rc = xb_h5_group_create(layers, gname, &g, err);
    if (rc) return rc;
    rc = xb_h5_attr_set_string(g, ".", "type", xb_layer_kind_name(l->kind), err);
    if (!rc && l->kind == XB_LAYER_DENSE) {
        hsize_t dims[2] = {l->n_out, l->n_in};
        rc = xb_h5_write_floats(g, "weight", 2, dims, l->weight, NULL, err);
    } else if (!rc && l->kind == XB_LAYER_CONV2D) {
        hsize_t dims[4] = {l->out_c, l->in_c, l->kh, l->kw};
        rc = xb_h5_write_floats(g, "weight", 4, dims, l->weight, NULL, err);
        if (!rc) rc = xb_h5_attr_set_int64(g, ".", "stride", (int64_t)l->stride, err);
        if (!rc) rc = xb_h5_attr_set_int64(g, ".", "padding", (int64_t)l->padding, err);
    } else if (!rc && l->kind == XB_LAYER_AFFINE) {
        hsize_t dims[1] = {l->n_out};
        rc = xb_h5_write_floats(g, "weight", 1, dims, l->weight, NULL, err);
    } else if (!rc && l->kind == XB_LAYER_ADD) {
        rc = xb_h5_attr_set_int64(g, ".", "source", (int64_t)l->source, err);
    } else if (!rc && (l->kind == XB_LAYER_MAXPOOL2D || l->kind == XB_LAYER_AVGPOOL2D)) {
        rc = xb_h5_attr_set_int64(g, ".", "kernel", (int64_t)l->kh, err);
        if (!rc) rc = xb_h5_attr_set_int64(g, ".", "stride", (int64_t)l->stride, err);
    }
    if (!rc && l->bias) {
        hsize_t dims[1] = {l->n_out};
        rc = xb_h5_write_floats(g, "bias", 1, dims, l->bias, NULL, err);
    }
    xb_h5_group_close(g);
    return rc;
}

int xb_network_write(const xb_network *net, const char *path, xb_error *err)
{
    if (!net || !path) return xb_errorf(err, XB_EINPUT, "xb_network_write: no network or path");
    hid_t f;
    /* in memory until xb_h5_close writes it in one piece: never a half-written network file */
    if (xb_h5_create_atomic(path, 1, &f, NULL) != XB_OK) return xb_errorf(err, XB_ERUNTIME, "%s: cannot create", path);
    int64_t shp[3];
    const size_t nd = xb_network_input_ndim(net);
    for (size_t d = 0; d < nd; d++) shp[d] = (int64_t)xb_network_input_shape(net)[d];
    int rc = xb_h5_attr_set_string(f, ".", "format", XB_NETWORK_FORMAT, err);
    if (!rc) rc = xb_h5_attr_set_int64(f, ".", "version", XB_NETWORK_FORMAT_VERSION, err);
    if (!rc) rc = xb_h5_attr_set_int64s(f, ".", "input_shape", nd, shp, err);
    hid_t layers = -1;
    if (!rc) rc = xb_h5_group_create(f, "layers", &layers, err);
    for (size_t k = 0; !rc && k < xb_network_n_layers(net); k++)
        rc = write_layer(layers, k, xb_network_layer(net, k), err);
    xb_h5_group_close(layers);
    if (rc) {
        xb_h5_discard(f);
        return rc;
    }
    return xb_h5_close(f, err);
}
