/* In-memory training (docs/training.md): the network trainer of train_net.c with its dense
 * layers held as differential conductance pairs.  The products go through the tiles
 * (analog_mvm.c; an xb_train_mvm hook), the weight update is an xb_train_optimizer whose
 * update fires programming pulses (analog_update.c) through the fitted update model
 * (analog_device.c), and the float weights of the trainer are the conductances read back
 * after every update.  Biases are digital (plain SGD). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec/train_analog_internal.h"

void xb_analog_opts_default(xb_analog_opts *a)
{
    memset(a, 0, sizeof *a);
    a->tile_rows = 64;
    a->tile_cols = 64;
    a->dac_bits = 8; /* aihwkit StandardIOParameters inp_res = out_res = 1/254: 8 bits */
    a->adc_bits = 8;
    a->v_read_volt = 0.2;
    a->t_mvm_s = 100e-9;
    a->dac_joule_per_bit = 4e-3 / 1024.0 * 100e-9; /* ISAAC (ISCA 2016, Table 2), as the executor */
    a->adc_joule_per_step = 2e-3 / 1.28e9 / 256.0;
    a->algorithm = XB_ANALOG_SGD;
    a->w_fs = 2.0;
    a->bl_max = 31;  /* aihwkit UpdateParameters.desired_bl */
    a->one_sided = 1; /* up pulses only: symmetric increments from asymmetric devices (docs/training.md) */
    a->refresh_margin = 0.05;
    a->refresh_every = 1;
    a->tt_gamma = 0.1;
    a->tt_lr = 0.5;
    a->tt_every = 1;
}

static const char *const k_alg_names[] = {"sgd", "tiki-taka", "mp"};
static const char *const k_ablate_names[] = {"asymmetry", "state", "c2c", "d2d"};

const char *xb_analog_algorithm_name(xb_analog_algorithm a)
{
    return (unsigned)a < 3 ? k_alg_names[a] : "?";
}

int xb_analog_algorithm_from_name(const char *s, xb_analog_algorithm *out)
{
    for (int k = 0; k < 3; k++)
        if (!strcmp(s, k_alg_names[k])) {
            *out = (xb_analog_algorithm)k;
            return XB_OK;
        }
    return XB_EINPUT;
}

int xb_analog_ablate_from_name(const char *s, unsigned *flag)
{
    for (unsigned k = 0; k < 4; k++)
        if (!strcmp(s, k_ablate_names[k])) {
            *flag = 1u << k;
            return XB_OK;
        }
    return XB_EINPUT;
}

/* ------------------------------------------------------------------ the trainer */
typedef struct {
    int on;                 /* a dense layer on pair arrays */
    xb_an_layer_map lm;
    xb_an_pairs arr[2];     /* SGD, MP: arr[0]; Tiki-Taka: A, C */
    size_t n_arr;
    xb_an_tiles *tiles;
    double *chi;            /* MP accumulator; Tiki-Taka's digital H (--tt-hidden) */
    float *v, *ek;          /* Tiki-Taka transfer scratch */
    size_t tt_next;         /* next column to transfer */
    const xb_an_pairs *ptr[2]; /* &arr[0], &arr[1] */
} alayer;

struct xb_an_trainer {
    xb_analog_opts a;
    xb_an_model am;
    xb_an_pulse_cfg pc;
    xb_array_params tp;
    xb_tnet *t;
    size_t nl;
    alayer *L;
    uint64_t rng;
    xb_an_stats st;
    xb_an_read_stats rs;
    int counting;
    size_t minibatch;
    xb_train_optimizer opt;
    xb_train_mvm mvm;
    float *d;               /* loss gradient scratch */
    xb_an_rank1_ws *r1ws;   /* the pulse trains' scratch */
    size_t nthr;            /* threads of the pulse trains and the refits: OpenBLAS's count
                             * when the trainer was made (the epochs run BLAS on one) */
    xb_workers *workers;    /* nthr workers for the pulse trains, refreshes and syncs */
};

static const xb_an_pairs *const *arrays_of(const alayer *l) { return l->ptr; }

/* Read the weights back into the trainer and the tiles' matrices. */
static void layer_sync(xb_an_trainer *tr, size_t k)
{
    alayer *l = &tr->L[k];
    float *w, *gw, *b, *gb;
    size_t nw, nb;
    xb_tnet_params(tr->t, k, &w, &gw, &nw, &b, &gb, &nb);
    if (l->n_arr == 2) {
        xb_an_read_weights(&l->arr[0], &l->lm, tr->a.tt_gamma, 0, w);
        xb_an_read_weights(&l->arr[1], &l->lm, 1.0, 1, w);
    } else {
        xb_an_read_weights(&l->arr[0], &l->lm, 1.0, 0, w);
    }
    if (l->tiles) {
        const double scale[2] = {l->n_arr == 2 ? tr->a.tt_gamma : 1.0, 1.0};
        xb_an_tiles_sync(l->tiles, arrays_of(l), scale, l->lm.kappa);
    }
}

static void opt_step(void *self, double lr)
{
    xb_an_trainer *tr = self;
    (void)lr;
    tr->minibatch++;
}

static int opt_update(void *self, const xb_train_params *p, double lr, xb_error *err)
{
    xb_an_trainer *tr = self;
    alayer *l = &tr->L[p->layer];
    if (!l->on) return xb_errorf(err, XB_EINPUT, "analog training: layer %zu is not on pair arrays", p->layer);
    xb_an_stats scratch = {0}, *st = tr->counting ? &tr->st : &scratch;
    const size_t n_in = l->lm.n_in, n_out = l->lm.n_out;
    if (tr->a.algorithm == XB_ANALOG_MP) {
        xb_an_mp(&l->arr[0], &tr->am, &l->lm, &tr->pc, l->chi, p->gw, lr, &tr->rng, st);
    } else {
        if (!p->x || !p->d) return xb_errorf(err, XB_EINPUT, "analog training: no per-sample gradients kept");
        if (xb_an_rank1_batch(&l->arr[0], &tr->am, &l->lm, p->d, p->x, p->n_batch, -lr, &tr->pc, tr->workers,
                              &tr->r1ws, &tr->rng, st))
            return xb_errorf(err, XB_ERUNTIME, "out of memory (pulse trains)");
        if (tr->a.algorithm == XB_ANALOG_TIKI_TAKA && tr->minibatch % tr->a.tt_every == 0) {
            const size_t cols = tr->a.tt_columns ? tr->a.tt_columns : (n_in + 7) / 8;
            /* the transfers of distinct columns read A, which they do not change: the rank-1
             * updates of C in one batch, the same as one after the other */
            const int batched = !tr->a.tt_hidden && !tr->a.tt_reset && cols <= n_in;
            if (batched) {
                if (xb_an_tt_transfer_batch(&l->arr[0], &l->arr[1], &tr->am, &l->lm, l->tt_next, cols, tr->a.tt_lr,
                                            &tr->pc, tr->workers, &tr->r1ws, &tr->rng, st))
                    return xb_errorf(err, XB_ERUNTIME, "out of memory (transfer)");
                l->tt_next = (l->tt_next + cols) % n_in;
            }
            for (size_t c = 0; c < cols && !batched; c++) {
                if (tr->a.tt_hidden)
                    xb_an_tt_transfer_h(&l->arr[0], &l->arr[1], &tr->am, &l->lm, &tr->pc, l->tt_next, tr->a.tt_lr,
                                        l->chi, &tr->rng, st);
                else
                    xb_an_tt_transfer(&l->arr[0], &l->arr[1], &tr->am, &l->lm, l->tt_next, tr->a.tt_lr, &tr->pc,
                                      l->v, l->ek, &tr->rng, st);
                if (tr->a.tt_reset) xb_an_tt_reset_column(&l->arr[0], &tr->am, &l->lm, l->tt_next, &tr->rng, st);
                l->tt_next = (l->tt_next + 1) % n_in;
            }
        }
    }
    if (tr->a.refresh_margin > 0 && tr->a.refresh_every && tr->minibatch % tr->a.refresh_every == 0)
        for (size_t a = 0; a < l->n_arr; a++)
            if (xb_an_refresh(&l->arr[a], &tr->am, tr->a.refresh_margin, tr->workers, &tr->rng, st))
                return xb_errorf(err, XB_ERUNTIME, "out of memory (refresh)");
    const double blr = tr->a.bias_lr > 0 ? tr->a.bias_lr : lr;
    for (size_t j = 0; j < n_out; j++) p->b[j] -= (float)(blr * p->gb[j]);
    layer_sync(tr, p->layer);
    return XB_OK;
}

static void mvm_forward(void *self, size_t layer, const float *x, size_t n, float *y)
{
    xb_an_trainer *tr = self;
    xb_an_tiles_forward(tr->L[layer].tiles, x, n, y, tr->counting ? &tr->rs : NULL);
}

static void mvm_backward(void *self, size_t layer, const float *d, size_t n, float *dn)
{
    xb_an_trainer *tr = self;
    xb_an_tiles_backward(tr->L[layer].tiles, d, n, dn, tr->counting ? &tr->rs : NULL);
}

void xb_an_trainer_free(xb_an_trainer *tr)
{
    if (!tr) return;
    for (size_t k = 0; tr->L && k < tr->nl; k++) {
        alayer *l = &tr->L[k];
        for (size_t a = 0; a < 2; a++) xb_an_pairs_free(&l->arr[a]);
        xb_an_tiles_free(l->tiles);
        free(l->chi);
        free(l->v);
        free(l->ek);
    }
    free(tr->L);
    free(tr->d);
    xb_an_rank1_ws_free(tr->r1ws);
    xb_workers_free(tr->workers);
    xb_tnet_free(tr->t);
    free(tr);
}

static int check_opts(const xb_analog_opts *a, xb_error *err)
{
    if (!a->update) return xb_errorf(err, XB_EINPUT, "analog training: no update model");
    if ((unsigned)a->algorithm > XB_ANALOG_MP) return xb_errorf(err, XB_EINPUT, "--algorithm: unknown");
    if (a->tile_rows < 1 || a->tile_cols < 2 || a->tile_cols % 2)
        return xb_errorf(err, XB_EINPUT, "analog training: tiles need >= 1 row and an even column count");
    if (!(a->w_fs > 0)) return xb_errorf(err, XB_EINPUT, "--w-range: must be > 0");
    if (a->bl_max < 1) return xb_errorf(err, XB_EINPUT, "--bl: must be >= 1");
    if (!(a->refresh_margin >= 0 && a->refresh_margin < 0.2))
        return xb_errorf(err, XB_EINPUT, "--refresh-margin: must be in [0, 0.2)");
    if (a->algorithm == XB_ANALOG_TIKI_TAKA && (!(a->tt_lr > 0) || a->tt_every < 1 || !(a->tt_gamma >= 0)))
        return xb_errorf(err, XB_EINPUT, "tiki-taka: --tt-lr > 0, --tt-every >= 1, --tt-gamma >= 0");
    if (a->mp_round < XB_ANALOG_MP_TRUNC || a->mp_round > XB_ANALOG_MP_STOCHASTIC)
        return xb_errorf(err, XB_EINPUT, "--mp-round: unknown rule");
    if (a->dac_bits < 0 || a->dac_bits > 16 || a->adc_bits < 0 || a->adc_bits == 1 || a->adc_bits > 24)
        return xb_errorf(err, XB_EINPUT, "analog training: DAC bits 0..16, ADC bits 0 or 2..24");
    return XB_OK;
}

/* The pair arrays of dense layer k with weights w: programmed closed loop (not counted). */
static int layer_init(xb_an_trainer *tr, size_t k, const xb_layer *ly, uint64_t seed, xb_error *err)
{
    alayer *l = &tr->L[k];
    l->on = 1;
    l->ptr[0] = &l->arr[0];
    l->ptr[1] = &l->arr[1];
    l->lm.n_out = ly->n_out;
    l->lm.n_in = ly->n_in;
    const double w_fs = tr->a.w_fs * sqrt(6.0 / (double)ly->n_in); /* x the He-uniform limit */
    l->lm.kappa = w_fs / (tr->am.g_max - tr->am.g_min);
    l->lm.dw = tr->am.one_sided ? l->lm.kappa * tr->am.step_up_c : 2.0 * l->lm.kappa * tr->am.step_c;
    if (!(l->lm.dw > 0)) return xb_errorf(err, XB_EINPUT, "update model: no up step at the window centre");
    l->lm.n_cap = ceil(2.0 * l->lm.kappa * (tr->am.g_max - tr->am.g_min) / l->lm.dw);
    l->n_arr = tr->a.algorithm == XB_ANALOG_TIKI_TAKA ? 2 : 1;
    const size_t nw = ly->n_out * ly->n_in;
    int rc = XB_OK;
    for (size_t a = 0; a < l->n_arr && !rc; a++)
        rc = xb_an_pairs_new(&l->arr[a], nw, &tr->am, xb_hash64(seed + 0x100 * k + a), err);
    if (rc) return rc;
    if ((tr->a.algorithm == XB_ANALOG_MP || (l->n_arr == 2 && tr->a.tt_hidden)) &&
        !(l->chi = calloc(nw, sizeof(double))))
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    if (l->n_arr == 2 && (!(l->v = malloc(ly->n_out * sizeof(float))) || !(l->ek = malloc(ly->n_in * sizeof(float)))))
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    /* the weights go to the array the forward pass reads at full scale: C of Tiki-Taka */
    xb_an_stats init = {0};
    uint64_t prng = xb_hash64(seed ^ (0x9E0ull + k));
    const xb_an_pairs *dst = &l->arr[l->n_arr - 1];
    for (size_t q = 0; q < nw; q++) xb_an_program_pair(dst, &tr->am, q, (double)ly->weight[q] / l->lm.kappa, &prng, &init);
    if (tr->a.engine) {
        xb_an_read_cfg rcfg = {tr->a.engine, &tr->tp, tr->a.dac_bits, tr->a.adc_bits, tr->a.v_read_volt,
                               tr->a.t_mvm_s, tr->a.dac_joule_per_bit, tr->a.adc_joule_per_step, tr->workers};
        if ((rc = xb_an_tiles_new(&rcfg, ly->n_out, ly->n_in, l->n_arr, &l->tiles, err))) return rc;
    }
    return XB_OK;
}

int xb_an_trainer_new(const xb_network *init, const xb_analog_opts *a, size_t max_batch, uint64_t seed,
                      xb_an_trainer **out, xb_error *err)
{
    *out = NULL;
    int rc = check_opts(a, err);
    if (rc) return rc;
    xb_an_trainer *tr = calloc(1, sizeof *tr);
    if (!tr) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    tr->a = *a;
    const int nthr = xb_blas_threads();
    tr->nthr = nthr > 1 ? (size_t)nthr : 1;
    if (tr->nthr > 1 && !(tr->workers = xb_workers_new(tr->nthr))) {
        free(tr);
        return xb_errorf(err, XB_ERUNTIME, "out of memory (worker threads)");
    }
    tr->pc.bl_max = a->bl_max;
    tr->pc.deterministic = a->deterministic;
    tr->pc.mp_state = a->mp_state;
    tr->pc.mp_round = a->mp_round;
    tr->rng = xb_hash64(seed ^ 0xA7A106ull);
    tr->counting = 1;
    if (a->engine) {
        xb_array_params_default(&tr->tp, a->update->device);
        tr->tp.rows = a->tile_rows;
        tr->tp.cols = a->tile_cols;
        tr->tp.diff_pairs = 1;
        tr->tp.v_read_volt = a->v_read_volt;
    }
    if (!rc) rc = xb_an_model_init(&tr->am, a->update, a->ablate, err);
    tr->am.one_sided = a->one_sided;
    if (!rc) rc = xb_tnet_new(init, max_batch, &tr->t, err);
    if (!rc) {
        tr->nl = xb_tnet_n_layers(tr->t);
        tr->L = calloc(tr->nl, sizeof *tr->L);
        tr->d = malloc(max_batch * xb_tnet_n_classes(tr->t) * sizeof(float));
        if (!tr->L || !tr->d) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    for (size_t k = 0; !rc && k < tr->nl; k++) {
        const xb_layer *ly = xb_network_layer(init, k);
        if (ly->kind == XB_LAYER_CONV2D) rc = xb_errorf(err, XB_EINPUT, "analog training: dense layers only (layer %zu is conv2d)", k);
        else if (ly->kind == XB_LAYER_DENSE) rc = layer_init(tr, k, ly, seed, err);
    }
    tr->mvm = (xb_train_mvm){tr, mvm_forward, mvm_backward};
    if (!rc) rc = xb_tnet_set_hooks(tr->t, a->engine ? &tr->mvm : NULL, a->algorithm != XB_ANALOG_MP, err);
    if (!rc) rc = xb_an_trainer_refit(tr, err);
    tr->opt = (xb_train_optimizer){"analog", tr, opt_step, opt_update, NULL};
    if (rc) {
        xb_an_trainer_free(tr);
        return rc;
    }
    *out = tr;
    return XB_OK;
}

int xb_an_trainer_refit(xb_an_trainer *tr, xb_error *err)
{
    const int nth = xb_blas_threads_begin((int)tr->nthr); /* the engine fits on as many */
    int rc = XB_OK;
    for (size_t k = 0; k < tr->nl && !rc; k++) {
        alayer *l = &tr->L[k];
        if (!l->on) continue;
        if (l->tiles) rc = xb_an_tiles_refit(l->tiles, arrays_of(l), err);
        if (!rc) layer_sync(tr, k);
    }
    xb_blas_threads_end(nth);
    return rc;
}

xb_tnet *xb_an_trainer_tnet(xb_an_trainer *tr) { return tr->t; }
void xb_an_trainer_count(xb_an_trainer *tr, int on) { tr->counting = on; }
const xb_an_model *xb_an_trainer_model(const xb_an_trainer *tr) { return &tr->am; }

void xb_an_trainer_stats(const xb_an_trainer *tr, xb_an_stats *st, xb_an_read_stats *rs)
{
    if (st) *st = tr->st;
    if (rs) *rs = tr->rs;
}

const xb_an_pairs *xb_an_trainer_pairs(const xb_an_trainer *tr, size_t k, size_t a)
{
    return k < tr->nl && tr->L[k].on && a < tr->L[k].n_arr ? &tr->L[k].arr[a] : NULL;
}

const xb_an_layer_map *xb_an_trainer_map(const xb_an_trainer *tr, size_t k)
{
    return k < tr->nl && tr->L[k].on ? &tr->L[k].lm : NULL;
}

int xb_an_trainer_gain_error(xb_an_trainer *tr, size_t k, double *rel_fast, double *rel_exact, xb_error *err)
{
    if (k >= tr->nl || !tr->L[k].tiles) return xb_errorf(err, XB_EINPUT, "layer %zu has no tiles", k);
    return xb_an_tiles_gain_error(tr->L[k].tiles, arrays_of(&tr->L[k]), 32, 0x6A1Eull + k, rel_fast, rel_exact, err);
}

int xb_an_trainer_minibatch(xb_an_trainer *tr, const float *x, const unsigned char *labels, size_t n, double lr,
                            double *loss, double *correct, xb_error *err)
{
    const float *p = xb_tnet_forward(tr->t, x, n, NULL);
    const size_t nc = xb_tnet_n_classes(tr->t);
    for (size_t s = 0; s < n; s++) {
        const unsigned lab = labels[s];
        size_t best = 0;
        for (size_t c = 1; c < nc; c++) best = p[s * nc + c] > p[s * nc + best] ? c : best;
        *correct += best == lab;
        *loss -= log(fmax((double)p[s * nc + lab], 1e-30));
        for (size_t c = 0; c < nc; c++) tr->d[s * nc + c] = (p[s * nc + c] - (c == lab ? 1.0f : 0.0f)) / (float)n;
    }
    xb_tnet_backward(tr->t, x, n, tr->d);
    int rc = xb_tnet_update(tr->t, &tr->opt, lr, err);
    if (!rc && tr->a.engine && tr->a.refit_every && tr->minibatch % tr->a.refit_every == 0)
        rc = xb_an_trainer_refit(tr, err);
    return rc;
}

/* ------------------------------------------------------------------ the entry point */
static int epoch_loop(xb_an_trainer *tr, const xb_dataset *train, const xb_dataset *test, const xb_train_opts *o,
                      uint64_t *rng, xb_analog_progress cb, void *user, xb_error *err)
{
    const size_t px = train->rows * train->cols, B = o->batch, nc = xb_tnet_n_classes(tr->t);
    size_t *perm = malloc(train->n * sizeof *perm);
    float *xb = malloc(B * px * sizeof(float)), *probs = test && test->n ? malloc(test->n * nc * sizeof(float)) : NULL;
    unsigned char *lb = malloc(B);
    int rc = perm && xb && lb && (!test || !test->n || probs) ? XB_OK : xb_errorf(err, XB_ERUNTIME, "out of memory");
    for (size_t s = 0; !rc && s < train->n; s++) perm[s] = s;
    double lr = o->lr, nw = 0;
    const size_t per_epoch = (train->n + B - 1) / B, t_all = per_epoch * o->epochs;
    for (size_t k = 0; k < tr->nl; k++) nw += tr->L[k].on ? (double)(tr->L[k].lm.n_out * tr->L[k].lm.n_in) : 0;
    for (size_t ep = 0; !rc && ep < o->epochs; ep++) {
        const double t0 = xb_now_s();
        const xb_an_stats s0 = tr->st;
        const xb_an_read_stats r0 = tr->rs;
        if (ep > 0 && tr->a.engine && !tr->a.refit_every) rc = xb_an_trainer_refit(tr, err);
        xb_train_shuffle(perm, train->n, rng);
        double loss = 0, correct = 0;
        for (size_t s0i = 0; !rc && s0i < train->n; s0i += B) {
            if (o->lr_cosine) lr = xb_train_lr_cosine(o->lr, ep * per_epoch + s0i / B, t_all);
            const size_t nb = train->n - s0i < B ? train->n - s0i : B;
            for (size_t s = 0; s < nb; s++) {
                memcpy(xb + s * px, train->images + perm[s0i + s] * px, px * sizeof(float));
                lb[s] = train->labels[perm[s0i + s]];
            }
            rc = xb_an_trainer_minibatch(tr, xb, lb, nb, lr, &loss, &correct, err);
        }
        lr *= o->lr_decay > 0 ? o->lr_decay : 1.0;
        xb_analog_epoch e = {0};
        e.wall_s = xb_now_s() - t0;
        e.epoch = ep;
        e.loss = loss / (double)train->n;
        e.train_acc = correct / (double)train->n;
        e.test_acc = -1;
        if (!rc && probs) {
            tr->counting = 0;
            rc = xb_tnet_predict(tr->t, test->images, test->n, probs, err);
            tr->counting = 1;
            if (!rc) e.test_acc = xb_exec_top1(probs, test->n, nc, test->labels);
        }
        e.pulses_per_weight = (tr->st.pulses - s0.pulses) / nw;
        e.e_update_joule = tr->st.e_joule - s0.e_joule;
        e.t_update_s = tr->st.t_s - s0.t_s;
        e.refreshes = tr->st.refreshes - s0.refreshes;
        e.e_fwd_joule = tr->rs.e_fwd_joule - r0.e_fwd_joule;
        e.e_bwd_joule = tr->rs.e_bwd_joule - r0.e_bwd_joule;
        e.fast_error = tr->rs.fast_error;
        e.gain_error_fast = e.gain_error_exact = -1;
        for (size_t k = 0; !rc && tr->a.engine && k < tr->nl; k++)
            if (tr->L[k].on) {
                double gf, ge;
                if (xb_an_trainer_gain_error(tr, k, &gf, &ge, NULL) == XB_OK) {
                    e.gain_error_fast = gf;
                    e.gain_error_exact = ge == ge ? ge : -1;
                }
                break;
            }
        if (!rc && cb) cb(user, &e);
    }
    free(perm);
    free(xb);
    free(probs);
    free(lb);
    return rc;
}

int xb_train_analog_mlp(const xb_dataset *train, const xb_dataset *test, size_t n_classes, const xb_train_opts *o,
                        const xb_analog_opts *a, xb_analog_progress cb, void *user, xb_network **out, xb_error *err)
{
    *out = NULL;
    if (o->n_hidden > 4) return xb_errorf(err, XB_EINPUT, "--hidden: at most 4 hidden layers");
    if (o->hw_model || o->weight_noise > 0)
        return xb_errorf(err, XB_EINPUT, "--analog: --hw-model and --weight-noise do not apply");
    xb_train_hwa hwa;
    xb_train_noise nz;
    int blas_prev;
    int rc = xb_train_begin(train, n_classes, o, &hwa, &nz, &blas_prev, err);
    if (rc) return rc;
    uint64_t rng = o->seed;
    xb_network *net = NULL;
    xb_an_trainer *tr = NULL;
    rc = xb_train_mlp_init(train, n_classes, o, &rng, &net, err);
    if (!rc) rc = xb_an_trainer_new(net, a, o->batch > 1000 ? o->batch : 1000, o->seed, &tr, err);
    if (!rc) { /* the tiles' GEMMs are small: BLAS on one thread, the threads on the pulses */
        const int nth = xb_blas_serial_begin();
        rc = epoch_loop(tr, train, test, o, &rng, cb, user, err);
        xb_blas_serial_end(nth);
    }
    if (!rc) rc = xb_tnet_export(tr->t, out, err);
    xb_an_trainer_free(tr);
    xb_network_free(net);
    xb_train_end(blas_prev);
    return rc;
}
