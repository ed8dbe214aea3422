/*
 * xbar HDF5 helpers shared by results (characterize), model (fit) and network (exec) files.
 *
 * Thin, checked wrappers over the HDF5 C API: the rest of xbar reaches HDF5 only through
 * these (hid_t handles are exposed so that callers can pass groups around).  Every function
 * returns XB_OK or an error code and fills xb_error with one line naming the file/object at
 * fault.
 *
 * HDF5 prints its error stack on every failed call by default; only the CLI prints, so every
 * xb_h5_* function switches that printing off for its own HDF5 calls and gives the caller's
 * handler back (H5Eget_auto2/H5Eset_auto2) before it returns: a program that embeds xbar
 * keeps its own HDF5 error settings.
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
 * missing ("cannot open: <reason>"), not HDF5 ("not an HDF5 file") or damaged; XB_ERUNTIME
 * when another process holds it in a conflicting mode ("open in another process": libhdf5's
 * file lock, e.g. a writer while reading, a reader while writing). */
int xb_h5_open(const char *path, int writable, hid_t *out, xb_error *err);
/* Create a file that lives in memory (HDF5's core driver) until xb_h5_close writes it to
 * `path` in one piece through xb_afile (temporary in the same directory, fsync, rename): a
 * failed or interrupted writer never leaves a damaged file and never replaces a good one, and
 * a full disk fails in xbar's checked write (one line: the file and errno), not inside
 * libhdf5.  Fails (XB_EINPUT) if path exists and overwrite == 0.  For files written in one
 * go (models, networks, a new results file's header); xb_h5_discard drops it. */
int xb_h5_create_atomic(const char *path, int overwrite, hid_t *out, xb_error *err);
/* Close without keeping: a file of xb_h5_create_atomic is dropped (the target keeps its old
 * contents); any other file is just closed.  A negative handle is ignored. */
void xb_h5_discard(hid_t file);
/* Flush everything under a file to disk (H5F_SCOPE_GLOBAL). */
int xb_h5_flush(hid_t file, xb_error *err);
/* Close a file (flushes; a file of xb_h5_create_atomic is written to its path now, and any
 * failure of that write is returned); a negative handle is ignored. */
int xb_h5_close(hid_t file, xb_error *err);
/* For a program that owns its process (the xbar binary, src/cli/main.c), never for library
 * code: HDF5's automatic error printing off for the rest of the process, including libhdf5's
 * own report at exit (1.10 prints "infinite loop closing library" after a failed file
 * creation, e.g. on a full disk).  The program prints its own one-line errors. */
void xb_h5_errors_off(void);
/* The HDF5 library's version, "1.10.8" (provenance, --version). */
void xb_h5_library_version(char *buf, size_t n);
/* Is `path` an HDF5 file? 1 yes, 0 no (missing or another format). */
int xb_h5_is_hdf5(const char *path);

/* ------------------------------------------------------------------ groups and links */
/* 1 if every component of the relative path `path` exists under loc, else 0. */
int xb_h5_exists(hid_t loc, const char *path);
/* Create a group (with missing intermediate groups); *out must be H5Gclose'd. */
int xb_h5_group_create(hid_t loc, const char *path, hid_t *out, xb_error *err);
int xb_h5_group_open(hid_t loc, const char *path, hid_t *out, xb_error *err);
/* Close a group of xb_h5_group_create/_open; a negative handle is ignored. */
void xb_h5_group_close(hid_t g);
/* Delete a link (group or dataset) if present; the space is not reclaimed (HDF5). */
int xb_h5_delete(hid_t loc, const char *path, xb_error *err);
/* Names of the direct children of group `path` under loc, in name order; *names is a
 * malloc'ed array of malloc'ed strings, free with xb_h5_free_names. */
int xb_h5_list(hid_t loc, const char *path, char ***names, size_t *n, xb_error *err);
void xb_h5_free_names(char **names, size_t n);
/* Copy the object src_path under src (a group with everything in it, or a dataset) to
 * dst_path under dst, possibly in another file (missing groups of dst_path created). */
int xb_h5_copy(hid_t src, const char *src_path, hid_t dst, const char *dst_path, xb_error *err);
/* Rename the link `from` under loc to `to` (same file; missing groups of `to` created). */
int xb_h5_move(hid_t loc, const char *from, const char *to, xb_error *err);

/* ------------------------------------------------------------------ shapes and tree walks */
#define XB_H5_MAX_RANK 32 /* H5S_MAX_RANK */
typedef enum { XB_H5_OTHER = 0, XB_H5_NUMERIC, XB_H5_STRING } xb_h5_class;
typedef struct xb_h5_info {
    xb_h5_class cls;               /* stored type: integer/float, string, anything else */
    int rank;                      /* 0 = scalar */
    hsize_t dims[XB_H5_MAX_RANK];  /* extents, rank of them */
} xb_h5_info;
/* Type class and shape of dataset `name` without reading it (XB_EINPUT if missing or not a
 * dataset): for readers that check a shape before allocating. */
int xb_h5_dataset_info(hid_t loc, const char *name, xb_h5_info *out, xb_error *err);
/* Every group and dataset under loc, in name order, each once: fn(user, path relative to
 * loc ("." = loc), is_group, info of a dataset or NULL).  A non-zero return stops the walk. */
typedef int (*xb_h5_visit_fn)(void *user, const char *path, int is_group, const xb_h5_info *info);
int xb_h5_visit(hid_t loc, xb_h5_visit_fn fn, void *user, xb_error *err);

/* ------------------------------------------------------------------ datasets */
/* Write a new dataset of doubles, rank 0..4 (dims NULL for rank 0), with a "units"
 * attribute (unit may be NULL: no attribute).  Datasets of more than 4096 elements are
 * chunked and deflate-compressed. */
int xb_h5_write_doubles(hid_t loc, const char *name, int rank, const hsize_t *dims,
                        const double *data, const char *unit, xb_error *err);
/* Same for 64-bit integers. */
int xb_h5_write_int64s(hid_t loc, const char *name, int rank, const hsize_t *dims,
                       const int64_t *data, const char *unit, xb_error *err);
/* A float32 dataset of rank 1..4 stored as one chunk with shuffle + deflate (network
 * weights, docs/hdf5-network.md), with its "units" attribute unless unit is NULL. */
int xb_h5_write_floats(hid_t loc, const char *name, int rank, const hsize_t *dims, const float *data,
                       const char *unit, xb_error *err);
/* A scalar fixed-length string dataset (netlists, campaign text, logs). */
int xb_h5_write_text(hid_t loc, const char *name, const char *text, xb_error *err);

/* Read a whole double dataset (any stored float/int type converts; at most 2^26 values).
 * *data malloc'ed; dims gets up to 4 extents; *rank the rank.  XB_EINPUT if missing. */
int xb_h5_read_doubles(hid_t loc, const char *name, double **data, int *rank, hsize_t dims[4],
                       xb_error *err);
/* The same as floats, up to 2^28 values (network weights). */
int xb_h5_read_floats(hid_t loc, const char *name, float **data, int *rank, hsize_t dims[4], xb_error *err);
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
/* A 1-D array of n 64-bit integers (shapes). */
int xb_h5_attr_set_int64s(hid_t loc, const char *obj_path, const char *name, size_t n, const int64_t *values,
                          xb_error *err);

int xb_h5_attr_exists(hid_t loc, const char *obj_path, const char *name);
/* *value malloc'ed. */
int xb_h5_attr_get_string(hid_t loc, const char *obj_path, const char *name, char **value,
                          xb_error *err);
int xb_h5_attr_get_double(hid_t loc, const char *obj_path, const char *name, double *value,
                          xb_error *err);
int xb_h5_attr_get_int64(hid_t loc, const char *obj_path, const char *name, int64_t *value,
                         xb_error *err);
/* 1 to max values of an integer-typed attribute (scalar or array; float attributes are
 * rejected) into values; *n the count. */
int xb_h5_attr_get_int64s(hid_t loc, const char *obj_path, const char *name, size_t max, int64_t *values,
                          size_t *n, xb_error *err);

#ifdef __cplusplus
}
#endif
#endif /* XBAR_H5_H */
