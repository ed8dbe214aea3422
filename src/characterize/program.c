/* Dynamic device campaigns: pulse trains on the dynamic subcircuits of models/ (rram_dyn,
 * pcm_dyn, ecram_dyn), one ngspice transient per train: the programming curves and the
 * records the update-model fit reads (src/fit/update.c; layout: docs/hdf5-results.md).
 *
 * A point runs `devices` Monte Carlo devices (each its own seeded parameter sample when the
 * point has var_d2d) x `n_starts` start states.  Every train has the same slots: n_pre =
 * max |start_pulses| preset slots, then `cycles` x (`pulses` up, `pulses` down).  Start state
 * s with m = start_pulses[s] pulses in the last |m| preset slots (up for m > 0, down for
 * m < 0) and leaves the earlier ones idle (a read only), so that the cycles line up across
 * trains.  A slot is a pulse (or nothing) followed by a read window at v_read: G after the
 * slot is the read current at the end of its window over v_read (the chord conductance at
 * v_read, the definition of the static read models).  Per pulse the energy the pulse source
 * delivers (integral of its power over the pulse) is recorded with the pulse width. */
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

/* Timing shared by every train of a point. */
typedef struct {
    xb_program_recipe pl;
    size_t n_pre;     /* preset slots: max |start_pulses| */
    size_t per_cycle; /* 2 * pulses */
    size_t K;         /* slots per train */
    double t_win;     /* read window after every slot */
    double period;    /* slot length: room for pulses up to 2 w (c2c jitter) */
    double t0;        /* the first slot starts after an initial read window */
    double t_stop;
    double base;      /* source level between pulses: v_read on a top electrode, 0 on a gate */
    double *t_slot;   /* K start times of the slots (summed period by period, as first written) */
} train_geom;

static int geom_init(const xb_char_point *P, const xb_program_recipe *pl, train_geom *T, xb_error *err)
{
    T->pl = *pl;
    T->n_pre = 0;
    for (size_t s = 0; s < P->n_starts; s++) {
        size_t m = (size_t)labs(P->start_pulses[s]);
        if (m > T->n_pre) T->n_pre = m;
    }
    T->per_cycle = 2 * P->pulses;
    T->K = T->n_pre + T->per_cycle * P->cycles;
    T->t_win = 40e-9;
    T->period = 2 * pl->width_s + 2 * pl->edge_s + T->t_win;
    T->t0 = T->t_win;
    T->t_stop = T->t0 + (double)T->K * T->period;
    T->base = pl->gate_pulsed ? 0.0 : P->array.v_read_volt;
    T->t_slot = malloc(T->K * sizeof *T->t_slot);
    if (!T->t_slot) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    double t = T->t0;
    for (size_t k = 0; k < T->K; k++, t += T->period) T->t_slot[k] = t;
    return XB_OK;
}

/* Direction of slot k of start state m: +1 up, -1 down, 0 idle (read only). */
static int slot_dir(const xb_char_point *P, const train_geom *T, long m, size_t k)
{
    if (k < T->n_pre) {
        size_t am = (size_t)labs(m);
        if (k < T->n_pre - am) return 0;
        return m > 0 ? 1 : -1;
    }
    return ((k - T->n_pre) % T->per_cycle) < P->pulses ? 1 : -1;
}

static double slot_amp(const train_geom *T, int dir)
{
    return dir > 0 ? T->pl.up_volt : dir < 0 ? T->pl.down_volt : 0.0;
}

/* splitmix64 finaliser: independent streams from (seed, index). */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Pulse widths of one train with the cycle-to-cycle jitter (0 for idle slots).  The
 * jitter models cycle-to-cycle noise: the programmed charge (ECRAM) or the time the
 * gap/phase kinetics run (RRAM, PCM) scales with the width, like aihwkit's multiplicative
 * step noise.  Train (0, 0) keeps the stream of the single-train records; the others get
 * their own seeded streams. */
static int train_widths(const xb_char_point *P, const train_geom *T, size_t dev, size_t s, double *widths,
                        xb_error *err)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!rng) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    /* the point's seed, or c2c_seed mixed with it: new noise, the same device samples */
    uint64_t seed = (P->c2c_seed ? mix64(P->seed + 0x9e3779b97f4a7c15ULL * P->c2c_seed) : P->seed) ^ 0x5bd1e995ULL;
    if (dev || s) seed = mix64(seed + 0x9e3779b97f4a7c15ULL * (dev * P->n_starts + s + 1));
    gsl_rng_set(rng, (unsigned long)seed);
    const double w = T->pl.width_s;
    for (size_t k = 0; k < T->K; k++) {
        if (!slot_dir(P, T, P->start_pulses[s], k)) {
            widths[k] = 0;
            continue;
        }
        double wn = w;
        if (P->c2c_sigma > 0) {
            double fct = 1 + P->c2c_sigma * gsl_ran_gaussian(rng, 1.0);
            if (fct < 0.05) fct = 0.05;
            if (fct > 2) fct = 2;
            wn = w * fct;
        }
        widths[k] = wn;
    }
    gsl_rng_free(rng);
    return XB_OK;
}

/* PWL points (t, v) of one train's pulse source; *np gets the number of numbers written. */
static void train_pwl(const xb_char_point *P, const train_geom *T, long m, const double *widths, double *pwl,
                      size_t *np)
{
    size_t n = 0;
    const double e = T->pl.edge_s;
    pwl[n++] = 0;
    pwl[n++] = T->base;
    for (size_t k = 0; k < T->K; k++) {
        int dir = slot_dir(P, T, m, k);
        if (!dir) continue;
        const double t = T->t_slot[k], a = slot_amp(T, dir), wn = widths[k];
        const double pt[8] = {t, T->base, t + e, a, t + e + wn, a, t + 2 * e + wn, T->base};
        memcpy(pwl + n, pt, sizeof pt);
        n += 8;
    }
    *np = n;
}

/* The programming-circuit body with device `dev`'s parameter sample.  Without var_d2d the
 * body is used as written.  With it, the instance line of the dynamic subcircuit
 * ("X1 <nodes> <subckt> k=v ...") is re-written with xb_netlist_dyn_instance: every
 * parameter of the device table, the line's own values (initial state, g window) as
 * overrides, the seeded d2d spread of cell index dev; names the table does not know stay
 * as they were.  (The netlist stage writes every value; this only chooses the sample.) */
static int body_for_device(const xb_array_params *p, const char *body, size_t dev, char **out, xb_error *err)
{
    *out = NULL;
    if (!p->var_d2d) {
        *out = strdup(body);
        return *out ? XB_OK : xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    const char *sub = xb_netlist_dyn_subckt(p->device);
    const char *ln = strncmp(body, "X1 ", 3) == 0 ? body : strstr(body, "\nX1 ");
    if (ln && ln != body) ln++;
    const char *eol = ln ? strchr(ln, '\n') : NULL;
    if (!eol) eol = ln ? ln + strlen(ln) : NULL;
    /* the subcircuit name as a whole token of the line */
    const char *at = NULL;
    size_t sl = sub ? strlen(sub) : 0;
    for (const char *q = ln; q && sub && (q = strstr(q, sub)) && q < eol; q += sl)
        if (q[-1] == ' ' && (q[sl] == ' ' || q + sl == eol)) { at = q; break; }
    if (!at) return xb_errorf(err, XB_ERUNTIME, "program: no instance line of %s in the programming circuit", sub);
    const char *args = at + sl;
    size_t alen = (size_t)(eol - args);
    char *ov = malloc(alen + 1);
    if (!ov) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    memcpy(ov, args, alen);
    ov[alen] = '\0';
    char *inst = NULL;
    int rc = xb_netlist_dyn_instance(p, dev, ov, &inst, err);
    if (rc) {
        free(ov);
        return rc;
    }
    /* tokens of the line that are not table parameters (kept verbatim) */
    size_t np = 0;
    const xb_dyn_param *t = xb_netlist_dyn_params(p->device, &np);
    char *extra = calloc(alen + 2, 1);
    size_t xo = 0;
    for (char *save = NULL, *tok = extra ? strtok_r(ov, " ", &save) : NULL; tok; tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        size_t nl = eq ? (size_t)(eq - tok) : strlen(tok);
        int known = 0;
        for (size_t k = 0; k < np && !known; k++) known = strlen(t[k].name) == nl && strncmp(t[k].name, tok, nl) == 0;
        if (!known) xo += (size_t)sprintf(extra + xo, " %s", tok);
    }
    free(ov);
    size_t head = (size_t)(at + sl - body), tail = strlen(eol);
    size_t n = head + 1 + strlen(inst) + xo + tail + 1;
    char *buf = extra ? malloc(n) : NULL;
    if (!buf) {
        free(inst);
        free(extra);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    snprintf(buf, n, "%.*s %s%s%s", (int)head, body, inst, extra, eol);
    free(inst);
    free(extra);
    *out = buf;
    return XB_OK;
}

/* One train's outputs. */
typedef struct {
    double *g;      /* K + 1: before the first slot and after every slot */
    double *width;  /* K: pulse widths (0 idle) */
    double *energy; /* K: energy delivered by the pulse source during each pulse (0 idle) */
    char *deck;     /* the deck that ran (or failed last) */
    char *inst;     /* the device's instance line */
    char solver[256];
} train_out;

static void train_out_free(train_out *o)
{
    free(o->g);
    free(o->width);
    free(o->energy);
    free(o->deck);
    free(o->inst);
    memset(o, 0, sizeof *o);
}

/* Value of the sampled waveform y at time t (linear between the solver's points); *q is a
 * search hint that only moves forward. */
static double at_time(const double *tv, const double *y, size_t nt, double t, size_t *q)
{
    while (*q + 1 < nt && tv[*q + 1] < t) (*q)++;
    double v = y[*q];
    if (*q + 1 < nt && tv[*q + 1] > tv[*q]) {
        double fr = (t - tv[*q]) / (tv[*q + 1] - tv[*q]);
        if (fr > 1) fr = 1;
        if (fr < 0) fr = 0;
        v = y[*q] + fr * (y[*q + 1] - y[*q]);
    }
    return v;
}

/* The pulse source voltage of a slot starting at ta (edges e, flat wn at a, base between). */
static double pulse_v(double t, double ta, double e, double wn, double a, double base)
{
    double u = t - ta;
    if (u <= 0 || u >= 2 * e + wn) return base;
    if (u < e) return base + (a - base) * u / e;
    if (u <= e + wn) return a;
    return a + (base - a) * (u - e - wn) / e;
}

/* Energy the source delivers over [ta, ta + 2e + wn]: trapezoid of -v(t) i(t) on the solver's
 * time points (the source current into its + node is negative when it drives the device). */
static double pulse_energy(const double *tv, const double *iv, size_t nt, double ta, double e, double wn, double a,
                           double base, size_t *hint)
{
    const double tb = ta + 2 * e + wn;
    size_t q = *hint;
    double t_prev = ta, p_prev = -pulse_v(ta, ta, e, wn, a, base) * at_time(tv, iv, nt, ta, &q), sum = 0;
    *hint = q;
    for (size_t k = q; k < nt && tv[k] < tb; k++) {
        if (tv[k] <= ta) continue;
        double p = -pulse_v(tv[k], ta, e, wn, a, base) * iv[k];
        sum += 0.5 * (p + p_prev) * (tv[k] - t_prev);
        t_prev = tv[k];
        p_prev = p;
    }
    size_t q2 = q;
    double p_end = -pulse_v(tb, ta, e, wn, a, base) * at_time(tv, iv, nt, tb, &q2);
    sum += 0.5 * (p_end + p_prev) * (tb - t_prev);
    return sum;
}

/* The deck of one train without its solver settings and analysis: title, body (with the
 * device sample), the engine's .options.  *meas gets the read current's vector name. */
static int train_deck(const xb_char_point *P, const xb_engine_opts *eo, const train_geom *T, size_t dev, size_t s,
                      const double *widths, char **deck, char **inst_line, char *meas, size_t mn, xb_error *err)
{
    *deck = NULL;
    *inst_line = NULL;
    double *pwl = malloc((2 + 8 * T->K) * sizeof *pwl);
    if (!pwl) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    size_t np = 0;
    train_pwl(P, T, P->start_pulses[s], widths, pwl, &np);
    xb_netlist *nl = NULL;
    int rc = xb_netlist_program_new(&P->array, pwl, np / 2, &nl, err);
    free(pwl);
    if (rc) return rc;
    snprintf(meas, mn, "%s", xb_netlist_outputs(nl)[0]);
    char *body = NULL;
    rc = body_for_device(&P->array, xb_netlist_body(nl), dev, &body, err);
    xb_netlist_free(nl);
    if (rc) return rc;
    /* the device's instance line, for the record */
    const char *ln = strncmp(body, "X1 ", 3) == 0 ? body : strstr(body, "\nX1 ");
    if (ln) {
        if (ln != body) ln++;
        size_t l = strcspn(ln, "\n");
        *inst_line = strndup(ln, l);
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        free(body);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    fprintf(f, "xbar characterize: %s programming curve, %zu cycles of %zu up + %zu down pulses", xb_device_name(P->array.device),
            P->cycles, P->pulses, P->pulses);
    if (P->devices > 1 || P->n_starts > 1) fprintf(f, " (device %zu, start %ld)", dev, P->start_pulses[s]);
    fputc('\n', f);
    fputs(body, f);
    free(body);
    /* dynamic models: ngspice-like tolerances (the static 1e-9 default would crawl) */
    xb_engine_opts to = *eo;
    if (to.reltol < 1e-4) to.reltol = 1e-4;
    if (to.abstol_amp < 1e-12) to.abstol_amp = 1e-12; /* ngspice defaults: tighter ones made */
    if (to.vntol_volt < 1e-6) to.vntol_volt = 1e-6;   /* PCM RESETs stop ("timestep too small") */
    char *opt = xb_engine_options_card(&to);
    if (opt) fputs(opt, f);
    free(opt);
    if (fclose(f) != 0 || !buf) {
        free(buf);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    *deck = buf;
    return XB_OK;
}

/* Run a deck through the solver ladder: the stiff PCM RESET stops some pulse trains with
 * "timestep too small" in stock ngspice 39 too; each failure retries with the next setting.
 * Gear integration and a 1 Tohm shunt from every node to ground (rshunt) first: the shunt
 * changes read currents by < 1e-4 relative (0.2 V / 1e12 ohm vs >= 10 nA) (ngspice 39
 * manual, .options; docs/physics.md "ngspice 39 numerics"). */
static int run_ladder(const xb_char_point *P, const xb_engine_opts *eo, const train_geom *T, const char *deck,
                      const char *const *names, size_t n_names, xb_engine_result **res, train_out *o, xb_error *err)
{
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
    xb_netlist_program_cpar_card(&P->array, 1e-14, cpar, sizeof cpar);
    char tail[256];
    snprintf(tail, sizeof tail, ".tran %.17g %.17g 0 %.17g\n.end\n", T->pl.edge_s / 2, T->t_stop, T->t_win / 8);
    const size_t n_solvers = sizeof solvers / sizeof solvers[0] - (cpar[0] ? 0 : 1);
    int rc = XB_OK;
    *res = NULL;
    for (size_t attempt = 0; attempt < n_solvers; attempt++) {
        snprintf(o->solver, sizeof o->solver, "%s%s", attempt == 3 ? cpar : "", solvers[attempt]);
        size_t nf = strlen(deck) + strlen(o->solver) + strlen(tail) + 1;
        free(o->deck);
        o->deck = malloc(nf);
        if (!o->deck) return xb_errorf(err, XB_ERUNTIME, "out of memory");
        snprintf(o->deck, nf, "%s%s%s", deck, o->solver, tail);
        xb_engine_result_free(*res);
        *res = NULL;
        rc = xb_engine_run(eo, o->deck, n_names, names, res, err);
        if (rc) return rc;
        if (xb_engine_result_status(*res) == XB_OK) return XB_OK;
        rc = xb_errorf(err, xb_engine_result_status(*res), "program: %s", xb_engine_result_error(*res));
    }
    return rc;
}

/* Simulate train (dev, s) of point P: conductance after every slot, pulse widths, energies. */
static int run_train(const xb_char_point *P, const xb_engine_opts *eo, const train_geom *T, size_t dev, size_t s,
                     train_out *o, xb_error *err)
{
    memset(o, 0, sizeof *o);
    o->g = malloc((T->K + 1) * sizeof *o->g);
    o->width = malloc(T->K * sizeof *o->width);
    o->energy = calloc(T->K, sizeof *o->energy);
    if (!o->g || !o->width || !o->energy) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    int rc = train_widths(P, T, dev, s, o->width, err);
    char *deck = NULL, meas[64] = "";
    if (!rc) rc = train_deck(P, eo, T, dev, s, o->width, &deck, &o->inst, meas, sizeof meas, err);
    if (rc) return rc;
    /* the read current, and the pulse source's current when it is another source (gate) */
    const char *names[3] = {"time", meas, "i(vp)"};
    const size_t n_names = strcmp(meas, "i(vp)") == 0 ? 2 : 3;
    xb_engine_result *res = NULL;
    rc = run_ladder(P, eo, T, deck, names, n_names, &res, o, err);
    free(deck);
    size_t nt = 0, ni = 0, npv = 0;
    const double *tv = NULL, *iv = NULL, *ip = NULL;
    if (!rc) {
        tv = xb_char_result_vec(res, "time", &nt);
        iv = xb_char_result_vec(res, meas, &ni);
        ip = xb_char_result_vec(res, "i(vp)", &npv);
        if (!tv || !iv || !ip || ni != nt || npv != nt || nt < 2)
            rc = xb_errorf(err, XB_ERUNTIME, "program: vectors missing in the result");
    }
    if (!rc) {
        const double vr = P->array.v_read_volt;
        size_t q = 0;
        /* the read current just before the end of every read window */
        for (size_t n = 0; n <= T->K; n++) o->g[n] = -at_time(tv, iv, nt, T->t0 + (double)n * T->period - 1e-9, &q) / vr;
        q = 0;
        for (size_t k = 0; k < T->K; k++) {
            int dir = slot_dir(P, T, P->start_pulses[s], k);
            if (dir)
                o->energy[k] = pulse_energy(tv, ip, nt, T->t_slot[k], T->pl.edge_s, o->width[k],
                                            slot_amp(T, dir), T->base, &q);
        }
    }
    xb_engine_result_free(res);
    return rc;
}

/* The single-train datasets of train (0, 0)'s cycles (kept from the first records):
 * g, pulse_volt, pulse_width, g_c2c_std and the attributes. */
static int write_first_train(const xb_char_point *P, const train_geom *T, const train_out *o, hid_t pg, xb_error *err)
{
    const size_t pc = T->per_cycle, total = pc * P->cycles;
    const double *g = o->g + T->n_pre;
    double *spread = calloc(pc, sizeof *spread), *pulse_v = malloc(total * sizeof *pulse_v);
    if (!spread || !pulse_v) {
        free(spread);
        free(pulse_v);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    for (size_t n = 0; n < total; n++) pulse_v[n] = slot_amp(T, (n % pc) < P->pulses ? 1 : -1);
    /* cycle-to-cycle spread: std over cycles of G after pulse k of the cycle */
    for (size_t k = 0; k < pc; k++) {
        double m = 0, s2 = 0;
        for (size_t cy = 0; cy < P->cycles; cy++) m += g[1 + cy * pc + k] / (double)P->cycles;
        for (size_t cy = 0; cy < P->cycles; cy++) {
            double d = g[1 + cy * pc + k] - m;
            s2 += d * d;
        }
        spread[k] = P->cycles > 1 ? sqrt(s2 / (double)(P->cycles - 1)) : 0;
    }
    hsize_t dn = total + 1, dp = total, dk = pc;
    int rc = xb_h5_write_doubles(pg, "g", 1, &dn, g, "S", err);
    if (!rc) rc = xb_h5_write_doubles(pg, "pulse_volt", 1, &dp, pulse_v, "V", err);
    if (!rc) rc = xb_h5_write_doubles(pg, "g_c2c_std", 1, &dk, spread, "S", err);
    if (!rc) rc = xb_h5_attr_set_int64(pg, ".", "pulses", (int64_t)P->pulses, err);
    if (!rc) rc = xb_h5_attr_set_int64(pg, ".", "cycles", (int64_t)P->cycles, err);
    if (!rc) rc = xb_h5_attr_set_double(pg, ".", "pulse_width_s", T->pl.width_s, err);
    if (!rc) rc = xb_h5_attr_set_double(pg, ".", "up_volt", T->pl.up_volt, err);
    if (!rc) rc = xb_h5_attr_set_double(pg, ".", "down_volt", T->pl.down_volt, err);
    if (!rc) rc = xb_h5_attr_set_double(pg, ".", "series_ohm", T->pl.series_ohm, err);
    if (!rc) rc = xb_h5_write_doubles(pg, "pulse_width", 1, &dp, o->width + T->n_pre, "s", err);
    if (!rc) rc = xb_h5_attr_set_double(pg, ".", "c2c_sigma", P->c2c_sigma, err);
    if (!rc && P->c2c_seed) rc = xb_h5_attr_set_int64(pg, ".", "c2c_seed", (int64_t)P->c2c_seed, err);
    free(spread);
    free(pulse_v);
    return rc;
}

/* Every train: train_g, train_pulse_width, train_energy (devices x starts x ...), the
 * slot plan train_direction / train_pulse_volt (starts x slots), start_pulses, device_params. */
static int write_trains(const xb_char_point *P, const train_geom *T, const train_out *tr, hid_t pg, xb_error *err)
{
    const size_t D = P->devices, S = P->n_starts, K = T->K;
    double *g = malloc(D * S * (K + 1) * sizeof *g), *w = malloc(D * S * K * sizeof *w);
    double *e = malloc(D * S * K * sizeof *e), *pv = malloc(S * K * sizeof *pv);
    int64_t *dir = malloc(S * K * sizeof *dir), *sp = malloc(S * sizeof *sp);
    char *params = NULL;
    size_t plen = 0;
    FILE *pf = open_memstream(&params, &plen);
    int rc = XB_OK;
    if (!g || !w || !e || !pv || !dir || !sp || !pf) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    for (size_t d = 0; !rc && d < D; d++)
        for (size_t s = 0; s < S; s++) {
            const train_out *o = &tr[d * S + s];
            memcpy(g + (d * S + s) * (K + 1), o->g, (K + 1) * sizeof *g);
            memcpy(w + (d * S + s) * K, o->width, K * sizeof *w);
            memcpy(e + (d * S + s) * K, o->energy, K * sizeof *e);
            if (s == 0) fprintf(pf, "device %zu: %s\n", d, o->inst ? o->inst : "");
        }
    for (size_t s = 0; !rc && s < S; s++) {
        sp[s] = P->start_pulses[s];
        for (size_t k = 0; k < K; k++) {
            dir[s * K + k] = slot_dir(P, T, P->start_pulses[s], k);
            pv[s * K + k] = slot_amp(T, (int)dir[s * K + k]);
        }
    }
    if (pf && fclose(pf) != 0 && !rc) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    hsize_t d3g[3] = {D, S, K + 1}, d3[3] = {D, S, K}, d2[2] = {S, K}, d1 = S;
    if (!rc) rc = xb_h5_write_doubles(pg, "train_g", 3, d3g, g, "S", err);
    if (!rc) rc = xb_h5_write_doubles(pg, "train_pulse_width", 3, d3, w, "s", err);
    if (!rc) rc = xb_h5_write_doubles(pg, "train_energy", 3, d3, e, "J", err);
    if (!rc) rc = xb_h5_write_int64s(pg, "train_direction", 2, d2, dir, "1", err);
    if (!rc) rc = xb_h5_write_doubles(pg, "train_pulse_volt", 2, d2, pv, "V", err);
    if (!rc) rc = xb_h5_write_int64s(pg, "start_pulses", 1, &d1, sp, "1", err);
    if (!rc) rc = xb_h5_write_text(pg, "device_params", params ? params : "", err);
    if (!rc) rc = xb_h5_attr_set_int64(pg, ".", "devices", (int64_t)D, err);
    if (!rc) rc = xb_h5_attr_set_int64(pg, ".", "starts", (int64_t)S, err);
    if (!rc) rc = xb_h5_attr_set_int64(pg, ".", "preset_slots", (int64_t)T->n_pre, err);
    if (!rc) rc = xb_h5_attr_set_int64(pg, ".", "var_d2d", P->array.var_d2d, err);
    if (!rc) rc = xb_h5_attr_set_double(pg, ".", "slot_period_s", T->period, err);
    if (!rc) rc = xb_h5_attr_set_double(pg, ".", "read_window_s", T->t_win, err);
    if (!rc) rc = xb_h5_attr_set_double(pg, ".", "edge_s", T->pl.edge_s, err);
    free(g);
    free(w);
    free(e);
    free(pv);
    free(dir);
    free(sp);
    free(params);
    return rc;
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
    if (P->devices < 1 || P->n_starts < 1 || P->n_starts > XB_CHAR_PROGRAM_MAX_STARTS) {
        H5Gclose(pg);
        return xb_errorf(err, XB_EINPUT, "program: devices and start states must be >= 1 (start states <= %d)",
                         XB_CHAR_PROGRAM_MAX_STARTS);
    }
    train_geom T;
    rc = geom_init(P, &pl, &T, err);
    const size_t nt = P->devices * P->n_starts;
    train_out *tr = rc ? NULL : calloc(nt, sizeof *tr);
    if (!rc && !tr) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    for (size_t k = 0; !rc && k < nt; k++) {
        rc = run_train(P, eo, &T, k / P->n_starts, k % P->n_starts, &tr[k], err);
        if (rc && P->devices * P->n_starts > 1)
            xb_error_prefix(err, "device %zu, start %ld: ", k / P->n_starts, P->start_pulses[k % P->n_starts]);
        /* the deck of the first train (or of the one that failed) stays with the point, for
         * a rerun by hand */
        if ((k == 0 || rc) && tr[k].deck) {
            if (xb_h5_exists(pg, "netlist")) xb_h5_delete(pg, "netlist", NULL);
            int r2 = xb_h5_write_text(pg, "netlist", tr[k].deck, rc ? NULL : err);
            if (!rc) rc = r2;
            if (!rc) rc = xb_h5_attr_set_string(pg, ".", "solver", tr[k].solver, err);
        }
    }
    if (!rc) rc = write_first_train(P, &T, &tr[0], pg, err);
    if (!rc) rc = write_trains(P, &T, tr, pg, err);
    for (size_t k = 0; tr && k < nt; k++) train_out_free(&tr[k]);
    free(tr);
    free(T.t_slot);
    H5Gclose(pg);
    if (rc) xb_error_prefix(err, "program curves: ");
    return rc;
}
