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

/* A sequential network being trained: dense, conv2d, maxpool2d, relu, flatten layers
 * ending in softmax (trained with cross-entropy). */
typedef struct xb_tnet xb_tnet;

/* Copy the architecture and weights of net (which must end in softmax; pools: maxpool
 * only) for minibatches of up to max_batch inputs. */
int xb_tnet_new(const xb_network *net, size_t max_batch, xb_tnet **out, xb_error *err);
void xb_tnet_free(xb_tnet *t);
/* Use the noise settings in the following training passes (NULL or all zero: none);
 * nz must outlive its use. */
void xb_tnet_set_noise(xb_tnet *t, const xb_train_noise *nz);
/* Forward pass with the clean weights and no noise: probabilities (n x n_classes). */
int xb_tnet_predict(xb_tnet *t, const float *x, size_t n, float *probs, xb_error *err);
/* One training pass on n <= max_batch inputs: samples noisy weights (when noise is set,
 * advancing *rng), forward, backward.  Fills every layer's gradients of the mean
 * cross-entropy; returns the summed cross-entropy (natural log). */
double xb_tnet_loss_grad(xb_tnet *t, const float *x, const unsigned char *labels, size_t n, uint64_t *rng);
/* Parameters and gradients of layer k (NULL / 0 for layers without). */
void xb_tnet_params(xb_tnet *t, size_t k, float **w, float **gw, size_t *nw, float **b, float **gb, size_t *nb);
size_t xb_tnet_n_layers(const xb_tnet *t);
/* Adam step (bias-corrected, step count kept inside) with step size lr on all parameters. */
void xb_tnet_adam(xb_tnet *t, double lr);
/* The trained network (clean weights). */
int xb_tnet_export(const xb_tnet *t, xb_network **out, xb_error *err);

#endif
