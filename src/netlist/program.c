/* Programming variability: stuck-at faults and device-specific programming error,
 * drawn from a GSL Mersenne-Twister seeded with p->seed (reproducible). */
#include "xbar/netlist.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>

/* sigma(G) of the device's sigma_program law (coefficients and sources: the device table,
 * src/netlist/device_table.c). */
double xb_netlist_sigma_program(const xb_array_params *p, double g_siemens)
{
    const xb_device_info *di = xb_device_info_get(p->device);
    if (!di) return 0.0;
    const xb_sigma_law *law = &di->sigma_program;
    double gmax = p->g_max_siemens;
    if (law->kind == XB_SIGMA_RANGE_FRACTION) return law->range_fraction * (p->g_max_siemens - p->g_min_siemens);
    double x = g_siemens / gmax;
    if (x < 0) x = 0;
    const double *c = law->coef_us;
    const size_t n = law->degree < 5 ? law->degree : 4;
    double s_us;
    if (law->kind == XB_SIGMA_POLY_HORNER) {
        s_us = c[n];
        for (size_t k = n; k-- > 0;) s_us = c[k] + x * s_us;
    } else { /* XB_SIGMA_POLY_SUM: c_n x^n + ... + c_1 x + c_0, left to right */
        s_us = 0;
        for (size_t k = n + 1; k-- > 0;) {
            double t = c[k];
            for (size_t q = 0; q < k; q++) t = t * x;
            s_us = k == n ? t : s_us + t;
        }
    }
    if (s_us < 0) s_us = 0;
    return s_us * 1e-6 * (gmax / law->g_ref_siemens);
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
