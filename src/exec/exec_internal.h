/* Helpers shared inside src/exec (not part of the public API). */
#ifndef XBAR_EXEC_INTERNAL_H
#define XBAR_EXEC_INTERNAL_H

#include "xbar/exec.h"

/* The executor's differential mapping (docs/executor.md, Mapping): weight w of a layer whose
 * largest |w| is w_max to the pair G+ = g_min + dg max(w, 0)/w_max, G- = g_min + dg max(-w, 0)/w_max;
 * the tiles and the hardware-aware training sampler both use it. */
static inline void xb_exec_weight_pair(double w, double w_max, double g_min, double dg, double *g_plus,
                                       double *g_minus)
{
    const double x = w / w_max;
    *g_plus = g_min + dg * (x > 0 ? x : 0.0);
    *g_minus = g_min + dg * (x < 0 ? -x : 0.0);
}

/* im2col of one C x H x W image for layer l (conv2d): cols is (out_h*out_w) x n_in,
 * column index ci*kh*kw + ky*kw + kx (the PyTorch weight layout); zero padding. */
void xb_exec_im2col(const xb_layer *l, const float *img, float *cols);

/* The layers without weights (pools, relu, flatten, softmax, affine, add) on n samples;
 * skip: for add, the n outputs of its source layer (or the inputs), else unused. */
void xb_exec_apply_digital(const xb_layer *l, const float *in, const float *skip, size_t n, float *out);

/* Digital work of a weightless layer per sample: adds/compares and multiplies. */
void xb_exec_digital_ops(const xb_layer *l, double *adds, double *muls);

#endif
