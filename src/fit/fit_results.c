/* `xbar fit`: from a characterization results file (docs/hdf5-results.md) to a model file
 * (docs/hdf5-model.md): one MVM model per point with circuit data, programming-error
 * sigma(G) per device, energy and settling-time regressions, and the model parameters as
 * functions of size and wire resistance with leave-one-size-out errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fit/fit_internal.h"

#define XB_RESULTS_FORMAT "xbar-results"

/* One point of the results file, loaded. */
typedef struct {
    char name[64];
    xb_array_params p;
    int var_program;
    size_t S, N, K;               /* targets, realisations (S * monte_carlo), vectors */
    double *g_target, *g, *v, *i; /* S*R*C, N*R*C, N*K*R, N*K*C */
    xb_matrix **gm, **vm, **im;   /* views as matrices, N each */
    int has_tr;
    double *tr_v;                 /* the transient's input vector (rows) */
    double t_settle_s, e_read_joule, t_read_s, t_rise_s;
    double feat_e_res, feat_e_cap, feat_tau_row, feat_tau_col; /* regression features */
} rpoint;

static void rpoint_free(rpoint *q)
{
    for (size_t n = 0; n < q->N; n++) {
        if (q->gm) xb_matrix_free(q->gm[n]);
        if (q->vm) xb_matrix_free(q->vm[n]);
        if (q->im) xb_matrix_free(q->im[n]);
    }
    free(q->gm);
    free(q->vm);
    free(q->im);
    free(q->tr_v);
    free(q->g_target);
    free(q->g);
    free(q->v);
    free(q->i);
}

static int attr_d(hid_t g, const char *name, double *v, xb_error *err)
{
    if (!xb_h5_attr_exists(g, ".", name)) return XB_OK; /* keep the device default */
    return xb_h5_attr_get_double(g, ".", name, v, err);
}

/* Load one point; *usable = 0 when it has no circuit MVM data (failed, ideal-only). */
static int load_point(hid_t f, const char *path, const char *name, rpoint *q, int *usable, xb_error *err)
{
    memset(q, 0, sizeof *q);
    *usable = 0;
    snprintf(q->name, sizeof q->name, "%s", name);
    char gp[128];
    snprintf(gp, sizeof gp, "points/%s", name);
    hid_t g;
    int rc = xb_h5_group_open(f, gp, &g, err);
    if (rc) return rc;
    char *s = NULL;
    /* only finished points: status "ok" (docs/hdf5-results.md; a group without it is a
     * point still being written) */
    if (!xb_h5_attr_exists(g, ".", "status")) goto out;
    rc = xb_h5_attr_get_string(g, ".", "status", &s, err);
    int ok = !rc && strcmp(s, "ok") == 0;
    free(s);
    s = NULL;
    if (!ok) goto out;
    if (!xb_h5_exists(g, "mvm") || !xb_h5_attr_exists(g, ".", "device")) goto out;
    if (xb_h5_attr_exists(g, ".", "engine")) {
        rc = xb_h5_attr_get_string(g, ".", "engine", &s, err);
        int ideal = !rc && strcmp(s, "ideal") == 0;
        free(s);
        s = NULL;
        if (rc || ideal) goto out;
    }
    xb_device_kind d;
    rc = xb_h5_attr_get_string(g, ".", "device", &s, err);
    if (!rc && xb_device_from_name(s, &d)) rc = xb_errorf(err, XB_EINPUT, "%s:/%s: unknown device '%s'", path, gp, s);
    free(s);
    s = NULL;
    if (rc) goto out;
    xb_array_params_default(&q->p, d);
    if (xb_h5_attr_exists(g, ".", "cell")) {
        rc = xb_h5_attr_get_string(g, ".", "cell", &s, err);
        if (!rc && xb_cell_from_name(s, &q->p.cell))
            rc = xb_errorf(err, XB_EINPUT, "%s:/%s: unknown cell '%s'", path, gp, s);
        free(s);
        s = NULL;
        if (rc) goto out;
    }
    int64_t r = 0, c = 0, vp = 0;
    rc = xb_h5_attr_get_int64(g, ".", "rows", &r, err);
    if (!rc) rc = xb_h5_attr_get_int64(g, ".", "cols", &c, err);
    if (!rc && xb_h5_attr_exists(g, ".", "var_program")) rc = xb_h5_attr_get_int64(g, ".", "var_program", &vp, err);
    if (rc) goto out;
    if (r < 1 || c < 1) { rc = xb_errorf(err, XB_EINPUT, "%s:/%s: rows/cols must be >= 1", path, gp); goto out; }
    q->p.rows = (size_t)r;
    q->p.cols = (size_t)c;
    q->var_program = (int)vp;
    q->p.var_program = (int)vp;
    const struct { const char *n; double *v; } at[] = {
        {"r_wire_row_ohm", &q->p.r_wire_row_ohm}, {"r_wire_col_ohm", &q->p.r_wire_col_ohm},
        {"r_driver_ohm", &q->p.r_driver_ohm},     {"r_sense_ohm", &q->p.r_sense_ohm},
        {"c_wire_farad", &q->p.c_wire_farad},     {"v_read_volt", &q->p.v_read_volt},
        {"g_min_siemens", &q->p.g_min_siemens},   {"g_max_siemens", &q->p.g_max_siemens},
        {"v_gate_volt", &q->p.v_gate_volt},
    };
    for (size_t k = 0; !rc && k < sizeof at / sizeof at[0]; k++) rc = attr_d(g, at[k].n, at[k].v, err);
    if (rc) goto out;
    /* The configuration comes from the file: check it like any input (a point with
     * g_min > g_max was fitted into a model file its own reader rejects; found by
     * tests/fuzz/fuzz_results_h5). */
    xb_error perr;
    if (xb_array_params_check(&q->p, &perr)) {
        rc = xb_errorf(err, XB_EINPUT, "%s:/%s: %s", path, gp, perr.msg);
        goto out;
    }

    hid_t mg;
    rc = xb_h5_group_open(g, "mvm", &mg, err);
    if (rc) goto out;
    int rk;
    hsize_t dg[4], dv[4], di[4], dt[4];
    const size_t R = q->p.rows, C = q->p.cols;
    rc = xb_h5_read_doubles(mg, "g", &q->g, &rk, dg, err);
    if (!rc && (rk != 3 || dg[1] != R || dg[2] != C))
        rc = xb_errorf(err, XB_EINPUT, "%s:/%s/mvm/g: shape must be (N, %zu, %zu)", path, gp, R, C);
    if (!rc) rc = xb_h5_read_doubles(mg, "v", &q->v, &rk, dv, err);
    if (!rc && (rk != 3 || dv[0] != dg[0] || dv[2] != R))
        rc = xb_errorf(err, XB_EINPUT, "%s:/%s/mvm/v: shape must be (%llu, K, %zu)", path, gp,
                       (unsigned long long)dg[0], R);
    if (!rc) rc = xb_h5_read_doubles(mg, "i_circuit", &q->i, &rk, di, err);
    if (!rc && (rk != 3 || di[0] != dg[0] || di[1] != dv[1] || di[2] != C))
        rc = xb_errorf(err, XB_EINPUT, "%s:/%s/mvm/i_circuit: shape must be (%llu, %llu, %zu)", path, gp,
                       (unsigned long long)dg[0], (unsigned long long)dv[1], C);
    if (!rc && xb_h5_exists(mg, "g_target")) {
        rc = xb_h5_read_doubles(mg, "g_target", &q->g_target, &rk, dt, err);
        if (!rc && (rk != 3 || dt[1] != R || dt[2] != C || dt[0] == 0 || dg[0] % dt[0] != 0))
            rc = xb_errorf(err, XB_EINPUT, "%s:/%s/mvm/g_target: shape must be (S, %zu, %zu), S dividing N", path,
                           gp, R, C);
        if (!rc) q->S = (size_t)dt[0];
    }
    H5Gclose(mg);
    if (rc) goto out;
    q->N = (size_t)dg[0];
    q->K = (size_t)dv[1];
    q->gm = calloc(q->N, sizeof *q->gm);
    q->vm = calloc(q->N, sizeof *q->vm);
    q->im = calloc(q->N, sizeof *q->im);
    if (!q->gm || !q->vm || !q->im) { rc = xb_errorf(err, XB_ERUNTIME, "out of memory"); goto out; }
    for (size_t n = 0; n < q->N; n++) {
        q->gm[n] = xb_matrix_new(R, C);
        q->vm[n] = xb_matrix_new(q->K, R);
        q->im[n] = xb_matrix_new(q->K, C);
        if (!q->gm[n] || !q->vm[n] || !q->im[n]) { rc = xb_errorf(err, XB_ERUNTIME, "out of memory"); goto out; }
        memcpy(q->gm[n]->data, q->g + n * R * C, R * C * sizeof(double));
        memcpy(q->vm[n]->data, q->v + n * q->K * R, q->K * R * sizeof(double));
        memcpy(q->im[n]->data, q->i + n * q->K * C, q->K * C * sizeof(double));
    }
    /* transient of sample 0 with its first input vector (docs/hdf5-results.md) */
    if (xb_h5_exists(g, "transient") && q->K > 0) {
        hid_t tg;
        rc = xb_h5_group_open(g, "transient", &tg, err);
        if (rc) goto out;
        if (xb_h5_attr_exists(tg, ".", "t_settle_max_s") && xb_h5_attr_exists(tg, ".", "e_read_joule") &&
            xb_h5_attr_exists(tg, ".", "t_read_s")) {
            rc = xb_h5_attr_get_double(tg, ".", "t_settle_max_s", &q->t_settle_s, err);
            if (!rc) rc = xb_h5_attr_get_double(tg, ".", "e_read_joule", &q->e_read_joule, err);
            if (!rc) rc = xb_h5_attr_get_double(tg, ".", "t_read_s", &q->t_read_s, err);
            if (!rc) rc = attr_d(tg, "t_rise_s", &q->t_rise_s, err);
            if (!rc) rc = attr_d(tg, "c_wire_farad", &q->p.c_wire_farad, err);
            q->has_tr = !rc && isfinite(q->t_settle_s) && isfinite(q->e_read_joule);
        }
        /* its input: every row at v_read (attribute `input`, docs/hdf5-results.md), else the
         * first input vector of sample 0 */
        int full = 0;
        if (!rc && xb_h5_attr_exists(tg, ".", "input")) {
            rc = xb_h5_attr_get_string(tg, ".", "input", &s, err);
            full = !rc && strstr(s, "v_read") != NULL;
            free(s);
            s = NULL;
        }
        H5Gclose(tg);
        if (rc) goto out;
        q->tr_v = malloc(R * sizeof *q->tr_v);
        if (!q->tr_v) { rc = xb_errorf(err, XB_ERUNTIME, "out of memory"); goto out; }
        for (size_t ii = 0; ii < R; ii++) q->tr_v[ii] = full ? q->p.v_read_volt : q->v[ii];
        /* features: wire charging energy c_wire * cols * sum_i v_i^2, RC products of the
         * row and column lines; the resistive energy needs the fitted model (after the fit) */
        double sv2 = 0;
        for (size_t ii = 0; ii < R; ii++) sv2 += q->tr_v[ii] * q->tr_v[ii];
        q->feat_e_cap = q->p.c_wire_farad * (double)C * sv2;
        q->feat_tau_row = (q->p.r_driver_ohm + q->p.r_wire_row_ohm * (double)C / 2) * q->p.c_wire_farad * (double)C;
        q->feat_tau_col = (q->p.r_sense_ohm + q->p.r_wire_col_ohm * (double)R / 2) * q->p.c_wire_farad * (double)R;
    }
    *usable = q->N > 0 && q->K > 0;
out:
    H5Gclose(g);
    return rc;
}

/* Drift records of a PCM point (/points/NAME/drift: t_s (T), g (T x n)), if any. */
typedef struct {
    double *t_s, *g;
    size_t T, n;
    double g_max_siemens;
} rdrift;

static int load_drift(hid_t f, const char *path, const char *name, rdrift *d, int *found, xb_error *err)
{
    memset(d, 0, sizeof *d);
    *found = 0;
    char gp[128];
    snprintf(gp, sizeof gp, "points/%s/drift", name);
    if (!xb_h5_exists(f, gp)) return XB_OK;
    char pp[96];
    snprintf(pp, sizeof pp, "points/%s", name);
    char *dev = NULL, *st = NULL;
    if (!xb_h5_attr_exists(f, pp, "device") || !xb_h5_attr_exists(f, pp, "status")) return XB_OK;
    int rc = xb_h5_attr_get_string(f, pp, "status", &st, err);
    int ok = !rc && strcmp(st, "ok") == 0;
    free(st);
    if (rc || !ok) return rc;
    rc = xb_h5_attr_get_string(f, pp, "device", &dev, err);
    int pcm = !rc && strcmp(dev, "pcm") == 0;
    free(dev);
    if (rc || !pcm) return rc;
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_PCM);
    d->g_max_siemens = p.g_max_siemens;
    if (xb_h5_attr_exists(f, pp, "g_max_siemens")) rc = xb_h5_attr_get_double(f, pp, "g_max_siemens", &d->g_max_siemens, err);
    hid_t g;
    if (!rc) rc = xb_h5_group_open(f, gp, &g, err);
    if (rc) return rc;
    int r1, r2;
    hsize_t d1[4], d2[4];
    rc = xb_h5_read_doubles(g, "t_s", &d->t_s, &r1, d1, err);
    if (!rc) rc = xb_h5_read_doubles(g, "g", &d->g, &r2, d2, err);
    H5Gclose(g);
    if (!rc && (r1 != 1 || r2 != 2 || d2[0] != d1[0]))
        rc = xb_errorf(err, XB_EINPUT, "%s:/%s: t_s must be (T,) and g (T, n)", path, gp);
    if (!rc && (d1[0] < 3 || d1[0] > XB_FIT_DRIFT_MAX_T))
        rc = xb_errorf(err, XB_EINPUT, "%s:/%s/t_s: %llu reads, need 3..%d", path, gp, (unsigned long long)d1[0],
                       XB_FIT_DRIFT_MAX_T);
    for (size_t t = 0; !rc && t < (size_t)d1[0]; t++)
        if (!(d->t_s[t] > 0) || (t && !(d->t_s[t] > d->t_s[t - 1])))
            rc = xb_errorf(err, XB_EINPUT, "%s:/%s/t_s: times must be positive and increasing", path, gp);
    if (rc) {
        free(d->t_s);
        free(d->g);
        memset(d, 0, sizeof *d);
        return rc;
    }
    d->T = (size_t)d1[0];
    d->n = (size_t)d2[1];
    *found = 1;
    return XB_OK;
}

static int same_kind(const xb_array_params *a, const xb_array_params *b)
{
    return a->device == b->device && a->cell == b->cell;
}

/* ---- programming error sigma(G) per device: binned std of (g - g_target), polynomial fit
 * (degree 4 with 8+ populated bins: the published RRAM law is a quartic, docs/devices.md) ---- */
static int fit_sigma(hid_t f, rpoint *pts, size_t np, xb_fit_summary *sum, xb_error *err)
{
    for (int d = 0; d < XB_DEVICE_COUNT; d++) {
        /* collect (target, deviation) pairs */
        size_t cnt = 0;
        for (size_t k = 0; k < np; k++)
            if ((int)pts[k].p.device == d && pts[k].var_program && pts[k].g_target && pts[k].S < pts[k].N)
                cnt += pts[k].N * pts[k].p.rows * pts[k].p.cols;
        if (cnt < 50) continue;
        enum { NB = 12 };
        double gmin = INFINITY, gmax = -INFINITY;
        for (size_t k = 0; k < np; k++) {
            rpoint *q = &pts[k];
            if ((int)q->p.device != d || !q->var_program || !q->g_target || q->S >= q->N) continue;
            gmin = fmin(gmin, q->p.g_min_siemens);
            gmax = fmax(gmax, q->p.g_max_siemens);
        }
        double s1[NB] = {0}, s2[NB] = {0}, sx[NB] = {0};
        size_t nb[NB] = {0};
        for (size_t k = 0; k < np; k++) {
            rpoint *q = &pts[k];
            if ((int)q->p.device != d || !q->var_program || !q->g_target || q->S >= q->N) continue;
            size_t RC = q->p.rows * q->p.cols, M = q->N / q->S;
            for (size_t n = 0; n < q->N; n++) {
                const double *gt = q->g_target + (n / M) * RC, *gg = q->g + n * RC;
                for (size_t c = 0; c < RC; c++) {
                    int b = (int)((gt[c] - gmin) / (gmax - gmin) * NB);
                    if (b < 0) b = 0;
                    if (b >= NB) b = NB - 1;
                    double dv = gg[c] - gt[c];
                    s1[b] += dv;
                    s2[b] += dv * dv;
                    sx[b] += gt[c];
                    nb[b]++;
                }
            }
        }
        double x[NB], y[NB], c[5] = {0}, r2 = 0, rms = 0;
        size_t m = 0;
        for (int b = 0; b < NB; b++)
            if (nb[b] >= 5) {
                double mean = s1[b] / (double)nb[b];
                x[m] = sx[b] / (double)nb[b];
                y[m] = sqrt(fmax(s2[b] / (double)nb[b] - mean * mean, 0));
                m++;
            }
        if (m < 3) continue;
        size_t deg = m >= 8 ? 4 : 2;
        int rc = xb_fit_poly(x, y, m, deg, c, &r2, &rms, err);
        if (rc) return rc;
        char gp[96];
        snprintf(gp, sizeof gp, "stats/sigma_program/%s", xb_device_name((xb_device_kind)d));
        hid_t g;
        rc = xb_h5_group_create(f, gp, &g, err);
        if (rc) return rc;
        hsize_t d3 = deg + 1, dm = m;
        rc = xb_h5_write_doubles(g, "coef", 1, &d3, c, "S^(1-k)", err);
        if (!rc) rc = xb_h5_write_doubles(g, "g_bin_siemens", 1, &dm, x, "S", err);
        if (!rc) rc = xb_h5_write_doubles(g, "sigma_bin_siemens", 1, &dm, y, "S", err);
        if (!rc) rc = xb_h5_write_doubles(g, "r2", 0, NULL, &r2, "1", err);
        if (!rc) rc = xb_h5_write_doubles(g, "rms_siemens", 0, NULL, &rms, "S", err);
        if (!rc) rc = xb_h5_attr_set_string(g, ".", "form", "sigma(G) = sum_k coef[k]*G^k (siemens)", err);
        if (!rc) {
            double vr[2] = {gmin, gmax};
            hsize_t d2 = 2;
            rc = xb_h5_write_doubles(g, "valid_g_siemens", 1, &d2, vr, "S", err);
        }
        H5Gclose(g);
        if (rc) return rc;
        sum->n_sigma++;
    }
    return XB_OK;
}

/* ---- energy and settling time regressions over points with a transient ---- */
static int fit_transient(hid_t f, rpoint *pts, size_t np, xb_fit_summary *sum, xb_error *err)
{
    size_t m = 0;
    for (size_t k = 0; k < np; k++) m += pts[k].has_tr;
    if (m < 2) return XB_OK;
    double *Xe = malloc(m * 2 * sizeof *Xe), *ye = malloc(m * sizeof *ye);
    double *Xt = malloc(m * 3 * sizeof *Xt), *yt = malloc(m * sizeof *yt);
    int rc = XB_OK;
    if (!Xe || !ye || !Xt || !yt) { rc = xb_errorf(err, XB_ERUNTIME, "out of memory"); goto done; }
    size_t q = 0;
    for (size_t k = 0; k < np; k++) {
        if (!pts[k].has_tr) continue;
        Xe[q * 2 + 0] = pts[k].feat_e_res;
        Xe[q * 2 + 1] = pts[k].feat_e_cap;
        ye[q] = pts[k].e_read_joule;
        Xt[q * 3 + 0] = pts[k].t_rise_s;
        Xt[q * 3 + 1] = pts[k].feat_tau_row;
        Xt[q * 3 + 2] = pts[k].feat_tau_col;
        yt[q] = pts[k].t_settle_s;
        q++;
    }
    double ce[2], ct[3], r2e, r2t, rmse, rmst;
    rc = xb_fit_linear(Xe, ye, m, 2, ce, &r2e, &rmse, err);
    if (!rc) rc = xb_fit_linear(Xt, yt, m, 3, ct, &r2t, &rmst, err);
    if (rc) goto done;
    hid_t g;
    rc = xb_h5_group_create(f, "stats/energy", &g, err);
    if (!rc) {
        hsize_t d = 2;
        rc = xb_h5_write_doubles(g, "coef", 1, &d, ce, "1", err);
        if (!rc) rc = xb_h5_write_doubles(g, "r2", 0, NULL, &r2e, "1", err);
        if (!rc) rc = xb_h5_write_doubles(g, "rms_joule", 0, NULL, &rmse, "J", err);
        if (!rc)
            rc = xb_h5_attr_set_string(g, ".", "form",
                                       "E_read = coef[0]*(t_read + t_rise/3)*sum_i v_i I_row_i (model row currents) + "
                                       "coef[1]*c_wire*cols*sum_i v_i^2 (joule)", err);
        H5Gclose(g);
    }
    if (!rc) rc = xb_h5_group_create(f, "stats/settling", &g, err);
    if (!rc) {
        hsize_t d = 3;
        rc = xb_h5_write_doubles(g, "coef", 1, &d, ct, "1", err);
        if (!rc) rc = xb_h5_write_doubles(g, "r2", 0, NULL, &r2t, "1", err);
        if (!rc) rc = xb_h5_write_doubles(g, "rms_s", 0, NULL, &rmst, "s", err);
        if (!rc)
            rc = xb_h5_attr_set_string(g, ".", "form",
                                       "t_settle = coef[0]*t_rise + coef[1]*(r_driver + r_row*cols/2)*c_wire*cols + "
                                       "coef[2]*(r_sense + r_col*rows/2)*c_wire*rows (second)", err);
        H5Gclose(g);
    }
    if (!rc) {
        sum->energy_r2 = r2e;
        sum->settling_r2 = r2t;
        sum->n_transient = m;
    }
done:
    free(Xe);
    free(ye);
    free(Xt);
    free(yt);
    return rc;
}

/* ---- parameters as functions of size and wire resistance ----
 * For each device/cell family with models at two or more sizes: every fitted quantity
 * (resistance ratios to the circuit values, V0 knots, gain) as c0 + c1*n + c2*r_wire with
 * n = sqrt(rows*cols); then, for each size, the same regression without that size's
 * models, and the model error of the predicted parameters on that size's samples. */
#define NQ XB_FIT_FAMILY_NQ
static void quantities(const xb_fit_params *m, double *y)
{
    const xb_array_params *c = &m->config;
    y[0] = c->r_wire_row_ohm > 0 ? m->r_row_ohm / c->r_wire_row_ohm : 1;
    y[1] = c->r_wire_col_ohm > 0 ? m->r_col_ohm / c->r_wire_col_ohm : 1;
    y[2] = c->r_driver_ohm > 0 ? m->r_driver_ohm / c->r_driver_ohm : 1;
    y[3] = m->r_series_ohm;
    y[4] = m->gain;
    for (size_t k = 0; k < XB_FIT_MAX_KNOTS; k++) y[5 + k] = k < m->n_knots ? m->knot_v0_volt[k] : 0;
}

static void apply_quantities(xb_fit_params *m, const double *y)
{
    const xb_array_params *c = &m->config;
    m->r_row_ohm = fmax(y[0], 0) * c->r_wire_row_ohm;
    m->r_col_ohm = fmax(y[1], 0) * c->r_wire_col_ohm;
    m->r_driver_ohm = fmax(y[2], 0) * c->r_driver_ohm;
    m->r_series_ohm = fmax(y[3], 0);
    m->gain = y[4] > 0 ? y[4] : 1;
    for (size_t k = 0; k < m->n_knots; k++) m->knot_v0_volt[k] = fmax(y[5 + k], XB_FIT_V0_MIN_VOLT);
}

static int regress_family(const xb_fit_params *ms, const size_t *idx, size_t n, size_t skip_size,
                          double coef[NQ][3], xb_error *err)
{
    double *X = malloc(n * 3 * sizeof *X), *y = malloc(n * sizeof *y);
    int rc = XB_OK;
    if (!X || !y) { free(X); free(y); return xb_errorf(err, XB_ERUNTIME, "out of memory"); }
    for (int qn = 0; qn < NQ && !rc; qn++) {
        size_t m = 0;
        for (size_t k = 0; k < n; k++) {
            const xb_fit_params *p = &ms[idx[k]];
            if (skip_size && p->config.rows * p->config.cols == skip_size) continue;
            double yq[NQ];
            quantities(p, yq);
            X[m * 3 + 0] = 1;
            X[m * 3 + 1] = sqrt((double)(p->config.rows * p->config.cols));
            X[m * 3 + 2] = 0.5 * (p->config.r_wire_row_ohm + p->config.r_wire_col_ohm);
            y[m] = yq[qn];
            m++;
        }
        if (m == 0) { rc = xb_errorf(err, XB_EINPUT, "family regression: no models"); break; }
        if (m < 3) {
            /* too few models for three coefficients: the mean */
            double s = 0;
            for (size_t k = 0; k < m; k++) s += y[k];
            coef[qn][0] = s / (double)m;
            coef[qn][1] = coef[qn][2] = 0;
        } else {
            rc = xb_fit_linear(X, y, m, 3, coef[qn], NULL, NULL, err);
        }
    }
    free(X);
    free(y);
    return rc;
}

void xb_fit_family_predict(const double coef[XB_FIT_FAMILY_NQ][3], xb_fit_params *m)
{
    double y[NQ], n = sqrt((double)(m->config.rows * m->config.cols));
    double r = 0.5 * (m->config.r_wire_row_ohm + m->config.r_wire_col_ohm);
    for (int q = 0; q < NQ; q++) y[q] = coef[q][0] + coef[q][1] * n + coef[q][2] * r;
    apply_quantities(m, y);
}

static int fit_families(hid_t f, const xb_fit_params *ms, size_t nm, rpoint **mpts, xb_fit_summary *sum,
                        xb_error *err)
{
    if (nm == 0) return XB_OK;
    size_t *idx = malloc(nm * sizeof *idx);
    char *done = calloc(nm, 1);
    int rc = XB_OK;
    if (!idx || !done) { free(idx); free(done); return xb_errorf(err, XB_ERUNTIME, "out of memory"); }
    for (size_t a = 0; a < nm && !rc; a++) {
        if (done[a]) continue;
        size_t n = 0, sizes[64], ns = 0;
        for (size_t b = a; b < nm; b++)
            if (!done[b] && same_kind(&ms[a].config, &ms[b].config) && ms[b].n_knots == ms[a].n_knots) {
                idx[n++] = b;
                done[b] = 1;
                size_t sz = ms[b].config.rows * ms[b].config.cols, k;
                for (k = 0; k < ns && sizes[k] != sz; k++) {}
                if (k == ns && ns < 64) sizes[ns++] = sz;
            }
        if (ns < 2) continue;
        double coef[NQ][3];
        rc = regress_family(ms, idx, n, 0, coef, err);
        if (rc) break;
        /* leave one size out */
        double lo_err[64], lo_ideal[64], lo_n[64];
        for (size_t s = 0; s < ns && !rc; s++) {
            double c2[NQ][3], num = 0, numi = 0;
            rc = regress_family(ms, idx, n, sizes[s], c2, err);
            for (size_t k = 0; k < n && !rc; k++) {
                const xb_fit_params *p = &ms[idx[k]];
                if (p->config.rows * p->config.cols != sizes[s]) continue;
                xb_fit_params pred = *p;
                xb_fit_family_predict((const double(*)[3])c2, &pred);
                rpoint *q = mpts[idx[k]];
                xb_fit_sample *smp = malloc(q->N * sizeof *smp);
                if (!smp) { rc = xb_errorf(err, XB_ERUNTIME, "out of memory"); break; }
                for (size_t t = 0; t < q->N; t++) smp[t] = (xb_fit_sample){q->gm[t], q->vm[t], q->im[t]};
                double em = 0, ei = 0;
                rc = xb_fit_score(&pred, smp, q->N, &em, &ei, err);
                free(smp);
                num = fmax(num, em);
                numi = fmax(numi, ei);
            }
            lo_err[s] = num;
            lo_ideal[s] = numi;
            lo_n[s] = sqrt((double)sizes[s]);
        }
        if (rc) break;
        char gp[96];
        snprintf(gp, sizeof gp, "family/%s_%s", xb_device_name(ms[a].config.device), xb_cell_name(ms[a].config.cell));
        hid_t g;
        rc = xb_h5_group_create(f, gp, &g, err);
        if (rc) break;
        hsize_t dc[2] = {NQ, 3}, dn = ns;
        rc = xb_h5_write_doubles(g, "coef", 2, dc, &coef[0][0], "1", err);
        if (!rc)
            rc = xb_h5_attr_set_string(g, ".", "quantities",
                                       "r_row/r_wire_row, r_col/r_wire_col, r_driver/r_driver_circuit, r_series_ohm, "
                                       "gain, knot_v0_volt[0..7]", err);
        if (!rc) rc = xb_h5_attr_set_string(g, ".", "form", "q = coef[q][0] + coef[q][1]*sqrt(rows*cols) + coef[q][2]*r_wire_ohm", err);
        if (!rc) rc = xb_h5_write_doubles(g, "leaveout_n", 1, &dn, lo_n, "1", err);
        if (!rc) rc = xb_h5_write_doubles(g, "leaveout_rel_l2", 1, &dn, lo_err, "1", err);
        if (!rc) rc = xb_h5_write_doubles(g, "leaveout_ideal_rel_l2", 1, &dn, lo_ideal, "1", err);
        H5Gclose(g);
        for (size_t s = 0; s < ns && sum->n_leaveout < XB_FIT_MAX_LEAVEOUT; s++) {
            xb_fit_leaveout *lo = &sum->leaveout[sum->n_leaveout++];
            lo->device = ms[a].config.device;
            lo->cell = ms[a].config.cell;
            lo->n = (size_t)llround(lo_n[s]);
            lo->rel_l2 = lo_err[s];
            lo->ideal_rel_l2 = lo_ideal[s];
        }
    }
    free(idx);
    free(done);
    return rc;
}

static char *root_string(hid_t f, const char *name)
{
    char *s = NULL;
    if (xb_h5_attr_exists(f, ".", name) && xb_h5_attr_get_string(f, ".", name, &s, NULL) == XB_OK) return s;
    return NULL;
}

int xb_fit_results(const char *results_path, const char *model_path, int overwrite, const xb_fit_opts *o,
                   xb_fit_progress_fn progress, void *user, xb_fit_summary **summary, xb_error *err)
{
    *summary = NULL;
    if (!xb_h5_is_hdf5(results_path)) {
        FILE *fp = fopen(results_path, "rb");
        if (!fp) return xb_errorf(err, XB_EINPUT, "%s: cannot open", results_path);
        fclose(fp);
        return xb_errorf(err, XB_EINPUT, "%s: not an HDF5 file", results_path);
    }
    hid_t f;
    int rc = xb_h5_open(results_path, 0, &f, err);
    if (rc) return rc;
    char *fmt = root_string(f, "format");
    if (!fmt || strcmp(fmt, XB_RESULTS_FORMAT) != 0) {
        rc = xb_errorf(err, XB_EINPUT, "%s: format '%s', expected '%s' (a file from xbar characterize)", results_path,
                       fmt ? fmt : "(none)", XB_RESULTS_FORMAT);
        free(fmt);
        xb_h5_close(f, NULL);
        return rc;
    }
    free(fmt);
    if (!xb_h5_exists(f, "points")) {
        xb_h5_close(f, NULL);
        return xb_errorf(err, XB_EINPUT, "%s: missing group /points", results_path);
    }
    char **names = NULL;
    size_t nn = 0;
    rc = xb_h5_list(f, "points", &names, &nn, err);
    rpoint *pts = rc ? NULL : calloc(nn ? nn : 1, sizeof *pts);
    size_t np = 0;
    if (!rc && !pts) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    for (size_t k = 0; !rc && k < nn; k++) {
        int usable;
        if (names[k][0] == '.') continue; /* /points/.incoming_*: a point being copied in */
        rc = load_point(f, results_path, names[k], &pts[np], &usable, err);
        if (rc || !usable) rpoint_free(&pts[np]);
        else np++;
    }
    rdrift *drs = rc ? NULL : calloc(nn ? nn : 1, sizeof *drs);
    size_t ndr = 0;
    if (!rc && !drs) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    for (size_t k = 0; !rc && k < nn; k++) {
        int found;
        if (names[k][0] == '.') continue;
        rc = load_drift(f, results_path, names[k], &drs[ndr], &found, err);
        if (!rc && found) ndr++;
    }
    xb_update_set *trains = NULL;
    if (!rc) rc = xb_fit_trains_load(f, results_path, names, nn, &trains, err);
    xb_h5_free_names(names, nn);
    xb_fit_provenance prov = {results_path, NULL, NULL, NULL, NULL};
    char *camp = NULL, *ngv = NULL, *xv = NULL, *ctext = NULL;
    if (!rc) {
        camp = root_string(f, "campaign");
        if (!camp) camp = root_string(f, "campaign_name");
        ngv = root_string(f, "ngspice_version");
        xv = root_string(f, "xbar_version");
        if (xb_h5_exists(f, "campaign/text")) xb_h5_read_text(f, "campaign/text", &ctext, NULL);
        prov.campaign_name = camp;
        prov.ngspice_version = ngv;
        prov.results_xbar_version = xv;
        prov.campaign_text = ctext;
    }
    xb_h5_close(f, NULL);
    if (!rc && np == 0 && ndr == 0 && xb_update_set_count(trains) == 0)
        rc = xb_errorf(err, XB_EINPUT,
                       "%s: no finished point with circuit MVM data (/points/*/mvm), drift records or pulse trains "
                       "(/points/*/program/train_g)",
                       results_path);

    xb_fit_summary *sum = NULL;
    xb_fit_params *ms = NULL;
    rpoint **mpts = NULL;
    hid_t mf = -1;
    if (!rc) {
        sum = calloc(1, sizeof *sum);
        ms = calloc(np ? np : 1, sizeof *ms);
        mpts = calloc(np ? np : 1, sizeof *mpts);
        if (sum) sum->models = calloc(np ? np : 1, sizeof *sum->models);
        if (!sum || !ms || !mpts || !sum->models) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    if (!rc) rc = xb_fit_file_create(model_path, overwrite, &prov, &mf, err);
    size_t nm = 0;
    for (size_t k = 0; !rc && k < np; k++) {
        rpoint *q = &pts[k];
        xb_fit_sample *smp = malloc(q->N * sizeof *smp);
        if (!smp) { rc = xb_errorf(err, XB_ERUNTIME, "out of memory"); break; }
        for (size_t t = 0; t < q->N; t++) smp[t] = (xb_fit_sample){q->gm[t], q->vm[t], q->im[t]};
        xb_fit_metrics met;
        rc = xb_fit_mvm(&q->p, smp, q->N, o, &ms[nm], &met, err);
        free(smp);
        /* A fit of inconsistent data can leave the valid range (e.g. gain <= 0): never write a
         * model the model reader rejects (found by tests/fuzz/fuzz_results_h5). */
        if (!rc && (rc = xb_fit_params_check(&ms[nm], err))) xb_error_prefix(err, "fitted model rejected: ");
        if (rc) {
            xb_error_prefix(err, "%s:/points/%s: ", results_path, q->name);
            break;
        }
        char src[128];
        snprintf(src, sizeof src, "/points/%s", q->name);
        rc = xb_fit_file_add_model(mf, nm, &ms[nm], &met, src, err);
        if (rc) break;
        if (q->has_tr) {
            rc = xb_fit_energy_feature(&ms[nm], q->gm[0], q->tr_v, q->t_read_s, q->t_rise_s, &q->feat_e_res, err);
            if (rc) break;
        }
        xb_fit_model_info *mi = &sum->models[nm];
        snprintf(mi->point, sizeof mi->point, "%s", q->name);
        mi->params = ms[nm];
        mi->metrics = met;
        mpts[nm] = q;
        nm++;
        if (progress) progress(user, nm, np, mi);
    }
    if (!rc) sum->n_models = nm;
    if (!rc) rc = fit_sigma(mf, pts, np, sum, err);
    if (!rc) rc = fit_transient(mf, pts, np, sum, err);
    if (!rc) rc = fit_families(mf, ms, nm, mpts, sum, err);
    if (!rc && ndr > 0) {
        xb_fit_drift_data *dd = calloc(ndr, sizeof *dd);
        if (!dd) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
        for (size_t k = 0; dd && k < ndr; k++) dd[k] = (xb_fit_drift_data){drs[k].T, drs[k].n, drs[k].t_s, drs[k].g, drs[k].g_max_siemens};
        if (!rc) rc = xb_fit_drift(mf, dd, ndr, &sum->n_drift_devices, err);
        free(dd);
    }
    if (!rc) rc = xb_fit_trains_fit(trains, o ? o->update_law : XB_UPDATE_AUTO, mf, sum, err);
    xb_update_set_free(trains);
    if (mf >= 0) {
        int rc2 = xb_h5_close(mf, rc ? NULL : err);
        if (!rc) rc = rc2;
        if (rc) remove(model_path); /* never leave a half-written model file */
    }
    for (size_t k = 0; k < np; k++) rpoint_free(&pts[k]);
    free(pts);
    for (size_t k = 0; k < ndr; k++) {
        free(drs[k].t_s);
        free(drs[k].g);
    }
    free(drs);
    free(ms);
    free(mpts);
    free(camp);
    free(ngv);
    free(xv);
    free(ctext);
    if (rc) {
        xb_fit_summary_free(sum);
        return rc;
    }
    *summary = sum;
    return XB_OK;
}

void xb_fit_summary_free(xb_fit_summary *s)
{
    if (!s) return;
    for (size_t k = 0; k < s->n_update; k++) xb_fit_update_clear(&s->update[k]);
    free(s->models);
    free(s);
}
