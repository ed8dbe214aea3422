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

typedef struct {
    double up_volt, down_volt; /* pulse amplitudes (signed) */
    double width_s;            /* pulse width at full amplitude */
    double edge_s;             /* rise/fall */
    double series_ohm;         /* current limiter in series (PCM: access-device stand-in) */
} pulse_plan;

/* Defaults chosen so that `pulses` of 20 move the state by a visible fraction of its range
 * on the models of models/ (measured with stock ngspice 39, see docs/campaigns.md):
 * RRAM +-1.4 V / 20 ns: ~3% of G per pulse from the HRS; PCM: 2.0 V / 5 ns partial SET
 * through 10 kohm (test circuit of docs/physics.md "PCM electro-thermal switching"), 4.0 V / 10 ns RESET with a
 * 0.5 ns quench; ECRAM gate +-1.3 V / 10 ns: ~1% up, larger down (the model's asymmetry). */
static int plan_for(const xb_char_point *P, pulse_plan *pl)
{
    memset(pl, 0, sizeof *pl);
    switch (P->array.device) {
    case XB_DEVICE_RRAM:
        *pl = (pulse_plan){1.4, -1.4, 20e-9, 1e-9, 0};
        break;
    case XB_DEVICE_PCM:
        *pl = (pulse_plan){2.0, 4.0, 5e-9, 0.5e-9, 10e3};
        break;
    case XB_DEVICE_ECRAM:
        *pl = (pulse_plan){1.3, -1.3, 10e-9, 1e-9, 0};
        break;
    default:
        return -1;
    }
    if (P->pulse_volt > 0) {
        pl->up_volt = P->pulse_volt;
        pl->down_volt = pl->down_volt < 0 ? -P->pulse_volt : pl->down_volt;
    }
    if (P->pulse_width_s > 0) pl->width_s = P->pulse_width_s;
    return 0;
}

int xb_char_program_curves(const xb_char_point *P, const xb_engine_opts *eo, hid_t g, xb_error *err)
{
    pulse_plan pl;
    hid_t pg;
    int rc = xb_h5_group_create(g, "program", &pg, err);
    if (rc) return rc;
    if (plan_for(P, &pl)) {
        rc = xb_h5_attr_set_string(pg, ".", "skipped", "the linear device has no dynamic model", err);
        H5Gclose(pg);
        return rc;
    }
    const xb_array_params *p = &P->array;
    const double vr = p->v_read_volt, w = pl.width_s, e = pl.edge_s, t_win = 40e-9;
    const double period = 2 * w + 2 * e + t_win; /* room for pulses up to 2 w (c2c jitter) */
    const size_t per_cycle = 2 * P->pulses, total = per_cycle * P->cycles;
    const double t0 = t_win; /* initial read window */
    const double t_stop = t0 + (double)total * period;

    char *deck = NULL;
    size_t dlen = 0;
    FILE *f = open_memstream(&deck, &dlen);
    if (!f) {
        H5Gclose(pg);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    const char *dev = xb_device_name(p->device);
    fprintf(f, "xbar characterize: %s programming curve, %zu cycles of %zu up + %zu down pulses\n", dev,
            P->cycles, P->pulses, P->pulses);
    fprintf(f, ".include %s/%s.lib\n", xb_netlist_models_dir(), dev);
    /* the programming source: PWL of pulses between read windows */
    const char *pos = p->device == XB_DEVICE_ECRAM ? "g" : "te";
    fprintf(f, "Vp %s 0 PWL(0 %.17g", pos, p->device == XB_DEVICE_ECRAM ? 0.0 : vr);
    double base = p->device == XB_DEVICE_ECRAM ? 0.0 : vr;
    double t = t0;
    /* cycle-to-cycle noise as pulse-width jitter: the programmed charge (ECRAM) or the time
     * the gap/phase kinetics run (RRAM, PCM) scales with it, like aihwkit's multiplicative
     * step noise; seeded from the point, within the fixed pulse period */
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (rng) gsl_rng_set(rng, (unsigned long)(P->seed ^ 0x5bd1e995ULL));
    double *widths = malloc(total * sizeof *widths);
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
        fprintf(f, "\n+ %.17g %.17g %.17g %.17g %.17g %.17g %.17g %.17g", t, base, t + e, a, t + e + wn, a,
                t + 2 * e + wn, base);
        t += period;
    }
    gsl_rng_free(rng);
    fprintf(f, ")\n");
    switch (p->device) {
    case XB_DEVICE_ECRAM:
        fprintf(f, "Vd d 0 DC %.17g\n", vr);
        fprintf(f, "X1 d 0 g ecram_dyn x0=0.5 gmin=%.17g gmax=%.17g\n", p->g_min_siemens, p->g_max_siemens);
        break;
    case XB_DEVICE_PCM:
        fprintf(f, "Rser te m %.17g\nX1 m 0 pcm_dyn c0=0\n", pl.series_ohm);
        break;
    default:
        fprintf(f, "X1 te 0 rram_dyn gini=1.7\n");
        break;
    }
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
        free(deck);
        free(widths);
        H5Gclose(pg);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    const char *meas = p->device == XB_DEVICE_ECRAM ? "i(vd)" : "i(vp)";
    const char *names[2] = {"time", meas};
    xb_engine_result *res = NULL;
    /* the deck first, so that a failed point keeps it for a rerun by hand */
    /* Solver ladder: the stiff PCM RESET stops some pulse trains with "timestep too small"
     * in stock ngspice 39 too; each failure retries with the next integration setting. */
    static const char *const solvers[] = {
        ".options method=gear rshunt=1e12\n",
        ".options method=trap rshunt=1e10\n",
        ".options method=gear rshunt=1e10 reltol=1e-3\n",
        /* PCM only (its series resistor makes node m): a 10 fF parasitic at the cell node
         * (access-device drain and via; RC = 0.1 ns against 5 ns pulses) smooths the
         * threshold-switching snapback that the other settings cannot step through */
        "Cpar m 0 1e-14\n.options method=gear rshunt=1e12\n",
    };
    char tail[256];
    snprintf(tail, sizeof tail, ".tran %.17g %.17g 0 %.17g\n.end\n", tstep, t_stop, t_win / 8);
    char *full = NULL;
    size_t attempt = 0;
    const size_t n_solvers = sizeof solvers / sizeof solvers[0] - (p->device == XB_DEVICE_PCM ? 0 : 1);
    for (; attempt < n_solvers; attempt++) {
        free(full);
        size_t nf = strlen(deck) + strlen(solvers[attempt]) + strlen(tail) + 1;
        full = malloc(nf);
        if (!full) { rc = xb_errorf(err, XB_ERUNTIME, "out of memory"); break; }
        snprintf(full, nf, "%s%s%s", deck, solvers[attempt], tail);
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
        if (!rc) rc = xb_h5_attr_set_string(pg, ".", "solver", solvers[attempt], err);
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
