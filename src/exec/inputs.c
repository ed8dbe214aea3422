/* Arrays from files (a .npy file or an HDF5 dataset) and network inputs made of them
 * (xb_dataset_read_array; docs/executor.md, "Inputs"). */
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "xbar/exec.h"
#include "xbar/h5.h"

/* ------------------------------------------------------------------ HDF5 datasets */
typedef struct {
    char **names;
    size_t n, cap;
} dset_list;

static herr_t visit_dataset(hid_t obj, const char *name, const H5O_info_t *info, void *user)
{
    (void)obj;
    dset_list *l = user;
    if (info->type != H5O_TYPE_DATASET || !strcmp(name, ".")) return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        char **p = realloc(l->names, cap * sizeof *p);
        if (!p) return -1;
        l->names = p;
        l->cap = cap;
    }
    return (l->names[l->n++] = strdup(name)) ? 0 : -1;
}

/* The file's only dataset (its path into buf), or an error listing what is there. */
static int only_dataset(hid_t f, const char *path, char *buf, size_t n, xb_error *err)
{
    dset_list l = {0};
    int rc = H5Ovisit2(f, H5_INDEX_NAME, H5_ITER_INC, visit_dataset, &l, H5O_INFO_BASIC) < 0
                 ? xb_errorf(err, XB_EINPUT, "%s: cannot list the datasets", path)
                 : XB_OK;
    if (!rc && l.n == 0) rc = xb_errorf(err, XB_EINPUT, "%s: no dataset in the file", path);
    if (!rc && l.n > 1) {
        char list[256] = "";
        for (size_t k = 0, m = 0; k < l.n && m < sizeof list; k++)
            m += (size_t)snprintf(list + m, sizeof list - m, "%s/%s", k ? ", " : "", l.names[k]);
        rc = xb_errorf(err, XB_EINPUT, "%s: %zu datasets (%s): name one as %s:/DATASET", path, l.n, list, path);
    }
    if (!rc) snprintf(buf, n, "/%s", l.names[0]);
    for (size_t k = 0; k < l.n; k++) free(l.names[k]);
    free(l.names);
    return rc;
}

/* The native type to read a dataset of type t as, with the array's kind and item size. */
static hid_t native_type(hid_t t, xb_array *a)
{
    const H5T_class_t c = H5Tget_class(t);
    const size_t size = H5Tget_size(t);
    if (c == H5T_FLOAT && (size == 4 || size == 8)) {
        a->kind = 'f';
        a->itemsize = size;
        return size == 4 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE;
    }
    if (c != H5T_INTEGER || (size != 1 && size != 2 && size != 4 && size != 8)) return H5I_INVALID_HID;
    const int sgn = H5Tget_sign(t) == H5T_SGN_2;
    a->kind = sgn ? 'i' : 'u';
    a->itemsize = size;
    switch (size) {
    case 1: return sgn ? H5T_NATIVE_INT8 : H5T_NATIVE_UINT8;
    case 2: return sgn ? H5T_NATIVE_INT16 : H5T_NATIVE_UINT16;
    case 4: return sgn ? H5T_NATIVE_INT32 : H5T_NATIVE_UINT32;
    default: return sgn ? H5T_NATIVE_INT64 : H5T_NATIVE_UINT64;
    }
}

/* Read dataset ds (named name) of file path into a. */
static int read_dataset(hid_t ds, const char *path, const char *name, xb_array *a, xb_error *err)
{
    hid_t t = H5Dget_type(ds), sp = H5Dget_space(ds);
    int rc = XB_OK;
    const int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    const hid_t mt = t >= 0 ? native_type(t, a) : H5I_INVALID_HID;
    if (mt == H5I_INVALID_HID)
        rc = xb_errorf(err, XB_EINPUT, "%s:%s: dtype is not supported (integers, float32, float64)", path, name);
    else if (rank < 0 || rank > XB_ARRAY_MAX_DIMS)
        rc = xb_errorf(err, XB_EINPUT, "%s:%s: not a simple dataset of at most %d dimensions", path, name,
                       XB_ARRAY_MAX_DIMS);
    if (!rc) {
        hsize_t dims[XB_ARRAY_MAX_DIMS];
        H5Sget_simple_extent_dims(sp, dims, NULL);
        a->ndim = (size_t)rank;
        a->n = 1;
        for (int d = 0; d < rank; d++) {
            a->shape[d] = (size_t)dims[d];
            if (dims[d] && a->n > SIZE_MAX / a->itemsize / dims[d]) rc = xb_errorf(err, XB_EINPUT, "%s:%s: too large", path, name);
            a->n *= (size_t)dims[d];
        }
    }
    if (!rc && !(a->data = malloc(a->n * a->itemsize + 1))) rc = xb_errorf(err, XB_ERUNTIME, "out of memory (%s)", path);
    if (!rc && a->n && H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, a->data) < 0)
        rc = xb_errorf(err, XB_EINPUT, "%s:%s: cannot read", path, name);
    if (t >= 0) H5Tclose(t);
    if (sp >= 0) H5Sclose(sp);
    return rc;
}

static int h5_read(const char *path, const char *dataset, xb_array **out, xb_error *err)
{
    hid_t f;
    int rc = xb_h5_open(path, 0, &f, err);
    if (rc) return rc;
    char name[1024];
    if (dataset) snprintf(name, sizeof name, "%s", dataset);
    else rc = only_dataset(f, path, name, sizeof name, err);
    xb_array *a = rc ? NULL : calloc(1, sizeof *a);
    if (!rc && !a) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    if (!rc && (!xb_h5_exists(f, name[0] == '/' ? name + 1 : name) || H5Oexists_by_name(f, name, H5P_DEFAULT) <= 0))
        rc = xb_errorf(err, XB_EINPUT, "%s: no dataset '%s'", path, name);
    hid_t ds = rc ? H5I_INVALID_HID : H5Dopen2(f, name, H5P_DEFAULT);
    if (!rc && ds < 0) rc = xb_errorf(err, XB_EINPUT, "%s: '%s' is not a dataset", path, name);
    if (!rc) rc = read_dataset(ds, path, name, a, err);
    if (ds >= 0) H5Dclose(ds);
    xb_error e2;
    xb_h5_close(f, &e2);
    if (rc) {
        xb_array_free(a);
        return rc;
    }
    *out = a;
    return XB_OK;
}

/* ------------------------------------------------------------------ either format */
static int is_npy(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char m[6] = {0};
    int yes = f && fread(m, 1, 6, f) == 6 && !memcmp(m, "\x93NUMPY", 6);
    if (f) fclose(f);
    return yes;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

int xb_array_read(const char *spec, xb_array **out, xb_error *err)
{
    *out = NULL;
    if (!spec || !*spec) return xb_errorf(err, XB_EINPUT, "no array file given");
    /* FILE:/DATASET when FILE (without the suffix) is a file */
    char path[4096];
    const char *dataset = NULL, *colon = strrchr(spec, ':');
    struct stat sb;
    snprintf(path, sizeof path, "%s", spec);
    if (colon && colon[1] == '/' && (size_t)(colon - spec) < sizeof path && stat(spec, &sb) != 0) {
        path[colon - spec] = '\0';
        dataset = colon + 1;
    }
    if (stat(path, &sb) != 0) return xb_errorf(err, XB_EINPUT, "%s: cannot open: no such file", path);
    if (is_npy(path)) {
        if (dataset) return xb_errorf(err, XB_EINPUT, "%s: a .npy file has no datasets (':%s')", path, dataset);
        return xb_npy_read(path, out, err);
    }
    if (xb_h5_is_hdf5(path)) return h5_read(path, dataset, out, err);
    if (ends_with(path, ".npy")) return xb_npy_read(path, out, err); /* its error: bad magic */
    return xb_errorf(err, XB_EINPUT, "%s: neither a .npy nor an HDF5 file", path);
}

/* ------------------------------------------------------------------ network inputs */
/* "a, b, c" */
static void dims_str(const size_t *shape, size_t ndim, char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = '\0';
    for (size_t d = 0; d < ndim && k < n; d++) k += (size_t)snprintf(buf + k, n - k, "%s%zu", d ? ", " : "", shape[d]);
}

/* Does the array (N, ...) hold inputs of the network's shape? */
static int input_shape_ok(const xb_array *a, const size_t *shape, size_t ndim, size_t in_size)
{
    if (a->ndim < 2) return 0;
    size_t trail = 1;
    for (size_t d = 1; d < a->ndim; d++) trail *= a->shape[d];
    if (a->ndim == 2 && a->shape[1] == in_size) return 1;        /* flat vectors */
    if (ndim == 1) return trail == in_size;                      /* a vector input: flattened */
    if (a->ndim != ndim + 1) return 0;
    for (size_t d = 0; d < ndim; d++)
        if (a->shape[d + 1] != shape[d]) return 0;
    return 1;
}

/* The first n samples of a as floats (uint8 / 255). */
static int inputs_to_float(const xb_array *a, const char *spec, size_t n, size_t in_size, float *x, xb_error *err)
{
    const size_t m = n * in_size;
    if (a->kind == 'f' && a->itemsize == 4) memcpy(x, a->data, m * sizeof(float));
    else if (a->kind == 'f') for (size_t i = 0; i < m; i++) x[i] = (float)((const double *)a->data)[i];
    else if (a->kind == 'u' && a->itemsize == 1)
        for (size_t i = 0; i < m; i++) x[i] = (float)((const unsigned char *)a->data)[i] / 255.0f;
    else
        return xb_errorf(err, XB_EINPUT, "%s: dtype %s%zu is not supported for inputs (float32, float64, uint8)", spec,
                         a->kind == 'i' ? "int" : a->kind == 'u' ? "uint" : "bool", 8 * a->itemsize);
    for (size_t i = 0; i < m; i++)
        if (x[i] != x[i] || x[i] - x[i] != 0)
            return xb_errorf(err, XB_EINPUT, "%s: value %zu of sample %zu is not finite", spec, i % in_size, i / in_size);
    return XB_OK;
}

/* Label k of an integer array, as a signed value (unsigned 64-bit above INT64_MAX: -1). */
static int64_t label_at(const xb_array *a, size_t k)
{
    const unsigned char *p = (const unsigned char *)a->data + k * a->itemsize;
    if (a->kind == 'u' || a->kind == 'b') {
        uint64_t v = 0;
        if (a->itemsize == 1) v = *p;
        else if (a->itemsize == 2) { uint16_t t; memcpy(&t, p, 2); v = t; }
        else if (a->itemsize == 4) { uint32_t t; memcpy(&t, p, 4); v = t; }
        else memcpy(&v, p, 8);
        return v > (uint64_t)INT64_MAX ? -1 : (int64_t)v;
    }
    if (a->itemsize == 1) return (int8_t)*p;
    if (a->itemsize == 2) { int16_t t; memcpy(&t, p, 2); return t; }
    if (a->itemsize == 4) { int32_t t; memcpy(&t, p, 4); return t; }
    int64_t t;
    memcpy(&t, p, 8);
    return t;
}

static int read_labels(const char *spec, size_t n_x, size_t n, size_t n_classes, unsigned char *labels, xb_error *err)
{
    xb_array *l = NULL;
    int rc = xb_array_read(spec, &l, err);
    if (rc) return rc;
    if (l->kind != 'i' && l->kind != 'u')
        rc = xb_errorf(err, XB_EINPUT, "%s: labels must be integers (the dtype is %s)", spec,
                       l->kind == 'f' ? "floating point" : "bool");
    else if (!(l->ndim == 1 || (l->ndim == 2 && l->shape[1] == 1)))
        rc = xb_errorf(err, XB_EINPUT, "%s: labels must have shape (N,) or (N, 1)", spec);
    else if (l->shape[0] != n_x)
        rc = xb_errorf(err, XB_EINPUT, "%s: %zu labels for %zu inputs", spec, l->shape[0], n_x);
    for (size_t k = 0; !rc && k < n; k++) {
        const int64_t v = label_at(l, k);
        if (v < 0 || v > 255 || (n_classes && (uint64_t)v >= n_classes))
            rc = xb_errorf(err, XB_EINPUT, "%s: label %lld of sample %zu is not a class of the network (0 to %zu)", spec,
                           (long long)v, k, (n_classes && n_classes < 256 ? n_classes : 256) - 1);
        else labels[k] = (unsigned char)v;
    }
    xb_array_free(l);
    return rc;
}

int xb_dataset_read_array(const char *x_spec, const char *labels_spec, const size_t *input_shape, size_t ndim,
                          size_t n_classes, size_t limit, xb_dataset **out, xb_error *err)
{
    *out = NULL;
    if (!input_shape || ndim < 1 || ndim > 3) return xb_errorf(err, XB_EINPUT, "inputs: bad network input shape");
    size_t in_size = 1;
    for (size_t d = 0; d < ndim; d++) in_size *= input_shape[d];
    xb_array *a = NULL;
    int rc = xb_array_read(x_spec, &a, err);
    if (rc) return rc;
    if (!input_shape_ok(a, input_shape, ndim, in_size)) {
        char got[160], want[80];
        dims_str(a->shape, a->ndim, got, sizeof got);
        dims_str(input_shape, ndim, want, sizeof want);
        if (ndim == 1)
            rc = xb_errorf(err, XB_EINPUT,
                           "%s: shape (%s) does not match the network's input (%s): expected (N, %zu) or (N, ...) "
                           "with %zu values per sample", x_spec, got, want, in_size, in_size);
        else
            rc = xb_errorf(err, XB_EINPUT,
                           "%s: shape (%s) does not match the network's input (%s): expected (N, %s) or (N, %zu)",
                           x_spec, got, want, want, in_size);
    }
    const size_t n = rc ? 0 : (limit && limit < a->shape[0] ? limit : a->shape[0]);
    if (!rc && n == 0) rc = xb_errorf(err, XB_EINPUT, "%s: no samples", x_spec);
    xb_dataset *d = rc ? NULL : calloc(1, sizeof *d);
    if (!rc && (!d || !(d->images = malloc(n * in_size * sizeof(float))) ||
                (labels_spec && !(d->labels = malloc(n)))))
        rc = xb_errorf(err, XB_ERUNTIME, "out of memory (%s)", x_spec);
    if (!rc) {
        d->n = n;
        d->rows = 1;
        d->cols = in_size;
        rc = inputs_to_float(a, x_spec, n, in_size, d->images, err);
    }
    if (!rc && labels_spec) rc = read_labels(labels_spec, a->shape[0], n, n_classes, d->labels, err);
    xb_array_free(a);
    if (rc) {
        xb_dataset_free(d);
        return rc;
    }
    *out = d;
    return XB_OK;
}
