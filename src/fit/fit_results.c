/* `xbar fit`: from a characterization results file (docs/hdf5-results.md) to a model file
 * (docs/hdf5-model.md): one MVM model per point with circuit data, programming-error
 * sigma(G) per device, energy and settling-time regressions, and the model parameters as
 * functions of size and wire resistance with leave-one-size-out errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fit/fit_internal.h"
#include "xbar/characterize.h"

_Static_assert(XB_FIT_DRIFT_MAX_T >= XB_CHAR_DRIFT_MAX_TIMES, "the fit takes every drift record a results file holds");

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

/* The samples as matrices (the fitter's input). */
static int sample_views(rpoint *q, xb_error *err)
{
    const size_t R = q->p.rows, C = q->p.cols;
    q->gm = calloc(q->N, sizeof *q->gm);
    q->vm = calloc(q->N, sizeof *q->vm);
    q->im = calloc(q->N, sizeof *q->im);
    if (!q->gm || !q->vm || !q->im) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    for (size_t n = 0; n < q->N; n++) {
        q->gm[n] = xb_matrix_new(R, C);
        q->vm[n] = xb_matrix_new(q->K, R);
        q->im[n] = xb_matrix_new(q->K, C);
        if (!q->gm[n] || !q->vm[n] || !q->im[n]) return xb_errorf(err, XB_ERUNTIME, "out of memory");
        memcpy(q->gm[n]->data, q->g + n * R * C, R * C * sizeof(double));
        memcpy(q->vm[n]->data, q->v + n * q->K * R, q->K * R * sizeof(double));
        memcpy(q->im[n]->data, q->i + n * q->K * C, q->K * C * sizeof(double));
    }
    return XB_OK;
}

/* The transient of sample 0 (docs/hdf5-results.md): its headline numbers, its input vector
 * and the regression features. */
static int transient_features(const xb_char_result_point *pt, rpoint *q, xb_error *err)
{
    const size_t R = q->p.rows, C = q->p.cols;
    const double t_settle = pt->transient.t_settle_max_s, e_read = pt->transient.e_read_joule;
    if (!isnan(t_settle) && !isnan(e_read) && !isnan(pt->transient.t_read_s)) {
        q->t_settle_s = t_settle;
        q->e_read_joule = e_read;
        q->t_read_s = pt->transient.t_read_s;
        if (!isnan(pt->transient.t_rise_s)) q->t_rise_s = pt->transient.t_rise_s;
        if (!isnan(pt->transient.c_wire_farad)) q->p.c_wire_farad = pt->transient.c_wire_farad;
        q->has_tr = isfinite(t_settle) && isfinite(e_read);
    }
    /* its input: every row at v_read (attribute `input`), else the first input vector of
     * sample 0 */
    const int full = strstr(pt->transient.input, "v_read") != NULL;
    q->tr_v = malloc(R * sizeof *q->tr_v);
    if (!q->tr_v) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    for (size_t ii = 0; ii < R; ii++) q->tr_v[ii] = full ? q->p.v_read_volt : q->v[ii];
    /* features: wire charging energy c_wire * cols * sum_i v_i^2, RC products of the
     * row and column lines; the resistive energy needs the fitted model (after the fit) */
    double sv2 = 0;
    for (size_t ii = 0; ii < R; ii++) sv2 += q->tr_v[ii] * q->tr_v[ii];
    q->feat_e_cap = q->p.c_wire_farad * (double)C * sv2;
    q->feat_tau_row = (q->p.r_driver_ohm + q->p.r_wire_row_ohm * (double)C / 2) * q->p.c_wire_farad * (double)C;
    q->feat_tau_col = (q->p.r_sense_ohm + q->p.r_wire_col_ohm * (double)R / 2) * q->p.c_wire_farad * (double)R;
    return XB_OK;
}

/* Load one point; *usable = 0 when it has no circuit MVM data (failed, unfinished,
 * ideal-only). */
static int load_point(const xb_char_results *res, const xb_char_result_point *pt, rpoint *q, int *usable,
                      xb_error *err)
{
    memset(q, 0, sizeof *q);
    *usable = 0;
    snprintf(q->name, sizeof q->name, "%s", pt->name);
    if (strcmp(pt->status, "ok") != 0 || !pt->has_mvm || !pt->device[0] || strcmp(pt->engine, "ideal") == 0)
        return XB_OK;
    int rc = xb_char_results_point_config(res, pt, &q->p, err);
    if (rc) return rc;
    q->var_program = q->p.var_program;
    xb_char_result_mvm m;
    rc = xb_char_results_read_mvm(res, pt, &m, err);
    if (rc) return rc;
    q->g_target = m.g_target;
    q->g = m.g;
    q->v = m.v;
    q->i = m.i_circuit;
    q->S = m.S;
    q->N = m.N;
    q->K = m.K;
    rc = sample_views(q, err);
    if (!rc && pt->has_transient && q->K > 0) rc = transient_features(pt, q, err);
    if (rc) return rc;
    *usable = q->N > 0 && q->K > 0;
    return XB_OK;
}

/* Drift records of a finished PCM point, if any: *found = 1 and d filled (d->g_max_siemens
 * from the point, else the PCM default). */
static int load_drift(const xb_char_results *res, const xb_char_result_point *pt, xb_fit_drift_data *d,
                      xb_char_result_drift *rec, int *found, xb_error *err)
{
    *found = 0;
    if (!pt->has_drift || strcmp(pt->status, "ok") != 0 || strcmp(pt->device, "pcm") != 0) return XB_OK;
    int rc = xb_char_results_read_drift(res, pt, rec, err);
    if (rc) return rc;
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_PCM);
    *d = (xb_fit_drift_data){rec->T, rec->n, rec->t_s, rec->g,
                             isnan(pt->g_max_siemens) ? p.g_max_siemens : pt->g_max_siemens};
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
        xb_h5_group_close(g);
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
        xb_h5_group_close(g);
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
        /* the family at configurations no model was fitted for, by input distribution */
        if (!rc) rc = xb_fit_family_configs(g, ms, nm, idx, n, (const double(*)[3])coef, err);
        xb_h5_group_close(g);
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

/* The points with circuit MVM data and the drift records of a results file, read through
 * the characterize stage's reader (docs/hdf5-results.md). */
typedef struct {
    rpoint *pts;
    size_t np;
    xb_fit_drift_data *drift;
    xb_char_result_drift *records;
    size_t ndr;
} loaded;

static void loaded_free(loaded *l)
{
    for (size_t k = 0; k < l->np; k++) rpoint_free(&l->pts[k]);
    for (size_t k = 0; k < l->ndr; k++) xb_char_result_drift_clear(&l->records[k]);
    free(l->pts);
    free(l->drift);
    free(l->records);
}

static int load_results(const xb_char_results *res, loaded *l, xb_error *err)
{
    const size_t nn = xb_char_results_npoints(res);
    memset(l, 0, sizeof *l);
    l->pts = calloc(nn ? nn : 1, sizeof *l->pts);
    l->drift = calloc(nn ? nn : 1, sizeof *l->drift);
    l->records = calloc(nn ? nn : 1, sizeof *l->records);
    if (!l->pts || !l->drift || !l->records) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    int rc = XB_OK;
    for (size_t k = 0; !rc && k < nn; k++) {
        xb_char_result_point pt;
        rc = xb_char_results_point(res, k, &pt, err);
        if (rc || pt.in_flight) continue;
        int usable, found;
        rc = load_point(res, &pt, &l->pts[l->np], &usable, err);
        if (rc || !usable) rpoint_free(&l->pts[l->np]);
        else l->np++;
        if (!rc) rc = load_drift(res, &pt, &l->drift[l->ndr], &l->records[l->ndr], &found, err);
        if (!rc && found) l->ndr++;
    }
    return rc;
}

int xb_fit_results(const char *results_path, const char *model_path, int overwrite, const xb_fit_opts *o,
                   xb_fit_progress_fn progress, void *user, xb_fit_summary **summary, xb_error *err)
{
    *summary = NULL;
    xb_char_results *res = NULL;
    int rc = xb_char_results_open(results_path, &res, err);
    if (rc) return rc;
    loaded ld;
    rc = load_results(res, &ld, err);
    rpoint *pts = ld.pts;
    const size_t np = ld.np;
    xb_char_results_prov pv;
    xb_char_results_provenance(res, &pv);
    const xb_fit_provenance prov = {results_path, pv.campaign_name, pv.campaign_text, pv.ngspice_version,
                                    pv.xbar_version};
    xb_update_set *trains = NULL;
    if (!rc) rc = xb_fit_trains_load(res, results_path, &trains, err);
    if (!rc && np == 0 && ld.ndr == 0 && xb_update_set_count(trains) == 0)
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
    xb_char_results_close(res); /* everything is loaded (prov was its last use) */
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
        /* the held-out error by input distribution, against the native engine; the seed
         * from the configuration: the same circuit gets the same inputs in any campaign */
        if (!rc) {
            const xb_array_params *c = &q->p;
            uint64_t seed = 0x19f17ULL ^ ((uint64_t)c->rows << 40) ^ ((uint64_t)c->cols << 20) ^
                            (uint64_t)llround(1e6 * (c->r_wire_row_ohm + 3 * c->r_wire_col_ohm)) ^
                            ((uint64_t)c->device << 60) ^ ((uint64_t)c->cell << 56);
            rc = xb_fit_heldout_inputs(c, &ms[nm], seed, &met, err);
            if (rc) {
                xb_error_prefix(err, "%s:/points/%s: held-out inputs: ", results_path, q->name);
                break;
            }
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
    if (!rc && ld.ndr > 0) rc = xb_fit_drift(mf, ld.drift, ld.ndr, &sum->n_drift_devices, err);
    if (!rc) rc = xb_fit_trains_fit(trains, o ? o->update_law : XB_UPDATE_AUTO, mf, sum, err);
    xb_update_set_free(trains);
    /* the model file is written to model_path only now, in one piece (xb_h5_create_atomic):
     * a failed fit never leaves a half-written file nor replaces an existing one */
    if (mf >= 0 && rc) xb_h5_discard(mf);
    else if (mf >= 0) rc = xb_h5_close(mf, err);
    loaded_free(&ld);
    free(ms);
    free(mpts);
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
