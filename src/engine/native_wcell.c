/*
 * The pulsed cell against the rest of the array, and the states through one pulse
 * (native_write.c has the array and the driver).
 *
 * Port: after the full-amplitude solve, the rest of the array is linear around its solution
 * as seen from the pulsed cell: a change dI of the cell's current (row node -> column node)
 * moves every unknown by -dI z, z = J_rest^-1 (e_row - e_col).  The factorized Jacobian J
 * holds the cell itself, whose linearization is the rank-one term (e_row - e_col)(g_r e_row
 * + g_c e_col)^T once its internal node is eliminated, so z = y / (1 - g_r y_row - g_c y_col)
 * with y = J^-1 (e_row - e_col) (Sherman-Morrison): one solve with the factorization Newton
 * left.  With the ramps the levels scale by s(t) in [0, 1]; the rest of the array is taken
 * as scaling with them (exact on its linear part; its nonlinear cells are the half-selected
 * ones, whose current at the ramps' low levels is small).
 *
 * Integration: the pulsed cell's state, the states of the other cells that move at their
 * bias (dx/dt above 1e-13 of the window per pulse), and the sources' energy, through the
 * rising edge, the plateau and the falling edge, each by Dormand-Prince 5(4) with step
 * control on the states (absolute 1e-9 of the state's range, relative 1e-10).  The pulsed
 * cell is solved exactly at every evaluation (device with access transistor or selector,
 * a two-unknown Newton), which carries the compliance of 1T1R and the drops along its lines.
 */
#include "engine/native_write_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NW_STAGES 7

int nw_cell_new(nw_cell *cl, const nw_solver *w)
{
    memset(cl, 0, sizeof *cl);
    const size_t n = w->c.n ? w->c.n : 1, nc = w->nc, dim = (nc + 1) * w->ns + 1;
    cl->z = malloc(n * sizeof *cl->z);
    cl->act = malloc(nc * sizeof *cl->act);
    cl->v0 = malloc(nc * sizeof *cl->v0);
    cl->wv = malloc(nc * sizeof *cl->wv);
    cl->vgc0 = malloc(nc * sizeof *cl->vgc0);
    cl->wg = malloc(nc * sizeof *cl->wg);
    cl->vs0 = malloc(nc * sizeof *cl->vs0);
    cl->ws = malloc(nc * sizeof *cl->ws);
    cl->peak = malloc((nc + 1) * sizeof *cl->peak);
    cl->vd = malloc(nc * sizeof *cl->vd);
    cl->y = malloc(dim * sizeof *cl->y);
    cl->tmp = malloc(dim * sizeof *cl->tmp);
    cl->err = malloc(dim * sizeof *cl->err);
    cl->k = malloc(NW_STAGES * dim * sizeof *cl->k);
    return cl->z && cl->act && cl->v0 && cl->wv && cl->vgc0 && cl->wg && cl->vs0 && cl->ws && cl->peak && cl->vd && cl->y &&
                   cl->tmp && cl->err && cl->k
               ? 0
               : -1;
}

void nw_cell_free(nw_cell *cl)
{
    free(cl->z);
    free(cl->act);
    free(cl->v0);
    free(cl->wv);
    free(cl->vgc0);
    free(cl->wg);
    free(cl->vs0);
    free(cl->ws);
    free(cl->peak);
    free(cl->vd);
    free(cl->y);
    free(cl->tmp);
    free(cl->err);
    free(cl->k);
    memset(cl, 0, sizeof *cl);
}

static double zat(const nw_cell *cl, int32_t id) { return id >= 0 ? cl->z[id] : 0.0; }

/* Element k of the pulsed cell at terminal voltages va, vb, its states x and gate vg. */
static void cell_el(const nw_solver *w, size_t k, double va, double vb, const double *x, double vg, double *i,
                    double *da, double *db)
{
    const nv_circuit *c = &w->c;
    if (w->el_cell[k] >= 0) {
        double d;
        w->m->iv(w->par + (size_t)w->el_cell[k] * w->m->npar, va - vb, x, i, &d);
        *da = d;
        *db = -d;
    } else if (w->ts) { /* 1S1R: the other element is the selector */
        double d;
        nw_ts_iv(&w->tsp, va - vb, x[w->m->nstate], i, &d);
        *da = d;
        *db = -d;
    } else if (c->kind[k] == NV_NMOS) {
        double gm, gds;
        xb_nmos_iv(w->p, vg - vb, va - vb, i, &gm, &gds);
        *da = gds;
        *db = -gm - gds;
    } else {
        double d;
        xb_selector_iv(w->p, va - vb, i, &d);
        *da = d;
        *db = -d;
    }
}

/* d(cell current)/d(row node), d/d(column node) with the internal node eliminated. */
static void cell_conductance(const nw_solver *w, const nw_cell *cl, double *gr, double *gc)
{
    double i, a1, a2, b1, b2;
    const double *x = w->st + cl->sel * w->ns;
    cell_el(w, cl->el_a, cl->vr0, cl->nm >= 0 ? cl->vm0 : cl->vc0, x, cl->vg, &i, &a1, &a2);
    if (cl->nm < 0) {
        *gr = a1;
        *gc = a2;
        return;
    }
    cell_el(w, cl->el_b, cl->vm0, cl->vc0, x, cl->vg, &i, &b1, &b2);
    double den = b1 - a2;
    *gr = den != 0 ? a1 * b1 / den : 0;
    *gc = den != 0 ? -a2 * b2 / den : 0;
}

/* The pulsed cell's nodes, its full-amplitude solution and the response z. */
static int port(nw_solver *w, nw_cell *cl, const xb_engine_wpulse *q, xb_error *err)
{
    const nv_circuit *c = &w->c;
    const size_t n = c->n;
    cl->sel = q->row * w->C + q->col;
    cl->el_a = w->p->cell == XB_CELL_1R ? w->dev_el[cl->sel] : c->cell_el[cl->sel] - 1;
    cl->el_b = c->cell_el[cl->sel];
    cl->nr = c->na[cl->el_a];
    cl->nc_ = c->nb[cl->el_b];
    cl->nm = w->p->cell == XB_CELL_1R ? -1 : c->nb[cl->el_a];
    cl->vr0 = nw_node(w, w->x, cl->nr);
    cl->vc0 = nw_node(w, w->x, cl->nc_);
    cl->vm0 = cl->nm >= 0 ? w->x[cl->nm] : 0;
    cl->vg = w->gate_row[q->row];
    double da, db;
    nw_el_iv(w, w->x, cl->el_a, &cl->i0, &da, &db);
    cl->vm = 0;
    cl->ic = 0;
    memset(cl->z, 0, n * sizeof *cl->z);
    if (cl->nr >= 0) cl->z[cl->nr] += 1;
    if (cl->nc_ >= 0) cl->z[cl->nc_] -= 1;
    int rc = nv_sparse_solve(w->sp, cl->z, 1, err);
    if (rc) return rc;
    double gr, gc;
    cell_conductance(w, cl, &gr, &gc);
    double den = 1 - gr * zat(cl, cl->nr) - gc * zat(cl, cl->nc_);
    if (!(fabs(den) > 1e-300)) return xb_errorf(err, XB_ERUNTIME, "native write: singular port of cell %zu", cl->sel);
    for (size_t k = 0; k < n; k++) cl->z[k] /= den;
    cl->zr = zat(cl, cl->nr);
    cl->zc = zat(cl, cl->nc_);
    return XB_OK;
}

/* Source power at full amplitude and its change per ampere of the pulsed cell's current. */
static void power(const nw_solver *w, nw_cell *cl)
{
    const nv_circuit *c = &w->c;
    double p0 = 0, dq = 0;
    for (size_t k = 0; k < c->n_el; k++) {
        const int32_t a = c->na[k], b = c->nb[k];
        if (c->kind[k] == NV_CAP || (a >= 0 && b >= 0)) continue;
        double i, da, db;
        nw_el_iv(w, w->x, k, &i, &da, &db);
        double sa = a < 0 ? w->fixed[-1 - a] : 0, sb = b < 0 ? w->fixed[-1 - b] : 0;
        p0 += (sa - sb) * i;
        if (k == cl->el_a || k == cl->el_b) dq += sa - sb; /* the cell's own current */
        else dq -= (sa - sb) * (da * zat(cl, a) + db * zat(cl, b));
    }
    if (w->m->gated)
        for (size_t q = 0; q < w->nc; q++) {
            double ig, dg, vgc;
            nw_gate_iv(w, w->x, q, &ig, &dg, &vgc);
            p0 += w->gate_row[q / w->C] * ig;
        }
    cl->p0 = p0;
    cl->q = dq;
}

/* Rates of cell q's states, each held inside its limits (the integrators' output limits): the
 * device's at its voltage v, current i and gate-to-channel voltage vgc, the ts selector's at
 * its voltage vs. */
static void rate_at(const nw_solver *w, size_t q, double v, double i, double vgc, double vs, const double *x,
                    double *dx)
{
    const size_t ns = w->ns;
    w->m->rate(w->par + q * w->m->npar, v, i, vgc, x, w->nz[q], dx);
    if (w->ts) dx[w->m->nstate] = nw_ts_rate(&w->tsp, vs, x[w->m->nstate]);
    for (size_t s = 0; s < ns; s++)
        if ((x[s] <= w->lo[q * ns + s] && dx[s] < 0) || (x[s] >= w->hi[q * ns + s] && dx[s] > 0)) dx[s] = 0;
}

/* The other cells whose states move at their full-amplitude bias. */
static void find_active(const nw_solver *w, nw_cell *cl, double t_slot)
{
    const nv_circuit *c = &w->c;
    const size_t ns = w->ns, nd = w->m->nstate;
    double dx[NW_MAX_STATES];
    cl->n_act = 0;
    for (size_t q = 0; q < w->nc; q++) {
        if (q == cl->sel) continue;
        const size_t k = w->dev_el[q];
        const int32_t a = c->na[k], b = c->nb[k];
        const double *x = w->st + q * ns;
        double va = nw_node(w, w->x, a), vb = nw_node(w, w->x, b), v0 = va - vb, vgc0 = 0, vs0 = 0, ws = 0, i, d;
        if (w->m->gated) vgc0 = w->gate_row[q / w->C] - 0.5 * (va + vb);
        if (w->ts) { /* the selector: row -> the device's a node */
            const size_t ks = k - 1;
            vs0 = nw_node(w, w->x, c->na[ks]) - va;
            ws = zat(cl, c->na[ks]) - zat(cl, b);
        }
        int moves = 0, decays = 1;
        for (int m = 0; m < 2 && !(moves & 1); m++) { /* at the bias and 2 % beyond it */
            double f = m ? 1.02 : 1.0;
            w->m->iv(w->par + q * w->m->npar, f * v0, x, &i, &d);
            w->m->rate(w->par + q * w->m->npar, f * v0, i, f * vgc0, x, w->nz[q], dx);
            for (size_t s = 0; s < nd; s++)
                if (fabs(dx[s]) * t_slot > 1e-13 * (w->hi[q * ns + s] - w->lo[q * ns + s])) moves = 1;
            if (w->ts) { /* a selector that only relaxes (not switching, its on-branch current
                          * below I_hold: ds/dt = -s / toff, at any lower level too) follows the
                          * closed form with the cells not integrated (relax_to) */
                double on, off;
                nw_ts_terms(&w->tsp, f * vs0, x[nd], &on, &off);
                const double thr = 1e-13 * (NW_TS_HI - NW_TS_LO);
                if (!(on == 0 && off == 1)) decays = 0;
                /* moving, or held by its bias where it would relax at 0 V */
                if (fabs(nw_ts_rate(&w->tsp, f * vs0, x[nd])) * t_slot > thr ||
                    (!decays && fabs(x[nd]) / w->tsp.toff * t_slot > thr))
                    moves |= 2;
            }
        }
        if (moves == 2 && decays) moves = 0;
        if (!moves) continue;
        size_t u = cl->n_act++;
        cl->act[u] = q;
        cl->v0[u] = v0;
        cl->wv[u] = zat(cl, a) - zat(cl, b);
        cl->vgc0[u] = vgc0;
        cl->wg[u] = 0.5 * (zat(cl, a) + zat(cl, b));
        if (w->ts) { /* the whole cell row -> column, split by its own solve (ts_split) */
            cl->vs0[u] = vs0 + v0;
            cl->ws[u] = ws;
            cl->vd[u] = v0;
        }
    }
}

/* 1R: v + Z i(v) = a0, monotone in v: Newton kept inside [min(0,a0), max(0,a0)]. */
static int solve_one(nw_solver *w, nw_cell *cl, double s, const double *x, double *i_out, double *v_out)
{
    const double zz = cl->zr - cl->zc, a0 = s * (cl->vr0 - cl->vc0 + cl->i0 * zz);
    double lo = fmin(0, a0), hi = fmax(0, a0), v = fmin(fmax(cl->vm, lo), hi), i = 0, d, db;
    for (int it = 0; it < 200; it++) {
        cell_el(w, cl->el_a, v, 0, x, 0, &i, &d, &db);
        double h = v + zz * i - a0;
        if (h > 0) hi = v;
        else lo = v;
        double dv = -h / (1 + zz * d), vn = v + dv;
        if (!(vn > lo && vn < hi)) vn = 0.5 * (lo + hi);
        if (fabs(vn - v) <= 1e-15 + 1e-13 * fabs(v) || hi - lo <= 1e-15) {
            v = vn;
            cell_el(w, cl->el_a, v, 0, x, 0, &i, &d, &db);
            cl->vm = v;
            *i_out = i;
            *v_out = v;
            return XB_OK;
        }
        v = vn;
    }
    return XB_ERUNTIME;
}

/* Two elements row -> m -> column: Newton on (v_m, I) with the lines' response; *v_out the
 * device's voltage, *vs_out the row-side element's (1S1R: the selector's). */
static int solve_two(nw_solver *w, nw_cell *cl, double s, const double *x, double *i_out, double *v_out,
                     double *vs_out)
{
    const double vg = s * cl->vg;
    double vm = cl->vm, ic = cl->ic;
    for (int it = 0; it < 200; it++) {
        double di = ic - s * cl->i0, vr = s * cl->vr0 - di * cl->zr, vc = s * cl->vc0 - di * cl->zc;
        double ia, a1, a2, ib, b1, b2;
        cell_el(w, cl->el_a, vr, vm, x, vg, &ia, &a1, &a2);
        cell_el(w, cl->el_b, vm, vc, x, vg, &ib, &b1, &b2);
        double f1 = ia - ic, f2 = ib - ic;
        double j11 = a2, j12 = -a1 * cl->zr - 1, j21 = b1, j22 = -b2 * cl->zc - 1;
        double det = j11 * j22 - j12 * j21;
        if (!(fabs(det) > 0)) return XB_ERUNTIME;
        double dvm = -(f1 * j22 - f2 * j12) / det, dic = -(j11 * f2 - j21 * f1) / det;
        double sc = fabs(dvm) > 0.1 ? 0.1 / fabs(dvm) : 1;
        vm += sc * dvm;
        ic += sc * dic;
        if (sc == 1 && fabs(dvm) <= 1e-14 + 1e-12 * fabs(vm) && fabs(dic) <= 1e-18 + 1e-11 * fabs(ic)) {
            di = ic - s * cl->i0;
            vr = s * cl->vr0 - di * cl->zr;
            vc = s * cl->vc0 - di * cl->zc;
            cl->vm = vm;
            cl->ic = ic;
            *i_out = ic;
            *v_out = w->el_cell[cl->el_a] >= 0 ? vr - vm : vm - vc;
            *vs_out = vr - vm;
            return XB_OK;
        }
    }
    return XB_ERUNTIME;
}

/* A 1S1R cell q with its states x at voltage vt across it (row -> column): the device's
 * voltage vd where the selector's current equals the device's (both monotone in their
 * voltage: Newton kept inside [min(0,vt), max(0,vt)]), from *vd as the start; its current in
 * *i.  An active cell's selector may switch on during the pulse (one that had not relaxed
 * below its latch), which moves the split. */
static void ts_split(const nw_solver *w, size_t q, double vt, const double *x, double *vd, double *i)
{
    const double *par = w->par + q * w->m->npar, sx = x[w->m->nstate];
    double lo = fmin(0, vt), hi = fmax(0, vt), v = fmin(fmax(*vd, lo), hi), id = 0, dd, is, ds;
    for (int it = 0; it < 200; it++) {
        w->m->iv(par, v, x, &id, &dd);
        nw_ts_iv(&w->tsp, vt - v, sx, &is, &ds);
        double h = id - is;
        if (h > 0) hi = v;
        else lo = v;
        double vn = v - h / (dd + ds);
        if (!(vn > lo && vn < hi)) vn = 0.5 * (lo + hi);
        const int done = fabs(vn - v) <= 1e-15 + 1e-13 * fabs(v) || hi - lo <= 1e-15;
        v = vn;
        if (done) break;
    }
    w->m->iv(par, v, x, &id, &dd);
    *vd = v;
    *i = id;
}

/* Right-hand side at level s: y = [pulsed cell's states, each active cell's states..., energy]. */
static int rhs(nw_solver *w, nw_cell *cl, double s, const double *y, double *dy)
{
    const size_t ns = w->ns;
    double i, v, vs = 0;
    w->n_rhs++;
    int rc = cl->nm < 0 ? solve_one(w, cl, s, y, &i, &v) : solve_two(w, cl, s, y, &i, &v, &vs);
    if (rc) return rc;
    const double di = i - s * cl->i0;
    double vgc = 0;
    if (w->m->gated)
        vgc = s * cl->vg - 0.5 * (s * cl->vr0 - di * cl->zr + s * cl->vc0 - di * cl->zc);
    rate_at(w, cl->sel, v, i, vgc, vs, y, dy);
    for (size_t u = 0; u < cl->n_act; u++) {
        const size_t q = cl->act[u];
        const double *x = y + ns * (1 + u);
        double va = s * cl->v0[u] - di * cl->wv[u], ia, d, vsu = 0;
        if (w->ts) {
            const double vt = s * cl->vs0[u] - di * cl->ws[u];
            ts_split(w, q, vt, x, &cl->vd[u], &ia);
            va = cl->vd[u];
            vsu = vt - va;
        } else {
            w->m->iv(w->par + q * w->m->npar, va, x, &ia, &d);
        }
        rate_at(w, q, va, ia, s * cl->vgc0[u] + di * cl->wg[u], vsu, x, dy + ns * (1 + u));
    }
    dy[ns * (1 + cl->n_act)] = s * s * cl->p0 + s * cl->q * di;
    return XB_OK;
}

/* Dormand-Prince 5(4) tableau. */
static const double k_c[NW_STAGES] = {0, 0.2, 0.3, 0.8, 8.0 / 9, 1, 1};
static const double k_a[NW_STAGES][6] = {
    {0},
    {0.2},
    {3.0 / 40, 9.0 / 40},
    {44.0 / 45, -56.0 / 15, 32.0 / 9},
    {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729},
    {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656},
    {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84}};
static const double k_e[NW_STAGES] = {71.0 / 57600, 0, -71.0 / 16695, 71.0 / 1920, -17253.0 / 339200, 22.0 / 525,
                                      -1.0 / 40};

/* Level of phase ph (0 rising, 1 plateau, 2 falling, 3 the gap at 0 V) at time tau into it of
 * length len. */
static double level(int ph, double tau, double len)
{
    double u = fmin(fmax(tau / len, 0), 1);
    return ph == 0 ? u : ph == 1 ? 1 : ph == 2 ? 1 - u : 0;
}

/* The cell of state entry u of y (0: the pulsed cell). */
static size_t entry_cell(const nw_solver *w, const nw_cell *cl, size_t u)
{
    const size_t c = u / w->ns;
    return c == 0 ? cl->sel : cl->act[c - 1];
}

/* Clamp the states into their limits (the integrators' output limits). */
static void clamp_states(const nw_solver *w, const nw_cell *cl, double *y)
{
    const size_t ns = w->ns, n = ns * (1 + cl->n_act);
    for (size_t u = 0; u < n; u++) {
        const size_t e = entry_cell(w, cl, u) * ns + u % ns;
        y[u] = fmin(fmax(y[u], w->lo[e]), w->hi[e]);
    }
}

/* Error of a trial step relative to the tolerance (states only). */
static double step_error(const nw_solver *w, const nw_cell *cl, const double *y0, const double *y1, size_t dim)
{
    const size_t ns = w->ns;
    double e = 0;
    for (size_t u = 0; u + 1 < dim; u++) {
        const size_t q = entry_cell(w, cl, u) * ns + u % ns;
        double tol = 1e-9 * (w->hi[q] - w->lo[q]) + 1e-10 * fmax(fabs(y0[u]), fabs(y1[u]));
        e = fmax(e, fabs(cl->err[u]) / tol);
    }
    return e;
}

/* The highest selector state of every integrated cell so far (ts). */
static void track_peak(const nw_solver *w, nw_cell *cl)
{
    if (!w->ts) return;
    for (size_t u = 0; u <= cl->n_act; u++) cl->peak[u] = fmax(cl->peak[u], cl->y[u * w->ns + w->m->nstate]);
}

static int integrate_phase(nw_solver *w, nw_cell *cl, int ph, double len, xb_error *err)
{
    const size_t dim = w->ns * (1 + cl->n_act) + 1;
    double *k = cl->k, tau = 0, h = len / 16;
    int rc = rhs(w, cl, level(ph, 0, len), cl->y, k);
    for (int steps = 0; !rc && tau < len; steps++) {
        if (steps > 2000000) return xb_errorf(err, XB_ERUNTIME, "native write: over 2e6 steps in one pulse");
        h = fmin(h, len - tau);
        for (int st = 1; !rc && st < NW_STAGES; st++) {
            for (size_t u = 0; u < dim; u++) {
                double acc = cl->y[u];
                for (int j = 0; j < st; j++) acc += h * k_a[st][j] * k[j * dim + u];
                cl->tmp[u] = acc;
            }
            clamp_states(w, cl, cl->tmp);
            rc = rhs(w, cl, level(ph, tau + k_c[st] * h, len), cl->tmp, k + st * dim);
        }
        if (rc) break;
        for (size_t u = 0; u < dim; u++) {
            double e = 0;
            for (int j = 0; j < NW_STAGES; j++) e += k_e[j] * k[j * dim + u];
            cl->err[u] = h * e;
        }
        double e = step_error(w, cl, cl->y, cl->tmp, dim);
        if (e <= 1 || h <= len * 1e-12) {
            tau += h;
            memcpy(cl->y, cl->tmp, dim * sizeof *cl->y);
            track_peak(w, cl);
            memcpy(k, k + (NW_STAGES - 1) * dim, dim * sizeof *k); /* first same as last */
        }
        h *= fmin(5, fmax(0.2, 0.9 * pow(e > 0 ? e : 1e-10, -0.2)));
        h = fmin(h, len / 4);
    }
    if (rc)
        return xb_errorf(err, XB_ERUNTIME, "native write: no operating point of the pulsed cell (%zu,%zu)",
                         cl->sel / w->C + 1, cl->sel % w->C + 1);
    return XB_OK;
}

int nw_pulse(nw_solver *w, const xb_engine_wpulse *q, double edge_s, double gap_s, double *e_joule, xb_error *err)
{
    nw_cell *cl = &w->cell;
    int rc = port(w, cl, q, err);
    if (rc) return rc;
    power(w, cl);
    find_active(w, cl, 2 * edge_s + q->width_s);
    const size_t ns = w->ns;
    memcpy(cl->y, w->st + cl->sel * ns, ns * sizeof *cl->y);
    for (size_t u = 0; u < cl->n_act; u++) memcpy(cl->y + ns * (1 + u), w->st + cl->act[u] * ns, ns * sizeof *cl->y);
    cl->y[ns * (1 + cl->n_act)] = 0;
    for (size_t u = 0; w->ts && u <= cl->n_act; u++) cl->peak[u] = cl->y[u * ns + w->m->nstate];
    /* a model whose states move at 0 V (PCM: the crystallization goes on while the thermal
     * node cools, ~1 ns; the ts selector relaxes within ~t_off) is integrated through the gap too */
    const double len[4] = {edge_s, q->width_s, edge_s, gap_s};
    const int phases = (w->m->relax || w->ts) && gap_s > 0 ? 4 : 3;
    for (int ph = 0; !rc && ph < phases; ph++) rc = integrate_phase(w, cl, ph, len[ph], err);
    if (rc) return rc;
    memcpy(w->st + cl->sel * ns, cl->y, ns * sizeof *cl->y);
    for (size_t u = 0; u < cl->n_act; u++) memcpy(w->st + cl->act[u] * ns, cl->y + ns * (1 + u), ns * sizeof *cl->y);
    *e_joule = cl->y[ns * (1 + cl->n_act)];
    return XB_OK;
}
