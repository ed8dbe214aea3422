/* Static read equations of the devices, the selector and the access NMOS.
 *
 * These are the C twins of the read-mode SPICE subcircuits in models/ and of the
 * elements src/netlist/netlist.c emits; docs/devices.md gives the laws, the device table
 * (src/netlist/device_table.c) says which law and which V0 each device has.
 * The sinh arguments are clamped to +-XB_SINH_CLAMP exactly as in the SPICE
 * expressions (ngspice's sinh() is unguarded: ngspice 39 src/spicelib/parser/ptfuncs.c;
 * docs/physics.md "ngspice 39 numerics"), so the
 * two implementations agree everywhere, not only in the normal operating range. */
#include "xbar/netlist.h"

#include <math.h>

/* Clamped sinh and its derivative with respect to the (unclamped) argument. */
static void sinh_clamped(double x, double *s, double *ds)
{
    if (x > XB_SINH_CLAMP) {
        *s = sinh(XB_SINH_CLAMP);
        *ds = 0.0;
    } else if (x < -XB_SINH_CLAMP) {
        *s = -sinh(XB_SINH_CLAMP);
        *ds = 0.0;
    } else {
        *s = sinh(x);
        *ds = cosh(x);
    }
}

/* A V0 knot of the read law: its tunable copy in p (the field the law names), or the table's
 * value for a law without one. */
static double v0_knot(const xb_array_params *p, const xb_read_law *law, int hi)
{
    size_t offset = hi ? law->v0_hi_field : law->v0_lo_field;
    if (offset == XB_V0_TABLE) return hi ? law->v0_hi_volt : law->v0_lo_volt;
    return *(const double *)((const char *)p + offset);
}

double xb_device_v0_volt(const xb_array_params *p, double g_siemens)
{
    const xb_device_info *di = xb_device_info_get(p->device);
    if (!di || di->read.kind != XB_READ_SINH) return 0.0; /* ohmic */
    if (di->read.v0_rule == XB_V0_CONSTANT) return v0_knot(p, &di->read, 0);
    /* V0 rises linearly with the normalized state: for PCM amorphous (g_min) most nonlinear,
     * crystalline (g_max) nearly ohmic. */
    double lo = v0_knot(p, &di->read, 0), hi = v0_knot(p, &di->read, 1);
    double f = (g_siemens - p->g_min_siemens) / (p->g_max_siemens - p->g_min_siemens);
    if (!(f > 0)) f = 0;
    if (f > 1) f = 1;
    return lo + (hi - lo) * f;
}

void xb_device_v0_knots(const xb_array_params *p, double *v0_lo_volt, double *v0_hi_volt)
{
    const xb_device_info *di = xb_device_info_get(p->device);
    double lo = 0, hi = 0;
    if (di && di->read.kind == XB_READ_SINH) {
        lo = v0_knot(p, &di->read, 0);
        hi = di->read.v0_rule == XB_V0_CONSTANT ? lo : v0_knot(p, &di->read, 1);
    }
    if (v0_lo_volt) *v0_lo_volt = lo;
    if (v0_hi_volt) *v0_hi_volt = hi;
}

double xb_device_sinh_prefactor_amp(const xb_array_params *p, double g_siemens)
{
    double v0 = xb_device_v0_volt(p, g_siemens);
    if (v0 <= 0) return 0.0;
    double s, ds;
    sinh_clamped(p->v_read_volt / v0, &s, &ds);
    return g_siemens * p->v_read_volt / s;
}

void xb_device_read_iv(const xb_array_params *p, double g_siemens, double v_volt, double *i_amp,
                       double *didv_siemens)
{
    double v0 = xb_device_v0_volt(p, g_siemens);
    double i, didv;
    if (v0 <= 0) {
        /* linear resistor (--device linear) and ECRAM channel with the gate floating */
        i = g_siemens * v_volt;
        didv = g_siemens;
    } else {
        /* I = G v_r sinh(V/V0) / sinh(v_r/V0): G is the chord conductance at v_read */
        double k = xb_device_sinh_prefactor_amp(p, g_siemens);
        double s, ds;
        sinh_clamped(v_volt / v0, &s, &ds);
        i = k * s;
        didv = k * ds / v0;
    }
    if (i_amp) *i_amp = i;
    if (didv_siemens) *didv_siemens = didv;
}

void xb_selector_iv(const xb_array_params *p, double v_volt, double *i_amp, double *didv_siemens)
{
    double s, ds;
    sinh_clamped(v_volt / p->sel_vs_volt, &s, &ds);
    if (i_amp) *i_amp = p->sel_is_amp * s;
    if (didv_siemens) *didv_siemens = p->sel_is_amp * ds / p->sel_vs_volt;
}

/* Forward-mode (vds >= 0) level-1 drain current, ngspice mos1load.c with gamma = 0,
 * LD = 0: beta = KP W/L; cutoff for vgs <= VTO; linear for vds < vgs - VTO;
 * saturation otherwise; both multiplied by (1 + lambda vds). */
static void nmos_forward(const xb_array_params *p, double vgs, double vds, double *id, double *gm,
                         double *gds)
{
    double beta = p->nmos_kp_a_per_v2 * p->nmos_w_over_l;
    double lam = p->nmos_lambda_per_v;
    double vgst = vgs - p->nmos_vt_volt;
    if (vgst <= 0) {
        *id = *gm = *gds = 0.0;
        return;
    }
    double arg = 1.0 + lam * vds;
    if (vgst <= vds) { /* saturation */
        *id = 0.5 * beta * vgst * vgst * arg;
        *gm = beta * vgst * arg;
        *gds = lam * 0.5 * beta * vgst * vgst;
    } else { /* linear */
        *id = beta * vds * (vgst - 0.5 * vds) * arg;
        *gm = beta * vds * arg;
        *gds = beta * (vgst - vds) * arg + lam * beta * vds * (vgst - 0.5 * vds);
    }
}

void xb_nmos_iv(const xb_array_params *p, double vgs, double vds, double *id_amp, double *gm,
                double *gds)
{
    double id, dg, dd;
    if (vds >= 0) {
        nmos_forward(p, vgs, vds, &id, &dg, &dd);
    } else {
        /* Reverse mode: the drain acts as the source.  With vgd = vgs - vds and vsd = -vds,
         * Id = -f(vgd, vsd); dId/dVgs = -f_g, dId/dVds = f_g + f_d. */
        double f, fg, fd;
        nmos_forward(p, vgs - vds, -vds, &f, &fg, &fd);
        id = -f;
        dg = -fg;
        dd = fg + fd;
    }
    if (id_amp) *id_amp = id;
    if (gm) *gm = dg;
    if (gds) *gds = dd;
}
