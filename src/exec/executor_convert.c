/* The executor's converters and calibration (docs/executor.md, "Converters" and
 * "Calibration"): the ADC ranges per tile and the quantization of the differential
 * currents with the digital partial sums, the DAC full scale per layer, and the per-column
 * affine correction against the exact layer; the calibration entry points. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec/executor_internal.h"

/* ------------------------------------------------------------------ ADC */
void ex_adc_ranges(layer_map *m, const workspace *w, size_t Kc, size_t n_out, int fused, size_t k_cal)
{
    const size_t P = m->pairs;
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
}

void ex_adc_accumulate(const xb_exec *ex, const layer_map *m, size_t n_out, size_t Kc, workspace *w)
{
    const size_t P = m->pairs;
    const double vr = ex->tile_p.v_read_volt, dg = ex->tile_p.g_max_siemens - ex->tile_p.g_min_siemens;
    const int abits = ex->cfg.adc_bits;
    /* Current to weight-sum units: I = sum V_i w_i dg / w_max, V = x v_read / xr. */
    const double scale = m->w_max * m->dac_range / (dg * vr);
    memset(w->acc, 0, Kc * n_out * sizeof(double));
    for (int ph = 0; ph < 2; ph++) {
        const double sgn0 = ph == 0 ? scale : -scale;
        for (size_t r = 0; r < m->n_rt; r++)
            for (size_t c = 0; c < m->n_ct; c++) {
                const size_t j0 = c * P, j1 = (c + 1) * P <= n_out ? (c + 1) * P : n_out;
                const double range = m->adc_range[r * m->n_ct + c];
                const double alpha = m->drift_alpha[r * m->n_ct + c]; /* drift compensation */
                /* the ADC per tile: 2^(B-1)-1 levels a side on [-range, range] */
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

/* ------------------------------------------------------------------ affine correction */
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

/* Exact y = W x + b on the rows of X (used for the affine calibration target). */
static void exact_rows(const xb_layer *l, const float *X, size_t K, float *Y)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)K, (int)l->n_out, (int)l->n_in, 1.0f, X, (int)l->n_in,
                l->weight, (int)l->n_in, 0.0f, Y, (int)l->n_out);
    if (l->bias)
        for (size_t s = 0; s < K; s++)
            for (size_t j = 0; j < l->n_out; j++) Y[s * l->n_out + j] += l->bias[j];
}

/* Fit the affine correction of layer k on the first K_cal rows (analog Y vs the exact layer
 * on the same inputs X) and apply it to all K rows of Y; the evaluated rows count its work. */
static int affine_layer(xb_exec *ex, size_t k, const xb_layer *l, const float *X, size_t K, size_t K_cal, float *Y,
                        xb_error *err)
{
    layer_map *m = &ex->maps[k];
    float *yref = malloc(K_cal * l->n_out * sizeof(float));
    if (!yref) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    exact_rows(l, X, K_cal, yref);
    fit_affine(m, Y, yref, K_cal, l->n_out);
    free(yref);
    m->affine_ready = 1;
    m->st.dig_adds += (double)(K - K_cal) * (double)l->n_out;
    m->st.dig_muls += (double)(K - K_cal) * (double)l->n_out;
    for (size_t s = 0; s < K; s++)
        for (size_t j = 0; j < l->n_out; j++) {
            float *y = &Y[s * l->n_out + j];
            *y = (float)(m->aff_a[j] * *y + m->aff_b[j]);
        }
    return XB_OK;
}

/* ------------------------------------------------------------------ calibration of a layer */
int ex_calibrate_layer(xb_exec *ex, size_t k, const xb_layer *l, const float *X, size_t K, size_t K_cal, float *Y,
                       workspace *w, xb_error *err)
{
    layer_map *m = &ex->maps[k];
    if (ex->cfg.dac_range > 0) {
        m->dac_range = ex->cfg.dac_range;
    } else {
        double mx = 0;
        for (size_t i = 0; i < K_cal * l->n_in; i++) mx = fmax(mx, fabs((double)X[i]));
        m->dac_range = mx > 0 ? mx : 1.0;
    }
    m->affine_ready = 0;
    memset(m->adc_range, 0, m->n_rt * m->n_ct * sizeof(double));
    int rc;
    if (K <= XB_EXEC_CHUNK) {
        /* one pass: the tile currents of the calibration rows set the ranges, and all
         * rows are quantized with them */
        if ((rc = ex_analog_layer(ex, k, l, X, K, Y, MODE_CALIB, K_cal < K ? K_cal : 0, w, err))) return rc;
    } else {
        if ((rc = ex_analog_layer(ex, k, l, X, K_cal, Y, MODE_RANGE, 0, w, err))) return rc;
        for (size_t t = 0; t < m->n_rt * m->n_ct; t++) m->adc_range[t] *= ex->cfg.adc_headroom;
        xb_exec_layer_stats keep = m->st; /* the calibration rows are not counted */
        rc = ex_analog_layer(ex, k, l, X, K_cal, Y, MODE_EVAL, 0, w, err);
        m->st = keep;
        if (rc) return rc;
        if (K > K_cal &&
            (rc = ex_analog_layer(ex, k, l, X + K_cal * l->n_in, K - K_cal, Y + K_cal * l->n_out, MODE_EVAL, 0, w, err)))
            return rc;
    }
    return ex->cfg.affine_calibration ? affine_layer(ex, k, l, X, K, K_cal, Y, err) : XB_OK;
}

/* ------------------------------------------------------------------ entry points */
int xb_exec_calibrate(xb_exec *ex, const float *x, size_t n, xb_error *err)
{
    if (n == 0) return xb_errorf(err, XB_EINPUT, "calibration batch is empty");
    float **acts = xb_network_acts_new(ex->net, n);
    int rc = acts ? XB_OK : xb_errorf(err, XB_ERUNTIME, "out of memory (calibration activations)");
    if (!rc) rc = ex_run(ex, x, n, n, acts, err);
    xb_network_acts_free(acts, ex->n_layers);
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
    float **aa = xb_network_acts_new(ex->net, na);
    int rc = xa && aa ? XB_OK : xb_errorf(err, XB_ERUNTIME, "out of memory (activations)");
    if (!rc) {
        memcpy(xa, x_cal, n_cal * in_sz * sizeof(float));
        memcpy(xa + n_cal * in_sz, x, n * in_sz * sizeof(float));
        rc = ex_run(ex, xa, na, n_cal, aa, err);
    }
    for (size_t k = 0; k < nl && !rc; k++) {
        size_t sz = xb_layer_out_size(xb_network_layer(ex->net, k));
        memcpy(acts[k], aa[k] + n_cal * sz, n * sz * sizeof(float));
    }
    xb_network_acts_free(aa, nl);
    free(xa);
    if (!rc) ex->calibrated = 1;
    else xb_exec_stats_reset(ex);
    return rc;
}

double xb_exec_dac_range(const xb_exec *ex, size_t k)
{
    return k < ex->n_layers && ex->maps[k].weighted ? ex->maps[k].dac_range : 0.0;
}
