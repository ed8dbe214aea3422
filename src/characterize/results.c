/* The reader of results files (docs/hdf5-results.md): the one place outside the writer
 * (run.c, point.c, program.c) that knows the layout, for xbar fit, report and inspect. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xbar/characterize.h"
#include "xbar/h5.h"

struct xb_char_results {
    char *path;
    hid_t f;
    char **names;
    size_t n;
    char *campaign_name, *xbar_version, *ngspice_version, *campaign_text;
};

/* ------------------------------------------------------------------ the file */
static int check_format(hid_t f, const char *path, xb_error *err)
{
    if (!xb_h5_attr_exists(f, ".", "format"))
        return xb_errorf(err, XB_EINPUT, "%s: missing root attribute 'format' (not an xbar results file)", path);
    char *fmt = NULL;
    int rc = xb_h5_attr_get_string(f, ".", "format", &fmt, err);
    if (!rc && strcmp(fmt, XB_CHAR_FORMAT) != 0)
        rc = xb_errorf(err, XB_EINPUT,
                       "%s: root attribute 'format' is '%s', expected '%s' (not an xbar results file: xbar "
                       "characterize writes them)",
                       path, fmt, XB_CHAR_FORMAT);
    free(fmt);
    if (rc) return rc;
    if (!xb_h5_attr_exists(f, ".", "format_version"))
        return xb_errorf(err, XB_EINPUT, "%s: missing root attribute 'format_version'", path);
    int64_t ver = 0;
    rc = xb_h5_attr_get_int64(f, ".", "format_version", &ver, err);
    if (!rc && ver != XB_CHAR_FORMAT_VERSION)
        rc = xb_errorf(err, XB_EINPUT, "%s: root attribute 'format_version' is %lld, this xbar reads version %d", path,
                       (long long)ver, XB_CHAR_FORMAT_VERSION);
    return rc;
}

/* Optional provenance string: NULL when absent or not a string. */
static char *root_string(hid_t f, const char *name)
{
    char *s = NULL;
    if (xb_h5_attr_exists(f, ".", name) && xb_h5_attr_get_string(f, ".", name, &s, NULL) == XB_OK) return s;
    return NULL;
}

int xb_char_results_open(const char *path, xb_char_results **out, xb_error *err)
{
    if (!out) return xb_errorf(err, XB_EINPUT, "xb_char_results_open: no output");
    *out = NULL;
    if (!path) return xb_errorf(err, XB_EINPUT, "xb_char_results_open: no path");
    xb_char_results *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    r->f = -1;
    int rc = xb_h5_open(path, 0, &r->f, err);
    if (!rc) rc = check_format(r->f, path, err);
    if (!rc && !xb_h5_exists(r->f, "points")) rc = xb_errorf(err, XB_EINPUT, "%s: missing group /points", path);
    if (!rc) rc = xb_h5_list(r->f, "points", &r->names, &r->n, err);
    if (rc) {
        xb_char_results_close(r);
        return rc;
    }
    r->campaign_name = root_string(r->f, "campaign_name");
    r->xbar_version = root_string(r->f, "xbar_version");
    r->ngspice_version = root_string(r->f, "ngspice_version");
    if (xb_h5_exists(r->f, "campaign/text")) xb_h5_read_text(r->f, "campaign/text", &r->campaign_text, NULL);
    *out = r;
    return XB_OK;
}

void xb_char_results_close(xb_char_results *r)
{
    if (!r) return;
    xb_h5_close(r->f, NULL);
    xb_h5_free_names(r->names, r->n);
    free(r->campaign_name);
    free(r->xbar_version);
    free(r->ngspice_version);
    free(r->campaign_text);
    free(r->path);
    free(r);
}

void xb_char_results_provenance(const xb_char_results *r, xb_char_results_prov *out)
{
    out->campaign_name = r->campaign_name;
    out->xbar_version = r->xbar_version;
    out->ngspice_version = r->ngspice_version;
    out->campaign_text = r->campaign_text;
}

size_t xb_char_results_npoints(const xb_char_results *r) { return r ? r->n : 0; }

/* ------------------------------------------------------------------ a point's attributes */
/* Absent: "" / NAN; present but of another type: the helper's error. */
static int str_attr(hid_t g, const char *obj, const char *name, char *buf, size_t n, xb_error *err)
{
    buf[0] = '\0';
    if (!xb_h5_attr_exists(g, obj, name)) return XB_OK;
    char *s = NULL;
    int rc = xb_h5_attr_get_string(g, obj, name, &s, err);
    if (!rc) snprintf(buf, n, "%s", s);
    free(s);
    return rc;
}

static int num_attr(hid_t g, const char *obj, const char *name, double *v, xb_error *err)
{
    *v = NAN;
    if (!xb_h5_attr_exists(g, obj, name)) return XB_OK;
    return xb_h5_attr_get_double(g, obj, name, v, err);
}

typedef struct {
    const char *name;
    size_t offset, size; /* size: of a string field's buffer */
} field;

#define PT xb_char_result_point
#define NUM(f) {#f, offsetof(PT, f), 0}
#define STR(f) {#f, offsetof(PT, f), sizeof(((PT *)0)->f)}
static const field k_point_str[] = {STR(status), STR(device), STR(cell), STR(engine), STR(input), STR(key)};
static const field k_point_num[] = {
    NUM(rows),          NUM(cols),          NUM(var_program),   NUM(r_wire_row_ohm), NUM(r_wire_col_ohm),
    NUM(r_driver_ohm),  NUM(r_sense_ohm),   NUM(c_wire_farad),  NUM(v_read_volt),    NUM(g_min_siemens),
    NUM(g_max_siemens), NUM(v_gate_volt),
};
#define MVM(f) {#f, offsetof(PT, mvm.f), 0}
static const field k_mvm_num[] = {
    MVM(err_total_mean),     MVM(err_total_max),       MVM(err_target_mean),
    MVM(spice_check_rel_l2), MVM(e_read_static_joule), MVM(e_per_mac_static_joule),
};
#define TR(f) {#f, offsetof(PT, transient.f), 0}
static const field k_tr_num[] = {
    TR(t_settle_max_s), TR(e_read_joule), TR(e_per_mac_joule), TR(t_read_s), TR(t_rise_s), TR(c_wire_farad),
};
#undef PT
#undef NUM
#undef STR
#undef MVM
#undef TR
#define NF(a) (sizeof(a) / sizeof((a)[0]))

static double *num_at(xb_char_result_point *p, const field *f) { return (double *)((char *)p + f->offset); }

/* Numeric attributes of the object obj under g (absent: NAN). */
static int num_fields(hid_t g, const char *obj, const field *fs, size_t n, xb_char_result_point *p, xb_error *err)
{
    int rc = XB_OK;
    for (size_t k = 0; k < n; k++) *num_at(p, &fs[k]) = NAN;
    for (size_t k = 0; !rc && k < n; k++) rc = num_attr(g, obj, fs[k].name, num_at(p, &fs[k]), err);
    return rc;
}

static int read_point_attrs(hid_t g, xb_char_result_point *p, xb_error *err)
{
    int rc = XB_OK;
    for (size_t k = 0; !rc && k < NF(k_point_str); k++)
        rc = str_attr(g, ".", k_point_str[k].name, (char *)p + k_point_str[k].offset, k_point_str[k].size, err);
    if (!rc) rc = num_fields(g, ".", k_point_num, NF(k_point_num), p, err);
    p->has_mvm = xb_h5_exists(g, "mvm");
    p->has_ir_map = xb_h5_exists(g, "mvm/v_cell");
    p->has_read = xb_h5_exists(g, "read");
    p->has_transient = xb_h5_exists(g, "transient");
    p->has_program = xb_h5_exists(g, "program/g");
    p->has_trains = xb_h5_exists(g, "program/train_g");
    p->has_drift = xb_h5_exists(g, "drift");
    p->has_write = xb_h5_exists(g, "write/cells");
    /* the sections' attributes: NAN without the section */
    for (size_t k = 0; k < NF(k_mvm_num); k++) *num_at(p, &k_mvm_num[k]) = NAN;
    for (size_t k = 0; k < NF(k_tr_num); k++) *num_at(p, &k_tr_num[k]) = NAN;
    if (!rc && p->has_mvm) rc = num_fields(g, "mvm", k_mvm_num, NF(k_mvm_num), p, err);
    if (!rc && p->has_transient) rc = num_fields(g, "transient", k_tr_num, NF(k_tr_num), p, err);
    if (!rc && p->has_transient)
        rc = str_attr(g, "transient", "input", p->transient.input, sizeof p->transient.input, err);
    return rc;
}

int xb_char_results_point(const xb_char_results *r, size_t k, xb_char_result_point *out, xb_error *err)
{
    if (!r || !out) return xb_errorf(err, XB_EINPUT, "xb_char_results_point: no file or output");
    if (k >= r->n) return xb_errorf(err, XB_EINPUT, "%s: point %zu of %zu", r->path, k, r->n);
    memset(out, 0, sizeof *out);
    out->index = k;
    snprintf(out->name, sizeof out->name, "%s", r->names[k]);
    out->in_flight = r->names[k][0] == '.';
    char gp[128];
    snprintf(gp, sizeof gp, "points/%s", r->names[k]);
    hid_t g;
    int rc = xb_h5_group_open(r->f, gp, &g, err);
    if (rc) return rc;
    rc = read_point_attrs(g, out, err);
    xb_h5_group_close(g);
    return rc;
}

/* rows and cols of a point as sizes: integers in [1, 2^30]. */
static int point_shape(const xb_char_results *r, const xb_char_result_point *pt, size_t *rows, size_t *cols,
                       xb_error *err)
{
    if (isnan(pt->rows) || isnan(pt->cols))
        return xb_errorf(err, XB_EINPUT, "%s:/points/%s: missing attribute '%s'", r->path, pt->name,
                         isnan(pt->rows) ? "rows" : "cols");
    const double lim = (double)(1u << 30);
    if (!(pt->rows >= 1 && pt->rows <= lim && pt->rows == floor(pt->rows)) ||
        !(pt->cols >= 1 && pt->cols <= lim && pt->cols == floor(pt->cols)))
        return xb_errorf(err, XB_EINPUT, "%s:/points/%s: rows/cols must be integers >= 1", r->path, pt->name);
    *rows = (size_t)pt->rows;
    *cols = (size_t)pt->cols;
    return XB_OK;
}

int xb_char_results_point_config(const xb_char_results *r, const xb_char_result_point *pt, xb_array_params *p,
                                 xb_error *err)
{
    if (!r || !pt || !p) return xb_errorf(err, XB_EINPUT, "xb_char_results_point_config: no point");
    xb_device_kind d;
    if (!pt->device[0]) return xb_errorf(err, XB_EINPUT, "%s:/points/%s: missing attribute 'device'", r->path, pt->name);
    if (xb_device_from_name(pt->device, &d))
        return xb_errorf(err, XB_EINPUT, "%s:/points/%s: unknown device '%s'", r->path, pt->name, pt->device);
    xb_array_params_default(p, d);
    if (pt->cell[0] && xb_cell_from_name(pt->cell, &p->cell))
        return xb_errorf(err, XB_EINPUT, "%s:/points/%s: unknown cell '%s'", r->path, pt->name, pt->cell);
    int rc = point_shape(r, pt, &p->rows, &p->cols, err);
    if (rc) return rc;
    if (!isnan(pt->var_program)) p->var_program = (int)pt->var_program;
    /* the stored circuit values over the device defaults */
    const struct { double v; double *to; } at[] = {
        {pt->r_wire_row_ohm, &p->r_wire_row_ohm}, {pt->r_wire_col_ohm, &p->r_wire_col_ohm},
        {pt->r_driver_ohm, &p->r_driver_ohm},     {pt->r_sense_ohm, &p->r_sense_ohm},
        {pt->c_wire_farad, &p->c_wire_farad},     {pt->v_read_volt, &p->v_read_volt},
        {pt->g_min_siemens, &p->g_min_siemens},   {pt->g_max_siemens, &p->g_max_siemens},
        {pt->v_gate_volt, &p->v_gate_volt},
    };
    for (size_t k = 0; k < sizeof at / sizeof at[0]; k++)
        if (!isnan(at[k].v)) *at[k].to = at[k].v;
    /* The configuration comes from the file: check it like any input (a point with
     * g_min > g_max was fitted into a model file its own reader rejects; found by
     * tests/fuzz/fuzz_results_h5). */
    xb_error perr;
    if (xb_array_params_check(p, &perr))
        return xb_errorf(err, XB_EINPUT, "%s:/points/%s: %s", r->path, pt->name, perr.msg);
    return XB_OK;
}

/* ------------------------------------------------------------------ a point's datasets */
static int open_section(const xb_char_results *r, const xb_char_result_point *pt, const char *section, hid_t *g,
                        xb_error *err)
{
    char gp[160];
    snprintf(gp, sizeof gp, "points/%s/%s", pt->name, section);
    return xb_h5_group_open(r->f, gp, g, err);
}

void xb_char_result_mvm_clear(xb_char_result_mvm *m)
{
    if (!m) return;
    free(m->g_target);
    free(m->g);
    free(m->v);
    free(m->i_circuit);
    memset(m, 0, sizeof *m);
}

static int read_mvm(const xb_char_results *r, const xb_char_result_point *pt, hid_t mg, xb_char_result_mvm *m,
                    xb_error *err)
{
    const char *path = r->path, *nm = pt->name;
    const size_t R = m->rows, C = m->cols;
    int rk;
    hsize_t dg[4], dv[4], di[4], dt[4];
    int rc = xb_h5_read_doubles(mg, "g", &m->g, &rk, dg, err);
    if (!rc && (rk != 3 || dg[1] != R || dg[2] != C))
        rc = xb_errorf(err, XB_EINPUT, "%s:/points/%s/mvm/g: shape must be (N, %zu, %zu)", path, nm, R, C);
    if (!rc) rc = xb_h5_read_doubles(mg, "v", &m->v, &rk, dv, err);
    if (!rc && (rk != 3 || dv[0] != dg[0] || dv[2] != R))
        rc = xb_errorf(err, XB_EINPUT, "%s:/points/%s/mvm/v: shape must be (%llu, K, %zu)", path, nm,
                       (unsigned long long)dg[0], R);
    if (!rc) rc = xb_h5_read_doubles(mg, "i_circuit", &m->i_circuit, &rk, di, err);
    if (!rc && (rk != 3 || di[0] != dg[0] || di[1] != dv[1] || di[2] != C))
        rc = xb_errorf(err, XB_EINPUT, "%s:/points/%s/mvm/i_circuit: shape must be (%llu, %llu, %zu)", path, nm,
                       (unsigned long long)dg[0], (unsigned long long)dv[1], C);
    if (!rc && xb_h5_exists(mg, "g_target")) {
        rc = xb_h5_read_doubles(mg, "g_target", &m->g_target, &rk, dt, err);
        if (!rc && (rk != 3 || dt[1] != R || dt[2] != C || dt[0] == 0 || dg[0] % dt[0] != 0))
            rc = xb_errorf(err, XB_EINPUT, "%s:/points/%s/mvm/g_target: shape must be (S, %zu, %zu), S dividing N",
                           path, nm, R, C);
        if (!rc) m->S = (size_t)dt[0];
    }
    if (!rc) {
        m->N = (size_t)dg[0];
        m->K = (size_t)dv[1];
    }
    return rc;
}

int xb_char_results_read_mvm(const xb_char_results *r, const xb_char_result_point *pt, xb_char_result_mvm *out,
                             xb_error *err)
{
    if (!r || !pt || !out) return xb_errorf(err, XB_EINPUT, "xb_char_results_read_mvm: no point");
    memset(out, 0, sizeof *out);
    int rc = point_shape(r, pt, &out->rows, &out->cols, err);
    hid_t mg = -1;
    if (!rc) rc = open_section(r, pt, "mvm", &mg, err);
    if (!rc) rc = read_mvm(r, pt, mg, out, err);
    xb_h5_group_close(mg);
    if (rc) xb_char_result_mvm_clear(out);
    return rc;
}

int xb_char_results_read_ir_map(const xb_char_results *r, const xb_char_result_point *pt, double **v_cell,
                                size_t *rows, size_t *cols, xb_error *err)
{
    if (!r || !pt || !v_cell || !rows || !cols) return xb_errorf(err, XB_EINPUT, "xb_char_results_read_ir_map: no point");
    *v_cell = NULL;
    hid_t mg;
    int rc = open_section(r, pt, "mvm", &mg, err);
    if (rc) return rc;
    int rk;
    hsize_t d[4];
    double *m = NULL;
    rc = xb_h5_read_doubles(mg, "v_cell", &m, &rk, d, err);
    xb_h5_group_close(mg);
    size_t R = 0, C = 0;
    if (!rc && (rk != 2 || (point_shape(r, pt, &R, &C, NULL) == XB_OK && (d[0] != R || d[1] != C))))
        rc = xb_errorf(err, XB_EINPUT, "%s:/points/%s/mvm/v_cell: shape must be (rows, cols)", r->path, pt->name);
    if (rc) {
        free(m);
        return rc;
    }
    *v_cell = m;
    *rows = (size_t)d[0];
    *cols = (size_t)d[1];
    return XB_OK;
}

int xb_char_results_read_transient(const xb_char_results *r, const xb_char_result_point *pt,
                                   xb_char_result_transient *out, xb_error *err)
{
    if (!r || !pt || !out) return xb_errorf(err, XB_EINPUT, "xb_char_results_read_transient: no point");
    memset(out, 0, sizeof *out);
    hid_t tg;
    int rc = open_section(r, pt, "transient", &tg, err);
    if (rc) return rc;
    int rk1, rk2;
    hsize_t d1[4], d2[4];
    rc = xb_h5_read_doubles(tg, "time", &out->time_s, &rk1, d1, err);
    if (!rc) rc = xb_h5_read_doubles(tg, "i_col", &out->i_col_amp, &rk2, d2, err);
    xb_h5_group_close(tg);
    size_t R = 0, C = 0;
    if (!rc && (rk1 != 1 || rk2 != 2 || d2[0] != d1[0] || d1[0] < 2 ||
                (point_shape(r, pt, &R, &C, NULL) == XB_OK && d2[1] != C)))
        rc = xb_errorf(err, XB_EINPUT, "%s:/points/%s/transient: time must be (T >= 2) and i_col (T, cols)", r->path,
                       pt->name);
    if (rc) {
        xb_char_result_transient_clear(out);
        return rc;
    }
    out->T = (size_t)d1[0];
    out->cols = (size_t)d2[1];
    return XB_OK;
}

void xb_char_result_transient_clear(xb_char_result_transient *t)
{
    if (!t) return;
    free(t->time_s);
    free(t->i_col_amp);
    memset(t, 0, sizeof *t);
}

int xb_char_results_read_schemes(const xb_char_results *r, const xb_char_result_point *pt,
                                 xb_char_result_read *out, xb_error *err)
{
    if (!r || !pt || !out) return xb_errorf(err, XB_EINPUT, "xb_char_results_read_schemes: no point");
    memset(out, 0, sizeof *out);
    hid_t rg;
    int rc = open_section(r, pt, "read", &rg, err);
    if (rc) return rc;
    char schemes[256];
    double *m = NULL;
    int rk;
    hsize_t d[4];
    rc = str_attr(rg, ".", "schemes", schemes, sizeof schemes, err);
    if (!rc) rc = xb_h5_read_doubles(rg, "margin", &m, &rk, d, err);
    xb_h5_group_close(rg);
    if (!rc && rk != 1) rc = xb_errorf(err, XB_EINPUT, "%s:/points/%s/read/margin: must be 1-D", r->path, pt->name);
    char *save = NULL, *tok = rc ? NULL : strtok_r(schemes, ",", &save);
    for (size_t q = 0; tok && q < d[0] && out->n < XB_CHAR_MAX_SCHEMES; q++, tok = strtok_r(NULL, ",", &save)) {
        snprintf(out->scheme[out->n], sizeof out->scheme[0], "%s", tok);
        out->margin[out->n++] = m[q];
    }
    free(m);
    return rc;
}

int xb_char_results_read_program(const xb_char_results *r, const xb_char_result_point *pt, double **g, size_t *n,
                                 xb_error *err)
{
    if (!r || !pt || !g || !n) return xb_errorf(err, XB_EINPUT, "xb_char_results_read_program: no point");
    *g = NULL;
    *n = 0;
    hid_t pg;
    int rc = open_section(r, pt, "program", &pg, err);
    if (rc) return rc;
    int rk;
    hsize_t d[4];
    rc = xb_h5_read_doubles(pg, "g", g, &rk, d, err);
    xb_h5_group_close(pg);
    if (!rc && rk != 1) {
        free(*g);
        *g = NULL;
        return xb_errorf(err, XB_EINPUT, "%s:/points/%s/program/g: must be 1-D", r->path, pt->name);
    }
    if (!rc) *n = (size_t)d[0];
    return rc;
}

/* ------------------------------------------------------------------ pulse trains */
void xb_char_result_trains_clear(xb_char_result_trains *t)
{
    if (!t) return;
    free(t->g);
    free(t->e);
    free(t->dir);
    memset(t, 0, sizeof *t);
}

/* A numeric attribute of the program group (stored as double or integer). */
static int train_attr(hid_t g, const char *where, const char *name, double *v, xb_error *err)
{
    if (!xb_h5_attr_exists(g, ".", name)) return xb_errorf(err, XB_EINPUT, "%s: missing attribute '%s'", where, name);
    if (xb_h5_attr_get_double(g, ".", name, v, NULL) == XB_OK) return XB_OK;
    int64_t i;
    if (xb_h5_attr_get_int64(g, ".", name, &i, NULL) == XB_OK) {
        *v = (double)i;
        return XB_OK;
    }
    return xb_errorf(err, XB_EINPUT, "%s: attribute '%s' is not a number", where, name);
}

/* One dataset of the program group with its rank and unit; dims out. */
static int train_ds(hid_t g, const char *where, const char *name, int rank, const char *unit, double **v,
                    hsize_t *d, xb_error *err)
{
    *v = NULL;
    if (!xb_h5_exists(g, name)) return xb_errorf(err, XB_EINPUT, "%s/%s: missing dataset", where, name);
    int rk;
    int rc = xb_h5_read_doubles(g, name, v, &rk, d, err);
    if (rc) {
        xb_error_prefix(err, "%s/%s: ", where, name);
        return rc;
    }
    char u[32] = "";
    xb_h5_read_units(g, name, u, sizeof u, NULL);
    if (rk != rank) rc = xb_errorf(err, XB_EINPUT, "%s/%s: rank %d, expected %d", where, name, rk, rank);
    else if (strcmp(u, unit) != 0) rc = xb_errorf(err, XB_EINPUT, "%s/%s: unit '%s', expected '%s'", where, name, u, unit);
    if (rc) {
        free(*v);
        *v = NULL;
    }
    return rc;
}

static int train_shapes(const char *where, const hsize_t *dg, const hsize_t *dd, const hsize_t *de, xb_error *err)
{
    if (dg[0] < 1 || dg[1] < 1 || dg[2] < 2)
        return xb_errorf(err, XB_EINPUT, "%s/train_g: shape must be (devices, starts, slots + 1) with slots >= 1",
                         where);
    if (dd[0] != dg[1] || dd[1] + 1 != dg[2])
        return xb_errorf(err, XB_EINPUT,
                         "%s/train_direction: shape (%llu, %llu) does not match train_g (%llu, %llu, %llu)", where,
                         (unsigned long long)dd[0], (unsigned long long)dd[1], (unsigned long long)dg[0],
                         (unsigned long long)dg[1], (unsigned long long)dg[2]);
    if (de[0] != dg[0] || de[1] != dg[1] || de[2] + 1 != dg[2])
        return xb_errorf(err, XB_EINPUT, "%s/train_energy: shape does not match train_g", where);
    return XB_OK;
}

static int train_recipe(hid_t pg, const char *where, xb_char_result_trains *t, xb_error *err)
{
    double cyc = 0, pul = 0, npre = 0;
    int rc = train_attr(pg, where, "up_volt", &t->up_volt, err);
    if (!rc) rc = train_attr(pg, where, "down_volt", &t->down_volt, err);
    if (!rc) rc = train_attr(pg, where, "pulse_width_s", &t->pulse_width_s, err);
    if (!rc) rc = train_attr(pg, where, "cycles", &cyc, err);
    if (!rc) rc = train_attr(pg, where, "pulses", &pul, err);
    if (!rc) rc = train_attr(pg, where, "preset_slots", &npre, err);
    if (!rc && !(cyc >= 1 && pul >= 1 && npre >= 0 && 2 * cyc * pul + npre == (double)t->K))
        rc = xb_errorf(err, XB_EINPUT, "%s: cycles %g x 2 x pulses %g + preset_slots %g != %zu slots", where, cyc, pul,
                       npre, t->K);
    if (!rc) {
        t->cycles = (size_t)cyc;
        t->pulses = (size_t)pul;
        t->preset_slots = (size_t)npre;
    }
    return rc;
}

int xb_char_results_read_trains(const xb_char_results *r, const xb_char_result_point *pt,
                                xb_char_result_trains *out, xb_error *err)
{
    if (!r || !pt || !out) return xb_errorf(err, XB_EINPUT, "xb_char_results_read_trains: no point");
    memset(out, 0, sizeof *out);
    char where[512];
    snprintf(where, sizeof where, "%s:/points/%s/program", r->path, pt->name);
    hid_t pg;
    int rc = open_section(r, pt, "program", &pg, err);
    if (rc) return rc;
    double *dirv = NULL;
    hsize_t dg[4], dd[4], de[4];
    rc = train_ds(pg, where, "train_g", 3, "S", &out->g, dg, err);
    if (!rc) rc = train_ds(pg, where, "train_direction", 2, "1", &dirv, dd, err);
    if (!rc) rc = train_ds(pg, where, "train_energy", 3, "J", &out->e, de, err);
    if (!rc) rc = train_shapes(where, dg, dd, de, err);
    if (!rc) {
        out->D = (size_t)dg[0];
        out->S = (size_t)dg[1];
        out->K = (size_t)dd[1];
        out->dir = malloc(out->S * out->K * sizeof *out->dir);
        if (!out->dir) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    for (size_t k = 0; !rc && k < out->S * out->K; k++) {
        if (dirv[k] != -1 && dirv[k] != 0 && dirv[k] != 1)
            rc = xb_errorf(err, XB_EINPUT, "%s/train_direction: value %g (not -1, 0, 1)", where, dirv[k]);
        else out->dir[k] = (int)dirv[k];
    }
    free(dirv);
    if (!rc) rc = train_recipe(pg, where, out, err);
    xb_h5_group_close(pg);
    if (rc) xb_char_result_trains_clear(out);
    return rc;
}

void xb_char_result_drift_clear(xb_char_result_drift *d)
{
    if (!d) return;
    free(d->t_s);
    free(d->g);
    memset(d, 0, sizeof *d);
}

static int check_drift(const xb_char_results *r, const xb_char_result_point *pt, int r1, const hsize_t *d1, int r2,
                       const hsize_t *d2, const double *t_s, xb_error *err)
{
    if (r1 != 1 || r2 != 2 || d2[0] != d1[0])
        return xb_errorf(err, XB_EINPUT, "%s:/points/%s/drift: t_s must be (T,) and g (T, n)", r->path, pt->name);
    if (d1[0] < 3 || d1[0] > XB_CHAR_DRIFT_MAX_TIMES)
        return xb_errorf(err, XB_EINPUT, "%s:/points/%s/drift/t_s: %llu reads, need 3..%d", r->path, pt->name,
                         (unsigned long long)d1[0], XB_CHAR_DRIFT_MAX_TIMES);
    for (size_t t = 0; t < (size_t)d1[0]; t++)
        if (!(t_s[t] > 0) || (t && !(t_s[t] > t_s[t - 1])))
            return xb_errorf(err, XB_EINPUT, "%s:/points/%s/drift/t_s: times must be positive and increasing", r->path,
                             pt->name);
    return XB_OK;
}

int xb_char_results_read_drift(const xb_char_results *r, const xb_char_result_point *pt,
                               xb_char_result_drift *out, xb_error *err)
{
    if (!r || !pt || !out) return xb_errorf(err, XB_EINPUT, "xb_char_results_read_drift: no point");
    memset(out, 0, sizeof *out);
    hid_t dg;
    int rc = open_section(r, pt, "drift", &dg, err);
    if (rc) return rc;
    int r1, r2;
    hsize_t d1[4], d2[4];
    rc = xb_h5_read_doubles(dg, "t_s", &out->t_s, &r1, d1, err);
    if (!rc) rc = xb_h5_read_doubles(dg, "g", &out->g, &r2, d2, err);
    xb_h5_group_close(dg);
    if (!rc) rc = check_drift(r, pt, r1, d1, r2, d2, out->t_s, err);
    if (rc) {
        xb_char_result_drift_clear(out);
        return rc;
    }
    out->T = (size_t)d1[0];
    out->n = (size_t)d2[1];
    return XB_OK;
}

void xb_char_result_write_clear(xb_char_result_write *w)
{
    if (!w) return;
    free(w->g_target);
    free(w->g_final);
    free(w->disturb);
    free(w->pulses);
    free(w->e_joule);
    memset(w, 0, sizeof *w);
}

/* One rows x cols dataset of write/cells. */
static int write_cells(const xb_char_results *r, const xb_char_result_point *pt, hid_t wg, const char *name,
                       size_t R, size_t C, double **out, xb_error *err)
{
    char path[64];
    snprintf(path, sizeof path, "cells/%s", name);
    int rk;
    hsize_t d[4];
    int rc = xb_h5_read_doubles(wg, path, out, &rk, d, err);
    if (!rc && (rk != 2 || d[0] != R || d[1] != C))
        rc = xb_errorf(err, XB_EINPUT, "%s:/points/%s/write/%s: shape must be (rows, cols)", r->path, pt->name, path);
    return rc;
}

int xb_char_results_read_write(const xb_char_results *r, const xb_char_result_point *pt, xb_char_result_write *out,
                               xb_error *err)
{
    if (!r || !pt || !out) return xb_errorf(err, XB_EINPUT, "xb_char_results_read_write: no point");
    memset(out, 0, sizeof *out);
    int rc = point_shape(r, pt, &out->rows, &out->cols, err);
    hid_t wg = -1;
    if (!rc) rc = open_section(r, pt, "write", &wg, err);
    const size_t R = out->rows, C = out->cols;
    if (!rc) rc = str_attr(wg, ".", "scheme", out->scheme, sizeof out->scheme, err);
    struct { const char *name; double *v; } a[] = {
        {"verify", &out->verify}, {"tol", &out->tol}, {"e_total_joule", &out->e_total_joule},
        {"t_program_s", &out->t_program_s}, {"pulses_mean", &out->pulses_mean},
        {"converged_fraction", &out->converged_fraction}, {"rms_error_siemens", &out->rms_error_siemens},
        {"max_abs_disturb_siemens", &out->max_abs_disturb_siemens},
    };
    for (size_t k = 0; !rc && k < NF(a); k++) rc = num_attr(wg, ".", a[k].name, a[k].v, err);
    if (!rc) rc = write_cells(r, pt, wg, "g_target", R, C, &out->g_target, err);
    if (!rc) rc = write_cells(r, pt, wg, "g_final", R, C, &out->g_final, err);
    if (!rc) rc = write_cells(r, pt, wg, "disturb", R, C, &out->disturb, err);
    if (!rc) rc = write_cells(r, pt, wg, "pulses", R, C, &out->pulses, err);
    if (!rc) rc = write_cells(r, pt, wg, "e_joule", R, C, &out->e_joule, err);
    xb_h5_group_close(wg);
    if (rc) xb_char_result_write_clear(out);
    return rc;
}
