/* The spice tile engine: every tile MVM solved by ngspice (xb_engine_mvm_spice), all
 * input vectors of one call in one batched analysis in a worker process.  The
 * circuit-accurate reference of the executor: slow, used with `xbar run --limit N`. */
#include <stdlib.h>
#include <string.h>

#include "xbar/engine.h"
#include "xbar/exec.h"

typedef struct {
    xb_array_params p;
    xb_matrix *g;
} spice_tile;

static int spice_program(void *ctx, const xb_array_params *p, const xb_matrix *g_target, void **tile,
                         xb_error *err)
{
    (void)ctx;
    spice_tile *t = calloc(1, sizeof *t);
    if (t) t->g = xb_matrix_new(g_target->rows, g_target->cols);
    if (!t || !t->g) {
        free(t);
        return xb_errorf(err, XB_ERUNTIME, "out of memory (spice tile)");
    }
    memcpy(t->g->data, g_target->data, g_target->rows * g_target->cols * sizeof(double));
    t->p = *p;
    *tile = t;
    return XB_OK;
}

static int spice_mvm(void *ctx, void *tile, const xb_matrix *v, xb_matrix *i_out, xb_error *err)
{
    const spice_tile *t = tile;
    if (v->rows == 0) return XB_OK;
    return xb_engine_mvm_spice((const xb_engine_opts *)ctx, &t->p, t->g, v, i_out, err);
}

static void spice_release(void *ctx, void *tile)
{
    (void)ctx;
    spice_tile *t = tile;
    if (!t) return;
    xb_matrix_free(t->g);
    free(t);
}

void xb_tile_engine_spice(xb_tile_engine *e, const struct xb_engine_opts *o)
{
    memset(e, 0, sizeof *e);
    e->name = "spice";
    e->ctx = (void *)o;
    e->program = spice_program;
    e->mvm = spice_mvm;
    e->release = spice_release;
}
