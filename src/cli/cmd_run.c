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
    "Run a network (docs/hdf5-network.md) on Fashion-MNIST test images: top-1 accuracy,\n"
    "per-layer output error (relative L2) against the ideal float network, energy and\n"
    "latency per inference.  Dense/conv layers are split into tiles of the array size,\n"
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
    "  --limit N              first N test images              [all 10000]\n"
    "  --calib N              calibration images (from the training set) [256; spice 32]\n"
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

typedef struct {
    double sq_diff, sq_ref;
} l2_acc;

static float **alloc_acts(const xb_network *net, size_t n)
{
    size_t nl = xb_network_n_layers(net);
    float **a = calloc(nl, sizeof *a);
    if (!a) return NULL;
    for (size_t k = 0; k < nl; k++)
        if (!(a[k] = malloc(n * xb_layer_out_size(xb_network_layer(net, k)) * sizeof(float)))) {
            for (size_t j = 0; j < k; j++) free(a[j]);
            free(a);
            return NULL;
        }
    return a;
}

static void free_acts(float **a, size_t nl)
{
    if (!a) return;
    for (size_t k = 0; k < nl; k++) free(a[k]);
    free(a);
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

static void shape_str(const xb_layer *l, char *buf, size_t n)
{
    if (l->out_h == 1 && l->out_w == 1) snprintf(buf, n, "%zu", l->out_c);
    else snprintf(buf, n, "%zux%zux%zu", l->out_c, l->out_h, l->out_w);
}

int xb_cmd_run(int argc, char **argv)
{
    if (xb_cli_wants_help(argc, argv)) {
        fputs(k_help, stdout);
        return 0;
    }
    const char *net_path = NULL, *dir = NULL, *json_path = NULL, *model_path = NULL;
    int read_noise = 0, drift_comp = 1, model_exact = 0;
    double time_s = 0; /* 0: reads at t0, no drift */
    double sweep_t[XB_SWEEP_MAX];
    size_t n_sweep = 0;
    const char *time_csv = NULL;
    const xb_engine_class *cls = &xb_engine_class_ideal; /* tiled-ideal; NULL: --engine ideal */
    size_t limit = 0, calib_n = 0, batch = 500, threads = 0;
    xb_exec_config cfg;
    xb_exec_config_default(&cfg, XB_DEVICE_LINEAR);
    xb_array_params *p = &cfg.array;
    xb_error err;
    xb_error_clear(&err);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        size_t n;
        double d;
        char flag[32];
        size_t fl = strcspn(a, "=");
        snprintf(flag, sizeof flag, "%.*s", (int)(fl < 31 ? fl : 31), a);
#define VAL() (v = xb_cli_flag_value(argc, argv, &i, flag, &err))
        if (!strcmp(flag, "--network")) {
            if (!VAL()) return xb_cli_usage_error("run", "%s", err.msg);
            net_path = v;
        } else if (!strcmp(flag, "--dataset")) {
            if (!VAL()) return xb_cli_usage_error("run", "%s", err.msg);
            dir = v;
        } else if (!strcmp(flag, "--model")) {
            if (!VAL()) return xb_cli_usage_error("run", "%s", err.msg);
            model_path = v;
        } else if (!strcmp(a, "--read-noise")) {
            read_noise = 1;
        } else if (!strcmp(a, "--model-exact")) {
            model_exact = 1;
        } else if (!strcmp(flag, "--time")) {
            if (!VAL() || xb_exec_parse_time(v, "--time", &time_s, &err)) return xb_cli_usage_error("run", "%s", err.msg);
        } else if (!strcmp(flag, "--time-sweep")) {
            if (xb_cli_parse_time_list(a[fl] == '=' ? a + fl + 1 : NULL, sweep_t, &n_sweep, &err))
                return xb_cli_usage_error("run", "%s", err.msg);
        } else if (!strcmp(flag, "--time-csv")) {
            if (!VAL()) return xb_cli_usage_error("run", "%s", err.msg);
            time_csv = v;
        } else if (!strcmp(a, "--no-drift-compensation")) {
            drift_comp = 0;
        } else if (!strcmp(flag, "--json")) {
            if (!VAL()) return xb_cli_usage_error("run", "%s", err.msg);
            json_path = v;
        } else if (!strcmp(flag, "--engine")) {
            if (!VAL()) return xb_cli_usage_error("run", "%s", err.msg);
            if (run_engine_find(v, &cls, &err)) return xb_cli_usage_error("run", "%s", err.msg);
        } else if (!strcmp(flag, "--limit") || !strcmp(flag, "--calib") || !strcmp(flag, "--batch") ||
                   !strcmp(flag, "--tile-rows") || !strcmp(flag, "--tile-cols") || !strcmp(flag, "--dac-bits") ||
                   !strcmp(flag, "--adc-bits") || !strcmp(flag, "--threads")) {
            if (!VAL() || xb_parse_size(v, flag, &n, &err)) return xb_cli_usage_error("run", "%s", err.msg);
            /* quote the input (a clamp to 64 used to report "got 64" for --adc-bits 1000) */
            if (!strcmp(flag, "--dac-bits") && n > 24)
                return xb_cli_usage_error("run", "--dac-bits: 0 (ideal) to 24, got '%s'", v);
            if (!strcmp(flag, "--adc-bits") && (n > 24 || n == 1))
                return xb_cli_usage_error("run", "--adc-bits: 0 (ideal) or 2 to 24 (signed), got '%s'", v);
            if (!strcmp(flag, "--limit")) limit = n;
            else if (!strcmp(flag, "--calib")) calib_n = n;
            else if (!strcmp(flag, "--batch")) batch = n;
            else if (!strcmp(flag, "--tile-rows")) cfg.tile_rows = n;
            else if (!strcmp(flag, "--tile-cols")) cfg.tile_cols = n;
            else if (!strcmp(flag, "--dac-bits")) cfg.dac_bits = (int)n;
            else if (!strcmp(flag, "--adc-bits")) cfg.adc_bits = (int)n;
            else threads = n;
            if ((!strcmp(flag, "--calib") || !strcmp(flag, "--batch") || !strcmp(flag, "--limit")) && n == 0)
                return xb_cli_usage_error("run", "%s: must be >= 1", flag);
        } else if (!strcmp(flag, "--dac-range") || !strcmp(flag, "--adc-headroom") || !strcmp(flag, "--t-mvm") ||
                   !strcmp(flag, "--adc-fom") || !strcmp(flag, "--dac-energy")) {
            if (!VAL() || xb_parse_double(v, flag, &d, &err)) return xb_cli_usage_error("run", "%s", err.msg);
            if (!strcmp(flag, "--dac-range")) {
                if (!(d > 0)) return xb_cli_usage_error("run", "--dac-range: must be > 0");
                cfg.dac_range = d;
            } else if (!strcmp(flag, "--adc-headroom")) {
                cfg.adc_headroom = d;
            } else {
                if (!(d >= 0)) return xb_cli_usage_error("run", "%s: must be >= 0", flag);
                if (!strcmp(flag, "--t-mvm")) cfg.energy.t_mvm_s = d;
                else if (!strcmp(flag, "--adc-fom")) cfg.energy.adc_fom_joule_per_step = d;
                else cfg.energy.dac_joule_per_bit = d;
            }
        } else if (!strcmp(a, "--no-calibration")) {
            cfg.affine_calibration = 0;
        } else if (!strcmp(flag, "--rows") || !strcmp(flag, "--cols")) {
            return xb_cli_usage_error("run", "%s: the array size is --tile-rows/--tile-cols", flag);
        } else {
            int r = xb_cli_array_option(argc, argv, &i, p, &err);
            if (r < 0) return xb_cli_usage_error("run", "%s", err.msg);
            if (r == 0) return xb_cli_usage_error("run", "unknown option '%s'", a);
        }
#undef VAL
    }
    if (!net_path) return xb_cli_usage_error("run", "--network: required");
    const int is_model = cls == &xb_fit_engine_class_model, is_spice = cls == &xb_engine_class_spice;
    const char *eng_name = run_engine_name(cls);
    if (is_model && !model_path) return xb_cli_usage_error("run", "--model: --engine model needs a model file");
    if (model_path && !is_model) return xb_cli_usage_error("run", "--model: only with --engine model");
    if (model_exact && !is_model) return xb_cli_usage_error("run", "--model-exact: only with --engine model");
    if (is_spice && limit == 0)
        return xb_cli_usage_error("run", "--engine spice needs --limit N (every tile MVM is an ngspice run)");
    if (n_sweep && time_s > 0) return xb_cli_usage_error("run", "--time-sweep: not with --time");
    if (time_csv && !n_sweep) return xb_cli_usage_error("run", "--time-csv: only with --time-sweep");
    if (n_sweep && !cls) return xb_cli_usage_error("run", "--time-sweep: needs a tile engine (not --engine ideal)");
    if (time_s > 0 && !cls) return xb_cli_usage_error("run", "--time: needs a tile engine (not --engine ideal)");
    if (calib_n == 0) calib_n = is_spice ? 32 : 256;
    if (is_spice && limit > batch) batch = limit; /* one analysis per tile for all images */
    cfg.drift_read_noise = read_noise; /* applies after xb_exec_set_time only */
    if (xb_exec_config_check(&cfg, &err)) return xb_cli_usage_error("run", "%s", err.msg);
    if (threads) openblas_set_num_threads((int)threads);

    xb_network *net = NULL;
    xb_dataset *test = NULL, *cal = NULL;
    xb_exec *ex = NULL;
    xb_engine *eng = NULL;
    float **ideal = NULL, **analog = NULL;
    l2_acc *l2 = NULL;
    size_t nl = 0;
    int rc = xb_network_read(net_path, &net, &err);
    if (rc) return xb_cli_fail("run", &err);
    nl = xb_network_n_layers(net);
    const size_t n_classes = xb_network_output_size(net), in_sz = xb_network_input_size(net);
    if ((rc = xb_dataset_load_fmnist(dir, 0, limit, &test, &err))) goto out;
    if (test->rows * test->cols != in_sz) {
        rc = xb_errorf(&err, XB_EINPUT, "%s: input size %zu, but the dataset images have %zux%zu pixels", net_path,
                       in_sz, test->rows, test->cols);
        goto out;
    }
    if (n_classes < 10) {
        rc = xb_errorf(&err, XB_EINPUT, "%s: the network has %zu outputs, Fashion-MNIST has 10 classes", net_path,
                       n_classes);
        goto out;
    }
    if (batch > test->n) batch = test->n;
    ideal = alloc_acts(net, batch);
    l2 = calloc(nl, sizeof *l2);
    if (!ideal || !l2) {
        rc = xb_errorf(&err, XB_ERUNTIME, "out of memory");
        goto out;
    }
    double t_cal = 0, t0, t_ideal = 0, t_analog = 0;
    if (cls) {
        /* the tiles' configuration: the model engine selects its model for it */
        xb_array_params tp = cfg.array;
        tp.rows = cfg.tile_rows;
        tp.cols = cfg.tile_cols;
        tp.diff_pairs = 1;
        xb_engine_config ec;
        xb_engine_config_default(&ec);
        ec.array = &tp;
        ec.file = model_path;
        ec.seed = tp.seed;
        ec.read_noise = read_noise;
        ec.exact = model_exact;
        ec.t_window_s = cfg.energy.t_mvm_s;
        if ((rc = xb_engine_new(cls, &ec, &eng, &err))) goto out;
        xb_fit_engine_info mi;
        if (is_model && xb_fit_engine_get_info(eng, &mi, NULL) == XB_OK && mi.from_family)
            fprintf(stderr, "xbar run: warning: no model fitted for %zux%zu in %s: parameters predicted from its "
                            "size/wire-resistance family\n", tp.rows, tp.cols, model_path);
        if (!(analog = alloc_acts(net, batch))) {
            rc = xb_errorf(&err, XB_ERUNTIME, "out of memory");
            goto out;
        }
        t0 = xb_now_s();
        if ((rc = xb_exec_new(net, &cfg, eng, &ex, &err))) goto out;
        if ((rc = xb_dataset_load_fmnist(dir, 1, calib_n, &cal, &err))) goto out;
        /* spice: calibration and evaluation fused, one ngspice analysis per tile */
        if ((!is_spice || time_s > 0 || n_sweep) && (rc = xb_exec_calibrate(ex, cal->images, cal->n, &err)))
            goto out;
        if (n_sweep) {
            rc = xb_cli_run_time_sweep(ex, net, test, batch, sweep_t, n_sweep, time_csv, &err);
            goto out;
        }
        /* drift after a calibration at t0 (docs/drift.md) */
        if (time_s > 0 && (rc = xb_exec_set_time(ex, time_s, drift_comp, &err))) goto out;
        t_cal = xb_now_s() - t0;
    }
    size_t ok_ideal = 0, ok_analog = 0;
    for (size_t s0 = 0; s0 < test->n; s0 += batch) {
        size_t nb = test->n - s0 < batch ? test->n - s0 : batch;
        const float *x = test->images + s0 * in_sz;
        t0 = xb_now_s();
        if ((rc = xb_network_forward(net, x, nb, ideal, &err))) goto out;
        t_ideal += xb_now_s() - t0;
        ok_ideal += (size_t)llround(xb_exec_top1(ideal[nl - 1], nb, n_classes, test->labels + s0) * (double)nb);
        if (!ex) continue;
        t0 = xb_now_s();
        if (is_spice && s0 == 0 && time_s <= 0) rc = xb_exec_calibrate_forward(ex, cal->images, cal->n, x, nb, analog, &err);
        else rc = xb_exec_forward(ex, x, nb, analog, &err);
        if (rc) goto out;
        t_analog += xb_now_s() - t0;
        ok_analog += (size_t)llround(xb_exec_top1(analog[nl - 1], nb, n_classes, test->labels + s0) * (double)nb);
        for (size_t k = 0; k < nl; k++) {
            size_t m = nb * xb_layer_out_size(xb_network_layer(net, k));
            for (size_t i = 0; i < m; i++) {
                double dd = (double)analog[k][i] - (double)ideal[k][i];
                l2[k].sq_diff += dd * dd;
                l2[k].sq_ref += (double)ideal[k][i] * ideal[k][i];
            }
        }
    }

    /* ---- report ---- */
    const double N = (double)test->n, macs = xb_network_macs(net);
    double e_arr = 0, e_dac = 0, e_adc = 0, e_dig = 0, lat = 0;
    xb_exec_layer_stats *st = calloc(nl, sizeof *st);
    if (!st) {
        rc = xb_errorf(&err, XB_ERUNTIME, "out of memory");
        goto out;
    }
    for (size_t k = 0; ex && k < nl; k++) {
        xb_exec_get_layer_stats(ex, k, &st[k]);
        e_arr += st[k].e_array_joule / N;
        e_dac += st[k].e_dac_joule / N;
        e_adc += st[k].e_adc_joule / N;
        e_dig += st[k].e_digital_joule / N;
        lat += st[k].latency_s / N;
    }
    const double e_tot = e_arr + e_dac + e_adc + e_dig;
    const double e_fp32 = macs * cfg.energy.base_mac_fp32_joule, e_int8 = macs * cfg.energy.base_mac_int8_joule;
    const double acc_i = ok_ideal / N, acc_a = ok_analog / N;
    printf("network: %s (%zu layers, %.0f MACs per inference)\n", net_path, nl, macs);
    if (ex)
        printf("engine: %s, device %s [%.3g, %.3g] S, tiles %zux%zu (%zu weight columns), DAC %d bit, ADC %d bit, "
               "affine calibration %s, %zu calibration images (%.2f s)\n",
               eng_name, xb_device_name(p->device), p->g_min_siemens, p->g_max_siemens, cfg.tile_rows,
               cfg.tile_cols, cfg.tile_cols / 2, cfg.dac_bits, cfg.adc_bits, cfg.affine_calibration ? "on" : "off",
               cal ? cal->n : 0, t_cal);
    else printf("engine: ideal (float, OpenBLAS)\n");
    xb_fit_engine_info mi;
    const int have_mi = is_model && xb_fit_engine_get_info(eng, &mi, NULL) == XB_OK;
    if (have_mi) {
        if (model_exact) printf("model: full model per input vector (--model-exact)\n");
        else
            printf("model: fast form, %zu basis term(s) per tile, largest held-out error vs the full model %.2e "
                   "(relative L2; --model-exact evaluates the full model)\n",
                   mi.fast_terms, mi.fast_error);
        if (isfinite(mi.settling_s))
            printf("model: fitted settling time %.3g ns per read (a read takes max(--t-mvm, settling))\n",
                   mi.settling_s * 1e9);
        printf("model: array energy %s\n", mi.has_energy
                                              ? "from the fitted law (/stats/energy) with the model's row currents"
                                              : "Joule heat sum V^2 G t (the model file has no /stats/energy)");
    }
    if (ex && time_s > 0)
        printf("drift: read %.4g s after programming (calibrated at t0 = %g s), global drift compensation %s\n", time_s,
               XB_DRIFT_T0_S, drift_comp ? "on" : "off");
    printf("images: %zu Fashion-MNIST test images\n", test->n);
    if (ex)
        printf("top-1 accuracy: ideal %.2f%%  %s %.2f%%  (%+.2f points)\n", 100 * acc_i, eng_name, 100 * acc_a,
               100 * (acc_a - acc_i));
    else printf("top-1 accuracy: %.2f%%\n", 100 * acc_i);
    printf("time: ideal %.3f s", t_ideal);
    if (ex) printf(", %s %.3f s (%.1fx ideal)", eng_name, t_analog, t_ideal > 0 ? t_analog / t_ideal : 0.0);
    printf("\n");
    if (ex) {
        printf("per layer (error = relative L2 of the layer output vs ideal, over all images):\n");
        printf("  %-5s %-9s %-10s %6s %12s %12s %12s\n", "layer", "type", "output", "tiles", "rel-L2", "E/inf [pJ]",
               "t/inf [ns]");
        for (size_t k = 0; k < nl; k++) {
            const xb_layer *l = xb_network_layer(net, k);
            char shp[64];
            shape_str(l, shp, sizeof shp);
            double rel = l2[k].sq_ref > 0 ? sqrt(l2[k].sq_diff / l2[k].sq_ref) : sqrt(l2[k].sq_diff);
            double e = (st[k].e_array_joule + st[k].e_dac_joule + st[k].e_adc_joule + st[k].e_digital_joule) / N;
            printf("  %-5zu %-9s %-10s %6zu %12.3e %12.2f %12.1f\n", k, xb_layer_kind_name(l->kind), shp, st[k].n_tiles,
                   rel, e * 1e12, st[k].latency_s / N * 1e9);
        }
        printf("energy per inference: array %.2f pJ, DAC %.2f pJ, ADC %.2f pJ, digital %.2f pJ, total %.2f pJ\n",
               e_arr * 1e12, e_dac * 1e12, e_adc * 1e12, e_dig * 1e12, e_tot * 1e12);
        printf("latency per inference: %.1f ns (layers in sequence, tiles of a layer in parallel)\n", lat * 1e9);
        printf("efficiency: %.2f TOPS/W (2 ops per MAC)\n", e_tot > 0 ? 2 * macs / e_tot / 1e12 : 0.0);
    }
    printf("digital baselines (arithmetic only, 45 nm): fp32 %.1f pJ, int8 %.1f pJ per inference", e_fp32 * 1e12,
           e_int8 * 1e12);
    if (ex && e_tot > 0) printf("; analog saves %.1fx vs fp32, %.1fx vs int8", e_fp32 / e_tot, e_int8 / e_tot);
    printf("\n");

    if (json_path) {
        FILE *f = fopen(json_path, "w");
        if (!f) {
            rc = xb_errorf(&err, XB_ERUNTIME, "--json: cannot write %s", json_path);
            free(st);
            goto out;
        }
        fprintf(f, "{\n  \"network\": ");
        json_str(f, net_path);
        fprintf(f, ",\n  \"engine\": \"%s\",\n  \"images\": %zu,\n", eng_name, test->n);
        fprintf(f, "  \"device\": \"%s\",\n  \"g_min_siemens\": %.6g,\n  \"g_max_siemens\": %.6g,\n",
                xb_device_name(p->device), p->g_min_siemens, p->g_max_siemens);
        fprintf(f, "  \"tile_rows\": %zu,\n  \"tile_cols\": %zu,\n  \"dac_bits\": %d,\n  \"adc_bits\": %d,\n",
                cfg.tile_rows, cfg.tile_cols, cfg.dac_bits, cfg.adc_bits);
        fprintf(f, "  \"affine_calibration\": %s,\n  \"calibration_images\": %zu,\n",
                cfg.affine_calibration ? "true" : "false", cal ? cal->n : 0);
        fprintf(f, "  \"time_after_programming_s\": %.6g,\n  \"drift_compensation\": %s,\n", time_s,
                time_s > 0 && drift_comp ? "true" : "false");
        if (have_mi)
            fprintf(f, "  \"model_form\": \"%s\",\n  \"model_fast_terms\": %zu,\n  \"model_fast_error\": %.6g,\n",
                    model_exact ? "exact" : "fast", mi.fast_terms, mi.fast_error);
        if (have_mi && isfinite(mi.settling_s)) fprintf(f, "  \"model_settling_s\": %.6g,\n", mi.settling_s);
        if (have_mi) fprintf(f, "  \"model_energy_law\": %s,\n", mi.has_energy ? "true" : "false");
        fprintf(f, "  \"accuracy_ideal\": %.6f,\n", acc_i);
        if (ex) fprintf(f, "  \"accuracy\": %.6f,\n", acc_a);
        else fprintf(f, "  \"accuracy\": %.6f,\n", acc_i);
        fprintf(f, "  \"time_ideal_s\": %.6g,\n  \"time_engine_s\": %.6g,\n  \"time_calibration_s\": %.6g,\n", t_ideal,
                t_analog, t_cal);
        fprintf(f, "  \"macs_per_inference\": %.0f,\n", macs);
        fprintf(f, "  \"layers\": [\n");
        for (size_t k = 0; k < nl; k++) {
            const xb_layer *l = xb_network_layer(net, k);
            double rel = l2[k].sq_ref > 0 ? sqrt(l2[k].sq_diff / l2[k].sq_ref) : sqrt(l2[k].sq_diff);
            fprintf(f,
                    "    {\"index\": %zu, \"type\": \"%s\", \"out_shape\": [%zu, %zu, %zu], \"tiles\": %zu, "
                    "\"rel_l2_vs_ideal\": %.6g, \"energy_array_joule\": %.6g, \"energy_dac_joule\": %.6g, "
                    "\"energy_adc_joule\": %.6g, \"energy_digital_joule\": %.6g, \"latency_s\": %.6g}%s\n",
                    k, xb_layer_kind_name(l->kind), l->out_c, l->out_h, l->out_w, st[k].n_tiles, ex ? rel : 0.0,
                    st[k].e_array_joule / N, st[k].e_dac_joule / N, st[k].e_adc_joule / N, st[k].e_digital_joule / N,
                    st[k].latency_s / N, k + 1 < nl ? "," : "");
        }
        fprintf(f, "  ],\n");
        fprintf(f, "  \"energy_per_inference_joule\": {\"array\": %.6g, \"dac\": %.6g, \"adc\": %.6g, \"digital\": %.6g, "
                   "\"total\": %.6g},\n",
                e_arr, e_dac, e_adc, e_dig, e_tot);
        fprintf(f, "  \"latency_per_inference_s\": %.6g,\n", lat);
        fprintf(f, "  \"tops_per_watt\": %.6g,\n", e_tot > 0 ? 2 * macs / e_tot / 1e12 : 0.0);
        fprintf(f, "  \"baseline_fp32_joule\": %.6g,\n  \"baseline_int8_joule\": %.6g\n}\n", e_fp32, e_int8);
        if (fclose(f) != 0) rc = xb_errorf(&err, XB_ERUNTIME, "--json: cannot write %s", json_path);
    }
    free(st);
out:
    free_acts(ideal, nl);
    free_acts(analog, nl);
    free(l2);
    xb_exec_free(ex);
    xb_engine_free(eng);
    xb_dataset_free(test);
    xb_dataset_free(cal);
    xb_network_free(net);
    if (rc) return xb_cli_fail("run", &err);
    return 0;
}
