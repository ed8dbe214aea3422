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

/* ---- stochastic rank-1 updates of a minibatch, columns on several threads ----
 * Per sample s (in order, from the caller's stream): its slots BL_s, the rows that fire in
 * each slot (one draw per row and slot, as in hardware one row pulse reaches every column)
 * and a seed.  Then column j draws its own pulses from the stream xb_hash64(seed_s +
 * GAMMA (j + 1)): whether it fires in each slot, and the c2c noise of the pulses of its
 * coincidences.  A column's weights see the samples in order; columns are independent, so
 * they are spread over threads in fixed chunks (statistics merged in chunk order): the same
 * conductances and counts for any number of threads. */
typedef struct {
    size_t bl;      /* slots (0: the sample updates nothing) */
    double ca;      /* column probability per |a_j| */
    uint64_t seed;  /* the columns' streams */
    size_t row0;    /* its first slot in slot_end */
} r1_sample;

struct xb_an_rank1_ws {
    r1_sample *smp;
    size_t smp_cap;
    size_t *slot_end;   /* end of each slot's rows in rows (slots of all samples in turn) */
    size_t slot_cap;
    int32_t *rows;      /* +-(i + 1): firing row i and the sign of b_i */
    size_t rows_cap, n_rows;
    firing fr;
    xb_an_stats *cst;   /* per column chunk */
    size_t cst_cap;
};

void xb_an_rank1_ws_free(xb_an_rank1_ws *w)
{
    if (!w) return;
    free(w->smp);
    free(w->slot_end);
    free(w->rows);
    firing_free(&w->fr);
    free(w->cst);
    free(w);
}

static int grow(void **buf, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 1024;
    while (c < need) c *= 2;
    void *b = realloc(*buf, c * elem);
    if (!b) return -1;
    *buf = b;
    *cap = c;
    return 0;
}

/* The serial part of sample s: slots, row draws, the seed. */
static int plan_sample(xb_an_rank1_ws *w, const xb_an_layer_map *lm, const float *a, const float *b, double eta,
                       const xb_an_pulse_cfg *pc, size_t s, size_t *n_slots, uint64_t *rng, xb_an_stats *st,
                       const xb_an_model *am)
{
    r1_sample *sm = &w->smp[s];
    memset(sm, 0, sizeof *sm);
    const double am_ = absmax(a, lm->n_out), bm = absmax(b, lm->n_in);
    if (am_ == 0 || bm == 0 || eta == 0) return 0;
    const double K = fabs(eta) * am_ * bm / lm->dw; /* expected pulses of the largest weight */
    double bl = ceil(K);
    if (bl < 1) bl = 1;
    if (bl > (double)pc->bl_max) bl = (double)pc->bl_max;
    const double cab = fabs(eta) / (bl * lm->dw);
    sm->ca = sqrt(cab * bm / am_); /* Ca max|a| = Cb max|b| */
    const double cb = sqrt(cab * am_ / bm);
    const int nr = firing_fill(&w->fr, b, lm->n_in, cb);
    if (nr < 0) return -1;
    st->t_s += bl * am->width_s;
    if (nr == 0) return 0;
    sm->bl = (size_t)bl;
    sm->row0 = *n_slots;
    sm->seed = xb_splitmix64(rng);
    if (grow((void **)&w->slot_end, &w->slot_cap, *n_slots + sm->bl, sizeof *w->slot_end) ||
        grow((void **)&w->rows, &w->rows_cap, w->n_rows + sm->bl * (size_t)nr, sizeof *w->rows))
        return -1;
    for (size_t t = 0; t < sm->bl; t++) {
        for (int q = 0; q < nr; q++)
            if (fires(w->fr.thr[q], rng)) w->rows[w->n_rows++] = (int32_t)(w->fr.sg[q] * (long)(w->fr.idx[q] + 1));
        w->slot_end[(*n_slots)++] = w->n_rows;
    }
    return 0;
}

typedef struct {
    const xb_an_pairs *p;
    const xb_an_model *am;
    const xb_an_layer_map *lm;
    const xb_an_rank1_ws *w;
    const float *a;
    size_t n, ch, n_chunks;
    int se;
} r1_job;

/* Column j through every sample of the batch. */
static void column_pulses(const r1_job *jb, size_t j, xb_an_stats *st)
{
    const xb_an_rank1_ws *w = jb->w;
    const size_t n_in = jb->lm->n_in, n_out = jb->lm->n_out;
    for (size_t s = 0; s < jb->n; s++) {
        const r1_sample *sm = &w->smp[s];
        const float aj = jb->a[s * n_out + j];
        if (!sm->bl || aj == 0) continue;
        const double q = sm->ca * fabs((double)aj);
        const uint64_t thr = q >= 1 ? FIRE_ALWAYS : (uint64_t)ceil(q * 0x1.0p53);
        const int sgc = jb->se * (aj > 0 ? 1 : -1);
        uint64_t r = xb_hash64(sm->seed + XB_SPLITMIX64_GAMMA * (j + 1));
        size_t r0 = sm->row0 ? w->slot_end[sm->row0 - 1] : 0;
        for (size_t t = 0; t < sm->bl; t++) {
            const size_t r1 = w->slot_end[sm->row0 + t];
            if (fires(thr, &r)) xb_an_pair_pulses(jb->p, jb->am, j * n_in, w->rows + r0, r1 - r0, sgc, &r, st);
            r0 = r1;
        }
    }
}

static void r1_job_run(void *arg, size_t tid, size_t nthr)
{
    const r1_job *jb = arg;
    for (size_t c = tid; c < jb->n_chunks; c += nthr) {
        xb_an_stats *st = &jb->w->cst[c];
        memset(st, 0, sizeof *st);
        const size_t j1 = (c + 1) * jb->ch < jb->lm->n_out ? (c + 1) * jb->ch : jb->lm->n_out;
        for (size_t j = c * jb->ch; j < j1; j++) column_pulses(jb, j, st);
    }
}

static size_t gcd(size_t x, size_t y)
{
    while (y) {
        const size_t t = x % y;
        x = y;
        y = t;
    }
    return x;
}

int xb_an_rank1_batch(const xb_an_pairs *p, const xb_an_model *am, const xb_an_layer_map *lm, const float *a,
                      const float *b, size_t n, double eta, const xb_an_pulse_cfg *pc, xb_workers *workers,
                      xb_an_rank1_ws **wsp, uint64_t *rng, xb_an_stats *st)
{
    if (pc->deterministic) {
        for (size_t s = 0; s < n; s++) {
            const float *as = a + s * lm->n_out, *bs = b + s * lm->n_in;
            if (absmax(as, lm->n_out) > 0 && absmax(bs, lm->n_in) > 0 && eta != 0)
                rank1_deterministic(p, am, lm, as, bs, eta, rng, st);
        }
        return 0;
    }
    if (!*wsp && !(*wsp = calloc(1, sizeof **wsp))) return -1;
    xb_an_rank1_ws *w = *wsp;
    if (grow((void **)&w->smp, &w->smp_cap, n, sizeof *w->smp)) return -1;
    w->n_rows = 0;
    size_t n_slots = 0;
    for (size_t s = 0; s < n; s++)
        if (plan_sample(w, lm, a + s * lm->n_out, b + s * lm->n_in, eta, pc, s, &n_slots, rng, st, am)) return -1;
    if (!n_slots) return 0;
    /* chunks of whole 64-pair words of the pairs' moved marks (no two threads write one) */
    const size_t ch0 = 64 / gcd(lm->n_in, 64), ch = ch0 * ((8 + ch0 - 1) / ch0);
    const size_t n_chunks = (lm->n_out + ch - 1) / ch;
    if (grow((void **)&w->cst, &w->cst_cap, n_chunks, sizeof *w->cst)) return -1;
    r1_job job = {p, am, lm, w, a, n, ch, n_chunks, eta > 0 ? 1 : -1};
    xb_workers_run(workers, r1_job_run, &job);
    for (size_t c = 0; c < n_chunks; c++) {
        st->pulses += w->cst[c].pulses;
        st->e_joule += w->cst[c].e_joule;
    }
    return 0;
}

void xb_an_rank1(const xb_an_pairs *p, const xb_an_model *am, const xb_an_layer_map *lm, const float *a,
                 const float *b, double eta, const xb_an_pulse_cfg *pc, uint64_t *rng, xb_an_stats *st)
{
    xb_an_rank1_ws *w = NULL;
    xb_an_rank1_batch(p, am, lm, a, b, 1, eta, pc, NULL, &w, rng, st);
    xb_an_rank1_ws_free(w);
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

int xb_an_tt_transfer_batch(const xb_an_pairs *A, const xb_an_pairs *C, const xb_an_model *am,
                            const xb_an_layer_map *lm, size_t k0, size_t cols, double lr_t, const xb_an_pulse_cfg *pc,
                            xb_workers *workers, xb_an_rank1_ws **ws, uint64_t *rng, xb_an_stats *st)
{
    const size_t n_in = lm->n_in, n_out = lm->n_out;
    float *v = malloc(cols * n_out * sizeof(float)), *e = calloc(cols * n_in, sizeof(float));
    int rc = v && e ? 0 : -1;
    for (size_t c = 0; c < cols && !rc; c++) {
        const size_t k = (k0 + c) % n_in;
        for (size_t j = 0; j < n_out; j++)
            v[c * n_out + j] = (float)(lm->kappa * (A->gp[j * n_in + k] - A->gm[j * n_in + k]));
        e[c * n_in + k] = 1.0f;
    }
    if (!rc) rc = xb_an_rank1_batch(C, am, lm, v, e, cols, lr_t, pc, workers, ws, rng, st);
    free(v);
    free(e);
    return rc;
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
