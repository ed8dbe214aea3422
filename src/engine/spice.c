/* The spice engine class: every tile solved by ngspice in a worker process.  A tile
 * keeps its MVM netlist (written once, when it is programmed) and its conductances (for
 * single-cell reads, whose netlist depends on the scheme and the selected cell).  An MVM
 * is one batched analysis of all its input vectors (engine.h batching: the matrix is
 * reordered once per call); several tiles on the same input run at the same time in a
 * pool of worker processes (opts.n_workers, 0 = cores).  xb_engine_mvm_spice is the
 * one-shot form. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xbar/engine.h"
#include "xbar/netlist.h"

typedef struct {
    xb_engine_opts o;
} spice_engine;

typedef struct {
    xb_array_params p;
    xb_matrix *g;          /* programmed conductances (cell reads) */
    xb_netlist *net;       /* MVM circuit */
    xb_engine_source *src; /* its driven sources, one per row */
} spice_tile;

/* The engine's view of a netlist's driven sources (malloc'ed, n >= 1 entries). */
static xb_engine_source *batch_sources(const xb_netlist *n, xb_error *err)
{
    size_t ns = xb_netlist_n_sources(n);
    xb_engine_source *src = malloc((ns ? ns : 1) * sizeof *src);
    if (!src) {
        xb_errorf(err, XB_ERUNTIME, "spice: out of memory");
        return NULL;
    }
    const xb_netlist_source *s = xb_netlist_sources(n);
    for (size_t k = 0; k < ns; k++) src[k] = (xb_engine_source){s[k].name, s[k].node_pos, s[k].node_neg};
    return src;
}

static void spice_release(void *self, void *tile)
{
    spice_tile *t = tile;
    if (!t) return;
    xb_netlist_free(t->net);
    xb_matrix_free(t->g);
    free(t->src);
    free(t);
}

/* ---- memory (docs/engine.md "Memory") ----
 * Peak RSS of `xbar mvm --engine spice` (ngspice 39, one vector; the worker dominates),
 * measured on 32x32, 48x48, 64x64 and 96x96 arrays, is a base of ~12 MB plus a constant
 * per cell: 24 KB (linear, ECRAM), 32 KB (RRAM, PCM: the sinh subcircuit) for 1R, 42 KB
 * for 1T1R, 46 KB for 1S1R (within 2 % of the measurements at every size: Sparse 1.3's
 * fill stays proportional to the cells on these meshes).  The estimate takes the largest
 * per-cell figure of the cell type, plus the deck text (~130 B per cell), which the caller
 * holds twice (netlist body, batch deck) and the worker once more while ngspice parses it. */
#define SPICE_BYTES_BASE (16.0 * 1024 * 1024)
#define SPICE_DECK_BYTES_PER_CELL 130.0

static double spice_bytes_per_cell(xb_cell_kind cell)
{
    return cell == XB_CELL_1S1R ? 47e3 : cell == XB_CELL_1T1R ? 43e3 : 33e3;
}

double xb_engine_spice_memory_estimate(const xb_array_params *p, size_t k_vectors)
{
    if (!p) return 0;
    const double cells = (double)p->rows * (double)p->cols;
    /* per vector: an alter line per row and a result per column (~40 B each) */
    const double vectors = (double)k_vectors * ((double)p->rows + (double)p->cols) * 40.0;
    return SPICE_BYTES_BASE + spice_bytes_per_cell(p->cell) * cells +
           3.0 * (SPICE_DECK_BYTES_PER_CELL * cells + vectors);
}

/* Refuse a circuit that cannot fit before its deck is written. */
static int spice_memory_check(const xb_array_params *p, size_t k_vectors, xb_error *err)
{
    char what[160];
    snprintf(what, sizeof what, "spice engine, %zux%zu %s %s array in ngspice", p->rows, p->cols,
             xb_device_name(p->device), xb_cell_name(p->cell));
    return xb_memory_check(xb_engine_spice_memory_estimate(p, k_vectors), what, err);
}

/* The job time limit (opts.timeout_s) covers writing the deck too: the deadline of the
 * netlist writer, and its message in the words of a timed-out job. */
static double deck_deadline(const spice_engine *s) { return s->o.timeout_s > 0 ? xb_now_s() + s->o.timeout_s : 0; }

static int deck_timeout(const spice_engine *s, const xb_array_params *p, double deadline, int rc, xb_error *err)
{
    if (rc != XB_ERUNTIME || deadline <= 0 || xb_now_s() <= deadline) return rc;
    return xb_errorf(err, XB_ERUNTIME, "ngspice job timed out after %g s while writing the deck of the %zux%zu array",
                     s->o.timeout_s, p->rows, p->cols);
}

static int spice_program(void *self, const xb_array_params *p, const xb_matrix *g, void **tile, xb_error *err)
{
    const spice_engine *s = self;
    int mrc = spice_memory_check(p, 1, err);
    if (mrc) return mrc;
    spice_tile *t = calloc(1, sizeof *t);
    if (!t) return xb_errorf(err, XB_ERUNTIME, "spice: out of memory (tile)");
    t->p = *p;
    const double deadline = deck_deadline(s);
    int rc = deck_timeout(s, p, deadline, xb_netlist_mvm_new_until(p, g, deadline, &t->net, err), err);
    if (!rc && (xb_netlist_n_sources(t->net) != p->rows || xb_netlist_n_outputs(t->net) != p->cols))
        rc = xb_errorf(err, XB_ERUNTIME, "spice: the MVM netlist of a %zux%zu array has %zu sources, %zu outputs",
                       p->rows, p->cols, xb_netlist_n_sources(t->net), xb_netlist_n_outputs(t->net));
    if (!rc && !(t->src = batch_sources(t->net, err))) rc = XB_ERUNTIME;
    if (!rc && !(t->g = xb_matrix_new(g->rows, g->cols))) rc = xb_errorf(err, XB_ERUNTIME, "spice: out of memory (tile)");
    if (rc) {
        spice_release(self, t);
        return rc;
    }
    memcpy(t->g->data, g->data, g->rows * g->cols * sizeof(double));
    *tile = t;
    return XB_OK;
}

/* The batch of an MVM of v on tile t (shapes checked by the interface). */
static xb_engine_batch mvm_batch(const spice_tile *t, const xb_matrix *v)
{
    return (xb_engine_batch){
        .title = "xbar mvm",
        .body = xb_netlist_body(t->net),
        .n_sources = t->p.rows,
        .sources = t->src,
        .k_vectors = v->rows,
        .values = v->data,
        .n_outputs = t->p.cols,
        .outputs = xb_netlist_outputs(t->net),
    };
}

static int spice_mvm(void *self, void *tile, const xb_matrix *v, xb_matrix *i_out, xb_error *err)
{
    const spice_engine *s = self;
    xb_engine_batch b = mvm_batch(tile, v);
    return xb_engine_batch_run(&s->o, &b, i_out->data, err);
}

static int spice_mvm_multi(void *self, void *const *tiles, size_t n, const xb_matrix *v, xb_matrix *const *i_out,
                           xb_error *err)
{
    const spice_engine *s = self;
    xb_engine_batch *b = calloc(n, sizeof *b);
    xb_engine_result **res = calloc(n, sizeof *res);
    xb_engine_pool *pool = NULL;
    int rc = (b && res) ? XB_OK : xb_errorf(err, XB_ERUNTIME, "spice: out of memory (tiles)");
    if (!rc && !(pool = xb_engine_pool_new(&s->o, err))) rc = err && err->code ? err->code : XB_ERUNTIME;
    for (size_t t = 0; !rc && t < n; t++) {
        size_t id;
        b[t] = mvm_batch(tiles[t], v);
        rc = xb_engine_batch_submit(pool, &b[t], &id, err);
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

/* One read circuit (xb_netlist_read_new): its one driven source at v_read, its one output. */
static int spice_cell_read(void *self, void *tile, xb_read_scheme scheme, size_t row, size_t col, double *i_read_amp,
                           xb_error *err)
{
    const spice_engine *s = self;
    const spice_tile *t = tile;
    xb_netlist *n = NULL;
    const double deadline = deck_deadline(s);
    int rc = xb_netlist_read_new_until(&t->p, t->g, scheme, row, col, deadline, &n, err);
    if (rc) return deck_timeout(s, &t->p, deadline, rc, err);
    xb_engine_source *src = batch_sources(n, err);
    double v = t->p.v_read_volt;
    xb_engine_batch b = {
        .title = "xbar cell read",
        .body = xb_netlist_body(n),
        .n_sources = 1,
        .sources = src,
        .k_vectors = 1,
        .values = &v,
        .n_outputs = 1,
        .outputs = xb_netlist_outputs(n),
    };
    if (!src) rc = XB_ERUNTIME;
    else if (xb_netlist_n_sources(n) != 1 || xb_netlist_n_outputs(n) != 1)
        rc = xb_errorf(err, XB_ERUNTIME, "spice: a read netlist has %zu sources, %zu outputs", xb_netlist_n_sources(n),
                       xb_netlist_n_outputs(n));
    if (!rc) rc = xb_engine_batch_run(&s->o, &b, i_read_amp, err);
    free(src);
    xb_netlist_free(n);
    return rc;
}

static void spice_destroy(void *self) { free(self); }

static int spice_create(const xb_engine_class *cls, const xb_engine_config *cfg, xb_engine **out, xb_error *err)
{
    static const xb_engine_ops ops = {
        .program = spice_program,
        .mvm = spice_mvm,
        .release = spice_release,
        .destroy = spice_destroy,
        .cell_read = spice_cell_read,
        .mvm_multi = spice_mvm_multi,
    };
    spice_engine *s = malloc(sizeof *s);
    if (!s) return xb_errorf(err, XB_ERUNTIME, "spice: out of memory");
    if (cfg->opts) s->o = *cfg->opts;
    else xb_engine_opts_default(&s->o);
    return xb_engine_wrap(cls, &ops, s, cls->caps, out, err);
}

const xb_engine_class xb_engine_class_spice = {
    .name = "spice",
    .summary = "ngspice solves the circuit in worker processes, one batched analysis per MVM",
    .caps = XB_ENGINE_CAP_DETERMINISTIC | XB_ENGINE_CAP_CIRCUIT | XB_ENGINE_CAP_CELL_READ,
    .create = spice_create,
};

int xb_engine_mvm_spice(const xb_engine_opts *o, const xb_array_params *p, const xb_matrix *g,
                        const xb_matrix *v, xb_matrix *i_out, xb_error *err)
{
    if (!p || !g || !v || !i_out) return xb_errorf(err, XB_EINPUT, "mvm spice: missing argument");
    if (v->cols != p->rows)
        return xb_errorf(err, XB_EINPUT, "input vectors have %zu values, the array has %zu rows", v->cols,
                         p->rows);
    if (v->rows == 0) return xb_errorf(err, XB_EINPUT, "no input vectors");
    if (i_out->rows != v->rows || i_out->cols != p->cols)
        return xb_errorf(err, XB_EINPUT, "output matrix is %zux%zu, expected %zux%zu", i_out->rows,
                         i_out->cols, v->rows, p->cols);
    xb_engine_config cfg;
    xb_engine_config_default(&cfg);
    cfg.opts = o;
    xb_engine *e = NULL;
    int rc = xb_engine_new(&xb_engine_class_spice, &cfg, &e, err);
    if (!rc) rc = xb_engine_mvm_once(e, p, g, v, i_out, err);
    xb_engine_free(e);
    return rc;
}
