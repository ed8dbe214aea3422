/* xbar demo: the main job end to end on built-in defaults.
 *
 *   characterize/demo.ini (RRAM, PCM, ECRAM arrays 16..64: ngspice, native with ngspice
 *   checks, transients) -> xbar fit -> characterize/write.ini (pulse trains) -> xbar fit
 *   (pulse-update models) -> xbar report -> xbar run on Fashion-MNIST with the
 *   fitted model of every device, with and without digital calibration -> PCM accuracy
 *   from 1 s to 1 year after programming, with and without drift compensation -> one table.
 *
 * Every step is the same `xbar` subcommand a user would type, run as a child process of
 * this binary with its output in DIR/logs/, so the demo shows exactly what the commands
 * do and a failing step is reported with its log.  Rerunning resumes the campaign. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "xbar/fit.h"

static const char k_help[] =
    "usage: xbar demo [-o DIR] [--limit N] [--jobs N]\n"
    "\n"
    "Runs the whole pipeline on built-in defaults and prints one table:\n"
    "  1. xbar characterize characterize/demo.ini   RRAM, PCM, ECRAM 1R arrays 16x16..64x64, 1 ohm\n"
    "     wires: static MVM in ngspice (native engine at 64x64, re-solved in ngspice), transient reads\n"
    "  2. xbar fit       behavioural MVM models (IR drop, read nonlinearity, energy, settling)\n"
    "  3. xbar characterize characterize/write.ini + xbar fit   pulse trains of RRAM, PCM, ECRAM\n"
    "                    devices -> pulse-update models (step vs state, c2c and d2d spread, energy)\n"
    "  4. xbar report    PNG plots of the campaigns (plots/, the update models in plots/update/)\n"
    "  5. xbar run       the shipped Fashion-MNIST MLP on 64x64 tiles of each device (fitted model,\n"
    "                    programming noise), with and without per-column calibration, vs ideal\n"
    "  6. xbar run --time-sweep   PCM accuracy from 1 s to 1 year after programming (drift, 1/f\n"
    "                    read noise), with and without global drift compensation, plotted\n"
    "Outputs in DIR: results.h5, model.h5, results-write.h5, update.h5, plots/, run-*.json,\n"
    "accuracy_vs_time.csv, logs/.\n"
    "Rerunning resumes the campaign (finished points are kept).\n"
    "\n"
    "options:\n"
    "  -o, --output DIR   output directory                      [xbar-demo]\n"
    "  --limit N          Fashion-MNIST test images per run      [2000]\n"
    "  --drift-limit N    test images of the PCM drift sweep     [500]\n"
    "  --jobs N           campaign points in parallel            [cores]\n"
    "  --campaign FILE    campaign to characterize               [characterize/demo.ini]\n"
    "  --write-campaign FILE  pulse-train campaign               [characterize/write.ini]\n"
    "  --network FILE     network to run                         [data/fmnist_mlp.h5]\n";

typedef struct {
    const char *self;   /* this xbar binary */
    const char *dir;    /* output directory */
} demo_ctx;

/* Run `xbar ARGS...` with stdout+stderr into DIR/logs/NAME.log; returns the exit status. */
static int run_step(const demo_ctx *c, const char *name, char *const args[])
{
    char log[4096];
    snprintf(log, sizeof log, "%s/logs/%s.log", c->dir, name);
    size_t n = 0;
    while (args[n]) n++;
    char **argv = calloc(n + 2, sizeof *argv);
    if (!argv) return XB_ERUNTIME;
    argv[0] = (char *)c->self;
    for (size_t k = 0; k < n; k++) argv[k + 1] = args[k];
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) { free(argv); return XB_ERUNTIME; }
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) _exit(XB_ERUNTIME);
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
        execv(c->self, argv);
        _exit(127);
    }
    free(argv);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return XB_ERUNTIME;
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    return XB_ERUNTIME;
}

/* First number after "key": in a JSON text written by `xbar run --json`. */
static int json_number(const char *text, const char *key, double *out)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(text, pat);
    if (!p) return XB_EINPUT;
    char *end;
    *out = strtod(p + strlen(pat), &end);
    return end == p + strlen(pat) ? XB_EINPUT : XB_OK;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) { free(s); s = NULL; }
    if (s) s[n] = '\0';
    fclose(f);
    return s;
}

typedef struct {
    const char *label;
    double acc, acc_ideal, e_joule, tops_w, seconds;
} demo_row;

static int run_network(const demo_ctx *c, const char *name, char *const extra[], const char *net,
                       const char *limit, demo_row *row)
{
    char json[4096];
    snprintf(json, sizeof json, "%s/run-%s.json", c->dir, name);
    char *args[40];
    size_t n = 0;
    args[n++] = "run";
    args[n++] = "--network";
    args[n++] = (char *)net;
    args[n++] = "--limit";
    args[n++] = (char *)limit;
    args[n++] = "--json";
    args[n++] = json;
    for (size_t k = 0; extra[k] && n < 39; k++) args[n++] = extra[k];
    args[n] = NULL;
    double t0 = xb_now_s();
    int rc = run_step(c, name, args);
    row->seconds = xb_now_s() - t0;
    if (rc) return rc;
    char *text = slurp(json);
    if (!text) return XB_ERUNTIME;
    row->e_joule = row->tops_w = 0;
    int bad = json_number(text, "accuracy", &row->acc) || json_number(text, "accuracy_ideal", &row->acc_ideal);
    json_number(text, "total", &row->e_joule);
    json_number(text, "tops_per_watt", &row->tops_w);
    free(text);
    return bad ? XB_ERUNTIME : XB_OK;
}

static int step_failed(const demo_ctx *c, const char *what, const char *name, int rc)
{
    fprintf(stderr, "xbar demo: %s failed (exit %d); see %s/logs/%s.log\n", what, rc, c->dir, name);
    return rc == XB_EINPUT ? XB_EINPUT : XB_ERUNTIME;
}

/* Step 3: the pulse-train campaign and its pulse-update models, one line per device. */
static int write_step(const demo_ctx *c, const char *campaign, const char *wresults, const char *update,
                      const char *jobs)
{
    printf("[3/6] pulse trains %s -> pulse-update models %s ...\n", campaign, update);
    double t0 = xb_now_s();
    char *a[] = {"characterize", (char *)campaign, "-o", (char *)wresults, "-q", jobs ? "-j" : NULL, (char *)jobs, NULL};
    int rc = run_step(c, "characterize-write", a);
    if (rc == XB_ERUNTIME && access(wresults, R_OK) == 0)
        printf("      some points failed (recorded in %s); continuing with the others\n", wresults);
    else if (rc) return step_failed(c, "characterize (pulse trains)", "characterize-write", rc);
    char *f[] = {"fit", (char *)wresults, "-o", (char *)update, "--force", NULL};
    if ((rc = run_step(c, "fit-write", f))) return step_failed(c, "fit (pulse trains)", "fit-write", rc);
    xb_update_model *ms = NULL;
    size_t n = 0;
    xb_error err;
    if (xb_fit_update_read_all(update, &ms, &n, &err)) {
        fprintf(stderr, "xbar demo: %s\n", err.msg);
        return err.code;
    }
    for (size_t k = 0; k < n; k++) {
        const xb_update_model *m = &ms[k];
        const double mid = 0.5 * (m->g_min_siemens + m->g_max_siemens);
        printf("      %-5s law %-10s window %.3g..%.3g uS, at mid-window up %+.3g / down %+.3g uS per pulse, "
               "held-out %.1f%% of the window\n",
               xb_device_name(m->device), xb_update_law_name(m->law), m->g_min_siemens * 1e6, m->g_max_siemens * 1e6,
               xb_fit_update_step(m, mid, 1) * 1e6, xb_fit_update_step(m, mid, -1) * 1e6,
               100 * m->heldout_traj_rel[m->law]);
    }
    xb_fit_update_free_all(ms, n);
    printf("      done in %.0f s (%s/logs/fit-write.log)\n", xb_now_s() - t0, c->dir);
    return XB_OK;
}

/* A shipped input of the demo: <share>/xbar/<rel>, where <share>/xbar/models is the models
 * directory the netlist stage found (an install, a moved install, the build tree's links, or
 * $XBAR_MODELS_DIR's parent).  One line naming the path and exit 1 when it is not there. */
static int demo_share_file(const char *rel, char *buf, size_t n, const char **out)
{
    const char *models;
    xb_error err;
    if (xb_netlist_models_dir_find(&models, &err)) {
        fprintf(stderr, "xbar demo: %s\n", err.msg);
        return XB_ERUNTIME;
    }
    const char *slash = strrchr(models, '/');
    const int dlen = slash ? (int)(slash - models) : 1;
    if ((size_t)snprintf(buf, n, "%.*s/%s", dlen, slash ? models : ".", rel) >= n) {
        fprintf(stderr, "xbar demo: path of %s too long\n", rel);
        return XB_ERUNTIME;
    }
    if (access(buf, R_OK) != 0) {
        fprintf(stderr, "xbar demo: cannot read the shipped %s (%s: %s); give it with a flag (see --help)\n", rel,
                buf, strerror(errno));
        return XB_ERUNTIME;
    }
    *out = buf;
    return XB_OK;
}

int xb_cmd_demo(int argc, char **argv)
{
    if (xb_cli_wants_help(argc, argv)) {
        fputs(k_help, stdout);
        return 0;
    }
    const char *dir = "xbar-demo", *limit = "2000", *drift_limit = "500", *jobs = NULL;
    /* the shipped inputs live next to the models: share/xbar/{characterize,data} of the
     * install, or the same links in the build tree (demo_share_file) */
    static char d_campaign[4096], d_write[4096], d_net[4096];
    const char *campaign = NULL, *write_campaign = NULL, *net = NULL;
    xb_error err;
    xb_error_clear(&err);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        size_t n;
        if (xb_cli_is_flag(a, "-o") || xb_cli_is_flag(a, "--output")) {
            if (!(v = xb_cli_flag_value(argc, argv, &i, a[1] == 'o' ? "-o" : "--output", &err)))
                return xb_cli_usage_error("demo", "%s", err.msg);
            dir = v;
        } else if (xb_cli_is_flag(a, "--limit") || xb_cli_is_flag(a, "--jobs") ||
                   xb_cli_is_flag(a, "--drift-limit")) {
            const char *flag = a[2] == 'l' ? "--limit" : (a[2] == 'j' ? "--jobs" : "--drift-limit");
            if (!(v = xb_cli_flag_value(argc, argv, &i, flag, &err)) || xb_parse_size(v, flag, &n, &err))
                return xb_cli_usage_error("demo", "%s", err.msg);
            if (n == 0) return xb_cli_usage_error("demo", "%s: must be >= 1", flag);
            if (flag[2] == 'l') limit = v;
            else if (flag[2] == 'j') jobs = v;
            else drift_limit = v;
        } else if (xb_cli_is_flag(a, "--campaign")) {
            if (!(v = xb_cli_flag_value(argc, argv, &i, "--campaign", &err)))
                return xb_cli_usage_error("demo", "%s", err.msg);
            campaign = v;
        } else if (xb_cli_is_flag(a, "--write-campaign")) {
            if (!(v = xb_cli_flag_value(argc, argv, &i, "--write-campaign", &err)))
                return xb_cli_usage_error("demo", "%s", err.msg);
            write_campaign = v;
        } else if (xb_cli_is_flag(a, "--network")) {
            if (!(v = xb_cli_flag_value(argc, argv, &i, "--network", &err)))
                return xb_cli_usage_error("demo", "%s", err.msg);
            net = v;
        } else {
            return xb_cli_usage_error("demo", "unknown option '%s'", a);
        }
    }
    if ((!campaign && demo_share_file("characterize/demo.ini", d_campaign, sizeof d_campaign, &campaign)) ||
        (!write_campaign && demo_share_file("characterize/write.ini", d_write, sizeof d_write, &write_campaign)) ||
        (!net && demo_share_file("data/fmnist_mlp.h5", d_net, sizeof d_net, &net)))
        return XB_ERUNTIME;
    if (access(campaign, R_OK) != 0)
        return xb_cli_usage_error("demo", "--campaign: cannot read %s", campaign);
    if (access(net, R_OK) != 0) return xb_cli_usage_error("demo", "--network: cannot read %s", net);
    if (access(write_campaign, R_OK) != 0)
        return xb_cli_usage_error("demo", "--write-campaign: cannot read %s", write_campaign);

    static char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0) {
        fprintf(stderr, "xbar demo: cannot locate the xbar binary (/proc/self/exe)\n");
        return XB_ERUNTIME;
    }
    self[sl] = '\0';
    char logs[4096];
    snprintf(logs, sizeof logs, "%s/logs", dir);
    if ((mkdir(dir, 0755) != 0 && errno != EEXIST) || (mkdir(logs, 0755) != 0 && errno != EEXIST)) {
        fprintf(stderr, "xbar demo: cannot create %s: %s\n", logs, strerror(errno));
        return XB_ERUNTIME;
    }
    demo_ctx c = {self, dir};
    char results[4096], model[4096], plots[4096], wresults[4096], update[4096], uplots[4200];
    snprintf(results, sizeof results, "%s/results.h5", dir);
    snprintf(model, sizeof model, "%s/model.h5", dir);
    snprintf(plots, sizeof plots, "%s/plots", dir);
    snprintf(wresults, sizeof wresults, "%s/results-write.h5", dir);
    snprintf(update, sizeof update, "%s/update.h5", dir);
    snprintf(uplots, sizeof uplots, "%s/update", plots);
    double t_start = xb_now_s(), t0;
    int rc;

    printf("xbar demo: output in %s/\n", dir);
    printf("[1/6] characterize %s (ngspice + native; resumes if interrupted) ...\n", campaign);
    t0 = xb_now_s();
    {
        char *a[] = {"characterize", (char *)campaign, "-o", results, "-q", jobs ? "-j" : NULL, (char *)jobs, NULL};
        rc = run_step(&c, "characterize", a);
    }
    if (rc == XB_ERUNTIME && access(results, R_OK) == 0)
        printf("      some points failed (recorded in %s); continuing with the others\n", results);
    else if (rc) return step_failed(&c, "characterize", "characterize", rc);
    printf("      done in %.0f s\n", xb_now_s() - t0);

    printf("[2/6] fit behavioural models -> %s ...\n", model);
    t0 = xb_now_s();
    {
        char *a[] = {"fit", results, "-o", model, "--force", NULL};
        if ((rc = run_step(&c, "fit", a))) return step_failed(&c, "fit", "fit", rc);
    }
    printf("      done in %.0f s (fit quality per configuration: %s/logs/fit.log)\n", xb_now_s() - t0, dir);

    if ((rc = write_step(&c, write_campaign, wresults, update, jobs))) return rc;

    printf("[4/6] plots -> %s/ ...\n", plots);
    {
        char *a[] = {"report", results, "-o", plots, NULL};
        if ((rc = run_step(&c, "report", a))) return step_failed(&c, "report", "report", rc);
        char *b[] = {"report", wresults, "-o", uplots, "--model", update, NULL};
        if ((rc = run_step(&c, "report-write", b))) return step_failed(&c, "report", "report-write", rc);
    }

    printf("[5/6] Fashion-MNIST, %s test images, 64x64 tiles, 8-bit DAC/ADC ...\n", limit);
    /* every device with a dynamic model (the physical ones of characterize/demo.ini) */
    const char *devices[XB_DEVICE_COUNT];
    size_t n_dev = 0;
    for (int d = 0; d < XB_DEVICE_COUNT; d++)
        if (xb_device_info_get((xb_device_kind)d)->dyn_subckt) devices[n_dev++] = xb_device_name((xb_device_kind)d);
    demo_row rows[1 + 2 * XB_DEVICE_COUNT];
    size_t nrows = 0;
    {
        char *a[] = {"--engine", "ideal", NULL};
        rows[nrows].label = "ideal (float32)";
        if ((rc = run_network(&c, "ideal", a, net, limit, &rows[nrows]))) return step_failed(&c, "run", "ideal", rc);
        nrows++;
    }
    static char labels[2 * XB_DEVICE_COUNT][64];
    for (size_t d = 0; d < n_dev; d++) {
        for (int cal = 1; cal >= 0; cal--) {
            char name[64];
            snprintf(name, sizeof name, "%s-%s", devices[d], cal ? "calibrated" : "raw");
            snprintf(labels[nrows - 1], sizeof labels[0], "%-5s %s", devices[d],
                     cal ? "+ calibration" : "no calibration");
            char *a[] = {"--engine", "model", "--model", model, "--device", (char *)devices[d], "--r-wire", "1",
                         "--var-program", cal ? NULL : "--no-calibration", NULL};
            rows[nrows].label = labels[nrows - 1];
            if ((rc = run_network(&c, name, a, net, limit, &rows[nrows]))) return step_failed(&c, "run", name, rc);
            printf("      %-26s %6.2f%%  (%.0f s)\n", rows[nrows].label, 100 * rows[nrows].acc, rows[nrows].seconds);
            nrows++;
        }
    }

    printf("[6/6] PCM drift: accuracy 1 s .. 1 year after programming, %s images ...\n", drift_limit);
    char csv[4096];
    snprintf(csv, sizeof csv, "%s/accuracy_vs_time.csv", dir);
    {
        char *a[] = {"run", "--network", (char *)net, "--engine", "model", "--model", model, "--device", "pcm",
                     "--r-wire", "1", "--var-program", "--read-noise", "--limit", (char *)drift_limit,
                     "--time-sweep", "--time-csv", csv, NULL};
        t0 = xb_now_s();
        if ((rc = run_step(&c, "pcm-drift", a))) return step_failed(&c, "drift sweep", "pcm-drift", rc);
        char *r[] = {"report", "--accuracy-time", csv, "-o", plots, NULL};
        if ((rc = run_step(&c, "report-drift", r))) return step_failed(&c, "drift plot", "report-drift", rc);
        printf("      done in %.0f s\n", xb_now_s() - t0);
    }

    printf("\n%-28s %9s %9s %14s %9s\n", "configuration", "top-1", "vs ideal", "E/inference", "TOPS/W");
    for (size_t k = 0; k < nrows; k++) {
        printf("%-28s %8.2f%% %+8.2f ", rows[k].label, 100 * rows[k].acc, 100 * (rows[k].acc - rows[0].acc));
        if (k == 0) printf("%14s %9s\n", "-", "-");
        else printf("%11.1f nJ %9.2f\n", rows[k].e_joule * 1e9, rows[k].tops_w);
    }
    /* Drift rows from the sweep's CSV: time_s,accuracy_no_comp,accuracy_comp,accuracy_ideal */
    char *text = slurp(csv);
    if (!text) return step_failed(&c, "drift sweep (no CSV)", "pcm-drift", XB_ERUNTIME);
    printf("PCM drift (%s images; ideal on them in the last column):\n", drift_limit);
    static const struct { double t; const char *name; } k_times[] = {{3600, "1 hour"}, {86400, "1 day"},
                                                                      {31557600, "1 year"}};
    for (size_t k = 0; k < 3; k++) {
        for (char *line = strchr(text, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
            double t, a0, a1, ai;
            if (sscanf(line + 1, "%lf,%lf,%lf,%lf", &t, &a0, &a1, &ai) == 4 && t == k_times[k].t) {
                printf("  pcm %-8s no drift compensation %6.2f%%   compensated %6.2f%%   (ideal %.2f%%)\n",
                       k_times[k].name, 100 * a0, 100 * a1, 100 * ai);
                break;
            }
        }
    }
    free(text);
    printf("\nEnergy: array read (fitted from the SPICE transients) + DAC + ADC + digital; see %s/run-*.json.\n",
           dir);
    printf("Plots: %s/*.png   Model: %s (tools/xbar_model.py reads it)   Total %.0f s\n", plots, model,
           xb_now_s() - t_start);
    return 0;
}
