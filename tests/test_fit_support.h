/* Reference data for the fit tests: an independent dense Newton nodal solver of the 1R
 * crossbar read circuit (topology of include/xbar/netlist.h), device law from
 * xb_device_read_iv (netlist stage), dense LU from GSL.  Header-only, static functions. */
#ifndef TEST_FIT_SUPPORT_H
#define TEST_FIT_SUPPORT_H

#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_permutation.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_vector.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xbar/common.h"
#include "xbar/netlist.h"

/* Solve for one input vector; i_col receives the column currents into the sense nodes and
 * i_row (if not NULL) the current supplied by each row driver.
 * Requires r_wire_row_ohm, r_wire_col_ohm > 0 (no shorts to merge). Returns 0 on success. */
static int ref_solve_rows(const xb_array_params *p, const xb_matrix *g, const double *v_in, double *i_col,
                          double *i_row)
{
    size_t R = p->rows, C = p->cols, n = 2 * R * C;
    gsl_matrix *J = gsl_matrix_alloc(n, n);
    gsl_vector *x = gsl_vector_calloc(n), *F = gsl_vector_alloc(n), *dx = gsl_vector_alloc(n);
    gsl_permutation *perm = gsl_permutation_alloc(n);
    double gr = 1.0 / p->r_wire_row_ohm, gc = 1.0 / p->r_wire_col_ohm;
    double gdrv = 1.0 / (p->r_driver_ohm + p->r_wire_row_ohm);
    double gsen = 1.0 / (p->r_wire_col_ohm + p->r_sense_ohm);
#define RN(i, j) ((i) * C + (j))
#define CN(i, j) (R * C + (i) * C + (j))
    int ok = -1;
    for (size_t i = 0; i < R; i++)
        for (size_t j = 0; j < C; j++) gsl_vector_set(x, RN(i, j), v_in[i]);
    for (int it = 0; it < 100; it++) {
        gsl_matrix_set_zero(J);
        gsl_vector_set_zero(F);
        /* F = sum of currents leaving each node */
#define STAMP(a, b, gg)                                                          \
    do {                                                                         \
        double va = gsl_vector_get(x, a), vb = gsl_vector_get(x, b);             \
        *gsl_vector_ptr(F, a) += (gg) * (va - vb);                               \
        *gsl_vector_ptr(F, b) -= (gg) * (va - vb);                               \
        *gsl_matrix_ptr(J, a, a) += gg; *gsl_matrix_ptr(J, b, b) += gg;          \
        *gsl_matrix_ptr(J, a, b) -= gg; *gsl_matrix_ptr(J, b, a) -= gg;          \
    } while (0)
        for (size_t i = 0; i < R; i++) {
            size_t a = RN(i, 0);
            *gsl_vector_ptr(F, a) += gdrv * (gsl_vector_get(x, a) - v_in[i]);
            *gsl_matrix_ptr(J, a, a) += gdrv;
            for (size_t j = 1; j < C; j++) STAMP(RN(i, j - 1), RN(i, j), gr);
        }
        for (size_t j = 0; j < C; j++) {
            for (size_t i = 1; i < R; i++) STAMP(CN(i - 1, j), CN(i, j), gc);
            size_t b = CN(R - 1, j);
            *gsl_vector_ptr(F, b) += gsen * gsl_vector_get(x, b);
            *gsl_matrix_ptr(J, b, b) += gsen;
        }
        for (size_t i = 0; i < R; i++)
            for (size_t j = 0; j < C; j++) {
                size_t a = RN(i, j), b = CN(i, j);
                double vd = gsl_vector_get(x, a) - gsl_vector_get(x, b), id, gd;
                xb_device_read_iv(p, g->data[i * C + j], vd, &id, &gd);
                *gsl_vector_ptr(F, a) += id;
                *gsl_vector_ptr(F, b) -= id;
                *gsl_matrix_ptr(J, a, a) += gd; *gsl_matrix_ptr(J, b, b) += gd;
                *gsl_matrix_ptr(J, a, b) -= gd; *gsl_matrix_ptr(J, b, a) -= gd;
            }
#undef STAMP
        int sg;
        gsl_linalg_LU_decomp(J, perm, &sg);
        gsl_linalg_LU_solve(J, perm, F, dx);
        double nrm = 0, xn = 0;
        for (size_t q = 0; q < n; q++) {
            double d = gsl_vector_get(dx, q);
            if (d > 0.05) d = 0.05; /* limit the Newton step (sinh devices) */
            if (d < -0.05) d = -0.05;
            *gsl_vector_ptr(x, q) -= d;
            nrm = fmax(nrm, fabs(d));
            xn = fmax(xn, fabs(gsl_vector_get(x, q)));
        }
        if (nrm <= 1e-14 * (xn + 1e-3)) {
            ok = 0;
            break;
        }
    }
    for (size_t j = 0; j < C; j++) i_col[j] = gsen * gsl_vector_get(x, CN(R - 1, j));
    if (i_row)
        for (size_t i = 0; i < R; i++) i_row[i] = gdrv * (v_in[i] - gsl_vector_get(x, RN(i, 0)));
#undef RN
#undef CN
    gsl_matrix_free(J);
    gsl_vector_free(x);
    gsl_vector_free(F);
    gsl_vector_free(dx);
    gsl_permutation_free(perm);
    return ok;
}

static int ref_solve(const xb_array_params *p, const xb_matrix *g, const double *v_in, double *i_col)
{
    return ref_solve_rows(p, g, v_in, i_col, NULL);
}

/* Random G in [g_min, g_max] (uniform) and K random inputs in [0, v_read]; I from ref_solve. */
static void ref_sample(const xb_array_params *p, gsl_rng *rng, size_t K, xb_matrix **g, xb_matrix **v,
                       xb_matrix **i)
{
    *g = xb_matrix_new(p->rows, p->cols);
    *v = xb_matrix_new(K, p->rows);
    *i = xb_matrix_new(K, p->cols);
    for (size_t q = 0; q < p->rows * p->cols; q++)
        (*g)->data[q] = p->g_min_siemens + gsl_rng_uniform(rng) * (p->g_max_siemens - p->g_min_siemens);
    for (size_t q = 0; q < K * p->rows; q++) (*v)->data[q] = gsl_rng_uniform(rng) * p->v_read_volt;
    for (size_t k = 0; k < K; k++)
        if (ref_solve(p, *g, xb_matrix_row(*v, k), xb_matrix_row(*i, k)) != 0) abort();
}

#endif
