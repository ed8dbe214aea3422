/*
 * xbar engine stage: circuit solutions.
 *
 *  1. libngspice, contained: every simulation runs in a worker process (libngspice
 *     has one global circuit per process and may abort or exit on fatal errors), so a
 *     crash, hang (timeout) or non-convergence becomes an error result for that job.
 *  2. Batching: K input vectors of one static circuit are solved in ONE analysis, so
 *     Sparse 1.3 reorders once (docs/engine.md says which analysis is used and why).
 *  3. The native exact sparse engine (SuiteSparse) for large static reads.
 *  4. The engine interface: every solver (ideal, native, spice; the fit stage's model)
 *     as a class with one program/MVM/read interface, and the name -> class registry.
 *
 * Everything here returns XB_OK or an error code and fills xb_error.
 */
#ifndef XBAR_ENGINE_H
#define XBAR_ENGINE_H

#include <stdint.h>

#include "xbar/common.h"
#include "xbar/netlist.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ options */
typedef struct xb_engine_opts {
    int n_workers;       /* worker processes in a pool; 0 = number of cores */
    double timeout_s;    /* per job wall-clock limit, writing the deck included; the worker is killed after it */
    int verbose;         /* echo the ngspice log to stderr as it arrives */
    /* convergence settings, emitted as .options (documented defaults in docs/engine.md) */
    double reltol, abstol_amp, vntol_volt, gmin_siemens;
    int itl1, gminsteps, srcsteps;
    /* ngspice's last-resort "transient op" (optran) after gmin and source stepping fail;
     * 0 (default): off, so a DC failure is reported instead of a pseudo-transient answer */
    int optran;
} xb_engine_opts;

void xb_engine_opts_default(xb_engine_opts *o);

/* The `.options` line for these settings ("\n"-terminated, malloc'ed). */
char *xb_engine_options_card(const xb_engine_opts *o);

/* ------------------------------------------------------------------ results */
typedef struct xb_engine_result xb_engine_result; /* opaque */

/* XB_OK, or the failure of this job (XB_ERUNTIME for crash/timeout/non-convergence,
 * XB_EINPUT for a netlist ngspice rejected). */
int xb_engine_result_status(const xb_engine_result *r);
/* One-line error message ("" when ok); quotes the tail of the ngspice log. */
const char *xb_engine_result_error(const xb_engine_result *r);
/* Everything ngspice printed for this job. */
const char *xb_engine_result_log(const xb_engine_result *r);
size_t xb_engine_result_nvecs(const xb_engine_result *r);
const char *xb_engine_result_vec_name(const xb_engine_result *r, size_t k);
/* Data of a named vector (case-insensitive, "v(x)" and "x" both accepted), NULL if absent. */
const double *xb_engine_result_vec(const xb_engine_result *r, const char *name, size_t *len);
double xb_engine_result_seconds(const xb_engine_result *r); /* wall time of the job */
void xb_engine_result_free(xb_engine_result *r);

/* ------------------------------------------------------------------ single jobs */
/* Run one complete deck (title line ... .end, with its analysis card) in a worker
 * process and return the requested vectors of the last plot (n_vecs == 0: all).
 * The deck runs as given (.control blocks are dropped): put xb_engine_options_card(o)
 * in it for the engine's convergence settings; o supplies timeout, verbose and optran.
 * Returns XB_OK when a result object was produced, even if the job itself failed:
 * check xb_engine_result_status(). */
int xb_engine_run(const xb_engine_opts *o, const char *deck, size_t n_vecs,
                  const char *const *vec_names, xb_engine_result **out, xb_error *err);

/* ------------------------------------------------------------------ worker pool */
typedef struct xb_engine_pool xb_engine_pool;

xb_engine_pool *xb_engine_pool_new(const xb_engine_opts *o, xb_error *err);
/* Queue a job; *job_id numbers jobs 0, 1, 2, ... in submission order. */
int xb_engine_pool_submit(xb_engine_pool *p, const char *deck, size_t n_vecs,
                          const char *const *vec_names, size_t *job_id, xb_error *err);
/* Block until some job finishes; returns XB_OK with its id and result, or XB_EINPUT
 * when no job is pending. Completion order. */
int xb_engine_pool_next(xb_engine_pool *p, size_t *job_id, xb_engine_result **r, xb_error *err);
/* Wait for all pending jobs; results[k] for job k (array of pool-submitted count). */
int xb_engine_pool_wait_all(xb_engine_pool *p, xb_engine_result **results, size_t n_results,
                            xb_error *err);
void xb_engine_pool_free(xb_engine_pool *p); /* kills running workers */

/* ------------------------------------------------------------------ batching */
/* An independent voltage source driven with one value per input vector. */
typedef struct xb_engine_source {
    const char *name;     /* element name without the leading letter kind, unique */
    const char *node_pos;
    const char *node_neg;
} xb_engine_source;

typedef struct xb_engine_batch {
    const char *title;
    const char *body;                    /* elements, .include/.model/.subckt; no analysis, no .end */
    size_t n_sources;
    const xb_engine_source *sources;     /* driven per vector */
    size_t k_vectors;
    const double *values;                /* k_vectors x n_sources, row-major, volts */
    size_t n_outputs;
    const char *const *outputs;          /* output quantities: "i(NAME)" = current into the + node
                                            of source/element NAME, or "v(NODE)" */
} xb_engine_batch;

/* The complete deck for a batch: runnable by stock `ngspice -b`, which prints the
 * outputs, one line per input vector (docs/engine.md gives the format). malloc'ed. */
char *xb_engine_batch_deck(const xb_engine_opts *o, const xb_engine_batch *b, xb_error *err);
/* Solve all K vectors in one analysis in a worker; out is k_vectors x n_outputs. */
int xb_engine_batch_run(const xb_engine_opts *o, const xb_engine_batch *b, double *out,
                        xb_error *err);
/* Pool variants: submit, and extract the K x n_outputs matrix from a finished result. */
int xb_engine_batch_submit(xb_engine_pool *p, const xb_engine_batch *b, size_t *job_id,
                           xb_error *err);
int xb_engine_batch_collect(const xb_engine_batch *b, const xb_engine_result *r, double *out,
                            xb_error *err);
/* The same K vectors split into one batch per pool worker (opts.n_workers, 0 = cores),
 * run at the same time; out as for xb_engine_batch_run. */
int xb_engine_batch_run_parallel(const xb_engine_opts *o, const xb_engine_batch *b, double *out,
                                 xb_error *err);

/* ------------------------------------------------------------------ crossbar MVM */
/* MVM of a crossbar through ngspice: g is rows x cols (siemens, after variability),
 * v is K x rows (volts); i_out must be K x cols (amperes into each sense node).
 * One analysis for all K vectors. */
int xb_engine_mvm_spice(const xb_engine_opts *o, const xb_array_params *p, const xb_matrix *g,
                        const xb_matrix *v, xb_matrix *i_out, xb_error *err);

/* Peak memory (bytes) of solving array p with K = k_vectors vectors in ngspice: the deck text
 * in the caller and the worker, and ngspice's own circuit and sparse matrix with its fill
 * (linear in the cells, constants measured per cell type: docs/engine.md "Memory").  The
 * spice engine refuses a tile above the memory limit (common.h, xb_memory_check) before
 * writing its deck. */
double xb_engine_spice_memory_estimate(const xb_array_params *p, size_t k_vectors);

/* ------------------------------------------------------------------ native engine */
/* Exact nodal analysis of the same static read circuit (netlist.h topology) with
 * SuiteSparse; the symbolic analysis is done once, and for linear cells one
 * factorization serves every input vector. */
typedef struct xb_engine_native xb_engine_native;

int xb_engine_native_new(const xb_array_params *p, const xb_matrix *g, xb_engine_native **out,
                         xb_error *err);
/* v: K x rows, i_out: K x cols. */
int xb_engine_native_mvm(xb_engine_native *n, const xb_matrix *v, xb_matrix *i_out, xb_error *err);
/* Voltage across every cell (rows x cols, row-major) for one input vector (length rows):
 * the IR-drop map. */
int xb_engine_native_cell_voltages(xb_engine_native *n, const double *v_in, double *v_cell,
                                   xb_error *err);
void xb_engine_native_free(xb_engine_native *n);
/* Peak memory (bytes) of a native engine for array p, estimated before building it from the
 * measured fill of its factor (nested dissection: entries ~ cells log2(sqrt(cells)); the
 * constants in docs/native.md "Memory").  xb_engine_native_new refuses an array whose estimate
 * is above the memory limit (common.h, xb_memory_check) before allocating anything, and again
 * with the exact factor size after the symbolic analysis, before the numeric factorization. */
double xb_engine_native_memory_estimate(const xb_array_params *p);
/* The factor entries that estimate assumes (compare xb_engine_native_stats.nnz_factor). */
double xb_engine_native_factor_estimate(const xb_array_params *p);

/* Work done so far by one native engine (cumulative over calls; docs/native.md). */
typedef struct xb_engine_native_stats {
    size_t n_unknowns;         /* node voltages solved for (shorted nodes merged) */
    size_t nnz_matrix;         /* stored entries of the nodal matrix */
    double nnz_factor;         /* entries of the factor(s) of the last factorization */
    const char *solver;        /* "cholmod", "klu" or "none" (every node fixed) */
    int linear;                /* linear cells: one factorization serves every vector */
    size_t factorizations;     /* numeric factorizations */
    size_t rhs_solved;         /* right-hand-side columns solved */
    size_t newton_iterations;  /* Newton steps with a fresh Jacobian, over all vectors */
    size_t reuse_steps;        /* steps tried with a reused factorization (docs/native.md) */
    size_t vectors;            /* input vectors solved */
    double last_kcl_rel;       /* KCL error (relative) at the end of the last Newton solve */
    double t_setup_s, t_factor_s, t_solve_s; /* build + symbolic analysis, factor, solve */
} xb_engine_native_stats;

int xb_engine_native_get_stats(const xb_engine_native *n, xb_engine_native_stats *st);


/* One-shot convenience with the signature of xb_engine_mvm_spice (minus the ngspice
 * options): new + mvm + free.  For many MVMs of one G keep the engine instead. */
int xb_engine_mvm_native(const xb_array_params *p, const xb_matrix *g, const xb_matrix *v,
                         xb_matrix *i_out, xb_error *err);

/* ------------------------------------------------------------------ ideal product */
/* The exact product I = V.G (Ohm + Kirchhoff without wires or device nonlinearity):
 * g rows x cols siemens, v K x rows volts, i_out K x cols amperes.  The one ideal MVM of
 * the tree: the ideal engine, the campaigns' i_ideal and the fit's ideal error use it. */
int xb_engine_mvm_ideal(const xb_matrix *g, const xb_matrix *v, xb_matrix *i_out, xb_error *err);

/* ================================================================== engine interface
 * Every crossbar solver behind one interface (docs/engine.md, "Engine interface").  An
 * engine class (name, summary, capabilities, constructor) makes a configured engine
 * (xb_engine: e.g. an ngspice option set, a loaded model); the engine programs tiles
 * (one array: configuration + conductances), and a tile answers MVMs of a batch of
 * input vectors and, when the engine can, single-cell reads.  Commands, campaigns and the
 * executor pick a class by name from a table (xb_engine_builtins here; the fit stage's
 * xb_fit_engines adds its fitted model). */
typedef struct xb_engine xb_engine;           /* a configured engine (opaque) */
typedef struct xb_engine_tile xb_engine_tile; /* one programmed array (opaque) */

/* Capabilities (xb_engine_class.caps, xb_engine_caps). */
enum {
    XB_ENGINE_CAP_DETERMINISTIC = 1u << 0, /* the same inputs give the same currents on every call */
    XB_ENGINE_CAP_CIRCUIT = 1u << 1,       /* solves the array's circuit: wires, driver/sense, cells,
                                              device I-V (not an approximation of it) */
    XB_ENGINE_CAP_CELL_READ = 1u << 2,     /* single-cell reads (xb_engine_cell_read) */
    XB_ENGINE_CAP_TRANSIENT = 1u << 3      /* read transients (xb_engine_transient): native has it;
                                              spice runs them through characterize's
                                              xb_char_transient_run (the deck lives there) */
};

/* What a constructor may use.  Each class reads the fields it needs and ignores the rest
 * (docs/engine.md lists them per class); xb_engine_config_default fills every field. */
typedef struct xb_engine_config {
    const xb_engine_opts *opts;    /* ngspice settings (spice; NULL = xb_engine_opts_default); copied */
    const xb_array_params *array;  /* the configuration the tiles will have, when the engine needs it
                                      ahead (model: selects the fitted model); NULL = not given */
    const char *file;              /* a file the engine loads (model: the model file of `xbar fit`) */
    uint64_t seed;                 /* the engine's own random streams (model: noise, fast-form fits) */
    int read_noise;                /* add the engine's read noise to every MVM (model: its residual) */
    int exact;                     /* evaluate exactly instead of a fast approximation (model: the
                                      full model per vector instead of its fast form) */
    double t_window_s;             /* read window of the energy/read-time laws [100 ns] (model) */
    double t_rise_s;               /* input rise time of those laws [10 ps] (model) */
} xb_engine_config;

void xb_engine_config_default(xb_engine_config *c);

typedef struct xb_engine_class {
    const char *name;     /* as given to --engine */
    const char *summary;  /* one line */
    unsigned caps;        /* XB_ENGINE_CAP_* of an engine made with the default configuration */
    int (*create)(const struct xb_engine_class *cls, const xb_engine_config *cfg, xb_engine **out,
                  xb_error *err);
} xb_engine_class;

/* ---- the registry: NULL-terminated tables of classes ----
 * The engine stage's classes, in list order.  X(n) names the class object
 * `xb_engine_class_<n>` defined by one file of src/engine; a new engine of this stage is
 * one line here (docs/architecture.md, "How to extend: a new engine"). */
#define XB_ENGINE_BUILTINS(X) X(ideal) X(native) X(spice)
#define XB_ENGINE_CLASS_DECLARE(n) extern const xb_engine_class xb_engine_class_##n;
#define XB_ENGINE_CLASS_REF(n) &xb_engine_class_##n,
XB_ENGINE_BUILTINS(XB_ENGINE_CLASS_DECLARE)
/* { XB_ENGINE_BUILTINS, NULL }: the engines campaigns use */
extern const xb_engine_class *const xb_engine_builtins[];

/* The class called name in table (NULL-terminated); XB_EINPUT "unknown engine 'x' (a, b, c)"
 * listing the table otherwise. */
int xb_engine_class_find(const xb_engine_class *const *table, const char *name,
                         const xb_engine_class **out, xb_error *err);
/* The names of a table joined by sep ("ideal, native, spice"), truncated to n; returns the
 * length of the whole list (as snprintf). */
size_t xb_engine_class_names(const xb_engine_class *const *table, const char *sep, char *buf, size_t n);

/* ---- configured engines ---- */
/* cfg NULL: xb_engine_config_default. */
int xb_engine_new(const xb_engine_class *cls, const xb_engine_config *cfg, xb_engine **out, xb_error *err);
/* xb_engine_class_find + xb_engine_new. */
int xb_engine_new_by_name(const xb_engine_class *const *table, const char *name, const xb_engine_config *cfg,
                          xb_engine **out, xb_error *err);
/* Free an engine after every tile it programmed. */
void xb_engine_free(xb_engine *e);
const xb_engine_class *xb_engine_class_of(const xb_engine *e);
const char *xb_engine_name(const xb_engine *e);
/* Capabilities of this configured engine (e.g. the model with read noise is not deterministic). */
unsigned xb_engine_caps(const xb_engine *e);

/* ---- tiles ---- */
/* Program an array: configuration p (rows, cols, device, cell, wires, ...) and conductances
 * g (p->rows x p->cols siemens, as programmed: variability already applied by the caller,
 * e.g. xb_netlist_program).  An engine with its own programming-noise model samples it here,
 * once.  The tile keeps a copy of p; free it before its engine. */
int xb_engine_program(xb_engine *e, const xb_array_params *p, const xb_matrix *g, xb_engine_tile **out,
                      xb_error *err);
/* n arrays of one configuration p: out[k] is the tile xb_engine_program(e, p, g[k], ...)
 * called for k = 0, 1, ..., n-1 in that order gives (the same random streams: an engine
 * numbers its tiles in programming order), programmed at the same time when the engine can
 * (XB_ENGINE_OP_PROGRAM_MULTI; the model engine: one fast-form fit per worker, as many
 * workers as OpenBLAS threads).  On failure every out[k] is NULL. */
int xb_engine_program_multi(xb_engine *e, const xb_array_params *p, const xb_matrix *const *g, size_t n,
                            xb_engine_tile **out, xb_error *err);
void xb_engine_tile_free(xb_engine_tile *t);
xb_engine *xb_engine_tile_engine(const xb_engine_tile *t);
/* MVM of K input vectors: v K x rows (volts on the row drivers), i_out K x cols (amperes into
 * each column's sense node).  K = 0 does nothing. */
int xb_engine_mvm(xb_engine_tile *t, const xb_matrix *v, xb_matrix *i_out, xb_error *err);
/* The same v on n tiles of one engine (e.g. the column tiles of a row band), i_out[k] for
 * tiles[k]: at the same time when the engine can (spice: one worker process per tile),
 * otherwise one after the other. */
int xb_engine_mvm_multi(xb_engine_tile *const *tiles, size_t n, const xb_matrix *v, xb_matrix *const *i_out,
                        xb_error *err);
/* Single-cell read of (row, col) with scheme XB_READ_FLOAT / V2 / V3 (netlist.h,
 * xb_netlist_read_new): the selected row driven at the tile's v_read_volt; *i_read_amp is the
 * current into the selected column's sense node.  XB_EINPUT for an engine without
 * XB_ENGINE_CAP_CELL_READ. */
int xb_engine_cell_read(xb_engine_tile *t, xb_read_scheme scheme, size_t row, size_t col, double *i_read_amp,
                        xb_error *err);
/* Read transient of the tile (the circuit of xb_engine_native_transient below: wire
 * capacitance per segment, row inputs stepping to v over t_rise): v has p->rows values
 * (volts), o NULL = xb_engine_tran_opts_default; r is filled (clear it with
 * xb_engine_tran_result_clear).  XB_EINPUT for an engine without XB_ENGINE_CAP_TRANSIENT. */
struct xb_engine_tran_opts;
struct xb_engine_tran_result;
int xb_engine_transient(xb_engine_tile *t, const double *v, const struct xb_engine_tran_opts *o,
                        struct xb_engine_tran_result *r, xb_error *err);

/* One-shot forms: program g on p, one MVM / one cell read, free the tile. */
int xb_engine_mvm_once(xb_engine *e, const xb_array_params *p, const xb_matrix *g, const xb_matrix *v,
                       xb_matrix *i_out, xb_error *err);
int xb_engine_cell_read_once(xb_engine *e, const xb_array_params *p, const xb_matrix *g, xb_read_scheme scheme,
                             size_t row, size_t col, double *i_read_amp, xb_error *err);

/* ---- optional operations, for executors ---- */
typedef enum {
    XB_ENGINE_OP_MVM_MULTI = 1u << 0,    /* several tiles at once (else xb_engine_mvm_multi loops) */
    XB_ENGINE_OP_ARRAY_ENERGY = 1u << 1, /* xb_engine_array_energy */
    XB_ENGINE_OP_READ_TIME = 1u << 2,    /* xb_engine_read_time_s */
    XB_ENGINE_OP_FAST_FORM = 1u << 3,    /* xb_engine_fast_form */
    XB_ENGINE_OP_ENERGY_LAW = 1u << 4,   /* xb_engine_energy_law */
    XB_ENGINE_OP_RESIDUAL_NOISE = 1u << 5, /* xb_engine_residual_noise */
    XB_ENGINE_OP_PROGRAM_MULTI = 1u << 6   /* several tiles programmed at once (else
                                              xb_engine_program_multi loops) */
} xb_engine_op;

/* 1 when the engine provides op. */
int xb_engine_provides(const xb_engine *e, xb_engine_op op);
/* Array energy (joules, all K vectors) of an MVM of v that gave i_out; XB_EINPUT without it. */
int xb_engine_array_energy(xb_engine_tile *t, const xb_matrix *v, const xb_matrix *i_out, double *e_joule);
/* Settling/read time of one MVM of the tile (seconds); NAN without it. */
double xb_engine_read_time_s(xb_engine_tile *t);
/* The tile in the fit stage's fast form I = sum_p phi_p(V) M_p (fit.h xb_fit_fast: engines of
 * the fit stage provide it), valid while the tile lives; NULL without it.  Its mvm computes
 * the same form. */
struct xb_fit_fast;
const struct xb_fit_fast *xb_engine_fast_form(xb_engine_tile *t);
/* The engine's array energy as a law of the row currents, per input vector
 *   e = k_res * sum_i v_i I_row_i + k_cap * sum_i v_i^2;
 * 1 with k_res (seconds) and k_cap (farads) set when it has one, 0 otherwise. */
int xb_engine_energy_law(xb_engine *e, double *k_res_s, double *k_cap_farad);
/* Output noise the engine adds in mvm, relative: every physical column current gets
 * N(0, rel x rms over the tile's columns of that vector's currents); 0 = none. */
double xb_engine_residual_noise(xb_engine *e);

/* ---- implementing an engine ----
 * A class's create fills an xb_engine_ops (program and mvm required, the rest may be NULL)
 * and wraps its state with xb_engine_wrap.  Tile handles are the implementation's own
 * pointers; the interface checks every argument (shapes included) before calling. */
typedef struct xb_engine_ops {
    int (*program)(void *self, const xb_array_params *p, const xb_matrix *g, void **tile, xb_error *err);
    int (*mvm)(void *self, void *tile, const xb_matrix *v, xb_matrix *i_out, xb_error *err);
    void (*release)(void *self, void *tile); /* free a tile */
    void (*destroy)(void *self);             /* free self */
    int (*cell_read)(void *self, void *tile, xb_read_scheme scheme, size_t row, size_t col, double *i_read_amp,
                     xb_error *err);
    int (*transient)(void *self, void *tile, const double *v, const struct xb_engine_tran_opts *o,
                     struct xb_engine_tran_result *r, xb_error *err);
    int (*mvm_multi)(void *self, void *const *tiles, size_t n, const xb_matrix *v, xb_matrix *const *i_out,
                     xb_error *err);
    int (*array_energy)(void *self, void *tile, const xb_matrix *v, const xb_matrix *i_out, double *e_joule);
    double (*read_time_s)(void *self, void *tile);
    const struct xb_fit_fast *(*fast_form)(void *self, void *tile);
    int (*energy_law)(void *self, double *k_res_s, double *k_cap_farad);
    double (*residual_noise)(void *self);
    int (*program_multi)(void *self, const xb_array_params *p, const xb_matrix *const *g, size_t n, void **tiles,
                         xb_error *err); /* tiles[k] as program() called for k = 0..n-1 in order */
} xb_engine_ops;

/* A configured engine of class cls with ops (copied) on self, capabilities caps.  On failure
 * ops->destroy(self) is called. */
int xb_engine_wrap(const xb_engine_class *cls, const xb_engine_ops *ops, void *self, unsigned caps,
                   xb_engine **out, xb_error *err);
/* The self pointer given to xb_engine_wrap. */
void *xb_engine_self(const xb_engine *e);
/* ================================================================== native transients and
 * single-cell reads (src/engine/native_tran.c, native_read.c; docs/native.md).  Plain
 * functions and structs on the same circuits and solvers as the native engine above. */

/* ---- read transient: the circuit of src/characterize/transient.c solved natively ---- */
typedef enum {
    XB_TRAN_TRAP = 0, /* trapezoidal rule (2nd order), backward-Euler start after each breakpoint */
    XB_TRAN_BE = 1    /* backward Euler (1st order, L-stable) */
} xb_engine_tran_method;

typedef struct xb_engine_tran_opts {
    double t_rise_s;        /* row inputs ramp from 0 V to v over t_rise (> 0) ... */
    double t_read_s;        /* ... then stay at v for t_read; the run ends at t_rise + t_read */
    double settle_tol;      /* settling band relative to each column's final current */
    size_t t_points;        /* largest step = (t_rise + t_read) / t_points (transient.c's meaning) */
    xb_engine_tran_method method;
    double lte_rtol;        /* local truncation error per step, relative to each node voltage;
                               0: fixed steps (largest step, BE start for TRAP) */
    double c_cell_farad;    /* per-cell capacitance between the cell's row and column node
                               (0: the circuit ngspice gets from transient.c) */
} xb_engine_tran_opts;

/* Defaults (docs/native.md): t_rise 10 ps, t_read 10 ns, settle_tol 1e-3, t_points 200 (the
 * campaign's [transient] defaults), TRAP, lte_rtol 1e-6, c_cell 0. */
void xb_engine_tran_opts_default(xb_engine_tran_opts *o);

/* Also the ngspice read transient's result (xb_char_transient, characterize.h, which fills
 * everything but the work done). */
typedef struct xb_engine_tran_result {
    size_t cols;
    double *t_settle_s;       /* cols: last time |I - I_final| > tol |I_final| (interpolated) */
    double t_settle_max_s;
    double e_read_joule;      /* integral of sum_i V_i(t) I_i(t) over the run (trapezoid) */
    double *i_peak_amp;       /* cols: max |I_col(t)| */
    double i_supply_peak_amp; /* max |sum_i I_i(t)| over the row sources */
    double *i_final_amp;      /* cols: currents at the end of the run */
    int settled;              /* every column settled before t_rise + 0.9 t_read */
    size_t n_time;            /* accepted time points, t = 0 included */
    double *time_s;           /* n_time */
    double *i_col_amp;        /* n_time x cols, current into each column's sense node */
    double *p_supply_watt;    /* n_time */
    /* work */
    size_t steps, rejected, factorizations, newton_iterations, solves;
    size_t n_unknowns;
    double t_steady_s;        /* time from which the state was the DC solution to within
                                 1e-3 of the error tolerance and the run jumped to the end
                                 (0: never) */
    double t_factor_s, t_solve_s, t_total_s; /* factorizations, solves, whole call */
} xb_engine_tran_result;

void xb_engine_tran_result_clear(xb_engine_tran_result *r);

/* Read transient of array p with conductances g (rows x cols, programmed) and input step
 * amplitudes v (length rows, volts): wire capacitance p->c_wire_farad per segment at its
 * cell-side node, drivers = ideal sources behind r_driver, sense = 0 V virtual ground
 * behind r_sense, every device and cell type of the static engine.  r is filled (clear it
 * with xb_engine_tran_result_clear). */
int xb_engine_native_transient(const xb_array_params *p, const xb_matrix *g, const double *v,
                               const xb_engine_tran_opts *o, xb_engine_tran_result *r,
                               xb_error *err);

/* ---- single-cell reads: the circuits of xb_netlist_read_new solved natively ---- */
/* Current into the selected column's sense node when row sel_row is driven at p->v_read_volt
 * and the other lines float (XB_READ_FLOAT) or are biased (XB_READ_V2, XB_READ_V3) as in
 * xb_netlist_read_new.  o may be NULL (defaults); only o->gmin_siemens is used: ngspice puts
 * that conductance across the access transistor's junctions, and so does this circuit (1T1R). */
int xb_engine_native_read(const xb_engine_opts *o, const xb_array_params *p, const xb_matrix *g,
                          xb_read_scheme scheme, size_t sel_row, size_t sel_col, double *i_read_amp,
                          xb_error *err);

/* The quantities of `xbar sneak` (src/cli/cmd_sneak.c), from four native reads. */
typedef struct xb_engine_sneak_result {
    double i_read_amp;     /* read current with g as given */
    double i_cell_amp;     /* the selected cell alone: 1x1 array, same periphery */
    double i_sneak_amp;    /* i_read - i_cell */
    double i_read_on_amp;  /* read current with the selected cell at g_max ... */
    double i_read_off_amp; /* ... and at g_min */
    double margin;         /* (i_read_on - i_read_off) / i_read_on (0 when i_read_on = 0) */
} xb_engine_sneak_result;

int xb_engine_native_sneak(const xb_engine_opts *o, const xb_array_params *p, const xb_matrix *g,
                           xb_read_scheme scheme, size_t sel_row, size_t sel_col,
                           xb_engine_sneak_result *out, xb_error *err);

/* ------------------------------------------------------------------ native programming pulses */
/* Programming pulses on an array of dynamic devices (the device's dynamic model, docs/native.md
 * "Programming pulses"): per pulse a quasi-static nodal solve of the whole array (wire
 * capacitance neglected: RC << pulse width, docs/native.md) at full amplitude, then every
 * device's state equation integrated through the pulse's trapezoid (adaptive Dormand-Prince)
 * with the pulsed cell solved exactly against the linearized rest of the array.  A pulse sets
 * every row source, column source and gate line to one of two levels (the pulsed line's or
 * the others'), ramping from 0 in edge_s, held width_s, back to 0 in edge_s, then gap_s idle. */
typedef struct xb_engine_wpulse {
    size_t row, col;                 /* the pulsed cell */
    double v_row_sel, v_row_other;   /* row sources at full amplitude (volt) */
    double v_col_sel, v_col_other;   /* column sources (behind r_sense) */
    double v_gate_sel, v_gate_other; /* gate lines: 1T1R access gates, or the gated device's */
    double width_s;
} xb_engine_wpulse;

typedef struct xb_engine_write_in {
    const xb_array_params *p;  /* device with a dynamic model; d2d samples from p->seed */
    const double *state;       /* rows x cols, the dynamic model's state (model units) */
    const double *noise;       /* rows x cols noise-terminal values, or NULL (none) */
    size_t n_pulses;
    const xb_engine_wpulse *pulses;
    double edge_s, gap_s;
    double t_idle_s;           /* idle time counted once before the pulses (simulated time) */
    int full_array;            /* 1: solve the whole array at every pulse even where the
                                  unselected rows are isolated (1T1R with their access
                                  transistors off: then only the selected row and its columns
                                  carry current, docs/native.md); for cross-checks */
} xb_engine_write_in;

typedef struct xb_engine_write_out {
    double *state_end;    /* rows x cols (caller-allocated) */
    double *state_before; /* n_pulses: the pulsed cell at the start of its slot */
    double *state_after;  /* n_pulses: ... and at its end */
    double *e_joule;      /* n_pulses: energy all sources delivered during the slot */
    double t_sim_s;       /* simulated time */
    size_t n_factor;      /* sparse factorizations (statistics) */
    size_t n_rhs;         /* state-equation evaluations of the pulsed cells (statistics) */
    /* 1S1R with the threshold-switching selector (else untouched); NULL: not wanted */
    double *sel_peak;       /* n_pulses: the pulsed cell's highest selector state in its slot */
    double *sel_peak_other; /* n_pulses: the highest of every other cell's */
} xb_engine_write_out;

int xb_engine_native_write(const xb_engine_opts *o, const xb_engine_write_in *in, xb_engine_write_out *out,
                           xb_error *err);
/* 1 when xb_engine_native_write solves arrays like p (its device's dynamic model is among the
 * native ones, rram, pcm and ecram; cells 1r, 1t1r, 1s1r with either selector), else 0. */
int xb_engine_native_write_supports(const xb_array_params *p);
/* ================================================================== end of native transients
 * and single-cell reads */

/* ------------------------------------------------------------------ misc */
/* Initialise libngspice in THIS process and read back the version line it prints
 * ("ngspice-39 ..."), for `xbar --version`. Only in a process that runs no simulation. */
int xb_engine_ngspice_version_inprocess(char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* XBAR_ENGINE_H */
