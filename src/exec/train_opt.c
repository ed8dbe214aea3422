/* Weight-update rules of the trainer (train_internal.h, "weight-update rules"): Adam and plain
 * SGD. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec/train_internal.h"

void xb_train_adam_params_default(xb_train_adam_params *p)
{
    /* Kingma & Ba, ICLR 2015, Algorithm 1: the suggested defaults */
    p->beta1 = 0.9;
    p->beta2 = 0.999;
    p->eps = 1e-8;
}

typedef struct {
    xb_train_adam_params hp;
    size_t nl;        /* layers of the network */
    float **m, **v;   /* per layer: moments of the weights, then of the bias (NULL: no weights) */
    size_t t;         /* steps taken */
    float a_t;        /* step of the current update */
} adam;

static void adam_destroy(void *self)
{
    adam *a = self;
    if (!a) return;
    for (size_t k = 0; k < a->nl; k++) {
        if (a->m) free(a->m[k]);
        if (a->v) free(a->v[k]);
    }
    free(a->m);
    free(a->v);
    free(a);
}

static void adam_step(void *self, double lr)
{
    adam *a = self;
    a->t++;
    const double c1 = 1.0 - pow(a->hp.beta1, (double)a->t), c2 = 1.0 - pow(a->hp.beta2, (double)a->t);
    a->a_t = (float)(lr * sqrt(c2) / c1);
}

/* n parameters w with gradient g and moments m, v. */
static void adam_apply(const adam *a, float *w, const float *g, float *m, float *v, size_t n)
{
    const float b1 = (float)a->hp.beta1, b2 = (float)a->hp.beta2;
    const float c1 = (float)(1.0 - a->hp.beta1), c2 = (float)(1.0 - a->hp.beta2), eps = (float)a->hp.eps;
    const float a_t = a->a_t;
    for (size_t i = 0; i < n; i++) {
        m[i] = b1 * m[i] + c1 * g[i];
        v[i] = b2 * v[i] + c2 * g[i] * g[i];
        w[i] -= a_t * m[i] / (sqrtf(v[i]) + eps);
    }
}

static int adam_update(void *self, const xb_train_params *p, double lr, xb_error *err)
{
    adam *a = self;
    if (p->layer >= a->nl || !a->m[p->layer])
        return xb_errorf(err, XB_EINPUT, "adam: layer %zu has no moments (not a layer with weights)", p->layer);
    const size_t nw = p->n_out * p->n_in;
    float *m = a->m[p->layer], *v = a->v[p->layer];
    adam_apply(a, p->w, p->gw, m, v, nw);
    adam_apply(a, p->b, p->gb, m + nw, v + nw, p->n_out);
    return XB_OK;
}

int xb_train_adam_new(xb_tnet *t, const xb_train_adam_params *p, xb_train_optimizer *out, xb_error *err)
{
    memset(out, 0, sizeof *out);
    adam *a = calloc(1, sizeof *a);
    if (!a) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    if (p) a->hp = *p;
    else xb_train_adam_params_default(&a->hp);
    if (!(a->hp.beta1 >= 0 && a->hp.beta1 < 1) || !(a->hp.beta2 >= 0 && a->hp.beta2 < 1) || !(a->hp.eps > 0)) {
        free(a);
        return xb_errorf(err, XB_EINPUT, "adam: beta1, beta2 must be in [0, 1) and eps > 0");
    }
    a->nl = xb_tnet_n_layers(t);
    a->m = calloc(a->nl ? a->nl : 1, sizeof *a->m);
    a->v = calloc(a->nl ? a->nl : 1, sizeof *a->v);
    int ok = a->m && a->v;
    for (size_t k = 0; ok && k < a->nl; k++) {
        float *w, *gw, *b, *gb;
        size_t nw, nb;
        xb_tnet_params(t, k, &w, &gw, &nw, &b, &gb, &nb);
        if (!w) continue;
        ok = (a->m[k] = calloc(nw + nb, sizeof(float))) && (a->v[k] = calloc(nw + nb, sizeof(float)));
    }
    if (!ok) {
        adam_destroy(a);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    out->name = "adam";
    out->self = a;
    out->step = adam_step;
    out->update = adam_update;
    out->destroy = adam_destroy;
    return XB_OK;
}

/* ------------------------------------------------------------------ plain SGD
 * w -= lr g: the digital counterpart of in-memory SGD (docs/training.md), whose per-sample
 * rank-1 pulse updates add up to the same lr times the minibatch gradient in expectation. */
static void sgd_step(void *self, double lr)
{
    (void)self;
    (void)lr;
}

static void sgd_apply(float *w, const float *g, size_t n, float lr)
{
    for (size_t i = 0; i < n; i++) w[i] -= lr * g[i];
}

static int sgd_update(void *self, const xb_train_params *p, double lr, xb_error *err)
{
    (void)self;
    if (!p->w || !p->gw) return xb_errorf(err, XB_EINPUT, "sgd: layer %zu has no weights", p->layer);
    sgd_apply(p->w, p->gw, p->n_out * p->n_in, (float)lr);
    if (p->b && p->gb) sgd_apply(p->b, p->gb, p->n_out, (float)lr);
    return XB_OK;
}

int xb_train_sgd_new(xb_train_optimizer *out, xb_error *err)
{
    if (!out) return xb_errorf(err, XB_EINPUT, "sgd: no optimizer to fill");
    memset(out, 0, sizeof *out);
    out->name = "sgd";
    out->step = sgd_step;
    out->update = sgd_update;
    return XB_OK;
}

void xb_train_optimizer_free(xb_train_optimizer *o)
{
    if (o && o->destroy) o->destroy(o->self);
    if (o) memset(o, 0, sizeof *o);
}
