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
    /* validity range: the training data */
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
 * M_p (rows x cols) are fitted by least squares to the full model, IR drop included, on
 * 2 x terms x rows + 32 random input vectors.  Ohmic cells: the full model is linear in V
 * and the fast form reproduces it to rounding.  Otherwise the IR-drop x nonlinearity cross
 * terms are approximated; xb_fit_fast_error is the relative L2 vs the full model on 16
 * held-out vectors. */
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
/* phi (n_terms x n): phi[p*n + k] = phi_p(v[k]). */
void xb_fit_basis_eval_n(const xb_fit_basis *b, const double *v, size_t n, double *phi);

typedef struct xb_fit_fast xb_fit_fast;
/* Fast form of model m at conductances g with the first n_terms functions of b (0: all;
 * b from the same model, must outlive it); seed draws the fit vectors. */
int xb_fit_fast_new(const xb_fit_params *m, const xb_fit_basis *b, size_t n_terms, const xb_matrix *g,
                    uint64_t seed, xb_fit_fast **out, xb_error *err);
void xb_fit_fast_free(xb_fit_fast *f);
size_t xb_fit_fast_terms(const xb_fit_fast *f);
const xb_fit_basis *xb_fit_fast_basis(const xb_fit_fast *f);
const double *xb_fit_fast_matrix(const xb_fit_fast *f, size_t p); /* M_p, rows x cols row-major */
double xb_fit_fast_error(const xb_fit_fast *f);
/* sum over the columns of M_p[i][.], terms x rows (row p*rows + i), kept at construction, and
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

/* Validity check of inputs against the model's ranges: returns 0 when inside, otherwise 1
 * with a one-line description in msg. */
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
} xb_fit_opts;

void xb_fit_opts_default(xb_fit_opts *o);

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
} xb_fit_metrics;

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

/* The model for array p from a model file: a fitted model of the same device, cell and shape
 * (nearest circuit parameters), else, when the file has a /family for the device and cell,
 * parameters predicted for p's size and wire resistance (*from_family = 1; knots, sweeps and
 * validity from the family's nearest-size model).  XB_EINPUT naming the shapes otherwise. */
int xb_fit_file_model_for(const char *path, const xb_array_params *p, xb_fit_params *out, int *from_family,
                          xb_error *err);

/* ---- the fitted model as an engine (src/fit/engine_model.c; engine.h interface) ----
 * Class "model": every tile MVM through a fitted model.  From a model file (cfg.file) for
 * the arrays cfg.array (xb_fit_file_model_for: a fitted model of the same device, cell and
 * shape, else its size family), with the file's energy and settling regressions.  Tiles are
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
    int exact;                  /* full model per vector */
    size_t fast_terms;          /* fast form terms per tile (0: exact mode or nothing programmed yet) */
    double fast_error;          /* largest held-out relative L2 of a fast form vs the full model so far */
    double settling_s;          /* fitted settling time of one read (NAN without the regression) */
    int has_energy;             /* the model file has the energy regression */
} xb_fit_engine_info;

/* XB_EINPUT when e is not a model engine. */
int xb_fit_engine_get_info(const xb_engine *e, xb_fit_engine_info *out, xb_error *err);

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
