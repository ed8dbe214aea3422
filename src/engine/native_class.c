/* The native engine class: every tile solved exactly by the native nodal engine
 * (native.c, SuiteSparse): wires, driver/sense resistances, cells and device read
 * nonlinearity.  A tile is one xb_engine_native (symbolic analysis done once; for linear
 * cells one factorization serves every input vector). */
#include "xbar/engine.h"

static int native_program(void *self, const xb_array_params *p, const xb_matrix *g, void **tile, xb_error *err)
{
    xb_engine_native *n = NULL;
    int rc = xb_engine_native_new(p, g, &n, err);
    if (!rc) *tile = n;
    return rc;
}

static int native_mvm(void *self, void *tile, const xb_matrix *v, xb_matrix *i_out, xb_error *err)
{
    return xb_engine_native_mvm(tile, v, i_out, err);
}

static void native_release(void *self, void *tile) { xb_engine_native_free(tile); }

static int native_create(const xb_engine_class *cls, const xb_engine_config *cfg, xb_engine **out, xb_error *err)
{
    static const xb_engine_ops ops = {.program = native_program, .mvm = native_mvm, .release = native_release};
    return xb_engine_wrap(cls, &ops, NULL, cls->caps, out, err);
}

const xb_engine_class xb_engine_class_native = {
    .name = "native",
    .summary = "exact nodal analysis of the read circuit with SuiteSparse (docs/native.md)",
    .caps = XB_ENGINE_CAP_DETERMINISTIC | XB_ENGINE_CAP_CIRCUIT,
    .create = native_create,
};
