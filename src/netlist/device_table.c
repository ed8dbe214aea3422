/* The device descriptor table: one xb_device_info per device, the one table of device
 * defaults, with the source of every number beside it.  Derivations, in our own words:
 * docs/physics.md (section named at each block); the fields are explained in
 * docs/devices.md.  Adding a device = one row here (plus its dynamic-parameter rows), its
 * models/<lib>, its test rows and docs/devices.md: nothing else in the code names a device
 * (docs/architecture.md, "How to extend: a new device"). */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <strings.h>

#include "xbar/netlist.h"

/* ---- dynamic-model parameters (models/<lib> subcircuits rram_dyn, pcm_dyn, ecram_dyn) ----
 * The netlist writer passes every one explicitly, so these rows, not the .lib defaults, are
 * authoritative (tests/test_devices.c checks that the two agree).  d2d_sigma is the relative
 * (lognormal) device-to-device spread applied with --var-d2d. */

/* RRAM: Stanford-PKU v1.0.0 (Jiang et al., SISPAD 2014; IEEE TED 63(5) 1884, 2016; nanoHUB
 * doi:10.4231/D37H1DN48; defaults as in MemTorch Stanford_PKU.py); docs/physics.md, "RRAM: the
 * Stanford-PKU model".  Lengths in nm.  d2d: the Stanford model's variability acts on the gap
 * growth rate; 10 % on the velocity prefactor and 2 % on gamma0 (Guan, Yu, Wong, IEEE EDL
 * 33(10) 1405, 2012 model variation through the gap dynamics; the spreads are xbar's
 * assumption, docs/devices.md).
 * One number moved from the release: I0 = 61.4 uA (the ASU recalibration of the same equations,
 * Chen & Yu, IEEE TED 62(12) 4022, 2015) instead of 1 mA, so that the gap range 0.2-1.7 nm
 * spans 0.30-122 uS at v_read = 0.2 V and covers the read window 1-40 uS of the table row
 * (with 1 mA it spanned 4.95 uS-2 mS: g_min needed a 2.1 nm gap, beyond gapmax). */
static const xb_dyn_param k_rram_dyn[] = {
    {XB_DEVICE_RRAM, "gini", 1.7, 0, "initial gap = g_max (OFF), nm"},
    {XB_DEVICE_RRAM, "i0", 61.4e-6, 0, "current prefactor I0, A (ASU recalibration, Chen & Yu, IEEE TED 62(12) 4022, 2015; 1e-3 in Stanford-PKU v1.0.0)"},
    {XB_DEVICE_RRAM, "g0", 0.25, 0, "gap decay length g0, nm (Stanford-PKU v1.0.0)"},
    {XB_DEVICE_RRAM, "v0", 0.25, 0, "I-V nonlinearity V0, V (Stanford-PKU v1.0.0)"},
    {XB_DEVICE_RRAM, "vel0", 1e10, 0.10, "gap velocity prefactor 10 m/s, nm/s (Stanford-PKU v1.0.0)"},
    {XB_DEVICE_RRAM, "ea", 0.6, 0, "activation energy, eV (Stanford-PKU v1.0.0)"},
    {XB_DEVICE_RRAM, "a0", 0.25, 0, "atom spacing, nm (Stanford-PKU v1.0.0)"},
    {XB_DEVICE_RRAM, "tox", 12, 0, "oxide thickness, nm (Stanford-PKU v1.0.0)"},
    {XB_DEVICE_RRAM, "gamma0", 16, 0.02, "field enhancement (Stanford-PKU v1.0.0)"},
    {XB_DEVICE_RRAM, "beta", 0.8, 0, "gamma reduction with gap (Stanford-PKU v1.0.0)"},
    {XB_DEVICE_RRAM, "fmin", 1.4, 0, "minimum switching field 1.4e9 V/m, V/nm (Stanford-PKU v1.0.0)"},
    {XB_DEVICE_RRAM, "fsm", 0.01, 0, "width of the tanh minimum-field gate, V/nm (smoothing as Maldonado et al., JAP 130, 2021; xbar choice)"},
    {XB_DEVICE_RRAM, "t0", 298, 0, "ambient, K (Stanford-PKU v1.0.0)"},
    {XB_DEVICE_RRAM, "rth", 2.1e3, 0.05, "thermal resistance, K/W (Stanford-PKU v1.0.0)"},
    {XB_DEVICE_RRAM, "gapmin", 0.2, 0, "gap lower bound, nm (Stanford-PKU v1.0.0)"},
    {XB_DEVICE_RRAM, "gapmax", 1.7, 0, "gap upper bound, nm (Stanford-PKU v1.0.0)"},
    {XB_DEVICE_RRAM, "dgn", 2e7, 0, "gap noise amplitude deltaGap0 = 0.02 m/s, nm/s, per 1 ns time step (Stanford-PKU v1.0.0 model_switch = 1)"},
    {XB_DEVICE_RRAM, "tcrit", 450, 0, "temperature of significant gap noise T_crit, K (Stanford-PKU v1.0.0)"},
    {XB_DEVICE_RRAM, "tsmth", 500, 0, "width of the noise activation T_smth, K (Stanford-PKU v1.0.0)"},
};

/* PCM electro-thermal model, GST mushroom-cell literature ranges (Le Gallo & Sebastian,
 * J. Phys. D 53, 213002, 2020; Ielmini & Zhang, JAP 102, 054517, 2007); docs/physics.md,
 * "PCM electro-thermal switching". */
static const xb_dyn_param k_pcm_dyn[] = {
    {XB_DEVICE_PCM, "c0", 0, 0, "initial crystalline fraction (amorphous)"},
    {XB_DEVICE_PCM, "tamb", 300, 0, "ambient, K"},
    {XB_DEVICE_PCM, "tx", 450, 0, "crystallization onset, K (GST 420-470 K)"},
    {XB_DEVICE_PCM, "tm", 900, 0, "melting, K (GST ~893 K)"},
    {XB_DEVICE_PCM, "dtw", 10, 0, "logistic window width, K (smooth for ngspice)"},
    {XB_DEVICE_PCM, "rth", 5e6, 0.10, "thermal resistance, K/W (1-5 MK/W)"},
    {XB_DEVICE_PCM, "cth", 0.2e-15, 0, "thermal capacitance, J/K (tau_th = 1 ns, range 1-5 ns)"},
    {XB_DEVICE_PCM, "ga0", 0.05e-6, 0.10, "amorphous prefactor, S (RESET 0.05-0.5 uS)"},
    {XB_DEVICE_PCM, "ea", 0.3, 0, "a-GST conduction activation energy, eV (0.2-0.4 eV)"},
    {XB_DEVICE_PCM, "v0a", 0.15, 0, "amorphous Poole-Frenkel V0, V (0.15-0.4 V)"},
    {XB_DEVICE_PCM, "gc", 25e-6, 0.05, "crystalline conductance, S (= PCM g_max, Joshi 2020)"},
    {XB_DEVICE_PCM, "taucr", 20e-9, 0.10, "crystallization time, s (SET 50-500 ns pulses)"},
    {XB_DEVICE_PCM, "tauam", 0.5e-9, 0, "melt amorphization time, s"},
    {XB_DEVICE_PCM, "sc2c", 0.6, 0, "c2c relative spread of a pulse's crystallization (aihwkit PCMPresetDevice dw_min_std 0.6, Nandakumar et al., Front. Neurosci. 14, 406, 2020)"},
};

/* ECRAM three-terminal model; docs/physics.md, "ECRAM".  gamma_up/down of aihwkit
 * EcRamPresetDevice (Tang et al., IEDM 2018 fit); d2d 10 % on the step size (dw_min_dtod 0.1)
 * and 5 % on the range (w_max_dtod 0.05), aihwkit presets. */
static const xb_dyn_param k_ecram_dyn[] = {
    {XB_DEVICE_ECRAM, "x0", 0.5, 0, "initial state"},
    {XB_DEVICE_ECRAM, "gmin", 1e-6, 0, "channel conductance at x = 0, S (the g window)"},
    {XB_DEVICE_ECRAM, "gmax", 10e-6, 0.05, "channel conductance at x = 1, S (the g window)"},
    {XB_DEVICE_ECRAM, "i0g", 1e-12, 0, "gate branch prefactor, A"},
    {XB_DEVICE_ECRAM, "vg0", 0.1, 0, "gate branch sinh voltage, V (exponential amplitude dependence, Kim et al., IEDM 2019)"},
    {XB_DEVICE_ECRAM, "qup", 1.1e-13, 0.10, "charge for a full potentiation sweep, C (~1000 states, Tang et al., IEDM 2018)"},
    {XB_DEVICE_ECRAM, "qdn", 1.2e-13, 0.10, "charge for a full depression sweep, C (up/down asymmetry)"},
    {XB_DEVICE_ECRAM, "gup", 0.1153, 0, "soft-bound gamma_up (aihwkit EcRamPresetDevice)"},
    {XB_DEVICE_ECRAM, "gdn", 0.5085, 0, "soft-bound gamma_down (aihwkit EcRamPresetDevice)"},
    {XB_DEVICE_ECRAM, "kocp", 0, 0, "open-circuit-potential factor (0: metal-oxide/protonic)"},
    {XB_DEVICE_ECRAM, "sc2c", 0.3, 0, "c2c relative spread of a pulse's state change (aihwkit EcRamPresetDevice dw_min_std 0.3, Tang et al., IEDM 2018 fit)"},
};

#define N_ROWS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- programming error sigma(G) ----
 * RRAM (and linear, the RRAM array without nonlinearity): Wan et al., Nature 608, 504, 2022
 * fit at 1 s, sigma = 0.348 + 16.030 x - 43.853 x^2 + 45.393 x^3 - 16.815 x^4 uS at
 * g_ref = 40 uS (aihwkit inference/noise/reram.py ReRamWan2022NoiseModel). */
#define SIGMA_WAN2022 {XB_SIGMA_POLY_HORNER, 4, {0.348, 16.030, -43.853, 45.393, -16.815}, 40e-6, 0}

/* Drift and read noise: docs/physics.md, "PCM drift and read-noise statistics"; docs/drift.md.
 * PCM (IBM statistical model, Nandakumar et al., ICECS 2019; Joshi et al., Nat. Commun. 11,
 * 2473, 2020; aihwkit inference/noise/pcm.py PCMLikeNoiseModel): t0 = XB_DRIFT_T0_S;
 *   mu_nu    = min(max(-0.0155 ln g_T + 0.0244, 0.049), 0.1);
 *   sigma_nu = min(max(-0.0125 ln g_T - 0.0059, 0.008), 0.045);
 *   read noise Q_s = min(0.0088 / max(g_T^0.65, 1e-3), 0.2), t_read = 250 ns.
 * RRAM (IBM CMO/HfOx, aihwkit inference/noise/reram.py ReRamCMONoiseModel): mean decay
 *   -0.089 uS and spread 0.042 uS per ln(t), counted from t0 (the constant 0.41 uS of that
 *   fit is the spread at programming, which xb_netlist_program already samples); read noise
 *   ~1 % of G (Wan et al., Nature 608, 504, 2022, as recommended beside aihwkit's
 *   ReRamWan2022NoiseModel), time independent.
 * ECRAM: no retention loss and no read noise.  ASSUMPTION: Tang et al. (IEDM 2018) and Kim et
 *   al. (IEDM 2019) report retention without a fitted decay law, so G(t) = G_prog.
 * LINEAR: ideal, no drift, no read noise. */

/* Programming recipes (src/characterize/program.c): chosen so that 20 pulses move the state by
 * a visible fraction of its range on the models/ libraries (measured with stock ngspice 39,
 * docs/campaigns.md): RRAM +2.0 V / -2.2 V, 20 ns, through 10 kohm in series (the series
 * resistance limits the SET as G grows, Maldonado et al., JAP 130, 2021): a gradual SET from the
 * HRS (0.3 uS) to ~9.4 uS in 25 pulses and a faster RESET back (without it the filament runs
 * away to the LRS, 123 uS, within a few pulses at any amplitude that moves it); PCM 2.0 V / 5 ns
 * partial SET through 10 kohm standing in for the access device (docs/physics.md, "PCM
 * electro-thermal switching"), 4.0 V / 5 ns RESET with a 0.5 ns quench; ECRAM gate +-1.3 V /
 * 10 ns: ~1 % up, larger down (the model's asymmetry). */

/* `xbar iv --mode dynamic` recipes: RRAM a +-2 V triangle of 10 us legs (SET then RESET, the
 * switching of docs/devices.md); PCM a 0 -> 2 V -> 0 sweep in 1 us through 10 kohm (threshold
 * switching and SET), a 0.2 V read, a 3.5 V 10 ns RESET pulse and a 0.2 V read; ECRAM +1 V then
 * -1 V gate pulses of 10 ns every 40 ns (the Tang et al. IEDM 2018 pulse scheme). */

/* Cycle-to-cycle noise laws (the noise terminal nz of the dynamic subcircuits; docs/devices.md):
 * RRAM the Stanford-PKU stochastic gap term, dg/dt += dgn N(0,1) / (1 + exp((T_crit - T)/T_smth)),
 * redrawn every time step of the release (its $bound_step, 1 ns): per pulse xbar feeds
 * xi = z sqrt(1 ns / t_pulse), the same variance dgn^2 chi^2 (1 ns) t_pulse (Jiang et al., SISPAD
 * 2014; TED 63(5) 1884, 2016).  ECRAM and PCM: a relative spread sc2c of each pulse's state
 * change (aihwkit's multiplicative step noise, Rasch et al., AICAS 2021), xi = z. */

/* Array programming recipes (`xbar program`): incremental step pulse programming from the
 * device's switching onset.  RRAM: the SET threshold of the gap model is 1.22 V at 1.4 nm (the
 * 1 uS gap) and 1.39 V at gapmax (docs/physics.md), so SET from 1.3 V and RESET from -1.2 V in
 * 50 mV steps up to +-2 V, 20 ns (the campaign width); 500 uA SET compliance in 1T1R, above the
 * ~310 uA a 40 uS cell carries at its SET threshold.  PCM: partial SET pulses of 5 ns from just
 * above the threshold-switching voltage (0.96 V, docs/physics.md) in 100 mV steps to 2 V; a
 * depression is one 4 V / 10 ns RESET (the campaign's); 1T1R SET compliance 100 uA.  ECRAM:
 * gate pulses of 10 ns from +-1 V (Tang et al., IEDM 2018 pulse scheme) in 50 mV steps to
 * +-1.5 V (the update grows e-fold per vg0 = 0.1 V, Kim et al., IEDM 2019). */

/* Chord conductance at v_read of the dynamic models at a given state (the verify read). */
static double rram_g_of_state(const char *inst, double gap, double vr)
{
    return xb_netlist_inst_value(inst, "i0") * exp(-gap / xb_netlist_inst_value(inst, "g0")) *
           sinh(vr / xb_netlist_inst_value(inst, "v0")) / vr;
}

/* PCM at ambient temperature (a 0.2 V read heats the cell by < 3 K, physics.md): crystalline
 * c gc plus the amorphous sinh branch; the melt window is e^-60 at 300 K. */
static double pcm_g_of_state(const char *inst, double c, double vr)
{
    double v0a = xb_netlist_inst_value(inst, "v0a");
    return c * xb_netlist_inst_value(inst, "gc") + (1 - c) * xb_netlist_inst_value(inst, "ga0") * v0a * sinh(vr / v0a) / vr;
}

static double ecram_g_of_state(const char *inst, double x, double vr)
{
    (void)vr;
    double lo = xb_netlist_inst_value(inst, "gmin");
    return lo + (xb_netlist_inst_value(inst, "gmax") - lo) * x;
}

static const xb_device_info k_devices[XB_DEVICE_COUNT] = {
    [XB_DEVICE_LINEAR] = {
        .kind = XB_DEVICE_LINEAR,
        .name = "linear",
        .title = "ideal resistor: the RRAM array without nonlinearity, drift or noise",
        /* the RRAM window, so that `--device linear` is the RRAM array without nonlinearity */
        .g_min_siemens = 1e-6,
        .g_max_siemens = 40e-6,
        .read = {XB_READ_OHMIC, XB_V0_CONSTANT, 0, 0, 0, 0},
        .sigma_program = SIGMA_WAN2022,
    },
    [XB_DEVICE_RRAM] = {
        .kind = XB_DEVICE_RRAM,
        .name = "rram",
        .title = "filamentary RRAM, Stanford-PKU gap model",
        /* g_max 40 uS, the NeuRRAM reference (Wan et al., Nature 608, 504, 2022; aihwkit
         * ReRamWan2022NoiseModel g_max); g_min 1 uS (ON/OFF 40, within the ASU-calibrated
         * Stanford-PKU range 0.3-100 uS) */
        .g_min_siemens = 1e-6,
        .g_max_siemens = 40e-6,
        /* Stanford-PKU V0 = 0.25 V (Jiang et al., IEEE TED 63(5) 1884, 2016); docs/physics.md,
         * "Read nonlinearity of a programmed cell" */
        .read = {XB_READ_SINH, XB_V0_CONSTANT, 0.25, 0.25, offsetof(xb_array_params, rram_v0_volt),
                 offsetof(xb_array_params, rram_v0_volt)},
        .lib = "rram.lib",
        .read_subckt = "rram_read",
        .dyn_subckt = "rram_dyn",
        .state_node = "gap",
        .state_param = "gini",
        .state_label = "gap_nm",
        .dyn_params = k_rram_dyn,
        .n_dyn_params = N_ROWS(k_rram_dyn),
        .drift = {.kind = XB_DRIFT_LOG_DECAY,
                  .decay_siemens_per_ln = -0.089e-6,  /* aihwkit ReRamCMONoiseModel */
                  .spread_siemens_per_ln = 0.042e-6}, /* aihwkit ReRamCMONoiseModel */
        .read_noise = {.kind = XB_READ_NOISE_RELATIVE, .rel = 0.01}, /* Wan 2022, ~1 % */
        .sigma_program = SIGMA_WAN2022,
        .program = {.gate_pulsed = 0, .up_volt = 2.0, .down_volt = -2.2, .width_s = 20e-9, .edge_s = 1e-9,
                    .series_ohm = 10e3},
        /* SET compliance 100 uA, the usual 1T1R setting of HfOx cells; 1 kohm of line and contact
         * resistance in series (xbar's assumption; the series-resistance effect on the SET:
         * Maldonado et al., JAP 130, 2021) */
        .iv = {.kind = XB_IV_SWEEP, .v_max_volt = 2.0, .sweep_t_s = {10e-6, 20e-6, 30e-6, 40e-6}, .t_step_s = 20e-9,
               .t_stop_s = 40e-6, .series_ohm = 1e3, .compliance_amp = 100e-6},
        .write = {.up_start_volt = 1.3, .up_step_volt = 0.05, .up_max_volt = 2.0, .down_start_volt = -1.2,
                  .down_step_volt = -0.05, .down_max_volt = -2.0, .width_s = 20e-9, .edge_s = 1e-9,
                  .state_start = 1.7, .compliance_amp = 500e-6},
        .c2c = {XB_C2C_WIENER, "dgn", 1e-9},
        /* the SET threshold of the gap model, 1.05 V at the smallest gap (docs/physics.md): a read
         * above it switches the cell */
        .read_v_max_volt = 1.0,
        .read_limit = "the SET threshold of the gap model (1.05 V at the smallest gap)",
        .g_of_state = rram_g_of_state,
    },
    [XB_DEVICE_PCM] = {
        .kind = XB_DEVICE_PCM,
        .name = "pcm",
        .title = "phase-change memory (GST), electro-thermal model",
        /* g_max 25 uS (IBM, Joshi et al., Nat. Commun. 11, 2473, 2020; aihwkit g_max); g_min
         * 0.25 uS (1 % of g_max; RESET 0.05-0.5 uS) */
        .g_min_siemens = 0.25e-6,
        .g_max_siemens = 25e-6,
        /* a-GST Poole-Frenkel V0 0.15-0.4 V (Ielmini & Zhang, JAP 102, 054517, 2007) at g_min;
         * the crystalline state is near-ohmic, represented by a large V0 = 1 V at g_max;
         * docs/physics.md, "Read nonlinearity of a programmed cell" */
        .read = {XB_READ_SINH, XB_V0_LINEAR_IN_G, 0.15, 1.0, offsetof(xb_array_params, pcm_v0_low_volt),
                 offsetof(xb_array_params, pcm_v0_high_volt)},
        .lib = "pcm.lib",
        .read_subckt = "pcm_read",
        .dyn_subckt = "pcm_dyn",
        .state_node = "c",
        .state_param = "c0",
        .state_label = "c_cryst",
        .dyn_params = k_pcm_dyn,
        .n_dyn_params = N_ROWS(k_pcm_dyn),
        .drift = {.kind = XB_DRIFT_POWER_LAW,
                  .nu_mean = {-0.0155, 0.0244, 0.049, 0.1},    /* PCMLikeNoiseModel mu_nu */
                  .nu_sigma = {-0.0125, -0.0059, 0.008, 0.045}}, /* PCMLikeNoiseModel sigma_nu */
        .read_noise = {.kind = XB_READ_NOISE_FLICKER, .qs_coef = 0.0088, .qs_exp = 0.65, .qs_floor = 1e-3,
                       .qs_max = 0.2, .t_read_s = XB_READ_NOISE_T_READ_S}, /* PCMLikeNoiseModel */
        /* IBM PCM model sigma_prog = max(-1.1731 x^2 + 1.9650 x + 0.2635, 0) uS at g_ref = 25 uS
         * (Nandakumar et al., ICECS 2019; Joshi 2020; aihwkit PCMLikeNoiseModel) */
        .sigma_program = {XB_SIGMA_POLY_SUM, 2, {0.2635, 1.9650, -1.1731}, 25e-6, 0},
        .program = {.gate_pulsed = 0, .up_volt = 2.0, .down_volt = 4.0, .width_s = 5e-9, .edge_s = 0.5e-9,
                    .series_ohm = 10e3},
        .iv = {.kind = XB_IV_PWL,
               .pwl_spice = "0 0 0.5u 2.0 1u 0 1.5u 0.2 2u 0.2 2.001u 3.5 2.011u 3.5 2.0115u 0.2 3u 0.2",
               .load_ohm = 10e3, .t_step_s = 1e-9, .t_stop_s = 3e-6, .extra_node = "t",
               .extra_label = "t_rise_k"},
        .write = {.up_start_volt = 1.0, .up_step_volt = 0.1, .up_max_volt = 2.0, .down_start_volt = 4.0,
                  .down_step_volt = 0, .down_max_volt = 4.0, .down_is_reset = 1, .width_s = 5e-9, .edge_s = 0.5e-9,
                  .reset_width_s = 10e-9, .state_start = 0, .compliance_amp = 100e-6},
        .c2c = {XB_C2C_PER_PULSE, "sc2c", 0},
        /* threshold switching of the amorphous state, 0.8-1.5 V (Le Gallo et al., JAP 119, 025704,
         * 2016; 0.96 V in pcm_dyn): above ~1.2 V the g_min curve even carries more current than
         * the g_max one */
        .read_v_max_volt = 0.8,
        .read_limit = "threshold switching of the amorphous state at 0.8-1.5 V; the g_min state carries more current than g_max above 1.2 V",
        .g_of_state = pcm_g_of_state,
    },
    [XB_DEVICE_ECRAM] = {
        .kind = XB_DEVICE_ECRAM,
        .name = "ecram",
        .title = "electrochemical RAM, three-terminal (gate-programmed channel)",
        /* 1-10 uS channel range (the ECRAM subcircuit; Tang et al., IEDM 2018 scale) */
        .g_min_siemens = 1e-6,
        .g_max_siemens = 10e-6,
        /* the channel with the gate floating is ohmic (models/ecram.lib ecram_read) */
        .read = {XB_READ_OHMIC, XB_V0_CONSTANT, 0, 0, 0, 0},
        .lib = "ecram.lib",
        .read_subckt = "ecram_read",
        .dyn_subckt = "ecram_dyn",
        .dyn_gated = 1,
        .state_node = "x",
        .state_param = "x0",
        .state_label = "x_state",
        .window_params = {"gmin", "gmax"},
        .dyn_params = k_ecram_dyn,
        .n_dyn_params = N_ROWS(k_ecram_dyn),
        /* program-and-verify ends within one update step; one step of the Tang IEDM 2018 fit is
         * dw_min = 0.002 of the range (aihwkit EcRamPresetDevice) */
        .sigma_program = {XB_SIGMA_RANGE_FRACTION, 0, {0}, 0, 0.002},
        .program = {.gate_pulsed = 1, .up_volt = 1.3, .down_volt = -1.3, .width_s = 10e-9, .edge_s = 1e-9,
                    .series_ohm = 0},
        .iv = {.kind = XB_IV_GATE_PULSES, .pulse_volt = 1, .pulse_width_s = 10e-9, .pulse_edge_s = 0.1e-9,
               .pulse_period_s = 40e-9, .pulse_delay_s = 10e-9, .tail_s = 20e-9, .t_step_s = 0.5e-9},
        .write = {.up_start_volt = 1.0, .up_step_volt = 0.05, .up_max_volt = 1.5, .down_start_volt = -1.0,
                  .down_step_volt = -0.05, .down_max_volt = -1.5, .width_s = 10e-9, .edge_s = 1e-9,
                  .state_start = 0},
        .c2c = {XB_C2C_PER_PULSE, "sc2c", 0},
        /* channel read |V_ds| <= 0.5 V with the gate floating (docs/devices.md, "ECRAM") */
        .read_v_max_volt = 0.5,
        .read_limit = "the channel read range of the ECRAM model (|V_ds| <= 0.5 V)",
        .g_of_state = ecram_g_of_state,
    },
};

const xb_device_info *xb_device_info_get(xb_device_kind d)
{
    return (unsigned)d < XB_DEVICE_COUNT ? &k_devices[d] : NULL;
}

const char *xb_device_name(xb_device_kind d)
{
    const xb_device_info *di = xb_device_info_get(d);
    return di ? di->name : "?";
}

static int from_name(const char *s, xb_device_kind *out, int nocase)
{
    for (int d = 0; s && d < XB_DEVICE_COUNT; d++)
        if ((nocase ? strcasecmp(s, k_devices[d].name) : strcmp(s, k_devices[d].name)) == 0) {
            *out = (xb_device_kind)d;
            return XB_OK;
        }
    return XB_EINPUT;
}

int xb_device_from_name(const char *s, xb_device_kind *out) { return from_name(s, out, 0); }
int xb_device_from_name_nocase(const char *s, xb_device_kind *out) { return from_name(s, out, 1); }

void xb_device_list(char *buf, size_t n, int dynamic_only)
{
    if (!buf || !n) return;
    buf[0] = '\0';
    size_t len = 0;
    for (int d = 0; d < XB_DEVICE_COUNT; d++) {
        if (dynamic_only && !k_devices[d].dyn_subckt) continue;
        int w = snprintf(buf + len, n - len, "%s%s", len ? ", " : "", k_devices[d].name);
        if (w < 0 || (size_t)w >= n - len) break;
        len += (size_t)w;
    }
}

const xb_dyn_param *xb_netlist_dyn_params(xb_device_kind d, size_t *n)
{
    const xb_device_info *di = xb_device_info_get(d);
    *n = di ? di->n_dyn_params : 0;
    return di && di->n_dyn_params ? di->dyn_params : NULL;
}

const char *xb_netlist_dyn_subckt(xb_device_kind d)
{
    const xb_device_info *di = xb_device_info_get(d);
    return di ? di->dyn_subckt : NULL;
}

const char *xb_netlist_model_lib(xb_device_kind d)
{
    const xb_device_info *di = xb_device_info_get(d);
    return di ? di->lib : NULL;
}

double xb_netlist_inst_value(const char *inst, const char *name)
{
    if (!inst || !name) return NAN;
    size_t n = strlen(name);
    for (const char *q = inst; (q = strstr(q, name)); q += n)
        if ((q == inst || q[-1] == ' ') && q[n] == '=') return strtod(q + n + 1, NULL);
    return NAN;
}

double xb_netlist_dyn_g(const xb_array_params *p, size_t cell_index, double state)
{
    const xb_device_info *di = xb_device_info_get(p->device);
    if (!di || !di->g_of_state) return NAN;
    char *inst = NULL;
    xb_error e;
    if (xb_netlist_dyn_instance(p, cell_index, NULL, &inst, &e)) return NAN;
    double g = di->g_of_state(inst, state, p->v_read_volt);
    free(inst);
    return g;
}

int xb_netlist_read_validity(const xb_array_params *p, double v_max_volt, double *v_limit, const char **why)
{
    const xb_device_info *di = xb_device_info_get(p->device);
    if (!di || !(di->read_v_max_volt > 0) || !(fabs(v_max_volt) > di->read_v_max_volt)) return 0;
    if (v_limit) *v_limit = di->read_v_max_volt;
    if (why) *why = di->read_limit;
    return 1;
}
