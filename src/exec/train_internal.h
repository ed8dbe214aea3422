/* Internals of the trainers (src/exec/train*.c), visible to tests. */
#ifndef XB_TRAIN_INTERNAL_H
#define XB_TRAIN_INTERNAL_H

#include <math.h>
#include <stdint.h>

#include "xbar/exec.h"

/* Deterministic RNG: splitmix64 (common.h: xb_splitmix64_uniform); Gaussians by Box-Muller. */
/* Fisher-Yates shuffle of perm[0..n) (the epoch order of both trainers). */
static inline void xb_train_shuffle(size_t *perm, size_t n, uint64_t *s)
{
    for (size_t k = n - 1; n > 1 && k > 0; k--) {
        size_t j = (size_t)(xb_splitmix64_uniform(s) * (double)(k + 1)) % (k + 1), t = perm[k];
        perm[k] = perm[j];
        perm[j] = t;
    }
}
static inline double xb_train_rng_gauss(uint64_t *s, double sd)
{
    double u1 = xb_splitmix64_uniform(s), u2 = xb_splitmix64_uniform(s);
    if (u1 < 1e-300) u1 = 1e-300;
    return sd * sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* Hardware-aware noise settings shared by the trainers: weight noise (relative to max|w|)
 * or a fitted model (hwa != NULL). */
typedef struct xb_train_noise {
    double weight_noise;
    const xb_train_hwa *hwa;
} xb_train_noise;

/* Checks shared by the trainers (dataset, batch/epochs, step size, noise options, labels),
 * then the hardware-aware model (o->hw_model; *hwa filled, nz->hwa set) and the OpenBLAS
 * thread count (o->threads; the previous count in *blas_prev).  Errors name the flag or
 * sample.  After XB_OK, the trainer calls xb_train_end(*blas_prev) on every way out: the
 * thread count is process-wide, restored for the caller. */
int xb_train_begin(const xb_dataset *train, size_t n_classes, const xb_train_opts *o, xb_train_hwa *hwa,
                   xb_train_noise *nz, int *blas_prev, xb_error *err);
void xb_train_end(int blas_prev);

/* Noisy weights of one layer for a minibatch (w_out = w when no noise is set). */
void xb_train_noise_weights(const xb_train_noise *nz, const float *w, size_t n, uint64_t *rng, float *w_out);
/* The fitted output residual on nv analog output vectors of length len with stride `step`
 * between entries and `vstride` between vectors (dense: step 1, vstride len). */
void xb_train_noise_outputs(const xb_train_noise *nz, float *y, size_t nv, size_t len, size_t step, size_t vstride,
                            uint64_t *rng);

/* ------------------------------------------------------------------ the network trainer
 * A sequential network being trained (train_net.c): dense, conv2d, maxpool2d, relu, flatten
 * layers ending in softmax (trained with cross-entropy).  Forward and backward run over its
 * layer table, one row of kernels per layer kind; the weight update is the optimizer's
 * (below).  xb_train_mlp and xb_train_cnn are entry points that build a network and train it
 * with xb_train_network. */
typedef struct xb_tnet xb_tnet;

/* Copy the architecture and weights of net (which must end in softmax; pools: maxpool
 * only) for minibatches of up to max_batch inputs. */
int xb_tnet_new(const xb_network *net, size_t max_batch, xb_tnet **out, xb_error *err);
void xb_tnet_free(xb_tnet *t);
/* Use the noise settings in the following training passes (NULL or all zero: none);
 * nz must outlive its use. */
void xb_tnet_set_noise(xb_tnet *t, const xb_train_noise *nz);
/* Products of the weighted layers done elsewhere (in-memory training: reads of conductance
 * arrays on tiles): forward y = W x (n x n_out, bias excluded) and backward dn = W^T d of
 * dense layer k, in place of the float weights; NULL members: the float product. */
typedef struct xb_train_mvm {
    void *self;
    void (*forward)(void *self, size_t layer, const float *x, size_t n, float *y);
    void (*backward)(void *self, size_t layer, const float *d, size_t n, float *dn);
} xb_train_mvm;
/* Use mvm for dense layers (NULL: float products); keep_d: keep every weighted layer's output
 * gradients of the last backward pass for the optimizer (xb_train_params.x, .d). */
int xb_tnet_set_hooks(xb_tnet *t, const xb_train_mvm *mvm, int keep_d, xb_error *err);

/* Training forward pass of n <= max_batch inputs: samples the noisy weights (when noise is
 * set, advancing *rng) and runs every layer through them, with the output residual; returns
 * the probabilities (n x n_classes, valid until the next pass).  The activations are kept
 * for xb_tnet_backward. */
const float *xb_tnet_forward(xb_tnet *t, const float *x, size_t n, uint64_t *rng);
/* Backward pass after xb_tnet_forward(x, n): d_logits (n x n_classes) is the gradient of the
 * loss with respect to the softmax layer's input; fills every layer's gradients (through the
 * weights the forward pass used). */
void xb_tnet_backward(xb_tnet *t, const float *x, size_t n, const float *d_logits);
/* Forward, the mean cross-entropy's gradient, backward: fills every layer's gradients of the
 * mean cross-entropy; returns the summed cross-entropy (natural log). */
double xb_tnet_loss_grad(xb_tnet *t, const float *x, const unsigned char *labels, size_t n, uint64_t *rng);
/* Forward pass with the clean weights and no noise: probabilities (n x n_classes). */
int xb_tnet_predict(xb_tnet *t, const float *x, size_t n, float *probs, xb_error *err);
/* Parameters and gradients of layer k (NULL / 0 for layers without). */
void xb_tnet_params(xb_tnet *t, size_t k, float **w, float **gw, size_t *nw, float **b, float **gb, size_t *nb);
size_t xb_tnet_n_layers(const xb_tnet *t);
/* Outputs of the network (its softmax). */
size_t xb_tnet_n_classes(const xb_tnet *t);
/* The kind of layer k. */
xb_layer_kind xb_tnet_layer_kind(const xb_tnet *t, size_t k);
/* The trained network (clean weights). */
int xb_tnet_export(const xb_tnet *t, xb_network **out, xb_error *err);

/* ------------------------------------------------------------------ weight-update rules
 * After a minibatch's gradients, xb_tnet_update calls the optimizer's step once, then its
 * update once per layer with weights, with that layer's parameters and gradients.  Adam is
 * one implementation (train_opt.c); another rule fills the same table, e.g. updates applied
 * as programming pulses to the conductances the weights stand for (in-memory training). */
typedef struct xb_train_params {
    size_t layer;             /* index in the network */
    xb_layer_kind kind;       /* dense or conv2d */
    size_t n_out, n_in;       /* weights: n_out x n_in (conv: out_c x in_c*kh*kw) */
    float *w;                 /* the clean weights, updated in place */
    const float *gw;          /* their gradient (of the mean loss of the minibatch) */
    float *b;                 /* bias (n_out), updated in place */
    const float *gb;          /* its gradient */
    /* the minibatch behind the gradient (gw = d^T x): n_batch inputs x of the layer
     * (n_batch x n_in) and gradients d at its output (n_batch x n_out); NULL unless the
     * trainer keeps them (xb_tnet_set_hooks: per-sample rank-1 updates) */
    const float *x, *d;
    size_t n_batch;
} xb_train_params;

typedef struct xb_train_optimizer {
    const char *name;
    void *self;
    /* once per minibatch, before the layers: lr is the step size of this epoch */
    void (*step)(void *self, double lr);
    /* one layer */
    int (*update)(void *self, const xb_train_params *p, double lr, xb_error *err);
    void (*destroy)(void *self);
} xb_train_optimizer;

/* Adam (Kingma & Ba, ICLR 2015): bias-corrected moments per parameter, step
 * a_t = lr sqrt(1 - beta2^t) / (1 - beta1^t). */
typedef struct xb_train_adam_params {
    double beta1, beta2, eps;
} xb_train_adam_params;
/* beta1 0.9, beta2 0.999, eps 1e-8: the paper's defaults. */
void xb_train_adam_params_default(xb_train_adam_params *p);
/* An Adam optimizer for the layers of t (moments sized from its parameters); p NULL: defaults. */
int xb_train_adam_new(xb_tnet *t, const xb_train_adam_params *p, xb_train_optimizer *out, xb_error *err);
/* Plain SGD, w -= lr g (weights and biases); no state. */
int xb_train_sgd_new(xb_train_optimizer *out, xb_error *err);
void xb_train_optimizer_free(xb_train_optimizer *o);
/* One update of every layer with weights of t by o. */
int xb_tnet_update(xb_tnet *t, xb_train_optimizer *o, double lr, xb_error *err);

/* ------------------------------------------------------------------ the training loop */
/* Train t on train for o->epochs epochs of o->batch (per-epoch shuffle, o->lr decayed by
 * o->lr_decay after every epoch) with optimizer opt; after every epoch cb (when given) gets
 * the mean loss and the accuracy on test (-1 without).  rng: the splitmix64 stream
 * (shuffles, noise), advanced. */
int xb_train_network(xb_tnet *t, const xb_dataset *train, const xb_dataset *test, const xb_train_opts *o,
                     xb_train_optimizer *opt, uint64_t *rng, xb_train_progress cb, void *user, xb_error *err);

#endif
