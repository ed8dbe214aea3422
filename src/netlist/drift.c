/* Device statistics over time after programming: conductance drift/decay and the
 * accumulated read noise, applied to programmed conductances before any engine sees
 * them (docs/physics.md "PCM drift and read-noise statistics"; docs/drift.md).
 *
 * Defaults (one table, a citation beside each number):
 *   PCM (IBM statistical inference model, Nandakumar et al. ICECS 2019; Joshi et al.,
 *   Nat. Commun. 11, 2473, 2020; IBM/aihwkit inference/noise/pcm.py PCMLikeNoiseModel):
 *     t0 = 20 s first read after programming; nu ~ N(mu_nu(g_T), sigma_nu(g_T)) truncated at 0;
 *     mu_nu    = min(max(-0.0155 ln g_T + 0.0244, 0.049), 0.1);
 *     sigma_nu = min(max(-0.0125 ln g_T - 0.0059, 0.008), 0.045);
 *     read noise sigma = G(t) Q_s sqrt(ln((t + t_read)/(2 t_read))), t_read = 250 ns,
 *     Q_s = min(0.0088 / max(g_T^0.65, 1e-3), 0.2).
 *   RRAM (IBM CMO/HfOx, aihwkit inference/noise/reram.py ReRamCMONoiseModel):
 *     mean decay -0.089 uS per ln(t) and spread 0.042 uS per ln(t), counted from t0 here
 *     (the constant 0.41 uS of that fit is the spread at programming, which xb_netlist_program
 *     already samples); read noise ~1 % of G (Wan et al., Nature 608, 504, 2022, as
 *     recommended beside aihwkit's ReRamWan2022NoiseModel), time independent.
 *   ECRAM: no retention loss and no read noise.  ASSUMPTION: Tang et al. (IEDM 2018) and
 *     Kim et al. (IEDM 2019) report retention without a fitted decay law, so
 *     G(t) = G_prog.
 *   LINEAR: ideal, no drift. */
#include "xbar/netlist.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>

static const double k_rram_decay_siemens_per_ln = -0.089e-6; /* aihwkit ReRamCMONoiseModel */
static const double k_rram_spread_siemens_per_ln = 0.042e-6; /* aihwkit ReRamCMONoiseModel */
static const double k_rram_read_rel = 0.01;                   /* Wan 2022, ~1 % read noise */

double xb_netlist_drift_nu_mean(double g_t)
{
    double lg = log(g_t > 1e-300 ? g_t : 1e-300);
    return fmin(fmax(-0.0155 * lg + 0.0244, 0.049), 0.1);
}

double xb_netlist_drift_nu_sigma(double g_t)
{
    double lg = log(g_t > 1e-300 ? g_t : 1e-300);
    return fmin(fmax(-0.0125 * lg - 0.0059, 0.008), 0.045);
}

double xb_netlist_read_noise_qs(double g_t)
{
    double p = pow(g_t > 0 ? g_t : 0.0, 0.65);
    return fmin(0.0088 / fmax(p, 1e-3), 0.2);
}

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
    if (p->device == XB_DEVICE_LINEAR || p->device == XB_DEVICE_ECRAM) {
        for (size_t i = 0; i < n; i++) g_out->data[i] = g_prog->data[i];
        return XB_OK;
    }
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r) return xb_errorf(err, XB_ERUNTIME, "drift: out of memory");
    gsl_rng_set(r, (unsigned long)(seed ^ 0xD1F7D1F7D1F7ull));
    for (size_t i = 0; i < n; i++) {
        const double g = g_prog->data[i];
        double z = gsl_ran_gaussian_ziggurat(r, 1.0); /* one draw per cell: the stream never shifts */
        if (p->device == XB_DEVICE_PCM) {
            double nu;
            if (nu_fixed >= 0) {
                nu = nu_fixed;
            } else {
                const double gt = g_norm(p, g);
                nu = xb_netlist_drift_nu_mean(gt) + xb_netlist_drift_nu_sigma(gt) * z;
                if (nu < 0) nu = 0; /* truncated at 0 (aihwkit folds, |nu|: docs/physics.md) */
            }
            g_out->data[i] = g * exp(-nu * lt);
        } else { /* RRAM */
            double a = lt > 0 ? lt : 0; /* no change before the first read */
            double v = g + k_rram_decay_siemens_per_ln * a + k_rram_spread_siemens_per_ln * a * z;
            g_out->data[i] = v > 0 ? v : 0;
        }
    }
    gsl_rng_free(r);
    return XB_OK;
}

double xb_netlist_read_noise_sigma(const xb_array_params *p, double g_prog, double g_now, double t_s)
{
    if (p->device == XB_DEVICE_PCM) {
        double a = log((t_s + XB_READ_NOISE_T_READ_S) / (2.0 * XB_READ_NOISE_T_READ_S));
        return g_now * xb_netlist_read_noise_qs(g_norm(p, g_prog)) * sqrt(a > 0 ? a : 0);
    }
    if (p->device == XB_DEVICE_RRAM) return k_rram_read_rel * g_now;
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
