/* The network trainer (xb_tnet): forward and backward passes of a sequential network over
 * its layer table, one row of kernels per layer kind: dense, conv2d (im2col over the whole
 * minibatch + one OpenBLAS sgemm per layer and pass), max pooling, ReLU, flatten, softmax
 * with cross-entropy.  The optional hardware-aware noise (train_hwa.c) perturbs the weights
 * used in forward and backward every minibatch and adds the fitted output residual to the
 * analog outputs; the optimizer (train_opt.c) updates the clean weights. */
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
    float *w, *b, *wn, *gw, *gb;        /* weights, bias, the noisy weights of a pass, gradients */
    float *dout;                        /* kept output gradients (xb_tnet_set_hooks keep_d) */
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
    const xb_train_mvm *mvm;            /* products of dense layers done elsewhere (or NULL) */
    size_t last_n;                      /* inputs of the last backward pass */
    const float *last_x;                /* its inputs (the caller's, valid until the update) */
};

/* ------------------------------------------------------------------ forward kernels
 * (t, layer, its input, n inputs, the weights of this pass, noisy: with the output residual) */
static void dense_forward(xb_tnet *t, tlayer *l, const float *in, size_t n, const float *W, int noisy, uint64_t *rng)
{
    if (t->mvm && t->mvm->forward) t->mvm->forward(t->mvm->self, (size_t)(l - t->L), in, n, l->out);
    else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)l->n_out, (int)l->n_in, 1.0f, in, (int)l->n_in,
                W, (int)l->n_in, 0.0f, l->out, (int)l->n_out);
    if (noisy) xb_train_noise_outputs(t->nz, l->out, n, l->n_out, 1, l->n_out, rng);
    for (size_t s = 0; s < n; s++)
        for (size_t j = 0; j < l->n_out; j++) l->out[s * l->n_out + j] += l->b[j];
}

/* im2col of the whole minibatch: cols[(ci*kh + ki)*kw + kj][b*P + oy*out_w + ox] */
static void conv_im2col(const tlayer *l, const float *in, size_t n)
{
    const size_t P = l->out_h * l->out_w, np = n * P;
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
}

static void conv_forward(xb_tnet *t, tlayer *l, const float *in, size_t n, const float *W, int noisy, uint64_t *rng)
{
    const size_t P = l->out_h * l->out_w, np = n * P;
    conv_im2col(l, in, n);
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
}

static void maxpool_forward(xb_tnet *t, tlayer *l, const float *in, size_t n, const float *W, int noisy, uint64_t *rng)
{
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
}

static void relu_forward(xb_tnet *t, tlayer *l, const float *in, size_t n, const float *W, int noisy, uint64_t *rng)
{
    for (size_t i = 0; i < n * l->out_size; i++) l->out[i] = in[i] > 0 ? in[i] : 0.0f;
}

static void softmax_forward(xb_tnet *t, tlayer *l, const float *in, size_t n, const float *W, int noisy,
                            uint64_t *rng)
{
    for (size_t s = 0; s < n; s++) {
        const float *z = in + s * l->in_size;
        float *a = l->out + s * l->out_size, mx = z[0];
        for (size_t j = 1; j < l->out_size; j++) mx = z[j] > mx ? z[j] : mx;
        double sum = 0;
        for (size_t j = 0; j < l->out_size; j++) sum += exp((double)(z[j] - mx));
        for (size_t j = 0; j < l->out_size; j++) a[j] = (float)(exp((double)(z[j] - mx)) / sum);
    }
}

static void flatten_forward(xb_tnet *t, tlayer *l, const float *in, size_t n, const float *W, int noisy,
                            uint64_t *rng)
{
    memcpy(l->out, in, n * l->out_size * sizeof(float));
}

/* ------------------------------------------------------------------ backward kernels
 * (t, layer, its input, the weights of the pass, d = gradient at its output, n inputs;
 * need_dn: write the gradient at its input to dn) */
static void dense_backward(xb_tnet *t, tlayer *l, const float *in, const float *W, const float *d, size_t n,
                           int need_dn, float *dn)
{
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)l->n_out, (int)l->n_in, (int)n, 1.0f, d, (int)l->n_out,
                in, (int)l->n_in, 0.0f, l->gw, (int)l->n_in);
    for (size_t j = 0; j < l->n_out; j++) {
        double g = 0;
        for (size_t s = 0; s < n; s++) g += d[s * l->n_out + j];
        l->gb[j] = (float)g;
    }
    if (l->dout) memcpy(l->dout, d, n * l->n_out * sizeof(float));
    if (need_dn && t->mvm && t->mvm->backward) t->mvm->backward(t->mvm->self, (size_t)(l - t->L), d, n, dn);
    else if (need_dn)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)l->n_in, (int)l->n_out, 1.0f, d,
                    (int)l->n_out, W, (int)l->n_in, 0.0f, dn, (int)l->n_in);
}

/* col2im: the gradient of the im2col rows (t->dcols) added back onto the input positions */
static void conv_col2im(const xb_tnet *t, const tlayer *l, size_t n, float *dn)
{
    const size_t P = l->out_h * l->out_w, np = n * P;
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
}

static void conv_backward(xb_tnet *t, tlayer *l, const float *in, const float *W, const float *d, size_t n,
                          int need_dn, float *dn)
{
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
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)l->out_c, (int)l->n_in, (int)np, 1.0f, dy, (int)np,
                l->cols, (int)np, 0.0f, l->gw, (int)l->n_in);
    if (!need_dn) return;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)l->n_in, (int)np, (int)l->out_c, 1.0f, W, (int)l->n_in,
                dy, (int)np, 0.0f, t->dcols, (int)np);
    conv_col2im(t, l, n, dn);
}

static void maxpool_backward(xb_tnet *t, tlayer *l, const float *in, const float *W, const float *d, size_t n,
                             int need_dn, float *dn)
{
    if (!need_dn) return;
    memset(dn, 0, n * l->in_size * sizeof(float));
    for (size_t b = 0; b < n; b++)
        for (size_t o = 0; o < l->out_size; o++) dn[b * l->in_size + l->arg[b * l->out_size + o]] += d[b * l->out_size + o];
}

static void relu_backward(xb_tnet *t, tlayer *l, const float *in, const float *W, const float *d, size_t n,
                          int need_dn, float *dn)
{
    for (size_t i = 0; i < n * l->out_size; i++) dn[i] = l->out[i] > 0 ? d[i] : 0.0f;
}

static void flatten_backward(xb_tnet *t, tlayer *l, const float *in, const float *W, const float *d, size_t n,
                             int need_dn, float *dn)
{
    memcpy(dn, d, n * l->out_size * sizeof(float));
}

/* ------------------------------------------------------------------ the layer table */
typedef void (*tforward_fn)(xb_tnet *t, tlayer *l, const float *in, size_t n, const float *W, int noisy,
                            uint64_t *rng);
typedef void (*tbackward_fn)(xb_tnet *t, tlayer *l, const float *in, const float *W, const float *d, size_t n,
                             int need_dn, float *dn);

/* One row per trainable layer kind (others: forward NULL).  Softmax is trained only as the
 * last layer, with cross-entropy: its backward is the loss's (xb_tnet_loss_grad). */
static const struct {
    tforward_fn forward;
    tbackward_fn backward;
} k_tkinds[] = {
    [XB_LAYER_DENSE] = {dense_forward, dense_backward},
    [XB_LAYER_CONV2D] = {conv_forward, conv_backward},
    [XB_LAYER_MAXPOOL2D] = {maxpool_forward, maxpool_backward},
    [XB_LAYER_AVGPOOL2D] = {NULL, NULL},
    [XB_LAYER_RELU] = {relu_forward, relu_backward},
    [XB_LAYER_FLATTEN] = {flatten_forward, flatten_backward},
    [XB_LAYER_SOFTMAX] = {softmax_forward, NULL},
};
#define N_TKINDS (sizeof k_tkinds / sizeof k_tkinds[0])

/* dense, conv2d: a weight matrix and bias (the network's table of kinds) */
static int has_weights(xb_layer_kind k) { return xb_layer_kind_has_weights(k); }

/* ------------------------------------------------------------------ the network */
void xb_tnet_free(xb_tnet *t)
{
    if (!t) return;
    for (size_t k = 0; t->L && k < t->nl; k++) {
        tlayer *l = &t->L[k];
        float *p[] = {l->w, l->b, l->wn, l->gw, l->gb, l->out, l->cols, l->y, l->dout};
        for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) free(p[i]);
        free(l->arg);
    }
    free(t->L);
    free(t->d0);
    free(t->d1);
    free(t->dcols);
    free(t);
}

/* Layer k of t from layer s of the network: shapes, parameters, buffers for max_batch
 * inputs; *max_cols grows to its im2col size. */
static int tlayer_init(xb_tnet *t, size_t k, const xb_layer *s, size_t *max_cols, xb_error *err)
{
    tlayer *l = &t->L[k];
    const size_t max_batch = t->max_batch;
    l->kind = s->kind;
    l->in_c = s->in_c; l->in_h = s->in_h; l->in_w = s->in_w;
    l->out_c = s->out_c; l->out_h = s->out_h; l->out_w = s->out_w;
    l->in_size = xb_layer_in_size(s);
    l->out_size = xb_layer_out_size(s);
    l->kh = s->kh; l->kw = s->kw; l->stride = s->stride; l->pad = s->padding;
    if ((unsigned)s->kind >= N_TKINDS || !k_tkinds[s->kind].forward || (s->kind == XB_LAYER_SOFTMAX && k + 1 != t->nl))
        return xb_errorf(err, XB_EINPUT, "training: layer %zu (%s) is not supported", k, xb_layer_kind_name(s->kind));
    int ok = (l->out = malloc(max_batch * l->out_size * sizeof(float))) != NULL;
    if (has_weights(s->kind)) {
        l->n_out = s->n_out;
        l->n_in = s->n_in;
        size_t nw = l->n_out * l->n_in;
        ok = ok && (l->w = malloc(nw * sizeof(float))) && (l->wn = malloc(nw * sizeof(float))) &&
             (l->gw = calloc(nw, sizeof(float))) && (l->b = calloc(l->n_out, sizeof(float))) &&
             (l->gb = calloc(l->n_out, sizeof(float)));
        if (ok) {
            memcpy(l->w, s->weight, nw * sizeof(float));
            if (s->bias) memcpy(l->b, s->bias, l->n_out * sizeof(float));
        }
    }
    if (ok && s->kind == XB_LAYER_CONV2D) {
        size_t np = max_batch * l->out_h * l->out_w;
        ok = (l->cols = malloc(l->n_in * np * sizeof(float))) && (l->y = malloc(l->out_c * np * sizeof(float)));
        if (l->n_in * np > *max_cols) *max_cols = l->n_in * np;
    }
    if (ok && s->kind == XB_LAYER_MAXPOOL2D) ok = (l->arg = malloc(max_batch * l->out_size * sizeof(size_t))) != NULL;
    return ok ? XB_OK : xb_errorf(err, XB_ERUNTIME, "out of memory");
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
        int rc = tlayer_init(t, k, xb_network_layer(net, k), &max_cols, err);
        if (rc) {
            xb_tnet_free(t);
            return rc;
        }
        if (t->L[k].out_size > max_act) max_act = t->L[k].out_size;
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

int xb_tnet_set_hooks(xb_tnet *t, const xb_train_mvm *mvm, int keep_d, xb_error *err)
{
    t->mvm = mvm;
    for (size_t k = 0; keep_d && k < t->nl; k++) {
        tlayer *l = &t->L[k];
        if (l->kind != XB_LAYER_DENSE || l->dout) continue;
        if (!(l->dout = malloc(t->max_batch * l->n_out * sizeof(float))))
            return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    return XB_OK;
}
size_t xb_tnet_n_layers(const xb_tnet *t) { return t->nl; }
size_t xb_tnet_n_classes(const xb_tnet *t) { return t->n_classes; }
xb_layer_kind xb_tnet_layer_kind(const xb_tnet *t, size_t k) { return t->L[k].kind; }

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

/* ------------------------------------------------------------------ passes */
/* Forward of n inputs; noisy: the weights wn (already sampled) and the output residual. */
static void forward(xb_tnet *t, const float *x, size_t n, int noisy, uint64_t *rng)
{
    const float *in = x;
    for (size_t k = 0; k < t->nl; k++) {
        tlayer *l = &t->L[k];
        k_tkinds[l->kind].forward(t, l, in, n, noisy ? l->wn : l->w, noisy, rng);
        in = l->out;
    }
    t->noisy = noisy;
}

const float *xb_tnet_forward(xb_tnet *t, const float *x, size_t n, uint64_t *rng)
{
    const xb_train_noise *nz = t->nz;
    int noisy = nz && (nz->hwa || nz->weight_noise > 0);
    if (noisy)
        for (size_t k = 0; k < t->nl; k++)
            if (has_weights(t->L[k].kind))
                xb_train_noise_weights(nz, t->L[k].w, t->L[k].n_out * t->L[k].n_in, rng, t->L[k].wn);
    forward(t, x, n, noisy, rng);
    return t->L[t->nl - 1].out;
}

void xb_tnet_backward(xb_tnet *t, const float *x, size_t n, const float *d_logits)
{
    float *d = t->d0, *dn = t->d1;
    t->last_n = n;
    t->last_x = x;
    if (d_logits != d) memcpy(d, d_logits, n * t->n_classes * sizeof(float));
    for (size_t k = t->nl - 1; k-- > 0;) {
        tlayer *l = &t->L[k];
        k_tkinds[l->kind].backward(t, l, k ? t->L[k - 1].out : x, t->noisy ? l->wn : l->w, d, n, k > 0, dn);
        float *tmp = d;
        d = dn;
        dn = tmp;
    }
}

double xb_tnet_loss_grad(xb_tnet *t, const float *x, const unsigned char *labels, size_t n, uint64_t *rng)
{
    const float *p = xb_tnet_forward(t, x, n, rng);
    /* softmax + cross-entropy: d(mean loss)/dz = (p - onehot) / n */
    const size_t nc = t->n_classes;
    float *d = t->d0;
    double loss = 0;
    for (size_t s = 0; s < n; s++) {
        unsigned lab = labels[s];
        loss -= log(fmax((double)p[s * nc + lab], 1e-30));
        for (size_t c = 0; c < nc; c++) d[s * nc + c] = (p[s * nc + c] - (c == lab ? 1.0f : 0.0f)) / (float)n;
    }
    xb_tnet_backward(t, x, n, d);
    return loss;
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

int xb_tnet_update(xb_tnet *t, xb_train_optimizer *o, double lr, xb_error *err)
{
    o->step(o->self, lr);
    for (size_t k = 0; k < t->nl; k++) {
        tlayer *l = &t->L[k];
        if (!has_weights(l->kind)) continue;
        const xb_train_params p = {k, l->kind, l->n_out, l->n_in, l->w, l->gw, l->b, l->gb,
                                   k ? t->L[k - 1].out : t->last_x, l->dout, t->last_n};
        int rc = o->update(o->self, &p, lr, err);
        if (rc) return rc;
    }
    return XB_OK;
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
