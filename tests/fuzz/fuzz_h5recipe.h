/* Helper for the HDF5-loader fuzz targets (not a target itself).
 *
 * Mutating the raw bytes of an HDF5 file mostly exercises libhdf5's own metadata parser,
 * which in Debian's 1.10.8 has known memory-safety bugs we cannot fix (docs/hardening.md).
 * So by default a fuzz input is a *recipe*: a text description of a well-formed HDF5 file
 * with arbitrary contents (objects, types, shapes, values), built with the HDF5 API into a
 * scratch file that the loader under test then opens.  That reaches every check of our
 * loaders: missing/extra objects, wrong types, ranks, shapes, huge extents, odd values.
 * With XB_FUZZ_RAW=1 in the environment the input is instead written as the file itself
 * (raw corruption mode, run by hand).
 *
 * Recipe lines (one object each; unknown or malformed lines are skipped):
 *   g PATH                                  group (intermediate groups created)
 *   d PATH TYPE DIMS [VALUES...]            dataset
 *   a OBJ NAME TYPE DIMS [VALUES...]        attribute NAME on object OBJ ("/" = root)
 * TYPE: f64 f32 i64 i32 u8 str (fixed length) vstr (variable length).
 * DIMS: "-" (scalar) or AxBx... (rank 1..6, extents up to 2^40).  Values are recycled to
 * fill the object; a scalar string takes the rest of the line, "\n" escapes a newline.
 * Datasets of more than 4096 elements are chunked and left unwritten (fill value 0), so a
 * recipe can declare extents far beyond the input size (tests the loaders' size limits). */
#ifndef XB_FUZZ_H5RECIPE_H
#define XB_FUZZ_H5RECIPE_H

#include <hdf5.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_file.h"

#define XB_RECIPE_MAX_WRITE 4096

static inline hid_t xb_recipe_type(const char *t, int *is_str, int *is_vstr)
{
    *is_str = *is_vstr = 0;
    if (strcmp(t, "f64") == 0) return H5T_IEEE_F64LE;
    if (strcmp(t, "f32") == 0) return H5T_IEEE_F32LE;
    if (strcmp(t, "i64") == 0) return H5T_STD_I64LE;
    if (strcmp(t, "i32") == 0) return H5T_STD_I32LE;
    if (strcmp(t, "u8") == 0) return H5T_STD_U8LE;
    if (strcmp(t, "str") == 0) { *is_str = 1; return H5T_C_S1; }
    if (strcmp(t, "vstr") == 0) { *is_vstr = 1; return H5T_C_S1; }
    return -1;
}

/* Unescape "\n" in place. */
static inline void xb_recipe_unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] == 'n') { *w++ = '\n'; r++; }
        else *w++ = *r;
    }
    *w = '\0';
}

/* Build one object. toks[0..nt) are the value tokens; rest is the raw rest of the line. */
static inline void xb_recipe_object(hid_t f, int is_attr, const char *obj, const char *name,
                                    const char *type, const char *dims_s, char **toks, size_t nt,
                                    char *rest)
{
    int is_str, is_vstr;
    hid_t base = xb_recipe_type(type, &is_str, &is_vstr);
    if (base < 0) return;
    hsize_t dims[6];
    int rank = 0;
    hsize_t total = 1;
    if (strcmp(dims_s, "-") != 0) {
        const char *p = dims_s;
        while (*p && rank < 6) {
            char *end;
            unsigned long long v = strtoull(p, &end, 10);
            if (end == p) return;
            if (v > (1ull << 40)) v = 1ull << 40;
            dims[rank++] = v;
            if (v && total > (1ull << 62) / v) return;
            total *= v;
            p = end;
            if (*p == 'x') p++;
            else if (*p) return;
        }
        if (*p) return;
    }
    if (is_attr && total > XB_RECIPE_MAX_WRITE) return;
    hid_t space = rank ? H5Screate_simple(rank, dims, NULL) : H5Screate(H5S_SCALAR);
    if (space < 0) return;
    int write = total <= XB_RECIPE_MAX_WRITE;
    /* Scalar strings take the whole rest of the line. */
    char *one[1] = {rest};
    if ((is_str || is_vstr) && rank == 0 && rest) {
        xb_recipe_unescape(rest);
        toks = one;
        nt = 1;
    }
    hid_t ftype = -1, mtype = -1;
    size_t width = 1;
    if (is_str || is_vstr) {
        for (size_t k = 0; k < nt; k++)
            if (strlen(toks[k]) > width) width = strlen(toks[k]);
        ftype = H5Tcopy(H5T_C_S1);
        H5Tset_size(ftype, is_vstr ? H5T_VARIABLE : width);
        mtype = H5Tcopy(ftype);
    } else {
        ftype = H5Tcopy(base);
        mtype = H5Tcopy(H5T_NATIVE_DOUBLE);
    }
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (!is_attr && !write) {
        hsize_t chunk[6];
        for (int k = 0; k < rank; k++) chunk[k] = dims[k] ? (dims[k] < 16 ? dims[k] : 16) : 1;
        if (rank) H5Pset_chunk(dcpl, rank, chunk);
    }
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t o = is_attr ? H5Acreate_by_name(f, obj, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)
                      : H5Dcreate2(f, obj, ftype, space, lcpl, dcpl, H5P_DEFAULT);
    if (o >= 0 && write && total) {
        void *buf = NULL;
        if (is_vstr) {
            char **b = calloc(total, sizeof *b);
            for (hsize_t k = 0; k < total; k++) b[k] = nt ? toks[k % nt] : "";
            buf = b;
        } else if (is_str) {
            char *b = calloc(total, width);
            for (hsize_t k = 0; k < total && nt; k++) memcpy(b + k * width, toks[k % nt], strlen(toks[k % nt]));
            buf = b;
        } else {
            double *b = calloc(total, sizeof *b);
            for (hsize_t k = 0; k < total && nt; k++) b[k] = strtod(toks[k % nt], NULL);
            buf = b;
        }
        if (is_attr) H5Awrite(o, mtype, buf);
        else H5Dwrite(o, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
        free(buf);
    }
    if (o >= 0) {
        if (is_attr) H5Aclose(o);
        else H5Dclose(o);
    }
    H5Pclose(lcpl);
    H5Pclose(dcpl);
    H5Tclose(ftype);
    H5Tclose(mtype);
    H5Sclose(space);
}

/* Build the file described by the recipe (data, size) at the scratch path; returns the
 * path, or NULL when nothing could be created.  Raw mode: the bytes are the file. */
static inline const char *xb_recipe_file(const uint8_t *data, size_t size, const char *suffix)
{
    static int raw = -1;
    if (raw < 0) raw = getenv("XB_FUZZ_RAW") && atoi(getenv("XB_FUZZ_RAW")) != 0;
    const char *path = xb_fuzz_file(raw ? data : (const uint8_t *)"", raw ? size : 0, suffix);
    if (!path || raw) return path;
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return NULL;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *toks[64];
        size_t nt = 0;
        char *rest = NULL;
        /* Split into at most 64 tokens; remember where the values start. */
        char *p = line;
        char *starts[64];
        while (*p && nt < 64) {
            while (*p == ' ' || *p == '\t' || *p == '\r') p++;
            if (!*p) break;
            starts[nt] = p;
            toks[nt++] = p;
            while (*p && *p != ' ' && *p != '\t' && *p != '\r') p++;
            if (*p) *p++ = '\0';
        }
        if (nt == 0) continue;
        /* rest-of-line for scalar strings: from the first value token to the line end,
         * with the spaces strtok-style splitting removed put back. */
        size_t first = toks[0][0] == 'a' ? 5 : 4;
        if (nt > first) {
            rest = starts[first];
            for (size_t k = first; k + 1 < nt; k++) starts[k][strlen(starts[k])] = ' ';
        }
        if (strcmp(toks[0], "g") == 0 && nt >= 2) {
            hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
            H5Pset_create_intermediate_group(lcpl, 1);
            hid_t g = H5Gcreate2(f, toks[1], lcpl, H5P_DEFAULT, H5P_DEFAULT);
            if (g >= 0) H5Gclose(g);
            H5Pclose(lcpl);
        } else if (strcmp(toks[0], "d") == 0 && nt >= 4) {
            /* Value tokens are re-split from rest when it was re-joined. */
            char **vals = malloc(XB_RECIPE_MAX_WRITE * sizeof *vals);
            size_t nv = 0;
            char *copy = rest ? strdup(rest) : NULL;
            char *s2 = NULL;
            for (char *t = copy ? strtok_r(copy, " \t\r", &s2) : NULL; t && nv < XB_RECIPE_MAX_WRITE;
                 t = strtok_r(NULL, " \t\r", &s2))
                vals[nv++] = t;
            xb_recipe_object(f, 0, toks[1], NULL, toks[2], toks[3], vals, nv, rest);
            free(copy);
            free(vals);
        } else if (strcmp(toks[0], "a") == 0 && nt >= 5) {
            char **vals = malloc(XB_RECIPE_MAX_WRITE * sizeof *vals);
            size_t nv = 0;
            char *copy = rest ? strdup(rest) : NULL;
            char *s2 = NULL;
            for (char *t = copy ? strtok_r(copy, " \t\r", &s2) : NULL; t && nv < XB_RECIPE_MAX_WRITE;
                 t = strtok_r(NULL, " \t\r", &s2))
                vals[nv++] = t;
            xb_recipe_object(f, 1, toks[1], toks[2], toks[3], toks[4], vals, nv, rest);
            free(copy);
            free(vals);
        }
    }
    free(text);
    H5Fclose(f);
    return path;
}

#endif
