/* Training of sequential networks with convolutions (xb_train_cnn): conv2d as im2col over
 * the whole minibatch + one OpenBLAS sgemm per layer and pass, max pooling, ReLU, dense,
 * softmax cross-entropy, Adam (Kingma & Ba, ICLR 2015).  The optional hardware-aware noise
 * (train_hwa.c) perturbs the weights used in forward and backward every minibatch and adds
 * the fitted output residual to the analog outputs; Adam updates the clean weights. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec/train_internal.h"

typedef struct {
    xb_layer_kind kind;
    size_t in_c, in_h, in_w, out_c, out_h, out_w, in_size, out_size;
    size_t kh, kw, stride, pad;
    size_t n_out, n_in;                 /* dense/conv weights: n_out x n_in */
    float *w, *b, *wn, *gw, *gb, *mw, *vw, *mb, *vb;
    float *out;                         /* max_batch x out_size */
    float *cols;                        /* conv: n_in x (max_batch * out_h*out_w) */
    float *y;                           /* conv: out_c x (max_batch * out_h*out_w) */
    size_t *arg;                        /* maxpool: input index of every output */
} tlayer;

struct xb_tnet {
    size_t nl, max_batch, in_size, n_classes, in_ndim, in_shape[3];
    tlayer *L;
    float *d0, *d1, *dcols;             /* backward scratch */
    const xb_train_noise *nz;
    int noisy;                          /* the last forward used wn */
    size_t step;                        /* Adam steps */
};

static int has_weights(xb_layer_kind k) { return k == XB_LAYER_DENSE || k == XB_LAYER_CONV2D; }

void xb_tnet_free(xb_tnet *t)
{
    if (!t) return;
    for (size_t k = 0; t->L && k < t->nl; k++) {
        tlayer *l = &t->L[k];
        float *p[] = {l->w, l->b, l->wn, l->gw, l->gb, l->mw, l->vw, l->mb, l->vb, l->out, l->cols, l->y};
        for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) free(p[i]);
        free(l->arg);
    }
    free(t->L);
    free(t->d0);
    free(t->d1);
    free(t->dcols);
    free(t);
}

int xb_tnet_new(const xb_network *net, size_t max_batch, xb_tnet **out, xb_error *err)
{
    *out = NULL;
    size_t nl = xb_network_n_layers(net);
    if (nl < 2 || xb_network_layer(net, nl - 1)->kind != XB_LAYER_SOFTMAX)
        return xb_errorf(err, XB_EINPUT, "training: the network must end with a softmax layer");
    if (max_batch == 0) return xb_errorf(err, XB_EINPUT, "training: batch must be >= 1");
    xb_tnet *t = calloc(1, sizeof *t);
    if (!t || !(t->L = calloc(nl, sizeof *t->L))) {
        free(t);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    t->nl = nl;
    t->max_batch = max_batch;
    t->in_size = xb_network_input_size(net);
    t->in_ndim = xb_network_input_ndim(net);
    memcpy(t->in_shape, xb_network_input_shape(net), t->in_ndim * sizeof(size_t));
    t->n_classes = xb_network_output_size(net);
    size_t max_act = t->in_size, max_cols = 0;
    for (size_t k = 0; k < nl; k++) {
        const xb_layer *s = xb_network_layer(net, k);
        tlayer *l = &t->L[k];
        l->kind = s->kind;
        l->in_c = s->in_c; l->in_h = s->in_h; l->in_w = s->in_w;
        l->out_c = s->out_c; l->out_h = s->out_h; l->out_w = s->out_w;
        l->in_size = xb_layer_in_size(s);
        l->out_size = xb_layer_out_size(s);
        l->kh = s->kh; l->kw = s->kw; l->stride = s->stride; l->pad = s->padding;
        if (s->kind == XB_LAYER_AVGPOOL2D || (s->kind == XB_LAYER_SOFTMAX && k + 1 != nl)) {
            xb_tnet_free(t);
            return xb_errorf(err, XB_EINPUT, "training: layer %zu (%s) is not supported", k, xb_layer_kind_name(s->kind));
        }
        if (l->out_size > max_act) max_act = l->out_size;
        int ok = (l->out = malloc(max_batch * l->out_size * sizeof(float))) != NULL;
        if (has_weights(s->kind)) {
            l->n_out = s->n_out;
            l->n_in = s->n_in;
            size_t nw = l->n_out * l->n_in;
            ok = ok && (l->w = malloc(nw * sizeof(float))) && (l->wn = malloc(nw * sizeof(float))) &&
                 (l->gw = calloc(nw, sizeof(float))) && (l->mw = calloc(nw, sizeof(float))) &&
                 (l->vw = calloc(nw, sizeof(float))) && (l->b = calloc(l->n_out, sizeof(float))) &&
                 (l->gb = calloc(l->n_out, sizeof(float))) && (l->mb = calloc(l->n_out, sizeof(float))) &&
                 (l->vb = calloc(l->n_out, sizeof(float)));
            if (ok) {
                memcpy(l->w, s->weight, nw * sizeof(float));
                if (s->bias) memcpy(l->b, s->bias, l->n_out * sizeof(float));
            }
        }
        if (ok && s->kind == XB_LAYER_CONV2D) {
            size_t np = max_batch * l->out_h * l->out_w;
            ok = (l->cols = malloc(l->n_in * np * sizeof(float))) && (l->y = malloc(l->out_c * np * sizeof(float)));
            if (l->n_in * np > max_cols) max_cols = l->n_in * np;
        }
        if (ok && s->kind == XB_LAYER_MAXPOOL2D) ok = (l->arg = malloc(max_batch * l->out_size * sizeof(size_t))) != NULL;
        if (!ok) {
            xb_tnet_free(t);
            return xb_errorf(err, XB_ERUNTIME, "out of memory");
        }
    }
    t->d0 = malloc(max_batch * max_act * sizeof(float));
    t->d1 = malloc(max_batch * max_act * sizeof(float));
    t->dcols = malloc((max_cols ? max_cols : 1) * sizeof(float));
    if (!t->d0 || !t->d1 || !t->dcols) {
        xb_tnet_free(t);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    *out = t;
    return XB_OK;
}

void xb_tnet_set_noise(xb_tnet *t, const xb_train_noise *nz) { t->nz = nz; }
size_t xb_tnet_n_layers(const xb_tnet *t) { return t->nl; }

void xb_tnet_params(xb_tnet *t, size_t k, float **w, float **gw, size_t *nw, float **b, float **gb, size_t *nb)
{
    tlayer *l = &t->L[k];
    *w = l->w;
    *gw = l->gw;
    *nw = l->n_out * l->n_in;
    *b = l->b;
    *gb = l->gb;
    *nb = l->n_out;
}

/* Forward of n inputs; noisy: the weights wn (already sampled) and the output residual. */
static void forward(xb_tnet *t, const float *x, size_t n, int noisy, uint64_t *rng)
{
    const float *in = x;
    for (size_t k = 0; k < t->nl; k++) {
        tlayer *l = &t->L[k];
        const float *W = noisy ? l->wn : l->w;
        switch (l->kind) {
        case XB_LAYER_DENSE:
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)l->n_out, (int)l->n_in, 1.0f, in,
                        (int)l->n_in, W, (int)l->n_in, 0.0f, l->out, (int)l->n_out);
            if (noisy) xb_train_noise_outputs(t->nz, l->out, n, l->n_out, 1, l->n_out, rng);
            for (size_t s = 0; s < n; s++)
                for (size_t j = 0; j < l->n_out; j++) l->out[s * l->n_out + j] += l->b[j];
            break;
        case XB_LAYER_CONV2D: {
            const size_t P = l->out_h * l->out_w, np = n * P;
            /* im2col: cols[(ci*kh + ki)*kw + kj][b*P + oy*out_w + ox] */
            for (size_t ci = 0; ci < l->in_c; ci++)
                for (size_t ki = 0; ki < l->kh; ki++)
                    for (size_t kj = 0; kj < l->kw; kj++) {
                        float *row = l->cols + ((ci * l->kh + ki) * l->kw + kj) * np;
                        for (size_t b = 0; b < n; b++) {
                            const float *src = in + b * l->in_size + ci * l->in_h * l->in_w;
                            for (size_t oy = 0; oy < l->out_h; oy++) {
                                long iy = (long)(oy * l->stride + ki) - (long)l->pad;
                                float *dst = row + b * P + oy * l->out_w;
                                for (size_t ox = 0; ox < l->out_w; ox++) {
                                    long ix = (long)(ox * l->stride + kj) - (long)l->pad;
                                    dst[ox] = (iy >= 0 && iy < (long)l->in_h && ix >= 0 && ix < (long)l->in_w)
                                                  ? src[iy * (long)l->in_w + ix]
                                                  : 0.0f;
                                }
                            }
                        }
                    }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)l->out_c, (int)np, (int)l->n_in, 1.0f, W,
                        (int)l->n_in, l->cols, (int)np, 0.0f, l->y, (int)np);
            /* one analog output vector per position: out_c values, stride np */
            if (noisy) xb_train_noise_outputs(t->nz, l->y, np, l->out_c, np, 1, rng);
            for (size_t b = 0; b < n; b++)
                for (size_t c = 0; c < l->out_c; c++) {
                    const float *src = l->y + c * np + b * P;
                    float *dst = l->out + b * l->out_size + c * P;
                    for (size_t p = 0; p < P; p++) dst[p] = src[p] + l->b[c];
                }
            break;
        }
        case XB_LAYER_MAXPOOL2D:
            for (size_t b = 0; b < n; b++)
                for (size_t c = 0; c < l->out_c; c++)
                    for (size_t oy = 0; oy < l->out_h; oy++)
                        for (size_t ox = 0; ox < l->out_w; ox++) {
                            size_t best = (c * l->in_h + oy * l->stride) * l->in_w + ox * l->stride;
                            const float *src = in + b * l->in_size;
                            for (size_t ki = 0; ki < l->kh; ki++)
                                for (size_t kj = 0; kj < l->kh; kj++) {
                                    size_t q = (c * l->in_h + oy * l->stride + ki) * l->in_w + ox * l->stride + kj;
                                    if (src[q] > src[best]) best = q;
                                }
                            size_t o = b * l->out_size + (c * l->out_h + oy) * l->out_w + ox;
                            l->out[o] = src[best];
                            l->arg[o] = best;
                        }
            break;
        case XB_LAYER_RELU:
            for (size_t i = 0; i < n * l->out_size; i++) l->out[i] = in[i] > 0 ? in[i] : 0.0f;
            break;
        case XB_LAYER_SOFTMAX:
            for (size_t s = 0; s < n; s++) {
                const float *z = in + s * l->in_size;
                float *a = l->out + s * l->out_size, mx = z[0];
                for (size_t j = 1; j < l->out_size; j++) mx = z[j] > mx ? z[j] : mx;
                double sum = 0;
                for (size_t j = 0; j < l->out_size; j++) sum += exp((double)(z[j] - mx));
                for (size_t j = 0; j < l->out_size; j++) a[j] = (float)(exp((double)(z[j] - mx)) / sum);
            }
            break;
        default: /* flatten */
            memcpy(l->out, in, n * l->out_size * sizeof(float));
            break;
        }
        in = l->out;
    }
    t->noisy = noisy;
}

int xb_tnet_predict(xb_tnet *t, const float *x, size_t n, float *probs, xb_error *err)
{
    for (size_t s0 = 0; s0 < n; s0 += t->max_batch) {
        size_t B = n - s0 < t->max_batch ? n - s0 : t->max_batch;
        forward(t, x + s0 * t->in_size, B, 0, NULL);
        memcpy(probs + s0 * t->n_classes, t->L[t->nl - 1].out, B * t->n_classes * sizeof(float));
    }
    return XB_OK;
}

double xb_tnet_loss_grad(xb_tnet *t, const float *x, const unsigned char *labels, size_t n, uint64_t *rng)
{
    const xb_train_noise *nz = t->nz;
    int noisy = nz && (nz->hwa || nz->weight_noise > 0);
    if (noisy)
        for (size_t k = 0; k < t->nl; k++)
            if (has_weights(t->L[k].kind))
                xb_train_noise_weights(nz, t->L[k].w, t->L[k].n_out * t->L[k].n_in, rng, t->L[k].wn);
    forward(t, x, n, noisy, rng);
    /* softmax + cross-entropy: d(mean loss)/dz = (p - onehot) / n */
    const size_t nc = t->n_classes;
    const float *p = t->L[t->nl - 1].out;
    float *d = t->d0, *dn = t->d1;
    double loss = 0;
    for (size_t s = 0; s < n; s++) {
        unsigned lab = labels[s];
        loss -= log(fmax((double)p[s * nc + lab], 1e-30));
        for (size_t c = 0; c < nc; c++) d[s * nc + c] = (p[s * nc + c] - (c == lab ? 1.0f : 0.0f)) / (float)n;
    }
    for (size_t k = t->nl - 1; k-- > 0;) {
        tlayer *l = &t->L[k];
        const float *in = k ? t->L[k - 1].out : x;
        const float *W = noisy ? l->wn : l->w;
        switch (l->kind) {
        case XB_LAYER_DENSE:
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)l->n_out, (int)l->n_in, (int)n, 1.0f, d,
                        (int)l->n_out, in, (int)l->n_in, 0.0f, l->gw, (int)l->n_in);
            for (size_t j = 0; j < l->n_out; j++) {
                double g = 0;
                for (size_t s = 0; s < n; s++) g += d[s * l->n_out + j];
                l->gb[j] = (float)g;
            }
            if (k)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)l->n_in, (int)l->n_out, 1.0f, d,
                            (int)l->n_out, W, (int)l->n_in, 0.0f, dn, (int)l->n_in);
            break;
        case XB_LAYER_CONV2D: {
            const size_t P = l->out_h * l->out_w, np = n * P;
            float *dy = l->y; /* the forward outputs are no longer needed */
            for (size_t c = 0; c < l->out_c; c++) {
                double g = 0;
                for (size_t b = 0; b < n; b++) {
                    const float *src = d + b * l->out_size + c * P;
                    float *dst = dy + c * np + b * P;
                    for (size_t q = 0; q < P; q++) {
                        dst[q] = src[q];
                        g += src[q];
                    }
                }
                l->gb[c] = (float)g;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)l->out_c, (int)l->n_in, (int)np, 1.0f, dy,
                        (int)np, l->cols, (int)np, 0.0f, l->gw, (int)l->n_in);
            if (!k) break;
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)l->n_in, (int)np, (int)l->out_c, 1.0f, W,
                        (int)l->n_in, dy, (int)np, 0.0f, t->dcols, (int)np);
            memset(dn, 0, n * l->in_size * sizeof(float));
            for (size_t ci = 0; ci < l->in_c; ci++)
                for (size_t ki = 0; ki < l->kh; ki++)
                    for (size_t kj = 0; kj < l->kw; kj++) {
                        const float *row = t->dcols + ((ci * l->kh + ki) * l->kw + kj) * np;
                        for (size_t b = 0; b < n; b++) {
                            float *dst = dn + b * l->in_size + ci * l->in_h * l->in_w;
                            for (size_t oy = 0; oy < l->out_h; oy++) {
                                long iy = (long)(oy * l->stride + ki) - (long)l->pad;
                                if (iy < 0 || iy >= (long)l->in_h) continue;
                                const float *src = row + b * P + oy * l->out_w;
                                for (size_t ox = 0; ox < l->out_w; ox++) {
                                    long ix = (long)(ox * l->stride + kj) - (long)l->pad;
                                    if (ix >= 0 && ix < (long)l->in_w) dst[iy * (long)l->in_w + ix] += src[ox];
                                }
                            }
                        }
                    }
            break;
        }
        case XB_LAYER_MAXPOOL2D:
            if (!k) break;
            memset(dn, 0, n * l->in_size * sizeof(float));
            for (size_t b = 0; b < n; b++)
                for (size_t o = 0; o < l->out_size; o++)
                    dn[b * l->in_size + l->arg[b * l->out_size + o]] += d[b * l->out_size + o];
            break;
        case XB_LAYER_RELU:
            for (size_t i = 0; i < n * l->out_size; i++) dn[i] = l->out[i] > 0 ? d[i] : 0.0f;
            break;
        default: /* flatten */
            memcpy(dn, d, n * l->out_size * sizeof(float));
            break;
        }
        float *tmp = d;
        d = dn;
        dn = tmp;
    }
    return loss;
}

static void adam_update(float *w, const float *g, float *m, float *v, size_t n, float a_t)
{
    const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
    for (size_t i = 0; i < n; i++) {
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        w[i] -= a_t * m[i] / (sqrtf(v[i]) + eps);
    }
}

void xb_tnet_adam(xb_tnet *t, double lr)
{
    t->step++;
    const double c1 = 1.0 - pow(0.9, (double)t->step), c2 = 1.0 - pow(0.999, (double)t->step);
    const float a_t = (float)(lr * sqrt(c2) / c1);
    for (size_t k = 0; k < t->nl; k++) {
        tlayer *l = &t->L[k];
        if (!has_weights(l->kind)) continue;
        adam_update(l->w, l->gw, l->mw, l->vw, l->n_out * l->n_in, a_t);
        adam_update(l->b, l->gb, l->mb, l->vb, l->n_out, a_t);
    }
}

int xb_tnet_export(const xb_tnet *t, xb_network **out, xb_error *err)
{
    xb_network *net = NULL;
    int rc = xb_network_new(t->in_shape, t->in_ndim, &net, err);
    for (size_t k = 0; k < t->nl && !rc; k++) {
        const tlayer *l = &t->L[k];
        switch (l->kind) {
        case XB_LAYER_DENSE: rc = xb_network_add_dense(net, l->n_out, l->n_in, l->w, l->b, err); break;
        case XB_LAYER_CONV2D:
            rc = xb_network_add_conv2d(net, l->out_c, l->in_c, l->kh, l->kw, l->stride, l->pad, l->w, l->b, err);
            break;
        case XB_LAYER_MAXPOOL2D: rc = xb_network_add_pool(net, l->kind, l->kh, l->stride, err); break;
        default: rc = xb_network_add(net, l->kind, err); break;
        }
    }
    if (rc) {
        xb_network_free(net);
        net = NULL;
    }
    *out = net;
    return rc;
}

/* ------------------------------------------------------------------ xb_train_cnn */
static void he_uniform(float *w, size_t n, size_t fan_in, uint64_t *rng)
{
    /* He et al., ICCV 2015: U(-sqrt(6/fan_in), +) */
    double lim = sqrt(6.0 / (double)fan_in);
    for (size_t i = 0; i < n; i++) w[i] = (float)((2.0 * xb_splitmix64_uniform(rng) - 1.0) * lim);
}

int xb_train_cnn(const xb_dataset *train, const xb_dataset *test, size_t n_classes, const xb_train_opts *o,
                 xb_train_progress cb, void *user, xb_network **out, xb_error *err)
{
    *out = NULL;
    if (train && (train->rows % 4 || train->cols % 4 || train->rows == 0 || train->cols == 0))
        return xb_errorf(err, XB_EINPUT, "--arch cnn: image sides must be multiples of 4 (got %zux%zu)", train->rows,
                         train->cols);
    const size_t c1 = o->cnn_channels[0], c2 = o->cnn_channels[1];
    if (c1 == 0 || c2 == 0) return xb_errorf(err, XB_EINPUT, "--channels: must be >= 1");
    xb_train_hwa hwa;
    xb_train_noise nz;
    int blas_prev;
    int brc = xb_train_begin(train, n_classes, o, &hwa, &nz, &blas_prev, err);
    if (brc) return brc;

    uint64_t rng = o->seed;
    const size_t H = train->rows, Wd = train->cols, px = H * Wd, nd = c2 * (H / 4) * (Wd / 4);
    const size_t shape[3] = {1, H, Wd};
    float *w1 = malloc(c1 * 9 * sizeof(float)), *w2 = malloc(c2 * c1 * 9 * sizeof(float)),
          *w3 = malloc(n_classes * nd * sizeof(float));
    xb_network *init = NULL;
    xb_tnet *t = NULL;
    int rc = (w1 && w2 && w3) ? XB_OK : xb_errorf(err, XB_ERUNTIME, "out of memory");
    if (!rc) {
        he_uniform(w1, c1 * 9, 9, &rng);
        he_uniform(w2, c2 * c1 * 9, c1 * 9, &rng);
        he_uniform(w3, n_classes * nd, nd, &rng);
        rc = xb_network_new(shape, 3, &init, err);
    }
    if (!rc) rc = xb_network_add_conv2d(init, c1, 1, 3, 3, 1, 1, w1, NULL, err);
    if (!rc) rc = xb_network_add(init, XB_LAYER_RELU, err);
    if (!rc) rc = xb_network_add_pool(init, XB_LAYER_MAXPOOL2D, 2, 2, err);
    if (!rc) rc = xb_network_add_conv2d(init, c2, c1, 3, 3, 1, 1, w2, NULL, err);
    if (!rc) rc = xb_network_add(init, XB_LAYER_RELU, err);
    if (!rc) rc = xb_network_add_pool(init, XB_LAYER_MAXPOOL2D, 2, 2, err);
    if (!rc) rc = xb_network_add(init, XB_LAYER_FLATTEN, err);
    if (!rc) rc = xb_network_add_dense(init, n_classes, nd, w3, NULL, err);
    if (!rc) rc = xb_network_add(init, XB_LAYER_SOFTMAX, err);
    const size_t B = o->batch, eval_b = B > 500 ? B : 500;
    if (!rc) rc = xb_tnet_new(init, eval_b, &t, err);
    free(w1);
    free(w2);
    free(w3);
    xb_network_free(init);
    if (rc) {
        xb_train_end(blas_prev);
        return rc;
    }
    xb_tnet_set_noise(t, &nz);

    size_t *perm = malloc(train->n * sizeof *perm);
    float *xb = malloc(B * px * sizeof(float)), *probs = NULL;
    unsigned char *lb = malloc(B);
    if (test && test->n) probs = malloc(test->n * n_classes * sizeof(float));
    if (!perm || !xb || !lb || (test && test->n && !probs)) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    for (size_t s = 0; !rc && s < train->n; s++) perm[s] = s;
    double lr = o->lr;
    for (size_t ep = 0; !rc && ep < o->epochs; ep++) {
        xb_train_shuffle(perm, train->n, &rng);
        double loss = 0;
        for (size_t s0 = 0; s0 < train->n; s0 += B) {
            const size_t nb = train->n - s0 < B ? train->n - s0 : B;
            for (size_t s = 0; s < nb; s++) {
                memcpy(xb + s * px, train->images + perm[s0 + s] * px, px * sizeof(float));
                lb[s] = train->labels[perm[s0 + s]];
            }
            loss += xb_tnet_loss_grad(t, xb, lb, nb, &rng);
            xb_tnet_adam(t, lr);
        }
        lr *= o->lr_decay > 0 ? o->lr_decay : 1.0;
        if (cb) {
            double acc = -1;
            if (probs && !(rc = xb_tnet_predict(t, test->images, test->n, probs, err)))
                acc = xb_exec_top1(probs, test->n, n_classes, test->labels);
            cb(user, ep, loss / (double)train->n, acc);
        }
    }
    if (!rc) rc = xb_tnet_export(t, out, err);
    xb_tnet_free(t);
    free(perm);
    free(xb);
    free(lb);
    free(probs);
    xb_train_end(blas_prev);
    return rc;
}
