/* The model engine class: every tile MVM through a fitted behavioural model (reduced-order
 * IR drop, device read nonlinearity, fitted gain; model.c).
 *
 * By default a tile is held in the model's fast form (fit.h, xb_fit_fast_*: I ~= sum_p
 * phi_p(V) M_p fitted to the full model at the tile's programmed conductances), which the
 * executor evaluates with one GEMM per term for a whole row band of tiles.  The number of
 * terms is chosen once, on the first tile programmed: the fewest whose held-out error is
 * within 1.5x of the error with every basis function (or below 1e-9: ohmic cells).  The
 * largest held-out error over all tiles is reported (xb_fit_engine_get_info).  With
 * cfg.exact the full model is evaluated per vector instead.  The optional residual read
 * noise (cfg.read_noise: every column N(0, resid_sigma_rel x rms of the vector's column
 * currents)) is added in mvm from a stream per tile, and declared through the
 * residual_noise operation so that the executor's fast path draws the same law itself.
 * Array energy and read time come from the model file's regressions when it has them
 * (cfg.t_window_s, cfg.t_rise_s; docs/executor.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xbar/fit.h"

typedef struct {
    xb_fit_params m;
    int read_noise;
    int exact;            /* 1: full model per vector */
    xb_fit_choice choice; /* how the model was chosen for the arrays (select.c) */
    uint64_t seed;
    size_t n_programmed;  /* tiles programmed so far: one noise stream / fit seed each */
    xb_fit_basis *basis;  /* fast form basis (built at the first programming) */
    size_t fast_terms;    /* chosen at the first programming */
    size_t fast_cross;    /* IR-drop cross groups, chosen with the terms */
    xb_fit_cross_kind fast_kind; /* ... and their kind */
    int no_cross;         /* xb_fit_engine_plain_fast: forms without cross groups */
    double fast_err_max;  /* largest held-out error (network-like vectors, column pairs) so far */
    xb_fit_stats stats;   /* energy and settling regressions of the model file */
    double t_window_s, t_rise_s;
} model_engine;

typedef struct {
    xb_fit_eval *e;   /* exact mode */
    xb_fit_fast *f;   /* fast mode */
} model_tile;

static double settling_s(const model_engine *t)
{
    return xb_fit_stats_settling_s(&t->stats, &t->m.config, t->t_rise_s);
}

/* One tile read: at least the read window, and not before the array has settled. */
static double model_time(void *self, void *tile)
{
    const model_engine *t = self;
    double ts = t->stats.have_settling ? settling_s(t) : 0.0;
    return isfinite(ts) && ts > t->t_window_s ? ts : t->t_window_s;
}

static int model_energy_law(void *self, double *k_res_s, double *k_cap_farad)
{
    const model_engine *t = self;
    if (!t->stats.have_energy) return 0;
    double tr = model_time(self, NULL) - t->t_rise_s;
    *k_res_s = t->stats.energy_coef[0] * ((tr > 0 ? tr : 0.0) + t->t_rise_s / 3);
    *k_cap_farad = t->stats.energy_coef[1] * t->m.config.c_wire_farad * (double)t->m.config.cols;
    return 1;
}

static void tile_free(model_tile *mt)
{
    if (!mt) return;
    xb_fit_eval_free(mt->e);
    xb_fit_fast_free(mt->f);
    free(mt);
}

/* splitmix64 of the seed and the tile number (1, 2, ... in programming order): one
 * reproducible stream per tile */
static uint64_t tile_seed(const model_engine *t, size_t tile_no, uint64_t salt)
{
    return xb_hash64(t->seed + XB_SPLITMIX64_GAMMA * tile_no + salt);
}

/* The fast form's error budget: the held-out error on network-like vectors, of the column
 * pairs (the executor's differential outputs). */
static double fast_err(const xb_fit_fast *f) { return xb_fit_fast_error_pairs(f); }

/* The first fast form: every number of terms of the basis, each without and with as many
 * IR-drop cross groups (unless no_cross); keep the one with the fewest feature groups whose
 * held-out error is within 1.5x of the best (or below 1e-9: ohmic cells). */
static int first_fast(model_engine *t, const xb_matrix *g, uint64_t seed, xb_fit_fast **out, xb_error *err)
{
    int rc = XB_OK;
    if (!t->basis && (rc = xb_fit_basis_new(&t->m, 1e-6, XB_FIT_FAST_MAX_TERMS, &t->basis, err))) return rc;
    /* x = 0: no cross groups, 1: the tile's total input (XB_FIT_CROSS_SUM), 2: the column
     * kernel (XB_FIT_CROSS_COLUMN) */
    const size_t nb = xb_fit_basis_terms(t->basis), nx = t->no_cross || xb_fit_basis_is_linear(t->basis) ? 1 : 3;
    xb_fit_fast *cand[3 * XB_FIT_FAST_MAX_TERMS] = {0}; /* [x * nb + r - 1]: r terms, cross x */
    double best = INFINITY;
    for (size_t x = 0; x < nx && !rc; x++)
        for (size_t r = 1; r <= nb && !rc; r++) {
            xb_fit_fast **c = &cand[x * nb + r - 1];
            const xb_fit_cross_kind kind = x == 2 ? XB_FIT_CROSS_COLUMN : XB_FIT_CROSS_SUM;
            rc = xb_fit_fast_new_form(&t->m, t->basis, r, x ? r : 0, kind, g, seed, c, err);
            if (!rc) best = fmin(best, fast_err(*c));
        }
    /* the fewest groups within 1.5x of the best; among as many groups, the smallest error */
    size_t pick = nb - 1, groups = SIZE_MAX;
    for (size_t q = 0; q < nx * nb && !rc; q++) {
        const size_t gq = xb_fit_fast_groups(cand[q]);
        if (fast_err(cand[q]) <= fmax(1.5 * best, 1e-9) &&
            (gq < groups || (gq == groups && fast_err(cand[q]) < fast_err(cand[pick])))) {
            pick = q;
            groups = gq;
        }
    }
    for (size_t q = 0; q < nx * nb; q++)
        if (q != pick || rc) xb_fit_fast_free(cand[q]);
    if (rc) return rc;
    t->fast_terms = xb_fit_fast_terms(cand[pick]);
    t->fast_cross = xb_fit_fast_cross(cand[pick]);
    t->fast_kind = xb_fit_fast_cross_kind(cand[pick]);
    *out = cand[pick];
    return XB_OK;
}

static int check_shape(const model_engine *t, const xb_matrix *g, xb_error *err)
{
    if (g->rows != t->m.config.rows || g->cols != t->m.config.cols)
        return xb_errorf(err, XB_EINPUT, "model is for %zux%zu arrays, the tiles are %zux%zu", t->m.config.rows,
                         t->m.config.cols, g->rows, g->cols);
    return XB_OK;
}

/* Tile number tile_no at g.  Changes nothing in t once the fast form's terms are chosen (or
 * in exact mode): tiles after the first may be programmed at the same time. */
static int program_tile(model_engine *t, const xb_matrix *g, size_t tile_no, model_tile **out, xb_error *err)
{
    model_tile *mt = calloc(1, sizeof *mt);
    if (!mt) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    int rc;
    if (t->exact) {
        rc = xb_fit_eval_new(&t->m, g, &mt->e, err);
    } else {
        uint64_t fs = tile_seed(t, tile_no, 0xFA57ull);
        rc = t->fast_terms ? xb_fit_fast_new_form(&t->m, t->basis, t->fast_terms, t->fast_cross, t->fast_kind, g, fs,
                                                  &mt->f, err)
                           : first_fast(t, g, fs, &mt->f, err);
    }
    if (!rc && t->read_noise && t->m.resid_sigma_rel > 0) /* one stream per tile */
        rc = mt->f ? xb_fit_fast_set_noise(mt->f, 1, tile_seed(t, tile_no, 0), err)
                   : xb_fit_eval_set_noise(mt->e, 1, tile_seed(t, tile_no, 0), err);
    if (rc) {
        tile_free(mt);
        return rc;
    }
    *out = mt;
    return XB_OK;
}

static void note_tile(model_engine *t, const model_tile *mt)
{
    if (mt->f) t->fast_err_max = fmax(t->fast_err_max, fast_err(mt->f));
}

static int model_program(void *self, const xb_array_params *p, const xb_matrix *g, void **tile, xb_error *err)
{
    model_engine *t = self;
    int rc = check_shape(t, g, err);
    if (rc) return rc;
    model_tile *mt = NULL;
    if ((rc = program_tile(t, g, ++t->n_programmed, &mt, err))) return rc;
    note_tile(t, mt);
    *tile = mt;
    return XB_OK;
}

/* ---- several tiles at once: tile k of the call is tile number base + k + 1, worker w of W
 * programs k = k0 + w, k0 + w + W, ... (the same tiles for any W) */
#define MODEL_MAX_WORKERS 64

typedef struct {
    model_engine *t;
    const xb_matrix *const *g;
    void **tiles;
    size_t n, k0, base;
    int rc[MODEL_MAX_WORKERS];       /* per worker: its first failure ... */
    size_t k_fail[MODEL_MAX_WORKERS]; /* ... at this tile */
    xb_error err[MODEL_MAX_WORKERS];
} program_job;

static void program_job_run(void *arg, size_t w, size_t nw)
{
    program_job *jb = arg;
    for (size_t k = jb->k0 + w; k < jb->n && !jb->rc[w]; k += nw) {
        model_tile *mt = NULL;
        jb->rc[w] = program_tile(jb->t, jb->g[k], jb->base + k + 1, &mt, &jb->err[w]);
        jb->tiles[k] = mt;
        jb->k_fail[w] = k;
    }
}

static int model_program_multi(void *self, const xb_array_params *p, const xb_matrix *const *g, size_t n,
                               void **tiles, xb_error *err)
{
    model_engine *t = self;
    int rc = XB_OK;
    for (size_t k = 0; k < n && !rc; k++) rc = check_shape(t, g[k], err);
    if (rc || n == 0) return rc;
    const size_t base = t->n_programmed;
    size_t k0 = 0;
    if (!t->exact && !t->fast_terms) { /* the first tile chooses the form: alone */
        model_tile *mt = NULL;
        if ((rc = program_tile(t, g[0], base + 1, &mt, err))) return rc;
        tiles[0] = mt;
        k0 = 1;
    }
    /* the fits' small BLAS calls on one thread each; as many workers as BLAS had threads */
    const int nth = xb_blas_serial_begin();
    size_t nw = nth > 1 ? (size_t)nth : 1;
    if (nw > MODEL_MAX_WORKERS) nw = MODEL_MAX_WORKERS;
    if (nw > n - k0) nw = n - k0 ? n - k0 : 1;
    program_job *job = calloc(1, sizeof *job);
    xb_workers *wk = nw > 1 ? xb_workers_new(nw) : NULL; /* NULL: this thread alone */
    if (!job) {
        rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    } else {
        *job = (program_job){.t = t, .g = g, .tiles = tiles, .n = n, .k0 = k0, .base = base};
        xb_workers_run(wk, program_job_run, job);
        /* the failure of the lowest tile number: the message a loop of model_program gives */
        size_t k_fail = n;
        for (size_t w = 0; w < MODEL_MAX_WORKERS; w++)
            if (job->rc[w] && job->k_fail[w] < k_fail) {
                k_fail = job->k_fail[w];
                rc = job->rc[w];
                if (err) *err = job->err[w];
            }
    }
    xb_workers_free(wk);
    free(job);
    xb_blas_serial_end(nth);
    for (size_t k = 0; k < n; k++) {
        if (rc) {
            tile_free(tiles[k]);
            tiles[k] = NULL;
        } else {
            note_tile(t, tiles[k]);
        }
    }
    if (!rc) t->n_programmed = base + n;
    return rc;
}

static int model_mvm(void *self, void *tile, const xb_matrix *v, xb_matrix *i_out, xb_error *err)
{
    model_tile *mt = tile;
    return mt->f ? xb_fit_fast_mvm(mt->f, v, i_out, err) : xb_fit_eval_mvm(mt->e, v, i_out, err);
}

/* Array energy of an mvm by the fitted law, row currents from the tile's form (the fast
 * form: sum_p phi_p(v_i) sum_j M_p[i][j]; exact: the full model's row currents). */
static int model_array_energy(void *self, void *tile, const xb_matrix *v, const xb_matrix *i_out, double *e_joule)
{
    model_tile *mt = tile;
    double k_res, k_cap;
    *e_joule = 0;
    if (!model_energy_law(self, &k_res, &k_cap)) return XB_EINPUT;
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

static const struct xb_fit_fast *model_fast_form(void *self, void *tile)
{
    const model_tile *mt = tile;
    return mt->f;
}

static double model_residual_noise(void *self)
{
    const model_engine *t = self;
    return t->read_noise ? t->m.resid_sigma_rel : 0.0;
}

static void model_release(void *self, void *tile) { tile_free(tile); }

static void model_destroy(void *self)
{
    model_engine *t = self;
    if (!t) return;
    xb_fit_basis_free(t->basis);
    free(t);
}

/* The engine over model m (checked) with the file's regressions st (NULL: none). */
static int model_wrap(const xb_fit_params *m, const xb_fit_stats *st, const xb_fit_choice *choice, const xb_engine_config *cfg,
                      xb_engine **out, xb_error *err)
{
    int rc = xb_fit_params_check(m, err);
    if (rc) return rc;
    model_engine *t = calloc(1, sizeof *t);
    if (!t) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    t->m = *m;
    t->read_noise = cfg->read_noise != 0;
    t->exact = cfg->exact != 0;
    if (choice) t->choice = *choice; /* else kind FITTED, empty line: a model given directly */
    t->seed = cfg->seed;
    t->t_window_s = cfg->t_window_s;
    t->t_rise_s = cfg->t_rise_s;
    if (st) t->stats = *st;
    xb_engine_ops ops = {
        .program = model_program,
        .program_multi = model_program_multi,
        .mvm = model_mvm,
        .release = model_release,
        .destroy = model_destroy,
        .read_time_s = model_time,
        .fast_form = model_fast_form,
        .residual_noise = model_residual_noise,
    };
    if (t->stats.have_energy) {
        ops.array_energy = model_array_energy;
        ops.energy_law = model_energy_law;
    }
    unsigned caps = xb_fit_engine_class_model.caps;
    if (t->read_noise && t->m.resid_sigma_rel > 0) caps &= ~(unsigned)XB_ENGINE_CAP_DETERMINISTIC;
    return xb_engine_wrap(&xb_fit_engine_class_model, &ops, t, caps, out, err);
}

int xb_fit_engine_new(const xb_fit_params *m, const xb_engine_config *cfg, xb_engine **out, xb_error *err)
{
    if (out) *out = NULL;
    if (!m || !out) return xb_errorf(err, XB_EINPUT, "model engine: missing argument");
    xb_engine_config def;
    if (!cfg) {
        xb_engine_config_default(&def);
        cfg = &def;
    }
    return model_wrap(m, NULL, NULL, cfg, out, err);
}

/* From a model file: the model for cfg->array (xb_fit_file_choose) and the file's energy
 * and settling regressions.  The caller programs conductances itself: the model is
 * evaluated at that array's circuit description, as fitted. */
static int model_create(const xb_engine_class *cls, const xb_engine_config *cfg, xb_engine **out, xb_error *err)
{
    if (!cfg->file) return xb_errorf(err, XB_EINPUT, "engine model: needs a model file");
    if (!cfg->array) return xb_errorf(err, XB_EINPUT, "engine model: needs the array configuration");
    xb_fit_params m;
    xb_fit_choice ch;
    int rc = xb_fit_file_choose(cfg->file, cfg->array, &m, &ch, err);
    if (rc) return rc;
    xb_fit_stats st;
    if ((rc = xb_fit_stats_read(cfg->file, &st, err))) return rc;
    return model_wrap(&m, &st, &ch, cfg, out, err);
}

const xb_engine_class xb_fit_engine_class_model = {
    .name = "model",
    .summary = "a fitted behavioural model of a model file (docs/fit.md)",
    .caps = XB_ENGINE_CAP_DETERMINISTIC,
    .create = model_create,
};

int xb_fit_engine_get_info(const xb_engine *e, xb_fit_engine_info *out, xb_error *err)
{
    if (!e || !out) return xb_errorf(err, XB_EINPUT, "model engine info: missing argument");
    if (xb_engine_class_of(e) != &xb_fit_engine_class_model)
        return xb_errorf(err, XB_EINPUT, "engine %s is not a fitted model", xb_engine_name(e));
    const model_engine *t = xb_engine_self(e);
    memset(out, 0, sizeof *out);
    out->model = &t->m;
    out->from_family = t->choice.kind == XB_FIT_CHOICE_FAMILY;
    out->choice = t->choice;
    out->exact = t->exact;
    out->fast_terms = t->exact ? 0 : t->fast_terms;
    out->fast_cross = t->exact ? 0 : t->fast_cross;
    out->fast_kind = t->fast_kind;
    out->fast_error = t->exact ? 0.0 : t->fast_err_max;
    out->settling_s = settling_s(t);
    out->has_energy = t->stats.have_energy;
    return XB_OK;
}

int xb_fit_engine_plain_fast(xb_engine *e, xb_error *err)
{
    if (!e) return xb_errorf(err, XB_EINPUT, "model engine: missing argument");
    if (xb_engine_class_of(e) != &xb_fit_engine_class_model) return XB_OK; /* nothing to switch off */
    model_engine *t = xb_engine_self(e);
    t->no_cross = 1;
    if (t->fast_cross) { /* chosen already: choose again at the next programming */
        t->fast_cross = 0;
        t->fast_kind = XB_FIT_CROSS_SUM;
        t->fast_terms = 0;
    }
    return XB_OK;
}
