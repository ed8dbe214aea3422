/* Internal interface of the fit stage (not installed; include/xbar/fit.h is the API). */
#ifndef XBAR_FIT_INTERNAL_H
#define XBAR_FIT_INTERNAL_H

#include <gsl/gsl_errno.h>
#include <gsl/gsl_rng.h>

#include "xbar/characterize.h"
#include "xbar/fit.h"
#include "xbar/h5.h"

#define XB_FIT_DRIFT_MAX_T 64

/* The model's device read I-V pieces (model.c): sinh(x)/x, and 1/V0 at conductance g
 * (V0 piecewise-linear over the knots, clamped; 0 for an ohmic model). */
double xb_fit_shc(double x);
double xb_fit_knot_k(const xb_fit_params *m, double g);

/* The model's residual read noise on one output vector o (n columns): N(0, rel x rms(o)) on
 * each, from rng (model.c; the full model and the fast form share it).  A seeded mt19937
 * stream for it (NULL on failure). */
void xb_fit_resid_noise(gsl_rng *rng, double rel, double *o, size_t n);
gsl_rng *xb_fit_noise_rng(uint64_t seed);

/* Repeated reads of n PCM devices after programming (one results point). */
typedef struct xb_fit_drift_data {
    size_t T, n;
    const double *t_s;   /* T read times after programming, increasing, > 0 */
    const double *g;     /* T x n conductances (S), row t = read at t_s[t] */
    double g_max_siemens;
} xb_fit_drift_data;

/* Fit drift exponent and read-noise statistics over all devices; writes /stats/pcm_drift
 * (nothing when there are too few devices).  *n_fitted: devices used. */
int xb_fit_drift(hid_t f, const xb_fit_drift_data *d, size_t nd, size_t *n_fitted, xb_error *err);

/* Pulse-train records of an open results file (src/fit/update_results.c, read through
 * xb_char_results_read_trains), then fitted into /update/<device> of the open model file (summary: sum->update,
 * sum->update_notes).  Bad records are XB_EINPUT naming the file and dataset. */
int xb_fit_trains_load(const xb_char_results *res, const char *path, xb_update_set **out, xb_error *err);
int xb_fit_trains_fit(const xb_update_set *ts, int law, hid_t model, xb_fit_summary *sum, xb_error *err);

/* The family's prediction for p (select.c; *tmpl: the template model's index). */
int xb_fit_family_model(const xb_fit_params *ms, size_t n, const double (*fam)[3], const xb_array_params *p,
                        xb_fit_params *out, size_t *tmpl, xb_error *err);
/* metrics/heldout_inputs of a model (heldout.c): written when met->has_inputs; read into met
 * (has_inputs = 0 when the group is absent; version, shapes checked). */
int xb_fit_inputs_write(hid_t metrics, const xb_fit_metrics *met, xb_error *err);
int xb_fit_inputs_read(hid_t metrics, const char *where, xb_fit_metrics *met, xb_error *err);
/* family/<kind>/heldout_config into the open family group fg: the family models idx[0..n) of
 * ms (nm models in all) scored at the wire resistances halfway between fitted ones. */
int xb_fit_family_configs(hid_t fg, const xb_fit_params *ms, size_t nm, const size_t *idx, size_t n,
                          const double (*coef)[3], xb_error *err);

/* A GSL numerical call inside the fit: its error handler off (errors come back as status
 * codes, checked by the caller) and OpenBLAS on one thread, since GSL's BLAS calls go to
 * OpenBLAS, whose threads would make the result's last bits follow the thread count (the
 * fast form's basis and the PCM drift regressions did).  Both restored by xb_gsl_end. */
typedef struct {
    gsl_error_handler_t *handler;
    int blas_threads;
} xb_gsl_section;

static inline xb_gsl_section xb_gsl_begin(void)
{
    xb_gsl_section s;
    s.handler = gsl_set_error_handler_off();
    s.blas_threads = xb_blas_serial_begin();
    return s;
}

static inline void xb_gsl_end(xb_gsl_section s)
{
    xb_blas_serial_end(s.blas_threads);
    gsl_set_error_handler(s.handler);
}

#endif
