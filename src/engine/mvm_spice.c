/* xb_engine_mvm_spice: the crossbar MVM through ngspice, all K input vectors in one
 * batched analysis (netlist from src/netlist, batching from engine.h). */
#include <stdlib.h>

#include "xbar/engine.h"
#include "xbar/netlist.h"

int xb_engine_mvm_spice(const xb_engine_opts *o, const xb_array_params *p, const xb_matrix *g,
                        const xb_matrix *v, xb_matrix *i_out, xb_error *err)
{
    if (!p || !g || !v || !i_out) return xb_errorf(err, XB_EINPUT, "mvm spice: missing argument");
    if (v->cols != p->rows)
        return xb_errorf(err, XB_EINPUT, "input vectors have %zu values, the array has %zu rows", v->cols,
                         p->rows);
    if (v->rows == 0) return xb_errorf(err, XB_EINPUT, "no input vectors");
    if (i_out->rows != v->rows || i_out->cols != p->cols)
        return xb_errorf(err, XB_EINPUT, "output matrix is %zux%zu, expected %zux%zu", i_out->rows,
                         i_out->cols, v->rows, p->cols);
    xb_netlist *n;
    int rc = xb_netlist_mvm_new(p, g, &n, err);
    if (rc) return rc;
    size_t ns = xb_netlist_n_sources(n);
    xb_engine_source *src = malloc(ns * sizeof *src);
    if (!src) {
        xb_netlist_free(n);
        return xb_errorf(err, XB_ERUNTIME, "mvm spice: out of memory");
    }
    const xb_netlist_source *s = xb_netlist_sources(n);
    for (size_t k = 0; k < ns; k++) {
        src[k].name = s[k].name;
        src[k].node_pos = s[k].node_pos;
        src[k].node_neg = s[k].node_neg;
    }
    xb_engine_batch b = {
        .title = "xbar mvm",
        .body = xb_netlist_body(n),
        .n_sources = ns,
        .sources = src,
        .k_vectors = v->rows,
        .values = v->data,
        .n_outputs = xb_netlist_n_outputs(n),
        .outputs = xb_netlist_outputs(n),
    };
    xb_engine_opts def;
    if (!o) {
        xb_engine_opts_default(&def);
        o = &def;
    }
    rc = xb_engine_batch_run(o, &b, i_out->data, err);
    free(src);
    xb_netlist_free(n);
    return rc;
}
