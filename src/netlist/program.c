/* Programming variability: stuck-at faults and device-specific programming error,
 * drawn from a GSL Mersenne-Twister seeded with p->seed (reproducible). */
#include "xbar/netlist.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>

/* Programming-error polynomials (sigma in uS of the normalized target g/g_ref), from
 * params.c's citations:
 *  PCM:  IBM PCM model, sigma_prog = max(-1.1731 x^2 + 1.9650 x + 0.2635, 0) uS at
 *        g_ref = 25 uS, scaled by g_max/25 uS (Nandakumar ICECS 2019, Joshi Nat. Commun.
 *        11, 2473, 2020; aihwkit inference/noise/pcm.py PCMLikeNoiseModel).
 *  RRAM (and --device linear, the RRAM array without nonlinearity): Wan et al., Nature 608,
 *        504, 2022 fit at 1 s, sigma = 0.348 + 16.030 x - 43.853 x^2 + 45.393 x^3 -
 *        16.815 x^4 uS at g_ref = 40 uS (aihwkit inference/noise/reram.py
 *        ReRamWan2022NoiseModel), scaled by g_max/40 uS.
 *  ECRAM: program-and-verify ends within one update step; one step of the Tang IEDM 2018
 *        fit is dw_min = 0.002 of the range (aihwkit EcRamPresetDevice), so
 *        sigma = 0.002 (g_max - g_min). */
double xb_netlist_sigma_program(const xb_array_params *p, double g_siemens)
{
    double gmax = p->g_max_siemens;
    double x = g_siemens / gmax;
    if (x < 0) x = 0;
    switch (p->device) {
    case XB_DEVICE_PCM: {
        double s_us = -1.1731 * x * x + 1.9650 * x + 0.2635;
        if (s_us < 0) s_us = 0;
        return s_us * 1e-6 * (gmax / 25e-6);
    }
    case XB_DEVICE_ECRAM:
        return 0.002 * (p->g_max_siemens - p->g_min_siemens);
    case XB_DEVICE_RRAM:
    case XB_DEVICE_LINEAR:
    default: {
        double s_us = 0.348 + x * (16.030 + x * (-43.853 + x * (45.393 + x * -16.815)));
        if (s_us < 0) s_us = 0;
        return s_us * 1e-6 * (gmax / 40e-6);
    }
    }
}

int xb_netlist_program(const xb_array_params *p, const xb_matrix *g_target, xb_matrix *g_out,
                       xb_error *err)
{
    if (g_out->rows != g_target->rows || g_out->cols != g_target->cols)
        return xb_errorf(err, XB_EINPUT, "programmed matrix is %zux%zu, target is %zux%zu", g_out->rows,
                         g_out->cols, g_target->rows, g_target->cols);
    if (!(p->stuck_on_rate >= 0) || !(p->stuck_off_rate >= 0) || p->stuck_on_rate + p->stuck_off_rate > 1)
        return xb_errorf(err, XB_EINPUT, "--stuck-on/--stuck-off: rates must be >= 0 and add up to <= 1");
    size_t n = g_target->rows * g_target->cols;
    int any = p->var_program || p->stuck_on_rate > 0 || p->stuck_off_rate > 0;
    if (!any) {
        if (g_out != g_target)
            for (size_t k = 0; k < n; k++) g_out->data[k] = g_target->data[k];
        return XB_OK;
    }
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r) return xb_errorf(err, XB_ERUNTIME, "variability: out of memory");
    gsl_rng_set(r, (unsigned long)p->seed);
    /* Two draws per cell in a fixed order (fault, then error) whatever is switched on, so a
     * cell's fault does not depend on whether programming error is enabled. */
    for (size_t k = 0; k < n; k++) {
        double u = gsl_rng_uniform(r);
        double z = gsl_ran_gaussian_ziggurat(r, 1.0);
        double g = g_target->data[k];
        if (u < p->stuck_on_rate) g = p->g_max_siemens;
        else if (u < p->stuck_on_rate + p->stuck_off_rate) g = p->g_min_siemens;
        else if (p->var_program) g += z * xb_netlist_sigma_program(p, g);
        g_out->data[k] = g > 0 ? g : 0.0;
    }
    gsl_rng_free(r);
    return XB_OK;
}
