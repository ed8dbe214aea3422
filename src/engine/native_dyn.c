/*
 * The dynamic device models of models/<device>.lib in C, for the native programming solver
 * (native_write.c): the same equations, clamps and smoothing as the ngspice subcircuits, so
 * that the two solvers integrate one model (tests/test_write_native.c holds them together).
 * One row per subcircuit; the solver finds a device's row by its dynamic subcircuit name (the
 * device table's dyn_subckt), never by the device.  PCM's thermal node (rth cth = 1 ns) is its
 * second state.  The threshold-switching selector of 1S1R cells (models/selector.lib sel_ts)
 * is at the end: the solver adds its state to each cell's.
 */
#include "engine/native_write_internal.h"

#include <math.h>
#include <string.h>

static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

/* ---- rram_dyn (models/rram.lib): Stanford-PKU gap model ---- */
enum { R_I0, R_G0, R_V0, R_VEL0, R_EA, R_A0, R_TOX, R_GAMMA0, R_BETA, R_FMIN, R_FSM, R_T0, R_RTH, R_GAPMIN,
       R_GAPMAX, R_DGN, R_TCRIT, R_TSMTH, R_N };
static const char *const k_rram_par[R_N] = {"i0",   "g0",     "v0",   "vel0",   "ea",     "a0",
                                            "tox",  "gamma0", "beta", "fmin",   "fsm",    "t0",
                                            "rth",  "gapmin", "gapmax", "dgn",  "tcrit",  "tsmth"};

/* gcl(x): the gap the equations see, 1 nm beyond the bounds at most */
static double rram_gcl(const double *q, double x) { return clampd(x, q[R_GAPMIN] - 1, q[R_GAPMAX] + 1); }

static void rram_iv(const double *q, double v, const double *xs, double *i, double *di)
{
    double a = q[R_I0] * exp(-rram_gcl(q, xs[0]) / q[R_G0]), u = v / q[R_V0];
    if (u > 40 || u < -40) {
        *i = a * sinh(u > 0 ? 40.0 : -40.0);
        *di = 0;
        return;
    }
    *i = a * sinh(u);
    *di = a * cosh(u) / q[R_V0];
}

static double rram_rate1(const double *q, double v, double i, double x, double nz)
{
    double t = q[R_T0] + fmin(fabs(v * i) * q[R_RTH], 1e4);
    double kt = 8.617333262e-5 * fmax(t, 200);
    double g = rram_gcl(q, x), gam = q[R_GAMMA0] - q[R_BETA] * g * g * g;
    double gon = 0.5 * (1 + tanh((gam * fabs(v) / q[R_TOX] - q[R_FMIN]) / q[R_FSM]));
    if (gon == 0) return 0;
    double r = -q[R_VEL0] * exp(-q[R_EA] / kt) * sinh(clampd(gam * gon * q[R_A0] / q[R_TOX] * v / kt, -80, 80)) +
               q[R_DGN] * gon * nz / (1 + exp(fmin((q[R_TCRIT] - t) / q[R_TSMTH], 80)));
    /* smooth bounds: the rate fades within 0.01 nm of the bound it moves towards */
    return r < 0 ? r * tanh(fmax(x - q[R_GAPMIN], 0) / 0.01) : r * tanh(fmax(q[R_GAPMAX] - x, 0) / 0.01);
}

static void rram_rate(const double *q, double v, double i, double vgc, const double *x, double nz, double *dx)
{
    (void)vgc;
    dx[0] = rram_rate1(q, v, i, x[0], nz);
}

static void rram_limits(const double *q, double *lo, double *hi)
{
    *lo = q[R_GAPMIN] - 0.01;
    *hi = q[R_GAPMAX] + 0.01;
}

/* ---- ecram_dyn (models/ecram.lib): gate-programmed channel ---- */
enum { E_GMIN, E_GMAX, E_I0G, E_VG0, E_QUP, E_QDN, E_GUP, E_GDN, E_KOCP, E_SC2C, E_N };
static const char *const k_ecram_par[E_N] = {"gmin", "gmax", "i0g", "vg0", "qup", "qdn", "gup", "gdn", "kocp", "sc2c"};

static void ecram_iv(const double *q, double v, const double *x, double *i, double *di)
{
    double g = q[E_GMIN] + (q[E_GMAX] - q[E_GMIN]) * x[0];
    *i = g * v;
    *di = g;
}

static void ecram_ig(const double *q, double vgc, const double *xs, double *i, double *di)
{
    const double x = xs[0];
    double ocp = q[E_KOCP] * 0.025852 * log(fmax(x, 1e-6) / fmax(1 - x, 1e-6));
    double u = (vgc - ocp) / q[E_VG0];
    if (u > 60 || u < -60) {
        *i = q[E_I0G] * sinh(u > 0 ? 60.0 : -60.0);
        *di = 0;
        return;
    }
    *i = q[E_I0G] * sinh(u);
    *di = q[E_I0G] * cosh(u) / q[E_VG0];
}

static void ecram_rate(const double *q, double v, double i, double vgc, const double *xs, double nz, double *dx)
{
    (void)v;
    (void)i;
    const double x = xs[0];
    double ig, d;
    ecram_ig(q, vgc, xs, &ig, &d);
    double r = ig >= 0 ? ig / q[E_QUP] * (1 - q[E_GUP] * x) : ig / q[E_QDN] * (1 - q[E_GDN] * (1 - x));
    dx[0] = r * fmax(1 + q[E_SC2C] * nz, 0);
}

static void ecram_limits(const double *q, double *lo, double *hi)
{
    (void)q;
    *lo = 0;
    *hi = 1;
}

/* ---- pcm_dyn (models/pcm.lib): crystalline fraction c and the thermal node's rise t ---- */
enum { P_C0, P_TAMB, P_TX, P_TM, P_DTW, P_RTH, P_CTH, P_GA0, P_EA, P_V0A, P_GC, P_TAUCR, P_TAUAM, P_SC2C, P_N };
static const char *const k_pcm_par[P_N] = {"c0",  "tamb", "tx",  "tm", "dtw",   "rth",   "cth",
                                           "ga0", "ea",   "v0a", "gc", "taucr", "tauam", "sc2c"};

/* wm(t): molten fraction; wx(t): the crystallization window (the .lib's .func) */
static double pcm_wm(const double *q, double t) { return 1 / (1 + exp(fmin(-(q[P_TAMB] + t - q[P_TM]) / q[P_DTW], 80))); }
static double pcm_wx(const double *q, double t)
{
    return (1 - pcm_wm(q, t)) / (1 + exp(fmin(-(q[P_TAMB] + t - q[P_TX]) / q[P_DTW], 80)));
}

/* itot(v, c, t): the amorphous part's thermally activated sinh plus the crystalline ohmic one,
 * the molten fraction counted as crystalline (ce) */
static void pcm_iv(const double *q, double v, const double *x, double *i, double *di)
{
    const double t = x[1], ce = x[0] + (1 - x[0]) * pcm_wm(q, t), ta = q[P_TAMB];
    const double act = exp(fmin(-q[P_EA] / 8.617333262e-5 * (1 / fmax(ta + t, 200) - 1 / ta), 80));
    double u = v / q[P_V0A], s, c;
    if (u > 40 || u < -40) {
        s = sinh(u > 0 ? 40.0 : -40.0);
        c = 0;
    } else {
        s = sinh(u);
        c = cosh(u);
    }
    const double a = (1 - ce) * q[P_GA0] * act;
    *i = a * q[P_V0A] * s + ce * q[P_GC] * v;
    *di = a * c + ce * q[P_GC];
}

/* dc/dt: crystallization in its window (its rate jittered by the noise terminal), melting
 * (Bdc); dt/dt: the device's Joule heat into rth || cth (Bp, Rth, Cth) */
static void pcm_rate(const double *q, double v, double i, double vgc, const double *x, double nz, double *dx)
{
    (void)vgc;
    const double c = x[0], t = x[1];
    dx[0] = pcm_wx(q, t) * (1 - c) / q[P_TAUCR] * fmax(1 + q[P_SC2C] * nz, 0) - pcm_wm(q, t) * c / q[P_TAUAM];
    dx[1] = (v * i - t / q[P_RTH]) / q[P_CTH];
}

static void pcm_limits(const double *q, double *lo, double *hi)
{
    (void)q;
    lo[0] = 0;
    hi[0] = 1;
    lo[1] = 0;    /* Joule heat only warms */
    hi[1] = 1e4;  /* K: a bound for the step control's scale, far above melting (600 K) */
}

/* At 0 V over dt: the thermal node discharges through rth, t e^(-dt / (rth cth)), and the
 * crystallization goes on at the window's value (the logistic's tail: ~15 per second at room
 * temperature), taken at the mean of its values at the two temperatures: 1 - c decays
 * exponentially.  Melting needs 600 K: none at 0 V. */
static void pcm_relax(const double *q, double *x, double nz, double dt_s)
{
    const double t0 = x[1], t1 = t0 * exp(-dt_s / (q[P_RTH] * q[P_CTH]));
    const double k = 0.5 * (pcm_wx(q, t0) + pcm_wx(q, t1)) * fmax(1 + q[P_SC2C] * nz, 0) / q[P_TAUCR];
    x[0] = 1 - (1 - x[0]) * exp(-k * dt_s);
    x[1] = t1;
}

/* ---- sel_ts (models/selector.lib): threshold-switching selector, volatile state s ---- */
void nw_ts_init(nw_ts *t, const xb_array_params *p)
{
    t->vth = p->sel_vth_volt;
    t->vhold = p->sel_vhold_volt;
    t->ron = p->sel_ron_ohm;
    t->roff = p->sel_roff_ohm;
    t->ihold = p->sel_ihold_amp;
    t->ton = p->sel_ton_s;
    t->toff = p->sel_toff_s;
    /* the subcircuit's own defaults (the netlist passes vth..toff only) */
    t->dvw = 20e-3;
    t->slatch = 10e-3;
}

/* sp(x) = max(x, 0) + dvw ln(1 + e^(-|x| / dvw)) and its derivative, the logistic */
static double ts_sp(const nw_ts *t, double x) { return fmax(x, 0) + t->dvw * log1p(exp(-fabs(x) / t->dvw)); }
static double ts_dsp(const nw_ts *t, double x) { return 1 / (1 + exp(fmin(-x / t->dvw, 700))); }

/* ion(v) = (sp(v - vhold) - sp(-v - vhold)) / ron */
static double ts_ion(const nw_ts *t, double v) { return (ts_sp(t, v - t->vhold) - ts_sp(t, -v - t->vhold)) / t->ron; }

/* ss(x): smoothstep, 0 below 0, 3x^2 - 2x^3 on [0, 1], 1 above */
static double ts_ss(double x)
{
    double c = clampd(x, 0, 1);
    return c * c * (3 - 2 * c);
}

void nw_ts_iv(const nw_ts *t, double v, double s, double *i, double *di)
{
    const double son = fmax(s, 0);
    *i = (1 - s) * v / t->roff + son * ts_ion(t, v);
    *di = (1 - s) / t->roff + son * (ts_dsp(t, v - t->vhold) + ts_dsp(t, -v - t->vhold)) / t->ron;
}

void nw_ts_terms(const nw_ts *t, double v, double s, double *on, double *off)
{
    *on = ts_ss((fabs(v) - t->vth + (t->vth - t->vhold) * fmin(s / t->slatch, 1)) / t->dvw);
    *off = ts_ss((t->ihold - fabs(ts_ion(t, v))) / (0.2 * t->ihold));
}

double nw_ts_rate(const nw_ts *t, double v, double s)
{
    double on, off;
    nw_ts_terms(t, v, s, &on, &off);
    return on * (1 - s) / t->ton - off * s / t->toff;
}

/* At 0 V: the switching voltage is at least vhold above |V| = 0 (on = 0) and ion(0) = 0
 * (off = ss(5) = 1), so ds/dt = -s / toff exactly. */
double nw_ts_relax(const nw_ts *t, double s, double dt_s) { return s * exp(-dt_s / t->toff); }

static const nv_dyn_model k_models[] = {
    {"rram_dyn", R_N, k_rram_par, 0, 1, rram_iv, rram_rate, NULL, rram_limits, NULL},
    {"ecram_dyn", E_N, k_ecram_par, 1, 1, ecram_iv, ecram_rate, ecram_ig, ecram_limits, NULL},
    {"pcm_dyn", P_N, k_pcm_par, 0, 2, pcm_iv, pcm_rate, NULL, pcm_limits, pcm_relax},
};

const nv_dyn_model *nv_dyn_find(const char *subckt)
{
    for (size_t k = 0; subckt && k < sizeof k_models / sizeof k_models[0]; k++)
        if (strcmp(k_models[k].subckt, subckt) == 0) return &k_models[k];
    return NULL;
}

int nv_dyn_params(const nv_dyn_model *m, const char *inst, double *par, xb_error *err)
{
    for (size_t k = 0; k < m->npar; k++) {
        par[k] = xb_netlist_inst_value(inst, m->par[k]);
        if (!isfinite(par[k]))
            return xb_errorf(err, XB_ERUNTIME, "native write: parameter %s of %s missing", m->par[k], m->subckt);
    }
    return XB_OK;
}
