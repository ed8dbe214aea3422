/*
 * The dynamic device models of models/<device>.lib in C, for the native programming solver
 * (native_write.c): the same equations, clamps and smoothing as the ngspice subcircuits, so
 * that the two solvers integrate one model (tests/test_write_native.c holds them together).
 * One row per subcircuit; the solver finds a device's row by its dynamic subcircuit name (the
 * device table's dyn_subckt), never by the device.  PCM (pcm_dyn) is not here: its thermal
 * node is a second state with its own time constant (rth cth = 1 ns), docs/native.md.
 */
#include "engine/native_internal.h"

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

static void rram_iv(const double *q, double v, double x, double *i, double *di)
{
    double a = q[R_I0] * exp(-rram_gcl(q, x) / q[R_G0]), u = v / q[R_V0];
    if (u > 40 || u < -40) {
        *i = a * sinh(u > 0 ? 40.0 : -40.0);
        *di = 0;
        return;
    }
    *i = a * sinh(u);
    *di = a * cosh(u) / q[R_V0];
}

static double rram_rate(const double *q, double v, double i, double vgc, double x, double nz)
{
    (void)vgc;
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

static void rram_limits(const double *q, double *lo, double *hi)
{
    *lo = q[R_GAPMIN] - 0.01;
    *hi = q[R_GAPMAX] + 0.01;
}

/* ---- ecram_dyn (models/ecram.lib): gate-programmed channel ---- */
enum { E_GMIN, E_GMAX, E_I0G, E_VG0, E_QUP, E_QDN, E_GUP, E_GDN, E_KOCP, E_SC2C, E_N };
static const char *const k_ecram_par[E_N] = {"gmin", "gmax", "i0g", "vg0", "qup", "qdn", "gup", "gdn", "kocp", "sc2c"};

static void ecram_iv(const double *q, double v, double x, double *i, double *di)
{
    double g = q[E_GMIN] + (q[E_GMAX] - q[E_GMIN]) * x;
    *i = g * v;
    *di = g;
}

static void ecram_ig(const double *q, double vgc, double x, double *i, double *di)
{
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

static double ecram_rate(const double *q, double v, double i, double vgc, double x, double nz)
{
    (void)v;
    (void)i;
    double ig, d;
    ecram_ig(q, vgc, x, &ig, &d);
    double r = ig >= 0 ? ig / q[E_QUP] * (1 - q[E_GUP] * x) : ig / q[E_QDN] * (1 - q[E_GDN] * (1 - x));
    return r * fmax(1 + q[E_SC2C] * nz, 0);
}

static void ecram_limits(const double *q, double *lo, double *hi)
{
    (void)q;
    *lo = 0;
    *hi = 1;
}

static const nv_dyn_model k_models[] = {
    {"rram_dyn", R_N, k_rram_par, 0, rram_iv, rram_rate, NULL, rram_limits},
    {"ecram_dyn", E_N, k_ecram_par, 1, ecram_iv, ecram_rate, ecram_ig, ecram_limits},
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
