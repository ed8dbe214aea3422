/* bench_fast: the model engine's fast form at network level, and its speed on the shipped CNN,
 * measured side by side in one run (issue 19 items 5 and 6).
 *
 *   bench_fast --model FILE [--images N] [--speed-images M] [--tile T] [--device D]
 *              [--network NET.h5] [--cnn NET.h5] [--no-native] [--native-cache FILE]
 *              [--adc-bits B] [--no-speed]
 *
 * 1. Accuracy on N test images (default 1000), TxT tiles (default 64) of device D (default
 *    rram), 8-bit DAC/ADC, calibration on 256 training images, the same programmed
 *    conductances for every engine: the network output (the last layer) and every layer of
 *    the model engine's fast form and of its full model (--model-exact) against the native
 *    engine (the exact nodal circuit).  Target: fast form within 2x of the full model.
 *    The fast form's printed error (network activations) is shown beside it.
 * 2. Speed on M test images (default 10000) of the shipped CNN (data/fmnist_cnn.h5), 64x64
 *    tiles, one BLAS thread: the float network (im2col + sgemm) vs the model engine's
 *    forward passes (programming and calibration timed apart), both as CPU time of the one
 *    thread that runs them, the fastest of --reps R passes over the images (default 3) each,
 *    the float and model passes interleaved (both see the same load on a shared machine).
 *    Target: <= 4x. */
#include <math.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "xbar/exec.h"
#include "xbar/fit.h"
#include "bench_util.h"

extern void openblas_set_num_threads(int num_threads);

static int die(const xb_error *e)
{
    fprintf(stderr, "bench_fast: %s\n", e->msg);
    return 1;
}

/* CPU time of this thread: the passes run on one thread (one BLAS thread, one executor
 * worker), so the ratio is not at the mercy of other processes on a shared machine. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
    double seconds, setup_seconds, acc;
    float **acts; /* all n images, or NULL */
} run_t;

/* Program + calibrate (setup), then forward passes in batches of B (timed: the fastest of reps
 * passes over the n images, robust against other load on a shared machine). */
static int run_engine(const xb_network *net, const xb_exec_config *cfg, xb_engine *eng, const xb_dataset *cal,
                      const xb_dataset *test, size_t n, size_t B, size_t reps, run_t *r, xb_error *err)
{
    xb_exec *ex = NULL;
    double ts = xb_now_s();
    int rc = xb_exec_new(net, cfg, eng, &ex, err);
    if (!rc) rc = xb_exec_calibrate(ex, cal->images, cal->n, err);
    r->setup_seconds = xb_now_s() - ts;
    const size_t nl = xb_network_n_layers(net), in = xb_network_input_size(net), nc = xb_network_output_size(net);
    float **tmp = xb_network_acts_new(net, B);
    size_t ok = 0;
    r->seconds = INFINITY;
    for (size_t rep = 0; rep < reps && !rc; rep++) {
        double t = 0;
        ok = 0;
        for (size_t s0 = 0; !rc && s0 < n; s0 += B) {
            const size_t nb = n - s0 < B ? n - s0 : B;
            const double t0 = cpu_s();
            rc = xb_exec_forward(ex, test->images + s0 * in, nb, tmp, err);
            t += cpu_s() - t0;
            if (rc) break;
            ok += (size_t)llround(xb_exec_top1(tmp[nl - 1], nb, nc, test->labels + s0) * (double)nb);
            for (size_t k = 0; r->acts && k < nl; k++) {
                const size_t sz = xb_layer_out_size(xb_network_layer(net, k));
                memcpy(r->acts[k] + s0 * sz, tmp[k], nb * sz * sizeof(float));
            }
        }
        r->seconds = fmin(r->seconds, t);
    }
    xb_network_acts_free(tmp, nl);
    xb_exec_free(ex);
    r->acc = n ? (double)ok / (double)n : 0;
    return rc;
}

static int model_engine(const char *file, const xb_array_params *tp, int exact, xb_engine **out, xb_error *err)
{
    xb_engine_config ec;
    xb_engine_config_default(&ec);
    ec.array = tp;
    ec.file = file;
    ec.seed = tp->seed;
    ec.exact = exact;
    return xb_engine_new(&xb_fit_engine_class_model, &ec, out, err);
}

/* --native-cache FILE: the native run's activations, accuracy and times (xb_bench_cache_*),
 * so that later runs (other versions of the fast form: the native engine does not depend on
 * it; the same images, tiles and programmed conductances) skip the slow exact circuit. */
static int cache_load(const char *path, const xb_network *net, size_t n, run_t *r)
{
    double sc[3];
    if (!xb_bench_cache_load("bench_fast", path, "XBNC1", net, n, r->acts, sc, 3)) return 0;
    r->acc = sc[0];
    r->seconds = sc[1];
    r->setup_seconds = sc[2];
    return 1;
}

static void cache_save(const char *path, const xb_network *net, size_t n, const run_t *r)
{
    const double sc[3] = {r->acc, r->seconds, r->setup_seconds};
    xb_bench_cache_save("bench_fast", path, "XBNC1", net, n, r->acts, sc, 3);
}

/* Index of the last layer with weights (its output: the logits before softmax). */
static size_t last_weighted(const xb_network *net)
{
    size_t k = 0;
    for (size_t i = 0; i < xb_network_n_layers(net); i++) {
        const xb_layer_kind kd = xb_network_layer(net, i)->kind;
        if (kd == XB_LAYER_DENSE || kd == XB_LAYER_CONV2D) k = i;
    }
    return k;
}

static int part_accuracy(const char *net_path, const char *model_path, xb_device_kind dev, size_t tile, size_t n,
                         int native_on, const char *native_cache, int adc_bits, const xb_dataset *cal, const xb_dataset *test,
                         double *ratio, xb_error *err)
{
    xb_network *net = NULL;
    int rc = xb_network_read(net_path, &net, err);
    if (rc) return rc;
    xb_exec_config cfg;
    xb_exec_config_default(&cfg, dev);
    cfg.tile_rows = cfg.tile_cols = tile;
    if (adc_bits >= 0) cfg.adc_bits = adc_bits;
    xb_array_params tp = cfg.array;
    tp.rows = tp.cols = tile;
    tp.diff_pairs = 1;
    enum { FAST, EXACT, NATIVE, NRUN };
    const char *names[NRUN] = {"model (fast form)", "model --model-exact", "native"};
    xb_engine *eng[NRUN] = {0};
    run_t r[NRUN];
    memset(r, 0, sizeof r);
    const size_t nl = xb_network_n_layers(net);
    if ((rc = model_engine(model_path, &tp, 0, &eng[FAST], err)) ||
        (rc = model_engine(model_path, &tp, 1, &eng[EXACT], err)) ||
        (native_on && (rc = xb_engine_new(&xb_engine_class_native, NULL, &eng[NATIVE], err))))
        goto done;
    printf("network output vs the native engine, %zu images, %s, %s %zux%zu tiles, DAC/ADC 8 bit, calibration on "
           "%zu images\n",
           n, net_path, xb_device_name(dev), tile, tile, cal->n);
    printf("  %-22s %10s %10s %10s\n", "engine", "setup s", "run cpu s", "accuracy");
    for (int e = 0; e < NRUN && !rc; e++) {
        if (!eng[e]) continue;
        r[e].acts = xb_network_acts_new(net, n);
        const int cached = e == NATIVE && cache_load(native_cache, net, n, &r[e]);
        if (!cached && (rc = run_engine(net, &cfg, eng[e], cal, test, n, n, 1, &r[e], err))) break;
        if (e == NATIVE && !cached) cache_save(native_cache, net, n, &r[e]);
        printf("  %-22s %10.2f %10.2f %9.2f%%%s\n", names[e], r[e].setup_seconds, r[e].seconds, 100 * r[e].acc,
               cached ? "  (from --native-cache)" : "");
        fflush(stdout);
    }
    if (rc) goto done;
    xb_fit_engine_info mi;
    if ((rc = xb_fit_engine_get_info(eng[FAST], &mi, err))) goto done;
    const int ref = native_on ? NATIVE : EXACT;
    printf("  per-layer relative L2 vs %s:\n  %-6s %-9s %14s%s\n", native_on ? "native" : "the full model", "layer",
           "type", "fast form", native_on ? "     full model" : "");
    for (size_t k = 0; k < nl; k++) {
        const xb_layer *l = xb_network_layer(net, k);
        const size_t sz = n * xb_layer_out_size(l);
        printf("  %-6zu %-9s %14.3e", k, xb_layer_kind_name(l->kind), xb_bench_rel_l2(r[FAST].acts[k], r[ref].acts[k], sz));
        if (native_on) printf(" %14.3e", xb_bench_rel_l2(r[EXACT].acts[k], r[ref].acts[k], sz));
        printf("\n");
    }
    const size_t kl = last_weighted(net), szl = n * xb_layer_out_size(xb_network_layer(net, kl));
    const double ef = xb_bench_rel_l2(r[FAST].acts[kl], r[ref].acts[kl], szl);
    const double ex = native_on ? xb_bench_rel_l2(r[EXACT].acts[kl], r[ref].acts[kl], szl) : 0.0;
    printf("  fast form: %zu terms + %zu cross groups (%s), printed error (network-like inputs, column pairs, vs the full "
           "model) %.2e\n",
           mi.fast_terms, mi.fast_cross, mi.fast_kind == XB_FIT_CROSS_COLUMN ? "column kernel" : "total input",
           mi.fast_error);
    if (native_on) {
        *ratio = ex > 0 ? ef / ex : INFINITY;
        printf("  network output (layer %zu) rel-L2 vs native: fast form %.3e, full model %.3e: %.2fx\n", kl, ef, ex,
               *ratio);
        printf("  target fast form within 2x of the full model: %s\n", *ratio <= 2.0 ? "met" : "NOT met");
    }
done:
    for (int e = 0; e < NRUN; e++) {
        xb_network_acts_free(r[e].acts, nl);
        xb_engine_free(eng[e]);
    }
    xb_network_free(net);
    return rc;
}

/* One pass of the float network over the n images in batches of B (CPU time); *ok: correct. */
static int float_pass(const xb_network *net, const xb_dataset *test, size_t n, size_t B, float **ia, double *t,
                      size_t *ok, xb_error *err)
{
    const size_t nl = xb_network_n_layers(net), in = xb_network_input_size(net), nc = xb_network_output_size(net);
    int rc = XB_OK;
    *t = 0;
    *ok = 0;
    for (size_t s0 = 0; s0 < n && !rc; s0 += B) {
        const size_t nb = n - s0 < B ? n - s0 : B;
        const double t0 = cpu_s();
        rc = xb_network_forward(net, test->images + s0 * in, nb, ia, err);
        *t += cpu_s() - t0;
        if (!rc) *ok += (size_t)llround(xb_exec_top1(ia[nl - 1], nb, nc, test->labels + s0) * (double)nb);
    }
    return rc;
}

/* The same for the model engine's executor ex. */
static int model_pass(xb_exec *ex, const xb_network *net, const xb_dataset *test, size_t n, size_t B, float **ia,
                      double *t, size_t *ok, xb_error *err)
{
    const size_t nl = xb_network_n_layers(net), in = xb_network_input_size(net), nc = xb_network_output_size(net);
    int rc = XB_OK;
    *t = 0;
    *ok = 0;
    for (size_t s0 = 0; s0 < n && !rc; s0 += B) {
        const size_t nb = n - s0 < B ? n - s0 : B;
        const double t0 = cpu_s();
        rc = xb_exec_forward(ex, test->images + s0 * in, nb, ia, err);
        *t += cpu_s() - t0;
        if (!rc) *ok += (size_t)llround(xb_exec_top1(ia[nl - 1], nb, nc, test->labels + s0) * (double)nb);
    }
    return rc;
}

/* The float network and the model engine, their passes interleaved (float, model, float, ...)
 * so that both see the same load on a shared machine; the fastest pass of each. */
static int part_speed(const char *cnn_path, const char *model_path, size_t n, size_t reps, const xb_dataset *cal,
                      const xb_dataset *test, xb_error *err)
{
    xb_network *net = NULL;
    int rc = xb_network_read(cnn_path, &net, err);
    if (rc) return rc;
    const size_t nl = xb_network_n_layers(net);
    const size_t B = 500;
    float **ia = xb_network_acts_new(net, B);
    xb_exec_config cfg;
    xb_exec_config_default(&cfg, XB_DEVICE_RRAM);
    xb_array_params tp = cfg.array;
    tp.rows = tp.cols = 64;
    tp.diff_pairs = 1;
    xb_engine *eng = NULL;
    xb_exec *ex = NULL;
    double t_ideal = INFINITY, t_model = INFINITY, setup = 0;
    size_t ok_i = 0, ok_m = 0;
    if (!rc) rc = model_engine(model_path, &tp, 0, &eng, err);
    if (!rc) {
        const double ts = xb_now_s();
        rc = xb_exec_new(net, &cfg, eng, &ex, err);
        if (!rc) rc = xb_exec_calibrate(ex, cal->images, cal->n, err);
        setup = xb_now_s() - ts;
    }
    for (size_t rep = 0; rep < reps && !rc; rep++) {
        double t;
        if (!(rc = float_pass(net, test, n, B, ia, &t, &ok_i, err))) t_ideal = fmin(t_ideal, t);
        if (!rc && !(rc = model_pass(ex, net, test, n, B, ia, &t, &ok_m, err))) t_model = fmin(t_model, t);
    }
    if (!rc) {
        printf("\nspeed, %zu images, %s, rram 64x64 tiles, DAC/ADC 8 bit, one BLAS thread (CPU time of the forward "
               "passes, fastest of %zu, float and model passes interleaved)\n",
               n, cnn_path, reps);
        printf("  %-22s %10s %10s %10s %10s\n", "engine", "cpu s", "x float", "accuracy", "setup s");
        printf("  %-22s %10.3f %10.2f %9.2f%%\n", "float (im2col, sgemm)", t_ideal, 1.0, 100.0 * ok_i / n);
        printf("  %-22s %10.3f %10.2f %9.2f%% %10.2f\n", "model (fast form)", t_model, t_model / t_ideal,
               100.0 * ok_m / n, setup);
        printf("  target model <= 4x float: %s (%.2fx)\n", t_model <= 4 * t_ideal ? "met" : "NOT met",
               t_model / t_ideal);
    }
    xb_network_acts_free(ia, nl);
    xb_exec_free(ex);
    xb_engine_free(eng);
    xb_network_free(net);
    return rc;
}

int main(int argc, char **argv)
{
    const char *net_path = XB_SOURCE_DIR "/data/fmnist_mlp.h5", *cnn_path = XB_SOURCE_DIR "/data/fmnist_cnn.h5";
    const char *model_path = NULL, *native_cache = NULL;
    size_t n_acc = 1000, n_speed = 10000, tile = 64, reps = 3;
    int native_on = 1, speed_on = 1, adc_bits = -1;
    xb_device_kind dev = XB_DEVICE_RRAM;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--network") && i + 1 < argc) net_path = argv[++i];
        else if (!strcmp(argv[i], "--cnn") && i + 1 < argc) cnn_path = argv[++i];
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) model_path = argv[++i];
        else if (!strcmp(argv[i], "--native-cache") && i + 1 < argc) native_cache = argv[++i];
        else if (!strcmp(argv[i], "--images") && i + 1 < argc) n_acc = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--speed-images") && i + 1 < argc) n_speed = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--tile") && i + 1 < argc) tile = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--device") && i + 1 < argc) {
            const char *d = argv[++i];
            if (xb_device_from_name(d, &dev)) {
                fprintf(stderr, "bench_fast: --device: not a device: %s\n", d);
                return 2;
            }
        } else if (!strcmp(argv[i], "--no-native")) native_on = 0;
        else if (!strcmp(argv[i], "--adc-bits") && i + 1 < argc) adc_bits = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-speed")) speed_on = 0;
        else {
            fprintf(stderr, "usage: bench_fast --model FILE [--images N] [--speed-images M] [--tile T] [--device D] "
                            "[--network NET.h5] [--cnn NET.h5] [--no-native] [--native-cache F] [--adc-bits B] [--reps R] [--no-speed]\n");
            return 2;
        }
    }
    if (!model_path) {
        fprintf(stderr, "bench_fast: --model FILE is required (a model file with 64x64 models, e.g. xbar demo's)\n");
        return 2;
    }
    openblas_set_num_threads(1);
    if (reps < 1) reps = 1;
    xb_error err;
    xb_dataset *test = NULL, *cal = NULL;
    const size_t n_test = n_acc > n_speed ? n_acc : n_speed;
    if (xb_dataset_load_fmnist(NULL, 0, n_test, &test, &err)) return die(&err);
    if (xb_dataset_load_fmnist(NULL, 1, 256, &cal, &err)) return die(&err);
    if (n_acc > test->n) n_acc = test->n;
    if (n_speed > test->n) n_speed = test->n;
    double ratio = 0;
    if (n_acc && part_accuracy(net_path, model_path, dev, tile, n_acc, native_on, native_cache, adc_bits, cal, test, &ratio, &err))
        return die(&err);
    if (speed_on && n_speed && part_speed(cnn_path, model_path, n_speed, reps, cal, test, &err)) return die(&err);
    xb_dataset_free(test);
    xb_dataset_free(cal);
    return 0;
}
