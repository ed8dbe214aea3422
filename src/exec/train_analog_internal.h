/* Internals of in-memory (analog) training, visible to tests (docs/training.md):
 *
 *   analog_device.c   the fitted pulse-update model condensed for pulses (tabulated step and
 *                     spread vs state, ablations), arrays of differential pairs with their own
 *                     device-to-device parameters, pulses, closed-loop programming, refresh;
 *   analog_update.c   the update rules on a pair array: rank-1 stochastic pulse trains
 *                     (coincidences), the mixed-precision accumulator, the Tiki-Taka transfer;
 *   analog_mvm.c      forward and transposed (backward) products of the pair arrays through
 *                     the model engine's fast form, DAC/ADC, read energy;
 *   train_analog.c    the optimizer and MVM hooks of the network trainer, the epoch loop,
 *                     xb_train_analog_mlp.
 *
 * Functions carry the prefix xb_an_ (local to libxbar.so). */
#ifndef XB_TRAIN_ANALOG_INTERNAL_H
#define XB_TRAIN_ANALOG_INTERNAL_H

#include <stdint.h>

#include "exec/train_internal.h"
#include "xbar/engine.h"
#include "xbar/fit.h"

#define XB_AN_GRID 257 /* tabulated states over the window */
#define XB_AN_ZIG 256  /* layers of the ziggurat of xb_an_gauss */

/* ------------------------------------------------------------------ the device model */
/* The update model as the pulses see it: one pulse of direction dir moves a device of
 * d2d scales (a_up, a_down) and bounds [lo, hi] from G to
 *   clip(G + a_dir f_dir(G) + a_dir s_dir(G) xi, lo, hi),  xi ~ N(0, 1)
 * with f, s tabulated on XB_AN_GRID states of the mean model's window (ablations applied). */
typedef struct xb_an_model {
    double g_min, g_max, g_c;       /* the mean model's window, its centre */
    double inv_h;                   /* (XB_AN_GRID - 1) / (g_max - g_min) */
    double up[XB_AN_GRID], down[XB_AN_GRID], sup[XB_AN_GRID], sdown[XB_AN_GRID];
    double step_c;                  /* (f_up + |f_down|)/2 at the centre: the nominal step */
    double step_up_c;               /* f_up at the centre (one-sided pair updates) */
    int one_sided;                  /* pair pulses: 0 = G+ and G- in opposite directions,
                                     * 1 = one up pulse on G+ (raise w) or on G- (lower w) */
    double d2d_up_rel, d2d_down_rel; /* relative spread of a device's up / down step */
    double d2d_lo_std, d2d_hi_std;  /* spread of a device's bounds (siemens) */
    double e_up_joule, e_down_joule, width_s;
    unsigned ablate;                /* XB_ANALOG_ABLATE_* */
    double zig_x[XB_AN_ZIG + 1], zig_f[XB_AN_ZIG + 1]; /* the c2c noise's normal generator */
} xb_an_model;

int xb_an_model_init(xb_an_model *am, const xb_update_model *m, unsigned ablate, xb_error *err);
/* A standard normal draw for the cycle-to-cycle noise of a pulse: the ziggurat method
 * (Marsaglia & Tsang, J. Stat. Softw. 5(8), 2000) on XB_AN_ZIG layers tabulated by
 * xb_an_model_init, fed by the splitmix64 stream *rng (one word for ~99 % of the draws). */
double xb_an_gauss(const xb_an_model *am, uint64_t *rng);

/* Pulse counters and their cost. */
typedef struct xb_an_stats {
    double pulses;          /* device pulses (both devices of a pair count) */
    double e_joule;         /* their energy */
    double t_s;             /* update time (parallel slots x width) */
    double refreshes;       /* pairs re-centred */
    double refresh_pulses;  /* pulses spent by refresh (also in pulses) */
} xb_an_stats;

/* n differential pairs (weights), G+ in gp, G- in gm; per device d2d parameters (NULL when
 * the model has no d2d spread or it is ablated). */
typedef struct xb_an_pairs {
    size_t n;
    double *gp, *gm;
    float *a_up, *a_down, *lo, *hi; /* 2n: device 2k = G+ of pair k, 2k+1 = G- */
    uint64_t *moved; /* bit k: pair k pulsed since the tiles' last sync (NULL: not kept, every
                      * sync compares every pair) */
} xb_an_pairs;

/* Draw the devices' own parameters (seeded) and set every pair to G+ = G- = g_c. */
int xb_an_pairs_new(xb_an_pairs *p, size_t n, const xb_an_model *am, uint64_t seed, xb_error *err);
void xb_an_pairs_free(xb_an_pairs *p);
/* Pair k changed by other means than a pulse (the caller wrote gp/gm itself): the next
 * incremental sync of the tiles reads it (pulses mark their pair). */
void xb_an_pairs_moved(xb_an_pairs *p, size_t k);
/* Bounds of device dv (0..2n-1). */
double xb_an_lo(const xb_an_pairs *p, const xb_an_model *am, size_t dv);
double xb_an_hi(const xb_an_pairs *p, const xb_an_model *am, size_t dv);
/* One pulse of direction dir (+1 up, -1 down) on device dv; returns the new G. */
double xb_an_pulse(const xb_an_pairs *p, const xb_an_model *am, size_t dv, int dir, uint64_t *rng, xb_an_stats *st);
/* The mean model's step of direction dir at state g (siemens; signed; ablations applied, no
 * d2d scale and no c2c noise): what an algorithm that knows the fitted model but not the
 * individual device expects one pulse to do. */
double xb_an_mean_step(const xb_an_model *am, double g, int dir);
/* The expected |change of G+ - G-| of one pair pulse of direction dir on pair k at its present
 * conductances (xb_an_mean_step of the pulsed devices; 0 where the law is held at zero). */
double xb_an_pair_step(const xb_an_pairs *p, const xb_an_model *am, size_t k, int dir);
/* One pair pulse (a coincidence): dir +1 raises the weight (G+ up, G- down; one-sided: G+
 * up), -1 lowers it (G+ down, G- up; one-sided: G- up). */
void xb_an_pair_pulse(const xb_an_pairs *p, const xb_an_model *am, size_t k, int dir, uint64_t *rng,
                      xb_an_stats *st);
/* The pair pulses of one column in one slot: pair base + i - 1 for every entry +-i of rows
 * (m of them), of direction dir times the entry's sign, as xb_an_pair_pulse of each in turn
 * (the same states and stream); the counters added once (energy summed per call). */
void xb_an_pair_pulses(const xb_an_pairs *p, const xb_an_model *am, size_t base, const int32_t *rows, size_t m,
                       int dir, uint64_t *rng, xb_an_stats *st);
/* Closed-loop programming of device dv to target: pulses toward it until within half a
 * step (at most max_pulses).  Returns the pulses used. */
size_t xb_an_program(const xb_an_pairs *p, const xb_an_model *am, size_t dv, double target, size_t max_pulses,
                     uint64_t *rng, xb_an_stats *st);
/* Program pair k to the difference D = G+ - G- centred on the middle of its two devices'
 * windows (g_c without d2d; each device clamped to its bounds), closed loop. */
void xb_an_program_pair(const xb_an_pairs *p, const xb_an_model *am, size_t k, double diff, uint64_t *rng,
                        xb_an_stats *st);
/* Refresh: every pair with a device within margin x window of its bound whose centred form
 * (xb_an_program_pair) keeps both devices 2 margin x window clear of their bounds is
 * programmed back to its difference D, centred.  The pairs in chunks on the workers (NULL:
 * this thread), each chunk on its own stream of a seed drawn from *rng: the same for any
 * number of workers.  -1 when out of memory. */
int xb_an_refresh(const xb_an_pairs *p, const xb_an_model *am, double margin, xb_workers *workers, uint64_t *rng,
                  xb_an_stats *st);

/* ------------------------------------------------------------------ update rules */
/* Weights of a pair array: w = kappa (G+ - G-), kappa = w_fs / (g_max - g_min); one pair
 * pulse changes w by dw = 2 kappa step_c (nominal; one-sided: kappa step_up_c). */
typedef struct xb_an_layer_map {
    size_t n_out, n_in;
    double kappa;   /* weight per siemens of difference */
    double dw;      /* nominal weight change of one pair pulse */
    double n_cap;   /* most pulses per weight and update (0: no cap): the window's width in
                     * nominal steps */
} xb_an_layer_map;

typedef struct xb_an_pulse_cfg {
    size_t bl_max;      /* longest pulse train (slots) */
    int deterministic;  /* expected-count pulses instead of stochastic trains (tests) */
    int mp_state;       /* mixed precision: the threshold is the pair's expected step at its
                         * present state (xb_an_pair_step x kappa), not the centre's dw */
    int mp_round;       /* mixed precision: XB_ANALOG_MP_TRUNC, _NEAREST, _STOCHASTIC */
} xb_an_pulse_cfg;

/* Rank-1 pulse update with E[dW] = eta a b^T (a: n_out, b: n_in; W row-major n_out x n_in).
 * Stochastic: BL = min(bl_max, max(1, ceil(|eta| max|a| max|b| / dw))) slots; row i fires in
 * a slot with p_i = min(1, Cb |b_i|), column j with q_j = min(1, Ca |a_j|), Ca Cb = |eta| /
 * (BL dw), Ca max|a| = Cb max|b|; every coincidence of a slot is one pair pulse of direction
 * sign(eta a_j b_i).  Deterministic: round(|eta a_j b_i| / dw) pair pulses (at most n_cap).  Time: BL x
 * width per update (all slots of the array at once). */
void xb_an_rank1(const xb_an_pairs *p, const xb_an_model *am, const xb_an_layer_map *lm, const float *a,
                 const float *b, double eta, const xb_an_pulse_cfg *pc, uint64_t *rng, xb_an_stats *st);
/* The rank-1 updates of n samples in order (a: n x n_out, b: n x n_in), the stochastic ones
 * with the columns' pulses on the workers (NULL: this thread): per sample, the slots, the rows' draws and a seed
 * from *rng; column j's firing and its pulses' noise from its own stream of that seed, so the
 * result does not depend on the number of workers.  *ws: scratch kept between calls (NULL at first; free with
 * xb_an_rank1_ws_free).  -1 when out of memory. */
typedef struct xb_an_rank1_ws xb_an_rank1_ws;
int xb_an_rank1_batch(const xb_an_pairs *p, const xb_an_model *am, const xb_an_layer_map *lm, const float *a,
                      const float *b, size_t n, double eta, const xb_an_pulse_cfg *pc, xb_workers *workers,
                      xb_an_rank1_ws **ws, uint64_t *rng, xb_an_stats *st);
void xb_an_rank1_ws_free(xb_an_rank1_ws *ws);
/* Mixed precision: chi += -lr gw; then on every weight pair pulses of sign(chi), each
 * subtracting its expected weight change e from chi: e = dw (default) or, with pc->mp_state,
 * kappa x xb_an_pair_step at the pair's state before that pulse.  A pulse fires while
 * |chi| >= e (mp_round TRUNC: n = trunc(chi / dw) with the centre's dw), |chi| >= e / 2
 * (NEAREST) or, below e, with probability |chi| / e (STOCHASTIC: E[fired change] = chi).  At
 * most n_cap pulses; a weight that reached n_cap with |chi| still >= e, or whose step is 0
 * (held at a bound), keeps chi clipped to n_cap dw (a wild gradient does not queue pulses).
 * Time: per row the most pulses of any of its weights x width. */
void xb_an_mp(const xb_an_pairs *p, const xb_an_model *am, const xb_an_layer_map *lm, const xb_an_pulse_cfg *pc,
              double *chi, const float *gw, double lr, uint64_t *rng, xb_an_stats *st);
/* The weights read back: w[k] = kappa (G+ - G-) (+= when accumulate: Tiki-Taka's gamma A + C
 * with scale). */
void xb_an_read_weights(const xb_an_pairs *p, const xb_an_layer_map *lm, double scale, int accumulate, float *w);
/* Tiki-Taka transfer of input column k: v = kappa (A+ - A-)[:, k] read, then a rank-1 pulse
 * update of C with E[dC] = lr_t v e_k^T. */
void xb_an_tt_transfer(const xb_an_pairs *A, const xb_an_pairs *C, const xb_an_model *am, const xb_an_layer_map *lm,
                       size_t k, double lr_t, const xb_an_pulse_cfg *pc, float *v, float *ek, uint64_t *rng,
                       xb_an_stats *st);
/* cols transfers at once, of columns k0, k0 + 1, ... (mod n_in, distinct): the same as
 * xb_an_tt_transfer of each in turn (A is read, not changed), C's pulses on the workers
 * (xb_an_rank1_batch).  -1 when out of memory. */
int xb_an_tt_transfer_batch(const xb_an_pairs *A, const xb_an_pairs *C, const xb_an_model *am,
                            const xb_an_layer_map *lm, size_t k0, size_t cols, double lr_t, const xb_an_pulse_cfg *pc,
                            xb_workers *workers, xb_an_rank1_ws **ws, uint64_t *rng, xb_an_stats *st);
/* Tiki-Taka with a digital hidden matrix H between A and C (Gokmen, Front. Artif. Intell. 4,
 * 699148, 2021, "TTv2"): the transfer of column k adds lr_t v (v = kappa (A+ - A-)[:, k]) to
 * H[:, k] (h: n_out x n_in) and fires C's pulses from H as mixed precision does from its
 * accumulator (xb_an_mp's rules with pc's threshold and rounding). */
void xb_an_tt_transfer_h(const xb_an_pairs *A, const xb_an_pairs *C, const xb_an_model *am, const xb_an_layer_map *lm,
                         const xb_an_pulse_cfg *pc, size_t k, double lr_t, double *h, uint64_t *rng, xb_an_stats *st);

/* Tiki-Taka with reset: A's pairs of column k programmed back to zero difference, centred
 * (xb_an_program_pair, closed loop; the pulses count). */
void xb_an_tt_reset_column(const xb_an_pairs *A, const xb_an_model *am, const xb_an_layer_map *lm, size_t k,
                           uint64_t *rng, xb_an_stats *st);

/* ------------------------------------------------------------------ reads on tiles */
/* One layer's arrays on tiles through the model engine's fast form.  At a refit every tile
 * (R inputs x C/2 pairs, G+ and G- in columns 2j and 2j+1) is programmed through the engine
 * and its fast form I = sum_p phi_p(V) M_p taken; the per-cell gains M_p / G are kept.
 * Between refits M_p(G) = gain_p . G (elementwise), so updates are read without a refit. */
typedef struct xb_an_tiles xb_an_tiles;

typedef struct xb_an_read_cfg {
    xb_engine *eng;            /* the model engine (borrowed) */
    const xb_array_params *tp; /* tile configuration (rows, cols = tile size) */
    int dac_bits, adc_bits;
    double v_read;
    double t_mvm_s;            /* energy without the engine's law: Joule heat over this time */
    double dac_joule_per_bit, adc_joule_per_step;
    xb_workers *workers;       /* the incremental syncs' threads (borrowed; NULL: this one) */
} xb_an_read_cfg;

typedef struct xb_an_read_stats {
    double e_fwd_joule, e_bwd_joule; /* array + DAC + ADC */
    double fast_error;               /* largest held-out error of a fast form at the refits */
    size_t terms;
} xb_an_read_stats;

/* arrays: 1 (SGD, MP) or 2 (Tiki-Taka: A, C with weights gamma A + C). */
int xb_an_tiles_new(const xb_an_read_cfg *rc, size_t n_out, size_t n_in, size_t n_arrays, xb_an_tiles **out,
                    xb_error *err);
void xb_an_tiles_free(xb_an_tiles *t);
/* Program every tile of the arrays through the engine and take the gains. */
int xb_an_tiles_refit(xb_an_tiles *t, const xb_an_pairs *const *arrays, xb_error *err);
/* The effective matrices E_p = sum_a scale_a (gain_p+ G+ - gain_p- G-) from the current
 * conductances (after every update). */
void xb_an_tiles_sync(xb_an_tiles *t, const xb_an_pairs *const *arrays, const double *scale, double kappa);
/* y (n x n_out) = the read of W x (n x n_in): per sample abs-max DAC, fast form, per-tile
 * ADC (full scale: the tile's largest |I| of the batch), digital sum over row tiles. */
void xb_an_tiles_forward(xb_an_tiles *t, const float *x, size_t n, float *y, xb_an_read_stats *st);
/* dn (n x n_in) = the transposed read W^T d (d: n x n_out): columns driven, rows sensed. */
void xb_an_tiles_backward(xb_an_tiles *t, const float *d, size_t n, float *dn, xb_an_read_stats *st);
/* Relative L2 error of the gain-scaled form vs a fresh fast form of the exact model on the
 * first tile at the current conductances, on nv random inputs (docs/training.md). */
int xb_an_tiles_gain_error(xb_an_tiles *t, const xb_an_pairs *const *arrays, size_t nv, uint64_t seed,
                           double *rel_fast, double *rel_exact, xb_error *err);

/* ------------------------------------------------------------------ the trainer */
/* A network being trained in memory: the network trainer (xb_tnet) whose dense layers are
 * pair arrays (forward/backward through their tiles when a->engine is set, else the float
 * read-back weights), updated by the algorithm's pulses.  New: programs the initial weights
 * of init closed loop (those pulses are not counted in the statistics). */
typedef struct xb_an_trainer xb_an_trainer;
int xb_an_trainer_new(const xb_network *init, const xb_analog_opts *a, size_t max_batch, uint64_t seed,
                      xb_an_trainer **out, xb_error *err);
void xb_an_trainer_free(xb_an_trainer *tr);
xb_tnet *xb_an_trainer_tnet(xb_an_trainer *tr);
/* Refit every layer's tiles (no-op without an engine). */
int xb_an_trainer_refit(xb_an_trainer *tr, xb_error *err);
/* One minibatch: forward, loss gradient, backward, update with step lr; the summed
 * cross-entropy and the correct predictions are added to *loss, *correct. */
int xb_an_trainer_minibatch(xb_an_trainer *tr, const float *x, const unsigned char *labels, size_t n, double lr,
                            double *loss, double *correct, xb_error *err);
/* Statistics since the trainer was made (pulses, reads); counting on/off (test passes). */
void xb_an_trainer_stats(const xb_an_trainer *tr, xb_an_stats *st, xb_an_read_stats *rs);
void xb_an_trainer_count(xb_an_trainer *tr, int on);
/* Pair array a (0; Tiki-Taka: 0 = A, 1 = C) of network layer k (NULL if none). */
const xb_an_pairs *xb_an_trainer_pairs(const xb_an_trainer *tr, size_t k, size_t a);
const xb_an_layer_map *xb_an_trainer_map(const xb_an_trainer *tr, size_t k);
const xb_an_model *xb_an_trainer_model(const xb_an_trainer *tr);
/* Gain-scaled read vs a fresh fast form and the full model on layer k's first tile. */
int xb_an_trainer_gain_error(xb_an_trainer *tr, size_t k, double *rel_fast, double *rel_exact, xb_error *err);
/* The initial MLP of xb_train_mlp (train.c) for a seed's stream. */
int xb_train_mlp_init(const xb_dataset *train, size_t n_classes, const xb_train_opts *o, uint64_t *rng,
                      xb_network **out, xb_error *err);

#endif
