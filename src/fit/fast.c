/* Fast form of a fitted model at one programmed G (include/xbar/fit.h, docs/fit.md):
 *
 *     I ~= sum_p phi_p(V) M_p        (phi_p applied to every input voltage)
 *
 * The basis functions phi_p come from the model's cell read I-V alone: the table
 * F(v, g) = I_cell(g, v) / g over the model's conductance and voltage range has a
 * singular value decomposition whose leading left singular vectors are the phi_p
 * (one function, v shc(v/V0) up to scale, when V0 is the same for every conductance
 * and there is no series element; phi(v) = v for ohmic cells).  The matrices M_p are
 * then fitted by least squares (Householder QR) to the full model's output, IR drop
 * included, on random input vectors, so that one GEMM per term evaluates a tile.  For
 * ohmic cells the full model is linear in V and the fit reproduces it to rounding;
 * otherwise the IR-drop x nonlinearity cross terms are approximated (in part by the cross
 * groups c_i(V) phi_p(v_i) N_p, xb_fit_fast_new_form), and the error is measured on held-out
 * vectors at construction. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cblas.h> /* resolved by OpenBLAS at link time (CMakeLists.txt) */
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>

#include "fit/fit_internal.h"

#define BASIS_NV 1025   /* voltage grid of the basis tables */
#define BASIS_NG 64     /* columns of the SVD table: 32 conductances x (I, v dI/dv) */

struct xb_fit_basis {
    size_t n_terms;
    double v_hi;        /* table range [0, v_hi] */
    double h;           /* grid step */
    double *table;      /* n_terms x BASIS_NV, NULL: ohmic (phi(v) = v) */
    double tail_rel;    /* relative Frobenius norm of the dropped singular values */
};

struct xb_fit_fast {
    const xb_fit_basis *basis;
    size_t n_terms;     /* the first n_terms functions of the basis */
    size_t n_cross;     /* cross groups c_i(V) phi_p(v_i), p < n_cross (xb_fit_fast_new_form) */
    xb_fit_cross_kind kind; /* how c_i(V) weighs the other rows' inputs */
    double xw0, xw1;    /* COLUMN: c_i(V) = xw0 sum_k x_k + xw1 sum_k (rows - max(i,k)) x_k, x = phi_0(v);
                         * SUM: xw1 = 0, c_i = s(V) */
    size_t rows, cols;
    double *m;          /* (n_terms + n_cross) x rows x cols */
    double *rs;         /* (n_terms + n_cross) x rows: sum over the columns of M_g[i][.] */
    double resid_rel;   /* the model's residual read noise (relative) */
    gsl_rng *rng;       /* its stream, NULL = off */
    double err_rel_l2;  /* held-out, vs the full model */
    double err_pairs;   /* the same on differences of column pairs (2j, 2j+1) */
    size_t n_fit;       /* vectors in the least squares */
};

/* The model's cell read current at cell voltage v (as model.c: knot V0, chord at v_read,
 * series divider), without the output gain. */
static double cell_current(const xb_fit_params *m, double g, double v)
{
    const double k = xb_fit_knot_k(m, g), d = 1.0 / (1.0 + g * m->r_series_ohm);
    return g * d / xb_fit_shc(k * m->v_read_volt) * v * xb_fit_shc(k * d * v);
}

int xb_fit_basis_new(const xb_fit_params *m, double tol, size_t max_terms, xb_fit_basis **out, xb_error *err)
{
    *out = NULL;
    int rc = xb_fit_params_check(m, err);
    if (rc) return rc;
    if (!(tol > 0 && tol < 1)) return xb_errorf(err, XB_EINPUT, "basis tolerance: must be in (0, 1), got %g", tol);
    if (max_terms < 1 || max_terms > XB_FIT_FAST_MAX_TERMS)
        return xb_errorf(err, XB_EINPUT, "basis terms: 1 to %d, got %zu", XB_FIT_FAST_MAX_TERMS, max_terms);
    xb_fit_basis *b = calloc(1, sizeof *b);
    if (!b) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    b->v_hi = fmax(m->valid_v_max_volt, m->v_read_volt);
    b->h = b->v_hi / (BASIS_NV - 1);
    b->n_terms = 1;
    if (m->n_knots == 0) { /* ohmic cells: the model is linear in the cell voltage */
        *out = b;
        return XB_OK;
    }
    /* the conductance range the executor programs, with room for programming errors */
    const double g_lo = 0.5 * fmin(m->g_ref_min_siemens, m->valid_g_min_siemens);
    const double g_hi = 1.2 * fmax(m->g_ref_max_siemens, m->valid_g_max_siemens);
    gsl_matrix *A = gsl_matrix_alloc(BASIS_NV, BASIS_NG), *V = gsl_matrix_alloc(BASIS_NG, BASIS_NG);
    gsl_vector *S = gsl_vector_alloc(BASIS_NG), *work = gsl_vector_alloc(BASIS_NG);
    if (!A || !V || !S || !work) {
        rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
        goto done;
    }
    /* columns: I_cell(g, v)/g and, weighted by XB_FIT_FAST_DROP, v dI_cell/dv / g: the first
     * order change of the cell current when IR drop lowers its voltage by a fraction of v, so
     * that the basis also spans the IR-drop x nonlinearity cross terms */
    for (size_t s = 0; s < BASIS_NG / 2; s++) {
        double g = g_lo + (g_hi - g_lo) * (double)s / (BASIS_NG / 2 - 1);
        if (g <= 0) g = 1e-3 * g_hi;
        for (size_t t = 0; t < BASIS_NV; t++) {
            double v = b->h * (double)t, dv = 1e-4 * b->v_hi;
            double d = (cell_current(m, g, v + dv) - cell_current(m, g, v - dv)) / (2 * dv);
            gsl_matrix_set(A, t, 2 * s, cell_current(m, g, v) / g);
            gsl_matrix_set(A, t, 2 * s + 1, XB_FIT_FAST_DROP * v * d / g);
        }
    }
    const xb_gsl_section gs = xb_gsl_begin(); /* GSL's BLAS calls: the same bits for any thread count */
    const int svd = gsl_linalg_SV_decomp(A, V, S, work);
    xb_gsl_end(gs);
    if (svd) {
        rc = xb_errorf(err, XB_ERUNTIME, "basis: singular value decomposition failed");
        goto done;
    }
    double total = 0;
    for (size_t p = 0; p < BASIS_NG; p++) total += gsl_vector_get(S, p) * gsl_vector_get(S, p);
    size_t r = 1;
    for (;; r++) {
        double tail = 0;
        for (size_t p = r; p < BASIS_NG; p++) tail += gsl_vector_get(S, p) * gsl_vector_get(S, p);
        b->tail_rel = total > 0 ? sqrt(tail / total) : 0;
        if (b->tail_rel <= tol || r == max_terms) break;
    }
    b->n_terms = r;
    if (!(b->table = malloc(r * BASIS_NV * sizeof(double)))) {
        rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
        goto done;
    }
    for (size_t p = 0; p < r; p++) {
        /* scale: max |phi_p| = v_hi, positive at v_hi (volt-like, M_p conductance-like) */
        double mx = 0, end = gsl_matrix_get(A, BASIS_NV - 1, p);
        for (size_t t = 0; t < BASIS_NV; t++) mx = fmax(mx, fabs(gsl_matrix_get(A, t, p)));
        double sc = mx > 0 ? b->v_hi / mx : 1.0;
        if (end < 0) sc = -sc;
        for (size_t t = 0; t < BASIS_NV; t++) b->table[p * BASIS_NV + t] = sc * gsl_matrix_get(A, t, p);
        b->table[p * BASIS_NV] = 0.0; /* odd functions: exactly 0 at 0 */
    }
done:
    gsl_matrix_free(A);
    gsl_matrix_free(V);
    gsl_vector_free(S);
    gsl_vector_free(work);
    if (rc) {
        xb_fit_basis_free(b);
        return rc;
    }
    *out = b;
    return XB_OK;
}

void xb_fit_basis_free(xb_fit_basis *b)
{
    if (!b) return;
    free(b->table);
    free(b);
}

size_t xb_fit_basis_terms(const xb_fit_basis *b) { return b->n_terms; }
double xb_fit_basis_v_hi(const xb_fit_basis *b) { return b->v_hi; }
double xb_fit_basis_tail(const xb_fit_basis *b) { return b->tail_rel; }
int xb_fit_basis_is_linear(const xb_fit_basis *b) { return b->table == NULL; }

double xb_fit_basis_eval(const xb_fit_basis *b, size_t p, double v)
{
    if (!b->table) return p == 0 ? v : 0.0;
    const double *tb = b->table + p * BASIS_NV;
    double a = fabs(v), u = a / b->h;
    size_t t = (size_t)u;
    if (t >= BASIS_NV - 1) t = BASIS_NV - 2; /* beyond v_hi: the last segment, extended */
    double f = u - (double)t;
    double y = tb[t] + f * (tb[t + 1] - tb[t]);
    return v < 0 ? -y : y;
}

static void basis_eval_n(const xb_fit_basis *b, size_t n_terms, const double *v, size_t n, double *phi)
{
    for (size_t p = 0; p < n_terms; p++)
        for (size_t k = 0; k < n; k++) phi[p * n + k] = xb_fit_basis_eval(b, p, v[k]);
}

void xb_fit_basis_eval_n(const xb_fit_basis *b, const double *v, size_t n, double *phi)
{
    basis_eval_n(b, b->n_terms, v, n, phi);
}

double xb_fit_cross_s(const xb_fit_basis *b, const double *v, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += v[i];
    return s / ((double)n * b->v_hi);
}

/* The weights of the cross factor c_i(V) = w0 sum_k x_k + w1 sum_k (R - max(i,k)) x_k of a
 * form of kind kind for model m (R rows).  XB_FIT_CROSS_SUM: w1 = 0, c = xb_fit_cross_s.
 * XB_FIT_CROSS_COLUMN: the first-order column drop at row i of the model's circuit
 * (model.c: the sense at row R-1, node (i, j) above the segments i..R-1, each carrying the
 * currents of the rows above it): r_sense sum_k I_k + r_col sum_k (R - max(i, k)) I_k, the
 * cell currents I_k taken as proportional to x_k = phi_0(v_k) (weighed by v_k instead, the
 * network output's error was 3 % larger), scaled so that c_0 = 1 at v = v_hi. */
static void cross_weights(const xb_fit_params *m, const xb_fit_basis *b, xb_fit_cross_kind kind, double *w0,
                          double *w1)
{
    const double R = (double)m->config.rows;
    const double z = b->v_hi * (R * m->r_sense_ohm + m->r_col_ohm * R * (R + 1) / 2);
    if (kind == XB_FIT_CROSS_COLUMN && z > 0 && m->r_col_ohm > 0) {
        *w0 = m->r_sense_ohm / z;
        *w1 = m->r_col_ohm / z;
    } else {
        *w0 = 1.0 / (R * b->v_hi);
        *w1 = 0.0;
    }
}

void xb_fit_cross_factors(double w0, double w1, const double *x, size_t n, size_t R, double *c)
{
    double s = 0, q = 0, p = 0;
    for (size_t k = 0; k < n; k++) {
        s += x[k];
        q += (double)(R - k) * x[k];
    }
    /* sum_k (R - max(i,k)) x_k = (R - i) sum_{k<=i} x_k + sum_{k>i} (R - k) x_k; x[i] is read
     * before c[i] is written (c may be x) */
    for (size_t i = 0; i < n; i++) {
        const double xi = x[i];
        p += xi;
        q -= (double)(R - i) * xi;
        c[i] = w0 * s + w1 * ((double)(R - i) * p + q);
    }
}

/* The features of one input vector v (n rows): the n_terms groups phi_p(v_i), then the n_cross
 * groups c_i(V) phi_p(v_i) (c: xb_fit_cross_factors; the IR drop grows with the other rows'
 * inputs, and a cell's share of it with its own nonlinearity), group-major: phi[g*n + i].
 * cbuf: n scratch values. */
static void features(const xb_fit_basis *b, size_t n_terms, size_t n_cross, double w0, double w1, const double *v,
                     size_t n, double *phi, double *cbuf)
{
    basis_eval_n(b, n_terms, v, n, phi);
    if (!n_cross) return;
    if (w1 == 0.0) { /* the tile's total input: as before the column kernel (same rounding) */
        const double s = xb_fit_cross_s(b, v, n);
        for (size_t p = 0; p < n_cross; p++)
            for (size_t i = 0; i < n; i++) phi[(n_terms + p) * n + i] = s * phi[p * n + i];
        return;
    }
    xb_fit_cross_factors(w0, w1, phi, n, n, cbuf); /* weighed by phi_0(v_k) ~ the currents */
    for (size_t p = 0; p < n_cross; p++)
        for (size_t i = 0; i < n; i++) phi[(n_terms + p) * n + i] = cbuf[i] * phi[p * n + i];
}

/* Input vectors like an executor's DAC outputs, from k0 on: every element on with probability
 * rho (1, 1/2, 1/4 in turn: dense images to sparse ReLU activations), uniform on (0, v_hi];
 * the first vector drives every row at v_hi. */
static void fit_vectors(xb_matrix *v, size_t k0, double v_hi, uint64_t seed)
{
    static const double rho[3] = {1.0, 0.5, 0.25};
    uint64_t s = seed;
    for (size_t k = k0; k < v->rows; k++) {
        double *x = xb_matrix_row(v, k);
        for (size_t i = 0; i < v->cols; i++) {
            if (k == 0) {
                x[i] = v_hi;
                continue;
            }
            double on = xb_splitmix64_uniform(&s), val = xb_splitmix64_uniform(&s);
            x[i] = on < rho[k % 3] ? v_hi * (1.0 - val) : 0.0;
        }
    }
}

/* Held-out vectors like network activations (rows k0..): in turn
 *  - ReLU outputs: on with probability 1/2, values skewed to small, v_hi u^3 (most
 *    activations are far below the layer's full scale, which the largest sets);
 *  - image pixels: on with probability 3/4, half of them at full scale (saturated pixels),
 *    the others uniform;
 *  - a partly used band: only the first quarter to full rows carry inputs (a layer's last
 *    row band; the rest at 0 V), uniform values. */
static void net_vectors(xb_matrix *v, size_t k0, double v_hi, uint64_t seed)
{
    uint64_t s = seed;
    const size_t R = v->cols;
    for (size_t k = k0; k < v->rows; k++) {
        double *x = xb_matrix_row(v, k);
        const int kind = (int)((k - k0) % 3);
        const size_t used = kind == 2 ? R / 4 + (size_t)(xb_splitmix64_uniform(&s) * (double)(R - R / 4)) : R;
        for (size_t i = 0; i < R; i++) {
            const double on = xb_splitmix64_uniform(&s), u = xb_splitmix64_uniform(&s);
            double val = 0.0;
            if (kind == 0 && on < 0.5) val = v_hi * u * u * u;
            else if (kind == 1 && on < 0.75) val = on < 0.375 ? v_hi : v_hi * u;
            else if (kind == 2 && i < used) val = v_hi * u;
            x[i] = val;
        }
    }
}

/* Relative L2 of the differences of column pairs (2j, 2j+1): the executor's differential
 * outputs. */
static double pair_rel_l2(const xb_matrix *a, const xb_matrix *ref)
{
    double d = 0, n = 0;
    for (size_t k = 0; k < a->rows; k++) {
        const double *x = xb_matrix_row((xb_matrix *)a, k), *y = xb_matrix_row((xb_matrix *)ref, k);
        for (size_t j = 0; j + 1 < a->cols; j += 2) {
            const double dr = y[j] - y[j + 1], e = (x[j] - x[j + 1]) - dr;
            d += e * e;
            n += dr * dr;
        }
    }
    return n > 0 ? sqrt(d / n) : sqrt(d);
}

int xb_fit_fast_new(const xb_fit_params *m, const xb_fit_basis *b, size_t n_terms, const xb_matrix *g,
                    uint64_t seed, xb_fit_fast **out, xb_error *err)
{
    return xb_fit_fast_new_cross(m, b, n_terms, 0, g, seed, out, err);
}

int xb_fit_fast_new_cross(const xb_fit_params *m, const xb_fit_basis *b, size_t n_terms, size_t n_cross,
                          const xb_matrix *g, uint64_t seed, xb_fit_fast **out, xb_error *err)
{
    return xb_fit_fast_new_form(m, b, n_terms, n_cross, XB_FIT_CROSS_SUM, g, seed, out, err);
}

int xb_fit_fast_new_form(const xb_fit_params *m, const xb_fit_basis *b, size_t n_terms, size_t n_cross,
                         xb_fit_cross_kind kind, const xb_matrix *g, uint64_t seed, xb_fit_fast **out, xb_error *err)
{
    *out = NULL;
    if (kind != XB_FIT_CROSS_SUM && kind != XB_FIT_CROSS_COLUMN)
        return xb_errorf(err, XB_EINPUT, "fast form: unknown cross kind %d", (int)kind);
    if (n_terms > b->n_terms)
        return xb_errorf(err, XB_EINPUT, "fast form: %zu terms asked, the basis has %zu", n_terms, b->n_terms);
    if (n_cross > (n_terms ? n_terms : b->n_terms))
        return xb_errorf(err, XB_EINPUT, "fast form: %zu cross groups asked, at most one per term", n_cross);
    if (g->rows != m->config.rows || g->cols != m->config.cols)
        return xb_errorf(err, XB_EINPUT, "G is %zux%zu but the model is for %zux%zu arrays", g->rows, g->cols,
                         m->config.rows, m->config.cols);
    const size_t R = m->config.rows, C = m->config.cols, T = n_terms ? n_terms : b->n_terms, NG = T + n_cross;
    const size_t nf = NG * R;
    /* fit, held-out uniform and network-like vectors: with cross groups 4 fit vectors per
     * feature (2 per feature: the held-out error on network-like vectors 12 % larger, the
     * network output's 5 %); without them 2 (the plain forms of ohmic cells and of the analog
     * trainer's tiles, refitted after every minibatch: 4 doubled its epochs) */
    const size_t K = (n_cross ? 4 : 2) * nf + 32, Kt = 16, Kn = 48;
    xb_fit_eval *e = NULL;
    int nth = -1; /* BLAS threads to restore */
    xb_fit_fast *f = calloc(1, sizeof *f);
    xb_matrix *v = xb_matrix_new(K + Kt + Kn, R), *y = xb_matrix_new(K + Kt + Kn, C);
    double *X = malloc(K * nf * sizeof *X), *G = malloc(nf * nf * sizeof *G), *B = malloc(nf * C * sizeof *B);
    double *cb = malloc(R * sizeof *cb);
    int rc = XB_OK;
    if (!f || !v || !y || !X || !G || !B || !cb || !(f->m = malloc(NG * R * C * sizeof *f->m)) ||
        !(f->rs = calloc(NG * R, sizeof *f->rs))) {
        rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
        goto done;
    }
    f->basis = b;
    f->n_terms = T;
    f->n_cross = n_cross;
    f->kind = n_cross ? kind : XB_FIT_CROSS_SUM;
    cross_weights(m, b, f->kind, &f->xw0, &f->xw1);
    f->resid_rel = m->resid_sigma_rel;
    f->rows = R;
    f->cols = C;
    f->n_fit = K;
    if ((rc = xb_fit_eval_new(m, g, &e, err))) goto done;
    nth = xb_blas_serial_begin(); /* small BLAS calls: one thread */
    {
        xb_matrix vu = {K + Kt, R, v->data};
        fit_vectors(&vu, 0, b->v_hi, seed);
        net_vectors(v, K + Kt, b->v_hi, xb_hash64(seed + XB_SPLITMIX64_GAMMA));
    }
    if ((rc = xb_fit_eval_mvm(e, v, y, err))) goto done;
    for (size_t k = 0; k < K; k++) features(b, T, n_cross, f->xw0, f->xw1, xb_matrix_row(v, k), R, X + k * nf, cb);
    /* Normal equations (X^T X) M = X^T Y, Cholesky: the phi_p are orthogonal on their grid and
     * every feature column is populated, so X^T X is well conditioned (one BLAS call each,
     * not the many small ones of a Householder QR). */
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)nf, (int)K, 1.0, X, (int)nf, 0.0, G, (int)nf);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)nf, (int)C, (int)K, 1.0, X, (int)nf, y->data, (int)C,
                0.0, B, (int)C);
    /* G = U^T U in place (upper), then U^T U M = B by two triangular solves */
    for (size_t j = 0; j < nf && !rc; j++) {
        double *gj = G + j * nf;
        for (size_t q = 0; q < j; q++) gj[j] -= G[q * nf + j] * G[q * nf + j];
        if (!(gj[j] > 0)) {
            rc = xb_errorf(err, XB_ERUNTIME, "fast form: normal equations not positive definite (feature %zu)", j + 1);
            break;
        }
        gj[j] = sqrt(gj[j]);
        for (size_t c = j + 1; c < nf; c++) {
            double s = gj[c];
            for (size_t q = 0; q < j; q++) s -= G[q * nf + j] * G[q * nf + c];
            gj[c] = s / gj[j];
        }
    }
    if (rc) goto done;
    cblas_dtrsm(CblasRowMajor, CblasLeft, CblasUpper, CblasTrans, CblasNonUnit, (int)nf, (int)C, 1.0, G, (int)nf, B,
                (int)C);
    cblas_dtrsm(CblasRowMajor, CblasLeft, CblasUpper, CblasNoTrans, CblasNonUnit, (int)nf, (int)C, 1.0, G, (int)nf,
                B, (int)C);
    memcpy(f->m, B, nf * C * sizeof *B); /* row q = p*R + i: the layout of M_p */
    for (size_t q = 0; q < nf; q++)
        for (size_t j = 0; j < C; j++) f->rs[q] += B[q * C + j];
    /* held-out errors: uniform vectors (columns), network-like vectors (columns and pairs) */
    xb_matrix vt = {Kt, R, v->data + K * R}, yt = {Kt, C, y->data + K * C};
    xb_matrix vn = {Kn, R, v->data + (K + Kt) * R}, yn = {Kn, C, y->data + (K + Kt) * C};
    xb_matrix *yf = xb_matrix_new(Kt + Kn, C);
    if (!yf) {
        rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
        goto done;
    }
    xb_matrix ft = {Kt, C, yf->data}, fn = {Kn, C, yf->data + Kt * C};
    if (!(rc = xb_fit_fast_mvm(f, &vt, &ft, err)) && !(rc = xb_fit_fast_mvm(f, &vn, &fn, err))) {
        f->err_rel_l2 = fmax(xb_fit_rel_l2(&ft, &yt), xb_fit_rel_l2(&fn, &yn));
        f->err_pairs = pair_rel_l2(&fn, &yn);
    }
    xb_matrix_free(yf);
done:
    if (nth >= 0) xb_blas_serial_end(nth);
    xb_fit_eval_free(e);
    xb_matrix_free(v);
    xb_matrix_free(y);
    free(X);
    free(G);
    free(B);
    free(cb);
    if (rc) {
        xb_fit_fast_free(f);
        return rc;
    }
    *out = f;
    return XB_OK;
}

void xb_fit_fast_free(xb_fit_fast *f)
{
    if (!f) return;
    free(f->m);
    free(f->rs);
    if (f->rng) gsl_rng_free(f->rng);
    free(f);
}

size_t xb_fit_fast_terms(const xb_fit_fast *f) { return f->n_terms; }
size_t xb_fit_fast_cross(const xb_fit_fast *f) { return f->n_cross; }
size_t xb_fit_fast_groups(const xb_fit_fast *f) { return f->n_terms + f->n_cross; }
xb_fit_cross_kind xb_fit_fast_cross_kind(const xb_fit_fast *f) { return f->kind; }
void xb_fit_fast_cross_weights(const xb_fit_fast *f, double *w0, double *w1)
{
    *w0 = f->xw0;
    *w1 = f->xw1;
}
double xb_fit_fast_error_pairs(const xb_fit_fast *f) { return f->err_pairs; }

int xb_fit_fast_set_noise(xb_fit_fast *f, int on, uint64_t seed, xb_error *err)
{
    if (f->rng) gsl_rng_free(f->rng);
    f->rng = NULL;
    if (on && !(f->rng = xb_fit_noise_rng(seed))) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    return XB_OK;
}
const xb_fit_basis *xb_fit_fast_basis(const xb_fit_fast *f) { return f->basis; }
const double *xb_fit_fast_matrix(const xb_fit_fast *f, size_t p) { return f->m + p * f->rows * f->cols; }
double xb_fit_fast_error(const xb_fit_fast *f) { return f->err_rel_l2; }
const double *xb_fit_fast_row_sums(const xb_fit_fast *f) { return f->rs; }

void xb_fit_fast_row_currents(const xb_fit_fast *f, const double *v_in, double *i_row)
{
    const double s0 = f->n_cross ? xb_fit_cross_s(f->basis, v_in, f->rows) : 0.0;
    if (f->n_cross && f->xw1 != 0.0) { /* per-row factors, in i_row until each row is summed */
        for (size_t i = 0; i < f->rows; i++) i_row[i] = xb_fit_basis_eval(f->basis, 0, v_in[i]);
        xb_fit_cross_factors(f->xw0, f->xw1, i_row, f->rows, f->rows, i_row);
    }
    for (size_t i = 0; i < f->rows; i++) {
        const double s = f->n_cross && f->xw1 != 0.0 ? i_row[i] : s0;
        i_row[i] = 0;
        for (size_t p = 0; p < f->n_terms && v_in[i] != 0.0; p++) {
            const double ph = xb_fit_basis_eval(f->basis, p, v_in[i]);
            i_row[i] += ph * f->rs[p * f->rows + i];
            if (p < f->n_cross) i_row[i] += s * ph * f->rs[(f->n_terms + p) * f->rows + i];
        }
    }
}

int xb_fit_fast_mvm(const xb_fit_fast *f, const xb_matrix *v, xb_matrix *i_out, xb_error *err)
{
    const size_t R = f->rows, C = f->cols, T = f->n_terms, NG = T + f->n_cross;
    if (v->cols != R) return xb_errorf(err, XB_EINPUT, "V has %zu columns but the fast form has %zu rows", v->cols, R);
    if (i_out->rows != v->rows || i_out->cols != C)
        return xb_errorf(err, XB_EINPUT, "output matrix is %zux%zu, expected %zux%zu", i_out->rows, i_out->cols,
                         v->rows, C);
    double *phi = malloc((NG + 1) * R * sizeof *phi);
    if (!phi) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    for (size_t k = 0; k < v->rows; k++) {
        double *o = xb_matrix_row(i_out, k);
        memset(o, 0, C * sizeof *o);
        features(f->basis, T, f->n_cross, f->xw0, f->xw1, xb_matrix_row(v, k), R, phi, phi + NG * R);
        for (size_t p = 0; p < NG; p++)
            for (size_t i = 0; i < R; i++) {
                const double x = phi[p * R + i], *mr = f->m + (p * R + i) * C;
                if (x != 0.0)
                    for (size_t j = 0; j < C; j++) o[j] += x * mr[j];
            }
        if (f->rng && f->resid_rel > 0) xb_fit_resid_noise(f->rng, f->resid_rel, o, C);
    }
    free(phi);
    return XB_OK;
}
