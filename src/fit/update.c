/* Pulse-update models from SPICE pulse trains (fit.h "pulse-update models"; docs/fit.md
 * "Update models").
 *
 * From every pulse of every train: the state before it, x = (G - g_min)/(g_max - g_min)
 * over the window reached, and its change dG.  Per direction the step law f(x) is fitted
 * to the changes by least squares (linear for the soft-bounds and piecewise-linear laws,
 * GSL gsl_multifit_nlinear for the exponential one), in units of the window.  Pulses at the
 * bound of their own Monte Carlo device (the extremes it reached; devices differ in their
 * bounds) are the hard bound, not the law: left out, both those held there and those
 * stopped there part-way (censored: they say only that f + noise reached the bound).
 *   - law choice: each candidate is fitted on the steps outside the held-out slots, pooled
 *     and per device, and every held-out stretch of a train is run open loop from its
 *     measured start with its own device's law, clipped at that device's bounds (as the
 *     model simulates devices); the smallest rms trajectory error wins (AIC of the one-step
 *     residuals without held-out slots).  The chosen law is then refitted on all steps.
 *   - device-to-device: the chosen law fitted per Monte Carlo device; the spread of its
 *     parameters; the extremes each device reached.
 *   - cycle-to-cycle: the residuals of the steps about their own device's law, each r^2
 *     scaled by (1 + h)/(1 - h), h its leverage in that fit: 1/(1 - h) undoes the shrinking
 *     of a residual about a law fitted to it, 1 + h adds the law's own uncertainty, so that
 *     sigma is the spread of a new step about the fitted law (the prediction variance of
 *     least squares).  Then r^2 regressed on (1, f^2) (sigma^2 = abs^2 + (rel f)^2, both
 *     >= 0), and the binned spread over the state: in bins with enough steps, the factor k_b
 *     that scales the law's sigma to the bin's rms residual.  PCM's step at x = 0 (the first
 *     crystallisation after a RESET) is set by 4 steps per device: with one global
 *     n / (n - parameters) its residuals said 0.71-0.74 of the spread fresh trains show.
 * Everything is computed in units of the window (x in [0, 1], dG / window) and scaled back. */
#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fit/fit_internal.h"

#define CLAMP_TOL 1e-3 /* of the window: a step into a bound that moves less is the bound */
#define PWL_SMOOTH 1e-2 /* weight of the second differences of the knots (knots without data) */
#define LEVERAGE_MAX 0.9 /* a step that alone sets a parameter says nothing of the noise: capped */

static const char *const k_law_names[XB_UPDATE_N_LAWS] = {"softbounds", "exp", "pwl"};

const char *xb_update_law_name(xb_update_law law)
{
    return (unsigned)law < XB_UPDATE_N_LAWS ? k_law_names[law] : "?";
}

int xb_update_law_from_name(const char *s, xb_update_law *out)
{
    for (int k = 0; s && k < XB_UPDATE_N_LAWS; k++)
        if (strcmp(s, k_law_names[k]) == 0) {
            *out = (xb_update_law)k;
            return XB_OK;
        }
    return XB_EINPUT;
}

size_t xb_update_law_nparams(xb_update_law law)
{
    return law == XB_UPDATE_PWL ? XB_UPDATE_PWL_KNOTS : 2;
}

double xb_update_law_eval(xb_update_law law, const double *p, double x, int dir)
{
    switch (law) {
    case XB_UPDATE_SOFTBOUNDS:
        return p[0] + (p[1] - p[0]) * x;
    case XB_UPDATE_EXP:
        return (dir > 0 ? 1.0 : -1.0) * p[0] * exp(-p[1] * (dir > 0 ? x : 1 - x));
    case XB_UPDATE_PWL: {
        const double t = fmin(fmax(x, 0.0), 1.0) * (XB_UPDATE_PWL_KNOTS - 1);
        size_t k = (size_t)t;
        if (k > XB_UPDATE_PWL_KNOTS - 2) k = XB_UPDATE_PWL_KNOTS - 2;
        return p[k] + (p[k + 1] - p[k]) * (t - (double)k);
    }
    default:
        return NAN;
    }
}

/* ------------------------------------------------------------------ steps */
typedef struct {
    double x, dg;   /* state before the pulse (normalised), change (window units) */
    size_t dev;
    int held;
} step_rec;

typedef struct {
    step_rec *s[2]; /* [0] up, [1] down */
    size_t n[2];
    size_t n_bound[2]; /* steps left out: held at the bound they pushed against */
} step_set;

static void steps_free(step_set *ss)
{
    free(ss->s[0]);
    free(ss->s[1]);
    memset(ss, 0, sizeof *ss);
}

/* Extremes of every read: the window.  Held-out reads count too: the bounds are what the
 * devices reach, not part of the law a held-out stretch tests. */
static void window_of(const xb_update_data *d, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (size_t t = 0; t < d->n_trains; t++) {
        const xb_update_train *tr = &d->trains[t];
        for (size_t k = 0; k <= tr->n_slots; k++) {
            double g = tr->g_siemens[k];
            if (!isfinite(g)) continue;
            *lo = fmin(*lo, g);
            *hi = fmax(*hi, g);
        }
    }
}

/* Extremes of every read of each Monte Carlo device (dev_lo/dev_hi, n_dev entries; NaN for
 * a device without reads): the bounds of that device.  Devices differ in their bounds
 * (RRAM's highest conductance by ~20 %), so a pulse held at its own device's bound is the
 * bound even when another device reaches further. */
static size_t n_devices_of(const xb_update_data *d)
{
    size_t D = 0;
    for (size_t t = 0; t < d->n_trains; t++)
        if (d->trains[t].device + 1 > D) D = d->trains[t].device + 1;
    return D;
}

static int device_extremes(const xb_update_data *d, double **dev_lo, double **dev_hi, xb_error *err)
{
    const size_t D = n_devices_of(d);
    *dev_lo = malloc((D ? D : 1) * sizeof **dev_lo);
    *dev_hi = malloc((D ? D : 1) * sizeof **dev_hi);
    if (!*dev_lo || !*dev_hi) {
        free(*dev_lo);
        free(*dev_hi);
        *dev_lo = *dev_hi = NULL;
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    for (size_t k = 0; k < D; k++) (*dev_lo)[k] = INFINITY, (*dev_hi)[k] = -INFINITY;
    for (size_t t = 0; t < d->n_trains; t++) {
        const xb_update_train *tr = &d->trains[t];
        for (size_t s = 0; s <= tr->n_slots; s++)
            if (isfinite(tr->g_siemens[s])) {
                (*dev_lo)[tr->device] = fmin((*dev_lo)[tr->device], tr->g_siemens[s]);
                (*dev_hi)[tr->device] = fmax((*dev_hi)[tr->device], tr->g_siemens[s]);
            }
    }
    for (size_t k = 0; k < D; k++)
        if (!isfinite((*dev_lo)[k])) (*dev_lo)[k] = (*dev_hi)[k] = NAN;
    return XB_OK;
}

static int collect_steps(const xb_update_data *d, double lo, double hi, step_set *ss, xb_error *err)
{
    memset(ss, 0, sizeof *ss);
    size_t cap = 0;
    for (size_t t = 0; t < d->n_trains; t++) cap += d->trains[t].n_slots;
    ss->s[0] = malloc((cap ? cap : 1) * sizeof *ss->s[0]);
    ss->s[1] = malloc((cap ? cap : 1) * sizeof *ss->s[1]);
    if (!ss->s[0] || !ss->s[1]) {
        steps_free(ss);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    double *dlo = NULL, *dhi = NULL;
    int rc = device_extremes(d, &dlo, &dhi, err);
    if (rc) {
        steps_free(ss);
        return rc;
    }
    const double W = hi - lo, tol = CLAMP_TOL * W;
    for (size_t t = 0; t < d->n_trains; t++) {
        const xb_update_train *tr = &d->trains[t];
        const double blo = dlo[tr->device], bhi = dhi[tr->device]; /* this device's bounds */
        for (size_t k = 0; k < tr->n_slots; k++) {
            const int dir = tr->dir[k];
            const double g0 = tr->g_siemens[k], g1 = tr->g_siemens[k + 1];
            if (!dir || !isfinite(g0) || !isfinite(g1)) continue;
            const double dg = g1 - g0;
            /* pushed against the bound of its own device and held there, or stopped there
             * part-way: the bound (a censored step: it says only f + noise >= the distance
             * to the bound), not the law */
            const int q = dir > 0 ? 0 : 1;
            const int held = fabs(dg) <= tol && (dir > 0 ? g0 >= bhi - tol : g0 <= blo + tol);
            const int stopped = dir > 0 ? g1 >= bhi - tol : g1 <= blo + tol;
            if (held || stopped) {
                ss->n_bound[q]++;
                continue;
            }
            ss->s[q][ss->n[q]++] = (step_rec){(g0 - lo) / W, dg / W, tr->device, tr->heldout ? tr->heldout[k] : 0};
        }
    }
    free(dlo);
    free(dhi);
    return XB_OK;
}

/* The steps of direction q selected by (held-out use, device): x and dg arrays. */
typedef struct {
    double *x, *y;
    size_t n;
} xy_set;

enum { SEL_TRAIN = 0, SEL_ALL = 1 };
#define ANY_DEV SIZE_MAX

static int select_xy(const step_set *ss, int q, int sel, size_t dev, xy_set *o, xb_error *err)
{
    o->n = 0;
    o->x = malloc((ss->n[q] ? ss->n[q] : 1) * sizeof *o->x);
    o->y = malloc((ss->n[q] ? ss->n[q] : 1) * sizeof *o->y);
    if (!o->x || !o->y) {
        free(o->x);
        free(o->y);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    for (size_t i = 0; i < ss->n[q]; i++) {
        const step_rec *r = &ss->s[q][i];
        if ((sel == SEL_TRAIN && r->held) || (dev != ANY_DEV && r->dev != dev)) continue;
        o->x[o->n] = r->x;
        o->y[o->n] = r->dg;
        o->n++;
    }
    return XB_OK;
}

static void xy_free(xy_set *o)
{
    free(o->x);
    free(o->y);
    o->x = o->y = NULL;
}

/* ------------------------------------------------------------------ the fits (window units) */
/* Soft bounds (2 knots) and piecewise-linear (XB_UPDATE_PWL_KNOTS knots): least squares on
 * the hat functions, plus small second-difference rows so that knots without data follow
 * their neighbours. */
static int fit_knots(size_t K, const xy_set *d, double *p, xb_error *err)
{
    const size_t nr = d->n + (K > 2 ? K - 2 : 0);
    double *X = calloc(nr * K, sizeof *X), *y = calloc(nr, sizeof *y);
    if (!X || !y) {
        free(X);
        free(y);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    for (size_t i = 0; i < d->n; i++) {
        const double t = (K == 2 ? d->x[i] : fmin(fmax(d->x[i], 0.0), 1.0)) * (double)(K - 1);
        size_t k = t < 0 ? 0 : (size_t)t;
        if (k > K - 2) k = K - 2;
        X[i * K + k] = 1 - (t - (double)k);
        X[i * K + k + 1] = t - (double)k;
        y[i] = d->y[i];
    }
    for (size_t k = 0; K > 2 && k < K - 2; k++) {
        double *row = X + (d->n + k) * K;
        row[k] = PWL_SMOOTH;
        row[k + 1] = -2 * PWL_SMOOTH;
        row[k + 2] = PWL_SMOOTH;
    }
    int rc = xb_fit_linear(X, y, nr, K, p, NULL, NULL, err);
    free(X);
    free(y);
    return rc;
}

/* Exponential law: residuals dir a exp(-b z) - y with a = exp(u), z = x (up) or 1 - x (down). */
typedef struct {
    const xy_set *d;
    int dir;
} exp_ctx;

static int exp_f(const gsl_vector *p, void *data, gsl_vector *f)
{
    const exp_ctx *c = data;
    const double u = gsl_vector_get(p, 0), b = gsl_vector_get(p, 1), s = c->dir > 0 ? 1.0 : -1.0;
    for (size_t i = 0; i < c->d->n; i++) {
        const double z = c->dir > 0 ? c->d->x[i] : 1 - c->d->x[i];
        gsl_vector_set(f, i, s * exp(fmin(u - b * z, 700)) - c->d->y[i]);
    }
    return GSL_SUCCESS;
}

static int exp_df(const gsl_vector *p, void *data, gsl_matrix *J)
{
    const exp_ctx *c = data;
    const double u = gsl_vector_get(p, 0), b = gsl_vector_get(p, 1), s = c->dir > 0 ? 1.0 : -1.0;
    for (size_t i = 0; i < c->d->n; i++) {
        const double z = c->dir > 0 ? c->d->x[i] : 1 - c->d->x[i], v = s * exp(fmin(u - b * z, 700));
        gsl_matrix_set(J, i, 0, v);
        gsl_matrix_set(J, i, 1, -z * v);
    }
    return GSL_SUCCESS;
}

/* Start of the exponential fit: a line through ln(dir y) against z (steps of the measured
 * sign), else a constant step. */
static void exp_start(const xy_set *d, int dir, double *u, double *b)
{
    double sz = 0, sy = 0, szz = 0, szy = 0, sa = 0;
    size_t m = 0;
    for (size_t i = 0; i < d->n; i++) {
        const double v = dir > 0 ? d->y[i] : -d->y[i], z = dir > 0 ? d->x[i] : 1 - d->x[i];
        sa += fabs(d->y[i]);
        if (!(v > 0)) continue;
        sz += z;
        sy += log(v);
        szz += z * z;
        szy += z * log(v);
        m++;
    }
    const double den = (double)m * szz - sz * sz;
    if (m >= 2 && den > 1e-12 * (double)m * (double)m) {
        double slope = ((double)m * szy - sz * sy) / den;
        *b = -slope;
        *u = (sy - slope * sz) / (double)m;
    } else {
        *b = 0;
        *u = log(fmax(sa / (double)(d->n ? d->n : 1), 1e-12));
    }
}

static int fit_exp(const xy_set *d, int dir, double *p, xb_error *err)
{
    double u0, b0;
    exp_start(d, dir, &u0, &b0);
    exp_ctx c = {d, dir};
    gsl_multifit_nlinear_fdf fdf;
    memset(&fdf, 0, sizeof fdf);
    fdf.f = exp_f;
    fdf.df = exp_df;
    fdf.n = d->n;
    fdf.p = 2;
    fdf.params = &c;
    gsl_multifit_nlinear_parameters fp = gsl_multifit_nlinear_default_parameters();
    gsl_multifit_nlinear_workspace *w = gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &fp, d->n, 2);
    gsl_vector *x0 = gsl_vector_alloc(2);
    if (!w || !x0) {
        if (w) gsl_multifit_nlinear_free(w);
        gsl_vector_free(x0);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    gsl_vector_set(x0, 0, u0);
    gsl_vector_set(x0, 1, b0);
    int info = 0;
    const xb_gsl_section gs = xb_gsl_begin();
    int st = gsl_multifit_nlinear_init(x0, &fdf, w);
    if (st == GSL_SUCCESS) st = gsl_multifit_nlinear_driver(200, 1e-10, 1e-10, 1e-14, NULL, NULL, &info, w);
    xb_gsl_end(gs);
    p[0] = exp(gsl_vector_get(w->x, 0));
    p[1] = gsl_vector_get(w->x, 1);
    gsl_multifit_nlinear_free(w);
    gsl_vector_free(x0);
    if (st != GSL_SUCCESS && st != GSL_EMAXITER && st != GSL_ENOPROG)
        return xb_errorf(err, XB_ERUNTIME, "update fit: GSL nonlinear least squares failed: %s", gsl_strerror(st));
    if (!isfinite(p[0]) || !isfinite(p[1])) return xb_errorf(err, XB_ERUNTIME, "update fit: exponential law diverged");
    return XB_OK;
}

static int fit_law(xb_update_law law, const xy_set *d, int dir, double *p, xb_error *err)
{
    const size_t np = xb_update_law_nparams(law);
    if (d->n < (np < 4 ? 4 : np)) return xb_errorf(err, XB_EINPUT, "%zu %s steps, need %zu", d->n, dir > 0 ? "up" : "down", np < 4 ? (size_t)4 : np);
    if (law == XB_UPDATE_EXP) return fit_exp(d, dir, p, err);
    return fit_knots(np, d, p, err);
}

/* Fit law to direction q of the selected steps; *n_out the steps used. */
static int fit_selected(xb_update_law law, const step_set *ss, int q, int sel, size_t dev, double *p, size_t *n_out,
                        xb_error *err)
{
    xy_set d;
    int rc = select_xy(ss, q, sel, dev, &d, err);
    if (rc) return rc;
    if (n_out) *n_out = d.n;
    rc = fit_law(law, &d, q == 0 ? 1 : -1, p, err);
    xy_free(&d);
    return rc;
}

/* ------------------------------------------------------------------ held-out scores */
typedef double law_params[2][XB_UPDATE_MAX_PARAMS]; /* [up, down], window units */

typedef struct {
    xb_update_law law;
    law_params p;                      /* the pooled law */
    double lo, hi;
    const double *dev_lo, *dev_hi;     /* each device's bounds (the extremes it reached) */
    size_t n_dev;
    law_params *pd;                    /* each device's own law (NULL, or have[k] = 0: the pooled) */
    int *have;
} law_model;

/* One pulse of the law p from g, clipped at the bounds [blo, bhi] of the train's device. */
static double lm_next(const law_model *m, const law_params p, double g, int dir, double blo, double bhi)
{
    const double W = m->hi - m->lo;
    const double f = W * xb_update_law_eval(m->law, p[dir > 0 ? 0 : 1], (g - m->lo) / W, dir);
    return fmin(fmax(g + f, blo), bhi);
}

/* Open-loop runs through every held-out stretch of every train from its measured start:
 * rms and largest |error| of G after each held-out slot (siemens), and the one-step rms. */
static void heldout_score(const xb_update_data *d, const law_model *m, double *traj_rms, double *traj_max,
                          double *step_rms, size_t *n_slots)
{
    double s2 = 0, mx = 0, o2 = 0;
    size_t n = 0, no = 0;
    for (size_t t = 0; t < d->n_trains; t++) {
        const xb_update_train *tr = &d->trains[t];
        if (!tr->heldout) continue;
        const double blo = m->dev_lo[tr->device], bhi = m->dev_hi[tr->device];
        /* the train's own device's law: the model runs every device with its own */
        const double(*p)[XB_UPDATE_MAX_PARAMS] =
            m->pd && tr->device < m->n_dev && m->have[tr->device] ? m->pd[tr->device] : m->p;
        double g = NAN;
        for (size_t k = 0; k < tr->n_slots; k++) {
            if (!tr->heldout[k]) {
                g = NAN;
                continue;
            }
            const double g0 = tr->g_siemens[k], g1 = tr->g_siemens[k + 1];
            if (isnan(g)) g = g0; /* a stretch starts from its measured state */
            if (tr->dir[k]) {
                g = lm_next(m, p, g, tr->dir[k], blo, bhi);
                const double e1 = lm_next(m, p, g0, tr->dir[k], blo, bhi) - g1;
                o2 += e1 * e1;
                no++;
            }
            const double e = g - g1;
            s2 += e * e;
            mx = fmax(mx, fabs(e));
            n++;
        }
    }
    *traj_rms = n ? sqrt(s2 / (double)n) : NAN;
    *traj_max = n ? mx : NAN;
    *step_rms = no ? sqrt(o2 / (double)no) : NAN;
    *n_slots = n;
}

/* AIC of the one-step residuals of a law fitted on all steps (no held-out slots). */
static double law_aic(xb_update_law law, const step_set *ss, const double p[2][XB_UPDATE_MAX_PARAMS])
{
    double rss = 0;
    size_t n = 0;
    for (int q = 0; q < 2; q++)
        for (size_t i = 0; i < ss->n[q]; i++) {
            const double r = ss->s[q][i].dg - xb_update_law_eval(law, p[q], ss->s[q][i].x, q == 0 ? 1 : -1);
            rss += r * r;
            n++;
        }
    const double k = 2.0 * (double)xb_update_law_nparams(law);
    return (double)n * log(fmax(rss / (double)n, 1e-300)) + 2 * k;
}

/* Score every candidate law on the held-out slots (fits on the training steps and window). */
static int choose_law(const xb_update_data *d, int law_req, xb_update_model *m, xb_update_law *chosen, xb_error *err)
{
    double lo, hi;
    window_of(d, &lo, &hi);
    step_set ss;
    int rc = (hi > lo) ? collect_steps(d, lo, hi, &ss, err) : XB_EINPUT;
    if (rc == XB_EINPUT) return xb_errorf(err, XB_EINPUT, "the training trains never change G");
    if (rc) return rc;
    double *dlo = NULL, *dhi = NULL;
    rc = device_extremes(d, &dlo, &dhi, err);
    const size_t n_dev = n_devices_of(d);
    law_params *pd = rc ? NULL : malloc((n_dev ? n_dev : 1) * sizeof *pd);
    int *have = rc ? NULL : calloc(n_dev ? n_dev : 1, sizeof *have);
    if (!rc && (!pd || !have)) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    if (rc) {
        free(dlo);
        free(dhi);
        free(pd);
        free(have);
        steps_free(&ss);
        return rc;
    }
    double best = INFINITY, best_aic = INFINITY, tmax[XB_UPDATE_N_LAWS];
    int any_held = 0;
    *chosen = law_req >= 0 ? (xb_update_law)law_req : XB_UPDATE_SOFTBOUNDS;
    for (int L = 0; L < XB_UPDATE_N_LAWS; L++) {
        m->heldout_traj_rel[L] = m->heldout_step_rms_siemens[L] = tmax[L] = NAN;
        law_model lm = {(xb_update_law)L, {{0}}, lo, hi, dlo, dhi, n_dev, pd, have};
        xb_error e2;
        if (fit_selected(lm.law, &ss, 0, SEL_TRAIN, ANY_DEV, lm.p[0], NULL, &e2) ||
            fit_selected(lm.law, &ss, 1, SEL_TRAIN, ANY_DEV, lm.p[1], NULL, &e2))
            continue; /* this law cannot be fitted to these steps */
        for (size_t k = 0; k < n_dev; k++)
            have[k] = !fit_selected(lm.law, &ss, 0, SEL_TRAIN, k, pd[k][0], NULL, &e2) &&
                      !fit_selected(lm.law, &ss, 1, SEL_TRAIN, k, pd[k][1], NULL, &e2);
        double tr, tm, sr;
        size_t n;
        heldout_score(d, &lm, &tr, &tm, &sr, &n);
        m->n_heldout_slots = n;
        if (n) {
            any_held = 1;
            m->heldout_traj_rel[L] = tr / (hi - lo);
            m->heldout_step_rms_siemens[L] = sr;
            tmax[L] = tm / (hi - lo);
            if (law_req < 0 && tr < best) {
                best = tr;
                *chosen = lm.law;
            }
        } else if (law_req < 0) {
            double a = law_aic(lm.law, &ss, lm.p);
            if (a < best_aic) {
                best_aic = a;
                *chosen = lm.law;
            }
        }
    }
    steps_free(&ss);
    free(dlo);
    free(dhi);
    free(pd);
    free(have);
    if (law_req < 0 && any_held && !isfinite(best))
        return xb_errorf(err, XB_EINPUT, "no step law could be fitted to the training pulses");
    m->heldout_traj_max_rel = tmax[*chosen];
    return XB_OK;
}

/* ------------------------------------------------------------------ the final model */
/* Per Monte Carlo device: the chosen law fitted to its own steps, and its extremes. */
static int fit_devices(const xb_update_data *d, const step_set *ss, xb_update_model *m, xb_error *err)
{
    size_t D = 0;
    for (size_t t = 0; t < d->n_trains; t++)
        if (d->trains[t].device + 1 > D) D = d->trains[t].device + 1;
    const size_t P = m->n_params;
    m->n_devices = D;
    m->dev_up = malloc(D * P * sizeof *m->dev_up);
    m->dev_down = malloc(D * P * sizeof *m->dev_down);
    m->dev_g_min_siemens = malloc(D * sizeof *m->dev_g_min_siemens);
    m->dev_g_max_siemens = malloc(D * sizeof *m->dev_g_max_siemens);
    if (!m->dev_up || !m->dev_down || !m->dev_g_min_siemens || !m->dev_g_max_siemens)
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    const double W = m->g_max_siemens - m->g_min_siemens;
    for (size_t k = 0; k < D; k++) {
        double lo = INFINITY, hi = -INFINITY;
        for (size_t t = 0; t < d->n_trains; t++)
            if (d->trains[t].device == k)
                for (size_t s = 0; s <= d->trains[t].n_slots; s++)
                    if (isfinite(d->trains[t].g_siemens[s])) {
                        lo = fmin(lo, d->trains[t].g_siemens[s]);
                        hi = fmax(hi, d->trains[t].g_siemens[s]);
                    }
        m->dev_g_min_siemens[k] = isfinite(lo) ? lo : NAN;
        m->dev_g_max_siemens[k] = isfinite(hi) ? hi : NAN;
        for (int q = 0; q < 2; q++) {
            double p[XB_UPDATE_MAX_PARAMS];
            double *dst = (q == 0 ? m->dev_up : m->dev_down) + k * P;
            xb_error e2;
            if (fit_selected(m->law, ss, q, SEL_ALL, k, p, NULL, &e2)) {
                for (size_t j = 0; j < P; j++) dst[j] = NAN;
                continue;
            }
            for (size_t j = 0; j < P; j++) dst[j] = (m->law == XB_UPDATE_EXP && j == 1) ? p[j] : p[j] * W;
        }
    }
    /* spreads over the devices that have a fit */
    for (int q = 0; q < 2; q++)
        for (size_t j = 0; j < P; j++) {
            const double *a = q == 0 ? m->dev_up : m->dev_down;
            double s = 0, s2 = 0;
            size_t n = 0;
            for (size_t k = 0; k < D; k++)
                if (isfinite(a[k * P + j])) {
                    s += a[k * P + j];
                    n++;
                }
            for (size_t k = 0; k < D; k++)
                if (isfinite(a[k * P + j])) s2 += (a[k * P + j] - s / (double)n) * (a[k * P + j] - s / (double)n);
            (q == 0 ? m->d2d_up_std : m->d2d_down_std)[j] = n > 1 ? sqrt(s2 / (double)(n - 1)) : 0;
        }
    for (int b = 0; b < 2; b++) {
        const double *a = b ? m->dev_g_max_siemens : m->dev_g_min_siemens;
        double s = 0, s2 = 0;
        for (size_t k = 0; k < D; k++) s += a[k];
        for (size_t k = 0; k < D; k++) s2 += (a[k] - s / (double)D) * (a[k] - s / (double)D);
        *(b ? &m->d2d_g_max_std_siemens : &m->d2d_g_min_std_siemens) = D > 1 ? sqrt(s2 / (double)(D - 1)) : 0;
    }
    return XB_OK;
}

/* Step law in window units of step i's own device (the pooled law when it has none). */
static double own_law(const xb_update_model *m, const step_rec *r, int q)
{
    const size_t P = m->n_params;
    const double *dp = (q == 0 ? m->dev_up : m->dev_down) + r->dev * P;
    const double *pp = q == 0 ? m->up : m->down;
    const double W = m->g_max_siemens - m->g_min_siemens;
    double p[XB_UPDATE_MAX_PARAMS];
    const int have = r->dev < m->n_devices && isfinite(dp[0]);
    for (size_t j = 0; j < P; j++) {
        const double v = have ? dp[j] : pp[j];
        p[j] = (m->law == XB_UPDATE_EXP && j == 1) ? v : v / W;
    }
    return xb_update_law_eval(m->law, p, r->x, q == 0 ? 1 : -1);
}

/* Gradient of the law (window units, parameters p) with respect to its parameters at x:
 * the hat functions of the knots (softbounds, pwl), (df/da, df/db) for the exponential law. */
static void law_grad(xb_update_law law, const double *p, double x, int dir, double *gr)
{
    const size_t P = xb_update_law_nparams(law);
    memset(gr, 0, P * sizeof *gr);
    if (law == XB_UPDATE_EXP) {
        const double z = dir > 0 ? x : 1 - x, e = (dir > 0 ? 1.0 : -1.0) * exp(-p[1] * z);
        gr[0] = e;
        gr[1] = -z * p[0] * e;
        return;
    }
    const double t = (P == 2 ? x : fmin(fmax(x, 0.0), 1.0)) * (double)(P - 1);
    size_t k = t < 0 ? 0 : (size_t)t;
    if (k > P - 2) k = P - 2;
    gr[k] = 1 - (t - (double)k);
    gr[k + 1] = t - (double)k;
}

/* Invert the symmetric positive-definite P x P matrix a in place (Cholesky); -1 when it is
 * not positive definite. */
static int small_inverse(double *a, size_t P)
{
    gsl_matrix_view A = gsl_matrix_view_array(a, P, P);
    const xb_gsl_section gs = xb_gsl_begin();
    int st = gsl_linalg_cholesky_decomp1(&A.matrix);
    if (!st) st = gsl_linalg_cholesky_invert(&A.matrix);
    xb_gsl_end(gs);
    return st ? -1 : 0;
}

/* Leverage h_i of every step of direction q in its own device's fit (the diagonal of the hat
 * matrix J (J'J + S'S)^-1 J', J the law's gradients at the device's steps, S the pwl
 * smoothing rows): a residual about a law fitted to it has variance sigma^2 (1 - h_i).  A
 * knot set by a few steps (PCM's first crystallisation after a RESET: 4 steps per device set
 * the step at x = 0) leaves residuals far smaller than the noise there, which one global
 * n / (n - parameters) does not restore.  Steps of a device without its own law: 0. */
static void leverages(const xb_update_model *m, const step_set *ss, int q, double *h)
{
    const size_t P = m->n_params, n = ss->n[q];
    const double W = m->g_max_siemens - m->g_min_siemens;
    for (size_t i = 0; i < n; i++) h[i] = 0;
    for (size_t k = 0; k < m->n_devices; k++) {
        const double *dp = (q == 0 ? m->dev_up : m->dev_down) + k * P;
        if (!isfinite(dp[0])) continue;
        double p[XB_UPDATE_MAX_PARAMS], a[XB_UPDATE_MAX_PARAMS * XB_UPDATE_MAX_PARAMS] = {0}, gr[XB_UPDATE_MAX_PARAMS];
        for (size_t j = 0; j < P; j++) p[j] = (m->law == XB_UPDATE_EXP && j == 1) ? dp[j] : dp[j] / W;
        for (size_t i = 0; i < n; i++) {
            const step_rec *r = &ss->s[q][i];
            if (r->dev != k) continue;
            law_grad(m->law, p, r->x, q == 0 ? 1 : -1, gr);
            for (size_t u = 0; u < P; u++)
                for (size_t v = 0; v < P; v++) a[u * P + v] += gr[u] * gr[v];
        }
        if (m->law == XB_UPDATE_PWL) /* the second-difference rows of fit_knots */
            for (size_t j = 0; j + 2 < P; j++) {
                const double row[3] = {PWL_SMOOTH, -2 * PWL_SMOOTH, PWL_SMOOTH};
                for (size_t u = 0; u < 3; u++)
                    for (size_t v = 0; v < 3; v++) a[(j + u) * P + j + v] += row[u] * row[v];
            }
        if (small_inverse(a, P)) continue;
        for (size_t i = 0; i < n; i++) {
            const step_rec *r = &ss->s[q][i];
            if (r->dev != k) continue;
            law_grad(m->law, p, r->x, q == 0 ? 1 : -1, gr);
            double hi = 0;
            for (size_t u = 0; u < P; u++)
                for (size_t v = 0; v < P; v++) hi += gr[u] * a[u * P + v] * gr[v];
            h[i] = fmin(fmax(hi, 0.0), LEVERAGE_MAX);
        }
    }
}

/* Cycle-to-cycle spread: r^2 = c0 + c1 f^2 by least squares over the residuals about each
 * step's device law, each r^2 scaled by 1 / (1 - h) with h its leverage in that fit (their
 * sum is the parameters of the device fits: the n / (n - parameters) of before, spread to
 * where the parameters sit); both >= 0.  Then the state factor of every bin with
 * XB_UPDATE_C2C_BIN_MIN steps: its mean r^2 over the law's mean sigma^2 at its steps. */
static int fit_c2c(const xb_update_model *m, const step_set *ss, int q, double *abs_w, double *rel, double *bin_sd,
                   double *bin_scale, size_t *bin_n, double *rms_w, xb_error *err)
{
    const size_t n = ss->n[q];
    size_t nfit = 0;
    for (size_t k = 0; k < m->n_devices; k++)
        if (isfinite((q == 0 ? m->dev_up : m->dev_down)[k * m->n_params])) nfit++;
    const double dof = (double)n - (double)(nfit ? nfit : 1) * (double)m->n_params;
    *abs_w = *rel = 0;
    *rms_w = NAN;
    for (int b = 0; b < XB_UPDATE_C2C_BINS; b++) {
        bin_sd[b] = NAN;
        bin_scale[b] = 1;
        bin_n[b] = 0;
    }
    if (n < 3 || !(dof > 0)) return XB_OK;
    double *X = malloc(2 * n * sizeof *X), *y = malloc(n * sizeof *y), *h = malloc(n * sizeof *h);
    if (!X || !y || !h) {
        free(X);
        free(y);
        free(h);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    double bs[XB_UPDATE_C2C_BINS] = {0}, s2 = 0, sf4 = 0, sr2f2 = 0;
    size_t bn[XB_UPDATE_C2C_BINS] = {0};
    int *bin_of = malloc(n * sizeof *bin_of);
    double *f2 = malloc(n * sizeof *f2);
    if (!bin_of || !f2) {
        free(bin_of);
        free(f2);
        free(X);
        free(y);
        free(h);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    leverages(m, ss, q, h);
    for (size_t i = 0; i < n; i++) {
        const step_rec *r = &ss->s[q][i];
        const double f = own_law(m, r, q), e = r->dg - f, e2 = e * e * (1 + h[i]) / (1 - h[i]);
        X[2 * i] = 1;
        X[2 * i + 1] = f * f;
        y[i] = e2;
        s2 += e2;
        sf4 += f * f * f * f;
        sr2f2 += e2 * f * f;
        int b = (int)(r->x * XB_UPDATE_C2C_BINS);
        b = b < 0 ? 0 : b >= XB_UPDATE_C2C_BINS ? XB_UPDATE_C2C_BINS - 1 : b;
        bs[b] += e2;
        bn[b]++;
        bin_of[i] = b;
        f2[i] = f * f;
    }
    double c[2] = {0, 0};
    int rc = xb_fit_linear(X, y, n, 2, c, NULL, NULL, err);
    free(X);
    free(y);
    free(h);
    if (rc) {
        free(bin_of);
        free(f2);
        return rc;
    }
    if (c[1] < 0) { /* additive only */
        c[1] = 0;
        c[0] = s2 / (double)n;
    } else if (c[0] < 0) { /* relative only */
        c[0] = 0;
        c[1] = sf4 > 0 ? sr2f2 / sf4 : 0;
    }
    *abs_w = sqrt(c[0]);
    *rel = sqrt(c[1]);
    *rms_w = sqrt(s2 / (double)n);
    /* the law's mean-square sigma over each bin's steps: the state factor scales it to the
     * bin's mean-square residual */
    double bl[XB_UPDATE_C2C_BINS] = {0};
    for (size_t i = 0; i < n; i++) bl[bin_of[i]] += c[0] + c[1] * f2[i];
    free(bin_of);
    free(f2);
    for (int b = 0; b < XB_UPDATE_C2C_BINS; b++) {
        bin_n[b] = bn[b];
        if (bn[b] >= 3) bin_sd[b] = sqrt(bs[b] / (double)bn[b]);
        if (bn[b] >= XB_UPDATE_C2C_BIN_MIN && bl[b] > 0) bin_scale[b] = sqrt(bs[b] / bl[b]);
    }
    return XB_OK;
}

static void energies(const xb_update_data *d, xb_update_model *m)
{
    double s[2] = {0, 0};
    size_t n[2] = {0, 0};
    for (size_t t = 0; t < d->n_trains; t++) {
        const xb_update_train *tr = &d->trains[t];
        for (size_t k = 0; tr->energy_joule && k < tr->n_slots; k++)
            if (tr->dir[k] && isfinite(tr->energy_joule[k])) {
                s[tr->dir[k] > 0 ? 0 : 1] += tr->energy_joule[k];
                n[tr->dir[k] > 0 ? 0 : 1]++;
            }
    }
    m->energy_up_joule = n[0] ? s[0] / (double)n[0] : NAN;
    m->energy_down_joule = n[1] ? s[1] / (double)n[1] : NAN;
}

/* The chosen law on all steps (pooled), per device, c2c, energies. */
static int fit_final(const xb_update_data *d, xb_update_model *m, xb_error *err)
{
    window_of(d, &m->g_min_siemens, &m->g_max_siemens);
    const double W = m->g_max_siemens - m->g_min_siemens;
    if (!(W > 0)) return xb_errorf(err, XB_EINPUT, "the pulse trains never change G");
    step_set ss;
    int rc = collect_steps(d, m->g_min_siemens, m->g_max_siemens, &ss, err);
    if (rc) return rc;
    m->n_params = xb_update_law_nparams(m->law);
    double p[2][XB_UPDATE_MAX_PARAMS];
    rc = fit_selected(m->law, &ss, 0, SEL_ALL, ANY_DEV, p[0], &m->n_up_steps, err);
    if (!rc) rc = fit_selected(m->law, &ss, 1, SEL_ALL, ANY_DEV, p[1], &m->n_down_steps, err);
    for (size_t j = 0; !rc && j < m->n_params; j++) {
        const int raw = m->law == XB_UPDATE_EXP && j == 1; /* the exponent b is dimensionless */
        m->up[j] = raw ? p[0][j] : p[0][j] * W;
        m->down[j] = raw ? p[1][j] : p[1][j] * W;
    }
    m->n_up_bound_steps = ss.n_bound[0];
    m->n_down_bound_steps = ss.n_bound[1];
    if (!rc) rc = fit_devices(d, &ss, m, err);
    double a, r, rms;
    if (!rc) {
        rc = fit_c2c(m, &ss, 0, &a, &r, m->c2c_bin_up_siemens, m->c2c_bin_up_scale, m->c2c_bin_up_n, &rms, err);
        m->c2c_up_abs_siemens = a * W;
        m->c2c_up_rel = r;
        m->resid_up_rms_siemens = rms * W;
    }
    if (!rc) {
        rc = fit_c2c(m, &ss, 1, &a, &r, m->c2c_bin_down_siemens, m->c2c_bin_down_scale, m->c2c_bin_down_n, &rms, err);
        m->c2c_down_abs_siemens = a * W;
        m->c2c_down_rel = r;
        m->resid_down_rms_siemens = rms * W;
    }
    m->c2c_binned = 1;
    for (int b = 0; !rc && b < XB_UPDATE_C2C_BINS; b++) {
        m->c2c_bin_up_siemens[b] *= W;
        m->c2c_bin_down_siemens[b] *= W;
        m->c2c_bin_g_siemens[b] = m->g_min_siemens + W * ((double)b + 0.5) / XB_UPDATE_C2C_BINS;
    }
    steps_free(&ss);
    energies(d, m);
    return rc;
}

static int check_data(const xb_update_data *d, xb_error *err)
{
    if (!d || !d->trains || d->n_trains == 0) return xb_errorf(err, XB_EINPUT, "update fit: no pulse trains");
    for (size_t t = 0; t < d->n_trains; t++) {
        const xb_update_train *tr = &d->trains[t];
        if (!tr->g_siemens || !tr->dir || tr->n_slots == 0)
            return xb_errorf(err, XB_EINPUT, "update fit: train %zu is empty", t);
        for (size_t k = 0; k < tr->n_slots; k++)
            if (tr->dir[k] < -1 || tr->dir[k] > 1)
                return xb_errorf(err, XB_EINPUT, "update fit: train %zu slot %zu: direction %d (not -1, 0, 1)", t, k,
                                 tr->dir[k]);
    }
    return XB_OK;
}

int xb_fit_update(const xb_update_data *d, int law, xb_update_model *out, xb_error *err)
{
    if (!out) return xb_errorf(err, XB_EINPUT, "update fit: no output");
    memset(out, 0, sizeof *out);
    int rc = check_data(d, err);
    if (rc) return rc;
    if (law != XB_UPDATE_AUTO && (law < 0 || law >= XB_UPDATE_N_LAWS))
        return xb_errorf(err, XB_EINPUT, "update fit: unknown law %d", law);
    out->device = d->device;
    out->up_volt = d->up_volt;
    out->down_volt = d->down_volt;
    out->width_s = d->width_s;
    out->n_trains = d->n_trains;
    out->heldout_traj_max_rel = NAN;
    rc = choose_law(d, law, out, &out->law, err);
    if (!rc) rc = fit_final(d, out, err);
    if (rc) {
        xb_fit_update_clear(out);
        xb_error_prefix(err, "%s update model: ", xb_device_name(d->device));
    }
    return rc;
}

void xb_fit_update_clear(xb_update_model *m)
{
    if (!m) return;
    free(m->dev_up);
    free(m->dev_down);
    free(m->dev_g_min_siemens);
    free(m->dev_g_max_siemens);
    m->dev_up = m->dev_down = m->dev_g_min_siemens = m->dev_g_max_siemens = NULL;
    m->n_devices = 0;
}

int xb_fit_update_copy(const xb_update_model *src, xb_update_model *dst, xb_error *err)
{
    *dst = *src;
    dst->dev_up = dst->dev_down = dst->dev_g_min_siemens = dst->dev_g_max_siemens = NULL;
    const size_t D = src->n_devices, P = src->n_params;
    if (!D) return XB_OK;
    dst->dev_up = malloc(D * P * sizeof(double));
    dst->dev_down = malloc(D * P * sizeof(double));
    dst->dev_g_min_siemens = malloc(D * sizeof(double));
    dst->dev_g_max_siemens = malloc(D * sizeof(double));
    if (!dst->dev_up || !dst->dev_down || !dst->dev_g_min_siemens || !dst->dev_g_max_siemens) {
        xb_fit_update_clear(dst);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    memcpy(dst->dev_up, src->dev_up, D * P * sizeof(double));
    memcpy(dst->dev_down, src->dev_down, D * P * sizeof(double));
    memcpy(dst->dev_g_min_siemens, src->dev_g_min_siemens, D * sizeof(double));
    memcpy(dst->dev_g_max_siemens, src->dev_g_max_siemens, D * sizeof(double));
    return XB_OK;
}

/* ------------------------------------------------------------------ evaluation */
static double law_siemens(const xb_update_model *m, const double *p_siemens, double g, int dir)
{
    const double W = m->g_max_siemens - m->g_min_siemens;
    /* the law in siemens: every parameter but the exponent b scales with the window, so
     * evaluating with siemens parameters gives siemens */
    return xb_update_law_eval(m->law, p_siemens, (g - m->g_min_siemens) / W, dir);
}

double xb_fit_update_step(const xb_update_model *m, double g_siemens, int dir)
{
    if (!dir) return 0;
    const double f = law_siemens(m, dir > 0 ? m->up : m->down, g_siemens, dir);
    return fmin(fmax(g_siemens + f, m->g_min_siemens), m->g_max_siemens) - g_siemens;
}

/* The state factor k(x) of sigma (fit.h): linear between the bin centres, constant beyond. */
static double c2c_state_factor(const xb_update_model *m, double g_siemens, int dir)
{
    if (!m->c2c_binned) return 1;
    const double *k = dir > 0 ? m->c2c_bin_up_scale : m->c2c_bin_down_scale;
    const double x = (g_siemens - m->g_min_siemens) / (m->g_max_siemens - m->g_min_siemens);
    const double t = x * XB_UPDATE_C2C_BINS - 0.5;
    if (!(t > 0)) return k[0];
    if (t >= XB_UPDATE_C2C_BINS - 1) return k[XB_UPDATE_C2C_BINS - 1];
    const int j = (int)t;
    return k[j] + (k[j + 1] - k[j]) * (t - (double)j);
}

/* sigma at g for the step law with parameters p: k(x) sqrt(abs^2 + (rel f)^2) (fit.h) */
static double sigma_of_law(const xb_update_model *m, const double *p, double g_siemens, int dir)
{
    const double f = law_siemens(m, p, g_siemens, dir);
    const double a = dir > 0 ? m->c2c_up_abs_siemens : m->c2c_down_abs_siemens;
    const double r = dir > 0 ? m->c2c_up_rel : m->c2c_down_rel;
    return c2c_state_factor(m, g_siemens, dir) * sqrt(a * a + r * r * f * f);
}

double xb_fit_update_sigma(const xb_update_model *m, double g_siemens, int dir)
{
    if (!dir) return 0;
    return sigma_of_law(m, dir > 0 ? m->up : m->down, g_siemens, dir);
}

double xb_fit_update_device_sigma(const xb_update_model *m, size_t k, double g_siemens, int dir)
{
    if (k >= m->n_devices || !dir) return NAN;
    const double *p = (dir > 0 ? m->dev_up : m->dev_down) + k * m->n_params;
    if (!isfinite(p[0])) return NAN;
    return sigma_of_law(m, p, g_siemens, dir);
}

double xb_fit_update_device_step(const xb_update_model *m, size_t k, double g_siemens, int dir)
{
    if (k >= m->n_devices || !dir) return NAN;
    const double *p = (dir > 0 ? m->dev_up : m->dev_down) + k * m->n_params;
    return isfinite(p[0]) ? law_siemens(m, p, g_siemens, dir) : NAN;
}

/* One simulated train; dev = SIZE_MAX: the mean law. */
static int simulate(const xb_update_model *m, size_t dev, double g0_siemens, const int *dir, size_t n, int noise,
                    uint64_t seed, double *g_out, xb_error *err)
{
    if (!m || (!dir && n) || !g_out) return xb_errorf(err, XB_EINPUT, "update simulate: missing argument");
    if (dev != SIZE_MAX && !(dev < m->n_devices && isfinite(m->dev_up[dev * m->n_params]) &&
                             isfinite(m->dev_down[dev * m->n_params])))
        return xb_errorf(err, XB_EINPUT, "update simulate: Monte Carlo device %zu has no fitted law", dev);
    gsl_rng *rng = noise ? xb_fit_noise_rng(seed) : NULL;
    if (noise && !rng) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    /* a Monte Carlo device is held at its own bounds (the extremes it reached) */
    double lo = m->g_min_siemens, hi = m->g_max_siemens;
    if (dev != SIZE_MAX && m->dev_g_min_siemens && m->dev_g_max_siemens &&
        m->dev_g_min_siemens[dev] < m->dev_g_max_siemens[dev]) {
        lo = m->dev_g_min_siemens[dev];
        hi = m->dev_g_max_siemens[dev];
    }
    double g = g0_siemens;
    g_out[0] = g;
    for (size_t k = 0; k < n; k++) {
        if (dir[k]) {
            double dg =
                dev == SIZE_MAX ? xb_fit_update_step(m, g, dir[k]) : xb_fit_update_device_step(m, dev, g, dir[k]);
            if (rng)
                dg += (dev == SIZE_MAX ? xb_fit_update_sigma(m, g, dir[k]) : xb_fit_update_device_sigma(m, dev, g, dir[k])) *
                      gsl_ran_gaussian_ziggurat(rng, 1.0);
            g = fmin(fmax(g + dg, lo), hi);
        }
        g_out[k + 1] = g;
    }
    gsl_rng_free(rng);
    return XB_OK;
}

int xb_fit_update_simulate(const xb_update_model *m, double g0_siemens, const int *dir, size_t n, int noise,
                           uint64_t seed, double *g_out, xb_error *err)
{
    return simulate(m, SIZE_MAX, g0_siemens, dir, n, noise, seed, g_out, err);
}

int xb_fit_update_simulate_device(const xb_update_model *m, size_t k, double g0_siemens, const int *dir, size_t n,
                                  int noise, uint64_t seed, double *g_out, xb_error *err)
{
    return simulate(m, k == SIZE_MAX ? SIZE_MAX - 1 : k, g0_siemens, dir, n, noise, seed, g_out, err);
}
