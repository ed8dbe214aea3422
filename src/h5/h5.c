/* HDF5 helpers: files, groups, datasets with units, strings, extendible tables, attributes. */
#include "xbar/h5.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Silence HDF5's own error printing: only the CLI prints (docs/architecture.md). */
static void quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* "file.h5:/group/name" for messages. */
static const char *where(hid_t loc, const char *name, char *buf, size_t n)
{
    char f[512] = "?", o[512] = "";
    if (H5Fget_name(loc, f, sizeof f) < 0) snprintf(f, sizeof f, "?");
    if (H5Iget_name(loc, o, sizeof o) < 0) o[0] = '\0';
    if (!name || strcmp(name, ".") == 0) snprintf(buf, n, "%s:%s", f, o[0] ? o : "/");
    else snprintf(buf, n, "%s:%s%s%s", f, o, (o[0] && strcmp(o, "/") != 0) ? "/" : "", name);
    return buf;
}

#define WHERE(loc, name) where((loc), (name), wbuf, sizeof wbuf)

/* Largest dataset xb_h5_read_doubles accepts (2^26 doubles = 512 MiB). */
#define XB_H5_MAX_VALUES ((hsize_t)1 << 26)

int xb_h5_is_hdf5(const char *path)
{
    quiet();
    if (access(path, F_OK) != 0) return 0;
    return H5Fis_hdf5(path) > 0;
}

int xb_h5_create(const char *path, int overwrite, hid_t *out, xb_error *err)
{
    quiet();
    if (!overwrite && access(path, F_OK) == 0)
        return xb_errorf(err, XB_EINPUT, "%s: exists (not overwritten)", path);
    hid_t f = H5Fcreate(path, overwrite ? H5F_ACC_TRUNC : H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return xb_errorf(err, XB_ERUNTIME, "%s: cannot create HDF5 file", path);
    *out = f;
    return XB_OK;
}

int xb_h5_open(const char *path, int writable, hid_t *out, xb_error *err)
{
    quiet();
    if (access(path, F_OK) != 0) return xb_errorf(err, XB_EINPUT, "%s: no such file", path);
    if (H5Fis_hdf5(path) <= 0) return xb_errorf(err, XB_EINPUT, "%s: not an HDF5 file", path);
    hid_t f = H5Fopen(path, writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return xb_errorf(err, XB_EINPUT, "%s: cannot open HDF5 file%s (damaged, or open in another process)",
                         path, writable ? " for writing" : "");
    *out = f;
    return XB_OK;
}

int xb_h5_flush(hid_t file, xb_error *err)
{
    if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0) {
        char wbuf[1200];
        return xb_errorf(err, XB_ERUNTIME, "%s: flush failed", WHERE(file, NULL));
    }
    return XB_OK;
}

int xb_h5_close(hid_t file, xb_error *err)
{
    if (file < 0) return XB_OK;
    if (H5Fclose(file) < 0) return xb_errorf(err, XB_ERUNTIME, "closing HDF5 file failed");
    return XB_OK;
}

/* ------------------------------------------------------------------ groups */
int xb_h5_exists(hid_t loc, const char *path)
{
    if (!path || !*path) return 0;
    if (strcmp(path, ".") == 0 || strcmp(path, "/") == 0) return 1;
    size_t n = strlen(path);
    char *p = malloc(n + 1);
    if (!p) return 0;
    memcpy(p, path, n + 1);
    int ok = 1;
    /* H5Lexists needs every intermediate link to exist: check prefix by prefix. */
    for (size_t i = (p[0] == '/') ? 1 : 0; i <= n && ok; i++) {
        if (p[i] == '/' || p[i] == '\0') {
            char c = p[i];
            p[i] = '\0';
            if (H5Lexists(loc, p, H5P_DEFAULT) <= 0) ok = 0;
            p[i] = c;
        }
    }
    free(p);
    return ok;
}

int xb_h5_group_create(hid_t loc, const char *path, hid_t *out, xb_error *err)
{
    char wbuf[1200];
    quiet();
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t g = H5Gcreate2(loc, path, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    if (g < 0) return xb_errorf(err, XB_ERUNTIME, "%s: cannot create group", WHERE(loc, path));
    *out = g;
    return XB_OK;
}

int xb_h5_group_open(hid_t loc, const char *path, hid_t *out, xb_error *err)
{
    char wbuf[1200];
    quiet();
    if (!xb_h5_exists(loc, path)) return xb_errorf(err, XB_EINPUT, "%s: no such group", WHERE(loc, path));
    hid_t g = H5Gopen2(loc, path, H5P_DEFAULT);
    if (g < 0) return xb_errorf(err, XB_EINPUT, "%s: not a group", WHERE(loc, path));
    *out = g;
    return XB_OK;
}

int xb_h5_delete(hid_t loc, const char *path, xb_error *err)
{
    char wbuf[1200];
    if (!xb_h5_exists(loc, path)) return XB_OK;
    if (H5Ldelete(loc, path, H5P_DEFAULT) < 0)
        return xb_errorf(err, XB_ERUNTIME, "%s: cannot delete", WHERE(loc, path));
    return XB_OK;
}

typedef struct {
    char **names;
    size_t n, cap;
    int oom;
} name_list;

static herr_t list_cb(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    (void)g;
    (void)info;
    name_list *l = data;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        char **nn = realloc(l->names, cap * sizeof *nn);
        if (!nn) { l->oom = 1; return -1; }
        l->names = nn;
        l->cap = cap;
    }
    l->names[l->n] = strdup(name);
    if (!l->names[l->n]) { l->oom = 1; return -1; }
    l->n++;
    return 0;
}

int xb_h5_list(hid_t loc, const char *path, char ***names, size_t *n, xb_error *err)
{
    char wbuf[1200];
    hid_t g;
    int rc = xb_h5_group_open(loc, path, &g, err);
    if (rc) return rc;
    name_list l = {0};
    herr_t st = H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, list_cb, &l);
    H5Gclose(g);
    if (st < 0 || l.oom) {
        xb_h5_free_names(l.names, l.n);
        return xb_errorf(err, XB_ERUNTIME, "%s: cannot list group", WHERE(loc, path));
    }
    *names = l.names;
    *n = l.n;
    return XB_OK;
}

void xb_h5_free_names(char **names, size_t n)
{
    if (!names) return;
    for (size_t k = 0; k < n; k++) free(names[k]);
    free(names);
}

/* ------------------------------------------------------------------ datasets */
static int set_units(hid_t obj, const char *unit)
{
    if (!unit) return 0;
    return xb_h5_attr_set_string(obj, ".", "units", unit, NULL);
}

static int write_array(hid_t loc, const char *name, int rank, const hsize_t *dims, hid_t mem_type,
                       hid_t file_type, const void *data, const char *unit, xb_error *err)
{
    char wbuf[1200];
    quiet();
    if (rank < 0 || rank > 4) return xb_errorf(err, XB_EINPUT, "%s: rank %d not supported", WHERE(loc, name), rank);
    hsize_t total = 1;
    for (int k = 0; k < rank; k++) total *= dims[k];
    hid_t space = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (rank > 0 && total > 4096) {
        hsize_t chunk[4];
        /* Chunk over whole trailing dims, ~64k elements per chunk. */
        hsize_t per = 1;
        for (int k = rank - 1; k >= 0; k--) {
            chunk[k] = dims[k] ? dims[k] : 1;
            if (k > 0) per *= chunk[k];
        }
        hsize_t lead = per ? 65536 / per : 1;
        if (lead < 1) lead = 1;
        if (chunk[0] > lead) chunk[0] = lead;
        int zero = 0;
        for (int k = 0; k < rank; k++) zero |= dims[k] == 0;
        if (!zero) {
            H5Pset_chunk(dcpl, rank, chunk);
            H5Pset_deflate(dcpl, 4);
        }
    }
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t ds = H5Dcreate2(loc, name, file_type, space, lcpl, dcpl, H5P_DEFAULT);
    H5Pclose(lcpl);
    H5Pclose(dcpl);
    H5Sclose(space);
    if (ds < 0) return xb_errorf(err, XB_ERUNTIME, "%s: cannot create dataset (exists?)", WHERE(loc, name));
    herr_t st = total ? H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : 0;
    int ust = set_units(ds, unit);
    H5Dclose(ds);
    if (st < 0 || ust) return xb_errorf(err, XB_ERUNTIME, "%s: write failed", WHERE(loc, name));
    return XB_OK;
}

int xb_h5_write_doubles(hid_t loc, const char *name, int rank, const hsize_t *dims,
                        const double *data, const char *unit, xb_error *err)
{
    return write_array(loc, name, rank, dims, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, data, unit, err);
}

int xb_h5_write_int64s(hid_t loc, const char *name, int rank, const hsize_t *dims,
                       const int64_t *data, const char *unit, xb_error *err)
{
    return write_array(loc, name, rank, dims, H5T_NATIVE_INT64, H5T_STD_I64LE, data, unit, err);
}

static hid_t string_type(size_t len)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, len ? len : 1);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

int xb_h5_write_text(hid_t loc, const char *name, const char *text, xb_error *err)
{
    char wbuf[1200];
    quiet();
    size_t len = strlen(text);
    hid_t t = string_type(len);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t ds = H5Dcreate2(loc, name, t, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    H5Sclose(space);
    if (ds < 0) {
        H5Tclose(t);
        return xb_errorf(err, XB_ERUNTIME, "%s: cannot create string dataset", WHERE(loc, name));
    }
    herr_t st;
    if (len) st = H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, text);
    else st = H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, "");
    H5Dclose(ds);
    H5Tclose(t);
    if (st < 0) return xb_errorf(err, XB_ERUNTIME, "%s: write failed", WHERE(loc, name));
    return XB_OK;
}

int xb_h5_read_doubles(hid_t loc, const char *name, double **data, int *rank, hsize_t dims[4],
                       xb_error *err)
{
    char wbuf[1200];
    quiet();
    if (!xb_h5_exists(loc, name)) return xb_errorf(err, XB_EINPUT, "%s: missing dataset", WHERE(loc, name));
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (ds < 0) return xb_errorf(err, XB_EINPUT, "%s: not a dataset", WHERE(loc, name));
    hid_t space = H5Dget_space(ds);
    int r = H5Sget_simple_extent_ndims(space);
    if (r < 0 || r > 4) {
        H5Sclose(space);
        H5Dclose(ds);
        return xb_errorf(err, XB_EINPUT, "%s: rank %d not supported", WHERE(loc, name), r);
    }
    hsize_t d[4] = {0, 0, 0, 0};
    H5Sget_simple_extent_dims(space, d, NULL);
    H5Sclose(space);
    /* Extents come from the file: bound the product (a corrupted or hostile file may
     * declare 2^64 values with no storage behind them; found by tests/fuzz). */
    hsize_t total = 1;
    for (int k = 0; k < r; k++) {
        if (d[k] && total > XB_H5_MAX_VALUES / d[k]) {
            H5Dclose(ds);
            return xb_errorf(err, XB_EINPUT, "%s: more than %llu values", WHERE(loc, name),
                             (unsigned long long)XB_H5_MAX_VALUES);
        }
        total *= d[k];
    }
    double *buf = malloc((total ? total : 1) * sizeof *buf);
    if (!buf) {
        H5Dclose(ds);
        return xb_errorf(err, XB_ERUNTIME, "%s: out of memory", WHERE(loc, name));
    }
    herr_t st = total ? H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) : 0;
    H5Dclose(ds);
    if (st < 0) {
        free(buf);
        return xb_errorf(err, XB_EINPUT, "%s: not numeric", WHERE(loc, name));
    }
    *data = buf;
    *rank = r;
    for (int k = 0; k < 4; k++) dims[k] = k < r ? d[k] : 0;
    return XB_OK;
}

/* Read a string-typed dataset or attribute value (fixed or variable length). */
static int read_string_obj(hid_t obj, int is_attr, char **text)
{
    hid_t ft = is_attr ? H5Aget_type(obj) : H5Dget_type(obj);
    if (ft < 0) return -1;
    /* Exactly one string: the reads below fill one value (an array attribute overflowed
     * the buffer; found by tests/fuzz). */
    hid_t sp = is_attr ? H5Aget_space(obj) : H5Dget_space(obj);
    hssize_t npts = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    if (sp >= 0) H5Sclose(sp);
    if (npts != 1 || H5Tget_class(ft) != H5T_STRING) {
        H5Tclose(ft);
        return -1;
    }
    int rc = -1;
    if (H5Tis_variable_str(ft) > 0) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(ft));
        char *s = NULL;
        herr_t st = is_attr ? H5Aread(obj, mt, &s) : H5Dread(obj, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, &s);
        if (st >= 0 && s) {
            *text = strdup(s);
            rc = *text ? 0 : -1;
            H5free_memory(s);
        }
        H5Tclose(mt);
    } else {
        size_t len = H5Tget_size(ft);
        char *s = calloc(len + 1, 1);
        if (s) {
            hid_t mt = H5Tcopy(ft);
            herr_t st = is_attr ? H5Aread(obj, mt, s) : H5Dread(obj, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, s);
            H5Tclose(mt);
            if (st >= 0) { *text = s; rc = 0; }
            else free(s);
        }
    }
    H5Tclose(ft);
    return rc;
}

int xb_h5_read_text(hid_t loc, const char *name, char **text, xb_error *err)
{
    char wbuf[1200];
    quiet();
    if (!xb_h5_exists(loc, name)) return xb_errorf(err, XB_EINPUT, "%s: missing dataset", WHERE(loc, name));
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (ds < 0) return xb_errorf(err, XB_EINPUT, "%s: not a dataset", WHERE(loc, name));
    int rc = read_string_obj(ds, 0, text);
    H5Dclose(ds);
    if (rc) return xb_errorf(err, XB_EINPUT, "%s: not a string dataset", WHERE(loc, name));
    return XB_OK;
}

int xb_h5_read_units(hid_t loc, const char *name, char *buf, size_t n, xb_error *err)
{
    if (n) buf[0] = '\0';
    if (!xb_h5_attr_exists(loc, name, "units")) return XB_OK;
    char *s = NULL;
    int rc = xb_h5_attr_get_string(loc, name, "units", &s, err);
    if (rc) return rc;
    snprintf(buf, n, "%s", s);
    free(s);
    return XB_OK;
}

/* ------------------------------------------------------------------ extendible tables */
int xb_h5_append_rows(hid_t loc, const char *name, size_t ncols, size_t nrows, const double *rows,
                      const char *unit, xb_error *err)
{
    char wbuf[1200];
    quiet();
    if (ncols == 0) return xb_errorf(err, XB_EINPUT, "%s: zero columns", WHERE(loc, name));
    hid_t ds;
    hsize_t old = 0;
    if (!xb_h5_exists(loc, name)) {
        hsize_t dims[2] = {0, ncols}, maxd[2] = {H5S_UNLIMITED, ncols};
        hsize_t chunk[2] = {ncols >= 1024 ? 1 : (1024 + ncols - 1) / ncols, ncols};
        if (chunk[0] < 1) chunk[0] = 1;
        hid_t space = H5Screate_simple(2, dims, maxd);
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_chunk(dcpl, 2, chunk);
        hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
        H5Pset_create_intermediate_group(lcpl, 1);
        ds = H5Dcreate2(loc, name, H5T_IEEE_F64LE, space, lcpl, dcpl, H5P_DEFAULT);
        H5Pclose(lcpl);
        H5Pclose(dcpl);
        H5Sclose(space);
        if (ds < 0) return xb_errorf(err, XB_ERUNTIME, "%s: cannot create table", WHERE(loc, name));
        if (set_units(ds, unit)) {
            H5Dclose(ds);
            return xb_errorf(err, XB_ERUNTIME, "%s: cannot set units", WHERE(loc, name));
        }
    } else {
        ds = H5Dopen2(loc, name, H5P_DEFAULT);
        if (ds < 0) return xb_errorf(err, XB_EINPUT, "%s: not a dataset", WHERE(loc, name));
        hid_t space = H5Dget_space(ds);
        hsize_t d[2] = {0, 0};
        int r = H5Sget_simple_extent_ndims(space);
        if (r == 2) H5Sget_simple_extent_dims(space, d, NULL);
        H5Sclose(space);
        if (r != 2 || d[1] != ncols) {
            H5Dclose(ds);
            return xb_errorf(err, XB_EINPUT, "%s: table has a different shape (want %zu columns)",
                             WHERE(loc, name), ncols);
        }
        old = d[0];
    }
    if (nrows == 0) {
        H5Dclose(ds);
        return XB_OK;
    }
    hsize_t newd[2] = {old + nrows, ncols};
    herr_t st = H5Dset_extent(ds, newd);
    if (st >= 0) {
        hid_t fs = H5Dget_space(ds);
        hsize_t start[2] = {old, 0}, count[2] = {nrows, ncols};
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
        hid_t ms = H5Screate_simple(2, count, NULL);
        st = H5Dwrite(ds, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, rows);
        H5Sclose(ms);
        H5Sclose(fs);
    }
    H5Dclose(ds);
    if (st < 0) return xb_errorf(err, XB_ERUNTIME, "%s: append failed", WHERE(loc, name));
    return XB_OK;
}

/* ------------------------------------------------------------------ attributes */
static int attr_write(hid_t loc, const char *obj_path, const char *name, hid_t ftype, hid_t mtype,
                      hid_t space, const void *buf, xb_error *err)
{
    char wbuf[1200];
    quiet();
    const char *op = obj_path ? obj_path : ".";
    if (H5Aexists_by_name(loc, op, name, H5P_DEFAULT) > 0) H5Adelete_by_name(loc, op, name, H5P_DEFAULT);
    hid_t a = H5Acreate_by_name(loc, op, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) return xb_errorf(err, XB_ERUNTIME, "%s: cannot create attribute '%s'", WHERE(loc, op), name);
    herr_t st = H5Awrite(a, mtype, buf);
    H5Aclose(a);
    if (st < 0) return xb_errorf(err, XB_ERUNTIME, "%s: cannot write attribute '%s'", WHERE(loc, op), name);
    return XB_OK;
}

int xb_h5_attr_set_string(hid_t loc, const char *obj_path, const char *name, const char *value,
                          xb_error *err)
{
    size_t len = strlen(value);
    hid_t t = string_type(len);
    hid_t s = H5Screate(H5S_SCALAR);
    int rc = attr_write(loc, obj_path, name, t, t, s, len ? value : "", err);
    H5Sclose(s);
    H5Tclose(t);
    return rc;
}

int xb_h5_attr_set_double(hid_t loc, const char *obj_path, const char *name, double value,
                          xb_error *err)
{
    hid_t s = H5Screate(H5S_SCALAR);
    int rc = attr_write(loc, obj_path, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, s, &value, err);
    H5Sclose(s);
    return rc;
}

int xb_h5_attr_set_int64(hid_t loc, const char *obj_path, const char *name, int64_t value,
                         xb_error *err)
{
    hid_t s = H5Screate(H5S_SCALAR);
    int rc = attr_write(loc, obj_path, name, H5T_STD_I64LE, H5T_NATIVE_INT64, s, &value, err);
    H5Sclose(s);
    return rc;
}

int xb_h5_attr_set_doubles(hid_t loc, const char *obj_path, const char *name, size_t n,
                           const double *values, xb_error *err)
{
    hsize_t d = n;
    hid_t s = H5Screate_simple(1, &d, NULL);
    int rc = attr_write(loc, obj_path, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, s, values, err);
    H5Sclose(s);
    return rc;
}

int xb_h5_attr_exists(hid_t loc, const char *obj_path, const char *name)
{
    quiet();
    const char *op = obj_path ? obj_path : ".";
    if (strcmp(op, ".") != 0 && !xb_h5_exists(loc, op)) return 0;
    return H5Aexists_by_name(loc, op, name, H5P_DEFAULT) > 0;
}

static int attr_open(hid_t loc, const char *obj_path, const char *name, hid_t *a, xb_error *err)
{
    char wbuf[1200];
    const char *op = obj_path ? obj_path : ".";
    if (!xb_h5_attr_exists(loc, op, name))
        return xb_errorf(err, XB_EINPUT, "%s: missing attribute '%s'", WHERE(loc, op), name);
    *a = H5Aopen_by_name(loc, op, name, H5P_DEFAULT, H5P_DEFAULT);
    if (*a < 0) return xb_errorf(err, XB_EINPUT, "%s: cannot open attribute '%s'", WHERE(loc, op), name);
    return XB_OK;
}

int xb_h5_attr_get_string(hid_t loc, const char *obj_path, const char *name, char **value,
                          xb_error *err)
{
    char wbuf[1200];
    hid_t a;
    int rc = attr_open(loc, obj_path, name, &a, err);
    if (rc) return rc;
    rc = read_string_obj(a, 1, value);
    H5Aclose(a);
    if (rc)
        return xb_errorf(err, XB_EINPUT, "%s: attribute '%s' is not a string",
                         WHERE(loc, obj_path ? obj_path : "."), name);
    return XB_OK;
}

static int attr_get_num(hid_t loc, const char *obj_path, const char *name, hid_t mtype, void *out,
                        xb_error *err)
{
    char wbuf[1200];
    hid_t a;
    int rc = attr_open(loc, obj_path, name, &a, err);
    if (rc) return rc;
    hid_t space = H5Aget_space(a);
    hssize_t npts = H5Sget_simple_extent_npoints(space);
    H5Sclose(space);
    hid_t ft = H5Aget_type(a);
    H5T_class_t cls = H5Tget_class(ft);
    H5Tclose(ft);
    herr_t st = -1;
    if (npts == 1 && (cls == H5T_FLOAT || cls == H5T_INTEGER)) st = H5Aread(a, mtype, out);
    H5Aclose(a);
    if (st < 0)
        return xb_errorf(err, XB_EINPUT, "%s: attribute '%s' is not a numeric scalar",
                         WHERE(loc, obj_path ? obj_path : "."), name);
    return XB_OK;
}

int xb_h5_attr_get_double(hid_t loc, const char *obj_path, const char *name, double *value,
                          xb_error *err)
{
    return attr_get_num(loc, obj_path, name, H5T_NATIVE_DOUBLE, value, err);
}

int xb_h5_attr_get_int64(hid_t loc, const char *obj_path, const char *name, int64_t *value,
                         xb_error *err)
{
    return attr_get_num(loc, obj_path, name, H5T_NATIVE_INT64, value, err);
}
