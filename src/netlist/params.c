/* The one table of array/device defaults.  Every number carries its source;
 * ../shared/reference/device-physics.md has the derivations. */
#include "xbar/netlist.h"

#include <math.h>
#include <string.h>

typedef struct {
    double g_min_siemens, g_max_siemens;
} device_range;

/* Programmable conductance range per device used for weights.
 *  linear: same as RRAM so that `--device linear` is the RRAM array without nonlinearity.
 *  RRAM: g_max 40 uS, the NeuRRAM reference (Wan et al., Nature 608, 504, 2022; aihwkit
 *        ReRamWan2022NoiseModel g_max); g_min 1 uS (ON/OFF 40, within the ASU-calibrated
 *        Stanford-PKU range 0.3-100 uS).
 *  PCM:  g_max 25 uS (IBM, Joshi et al., Nat. Commun. 11, 2473, 2020; aihwkit g_max);
 *        g_min 0.25 uS (1% of g_max; RESET 0.05-0.5 uS).
 *  ECRAM: 1-10 uS channel range (reference ECRAM subcircuit; Tang IEDM 2018 scale). */
static const device_range k_range[] = {
    [XB_DEVICE_LINEAR] = {1e-6, 40e-6},
    [XB_DEVICE_RRAM] = {1e-6, 40e-6},
    [XB_DEVICE_PCM] = {0.25e-6, 25e-6},
    [XB_DEVICE_ECRAM] = {1e-6, 10e-6},
};

void xb_array_params_default(xb_array_params *p, xb_device_kind device)
{
    memset(p, 0, sizeof *p);
    p->device = device;
    p->cell = XB_CELL_1R;
    /* 1.06 ohm per 2F crossbar segment at the 22 nm node (NeuroSim V1.3 rho/AR table). */
    p->r_wire_row_ohm = 1.0;
    p->r_wire_col_ohm = 1.0;
    /* Driver output 100 ohm - 1 kohm (Toronto crossbar-simulator uses 1 k); 100 ohm default. */
    p->r_driver_ohm = 100.0;
    /* Ideal virtual ground (TIA input) by default. */
    p->r_sense_ohm = 0.0;
    /* ~0.2 fF per cell segment (~0.2 fF/um Cu wire, ~1 um segment). */
    p->c_wire_farad = 0.2e-15;
    /* 0.1-0.2 V typical read (Stanford model 0.1 V, Toronto sim 0.2 V). */
    p->v_read_volt = 0.2;
    /* Stanford-PKU V0 = 0.25 V (Jiang et al., TED 63(5) 2016). */
    p->rram_v0_volt = 0.25;
    /* a-GST Poole-Frenkel V0 0.15-0.4 V (Ielmini & Zhang, JAP 102, 054517, 2007); the
     * crystalline state is near-ohmic, represented by a large V0. */
    p->pcm_v0_low_volt = 0.15;
    p->pcm_v0_high_volt = 1.0;
    p->g_min_siemens = k_range[device].g_min_siemens;
    p->g_max_siemens = k_range[device].g_max_siemens;
    /* Access NMOS: mu_n Cox = 300 uA/V^2, W/L = 2, V_T = 0.4 V, gate 1.2 V -> R_on ~ 2 kohm
     * (device-physics.md sec. 4.2; NeuroSim access voltage 1.1 V). */
    p->nmos_kp_a_per_v2 = 300e-6;
    p->nmos_w_over_l = 2.0;
    p->nmos_vt_volt = 0.4;
    p->nmos_lambda_per_v = 0.0;
    p->v_gate_volt = 1.2;
    /* MIEC-like sinh selector (Burr et al., JVST B 32, 040802, 2014): I = Is sinh(V/Vs). */
    p->sel_is_amp = 1e-6;
    p->sel_vs_volt = 0.1;
    p->seed = 1;
}

static const char *const k_device_names[] = {"linear", "rram", "pcm", "ecram"};
static const char *const k_cell_names[] = {"1r", "1t1r", "1s1r"};

const char *xb_device_name(xb_device_kind d)
{
    return (unsigned)d < 4 ? k_device_names[d] : "?";
}

int xb_device_from_name(const char *s, xb_device_kind *out)
{
    for (int i = 0; i < 4; i++)
        if (s && strcmp(s, k_device_names[i]) == 0) { *out = (xb_device_kind)i; return XB_OK; }
    return XB_EINPUT;
}

const char *xb_cell_name(xb_cell_kind c)
{
    return (unsigned)c < 3 ? k_cell_names[c] : "?";
}

int xb_cell_from_name(const char *s, xb_cell_kind *out)
{
    for (int i = 0; i < 3; i++)
        if (s && strcmp(s, k_cell_names[i]) == 0) { *out = (xb_cell_kind)i; return XB_OK; }
    return XB_EINPUT;
}

int xb_array_params_check(const xb_array_params *p, xb_error *err)
{
    if (p->rows == 0) return xb_errorf(err, XB_EINPUT, "--rows: must be at least 1");
    if (p->cols == 0) return xb_errorf(err, XB_EINPUT, "--cols: must be at least 1");
    if ((unsigned)p->device > XB_DEVICE_ECRAM) return xb_errorf(err, XB_EINPUT, "--device: unknown device");
    if ((unsigned)p->cell > XB_CELL_1S1R) return xb_errorf(err, XB_EINPUT, "--cell: unknown cell type");
    struct { double v; const char *name; } nonneg[] = {
        {p->r_wire_row_ohm, "--r-wire-row"}, {p->r_wire_col_ohm, "--r-wire-col"},
        {p->r_driver_ohm, "--r-driver"},     {p->r_sense_ohm, "--r-sense"},
        {p->c_wire_farad, "--c-wire"},       {p->stuck_on_rate, "--stuck-on"},
        {p->stuck_off_rate, "--stuck-off"},
    };
    for (size_t k = 0; k < sizeof nonneg / sizeof nonneg[0]; k++)
        if (!(nonneg[k].v >= 0) || !isfinite(nonneg[k].v))
            return xb_errorf(err, XB_EINPUT, "%s: must be >= 0, got %g", nonneg[k].name, nonneg[k].v);
    if (!(p->v_read_volt > 0)) return xb_errorf(err, XB_EINPUT, "--v-read: must be > 0");
    if (!(p->g_min_siemens > 0) || !(p->g_max_siemens > p->g_min_siemens))
        return xb_errorf(err, XB_EINPUT, "--g-min/--g-max: need 0 < g_min < g_max");
    if (p->stuck_on_rate + p->stuck_off_rate > 1)
        return xb_errorf(err, XB_EINPUT, "--stuck-on/--stuck-off: rates add up to more than 1");
    return XB_OK;
}

/* ---- dynamic-model parameters (models/ library subcircuits rram_dyn, pcm_dyn, ecram_dyn) ----
 * The netlist writer passes every one explicitly, so this table, not the .lib defaults, is
 * authoritative (tests/test_devices.c checks that the two agree).  d2d_sigma is the relative
 * (lognormal) device-to-device spread applied with --var-d2d. */
static const xb_dyn_param k_dyn_params[] = {
    /* RRAM: Stanford-PKU v1.0.0 (Jiang et al., SISPAD 2014; TED 63(5) 1884, 2016; nanoHUB
     * doi:10.4231/D37H1DN48; defaults as in MemTorch Stanford_PKU.py).  Lengths in nm. */
    {XB_DEVICE_RRAM, "gini", 1.7, 0, "initial gap = g_max (OFF), nm"},
    {XB_DEVICE_RRAM, "i0", 1e-3, 0, "current prefactor I0, A (Stanford-PKU v1.0.0)"},
    {XB_DEVICE_RRAM, "g0", 0.25, 0, "gap decay length g0, nm (Stanford-PKU v1.0.0)"},
    {XB_DEVICE_RRAM, "v0", 0.25, 0, "I-V nonlinearity V0, V (Stanford-PKU v1.0.0)"},
    /* d2d: the Stanford model's variability acts on the gap growth rate; 10 % on the
     * velocity prefactor and 2 % on gamma0 (Guan, Yu, Wong, EDL 33(10) 1405, 2012 model
     * variation through the gap dynamics; spreads are xbar's assumption, docs/devices.md) */
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
    /* PCM electro-thermal (device-physics.md sec. 2.3, GST mushroom-cell literature ranges:
     * Le Gallo & Sebastian, J. Phys. D 53, 213002, 2020; Ielmini & Zhang, JAP 102, 054517, 2007) */
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
    /* ECRAM 3-terminal (device-physics.md sec. 3.2; gamma_up/down of aihwkit EcRamPresetDevice,
     * Tang IEDM 2018 fit; d2d 10 % on the step size (dw_min_dtod 0.1) and 5 % on the range
     * (w_max_dtod 0.05), aihwkit presets) */
    {XB_DEVICE_ECRAM, "x0", 0.5, 0, "initial state"},
    {XB_DEVICE_ECRAM, "gmin", 1e-6, 0, "channel conductance at x = 0, S (params range)"},
    {XB_DEVICE_ECRAM, "gmax", 10e-6, 0.05, "channel conductance at x = 1, S (params range)"},
    {XB_DEVICE_ECRAM, "i0g", 1e-12, 0, "gate branch prefactor, A"},
    {XB_DEVICE_ECRAM, "vg0", 0.1, 0, "gate branch sinh voltage, V (exponential amplitude dependence, Kim IEDM 2019)"},
    {XB_DEVICE_ECRAM, "qup", 1.1e-13, 0.10, "charge for a full potentiation sweep, C (~1000 states, Tang 2018)"},
    {XB_DEVICE_ECRAM, "qdn", 1.2e-13, 0.10, "charge for a full depression sweep, C (up/down asymmetry)"},
    {XB_DEVICE_ECRAM, "gup", 0.1153, 0, "soft-bound gamma_up (aihwkit EcRamPresetDevice)"},
    {XB_DEVICE_ECRAM, "gdn", 0.5085, 0, "soft-bound gamma_down (aihwkit EcRamPresetDevice)"},
    {XB_DEVICE_ECRAM, "kocp", 0, 0, "open-circuit-potential factor (0: metal-oxide/protonic)"},
};

const xb_dyn_param *xb_netlist_dyn_params(size_t *n)
{
    *n = sizeof k_dyn_params / sizeof k_dyn_params[0];
    return k_dyn_params;
}

/* ---- wire resistance per technology node ----
 * NeuroSim V1.3-era table (rho, aspect ratio, wire width per node; R = rho/(w^2 AR) times
 * the segment length): crossbar cell 2F x 2F; 1T1R cell 4F along the row, 12F along the
 * column (device-physics.md sec. 4.1). */
typedef struct {
    int node_nm;
    double xbar_seg_ohm, t1r_row_ohm, t1r_col_ohm;
} tech_row;

static const tech_row k_tech[] = {
    {130, 0.16, 0.31, 0.94}, {90, 0.29, 0.57, 1.7}, {65, 0.30, 0.60, 1.8}, {45, 0.49, 0.97, 2.9},
    {32, 0.73, 1.5, 4.4},    {22, 1.06, 2.1, 6.4},  {14, 2.0, 4.1, 12.2},  {10, 3.5, 7.1, 21},
    {7, 3.5, 7.1, 21},
};

int xb_array_params_tech_node(xb_array_params *p, long node_nm, xb_error *err)
{
    for (size_t k = 0; k < sizeof k_tech / sizeof k_tech[0]; k++) {
        if (k_tech[k].node_nm != node_nm) continue;
        if (p->cell == XB_CELL_1T1R) {
            p->r_wire_row_ohm = k_tech[k].t1r_row_ohm;
            p->r_wire_col_ohm = k_tech[k].t1r_col_ohm;
        } else {
            p->r_wire_row_ohm = p->r_wire_col_ohm = k_tech[k].xbar_seg_ohm;
        }
        return XB_OK;
    }
    return xb_errorf(err, XB_EINPUT, "--node: no wire data for %ld nm (130, 90, 65, 45, 32, 22, 14, 10, 7)",
                     node_nm);
}
