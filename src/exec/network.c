/* Networks: the layer list, shape inference, and the ideal float forward pass
 * (OpenBLAS sgemm; conv through im2col). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec_internal.h"

struct xb_network {
    size_t input_ndim;
    size_t input_shape[3];
    size_t in_c, in_h, in_w; /* input as C,H,W */
    size_t n_layers, cap;
    xb_layer *layers;
};

/* The table of layer kinds (end of this file): name, parameters, output shape, and for the
 * layers without weights the float kernel and its digital work.  A new kind of layer is a
 * row there (docs/architecture.md, "How to extend: a new layer"). */
typedef enum { PARAMS_NONE, PARAMS_POOL, PARAMS_WEIGHTS, PARAMS_AFFINE, PARAMS_ADD } layer_params;
typedef struct {
    const char *name;
    layer_params params; /* NONE: xb_network_add; POOL: kernel, stride (xb_network_add_pool);
                            WEIGHTS: a builder of its own (dense, conv2d), on tiles in the executor;
                            AFFINE, ADD: xb_network_add_affine, xb_network_add_residual (digital) */
    void (*shape)(xb_layer *l); /* output shape from the input shape (and kernel, stride) */
    /* digital layers; skip: the source layer's outputs (add) */
    void (*forward)(const xb_layer *l, const float *in, const float *skip, size_t n, float *out);
    void (*ops)(const xb_layer *l, double *adds, double *muls); /* digital work per sample (NULL: none) */
} layer_class;
static const layer_class *kind_class(xb_layer_kind k);
static void same_shape(xb_layer *l);

const char *xb_layer_kind_name(xb_layer_kind k)
{
    const layer_class *c = kind_class(k);
    return c ? c->name : "?";
}

int xb_layer_kind_from_name(const char *s, xb_layer_kind *out)
{
    for (int k = 0; s && kind_class((xb_layer_kind)k); k++)
        if (strcmp(s, kind_class((xb_layer_kind)k)->name) == 0) {
            *out = (xb_layer_kind)k;
            return XB_OK;
        }
    return XB_EINPUT;
}

int xb_layer_kind_has_weights(xb_layer_kind k)
{
    const layer_class *c = kind_class(k);
    return c && c->params == PARAMS_WEIGHTS;
}

int xb_network_new(const size_t *input_shape, size_t ndim, xb_network **out, xb_error *err)
{
    *out = NULL;
    if (ndim != 1 && ndim != 3)
        return xb_errorf(err, XB_EINPUT, "input_shape: %zu dimensions, expected 1 (length) or 3 (C,H,W)", ndim);
    for (size_t d = 0; d < ndim; d++)
        if (input_shape[d] == 0 || input_shape[d] > ((size_t)1 << 24))
            return xb_errorf(err, XB_EINPUT, "input_shape: dimension %zu is %zu", d, input_shape[d]);
    xb_network *n = calloc(1, sizeof *n);
    if (!n) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    n->input_ndim = ndim;
    for (size_t d = 0; d < ndim; d++) n->input_shape[d] = input_shape[d];
    n->in_c = input_shape[0];
    n->in_h = ndim == 3 ? input_shape[1] : 1;
    n->in_w = ndim == 3 ? input_shape[2] : 1;
    *out = n;
    return XB_OK;
}

void xb_network_free(xb_network *net)
{
    if (!net) return;
    for (size_t k = 0; k < net->n_layers; k++) {
        free(net->layers[k].weight);
        free(net->layers[k].bias);
    }
    free(net->layers);
    free(net);
}

/* A new layer whose input is the current output shape. */
static xb_layer *push_layer(xb_network *net, xb_layer_kind kind, xb_error *err)
{
    if (net->n_layers == net->cap) {
        size_t cap = net->cap ? 2 * net->cap : 8;
        xb_layer *l = realloc(net->layers, cap * sizeof *l);
        if (!l) {
            xb_errorf(err, XB_ERUNTIME, "out of memory");
            return NULL;
        }
        net->layers = l;
        net->cap = cap;
    }
    xb_layer *l = &net->layers[net->n_layers];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    if (net->n_layers == 0) {
        l->in_c = net->in_c;
        l->in_h = net->in_h;
        l->in_w = net->in_w;
    } else {
        const xb_layer *p = &net->layers[net->n_layers - 1];
        l->in_c = p->out_c;
        l->in_h = p->out_h;
        l->in_w = p->out_w;
    }
    return l;
}

static int copy_params(xb_layer *l, const float *weight, const float *bias, xb_error *err)
{
    size_t nw = l->n_out * l->n_in;
    l->weight = malloc(nw * sizeof(float));
    l->bias = bias ? malloc(l->n_out * sizeof(float)) : NULL;
    if (!l->weight || (bias && !l->bias)) {
        free(l->weight);
        free(l->bias);
        l->weight = l->bias = NULL;
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    memcpy(l->weight, weight, nw * sizeof(float));
    if (bias) memcpy(l->bias, bias, l->n_out * sizeof(float));
    return XB_OK;
}

int xb_network_add_dense(xb_network *net, size_t n_out, size_t n_in, const float *weight,
                         const float *bias, xb_error *err)
{
    size_t idx = net->n_layers;
    xb_layer *l = push_layer(net, XB_LAYER_DENSE, err);
    if (!l) return XB_ERUNTIME;
    if (l->in_h != 1 || l->in_w != 1)
        return xb_errorf(err, XB_EINPUT,
                         "layer %zu (dense): input has shape %zux%zux%zu, expected a vector (add a flatten layer)",
                         idx, l->in_c, l->in_h, l->in_w);
    if (n_in != l->in_c)
        return xb_errorf(err, XB_EINPUT, "layer %zu (dense): weight is %zux%zu but the input has %zu values",
                         idx, n_out, n_in, l->in_c);
    if (n_out == 0) return xb_errorf(err, XB_EINPUT, "layer %zu (dense): weight has 0 outputs", idx);
    l->n_out = n_out;
    l->n_in = n_in;
    l->out_c = n_out;
    l->out_h = l->out_w = 1;
    if (copy_params(l, weight, bias, err)) return XB_ERUNTIME;
    net->n_layers++;
    return XB_OK;
}

int xb_network_add_conv2d(xb_network *net, size_t out_c, size_t in_c, size_t kh, size_t kw,
                          size_t stride, size_t padding, const float *weight, const float *bias,
                          xb_error *err)
{
    size_t idx = net->n_layers;
    xb_layer *l = push_layer(net, XB_LAYER_CONV2D, err);
    if (!l) return XB_ERUNTIME;
    if (in_c != l->in_c)
        return xb_errorf(err, XB_EINPUT, "layer %zu (conv2d): weight has %zu input channels but the input has %zu",
                         idx, in_c, l->in_c);
    if (out_c == 0 || kh == 0 || kw == 0)
        return xb_errorf(err, XB_EINPUT, "layer %zu (conv2d): empty weight %zux%zux%zux%zu", idx, out_c, in_c, kh, kw);
    if (stride == 0) return xb_errorf(err, XB_EINPUT, "layer %zu (conv2d): stride must be >= 1", idx);
    if (l->in_h + 2 * padding < kh || l->in_w + 2 * padding < kw)
        return xb_errorf(err, XB_EINPUT, "layer %zu (conv2d): kernel %zux%zu larger than the padded input %zux%zu",
                         idx, kh, kw, l->in_h + 2 * padding, l->in_w + 2 * padding);
    l->kh = kh;
    l->kw = kw;
    l->stride = stride;
    l->padding = padding;
    l->n_out = out_c;
    l->n_in = in_c * kh * kw;
    l->out_c = out_c;
    l->out_h = (l->in_h + 2 * padding - kh) / stride + 1;
    l->out_w = (l->in_w + 2 * padding - kw) / stride + 1;
    if (copy_params(l, weight, bias, err)) return XB_ERUNTIME;
    net->n_layers++;
    return XB_OK;
}

int xb_network_add_pool(xb_network *net, xb_layer_kind kind, size_t kernel, size_t stride,
                        xb_error *err)
{
    size_t idx = net->n_layers;
    if (!kind_class(kind) || kind_class(kind)->params != PARAMS_POOL)
        return xb_errorf(err, XB_EINPUT, "layer %zu: %s is not a pool", idx, xb_layer_kind_name(kind));
    xb_layer *l = push_layer(net, kind, err);
    if (!l) return XB_ERUNTIME;
    if (kernel == 0 || stride == 0)
        return xb_errorf(err, XB_EINPUT, "layer %zu (%s): kernel and stride must be >= 1", idx, xb_layer_kind_name(kind));
    if (kernel > l->in_h || kernel > l->in_w)
        return xb_errorf(err, XB_EINPUT, "layer %zu (%s): kernel %zu larger than the input %zux%zu", idx,
                         xb_layer_kind_name(kind), kernel, l->in_h, l->in_w);
    l->kh = l->kw = kernel;
    l->stride = stride;
    kind_class(kind)->shape(l);
    net->n_layers++;
    return XB_OK;
}

int xb_network_add(xb_network *net, xb_layer_kind kind, xb_error *err)
{
    size_t idx = net->n_layers;
    if (!kind_class(kind) || kind_class(kind)->params != PARAMS_NONE)
        return xb_errorf(err, XB_EINPUT, "layer %zu: %s needs parameters", idx, xb_layer_kind_name(kind));
    xb_layer *l = push_layer(net, kind, err);
    if (!l) return XB_ERUNTIME;
    kind_class(kind)->shape(l);
    net->n_layers++;
    return XB_OK;
}

int xb_network_add_affine(xb_network *net, const float *scale, const float *shift, xb_error *err)
{
    if (!net || !scale) return xb_errorf(err, XB_EINPUT, "xb_network_add_affine: no network or scale");
    size_t idx = net->n_layers;
    xb_layer *l = push_layer(net, XB_LAYER_AFFINE, err);
    if (!l) return XB_ERUNTIME;
    same_shape(l);
    l->n_out = l->n_in = l->in_c;
    l->weight = malloc(l->in_c * sizeof(float));
    l->bias = malloc(l->in_c * sizeof(float));
    if (!l->weight || !l->bias) {
        free(l->weight);
        free(l->bias);
        l->weight = l->bias = NULL;
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    for (size_t c = 0; c < l->in_c; c++) {
        l->weight[c] = scale[c];
        l->bias[c] = shift ? shift[c] : 0.0f;
        if (!isfinite(l->weight[c]) || !isfinite(l->bias[c])) {
            free(l->weight);
            free(l->bias);
            l->weight = l->bias = NULL;
            return xb_errorf(err, XB_EINPUT, "layer %zu (affine): channel %zu: scale or shift is not finite", idx, c);
        }
    }
    net->n_layers++;
    return XB_OK;
}

int xb_network_add_residual(xb_network *net, long source, xb_error *err)
{
    if (!net) return xb_errorf(err, XB_EINPUT, "xb_network_add_residual: no network");
    size_t idx = net->n_layers;
    if (source < -1 || source >= (long)idx)
        return xb_errorf(err, XB_EINPUT, "layer %zu (add): source %ld is not an earlier layer (-1: the input, 0..%zu)",
                         idx, source, idx ? idx - 1 : 0);
    size_t c, h, w;
    if (source < 0) {
        c = net->in_c;
        h = net->in_h;
        w = net->in_w;
    } else {
        const xb_layer *s = &net->layers[source];
        c = s->out_c;
        h = s->out_h;
        w = s->out_w;
    }
    xb_layer *l = push_layer(net, XB_LAYER_ADD, err);
    if (!l) return XB_ERUNTIME;
    if (c != l->in_c || h != l->in_h || w != l->in_w)
        return xb_errorf(err, XB_EINPUT, "layer %zu (add): source %ld gives %zux%zux%zu, the input is %zux%zux%zu", idx,
                         source, c, h, w, l->in_c, l->in_h, l->in_w);
    same_shape(l);
    l->source = source;
    net->n_layers++;
    return XB_OK;
}

size_t xb_network_n_layers(const xb_network *net) { return net->n_layers; }
const xb_layer *xb_network_layer(const xb_network *net, size_t k)
{
    return k < net->n_layers ? &net->layers[k] : NULL;
}
size_t xb_network_input_ndim(const xb_network *net) { return net->input_ndim; }
const size_t *xb_network_input_shape(const xb_network *net) { return net->input_shape; }
size_t xb_network_input_size(const xb_network *net) { return net->in_c * net->in_h * net->in_w; }
size_t xb_layer_out_size(const xb_layer *l) { return l->out_c * l->out_h * l->out_w; }
size_t xb_layer_in_size(const xb_layer *l) { return l->in_c * l->in_h * l->in_w; }
size_t xb_network_output_size(const xb_network *net)
{
    return net->n_layers ? xb_layer_out_size(&net->layers[net->n_layers - 1]) : xb_network_input_size(net);
}

double xb_network_macs(const xb_network *net)
{
    double m = 0;
    for (size_t k = 0; k < net->n_layers; k++) {
        const xb_layer *l = &net->layers[k];
        if (xb_layer_kind_has_weights(l->kind))
            m += (double)l->n_out * (double)l->n_in * (double)(l->out_h * l->out_w);
    }
    return m;
}

/* ------------------------------------------------------------------ layer kernels */
void xb_exec_im2col(const xb_layer *l, const float *img, float *cols)
{
    const size_t kk = l->kh * l->kw, n_in = l->n_in;
    for (size_t oy = 0; oy < l->out_h; oy++)
        for (size_t ox = 0; ox < l->out_w; ox++) {
            float *row = cols + (oy * l->out_w + ox) * n_in;
            for (size_t c = 0; c < l->in_c; c++)
                for (size_t ky = 0; ky < l->kh; ky++) {
                    long y = (long)(oy * l->stride + ky) - (long)l->padding;
                    for (size_t kx = 0; kx < l->kw; kx++) {
                        long x = (long)(ox * l->stride + kx) - (long)l->padding;
                        float v = 0.0f;
                        if (y >= 0 && x >= 0 && (size_t)y < l->in_h && (size_t)x < l->in_w)
                            v = img[(c * l->in_h + (size_t)y) * l->in_w + (size_t)x];
                        row[c * kk + ky * l->kw + kx] = v;
                    }
                }
        }
}

/* ------------------------------------------------------------------ the layers without weights */
static void relu_forward(const xb_layer *l, const float *in, const float *skip, size_t n, float *out)
{
    (void)skip;
    const size_t in_sz = xb_layer_in_size(l);
    for (size_t i = 0; i < n * in_sz; i++) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

static void flatten_forward(const xb_layer *l, const float *in, const float *skip, size_t n, float *out)
{
    (void)skip;
    memcpy(out, in, n * xb_layer_in_size(l) * sizeof(float));
}

/* over the channel axis at every position (a vector for dense outputs) */
static void softmax_forward(const xb_layer *l, const float *in, const float *skip, size_t n, float *out)
{
    (void)skip;
    const size_t in_sz = xb_layer_in_size(l), out_sz = xb_layer_out_size(l), hw = l->in_h * l->in_w;
    for (size_t s = 0; s < n; s++)
        for (size_t p = 0; p < hw; p++) {
            const float *x = in + s * in_sz + p;
            float *y = out + s * out_sz + p;
            float mx = x[0];
            for (size_t c = 1; c < l->in_c; c++) mx = x[c * hw] > mx ? x[c * hw] : mx;
            double sum = 0;
            for (size_t c = 0; c < l->in_c; c++) sum += exp((double)x[c * hw] - mx);
            for (size_t c = 0; c < l->in_c; c++) y[c * hw] = (float)(exp((double)x[c * hw] - mx) / sum);
        }
}

static void pool_forward(const xb_layer *l, const float *in, size_t n, float *out, int is_max)
{
    const size_t in_sz = xb_layer_in_size(l), out_sz = xb_layer_out_size(l);
    const float inv = 1.0f / (float)(l->kh * l->kw);
    for (size_t s = 0; s < n; s++)
        for (size_t c = 0; c < l->in_c; c++) {
            const float *x = in + s * in_sz + c * l->in_h * l->in_w;
            float *y = out + s * out_sz + c * l->out_h * l->out_w;
            for (size_t oy = 0; oy < l->out_h; oy++)
                for (size_t ox = 0; ox < l->out_w; ox++) {
                    float acc = is_max ? -INFINITY : 0.0f;
                    for (size_t ky = 0; ky < l->kh; ky++)
                        for (size_t kx = 0; kx < l->kw; kx++) {
                            float v = x[(oy * l->stride + ky) * l->in_w + ox * l->stride + kx];
                            if (is_max) acc = v > acc ? v : acc;
                            else acc += v;
                        }
                    y[oy * l->out_w + ox] = is_max ? acc : acc * inv;
                }
        }
}

static void maxpool_forward(const xb_layer *l, const float *in, const float *skip, size_t n, float *out)
{
    (void)skip;
    pool_forward(l, in, n, out, 1);
}
static void avgpool_forward(const xb_layer *l, const float *in, const float *skip, size_t n, float *out)
{
    (void)skip;
    pool_forward(l, in, n, out, 0);
}

/* per channel over its positions (a vector: per element) */
static void affine_forward(const xb_layer *l, const float *in, const float *skip, size_t n, float *out)
{
    (void)skip;
    const size_t hw = l->in_h * l->in_w, sz = xb_layer_in_size(l);
    for (size_t s = 0; s < n; s++)
        for (size_t c = 0; c < l->in_c; c++) {
            const float a = l->weight[c], b = l->bias[c];
            const float *x = in + s * sz + c * hw;
            float *y = out + s * sz + c * hw;
            for (size_t p = 0; p < hw; p++) y[p] = a * x[p] + b;
        }
}

static void add_forward(const xb_layer *l, const float *in, const float *skip, size_t n, float *out)
{
    const size_t m = n * xb_layer_in_size(l);
    for (size_t i = 0; i < m; i++) out[i] = in[i] + skip[i];
}

/* Digital work per sample: adds (or compares) and multiplies. */
static void relu_ops(const xb_layer *l, double *adds, double *muls)
{
    *adds = (double)xb_layer_out_size(l); /* one compare each */
}
static void maxpool_ops(const xb_layer *l, double *adds, double *muls)
{
    *adds = (double)xb_layer_out_size(l) * ((double)(l->kh * l->kw) - 1); /* compares */
}
static void avgpool_ops(const xb_layer *l, double *adds, double *muls)
{
    const double out = (double)xb_layer_out_size(l);
    *adds = out * ((double)(l->kh * l->kw) - 1);
    *muls = out;
}
static void affine_ops(const xb_layer *l, double *adds, double *muls)
{
    *adds = *muls = (double)xb_layer_out_size(l);
}
static void add_ops(const xb_layer *l, double *adds, double *muls)
{
    *adds = (double)xb_layer_out_size(l);
}
static void softmax_ops(const xb_layer *l, double *adds, double *muls)
{
    const double out = (double)xb_layer_out_size(l); /* max, exp (~1 mul), sum, divide */
    *adds = 3 * out;
    *muls = 2 * out;
}

/* Output shapes. */
static void same_shape(xb_layer *l)
{
    l->out_c = l->in_c;
    l->out_h = l->in_h;
    l->out_w = l->in_w;
}
static void flatten_shape(xb_layer *l)
{
    l->out_c = l->in_c * l->in_h * l->in_w;
    l->out_h = l->out_w = 1;
}
static void pool_shape(xb_layer *l)
{
    l->out_c = l->in_c;
    l->out_h = (l->in_h - l->kh) / l->stride + 1;
    l->out_w = (l->in_w - l->kw) / l->stride + 1;
}

void xb_exec_apply_digital(const xb_layer *l, const float *in, const float *skip, size_t n, float *out)
{
    const layer_class *c = kind_class(l->kind);
    if (c && c->forward) c->forward(l, in, skip, n, out);
}

void xb_exec_digital_ops(const xb_layer *l, double *adds, double *muls)
{
    const layer_class *c = kind_class(l->kind);
    *adds = *muls = 0;
    if (c && c->ops) c->ops(l, adds, muls);
}

/* Dense or conv layer, float: y = W x + b for n samples. */
static int ideal_weighted(const xb_layer *l, const float *in, size_t n, float *out, xb_error *err)
{
    const size_t in_sz = xb_layer_in_size(l), out_sz = xb_layer_out_size(l);
    if (l->kind == XB_LAYER_DENSE) {
        /* out (n x n_out) = in (n x n_in) * W^T */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)l->n_out, (int)l->n_in, 1.0f, in,
                    (int)l->n_in, l->weight, (int)l->n_in, 0.0f, out, (int)l->n_out);
        if (l->bias)
            for (size_t s = 0; s < n; s++)
                for (size_t j = 0; j < l->n_out; j++) out[s * l->n_out + j] += l->bias[j];
        return XB_OK;
    }
    const size_t hw = l->out_h * l->out_w;
    float *cols = malloc(hw * l->n_in * sizeof(float));
    if (!cols) return xb_errorf(err, XB_ERUNTIME, "out of memory (im2col)");
    for (size_t s = 0; s < n; s++) {
        xb_exec_im2col(l, in + s * in_sz, cols);
        float *y = out + s * out_sz;
        /* y (out_c x hw) = W (out_c x n_in) * cols^T */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)l->n_out, (int)hw, (int)l->n_in, 1.0f, l->weight,
                    (int)l->n_in, cols, (int)l->n_in, 0.0f, y, (int)hw);
        if (l->bias)
            for (size_t c = 0; c < l->n_out; c++)
                for (size_t p = 0; p < hw; p++) y[c * hw + p] += l->bias[c];
    }
    free(cols);
    return XB_OK;
}

float **xb_network_acts_new(const xb_network *net, size_t n)
{
    if (!net) return NULL;
    const size_t nl = xb_network_n_layers(net);
    float **a = calloc(nl ? nl : 1, sizeof *a);
    for (size_t k = 0; a && k < nl; k++)
        if (!(a[k] = calloc(n * xb_layer_out_size(xb_network_layer(net, k)), sizeof(float)))) {
            xb_network_acts_free(a, k);
            a = NULL;
        }
    return a;
}

void xb_network_acts_free(float **acts, size_t n_layers)
{
    if (!acts) return;
    for (size_t k = 0; k < n_layers; k++) free(acts[k]);
    free(acts);
}

int xb_network_forward(const xb_network *net, const float *x, size_t n, float *const *acts,
                       xb_error *err)
{
    const float *in = x;
    for (size_t k = 0; k < net->n_layers; k++) {
        const xb_layer *l = &net->layers[k];
        if (xb_layer_kind_has_weights(l->kind)) {
            int rc = ideal_weighted(l, in, n, acts[k], err);
            if (rc) return rc;
        } else {
            xb_exec_apply_digital(l, in, l->kind == XB_LAYER_ADD ? (l->source < 0 ? x : acts[l->source]) : NULL, n,
                                  acts[k]);
        }
        in = acts[k];
    }
    return XB_OK;
}

double xb_exec_top1(const float *out, size_t n, size_t n_classes, const unsigned char *labels)
{
    if (n == 0) return 0.0;
    size_t ok = 0;
    for (size_t s = 0; s < n; s++) {
        const float *y = out + s * n_classes;
        size_t best = 0;
        for (size_t c = 1; c < n_classes; c++)
            if (y[c] > y[best]) best = c;
        ok += best == labels[s];
    }
    return (double)ok / (double)n;
}

/* ------------------------------------------------------------------ the table of layer kinds */
static const layer_class k_layers[] = {
    [XB_LAYER_DENSE] = {"dense", PARAMS_WEIGHTS, NULL, NULL, NULL},
    [XB_LAYER_CONV2D] = {"conv2d", PARAMS_WEIGHTS, NULL, NULL, NULL},
    [XB_LAYER_MAXPOOL2D] = {"maxpool2d", PARAMS_POOL, pool_shape, maxpool_forward, maxpool_ops},
    [XB_LAYER_AVGPOOL2D] = {"avgpool2d", PARAMS_POOL, pool_shape, avgpool_forward, avgpool_ops},
    [XB_LAYER_RELU] = {"relu", PARAMS_NONE, same_shape, relu_forward, relu_ops},
    [XB_LAYER_FLATTEN] = {"flatten", PARAMS_NONE, flatten_shape, flatten_forward, NULL},
    [XB_LAYER_SOFTMAX] = {"softmax", PARAMS_NONE, same_shape, softmax_forward, softmax_ops},
    [XB_LAYER_AFFINE] = {"affine", PARAMS_AFFINE, same_shape, affine_forward, affine_ops},
    [XB_LAYER_ADD] = {"add", PARAMS_ADD, same_shape, add_forward, add_ops},
};

static const layer_class *kind_class(xb_layer_kind k)
{
    return (unsigned)k < sizeof k_layers / sizeof k_layers[0] && k_layers[k].name ? &k_layers[k] : NULL;
}
