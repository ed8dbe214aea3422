/* Helpers shared inside src/exec (not part of the public API). */
#ifndef XBAR_EXEC_INTERNAL_H
#define XBAR_EXEC_INTERNAL_H

#include "xbar/exec.h"

/* im2col of one C x H x W image for layer l (conv2d): cols is (out_h*out_w) x n_in,
 * column index ci*kh*kw + ky*kw + kx (the PyTorch weight layout); zero padding. */
void xb_exec_im2col(const xb_layer *l, const float *img, float *cols);

/* The layers without weights (pools, relu, flatten, softmax) on n samples. */
void xb_exec_apply_digital(const xb_layer *l, const float *in, size_t n, float *out);

/* Digital work of a weightless layer per sample: adds/compares and multiplies. */
void xb_exec_digital_ops(const xb_layer *l, double *adds, double *muls);

#endif
