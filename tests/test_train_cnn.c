/* CNN training and hardware-aware training noise (src/exec/train_net.c, train_hwa.c).
 *  - conv2d (padding), maxpool, relu, flatten and dense backward: every weight and bias
 *    gradient against a central finite difference of the loss (double-checked reference
 *    independent of the backward code);
 *  - the trainer's forward pass equals xb_network_forward of the exported network (1e-5);
 *  - the fitted-model noise sampler: mean and variance of w' - w against the closed form
 *    (sigma(G+)^2 + sigma(G-)^2) (w_max/dg)^2 of the differential-pair mapping; the output
 *    residual's spread; model-file selection of resid_sigma_rel;
 *  - a short CNN run on 2000 Fashion-MNIST images clears a modest accuracy bound, with
 *    and without --hw-model, deterministic for a seed; the MLP with --hw-model;
 *  - `xbar train --arch cnn` and bad --hw-model input as one-line CLI errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/train_internal.h"
#include "support/xb_test.h"
#include "xbar/exec.h"
#include "xbar/fit.h"

static double lcg_uniform(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) * 0x1.0p-53;
}

static void fill(float *w, size_t n, double scale, uint64_t *s)
{
    for (size_t i = 0; i < n; i++) w[i] = (float)((2.0 * lcg_uniform(s) - 1.0) * scale);
}

/* input 2x6x6: conv 2->3 3x3 pad 1, relu, maxpool 2, conv 3->4 2x2 pad 0, relu, flatten,
 * dense 16->5, relu, dense 5->3, softmax */
static xb_network *tiny_net(uint64_t *s)
{
    xb_network *net = NULL;
    xb_error err;
    size_t shape[3] = {2, 6, 6};
    float w1[3 * 2 * 9], b1[3], w2[4 * 3 * 4], b2[4], w3[5 * 16], b3[5], w4[3 * 5], b4[3];
    fill(w1, 54, 0.6, s); fill(b1, 3, 0.2, s);
    fill(w2, 48, 0.6, s); fill(b2, 4, 0.2, s);
    fill(w3, 80, 0.5, s); fill(b3, 5, 0.2, s);
    fill(w4, 15, 0.8, s); fill(b4, 3, 0.2, s);
    assert_int_equal(xb_network_new(shape, 3, &net, &err), XB_OK);
    assert_int_equal(xb_network_add_conv2d(net, 3, 2, 3, 3, 1, 1, w1, b1, &err), XB_OK);
    assert_int_equal(xb_network_add(net, XB_LAYER_RELU, &err), XB_OK);
    assert_int_equal(xb_network_add_pool(net, XB_LAYER_MAXPOOL2D, 2, 2, &err), XB_OK);
    assert_int_equal(xb_network_add_conv2d(net, 4, 3, 2, 2, 1, 0, w2, b2, &err), XB_OK);
    assert_int_equal(xb_network_add(net, XB_LAYER_RELU, &err), XB_OK);
    assert_int_equal(xb_network_add(net, XB_LAYER_FLATTEN, &err), XB_OK);
    assert_int_equal(xb_network_add_dense(net, 5, 16, w3, b3, &err), XB_OK);
    assert_int_equal(xb_network_add(net, XB_LAYER_RELU, &err), XB_OK);
    assert_int_equal(xb_network_add_dense(net, 3, 5, w4, b4, &err), XB_OK);
    assert_int_equal(xb_network_add(net, XB_LAYER_SOFTMAX, &err), XB_OK);
    return net;
}

/* mean cross-entropy in double from the exported network's forward pass (the reference
 * forward of xb_network_forward, not the trainer's) */
static double ref_loss(xb_tnet *t, const float *x, const unsigned char *lab, size_t n)
{
    xb_network *net = NULL;
    xb_error err;
    assert_int_equal(xb_tnet_export(t, &net, &err), XB_OK);
    size_t nl = xb_network_n_layers(net);
    float **a = xb_network_acts_new(net, n);
    assert_int_equal(xb_network_forward(net, x, n, a, &err), XB_OK);
    /* cross-entropy from the logits (the layer before softmax) in double */
    const float *z = a[nl - 2];
    size_t nc = xb_network_output_size(net);
    double loss = 0;
    for (size_t s = 0; s < n; s++) {
        double mx = z[s * nc], sum = 0;
        for (size_t c = 1; c < nc; c++) mx = fmax(mx, z[s * nc + c]);
        for (size_t c = 0; c < nc; c++) sum += exp((double)z[s * nc + c] - mx);
        loss -= (double)z[s * nc + lab[s]] - mx - log(sum);
    }
    xb_network_acts_free(a, nl);
    xb_network_free(net);
    return loss / (double)n;
}

static void test_backward_vs_finite_differences(void **state)
{
    uint64_t s = 7;
    xb_network *net = tiny_net(&s);
    const size_t n = 4, in = 72;
    float x[4 * 72];
    unsigned char lab[4] = {0, 2, 1, 2};
    fill(x, n * in, 1.0, &s);
    xb_tnet *t = NULL;
    xb_error err;
    assert_int_equal(xb_tnet_new(net, n, &t, &err), XB_OK);
    double l_sum = xb_tnet_loss_grad(t, x, lab, n, NULL);
    xb_assert_near(l_sum / n, ref_loss(t, x, lab, n), 0, 1e-5);
    const float eps = 2e-3f;
    size_t checked = 0, bad = 0;
    double worst = 0;
    for (size_t k = 0; k < xb_tnet_n_layers(t); k++) {
        float *w, *gw, *b, *gb;
        size_t nw, nb;
        xb_tnet_params(t, k, &w, &gw, &nw, &b, &gb, &nb);
        for (int pass = 0; pass < 2; pass++) {
            float *p = pass ? b : w, *g = pass ? gb : gw;
            size_t np = pass ? nb : nw;
            for (size_t i = 0; i < np; i++) {
                float keep = p[i];
                p[i] = keep + eps;
                double lp = ref_loss(t, x, lab, n);
                p[i] = keep - eps;
                double lm = ref_loss(t, x, lab, n);
                p[i] = keep;
                double fd = (lp - lm) / (2.0 * (double)eps), e = fabs(fd - (double)g[i]);
                /* float32 forward: ~1e-7 loss resolution / eps, plus the O(eps^2) term */
                double tol = 3e-4 + 2e-2 * fabs(fd);
                if (e > tol) {
                    bad++;
                    print_message("layer %zu %s[%zu]: backward %.6g, finite difference %.6g\n", k,
                                  pass ? "bias" : "weight", i, g[i], fd);
                }
                worst = fmax(worst, e / (1e-3 + fabs(fd)));
                checked++;
            }
        }
    }
    print_message("finite differences: %zu parameters, worst |err|/(1e-3+|fd|) = %.3g\n", checked, worst);
    assert_int_equal(checked, 54 + 3 + 48 + 4 + 80 + 5 + 15 + 3);
    assert_int_equal(bad, 0);
    xb_tnet_free(t);
    xb_network_free(net);
}

/* the trainer's forward pass vs xb_network_forward of the exported network, after
 * a few Adam steps of training on Fashion-MNIST (CNN of xb_train_cnn's shape) */
static void test_trainer_forward_equals_network(void **state)
{
    xb_dataset *tr = NULL;
    xb_error err;
    assert_int_equal(xb_dataset_load_fmnist(NULL, 1, 300, &tr, &err), XB_OK);
    uint64_t s = 11;
    size_t shape[3] = {1, 28, 28};
    float w1[8 * 9], w2[16 * 72], w3[10 * 784];
    fill(w1, 72, sqrt(6.0 / 9), &s);
    fill(w2, 16 * 72, sqrt(6.0 / 72), &s);
    fill(w3, 7840, sqrt(6.0 / 784), &s);
    xb_network *net = NULL;
    assert_int_equal(xb_network_new(shape, 3, &net, &err), XB_OK);
    assert_int_equal(xb_network_add_conv2d(net, 8, 1, 3, 3, 1, 1, w1, NULL, &err), XB_OK);
    assert_int_equal(xb_network_add(net, XB_LAYER_RELU, &err), XB_OK);
    assert_int_equal(xb_network_add_pool(net, XB_LAYER_MAXPOOL2D, 2, 2, &err), XB_OK);
    assert_int_equal(xb_network_add_conv2d(net, 16, 8, 3, 3, 1, 1, w2, NULL, &err), XB_OK);
    assert_int_equal(xb_network_add(net, XB_LAYER_RELU, &err), XB_OK);
    assert_int_equal(xb_network_add_pool(net, XB_LAYER_MAXPOOL2D, 2, 2, &err), XB_OK);
    assert_int_equal(xb_network_add(net, XB_LAYER_FLATTEN, &err), XB_OK);
    assert_int_equal(xb_network_add_dense(net, 10, 784, w3, NULL, &err), XB_OK);
    assert_int_equal(xb_network_add(net, XB_LAYER_SOFTMAX, &err), XB_OK);
    xb_tnet *t = NULL;
    assert_int_equal(xb_tnet_new(net, 100, &t, &err), XB_OK);
    xb_train_optimizer opt;
    assert_int_equal(xb_train_adam_new(t, NULL, &opt, &err), XB_OK);
    for (size_t s0 = 0; s0 < 300; s0 += 50) {
        xb_tnet_loss_grad(t, tr->images + s0 * 784, tr->labels + s0, 50, NULL);
        assert_int_equal(xb_tnet_update(t, &opt, 2e-3, &err), XB_OK);
    }
    xb_train_optimizer_free(&opt);
    float *p = malloc(300 * 10 * sizeof(float));
    assert_int_equal(xb_tnet_predict(t, tr->images, 300, p, &err), XB_OK);
    xb_network *ex = NULL;
    assert_int_equal(xb_tnet_export(t, &ex, &err), XB_OK);
    assert_int_equal(xb_network_n_layers(ex), 9);
    size_t nl = 9;
    float **a = xb_network_acts_new(ex, 300);
    assert_int_equal(xb_network_forward(ex, tr->images, 300, a, &err), XB_OK);
    double worst = 0;
    for (size_t i = 0; i < 3000; i++) worst = fmax(worst, fabs((double)p[i] - a[8][i]));
    print_message("trainer forward vs xb_network_forward: max |dp| = %.3g\n", worst);
    xb_assert_below(worst, 1e-5 + 1e-12);
    xb_network_acts_free(a, nl);
    free(p);
    xb_network_free(ex);
    xb_tnet_free(t);
    xb_network_free(net);
    xb_dataset_free(tr);
}

/* Plain SGD (the digital counterpart of in-memory SGD): one update is w - lr g and b - lr g_b,
 * exactly, for every layer with weights; the optimizer keeps no state. */
static void test_sgd_step_closed_form(void **state)
{
    (void)state;
    xb_dataset *tr = NULL;
    xb_error err;
    assert_int_equal(xb_dataset_load_fmnist(NULL, 1, 64, &tr, &err), XB_OK);
    uint64_t s = 5;
    size_t shape[1] = {784};
    float w1[32 * 784], w2[10 * 32], b1[32];
    fill(w1, 32 * 784, sqrt(6.0 / 784), &s);
    fill(w2, 320, sqrt(6.0 / 32), &s);
    fill(b1, 32, 0.1, &s);
    xb_network *net = NULL;
    assert_int_equal(xb_network_new(shape, 1, &net, &err), XB_OK);
    assert_int_equal(xb_network_add_dense(net, 32, 784, w1, b1, &err), XB_OK);
    assert_int_equal(xb_network_add(net, XB_LAYER_RELU, &err), XB_OK);
    assert_int_equal(xb_network_add_dense(net, 10, 32, w2, NULL, &err), XB_OK);
    assert_int_equal(xb_network_add(net, XB_LAYER_SOFTMAX, &err), XB_OK);
    xb_tnet *t = NULL;
    assert_int_equal(xb_tnet_new(net, 64, &t, &err), XB_OK);
    xb_train_optimizer opt;
    assert_int_equal(xb_train_sgd_new(&opt, &err), XB_OK);
    const double lr = 0.37;
    for (int step = 0; step < 3; step++) {
        xb_tnet_loss_grad(t, tr->images + 16 * step * 784, tr->labels + 16 * step, 16, NULL);
        float *before[2], *expect[2];
        size_t nws[2], nbs[2], n_checked = 0;
        for (size_t k = 0, q = 0; k < xb_tnet_n_layers(t); k++) {
            float *w, *gw, *b, *gb;
            size_t nw, nb;
            xb_tnet_params(t, k, &w, &gw, &nw, &b, &gb, &nb);
            if (!w) continue;
            assert_true(q < 2);
            nws[q] = nw;
            nbs[q] = nb;
            before[q] = malloc((nw + nb) * sizeof(float));
            expect[q] = malloc((nw + nb) * sizeof(float));
            double gsum = 0;
            for (size_t i = 0; i < nw; i++) {
                before[q][i] = w[i];
                expect[q][i] = w[i] - (float)lr * gw[i];
                gsum += fabs(gw[i]);
            }
            for (size_t i = 0; i < nb; i++) expect[q][nw + i] = b[i] - (float)lr * gb[i];
            assert_true(gsum > 0); /* a real gradient, not a no-op */
            q++;
        }
        assert_int_equal(xb_tnet_update(t, &opt, lr, &err), XB_OK);
        for (size_t k = 0, q = 0; k < xb_tnet_n_layers(t); k++) {
            float *w, *gw, *b, *gb;
            size_t nw, nb;
            xb_tnet_params(t, k, &w, &gw, &nw, &b, &gb, &nb);
            if (!w) continue;
            assert_int_equal(nw, nws[q]);
            assert_int_equal(nb, nbs[q]);
            for (size_t i = 0; i < nw; i++) assert_true(w[i] == expect[q][i]);
            for (size_t i = 0; i < nb; i++) assert_true(b[i] == expect[q][nw + i]);
            n_checked += nw + nb;
            free(before[q]);
            free(expect[q]);
            q++;
        }
        assert_int_equal(n_checked, 32 * 784 + 32 + 320 + 10);
    }
    xb_train_optimizer_free(&opt);
    xb_tnet_free(t);
    xb_network_free(net);
    xb_dataset_free(tr);
}

/* A model file with one rram model of size n x n (resid_sigma_rel = resid) and, when
 * coef != NULL, sigma_program/rram with those coefficients. */
static char *write_model(const char *dir, const char *name, size_t n, double resid, const double *coef, size_t nc)
{
    char *path = xb_test_write_file(dir, name, "");
    remove(path);
    xb_array_params tp;
    xb_array_params_default(&tp, XB_DEVICE_RRAM);
    tp.rows = tp.cols = n;
    xb_fit_params fm;
    xb_fit_params_nominal(&fm, &tp);
    fm.resid_sigma_rel = resid;
    xb_fit_provenance prov = {"none", "test", "", "ngspice-39", "0"};
    hid_t f, g;
    xb_error err;
    assert_int_equal(xb_fit_file_create(path, 1, &prov, &f, &err), XB_OK);
    assert_int_equal(xb_fit_file_add_model(f, 0, &fm, NULL, NULL, &err), XB_OK);
    if (coef) {
        assert_int_equal(xb_h5_group_create(f, "stats/sigma_program/rram", &g, &err), XB_OK);
        hsize_t d = nc, d2 = 2;
        double vr[2] = {tp.g_min_siemens, tp.g_max_siemens};
        assert_int_equal(xb_h5_write_doubles(g, "coef", 1, &d, coef, "S^(1-k)", &err), XB_OK);
        assert_int_equal(xb_h5_write_doubles(g, "valid_g_siemens", 1, &d2, vr, "S", &err), XB_OK);
        H5Gclose(g);
    }
    assert_int_equal(xb_h5_close(f, &err), XB_OK);
    return path;
}

static void test_hwa_sampler_variance(void **state)
{
    const char *dir = *state;
    /* sigma(G) = 5e-8 + 0.03 G - 2e2 G^2 (siemens): positive, well above zero at g_min, so
     * clipping at 0 S is > 10 sigma away and the closed form holds */
    const double coef[3] = {5e-8, 0.03, -2e2};
    char *path = write_model(dir, "m16.h5", 16, 0.02, coef, 3);
    xb_train_hwa h;
    xb_error err;
    assert_int_equal(xb_train_hwa_load(path, XB_DEVICE_RRAM, &h, &err), XB_OK);
    /* no 64x64 model and no family: the nearest size, 16x16 */
    assert_int_equal(h.resid_rows, 16);
    assert_true(h.resid_sigma_rel == 0.02);
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_RRAM);
    assert_true(h.g_min_siemens == p.g_min_siemens && h.g_max_siemens == p.g_max_siemens);
    const double g0 = p.g_min_siemens, dg = p.g_max_siemens - p.g_min_siemens;
    for (double g = g0; g <= p.g_max_siemens; g += dg / 7)
        xb_assert_near(xb_train_hwa_sigma_siemens(&h, g), coef[0] + coef[1] * g + coef[2] * g * g, 0,
                       1e-12 * coef[0] + 1e-20);

    /* weights at 8 levels (w_max = 0.8 fixed by the first), each repeated R times */
    const double lv[8] = {0.8, 0.5, 0.25, 0.01, 0.0, -0.1, -0.4, -0.8};
    const size_t R = 6000, N = 8 * R;
    float *w = malloc(N * sizeof(float)), *wo = malloc(N * sizeof(float));
    for (size_t i = 0; i < N; i++) w[i] = (float)lv[i % 8];
    uint64_t rng = 99;
    xb_train_hwa_perturb(&h, w, N, &rng, wo);
    const double w_max = 0.8;
    for (int q = 0; q < 8; q++) {
        double s1 = 0, s2 = 0;
        for (size_t r = 0; r < R; r++) {
            double d = (double)wo[r * 8 + q] - (double)w[r * 8 + q];
            s1 += d;
            s2 += d * d;
        }
        double mean = s1 / R, var = s2 / R - mean * mean;
        double x = lv[q] / w_max, gp = g0 + dg * fmax(x, 0), gm = g0 + dg * fmax(-x, 0);
        double sp = coef[0] + coef[1] * gp + coef[2] * gp * gp, sm = coef[0] + coef[1] * gm + coef[2] * gm * gm;
        double var_cf = (sp * sp + sm * sm) * (w_max / dg) * (w_max / dg);
        /* the sample variance has relative sd sqrt(2/R) = 1.8 %: 5 sd; the mean sd/sqrt(R) */
        print_message("w = %+.2f: var(w'-w) %.4g, closed form %.4g (ratio %.4f), mean %.2g\n", lv[q], var, var_cf,
                      var / var_cf, mean);
        xb_assert_near(var / var_cf, 1.0, 0, 5.0 * sqrt(2.0 / R));
        xb_assert_below(fabs(mean), 5.0 * sqrt(var_cf / R) + 1e-7 * w_max);
    }
    /* all-zero weights stay zero (no mapping range) */
    float z[4] = {0, 0, 0, 0}, zo[4];
    xb_train_hwa_perturb(&h, z, 4, &rng, zo);
    assert_memory_equal(z, zo, sizeof z);

    /* output residual: N(0, resid x rms) per vector */
    xb_train_noise nz = {0, &h};
    const size_t len = 500, nv = 40;
    float *y = malloc(len * nv * sizeof(float));
    for (size_t i = 0; i < len * nv; i++) y[i] = (i % 2 ? 3.0f : -3.0f) * (float)(1 + (i / len) % 3); /* rms 3, 6, 9 */
    xb_train_noise_outputs(&nz, y, nv, len, 1, len, &rng);
    double ss = 0;
    for (size_t i = 0; i < len * nv; i++) {
        double ref = (i % 2 ? 3.0 : -3.0) * (double)(1 + (i / len) % 3), e = (y[i] - ref) / (0.02 * fabs(ref));
        ss += e * e;
    }
    double ratio = sqrt(ss / (double)(len * nv));
    print_message("output residual: sd / (resid x rms) = %.4f\n", ratio);
    xb_assert_near(ratio, 1.0, 0, 5.0 * sqrt(0.5 / (double)(len * nv)));

    /* a file without sigma_program for the device: error naming the file and device */
    assert_int_equal(xb_train_hwa_load(path, XB_DEVICE_PCM, &h, &err), XB_EINPUT);
    xb_assert_contains(err.msg, path);
    xb_assert_contains(err.msg, "sigma_program/pcm");
    char *nos = write_model(dir, "nosigma.h5", 16, 0.02, NULL, 0);
    assert_int_equal(xb_train_hwa_load(nos, XB_DEVICE_RRAM, &h, &err), XB_EINPUT);
    xb_assert_contains(err.msg, "sigma_program/rram");
    free(y);
    free(w);
    free(wo);
    free(nos);
    free(path);
}

static void record(void *user, size_t epoch, double loss, double acc)
{
    double *last = user;
    last[0] = loss;
    last[1] = acc;
}

static void test_cnn_short_run(void **state)
{
    const char *dir = *state;
    const double coef[3] = {5e-8, 0.03, -2e2};
    char *model = write_model(dir, "m.h5", 16, 0.02, coef, 3);
    xb_dataset *tr = NULL, *te = NULL;
    xb_error err;
    assert_int_equal(xb_dataset_load_fmnist(NULL, 1, 2000, &tr, &err), XB_OK);
    assert_int_equal(xb_dataset_load_fmnist(NULL, 0, 1000, &te, &err), XB_OK);
    xb_train_opts o;
    xb_train_opts_default(&o);
    o.epochs = 1;
    o.batch = 32;
    o.lr = 2e-3;
    o.threads = 1;
    xb_network *a = NULL, *b = NULL, *c = NULL;
    double last[2] = {0, -1};
    assert_int_equal(xb_train_cnn(tr, te, 10, &o, record, last, &a, &err), XB_OK);
    double acc = xb_test_net_accuracy(a, te);
    print_message("CNN, 2000 images, 1 epoch: test accuracy %.3f (1000 images), loss %.3f\n", acc, last[0]);
    xb_assert_below(0.6, acc + 1e-12);
    xb_assert_near(acc, last[1], 0, 1e-12); /* the trainer's evaluation == the C forward pass */
    assert_int_equal(xb_network_n_layers(a), 9);
    assert_int_equal(xb_network_layer(a, 0)->kind, XB_LAYER_CONV2D);
    assert_int_equal(xb_network_layer(a, 7)->n_in, 784);
    /* deterministic for seed and threads */
    assert_int_equal(xb_train_cnn(tr, NULL, 10, &o, NULL, NULL, &b, &err), XB_OK);
    for (size_t k = 0; k < 9; k++) {
        const xb_layer *la = xb_network_layer(a, k), *lb = xb_network_layer(b, k);
        if (la->weight) assert_memory_equal(la->weight, lb->weight, la->n_out * la->n_in * sizeof(float));
    }
    /* hardware-aware: different weights, still learns */
    o.hw_model = model;
    assert_int_equal(xb_train_cnn(tr, NULL, 10, &o, NULL, NULL, &c, &err), XB_OK);
    assert_memory_not_equal(xb_network_layer(a, 0)->weight, xb_network_layer(c, 0)->weight, 72 * sizeof(float));
    double acc_h = xb_test_net_accuracy(c, te);
    print_message("CNN --hw-model (synthetic sigma): test accuracy %.3f\n", acc_h);
    xb_assert_below(0.55, acc_h + 1e-12);
    xb_network_free(c);
    c = NULL;
    o.weight_noise = 0.05; /* exclusive with hw_model */
    assert_int_equal(xb_train_cnn(tr, NULL, 10, &o, NULL, NULL, &c, &err), XB_EINPUT);
    assert_null(c);
    /* the MLP with the same option */
    o.weight_noise = 0;
    o.n_hidden = 1;
    o.hidden[0] = 32;
    o.epochs = 2;
    assert_int_equal(xb_train_mlp(tr, NULL, 10, &o, NULL, NULL, &c, &err), XB_OK);
    double acc_m = xb_test_net_accuracy(c, te);
    print_message("MLP --hw-model (synthetic sigma): test accuracy %.3f\n", acc_m);
    xb_assert_below(0.6, acc_m + 1e-12);
    o.hw_device = XB_DEVICE_ECRAM;
    xb_network *d = NULL;
    assert_int_equal(xb_train_mlp(tr, NULL, 10, &o, NULL, NULL, &d, &err), XB_EINPUT);
    xb_assert_contains(err.msg, "sigma_program/ecram");
    xb_network_free(a);
    xb_network_free(b);
    xb_network_free(c);
    xb_dataset_free(tr);
    xb_dataset_free(te);
    free(model);
}

static void test_cli_train_cnn(void **state)
{
    const char *dir = *state;
    const double coef[3] = {5e-8, 0.03, -2e2};
    char *model = write_model(dir, "m-cli.h5", 16, 0.02, coef, 3);
    char *path = xb_test_path(dir, "cnn.h5");
    char *a[] = {"xbar", "train", "--arch", "cnn", "--channels", "4,8", "--out", path, "--limit", "300",
                 "--test-limit", "100", "--epochs", "1", "--threads", "1", "--hw-model", model, NULL};
    char *out = xb_test_xbar_ok(a);
    xb_assert_contains(out, "hardware-aware training:");
    xb_assert_contains(out, "trained CNN conv4-conv8-dense10 on 300 images");
    free(out);
    xb_network *net = NULL;
    xb_error err;
    assert_int_equal(xb_network_read(path, &net, &err), XB_OK);
    assert_int_equal(xb_network_layer(net, 3)->n_out, 8);
    xb_network_free(net);
    /* xbar run executes it on tiles */
    char *r[] = {"xbar", "run", "--network", path, "--limit", "20", "--calib", "16", NULL};
    out = xb_test_xbar_ok(r);
    xb_assert_contains(out, "top-1 accuracy");
    free(out);

    /* bad input: one line naming the flag and the file, non-zero exit */
    char *missing = xb_test_path(dir, "missing.h5");
    char *b[] = {"xbar", "train", "--out", path, "--hw-model", missing, NULL};
    xb_test_xbar_fails(2, b, "--hw-model", missing);
    char *c[] = {"xbar", "train", "--out", path, "--hw-model", model, "--device", "pcm", NULL};
    xb_test_xbar_fails(2, c, model, "sigma_program/pcm");
    char *d[] = {"xbar", "train", "--out", path, "--device", "pcm", NULL};
    xb_test_xbar_fails(2, d, "--device");
    char *e1[] = {"xbar", "train", "--out", path, "--optimizer", "rmsprop", NULL};
    xb_test_xbar_fails(2, e1, "--optimizer", "rmsprop");
    char *f1[] = {"xbar", "train", "--out", path, "--lr-schedule", "linear", NULL};
    xb_test_xbar_fails(2, f1, "--lr-schedule", "linear");
    /* plain SGD with the cosine schedule learns: 1 epoch of 2000 images beats 10 % by far */
    char *sg[] = {"xbar", "train", "--out", path, "--force", "--optimizer", "sgd", "--lr", "0.2", "--lr-schedule",
                  "cosine", "--limit", "2000", "--test-limit", "500", "--epochs", "1", "--hidden", "32",
                  "--threads", "1", NULL};
    out = xb_test_xbar_ok(sg);
    const char *acc = strstr(out, "test accuracy ");
    assert_non_null(acc);
    xb_assert_below(50.0, atof(acc + 14));
    free(out);
    char *e[] = {"xbar", "train", "--out", path, "--arch", "rnn", NULL};
    xb_test_xbar_fails(2, e, "--arch");
    char *f[] = {"xbar", "train", "--out", path, "--hw-model", model, "--weight-noise", "0.1", NULL};
    xb_test_xbar_fails(2, f, "--hw-model");
    char *g[] = {"xbar", "train", "--out", path, "--arch", "cnn", "--channels", "8", NULL};
    xb_test_xbar_fails(2, g, "--channels");
    free(missing);
    free(path);
    free(model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backward_vs_finite_differences),
        cmocka_unit_test(test_trainer_forward_equals_network),
        cmocka_unit_test(test_sgd_step_closed_form),
        cmocka_unit_test(test_hwa_sampler_variance),
        cmocka_unit_test(test_cnn_short_run),
        cmocka_unit_test(test_cli_train_cnn),
    };
    return cmocka_run_group_tests(tests, xb_test_group_tmpdir, xb_test_group_tmpdir_remove);
}
