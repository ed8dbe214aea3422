/*
 * xbar characterize stage: campaigns (INI files, docs/campaigns.md), sweep points, and
 * the results HDF5 file (docs/hdf5-results.md).
 *
 *   campaign text --xb_char_campaign_parse--> N sweep points (cartesian product of lists)
 *   xb_char_run: runs the points not yet in the results file, several in parallel (one
 *   forked point process each, every simulation inside it on an engine worker), writes
 *   each finished point to the file as it completes (file closed between points, so a
 *   kill -9 loses at most the points in flight), records failed points with their log.
 */
#ifndef XBAR_CHARACTERIZE_H
#define XBAR_CHARACTERIZE_H

#include <hdf5.h>
#include <stdint.h>

#include "xbar/common.h"
#include "xbar/engine.h"
#include "xbar/netlist.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Results file format name and version (root attributes "format", "format_version"). */
#define XB_CHAR_FORMAT "xbar-results"
#define XB_CHAR_FORMAT_VERSION 1

/* Engine requested for a point's solves (static MVM, IR-drop map, single-cell reads, read
 * transient): spice, native (SuiteSparse), auto (native above a size threshold, a sample
 * of points re-solved in ngspice), ideal (V.G only, no circuit: for smoke runs). */
typedef enum { XB_CHAR_ENGINE_SPICE = 0, XB_CHAR_ENGINE_NATIVE, XB_CHAR_ENGINE_AUTO, XB_CHAR_ENGINE_IDEAL } xb_char_engine;
const char *xb_char_engine_name(xb_char_engine e);

/* Input statistics of the random input vectors. */
typedef enum { XB_CHAR_INPUT_UNIFORM = 0, XB_CHAR_INPUT_SPARSE, XB_CHAR_INPUT_ONEHOT, XB_CHAR_INPUT_BITSERIAL } xb_char_input;
const char *xb_char_input_name(xb_char_input in);

/* Most read times of a point's drift record ([drift] times_s; the fit's limit). */
#define XB_CHAR_DRIFT_MAX_TIMES 64
/* Most start states of a point's pulse trains ([program] start_pulses). */
#define XB_CHAR_PROGRAM_MAX_STARTS 16

/* One sweep point: everything needed to compute it. */
typedef struct xb_char_point {
    size_t index;            /* position in the sweep, 0..N-1 */
    char name[32];           /* HDF5 group name under /points: "p00012" */
    char key[768];           /* canonical "k=v ..." description of the point */
    uint64_t seed;           /* base seed of this point (campaign seed mixed with the key) */

    xb_array_params array;   /* complete array configuration (variability switches included) */
    xb_char_engine engine;   /* as requested */
    int use_native;          /* resolved engine for every solve: 1 native, 0 spice/ideal */
    int spice_check;         /* auto: also solve sample 0 in ngspice (MVM, single-cell reads) and record
                                the disagreement */
    int transient_check;     /* auto: also run the transient in ngspice (spice_check and the size
                                within [transient] max_size) */

    xb_char_input input;
    double input_density;    /* sparse: probability that an input is non-zero */
    int bit_levels;          /* bitserial: bits per input (levels = 2^bits) */
    size_t samples;          /* random target G matrices */
    size_t monte_carlo;      /* variability realisations per target */
    size_t vectors;          /* input vectors K per (G) sample */

    unsigned read_schemes;   /* bit (1u << xb_read_scheme) for FLOAT, V2, V3; 0 = none */

    int transient;           /* run the transient read (settling, energy, peaks) */
    double t_read_s;         /* read pulse width at full amplitude */
    double t_rise_s;         /* input step rise time */
    double settle_tol;       /* relative band for the settling time (1e-3 = 0.1%) */
    size_t t_points;         /* maximum time step = t_read / t_points */

    int program;             /* dynamic programming curves (device pulse trains) */
    size_t pulses;           /* pulses per direction per cycle */
    size_t cycles;           /* potentiation/depression cycles (cycle-to-cycle spread) */
    double pulse_volt;       /* programming pulse amplitude (device default when 0) */
    double pulse_width_s;    /* programming pulse width (device default when 0) */
    double c2c_sigma;        /* cycle-to-cycle noise: relative std of each pulse's width */
    uint64_t c2c_seed;       /* seed of the pulse-width jitter streams (0: the point's seed); another
                              * value: new noise on the same Monte Carlo devices */
    size_t devices;          /* Monte Carlo devices, one pulse train per start state each (their own
                              * parameter sample with array.var_d2d) */
    size_t n_starts;         /* start states of the trains (>= 1) */
    long start_pulses[XB_CHAR_PROGRAM_MAX_STARTS]; /* pulses before the cycles: +m up, -m down */

    int write;               /* [write] enabled: program sample 0's target G into the array in circuit */
    int write_scheme;        /* xb_write_scheme */
    int write_verify;        /* write-verify (else open loop) */
    double write_tol;        /* |G - G_target| <= tol (g_max - g_min) */
    size_t write_max_pulses; /* per cell */
    int write_c2c;           /* cycle-to-cycle noise draws */
    int write_selector;      /* xb_selector_kind of 1S1R cells */

    int drift;               /* PCM point with [drift] enabled: record drift + read noise */
    size_t drift_n_times;    /* read times after programming (3..XB_CHAR_DRIFT_MAX_TIMES) */
    double drift_times_s[XB_CHAR_DRIFT_MAX_TIMES]; /* increasing, seconds */
} xb_char_point;

typedef struct xb_campaign xb_campaign;

/* Parse a campaign.  `name` (the file path) prefixes every message: "name:LINE: ...".
 * Unknown sections/keys and bad values are XB_EINPUT. */
int xb_char_campaign_parse(const char *text, const char *name, xb_campaign **out, xb_error *err);
int xb_char_campaign_load(const char *path, xb_campaign **out, xb_error *err);
void xb_char_campaign_free(xb_campaign *c);

const char *xb_char_campaign_name(const xb_campaign *c);
const char *xb_char_campaign_text(const xb_campaign *c);
size_t xb_char_campaign_npoints(const xb_campaign *c);
const xb_char_point *xb_char_campaign_point(const xb_campaign *c, size_t k);
/* Warnings of an accepted campaign ("FILE:LINE: ..."; e.g. a value twice in a sweep list):
 * k = 0 .. n-1, NULL past the end.  The CLI prints them. */
size_t xb_char_campaign_n_warnings(const xb_campaign *c);
const char *xb_char_campaign_warning(const xb_campaign *c, size_t k);
int xb_char_campaign_workers(const xb_campaign *c);      /* parallel points, 0 = cores */
double xb_char_campaign_timeout_s(const xb_campaign *c); /* per simulation job */

/* ------------------------------------------------------------------ one point */
/* Compute point k and write its datasets into the open group `g` (docs/hdf5-results.md).
 * Simulations run through the engine with options eo.  Returns XB_OK, or the error of
 * the first failing simulation (the caller records the point as failed). */
int xb_char_point_compute(const xb_campaign *c, size_t k, const xb_engine_opts *eo, hid_t g,
                          xb_error *err);

/* ------------------------------------------------------------------ whole campaign */
typedef struct xb_char_progress {
    size_t total;           /* points in the campaign */
    size_t skipped;         /* already in the file when the run started */
    size_t to_run;          /* points this run will compute */
    size_t done;            /* of to_run, finished so far (ok or failed) */
    size_t failed;          /* of done, failed */
    const char *point;      /* name of the point just finished (NULL at start) */
    const char *key;        /* its description */
    int status;             /* XB_OK or its failure code */
    const char *message;    /* failure message, "" when ok */
    double point_s;         /* wall time of that point */
    double elapsed_s;       /* since the run started */
    double eta_s;           /* estimate of the remaining time, < 0 when unknown */
} xb_char_progress;

typedef void (*xb_char_progress_fn)(void *user, const xb_char_progress *pr);

typedef struct xb_char_run_opts {
    int force;              /* overwrite an existing file of another campaign / start over */
    int retry_failed;       /* recompute points recorded as failed */
    size_t max_points;      /* stop after computing this many points (0 = all) */
    int n_parallel;         /* points in flight; 0 = campaign `workers`, else cores */
    double timeout_s;       /* per simulation job; 0 = campaign value */
    xb_char_progress_fn progress;
    void *user;
} xb_char_run_opts;

typedef struct xb_char_run_stats {
    size_t total, skipped, ran, failed;
    size_t run_number;      /* 1 for the first invocation on a file, then 2, 3, ... */
} xb_char_run_stats;

/* Run the campaign into out_path (see the top of this file).  XB_EINPUT if out_path exists
 * and holds another campaign (or is not a results file) and !force.  A failed point does
 * not fail the run. */
int xb_char_run(const xb_campaign *c, const char *out_path, const xb_char_run_opts *o,
                xb_char_run_stats *stats, xb_error *err);

/* ------------------------------------------------------------------ reading a results file */
/* The one reader of results files (docs/hdf5-results.md): `xbar fit`, `xbar report` and
 * `xbar inspect` read them through these functions only.  Attributes that are absent read
 * as NAN (numbers) or "" (strings); present attributes of the wrong type, missing datasets
 * and wrong shapes are XB_EINPUT with one line naming the file and the object. */
typedef struct xb_char_results xb_char_results;

/* Open read-only; checks the root attributes format (XB_CHAR_FORMAT) and format_version
 * (XB_CHAR_FORMAT_VERSION) and that /points exists. */
int xb_char_results_open(const char *path, xb_char_results **out, xb_error *err);
void xb_char_results_close(xb_char_results *r);

/* Provenance (root attributes, /campaign/text); NULL when absent.  Owned by r. */
typedef struct xb_char_results_prov {
    const char *campaign_name, *xbar_version, *ngspice_version, *campaign_text;
} xb_char_results_prov;
void xb_char_results_provenance(const xb_char_results *r, xb_char_results_prov *out);

/* Groups under /points, in name order, including points a running campaign is moving in
 * (in_flight below). */
size_t xb_char_results_npoints(const xb_char_results *r);

#define XB_CHAR_MAX_SCHEMES 8
/* One point's attributes (the datasets are read by the functions after it). */
typedef struct xb_char_result_point {
    size_t index;             /* k of xb_char_results_point */
    char name[64];            /* group under /points: "p00012" */
    int in_flight;            /* ".incoming_*": being moved in by a running campaign, not finished */
    char status[16];          /* "ok", "failed"; "" while the point is being written */
    char device[32], cell[32], engine[32], input[32];
    char key[1024];
    /* configuration; NAN when absent */
    double rows, cols, var_program;
    double r_wire_row_ohm, r_wire_col_ohm, r_driver_ohm, r_sense_ohm, c_wire_farad, v_read_volt;
    double g_min_siemens, g_max_siemens, v_gate_volt;
    /* which sections the point has */
    int has_mvm, has_ir_map, has_read, has_transient, has_program, has_drift, has_write;
    int has_trains;           /* program/train_g: pulse-train records (xb_char_results_read_trains) */
    struct {                  /* mvm/ attributes */
        double err_total_mean, err_total_max, err_target_mean, spice_check_rel_l2;
        double e_read_static_joule, e_per_mac_static_joule;
    } mvm;
    struct {                  /* transient/ attributes */
        double t_settle_max_s, e_read_joule, e_per_mac_joule, t_read_s, t_rise_s, c_wire_farad;
        char input[64];
    } transient;
} xb_char_result_point;

int xb_char_results_point(const xb_char_results *r, size_t k, xb_char_result_point *out, xb_error *err);

/* The array configuration of a point: the device's defaults with the point's attributes
 * over them, checked (xb_array_params_check).  XB_EINPUT naming the point for a missing or
 * unknown device or cell, rows/cols that are not integers >= 1, or a bad combination. */
int xb_char_results_point_config(const xb_char_results *r, const xb_char_result_point *pt, xb_array_params *p,
                                 xb_error *err);

/* Static MVM samples (mvm/): N realisations (samples x monte_carlo, n = s*M + m), K vectors,
 * shapes checked against the point's rows and cols.  Free with xb_char_result_mvm_clear. */
typedef struct xb_char_result_mvm {
    size_t rows, cols, S, N, K; /* S = 0 without g_target */
    double *g_target;           /* S x rows x cols, or NULL */
    double *g;                  /* N x rows x cols */
    double *v;                  /* N x K x rows */
    double *i_circuit;          /* N x K x cols */
} xb_char_result_mvm;
int xb_char_results_read_mvm(const xb_char_results *r, const xb_char_result_point *pt, xb_char_result_mvm *out,
                             xb_error *err);
void xb_char_result_mvm_clear(xb_char_result_mvm *m);

/* The IR-drop map mvm/v_cell (rows x cols volts, row-major); *v_cell malloc'ed. */
int xb_char_results_read_ir_map(const xb_char_results *r, const xb_char_result_point *pt, double **v_cell,
                                size_t *rows, size_t *cols, xb_error *err);

/* The read transient's waveforms (transient/): T >= 2 time points time_s and the column
 * currents i_col_amp (T x cols).  Free with xb_char_result_transient_clear. */
typedef struct xb_char_result_transient {
    size_t T, cols;
    double *time_s, *i_col_amp;
} xb_char_result_transient;
int xb_char_results_read_transient(const xb_char_results *r, const xb_char_result_point *pt,
                                   xb_char_result_transient *out, xb_error *err);
void xb_char_result_transient_clear(xb_char_result_transient *t);

/* Single-cell read schemes (read/): the attribute `schemes` split at commas, paired with
 * the dataset `margin` (the shorter of the two counts). */
typedef struct xb_char_result_read {
    size_t n;
    char scheme[XB_CHAR_MAX_SCHEMES][16];
    double margin[XB_CHAR_MAX_SCHEMES];
} xb_char_result_read;
int xb_char_results_read_schemes(const xb_char_results *r, const xb_char_result_point *pt,
                                 xb_char_result_read *out, xb_error *err);

/* The programming curve program/g (conductance before the first pulse and after each,
 * siemens); *g malloc'ed. */
int xb_char_results_read_program(const xb_char_results *r, const xb_char_result_point *pt, double **g, size_t *n,
                                 xb_error *err);

/* Pulse-train records program/train_* (campaigns with [program] trains, docs/hdf5-results.md):
 * D Monte Carlo devices, S start states, K pulse slots each.  Shapes, units (S, 1, J),
 * directions (-1, 0, +1) and the slot count 2 x cycles x pulses + preset_slots = K are
 * checked.  Free with xb_char_result_trains_clear. */
typedef struct xb_char_result_trains {
    size_t D, S, K;
    double *g;          /* D x S x (K+1): read conductance before the first slot and after each (S) */
    double *e;          /* D x S x K: energy the pulse source delivered per slot (J) */
    int *dir;           /* S x K: +1 potentiating pulse, -1 depressing, 0 idle read */
    double up_volt, down_volt, pulse_width_s;
    size_t cycles, pulses, preset_slots;
} xb_char_result_trains;
int xb_char_results_read_trains(const xb_char_results *r, const xb_char_result_point *pt,
                                xb_char_result_trains *out, xb_error *err);
void xb_char_result_trains_clear(xb_char_result_trains *t);

/* Drift record drift/ (PCM points): T read times t_s (3..XB_CHAR_DRIFT_MAX_TIMES, positive,
 * increasing) and g (T x n).  Free with xb_char_result_drift_clear. */
typedef struct xb_char_result_drift {
    size_t T, n;
    double *t_s, *g;
} xb_char_result_drift;
int xb_char_results_read_drift(const xb_char_results *r, const xb_char_result_point *pt,
                               xb_char_result_drift *out, xb_error *err);
void xb_char_result_drift_clear(xb_char_result_drift *d);

/* Array programming in circuit (write/, the layout of docs/hdf5-program.md): per cell
 * (rows x cols, row-major, shapes checked against the point's) the targets, the conductance
 * after the whole programming, the disturb from the other cells' pulses, the pulses used and
 * their energy; the summary attributes.  Free with xb_char_result_write_clear. */
typedef struct xb_char_result_write {
    size_t rows, cols;
    char scheme[8];
    double verify, tol, e_total_joule, t_program_s, pulses_mean, converged_fraction, rms_error_siemens,
        max_abs_disturb_siemens;
    double *g_target, *g_final, *disturb, *pulses, *e_joule;
} xb_char_result_write;
int xb_char_results_read_write(const xb_char_results *r, const xb_char_result_point *pt, xb_char_result_write *out,
                               xb_error *err);
void xb_char_result_write_clear(xb_char_result_write *w);

/* ------------------------------------------------------------------ pieces, for tests */
/* Transient read of the static MVM circuit with wire capacitance c_wire_farad per segment:
 * inputs v (length rows) step from 0 with rise t_rise, held for t_read.  Results:
 * settling time of every column current to within tol of its final value (t_settle_s,
 * length cols, measured from t = 0), the largest of them, the read energy (integral of the
 * power supplied by the row sources over [0, t_rise + t_read]), peak column currents and
 * the peak total supply current. */
/* The same type as the native engine's xb_engine_tran_result (engine.h): ngspice fills its
 * results and cols, not the work counters. */
typedef xb_engine_tran_result xb_char_transient;

int xb_char_transient_run(const xb_engine_opts *eo, const xb_array_params *p, const xb_matrix *g,
                          const double *v, double t_rise_s, double t_read_s, double tol,
                          size_t t_points, xb_char_transient *out, char **deck_out, xb_error *err);
void xb_char_transient_clear(xb_char_transient *t);

/* ------------------------------------------------------------------ array programming */
/* Writing a target conductance matrix into an array in circuit (`xbar program`, the [write]
 * campaign section; docs/hdf5-program.md).  Every programming pulse is applied to the whole
 * array with the chosen half-select scheme, so unselected cells see their real disturb:
 *   V2: selected row at V, selected column at 0, every other row and column at V/2;
 *   V3: unselected rows at V/3, unselected columns at 2V/3 (half-selected cells see V/3).
 * Gated devices (ECRAM): the scheme acts between the gate lines (rows) and the channel (drain
 * lines at 0 V, columns at twice the scheme's column level, so that every cell's gate-to-channel
 * voltage is the scheme's: V selected, V/2 or V/3 half-selected; the selected cell sees the
 * device's own biasing, drain and source grounded).  1T1R: only the selected row's access gate
 * is on (at the compliance voltage during potentiation, v_gate otherwise); the other gates sit
 * at the pulse's lowest line level (0 V, or V for a negative pulse), so their transistors stay
 * off in both polarities. */
typedef enum { XB_WRITE_V2 = 0, XB_WRITE_V3 } xb_write_scheme;
const char *xb_write_scheme_name(xb_write_scheme s);
int xb_write_scheme_from_name(const char *s, xb_write_scheme *out);

typedef struct xb_write_opts {
    xb_write_scheme scheme;
    int verify;            /* 1: write-verify (incremental step pulses, a read after each, stop
                              within tol or after max_pulses); 0: open loop (the pulse count of a
                              single-cell calibration curve, no reads) */
    double tol;            /* verify band: |G - G_target| <= tol (g_max - g_min) */
    size_t max_pulses;     /* per cell */
    int c2c;               /* cycle-to-cycle noise draws (xb_netlist_c2c_draw) */
    uint64_t seed;         /* of the noise draws (d2d samples use the array's p->seed) */
    double width_s;        /* pulse width (0: the device's write recipe) */
    double compliance_amp; /* 1T1R SET current limit (0: the recipe's) */
    size_t chunk_pulses;   /* most pulses per ngspice run (bounds memory; 0: 256) */
} xb_write_opts;
void xb_write_opts_default(xb_write_opts *o);

/* One pulse of a round: cell (row, col), signed amplitude at the selected row (for gated
 * devices: on the selected gate line), width at full amplitude, and the selected row's
 * access-gate voltage (1T1R). */
typedef struct xb_write_pulse {
    size_t row, col;
    double v_volt, width_s, gate_volt;
} xb_write_pulse;

/* The array solve behind every programming pulse: one round of pulses, applied one after the
 * other (ramps edge_s, gap_s idle at 0 V after each) to the whole array with the scheme's
 * biasing; the cells start from `state` (rows x cols, model units) with the noise-terminal
 * values `noise` (rows x cols, this round's).  A solver (ngspice: xb_write_solver_spice; a
 * native time-stepping solver can implement the same entry) fills, per pulse, the pulsed
 * cell's state at the start and end of its slot and the energy every source delivered during
 * the slot (integral of V I), and the states of every cell at the end of the round. */
typedef struct xb_write_round {
    const xb_array_params *p;
    xb_write_scheme scheme;
    const double *state;
    const double *noise;
    size_t n_pulses;
    const xb_write_pulse *pulses;
    double edge_s, gap_s;
    size_t chunk_pulses;  /* a solver may split the round into runs of at most this many pulses,
                             carrying the states (0: 256) */
    double tmax_s;        /* ngspice: largest time step (0: a tenth of the narrowest pulse, at
                             most one edge); the native solver controls its own error */
} xb_write_round;

typedef struct xb_write_round_out {
    double *state_end;    /* rows*cols, caller-allocated */
    double *state_before; /* n_pulses */
    double *state_after;  /* n_pulses */
    double *e_joule;      /* n_pulses */
    double t_sim_s;       /* simulated time of the round */
    char *deck;           /* malloc'ed deck of the first solve (provenance), or NULL */
} xb_write_round_out;

typedef struct xb_write_solver {
    const char *name;
    int (*solve)(const struct xb_write_solver *s, const xb_engine_opts *eo, const xb_write_round *in,
                 xb_write_round_out *out, xb_error *err);
} xb_write_solver;
extern const xb_write_solver xb_write_solver_spice;
/* The native quasi-static solver (xb_engine_native_write; docs/native.md "Programming
 * pulses"): rram, pcm and ecram, cells 1r, 1t1r, 1s1r with the static selector. */
extern const xb_write_solver xb_write_solver_native;
/* The round solver for an engine choice: "spice", "native" (NULL with XB_EINPUT when the
 * native solver has no model of p's device or cell) or "auto" (native when
 * max(rows, cols) > auto_native_above and the native solver has the device, else spice). */
int xb_write_solver_pick(const char *engine, const xb_array_params *p, size_t auto_native_above,
                         const xb_write_solver **out, xb_error *err);
/* The size above which `xbar program --engine auto` programs natively: ngspice takes ~40 s per
 * pulse on a 16x16 1T1R RRAM array (docs/native.md "Programming pulses"). */
#define XB_WRITE_AUTO_NATIVE_ABOVE 32

/* The outcome of programming an array (docs/hdf5-program.md).  Per cell (rows x cols,
 * row-major): target, last verify read after the cell's own pulse, final conductance after
 * the whole programming, disturb (the change of the cell's conductance caused by pulses on
 * other cells, summed over the programming), pulses used, energy of its own pulses, final
 * state, converged (within tol at its last verify read).  Per pulse, in time order: round,
 * cell, amplitude, width, noise draw z, conductance of the pulsed cell before and after its
 * slot, energy.  Per round: pulses, ngspice wall time, simulated time. */
typedef struct xb_write_result {
    size_t rows, cols;
    double *g_target, *g_verify, *g_final, *disturb, *e_cell_joule, *state_final;
    int64_t *pulses, *converged;
    size_t n_pulses;
    int64_t *p_round, *p_row, *p_col;
    double *p_volt, *p_width_s, *p_z, *p_g_before, *p_g_after, *p_e_joule;
    size_t n_rounds;
    int64_t *r_pulses;
    double *r_wall_s, *r_t_sim_s;
    double e_total_joule, t_program_s, wall_s;
    char *deck;           /* the first ngspice deck */
} xb_write_result;
void xb_write_result_clear(xb_write_result *r);

/* Whole-array figures of a programming result (the programming file's summary attributes,
 * docs/hdf5-program.md): per-cell means over rows x cols. */
typedef struct xb_write_summary {
    double pulses_mean, pulses_max;
    double converged_fraction;
    double rms_error_siemens;       /* rms of g_final - g_target */
    double max_abs_disturb_siemens; /* largest |disturb| */
} xb_write_summary;
void xb_write_result_summary(const xb_write_result *r, xb_write_summary *s);

/* Program g_target (rows x cols siemens within [g_min, g_max]) into the array p with options o
 * through `solver` (NULL: ngspice).  XB_EINPUT for a device without a dynamic model, a gated
 * device in a cell other than 1r, targets outside the window, bad options. */
int xb_char_write(const xb_engine_opts *eo, const xb_array_params *p, const xb_matrix *g_target,
                  const xb_write_opts *o, const xb_write_solver *solver, xb_write_result *out, xb_error *err);

/* Write a result into group loc (docs/hdf5-program.md: datasets cells/, pulses/, rounds/, the
 * deck, the summary and option attributes on loc). */
int xb_char_write_h5(hid_t loc, const xb_array_params *p, const xb_write_opts *o, const xb_write_result *r,
                     xb_error *err);

/* Program-file format name and version (root attributes "format", "format_version"). */
#define XB_PROGRAM_FORMAT "xbar-program"
#define XB_PROGRAM_FORMAT_VERSION 1

/* Relative L2 error ||a - b|| / ||b|| over n values (0 when both are zero). */
double xb_char_rel_l2(const double *a, const double *b, size_t n, size_t stride);

#ifdef __cplusplus
}
#endif
#endif /* XBAR_CHARACTERIZE_H */
