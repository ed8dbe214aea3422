/* The executor's layer driver (docs/executor.md): its configuration and defaults, the
 * network layer by layer (digital layers; analog layers chunk by chunk: DAC, the tiles
 * through the engine or the fast path, ADC, partial sums, bias and affine correction), and
 * the energy/latency statistics.  The mapping, converters/calibration and fast path are in
 * executor_map.c, executor_convert.c and executor_fast.c (executor_internal.h). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exec/executor_internal.h"

/* ------------------------------------------------------------------ config */
void xb_exec_config_default(xb_exec_config *c, xb_device_kind device)
{
    memset(c, 0, sizeof *c);
    c->tile_rows = 64;
    c->tile_cols = 64;
    /* converters, digital work and read time: the periphery table of src/netlist/params.c
     * (sources there) */
    xb_periphery q;
    xb_periphery_default(&q);
    c->dac_bits = q.dac_bits;
    c->adc_bits = q.adc_bits;
    c->dac_range = 0.0; /* calibrated per layer */
    c->adc_headroom = 1.0;
    c->affine_calibration = 1;
    xb_array_params_default(&c->array, device);
    c->energy.adc_fom_joule_per_step = q.adc_fom_joule_per_step;
    c->energy.dac_joule_per_bit = q.dac_joule_per_bit;
    c->energy.dig_add_joule = q.dig_add_joule;
    c->energy.dig_mul_joule = q.dig_mul_joule;
    /* digital baselines, Horowitz ISSCC 2014 (45 nm): fp32 add 0.9 + mult 3.7 pJ; 8-bit int
     * add 0.03 + mult 0.2 pJ */
    c->energy.base_mac_fp32_joule = 4.6e-12;
    c->energy.base_mac_int8_joule = 0.23e-12;
    /* the fitted settling time replaces t_mvm when the engine has a read time
     * (xb_engine_read_time_s) */
    c->energy.t_mvm_s = q.t_mvm_s;
}

int xb_exec_config_check(const xb_exec_config *c, xb_error *err)
{
    if (c->tile_rows < 1) return xb_errorf(err, XB_EINPUT, "--tile-rows: must be at least 1");
    if (c->tile_cols < 2 || c->tile_cols % 2)
        return xb_errorf(err, XB_EINPUT, "--tile-cols: must be even and >= 2 (differential column pairs), got %zu",
                         c->tile_cols);
    if (c->tile_rows > 4096 || c->tile_cols > 4096)
        return xb_errorf(err, XB_EINPUT, "--tile-rows/--tile-cols: at most 4096");
    if (c->dac_bits < 0 || c->dac_bits > 24) return xb_errorf(err, XB_EINPUT, "--dac-bits: 0 (ideal) to 24, got %d", c->dac_bits);
    if (c->adc_bits == 1 || c->adc_bits < 0 || c->adc_bits > 24)
        return xb_errorf(err, XB_EINPUT, "--adc-bits: 0 (ideal) or 2 to 24 (signed), got %d", c->adc_bits);
    if (!(c->adc_headroom > 0) || !isfinite(c->adc_headroom))
        return xb_errorf(err, XB_EINPUT, "--adc-headroom: must be > 0");
    if (!isfinite(c->dac_range)) return xb_errorf(err, XB_EINPUT, "--dac-range: must be finite");
    const xb_exec_energy *e = &c->energy;
    const double ev[] = {e->adc_fom_joule_per_step, e->dac_joule_per_bit, e->dig_add_joule, e->dig_mul_joule,
                         e->t_mvm_s, e->base_mac_fp32_joule, e->base_mac_int8_joule};
    for (size_t k = 0; k < sizeof ev / sizeof ev[0]; k++)
        if (!(ev[k] >= 0) || !isfinite(ev[k])) return xb_errorf(err, XB_EINPUT, "energy parameter %zu: must be >= 0", k);
    xb_array_params p = c->array;
    p.rows = c->tile_rows;
    p.cols = c->tile_cols;
    return xb_array_params_check(&p, err);
}

/* ------------------------------------------------------------------ workspace */
static int workspace_new(const xb_exec *ex, size_t n_out_max, workspace *w, xb_error *err)
{
    const size_t R = ex->cfg.tile_rows, C = ex->cfg.tile_cols, K = XB_EXEC_CHUNK;
    memset(w, 0, sizeof *w);
    w->vbuf = malloc(K * R * sizeof(double));
    w->ibuf = malloc(K * C * sizeof(double));
    w->acc = malloc(K * (n_out_max ? n_out_max : 1) * sizeof(double));
    w->rows_idx[0] = malloc(K * sizeof(size_t));
    w->rows_idx[1] = malloc(K * sizeof(size_t));
    w->colsq = malloc(R * sizeof(double));
    w->vsq = malloc(((size_t)1 << 16) * sizeof(double));
    w->sp = malloc(2 * XB_FIT_FAST_MAX_TERMS * R * sizeof(double)); /* terms + cross groups */
    if (!w->vbuf || !w->ibuf || !w->acc || !w->rows_idx[0] || !w->rows_idx[1] || !w->colsq || !w->vsq || !w->sp)
        return xb_errorf(err, XB_ERUNTIME, "out of memory (executor workspace)");
    w->v = (xb_matrix){0, R, w->vbuf};
    w->i = (xb_matrix){0, C, w->ibuf};
    return XB_OK;
}

static void workspace_free(workspace *w)
{
    free(w->vbuf);
    free(w->ibuf);
    free(w->acc);
    free(w->rows_idx[0]);
    free(w->rows_idx[1]);
    free(w->colsq);
    free(w->diff);
    free(w->vsq);
    free(w->sp);
}

/* ------------------------------------------------------------------ statistics */
/* Array energy (the engine's, or the Joule heat sum_i V_i^2 sum_j G_ij over the read time),
 * conversions, digital work. */
void ex_count_tile(xb_exec *ex, layer_map *m, const xb_layer *l, size_t r, size_t c, size_t Kp, size_t Kp_cnt,
                   const double *colsq, const xb_matrix *v, const xb_matrix *Im, const double *sp,
                   xb_exec_layer_stats *st)
{
    const size_t R = ex->cfg.tile_rows, P = m->pairs, t = r * m->n_ct + c;
    const size_t pu = (c + 1) * P <= l->n_out ? P : l->n_out - c * P;
    double e = 0;
    if (sp) {
        /* fast path, the engine's energy law: sum_q v I_row from the fast form's row sums
         * (every physical column draws current, used pairs or not) */
        const size_t TR = m->fast_terms * R;
        const double *rs = xb_fit_fast_row_sums(xb_engine_fast_form(m->tiles[t]));
        double res = 0, cap = 0;
        for (size_t q = 0; q < TR; q++) res += sp[q] * rs[q];
        for (size_t i = 0; i < R; i++) cap += colsq[i];
        e = m->law_k_res * res + m->law_k_cap * cap;
    } else if (xb_engine_provides(ex->eng, XB_ENGINE_OP_ARRAY_ENERGY)) {
        xb_engine_array_energy(m->tiles[t], v, Im, &e);
        e *= (double)Kp_cnt / (double)Kp; /* fused: the evaluated share */
    } else {
        const double *rs = m->rowsum_g + t * R;
        for (size_t i = 0; i < R; i++) e += colsq[i] * rs[i];
        e *= xb_engine_provides(ex->eng, XB_ENGINE_OP_READ_TIME) ? xb_engine_read_time_s(m->tiles[t])
                                                                 : ex->cfg.energy.t_mvm_s;
    }
    st->e_array_joule += e;
    const size_t ru = (r + 1) * R <= l->n_in ? R : l->n_in - r * R;
    st->dac_conversions += (double)(Kp_cnt * ru);
    st->adc_conversions += (double)(Kp_cnt * pu);
    st->dig_adds += (double)(Kp_cnt * pu);
    st->dig_muls += (double)(Kp_cnt * pu);
    st->n_tile_reads += (double)Kp_cnt;
}

/* The vectors, phases, latency, MACs and digital work of one chunk (vectors s0 + s >= k_cal
 * are counted). */
static void count_chunk(xb_exec *ex, layer_map *m, const xb_layer *l, const workspace *w, size_t s0, size_t Kc,
                        size_t k_cal)
{
    xb_exec_layer_stats *st = &m->st;
    const size_t nt = m->n_rt * m->n_ct;
    double phases = 0, Kc_cnt = 0;
    for (int ph = 0; ph < 2; ph++)
        for (size_t q = 0; q < w->n_rows[ph]; q++) phases += s0 + w->rows_idx[ph][q] >= k_cal;
    for (size_t s = 0; s < Kc; s++) Kc_cnt += s0 + s >= k_cal;
    /* the slowest tile of the layer (the engine's settling time when it gives one) */
    const int has_time = xb_engine_provides(ex->eng, XB_ENGINE_OP_READ_TIME);
    double tm = has_time ? 0.0 : ex->cfg.energy.t_mvm_s;
    for (size_t t = 0; has_time && t < nt; t++) tm = fmax(tm, xb_engine_read_time_s(m->tiles[t]));
    st->n_vectors += Kc_cnt;
    st->n_phases += phases;
    st->latency_s += phases * tm; /* all tiles of a layer read in parallel */
    st->macs += Kc_cnt * (double)l->n_in * (double)l->n_out;
    /* (fused: the affine correction is fitted after this pass; ex_calibrate_layer counts it) */
    st->dig_adds += Kc_cnt * (double)l->n_out * ((l->bias ? 1 : 0) + (m->affine_ready ? 1 : 0));
    st->dig_muls += Kc_cnt * (double)l->n_out * (m->affine_ready ? 1 : 0);
}

int xb_exec_get_layer_stats(const xb_exec *ex, size_t k, xb_exec_layer_stats *st)
{
    if (k >= ex->n_layers) return XB_EINPUT;
    *st = ex->maps[k].st;
    const xb_exec_energy *e = &ex->cfg.energy;
    int db = ex->cfg.dac_bits > 0 ? ex->cfg.dac_bits : 8, ab = ex->cfg.adc_bits > 0 ? ex->cfg.adc_bits : 8;
    st->e_dac_joule = st->dac_conversions * e->dac_joule_per_bit * db;
    st->e_adc_joule = st->adc_conversions * e->adc_fom_joule_per_step * ldexp(1.0, ab);
    st->e_digital_joule = st->dig_adds * e->dig_add_joule + st->dig_muls * e->dig_mul_joule;
    return XB_OK;
}

void xb_exec_stats_reset(xb_exec *ex)
{
    for (size_t k = 0; k < ex->n_layers; k++) {
        size_t nt = ex->maps[k].st.n_tiles;
        memset(&ex->maps[k].st, 0, sizeof ex->maps[k].st);
        ex->maps[k].st.n_tiles = nt;
    }
}

/* ------------------------------------------------------------------ one analog layer, chunk by chunk */
/* Buffers of one ex_analog_layer call: several tiles at once (multi), the fast form outside
 * MODE_EVAL (fF, fD, fS), or the fast evaluation (fast_eval: no buffers here). */
typedef struct {
    int multi, fast_eval;
    double *mbuf;
    xb_matrix *mv, **mp;
    float *fF, *fD, *fS; /* ex_fast_band: features, band outputs (+ noise variances), pair sums */
    double *fC;          /* ex_fast_band: a vector's per-row cross factors */
} chunk_bufs;

static void chunk_bufs_free(chunk_bufs *b)
{
    free(b->mbuf);
    free(b->mv);
    free(b->mp);
    free(b->fF);
    free(b->fD);
    free(b->fS);
    free(b->fC);
}

static int chunk_bufs_new(xb_exec *ex, size_t k, const xb_layer *l, size_t K, int mode, workspace *w, chunk_bufs *b,
                          xb_error *err)
{
    layer_map *m = &ex->maps[k];
    const size_t R = ex->cfg.tile_rows, C = ex->cfg.tile_cols, P = m->pairs, n_out = l->n_out;
    const size_t kmax = K < XB_EXEC_CHUNK ? K : XB_EXEC_CHUNK;
    memset(b, 0, sizeof *b);
    const size_t need = 2 * m->n_rt * kmax * n_out;
    if (need > w->diff_cap) {
        double *d = realloc(w->diff, need * sizeof(double));
        if (!d) return xb_errorf(err, XB_ERUNTIME, "out of memory (layer %zu currents)", k);
        w->diff = d;
        w->diff_cap = need;
    }
    int rc;
    if (m->fast_state == 0 && (rc = ex_fast_build(ex, m, l, err))) return rc;
    /* An engine that solves one V on all tiles of a row band at once (e.g. in parallel
     * worker processes) gets every column tile's current buffer in one call. */
    b->multi = xb_engine_provides(ex->eng, XB_ENGINE_OP_MVM_MULTI) && m->n_ct > 1 && m->fast_state != 1;
    b->fast_eval = m->fast_state == 1 && mode == MODE_EVAL;
    if (m->fast_state == 1 && !b->fast_eval) {
        const size_t TR = m->fast_terms * R;
        b->fF = malloc(kmax * (TR > R ? TR : R) * sizeof(float));
        b->fD = malloc(2 * kmax * n_out * sizeof(float));
        if (m->resid_rel > 0) b->fS = malloc(kmax * m->n_ct * P * sizeof(float));
        b->fC = malloc(R * sizeof(double));
        if (!b->fF || !b->fD || !b->fC || (m->resid_rel > 0 && !b->fS))
            return xb_errorf(err, XB_ERUNTIME, "out of memory (layer %zu fast path)", k);
    }
    if (b->multi) {
        b->mbuf = malloc(m->n_ct * kmax * C * sizeof(double));
        b->mv = malloc(m->n_ct * sizeof *b->mv);
        b->mp = malloc(m->n_ct * sizeof *b->mp);
        if (!b->mbuf || !b->mv || !b->mp) return xb_errorf(err, XB_ERUNTIME, "out of memory (layer %zu currents)", k);
    }
    return XB_OK;
}

/* Phase 0 drives the positive parts of every vector of the chunk, phase 1 the magnitudes of
 * the negative parts of the vectors that have any (subtracted digitally). */
static void split_phases(workspace *w, const float *Xc, size_t Kc, size_t n_in)
{
    w->n_rows[0] = w->n_rows[1] = 0;
    for (size_t s = 0; s < Kc; s++) {
        w->rows_idx[0][w->n_rows[0]++] = s;
        const float *x = Xc + s * n_in;
        for (size_t i = 0; i < n_in; i++)
            if (x[i] < 0.0f) {
                w->rows_idx[1][w->n_rows[1]++] = s;
                break;
            }
    }
}

/* The DAC voltages of row band r for the vectors of phase ph (w->v) and the counted
 * vectors' sums of V^2 per row (w->colsq). */
static void band_voltages(const xb_exec *ex, const layer_map *m, const xb_layer *l, const float *Xc, int ph, size_t r,
                          size_t s0, size_t k_cal, workspace *w)
{
    const size_t R = ex->cfg.tile_rows, n_in = l->n_in;
    const double sgn = ph == 0 ? 1.0 : -1.0, vr = ex->tile_p.v_read_volt, xr = m->dac_range;
    const int dbits = ex->cfg.dac_bits;
    memset(w->colsq, 0, R * sizeof(double));
    for (size_t q = 0; q < w->n_rows[ph]; q++) {
        const float *x = Xc + w->rows_idx[ph][q] * n_in;
        const int counted = s0 + w->rows_idx[ph][q] >= k_cal;
        double *v = w->vbuf + q * R;
        for (size_t i = 0; i < R; i++) {
            size_t gi = r * R + i;
            double xv = gi < n_in ? sgn * (double)x[gi] : 0.0;
            v[i] = xv > 0 ? ex_dac(xv, xr, dbits, vr) : 0.0;
            if (counted) w->colsq[i] += v[i] * v[i];
        }
    }
}

/* Row band r of phase ph through every column tile's engine (one call for all when multi):
 * the differential currents I+ - I- of the used pairs into Dband (row stride n_out), the
 * device read noise, counted when count. */
static int band_tiles(xb_exec *ex, size_t k, const xb_layer *l, size_t r, size_t Kp, size_t Kp_cnt, int count,
                      const chunk_bufs *b, double *Dband, workspace *w, xb_error *err)
{
    layer_map *m = &ex->maps[k];
    const size_t R = ex->cfg.tile_rows, C = ex->cfg.tile_cols, P = m->pairs, n_out = l->n_out;
    int rc;
    if (b->multi) {
        for (size_t c = 0; c < m->n_ct; c++) {
            b->mv[c] = (xb_matrix){Kp, C, b->mbuf + c * Kp * C};
            b->mp[c] = &b->mv[c];
        }
        if ((rc = xb_engine_mvm_multi(m->tiles + r * m->n_ct, m->n_ct, &w->v, b->mp, err))) {
            xb_error_prefix(err, "layer %zu tile row %zu: ", k, r);
            return rc;
        }
    }
    for (size_t c = 0; c < m->n_ct; c++) {
        size_t t = r * m->n_ct + c;
        const xb_matrix *Im = b->multi ? &b->mv[c] : &w->i;
        if (!b->multi && (rc = xb_engine_mvm(m->tiles[t], &w->v, &w->i, err))) {
            xb_error_prefix(err, "layer %zu tile (%zu,%zu): ", k, r, c);
            return rc;
        }
        if (m->read_sig2) ex_add_read_noise(m, m->read_sig2 + t * R * C, &w->v, Im);
        const size_t pu = (c + 1) * P <= n_out ? P : n_out - c * P; /* pairs in use */
        double *D = Dband + c * P;
        for (size_t q = 0; q < Kp; q++) {
            const double *io = Im->data + q * C;
            for (size_t j = 0; j < pu; j++) D[q * n_out + j] = io[2 * j] - io[2 * j + 1];
        }
        if (count) ex_count_tile(ex, m, l, r, c, Kp, Kp_cnt, w->colsq, &w->v, Im, NULL, &m->st);
    }
    return XB_OK;
}

/* The raw differential currents of every tile, phase and row band of one chunk into w->diff
 * (per-tile path, or the fast form in calibration passes), counted when count. */
static int chunk_currents(xb_exec *ex, size_t k, const xb_layer *l, const float *Xc, size_t Kc, size_t s0,
                          size_t k_cal, int count, const chunk_bufs *b, workspace *w, xb_error *err)
{
    layer_map *m = &ex->maps[k];
    const size_t R = ex->cfg.tile_rows, n_out = l->n_out;
    for (int ph = 0; ph < 2; ph++) {
        const size_t Kp = w->n_rows[ph];
        if (Kp == 0) continue;
        size_t Kp_cnt = 0; /* vectors of this phase that are counted */
        for (size_t q = 0; q < Kp; q++) Kp_cnt += s0 + w->rows_idx[ph][q] >= k_cal;
        w->v.rows = w->i.rows = Kp;
        for (size_t r = 0; r < m->n_rt; r++) {
            band_voltages(ex, m, l, Xc, ph, r, s0, k_cal, w);
            double *Dband = w->diff + (size_t)(ph * m->n_rt + r) * Kc * n_out;
            if (m->fast_state == 1) {
                double *sp = count && m->law ? w->sp : NULL; /* counted: s0 + idx >= k_cal */
                if (sp) memset(sp, 0, m->fast_terms * R * sizeof(double));
                ex_fast_band(ex, m, l, r, ph, w->rows_idx[ph], &w->v, b->fF, b->fD, b->fS, b->fC, Dband, sp,
                             k_cal > s0 ? k_cal - s0 : 0);
                for (size_t c = 0; c < m->n_ct && count; c++)
                    ex_count_tile(ex, m, l, r, c, Kp, Kp_cnt, w->colsq, &w->v, NULL, m->law ? w->sp : NULL, &m->st);
                continue;
            }
            int rc = band_tiles(ex, k, l, r, Kp, Kp_cnt, count, b, Dband, w, err);
            if (rc) return rc;
        }
    }
    return XB_OK;
}

/* The layer's digital output of the chunk: partial sums + bias, the affine correction. */
static void chunk_outputs(const layer_map *m, const xb_layer *l, const workspace *w, size_t Kc, float *Yc)
{
    const size_t n_out = l->n_out;
    for (size_t s = 0; s < Kc; s++) {
        const double *a = w->acc + s * n_out;
        float *y = Yc + s * n_out;
        for (size_t j = 0; j < n_out; j++) {
            double v = a[j] + (l->bias ? (double)l->bias[j] : 0.0);
            if (m->affine_ready) v = m->aff_a[j] * v + m->aff_b[j];
            y[j] = (float)v;
        }
    }
}

int ex_analog_layer(xb_exec *ex, size_t k, const xb_layer *l, const float *X, size_t K, float *Y, int mode,
                    size_t k_cal, workspace *w, xb_error *err)
{
    layer_map *m = &ex->maps[k];
    const size_t n_in = l->n_in, n_out = l->n_out;
    const int fused = mode == MODE_CALIB && k_cal > 0;
    const int count = mode == MODE_EVAL || fused;
    if (!fused) k_cal = 0; /* rows below k_cal: calibration only, not counted */
    if (mode == MODE_CALIB && K > XB_EXEC_CHUNK) return xb_errorf(err, XB_ERUNTIME, "internal: one-pass calibration of %zu vectors", K);
    chunk_bufs b;
    int rc = chunk_bufs_new(ex, k, l, K, mode, w, &b, err);
    for (size_t s0 = 0; s0 < K && !rc; s0 += XB_EXEC_CHUNK) {
        const size_t Kc = K - s0 < XB_EXEC_CHUNK ? K - s0 : XB_EXEC_CHUNK;
        const float *Xc = X + s0 * n_in;
        split_phases(w, Xc, Kc, n_in);
        if (b.fast_eval) {
            memset(w->acc, 0, Kc * n_out * sizeof(double));
            if ((rc = ex_fast_eval_chunk(ex, m, l, Xc, w, err))) break;
        } else {
            if ((rc = chunk_currents(ex, k, l, Xc, Kc, s0, k_cal, count, &b, w, err))) break;
            if (mode == MODE_RANGE || mode == MODE_CALIB) ex_adc_ranges(m, w, Kc, n_out, fused, k_cal);
            if (mode == MODE_RANGE) continue;
            if (mode == MODE_CALIB)
                for (size_t t = 0; t < m->n_rt * m->n_ct; t++) m->adc_range[t] *= ex->cfg.adc_headroom;
            ex_adc_accumulate(ex, m, n_out, Kc, w);
        }
        chunk_outputs(m, l, w, Kc, Y + s0 * n_out);
        if (m->resid_rel > 0) m->resid_base += Kc; /* counter of the residual noise */
        if (count) count_chunk(ex, m, l, w, s0, Kc, k_cal);
    }
    chunk_bufs_free(&b);
    return rc;
}

/* ------------------------------------------------------------------ the network, layer by layer */
/* A layer without weights, digital; its work counted for the samples >= n_cal.  skip: the
 * outputs of an add layer's source. */
static void digital_layer(layer_map *m, const xb_layer *l, const float *in, const float *skip, size_t n, size_t n_cal,
                          float *out)
{
    xb_exec_apply_digital(l, in, skip, n, out);
    if (n > n_cal) {
        double adds, muls;
        xb_exec_digital_ops(l, &adds, &muls);
        m->st.dig_adds += adds * (double)(n - n_cal);
        m->st.dig_muls += muls * (double)(n - n_cal);
    }
}

/* A dense/conv layer on its tiles: the input vectors as rows (dense: the samples; conv:
 * im2col rows, one per output position), calibrated (n_cal > 0) or evaluated; conv outputs
 * back from position-major rows to C,H,W. */
static int weighted_layer(xb_exec *ex, size_t k, const xb_layer *l, const float *in, size_t n, size_t n_cal,
                          float *out, workspace *w, xb_error *err)
{
    const size_t in_sz = xb_layer_in_size(l), out_sz = xb_layer_out_size(l);
    const size_t hw = l->out_h * l->out_w, K = n * hw, K_cal = n_cal * hw;
    const int conv = l->kind == XB_LAYER_CONV2D;
    const float *X = in;
    float *rows = NULL, *yrows = NULL, *Y = out;
    int rc = XB_OK;
    if (conv) {
        const size_t need = K * (l->n_in + l->n_out);
        if (need > ex->conv_cap) {
            float *nb = realloc(ex->conv_buf, need * sizeof(float));
            if (!nb) return xb_errorf(err, XB_ERUNTIME, "out of memory (im2col)");
            ex->conv_buf = nb;
            ex->conv_cap = need;
        }
        rows = ex->conv_buf;
        for (size_t s = 0; s < n; s++) xb_exec_im2col(l, in + s * in_sz, rows + s * hw * l->n_in);
        X = rows;
        yrows = rows + K * l->n_in;
        Y = yrows;
    }
    if (!rc) {
        if (n_cal > 0) rc = ex_calibrate_layer(ex, k, l, X, K, K_cal, Y, w, err);
        else rc = ex_analog_layer(ex, k, l, X, K, Y, MODE_EVAL, 0, w, err);
    }
    if (!rc && conv) /* position-major rows to C,H,W */
        for (size_t s = 0; s < n; s++)
            for (size_t p = 0; p < hw; p++)
                for (size_t c = 0; c < l->n_out; c++) out[s * out_sz + c * hw + p] = yrows[(s * hw + p) * l->n_out + c];
    return rc;
}

static int run_layers(xb_exec *ex, const float *x, size_t n, size_t n_cal, float *const *acts, xb_error *err)
{
    size_t n_out_max = 1;
    for (size_t k = 0; k < ex->n_layers; k++) {
        const xb_layer *l = xb_network_layer(ex->net, k);
        if (ex->maps[k].weighted && l->n_out > n_out_max) n_out_max = l->n_out;
    }
    workspace w;
    int rc = workspace_new(ex, n_out_max, &w, err);
    const float *in = x;
    for (size_t k = 0; k < ex->n_layers && !rc; k++) {
        const xb_layer *l = xb_network_layer(ex->net, k);
        if (ex->maps[k].weighted) rc = weighted_layer(ex, k, l, in, n, n_cal, acts[k], &w, err);
        else
            digital_layer(&ex->maps[k], l, in, l->kind == XB_LAYER_ADD ? (l->source < 0 ? x : acts[l->source]) : NULL, n,
                          n_cal, acts[k]);
        in = acts[k];
    }
    workspace_free(&w);
    return rc;
}

/* The tiles' GEMMs are small: BLAS on one thread for the pass (xb_blas_serial_begin). */
int ex_run(xb_exec *ex, const float *x, size_t n, size_t n_cal, float *const *acts, xb_error *err)
{
    const int nth = xb_blas_serial_begin();
    ex->n_workers = nth > 1 ? (size_t)nth : 1;
    int rc = run_layers(ex, x, n, n_cal, acts, err);
    xb_blas_serial_end(nth);
    return rc;
}

int xb_exec_forward(xb_exec *ex, const float *x, size_t n, float *const *acts, xb_error *err)
{
    if (!ex->calibrated) return xb_errorf(err, XB_EINPUT, "executor not calibrated (call xb_exec_calibrate first)");
    return ex_run(ex, x, n, 0, acts, err);
}
