/* Pulse-update models (src/fit/update.c, docs/fit.md "Update models"): the fit recovers
 * known laws from synthetic pulse trains drawn here from closed forms with known
 * cycle-to-cycle and device-to-device noise, to tolerances derived from the sample size
 * (below); the tabulated datasets equal the law evaluated here from the stored parameters;
 * bounds, simulation, the file reader and bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/xb_test.h"
#include "xbar/fit.h"
#include "xbar/h5.h"

/* Every test tolerance below is Z standard errors of the estimate, the standard error
 * computed here from the synthetic design and noise: |estimate - truth| > 4.5 SE has a
 * probability of 7e-6 for a Gaussian estimate (the estimates are averages of hundreds to
 * thousands of steps). */
#define Z 4.5

/* ------------------------------------------------------------------ synthetic trains */
/* Soft-bounds law f_up(G) = au (bu - G), f_down(G) = -ad (G - bd) (aihwkit SoftBounds with
 * free bounds), or the exponential law f_up = au exp(-bu (G - lo)/W0), f_down =
 * -ad exp(-bd (hi - G)/W0).  The change of one pulse is f (1 + rel xi) + abs eta. */
typedef struct {
    int exp_law;
    double au, bu, ad, bd; /* soft bounds: rates (1/pulse) and bounds (S); exp: amplitudes (S) and exponents */
    double lo, hi;         /* exp: the generator's normalisation */
    double hard_hi;        /* > 0: a hard bound (G clipped there) */
    double hard_d2d;       /* > 0: device k's hard bound is hard_hi (1 + hard_d2d z_k), z_k ~ N(0, 1) */
} law_def;

static double law_f(const law_def *L, double au, double ad, double g, int dir)
{
    if (!L->exp_law) return dir > 0 ? au * (L->bu - g) : -ad * (g - L->bd);
    const double W0 = L->hi - L->lo;
    return dir > 0 ? au * exp(-L->bu * (g - L->lo) / W0) : -ad * exp(-L->bd * (L->hi - g) / W0);
}

typedef struct {
    size_t D, S, K;          /* devices, starts, slots per train */
    double *g, *e;           /* D*S x (K+1), D*S x K */
    int *dir;                /* K (every train the same slots) */
    unsigned char *held;     /* K */
    double *au_d, *ad_d;     /* each device's true rates / amplitudes */
    double *hh_d;            /* each device's hard bound (law_def hard_hi, hard_d2d) */
    xb_update_train *tr;
    xb_update_data data;
} synth;

/* D devices x starts g0[]: cycles x (n up, n down), the last cycle held out.  Device k's
 * rates are au (1 + d2d z) and ad (1 + d2d z') (a Gaussian device-to-device spread). */
static void synth_make(synth *s, const law_def *L, size_t D, const double *g0, size_t S, size_t cycles, size_t n,
                       double d2d, double rel, double abs_s, unsigned long seed)
{
    memset(s, 0, sizeof *s);
    s->D = D;
    s->S = S;
    s->K = cycles * 2 * n;
    const size_t K = s->K;
    s->g = malloc(D * S * (K + 1) * sizeof *s->g);
    s->e = malloc(D * S * K * sizeof *s->e);
    s->dir = malloc(K * sizeof *s->dir);
    s->held = malloc(K);
    s->au_d = malloc(D * sizeof *s->au_d);
    s->ad_d = malloc(D * sizeof *s->ad_d);
    s->hh_d = malloc(D * sizeof *s->hh_d);
    s->tr = calloc(D * S, sizeof *s->tr);
    assert_non_null(s->tr);
    for (size_t k = 0; k < K; k++) {
        s->dir[k] = (k % (2 * n)) < n ? 1 : -1;
        s->held[k] = k >= K - 2 * n;
    }
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    for (size_t d = 0; d < D; d++) {
        s->au_d[d] = L->au * (1 + d2d * gsl_ran_gaussian(r, 1.0));
        s->ad_d[d] = L->ad * (1 + d2d * gsl_ran_gaussian(r, 1.0));
        s->hh_d[d] = L->hard_d2d > 0 ? L->hard_hi * (1 + L->hard_d2d * gsl_ran_gaussian(r, 1.0)) : L->hard_hi;
        for (size_t q = 0; q < S; q++) {
            double *g = s->g + (d * S + q) * (K + 1), gg = g0[q];
            g[0] = gg;
            for (size_t k = 0; k < K; k++) {
                const double f = law_f(L, s->au_d[d], s->ad_d[d], gg, s->dir[k]);
                gg += f * (1 + rel * gsl_ran_gaussian(r, 1.0)) + abs_s * gsl_ran_gaussian(r, 1.0);
                if (L->hard_hi > 0 && gg > s->hh_d[d]) gg = s->hh_d[d];
                g[k + 1] = gg;
                s->e[(d * S + q) * K + k] = (s->dir[k] > 0 ? 1e-12 : 3e-12) * (1 + 0.1 * gsl_rng_uniform(r));
            }
            s->tr[d * S + q] = (xb_update_train){K, g, s->dir, s->e + (d * S + q) * K, s->held, d, q};
        }
    }
    gsl_rng_free(r);
    s->data = (xb_update_data){XB_DEVICE_ECRAM, D * S, s->tr, 1.3, -1.3, 10e-9};
}

static void synth_free(synth *s)
{
    free(s->g);
    free(s->e);
    free(s->dir);
    free(s->held);
    free(s->au_d);
    free(s->ad_d);
    free(s->hh_d);
    free(s->tr);
}

/* ------------------------------------------------------------------ standard errors */
/* The fit's rule, with tol = 1e-3 W (W the pooled window) and the bounds of the pulse's own
 * device (the extremes it reached: dlo, dhi): a pulse from within tol of the bound it pushes
 * against that moves G by no more than tol (held), or one that ends within tol of it
 * (stopped part-way: censored), is the bound, not a step of the law. */
static int at_bound(double g0, double g1, int dir, double tol, double dlo, double dhi)
{
    const int held = fabs(g1 - g0) <= tol && (dir > 0 ? g0 >= dhi - tol : g0 <= dlo + tol);
    return held || (dir > 0 ? g1 >= dhi - tol : g1 <= dlo + tol);
}

/* The extremes of device d's reads over its trains. */
static void dev_extremes(const synth *s, size_t d, double *dlo, double *dhi)
{
    *dlo = INFINITY;
    *dhi = -INFINITY;
    for (size_t k = 0; k < s->S * (s->K + 1); k++) {
        *dlo = fmin(*dlo, s->g[d * s->S * (s->K + 1) + k]);
        *dhi = fmax(*dhi, s->g[d * s->S * (s->K + 1) + k]);
    }
}

/* Least squares on the knots basis (1 - x, x) of steps with variances v_i: the normal matrix
 * A = X'X and the meat B = X' diag(v) X, accumulated. */
typedef struct {
    double A[3], B[3], Ay[2]; /* symmetric 2x2: [00, 01, 11] */
} ls2;

static void ls2_add(ls2 *a, double x0, double x1, double y, double v)
{
    a->A[0] += x0 * x0;
    a->A[1] += x0 * x1;
    a->A[2] += x1 * x1;
    a->B[0] += v * x0 * x0;
    a->B[1] += v * x0 * x1;
    a->B[2] += v * x1 * x1;
    a->Ay[0] += x0 * y;
    a->Ay[1] += x1 * y;
}

/* beta = A^-1 Ay; covariance A^-1 B A^-1 (the sandwich: heteroscedastic noise). */
static void ls2_solve(const ls2 *a, double beta[2], double cov[3])
{
    const double det = a->A[0] * a->A[2] - a->A[1] * a->A[1];
    const double i0 = a->A[2] / det, i1 = -a->A[1] / det, i2 = a->A[0] / det;
    beta[0] = i0 * a->Ay[0] + i1 * a->Ay[1];
    beta[1] = i1 * a->Ay[0] + i2 * a->Ay[1];
    /* M = Ainv B Ainv */
    const double m00 = i0 * a->B[0] + i1 * a->B[1], m01 = i0 * a->B[1] + i1 * a->B[2];
    const double m10 = i1 * a->B[0] + i2 * a->B[1], m11 = i1 * a->B[1] + i2 * a->B[2];
    cov[0] = m00 * i0 + m01 * i1;
    cov[1] = m00 * i1 + m01 * i2;
    cov[2] = m10 * i1 + m11 * i2;
}

/* ------------------------------------------------------------------ recovery */
/* Soft-bounds law, 60 devices x 2 start states x 3 cycles of 60 up + 60 down pulses, 10 %
 * device-to-device spread of the rates, 20 % multiplicative cycle-to-cycle noise (aihwkit's
 * dw_min_std form).  Expected values and their standard errors from the realised design:
 *  - each device's law (s0, s1) = (f_d(g_min), f_d(g_max)) is a least-squares line through
 *    its ~360 steps per direction with variances (0.2 f_d)^2: sandwich covariance;
 *  - the pooled law is the design-weighted mean (sum A_d)^-1 sum A_d beta_d of the device
 *    laws with covariance (sum A)^-1 (sum B) (sum A)^-1;
 *  - c2c: r^2 regressed on (1, f^2) with Var(r^2) = 2 sigma^4 (Gaussian): sandwich SE of
 *    the coefficient rel^2 (truth 0.04) and of abs^2 (truth 0);
 *  - d2d: the spread over devices of the fitted step far from the soft bound (up: s0, down:
 *    s1) = the sample spread of the true ones plus
 *    the fitting noise: Var = V_true + mean(SE^2) within Z sqrt(4 V_true mSE^2/D + 2 mSE^4/D);
 *    against the population (10 %): the sample std has relative SE 1/sqrt(2(D-1)). */
static void check_device_laws(const synth *s, const law_def *L, const xb_update_model *m, double rel, int q, int jd,
                              double *v_true, double *m_se2)
{
    const double lo = m->g_min_siemens, hi = m->g_max_siemens, W = hi - lo;
    const int dir = q == 0 ? 1 : -1;
    ls2 pool;
    memset(&pool, 0, sizeof pool);
    double pool_b[2] = {0, 0}; /* sum A_d beta_d */
    double s0s = 0, s0s2 = 0, se2 = 0;
    size_t worst_ok = 1;
    for (size_t d = 0; d < s->D; d++) {
        ls2 a;
        memset(&a, 0, sizeof a);
        const double au = s->au_d[d], ad = s->ad_d[d];
        double dlo, dhi;
        dev_extremes(s, d, &dlo, &dhi);
        for (size_t t = 0; t < s->S; t++) {
            const double *g = s->g + (d * s->S + t) * (s->K + 1);
            for (size_t k = 0; k < s->K; k++) {
                if (s->dir[k] != dir || at_bound(g[k], g[k + 1], dir, 1e-3 * W, dlo, dhi)) continue;
                const double x = (g[k] - lo) / W, f = law_f(L, au, ad, g[k], dir);
                ls2_add(&a, 1 - x, x, g[k + 1] - g[k], rel * rel * f * f);
                ls2_add(&pool, 1 - x, x, g[k + 1] - g[k], rel * rel * f * f);
            }
        }
        double beta[2], cov[3];
        ls2_solve(&a, beta, cov);
        const double tb[2] = {law_f(L, au, ad, lo, dir), law_f(L, au, ad, hi, dir)};
        const double *fit = (q == 0 ? m->dev_up : m->dev_down) + d * m->n_params;
        for (int j = 0; j < 2; j++) {
            const double se = sqrt(cov[j ? 2 : 0]);
            if (fabs(fit[j] - tb[j]) > Z * se) {
                fprintf(stderr, "device %zu dir %d s%d: fitted %.6g true %.6g SE %.3g\n", d, dir, j, fit[j], tb[j], se);
                worst_ok = 0;
            }
            /* the design's own least-squares solution agrees with the fit's */
            assert_true(fabs(fit[j] - beta[j]) <= 1e-9 * fabs(tb[j]) + 1e-18);
        }
        pool_b[0] += a.A[0] * tb[0] + a.A[1] * tb[1];
        pool_b[1] += a.A[1] * tb[0] + a.A[2] * tb[1];
        s0s += tb[jd];
        s0s2 += tb[jd] * tb[jd];
        se2 += cov[jd ? 2 : 0];
    }
    assert_true(worst_ok);
    /* the pooled law against the design-weighted mean of the device laws */
    ls2 pe = pool;
    pe.Ay[0] = pool_b[0];
    pe.Ay[1] = pool_b[1];
    double expect[2], cov[3];
    ls2_solve(&pe, expect, cov);
    const double *pp = q == 0 ? m->up : m->down;
    for (int j = 0; j < 2; j++) {
        const double se = sqrt(cov[j ? 2 : 0]);
        fprintf(stderr, "pooled %s s%d: fitted %.6g expected %.6g (SE %.2g, %.2f SE)\n", q ? "down" : "up", j, pp[j],
                expect[j], se, (pp[j] - expect[j]) / se);
        assert_true(fabs(pp[j] - expect[j]) <= Z * se);
    }
    const double D = (double)s->D;
    *v_true = (s0s2 - s0s * s0s / D) / (D - 1);
    *m_se2 = se2 / D;
}

static void test_softbounds_recovery(void **state)
{
    (void)state;
    const law_def L = {0, 0.04, 10e-6, 0.06, 1e-6, 0, 0, 0, 0};
    const double g0[2] = {3e-6, 7e-6}, rel = 0.2, d2d = 0.10;
    synth s;
    synth_make(&s, &L, 60, g0, 2, 3, 60, d2d, rel, 0, 11);
    xb_update_model m;
    xb_error err;
    assert_int_equal(xb_fit_update(&s.data, XB_UPDATE_SOFTBOUNDS, &m, &err), XB_OK);
    assert_int_equal(m.law, XB_UPDATE_SOFTBOUNDS);
    assert_int_equal(m.n_devices, 60);
    /* bounds: the extremes of the reads */
    double lo = INFINITY, hi = -INFINITY;
    for (size_t k = 0; k < s.D * s.S * (s.K + 1); k++) {
        lo = fmin(lo, s.g[k]);
        hi = fmax(hi, s.g[k]);
    }
    assert_true(m.g_min_siemens == lo && m.g_max_siemens == hi);
    for (int q = 0; q < 2; q++) {
        /* d2d of the step far from the soft bound: up at g_min (s0), down at g_max (s1) */
        const int jd = q;
        double v_true, mse2;
        check_device_laws(&s, &L, &m, rel, q, jd, &v_true, &mse2);
        const double fit_sd = q == 0 ? m.d2d_up_std[jd] : m.d2d_down_std[jd];
        const double D = (double)s.D, tol = Z * sqrt(4 * v_true * mse2 / D + 2 * mse2 * mse2 / D);
        fprintf(stderr, "d2d %s s%d: fitted std %.4g, true sample std %.4g (+fit noise %.3g), tol %.3g\n", q ? "down" : "up", jd,
                fit_sd, sqrt(v_true), sqrt(mse2), tol);
        assert_true(fabs(fit_sd * fit_sd - v_true - mse2) <= tol);
        /* against the population: the step = rate_d x (distance to the bound), the rate's 10 % spread */
        const double s0_mean = q == 0 ? L.au * (L.bu - lo) : -L.ad * (hi - L.bd);
        const double rel_sd = fit_sd / fabs(s0_mean);
        assert_true(fabs(rel_sd / d2d - 1) <= Z / sqrt(2 * (D - 1)));
    }
    /* c2c: r^2 = c0 + c1 f^2 with f the device law; expected c1 = rel^2, c0 = 0.  The
     * coefficients' sandwich SE with Var(r^2) = 2 (rel f)^4 over the fitted steps. */
    for (int q = 0; q < 2; q++) {
        const int dir = q ? -1 : 1;
        double A[3] = {0}, B[3] = {0};
        for (size_t d = 0; d < s.D; d++) {
            double dlo, dhi;
            dev_extremes(&s, d, &dlo, &dhi);
            const double tol = 1e-3 * (hi - lo);
            for (size_t t = 0; t < s.S; t++) {
                const double *g = s.g + (d * s.S + t) * (s.K + 1);
                for (size_t k = 0; k < s.K; k++) {
                    if (s.dir[k] != dir || at_bound(g[k], g[k + 1], dir, tol, dlo, dhi)) continue;
                    const double f = law_f(&L, s.au_d[d], s.ad_d[d], g[k], dir), f2 = f * f;
                    const double v = 2 * pow(rel * rel * f2, 2);
                    A[0] += 1;
                    A[1] += f2;
                    A[2] += f2 * f2;
                    B[0] += v;
                    B[1] += v * f2;
                    B[2] += v * f2 * f2;
                }
            }
        }
        ls2 c = {{A[0], A[1], A[2]}, {B[0], B[1], B[2]}, {0, 0}};
        double beta[2], cov[3];
        ls2_solve(&c, beta, cov);
        const double c1 = pow(q ? m.c2c_down_rel : m.c2c_up_rel, 2), c0 = pow(q ? m.c2c_down_abs_siemens : m.c2c_up_abs_siemens, 2);
        fprintf(stderr, "c2c %s: rel %.4f (truth %.2f, SE of rel^2 %.2g), abs %.3g S (SE of abs^2 %.2g)\n",
                q ? "down" : "up", sqrt(c1), rel, sqrt(cov[2]), sqrt(c0), sqrt(cov[0]));
        assert_true(fabs(c1 - rel * rel) <= Z * sqrt(cov[2]));
        assert_true(c0 <= Z * sqrt(cov[0]));
    }
    /* energies: the mean of the recorded energies, up and down apart */
    double su = 0, sd = 0;
    size_t nu = 0, nd = 0;
    for (size_t t = 0; t < s.D * s.S; t++)
        for (size_t k = 0; k < s.K; k++) {
            if (s.dir[k] > 0) { su += s.e[t * s.K + k]; nu++; }
            else { sd += s.e[t * s.K + k]; nd++; }
        }
    assert_true(fabs(m.energy_up_joule - su / (double)nu) <= 1e-12 * su / (double)nu);
    assert_true(fabs(m.energy_down_joule - sd / (double)nd) <= 1e-12 * sd / (double)nd);
    assert_int_equal(m.n_heldout_slots, s.D * s.S * 2 * 60);
    xb_fit_update_clear(&m);
    synth_free(&s);
}

/* State-dependent cycle-to-cycle noise (the binned sigma, fit.h): a constant step of 0.2 uS
 * with additive noise whose sd grows linearly from 0.01 to 0.05 uS over the 8 uS the trains
 * span, which no sqrt(abs^2 + (rel f)^2) law can follow (f is constant).  Per state bin the
 * fitted spread (c2c_bin_*_siemens) and the model's sigma at the bin's steps equal the true
 * noise sd over those steps (computed here from the generator) within Z standard errors of
 * an rms of n Gaussian residuals (sd / sqrt(2 n)); the law alone is off by more than that in
 * the outer bins (the test can fail); a model without the state factor (version-1 files) is
 * the law. */
static double bins_true_sd(double g) { return 0.01e-6 + 0.04e-6 * fmin(fmax((g - 1e-6) / 8e-6, 0.0), 1.0); }

static void test_c2c_state_bins(void **state)
{
    (void)state;
    const size_t D = 24, cycles = 3, n = 40, K = cycles * 2 * n;
    double *g = malloc(D * (K + 1) * sizeof *g);
    int *dir = malloc(K * sizeof *dir);
    unsigned char *held = malloc(K);
    xb_update_train *tr = calloc(D, sizeof *tr);
    assert_true(g && dir && held && tr);
    for (size_t k = 0; k < K; k++) {
        dir[k] = (k % (2 * n)) < n ? 1 : -1;
        held[k] = k >= K - 2 * n;
    }
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 23);
    for (size_t d = 0; d < D; d++) {
        double *gd = g + d * (K + 1), gg = 1e-6;
        gd[0] = gg;
        for (size_t k = 0; k < K; k++) {
            gg += dir[k] * 0.2e-6 + bins_true_sd(gg) * gsl_ran_gaussian(r, 1.0);
            gd[k + 1] = gg;
        }
        tr[d] = (xb_update_train){K, gd, dir, NULL, held, d, 0};
    }
    gsl_rng_free(r);
    const xb_update_data data = {XB_DEVICE_ECRAM, D, tr, 1.3, -1.3, 10e-9};
    xb_update_model m;
    xb_error err;
    assert_int_equal(xb_fit_update(&data, XB_UPDATE_SOFTBOUNDS, &m, &err), XB_OK);
    assert_int_equal(m.c2c_binned, 1);
    const double W = m.g_max_siemens - m.g_min_siemens, tol_g = 1e-3 * W;
    size_t checked = 0, law_off = 0;
    for (int q = 0; q < 2; q++) {
        const int dq = q ? -1 : 1;
        double t2[XB_UPDATE_C2C_BINS] = {0}, m2[XB_UPDATE_C2C_BINS] = {0}, l2[XB_UPDATE_C2C_BINS] = {0};
        size_t nb[XB_UPDATE_C2C_BINS] = {0};
        xb_update_model law_only = m;
        law_only.c2c_binned = 0;
        for (size_t d = 0; d < D; d++) {
            const double *gd = g + d * (K + 1);
            double dlo = INFINITY, dhi = -INFINITY;
            for (size_t k = 0; k <= K; k++) dlo = fmin(dlo, gd[k]), dhi = fmax(dhi, gd[k]);
            for (size_t k = 0; k < K; k++) {
                if (dir[k] != dq || at_bound(gd[k], gd[k + 1], dq, tol_g, dlo, dhi)) continue;
                int b = (int)((gd[k] - m.g_min_siemens) / W * XB_UPDATE_C2C_BINS);
                b = b < 0 ? 0 : b >= XB_UPDATE_C2C_BINS ? XB_UPDATE_C2C_BINS - 1 : b;
                t2[b] += pow(bins_true_sd(gd[k]), 2);
                m2[b] += pow(xb_fit_update_sigma(&m, gd[k], dq), 2);
                l2[b] += pow(xb_fit_update_sigma(&law_only, gd[k], dq), 2);
                nb[b]++;
            }
        }
        for (int b = 0; b < XB_UPDATE_C2C_BINS; b++) {
            const size_t nfit = q ? m.c2c_bin_down_n[b] : m.c2c_bin_up_n[b];
            assert_int_equal(nfit, nb[b]);
            if (nb[b] < XB_UPDATE_C2C_BIN_MIN) continue;
            const double truth = sqrt(t2[b] / (double)nb[b]), tol = Z * truth / sqrt(2.0 * (double)nb[b]);
            const double binned = q ? m.c2c_bin_down_siemens[b] : m.c2c_bin_up_siemens[b];
            const double model = sqrt(m2[b] / (double)nb[b]), law = sqrt(l2[b] / (double)nb[b]);
            fprintf(stderr, "%s bin %d (%zu steps): true sd %.4g, binned %.4g, model sigma %.4g, law alone %.4g, tol %.2g\n",
                    q ? "down" : "up", b, nb[b], truth, binned, model, law, tol);
            assert_true(fabs(binned - truth) <= tol);
            /* the model interpolates the bins linearly: within the bin's tolerance and the
             * change of the true sd over half a bin (0.04 uS / 16) */
            assert_true(fabs(model - truth) <= tol + 0.04e-6 / 16);
            law_off += fabs(law - truth) > tol;
            checked++;
        }
    }
    assert_true(checked >= 12);
    assert_true(law_off >= 4);
    /* written and read back: the same sigma everywhere (the file's state factor) */
    char *dir_t = xb_test_tmpdir("update-bins");
    char path[1024];
    snprintf(path, sizeof path, "%s/m.h5", dir_t);
    hid_t f;
    assert_int_equal(xb_h5_create(path, 1, &f, &err), XB_OK);
    assert_int_equal(xb_fit_update_write(f, &m, "/points/p00000", &err), XB_OK);
    xb_h5_close(f, NULL);
    xb_update_model *rd = NULL;
    size_t nr = 0;
    assert_int_equal(xb_fit_update_read_all(path, &rd, &nr, &err), XB_OK);
    assert_int_equal(nr, 1);
    assert_int_equal(rd[0].c2c_binned, 1);
    for (int k = 0; k <= 64; k++) {
        const double gk = m.g_min_siemens + W * k / 64.0;
        assert_true(fabs(xb_fit_update_sigma(&rd[0], gk, 1) - xb_fit_update_sigma(&m, gk, 1)) <= 1e-12 * W);
        assert_true(fabs(xb_fit_update_sigma(&rd[0], gk, -1) - xb_fit_update_sigma(&m, gk, -1)) <= 1e-12 * W);
    }
    xb_fit_update_free_all(rd, nr);
    /* the same group as a version-1 file wrote it (no state factor, no bin counts): it
     * loads, and its sigma is the law's (docs/hdf5-model.md) */
    assert_int_equal(xb_h5_open(path, 1, &f, &err), XB_OK);
    static const char *const v2_only[] = {"bin_up_scale", "bin_down_scale", "bin_up_n", "bin_down_n"};
    for (int j = 0; j < 4; j++) {
        char ds[128];
        snprintf(ds, sizeof ds, "update/ecram/c2c/%s", v2_only[j]);
        assert_int_equal(xb_h5_delete(f, ds, &err), XB_OK);
    }
    assert_int_equal(xb_h5_attr_set_int64(f, "update/ecram", "version", 1, &err), XB_OK);
    assert_int_equal(xb_h5_attr_set_string(f, "update/ecram", "form", "xbar-update-v1", &err), XB_OK);
    xb_h5_close(f, NULL);
    assert_int_equal(xb_fit_update_read_all(path, &rd, &nr, &err), XB_OK);
    assert_int_equal(rd[0].c2c_binned, 0);
    xb_update_model law_only = m;
    law_only.c2c_binned = 0;
    for (int k = 0; k <= 64; k++) {
        const double gk = m.g_min_siemens + W * k / 64.0;
        assert_true(fabs(xb_fit_update_sigma(&rd[0], gk, 1) - xb_fit_update_sigma(&law_only, gk, 1)) <= 1e-12 * W);
    }
    xb_fit_update_free_all(rd, nr);
    xb_test_tmpdir_remove(dir_t);
    xb_fit_update_clear(&m);
    free(g);
    free(dir);
    free(held);
    free(tr);
}

/* An exponential-step device (Querlioz 2013 form, exponents 3): the held-out trajectories
 * choose the exponential law over the soft-bounds line; its parameters, transformed to the
 * window the fit normalises by (f_up = a exp(-b x), x over [g_min, g_max]: b = bu W/W0,
 * a = au exp(-bu (g_min - lo)/W0)), recovered.  5 % multiplicative noise on ~8000 steps per
 * direction: the least-squares exponent has SE < 0.01; checked to 3 %. */
static void test_exp_law_chosen(void **state)
{
    (void)state;
    const law_def L = {1, 0.3e-6, 3.0, 0.4e-6, 3.0, 1e-6, 10e-6, 0, 0};
    const double g0[2] = {2e-6, 6e-6};
    synth s;
    synth_make(&s, &L, 20, g0, 2, 3, 35, 0.0, 0.05, 0, 5);
    xb_update_model m;
    xb_error err;
    assert_int_equal(xb_fit_update(&s.data, XB_UPDATE_AUTO, &m, &err), XB_OK);
    fprintf(stderr, "held-out trajectory error: softbounds %.4f exp %.4f pwl %.4f -> %s\n", m.heldout_traj_rel[0],
            m.heldout_traj_rel[1], m.heldout_traj_rel[2], xb_update_law_name(m.law));
    assert_int_equal(m.law, XB_UPDATE_EXP);
    assert_true(m.heldout_traj_rel[XB_UPDATE_EXP] < m.heldout_traj_rel[XB_UPDATE_SOFTBOUNDS]);
    const double W0 = L.hi - L.lo, W = m.g_max_siemens - m.g_min_siemens;
    const double bu = L.bu * W / W0, au = L.au * exp(-L.bu * (m.g_min_siemens - L.lo) / W0);
    const double bd = L.bd * W / W0, ad = L.ad * exp(-L.bd * (L.hi - m.g_max_siemens) / W0);
    fprintf(stderr, "exp law: a %.4g/%.4g (true %.4g/%.4g), b %.4f/%.4f (true %.4f/%.4f)\n", m.up[0], m.down[0], au, ad,
            m.up[1], m.down[1], bu, bd);
    assert_true(fabs(m.up[0] / au - 1) < 0.03 && fabs(m.down[0] / ad - 1) < 0.03);
    assert_true(fabs(m.up[1] / bu - 1) < 0.03 && fabs(m.down[1] / bd - 1) < 0.03);
    xb_fit_update_clear(&m);
    synth_free(&s);
}

/* A hard upper bound H (G clipped there; constant up steps c = 0.5 uS, ECRAM-like) with
 * additive noise sigma = 0.02 uS.  Pulses that start at H and stay there, and pulses that end
 * at H (within tol = 1e-3 W: stopped part-way, a censored step), are the bound: left out
 * (counted).  A kept pulse from G0 is one with G0 + c + sigma xi < H - tol, so its expected
 * change is the truncated-Gaussian mean mu - sigma phi(a)/Phi(a) - G0, a = (H - tol - mu)/sigma,
 * mu = G0 + c, variance sigma^2 (1 - a phi/Phi - (phi/Phi)^2).  The fitted up line is checked
 * against the least-squares line through those expectations (sandwich SE); the zeros at the
 * bound, had they been kept, would pull it far outside. */
static void test_hard_bound(void **state)
{
    (void)state;
    const double c = 0.5e-6, H = 9e-6, sig = 0.02e-6;
    /* the soft-bounds form with small rates: up +c - 1e-3 (G - 5 uS), down -0.1 uS - 1e-3 (G - 5 uS) */
    const law_def L = {0, 1e-3, 5e-6 + c / 1e-3, 1e-3, 5e-6 - 0.1e-6 / 1e-3, 0, 0, H, 0};
    const double g0[1] = {5e-6};
    synth s;
    synth_make(&s, &L, 10, g0, 1, 2, 40, 0, 0, sig, 3);
    xb_update_model m;
    xb_error err;
    assert_int_equal(xb_fit_update(&s.data, XB_UPDATE_SOFTBOUNDS, &m, &err), XB_OK);
    assert_true(fabs(m.g_max_siemens - H) < 1e-18);
    const double lo = m.g_min_siemens, W = H - lo;
    ls2 a;
    memset(&a, 0, sizeof a);
    size_t kept = 0, bound = 0, zeros_kept_would_be = 0;
    double s_unclip = 0;
    for (size_t t = 0; t < s.D * s.S; t++) {
        const double *g = s.g + t * (s.K + 1);
        double dlo, dhi;
        dev_extremes(&s, t / s.S, &dlo, &dhi);
        for (size_t k = 0; k < s.K; k++) {
            if (s.dir[k] != 1) continue;
            if (at_bound(g[k], g[k + 1], 1, 1e-3 * W, dlo, dhi)) {
                bound++;
                zeros_kept_would_be++;
                continue;
            }
            const double mu = g[k] + law_f(&L, L.au, L.ad, g[k], 1), al = (dhi - 1e-3 * W - mu) / sig;
            const double P = gsl_cdf_ugaussian_P(al), ph = gsl_ran_ugaussian_pdf(al), lam = ph / P;
            const double e1 = mu - sig * lam, var = sig * sig * (1 - al * lam - lam * lam);
            const double x = (g[k] - lo) / W;
            ls2_add(&a, 1 - x, x, e1 - g[k], fmax(var, 0));
            s_unclip += law_f(&L, L.au, L.ad, g[k], 1);
            kept++;
        }
    }
    assert_int_equal(m.n_up_bound_steps, bound);
    assert_int_equal(m.n_up_steps, kept);
    assert_true(bound > 100); /* the trains sit at H for many pulses */
    double beta[2], cov[3];
    ls2_solve(&a, beta, cov);
    for (int j = 0; j < 2; j++) {
        const double se = sqrt(cov[j ? 2 : 0]);
        fprintf(stderr, "hard bound: up s%d fitted %.5g, expected %.5g (SE %.2g); %zu pulses at the bound left out\n", j,
                m.up[j], beta[j], se, bound);
        assert_true(fabs(m.up[j] - beta[j]) <= Z * se);
    }
    /* kept zeros would have lowered the mean step by about c x (zeros / all) */
    const double mean_kept = s_unclip / (double)kept;
    assert_true(c * (double)zeros_kept_would_be / (double)(kept + zeros_kept_would_be) > 100 * sqrt(cov[0]));
    assert_true(mean_kept > 0.4e-6);
    /* the model never leaves the window */
    assert_true(xb_fit_update_step(&m, H, 1) == 0);
    xb_fit_update_clear(&m);
    synth_free(&s);
}

/* Devices with their own hard bounds (the highest RRAM conductance differs by ~20 % between
 * Monte Carlo devices): constant steps c up (soft-bounds law with a zero rate), device k
 * clipped at H_k = 9 uS (1 + 0.08 z_k), additive noise.  A pulse held at its own device's
 * bound is the bound even when other devices reach higher: left out, so the pooled up step
 * stays c (had they been kept, as with the pooled window, the zeros would pull it > 30 SE
 * down); the c2c spread leaves out the steps censored at the bound: the additive sigma within
 * 4.5 SE (Var(r^2) = 2 sigma^4) and no relative part; each device simulated without noise
 * from 5 uS reaches exactly min(5 uS + n f_k, H_k) after n pulses (f_k its own fitted step:
 * the closed form of a constant step clipped at that device's bound). */
static void test_device_bounds(void **state)
{
    (void)state;
    const double c = 0.4e-6, sig = 0.02e-6;
    const law_def L = {0, 1e-9, 5e-6 + c / 1e-9, 1e-9, 5e-6 - 0.2e-6 / 1e-9, 0, 0, 9e-6, 0.08};
    const double g0[1] = {5e-6};
    synth s;
    synth_make(&s, &L, 12, g0, 1, 3, 40, 0, 0, sig, 17);
    xb_update_model m;
    xb_error err;
    assert_int_equal(xb_fit_update(&s.data, XB_UPDATE_SOFTBOUNDS, &m, &err), XB_OK);
    const double lo = m.g_min_siemens, hi = m.g_max_siemens, W = hi - lo, tol = 1e-3 * W;
    size_t bound = 0, bound_pooled = 0, kept = 0, nc = 0;
    double sum_dg = 0, r2 = 0;
    for (size_t d = 0; d < s.D; d++) {
        double dlo, dhi;
        dev_extremes(&s, d, &dlo, &dhi);
        assert_true(fabs(m.dev_g_max_siemens[d] - dhi) <= 1e-18 && dhi < s.hh_d[d] + 1e-18);
        const double *g = s.g + d * (s.K + 1);
        for (size_t k = 0; k < s.K; k++) {
            if (s.dir[k] != 1) continue;
            if (at_bound(g[k], g[k + 1], 1, tol, dlo, dhi)) {
                bound++;
                bound_pooled += !at_bound(g[k], g[k + 1], 1, tol, lo, hi);
                continue;
            }
            kept++;
            sum_dg += g[k + 1] - g[k];
            const double e = g[k + 1] - g[k] - c;
            r2 += e * e;
            nc++;
        }
    }
    assert_int_equal(m.n_up_bound_steps, bound);
    assert_int_equal(m.n_up_steps, kept);
    assert_true(bound_pooled > 50); /* held below the pooled maximum: the pooled rule kept them */
    /* the pooled up law: the mean of a constant step (flat in x up to the noise) */
    const double se = sig / sqrt((double)nc);
    fprintf(stderr, "device bounds: up step %.5g .. %.5g (true %.5g, SE of the mean %.2g); %zu held at their device's "
            "bound (%zu below the pooled maximum); kept zeros would give %.5g\n",
            m.up[0], m.up[1], c, se, bound, bound_pooled, (sum_dg) / (double)(kept + bound_pooled));
    const double mid = 0.5 * (m.up[0] + m.up[1]);
    assert_true(fabs(mid - c) <= Z * 2 * se);
    assert_true(c - sum_dg / (double)(kept + bound_pooled) > 30 * se);
    /* c2c: the additive part from the uncensored steps */
    const double s2 = r2 / (double)nc, a2 = m.c2c_up_abs_siemens * m.c2c_up_abs_siemens;
    fprintf(stderr, "device bounds: c2c abs %.4g S (true %.4g, sample %.4g), rel %.3g\n", m.c2c_up_abs_siemens, sig,
            sqrt(s2), m.c2c_up_rel);
    assert_true(fabs(a2 - sig * sig) <= Z * sqrt(2.0 / (double)nc) * sig * sig + 1e-3 * sig * sig);
    /* each device held at its own bound when simulated */
    int dirs[30];
    double gs[31];
    for (int k = 0; k < 30; k++) dirs[k] = 1;
    for (size_t d = 0; d < s.D; d++) {
        assert_int_equal(xb_fit_update_simulate_device(&m, d, 5e-6, dirs, 30, 0, 1, gs, &err), XB_OK);
        double g = 5e-6;
        for (int k = 0; k < 30; k++) {
            g = fmin(g + xb_fit_update_device_step(&m, d, g, 1), m.dev_g_max_siemens[d]);
            assert_true(fabs(gs[k + 1] - g) <= 1e-12 * W);
        }
        assert_true(gs[30] == m.dev_g_max_siemens[d]);
    }
    xb_fit_update_clear(&m);
    synth_free(&s);
}

/* ------------------------------------------------------------------ tables = law */
static double read_scalar(hid_t g, const char *name)
{
    double *v = NULL;
    int rk;
    hsize_t d[4];
    xb_error err;
    assert_int_equal(xb_h5_read_doubles(g, name, &v, &rk, d, &err), XB_OK);
    double x = v[0];
    free(v);
    return x;
}

static double *read_vec(hid_t g, const char *name, size_t n)
{
    double *v = NULL;
    int rk;
    hsize_t d[4];
    xb_error err;
    if (xb_h5_read_doubles(g, name, &v, &rk, d, &err)) fprintf(stderr, "%s\n", err.msg);
    assert_non_null(v);
    size_t tot = 1;
    for (int k = 0; k < rk; k++) tot *= d[k];
    assert_int_equal(tot, n);
    return v;
}

/* The law in the test's own words, from the parameters as stored (law/): the soft-bounds
 * line, the exponential, the piecewise-linear knots; up = +1, down = -1. */
/* k(x) from the stored bin factors, written here from the format's words (hdf5-model.md):
 * linear in x between the bin centres (b + 1/2)/B, the outer values beyond them. */
static double bin_factor(const double *k, double x)
{
    const int B = XB_UPDATE_C2C_BINS;
    if (x <= 0.5 / B) return k[0];
    if (x >= (B - 0.5) / B) return k[B - 1];
    for (int b = 0; b + 1 < B; b++) {
        const double c0 = (b + 0.5) / B, c1 = (b + 1.5) / B;
        if (x <= c1) return k[b] + (k[b + 1] - k[b]) * (x - c0) / (c1 - c0);
    }
    return k[B - 1];
}

static double stored_law(const char *law, const double *p, double x, int dir)
{
    if (strcmp(law, "softbounds") == 0) return p[0] * (1 - x) + p[1] * x;
    if (strcmp(law, "exp") == 0) return dir > 0 ? p[0] * exp(-p[1] * x) : -p[0] * exp(-p[1] * (1 - x));
    double t = (x < 0 ? 0 : x > 1 ? 1 : x) * 5;
    int k = (int)floor(t);
    if (k > 4) k = 4;
    return p[k] + (p[k + 1] - p[k]) * (t - k);
}

static void check_tables(const char *path, const char *dev)
{
    hid_t f, g;
    xb_error err;
    assert_int_equal(xb_h5_open(path, 0, &f, &err), XB_OK);
    char gp[64];
    snprintf(gp, sizeof gp, "update/%s", dev);
    assert_int_equal(xb_h5_group_open(f, gp, &g, &err), XB_OK);
    char *law = NULL;
    assert_int_equal(xb_h5_attr_get_string(g, ".", "law", &law, &err), XB_OK);
    const int is_exp = strcmp(law, "exp") == 0;
    const size_t P = strcmp(law, "pwl") == 0 ? 6 : 2;
    double pu[6], pd[6];
    if (is_exp) {
        pu[0] = read_scalar(g, "law/up_a_siemens");
        pu[1] = read_scalar(g, "law/up_b");
        pd[0] = read_scalar(g, "law/down_a_siemens");
        pd[1] = read_scalar(g, "law/down_b");
    } else {
        double *a = read_vec(g, "law/up_knot_siemens", P), *b = read_vec(g, "law/down_knot_siemens", P);
        memcpy(pu, a, P * sizeof *a);
        memcpy(pd, b, P * sizeof *b);
        free(a);
        free(b);
    }
    const double lo = read_scalar(g, "g_min_siemens"), hi = read_scalar(g, "g_max_siemens"), W = hi - lo;
    const double cua = read_scalar(g, "c2c/up_abs_siemens"), cur = read_scalar(g, "c2c/up_rel");
    const double cda = read_scalar(g, "c2c/down_abs_siemens"), cdr = read_scalar(g, "c2c/down_rel");
    const size_t N = XB_UPDATE_GRID;
    double *gs = read_vec(g, "g_siemens", N), *du = read_vec(g, "dg_up_siemens", N), *dd = read_vec(g, "dg_down_siemens", N);
    double *su = read_vec(g, "sigma_c2c_up_siemens", N), *sd = read_vec(g, "sigma_c2c_down_siemens", N);
    double *xu = read_vec(g, "d2d_dg_up_std_siemens", N);
    /* the state factor of sigma: linear between the bin centres, constant beyond (fit.h) */
    double *ku = read_vec(g, "c2c/bin_up_scale", XB_UPDATE_C2C_BINS), *kd = read_vec(g, "c2c/bin_down_scale", XB_UPDATE_C2C_BINS);
    const size_t D = (size_t)read_scalar(g, "d2d/n_devices");
    double *dev_u = NULL;
    if (is_exp) {
        double *a = read_vec(g, "d2d/up_a_siemens", D), *b = read_vec(g, "d2d/up_b", D);
        dev_u = malloc(2 * D * sizeof *dev_u);
        for (size_t k = 0; k < D; k++) {
            dev_u[2 * k] = a[k];
            dev_u[2 * k + 1] = b[k];
        }
        free(a);
        free(b);
    } else {
        dev_u = read_vec(g, "d2d/up_knot_siemens", D * P);
    }
    double worst = 0;
    for (size_t k = 0; k < N; k++) {
        const double x = (gs[k] - lo) / W;
        assert_true(fabs(gs[k] - (lo + W * (double)k / (double)(N - 1))) <= 1e-15 * hi);
        const double fu = stored_law(law, pu, x, 1), fd = stored_law(law, pd, x, -1);
        const double eu = fmin(fmax(gs[k] + fu, lo), hi) - gs[k], ed = fmin(fmax(gs[k] + fd, lo), hi) - gs[k];
        worst = fmax(worst, fmax(fabs(du[k] - eu), fabs(dd[k] - ed)));
        worst = fmax(worst, fabs(su[k] - bin_factor(ku, x) * sqrt(cua * cua + cur * cur * fu * fu)));
        worst = fmax(worst, fabs(sd[k] - bin_factor(kd, x) * sqrt(cda * cda + cdr * cdr * fd * fd)));
        /* d2d: sample std over the devices' own laws at this state */
        double s = 0, s2 = 0;
        for (size_t d = 0; d < D; d++) {
            const double v = stored_law(law, dev_u + d * P, x, 1);
            s += v;
            s2 += v * v;
        }
        const double sdv = D > 1 ? sqrt(fmax(s2 - s * s / (double)D, 0) / (double)(D - 1)) : 0;
        worst = fmax(worst, fabs(xu[k] - sdv));
    }
    fprintf(stderr, "%s tables (%s) vs the stored law evaluated here: largest difference %.3g S (window %.3g S)\n", dev,
            law, worst, W);
    assert_true(worst <= 1e-12 * W);
    free(gs);
    free(du);
    free(dd);
    free(su);
    free(sd);
    free(xu);
    free(ku);
    free(kd);
    free(dev_u);
    free(law);
    H5Gclose(g);
    xb_h5_close(f, &err);
}

/* Each law forced in turn: /update/ecram written, its tables equal the stored law evaluated
 * here, and the reader returns the same model (its step and sigma agree everywhere). */
static void test_tables_equal_law(void **state)
{
    (void)state;
    char *dir = xb_test_tmpdir("update-tables");
    const law_def Ls = {0, 0.04, 10e-6, 0.06, 1e-6, 0, 0, 0, 0};
    const law_def Le = {1, 0.3e-6, 2.0, 0.4e-6, 2.5, 1e-6, 10e-6, 0, 0};
    const double g0[2] = {3e-6, 7e-6};
    for (int law = 0; law < XB_UPDATE_N_LAWS; law++) {
        synth s;
        synth_make(&s, law == XB_UPDATE_EXP ? &Le : &Ls, 5, g0, 2, 2, 40, 0.1, 0.1, 0, 7 + (unsigned long)law);
        xb_update_model m;
        xb_error err;
        assert_int_equal(xb_fit_update(&s.data, law, &m, &err), XB_OK);
        char path[1024];
        snprintf(path, sizeof path, "%s/m%d.h5", dir, law);
        hid_t f;
        assert_int_equal(xb_fit_file_create(path, 1, NULL, &f, &err), XB_OK);
        assert_int_equal(xb_fit_update_write(f, &m, "/points/p00000", &err), XB_OK);
        assert_int_equal(xb_h5_close(f, &err), XB_OK);
        check_tables(path, "ecram");
        xb_update_model *rd = NULL;
        size_t n = 0;
        if (xb_fit_update_read_all(path, &rd, &n, &err)) fprintf(stderr, "%s\n", err.msg);
        assert_int_equal(n, 1);
        assert_int_equal(rd[0].law, law);
        assert_int_equal(rd[0].n_devices, m.n_devices);
        for (int k = 0; k <= 50; k++) {
            const double gg = m.g_min_siemens + (m.g_max_siemens - m.g_min_siemens) * (k - 5) / 40.0;
            for (int q = -1; q <= 1; q += 2) {
                assert_true(xb_fit_update_step(&rd[0], gg, q) == xb_fit_update_step(&m, gg, q));
                assert_true(xb_fit_update_sigma(&rd[0], gg, q) == xb_fit_update_sigma(&m, gg, q));
                assert_true(xb_fit_update_device_step(&rd[0], 2, gg, q) == xb_fit_update_device_step(&m, 2, gg, q));
            }
        }
        assert_true(rd[0].energy_up_joule == m.energy_up_joule && rd[0].up_volt == 1.3 && rd[0].down_volt == -1.3);
        xb_fit_update_free_all(rd, n);
        xb_fit_update_clear(&m);
        synth_free(&s);
    }
    free(dir);
}

/* The simulator: without noise it iterates the tabulated step; with noise one pulse from
 * G0 over 20000 seeds has mean step(G0) (SE sigma/sqrt(n)) and standard deviation sigma(G0)
 * (SE sigma/sqrt(2n)); the same seed repeats; G stays in the window. */
static void test_simulate(void **state)
{
    (void)state;
    const law_def L = {0, 0.04, 10e-6, 0.06, 1e-6, 0, 0, 0, 0};
    const double g0[1] = {5e-6};
    synth s;
    synth_make(&s, &L, 4, g0, 1, 2, 50, 0.05, 0.15, 0, 9);
    xb_update_model m;
    xb_error err;
    assert_int_equal(xb_fit_update(&s.data, XB_UPDATE_AUTO, &m, &err), XB_OK);
    int dirs[60];
    for (int k = 0; k < 60; k++) dirs[k] = k < 40 ? 1 : (k < 45 ? 0 : -1);
    double a[61], b[61];
    assert_int_equal(xb_fit_update_simulate(&m, 4e-6, dirs, 60, 0, 1, a, &err), XB_OK);
    double gg = 4e-6;
    for (int k = 0; k < 60; k++) {
        gg += xb_fit_update_step(&m, gg, dirs[k]);
        assert_true(a[k + 1] == gg);
    }
    assert_int_equal(xb_fit_update_simulate(&m, 4e-6, dirs, 60, 1, 77, a, &err), XB_OK);
    assert_int_equal(xb_fit_update_simulate(&m, 4e-6, dirs, 60, 1, 77, b, &err), XB_OK);
    assert_memory_equal(a, b, sizeof a);
    for (int k = 0; k <= 60; k++) assert_true(a[k] >= m.g_min_siemens && a[k] <= m.g_max_siemens);
    const size_t n = 20000;
    const int up = 1;
    double s1 = 0, s2 = 0;
    for (size_t r = 0; r < n; r++) {
        double t[2];
        assert_int_equal(xb_fit_update_simulate(&m, 5e-6, &up, 1, 1, 1000 + r, t, &err), XB_OK);
        s1 += t[1] - 5e-6;
        s2 += (t[1] - 5e-6) * (t[1] - 5e-6);
    }
    const double mean = s1 / (double)n, sd = sqrt(s2 / (double)n - mean * mean);
    const double st = xb_fit_update_step(&m, 5e-6, 1), sg = xb_fit_update_sigma(&m, 5e-6, 1);
    fprintf(stderr, "one pulse from 5 uS: mean %.5g (model %.5g), std %.4g (model %.4g)\n", mean, st, sd, sg);
    assert_true(fabs(mean - st) <= Z * sg / sqrt((double)n));
    assert_true(fabs(sd - sg) <= Z * sg / sqrt(2.0 * (double)n));
    /* a device's own law */
    assert_int_equal(xb_fit_update_simulate_device(&m, 1, 4e-6, dirs, 60, 0, 1, a, &err), XB_OK);
    assert_int_equal(xb_fit_update_simulate_device(&m, 99, 4e-6, dirs, 60, 0, 1, a, &err), XB_EINPUT);
    xb_fit_update_clear(&m);
    synth_free(&s);
}

/* ------------------------------------------------------------------ bad input */
static void test_bad_data(void **state)
{
    (void)state;
    xb_update_model m;
    xb_error err;
    assert_int_equal(xb_fit_update(NULL, XB_UPDATE_AUTO, &m, &err), XB_EINPUT);
    double g[4] = {1e-6, 1e-6, 1e-6, 1e-6};
    int dir[3] = {1, 2, -1};
    xb_update_train t = {3, g, dir, NULL, NULL, 0, 0};
    xb_update_data d = {XB_DEVICE_RRAM, 1, &t, 1, -1, 1e-8};
    assert_int_equal(xb_fit_update(&d, XB_UPDATE_AUTO, &m, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "direction 2"));
    dir[1] = 1;
    assert_int_equal(xb_fit_update(&d, XB_UPDATE_AUTO, &m, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "never change G"));
    assert_int_equal(xb_fit_update(&d, 7, &m, &err), XB_EINPUT);
    assert_null(strchr(err.msg, '\n'));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_softbounds_recovery),
        cmocka_unit_test(test_c2c_state_bins),
        cmocka_unit_test(test_exp_law_chosen),
        cmocka_unit_test(test_hard_bound),
        cmocka_unit_test(test_device_bounds),
        cmocka_unit_test(test_tables_equal_law),
        cmocka_unit_test(test_simulate),
        cmocka_unit_test(test_bad_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
