/* Fitting the behavioural MVM model to (G, V, I) samples with GSL's nonlinear least
 * squares (Levenberg-Marquardt trust region, finite-difference Jacobian). */
#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_vector.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fit/fit_internal.h"

void xb_fit_opts_default(xb_fit_opts *o)
{
    o->n_sweeps = 0; /* automatic */
    o->n_knots = 3;
    o->heldout_frac = 0.25;
    o->max_iter = 100;
    o->update_law = XB_UPDATE_AUTO;
}

/* Which model fields are free, and how the fit vector maps onto them. */
enum { P_ROW, P_COL, P_DRV, P_SENSE, P_SERIES, P_NRES };

typedef struct {
    xb_fit_params base;      /* nominal values; resistances scale as base * exp(x) */
    int res_free[P_NRES];    /* index in x or -1 */
    int knot0;               /* index of the first knot in x, -1 if none */
    size_t n_x;
    const xb_fit_sample *s;  /* training sets */
    size_t n_s;
    double scale;            /* rms of the training reference currents */
    size_t n_f;
} fit_ctx;

static double *res_field(xb_fit_params *m, int k)
{
    switch (k) {
    case P_ROW: return &m->r_row_ohm;
    case P_COL: return &m->r_col_ohm;
    case P_DRV: return &m->r_driver_ohm;
    case P_SENSE: return &m->r_sense_ohm;
    default: return &m->r_series_ohm;
    }
}

static void params_from_x(const fit_ctx *c, const gsl_vector *x, xb_fit_params *m)
{
    *m = c->base;
    for (int k = 0; k < P_NRES; k++)
        if (c->res_free[k] >= 0) {
            double xv = gsl_vector_get(x, (size_t)c->res_free[k]);
            if (xv > 30) xv = 30;
            if (xv < -30) xv = -30;
            *res_field(m, k) *= exp(xv); /* m starts as the nominal base */
        }
    if (c->knot0 >= 0)
        for (size_t k = 0; k < m->n_knots; k++)
            m->knot_v0_volt[k] = fmax(fabs(gsl_vector_get(x, (size_t)c->knot0 + k)), XB_FIT_V0_MIN_VOLT);
}

/* f may be a strided view (GSL's finite-difference Jacobian passes matrix columns). */
static int residuals(const fit_ctx *c, const xb_fit_params *m, gsl_vector *f)
{
    size_t off = 0;
    for (size_t s = 0; s < c->n_s; s++) {
        const xb_fit_sample *sm = &c->s[s];
        xb_matrix *out = xb_matrix_new(sm->v->rows, sm->g->cols);
        if (!out) return GSL_ENOMEM;
        int rc = xb_fit_model_mvm(m, sm->g, sm->v, out, NULL);
        size_t n = out->rows * out->cols;
        for (size_t q = 0; q < n; q++)
            gsl_vector_set(f, off + q, rc ? 1e3 : (out->data[q] - sm->i->data[q]) / c->scale);
        off += n;
        xb_matrix_free(out);
    }
    return GSL_SUCCESS;
}

static int fit_f(const gsl_vector *x, void *data, gsl_vector *f)
{
    const fit_ctx *c = data;
    xb_fit_params m;
    params_from_x(c, x, &m);
    return residuals(c, &m, f);
}

static double rms_of(const xb_fit_sample *s, size_t n)
{
    double sum = 0;
    size_t cnt = 0;
    for (size_t k = 0; k < n; k++)
        for (size_t q = 0; q < s[k].i->rows * s[k].i->cols; q++) {
            sum += s[k].i->data[q] * s[k].i->data[q];
            cnt++;
        }
    return cnt ? sqrt(sum / (double)cnt) : 0;
}

int xb_fit_score(const xb_fit_params *m, const xb_fit_sample *samples, size_t n,
                 double *model_rel_l2, double *ideal_rel_l2, xb_error *err)
{
    double nm = 0, ni = 0, den = 0;
    for (size_t s = 0; s < n; s++) {
        const xb_fit_sample *sm = &samples[s];
        xb_matrix *om = xb_matrix_new(sm->v->rows, sm->g->cols);
        xb_matrix *oi = xb_matrix_new(sm->v->rows, sm->g->cols);
        if (!om || !oi) {
            xb_matrix_free(om);
            xb_matrix_free(oi);
            return xb_errorf(err, XB_ERUNTIME, "out of memory");
        }
        int rc = xb_fit_model_mvm(m, sm->g, sm->v, om, err);
        if (!rc) rc = xb_engine_mvm_ideal(sm->g, sm->v, oi, err);
        if (!rc && (sm->i->rows != om->rows || sm->i->cols != om->cols))
            rc = xb_errorf(err, XB_EINPUT, "sample %zu: I is %zux%zu, expected %zux%zu", s, sm->i->rows,
                           sm->i->cols, om->rows, om->cols);
        if (rc) {
            xb_matrix_free(om);
            xb_matrix_free(oi);
            return rc;
        }
        for (size_t q = 0; q < om->rows * om->cols; q++) {
            double r = sm->i->data[q];
            nm += (om->data[q] - r) * (om->data[q] - r);
            ni += (oi->data[q] - r) * (oi->data[q] - r);
            den += r * r;
        }
        xb_matrix_free(om);
        xb_matrix_free(oi);
    }
    if (den <= 0) den = 1;
    if (model_rel_l2) *model_rel_l2 = sqrt(nm / den);
    if (ideal_rel_l2) *ideal_rel_l2 = sqrt(ni / den);
    return XB_OK;
}

/* The fewest sweeps for which the nominal model is within XB_FIT_SWEEP_TOL of its own
 * converged fixed point (300 sweeps) on the training data: truncation error stays well
 * below the accuracy target, and the cost stays minimal. */
#define XB_FIT_SWEEP_TOL 1e-4
static int auto_sweeps(xb_fit_params *m, const xb_fit_sample *s, size_t n, xb_error *err)
{
    int rc = XB_OK;
    xb_matrix **conv = calloc(n, sizeof *conv), *tmp = NULL;
    if (!conv) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    xb_fit_params mc = *m;
    mc.n_sweeps = 300;
    for (size_t k = 0; k < n && !rc; k++) {
        conv[k] = xb_matrix_new(s[k].v->rows, s[k].g->cols);
        if (!conv[k]) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
        else rc = xb_fit_model_mvm(&mc, s[k].g, s[k].v, conv[k], err);
    }
    int best = 30;
    for (int ns = 1; ns < 30 && !rc; ns++) {
        xb_fit_params mt = *m;
        mt.n_sweeps = ns;
        double worst = 0;
        for (size_t k = 0; k < n && !rc; k++) {
            tmp = xb_matrix_new(s[k].v->rows, s[k].g->cols);
            if (!tmp) { rc = xb_errorf(err, XB_ERUNTIME, "out of memory"); break; }
            rc = xb_fit_model_mvm(&mt, s[k].g, s[k].v, tmp, err);
            if (!rc) worst = fmax(worst, xb_fit_rel_l2(tmp, conv[k]));
            xb_matrix_free(tmp);
            tmp = NULL;
        }
        if (!rc && worst <= XB_FIT_SWEEP_TOL) {
            best = ns;
            break;
        }
    }
    m->n_sweeps = best;
    for (size_t k = 0; k < n; k++) xb_matrix_free(conv[k]);
    free(conv);
    return rc;
}

/* A copy of rows [r0, r1) of m. */
static xb_matrix *row_slice(const xb_matrix *m, size_t r0, size_t r1)
{
    xb_matrix *o = xb_matrix_new(r1 - r0, m->cols);
    if (o) memcpy(o->data, m->data + r0 * m->cols, (r1 - r0) * m->cols * sizeof(double));
    return o;
}

int xb_fit_mvm(const xb_array_params *p, const xb_fit_sample *samples, size_t n,
               const xb_fit_opts *o_in, xb_fit_params *m_out, xb_fit_metrics *met, xb_error *err)
{
    xb_fit_opts o;
    if (o_in) o = *o_in;
    else xb_fit_opts_default(&o);
    if (n == 0) return xb_errorf(err, XB_EINPUT, "fit: no samples");
    if (o.n_knots > XB_FIT_MAX_KNOTS) return xb_errorf(err, XB_EINPUT, "fit: at most %d knots", XB_FIT_MAX_KNOTS);
    if (!(o.heldout_frac >= 0 && o.heldout_frac < 1))
        return xb_errorf(err, XB_EINPUT, "fit: heldout fraction must be in [0, 1)");
    for (size_t s = 0; s < n; s++) {
        const xb_fit_sample *sm = &samples[s];
        if (sm->g->rows != p->rows || sm->g->cols != p->cols)
            return xb_errorf(err, XB_EINPUT, "sample %zu: G is %zux%zu, configuration is %zux%zu", s,
                             sm->g->rows, sm->g->cols, p->rows, p->cols);
        if (sm->v->cols != p->rows || sm->i->rows != sm->v->rows || sm->i->cols != p->cols)
            return xb_errorf(err, XB_EINPUT, "sample %zu: V is %zux%zu and I %zux%zu, expected Kx%zu and Kx%zu",
                             s, sm->v->rows, sm->v->cols, sm->i->rows, sm->i->cols, p->rows, p->cols);
    }
    double t0 = xb_now_s();

    /* Split: whole sets when there are several, else the last vectors of the one set. */
    xb_fit_sample *train = calloc(n, sizeof *train), *held = calloc(n, sizeof *held);
    xb_matrix *owned[4] = {0};
    size_t n_train = 0, n_held = 0;
    int rc = XB_OK;
    if (!train || !held) { rc = xb_errorf(err, XB_ERUNTIME, "out of memory"); goto done; }
    if (n >= 2) {
        size_t nh = (size_t)ceil(o.heldout_frac * (double)n);
        if (o.heldout_frac > 0 && nh == 0) nh = 1;
        if (nh >= n) nh = n - 1;
        for (size_t s = 0; s < n; s++) {
            if (s < n - nh) train[n_train++] = samples[s];
            else held[n_held++] = samples[s];
        }
    } else {
        size_t K = samples[0].v->rows;
        size_t kh = (size_t)ceil(o.heldout_frac * (double)K);
        if (kh >= K) kh = K - 1;
        if (kh == 0) {
            train[n_train++] = samples[0];
        } else {
            owned[0] = row_slice(samples[0].v, 0, K - kh);
            owned[1] = row_slice(samples[0].i, 0, K - kh);
            owned[2] = row_slice(samples[0].v, K - kh, K);
            owned[3] = row_slice(samples[0].i, K - kh, K);
            if (!owned[0] || !owned[1] || !owned[2] || !owned[3]) {
                rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
                goto done;
            }
            train[n_train++] = (xb_fit_sample){samples[0].g, owned[0], owned[1]};
            held[n_held++] = (xb_fit_sample){samples[0].g, owned[2], owned[3]};
        }
    }

    fit_ctx c;
    memset(&c, 0, sizeof c);
    xb_fit_params_nominal(&c.base, p);
    c.base.n_sweeps = o.n_sweeps;
    if (o.n_sweeps <= 0) {
        rc = auto_sweeps(&c.base, train, n_train, err);
        if (rc) goto done;
    }
    /* knots: equally spaced over the normalised conductance, started from the nominal V0 */
    if (c.base.n_knots > 0 && o.n_knots > 0) {
        xb_fit_params nom = c.base;
        c.base.n_knots = o.n_knots;
        for (size_t k = 0; k < o.n_knots; k++) {
            double x = o.n_knots == 1 ? 0.5 : (double)k / (double)(o.n_knots - 1);
            c.base.knot_x[k] = x;
            /* nominal V0 at this conductance: linear between the two nominal knots */
            c.base.knot_v0_volt[k] = nom.knot_v0_volt[0] + x * (nom.knot_v0_volt[1] - nom.knot_v0_volt[0]);
        }
    } else {
        c.base.n_knots = 0;
    }
    c.n_x = 0;
    for (int k = 0; k < P_NRES; k++) {
        c.res_free[k] = -1;
        if (*res_field(&c.base, k) > 0) c.res_free[k] = (int)c.n_x++;
    }
    c.knot0 = -1;
    if (c.base.n_knots > 0) {
        c.knot0 = (int)c.n_x;
        c.n_x += c.base.n_knots;
    }
    c.s = train;
    c.n_s = n_train;
    c.scale = rms_of(train, n_train);
    if (!(c.scale > 0)) { rc = xb_errorf(err, XB_EINPUT, "fit: reference currents are all zero"); goto done; }
    c.n_f = 0;
    for (size_t s = 0; s < n_train; s++) c.n_f += train[s].i->rows * train[s].i->cols;

    xb_fit_metrics mt;
    memset(&mt, 0, sizeof mt);
    xb_fit_params fitted = c.base;
    if (c.n_x > 0 && c.n_f > c.n_x) {
        gsl_multifit_nlinear_fdf fdf;
        memset(&fdf, 0, sizeof fdf);
        fdf.f = fit_f;
        fdf.df = NULL; /* finite differences */
        fdf.n = c.n_f;
        fdf.p = c.n_x;
        fdf.params = &c;
        gsl_multifit_nlinear_parameters fp = gsl_multifit_nlinear_default_parameters();
        gsl_multifit_nlinear_workspace *w =
            gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &fp, c.n_f, c.n_x);
        gsl_vector *x0 = gsl_vector_calloc(c.n_x);
        if (!w || !x0) {
            if (w) gsl_multifit_nlinear_free(w);
            gsl_vector_free(x0);
            rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
            goto done;
        }
        if (c.knot0 >= 0)
            for (size_t k = 0; k < c.base.n_knots; k++)
                gsl_vector_set(x0, (size_t)c.knot0 + k, c.base.knot_v0_volt[k]);
        const xb_gsl_section gs = xb_gsl_begin();
        int info = 0;
        int st = gsl_multifit_nlinear_init(x0, &fdf, w);
        if (st == GSL_SUCCESS)
            st = gsl_multifit_nlinear_driver((size_t)o.max_iter, 1e-10, 1e-10, 1e-12, NULL, NULL, &info, w);
        xb_gsl_end(gs);
        mt.lm_status = st;
        mt.iterations = (int)gsl_multifit_nlinear_niter(w);
        params_from_x(&c, w->x, &fitted);
        gsl_multifit_nlinear_free(w);
        gsl_vector_free(x0);
        if (st != GSL_SUCCESS && st != GSL_EMAXITER && st != GSL_ENOPROG) {
            rc = xb_errorf(err, XB_ERUNTIME, "fit: GSL nonlinear least squares failed: %s", gsl_strerror(st));
            goto done;
        }
    }
    for (size_t k = 0; k < fitted.n_knots; k++)
        fitted.knot_v0_volt[k] = fmax(fabs(fitted.knot_v0_volt[k]), XB_FIT_V0_MIN_VOLT);

    /* Residual bias (output gain, closed-form least squares) and spread, on training data. */
    {
        double sxy = 0, sxx = 0, syy = 0;
        fitted.gain = 1.0;
        for (size_t s = 0; s < n_train; s++) {
            xb_matrix *om = xb_matrix_new(train[s].v->rows, p->cols);
            if (!om) { rc = xb_errorf(err, XB_ERUNTIME, "out of memory"); goto done; }
            rc = xb_fit_model_mvm(&fitted, train[s].g, train[s].v, om, err);
            for (size_t q = 0; !rc && q < om->rows * om->cols; q++) {
                sxy += om->data[q] * train[s].i->data[q];
                sxx += om->data[q] * om->data[q];
                syy += train[s].i->data[q] * train[s].i->data[q];
            }
            xb_matrix_free(om);
            if (rc) goto done;
        }
        if (sxx > 0) fitted.gain = sxy / sxx;
        double ssr = syy - sxy * sxy / (sxx > 0 ? sxx : 1);
        fitted.resid_sigma_rel = syy > 0 && ssr > 0 ? sqrt(ssr / syy) : 0;
    }
    /* validity: the physical envelope fitted for, the device window and 0..v_read
     * (-v_read..v_read when the training inputs were signed), widened to the samples
     * (programming error can leave the window); every training and held-out set counts */
    fitted.valid_g_min_siemens = p->g_min_siemens;
    fitted.valid_g_max_siemens = p->g_max_siemens;
    fitted.valid_v_min_volt = 0;
    fitted.valid_v_max_volt = p->v_read_volt;
    for (size_t s = 0; s < n; s++) {
        const xb_fit_sample *sm = &samples[s];
        for (size_t q = 0; q < sm->g->rows * sm->g->cols; q++) {
            fitted.valid_g_min_siemens = fmin(fitted.valid_g_min_siemens, sm->g->data[q]);
            fitted.valid_g_max_siemens = fmax(fitted.valid_g_max_siemens, sm->g->data[q]);
        }
        for (size_t q = 0; q < sm->v->rows * sm->v->cols; q++) {
            fitted.valid_v_min_volt = fmin(fitted.valid_v_min_volt, sm->v->data[q]);
            fitted.valid_v_max_volt = fmax(fitted.valid_v_max_volt, sm->v->data[q]);
        }
    }
    if (fitted.valid_v_min_volt < 0) fitted.valid_v_min_volt = fmin(fitted.valid_v_min_volt, -p->v_read_volt);

    mt.n_train_vectors = mt.n_heldout_vectors = 0;
    for (size_t s = 0; s < n_train; s++) mt.n_train_vectors += train[s].v->rows;
    for (size_t s = 0; s < n_held; s++) mt.n_heldout_vectors += held[s].v->rows;
    rc = xb_fit_score(&fitted, train, n_train, &mt.train_rel_l2, NULL, err);
    if (!rc && n_held > 0) {
        rc = xb_fit_score(&fitted, held, n_held, &mt.heldout_rel_l2, &mt.heldout_ideal_rel_l2, err);
        if (!rc) rc = xb_fit_score(&c.base, held, n_held, &mt.nominal_rel_l2, NULL, err);
        for (size_t s = 0; !rc && s < n_held; s++) {
            xb_matrix *om = xb_matrix_new(held[s].v->rows, p->cols);
            if (!om) { rc = xb_errorf(err, XB_ERUNTIME, "out of memory"); break; }
            rc = xb_fit_model_mvm(&fitted, held[s].g, held[s].v, om, err);
            for (size_t q = 0; !rc && q < om->rows * om->cols; q++)
                mt.heldout_max_abs_err_amp = fmax(mt.heldout_max_abs_err_amp, fabs(om->data[q] - held[s].i->data[q]));
            xb_matrix_free(om);
        }
    } else if (!rc) {
        mt.heldout_rel_l2 = mt.heldout_ideal_rel_l2 = mt.nominal_rel_l2 = NAN;
    }
    if (rc) goto done;
    mt.seconds = xb_now_s() - t0;
    *m_out = fitted;
    if (met) *met = mt;
done:
    for (int k = 0; k < 4; k++) xb_matrix_free(owned[k]);
    free(train);
    free(held);
    return rc;
}
