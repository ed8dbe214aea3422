/* libFuzzer target (input: an HDF5 recipe, fuzz_h5recipe.h): the HDF5 model loader (xb_fit_file_read, xb_fit_stats_read,
 * xb_fit_file_model_for) fed corrupted model files (docs/hdf5-model.md).
 * Invariants: accepted models pass xb_fit_params_check, have finite validity bounds and a
 * configuration within the physical limits (xb_array_params_check), and evaluate to finite
 * currents on a small in-range input; rejections are one-line messages; no crash, leak or
 * unbounded allocation. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_h5recipe.h"
#include "xbar/fit.h"

static void eval_small(const xb_fit_params *m)
{
    size_t r = m->config.rows, c = m->config.cols;
    if (r == 0 || c == 0 || r * c > 4096) return;
    xb_matrix *g = xb_matrix_new(r, c), *v = xb_matrix_new(2, r), *i = xb_matrix_new(2, c);
    double glo = m->valid_g_min_siemens, ghi = m->valid_g_max_siemens;
    for (size_t k = 0; k < r * c; k++) g->data[k] = glo + (ghi - glo) * (double)(k % 7) / 6.0;
    for (size_t k = 0; k < 2 * r; k++) v->data[k] = m->valid_v_max_volt * (double)(k % 3) / 2.0;
    xb_error err;
    if (xb_fit_model_mvm(m, g, v, i, &err) == XB_OK) {
        for (size_t k = 0; k < 2 * c; k++)
            if (!isfinite(i->data[k])) abort();
    } else if (!xb_fuzz_msg_ok(err.msg)) {
        abort();
    }
    xb_matrix_free(g);
    xb_matrix_free(v);
    xb_matrix_free(i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536) return 0;
    const char *path = xb_recipe_file(data, size, ".model.h5");
    if (!path) return 0;
    xb_fit_params *models = NULL;
    xb_fit_metrics *metrics = NULL;
    size_t n = 0;
    xb_error err;
    xb_error_clear(&err);
    int rc = xb_fit_file_read(path, &models, &metrics, &n, &err);
    xb_fuzz_verdict("model_h5", rc, err.msg);
    if (rc == XB_OK) {
        for (size_t k = 0; k < n; k++) {
            xb_error e2;
            if (xb_fit_params_check(&models[k], &e2) != XB_OK) abort();
            if (xb_array_params_check(&models[k].config, &e2) != XB_OK) abort();
            const xb_fit_params *q = &models[k];
            if (!isfinite(q->valid_g_min_siemens) || !isfinite(q->valid_g_max_siemens) ||
                !isfinite(q->valid_v_min_volt) || !isfinite(q->valid_v_max_volt))
                abort();
            if (k < 2) eval_small(&models[k]);
        }
        if (n) {
            xb_fit_params m;
            int fam = 0;
            rc = xb_fit_file_model_for(path, &models[0].config, &m, &fam, &err);
            if (rc != XB_OK && !xb_fuzz_msg_ok(err.msg)) abort();
        }
    } else if (!xb_fuzz_msg_ok(err.msg)) {
        abort();
    }
    free(models);
    free(metrics);
    xb_fit_stats st;
    memset(&st, 0, sizeof st);
    if (xb_fit_stats_read(path, &st, &err) != XB_OK && !xb_fuzz_msg_ok(err.msg)) abort();
    return 0;
}
