/* Held-out error of a fitted model by input distribution and, for a size/wire-resistance
 * family, by configuration (docs/fit.md "Held-out error by input"; docs/hdf5-model.md
 * metrics/heldout_inputs and family/<kind>/heldout_config).  The reference is the native
 * engine: the exact nodal solution of the same circuit (docs/native.md: 1e-9 of ngspice on
 * static reads), available wherever the fit runs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fit/fit_internal.h"

/* One table of the distributions: G drawn uniformly in [g_min + g_lo (g_max - g_min), g_max],
 * V uniformly in [v_lo, 1] x v_read (signed: in [-1, 1] x v_read), each input non-zero with
 * probability density. */
static const struct {
    const char *name;
    double g_lo, v_lo, density;
    int signed_v;
} k_inputs[XB_FIT_N_INPUTS] = {
    [XB_FIT_IN_UNIFORM] = {"uniform", 0.0, 0.0, 1.0, 0},   /* the campaigns' training inputs */
    [XB_FIT_IN_HIGH_GV] = {"high_gv", 0.75, 0.75, 1.0, 0}, /* top quarters: the largest IR drop */
    [XB_FIT_IN_SPARSE] = {"sparse", 0.0, 0.0, 0.25, 0},    /* ReLU-like activations (campaign default density) */
    [XB_FIT_IN_SIGNED] = {"signed", 0.0, 0.0, 1.0, 1},     /* signed inputs */
};

const char *xb_fit_input_name(int kind)
{
    return kind >= 0 && kind < XB_FIT_N_INPUTS ? k_inputs[kind].name : "?";
}

static void draw(int kind, const xb_array_params *p, gsl_rng *r, xb_matrix *g, xb_matrix *v)
{
    const double w = p->g_max_siemens - p->g_min_siemens;
    for (size_t q = 0; q < g->rows * g->cols; q++)
        g->data[q] = p->g_min_siemens + w * (k_inputs[kind].g_lo + (1 - k_inputs[kind].g_lo) * gsl_rng_uniform(r));
    for (size_t q = 0; q < v->rows * v->cols; q++) {
        double u = gsl_rng_uniform(r), x = k_inputs[kind].v_lo + (1 - k_inputs[kind].v_lo) * gsl_rng_uniform(r);
        if (k_inputs[kind].signed_v) x = 2 * x - 1;
        v->data[q] = u < k_inputs[kind].density ? x * p->v_read_volt : 0.0;
    }
    /* a sparse vector with no non-zero input scores nothing: give it one */
    for (size_t k = 0; k < v->rows; k++) {
        size_t nz = 0;
        for (size_t i = 0; i < v->cols; i++) nz += v->data[k * v->cols + i] != 0;
        if (!nz) v->data[k * v->cols + gsl_rng_uniform_int(r, v->cols)] = p->v_read_volt * gsl_rng_uniform_pos(r);
    }
}

int xb_fit_heldout_inputs(const xb_array_params *p, const xb_fit_params *m, uint64_t seed, xb_fit_metrics *met,
                          xb_error *err)
{
    if (!p || !m || !met) return xb_errorf(err, XB_EINPUT, "xb_fit_heldout_inputs: missing argument");
    const size_t K = XB_FIT_INPUT_VECTORS;
    gsl_rng *r = xb_fit_noise_rng(seed);
    xb_matrix *g = xb_matrix_new(p->rows, p->cols), *v = xb_matrix_new(K, p->rows);
    xb_matrix *im = xb_matrix_new(K, p->cols), *in = xb_matrix_new(K, p->cols), *ii = xb_matrix_new(K, p->cols);
    int rc = r && g && v && im && in && ii ? XB_OK : xb_errorf(err, XB_ERUNTIME, "out of memory");
    met->has_inputs = 1;
    met->input_vectors = K;
    for (int k = 0; k < XB_FIT_N_INPUTS && !rc; k++) {
        draw(k, p, r, g, v);
        met->input_rel_l2[k] = met->input_ideal_rel_l2[k] = NAN;
        rc = xb_fit_model_mvm(m, g, v, im, err);
        if (!rc) rc = xb_engine_mvm_ideal(g, v, ii, err);
        if (rc) break;
        xb_error e2; /* no reference (memory limit, a configuration it cannot solve): NaN */
        if (xb_engine_mvm_native(p, g, v, in, &e2) != XB_OK) continue;
        met->input_rel_l2[k] = xb_fit_rel_l2(im, in);
        met->input_ideal_rel_l2[k] = xb_fit_rel_l2(ii, in);
    }
    if (r) gsl_rng_free(r);
    xb_matrix_free(g);
    xb_matrix_free(v);
    xb_matrix_free(im);
    xb_matrix_free(in);
    xb_matrix_free(ii);
    return rc;
}

/* ---- metrics/heldout_inputs of one model ---- */
#define INPUT_NAMES "uniform,high_gv,sparse,signed"

int xb_fit_inputs_write(hid_t metrics, const xb_fit_metrics *met, xb_error *err)
{
    if (!met->has_inputs) return XB_OK;
    hid_t g;
    int rc = xb_h5_group_create(metrics, "heldout_inputs", &g, err);
    if (rc) return rc;
    hsize_t d = XB_FIT_N_INPUTS;
    const int64_t nv = (int64_t)met->input_vectors;
    rc = xb_h5_attr_set_int64(g, ".", "version", XB_FIT_INPUTS_VERSION, err);
    if (!rc) rc = xb_h5_attr_set_string(g, ".", "distributions", INPUT_NAMES, err);
    if (!rc) rc = xb_h5_attr_set_string(g, ".", "reference", "native", err);
    if (!rc) rc = xb_h5_write_doubles(g, "rel_l2", 1, &d, met->input_rel_l2, "1", err);
    if (!rc) rc = xb_h5_write_doubles(g, "ideal_rel_l2", 1, &d, met->input_ideal_rel_l2, "1", err);
    if (!rc) rc = xb_h5_write_int64s(g, "n_vectors", 0, NULL, &nv, "1", err);
    xb_h5_group_close(g);
    return rc;
}

/* A (n,) or (rows, n) dataset of doubles. */
static int read_table(hid_t g, const char *where, const char *name, size_t rows, size_t n, double *out, xb_error *err)
{
    double *d = NULL;
    int rk = 0;
    hsize_t dims[4];
    if (!xb_h5_exists(g, name)) return xb_errorf(err, XB_EINPUT, "%s/%s: missing dataset", where, name);
    int rc = xb_h5_read_doubles(g, name, &d, &rk, dims, err);
    if (rc) return rc;
    int ok = rows ? rk == 2 && dims[0] == rows && dims[1] == n : rk == 1 && dims[0] == n;
    if (!ok) rc = xb_errorf(err, XB_EINPUT, "%s/%s: expected shape (%s%zu)", where, name, rows ? "rows, " : "", n);
    else memcpy(out, d, (rows ? rows : 1) * n * sizeof *out);
    free(d);
    return rc;
}

static int check_version(hid_t g, const char *where, xb_error *err)
{
    int64_t ver = 0;
    if (!xb_h5_attr_exists(g, ".", "version")) return xb_errorf(err, XB_EINPUT, "%s: missing attribute 'version'", where);
    int rc = xb_h5_attr_get_int64(g, ".", "version", &ver, err);
    if (!rc && ver != XB_FIT_INPUTS_VERSION)
        rc = xb_errorf(err, XB_EINPUT, "%s: version %lld, this xbar reads version %d", where, (long long)ver,
                       XB_FIT_INPUTS_VERSION);
    return rc;
}

int xb_fit_inputs_read(hid_t metrics, const char *where, xb_fit_metrics *met, xb_error *err)
{
    met->has_inputs = 0;
    if (!xb_h5_exists(metrics, "heldout_inputs")) return XB_OK;
    char w[700];
    snprintf(w, sizeof w, "%s/heldout_inputs", where);
    hid_t g;
    int rc = xb_h5_group_open(metrics, "heldout_inputs", &g, err);
    if (rc) return rc;
    double nv = 0;
    rc = check_version(g, w, err);
    if (!rc) rc = read_table(g, w, "rel_l2", 0, XB_FIT_N_INPUTS, met->input_rel_l2, err);
    if (!rc) rc = read_table(g, w, "ideal_rel_l2", 0, XB_FIT_N_INPUTS, met->input_ideal_rel_l2, err);
    double *d = NULL;
    int rk = 0;
    hsize_t dims[4];
    if (!rc && !xb_h5_exists(g, "n_vectors")) rc = xb_errorf(err, XB_EINPUT, "%s/n_vectors: missing dataset", w);
    if (!rc) rc = xb_h5_read_doubles(g, "n_vectors", &d, &rk, dims, err);
    if (!rc && (rk != 0 || !(d[0] >= 0 && d[0] <= 1e9)))
        rc = xb_errorf(err, XB_EINPUT, "%s/n_vectors: expected a scalar count", w);
    if (!rc) nv = d[0];
    free(d);
    xb_h5_group_close(g);
    if (rc) return rc;
    met->input_vectors = (size_t)nv;
    met->has_inputs = 1;
    return XB_OK;
}

/* ---- family/<kind>/heldout_config ---- */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int xb_fit_family_configs(hid_t fg, const xb_fit_params *ms, size_t nm, const size_t *idx, size_t n,
                          const double (*coef)[3], xb_error *err)
{
    /* at most (models of a size - 1) midpoints per size: fewer than n rows */
    xb_fit_config_error *rows = calloc(n ? n : 1, sizeof *rows);
    double *rw = malloc((n ? n : 1) * sizeof *rw);
    size_t nr = 0;
    int rc = rows && rw ? XB_OK : xb_errorf(err, XB_ERUNTIME, "out of memory");
    for (size_t a = 0; a < n && !rc; a++) {
        const xb_array_params *ca = &ms[idx[a]].config;
        size_t first = a, nw = 0;
        for (size_t b = 0; b < a; b++)
            if (ms[idx[b]].config.rows == ca->rows && ms[idx[b]].config.cols == ca->cols) first = b;
        if (first != a) continue; /* each size once */
        for (size_t b = 0; b < n; b++) {
            const xb_array_params *cb = &ms[idx[b]].config;
            if (cb->rows == ca->rows && cb->cols == ca->cols && cb->r_wire_row_ohm == cb->r_wire_col_ohm)
                rw[nw++] = cb->r_wire_row_ohm;
        }
        qsort(rw, nw, sizeof *rw, cmp_double);
        for (size_t k = 0; k + 1 < nw && !rc; k++) {
            if (!(rw[k + 1] > rw[k])) continue;
            xb_array_params p = *ca;
            p.r_wire_row_ohm = p.r_wire_col_ohm = 0.5 * (rw[k] + rw[k + 1]);
            xb_fit_params m;
            xb_fit_choice ch;
            rc = xb_fit_choose(ms, nm, coef, &p, &m, &ch, err);
            if (rc) break;
            xb_fit_metrics met, mf;
            memset(&met, 0, sizeof met);
            memset(&mf, 0, sizeof mf);
            xb_fit_params fm;
            size_t tmpl;
            const uint64_t seed = 0x19c0f19ULL + 7919 * nr; /* the same inputs for both */
            rc = xb_fit_heldout_inputs(&p, &m, seed, &met, err);
            if (!rc) rc = xb_fit_family_model(ms, nm, coef, &p, &fm, &tmpl, err);
            if (!rc) rc = xb_fit_heldout_inputs(&p, &fm, seed, &mf, err);
            if (rc) break;
            xb_fit_config_error *e = &rows[nr++];
            e->device = p.device;
            e->cell = p.cell;
            e->rows = p.rows;
            e->cols = p.cols;
            e->r_wire_ohm = p.r_wire_row_ohm;
            memcpy(e->rel_l2, met.input_rel_l2, sizeof e->rel_l2);
            memcpy(e->family_rel_l2, mf.input_rel_l2, sizeof e->family_rel_l2);
            memcpy(e->ideal_rel_l2, met.input_ideal_rel_l2, sizeof e->ideal_rel_l2);
        }
    }
    if (!rc && nr > 0) {
        hid_t g;
        rc = xb_h5_group_create(fg, "heldout_config", &g, err);
        if (!rc) {
            int64_t *ir = malloc(nr * 2 * sizeof *ir);
            double *r = malloc(nr * sizeof *r), *t = malloc(nr * 3 * XB_FIT_N_INPUTS * sizeof *t);
            if (!ir || !r || !t) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
            for (size_t k = 0; !rc && k < nr; k++) {
                ir[k] = (int64_t)rows[k].rows;
                ir[nr + k] = (int64_t)rows[k].cols;
                r[k] = rows[k].r_wire_ohm;
                memcpy(t + k * XB_FIT_N_INPUTS, rows[k].rel_l2, sizeof rows[k].rel_l2);
                memcpy(t + (nr + k) * XB_FIT_N_INPUTS, rows[k].ideal_rel_l2, sizeof rows[k].ideal_rel_l2);
                memcpy(t + (2 * nr + k) * XB_FIT_N_INPUTS, rows[k].family_rel_l2, sizeof rows[k].family_rel_l2);
            }
            hsize_t d1 = nr, d2[2] = {nr, XB_FIT_N_INPUTS};
            if (!rc) rc = xb_h5_attr_set_int64(g, ".", "version", XB_FIT_INPUTS_VERSION, err);
            if (!rc) rc = xb_h5_attr_set_string(g, ".", "distributions", INPUT_NAMES, err);
            if (!rc) rc = xb_h5_attr_set_string(g, ".", "reference", "native", err);
            if (!rc) rc = xb_h5_write_int64s(g, "rows", 1, &d1, ir, "1", err);
            if (!rc) rc = xb_h5_write_int64s(g, "cols", 1, &d1, ir + nr, "1", err);
            if (!rc) rc = xb_h5_write_doubles(g, "r_wire_ohm", 1, &d1, r, "ohm", err);
            if (!rc) rc = xb_h5_write_doubles(g, "rel_l2", 2, d2, t, "1", err);
            if (!rc) rc = xb_h5_write_doubles(g, "ideal_rel_l2", 2, d2, t + nr * XB_FIT_N_INPUTS, "1", err);
            if (!rc) rc = xb_h5_write_doubles(g, "family_rel_l2", 2, d2, t + 2 * nr * XB_FIT_N_INPUTS, "1", err);
            free(ir);
            free(r);
            free(t);
            xb_h5_group_close(g);
        }
    }
    free(rows);
    free(rw);
    return rc;
}

/* Rows of one family group into out[*n..]. */
static int read_family_configs(hid_t f, const char *path, const char *name, xb_fit_config_error **out, size_t *n,
                               xb_error *err)
{
    char gp[300], where[700];
    snprintf(gp, sizeof gp, "family/%s/heldout_config", name);
    if (!xb_h5_exists(f, gp)) return XB_OK;
    snprintf(where, sizeof where, "%s:/%s", path, gp);
    char dev[64], cell[64];
    const char *us = strrchr(name, '_');
    if (!us || (size_t)(us - name) >= sizeof dev) return xb_errorf(err, XB_EINPUT, "%s: not <device>_<cell>", where);
    snprintf(dev, sizeof dev, "%.*s", (int)(us - name), name);
    snprintf(cell, sizeof cell, "%s", us + 1);
    xb_device_kind dk;
    xb_cell_kind ck;
    if (xb_device_from_name(dev, &dk) || xb_cell_from_name(cell, &ck))
        return xb_errorf(err, XB_EINPUT, "%s: not <device>_<cell>", where);
    hid_t g;
    int rc = xb_h5_group_open(f, gp, &g, err);
    if (rc) return rc;
    rc = check_version(g, where, err);
    double *r = NULL;
    int rk = 0;
    hsize_t d[4];
    if (!rc) rc = xb_h5_read_doubles(g, "r_wire_ohm", &r, &rk, d, err);
    const size_t m = !rc && rk == 1 ? (size_t)d[0] : 0;
    if (!rc && rk != 1) rc = xb_errorf(err, XB_EINPUT, "%s/r_wire_ohm: expected rank 1", where);
    double *rows = m ? malloc(m * sizeof *rows) : NULL, *cols = m ? malloc(m * sizeof *cols) : NULL;
    double *t = m ? malloc(3 * m * XB_FIT_N_INPUTS * sizeof *t) : NULL;
    xb_fit_config_error *o = m ? realloc(*out, (*n + m) * sizeof **out) : *out;
    if (!rc && m && (!rows || !cols || !t || !o)) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    if (o) *out = o;
    if (!rc && m) rc = read_table(g, where, "rows", 0, m, rows, err);
    if (!rc && m) rc = read_table(g, where, "cols", 0, m, cols, err);
    if (!rc && m) rc = read_table(g, where, "rel_l2", m, XB_FIT_N_INPUTS, t, err);
    if (!rc && m) rc = read_table(g, where, "ideal_rel_l2", m, XB_FIT_N_INPUTS, t + m * XB_FIT_N_INPUTS, err);
    if (!rc && m) rc = read_table(g, where, "family_rel_l2", m, XB_FIT_N_INPUTS, t + 2 * m * XB_FIT_N_INPUTS, err);
    for (size_t k = 0; !rc && k < m; k++) {
        xb_fit_config_error *e = &(*out)[*n + k];
        e->device = dk;
        e->cell = ck;
        e->rows = rows[k] >= 1 ? (size_t)rows[k] : 0;
        e->cols = cols[k] >= 1 ? (size_t)cols[k] : 0;
        e->r_wire_ohm = r[k];
        memcpy(e->rel_l2, t + k * XB_FIT_N_INPUTS, sizeof e->rel_l2);
        memcpy(e->ideal_rel_l2, t + (m + k) * XB_FIT_N_INPUTS, sizeof e->ideal_rel_l2);
        memcpy(e->family_rel_l2, t + (2 * m + k) * XB_FIT_N_INPUTS, sizeof e->family_rel_l2);
    }
    if (!rc) *n += m;
    xb_h5_group_close(g);
    free(r);
    free(rows);
    free(cols);
    free(t);
    return rc;
}

int xb_fit_file_config_errors(const char *path, xb_fit_config_error **out, size_t *n, xb_error *err)
{
    if (!path || !out || !n) return xb_errorf(err, XB_EINPUT, "xb_fit_file_config_errors: missing argument");
    *out = NULL;
    *n = 0;
    hid_t f;
    int rc = xb_h5_open(path, 0, &f, err);
    if (rc) return rc;
    char **names = NULL;
    size_t nn = 0;
    if (xb_h5_exists(f, "family")) rc = xb_h5_list(f, "family", &names, &nn, err);
    for (size_t k = 0; !rc && k < nn; k++) rc = read_family_configs(f, path, names[k], out, n, err);
    xb_h5_free_names(names, nn);
    xb_h5_close(f, NULL);
    if (rc) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}
