/* The native tile engine: every tile MVM solved exactly by the native nodal
 * engine (xb_engine_native_*, SuiteSparse), wires, driver/sense resistances and
 * device nonlinearity included.  The executor hands it the programmed conductances
 * (variability already applied, see executor.c). */
#include <string.h>

#include "xbar/engine.h"
#include "xbar/exec.h"

static int native_program(void *ctx, const xb_array_params *p, const xb_matrix *g_target, void **tile,
                          xb_error *err)
{
    (void)ctx;
    xb_engine_native *n = NULL;
    int rc = xb_engine_native_new(p, g_target, &n, err);
    if (rc) return rc;
    *tile = n;
    return XB_OK;
}

static int native_mvm(void *ctx, void *tile, const xb_matrix *v, xb_matrix *i_out, xb_error *err)
{
    (void)ctx;
    if (v->rows == 0) return XB_OK;
    return xb_engine_native_mvm(tile, v, i_out, err);
}

static void native_release(void *ctx, void *tile)
{
    (void)ctx;
    xb_engine_native_free(tile);
}

void xb_tile_engine_native(xb_tile_engine *e)
{
    memset(e, 0, sizeof *e);
    e->name = "native";
    e->program = native_program;
    e->mvm = native_mvm;
    e->release = native_release;
}
