/*
 * xbar HDF5 helpers shared by results (characterize), model (fit) and network (exec) files.
 *
 * Thin, checked wrappers over the HDF5 C API (hid_t handles are exposed on purpose: callers
 * may use the full HDF5 API next to these).  Every function returns XB_OK or an error code
 * and fills xb_error with one line naming the file/object at fault; the HDF5 automatic error
 * printing is switched off by the open/create functions (only the CLI prints).
 *
 * Conventions (docs/hdf5-results.md):
 *   - every numeric dataset carries a string attribute "units" (SI: "A", "V", "S", "s", "J",
 *     "1" for dimensionless);
 *   - scalar numeric attributes carry the unit in their name (r_wire_ohm, t_read_s);
 *   - strings are fixed-length UTF-8 (h5py returns bytes; .decode() them);
 *   - files are written with the default (oldest compatible) format, readable by h5py.
 */
#ifndef XBAR_H5_H
#define XBAR_H5_H

#include <hdf5.h>
#include <stdint.h>

#include "xbar/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ files */
/* Create a file. Fails (XB_EINPUT) if it exists and overwrite == 0. */
int xb_h5_create(const char *path, int overwrite, hid_t *out, xb_error *err);
/* Open an existing file read-only (writable == 0) or read-write. XB_EINPUT if the file is
 * missing or not HDF5. */
int xb_h5_open(const char *path, int writable, hid_t *out, xb_error *err);
/* Flush everything under a file to disk (H5F_SCOPE_GLOBAL). */
int xb_h5_flush(hid_t file, xb_error *err);
/* Close a file (flushes); a negative handle is ignored. */
int xb_h5_close(hid_t file, xb_error *err);
/* Is `path` an HDF5 file? 1 yes, 0 no (missing or another format). */
int xb_h5_is_hdf5(const char *path);

/* ------------------------------------------------------------------ groups and links */
/* 1 if every component of the relative path `path` exists under loc, else 0. */
int xb_h5_exists(hid_t loc, const char *path);
/* Create a group (with missing intermediate groups); *out must be H5Gclose'd. */
int xb_h5_group_create(hid_t loc, const char *path, hid_t *out, xb_error *err);
int xb_h5_group_open(hid_t loc, const char *path, hid_t *out, xb_error *err);
/* Delete a link (group or dataset) if present; the space is not reclaimed (HDF5). */
int xb_h5_delete(hid_t loc, const char *path, xb_error *err);
/* Names of the direct children of group `path` under loc, in name order; *names is a
 * malloc'ed array of malloc'ed strings, free with xb_h5_free_names. */
int xb_h5_list(hid_t loc, const char *path, char ***names, size_t *n, xb_error *err);
void xb_h5_free_names(char **names, size_t n);

/* ------------------------------------------------------------------ datasets */
/* Write a new dataset of doubles, rank 0..4 (dims NULL for rank 0), with a "units"
 * attribute (unit may be NULL: no attribute).  Datasets of more than 4096 elements are
 * chunked and deflate-compressed. */
int xb_h5_write_doubles(hid_t loc, const char *name, int rank, const hsize_t *dims,
                        const double *data, const char *unit, xb_error *err);
/* Same for 64-bit integers. */
int xb_h5_write_int64s(hid_t loc, const char *name, int rank, const hsize_t *dims,
                       const int64_t *data, const char *unit, xb_error *err);
/* A scalar fixed-length string dataset (netlists, campaign text, logs). */
int xb_h5_write_text(hid_t loc, const char *name, const char *text, xb_error *err);

/* Read a whole double dataset (any stored float/int type converts). *data malloc'ed;
 * dims gets up to 4 extents; *rank the rank.  XB_EINPUT if missing. */
int xb_h5_read_doubles(hid_t loc, const char *name, double **data, int *rank, hsize_t dims[4],
                       xb_error *err);
/* Read a string dataset (fixed or variable length); *text malloc'ed. */
int xb_h5_read_text(hid_t loc, const char *name, char **text, xb_error *err);
/* The "units" attribute of a dataset into buf ("" if absent). */
int xb_h5_read_units(hid_t loc, const char *name, char *buf, size_t n, xb_error *err);

/* ------------------------------------------------------------------ extendible tables */
/* Append nrows rows of ncols doubles to the 2-D dataset `name` (created chunked with an
 * unlimited first dimension on first use, with its "units" attribute).  An existing
 * dataset must have ncols columns. */
int xb_h5_append_rows(hid_t loc, const char *name, size_t ncols, size_t nrows,
                      const double *rows, const char *unit, xb_error *err);

/* ------------------------------------------------------------------ attributes */
/* Attributes on the object at `obj_path` under loc ("." = loc itself); replaced if present. */
int xb_h5_attr_set_string(hid_t loc, const char *obj_path, const char *name, const char *value,
                          xb_error *err);
int xb_h5_attr_set_double(hid_t loc, const char *obj_path, const char *name, double value,
                          xb_error *err);
int xb_h5_attr_set_int64(hid_t loc, const char *obj_path, const char *name, int64_t value,
                         xb_error *err);
int xb_h5_attr_set_doubles(hid_t loc, const char *obj_path, const char *name, size_t n,
                           const double *values, xb_error *err);

int xb_h5_attr_exists(hid_t loc, const char *obj_path, const char *name);
/* *value malloc'ed. */
int xb_h5_attr_get_string(hid_t loc, const char *obj_path, const char *name, char **value,
                          xb_error *err);
int xb_h5_attr_get_double(hid_t loc, const char *obj_path, const char *name, double *value,
                          xb_error *err);
int xb_h5_attr_get_int64(hid_t loc, const char *obj_path, const char *name, int64_t *value,
                         xb_error *err);

#ifdef __cplusplus
}
#endif
#endif /* XBAR_H5_H */
