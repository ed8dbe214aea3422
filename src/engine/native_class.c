/* The native engine class: every tile solved exactly by the native nodal engine
 * (native.c, SuiteSparse): wires, driver/sense resistances, cells and device read
 * nonlinearity.  A tile is one xb_engine_native (symbolic analysis done once; for linear
 * cells one factorization serves every input vector) plus its configuration and
 * conductances, which the single-cell reads (native_read.c: their circuits depend on the
 * scheme and the selected cell) and the read transients (native_tran.c) are built from.
 * The engine keeps the configuration's ngspice options for the one value the read
 * circuits share with ngspice: gmin across the access transistor's junctions. */
#include <stdlib.h>
#include <string.h>

#include "xbar/engine.h"

typedef struct {
    xb_engine_opts o;
} native_engine;

typedef struct {
    xb_engine_native *n;   /* the MVM circuit, built when the tile is programmed */
    xb_array_params p;
    xb_matrix *g;          /* programmed conductances (cell reads, transients) */
} native_tile;

static void native_release(void *self, void *tile)
{
    native_tile *t = tile;
    (void)self;
    if (!t) return;
    xb_engine_native_free(t->n);
    xb_matrix_free(t->g);
    free(t);
}

static int native_program(void *self, const xb_array_params *p, const xb_matrix *g, void **tile, xb_error *err)
{
    native_tile *t = calloc(1, sizeof *t);
    if (!t) return xb_errorf(err, XB_ERUNTIME, "native: out of memory (tile)");
    t->p = *p;
    int rc = xb_engine_native_new(p, g, &t->n, err);
    if (!rc && !(t->g = xb_matrix_new(g->rows, g->cols))) rc = xb_errorf(err, XB_ERUNTIME, "native: out of memory (tile)");
    if (rc) {
        native_release(self, t);
        return rc;
    }
    memcpy(t->g->data, g->data, g->rows * g->cols * sizeof(double));
    *tile = t;
    return XB_OK;
}

static int native_mvm(void *self, void *tile, const xb_matrix *v, xb_matrix *i_out, xb_error *err)
{
    (void)self;
    return xb_engine_native_mvm(((native_tile *)tile)->n, v, i_out, err);
}

static int native_cell_read(void *self, void *tile, xb_read_scheme scheme, size_t row, size_t col, double *i_read_amp,
                            xb_error *err)
{
    const native_engine *s = self;
    const native_tile *t = tile;
    return xb_engine_native_read(&s->o, &t->p, t->g, scheme, row, col, i_read_amp, err);
}

static int native_transient(void *self, void *tile, const double *v, const xb_engine_tran_opts *o,
                            xb_engine_tran_result *r, xb_error *err)
{
    const native_tile *t = tile;
    (void)self;
    return xb_engine_native_transient(&t->p, t->g, v, o, r, err);
}

static void native_destroy(void *self) { free(self); }

static int native_create(const xb_engine_class *cls, const xb_engine_config *cfg, xb_engine **out, xb_error *err)
{
    static const xb_engine_ops ops = {
        .program = native_program,
        .mvm = native_mvm,
        .release = native_release,
        .destroy = native_destroy,
        .cell_read = native_cell_read,
        .transient = native_transient,
    };
    native_engine *s = malloc(sizeof *s);
    if (!s) return xb_errorf(err, XB_ERUNTIME, "native: out of memory");
    if (cfg->opts) s->o = *cfg->opts;
    else xb_engine_opts_default(&s->o);
    return xb_engine_wrap(cls, &ops, s, cls->caps, out, err);
}

const xb_engine_class xb_engine_class_native = {
    .name = "native",
    .summary = "exact nodal analysis of the read circuit with SuiteSparse (docs/native.md)",
    .caps = XB_ENGINE_CAP_DETERMINISTIC | XB_ENGINE_CAP_CIRCUIT | XB_ENGINE_CAP_CELL_READ | XB_ENGINE_CAP_TRANSIENT,
    .create = native_create,
};
