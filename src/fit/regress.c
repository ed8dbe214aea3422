/* Small linear regressions (GSL multifit) for the statistics exported with models:
 * sigma(G) polynomials, energy and settling time against size and input sums. */
#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit.h>
#include <math.h>
#include <stdlib.h>

#include "fit/fit_internal.h"

int xb_fit_linear(const double *X, const double *y, size_t n, size_t p, double *c, double *r2,
                  double *rms, xb_error *err)
{
    if (p == 0 || n < p) return xb_errorf(err, XB_EINPUT, "regression: %zu points for %zu coefficients", n, p);
    gsl_matrix *A = gsl_matrix_alloc(n, p), *cov = gsl_matrix_alloc(p, p);
    gsl_vector *b = gsl_vector_alloc(n), *x = gsl_vector_alloc(p);
    gsl_multifit_linear_workspace *w = gsl_multifit_linear_alloc(n, p);
    int rc = XB_OK;
    if (!A || !cov || !b || !x || !w) {
        rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < p; k++) gsl_matrix_set(A, i, k, X[i * p + k]);
        gsl_vector_set(b, i, y[i]);
    }
    double chisq = 0;
    size_t rank = 0;
    const xb_gsl_section gs = xb_gsl_begin();
    /* SVD-based solve, tolerant of rank deficiency (e.g. one size only) */
    int st = gsl_multifit_linear_tsvd(A, b, 1e-12, x, cov, &chisq, &rank, w);
    xb_gsl_end(gs);
    if (st) {
        rc = xb_errorf(err, XB_ERUNTIME, "regression failed: %s", gsl_strerror(st));
        goto done;
    }
    for (size_t k = 0; k < p; k++) c[k] = gsl_vector_get(x, k);
    double mean = 0, tss = 0;
    for (size_t i = 0; i < n; i++) mean += y[i];
    mean /= (double)n;
    for (size_t i = 0; i < n; i++) tss += (y[i] - mean) * (y[i] - mean);
    if (r2) *r2 = tss > 0 ? 1.0 - chisq / tss : 1.0;
    if (rms) *rms = sqrt(chisq / (double)n);
done:
    gsl_matrix_free(A);
    gsl_matrix_free(cov);
    gsl_vector_free(b);
    gsl_vector_free(x);
    if (w) gsl_multifit_linear_free(w);
    return rc;
}

int xb_fit_poly(const double *x, const double *y, size_t n, size_t deg, double *c, double *r2,
                double *rms, xb_error *err)
{
    size_t p = deg + 1;
    double *X = malloc(n * p * sizeof *X);
    if (!X) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    for (size_t i = 0; i < n; i++) {
        double t = 1;
        for (size_t k = 0; k < p; k++, t *= x[i]) X[i * p + k] = t;
    }
    int rc = xb_fit_linear(X, y, n, p, c, r2, rms, err);
    free(X);
    return rc;
}
