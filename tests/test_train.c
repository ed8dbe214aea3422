/* Training (tiny: a few hundred samples, seconds).
 *  - softmax regression (no hidden layer) on a synthetic separable problem whose
 *    Bayes classifier is known (class = x0 > x1) reaches >= 97%;
 *  - an MLP on 600 Fashion-MNIST images generalises (>= 65% on 500 test images),
 *    the C forward pass of the returned network agrees with the trainer's own accuracy;
 *  - same seed -> bit-identical weights; another seed or weight noise -> different ones;
 *  - `xbar train` writes a readable network file; bad flags are one-line errors;
 *  - the OpenBLAS thread count of the options holds during training and the caller's count
 *    is back afterwards (it is process-wide), for both trainers and on errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "support/xb_test.h"
#include "xbar/exec.h"

static void record(void *user, size_t epoch, double loss, double acc)
{
    double *last = user;
    last[0] = loss;
    last[1] = acc;
}

static void test_separable(void **state)
{
    const size_t n = 400;
    xb_dataset d = {n, 1, 2, malloc(n * 2 * sizeof(float)), malloc(n)};
    uint64_t s = 99;
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < 2; j++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            d.images[i * 2 + j] = (float)((double)(s >> 11) * 0x1.0p-53);
        }
        d.labels[i] = d.images[i * 2] > d.images[i * 2 + 1];
    }
    xb_train_opts o;
    xb_train_opts_default(&o);
    o.n_hidden = 0;
    o.epochs = 60;
    o.batch = 16;
    o.lr = 0.05;
    o.lr_decay = 1.0;
    o.threads = 1;
    xb_network *net = NULL;
    xb_error err;
    double last[2] = {0, 0};
    assert_int_equal(xb_train_mlp(&d, &d, 2, &o, record, last, &net, &err), XB_OK);
    double acc = xb_test_net_accuracy(net, &d);
    print_message("separable: accuracy %.3f, loss %.4f\n", acc, last[0]);
    xb_assert_below(0.97, acc + 1e-12);
    xb_assert_near(acc, last[1], 0, 1e-12); /* trainer's evaluation == C forward pass */
    /* the learnt boundary is w.x: weights of the two classes differ along (1, -1) */
    const xb_layer *l = xb_network_layer(net, 0);
    double d0 = l->weight[2] - l->weight[0], d1 = l->weight[3] - l->weight[1];
    assert_true(d0 > 0 && d1 < 0);
    xb_network_free(net);
    free(d.images);
    free(d.labels);
}

static void test_fmnist_small(void **state)
{
    xb_dataset *tr = NULL, *te = NULL;
    xb_error err;
    assert_int_equal(xb_dataset_load_fmnist(NULL, 1, 600, &tr, &err), XB_OK);
    assert_int_equal(xb_dataset_load_fmnist(NULL, 0, 500, &te, &err), XB_OK);
    xb_train_opts o;
    xb_train_opts_default(&o);
    o.n_hidden = 1;
    o.hidden[0] = 32;
    o.epochs = 8;
    o.batch = 32;
    o.threads = 1;
    xb_network *a = NULL, *b = NULL, *c = NULL, *dn = NULL;
    double last[2];
    assert_int_equal(xb_train_mlp(tr, te, 10, &o, record, last, &a, &err), XB_OK);
    double acc = xb_test_net_accuracy(a, te);
    print_message("fashion-mnist 600 images: test accuracy %.3f\n", acc);
    xb_assert_below(0.65, acc + 1e-12);
    xb_assert_near(acc, last[1], 0, 1e-12);
    assert_int_equal(xb_network_n_layers(a), 4); /* dense relu dense softmax */
    assert_int_equal(xb_network_layer(a, 3)->kind, XB_LAYER_SOFTMAX);

    assert_int_equal(xb_train_mlp(tr, NULL, 10, &o, NULL, NULL, &b, &err), XB_OK);
    const xb_layer *la = xb_network_layer(a, 0), *lb = xb_network_layer(b, 0);
    assert_memory_equal(la->weight, lb->weight, la->n_in * la->n_out * sizeof(float));
    o.seed = 2;
    assert_int_equal(xb_train_mlp(tr, NULL, 10, &o, NULL, NULL, &c, &err), XB_OK);
    assert_memory_not_equal(la->weight, xb_network_layer(c, 0)->weight, la->n_in * la->n_out * sizeof(float));
    o.seed = 1;
    o.weight_noise = 0.05;
    assert_int_equal(xb_train_mlp(tr, NULL, 10, &o, NULL, NULL, &dn, &err), XB_OK);
    assert_memory_not_equal(la->weight, xb_network_layer(dn, 0)->weight, la->n_in * la->n_out * sizeof(float));
    xb_assert_below(0.6, xb_test_net_accuracy(dn, te) + 1e-12);

    xb_network_free(c);
    o.n_hidden = 5;
    assert_int_equal(xb_train_mlp(tr, NULL, 10, &o, NULL, NULL, &c, &err), XB_EINPUT);
    assert_null(c);
    xb_network_free(a);
    xb_network_free(b);
    xb_network_free(c);
    xb_network_free(dn);
    xb_dataset_free(tr);
    xb_dataset_free(te);
}

static void test_cli_train(void **state)
{
    char *path = xb_test_path(*state, "t.h5");
    char *a[] = {"xbar", "train", "--out", path, "--limit", "300", "--test-limit", "200", "--epochs", "2",
                 "--hidden", "16", "--threads", "1", NULL};
    char *out = xb_test_xbar_ok(a);
    xb_assert_contains(out, "epoch 2: loss");
    xb_assert_contains(out, "trained 784-16-10 MLP on 300 images");
    free(out);
    xb_network *net = NULL;
    xb_error err;
    assert_int_equal(xb_network_read(path, &net, &err), XB_OK);
    assert_int_equal(xb_network_layer(net, 0)->n_out, 16);
    xb_network_free(net);

    char *b[] = {"xbar", "train", "--out", path, "--epochs", "0", NULL};
    xb_test_xbar_fails(2, b, "--epochs");
    char *c[] = {"xbar", "train", "--hidden", "16,x", "--out", path, NULL};
    xb_test_xbar_fails(2, c, "--hidden");
    char *d[] = {"xbar", "train", "--epochs", "1", NULL};
    xb_test_xbar_fails(2, d, "--out");
    char *e[] = {"xbar", "train", "--out", path, "--dataset", "/nonexistent", NULL};
    xb_test_xbar_fails(2, e, "/nonexistent/train-images-idx3-ubyte.gz");
    free(path);
}

/* OpenBLAS (tests link it through xbar_core) */
extern int openblas_get_num_threads(void);
extern void openblas_set_num_threads(int num_threads);

static void record_threads(void *user, size_t epoch, double loss, double acc)
{
    (void)epoch;
    (void)loss;
    (void)acc;
    *(int *)user = openblas_get_num_threads();
}

static void test_threads_restored(void **state)
{
    (void)state;
    const size_t n = 32;
    xb_dataset d = {n, 4, 4, malloc(n * 16 * sizeof(float)), malloc(n)};
    for (size_t i = 0; i < n * 16; i++) d.images[i] = (float)((i * 37) % 11) / 11.0f;
    for (size_t i = 0; i < n; i++) d.labels[i] = (unsigned char)(i % 2);
    xb_train_opts o;
    xb_train_opts_default(&o);
    o.epochs = 1;
    o.batch = 8;
    o.hidden[0] = 8;
    o.n_hidden = 1;
    o.cnn_channels[0] = 2;
    o.cnn_channels[1] = 2;
    const int keep = openblas_get_num_threads();
    for (int arch = 0; arch < 2; arch++) {
        for (int before = 1; before <= 2; before++) {
            openblas_set_num_threads(before);
            assert_int_equal(openblas_get_num_threads(), before); /* the switch itself works */
            o.threads = (size_t)(3 - before);
            int during = 0;
            xb_network *net = NULL;
            xb_error err;
            int rc = arch ? xb_train_cnn(&d, NULL, 2, &o, record_threads, &during, &net, &err)
                          : xb_train_mlp(&d, NULL, 2, &o, record_threads, &during, &net, &err);
            assert_int_equal(rc, XB_OK);
            assert_int_equal(during, 3 - before);
            assert_int_equal(openblas_get_num_threads(), before);
            xb_network_free(net);
            /* bad options: rejected before anything is switched */
            o.lr = 0;
            assert_int_equal(xb_train_mlp(&d, NULL, 2, &o, NULL, NULL, &net, &err), XB_EINPUT);
            o.lr = 1e-3;
            o.cnn_channels[0] = 0;
            assert_int_equal(xb_train_cnn(&d, NULL, 2, &o, NULL, NULL, &net, &err), XB_EINPUT);
            o.cnn_channels[0] = 2;
            assert_int_equal(openblas_get_num_threads(), before);
        }
    }
    openblas_set_num_threads(keep);
    free(d.images);
    free(d.labels);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_separable),
        cmocka_unit_test(test_fmnist_small),
        cmocka_unit_test(test_cli_train),
        cmocka_unit_test(test_threads_restored),
    };
    return cmocka_run_group_tests(tests, xb_test_group_tmpdir, xb_test_group_tmpdir_remove);
}
