/* libFuzzer target (input: an HDF5 recipe, fuzz_h5recipe.h): the HDF5 network loader (xb_network_read, docs/hdf5-network.md) fed
 * corrupted network files.  Invariants: an accepted network has consistent layer shapes
 * (a forward pass of one input runs and fills every layer output) and every weight and bias
 * finite and within the weight limits (common.h); rejections are one-line messages; no
 * crash, leak or unbounded allocation. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_h5recipe.h"
#include "xbar/exec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536) return 0;
    const char *path = xb_recipe_file(data, size, ".net.h5");
    if (!path) return 0;
    xb_network *net = NULL;
    xb_error err;
    xb_error_clear(&err);
    int rc = xb_network_read(path, &net, &err);
    xb_fuzz_verdict("network_h5", rc, err.msg);
    if (rc != XB_OK) {
        if (net || !xb_fuzz_msg_ok(err.msg)) abort();
        return 0;
    }
    if (!net) abort();
    size_t nl = xb_network_n_layers(net);
    if (nl == 0) abort();
    for (size_t k = 0; k < nl; k++) {
        const xb_layer *l = xb_network_layer(net, k);
        xb_error e2;
        if (l->weight && xb_check_floats(XB_QTY_WEIGHT, l->weight, l->n_out * l->n_in, "w", &e2) != XB_OK) abort();
        if (l->bias && xb_check_floats(XB_QTY_WEIGHT, l->bias, l->n_out, "b", &e2) != XB_OK) abort();
    }
    /* Forward one input when the network is small (the loader accepts big ones). */
    double macs = xb_network_macs(net);
    size_t total = xb_network_input_size(net);
    for (size_t k = 0; k < nl; k++) total += xb_layer_out_size(xb_network_layer(net, k));
    if (macs < 1e6 && total < (1u << 20)) {
        float *x = calloc(xb_network_input_size(net), sizeof *x);
        float **acts = calloc(nl, sizeof *acts);
        for (size_t k = 0; k < nl; k++) acts[k] = calloc(xb_layer_out_size(xb_network_layer(net, k)) + 1, sizeof **acts);
        for (size_t k = 0; k < xb_network_input_size(net); k++) x[k] = (float)(k % 5) * 0.25f;
        if (xb_network_forward(net, x, 1, acts, &err) != XB_OK && !xb_fuzz_msg_ok(err.msg)) abort();
        for (size_t k = 0; k < nl; k++) free(acts[k]);
        free(acts);
        free(x);
    }
    xb_network_free(net);
    return 0;
}
