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

/* Value of `name=` in an instance parameter list ("a=1 b=2"); 0 when absent. */
static double inst_value(const char *inst, const char *name)
{
    size_t n = strlen(name);
    for (const char *s = inst; (s = strstr(s, name)); s += n)
        if ((s == inst || s[-1] == ' ') && s[n] == '=') return strtod(s + n + 1, NULL);
    return 0;
}

int xb_netlist_iv_dynamic_deck(const xb_array_params *p, double v_max_volt, size_t pulses, xb_netlist_deck *out,
                               xb_error *err)
{
    memset(out, 0, sizeof *out);
    const xb_device_info *di = xb_device_info_get(p->device);
    if (!di) return xb_errorf(err, XB_EINPUT, "--device: unknown device");
    char *inst = NULL;
    int rc = xb_netlist_dyn_instance(p, 0, NULL, &inst, err);
    if (rc) return rc;
    const xb_iv_recipe *r = &di->iv;
    if (r->kind == XB_IV_GATE_PULSES && (pulses < 1 || !di->dyn_gated)) {
        free(inst);
        return xb_errorf(err, XB_EINPUT, "iv dynamic: gate pulses need a gated device and --pulses >= 1");
    }
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
        fprintf(f, "Bt tn 0 V = time\n");
        char state[64];
        snprintf(state, sizeof state, "v(x1.%s)", di->state_node);
        int bad = deck_add(out, "v(tn)", "time_s");
        switch (r->kind) {
        case XB_IV_SWEEP: {
            double v = v_max_volt > 0 ? v_max_volt : r->v_max_volt;
            const double *t = r->sweep_t_s;
            fprintf(f, "X1 a 0 %s %s\nV1 a 0 PWL(0 0 %.17g %.17g %.17g 0 %.17g %.17g %.17g 0)\n", di->dyn_subckt, inst,
                    t[0], v, t[1], t[2], -v, t[3]);
            fprintf(f, "Bm im 0 V = -i(V1)\n.tran %.17g %.17g\n.end\n", r->t_step_s, r->t_stop_s);
            bad |= deck_add(out, "v(a)", "v_volt") | deck_add(out, "v(im)", "i_amp") |
                   deck_add(out, state, di->state_label);
            break;
        }
        case XB_IV_PWL:
            fprintf(f, "X1 a 0 %s %s\nRl in a %.17g\nV1 in 0 PWL(%s)\n", di->dyn_subckt, inst, r->load_ohm, r->pwl_spice);
            fprintf(f, "Bm im 0 V = -i(V1)\n.tran %.17g %.17g\n.end\n", r->t_step_s, r->t_stop_s);
            bad |= deck_add(out, "v(a)", "v_cell_volt") | deck_add(out, "v(im)", "i_amp") |
                   deck_add(out, state, di->state_label);
            break;
        case XB_IV_GATE_PULSES:
        default: {
            const double per = r->pulse_period_s, t_end = 2 * (double)pulses * per + r->tail_s;
            fprintf(f, "X1 0 0 gg %s %s\n", di->dyn_subckt, inst);
            fprintf(f, "Vu gu 0 PULSE(0 %.17g %.17g %.17g %.17g %.17g %.17g %zu)\n", r->pulse_volt, r->pulse_delay_s,
                    r->pulse_edge_s, r->pulse_edge_s, r->pulse_width_s, per, pulses);
            fprintf(f, "Vd gd 0 PULSE(0 %.17g %.17g %.17g %.17g %.17g %.17g %zu)\n", -r->pulse_volt,
                    r->pulse_delay_s + (double)pulses * per, r->pulse_edge_s, r->pulse_edge_s, r->pulse_width_s, per,
                    pulses);
            fprintf(f, "Bgg gg 0 V = v(gu) + v(gd)\n");
            /* the channel conductance of the state: window_params of the instance */
            double glo = di->window_params[0] ? inst_value(inst, di->window_params[0]) : p->g_min_siemens;
            double ghi = di->window_params[1] ? inst_value(inst, di->window_params[1]) : p->g_max_siemens;
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

int xb_netlist_program_new(const xb_array_params *p, const double *pwl, size_t n_points, xb_netlist **out,
                           xb_error *err)
{
    *out = NULL;
    const xb_device_info *di = xb_device_info_get(p->device);
    if (!di) return xb_errorf(err, XB_EINPUT, "--device: unknown device");
    if (!di->dyn_subckt) {
        char list[256];
        xb_device_list(list, sizeof list, 1);
        return xb_errorf(err, XB_EINPUT, "program: %s has no dynamic model (%s)", di->name, list);
    }
    if (!pwl || n_points < 1) return xb_errorf(err, XB_EINPUT, "program: empty pulse waveform");
    const xb_program_recipe *r = &di->program;
    xb_netlist *n = calloc(1, sizeof *n);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = n ? open_memstream(&buf, &len) : NULL;
    if (!f) {
        free(n);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    int rc = models_of(f, p, di->lib, di->dyn_subckt, err);
    if (!rc) {
        /* the programming source: the PWL points, four per continuation line */
        fprintf(f, "Vp %s 0 PWL(%.17g %.17g", r->gate_pulsed ? "g" : "te", pwl[0], pwl[1]);
        for (size_t k = 1; k < n_points; k++)
            fprintf(f, "%s%.17g %.17g", (k - 1) % 4 == 0 ? "\n+ " : " ", pwl[2 * k], pwl[2 * k + 1]);
        fprintf(f, ")\n");
        /* the cell at its initial state (and the channel range of the array's g window) */
        char init[256];
        int w = snprintf(init, sizeof init, "%s=%.17g", di->state_param, 0.0);
        size_t np;
        const xb_dyn_param *t = xb_netlist_dyn_params(p->device, &np);
        for (size_t k = 0; k < np; k++)
            if (strcmp(t[k].name, di->state_param) == 0) w = snprintf(init, sizeof init, "%s=%.17g", t[k].name, t[k].value);
        for (int k = 0; k < 2 && w > 0 && (size_t)w < sizeof init; k++)
            if (di->window_params[k])
                w += snprintf(init + w, sizeof init - (size_t)w, " %s=%.17g", di->window_params[k],
                              k ? p->g_max_siemens : p->g_min_siemens);
        if (r->gate_pulsed) {
            fprintf(f, "Vd d 0 DC %.17g\n", p->v_read_volt);
            fprintf(f, "X1 d 0 g %s %s\n", di->dyn_subckt, init);
        } else if (r->series_ohm > 0) {
            fprintf(f, "Rser te m %.17g\nX1 m 0 %s %s\n", r->series_ohm, di->dyn_subckt, init);
        } else {
            fprintf(f, "X1 te 0 %s %s\n", di->dyn_subckt, init);
        }
        if (xb_netlist_add_output(n, r->gate_pulsed ? "i(vd)" : "i(vp)"))
            rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
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
