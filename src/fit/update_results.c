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

/* The trains of one point. */
typedef struct {
    char name[64];
    xb_device_kind device;
    size_t D, S, K;
    double *g, *e;       /* D x S x (K+1), D x S x K */
    int *dir;            /* S x K */
    unsigned char *held; /* S x K */
    double up_volt, down_volt, width_s;
} ptrains;

static void ptrains_free(ptrains *t)
{
    free(t->g);
    free(t->e);
    free(t->dir);
    free(t->held);
    memset(t, 0, sizeof *t);
}

static int attr_num(hid_t g, const char *where, const char *name, double *v, xb_error *err)
{
    if (!xb_h5_attr_exists(g, ".", name)) return xb_errorf(err, XB_EINPUT, "%s: missing attribute '%s'", where, name);
    if (xb_h5_attr_get_double(g, ".", name, v, NULL) == XB_OK) return XB_OK;
    int64_t i;
    if (xb_h5_attr_get_int64(g, ".", name, &i, NULL) == XB_OK) {
        *v = (double)i;
        return XB_OK;
    }
    return xb_errorf(err, XB_EINPUT, "%s: attribute '%s' is not a number", where, name);
}

/* One dataset of the program group with its rank and unit; dims out. */
static int read_ds(hid_t g, const char *where, const char *name, int rank, const char *unit, double **v, hsize_t *d,
                   xb_error *err)
{
    *v = NULL;
    if (!xb_h5_exists(g, name)) return xb_errorf(err, XB_EINPUT, "%s/%s: missing dataset", where, name);
    int rk;
    int rc = xb_h5_read_doubles(g, name, v, &rk, d, err);
    if (rc) {
        xb_error_prefix(err, "%s/%s: ", where, name);
        return rc;
    }
    char u[32] = "";
    xb_h5_read_units(g, name, u, sizeof u, NULL);
    if (rk != rank) rc = xb_errorf(err, XB_EINPUT, "%s/%s: rank %d, expected %d", where, name, rk, rank);
    else if (strcmp(u, unit) != 0) rc = xb_errorf(err, XB_EINPUT, "%s/%s: unit '%s', expected '%s'", where, name, u, unit);
    if (rc) {
        free(*v);
        *v = NULL;
    }
    return rc;
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

static int load_program(hid_t pg, const char *where, ptrains *t, xb_error *err)
{
    double *dirv = NULL, cyc = 0, pul = 0, npre = 0;
    hsize_t dg[4], dd[4], de[4];
    int rc = read_ds(pg, where, "train_g", 3, "S", &t->g, dg, err);
    if (!rc) rc = read_ds(pg, where, "train_direction", 2, "1", &dirv, dd, err);
    if (!rc) rc = read_ds(pg, where, "train_energy", 3, "J", &t->e, de, err);
    if (!rc && (dg[0] < 1 || dg[1] < 1 || dg[2] < 2))
        rc = xb_errorf(err, XB_EINPUT, "%s/train_g: shape must be (devices, starts, slots + 1) with slots >= 1", where);
    if (!rc && (dd[0] != dg[1] || dd[1] + 1 != dg[2]))
        rc = xb_errorf(err, XB_EINPUT, "%s/train_direction: shape (%llu, %llu) does not match train_g (%llu, %llu, %llu)",
                       where, (unsigned long long)dd[0], (unsigned long long)dd[1], (unsigned long long)dg[0],
                       (unsigned long long)dg[1], (unsigned long long)dg[2]);
    if (!rc && (de[0] != dg[0] || de[1] != dg[1] || de[2] + 1 != dg[2]))
        rc = xb_errorf(err, XB_EINPUT, "%s/train_energy: shape does not match train_g", where);
    if (!rc) {
        t->D = (size_t)dg[0];
        t->S = (size_t)dg[1];
        t->K = (size_t)dd[1];
        t->dir = malloc(t->S * t->K * sizeof *t->dir);
        t->held = malloc(t->S * t->K);
        if (!t->dir || !t->held) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    for (size_t k = 0; !rc && k < t->S * t->K; k++) {
        if (dirv[k] != -1 && dirv[k] != 0 && dirv[k] != 1)
            rc = xb_errorf(err, XB_EINPUT, "%s/train_direction: value %g (not -1, 0, 1)", where, dirv[k]);
        else t->dir[k] = (int)dirv[k];
    }
    free(dirv);
    if (!rc) rc = attr_num(pg, where, "up_volt", &t->up_volt, err);
    if (!rc) rc = attr_num(pg, where, "down_volt", &t->down_volt, err);
    if (!rc) rc = attr_num(pg, where, "pulse_width_s", &t->width_s, err);
    if (!rc) rc = attr_num(pg, where, "cycles", &cyc, err);
    if (!rc) rc = attr_num(pg, where, "pulses", &pul, err);
    if (!rc) rc = attr_num(pg, where, "preset_slots", &npre, err);
    if (!rc && !(cyc >= 1 && pul >= 1 && npre >= 0 && 2 * cyc * pul + npre == (double)t->K))
        rc = xb_errorf(err, XB_EINPUT, "%s: cycles %g x 2 x pulses %g + preset_slots %g != %zu slots", where, cyc, pul,
                       npre, t->K);
    if (!rc) heldout_mask(t, (size_t)cyc, (size_t)pul, (size_t)npre);
    return rc;
}

/* The trains of point `name`, if it is a finished point with them (*found). */
static int load_trains(hid_t f, const char *path, const char *name, ptrains *t, int *found, xb_error *err)
{
    memset(t, 0, sizeof *t);
    *found = 0;
    char pp[96], gp[128];
    snprintf(pp, sizeof pp, "points/%s", name);
    snprintf(gp, sizeof gp, "points/%s/program", name);
    if (!xb_h5_exists(f, gp) || !xb_h5_attr_exists(f, pp, "status") || !xb_h5_attr_exists(f, pp, "device")) return XB_OK;
    char *st = NULL, *dev = NULL;
    int rc = xb_h5_attr_get_string(f, pp, "status", &st, err);
    int ok = !rc && strcmp(st, "ok") == 0;
    free(st);
    if (rc || !ok) return rc;
    hid_t pg;
    rc = xb_h5_group_open(f, gp, &pg, err);
    if (rc) return rc;
    if (!xb_h5_exists(pg, "train_g")) { /* a device without a dynamic model, or records older than trains */
        H5Gclose(pg);
        return XB_OK;
    }
    char where[512];
    snprintf(where, sizeof where, "%s:/%s", path, gp);
    rc = xb_h5_attr_get_string(f, pp, "device", &dev, err);
    if (!rc && xb_device_from_name(dev, &t->device))
        rc = xb_errorf(err, XB_EINPUT, "%s:/%s: unknown device '%s'", path, pp, dev);
    free(dev);
    snprintf(t->name, sizeof t->name, "%s", name);
    if (!rc) rc = load_program(pg, where, t, err);
    H5Gclose(pg);
    if (rc) ptrains_free(t);
    else *found = 1;
    return rc;
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

int xb_fit_trains_load(hid_t results, const char *path, char **names, size_t nn, xb_update_set **out, xb_error *err)
{
    *out = NULL;
    xb_update_set *ts = calloc(1, sizeof *ts);
    if (ts) ts->pts = calloc(nn ? nn : 1, sizeof *ts->pts);
    if (ts) ts->groups = calloc(XB_DEVICE_COUNT, sizeof *ts->groups);
    if (!ts || !ts->pts || !ts->groups) {
        xb_update_set_free(ts);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    int rc = XB_OK;
    for (size_t k = 0; !rc && k < nn; k++) {
        int found = 0;
        if (names[k][0] == '.') continue; /* a point being copied in */
        rc = load_trains(results, path, names[k], &ts->pts[ts->np], &found, err);
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
    *out = NULL;
    if (!xb_h5_is_hdf5(results_path)) return xb_errorf(err, XB_EINPUT, "%s: not an HDF5 file (or cannot open)", results_path);
    hid_t f;
    int rc = xb_h5_open(results_path, 0, &f, err);
    if (rc) return rc;
    char **names = NULL;
    size_t nn = 0;
    if (!xb_h5_exists(f, "points")) rc = xb_errorf(err, XB_EINPUT, "%s: missing group /points", results_path);
    if (!rc) rc = xb_h5_list(f, "points", &names, &nn, err);
    if (!rc) rc = xb_fit_trains_load(f, results_path, names, nn, out, err);
    xb_h5_free_names(names, nn);
    xb_h5_close(f, NULL);
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
