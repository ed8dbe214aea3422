/* HDF5 helpers: attributes (strings, numeric scalars and arrays), and the string reader
 * shared with string datasets. */
#include <stdlib.h>
#include <string.h>

#include "h5/h5_internal.h"

hid_t xb_h5i_string_type(size_t len)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, len ? len : 1);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

int xb_h5i_read_string_obj(hid_t obj, int is_attr, char **text)
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

/* ------------------------------------------------------------------ writing */
static int attr_write(hid_t loc, const char *obj_path, const char *name, hid_t ftype, hid_t mtype,
                      hid_t space, const void *buf, xb_error *err)
{
    char wbuf[XB_H5_WHERE_MAX];
    const char *op = obj_path ? obj_path : ".";
    if (H5Aexists_by_name(loc, op, name, H5P_DEFAULT) > 0) H5Adelete_by_name(loc, op, name, H5P_DEFAULT);
    hid_t a = H5Acreate_by_name(loc, op, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) return xb_errorf(err, XB_ERUNTIME, "%s: cannot create attribute '%s'", WHERE(loc, op), name);
    herr_t st = H5Awrite(a, mtype, buf);
    H5Aclose(a);
    if (st < 0) return xb_errorf(err, XB_ERUNTIME, "%s: cannot write attribute '%s'", WHERE(loc, op), name);
    return XB_OK;
}

static int set_string(hid_t loc, const char *obj_path, const char *name, const char *value, xb_error *err)
{
    size_t len = strlen(value);
    hid_t t = xb_h5i_string_type(len);
    hid_t s = H5Screate(H5S_SCALAR);
    int rc = attr_write(loc, obj_path, name, t, t, s, len ? value : "", err);
    H5Sclose(s);
    H5Tclose(t);
    return rc;
}

int xb_h5_attr_set_string(hid_t loc, const char *obj_path, const char *name, const char *value,
                          xb_error *err)
{
    if (!name || !value) return xb_errorf(err, XB_EINPUT, "xb_h5_attr_set_string: no name or value");
    XB_H5_QUIET_RETURN(set_string(loc, obj_path, name, value, err));
}

/* n values of mem_type stored as file_type: a scalar when scalar != 0, else 1-D. */
static int set_numbers(hid_t loc, const char *obj_path, const char *name, hid_t file_type, hid_t mem_type,
                       int scalar, size_t n, const void *values, xb_error *err)
{
    hsize_t d = n;
    hid_t s = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &d, NULL);
    int rc = attr_write(loc, obj_path, name, file_type, mem_type, s, values, err);
    H5Sclose(s);
    return rc;
}

int xb_h5_attr_set_double(hid_t loc, const char *obj_path, const char *name, double value,
                          xb_error *err)
{
    if (!name) return xb_errorf(err, XB_EINPUT, "xb_h5_attr_set_double: no name");
    XB_H5_QUIET_RETURN(set_numbers(loc, obj_path, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, 1, &value, err));
}

int xb_h5_attr_set_int64(hid_t loc, const char *obj_path, const char *name, int64_t value,
                         xb_error *err)
{
    if (!name) return xb_errorf(err, XB_EINPUT, "xb_h5_attr_set_int64: no name");
    XB_H5_QUIET_RETURN(set_numbers(loc, obj_path, name, H5T_STD_I64LE, H5T_NATIVE_INT64, 1, 1, &value, err));
}

int xb_h5_attr_set_doubles(hid_t loc, const char *obj_path, const char *name, size_t n,
                           const double *values, xb_error *err)
{
    if (!name || (n && !values)) return xb_errorf(err, XB_EINPUT, "xb_h5_attr_set_doubles: no name or values");
    XB_H5_QUIET_RETURN(set_numbers(loc, obj_path, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, n, values, err));
}

int xb_h5_attr_set_int64s(hid_t loc, const char *obj_path, const char *name, size_t n, const int64_t *values,
                          xb_error *err)
{
    if (!name || (n && !values)) return xb_errorf(err, XB_EINPUT, "xb_h5_attr_set_int64s: no name or values");
    XB_H5_QUIET_RETURN(set_numbers(loc, obj_path, name, H5T_STD_I64LE, H5T_NATIVE_INT64, 0, n, values, err));
}

/* ------------------------------------------------------------------ reading */
static int attr_exists(hid_t loc, const char *obj_path, const char *name)
{
    const char *op = obj_path ? obj_path : ".";
    if (strcmp(op, ".") != 0 && !xb_h5_exists(loc, op)) return 0;
    return H5Aexists_by_name(loc, op, name, H5P_DEFAULT) > 0;
}

int xb_h5_attr_exists(hid_t loc, const char *obj_path, const char *name)
{
    if (!name) return 0;
    XB_H5_QUIET_RETURN(attr_exists(loc, obj_path, name));
}

static int attr_open(hid_t loc, const char *obj_path, const char *name, hid_t *a, xb_error *err)
{
    char wbuf[XB_H5_WHERE_MAX];
    const char *op = obj_path ? obj_path : ".";
    if (!attr_exists(loc, op, name))
        return xb_errorf(err, XB_EINPUT, "%s: missing attribute '%s'", WHERE(loc, op), name);
    *a = H5Aopen_by_name(loc, op, name, H5P_DEFAULT, H5P_DEFAULT);
    if (*a < 0) return xb_errorf(err, XB_EINPUT, "%s: cannot open attribute '%s'", WHERE(loc, op), name);
    return XB_OK;
}

static int get_string(hid_t loc, const char *obj_path, const char *name, char **value, xb_error *err)
{
    char wbuf[XB_H5_WHERE_MAX];
    hid_t a;
    int rc = attr_open(loc, obj_path, name, &a, err);
    if (rc) return rc;
    rc = xb_h5i_read_string_obj(a, 1, value);
    H5Aclose(a);
    if (rc)
        return xb_errorf(err, XB_EINPUT, "%s: attribute '%s' is not a string", WHERE(loc, obj_path ? obj_path : "."),
                         name);
    return XB_OK;
}

int xb_h5_attr_get_string(hid_t loc, const char *obj_path, const char *name, char **value,
                          xb_error *err)
{
    if (!name || !value) return xb_errorf(err, XB_EINPUT, "xb_h5_attr_get_string: no name");
    XB_H5_QUIET_RETURN(get_string(loc, obj_path, name, value, err));
}

/* Between 1 and max values of an attribute read as mem_type; integers_only rejects float
 * attributes (counts, shapes).  *n gets the number of values. */
static int get_numbers(hid_t loc, const char *obj_path, const char *name, hid_t mem_type, int integers_only,
                       size_t max, void *out, size_t *n, xb_error *err)
{
    char wbuf[XB_H5_WHERE_MAX];
    hid_t a;
    int rc = attr_open(loc, obj_path, name, &a, err);
    if (rc) return rc;
    hid_t space = H5Aget_space(a);
    hssize_t npts = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    if (space >= 0) H5Sclose(space);
    hid_t ft = H5Aget_type(a);
    H5T_class_t cls = ft >= 0 ? H5Tget_class(ft) : H5T_NO_CLASS;
    if (ft >= 0) H5Tclose(ft);
    int ok_class = cls == H5T_INTEGER || (!integers_only && cls == H5T_FLOAT);
    herr_t st = -1;
    if (npts >= 1 && (size_t)npts <= max && ok_class) st = H5Aread(a, mem_type, out);
    H5Aclose(a);
    const char *where = WHERE(loc, obj_path ? obj_path : ".");
    if (st < 0 && max == 1)
        return xb_errorf(err, XB_EINPUT, "%s: attribute '%s' is not %s", where, name,
                         integers_only ? "an integer" : "a numeric scalar");
    if (st < 0)
        return xb_errorf(err, XB_EINPUT, "%s: attribute '%s' is not 1 to %zu %s", where, name, max,
                         integers_only ? "integers" : "numbers");
    *n = (size_t)npts;
    return XB_OK;
}

int xb_h5_attr_get_double(hid_t loc, const char *obj_path, const char *name, double *value,
                          xb_error *err)
{
    if (!name || !value) return xb_errorf(err, XB_EINPUT, "xb_h5_attr_get_double: no name");
    size_t n;
    XB_H5_QUIET_RETURN(get_numbers(loc, obj_path, name, H5T_NATIVE_DOUBLE, 0, 1, value, &n, err));
}

int xb_h5_attr_get_int64(hid_t loc, const char *obj_path, const char *name, int64_t *value,
                         xb_error *err)
{
    if (!name || !value) return xb_errorf(err, XB_EINPUT, "xb_h5_attr_get_int64: no name");
    size_t n;
    XB_H5_QUIET_RETURN(get_numbers(loc, obj_path, name, H5T_NATIVE_INT64, 0, 1, value, &n, err));
}

int xb_h5_attr_get_int64s(hid_t loc, const char *obj_path, const char *name, size_t max, int64_t *values,
                          size_t *n, xb_error *err)
{
    if (!name || !values || !n || max == 0) return xb_errorf(err, XB_EINPUT, "xb_h5_attr_get_int64s: no name");
    XB_H5_QUIET_RETURN(get_numbers(loc, obj_path, name, H5T_NATIVE_INT64, 1, max, values, n, err));
}
