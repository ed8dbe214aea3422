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

static const char *const k_kind_names[] = {
    [XB_LAYER_DENSE] = "dense",         [XB_LAYER_CONV2D] = "conv2d",
    [XB_LAYER_MAXPOOL2D] = "maxpool2d", [XB_LAYER_AVGPOOL2D] = "avgpool2d",
    [XB_LAYER_RELU] = "relu",           [XB_LAYER_FLATTEN] = "flatten",
    [XB_LAYER_SOFTMAX] = "softmax",
};
#define N_KINDS (sizeof k_kind_names / sizeof k_kind_names[0])

const char *xb_layer_kind_name(xb_layer_kind k)
{
    return (unsigned)k < N_KINDS ? k_kind_names[k] : "?";
}

int xb_layer_kind_from_name(const char *s, xb_layer_kind *out)
{
    for (size_t k = 0; k < N_KINDS; k++)
        if (s && strcmp(s, k_kind_names[k]) == 0) {
            *out = (xb_layer_kind)k;
            return XB_OK;
        }
    return XB_EINPUT;
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
    if (kind != XB_LAYER_MAXPOOL2D && kind != XB_LAYER_AVGPOOL2D)
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
    l->out_c = l->in_c;
    l->out_h = (l->in_h - kernel) / stride + 1;
    l->out_w = (l->in_w - kernel) / stride + 1;
    net->n_layers++;
    return XB_OK;
}

int xb_network_add(xb_network *net, xb_layer_kind kind, xb_error *err)
{
    size_t idx = net->n_layers;
    if (kind != XB_LAYER_RELU && kind != XB_LAYER_FLATTEN && kind != XB_LAYER_SOFTMAX)
        return xb_errorf(err, XB_EINPUT, "layer %zu: %s needs parameters", idx, xb_layer_kind_name(kind));
    xb_layer *l = push_layer(net, kind, err);
    if (!l) return XB_ERUNTIME;
    if (kind == XB_LAYER_FLATTEN) {
        l->out_c = l->in_c * l->in_h * l->in_w;
        l->out_h = l->out_w = 1;
    } else {
        l->out_c = l->in_c;
        l->out_h = l->in_h;
        l->out_w = l->in_w;
    }
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
        if (l->kind == XB_LAYER_DENSE || l->kind == XB_LAYER_CONV2D)
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

void xb_exec_apply_digital(const xb_layer *l, const float *in, size_t n, float *out)
{
    const size_t in_sz = xb_layer_in_size(l), out_sz = xb_layer_out_size(l);
    switch (l->kind) {
    case XB_LAYER_RELU:
        for (size_t i = 0; i < n * in_sz; i++) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
        break;
    case XB_LAYER_FLATTEN:
        memcpy(out, in, n * in_sz * sizeof(float));
        break;
    case XB_LAYER_SOFTMAX:
        /* over the channel axis at every position (a vector for dense outputs) */
        for (size_t s = 0; s < n; s++) {
            const size_t hw = l->in_h * l->in_w;
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
        break;
    case XB_LAYER_MAXPOOL2D:
    case XB_LAYER_AVGPOOL2D: {
        const int is_max = l->kind == XB_LAYER_MAXPOOL2D;
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
        break;
    }
    default:
        break;
    }
}

void xb_exec_digital_ops(const xb_layer *l, double *adds, double *muls)
{
    const double out = (double)xb_layer_out_size(l), k = (double)(l->kh * l->kw);
    *adds = *muls = 0;
    switch (l->kind) {
    case XB_LAYER_RELU: *adds = out; break;                      /* one compare each */
    case XB_LAYER_MAXPOOL2D: *adds = out * (k - 1); break;       /* compares */
    case XB_LAYER_AVGPOOL2D: *adds = out * (k - 1); *muls = out; break;
    case XB_LAYER_SOFTMAX: *adds = 3 * out; *muls = 2 * out; break; /* max, exp (~1 mul), sum, divide */
    default: break;
    }
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

int xb_network_forward(const xb_network *net, const float *x, size_t n, float *const *acts,
                       xb_error *err)
{
    const float *in = x;
    for (size_t k = 0; k < net->n_layers; k++) {
        const xb_layer *l = &net->layers[k];
        if (l->kind == XB_LAYER_DENSE || l->kind == XB_LAYER_CONV2D) {
            int rc = ideal_weighted(l, in, n, acts[k], err);
            if (rc) return rc;
        } else {
            xb_exec_apply_digital(l, in, n, acts[k]);
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
