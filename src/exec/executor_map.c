/* The executor's mapping: every dense/conv layer's weights onto differential column pairs
 * of tiles, programming variability with a seed per tile, the tiles programmed through the
 * engine; and the time after programming (drift, global drift compensation, device read
 * noise).  docs/executor.md (Mapping), docs/drift.md. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exec/executor_internal.h"

/* ------------------------------------------------------------------ tiles */
static void free_map(layer_map *m)
{
    if (m->tiles)
        for (size_t t = 0; t < m->n_rt * m->n_ct; t++)
            xb_engine_tile_free(m->tiles[t]);
    free(m->tiles);
    free(m->rowsum_g);
    free(m->adc_range);
    free(m->aff_a);
    free(m->aff_b);
    if (m->g_prog)
        for (size_t t = 0; t < m->n_rt * m->n_ct; t++) xb_matrix_free(m->g_prog[t]);
    free(m->g_prog);
    free(m->tile_seed);
    free(m->drift_alpha);
    free(m->drift_ref);
    free(m->read_sig2);
    ex_fast_drop(m);
}

void xb_exec_free(xb_exec *ex)
{
    if (!ex) return;
    for (size_t k = 0; k < ex->n_layers; k++) free_map(&ex->maps[k]);
    free(ex->maps);
    free(ex->conv_buf);
    free(ex);
}

/* Sum over the columns of every row of g (R x C): the Joule-heat energy estimate. */
static void row_sums(const xb_matrix *g, double *rs)
{
    for (size_t i = 0; i < g->rows; i++) {
        double s = 0;
        for (size_t jj = 0; jj < g->cols; jj++) s += g->data[i * g->cols + jj];
        rs[i] = s;
    }
}

/* Allocate the per-tile arrays of layer k (n_rt x n_ct tiles) and set the identity affine
 * correction. */
static int map_alloc(xb_exec *ex, size_t k, const xb_layer *l, layer_map *m, xb_error *err)
{
    const size_t R = ex->cfg.tile_rows, nt = m->n_rt * m->n_ct;
    m->tiles = calloc(nt, sizeof *m->tiles);
    m->rowsum_g = calloc(nt * R, sizeof(double));
    m->adc_range = calloc(nt, sizeof(double));
    m->aff_a = malloc(l->n_out * sizeof(double));
    m->aff_b = malloc(l->n_out * sizeof(double));
    m->g_prog = calloc(nt, sizeof *m->g_prog);
    m->tile_seed = calloc(nt, sizeof *m->tile_seed);
    m->drift_alpha = calloc(nt, sizeof(double));
    m->drift_ref = calloc(nt, sizeof(double));
    if (!m->tiles || !m->rowsum_g || !m->adc_range || !m->aff_a || !m->aff_b || !m->g_prog || !m->tile_seed ||
        !m->drift_alpha || !m->drift_ref)
        return xb_errorf(err, XB_ERUNTIME, "out of memory (layer %zu tiles)", k);
    for (size_t j = 0; j < l->n_out; j++) {
        m->aff_a[j] = 1.0;
        m->aff_b[j] = 0.0;
    }
    return XB_OK;
}

/* The conductances of tile (r, c) of layer l: its block of weights as (G+, G-) pairs,
 * unused rows and column pairs at g_min (an erased physical array). */
static void tile_conductances(const xb_exec *ex, const layer_map *m, const xb_layer *l, size_t r, size_t c,
                              xb_matrix *g)
{
    const size_t R = ex->cfg.tile_rows, C = ex->cfg.tile_cols, P = m->pairs;
    const double gmin = ex->tile_p.g_min_siemens, dg = ex->tile_p.g_max_siemens - gmin;
    for (size_t i = 0; i < R; i++)
        for (size_t jj = 0; jj < C; jj++) g->data[i * C + jj] = gmin;
    for (size_t i = 0; i < R; i++) {
        size_t gi = r * R + i;
        if (gi >= l->n_in) break;
        for (size_t j = 0; j < P; j++) {
            size_t gj = c * P + j;
            if (gj >= l->n_out) break;
            xb_exec_weight_pair((double)l->weight[gj * l->n_in + gi], m->w_max, gmin, dg, &g->data[i * C + 2 * j],
                                &g->data[i * C + 2 * j + 1]);
        }
    }
}

/* Tile (r, c) of layer k: conductances, its seed (splitmix64 of seed, layer, tile),
 * programming variability and the programmed copy (kept for drift; map_layer programs the
 * engine's tiles from it). */
static int map_tile(xb_exec *ex, size_t k, const xb_layer *l, layer_map *m, size_t r, size_t c, xb_matrix *g,
                    xb_error *err)
{
    const size_t R = ex->cfg.tile_rows, C = ex->cfg.tile_cols, t = r * m->n_ct + c;
    tile_conductances(ex, m, l, r, c, g);
    m->tile_seed[t] = xb_hash64(ex->tile_p.seed +
                                XB_SPLITMIX64_GAMMA * (1 + ((uint64_t)k << 40) + ((uint64_t)r << 20) + c));
    m->drift_alpha[t] = 1.0;
    int rc;
    if (ex->tile_p.var_program || ex->tile_p.stuck_on_rate > 0 || ex->tile_p.stuck_off_rate > 0) {
        xb_array_params tp = ex->tile_p;
        tp.seed = m->tile_seed[t];
        if ((rc = xb_netlist_program(&tp, g, g, err))) {
            xb_error_prefix(err, "layer %zu tile (%zu,%zu): ", k, r, c);
            return rc;
        }
    }
    row_sums(g, m->rowsum_g + t * R);
    if (!(m->g_prog[t] = xb_matrix_new(R, C))) return xb_errorf(err, XB_ERUNTIME, "out of memory (layer %zu tiles)", k);
    memcpy(m->g_prog[t]->data, g->data, R * C * sizeof(double));
    return XB_OK;
}

/* Program the tiles of one dense/conv layer. */
static int map_layer(xb_exec *ex, size_t k, const xb_layer *l, xb_error *err)
{
    layer_map *m = &ex->maps[k];
    const size_t R = ex->cfg.tile_rows, C = ex->cfg.tile_cols, P = C / 2;
    m->weighted = 1;
    m->pairs = P;
    m->n_rt = (l->n_in + R - 1) / R;
    m->n_ct = (l->n_out + P - 1) / P;
    int rc = map_alloc(ex, k, l, m, err);
    if (rc) return rc;
    xb_matrix *g = xb_matrix_new(R, C);
    if (!g) return xb_errorf(err, XB_ERUNTIME, "out of memory (layer %zu tiles)", k);
    double wmax = 0;
    for (size_t i = 0; i < l->n_out * l->n_in; i++) wmax = fmax(wmax, fabs((double)l->weight[i]));
    m->w_max = wmax > 0 ? wmax : 1.0;
    m->st.n_tiles = m->n_rt * m->n_ct;
    for (size_t r = 0; r < m->n_rt && !rc; r++)
        for (size_t c = 0; c < m->n_ct && !rc; c++) rc = map_tile(ex, k, l, m, r, c, g, err);
    xb_matrix_free(g);
    /* the engine's tiles in tile order, at once when the engine can (the model engine fits
     * their fast forms on its threads; the same tiles as one by one) */
    if (!rc && (rc = xb_engine_program_multi(ex->eng, &ex->tile_p, (const xb_matrix *const *)m->g_prog,
                                             m->n_rt * m->n_ct, m->tiles, err)))
        xb_error_prefix(err, "layer %zu (tiles row by row, %zu per row): ", k, m->n_ct);
    return rc;
}

int xb_exec_new(const xb_network *net, const xb_exec_config *cfg, xb_engine *eng, xb_exec **out,
                xb_error *err)
{
    *out = NULL;
    int rc = xb_exec_config_check(cfg, err);
    if (rc) return rc;
    if (!net || !eng || !out) return xb_errorf(err, XB_EINPUT, "executor: missing network or engine");
    xb_exec *ex = calloc(1, sizeof *ex);
    if (!ex) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    ex->net = net;
    ex->cfg = *cfg;
    ex->eng = eng;
    ex->tile_p = cfg->array;
    ex->tile_p.rows = cfg->tile_rows;
    ex->tile_p.cols = cfg->tile_cols;
    ex->tile_p.diff_pairs = 1; /* columns 2k (G+) and 2k+1 (G-): the executor's layout */
    ex->n_layers = xb_network_n_layers(net);
    ex->maps = calloc(ex->n_layers ? ex->n_layers : 1, sizeof *ex->maps);
    if (!ex->maps) {
        free(ex);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    for (size_t k = 0; k < ex->n_layers && !rc; k++) {
        const xb_layer *l = xb_network_layer(net, k);
        if (xb_layer_kind_has_weights(l->kind)) rc = map_layer(ex, k, l, err);
    }
    if (rc) {
        xb_exec_free(ex);
        return rc;
    }
    *out = ex;
    return XB_OK;
}

/* ------------------------------------------------------------------ device read noise */
void ex_add_read_noise(layer_map *m, const double *s2, const xb_matrix *v, const xb_matrix *i_out)
{
    const size_t R = v->cols, C = i_out->cols;
    for (size_t q = 0; q < v->rows; q++) {
        const double *vq = v->data + q * R;
        double *io = i_out->data + q * C;
        for (size_t j = 0; j < C; j++) {
            double var = 0;
            for (size_t i = 0; i < R; i++) var += vq[i] * vq[i] * s2[i * C + j];
            if (var > 0) io[j] += sqrt(var) * ex_rn_gauss(&m->rn_state);
        }
    }
}

/* ------------------------------------------------------------------ drift (docs/drift.md) */
/* Summed column currents of an all-ones (v_read on every row) input through the engine. */
static int tile_ones_current(xb_exec *ex, xb_engine_tile *tile, double *sum, xb_error *err)
{
    const size_t R = ex->cfg.tile_rows, C = ex->cfg.tile_cols;
    xb_matrix *v = xb_matrix_new(1, R), *i = xb_matrix_new(1, C);
    int rc = XB_OK;
    if (!v || !i) {
        rc = xb_errorf(err, XB_ERUNTIME, "out of memory (drift compensation)");
    } else {
        for (size_t r = 0; r < R; r++) v->data[r] = ex->tile_p.v_read_volt;
        rc = xb_engine_mvm(tile, v, i, err);
        double s = 0;
        for (size_t j = 0; j < C && !rc; j++) s += i->data[j];
        *sum = s;
    }
    xb_matrix_free(v);
    xb_matrix_free(i);
    return rc;
}

/* Tile t of layer m at t_s: the t0 reference (once, compensate), the drifted conductances
 * g programmed again, the read-noise variances, the compensation factor. */
static int tile_set_time(xb_exec *ex, layer_map *m, size_t t, double t_s, int compensate, xb_matrix *g,
                         xb_error *err)
{
    const size_t R = ex->cfg.tile_rows, C = ex->cfg.tile_cols;
    const double nu_fixed = ex->cfg.drift_fixed_nu ? ex->cfg.drift_nu : -1.0;
    int rc;
    /* the reference at t0 is measured once, on the programmed conductances */
    if (compensate && m->drift_ref[t] == 0.0) {
        xb_engine_tile *t0 = NULL;
        if ((rc = xb_engine_program(ex->eng, &ex->tile_p, m->g_prog[t], &t0, err))) return rc;
        rc = tile_ones_current(ex, t0, &m->drift_ref[t], err);
        xb_engine_tile_free(t0);
        if (rc) return rc;
    }
    if ((rc = xb_netlist_drift(&ex->tile_p, m->g_prog[t], t_s, m->tile_seed[t], nu_fixed, g, err))) return rc;
    row_sums(g, m->rowsum_g + t * R);
    xb_engine_tile *nt = NULL;
    if ((rc = xb_engine_program(ex->eng, &ex->tile_p, g, &nt, err))) return rc;
    xb_engine_tile_free(m->tiles[t]);
    m->tiles[t] = nt;
    ex_fast_drop(m); /* rebuilt from the new tiles on the next pass */
    m->drift_alpha[t] = 1.0;
    if (ex->cfg.drift_read_noise) {
        if (!m->read_sig2 && !(m->read_sig2 = malloc(m->n_rt * m->n_ct * R * C * sizeof(double))))
            return xb_errorf(err, XB_ERUNTIME, "out of memory (read noise)");
        m->rn_state = m->tile_seed[0] ^ 0x5EAD5EAD5EADull;
        for (size_t i = 0; i < R * C; i++) {
            double sg = xb_netlist_read_noise_sigma(&ex->tile_p, m->g_prog[t]->data[i], g->data[i], t_s);
            m->read_sig2[t * R * C + i] = sg * sg;
        }
    }
    if (compensate) {
        double s_t = 0;
        if ((rc = tile_ones_current(ex, nt, &s_t, err))) return rc;
        m->drift_alpha[t] = s_t > 0 && m->drift_ref[t] > 0 ? m->drift_ref[t] / s_t : 1.0;
    }
    return XB_OK;
}

int xb_exec_set_time(xb_exec *ex, double t_s, int compensate, xb_error *err)
{
    if (!(t_s > 0) || !isfinite(t_s)) return xb_errorf(err, XB_EINPUT, "--time: must be > 0 s (got %g)", t_s);
    xb_matrix *g = xb_matrix_new(ex->cfg.tile_rows, ex->cfg.tile_cols);
    if (!g) return xb_errorf(err, XB_ERUNTIME, "out of memory (drift)");
    int rc = XB_OK;
    for (size_t k = 0; k < ex->n_layers && !rc; k++) {
        layer_map *m = &ex->maps[k];
        if (!m->weighted) continue;
        for (size_t t = 0; t < m->n_rt * m->n_ct && !rc; t++) rc = tile_set_time(ex, m, t, t_s, compensate, g, err);
        if (rc) xb_error_prefix(err, "layer %zu: ", k);
    }
    xb_matrix_free(g);
    return rc;
}

double xb_exec_drift_alpha(const xb_exec *ex, size_t k, size_t t)
{
    if (k >= ex->n_layers || !ex->maps[k].weighted || t >= ex->maps[k].n_rt * ex->maps[k].n_ct) return 1.0;
    return ex->maps[k].drift_alpha[t];
}
