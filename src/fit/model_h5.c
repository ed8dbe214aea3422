/* Model HDF5 file: writer and validating reader (docs/hdf5-model.md); model selection is
 * select.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fit/fit_internal.h"
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
    int rc = xb_h5_create_atomic(path, overwrite, &f, err); /* written to path by xb_h5_close */
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
        xb_h5_discard(f);
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
                if (!rc) rc = xb_fit_inputs_write(c, met, err);
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
        hid_t mg;
        char mw[600];
        snprintf(mw, sizeof mw, "%s/metrics", where);
        if (!rc && !(rc = xb_h5_group_open(g, "metrics", &mg, err))) {
            rc = xb_fit_inputs_read(mg, mw, met, err);
            xb_h5_group_close(mg);
        }
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

/* ------------------------------------------------------------------ /update/<device> */
/* Pulse-update models (docs/hdf5-model.md "Update models"): the law's parameters, the law
 * tabulated over the window (the mean change of one pulse, its cycle-to-cycle spread, the
 * device-to-device spread of the step), the per-device fits and the scores. */

static const char k_update_formula[XB_UPDATE_N_LAWS][200] = {
    "x = (G - g_min)/(g_max - g_min); f(x) = knot values linear in x over knot_x = {0, 1} (soft bounds)",
    "x = (G - g_min)/(g_max - g_min); f_up = a exp(-b x), f_down = -a exp(-b (1 - x))",
    "x = (G - g_min)/(g_max - g_min); f(x) linear between the knot values at knot_x",
};

/* Parameters of one direction `dir` ("up"/"down") of law, rows x P (rows 0: one set), as
 * named datasets: <dir>_knot_siemens (knot laws) or <dir>_a_siemens and <dir>_b (exp);
 * suffix "_std" for spreads. */
static int put_law_params(hid_t g, const char *dir, const char *suffix, xb_update_law law, size_t rows, size_t P,
                          const double *v, xb_error *err)
{
    char name[64];
    if (law != XB_UPDATE_EXP) {
        snprintf(name, sizeof name, "%s_knot%s_siemens", dir, suffix);
        hsize_t d[2] = {rows, P};
        return rows ? xb_h5_write_doubles(g, name, 2, d, v, "S", err) : xb_h5_write_doubles(g, name, 1, d + 1, v, "S", err);
    }
    const size_t n = rows ? rows : 1;
    double *col = malloc(n * sizeof *col);
    if (!col) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    int rc = XB_OK;
    for (size_t j = 0; !rc && j < 2; j++) {
        for (size_t r = 0; r < n; r++) col[r] = v[r * P + j];
        snprintf(name, sizeof name, "%s_%s%s", dir, j ? "b" : "a", suffix);
        if (!j) strncat(name, "_siemens", sizeof name - strlen(name) - 1);
        hsize_t d = rows;
        rc = xb_h5_write_doubles(g, name, rows ? 1 : 0, rows ? &d : NULL, col, j ? "1" : "S", err);
    }
    free(col);
    return rc;
}

/* The law tabulated on XB_UPDATE_GRID states over the window. */
static int put_update_tables(hid_t g, const xb_update_model *m, xb_error *err)
{
    enum { NG = XB_UPDATE_GRID, NT = 7 };
    double *t = malloc((size_t)NT * NG * sizeof *t);
    if (!t) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    double *gs = t, *up = t + NG, *dn = t + 2 * NG, *su = t + 3 * NG, *sd = t + 4 * NG, *du = t + 5 * NG, *dd = t + 6 * NG;
    const double W = m->g_max_siemens - m->g_min_siemens;
    for (size_t k = 0; k < NG; k++) {
        gs[k] = k == NG - 1 ? m->g_max_siemens : m->g_min_siemens + W * (double)k / (NG - 1);
        up[k] = xb_fit_update_step(m, gs[k], 1);
        dn[k] = xb_fit_update_step(m, gs[k], -1);
        su[k] = xb_fit_update_sigma(m, gs[k], 1);
        sd[k] = xb_fit_update_sigma(m, gs[k], -1);
        /* device-to-device: std over the devices' own laws at this state */
        for (int q = 0; q < 2; q++) {
            double s = 0, s2 = 0;
            size_t n = 0;
            for (size_t d = 0; d < m->n_devices; d++) {
                double v = xb_fit_update_device_step(m, d, gs[k], q ? -1 : 1);
                if (isfinite(v)) {
                    s += v;
                    s2 += v * v;
                    n++;
                }
            }
            (q ? dd : du)[k] = n > 1 ? sqrt(fmax(s2 - s * s / (double)n, 0) / (double)(n - 1)) : 0;
        }
    }
    static const char *const names[NT] = {"g_siemens", "dg_up_siemens", "dg_down_siemens", "sigma_c2c_up_siemens",
                                          "sigma_c2c_down_siemens", "d2d_dg_up_std_siemens", "d2d_dg_down_std_siemens"};
    hsize_t dn1 = NG;
    int rc = XB_OK;
    for (int k = 0; !rc && k < NT; k++) rc = xb_h5_write_doubles(g, names[k], 1, &dn1, t + (size_t)k * NG, "S", err);
    free(t);
    return rc;
}

static int put_update_law(hid_t g, const xb_update_model *m, xb_error *err)
{
    hid_t lg;
    int rc = xb_h5_group_create(g, "law", &lg, err);
    if (rc) return rc;
    const size_t P = m->n_params;
    if (m->law != XB_UPDATE_EXP) {
        double kx[XB_UPDATE_MAX_PARAMS];
        for (size_t j = 0; j < P; j++) kx[j] = (double)j / (double)(P - 1);
        hsize_t d = P;
        rc = xb_h5_write_doubles(lg, "knot_x", 1, &d, kx, "1", err);
    }
    if (!rc) rc = put_law_params(lg, "up", "", m->law, 0, P, m->up, err);
    if (!rc) rc = put_law_params(lg, "down", "", m->law, 0, P, m->down, err);
    if (!rc) rc = xb_h5_attr_set_string(lg, ".", "formula", k_update_formula[m->law], err);
    H5Gclose(lg);
    return rc;
}

static int put_update_c2c(hid_t g, const xb_update_model *m, xb_error *err)
{
    hid_t cg;
    int rc = xb_h5_group_create(g, "c2c", &cg, err);
    if (rc) return rc;
    rc = put(cg, "up_abs_siemens", m->c2c_up_abs_siemens, "S", err);
    if (!rc) rc = put(cg, "up_rel", m->c2c_up_rel, "1", err);
    if (!rc) rc = put(cg, "down_abs_siemens", m->c2c_down_abs_siemens, "S", err);
    if (!rc) rc = put(cg, "down_rel", m->c2c_down_rel, "1", err);
    hsize_t nb = XB_UPDATE_C2C_BINS;
    if (!rc) rc = xb_h5_write_doubles(cg, "bin_g_siemens", 1, &nb, m->c2c_bin_g_siemens, "S", err);
    if (!rc) rc = xb_h5_write_doubles(cg, "bin_up_siemens", 1, &nb, m->c2c_bin_up_siemens, "S", err);
    if (!rc) rc = xb_h5_write_doubles(cg, "bin_down_siemens", 1, &nb, m->c2c_bin_down_siemens, "S", err);
    int64_t cnt[2][XB_UPDATE_C2C_BINS];
    for (int b = 0; b < XB_UPDATE_C2C_BINS; b++) {
        cnt[0][b] = (int64_t)m->c2c_bin_up_n[b];
        cnt[1][b] = (int64_t)m->c2c_bin_down_n[b];
    }
    if (!rc) rc = xb_h5_write_int64s(cg, "bin_up_n", 1, &nb, cnt[0], "1", err);
    if (!rc) rc = xb_h5_write_int64s(cg, "bin_down_n", 1, &nb, cnt[1], "1", err);
    double k[2][XB_UPDATE_C2C_BINS];
    for (int b = 0; b < XB_UPDATE_C2C_BINS; b++) {
        k[0][b] = m->c2c_binned ? m->c2c_bin_up_scale[b] : 1.0;
        k[1][b] = m->c2c_binned ? m->c2c_bin_down_scale[b] : 1.0;
    }
    if (!rc) rc = xb_h5_write_doubles(cg, "bin_up_scale", 1, &nb, k[0], "1", err);
    if (!rc) rc = xb_h5_write_doubles(cg, "bin_down_scale", 1, &nb, k[1], "1", err);
    if (!rc)
        rc = xb_h5_attr_set_string(cg, ".", "form",
                                   "sigma(G) = k(x) sqrt(abs^2 + (rel f(G))^2) per direction, k linear between the "
                                   "bin centres of bin_*_scale (constant beyond the outer ones); bins: rms residual of "
                                   "the steps about their own device's law in 8 state bins (NaN: fewer than 3 steps), "
                                   "their step counts, and k (1: fewer than 10 steps)", err);
    H5Gclose(cg);
    return rc;
}

static int put_update_d2d(hid_t g, const xb_update_model *m, xb_error *err)
{
    hid_t dg;
    int rc = xb_h5_group_create(g, "d2d", &dg, err);
    if (rc) return rc;
    const size_t D = m->n_devices, P = m->n_params;
    rc = put_i(dg, "n_devices", (int64_t)D, err);
    if (!rc && D) rc = put_law_params(dg, "up", "", m->law, D, P, m->dev_up, err);
    if (!rc && D) rc = put_law_params(dg, "down", "", m->law, D, P, m->dev_down, err);
    if (!rc) rc = put_law_params(dg, "up", "_std", m->law, 0, P, m->d2d_up_std, err);
    if (!rc) rc = put_law_params(dg, "down", "_std", m->law, 0, P, m->d2d_down_std, err);
    hsize_t dd = D;
    if (!rc && D) rc = xb_h5_write_doubles(dg, "g_min_siemens", 1, &dd, m->dev_g_min_siemens, "S", err);
    if (!rc && D) rc = xb_h5_write_doubles(dg, "g_max_siemens", 1, &dd, m->dev_g_max_siemens, "S", err);
    if (!rc) rc = put(dg, "g_min_std_siemens", m->d2d_g_min_std_siemens, "S", err);
    if (!rc) rc = put(dg, "g_max_std_siemens", m->d2d_g_max_std_siemens, "S", err);
    H5Gclose(dg);
    return rc;
}

static int put_update_metrics(hid_t g, const xb_update_model *m, xb_error *err)
{
    hid_t mg;
    int rc = xb_h5_group_create(g, "metrics", &mg, err);
    if (rc) return rc;
    hsize_t nl = XB_UPDATE_N_LAWS;
    rc = xb_h5_write_doubles(mg, "heldout_traj_rel", 1, &nl, m->heldout_traj_rel, "1", err);
    if (!rc) rc = xb_h5_write_doubles(mg, "heldout_step_rms_siemens", 1, &nl, m->heldout_step_rms_siemens, "S", err);
    if (!rc) rc = xb_h5_attr_set_string(mg, ".", "laws", "softbounds,exp,pwl", err);
    if (!rc) rc = put(mg, "heldout_traj_max_rel", m->heldout_traj_max_rel, "1", err);
    if (!rc) rc = put(mg, "resid_up_rms_siemens", m->resid_up_rms_siemens, "S", err);
    if (!rc) rc = put(mg, "resid_down_rms_siemens", m->resid_down_rms_siemens, "S", err);
    if (!rc) rc = put_i(mg, "n_trains", (int64_t)m->n_trains, err);
    if (!rc) rc = put_i(mg, "n_up_steps", (int64_t)m->n_up_steps, err);
    if (!rc) rc = put_i(mg, "n_down_steps", (int64_t)m->n_down_steps, err);
    if (!rc) rc = put_i(mg, "n_heldout_slots", (int64_t)m->n_heldout_slots, err);
    if (!rc) rc = put_i(mg, "n_up_bound_steps", (int64_t)m->n_up_bound_steps, err);
    if (!rc) rc = put_i(mg, "n_down_bound_steps", (int64_t)m->n_down_bound_steps, err);
    H5Gclose(mg);
    return rc;
}

int xb_fit_update_write(hid_t f, const xb_update_model *m, const char *source, xb_error *err)
{
    if (!m || (unsigned)m->law >= XB_UPDATE_N_LAWS || !(m->g_max_siemens > m->g_min_siemens))
        return xb_errorf(err, XB_EINPUT, "update model: nothing fitted to write");
    char path[96];
    snprintf(path, sizeof path, "update/%s", xb_device_name(m->device));
    hid_t g;
    int rc = xb_h5_group_create(f, path, &g, err);
    if (rc) return rc;
    const double pv[2] = {m->up_volt, m->down_volt}, en[2] = {m->energy_up_joule, m->energy_down_joule};
    rc = xb_h5_attr_set_string(g, ".", "form", XB_UPDATE_FORM, err);
    if (!rc) rc = xb_h5_attr_set_int64(g, ".", "version", XB_UPDATE_VERSION, err);
    if (!rc) rc = xb_h5_attr_set_string(g, ".", "device", xb_device_name(m->device), err);
    if (!rc) rc = xb_h5_attr_set_string(g, ".", "law", xb_update_law_name(m->law), err);
    if (!rc) rc = xb_h5_attr_set_string(g, ".", "source", source ? source : "", err);
    if (!rc) rc = xb_h5_attr_set_doubles(g, ".", "pulse_volt", 2, pv, err);
    if (!rc) rc = xb_h5_attr_set_double(g, ".", "pulse_width_s", m->width_s, err);
    if (!rc) rc = xb_h5_attr_set_doubles(g, ".", "energy_per_pulse_joule", 2, en, err);
    if (!rc)
        rc = xb_h5_attr_set_string(g, ".", "pulse",
                                   "G <- clip(G + dg(G) + sigma_c2c(G) xi, g_min, g_max), xi ~ N(0,1); dg = "
                                   "clip(G + f(G), g_min, g_max) - G; [up, down] in pulse_volt, energy_per_pulse_joule",
                                   err);
    if (!rc) rc = put(g, "g_min_siemens", m->g_min_siemens, "S", err);
    if (!rc) rc = put(g, "g_max_siemens", m->g_max_siemens, "S", err);
    if (!rc) rc = put_update_tables(g, m, err);
    if (!rc) rc = put_update_law(g, m, err);
    if (!rc) rc = put_update_c2c(g, m, err);
    if (!rc) rc = put_update_d2d(g, m, err);
    if (!rc) rc = put_update_metrics(g, m, err);
    H5Gclose(g);
    return rc;
}

/* ---- reading /update ---- */
/* A dataset of doubles with the expected unit and shape (rank, dims; dims[k] = 0: any). */
static int get_array(hid_t g, const char *where, const char *name, const char *unit, int rank, const hsize_t *dims,
                     double **out, hsize_t *got, xb_error *err)
{
    *out = NULL;
    if (!xb_h5_exists(g, name)) return xb_errorf(err, XB_EINPUT, "%s/%s: missing dataset", where, name);
    int rk;
    hsize_t d[4];
    int rc = xb_h5_read_doubles(g, name, out, &rk, d, err);
    if (rc) {
        xb_error_prefix(err, "%s/%s: ", where, name);
        return rc;
    }
    int bad = rk != rank;
    for (int k = 0; !bad && k < rank; k++) bad = dims[k] && d[k] != dims[k];
    char u[64] = "";
    if (!bad && unit && xb_h5_read_units(g, name, u, sizeof u, err) == XB_OK && strcmp(u, unit) != 0) {
        free(*out);
        *out = NULL;
        return xb_errorf(err, XB_EINPUT, "%s/%s: unit '%s', expected '%s'", where, name, u, unit);
    }
    if (bad) {
        free(*out);
        *out = NULL;
        return xb_errorf(err, XB_EINPUT, "%s/%s: rank %d shape does not match the model (expected rank %d)", where, name,
                         rk, rank);
    }
    for (int k = 0; got && k < rank; k++) got[k] = d[k];
    return XB_OK;
}

/* Parameters of one direction written by put_law_params back into v (rows x P). */
static int get_law_params(hid_t g, const char *where, const char *dir, const char *suffix, xb_update_law law,
                          size_t rows, size_t P, double *v, xb_error *err)
{
    char name[64];
    double *a = NULL;
    int rc;
    if (law != XB_UPDATE_EXP) {
        snprintf(name, sizeof name, "%s_knot%s_siemens", dir, suffix);
        hsize_t d[2] = {rows, P};
        rc = rows ? get_array(g, where, name, "S", 2, d, &a, NULL, err) : get_array(g, where, name, "S", 1, d + 1, &a, NULL, err);
        if (!rc) memcpy(v, a, (rows ? rows : 1) * P * sizeof *v);
        free(a);
        return rc;
    }
    for (size_t j = 0; j < 2; j++) {
        snprintf(name, sizeof name, "%s_%s%s%s", dir, j ? "b" : "a", suffix, j ? "" : "_siemens");
        hsize_t d = rows;
        rc = get_array(g, where, name, j ? "1" : "S", rows ? 1 : 0, &d, &a, NULL, err);
        if (rc) return rc;
        for (size_t r = 0; r < (rows ? rows : 1); r++) v[r * P + j] = a[r];
        free(a);
        a = NULL;
    }
    return XB_OK;
}

static int get_update_scalar(hid_t loc, const char *where, const char *group, const char *name, const char *unit,
                             double *v, xb_error *err)
{
    char gname[700];
    snprintf(gname, sizeof gname, "%s%s%s", where, group ? "/" : "", group ? group : "");
    hid_t g = loc;
    if (group && xb_h5_group_open(loc, group, &g, err)) return xb_errorf(err, XB_EINPUT, "%s: missing group", gname);
    int rc = xb_h5_exists(g, name) ? get_scalar(g, gname, name, unit, v, err)
                                   : xb_errorf(err, XB_EINPUT, "%s/%s: missing dataset", gname, name);
    if (group) H5Gclose(g);
    return rc;
}

/* Version 2: the state factor of sigma (c2c/bin_*_scale, > 0) and the step counts of the bins.
 * Version 1 has neither: c2c_binned stays 0 (sigma is the law's). */
static int get_update_c2c_bins(hid_t g, const char *where, xb_update_model *m, xb_error *err)
{
    char cw[640];
    snprintf(cw, sizeof cw, "%s/c2c", where);
    hid_t cg;
    int rc = xb_h5_group_open(g, "c2c", &cg, err);
    if (rc) return rc;
    static const char *const names[4] = {"bin_up_scale", "bin_down_scale", "bin_up_n", "bin_down_n"};
    for (int j = 0; !rc && j < 4; j++) {
        double *a = NULL;
        hsize_t nb = XB_UPDATE_C2C_BINS;
        rc = get_array(cg, cw, names[j], "1", 1, &nb, &a, NULL, err);
        for (int b = 0; !rc && b < XB_UPDATE_C2C_BINS; b++) {
            if (j < 2 && !(a[b] > 0 && isfinite(a[b])))
                rc = xb_errorf(err, XB_EINPUT, "%s/%s: state factor %g (must be finite and > 0)", cw, names[j], a[b]);
            else if (j < 2) (j == 0 ? m->c2c_bin_up_scale : m->c2c_bin_down_scale)[b] = a[b];
            else (j == 2 ? m->c2c_bin_up_n : m->c2c_bin_down_n)[b] = a[b] > 0 ? (size_t)a[b] : 0;
        }
        free(a);
    }
    H5Gclose(cg);
    if (!rc) m->c2c_binned = 1;
    return rc;
}

static int read_update_group(hid_t g, const char *where, xb_device_kind dev, xb_update_model *m, xb_error *err)
{
    memset(m, 0, sizeof *m);
    m->device = dev;
    char *s = NULL;
    int64_t ver = 0;
    int rc = xb_h5_attr_exists(g, ".", "version") ? xb_h5_attr_get_int64(g, ".", "version", &ver, err)
                                                     : xb_errorf(err, XB_EINPUT, "%s: missing attribute 'version'", where);
    if (!rc && (ver < 1 || ver > XB_UPDATE_VERSION))
        rc = xb_errorf(err, XB_EINPUT, "%s: update model version %lld, this xbar reads versions 1 to %d", where,
                       (long long)ver, XB_UPDATE_VERSION);
    if (!rc) rc = xb_h5_attr_exists(g, ".", "law") ? xb_h5_attr_get_string(g, ".", "law", &s, err)
                                                   : xb_errorf(err, XB_EINPUT, "%s: missing attribute 'law'", where);
    if (!rc && xb_update_law_from_name(s, &m->law))
        rc = xb_errorf(err, XB_EINPUT, "%s: unknown law '%s' (softbounds, exp, pwl)", where, s);
    free(s);
    if (rc) return rc;
    m->n_params = xb_update_law_nparams(m->law);
    if (xb_h5_attr_exists(g, ".", "pulse_width_s")) xb_h5_attr_get_double(g, ".", "pulse_width_s", &m->width_s, NULL);
    rc = get_update_scalar(g, where, NULL, "g_min_siemens", "S", &m->g_min_siemens, err);
    if (!rc) rc = get_update_scalar(g, where, NULL, "g_max_siemens", "S", &m->g_max_siemens, err);
    if (!rc && !(m->g_max_siemens > m->g_min_siemens))
        rc = xb_errorf(err, XB_EINPUT, "%s: g_max_siemens must exceed g_min_siemens", where);
    char lw[640];
    snprintf(lw, sizeof lw, "%s/law", where);
    hid_t lg;
    if (!rc && !xb_h5_exists(g, "law")) rc = xb_errorf(err, XB_EINPUT, "%s: missing group", lw);
    if (!rc && !(rc = xb_h5_group_open(g, "law", &lg, err))) {
        rc = get_law_params(lg, lw, "up", "", m->law, 0, m->n_params, m->up, err);
        if (!rc) rc = get_law_params(lg, lw, "down", "", m->law, 0, m->n_params, m->down, err);
        H5Gclose(lg);
    }
    static const struct { const char *n, *u; size_t off; } cs[] = {
        {"up_abs_siemens", "S", offsetof(xb_update_model, c2c_up_abs_siemens)},
        {"up_rel", "1", offsetof(xb_update_model, c2c_up_rel)},
        {"down_abs_siemens", "S", offsetof(xb_update_model, c2c_down_abs_siemens)},
        {"down_rel", "1", offsetof(xb_update_model, c2c_down_rel)},
    };
    for (size_t k = 0; !rc && k < sizeof cs / sizeof cs[0]; k++)
        rc = get_update_scalar(g, where, "c2c", cs[k].n, cs[k].u, (double *)((char *)m + cs[k].off), err);
    if (!rc && ver >= 2) rc = get_update_c2c_bins(g, where, m, err);
    for (size_t k = 0; !rc && k < m->n_params; k++)
        if (!isfinite(m->up[k]) || !isfinite(m->down[k])) rc = xb_errorf(err, XB_EINPUT, "%s/law: non-finite parameter", where);
    return rc;
}

/* Per-device fits and spreads (d2d/), metrics and energies: what inspect and report show. */
static int read_update_extras(hid_t g, const char *where, xb_update_model *m, xb_error *err)
{
    char dw[640];
    snprintf(dw, sizeof dw, "%s/d2d", where);
    if (!xb_h5_exists(g, "d2d")) return xb_errorf(err, XB_EINPUT, "%s: missing group", dw);
    hid_t dg;
    int rc = xb_h5_group_open(g, "d2d", &dg, err);
    if (rc) return rc;
    double nd = 0;
    rc = get_scalar(dg, dw, "n_devices", "1", &nd, err);
    if (!rc && !(nd >= 0 && nd <= 1e6 && nd == floor(nd)))
        rc = xb_errorf(err, XB_EINPUT, "%s/n_devices: %g is not a device count", dw, nd);
    const size_t D = rc ? 0 : (size_t)nd, P = m->n_params;
    if (!rc && D) {
        m->n_devices = D;
        m->dev_up = malloc(D * P * sizeof(double));
        m->dev_down = malloc(D * P * sizeof(double));
        if (!m->dev_up || !m->dev_down) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
        if (!rc) rc = get_law_params(dg, dw, "up", "", m->law, D, P, m->dev_up, err);
        if (!rc) rc = get_law_params(dg, dw, "down", "", m->law, D, P, m->dev_down, err);
        hsize_t dd = D;
        hsize_t got;
        if (!rc) rc = get_array(dg, dw, "g_min_siemens", "S", 1, &dd, &m->dev_g_min_siemens, &got, err);
        if (!rc) rc = get_array(dg, dw, "g_max_siemens", "S", 1, &dd, &m->dev_g_max_siemens, &got, err);
    }
    if (!rc) rc = get_law_params(dg, dw, "up", "_std", m->law, 0, P, m->d2d_up_std, err);
    if (!rc) rc = get_law_params(dg, dw, "down", "_std", m->law, 0, P, m->d2d_down_std, err);
    if (!rc) rc = get_scalar(dg, dw, "g_min_std_siemens", "S", &m->d2d_g_min_std_siemens, err);
    if (!rc) rc = get_scalar(dg, dw, "g_max_std_siemens", "S", &m->d2d_g_max_std_siemens, err);
    H5Gclose(dg);
    if (rc) return rc;
    char mw[640];
    snprintf(mw, sizeof mw, "%s/metrics", where);
    if (!xb_h5_exists(g, "metrics")) return xb_errorf(err, XB_EINPUT, "%s: missing group", mw);
    hid_t mg;
    rc = xb_h5_group_open(g, "metrics", &mg, err);
    if (rc) return rc;
    double *a = NULL;
    hsize_t nl = XB_UPDATE_N_LAWS;
    rc = get_array(mg, mw, "heldout_traj_rel", "1", 1, &nl, &a, NULL, err);
    if (!rc) memcpy(m->heldout_traj_rel, a, sizeof m->heldout_traj_rel);
    free(a);
    a = NULL;
    if (!rc) rc = get_array(mg, mw, "heldout_step_rms_siemens", "S", 1, &nl, &a, NULL, err);
    if (!rc) memcpy(m->heldout_step_rms_siemens, a, sizeof m->heldout_step_rms_siemens);
    free(a);
    if (!rc) rc = get_scalar(mg, mw, "heldout_traj_max_rel", "1", &m->heldout_traj_max_rel, err);
    if (!rc) rc = get_scalar(mg, mw, "resid_up_rms_siemens", "S", &m->resid_up_rms_siemens, err);
    if (!rc) rc = get_scalar(mg, mw, "resid_down_rms_siemens", "S", &m->resid_down_rms_siemens, err);
    static const char *const cnt[] = {"n_trains",        "n_up_steps",       "n_down_steps",
                                      "n_heldout_slots", "n_up_bound_steps", "n_down_bound_steps"};
    size_t *dst[] = {&m->n_trains,        &m->n_up_steps,       &m->n_down_steps,
                     &m->n_heldout_slots, &m->n_up_bound_steps, &m->n_down_bound_steps};
    for (size_t k = 0; !rc && k < 6; k++) {
        double v = 0;
        rc = get_scalar(mg, mw, cnt[k], "1", &v, err);
        *dst[k] = v >= 0 ? (size_t)v : 0;
    }
    H5Gclose(mg);
    return rc;
}

/* pulse_volt and energy_per_pulse_joule: [up, down] attributes. */
static void read_update_attrs(hid_t g, xb_update_model *m)
{
    m->up_volt = m->down_volt = m->energy_up_joule = m->energy_down_joule = NAN;
    hid_t a;
    double v[2];
    if (H5Aexists(g, "pulse_volt") > 0 && (a = H5Aopen(g, "pulse_volt", H5P_DEFAULT)) >= 0) {
        hid_t sp = H5Aget_space(a);
        if (H5Sget_simple_extent_npoints(sp) == 2 && H5Aread(a, H5T_NATIVE_DOUBLE, v) >= 0) {
            m->up_volt = v[0];
            m->down_volt = v[1];
        }
        H5Sclose(sp);
        H5Aclose(a);
    }
    if (H5Aexists(g, "energy_per_pulse_joule") > 0 && (a = H5Aopen(g, "energy_per_pulse_joule", H5P_DEFAULT)) >= 0) {
        hid_t sp = H5Aget_space(a);
        if (H5Sget_simple_extent_npoints(sp) == 2 && H5Aread(a, H5T_NATIVE_DOUBLE, v) >= 0) {
            m->energy_up_joule = v[0];
            m->energy_down_joule = v[1];
        }
        H5Sclose(sp);
        H5Aclose(a);
    }
}

void xb_fit_update_free_all(xb_update_model *m, size_t n)
{
    for (size_t k = 0; m && k < n; k++) xb_fit_update_clear(&m[k]);
    free(m);
}

int xb_fit_update_read_all(const char *path, xb_update_model **out, size_t *n, xb_error *err)
{
    *out = NULL;
    *n = 0;
    if (!xb_h5_is_hdf5(path)) return xb_errorf(err, XB_EINPUT, "%s: not an HDF5 file (or cannot open)", path);
    hid_t f;
    int rc = xb_h5_open(path, 0, &f, err);
    if (rc) return rc;
    char **names = NULL;
    size_t nn = 0;
    if (xb_h5_exists(f, "update")) rc = xb_h5_list(f, "update", &names, &nn, err);
    xb_update_model *ms = nn ? calloc(nn, sizeof *ms) : NULL;
    if (!rc && nn && !ms) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    size_t got = 0;
    for (size_t k = 0; !rc && k < nn; k++) {
        char where[512], gp[300];
        where[0] = '\0';
        snprintf(where, sizeof where, "%s:/update/%s", path, names[k]);
        snprintf(gp, sizeof gp, "update/%s", names[k]);
        xb_device_kind dev;
        if (xb_device_from_name(names[k], &dev)) {
            rc = xb_errorf(err, XB_EINPUT, "%s: not a device name", where);
            break;
        }
        hid_t g;
        rc = xb_h5_group_open(f, gp, &g, err);
        if (rc) break;
        rc = read_update_group(g, where, dev, &ms[got], err);
        if (!rc) rc = read_update_extras(g, where, &ms[got], err);
        if (!rc) read_update_attrs(g, &ms[got]);
        H5Gclose(g);
        got++;
    }
    xb_h5_free_names(names, nn);
    xb_h5_close(f, NULL);
    if (rc) {
        xb_fit_update_free_all(ms, got);
        return rc;
    }
    *out = ms;
    *n = got;
    return XB_OK;
}
