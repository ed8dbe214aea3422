/* Array programming in circuit (`xbar program`, [write] campaigns; docs/hdf5-program.md):
 * write-verify with incremental step pulses, or open loop from a calibration curve, every
 * pulse applied to the whole array by a round solver (characterize.h, xb_write_solver; the
 * ngspice one in write_spice.c).
 *
 * Rounds: every cell that still needs a pulse gets one, in row-major order, in one round;
 * after the round each pulsed cell is read (its state right after its own slot: what a
 * verify read after that pulse returns) and its next pulse is decided.  Cell k's n-th pulse
 * always carries the noise draw xb_netlist_c2c_draw(seed, k, n), whatever the round. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "characterize/char_internal.h"
#include "xbar/characterize.h"
#include "xbar/h5.h"

static const char *const k_write_schemes[] = {"v2", "v3"};

const char *xb_write_scheme_name(xb_write_scheme s) { return (unsigned)s < 2 ? k_write_schemes[s] : "?"; }

int xb_write_scheme_from_name(const char *s, xb_write_scheme *out)
{
    for (int k = 0; k < 2; k++)
        if (s && strcmp(s, k_write_schemes[k]) == 0) {
            *out = (xb_write_scheme)k;
            return XB_OK;
        }
    return XB_EINPUT;
}

void xb_write_opts_default(xb_write_opts *o)
{
    memset(o, 0, sizeof *o);
    o->scheme = XB_WRITE_V2;
    o->verify = 1;
    o->tol = 0.05;
    o->max_pulses = 50;
    o->c2c = 1;
    o->seed = 1;
}

void xb_write_result_clear(xb_write_result *r)
{
    if (!r) return;
    free(r->g_target);
    free(r->g_verify);
    free(r->g_final);
    free(r->disturb);
    free(r->e_cell_joule);
    free(r->state_final);
    free(r->pulses);
    free(r->converged);
    free(r->p_round);
    free(r->p_row);
    free(r->p_col);
    free(r->p_volt);
    free(r->p_width_s);
    free(r->p_z);
    free(r->p_g_before);
    free(r->p_g_after);
    free(r->p_e_joule);
    free(r->r_pulses);
    free(r->r_wall_s);
    free(r->r_t_sim_s);
    free(r->deck);
    memset(r, 0, sizeof *r);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Growable per-pulse records. */
static int grow(xb_write_result *r, size_t need, size_t *cap)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? 2 * *cap : 256;
    while (c < need) c *= 2;
#define G(f)                                                   \
    do {                                                       \
        void *q = realloc(r->f, c * sizeof *r->f);             \
        if (!q) return -1;                                     \
        r->f = q;                                              \
    } while (0)
    G(p_round); G(p_row); G(p_col); G(p_volt); G(p_width_s); G(p_z); G(p_g_before); G(p_g_after); G(p_e_joule);
#undef G
    *cap = c;
    return 0;
}

/* Per-cell programming state of the verify loop. */
typedef struct {
    int dir;        /* +1 potentiate, -1 depress, 0 done */
    double amp;     /* next amplitude */
    int reset_next; /* down_is_reset: the next pulse is a RESET */
} cell_plan;

typedef struct {
    const xb_engine_opts *eo;
    const xb_array_params *p;
    const xb_write_opts *o;
    const xb_write_solver *solver;
    const xb_device_info *di;
    xb_write_recipe rc;   /* the device's recipe with the option overrides */
    double gate_up, gate_other; /* 1T1R access-gate voltages */
    char **inst;          /* per cell: the dynamic instance parameters (its d2d sample) */
} ctx;

static double cell_g(const ctx *c, size_t k, double state)
{
    return c->di->g_of_state(c->inst[k], state, c->p->v_read_volt);
}

static double clampv(double v, double a, double b)
{
    double lo = a < b ? a : b, hi = a < b ? b : a;
    return v < lo ? lo : v > hi ? hi : v;
}

/* The next pulse of a cell after a read of g against target t: direction, amplitude (ISPP:
 * +step per pulse in the same direction, back to the start when the direction flips). */
static void plan_next(const ctx *c, cell_plan *pl, double g, double t, double tol_s)
{
    const xb_write_recipe *r = &c->rc;
    if (fabs(g - t) <= tol_s) {
        pl->dir = 0;
        return;
    }
    int nd = g < t ? +1 : -1;
    if (nd < 0 && r->down_is_reset) {
        pl->dir = -1;
        pl->reset_next = 1;
        pl->amp = r->down_start_volt;
        return;
    }
    if (nd == pl->dir && !pl->reset_next)
        pl->amp = nd > 0 ? clampv(pl->amp + r->up_step_volt, r->up_start_volt, r->up_max_volt)
                         : clampv(pl->amp + r->down_step_volt, r->down_start_volt, r->down_max_volt);
    else
        pl->amp = nd > 0 ? r->up_start_volt : r->down_start_volt;
    pl->dir = nd;
    pl->reset_next = 0;
}

/* One round: pulses q[0..n) from states st; records appended to out; st updated. */
static int run_round(const ctx *c, double *st, const xb_write_pulse *q, size_t n, const double *z_cell,
                     const double *z_pulse, size_t round, xb_write_result *out, size_t *cap, double *g_after_own,
                     xb_error *err)
{
    const xb_array_params *p = c->p;
    const size_t nc = p->rows * p->cols;
    double *noise = calloc(nc, sizeof *noise), *end = malloc(nc * sizeof *end);
    double *sb = malloc(n * sizeof *sb), *sa = malloc(n * sizeof *sa), *ej = malloc(n * sizeof *ej);
    int rc = XB_OK;
    if (!noise || !end || !sb || !sa || !ej) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    /* the noise-terminal value of every cell this round: its next draw, for its own pulse's
     * width (cells without a pulse: the recipe width) */
    for (size_t k = 0; !rc && k < nc; k++) noise[k] = xb_netlist_c2c_input(p->device, z_cell[k], c->rc.width_s);
    for (size_t k = 0; !rc && k < n; k++)
        noise[q[k].row * p->cols + q[k].col] = xb_netlist_c2c_input(p->device, z_pulse[k], q[k].width_s);
    xb_write_round in = {p, c->o->scheme, st, c->o->c2c ? noise : NULL, n, q, c->rc.edge_s, 5e-9, c->o->chunk_pulses, 0};
    xb_write_round_out ro = {end, sb, sa, ej, 0, NULL};
    double t0 = now_s();
    if (!rc) rc = c->solver->solve(c->solver, c->eo, &in, &ro, err);
    double wall = now_s() - t0;
    if (!rc && !out->deck) {
        out->deck = ro.deck;
        ro.deck = NULL;
    }
    free(ro.deck);
    if (!rc && grow(out, out->n_pulses + n, cap)) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    if (!rc) {
        /* disturb: the change of every cell over the round minus its own pulse's change */
        for (size_t k = 0; k < nc; k++) out->disturb[k] += cell_g(c, k, end[k]) - cell_g(c, k, st[k]);
        for (size_t k = 0; k < n; k++) {
            const size_t cell = q[k].row * p->cols + q[k].col, m = out->n_pulses++;
            double gb = cell_g(c, cell, sb[k]), ga = cell_g(c, cell, sa[k]);
            out->disturb[cell] -= ga - gb;
            out->p_round[m] = (int64_t)round;
            out->p_row[m] = (int64_t)q[k].row;
            out->p_col[m] = (int64_t)q[k].col;
            out->p_volt[m] = q[k].v_volt;
            out->p_width_s[m] = q[k].width_s;
            out->p_z[m] = c->o->c2c ? z_pulse[k] : 0;
            out->p_g_before[m] = gb;
            out->p_g_after[m] = ga;
            out->p_e_joule[m] = ej[k];
            out->e_cell_joule[cell] += ej[k];
            out->e_total_joule += ej[k];
            out->pulses[cell]++;
            if (g_after_own) g_after_own[cell] = ga;
        }
        memcpy(st, end, nc * sizeof *st);
        size_t r = out->n_rounds++;
        int64_t *rp = realloc(out->r_pulses, out->n_rounds * sizeof *rp);
        if (rp) out->r_pulses = rp;
        double *rw = realloc(out->r_wall_s, out->n_rounds * sizeof *rw);
        if (rw) out->r_wall_s = rw;
        double *rt = realloc(out->r_t_sim_s, out->n_rounds * sizeof *rt);
        if (rt) out->r_t_sim_s = rt;
        if (!rp || !rw || !rt) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
        else {
            out->r_pulses[r] = (int64_t)n;
            out->r_wall_s[r] = wall;
            out->r_t_sim_s[r] = ro.t_sim_s;
            out->t_program_s += ro.t_sim_s;
            out->wall_s += wall;
        }
    }
    free(noise);
    free(end);
    free(sb);
    free(sa);
    free(ej);
    return rc;
}

/* Write-verify: rounds until every cell is within tol or has used max_pulses. */
static int program_verify(const ctx *c, double *st, const double *gt, xb_write_result *out, size_t *cap,
                          xb_error *err)
{
    const xb_array_params *p = c->p;
    const size_t nc = p->rows * p->cols;
    const double tol_s = c->o->tol * (p->g_max_siemens - p->g_min_siemens);
    cell_plan *pl = calloc(nc, sizeof *pl);
    xb_write_pulse *q = malloc(nc * sizeof *q);
    double *zc = malloc(nc * sizeof *zc), *zp = malloc(nc * sizeof *zp), *ga = malloc(nc * sizeof *ga);
    int rc = XB_OK;
    if (!pl || !q || !zc || !zp || !ga) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    for (size_t k = 0; !rc && k < nc; k++) {
        double g = cell_g(c, k, st[k]);
        out->g_verify[k] = g;
        plan_next(c, &pl[k], g, gt[k], tol_s);
        out->converged[k] = pl[k].dir == 0;
    }
    for (size_t round = 0; !rc; round++) {
        size_t n = 0;
        for (size_t k = 0; k < nc; k++) {
            zc[k] = xb_netlist_c2c_draw(c->o->seed, k, (uint64_t)out->pulses[k]);
            if (pl[k].dir == 0 || (size_t)out->pulses[k] >= c->o->max_pulses) continue;
            int up = pl[k].dir > 0;
            double gate = up ? c->gate_up : c->gate_other;
            double w = pl[k].reset_next ? c->rc.reset_width_s : c->rc.width_s;
            q[n] = (xb_write_pulse){k / p->cols, k % p->cols, pl[k].amp, w, gate};
            zp[n++] = zc[k];
        }
        if (!n) break;
        rc = run_round(c, st, q, n, zc, zp, round, out, cap, ga, err);
        for (size_t m = 0; !rc && m < n; m++) {
            size_t k = q[m].row * p->cols + q[m].col;
            out->g_verify[k] = ga[k];
            int was_reset = pl[k].reset_next;
            if (was_reset) { /* after a RESET: potentiate again from the start amplitude */
                pl[k].reset_next = 0;
                pl[k].dir = 0;
            }
            plan_next(c, &pl[k], ga[k], gt[k], tol_s);
            out->converged[k] = pl[k].dir == 0;
        }
    }
    free(pl);
    free(q);
    free(zc);
    free(zp);
    free(ga);
    return rc;
}

/* Open loop: the nominal single-cell curve of the potentiating ISPP sequence (a 1x1 array,
 * no noise) gives each target its pulse count; the array then gets those pulses unread. */
static int program_open(const ctx *c, double *st, const double *gt, xb_write_result *out, size_t *cap,
                        xb_error *err)
{
    const xb_array_params *p = c->p;
    const size_t nc = p->rows * p->cols, nmax = c->o->max_pulses;
    const xb_write_recipe *r = &c->rc;
    xb_array_params p1 = *p;
    p1.rows = p1.cols = 1;
    xb_write_pulse *q = malloc((nmax > nc ? nmax : nc) * sizeof *q);
    double *sb = malloc(nmax * sizeof *sb), *sa = malloc(nmax * sizeof *sa), *ej = malloc(nmax * sizeof *ej);
    double *gcal = malloc((nmax + 1) * sizeof *gcal), *zc = malloc(nc * sizeof *zc), *zp = malloc(nc * sizeof *zp);
    size_t *count = calloc(nc, sizeof *count);
    int rc = XB_OK;
    if (!q || !sb || !sa || !ej || !gcal || !zc || !zp || !count) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    /* the calibration curve: the cell of index 0's nominal parameters, nmax pulses in one run */
    double s0 = r->state_start, s_end;
    for (size_t k = 0; !rc && k < nmax; k++)
        q[k] = (xb_write_pulse){0, 0, clampv(r->up_start_volt + (double)k * r->up_step_volt, r->up_start_volt, r->up_max_volt),
                                r->width_s, c->gate_up};
    if (!rc) {
        xb_write_round in = {&p1, c->o->scheme, &s0, NULL, nmax, q, r->edge_s, 5e-9, c->o->chunk_pulses, 0};
        xb_write_round_out ro = {&s_end, sb, sa, ej, 0, NULL};
        rc = c->solver->solve(c->solver, c->eo, &in, &ro, err);
        free(ro.deck);
    }
    if (!rc) {
        xb_array_params pn = *p;
        pn.var_d2d = 0;
        gcal[0] = xb_netlist_dyn_g(&pn, 0, s0);
        for (size_t k = 0; k < nmax; k++) gcal[k + 1] = xb_netlist_dyn_g(&pn, 0, sa[k]);
        for (size_t k = 0; k < nc; k++) {
            size_t best = 0;
            for (size_t m = 1; m <= nmax; m++)
                if (fabs(gcal[m] - gt[k]) < fabs(gcal[best] - gt[k])) best = m;
            count[k] = best;
        }
    }
    for (size_t round = 0; !rc && round < nmax; round++) {
        size_t n = 0;
        double amp = clampv(r->up_start_volt + (double)round * r->up_step_volt, r->up_start_volt, r->up_max_volt);
        for (size_t k = 0; k < nc; k++) {
            zc[k] = xb_netlist_c2c_draw(c->o->seed, k, (uint64_t)out->pulses[k]);
            if (count[k] <= round) continue;
            q[n] = (xb_write_pulse){k / p->cols, k % p->cols, amp, r->width_s, c->gate_up};
            zp[n++] = zc[k];
        }
        if (!n) break;
        rc = run_round(c, st, q, n, zc, zp, round, out, cap, out->g_verify, err);
    }
    const double tol_s = c->o->tol * (p->g_max_siemens - p->g_min_siemens);
    for (size_t k = 0; !rc && k < nc; k++) {
        if (count[k] == 0) out->g_verify[k] = cell_g(c, k, st[k]);
        out->converged[k] = fabs(out->g_verify[k] - gt[k]) <= tol_s;
    }
    free(q);
    free(sb);
    free(sa);
    free(ej);
    free(gcal);
    free(zc);
    free(zp);
    free(count);
    return rc;
}

static int check_input(const xb_array_params *p, const xb_matrix *gt, const xb_write_opts *o, xb_error *err)
{
    int rc = xb_array_params_check(p, err);
    if (rc) return rc;
    const xb_device_info *di = xb_device_info_get(p->device);
    if (!di->dyn_subckt || !di->g_of_state) {
        char list[256];
        xb_device_list(list, sizeof list, 1);
        return xb_errorf(err, XB_EINPUT, "--device: %s has no dynamic model (%s)", di->name, list);
    }
    if (di->dyn_gated && p->cell != XB_CELL_1R)
        return xb_errorf(err, XB_EINPUT, "--cell: %s is a 3-terminal cell with its own gate line; use 1r", di->name);
    if (!gt || gt->rows != p->rows || gt->cols != p->cols)
        return xb_errorf(err, XB_EINPUT, "target matrix is %zux%zu, array is %zux%zu", gt ? gt->rows : 0,
                         gt ? gt->cols : 0, p->rows, p->cols);
    if (!o || (unsigned)o->scheme > XB_WRITE_V3) return xb_errorf(err, XB_EINPUT, "--scheme: expected v2 or v3");
    if (!(o->tol > 0) || !(o->tol < 1)) return xb_errorf(err, XB_EINPUT, "--tol: must be in (0, 1), got %g", o ? o->tol : 0);
    if (o->max_pulses < 1 || o->max_pulses > 100000)
        return xb_errorf(err, XB_EINPUT, "--max-pulses: must be 1..100000, got %zu", o->max_pulses);
    if (o->width_s < 0 || !(o->width_s < 1)) return xb_errorf(err, XB_EINPUT, "--pulse-width: must be in [0, 1) s");
    if (o->compliance_amp < 0 || !isfinite(o->compliance_amp))
        return xb_errorf(err, XB_EINPUT, "--compliance: must be >= 0");
    for (size_t k = 0; k < p->rows * p->cols; k++) {
        double g = gt->data[k];
        if (!isfinite(g) || g < p->g_min_siemens * (1 - 1e-12) || g > p->g_max_siemens * (1 + 1e-12))
            return xb_errorf(err, XB_EINPUT, "target (%zu,%zu) = %g S is outside the window [%g, %g] S", k / p->cols + 1,
                             k % p->cols + 1, g, p->g_min_siemens, p->g_max_siemens);
    }
    return XB_OK;
}

int xb_char_write(const xb_engine_opts *eo, const xb_array_params *p, const xb_matrix *g_target,
                  const xb_write_opts *o, const xb_write_solver *solver, xb_write_result *out, xb_error *err)
{
    if (!eo || !p || !out) return xb_errorf(err, XB_EINPUT, "program: missing argument");
    memset(out, 0, sizeof *out);
    int rc = check_input(p, g_target, o, err);
    if (rc) return rc;
    const size_t nc = p->rows * p->cols;
    ctx c;
    memset(&c, 0, sizeof c);
    c.eo = eo;
    c.p = p;
    c.o = o;
    c.solver = solver ? solver : &xb_write_solver_spice;
    c.di = xb_device_info_get(p->device);
    c.rc = c.di->write;
    if (o->width_s > 0) c.rc.width_s = o->width_s;
    if (!(c.rc.reset_width_s > 0)) c.rc.reset_width_s = c.rc.width_s;
    double icomp = o->compliance_amp > 0 ? o->compliance_amp : c.rc.compliance_amp;
    c.gate_other = p->v_gate_volt;
    c.gate_up = icomp > 0 ? xb_netlist_compliance_gate_volt(p, icomp) : p->v_gate_volt;
    out->rows = p->rows;
    out->cols = p->cols;
    c.inst = calloc(nc, sizeof *c.inst);
    double *st = malloc(nc * sizeof *st);
#define A(f, t) out->f = calloc(nc, sizeof(t))
    A(g_target, double); A(g_verify, double); A(g_final, double); A(disturb, double); A(e_cell_joule, double);
    A(state_final, double); A(pulses, int64_t); A(converged, int64_t);
#undef A
    if (!c.inst || !st || !out->g_target || !out->g_verify || !out->g_final || !out->disturb || !out->e_cell_joule ||
        !out->state_final || !out->pulses || !out->converged)
        rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    for (size_t k = 0; !rc && k < nc; k++) {
        rc = xb_netlist_dyn_instance(p, k, NULL, &c.inst[k], err);
        st[k] = c.rc.state_start;
        out->g_target[k] = g_target->data[k];
    }
    size_t cap = 0;
    if (!rc) rc = o->verify ? program_verify(&c, st, out->g_target, out, &cap, err)
                            : program_open(&c, st, out->g_target, out, &cap, err);
    for (size_t k = 0; !rc && k < nc; k++) {
        out->state_final[k] = st[k];
        out->g_final[k] = cell_g(&c, k, st[k]);
    }
    for (size_t k = 0; c.inst && k < nc; k++) free(c.inst[k]);
    free(c.inst);
    free(st);
    if (rc) xb_write_result_clear(out);
    return rc;
}

/* ------------------------------------------------------------------ HDF5 */
static int wr_d(hid_t g, const char *name, size_t rows, size_t cols, const double *d, const char *unit, xb_error *err)
{
    hsize_t dims[2] = {rows, cols};
    return xb_h5_write_doubles(g, name, cols ? 2 : 1, dims, d, unit, err);
}

static int wr_i(hid_t g, const char *name, size_t rows, size_t cols, const int64_t *d, const char *unit, xb_error *err)
{
    hsize_t dims[2] = {rows, cols};
    return xb_h5_write_int64s(g, name, cols ? 2 : 1, dims, d, unit, err);
}

void xb_write_result_summary(const xb_write_result *r, xb_write_summary *s)
{
    memset(s, 0, sizeof *s);
    const size_t nc = r ? r->rows * r->cols : 0;
    if (!nc || !r->g_final || !r->g_target) return;
    double se = 0;
    for (size_t k = 0; k < nc; k++) {
        const double e = r->g_final[k] - r->g_target[k];
        se += e * e;
        s->max_abs_disturb_siemens = fmax(s->max_abs_disturb_siemens, fabs(r->disturb[k]));
        s->converged_fraction += r->converged[k] != 0;
        s->pulses_mean += (double)r->pulses[k];
        s->pulses_max = fmax(s->pulses_max, (double)r->pulses[k]);
    }
    s->pulses_mean /= (double)nc;
    s->converged_fraction /= (double)nc;
    s->rms_error_siemens = sqrt(se / (double)nc);
}

int xb_char_write_h5(hid_t loc, const xb_array_params *p, const xb_write_opts *o, const xb_write_result *r,
                     xb_error *err)
{
    if (!p || !o || !r || !r->g_target) return xb_errorf(err, XB_EINPUT, "program: nothing to write");
    const size_t R = r->rows, C = r->cols, nc = R * C, np = r->n_pulses;
    const xb_device_info *di = xb_device_info_get(p->device);
    int rc = XB_OK;
    /* options and configuration */
    rc = xb_h5_attr_set_string(loc, ".", "device", di->name, err);
    if (!rc) rc = xb_h5_attr_set_string(loc, ".", "cell", xb_cell_name(p->cell), err);
    if (!rc) rc = xb_h5_attr_set_string(loc, ".", "scheme", xb_write_scheme_name(o->scheme), err);
    if (!rc) rc = xb_h5_attr_set_string(loc, ".", "selector", p->selector == XB_SELECTOR_THRESHOLD ? "ts" : "sinh", err);
    if (!rc) rc = xb_h5_attr_set_int64(loc, ".", "rows", (int64_t)R, err);
    if (!rc) rc = xb_h5_attr_set_int64(loc, ".", "cols", (int64_t)C, err);
    if (!rc) rc = xb_h5_attr_set_int64(loc, ".", "verify", o->verify, err);
    if (!rc) rc = xb_h5_attr_set_double(loc, ".", "tol", o->tol, err);
    if (!rc) rc = xb_h5_attr_set_int64(loc, ".", "max_pulses", (int64_t)o->max_pulses, err);
    if (!rc) rc = xb_h5_attr_set_int64(loc, ".", "c2c", o->c2c, err);
    if (!rc) rc = xb_h5_attr_set_int64(loc, ".", "seed", (int64_t)o->seed, err);
    if (!rc) rc = xb_h5_attr_set_int64(loc, ".", "d2d_seed", (int64_t)p->seed, err);
    if (!rc) rc = xb_h5_attr_set_int64(loc, ".", "var_d2d", p->var_d2d, err);
    const double width = o->width_s > 0 ? o->width_s : di->write.width_s;
    const double icomp = o->compliance_amp > 0 ? o->compliance_amp : di->write.compliance_amp;
    if (!rc) rc = xb_h5_attr_set_double(loc, ".", "width_s", width, err);
    if (!rc) rc = xb_h5_attr_set_double(loc, ".", "compliance_amp", p->cell == XB_CELL_1T1R ? icomp : 0, err);
    if (!rc) rc = xb_h5_attr_set_double(loc, ".", "g_min_siemens", p->g_min_siemens, err);
    if (!rc) rc = xb_h5_attr_set_double(loc, ".", "g_max_siemens", p->g_max_siemens, err);
    if (!rc) rc = xb_h5_attr_set_double(loc, ".", "v_read_volt", p->v_read_volt, err);
    if (!rc) rc = xb_h5_attr_set_double(loc, ".", "r_wire_row_ohm", p->r_wire_row_ohm, err);
    if (!rc) rc = xb_h5_attr_set_double(loc, ".", "r_wire_col_ohm", p->r_wire_col_ohm, err);
    if (!rc) rc = xb_h5_attr_set_double(loc, ".", "r_driver_ohm", p->r_driver_ohm, err);
    if (!rc) rc = xb_h5_attr_set_double(loc, ".", "r_sense_ohm", p->r_sense_ohm, err);
    if (!rc) rc = xb_h5_attr_set_double(loc, ".", "c_wire_farad", p->c_wire_farad, err);
    xb_write_summary sm;
    xb_write_result_summary(r, &sm);
    if (!rc) rc = xb_h5_attr_set_double(loc, ".", "e_total_joule", r->e_total_joule, err);
    if (!rc) rc = xb_h5_attr_set_double(loc, ".", "t_program_s", r->t_program_s, err);
    if (!rc) rc = xb_h5_attr_set_double(loc, ".", "wall_s", r->wall_s, err);
    if (!rc) rc = xb_h5_attr_set_int64(loc, ".", "pulses_total", (int64_t)np, err);
    if (!rc) rc = xb_h5_attr_set_double(loc, ".", "pulses_mean", sm.pulses_mean, err);
    if (!rc) rc = xb_h5_attr_set_double(loc, ".", "converged_fraction", sm.converged_fraction, err);
    if (!rc) rc = xb_h5_attr_set_double(loc, ".", "rms_error_siemens", sm.rms_error_siemens, err);
    if (!rc) rc = xb_h5_attr_set_double(loc, ".", "max_abs_disturb_siemens", sm.max_abs_disturb_siemens, err);
    /* per cell */
    hid_t g = -1;
    if (!rc) rc = xb_h5_group_create(loc, "cells", &g, err);
    if (!rc) rc = wr_d(g, "g_target", R, C, r->g_target, "S", err);
    if (!rc) rc = wr_d(g, "g_verify", R, C, r->g_verify, "S", err);
    if (!rc) rc = wr_d(g, "g_final", R, C, r->g_final, "S", err);
    if (!rc) {
        double *e = malloc(nc * sizeof *e);
        if (!e) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
        for (size_t k = 0; e && k < nc; k++) e[k] = r->g_final[k] - r->g_target[k];
        if (!rc) rc = wr_d(g, "error", R, C, e, "S", err);
        free(e);
    }
    if (!rc) rc = wr_d(g, "disturb", R, C, r->disturb, "S", err);
    if (!rc) rc = wr_i(g, "pulses", R, C, r->pulses, "1", err);
    if (!rc) rc = wr_d(g, "e_joule", R, C, r->e_cell_joule, "J", err);
    if (!rc) rc = wr_i(g, "converged", R, C, r->converged, "1", err);
    if (!rc) rc = wr_d(g, "state_final", R, C, r->state_final, di->state_label, err);
    xb_h5_group_close(g);
    /* per pulse */
    g = -1;
    if (!rc) rc = xb_h5_group_create(loc, "pulses", &g, err);
    if (!rc && np) {
        rc = wr_i(g, "round", np, 0, r->p_round, "1", err);
        if (!rc) rc = wr_i(g, "row", np, 0, r->p_row, "1", err);
        if (!rc) rc = wr_i(g, "col", np, 0, r->p_col, "1", err);
        if (!rc) rc = wr_d(g, "v_volt", np, 0, r->p_volt, "V", err);
        if (!rc) rc = wr_d(g, "width_s", np, 0, r->p_width_s, "s", err);
        if (!rc) rc = wr_d(g, "z", np, 0, r->p_z, "1", err);
        if (!rc) rc = wr_d(g, "g_before", np, 0, r->p_g_before, "S", err);
        if (!rc) rc = wr_d(g, "g_after", np, 0, r->p_g_after, "S", err);
        if (!rc) rc = wr_d(g, "e_joule", np, 0, r->p_e_joule, "J", err);
    }
    xb_h5_group_close(g);
    /* per round */
    g = -1;
    if (!rc) rc = xb_h5_group_create(loc, "rounds", &g, err);
    if (!rc && r->n_rounds) {
        rc = wr_i(g, "pulses", r->n_rounds, 0, r->r_pulses, "1", err);
        if (!rc) rc = wr_d(g, "wall_s", r->n_rounds, 0, r->r_wall_s, "s", err);
        if (!rc) rc = wr_d(g, "t_sim_s", r->n_rounds, 0, r->r_t_sim_s, "s", err);
    }
    xb_h5_group_close(g);
    if (!rc && r->deck) rc = xb_h5_write_text(loc, "netlist", r->deck, err);
    return rc;
}
