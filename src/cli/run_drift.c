/* xbar run --time-sweep (accuracy vs time after programming, with and without global drift
 * compensation) and the plot of xbar report --accuracy-time.  docs/drift.md. */
#include "cli/run_drift.h"
#include "cli/cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

int xb_cli_parse_time_list(const char *s, double *times, size_t *n, xb_error *err)
{
    static const char *const k_default[] = {"1s", "1m", "1h", "1d", "1mo", "1y"};
    *n = 0;
    if (!s) {
        for (size_t k = 0; k < 6; k++)
            if (xb_exec_parse_time(k_default[k], "--time-sweep", &times[(*n)++], err)) return XB_EINPUT;
        return XB_OK;
    }
    char buf[1024];
    if (strlen(s) >= sizeof buf) return xb_errorf(err, XB_EINPUT, "--time-sweep: list too long");
    strcpy(buf, s);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (*n >= XB_SWEEP_MAX) return xb_errorf(err, XB_EINPUT, "--time-sweep: more than %d times", XB_SWEEP_MAX);
        if (xb_exec_parse_time(tok, "--time-sweep", &times[(*n)++], err)) return XB_EINPUT;
    }
    if (*n == 0) return xb_errorf(err, XB_EINPUT, "--time-sweep: empty list");
    return XB_OK;
}

static int accuracy(xb_exec *ex, const xb_network *net, const xb_dataset *test, size_t batch, float **acts,
                    double *acc, xb_error *err)
{
    const size_t nl = xb_network_n_layers(net), in_sz = xb_network_input_size(net);
    const size_t n_classes = xb_network_output_size(net);
    double ok = 0;
    for (size_t s0 = 0; s0 < test->n; s0 += batch) {
        size_t nb = test->n - s0 < batch ? test->n - s0 : batch;
        int rc = ex ? xb_exec_forward(ex, test->images + s0 * in_sz, nb, acts, err)
                    : xb_network_forward(net, test->images + s0 * in_sz, nb, acts, err);
        if (rc) return rc;
        ok += xb_exec_top1(acts[nl - 1], nb, n_classes, test->labels + s0) * (double)nb;
    }
    *acc = ok / (double)test->n;
    return XB_OK;
}

static const char *time_label(double t, char *buf, size_t n)
{
    static const struct { double s; const char *u; } k[] = {
        {31557600.0, "y"}, {2629800.0, "mo"}, {86400.0, "d"}, {3600.0, "h"}, {60.0, "m"}, {1.0, "s"}};
    for (size_t i = 0; i < 6; i++)
        if (t >= k[i].s) {
            snprintf(buf, n, "%.4g %s", t / k[i].s, k[i].u);
            return buf;
        }
    snprintf(buf, n, "%.3g s", t);
    return buf;
}

int xb_cli_run_time_sweep(xb_exec *ex, const xb_network *net, const xb_dataset *test, size_t batch,
                          const double *times, size_t n_times, const char *csv_path, xb_error *err)
{
    const size_t nl = xb_network_n_layers(net);
    float **acts = xb_network_acts_new(net, batch);
    int rc = acts ? XB_OK : xb_errorf(err, XB_ERUNTIME, "out of memory");
    FILE *csv = NULL;
    xb_afile *af = NULL; /* whole file or none (src/common/atomic.c) */
    if (!rc && csv_path) {
        if ((rc = xb_afile_open(csv_path, &af, err))) xb_error_prefix(err, "--time-csv: ");
        else csv = xb_afile_stream(af);
    }
    double acc_ideal = 0;
    if (!rc) rc = accuracy(NULL, net, test, batch, acts, &acc_ideal, err);
    if (!rc) {
        printf("accuracy vs time after programming (%zu images; calibration at t0 = %g s; ideal %.2f%%)\n", test->n,
               XB_DRIFT_T0_S, 100 * acc_ideal);
        printf("  %-10s %14s %16s %16s\n", "time", "t [s]", "no compensation", "compensation");
        if (csv) fprintf(csv, "time_s,accuracy_no_comp,accuracy_comp,accuracy_ideal\n");
    }
    for (size_t i = 0; i < n_times && !rc; i++) {
        double a[2];
        for (int comp = 0; comp < 2 && !rc; comp++) {
            if (!(rc = xb_exec_set_time(ex, times[i], comp, err))) rc = accuracy(ex, net, test, batch, acts, &a[comp], err);
        }
        if (rc) break;
        char lb[32];
        printf("  %-10s %14.6g %15.2f%% %15.2f%%\n", time_label(times[i], lb, sizeof lb), times[i], 100 * a[0],
               100 * a[1]);
        if (csv) fprintf(csv, "%.9g,%.6f,%.6f,%.6f\n", times[i], a[0], a[1], acc_ideal);
    }
    if (af && rc) xb_afile_abort(af);
    else if (af && (rc = xb_afile_commit(af, err))) xb_error_prefix(err, "--time-csv: ");
    xb_network_acts_free(acts, nl);
    return rc;
}

int xb_cli_report_accuracy_time(const char *csv_path, const char *dir, xb_error *err)
{
    FILE *f = fopen(csv_path, "r");
    if (!f) return xb_errorf(err, XB_EINPUT, "--accuracy-time: cannot read %s: %s", csv_path, strerror(errno));
    char line[512];
    int ok = fgets(line, sizeof line, f) && !strncmp(line, "time_s,accuracy_no_comp,accuracy_comp", 37);
    size_t rows = 0, ln = 1;
    while (ok && fgets(line, sizeof line, f)) {
        ln++;
        double a, b, c, d;
        if (sscanf(line, "%lf,%lf,%lf,%lf", &a, &b, &c, &d) != 4 || !(a > 0)) {
            fclose(f);
            return xb_errorf(err, XB_EINPUT, "%s:%zu: expected time_s,accuracy_no_comp,accuracy_comp,accuracy_ideal",
                             csv_path, ln);
        }
        rows++;
    }
    fclose(f);
    if (!ok) return xb_errorf(err, XB_EINPUT, "%s:1: not an xbar run --time-csv file (header)", csv_path);
    if (rows == 0) return xb_errorf(err, XB_EINPUT, "%s: no data rows", csv_path);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) return xb_errorf(err, XB_ERUNTIME, "%s: cannot create: %s", dir, strerror(errno));
    char *abs = realpath(csv_path, NULL);
    if (!abs) return xb_errorf(err, XB_EINPUT, "%s: %s", csv_path, strerror(errno));
    struct stat sb;
    if (stat(abs, &sb) != 0 || !S_ISREG(sb.st_mode)) { /* gnuplot reads it: never a device or a FIFO */
        free(abs);
        return xb_errorf(err, XB_EINPUT, "--accuracy-time: %s is not a regular file", csv_path);
    }
    /* script and plot staged in dir, moved into place once the PNG is complete (gnuplot.c) */
    xb_stage *stage = NULL;
    FILE *gp = NULL;
    int rc = xb_stage_new(dir, &stage, err);
    if (!rc) rc = xb_stage_fopen(stage, "accuracy_vs_time.gp", 1, &gp, err);
    if (!rc) {
        fprintf(gp,
                "# xbar report --accuracy-time (gnuplot)\n"
                "set terminal pngcairo size 900,600 noenhanced\nset output 'accuracy_vs_time.png'\n"
                "set datafile separator ','\nset key autotitle columnhead bottom left\n"
                "set logscale x\nset xlabel 'time after programming [s]'\nset ylabel 'top-1 accuracy [%%]'\n"
                "set grid\nset title 'accuracy vs time after programming'\n"
                "plot '%s' using 1:($3*100) with linespoints lw 2 title 'global drift compensation', \\\n"
                "     '' using 1:($2*100) with linespoints lw 2 title 'no compensation', \\\n"
                "     '' using 1:($4*100) with lines dt 2 title 'ideal (float)'\n",
                abs);
        rc = xb_stage_fclose(stage, gp, err);
    }
    free(abs);
    static const char *const png[] = {"accuracy_vs_time.png"};
    if (!rc) rc = xb_cli_gnuplot(stage, "accuracy_vs_time.gp", png, 1, err);
    if (!rc) rc = xb_stage_keep(stage, png[0], png[0], err);
    if (!rc) rc = xb_stage_keep(stage, "gnuplot.log", "gnuplot.log", err);
    if (!rc) return xb_stage_commit(stage, err);
    xb_stage_free(stage);
    return rc;
}
