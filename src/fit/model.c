/* Behavioural MVM model: evaluation (the form is described in include/xbar/fit.h and
 * docs/fit.md; tools/xbar_model.py is a second implementation of exactly this code). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "fit/fit_internal.h"

struct xb_fit_eval {
    xb_fit_params m;
    size_t rows, cols;
    double omega;   /* damping of the fixed-point sweeps */
    double *a;      /* rows*cols: I = a * v * shc(c * v) */
    double *c;
    double *vc;     /* cell voltages */
    double *cur;    /* column prefix sums of the cell currents */
    double *ic;     /* cell currents */
    double *colacc; /* cols */
    gsl_rng *rng;   /* residual-noise sampling, NULL = off */
};

/* sinh(x)/x: a short even series where it is exact to ~2e-9, sinh otherwise (the
 * Python reader uses the same split, so both agree to rounding). */
static inline double shc(double x)
{
    double y = x * x;
    if (y <= 2.25)
        return 1.0 + y * (1.0 / 6 + y * (1.0 / 120 + y * (1.0 / 5040 + y * (1.0 / 362880 +
                                                                         y * (1.0 / 39916800)))));
    return sinh(x) / x;
}

double xb_fit_shc(double x) { return shc(x); }

void xb_fit_params_nominal(xb_fit_params *m, const xb_array_params *p)
{
    memset(m, 0, sizeof *m);
    m->config = *p;
    m->r_row_ohm = p->r_wire_row_ohm;
    m->r_col_ohm = p->r_wire_col_ohm;
    m->r_driver_ohm = p->r_driver_ohm;
    m->r_sense_ohm = p->r_sense_ohm;
    m->r_series_ohm = 0;
    if (p->cell == XB_CELL_1T1R) {
        /* triode on-resistance 1/(kp W/L (Vgs - Vt)) (Shichman & Hodges, IEEE JSSC 3(3) 285,
         * 1968; docs/physics.md "Driver, sense and access transistor") */
        double ov = p->v_gate_volt - p->nmos_vt_volt;
        if (p->nmos_kp_a_per_v2 > 0 && p->nmos_w_over_l > 0 && ov > 0)
            m->r_series_ohm = 1.0 / (p->nmos_kp_a_per_v2 * p->nmos_w_over_l * ov);
    } else if (p->cell == XB_CELL_1S1R) {
        /* small-signal resistance of I = Is sinh(V/Vs) at 0: Vs/Is */
        if (p->sel_is_amp > 0) m->r_series_ohm = p->sel_vs_volt / p->sel_is_amp;
    }
    m->g_ref_min_siemens = p->g_min_siemens;
    m->g_ref_max_siemens = p->g_max_siemens;
    m->v_read_volt = p->v_read_volt;
    m->n_sweeps = 3;
    m->gain = 1.0;
    m->resid_sigma_rel = 0;
    /* sinh-law devices: two V0 knots seeded from the read law of the device table, V0(g_min)
     * at x = 0 and V0(g_max) at x = 1 */
    const xb_device_info *di = xb_device_info_get(p->device);
    if (di && di->read.kind == XB_READ_SINH) {
        m->n_knots = 2;
        m->knot_x[0] = 0;
        m->knot_x[1] = 1;
        xb_device_v0_knots(p, &m->knot_v0_volt[0], &m->knot_v0_volt[1]);
    }
    m->valid_g_min_siemens = p->g_min_siemens;
    m->valid_g_max_siemens = p->g_max_siemens;
    m->valid_v_min_volt = 0;
    m->valid_v_max_volt = p->v_read_volt;
}

int xb_fit_params_check(const xb_fit_params *m, xb_error *err)
{
    if (m->config.rows == 0 || m->config.cols == 0)
        return xb_errorf(err, XB_EINPUT, "config: rows and cols must be >= 1");
    const struct { double v; const char *name; } nonneg[] = {
        {m->r_row_ohm, "r_row_ohm"},       {m->r_col_ohm, "r_col_ohm"},
        {m->r_driver_ohm, "r_driver_ohm"}, {m->r_sense_ohm, "r_sense_ohm"},
        {m->r_series_ohm, "r_series_ohm"}, {m->resid_sigma_rel, "resid_sigma_rel"},
    };
    for (size_t k = 0; k < sizeof nonneg / sizeof nonneg[0]; k++)
        if (!(nonneg[k].v >= 0) || !isfinite(nonneg[k].v))
            return xb_errorf(err, XB_EINPUT, "%s: must be finite and >= 0, got %g", nonneg[k].name,
                             nonneg[k].v);
    if (m->n_knots > XB_FIT_MAX_KNOTS)
        return xb_errorf(err, XB_EINPUT, "knot_x: %zu knots, at most %d", m->n_knots, XB_FIT_MAX_KNOTS);
    for (size_t k = 0; k < m->n_knots; k++) {
        if (!isfinite(m->knot_x[k]) || !(m->knot_v0_volt[k] > 0) || !isfinite(m->knot_v0_volt[k]))
            return xb_errorf(err, XB_EINPUT, "knot_v0_volt[%zu]: must be finite and > 0", k);
        if (k > 0 && !(m->knot_x[k] > m->knot_x[k - 1]))
            return xb_errorf(err, XB_EINPUT, "knot_x: must be strictly ascending");
    }
    if (!(m->g_ref_max_siemens > m->g_ref_min_siemens))
        return xb_errorf(err, XB_EINPUT, "g_ref: need g_ref_min < g_ref_max");
    if (!(m->v_read_volt > 0)) return xb_errorf(err, XB_EINPUT, "v_read_volt: must be > 0");
    if (m->n_sweeps < 0 || m->n_sweeps > 100)
        return xb_errorf(err, XB_EINPUT, "n_sweeps: must be 0..100, got %d", m->n_sweeps);
    if (!(m->gain > 0) || !isfinite(m->gain)) return xb_errorf(err, XB_EINPUT, "gain: must be > 0");
    /* the physical limits (common.h) that the model reader applies: a fit that wanders off
     * to 1e13 ohm wires is rejected before it is written (found by tests/fuzz/fuzz_results_h5) */
    const struct { double v; const char *name; xb_quantity q; } lim[] = {
        {m->r_row_ohm, "r_row_ohm", XB_QTY_RESISTANCE},
        {m->r_col_ohm, "r_col_ohm", XB_QTY_RESISTANCE},
        {m->r_driver_ohm, "r_driver_ohm", XB_QTY_RESISTANCE},
        {m->r_sense_ohm, "r_sense_ohm", XB_QTY_RESISTANCE},
        {m->r_series_ohm, "r_series_ohm", XB_QTY_RESISTANCE},
        {m->g_ref_min_siemens, "g_ref_min_siemens", XB_QTY_CONDUCTANCE},
        {m->g_ref_max_siemens, "g_ref_max_siemens", XB_QTY_CONDUCTANCE},
        {m->v_read_volt, "v_read_volt", XB_QTY_VOLTAGE},
    };
    for (size_t k = 0; k < sizeof lim / sizeof lim[0]; k++)
        if (xb_check_value(lim[k].q, lim[k].v, lim[k].name, err)) return XB_EINPUT;
    for (size_t k = 0; k < m->n_knots; k++)
        if (xb_check_value(XB_QTY_VOLTAGE, m->knot_v0_volt[k], "knot_v0_volt", err)) return XB_EINPUT;
    return XB_OK;
}

/* 1/V0 for a device of conductance g: V0 piecewise-linear over the knots, clamped. */
double xb_fit_knot_k(const xb_fit_params *m, double g)
{
    if (m->n_knots == 0) return 0;
    double x = (g - m->g_ref_min_siemens) / (m->g_ref_max_siemens - m->g_ref_min_siemens);
    size_t n = m->n_knots;
    double v0;
    if (n == 1 || x <= m->knot_x[0]) {
        v0 = m->knot_v0_volt[0];
    } else if (x >= m->knot_x[n - 1]) {
        v0 = m->knot_v0_volt[n - 1];
    } else {
        size_t k = 1;
        while (x > m->knot_x[k]) k++;
        double t = (x - m->knot_x[k - 1]) / (m->knot_x[k] - m->knot_x[k - 1]);
        v0 = m->knot_v0_volt[k - 1] + t * (m->knot_v0_volt[k] - m->knot_v0_volt[k - 1]);
    }
    return 1.0 / fmax(v0, XB_FIT_V0_MIN_VOLT);
}

int xb_fit_eval_new(const xb_fit_params *m, const xb_matrix *g, xb_fit_eval **out, xb_error *err)
{
    *out = NULL;
    if (g->rows != m->config.rows || g->cols != m->config.cols)
        return xb_errorf(err, XB_EINPUT, "G is %zux%zu but the model is for %zux%zu arrays", g->rows,
                         g->cols, m->config.rows, m->config.cols);
    xb_fit_eval *e = calloc(1, sizeof *e);
    size_t n = g->rows * g->cols;
    if (!e) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    e->m = *m;
    e->rows = g->rows;
    e->cols = g->cols;
    e->a = malloc(n * sizeof *e->a);
    e->c = malloc(n * sizeof *e->c);
    e->vc = malloc(n * sizeof *e->vc);
    e->cur = malloc(n * sizeof *e->cur);
    e->ic = malloc(n * sizeof *e->ic);
    e->colacc = malloc(g->cols * sizeof *e->colacc);
    if (!e->a || !e->c || !e->vc || !e->cur || !e->ic || !e->colacc) {
        xb_fit_eval_free(e);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    double gsum = 0;
    for (size_t q = 0; q < n; q++) {
        double gq = g->data[q];
        if (!isfinite(gq) || gq < 0) {
            xb_fit_eval_free(e);
            return xb_errorf(err, XB_EINPUT, "G(%zu,%zu) = %g: conductances must be finite and >= 0",
                             q / g->cols + 1, q % g->cols + 1, gq);
        }
        double k = xb_fit_knot_k(m, gq);
        double d = 1.0 / (1.0 + gq * m->r_series_ohm);
        e->a[q] = gq * d / shc(k * m->v_read_volt);
        e->c[q] = k * d;
        gsum += gq * d;
    }
    /* Damping from the average load: the relative IR drop of a uniform array is about
     * lambda = (r_drv + r_row C/3) Grow + (r_sense + r_col R/3) Gcol, and a step of
     * 1/(1+lambda) removes that mode in one sweep (docs/fit.md). */
    double R = (double)g->rows, C = (double)g->cols;
    double lambda = (m->r_driver_ohm + m->r_row_ohm * C / 3) * gsum / R +
                    (m->r_sense_ohm + m->r_col_ohm * R / 3) * gsum / C;
    e->omega = 1.0 / (1.0 + lambda);
    *out = e;
    return XB_OK;
}

void xb_fit_eval_free(xb_fit_eval *e)
{
    if (!e) return;
    free(e->a);
    free(e->c);
    free(e->vc);
    free(e->cur);
    free(e->ic);
    free(e->colacc);
    if (e->rng) gsl_rng_free(e->rng);
    free(e);
}

/* sinh(x)/x as the even series only (valid where x*x <= 2.25), Estrin form: short
 * dependency chains, no branch, so the cell loops below vectorize. */
static inline double shc_series(double y)
{
    double y2 = y * y;
    return (1.0 + y * (1.0 / 6)) + y2 * ((1.0 / 120 + y * (1.0 / 5040)) +
                                         y2 * (1.0 / 362880 + y * (1.0 / 39916800)));
}

/* Cell currents from cell voltages into ic; cur receives the column prefix sums P(i,j)
 * (current in the column segment below cell (i,j)); colacc the total per column. */
static void cell_currents(xb_fit_eval *e)
{
    size_t R = e->rows, C = e->cols;
    memset(e->colacc, 0, C * sizeof *e->colacc);
    for (size_t i = 0; i < R; i++) {
        const double *a = e->a + i * C, *c = e->c + i * C, *v = e->vc + i * C;
        double *p = e->cur + i * C, *q = e->ic + i * C;
        double ymax = 0;
        for (size_t j = 0; j < C; j++) {
            double x = c[j] * v[j], y = x * x;
            ymax = y > ymax ? y : ymax;
            q[j] = a[j] * v[j] * shc_series(y);
        }
        if (ymax > 2.25) /* rare: |v/V0| > 1.5, outside the series range */
            for (size_t j = 0; j < C; j++) q[j] = a[j] * v[j] * shc(c[j] * v[j]);
        for (size_t j = 0; j < C; j++) {
            e->colacc[j] += q[j];
            p[j] = e->colacc[j];
        }
    }
}

/* One damped sweep: new cell voltages from the currents of e->vc. */
static void sweep(xb_fit_eval *e, const double *v_in, double *row_i)
{
    size_t R = e->rows, C = e->cols;
    const xb_fit_params *m = &e->m;
    cell_currents(e);
    /* Row i: S_j = sum_{m>=j} I_im is the current in the row segment in front of cell j, and
     * v_row(j) = V_i - r_driver S_0 - r_row sum_{k<=j} S_k.  One backward pass gives S_0,
     * U_j = sum_{k>j} S_k and the total sum_k S_k = U_0 + S_0, so that
     * sum_{k<=j} S_k = total - U_j and the forward update has no serial dependency. */
    double om = e->omega;
    for (size_t i = 0; i < R; i++) {
        const double *q = e->ic + i * C;
        double s = 0, u = 0;
        for (size_t j = C; j-- > 0;) {
            u += s;
            row_i[j] = u;
            s += q[j];
        }
        double base = v_in[i] - m->r_driver_ohm * s - m->r_row_ohm * (u + s);
        double *v = e->vc + i * C;
        for (size_t j = 0; j < C; j++) {
            double vrow = base + m->r_row_ohm * row_i[j];
            v[j] += om * (vrow - v[j]); /* column part subtracted below */
        }
    }
    /* Column j: node c(i,j) sits above the segments i..R-1 carrying P(i..R-1, j). */
    double *t = row_i;
    memset(t, 0, C * sizeof *t);
    for (size_t i = R; i-- > 0;) {
        const double *p = e->cur + i * C;
        double *v = e->vc + i * C;
        for (size_t j = 0; j < C; j++) {
            t[j] += p[j];
            double vcol = m->r_sense_ohm * e->colacc[j] + m->r_col_ohm * t[j];
            v[j] -= om * vcol;
        }
    }
}

static void solve_vector(xb_fit_eval *e, const double *v_in, double *scratch)
{
    size_t R = e->rows, C = e->cols;
    for (size_t i = 0; i < R; i++)
        for (size_t j = 0; j < C; j++) e->vc[i * C + j] = v_in[i];
    for (int s = 0; s < e->m.n_sweeps; s++) sweep(e, v_in, scratch);
}

gsl_rng *xb_fit_noise_rng(uint64_t seed)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (r) gsl_rng_set(r, (unsigned long)seed);
    return r;
}

void xb_fit_resid_noise(gsl_rng *rng, double rel, double *o, size_t n)
{
    /* residual spread of the fit, relative to the rms output of this vector */
    double ms = 0;
    for (size_t j = 0; j < n; j++) ms += o[j] * o[j];
    double sd = rel * sqrt(ms / (double)n);
    for (size_t j = 0; j < n; j++) o[j] += gsl_ran_gaussian(rng, sd);
}

int xb_fit_eval_set_noise(xb_fit_eval *e, int on, uint64_t seed, xb_error *err)
{
    if (e->rng) gsl_rng_free(e->rng);
    e->rng = NULL;
    if (on && !(e->rng = xb_fit_noise_rng(seed))) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    return XB_OK;
}

int xb_fit_eval_mvm(xb_fit_eval *e, const xb_matrix *v, xb_matrix *i_out, xb_error *err)
{
    if (v->cols != e->rows)
        return xb_errorf(err, XB_EINPUT, "V has %zu columns but the model has %zu rows", v->cols, e->rows);
    if (i_out->rows != v->rows || i_out->cols != e->cols)
        return xb_errorf(err, XB_EINPUT, "output matrix is %zux%zu, expected %zux%zu", i_out->rows,
                         i_out->cols, v->rows, e->cols);
    double *scratch = malloc(e->cols * sizeof *scratch);
    if (!scratch) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    for (size_t k = 0; k < v->rows; k++) {
        solve_vector(e, xb_matrix_row(v, k), scratch);
        cell_currents(e);
        double *o = xb_matrix_row(i_out, k);
        for (size_t j = 0; j < e->cols; j++) o[j] = e->m.gain * e->colacc[j];
        if (e->rng && e->m.resid_sigma_rel > 0) xb_fit_resid_noise(e->rng, e->m.resid_sigma_rel, o, e->cols);
    }
    free(scratch);
    return XB_OK;
}

int xb_fit_eval_cell_voltages(xb_fit_eval *e, const double *v_in, double *v_cell, xb_error *err)
{
    double *scratch = malloc(e->cols * sizeof *scratch);
    if (!scratch) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    solve_vector(e, v_in, scratch);
    memcpy(v_cell, e->vc, e->rows * e->cols * sizeof *v_cell);
    free(scratch);
    return XB_OK;
}

int xb_fit_eval_row_currents(xb_fit_eval *e, const double *v_in, double *i_row, xb_error *err)
{
    double *scratch = malloc(e->cols * sizeof *scratch);
    if (!scratch) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    solve_vector(e, v_in, scratch);
    free(scratch);
    for (size_t i = 0; i < e->rows; i++) {
        const double *a = e->a + i * e->cols, *c = e->c + i * e->cols, *v = e->vc + i * e->cols;
        double s = 0;
        for (size_t j = 0; j < e->cols; j++) s += a[j] * v[j] * shc(c[j] * v[j]);
        i_row[i] = e->m.gain * s;
    }
    return XB_OK;
}

int xb_fit_model_mvm(const xb_fit_params *m, const xb_matrix *g, const xb_matrix *v,
                     xb_matrix *i_out, xb_error *err)
{
    xb_fit_eval *e;
    int rc = xb_fit_eval_new(m, g, &e, err);
    if (rc) return rc;
    rc = xb_fit_eval_mvm(e, v, i_out, err);
    xb_fit_eval_free(e);
    return rc;
}

double xb_fit_rel_l2(const xb_matrix *a, const xb_matrix *ref)
{
    double num = 0, den = 0;
    size_t n = a->rows * a->cols;
    for (size_t q = 0; q < n; q++) {
        double d = a->data[q] - ref->data[q];
        num += d * d;
        den += ref->data[q] * ref->data[q];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* The envelope of model m: the stored validity widened to the device window and 0..v_read
 * (files before the envelope stored the training samples' min/max there). */
static void envelope(const xb_fit_params *m, double *g_lo, double *g_hi, double *v_lo, double *v_hi)
{
    const xb_array_params *c = &m->config;
    *g_lo = fmin(m->valid_g_min_siemens, c->g_min_siemens);
    *g_hi = fmax(m->valid_g_max_siemens, c->g_max_siemens);
    *v_lo = fmin(m->valid_v_min_volt, 0.0);
    *v_hi = fmax(m->valid_v_max_volt, c->v_read_volt);
}

int xb_fit_validity(const xb_fit_params *m, const xb_array_params *p, const xb_matrix *g,
                    const xb_matrix *v, char *msg, size_t n)
{
    const double tol = 1e-9;
    const xb_array_params *c = &m->config;
    if (p && (p->device != c->device || p->cell != c->cell)) {
        snprintf(msg, n, "--device %s --cell %s differ from the model's (%s, %s)", xb_device_name(p->device),
                 xb_cell_name(p->cell), xb_device_name(c->device), xb_cell_name(c->cell));
        return 1;
    }
    double g_lo, g_hi, v_lo, v_hi;
    envelope(m, &g_lo, &g_hi, &v_lo, &v_hi);
    if (g) {
        double lo = g_lo * (1 - tol), hi = g_hi * (1 + tol);
        for (size_t q = 0; q < g->rows * g->cols; q++)
            if (g->data[q] < lo || g->data[q] > hi) {
                snprintf(msg, n, "G(%zu,%zu) = %g S is outside the fitted device window [%g, %g] S",
                         q / g->cols + 1, q % g->cols + 1, g->data[q], g_lo, g_hi);
                return 1;
            }
    }
    if (v) {
        double span = v_hi - v_lo;
        double lo = v_lo - tol * span, hi = v_hi + tol * span;
        for (size_t q = 0; q < v->rows * v->cols; q++)
            if (v->data[q] < lo || v->data[q] > hi) {
                snprintf(msg, n, "V(%zu,%zu) = %g V is outside the fitted input range [%g, %g] V%s",
                         q / v->cols + 1, q % v->cols + 1, v->data[q], v_lo, v_hi,
                         v->data[q] < 0 && v_lo >= 0 ? " (the model was fitted on non-negative inputs)" : "");
                return 1;
            }
    }
    return 0;
}
