/*
 * xbar exec stage: run small neural networks on crossbar tiles.
 *
 *  - networks: the HDF5 network file contract (docs/hdf5-network.md), a builder,
 *    and an ideal float forward pass (OpenBLAS sgemm, conv through im2col);
 *  - datasets: Fashion-MNIST IDX (gzip) files read with zlib; arrays from .npy and HDF5
 *    files as network inputs and labels, and .npy output files;
 *  - the executor: every dense/conv layer split into tiles of the array size,
 *    weights mapped to differential conductance pairs, inputs through a DAC,
 *    outputs through an ADC, partial sums added digitally; every tile is programmed
 *    and read through an engine of the engine interface (engine.h: ideal, native,
 *    spice; fit.h: the fitted model), so all share one executor; energy and latency
 *    accounting;
 *  - training: an MLP or a small CNN trained in C by one network trainer with Adam
 *    (deterministic).
 *
 * docs/executor.md describes the numerics (mapping, DAC/ADC, calibration, energy).
 */
#ifndef XBAR_EXEC_H
#define XBAR_EXEC_H

#include <stdint.h>

#include "xbar/common.h"
#include "xbar/engine.h"
#include "xbar/netlist.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ networks */
typedef enum {
    XB_LAYER_DENSE = 0,
    XB_LAYER_CONV2D,
    XB_LAYER_MAXPOOL2D,
    XB_LAYER_AVGPOOL2D,
    XB_LAYER_RELU,
    XB_LAYER_FLATTEN,
    XB_LAYER_SOFTMAX,
    XB_LAYER_AFFINE, /* per-channel y = scale x + shift (a batch norm kept as such), digital */
    XB_LAYER_ADD     /* y = x + the output of an earlier layer (a residual connection), digital */
} xb_layer_kind;

/* One layer, read-only for users of a network.  Shapes are C,H,W; a vector of
 * length n is (n,1,1). */
typedef struct xb_layer {
    xb_layer_kind kind;
    size_t in_c, in_h, in_w;
    size_t out_c, out_h, out_w;
    /* dense: weight is n_out x n_in (PyTorch Linear).  conv2d: weight is
     * out_c x in_c x kh x kw (PyTorch Conv2d), i.e. a row-major n_out x n_in matrix
     * with n_out = out_c, n_in = in_c*kh*kw.  affine: weight (scale) and bias (shift)
     * hold one value per channel, n_out = n_in = in_c.  NULL for the other kinds. */
    size_t n_out, n_in;
    float *weight;
    float *bias; /* n_out values, or NULL */
    size_t kh, kw;   /* conv kernel; pools: kernel in both */
    size_t stride;   /* conv, pools */
    size_t padding;  /* conv */
    long source;     /* add: the layer whose output is added (-1: the network's input) */
} xb_layer;

typedef struct xb_network xb_network; /* opaque */

const char *xb_layer_kind_name(xb_layer_kind k);
/* Parse "dense", "conv2d", ...; XB_EINPUT if unknown. */
int xb_layer_kind_from_name(const char *s, xb_layer_kind *out);
/* 1 for the kinds with a weight matrix (dense, conv2d: on tiles in the executor). */
int xb_layer_kind_has_weights(xb_layer_kind k);

/* A network with an input of ndim = 1 (length) or 3 (C,H,W) dimensions. */
int xb_network_new(const size_t *input_shape, size_t ndim, xb_network **out, xb_error *err);
void xb_network_free(xb_network *net);
/* Append layers.  Weights are copied; bias may be NULL.  Errors (shape mismatch
 * with the current output shape) name the layer index. */
int xb_network_add_dense(xb_network *net, size_t n_out, size_t n_in, const float *weight,
                         const float *bias, xb_error *err);
int xb_network_add_conv2d(xb_network *net, size_t out_c, size_t in_c, size_t kh, size_t kw,
                          size_t stride, size_t padding, const float *weight, const float *bias,
                          xb_error *err);
int xb_network_add_pool(xb_network *net, xb_layer_kind kind, size_t kernel, size_t stride,
                        xb_error *err);
int xb_network_add(xb_network *net, xb_layer_kind kind, xb_error *err); /* relu, flatten, softmax */
/* Per-channel affine y[c] = scale[c] x[c] + shift[c] over the current output's channels
 * (a vector's elements); shift may be NULL (0). */
int xb_network_add_affine(xb_network *net, const float *scale, const float *shift, xb_error *err);
/* Residual add: y = x + the output of layer `source` (-1: the network's input), which must
 * have the current output's shape. */
int xb_network_add_residual(xb_network *net, long source, xb_error *err);

size_t xb_network_n_layers(const xb_network *net);
const xb_layer *xb_network_layer(const xb_network *net, size_t k);
/* Input shape as given (ndim 1 or 3) and its total size. */
size_t xb_network_input_ndim(const xb_network *net);
const size_t *xb_network_input_shape(const xb_network *net);
size_t xb_network_input_size(const xb_network *net);
size_t xb_network_output_size(const xb_network *net);
size_t xb_layer_out_size(const xb_layer *l);
size_t xb_layer_in_size(const xb_layer *l);
/* Multiply-accumulates of one inference through dense/conv layers. */
double xb_network_macs(const xb_network *net);

/* The HDF5 network file (docs/hdf5-network.md), root attributes format and version.
 * Reader errors name the file and the layer ("net.h5: /layers/2 (dense): ..."). The
 * writer stores float32, deflated. */
#define XB_NETWORK_FORMAT "xbar-network"
#define XB_NETWORK_FORMAT_VERSION 1
int xb_network_read(const char *path, xb_network **out, xb_error *err);
int xb_network_write(const xb_network *net, const char *path, xb_error *err);

/* Activation buffers for n inputs: acts[k] holds n x xb_layer_out_size(layer k) floats
 * (zeroed), as xb_network_forward and xb_exec_forward take them.  NULL when out of memory
 * (nothing left allocated).  Free with xb_network_acts_free(acts, xb_network_n_layers(net)). */
float **xb_network_acts_new(const xb_network *net, size_t n);
void xb_network_acts_free(float **acts, size_t n_layers);

/* Ideal float forward pass of n inputs (n x input_size, row-major).  acts[k] must
 * hold n x xb_layer_out_size(layer k) floats: the output of every layer. */
int xb_network_forward(const xb_network *net, const float *x, size_t n, float *const *acts,
                       xb_error *err);

/* ------------------------------------------------------------------ datasets */
#define XB_FMNIST_DEFAULT_DIR "/usr/share/datasets/fashion-mnist"

typedef struct xb_dataset {
    size_t n;            /* samples */
    size_t rows, cols;   /* image size (28 x 28); arrays (xb_dataset_read_array): 1 x values */
    float *images;       /* n x rows*cols, pixel/255 in [0, 1] */
    unsigned char *labels; /* n; NULL for arrays read without labels */
} xb_dataset;

/* Read an IDX image file (magic 0x00000803) and label file (0x00000801), gzip or
 * plain (zlib gzread); at most `limit` samples (0 = all).  Errors name the file. */
int xb_dataset_read_idx(const char *images_path, const char *labels_path, size_t limit,
                        xb_dataset **out, xb_error *err);
/* Fashion-MNIST from dir (NULL: XB_FMNIST_DEFAULT_DIR): train-* (train != 0) or t10k-*. */
int xb_dataset_load_fmnist(const char *dir, int train, size_t limit, xb_dataset **out,
                           xb_error *err);
void xb_dataset_free(xb_dataset *d);

/* ------------------------------------------------------------------ arrays (.npy, HDF5) */
#define XB_ARRAY_MAX_DIMS 8

/* A numeric array read from a file, in C order and the host's byte order. */
typedef struct xb_array {
    char kind;        /* 'f' float, 'i' signed integer, 'u' unsigned integer, 'b' bool */
    size_t itemsize;  /* bytes per element: f 4 or 8; i, u 1, 2, 4 or 8; b 1 */
    size_t ndim;
    size_t shape[XB_ARRAY_MAX_DIMS];
    size_t n;         /* elements */
    void *data;
} xb_array;

/* Read a .npy file (numpy.lib.format 1.0-3.0), strictly: the magic, a header dict with
 * exactly 'descr', 'fortran_order' (False) and 'shape', a plain numeric dtype of either byte
 * order, and exactly the bytes the header declares.  Errors name the file and what is wrong
 * (bad magic, dtype, fortran_order, truncation). */
int xb_npy_read(const char *path, xb_array **out, xb_error *err);
/* Write rows x cols floats as a float32 .npy (version 1.0): to a temporary file in the same
 * directory, renamed over path when every write succeeded. */
int xb_npy_write_f32(const char *path, const float *data, size_t rows, size_t cols, xb_error *err);
/* Read an array from "FILE.npy" or "FILE.h5[:/dataset]" (an HDF5 numeric dataset; without
 * the name: the file's only dataset).  The format is that of the file's content (.npy magic
 * or HDF5 signature).  Errors name the file (and dataset). */
int xb_array_read(const char *spec, xb_array **out, xb_error *err);
void xb_array_free(xb_array *a);

/* Inputs (and labels) for a network from arrays (docs/executor.md, "Inputs"): x_spec as for
 * xb_array_read, shaped (N, input shape...) or (N, input size) (a network with a vector
 * input: any (N, ...) whose trailing dimensions hold input-size values, flattened in C
 * order); float32 and float64 are taken as they are, uint8 divided by 255 (pixels, as the IDX
 * reader does).  labels_spec (NULL: no labels, d->labels NULL): integers, shape (N,) or
 * (N, 1), each in [0, n_classes) and below 256.  At most limit samples (0: all).  The dataset
 * has rows = 1 and cols = the input size.  Errors name the file and what is wrong (dtype,
 * shape against the network's input, label values, sample counts). */
int xb_dataset_read_array(const char *x_spec, const char *labels_spec, const size_t *input_shape, size_t ndim,
                          size_t n_classes, size_t limit, xb_dataset **out, xb_error *err);

/* ------------------------------------------------------------------ executor */
/* Energy and timing parameters (defaults and their sources: xb_exec_config_default,
 * docs/executor.md). */
typedef struct xb_exec_energy {
    double adc_fom_joule_per_step; /* Walden FOM: E_conv = FOM * 2^bits */
    double dac_joule_per_bit;      /* E_conv = this * bits (per row drive) */
    double dig_add_joule;          /* one digital add (partial sums, bias, calibration) */
    double dig_mul_joule;          /* one digital multiply */
    double t_mvm_s;                /* one array MVM incl. conversion when the engine gives none */
    double base_mac_fp32_joule;    /* digital baselines: one fp32 MAC */
    double base_mac_int8_joule;    /* one int8 MAC */
} xb_exec_energy;

typedef struct xb_exec_config {
    size_t tile_rows, tile_cols; /* physical array; cols even: column pairs (G+, G-) */
    int dac_bits;                /* 0 = no input quantization */
    int adc_bits;                /* 0 = no output quantization */
    double dac_range;            /* input full scale (activation units); <= 0: per layer, calibrated */
    double adc_headroom;         /* calibrated ADC range x this (>= 1 leaves headroom) */
    int affine_calibration;      /* per-column y = a*y_analog + b fitted on the calibration batch */
    xb_array_params array;       /* device and circuit; rows/cols are set from the tile size */
    xb_exec_energy energy;
    /* drift (docs/drift.md): tests pin every PCM cell's drift exponent to drift_nu */
    int drift_fixed_nu;
    double drift_nu;
    /* after xb_exec_set_time: the device read noise (PCM 1/f, RRAM 1 %; xb_netlist_read_noise_sigma)
     * on every MVM, as the exact column-current noise of independent cell noise:
     * N(0, sqrt(sum_i V_i^2 sigma_ij^2)) per column and input vector */
    int drift_read_noise;
} xb_exec_config;

void xb_exec_config_default(xb_exec_config *c, xb_device_kind device);
int xb_exec_config_check(const xb_exec_config *c, xb_error *err);

typedef struct xb_exec xb_exec; /* opaque */

/* Map every dense/conv layer of net onto tiles and program them through the engine
 * (engine.h; net and eng must outlive ex).  The executor applies programming variability
 * (xb_netlist_program, a seed per tile) before it programs a tile, so every engine sees the
 * same programmed conductances, and uses the engine's optional operations when it has them:
 * several tiles at once, array energy, read time, fast form, energy law, residual noise
 * (docs/executor.md). */
int xb_exec_new(const xb_network *net, const xb_exec_config *cfg, xb_engine *eng, xb_exec **out,
                xb_error *err);
void xb_exec_free(xb_exec *ex);

/* Calibrate on n inputs, layer by layer on the analog activations: DAC range
 * (if cfg.dac_range <= 0), ADC range per tile, then (if enabled) the per-column
 * affine correction against the exact layer applied to the same analog inputs.
 * Must be called before xb_exec_forward.  Resets the statistics. */
int xb_exec_calibrate(xb_exec *ex, const float *x, size_t n, xb_error *err);

/* Calibration on x_cal and a forward pass of x fused: every tile solves both batches in
 * one engine call (half the ngspice runs of calibrate + forward with the spice engine).
 * Same results as xb_exec_calibrate(x_cal) then xb_exec_forward(x); the statistics are
 * reset, then count the n evaluated inputs. */
int xb_exec_calibrate_forward(xb_exec *ex, const float *x_cal, size_t n_cal, const float *x, size_t n,
                              float *const *acts, xb_error *err);

/* Analog forward pass of n inputs; acts[k] as for xb_network_forward.  Adds to the
 * statistics. */
int xb_exec_forward(xb_exec *ex, const float *x, size_t n, float *const *acts, xb_error *err);

/* Time after programming (docs/drift.md): every tile's programmed conductances drift to
 * t_s seconds (xb_netlist_drift; t_s = XB_DRIFT_T0_S restores the programmed state; drift
 * exponents are seeded per tile, so they are the same on every call: one programming) and
 * the tiles are programmed again through the engine; the calibration (DAC/ADC ranges,
 * affine) made before is kept, as on a chip calibrated right after programming.  With
 * compensate, the global drift compensation: per tile, alpha = (summed column currents of
 * an all-ones v_read input at t0) / (the same at t_s), measured through the engine, scales
 * that tile's digitized outputs (Joshi 2020; aihwkit). */
int xb_exec_set_time(xb_exec *ex, double t_s, int compensate, xb_error *err);
/* The compensation factor of tile t (row-major over row x column tiles) of layer k (1 when
 * off or for digital layers). */
double xb_exec_drift_alpha(const xb_exec *ex, size_t k, size_t t);
/* Parse a time after programming: a number with an optional suffix s, m, h, d, mo (30.44 d),
 * y (365.25 d); must be > 0.  Errors name `what` (the flag). */
int xb_exec_parse_time(const char *s, const char *what, double *t_s, xb_error *err);

/* Per-layer accounting, summed over the xb_exec_forward calls since the last reset. */
typedef struct xb_exec_layer_stats {
    size_t n_tiles;          /* physical arrays of this layer (0: digital layer) */
    double n_vectors;        /* input vectors (conv: one per output position) */
    double n_tile_reads;     /* tile MVMs x vectors, both input phases */
    double n_phases;         /* input phases over all vectors (1 or 2 each) */
    double dac_conversions, adc_conversions, dig_adds, dig_muls;
    double e_array_joule, e_dac_joule, e_adc_joule, e_digital_joule;
    double latency_s;        /* sequential array time, summed over vectors */
    double macs;             /* weight MACs done in the array */
} xb_exec_layer_stats;

int xb_exec_get_layer_stats(const xb_exec *ex, size_t k, xb_exec_layer_stats *st);
void xb_exec_stats_reset(xb_exec *ex);
/* Per-layer calibrated DAC full scale (activation units), 0 for digital layers. */
double xb_exec_dac_range(const xb_exec *ex, size_t k);

/* ------------------------------------------------------------------ training */
/* Digital weight-update rule of xb_train_mlp / xb_train_cnn. */
enum { XB_TRAIN_ADAM = 0, XB_TRAIN_SGD = 1 };

typedef struct xb_train_opts {
    size_t n_hidden;          /* hidden layers (0..4) */
    size_t hidden[4];         /* their widths */
    size_t epochs;
    size_t batch;
    double lr;                /* step size (Adam's, or SGD's) */
    double lr_decay;          /* lr multiplied by this after every epoch (lr_cosine 0) */
    int optimizer;            /* XB_TRAIN_ADAM (default) or XB_TRAIN_SGD (w -= lr g) */
    int lr_cosine;            /* 1: lr (1 + cos(pi t / T)) / 2 per minibatch t of the run's T
                                 (xb_train_lr_cosine; digital and in-memory training) */
    double weight_noise;      /* hardware-aware training: Gaussian weight noise, sigma relative
                                 to the layer's max |w|, resampled every minibatch (0 = off) */
    uint64_t seed;
    size_t threads;           /* OpenBLAS threads (0 = leave as is) */
    /* hardware-aware training with a fitted model (xb_train_hwa below; exclusive with
     * weight_noise): the model file written by `xbar fit`, NULL = off */
    const char *hw_model;
    xb_device_kind hw_device; /* device whose sigma_program/resid_sigma_rel are used [rram] */
    size_t cnn_channels[2];   /* xb_train_cnn: output channels of the two conv layers [8, 16] */
} xb_train_opts;
/* The cosine schedule's step at minibatch t of t_all (Loshchilov & Hutter, ICLR 2017):
 * lr0 (1 + cos(pi t / t_all)) / 2; lr0 when t_all is 0. */
double xb_train_lr_cosine(double lr0, size_t t, size_t t_all);

void xb_train_opts_default(xb_train_opts *o);

/* Hardware-aware training noise from a fitted model file (docs/executor.md, "Training").
 * Weights map as in the executor: with w_max = max|W| of the layer and dg = g_max - g_min
 * of the device (xb_array_params_default), G+ = g_min + dg max(w,0)/w_max, G- = g_min +
 * dg max(-w,0)/w_max; every minibatch G' = max(0, G + N(0, sigma_program(G))) and
 * w' = (G+' - G-') w_max / dg.  The output residual adds N(0, resid_sigma_rel x rms) to
 * every analog output vector (a dense layer's W'x of one sample, a conv layer's out_c
 * outputs at one position; bias excluded, it is digital), rms over that vector. */
typedef struct xb_train_hwa {
    xb_device_kind device;
    double g_min_siemens, g_max_siemens; /* the device's range (xb_array_params_default) */
    size_t n_coef;                       /* sigma(G) = sum_k coef[k] G^k, siemens */
    double coef[8];
    double valid_g_siemens[2];           /* sigma(G) is held constant outside */
    double resid_sigma_rel;              /* of the model for a 64x64 tile (or nearest size) */
    int resid_from_family;               /* 1: 64x64 parameters predicted from the size family */
    size_t resid_rows, resid_cols;       /* the tile size resid_sigma_rel belongs to */
} xb_train_hwa;

/* Read sigma_program/<device> and resid_sigma_rel of the executor's default tile
 * (xb_exec_config_default: 64x64, 1R) through xb_fit_file_model_for, else of the model of
 * that device nearest in size.  XB_EINPUT naming the file: missing/unreadable file, no
 * sigma_program for the device, no model of the device. */
int xb_train_hwa_load(const char *model_path, xb_device_kind device, xb_train_hwa *out, xb_error *err);
/* sigma_program(G) in siemens (G clamped to the fitted range, >= 0). */
double xb_train_hwa_sigma_siemens(const xb_train_hwa *h, double g_siemens);
/* One sample of the noisy weights of a layer: w_out[i] = w'(w[i]) (n weights, w_max = max|w|;
 * all zero weights are copied).  rng_state: a splitmix64 state, advanced. */
void xb_train_hwa_perturb(const xb_train_hwa *h, const float *w, size_t n, uint64_t *rng_state, float *w_out);

/* Progress callback per epoch (may be NULL): epoch, mean training loss, test accuracy
 * (or -1 when no test set). */
typedef void (*xb_train_progress)(void *user, size_t epoch, double loss, double test_acc);

/* Train an MLP input -> hidden... -> n_classes with ReLU, softmax cross-entropy,
 * Adam; He-uniform initialisation from the seed.  The network ends with a softmax
 * layer.  Deterministic for a given seed and thread count. */
int xb_train_mlp(const xb_dataset *train, const xb_dataset *test, size_t n_classes,
                 const xb_train_opts *o, xb_train_progress cb, void *user, xb_network **out,
                 xb_error *err);

/* Train a small CNN (Fashion-MNIST size inputs, 1 x rows x cols): conv2d 1->c1 3x3 pad 1,
 * ReLU, maxpool 2, conv2d c1->c2 3x3 pad 1, ReLU, maxpool 2, flatten, dense -> n_classes,
 * softmax (c1, c2 = o->cnn_channels).  Convolutions as im2col + sgemm over the whole
 * minibatch; softmax cross-entropy, Adam, He-uniform initialisation; the same noise
 * options as xb_train_mlp (conv weights map as n_out x n_in = out_c x in_c*3*3).  Image
 * sides must be divisible by 4.  Deterministic for a given seed and thread count. */
int xb_train_cnn(const xb_dataset *train, const xb_dataset *test, size_t n_classes,
                 const xb_train_opts *o, xb_train_progress cb, void *user, xb_network **out,
                 xb_error *err);

/* ------------------------------------------------------------------ in-memory training
 * (docs/training.md) Weights as differential conductance pairs inside the window of a fitted
 * pulse-update model (fit.h, /update/<device>), forward and transposed backward products on
 * tiles through the model engine (fast form, DAC/ADC), updates as programming pulses through
 * the update model (state-dependent steps, asymmetry, cycle-to-cycle and device-to-device
 * noise, bounds).  Biases are digital (plain SGD). */
typedef enum { XB_ANALOG_SGD = 0, XB_ANALOG_TIKI_TAKA, XB_ANALOG_MP } xb_analog_algorithm;
/* Non-idealities of the update model switched off (ablation; or-ed). */
enum {
    XB_ANALOG_ABLATE_ASYMMETRY = 1u << 0, /* up and down steps: the mean of their magnitudes */
    XB_ANALOG_ABLATE_STATE = 1u << 1,     /* steps and spreads held at their window-centre value */
    XB_ANALOG_ABLATE_C2C = 1u << 2,       /* no cycle-to-cycle noise */
    XB_ANALOG_ABLATE_D2D = 1u << 3        /* every device the mean device */
};

typedef struct xb_analog_opts {
    const struct xb_update_model *update; /* the device's fitted update model (borrowed; required) */
    xb_engine *engine;        /* the model engine for the reads (borrowed); NULL: exact float
                               * reads of the conductances (tests) */
    size_t tile_rows, tile_cols; /* tiles (cols even: pairs) [64, 64] */
    int dac_bits, adc_bits;   /* [8, 8]; 0: ideal */
    double v_read_volt;       /* read voltage (the tile configuration's) */
    double t_mvm_s, dac_joule_per_bit, adc_joule_per_step; /* energy (xb_exec_config_default) */
    xb_analog_algorithm algorithm;
    unsigned ablate;          /* XB_ANALOG_ABLATE_* */
    double w_fs;              /* weight at a full pair difference, x the He-uniform limit [2] */
    size_t bl_max;            /* longest stochastic pulse train [31] (aihwkit's desired_BL) */
    int one_sided;            /* pair pulses: 0 = G+ and G- stepped in opposite directions;
                               * 1 = up pulses only, on G+ to raise w, on G- to lower it [1] */
    int deterministic;        /* expected-count pulses (tests) */
    size_t refit_every;       /* minibatches between fast-form refits (0: once per epoch) */
    double refresh_margin;    /* refresh pairs with a device this close to a bound (x window) [0.05];
                               * 0: off */
    size_t refresh_every;     /* minibatches between refresh scans [1] */
    double tt_gamma;          /* Tiki-Taka: W = gamma A + C [0.1] */
    double tt_lr;             /* transfer rate [0.5] */
    size_t tt_every;          /* minibatches between transfers [1] */
    size_t tt_columns;        /* columns per transfer (0: n_in / 8 rounded up) */
    double bias_lr;           /* digital bias SGD step (0: the training lr) */
    int mp_state;             /* mp: threshold = the pair's expected step at its state (1) or
                               * the nominal step at the window centre (0) */
    int mp_round;             /* mp: XB_ANALOG_MP_TRUNC, _NEAREST, _STOCHASTIC */
    int tt_hidden;            /* Tiki-Taka: transfers accumulate in a digital H, C pulsed from it
                               * as mp does (TTv2) */
    int tt_reset;             /* Tiki-Taka: A's column programmed back to zero after its transfer */
} xb_analog_opts;

/* Mixed precision: when the accumulator fires (docs/training.md "Mixed precision"). */
enum { XB_ANALOG_MP_TRUNC = 0, XB_ANALOG_MP_NEAREST, XB_ANALOG_MP_STOCHASTIC };

void xb_analog_opts_default(xb_analog_opts *a);
/* Device-to-device spread of the update model's step as training draws it (docs/training.md
 * "Devices and pulses"): the sample standard deviation of the Monte Carlo devices' step
 * scales a_k / mean(a), a_k the least-squares projection of device k's law on the mean law
 * over the states it reached; 0 with fewer than two devices.  dir +1 up, -1 down.  `xbar
 * inspect` prints it. */
struct xb_update_model;
double xb_analog_d2d_step_spread(const struct xb_update_model *m, int dir);
const char *xb_analog_algorithm_name(xb_analog_algorithm a); /* "sgd", "tiki-taka", "mp" */
int xb_analog_algorithm_from_name(const char *s, xb_analog_algorithm *out);
/* "asymmetry", "state", "c2c", "d2d" -> the flag; XB_EINPUT otherwise. */
int xb_analog_ablate_from_name(const char *s, unsigned *flag);

/* One epoch of in-memory training. */
typedef struct xb_analog_epoch {
    size_t epoch;             /* 0-based */
    double loss;              /* mean training cross-entropy (analog forward) */
    double train_acc;         /* on the training minibatches as they were seen */
    double test_acc;          /* analog forward on the programmed conductances (-1: no test set) */
    double pulses_per_weight; /* device pulses of the epoch / weights (refresh included) */
    double e_update_joule, t_update_s; /* pulses: fitted energy per pulse, slots x pulse width */
    double e_fwd_joule, e_bwd_joule;   /* array reads + DAC + ADC of forward and backward passes */
    double refreshes;         /* pairs re-centred */
    double wall_s;            /* wall time of the epoch (training only) */
    double fast_error;        /* largest held-out error of the tiles' fast forms (0: float reads) */
    double gain_error_fast;   /* end of epoch, first tile of the first layer: the gain-scaled read
                               * (analog_mvm.c) vs a fresh fast form, relative L2 (-1: float reads) */
    double gain_error_exact;  /* the same vs the full model (-1: not available) */
} xb_analog_epoch;

typedef void (*xb_analog_progress)(void *user, const xb_analog_epoch *e);

/* Train the MLP of xb_train_mlp (same initial weights for a seed, o->lr the SGD step, decayed
 * by o->lr_decay every epoch) in memory with algorithm a.  *out: the network read back from
 * the conductances (digital biases).  Deterministic for a seed. */
int xb_train_analog_mlp(const xb_dataset *train, const xb_dataset *test, size_t n_classes, const xb_train_opts *o,
                        const xb_analog_opts *a, xb_analog_progress cb, void *user, xb_network **out,
                        xb_error *err);

/* Top-1 accuracy of the network outputs (n x n_classes) against labels. */
double xb_exec_top1(const float *out, size_t n, size_t n_classes, const unsigned char *labels);

#ifdef __cplusplus
}
#endif
#endif /* XBAR_EXEC_H */
