/* HDF5 helpers: datasets (numeric arrays with units, strings, shapes, extendible tables). */
#include <stdlib.h>
#include <string.h>

#include "h5/h5_internal.h"

/* Largest datasets the readers accept: 2^26 doubles (512 MiB), 2^28 floats (1 GiB, network
 * weights).  Extents come from the file: a corrupted or hostile file may declare 2^64 values
 * with no storage behind them (found by tests/fuzz). */
#define XB_H5_MAX_DOUBLES ((hsize_t)1 << 26)
#define XB_H5_MAX_FLOATS ((hsize_t)1 << 28)

/* ------------------------------------------------------------------ writing */
static int set_units(hid_t obj, const char *unit)
{
    if (!unit) return 0;
    return xb_h5_attr_set_string(obj, ".", "units", unit, NULL);
}

/* Storage layouts: the generic one (chunks of ~64k values over whole trailing dimensions,
 * deflate 4, above 4096 values) and the one of network weights (one chunk, shuffle +
 * deflate 6: docs/hdf5-network.md). */
typedef enum { LAYOUT_GENERIC, LAYOUT_ONE_CHUNK } layout;

static hid_t make_dcpl(int rank, const hsize_t *dims, hsize_t total, layout lay)
{
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    int zero = 0;
    for (int k = 0; k < rank; k++) zero |= dims[k] == 0;
    if (rank == 0 || zero) return dcpl;
    if (lay == LAYOUT_ONE_CHUNK) {
        H5Pset_chunk(dcpl, rank, dims);
        H5Pset_shuffle(dcpl);
        H5Pset_deflate(dcpl, 6);
        return dcpl;
    }
    if (total <= 4096) return dcpl;
    hsize_t chunk[4], per = 1;
    for (int k = rank - 1; k >= 0; k--) {
        chunk[k] = dims[k];
        if (k > 0) per *= chunk[k];
    }
    hsize_t lead = per ? 65536 / per : 1;
    if (lead < 1) lead = 1;
    if (chunk[0] > lead) chunk[0] = lead;
    H5Pset_chunk(dcpl, rank, chunk);
    H5Pset_deflate(dcpl, 4);
    return dcpl;
}

static int write_array(hid_t loc, const char *name, int rank, const hsize_t *dims, hid_t mem_type,
                       hid_t file_type, layout lay, const void *data, const char *unit, xb_error *err)
{
    char wbuf[XB_H5_WHERE_MAX];
    if (rank < 0 || rank > 4 || (rank > 0 && !dims))
        return xb_errorf(err, XB_EINPUT, "%s: rank %d not supported", WHERE(loc, name), rank);
    hsize_t total = 1;
    for (int k = 0; k < rank; k++) total *= dims[k];
    hid_t space = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = make_dcpl(rank, dims, total, lay);
    hid_t lcpl = xb_h5i_lcpl();
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
    if (!name || !data) return xb_errorf(err, XB_EINPUT, "xb_h5_write_doubles: no name or data");
    XB_H5_QUIET_RETURN(write_array(loc, name, rank, dims, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, LAYOUT_GENERIC, data,
                                   unit, err));
}

int xb_h5_write_int64s(hid_t loc, const char *name, int rank, const hsize_t *dims,
                       const int64_t *data, const char *unit, xb_error *err)
{
    if (!name || !data) return xb_errorf(err, XB_EINPUT, "xb_h5_write_int64s: no name or data");
    XB_H5_QUIET_RETURN(write_array(loc, name, rank, dims, H5T_NATIVE_INT64, H5T_STD_I64LE, LAYOUT_GENERIC, data,
                                   unit, err));
}

int xb_h5_write_floats(hid_t loc, const char *name, int rank, const hsize_t *dims, const float *data,
                       const char *unit, xb_error *err)
{
    if (!name || !data) return xb_errorf(err, XB_EINPUT, "xb_h5_write_floats: no name or data");
    XB_H5_QUIET_RETURN(write_array(loc, name, rank, dims, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, LAYOUT_ONE_CHUNK, data,
                                   unit, err));
}

static int write_text(hid_t loc, const char *name, const char *text, xb_error *err)
{
    char wbuf[XB_H5_WHERE_MAX];
    size_t len = strlen(text);
    hid_t t = xb_h5i_string_type(len);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t lcpl = xb_h5i_lcpl();
    hid_t ds = H5Dcreate2(loc, name, t, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    H5Sclose(space);
    if (ds < 0) {
        H5Tclose(t);
        return xb_errorf(err, XB_ERUNTIME, "%s: cannot create string dataset", WHERE(loc, name));
    }
    herr_t st = H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, len ? text : "");
    H5Dclose(ds);
    H5Tclose(t);
    if (st < 0) return xb_errorf(err, XB_ERUNTIME, "%s: write failed", WHERE(loc, name));
    return XB_OK;
}

int xb_h5_write_text(hid_t loc, const char *name, const char *text, xb_error *err)
{
    if (!name || !text) return xb_errorf(err, XB_EINPUT, "xb_h5_write_text: no name or text");
    XB_H5_QUIET_RETURN(write_text(loc, name, text, err));
}

/* ------------------------------------------------------------------ shapes */
static int dataset_info(hid_t loc, const char *name, xb_h5_info *out, xb_error *err)
{
    char wbuf[XB_H5_WHERE_MAX];
    memset(out, 0, sizeof *out);
    if (!xb_h5_exists(loc, name)) return xb_errorf(err, XB_EINPUT, "%s: missing dataset", WHERE(loc, name));
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (ds < 0) return xb_errorf(err, XB_EINPUT, "%s: not a dataset", WHERE(loc, name));
    hid_t space = H5Dget_space(ds), type = H5Dget_type(ds);
    int r = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    int rc = XB_OK;
    if (r < 0 || r > XB_H5_MAX_RANK || type < 0) {
        rc = xb_errorf(err, XB_EINPUT, "%s: cannot read the shape", WHERE(loc, name));
    } else {
        out->rank = r;
        if (r > 0) H5Sget_simple_extent_dims(space, out->dims, NULL);
        H5T_class_t cls = H5Tget_class(type);
        out->cls = (cls == H5T_FLOAT || cls == H5T_INTEGER) ? XB_H5_NUMERIC
                   : cls == H5T_STRING                     ? XB_H5_STRING
                                                           : XB_H5_OTHER;
    }
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    H5Dclose(ds);
    return rc;
}

int xb_h5_dataset_info(hid_t loc, const char *name, xb_h5_info *out, xb_error *err)
{
    if (!name || !out) return xb_errorf(err, XB_EINPUT, "xb_h5_dataset_info: no name");
    XB_H5_QUIET_RETURN(dataset_info(loc, name, out, err));
}

/* ------------------------------------------------------------------ reading */
/* A whole numeric dataset of rank <= 4 converted to mem_type (elem bytes each), at most max
 * values; *data malloc'ed. */
static int read_numeric(hid_t loc, const char *name, hid_t mem_type, size_t elem, hsize_t max, void **data,
                        int *rank, hsize_t dims[4], xb_error *err)
{
    char wbuf[XB_H5_WHERE_MAX];
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
    hsize_t total = 1;
    for (int k = 0; k < r; k++) {
        if (d[k] && total > max / d[k]) {
            H5Dclose(ds);
            return xb_errorf(err, XB_EINPUT, "%s: more than %llu values", WHERE(loc, name), (unsigned long long)max);
        }
        total *= d[k];
    }
    void *buf = malloc((total ? total : 1) * elem);
    if (!buf) {
        H5Dclose(ds);
        return xb_errorf(err, XB_ERUNTIME, "%s: out of memory", WHERE(loc, name));
    }
    herr_t st = total ? H5Dread(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) : 0;
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

int xb_h5_read_doubles(hid_t loc, const char *name, double **data, int *rank, hsize_t dims[4],
                       xb_error *err)
{
    if (!name || !data || !rank || !dims) return xb_errorf(err, XB_EINPUT, "xb_h5_read_doubles: no name");
    XB_H5_QUIET_RETURN(read_numeric(loc, name, H5T_NATIVE_DOUBLE, sizeof(double), XB_H5_MAX_DOUBLES,
                                    (void **)data, rank, dims, err));
}

int xb_h5_read_floats(hid_t loc, const char *name, float **data, int *rank, hsize_t dims[4], xb_error *err)
{
    if (!name || !data || !rank || !dims) return xb_errorf(err, XB_EINPUT, "xb_h5_read_floats: no name");
    XB_H5_QUIET_RETURN(read_numeric(loc, name, H5T_NATIVE_FLOAT, sizeof(float), XB_H5_MAX_FLOATS, (void **)data,
                                    rank, dims, err));
}

static int read_text(hid_t loc, const char *name, char **text, xb_error *err)
{
    char wbuf[XB_H5_WHERE_MAX];
    if (!xb_h5_exists(loc, name)) return xb_errorf(err, XB_EINPUT, "%s: missing dataset", WHERE(loc, name));
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (ds < 0) return xb_errorf(err, XB_EINPUT, "%s: not a dataset", WHERE(loc, name));
    int rc = xb_h5i_read_string_obj(ds, 0, text);
    H5Dclose(ds);
    if (rc) return xb_errorf(err, XB_EINPUT, "%s: not a string dataset", WHERE(loc, name));
    return XB_OK;
}

int xb_h5_read_text(hid_t loc, const char *name, char **text, xb_error *err)
{
    if (!name || !text) return xb_errorf(err, XB_EINPUT, "xb_h5_read_text: no name");
    XB_H5_QUIET_RETURN(read_text(loc, name, text, err));
}

int xb_h5_read_units(hid_t loc, const char *name, char *buf, size_t n, xb_error *err)
{
    if (!buf) return xb_errorf(err, XB_EINPUT, "xb_h5_read_units: no buffer");
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
static hid_t create_table(hid_t loc, const char *name, size_t ncols, const char *unit, xb_error *err)
{
    char wbuf[XB_H5_WHERE_MAX];
    hsize_t dims[2] = {0, ncols}, maxd[2] = {H5S_UNLIMITED, ncols};
    hsize_t chunk[2] = {ncols >= 1024 ? 1 : (1024 + ncols - 1) / ncols, ncols};
    if (chunk[0] < 1) chunk[0] = 1;
    hid_t space = H5Screate_simple(2, dims, maxd);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 2, chunk);
    hid_t lcpl = xb_h5i_lcpl();
    hid_t ds = H5Dcreate2(loc, name, H5T_IEEE_F64LE, space, lcpl, dcpl, H5P_DEFAULT);
    H5Pclose(lcpl);
    H5Pclose(dcpl);
    H5Sclose(space);
    if (ds < 0) {
        xb_errorf(err, XB_ERUNTIME, "%s: cannot create table", WHERE(loc, name));
        return -1;
    }
    if (set_units(ds, unit)) {
        H5Dclose(ds);
        xb_errorf(err, XB_ERUNTIME, "%s: cannot set units", WHERE(loc, name));
        return -1;
    }
    return ds;
}

static int append_rows(hid_t loc, const char *name, size_t ncols, size_t nrows, const double *rows,
                       const char *unit, xb_error *err)
{
    char wbuf[XB_H5_WHERE_MAX];
    if (ncols == 0) return xb_errorf(err, XB_EINPUT, "%s: zero columns", WHERE(loc, name));
    hid_t ds;
    hsize_t old = 0;
    if (!xb_h5_exists(loc, name)) {
        if ((ds = create_table(loc, name, ncols, unit, err)) < 0) return err ? err->code : XB_ERUNTIME;
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

int xb_h5_append_rows(hid_t loc, const char *name, size_t ncols, size_t nrows, const double *rows,
                      const char *unit, xb_error *err)
{
    if (!name || (nrows && !rows)) return xb_errorf(err, XB_EINPUT, "xb_h5_append_rows: no name or rows");
    XB_H5_QUIET_RETURN(append_rows(loc, name, ncols, nrows, rows, unit, err));
}
