/* Dynamic device campaigns: conductance vs pulse number (programming curves) and the
 * cycle-to-cycle spread, from the dynamic subcircuits of models/ (rram_dyn, pcm_dyn,
 * ecram_dyn) in one ngspice transient per point.
 *
 * Waveform, per cycle: `pulses` potentiating pulses, then `pulses` depressing pulses;
 * every pulse is followed by a read window at v_read, and G after pulse n is the read
 * current at the end of its window divided by v_read (the chord conductance at v_read,
 * the same definition the static read models use). */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "characterize/char_internal.h"
#include "xbar/characterize.h"
#include "xbar/h5.h"

/* The device's programming recipe (device table, xb_program_recipe) with the point's
 * overrides of the amplitude and width; -1 for a device without a dynamic model. */
static int plan_for(const xb_char_point *P, xb_program_recipe *pl)
{
    const xb_device_info *di = xb_device_info_get(P->array.device);
    memset(pl, 0, sizeof *pl);
    if (!di || !di->dyn_subckt) return -1;
    *pl = di->program;
    if (P->pulse_volt > 0) {
        pl->up_volt = P->pulse_volt;
        pl->down_volt = pl->down_volt < 0 ? -P->pulse_volt : pl->down_volt;
    }
    if (P->pulse_width_s > 0) pl->width_s = P->pulse_width_s;
    return 0;
}

int xb_char_program_curves(const xb_char_point *P, const xb_engine_opts *eo, hid_t g, xb_error *err)
{
    xb_program_recipe pl;
    hid_t pg;
    int rc = xb_h5_group_create(g, "program", &pg, err);
    if (rc) return rc;
    if (plan_for(P, &pl)) {
        char why[128];
        snprintf(why, sizeof why, "the %s device has no dynamic model", xb_device_name(P->array.device));
        rc = xb_h5_attr_set_string(pg, ".", "skipped", why, err);
        H5Gclose(pg);
        return rc;
    }
    const xb_array_params *p = &P->array;
    const double vr = p->v_read_volt, w = pl.width_s, e = pl.edge_s, t_win = 40e-9;
    const double period = 2 * w + 2 * e + t_win; /* room for pulses up to 2 w (c2c jitter) */
    const size_t per_cycle = 2 * P->pulses, total = per_cycle * P->cycles;
    const double t0 = t_win; /* initial read window */
    const double t_stop = t0 + (double)total * period;

    /* the programming source: PWL of pulses between read windows (on the top electrode, read
     * at v_read in the windows; or on the gate, at 0 V between pulses) */
    const double base = pl.gate_pulsed ? 0.0 : vr;
    double *pwl = malloc((2 + 8 * total) * sizeof *pwl);
    double *widths = malloc(total * sizeof *widths);
    if (!pwl) {
        free(widths);
        H5Gclose(pg);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    size_t np = 0;
    pwl[np++] = 0;
    pwl[np++] = base;
    double t = t0;
    /* cycle-to-cycle noise as pulse-width jitter: the programmed charge (ECRAM) or the time
     * the gap/phase kinetics run (RRAM, PCM) scales with it, like aihwkit's multiplicative
     * step noise; seeded from the point, within the fixed pulse period */
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (rng) gsl_rng_set(rng, (unsigned long)(P->seed ^ 0x5bd1e995ULL));
    for (size_t n = 0; n < total; n++) {
        double a = (n % per_cycle) < P->pulses ? pl.up_volt : pl.down_volt;
        double wn = w;
        if (P->c2c_sigma > 0 && rng) {
            double fct = 1 + P->c2c_sigma * gsl_ran_gaussian(rng, 1.0);
            if (fct < 0.05) fct = 0.05;
            if (fct > 2) fct = 2;
            wn = w * fct;
        }
        if (widths) widths[n] = wn;
        const double pt[8] = {t, base, t + e, a, t + e + wn, a, t + 2 * e + wn, base};
        memcpy(pwl + np, pt, sizeof pt);
        np += 8;
        t += period;
    }
    gsl_rng_free(rng);
    /* the circuit (netlist stage): title, then the body with the models and the cell */
    xb_netlist *nl = NULL;
    rc = xb_netlist_program_new(p, pwl, np / 2, &nl, err);
    free(pwl);
    if (rc) {
        free(widths);
        H5Gclose(pg);
        return rc;
    }
    char *deck = NULL;
    size_t dlen = 0;
    FILE *f = open_memstream(&deck, &dlen);
    if (!f) {
        xb_netlist_free(nl);
        free(widths);
        H5Gclose(pg);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    fprintf(f, "xbar characterize: %s programming curve, %zu cycles of %zu up + %zu down pulses\n",
            xb_device_name(p->device), P->cycles, P->pulses, P->pulses);
    fputs(xb_netlist_body(nl), f);
    /* dynamic models: ngspice-like tolerances (the static 1e-9 default would crawl) */
    xb_engine_opts to = *eo;
    if (to.reltol < 1e-4) to.reltol = 1e-4;
    if (to.abstol_amp < 1e-12) to.abstol_amp = 1e-12; /* ngspice defaults: tighter ones made */
    if (to.vntol_volt < 1e-6) to.vntol_volt = 1e-6;   /* PCM RESETs stop ("timestep too small") */
    char *opt = xb_engine_options_card(&to);
    if (opt) fputs(opt, f);
    free(opt);
    /* Gear integration and a 1 Tohm shunt from every node to ground (rshunt): the PCM
     * melt/quench and threshold switching are stiff, and some jittered pulse trains stopped
     * with "timestep too small" at a RESET in stock ngspice 39 too; the shunt changes read
     * currents by < 1e-4 relative (0.2 V / 1e12 ohm vs >= 10 nA) (ngspice 39 manual, .options;
     * docs/physics.md "ngspice 39 numerics") */
    double tstep = e / 2;
    if (fclose(f) != 0 || !deck) {
        xb_netlist_free(nl);
        free(deck);
        free(widths);
        H5Gclose(pg);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    char meas[64];
    snprintf(meas, sizeof meas, "%s", xb_netlist_outputs(nl)[0]);
    xb_netlist_free(nl);
    const char *names[2] = {"time", meas};
    xb_engine_result *res = NULL;
    /* the deck first, so that a failed point keeps it for a rerun by hand */
    /* Solver ladder: the stiff PCM RESET stops some pulse trains with "timestep too small"
     * in stock ngspice 39 too; each failure retries with the next integration setting. */
    static const char *const solvers[] = {
        ".options method=gear rshunt=1e12\n",
        ".options method=trap rshunt=1e10\n",
        ".options method=gear rshunt=1e10 reltol=1e-3\n",
        /* with a series load only (its cell node): a 10 fF parasitic at the cell node
         * (access-device drain and via; RC = 0.1 ns against 5 ns pulses) smooths the
         * threshold-switching snapback that the other settings cannot step through */
        ".options method=gear rshunt=1e12\n",
    };
    char cpar[96];
    xb_netlist_program_cpar_card(p, 1e-14, cpar, sizeof cpar);
    char tail[256];
    snprintf(tail, sizeof tail, ".tran %.17g %.17g 0 %.17g\n.end\n", tstep, t_stop, t_win / 8);
    char *full = NULL, solver[256] = "";
    size_t attempt = 0;
    const size_t n_solvers = sizeof solvers / sizeof solvers[0] - (cpar[0] ? 0 : 1);
    for (; attempt < n_solvers; attempt++) {
        free(full);
        snprintf(solver, sizeof solver, "%s%s", attempt == 3 ? cpar : "", solvers[attempt]);
        size_t nf = strlen(deck) + strlen(solver) + strlen(tail) + 1;
        full = malloc(nf);
        if (!full) { rc = xb_errorf(err, XB_ERUNTIME, "out of memory"); break; }
        snprintf(full, nf, "%s%s%s", deck, solver, tail);
        xb_engine_result_free(res);
        res = NULL;
        rc = xb_engine_run(eo, full, 2, names, &res, err);
        if (rc) break;
        if (xb_engine_result_status(res) == XB_OK) break;
        rc = xb_errorf(err, xb_engine_result_status(res), "program: %s", xb_engine_result_error(res));
    }
    if (attempt == n_solvers) attempt--;
    /* the deck that ran (or failed last) stays with the point, for a rerun by hand */
    if (full) {
        int r2 = xb_h5_write_text(pg, "netlist", full, rc ? NULL : err);
        if (!rc) rc = r2;
        if (!rc) rc = xb_h5_attr_set_string(pg, ".", "solver", solver, err);
    }
    free(full);
    double *gcurve = NULL, *spread = NULL, *pulse_v = NULL;
    size_t nt = 0, ni = 0;
    const double *tv = NULL, *iv = NULL;
    if (!rc) {
        tv = xb_char_result_vec(res, "time", &nt);
        iv = xb_char_result_vec(res, meas, &ni);
        if (!tv || !iv || ni != nt || nt < 2) rc = xb_errorf(err, XB_ERUNTIME, "program: vectors missing in the result");
    }
    if (!rc) {
        gcurve = malloc((total + 1) * sizeof *gcurve);
        spread = calloc(per_cycle, sizeof *spread);
        pulse_v = malloc(total * sizeof *pulse_v);
        if (!gcurve || !spread || !pulse_v) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    if (!rc) {
        /* sample the read current just before the end of every read window */
        size_t q = 0;
        for (size_t n = 0; n <= total; n++) {
            double ts = t0 + (double)n * period - 1e-9;
            while (q + 1 < nt && tv[q + 1] < ts) q++;
            double y = iv[q];
            if (q + 1 < nt && tv[q + 1] > tv[q]) {
                double fr = (ts - tv[q]) / (tv[q + 1] - tv[q]);
                if (fr > 1) fr = 1;
                if (fr < 0) fr = 0;
                y = iv[q] + fr * (iv[q + 1] - iv[q]);
            }
            /* the source current into its + node is negative when it drives the device */
            gcurve[n] = -y / vr;
            if (n < total) pulse_v[n] = (n % per_cycle) < P->pulses ? pl.up_volt : pl.down_volt;
        }
        /* cycle-to-cycle spread: std over cycles of G after pulse k of the cycle */
        for (size_t k = 0; k < per_cycle; k++) {
            double m = 0, s2 = 0;
            for (size_t cy = 0; cy < P->cycles; cy++) m += gcurve[1 + cy * per_cycle + k] / (double)P->cycles;
            for (size_t cy = 0; cy < P->cycles; cy++) {
                double d = gcurve[1 + cy * per_cycle + k] - m;
                s2 += d * d;
            }
            spread[k] = P->cycles > 1 ? sqrt(s2 / (double)(P->cycles - 1)) : 0;
        }
        hsize_t dn = total + 1, dp = total, dk = per_cycle;
        rc = xb_h5_write_doubles(pg, "g", 1, &dn, gcurve, "S", err);
        if (!rc) rc = xb_h5_write_doubles(pg, "pulse_volt", 1, &dp, pulse_v, "V", err);
        if (!rc) rc = xb_h5_write_doubles(pg, "g_c2c_std", 1, &dk, spread, "S", err);
        if (!rc) rc = xb_h5_attr_set_int64(pg, ".", "pulses", (int64_t)P->pulses, err);
        if (!rc) rc = xb_h5_attr_set_int64(pg, ".", "cycles", (int64_t)P->cycles, err);
        if (!rc) rc = xb_h5_attr_set_double(pg, ".", "pulse_width_s", w, err);
        if (!rc) rc = xb_h5_attr_set_double(pg, ".", "up_volt", pl.up_volt, err);
        if (!rc) rc = xb_h5_attr_set_double(pg, ".", "down_volt", pl.down_volt, err);
        if (!rc) rc = xb_h5_attr_set_double(pg, ".", "series_ohm", pl.series_ohm, err);
        if (!rc && widths) rc = xb_h5_write_doubles(pg, "pulse_width", 1, &dp, widths, "s", err);
        if (!rc) rc = xb_h5_attr_set_double(pg, ".", "c2c_sigma", P->c2c_sigma, err);
    }
    free(widths);
    free(gcurve);
    free(spread);
    free(pulse_v);
    xb_engine_result_free(res);
    free(deck);
    H5Gclose(pg);
    if (rc) xb_error_prefix(err, "program curves: ");
    return rc;
}
