/* In-memory training, the update rules on a pair array (docs/training.md, "Update mapping",
 * "Algorithms"): rank-1 stochastic pulse trains whose coincidences are the pulses (analog
 * SGD; Gokmen & Vlasov, Front. Neurosci. 10, 333, 2016), the digital accumulator of mixed
 * precision (Nandakumar et al., Front. Neurosci. 14, 406, 2020) and the Tiki-Taka transfer
 * (Gokmen & Haensch, Front. Neurosci. 14, 103, 2020). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec/train_analog_internal.h"

/* index lists of the rows / columns that may fire (nonzero entries), reused between calls;
 * a line fires in a slot when the top 53 bits n of its draw give n 2^-53 < p, that is
 * n < thr = ceil(p 2^53) (exact: n is an integer, p 2^53 a power-of-two scaling) */
typedef struct {
    size_t cap;
    size_t *idx;
    uint64_t *thr;
    signed char *sg;
} firing;

#define FIRE_ALWAYS ((uint64_t)1 << 53)

/* One line's draw of a slot: its splitmix64 word compared with thr; p = 1 or 0 decide
 * without the hash (the stream advances the same). */
static inline int fires(uint64_t thr, uint64_t *rng)
{
    if (thr == FIRE_ALWAYS || thr == 0) {
        *rng += XB_SPLITMIX64_GAMMA;
        return thr != 0;
    }
    return (xb_splitmix64(rng) >> 11) < thr;
}

static int firing_fill(firing *f, const float *v, size_t n, double c)
{
    if (f->cap < n) {
        free(f->idx);
        free(f->thr);
        free(f->sg);
        f->idx = malloc(n * sizeof *f->idx);
        f->thr = malloc(n * sizeof *f->thr);
        f->sg = malloc(n);
        f->cap = f->idx && f->thr && f->sg ? n : 0;
        if (!f->cap) return -1;
    }
    int m = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] != 0) {
            f->idx[m] = i;
            const double p = c * fabs((double)v[i]);
            f->thr[m] = p >= 1 ? FIRE_ALWAYS : (uint64_t)ceil(p * 0x1.0p53);
            f->sg[m] = v[i] > 0 ? 1 : -1;
            m++;
        }
    return m;
}

static void firing_free(firing *f)
{
    free(f->idx);
    free(f->thr);
    free(f->sg);
}

static double absmax(const float *v, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fabs((double)v[i]) > m ? fabs((double)v[i]) : m;
    return m;
}

static void rank1_deterministic(const xb_an_pairs *p, const xb_an_model *am, const xb_an_layer_map *lm,
                                const float *a, const float *b, double eta, uint64_t *rng, xb_an_stats *st)
{
    double most = 0;
    for (size_t j = 0; j < lm->n_out; j++) {
        if (a[j] == 0) continue;
        for (size_t i = 0; i < lm->n_in; i++) {
            const double u = eta * (double)a[j] * (double)b[i];
            double n = nearbyint(fabs(u) / lm->dw);
            if (lm->n_cap > 0 && n > lm->n_cap) n = lm->n_cap;
            for (double q = 0; q < n; q++) xb_an_pair_pulse(p, am, j * lm->n_in + i, u > 0 ? 1 : -1, rng, st);
            most = n > most ? n : most;
        }
    }
    st->t_s += most * am->width_s;
}

void xb_an_rank1(const xb_an_pairs *p, const xb_an_model *am, const xb_an_layer_map *lm, const float *a,
                 const float *b, double eta, const xb_an_pulse_cfg *pc, uint64_t *rng, xb_an_stats *st)
{
    const double am_ = absmax(a, lm->n_out), bm = absmax(b, lm->n_in);
    if (am_ == 0 || bm == 0 || eta == 0) return;
    if (pc->deterministic) {
        rank1_deterministic(p, am, lm, a, b, eta, rng, st);
        return;
    }
    const double K = fabs(eta) * am_ * bm / lm->dw; /* expected pulses of the largest weight */
    double bl = ceil(K);
    if (bl < 1) bl = 1;
    if (bl > (double)pc->bl_max) bl = (double)pc->bl_max;
    const double cab = fabs(eta) / (bl * lm->dw);
    const double ca = sqrt(cab * bm / am_), cb = sqrt(cab * am_ / bm);
    firing rows = {0}, cols = {0};
    const int nr = firing_fill(&rows, b, lm->n_in, cb), nc = firing_fill(&cols, a, lm->n_out, ca);
    size_t *fr = nr > 0 ? malloc((size_t)nr * sizeof *fr) : NULL;
    if (nr > 0 && nc > 0 && fr) {
        const int se = eta > 0 ? 1 : -1;
        for (size_t t = 0; t < (size_t)bl; t++) {
            size_t n_fr = 0;
            for (int q = 0; q < nr; q++)
                if (fires(rows.thr[q], rng)) fr[n_fr++] = (size_t)q;
            for (int c = 0; c < nc; c++) {
                if (!fires(cols.thr[c], rng)) continue;
                const size_t j = cols.idx[c];
                for (size_t q = 0; q < n_fr; q++)
                    xb_an_pair_pulse(p, am, j * lm->n_in + rows.idx[fr[q]], se * cols.sg[c] * rows.sg[fr[q]], rng,
                                     st);
            }
        }
    }
    st->t_s += bl * am->width_s;
    free(fr);
    firing_free(&rows);
    firing_free(&cols);
}

/* Nandakumar's rule: n = trunc(chi / dw) pulses at once, the nominal step subtracted */
static double mp_weight_trunc(const xb_an_pairs *p, const xb_an_model *am, const xb_an_layer_map *lm, size_t k,
                              double *chi, uint64_t *rng, xb_an_stats *st)
{
    double n = trunc(chi[k] / lm->dw);
    if (n == 0) return 0;
    /* more pulses than cross the window move nothing more: the update is capped there and
     * so is the accumulator (a wild gradient does not queue pulses for later) */
    if (lm->n_cap > 0 && fabs(n) > lm->n_cap) {
        n = n > 0 ? lm->n_cap : -lm->n_cap;
        chi[k] = n * lm->dw;
    }
    for (double q = 0; q < fabs(n); q++) xb_an_pair_pulse(p, am, k, n > 0 ? 1 : -1, rng, st);
    chi[k] -= n * lm->dw;
    return fabs(n);
}

/* One pulse at a time, each against the step expected of it (the centre's dw, or the pair's
 * mean step at its present state), fired by the rounding rule. */
static double mp_weight_steps(const xb_an_pairs *p, const xb_an_model *am, const xb_an_layer_map *lm,
                              const xb_an_pulse_cfg *pc, size_t k, double *chi, uint64_t *rng, xb_an_stats *st)
{
    const double cap = lm->n_cap > 0 ? lm->n_cap : HUGE_VAL;
    double n = 0;
    while (chi[k] != 0) {
        const int dir = chi[k] > 0 ? 1 : -1;
        const double e = pc->mp_state ? lm->kappa * xb_an_pair_step(p, am, k, dir) : lm->dw;
        const double r = fabs(chi[k]) / e;
        if (!(e > 0) || n >= cap) { /* held at a bound, or the cap reached */
            if (fabs(chi[k]) > cap * lm->dw) chi[k] = dir * cap * lm->dw;
            break;
        }
        const int fire = pc->mp_round == XB_ANALOG_MP_NEAREST       ? r >= 0.5
                         : pc->mp_round == XB_ANALOG_MP_STOCHASTIC ? r >= 1 || xb_splitmix64_uniform(rng) < r
                                                                   : r >= 1;
        if (!fire) break;
        xb_an_pair_pulse(p, am, k, dir, rng, st);
        chi[k] -= dir * e;
        n++;
        if (r < 1) break; /* the rounding of the last fraction: chi changed sign */
    }
    return n;
}

void xb_an_mp(const xb_an_pairs *p, const xb_an_model *am, const xb_an_layer_map *lm, const xb_an_pulse_cfg *pc,
              double *chi, const float *gw, double lr, uint64_t *rng, xb_an_stats *st)
{
    const int classic = !pc->mp_state && pc->mp_round == XB_ANALOG_MP_TRUNC;
    double t = 0;
    for (size_t j = 0; j < lm->n_out; j++) {
        double most = 0;
        for (size_t i = 0; i < lm->n_in; i++) {
            const size_t k = j * lm->n_in + i;
            chi[k] -= lr * (double)gw[k];
            const double n = classic ? mp_weight_trunc(p, am, lm, k, chi, rng, st)
                                     : mp_weight_steps(p, am, lm, pc, k, chi, rng, st);
            most = n > most ? n : most;
        }
        t += most;
    }
    st->t_s += t * am->width_s;
}

void xb_an_read_weights(const xb_an_pairs *p, const xb_an_layer_map *lm, double scale, int accumulate, float *w)
{
    const double k = lm->kappa * scale;
    for (size_t q = 0; q < p->n; q++) {
        const double v = k * (p->gp[q] - p->gm[q]);
        w[q] = accumulate ? (float)((double)w[q] + v) : (float)v;
    }
}

void xb_an_tt_transfer(const xb_an_pairs *A, const xb_an_pairs *C, const xb_an_model *am, const xb_an_layer_map *lm,
                       size_t k, double lr_t, const xb_an_pulse_cfg *pc, float *v, float *ek, uint64_t *rng,
                       xb_an_stats *st)
{
    for (size_t j = 0; j < lm->n_out; j++) v[j] = (float)(lm->kappa * (A->gp[j * lm->n_in + k] - A->gm[j * lm->n_in + k]));
    memset(ek, 0, lm->n_in * sizeof(float));
    ek[k] = 1.0f;
    xb_an_rank1(C, am, lm, v, ek, lr_t, pc, rng, st);
}

void xb_an_tt_transfer_h(const xb_an_pairs *A, const xb_an_pairs *C, const xb_an_model *am, const xb_an_layer_map *lm,
                         const xb_an_pulse_cfg *pc, size_t k, double lr_t, double *h, uint64_t *rng, xb_an_stats *st)
{
    const int classic = !pc->mp_state && pc->mp_round == XB_ANALOG_MP_TRUNC;
    double most = 0;
    for (size_t j = 0; j < lm->n_out; j++) {
        const size_t q = j * lm->n_in + k;
        h[q] += lr_t * lm->kappa * (A->gp[q] - A->gm[q]);
        const double n = classic ? mp_weight_trunc(C, am, lm, q, h, rng, st) : mp_weight_steps(C, am, lm, pc, q, h, rng, st);
        most = n > most ? n : most;
    }
    st->t_s += most * am->width_s;
}

void xb_an_tt_reset_column(const xb_an_pairs *A, const xb_an_model *am, const xb_an_layer_map *lm, size_t k,
                           uint64_t *rng, xb_an_stats *st)
{
    /* xb_an_program counts its pulses' time in sequence; the column's pairs run in parallel */
    const double t0 = st->t_s;
    double most = 0;
    for (size_t j = 0; j < lm->n_out; j++) {
        const double b = st->t_s;
        xb_an_program_pair(A, am, j * lm->n_in + k, 0.0, rng, st);
        most = st->t_s - b > most ? st->t_s - b : most;
    }
    st->t_s = t0 + most;
}
