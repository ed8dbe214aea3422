/*
 * Programming pulses on the native engine (xb_engine_native_write, engine.h; docs/native.md
 * "Programming pulses").  The array is the circuit of the native builder (native_build.c)
 * with every row and column driven (rows behind r_driver, columns behind r_sense) and the
 * dynamic model of native_dyn.c in place of each cell's device.  Per pulse:
 *   1. the whole array's nodal equations at full amplitude with the states at the pulse's
 *      start, solved by Newton (KLU; the previous pulse's solution as the start), so every
 *      cell sees its real half-select bias;
 *   2. the array seen from the pulsed cell, linearized there: one more solve with the same
 *      factorization and a Sherman-Morrison step give the node-voltage response z of the rest
 *      of the array to the pulsed cell's current (native_wcell.c);
 *   3. the states integrated through the trapezoid (native_wcell.c): the pulsed cell solved
 *      exactly (device, access transistor or selector) against that response; every other cell
 *      whose state moves at all at its bias follows its bias, scaled with the ramps and
 *      corrected by z for the pulsed cell's current; the sources' energy alongside.
 * Wire capacitance is left out (quasi-static lines: the RC time of a 256-cell line is
 * picoseconds against nanosecond edges, docs/native.md).
 */
#include "engine/native_write_internal.h"
#include "engine/engine_internal.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

double nw_node(const nw_solver *w, const double *x, int32_t id) { return id >= 0 ? x[id] : w->fixed[-1 - id]; }

/* Current of element k (a -> b) and its derivatives at node voltages x: the cell devices
 * through their dynamic model at their state, everything else through the static I-V. */
void nw_el_iv(const nw_solver *w, const double *x, size_t k, double *i, double *da, double *db)
{
    const nv_circuit *c = &w->c;
    double va = nw_node(w, x, c->na[k]), vb = nw_node(w, x, c->nb[k]);
    int32_t q = w->el_cell[k];
    if (q >= 0) {
        double d;
        w->m->iv(w->par + (size_t)q * w->m->npar, va - vb, w->st + (size_t)q * w->ns, i, &d);
        *da = d;
        *db = -d;
        return;
    }
    if (w->el_ts && (q = w->el_ts[k]) >= 0) {
        double d;
        nw_ts_iv(&w->tsp, va - vb, w->st[(size_t)q * w->ns + w->m->nstate], i, &d);
        *da = d;
        *db = -d;
        return;
    }
    nv_el_iv(w->p, c->kind, c->g, k, va, vb, i, da, db);
}

/* Gate current of gated cell q (from its gate line into the channel's s node) and its
 * derivative in the gate-to-channel voltage. */
void nw_gate_iv(const nw_solver *w, const double *x, size_t q, double *ig, double *dg, double *vgc)
{
    const size_t k = w->dev_el[q];
    double va = nw_node(w, x, w->c.na[k]), vb = nw_node(w, x, w->c.nb[k]);
    *vgc = w->gate_row[q / w->C] - 0.5 * (va + vb);
    w->m->ig(w->par + q * w->m->npar, *vgc, w->st + q * w->ns, ig, dg);
}

/* KCL residual f (current leaving every unknown node), its absolute sums and the Jacobian. */
static void assemble(nw_solver *w, double *vals)
{
    const nv_circuit *c = &w->c;
    memset(w->f, 0, c->n * sizeof *w->f);
    memset(w->fa, 0, c->n * sizeof *w->fa);
    memset(vals, 0, c->nnz * sizeof *vals);
    for (size_t k = 0; k < c->n_el; k++) {
        if (c->kind[k] == NV_CAP) continue;
        double i, da, db;
        nw_el_iv(w, w->x, k, &i, &da, &db);
        nv_stamp(c, k, i, da, db, w->f, w->fa, vals);
    }
    if (!w->m->gated) return;
    for (size_t q = 0; q < w->nc; q++) {
        double ig, dg, vgc;
        nw_gate_iv(w, w->x, q, &ig, &dg, &vgc);
        const size_t k = w->dev_el[q];
        const int32_t b = c->nb[k], *s = c->slot + 4 * k;
        if (b < 0) continue;
        w->f[b] -= ig;
        w->fa[b] += fabs(ig);
        if (s[1] >= 0) vals[s[1]] += 0.5 * dg;
        if (s[3] >= 0) vals[s[3]] += 0.5 * dg;
    }
}

/* Converged KCL: every node's residual within 1e-9 of the current through it, or 1e-15 A
 * (the nodes of rows whose access transistors are off carry almost nothing). */
static int kcl_ok(const nw_solver *w)
{
    for (size_t k = 0; k < w->c.n; k++)
        if (!(fabs(w->f[k]) <= 1e-9 * w->fa[k] + 1e-15)) return 0;
    return 1;
}

/* Newton on the whole array at full amplitude; leaves the Jacobian at the solution factored. */
static int newton(nw_solver *w, xb_error *err)
{
    const size_t n = w->c.n;
    double dxmax = INFINITY;
    for (int it = 0; it < 200; it++) {
        assemble(w, nv_sparse_values(w->sp));
        int rc = nv_sparse_factor(w->sp, err);
        if (rc) return rc;
        w->n_factor++;
        if (dxmax < 1e-9 && kcl_ok(w)) return XB_OK;
        for (size_t k = 0; k < n; k++) w->rhs[k] = -w->f[k];
        if ((rc = nv_sparse_solve(w->sp, w->rhs, 1, err))) return rc;
        dxmax = 0;
        for (size_t k = 0; k < n; k++) dxmax = fmax(dxmax, fabs(w->rhs[k]));
        /* the sinh laws overflow on a wild first step: at most 0.3 V per node per step */
        double sc = dxmax > 0.3 ? 0.3 / dxmax : 1;
        for (size_t k = 0; k < n; k++) w->x[k] += sc * w->rhs[k];
        if (!(dxmax < INFINITY)) break;
    }
    return xb_errorf(err, XB_ERUNTIME, "native write: the %zux%zu array's Newton iteration did not converge",
                     w->R, w->C);
}

/* Line levels of pulse q at full amplitude. */
static void set_levels(nw_solver *w, const xb_engine_wpulse *q)
{
    w->fixed[0] = 0;
    for (size_t i = 0; i < w->R; i++) w->fixed[1 + i] = i == q->row ? q->v_row_sel : q->v_row_other;
    for (size_t j = 0; j < w->C; j++) w->fixed[1 + w->R + j] = j == q->col ? q->v_col_sel : q->v_col_other;
    for (size_t i = 0; i < w->R; i++) w->gate_row[i] = i == q->row ? q->v_gate_sel : q->v_gate_other;
    if (w->p->cell == XB_CELL_1T1R)
        for (size_t cell = 0; cell < w->nc; cell++) w->c.g[w->c.cell_el[cell]] = w->gate_row[cell / w->C];
}

/* The whole array's per-cell tables: the dynamic model's parameters (each cell's d2d
 * sample), the state limits, the states and the noise-terminal values. */
typedef struct {
    size_t ns;  /* states per cell: the model's, then the ts selector's (1S1R ts) */
    int ts;
    double *par, *lo, *hi, *st, *nz;
    double *t_row; /* per row: the time its states are at (models that relax at 0 V) */
} nw_tables;

static void tables_free(nw_tables *t)
{
    free(t->par);
    free(t->lo);
    free(t->hi);
    free(t->st);
    free(t->nz);
    free(t->t_row);
}

static int tables_new(nw_tables *t, const nv_dyn_model *m, const xb_engine_write_in *in, xb_error *err)
{
    const xb_array_params *p = in->p;
    t->ts = p->cell == XB_CELL_1S1R && p->selector == XB_SELECTOR_THRESHOLD;
    t->ns = m->nstate + (size_t)t->ts;
    const size_t nc = p->rows * p->cols, np = m->npar, ns = t->ns;
    t->par = malloc(nc * np * sizeof *t->par);
    t->lo = malloc(nc * ns * sizeof *t->lo);
    t->hi = malloc(nc * ns * sizeof *t->hi);
    /* the states past the first start at 0 (the thermal node at ambient, the selector off, as
     * the integrators' initial conditions in ngspice) */
    t->st = calloc(nc * ns, sizeof *t->st);
    t->nz = calloc(nc, sizeof *t->nz);
    t->t_row = calloc(p->rows, sizeof *t->t_row);
    if (!t->par || !t->lo || !t->hi || !t->st || !t->nz || !t->t_row)
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    for (size_t q = 0; q < nc; q++) {
        char *inst = NULL;
        int rc = xb_netlist_dyn_instance(p, q, NULL, &inst, err);
        if (!rc) rc = nv_dyn_params(m, inst, t->par + q * np, err);
        free(inst);
        if (rc) return rc;
        m->limits(t->par + q * np, t->lo + q * ns, t->hi + q * ns);
        if (t->ts) {
            t->lo[q * ns + m->nstate] = NW_TS_LO;
            t->hi[q * ns + m->nstate] = NW_TS_HI;
        }
        t->st[q * ns] = in->state[q];
    }
    if (in->noise) memcpy(t->nz, in->noise, nc * sizeof *t->nz);
    return XB_OK;
}

static void solver_free(nw_solver *w)
{
    nv_sparse_free(w->sp);
    nv_circuit_free(&w->c);
    free(w->dev_el);
    free(w->el_cell);
    free(w->el_ts);
    free(w->x);
    free(w->fixed);
    free(w->f);
    free(w->fa);
    free(w->rhs);
    free(w->gate_row);
    free(w->moved);
    nw_cell_free(&w->cell);
    memset(w, 0, sizeof *w);
}

/* The circuit: every line driven, every cell's device element mapped to its cell. */
static int build(nw_solver *w, const xb_engine_opts *o, xb_error *err)
{
    const xb_array_params *p = w->p;
    const size_t R = p->rows, C = p->cols, nc = R * C;
    xb_matrix g = {R, C, NULL};
    uint8_t *cm = malloc(C);
    g.data = malloc(nc * sizeof *g.data);
    if (!cm || !g.data) {
        free(cm);
        free(g.data);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    memset(cm, NV_COL_BIAS, C);
    /* any non-zero conductance: the builder then gives every cell its elements; the dynamic
     * model replaces the device element's law */
    for (size_t q = 0; q < nc; q++) g.data[q] = p->g_max_siemens;
    nv_plan plan = {NULL, cm, NULL, o ? o->gmin_siemens : 1e-12, 0, 0};
    int rc = nv_circuit_build_plan(p, &g, 0, &plan, &w->c, err);
    free(cm);
    free(g.data);
    if (rc) return rc;
    w->dev_el = malloc(nc * sizeof *w->dev_el);
    w->el_cell = malloc(w->c.n_el * sizeof *w->el_cell);
    if (!w->dev_el || !w->el_cell) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    for (size_t k = 0; k < w->c.n_el; k++) w->el_cell[k] = -1;
    for (size_t q = 0; q < nc; q++) {
        /* 1R, 1S1R: the element into the column is the device; 1T1R: the one before the NMOS */
        size_t k = w->c.cell_el[q] - (p->cell == XB_CELL_1T1R ? 1 : 0);
        w->dev_el[q] = k;
        w->el_cell[k] = (int32_t)q;
    }
    if (w->ts) { /* 1S1R: row -- selector -- m -- device -- column, the selector just before */
        w->el_ts = malloc(w->c.n_el * sizeof *w->el_ts);
        if (!w->el_ts) return xb_errorf(err, XB_ERUNTIME, "out of memory");
        for (size_t k = 0; k < w->c.n_el; k++) w->el_ts[k] = -1;
        for (size_t q = 0; q < nc; q++) w->el_ts[w->c.cell_el[q] - 1] = (int32_t)q;
    }
    return nv_sparse_new(w->c.n, w->c.Ap, w->c.Ai, 0, NULL, &w->sp, err);
}

/* The solver of circuit p (the whole array, or an isolated row) whose cells are the tables'
 * from cell `first` on. */
static int solver_new(nw_solver *w, const xb_engine_opts *o, const xb_array_params *p, const nv_dyn_model *m,
                      nw_tables *t, size_t first, xb_error *err)
{
    memset(w, 0, sizeof *w);
    w->p = p;
    w->m = m;
    w->R = p->rows;
    w->C = p->cols;
    w->nc = w->R * w->C;
    w->ts = t->ts;
    w->ns = t->ns;
    if (w->ts) nw_ts_init(&w->tsp, p);
    int rc = build(w, o, err);
    if (rc) return rc;
    const size_t n = w->c.n ? w->c.n : 1;
    w->par = t->par + first * m->npar;
    w->lo = t->lo + first * t->ns;
    w->hi = t->hi + first * t->ns;
    w->st = t->st + first * t->ns;
    w->nz = t->nz + first;
    w->moved = calloc(w->nc, 1);
    w->x = calloc(n, sizeof *w->x);
    w->fixed = calloc(w->c.n_fixed, sizeof *w->fixed);
    w->f = malloc(n * sizeof *w->f);
    w->fa = malloc(n * sizeof *w->fa);
    w->rhs = malloc(n * sizeof *w->rhs);
    w->gate_row = calloc(w->R, sizeof *w->gate_row);
    if (!w->x || !w->fixed || !w->f || !w->fa || !w->rhs || !w->gate_row || !w->moved || nw_cell_new(&w->cell, w))
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    return XB_OK;
}

/* Row r of a 1T1R array whose other rows are isolated (their access transistors off: the
 * level-1 NMOS carries exactly nothing below threshold): the row's line, its cells, and each
 * column as the one resistance from the cell's node to the column's source, (R - r) segments
 * and r_sense; the column above the row and the other rows' cells carry only ngspice's gmin
 * across the off transistors' junctions (1e-12 S), which this leaves out (docs/native.md). */
static int row_solver_new(nw_solver *w, const xb_engine_opts *o, const xb_array_params *p, const nv_dyn_model *m,
                          nw_tables *t, size_t r, xb_error *err)
{
    xb_array_params pr = *p;
    pr.rows = 1;
    pr.r_sense_ohm = p->r_sense_ohm + (double)(p->rows - r) * p->r_wire_col_ohm;
    pr.r_wire_col_ohm = 0;
    int rc = solver_new(w, o, &pr, m, t, r * p->cols, err);
    w->p_row = pr;
    w->p = &w->p_row;
    return rc;
}

/* The model, or the reason the native solver cannot take the array. */
static int pick_model(const xb_array_params *p, const nv_dyn_model **out, xb_error *err)
{
    const xb_device_info *di = xb_device_info_get(p->device);
    const nv_dyn_model *m = di ? nv_dyn_find(di->dyn_subckt) : NULL;
    *out = m;
    if (!m)
        return xb_errorf(err, XB_EINPUT, "--engine native: no native dynamic model of %s (programming pulses: rram, "
                         "pcm, ecram; use --engine spice)", di ? di->name : "?");
    if (m->gated && p->cell != XB_CELL_1R)
        return xb_errorf(err, XB_EINPUT, "--cell: %s is a 3-terminal cell with its own gate line; use 1r", di->name);
    return XB_OK;
}

/* 1 when every pulse leaves the other rows' access transistors off: every node lies between
 * the lowest and the highest source level (0 V included: ground, gmin), so no unselected
 * transistor's gate is above the lowest level by more than V_t, at full amplitude and (all
 * levels scale together) on the ramps. */
static int rows_isolated(const xb_engine_write_in *in)
{
    const xb_array_params *p = in->p;
    if (in->full_array || p->cell != XB_CELL_1T1R || p->rows < 2) return 0;
    for (size_t k = 0; k < in->n_pulses; k++) {
        const xb_engine_wpulse *q = &in->pulses[k];
        double lo = fmin(fmin(0.0, q->v_row_sel), fmin(q->v_row_other, fmin(q->v_col_sel, q->v_col_other)));
        if (!(q->v_gate_other - lo <= p->nmos_vt_volt)) return 0;
    }
    return 1;
}

int xb_engine_native_write_supports(const xb_array_params *p)
{
    const nv_dyn_model *m;
    return p && pick_model(p, &m, NULL) == XB_OK;
}

static int check_in(const xb_engine_write_in *in, const xb_engine_write_out *out, xb_error *err)
{
    if (!in || !out || !in->p || !in->state || (in->n_pulses && !in->pulses) || !out->state_end ||
        (in->n_pulses && (!out->state_before || !out->state_after || !out->e_joule)))
        return xb_errorf(err, XB_EINPUT, "native write: missing argument");
    int rc = xb_array_params_check(in->p, err);
    if (rc) return rc;
    if (!(in->edge_s > 0) || !(in->gap_s >= 0) || !(in->t_idle_s >= 0))
        return xb_errorf(err, XB_EINPUT, "native write: edge %g s, gap %g s: edge must be > 0, gap >= 0", in->edge_s,
                         in->gap_s);
    for (size_t k = 0; k < in->n_pulses; k++) {
        const xb_engine_wpulse *q = &in->pulses[k];
        if (q->row >= in->p->rows || q->col >= in->p->cols || !(q->width_s > 0) || !isfinite(q->v_row_sel))
            return xb_errorf(err, XB_EINPUT, "native write: pulse %zu: cell (%zu,%zu) or width %g s out of range", k,
                             q->row, q->col, q->width_s);
    }
    for (size_t k = 0; k < in->p->rows * in->p->cols; k++)
        if (!isfinite(in->state[k]) || (in->noise && !isfinite(in->noise[k])))
            return xb_errorf(err, XB_EINPUT, "native write: state or noise of cell (%zu,%zu) not finite",
                             k / in->p->cols + 1, k % in->p->cols + 1);
    return XB_OK;
}

/* Do the states of cells like these move at 0 V (PCM's thermal node, the ts selector)? */
static int relaxes(const nv_dyn_model *m, int ts) { return m->relax || ts; }

/* One cell's states (x: its ns of them) over dt_s at 0 V: the model's relax, then the ts
 * selector's decay (ts: its parameters, NULL without). */
static void relax_cell(const nv_dyn_model *m, const nw_ts *ts, const double *par, double *x, double nz, double dt_s)
{
    if (m->relax) m->relax(par, x, nz, dt_s);
    if (ts) x[m->nstate] = nw_ts_relax(ts, x[m->nstate], dt_s);
}

/* States that relax at 0 V brought from w->t_s to t_s; skip_moved: not the cells the last
 * pulse integrated (their states are already at the pulse's end). */
static void relax_to(nw_solver *w, double t_s, int skip_moved)
{
    const size_t ns = w->ns, np = w->m->npar;
    if (relaxes(w->m, w->ts))
        for (size_t q = 0; q < w->nc; q++)
            if (!(skip_moved && w->moved[q]))
                relax_cell(w->m, w->ts ? &w->tsp : NULL, w->par + q * np, w->st + q * ns, w->nz[q], t_s - w->t_s);
    w->t_s = t_s;
}

/* One pulse on solver w (the whole array, or the pulsed cell's isolated row: q's row 0),
 * starting at t_s. */
static int pulse(nw_solver *w, const xb_engine_wpulse *q, double edge_s, double gap_s, double t_s, size_t k,
                 xb_engine_write_out *out, xb_error *err)
{
    const size_t sel = q->row * w->C + q->col;
    relax_to(w, t_s, 0);
    set_levels(w, q);
    out->state_before[k] = w->st[sel * w->ns];
    double other = -INFINITY; /* the other cells' highest selector state: at the slot's start, */
    if (w->ts && out->sel_peak_other) /* as they only decay unless the pulse moves them */
        for (size_t c = 0; c < w->nc; c++)
            if (c != sel) other = fmax(other, w->st[c * w->ns + w->m->nstate]);
    int rc = newton(w, err);
    if (!rc) rc = nw_pulse(w, q, edge_s, gap_s, &out->e_joule[k], err);
    if (!rc && w->ts) {
        const nw_cell *cl = &w->cell;
        if (out->sel_peak) out->sel_peak[k] = cl->peak[0];
        for (size_t u = 0; u < cl->n_act; u++) other = fmax(other, cl->peak[1 + u]);
        if (out->sel_peak_other) out->sel_peak_other[k] = w->nc > 1 ? other : 0;
    }
    if (!rc && relaxes(w->m, w->ts)) { /* the cells not integrated relax through the slot */
        memset(w->moved, 0, w->nc);
        w->moved[w->cell.sel] = 1;
        for (size_t u = 0; u < w->cell.n_act; u++) w->moved[w->cell.act[u]] = 1;
        relax_to(w, t_s + 2 * edge_s + q->width_s + gap_s, 1);
    }
    out->state_after[k] = w->st[sel * w->ns];
    return rc;
}

/* Isolated rows, spread over threads: the pulses grouped by row (each row's in call order),
 * each group on its own row solver.  The rows share nothing but the tables, whose cells they
 * partition, so the results are the same for any number of threads. */
typedef struct {
    const xb_engine_opts *o;
    const xb_engine_write_in *in;
    xb_engine_write_out *out;
    const nv_dyn_model *m;
    nw_tables *t;
    size_t *order;   /* pulse indices grouped by row */
    size_t *start;   /* n_groups + 1 offsets into order */
    const double *t_start; /* per pulse: its slot's start (simulated time) */
    size_t n_groups, next;
    pthread_mutex_t lock;
    int rc;
    size_t rc_group; /* the lowest failed group: its error is the one reported */
    xb_error err;
    size_t n_factor, n_rhs;
} nw_rows;

static int rows_group(nw_rows *g, size_t grp, size_t *nf, size_t *nr, xb_error *err)
{
    nw_solver w;
    const size_t *ks = g->order + g->start[grp], n = g->start[grp + 1] - g->start[grp];
    const size_t row = g->in->pulses[ks[0]].row;
    int rc = row_solver_new(&w, g->o, g->in->p, g->m, g->t, row, err);
    w.t_s = g->t->t_row[row];
    for (size_t u = 0; !rc && u < n; u++) {
        xb_engine_wpulse q = g->in->pulses[ks[u]];
        q.row = 0;
        rc = pulse(&w, &q, g->in->edge_s, g->in->gap_s, g->t_start[ks[u]], ks[u], g->out, err);
    }
    g->t->t_row[row] = w.t_s;
    *nf = w.n_factor;
    *nr = w.n_rhs;
    solver_free(&w);
    return rc;
}

static void *rows_thread(void *arg)
{
    nw_rows *g = arg;
    for (;;) {
        pthread_mutex_lock(&g->lock);
        size_t grp = g->next++;
        int stop = grp >= g->n_groups || (g->rc && g->rc_group < grp);
        pthread_mutex_unlock(&g->lock);
        if (stop) return NULL;
        xb_error err;
        size_t nf = 0, nr = 0;
        int rc = rows_group(g, grp, &nf, &nr, &err);
        pthread_mutex_lock(&g->lock);
        g->n_factor += nf;
        g->n_rhs += nr;
        if (rc && (!g->rc || grp < g->rc_group)) {
            g->rc = rc;
            g->rc_group = grp;
            g->err = err;
        }
        pthread_mutex_unlock(&g->lock);
    }
}

static int rows_plan(nw_rows *g, xb_error *err)
{
    const size_t R = g->in->p->rows, n = g->in->n_pulses;
    size_t *count = calloc(R + 1, sizeof *count);
    g->order = malloc((n ? n : 1) * sizeof *g->order);
    g->start = malloc((R + 1) * sizeof *g->start);
    if (!count || !g->order || !g->start) {
        free(count);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    for (size_t k = 0; k < n; k++) count[g->in->pulses[k].row + 1]++;
    for (size_t r = 0; r < R; r++) count[r + 1] += count[r];
    for (size_t k = 0; k < n; k++) g->order[count[g->in->pulses[k].row]++] = k;
    /* count[r] is now the end of row r's pulses */
    size_t at = 0;
    g->n_groups = 0;
    for (size_t r = 0; r < R; r++) {
        if (count[r] == at) continue;
        g->start[g->n_groups++] = at;
        at = count[r];
    }
    g->start[g->n_groups] = at;
    free(count);
    return XB_OK;
}

static int run_rows(const xb_engine_opts *o, const xb_engine_write_in *in, xb_engine_write_out *out,
                    const nv_dyn_model *m, nw_tables *t, const double *t_start, size_t *n_factor, size_t *n_rhs,
                    xb_error *err)
{
    nw_rows g = {o, in, out, m, t, NULL, NULL, t_start, 0, 0, PTHREAD_MUTEX_INITIALIZER, XB_OK, 0, {0}, 0, 0};
    int rc = rows_plan(&g, err);
    size_t nthr = (size_t)xb_engine_opts_workers(o);
    if (nthr > g.n_groups) nthr = g.n_groups ? g.n_groups : 1;
    if (nthr > 64) nthr = 64;
    pthread_t th[64];
    int started[64] = {0};
    for (size_t k = 1; !rc && k < nthr; k++) started[k] = pthread_create(&th[k], NULL, rows_thread, &g) == 0;
    if (!rc) rows_thread(&g);
    for (size_t k = 1; k < nthr; k++)
        if (started[k]) pthread_join(th[k], NULL);
    if (!rc && g.rc) {
        rc = g.rc;
        *err = g.err;
    }
    *n_factor = g.n_factor;
    *n_rhs = g.n_rhs;
    free(g.order);
    free(g.start);
    return rc;
}

int xb_engine_native_write(const xb_engine_opts *o, const xb_engine_write_in *in, xb_engine_write_out *out,
                           xb_error *err)
{
    int rc = check_in(in, out, err);
    const nv_dyn_model *m = NULL;
    if (!rc) rc = pick_model(in->p, &m, err);
    if (rc) return rc;
    nw_tables t = {0};
    nw_solver w = {0};
    size_t n_factor = 0, n_rhs = 0;
    /* the slots' start times: t_idle, then per pulse edge + width + edge + gap */
    double *t_start = malloc((in->n_pulses + 1) * sizeof *t_start);
    if (!t_start) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    t_start[0] = in->t_idle_s;
    for (size_t k = 0; k < in->n_pulses; k++)
        t_start[k + 1] = t_start[k] + 2 * in->edge_s + in->pulses[k].width_s + in->gap_s;
    rc = tables_new(&t, m, in, err);
    if (!rc && rows_isolated(in)) {
        rc = run_rows(o, in, out, m, &t, t_start, &n_factor, &n_rhs, err);
    } else if (!rc) {
        rc = solver_new(&w, o, in->p, m, &t, 0, err);
        for (size_t k = 0; !rc && k < in->n_pulses; k++)
            rc = pulse(&w, &in->pulses[k], in->edge_s, in->gap_s, t_start[k], k, out, err);
        n_factor = w.n_factor;
        n_rhs = w.n_rhs;
    }
    if (!rc && relaxes(m, t.ts)) { /* every cell to the end of the call (its last slot's gap) */
        const size_t C = in->p->cols, ns = t.ns, np = m->npar;
        nw_ts ts;
        nw_ts_init(&ts, in->p);
        for (size_t q = 0; q < in->p->rows * C; q++) {
            double t0 = w.nc ? w.t_s : t.t_row[q / C];
            relax_cell(m, t.ts ? &ts : NULL, t.par + q * np, t.st + q * ns, t.nz[q], t_start[in->n_pulses] - t0);
        }
    }
    if (!rc) {
        const size_t nc = in->p->rows * in->p->cols, ns = t.ns;
        for (size_t q = 0; q < nc; q++) out->state_end[q] = t.st[q * ns];
        out->t_sim_s = t_start[in->n_pulses];
        out->n_factor = n_factor;
        out->n_rhs = n_rhs;
    }
    free(t_start);
    solver_free(&w);
    tables_free(&t);
    return rc;
}
