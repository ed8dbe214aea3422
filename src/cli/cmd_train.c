/* xbar train: train an MLP or a small CNN on Fashion-MNIST in C and write the network file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "xbar/exec.h"

static const char k_help[] =
    "usage: xbar train --out NET.h5 [options]\n"
    "\n"
    "Train an MLP (input -> hidden ReLU layers -> 10-way softmax) or a small CNN on\n"
    "Fashion-MNIST with Adam or SGD, deterministic for a given seed and thread count, and write it\n"
    "as an xbar network file (docs/hdf5-network.md).  Prints one line per epoch: loss, test\n"
    "accuracy.\n"
    "\n"
    "options:\n"
    "  --out FILE             network file to write (required)\n"
    "  --force                overwrite an existing FILE\n"
    "  --dataset DIR          IDX .gz files (train-*, t10k-*)  [" XB_FMNIST_DEFAULT_DIR "]\n"
    "  --arch mlp|cnn         mlp: dense layers (--hidden); cnn: conv 3x3 pad 1 (1->C1),\n"
    "                         relu, maxpool 2, conv 3x3 pad 1 (C1->C2), relu, maxpool 2,\n"
    "                         flatten, dense -> 10, softmax   [mlp]\n"
    "  --hidden N,N,...       mlp: hidden layer widths (up to 4) [256,128]\n"
    "  --channels C1,C2       cnn: conv output channels       [8,16]\n"
    "  --epochs N             [15]\n"
    "  --batch N              minibatch size                   [128]\n"
    "  --lr X                 step size                        [0.001]\n"
    "  --lr-decay X           step size factor per epoch       [0.85]\n"
    "  --optimizer O          adam, or sgd (w -= lr g: the digital counterpart of\n"
    "                         --analog --algorithm sgd)        [adam]\n"
    "  --lr-schedule S        step (x --lr-decay per epoch) or cosine (per minibatch, to 0\n"
    "                         at the end of the run)           [step]\n"
    "  --seed N               initialisation and shuffling     [1]\n"
    "  --weight-noise S       hardware-aware training: Gaussian weight noise, sigma = S x\n"
    "                         max|w| of the layer, resampled per minibatch   [0 = off]\n"
    "  --hw-model FILE        hardware-aware training with a fitted model (xbar fit): weights\n"
    "                         mapped to differential pairs as in xbar run, the fitted\n"
    "                         programming error sigma(G) sampled per minibatch, plus the\n"
    "                         model's output residual (64x64 tile)  [off]\n"
    "  --device D             the device of --hw-model (one with a dynamic model) [rram]\n"
    "  --limit N              use the first N training images  [all]\n"
    "  --test-limit N         evaluate on the first N test images [all]\n"
    "  --threads N            OpenBLAS threads; --analog: the threads of the pulse\n"
    "                         trains, refreshes, syncs and refits (the same result for\n"
    "                         any N)                           [library default]\n"
    XB_CLI_MAX_MEMORY_HELP
    "  --quiet                no per-epoch lines\n"
    "\n"
    "in-memory training (docs/training.md): the MLP's weights as differential conductance\n"
    "pairs, forward and transposed backward products on tiles through the fitted model\n"
    "engine, updates as programming pulses through the fitted pulse-update model:\n"
    "  --analog               train in memory (MLP; plain SGD step --lr [0.1; mp 0.4],\n"
    "                         --lr-decay [0.9])\n"
    "  --model FILE           model file of xbar fit (the reads; required)\n"
    "  --update-model FILE    file with /update/<device> (characterize/write.ini + xbar fit)\n"
    "                         [--model]\n"
    "  --device D             rram, ecram or pcm (required)\n"
    "  --algorithm A          sgd (stochastic pulse trains), tiki-taka (arrays A and C),\n"
    "                         mp (mixed precision: digital accumulator)   [sgd]\n"
    "  --ablate LIST          switch update non-idealities off: asymmetry,state,c2c,d2d\n"
    "  --pair-update both|up  both: G+ and G- stepped in opposite directions per\n"
    "                         coincidence; up: one up pulse on G+ or G-   [up]\n"
    "  --bl N                 longest pulse train (slots)                   [31]\n"
    "  --deterministic        expected-count pulses instead of stochastic trains\n"
    "  --ideal-reads          exact float reads of the conductances (no tiles, no DAC/ADC:\n"
    "                         isolates the update's non-idealities)\n"
    "  --lr-schedule S        step (x --lr-decay per epoch) or cosine (per minibatch, to 0\n"
    "                         at the end of the run)       [sgd: cosine; step]\n"
    "  --mp-threshold T       mp: a pulse fires against the nominal step at the window\n"
    "                         centre, or the pair's expected step at its state [centre]\n"
    "  --mp-round R           mp: trunc (while |chi| >= step), nearest (>= step/2),\n"
    "                         stochastic (the last fraction with its probability) [trunc]\n"
    "  --w-range X            weight of a full pair difference, x the He limit [2; mp 3]\n"
    "  --refresh-margin X     refresh pairs this close to a bound (x window) [0.05]\n"
    "  --refit-every N        minibatches between fast-form refits   [0: per epoch]\n"
    "  --tt-gamma X           tiki-taka: W = gamma A + C                    [0.1]\n"
    "  --tt-lr X              tiki-taka: transfer rate                      [0.5]\n"
    "  --tt-hidden            tiki-taka: transfers into a digital H, C pulsed from it as\n"
    "                         mp pulses from its accumulator (TTv2)\n"
    "  --tt-reset             tiki-taka: A's transferred column programmed back to 0\n"
    "  --tt-every N           tiki-taka: minibatches between transfers      [1]\n"
    "  --tt-columns N         tiki-taka: columns per transfer       [inputs/8]\n"
    "  --tile-rows N          tile rows                                     [64]\n"
    "  --tile-cols N          tile columns (pairs: N/2 outputs)             [64]\n"
    "  --dac-bits N           [8]\n"
    "  --adc-bits N           [8]\n"
    "  --baseline             also train the digital MLP (Adam) with the same seed and epochs\n"
    "  --json FILE            per-epoch results as JSON\n"
    "  --plot FILE.png        accuracy vs epoch (gnuplot; FILE.png.csv always)\n";

typedef struct {
    int quiet;
} progress_ctx;

static void progress(void *user, size_t epoch, double loss, double acc)
{
    const progress_ctx *p = user;
    if (p->quiet) return;
    if (acc >= 0) printf("epoch %zu: loss %.4f  test accuracy %.2f%%\n", epoch + 1, loss, 100.0 * acc);
    else printf("epoch %zu: loss %.4f\n", epoch + 1, loss);
    fflush(stdout);
}

static int parse_hidden(const char *s, xb_train_opts *o, xb_error *err)
{
    o->n_hidden = 0;
    if (strcmp(s, "") == 0 || strcmp(s, "none") == 0) return XB_OK;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (o->n_hidden == 4) return xb_errorf(err, XB_EINPUT, "--hidden: at most 4 layers");
        size_t n;
        if (xb_parse_size(tok, "--hidden", &n, err)) return XB_EINPUT;
        if (n == 0) return xb_errorf(err, XB_EINPUT, "--hidden: widths must be >= 1");
        o->hidden[o->n_hidden++] = n;
    }
    return XB_OK;
}

int xb_cmd_train(int argc, char **argv)
{
    if (xb_cli_wants_help(argc, argv)) {
        fputs(k_help, stdout);
        char list[256];
        xb_device_list(list, sizeof list, 1);
        printf("devices with a dynamic model (--device): %s\n", list);
        return 0;
    }
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--analog")) return xb_cli_train_analog(argc, argv);
    xb_train_opts o;
    xb_train_opts_default(&o);
    const char *out_path = NULL, *dir = NULL;
    size_t limit = 0, test_limit = 0;
    progress_ctx pc = {0};
    int cnn = 0, device_set = 0, force = 0;
    xb_error err;
    xb_error_clear(&err);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        size_t n;
        double d;
#define VAL(flag) (v = xb_cli_flag_value(argc, argv, &i, flag, &err))
        if (xb_cli_is_flag(a, "--out")) {
            if (!VAL("--out")) return xb_cli_usage_error("train", "%s", err.msg);
            out_path = v;
        } else if (xb_cli_is_flag(a, "--dataset")) {
            if (!VAL("--dataset")) return xb_cli_usage_error("train", "%s", err.msg);
            dir = v;
        } else if (xb_cli_is_flag(a, "--hidden")) {
            if (!VAL("--hidden") || parse_hidden(v, &o, &err)) return xb_cli_usage_error("train", "%s", err.msg);
        } else if (xb_cli_is_flag(a, "--epochs") || xb_cli_is_flag(a, "--batch") || xb_cli_is_flag(a, "--seed") ||
                   xb_cli_is_flag(a, "--limit") || xb_cli_is_flag(a, "--test-limit") ||
                   xb_cli_is_flag(a, "--threads")) {
            char flag[32];
            size_t fl = strcspn(a, "=");
            snprintf(flag, sizeof flag, "%.*s", (int)(fl < 31 ? fl : 31), a);
            if (!VAL(flag) || xb_parse_size(v, flag, &n, &err)) return xb_cli_usage_error("train", "%s", err.msg);
            if (!strcmp(flag, "--epochs")) o.epochs = n;
            else if (!strcmp(flag, "--batch")) o.batch = n;
            else if (!strcmp(flag, "--seed")) o.seed = n;
            else if (!strcmp(flag, "--limit")) limit = n;
            else if (!strcmp(flag, "--test-limit")) test_limit = n;
            else o.threads = n;
            if ((!strcmp(flag, "--epochs") || !strcmp(flag, "--batch")) && n == 0)
                return xb_cli_usage_error("train", "%s: must be >= 1", flag);
        } else if (xb_cli_is_flag(a, "--lr") || xb_cli_is_flag(a, "--lr-decay") ||
                   xb_cli_is_flag(a, "--weight-noise")) {
            char flag[32];
            size_t fl = strcspn(a, "=");
            snprintf(flag, sizeof flag, "%.*s", (int)(fl < 31 ? fl : 31), a);
            if (!VAL(flag) || xb_parse_double(v, flag, &d, &err)) return xb_cli_usage_error("train", "%s", err.msg);
            if (!strcmp(flag, "--lr")) {
                if (!(d > 0)) return xb_cli_usage_error("train", "--lr: must be > 0");
                o.lr = d;
            } else if (!strcmp(flag, "--lr-decay")) {
                if (!(d > 0 && d <= 1)) return xb_cli_usage_error("train", "--lr-decay: must be in (0, 1]");
                o.lr_decay = d;
            } else {
                if (!(d >= 0)) return xb_cli_usage_error("train", "--weight-noise: must be >= 0");
                o.weight_noise = d;
            }
        } else if (xb_cli_is_flag(a, "--optimizer")) {
            if (!VAL("--optimizer")) return xb_cli_usage_error("train", "%s", err.msg);
            if (!strcmp(v, "adam")) o.optimizer = XB_TRAIN_ADAM;
            else if (!strcmp(v, "sgd")) o.optimizer = XB_TRAIN_SGD;
            else return xb_cli_usage_error("train", "--optimizer: '%s' is not adam or sgd", v);
        } else if (xb_cli_is_flag(a, "--lr-schedule")) {
            if (!VAL("--lr-schedule")) return xb_cli_usage_error("train", "%s", err.msg);
            if (!strcmp(v, "cosine")) o.lr_cosine = 1;
            else if (!strcmp(v, "step")) o.lr_cosine = 0;
            else return xb_cli_usage_error("train", "--lr-schedule: '%s' is not step or cosine", v);
        } else if (xb_cli_is_flag(a, "--arch")) {
            if (!VAL("--arch")) return xb_cli_usage_error("train", "%s", err.msg);
            if (!strcmp(v, "cnn")) cnn = 1;
            else if (!strcmp(v, "mlp")) cnn = 0;
            else return xb_cli_usage_error("train", "--arch: '%s' is not mlp or cnn", v);
        } else if (xb_cli_is_flag(a, "--channels")) {
            if (!VAL("--channels")) return xb_cli_usage_error("train", "%s", err.msg);
            size_t c1, c2;
            char buf[64];
            snprintf(buf, sizeof buf, "%s", v);
            char *comma = strchr(buf, ',');
            if (!comma) return xb_cli_usage_error("train", "--channels: expected C1,C2, got '%s'", v);
            *comma = 0;
            if (xb_parse_size(buf, "--channels", &c1, &err) || xb_parse_size(comma + 1, "--channels", &c2, &err))
                return xb_cli_usage_error("train", "%s", err.msg);
            if (c1 == 0 || c2 == 0) return xb_cli_usage_error("train", "--channels: must be >= 1");
            o.cnn_channels[0] = c1;
            o.cnn_channels[1] = c2;
        } else if (xb_cli_is_flag(a, "--hw-model")) {
            if (!VAL("--hw-model")) return xb_cli_usage_error("train", "%s", err.msg);
            o.hw_model = v;
        } else if (xb_cli_is_flag(a, "--device")) {
            if (!VAL("--device")) return xb_cli_usage_error("train", "%s", err.msg);
            /* the physical devices (with a dynamic model) have fitted models to train against */
            if (xb_device_from_name(v, &o.hw_device) || !xb_device_info_get(o.hw_device)->dyn_subckt) {
                char list[256];
                xb_device_list(list, sizeof list, 1);
                return xb_cli_usage_error("train", "--device: '%s' is not one of %s", v, list);
            }
            device_set = 1;
        } else if (xb_cli_is_flag(a, "--max-memory")) {
            if (!VAL("--max-memory") || xb_cli_max_memory(v, &err)) return xb_cli_fail("train", &err);
        } else if (!strcmp(a, "--quiet")) {
            pc.quiet = 1;
        } else if (!strcmp(a, "--force")) {
            force = 1;
        } else {
            return xb_cli_usage_error("train", "unknown option '%s'", a);
        }
#undef VAL
    }
    if (!out_path) return xb_cli_usage_error("train", "--out: required");
    if (device_set && !o.hw_model) return xb_cli_usage_error("train", "--device: only with --hw-model");
    if (o.hw_model && o.weight_noise > 0)
        return xb_cli_usage_error("train", "--weight-noise and --hw-model exclude each other");
    if (o.hw_model) {
        /* check the model file before loading the data set: a bad file fails at once */
        xb_train_hwa h;
        if (xb_train_hwa_load(o.hw_model, o.hw_device, &h, &err)) {
            xb_error_prefix(&err, "--hw-model: ");
            return xb_cli_fail("train", &err);
        }
        if (!pc.quiet)
            printf("hardware-aware training: %s %s, sigma_program(G) over [%.3g, %.3g] S, output residual %.3g "
                   "(%zux%zu tile%s)\n", o.hw_model, xb_device_name(h.device), h.valid_g_siemens[0],
                   h.valid_g_siemens[1], h.resid_sigma_rel, h.resid_rows, h.resid_cols,
                   h.resid_from_family ? ", predicted from the size family" : "");
    }

    /* refuse a network that cannot fit before loading anything (docs/cli.md "Memory limit");
     * Fashion-MNIST: 60000 training and 10000 test images of 28x28, 10 classes */
    {
        const size_t n_train = limit && limit < 60000 ? limit : 60000;
        const size_t n_test = test_limit && test_limit < 10000 ? test_limit : 10000;
        char what[96];
        snprintf(what, sizeof what, "training this %s (%s, --batch %zu)", cnn ? "CNN" : "MLP",
                 cnn ? "--channels" : "--hidden", o.batch);
        if (xb_memory_check(xb_cli_train_memory_estimate(&o, cnn, 28, 10, n_train, n_test), what, &err))
            return xb_cli_fail("train", &err);
    }
    xb_dataset *train = NULL, *test = NULL;
    xb_network *net = NULL;
    int rc = xb_dataset_load_fmnist(dir, 1, limit, &train, &err);
    if (!rc) rc = xb_dataset_load_fmnist(dir, 0, test_limit, &test, &err);
    /* inputs checked: --out refused if it exists (without --force), locked until written */
    xb_lock *lock = NULL;
    if (!rc && (rc = xb_cli_claim_output("train", out_path, force, &lock))) {
        xb_dataset_free(train);
        xb_dataset_free(test);
        return rc;
    }
    double t0 = xb_now_s();
    if (!rc) rc = cnn ? xb_train_cnn(train, test, 10, &o, progress, &pc, &net, &err)
                      : xb_train_mlp(train, test, 10, &o, progress, &pc, &net, &err);
    double t1 = xb_now_s();
    if (!rc) rc = xb_network_write(net, out_path, &err);
    if (!rc) {
        size_t nl = xb_network_n_layers(net);
        float **acts = xb_network_acts_new(net, test->n);
        if (!acts) rc = xb_errorf(&err, XB_ERUNTIME, "out of memory");
        if (!rc) rc = xb_network_forward(net, test->images, test->n, acts, &err);
        if (!rc && cnn)
            printf("trained CNN conv%zu-conv%zu-dense10", o.cnn_channels[0], o.cnn_channels[1]);
        if (!rc && !cnn)
            printf("trained %zu-", xb_network_input_size(net));
        for (size_t k = 0; !rc && !cnn && k < o.n_hidden; k++) printf("%zu-", o.hidden[k]);
        if (!rc)
            printf("%s on %zu images in %.1f s: test accuracy %.2f%% (%zu images); wrote %s\n", cnn ? "" : "10 MLP", train->n, t1 - t0,
                   100.0 * xb_exec_top1(acts[nl - 1], test->n, 10, test->labels), test->n, out_path);
        xb_network_acts_free(acts, nl);
    }
    xb_network_free(net);
    xb_dataset_free(train);
    xb_dataset_free(test);
    xb_lock_release(lock);
    if (rc) return xb_cli_fail("train", &err);
    return 0;
}
