/* Hardware-aware training noise from a fitted model file: the executor's differential-pair
 * mapping, the fitted programming-error law sigma_program(G) sampled every minibatch, and
 * the fitted output residual (docs/executor.md, "Training"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec_internal.h"
#include "exec/train_internal.h"

#include "xbar/fit.h"

_Static_assert(sizeof(((xb_train_hwa *)0)->coef) == XB_FIT_SIGMA_MAX_COEF * sizeof(double),
               "xb_train_hwa.coef holds the coefficients of an xb_fit_sigma");

int xb_train_hwa_load(const char *model_path, xb_device_kind device, xb_train_hwa *out, xb_error *err)
{
    memset(out, 0, sizeof *out);
    if (!model_path || !model_path[0]) return xb_errorf(err, XB_EINPUT, "--hw-model: no file given");
    xb_fit_sigma s;
    int rc = xb_fit_sigma_read(model_path, device, &s, err);
    if (rc) return rc;
    out->device = device;
    xb_array_params p;
    xb_array_params_default(&p, device);
    out->g_min_siemens = p.g_min_siemens;
    out->g_max_siemens = p.g_max_siemens;
    out->n_coef = s.n_coef;
    memcpy(out->coef, s.coef, s.n_coef * sizeof s.coef[0]);
    out->valid_g_siemens[0] = s.valid_g_siemens[0];
    out->valid_g_siemens[1] = s.valid_g_siemens[1];

    /* output residual: the model of the executor's default tile (xb_exec_config_default) */
    xb_exec_config cfg;
    xb_exec_config_default(&cfg, device);
    cfg.array.rows = cfg.tile_rows;
    cfg.array.cols = cfg.tile_cols;
    xb_fit_params m;
    int fam = 0;
    xb_error e2;
    if (xb_fit_file_model_for(model_path, &cfg.array, &m, &fam, &e2) == XB_OK) {
        out->resid_sigma_rel = m.resid_sigma_rel;
        out->resid_from_family = fam;
        out->resid_rows = cfg.tile_rows;
        out->resid_cols = cfg.tile_cols;
        return XB_OK;
    }
    /* no such shape and no family: the model of the device nearest in size */
    xb_fit_params *ms = NULL;
    size_t n = 0, best = 0;
    rc = xb_fit_file_read(model_path, &ms, NULL, &n, err);
    if (rc) return rc;
    double bd = INFINITY, target = sqrt((double)(cfg.tile_rows * cfg.tile_cols));
    for (size_t q = 0; q < n; q++) {
        if (ms[q].config.device != device) continue;
        double d = fabs(sqrt((double)(ms[q].config.rows * ms[q].config.cols)) - target);
        if (d < bd) {
            bd = d;
            best = q;
        }
    }
    if (isinf(bd)) rc = xb_errorf(err, XB_EINPUT, "%s: no %s model (for its output residual)", model_path,
                                  xb_device_name(device));
    else {
        out->resid_sigma_rel = ms[best].resid_sigma_rel;
        out->resid_rows = ms[best].config.rows;
        out->resid_cols = ms[best].config.cols;
    }
    free(ms);
    return rc;
}

double xb_train_hwa_sigma_siemens(const xb_train_hwa *h, double g_siemens)
{
    xb_fit_sigma s;
    s.n_coef = h->n_coef;
    memcpy(s.coef, h->coef, sizeof s.coef);
    s.valid_g_siemens[0] = h->valid_g_siemens[0];
    s.valid_g_siemens[1] = h->valid_g_siemens[1];
    return xb_fit_sigma_eval(&s, g_siemens);
}

void xb_train_hwa_perturb(const xb_train_hwa *h, const float *w, size_t n, uint64_t *rng_state, float *w_out)
{
    double w_max = 0;
    for (size_t i = 0; i < n; i++) w_max = fmax(w_max, fabs((double)w[i]));
    if (!(w_max > 0)) {
        memcpy(w_out, w, n * sizeof *w);
        return;
    }
    const double g0 = h->g_min_siemens, dg = h->g_max_siemens - h->g_min_siemens, back = w_max / dg;
    const double s0 = xb_train_hwa_sigma_siemens(h, g0);
    for (size_t i = 0; i < n; i++) {
        double gp, gm;
        xb_exec_weight_pair((double)w[i], w_max, g0, dg, &gp, &gm);
        const double x = (double)w[i] / w_max;
        double sp = x > 0 ? xb_train_hwa_sigma_siemens(h, gp) : s0, sm = x < 0 ? xb_train_hwa_sigma_siemens(h, gm) : s0;
        gp += xb_train_rng_gauss(rng_state, sp);
        gm += xb_train_rng_gauss(rng_state, sm);
        if (gp < 0) gp = 0;
        if (gm < 0) gm = 0;
        w_out[i] = (float)((gp - gm) * back);
    }
}

void xb_train_noise_weights(const xb_train_noise *nz, const float *w, size_t n, uint64_t *rng, float *w_out)
{
    if (nz && nz->hwa) {
        xb_train_hwa_perturb(nz->hwa, w, n, rng, w_out);
    } else if (nz && nz->weight_noise > 0) {
        double mx = 0;
        for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs((double)w[i]));
        double sd = nz->weight_noise * mx;
        for (size_t i = 0; i < n; i++) w_out[i] = w[i] + (float)xb_train_rng_gauss(rng, sd);
    } else if (w_out != w) {
        memcpy(w_out, w, n * sizeof *w);
    }
}

void xb_train_noise_outputs(const xb_train_noise *nz, float *y, size_t nv, size_t len, size_t step, size_t vstride,
                            uint64_t *rng)
{
    if (!nz || !nz->hwa || !(nz->hwa->resid_sigma_rel > 0) || len == 0) return;
    const double r = nz->hwa->resid_sigma_rel;
    for (size_t v = 0; v < nv; v++) {
        float *yv = y + v * vstride;
        double ss = 0;
        for (size_t j = 0; j < len; j++) ss += (double)yv[j * step] * yv[j * step];
        double sd = r * sqrt(ss / (double)len);
        if (!(sd > 0)) continue;
        for (size_t j = 0; j < len; j++) yv[j * step] += (float)xb_train_rng_gauss(rng, sd);
    }
}

int xb_train_begin(const xb_dataset *train, size_t n_classes, const xb_train_opts *o, xb_train_hwa *hwa,
                   xb_train_noise *nz, int *blas_prev, xb_error *err)
{
    nz->weight_noise = o->weight_noise;
    nz->hwa = NULL;
    if (!train || train->n == 0) return xb_errorf(err, XB_EINPUT, "training set is empty");
    if (o->batch == 0 || o->epochs == 0) return xb_errorf(err, XB_EINPUT, "--batch and --epochs must be >= 1");
    if (!(o->lr > 0)) return xb_errorf(err, XB_EINPUT, "--lr: must be > 0");
    if (o->optimizer != XB_TRAIN_ADAM && o->optimizer != XB_TRAIN_SGD)
        return xb_errorf(err, XB_EINPUT, "--optimizer: %d is not adam (0) or sgd (1)", o->optimizer);
    if (!(o->weight_noise >= 0)) return xb_errorf(err, XB_EINPUT, "--weight-noise: must be >= 0");
    if (o->weight_noise > 0 && o->hw_model)
        return xb_errorf(err, XB_EINPUT, "--weight-noise and --hw-model exclude each other");
    if (n_classes < 2) return xb_errorf(err, XB_EINPUT, "need at least 2 classes");
    for (size_t s = 0; s < train->n; s++)
        if (train->labels[s] >= n_classes)
            return xb_errorf(err, XB_EINPUT, "training label %u at sample %zu is >= %zu classes", train->labels[s], s,
                             n_classes);
    if (o->hw_model) {
        int rc = xb_train_hwa_load(o->hw_model, o->hw_device, hwa, err);
        if (rc) return rc;
        nz->hwa = hwa;
    }
    /* last, after every check: nothing to undo on an error */
    *blas_prev = xb_blas_threads_begin((int)o->threads);
    return XB_OK;
}

void xb_train_end(int blas_prev) { xb_blas_threads_end(blas_prev); }
