/*
 * Native read transient: the circuit src/characterize/transient.c gives ngspice (the MVM
 * read circuit plus c_wire_farad to ground at the cell-side node of every wire segment,
 * row sources ramping from 0 V to v over t_rise and then held), optionally a capacitance
 * per cell, integrated with backward Euler or the trapezoidal rule on the native engine's
 * circuit (native_build.c) and sparse solvers (native_sparse.c).  docs/native.md derives
 * the formulas; this header only names them.
 *
 * With C the capacitance matrix and F(x, t) the static element currents leaving every
 * unknown node (fixed nodes at their voltages at t), the circuit is C x' + F(x, t) = 0.
 * Every capacitor k is replaced by its companion model over a step h from t_n:
 *     i_k(n+1) = s C_k (v_k(n+1) - v_k(n)) - theta i_k(n),
 * backward Euler: s = 1/h, theta = 0; trapezoidal: s = 2/h, theta = 1.  Each step solves
 * F(x) + sum_k i_k = 0 for x(n+1): one solve with the factored matrix G + s C for linear
 * cells (factored once per step size), Newton with a reused factorization otherwise.
 *
 * Step control: steps come from a ladder h_max / 2^k per segment ([0, t_rise], then
 * [t_rise, t_stop]; h_max = segment / ceil(segment / (t_stop / t_points))), so a linear
 * circuit is refactored only when the level changes and both breakpoints are hit exactly.
 * Each segment starts with two backward-Euler steps (Rannacher's start for the trapezoidal
 * rule: the input's kink would otherwise leave undamped stiff modes ringing).  With
 * lte_rtol > 0 the local truncation error of every step is estimated from divided
 * differences of the accepted points of the segment (h^2 |DD2| for BE, h^3/2 |DD3| for
 * TRAP, as SPICE does) for every node voltage and column current, and compared with
 * lte_rtol times that quantity's magnitude (its value now, before, or at the DC operating
 * point of the full input); a step above it is redone at a lower level, a step far below it
 * lets the next ones climb as many levels as the error allows.  Once the state is the DC
 * solution (last segment, inputs constant) the run jumps to its end.
 */
#include "engine/native_internal.h"
#include "xbar/engine.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TR_KMAX 40          /* deepest level: h_max / 2^40 */
#define TR_K0 10            /* adaptive: first level of a segment, h_max / 1024 */
#define TR_SAFETY 0.9       /* step proposals aim at 0.9 of the tolerance */
#define TR_NEWTON_MAX 60
#define TR_KCL_RELTOL 1e-12 /* as the static engine */
#define TR_NEWTON_FRAC 1e-1 /* Newton stops when its correction is below this share of the
                               error tolerance of every node */
#define TR_STEADY_FRAC 1e-3 /* the state counts as the DC solution within this share of the
                               error tolerance of every node */
#define TR_FIXED_RTOL 1e-9  /* node tolerance scale for Newton in fixed-step runs */
#define TR_ATOL_REL 1e-12   /* absolute floor of the node tolerances, times the drive scale */

void xb_engine_tran_opts_default(xb_engine_tran_opts *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->t_rise_s = 10e-12;  /* campaign [transient] t_rise_s default (campaign.c) */
    o->t_read_s = 10e-9;   /* campaign [transient] t_read_s default */
    o->settle_tol = 1e-3;  /* campaign settle_tolerance default: 0.1 % band */
    o->t_points = 200;     /* campaign t_points default: largest step t_stop / 200 */
    o->method = XB_TRAN_TRAP; /* SPICE's default integrator */
    o->lte_rtol = 1e-5;    /* measured: waveforms within ~6e-5 of the final value of a tight
                              ngspice run, settling within 0.05 % (docs/native.md) */
    o->c_cell_farad = 0;   /* transient.c's decks have no cell capacitance */
}

void xb_engine_tran_result_clear(xb_engine_tran_result *r)
{
    if (!r) return;
    free(r->t_settle_s);
    free(r->i_peak_amp);
    free(r->i_final_amp);
    free(r->time_s);
    free(r->i_col_amp);
    free(r->p_supply_watt);
    memset(r, 0, sizeof *r);
}

typedef struct {
    xb_array_params p;
    xb_engine_tran_opts o;
    nv_circuit c;
    nv_sparse *sp;
    int linear;
    size_t n, R, C;
    const double *v;
    double vscale, rt, atol;
    size_t *caps;            /* element indices of the capacitors */
    size_t n_caps;
    double *x_dc;            /* DC solution at the full input: node scales of the error test */
    double *fixed_old, *fixed_new;
    double *x, *xn, *f, *fabs_, *dx, *xt, *ft, *fabst;
    double *ic, *vc;         /* per element (capacitors only): current, voltage at t_n */
    double *ic_save, *vc_save, *x_save;
    double *ic_trial;        /* per element: capacitor currents of a trial point */
    double *out_new;         /* cols: column currents at a trial point */
    double *out_dc;          /* the same at the DC operating point of the full input */
    double out_atol;         /* absolute floor of their tolerances */
    double *hx[3];           /* accepted points of the segment, newest first */
    double ht[3];
    size_t nh;
    size_t seg_pts;          /* accepted points of the segment after its first */
    double s_fact;           /* s of the factorization in hand */
    int have_fact;
    /* outputs */
    size_t nt, cap_t;
    double *time, *icol, *pw, *isup;
    xb_engine_tran_result *r;
} tran;

static inline double nodev(const tran *T, const double *x, const double *fixed, int32_t id)
{
    return id >= 0 ? x[id] : fixed[-1 - id];
}

static void set_inputs(tran *T, double t, double *fixed)
{
    double a = t >= T->o.t_rise_s ? 1.0 : t / T->o.t_rise_s;
    fixed[0] = 0;
    for (size_t i = 0; i < T->R; i++) fixed[1 + i] = T->v[i] * a;
}

/* Residual (currents leaving every unknown node, capacitors by their companion model with
 * scale s and history weight theta; s = 0 is DC), per-node sums of |current| when fabs_out,
 * Jacobian into vals when non-NULL.  Returns 0.5 |F|^2. */
static double eval(tran *T, const double *x, double s, int theta, double *f, double *fabs_out, double *vals)
{
    const nv_circuit *c = &T->c;
    memset(f, 0, T->n * sizeof *f);
    if (fabs_out) memset(fabs_out, 0, T->n * sizeof *fabs_out);
    if (vals) memset(vals, 0, c->nnz * sizeof *vals);
    for (size_t k = 0; k < c->n_el; k++) {
        int32_t a = c->na[k], b = c->nb[k];
        double va = nodev(T, x, T->fixed_new, a), vb = nodev(T, x, T->fixed_new, b), i, da, db;
        if (c->kind[k] == NV_CAP) {
            double gc = s * c->g[k];
            i = gc * ((va - vb) - T->vc[k]) - (theta ? T->ic[k] : 0.0);
            da = gc;
            db = -gc;
        } else {
            nv_el_iv(&T->p, c->kind, c->g, k, va, vb, &i, &da, &db);
        }
        nv_stamp(c, k, i, da, db, f, fabs_out, vals);
    }
    double phi = 0;
    for (size_t q = 0; q < T->n; q++) phi += f[q] * f[q];
    return 0.5 * phi;
}

/* Error tolerance of node q for a value xq (the step's new value) and its previous value. */
static inline double node_tol(const tran *T, size_t q, double xnew, double xold)
{
    double m = fmax(fmax(fabs(xnew), fabs(xold)), fabs(T->x_dc[q]));
    return T->rt * m + T->atol;
}

static int refactor(tran *T, const double *x, double s, int theta, xb_error *err)
{
    double t0 = xb_now_s();
    eval(T, x, s, theta, T->ft, NULL, nv_sparse_values(T->sp));
    int rc = nv_sparse_factor(T->sp, err);
    T->r->factorizations++;
    T->r->t_factor_s += xb_now_s() - t0;
    T->have_fact = rc == XB_OK;
    T->s_fact = s;
    return rc;
}

static int solve(tran *T, xb_error *err)
{
    double t0 = xb_now_s();
    int rc = nv_sparse_solve(T->sp, T->dx, 1, err);
    T->r->solves++;
    T->r->t_solve_s += xb_now_s() - t0;
    return rc;
}

/* One implicit step to t_new from the accepted state (T->x, ic, vc): T->xn in = guess,
 * out = solution.  Returns XB_OK, -1 when Newton fails (the caller cuts the step), or an
 * error code. */
static int tr_step(tran *T, double t_new, double s, int theta, xb_error *err)
{
    size_t n = T->n;
    set_inputs(T, t_new, T->fixed_new);
    if (n == 0) return XB_OK;
    int rc;
    if (T->linear) {
        if (!T->have_fact || T->s_fact != s) {
            rc = refactor(T, T->x, s, theta, err);
            if (rc) return rc;
        }
        eval(T, T->xn, s, theta, T->f, NULL, NULL);
        for (size_t q = 0; q < n; q++) T->dx[q] = -T->f[q];
        rc = solve(T, err);
        if (rc) return rc;
        for (size_t q = 0; q < n; q++) T->xn[q] += T->dx[q];
        return XB_OK;
    }
    double phi = eval(T, T->xn, s, theta, T->f, T->fabs_, NULL);
    int fresh = 0; /* the factorization is the Jacobian at the current iterate */
    double step_limit = fmax(T->vscale, 1e-3);
    for (int it = 0; it < TR_NEWTON_MAX; it++) {
        if (nv_kcl_rel(T->f, T->fabs_, n) <= TR_KCL_RELTOL) return XB_OK;
        if (!T->have_fact || T->s_fact != s) {
            rc = refactor(T, T->xn, s, theta, err);
            if (rc) return rc;
            fresh = 1;
        }
        for (size_t q = 0; q < n; q++) T->dx[q] = -T->f[q];
        rc = solve(T, err);
        if (rc) return rc;
        T->r->newton_iterations++;
        double dmax = 0;
        int small = 1;
        for (size_t q = 0; q < n; q++) {
            double d = fabs(T->dx[q]);
            if (!isfinite(d)) return -1;
            dmax = fmax(dmax, d);
            if (d > TR_NEWTON_FRAC * node_tol(T, q, T->xn[q], T->x[q])) small = 0;
        }
        if (small) {
            for (size_t q = 0; q < n; q++) T->xn[q] += T->dx[q];
            return XB_OK;
        }
        double t = dmax > step_limit ? step_limit / dmax : 1.0;
        int accepted = 0;
        double rate = 1.0;
        for (int hlv = 0; hlv < (fresh ? 40 : 1); hlv++) {
            for (size_t q = 0; q < n; q++) T->xt[q] = T->xn[q] + t * T->dx[q];
            double phit = eval(T, T->xt, s, theta, T->ft, T->fabst, NULL);
            if (isfinite(phit) && phit < phi) {
                /* a reused factorization that contracts slowly is refreshed next time */
                if (!fresh && phit > 0.25 * phi) T->have_fact = 0;
                accepted = 1;
                rate = sqrt(phit / phi);
                phi = phit;
                break;
            }
            t *= 0.5;
        }
        if (!accepted) {
            if (!fresh) {
                T->have_fact = 0; /* retry from here with the Jacobian at xn */
                continue;
            }
            return -1;
        }
        fresh = 0;
        double *sw = T->xn;
        T->xn = T->xt;
        T->xt = sw;
        sw = T->f;
        T->f = T->ft;
        T->ft = sw;
        sw = T->fabs_;
        T->fabs_ = T->fabst;
        T->fabst = sw;
        /* the error left after a full step of a contracting iteration is about
         * rate / (1 - rate) times that step (Hairer & Wanner, Solving ODEs II, IV.8), with
         * the rate measured on |F|: stop when that is below the Newton tolerance */
        if (t == 1.0 && rate < 0.5) {
            double eta = rate / (1.0 - rate);
            int done = 1;
            for (size_t q = 0; q < n && done; q++)
                if (eta * fabs(T->dx[q]) > TR_NEWTON_FRAC * node_tol(T, q, T->xn[q], T->x[q])) done = 0;
            if (done) return XB_OK;
        }
    }
    return -1;
}

/* Local truncation error estimate of one quantity sampled at t0 (new) .. t3, relative to tol:
 * order 1 (BE) h^2 |DD2|, order 2 (TRAP) h^3/2 |DD3|. */
static inline double lte_ratio(double y0, double y1, double y2, double y3, const double *t, double h, int order,
                               double tol)
{
    double d01 = (y0 - y1) / (t[0] - t[1]), d12 = (y1 - y2) / (t[1] - t[2]);
    double dd2 = (d01 - d12) / (t[0] - t[2]), lte;
    if (order == 1) {
        lte = h * h * fabs(dd2);
    } else {
        double d23 = (y2 - y3) / (t[2] - t[3]);
        double dd2b = (d12 - d23) / (t[1] - t[3]);
        lte = 0.5 * h * h * h * fabs((dd2 - dd2b) / (t[0] - t[3]));
    }
    return lte / tol;
}

/* Column currents at the trial point T->xn (capacitors by their companion currents of the
 * step). */
static void trial_outputs(tran *T, double s, int theta)
{
    const nv_circuit *c = &T->c;
    for (size_t m = 0; m < T->n_caps; m++) {
        size_t k = T->caps[m];
        double vd = nodev(T, T->xn, T->fixed_new, c->na[k]) - nodev(T, T->xn, T->fixed_new, c->nb[k]);
        T->ic_trial[k] = s * c->g[k] * (vd - T->vc[k]) - (theta ? T->ic[k] : 0.0);
    }
    for (size_t j = 0; j < T->C; j++)
        T->out_new[j] = nv_circuit_col_current(&T->p, c, T->xn, T->fixed_new, T->ic_trial, j);
}

/* Error ratio of the step just solved (T->xn at t_new, step h): the largest over the node
 * voltages and the column currents (the waveforms the run reports; they carry their own
 * error where a column line is a fixed node, or where every node is fixed), from the new
 * point and the newest accepted points of the segment. */
static double tr_error(tran *T, double t_new, double h, int order, double s, int theta)
{
    double worst = 0;
    const double *y1 = T->hx[0], *y2 = T->hx[1], *y3 = T->hx[2];
    double t[4] = {t_new, T->ht[0], T->ht[1], T->ht[2]};
    for (size_t q = 0; q < T->n; q++) {
        double r = lte_ratio(T->xn[q], y1[q], y2[q], order == 2 ? y3[q] : 0, t, h, order,
                             node_tol(T, q, T->xn[q], y1[q]));
        if (!(r <= worst)) worst = r;
    }
    /* the outputs of the newest accepted points are the last rows of the waveforms; the
     * segment's first point is left out: capacitor currents jump at a breakpoint, and that
     * point holds the value before it */
    if (T->seg_pts < (size_t)order + 1) return worst;
    trial_outputs(T, s, theta);
    size_t C = T->C, nt = T->nt;
    for (size_t j = 0; j < C; j++) {
        const double *w = T->icol + j;
        double y0 = T->out_new[j], a1 = w[(nt - 1) * C], a2 = w[(nt - 2) * C];
        double a3 = order == 2 ? w[(nt - 3) * C] : 0;
        double m = fmax(fmax(fabs(y0), fabs(a1)), fabs(T->out_dc[j]));
        double r = lte_ratio(y0, a1, a2, a3, t, h, order, T->rt * m + T->out_atol);
        if (!(r <= worst)) worst = r;
    }
    return worst;
}

static int append_output(tran *T, double t, xb_error *err)
{
    size_t C = T->C;
    if (T->nt == T->cap_t) {
        size_t nc = T->cap_t ? 2 * T->cap_t : 1024;
        double *a = realloc(T->time, nc * sizeof *a);
        if (!a) return xb_errorf(err, XB_ERUNTIME, "native transient: out of memory for %zu time points", nc);
        T->time = a;
        a = realloc(T->pw, nc * sizeof *a);
        if (!a) return xb_errorf(err, XB_ERUNTIME, "native transient: out of memory");
        T->pw = a;
        a = realloc(T->isup, nc * sizeof *a);
        if (!a) return xb_errorf(err, XB_ERUNTIME, "native transient: out of memory");
        T->isup = a;
        a = realloc(T->icol, nc * (C ? C : 1) * sizeof *a);
        if (!a) return xb_errorf(err, XB_ERUNTIME, "native transient: out of memory");
        T->icol = a;
        T->cap_t = nc;
    }
    size_t q = T->nt++;
    T->time[q] = t;
    for (size_t j = 0; j < C; j++)
        T->icol[q * C + j] = nv_circuit_col_current(&T->p, &T->c, T->x, T->fixed_old, T->ic, j);
    double pw = 0, isum = 0;
    for (size_t i = 0; i < T->R; i++) {
        double ii = nv_circuit_row_current(&T->p, &T->c, T->x, T->fixed_old, T->ic, i);
        pw += T->fixed_old[1 + i] * ii;
        isum += ii;
    }
    T->pw[q] = pw;
    T->isup[q] = isum;
    return XB_OK;
}

/* Accept the step just solved: capacitor states, the state, the history, the outputs. */
static int commit(tran *T, double t_new, double s, int theta, xb_error *err)
{
    const nv_circuit *c = &T->c;
    for (size_t m = 0; m < T->n_caps; m++) {
        size_t k = T->caps[m];
        double vd = nodev(T, T->xn, T->fixed_new, c->na[k]) - nodev(T, T->xn, T->fixed_new, c->nb[k]);
        T->ic[k] = s * c->g[k] * (vd - T->vc[k]) - (theta ? T->ic[k] : 0.0);
        T->vc[k] = vd;
    }
    memcpy(T->x, T->xn, T->n * sizeof *T->x);
    memcpy(T->fixed_old, T->fixed_new, c->n_fixed * sizeof *T->fixed_old);
    double *old = T->hx[2];
    T->hx[2] = T->hx[1];
    T->hx[1] = T->hx[0];
    T->hx[0] = old;
    T->ht[2] = T->ht[1];
    T->ht[1] = T->ht[0];
    T->ht[0] = t_new;
    memcpy(T->hx[0], T->x, T->n * sizeof *T->x);
    if (T->nh < 3) T->nh++;
    T->seg_pts++;
    T->r->steps++;
    return append_output(T, t_new, err);
}

/* Newton's first guess: extrapolation through the newest accepted points of the segment
 * (quadratic from three, linear from two; Lagrange form). */
static void predict(tran *T, double t_new)
{
    if (T->linear || T->nh < 2) {
        memcpy(T->xn, T->x, T->n * sizeof *T->xn);
        return;
    }
    const double *t = T->ht;
    double w0, w1, w2 = 0;
    if (T->nh >= 3) {
        w0 = (t_new - t[1]) * (t_new - t[2]) / ((t[0] - t[1]) * (t[0] - t[2]));
        w1 = (t_new - t[0]) * (t_new - t[2]) / ((t[1] - t[0]) * (t[1] - t[2]));
        w2 = (t_new - t[0]) * (t_new - t[1]) / ((t[2] - t[0]) * (t[2] - t[1]));
    } else {
        w0 = (t_new - t[1]) / (t[0] - t[1]);
        w1 = (t_new - t[0]) / (t[1] - t[0]);
    }
    for (size_t q = 0; q < T->n; q++)
        T->xn[q] = w0 * T->hx[0][q] + w1 * T->hx[1][q] + (w2 != 0 ? w2 * T->hx[2][q] : 0.0);
}

/* Levels to drop after an error ratio E (> 1) of a method of the given order. */
static int levels_down(double E, int order)
{
    double f = TR_SAFETY * pow(E, -1.0 / (order + 1));
    int m = 1;
    while (m < 6 && ldexp(1.0, -m) > f) m++;
    return m;
}

/* Levels to climb after an accepted step with error ratio E at level k, position u (units),
 * step su: as many doublings as the error allows (a level change costs a refactorization of a
 * linear circuit, so one jump is cheaper than several single doublings); the position must
 * be a multiple of the new step so that the segment end stays on the ladder. */
static int levels_up(double E, int order, int k, uint64_t u, uint64_t su)
{
    int m = 0;
    double grow = (double)(1 << (order + 1)); /* error growth per doubling */
    double e = E;
    while (m < k && m < 8 && e * grow < TR_SAFETY * 0.5) {
        e *= grow;
        m++;
    }
    while (m > 0 && u % (su << m) != 0) m--;
    return m;
}

static double seg_time(double t0, double t1, uint64_t u, uint64_t U)
{
    return u >= U ? t1 : t0 + (t1 - t0) * ((double)u / (double)U);
}

/* In the last segment the inputs stay constant, so the state tends to the DC solution: once
 * every node is within TR_STEADY_FRAC of its error tolerance of it, the rest of the run is
 * that solution (to below the tolerance) and is not stepped through. */
static int at_steady_state(const tran *T)
{
    for (size_t q = 0; q < T->n; q++)
        if (fabs(T->x[q] - T->x_dc[q]) > TR_STEADY_FRAC * node_tol(T, q, T->x[q], T->x_dc[q])) return 0;
    return 1;
}

static int jump_to_end(tran *T, double t_now, double t_end, xb_error *err)
{
    const nv_circuit *c = &T->c;
    memcpy(T->x, T->x_dc, T->n * sizeof *T->x);
    set_inputs(T, t_end, T->fixed_old);
    for (size_t m = 0; m < T->n_caps; m++) {
        size_t k = T->caps[m];
        T->ic[k] = 0; /* capacitors carry no current at DC */
        T->vc[k] = nodev(T, T->x, T->fixed_old, c->na[k]) - nodev(T, T->x, T->fixed_old, c->nb[k]);
    }
    T->r->t_steady_s = t_now;
    return append_output(T, t_end, err);
}

/* One input segment [t0, t1] on its step ladder: positions u in units of h_top 2^-TR_KMAX,
 * U at the end; the step of level k is h_top 2^-k exactly, so that s (hence the matrix) is
 * the same bits for every step of a level, and BE at level k+1 equals TRAP at level k. */
typedef struct {
    double t0, t1, h_top;
    uint64_t u, U;
    int k;
} segment;

static double seg_at(const segment *g, uint64_t u) { return seg_time(g->t0, g->t1, u, g->U); }

/* Back to the segment's first point (a rejected start), with its history. */
static void restart_segment(tran *T, const segment *g, size_t nt, size_t steps)
{
    memcpy(T->x, T->x_save, T->n * sizeof *T->x);
    for (size_t m = 0; m < T->n_caps; m++) {
        T->ic[T->caps[m]] = T->ic_save[T->caps[m]];
        T->vc[T->caps[m]] = T->vc_save[T->caps[m]];
    }
    set_inputs(T, g->t0, T->fixed_old);
    T->nt = nt;
    T->r->steps = steps;
    T->nh = 1;
    T->seg_pts = 0;
    T->ht[0] = g->t0;
    memcpy(T->hx[0], T->x, T->n * sizeof *T->x);
}

/* The segment's start: two backward-Euler steps of half the level's step (the matrix of the
 * trapezoidal steps that follow; BE runs: two steps of the level), checked together.
 * Returns XB_OK when accepted, -1 when redone at a lower level (g->k updated), or an error. */
static int start_segment(tran *T, segment *g, int adaptive, int trap, xb_error *err)
{
    int kb = trap ? g->k + 1 : g->k;
    uint64_t su = kb > TR_KMAX ? 0 : (uint64_t)1 << (TR_KMAX - kb);
    if (kb > TR_KMAX || g->u + 2 * su > g->U) {
        g->k++;
        return -1;
    }
    double hb = ldexp(g->h_top, -kb), s = 1.0 / hb, E = 0;
    memcpy(T->x_save, T->x, T->n * sizeof *T->x);
    for (size_t m = 0; m < T->n_caps; m++) {
        T->ic_save[T->caps[m]] = T->ic[T->caps[m]];
        T->vc_save[T->caps[m]] = T->vc[T->caps[m]];
    }
    size_t nt_save = T->nt, steps_save = T->r->steps;
    for (int b = 0; b < 2; b++) {
        double tn = seg_at(g, g->u + (uint64_t)(b + 1) * su);
        predict(T, tn);
        int rc = tr_step(T, tn, s, 0, err);
        if (rc > 0) return rc;
        if (rc == 0 && b == 1 && adaptive) E = tr_error(T, tn, hb, 1, s, 0);
        if (rc < 0 || E > 1) {
            restart_segment(T, g, nt_save, steps_save);
            T->r->rejected++;
            g->k += E > 1 ? levels_down(E, 1) : 2;
            return -1;
        }
        rc = commit(T, tn, s, 0, err);
        if (rc) return rc;
    }
    g->u += 2 * su;
    if (!trap && adaptive) g->k -= levels_up(E, 1, g->k, g->u, su);
    return XB_OK;
}

/* Integrate one segment [t0, t1] of smooth input (last: the inputs stay constant in it). */
static int run_segment(tran *T, double t0, double t1, int last, xb_error *err)
{
    const int adaptive = T->o.lte_rtol > 0, trap = T->o.method == XB_TRAN_TRAP;
    const int order = trap ? 2 : 1, th = trap ? 1 : 0;
    double tmax = (T->o.t_rise_s + T->o.t_read_s) / (double)T->o.t_points;
    double nseg = ceil((t1 - t0) / tmax * (1.0 - 1e-12));
    if (nseg < 1) nseg = 1;
    if (nseg > 1e6) return xb_errorf(err, XB_EINPUT, "native transient: more than 1e6 steps per segment (t_points)");
    segment g = {t0, t1, (t1 - t0) / nseg, 0, (uint64_t)nseg << TR_KMAX, adaptive ? TR_K0 : 0};
    /* the history restarts at the segment's first point */
    T->nh = 1;
    T->seg_pts = 0;
    T->ht[0] = t0;
    memcpy(T->hx[0], T->x, T->n * sizeof *T->x);
    int started = 0;
    while (g.u < g.U) {
        if (g.k > TR_KMAX)
            return xb_errorf(err, XB_ERUNTIME, "native transient: time step too small at t = %.6g s", seg_at(&g, g.u));
        if (!started) {
            int rc = start_segment(T, &g, adaptive, trap, err);
            if (rc > 0) return rc;
            started = rc == XB_OK;
            continue;
        }
        uint64_t su = (uint64_t)1 << (TR_KMAX - g.k);
        if (g.u + su > g.U) {
            g.k++;
            continue;
        }
        double tn = seg_at(&g, g.u + su), h = ldexp(g.h_top, -g.k), s = trap ? 2.0 / h : 1.0 / h, E = 0;
        predict(T, tn);
        int rc = tr_step(T, tn, s, th, err);
        if (rc > 0) return rc;
        if (rc == 0 && adaptive && T->nh >= (size_t)(order + 1)) E = tr_error(T, tn, h, order, s, th);
        if (rc < 0 || E > 1) {
            T->r->rejected++;
            g.k += rc < 0 ? 2 : levels_down(E, order);
            continue;
        }
        rc = commit(T, tn, s, th, err);
        if (rc) return rc;
        g.u += su;
        if (adaptive && last && g.u < g.U && at_steady_state(T)) return jump_to_end(T, tn, t1, err);
        if (adaptive) g.k -= levels_up(E, order, g.k, g.u, su);
    }
    return XB_OK;
}

/* Settling, peaks, energy from the recorded waveforms (the definitions of transient.c). */
static int finish(tran *T, xb_error *err)
{
    xb_engine_tran_result *r = T->r;
    size_t nt = T->nt, C = T->C;
    r->cols = C;
    r->n_time = nt;
    r->time_s = T->time;
    r->i_col_amp = T->icol;
    r->p_supply_watt = T->pw;
    T->time = T->icol = T->pw = NULL;
    r->t_settle_s = calloc(C ? C : 1, sizeof(double));
    r->i_peak_amp = calloc(C ? C : 1, sizeof(double));
    r->i_final_amp = calloc(C ? C : 1, sizeof(double));
    if (!r->t_settle_s || !r->i_peak_amp || !r->i_final_amp)
        return xb_errorf(err, XB_ERUNTIME, "native transient: out of memory");
    double e = 0, ipk = 0;
    for (size_t q = 0; q < nt; q++) {
        if (fabs(T->isup[q]) > ipk) ipk = fabs(T->isup[q]);
        if (q) e += 0.5 * (r->p_supply_watt[q] + r->p_supply_watt[q - 1]) * (r->time_s[q] - r->time_s[q - 1]);
    }
    r->e_read_joule = e;
    r->i_supply_peak_amp = ipk;
    r->settled = 1;
    r->t_settle_max_s = 0;
    const double tol = T->o.settle_tol;
    for (size_t j = 0; j < C; j++) {
        double fin = r->i_col_amp[(nt - 1) * C + j], band = tol * fabs(fin), pk = 0;
        for (size_t q = 0; q < nt; q++) pk = fmax(pk, fabs(r->i_col_amp[q * C + j]));
        r->i_peak_amp[j] = pk;
        r->i_final_amp[j] = fin;
        double ts = 0;
        for (size_t q = nt - 1; q-- > 0;) {
            double eq = fabs(r->i_col_amp[q * C + j] - fin);
            if (eq > band) {
                double eq1 = fabs(r->i_col_amp[(q + 1) * C + j] - fin);
                double fr = (eq - eq1) > 0 ? (eq - band) / (eq - eq1) : 1.0;
                ts = r->time_s[q] + fr * (r->time_s[q + 1] - r->time_s[q]);
                break;
            }
        }
        r->t_settle_s[j] = ts;
        if (ts > r->t_settle_max_s) r->t_settle_max_s = ts;
        if (ts > T->o.t_rise_s + 0.9 * T->o.t_read_s) r->settled = 0;
    }
    return XB_OK;
}

static void tran_free(tran *T)
{
    nv_sparse_free(T->sp);
    nv_circuit_free(&T->c);
    free(T->caps);
    free(T->x_dc);
    free(T->fixed_old);
    free(T->fixed_new);
    free(T->x);
    free(T->xn);
    free(T->f);
    free(T->fabs_);
    free(T->dx);
    free(T->xt);
    free(T->ft);
    free(T->fabst);
    free(T->ic);
    free(T->vc);
    free(T->ic_save);
    free(T->vc_save);
    free(T->x_save);
    free(T->ic_trial);
    free(T->out_new);
    free(T->out_dc);
    for (int k = 0; k < 3; k++) free(T->hx[k]);
    free(T->time);
    free(T->icol);
    free(T->pw);
    free(T->isup);
}

static int check_opts(const xb_engine_tran_opts *o, xb_error *err)
{
    if (!(o->t_rise_s > 0) || !isfinite(o->t_rise_s))
        return xb_errorf(err, XB_EINPUT, "transient t_rise_s = %g: must be > 0", o->t_rise_s);
    if (!(o->t_read_s > 0) || !isfinite(o->t_read_s))
        return xb_errorf(err, XB_EINPUT, "transient t_read_s = %g: must be > 0", o->t_read_s);
    if (!(o->settle_tol > 0 && o->settle_tol < 1))
        return xb_errorf(err, XB_EINPUT, "transient settle_tol = %g: must be in (0, 1)", o->settle_tol);
    if (o->t_points < 10 || o->t_points > 1000000)
        return xb_errorf(err, XB_EINPUT, "transient t_points = %zu: must be in 10 .. 1e6", o->t_points);
    if (o->method != XB_TRAN_TRAP && o->method != XB_TRAN_BE)
        return xb_errorf(err, XB_EINPUT, "transient method %d: must be XB_TRAN_TRAP or XB_TRAN_BE", (int)o->method);
    if (!(o->lte_rtol >= 0 && o->lte_rtol < 0.1))
        return xb_errorf(err, XB_EINPUT, "transient lte_rtol = %g: must be in [0, 0.1)", o->lte_rtol);
    if (!(o->c_cell_farad >= 0) || !isfinite(o->c_cell_farad))
        return xb_errorf(err, XB_EINPUT, "transient c_cell_farad = %g: must be >= 0", o->c_cell_farad);
    return XB_OK;
}

/* The DC operating point at the full input: the static engine on the same circuit without
 * capacitors (the same unknowns in the same order).  It also validates g and the cell
 * parameters exactly as the static engine does.  *x_dc is malloc'ed (n entries). */
static int dc_reference(const xb_array_params *p, const xb_matrix *g, const double *v, double **x_dc,
                        size_t *n, xb_error *err)
{
    xb_engine_native *e = NULL;
    *x_dc = NULL;
    int rc = nv_engine_new(p, g, NULL, NULL, &e, err);
    if (rc) return rc;
    *n = nv_engine_circuit(e)->n;
    *x_dc = calloc(*n ? *n : 1, sizeof **x_dc);
    if (!*x_dc) rc = xb_errorf(err, XB_ERUNTIME, "native transient: out of memory");
    else if (*n) rc = nv_engine_solve(e, v, *x_dc, NULL, err);
    xb_engine_native_free(e);
    return rc;
}

int xb_engine_native_transient(const xb_array_params *p, const xb_matrix *g, const double *v,
                               const xb_engine_tran_opts *o, xb_engine_tran_result *r, xb_error *err)
{
    if (!r) return xb_errorf(err, XB_EINPUT, "native transient: no result");
    memset(r, 0, sizeof *r);
    if (!p || !g || !v || !o) return xb_errorf(err, XB_EINPUT, "native transient: missing argument");
    int rc = check_opts(o, err);
    if (rc) return rc;
    rc = xb_array_params_check(p, err);
    if (rc) return rc;
    if (g->rows != p->rows || g->cols != p->cols || !g->data)
        return xb_errorf(err, XB_EINPUT, "conductance matrix is %zux%zu, array is %zux%zu", g->rows, g->cols,
                         p->rows, p->cols);
    for (size_t i = 0; i < p->rows; i++)
        if (!isfinite(v[i])) return xb_errorf(err, XB_EINPUT, "V(1,%zu) = %g: input voltages must be finite", i + 1, v[i]);
    double t_begin = xb_now_s();
    tran T;
    memset(&T, 0, sizeof T);
    T.p = *p;
    T.o = *o;
    T.v = v;
    T.r = r;
    T.R = p->rows;
    T.C = p->cols;
    size_t n_dc = 0;
    rc = dc_reference(p, g, v, &T.x_dc, &n_dc, err);
    if (rc) {
        free(T.x_dc);
        return rc;
    }
    int symmetric = p->cell != XB_CELL_1T1R;
    nv_plan plan = {0};
    plan.c_wire_farad = p->c_wire_farad;
    plan.c_cell_farad = o->c_cell_farad;
    rc = nv_circuit_build_plan(p, g, symmetric, &plan, &T.c, err);
    if (rc) {
        free(T.x_dc);
        return rc;
    }
    nv_circuit *c = &T.c;
    size_t n = c->n, nn = n ? n : 1, ne = c->n_el ? c->n_el : 1;
    T.n = n;
    T.linear = 1;
    for (size_t k = 0; k < c->n_el; k++) {
        if (c->kind[k] == NV_CAP) T.n_caps++;
        else if (c->kind[k] != NV_RES) T.linear = 0;
    }
    T.caps = malloc((T.n_caps ? T.n_caps : 1) * sizeof *T.caps);
    T.fixed_old = calloc(c->n_fixed, sizeof(double));
    T.fixed_new = calloc(c->n_fixed, sizeof(double));
    T.x = calloc(nn, sizeof(double));
    T.xn = calloc(nn, sizeof(double));
    T.f = malloc(nn * sizeof(double));
    T.fabs_ = malloc(nn * sizeof(double));
    T.dx = malloc(nn * sizeof(double));
    T.xt = malloc(nn * sizeof(double));
    T.ft = malloc(nn * sizeof(double));
    T.fabst = malloc(nn * sizeof(double));
    T.x_save = malloc(nn * sizeof(double));
    T.ic = calloc(ne, sizeof(double));
    T.vc = calloc(ne, sizeof(double));
    T.ic_save = calloc(ne, sizeof(double));
    T.vc_save = calloc(ne, sizeof(double));
    for (int k = 0; k < 3; k++) T.hx[k] = calloc(nn, sizeof(double));
    T.ic_trial = calloc(ne, sizeof(double));
    T.out_new = calloc(T.C ? T.C : 1, sizeof(double));
    T.out_dc = calloc(T.C ? T.C : 1, sizeof(double));
    if (n != n_dc || !T.caps || !T.fixed_old || !T.fixed_new || !T.x || !T.xn || !T.f || !T.fabs_ || !T.dx ||
        !T.xt || !T.ft || !T.fabst || !T.x_save || !T.ic || !T.vc || !T.ic_save || !T.vc_save || !T.ic_trial || !T.out_new || !T.out_dc || !T.hx[0] ||
        !T.hx[1] || !T.hx[2]) {
        tran_free(&T);
        if (n != n_dc) return xb_errorf(err, XB_ERUNTIME, "native transient: %zu unknowns, DC circuit %zu", n, n_dc);
        return xb_errorf(err, XB_ERUNTIME, "native transient: out of memory for %zu unknowns", n);
    }
    for (size_t k = 0, m = 0; k < c->n_el; k++)
        if (c->kind[k] == NV_CAP) T.caps[m++] = k;
    T.vscale = 0;
    for (size_t i = 0; i < T.R; i++) T.vscale = fmax(T.vscale, fabs(v[i]));
    if (p->cell == XB_CELL_1T1R) T.vscale = fmax(T.vscale, fabs(p->v_gate_volt));
    T.rt = o->lte_rtol > 0 ? o->lte_rtol : TR_FIXED_RTOL;
    T.atol = T.rt * TR_ATOL_REL * fmax(T.vscale, 1e-3);
    /* output scales: column currents at the DC operating point of the full input */
    set_inputs(&T, o->t_rise_s, T.fixed_new);
    double imax = 0;
    for (size_t j = 0; j < T.C; j++) {
        T.out_dc[j] = nv_circuit_col_current(p, c, T.x_dc, T.fixed_new, NULL, j);
        imax = fmax(imax, fabs(T.out_dc[j]));
    }
    T.out_atol = T.rt * TR_ATOL_REL * imax;
    if (n > 0) {
        int32_t *perm = malloc(n * sizeof *perm);
        int use_nd = perm && nv_circuit_nd_order(c, p, perm) == 0;
        rc = nv_sparse_new(n, c->Ap, c->Ai, symmetric, use_nd ? perm : NULL, &T.sp, err);
        free(perm);
        if (rc) {
            tran_free(&T);
            return rc;
        }
    }
    r->n_unknowns = n;
    /* t = 0: every input at 0 V, so the DC operating point is every node at 0 V (passive
     * elements carry no current at zero bias) and the capacitors carry no current */
    set_inputs(&T, 0.0, T.fixed_old);
    rc = append_output(&T, 0.0, err);
    if (!rc) rc = run_segment(&T, 0.0, o->t_rise_s, 0, err);
    if (!rc) rc = run_segment(&T, o->t_rise_s, o->t_rise_s + o->t_read_s, 1, err);
    if (!rc) rc = finish(&T, err);
    if (T.sp) nv_sparse_release_workspace(T.sp);
    tran_free(&T);
    r->t_total_s = xb_now_s() - t_begin;
    if (rc) xb_engine_tran_result_clear(r);
    return rc;
}
