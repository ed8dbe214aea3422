/* The ideal product I = V.G and the ideal engine class: exact Ohm + Kirchhoff without
 * wires or device nonlinearity.  The reference that mapping, DAC/ADC and circuit errors
 * are measured against. */
#include <stdlib.h>
#include <string.h>

#include "xbar/engine.h"

/* One output: sum over i of v[i] g[i][j] (stride C), in order from 0. */
static double dot_col(const double *v, const double *g, size_t j, size_t R, size_t C)
{
    double s = 0;
    for (size_t i = 0; i < R; i++) s += v[i] * g[i * C + j];
    return s;
}

/* Four vectors x four columns: 16 sums in registers, each load of G serving four vectors
 * (3-5x faster than one output row at a time, the same sums). */
static void block4x4(const double *v, size_t R, const double *g, size_t C, double *o)
{
    const double *x0 = v, *x1 = v + R, *x2 = v + 2 * R, *x3 = v + 3 * R;
    double a00 = 0, a01 = 0, a02 = 0, a03 = 0, a10 = 0, a11 = 0, a12 = 0, a13 = 0;
    double a20 = 0, a21 = 0, a22 = 0, a23 = 0, a30 = 0, a31 = 0, a32 = 0, a33 = 0;
    for (size_t i = 0; i < R; i++, g += C) {
        const double g0 = g[0], g1 = g[1], g2 = g[2], g3 = g[3];
        const double y0 = x0[i], y1 = x1[i], y2 = x2[i], y3 = x3[i];
        a00 += y0 * g0, a01 += y0 * g1, a02 += y0 * g2, a03 += y0 * g3;
        a10 += y1 * g0, a11 += y1 * g1, a12 += y1 * g2, a13 += y1 * g3;
        a20 += y2 * g0, a21 += y2 * g1, a22 += y2 * g2, a23 += y2 * g3;
        a30 += y3 * g0, a31 += y3 * g1, a32 += y3 * g2, a33 += y3 * g3;
    }
    o[0] = a00, o[1] = a01, o[2] = a02, o[3] = a03;
    o += C;
    o[0] = a10, o[1] = a11, o[2] = a12, o[3] = a13;
    o += C;
    o[0] = a20, o[1] = a21, o[2] = a22, o[3] = a23;
    o += C;
    o[0] = a30, o[1] = a31, o[2] = a32, o[3] = a33;
}

int xb_engine_mvm_ideal(const xb_matrix *g, const xb_matrix *v, xb_matrix *i_out, xb_error *err)
{
    if (!g || !v || !i_out) return xb_errorf(err, XB_EINPUT, "ideal mvm: missing argument");
    if (v->cols != g->rows)
        return xb_errorf(err, XB_EINPUT, "input vectors have %zu values, array has %zu rows", v->cols, g->rows);
    if (i_out->rows != v->rows || i_out->cols != g->cols)
        return xb_errorf(err, XB_EINPUT, "output matrix is %zux%zu, expected %zux%zu", i_out->rows,
                         i_out->cols, v->rows, g->cols);
    /* Every output is summed over the rows of G in order, from 0, with separately rounded
     * products and sums (ISO C: no contraction into fused multiply-adds), however the
     * outputs are blocked: the same bits for any K and any caller.  (BLAS dgemm would be
     * faster but sums in its own order: the stored i_ideal of campaigns would move.) */
    const size_t K = v->rows, R = g->rows, C = g->cols;
    size_t k = 0;
    for (; k + 4 <= K; k += 4) {
        size_t j = 0;
        for (; j + 4 <= C; j += 4) block4x4(v->data + k * R, R, g->data + j, C, i_out->data + k * C + j);
        for (; j < C; j++)
            for (size_t q = 0; q < 4; q++) i_out->data[(k + q) * C + j] = dot_col(v->data + (k + q) * R, g->data, j, R, C);
    }
    for (; k < K; k++)
        for (size_t j = 0; j < C; j++) i_out->data[k * C + j] = dot_col(v->data + k * R, g->data, j, R, C);
    return XB_OK;
}

/* A tile is a copy of its conductances. */
static int ideal_program(void *self, const xb_array_params *p, const xb_matrix *g, void **tile, xb_error *err)
{
    xb_matrix *c = xb_matrix_new(g->rows, g->cols);
    if (!c) return xb_errorf(err, XB_ERUNTIME, "out of memory (tile %zux%zu)", g->rows, g->cols);
    memcpy(c->data, g->data, g->rows * g->cols * sizeof(double));
    *tile = c;
    return XB_OK;
}

static int ideal_mvm(void *self, void *tile, const xb_matrix *v, xb_matrix *i_out, xb_error *err)
{
    return xb_engine_mvm_ideal(tile, v, i_out, err);
}

static void ideal_release(void *self, void *tile) { xb_matrix_free(tile); }

static int ideal_create(const xb_engine_class *cls, const xb_engine_config *cfg, xb_engine **out, xb_error *err)
{
    static const xb_engine_ops ops = {.program = ideal_program, .mvm = ideal_mvm, .release = ideal_release};
    return xb_engine_wrap(cls, &ops, NULL, cls->caps, out, err);
}

const xb_engine_class xb_engine_class_ideal = {
    .name = "ideal",
    .summary = "exact Ohm + Kirchhoff product I = V.G (no wires, linear devices)",
    .caps = XB_ENGINE_CAP_DETERMINISTIC,
    .create = ideal_create,
};
