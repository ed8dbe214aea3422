/* PCM drift and read-noise statistics from repeated reads after programming
 * (input /points/<p>/drift, docs/hdf5-model.md "Drift records").
 *
 * Per device i: nu_i from the least-squares slope of log g_i(t) against log(t/t0) (positive
 * reads), then the amplitude A_i = mean of g_i(t) (t/t0)^nu_i and the relative residual
 * g_i(t) (t/t0)^nu_i / A_i - 1 (linear domain: unbiased for large noise, reads <= 0 kept):
 * the relative read noise, modelled as in the IBM PCM
 * statistical model (Nandakumar et al., ICECS 2019; Joshi et al., Nat. Commun. 11, 2473, 2020;
 * docs/physics.md "PCM drift and read-noise statistics"): sigma_rel(t) = Q * sqrt(ln((t + t_r)/(2 t_r))),
 * t_r = 250 ns.  Lines in x = ln(G/g_max): nu_mean = a0 + a1 x and ln Q = c0 + c1 x by least
 * squares over all devices; nu_std = b0 + b1 x over equal-count bins of the spread about
 * the mean line, minus the part the read noise adds to each slope estimate. */
#include <gsl/gsl_sf_psi.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fit/fit_internal.h"

#define T_READ_NOISE_S 250e-9 /* IBM PCM model t_read (aihwkit pcm.py) */

typedef struct {
    double x;
    size_t i;
} keyed;

static int cmp_keyed(const void *a, const void *b)
{
    double x = ((const keyed *)a)->x, y = ((const keyed *)b)->x;
    return (x > y) - (x < y);
}

int xb_fit_drift(hid_t f, const xb_fit_drift_data *d, size_t nd, size_t *n_fitted, xb_error *err)
{
    *n_fitted = 0;
    size_t total = 0;
    double g_max = 0;
    for (size_t k = 0; k < nd; k++) {
        total += d[k].n;
        g_max = fmax(g_max, d[k].g_max_siemens);
    }
    if (total < 16 || !(g_max > 0)) return XB_OK;
    enum { NB = 8 };
    /* per device: x, nu, residual variance, noise shape factor, Sxx */
    double *xs = malloc(total * sizeof *xs), *nus = malloc(total * sizeof *nus);
    double *qs = malloc(total * sizeof *qs), *vslope = malloc(total * sizeof *vslope);
    int rc = XB_OK;
    if (!xs || !nus || !qs || !vslope) {
        rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
        goto done;
    }
    size_t m = 0;
    double xmin = INFINITY, xmax = -INFINITY, t0_all = INFINITY;
    for (size_t k = 0; k < nd; k++) {
        const xb_fit_drift_data *q = &d[k];
        size_t T = q->T;
        double t0 = q->t_s[0];
        t0_all = fmin(t0_all, t0);
        double lt[64], w[64], lbar = 0, sxx = 0, wsum = 0;
        for (size_t t = 0; t < T; t++) {
            lt[t] = log(q->t_s[t] / t0);
            w[t] = sqrt(log((q->t_s[t] + T_READ_NOISE_S) / (2 * T_READ_NOISE_S)));
            lbar += lt[t];
            wsum += w[t] * w[t];
        }
        lbar /= (double)T;
        for (size_t t = 0; t < T; t++) sxx += (lt[t] - lbar) * (lt[t] - lbar);
        if (!(sxx > 0)) continue;
        for (size_t i = 0; i < q->n; i++) {
            /* slope from the positive reads (log domain) */
            double sl = 0, sy = 0, sll = 0, sly = 0;
            size_t tp = 0;
            for (size_t t = 0; t < T; t++) {
                double gt = q->g[t * q->n + i];
                if (!(gt > 0)) continue;
                double y = log(gt);
                sl += lt[t];
                sy += y;
                sll += lt[t] * lt[t];
                sly += lt[t] * y;
                tp++;
            }
            double den = (double)tp * sll - sl * sl;
            if (tp < 3 || !(den > 0)) continue;
            double nu = -((double)tp * sly - sl * sy) / den;
            /* amplitude and relative noise in the linear domain (unbiased for large noise,
             * reads <= 0 included): u_t = g_t (t/t0)^nu = A (1 + noise) */
            /* read noise: Gauss-Newton fit of g_t = A exp(-nu_l lt) in the linear domain
             * (weights 1/w_t), started from the log-domain fit, then the relative residual */
            double amp = 0, nu_l = nu, ss = 0;
            for (size_t t = 0; t < T; t++) amp += q->g[t * q->n + i] * exp(nu * lt[t]);
            amp /= (double)T;
            if (!(amp > 0)) continue;
            double jaa = 0, jan = 0, jnn = 0;
            for (int it = 0; it < 8; it++) {
                double ra = 0, rn = 0;
                jaa = jan = jnn = 0;
                for (size_t t = 0; t < T; t++) {
                    double e = exp(-nu_l * lt[t]), ww = 1.0 / (w[t] * w[t]);
                    double res = q->g[t * q->n + i] - amp * e, da = e, dn = -lt[t] * amp * e;
                    jaa += ww * da * da;
                    jan += ww * da * dn;
                    jnn += ww * dn * dn;
                    ra += ww * da * res;
                    rn += ww * dn * res;
                }
                double det = jaa * jnn - jan * jan;
                if (!(fabs(det) > 0)) break;
                amp += (jnn * ra - jan * rn) / det;
                nu_l += (jaa * rn - jan * ra) / det;
            }
            if (!(amp > 0) || !isfinite(nu_l)) continue;
            for (size_t t = 0; t < T; t++) {
                double r = q->g[t * q->n + i] / (amp * exp(-nu_l * lt[t])) - 1;
                ss += r * r;
            }
            double q2 = ss / wsum * (double)T / (double)(T - 2);
            /* variance of this slope estimate from its own log-domain residuals (OLS) */
            double yb = sy / (double)tp, lb = sl / (double)tp, rss = 0;
            for (size_t t = 0; t < T; t++) {
                double gt = q->g[t * q->n + i];
                if (!(gt > 0)) continue;
                double e = log(gt) - (yb - nu * (lt[t] - lb));
                rss += e * e;
            }
            double sxx_p = sll - sl * sl / (double)tp;
            double vs = rss / (double)(tp - 2) / sxx_p;
            xs[m] = log(amp / g_max);
            nus[m] = nu;
            qs[m] = q2;
            vslope[m] = vs;
            xmin = fmin(xmin, xs[m]);
            xmax = fmax(xmax, xs[m]);
            m++;
        }
    }
    if (m < 16 || !(xmax > xmin)) goto done;
    {
        /* nu_mean and ln Q: least squares over all devices.  ln of a chi-square variance
         * estimate with k dof is biased by psi(k/2) - ln(k/2): removed. */
        double ca[2], cb[2], cc[2], r2a, r2b = 0, r2c;
        size_t kdof = d[0].T - 2;
        double lnbias = gsl_sf_psi(0.5 * (double)kdof) - log(0.5 * (double)kdof);
        double *ly = malloc(m * sizeof *ly);
        if (!ly) {
            rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
            goto done;
        }
        for (size_t i = 0; i < m; i++) ly[i] = 0.5 * (log(fmax(qs[i], 1e-300)) - lnbias);
        rc = xb_fit_poly(xs, nus, m, 1, ca, &r2a, NULL, err);
        if (!rc) rc = xb_fit_poly(xs, ly, m, 1, cc, &r2c, NULL, err);
        free(ly);
        if (rc) goto done;
        /* nu spread: per equal-count bin, variance of nu about the mean line minus the
         * variance each slope estimate carries from the read noise */
        double bx[NB], bstd[NB];
        size_t nb = 0;
        keyed *ord = malloc(m * sizeof *ord);
        if (!ord) {
            rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
            goto done;
        }
        for (size_t i = 0; i < m; i++) ord[i] = (keyed){xs[i], i};
        qsort(ord, m, sizeof *ord, cmp_keyed);
        for (int b = 0; b < NB; b++) {
            size_t i0 = m * (size_t)b / NB, i1 = m * (size_t)(b + 1) / NB;
            double s2 = 0, sv = 0, sx = 0;
            size_t c = i1 - i0;
            for (size_t r = i0; r < i1; r++) {
                size_t i = ord[r].i;
                double dv = nus[i] - (ca[0] + ca[1] * xs[i]);
                s2 += dv * dv;
                sv += vslope[i];
                sx += xs[i];
            }
            if (c < 8) continue;
            bx[nb] = sx / (double)c;
            bstd[nb] = sqrt(fmax(s2 / (double)c - sv / (double)c, 0));
            nb++;
        }
        free(ord);
        if (nb >= 2) rc = xb_fit_poly(bx, bstd, nb, 1, cb, &r2b, NULL, err);
        else cb[0] = cb[1] = 0;
        if (rc) goto done;
        hid_t g;
        rc = xb_h5_group_create(f, "stats/pcm_drift", &g, err);
        if (rc) goto done;
        hsize_t d2 = 2, dn = nb;
        double vr[2] = {g_max * exp(xmin), g_max * exp(xmax)}, n_dev = (double)m;
        rc = xb_h5_write_doubles(g, "nu_mean_coef", 1, &d2, ca, "1", err);
        if (!rc) rc = xb_h5_write_doubles(g, "nu_std_coef", 1, &d2, cb, "1", err);
        if (!rc) rc = xb_h5_write_doubles(g, "log_q_coef", 1, &d2, cc, "1", err);
        if (!rc) rc = xb_h5_write_doubles(g, "g_ref_siemens", 0, NULL, &g_max, "S", err);
        if (!rc) rc = xb_h5_write_doubles(g, "t0_s", 0, NULL, &t0_all, "s", err);
        {
            double tr = T_READ_NOISE_S;
            if (!rc) rc = xb_h5_write_doubles(g, "t_read_noise_s", 0, NULL, &tr, "s", err);
        }
        if (!rc) rc = xb_h5_write_doubles(g, "valid_g_siemens", 1, &d2, vr, "S", err);
        if (!rc) rc = xb_h5_write_doubles(g, "n_devices", 0, NULL, &n_dev, "1", err);
        if (!rc) rc = xb_h5_write_doubles(g, "bin_x", 1, &dn, bx, "1", err);
        if (!rc) rc = xb_h5_write_doubles(g, "bin_nu_std", 1, &dn, bstd, "1", err);
        double r2s[3] = {r2a, r2b, r2c};
        hsize_t d3 = 3;
        if (!rc) rc = xb_h5_write_doubles(g, "r2", 1, &d3, r2s, "1", err);
        if (!rc)
            rc = xb_h5_attr_set_string(g, ".", "form",
                                       "x = ln(G0/g_ref); G(t) = G0 (t/t0)^-nu, nu ~ N(nu_mean_coef[0] + "
                                       "nu_mean_coef[1] x, (nu_std_coef[0] + nu_std_coef[1] x)^2); read noise "
                                       "sigma/G = exp(log_q_coef[0] + log_q_coef[1] x) sqrt(ln((t + t_r)/(2 t_r)))",
                                       err);
        xb_h5_group_close(g);
        if (!rc) *n_fitted = m;
    }
done:
    free(xs);
    free(nus);
    free(qs);
    free(vslope);
    return rc;
}
