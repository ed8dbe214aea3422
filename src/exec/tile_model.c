/* The model tile engine: every tile MVM through a fitted behavioural model of the fit
 * stage (reduced-order IR drop, device read nonlinearity, fitted gain).
 *
 * By default a tile is held in the model's fast form (fit.h, xb_fit_fast_*: I ~= sum_p
 * phi_p(V) M_p fitted to the full model at the tile's programmed conductances), which the
 * executor evaluates with one GEMM per term for a whole row band of tiles.  The number of
 * terms is chosen once, on the first tile programmed: the fewest whose held-out error is
 * within 1.5x of the error with every basis function (or below 1e-9: ohmic cells).  The
 * largest held-out error over all tiles is reported (xb_tile_model_fast_error).  With
 * xb_tile_model_set_exact the full model is evaluated per vector instead.  The optional
 * residual read noise (every column N(0, resid_sigma_rel x rms of the vector's column
 * currents)) is added in mvm from a stream per tile, and declared through the
 * residual_noise hook so that the executor's fast path draws the same law itself.  Array
 * energy and read time come from the model file's regressions when it has them
 * (xb_tile_model_set_timing; docs/executor.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>


#include "xbar/exec.h"
#include "xbar/fit.h"

struct xb_tile_model {
    xb_fit_params m;
    int read_noise;
    int exact;            /* 1: full model per vector */
    uint64_t seed;
    size_t n_programmed;  /* tiles programmed so far: one noise stream / fit seed each */
    xb_fit_basis *basis;  /* fast form basis (built at the first programming) */
    size_t fast_terms;    /* chosen at the first programming */
    double fast_err_max;  /* largest held-out error of a fast form so far */
    xb_fit_stats stats;   /* energy and settling regressions of the model file */
    double t_window_s, t_rise_s;
};

typedef struct {
    xb_fit_eval *e;   /* exact mode */
    xb_fit_fast *f;   /* fast mode */
} model_tile;

int xb_tile_model_new(const struct xb_fit_params *m, int read_noise, uint64_t seed, xb_tile_model **out,
                      xb_error *err)
{
    *out = NULL;
    int rc = xb_fit_params_check(m, err);
    if (rc) return rc;
    xb_tile_model *t = calloc(1, sizeof *t);
    if (!t) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    t->m = *m;
    t->read_noise = read_noise;
    t->seed = seed;
    t->t_window_s = 100e-9;
    t->t_rise_s = 10e-12;
    *out = t;
    return XB_OK;
}

int xb_tile_model_load(const char *model_path, const xb_array_params *tile_p, int read_noise,
                       xb_tile_model **out, int *from_family, xb_error *err)
{
    xb_fit_params m;
    int fam = 0;
    *out = NULL;
    int rc = xb_fit_file_model_for(model_path, tile_p, &m, &fam, err);
    if (rc) return rc;
    if (from_family) *from_family = fam;
    /* the executor programs conductances itself: evaluate the model at this array's
     * circuit description (rows/cols, device range), as fitted */
    xb_fit_stats st;
    if ((rc = xb_fit_stats_read(model_path, &st, err))) return rc;
    if ((rc = xb_tile_model_new(&m, read_noise, tile_p->seed, out, err))) return rc;
    (*out)->stats = st;
    return XB_OK;
}

void xb_tile_model_set_timing(xb_tile_model *t, double t_window_s, double t_rise_s)
{
    t->t_window_s = t_window_s;
    t->t_rise_s = t_rise_s;
}

double xb_tile_model_settling_s(const xb_tile_model *t)
{
    return xb_fit_stats_settling_s(&t->stats, &t->m.config, t->t_rise_s);
}

int xb_tile_model_has_energy(const xb_tile_model *t) { return t->stats.have_energy; }

/* One tile read: at least the read window, and not before the array has settled. */
static double model_time(void *ctx, void *tile)
{
    (void)tile;
    const xb_tile_model *t = ctx;
    double ts = t->stats.have_settling ? xb_tile_model_settling_s(t) : 0.0;
    return isfinite(ts) && ts > t->t_window_s ? ts : t->t_window_s;
}

static int model_energy_law(void *ctx, double *k_res_s, double *k_cap_farad)
{
    const xb_tile_model *t = ctx;
    if (!t->stats.have_energy) return 0;
    double tr = model_time(ctx, NULL) - t->t_rise_s;
    *k_res_s = t->stats.energy_coef[0] * ((tr > 0 ? tr : 0.0) + t->t_rise_s / 3);
    *k_cap_farad = t->stats.energy_coef[1] * t->m.config.c_wire_farad * (double)t->m.config.cols;
    return 1;
}

void xb_tile_model_set_exact(xb_tile_model *t, int exact) { t->exact = exact != 0; }
size_t xb_tile_model_fast_terms(const xb_tile_model *t) { return t->exact ? 0 : t->fast_terms; }
double xb_tile_model_fast_error(const xb_tile_model *t) { return t->exact ? 0.0 : t->fast_err_max; }

void xb_tile_model_free(xb_tile_model *t)
{
    if (!t) return;
    xb_fit_basis_free(t->basis);
    free(t);
}

static void tile_free(model_tile *mt)
{
    if (!mt) return;
    xb_fit_eval_free(mt->e);
    xb_fit_fast_free(mt->f);
    free(mt);
}

/* splitmix64 of the seed and the tile number: one reproducible stream per tile */
static uint64_t tile_seed(const xb_tile_model *t, uint64_t salt)
{
    return xb_hash64(t->seed + XB_SPLITMIX64_GAMMA * t->n_programmed + salt);
}

/* The first fast form: try every number of terms of the basis, keep the fewest within
 * 1.5x of the best held-out error. */
static int first_fast(xb_tile_model *t, const xb_matrix *g, uint64_t seed, xb_fit_fast **out, xb_error *err)
{
    int rc = xb_fit_basis_new(&t->m, 1e-6, XB_FIT_FAST_MAX_TERMS, &t->basis, err);
    if (rc) return rc;
    const size_t nb = xb_fit_basis_terms(t->basis);
    xb_fit_fast *cand[XB_FIT_FAST_MAX_TERMS] = {0};
    double best = INFINITY;
    for (size_t r = 1; r <= nb && !rc; r++) {
        rc = xb_fit_fast_new(&t->m, t->basis, r, g, seed, &cand[r - 1], err);
        if (!rc) best = fmin(best, xb_fit_fast_error(cand[r - 1]));
    }
    size_t pick = nb;
    for (size_t r = 1; r <= nb && !rc; r++)
        if (xb_fit_fast_error(cand[r - 1]) <= fmax(1.5 * best, 1e-9)) {
            pick = r;
            break;
        }
    for (size_t r = 1; r <= nb; r++)
        if (r != pick || rc) xb_fit_fast_free(cand[r - 1]);
    if (rc) return rc;
    t->fast_terms = pick;
    *out = cand[pick - 1];
    return XB_OK;
}

static int model_program(void *ctx, const xb_array_params *p, const xb_matrix *g_target, void **tile,
                         xb_error *err)
{
    (void)p;
    xb_tile_model *t = ctx;
    if (g_target->rows != t->m.config.rows || g_target->cols != t->m.config.cols)
        return xb_errorf(err, XB_EINPUT, "model is for %zux%zu arrays, the tiles are %zux%zu", t->m.config.rows,
                         t->m.config.cols, g_target->rows, g_target->cols);
    model_tile *mt = calloc(1, sizeof *mt);
    if (!mt) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    t->n_programmed++;
    int rc;
    if (t->exact) {
        rc = xb_fit_eval_new(&t->m, g_target, &mt->e, err);
    } else {
        uint64_t fs = tile_seed(t, 0xFA57ull);
        rc = t->basis ? xb_fit_fast_new(&t->m, t->basis, t->fast_terms, g_target, fs, &mt->f, err)
                      : first_fast(t, g_target, fs, &mt->f, err);
        if (!rc) t->fast_err_max = fmax(t->fast_err_max, xb_fit_fast_error(mt->f));
    }
    if (!rc && t->read_noise && t->m.resid_sigma_rel > 0) /* one stream per tile */
        rc = mt->f ? xb_fit_fast_set_noise(mt->f, 1, tile_seed(t, 0), err)
                   : xb_fit_eval_set_noise(mt->e, 1, tile_seed(t, 0), err);
    if (rc) {
        tile_free(mt);
        return rc;
    }
    *tile = mt;
    return XB_OK;
}

static int model_mvm(void *ctx, void *tile, const xb_matrix *v, xb_matrix *i_out, xb_error *err)
{
    (void)ctx;
    model_tile *mt = tile;
    if (v->rows == 0) return XB_OK;
    return mt->f ? xb_fit_fast_mvm(mt->f, v, i_out, err) : xb_fit_eval_mvm(mt->e, v, i_out, err);
}

/* Array energy of an mvm by the fitted law, row currents from the tile's form (the fast
 * form: sum_p phi_p(v_i) sum_j M_p[i][j]; exact: the full model's row currents). */
static int model_array_energy(void *ctx, void *tile, const xb_matrix *v, const xb_matrix *i_out, double *e_joule)
{
    (void)i_out;
    model_tile *mt = tile;
    double k_res, k_cap;
    *e_joule = 0;
    if (!model_energy_law(ctx, &k_res, &k_cap)) return XB_EINPUT;
    const size_t R = v->cols;
    double *ir = malloc(R * sizeof *ir);
    if (!ir) return XB_ERUNTIME;
    int rc = XB_OK;
    for (size_t k = 0; k < v->rows && !rc; k++) {
        const double *vk = xb_matrix_row(v, k);
        if (mt->f) xb_fit_fast_row_currents(mt->f, vk, ir);
        else rc = xb_fit_eval_row_currents(mt->e, vk, ir, NULL);
        for (size_t i = 0; i < R && !rc; i++) *e_joule += k_res * vk[i] * ir[i] + k_cap * vk[i] * vk[i];
    }
    free(ir);
    return rc;
}

static const struct xb_fit_fast *model_fast_form(void *ctx, void *tile)
{
    (void)ctx;
    const model_tile *mt = tile;
    return mt->f;
}

static double model_residual_noise(void *ctx)
{
    const xb_tile_model *t = ctx;
    return t->read_noise ? t->m.resid_sigma_rel : 0.0;
}

static void model_release(void *ctx, void *tile)
{
    (void)ctx;
    tile_free(tile);
}

void xb_tile_engine_model(xb_tile_engine *e, xb_tile_model *m)
{
    memset(e, 0, sizeof *e);
    e->name = "model";
    e->ctx = m;
    e->program = model_program;
    e->mvm = model_mvm;
    e->release = model_release;
    e->fast_form = model_fast_form;
    e->residual_noise = model_residual_noise;
    e->mvm_time_s = model_time;
    if (m->stats.have_energy) {
        e->array_energy = model_array_energy;
        e->energy_law = model_energy_law;
    }
}
