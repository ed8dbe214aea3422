/*
 * xbar netlist stage: the crossbar description shared by every engine, the
 * device read equations, and the SPICE netlist writer.
 *
 * Circuit topology (the contract the native engine and the fit stage rely on):
 *   - rows i = 0..rows-1 (word lines), columns j = 0..cols-1 (bit lines);
 *   - row i is driven at its left end by an ideal source V_i behind r_driver_ohm;
 *     the row wire has one segment of r_wire_row_ohm in front of every cell:
 *     driver -> seg -> node r(i,0) -> seg -> node r(i,1) ... (cols segments);
 *   - column j is sensed at its bottom end: node c(0,j) -> seg -> c(1,j) ... ->
 *     c(rows-1,j) -> seg -> r_sense_ohm -> 0 V virtual ground (rows segments);
 *   - cell (i,j) sits between r(i,j) and c(i,j): a device alone (1R), a device in
 *     series with an access NMOS whose gate is the row's gate line (1T1R), or a
 *     selector in series with the device (1S1R);
 *   - the output current of column j is the current flowing from the column into
 *     its sense node (positive for positive inputs and conductances).
 * A zero resistance means the element is a short (it is not emitted).
 */
#ifndef XBAR_NETLIST_H
#define XBAR_NETLIST_H

#include <stdint.h>

#include "xbar/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { XB_DEVICE_LINEAR = 0, XB_DEVICE_RRAM, XB_DEVICE_PCM, XB_DEVICE_ECRAM } xb_device_kind;
typedef enum { XB_CELL_1R = 0, XB_CELL_1T1R, XB_CELL_1S1R } xb_cell_kind;
typedef enum { XB_READ_MVM = 0, XB_READ_FLOAT, XB_READ_V2, XB_READ_V3 } xb_read_scheme;

/* Everything that defines one array configuration.  Fill with
 * xb_array_params_default(); the defaults table (src/netlist/defaults.c) cites
 * the source of every number.  Stages may add fields at the end. */
typedef struct xb_array_params {
    size_t rows, cols;
    xb_device_kind device;
    xb_cell_kind cell;

    /* interconnect and periphery */
    double r_wire_row_ohm;   /* per row segment */
    double r_wire_col_ohm;   /* per column segment */
    double r_driver_ohm;     /* row driver output resistance */
    double r_sense_ohm;      /* series resistance into the virtual ground */
    double c_wire_farad;     /* per segment to ground, transient only */
    double v_read_volt;      /* read voltage; device G is the chord conductance at it */

    /* device read nonlinearity: I = G * v_read * sinh(V/v0) / sinh(v_read/v0) */
    double rram_v0_volt;     /* Stanford-PKU V0 */
    double pcm_v0_low_volt;  /* PCM V0 at g_min (amorphous, most nonlinear) */
    double pcm_v0_high_volt; /* PCM V0 at g_max (crystalline, nearly ohmic) */
    double g_min_siemens;    /* device programmable range */
    double g_max_siemens;

    /* 1T1R access NMOS (level-1 Shichman-Hodges) */
    double nmos_kp_a_per_v2; /* mu_n Cox */
    double nmos_w_over_l;
    double nmos_vt_volt;
    double nmos_lambda_per_v;
    double v_gate_volt;      /* gate line voltage of selected rows */

    /* 1S1R static selector: I = is * sinh(V / vs) */
    double sel_is_amp;
    double sel_vs_volt;

    /* variability (all off by default) */
    uint64_t seed;
    int var_program;         /* per-cell programming error, device-specific sigma(G) */
    int var_d2d;             /* device-to-device spread of dynamic-model parameters */
    double stuck_on_rate;    /* fraction of cells stuck at g_max */
    double stuck_off_rate;   /* fraction of cells stuck at g_min */

    /* differential pairs: physical columns 2k (G+) and 2k+1 (G-) form logical output k,
     * I_k = I_2k - I_2k+1 (xb_netlist_diff_combine); cols must be even */
    int diff_pairs;
} xb_array_params;

/* Fill p with the default configuration for a device (rows/cols left at 0). */
void xb_array_params_default(xb_array_params *p, xb_device_kind device);

/* Set the row/column wire segment resistances for a technology node (nm) from the NeuroSim
 * table in params.c: 2F crossbar segments, or 4F (row) / 12F (column) for p->cell == 1T1R
 * (set the cell type first).  XB_EINPUT for a node not in the table. */
int xb_array_params_tech_node(xb_array_params *p, long node_nm, xb_error *err);

/* Check p for consistency; the message names the offending field (flag name). */
int xb_array_params_check(const xb_array_params *p, xb_error *err);

const char *xb_device_name(xb_device_kind d);
int xb_device_from_name(const char *s, xb_device_kind *out);
const char *xb_cell_name(xb_cell_kind c);
int xb_cell_from_name(const char *s, xb_cell_kind *out);

/* ---- static read equations (one C implementation; models/ holds the SPICE one) ---- */

/* Current through a device programmed to g_siemens with v_volt across it, and dI/dV. */
void xb_device_read_iv(const xb_array_params *p, double g_siemens, double v_volt, double *i_amp,
                       double *didv_siemens);
/* Static selector current and dI/dV (1S1R). */
void xb_selector_iv(const xb_array_params *p, double v_volt, double *i_amp, double *didv_siemens);
/* Access NMOS drain current for given vgs, vds (either sign of vds; source/drain swap),
 * with partial derivatives dId/dVgs, dId/dVds.  Same equations as ngspice MOS level 1. */
void xb_nmos_iv(const xb_array_params *p, double vgs, double vds, double *id_amp, double *gm,
                double *gds);

/* sinh arguments are clamped to +-XB_SINH_CLAMP in C and in SPICE alike. */
#define XB_SINH_CLAMP 40.0
/* Read-nonlinearity voltage V0 of a device programmed to g_siemens (RRAM: rram_v0_volt;
 * PCM: linear in (g-g_min)/(g_max-g_min) from pcm_v0_low_volt to pcm_v0_high_volt);
 * 0 for ohmic devices (linear, ECRAM channel). */
double xb_device_v0_volt(const xb_array_params *p, double g_siemens);
/* K in I = K sinh(V/V0), i.e. g v_read / sinh(v_read/V0); 0 for ohmic devices. */
double xb_device_sinh_prefactor_amp(const xb_array_params *p, double g_siemens);

/* ---- dynamic models (rram_dyn, pcm_dyn, ecram_dyn in the models/ libraries) ---- */
typedef struct xb_dyn_param {
    xb_device_kind device;
    const char *name;    /* instance parameter name in the subcircuit */
    double value;        /* default (units in the note) */
    double d2d_sigma;    /* relative lognormal device-to-device spread under var_d2d */
    const char *note;    /* meaning, unit and citation */
} xb_dyn_param;

/* The defaults table of all dynamic-model parameters (src/netlist/params.c). */
const xb_dyn_param *xb_netlist_dyn_params(size_t *n);

/* Instance parameter list ("name=value ...", malloc'ed into *out) for the dynamic model of
 * p->device; with p->var_d2d each parameter with a d2d_sigma is multiplied by
 * exp(sigma * N(0,1)) drawn from a GSL RNG seeded with (p->seed, cell_index), so every
 * cell of an array gets its own reproducible sample.  `overrides` ("name=value ...", may be
 * NULL) replaces table values (e.g. the initial state) before the spread. */
int xb_netlist_dyn_instance(const xb_array_params *p, size_t cell_index, const char *overrides,
                            char **out, xb_error *err);

/* Subcircuit name of the dynamic model ("rram_dyn", ...) and its library file name. */
const char *xb_netlist_dyn_subckt(xb_device_kind d);
const char *xb_netlist_model_lib(xb_device_kind d);

/* ---- variability (seeded GSL RNG, reproducible for a given p->seed) ---- */

/* Programming error sigma(G) in siemens for a target conductance (device-specific:
 * PCM IBM polynomial (Joshi 2020 / aihwkit), RRAM Wan 2022 polynomial, ECRAM one update
 * step; see params.c). */
double xb_netlist_sigma_program(const xb_array_params *p, double g_siemens);

/* Apply the variability switched on in p (stuck-at-ON/OFF at their rates, then
 * programming error when p->var_program) to the target matrix g_target, writing the
 * programmed conductances to g_out (same shape; may alias g_target).  Conductances are
 * clamped at >= 0.  Without any variability switch g_out = g_target. */
int xb_netlist_program(const xb_array_params *p, const xb_matrix *g_target, xb_matrix *g_out,
                       xb_error *err);

/* ---- time after programming: drift and read noise (src/netlist/drift.c, docs/drift.md) ---- */
#define XB_DRIFT_T0_S 20.0           /* first read after programming (Joshi 2020, aihwkit) */
#define XB_READ_NOISE_T_READ_S 250e-9 /* read duration of the 1/f noise law (aihwkit) */
/* PCM drift exponent statistics at normalized target g_t = G/g_max (aihwkit PCMLikeNoiseModel),
 * and the 1/f read-noise coefficient Q_s. */
double xb_netlist_drift_nu_mean(double g_t);
double xb_netlist_drift_nu_sigma(double g_t);
double xb_netlist_read_noise_qs(double g_t);
/* Conductances t_s seconds after programming from the programmed ones (read at t0):
 * PCM G_prog (t/t0)^-nu, nu ~ N(mu_nu, sigma_nu) truncated at 0 per cell, one seeded draw
 * per cell in row-major order (nu_fixed >= 0: every cell uses nu_fixed); RRAM CMO mean decay
 * and spread in ln(t/t0); ECRAM and LINEAR unchanged.  g_out may alias g_prog. */
int xb_netlist_drift(const xb_array_params *p, const xb_matrix *g_prog, double t_s, uint64_t seed,
                     double nu_fixed, xb_matrix *g_out, xb_error *err);
/* Read-noise sigma (siemens) of a cell programmed to g_prog that reads g_now at t_s, and one
 * seeded read-noise sample of a whole array (clamped >= 0; g_out may alias g_now). */
double xb_netlist_read_noise_sigma(const xb_array_params *p, double g_prog, double g_now, double t_s);
int xb_netlist_read_noise(const xb_array_params *p, const xb_matrix *g_prog, const xb_matrix *g_now, double t_s,
                          uint64_t seed, xb_matrix *g_out, xb_error *err);

/* ---- SPICE netlists (topology at the top of this file) ---- */

/* An independent voltage source the caller drives (layout-compatible with
 * xb_engine_source in engine.h): name without the leading 'V'. */
typedef struct xb_netlist_source {
    const char *name;
    const char *node_pos;
    const char *node_neg;
} xb_netlist_source;

typedef struct xb_netlist xb_netlist; /* opaque */

/* Static MVM read circuit of g (rows x cols conductances in siemens, already programmed):
 * every row i driven by source "in<i>" (node_neg "0"), every column sensed by a 0 V
 * source; outputs[j] = "i(vs<j>)", the current of column j into its sense node. */
int xb_netlist_mvm_new(const xb_array_params *p, const xb_matrix *g, xb_netlist **out,
                       xb_error *err);

/* Single-cell read of (sel_row, sel_col) with scheme float / V2 / V3: the selected row is
 * the one driven source "in<sel_row>" (drive it with p->v_read_volt); unselected rows and
 * columns float (XB_READ_FLOAT) or are held at V/2 (XB_READ_V2) or at V/3 (rows) and
 * 2V/3 (columns) (XB_READ_V3) as fixed sources of the body behind r_driver / r_sense.
 * The one output is the selected column's sense current. 1T1R: only the selected row's
 * gate line is at v_gate, the others at 0 V. */
int xb_netlist_read_new(const xb_array_params *p, const xb_matrix *g, xb_read_scheme scheme,
                        size_t sel_row, size_t sel_col, xb_netlist **out, xb_error *err);

/* Dynamic (transient programming) array: every cell is the device's dynamic subcircuit
 * (rram_dyn / pcm_dyn / ecram_dyn) with its own parameter sample (var_d2d, per cell index
 * i*cols+j) and initial state state0 (rows x cols, model units: RRAM gap in nm, PCM
 * crystalline fraction, ECRAM x in [0,1]); wire capacitance c_wire_farad to ground at
 * every wire node.  Sources for the caller to drive (PWL in a .tran): rows "in<i>", and
 * the gate lines "gl<i>" (node gl<i>) of 1T1R access transistors or of ECRAM cells (the
 * ECRAM gate terminal of every cell of row i is on gl<i>; ECRAM needs cell 1r).  Outputs:
 * the cols sense currents "i(vs<j>)", then the rows*cols states "v(xg<i>_<j>.gap|c|x)". */
int xb_netlist_dynamic_new(const xb_array_params *p, const xb_matrix *state0, xb_netlist **out,
                           xb_error *err);

/* Circuit body: title-less element list with the .include/.model lines it needs, no
 * analysis card, no .end. */
const char *xb_netlist_body(const xb_netlist *n);
size_t xb_netlist_n_sources(const xb_netlist *n);
const xb_netlist_source *xb_netlist_sources(const xb_netlist *n);
size_t xb_netlist_n_outputs(const xb_netlist *n);
const char *const *xb_netlist_outputs(const xb_netlist *n);
void xb_netlist_free(xb_netlist *n);

/* Directory of the SPICE model libraries (src/netlist/models_dir.c): $XBAR_MODELS_DIR, else
 * share/xbar/models found relative to the program or libxbar.so holding the library (installed:
 * <prefix>/share/xbar/models; build tree: build/share/xbar/models).  When it is not found,
 * the first place looked at (decks then fail naming it); xb_netlist_models_dir_find gives
 * XB_ERUNTIME with every place looked at instead. */
const char *xb_netlist_models_dir(void);
int xb_netlist_models_dir_find(const char **dir, xb_error *err);

/* Differential pairs: i_phys K x cols -> i_out K x cols/2 with I_k = I_2k - I_2k+1. */
int xb_netlist_diff_combine(const xb_matrix *i_phys, xb_matrix *i_out, xb_error *err);

/* Read-scheme names for --scheme: "float", "v2", "v3". */
int xb_read_scheme_from_name(const char *s, xb_read_scheme *out);
const char *xb_read_scheme_name(xb_read_scheme s);

#ifdef __cplusplus
}
#endif
#endif /* XBAR_NETLIST_H */
