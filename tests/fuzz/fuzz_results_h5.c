/* libFuzzer target (input: an HDF5 recipe, fuzz_h5recipe.h): the results-file reader of `xbar fit` (xb_fit_results, docs/hdf5-results.md)
 * fed corrupted results files: every point's attributes and datasets are read, checked and
 * fitted.  Invariants: either a model file is written or a one-line message names the
 * file; no crash, leak or unbounded allocation. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_h5recipe.h"
#include "xbar/fit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536) return 0;
    const char *path = xb_recipe_file(data, size, ".results.h5");
    if (!path) return 0;
    char model_path[300];
    snprintf(model_path, sizeof model_path, "%s.model.h5", path);
    xb_fit_opts o;
    xb_fit_opts_default(&o);
    o.max_iter = 20;
    xb_fit_summary *s = NULL;
    xb_error err;
    xb_error_clear(&err);
    int rc = xb_fit_results(path, model_path, 1, &o, NULL, NULL, &s, &err);
    xb_fuzz_verdict("results_h5", rc, err.msg);
    if (rc == XB_OK) {
        if (!s) abort();
        /* What was written must read back. */
        xb_fit_params *models = NULL;
        size_t n = 0;
        if (s->n_models) {
            if (xb_fit_file_read(model_path, &models, NULL, &n, &err) != XB_OK) {
                fprintf(stderr, "written model does not read back: %s\n", err.msg);
                abort();
            }
            if (n != s->n_models) abort();
        }
        free(models);
    } else if (!xb_fuzz_msg_ok(err.msg)) {
        abort();
    }
    xb_fit_summary_free(s);
    unlink(model_path);
    return 0;
}
