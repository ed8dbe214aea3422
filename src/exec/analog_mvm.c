/* In-memory training, reads on tiles (docs/training.md, "Reads"): the forward product W x
 * and the transposed product W^T d of the pair arrays through the model engine's fast form
 * I = sum_p phi_p(V) M_p (fit.h), with DACs on the driven lines and ADCs on the sensed ones.
 *
 * A refit programs every tile through the engine (the fast form fitted to the full model at
 * those conductances) and keeps the per-cell gains M_p / G.  Updates change G by small steps;
 * between refits the matrices are M_p(G) = gain_p . G, so reading an updated array costs no
 * refit (xb_an_tiles_gain_error measures what this misses).  The transposed product drives
 * the columns (pair j: +v on G+, -v on G-, phi odd) and senses the rows with the same
 * matrices: the column-driven read is taken to have the row-driven read's nonlinearity and
 * attenuation (not fitted separately). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec/train_analog_internal.h"

struct xb_an_tiles {
    xb_an_read_cfg rc;
    size_t n_out, n_in, n_arrays, R, C, P, n_rt, n_ct, T, nlev;
    double *gain;    /* n_arrays x n_rt x n_ct x T x R x C */
    float *E;        /* T x n_out x n_in: effective weights (weight units) */
    float *lut;      /* T x nlev: phi_p(u v_read) / v_read at the DAC levels u = q/(nlev-1) */
    double *rowsum;  /* T x n_in: sum over every column driven by row i of M_p (siemens) */
    double *colsum;  /* T x n_out: sum over the rows of the pair's two columns of M_p */
    double *gsum_r, *gsum_c; /* n_in, n_out: conductance sums (Joule heat without a law) */
    double *g_prev;  /* n_arrays x 2 x n_out x n_in: G+ and G- at the last sync */
    double *s_prev;  /* n_out x n_in x T: each pair's share of the row and column sums at the
                      * last sync (what pair_terms gives for g_prev: not computed again) */
    double scale_prev[2], kappa_prev;
    int synced;      /* 0: the next sync recomputes everything (after a refit) */
    int law;
    double k_res, k_cap;
    double fast_err;
    float *phi;      /* scratch: T x max_batch x max(n_in, n_out) */
    float *part;     /* scratch: per worker max_batch x max(R, P): one tile's outputs */
    unsigned short *lev; /* scratch: max_batch x max(n_in, n_out) */
    size_t cap;
    double *drow;    /* scratch of the incremental syncs: per chunk its row-sum changes */
};

static size_t tsize(const xb_an_tiles *t) { return t->T * t->R * t->C; }

int xb_an_tiles_new(const xb_an_read_cfg *rc, size_t n_out, size_t n_in, size_t n_arrays, xb_an_tiles **out,
                    xb_error *err)
{
    *out = NULL;
    if (!rc->eng || !rc->tp || rc->tp->cols < 2 || rc->tp->cols % 2 || rc->tp->rows < 1)
        return xb_errorf(err, XB_EINPUT, "analog training: tiles need an engine and an even column count");
    xb_an_tiles *t = calloc(1, sizeof *t);
    if (!t) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    t->rc = *rc;
    t->n_out = n_out;
    t->n_in = n_in;
    t->n_arrays = n_arrays;
    t->R = rc->tp->rows;
    t->C = rc->tp->cols;
    t->P = t->C / 2;
    t->n_rt = (n_in + t->R - 1) / t->R;
    t->n_ct = (n_out + t->P - 1) / t->P;
    const int bits = rc->dac_bits > 0 && rc->dac_bits <= 16 ? rc->dac_bits : 16;
    t->nlev = (size_t)1 << bits;
    t->law = xb_engine_energy_law(rc->eng, &t->k_res, &t->k_cap);
    *out = t;
    return XB_OK;
}

void xb_an_tiles_free(xb_an_tiles *t)
{
    if (!t) return;
    free(t->gain);
    free(t->E);
    free(t->lut);
    free(t->rowsum);
    free(t->colsum);
    free(t->gsum_r);
    free(t->gsum_c);
    free(t->g_prev);
    free(t->s_prev);
    free(t->phi);
    free(t->part);
    free(t->lev);
    free(t->drow);
    free(t);
}

/* The tile (r, c) conductances of pair array p: R x C, unused cells at g_fill. */
static void tile_g(const xb_an_tiles *t, const xb_an_pairs *p, size_t r, size_t c, double g_fill, xb_matrix *g)
{
    for (size_t i = 0; i < t->R; i++)
        for (size_t q = 0; q < t->P; q++) {
            const size_t row = r * t->R + i, j = c * t->P + q;
            double *o = g->data + i * t->C + 2 * q;
            if (row < t->n_in && j < t->n_out) {
                o[0] = p->gp[j * t->n_in + row];
                o[1] = p->gm[j * t->n_in + row];
            } else {
                o[0] = o[1] = g_fill;
            }
        }
}

/* The first tile fixes the fast form's basis: the gains' storage and the basis tabulated at
 * the DAC levels. */
static int tiles_alloc(xb_an_tiles *t, const xb_fit_fast *f, xb_error *err)
{
    const size_t T = xb_fit_fast_terms(f), nt = t->n_rt * t->n_ct;
    t->T = T;
    t->gain = malloc(t->n_arrays * nt * tsize(t) * sizeof(double));
    t->E = malloc(T * t->n_out * t->n_in * sizeof(float));
    t->lut = malloc(T * t->nlev * sizeof(float));
    t->rowsum = malloc(T * t->n_in * sizeof(double));
    t->colsum = malloc(T * t->n_out * sizeof(double));
    t->gsum_r = malloc(t->n_in * sizeof(double));
    t->gsum_c = malloc(t->n_out * sizeof(double));
    if (!t->gain || !t->E || !t->lut || !t->rowsum || !t->colsum || !t->gsum_r || !t->gsum_c)
        return xb_errorf(err, XB_ERUNTIME, "out of memory (tile gains)");
    const xb_fit_basis *b = xb_fit_fast_basis(f);
    const double vr = t->rc.v_read;
    for (size_t p = 0; p < T; p++)
        for (size_t q = 0; q < t->nlev; q++)
            t->lut[p * t->nlev + q] = (float)(xb_fit_basis_eval(b, p, vr * (double)q / (double)(t->nlev - 1)) / vr);
    return XB_OK;
}

/* Tile k's per-cell gains M_p / G from its fast form. */
static int tile_gains(xb_an_tiles *t, size_t k, xb_engine_tile *tile, const xb_matrix *g, xb_error *err)
{
    const xb_fit_fast *f = xb_engine_fast_form(tile);
    if (!f)
        return xb_errorf(err, XB_EINPUT, "analog training: the engine '%s' has no fast form (use the model engine)",
                         xb_engine_name(t->rc.eng));
    const size_t T = xb_fit_fast_terms(f);
    int rc = t->gain ? XB_OK : tiles_alloc(t, f, err);
    if (rc) return rc;
    if (T != t->T)
        return xb_errorf(err, XB_ERUNTIME, "analog training: tiles with %zu and %zu fast-form terms", T, t->T);
    double *gn = t->gain + k * tsize(t);
    for (size_t p = 0; p < T; p++) {
        const double *M = xb_fit_fast_matrix(f, p);
        for (size_t q = 0; q < t->R * t->C; q++) gn[p * t->R * t->C + q] = M[q] / g->data[q];
    }
    t->fast_err = fmax(t->fast_err, xb_fit_fast_error(f));
    return XB_OK;
}

/* Tiles programmed per engine call at a refit: the fits run at the same time, and the
 * memory held at once stays bounded (a fast form of a 64x64 tile with 3 terms: 96 kB). */
#define XB_AN_REFIT_CHUNK 64

int xb_an_tiles_refit(xb_an_tiles *t, const xb_an_pairs *const *arrays, xb_error *err)
{
    const size_t nt = t->n_rt * t->n_ct, n = t->n_arrays * nt;
    t->synced = 0; /* new gains: every matrix entry changes */
    /* the per-cell gains M_p / G need a form linear in the per-row features: no cross groups */
    int rc = xb_fit_engine_plain_fast(t->rc.eng, err);
    double g_fill = arrays[0]->gp[0];
    for (size_t k = 0; k < arrays[0]->n; k++) g_fill = fmin(g_fill, fmin(arrays[0]->gp[k], arrays[0]->gm[k]));
    /* every tile of every array, array-major (the engine numbers its tiles in this order) */
    xb_matrix *g[XB_AN_REFIT_CHUNK] = {0};
    xb_engine_tile *tiles[XB_AN_REFIT_CHUNK] = {0};
    for (size_t k = 0; k < XB_AN_REFIT_CHUNK && !rc; k++)
        if (!(g[k] = xb_matrix_new(t->R, t->C))) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    for (size_t k0 = 0; k0 < n && !rc; k0 += XB_AN_REFIT_CHUNK) {
        const size_t m = n - k0 < XB_AN_REFIT_CHUNK ? n - k0 : XB_AN_REFIT_CHUNK;
        for (size_t q = 0; q < m; q++) {
            const size_t k = k0 + q, tt = k % nt;
            tile_g(t, arrays[k / nt], tt / t->n_ct, tt % t->n_ct, g_fill, g[q]);
        }
        rc = xb_engine_program_multi(t->rc.eng, t->rc.tp, (const xb_matrix *const *)g, m, tiles, err);
        for (size_t q = 0; q < m && !rc; q++) rc = tile_gains(t, k0 + q, tiles[q], g[q], err);
        for (size_t q = 0; q < m; q++) {
            xb_engine_tile_free(tiles[q]);
            tiles[q] = NULL;
        }
    }
    for (size_t k = 0; k < XB_AN_REFIT_CHUNK; k++) xb_matrix_free(g[k]);
    return rc;
}

/* The matrix entries of pair k for every term: E_p[k] and the pair's share s of the row and
 * column sums, from the conductances g (gp, gm per array) */
/* the offset in t->gain of pair (j, i)'s G+ cell in array 0, term 0 */
static size_t gain_offset(const xb_an_tiles *t, size_t j, size_t i)
{
    const size_t c = j / t->P, q = j % t->P, r = i / t->R, ii = i % t->R;
    return (r * t->n_ct + c) * tsize(t) + ii * t->C + 2 * q;
}

static inline void pair_terms_at(const xb_an_tiles *t, size_t off, const double *gp, const double *gm,
                                 const double *scale, double kappa, float *e_out, double *s_out)
{
    const size_t RC = t->R * t->C, a_stride = t->n_rt * t->n_ct * tsize(t);
    for (size_t p = 0; p < t->T; p++) {
        double e = 0, s = 0;
        for (size_t a = 0; a < t->n_arrays; a++) {
            const double *gn = t->gain + a * a_stride + off + p * RC;
            const double mp = gn[0] * gp[a], mm = gn[1] * gm[a];
            e += scale[a] * (mp - mm);
            s += mp + mm;
        }
        e_out[p] = (float)(kappa * e);
        s_out[p] = s;
    }
}

static void pair_terms(const xb_an_tiles *t, size_t j, size_t i, const double *gp, const double *gm,
                       const double *scale, double kappa, float *e_out, double *s_out)
{
    pair_terms_at(t, gain_offset(t, j, i), gp, gm, scale, kappa, e_out, s_out);
}

/* Everything from the conductances (after a refit, or when the scales change). */
static void sync_full(xb_an_tiles *t, const xb_an_pairs *const *arrays, const double *scale, double kappa)
{
    const size_t NW = t->n_out * t->n_in;
    memset(t->rowsum, 0, t->T * t->n_in * sizeof(double));
    memset(t->colsum, 0, t->T * t->n_out * sizeof(double));
    memset(t->gsum_r, 0, t->n_in * sizeof(double));
    memset(t->gsum_c, 0, t->n_out * sizeof(double));
    float e[XB_FIT_FAST_MAX_TERMS];
    double sv[XB_FIT_FAST_MAX_TERMS], gp[2], gm[2];
    for (size_t j = 0; j < t->n_out; j++)
        for (size_t i = 0; i < t->n_in; i++) {
            const size_t k = j * t->n_in + i;
            for (size_t a = 0; a < t->n_arrays; a++) {
                gp[a] = arrays[a]->gp[k];
                gm[a] = arrays[a]->gm[k];
                if (t->g_prev) {
                    t->g_prev[(2 * a) * NW + k] = gp[a];
                    t->g_prev[(2 * a + 1) * NW + k] = gm[a];
                }
                t->gsum_r[i] += gp[a] + gm[a];
                t->gsum_c[j] += gp[a] + gm[a];
            }
            pair_terms(t, j, i, gp, gm, scale, kappa, e, sv);
            if (t->s_prev) memcpy(t->s_prev + k * t->T, sv, t->T * sizeof(double));
            for (size_t p = 0; p < t->T; p++) {
                t->E[p * NW + k] = e[p];
                t->rowsum[p * t->n_in + i] += sv[p];
                t->colsum[p * t->n_out + j] += sv[p];
            }
        }
}

/* Pair (j, i) (cell offset off) if it moved since the last sync: its entries, the sums by
 * the difference. */
static inline void sync_pair(xb_an_tiles *t, const xb_an_pairs *const *arrays, const double *scale, double kappa,
                             size_t j, size_t i, size_t off, double *rowsum, double *gsum_r)
{
    const size_t NW = t->n_out * t->n_in, k = j * t->n_in + i;
    float e[XB_FIT_FAST_MAX_TERMS];
    double sv[XB_FIT_FAST_MAX_TERMS], gp[2], gm[2], op[2], om[2];
    int moved = 0;
    for (size_t a = 0; a < t->n_arrays; a++) {
        gp[a] = arrays[a]->gp[k];
        gm[a] = arrays[a]->gm[k];
        op[a] = t->g_prev[(2 * a) * NW + k];
        om[a] = t->g_prev[(2 * a + 1) * NW + k];
        moved |= gp[a] != op[a] || gm[a] != om[a];
    }
    if (!moved) return;
    pair_terms_at(t, off, gp, gm, scale, kappa, e, sv);
    double *sv_old = t->s_prev + k * t->T;
    for (size_t p = 0; p < t->T; p++) {
        t->E[p * NW + k] = e[p];
        rowsum[p * t->n_in + i] += sv[p] - sv_old[p];
        t->colsum[p * t->n_out + j] += sv[p] - sv_old[p];
        sv_old[p] = sv[p];
    }
    for (size_t a = 0; a < t->n_arrays; a++) {
        const double d = (gp[a] + gm[a]) - (op[a] + om[a]);
        gsum_r[i] += d;
        t->gsum_c[j] += d;
        t->g_prev[(2 * a) * NW + k] = gp[a];
        t->g_prev[(2 * a + 1) * NW + k] = gm[a];
    }
}

/* ---- the incremental sync of the marked pairs, output rows in chunks of XB_AN_SYNC_CHUNK on
 * the read configuration's workers: a chunk writes its own pairs' entries and column sums;
 * its changes of the row sums (shared by every chunk) go to its own buffer, added in chunk
 * order: the same for any number of workers (the read configuration's). */
#define XB_AN_SYNC_CHUNK 32

typedef struct {
    xb_an_tiles *t;
    const xb_an_pairs *const *arrays;
    const double *scale;
    double kappa;
    double *drow;   /* n_chunks x (T + 1) x n_in: the chunks' row-sum changes, then gsum_r's */
    size_t n_chunks;
} sync_job;

static void sync_job_run(void *arg, size_t tid, size_t nthr)
{
    const sync_job *jb = arg;
    xb_an_tiles *t = jb->t;
    const size_t n_in = t->n_in, NW = t->n_out * n_in;
    for (size_t c = tid; c < jb->n_chunks; c += nthr) {
        double *dr = jb->drow + c * (t->T + 1) * n_in, *dg = dr + t->T * n_in;
        memset(dr, 0, (t->T + 1) * n_in * sizeof(double));
        const size_t j0 = c * XB_AN_SYNC_CHUNK, j1 = j0 + XB_AN_SYNC_CHUNK < t->n_out ? j0 + XB_AN_SYNC_CHUNK : t->n_out;
        const size_t k0 = j0 * n_in, k1 = j1 * n_in;
        for (size_t w = k0 / 64; w * 64 < k1 && w * 64 < NW; w++) {
            uint64_t m = 0;
            for (size_t a = 0; a < t->n_arrays; a++) m |= jb->arrays[a]->moved[w];
            for (; m; m &= m - 1) {
                const size_t k = 64 * w + (size_t)__builtin_ctzll(m);
                if (k < k0 || k >= k1) continue; /* a word shared with the next chunk */
                const size_t j = k / n_in, i = k % n_in;
                sync_pair(t, jb->arrays, jb->scale, jb->kappa, j, i, gain_offset(t, j, i), dr, dg);
            }
        }
    }
}

static int sync_marked(xb_an_tiles *t, const xb_an_pairs *const *arrays, const double *scale, double kappa)
{
    const size_t n_in = t->n_in, NW = t->n_out * n_in, n_chunks = (t->n_out + XB_AN_SYNC_CHUNK - 1) / XB_AN_SYNC_CHUNK;
    /* its size is fixed once the terms are (the first refit): made at the first sync */
    if (!t->drow && !(t->drow = malloc(n_chunks * (t->T + 1) * n_in * sizeof(double)))) return -1;
    double *drow = t->drow;
    sync_job job = {t, arrays, scale, kappa, drow, n_chunks};
    xb_workers_run(t->rc.workers, sync_job_run, &job);
    for (size_t c = 0; c < n_chunks; c++) {
        const double *dr = drow + c * (t->T + 1) * n_in, *dg = dr + t->T * n_in;
        for (size_t q = 0; q < t->T * n_in; q++) t->rowsum[q] += dr[q];
        for (size_t i = 0; i < n_in; i++) t->gsum_r[i] += dg[i];
    }
    for (size_t a = 0; a < t->n_arrays; a++) memset(arrays[a]->moved, 0, (NW + 63) / 64 * sizeof(uint64_t));
    return 0;
}

void xb_an_tiles_sync(xb_an_tiles *t, const xb_an_pairs *const *arrays, const double *scale, double kappa)
{
    const size_t NW = t->n_out * t->n_in;
    if (!t->g_prev) t->g_prev = malloc(2 * t->n_arrays * NW * sizeof(double)); /* NULL: full syncs */
    if (!t->s_prev) t->s_prev = malloc(NW * t->T * sizeof(double));
    const int same = t->synced && t->g_prev && t->s_prev && kappa == t->kappa_prev && scale[0] == t->scale_prev[0] &&
                     (t->n_arrays < 2 || scale[1] == t->scale_prev[1]);
    if (!same) {
        sync_full(t, arrays, scale, kappa);
        for (size_t a = 0; a < t->n_arrays; a++) /* every pair read: no marks left */
            if (arrays[a]->moved) memset(arrays[a]->moved, 0, (NW + 63) / 64 * sizeof(uint64_t));
        t->synced = t->g_prev && t->s_prev;
        t->kappa_prev = kappa;
        for (size_t a = 0; a < t->n_arrays; a++) t->scale_prev[a] = scale[a];
        return;
    }
    /* only the pairs whose conductances moved since the last sync (an update pulses few of
     * them: mixed precision ~1 % of the weights per minibatch): the same entries as a full
     * sync, the sums (read energy only) by the difference.  The pulses marked their pairs:
     * only those are looked at (sync_pair still compares, a pulse clipped at a bound moves
     * nothing); pairs without marks, every pair, along a row of pairs the cell offset
     * stepping by a tile row (no divisions per pair) */
    int marks = 1;
    for (size_t a = 0; a < t->n_arrays; a++) marks &= arrays[a]->moved != NULL;
    if (marks && sync_marked(t, arrays, scale, kappa) == 0) return;
    for (size_t j = 0; j < t->n_out; j++)
        for (size_t i0 = 0; i0 < t->n_in; i0 += t->R) {
            const size_t i1 = i0 + t->R < t->n_in ? i0 + t->R : t->n_in;
            size_t off = gain_offset(t, j, i0);
            for (size_t i = i0; i < i1; i++, off += t->C)
                sync_pair(t, arrays, scale, kappa, j, i, off, t->rowsum, t->gsum_r);
        }
}

static int scratch(xb_an_tiles *t, size_t n, xb_an_read_stats *st)
{
    const size_t w = t->n_in > t->n_out ? t->n_in : t->n_out;
    if (st) st->terms = t->T;
    if (n * w <= t->cap) return 0;
    free(t->phi);
    free(t->part);
    free(t->lev);
    t->phi = malloc(t->T * n * w * sizeof(float));
    /* one tile's outputs per worker */
    t->part = malloc(xb_workers_count(t->rc.workers) * n * (t->R > t->P ? t->R : t->P) * sizeof(float));
    t->lev = malloc(n * w * sizeof(unsigned short));
    t->cap = t->phi && t->part && t->lev ? n * w : 0;
    return t->cap ? 0 : -1;
}

/* DAC of n vectors of length len (per-vector abs-max full scale in xm): levels, phi_p. */
static void dac(xb_an_tiles *t, const float *x, size_t n, size_t len, double *xm)
{
    const double L = (double)(t->nlev - 1);
    for (size_t s = 0; s < n; s++) {
        double m = 0;
        for (size_t i = 0; i < len; i++) m = fabs((double)x[s * len + i]) > m ? fabs((double)x[s * len + i]) : m;
        xm[s] = m;
        const double inv = m > 0 ? L / m : 0;
        for (size_t i = 0; i < len; i++) {
            const float v = x[s * len + i];
            const size_t q = (size_t)nearbyint(fabs((double)v) * inv);
            t->lev[s * len + i] = (unsigned short)q;
            for (size_t p = 0; p < t->T; p++) {
                const float f = t->lut[p * t->nlev + q];
                t->phi[(p * n + s) * len + i] = v < 0 ? -f : f;
            }
        }
    }
}

/* The ADC of one tile's outputs: part (n x m, leading dimension ldp) quantized to the tile's
 * full scale over the minibatch (its largest |value|, signed, 2^(bits-1) - 1 levels), scaled
 * back by the inputs' full scales xm and added to out (leading dimension ldo). */
static void adc_add(const xb_an_tiles *t, const float *part, size_t n, size_t ldp, size_t m, const double *xm,
                    float *out, size_t ldo)
{
    double fs = 0;
    for (size_t s = 0; s < n; s++)
        for (size_t j = 0; j < m; j++) fs = fabs((double)part[s * ldp + j]) > fs ? fabs((double)part[s * ldp + j]) : fs;
    const int bits = t->rc.adc_bits;
    const double L = bits > 1 ? ldexp(1.0, bits - 1) - 1.0 : 0, k = fs > 0 && L > 0 ? L / fs : 0;
    for (size_t s = 0; s < n; s++)
        for (size_t j = 0; j < m; j++) {
            double v = part[s * ldp + j];
            if (k > 0) v = nearbyint(v * k) / k;
            out[s * ldo + j] += (float)(v * xm[s]);
        }
}

/* ---- the tiles' products on the workers: the forward product by column tiles (each its
 * outputs, summed over the row tiles in order), the backward by row tiles (each its inputs,
 * summed over the column tiles in order); one GEMM per tile and term, the same for any
 * number of workers */
typedef struct {
    xb_an_tiles *t;
    const double *xm;
    float *out;
    size_t n;
} read_job;

static void forward_job(void *arg, size_t tid, size_t nthr)
{
    const read_job *jb = arg;
    xb_an_tiles *t = jb->t;
    const size_t n = jb->n, NW = t->n_out * t->n_in;
    float *part = t->part + tid * n * (t->R > t->P ? t->R : t->P);
    for (size_t c = tid; c < t->n_ct; c += nthr) {
        const size_t j0 = c * t->P, pu = j0 + t->P <= t->n_out ? t->P : t->n_out - j0;
        for (size_t r = 0; r < t->n_rt; r++) {
            const size_t i0 = r * t->R, ru = i0 + t->R <= t->n_in ? t->R : t->n_in - i0;
            for (size_t p = 0; p < t->T; p++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)pu, (int)ru, 1.0f,
                            t->phi + p * n * t->n_in + i0, (int)t->n_in, t->E + p * NW + j0 * t->n_in + i0,
                            (int)t->n_in, p ? 1.0f : 0.0f, part, (int)pu);
            adc_add(t, part, n, pu, pu, jb->xm, jb->out + j0, t->n_out);
        }
    }
}

static void backward_job(void *arg, size_t tid, size_t nthr)
{
    const read_job *jb = arg;
    xb_an_tiles *t = jb->t;
    const size_t n = jb->n, NW = t->n_out * t->n_in;
    float *part = t->part + tid * n * (t->R > t->P ? t->R : t->P);
    for (size_t r = tid; r < t->n_rt; r += nthr) {
        const size_t i0 = r * t->R, ru = i0 + t->R <= t->n_in ? t->R : t->n_in - i0;
        for (size_t c = 0; c < t->n_ct; c++) {
            const size_t j0 = c * t->P, pu = j0 + t->P <= t->n_out ? t->P : t->n_out - j0;
            for (size_t p = 0; p < t->T; p++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)ru, (int)pu, 1.0f,
                            t->phi + p * n * t->n_out + j0, (int)t->n_out, t->E + p * NW + j0 * t->n_in + i0,
                            (int)t->n_in, p ? 1.0f : 0.0f, part, (int)ru);
            adc_add(t, part, n, ru, ru, jb->xm, jb->out + i0, t->n_in);
        }
    }
}

/* read energy of n vectors driven on len lines (levels t->lev), each line feeding `fan`
 * tiles, with the term sums S (T x len) and conductance sums gs (len) */
static double read_energy(const xb_an_tiles *t, size_t n, size_t len, size_t fan, size_t fan_out_lines,
                          const double *S, const double *gs)
{
    const double vr = t->rc.v_read, L = (double)(t->nlev - 1);
    double res = 0, cap = 0, joule = 0;
    for (size_t s = 0; s < n; s++)
        for (size_t i = 0; i < len; i++) {
            const size_t q = t->lev[s * len + i];
            if (!q) continue;
            const double u = (double)q / L;
            for (size_t p = 0; p < t->T; p++) res += u * (double)t->lut[p * t->nlev + q] * S[p * len + i];
            cap += u * u;
            joule += u * u * gs[i];
        }
    double e = t->law ? vr * vr * (t->k_res * res + t->k_cap * cap * (double)fan)
                      : vr * vr * joule * t->rc.t_mvm_s;
    /* converters: one DAC per driven line and tile, one ADC per sensed line and tile */
    const double dac_bits = t->rc.dac_bits > 0 ? t->rc.dac_bits : 16;
    e += (double)n * (double)(len * fan) * dac_bits * t->rc.dac_joule_per_bit;
    if (t->rc.adc_bits > 0) e += (double)n * (double)fan_out_lines * ldexp(1.0, t->rc.adc_bits) * t->rc.adc_joule_per_step;
    return e;
}

void xb_an_tiles_forward(xb_an_tiles *t, const float *x, size_t n, float *y, xb_an_read_stats *st)
{
    if (scratch(t, n, st)) return;
    double *xm = malloc(n * sizeof(double));
    if (!xm) return;
    dac(t, x, n, t->n_in, xm);
    memset(y, 0, n * t->n_out * sizeof(float));
    read_job job = {t, xm, y, n};
    xb_workers_run(t->rc.workers, forward_job, &job);
    if (st) {
        st->e_fwd_joule += read_energy(t, n, t->n_in, t->n_ct * t->n_arrays, t->n_out * t->n_rt * t->n_arrays,
                                       t->rowsum, t->gsum_r);
        st->fast_error = t->fast_err > st->fast_error ? t->fast_err : st->fast_error;
    }
    free(xm);
}

void xb_an_tiles_backward(xb_an_tiles *t, const float *d, size_t n, float *dn, xb_an_read_stats *st)
{
    if (scratch(t, n, st)) return;
    double *xm = malloc(n * sizeof(double));
    if (!xm) return;
    dac(t, d, n, t->n_out, xm);
    memset(dn, 0, n * t->n_in * sizeof(float));
    read_job job = {t, xm, dn, n};
    xb_workers_run(t->rc.workers, backward_job, &job);
    if (st)
        st->e_bwd_joule += read_energy(t, n, t->n_out, t->n_rt * t->n_arrays, t->n_in * t->n_ct * t->n_arrays,
                                       t->colsum, t->gsum_c);
    free(xm);
}

/* Outputs of tile (0, 0) of array 0 for nv random row inputs: gain-scaled (ours), a fresh
 * fast form and the full model at the current conductances. */
int xb_an_tiles_gain_error(xb_an_tiles *t, const xb_an_pairs *const *arrays, size_t nv, uint64_t seed,
                           double *rel_fast, double *rel_exact, xb_error *err)
{
    xb_matrix *g = xb_matrix_new(t->R, t->C), *v = xb_matrix_new(nv, t->R), *i_ref = xb_matrix_new(nv, t->C),
              *i_ours = xb_matrix_new(nv, t->C), *i_ex = xb_matrix_new(nv, t->C);
    int rc = g && v && i_ref && i_ours && i_ex ? XB_OK : xb_errorf(err, XB_ERUNTIME, "out of memory");
    xb_engine_tile *tile = NULL;
    xb_fit_eval *ev = NULL;
    if (!rc) {
        double g_fill = arrays[0]->gp[0];
        for (size_t k = 0; k < arrays[0]->n; k++) g_fill = fmin(g_fill, fmin(arrays[0]->gp[k], arrays[0]->gm[k]));
        tile_g(t, arrays[0], 0, 0, g_fill, g);
        uint64_t s = seed;
        for (size_t q = 0; q < nv * t->R; q++) v->data[q] = t->rc.v_read * xb_splitmix64_uniform(&s);
        rc = xb_engine_program(t->rc.eng, t->rc.tp, g, &tile, err);
    }
    if (!rc) rc = xb_engine_mvm(tile, v, i_ref, err);
    if (!rc) {
        /* ours: sum_p phi_p(v) (gain_p . G) */
        const xb_fit_fast *f = xb_engine_fast_form(tile);
        const xb_fit_basis *b = xb_fit_fast_basis(f);
        const double *gn = t->gain;
        for (size_t s = 0; s < nv; s++)
            for (size_t c = 0; c < t->C; c++) {
                double acc = 0;
                for (size_t p = 0; p < t->T; p++)
                    for (size_t i = 0; i < t->R; i++)
                        acc += xb_fit_basis_eval(b, p, v->data[s * t->R + i]) * gn[p * t->R * t->C + i * t->C + c] *
                               g->data[i * t->C + c];
                i_ours->data[s * t->C + c] = acc;
            }
        *rel_fast = xb_fit_rel_l2(i_ours, i_ref);
        *rel_exact = NAN;
        xb_fit_engine_info mi;
        if (xb_fit_engine_get_info(t->rc.eng, &mi, NULL) == XB_OK && mi.model &&
            xb_fit_eval_new(mi.model, g, &ev, NULL) == XB_OK && xb_fit_eval_mvm(ev, v, i_ex, NULL) == XB_OK)
            *rel_exact = xb_fit_rel_l2(i_ours, i_ex);
    }
    xb_fit_eval_free(ev);
    xb_engine_tile_free(tile);
    xb_matrix_free(g);
    xb_matrix_free(v);
    xb_matrix_free(i_ref);
    xb_matrix_free(i_ours);
    xb_matrix_free(i_ex);
    return rc;
}
