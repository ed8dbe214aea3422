/* Model selection by configuration (docs/fit.md "Model selection"): a fitted model only for
 * its own circuit; any other configuration from the size/wire-resistance family, reported as
 * interpolation or extrapolation against the span of the fitted models. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fit/fit_internal.h"
#include "xbar/h5.h"

/* The configuration fields that make a circuit for the static MVM: a fitted model is used only
 * when every one matches; the family's span is checked on each (name: what the line says). */
typedef struct {
    const char *name;
    size_t offset;
} cfield;

#define CF(f, name) {name, offsetof(xb_array_params, f)}
static const cfield k_circuit[] = {
    CF(r_wire_row_ohm, "r_wire_row"),   CF(r_wire_col_ohm, "r_wire_col"), CF(r_driver_ohm, "r_driver"),
    CF(r_sense_ohm, "r_sense"),         CF(v_read_volt, "v_read"),        CF(g_min_siemens, "g_min"),
    CF(g_max_siemens, "g_max"),         CF(rram_v0_volt, "rram_v0"),      CF(pcm_v0_low_volt, "pcm_v0_low"),
    CF(pcm_v0_high_volt, "pcm_v0_high"), CF(nmos_kp_a_per_v2, "nmos_kp"), CF(nmos_w_over_l, "nmos_w_over_l"),
    CF(nmos_vt_volt, "nmos_vt"),        CF(nmos_lambda_per_v, "nmos_lambda"), CF(v_gate_volt, "v_gate"),
    CF(sel_is_amp, "sel_is"),           CF(sel_vs_volt, "sel_vs"),
};
#undef CF
#define NCIRCUIT (sizeof k_circuit / sizeof k_circuit[0])
#define SAME_TOL 1e-9

static double fieldv(const xb_array_params *p, size_t k)
{
    return *(const double *)((const char *)p + k_circuit[k].offset);
}

static int same_value(double a, double b)
{
    return fabs(a - b) <= SAME_TOL * fmax(fabs(a), fabs(b));
}

static int same_kind(const xb_array_params *a, const xb_array_params *b)
{
    return a->device == b->device && a->cell == b->cell;
}

static int same_circuit(const xb_array_params *a, const xb_array_params *b)
{
    if (!same_kind(a, b) || a->rows != b->rows || a->cols != b->cols) return 0;
    for (size_t k = 0; k < NCIRCUIT; k++)
        if (!same_value(fieldv(a, k), fieldv(b, k))) return 0;
    return 1;
}

static double size_n(const xb_array_params *p)
{
    return sqrt((double)p->rows * (double)p->cols);
}

/* The nearest same-shape model in circuit parameters (relative distance). */
int xb_fit_select(const xb_fit_params *models, size_t n, const xb_array_params *p, size_t *index,
                  xb_error *err)
{
    if (!models || !p || !index) return xb_errorf(err, XB_EINPUT, "xb_fit_select: missing argument");
    size_t best = n;
    double best_d = INFINITY;
    int kind_seen = 0;
    for (size_t k = 0; k < n; k++) {
        const xb_array_params *c = &models[k].config;
        if (!same_kind(c, p)) continue;
        kind_seen = 1;
        if (c->rows != p->rows || c->cols != p->cols) continue;
        double d = 0;
        for (size_t q = 0; q < NCIRCUIT; q++) {
            double a = fieldv(p, q), b = fieldv(c, q);
            d += fabs(a - b) / (fabs(a) + fabs(b) + 1e-12);
        }
        if (d < best_d) {
            best_d = d;
            best = k;
        }
    }
    if (best < n) {
        *index = best;
        return XB_OK;
    }
    if (!kind_seen)
        return xb_errorf(err, XB_EINPUT, "the model file has no model for --device %s --cell %s",
                         xb_device_name(p->device), xb_cell_name(p->cell));
    char shapes[512] = "";
    size_t o = 0;
    for (size_t k = 0; k < n && o < sizeof shapes - 32; k++)
        if (same_kind(&models[k].config, p))
            o += (size_t)snprintf(shapes + o, sizeof shapes - o, "%s%zux%zu", o ? ", " : "", models[k].config.rows,
                                  models[k].config.cols);
    return xb_errorf(err, XB_EINPUT, "array is %zux%zu but the %s/%s models are for %s", p->rows, p->cols,
                     xb_device_name(p->device), xb_cell_name(p->cell), shapes);
}

/* The first configuration quantity of p outside the span of the device/cell's fitted models,
 * described in out ("" when inside everywhere); returns 1 when outside. */
static int outside_span(const xb_fit_params *ms, size_t n, const xb_array_params *p, char *out, size_t len)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t k = 0; k < n; k++)
        if (same_kind(&ms[k].config, p)) {
            lo = fmin(lo, size_n(&ms[k].config));
            hi = fmax(hi, size_n(&ms[k].config));
        }
    const double t = size_n(p);
    if (t < lo * (1 - SAME_TOL) || t > hi * (1 + SAME_TOL)) {
        snprintf(out, len, "size %zux%zu beyond the fitted %.0f..%.0f", p->rows, p->cols, lo, hi);
        return 1;
    }
    for (size_t q = 0; q < NCIRCUIT; q++) {
        lo = INFINITY;
        hi = -INFINITY;
        for (size_t k = 0; k < n; k++)
            if (same_kind(&ms[k].config, p)) {
                lo = fmin(lo, fieldv(&ms[k].config, q));
                hi = fmax(hi, fieldv(&ms[k].config, q));
            }
        const double v = fieldv(p, q), tol = SAME_TOL * fmax(fabs(lo), fabs(hi));
        if (v < lo - tol || v > hi + tol) {
            if (same_value(lo, hi)) snprintf(out, len, "%s %g where every fitted model has %g", k_circuit[q].name, v, lo);
            else snprintf(out, len, "%s %g beyond the fitted %g..%g", k_circuit[q].name, v, lo, hi);
            return 1;
        }
    }
    out[0] = '\0';
    return 0;
}

/* Parameters for p from the family coefficients fam, on the template of the nearest size. */
int xb_fit_family_model(const xb_fit_params *ms, size_t n, const double (*fam)[3], const xb_array_params *p,
                        xb_fit_params *out, size_t *tmpl, xb_error *err)
{
    size_t best = n;
    double bd = INFINITY;
    int sweeps = 0;
    for (size_t q = 0; q < n; q++) {
        if (!same_kind(&ms[q].config, p)) continue;
        double dd = fabs(size_n(&ms[q].config) - size_n(p));
        if (dd < bd) {
            bd = dd;
            best = q;
        }
        if (ms[q].n_sweeps > sweeps) sweeps = ms[q].n_sweeps;
    }
    if (best == n) return xb_errorf(err, XB_EINPUT, "no %s/%s model", xb_device_name(p->device), xb_cell_name(p->cell));
    xb_fit_params m = ms[best];
    const double rs_fit = m.config.r_sense_ohm;
    m.config = *p;
    m.n_sweeps = sweeps + 1 > 100 ? 100 : sweeps + 1; /* between fitted sizes: one sweep more than any */
    xb_fit_family_predict(fam, &m);
    /* the family has no r_sense quantity: the template's effective value scaled with the circuit */
    m.r_sense_ohm = rs_fit > 0 ? m.r_sense_ohm * p->r_sense_ohm / rs_fit : p->r_sense_ohm;
    int rc = xb_fit_params_check(&m, err);
    if (rc) return rc;
    *out = m;
    *tmpl = best;
    return XB_OK;
}

/* p's circuit but for the wire resistances, both equal (interpolation candidates). */
static int same_but_wire(const xb_array_params *c, const xb_array_params *p)
{
    if (!same_kind(c, p) || c->rows != p->rows || c->cols != p->cols || c->r_wire_row_ohm != c->r_wire_col_ohm)
        return 0;
    for (size_t k = 0; k < NCIRCUIT; k++)
        if (k_circuit[k].offset != offsetof(xb_array_params, r_wire_row_ohm) &&
            k_circuit[k].offset != offsetof(xb_array_params, r_wire_col_ohm) && !same_value(fieldv(c, k), fieldv(p, k)))
            return 0;
    return 1;
}

/* Linear interpolation in r_wire between the nearest fitted models below (*a) and above (*b)
 * p's wire resistance; 0 when there are no such two (or their knots differ). */
static int interp_model(const xb_fit_params *ms, size_t n, const xb_array_params *p, xb_fit_params *out, size_t *a,
                        size_t *b)
{
    const double r = p->r_wire_row_ohm;
    *a = *b = n;
    if (r != p->r_wire_col_ohm) return 0;
    for (size_t k = 0; k < n; k++) {
        if (!same_but_wire(&ms[k].config, p)) continue;
        const double rk = ms[k].config.r_wire_row_ohm;
        if (rk < r && (*a == n || rk > ms[*a].config.r_wire_row_ohm)) *a = k;
        if (rk > r && (*b == n || rk < ms[*b].config.r_wire_row_ohm)) *b = k;
    }
    if (*a == n || *b == n) return 0;
    const xb_fit_params *ma = &ms[*a], *mb = &ms[*b];
    if (ma->n_knots != mb->n_knots) return 0;
    for (size_t k = 0; k < ma->n_knots; k++)
        if (ma->knot_x[k] != mb->knot_x[k]) return 0;
    const double ra = ma->config.r_wire_row_ohm, t = (r - ra) / (mb->config.r_wire_row_ohm - ra);
#define LERP(x, y) ((x) + t * ((y) - (x)))
    xb_fit_params m = *ma;
    m.config = *p;
    m.n_sweeps = (ma->n_sweeps > mb->n_sweeps ? ma->n_sweeps : mb->n_sweeps) + 1;
    if (m.n_sweeps > 100) m.n_sweeps = 100;
    m.r_row_ohm = r * LERP(ma->r_row_ohm / ra, mb->r_row_ohm / mb->config.r_wire_row_ohm);
    m.r_col_ohm = r * LERP(ma->r_col_ohm / ra, mb->r_col_ohm / mb->config.r_wire_col_ohm);
    m.r_driver_ohm = LERP(ma->r_driver_ohm, mb->r_driver_ohm);
    m.r_sense_ohm = LERP(ma->r_sense_ohm, mb->r_sense_ohm);
    m.r_series_ohm = LERP(ma->r_series_ohm, mb->r_series_ohm);
    m.gain = LERP(ma->gain, mb->gain);
    m.resid_sigma_rel = LERP(ma->resid_sigma_rel, mb->resid_sigma_rel);
    for (size_t k = 0; k < m.n_knots; k++) m.knot_v0_volt[k] = LERP(ma->knot_v0_volt[k], mb->knot_v0_volt[k]);
#undef LERP
    m.valid_g_min_siemens = fmin(ma->valid_g_min_siemens, mb->valid_g_min_siemens);
    m.valid_g_max_siemens = fmax(ma->valid_g_max_siemens, mb->valid_g_max_siemens);
    m.valid_v_min_volt = fmin(ma->valid_v_min_volt, mb->valid_v_min_volt);
    m.valid_v_max_volt = fmax(ma->valid_v_max_volt, mb->valid_v_max_volt);
    if (xb_fit_params_check(&m, NULL) != XB_OK) return 0;
    *out = m;
    return 1;
}

int xb_fit_choose(const xb_fit_params *models, size_t n, const double (*fam)[3], const xb_array_params *p,
                  xb_fit_params *out, xb_fit_choice *ch, xb_error *err)
{
    if (!models || !p || !out) return xb_errorf(err, XB_EINPUT, "xb_fit_choose: missing argument");
    xb_fit_choice c;
    memset(&c, 0, sizeof c);
    for (size_t k = 0; k < n; k++)
        if (same_circuit(&models[k].config, p)) {
            c.kind = XB_FIT_CHOICE_FITTED;
            c.index = k;
            *out = models[k];
            if (ch) *ch = c;
            return XB_OK;
        }
    size_t ia, ib;
    if (interp_model(models, n, p, out, &ia, &ib)) {
        c.kind = XB_FIT_CHOICE_INTERP;
        c.index = ia;
        snprintf(c.line, sizeof c.line, "%zux%zu r_wire %g/%g ohm: interpolation in r_wire between models %03zu "
                 "(%g ohm) and %03zu (%g ohm)", p->rows, p->cols, p->r_wire_row_ohm, p->r_wire_col_ohm, ia,
                 models[ia].config.r_wire_row_ohm, ib, models[ib].config.r_wire_row_ohm);
        if (ch) *ch = c;
        return XB_OK;
    }
    char span[200];
    if (fam) {
        int rc = xb_fit_family_model(models, n, fam, p, out, &c.index, err);
        if (rc) return rc;
        c.kind = XB_FIT_CHOICE_FAMILY;
        c.extrapolation = outside_span(models, n, p, span, sizeof span);
        if (c.extrapolation)
            snprintf(c.line, sizeof c.line, "%zux%zu r_wire %g/%g ohm: %s/%s size/wire-resistance family, "
                     "extrapolation (%s)", p->rows, p->cols, p->r_wire_row_ohm, p->r_wire_col_ohm,
                     xb_device_name(p->device), xb_cell_name(p->cell), span);
        else
            snprintf(c.line, sizeof c.line, "%zux%zu r_wire %g/%g ohm: %s/%s size/wire-resistance family, "
                     "interpolation between fitted models", p->rows, p->cols, p->r_wire_row_ohm, p->r_wire_col_ohm,
                     xb_device_name(p->device), xb_cell_name(p->cell));
        if (ch) *ch = c;
        return XB_OK;
    }
    int rc = xb_fit_select(models, n, p, &c.index, err);
    if (rc) return rc;
    *out = models[c.index];
    c.kind = XB_FIT_CHOICE_NEAREST;
    c.extrapolation = 1;
    const xb_array_params *mc = &models[c.index].config;
    size_t q = 0;
    while (q < NCIRCUIT && same_value(fieldv(p, q), fieldv(mc, q))) q++;
    snprintf(c.line, sizeof c.line, "%zux%zu: no model fitted for this circuit and no size family: model %03zu "
             "(fitted for %s %g, here %g), extrapolation", p->rows, p->cols, c.index,
             q < NCIRCUIT ? k_circuit[q].name : "?", q < NCIRCUIT ? fieldv(mc, q) : NAN,
             q < NCIRCUIT ? fieldv(p, q) : NAN);
    if (ch) *ch = c;
    return XB_OK;
}

/* /family/<device>_<cell>/coef of the file, checked; *have = 0 when there is none. */
static int read_family(const char *path, const xb_array_params *p, double coef[XB_FIT_FAMILY_NQ][3], int *have,
                       xb_error *err)
{
    *have = 0;
    char fam[128];
    snprintf(fam, sizeof fam, "family/%s_%s/coef", xb_device_name(p->device), xb_cell_name(p->cell));
    hid_t f;
    int rc = xb_h5_open(path, 0, &f, err);
    if (rc) return rc;
    if (!xb_h5_exists(f, fam)) {
        xb_h5_close(f, NULL);
        return XB_OK;
    }
    double *c = NULL;
    int rk = 0;
    hsize_t d[4];
    rc = xb_h5_read_doubles(f, fam, &c, &rk, d, err);
    xb_h5_close(f, NULL);
    char where[600];
    snprintf(where, sizeof where, "%s: /%s", path, fam);
    if (!rc && (rk != 2 || d[0] != XB_FIT_FAMILY_NQ || d[1] != 3))
        rc = xb_errorf(err, XB_EINPUT, "%s: expected shape (%d, 3)", where, XB_FIT_FAMILY_NQ);
    /* a NaN coefficient predicted models whose currents were off by orders of magnitude */
    if (!rc) rc = xb_check_finite(c, XB_FIT_FAMILY_NQ * 3, where, err);
    if (!rc) {
        memcpy(coef, c, sizeof(double) * XB_FIT_FAMILY_NQ * 3);
        *have = 1;
    }
    free(c);
    return rc;
}

int xb_fit_file_choose(const char *path, const xb_array_params *p, xb_fit_params *out, xb_fit_choice *ch,
                       xb_error *err)
{
    if (!path || !p || !out) return xb_errorf(err, XB_EINPUT, "xb_fit_file_choose: missing argument");
    xb_fit_params *ms = NULL;
    size_t n = 0;
    int rc = xb_fit_file_read(path, &ms, NULL, &n, err);
    if (rc) return rc;
    double coef[XB_FIT_FAMILY_NQ][3];
    int have = 0;
    int exact = 0;
    for (size_t k = 0; k < n && !exact; k++) exact = same_circuit(&ms[k].config, p);
    /* the family is read only when needed: a damaged /family does not block fitted circuits */
    if (!exact) rc = read_family(path, p, coef, &have, err);
    if (!rc) rc = xb_fit_choose(ms, n, have ? (const double(*)[3])coef : NULL, p, out, ch, err);
    if (rc) xb_error_prefix(err, "%s: ", path);
    free(ms);
    return rc;
}

int xb_fit_file_model_for(const char *path, const xb_array_params *p, xb_fit_params *out, int *from_family,
                          xb_error *err)
{
    xb_fit_choice c;
    if (from_family) *from_family = 0;
    int rc = xb_fit_file_choose(path, p, out, &c, err);
    if (!rc && from_family) *from_family = c.kind == XB_FIT_CHOICE_FAMILY;
    return rc;
}
