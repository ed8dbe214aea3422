/* `xbar fit` on pulse-train records: /points/<p>/program/train_* of a results file
 * (docs/hdf5-results.md) -> one update model per device, /update/<device> of the model file
 * (docs/hdf5-model.md).  Points of one device are pooled (their Monte Carlo devices kept
 * apart) when they share the first point's pulse recipe; others are left out with a note.
 *
 * Held-out slots (the law choice and the scores, src/fit/update.c): the last cycle of every
 * train when a point runs two cycles or more; otherwise, with two start states or more, the
 * cycles of the last start state's trains; otherwise none. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fit/fit_internal.h"

/* The trains of one point (the reader's record) and the held-out mask of the fit. */
typedef struct {
    char name[64];
    xb_device_kind device;
    size_t D, S, K;
    double *g, *e;       /* D x S x (K+1), D x S x K (owned by rec) */
    int *dir;            /* S x K */
    unsigned char *held; /* S x K */
    double up_volt, down_volt, width_s;
    xb_char_result_trains rec;
} ptrains;

static void ptrains_free(ptrains *t)
{
    xb_char_result_trains_clear(&t->rec);
    free(t->held);
    memset(t, 0, sizeof *t);
}

/* The held-out rule of the top of this file. */
static void heldout_mask(ptrains *t, size_t cycles, size_t pulses, size_t n_pre)
{
    const size_t K = t->K;
    for (size_t s = 0; s < t->S; s++)
        for (size_t k = 0; k < K; k++) {
            int h = 0;
            if (cycles >= 2) h = k >= K - 2 * pulses;
            else if (t->S >= 2) h = s == t->S - 1 && k >= n_pre;
            t->held[s * K + k] = (unsigned char)h;
        }
}

/* The trains of point pt through the results reader, if it is a finished point with them
 * (*found). */
static int load_trains(const xb_char_results *res, const char *path, const xb_char_result_point *pt, ptrains *t,
                       int *found, xb_error *err)
{
    memset(t, 0, sizeof *t);
    *found = 0;
    if (pt->in_flight || strcmp(pt->status, "ok") != 0 || !pt->has_trains || !pt->device[0]) return XB_OK;
    if (xb_device_from_name(pt->device, &t->device))
        return xb_errorf(err, XB_EINPUT, "%s:/points/%s: unknown device '%s'", path, pt->name, pt->device);
    int rc = xb_char_results_read_trains(res, pt, &t->rec, err);
    if (rc) return rc;
    snprintf(t->name, sizeof t->name, "%s", pt->name);
    t->D = t->rec.D;
    t->S = t->rec.S;
    t->K = t->rec.K;
    t->g = t->rec.g;
    t->e = t->rec.e;
    t->dir = t->rec.dir;
    t->up_volt = t->rec.up_volt;
    t->down_volt = t->rec.down_volt;
    t->width_s = t->rec.pulse_width_s;
    t->held = malloc(t->S * t->K);
    if (!t->held) {
        ptrains_free(t);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    heldout_mask(t, t->rec.cycles, t->rec.pulses, t->rec.preset_slots);
    *found = 1;
    return XB_OK;
}

static int same_recipe(const ptrains *a, const ptrains *b)
{
    return a->up_volt == b->up_volt && a->down_volt == b->down_volt && a->width_s == b->width_s;
}

/* The trains of a results file, grouped per device. */
typedef struct {
    xb_update_data data;
    xb_update_train *trains;
    char *source;      /* "/points/p00000,/points/p00003" */
    size_t skipped;    /* points of the device with another pulse recipe */
} dev_group;

struct xb_update_set {
    ptrains *pts;
    size_t np;
    dev_group *groups;
    size_t ng;
};

/* Group the points of device dev sharing its first point's recipe (Monte Carlo devices of
 * different points kept apart). */
static int group_device(xb_update_set *ts, xb_device_kind dev, xb_error *err)
{
    const ptrains *first = NULL;
    size_t nt = 0, skipped = 0;
    for (size_t k = 0; k < ts->np; k++) {
        if (ts->pts[k].device != dev) continue;
        if (!first) first = &ts->pts[k];
        if (same_recipe(first, &ts->pts[k])) nt += ts->pts[k].D * ts->pts[k].S;
        else skipped++;
    }
    if (!first) return XB_OK;
    dev_group *g = &ts->groups[ts->ng];
    g->trains = calloc(nt, sizeof *g->trains);
    g->source = calloc(1, 80 * ts->np + 1);
    if (!g->trains || !g->source) {
        free(g->trains);
        free(g->source);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    size_t n = 0, dev_off = 0, so = 0;
    for (size_t k = 0; k < ts->np; k++) {
        const ptrains *p = &ts->pts[k];
        if (p->device != dev || !same_recipe(first, p)) continue;
        so += (size_t)sprintf(g->source + so, "%s/points/%s", so ? "," : "", p->name);
        for (size_t d = 0; d < p->D; d++)
            for (size_t s = 0; s < p->S; s++)
                g->trains[n++] = (xb_update_train){p->K, p->g + (d * p->S + s) * (p->K + 1), p->dir + s * p->K,
                                                   p->e + (d * p->S + s) * p->K, p->held + s * p->K, dev_off + d, s};
        dev_off += p->D;
    }
    g->data = (xb_update_data){dev, n, g->trains, first->up_volt, first->down_volt, first->width_s};
    g->skipped = skipped;
    ts->ng++;
    return XB_OK;
}

/* Fit and write the update model of one device group. */
static int fit_group(hid_t mf, const dev_group *g, int law, xb_fit_summary *sum, xb_error *err)
{
    const xb_device_kind dev = g->data.device;
    xb_update_model *m = &sum->update[sum->n_update];
    int rc = xb_fit_update(&g->data, law, m, err);
    if (rc == XB_EINPUT) {
        /* trains that determine no model (e.g. a device that never switched): a note, no model */
        snprintf(sum->update_notes[sum->n_update_notes++], sizeof sum->update_notes[0], "no model: %.230s", err->msg);
        xb_error_clear(err);
        return XB_OK;
    }
    if (!rc) rc = xb_fit_update_write(mf, m, g->source, err);
    if (rc) {
        xb_fit_update_clear(m);
        return rc;
    }
    sum->n_update++;
    if (g->skipped)
        snprintf(sum->update_notes[sum->n_update_notes++], sizeof sum->update_notes[0],
                 "%s: %zu point(s) with another pulse recipe left out of the update model", xb_device_name(dev),
                 g->skipped);
    return XB_OK;
}

int xb_fit_trains_load(const xb_char_results *res, const char *path, xb_update_set **out, xb_error *err)
{
    *out = NULL;
    const size_t nn = xb_char_results_npoints(res);
    xb_update_set *ts = calloc(1, sizeof *ts);
    if (ts) ts->pts = calloc(nn ? nn : 1, sizeof *ts->pts);
    if (ts) ts->groups = calloc(XB_DEVICE_COUNT, sizeof *ts->groups);
    if (!ts || !ts->pts || !ts->groups) {
        xb_update_set_free(ts);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    int rc = XB_OK;
    for (size_t k = 0; !rc && k < nn; k++) {
        xb_char_result_point pt;
        int found = 0;
        rc = xb_char_results_point(res, k, &pt, err);
        if (!rc) rc = load_trains(res, path, &pt, &ts->pts[ts->np], &found, err);
        if (!rc && found) ts->np++;
    }
    for (int d = 0; !rc && d < XB_DEVICE_COUNT; d++) rc = group_device(ts, (xb_device_kind)d, err);
    if (rc) {
        xb_update_set_free(ts);
        return rc;
    }
    *out = ts;
    return XB_OK;
}

int xb_fit_trains_fit(const xb_update_set *ts, int law, hid_t model, xb_fit_summary *sum, xb_error *err)
{
    int rc = XB_OK;
    for (size_t k = 0; !rc && ts && k < ts->ng; k++) rc = fit_group(model, &ts->groups[k], law, sum, err);
    return rc;
}

int xb_update_set_load(const char *results_path, xb_update_set **out, xb_error *err)
{
    if (!out) return xb_errorf(err, XB_EINPUT, "xb_update_set_load: no output");
    *out = NULL;
    xb_char_results *res = NULL;
    int rc = xb_char_results_open(results_path, &res, err);
    if (!rc) rc = xb_fit_trains_load(res, results_path, out, err);
    xb_char_results_close(res);
    return rc;
}

size_t xb_update_set_count(const xb_update_set *s) { return s ? s->ng : 0; }

const xb_update_data *xb_update_set_data(const xb_update_set *s, size_t k)
{
    return s && k < s->ng ? &s->groups[k].data : NULL;
}

const char *xb_update_set_source(const xb_update_set *s, size_t k)
{
    return s && k < s->ng ? s->groups[k].source : NULL;
}

void xb_update_set_free(xb_update_set *ts)
{
    if (!ts) return;
    for (size_t k = 0; ts->pts && k < ts->np; k++) ptrains_free(&ts->pts[k]);
    for (size_t k = 0; ts->groups && k < ts->ng; k++) {
        free(ts->groups[k].trains);
        free(ts->groups[k].source);
    }
    free(ts->pts);
    free(ts->groups);
    free(ts);
}
