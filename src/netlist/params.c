/* The one table of array and periphery defaults (wires, driver, sense, access transistor,
 * selector, technology nodes); the device defaults are the device table
 * (src/netlist/device_table.c).  Every number carries its source; the derivations are in
 * docs/physics.md (section named beside each block). */
#include "xbar/netlist.h"

#include <math.h>
#include <string.h>

void xb_array_params_default(xb_array_params *p, xb_device_kind device)
{
    memset(p, 0, sizeof *p);
    p->device = device;
    p->cell = XB_CELL_1R;
    /* 1.06 ohm per 2F crossbar segment at the 22 nm node (NeuroSim V1.3 rho/AR table;
     * docs/physics.md, "Wire resistance per technology node"). */
    p->r_wire_row_ohm = 1.0;
    p->r_wire_col_ohm = 1.0;
    /* Driver output 100 ohm - 1 kohm (Toronto crossbar-simulator uses 1 k); 100 ohm default
     * (docs/physics.md, "Driver, sense and access transistor"). */
    p->r_driver_ohm = 100.0;
    /* Ideal virtual ground (TIA input) by default. */
    p->r_sense_ohm = 0.0;
    /* ~0.2 fF per cell segment (~0.2 fF/um Cu wire, ~1 um segment). */
    p->c_wire_farad = 0.2e-15;
    /* 0.1-0.2 V typical read (Stanford model 0.1 V, Toronto sim 0.2 V). */
    p->v_read_volt = 0.2;
    /* The V0 knots of every device's read law (the tunable copies; device table) and the
     * chosen device's conductance window (device table). */
    for (int d = 0; d < XB_DEVICE_COUNT; d++) {
        const xb_read_law *law = &xb_device_info_get((xb_device_kind)d)->read;
        if (law->kind != XB_READ_SINH) continue;
        if (law->v0_lo_field != XB_V0_TABLE) *(double *)((char *)p + law->v0_lo_field) = law->v0_lo_volt;
        if (law->v0_rule == XB_V0_LINEAR_IN_G && law->v0_hi_field != XB_V0_TABLE)
            *(double *)((char *)p + law->v0_hi_field) = law->v0_hi_volt;
    }
    const xb_device_info *di = xb_device_info_get(device);
    p->g_min_siemens = di ? di->g_min_siemens : 0;
    p->g_max_siemens = di ? di->g_max_siemens : 0;
    /* Access NMOS: mu_n Cox = 300 uA/V^2, W/L = 2, V_T = 0.4 V, gate 1.2 V -> R_on ~ 2 kohm
     * (NeuroSim access voltage 1.1 V; docs/physics.md, "Driver, sense and access transistor"). */
    p->nmos_kp_a_per_v2 = 300e-6;
    p->nmos_w_over_l = 2.0;
    p->nmos_vt_volt = 0.4;
    p->nmos_lambda_per_v = 0.0;
    p->v_gate_volt = 1.2;
    /* MIEC-like sinh selector (Burr et al., JVST B 32, 040802, 2014): I = Is sinh(V/Vs). */
    p->sel_is_amp = 1e-6;
    p->sel_vs_volt = 0.1;
    /* Threshold-switching selector of programming circuits (models/selector.lib sel_ts): OTS
     * threshold ~1 V and holding voltage ~0.5 V (Ovonic threshold switches, Kau et al., IEDM
     * 2009; Burr et al., JVST B 32, 040802, 2014: V_th 1-2 V, V_hold 0.5-1 V), on resistance
     * 1 kohm, off resistance 100 Mohm (10 nA at 1 V), holding current 0.1 uA; turn-on ~1 ns
     * and relaxation ~10 ns (sub-ns to ns switching of OTS and NbO2 Mott selectors, Pickett &
     * Williams, Nanotechnology 23, 215202, 2012).  V_th sets the largest V/2 (2 V) and V/3
     * (3 V) write amplitude that keeps half-selected selectors off.  docs/devices.md. */
    p->selector = XB_SELECTOR_SINH;
    p->sel_vth_volt = 1.0;
    p->sel_vhold_volt = 0.5;
    p->sel_ron_ohm = 1e3;
    p->sel_roff_ohm = 1e8;
    p->sel_ihold_amp = 0.1e-6;
    p->sel_ton_s = 1e-9;
    p->sel_toff_s = 10e-9;
    /* The node between the device and its access element in programming circuits: the drain
     * junction and contact/via of a minimum access transistor, ~0.1 fF (xbar's estimate at the
     * scale of c_wire_farad).  Without it that node has no capacitance, and a 1T1R row whose
     * gate switches on with the pulse stops ngspice ("timestep too small"). */
    p->c_node_farad = 1e-15;
    p->seed = 1;
}

void xb_periphery_default(xb_periphery *q)
{
    memset(q, 0, sizeof *q);
    /* 8-bit inputs and outputs: aihwkit StandardIOParameters (inp_res = out_res = 1/254). */
    q->dac_bits = 8;
    q->adc_bits = 8;
    /* DAC + row driver: ISAAC's 1-bit DACs, 4 mW for 8 x 128 of them at a 100 ns read:
     * 0.39 pJ per bit (Shafiee et al., ISCA 2016, Table 2); a B-bit input costs B of them. */
    q->dac_joule_per_bit = 4e-3 / 1024.0 * 100e-9;
    /* ADC: ISAAC's 8-bit 1.28 GS/s SAR ADC, 2 mW each (ISCA 2016, Table 2, after Kull et al.,
     * ISSCC 2013): 1.56 pJ per conversion = 6.1 fJ per level (Walden). */
    q->adc_fom_joule_per_step = 2e-3 / 1.28e9 / 256.0;
    /* Sense: ISAAC's sample-and-hold, 10 uW for 8 x 128 of them at a 100 ns read (ISCA 2016,
     * Table 2, after O'Halloran & Sarpeshkar, JSSC 2004): ~1 fJ per column read. */
    q->sense_joule = 0.01e-3 / 1024.0 * 100e-9;
    /* Digital work: 45 nm, Horowitz ISSCC 2014 "Computing's energy problem": 32-bit int add
     * 0.1 pJ, 32-bit int mult 3.1 pJ (arithmetic only, no memory access). */
    q->dig_add_joule = 0.1e-12;
    q->dig_mul_joule = 3.1e-12;
    /* One crossbar read incl. conversion: 100 ns (ISAAC, ISCA 2016). */
    q->t_mvm_s = 100e-9;
}

static const char *const k_cell_names[] = {"1r", "1t1r", "1s1r"};

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
    if (!xb_device_info_get(p->device)) return xb_errorf(err, XB_EINPUT, "--device: unknown device");
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

/* ---- wire resistance per technology node ----
 * NeuroSim V1.3-era table (rho, aspect ratio, wire width per node; R = rho/(w^2 AR) times
 * the segment length): crossbar cell 2F x 2F; 1T1R cell 4F along the row, 12F along the
 * column (docs/physics.md, "Wire resistance per technology node"). */
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
