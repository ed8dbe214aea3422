/* One sweep point: static MVM samples (programmed G, inputs, circuit and ideal currents,
 * errors), the IR-drop map, single-cell read schemes, the transient read and the
 * programming curves, drift records and the array programmed in circuit ([write]), written
 * into the point's HDF5 group (docs/hdf5-results.md).  MVM, reads and transient run on the
 * point's engine (native or spice; `auto` resolved by the campaign); an `auto` point picked
 * for the check re-solves them in ngspice. */
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "characterize/char_internal.h"
#include "xbar/characterize.h"
#include "xbar/h5.h"

double xb_char_rel_l2(const double *a, const double *b, size_t n, size_t stride)
{
    double num = 0, den = 0;
    for (size_t k = 0; k < n; k++) {
        double d = a[k * stride] - b[k * stride];
        num += d * d;
        den += b[k * stride] * b[k * stride];
    }
    if (den == 0) return num == 0 ? 0 : INFINITY;
    return sqrt(num / den);
}

/* Seeded generator for stream `stream` of a point (independent of the order of work). */
static gsl_rng *rng_for(uint64_t seed, uint64_t stream)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r) return NULL;
    uint64_t s = seed ^ (stream * 0x9E3779B97F4A7C15ULL);
    s ^= s >> 31;
    gsl_rng_set(r, (unsigned long)(s ? s : 1));
    return r;
}

static void random_inputs(const xb_char_point *P, gsl_rng *r, xb_matrix *v, unsigned long *xs)
{
    const double vr = P->array.v_read_volt;
    for (size_t k = 0; k < v->rows; k++) {
        double *row = xb_matrix_row(v, k);
        switch (P->input) {
        case XB_CHAR_INPUT_SPARSE:
            for (size_t i = 0; i < v->cols; i++)
                row[i] = gsl_rng_uniform(r) < P->input_density ? vr * gsl_rng_uniform_pos(r) : 0.0;
            break;
        case XB_CHAR_INPUT_ONEHOT: {
            memset(row, 0, v->cols * sizeof *row);
            row[gsl_rng_uniform_int(r, v->cols)] = vr;
            break;
        }
        case XB_CHAR_INPUT_BITSERIAL: {
            /* bit-serial: random integers x_i of bit_levels bits, applied one bit-plane per
             * vector (LSB first) as 0 or v_read; new integers every bit_levels vectors */
            const size_t b = (size_t)P->bit_levels, plane = k % b;
            if (plane == 0)
                for (size_t i = 0; i < v->cols; i++) xs[i] = gsl_rng_uniform_int(r, 1ul << b);
            for (size_t i = 0; i < v->cols; i++) row[i] = ((xs[i] >> plane) & 1ul) ? vr : 0.0;
            break;
        }
        case XB_CHAR_INPUT_UNIFORM:
        default:
            for (size_t i = 0; i < v->cols; i++) row[i] = vr * gsl_rng_uniform(r);
            break;
        }
    }
}

static void random_targets(const xb_array_params *p, gsl_rng *r, xb_matrix *g)
{
    for (size_t k = 0; k < g->rows * g->cols; k++)
        g->data[k] = p->g_min_siemens + (p->g_max_siemens - p->g_min_siemens) * gsl_rng_uniform(r);
}

/* The engine class that solves the point's static reads (xb_engine_builtins): the requested
 * engine, with `auto` resolved by the campaign (use_native). */
static const char *point_engine_name(const xb_char_point *P)
{
    return P->engine == XB_CHAR_ENGINE_IDEAL ? "ideal" : P->use_native ? "native" : "spice";
}

static int point_engine(const char *name, const xb_engine_opts *eo, xb_engine **out, xb_error *err)
{
    xb_engine_config cfg;
    xb_engine_config_default(&cfg);
    cfg.opts = eo;
    return xb_engine_new_by_name(xb_engine_builtins, name, &cfg, out, err);
}

/* The ngspice deck of one MVM (stock `ngspice -b` prints the column currents). */
static int mvm_deck(const xb_engine_opts *eo, const xb_array_params *p, const xb_matrix *g,
                    const xb_matrix *v, char **deck, xb_error *err)
{
    xb_netlist *nl = NULL;
    int rc = xb_netlist_mvm_new(p, g, &nl, err);
    if (rc) return rc;
    xb_engine_batch b = {
        .title = "xbar characterize: MVM of one sample",
        .body = xb_netlist_body(nl),
        .n_sources = xb_netlist_n_sources(nl),
        .sources = (const xb_engine_source *)xb_netlist_sources(nl),
        .k_vectors = v->rows,
        .values = v->data,
        .n_outputs = xb_netlist_n_outputs(nl),
        .outputs = xb_netlist_outputs(nl),
    };
    *deck = xb_engine_batch_deck(eo, &b, err);
    xb_netlist_free(nl);
    return *deck ? XB_OK : (err && err->code ? err->code : XB_ERUNTIME);
}

/* Single-cell read schemes: worst case (all unselected cells at g_max), the far corner
 * cell (row 0, last column: farthest from its driver and from its sense node), selected
 * cell ON (g_max) and OFF (g_min); the same cell alone (1x1 array) gives the current
 * without sneak paths.  The reads run on the point's engine; an `auto` point picked for the
 * ngspice re-check (spice_check) reads its ON and OFF currents again in ngspice and records
 * the largest relative difference (read/spice_check_rel). */
typedef struct {
    double *i_on, *i_off; /* per scheme */
} read_currents;

static int read_on_off(const xb_char_point *P, xb_engine *eng, const int *sch, size_t nsch, xb_matrix *gm,
                       read_currents *out, xb_error *err)
{
    const xb_array_params *p = &P->array;
    const size_t sr = 0, sc = p->cols - 1;
    int rc = XB_OK;
    for (size_t s = 0; s < nsch && !rc; s++) {
        for (int on = 0; on < 2 && !rc; on++) {
            for (size_t k = 0; k < p->rows * p->cols; k++) gm->data[k] = p->g_max_siemens;
            gm->data[sr * p->cols + sc] = on ? p->g_max_siemens : p->g_min_siemens;
            rc = xb_engine_cell_read_once(eng, p, gm, (xb_read_scheme)sch[s], sr, sc,
                                          on ? &out->i_on[s] : &out->i_off[s], err);
            if (rc) xb_error_prefix(err, "read scheme %s: ", xb_read_scheme_name((xb_read_scheme)sch[s]));
        }
    }
    return rc;
}

/* The ngspice re-check of an `auto` point's reads: largest |native - spice| / |spice| over
 * the ON and OFF reads of every scheme, written as read/spice_check_rel (or
 * spice_check_error when ngspice could not finish: the native reads stand). */
static int read_spice_check(const xb_char_point *P, const xb_engine_opts *eo, const int *sch, size_t nsch,
                            xb_matrix *gm, const read_currents *nat, hid_t rg, xb_error *err)
{
    double *on = calloc(nsch, sizeof *on), *off = calloc(nsch, sizeof *off);
    if (!on || !off) {
        free(on);
        free(off);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    read_currents sp = {on, off};
    xb_error ce;
    xb_error_clear(&ce);
    xb_engine *es = NULL;
    int rs = point_engine("spice", eo, &es, &ce);
    if (!rs) rs = read_on_off(P, es, sch, nsch, gm, &sp, &ce);
    xb_engine_free(es);
    int rc;
    if (rs == XB_OK) {
        double d = 0;
        for (size_t s = 0; s < nsch; s++) {
            double a = fabs(nat->i_on[s] - on[s]) / fabs(on[s]), b = fabs(nat->i_off[s] - off[s]) / fabs(off[s]);
            if (a > d) d = a;
            if (b > d) d = b;
        }
        hsize_t dn = nsch;
        rc = xb_h5_write_doubles(rg, "i_read_on_spice_check", 1, &dn, on, "A", err);
        if (!rc) rc = xb_h5_write_doubles(rg, "i_read_off_spice_check", 1, &dn, off, "A", err);
        if (!rc) rc = xb_h5_attr_set_double(rg, ".", "spice_check_rel", d, err);
    } else {
        rc = xb_h5_attr_set_string(rg, ".", "spice_check_error", ce.msg, err);
    }
    free(on);
    free(off);
    return rc;
}

static int read_schemes(const xb_char_point *P, xb_engine *eng, const xb_engine_opts *eo, hid_t g, xb_error *err)
{
    const xb_array_params *p = &P->array;
    int rc = XB_OK;
    size_t nsch = 0;
    int sch[4];
    for (int s = XB_READ_FLOAT; s <= XB_READ_V3; s++)
        if (P->read_schemes & (1u << s)) sch[nsch++] = s;
    if (!nsch) return XB_OK;
    double alone[2];
    {
        xb_array_params p1 = *p;
        p1.rows = p1.cols = 1;
        xb_matrix *g1 = xb_matrix_new(1, 1);
        if (!g1) return xb_errorf(err, XB_ERUNTIME, "out of memory");
        double vr = p->v_read_volt;
        xb_matrix v1 = {1, 1, &vr}, i1 = {1, 1, NULL};
        for (int on = 0; on < 2 && !rc; on++) {
            g1->data[0] = on ? p->g_max_siemens : p->g_min_siemens;
            i1.data = &alone[on];
            rc = xb_engine_mvm_once(eng, &p1, g1, &v1, &i1, err);
        }
        xb_matrix_free(g1);
        if (rc) return xb_error_prefix(err, "read, cell alone: "), rc;
    }
    xb_matrix *gm = xb_matrix_new(p->rows, p->cols);
    double *i_on = calloc(nsch, sizeof *i_on), *i_off = calloc(nsch, sizeof *i_off);
    double *sneak = calloc(nsch, sizeof *sneak), *margin = calloc(nsch, sizeof *margin);
    if (!gm || !i_on || !i_off || !sneak || !margin) {
        rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
        goto done;
    }
    const size_t sr = 0, sc = p->cols - 1;
    read_currents cur = {i_on, i_off};
    rc = read_on_off(P, eng, sch, nsch, gm, &cur, err);
    for (size_t s = 0; s < nsch && !rc; s++) {
        sneak[s] = i_off[s] - alone[0];
        margin[s] = i_on[s] != 0 ? (i_on[s] - i_off[s]) / i_on[s] : 0;
    }
    if (!rc) {
        hsize_t d = nsch;
        char names[64] = "";
        for (size_t s = 0; s < nsch; s++) {
            if (s) strcat(names, ",");
            strcat(names, xb_read_scheme_name((xb_read_scheme)sch[s]));
        }
        hid_t rg;
        rc = xb_h5_group_create(g, "read", &rg, err);
        if (!rc) {
            if (!rc) rc = xb_h5_attr_set_string(rg, ".", "schemes", names, err);
            if (!rc) rc = xb_h5_attr_set_int64(rg, ".", "sel_row", (int64_t)sr, err);
            if (!rc) rc = xb_h5_attr_set_int64(rg, ".", "sel_col", (int64_t)sc, err);
            if (!rc) rc = xb_h5_attr_set_string(rg, ".", "pattern", "unselected cells at g_max (worst case)", err);
            if (!rc && P->use_native) rc = xb_h5_attr_set_string(rg, ".", "engine", "native", err);
            if (!rc) rc = xb_h5_write_doubles(rg, "i_read_on", 1, &d, i_on, "A", err);
            if (!rc) rc = xb_h5_write_doubles(rg, "i_read_off", 1, &d, i_off, "A", err);
            if (!rc) rc = xb_h5_write_doubles(rg, "i_sneak", 1, &d, sneak, "A", err);
            if (!rc) rc = xb_h5_write_doubles(rg, "margin", 1, &d, margin, "1", err);
            hsize_t d2 = 2;
            if (!rc) rc = xb_h5_write_doubles(rg, "i_cell_alone", 1, &d2, alone, "A", err);
            if (!rc && P->spice_check && P->use_native) rc = read_spice_check(P, eo, sch, nsch, gm, &cur, rg, err);
            xb_h5_group_close(rg);
        }
    }
done:
    xb_matrix_free(gm);
    free(i_on);
    free(i_off);
    free(sneak);
    free(margin);
    return rc;
}

/* The native read transient of g0 (the point's engine, through the interface): the same
 * type as xb_char_transient_run's. */
static int transient_native(const xb_char_point *P, xb_engine *eng, const xb_matrix *g0, const double *v0,
                            xb_char_transient *t, xb_error *err)
{
    memset(t, 0, sizeof *t);
    xb_engine_tran_opts o;
    xb_engine_tran_opts_default(&o);
    o.t_rise_s = P->t_rise_s;
    o.t_read_s = P->t_read_s;
    o.settle_tol = P->settle_tol;
    o.t_points = P->t_points;
    xb_engine_tile *tile = NULL;
    int rc = xb_engine_program(eng, &P->array, g0, &tile, err);
    if (!rc) rc = xb_engine_transient(tile, v0, &o, t, err);
    xb_engine_tile_free(tile);
    if (rc) xb_engine_tran_result_clear(t);
    return rc;
}

/* |I_a(t) - I_b(t)| over b's time points (a interpolated linearly), largest over columns and
 * times, relative to the largest final column current of b. */
static double wave_diff(const xb_char_transient *a, const xb_char_transient *b, size_t cols)
{
    double ref = 0, d = 0;
    for (size_t j = 0; j < cols; j++)
        if (fabs(b->i_final_amp[j]) > ref) ref = fabs(b->i_final_amp[j]);
    size_t q = 0;
    for (size_t k = 0; k < b->n_time; k++) {
        double t = b->time_s[k];
        while (q + 2 < a->n_time && a->time_s[q + 1] < t) q++;
        double t0 = a->time_s[q], t1 = a->time_s[q + 1 < a->n_time ? q + 1 : q];
        double w = t1 > t0 ? (t - t0) / (t1 - t0) : 0;
        if (w < 0) w = 0;
        if (w > 1) w = 1;
        for (size_t j = 0; j < cols; j++) {
            double ia = a->i_col_amp[q * cols + j] * (1 - w) +
                        a->i_col_amp[(q + 1 < a->n_time ? q + 1 : q) * cols + j] * w;
            double e = fabs(ia - b->i_col_amp[k * cols + j]);
            if (e > d) d = e;
        }
    }
    return ref > 0 ? d / ref : d;
}

/* The ngspice re-check of a native transient: settling time, read energy and waveforms
 * against xb_char_transient_run on the same circuit (spice_check_* attributes, or
 * spice_check_error when ngspice could not finish). */
static int transient_spice_check(const xb_char_point *P, const xb_engine_opts *eo, const xb_matrix *g0,
                                 const double *v0, const xb_char_transient *nat, hid_t tg, xb_error *err)
{
    xb_char_transient sp;
    xb_error ce;
    xb_error_clear(&ce);
    int rs = xb_char_transient_run(eo, &P->array, g0, v0, P->t_rise_s, P->t_read_s, P->settle_tol, P->t_points, &sp,
                                   NULL, &ce);
    if (rs) return xb_h5_attr_set_string(tg, ".", "spice_check_error", ce.msg, err);
    int rc = xb_h5_attr_set_double(tg, ".", "spice_check_t_settle_max_s", sp.t_settle_max_s, err);
    if (!rc) rc = xb_h5_attr_set_double(tg, ".", "spice_check_e_read_joule", sp.e_read_joule, err);
    if (!rc)
        rc = xb_h5_attr_set_double(tg, ".", "spice_check_settle_rel",
                                   fabs(nat->t_settle_max_s - sp.t_settle_max_s) / sp.t_settle_max_s, err);
    if (!rc)
        rc = xb_h5_attr_set_double(tg, ".", "spice_check_energy_rel",
                                   fabs(nat->e_read_joule - sp.e_read_joule) / fabs(sp.e_read_joule), err);
    if (!rc) rc = xb_h5_attr_set_double(tg, ".", "spice_check_wave_rel", wave_diff(nat, &sp, P->array.cols), err);
    xb_char_transient_clear(&sp);
    return rc;
}

/* Transient read of sample 0's programmed G with the input vector v0 (length rows): the
 * native engine on native points (eng), ngspice otherwise. */
static int transient_part(const xb_char_point *P, const xb_engine_opts *eo, xb_engine *eng, const xb_matrix *g0,
                          const double *v0, hid_t g, xb_error *err)
{
    xb_char_transient t;
    char *deck = NULL;
    int rc = P->use_native ? transient_native(P, eng, g0, v0, &t, err)
                           : xb_char_transient_run(eo, &P->array, g0, v0, P->t_rise_s, P->t_read_s, P->settle_tol,
                                                   P->t_points, &t, &deck, err);
    if (rc) return xb_error_prefix(err, "transient: "), rc;
    hid_t tg;
    rc = xb_h5_group_create(g, "transient", &tg, err);
    if (!rc) {
        const size_t cols = P->array.cols;
        hsize_t dc = cols, dt = t.n_time, dtc[2] = {t.n_time, cols};
        if (!rc) rc = xb_h5_attr_set_double(tg, ".", "t_settle_max_s", t.t_settle_max_s, err);
        if (!rc) rc = xb_h5_attr_set_double(tg, ".", "e_read_joule", t.e_read_joule, err);
        if (!rc) rc = xb_h5_attr_set_double(tg, ".", "e_per_mac_joule",
                                            t.e_read_joule / (double)(P->array.rows * cols), err);
        if (!rc) rc = xb_h5_attr_set_double(tg, ".", "i_supply_peak_amp", t.i_supply_peak_amp, err);
        if (!rc) rc = xb_h5_attr_set_double(tg, ".", "t_read_s", P->t_read_s, err);
        if (!rc) rc = xb_h5_attr_set_double(tg, ".", "t_rise_s", P->t_rise_s, err);
        if (!rc) rc = xb_h5_attr_set_double(tg, ".", "settle_tolerance", P->settle_tol, err);
        if (!rc) rc = xb_h5_attr_set_double(tg, ".", "c_wire_farad", P->array.c_wire_farad, err);
        if (!rc) rc = xb_h5_attr_set_int64(tg, ".", "settled", t.settled, err);
        if (!rc) rc = xb_h5_attr_set_string(tg, ".", "input", "every row steps to v_read, G of sample 0", err);
        if (!rc && P->use_native) rc = xb_h5_attr_set_string(tg, ".", "engine", "native", err);
        if (!rc) rc = xb_h5_write_doubles(tg, "t_settle", 1, &dc, t.t_settle_s, "s", err);
        if (!rc) rc = xb_h5_write_doubles(tg, "i_peak", 1, &dc, t.i_peak_amp, "A", err);
        if (!rc) rc = xb_h5_write_doubles(tg, "i_final", 1, &dc, t.i_final_amp, "A", err);
        if (!rc) rc = xb_h5_write_doubles(tg, "time", 1, &dt, t.time_s, "s", err);
        if (!rc) rc = xb_h5_write_doubles(tg, "i_col", 2, dtc, t.i_col_amp, "A", err);
        if (!rc) rc = xb_h5_write_doubles(tg, "p_supply", 1, &dt, t.p_supply_watt, "W", err);
        if (!rc && deck) rc = xb_h5_write_text(tg, "netlist", deck, err);
        if (!rc && P->transient_check) rc = transient_spice_check(P, eo, g0, v0, &t, tg, err);
        xb_h5_group_close(tg);
    }
    free(deck);
    xb_char_transient_clear(&t);
    return rc;
}

/* PCM drift record of sample 0's programmed G (every device): one seeded drift exponent per
 * device for all times (the same drift seed at every time), then one independent noisy read
 * per time -> /points/<p>/drift/t_s (T), g (T, n) (input of the fit's /stats/pcm_drift). */
static int drift_part(const xb_char_point *P, const xb_matrix *g0, hid_t g, xb_error *err)
{
    const xb_array_params *p = &P->array;
    const size_t T = P->drift_n_times, n = p->rows * p->cols;
    const uint64_t seed_drift = P->seed ^ 0x5DEECE66DULL;
    double *gt = malloc(T * n * sizeof *gt);
    xb_matrix *gnow = xb_matrix_new(p->rows, p->cols), *gread = xb_matrix_new(p->rows, p->cols);
    int rc = XB_OK;
    if (!gt || !gnow || !gread) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    for (size_t t = 0; t < T && !rc; t++) {
        const double ts = P->drift_times_s[t];
        rc = xb_netlist_drift(p, g0, ts, seed_drift, -1, gnow, err);
        if (!rc) rc = xb_netlist_read_noise(p, g0, gnow, ts, seed_drift + 7919ULL * (t + 1), gread, err);
        if (!rc) memcpy(gt + t * n, gread->data, n * sizeof(double));
    }
    if (rc) xb_error_prefix(err, "drift: ");
    hid_t dg;
    if (!rc) rc = xb_h5_group_create(g, "drift", &dg, err);
    if (!rc) {
        hsize_t dt = T, dgn[2] = {T, n}, dn = n;
        rc = xb_h5_write_doubles(dg, "t_s", 1, &dt, P->drift_times_s, "s", err);
        if (!rc) rc = xb_h5_write_doubles(dg, "g", 2, dgn, gt, "S", err);
        if (!rc) rc = xb_h5_write_doubles(dg, "g_prog", 1, &dn, g0->data, "S", err);
        if (!rc) rc = xb_h5_attr_set_double(dg, ".", "t0_s", XB_DRIFT_T0_S, err);
        if (!rc)
            rc = xb_h5_attr_set_string(dg, ".", "source",
                                       "sample 0 programmed G (row-major), drifted to each t_s, one noisy read each",
                                       err);
        xb_h5_group_close(dg);
    }
    free(gt);
    xb_matrix_free(gnow);
    xb_matrix_free(gread);
    return rc;
}

static int write_array_attrs(hid_t g, const xb_char_point *P, xb_error *err)
{
    const xb_array_params *p = &P->array;
    int rc = XB_OK;
    if (!rc) rc = xb_h5_attr_set_string(g, ".", "key", P->key, err);
    if (!rc) rc = xb_h5_attr_set_int64(g, ".", "index", (int64_t)P->index, err);
    if (!rc) rc = xb_h5_attr_set_int64(g, ".", "rows", (int64_t)p->rows, err);
    if (!rc) rc = xb_h5_attr_set_int64(g, ".", "cols", (int64_t)p->cols, err);
    if (!rc) rc = xb_h5_attr_set_string(g, ".", "device", xb_device_name(p->device), err);
    if (!rc) rc = xb_h5_attr_set_string(g, ".", "cell", xb_cell_name(p->cell), err);
    struct { const char *n; double v; } d[] = {
        {"r_wire_row_ohm", p->r_wire_row_ohm}, {"r_wire_col_ohm", p->r_wire_col_ohm},
        {"r_driver_ohm", p->r_driver_ohm},     {"r_sense_ohm", p->r_sense_ohm},
        {"c_wire_farad", p->c_wire_farad},     {"v_read_volt", p->v_read_volt},
        {"g_min_siemens", p->g_min_siemens},   {"g_max_siemens", p->g_max_siemens},
        {"v_gate_volt", p->v_gate_volt},       {"stuck_on_rate", p->stuck_on_rate},
        {"stuck_off_rate", p->stuck_off_rate}, {"input_density", P->input_density},
    };
    for (size_t k = 0; k < sizeof d / sizeof d[0] && !rc; k++) rc = xb_h5_attr_set_double(g, ".", d[k].n, d[k].v, err);
    if (!rc) rc = xb_h5_attr_set_int64(g, ".", "var_program", p->var_program, err);
    if (!rc) rc = xb_h5_attr_set_int64(g, ".", "var_d2d", p->var_d2d, err);
    if (!rc) rc = xb_h5_attr_set_int64(g, ".", "seed", (int64_t)P->seed, err);
    if (!rc) rc = xb_h5_attr_set_string(g, ".", "engine_requested", xb_char_engine_name(P->engine), err);
    if (!rc)
        rc = xb_h5_attr_set_string(g, ".", "engine", point_engine_name(P), err);
    if (!rc) rc = xb_h5_attr_set_string(g, ".", "input", xb_char_input_name(P->input), err);
    if (!rc) rc = xb_h5_attr_set_int64(g, ".", "bit_levels", P->bit_levels, err);
    if (!rc) rc = xb_h5_attr_set_int64(g, ".", "samples", (int64_t)P->samples, err);
    if (!rc) rc = xb_h5_attr_set_int64(g, ".", "monte_carlo", (int64_t)P->monte_carlo, err);
    if (!rc) rc = xb_h5_attr_set_int64(g, ".", "vectors", (int64_t)P->vectors, err);
    return rc;
}

/* [write]: sample 0's targets programmed into the array in circuit (xb_char_write; the
 * point's seed for the noise draws) -> /points/<p>/write, the layout of the programming file
 * (docs/hdf5-program.md).  The round solver follows the point's engine: native where the
 * point solves natively (engine = native, or auto above auto_native_above) and the native
 * solver has the device, ngspice otherwise; its name is the group's "solver" attribute. */
static int write_part(const xb_char_point *P, const xb_engine_opts *eo, const double *g_target, hid_t g,
                      xb_error *err)
{
    xb_array_params p = P->array;
    p.selector = (xb_selector_kind)P->write_selector;
    xb_write_opts o;
    xb_write_opts_default(&o);
    o.scheme = (xb_write_scheme)P->write_scheme;
    o.verify = P->write_verify;
    o.tol = P->write_tol;
    o.max_pulses = P->write_max_pulses;
    o.c2c = P->write_c2c;
    o.seed = P->seed;
    xb_matrix gt = {p.rows, p.cols, (double *)g_target};
    xb_write_result r;
    const xb_write_solver *solver =
        P->use_native && xb_engine_native_write_supports(&p) ? &xb_write_solver_native : &xb_write_solver_spice;
    int rc = xb_char_write(eo, &p, &gt, &o, solver, &r, err);
    hid_t wg = -1;
    if (!rc) rc = xb_h5_group_create(g, "write", &wg, err);
    if (!rc) rc = xb_char_write_h5(wg, &p, &o, &r, err);
    if (!rc) rc = xb_h5_attr_set_string(wg, ".", "solver", solver->name, err);
    xb_h5_group_close(wg);
    xb_write_result_clear(&r);
    if (rc) xb_error_prefix(err, "write: ");
    return rc;
}

int xb_char_point_compute(const xb_campaign *c, size_t k, const xb_engine_opts *eo, hid_t g,
                          xb_error *err)
{
    const xb_char_point *P = xb_char_campaign_point(c, k);
    if (!P) return xb_errorf(err, XB_EINPUT, "point %zu: out of range", k);
    const xb_array_params *p = &P->array;
    const size_t R = p->rows, C = p->cols, S = P->samples, M = P->monte_carlo, K = P->vectors;
    const size_t N = S * M;
    int rc = write_array_attrs(g, P, err);
    if (rc) return rc;

    double *gt_all = malloc(S * R * C * sizeof *gt_all);
    double *g_all = malloc(N * R * C * sizeof *g_all);
    double *v_all = malloc(N * K * R * sizeof *v_all);
    double *ic_all = malloc(N * K * C * sizeof *ic_all);
    double *ii_all = malloc(N * K * C * sizeof *ii_all);
    double *e_out = malloc(N * C * sizeof *e_out);
    double *e_tot = malloc(N * sizeof *e_tot);
    double *e_tgt = malloc(N * sizeof *e_tgt); /* vs the target product V.G_target */
    xb_matrix *gt = xb_matrix_new(R, C), *gp = xb_matrix_new(R, C), *v = xb_matrix_new(K, R);
    xb_matrix *ic = xb_matrix_new(K, C), *ii = xb_matrix_new(K, C), *it = xb_matrix_new(K, C);
    xb_matrix *g0 = xb_matrix_new(R, C), *v0 = xb_matrix_new(K, R);
    gsl_rng *rg = NULL, *rv = NULL;
    char *deck = NULL;
    xb_engine *eng = NULL;
    unsigned long *xs = malloc(R * sizeof *xs); /* bit-serial integers */
    if (!gt_all || !g_all || !v_all || !ic_all || !ii_all || !e_out || !e_tot || !gt || !gp || !v || !ic ||
        !ii || !g0 || !v0 || !xs || !e_tgt || !it) {
        rc = xb_errorf(err, XB_ERUNTIME, "point %s: out of memory", P->name);
        goto done;
    }
    if ((rc = point_engine(point_engine_name(P), eo, &eng, err))) goto done;
    double t0 = xb_now_s();
    for (size_t s = 0; s < S && !rc; s++) {
        rg = rng_for(P->seed, 2 * s + 1);
        rv = rng_for(P->seed, 2 * s + 2);
        if (!rg || !rv) { rc = xb_errorf(err, XB_ERUNTIME, "out of memory"); break; }
        random_targets(p, rg, gt);
        memcpy(gt_all + s * R * C, gt->data, R * C * sizeof(double));
        for (size_t m = 0; m < M && !rc; m++) {
            size_t n = s * M + m;
            xb_array_params pv = *p;
            pv.seed = P->seed + 1000003ULL * (s + 1) + m; /* variability realisation (s, m) */
            rc = xb_netlist_program(&pv, gt, gp, err);
            if (rc) break;
            random_inputs(P, rv, v, xs);
            rc = xb_engine_mvm_ideal(gp, v, ii, err);
            if (!rc) rc = xb_engine_mvm_ideal(gt, v, it, err);
            if (!rc) rc = xb_engine_mvm_once(eng, p, gp, v, ic, err);
            if (rc) {
                xb_error_prefix(err, "sample %zu: ", n);
                break;
            }
            memcpy(g_all + n * R * C, gp->data, R * C * sizeof(double));
            memcpy(v_all + n * K * R, v->data, K * R * sizeof(double));
            memcpy(ic_all + n * K * C, ic->data, K * C * sizeof(double));
            memcpy(ii_all + n * K * C, ii->data, K * C * sizeof(double));
            for (size_t j = 0; j < C; j++) e_out[n * C + j] = xb_char_rel_l2(ic->data + j, ii->data + j, K, C);
            e_tot[n] = xb_char_rel_l2(ic->data, ii->data, K * C, 1);
            e_tgt[n] = xb_char_rel_l2(ic->data, it->data, K * C, 1);
            if (n == 0) {
                memcpy(g0->data, gp->data, R * C * sizeof(double));
                memcpy(v0->data, v->data, K * R * sizeof(double));
            }
        }
        gsl_rng_free(rg);
        gsl_rng_free(rv);
        rg = rv = NULL;
    }
    if (rc) goto done;
    double t_static = xb_now_s() - t0;

    hid_t mg;
    rc = xb_h5_group_create(g, "mvm", &mg, err);
    if (rc) goto done;
    {
        hsize_t dgt[3] = {S, R, C}, dg[3] = {N, R, C}, dv[3] = {N, K, R}, di[3] = {N, K, C}, de[2] = {N, C}, dn = N;
        if (!rc) rc = xb_h5_write_doubles(mg, "g_target", 3, dgt, gt_all, "S", err);
        if (!rc) rc = xb_h5_write_doubles(mg, "g", 3, dg, g_all, "S", err);
        if (!rc) rc = xb_h5_write_doubles(mg, "v", 3, dv, v_all, "V", err);
        if (!rc) rc = xb_h5_write_doubles(mg, "i_circuit", 3, di, ic_all, "A", err);
        if (!rc) rc = xb_h5_write_doubles(mg, "i_ideal", 3, di, ii_all, "A", err);
        if (!rc) rc = xb_h5_write_doubles(mg, "err_out", 2, de, e_out, "1", err);
        if (!rc) rc = xb_h5_write_doubles(mg, "err_total", 1, &dn, e_tot, "1", err);
        if (!rc) rc = xb_h5_write_doubles(mg, "err_total_target", 1, &dn, e_tgt, "1", err);
        double tmean = 0;
        for (size_t n = 0; n < N; n++) tmean += e_tgt[n] / (double)N;
        if (!rc) rc = xb_h5_attr_set_double(mg, ".", "err_target_mean", tmean, err);
        double mean = 0, mx = 0;
        for (size_t n = 0; n < N; n++) {
            mean += e_tot[n] / (double)N;
            if (e_tot[n] > mx) mx = e_tot[n];
        }
        if (!rc) rc = xb_h5_attr_set_double(mg, ".", "err_total_mean", mean, err);
        if (!rc) rc = xb_h5_attr_set_double(mg, ".", "err_total_max", mx, err);
        if (!rc) rc = xb_h5_attr_set_double(mg, ".", "solve_s", t_static, err);
        if (!rc) rc = xb_h5_attr_set_string(mg, ".", "engine", xb_engine_name(eng), err);
    }
    /* auto engine: re-solve sample 0 in ngspice, record the disagreement */
    if (!rc && P->spice_check) {
        /* a check that cannot finish (timeout on a big array) does not void the native
         * results: it is recorded as spice_check_error */
        xb_error ce;
        xb_error_clear(&ce);
        xb_engine *sp = NULL;
        int rs = point_engine("spice", eo, &sp, &ce);
        if (!rs) rs = xb_engine_mvm_once(sp, p, g0, v0, ic, &ce);
        xb_engine_free(sp);
        if (rs == XB_OK) {
            double d = xb_char_rel_l2(ic_all, ic->data, K * C, 1);
            hsize_t di2[2] = {K, C};
            rc = xb_h5_write_doubles(mg, "i_spice_check", 2, di2, ic->data, "A", err);
            if (!rc) rc = xb_h5_attr_set_double(mg, ".", "spice_check_rel_l2", d, err);
        } else {
            rc = xb_h5_attr_set_string(mg, ".", "spice_check_error", ce.msg, err);
        }
    }
    /* IR-drop map: voltage across every cell of sample 0 with every row at v_read */
    if (!rc && P->engine != XB_CHAR_ENGINE_IDEAL) {
        xb_engine_native *ne = NULL;
        double *vin = malloc(R * sizeof *vin), *vc = malloc(R * C * sizeof *vc);
        xb_error e2;
        xb_error_clear(&e2);
        int r2 = (vin && vc) ? xb_engine_native_new(p, g0, &ne, &e2) : xb_errorf(&e2, XB_ERUNTIME, "out of memory");
        if (!r2) {
            for (size_t i = 0; i < R; i++) vin[i] = p->v_read_volt;
            r2 = xb_engine_native_cell_voltages(ne, vin, vc, &e2);
        }
        if (!r2) {
            hsize_t dm[2] = {R, C};
            rc = xb_h5_write_doubles(mg, "v_cell", 2, dm, vc, "V", err);
            double vmin = INFINITY;
            for (size_t q = 0; q < R * C; q++)
                if (vc[q] < vmin) vmin = vc[q];
            if (!rc) rc = xb_h5_attr_set_double(mg, ".", "v_cell_min_volt", vmin, err);
            if (!rc) rc = xb_h5_attr_set_string(mg, "v_cell", "input", "every row at v_read, sample 0, native engine", err);
            /* static read power at full-scale input: every driver sits at v_read, and the
             * static circuit's only path to ground is the sense nodes, so the power the
             * drivers deliver is v_read * (sum of the column currents) */
            xb_matrix vm1 = {1, R, vin};
            xb_matrix *i1 = xb_matrix_new(1, C);
            xb_error e3;
            xb_error_clear(&e3);
            if (!rc && i1 && xb_engine_native_mvm(ne, &vm1, i1, &e3) == XB_OK) {
                double isum = 0;
                for (size_t j = 0; j < C; j++) isum += i1->data[j];
                double pw = p->v_read_volt * isum;
                rc = xb_h5_attr_set_double(mg, ".", "p_read_static_watt", pw, err);
                if (!rc) rc = xb_h5_attr_set_double(mg, ".", "e_read_static_joule", pw * P->t_read_s, err);
                if (!rc)
                    rc = xb_h5_attr_set_double(mg, ".", "e_per_mac_static_joule", pw * P->t_read_s / (double)(R * C), err);
                if (!rc) rc = xb_h5_attr_set_double(mg, ".", "t_read_s", P->t_read_s, err);
            }
            xb_matrix_free(i1);
        } else if (!rc) {
            rc = xb_h5_attr_set_string(mg, ".", "v_cell_error", e2.msg, err);
        }
        xb_engine_native_free(ne);
        free(vin);
        free(vc);
    }
    /* provenance: the ngspice deck of sample 0 (all K vectors) */
    if (!rc && P->engine != XB_CHAR_ENGINE_IDEAL) {
        rc = mvm_deck(eo, p, g0, v0, &deck, err);
        if (!rc) rc = xb_h5_write_text(mg, "netlist", deck, err);
    }
    xb_h5_group_close(mg);
    if (rc) goto done;

    if (P->read_schemes) rc = read_schemes(P, eng, eo, g, err);
    if (!rc && P->transient) {
        /* full-scale input (every row at v_read): energies comparable across points */
        double *vfull = malloc(R * sizeof *vfull);
        if (!vfull) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
        for (size_t i = 0; vfull && i < R; i++) vfull[i] = p->v_read_volt;
        if (!rc) rc = transient_part(P, eo, eng, g0, vfull, g, err);
        free(vfull);
    }
    if (!rc && P->program) rc = xb_char_program_curves(P, eo, g, err);
    if (!rc && P->drift) rc = drift_part(P, g0, g, err);
    if (!rc && P->write) rc = write_part(P, eo, gt_all, g, err);

done:
    xb_engine_free(eng);
    gsl_rng_free(rg);
    gsl_rng_free(rv);
    free(deck);
    free(xs);
    free(gt_all);
    free(g_all);
    free(v_all);
    free(ic_all);
    free(ii_all);
    free(e_out);
    free(e_tot);
    free(e_tgt);
    xb_matrix_free(it);
    xb_matrix_free(gt);
    xb_matrix_free(gp);
    xb_matrix_free(v);
    xb_matrix_free(ic);
    xb_matrix_free(ii);
    xb_matrix_free(g0);
    xb_matrix_free(v0);
    if (rc) xb_error_prefix(err, "%s: ", P->name);
    return rc;
}
