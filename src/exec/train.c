/* MLP training on an image dataset: ReLU hidden layers, softmax cross-entropy,
 * Adam (Kingma & Ba, ICLR 2015), minibatches through OpenBLAS sgemm.  Optional
 * hardware-aware training: Gaussian weight noise resampled every minibatch
 * (forward and backward through the noisy weights, update of the clean ones),
 * the "ADD_NORMAL" modifier of aihwkit; or the noise of a fitted model file
 * (train_hwa.c: programming error of the differential-pair conductances and the
 * output residual). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec/train_internal.h"
#include "xbar/exec.h"

typedef uint64_t rng_t; /* splitmix64 state (train_internal.h) */

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

typedef struct {
    size_t n_in, n_out;
    float *w, *b;        /* parameters */
    float *wn;           /* weights used in the pass (noisy copy or w) */
    float *gw, *gb;      /* gradients */
    float *mw, *vw, *mb, *vb; /* Adam moments */
    float *z, *a;        /* batch x n_out: pre-activation, activation */
    float *dz;           /* batch x n_out */
} mlp_layer;

static void layers_free(mlp_layer *L, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        float *ptrs[] = {L[k].w, L[k].b, L[k].gw, L[k].gb, L[k].mw, L[k].vw, L[k].mb, L[k].vb, L[k].z, L[k].a, L[k].dz};
        for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++) free(ptrs[i]);
        if (L[k].wn != L[k].w) free(L[k].wn);
    }
    free(L);
}

/* Forward of B rows of X through all layers with weights wn; last layer softmax.  With
 * nz (training), the fitted output residual on every layer's W x. */
static void forward(mlp_layer *L, size_t nl, const float *X, size_t B, const xb_train_noise *nz, rng_t *rng)
{
    const float *in = X;
    for (size_t k = 0; k < nl; k++) {
        mlp_layer *l = &L[k];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)l->n_out, (int)l->n_in, 1.0f, in,
                    (int)l->n_in, l->wn, (int)l->n_in, 0.0f, l->z, (int)l->n_out);
        if (nz) xb_train_noise_outputs(nz, l->z, B, l->n_out, 1, l->n_out, rng);
        for (size_t s = 0; s < B; s++) {
            float *z = l->z + s * l->n_out, *a = l->a + s * l->n_out;
            for (size_t j = 0; j < l->n_out; j++) z[j] += l->b[j];
            if (k + 1 < nl) {
                for (size_t j = 0; j < l->n_out; j++) a[j] = z[j] > 0 ? z[j] : 0.0f;
            } else {
                float mx = z[0];
                for (size_t j = 1; j < l->n_out; j++) mx = z[j] > mx ? z[j] : mx;
                double sum = 0;
                for (size_t j = 0; j < l->n_out; j++) sum += exp((double)(z[j] - mx));
                for (size_t j = 0; j < l->n_out; j++) a[j] = (float)(exp((double)(z[j] - mx)) / sum);
            }
        }
        in = l->a;
    }
}

static double accuracy(mlp_layer *L, size_t nl, const xb_dataset *d, size_t max_b)
{
    size_t ok = 0, px = d->rows * d->cols, nc = L[nl - 1].n_out;
    for (size_t s0 = 0; s0 < d->n; s0 += max_b) {
        size_t B = d->n - s0 < max_b ? d->n - s0 : max_b;
        forward(L, nl, d->images + s0 * px, B, NULL, NULL);
        for (size_t s = 0; s < B; s++) {
            const float *p = L[nl - 1].a + s * nc;
            size_t best = 0;
            for (size_t c = 1; c < nc; c++)
                if (p[c] > p[best]) best = c;
            ok += best == d->labels[s0 + s];
        }
    }
    return d->n ? (double)ok / (double)d->n : 0.0;
}

int xb_train_mlp(const xb_dataset *train, const xb_dataset *test, size_t n_classes,
                 const xb_train_opts *o, xb_train_progress cb, void *user, xb_network **out,
                 xb_error *err)
{
    *out = NULL;
    if (o->n_hidden > 4) return xb_errorf(err, XB_EINPUT, "--hidden: at most 4 hidden layers");
    for (size_t k = 0; k < o->n_hidden; k++)
        if (o->hidden[k] == 0) return xb_errorf(err, XB_EINPUT, "--hidden: layer %zu has width 0", k);
    xb_train_hwa hwa;
    xb_train_noise nz;
    int blas_prev;
    int brc = xb_train_begin(train, n_classes, o, &hwa, &nz, &blas_prev, err);
    if (brc) return brc;
    const int noisy = o->weight_noise > 0 || nz.hwa;

    const size_t px = train->rows * train->cols, nl = o->n_hidden + 1, B = o->batch;
    const size_t eval_b = 1000 > B ? 1000 : B;
    mlp_layer *L = calloc(nl, sizeof *L);
    rng_t rng_state = o->seed, *rng = &rng_state;
    size_t *perm = malloc(train->n * sizeof *perm);
    float *xb = malloc(B * px * sizeof(float)), *dbuf = NULL;
    int rc = (L && perm && xb) ? XB_OK : xb_errorf(err, XB_ERUNTIME, "out of memory");
    size_t max_w = px;
    for (size_t k = 0; k < nl && !rc; k++) {
        mlp_layer *l = &L[k];
        l->n_in = k == 0 ? px : o->hidden[k - 1];
        l->n_out = k + 1 < nl ? o->hidden[k] : n_classes;
        if (l->n_out > max_w) max_w = l->n_out;
        size_t nw = l->n_in * l->n_out, rows = eval_b;
        l->w = malloc(nw * sizeof(float));
        l->gw = calloc(nw, sizeof(float));
        l->mw = calloc(nw, sizeof(float));
        l->vw = calloc(nw, sizeof(float));
        l->b = calloc(l->n_out, sizeof(float));
        l->gb = calloc(l->n_out, sizeof(float));
        l->mb = calloc(l->n_out, sizeof(float));
        l->vb = calloc(l->n_out, sizeof(float));
        l->z = malloc(rows * l->n_out * sizeof(float));
        l->a = malloc(rows * l->n_out * sizeof(float));
        l->dz = malloc(rows * l->n_out * sizeof(float));
        l->wn = noisy ? malloc(nw * sizeof(float)) : l->w;
        if (!l->w || !l->gw || !l->mw || !l->vw || !l->b || !l->gb || !l->mb || !l->vb || !l->z || !l->a || !l->dz ||
            !l->wn) {
            rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
            break;
        }
        /* He-uniform initialisation (He et al., ICCV 2015): U(-sqrt(6/fan_in), +). */
        double lim = sqrt(6.0 / (double)l->n_in);
        for (size_t i = 0; i < nw; i++) l->w[i] = (float)((2.0 * xb_splitmix64_uniform(rng) - 1.0) * lim);
    }
    if (!rc && !(dbuf = malloc(B * max_w * sizeof(float)))) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    for (size_t s = 0; !rc && s < train->n; s++) perm[s] = s;

    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    double lr = o->lr;
    size_t step = 0;
    for (size_t ep = 0; !rc && ep < o->epochs; ep++) {
        xb_train_shuffle(perm, train->n, rng);
        double loss = 0;
        for (size_t s0 = 0; s0 < train->n; s0 += B) {
            const size_t nb = train->n - s0 < B ? train->n - s0 : B;
            for (size_t s = 0; s < nb; s++) memcpy(xb + s * px, train->images + perm[s0 + s] * px, px * sizeof(float));
            if (noisy)
                for (size_t k = 0; k < nl; k++) xb_train_noise_weights(&nz, L[k].w, L[k].n_in * L[k].n_out, rng, L[k].wn);
            forward(L, nl, xb, nb, nz.hwa ? &nz : NULL, rng);
            /* softmax + cross-entropy: dz = (p - onehot) / nb */
            mlp_layer *top = &L[nl - 1];
            for (size_t s = 0; s < nb; s++) {
                unsigned lab = train->labels[perm[s0 + s]];
                const float *p = top->a + s * n_classes;
                float *dz = top->dz + s * n_classes;
                loss -= log(fmax((double)p[lab], 1e-30));
                for (size_t c = 0; c < n_classes; c++) dz[c] = (p[c] - (c == lab ? 1.0f : 0.0f)) / (float)nb;
            }
            for (size_t k = nl; k-- > 0;) {
                mlp_layer *l = &L[k];
                const float *ain = k == 0 ? xb : L[k - 1].a;
                /* gw (out x in) = dz^T (out x nb) * ain (nb x in) */
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)l->n_out, (int)l->n_in, (int)nb, 1.0f, l->dz,
                            (int)l->n_out, ain, (int)l->n_in, 0.0f, l->gw, (int)l->n_in);
                for (size_t j = 0; j < l->n_out; j++) {
                    double g = 0;
                    for (size_t s = 0; s < nb; s++) g += l->dz[s * l->n_out + j];
                    l->gb[j] = (float)g;
                }
                if (k > 0) {
                    mlp_layer *pl = &L[k - 1];
                    /* da (nb x in) = dz (nb x out) * wn (out x in); dz_prev = da * relu'(z) */
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)l->n_in, (int)l->n_out, 1.0f,
                                l->dz, (int)l->n_out, l->wn, (int)l->n_in, 0.0f, dbuf, (int)l->n_in);
                    for (size_t i = 0; i < nb * pl->n_out; i++) pl->dz[i] = pl->z[i] > 0 ? dbuf[i] : 0.0f;
                }
            }
            step++;
            const double c1 = 1.0 - pow(b1, (double)step), c2 = 1.0 - pow(b2, (double)step);
            const float a_t = (float)(lr * sqrt(c2) / c1);
            for (size_t k = 0; k < nl; k++) {
                mlp_layer *l = &L[k];
                size_t nw = l->n_in * l->n_out;
                for (size_t i = 0; i < nw; i++) {
                    float g = l->gw[i];
                    l->mw[i] = (float)b1 * l->mw[i] + (float)(1 - b1) * g;
                    l->vw[i] = (float)b2 * l->vw[i] + (float)(1 - b2) * g * g;
                    l->w[i] -= a_t * l->mw[i] / (sqrtf(l->vw[i]) + (float)eps);
                }
                for (size_t j = 0; j < l->n_out; j++) {
                    float g = l->gb[j];
                    l->mb[j] = (float)b1 * l->mb[j] + (float)(1 - b1) * g;
                    l->vb[j] = (float)b2 * l->vb[j] + (float)(1 - b2) * g * g;
                    l->b[j] -= a_t * l->mb[j] / (sqrtf(l->vb[j]) + (float)eps);
                }
            }
        }
        lr *= o->lr_decay > 0 ? o->lr_decay : 1.0;
        if (cb) {
            double acc = -1;
            if (test && test->n) {
                /* evaluate with the clean weights */
                for (size_t k = 0; k < nl; k++)
                    if (L[k].wn != L[k].w) memcpy(L[k].wn, L[k].w, L[k].n_in * L[k].n_out * sizeof(float));
                acc = accuracy(L, nl, test, eval_b);
            }
            cb(user, ep, loss / (double)train->n, acc);
        }
    }

    xb_network *net = NULL;
    if (!rc) {
        size_t shape[1] = {px};
        rc = xb_network_new(shape, 1, &net, err);
        for (size_t k = 0; k < nl && !rc; k++) {
            rc = xb_network_add_dense(net, L[k].n_out, L[k].n_in, L[k].w, L[k].b, err);
            if (!rc) rc = xb_network_add(net, k + 1 < nl ? XB_LAYER_RELU : XB_LAYER_SOFTMAX, err);
        }
        if (rc) {
            xb_network_free(net);
            net = NULL;
        }
    }
    if (L) layers_free(L, nl);
    free(perm);
    free(xb);
    free(dbuf);
    xb_train_end(blas_prev);
    *out = net;
    return rc;
}
