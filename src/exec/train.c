/* Training: the loop (per-epoch shuffle, minibatches through the network trainer of
 * train_net.c, the optimizer's update, step-size decay, progress) and the two entry points
 * that build a network and train it with Adam (Kingma & Ba, ICLR 2015) or plain SGD (the digital
 * counterpart of in-memory SGD, docs/training.md): xb_train_mlp (ReLU
 * hidden layers) and xb_train_cnn (two conv/ReLU/maxpool stages and a dense layer).
 * Optional hardware-aware training: Gaussian weight noise resampled every minibatch (forward
 * and backward through the noisy weights, update of the clean ones), the "ADD_NORMAL"
 * modifier of aihwkit; or the noise of a fitted model file (train_hwa.c: programming error
 * of the differential-pair conductances and the output residual). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec/train_internal.h"
#include "xbar/exec.h"

void xb_train_opts_default(xb_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->n_hidden = 2;
    o->hidden[0] = 256;
    o->hidden[1] = 128;
    o->epochs = 15;
    o->batch = 128;
    o->lr = 1e-3;
    o->lr_decay = 0.85;
    o->weight_noise = 0.0;
    o->seed = 1;
    o->threads = 0;
    o->hw_model = NULL;
    o->hw_device = XB_DEVICE_RRAM;
    o->cnn_channels[0] = 8;
    o->cnn_channels[1] = 16;
}

/* ------------------------------------------------------------------ the loop */
/* Accuracy on test with the clean weights (-1 without a test set). */
static int test_accuracy(xb_tnet *t, const xb_dataset *test, size_t n_classes, float *probs, double *acc, xb_error *err)
{
    *acc = -1;
    if (!probs) return XB_OK;
    int rc = xb_tnet_predict(t, test->images, test->n, probs, err);
    if (!rc) *acc = xb_exec_top1(probs, test->n, n_classes, test->labels);
    return rc;
}

double xb_train_lr_cosine(double lr0, size_t t, size_t t_all)
{
    return t_all ? 0.5 * lr0 * (1.0 + cos(M_PI * (double)t / (double)t_all)) : lr0;
}

int xb_train_network(xb_tnet *t, const xb_dataset *train, const xb_dataset *test, const xb_train_opts *o,
                     xb_train_optimizer *opt, uint64_t *rng, xb_train_progress cb, void *user, xb_error *err)
{
    const size_t px = train->rows * train->cols, B = o->batch;
    const size_t nc = xb_tnet_n_classes(t);
    size_t *perm = malloc(train->n * sizeof *perm);
    float *xb = malloc(B * px * sizeof(float)), *probs = NULL;
    unsigned char *lb = malloc(B);
    if (cb && test && test->n) probs = malloc(test->n * nc * sizeof(float));
    int rc = perm && xb && lb && (!cb || !test || !test->n || probs) ? XB_OK : xb_errorf(err, XB_ERUNTIME, "out of memory");
    for (size_t s = 0; !rc && s < train->n; s++) perm[s] = s;
    double lr = o->lr;
    const size_t per_epoch = (train->n + B - 1) / B, t_all = per_epoch * o->epochs;
    for (size_t ep = 0; !rc && ep < o->epochs; ep++) {
        xb_train_shuffle(perm, train->n, rng);
        double loss = 0;
        for (size_t s0 = 0; !rc && s0 < train->n; s0 += B) {
            if (o->lr_cosine) lr = xb_train_lr_cosine(o->lr, ep * per_epoch + s0 / B, t_all);
            const size_t nb = train->n - s0 < B ? train->n - s0 : B;
            for (size_t s = 0; s < nb; s++) {
                memcpy(xb + s * px, train->images + perm[s0 + s] * px, px * sizeof(float));
                lb[s] = train->labels[perm[s0 + s]];
            }
            loss += xb_tnet_loss_grad(t, xb, lb, nb, rng);
            rc = xb_tnet_update(t, opt, lr, err);
        }
        lr *= o->lr_decay > 0 ? o->lr_decay : 1.0;
        double acc = -1;
        if (!rc && cb && !(rc = test_accuracy(t, test, nc, probs, &acc, err))) cb(user, ep, loss / (double)train->n, acc);
    }
    free(perm);
    free(xb);
    free(lb);
    free(probs);
    return rc;
}

/* ------------------------------------------------------------------ entry points */
/* He-uniform initialisation (He et al., ICCV 2015): U(-sqrt(6/fan_in), +sqrt(6/fan_in)). */
static void he_uniform(float *w, size_t n, size_t fan_in, uint64_t *rng)
{
    double lim = sqrt(6.0 / (double)fan_in);
    for (size_t i = 0; i < n; i++) w[i] = (float)((2.0 * xb_splitmix64_uniform(rng) - 1.0) * lim);
}

/* Train the initial network init with o's optimizer and the noise nz; *out: the trained network. */
static int train_opt(const xb_network *init, size_t eval_batch, const xb_dataset *train, const xb_dataset *test,
                      const xb_train_opts *o, const xb_train_noise *nz, uint64_t *rng, xb_train_progress cb,
                      void *user, xb_network **out, xb_error *err)
{
    xb_tnet *t = NULL;
    xb_train_optimizer opt = {0};
    int rc = xb_tnet_new(init, eval_batch, &t, err);
    if (!rc) rc = o->optimizer == XB_TRAIN_SGD ? xb_train_sgd_new(&opt, err) : xb_train_adam_new(t, NULL, &opt, err);
    if (!rc) {
        xb_tnet_set_noise(t, nz);
        rc = xb_train_network(t, train, test, o, &opt, rng, cb, user, err);
    }
    if (!rc) rc = xb_tnet_export(t, out, err);
    xb_train_optimizer_free(&opt);
    xb_tnet_free(t);
    return rc;
}

/* Builds the initial network of an entry point from the seed's stream rng. */
typedef int (*init_fn)(const xb_dataset *train, size_t n_classes, const xb_train_opts *o, uint64_t *rng,
                       xb_network **out, xb_error *err);

/* An entry point after its own checks: the shared checks and noise settings
 * (xb_train_begin), the initial network, training (eval_batch: the largest pass);
 * the OpenBLAS thread count set by xb_train_begin is restored on every way out. */
static int train_entry(const xb_dataset *train, const xb_dataset *test, size_t n_classes, const xb_train_opts *o,
                       init_fn init, size_t eval_batch, xb_train_progress cb, void *user, xb_network **out,
                       xb_error *err)
{
    xb_train_hwa hwa;
    xb_train_noise nz;
    int blas_prev;
    int rc = xb_train_begin(train, n_classes, o, &hwa, &nz, &blas_prev, err);
    if (rc) return rc;
    uint64_t rng = o->seed;
    xb_network *net = NULL;
    rc = init(train, n_classes, o, &rng, &net, err);
    if (!rc) rc = train_opt(net, eval_batch, train, test, o, &nz, &rng, cb, user, out, err);
    xb_network_free(net);
    xb_train_end(blas_prev);
    return rc;
}

/* The MLP px -> hidden... -> n_classes (ReLU between, softmax at the end), He-uniform
 * weights in layer order from rng, zero biases. */
static int mlp_init(const xb_dataset *train, size_t n_classes, const xb_train_opts *o, uint64_t *rng,
                    xb_network **out, xb_error *err)
{
    const size_t px = train->rows * train->cols, shape[1] = {px}, nl = o->n_hidden + 1;
    int rc = xb_network_new(shape, 1, out, err);
    for (size_t k = 0; k < nl && !rc; k++) {
        const size_t n_in = k == 0 ? px : o->hidden[k - 1], n_out = k + 1 < nl ? o->hidden[k] : n_classes;
        float *w = malloc(n_in * n_out * sizeof(float));
        if (!w) {
            rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
            break;
        }
        he_uniform(w, n_in * n_out, n_in, rng);
        rc = xb_network_add_dense(*out, n_out, n_in, w, NULL, err);
        free(w);
        if (!rc) rc = xb_network_add(*out, k + 1 < nl ? XB_LAYER_RELU : XB_LAYER_SOFTMAX, err);
    }
    return rc;
}

int xb_train_mlp_init(const xb_dataset *train, size_t n_classes, const xb_train_opts *o, uint64_t *rng,
                      xb_network **out, xb_error *err)
{
    return mlp_init(train, n_classes, o, rng, out, err);
}

int xb_train_mlp(const xb_dataset *train, const xb_dataset *test, size_t n_classes,
                 const xb_train_opts *o, xb_train_progress cb, void *user, xb_network **out,
                 xb_error *err)
{
    *out = NULL;
    if (o->n_hidden > 4) return xb_errorf(err, XB_EINPUT, "--hidden: at most 4 hidden layers");
    for (size_t k = 0; k < o->n_hidden; k++)
        if (o->hidden[k] == 0) return xb_errorf(err, XB_EINPUT, "--hidden: layer %zu has width 0", k);
    return train_entry(train, test, n_classes, o, mlp_init, o->batch > 1000 ? o->batch : 1000, cb, user, out, err);
}

/* The CNN of xb_train_cnn for 1 x H x W images: He-uniform weights (conv1, conv2, dense)
 * from rng, zero biases. */
static int cnn_init(const xb_dataset *train, size_t n_classes, const xb_train_opts *o, uint64_t *rng,
                    xb_network **out, xb_error *err)
{
    const size_t H = train->rows, W = train->cols;
    const size_t c1 = o->cnn_channels[0], c2 = o->cnn_channels[1], nd = c2 * (H / 4) * (W / 4);
    const size_t shape[3] = {1, H, W};
    float *w1 = malloc(c1 * 9 * sizeof(float)), *w2 = malloc(c2 * c1 * 9 * sizeof(float)),
          *w3 = malloc(n_classes * nd * sizeof(float));
    int rc = (w1 && w2 && w3) ? XB_OK : xb_errorf(err, XB_ERUNTIME, "out of memory");
    if (!rc) {
        he_uniform(w1, c1 * 9, 9, rng);
        he_uniform(w2, c2 * c1 * 9, c1 * 9, rng);
        he_uniform(w3, n_classes * nd, nd, rng);
        rc = xb_network_new(shape, 3, out, err);
    }
    if (!rc) rc = xb_network_add_conv2d(*out, c1, 1, 3, 3, 1, 1, w1, NULL, err);
    if (!rc) rc = xb_network_add(*out, XB_LAYER_RELU, err);
    if (!rc) rc = xb_network_add_pool(*out, XB_LAYER_MAXPOOL2D, 2, 2, err);
    if (!rc) rc = xb_network_add_conv2d(*out, c2, c1, 3, 3, 1, 1, w2, NULL, err);
    if (!rc) rc = xb_network_add(*out, XB_LAYER_RELU, err);
    if (!rc) rc = xb_network_add_pool(*out, XB_LAYER_MAXPOOL2D, 2, 2, err);
    if (!rc) rc = xb_network_add(*out, XB_LAYER_FLATTEN, err);
    if (!rc) rc = xb_network_add_dense(*out, n_classes, nd, w3, NULL, err);
    if (!rc) rc = xb_network_add(*out, XB_LAYER_SOFTMAX, err);
    free(w1);
    free(w2);
    free(w3);
    return rc;
}

int xb_train_cnn(const xb_dataset *train, const xb_dataset *test, size_t n_classes, const xb_train_opts *o,
                 xb_train_progress cb, void *user, xb_network **out, xb_error *err)
{
    *out = NULL;
    if (train && (train->rows % 4 || train->cols % 4 || train->rows == 0 || train->cols == 0))
        return xb_errorf(err, XB_EINPUT, "--arch cnn: image sides must be multiples of 4 (got %zux%zu)", train->rows,
                         train->cols);
    if (o->cnn_channels[0] == 0 || o->cnn_channels[1] == 0) return xb_errorf(err, XB_EINPUT, "--channels: must be >= 1");
    return train_entry(train, test, n_classes, o, cnn_init, o->batch > 500 ? o->batch : 500, cb, user, out, err);
}
