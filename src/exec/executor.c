/* The tiled analog executor: weight mapping onto differential column pairs, DAC,
 * per-tile MVM through a pluggable engine, ADC, digital partial sums, per-column
 * affine calibration, energy/latency accounting.  docs/executor.md. */
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec_internal.h"
#include "xbar/fit.h"

/* Input vectors per engine call: bounds the V/I buffers (conv layers have one
 * vector per output position). */
#define XB_EXEC_CHUNK 8192

typedef struct {
    int weighted;
    size_t n_rt, n_ct;    /* row tiles (inputs), column tiles (outputs) */
    size_t pairs;         /* logical outputs per tile = tile_cols / 2 */
    xb_engine_tile **tiles; /* n_rt x n_ct programmed tiles */
    double *rowsum_g;     /* n_rt x n_ct x tile_rows: sum over columns of G (energy estimate) */
    double w_max;         /* max |w| of the layer: maps to g_max - g_min */
    double dac_range;     /* input full scale */
    double *adc_range;    /* per tile, amperes (0: not calibrated / silent tile) */
    double *aff_a, *aff_b; /* n_out */
    int affine_ready;
    xb_exec_layer_stats st;
    xb_matrix **g_prog;   /* per tile: programmed conductances (read at t0), for drift */
    uint64_t *tile_seed;  /* per tile programming seed */
    double *drift_alpha;  /* per tile global drift compensation factor (1: none) */
    double *drift_ref;    /* per tile summed column current of an all-ones input at t0 */
    double *read_sig2;    /* NULL, or per tile R x C read-noise variances (S^2) at the set time */
    uint64_t rn_state;    /* read-noise stream of this layer */
    /* fast path (engines with a fast form, xb_engine_fast_form): per row band the
     * differential weights M_p(G+) - M_p(G-) of every column tile as floats; built on first
     * use, dropped when the tiles are programmed again */
    int fast_state;       /* 0: not built yet, 1: built, -1: not available */
    size_t fast_terms;
    const xb_fit_basis *fast_basis;
    float *fast_w;        /* n_rt x (terms x R) x n_out */
    float *fast_s2;       /* NULL, or n_rt x R x n_out: read-noise variance of each pair */
    float *fast_lut;      /* NULL, or terms x 2^dac_bits: the basis at the DAC levels */
    int law;              /* the engine's energy law is used on the fast path */
    double law_k_res, law_k_cap;
    double resid_rel;     /* the engine's residual output noise (relative), 0: none */
    float *fast_wsum;     /* resid_rel > 0: n_rt x (terms x R) x (n_ct x pairs), M_p(G+) + M_p(G-) */
    uint64_t resid_seed;  /* counter-based residual noise: layer key ... */
    uint64_t resid_base;  /* ... and vectors drawn so far */
} layer_map;

struct xb_exec {
    const xb_network *net;
    xb_exec_config cfg;
    xb_engine *eng;         /* borrowed */
    xb_array_params tile_p; /* cfg.array with rows/cols = tile size */
    size_t n_layers;
    layer_map *maps;
    int calibrated;
    size_t n_workers; /* fast-path threads in this pass: the BLAS thread count before it */
};

/* ------------------------------------------------------------------ config */
void xb_exec_config_default(xb_exec_config *c, xb_device_kind device)
{
    memset(c, 0, sizeof *c);
    c->tile_rows = 64;
    c->tile_cols = 64;
    /* 8-bit DAC and ADC: aihwkit StandardIOParameters (inp_res = out_res = 1/254). */
    c->dac_bits = 8;
    c->adc_bits = 8;
    c->dac_range = 0.0; /* calibrated per layer */
    c->adc_headroom = 1.0;
    c->affine_calibration = 1;
    xb_array_params_default(&c->array, device);
    /* ADC: ISAAC's 8-bit 1.28 GS/s SAR ADC, 2 mW each (Shafiee et al., ISCA 2016, Table 2,
     * after Kull et al., ISSCC 2013): 1.56 pJ per conversion = 6.1 fJ per level (Walden). */
    c->energy.adc_fom_joule_per_step = 2e-3 / 1.28e9 / 256.0;
    /* DAC + row driver: ISAAC's 1-bit DACs, 4 mW for 8 x 128 of them at a 100 ns
     * read: 0.39 pJ per bit (ISCA 2016, Table 2); a B-bit input costs B of them. */
    c->energy.dac_joule_per_bit = 4e-3 / 1024.0 * 100e-9;
    /* Digital work: 45 nm, Horowitz ISSCC 2014 "Computing's energy problem":
     * 32-bit int add 0.1 pJ, 32-bit int mult 3.1 pJ; fp32 add 0.9 + mult 3.7 pJ;
     * 8-bit int add 0.03 + mult 0.2 pJ (arithmetic only, no memory access). */
    c->energy.dig_add_joule = 0.1e-12;
    c->energy.dig_mul_joule = 3.1e-12;
    c->energy.base_mac_fp32_joule = 4.6e-12;
    c->energy.base_mac_int8_joule = 0.23e-12;
    /* One crossbar read incl. conversion: 100 ns (ISAAC, ISCA 2016). The fitted
     * settling time replaces it when the engine has a read time (xb_engine_read_time_s). */
    c->energy.t_mvm_s = 100e-9;
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

/* ------------------------------------------------------------------ mapping */
static void fast_drop(layer_map *m)
{
    free(m->fast_w);
    free(m->fast_s2);
    free(m->fast_lut);
    free(m->fast_wsum);
    m->fast_wsum = NULL;
    m->resid_rel = 0;
    m->fast_w = m->fast_s2 = m->fast_lut = NULL;
    m->fast_state = 0;
    m->law = 0;
}

static void free_map(xb_exec *ex, layer_map *m)
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
    fast_drop(m);
}

void xb_exec_free(xb_exec *ex)
{
    if (!ex) return;
    for (size_t k = 0; k < ex->n_layers; k++) free_map(ex, &ex->maps[k]);
    free(ex->maps);
    free(ex);
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
    const size_t nt = m->n_rt * m->n_ct;
    m->tiles = calloc(nt, sizeof *m->tiles);
    m->rowsum_g = calloc(nt * R, sizeof(double));
    m->adc_range = calloc(nt, sizeof(double));
    m->aff_a = malloc(l->n_out * sizeof(double));
    m->aff_b = malloc(l->n_out * sizeof(double));
    m->g_prog = calloc(nt, sizeof *m->g_prog);
    m->tile_seed = calloc(nt, sizeof *m->tile_seed);
    m->drift_alpha = calloc(nt, sizeof(double));
    m->drift_ref = calloc(nt, sizeof(double));
    xb_matrix *g = xb_matrix_new(R, C);
    if (!m->tiles || !m->rowsum_g || !m->adc_range || !m->aff_a || !m->aff_b || !g || !m->g_prog ||
        !m->tile_seed || !m->drift_alpha || !m->drift_ref) {
        xb_matrix_free(g);
        return xb_errorf(err, XB_ERUNTIME, "out of memory (layer %zu tiles)", k);
    }
    for (size_t j = 0; j < l->n_out; j++) {
        m->aff_a[j] = 1.0;
        m->aff_b[j] = 0.0;
    }
    double wmax = 0;
    for (size_t i = 0; i < l->n_out * l->n_in; i++) wmax = fmax(wmax, fabs((double)l->weight[i]));
    m->w_max = wmax > 0 ? wmax : 1.0;
    const double gmin = ex->tile_p.g_min_siemens, dg = ex->tile_p.g_max_siemens - gmin;
    m->st.n_tiles = nt;
    int rc = XB_OK;
    for (size_t r = 0; r < m->n_rt && !rc; r++)
        for (size_t c = 0; c < m->n_ct && !rc; c++) {
            /* Unused rows and column pairs stay at g_min (an erased physical array). */
            for (size_t i = 0; i < R; i++)
                for (size_t jj = 0; jj < C; jj++) g->data[i * C + jj] = gmin;
            for (size_t i = 0; i < R; i++) {
                size_t gi = r * R + i;
                if (gi >= l->n_in) break;
                for (size_t j = 0; j < P; j++) {
                    size_t gj = c * P + j;
                    if (gj >= l->n_out) break;
                    xb_exec_weight_pair((double)l->weight[gj * l->n_in + gi], m->w_max, gmin, dg,
                                        &g->data[i * C + 2 * j], &g->data[i * C + 2 * j + 1]);
                }
            }
            /* A seed of its own per tile (splitmix64 of seed, layer, tile). */
            m->tile_seed[r * m->n_ct + c] = xb_hash64(
                ex->tile_p.seed + XB_SPLITMIX64_GAMMA * (1 + ((uint64_t)k << 40) + ((uint64_t)r << 20) + c));
            m->drift_alpha[r * m->n_ct + c] = 1.0;
            if (ex->tile_p.var_program || ex->tile_p.stuck_on_rate > 0 || ex->tile_p.stuck_off_rate > 0) {
                xb_array_params tp = ex->tile_p;
                tp.seed = m->tile_seed[r * m->n_ct + c];
                rc = xb_netlist_program(&tp, g, g, err);
                if (rc) {
                    xb_error_prefix(err, "layer %zu tile (%zu,%zu): ", k, r, c);
                    break;
                }
            }
            double *rs = m->rowsum_g + (r * m->n_ct + c) * R;
            for (size_t i = 0; i < R; i++) {
                double s = 0;
                for (size_t jj = 0; jj < C; jj++) s += g->data[i * C + jj];
                rs[i] = s;
            }
            if (!(m->g_prog[r * m->n_ct + c] = xb_matrix_new(R, C))) {
                rc = xb_errorf(err, XB_ERUNTIME, "out of memory (layer %zu tiles)", k);
                break;
            }
            memcpy(m->g_prog[r * m->n_ct + c]->data, g->data, R * C * sizeof(double));
            rc = xb_engine_program(ex->eng, &ex->tile_p, g, &m->tiles[r * m->n_ct + c], err);
            if (rc) xb_error_prefix(err, "layer %zu tile (%zu,%zu): ", k, r, c);
        }
    xb_matrix_free(g);
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
        if (l->kind == XB_LAYER_DENSE || l->kind == XB_LAYER_CONV2D) rc = map_layer(ex, k, l, err);
    }
    if (rc) {
        xb_exec_free(ex);
        return rc;
    }
    *out = ex;
    return XB_OK;
}

/* Device read noise of one tile MVM: independent cell noise of variance s2[i][j] gives the
 * column current I_j the exact Gaussian noise N(0, sqrt(sum_i V_i^2 s2_ij)) (docs/drift.md). */
static double rn_gauss(uint64_t *s)
{
    const uint64_t a = xb_splitmix64(s);
    return xb_gauss_from_bits(a, xb_splitmix64(s));
}

static void add_read_noise(layer_map *m, const double *s2, const xb_matrix *v, const xb_matrix *i_out)
{
    const size_t R = v->cols, C = i_out->cols;
    for (size_t q = 0; q < v->rows; q++) {
        const double *vq = v->data + q * R;
        double *io = i_out->data + q * C;
        for (size_t j = 0; j < C; j++) {
            double var = 0;
            for (size_t i = 0; i < R; i++) var += vq[i] * vq[i] * s2[i * C + j];
            if (var > 0) io[j] += sqrt(var) * rn_gauss(&m->rn_state);
        }
    }
}

/* ------------------------------------------------------------------ converters */
/* DAC: magnitude x >= 0 (one input phase) to volts on [0, v_read]. */
static double dac(double x, double range, int bits, double v_read)
{
    double u = x / range;
    if (u > 1.0) u = 1.0;
    if (u < 0.0) u = 0.0;
    if (bits > 0) {
        double L = ldexp(1.0, bits) - 1.0;
        u = nearbyint(u * L) / L;
    }
    return u * v_read;
}

/* ------------------------------------------------------------------ fast path */
/* Gather the fast forms of layer k's tiles into per-band float weights (fast_state 1), or
 * mark the layer as per-tile (-1): engine without fast forms, an array-energy hook (it
 * needs the per-tile currents), tiles with different bases or numbers of terms. */
static int fast_build(xb_exec *ex, layer_map *m, const xb_layer *l, xb_error *err)
{
    const size_t R = ex->cfg.tile_rows, C = ex->cfg.tile_cols, P = m->pairs, n_out = l->n_out;
    const size_t nt = m->n_rt * m->n_ct;
    fast_drop(m);
    m->fast_state = -1;
    double k_res = 0, k_cap = 0;
    const int law = xb_engine_energy_law(ex->eng, &k_res, &k_cap);
    if (xb_engine_provides(ex->eng, XB_ENGINE_OP_ARRAY_ENERGY) && !law) return XB_OK;
    const xb_fit_fast *f0 = xb_engine_fast_form(m->tiles[0]);
    if (!f0) return XB_OK;
    const size_t T = xb_fit_fast_terms(f0);
    const xb_fit_basis *b = xb_fit_fast_basis(f0);
    for (size_t t = 1; t < nt; t++) {
        const xb_fit_fast *f = xb_engine_fast_form(m->tiles[t]);
        if (!f || xb_fit_fast_terms(f) != T || xb_fit_fast_basis(f) != b) return XB_OK;
    }
    const size_t TR = T * R;
    m->fast_w = malloc(m->n_rt * TR * n_out * sizeof(float));
    if (m->read_sig2) m->fast_s2 = malloc(m->n_rt * R * n_out * sizeof(float));
    const int dbits = ex->cfg.dac_bits;
    const size_t nl = dbits > 0 && dbits <= 16 ? ((size_t)1 << dbits) : 0; /* DAC levels 0..2^B-1 */
    if (nl) m->fast_lut = malloc(T * nl * sizeof(float));
    const double rel = xb_engine_residual_noise(ex->eng);
    const size_t NP = m->n_ct * P; /* every pair of every column tile, used or not */
    if (rel > 0) m->fast_wsum = malloc(m->n_rt * TR * NP * sizeof(float));
    if (!m->fast_w || (m->read_sig2 && !m->fast_s2) || (nl && !m->fast_lut) ||
        (rel > 0 && !m->fast_wsum)) {
        fast_drop(m);
        return xb_errorf(err, XB_ERUNTIME, "out of memory (fast-path weights)");
    }
    for (size_t r = 0; r < m->n_rt; r++)
        for (size_t c = 0; c < m->n_ct; c++) {
            const size_t t = r * m->n_ct + c, pu = (c + 1) * P <= n_out ? P : n_out - c * P;
            const xb_fit_fast *f = xb_engine_fast_form(m->tiles[t]);
            for (size_t p = 0; p < T; p++) {
                const double *M = xb_fit_fast_matrix(f, p);
                for (size_t i = 0; i < R; i++) {
                    float *w = m->fast_w + (r * TR + p * R + i) * n_out + c * P;
                    for (size_t j = 0; j < pu; j++) w[j] = (float)(M[i * C + 2 * j] - M[i * C + 2 * j + 1]);
                    if (rel > 0) {
                        float *ws = m->fast_wsum + (r * TR + p * R + i) * NP + c * P;
                        for (size_t j = 0; j < P; j++) ws[j] = (float)(M[i * C + 2 * j] + M[i * C + 2 * j + 1]);
                    }
                }
            }
            if (m->fast_s2)
                for (size_t i = 0; i < R; i++) {
                    const double *s2 = m->read_sig2 + t * R * C + i * C;
                    float *o = m->fast_s2 + (r * R + i) * n_out + c * P;
                    for (size_t j = 0; j < pu; j++) o[j] = (float)(s2[2 * j] + s2[2 * j + 1]);
                }
        }
    const double vr = ex->tile_p.v_read_volt;
    for (size_t p = 0; p < T && nl; p++)
        for (size_t q = 0; q < nl; q++)
            m->fast_lut[p * nl + q] = (float)xb_fit_basis_eval(b, p, vr * (double)q / (double)(nl - 1));
    m->fast_terms = T;
    m->fast_basis = b;
    m->fast_state = 1;
    m->law = law;
    m->law_k_res = k_res;
    m->law_k_cap = k_cap;
    m->resid_rel = rel;
    m->resid_seed = m->tile_seed[0] ^ 0x2E51D0A15E0ull;
    return XB_OK;
}

/* ------------------------------------------------------------------ one layer */
typedef struct {
    xb_matrix v, i;      /* views on buffers: K x R volts, K x C amperes */
    double *vbuf, *ibuf;
    double *acc;         /* chunk x n_out */
    size_t *rows_idx[2]; /* vectors of each input phase */
    size_t n_rows[2];
    double *colsq;       /* R: sum over vectors of V^2 per row */
    double *diff;        /* raw I+ - I-: 2 phases x n_rt x chunk x n_out */
    size_t diff_cap;
    double *vsq;         /* fast path: V^2 per DAC level (2^16) */
    double *sp;          /* fast path, energy law: sum over vectors of v phi_p(v), terms x R */
} workspace;

/* MODE_EVAL: quantize with the current ADC ranges, accumulate, count energy.
 * MODE_RANGE: only record the ADC ranges (max |I+ - I-| per tile); Y untouched.
 * MODE_CALIB: both in one pass (the whole batch is one chunk): ranges from this
 * batch, then quantize the same currents; nothing counted. */
enum { MODE_EVAL = 0, MODE_RANGE = 1, MODE_CALIB = 2 };

/* Statistics of one tile read of Kp vectors (Kp_cnt of them counted): array energy
 * (the engine's, or the Joule heat sum_i V_i^2 sum_j G_ij over the read time), conversions,
 * digital work. */
static void count_tile(xb_exec *ex, layer_map *m, const xb_layer *l, size_t r, size_t c, size_t Kp, size_t Kp_cnt,
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

/* Counter-based standard normal: the same number for the same key in any thread and order. */
static double key_gauss(uint64_t key)
{
    return xb_gauss_from_bits(xb_hash64(key + XB_SPLITMIX64_GAMMA),
                              xb_hash64((key ^ 0x632BE59BD9B4E019ull) + XB_SPLITMIX64_GAMMA));
}

/* The engine's residual output noise (resid_rel) on a band's differential outputs Df (nb
 * rows, stride n_out; vectors idx[b] of the chunk, phase ph): every physical column gets
 * N(0, rel x rms_tile), rms over the tile's C column currents of that vector, from the pair
 * sums S = F Wsum_r and differences D: sum_j I_j^2 = sum_pairs (S^2 + D^2)/2; a pair's
 * difference then carries sqrt(2) x that. */
static void resid_band(const xb_exec *ex, const layer_map *m, const xb_layer *l, size_t r, int ph, size_t nb,
                       const float *F, const size_t *idx, float *S, float *Df)
{
    const size_t R = ex->cfg.tile_rows, C = ex->cfg.tile_cols, P = m->pairs, TR = m->fast_terms * R;
    const size_t n_out = l->n_out, NP = m->n_ct * P;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)NP, (int)TR, 1.0f, F, (int)TR,
                m->fast_wsum + r * TR * NP, (int)NP, 0.0f, S, (int)NP);
    for (size_t b = 0; b < nb; b++) {
        float *d = Df + b * n_out;
        const float *sb = S + b * NP;
        const uint64_t kv =
            xb_hash64((m->resid_seed ^ ((m->resid_base + idx[b]) * 0xD1B54A32D192ED03ull)) + XB_SPLITMIX64_GAMMA) ^
            ((uint64_t)ph << 62);
        for (size_t c = 0; c < m->n_ct; c++) {
            double sum = 0;
            for (size_t j = c * P; j < (c + 1) * P; j++) {
                const double dj = j < n_out ? (double)d[j] : 0.0;
                sum += (double)sb[j] * sb[j] + dj * dj;
            }
            const double sd = sqrt(2.0) * m->resid_rel * sqrt(0.5 * sum / (double)C);
            const size_t j1 = (c + 1) * P <= n_out ? (c + 1) * P : n_out, t = r * m->n_ct + c;
            for (size_t j = c * P; j < j1; j++)
                d[j] = (float)((double)d[j] + sd * key_gauss(kv ^ ((uint64_t)t << 24) ^ (uint64_t)(j - c * P)));
        }
    }
}

/* Fast path of one row band (fast_state 1): the DAC voltages of the band's Kp vectors
 * (w->v) through the basis functions (F: Kp x terms*R), one sgemm with the band's
 * differential weights (Df: Kp x n_out), the pair read noise if set (a second sgemm with
 * the squared voltages gives every output's variance), written to D (row stride n_out).
 * sp (energy law, or NULL): sum over the vectors with idx >= k_first of v phi_p(v). */
static void fast_band(xb_exec *ex, layer_map *m, const xb_layer *l, size_t r, int ph, const size_t *idx,
                      const xb_matrix *v, float *F, float *Df, float *S, double *D, double *sp, size_t k_first)
{
    const size_t R = ex->cfg.tile_rows, T = m->fast_terms, TR = T * R, Kp = v->rows, n_out = l->n_out;
    const double vr = ex->tile_p.v_read_volt;
    const size_t nl = m->fast_lut ? ((size_t)1 << ex->cfg.dac_bits) : 0;
    const double lev = nl ? (double)(nl - 1) / vr : 0.0;
    for (size_t q = 0; q < Kp; q++) {
        const double *vq = v->data + q * R;
        float *fq = F + q * TR;
        for (size_t i = 0; i < R; i++) {
            if (vq[i] == 0.0) {
                for (size_t p = 0; p < T; p++) fq[p * R + i] = 0.0f;
            } else if (nl) {
                size_t n = (size_t)nearbyint(vq[i] * lev); /* the DAC level (exact) */
                for (size_t p = 0; p < T; p++) fq[p * R + i] = m->fast_lut[p * nl + n];
            } else {
                for (size_t p = 0; p < T; p++) fq[p * R + i] = (float)xb_fit_basis_eval(m->fast_basis, p, vq[i]);
            }
        }
        if (sp && idx[q] >= k_first)
            for (size_t p = 0; p < T; p++)
                for (size_t i = 0; i < R; i++) sp[p * R + i] += vq[i] * fq[p * R + i];
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Kp, (int)n_out, (int)TR, 1.0f, F, (int)TR,
                m->fast_w + r * TR * n_out, (int)n_out, 0.0f, Df, (int)n_out);
    if (m->resid_rel > 0) resid_band(ex, m, l, r, ph, Kp, F, idx, S, Df);
    for (size_t q = 0; q < Kp; q++)
        for (size_t j = 0; j < n_out; j++) D[q * n_out + j] = (double)Df[q * n_out + j];
    if (m->fast_s2) {
        for (size_t q = 0; q < Kp; q++)
            for (size_t i = 0; i < R; i++) F[q * R + i] = (float)(v->data[q * R + i] * v->data[q * R + i]);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Kp, (int)n_out, (int)R, 1.0f, F, (int)R,
                    m->fast_s2 + r * R * n_out, (int)n_out, 0.0f, Df, (int)n_out);
        for (size_t q = 0; q < Kp * n_out; q++)
            if (Df[q] > 0) D[q] += sqrt((double)Df[q]) * rn_gauss(&m->rn_state);
    }
}

/* Round to nearest, ties to even (as nearbyint in the default mode), for |x| < 2^51,
 * without a library call, so that the converter loops vectorize. */
static inline double round_even(double x) { return (x + 0x1.8p52) - 0x1.8p52; }

#define XB_EXEC_MAX_WORKERS 8
#define XB_FAST_BLOCK 256 /* vectors per block: features, band outputs and sums stay in cache */

/* One worker of fast_eval_chunk: the blocks tid, tid + nthr, ... of one input phase, with
 * buffers and statistics of its own (vector rows of w->acc are disjoint between blocks). */
typedef struct {
    xb_exec *ex;
    layer_map *m;
    const xb_layer *l;
    const float *Xc;
    const workspace *w;
    int ph;
    size_t tid, nthr;
    float *F, *Df;             /* block features (B x max(terms R, R)), outputs (+ variances) */
    float *S;                  /* residual noise: pair sums (B x n_ct pairs) */
    double *adc, *colsq, *sp, *vbuf;
    int *lev;
    xb_exec_layer_stats st;    /* this worker's share, merged by the caller */
} fast_job;

static void *fast_job_run(void *arg)
{
    fast_job *jb = arg;
    xb_exec *ex = jb->ex;
    layer_map *m = jb->m;
    const workspace *w = jb->w;
    const xb_layer *l = jb->l;
    const int ph = jb->ph;
    const size_t R = ex->cfg.tile_rows, P = m->pairs, T = m->fast_terms, TR = T * R;
    const size_t n_in = l->n_in, n_out = l->n_out;
    const double vr = ex->tile_p.v_read_volt, dg = ex->tile_p.g_max_siemens - ex->tile_p.g_min_siemens;
    const double xr = m->dac_range, scale = m->w_max * xr / (dg * vr);
    const int abits = ex->cfg.adc_bits, dbits = ex->cfg.dac_bits;
    const size_t nl = m->fast_lut ? ((size_t)1 << dbits) : 0;
    const double L = nl ? (double)(nl - 1) : 0.0;
    double *rng = jb->adc, *inv = jb->adc + n_out, *mul = jb->adc + 2 * n_out;
    const double inv_xr = 1.0 / xr, vstep = nl ? vr / L : 0.0;
    const double *vsq = w->vsq; /* V^2 at each DAC level */
    const double sgn = ph == 0 ? 1.0 : -1.0;
    const size_t Kp = w->n_rows[ph];
    float *F = jb->F, *Df = jb->Df;
    double *colsq = jb->colsq, *sp = jb->sp, *vbuf = jb->vbuf;
    int *lev = jb->lev;
    for (size_t q0 = jb->tid * XB_FAST_BLOCK; q0 < Kp; q0 += jb->nthr * XB_FAST_BLOCK) {
        const size_t nb = Kp - q0 < XB_FAST_BLOCK ? Kp - q0 : XB_FAST_BLOCK;
        for (size_t r = 0; r < m->n_rt; r++) {
            memset(colsq, 0, R * sizeof(double));
            if (m->law) memset(sp, 0, TR * sizeof(double));
            const size_t ru = (r + 1) * R <= n_in ? R : n_in - r * R; /* rows in use */
            for (size_t b = 0; b < nb; b++) {
                const float *x = jb->Xc + w->rows_idx[ph][q0 + b] * n_in + r * R;
                float *fq = F + b * TR;
                double *vq = vbuf + b * R;
                if (nl) {
                    /* DAC levels (level 0 for x <= 0: phi(0) = 0), then table lookups */
                    for (size_t i = 0; i < ru; i++) {
                        double u = sgn * (double)x[i] * inv_xr;
                        u = u < 0.0 ? 0.0 : u;
                        u = u > 1.0 ? 1.0 : u;
                        lev[i] = (int)round_even(u * L);
                    }
                    for (size_t i = ru; i < R; i++) lev[i] = 0;
                    for (size_t p = 0; p < T; p++) {
                        const float *lut = m->fast_lut + p * nl;
                        for (size_t i = 0; i < R; i++) fq[p * R + i] = lut[lev[i]];
                    }
                    for (size_t i = 0; i < R; i++) colsq[i] += vsq[lev[i]];
                    if (m->law)
                        for (size_t p = 0; p < T; p++)
                            for (size_t i = 0; i < R; i++) sp[p * R + i] += (double)lev[i] * vstep * fq[p * R + i];
                    if (m->fast_s2)
                        for (size_t i = 0; i < R; i++) vq[i] = (double)lev[i] * vstep;
                    continue;
                }
                for (size_t i = 0; i < R; i++) {
                    const double xv = i < ru ? sgn * (double)x[i] : 0.0;
                    const double v = xv > 0 ? dac(xv, xr, dbits, vr) : 0.0;
                    for (size_t p = 0; p < T; p++) {
                        fq[p * R + i] = v > 0 ? (float)xb_fit_basis_eval(m->fast_basis, p, v) : 0.0f;
                        if (m->law) sp[p * R + i] += v * fq[p * R + i];
                    }
                    vq[i] = v;
                    colsq[i] += v * v;
                }
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)n_out, (int)TR, 1.0f, F, (int)TR,
                        m->fast_w + r * TR * n_out, (int)n_out, 0.0f, Df, (int)n_out);
            if (m->resid_rel > 0) resid_band(ex, m, l, r, ph, nb, F, w->rows_idx[ph] + q0, jb->S, Df);
            float *var = Df + XB_FAST_BLOCK * n_out;
            if (m->fast_s2) {
                for (size_t b = 0; b < nb; b++)
                    for (size_t i = 0; i < R; i++) F[b * R + i] = (float)(vbuf[b * R + i] * vbuf[b * R + i]);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)n_out, (int)R, 1.0f, F, (int)R,
                            m->fast_s2 + r * R * n_out, (int)n_out, 0.0f, var, (int)n_out);
            }
            /* the converters of this band: range, 1/step and the digital weight of a level */
            for (size_t c = 0; c < m->n_ct; c++) {
                const size_t t = r * m->n_ct + c, j1 = (c + 1) * P <= n_out ? (c + 1) * P : n_out;
                const double range = m->adc_range[t], alpha = m->drift_alpha[t];
                const double step = abits > 0 && range > 0 ? range / (ldexp(1.0, abits - 1) - 1.0) : 0.0;
                for (size_t j = c * P; j < j1; j++) {
                    rng[j] = range;
                    inv[j] = step > 0 ? 1.0 / step : 0.0;
                    mul[j] = (ph == 0 ? scale : -scale) * alpha * (abits > 0 ? step : 1.0);
                }
            }
            for (size_t b = 0; b < nb; b++) {
                double *a = w->acc + w->rows_idx[ph][q0 + b] * n_out;
                float *d = Df + b * n_out;
                if (m->fast_s2) /* one worker only: the layer's noise stream is sequential */
                    for (size_t j = 0; j < n_out; j++)
                        if (var[b * n_out + j] > 0)
                            d[j] = (float)((double)d[j] + sqrt((double)var[b * n_out + j]) * rn_gauss(&m->rn_state));
                if (abits <= 0) {
                    for (size_t j = 0; j < n_out; j++) a[j] += mul[j] * (double)d[j];
                } else {
                    for (size_t j = 0; j < n_out; j++) {
                        double dd = (double)d[j];
                        dd = dd > rng[j] ? rng[j] : dd;
                        dd = dd < -rng[j] ? -rng[j] : dd;
                        a[j] += mul[j] * round_even(dd * inv[j]);
                    }
                }
            }
            for (size_t c = 0; c < m->n_ct; c++)
                count_tile(ex, m, l, r, c, nb, nb, colsq, NULL, NULL, m->law ? sp : NULL, &jb->st);
        }
    }
    return NULL;
}

/* The fast path of one chunk in MODE_EVAL (the hot loop of a forward pass): per block of
 * vectors and row band, DAC levels -> basis features -> one sgemm -> pair read noise ->
 * ADC -> digital partial sums in w->acc (cleared by the caller), with the statistics.  The
 * same numbers as fast_band + the general ADC step, without the full-layer current buffer.
 * Blocks are spread over up to ex->n_workers threads, each calling single-threaded BLAS
 * (statistics merged in worker order: deterministic for a given thread count); with pair
 * read noise one worker keeps the layer's noise stream in order. */
static int fast_eval_chunk(xb_exec *ex, layer_map *m, const xb_layer *l, const float *Xc, workspace *w, xb_error *err)
{
    const size_t R = ex->cfg.tile_rows, T = m->fast_terms, TR = T * R, n_out = l->n_out;
    const size_t nl = m->fast_lut ? ((size_t)1 << ex->cfg.dac_bits) : 0;
    const double vstep = nl ? ex->tile_p.v_read_volt / (double)(nl - 1) : 0.0;
    for (size_t q = 0; q < nl; q++) w->vsq[q] = ((double)q * vstep) * ((double)q * vstep);
    const size_t Kmax = w->n_rows[0] > w->n_rows[1] ? w->n_rows[0] : w->n_rows[1];
    const size_t nblk = (Kmax + XB_FAST_BLOCK - 1) / XB_FAST_BLOCK;
    size_t nthr = m->fast_s2 ? 1 : ex->n_workers;
    if (nthr > nblk) nthr = nblk;
    if (nthr > XB_EXEC_MAX_WORKERS) nthr = XB_EXEC_MAX_WORKERS;
    if (nthr < 1) nthr = 1;
    fast_job jobs[XB_EXEC_MAX_WORKERS];
    memset(jobs, 0, sizeof jobs);
    int rc = XB_OK;
    for (size_t t = 0; t < nthr && !rc; t++) {
        fast_job *jb = &jobs[t];
        jb->F = malloc(XB_FAST_BLOCK * (TR > R ? TR : R) * sizeof(float));
        jb->Df = malloc(2 * XB_FAST_BLOCK * n_out * sizeof(float));
        jb->adc = malloc(3 * n_out * sizeof(double));
        jb->colsq = malloc(R * sizeof(double));
        jb->sp = malloc(TR * sizeof(double));
        jb->vbuf = malloc(XB_FAST_BLOCK * R * sizeof(double));
        jb->lev = malloc(R * sizeof(int));
        if (m->resid_rel > 0) jb->S = malloc(XB_FAST_BLOCK * m->n_ct * m->pairs * sizeof(float));
        if (!jb->F || !jb->Df || !jb->adc || !jb->colsq || !jb->sp || !jb->vbuf || !jb->lev ||
            (m->resid_rel > 0 && !jb->S))
            rc = xb_errorf(err, XB_ERUNTIME, "out of memory (fast path)");
    }
    for (int ph = 0; ph < 2 && !rc; ph++) {
        if (w->n_rows[ph] == 0) continue;
        pthread_t th[XB_EXEC_MAX_WORKERS];
        int started[XB_EXEC_MAX_WORKERS] = {0};
        for (size_t t = 0; t < nthr; t++) {
            fast_job *jb = &jobs[t];
            jb->ex = ex;
            jb->m = m;
            jb->l = l;
            jb->Xc = Xc;
            jb->w = w;
            jb->ph = ph;
            jb->tid = t;
            jb->nthr = nthr;
            memset(&jb->st, 0, sizeof jb->st);
            if (t > 0) started[t] = pthread_create(&th[t], NULL, fast_job_run, jb) == 0;
            if (t > 0 && !started[t]) jb->tid = SIZE_MAX; /* run below, in this thread */
        }
        fast_job_run(&jobs[0]);
        for (size_t t = 1; t < nthr; t++) {
            if (started[t]) {
                pthread_join(th[t], NULL);
            } else { /* thread creation failed: this block share runs here */
                jobs[t].tid = t;
                fast_job_run(&jobs[t]);
            }
        }
        for (size_t t = 0; t < nthr; t++) {
            const xb_exec_layer_stats *s = &jobs[t].st;
            m->st.e_array_joule += s->e_array_joule;
            m->st.dac_conversions += s->dac_conversions;
            m->st.adc_conversions += s->adc_conversions;
            m->st.dig_adds += s->dig_adds;
            m->st.dig_muls += s->dig_muls;
            m->st.n_tile_reads += s->n_tile_reads;
        }
    }
    for (size_t t = 0; t < nthr; t++) {
        free(jobs[t].F);
        free(jobs[t].Df);
        free(jobs[t].adc);
        free(jobs[t].colsq);
        free(jobs[t].sp);
        free(jobs[t].vbuf);
        free(jobs[t].lev);
        free(jobs[t].S);
    }
    return rc;
}

/* Analog y = W x (+ bias, + affine) for K input vectors X (K x n_in, float rows). */
/* k_cal > 0 (MODE_CALIB only, fused calibration + evaluation): the first k_cal rows are
 * the calibration batch (they set the ADC ranges), the others are evaluated with those
 * ranges and counted in the statistics. */
static int analog_layer(xb_exec *ex, size_t k, const xb_layer *l, const float *X, size_t K, float *Y, int mode,
                        size_t k_cal, workspace *w, xb_error *err)
{
    layer_map *m = &ex->maps[k];
    const size_t R = ex->cfg.tile_rows, C = ex->cfg.tile_cols, P = m->pairs, n_in = l->n_in, n_out = l->n_out;
    const size_t nt = m->n_rt * m->n_ct;
    const double vr = ex->tile_p.v_read_volt, dg = ex->tile_p.g_max_siemens - ex->tile_p.g_min_siemens;
    const int dbits = ex->cfg.dac_bits, abits = ex->cfg.adc_bits;
    const double xr = m->dac_range;
    /* Current to weight-sum units: I = sum V_i w_i dg / w_max, V = x v_read / xr. */
    const double scale = m->w_max * xr / (dg * vr);
    const double t_mvm_default = ex->cfg.energy.t_mvm_s;
    xb_exec_layer_stats *st = &m->st;
    const int fused = mode == MODE_CALIB && k_cal > 0;
    const int count = mode == MODE_EVAL || fused;
    if (!fused) k_cal = 0; /* rows below k_cal: calibration only, not counted */
    if (mode == MODE_CALIB && K > XB_EXEC_CHUNK) return xb_errorf(err, XB_ERUNTIME, "internal: one-pass calibration of %zu vectors", K);
    const size_t need = 2 * m->n_rt * (K < XB_EXEC_CHUNK ? K : XB_EXEC_CHUNK) * n_out;
    if (need > w->diff_cap) {
        double *d = realloc(w->diff, need * sizeof(double));
        if (!d) return xb_errorf(err, XB_ERUNTIME, "out of memory (layer %zu currents)", k);
        w->diff = d;
        w->diff_cap = need;
    }
    int rc = XB_OK;
    if (m->fast_state == 0 && (rc = fast_build(ex, m, l, err))) return rc;
    /* An engine that solves one V on all tiles of a row band at once (e.g. in parallel
     * worker processes) gets every column tile's current buffer in one call. */
    const int multi = xb_engine_provides(ex->eng, XB_ENGINE_OP_MVM_MULTI) && m->n_ct > 1 && m->fast_state != 1;
    double *mbuf = NULL;
    xb_matrix *mv = NULL, **mp = NULL;
    float *fF = NULL, *fD = NULL, *fS = NULL; /* fast_band: features, band outputs (+ noise variances), pair sums */
    const int fast_eval = m->fast_state == 1 && mode == MODE_EVAL;
    if (m->fast_state == 1 && !fast_eval) {
        size_t kmax = K < XB_EXEC_CHUNK ? K : XB_EXEC_CHUNK, TR = m->fast_terms * R;
        fF = malloc(kmax * (TR > R ? TR : R) * sizeof(float));
        fD = malloc(2 * kmax * n_out * sizeof(float));
        if (m->resid_rel > 0) fS = malloc(kmax * m->n_ct * P * sizeof(float));
        if (!fF || !fD || (m->resid_rel > 0 && !fS)) {
            rc = xb_errorf(err, XB_ERUNTIME, "out of memory (layer %zu fast path)", k);
            goto done;
        }
    }
    if (multi) {
        size_t kmax = K < XB_EXEC_CHUNK ? K : XB_EXEC_CHUNK;
        mbuf = malloc(m->n_ct * kmax * C * sizeof(double));
        mv = malloc(m->n_ct * sizeof *mv);
        mp = malloc(m->n_ct * sizeof *mp);
        if (!mbuf || !mv || !mp) {
            rc = xb_errorf(err, XB_ERUNTIME, "out of memory (layer %zu currents)", k);
            goto done;
        }
    }

    for (size_t s0 = 0; s0 < K; s0 += XB_EXEC_CHUNK) {
        const size_t Kc = K - s0 < XB_EXEC_CHUNK ? K - s0 : XB_EXEC_CHUNK;
        const float *Xc = X + s0 * n_in;
        /* Phase 0 drives the positive parts of every vector, phase 1 the magnitudes of
         * the negative parts of the vectors that have any (subtracted digitally). */
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
        if (fast_eval) {
            memset(w->acc, 0, Kc * n_out * sizeof(double));
            if ((rc = fast_eval_chunk(ex, m, l, Xc, w, err))) goto done;
        } else {
            /* 1. the array: raw differential currents of every tile */
            for (int ph = 0; ph < 2; ph++) {
                const double sgn = ph == 0 ? 1.0 : -1.0;
                const size_t Kp = w->n_rows[ph];
                if (Kp == 0) continue;
                size_t Kp_cnt = 0; /* vectors of this phase that are counted */
                for (size_t q = 0; q < Kp; q++) Kp_cnt += s0 + w->rows_idx[ph][q] >= k_cal;
                w->v.rows = w->i.rows = Kp;
                for (size_t r = 0; r < m->n_rt; r++) {
                    memset(w->colsq, 0, R * sizeof(double));
                    for (size_t q = 0; q < Kp; q++) {
                        const float *x = Xc + w->rows_idx[ph][q] * n_in;
                        const int counted = s0 + w->rows_idx[ph][q] >= k_cal;
                        double *v = w->vbuf + q * R;
                        for (size_t i = 0; i < R; i++) {
                            size_t gi = r * R + i;
                            double xv = gi < n_in ? sgn * (double)x[gi] : 0.0;
                            v[i] = xv > 0 ? dac(xv, xr, dbits, vr) : 0.0;
                            if (counted) w->colsq[i] += v[i] * v[i];
                        }
                    }
                    if (m->fast_state == 1) {
                        double *sp = count && m->law ? w->sp : NULL; /* counted: s0 + idx >= k_cal */
                        if (sp) memset(sp, 0, m->fast_terms * R * sizeof(double));
                        fast_band(ex, m, l, r, ph, w->rows_idx[ph], &w->v, fF, fD, fS,
                                  w->diff + (size_t)(ph * m->n_rt + r) * Kc * n_out, sp, k_cal > s0 ? k_cal - s0 : 0);
                        for (size_t c = 0; c < m->n_ct && count; c++)
                            count_tile(ex, m, l, r, c, Kp, Kp_cnt, w->colsq, &w->v, NULL, m->law ? w->sp : NULL, &m->st);
                        continue;
                    }
                    if (multi) {
                        for (size_t c = 0; c < m->n_ct; c++) {
                            mv[c] = (xb_matrix){Kp, C, mbuf + c * Kp * C};
                            mp[c] = &mv[c];
                        }
                        rc = xb_engine_mvm_multi(m->tiles + r * m->n_ct, m->n_ct, &w->v, mp, err);
                        if (rc) {
                            xb_error_prefix(err, "layer %zu tile row %zu: ", k, r);
                            goto done;
                        }
                    }
                    for (size_t c = 0; c < m->n_ct; c++) {
                        size_t t = r * m->n_ct + c;
                        const xb_matrix *Im = multi ? &mv[c] : &w->i;
                        if (!multi && (rc = xb_engine_mvm(m->tiles[t], &w->v, &w->i, err))) {
                            xb_error_prefix(err, "layer %zu tile (%zu,%zu): ", k, r, c);
                            goto done;
                        }
                        if (m->read_sig2) add_read_noise(m, m->read_sig2 + t * R * C, &w->v, Im);
                        const size_t pu = (c + 1) * P <= n_out ? P : n_out - c * P; /* pairs in use */
                        double *D = w->diff + (size_t)(ph * m->n_rt + r) * Kc * n_out + c * P;
                        for (size_t q = 0; q < Kp; q++) {
                            const double *io = Im->data + q * C;
                            for (size_t j = 0; j < pu; j++) D[q * n_out + j] = io[2 * j] - io[2 * j + 1];
                        }
                        if (count) count_tile(ex, m, l, r, c, Kp, Kp_cnt, w->colsq, &w->v, Im, NULL, &m->st);
                    }
                }
            }
            /* 2. ADC ranges (calibration) */
            if (mode == MODE_RANGE || mode == MODE_CALIB)
                for (int ph = 0; ph < 2; ph++)
                    for (size_t r = 0; r < m->n_rt; r++)
                        for (size_t q = 0; q < w->n_rows[ph]; q++) {
                            if (fused && w->rows_idx[ph][q] >= k_cal) continue; /* s0 = 0 when fused */
                            const double *D = w->diff + ((size_t)(ph * m->n_rt + r) * Kc + q) * n_out;
                            for (size_t j = 0; j < n_out; j++) {
                                size_t t = r * m->n_ct + j / P;
                                m->adc_range[t] = fmax(m->adc_range[t], fabs(D[j]));
                            }
                        }
            if (mode == MODE_RANGE) continue;
            if (mode == MODE_CALIB)
                for (size_t t = 0; t < nt; t++) m->adc_range[t] *= ex->cfg.adc_headroom;
            /* 3. ADC and the digital partial sums */
            memset(w->acc, 0, Kc * n_out * sizeof(double));
            for (int ph = 0; ph < 2; ph++) {
                const double sgn0 = ph == 0 ? scale : -scale;
                for (size_t r = 0; r < m->n_rt; r++)
                    for (size_t c = 0; c < m->n_ct; c++) {
                        const size_t j0 = c * P, j1 = (c + 1) * P <= n_out ? (c + 1) * P : n_out;
                        const double range = m->adc_range[r * m->n_ct + c];
                        const double alpha = m->drift_alpha[r * m->n_ct + c]; /* drift compensation */
                        /* adc() inlined per tile: 2^(B-1)-1 levels a side on [-range, range] */
                        const double step = abits > 0 && range > 0 ? range / (ldexp(1.0, abits - 1) - 1.0) : 0.0;
                        const double inv = step > 0 ? 1.0 / step : 0.0;
                        const double sgn = sgn0 * alpha;
                        for (size_t q = 0; q < w->n_rows[ph]; q++) {
                            const double *D = w->diff + ((size_t)(ph * m->n_rt + r) * Kc + q) * n_out;
                            double *a = w->acc + w->rows_idx[ph][q] * n_out;
                            if (abits <= 0) {
                                for (size_t j = j0; j < j1; j++) a[j] += sgn * D[j];
                            } else if (step > 0) {
                                for (size_t j = j0; j < j1; j++) {
                                    double d = D[j] > range ? range : D[j] < -range ? -range : D[j];
                                    a[j] += sgn * nearbyint(d * inv) * step;
                                }
                            } /* a silent tile (range 0) reads 0 */
                        }
                    }
            }
        }
        for (size_t s = 0; s < Kc; s++) {
            const double *a = w->acc + s * n_out;
            float *y = Y + (s0 + s) * n_out;
            for (size_t j = 0; j < n_out; j++) {
                double v = a[j] + (l->bias ? (double)l->bias[j] : 0.0);
                if (m->affine_ready) v = m->aff_a[j] * v + m->aff_b[j];
                y[j] = (float)v;
            }
        }
        if (m->resid_rel > 0) m->resid_base += Kc; /* counter of the residual noise */
        if (count) {
            double phases = 0, Kc_cnt = 0;
            for (int ph = 0; ph < 2; ph++)
                for (size_t q = 0; q < w->n_rows[ph]; q++) phases += s0 + w->rows_idx[ph][q] >= k_cal;
            for (size_t s = 0; s < Kc; s++) Kc_cnt += s0 + s >= k_cal;
            /* the slowest tile of the layer (the engine's settling time when it gives one) */
            const int has_time = xb_engine_provides(ex->eng, XB_ENGINE_OP_READ_TIME);
            double tm = has_time ? 0.0 : t_mvm_default;
            for (size_t t = 0; has_time && t < nt; t++) tm = fmax(tm, xb_engine_read_time_s(m->tiles[t]));
            st->n_vectors += Kc_cnt;
            st->n_phases += phases;
            st->latency_s += phases * tm; /* all tiles of a layer read in parallel */
            st->macs += Kc_cnt * (double)n_in * (double)n_out;
            /* (fused: the affine correction is fitted after this pass; run() counts it) */
            st->dig_adds += Kc_cnt * (double)n_out * ((l->bias ? 1 : 0) + (m->affine_ready ? 1 : 0));
            st->dig_muls += Kc_cnt * (double)n_out * (m->affine_ready ? 1 : 0);
        }
    }
done:
    free(mbuf);
    free(mv);
    free(mp);
    free(fF);
    free(fD);
    free(fS);
    return rc;
}

/* Per-column least squares yref = a y + b over K vectors. */
static void fit_affine(layer_map *m, const float *Y, const float *Yref, size_t K, size_t n_out)
{
    for (size_t j = 0; j < n_out; j++) {
        double sy = 0, sr = 0, syy = 0, syr = 0;
        for (size_t s = 0; s < K; s++) {
            double y = Y[s * n_out + j], r = Yref[s * n_out + j];
            sy += y;
            sr += r;
            syy += y * y;
            syr += y * r;
        }
        double n = (double)K, my = sy / n, mr = sr / n;
        double var = syy / n - my * my, cov = syr / n - my * mr;
        double a = 1.0;
        if (var > 1e-12 * (syy / n) && var > 0) a = cov / var;
        m->aff_a[j] = a;
        m->aff_b[j] = mr - a * my;
    }
}

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
    w->sp = malloc(XB_FIT_FAST_MAX_TERMS * R * sizeof(double));
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

/* Exact y = W x + b on the rows of X (used for the affine calibration target). */
static void exact_rows(const xb_layer *l, const float *X, size_t K, float *Y)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)K, (int)l->n_out, (int)l->n_in, 1.0f, X, (int)l->n_in,
                l->weight, (int)l->n_in, 0.0f, Y, (int)l->n_out);
    if (l->bias)
        for (size_t s = 0; s < K; s++)
            for (size_t j = 0; j < l->n_out; j++) Y[s * l->n_out + j] += l->bias[j];
}

/* Run the whole network on n samples; the first n_cal of them calibrate (n_cal = n: a
 * calibration, 0: a forward pass, in between: calibration and evaluation fused, every
 * tile solving both batches in one engine call).  Statistics count samples >= n_cal. */
static int run_layers(xb_exec *ex, const float *x, size_t n, size_t n_cal, float *const *acts, xb_error *err);

/* The tiles' GEMMs are small: BLAS on one thread for the pass (xb_blas_serial_begin). */
static int run(xb_exec *ex, const float *x, size_t n, size_t n_cal, float *const *acts, xb_error *err)
{
    const int nth = xb_blas_serial_begin();
    ex->n_workers = nth > 1 ? (size_t)nth : 1;
    int rc = run_layers(ex, x, n, n_cal, acts, err);
    xb_blas_serial_end(nth);
    return rc;
}

static int run_layers(xb_exec *ex, const float *x, size_t n, size_t n_cal, float *const *acts, xb_error *err)
{
    const int calib = n_cal > 0;
    size_t n_out_max = 1;
    for (size_t k = 0; k < ex->n_layers; k++) {
        const xb_layer *l = xb_network_layer(ex->net, k);
        if (ex->maps[k].weighted && l->n_out > n_out_max) n_out_max = l->n_out;
    }
    workspace w;
    int rc = workspace_new(ex, n_out_max, &w, err);
    float *rows = NULL, *yrows = NULL, *yref = NULL;
    const float *in = x;
    for (size_t k = 0; k < ex->n_layers && !rc; k++) {
        const xb_layer *l = xb_network_layer(ex->net, k);
        layer_map *m = &ex->maps[k];
        const size_t in_sz = xb_layer_in_size(l), out_sz = xb_layer_out_size(l);
        if (!m->weighted) {
            xb_exec_apply_digital(l, in, n, acts[k]);
            if (n > n_cal) {
                double adds, muls;
                xb_exec_digital_ops(l, &adds, &muls);
                m->st.dig_adds += adds * (double)(n - n_cal);
                m->st.dig_muls += muls * (double)(n - n_cal);
            }
            in = acts[k];
            continue;
        }
        /* The layer's input vectors as rows: dense: the samples; conv: im2col rows. */
        const size_t hw = l->out_h * l->out_w, K = n * hw, K_cal = n_cal * hw;
        const float *X = in;
        free(rows);
        free(yrows);
        rows = NULL;
        yrows = NULL;
        if (l->kind == XB_LAYER_CONV2D) {
            rows = malloc(K * l->n_in * sizeof(float));
            if (!rows) { rc = xb_errorf(err, XB_ERUNTIME, "out of memory (im2col)"); break; }
            for (size_t s = 0; s < n; s++) xb_exec_im2col(l, in + s * in_sz, rows + s * hw * l->n_in);
            X = rows;
        }
        float *Y = acts[k];
        if (l->kind == XB_LAYER_CONV2D) {
            yrows = malloc(K * l->n_out * sizeof(float));
            if (!yrows) { rc = xb_errorf(err, XB_ERUNTIME, "out of memory"); break; }
            Y = yrows;
        }
        if (calib) {
            if (ex->cfg.dac_range > 0) {
                m->dac_range = ex->cfg.dac_range;
            } else {
                double mx = 0;
                for (size_t i = 0; i < K_cal * l->n_in; i++) mx = fmax(mx, fabs((double)X[i]));
                m->dac_range = mx > 0 ? mx : 1.0;
            }
            m->affine_ready = 0;
            memset(m->adc_range, 0, m->n_rt * m->n_ct * sizeof(double));
            if (K <= XB_EXEC_CHUNK) {
                /* one pass: the tile currents of the calibration rows set the ranges, and all
                 * rows are quantized with them */
                if ((rc = analog_layer(ex, k, l, X, K, Y, MODE_CALIB, K_cal < K ? K_cal : 0, &w, err))) break;
            } else {
                if ((rc = analog_layer(ex, k, l, X, K_cal, Y, MODE_RANGE, 0, &w, err))) break;
                for (size_t t = 0; t < m->n_rt * m->n_ct; t++) m->adc_range[t] *= ex->cfg.adc_headroom;
                xb_exec_layer_stats keep = m->st; /* the calibration rows are not counted */
                rc = analog_layer(ex, k, l, X, K_cal, Y, MODE_EVAL, 0, &w, err);
                m->st = keep;
                if (rc) break;
                if (K > K_cal &&
                    (rc = analog_layer(ex, k, l, X + K_cal * l->n_in, K - K_cal, Y + K_cal * l->n_out, MODE_EVAL, 0, &w,
                                       err)))
                    break;
            }
        } else if ((rc = analog_layer(ex, k, l, X, K, Y, MODE_EVAL, 0, &w, err))) {
            break;
        }
        if (calib && ex->cfg.affine_calibration) {
            yref = malloc(K * l->n_out * sizeof(float));
            if (!yref) { rc = xb_errorf(err, XB_ERUNTIME, "out of memory"); break; }
            exact_rows(l, X, K_cal, yref);
            fit_affine(m, Y, yref, K_cal, l->n_out);
            free(yref);
            yref = NULL;
            m->affine_ready = 1;
            m->st.dig_adds += (double)(K - K_cal) * (double)l->n_out;
            m->st.dig_muls += (double)(K - K_cal) * (double)l->n_out;
            for (size_t s = 0; s < K; s++)
                for (size_t j = 0; j < l->n_out; j++) {
                    float *y = &Y[s * l->n_out + j];
                    *y = (float)(m->aff_a[j] * *y + m->aff_b[j]);
                }
        }
        if (l->kind == XB_LAYER_CONV2D) /* position-major rows to C,H,W */
            for (size_t s = 0; s < n; s++)
                for (size_t p = 0; p < hw; p++)
                    for (size_t c = 0; c < l->n_out; c++) acts[k][s * out_sz + c * hw + p] = yrows[(s * hw + p) * l->n_out + c];
        in = acts[k];
    }
    free(rows);
    free(yrows);
    free(yref);
    workspace_free(&w);
    return rc;
}

int xb_exec_calibrate(xb_exec *ex, const float *x, size_t n, xb_error *err)
{
    if (n == 0) return xb_errorf(err, XB_EINPUT, "calibration batch is empty");
    size_t nl = ex->n_layers;
    float **acts = calloc(nl ? nl : 1, sizeof *acts);
    int rc = acts ? XB_OK : xb_errorf(err, XB_ERUNTIME, "out of memory");
    for (size_t k = 0; k < nl && !rc; k++)
        if (!(acts[k] = malloc(n * xb_layer_out_size(xb_network_layer(ex->net, k)) * sizeof(float))))
            rc = xb_errorf(err, XB_ERUNTIME, "out of memory (calibration activations)");
    if (!rc) rc = run(ex, x, n, n, acts, err);
    if (acts)
        for (size_t k = 0; k < nl; k++) free(acts[k]);
    free(acts);
    if (!rc) ex->calibrated = 1;
    xb_exec_stats_reset(ex);
    return rc;
}

int xb_exec_calibrate_forward(xb_exec *ex, const float *x_cal, size_t n_cal, const float *x, size_t n,
                              float *const *acts, xb_error *err)
{
    if (n_cal == 0) return xb_errorf(err, XB_EINPUT, "calibration batch is empty");
    const size_t nl = ex->n_layers, in_sz = xb_network_input_size(ex->net), na = n_cal + n;
    xb_exec_stats_reset(ex);
    ex->calibrated = 0;
    float *xa = malloc(na * in_sz * sizeof(float));
    float **aa = calloc(nl ? nl : 1, sizeof *aa);
    int rc = xa && aa ? XB_OK : xb_errorf(err, XB_ERUNTIME, "out of memory");
    for (size_t k = 0; k < nl && !rc; k++)
        if (!(aa[k] = malloc(na * xb_layer_out_size(xb_network_layer(ex->net, k)) * sizeof(float))))
            rc = xb_errorf(err, XB_ERUNTIME, "out of memory (activations)");
    if (!rc) {
        memcpy(xa, x_cal, n_cal * in_sz * sizeof(float));
        memcpy(xa + n_cal * in_sz, x, n * in_sz * sizeof(float));
        rc = run(ex, xa, na, n_cal, aa, err);
    }
    for (size_t k = 0; k < nl && !rc; k++) {
        size_t sz = xb_layer_out_size(xb_network_layer(ex->net, k));
        memcpy(acts[k], aa[k] + n_cal * sz, n * sz * sizeof(float));
    }
    for (size_t k = 0; aa && k < nl; k++) free(aa[k]);
    free(aa);
    free(xa);
    if (!rc) ex->calibrated = 1;
    else xb_exec_stats_reset(ex);
    return rc;
}

int xb_exec_forward(xb_exec *ex, const float *x, size_t n, float *const *acts, xb_error *err)
{
    if (!ex->calibrated) return xb_errorf(err, XB_EINPUT, "executor not calibrated (call xb_exec_calibrate first)");
    return run(ex, x, n, 0, acts, err);
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

double xb_exec_dac_range(const xb_exec *ex, size_t k)
{
    return k < ex->n_layers && ex->maps[k].weighted ? ex->maps[k].dac_range : 0.0;
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

int xb_exec_set_time(xb_exec *ex, double t_s, int compensate, xb_error *err)
{
    if (!(t_s > 0) || !isfinite(t_s)) return xb_errorf(err, XB_EINPUT, "--time: must be > 0 s (got %g)", t_s);
    const size_t R = ex->cfg.tile_rows, C = ex->cfg.tile_cols;
    const double nu_fixed = ex->cfg.drift_fixed_nu ? ex->cfg.drift_nu : -1.0;
    xb_matrix *g = xb_matrix_new(R, C);
    if (!g) return xb_errorf(err, XB_ERUNTIME, "out of memory (drift)");
    int rc = XB_OK;
    for (size_t k = 0; k < ex->n_layers && !rc; k++) {
        layer_map *m = &ex->maps[k];
        if (!m->weighted) continue;
        for (size_t t = 0; t < m->n_rt * m->n_ct && !rc; t++) {
            /* the reference at t0 is measured once, on the programmed conductances */
            if (compensate && m->drift_ref[t] == 0.0) {
                xb_engine_tile *t0 = NULL;
                if ((rc = xb_engine_program(ex->eng, &ex->tile_p, m->g_prog[t], &t0, err))) break;
                rc = tile_ones_current(ex, t0, &m->drift_ref[t], err);
                xb_engine_tile_free(t0);
                if (rc) break;
            }
            if ((rc = xb_netlist_drift(&ex->tile_p, m->g_prog[t], t_s, m->tile_seed[t], nu_fixed, g, err))) break;
            double *rs = m->rowsum_g + t * R;
            for (size_t i = 0; i < R; i++) {
                double s = 0;
                for (size_t jj = 0; jj < C; jj++) s += g->data[i * C + jj];
                rs[i] = s;
            }
            xb_engine_tile *nt = NULL;
            if ((rc = xb_engine_program(ex->eng, &ex->tile_p, g, &nt, err))) break;
            xb_engine_tile_free(m->tiles[t]);
            m->tiles[t] = nt;
            fast_drop(m); /* rebuilt from the new tiles on the next pass */
            m->drift_alpha[t] = 1.0;
            if (ex->cfg.drift_read_noise) {
                if (!m->read_sig2 && !(m->read_sig2 = malloc(m->n_rt * m->n_ct * R * C * sizeof(double)))) {
                    rc = xb_errorf(err, XB_ERUNTIME, "out of memory (read noise)");
                    break;
                }
                m->rn_state = m->tile_seed[0] ^ 0x5EAD5EAD5EADull;
                for (size_t i = 0; i < R * C; i++) {
                    double sg = xb_netlist_read_noise_sigma(&ex->tile_p, m->g_prog[t]->data[i], g->data[i], t_s);
                    m->read_sig2[t * R * C + i] = sg * sg;
                }
            }
            if (compensate) {
                double s_t = 0;
                if ((rc = tile_ones_current(ex, nt, &s_t, err))) break;
                m->drift_alpha[t] = s_t > 0 && m->drift_ref[t] > 0 ? m->drift_ref[t] / s_t : 1.0;
            }
        }
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
