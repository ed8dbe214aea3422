/* The ideal tile engine: I = V G exactly (linear devices, no wires).  It is the
 * reference the executor's mapping, DAC and ADC are tested against. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "xbar/exec.h"

static int ideal_program(void *ctx, const xb_array_params *p, const xb_matrix *g_target, void **tile,
                         xb_error *err)
{
    (void)ctx;
    (void)p;
    xb_matrix *g = xb_matrix_new(g_target->rows, g_target->cols);
    if (!g) return xb_errorf(err, XB_ERUNTIME, "out of memory (tile %zux%zu)", g_target->rows, g_target->cols);
    memcpy(g->data, g_target->data, g->rows * g->cols * sizeof(double));
    *tile = g;
    return XB_OK;
}

static int ideal_mvm(void *ctx, void *tile, const xb_matrix *v, xb_matrix *i_out, xb_error *err)
{
    (void)ctx;
    const xb_matrix *g = tile;
    if (v->cols != g->rows || i_out->cols != g->cols || i_out->rows != v->rows)
        return xb_errorf(err, XB_EINPUT, "ideal tile: v is %zux%zu, g %zux%zu, i_out %zux%zu", v->rows, v->cols,
                         g->rows, g->cols, i_out->rows, i_out->cols);
    if (v->rows == 0) return XB_OK;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)v->rows, (int)g->cols, (int)g->rows, 1.0, v->data,
                (int)v->cols, g->data, (int)g->cols, 0.0, i_out->data, (int)i_out->cols);
    return XB_OK;
}

static void ideal_release(void *ctx, void *tile)
{
    (void)ctx;
    xb_matrix_free(tile);
}

void xb_tile_engine_ideal(xb_tile_engine *e)
{
    memset(e, 0, sizeof *e);
    e->name = "tiled-ideal";
    e->program = ideal_program;
    e->mvm = ideal_mvm;
    e->release = ideal_release;
}
