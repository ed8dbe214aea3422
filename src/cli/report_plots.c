/* xbar report: plots that read point datasets (docs/results.md shows them).
 *
 *   settling_waveforms.png   I_col(t) / I_col(final) of the far column (last column: farthest
 *                            from the drivers along the rows) of every transient point, on a
 *                            time axis trimmed to the settling times
 *   i_col_waveforms.png      I_col(t) of the first, middle and last column of the largest
 *                            transient point
 *   energy_per_mac_tile.png  energy per MAC of a whole tile vs N: the array (read transient,
 *                            else the static read), DACs + drivers, sense (TIA / S&H), ADCs,
 *                            digital accumulation (periphery table, src/netlist/params.c)
 *   g_histogram.png          programmed conductances against their targets (first point)
 *   drift_histogram.png      G(t) at every read time of the drift record (first PCM point)
 *   model_parity.png         with --model: the fitted model's column currents against the
 *                            stored circuit currents (ngspice, or native on native points)
 */
#include "cli/report_plots.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xbar/fit.h"
#include "xbar/netlist.h"

/* Where the plots go: the report's staging directory, its gnuplot script, its PNG list. */
typedef struct {
    xb_stage *stage;
    FILE *gp;
    char (*names)[64];
    size_t max, *n;
} sink;

static FILE *open_dat(const sink *o, const char *name, xb_error *err)
{
    char fname[128];
    snprintf(fname, sizeof fname, "%s.dat", name);
    FILE *f = NULL;
    return xb_stage_fopen(o->stage, fname, 1, &f, err) == XB_OK ? f : NULL;
}

static int close_dat(const sink *o, FILE *f, xb_error *err) { return xb_stage_fclose(o->stage, f, err); }

static int add_png(const sink *o, const char *name, xb_error *err)
{
    if (*o->n >= o->max) return xb_errorf(err, XB_ERUNTIME, "report: more than %zu plots", o->max);
    snprintf(o->names[(*o->n)++], 64, "%s.png", name);
    return XB_OK;
}

/* ------------------------------------------------------------------ waveforms */
/* Settling waveforms of every transient point: index k of settling_waveforms.dat is point
 * k's far column, time in ps, current over its final value. */
static int waveforms(const xb_char_results *res, const sink *o, xb_error *err)
{
    FILE *gp = o->gp;
    FILE *f = NULL, *big = NULL;
    char labels[64][256];
    size_t n = 0;
    double t_max = 0, best_cells = 0;
    char best_name[256] = "";
    int rc = XB_OK;
    for (size_t k = 0; k < xb_char_results_npoints(res) && !rc && n < 64; k++) {
        xb_char_result_point pt;
        if ((rc = xb_char_results_point(res, k, &pt, err)) != XB_OK) break;
        if (pt.in_flight || strcmp(pt.status, "ok") != 0 || !pt.has_transient) continue;
        xb_char_result_transient tr;
        if ((rc = xb_char_results_read_transient(res, &pt, &tr, err)) != XB_OK) break;
        if (!f && !(f = open_dat(o, "settling_waveforms", err))) rc = XB_ERUNTIME;
        const size_t C = tr.cols, j = C - 1;
        const double fin = tr.i_col_amp[(tr.T - 1) * C + j];
        if (!rc && fin != 0) {
            fprintf(f, "# %s\n", pt.name);
            for (size_t q = 0; q < tr.T; q++)
                fprintf(f, "%.10g %.10g\n", tr.time_s[q] * 1e12, tr.i_col_amp[q * C + j] / fin);
            fprintf(f, "\n\n");
            snprintf(labels[n++], sizeof labels[0], "%gx%g %s %s, %g fF/segment", pt.rows, pt.cols, pt.device, pt.cell,
                     pt.c_wire_farad * 1e15);
            if (pt.transient.t_settle_max_s > t_max) t_max = pt.transient.t_settle_max_s;
        }
        if (!rc && pt.rows * pt.cols > best_cells) {
            best_cells = pt.rows * pt.cols;
            snprintf(best_name, sizeof best_name, "%gx%g %s %s (%s)", pt.rows, pt.cols, pt.device, pt.cell, pt.name);
            if (big) rc = close_dat(o, big, err); /* a larger point replaces it */
            big = NULL;
            if (!rc && !(big = open_dat(o, "i_col_waveforms", err))) rc = XB_ERUNTIME;
            const size_t cs[3] = {0, C / 2, C - 1};
            for (int c = 0; c < 3 && !rc; c++) {
                fprintf(big, "# column %zu\n", cs[c]);
                for (size_t q = 0; q < tr.T; q++)
                    fprintf(big, "%.10g %.10g\n", tr.time_s[q] * 1e12, tr.i_col_amp[q * C + cs[c]] * 1e6);
                fprintf(big, "\n\n");
            }
        }
        xb_char_result_transient_clear(&tr);
    }
    int rc2 = f ? close_dat(o, f, err) : XB_OK;
    if (!rc) rc = rc2;
    rc2 = big ? close_dat(o, big, err) : XB_OK;
    if (!rc) rc = rc2;
    if (rc || !n) return rc;
    const double xr = t_max > 0 ? 2.5 * t_max * 1e12 : 100;
    fprintf(gp, "\nset output 'settling_waveforms.png'\nunset logscale x\nunset logscale y\n"
                "set title \"far-column current after a step on every row (0.1%% band dashed)\"\n"
                "set xlabel \"time (ps)\"\nset ylabel \"I_col(t) / I_col(final), last column\"\n"
                "set xrange [0:%.6g]\nset yrange [*:*]\nset key inside right bottom\nplot ",
            xr);
    for (size_t k = 0; k < n; k++)
        fprintf(gp, "%s'settling_waveforms.dat' index %zu using 1:2 with lines lw 2 title \"%s\"", k ? ", \\\n     " : "",
                k, labels[k]);
    fprintf(gp, ", 0.999 with lines dt 2 lc rgb 'gray' notitle, 1.001 with lines dt 2 lc rgb 'gray' notitle\n"
                "set xrange [*:*]\n");
    fprintf(gp, "\nset output 'i_col_waveforms.png'\nset title \"column currents after a step on every row, %s\"\n"
                "set xlabel \"time (ps)\"\nset ylabel \"I_col (uA)\"\nset xrange [0:%.6g]\n"
                "plot 'i_col_waveforms.dat' index 0 using 1:2 with lines lw 2 title \"first column (nearest the drivers)\", \\\n"
                "     'i_col_waveforms.dat' index 1 using 1:2 with lines lw 2 title \"middle column\", \\\n"
                "     'i_col_waveforms.dat' index 2 using 1:2 with lines lw 2 title \"last column\"\nset xrange [*:*]\n"
                "set key outside right top\n",
            best_name, xr);
    rc = add_png(o, "settling_waveforms", err);
    if (!rc) rc = add_png(o, "i_col_waveforms", err);
    return rc;
}

/* ------------------------------------------------------------------ tile energy */
/* Energy per MAC of one MVM of a rows x cols tile at full-scale input: the array's own
 * (transient read energy over the campaign's t_read, else the static V I t_read), one B-bit
 * drive per row (DAC + driver), one sense and one ADC conversion per column, one digital add
 * per column output (accumulating its partial sum).  Rows x cols MACs per MVM. */
typedef struct {
    double n, array, dac, sense, adc, digital;
} tile_row;

static int tile_energy(const xb_char_results *res, const sink *o, xb_error *err)
{
    FILE *gp = o->gp;
    xb_periphery q;
    xb_periphery_default(&q);
    const double e_dac = q.dac_bits * q.dac_joule_per_bit, e_adc = q.adc_fom_joule_per_step * pow(2, q.adc_bits);
    char groups[8][96];
    tile_row *rows[8] = {0};
    size_t nrow[8] = {0}, ng = 0;
    int rc = XB_OK;
    for (size_t k = 0; k < xb_char_results_npoints(res) && !rc; k++) {
        xb_char_result_point pt;
        if ((rc = xb_char_results_point(res, k, &pt, err)) != XB_OK) break;
        if (pt.in_flight || strcmp(pt.status, "ok") != 0) continue;
        double ea = isfinite(pt.transient.e_per_mac_joule) ? pt.transient.e_per_mac_joule : pt.mvm.e_per_mac_static_joule;
        if (!isfinite(ea) || !(pt.rows > 0)) continue;
        char g[96];
        snprintf(g, sizeof g, "%s %s, %g ohm", pt.device, pt.cell, pt.r_wire_row_ohm);
        size_t gi = 0;
        while (gi < ng && strcmp(groups[gi], g) != 0) gi++;
        if (gi == ng) {
            if (ng == 8) continue;
            snprintf(groups[ng++], sizeof groups[0], "%s", g);
        }
        tile_row *nr = realloc(rows[gi], (nrow[gi] + 1) * sizeof *nr);
        if (!nr) {
            rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
            break;
        }
        rows[gi] = nr;
        nr[nrow[gi]++] = (tile_row){sqrt(pt.rows * pt.cols), ea, e_dac / pt.cols, q.sense_joule / pt.rows,
                                    e_adc / pt.rows, q.dig_add_joule / pt.rows};
    }
    FILE *f = NULL, *csv = NULL;
    if (!rc && ng) {
        if (!(f = open_dat(o, "energy_per_mac_tile", err))) rc = XB_ERUNTIME;
        if (!rc) rc = xb_stage_fopen(o->stage, "energy_per_mac_tile.csv", 1, &csv, err);
    }
    for (size_t gi = 0; gi < ng && !rc; gi++) {
        tile_row *r = rows[gi];
        for (size_t a = 1; a < nrow[gi]; a++) /* by N */
            for (size_t b = a; b > 0 && r[b].n < r[b - 1].n; b--) {
                tile_row t = r[b];
                r[b] = r[b - 1];
                r[b - 1] = t;
            }
        fprintf(f, "# %s: N array dac sense adc digital total (fJ per MAC)\n", groups[gi]);
        if (gi == 0)
            fprintf(csv, "group,N,array_fj,dac_fj,sense_fj,adc_fj,digital_fj,periphery_fj,total_fj,array_share\n");
        for (size_t a = 0; a < nrow[gi]; a++) {
            double per = r[a].dac + r[a].sense + r[a].adc + r[a].digital, tot = per + r[a].array;
            fprintf(f, "%.10g %.6g %.6g %.6g %.6g %.6g %.6g\n", r[a].n, r[a].array * 1e15, r[a].dac * 1e15,
                    r[a].sense * 1e15, r[a].adc * 1e15, r[a].digital * 1e15, tot * 1e15);
            fprintf(csv, "%s,%g,%.4g,%.4g,%.4g,%.4g,%.4g,%.4g,%.4g,%.3f\n", groups[gi], r[a].n, r[a].array * 1e15,
                    r[a].dac * 1e15, r[a].sense * 1e15, r[a].adc * 1e15, r[a].digital * 1e15, per * 1e15, tot * 1e15,
                    r[a].array / tot);
        }
        fprintf(f, "\n\n");
    }
    int rc2 = f ? close_dat(o, f, err) : XB_OK;
    if (!rc) rc = rc2;
    rc2 = csv ? xb_stage_fclose(o->stage, csv, err) : XB_OK;
    if (!rc) rc = rc2;
    for (size_t gi = 0; gi < 8; gi++) free(rows[gi]);
    if (rc || !ng) return rc;
    fprintf(gp, "\nset output 'energy_per_mac_tile.png'\nset logscale x 2\nset logscale y\n"
                "set title \"energy per MAC of a whole N x N tile, one MVM at full-scale input\"\n"
                "set xlabel \"N\"\nset ylabel \"energy per MAC (fJ)\"\nset key outside below maxrows 4\nplot ");
    /* the periphery of the first group (it depends on N only), then array and total per group */
    const char *parts[4] = {"DACs + drivers (%d-bit inputs)", "sense (TIA / S&H)", "ADCs (%d-bit)",
                            "digital accumulation"};
    for (int c = 0; c < 4; c++) {
        char t[96];
        snprintf(t, sizeof t, parts[c], c == 0 ? q.dac_bits : q.adc_bits);
        fprintf(gp, "%s'energy_per_mac_tile.dat' index 0 using 1:%d with linespoints lw 2 dt 2 title \"%s\"",
                c ? ", \\\n     " : "", c + 3, t);
    }
    for (size_t gi = 0; gi < ng; gi++)
        fprintf(gp, ", \\\n     'energy_per_mac_tile.dat' index %zu using 1:2 with linespoints lw 2 title \"array, %s\", \\\n"
                    "     'energy_per_mac_tile.dat' index %zu using 1:7 with linespoints lw 3 title \"whole tile, %s\"",
                gi, groups[gi], gi, groups[gi]);
    fprintf(gp, "\nset key default\nset key outside right top\n");
    return add_png(o, "energy_per_mac_tile", err);
}

/* ------------------------------------------------------------------ histograms */
/* Counts of v (n values, scaled by scale) in nb bins over [lo, hi], written as "centre count"
 * (normalised to the largest bin) followed by a block break. */
static void histogram(FILE *f, const char *label, const double *v, size_t n, double lo, double hi, size_t nb,
                      double scale)
{
    size_t *c = calloc(nb, sizeof *c);
    if (!c) return;
    for (size_t k = 0; k < n; k++) {
        double x = v[k] * scale;
        if (!(x >= lo && x <= hi)) continue;
        size_t b = (size_t)((x - lo) / (hi - lo) * (double)nb);
        c[b < nb ? b : nb - 1]++;
    }
    fprintf(f, "# %s\n", label);
    for (size_t b = 0; b < nb; b++) fprintf(f, "%.8g %zu\n", lo + (b + 0.5) * (hi - lo) / (double)nb, c[b]);
    fprintf(f, "\n\n");
    free(c);
}

static void range_of(const double *v, size_t n, double scale, double *lo, double *hi)
{
    for (size_t k = 0; k < n; k++) {
        double x = v[k] * scale;
        if (x < *lo) *lo = x;
        if (x > *hi) *hi = x;
    }
}

/* Programmed conductances of the first point with programming variability (else the first
 * point) against their targets: sample 0, every Monte Carlo realisation. */
static int g_histogram(const xb_char_results *res, const sink *o, xb_error *err)
{
    FILE *gp = o->gp;
    int rc = XB_OK;
    xb_char_result_point pick;
    int have = 0;
    for (size_t k = 0; k < xb_char_results_npoints(res) && !rc; k++) {
        xb_char_result_point pt;
        if ((rc = xb_char_results_point(res, k, &pt, err)) != XB_OK) break;
        if (pt.in_flight || strcmp(pt.status, "ok") != 0 || !pt.has_mvm) continue;
        if (!have || (pt.var_program == 1 && pick.var_program != 1)) {
            pick = pt;
            have = 1;
        }
    }
    if (rc || !have) return rc;
    xb_char_result_mvm m;
    if ((rc = xb_char_results_read_mvm(res, &pick, &m, err)) != XB_OK) return rc;
    const size_t rc_n = m.rows * m.cols, per = m.S ? m.N / m.S : m.N;
    double lo = INFINITY, hi = -INFINITY;
    if (m.S) range_of(m.g_target, rc_n, 1e6, &lo, &hi);
    range_of(m.g, per * rc_n, 1e6, &lo, &hi);
    FILE *f = open_dat(o, "g_histogram", err);
    if (!f) rc = XB_ERUNTIME;
    else {
        if (m.S) histogram(f, "target", m.g_target, rc_n, lo, hi, 60, 1e6);
        histogram(f, "programmed", m.g, per * rc_n, lo, hi, 60, 1e6);
        rc = close_dat(o, f, err);
        fprintf(gp, "\nset output 'g_histogram.png'\nunset logscale x\nunset logscale y\nset xrange [*:*]\nset yrange [0:*]\n"
                    "set title \"conductances of %gx%g %s %s (%s): targets and as programmed\\n(%zu realisation%s, "
                    "programming variability %s)\"\n"
                    "set xlabel \"G (uS)\"\nset ylabel \"cells per bin\"\nset style fill transparent solid 0.4\n"
                    "set key inside right top\nplot ",
                pick.rows, pick.cols, pick.device, pick.cell, pick.name, per, per == 1 ? "" : "s",
                pick.var_program == 1 ? "on" : "off");
        if (m.S) fprintf(gp, "'g_histogram.dat' index 0 using 1:2 with boxes title \"target (uniform in [g_min, g_max])\", ");
        fprintf(gp, "'g_histogram.dat' index %d using 1:2 with boxes title \"programmed\"\nset style fill empty\n"
                    "set yrange [*:*]\nset key outside right top\n",
                m.S ? 1 : 0);
        if (!rc) rc = add_png(o, "g_histogram", err);
    }
    xb_char_result_mvm_clear(&m);
    return rc;
}

/* G(t) under drift: the first point with a drift record, a histogram per read time, on a
 * log conductance axis (drift divides G by (t/t0)^nu). */
static int drift_histogram(const xb_char_results *res, const sink *o, xb_error *err)
{
    FILE *gp = o->gp;
    int rc = XB_OK;
    for (size_t k = 0; k < xb_char_results_npoints(res) && !rc; k++) {
        xb_char_result_point pt;
        if ((rc = xb_char_results_point(res, k, &pt, err)) != XB_OK) break;
        if (pt.in_flight || strcmp(pt.status, "ok") != 0 || !pt.has_drift) continue;
        xb_char_result_drift d;
        if ((rc = xb_char_results_read_drift(res, &pt, &d, err)) != XB_OK) break;
        /* log10(G / uS) bins */
        double *lg = malloc(d.T * d.n * sizeof *lg);
        FILE *f = lg ? open_dat(o, "drift_histogram", err) : NULL;
        if (!lg) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
        else if (!f) rc = XB_ERUNTIME;
        if (!rc) {
            double lo = INFINITY, hi = -INFINITY;
            for (size_t q = 0; q < d.T * d.n; q++) lg[q] = d.g[q] > 0 ? log10(d.g[q] * 1e6) : NAN;
            range_of(lg, d.T * d.n, 1, &lo, &hi);
            char label[64];
            for (size_t t = 0; t < d.T; t++) {
                snprintf(label, sizeof label, "t = %g s", d.t_s[t]);
                histogram(f, label, lg + t * d.n, d.n, lo, hi, 50, 1);
            }
            rc = close_dat(o, f, err);
            fprintf(gp, "\nset output 'drift_histogram.png'\nunset logscale x\nunset logscale y\nset xrange [*:*]\n"
                        "set title \"conductance distribution read at each time after programming\\n(%gx%g %s, drift + read noise)\"\n"
                        "set xlabel \"log10(G / 1 uS)\"\nset ylabel \"cells per bin\"\nplot ",
                    pt.rows, pt.cols, pt.device);
            for (size_t t = 0; t < d.T; t++)
                fprintf(gp, "%s'drift_histogram.dat' index %zu using 1:2 with steps lw 2 title \"t = %g s\"", t ? ", " : "",
                        t, d.t_s[t]);
            fprintf(gp, "\n");
            if (!rc) rc = add_png(o, "drift_histogram", err);
        }
        free(lg);
        xb_char_result_drift_clear(&d);
        break;
    }
    return rc;
}

/* ------------------------------------------------------------------ model parity */
/* The model engine (fit stage) on the stored G and V of every point up to 128x128 (first
 * four realisations): one "i_circuit i_model" pair per output current, in uA, one block per
 * device.  Points whose configuration the model file has no model for are skipped. */
static int parity_point(const xb_char_results *res, const xb_char_result_point *pt, const char *model, FILE *f,
                        double *worst, size_t *npairs, xb_error *err)
{
    xb_array_params p;
    int rc = xb_char_results_point_config(res, pt, &p, err);
    if (rc) return rc;
    xb_engine_config cfg;
    xb_engine_config_default(&cfg);
    cfg.file = model;
    cfg.array = &p;
    xb_engine *e = NULL;
    xb_error skip;
    xb_error_clear(&skip);
    if (xb_engine_new(&xb_fit_engine_class_model, &cfg, &e, &skip) != XB_OK) return XB_OK; /* no model for it */
    xb_char_result_mvm m;
    rc = xb_char_results_read_mvm(res, pt, &m, err);
    const size_t R = m.rows, C = m.cols, K = m.K, nmax = m.N < 4 ? m.N : 4;
    xb_matrix *out = rc ? NULL : xb_matrix_new(K, C);
    if (!rc && !out) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    for (size_t n = 0; !rc && n < nmax; n++) {
        xb_matrix g = {R, C, m.g + n * R * C}, v = {K, R, m.v + n * K * R};
        rc = xb_engine_mvm_once(e, &p, &g, &v, out, err);
        const double *ic = m.i_circuit + n * K * C;
        double scale = 0;
        for (size_t q = 0; q < K * C; q++)
            if (fabs(ic[q]) > scale) scale = fabs(ic[q]);
        for (size_t q = 0; !rc && q < K * C; q++) {
            fprintf(f, "%.8g %.8g\n", ic[q] * 1e6, out->data[q] * 1e6);
            double d = scale > 0 ? fabs(out->data[q] - ic[q]) / scale : 0;
            if (d > *worst) *worst = d;
            (*npairs)++;
        }
    }
    xb_matrix_free(out);
    xb_char_result_mvm_clear(&m);
    xb_engine_free(e);
    return rc;
}

int xb_cli_report_parity(const xb_char_results *res, const char *model, xb_stage *stage, FILE *gp, char (*names)[64],
                         size_t max, size_t *n, xb_error *err)
{
    if (!model) return XB_OK;
    const sink so = {stage, gp, names, max, n}, *o = &so;
    FILE *f = open_dat(o, "model_parity", err);
    if (!f) return XB_ERUNTIME;
    double worst = 0;
    size_t npairs = 0;
    int rc = XB_OK;
    for (size_t k = 0; k < xb_char_results_npoints(res) && !rc; k++) {
        xb_char_result_point pt;
        if ((rc = xb_char_results_point(res, k, &pt, err)) != XB_OK) break;
        if (pt.in_flight || strcmp(pt.status, "ok") != 0 || !pt.has_mvm || pt.rows * pt.cols > 128 * 128) continue;
        rc = parity_point(res, &pt, model, f, &worst, &npairs, err);
        if (rc) xb_error_prefix(err, "%s: ", pt.name);
    }
    int rc2 = close_dat(o, f, err);
    if (!rc) rc = rc2;
    if (rc || !npairs) return rc;
    fprintf(gp, "\nset output 'model_parity.png'\nunset logscale x\nunset logscale y\nset xrange [*:*]\nset yrange [*:*]\n"
                "set size ratio -1\nset key inside left top\n"
                "set title \"fitted model vs circuit, every column current (%zu; largest difference %.2g of the "
                "largest current)\"\n"
                "set xlabel \"circuit (SPICE / native) I (uA)\"\nset ylabel \"fitted model I (uA)\"\n"
                "plot 'model_parity.dat' using 1:2 with points pt 7 ps 0.4 title \"column currents\", "
                "x with lines dt 2 lc rgb 'black' title \"y = x\"\nset size noratio\nset key outside right top\n",
            npairs, worst);
    return add_png(o, "model_parity", err);
}

int xb_cli_report_physics(const xb_char_results *res, xb_stage *stage, FILE *gp, char (*names)[64], size_t max,
                          size_t *n, xb_error *err)
{
    const sink o = {stage, gp, names, max, n};
    int rc = waveforms(res, &o, err);
    if (!rc) rc = tile_energy(res, &o, err);
    if (!rc) rc = g_histogram(res, &o, err);
    if (!rc) rc = drift_histogram(res, &o, err);
    return rc;
}
