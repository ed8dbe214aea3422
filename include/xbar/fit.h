/*
 * xbar fit stage: fast behavioural MVM models fitted to circuit solutions, and the
 * model HDF5 file (schema: docs/hdf5-model.md; method: docs/fit.md).
 *
 * The model (one per array configuration) is physics-informed:
 *   - device read I-V  I = G * v * shc(v/V0) / shc(v_read/V0), shc(x) = sinh(x)/x, where
 *     V0 is interpolated piecewise-linearly over the normalised conductance
 *     x = (G - g_min)/(g_max - g_min) from fitted knots (no knots: ohmic device);
 *   - an effective series resistance per cell (access transistor / selector), applied as
 *     the chord divider v_dev = v / (1 + G * r_series);
 *   - a reduced-order IR-drop computation: cell currents give cumulative wire currents
 *     along every row (suffix sums, through r_driver and one r_row per segment) and
 *     every column (prefix sums, through one r_col per segment and r_sense); these give
 *     new cell voltages; n_sweeps damped fixed-point sweeps, damping from the G load;
 *   - a fitted output gain (residual bias) and the residual spread (noise statistics).
 * Effective resistances and V0 knots are fitted with GSL (gsl_multifit_nlinear) to
 * (G, V, I) samples; cost per input vector ~ (n_sweeps+1) * rows*cols cell evaluations.
 */
#ifndef XBAR_FIT_H
#define XBAR_FIT_H

#include "xbar/common.h"
#include "xbar/engine.h"
#include "xbar/h5.h"
#include "xbar/netlist.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XB_FIT_MAX_KNOTS 8
#define XB_FIT_V0_MIN_VOLT 1e-3 /* V0 is clamped below at this */
#define XB_FIT_FORMAT "xbar-model"
#define XB_FIT_FORMAT_VERSION 1

/* Parameters of one behavioural model (all public: the HDF5 file stores exactly these). */
typedef struct xb_fit_params {
    /* configuration the model was fitted for (array options) */
    xb_array_params config;
    /* effective circuit parameters (fitted) */
    double r_row_ohm;        /* per row segment */
    double r_col_ohm;        /* per column segment */
    double r_driver_ohm;
    double r_sense_ohm;
    double r_series_ohm;     /* per cell, in series with the device */
    size_t n_knots;          /* 0: ohmic device */
    double knot_x[XB_FIT_MAX_KNOTS];             /* normalised conductance, ascending, 0..1 */
    double knot_v0_volt[XB_FIT_MAX_KNOTS];        /* V0 at each knot (> 0) */
    double g_ref_min_siemens, g_ref_max_siemens; /* normalisation of x */
    double v_read_volt;      /* G is the chord conductance at this voltage */
    int n_sweeps;            /* fixed-point IR-drop sweeps */
    double gain;             /* fitted output gain (residual bias) */
    double resid_sigma_rel;  /* residual std / rms output (noise statistic) */
    /* validity: the physical envelope the model was fitted for (device window, 0..v_read or
     * -v_read..v_read when fitted on signed inputs), widened to the training samples */
    double valid_g_min_siemens, valid_g_max_siemens;
    double valid_v_min_volt, valid_v_max_volt;
} xb_fit_params;

/* Nominal (unfitted) parameters from an array description: effective resistances equal
 * to the circuit's, V0 from the device defaults (a start point for the fit). */
void xb_fit_params_nominal(xb_fit_params *m, const xb_array_params *p);

/* Check a parameter set for consistency (used on everything read from a file). */
int xb_fit_params_check(const xb_fit_params *m, xb_error *err);

/* ---- evaluation ---- */
typedef struct xb_fit_eval xb_fit_eval; /* workspace for one (model, G) pair */

/* Precompute per-cell coefficients for conductance matrix g (rows x cols of the model). */
int xb_fit_eval_new(const xb_fit_params *m, const xb_matrix *g, xb_fit_eval **out, xb_error *err);
/* Residual noise (off by default): when on, every output gets a Gaussian sample of standard
 * deviation resid_sigma_rel x the rms output of its vector (seeded, reproducible). */
int xb_fit_eval_set_noise(xb_fit_eval *e, int on, uint64_t seed, xb_error *err);
/* v: K x rows volts, i_out: K x cols amperes. */
int xb_fit_eval_mvm(xb_fit_eval *e, const xb_matrix *v, xb_matrix *i_out, xb_error *err);
/* Cell voltages (rows x cols) of the model for one input vector (the model's IR-drop map). */
int xb_fit_eval_cell_voltages(xb_fit_eval *e, const double *v_in, double *v_cell, xb_error *err);
/* Current drawn from each row driver (length rows) for one input vector. */
int xb_fit_eval_row_currents(xb_fit_eval *e, const double *v_in, double *i_row, xb_error *err);
void xb_fit_eval_free(xb_fit_eval *e);

/* One-shot convenience: eval_new + eval_mvm + eval_free. */
int xb_fit_model_mvm(const xb_fit_params *m, const xb_matrix *g, const xb_matrix *v,
                     xb_matrix *i_out, xb_error *err);

/* ---- fast form (src/fit/fast.c; docs/fit.md "Fast form") ----
 * The model at one programmed G condensed to  I ~= sum_p phi_p(V) M_p, so that an executor
 * evaluates a tile with one GEMM per term.  phi_p are functions applied to every input
 * voltage: the leading left singular vectors of the model's cell read I-V table
 * I_cell(g, v)/g over its conductance and voltage range (tabulated on 1025 points,
 * linear interpolation; odd in v).  One term (phi proportional to v shc(v/V0)) when V0 is the
 * same for every conductance and there is no series element; phi(v) = v for ohmic cells.
 * M_p (rows x cols; with cross groups also N_p) are fitted by least squares to the full
 * model, IR drop included, on 2 x groups x rows + 32 random input vectors.  Ohmic cells: the
 * full model is linear in V and the fast form reproduces it to rounding.  Otherwise the
 * IR-drop x nonlinearity cross terms are approximated (in part captured by the cross
 * groups); xb_fit_fast_error / _error_pairs below. */
#define XB_FIT_FAST_MAX_TERMS 4
#define XB_FIT_FAST_DROP 0.1 /* weight of the v dI/dv columns of the basis table */
typedef struct xb_fit_basis xb_fit_basis;
/* Basis of model m: the fewest terms (at most max_terms) whose dropped singular values
 * are <= tol relative (Frobenius) to the table. */
int xb_fit_basis_new(const xb_fit_params *m, double tol, size_t max_terms, xb_fit_basis **out, xb_error *err);
void xb_fit_basis_free(xb_fit_basis *b);
size_t xb_fit_basis_terms(const xb_fit_basis *b);
double xb_fit_basis_tail(const xb_fit_basis *b);   /* relative norm of what was dropped */
int xb_fit_basis_is_linear(const xb_fit_basis *b); /* 1: phi_0(v) = v exactly */
double xb_fit_basis_eval(const xb_fit_basis *b, size_t p, double v);
double xb_fit_basis_v_hi(const xb_fit_basis *b);  /* top of the tabulated voltage range */
/* The cross-term factor of an input vector v (n rows): s = sum_i v_i / (n v_hi). */
double xb_fit_cross_s(const xb_fit_basis *b, const double *v, size_t n);
/* phi (n_terms x n): phi[p*n + k] = phi_p(v[k]). */
void xb_fit_basis_eval_n(const xb_fit_basis *b, const double *v, size_t n, double *phi);

typedef struct xb_fit_fast xb_fit_fast;
/* Fast form of model m at conductances g with the first n_terms functions of b (0: all;
 * b from the same model, must outlive it); seed draws the fit vectors. */
int xb_fit_fast_new(const xb_fit_params *m, const xb_fit_basis *b, size_t n_terms, const xb_matrix *g,
                    uint64_t seed, xb_fit_fast **out, xb_error *err);
/* The same with n_cross (0..terms) IR-drop cross groups: I ~= sum_p phi_p(V) M_p +
 * s(V) sum_{p < n_cross} phi_p(V) N_p, s = xb_fit_cross_s(V): the drop along the wires grows
 * with the total input, which per-row functions alone cannot follow (docs/fit.md). */
int xb_fit_fast_new_cross(const xb_fit_params *m, const xb_fit_basis *b, size_t n_terms, size_t n_cross,
                          const xb_matrix *g, uint64_t seed, xb_fit_fast **out, xb_error *err);
/* How the cross groups weigh the inputs: I ~= sum_p phi_p(V) M_p + sum_{p < n_cross}
 * c(V) phi_p(V) N_p with a per-row factor c_i(V).  SUM: c_i = s(V) (xb_fit_cross_s), the
 * tile's total input; COLUMN: the first-order column-wire drop at row i of the model's
 * circuit (the sense below the last row: a row's drop depends on where along the column the
 * other rows' currents enter), c_i = w0 sum_k x_k + w1 sum_k (rows - max(i,k)) x_k with
 * x_k = phi_0(v_k) (~ the cell currents), w0 : w1 = r_sense : r_col, c_0 = 1 at v_hi. */
typedef enum { XB_FIT_CROSS_SUM = 0, XB_FIT_CROSS_COLUMN = 1 } xb_fit_cross_kind;
int xb_fit_fast_new_form(const xb_fit_params *m, const xb_fit_basis *b, size_t n_terms, size_t n_cross,
                         xb_fit_cross_kind kind, const xb_matrix *g, uint64_t seed, xb_fit_fast **out, xb_error *err);
xb_fit_cross_kind xb_fit_fast_cross_kind(const xb_fit_fast *f);
void xb_fit_fast_cross_weights(const xb_fit_fast *f, double *w0, double *w1); /* SUM: w1 = 0 */
/* c_i = w0 sum_k x_k + w1 sum_k (R - max(i,k)) x_k for i < n, of values x whose rows n..R-1
 * are 0 (a form for R rows; x: phi_0 of the inputs); c may be x. */
void xb_fit_cross_factors(double w0, double w1, const double *x, size_t n, size_t R, double *c);
void xb_fit_fast_free(xb_fit_fast *f);
size_t xb_fit_fast_terms(const xb_fit_fast *f);
size_t xb_fit_fast_cross(const xb_fit_fast *f);  /* cross groups */
size_t xb_fit_fast_groups(const xb_fit_fast *f); /* terms + cross groups: matrices of the form */
const xb_fit_basis *xb_fit_fast_basis(const xb_fit_fast *f);
/* Group g's matrix, rows x cols row-major: M_g for g < terms, then N_(g - terms). */
const double *xb_fit_fast_matrix(const xb_fit_fast *f, size_t p);
/* Held-out relative L2 vs the full model: the larger of 16 uniform vectors and 48 vectors like
 * network activations (skewed sparse ReLU outputs, saturated image pixels, partly used
 * bands); _pairs: on the latter, of the differences of column pairs (2j, 2j+1), the
 * executor's differential outputs. */
double xb_fit_fast_error(const xb_fit_fast *f);
double xb_fit_fast_error_pairs(const xb_fit_fast *f);
/* sum over the columns of M_g[i][.], groups x rows (row g*rows + i), kept at construction, and
 * the row currents they give for one input vector: I_row_i = sum_p phi_p(v_i) sums_p[i]
 * (exact when the full model is linear; otherwise the IR-drop redistribution is approximated). */
const double *xb_fit_fast_row_sums(const xb_fit_fast *f);
void xb_fit_fast_row_currents(const xb_fit_fast *f, const double *v_in, double *i_row);
/* Residual noise in xb_fit_fast_mvm (off by default), as xb_fit_eval_set_noise. */
int xb_fit_fast_set_noise(xb_fit_fast *f, int on, uint64_t seed, xb_error *err);
/* Reference evaluation in double: v K x rows, i_out K x cols. */
int xb_fit_fast_mvm(const xb_fit_fast *f, const xb_matrix *v, xb_matrix *i_out, xb_error *err);

/* Relative L2 error ||a - ref|| / ||ref|| over all entries. */
double xb_fit_rel_l2(const xb_matrix *a, const xb_matrix *ref);

/* Validity check of inputs against the physical envelope the model was fitted for: G inside
 * the device window [config g_min, g_max] (widened to the training samples when they went
 * beyond it), V inside [0, v_read] ([-v_read, v_read] when fitted on signed inputs; also
 * widened to the samples), relative tolerance 1e-9; and p's device and cell the model's
 * (p may be NULL; its circuit parameters are xb_fit_choose's business).  Returns 0 when
 * inside, otherwise 1 with a one-line description in msg. */
int xb_fit_validity(const xb_fit_params *m, const xb_array_params *p, const xb_matrix *g,
                    const xb_matrix *v, char *msg, size_t n);

/* ---- fitting ---- */
/* One measured set: a programmed G with K input vectors and the reference currents. */
typedef struct xb_fit_sample {
    const xb_matrix *g; /* rows x cols */
    const xb_matrix *v; /* K x rows */
    const xb_matrix *i; /* K x cols (SPICE / exact solver) */
} xb_fit_sample;

typedef struct xb_fit_opts {
    int n_sweeps;          /* IR-drop sweeps of the model; 0: fewest within 1e-4 of converged [0] */
    size_t n_knots;        /* V0 knots for nonlinear devices [3] */
    double heldout_frac;   /* fraction of samples (whole sets, or vectors if one set) kept out [0.25] */
    int max_iter;          /* Levenberg-Marquardt iterations [100] */
    int update_law;        /* pulse-update step law: XB_UPDATE_AUTO (-1, by held-out error) or an
                            * xb_update_law [auto] */
} xb_fit_opts;

void xb_fit_opts_default(xb_fit_opts *o);

/* Held-out input distributions (src/fit/heldout.c, docs/fit.md "Held-out error by input"):
 * the model scored at fit time against the native engine (exact nodal analysis of the same
 * circuit) on fresh G and V of each kind: uniform (G in the window, V in 0..v_read: the
 * training distribution), high_gv (G in the top quarter of the window and V in the top
 * quarter of 0..v_read: the largest IR drop), sparse (a quarter of the inputs non-zero:
 * ReLU activations), signed (V in -v_read..v_read). */
enum { XB_FIT_IN_UNIFORM = 0, XB_FIT_IN_HIGH_GV, XB_FIT_IN_SPARSE, XB_FIT_IN_SIGNED, XB_FIT_N_INPUTS };
#define XB_FIT_INPUTS_VERSION 1
#define XB_FIT_INPUT_VECTORS 8 /* vectors per distribution, on one fresh G */
const char *xb_fit_input_name(int kind); /* "uniform", "high_gv", "sparse", "signed" */

/* Goodness of fit. */
typedef struct xb_fit_metrics {
    size_t n_train_vectors, n_heldout_vectors;
    double train_rel_l2;          /* model vs reference, training vectors */
    double heldout_rel_l2;        /* model vs reference, held-out vectors */
    double heldout_ideal_rel_l2;  /* ideal V.G vs reference, held-out vectors */
    double nominal_rel_l2;        /* unfitted nominal model vs reference, held-out */
    double heldout_max_abs_err_amp;
    int iterations;
    int lm_status;                /* GSL status of the driver (0 = converged) */
    double seconds;               /* fit wall time */
    /* per held-out input distribution (metrics/heldout_inputs; has_inputs = 0: not in the file) */
    int has_inputs;
    double input_rel_l2[XB_FIT_N_INPUTS];       /* model vs the native engine (NaN: no reference) */
    double input_ideal_rel_l2[XB_FIT_N_INPUTS]; /* ideal V.G vs the native engine */
    size_t input_vectors;                       /* vectors per distribution */
} xb_fit_metrics;

/* Score model m (for array p) on the held-out input distributions against the native
 * engine: fills met's input fields (NaN where the native engine cannot solve p).  seed draws
 * the G and V. */
int xb_fit_heldout_inputs(const xb_array_params *p, const xb_fit_params *m, uint64_t seed, xb_fit_metrics *met,
                          xb_error *err);

/* The held-out error per configuration (/family/<device>_<cell>/heldout_config) at
 * configurations no model was fitted for (wire resistance halfway between adjacent fitted
 * ones at each fitted size): the model xb_fit_choose gives there (the r_wire interpolation)
 * and the family's prediction, vs the native engine per input distribution. */
typedef struct xb_fit_config_error {
    xb_device_kind device;
    xb_cell_kind cell;
    size_t rows, cols;
    double r_wire_ohm;
    double rel_l2[XB_FIT_N_INPUTS];        /* the chosen model */
    double family_rel_l2[XB_FIT_N_INPUTS]; /* the family's prediction */
    double ideal_rel_l2[XB_FIT_N_INPUTS];
} xb_fit_config_error;
/* Every such row of a model file (*out malloc'ed, *n = 0 when there is none). */
int xb_fit_file_config_errors(const char *path, xb_fit_config_error **out, size_t *n, xb_error *err);

/* Fit model parameters for configuration p to n samples. m_out receives the model,
 * met its goodness of fit (may be NULL). */
int xb_fit_mvm(const xb_array_params *p, const xb_fit_sample *samples, size_t n,
               const xb_fit_opts *o, xb_fit_params *m_out, xb_fit_metrics *met, xb_error *err);

/* Evaluate a model on samples: relative L2 of model and of ideal vs the reference. */
int xb_fit_score(const xb_fit_params *m, const xb_fit_sample *samples, size_t n,
                 double *model_rel_l2, double *ideal_rel_l2, xb_error *err);

/* ---- model HDF5 file (docs/hdf5-model.md) ---- */
typedef struct xb_fit_provenance {
    const char *source_path;          /* results file the models were fitted from */
    const char *campaign_name;
    const char *campaign_text;
    const char *ngspice_version;      /* of the simulations behind the samples */
    const char *results_xbar_version;
} xb_fit_provenance;

/* Create a model file with its root attributes and an empty /models group; *out is the
 * open file (close with xb_h5_close). */
int xb_fit_file_create(const char *path, int overwrite, const xb_fit_provenance *prov, hid_t *out,
                       xb_error *err);
/* Write model `index` as /models/NNN (met and source may be NULL). */
int xb_fit_file_add_model(hid_t f, size_t index, const xb_fit_params *m, const xb_fit_metrics *met,
                          const char *source, xb_error *err);
/* Read and validate every model of a file (format, version, datasets, units, ranges);
 * *models and *metrics are malloc'ed arrays of *n entries (metrics may be NULL). */
int xb_fit_file_read(const char *path, xb_fit_params **models, xb_fit_metrics **metrics, size_t *n,
                     xb_error *err);
/* The optional sections of a model file (for summaries: xbar inspect): each of
 * stats/sigma_program, stats/energy, stats/settling, stats/pcm_drift and family that the file
 * has, with the names of its members.  *out malloc'ed (*n entries), free with
 * xb_fit_sections_free. */
typedef struct xb_fit_section {
    const char *name;   /* "stats/energy", ... */
    char **members;     /* in name order */
    size_t n_members;
} xb_fit_section;
int xb_fit_file_sections(const char *path, xb_fit_section **out, size_t *n, xb_error *err);
void xb_fit_sections_free(xb_fit_section *s, size_t n);
/* The model for array p: same device, cell, rows and cols (XB_EINPUT naming the available
 * shapes otherwise), nearest circuit parameters among those. */
int xb_fit_select(const xb_fit_params *models, size_t n, const xb_array_params *p, size_t *index,
                  xb_error *err);

/* Energy and settling regressions of a model file (/stats/energy, /stats/settling), for
 * executors: energy of one MVM with input vector v_in (length rows) and settling time. */
typedef struct xb_fit_stats {
    int have_energy, have_settling;
    double energy_coef[2];
    double settling_coef[3];
} xb_fit_stats;

int xb_fit_stats_read(const char *path, xb_fit_stats *s, xb_error *err);
/* The resistive-energy feature (t_read + t_rise/3) sum_i v_i I_row_i of one read with the
 * row currents of model m (the supplied power of a ramp-and-hold pulse into a resistive array). */
int xb_fit_energy_feature(const xb_fit_params *m, const xb_matrix *g, const double *v_in, double t_read_s,
                          double t_rise_s, double *feature_joule, xb_error *err);
/* Energy of one MVM (joules) from the regression, with the row currents of model m.
 * NAN when the file has no such regression or the model cannot be evaluated. */
double xb_fit_stats_energy_joule(const xb_fit_stats *s, const xb_fit_params *m, const xb_matrix *g,
                                 const double *v_in, double t_read_s, double t_rise_s);
double xb_fit_stats_settling_s(const xb_fit_stats *s, const xb_array_params *p, double t_rise_s);

/* The programming-error law of a model file, /stats/sigma_program/<device>: sigma(G) =
 * sum_k coef[k] G^k (siemens), fitted on valid_g_siemens. */
#define XB_FIT_SIGMA_MAX_COEF 8
typedef struct xb_fit_sigma {
    size_t n_coef;
    double coef[XB_FIT_SIGMA_MAX_COEF];
    double valid_g_siemens[2];
} xb_fit_sigma;

/* XB_EINPUT naming the file and group when the file has no law for the device. */
int xb_fit_sigma_read(const char *path, xb_device_kind device, xb_fit_sigma *out, xb_error *err);
/* sigma(G) in siemens, G clamped to the fitted range (no extrapolation), never negative. */
double xb_fit_sigma_eval(const xb_fit_sigma *s, double g_siemens);

/* ---- pulse-update models (src/fit/update.c; docs/fit.md "Update models") ----
 * How a dynamic device's conductance responds to programming pulses, condensed from SPICE
 * pulse trains (the [program] records of a campaign): the mean change of one up and of one
 * down pulse as a function of the state G (a step law f), its cycle-to-cycle spread, its
 * device-to-device spread, the bounds reached and the pulse energy.  With
 * x = (G - g_min)/(g_max - g_min) over the window reached, the step laws are
 *   SOFTBOUNDS  f(x) = s0 + (s1 - s0) x: linear in G, vanishing at a soft bound (aihwkit
 *               SoftBoundsDevice; Fusi & Abbott, Nat. Neurosci. 10, 485, 2007), params {s0, s1}
 *               = the step at g_min and at g_max (siemens);
 *   EXP         f_up(x) = a exp(-b x), f_down(x) = -a exp(-b (1 - x)) (Querlioz et al., IEEE
 *               Trans. Nanotechnol. 12(3), 288, 2013; aihwkit ExpStepDevice), params {a (S), b};
 *   PWL         f linear between XB_UPDATE_PWL_KNOTS knots evenly spaced in x, params the steps
 *               at the knots (siemens);
 * one law per direction (up f > 0, down f < 0 as measured), the law family chosen by the
 * held-out open-loop trajectory error.  A pulse moves G to
 *   clip(G + f(x) + sigma(G) xi, g_min, g_max),  xi ~ N(0, 1),  sigma = k(x) sqrt(c2c_abs^2 + (c2c_rel f(x))^2)
 * (the relative part is aihwkit's multiplicative step noise dw_min_std; sigma is the spread of
 * a new step about the fitted law: the pulse noise and the law's uncertainty, docs/fit.md); k(x) follows the
 * measured spread over the state: in each of XB_UPDATE_C2C_BINS state bins with at least
 * XB_UPDATE_C2C_BIN_MIN steps, the bin's rms residual over the rms of the law's sigma at its
 * steps (1 in the other bins), linear between the bin centres, constant beyond the outer
 * ones (version 2; version-1 files and c2c_binned = 0: k = 1). */
typedef enum { XB_UPDATE_SOFTBOUNDS = 0, XB_UPDATE_EXP, XB_UPDATE_PWL } xb_update_law;
#define XB_UPDATE_N_LAWS 3
#define XB_UPDATE_AUTO (-1)        /* choose the law by held-out error */
#define XB_UPDATE_PWL_KNOTS 6
#define XB_UPDATE_MAX_PARAMS XB_UPDATE_PWL_KNOTS
#define XB_UPDATE_GRID 129         /* tabulated states over [g_min, g_max] */
#define XB_UPDATE_C2C_BINS 8       /* state bins of the measured step spread */
#define XB_UPDATE_C2C_BIN_MIN 10   /* steps a bin needs to set sigma (sd of the sd ~ 1/sqrt(2n): 22 %) */
#define XB_UPDATE_FORM "xbar-update-v2"
#define XB_UPDATE_VERSION 2        /* written; readers also take version 1 (no c2c state factor) */

const char *xb_update_law_name(xb_update_law law);           /* "softbounds", "exp", "pwl" */
int xb_update_law_from_name(const char *s, xb_update_law *out); /* XB_EINPUT if unknown */
size_t xb_update_law_nparams(xb_update_law law);
/* The law's step f(x) for direction dir (+1 up, -1 down) with parameters p (no bounds). */
double xb_update_law_eval(xb_update_law law, const double *p, double x, int dir);

/* One pulse train: slots of a pulse (or none) followed by a read. */
typedef struct xb_update_train {
    size_t n_slots;
    const double *g_siemens;       /* n_slots + 1: G before the first slot and after each */
    const int *dir;                /* n_slots: +1 up, -1 down, 0 no pulse (a read only) */
    const double *energy_joule;    /* n_slots: energy of each pulse (NULL: not recorded) */
    const unsigned char *heldout;  /* n_slots: 1 = kept out of the fits to choose and score
                                    * the law (NULL: none) */
    size_t device;                 /* Monte Carlo device (device-to-device grouping) */
    size_t start;                  /* start state (trains of equal start share their slots) */
} xb_update_train;

typedef struct xb_update_data {
    xb_device_kind device;
    size_t n_trains;
    const xb_update_train *trains;
    double up_volt, down_volt, width_s; /* the pulse recipe, recorded with the model */
} xb_update_data;

/* A fitted update model.  The per-device arrays are malloc'ed: xb_fit_update_clear. */
typedef struct xb_update_model {
    xb_device_kind device;
    xb_update_law law;
    size_t n_params;                               /* per direction */
    double up[XB_UPDATE_MAX_PARAMS], down[XB_UPDATE_MAX_PARAMS];
    double g_min_siemens, g_max_siemens;           /* window reached: the hard bounds */
    double c2c_up_abs_siemens, c2c_up_rel;         /* cycle-to-cycle spread of one step */
    double c2c_down_abs_siemens, c2c_down_rel;
    double c2c_bin_g_siemens[XB_UPDATE_C2C_BINS];  /* measured spread in state bins (NaN: empty) */
    double c2c_bin_up_siemens[XB_UPDATE_C2C_BINS], c2c_bin_down_siemens[XB_UPDATE_C2C_BINS];
    size_t c2c_bin_up_n[XB_UPDATE_C2C_BINS], c2c_bin_down_n[XB_UPDATE_C2C_BINS]; /* steps per bin */
    int c2c_binned;                                /* 1: sigma has the state factor k below */
    double c2c_bin_up_scale[XB_UPDATE_C2C_BINS], c2c_bin_down_scale[XB_UPDATE_C2C_BINS]; /* k at the
                                                    * bin centres (1: too few steps, the law) */
    double up_volt, down_volt, width_s;
    double energy_up_joule, energy_down_joule;     /* mean energy of one pulse (NaN: not recorded) */
    size_t n_devices;                              /* Monte Carlo devices */
    double *dev_up, *dev_down;                     /* n_devices x n_params (NaN: too few steps) */
    double *dev_g_min_siemens, *dev_g_max_siemens; /* n_devices: extremes each device reached */
    double d2d_up_std[XB_UPDATE_MAX_PARAMS], d2d_down_std[XB_UPDATE_MAX_PARAMS]; /* over devices */
    double d2d_g_min_std_siemens, d2d_g_max_std_siemens;
    size_t n_trains, n_up_steps, n_down_steps, n_heldout_slots;
    size_t n_up_bound_steps, n_down_bound_steps;   /* pulses held at the bound they pushed against
                                                    * (left out of the fits): > 0 = a hard bound */
    double resid_up_rms_siemens, resid_down_rms_siemens; /* one-step residuals about the device laws */
    double heldout_traj_rel[XB_UPDATE_N_LAWS];     /* per candidate law: rms open-loop trajectory
                                                    * error over the held-out slots / window (NaN: none) */
    double heldout_step_rms_siemens[XB_UPDATE_N_LAWS]; /* per candidate: one-step rms error, held out */
    double heldout_traj_max_rel;                   /* chosen law: largest held-out |error| / window */
} xb_update_model;

/* Fit the update model of data d with law (XB_UPDATE_AUTO: the candidate with the smallest
 * held-out trajectory error of each train's own device law; without held-out slots the
 * smallest AIC of the one-step residuals).  Pulses at the bound of their own Monte Carlo
 * device (the extremes it reached) are left out (the hard bound, not the law): from it into
 * it without moving G (|dG| <= 1e-3 window), or ending within 1e-3 window of it (stopped
 * there part-way: censored).  XB_EINPUT when the trains do not determine a model (no window,
 * fewer than 4 steps in a direction). */
int xb_fit_update(const xb_update_data *d, int law, xb_update_model *out, xb_error *err);
void xb_fit_update_clear(xb_update_model *m);
int xb_fit_update_copy(const xb_update_model *src, xb_update_model *dst, xb_error *err);
/* Mean change of one pulse from state g: clip(g + f, g_min, g_max) - g (the tabulated dg). */
double xb_fit_update_step(const xb_update_model *m, double g_siemens, int dir);
/* Cycle-to-cycle standard deviation of one pulse's change from state g (with the pooled law f:
 * the mean device, as the tables and the trainer use it). */
double xb_fit_update_sigma(const xb_update_model *m, double g_siemens, int dir);
/* Step law f of Monte Carlo device k (NaN when that device has no fit). */
double xb_fit_update_device_step(const xb_update_model *m, size_t k, double g_siemens, int dir);
/* Its cycle-to-cycle sigma: k(x) sqrt(abs^2 + (rel f_k)^2) with device k's own law f_k, as the
 * fit regressed the residuals (NaN when that device has no fit). */
double xb_fit_update_device_sigma(const xb_update_model *m, size_t k, double g_siemens, int dir);
/* Apply pulses dir[0..n-1] (0: none) from g0: g_out[0] = g0, g_out[k+1] after pulse k,
 * g <- clip(g + step(g) + sigma(g) xi) with seeded xi when noise, else the mean step. */
int xb_fit_update_simulate(const xb_update_model *m, double g0_siemens, const int *dir, size_t n, int noise,
                           uint64_t seed, double *g_out, xb_error *err);
/* The same with the step law of Monte Carlo device k (its own fit: the model's
 * device-to-device spread) instead of the mean law, its noise xb_fit_update_device_sigma, g
 * clipped at that device's own bounds (dev_g_min/max_siemens: devices differ in their bounds);
 * XB_EINPUT when device k has no fit. */
int xb_fit_update_simulate_device(const xb_update_model *m, size_t k, double g0_siemens, const int *dir, size_t n,
                                  int noise, uint64_t seed, double *g_out, xb_error *err);
/* Write /update/<device> (docs/hdf5-model.md) into an open model file; source: the results
 * groups it came from (may be NULL). */
int xb_fit_update_write(hid_t f, const xb_update_model *m, const char *source, xb_error *err);
/* Read every /update/<device> group of a model file (checked: version, units, shapes,
 * the law); *n = 0 and *out = NULL when the file has none.  xb_fit_update_free_all. */
int xb_fit_update_read_all(const char *path, xb_update_model **out, size_t *n, xb_error *err);
void xb_fit_update_free_all(xb_update_model *m, size_t n);
/* The pulse trains of a results file (/points/<p>/program/train_*, docs/hdf5-results.md),
 * one xb_update_data per device as `xbar fit` pools them (points of one device with the
 * first point's pulse recipe; held-out slots: the last cycle of every train with two cycles
 * or more, else the cycles of the last start state with two start states or more).  Bad
 * records are XB_EINPUT naming the file and dataset. */
typedef struct xb_update_set xb_update_set;
int xb_update_set_load(const char *results_path, xb_update_set **out, xb_error *err);
size_t xb_update_set_count(const xb_update_set *s);
const xb_update_data *xb_update_set_data(const xb_update_set *s, size_t k);
const char *xb_update_set_source(const xb_update_set *s, size_t k); /* "/points/p00000,..." */
void xb_update_set_free(xb_update_set *s);

/* ---- from a results file (xbar fit) ---- */
typedef struct xb_fit_model_info {
    char point[64];           /* results group the model was fitted from (/points/NAME) */
    xb_fit_params params;
    xb_fit_metrics metrics;
} xb_fit_model_info;

#define XB_FIT_MAX_LEAVEOUT 64
typedef struct xb_fit_leaveout {
    xb_device_kind device;
    xb_cell_kind cell;
    size_t n;                 /* sqrt(rows*cols) of the size left out */
    double rel_l2;            /* worst model error at that size, parameters predicted without it */
    double ideal_rel_l2;      /* worst ideal-model error there */
} xb_fit_leaveout;

typedef struct xb_fit_summary {
    size_t n_models;
    xb_fit_model_info *models;
    size_t n_sigma;           /* devices with a programming-error sigma(G) fit */
    size_t n_transient;       /* points in the energy/settling regressions (0: none) */
    double energy_r2, settling_r2;
    size_t n_drift_devices;   /* PCM devices in the drift/read-noise fit (0: none) */
    size_t n_leaveout;
    xb_fit_leaveout leaveout[XB_FIT_MAX_LEAVEOUT];
    size_t n_update;          /* devices with a pulse-update model (/update/<device>) */
    xb_update_model update[XB_DEVICE_COUNT];
    size_t n_update_notes;    /* devices with pulse trains but no model, and why */
    char update_notes[2 * XB_DEVICE_COUNT][256];
} xb_fit_summary;

/* Called after each point's model is fitted (k of n, 1-based), for progress output. */
typedef void (*xb_fit_progress_fn)(void *user, size_t k, size_t n, const xb_fit_model_info *m);

/* Fit everything a results file supports and write the model file (overwrite: replace an
 * existing file).  Bad or unsupported input is XB_EINPUT naming the file and object.
 * progress may be NULL. */
int xb_fit_results(const char *results_path, const char *model_path, int overwrite, const xb_fit_opts *o,
                   xb_fit_progress_fn progress, void *user, xb_fit_summary **summary, xb_error *err);
void xb_fit_summary_free(xb_fit_summary *s);

/* Parameters as functions of size and wire resistance (/family/<device>_<cell>/coef, 13 x 3):
 * q = coef[q][0] + coef[q][1] sqrt(rows cols) + coef[q][2] r_wire for the quantities
 * r_row/r_wire_row, r_col/r_wire_col, r_driver/r_driver(circuit), r_series_ohm, gain,
 * knot_v0_volt[0..7].  Applies the prediction to m (m->config set to the target array). */
#define XB_FIT_FAMILY_NQ (5 + XB_FIT_MAX_KNOTS)
void xb_fit_family_predict(const double coef[XB_FIT_FAMILY_NQ][3], xb_fit_params *m);

/* How the model for an array configuration was chosen (xb_fit_file_choose, docs/fit.md
 * "Model selection"). */
typedef enum {
    XB_FIT_CHOICE_FITTED = 0, /* a model fitted for exactly this circuit */
    XB_FIT_CHOICE_FAMILY,     /* parameters predicted by the size/wire-resistance family */
    XB_FIT_CHOICE_INTERP,     /* interpolated in r_wire between the two fitted models of the same
                               * circuit otherwise that bracket it (bench_fit_select: 7x closer to
                               * the native engine than the family in the worst case) */
    XB_FIT_CHOICE_NEAREST     /* no family: the fitted model of the same shape nearest in circuit
                               * parameters, used for another circuit (always extrapolation) */
} xb_fit_choice_kind;

typedef struct xb_fit_choice {
    xb_fit_choice_kind kind;
    int extrapolation;        /* 1: the configuration is outside what the fitted models span */
    size_t index;             /* FITTED, NEAREST: the /models index; FAMILY: its template model */
    char line[400];           /* one line: which model or family, interpolation or extrapolation
                               * (empty for FITTED) */
} xb_fit_choice;

/* The model for array p from a model file.  A fitted model is used only for its own circuit:
 * same device, cell, rows, cols, wire, driver and sense resistances, read voltage, conductance
 * window, device V0 and access-element parameters (relative 1e-9).  A configuration with
 * equal row and column wires between two fitted models that differ from it only in (equal)
 * wire resistance gets their fitted quantities (as the family's: resistance ratios, r_series,
 * gain, V0 knots; r_sense) interpolated linearly in r_wire (XB_FIT_CHOICE_INTERP).  Any other
 * configuration of a device and cell that has a /family gets parameters predicted by it (knots and sweeps
 * from the family's nearest-size model, one sweep more than any fitted model; r_sense scaled
 * by the circuit's), flagged as extrapolation when size (sqrt(rows cols)), r_wire_row,
 * r_wire_col, r_driver, r_sense, v_read, g_min or g_max lies outside the fitted models' span.
 * Without a family: the same-shape model nearest in circuit parameters (XB_FIT_CHOICE_NEAREST).
 * XB_EINPUT naming the available shapes otherwise.  ch may be NULL. */
int xb_fit_file_choose(const char *path, const xb_array_params *p, xb_fit_params *out, xb_fit_choice *ch,
                       xb_error *err);
/* The same choice over models already read (fam: the /family coefficients of p's device and
 * cell, NULL when the file has none). */
int xb_fit_choose(const xb_fit_params *models, size_t n, const double (*fam)[3], const xb_array_params *p,
                  xb_fit_params *out, xb_fit_choice *ch, xb_error *err);
/* xb_fit_file_choose, reporting only whether the parameters came from the family. */
int xb_fit_file_model_for(const char *path, const xb_array_params *p, xb_fit_params *out, int *from_family,
                          xb_error *err);

/* ---- the fitted model as an engine (src/fit/engine_model.c; engine.h interface) ----
 * Class "model": every tile MVM through a fitted model.  From a model file (cfg.file) for
 * the arrays cfg.array (xb_fit_file_choose: the model fitted for that circuit, else an r_wire
 * interpolation or the size family; the choice in xb_fit_engine_info), with the file's energy
 * and settling regressions.  Tiles are
 * held in the model's fast form (xb_fit_fast_*, fitted to the full model at each programmed
 * G; the executor evaluates a row band of tiles with one GEMM per term) unless cfg.exact
 * asks for the full model per vector (xb_fit_eval_*).  cfg.read_noise: the model's residual
 * read noise on every MVM, one stream per tile seeded from cfg.seed.  A read lasts
 * t = max(cfg.t_window_s, fitted settling time at cfg.t_rise_s) (read-time operation), and
 * with the energy regression its array energy is the fitted law
 *   e = coef0 (t - t_rise + t_rise/3) sum_i v_i I_row_i + coef1 c_wire cols sum_i v_i^2
 * with the model's row currents (array-energy and energy-law operations).  Programming
 * variability and drift come from the caller (the executor).  Tiles must have the model's
 * rows x cols. */
extern const xb_engine_class xb_fit_engine_class_model;

/* Every engine class: the engine stage's built-ins (XB_ENGINE_BUILTINS), then the fit
 * stage's model: the table commands and executors choose from (NULL-terminated). */
extern const xb_engine_class *const xb_fit_engines[];

/* A model engine over parameters m (checked; no energy/settling regressions). */
int xb_fit_engine_new(const xb_fit_params *m, const xb_engine_config *cfg, xb_engine **out, xb_error *err);

typedef struct xb_fit_engine_info {
    const xb_fit_params *model; /* the model evaluated (valid while the engine lives) */
    int from_family;            /* 1: predicted from the model file's size/wire-resistance family */
    xb_fit_choice choice;       /* how the model was chosen for the engine's arrays (kind FITTED
                                 * with an empty line for xb_fit_engine_new) */
    int exact;                  /* full model per vector */
    size_t fast_terms;          /* fast form terms per tile (0: exact mode or nothing programmed yet) */
    size_t fast_cross;          /* its IR-drop cross groups (xb_fit_fast_new_form) */
    xb_fit_cross_kind fast_kind; /* ... and their kind */
    double fast_error;          /* largest held-out relative L2 of a fast form vs the full model so
                                   far: network-like inputs, differences of column pairs
                                   (xb_fit_fast_error_pairs) */
    double settling_s;          /* fitted settling time of one read (NAN without the regression) */
    int has_energy;             /* the model file has the energy regression */
} xb_fit_engine_info;

/* XB_EINPUT when e is not a model engine. */
int xb_fit_engine_get_info(const xb_engine *e, xb_fit_engine_info *out, xb_error *err);
/* Fast forms without IR-drop cross groups from the next programming on (for users of the form
 * that need it linear in per-row features, e.g. analog training's per-cell gains); XB_OK and
 * nothing done for other engines. */
int xb_fit_engine_plain_fast(xb_engine *e, xb_error *err);

/* ---- small regressions used for the statistics exported with models ---- */
/* Least-squares polynomial y = sum_k c[k] x^k (deg+1 coefficients); r2 and rms residual out. */
int xb_fit_poly(const double *x, const double *y, size_t n, size_t deg, double *c, double *r2,
                double *rms, xb_error *err);
/* Linear least squares y = X c, X is n x p row-major; r2/rms may be NULL. */
int xb_fit_linear(const double *X, const double *y, size_t n, size_t p, double *c, double *r2,
                  double *rms, xb_error *err);

#ifdef __cplusplus
}
#endif
#endif /* XBAR_FIT_H */
