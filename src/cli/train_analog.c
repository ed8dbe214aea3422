/* xbar train --analog: in-memory training of the MLP on pair arrays with fitted pulse
 * updates (docs/training.md); per-epoch lines, JSON, a plot of accuracy vs epoch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "xbar/exec.h"
#include "xbar/fit.h"

typedef struct {
    const char *out, *dir, *model, *update_model, *json, *plot;
    size_t limit, test_limit;
    int quiet, baseline, device_set, ideal_reads, force, lr_set, schedule_set, w_range_set;
    xb_device_kind device;
    xb_train_opts o;
    xb_analog_opts a;
} aopts;

#define MAX_EP 256
typedef struct {
    int quiet;
    size_t n;
    xb_analog_epoch e[MAX_EP];
    size_t nb;
    double base_acc[MAX_EP];
} actx;

static void progress(void *user, const xb_analog_epoch *e)
{
    actx *c = user;
    if (c->n < MAX_EP) c->e[c->n++] = *e;
    if (c->quiet) return;
    printf("epoch %zu: loss %.4f  train %.2f%%  test %.2f%%  pulses/weight %.2f  update %.3g J %.3g s  "
           "MVM fwd %.3g J bwd %.3g J  refreshes %.0f  read error %.2g  (%.1f s)\n",
           e->epoch + 1, e->loss, 100 * e->train_acc, 100 * e->test_acc, e->pulses_per_weight, e->e_update_joule,
           e->t_update_s, e->e_fwd_joule, e->e_bwd_joule, e->refreshes, e->gain_error_exact, e->wall_s);
    fflush(stdout);
}

static void base_progress(void *user, size_t epoch, double loss, double acc)
{
    actx *c = user;
    (void)loss;
    if (epoch < MAX_EP) c->base_acc[epoch] = acc;
    c->nb = epoch + 1;
    if (!c->quiet) printf("digital baseline epoch %zu: test %.2f%%\n", epoch + 1, 100 * acc);
}

static int parse(int argc, char **argv, aopts *p, xb_error *err)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        size_t n;
        double d;
#define VAL(flag) (v = xb_cli_flag_value(argc, argv, &i, flag, err))
#define FLAG(f) xb_cli_is_flag(a, f)
        if (!strcmp(a, "--analog")) continue;
        if (!strcmp(a, "--quiet")) p->quiet = 1;
        else if (!strcmp(a, "--baseline")) p->baseline = 1;
        else if (!strcmp(a, "--force")) p->force = 1;
        else if (!strcmp(a, "--deterministic")) p->a.deterministic = 1;
        else if (!strcmp(a, "--ideal-reads")) p->ideal_reads = 1;
        else if (!strcmp(a, "--tt-hidden")) p->a.tt_hidden = 1;
        else if (!strcmp(a, "--tt-reset")) p->a.tt_reset = 1;
        else if (FLAG("--out")) { if (!VAL("--out")) return XB_EINPUT; p->out = v; }
        else if (FLAG("--dataset")) { if (!VAL("--dataset")) return XB_EINPUT; p->dir = v; }
        else if (FLAG("--model")) { if (!VAL("--model")) return XB_EINPUT; p->model = v; }
        else if (FLAG("--update-model")) { if (!VAL("--update-model")) return XB_EINPUT; p->update_model = v; }
        else if (FLAG("--json")) { if (!VAL("--json")) return XB_EINPUT; p->json = v; }
        else if (FLAG("--plot")) { if (!VAL("--plot")) return XB_EINPUT; p->plot = v; }
        else if (FLAG("--device")) {
            if (!VAL("--device")) return XB_EINPUT;
            if (xb_device_from_name(v, &p->device) || !xb_device_info_get(p->device)->dyn_subckt)
                return xb_errorf(err, XB_EINPUT, "--device: '%s' is not a device with a dynamic model", v);
            p->device_set = 1;
        } else if (FLAG("--pair-update")) {
            if (!VAL("--pair-update")) return XB_EINPUT;
            if (!strcmp(v, "both")) p->a.one_sided = 0;
            else if (!strcmp(v, "up")) p->a.one_sided = 1;
            else return xb_errorf(err, XB_EINPUT, "--pair-update: '%s' is not both or up", v);
        } else if (FLAG("--mp-threshold")) {
            if (!VAL("--mp-threshold")) return XB_EINPUT;
            if (!strcmp(v, "state")) p->a.mp_state = 1;
            else if (!strcmp(v, "centre")) p->a.mp_state = 0;
            else return xb_errorf(err, XB_EINPUT, "--mp-threshold: '%s' is not state or centre", v);
        } else if (FLAG("--mp-round")) {
            if (!VAL("--mp-round")) return XB_EINPUT;
            if (!strcmp(v, "trunc")) p->a.mp_round = XB_ANALOG_MP_TRUNC;
            else if (!strcmp(v, "nearest")) p->a.mp_round = XB_ANALOG_MP_NEAREST;
            else if (!strcmp(v, "stochastic")) p->a.mp_round = XB_ANALOG_MP_STOCHASTIC;
            else return xb_errorf(err, XB_EINPUT, "--mp-round: '%s' is not trunc, nearest or stochastic", v);
        } else if (FLAG("--lr-schedule")) {
            if (!VAL("--lr-schedule")) return XB_EINPUT;
            p->schedule_set = 1;
            if (!strcmp(v, "cosine")) p->o.lr_cosine = 1;
            else if (!strcmp(v, "step")) p->o.lr_cosine = 0;
            else return xb_errorf(err, XB_EINPUT, "--lr-schedule: '%s' is not step or cosine", v);
        } else if (FLAG("--algorithm")) {
            if (!VAL("--algorithm")) return XB_EINPUT;
            if (xb_analog_algorithm_from_name(v, &p->a.algorithm))
                return xb_errorf(err, XB_EINPUT, "--algorithm: '%s' is not sgd, tiki-taka or mp", v);
        } else if (FLAG("--ablate")) {
            if (!VAL("--ablate")) return XB_EINPUT;
            char buf[128];
            snprintf(buf, sizeof buf, "%s", v);
            char *save = NULL;
            for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                unsigned f;
                if (strcmp(tok, "none") && xb_analog_ablate_from_name(tok, &f))
                    return xb_errorf(err, XB_EINPUT, "--ablate: '%s' is not asymmetry, state, c2c, d2d or none", tok);
                if (strcmp(tok, "none")) p->a.ablate |= f;
            }
        } else if (FLAG("--hidden")) {
            if (!VAL("--hidden")) return XB_EINPUT;
            p->o.n_hidden = 0;
            char buf[256];
            snprintf(buf, sizeof buf, "%s", v);
            char *save = NULL;
            for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                if (p->o.n_hidden == 4) return xb_errorf(err, XB_EINPUT, "--hidden: at most 4 layers");
                if (xb_parse_size(tok, "--hidden", &n, err)) return XB_EINPUT;
                if (!n) return xb_errorf(err, XB_EINPUT, "--hidden: widths must be >= 1");
                p->o.hidden[p->o.n_hidden++] = n;
            }
        } else if (FLAG("--epochs") || FLAG("--batch") || FLAG("--seed") || FLAG("--limit") || FLAG("--test-limit") ||
                   FLAG("--threads") || FLAG("--bl") || FLAG("--refit-every") || FLAG("--tt-every") ||
                   FLAG("--tt-columns") || FLAG("--tile-rows") || FLAG("--tile-cols") || FLAG("--dac-bits") ||
                   FLAG("--adc-bits")) {
            char f[32];
            size_t fl = strcspn(a, "=");
            snprintf(f, sizeof f, "%.*s", (int)(fl < 31 ? fl : 31), a);
            if (!VAL(f) || xb_parse_size(v, f, &n, err)) return XB_EINPUT;
            if ((!strcmp(f, "--epochs") || !strcmp(f, "--batch") || !strcmp(f, "--bl") || !strcmp(f, "--tt-every")) && !n)
                return xb_errorf(err, XB_EINPUT, "%s: must be >= 1", f);
            if (!strcmp(f, "--epochs")) p->o.epochs = n;
            else if (!strcmp(f, "--batch")) p->o.batch = n;
            else if (!strcmp(f, "--seed")) p->o.seed = n;
            else if (!strcmp(f, "--limit")) p->limit = n;
            else if (!strcmp(f, "--test-limit")) p->test_limit = n;
            else if (!strcmp(f, "--threads")) p->o.threads = n;
            else if (!strcmp(f, "--bl")) p->a.bl_max = n;
            else if (!strcmp(f, "--refit-every")) p->a.refit_every = n;
            else if (!strcmp(f, "--tt-every")) p->a.tt_every = n;
            else if (!strcmp(f, "--tt-columns")) p->a.tt_columns = n;
            else if (!strcmp(f, "--tile-rows")) p->a.tile_rows = n;
            else if (!strcmp(f, "--tile-cols")) p->a.tile_cols = n;
            else if (!strcmp(f, "--dac-bits")) p->a.dac_bits = (int)n;
            else p->a.adc_bits = (int)n;
        } else if (FLAG("--lr") || FLAG("--lr-decay") || FLAG("--w-range") || FLAG("--refresh-margin") ||
                   FLAG("--tt-gamma") || FLAG("--tt-lr")) {
            char f[32];
            size_t fl = strcspn(a, "=");
            snprintf(f, sizeof f, "%.*s", (int)(fl < 31 ? fl : 31), a);
            if (!VAL(f) || xb_parse_double(v, f, &d, err)) return XB_EINPUT;
            if (!strcmp(f, "--lr")) {
                if (!(d > 0)) return xb_errorf(err, XB_EINPUT, "--lr: must be > 0");
                p->o.lr = d;
                p->lr_set = 1;
            } else if (!strcmp(f, "--lr-decay")) {
                if (!(d > 0 && d <= 1)) return xb_errorf(err, XB_EINPUT, "--lr-decay: must be in (0, 1]");
                p->o.lr_decay = d;
            } else if (!strcmp(f, "--w-range")) {
                p->a.w_fs = d;
                p->w_range_set = 1;
            }
            else if (!strcmp(f, "--refresh-margin")) p->a.refresh_margin = d;
            else if (!strcmp(f, "--tt-gamma")) p->a.tt_gamma = d;
            else p->a.tt_lr = d;
        } else {
            return xb_errorf(err, XB_EINPUT, "unknown option '%s' (with --analog)", a);
        }
#undef VAL
#undef FLAG
    }
    if (!p->out) return xb_errorf(err, XB_EINPUT, "--out: required");
    if (!p->model && !(p->ideal_reads && p->update_model))
        return xb_errorf(err, XB_EINPUT, "--analog: --model FILE (xbar fit) is required");
    if (!p->device_set) return xb_errorf(err, XB_EINPUT, "--analog: --device rram|ecram|pcm is required");
    return XB_OK;
}

/* The device's update model from --update-model (else --model); a one-line how-to without. */
static int load_update(const aopts *p, xb_update_model **all, size_t *n_all, const xb_update_model **m, xb_error *err)
{
    const char *path = p->update_model ? p->update_model : p->model;
    int rc = xb_fit_update_read_all(path, all, n_all, err);
    if (rc) return rc;
    for (size_t k = 0; k < *n_all; k++)
        if ((*all)[k].device == p->device) {
            *m = &(*all)[k];
            return XB_OK;
        }
    return xb_errorf(err, XB_EINPUT,
                     "%s: no /update/%s pulse-update model: run `xbar characterize characterize/write.ini -o "
                     "write.h5` then `xbar fit write.h5 -o update.h5` and pass --update-model update.h5",
                     path, xb_device_name(p->device));
}

static int engine_new(const aopts *p, xb_engine **eng, xb_error *err)
{
    xb_array_params tp;
    xb_array_params_default(&tp, p->device);
    tp.rows = p->a.tile_rows;
    tp.cols = p->a.tile_cols;
    tp.diff_pairs = 1;
    xb_engine_config ec;
    xb_engine_config_default(&ec);
    ec.array = &tp;
    ec.file = p->model;
    ec.seed = p->o.seed;
    ec.t_window_s = p->a.t_mvm_s;
    int rc = xb_engine_new(&xb_fit_engine_class_model, &ec, eng, err);
    if (rc) xb_error_prefix(err, "--model: ");
    return rc;
}

/* dir and base name of path (dir "." without a slash) */
static void split_path(const char *path, char *dir, size_t n, const char **base)
{
    snprintf(dir, n, "%s", path);
    char *slash = strrchr(dir, '/');
    *base = slash ? path + (slash - dir) + 1 : path;
    if (slash == dir) dir[1] = '\0';
    else if (slash) *slash = '\0';
    else snprintf(dir, n, ".");
}

/* --json through a staging directory: replaced whole or not at all */
static int write_json(const aopts *p, const actx *c, double final_acc, xb_error *err)
{
    char dir[4096];
    const char *base;
    split_path(p->json, dir, sizeof dir, &base);
    if (!*base) return xb_errorf(err, XB_EINPUT, "--json: '%s' is not a file name", p->json);
    xb_stage *s = NULL;
    FILE *f = NULL;
    int rc = xb_stage_new(dir, &s, err);
    if (!rc) rc = xb_stage_fopen(s, base, 1, &f, err);
    if (rc) {
        xb_stage_free(s);
        return rc;
    }
    static const char *const rounds[] = {"trunc", "nearest", "stochastic"};
    fprintf(f, "{\n  \"device\": \"%s\",\n  \"algorithm\": \"%s\",\n  \"ablate\": %u,\n  \"lr\": %.6g,\n"
               "  \"lr_schedule\": \"%s\",\n  \"mp_threshold\": \"%s\",\n  \"mp_round\": \"%s\",\n"
               "  \"seed\": %llu,\n  \"final_test_accuracy\": %.6f,\n  \"epochs\": [\n",
            xb_device_name(p->device), xb_analog_algorithm_name(p->a.algorithm), p->a.ablate, p->o.lr,
            p->o.lr_cosine ? "cosine" : "step", p->a.mp_state ? "state" : "centre", rounds[p->a.mp_round],
            (unsigned long long)p->o.seed, final_acc);
    for (size_t k = 0; k < c->n; k++) {
        const xb_analog_epoch *e = &c->e[k];
        fprintf(f, "    {\"epoch\": %zu, \"loss\": %.6g, \"train_accuracy\": %.6f, \"test_accuracy\": %.6f, "
                   "\"pulses_per_weight\": %.6g, \"update_energy_joule\": %.6g, \"update_time_s\": %.6g, "
                   "\"mvm_forward_energy_joule\": %.6g, \"mvm_backward_energy_joule\": %.6g, \"refreshes\": %.0f, "
                   "\"fast_error\": %.6g, \"gain_error_fast\": %.6g, \"gain_error_exact\": %.6g, \"wall_s\": %.4g}%s\n",
                e->epoch + 1, e->loss, e->train_acc, e->test_acc, e->pulses_per_weight, e->e_update_joule,
                e->t_update_s, e->e_fwd_joule, e->e_bwd_joule, e->refreshes, e->fast_error, e->gain_error_fast,
                e->gain_error_exact, e->wall_s, k + 1 < c->n ? "," : "");
    }
    fprintf(f, "  ],\n  \"digital_baseline_test_accuracy\": [");
    for (size_t k = 0; k < c->nb; k++) fprintf(f, "%s%.6f", k ? ", " : "", c->base_acc[k]);
    fprintf(f, "]\n}\n");
    rc = xb_stage_fclose(s, f, err);
    if (!rc) return xb_stage_commit(s, err);
    xb_stage_free(s);
    return rc;
}

/* accuracy vs epoch: analog train/test, the digital baseline (with --baseline); the data as
 * PNG.csv beside it; the PNG when gnuplot is installed (gnuplot.c's runner) */
static int write_plot(const aopts *p, const actx *c, xb_error *err)
{
    char dir[4096], csv[4096];
    const char *base;
    split_path(p->plot, dir, sizeof dir, &base);
    if (!*base || strchr(base, '\'')) return xb_errorf(err, XB_EINPUT, "--plot: '%s' is not a file name gnuplot can take", p->plot);
    snprintf(csv, sizeof csv, "%s.csv", base);
    xb_stage *s = NULL;
    FILE *f = NULL;
    int rc = xb_stage_new(dir, &s, err);
    if (!rc) rc = xb_stage_fopen(s, csv, 1, &f, err);
    if (!rc) {
        fprintf(f, "epoch,analog_train,analog_test,digital_test\n");
        for (size_t k = 0; k < c->n; k++)
            fprintf(f, "%zu,%.4f,%.4f,%.4f\n", k + 1, 100 * c->e[k].train_acc, 100 * c->e[k].test_acc,
                    k < c->nb ? 100 * c->base_acc[k] : -1.0);
        rc = xb_stage_fclose(s, f, err);
    }
    const int gp = xb_cli_have_gnuplot();
    if (!rc && gp) rc = xb_stage_fopen(s, "accuracy.gp", 0, &f, err);
    if (!rc && gp) {
        fprintf(f, "set terminal png size 900,600\nset output '%s'\nset datafile separator ','\nset key bottom right\n"
                   "set xlabel 'epoch'\nset ylabel 'accuracy (%%)'\nset grid\nset title '%s %s in memory'\n"
                   "plot '%s' every ::1 using 1:3 with linespoints title 'analog test', "
                   "'%s' every ::1 using 1:2 with lines title 'analog train'%s",
                base, xb_device_name(p->device), xb_analog_algorithm_name(p->a.algorithm), csv, csv, c->nb ? ", " : "\n");
        if (c->nb) fprintf(f, "'%s' every ::1 using 1:4 with linespoints title 'digital (Adam) test'\n", csv);
        rc = xb_stage_fclose(s, f, err);
        if (!rc) rc = xb_cli_gnuplot(s, "accuracy.gp", &base, 1, err);
        if (!rc) rc = xb_stage_keep(s, base, base, err);
    }
    if (!rc) {
        if (!gp) fprintf(stderr, "xbar train: gnuplot not found: wrote %s.csv only\n", p->plot);
        return xb_stage_commit(s, err);
    }
    xb_stage_free(s);
    return rc;
}

/* The step and schedule each algorithm trained best with on the bench (docs/training.md
 * "Measured"), unless given: SGD cosine-annealed from 0.1 (the last epoch's pulse jitter is
 * what the weights keep); mixed precision 0.4 with the per-epoch decay (its accumulator
 * filters the jitter: a smaller step only fires fewer pulses); Tiki-Taka 0.1 with the decay
 * (annealed, A keeps what it holds and C keeps integrating it).  Mixed precision maps a
 * full pair difference to 3x the He-uniform limit instead of 2x (RRAM 84.49 -> 85.08 %,
 * seeds 2 and 3 +1.2 / +0.7; ECRAM +2.0; PCM -0.1): its weights outgrow the narrower range,
 * and its accumulator does not mind the coarser weight step; SGD does (ECRAM 81.79 -> 80.31). */
static void analog_lr_defaults(aopts *p)
{
    if (!p->lr_set) p->o.lr = p->a.algorithm == XB_ANALOG_MP ? 0.4 : 0.1;
    if (!p->w_range_set && p->a.algorithm == XB_ANALOG_MP) p->a.w_fs = 3.0;
    if (!p->schedule_set) p->o.lr_cosine = p->a.algorithm == XB_ANALOG_SGD;
}

int xb_cli_train_analog(int argc, char **argv)
{
    aopts *p = calloc(1, sizeof *p);
    actx *c = calloc(1, sizeof *c);
    if (!p || !c) {
        free(p);
        free(c);
        fprintf(stderr, "xbar train: out of memory\n");
        return 1;
    }
    xb_train_opts_default(&p->o);
    p->o.lr = 0.1;          /* plain SGD step (docs/training.md) */
    p->o.lr_decay = 0.9;
    xb_analog_opts_default(&p->a);
    xb_error err;
    xb_error_clear(&err);
    xb_update_model *all = NULL;
    size_t n_all = 0;
    const xb_update_model *um = NULL;
    xb_engine *eng = NULL;
    xb_dataset *train = NULL, *test = NULL;
    xb_network *net = NULL, *base = NULL;
    int rc = parse(argc, argv, p, &err);
    if (rc) {
        int r = xb_cli_usage_error("train", "%s", err.msg);
        free(p);
        free(c);
        return r;
    }
    c->quiet = p->quiet;
    analog_lr_defaults(p);
    rc = load_update(p, &all, &n_all, &um, &err);
    if (!rc && !p->ideal_reads) rc = engine_new(p, &eng, &err);
    if (!rc) {
        xb_array_params tp;
        xb_array_params_default(&tp, p->device);
        p->a.v_read_volt = tp.v_read_volt;
        p->a.update = um;
        p->a.engine = eng;
        if (!p->quiet)
            printf("in-memory training: %s %s, update law %s, window %.3g..%.3g uS, step at centre up %+.3g / down "
                   "%+.3g uS, %zux%zu tiles (%s)\n",
                   xb_device_name(p->device), xb_analog_algorithm_name(p->a.algorithm), xb_update_law_name(um->law),
                   um->g_min_siemens * 1e6, um->g_max_siemens * 1e6,
                   xb_fit_update_step(um, 0.5 * (um->g_min_siemens + um->g_max_siemens), 1) * 1e6,
                   xb_fit_update_step(um, 0.5 * (um->g_min_siemens + um->g_max_siemens), -1) * 1e6,
                   p->a.tile_rows, p->a.tile_cols, p->ideal_reads ? "ideal reads" : p->model);
    }
    if (!rc) rc = xb_dataset_load_fmnist(p->dir, 1, p->limit, &train, &err);
    if (!rc) rc = xb_dataset_load_fmnist(p->dir, 0, p->test_limit, &test, &err);
    /* inputs checked: --out refused if it exists (without --force), locked until written */
    xb_lock *lock = NULL;
    if (!rc) {
        const int code = xb_cli_claim_output("train", p->out, p->force, &lock);
        if (code) {
            xb_dataset_free(train);
            xb_dataset_free(test);
            xb_engine_free(eng);
            xb_fit_update_free_all(all, n_all);
            free(p);
            free(c);
            return code;
        }
    }
    const double t0 = xb_now_s();
    if (!rc) rc = xb_train_analog_mlp(train, test, 10, &p->o, &p->a, progress, c, &net, &err);
    const double t1 = xb_now_s();
    double final = c->n ? c->e[c->n - 1].test_acc : -1;
    if (!rc) rc = xb_network_write(net, p->out, &err);
    if (!rc && !p->quiet) {
        printf("trained in memory on %zu images in %.1f s (%.2f s per epoch): test accuracy %.2f%%; wrote %s (the "
               "weights read back from the conductances)\n",
               train->n, t1 - t0, (t1 - t0) / (double)p->o.epochs, 100 * final, p->out);
    }
    if (!rc && p->baseline) {
        xb_train_opts ob;
        xb_train_opts_default(&ob);
        ob.n_hidden = p->o.n_hidden;
        memcpy(ob.hidden, p->o.hidden, sizeof ob.hidden);
        ob.epochs = p->o.epochs;
        ob.batch = p->o.batch;
        ob.seed = p->o.seed;
        ob.threads = p->o.threads;
        const double b0 = xb_now_s();
        rc = xb_train_mlp(train, test, 10, &ob, base_progress, c, &base, &err);
        if (!rc && !p->quiet)
            printf("digital baseline (Adam, same MLP, epochs, seed): test accuracy %.2f%% in %.2f s per epoch\n",
                   100 * c->base_acc[c->nb - 1], (xb_now_s() - b0) / (double)ob.epochs);
    }
    if (!rc && p->json) rc = write_json(p, c, final, &err);
    if (!rc && p->plot) rc = write_plot(p, c, &err);
    xb_network_free(net);
    xb_network_free(base);
    xb_dataset_free(train);
    xb_dataset_free(test);
    xb_engine_free(eng);
    xb_fit_update_free_all(all, n_all);
    xb_lock_release(lock);
    free(p);
    free(c);
    if (rc) return xb_cli_fail("train", &err);
    return 0;
}
