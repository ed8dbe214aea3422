/* The executor's internal state, shared by its files (not part of the public API):
 *
 *   executor_map.c      mapping: weights -> differential conductance pairs -> programmed
 *                       tiles; time after programming (drift, compensation, read noise)
 *   executor_convert.c  converters and calibration: ADC ranges and quantization, the DAC
 *                       full scale, the per-column affine correction, xb_exec_calibrate*
 *   executor_fast.c     the fast path: band GEMMs on the fit stage's fast form, worker
 *                       threads, the engine's residual noise
 *   executor.c          the layer driver: configuration, layer by layer (digital layers,
 *                       analog layers chunk by chunk), statistics, xb_exec_forward
 *
 * Functions shared between these files carry the prefix ex_ (local to libxbar.so).
 * docs/executor.md describes the numerics. */
#ifndef XBAR_EXECUTOR_INTERNAL_H
#define XBAR_EXECUTOR_INTERNAL_H

#include <math.h>
#include <stdint.h>

#include "exec/exec_internal.h"
#include "xbar/fit.h"

/* Input vectors per engine call: bounds the V/I buffers (conv layers have one
 * vector per output position). */
#define XB_EXEC_CHUNK 8192

/* One layer on tiles (weighted = 0: a digital layer, only st is used). */
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
    size_t fast_terms;    /* feature groups: fast_bterms basis terms + fast_cross cross groups */
    size_t fast_bterms, fast_cross;
    double fast_xs;       /* the cross factor's 1 / (R v_hi) (XB_FIT_CROSS_SUM) */
    double fast_xw1, fast_xw0; /* XB_FIT_CROSS_COLUMN (fast_xw1 > 0): per-row factors
                                * xw0 sum_k v_k + xw1 sum_k (R - max(i,k)) v_k */
    const xb_fit_basis *fast_basis;
    float *fast_w;        /* n_rt x (terms x R) x n_out */
    float *fast_s2;       /* NULL, or n_rt x R x n_out: read-noise variance of each pair */
    float *fast_lut;      /* NULL, or terms x 2^dac_bits: the basis at the DAC levels */
    double *fast_vphi;    /* with fast_lut: v phi_p(v) at the levels (energy-law sums) */
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
    float *conv_buf;  /* conv layers' im2col rows and position-major outputs, kept between passes
                       * (fresh pages of a new allocation per layer and pass cost ~5 % of a pass) */
    size_t conv_cap;  /* floats in conv_buf */
};

/* Buffers of one pass, allocated once (executor.c). */
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

/* ------------------------------------------------------------------ converters (inline: hot loops) */
/* DAC: magnitude x >= 0 (one input phase) to volts on [0, v_read]. */
static inline double ex_dac(double x, double range, int bits, double v_read)
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

/* Round to nearest, ties to even (as nearbyint in the default mode), for |x| < 2^51,
 * without a library call, so that the converter loops vectorize. */
static inline double ex_round_even(double x) { return (x + 0x1.8p52) - 0x1.8p52; }

/* One standard normal of the device read-noise stream s (docs/drift.md). */
static inline double ex_rn_gauss(uint64_t *s)
{
    const uint64_t a = xb_splitmix64(s);
    return xb_gauss_from_bits(a, xb_splitmix64(s));
}

/* ------------------------------------------------------------------ executor_map.c */
/* Device read noise of one tile MVM: independent cell noise of variance s2[i][j] gives the
 * column current I_j the exact Gaussian noise N(0, sqrt(sum_i V_i^2 s2_ij)). */
void ex_add_read_noise(layer_map *m, const double *s2, const xb_matrix *v, const xb_matrix *i_out);

/* ------------------------------------------------------------------ executor_convert.c */
/* Calibrate layer k on the first K_cal of its K input vectors X (K x n_in): the DAC full
 * scale, the ADC ranges per tile (one pass when K fits a chunk, else two), then the
 * per-column affine correction; Y (K x n_out) receives all K outputs, calibrated. */
int ex_calibrate_layer(xb_exec *ex, size_t k, const xb_layer *l, const float *X, size_t K, size_t K_cal, float *Y,
                       workspace *w, xb_error *err);
/* Record the ADC ranges (max |I+ - I-| per tile) of the chunk's Kc vectors in w->diff;
 * fused: only the vectors below k_cal (the calibration rows). */
void ex_adc_ranges(layer_map *m, const workspace *w, size_t Kc, size_t n_out, int fused, size_t k_cal);
/* ADC of every tile's differential currents in w->diff and the digital partial sums
 * (both phases, scaled to weight units, drift compensation) into w->acc. */
void ex_adc_accumulate(const xb_exec *ex, const layer_map *m, size_t n_out, size_t Kc, workspace *w);

/* ------------------------------------------------------------------ executor_fast.c */
/* Forget the fast-path weights (rebuilt on the next pass). */
void ex_fast_drop(layer_map *m);
/* Gather the fast forms of the layer's tiles (fast_state 1), or mark the layer per-tile (-1). */
int ex_fast_build(xb_exec *ex, layer_map *m, const xb_layer *l, xb_error *err);
/* One row band through the fast form: differential outputs D (row stride n_out) of the band's
 * vectors v, with read noise and residual noise; sp: energy-law sums (or NULL). */
void ex_fast_band(xb_exec *ex, layer_map *m, const xb_layer *l, size_t r, int ph, const size_t *idx,
                  const xb_matrix *v, float *F, float *Df, float *S, double *cbuf, double *D, double *sp, size_t k_first);
/* MODE_EVAL of one chunk on the fast path, ADC and partial sums into w->acc (cleared by the
 * caller), statistics counted; blocks spread over ex->n_workers threads. */
int ex_fast_eval_chunk(xb_exec *ex, layer_map *m, const xb_layer *l, const float *Xc, workspace *w, xb_error *err);

/* ------------------------------------------------------------------ executor.c */
/* Analog y = W x (+ bias, + affine) for K input vectors X (K x n_in, float rows) in the given
 * mode; k_cal > 0 (MODE_CALIB only, fused calibration + evaluation): the first k_cal rows are
 * the calibration batch (they set the ADC ranges), the others are evaluated with those ranges
 * and counted in the statistics. */
int ex_analog_layer(xb_exec *ex, size_t k, const xb_layer *l, const float *X, size_t K, float *Y, int mode,
                    size_t k_cal, workspace *w, xb_error *err);
/* Statistics of one tile read of Kp vectors (Kp_cnt of them counted). */
void ex_count_tile(xb_exec *ex, layer_map *m, const xb_layer *l, size_t r, size_t c, size_t Kp, size_t Kp_cnt,
                   const double *colsq, const xb_matrix *v, const xb_matrix *Im, const double *sp,
                   xb_exec_layer_stats *st);
/* Run the whole network on n samples; the first n_cal of them calibrate (n_cal = n: a
 * calibration, 0: a forward pass, in between: calibration and evaluation fused, every
 * tile solving both batches in one engine call).  Statistics count samples >= n_cal.  BLAS
 * runs on one thread during the pass. */
int ex_run(xb_exec *ex, const float *x, size_t n, size_t n_cal, float *const *acts, xb_error *err);

#endif
