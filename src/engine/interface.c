/* The engine interface (engine.h): configured engines and their tiles over an
 * implementation's ops.  Every public entry checks its arguments (shapes included) here,
 * so implementations only see consistent calls. */
#include <math.h>
#include <stdlib.h>

#include "xbar/engine.h"

struct xb_engine {
    const xb_engine_class *cls;
    xb_engine_ops ops;
    void *self;
    unsigned caps;
};

struct xb_engine_tile {
    xb_engine *eng;
    xb_array_params p; /* rows x cols of every MVM, v_read of cell reads */
    void *impl;        /* the implementation's handle */
};

int xb_engine_wrap(const xb_engine_class *cls, const xb_engine_ops *ops, void *self, unsigned caps,
                   xb_engine **out, xb_error *err)
{
    if (out) *out = NULL;
    if (!cls || !ops || !out || !ops->program || !ops->mvm) {
        if (ops && ops->destroy) ops->destroy(self);
        return xb_errorf(err, XB_EINPUT, "engine %s: program and mvm are required",
                         cls && cls->name ? cls->name : "(unnamed)");
    }
    xb_engine *e = calloc(1, sizeof *e);
    if (!e) {
        if (ops->destroy) ops->destroy(self);
        return xb_errorf(err, XB_ERUNTIME, "engine %s: out of memory", cls->name);
    }
    e->cls = cls;
    e->ops = *ops;
    e->self = self;
    e->caps = caps;
    *out = e;
    return XB_OK;
}

void *xb_engine_self(const xb_engine *e) { return e ? e->self : NULL; }
const xb_engine_class *xb_engine_class_of(const xb_engine *e) { return e ? e->cls : NULL; }
const char *xb_engine_name(const xb_engine *e) { return e && e->cls->name ? e->cls->name : "(unnamed)"; }
unsigned xb_engine_caps(const xb_engine *e) { return e ? e->caps : 0; }

void xb_engine_free(xb_engine *e)
{
    if (!e) return;
    if (e->ops.destroy) e->ops.destroy(e->self);
    free(e);
}

/* Every entry of m within the physical limits of q (common.h): a conductance of 1e300 S gave
 * garbage from ngspice and "floating node" from the native engine; NaN inputs ran. */
static int check_values(const xb_engine *e, const char *what, const xb_matrix *m, xb_quantity q, xb_error *err)
{
    const xb_limit *l = xb_limit_get(q);
    for (size_t i = 0; i < m->rows; i++)
        for (size_t j = 0; j < m->cols; j++) {
            double x = m->data[i * m->cols + j];
            if (x >= l->lo && x <= l->hi) continue;
            if (!isfinite(x))
                return xb_errorf(err, XB_EINPUT, "engine %s: %s (%zu,%zu) is not finite", xb_engine_name(e), what,
                                 i + 1, j + 1);
            return xb_errorf(err, XB_EINPUT, "engine %s: %s (%zu,%zu) = %g %s is outside the %s limits [%g, %g] %s",
                             xb_engine_name(e), what, i + 1, j + 1, x, l->unit, l->name, l->lo, l->hi, l->unit);
        }
    return XB_OK;
}

static int check_program(xb_engine *e, const xb_array_params *p, const xb_matrix *g, xb_error *err)
{
    if (!g) return xb_errorf(err, XB_EINPUT, "engine program: missing argument");
    if (g->rows != p->rows || g->cols != p->cols || !p->rows || !p->cols)
        return xb_errorf(err, XB_EINPUT, "engine %s: conductances are %zux%zu, the array %zux%zu", xb_engine_name(e),
                         g->rows, g->cols, p->rows, p->cols);
    return check_values(e, "conductance", g, XB_QTY_CONDUCTANCE, err);
}

int xb_engine_program(xb_engine *e, const xb_array_params *p, const xb_matrix *g, xb_engine_tile **out,
                      xb_error *err)
{
    if (out) *out = NULL;
    if (!e || !p || !g || !out) return xb_errorf(err, XB_EINPUT, "engine program: missing argument");
    int rc = check_program(e, p, g, err);
    if (rc) return rc;
    xb_engine_tile *t = calloc(1, sizeof *t);
    if (!t) return xb_errorf(err, XB_ERUNTIME, "engine %s: out of memory (tile)", xb_engine_name(e));
    t->eng = e;
    t->p = *p;
    rc = e->ops.program(e->self, p, g, &t->impl, err);
    if (rc) {
        free(t);
        return rc;
    }
    *out = t;
    return XB_OK;
}

int xb_engine_program_multi(xb_engine *e, const xb_array_params *p, const xb_matrix *const *g, size_t n,
                            xb_engine_tile **out, xb_error *err)
{
    if (!out && n) return xb_errorf(err, XB_EINPUT, "engine program: missing argument");
    for (size_t k = 0; k < n; k++) out[k] = NULL;
    if (n == 0) return XB_OK;
    if (!e || !p || !g) return xb_errorf(err, XB_EINPUT, "engine program: missing argument");
    int rc = XB_OK;
    for (size_t k = 0; k < n && !rc; k++)
        if ((rc = check_program(e, p, g[k], err))) xb_error_prefix(err, "array %zu of %zu: ", k + 1, n);
    if (rc) return rc;
    if (!e->ops.program_multi) {
        for (size_t k = 0; k < n && !rc; k++) rc = xb_engine_program(e, p, g[k], &out[k], err);
    } else {
        void **impl = calloc(n, sizeof *impl);
        if (!impl) return xb_errorf(err, XB_ERUNTIME, "engine %s: out of memory", xb_engine_name(e));
        for (size_t k = 0; k < n && !rc; k++)
            if (!(out[k] = calloc(1, sizeof *out[k])))
                rc = xb_errorf(err, XB_ERUNTIME, "engine %s: out of memory (tile)", xb_engine_name(e));
        if (!rc) rc = e->ops.program_multi(e->self, p, g, n, impl, err);
        for (size_t k = 0; k < n && out[k]; k++) {
            out[k]->eng = e;
            out[k]->p = *p;
            out[k]->impl = impl[k];
        }
        free(impl);
    }
    if (rc)
        for (size_t k = 0; k < n; k++) {
            if (out[k] && out[k]->impl) xb_engine_tile_free(out[k]);
            else free(out[k]);
            out[k] = NULL;
        }
    return rc;
}

void xb_engine_tile_free(xb_engine_tile *t)
{
    if (!t) return;
    if (t->eng->ops.release) t->eng->ops.release(t->eng->self, t->impl);
    free(t);
}

xb_engine *xb_engine_tile_engine(const xb_engine_tile *t) { return t ? t->eng : NULL; }

static int check_mvm(const xb_engine_tile *t, const xb_matrix *v, const xb_matrix *i_out, xb_error *err)
{
    if (!t || !v || !i_out) return xb_errorf(err, XB_EINPUT, "engine mvm: missing argument");
    if (v->cols != t->p.rows || i_out->rows != v->rows || i_out->cols != t->p.cols)
        return xb_errorf(err, XB_EINPUT, "engine %s: v is %zux%zu and i_out %zux%zu for a %zux%zu array",
                         xb_engine_name(t->eng), v->rows, v->cols, i_out->rows, i_out->cols, t->p.rows, t->p.cols);
    return check_values(t->eng, "input voltage", v, XB_QTY_VOLTAGE, err);
}

int xb_engine_mvm(xb_engine_tile *t, const xb_matrix *v, xb_matrix *i_out, xb_error *err)
{
    int rc = check_mvm(t, v, i_out, err);
    if (rc || v->rows == 0) return rc;
    return t->eng->ops.mvm(t->eng->self, t->impl, v, i_out, err);
}

int xb_engine_mvm_multi(xb_engine_tile *const *tiles, size_t n, const xb_matrix *v, xb_matrix *const *i_out,
                        xb_error *err)
{
    if (n == 0) return XB_OK;
    if (!tiles || !i_out) return xb_errorf(err, XB_EINPUT, "engine mvm: missing argument");
    for (size_t k = 0; k < n; k++) {
        int rc = check_mvm(tiles[k], v, i_out[k], err);
        if (!rc && tiles[k]->eng != tiles[0]->eng)
            rc = xb_errorf(err, XB_EINPUT, "engine mvm: tiles of different engines");
        if (rc) return rc;
    }
    if (v->rows == 0) return XB_OK;
    xb_engine *e = tiles[0]->eng;
    if (!e->ops.mvm_multi) {
        for (size_t k = 0; k < n; k++) {
            int rc = e->ops.mvm(e->self, tiles[k]->impl, v, i_out[k], err);
            if (rc) return rc;
        }
        return XB_OK;
    }
    void **impl = malloc(n * sizeof *impl);
    if (!impl) return xb_errorf(err, XB_ERUNTIME, "engine %s: out of memory", xb_engine_name(e));
    for (size_t k = 0; k < n; k++) impl[k] = tiles[k]->impl;
    int rc = e->ops.mvm_multi(e->self, impl, n, v, i_out, err);
    free(impl);
    return rc;
}

int xb_engine_cell_read(xb_engine_tile *t, xb_read_scheme scheme, size_t row, size_t col, double *i_read_amp,
                        xb_error *err)
{
    if (!t || !i_read_amp) return xb_errorf(err, XB_EINPUT, "engine cell read: missing argument");
    const xb_engine *e = t->eng;
    if (!e->ops.cell_read || !(e->caps & XB_ENGINE_CAP_CELL_READ))
        return xb_errorf(err, XB_EINPUT, "engine %s: no single-cell reads", xb_engine_name(e));
    if (scheme != XB_READ_FLOAT && scheme != XB_READ_V2 && scheme != XB_READ_V3)
        return xb_errorf(err, XB_EINPUT, "engine %s: a cell read needs scheme float, v2 or v3", xb_engine_name(e));
    if (row >= t->p.rows || col >= t->p.cols)
        return xb_errorf(err, XB_EINPUT, "cell %zu,%zu is outside the %zux%zu array", row, col, t->p.rows, t->p.cols);
    return e->ops.cell_read(e->self, t->impl, scheme, row, col, i_read_amp, err);
}

int xb_engine_transient(xb_engine_tile *t, const double *v, const xb_engine_tran_opts *o, xb_engine_tran_result *r,
                        xb_error *err)
{
    if (!t || !v || !r) return xb_errorf(err, XB_EINPUT, "engine transient: missing argument");
    const xb_engine *e = t->eng;
    if (!e->ops.transient || !(e->caps & XB_ENGINE_CAP_TRANSIENT))
        return xb_errorf(err, XB_EINPUT, "engine %s: no read transients", xb_engine_name(e));
    xb_engine_tran_opts dflt;
    if (!o) {
        xb_engine_tran_opts_default(&dflt);
        o = &dflt;
    }
    return e->ops.transient(e->self, t->impl, v, o, r, err);
}

int xb_engine_mvm_once(xb_engine *e, const xb_array_params *p, const xb_matrix *g, const xb_matrix *v,
                       xb_matrix *i_out, xb_error *err)
{
    xb_engine_tile *t = NULL;
    int rc = xb_engine_program(e, p, g, &t, err);
    if (!rc) rc = xb_engine_mvm(t, v, i_out, err);
    xb_engine_tile_free(t);
    return rc;
}

int xb_engine_cell_read_once(xb_engine *e, const xb_array_params *p, const xb_matrix *g, xb_read_scheme scheme,
                             size_t row, size_t col, double *i_read_amp, xb_error *err)
{
    xb_engine_tile *t = NULL;
    int rc = xb_engine_program(e, p, g, &t, err);
    if (!rc) rc = xb_engine_cell_read(t, scheme, row, col, i_read_amp, err);
    xb_engine_tile_free(t);
    return rc;
}

int xb_engine_provides(const xb_engine *e, xb_engine_op op)
{
    if (!e) return 0;
    switch (op) {
    case XB_ENGINE_OP_MVM_MULTI: return e->ops.mvm_multi != NULL;
    case XB_ENGINE_OP_ARRAY_ENERGY: return e->ops.array_energy != NULL;
    case XB_ENGINE_OP_READ_TIME: return e->ops.read_time_s != NULL;
    case XB_ENGINE_OP_FAST_FORM: return e->ops.fast_form != NULL;
    case XB_ENGINE_OP_ENERGY_LAW: return e->ops.energy_law != NULL;
    case XB_ENGINE_OP_RESIDUAL_NOISE: return e->ops.residual_noise != NULL;
    case XB_ENGINE_OP_PROGRAM_MULTI: return e->ops.program_multi != NULL;
    }
    return 0;
}

int xb_engine_array_energy(xb_engine_tile *t, const xb_matrix *v, const xb_matrix *i_out, double *e_joule)
{
    if (!t || !v || !e_joule || !t->eng->ops.array_energy) return XB_EINPUT;
    return t->eng->ops.array_energy(t->eng->self, t->impl, v, i_out, e_joule);
}

double xb_engine_read_time_s(xb_engine_tile *t)
{
    if (!t || !t->eng->ops.read_time_s) return NAN;
    return t->eng->ops.read_time_s(t->eng->self, t->impl);
}

const struct xb_fit_fast *xb_engine_fast_form(xb_engine_tile *t)
{
    if (!t || !t->eng->ops.fast_form) return NULL;
    return t->eng->ops.fast_form(t->eng->self, t->impl);
}

int xb_engine_energy_law(xb_engine *e, double *k_res_s, double *k_cap_farad)
{
    if (!e || !k_res_s || !k_cap_farad || !e->ops.energy_law) return 0;
    return e->ops.energy_law(e->self, k_res_s, k_cap_farad);
}

double xb_engine_residual_noise(xb_engine *e)
{
    if (!e || !e->ops.residual_noise) return 0.0;
    return e->ops.residual_noise(e->self);
}
