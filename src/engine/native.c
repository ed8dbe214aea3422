/*
 * The native exact engine: nodal analysis of the static read circuit (netlist.h) solved
 * with SuiteSparse.  Public API in include/xbar/engine.h; docs/native.md explains the
 * method and its numbers.
 *
 * Unknowns are the node voltages that are not fixed by a source (shorts merged, see
 * native_build.c).  With F(x) the sum of element currents leaving every unknown node,
 * the circuit equations are F(x) = 0:
 *   - linear cells: F is affine, F(x) = A x - b(v_in); A is factored once per array and
 *     every block of input vectors is one multi-column solve;
 *   - nonlinear cells (sinh devices, selectors, access transistors): Newton on F with the
 *     symbolic analysis made once per array.  The first guess of every vector comes from
 *     the chord-linearized circuit (device G at v_read; selector / transistor at the
 *     operating point of an isolated cell at v_read), factored once per block of vectors
 *     and solved for the whole block at once.  Steps first reuse the factorization in hand
 *     (simplified Newton) while that is cheaper than refactoring; full Newton steps are
 *     limited in size and damped by a backtracking line search on |F|^2, which makes them
 *     converge from that guess on these monotone circuits.
 * Convergence: KCL holds at every node to 1e-12 of the current magnitude flowing through
 * it (or, at the rounding floor, the full Newton step is below 1e-12 of the drive scale).
 */
#include "engine/native_internal.h"
#include "xbar/engine.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NV_KCL_RELTOL 1e-12  /* per-node |sum I| / sum |I| at convergence */
#define NV_STEP_RELTOL 1e-12 /* Newton step / drive voltage scale at the rounding floor */
#define NV_LOOSE_RELTOL 1e-9 /* accepted when the line search can no longer make progress */
#define NV_MAX_FORCED 4          /* read circuits: see newton() */
#define NV_FORCED_STEP_REL 1e-6  /* ... for steps below this share of the drive voltage scale */
#define NV_MAX_NEWTON 200
#define NV_MAX_HALVINGS 60
#define NV_BLOCK_DOUBLES (16u << 20) /* right-hand-side block budget: 128 MB */

struct xb_engine_native {
    xb_array_params p;
    nv_circuit c;
    nv_sparse *sp; /* NULL when every node is fixed (all shorts) */
    int linear;    /* every element linear */
    int linear_factored;
    double *g_chord; /* per element: linearized conductance for the first guess */
    double *fixed;   /* 1 + rows fixed node voltages of the current vector */
    double *xt, *dx, *f, *ft, *fabs_, *fabst, *zero;
    int read_circuit; /* built from a plan (single-cell reads): see newton() */
    size_t blk_cols; /* vectors per block: right-hand sides are allocated per call (an engine
                        kept per tile must stay small between calls) */
    xb_engine_native_stats st;
};

static inline double node_v(const double *x, const double *fixed, int32_t id)
{
    return id >= 0 ? x[id] : fixed[-1 - id];
}

/* Current of element k from a to b and its derivatives with respect to v_a and v_b. */
static inline void el_iv(const xb_engine_native *e, size_t k, double va, double vb, int chord,
                         double *i, double *di_a, double *di_b)
{
    const nv_circuit *c = &e->c;
    if (chord) {
        double g = e->g_chord[k], v = va - vb;
        *i = g * v;
        *di_a = g;
        *di_b = -g;
        return;
    }
    nv_el_iv(&e->p, c->kind, c->g, k, va, vb, i, di_a, di_b);
}

/* F(x) (currents leaving each unknown node), sum of |currents| per node, and when vals
 * is non-NULL the Jacobian dF/dx into the CSC value array.  Returns 0.5 |F|^2. */
static double eval(xb_engine_native *e, const double *x, int chord, double *f, double *fabs_out,
                   double *vals)
{
    const nv_circuit *c = &e->c;
    memset(f, 0, c->n * sizeof *f);
    if (fabs_out) memset(fabs_out, 0, c->n * sizeof *fabs_out);
    if (vals) memset(vals, 0, c->nnz * sizeof *vals);
    for (size_t k = 0; k < c->n_el; k++) {
        int32_t a = c->na[k], b = c->nb[k];
        double i, da, db;
        el_iv(e, k, node_v(x, e->fixed, a), node_v(x, e->fixed, b), chord, &i, &da, &db);
        nv_stamp(c, k, i, da, db, f, fabs_out, vals);
    }
    double phi = 0;
    for (size_t n = 0; n < c->n; n++) phi += f[n] * f[n];
    return 0.5 * phi;
}

static void set_fixed(xb_engine_native *e, const double *v_in)
{
    e->fixed[0] = 0.0;
    memcpy(e->fixed + 1, v_in, e->c.rows * sizeof *v_in);
}

static int factor(xb_engine_native *e, xb_error *err)
{
    double t0 = xb_now_s();
    int rc = nv_sparse_factor(e->sp, err);
    e->st.t_factor_s += xb_now_s() - t0;
    e->st.factorizations++;
    if (rc == XB_OK) e->st.nnz_factor = nv_sparse_factor_nnz(e->sp);
    return rc;
}

static int solve(xb_engine_native *e, double *b, size_t nrhs, xb_error *err)
{
    double t0 = xb_now_s();
    int rc = nv_sparse_solve(e->sp, b, nrhs, err);
    e->st.t_solve_s += xb_now_s() - t0;
    e->st.rhs_solved += nrhs;
    return rc;
}

/* Factor the linearized matrix (exact for linear arrays, the chord circuit otherwise). */
static int factor_linear(xb_engine_native *e, xb_error *err)
{
    if (e->linear && e->linear_factored) return XB_OK;
    /* the matrix does not depend on the fixed voltages: evaluate at x = 0 */
    eval(e, e->zero, 1, e->f, NULL, nv_sparse_values(e->sp));
    int rc = factor(e, err);
    if (rc == XB_OK && e->linear) e->linear_factored = 1;
    return rc;
}

/* Right-hand side b = -F_lin(0) of the linearized circuit for the current fixed nodes. */
static void linear_rhs(xb_engine_native *e, double *b)
{
    eval(e, e->zero, 1, b, NULL, NULL);
    for (size_t n = 0; n < e->c.n; n++) b[n] = -b[n];
}

/* Newton from the guess in x (overwritten with the solution) for the current fixed nodes.
 *
 * Factorizations dominate the cost, so this is Newton with a reused iteration matrix
 * (simplified Newton, as in stiff ODE codes): a step is first tried with the factorization
 * already in hand (the chord circuit at the start of a block, else the Jacobian of an
 * earlier iterate or of the previous vector) and kept if it cuts |F| at least in half;
 * otherwise the Jacobian is refactored at x and a damped Newton step is taken. */
static int newton(xb_engine_native *e, double *x, xb_error *err)
{
    size_t n = e->c.n;
    double vscale = 0;
    for (size_t k = 0; k < e->c.n_fixed; k++) vscale = fmax(vscale, fabs(e->fixed[k]));
    if (e->p.cell == XB_CELL_1T1R) vscale = fmax(vscale, fabs(e->p.v_gate_volt));
    /* no node of these passive circuits leaves the range of the fixed voltages by more
     * than the drive scale: a larger step is an overshoot */
    double step_limit = fmax(vscale, 1e-3);
    double *vals = nv_sparse_values(e->sp);
    double *dx = e->dx;
    double phi = eval(e, x, 0, e->f, e->fabs_, NULL);
    int reuse = 1; /* the factorization in hand may serve as the iteration matrix */
    int forced = 0; /* full steps taken without a decrease of |F| (read circuits) */
    for (int it = 0; it < NV_MAX_NEWTON; it++) {
        double rel = nv_kcl_rel(e->f, e->fabs_, n);
        if (rel <= NV_KCL_RELTOL) {
            e->st.last_kcl_rel = rel;
            return XB_OK;
        }
        double dmax = 0;
        if (reuse) {
            for (size_t k = 0; k < n; k++) dx[k] = -e->f[k];
            int rc = solve(e, dx, 1, err);
            if (rc) return rc;
            e->st.reuse_steps++;
            for (size_t k = 0; k < n; k++) dmax = fmax(dmax, fabs(dx[k]));
            if (dmax <= NV_STEP_RELTOL * vscale) {
                /* the remaining correction is below the tolerance */
                for (size_t k = 0; k < n; k++) x[k] += dx[k];
                eval(e, x, 0, e->f, e->fabs_, NULL);
                e->st.last_kcl_rel = nv_kcl_rel(e->f, e->fabs_, n);
                return XB_OK;
            }
            if (dmax <= step_limit) {
                for (size_t k = 0; k < n; k++) e->xt[k] = x[k] + dx[k];
                double phit = eval(e, e->xt, 0, e->ft, e->fabst, NULL);
                if (isfinite(phit) && phit < phi) {
                    /* progress: keep the step; go on reusing the factorization while the
                     * steps still needed at this contraction rate cost less than a
                     * refactorization (flop counts, so the path is deterministic) */
                    double r = sqrt(phit / phi), relt = nv_kcl_rel(e->ft, e->fabst, n);
                    double need = relt > NV_KCL_RELTOL && r > 0 ? log(relt / NV_KCL_RELTOL) / -log(r) : 0;
                    reuse = r <= 0.1 || need <= nv_sparse_factor_cost(e->sp);
                    phi = phit;
                    goto accept;
                }
            }
            reuse = 0;
        }
        /* a full Newton step: Jacobian at x, fresh factorization */
        eval(e, x, 0, e->f, e->fabs_, vals);
        int rc = factor(e, err);
        if (rc) return rc;
        for (size_t k = 0; k < n; k++) dx[k] = -e->f[k];
        rc = solve(e, dx, 1, err);
        if (rc) return rc;
        e->st.newton_iterations++;
        dmax = 0;
        for (size_t k = 0; k < n; k++) dmax = fmax(dmax, fabs(dx[k]));
        if (!isfinite(dmax))
            return xb_errorf(err, XB_ERUNTIME, "native: Newton step is not finite (singular Jacobian)");
        if (dmax <= NV_STEP_RELTOL * vscale) {
            /* at the rounding floor: the remaining correction is below the tolerance */
            for (size_t k = 0; k < n; k++) x[k] += dx[k];
            eval(e, x, 0, e->f, e->fabs_, NULL);
            e->st.last_kcl_rel = nv_kcl_rel(e->f, e->fabs_, n);
            return XB_OK;
        }
        if (e->read_circuit && forced < NV_MAX_FORCED && dmax <= NV_FORCED_STEP_REL * vscale) {
            /* read circuits: |F| is at its rounding floor everywhere but on a floating line
             * held by junction leakage alone, whose tiny currents do not show in |F|, so
             * the line search would take a null step; this small full Newton step settles
             * that line (its equations are linear there) */
            for (size_t k = 0; k < n; k++) e->xt[k] = x[k] + dx[k];
            phi = eval(e, e->xt, 0, e->ft, e->fabst, NULL);
            forced++;
            reuse = 1;
            goto accept;
        }
        double t = dmax > step_limit ? step_limit / dmax : 1.0;
        int accepted = 0;
        for (int h = 0; h < NV_MAX_HALVINGS; h++) {
            for (size_t k = 0; k < n; k++) e->xt[k] = x[k] + t * dx[k];
            double phit = eval(e, e->xt, 0, e->ft, e->fabst, NULL);
            if (isfinite(phit) && phit <= (1.0 - 2e-4 * t) * phi) {
                accepted = 1;
                phi = phit;
                break;
            }
            t *= 0.5;
        }
        if (!accepted) {
            /* at the rounding floor no step decreases |F| any more */
            if (rel <= NV_LOOSE_RELTOL) {
                e->st.last_kcl_rel = rel;
                return XB_OK;
            }
            return xb_errorf(err, XB_ERUNTIME,
                             "native: Newton line search failed after %d iterations (KCL error %.3g "
                             "relative)",
                             it + 1, rel);
        }
        reuse = 1;
    accept:
        memcpy(x, e->xt, n * sizeof *x);
        double *sw = e->f;
        e->f = e->ft;
        e->ft = sw;
        sw = e->fabs_;
        e->fabs_ = e->fabst;
        e->fabst = sw;
    }
    return xb_errorf(err, XB_ERUNTIME, "native: Newton did not converge in %d iterations (KCL error "
                     "%.3g relative)",
                     NV_MAX_NEWTON, nv_kcl_rel(e->f, e->fabs_, n));
}

/* Sum of cell currents into every column for the solution x (length n). */
static void column_currents(const xb_engine_native *e, const double *x, double *i_out)
{
    const nv_circuit *c = &e->c;
    size_t R = c->rows, C = c->cols;
    for (size_t j = 0; j < C; j++) i_out[j] = 0.0;
    for (size_t i = 0; i < R; i++)
        for (size_t j = 0; j < C; j++) {
            size_t el = c->cell_el[i * C + j];
            if (el == SIZE_MAX) continue;
            double cur, da, db;
            el_iv(e, el, node_v(x, e->fixed, c->na[el]), node_v(x, e->fixed, c->nb[el]), 0, &cur,
                  &da, &db);
            i_out[j] += cur;
        }
}

static int check_vector(const double *v, size_t n, size_t k, xb_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return xb_errorf(err, XB_EINPUT, "V(%zu,%zu) = %g: input voltages must be finite", k + 1,
                             i + 1, v[i]);
    return XB_OK;
}

/* Chord conductances of the two series elements of a 1S1R / 1T1R cell (elements e1 from
 * the row to the internal node, e2 from there to the column): the isolated cell at v_read,
 * its internal node found by bisection (the current of e1 falls and that of e2 rises with
 * the internal voltage).  A guess only; Newton makes it exact. */
static void chord_cell(xb_engine_native *e, size_t e1, size_t e2)
{
    double vr = e->p.v_read_volt, lo = 0, hi = vr, i1 = 0, i2 = 0, d1 = 0, d2 = 0, da, db;
    double vm = 0.5 * vr;
    for (int it = 0; it < 40; it++) {
        vm = 0.5 * (lo + hi);
        el_iv(e, e1, vr, vm, 0, &i1, &da, &db);
        el_iv(e, e2, vm, 0.0, 0, &i2, &da, &db);
        if (i1 > i2) lo = vm;
        else hi = vm;
    }
    double cur = 0.5 * (i1 + i2);
    el_iv(e, e1, vm, vm, 0, &i1, &d1, &db); /* small-signal values at zero bias */
    el_iv(e, e2, 0.0, 0.0, 0, &i2, &d2, &db);
    double g1 = vr - vm > 1e-9 * vr ? cur / (vr - vm) : d1;
    double g2 = vm > 1e-9 * vr ? cur / vm : d2;
    e->g_chord[e1] = g1 > 1e-12 ? g1 : 1e-12;
    e->g_chord[e2] = g2 > 1e-12 ? g2 : 1e-12;
}

int xb_engine_native_new(const xb_array_params *p, const xb_matrix *g, xb_engine_native **out,
                         xb_error *err)
{
    return nv_engine_new(p, g, NULL, NULL, out, err);
}

int nv_engine_new(const xb_array_params *p, const xb_matrix *g, const nv_plan *plan,
                  const double *col_bias, xb_engine_native **out, xb_error *err)
{
    if (!out) return xb_errorf(err, XB_EINPUT, "native: no output handle");
    *out = NULL;
    if (!p || !g) return xb_errorf(err, XB_EINPUT, "native: missing array parameters or conductances");
    int rc = xb_array_params_check(p, err);
    if (rc) return rc;
    if (g->rows != p->rows || g->cols != p->cols || !g->data)
        return xb_errorf(err, XB_EINPUT, "conductance matrix is %zux%zu, array is %zux%zu", g->rows,
                         g->cols, p->rows, p->cols);
    for (size_t i = 0; i < g->rows; i++)
        for (size_t j = 0; j < g->cols; j++) {
            double v = g->data[i * g->cols + j];
            if (!(v >= 0) || !isfinite(v))
                return xb_errorf(err, XB_EINPUT, "conductance (%zu,%zu) = %g: must be finite and >= 0",
                                 i + 1, j + 1, v);
        }
    if (p->cell == XB_CELL_1S1R && !(p->sel_is_amp > 0 && p->sel_vs_volt > 0))
        return xb_errorf(err, XB_EINPUT, "selector: is and vs must be > 0");
    /* refuse a tile the machine cannot hold before allocating it (native_memory.c) */
    const double avail = xb_engine_memory_available();
    rc = xb_engine_native_memory_check(p, avail, err);
    if (rc) return rc;

    xb_engine_native *e = calloc(1, sizeof *e);
    if (!e) return xb_errorf(err, XB_ERUNTIME, "native: out of memory");
    e->p = *p;
    e->read_circuit = plan != NULL;
    double t0 = xb_now_s();
    /* CHOLMOD when every Jacobian is symmetric positive definite: two-terminal elements
     * with positive differential conductance (1R, 1S1R); KLU for the access transistor. */
    int symmetric = p->cell != XB_CELL_1T1R;
    rc = nv_circuit_build_plan(p, g, symmetric, plan, &e->c, err);
    if (rc) {
        nv_circuit_free(&e->c);
        free(e);
        return rc;
    }
    nv_circuit *c = &e->c;
    e->linear = 1;
    for (size_t k = 0; k < c->n_el; k++)
        if (c->kind[k] != NV_RES) e->linear = 0;
    size_t n = c->n;
    e->fixed = calloc(c->n_fixed, sizeof *e->fixed);
    e->g_chord = malloc((c->n_el ? c->n_el : 1) * sizeof *e->g_chord);
    size_t nn = n ? n : 1;
    e->xt = malloc(nn * sizeof(double));
    e->dx = malloc(nn * sizeof(double));
    e->f = malloc(nn * sizeof(double));
    e->ft = malloc(nn * sizeof(double));
    e->fabs_ = malloc(nn * sizeof(double));
    e->fabst = malloc(nn * sizeof(double));
    e->zero = calloc(nn, sizeof(double));
    if (!e->fixed || !e->g_chord || !e->xt || !e->dx || !e->f || !e->ft || !e->fabs_ || !e->fabst ||
        !e->zero) {
        xb_engine_native_free(e);
        return xb_errorf(err, XB_ERUNTIME, "native: out of memory for %zu unknowns", n);
    }
    if (col_bias && c->n_fixed > 1 + c->rows) /* biased columns' sources (read circuits) */
        memcpy(e->fixed + 1 + c->rows, col_bias, c->cols * sizeof *col_bias);
    /* chord conductances of the first-guess circuit */
    for (size_t k = 0; k < c->n_el; k++) e->g_chord[k] = c->g[k]; /* device G: chord at v_read */
    if (p->cell != XB_CELL_1R)
        for (size_t q = 0; q < p->rows * p->cols; q++)
            if (c->cell_el[q] != SIZE_MAX) chord_cell(e, c->cell_el[q] - 1, c->cell_el[q]);
    if (n > 0) {
        /* exact nested dissection of the grid when every cell has its own line nodes */
        int32_t *perm = malloc(n * sizeof *perm);
        int use_nd = perm && nv_circuit_nd_order(c, p, perm) == 0;
        rc = nv_sparse_new(n, c->Ap, c->Ai, symmetric, use_nd ? perm : NULL, &e->sp, err);
        free(perm);
        /* the symbolic analysis knows the factor's size: refuse before the numeric
         * factorization allocates it (16 bytes per entry, native_memory.c) */
        if (!rc && nv_sparse_factor_nnz(e->sp) * 16.0 > avail)
            rc = xb_errorf(err, XB_ERUNTIME,
                           "native: the factor of a %zux%zu array has %.3g entries (~%.1f GB), only %.1f GB of memory "
                           "are available: use smaller tiles",
                           p->rows, p->cols, nv_sparse_factor_nnz(e->sp), nv_sparse_factor_nnz(e->sp) * 16.0 / 1e9,
                           avail / 1e9);
        if (rc) {
            xb_engine_native_free(e);
            return rc;
        }
        size_t cols = NV_BLOCK_DOUBLES / n;
        e->blk_cols = cols < 1 ? 1 : cols > 256 ? 256 : cols;
    } else {
        e->blk_cols = 256;
    }
    e->st.n_unknowns = n;
    e->st.nnz_matrix = c->nnz;
    e->st.solver = e->sp ? nv_sparse_name(e->sp) : "none";
    e->st.linear = e->linear;
    e->st.t_setup_s = xb_now_s() - t0;
    *out = e;
    return XB_OK;
}

/* Solve the vectors v_rows[0..nk-1] (each of length rows) into the columns of blk (n x nk). */
static int solve_block(xb_engine_native *e, const double *const *v_rows, size_t nk, double *blk,
                       xb_error *err)
{
    size_t n = e->c.n;
    if (n == 0) return XB_OK;
    int rc = factor_linear(e, err);
    if (rc) return rc;
    for (size_t k = 0; k < nk; k++) {
        set_fixed(e, v_rows[k]);
        linear_rhs(e, blk + k * n);
    }
    rc = solve(e, blk, nk, err);
    if (rc || e->linear) return rc;
    for (size_t k = 0; k < nk; k++) {
        set_fixed(e, v_rows[k]);
        rc = newton(e, blk + k * n, err);
        if (rc) return rc;
    }
    return XB_OK;
}

int xb_engine_native_mvm(xb_engine_native *e, const xb_matrix *v, xb_matrix *i_out, xb_error *err)
{
    if (!e || !v || !i_out) return xb_errorf(err, XB_EINPUT, "native: missing argument");
    size_t R = e->c.rows, C = e->c.cols, K = v->rows;
    if (v->cols != R)
        return xb_errorf(err, XB_EINPUT, "input voltages have %zu columns, the array has %zu rows",
                         v->cols, R);
    if (i_out->rows != K || i_out->cols != C)
        return xb_errorf(err, XB_EINPUT, "output matrix is %zux%zu, need %zux%zu", i_out->rows,
                         i_out->cols, K, C);
    for (size_t k = 0; k < K; k++) {
        int rc = check_vector(xb_matrix_row(v, k), R, k, err);
        if (rc) return rc;
    }
    size_t cols = K < e->blk_cols ? K : e->blk_cols;
    if (cols == 0) return XB_OK;
    const double **rows = malloc(cols * sizeof *rows);
    double *blk = malloc((e->c.n ? e->c.n : 1) * cols * sizeof *blk);
    if (!rows || !blk) {
        free(rows);
        free(blk);
        return xb_errorf(err, XB_ERUNTIME, "native: out of memory for %zu right-hand sides", cols);
    }
    int rc = XB_OK;
    for (size_t k0 = 0; k0 < K && rc == XB_OK; k0 += cols) {
        size_t nk = K - k0 < cols ? K - k0 : cols;
        for (size_t k = 0; k < nk; k++) rows[k] = xb_matrix_row(v, k0 + k);
        rc = solve_block(e, rows, nk, blk, err);
        for (size_t k = 0; k < nk && rc == XB_OK; k++) {
            set_fixed(e, rows[k]);
            column_currents(e, blk + k * e->c.n, xb_matrix_row(i_out, k0 + k));
        }
    }
    e->st.vectors += rc == XB_OK ? K : 0;
    free(rows);
    free(blk);
    if (e->sp) nv_sparse_release_workspace(e->sp);
    return rc;
}

int xb_engine_native_cell_voltages(xb_engine_native *e, const double *v_in, double *v_cell,
                                   xb_error *err)
{
    if (!e || !v_in || !v_cell) return xb_errorf(err, XB_EINPUT, "native: missing argument");
    int rc = check_vector(v_in, e->c.rows, 0, err);
    if (rc) return rc;
    double *x = malloc((e->c.n ? e->c.n : 1) * sizeof *x);
    if (!x) return xb_errorf(err, XB_ERUNTIME, "native: out of memory");
    rc = solve_block(e, &v_in, 1, x, err);
    if (rc == XB_OK) {
        set_fixed(e, v_in);
        const nv_circuit *c = &e->c;
        for (size_t q = 0; q < c->rows * c->cols; q++)
            v_cell[q] = node_v(x, e->fixed, c->cell_r[q]) - node_v(x, e->fixed, c->cell_c[q]);
        e->st.vectors++;
    }
    free(x);
    if (e->sp) nv_sparse_release_workspace(e->sp);
    return rc;
}

int nv_engine_solve(xb_engine_native *e, const double *v_rows, double *x, double *fixed_out,
                    xb_error *err)
{
    int rc = solve_block(e, &v_rows, 1, x, err);
    if (rc == XB_OK) {
        set_fixed(e, v_rows);
        if (fixed_out) memcpy(fixed_out, e->fixed, e->c.n_fixed * sizeof *fixed_out);
        e->st.vectors++;
    }
    if (e->sp) nv_sparse_release_workspace(e->sp);
    return rc;
}

const nv_circuit *nv_engine_circuit(const xb_engine_native *e) { return &e->c; }

int xb_engine_native_get_stats(const xb_engine_native *e, xb_engine_native_stats *st)
{
    if (!e || !st) return XB_EINPUT;
    *st = e->st;
    return XB_OK;
}

int xb_engine_mvm_native(const xb_array_params *p, const xb_matrix *g, const xb_matrix *v,
                         xb_matrix *i_out, xb_error *err)
{
    xb_engine_native *e = NULL;
    int rc = xb_engine_native_new(p, g, &e, err);
    if (rc) return rc;
    rc = xb_engine_native_mvm(e, v, i_out, err);
    xb_engine_native_free(e);
    return rc;
}

void xb_engine_native_free(xb_engine_native *e)
{
    if (!e) return;
    nv_sparse_free(e->sp);
    nv_circuit_free(&e->c);
    free(e->g_chord);
    free(e->fixed);
    free(e->xt);
    free(e->dx);
    free(e->f);
    free(e->ft);
    free(e->fabs_);
    free(e->fabst);
    free(e->zero);
    free(e);
}
