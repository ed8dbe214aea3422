/* The HDF5 network file (docs/hdf5-network.md): reader with one-line errors
 * naming the file and the layer, and a writer (float32, shuffle + deflate). */
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec_internal.h"

/* HDF5 prints its error stack by default; only the CLI prints, so silence it
 * for the duration of one call and restore the previous handler after. */
typedef struct {
    H5E_auto2_t func;
    void *data;
} h5_quiet;

static void quiet_on(h5_quiet *q)
{
    H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}
static void quiet_off(const h5_quiet *q) { H5Eset_auto2(H5E_DEFAULT, q->func, q->data); }

/* ------------------------------------------------------------------ reading */
/* A string attribute (fixed or variable length) into buf. */
static int read_str_attr(hid_t obj, const char *name, char *buf, size_t n)
{
    int rc = -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return -1;
    /* Exactly one string (an array attribute overflowed buf; found by tests/fuzz). */
    hid_t sp = H5Aget_space(a);
    hssize_t npts = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    if (sp >= 0) H5Sclose(sp);
    hid_t t = H5Aget_type(a);
    if (t >= 0 && npts == 1 && H5Tget_class(t) == H5T_STRING) {
        if (H5Tis_variable_str(t) > 0) {
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(t));
            char *s = NULL;
            if (H5Aread(a, mt, &s) >= 0 && s) {
                snprintf(buf, n, "%s", s);
                H5free_memory(s);
                rc = 0;
            }
            H5Tclose(mt);
        } else {
            size_t sz = H5Tget_size(t);
            char *s = calloc(sz + 1, 1);
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, sz + 1);
            H5Tset_strpad(mt, H5T_STR_NULLTERM);
            if (s && H5Aread(a, mt, s) >= 0) {
                snprintf(buf, n, "%s", s);
                rc = 0;
            }
            H5Tclose(mt);
            free(s);
        }
    }
    if (t >= 0) H5Tclose(t);
    H5Aclose(a);
    return rc;
}

/* An integer attribute holding up to max values; *count gets the number. */
static int read_int_attr(hid_t obj, const char *name, long *vals, size_t max, size_t *count)
{
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return -1;
    int rc = -1;
    hid_t t = H5Aget_type(a), s = H5Aget_space(a);
    if (t >= 0 && s >= 0 && H5Tget_class(t) == H5T_INTEGER) {
        hssize_t np = H5Sget_simple_extent_npoints(s);
        if (np >= 1 && (size_t)np <= max && H5Aread(a, H5T_NATIVE_LONG, vals) >= 0) {
            *count = (size_t)np;
            rc = 0;
        }
    }
    if (s >= 0) H5Sclose(s);
    if (t >= 0) H5Tclose(t);
    H5Aclose(a);
    return rc;
}

/* Optional single int attribute: 0 ok (found or default), -1 present but bad, and
 * the error filled. */
static int layer_int(hid_t g, const char *path, const char *lname, const char *name, long dflt,
                     int required, long *out, xb_error *err)
{
    if (H5Aexists(g, name) <= 0) {
        if (required) {
            xb_errorf(err, XB_EINPUT, "%s: %s: missing int attribute '%s'", path, lname, name);
            return -1;
        }
        *out = dflt;
        return 0;
    }
    size_t cnt = 0;
    long v[1];
    if (read_int_attr(g, name, v, 1, &cnt) || cnt != 1) {
        xb_errorf(err, XB_EINPUT, "%s: %s: attribute '%s' is not a single integer", path, lname, name);
        return -1;
    }
    if (v[0] < 0) {
        xb_errorf(err, XB_EINPUT, "%s: %s: attribute '%s' is %ld, must be >= 0", path, lname, name, v[0]);
        return -1;
    }
    *out = v[0];
    return 0;
}

/* A float dataset of the given rank; dims filled; data malloc'ed. */
static int read_float_ds(hid_t g, const char *path, const char *lname, const char *name, int required,
                         int rank, hsize_t *dims, float **data, xb_error *err)
{
    *data = NULL;
    if (H5Lexists(g, name, H5P_DEFAULT) <= 0) {
        if (!required) return XB_OK;
        return xb_errorf(err, XB_EINPUT, "%s: %s: missing dataset '%s'", path, lname, name);
    }
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    if (d < 0) return xb_errorf(err, XB_EINPUT, "%s: %s: '%s' is not a dataset", path, lname, name);
    int rc = XB_OK;
    hid_t s = H5Dget_space(d), t = H5Dget_type(d);
    int r = s >= 0 ? H5Sget_simple_extent_ndims(s) : -1;
    if (t < 0 || (H5Tget_class(t) != H5T_FLOAT && H5Tget_class(t) != H5T_INTEGER)) {
        rc = xb_errorf(err, XB_EINPUT, "%s: %s: dataset '%s' is not numeric", path, lname, name);
    } else if (r != rank) {
        rc = xb_errorf(err, XB_EINPUT, "%s: %s: dataset '%s' has %d dimensions, expected %d", path, lname, name,
                       r, rank);
    } else {
        H5Sget_simple_extent_dims(s, dims, NULL);
        size_t n = 1; /* overflow-safe: extents come from the file (found by tests/fuzz) */
        for (int k = 0; k < rank; k++)
            n = (dims[k] && n > ((size_t)1 << 28) / dims[k]) ? ((size_t)1 << 28) + 1 : n * (size_t)dims[k];
        if (n == 0 || n > ((size_t)1 << 28)) {
            rc = xb_errorf(err, XB_EINPUT, "%s: %s: dataset '%s' has %zu values", path, lname, name, n);
        } else if (!(*data = malloc(n * sizeof(float)))) {
            rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
        } else if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, *data) < 0) {
            rc = xb_errorf(err, XB_EINPUT, "%s: %s: cannot read dataset '%s'", path, lname, name);
        }
    }
    if (rc) {
        free(*data);
        *data = NULL;
    }
    if (t >= 0) H5Tclose(t);
    if (s >= 0) H5Sclose(s);
    H5Dclose(d);
    return rc;
}

static int read_layer(xb_network *net, hid_t layers, size_t k, const char *path, xb_error *err)
{
    char gname[32], lname[128], type[64];
    snprintf(gname, sizeof gname, "%zu", k);
    if (H5Lexists(layers, gname, H5P_DEFAULT) <= 0)
        return xb_errorf(err, XB_EINPUT, "%s: /layers/%zu: missing (layers must be numbered 0, 1, ...)", path, k);
    hid_t g = H5Gopen2(layers, gname, H5P_DEFAULT);
    if (g < 0) return xb_errorf(err, XB_EINPUT, "%s: /layers/%zu: not a group", path, k);
    int rc = XB_OK;
    float *w = NULL, *b = NULL;
    if (read_str_attr(g, "type", type, sizeof type)) {
        rc = xb_errorf(err, XB_EINPUT, "%s: /layers/%zu: missing string attribute 'type'", path, k);
        goto done;
    }
    xb_layer_kind kind;
    if (xb_layer_kind_from_name(type, &kind)) {
        rc = xb_errorf(err, XB_EINPUT,
                       "%s: /layers/%zu: unknown layer type '%s' (dense, conv2d, maxpool2d, avgpool2d, relu, "
                       "flatten, softmax)",
                       path, k, type);
        goto done;
    }
    snprintf(lname, sizeof lname, "/layers/%zu (%s)", k, type);
    hsize_t wd[4] = {0}, bd[1] = {0};
    if (kind == XB_LAYER_DENSE || kind == XB_LAYER_CONV2D) {
        int rank = kind == XB_LAYER_DENSE ? 2 : 4;
        if ((rc = read_float_ds(g, path, lname, "weight", 1, rank, wd, &w, err))) goto done;
        if ((rc = read_float_ds(g, path, lname, "bias", 0, 1, bd, &b, err))) goto done;
        if (b && bd[0] != wd[0]) {
            rc = xb_errorf(err, XB_EINPUT, "%s: %s: bias has %llu values but weight has %llu outputs", path, lname,
                           (unsigned long long)bd[0], (unsigned long long)wd[0]);
            goto done;
        }
    }
    xb_error e2;
    xb_error_clear(&e2);
    long stride = 1, padding = 0, kernel = 0;
    switch (kind) {
    case XB_LAYER_DENSE:
        rc = xb_network_add_dense(net, (size_t)wd[0], (size_t)wd[1], w, b, &e2);
        break;
    case XB_LAYER_CONV2D:
        if (layer_int(g, path, lname, "stride", 1, 0, &stride, err) ||
            layer_int(g, path, lname, "padding", 0, 0, &padding, err)) {
            rc = XB_EINPUT;
            goto done;
        }
        rc = xb_network_add_conv2d(net, (size_t)wd[0], (size_t)wd[1], (size_t)wd[2], (size_t)wd[3],
                                   (size_t)stride, (size_t)padding, w, b, &e2);
        break;
    case XB_LAYER_MAXPOOL2D:
    case XB_LAYER_AVGPOOL2D:
        if (layer_int(g, path, lname, "kernel", 0, 1, &kernel, err) ||
            layer_int(g, path, lname, "stride", kernel, 0, &stride, err)) {
            rc = XB_EINPUT;
            goto done;
        }
        rc = xb_network_add_pool(net, kind, (size_t)kernel, (size_t)stride, &e2);
        break;
    default:
        rc = xb_network_add(net, kind, &e2);
        break;
    }
    if (rc) {
        /* The builder's message starts "layer K (type): ...": restate it with the file. */
        const char *colon = strstr(e2.msg, "): ");
        rc = xb_errorf(err, rc, "%s: %s: %s", path, lname, colon ? colon + 3 : e2.msg);
    }
done:
    free(w);
    free(b);
    H5Gclose(g);
    return rc;
}

int xb_network_read(const char *path, xb_network **out, xb_error *err)
{
    *out = NULL;
    h5_quiet q;
    quiet_on(&q);
    int rc = XB_OK;
    xb_network *net = NULL;
    hid_t f = -1, layers = -1;
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0) {
        FILE *fp = fopen(path, "rb");
        if (!fp) rc = xb_errorf(err, XB_EINPUT, "%s: cannot open", path);
        else {
            fclose(fp);
            rc = xb_errorf(err, XB_EINPUT, "%s: not an HDF5 file", path);
        }
        goto out;
    }
    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        rc = xb_errorf(err, XB_EINPUT, "%s: cannot open as HDF5", path);
        goto out;
    }
    char fmt[64];
    if (read_str_attr(f, "format", fmt, sizeof fmt)) {
        rc = xb_errorf(err, XB_EINPUT, "%s: missing root attribute 'format' (expected \"xbar-network\")", path);
        goto out;
    }
    if (strcmp(fmt, "xbar-network") != 0) {
        rc = xb_errorf(err, XB_EINPUT, "%s: format is '%s', expected \"xbar-network\"", path, fmt);
        goto out;
    }
    long ver[1];
    size_t cnt = 0;
    if (read_int_attr(f, "version", ver, 1, &cnt) || cnt != 1) {
        rc = xb_errorf(err, XB_EINPUT, "%s: missing integer root attribute 'version'", path);
        goto out;
    }
    if (ver[0] != 1) {
        rc = xb_errorf(err, XB_EINPUT, "%s: version %ld is not supported (this xbar reads version 1)", path, ver[0]);
        goto out;
    }
    long shp[4];
    if (read_int_attr(f, "input_shape", shp, 4, &cnt) || (cnt != 1 && cnt != 3)) {
        rc = xb_errorf(err, XB_EINPUT, "%s: root attribute 'input_shape' must hold 1 (length) or 3 (C,H,W) integers",
                       path);
        goto out;
    }
    size_t shape[3];
    for (size_t d = 0; d < cnt; d++) {
        if (shp[d] <= 0) {
            rc = xb_errorf(err, XB_EINPUT, "%s: input_shape[%zu] is %ld", path, d, shp[d]);
            goto out;
        }
        shape[d] = (size_t)shp[d];
    }
    if ((rc = xb_network_new(shape, cnt, &net, err))) {
        xb_error_prefix(err, "%s: ", path);
        goto out;
    }
    if (H5Lexists(f, "layers", H5P_DEFAULT) <= 0 || (layers = H5Gopen2(f, "layers", H5P_DEFAULT)) < 0) {
        rc = xb_errorf(err, XB_EINPUT, "%s: missing group /layers", path);
        goto out;
    }
    H5G_info_t info;
    if (H5Gget_info(layers, &info) < 0) {
        rc = xb_errorf(err, XB_EINPUT, "%s: cannot list /layers", path);
        goto out;
    }
    if (info.nlinks == 0) {
        rc = xb_errorf(err, XB_EINPUT, "%s: /layers is empty", path);
        goto out;
    }
    for (size_t k = 0; k < (size_t)info.nlinks; k++)
        if ((rc = read_layer(net, layers, k, path, err))) goto out;
out:
    if (layers >= 0) H5Gclose(layers);
    if (f >= 0) H5Fclose(f);
    quiet_off(&q);
    if (rc) xb_network_free(net);
    else *out = net;
    return rc;
}

/* ------------------------------------------------------------------ writing */
static int write_str_attr(hid_t obj, const char *name, const char *val)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(val));
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a < 0 || H5Awrite(a, t, val) < 0) ? -1 : 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
    return rc;
}

static int write_int_attr(hid_t obj, const char *name, const long *vals, size_t n, int scalar)
{
    hsize_t dims[1] = {n};
    hid_t s = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, dims, NULL);
    hid_t a = H5Acreate2(obj, name, H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a < 0 || H5Awrite(a, H5T_NATIVE_LONG, vals) < 0) ? -1 : 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    return rc;
}

static int write_float_ds(hid_t g, const char *name, const float *data, int rank, const hsize_t *dims)
{
    hid_t s = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, rank, dims);
    H5Pset_shuffle(dcpl);
    H5Pset_deflate(dcpl, 6);
    hid_t d = H5Dcreate2(g, name, H5T_IEEE_F32LE, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    int rc = (d < 0 || H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) ? -1 : 0;
    if (d >= 0) H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(s);
    return rc;
}

int xb_network_write(const xb_network *net, const char *path, xb_error *err)
{
    h5_quiet q;
    quiet_on(&q);
    int rc = XB_OK, bad = 0;
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) {
        quiet_off(&q);
        return xb_errorf(err, XB_ERUNTIME, "%s: cannot create", path);
    }
    long shp[3];
    size_t nd = xb_network_input_ndim(net);
    for (size_t d = 0; d < nd; d++) shp[d] = (long)xb_network_input_shape(net)[d];
    long one = 1;
    bad |= write_str_attr(f, "format", "xbar-network");
    bad |= write_int_attr(f, "version", &one, 1, 1);
    bad |= write_int_attr(f, "input_shape", shp, nd, 0);
    hid_t layers = H5Gcreate2(f, "layers", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    bad |= layers < 0;
    for (size_t k = 0; !bad && k < xb_network_n_layers(net); k++) {
        const xb_layer *l = xb_network_layer(net, k);
        char gname[32];
        snprintf(gname, sizeof gname, "%zu", k);
        hid_t g = H5Gcreate2(layers, gname, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (g < 0) {
            bad = 1;
            break;
        }
        bad |= write_str_attr(g, "type", xb_layer_kind_name(l->kind));
        if (l->kind == XB_LAYER_DENSE) {
            hsize_t dims[2] = {l->n_out, l->n_in};
            bad |= write_float_ds(g, "weight", l->weight, 2, dims);
        } else if (l->kind == XB_LAYER_CONV2D) {
            hsize_t dims[4] = {l->out_c, l->in_c, l->kh, l->kw};
            bad |= write_float_ds(g, "weight", l->weight, 4, dims);
            long st = (long)l->stride, pd = (long)l->padding;
            bad |= write_int_attr(g, "stride", &st, 1, 1);
            bad |= write_int_attr(g, "padding", &pd, 1, 1);
        } else if (l->kind == XB_LAYER_MAXPOOL2D || l->kind == XB_LAYER_AVGPOOL2D) {
            long kr = (long)l->kh, st = (long)l->stride;
            bad |= write_int_attr(g, "kernel", &kr, 1, 1);
            bad |= write_int_attr(g, "stride", &st, 1, 1);
        }
        if (l->bias) {
            hsize_t dims[1] = {l->n_out};
            bad |= write_float_ds(g, "bias", l->bias, 1, dims);
        }
        H5Gclose(g);
    }
    if (layers >= 0) H5Gclose(layers);
    if (H5Fclose(f) < 0) bad = 1;
    quiet_off(&q);
    if (bad) rc = xb_errorf(err, XB_ERUNTIME, "%s: HDF5 write failed", path);
    return rc;
}
