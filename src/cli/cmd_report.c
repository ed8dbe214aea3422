/* xbar report: PNG plots (gnuplot) and a summary table from a campaign results file. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/report_plots.h"
#include "cli/run_drift.h"
#include "xbar/characterize.h"
#include "xbar/fit.h"

static const char k_help[] =
    "usage: xbar report RESULTS.h5 -o DIR\n"
    "\n"
    "Reads a campaign results file (docs/hdf5-results.md) and writes into DIR:\n"
    "  summary.csv               one line per point: configuration and headline numbers\n"
    "  mvm_error_vs_size.png     MVM relative-L2 error vs array size per device and wire resistance\n"
    "  ir_drop_map.png           voltage across every cell of the largest array (IR-drop heat map)\n"
    "  sneak_margin_vs_size.png  single-cell read margin vs size per read scheme (log axis)\n"
    "  settling_vs_size.png      column-current settling time (0.1%) vs size, in ps, with the RC\n"
    "                            parameters that set it in the title\n"
    "  settling_waveforms.png    far-column current I(t)/I_final of every transient point\n"
    "  i_col_waveforms.png       I_col(t) of the first, middle and last column, largest point\n"
    "  energy_per_mac_tile.png   energy per MAC of a whole tile vs N: array, DACs, sense, ADCs,\n"
    "                            digital accumulation (cited periphery table), + its CSV\n"
    "  g_histogram.png           programmed conductances against their targets\n"
    "  drift_histogram.png       G(t) at every read time of a drift record (PCM campaigns)\n"
    "  model_parity.png          with --model: fitted-model vs circuit column currents (points up\n"
    "                            to 128x128)\n"
    "  energy_vs_size.png        read energy per MVM vs size (transient; static V*I*t_read at full scale)\n"
    "  energy_per_op_vs_size.png energy per multiply-accumulate vs N, with a 1/N reference\n"
    "  program_curves.png        conductance vs pulse number (dynamic device campaigns)\n"
    "  write_error_hist.png      arrays programmed in circuit ([write]): final G - target, in %\n"
    "                            of the window, fraction of cells per 1 % bin, per point\n"
    "  write_pulses_hist.png     pulses per cell, fraction of cells\n"
    "  write_disturb_map.png     disturb of every cell (G change from the other cells' pulses) of\n"
    "                            the largest programmed array\n"
    "  write_energy_vs_size.png  programming energy of the whole array vs size\n"
    "  write_summary.csv         one line per programmed point: pulses, convergence, error,\n"
    "                            disturb, energy, time\n"
    "  update_model_<device>.png the pulse-update model against the SPICE pulse trains: mean\n"
    "                            trajectory and spread, step vs state (campaigns with [program]\n"
    "                            trains; the model from --model, else fitted here as xbar fit does)\n"
    "plus the gnuplot script (report.gp) and its data files.  Plots without data in the file\n"
    "are skipped.  Needs gnuplot (Debian package gnuplot-nox).\n"
    "\n"
    "options:\n"
    "  -o, --output DIR   output directory (created if missing)\n"
    "  --model MODEL.h5   update models (/update/<device>) for update_model_<device>.png, and the\n"
    "                     fitted read models for model_parity.png (model vs circuit currents)\n"
    "  --accuracy-time FILE.csv  also (or, without RESULTS.h5, only) accuracy_vs_time.png from\n"
    "                     the CSV of 'xbar run --time-sweep --time-csv' (docs/drift.md)\n";

/* ------------------------------------------------------------------ series */
typedef struct {
    char label[400];
    size_t n, cap;
    double *x, *y;
} series;

typedef struct {
    series *s;
    size_t n, cap;
} series_set;

static series *get_series(series_set *ss, const char *label)
{
    for (size_t k = 0; k < ss->n; k++)
        if (strcmp(ss->s[k].label, label) == 0) return &ss->s[k];
    if (ss->n == ss->cap) {
        size_t cap = ss->cap ? 2 * ss->cap : 8;
        series *ns = realloc(ss->s, cap * sizeof *ns);
        if (!ns) return NULL;
        ss->s = ns;
        ss->cap = cap;
    }
    series *s = &ss->s[ss->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->label, sizeof s->label, "%s", label);
    return s;
}

static int add_xy(series_set *ss, const char *label, double x, double y)
{
    if (!isfinite(x) || !isfinite(y)) return 0;
    series *s = get_series(ss, label);
    if (!s) return -1;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 8;
        double *nx = realloc(s->x, cap * sizeof *nx), *ny;
        if (!nx) return -1;
        s->x = nx;
        ny = realloc(s->y, cap * sizeof *ny);
        if (!ny) return -1;
        s->y = ny;
        s->cap = cap;
    }
    s->x[s->n] = x;
    s->y[s->n] = y;
    s->n++;
    return 0;
}

static void free_set(series_set *ss)
{
    for (size_t k = 0; k < ss->n; k++) {
        free(ss->s[k].x);
        free(ss->s[k].y);
    }
    free(ss->s);
    memset(ss, 0, sizeof *ss);
}

/* Average y over equal x (several points of one configuration, e.g. input statistics),
 * sorted by x, written as "x y" blocks separated by two blank lines (gnuplot `index`). */
static int write_set(xb_stage *stage, const char *name, series_set *ss, xb_error *err)
{
    char fname[512];
    snprintf(fname, sizeof fname, "%s.dat", name);
    FILE *f;
    int rc = xb_stage_fopen(stage, fname, 1, &f, err);
    if (rc) return rc;
    for (size_t k = 0; k < ss->n; k++) {
        series *s = &ss->s[k];
        /* insertion sort by x */
        for (size_t a = 1; a < s->n; a++)
            for (size_t b = a; b > 0 && s->x[b] < s->x[b - 1]; b--) {
                double t = s->x[b]; s->x[b] = s->x[b - 1]; s->x[b - 1] = t;
                t = s->y[b]; s->y[b] = s->y[b - 1]; s->y[b - 1] = t;
            }
        fprintf(f, "# %s\n", s->label);
        for (size_t a = 0; a < s->n;) {
            size_t b = a;
            double sum = 0;
            while (b < s->n && s->x[b] == s->x[a]) sum += s->y[b++];
            fprintf(f, "%.10g %.10g\n", s->x[a], sum / (double)(b - a));
            a = b;
        }
        fprintf(f, "\n\n");
    }
    return xb_stage_fclose(stage, f, err);
}

static void plot_lines(FILE *gp, const char *name, series_set *ss, const char *title, const char *xl,
                       const char *yl, int logx, int logy, const char *extra)
{
    fprintf(gp, "\nset output '%s.png'\nset title \"%s\"\nset xlabel \"%s\"\nset ylabel \"%s\"\n", name, title, xl, yl);
    fprintf(gp, "%s\n%s\n", logx ? "set logscale x 2" : "unset logscale x", logy ? "set logscale y" : "unset logscale y");
    fprintf(gp, "plot ");
    /* style: colour by the label's part before ", " (device, cell), point type and dash by
     * the part after it (wire resistance, energy kind) */
    char groups[32][400], subs[32][400];
    size_t ng = 0, nsub = 0;
    for (size_t k = 0; k < ss->n; k++) {
        char grp[400], sub[400] = "";
        snprintf(grp, sizeof grp, "%s", ss->s[k].label);
        char *comma = strstr(grp, ", ");
        if (comma) {
            snprintf(sub, sizeof sub, "%s", comma + 2);
            *comma = '\0';
        }
        size_t gi = 0, si = 0;
        while (gi < ng && strcmp(groups[gi], grp) != 0) gi++;
        if (gi == ng && ng < 32) snprintf(groups[ng++], sizeof groups[0], "%s", grp);
        while (si < nsub && strcmp(subs[si], sub) != 0) si++;
        if (si == nsub && nsub < 32) snprintf(subs[nsub++], sizeof subs[0], "%s", sub);
        fprintf(gp, "%s'%s.dat' index %zu using 1:2 with linespoints lc %zu pt %zu dt %zu title \"%s\"",
                k ? ", \\\n     " : "", name, k, gi % 8 + 1, si % 12 + 1, si % 5 + 1, ss->s[k].label);
    }
    if (extra && *extra) fprintf(gp, ", \\\n     %s", extra);
    fprintf(gp, "\n");
}

/* ------------------------------------------------------------------ reading */
typedef struct {
    series_set err, margin, settle, energy, eop;
    series_set prog;
    series_set werr, wpul, wenergy; /* [write] points */
    double wmap_cells;              /* size of the array chosen for the disturb map */
    char wmap_point[256];
    size_t wmap_rows, wmap_cols;
    double *wmap;
    FILE *wcsv;                     /* write_summary.csv, opened at the first [write] point */
    xb_stage *stage;
    double best_cells;          /* size of the array chosen for the IR map */
    char ir_point[64];
    double ir_rows, ir_cols;
    double *ir_map;
    double eop_first_x, eop_first_y;
    char rc_params[256];        /* the RC parameters of the first transient point */
} report;

/* The read margin of every scheme of a point (read/). */
static int add_margins(const xb_char_results *res, const xb_char_result_point *pt, report *r, double n,
                       double *mf, double *m2, double *m3, xb_error *err)
{
    xb_char_result_read rd;
    int rc = xb_char_results_read_schemes(res, pt, &rd, err);
    for (size_t q = 0; !rc && q < rd.n; q++) {
        char label[400];
        snprintf(label, sizeof label, "%s, %s %s", rd.scheme[q], pt->device, pt->cell);
        if (add_xy(&r->margin, label, n, rd.margin[q] * 100)) return xb_errorf(err, XB_ERUNTIME, "out of memory");
        if (strcmp(rd.scheme[q], "float") == 0) *mf = rd.margin[q];
        if (strcmp(rd.scheme[q], "v2") == 0) *m2 = rd.margin[q];
        if (strcmp(rd.scheme[q], "v3") == 0) *m3 = rd.margin[q];
    }
    return rc;
}

/* The IR-drop map of the largest array so far. */
static int keep_ir_map(const xb_char_results *res, const xb_char_result_point *pt, report *r, xb_error *err)
{
    double *m = NULL;
    size_t R, C;
    int rc = xb_char_results_read_ir_map(res, pt, &m, &R, &C, err);
    if (rc) return rc;
    free(r->ir_map);
    r->ir_map = m;
    r->ir_rows = (double)R;
    r->ir_cols = (double)C;
    r->best_cells = pt->rows * pt->cols;
    snprintf(r->ir_point, sizeof r->ir_point, "%s", pt->name);
    return XB_OK;
}

/* The programming curve of the first point of each device. */
static int add_program(const xb_char_results *res, const xb_char_result_point *pt, report *r, xb_error *err)
{
    series *s = get_series(&r->prog, pt->device);
    if (!s) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    if (s->n) return XB_OK;
    double *g = NULL;
    size_t n = 0;
    int rc = xb_char_results_read_program(res, pt, &g, &n, err);
    for (size_t q = 0; !rc && q < n; q++)
        if (add_xy(&r->prog, pt->device, (double)q, g[q] * 1e6)) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    free(g);
    return rc;
}

/* Fraction of the values v[0..n) per bin of width w centred on multiples of w, from the
 * lowest bin to the highest (zero bins included): the histogram as a line. */
static int add_hist(series_set *ss, const char *label, const double *v, size_t n, double w, xb_error *err)
{
    long lo = 0, hi = 0;
    for (size_t k = 0; k < n; k++) {
        long b = lround(v[k] / w);
        if (k == 0 || b < lo) lo = b;
        if (k == 0 || b > hi) hi = b;
    }
    if (!n || hi - lo > 100000) return XB_OK;
    double *c = calloc((size_t)(hi - lo + 1), sizeof *c);
    if (!c) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    for (size_t k = 0; k < n; k++) c[lround(v[k] / w) - lo] += 1.0 / (double)n;
    int rc = XB_OK;
    for (long b = lo; !rc && b <= hi; b++)
        if (add_xy(ss, label, (double)b * w, c[b - lo])) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    free(c);
    return rc;
}

/* A line of write_summary.csv (the file opened, with its header, at the first point). */
static int write_summary_line(report *r, const xb_char_result_point *pt, const xb_char_result_write *w, xb_error *err)
{
    if (!r->wcsv) {
        int rc = xb_stage_fopen(r->stage, "write_summary.csv", 1, &r->wcsv, err);
        if (rc) return rc;
        fprintf(r->wcsv, "point,device,cell,scheme,rows,cols,verify,tol,pulses_mean,converged_fraction,"
                         "rms_error_siemens,max_abs_disturb_siemens,e_total_joule,t_program_s\n");
    }
    fprintf(r->wcsv, "%s,%s,%s,%s,%zu,%zu,%g,%g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g\n", pt->name, pt->device, pt->cell,
            w->scheme, w->rows, w->cols, w->verify, w->tol, w->pulses_mean, w->converged_fraction, w->rms_error_siemens,
            w->max_abs_disturb_siemens, w->e_total_joule, w->t_program_s);
    return XB_OK;
}

/* A point programmed in circuit (write/): histograms of the error and of the pulses, the
 * energy, the disturb map of the largest array, a line of write_summary.csv. */
static int add_write(const xb_char_results *res, const xb_char_result_point *pt, report *r, xb_error *err)
{
    xb_char_result_write w;
    int rc = xb_char_results_read_write(res, pt, &w, err);
    if (rc) return rc;
    const size_t nc = w.rows * w.cols;
    double *e = malloc(nc * sizeof *e);
    if (!e) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    const double win = pt->g_max_siemens - pt->g_min_siemens;
    for (size_t k = 0; !rc && k < nc; k++) e[k] = (w.g_final[k] - w.g_target[k]) / win * 100;
    char label[400];
    snprintf(label, sizeof label, "%s %s, %s %zux%zu", pt->device, pt->cell, w.scheme, w.rows, w.cols);
    if (!rc) rc = add_hist(&r->werr, label, e, nc, 1.0, err);
    if (!rc) rc = add_hist(&r->wpul, label, w.pulses, nc, 1.0, err);
    snprintf(label, sizeof label, "%s %s, %s", pt->device, pt->cell, w.scheme);
    if (!rc && add_xy(&r->wenergy, label, sqrt((double)nc), w.e_total_joule * 1e9))
        rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    if (!rc && (double)nc > r->wmap_cells) {
        free(r->wmap);
        r->wmap = w.disturb;
        w.disturb = NULL;
        r->wmap_cells = (double)nc;
        r->wmap_rows = w.rows;
        r->wmap_cols = w.cols;
        snprintf(r->wmap_point, sizeof r->wmap_point, "%s, %s %s %s", pt->name, pt->device, pt->cell, w.scheme);
    }
    if (!rc) rc = write_summary_line(r, pt, &w, err);
    free(e);
    xb_char_result_write_clear(&w);
    return rc;
}

static int read_point(const xb_char_results *res, size_t k, report *r, FILE *csv, xb_error *err)
{
    xb_char_result_point pt;
    int rc = xb_char_results_point(res, k, &pt, err);
    if (rc || pt.in_flight) return rc;
    const char *dev = pt.device, *cell = pt.cell;
    const double rows = pt.rows, cols = pt.cols, rw = pt.r_wire_row_ohm, n = sqrt(rows * cols);
    const double em = pt.mvm.err_total_mean, es = pt.mvm.e_read_static_joule, eops = pt.mvm.e_per_mac_static_joule;
    const double ts = pt.transient.t_settle_max_s, er = pt.transient.e_read_joule, eop = pt.transient.e_per_mac_joule;
    double mf = NAN, m2 = NAN, m3 = NAN;
    if (strcmp(pt.status, "ok") == 0) {
        char label[400];
        snprintf(label, sizeof label, "%s %s, %g ohm", dev, cell, rw);
        if (add_xy(&r->err, label, n, em * 100)) goto oom;
        snprintf(label, sizeof label, "%s %s, %g fF per segment", dev, cell, pt.c_wire_farad * 1e15);
        if (add_xy(&r->settle, label, n, ts * 1e12)) goto oom;
        if (isfinite(ts) && !r->rc_params[0])
            snprintf(r->rc_params, sizeof r->rc_params, "r_wire %g, r_driver %g, r_sense %g ohm; t_rise %g ps", rw,
                     pt.r_driver_ohm, pt.r_sense_ohm, pt.transient.t_rise_s * 1e12);
        snprintf(label, sizeof label, "%s %s, transient", dev, cell);
        if (add_xy(&r->energy, label, n, er * 1e12) || add_xy(&r->eop, label, n, eop * 1e15)) goto oom;
        snprintf(label, sizeof label, "%s %s, static V*I*t_read", dev, cell);
        if (add_xy(&r->energy, label, n, es * 1e12) || add_xy(&r->eop, label, n, eops * 1e15)) goto oom;
        double e1 = isfinite(eops) ? eops : eop;
        if (isfinite(e1) && (r->eop_first_x == 0 || n < r->eop_first_x)) {
            r->eop_first_x = n;
            r->eop_first_y = e1 * 1e15;
        }
        if (pt.has_read) rc = add_margins(res, &pt, r, n, &mf, &m2, &m3, err);
        if (!rc && pt.has_ir_map && rows * cols > r->best_cells) rc = keep_ir_map(res, &pt, r, err);
        if (!rc && pt.has_program) rc = add_program(res, &pt, r, err);
        if (!rc && pt.has_write) rc = add_write(res, &pt, r, err);
        if (rc) return rc;
    }
    fprintf(csv, "%s,%s,%s,%s,%g,%g,%s,%g,%g,%g,%s,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g\n", pt.name,
            pt.status, dev, cell, rows, cols, pt.engine, rw, pt.r_wire_col_ohm, pt.r_driver_ohm, pt.input, em,
            pt.mvm.err_total_max, pt.mvm.spice_check_rel_l2, ts, er, eop, mf, m2, m3, es, pt.mvm.err_target_mean);
    return XB_OK;
oom:
    return xb_errorf(err, XB_ERUNTIME, "out of memory");
}

/* At most: the five size plots, programming curves, IR-drop map, the seven of
 * report_plots.c, one update model per device (three devices with pulse recipes), with room
 * to spare. */
#define XB_REPORT_MAX_PLOTS 32

/* The PNGs report.gp writes (checked complete, then moved into DIR with the rest). */
typedef struct {
    char name[XB_REPORT_MAX_PLOTS][64];
    size_t n;
} png_list;

static int png_add(png_list *l, const char *fmt, const char *arg, xb_error *err)
{
    if (l->n == XB_REPORT_MAX_PLOTS) return xb_errorf(err, XB_ERUNTIME, "report: more than %d plots", XB_REPORT_MAX_PLOTS);
    snprintf(l->name[l->n++], sizeof l->name[0], fmt, arg);
    return XB_OK;
}

/* ------------------------------------------------------------------ update models */
/* update_model_<device>.png: the SPICE trains of the first start state (mean and std over
 * the Monte Carlo devices after every slot) against the update model run from each train's
 * first state (every fitted device law in turn, 16 runs each with cycle-to-cycle noise: mean
 * and std); and the measured steps against the law's mean step +- its c2c spread. */
static const xb_update_model *find_update(const xb_update_model *ms, size_t n, xb_device_kind d)
{
    for (size_t k = 0; k < n; k++)
        if (ms[k].device == d) return &ms[k];
    return NULL;
}

static int update_traj(FILE *f, const xb_update_data *d, const xb_update_model *m, xb_error *err)
{
    size_t K = 0, nt = 0;
    for (size_t t = 0; t < d->n_trains; t++)
        if (d->trains[t].start == 0) {
            K = d->trains[t].n_slots;
            nt++;
        }
    enum { RUNS = 16 };
    double *acc = calloc(4 * (K + 1), sizeof *acc), *gs = malloc((K + 1) * sizeof *gs);
    int *dirs = malloc((K ? K : 1) * sizeof *dirs);
    if (!acc || !gs || !dirs) {
        free(acc);
        free(gs);
        free(dirs);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    double *om = acc, *os = acc + K + 1, *mm = acc + 2 * (K + 1), *ms = acc + 3 * (K + 1);
    size_t nm = 0;
    int rc = XB_OK;
    for (size_t t = 0; !rc && t < d->n_trains; t++) {
        const xb_update_train *tr = &d->trains[t];
        if (tr->start != 0 || tr->n_slots != K) continue;
        for (size_t k = 0; k <= K; k++) {
            om[k] += tr->g_siemens[k] / (double)nt;
            os[k] += tr->g_siemens[k] * tr->g_siemens[k] / (double)nt;
        }
        memcpy(dirs, tr->dir, K * sizeof *dirs);
        for (size_t r = 0; !rc && r < RUNS * (m->n_devices ? m->n_devices : 1); r++) {
            const size_t dev = m->n_devices ? r % m->n_devices : 0;
            xb_error e2;
            int st = m->n_devices ? xb_fit_update_simulate_device(m, dev, tr->g_siemens[0], dirs, K, 1, 1000 * t + r, gs, &e2)
                                  : XB_EINPUT;
            if (st == XB_EINPUT) st = xb_fit_update_simulate(m, tr->g_siemens[0], dirs, K, 1, 1000 * t + r, gs, &e2);
            if (st) rc = xb_errorf(err, st, "%s", e2.msg);
            for (size_t k = 0; !rc && k <= K; k++) {
                mm[k] += gs[k];
                ms[k] += gs[k] * gs[k];
            }
            nm++;
        }
    }
    for (size_t k = 0; !rc && k <= K; k++) {
        double sm = mm[k] / (double)nm;
        fprintf(f, "%zu %.8g %.8g %.8g %.8g\n", k, om[k] * 1e6, sqrt(fmax(os[k] - om[k] * om[k], 0)) * 1e6, sm * 1e6,
                sqrt(fmax(ms[k] / (double)nm - sm * sm, 0)) * 1e6);
    }
    free(acc);
    free(gs);
    free(dirs);
    return rc;
}

static void update_steps(FILE *f, const xb_update_data *d, const xb_update_model *m)
{
    for (int q = 1; q >= -1; q -= 2) {
        for (size_t t = 0; t < d->n_trains; t++)
            for (size_t k = 0; k < d->trains[t].n_slots; k++)
                if (d->trains[t].dir[k] == q)
                    fprintf(f, "%.8g %.8g\n", d->trains[t].g_siemens[k] * 1e6,
                            (d->trains[t].g_siemens[k + 1] - d->trains[t].g_siemens[k]) * 1e6);
        fprintf(f, "\n\n");
    }
    enum { N = 129 };
    for (int k = 0; k < N; k++) {
        const double g = m->g_min_siemens + (m->g_max_siemens - m->g_min_siemens) * k / (N - 1);
        fprintf(f, "%.8g %.8g %.8g %.8g %.8g\n", g * 1e6, xb_fit_update_step(m, g, 1) * 1e6,
                xb_fit_update_sigma(m, g, 1) * 1e6, xb_fit_update_step(m, g, -1) * 1e6, xb_fit_update_sigma(m, g, -1) * 1e6);
    }
}

static int update_plot(xb_stage *stage, FILE *gp, const xb_update_data *d, const xb_update_model *m, xb_error *err)
{
    const char *dev = xb_device_name(d->device);
    char name[256];
    snprintf(name, sizeof name, "update_model_%s.dat", dev);
    FILE *f;
    int rc = xb_stage_fopen(stage, name, 1, &f, err);
    if (rc) return rc;
    rc = update_traj(f, d, m, err);
    fprintf(f, "\n\n");
    if (!rc) update_steps(f, d, m);
    int rc2 = xb_stage_fclose(stage, f, err); /* checked: a full disk is an error here */
    if (rc) return rc;
    if (rc2) return rc2;
    fprintf(gp, "\nset terminal pngcairo size 1400,600 noenhanced\nset output 'update_model_%s.png'\n"
                "unset logscale x\nunset logscale y\nset multiplot layout 1,2 title \"%s pulse-update model (law %s) vs "
                "SPICE pulse trains\"\n",
            dev, dev, xb_update_law_name(m->law));
    fprintf(gp, "set title \"trains of the first start state: mean and +-1 std over devices\"\nset xlabel \"slot (pulse) "
                "number\"\nset ylabel \"G after the slot (uS)\"\nset key top right\n"
                "plot 'update_model_%s.dat' index 0 using 1:2 with lines lw 2 lc rgb 'black' title \"SPICE mean\", \\\n"
                "     '' index 0 using 1:($2-$3):($2+$3) with filledcurves fc rgb '#c0c0c0' fs transparent solid 0.5 "
                "title \"SPICE +-std\", \\\n"
                "     '' index 0 using 1:4 with lines lw 2 lc rgb 'red' title \"model mean\", \\\n"
                "     '' index 0 using 1:($4-$5) with lines dt 2 lc rgb 'red' title \"model +-std\", \\\n"
                "     '' index 0 using 1:($4+$5) with lines dt 2 lc rgb 'red' notitle\n",
            dev);
    fprintf(gp, "set title \"change of G per pulse vs the state before it\"\nset xlabel \"G before the pulse (uS)\"\n"
                "set ylabel \"dG (uS)\"\n"
                "plot 'update_model_%s.dat' index 1 using 1:2 with points pt 7 ps 0.4 lc rgb '#4060c0' title \"SPICE up\", "
                "\\\n     '' index 2 using 1:2 with points pt 7 ps 0.4 lc rgb '#c04040' title \"SPICE down\", \\\n"
                "     '' index 3 using 1:2 with lines lw 2 lc rgb 'blue' title \"law up\", \\\n"
                "     '' index 3 using 1:($2-$3) with lines dt 2 lc rgb 'blue' title \"+-c2c\", \\\n"
                "     '' index 3 using 1:($2+$3) with lines dt 2 lc rgb 'blue' notitle, \\\n"
                "     '' index 3 using 1:4 with lines lw 2 lc rgb 'red' title \"law down\", \\\n"
                "     '' index 3 using 1:($4-$5) with lines dt 2 lc rgb 'red' notitle, \\\n"
                "     '' index 3 using 1:($4+$5) with lines dt 2 lc rgb 'red' notitle\n"
                "unset multiplot\nset terminal pngcairo size 900,600 noenhanced\n",
            dev);
    return XB_OK;
}

/* The plots of the [write] points. */
static int plot_write(xb_stage *stage, FILE *gp, report *r, png_list *pngs, xb_error *err)
{
    struct { series_set *ss; const char *name, *title, *xl, *yl; int log; } pl[] = {
        {&r->werr, "write_error_hist", "arrays programmed in circuit: final G - target (1 % bins)",
         "error (% of g_max - g_min)", "fraction of cells", 0},
        {&r->wpul, "write_pulses_hist", "arrays programmed in circuit: pulses per cell", "pulses", "fraction of cells", 0},
        {&r->wenergy, "write_energy_vs_size", "programming energy of the whole array vs size", "N (sqrt of rows x cols)",
         "energy (nJ)", 1},
    };
    int rc = XB_OK;
    for (size_t q = 0; !rc && q < sizeof pl / sizeof pl[0]; q++) {
        if (!pl[q].ss->n) continue;
        rc = write_set(stage, pl[q].name, pl[q].ss, err);
        plot_lines(gp, pl[q].name, pl[q].ss, pl[q].title, pl[q].xl, pl[q].yl, pl[q].log, pl[q].log, "");
        if (!rc) rc = png_add(pngs, "%s.png", pl[q].name, err);
    }
    if (rc || !r->wmap) return rc;
    FILE *m = NULL;
    rc = xb_stage_fopen(stage, "write_disturb_map.dat", 1, &m, err);
    if (rc) return rc;
    for (size_t i = 0; i < r->wmap_rows; i++) {
        for (size_t j = 0; j < r->wmap_cols; j++) fprintf(m, "%s%.8g", j ? " " : "", r->wmap[i * r->wmap_cols + j] * 1e6);
        fprintf(m, "\n");
    }
    rc = xb_stage_fclose(stage, m, err);
    fprintf(gp, "\nset output 'write_disturb_map.png'\nunset logscale x\nunset logscale y\n"
                "set title \"disturb of each cell by the other cells' pulses, %s (%zux%zu)\"\n"
                "set xlabel \"column j\"\nset ylabel \"row i\"\nset cblabel \"uS\"\nset autoscale fix\n"
                "set yrange [] reverse\nset size ratio -1\nplot 'write_disturb_map.dat' matrix with image notitle\n"
                "set size noratio\nset yrange [] noreverse\nset autoscale\n",
            r->wmap_point, r->wmap_rows, r->wmap_cols);
    if (!rc) rc = png_add(pngs, "%s.png", "write_disturb_map", err);
    return rc;
}

static int report_update(const char *in, const char *model, xb_stage *stage, FILE *gp, png_list *pngs, xb_error *err)
{
    xb_update_set *set = NULL;
    xb_update_model *ms = NULL;
    size_t nm = 0;
    int rc = xb_update_set_load(in, &set, err);
    if (!rc && model && xb_update_set_count(set)) rc = xb_fit_update_read_all(model, &ms, &nm, err);
    for (size_t k = 0; !rc && k < xb_update_set_count(set); k++) {
        const xb_update_data *d = xb_update_set_data(set, k);
        xb_update_model own;
        memset(&own, 0, sizeof own);
        const xb_update_model *m = NULL;
        if (model) {
            m = find_update(ms, nm, d->device);
            if (!m) rc = xb_errorf(err, XB_EINPUT, "%s: no /update/%s for the %s pulse trains of %s", model,
                                   xb_device_name(d->device), xb_device_name(d->device), in);
        } else {
            xb_error e2;
            if (xb_fit_update(d, XB_UPDATE_AUTO, &own, &e2) == XB_OK) m = &own; /* no model: no plot */
        }
        if (!rc && m) {
            rc = update_plot(stage, gp, d, m, err);
            if (!rc) rc = png_add(pngs, "update_model_%s.png", xb_device_name(d->device), err);
        }
        xb_fit_update_clear(&own);
    }
    xb_fit_update_free_all(ms, nm);
    xb_update_set_free(set);
    return rc;
}

int xb_cmd_report(int argc, char **argv)
{
    if (xb_cli_wants_help(argc, argv)) {
        fputs(k_help, stdout);
        return 0;
    }
    const char *in = NULL, *dir = NULL, *acc_csv = NULL, *model = NULL;
    xb_error err;
    xb_error_clear(&err);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (xb_cli_is_flag(a, "-o") || xb_cli_is_flag(a, "--output")) {
            const char *v = xb_cli_flag_value(argc, argv, &i, a[1] == 'o' ? "-o" : "--output", &err);
            if (!v) return xb_cli_fail("report", &err);
            dir = v;
        } else if (xb_cli_is_flag(a, "--model")) {
            if (!(model = xb_cli_flag_value(argc, argv, &i, "--model", &err))) return xb_cli_fail("report", &err);
        } else if (xb_cli_is_flag(a, "--accuracy-time")) {
            if (!(acc_csv = xb_cli_flag_value(argc, argv, &i, "--accuracy-time", &err))) return xb_cli_fail("report", &err);
        } else if (a[0] == '-' && a[1]) {
            return xb_cli_usage_error("report", "unknown option '%s'", a);
        } else if (!in) {
            in = a;
        } else {
            return xb_cli_usage_error("report", "unexpected argument '%s'", a);
        }
    }
    if (!in && !acc_csv) return xb_cli_usage_error("report", "missing RESULTS.h5");
    if (!dir) return xb_cli_usage_error("report", "-o: missing output directory");
    if (acc_csv) {
        if (xb_cli_report_accuracy_time(acc_csv, dir, &err)) return xb_cli_fail("report", &err);
        if (!in) return 0;
    }
    xb_char_results *res = NULL;
    if (xb_char_results_open(in, &res, &err)) return xb_cli_fail("report", &err);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        xb_char_results_close(res);
        xb_errorf(&err, XB_ERUNTIME, "%s: cannot create: %s", dir, strerror(errno));
        return xb_cli_fail("report", &err);
    }
    report r;
    memset(&r, 0, sizeof r);
    /* every file is written into a staging directory inside DIR and moved into place when
     * all of them (and gnuplot's PNGs) are complete: a failed report leaves DIR as it was */
    xb_stage *stage = NULL;
    int rc = xb_stage_new(dir, &stage, &err);
    r.stage = stage;
    FILE *csv = NULL;
    if (!rc) rc = xb_stage_fopen(stage, "summary.csv", 1, &csv, &err);
    if (!rc)
        fprintf(csv, "point,status,device,cell,rows,cols,engine,r_wire_row_ohm,r_wire_col_ohm,r_driver_ohm,input,"
                     "err_total_mean,err_total_max,spice_check_rel_l2,t_settle_max_s,e_read_joule,e_per_mac_joule,"
                     "margin_float,margin_v2,margin_v3,e_read_static_joule,err_target_mean\n");
    for (size_t k = 0; k < xb_char_results_npoints(res) && !rc; k++) rc = read_point(res, k, &r, csv, &err);
    if (!rc) rc = xb_stage_fclose(stage, csv, &err);
    if (!rc && r.wcsv) rc = xb_stage_fclose(stage, r.wcsv, &err);
    else if (r.wcsv) fclose(r.wcsv);

    FILE *gp = NULL;
    if (!rc) rc = xb_stage_fopen(stage, "report.gp", 1, &gp, &err);
    png_list pngs = {.n = 0};
    if (!rc) {
        fprintf(gp, "# xbar report of %s (gnuplot)\nset terminal pngcairo size 900,600 noenhanced\n"
                    "set grid\nset key outside right top\n", in);
        char settle_title[400];
        snprintf(settle_title, sizeof settle_title, "settling time to 0.1%% vs size\\n(%s)", r.rc_params);
        struct { series_set *ss; const char *name, *title, *xl, *yl; int logx, logy; } pl[] = {
            {&r.err, "mvm_error_vs_size", "MVM error vs array size (circuit vs ideal V.G)", "N (sqrt of rows x cols)",
             "relative L2 error (%)", 1, 1},
            {&r.margin, "sneak_margin_vs_size", "single-cell read margin vs size (worst case: all others at g_max)",
             "N", "read margin (I_on - I_off)/I_on (%)", 1, 1},
            {&r.settle, "settling_vs_size", settle_title, "N", "settling time from the input step (ps)", 1, 1},
            {&r.energy, "energy_vs_size", "read energy per MVM vs size", "N", "energy per MVM (pJ)", 1, 1},
            {&r.eop, "energy_per_op_vs_size", "energy per multiply-accumulate vs N", "N",
             "energy per MAC (fJ)", 1, 1},
        };
        for (size_t q = 0; q < sizeof pl / sizeof pl[0] && !rc; q++) {
            size_t pts = 0;
            for (size_t s = 0; s < pl[q].ss->n; s++)
                for (size_t a = 0; a < pl[q].ss->s[s].n; a++) pts += !pl[q].logy || pl[q].ss->s[s].y[a] > 0;
            if (!pts) continue;
            rc = write_set(stage, pl[q].name, pl[q].ss, &err);
            char extra[256] = "";
            if (pl[q].ss == &r.eop && r.eop_first_x > 0)
                snprintf(extra, sizeof extra, "%.10g*%.10g/x with lines dashtype 2 lc rgb 'black' title \"1/N reference\"",
                         r.eop_first_y, r.eop_first_x);
            plot_lines(gp, pl[q].name, pl[q].ss, pl[q].title, pl[q].xl, pl[q].yl, pl[q].logx, pl[q].logy, extra);
            if (!rc) rc = png_add(&pngs, "%s.png", pl[q].name, &err);
        }
        if (!rc && r.prog.n) {
            rc = write_set(stage, "program_curves", &r.prog, &err);
            plot_lines(gp, "program_curves", &r.prog,
                       "programming curves: G after each pulse (potentiation then depression, repeated cycles)",
                       "pulse number", "conductance at v_read (uS)", 0, 0, "");
            if (!rc) rc = png_add(&pngs, "%s.png", "program_curves", &err);
        }
        if (!rc) rc = plot_write(stage, gp, &r, &pngs, &err);
        if (!rc && r.ir_map) {
            FILE *m = NULL;
            rc = xb_stage_fopen(stage, "ir_drop_map.dat", 1, &m, &err);
            if (!rc) {
                size_t R = (size_t)r.ir_rows, C = (size_t)r.ir_cols;
                for (size_t i = 0; i < R; i++) {
                    for (size_t j = 0; j < C; j++) fprintf(m, "%s%.8g", j ? " " : "", r.ir_map[i * C + j]);
                    fprintf(m, "\n");
                }
                rc = xb_stage_fclose(stage, m, &err);
                fprintf(gp, "\nset output 'ir_drop_map.png'\nunset logscale x\nunset logscale y\n"
                            "set title \"voltage across each cell, %s (%zux%zu, every row at v_read)\"\n"
                            "set xlabel \"column j (sense at the bottom)\"\nset ylabel \"row i (driver at the left)\"\n"
                            "set cblabel \"V\"\nset autoscale fix\nset yrange [] reverse\nset size ratio -1\n"
                            "plot 'ir_drop_map.dat' matrix with image notitle\nset size noratio\nset yrange [] noreverse\nset autoscale\n",
                        r.ir_point, R, C);
                if (!rc) rc = png_add(&pngs, "%s.png", "ir_drop_map", &err);
            }
        }
        if (!rc) rc = xb_cli_report_physics(res, stage, gp, pngs.name, XB_REPORT_MAX_PLOTS, &pngs.n, &err);
        if (!rc) rc = xb_cli_report_parity(res, model, stage, gp, pngs.name, XB_REPORT_MAX_PLOTS, &pngs.n, &err);
        if (!rc) rc = report_update(in, model, stage, gp, &pngs, &err);
        int rc2 = xb_stage_fclose(stage, gp, &err);
        if (!rc) rc = rc2;
    }
    xb_char_results_close(res);
    if (!rc && pngs.n) {
        const char *names[XB_REPORT_MAX_PLOTS];
        for (size_t q = 0; q < pngs.n; q++) names[q] = pngs.name[q];
        rc = xb_cli_gnuplot(stage, "report.gp", names, pngs.n, &err);
        for (size_t q = 0; q < pngs.n && !rc; q++) rc = xb_stage_keep(stage, names[q], names[q], &err);
        if (!rc) rc = xb_stage_keep(stage, "gnuplot.log", "gnuplot.log", &err);
    }
    if (!rc) rc = xb_stage_commit(stage, &err);
    else xb_stage_free(stage);
    free_set(&r.err);
    free_set(&r.margin);
    free_set(&r.settle);
    free_set(&r.energy);
    free_set(&r.eop);
    free_set(&r.prog);
    free_set(&r.werr);
    free_set(&r.wpul);
    free_set(&r.wenergy);
    free(r.wmap);
    free(r.ir_map);
    if (rc) return xb_cli_fail("report", &err);
    printf("%s: %zu plots and summary.csv\n", dir, pngs.n);
    return 0;
}
