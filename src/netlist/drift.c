/* Device statistics over time after programming: conductance drift/decay and the
 * accumulated read noise, applied to programmed conductances before any engine sees
 * them (docs/drift.md; docs/physics.md, "PCM drift and read-noise statistics").  Which law a
 * device follows and its coefficients (with their sources) are the device table's drift and
 * read_noise fields (src/netlist/device_table.c); the laws are implemented here once. */
#include "xbar/netlist.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>

/* min(max(a ln gT + b, lo), hi), c = {a, b, lo, hi} */
static double clamped_log_law(const double c[4], double g_t)
{
    double lg = log(g_t > 1e-300 ? g_t : 1e-300);
    return fmin(fmax(c[0] * lg + c[1], c[2]), c[3]);
}

static double nu_mean(const xb_drift_law *d, double g_t) { return clamped_log_law(d->nu_mean, g_t); }
static double nu_sigma(const xb_drift_law *d, double g_t) { return clamped_log_law(d->nu_sigma, g_t); }

static double qs(const xb_read_noise_law *r, double g_t)
{
    double p = pow(g_t > 0 ? g_t : 0.0, r->qs_exp);
    return fmin(r->qs_coef / fmax(p, r->qs_floor), r->qs_max);
}

/* The PCM row's statistics (the public PCM-law helpers below). */
static const xb_device_info *pcm(void) { return xb_device_info_get(XB_DEVICE_PCM); }

double xb_netlist_drift_nu_mean(double g_t) { return nu_mean(&pcm()->drift, g_t); }
double xb_netlist_drift_nu_sigma(double g_t) { return nu_sigma(&pcm()->drift, g_t); }
double xb_netlist_read_noise_qs(double g_t) { return qs(&pcm()->read_noise, g_t); }

/* Normalized target conductance g_T in [0, 1]: 1 <-> g_max (aihwkit's convention). */
static double g_norm(const xb_array_params *p, double g)
{
    double x = g / p->g_max_siemens;
    return x < 0 ? 0 : x > 1 ? 1 : x;
}

int xb_netlist_drift(const xb_array_params *p, const xb_matrix *g_prog, double t_s, uint64_t seed,
                     double nu_fixed, xb_matrix *g_out, xb_error *err)
{
    if (!(t_s > 0) || !isfinite(t_s)) return xb_errorf(err, XB_EINPUT, "drift time: must be > 0 s (got %g)", t_s);
    if (!g_prog || !g_out || g_prog->rows != g_out->rows || g_prog->cols != g_out->cols)
        return xb_errorf(err, XB_EINPUT, "drift: g_prog and g_out shapes differ");
    const size_t n = g_prog->rows * g_prog->cols;
    const double lt = log(t_s / XB_DRIFT_T0_S);
    const xb_device_info *di = xb_device_info_get(p->device);
    if (!di) return xb_errorf(err, XB_EINPUT, "drift: unknown device");
    const xb_drift_law *law = &di->drift;
    if (law->kind == XB_DRIFT_NONE) {
        for (size_t i = 0; i < n; i++) g_out->data[i] = g_prog->data[i];
        return XB_OK;
    }
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r) return xb_errorf(err, XB_ERUNTIME, "drift: out of memory");
    gsl_rng_set(r, (unsigned long)(seed ^ 0xD1F7D1F7D1F7ull));
    for (size_t i = 0; i < n; i++) {
        const double g = g_prog->data[i];
        double z = gsl_ran_gaussian_ziggurat(r, 1.0); /* one draw per cell: the stream never shifts */
        if (law->kind == XB_DRIFT_POWER_LAW) {
            double nu;
            if (nu_fixed >= 0) {
                nu = nu_fixed;
            } else {
                const double gt = g_norm(p, g);
                nu = nu_mean(law, gt) + nu_sigma(law, gt) * z;
                if (nu < 0) nu = 0; /* truncated at 0 (aihwkit folds, |nu|: docs/physics.md) */
            }
            g_out->data[i] = g * exp(-nu * lt);
        } else { /* XB_DRIFT_LOG_DECAY */
            double a = lt > 0 ? lt : 0; /* no change before the first read */
            double v = g + law->decay_siemens_per_ln * a + law->spread_siemens_per_ln * a * z;
            g_out->data[i] = v > 0 ? v : 0;
        }
    }
    gsl_rng_free(r);
    return XB_OK;
}

double xb_netlist_read_noise_sigma(const xb_array_params *p, double g_prog, double g_now, double t_s)
{
    const xb_device_info *di = xb_device_info_get(p->device);
    if (!di) return 0.0;
    const xb_read_noise_law *r = &di->read_noise;
    if (r->kind == XB_READ_NOISE_FLICKER) {
        double a = log((t_s + r->t_read_s) / (2.0 * r->t_read_s));
        return g_now * qs(r, g_norm(p, g_prog)) * sqrt(a > 0 ? a : 0);
    }
    if (r->kind == XB_READ_NOISE_RELATIVE) return r->rel * g_now;
    return 0.0;
}

int xb_netlist_read_noise(const xb_array_params *p, const xb_matrix *g_prog, const xb_matrix *g_now, double t_s,
                          uint64_t seed, xb_matrix *g_out, xb_error *err)
{
    if (!(t_s > 0) || !isfinite(t_s)) return xb_errorf(err, XB_EINPUT, "read noise time: must be > 0 s (got %g)", t_s);
    if (!g_prog || !g_now || !g_out || g_prog->rows != g_now->rows || g_prog->cols != g_now->cols ||
        g_out->rows != g_now->rows || g_out->cols != g_now->cols)
        return xb_errorf(err, XB_EINPUT, "read noise: matrix shapes differ");
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r) return xb_errorf(err, XB_ERUNTIME, "read noise: out of memory");
    gsl_rng_set(r, (unsigned long)(seed ^ 0x4EAD4EAD4EADull));
    const size_t n = g_now->rows * g_now->cols;
    for (size_t i = 0; i < n; i++) {
        double s = xb_netlist_read_noise_sigma(p, g_prog->data[i], g_now->data[i], t_s);
        double v = g_now->data[i] + s * gsl_ran_gaussian_ziggurat(r, 1.0);
        g_out->data[i] = v > 0 ? v : 0; /* clamped >= 0 (aihwkit) */
    }
    gsl_rng_free(r);
    return XB_OK;
}
