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

/* The devices; everything device-specific lives in their descriptor table (below). */
typedef enum {
    XB_DEVICE_LINEAR = 0,
    XB_DEVICE_RRAM,
    XB_DEVICE_PCM,
    XB_DEVICE_ECRAM,
    XB_DEVICE_COUNT /* number of devices, not a device */
} xb_device_kind;
typedef enum { XB_CELL_1R = 0, XB_CELL_1T1R, XB_CELL_1S1R } xb_cell_kind;
typedef enum { XB_READ_MVM = 0, XB_READ_FLOAT, XB_READ_V2, XB_READ_V3 } xb_read_scheme;
/* The 1S1R selector of dynamic (programming) circuits: SINH the static MIEC-like sel_read (also
 * the selector of every read), THRESHOLD the volatile threshold switch sel_ts (models/selector.lib). */
typedef enum { XB_SELECTOR_SINH = 0, XB_SELECTOR_THRESHOLD } xb_selector_kind;

/* Everything that defines one array configuration.  Fill with
 * xb_array_params_default(); the defaults tables (src/netlist/params.c for the array and
 * periphery, src/netlist/device_table.c for the devices) cite the source of every number.
 * Stages may add fields at the end. */
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

    /* device read nonlinearity: I = G * v_read * sinh(V/v0) / sinh(v_read/v0); the user-tunable
     * copies of the V0 knots of the devices' read laws (xb_read_law names which field is whose) */
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

    /* SPICE decks: 0 (default) copies the text of the models/ subcircuits a deck needs into
     * it (self-contained, runs on any machine); 1 writes `.include <models dir>/<lib>` lines
     * (xb_netlist_models_dir()) instead (`xbar netlist --include-models`) */
    int include_models;

    /* 1S1R selector of dynamic (programming) circuits; reads always use the sinh selector.
     * Threshold switch sel_ts (params.c): switching and holding voltages, on/off resistances,
     * holding current, turn-on and relaxation times. */
    xb_selector_kind selector;
    double sel_vth_volt, sel_vhold_volt, sel_ron_ohm, sel_roff_ohm, sel_ihold_amp, sel_ton_s, sel_toff_s;
    /* dynamic circuits: capacitance of the node between the device and its access element
     * (1T1R, 1S1R: drain junction and via) */
    double c_node_farad;
} xb_array_params;

/* Fill p with the default configuration for a device (rows/cols left at 0). */
void xb_array_params_default(xb_array_params *p, xb_device_kind device);

/* The periphery of a tile: converters, sense stage and digital accumulation, per operation
 * (defaults with their sources beside them: src/netlist/params.c, one table with the array
 * defaults).  The executor's energy model (exec.h xb_exec_energy) and the whole-tile energy of
 * `xbar report` (energy_per_mac_tile.png, docs/results.md) read these. */
typedef struct xb_periphery {
    int dac_bits;                  /* input resolution: bits per row drive */
    double dac_joule_per_bit;      /* DAC + row driver, one 1-bit conversion */
    int adc_bits;                  /* output resolution */
    double adc_fom_joule_per_step; /* ADC Walden figure of merit: E_conv = FOM * 2^bits */
    double sense_joule;            /* sense stage (TIA / sample-and-hold), one column read */
    double dig_add_joule;          /* one digital add: accumulation of a column's partial sum */
    double dig_mul_joule;          /* one digital multiply */
    double t_mvm_s;                /* one array read incl. conversion */
} xb_periphery;

void xb_periphery_default(xb_periphery *q);

/* Set the row/column wire segment resistances for a technology node (nm) from the NeuroSim
 * table in params.c: 2F crossbar segments, or 4F (row) / 12F (column) for p->cell == 1T1R
 * (set the cell type first).  XB_EINPUT for a node not in the table. */
int xb_array_params_tech_node(xb_array_params *p, long node_nm, xb_error *err);

/* Check p for consistency; the message names the offending field (flag name). */
int xb_array_params_check(const xb_array_params *p, xb_error *err);

const char *xb_cell_name(xb_cell_kind c);
int xb_cell_from_name(const char *s, xb_cell_kind *out);

/* ---- the device descriptor table (src/netlist/device_table.c; fields in docs/devices.md) ----
 * One xb_device_info per device holds everything device-specific: its name, conductance
 * window, read law, SPICE subcircuits, dynamic-model parameters, statistics laws and test
 * recipes.  Code that differs per device reads the table; the laws below are kinds with
 * coefficients, implemented once (device.c, drift.c, program.c) for every device. */

/* Static read law: OHMIC I = G V, or SINH I = G v_read sinh(V/V0) / sinh(v_read/V0) (G is the
 * chord conductance at v_read) with V0 CONSTANT or LINEAR_IN_G: V0 = V0(g_min) + (V0(g_max) -
 * V0(g_min)) clamp((G - g_min)/(g_max - g_min), 0, 1). */
typedef enum { XB_READ_OHMIC = 0, XB_READ_SINH } xb_read_law_kind;
typedef enum { XB_V0_CONSTANT = 0, XB_V0_LINEAR_IN_G } xb_v0_rule;
typedef struct xb_read_law {
    xb_read_law_kind kind;
    xb_v0_rule v0_rule;
    double v0_lo_volt, v0_hi_volt; /* defaults of V0 at g_min and at g_max (CONSTANT: lo only) */
    size_t v0_lo_field, v0_hi_field; /* offsetof(xb_array_params, ...) of their tunable copies, or
                                      * XB_V0_TABLE: not tunable, the table's value */
} xb_read_law;
#define XB_V0_TABLE ((size_t)-1)

/* Conductance after programming: POWER_LAW G (t/t0)^-nu, nu ~ N(mu(gT), sigma(gT)) truncated
 * at 0, gT = G/g_max, mu = min(max(a ln gT + b, lo), hi) (sigma likewise); LOG_DECAY
 * G + (decay + spread z) ln(t/t0) for t > t0, z ~ N(0,1), clamped >= 0; NONE unchanged. */
typedef enum { XB_DRIFT_NONE = 0, XB_DRIFT_POWER_LAW, XB_DRIFT_LOG_DECAY } xb_drift_kind;
typedef struct xb_drift_law {
    xb_drift_kind kind;
    double nu_mean[4], nu_sigma[4];  /* POWER_LAW: {a, b, lo, hi} */
    double decay_siemens_per_ln;     /* LOG_DECAY */
    double spread_siemens_per_ln;
} xb_drift_law;

/* Read noise sigma of one read: FLICKER G(t) Q_s(gT) sqrt(ln((t + t_read)/(2 t_read))),
 * Q_s = min(c / max(gT^e, floor), max), gT = G_prog/g_max; RELATIVE rel G(t); NONE 0. */
typedef enum { XB_READ_NOISE_NONE = 0, XB_READ_NOISE_FLICKER, XB_READ_NOISE_RELATIVE } xb_read_noise_kind;
typedef struct xb_read_noise_law {
    xb_read_noise_kind kind;
    double qs_coef, qs_exp, qs_floor, qs_max, t_read_s; /* FLICKER */
    double rel;                                         /* RELATIVE */
} xb_read_noise_law;

/* Programming error sigma(G): a polynomial in uS of x = max(G/g_max, 0), clamped at >= 0 and
 * scaled by g_max/g_ref (POLY_HORNER evaluates c0 + x(c1 + x(c2 + ...)), POLY_SUM
 * c_n x^n + ... + c1 x + c0 left to right: each in the form of its source, so that the
 * rounding is the published expression's), or RANGE_FRACTION f (g_max - g_min). */
typedef enum { XB_SIGMA_POLY_HORNER = 0, XB_SIGMA_POLY_SUM, XB_SIGMA_RANGE_FRACTION } xb_sigma_kind;
typedef struct xb_sigma_law {
    xb_sigma_kind kind;
    size_t degree;
    double coef_us[5];      /* ascending powers of x */
    double g_ref_siemens;
    double range_fraction;  /* RANGE_FRACTION */
} xb_sigma_law;

/* Programming curve of a campaign point (src/characterize/program.c): pulses of up_volt then
 * down_volt (signed), width_s at full amplitude with edge_s ramps, between read windows at
 * v_read.  Two-terminal devices: the pulse source drives the top electrode through series_ohm
 * (0: none) and reads between pulses; gate_pulsed (three-terminal) devices: pulses on the gate,
 * the channel read by a DC source at v_read.  The cell starts at its state parameter's table
 * value (window_params, if any, set from the array's g window). */
typedef struct xb_program_recipe {
    int gate_pulsed;
    double up_volt, down_volt, width_s, edge_s, series_ohm;
} xb_program_recipe;

/* `xbar iv --mode dynamic` test circuit: SWEEP a triangle 0 -> +v_max -> 0 -> -v_max -> 0 (at the
 * times sweep_t_s) on the top electrode; PWL the waveform pwl_spice (SPICE text: ngspice's number
 * reader is not correctly rounded, so the text as first written is the reference) through
 * load_ohm; GATE_PULSES trains of `--pulses` +pulse_volt then -pulse_volt gate pulses
 * (pulse_width_s, pulse_edge_s ramps, every pulse_period_s, the first after pulse_delay_s)
 * with drain and source grounded, the simulation running tail_s past the last period.
 * Two-terminal recipes put series_ohm (line and contact resistance) in front of the cell and,
 * with compliance_amp > 0, the access NMOS of 1T1R below it, its gate at the voltage whose
 * saturation current is compliance_amp (xb_netlist_compliance_gate_volt): the SET current limit.
 * extra_node/extra_label: one more internal node of the dynamic subcircuit to record. */
typedef enum { XB_IV_SWEEP = 0, XB_IV_PWL, XB_IV_GATE_PULSES } xb_iv_kind;
typedef struct xb_iv_recipe {
    xb_iv_kind kind;
    double v_max_volt, sweep_t_s[4];          /* SWEEP (v_max: default of --v-max) */
    const char *pwl_spice;                    /* PWL */
    double load_ohm;                          /* PWL */
    double pulse_volt, pulse_width_s, pulse_edge_s, pulse_period_s, pulse_delay_s, tail_s;
    double t_step_s, t_stop_s;                /* .tran step and stop (GATE_PULSES: stop from the count) */
    double series_ohm, compliance_amp;        /* SWEEP/PWL: series resistance; SET current limit (0: none) */
    const char *extra_node, *extra_label;
} xb_iv_recipe;

/* Array programming (`xbar program`, src/characterize/write.c): incremental step pulse
 * programming with verify.  Potentiating pulses start at up_start_volt and grow by up_step_volt
 * up to up_max_volt while the cell stays below its target; depressing pulses likewise from
 * down_start_volt by down_step_volt to down_max_volt (signed: negative for bipolar devices);
 * down_is_reset: a depression is one RESET pulse of down_start_volt / reset_width_s, after which
 * potentiation starts again from up_start_volt (PCM).  Pulses of width_s at full amplitude with
 * edge_s ramps.  Every cell starts at state_start (the low-conductance end).  1T1R: the selected
 * row's gate line is at the voltage whose saturation current is compliance_amp during
 * potentiating pulses (the SET current limit), at v_gate_volt otherwise. */
typedef struct xb_write_recipe {
    double up_start_volt, up_step_volt, up_max_volt;
    double down_start_volt, down_step_volt, down_max_volt;
    int down_is_reset;
    double width_s, edge_s, reset_width_s;
    double state_start;
    double compliance_amp;
} xb_write_recipe;

/* Cycle-to-cycle noise of a dynamic model: the subcircuit's noise terminal nz carries one value
 * per pulse, xi = z (PER_PULSE: the relative spread of the pulse's state change is the parameter
 * `param`) or xi = z sqrt(dt0_s / t_pulse) (WIENER: the source model's per-time-step white noise
 * of step dt0_s, amplitude `param`, integrated over the pulse), z ~ N(0,1) from
 * xb_netlist_c2c_draw.  NONE: no noise terminal effect. */
typedef enum { XB_C2C_NONE = 0, XB_C2C_PER_PULSE, XB_C2C_WIENER } xb_c2c_kind;
typedef struct xb_c2c_law {
    xb_c2c_kind kind;
    const char *param; /* the dynamic parameter holding the amplitude */
    double dt0_s;      /* WIENER */
} xb_c2c_law;

/* One dynamic-model parameter: instance parameter of the device's dynamic subcircuit. */
typedef struct xb_dyn_param {
    xb_device_kind device;
    const char *name;    /* instance parameter name in the subcircuit */
    double value;        /* default (units in the note) */
    double d2d_sigma;    /* relative lognormal device-to-device spread under var_d2d */
    const char *note;    /* meaning, unit and citation */
} xb_dyn_param;

typedef struct xb_device_info {
    xb_device_kind kind;
    const char *name;                   /* --device / INI / HDF5 name */
    const char *title;                  /* one line for listings */
    double g_min_siemens, g_max_siemens; /* default programmable window */
    xb_read_law read;
    const char *lib;                    /* models/<lib> (NULL: no SPICE model, plain R) */
    const char *read_subckt;            /* static read subcircuit in lib (NULL: plain R) */
    const char *dyn_subckt;             /* dynamic subcircuit in lib (NULL: none) */
    int dyn_gated;                      /* dynamic subcircuit has a gate terminal (d s g) */
    const char *state_node;             /* state variable node inside dyn_subckt ("gap") */
    const char *state_param;            /* its initial-state instance parameter ("gini") */
    const char *state_label;            /* CSV column name with unit ("gap_nm") */
    const char *window_params[2];       /* dyn parameters set from g_min, g_max (or NULL) */
    const xb_dyn_param *dyn_params;     /* the dynamic model's parameter rows */
    size_t n_dyn_params;
    xb_drift_law drift;
    xb_read_noise_law read_noise;
    xb_sigma_law sigma_program;
    xb_program_recipe program;
    xb_iv_recipe iv;
    xb_write_recipe write;
    xb_c2c_law c2c;
    /* The read law holds for |V| <= read_v_max_volt (0: everywhere); read_limit says why (one
     * phrase, e.g. "threshold switching of the amorphous state"). */
    double read_v_max_volt;
    const char *read_limit;
    /* The chord conductance at v_read of the dynamic model in `state` with the instance
     * parameters `inst` ("name=value ...", as xb_netlist_dyn_instance writes them): what an
     * ideal verify read of the cell alone returns.  NULL without a dynamic model. */
    double (*g_of_state)(const char *inst, double state, double v_read_volt);
} xb_device_info;

/* The row of device d, NULL when d is not a device (d >= XB_DEVICE_COUNT). */
const xb_device_info *xb_device_info_get(xb_device_kind d);
const char *xb_device_name(xb_device_kind d); /* "?" when not a device */
/* Exact name lookup over the table (case-insensitive when nocase); XB_EINPUT if unknown. */
int xb_device_from_name(const char *s, xb_device_kind *out);
int xb_device_from_name_nocase(const char *s, xb_device_kind *out);
/* "linear, rram, pcm, ecram" into buf (only devices with a dynamic model when dynamic_only). */
void xb_device_list(char *buf, size_t n, int dynamic_only);
/* V0 knots of the read law of p->device at g_min and g_max from p's tunable fields (0, 0 for
 * ohmic devices); the fitter's initial knots. */
void xb_device_v0_knots(const xb_array_params *p, double *v0_lo_volt, double *v0_hi_volt);

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
/* Read-nonlinearity voltage V0 of a device programmed to g_siemens by its read law (RRAM:
 * constant rram_v0_volt; PCM: linear in (g-g_min)/(g_max-g_min) from pcm_v0_low_volt to
 * pcm_v0_high_volt); 0 for ohmic devices (linear, ECRAM channel). */
double xb_device_v0_volt(const xb_array_params *p, double g_siemens);
/* K in I = K sinh(V/V0), i.e. g v_read / sinh(v_read/V0); 0 for ohmic devices. */
double xb_device_sinh_prefactor_amp(const xb_array_params *p, double g_siemens);

/* ---- dynamic models (rram_dyn, pcm_dyn, ecram_dyn in the models/ libraries) ---- */
/* The dynamic-model parameter rows of device d (the table's dyn_params); NULL, *n = 0 if none. */
const xb_dyn_param *xb_netlist_dyn_params(xb_device_kind d, size_t *n);

/* Instance parameter list ("name=value ...", malloc'ed into *out) for the dynamic model of
 * p->device; with p->var_d2d each parameter with a d2d_sigma is multiplied by
 * exp(sigma * N(0,1)) drawn from a GSL RNG seeded with (p->seed, cell_index), so every
 * cell of an array gets its own reproducible sample.  `overrides` ("name=value ...", may be
 * NULL) replaces table values (e.g. the initial state) before the spread. */
int xb_netlist_dyn_instance(const xb_array_params *p, size_t cell_index, const char *overrides,
                            char **out, xb_error *err);

/* Value of parameter `name` in an instance parameter list "a=1 b=2" (NAN when absent). */
double xb_netlist_inst_value(const char *inst, const char *name);

/* Cycle-to-cycle noise draws, counter-based so that any solver reproduces them in any order:
 * z ~ N(0,1) of pulse `pulse` of cell `cell` under `seed` (splitmix64 of the three, two
 * uniforms, Box-Muller).  xb_netlist_c2c_input turns z into the value of the noise terminal
 * for a pulse of t_pulse_s at full amplitude by the device's c2c law (0 for NONE). */
double xb_netlist_c2c_draw(uint64_t seed, uint64_t cell, uint64_t pulse);
double xb_netlist_c2c_input(xb_device_kind d, double z, double t_pulse_s);

/* Gate voltage of the access NMOS (p's level-1 parameters) whose saturation current is
 * i_amp: vt + sqrt(2 i / (kp W/L)) (lambda = 0: the current limit is exact). */
double xb_netlist_compliance_gate_volt(const xb_array_params *p, double i_amp);

/* Chord conductance at p->v_read_volt of the dynamic model of p->device in `state`, with
 * cell cell_index's parameters (its d2d sample under p->var_d2d): the device table's
 * g_of_state.  NAN for a device without a dynamic model. */
double xb_netlist_dyn_g(const xb_array_params *p, size_t cell_index, double state);

/* Subcircuit name of the dynamic model ("rram_dyn", ...) and its library file name (the
 * table's dyn_subckt and lib; NULL when none). */
const char *xb_netlist_dyn_subckt(xb_device_kind d);
const char *xb_netlist_model_lib(xb_device_kind d);

/* ---- variability (seeded GSL RNG, reproducible for a given p->seed) ---- */

/* Programming error sigma(G) in siemens for a target conductance: the device's
 * sigma_program law (PCM IBM polynomial (Joshi 2020 / aihwkit), RRAM Wan 2022 polynomial,
 * ECRAM one update step; src/netlist/device_table.c). */
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

/* Options of a dynamic array: noise (rows x cols, NULL = 0): the value of every cell's noise
 * terminal for this run (xb_netlist_c2c_input); drive_columns: every column j is driven by a
 * caller source "cl<j>" (node cl<j>, behind r_sense) instead of the 0 V sense source (write
 * schemes); the outputs are then the states alone.  Every cell has its own noise node, fed by
 * a current source of the cell's value into 1 ohm (no branch equation).  1S1R cells use
 * p->selector. */
typedef struct xb_netlist_dyn_opts {
    const xb_matrix *noise;
    int drive_columns;
} xb_netlist_dyn_opts;
int xb_netlist_dynamic_new_opts(const xb_array_params *p, const xb_matrix *state0, const xb_netlist_dyn_opts *o,
                                xb_netlist **out, xb_error *err);

/* Circuit body: title-less element list with the .include/.model lines it needs, no
 * analysis card, no .end. */
const char *xb_netlist_body(const xb_netlist *n);
size_t xb_netlist_n_sources(const xb_netlist *n);
const xb_netlist_source *xb_netlist_sources(const xb_netlist *n);
size_t xb_netlist_n_outputs(const xb_netlist *n);
const char *const *xb_netlist_outputs(const xb_netlist *n);
void xb_netlist_free(xb_netlist *n);

/* ---- single-device test circuits (src/netlist/testdeck.c): the device's recipes ---- */

/* A complete deck (title, models, circuit, analysis, .end) for xb_engine_run or stock
 * ngspice, with the vectors to read and their CSV column names (unit in the name). */
typedef struct xb_netlist_deck {
    char *text;
    size_t n_vectors;
    char **vectors; /* ngspice vector names, e.g. "v(x1.gap)" */
    char **labels;  /* CSV column names, e.g. "gap_nm" */
} xb_netlist_deck;
void xb_netlist_deck_free(xb_netlist_deck *d);

/* `xbar iv --mode read`: `states` programmed conductances log-spaced from g_min to g_max
 * (g_max alone for 1), each the device's read element (read subcircuit, or R for a device
 * without one) behind a 0 V ammeter on node a, swept from -v_max to v_max in `points` steps by
 * .dc.  Vectors: v(a), then the current of each state ("i_amp_g=<G>"). */
int xb_netlist_iv_read_deck(const xb_array_params *p, size_t states, double v_max_volt, size_t points,
                            xb_netlist_deck *out, xb_error *err);

/* `xbar iv --mode dynamic`: the device's iv recipe (xb_iv_recipe) on its dynamic subcircuit X1
 * with the parameters of cell 0 (xb_netlist_dyn_instance: a d2d sample with p->var_d2d).
 * v_max_volt > 0 replaces the SWEEP amplitude; pulses is the GATE_PULSES count per direction.
 * Vectors: time_s, then per kind (SWEEP: v_volt, i_amp, state; PWL: v_cell_volt, i_amp, state;
 * GATE_PULSES: v_gate_volt, state, g_siemens), then the recipe's extra node.  XB_EINPUT for a
 * device without a dynamic model. */
int xb_netlist_iv_dynamic_deck(const xb_array_params *p, double v_max_volt, size_t pulses, xb_netlist_deck *out,
                               xb_error *err);

/* The same with the options of `xbar iv --mode dynamic`: compliance_amp (> 0: replaces the
 * recipe's SET current limit, < 0: none; two-terminal recipes), c2c (noise draws
 * xb_netlist_c2c_draw(p->seed, 0, k) per pulse of a GATE_PULSES recipe, or one per sweep/PWL
 * run).  XB_EINPUT naming --compliance for a gate-pulsed recipe. */
typedef struct xb_iv_opts {
    double v_max_volt;
    size_t pulses;
    double compliance_amp; /* 0: the recipe's */
    int c2c;
} xb_iv_opts;
int xb_netlist_iv_dynamic_deck_opts(const xb_array_params *p, const xb_iv_opts *o, xb_netlist_deck *out,
                                    xb_error *err);

/* Where the read law of p->device leaves its validity inside [-v_max, v_max]: 1 with *v_limit
 * (the table's read_v_max_volt) and *why set, 0 when the sweep stays inside. */
int xb_netlist_read_validity(const xb_array_params *p, double v_max_volt, double *v_limit, const char **why);

/* Programming circuit of a campaign point (the device's xb_program_recipe): the pulse source
 * Vp on the pulsed terminal (the top electrode, through the series load if any, or the gate)
 * with the PWL points pwl[2k] = t_s, pwl[2k+1] = v_volt, the dynamic subcircuit X1 at its
 * state parameter's table value (window_params from p's g window), and for gate-pulsed devices
 * the read source Vd on the drain (v_read between pulses, 0 during them; below).  Body only
 * (models, elements; no title, no analysis); its one output is the read current ("i(vp)" or "i(vd)", negative while the source
 * drives current into the device).  XB_EINPUT for a device without a dynamic model. */
int xb_netlist_program_new(const xb_array_params *p, const double *pwl, size_t n_points, xb_netlist **out,
                           xb_error *err);
/* The programming circuit with cycle-to-cycle noise: xi[k] (n_xi values) on the noise terminal
 * during the k-th pulse (a run of PWL points away from the first point's level), switching in
 * the middle of the windows between pulses.  Gate-pulsed devices are biased as the device is:
 * drain and source grounded during each gate pulse (the drain source Vd steps from v_read to 0
 * within 0.5 ns before the pulse and back after it), the gate held at the channel potential
 * during reads (no gate current, as a floating gate): Vp in series with that offset, so that
 * i(vp) is the gate current. */
int xb_netlist_program_c2c_new(const xb_array_params *p, const double *pwl, size_t n_points, const double *xi,
                               size_t n_xi, xb_netlist **out, xb_error *err);
/* The card of a parasitic capacitance c_farad at the cell node behind the series load of the
 * programming circuit into buf ("" when the recipe has no load). */
void xb_netlist_program_cpar_card(const xb_array_params *p, double c_farad, char *buf, size_t n);

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
