/* The ngspice solver of array programming rounds (xb_write_solver_spice): the netlist
 * stage's dynamic array with driven columns (xb_netlist_dynamic_new_opts), one PWL source per
 * row, column and gate line carrying the scheme's levels during every pulse slot, one
 * transient per run of at most chunk_pulses pulses (states carried from run to run).  A
 * native time-stepping solver replaces this file's entry point; the slot timing, the line
 * levels and the energy definition below are the contract (characterize.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "characterize/char_internal.h"
#include "xbar/characterize.h"

void xb_char_write_levels(const xb_array_params *p, xb_write_scheme scheme, const xb_write_pulse *q,
                          xb_char_wlevels *l)
{
    const int gated = xb_device_info_get(p->device)->dyn_gated;
    const double a_row = scheme == XB_WRITE_V3 ? 1.0 / 3 : 0.5;
    const double a_col = scheme == XB_WRITE_V3 ? 2.0 / 3 : 0.5;
    const double v = q->v_volt;
    l->row_sel = gated ? 0.0 : v;
    l->row_other = gated ? 0.0 : a_row * v;
    l->col_sel = 0.0;
    l->col_other = (gated ? 2.0 : 1.0) * a_col * v;
    l->gate_sel = gated ? v : p->cell == XB_CELL_1T1R ? q->gate_volt : 0.0;
    /* 1T1R: the other rows' access gates at the pulse's lowest line level (0 V for a positive
     * pulse, V for a negative one), so that their transistors stay off in both polarities: at
     * 0 V the negative lines of a RESET (V/3 and 2V/3 below ground) would put every unselected
     * transistor on those columns 2|V|/3 above its threshold */
    l->gate_other = gated ? a_row * v : p->cell == XB_CELL_1T1R ? fmin(0.0, v) : 0.0;
}

/* Level of the line driven by source `name` during pulse q (characterize.h: the schemes). */
static double line_level(const xb_write_round *in, const xb_write_pulse *q, const char *name, int gated)
{
    (void)gated;
    xb_char_wlevels l;
    xb_char_write_levels(in->p, in->scheme, q, &l);
    size_t k = (size_t)strtoul(name + 2, NULL, 10);
    if (strncmp(name, "in", 2) == 0) return k == q->row ? l.row_sel : l.row_other;
    if (strncmp(name, "cl", 2) == 0) return k == q->col ? l.col_sel : l.col_other;
    if (strncmp(name, "gl", 2) == 0) return k == q->row ? l.gate_sel : l.gate_other;
    return 0.0;
}

/* Slot start times of the pulses [from, to) of a round: t0 idle, then per pulse
 * edge + width + edge + gap.  t has to - from + 1 entries (the last: the end). */
static void slot_times(const xb_write_round *in, size_t from, size_t to, double t0, double *t)
{
    t[0] = t0;
    for (size_t k = from; k < to; k++)
        t[k - from + 1] = t[k - from] + 2 * in->edge_s + in->pulses[k].width_s + in->gap_s;
}

/* Value of a PWL (pairs t, v; n points) at time x, linear between points. */
static double pwl_at(const double *pts, size_t n, double x)
{
    if (x <= pts[0]) return pts[1];
    for (size_t k = 1; k < n; k++)
        if (x <= pts[2 * k]) {
            double t0 = pts[2 * k - 2], t1 = pts[2 * k];
            return t1 > t0 ? pts[2 * k - 1] + (pts[2 * k + 1] - pts[2 * k - 1]) * (x - t0) / (t1 - t0) : pts[2 * k + 1];
        }
    return pts[2 * n - 1];
}

/* Value of vector y at time x (linear between samples; tv increasing). */
static double vec_at(const double *tv, const double *y, size_t n, double x)
{
    size_t lo = 0, hi = n - 1;
    if (x <= tv[0]) return y[0];
    if (x >= tv[hi]) return y[hi];
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (tv[mid] <= x) lo = mid;
        else hi = mid;
    }
    return tv[hi] > tv[lo] ? y[lo] + (y[hi] - y[lo]) * (x - tv[lo]) / (tv[hi] - tv[lo]) : y[hi];
}

typedef struct {
    size_t n_src;
    const xb_netlist_source *src;
    double **pts; /* per source: PWL points */
    size_t *npts;
} drive;

static void drive_free(drive *d)
{
    for (size_t s = 0; d->pts && s < d->n_src; s++) free(d->pts[s]);
    free(d->pts);
    free(d->npts);
}

/* The PWL of every source for pulses [from, to) with slot starts t. */
static int drive_build(drive *d, const xb_write_round *in, const xb_netlist *nl, size_t from, size_t to,
                       const double *t, int gated)
{
    d->n_src = xb_netlist_n_sources(nl);
    d->src = xb_netlist_sources(nl);
    d->pts = calloc(d->n_src, sizeof *d->pts);
    d->npts = calloc(d->n_src, sizeof *d->npts);
    if (!d->pts || !d->npts) return -1;
    const double e = in->edge_s;
    for (size_t s = 0; s < d->n_src; s++) {
        double *q = malloc((2 + 8 * (to - from) + 2) * sizeof *q);
        if (!q) return -1;
        size_t m = 0;
        q[m++] = 0;
        q[m++] = 0;
        for (size_t k = from; k < to; k++) {
            double lv = line_level(in, &in->pulses[k], d->src[s].name, gated);
            if (lv == 0) continue;
            double ts = t[k - from], w = in->pulses[k].width_s;
            const double c[8] = {ts, 0, ts + e, lv, ts + e + w, lv, ts + 2 * e + w, 0};
            for (int i = 0; i < 8; i += 2)
                if (c[i] > q[m - 2]) { q[m++] = c[i]; q[m++] = c[i + 1]; }
        }
        q[m++] = t[to - from];
        q[m++] = 0;
        d->pts[s] = q;
        d->npts[s] = m / 2;
    }
    return 0;
}

/* The deck of one run: title, body, sources, options, solver setting, .save, .tran. */
static char *run_deck(const xb_engine_opts *eo, const xb_netlist *nl, const drive *d, const char *solver,
                      double t_stop, double tmax, char **names, size_t n_names)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    fprintf(f, "xbar program: array programming round\n%s", xb_netlist_body(nl));
    for (size_t s = 0; s < d->n_src; s++) {
        fprintf(f, "V%s %s %s PWL(", d->src[s].name, d->src[s].node_pos, d->src[s].node_neg);
        for (size_t k = 0; k < d->npts[s]; k++)
            fprintf(f, "%s%.17g %.17g", k == 0 ? "" : (k % 4 == 0 ? "\n+ " : " "), d->pts[s][2 * k], d->pts[s][2 * k + 1]);
        fputs(")\n", f);
    }
    /* dynamic models: ngspice-like tolerances, as the campaign programming runs */
    xb_engine_opts to = *eo;
    if (to.reltol < 1e-4) to.reltol = 1e-4;
    if (to.abstol_amp < 1e-12) to.abstol_amp = 1e-12;
    if (to.vntol_volt < 1e-6) to.vntol_volt = 1e-6;
    char *opt = xb_engine_options_card(&to);
    if (opt) fputs(opt, f);
    free(opt);
    fputs(solver, f);
    /* keep only the vectors read back (ngspice stores every node otherwise) */
    fputs(".save", f);
    for (size_t k = 0; k < n_names; k++) fprintf(f, "%s%s", k % 8 == 7 ? "\n+ " : " ", names[k]);
    fprintf(f, "\n.tran %.17g %.17g 0 %.17g\n.end\n", tmax / 4, t_stop, tmax);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Solver settings tried in turn when ngspice stops (the campaign programming ladder,
 * docs/physics.md "ngspice 39 numerics"). */
static const char *const k_ladder[] = {
    "",
    ".options method=gear rshunt=1e12\n",
    ".options method=trap rshunt=1e10\n",
    ".options method=gear rshunt=1e10 reltol=1e-3\n",
};

/* One run: pulses [from, to) from states st (updated to the run's end). */
static int solve_run(const xb_engine_opts *eo, const xb_write_round *in, size_t from, size_t to, double *st,
                     xb_write_round_out *out, xb_error *err)
{
    const xb_array_params *p = in->p;
    const xb_device_info *di = xb_device_info_get(p->device);
    const size_t nc = p->rows * p->cols;
    xb_matrix sm = {p->rows, p->cols, st}, zm = {p->rows, p->cols, (double *)in->noise};
    xb_netlist_dyn_opts dopt = {in->noise ? &zm : NULL, 1};
    xb_netlist *nl = NULL;
    int rc = xb_netlist_dynamic_new_opts(p, &sm, &dopt, &nl, err);
    if (rc) return rc;
    const size_t np = to - from;
    double *t = malloc((np + 1) * sizeof *t);
    drive d = {0};
    char **names = NULL;
    size_t n_names = 0;
    xb_engine_result *res = NULL;
    if (!t) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    if (!rc) {
        slot_times(in, from, to, 2e-9, t);
        if (drive_build(&d, in, nl, from, to, t, di->dyn_gated)) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    /* vectors: the states (the netlist's outputs) and the current of every source */
    const size_t n_out = xb_netlist_n_outputs(nl);
    if (!rc) {
        names = calloc(n_out + d.n_src + 1, sizeof *names);
        if (!names) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
        for (size_t k = 0; !rc && k < n_out; k++) names[n_names++] = strdup(xb_netlist_outputs(nl)[k]);
        for (size_t s = 0; !rc && s < d.n_src; s++) {
            char q[96];
            snprintf(q, sizeof q, "i(v%s)", d.src[s].name);
            names[n_names++] = strdup(q);
        }
        for (size_t k = 0; !rc && k < n_names; k++)
            if (!names[k]) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    double wmin = 1;
    for (size_t k = from; k < to; k++) wmin = fmin(wmin, in->pulses[k].width_s);
    /* at most a tenth of a pulse (or one edge) per time step: the XSPICE integrators of the
     * states then land within ~0.7 % of each pulse's state change (ECRAM against its
     * integrated step law, tests/test_write.c; 0.2 % at a tenth of that step for 2.6x the
     * time), well below the 30 % cycle-to-cycle spread of a step */
    const double tmax = in->tmax_s > 0 ? in->tmax_s : fmin(wmin / 10, in->edge_s);
    char *deck = NULL;
    for (size_t a = 0; !rc && a < sizeof k_ladder / sizeof k_ladder[0]; a++) {
        free(deck);
        deck = run_deck(eo, nl, &d, k_ladder[a], t[np], tmax, names, n_names);
        if (!deck) { rc = xb_errorf(err, XB_ERUNTIME, "out of memory"); break; }
        xb_engine_result_free(res);
        res = NULL;
        rc = xb_engine_run(eo, deck, 0, NULL, &res, err);
        if (rc) break;
        if (xb_engine_result_status(res) == XB_OK) break;
        rc = xb_errorf(err, xb_engine_result_status(res), "ngspice: %s", xb_engine_result_error(res));
        if (a + 1 < sizeof k_ladder / sizeof k_ladder[0]) rc = XB_OK, xb_error_clear(err);
        else break;
        xb_engine_result_free(res);
        res = NULL;
    }
    if (!rc && !res) rc = xb_errorf(err, XB_ERUNTIME, "program: no ngspice result");
    size_t nt = 0;
    const double *tv = rc ? NULL : xb_char_result_vec(res, "time", &nt);
    if (!rc && (!tv || nt < 2)) rc = xb_errorf(err, XB_ERUNTIME, "program: no time vector in the ngspice result");
    const double **vec = rc ? NULL : calloc(n_names, sizeof *vec);
    if (!rc && !vec) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    for (size_t k = 0; !rc && k < n_names; k++) {
        size_t l = 0;
        vec[k] = xb_char_result_vec(res, names[k], &l);
        if (!vec[k] || l != nt) rc = xb_errorf(err, XB_ERUNTIME, "program: vector %s missing in the result", names[k]);
    }
    if (!rc) {
        for (size_t k = from; k < to; k++) {
            const xb_write_pulse *q = &in->pulses[k];
            const size_t cell = q->row * p->cols + q->col;
            const double ta = t[k - from], tb = t[k - from + 1];
            out->state_before[k] = vec_at(tv, vec[cell], nt, ta);
            out->state_after[k] = vec_at(tv, vec[cell], nt, tb);
            /* energy: every source's V I over the slot, trapezoids between ngspice's time
             * points (the PWL corners are among them) */
            double e = 0;
            for (size_t s = 0; s < d.n_src; s++) {
                const double *iv = vec[n_out + s];
                double prev_t = ta, prev_p = -pwl_at(d.pts[s], d.npts[s], ta) * vec_at(tv, iv, nt, ta);
                for (size_t u = 0; u < nt; u++) {
                    if (tv[u] <= ta) continue;
                    double tt = tv[u] < tb ? tv[u] : tb;
                    double pw = -pwl_at(d.pts[s], d.npts[s], tt) * (tv[u] < tb ? iv[u] : vec_at(tv, iv, nt, tb));
                    e += 0.5 * (pw + prev_p) * (tt - prev_t);
                    prev_t = tt;
                    prev_p = pw;
                    if (tv[u] >= tb) break;
                }
            }
            out->e_joule[k] = e;
        }
        for (size_t c = 0; c < nc; c++) st[c] = vec[c][nt - 1];
        out->t_sim_s += t[np];
        if (!out->deck) {
            out->deck = deck;
            deck = NULL;
        }
    }
    free(vec);
    free(deck);
    xb_engine_result_free(res);
    for (size_t k = 0; names && k < n_names; k++) free(names[k]);
    free(names);
    drive_free(&d);
    free(t);
    xb_netlist_free(nl);
    return rc;
}

static int spice_solve(const xb_write_solver *s, const xb_engine_opts *eo, const xb_write_round *in,
                       xb_write_round_out *out, xb_error *err)
{
    (void)s;
    const xb_array_params *p = in->p;
    const size_t nc = p->rows * p->cols;
    double *st = malloc(nc * sizeof *st);
    if (!st) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    memcpy(st, in->state, nc * sizeof *st);
    out->t_sim_s = 0;
    const size_t chunk = in->chunk_pulses ? in->chunk_pulses : 256;
    int rc = XB_OK;
    for (size_t from = 0; !rc && from < in->n_pulses; from += chunk) {
        size_t to = from + chunk < in->n_pulses ? from + chunk : in->n_pulses;
        rc = solve_run(eo, in, from, to, st, out, err);
    }
    if (!rc) memcpy(out->state_end, st, nc * sizeof *st);
    free(st);
    return rc;
}

const xb_write_solver xb_write_solver_spice = {"spice", spice_solve};
