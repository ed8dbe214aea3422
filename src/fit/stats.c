/* Energy and settling-time regressions of a model file (/stats, docs/hdf5-model.md), read
 * back and evaluated for a tile: what an executor needs next to the MVM model. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xbar/fit.h"
#include "xbar/h5.h"

static int read_coef(hid_t f, const char *path, const char *name, double *c, size_t n, int *have, xb_error *err)
{
    *have = 0;
    if (!xb_h5_exists(f, name)) return XB_OK;
    double *d = NULL;
    int rk;
    hsize_t dims[4];
    int rc = xb_h5_read_doubles(f, name, &d, &rk, dims, err);
    if (rc) return rc;
    if (rk != 1 || dims[0] != n) {
        free(d);
        return xb_errorf(err, XB_EINPUT, "%s:/%s: expected %zu coefficients", path, name, n);
    }
    for (size_t k = 0; k < n; k++) {
        if (!isfinite(d[k])) {
            free(d);
            return xb_errorf(err, XB_EINPUT, "%s:/%s: coefficient %zu is not finite", path, name, k);
        }
        c[k] = d[k];
    }
    free(d);
    *have = 1;
    return XB_OK;
}

int xb_fit_stats_read(const char *path, xb_fit_stats *s, xb_error *err)
{
    memset(s, 0, sizeof *s);
    hid_t f;
    int rc = xb_h5_open(path, 0, &f, err);
    if (rc) return rc;
    rc = read_coef(f, path, "stats/energy/coef", s->energy_coef, 2, &s->have_energy, err);
    if (!rc) rc = read_coef(f, path, "stats/settling/coef", s->settling_coef, 3, &s->have_settling, err);
    xb_h5_close(f, NULL);
    return rc;
}

int xb_fit_energy_feature(const xb_fit_params *m, const xb_matrix *g, const double *v_in, double t_read_s,
                          double t_rise_s, double *feature_joule, xb_error *err)
{
    xb_fit_eval *e;
    int rc = xb_fit_eval_new(m, g, &e, err);
    if (rc) return rc;
    double *ir = malloc(g->rows * sizeof *ir);
    if (!ir) {
        xb_fit_eval_free(e);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    rc = xb_fit_eval_row_currents(e, v_in, ir, err);
    double s = 0;
    for (size_t i = 0; !rc && i < g->rows; i++) s += v_in[i] * ir[i];
    free(ir);
    xb_fit_eval_free(e);
    if (!rc) *feature_joule = (t_read_s + t_rise_s / 3) * s;
    return rc;
}

double xb_fit_stats_energy_joule(const xb_fit_stats *s, const xb_fit_params *m, const xb_matrix *g,
                                 const double *v_in, double t_read_s, double t_rise_s)
{
    if (!s->have_energy) return NAN;
    double fe;
    if (xb_fit_energy_feature(m, g, v_in, t_read_s, t_rise_s, &fe, NULL)) return NAN;
    double sv2 = 0;
    for (size_t i = 0; i < g->rows; i++) sv2 += v_in[i] * v_in[i];
    return s->energy_coef[0] * fe + s->energy_coef[1] * m->config.c_wire_farad * (double)g->cols * sv2;
}

double xb_fit_stats_settling_s(const xb_fit_stats *s, const xb_array_params *p, double t_rise_s)
{
    if (!s->have_settling) return NAN;
    double R = (double)p->rows, C = (double)p->cols;
    return s->settling_coef[0] * t_rise_s +
           s->settling_coef[1] * (p->r_driver_ohm + p->r_wire_row_ohm * C / 2) * p->c_wire_farad * C +
           s->settling_coef[2] * (p->r_sense_ohm + p->r_wire_col_ohm * R / 2) * p->c_wire_farad * R;
}
