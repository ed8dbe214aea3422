/* The spice tile engine: every tile MVM solved by ngspice, all input vectors of one
 * call in one batched analysis in a worker process (engine.h batching: the matrix is
 * reordered once per call).  The netlist of a tile is written once, when it is
 * programmed.  The column tiles of a row band see the same input vectors: they are
 * solved at the same time in a pool of worker processes (opts.n_workers, 0 = cores).
 * The circuit-accurate reference of the executor: slow, used with `xbar run --limit N`. */
#include <stdlib.h>
#include <string.h>

#include "xbar/engine.h"
#include "xbar/exec.h"
#include "xbar/netlist.h"

typedef struct {
    xb_netlist *net;
    xb_engine_source *src;
    size_t rows, cols;
} spice_tile;

static void spice_release(void *ctx, void *tile)
{
    (void)ctx;
    spice_tile *t = tile;
    if (!t) return;
    xb_netlist_free(t->net);
    free(t->src);
    free(t);
}

static int spice_program(void *ctx, const xb_array_params *p, const xb_matrix *g_target, void **tile,
                         xb_error *err)
{
    (void)ctx;
    spice_tile *t = calloc(1, sizeof *t);
    if (!t) return xb_errorf(err, XB_ERUNTIME, "out of memory (spice tile)");
    int rc = xb_netlist_mvm_new(p, g_target, &t->net, err);
    if (rc) {
        free(t);
        return rc;
    }
    size_t ns = xb_netlist_n_sources(t->net);
    t->src = malloc((ns ? ns : 1) * sizeof *t->src);
    if (!t->src) {
        spice_release(ctx, t);
        return xb_errorf(err, XB_ERUNTIME, "out of memory (spice tile)");
    }
    const xb_netlist_source *s = xb_netlist_sources(t->net);
    for (size_t k = 0; k < ns; k++) {
        t->src[k].name = s[k].name;
        t->src[k].node_pos = s[k].node_pos;
        t->src[k].node_neg = s[k].node_neg;
    }
    t->rows = p->rows;
    t->cols = p->cols;
    *tile = t;
    return XB_OK;
}

static int make_batch(const spice_tile *t, const xb_matrix *v, const xb_matrix *i_out, xb_engine_batch *b,
                      xb_error *err)
{
    if (v->cols != t->rows || i_out->rows != v->rows || i_out->cols != t->cols ||
        xb_netlist_n_sources(t->net) != t->rows || xb_netlist_n_outputs(t->net) != t->cols)
        return xb_errorf(err, XB_EINPUT, "spice tile: v is %zux%zu, i_out %zux%zu, array %zux%zu", v->rows, v->cols,
                         i_out->rows, i_out->cols, t->rows, t->cols);
    *b = (xb_engine_batch){
        .title = "xbar run tile",
        .body = xb_netlist_body(t->net),
        .n_sources = t->rows,
        .sources = t->src,
        .k_vectors = v->rows,
        .values = v->data,
        .n_outputs = t->cols,
        .outputs = xb_netlist_outputs(t->net),
    };
    return XB_OK;
}

static int spice_mvm(void *ctx, void *tile, const xb_matrix *v, xb_matrix *i_out, xb_error *err)
{
    if (v->rows == 0) return XB_OK;
    xb_engine_batch b;
    int rc = make_batch(tile, v, i_out, &b, err);
    if (rc) return rc;
    return xb_engine_batch_run((const xb_engine_opts *)ctx, &b, i_out->data, err);
}

static int spice_mvm_multi(void *ctx, void *const *tiles, size_t n, const xb_matrix *v, xb_matrix *const *i_out,
                           xb_error *err)
{
    if (v->rows == 0 || n == 0) return XB_OK;
    xb_engine_opts def;
    const xb_engine_opts *o = ctx;
    if (!o) {
        xb_engine_opts_default(&def);
        o = &def;
    }
    xb_engine_batch *b = calloc(n, sizeof *b);
    xb_engine_result **res = calloc(n, sizeof *res);
    xb_engine_pool *pool = NULL;
    int rc = (b && res) ? XB_OK : xb_errorf(err, XB_ERUNTIME, "out of memory (spice tiles)");
    if (!rc && !(pool = xb_engine_pool_new(o, err))) rc = err && err->code ? err->code : XB_ERUNTIME;
    for (size_t t = 0; !rc && t < n; t++) {
        size_t id;
        rc = make_batch(tiles[t], v, i_out[t], &b[t], err);
        if (!rc) rc = xb_engine_batch_submit(pool, &b[t], &id, err);
    }
    if (!rc) rc = xb_engine_pool_wait_all(pool, res, n, err);
    for (size_t t = 0; !rc && t < n; t++) {
        rc = xb_engine_batch_collect(&b[t], res[t], i_out[t]->data, err);
        if (rc) xb_error_prefix(err, "column tile %zu: ", t);
    }
    for (size_t t = 0; res && t < n; t++) xb_engine_result_free(res[t]);
    if (pool) xb_engine_pool_free(pool);
    free(res);
    free(b);
    return rc;
}

void xb_tile_engine_spice(xb_tile_engine *e, const struct xb_engine_opts *o)
{
    memset(e, 0, sizeof *e);
    e->name = "spice";
    e->ctx = (void *)o;
    e->program = spice_program;
    e->mvm = spice_mvm;
    e->mvm_multi = spice_mvm_multi;
    e->release = spice_release;
}
