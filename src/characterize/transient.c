/* Transient read of the static MVM circuit with wire capacitance: column-current settling
 * time, read energy (integral of the power the row drivers supply), peak currents.
 *
 * The deck is the netlist stage's MVM body (xb_netlist_mvm_new) plus one capacitor
 * c_wire_farad to ground per wire segment (at the segment's cell-side node) and PWL
 * steps on the row sources; it runs on ngspice through the engine's single-job API. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "characterize/char_internal.h"
#include "xbar/characterize.h"

const double *xb_char_result_vec(const xb_engine_result *r, const char *name, size_t *len)
{
    const double *d = xb_engine_result_vec(r, name, len);
    if (d) return d;
    /* "i(x)" -> "x#branch" */
    if (strncasecmp(name, "i(", 2) == 0) {
        char buf[128];
        size_t n = strlen(name);
        if (n > 3 && n < sizeof buf - 8 && name[n - 1] == ')') {
            snprintf(buf, sizeof buf, "%.*s#branch", (int)(n - 3), name + 2);
            return xb_engine_result_vec(r, buf, len);
        }
    }
    return NULL;
}

void xb_char_transient_clear(xb_char_transient *t) { xb_engine_tran_result_clear(t); }

/* Node names of the netlist stage's topology (src/netlist/netlist.c): row i after segment
 * k is r<i>_<k> (k = 1..cols), or r<i> without row wire resistance; column j above segment
 * k is c<k>_<j> (k = 0..rows-1), or c<j> without column wire resistance. */
static void emit_caps(FILE *f, const xb_array_params *p)
{
    const double c = p->c_wire_farad;
    if (c <= 0) return;
    for (size_t i = 0; i < p->rows; i++) {
        if (p->r_wire_row_ohm > 0)
            for (size_t k = 1; k <= p->cols; k++) fprintf(f, "Cwr%zu_%zu r%zu_%zu 0 %.17g\n", i, k, i, k, c);
        else
            fprintf(f, "Cwr%zu r%zu 0 %.17g\n", i, i, c * (double)p->cols);
    }
    for (size_t j = 0; j < p->cols; j++) {
        if (p->r_wire_col_ohm > 0)
            for (size_t k = 0; k < p->rows; k++) fprintf(f, "Cwc%zu_%zu c%zu_%zu 0 %.17g\n", k, j, k, j, c);
        else
            fprintf(f, "Cwc%zu c%zu 0 %.17g\n", j, j, c * (double)p->rows);
    }
}

/* Input of row source k at time t: a ramp from 0 to v over t_rise, then flat. */
static double v_at(double v, double t, double tr) { return t >= tr ? v : v * t / tr; }

int xb_char_transient_run(const xb_engine_opts *eo, const xb_array_params *p, const xb_matrix *g,
                          const double *v, double t_rise_s, double t_read_s, double tol,
                          size_t t_points, xb_char_transient *out, char **deck_out, xb_error *err)
{
    memset(out, 0, sizeof *out);
    if (deck_out) *deck_out = NULL;
    if (!(t_rise_s > 0) || !(t_read_s > 0) || !(tol > 0) || t_points < 10)
        return xb_errorf(err, XB_EINPUT, "transient: need t_rise_s > 0, t_read_s > 0, tolerance > 0, t_points >= 10");
    xb_netlist *nl = NULL;
    /* the job time limit covers writing the deck (as in the spice engine) */
    const double deadline = eo && eo->timeout_s > 0 ? xb_now_s() + eo->timeout_s : 0;
    int rc = xb_netlist_mvm_new_until(p, g, deadline, &nl, err);
    if (rc == XB_ERUNTIME && deadline > 0 && xb_now_s() > deadline)
        return xb_errorf(err, XB_ERUNTIME, "transient: ngspice job timed out after %g s while writing the deck of "
                         "the %zux%zu array", eo->timeout_s, p->rows, p->cols);
    if (rc) return rc;
    const size_t ns = xb_netlist_n_sources(nl), no = xb_netlist_n_outputs(nl);
    const xb_netlist_source *src = xb_netlist_sources(nl);
    const char *const *outs = xb_netlist_outputs(nl);
    if (ns != p->rows || no != p->cols) {
        xb_netlist_free(nl);
        return xb_errorf(err, XB_ERUNTIME, "transient: netlist has %zu sources / %zu outputs, want %zu / %zu", ns, no,
                         p->rows, p->cols);
    }
    const double t_stop = t_rise_s + t_read_s;
    char *deck = NULL;
    size_t dlen = 0;
    FILE *f = open_memstream(&deck, &dlen);
    if (!f) {
        xb_netlist_free(nl);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    fprintf(f, "xbar characterize: transient read, %zux%zu, c_wire %g F per segment\n", p->rows, p->cols,
            p->c_wire_farad);
    fputs(xb_netlist_body(nl), f);
    for (size_t k = 0; k < ns; k++)
        fprintf(f, "V%s %s %s PWL(0 0 %.17g %.17g)\n", src[k].name, src[k].node_pos, src[k].node_neg, t_rise_s, v[k]);
    emit_caps(f, p);
    /* The engine's static default (reltol 1e-9) would also drive ngspice's truncation-error
     * time-step control and make transients crawl; 1e-6 keeps currents (and the energy) far
     * inside the 1e-3 settling band at a few hundred steps. */
    xb_engine_opts to = *eo;
    if (to.reltol < 1e-6) to.reltol = 1e-6;
    char *opt = xb_engine_options_card(&to);
    if (opt) fputs(opt, f);
    free(opt);
    const double tmax = t_stop / (double)t_points;
    fprintf(f, ".tran %.17g %.17g 0 %.17g\n", tmax, t_stop, tmax);
    fprintf(f, ".end\n");
    if (fclose(f) != 0 || !deck) {
        free(deck);
        xb_netlist_free(nl);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }

    /* vectors: time, the row source currents, the column sense currents */
    size_t nv = 1 + ns + no;
    char **names = calloc(nv, sizeof *names);
    if (!names) { rc = xb_errorf(err, XB_ERUNTIME, "out of memory"); goto fail_deck; }
    names[0] = strdup("time");
    for (size_t k = 0; k < ns; k++) {
        names[1 + k] = malloc(strlen(src[k].name) + 8);
        if (names[1 + k]) sprintf(names[1 + k], "i(v%s)", src[k].name);
    }
    for (size_t j = 0; j < no; j++) names[1 + ns + j] = strdup(outs[j]);
    for (size_t k = 0; k < nv; k++)
        if (!names[k]) { rc = xb_errorf(err, XB_ERUNTIME, "out of memory"); goto fail_names; }

    xb_engine_result *res = NULL;
    rc = xb_engine_run(eo, deck, nv, (const char *const *)names, &res, err);
    if (rc) goto fail_names;
    if (xb_engine_result_status(res) != XB_OK) {
        rc = xb_errorf(err, xb_engine_result_status(res), "%s", xb_engine_result_error(res));
        goto fail_res;
    }
    size_t nt = 0;
    const double *time = xb_char_result_vec(res, "time", &nt);
    if (!time || nt < 2) { rc = xb_errorf(err, XB_ERUNTIME, "transient: no time vector in the result"); goto fail_res; }
    const double **isrc = calloc(ns, sizeof *isrc), **icol = calloc(no, sizeof *icol);
    if (!isrc || !icol) { free(isrc); free(icol); rc = xb_errorf(err, XB_ERUNTIME, "out of memory"); goto fail_res; }
    for (size_t k = 0; k < nv - 1 && !rc; k++) {
        size_t len = 0;
        const double *d = xb_char_result_vec(res, names[1 + k], &len);
        if (!d || len != nt) rc = xb_errorf(err, XB_ERUNTIME, "transient: vector %s missing in the result", names[1 + k]);
        else if (k < ns) isrc[k] = d;
        else icol[k - ns] = d;
    }
    if (!rc) {
        out->cols = no;
        out->n_time = nt;
        out->time_s = malloc(nt * sizeof(double));
        out->i_col_amp = malloc(nt * no * sizeof(double));
        out->p_supply_watt = malloc(nt * sizeof(double));
        out->t_settle_s = calloc(no, sizeof(double));
        out->i_peak_amp = calloc(no, sizeof(double));
        out->i_final_amp = calloc(no, sizeof(double));
        if (!out->time_s || !out->i_col_amp || !out->p_supply_watt || !out->t_settle_s || !out->i_peak_amp ||
            !out->i_final_amp)
            rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    if (!rc) {
        memcpy(out->time_s, time, nt * sizeof(double));
        /* supplied power and energy (trapezoid over the accepted time points) */
        double e = 0, ipk = 0;
        for (size_t q = 0; q < nt; q++) {
            double pw = 0, isum = 0;
            for (size_t k = 0; k < ns; k++) {
                /* i(Vx) is the current into the + node: a source delivering power has i < 0 */
                pw += -v_at(v[k], time[q], t_rise_s) * isrc[k][q];
                isum += -isrc[k][q];
            }
            out->p_supply_watt[q] = pw;
            if (fabs(isum) > ipk) ipk = fabs(isum);
            if (q) e += 0.5 * (out->p_supply_watt[q] + out->p_supply_watt[q - 1]) * (time[q] - time[q - 1]);
            for (size_t j = 0; j < no; j++) out->i_col_amp[q * no + j] = icol[j][q];
        }
        out->e_read_joule = e;
        out->i_supply_peak_amp = ipk;
        /* settling: last time |I - I_final| > tol |I_final|, interpolated linearly */
        out->settled = 1;
        for (size_t j = 0; j < no; j++) {
            const double *y = icol[j];
            double fin = y[nt - 1], band = tol * fabs(fin), pk = 0;
            for (size_t q = 0; q < nt; q++)
                if (fabs(y[q]) > pk) pk = fabs(y[q]);
            out->i_peak_amp[j] = pk;
            out->i_final_amp[j] = fin;
            double ts = 0;
            for (size_t q = nt - 1; q-- > 0;) {
                double eq = fabs(y[q] - fin);
                if (eq > band) {
                    double eq1 = fabs(y[q + 1] - fin);
                    double fr = (eq - eq1) > 0 ? (eq - band) / (eq - eq1) : 1.0;
                    ts = time[q] + fr * (time[q + 1] - time[q]);
                    break;
                }
            }
            out->t_settle_s[j] = ts;
            if (ts > out->t_settle_max_s) out->t_settle_max_s = ts;
            if (ts > t_rise_s + 0.9 * t_read_s) out->settled = 0;
        }
    }
    free(isrc);
    free(icol);
    if (rc) xb_char_transient_clear(out);
fail_res:
    xb_engine_result_free(res);
fail_names:
    for (size_t k = 0; k < nv; k++) free(names[k]);
    free(names);
fail_deck:
    if (!rc && deck_out) *deck_out = deck;
    else free(deck);
    xb_netlist_free(nl);
    return rc;
}
