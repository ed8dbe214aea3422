/* Reader of the fitted programming-error law /stats/sigma_program/<device> of a model file
 * (docs/hdf5-model.md), for users of sigma(G) outside the fitter (hardware-aware training). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xbar/fit.h"

int xb_fit_sigma_read(const char *path, xb_device_kind device, xb_fit_sigma *out, xb_error *err)
{
    memset(out, 0, sizeof *out);
    hid_t f;
    int rc = xb_h5_open(path, 0, &f, err);
    if (rc) return rc;
    char gp[96];
    snprintf(gp, sizeof gp, "stats/sigma_program/%s", xb_device_name(device));
    if (!xb_h5_exists(f, gp)) {
        xb_h5_close(f, NULL);
        return xb_errorf(err, XB_EINPUT,
                         "%s: no /%s (no programming-error fit for %s: fit a campaign with Monte Carlo "
                         "programming variability)", path, gp, xb_device_name(device));
    }
    double *c = NULL, *v = NULL;
    int rk = 0, rv = 0;
    hsize_t d[4], dv[4];
    char name[128];
    snprintf(name, sizeof name, "%s/coef", gp);
    rc = xb_h5_read_doubles(f, name, &c, &rk, d, err);
    if (!rc && (rk != 1 || d[0] < 1 || d[0] > XB_FIT_SIGMA_MAX_COEF))
        rc = xb_errorf(err, XB_EINPUT, "%s: /%s: expected 1 to %d coefficients", path, name, XB_FIT_SIGMA_MAX_COEF);
    for (size_t k = 0; !rc && k < (size_t)d[0]; k++)
        if (!isfinite(c[k])) rc = xb_errorf(err, XB_EINPUT, "%s: /%s[%zu] is not finite", path, name, k);
    snprintf(name, sizeof name, "%s/valid_g_siemens", gp);
    if (!rc) rc = xb_h5_read_doubles(f, name, &v, &rv, dv, err);
    if (!rc && (rv != 1 || dv[0] != 2 || !(v[0] >= 0) || !(v[1] > v[0]) || !isfinite(v[1])))
        rc = xb_errorf(err, XB_EINPUT, "%s: /%s: expected two conductances 0 <= lo < hi", path, name);
    char where[300];
    snprintf(where, sizeof where, "%s: /%s", path, name);
    if (!rc) rc = xb_check_values(XB_QTY_CONDUCTANCE, v, 2, where, err);
    if (!rc) {
        out->n_coef = (size_t)d[0];
        memcpy(out->coef, c, out->n_coef * sizeof *c);
        out->valid_g_siemens[0] = v[0];
        out->valid_g_siemens[1] = v[1];
    }
    free(c);
    free(v);
    xb_h5_close(f, NULL);
    return rc;
}

double xb_fit_sigma_eval(const xb_fit_sigma *s, double g_siemens)
{
    /* the polynomial is fitted on valid_g only: hold it at the ends instead of extrapolating */
    double g = fmin(fmax(g_siemens, s->valid_g_siemens[0]), s->valid_g_siemens[1]), y = 0;
    for (size_t k = s->n_coef; k-- > 0;) y = y * g + s->coef[k];
    return y > 0 ? y : 0.0;
}
