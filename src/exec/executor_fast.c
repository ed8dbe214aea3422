/* The executor's fast path (docs/executor.md, "Engines"; docs/fit.md "Fast form"): when
 * every tile of a layer has the fit stage's fast form I = sum_p phi_p(V) M_p with one
 * basis, the differential matrices of all column tiles of a row band are gathered into one
 * float matrix, and a forward pass costs per block of vectors and row band: DAC levels, a
 * table lookup of the basis, one sgemm, the pair read noise and the engine's residual noise
 * when set, ADC and partial sums.  Blocks are spread over the executor's worker threads. */
#include <cblas.h>
#include <math.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exec/executor_internal.h"

#define XB_EXEC_MAX_WORKERS 8
#define XB_FAST_BLOCK 256 /* vectors per block: features, band outputs and sums stay in cache */

/* ------------------------------------------------------------------ the band weights */
/* Rows of band r that carry inputs: the rows beyond the layer's inputs are driven at 0 V and
 * phi_p(0) = 0, so the band weights, features and GEMMs hold only the ru used rows (exact:
 * the dropped products were zeros).  Band r's weights start at r x terms x R x n_out. */
static size_t band_rows(size_t R, size_t n_in, size_t r) { return (r + 1) * R <= n_in ? R : n_in - r * R; }

void ex_fast_drop(layer_map *m)
{
    free(m->fast_w);
    free(m->fast_s2);
    free(m->fast_lut);
    free(m->fast_vphi);
    m->fast_vphi = NULL;
    free(m->fast_wsum);
    m->fast_wsum = NULL;
    m->resid_rel = 0;
    m->fast_w = m->fast_s2 = m->fast_lut = NULL;
    m->fast_state = 0;
    m->law = 0;
}

/* The fast form's matrices of tile (r, c) into the band weights: differences of used pairs
 * (fast_w), sums of every pair (fast_wsum, residual noise), pair read-noise variances. */
static void fast_fill_tile(const xb_exec *ex, layer_map *m, const xb_layer *l, size_t r, size_t c, size_t T,
                           double rel) /* T: feature groups (terms + cross groups) */
{
    const size_t R = ex->cfg.tile_rows, C = ex->cfg.tile_cols, P = m->pairs, TR = T * R, NP = m->n_ct * P;
    const size_t n_out = l->n_out, ru = band_rows(R, l->n_in, r);
    const size_t t = r * m->n_ct + c, pu = (c + 1) * P <= n_out ? P : n_out - c * P;
    const xb_fit_fast *f = xb_engine_fast_form(m->tiles[t]);
    for (size_t p = 0; p < T; p++) {
        const double *M = xb_fit_fast_matrix(f, p);
        for (size_t i = 0; i < ru; i++) {
            float *w = m->fast_w + (r * TR + p * ru + i) * n_out + c * P;
            for (size_t j = 0; j < pu; j++) w[j] = (float)(M[i * C + 2 * j] - M[i * C + 2 * j + 1]);
            if (rel > 0) {
                float *ws = m->fast_wsum + (r * TR + p * ru + i) * NP + c * P;
                for (size_t j = 0; j < P; j++) ws[j] = (float)(M[i * C + 2 * j] + M[i * C + 2 * j + 1]);
            }
        }
    }
    if (m->fast_s2)
        for (size_t i = 0; i < ru; i++) {
            const double *s2 = m->read_sig2 + t * R * C + i * C;
            float *o = m->fast_s2 + (r * R + i) * n_out + c * P;
            for (size_t j = 0; j < pu; j++) o[j] = (float)(s2[2 * j] + s2[2 * j + 1]);
        }
}

/* Gather the fast forms of layer k's tiles into per-band float weights (fast_state 1), or
 * mark the layer as per-tile (-1): engine without fast forms, an array-energy hook (it
 * needs the per-tile currents), tiles with different bases or numbers of terms. */
int ex_fast_build(xb_exec *ex, layer_map *m, const xb_layer *l, xb_error *err)
{
    const size_t R = ex->cfg.tile_rows, P = m->pairs, n_out = l->n_out;
    const size_t nt = m->n_rt * m->n_ct;
    ex_fast_drop(m);
    m->fast_state = -1;
    double k_res = 0, k_cap = 0;
    const int law = xb_engine_energy_law(ex->eng, &k_res, &k_cap);
    if (xb_engine_provides(ex->eng, XB_ENGINE_OP_ARRAY_ENERGY) && !law) return XB_OK;
    const xb_fit_fast *f0 = xb_engine_fast_form(m->tiles[0]);
    if (!f0) return XB_OK;
    const size_t TB = xb_fit_fast_terms(f0), X = xb_fit_fast_cross(f0), T = TB + X; /* T: feature groups */
    const xb_fit_basis *b = xb_fit_fast_basis(f0);
    double xw0, xw1;
    xb_fit_fast_cross_weights(f0, &xw0, &xw1);
    for (size_t t = 1; t < nt; t++) {
        const xb_fit_fast *f = xb_engine_fast_form(m->tiles[t]);
        if (!f || xb_fit_fast_terms(f) != TB || xb_fit_fast_cross(f) != X || xb_fit_fast_basis(f) != b ||
            xb_fit_fast_cross_kind(f) != xb_fit_fast_cross_kind(f0))
            return XB_OK;
    }
    const size_t TR = T * R;
    m->fast_w = malloc(m->n_rt * TR * n_out * sizeof(float));
    if (m->read_sig2) m->fast_s2 = malloc(m->n_rt * R * n_out * sizeof(float));
    const int dbits = ex->cfg.dac_bits;
    const size_t nl = dbits > 0 && dbits <= 16 ? ((size_t)1 << dbits) : 0; /* DAC levels 0..2^B-1 */
    if (nl) m->fast_lut = malloc(TB * nl * sizeof(float));
    if (nl) m->fast_vphi = malloc(TB * nl * sizeof(double));
    const double rel = xb_engine_residual_noise(ex->eng);
    const size_t NP = m->n_ct * P; /* every pair of every column tile, used or not */
    if (rel > 0) m->fast_wsum = malloc(m->n_rt * TR * NP * sizeof(float));
    if (!m->fast_w || (m->read_sig2 && !m->fast_s2) || (nl && (!m->fast_lut || !m->fast_vphi)) ||
        (rel > 0 && !m->fast_wsum)) {
        ex_fast_drop(m);
        return xb_errorf(err, XB_ERUNTIME, "out of memory (fast-path weights)");
    }
    for (size_t r = 0; r < m->n_rt; r++)
        for (size_t c = 0; c < m->n_ct; c++) fast_fill_tile(ex, m, l, r, c, T, rel);
    const double vr = ex->tile_p.v_read_volt;
    for (size_t p = 0; p < TB && nl; p++)
        for (size_t q = 0; q < nl; q++)
            m->fast_lut[p * nl + q] = (float)xb_fit_basis_eval(b, p, vr * (double)q / (double)(nl - 1));
    /* the energy-law terms v phi_p(v) at each level, as block_features would form them */
    const double vstep = nl ? vr / (double)(nl - 1) : 0.0;
    for (size_t p = 0; p < TB && nl; p++)
        for (size_t q = 0; q < nl; q++) m->fast_vphi[p * nl + q] = (double)q * vstep * m->fast_lut[p * nl + q];
    m->fast_terms = T;
    m->fast_bterms = TB;
    m->fast_cross = X;
    m->fast_xs = 1.0 / ((double)R * xb_fit_basis_v_hi(b));
    m->fast_xw0 = X && xw1 != 0.0 ? xw0 : 0.0;
    m->fast_xw1 = X ? xw1 : 0.0;
    m->fast_basis = b;
    m->fast_state = 1;
    m->law = law;
    m->law_k_res = k_res;
    m->law_k_cap = k_cap;
    m->resid_rel = rel;
    m->resid_seed = m->tile_seed[0] ^ 0x2E51D0A15E0ull;
    return XB_OK;
}

/* ------------------------------------------------------------------ residual noise */
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
    const size_t n_out = l->n_out, NP = m->n_ct * P, TU = m->fast_terms * band_rows(R, l->n_in, r);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)NP, (int)TU, 1.0f, F, (int)TU,
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

/* The cross groups of one vector's features fq (ru rows, group-major): s phi_p(v_i) for
 * p < X after the TB basis groups, s = sum_i v_i / (R v_hi) (xb_fit_cross_s; the unused rows
 * are at 0 V). */
static inline void cross_groups(const layer_map *m, size_t ru, double vsum, float *fq)
{
    const size_t TB = m->fast_bterms;
    const double sv = vsum * m->fast_xs;
    for (size_t p = 0; p < m->fast_cross; p++)
        for (size_t i = 0; i < ru; i++) fq[(TB + p) * ru + i] = (float)(sv * (double)fq[p * ru + i]);
}

/* The same for a column-kernel form (fast_xw1 > 0): per-row factors c_i (in cbuf) of the
 * band's phi_0 values fq[0..ru) (ru rows of a tile of R, the others at 0 V;
 * xb_fit_cross_factors). */
static inline void col_factors(const layer_map *m, const float *fq, size_t ru, size_t R, double *cbuf)
{
    for (size_t i = 0; i < ru; i++) cbuf[i] = (double)fq[i];
    xb_fit_cross_factors(m->fast_xw0, m->fast_xw1, cbuf, ru, R, cbuf);
}

static inline void cross_groups_col(const layer_map *m, size_t ru, size_t R, double *cbuf, float *fq)
{
    const size_t TB = m->fast_bterms;
    col_factors(m, fq, ru, R, cbuf);
    for (size_t p = 0; p < m->fast_cross; p++)
        for (size_t i = 0; i < ru; i++) fq[(TB + p) * ru + i] = (float)(cbuf[i] * (double)fq[p * ru + i]);
}

/* ------------------------------------------------------------------ one band (calibration passes) */
/* Fast path of one row band (fast_state 1): the DAC voltages of the band's Kp vectors
 * (w->v) through the basis functions (F: Kp x terms*R), one sgemm with the band's
 * differential weights (Df: Kp x n_out), the pair read noise if set (a second sgemm with
 * the squared voltages gives every output's variance), written to D (row stride n_out).
 * sp (energy law, or NULL): sum over the vectors with idx >= k_first of v phi_p(v). */
void ex_fast_band(xb_exec *ex, layer_map *m, const xb_layer *l, size_t r, int ph, const size_t *idx,
                  const xb_matrix *v, float *F, float *Df, float *S, double *cbuf, double *D, double *sp, size_t k_first)
{
    const size_t R = ex->cfg.tile_rows, T = m->fast_terms, TB = m->fast_bterms, TR = T * R, Kp = v->rows;
    const size_t n_out = l->n_out, ru = band_rows(R, l->n_in, r), TU = T * ru;
    const double vr = ex->tile_p.v_read_volt;
    const size_t nl = m->fast_lut ? ((size_t)1 << ex->cfg.dac_bits) : 0;
    const double lev = nl ? (double)(nl - 1) / vr : 0.0;
    for (size_t q = 0; q < Kp; q++) {
        const double *vq = v->data + q * R;
        float *fq = F + q * TU;
        double vsum = 0;
        for (size_t i = 0; i < ru; i++) {
            vsum += vq[i];
            if (vq[i] == 0.0) {
                for (size_t p = 0; p < TB; p++) fq[p * ru + i] = 0.0f;
            } else if (nl) {
                size_t n = (size_t)nearbyint(vq[i] * lev); /* the DAC level (exact) */
                for (size_t p = 0; p < TB; p++) fq[p * ru + i] = m->fast_lut[p * nl + n];
            } else {
                for (size_t p = 0; p < TB; p++) fq[p * ru + i] = (float)xb_fit_basis_eval(m->fast_basis, p, vq[i]);
            }
        }
        if (m->fast_cross && m->fast_xw1 > 0) cross_groups_col(m, ru, R, cbuf, fq);
        else if (m->fast_cross) cross_groups(m, ru, vsum, fq);
        if (sp && idx[q] >= k_first)
            for (size_t p = 0; p < T; p++)
                for (size_t i = 0; i < ru; i++) sp[p * R + i] += vq[i] * fq[p * ru + i];
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Kp, (int)n_out, (int)TU, 1.0f, F, (int)TU,
                m->fast_w + r * TR * n_out, (int)n_out, 0.0f, Df, (int)n_out);
    if (m->resid_rel > 0) resid_band(ex, m, l, r, ph, Kp, F, idx, S, Df);
    for (size_t q = 0; q < Kp; q++)
        for (size_t j = 0; j < n_out; j++) D[q * n_out + j] = (double)Df[q * n_out + j];
    if (m->fast_s2) {
        for (size_t q = 0; q < Kp; q++)
            for (size_t i = 0; i < ru; i++) F[q * ru + i] = (float)(v->data[q * R + i] * v->data[q * R + i]);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Kp, (int)n_out, (int)ru, 1.0f, F, (int)ru,
                    m->fast_s2 + r * R * n_out, (int)n_out, 0.0f, Df, (int)n_out);
        for (size_t q = 0; q < Kp * n_out; q++)
            if (Df[q] > 0) D[q] += sqrt((double)Df[q]) * ex_rn_gauss(&m->rn_state);
    }
}

/* ------------------------------------------------------------------ forward passes: worker blocks */
/* One worker of ex_fast_eval_chunk: the blocks tid, tid + nthr, ... of one input phase, with
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
    double *adc, *colsq, *sp, *vbuf, *cbuf; /* cbuf: per-row cross factors (R) */
    int *lev;
    xb_exec_layer_stats st;    /* this worker's share, merged by the caller */
} fast_job;

/* DAC levels of n inputs x (times a = sgn / full scale): round(clamp(a x, 0, 1) L), ties to
 * even, as ex_dac.  With SSE2 two at a time: max/min against 0 and 1 (the inputs are finite;
 * a -0 clamps to a level 0 either way) and the conversion in the default rounding mode
 * (nearest, ties to even): the same levels as the scalar loop, which the compiler does not
 * vectorize because its comparisons could trap. */
static void dac_levels(const float *x, size_t n, double a, double L, int *lev)
{
    size_t i = 0;
#if defined(__SSE2__)
    const __m128d va = _mm_set1_pd(a), vl = _mm_set1_pd(L), zero = _mm_setzero_pd(), one = _mm_set1_pd(1.0);
    for (; i + 2 <= n; i += 2) {
        __m128d u = _mm_mul_pd(va, _mm_cvtps_pd(_mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)(const void *)(x + i)))));
        u = _mm_min_pd(_mm_max_pd(u, zero), one);
        __m128i q = _mm_cvtpd_epi32(_mm_mul_pd(u, vl));
        lev[i] = _mm_cvtsi128_si32(q);
        lev[i + 1] = _mm_cvtsi128_si32(_mm_srli_si128(q, 4));
    }
#endif
    for (; i < n; i++) {
        double u = a * (double)x[i];
        u = u < 0.0 ? 0.0 : u;
        u = u > 1.0 ? 1.0 : u;
        lev[i] = (int)ex_round_even(u * L);
    }
}

/* The second pass of block_features' fused loop for a column-kernel form: the per-row
 * factors c_i (xb_fit_cross_factors of the phi_0 values fq[0..ru), whose sums xs and xq the
 * first pass formed: the same operations in the same order, without the copies and the
 * separate passes), the two cross groups and their energy-law sums; vq (or NULL) receives
 * the voltages. */
static void fused_column(const layer_map *m, float *fq, const int *lev, size_t ru, size_t R, double vstep,
                         double xs, double xq, double *cbuf, double *sp2, double *sp3, double *vq)
{
    double xp = 0;
    const double w0s = m->fast_xw0 * xs, w1 = m->fast_xw1;
    for (size_t i = 0; i < ru; i++) { /* serial: the prefix sums */
        const double xi = (double)fq[i];
        xp += xi;
        xq -= (double)(R - i) * xi;
        cbuf[i] = w0s + w1 * ((double)(R - i) * xp + xq);
    }
    for (size_t i = 0; i < ru; i++) { /* independent rows: vectorizes */
        const double ci = cbuf[i], v = (double)lev[i] * vstep;
        const float c0 = (float)(ci * (double)fq[i]), c1 = (float)(ci * (double)fq[ru + i]);
        fq[2 * ru + i] = c0;
        fq[3 * ru + i] = c1;
        sp2[i] += v * c0;
        sp3[i] += v * c1;
    }
    if (vq)
        for (size_t i = 0; i < ru; i++) vq[i] = (double)lev[i] * vstep;
}

/* The basis features F of the nb vectors of block q0 on row band r: DAC levels and table
 * lookups (or the basis evaluated at the DAC voltages), the row sums of V^2 (colsq), the
 * energy-law sums (sp) and, with pair read noise, the voltages (vbuf). */
static void block_features(fast_job *jb, size_t q0, size_t nb, size_t r)
{
    const xb_exec *ex = jb->ex;
    const layer_map *m = jb->m;
    const workspace *w = jb->w;
    const size_t R = ex->cfg.tile_rows, T = m->fast_terms, TB = m->fast_bterms, n_in = jb->l->n_in;
    const double vr = ex->tile_p.v_read_volt, xr = m->dac_range;
    const int dbits = ex->cfg.dac_bits;
    const size_t nl = m->fast_lut ? ((size_t)1 << dbits) : 0;
    const double L = nl ? (double)(nl - 1) : 0.0;
    const double inv_xr = 1.0 / xr, vstep = nl ? vr / L : 0.0;
    const double *vsq = w->vsq; /* V^2 at each DAC level */
    const double sgn = jb->ph == 0 ? 1.0 : -1.0;
    double *colsq = jb->colsq, *sp = jb->sp, *vbuf = jb->vbuf;
    int *lev = jb->lev;
    const size_t ru = band_rows(R, n_in, r), TU = T * ru; /* rows in use: the others stay at 0 V */
    for (size_t b = 0; b < nb; b++) {
        const float *x = jb->Xc + w->rows_idx[jb->ph][q0 + b] * n_in + r * R;
        float *fq = jb->F + b * TU;
        double *vq = vbuf + b * ru;
        if (nl && TB == 2 && m->fast_cross == 2 && m->law) {
            /* the usual nonlinear form (2 terms, 2 cross groups, energy law) in two fused
             * passes over the rows (short bands: loop overhead matters); the same numbers as
             * the general loops below */
            dac_levels(x, ru, sgn * inv_xr, L, lev);
            const float *lut0 = m->fast_lut, *lut1 = m->fast_lut + nl;
            const double *vp0 = m->fast_vphi, *vp1 = m->fast_vphi + nl;
            double *sp0 = sp, *sp1 = sp + R, *sp2 = sp + 2 * R, *sp3 = sp + 3 * R;
            if (m->fast_xw1 > 0) {
                double xs = 0, xq = 0; /* xb_fit_cross_factors' sums, in its order */
                for (size_t i = 0; i < ru; i++) {
                    const int q = lev[i];
                    const float f0 = lut0[q];
                    fq[i] = f0;
                    fq[ru + i] = lut1[q];
                    xs += (double)f0;
                    xq += (double)(R - i) * (double)f0;
                    colsq[i] += vsq[q];
                    sp0[i] += vp0[q];
                    sp1[i] += vp1[q];
                }
                fused_column(m, fq, lev, ru, R, vstep, xs, xq, jb->cbuf, sp2, sp3, m->fast_s2 ? vq : NULL);
                continue;
            }
            long ls = 0;
            for (size_t i = 0; i < ru; i++) {
                const int q = lev[i];
                fq[i] = lut0[q];
                fq[ru + i] = lut1[q];
                ls += q;
                colsq[i] += vsq[q];
                sp0[i] += vp0[q];
                sp1[i] += vp1[q];
            }
            const double sv = (double)ls * vstep * m->fast_xs;
            for (size_t i = 0; i < ru; i++) {
                const double v = (double)lev[i] * vstep;
                const float c0 = (float)(sv * (double)fq[i]), c1 = (float)(sv * (double)fq[ru + i]);
                fq[2 * ru + i] = c0;
                fq[3 * ru + i] = c1;
                sp2[i] += v * c0;
                sp3[i] += v * c1;
                if (m->fast_s2) vq[i] = v;
            }
            continue;
        }
        if (nl) {
            /* DAC levels (level 0 for x <= 0: phi(0) = 0), then table lookups */
            dac_levels(x, ru, sgn * inv_xr, L, lev);
            for (size_t p = 0; p < TB; p++) {
                const float *lut = m->fast_lut + p * nl;
                for (size_t i = 0; i < ru; i++) fq[p * ru + i] = lut[lev[i]];
            }
            if (m->fast_cross && m->fast_xw1 > 0) {
                cross_groups_col(m, ru, R, jb->cbuf, fq);
            } else if (m->fast_cross) {
                long ls = 0;
                for (size_t i = 0; i < ru; i++) ls += lev[i];
                cross_groups(m, ru, (double)ls * vstep, fq);
            }
            for (size_t i = 0; i < ru; i++) colsq[i] += vsq[lev[i]];
            if (m->law) {
                for (size_t p = 0; p < TB; p++) {
                    const double *vphi = m->fast_vphi + p * nl;
                    for (size_t i = 0; i < ru; i++) sp[p * R + i] += vphi[lev[i]];
                }
                for (size_t p = TB; p < T; p++)
                    for (size_t i = 0; i < ru; i++) sp[p * R + i] += (double)lev[i] * vstep * fq[p * ru + i];
            }
            if (m->fast_s2)
                for (size_t i = 0; i < ru; i++) vq[i] = (double)lev[i] * vstep;
            continue;
        }
        double vsum = 0;
        for (size_t i = 0; i < ru; i++) {
            const double xv = sgn * (double)x[i];
            const double v = xv > 0 ? ex_dac(xv, xr, dbits, vr) : 0.0;
            for (size_t p = 0; p < TB; p++) fq[p * ru + i] = v > 0 ? (float)xb_fit_basis_eval(m->fast_basis, p, v) : 0.0f;
            vq[i] = v;
            vsum += v;
            colsq[i] += v * v;
        }
        if (m->fast_cross && m->fast_xw1 > 0) cross_groups_col(m, ru, R, jb->cbuf, fq);
        else if (m->fast_cross) cross_groups(m, ru, vsum, fq);
        if (m->law)
            for (size_t p = 0; p < T; p++)
                for (size_t i = 0; i < ru; i++) sp[p * R + i] += vq[i] * fq[p * ru + i];
    }
}

/* The converters of row band r: per output the ADC range, 1/step and the digital weight of a
 * level (scale, phase sign, drift compensation). */
static void band_converters(const fast_job *jb, size_t r, double scale, double *rng, double *inv, double *mul)
{
    const layer_map *m = jb->m;
    const size_t P = m->pairs, n_out = jb->l->n_out;
    const int abits = jb->ex->cfg.adc_bits;
    for (size_t c = 0; c < m->n_ct; c++) {
        const size_t t = r * m->n_ct + c, j1 = (c + 1) * P <= n_out ? (c + 1) * P : n_out;
        const double range = m->adc_range[t], alpha = m->drift_alpha[t];
        const double step = abits > 0 && range > 0 ? range / (ldexp(1.0, abits - 1) - 1.0) : 0.0;
        for (size_t j = c * P; j < j1; j++) {
            rng[j] = range;
            inv[j] = step > 0 ? 1.0 / step : 0.0;
            mul[j] = (jb->ph == 0 ? scale : -scale) * alpha * (abits > 0 ? step : 1.0);
        }
    }
}

/* Pair read noise (variances var), ADC and partial sums of the block's band outputs Df. */
static void block_adc(fast_job *jb, size_t q0, size_t nb, const float *var)
{
    layer_map *m = jb->m;
    const workspace *w = jb->w;
    const size_t n_out = jb->l->n_out;
    const int abits = jb->ex->cfg.adc_bits;
    const double *rng = jb->adc, *inv = jb->adc + n_out, *mul = jb->adc + 2 * n_out;
    for (size_t b = 0; b < nb; b++) {
        double *a = w->acc + w->rows_idx[jb->ph][q0 + b] * n_out;
        float *d = jb->Df + b * n_out;
        if (m->fast_s2) /* one worker only: the layer's noise stream is sequential */
            for (size_t j = 0; j < n_out; j++)
                if (var[b * n_out + j] > 0)
                    d[j] = (float)((double)d[j] + sqrt((double)var[b * n_out + j]) * ex_rn_gauss(&m->rn_state));
        if (abits <= 0) {
            for (size_t j = 0; j < n_out; j++) a[j] += mul[j] * (double)d[j];
        } else {
            for (size_t j = 0; j < n_out; j++) {
                double dd = (double)d[j];
                dd = dd > rng[j] ? rng[j] : dd;
                dd = dd < -rng[j] ? -rng[j] : dd;
                a[j] += mul[j] * ex_round_even(dd * inv[j]);
            }
        }
    }
}

static void *fast_job_run(void *arg)
{
    fast_job *jb = arg;
    xb_exec *ex = jb->ex;
    layer_map *m = jb->m;
    const workspace *w = jb->w;
    const xb_layer *l = jb->l;
    const size_t R = ex->cfg.tile_rows, T = m->fast_terms, TR = T * R, n_out = l->n_out;
    const double vr = ex->tile_p.v_read_volt, dg = ex->tile_p.g_max_siemens - ex->tile_p.g_min_siemens;
    const double scale = m->w_max * m->dac_range / (dg * vr);
    const size_t Kp = w->n_rows[jb->ph];
    float *F = jb->F, *Df = jb->Df;
    for (size_t q0 = jb->tid * XB_FAST_BLOCK; q0 < Kp; q0 += jb->nthr * XB_FAST_BLOCK) {
        const size_t nb = Kp - q0 < XB_FAST_BLOCK ? Kp - q0 : XB_FAST_BLOCK;
        for (size_t r = 0; r < m->n_rt; r++) {
            memset(jb->colsq, 0, R * sizeof(double));
            if (m->law) memset(jb->sp, 0, TR * sizeof(double));
            const size_t ru = band_rows(R, l->n_in, r), TU = T * ru;
            block_features(jb, q0, nb, r);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)n_out, (int)TU, 1.0f, F, (int)TU,
                        m->fast_w + r * TR * n_out, (int)n_out, 0.0f, Df, (int)n_out);
            if (m->resid_rel > 0) resid_band(ex, m, l, r, jb->ph, nb, F, w->rows_idx[jb->ph] + q0, jb->S, Df);
            float *var = Df + XB_FAST_BLOCK * n_out;
            if (m->fast_s2) {
                for (size_t b = 0; b < nb; b++)
                    for (size_t i = 0; i < ru; i++)
                        F[b * ru + i] = (float)(jb->vbuf[b * ru + i] * jb->vbuf[b * ru + i]);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)n_out, (int)ru, 1.0f, F, (int)ru,
                            m->fast_s2 + r * R * n_out, (int)n_out, 0.0f, var, (int)n_out);
            }
            band_converters(jb, r, scale, jb->adc, jb->adc + n_out, jb->adc + 2 * n_out);
            block_adc(jb, q0, nb, var);
            for (size_t c = 0; c < m->n_ct; c++)
                ex_count_tile(ex, m, l, r, c, nb, nb, jb->colsq, NULL, NULL, m->law ? jb->sp : NULL, &jb->st);
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ forward passes: one chunk */
/* Buffers of the workers (nthr of them). */
static int jobs_alloc(fast_job *jobs, size_t nthr, const layer_map *m, size_t R, size_t TR, size_t n_out,
                      xb_error *err)
{
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
        jb->cbuf = malloc(R * sizeof(double));
        if (m->resid_rel > 0) jb->S = malloc(XB_FAST_BLOCK * m->n_ct * m->pairs * sizeof(float));
        if (!jb->F || !jb->Df || !jb->adc || !jb->colsq || !jb->sp || !jb->vbuf || !jb->lev || !jb->cbuf ||
            (m->resid_rel > 0 && !jb->S))
            rc = xb_errorf(err, XB_ERUNTIME, "out of memory (fast path)");
    }
    return rc;
}

static void jobs_free(fast_job *jobs, size_t nthr)
{
    for (size_t t = 0; t < nthr; t++) {
        free(jobs[t].F);
        free(jobs[t].Df);
        free(jobs[t].adc);
        free(jobs[t].colsq);
        free(jobs[t].sp);
        free(jobs[t].vbuf);
        free(jobs[t].lev);
        free(jobs[t].cbuf);
        free(jobs[t].S);
    }
}

/* Phase ph on nthr workers (the first in this thread), their statistics merged in worker
 * order. */
static void phase_run(fast_job *jobs, size_t nthr, xb_exec *ex, layer_map *m, const xb_layer *l, const float *Xc,
                      const workspace *w, int ph)
{
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

/* The fast path of one chunk in MODE_EVAL (the hot loop of a forward pass): per block of
 * vectors and row band, DAC levels -> basis features -> one sgemm -> pair read noise ->
 * ADC -> digital partial sums in w->acc (cleared by the caller), with the statistics.  The
 * same numbers as ex_fast_band + the general ADC step, without the full-layer current buffer.
 * Blocks are spread over up to ex->n_workers threads, each calling single-threaded BLAS
 * (statistics merged in worker order: deterministic for a given thread count); with pair
 * read noise one worker keeps the layer's noise stream in order. */
int ex_fast_eval_chunk(xb_exec *ex, layer_map *m, const xb_layer *l, const float *Xc, workspace *w, xb_error *err)
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
    int rc = jobs_alloc(jobs, nthr, m, R, TR, n_out, err);
    for (int ph = 0; ph < 2 && !rc; ph++)
        if (w->n_rows[ph] > 0) phase_run(jobs, nthr, ex, m, l, Xc, w, ph);
    jobs_free(jobs, nthr);
    return rc;
}
