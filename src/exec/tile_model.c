/* The model tile engine: every tile MVM through a fitted behavioural model of the fit
 * stage (xb_fit_eval_*: reduced-order IR drop, device read nonlinearity, fitted gain),
 * optionally with the model's residual read noise on every MVM.  Array energy and
 * timing use the executor's defaults (docs/executor.md). */
#include <stdlib.h>
#include <string.h>

#include "xbar/exec.h"
#include "xbar/fit.h"

struct xb_tile_model {
    xb_fit_params m;
    int read_noise;
    uint64_t seed;
    size_t n_programmed; /* tiles programmed so far: one noise stream each */
};

int xb_tile_model_new(const struct xb_fit_params *m, int read_noise, uint64_t seed, xb_tile_model **out,
                      xb_error *err)
{
    *out = NULL;
    int rc = xb_fit_params_check(m, err);
    if (rc) return rc;
    xb_tile_model *t = calloc(1, sizeof *t);
    if (!t) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    t->m = *m;
    t->read_noise = read_noise;
    t->seed = seed;
    *out = t;
    return XB_OK;
}

int xb_tile_model_load(const char *model_path, const xb_array_params *tile_p, int read_noise,
                       xb_tile_model **out, int *from_family, xb_error *err)
{
    xb_fit_params m;
    int fam = 0;
    *out = NULL;
    int rc = xb_fit_file_model_for(model_path, tile_p, &m, &fam, err);
    if (rc) return rc;
    if (from_family) *from_family = fam;
    /* the executor programs conductances itself: evaluate the model at this array's
     * circuit description (rows/cols, device range), as fitted */
    return xb_tile_model_new(&m, read_noise, tile_p->seed, out, err);
}

void xb_tile_model_free(xb_tile_model *t) { free(t); }

static int model_program(void *ctx, const xb_array_params *p, const xb_matrix *g_target, void **tile,
                         xb_error *err)
{
    xb_tile_model *t = ctx;
    if (g_target->rows != t->m.config.rows || g_target->cols != t->m.config.cols)
        return xb_errorf(err, XB_EINPUT, "model is for %zux%zu arrays, the tiles are %zux%zu", t->m.config.rows,
                         t->m.config.cols, g_target->rows, g_target->cols);
    xb_fit_eval *e = NULL;
    int rc = xb_fit_eval_new(&t->m, g_target, &e, err);
    if (rc) return rc;
    if (t->read_noise) {
        /* one reproducible stream per tile (splitmix64 of the seed and the tile number) */
        uint64_t z = t->seed + 0x9E3779B97F4A7C15ull * (++t->n_programmed);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        rc = xb_fit_eval_set_noise(e, 1, z ^ (z >> 31), err);
        if (rc) {
            xb_fit_eval_free(e);
            return rc;
        }
    }
    *tile = e;
    return XB_OK;
}

static int model_mvm(void *ctx, void *tile, const xb_matrix *v, xb_matrix *i_out, xb_error *err)
{
    (void)ctx;
    if (v->rows == 0) return XB_OK;
    return xb_fit_eval_mvm(tile, v, i_out, err);
}

static void model_release(void *ctx, void *tile)
{
    (void)ctx;
    xb_fit_eval_free(tile);
}

void xb_tile_engine_model(xb_tile_engine *e, xb_tile_model *m)
{
    memset(e, 0, sizeof *e);
    e->name = "model";
    e->ctx = m;
    e->program = model_program;
    e->mvm = model_mvm;
    e->release = model_release;
}
