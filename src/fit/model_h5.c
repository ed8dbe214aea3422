/* Model HDF5 file: writer, validating reader, and model selection (docs/hdf5-model.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xbar/fit.h"
#include "xbar/h5.h"

typedef struct {
    const char *name;
    size_t offset;
    const char *unit;
} dfield;

#define CF(f, u) {#f, offsetof(xb_array_params, f), u}
/* The array configuration, stored completely so that the model's nominal circuit is known. */
static const dfield k_config[] = {
    CF(r_wire_row_ohm, "ohm"),    CF(r_wire_col_ohm, "ohm"),     CF(r_driver_ohm, "ohm"),
    CF(r_sense_ohm, "ohm"),       CF(c_wire_farad, "F"),         CF(v_read_volt, "V"),
    CF(rram_v0_volt, "V"),        CF(pcm_v0_low_volt, "V"),      CF(pcm_v0_high_volt, "V"),
    CF(g_min_siemens, "S"),       CF(g_max_siemens, "S"),        CF(nmos_kp_a_per_v2, "A/V^2"),
    CF(nmos_w_over_l, "1"),       CF(nmos_vt_volt, "V"),         CF(nmos_lambda_per_v, "1/V"),
    CF(v_gate_volt, "V"),         CF(sel_is_amp, "A"),           CF(sel_vs_volt, "V"),
    CF(stuck_on_rate, "1"),       CF(stuck_off_rate, "1"),
};
#undef CF
#define PF(f, u) {#f, offsetof(xb_fit_params, f), u}
static const dfield k_params[] = {
    PF(r_row_ohm, "ohm"),         PF(r_col_ohm, "ohm"),          PF(r_driver_ohm, "ohm"),
    PF(r_sense_ohm, "ohm"),       PF(r_series_ohm, "ohm"),       PF(g_ref_min_siemens, "S"),
    PF(g_ref_max_siemens, "S"),   PF(v_read_volt, "V"),          PF(gain, "1"),
    PF(resid_sigma_rel, "1"),
};
static const dfield k_valid[] = {
    {"g_min_siemens", offsetof(xb_fit_params, valid_g_min_siemens), "S"},
    {"g_max_siemens", offsetof(xb_fit_params, valid_g_max_siemens), "S"},
    {"v_min_volt", offsetof(xb_fit_params, valid_v_min_volt), "V"},
    {"v_max_volt", offsetof(xb_fit_params, valid_v_max_volt), "V"},
};
#undef PF
#define MF(f, u) {#f, offsetof(xb_fit_metrics, f), u}
static const dfield k_metrics[] = {
    MF(train_rel_l2, "1"),        MF(heldout_rel_l2, "1"),      MF(heldout_ideal_rel_l2, "1"),
    MF(nominal_rel_l2, "1"),      MF(heldout_max_abs_err_amp, "A"), MF(seconds, "s"),
};
#undef MF
#define NF(a) (sizeof(a) / sizeof((a)[0]))

static int put(hid_t g, const char *name, double v, const char *unit, xb_error *err)
{
    return xb_h5_write_doubles(g, name, 0, NULL, &v, unit, err);
}

static int put_i(hid_t g, const char *name, int64_t v, xb_error *err)
{
    return xb_h5_write_int64s(g, name, 0, NULL, &v, "1", err);
}

static int put_fields(hid_t loc, const char *group, const void *obj, const dfield *f, size_t n,
                      xb_error *err)
{
    hid_t g = -1;
    int rc = xb_h5_group_create(loc, group, &g, err);
    if (rc) return rc;
    for (size_t k = 0; !rc && k < n; k++)
        rc = put(g, f[k].name, *(const double *)((const char *)obj + f[k].offset), f[k].unit, err);
    xb_h5_group_close(g);
    return rc;
}

int xb_fit_file_create(const char *path, int overwrite, const xb_fit_provenance *prov, hid_t *out,
                       xb_error *err)
{
    hid_t f;
    int rc = xb_h5_create(path, overwrite, &f, err);
    if (rc) return rc;
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    rc = xb_h5_attr_set_string(f, ".", "format", XB_FIT_FORMAT, err);
    if (!rc) rc = xb_h5_attr_set_int64(f, ".", "version", XB_FIT_FORMAT_VERSION, err);
    if (!rc) rc = xb_h5_attr_set_string(f, ".", "xbar_version", xb_version(), err);
    if (!rc) rc = xb_h5_attr_set_string(f, ".", "created_utc", date, err);
    if (prov) {
        if (!rc && prov->source_path) rc = xb_h5_attr_set_string(f, ".", "source_file", prov->source_path, err);
        if (!rc && prov->campaign_name) rc = xb_h5_attr_set_string(f, ".", "campaign", prov->campaign_name, err);
        if (!rc && prov->ngspice_version)
            rc = xb_h5_attr_set_string(f, ".", "ngspice_version", prov->ngspice_version, err);
        if (!rc && prov->results_xbar_version)
            rc = xb_h5_attr_set_string(f, ".", "results_xbar_version", prov->results_xbar_version, err);
        if (!rc && prov->campaign_text) {
            hid_t g;
            rc = xb_h5_group_create(f, "provenance", &g, err);
            if (!rc) {
                rc = xb_h5_write_text(g, "campaign_text", prov->campaign_text, err);
                xb_h5_group_close(g);
            }
        }
    }
    if (!rc) {
        hid_t g;
        rc = xb_h5_group_create(f, "models", &g, err);
        if (!rc) xb_h5_group_close(g);
    }
    if (rc) {
        xb_h5_close(f, NULL);
        return rc;
    }
    *out = f;
    return XB_OK;
}

int xb_fit_file_add_model(hid_t f, size_t index, const xb_fit_params *m, const xb_fit_metrics *met,
                          const char *source, xb_error *err)
{
    char path[64];
    snprintf(path, sizeof path, "models/%03zu", index);
    hid_t g;
    int rc = xb_h5_group_create(f, path, &g, err);
    if (rc) return rc;
    rc = xb_h5_attr_set_string(g, ".", "device", xb_device_name(m->config.device), err);
    if (!rc) rc = xb_h5_attr_set_string(g, ".", "cell", xb_cell_name(m->config.cell), err);
    if (!rc) rc = xb_h5_attr_set_string(g, ".", "source", source ? source : "", err);
    if (!rc) rc = xb_h5_attr_set_string(g, ".", "form", "xbar-irdrop-sinh-v1", err);
    /* config */
    if (!rc) rc = put_fields(g, "config", &m->config, k_config, NF(k_config), err);
    if (!rc) {
        hid_t c;
        rc = xb_h5_group_open(g, "config", &c, err);
        if (!rc) {
            rc = put_i(c, "rows", (int64_t)m->config.rows, err);
            if (!rc) rc = put_i(c, "cols", (int64_t)m->config.cols, err);
            xb_h5_group_close(c);
        }
    }
    /* params */
    if (!rc) rc = put_fields(g, "params", m, k_params, NF(k_params), err);
    if (!rc) {
        hid_t c;
        rc = xb_h5_group_open(g, "params", &c, err);
        if (!rc) {
            rc = put_i(c, "n_sweeps", m->n_sweeps, err);
            hsize_t d = m->n_knots;
            if (!rc) rc = xb_h5_write_doubles(c, "knot_x", 1, &d, m->knot_x, "1", err);
            if (!rc) rc = xb_h5_write_doubles(c, "knot_v0_volt", 1, &d, m->knot_v0_volt, "V", err);
            xb_h5_group_close(c);
        }
    }
    if (!rc) rc = put_fields(g, "validity", m, k_valid, NF(k_valid), err);
    if (!rc && met) {
        rc = put_fields(g, "metrics", met, k_metrics, NF(k_metrics), err);
        if (!rc) {
            hid_t c;
            rc = xb_h5_group_open(g, "metrics", &c, err);
            if (!rc) {
                rc = put_i(c, "n_train_vectors", (int64_t)met->n_train_vectors, err);
                if (!rc) rc = put_i(c, "n_heldout_vectors", (int64_t)met->n_heldout_vectors, err);
                if (!rc) rc = put_i(c, "iterations", met->iterations, err);
                if (!rc) rc = put_i(c, "lm_status", met->lm_status, err);
                xb_h5_group_close(c);
            }
        }
    }
    xb_h5_group_close(g);
    return rc;
}

/* ---- reading ---- */
static int get_scalar(hid_t g, const char *gname, const char *name, const char *unit, double *v,
                      xb_error *err)
{
    double *d = NULL;
    int rank;
    hsize_t dims[4];
    int rc = xb_h5_read_doubles(g, name, &d, &rank, dims, err);
    if (rc) return rc;
    if (rank != 0) {
        free(d);
        return xb_errorf(err, XB_EINPUT, "%s/%s: expected a scalar, got rank %d", gname, name, rank);
    }
    *v = d[0];
    free(d);
    if (unit) {
        char u[64];
        if (xb_h5_read_units(g, name, u, sizeof u, err)) return err ? err->code : XB_EINPUT;
        if (strcmp(u, unit) != 0)
            return xb_errorf(err, XB_EINPUT, "%s/%s: unit '%s', expected '%s'", gname, name, u, unit);
    }
    return XB_OK;
}

/* A value read from the file: within the physical limits of its unit (common.h: S, V, ohm,
 * F, s, A), finite for the other units. */
static int check_field(const char *gname, const char *name, const char *unit, double v, xb_error *err)
{
    char where[600];
    snprintf(where, sizeof where, "%s/%s", gname, name);
    xb_quantity q;
    if (xb_limit_from_unit(unit, &q) == XB_OK) return xb_check_value(q, v, where, err);
    return isfinite(v) ? XB_OK : xb_errorf(err, XB_EINPUT, "%s: not finite", where);
}

/* The scalars of group `group`; check: their values against check_field (the metrics are
 * diagnostics and are not checked). */
static int get_fields(hid_t loc, const char *where, const char *group, void *obj, const dfield *f,
                      size_t n, int check, xb_error *err)
{
    char gname[256];
    snprintf(gname, sizeof gname, "%s/%s", where, group);
    hid_t g;
    if (!xb_h5_exists(loc, group)) return xb_errorf(err, XB_EINPUT, "%s: missing group", gname);
    int rc = xb_h5_group_open(loc, group, &g, err);
    if (rc) return rc;
    for (size_t k = 0; !rc && k < n; k++) {
        double *v = (double *)((char *)obj + f[k].offset);
        rc = get_scalar(g, gname, f[k].name, f[k].unit, v, err);
        if (!rc && check) rc = check_field(gname, f[k].name, f[k].unit, *v, err);
    }
    xb_h5_group_close(g);
    return rc;
}

static int get_int(hid_t loc, const char *where, const char *group, const char *name, int64_t lo,
                   int64_t hi, int64_t *out, xb_error *err)
{
    char gname[256];
    snprintf(gname, sizeof gname, "%s/%s", where, group);
    hid_t g;
    int rc = xb_h5_group_open(loc, group, &g, err);
    if (rc) return rc;
    double v;
    rc = get_scalar(g, gname, name, "1", &v, err);
    xb_h5_group_close(g);
    if (rc) return rc;
    if (!(v >= (double)lo && v <= (double)hi) || v != floor(v))
        return xb_errorf(err, XB_EINPUT, "%s/%s: %g is not an integer in [%lld, %lld]", gname, name, v,
                         (long long)lo, (long long)hi);
    *out = (int64_t)v;
    return XB_OK;
}

static int read_model(hid_t f, const char *path, const char *name, xb_fit_params *m, xb_fit_metrics *met,
                      xb_error *err)
{
    char where[512];
    snprintf(where, sizeof where, "%s:/models/%s", path, name);
    hid_t g;
    char gp[300];
    snprintf(gp, sizeof gp, "models/%s", name);
    int rc = xb_h5_group_open(f, gp, &g, err);
    if (rc) return rc;
    memset(m, 0, sizeof *m);
    memset(met, 0, sizeof *met);
    char *dev = NULL, *cell = NULL;
    xb_device_kind dk = XB_DEVICE_LINEAR;
    rc = xb_h5_attr_get_string(g, ".", "device", &dev, err);
    if (!rc) rc = xb_h5_attr_get_string(g, ".", "cell", &cell, err);
    if (!rc && xb_device_from_name(dev, &dk))
        rc = xb_errorf(err, XB_EINPUT, "%s: unknown device '%s'", where, dev);
    if (!rc) {
        xb_array_params_default(&m->config, dk);
        if (xb_cell_from_name(cell, &m->config.cell))
            rc = xb_errorf(err, XB_EINPUT, "%s: unknown cell '%s'", where, cell);
    }
    free(dev);
    free(cell);
    int64_t iv;
    if (!rc) rc = get_fields(g, where, "config", &m->config, k_config, NF(k_config), 1, err);
    if (!rc) rc = get_int(g, where, "config", "rows", 1, 1 << 20, &iv, err);
    if (!rc) m->config.rows = (size_t)iv;
    if (!rc) rc = get_int(g, where, "config", "cols", 1, 1 << 20, &iv, err);
    if (!rc) m->config.cols = (size_t)iv;
    if (!rc) rc = get_fields(g, where, "params", m, k_params, NF(k_params), 1, err);
    if (!rc) rc = get_int(g, where, "params", "n_sweeps", 0, 100, &iv, err);
    if (!rc) m->n_sweeps = (int)iv;
    if (!rc) {
        hid_t p;
        rc = xb_h5_group_open(g, "params", &p, err);
        double *kx = NULL, *kv = NULL;
        int r1 = 0, r2 = 0;
        hsize_t d1[4], d2[4];
        if (!rc) {
            rc = xb_h5_read_doubles(p, "knot_x", &kx, &r1, d1, err);
            if (!rc) rc = xb_h5_read_doubles(p, "knot_v0_volt", &kv, &r2, d2, err);
            xb_h5_group_close(p);
        }
        if (!rc && (r1 != 1 || r2 != 1 || d1[0] != d2[0] || d1[0] > XB_FIT_MAX_KNOTS))
            rc = xb_errorf(err, XB_EINPUT, "%s/params: knot_x and knot_v0_volt must be 1-D of equal length <= %d",
                           where, XB_FIT_MAX_KNOTS);
        char kw[600];
        snprintf(kw, sizeof kw, "%s/params/knot_x", where);
        if (!rc) rc = xb_check_finite(kx, (size_t)d1[0], kw, err);
        snprintf(kw, sizeof kw, "%s/params/knot_v0_volt", where);
        if (!rc) rc = xb_check_values(XB_QTY_VOLTAGE, kv, (size_t)d1[0], kw, err);
        if (!rc) {
            m->n_knots = (size_t)d1[0];
            for (size_t k = 0; k < m->n_knots; k++) {
                m->knot_x[k] = kx[k];
                m->knot_v0_volt[k] = kv[k];
            }
        }
        free(kx);
        free(kv);
    }
    if (!rc) rc = get_fields(g, where, "validity", m, k_valid, NF(k_valid), 1, err);
    if (!rc && !(m->valid_g_min_siemens <= m->valid_g_max_siemens && m->valid_v_min_volt <= m->valid_v_max_volt))
        rc = xb_errorf(err, XB_EINPUT, "%s/validity: the ranges need g_min_siemens <= g_max_siemens and v_min_volt <= "
                       "v_max_volt", where);
    if (!rc && xb_h5_exists(g, "metrics")) {
        rc = get_fields(g, where, "metrics", met, k_metrics, NF(k_metrics), 0, err);
        if (!rc) rc = get_int(g, where, "metrics", "n_train_vectors", 0, INT64_MAX / 2, &iv, err);
        if (!rc) met->n_train_vectors = (size_t)iv;
        if (!rc) rc = get_int(g, where, "metrics", "n_heldout_vectors", 0, INT64_MAX / 2, &iv, err);
        if (!rc) met->n_heldout_vectors = (size_t)iv;
        if (!rc) rc = get_int(g, where, "metrics", "iterations", 0, INT32_MAX, &iv, err);
        if (!rc) met->iterations = (int)iv;
    }
    xb_h5_group_close(g);
    if (!rc) {
        rc = xb_fit_params_check(m, err);
        if (rc) xb_error_prefix(err, "%s: ", where);
    }
    if (!rc) {
        rc = xb_array_params_check(&m->config, err);
        if (rc) xb_error_prefix(err, "%s/config: ", where);
    }
    return rc;
}

int xb_fit_file_read(const char *path, xb_fit_params **models, xb_fit_metrics **metrics, size_t *n,
                     xb_error *err)
{
    *models = NULL;
    if (metrics) *metrics = NULL;
    *n = 0;
    hid_t f;
    int rc = xb_h5_open(path, 0, &f, err);
    if (rc) return rc;
    char *fmt = NULL;
    int64_t ver = 0;
    if (!xb_h5_attr_exists(f, ".", "format")) {
        xb_h5_close(f, NULL);
        return xb_errorf(err, XB_EINPUT, "%s: no 'format' attribute: not an xbar model file", path);
    }
    rc = xb_h5_attr_get_string(f, ".", "format", &fmt, err);
    if (!rc && strcmp(fmt, XB_FIT_FORMAT) != 0)
        rc = xb_errorf(err, XB_EINPUT, "%s: format '%s', expected '%s'", path, fmt, XB_FIT_FORMAT);
    free(fmt);
    if (!rc && !xb_h5_attr_exists(f, ".", "version"))
        rc = xb_errorf(err, XB_EINPUT, "%s: missing 'version' attribute", path);
    if (!rc) rc = xb_h5_attr_get_int64(f, ".", "version", &ver, err);
    if (!rc && ver != XB_FIT_FORMAT_VERSION)
        rc = xb_errorf(err, XB_EINPUT, "%s: model format version %lld, this xbar reads version %d", path,
                       (long long)ver, XB_FIT_FORMAT_VERSION);
    char **names = NULL;
    size_t nn = 0;
    if (!rc && !xb_h5_exists(f, "models")) rc = xb_errorf(err, XB_EINPUT, "%s: missing group /models", path);
    if (!rc) rc = xb_h5_list(f, "models", &names, &nn, err);
    if (!rc && nn == 0) rc = xb_errorf(err, XB_EINPUT, "%s: /models is empty", path);
    xb_fit_params *ms = NULL;
    xb_fit_metrics *mt = NULL;
    if (!rc) {
        ms = calloc(nn, sizeof *ms);
        mt = calloc(nn, sizeof *mt);
        if (!ms || !mt) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    for (size_t k = 0; !rc && k < nn; k++) rc = read_model(f, path, names[k], &ms[k], &mt[k], err);
    xb_h5_free_names(names, nn);
    xb_h5_close(f, NULL);
    if (rc) {
        free(ms);
        free(mt);
        return rc;
    }
    *models = ms;
    if (metrics) *metrics = mt;
    else free(mt);
    *n = nn;
    return XB_OK;
}

/* The sections beside /models (docs/hdf5-model.md), in the order summaries list them. */
static const char *const k_sections[] = {"stats/sigma_program", "stats/energy", "stats/settling", "stats/pcm_drift",
                                         "family"};

void xb_fit_sections_free(xb_fit_section *s, size_t n)
{
    if (!s) return;
    for (size_t k = 0; k < n; k++) xb_h5_free_names(s[k].members, s[k].n_members);
    free(s);
}

int xb_fit_file_sections(const char *path, xb_fit_section **out, size_t *n, xb_error *err)
{
    if (!path || !out || !n) return xb_errorf(err, XB_EINPUT, "xb_fit_file_sections: no path");
    *out = NULL;
    *n = 0;
    hid_t f;
    int rc = xb_h5_open(path, 0, &f, err);
    if (rc) return rc;
    xb_fit_section *s = calloc(NF(k_sections), sizeof *s);
    if (!s) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    size_t m = 0;
    for (size_t k = 0; !rc && k < NF(k_sections); k++) {
        if (!xb_h5_exists(f, k_sections[k])) continue;
        s[m].name = k_sections[k];
        rc = xb_h5_list(f, k_sections[k], &s[m].members, &s[m].n_members, err);
        if (!rc) m++;
    }
    xb_h5_close(f, NULL);
    if (rc) {
        xb_fit_sections_free(s, m);
        return rc;
    }
    *out = s;
    *n = m;
    return XB_OK;
}

int xb_fit_select(const xb_fit_params *models, size_t n, const xb_array_params *p, size_t *index,
                  xb_error *err)
{
    size_t best = n;
    double best_d = INFINITY;
    int shape_seen = 0, kind_seen = 0;
    for (size_t k = 0; k < n; k++) {
        const xb_array_params *c = &models[k].config;
        if (c->device != p->device || c->cell != p->cell) continue;
        kind_seen = 1;
        if (c->rows != p->rows || c->cols != p->cols) continue;
        shape_seen = 1;
        /* distance in the circuit parameters (relative, log-like) */
        double d = 0;
        const double a[] = {p->r_wire_row_ohm, p->r_wire_col_ohm, p->r_driver_ohm, p->r_sense_ohm, p->v_read_volt};
        const double b[] = {c->r_wire_row_ohm, c->r_wire_col_ohm, c->r_driver_ohm, c->r_sense_ohm, c->v_read_volt};
        for (size_t q = 0; q < 5; q++) d += fabs(a[q] - b[q]) / (fabs(a[q]) + fabs(b[q]) + 1e-12);
        if (d < best_d) {
            best_d = d;
            best = k;
        }
    }
    if (best == n) {
        if (!kind_seen)
            return xb_errorf(err, XB_EINPUT, "the model file has no model for --device %s --cell %s",
                             xb_device_name(p->device), xb_cell_name(p->cell));
        (void)shape_seen;
        /* list the available shapes */
        char shapes[512] = "";
        size_t o = 0;
        for (size_t k = 0; k < n && o < sizeof shapes - 32; k++)
            if (models[k].config.device == p->device && models[k].config.cell == p->cell)
                o += (size_t)snprintf(shapes + o, sizeof shapes - o, "%s%zux%zu", o ? ", " : "",
                                      models[k].config.rows, models[k].config.cols);
        return xb_errorf(err, XB_EINPUT, "array is %zux%zu but the %s/%s models are for %s", p->rows, p->cols,
                         xb_device_name(p->device), xb_cell_name(p->cell), shapes);
    }
    *index = best;
    return XB_OK;
}

int xb_fit_file_model_for(const char *path, const xb_array_params *p, xb_fit_params *out, int *from_family,
                          xb_error *err)
{
    xb_fit_params *ms = NULL;
    size_t n = 0, k = 0;
    *from_family = 0;
    int rc = xb_fit_file_read(path, &ms, NULL, &n, err);
    if (rc) return rc;
    rc = xb_fit_select(ms, n, p, &k, err);
    if (rc == XB_OK) {
        *out = ms[k];
        free(ms);
        return XB_OK;
    }
    xb_error_prefix(err, "%s: ", path);
    /* no model of this shape: a family of the same device and cell? */
    char fam[128];
    snprintf(fam, sizeof fam, "family/%s_%s/coef", xb_device_name(p->device), xb_cell_name(p->cell));
    hid_t f;
    xb_error e2;
    if (xb_h5_open(path, 0, &f, &e2) != XB_OK) {
        free(ms);
        return rc;
    }
    int have = xb_h5_exists(f, fam);
    double *c = NULL;
    int rk = 0;
    hsize_t d[4];
    int fam_ok = have && xb_h5_read_doubles(f, fam, &c, &rk, d, &e2) == XB_OK && rk == 2 &&
                 d[0] == XB_FIT_FAMILY_NQ && d[1] == 3;
    if (fam_ok) {
        /* a NaN coefficient predicted models whose currents were off by orders of magnitude */
        char where[600];
        snprintf(where, sizeof where, "%s: /%s", path, fam);
        if (xb_check_finite(c, XB_FIT_FAMILY_NQ * 3, where, &e2) != XB_OK) {
            rc = xb_errorf(err, XB_EINPUT, "%s", e2.msg);
            fam_ok = 0;
        }
    }
    if (fam_ok) {
        /* template: the family's model of the nearest size */
        size_t best = n;
        double bd = INFINITY, target = sqrt((double)(p->rows * p->cols));
        for (size_t q = 0; q < n; q++) {
            if (ms[q].config.device != p->device || ms[q].config.cell != p->cell) continue;
            double dd = fabs(sqrt((double)(ms[q].config.rows * ms[q].config.cols)) - target);
            if (dd < bd) { bd = dd; best = q; }
        }
        if (best < n) {
            xb_fit_params m = ms[best];
            int sweeps = 0;
            for (size_t q = 0; q < n; q++)
                if (ms[q].config.device == p->device && ms[q].config.cell == p->cell && ms[q].n_sweeps > sweeps)
                    sweeps = ms[q].n_sweeps;
            m.config = *p;
            m.n_sweeps = sweeps + 1; /* sizes between the fitted ones: one sweep more than any of them */
            xb_fit_family_predict((const double(*)[3])c, &m);
            if (xb_fit_params_check(&m, &e2) == XB_OK) {
                *out = m;
                *from_family = 1;
                rc = XB_OK;
                xb_error_clear(err);
            }
        }
    }
    free(c);
    xb_h5_close(f, NULL);
    free(ms);
    return rc;
}
