/* Single-device test circuits: the I-V decks of `xbar iv` and the programming circuit of a
 * campaign point, from the device table's recipes (src/netlist/device_table.c).  Every number
 * is written with %.17g, except the PWL text of a recipe that the table keeps as SPICE text
 * (xb_iv_recipe); the device models are copied in unless p->include_models. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netlist/netlist_internal.h"

void xb_netlist_deck_free(xb_netlist_deck *d)
{
    if (!d) return;
    for (size_t k = 0; k < d->n_vectors; k++) {
        if (d->vectors) free(d->vectors[k]);
        if (d->labels) free(d->labels[k]);
    }
    free(d->vectors);
    free(d->labels);
    free(d->text);
    memset(d, 0, sizeof *d);
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static int deck_add(xb_netlist_deck *d, const char *vector, const char *label)
{
    char **v = realloc(d->vectors, (d->n_vectors + 1) * sizeof *v);
    if (!v) return -1;
    d->vectors = v;
    char **l = realloc(d->labels, (d->n_vectors + 1) * sizeof *l);
    if (!l) return -1;
    d->labels = l;
    v[d->n_vectors] = xstrdup(vector);
    l[d->n_vectors] = xstrdup(label);
    d->n_vectors++;
    return v[d->n_vectors - 1] && l[d->n_vectors - 1] ? 0 : -1;
}

static int models_of(FILE *f, const xb_array_params *p, const char *lib, const char *subckt, xb_error *err)
{
    if (!lib || !subckt) return XB_OK;
    xb_model_ref m = {lib, subckt};
    return xb_netlist_write_models(f, p->include_models, &m, 1, err);
}

/* Close the memstream (which sets *buf) into d->text; on any failure free everything. */
static int deck_finish(FILE *f, char **buf, int rc, xb_netlist_deck *d, xb_error *err)
{
    if (fclose(f) != 0 && !rc) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    if (rc) {
        free(*buf);
        xb_netlist_deck_free(d);
        return rc;
    }
    d->text = *buf;
    return XB_OK;
}

int xb_netlist_iv_read_deck(const xb_array_params *p, size_t states, double v_max_volt, size_t points,
                            xb_netlist_deck *out, xb_error *err)
{
    memset(out, 0, sizeof *out);
    const xb_device_info *di = xb_device_info_get(p->device);
    if (!di) return xb_errorf(err, XB_EINPUT, "--device: unknown device");
    if (states < 1 || points < 2 || !(v_max_volt > 0))
        return xb_errorf(err, XB_EINPUT, "iv read: need states >= 1, points >= 2, v_max > 0");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    fprintf(f, "xbar iv read %s\n", di->name);
    int rc = models_of(f, p, di->lib, di->read_subckt, err);
    if (!rc) {
        fprintf(f, "V1 a 0 DC 0\n");
        if (deck_add(out, "v(a)", "v_volt")) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    for (size_t s = 0; !rc && s < states; s++) {
        double g = states == 1 ? p->g_max_siemens
                               : p->g_min_siemens * pow(p->g_max_siemens / p->g_min_siemens, (double)s / (double)(states - 1));
        fprintf(f, "Va%zu a n%zu DC 0\n", s, s);
        if (!di->read_subckt)
            fprintf(f, "R%zu n%zu 0 %.17g\n", s, s, 1 / g);
        else if (di->read.kind == XB_READ_OHMIC)
            fprintf(f, "X%zu n%zu 0 %s g=%.17g\n", s, s, di->read_subckt, g);
        else
            fprintf(f, "X%zu n%zu 0 %s g=%.17g vr=%.17g v0=%.17g\n", s, s, di->read_subckt, g, p->v_read_volt,
                    xb_device_v0_volt(p, g));
        fprintf(f, "Bm%zu im%zu 0 V = i(Va%zu)\n", s, s, s);
        char vec[48], label[48];
        snprintf(vec, sizeof vec, "v(im%zu)", s);
        snprintf(label, sizeof label, "i_amp_g=%.4g", g);
        if (deck_add(out, vec, label)) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    if (!rc)
        fprintf(f, ".dc V1 %.17g %.17g %.17g\n.end\n", -v_max_volt, v_max_volt, 2 * v_max_volt / (double)(points - 1));
    return deck_finish(f, &buf, rc, out, err);
}

/* The current limit of a two-terminal iv recipe below the cell (bottom electrode node `be`):
 * the access NMOS whose saturation current is i_amp (gate source Vgc at
 * xb_netlist_compliance_gate_volt), source on ground. */
static void emit_compliance(FILE *f, const xb_array_params *p, const char *be, double i_amp)
{
    fprintf(f, ".model xbnmos nmos level=1 kp=%.17g vto=%.17g lambda=0 gamma=0 is=0\n", p->nmos_kp_a_per_v2,
            p->nmos_vt_volt);
    fprintf(f, "Mc %s gc 0 0 xbnmos w=%.17gu l=1u\nVgc gc 0 DC %.17g\n", be, p->nmos_w_over_l,
            xb_netlist_compliance_gate_volt(p, i_amp));
}

/* The noise terminal of a single-device deck: node nz at the draw of pulse 0 (sweep and PWL
 * recipes: the whole run is one pulse, t_pulse the run time) or 0. */
static void emit_noise_dc(FILE *f, const xb_array_params *p, int c2c, double t_pulse_s)
{
    double xi = c2c ? xb_netlist_c2c_input(p->device, xb_netlist_c2c_draw(p->seed, 0, 0), t_pulse_s) : 0.0;
    fprintf(f, "Vnz nz 0 DC %.17g\n", xi);
}

int xb_netlist_iv_dynamic_deck(const xb_array_params *p, double v_max_volt, size_t pulses, xb_netlist_deck *out,
                               xb_error *err)
{
    xb_iv_opts o = {v_max_volt, pulses, 0, 0};
    return xb_netlist_iv_dynamic_deck_opts(p, &o, out, err);
}

int xb_netlist_iv_dynamic_deck_opts(const xb_array_params *p, const xb_iv_opts *o, xb_netlist_deck *out,
                                    xb_error *err)
{
    memset(out, 0, sizeof *out);
    const xb_device_info *di = xb_device_info_get(p->device);
    if (!di) return xb_errorf(err, XB_EINPUT, "--device: unknown device");
    if (!o) return xb_errorf(err, XB_EINPUT, "iv dynamic: no options");
    const double v_max_volt = o->v_max_volt;
    const size_t pulses = o->pulses;
    char *inst = NULL;
    int rc = xb_netlist_dyn_instance(p, 0, NULL, &inst, err);
    if (rc) return rc;
    const xb_iv_recipe *r = &di->iv;
    if (r->kind == XB_IV_GATE_PULSES && (pulses < 1 || !di->dyn_gated)) {
        free(inst);
        return xb_errorf(err, XB_EINPUT, "iv dynamic: gate pulses need a gated device and --pulses >= 1");
    }
    if (r->kind == XB_IV_GATE_PULSES && o->compliance_amp > 0) {
        free(inst);
        return xb_errorf(err, XB_EINPUT, "--compliance: %s is programmed through its gate (no SET current to limit)",
                         di->name);
    }
    const double icomp = o->compliance_amp > 0 ? o->compliance_amp : o->compliance_amp < 0 ? 0 : r->compliance_amp;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        free(inst);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    fprintf(f, "xbar iv dynamic %s\n", di->name);
    rc = models_of(f, p, di->lib, di->dyn_subckt, err);
    if (!rc) {
        /* reltol 1e-4 as the campaign programming runs (docs/physics.md, "ngspice 39 numerics"):
         * at ngspice's 1e-3 an uncapped RESET stops with "timestep too small" */
        fprintf(f, ".options reltol=1e-4\nBt tn 0 V = time\n");
        char state[64];
        snprintf(state, sizeof state, "v(x1.%s)", di->state_node);
        int bad = deck_add(out, "v(tn)", "time_s");
        /* two-terminal recipes: source -> [series R] -> te -> cell -> be -> [compliance NMOS] */
        const char *be = icomp > 0 ? "be" : "0";
        switch (r->kind) {
        case XB_IV_SWEEP: {
            double v = v_max_volt > 0 ? v_max_volt : r->v_max_volt;
            const double *t = r->sweep_t_s;
            /* the applied voltage on node a; without a series resistance a is the top electrode */
            const char *te = r->series_ohm > 0 ? "te" : "a";
            emit_noise_dc(f, p, o->c2c, r->t_stop_s);
            fprintf(f, "X1 %s %s nz %s %s\nV1 a 0 PWL(0 0 %.17g %.17g %.17g 0 %.17g %.17g %.17g 0)\n", te, be,
                    di->dyn_subckt, inst, t[0], v, t[1], t[2], -v, t[3]);
            if (r->series_ohm > 0) fprintf(f, "Rser a te %.17g\n", r->series_ohm);
            if (icomp > 0) emit_compliance(f, p, be, icomp);
            fprintf(f, "Bm im 0 V = -i(V1)\n");
            if (icomp > 0) fprintf(f, "Bc vc 0 V = v(%s,%s)\n", te, be);
            else fprintf(f, "Bc vc 0 V = v(%s)\n", te);
            fprintf(f, ".tran %.17g %.17g\n.end\n", r->t_step_s, r->t_stop_s);
            bad |= deck_add(out, "v(a)", "v_volt") | deck_add(out, "v(im)", "i_amp") |
                   deck_add(out, state, di->state_label) | deck_add(out, "v(vc)", "v_cell_volt");
            break;
        }
        case XB_IV_PWL:
            emit_noise_dc(f, p, o->c2c, r->t_stop_s);
            fprintf(f, "X1 a %s nz %s %s\nRl in a %.17g\nV1 in 0 PWL(%s)\n", be, di->dyn_subckt, inst, r->load_ohm,
                    r->pwl_spice);
            if (icomp > 0) emit_compliance(f, p, be, icomp);
            fprintf(f, "Bm im 0 V = -i(V1)\n.tran %.17g %.17g\n.end\n", r->t_step_s, r->t_stop_s);
            bad |= deck_add(out, "v(a)", "v_cell_volt") | deck_add(out, "v(im)", "i_amp") |
                   deck_add(out, state, di->state_label);
            break;
        case XB_IV_GATE_PULSES:
        default: {
            const double per = r->pulse_period_s, t_end = 2 * (double)pulses * per + r->tail_s;
            fprintf(f, "X1 0 0 gg nz %s %s\n", di->dyn_subckt, inst);
            fprintf(f, "Vu gu 0 PULSE(0 %.17g %.17g %.17g %.17g %.17g %.17g %zu)\n", r->pulse_volt, r->pulse_delay_s,
                    r->pulse_edge_s, r->pulse_edge_s, r->pulse_width_s, per, pulses);
            fprintf(f, "Vd gd 0 PULSE(0 %.17g %.17g %.17g %.17g %.17g %.17g %zu)\n", -r->pulse_volt,
                    r->pulse_delay_s + (double)pulses * per, r->pulse_edge_s, r->pulse_edge_s, r->pulse_width_s, per,
                    pulses);
            fprintf(f, "Bgg gg 0 V = v(gu) + v(gd)\n");
            if (!o->c2c) {
                fprintf(f, "Vnz nz 0 DC 0\n");
            } else {
                /* one draw per pulse, switching half way between pulses (the state does not move
                 * there: the gate is at the channel potential) */
                fprintf(f, "Vnz nz 0 PWL(0 %.17g", xb_netlist_c2c_input(p->device, xb_netlist_c2c_draw(p->seed, 0, 0),
                                                                          r->pulse_width_s));
                for (size_t k = 1; k < 2 * pulses; k++) {
                    double ts = r->pulse_delay_s + ((double)k - 0.5) * per + 0.5 * (r->pulse_width_s + 2 * r->pulse_edge_s);
                    double a = xb_netlist_c2c_input(p->device, xb_netlist_c2c_draw(p->seed, 0, k - 1), r->pulse_width_s);
                    double b = xb_netlist_c2c_input(p->device, xb_netlist_c2c_draw(p->seed, 0, k), r->pulse_width_s);
                    fprintf(f, "\n+ %.17g %.17g %.17g %.17g", ts - 0.05e-9, a, ts + 0.05e-9, b);
                }
                fprintf(f, ")\n");
            }
            /* the channel conductance of the state: window_params of the instance */
            double glo = di->window_params[0] ? xb_netlist_inst_value(inst, di->window_params[0]) : p->g_min_siemens;
            double ghi = di->window_params[1] ? xb_netlist_inst_value(inst, di->window_params[1]) : p->g_max_siemens;
            fprintf(f, "Bg gs 0 V = %.17g + (%.17g - %.17g)*v(x1.%s)\n", glo, ghi, glo, di->state_node);
            fprintf(f, ".tran %.17g %.17g\n.end\n", r->t_step_s, t_end);
            bad |= deck_add(out, "v(gg)", "v_gate_volt") | deck_add(out, state, di->state_label) |
                   deck_add(out, "v(gs)", "g_siemens");
            break;
        }
        }
        if (!bad && r->extra_node) {
            char ex[64];
            snprintf(ex, sizeof ex, "v(x1.%s)", r->extra_node);
            bad |= deck_add(out, ex, r->extra_label);
        }
        if (bad) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    free(inst);
    return deck_finish(f, &buf, rc, out, err);
}

/* Pulses of a programming PWL: maximal runs of points away from the first point's level;
 * pulse k starts after point a[k] (the last point at the base level) and ends at point b[k]
 * (the first one back at it).  Returns the count (at most max). */
static size_t find_pulses(const double *pwl, size_t n_points, size_t *a, size_t *b, size_t max)
{
    const double base = pwl[1];
    size_t np = 0;
    for (size_t k = 1; k < n_points; k++) {
        if (pwl[2 * k + 1] == base || pwl[2 * (k - 1) + 1] != base) continue;
        size_t e = k;
        while (e < n_points && pwl[2 * e + 1] != base) e++;
        if (np < max) {
            a[np] = k - 1;
            b[np] = e < n_points ? e : n_points - 1;
        }
        np++;
        k = e;
    }
    return np;
}

/* PWL source `name` on node from the points (t, v) pairs, four per continuation line. */
static void emit_pwl(FILE *f, const char *name, const char *node, const char *neg, const double *pts, size_t n)
{
    fprintf(f, "%s %s %s PWL(%.17g %.17g", name, node, neg, pts[0], pts[1]);
    for (size_t k = 1; k < n; k++) fprintf(f, "%s%.17g %.17g", (k - 1) % 4 == 0 ? "\n+ " : " ", pts[2 * k], pts[2 * k + 1]);
    fprintf(f, ")\n");
}

/* The drain of a gate-pulsed device: v_read in the read windows, 0 from `ramp` before each
 * pulse to `ramp` after it (ramp = 0.5 ns, or a quarter of a shorter window). */
static int emit_drain(FILE *f, const double *pwl, size_t n_points, const size_t *a, const size_t *b, size_t np,
                      double vr)
{
    double *pts = malloc((2 + 8 * np) * sizeof *pts);
    if (!pts) return -1;
    size_t m = 0;
    pts[m++] = 0;
    pts[m++] = vr;
    double t_prev = 0;
    for (size_t k = 0; k < np; k++) {
        double ta = pwl[2 * a[k]], tb = pwl[2 * b[k]];
        double tn = k + 1 < np ? pwl[2 * a[k + 1]] : (b[k] + 1 < n_points ? pwl[2 * (n_points - 1)] : tb + 2e-9);
        double d0 = fmin(0.5e-9, 0.25 * (ta - t_prev)), d1 = fmin(0.5e-9, 0.25 * (tn - tb));
        if (d0 <= 0 || d1 <= 0) { /* no room: a pulse at t = 0 or back to back; keep the drain grounded */
            d0 = d0 > 0 ? d0 : 0;
            d1 = d1 > 0 ? d1 : 0;
        }
        const double q[8] = {ta - d0, vr, ta, 0, tb, 0, tb + d1, vr};
        for (int i = 0; i < 8; i += 2)
            if (q[i] > pts[m - 2]) { pts[m++] = q[i]; pts[m++] = q[i + 1]; }
        t_prev = tb;
    }
    emit_pwl(f, "Vd", "d", "0", pts, m / 2);
    free(pts);
    return 0;
}

/* The noise terminal of the programming circuit: xi[k] during pulse k, switching half way
 * between pulses (with 0.1 ns ramps). */
static int emit_noise_pwl(FILE *f, const double *pwl, const size_t *a, const size_t *b, size_t np, const double *xi,
                          size_t n_xi)
{
    if (!xi || !n_xi || !np) {
        fprintf(f, "Vnz nz 0 DC 0\n");
        return 0;
    }
    double *pts = malloc((2 + 4 * np) * sizeof *pts);
    if (!pts) return -1;
    size_t m = 0;
    pts[m++] = 0;
    pts[m++] = xi[0];
    for (size_t k = 1; k < np && k < n_xi; k++) {
        double ts = 0.5 * (pwl[2 * b[k - 1]] + pwl[2 * a[k]]);
        double h = fmin(0.05e-9, 0.25 * (pwl[2 * a[k]] - pwl[2 * b[k - 1]]));
        if (ts - h <= pts[m - 2]) continue;
        pts[m++] = ts - h;
        pts[m++] = xi[k - 1];
        pts[m++] = ts + h;
        pts[m++] = xi[k];
    }
    emit_pwl(f, "Vnz", "nz", "0", pts, m / 2);
    free(pts);
    return 0;
}

int xb_netlist_program_new(const xb_array_params *p, const double *pwl, size_t n_points, xb_netlist **out,
                           xb_error *err)
{
    return xb_netlist_program_c2c_new(p, pwl, n_points, NULL, 0, out, err);
}

int xb_netlist_program_c2c_new(const xb_array_params *p, const double *pwl, size_t n_points, const double *xi,
                               size_t n_xi, xb_netlist **out, xb_error *err)
{
    if (!out) return xb_errorf(err, XB_EINPUT, "program: no output pointer");
    *out = NULL;
    const xb_device_info *di = xb_device_info_get(p->device);
    if (!di) return xb_errorf(err, XB_EINPUT, "--device: unknown device");
    if (!di->dyn_subckt) {
        char list[256];
        xb_device_list(list, sizeof list, 1);
        return xb_errorf(err, XB_EINPUT, "program: %s has no dynamic model (%s)", di->name, list);
    }
    if (!pwl || n_points < 1) return xb_errorf(err, XB_EINPUT, "program: empty pulse waveform");
    for (size_t k = 0; xi && k < n_xi; k++)
        if (!isfinite(xi[k])) return xb_errorf(err, XB_EINPUT, "program: noise value %zu is not finite", k);
    const xb_program_recipe *r = &di->program;
    xb_netlist *n = calloc(1, sizeof *n);
    size_t *pa = malloc((n_points + 1) * sizeof *pa), *pb = malloc((n_points + 1) * sizeof *pb);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = n && pa && pb ? open_memstream(&buf, &len) : NULL;
    if (!f) {
        free(n);
        free(pa);
        free(pb);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    const size_t np = find_pulses(pwl, n_points, pa, pb, n_points + 1);
    int rc = models_of(f, p, di->lib, di->dyn_subckt, err);
    if (!rc) {
        /* the programming source: the PWL points, four per continuation line (on the top
         * electrode, or on the gate in series with the channel-potential offset below, so
         * that the gate current flows through Vp and i(vp) measures the pulse's charge) */
        emit_pwl(f, "Vp", r->gate_pulsed ? "g" : "te", r->gate_pulsed ? "go" : "0", pwl, n_points);
        if (emit_noise_pwl(f, pwl, pa, pb, np, xi, n_xi)) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    if (!rc) {
        /* the cell at its initial state (and the channel range of the array's g window) */
        char init[256];
        int w = snprintf(init, sizeof init, "%s=%.17g", di->state_param, 0.0);
        size_t nparams;
        const xb_dyn_param *t = xb_netlist_dyn_params(p->device, &nparams);
        for (size_t k = 0; k < nparams; k++)
            if (strcmp(t[k].name, di->state_param) == 0) w = snprintf(init, sizeof init, "%s=%.17g", t[k].name, t[k].value);
        for (int k = 0; k < 2 && w > 0 && (size_t)w < sizeof init; k++)
            if (di->window_params[k])
                w += snprintf(init + w, sizeof init - (size_t)w, " %s=%.17g", di->window_params[k],
                              k ? p->g_max_siemens : p->g_min_siemens);
        if (r->gate_pulsed) {
            /* the device's biasing: drain (and source) grounded during a gate pulse, the channel
             * read at v_read between pulses with the gate at the channel potential */
            if (emit_drain(f, pwl, n_points, pa, pb, np, p->v_read_volt)) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
            fprintf(f, "Bgate go 0 V = 0.5*v(d)\n");
            fprintf(f, "X1 d 0 g nz %s %s\n", di->dyn_subckt, init);
        } else if (r->series_ohm > 0) {
            fprintf(f, "Rser te m %.17g\nX1 m 0 nz %s %s\n", r->series_ohm, di->dyn_subckt, init);
        } else {
            fprintf(f, "X1 te 0 nz %s %s\n", di->dyn_subckt, init);
        }
        if (!rc && xb_netlist_add_output(n, r->gate_pulsed ? "i(vd)" : "i(vp)"))
            rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    free(pa);
    free(pb);
    if (fclose(f) != 0 && !rc) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    if (rc) {
        free(buf);
        xb_netlist_free(n);
        return rc;
    }
    n->body = buf;
    *out = n;
    return XB_OK;
}

void xb_netlist_program_cpar_card(const xb_array_params *p, double c_farad, char *buf, size_t n)
{
    if (!n) return;
    const xb_device_info *di = xb_device_info_get(p->device);
    buf[0] = '\0';
    if (di && di->program.series_ohm > 0) snprintf(buf, n, "Cpar m 0 %.17g\n", c_farad);
}
