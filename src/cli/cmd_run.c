/* xbar run: a network on crossbar tiles: accuracy, per-layer error vs ideal,
 * energy/latency per inference, optional JSON. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/run_drift.h"
#include "xbar/engine.h"
#include "xbar/exec.h"
#include "xbar/fit.h"

static const char k_help[] =
    "usage: xbar run --network NET.h5 [options]\n"
    "\n"
    "Run a network (docs/hdf5-network.md) on Fashion-MNIST test images or on inputs from a\n"
    "file (--input): top-1 accuracy (with labels), per-layer output error (relative L2)\n"
    "against the ideal float network, energy and latency per inference, optionally the\n"
    "network's outputs (--logits).  Dense/conv layers are split into tiles of the array size,\n"
    "weights mapped to differential column pairs (G+ - G-) in [g_min, g_max], inputs go\n"
    "through a DAC (negative inputs in a second phase), outputs through a calibrated ADC,\n"
    "partial sums are added digitally (docs/executor.md).\n"
    "\n"
    "options:\n"
    "  --network FILE         network file (required)\n"
    "  --engine E             ideal | tiled-ideal | native | spice | model [tiled-ideal]\n"
    "                         ideal: float network (OpenBLAS); tiled-ideal: tiles with exact\n"
    "                         I = V G; native: every tile MVM solved by the native circuit engine;\n"
    "                         spice: every tile MVM solved by ngspice (needs --limit);\n"
    "                         model: the fitted behavioural model of --model FILE (xbar fit)\n"
    "  --model FILE           model file for --engine model (a model for the tile size, or its\n"
    "                         size family)\n"
    "  --model-exact          --engine model: the full model per input vector instead of its fast\n"
    "                         form (one GEMM per basis term per row band; docs/fit.md)\n"
    "  --read-noise           --engine model: the model's residual read noise on every MVM;\n"
    "                         with --time/--time-sweep: the device read noise (PCM 1/f) too\n"
    "  --dataset DIR          Fashion-MNIST IDX .gz files      [" XB_FMNIST_DEFAULT_DIR "]\n"
    "  --input FILE           inputs instead of Fashion-MNIST: FILE.npy or FILE.h5[:/DATASET]\n"
    "                         (without the name: the file's only dataset), shaped (N, input\n"
    "                         shape) or (N, input size); float32, float64, or uint8 (/255)\n"
    "  --labels FILE          --input: integer labels (N,) (.npy or .h5[:/DATASET]); without\n"
    "                         them no accuracy is reported\n"
    "  --calib-input FILE     calibration inputs (as --input) [--input: its first images;\n"
    "                         otherwise Fashion-MNIST training images]\n"
    "  --logits FILE.npy      write the network's outputs per image (N x outputs, float32)\n"
    "  --limit N              first N test images              [all 10000]\n"
    "  --calib N              calibration images               [256; spice 32]\n"
    "  --batch N              images per forward pass          [500]\n"
    "  --tile-rows R          array rows (inputs per tile)     [64]\n"
    "  --tile-cols C          array columns, even: C/2 weights per tile [64]\n"
    "  --dac-bits B           input DAC bits, 0 = ideal        [8]\n"
    "  --adc-bits B           output ADC bits (signed), 0 = ideal [8]\n"
    "  --dac-range X          input full scale; default: calibrated per layer\n"
    "  --adc-headroom X       calibrated ADC range x X         [1]\n"
    "  --no-calibration       no per-column affine calibration\n"
    "  --t-mvm S              time of one array read           [1e-7]\n"
    "                         (--engine model: at least the model file's fitted settling time,\n"
    "                         and the array energy from its fitted law when it has them)\n"
    "  --adc-fom J            ADC energy per level (Walden FOM) [6.1e-15]\n"
    "  --dac-energy J         DAC energy per input bit          [3.9e-13]\n"
    "  --time T               read T after programming (s, or suffix m, h, d, mo, y: 1h, 1y):\n"
    "                         every tile drifts (PCM nu(G), RRAM decay; docs/drift.md) after a\n"
    "                         calibration at t0 = 20 s; default: reads at t0 (no drift)\n"
    "  --no-drift-compensation  no global drift compensation (on by default with --time)\n"
    "  --time-sweep[=LIST]    accuracy at each time (default 1s,1m,1h,1d,1mo,1y) with and without\n"
    "                         drift compensation, same programming; prints a table instead\n"
    "  --time-csv FILE        --time-sweep: also write the table as CSV (xbar report --accuracy-time)\n"
    "  --json FILE            also write the results as JSON\n"
    "  --threads N            OpenBLAS threads                 [library default]\n"
    XB_CLI_MAX_MEMORY_HELP
    "\n"
    "array options (the tile circuit; --rows/--cols are set by --tile-rows/--tile-cols):\n"
    "  --device, --cell, --r-wire, --r-wire-row, --r-wire-col, --r-driver, --r-sense,\n"
    "  --v-read, --g-min, --g-max, --v-gate, --seed, --var-program, --stuck-on, --stuck-off\n"
    "  (see 'xbar netlist --help')\n";

/* --engine: "ideal" is the float network (no tiles); the tile engines are the classes of
 * xb_fit_engines, where the ideal class is called "tiled-ideal". */
static const char *run_engine_name(const xb_engine_class *cls)
{
    return !cls ? "ideal" : cls == &xb_engine_class_ideal ? "tiled-ideal" : cls->name;
}

/* The class of --engine v (NULL: the float network), or XB_EINPUT listing the names. */
static int run_engine_find(const char *v, const xb_engine_class **cls, xb_error *err)
{
    *cls = NULL;
    if (!strcmp(v, "ideal")) return XB_OK;
    for (size_t k = 0; xb_fit_engines[k]; k++)
        if (!strcmp(v, run_engine_name(xb_fit_engines[k]))) {
            *cls = xb_fit_engines[k];
            return XB_OK;
        }
    char names[256];
    size_t n = (size_t)snprintf(names, sizeof names, "%s", run_engine_name(NULL));
    for (size_t k = 0; xb_fit_engines[k] && n < sizeof names; k++)
        n += (size_t)snprintf(names + n, sizeof names - n, ", %s", run_engine_name(xb_fit_engines[k]));
    return xb_errorf(err, XB_EINPUT, "--engine: unknown engine '%s' (%s)", v, names);
}

extern void openblas_set_num_threads(int num_threads);

/* ------------------------------------------------------------------ options */
typedef struct {
    const char *net_path, *dir, *json_path, *model_path, *time_csv;
    const char *input, *labels, *calib_input, *logits; /* --input ... (NULL: Fashion-MNIST) */
    int read_noise, drift_comp, model_exact;
    double time_s; /* 0: reads at t0, no drift */
    double sweep_t[XB_SWEEP_MAX];
    size_t n_sweep;
    const xb_engine_class *cls; /* tiled-ideal by default; NULL: --engine ideal */
    int is_model, is_spice;
    size_t limit, calib_n, batch, threads;
    xb_exec_config cfg;
} run_opts;

static void opts_default(run_opts *o)
{
    memset(o, 0, sizeof *o);
    o->drift_comp = 1;
    o->cls = &xb_engine_class_ideal;
    o->batch = 500;
    xb_exec_config_default(&o->cfg, XB_DEVICE_LINEAR);
}

/* A count flag (--limit, --calib, ...) into its field. */
static int parse_count(run_opts *o, const char *flag, const char *v, xb_error *err)
{
    size_t n;
    if (xb_parse_size(v, flag, &n, err)) return XB_EINPUT;
    if (!strcmp(flag, "--limit")) o->limit = n;
    else if (!strcmp(flag, "--calib")) o->calib_n = n;
    else if (!strcmp(flag, "--batch")) o->batch = n;
    else if (!strcmp(flag, "--tile-rows")) o->cfg.tile_rows = n;
    else if (!strcmp(flag, "--tile-cols")) o->cfg.tile_cols = n;
    /* quote the input (a clamp to 64 used to report "got 64" for --adc-bits 1000) */
    else if (!strcmp(flag, "--dac-bits") && n > 24)
        return xb_errorf(err, XB_EINPUT, "--dac-bits: 0 (ideal) to 24, got '%s'", v);
    else if (!strcmp(flag, "--adc-bits") && (n > 24 || n == 1))
        return xb_errorf(err, XB_EINPUT, "--adc-bits: 0 (ideal) or 2 to 24 (signed), got '%s'", v);
    else if (!strcmp(flag, "--dac-bits")) o->cfg.dac_bits = (int)n;
    else if (!strcmp(flag, "--adc-bits")) o->cfg.adc_bits = (int)n;
    else o->threads = n;
    if ((!strcmp(flag, "--calib") || !strcmp(flag, "--batch") || !strcmp(flag, "--limit")) && n == 0)
        return xb_errorf(err, XB_EINPUT, "%s: must be >= 1", flag);
    return XB_OK;
}

/* A real-valued flag (--dac-range, --adc-headroom, energy parameters) into its field. */
static int parse_real(run_opts *o, const char *flag, const char *v, xb_error *err)
{
    double d;
    if (xb_parse_double(v, flag, &d, err)) return XB_EINPUT;
    if (!strcmp(flag, "--dac-range")) {
        if (!(d > 0)) return xb_errorf(err, XB_EINPUT, "--dac-range: must be > 0");
        o->cfg.dac_range = d;
    } else if (!strcmp(flag, "--adc-headroom")) {
        o->cfg.adc_headroom = d;
    } else {
        if (!(d >= 0)) return xb_errorf(err, XB_EINPUT, "%s: must be >= 0", flag);
        if (!strcmp(flag, "--t-mvm")) o->cfg.energy.t_mvm_s = d;
        else if (!strcmp(flag, "--adc-fom")) o->cfg.energy.adc_fom_joule_per_step = d;
        else o->cfg.energy.dac_joule_per_bit = d;
    }
    return XB_OK;
}

static int is_one_of(const char *flag, const char *const *names)
{
    for (; *names; names++)
        if (!strcmp(flag, *names)) return 1;
    return 0;
}

/* The option argv[*i] (and its value, advancing *i); XB_EINPUT naming the flag. */
static int parse_flag(run_opts *o, int argc, char **argv, int *i, xb_error *err)
{
    static const char *const k_counts[] = {"--limit",     "--calib",    "--batch",    "--tile-rows",
                                           "--tile-cols", "--dac-bits", "--adc-bits", "--threads", NULL};
    static const char *const k_reals[] = {"--dac-range", "--adc-headroom", "--t-mvm", "--adc-fom", "--dac-energy", NULL};
    static const char *const k_paths[] = {"--network", "--dataset",     "--model",  "--time-csv", "--json",
                                          "--input",   "--calib-input", "--labels", "--logits",   NULL};
    const char *a = argv[*i], *v;
    char flag[32];
    size_t fl = strcspn(a, "=");
    snprintf(flag, sizeof flag, "%.*s", (int)(fl < 31 ? fl : 31), a);
    if (!strcmp(a, "--read-noise")) o->read_noise = 1;
    else if (!strcmp(a, "--model-exact")) o->model_exact = 1;
    else if (!strcmp(a, "--no-drift-compensation")) o->drift_comp = 0;
    else if (!strcmp(a, "--no-calibration")) o->cfg.affine_calibration = 0;
    else if (!strcmp(flag, "--time-sweep"))
        return xb_cli_parse_time_list(a[fl] == '=' ? a + fl + 1 : NULL, o->sweep_t, &o->n_sweep, err);
    else if (!strcmp(flag, "--rows") || !strcmp(flag, "--cols"))
        return xb_errorf(err, XB_EINPUT, "%s: the array size is --tile-rows/--tile-cols", flag);
    else if (is_one_of(flag, k_counts) || is_one_of(flag, k_reals) || is_one_of(flag, k_paths) ||
             !strcmp(flag, "--time") || !strcmp(flag, "--engine")) {
        if (!(v = xb_cli_flag_value(argc, argv, i, flag, err))) return XB_EINPUT;
        if (is_one_of(flag, k_counts)) return parse_count(o, flag, v, err);
        if (is_one_of(flag, k_reals)) return parse_real(o, flag, v, err);
        if (!strcmp(flag, "--time")) return xb_exec_parse_time(v, "--time", &o->time_s, err);
        if (!strcmp(flag, "--engine")) return run_engine_find(v, &o->cls, err);
        const char **dst[] = {&o->net_path, &o->dir,         &o->model_path, &o->time_csv, &o->json_path,
                              &o->input,    &o->calib_input, &o->labels,     &o->logits};
        for (size_t k = 0; k_paths[k]; k++)
            if (!strcmp(flag, k_paths[k])) *dst[k] = v;
    } else {
        int r = xb_cli_array_option(argc, argv, i, &o->cfg.array, err);
        if (r < 0) return XB_EINPUT;
        if (r == 0) return xb_errorf(err, XB_EINPUT, "unknown option '%s'", a);
    }
    return XB_OK;
}

/* The checks between flags, and the defaults that depend on the engine. */
static int parse_check(run_opts *o, xb_error *err)
{
    if (!o->net_path) return xb_errorf(err, XB_EINPUT, "--network: required");
    o->is_model = o->cls == &xb_fit_engine_class_model;
    o->is_spice = o->cls == &xb_engine_class_spice;
    if (o->is_model && !o->model_path) return xb_errorf(err, XB_EINPUT, "--model: --engine model needs a model file");
    if (o->model_path && !o->is_model) return xb_errorf(err, XB_EINPUT, "--model: only with --engine model");
    if (o->model_exact && !o->is_model) return xb_errorf(err, XB_EINPUT, "--model-exact: only with --engine model");
    if (o->is_spice && o->limit == 0)
        return xb_errorf(err, XB_EINPUT, "--engine spice needs --limit N (every tile MVM is an ngspice run)");
    if (o->n_sweep && o->time_s > 0) return xb_errorf(err, XB_EINPUT, "--time-sweep: not with --time");
    if (o->time_csv && !o->n_sweep) return xb_errorf(err, XB_EINPUT, "--time-csv: only with --time-sweep");
    if (o->n_sweep && !o->cls) return xb_errorf(err, XB_EINPUT, "--time-sweep: needs a tile engine (not --engine ideal)");
    if (o->time_s > 0 && !o->cls) return xb_errorf(err, XB_EINPUT, "--time: needs a tile engine (not --engine ideal)");
    if (o->labels && !o->input) return xb_errorf(err, XB_EINPUT, "--labels: only with --input");
    if (o->logits && o->n_sweep) return xb_errorf(err, XB_EINPUT, "--logits: not with --time-sweep");
    if (o->dir && o->input) return xb_errorf(err, XB_EINPUT, "--dataset: not with --input");
    if (o->n_sweep && o->input && !o->labels)
        return xb_errorf(err, XB_EINPUT, "--time-sweep: needs labels (--labels) with --input");
    if (o->calib_n == 0) o->calib_n = o->is_spice ? 32 : 256;
    if (o->is_spice && o->limit > o->batch) o->batch = o->limit; /* one analysis per tile for all images */
    o->cfg.drift_read_noise = o->read_noise; /* applies after xb_exec_set_time only */
    return xb_exec_config_check(&o->cfg, err);
}

static int run_parse(int argc, char **argv, run_opts *o, xb_error *err)
{
    opts_default(o);
    for (int i = 1; i < argc; i++)
        if (parse_flag(o, argc, argv, &i, err)) return XB_EINPUT;
    return parse_check(o, err);
}

/* ------------------------------------------------------------------ the run */
typedef struct {
    double sq_diff, sq_ref;
} l2_acc;

typedef struct {
    xb_network *net;
    xb_dataset *test, *cal;
    xb_engine *eng;
    xb_exec *ex;
    size_t nl, n_classes, in_sz, batch;
    float **ideal, **analog; /* activations of one batch */
    l2_acc *l2;              /* per layer, analog vs ideal over all images */
    float *logits;           /* --logits: the network's outputs, images x n_classes */
    size_t ok_ideal, ok_analog;
    double t_cal, t_ideal, t_analog;
    int swept; /* --time-sweep printed its table: no report */
} run_state;

static void run_free(run_state *s)
{
    xb_network_acts_free(s->ideal, s->nl);
    xb_network_acts_free(s->analog, s->nl);
    free(s->l2);
    free(s->logits);
    xb_exec_free(s->ex);
    xb_engine_free(s->eng);
    xb_dataset_free(s->test);
    xb_dataset_free(s->cal);
    xb_network_free(s->net);
}

/* Inputs of the network from an array file (xb_dataset_read_array), at most limit. */
static int read_inputs(const run_state *s, const char *spec, const char *labels, size_t limit, xb_dataset **out,
                       xb_error *err)
{
    return xb_dataset_read_array(spec, labels, xb_network_input_shape(s->net), xb_network_input_ndim(s->net),
                                 s->n_classes, limit, out, err);
}

/* The test images: --input, or Fashion-MNIST (checked against the network). */
static int load_test(const run_opts *o, run_state *s, xb_error *err)
{
    if (o->input) return read_inputs(s, o->input, o->labels, o->limit, &s->test, err);
    int rc = xb_dataset_load_fmnist(o->dir, 0, o->limit, &s->test, err);
    if (rc) return rc;
    if (s->test->rows * s->test->cols != s->in_sz)
        return xb_errorf(err, XB_EINPUT, "%s: input size %zu, but the dataset images have %zux%zu pixels", o->net_path,
                         s->in_sz, s->test->rows, s->test->cols);
    if (s->n_classes < 10)
        return xb_errorf(err, XB_EINPUT, "%s: the network has %zu outputs, Fashion-MNIST has 10 classes", o->net_path,
                         s->n_classes);
    return XB_OK;
}

/* The calibration images: --calib-input, else the first of --input, else Fashion-MNIST
 * training images; at most --calib of them. */
static int load_calibration(const run_opts *o, run_state *s, xb_error *err)
{
    if (o->calib_input) return read_inputs(s, o->calib_input, NULL, o->calib_n, &s->cal, err);
    if (!o->input) return xb_dataset_load_fmnist(o->dir, 1, o->calib_n, &s->cal, err);
    const size_t n = o->calib_n < s->test->n ? o->calib_n : s->test->n;
    if (!(s->cal = calloc(1, sizeof *s->cal)) || !(s->cal->images = malloc(n * s->in_sz * sizeof(float))))
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    memcpy(s->cal->images, s->test->images, n * s->in_sz * sizeof(float));
    s->cal->n = n;
    s->cal->rows = 1;
    s->cal->cols = s->in_sz;
    return XB_OK;
}

/* The network, the test images and the buffers of a batch. */
static int run_load(const run_opts *o, run_state *s, xb_error *err)
{
    int rc = xb_network_read(o->net_path, &s->net, err);
    if (rc) return rc;
    s->nl = xb_network_n_layers(s->net);
    s->n_classes = xb_network_output_size(s->net);
    s->in_sz = xb_network_input_size(s->net);
    if ((rc = load_test(o, s, err))) return rc;
    s->batch = o->batch > s->test->n ? s->test->n : o->batch;
    s->ideal = xb_network_acts_new(s->net, s->batch);
    s->l2 = calloc(s->nl, sizeof *s->l2);
    if (!s->ideal || !s->l2) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    if (o->logits && !(s->logits = malloc(s->test->n * s->n_classes * sizeof(float))))
        return xb_errorf(err, XB_ERUNTIME, "out of memory (--logits)");
    return XB_OK;
}

/* The engine of --engine for the tiles' configuration (the model engine selects its model
 * for it). */
static int run_engine_new(const run_opts *o, run_state *s, xb_error *err)
{
    xb_array_params tp = o->cfg.array;
    tp.rows = o->cfg.tile_rows;
    tp.cols = o->cfg.tile_cols;
    tp.diff_pairs = 1;
    xb_engine_config ec;
    xb_engine_config_default(&ec);
    ec.array = &tp;
    ec.file = o->model_path;
    ec.seed = tp.seed;
    ec.read_noise = o->read_noise;
    ec.exact = o->model_exact;
    ec.t_window_s = o->cfg.energy.t_mvm_s;
    int rc = xb_engine_new(o->cls, &ec, &s->eng, err);
    if (rc) return rc;
    xb_fit_engine_info mi;
    /* as xbar mvm: one line when the tiles' circuit is not one the file has a model for */
    if (o->is_model && xb_fit_engine_get_info(s->eng, &mi, NULL) == XB_OK && mi.choice.kind != XB_FIT_CHOICE_FITTED)
        fprintf(stderr, "xbar run: %s%s: %s\n", mi.choice.extrapolation ? "warning: " : "model: ", o->model_path,
                mi.choice.line);
    return XB_OK;
}

/* Engine, executor, calibration (spice: fused with the first batch, in run_forward), the
 * time after programming; or the whole --time-sweep. */
static int run_setup(const run_opts *o, run_state *s, xb_error *err)
{
    int rc = run_engine_new(o, s, err);
    if (rc) return rc;
    if (!(s->analog = xb_network_acts_new(s->net, s->batch))) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    double t0 = xb_now_s();
    if ((rc = xb_exec_new(s->net, &o->cfg, s->eng, &s->ex, err))) return rc;
    if ((rc = load_calibration(o, s, err))) return rc;
    /* spice: calibration and evaluation fused, one ngspice analysis per tile */
    if ((!o->is_spice || o->time_s > 0 || o->n_sweep) && (rc = xb_exec_calibrate(s->ex, s->cal->images, s->cal->n, err)))
        return rc;
    if (o->n_sweep) {
        s->swept = 1;
        return xb_cli_run_time_sweep(s->ex, s->net, s->test, s->batch, o->sweep_t, o->n_sweep, o->time_csv, err);
    }
    /* drift after a calibration at t0 (docs/drift.md) */
    if (o->time_s > 0 && (rc = xb_exec_set_time(s->ex, o->time_s, o->drift_comp, err))) return rc;
    s->t_cal = xb_now_s() - t0;
    return XB_OK;
}

/* Add the batch's squared differences analog - ideal of every layer. */
static void accumulate_l2(run_state *s, size_t nb)
{
    for (size_t k = 0; k < s->nl; k++) {
        size_t m = nb * xb_layer_out_size(xb_network_layer(s->net, k));
        for (size_t i = 0; i < m; i++) {
            double dd = (double)s->analog[k][i] - (double)s->ideal[k][i];
            s->l2[k].sq_diff += dd * dd;
            s->l2[k].sq_ref += (double)s->ideal[k][i] * s->ideal[k][i];
        }
    }
}

/* Every test image, batch by batch: the float network, and the executor when there is one. */
static int run_forward(const run_opts *o, run_state *s, xb_error *err)
{
    const xb_dataset *test = s->test;
    int rc;
    for (size_t s0 = 0; s0 < test->n; s0 += s->batch) {
        size_t nb = test->n - s0 < s->batch ? test->n - s0 : s->batch;
        const float *x = test->images + s0 * s->in_sz;
        double t0 = xb_now_s();
        if ((rc = xb_network_forward(s->net, x, nb, s->ideal, err))) return rc;
        s->t_ideal += xb_now_s() - t0;
        if (test->labels)
            s->ok_ideal +=
                (size_t)llround(xb_exec_top1(s->ideal[s->nl - 1], nb, s->n_classes, test->labels + s0) * (double)nb);
        if (!s->ex) {
            if (s->logits) memcpy(s->logits + s0 * s->n_classes, s->ideal[s->nl - 1], nb * s->n_classes * sizeof(float));
            continue;
        }
        t0 = xb_now_s();
        if (o->is_spice && s0 == 0 && o->time_s <= 0)
            rc = xb_exec_calibrate_forward(s->ex, s->cal->images, s->cal->n, x, nb, s->analog, err);
        else rc = xb_exec_forward(s->ex, x, nb, s->analog, err);
        if (rc) return rc;
        s->t_analog += xb_now_s() - t0;
        if (test->labels)
            s->ok_analog +=
                (size_t)llround(xb_exec_top1(s->analog[s->nl - 1], nb, s->n_classes, test->labels + s0) * (double)nb);
        if (s->logits) memcpy(s->logits + s0 * s->n_classes, s->analog[s->nl - 1], nb * s->n_classes * sizeof(float));
        accumulate_l2(s, nb);
    }
    return XB_OK;
}

/* ------------------------------------------------------------------ report */
/* Per-inference totals of a run (stats of every layer; zero without an executor). */
typedef struct {
    double N, macs, acc_i, acc_a;
    double e_arr, e_dac, e_adc, e_dig, e_tot, lat, e_fp32, e_int8;
    xb_exec_layer_stats *st;
    xb_fit_engine_info mi;
    int have_mi;
} run_totals;

static int report_totals(const run_opts *o, const run_state *s, run_totals *t, xb_error *err)
{
    memset(t, 0, sizeof *t);
    t->N = (double)s->test->n;
    t->macs = xb_network_macs(s->net);
    if (!(t->st = calloc(s->nl, sizeof *t->st))) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    for (size_t k = 0; s->ex && k < s->nl; k++) {
        xb_exec_get_layer_stats(s->ex, k, &t->st[k]);
        t->e_arr += t->st[k].e_array_joule / t->N;
        t->e_dac += t->st[k].e_dac_joule / t->N;
        t->e_adc += t->st[k].e_adc_joule / t->N;
        t->e_dig += t->st[k].e_digital_joule / t->N;
        t->lat += t->st[k].latency_s / t->N;
    }
    t->e_tot = t->e_arr + t->e_dac + t->e_adc + t->e_dig;
    t->e_fp32 = t->macs * o->cfg.energy.base_mac_fp32_joule;
    t->e_int8 = t->macs * o->cfg.energy.base_mac_int8_joule;
    t->acc_i = s->ok_ideal / t->N;
    t->acc_a = s->ok_analog / t->N;
    t->have_mi = o->is_model && xb_fit_engine_get_info(s->eng, &t->mi, NULL) == XB_OK;
    return XB_OK;
}

static double layer_rel_l2(const l2_acc *a)
{
    return a->sq_ref > 0 ? sqrt(a->sq_diff / a->sq_ref) : sqrt(a->sq_diff);
}

static void shape_str(const xb_layer *l, char *buf, size_t n)
{
    if (l->out_h == 1 && l->out_w == 1) snprintf(buf, n, "%zu", l->out_c);
    else snprintf(buf, n, "%zux%zux%zu", l->out_c, l->out_h, l->out_w);
}

/* The lines about the engine: configuration, the model's form, settling and energy law. */
static void report_engine(const run_opts *o, const run_state *s, const run_totals *t)
{
    const xb_array_params *p = &o->cfg.array;
    const char *eng_name = run_engine_name(o->cls);
    if (s->ex)
        printf("engine: %s, device %s [%.3g, %.3g] S, tiles %zux%zu (%zu weight columns), DAC %d bit, ADC %d bit, "
               "affine calibration %s, %zu calibration images (%.2f s)\n",
               eng_name, xb_device_name(p->device), p->g_min_siemens, p->g_max_siemens, o->cfg.tile_rows,
               o->cfg.tile_cols, o->cfg.tile_cols / 2, o->cfg.dac_bits, o->cfg.adc_bits,
               o->cfg.affine_calibration ? "on" : "off", s->cal ? s->cal->n : 0, s->t_cal);
    else printf("engine: ideal (float, OpenBLAS)\n");
    if (t->have_mi) {
        if (o->model_exact) printf("model: full model per input vector (--model-exact)\n");
        else
            printf("model: fast form, %zu basis term(s) + %zu IR-drop cross group(s) per tile, largest held-out error "
                   "vs the full model %.2e (relative L2 of the column-pair differences on network-like inputs; "
                   "--model-exact evaluates the full model)\n",
                   t->mi.fast_terms, t->mi.fast_cross, t->mi.fast_error);
        if (isfinite(t->mi.settling_s))
            printf("model: fitted settling time %.3g ns per read (a read takes max(--t-mvm, settling))\n",
                   t->mi.settling_s * 1e9);
        printf("model: array energy %s\n", t->mi.has_energy
                                               ? "from the fitted law (/stats/energy) with the model's row currents"
                                               : "Joule heat sum V^2 G t (the model file has no /stats/energy)");
    }
    if (s->ex && o->time_s > 0)
        printf("drift: read %.4g s after programming (calibrated at t0 = %g s), global drift compensation %s\n",
               o->time_s, XB_DRIFT_T0_S, o->drift_comp ? "on" : "off");
}

/* The per-layer table and the energy/latency lines (tile engines). */
static void report_layers(const run_state *s, const run_totals *t)
{
    printf("per layer (error = relative L2 of the layer output vs ideal, over all images):\n");
    printf("  %-5s %-9s %-10s %6s %12s %12s %12s\n", "layer", "type", "output", "tiles", "rel-L2", "E/inf [pJ]",
           "t/inf [ns]");
    for (size_t k = 0; k < s->nl; k++) {
        const xb_layer *l = xb_network_layer(s->net, k);
        const xb_exec_layer_stats *st = &t->st[k];
        char shp[64];
        shape_str(l, shp, sizeof shp);
        double e = (st->e_array_joule + st->e_dac_joule + st->e_adc_joule + st->e_digital_joule) / t->N;
        printf("  %-5zu %-9s %-10s %6zu %12.3e %12.2f %12.1f\n", k, xb_layer_kind_name(l->kind), shp, st->n_tiles,
               layer_rel_l2(&s->l2[k]), e * 1e12, st->latency_s / t->N * 1e9);
    }
    printf("energy per inference: array %.2f pJ, DAC %.2f pJ, ADC %.2f pJ, digital %.2f pJ, total %.2f pJ\n",
           t->e_arr * 1e12, t->e_dac * 1e12, t->e_adc * 1e12, t->e_dig * 1e12, t->e_tot * 1e12);
    printf("latency per inference: %.1f ns (layers in sequence, tiles of a layer in parallel)\n", t->lat * 1e9);
    printf("efficiency: %.2f TOPS/W (2 ops per MAC)\n", t->e_tot > 0 ? 2 * t->macs / t->e_tot / 1e12 : 0.0);
}

static void report_text(const run_opts *o, const run_state *s, const run_totals *t)
{
    const char *eng_name = run_engine_name(o->cls);
    printf("network: %s (%zu layers, %.0f MACs per inference)\n", o->net_path, s->nl, t->macs);
    report_engine(o, s, t);
    if (o->input) printf("images: %zu from %s%s\n", s->test->n, o->input, s->test->labels ? "" : " (no labels)");
    else printf("images: %zu Fashion-MNIST test images\n", s->test->n);
    if (s->test->labels && s->ex) /* no accuracy without labels */
        printf("top-1 accuracy: ideal %.2f%%  %s %.2f%%  (%+.2f points)\n", 100 * t->acc_i, eng_name, 100 * t->acc_a,
               100 * (t->acc_a - t->acc_i));
    else if (s->test->labels) printf("top-1 accuracy: %.2f%%\n", 100 * t->acc_i);
    printf("time: ideal %.3f s", s->t_ideal);
    if (s->ex)
        printf(", %s %.3f s (%.1fx ideal)", eng_name, s->t_analog, s->t_ideal > 0 ? s->t_analog / s->t_ideal : 0.0);
    printf("\n");
    if (s->ex) report_layers(s, t);
    printf("digital baselines (arithmetic only, 45 nm): fp32 %.1f pJ, int8 %.1f pJ per inference", t->e_fp32 * 1e12,
           t->e_int8 * 1e12);
    if (s->ex && t->e_tot > 0) printf("; analog saves %.1fx vs fp32, %.1fx vs int8", t->e_fp32 / t->e_tot, t->e_int8 / t->e_tot);
    printf("\n");
}

/* A JSON string literal (quotes, backslashes and control characters escaped). */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

/* The run's configuration and accuracies (the JSON fields before "layers"). */
static void json_head(FILE *f, const run_opts *o, const run_state *s, const run_totals *t)
{
    const xb_array_params *p = &o->cfg.array;
    fprintf(f, "{\n  \"network\": ");
    json_str(f, o->net_path);
    fprintf(f, ",\n  \"engine\": \"%s\",\n  \"images\": %zu,\n", run_engine_name(o->cls), s->test->n);
    fprintf(f, "  \"device\": \"%s\",\n  \"g_min_siemens\": %.6g,\n  \"g_max_siemens\": %.6g,\n",
            xb_device_name(p->device), p->g_min_siemens, p->g_max_siemens);
    fprintf(f, "  \"tile_rows\": %zu,\n  \"tile_cols\": %zu,\n  \"dac_bits\": %d,\n  \"adc_bits\": %d,\n",
            o->cfg.tile_rows, o->cfg.tile_cols, o->cfg.dac_bits, o->cfg.adc_bits);
    fprintf(f, "  \"affine_calibration\": %s,\n  \"calibration_images\": %zu,\n",
            o->cfg.affine_calibration ? "true" : "false", s->cal ? s->cal->n : 0);
    fprintf(f, "  \"time_after_programming_s\": %.6g,\n  \"drift_compensation\": %s,\n", o->time_s,
            o->time_s > 0 && o->drift_comp ? "true" : "false");
    if (t->have_mi)
        fprintf(f,
                "  \"model_form\": \"%s\",\n  \"model_fast_terms\": %zu,\n  \"model_fast_cross\": %zu,\n"
                "  \"model_fast_error\": %.6g,\n",
                o->model_exact ? "exact" : "fast", t->mi.fast_terms, t->mi.fast_cross, t->mi.fast_error);
    if (t->have_mi && isfinite(t->mi.settling_s)) fprintf(f, "  \"model_settling_s\": %.6g,\n", t->mi.settling_s);
    if (t->have_mi) fprintf(f, "  \"model_energy_law\": %s,\n", t->mi.has_energy ? "true" : "false");
    if (o->input) {
        fprintf(f, "  \"input\": ");
        json_str(f, o->input);
        fprintf(f, ",\n  \"labels\": ");
        if (o->labels) json_str(f, o->labels);
        else fprintf(f, "null");
        fprintf(f, ",\n");
    }
    if (s->test->labels) {
        fprintf(f, "  \"accuracy_ideal\": %.6f,\n", t->acc_i);
        fprintf(f, "  \"accuracy\": %.6f,\n", s->ex ? t->acc_a : t->acc_i);
    } else {
        fprintf(f, "  \"accuracy_ideal\": null,\n  \"accuracy\": null,\n");
    }
    fprintf(f, "  \"time_ideal_s\": %.6g,\n  \"time_engine_s\": %.6g,\n  \"time_calibration_s\": %.6g,\n", s->t_ideal,
            s->t_analog, s->t_cal);
    fprintf(f, "  \"macs_per_inference\": %.0f,\n", t->macs);
}

static int report_json(const char *path, const run_opts *o, const run_state *s, const run_totals *t, xb_error *err)
{
    xb_afile *af = NULL; /* whole file or none (src/common/atomic.c) */
    int rc = xb_afile_open(path, &af, err);
    if (rc) {
        xb_error_prefix(err, "--json: ");
        return rc;
    }
    FILE *f = xb_afile_stream(af);
    json_head(f, o, s, t);
    fprintf(f, "  \"layers\": [\n");
    for (size_t k = 0; k < s->nl; k++) {
        const xb_layer *l = xb_network_layer(s->net, k);
        const xb_exec_layer_stats *st = &t->st[k];
        fprintf(f,
                "    {\"index\": %zu, \"type\": \"%s\", \"out_shape\": [%zu, %zu, %zu], \"tiles\": %zu, "
                "\"rel_l2_vs_ideal\": %.6g, \"energy_array_joule\": %.6g, \"energy_dac_joule\": %.6g, "
                "\"energy_adc_joule\": %.6g, \"energy_digital_joule\": %.6g, \"latency_s\": %.6g}%s\n",
                k, xb_layer_kind_name(l->kind), l->out_c, l->out_h, l->out_w, st->n_tiles,
                s->ex ? layer_rel_l2(&s->l2[k]) : 0.0, st->e_array_joule / t->N, st->e_dac_joule / t->N,
                st->e_adc_joule / t->N, st->e_digital_joule / t->N, st->latency_s / t->N, k + 1 < s->nl ? "," : "");
    }
    fprintf(f, "  ],\n");
    fprintf(f, "  \"energy_per_inference_joule\": {\"array\": %.6g, \"dac\": %.6g, \"adc\": %.6g, \"digital\": %.6g, "
               "\"total\": %.6g},\n",
            t->e_arr, t->e_dac, t->e_adc, t->e_dig, t->e_tot);
    fprintf(f, "  \"latency_per_inference_s\": %.6g,\n", t->lat);
    fprintf(f, "  \"tops_per_watt\": %.6g,\n", t->e_tot > 0 ? 2 * t->macs / t->e_tot / 1e12 : 0.0);
    fprintf(f, "  \"baseline_fp32_joule\": %.6g,\n  \"baseline_int8_joule\": %.6g\n}\n", t->e_fp32, t->e_int8);
    /* every write above is checked here (the stream keeps the first failure) */
    if ((rc = xb_afile_commit(af, err))) xb_error_prefix(err, "--json: ");
    return rc;
}

static int run_report(const run_opts *o, const run_state *s, xb_error *err)
{
    run_totals t;
    int rc = report_totals(o, s, &t, err);
    if (!rc) report_text(o, s, &t);
    if (!rc && o->json_path) rc = report_json(o->json_path, o, s, &t, err);
    free(t.st);
    return rc;
}

/* ------------------------------------------------------------------ xbar run */
int xb_cmd_run(int argc, char **argv)
{
    if (xb_cli_wants_help(argc, argv)) {
        fputs(k_help, stdout);
        return 0;
    }
    run_opts o;
    xb_error err;
    xb_error_clear(&err);
    if (run_parse(argc, argv, &o, &err)) return xb_cli_usage_error("run", "%s", err.msg);
    if (o.threads) openblas_set_num_threads((int)o.threads);
    run_state s;
    memset(&s, 0, sizeof s);
    int rc = run_load(&o, &s, &err);
    if (!rc && o.cls) rc = run_setup(&o, &s, &err);
    if (!rc && !s.swept) rc = run_forward(&o, &s, &err);
    if (!rc && !s.swept && o.logits &&
        (rc = xb_npy_write_f32(o.logits, s.logits, s.test->n, s.n_classes, &err)))
        xb_error_prefix(&err, "--logits: ");
    if (!rc && !s.swept) rc = run_report(&o, &s, &err);
    run_free(&s);
    if (rc) return xb_cli_fail("run", &err);
    return 0;
}
