/*
 * Native single-cell reads: the circuits of xb_netlist_read_new (float, V/2, V/3) solved by
 * the static native engine (native.c) on the builder's read plan (native_build.c).
 *
 * The selected row is driven at v_read behind r_driver; every other row is driven at its
 * bias (V/2, or V/3) behind r_driver, or floats; the selected column is sensed at 0 V
 * behind r_sense, the others are held at their bias (V/2, or 2V/3) behind r_sense, or
 * float.  A floating line has no driver or sense element: its nodes are unknowns tied to
 * the rest only through the cells.  1T1R: only the selected row's gate line is at v_gate,
 * the others at 0 V, so their access transistors are off; ngspice then still holds those
 * rows through gmin across each transistor's bulk junctions (bulk at 0 V), and so does this
 * circuit (o->gmin_siemens), which keeps a floating row with every transistor off defined.
 *
 * The read current is the current into the selected column's sense node: the sum of the
 * currents entering its line from the cells, minus what leaves it through the junctions
 * (nv_circuit_col_current), which stays exact to rounding where the column's node voltages
 * are tiny.
 */
#include "engine/native_internal.h"
#include "xbar/engine.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int read_checks(const xb_array_params *p, const xb_matrix *g, xb_read_scheme scheme, size_t r, size_t c,
                       xb_error *err)
{
    if (!p || !g) return xb_errorf(err, XB_EINPUT, "native read: missing array parameters or conductances");
    int rc = xb_array_params_check(p, err);
    if (rc) return rc;
    if (g->rows != p->rows || g->cols != p->cols || !g->data)
        return xb_errorf(err, XB_EINPUT, "conductance matrix is %zux%zu, array is %zux%zu", g->rows, g->cols,
                         p->rows, p->cols);
    if (p->diff_pairs && p->cols % 2)
        return xb_errorf(err, XB_EINPUT, "--diff: differential pairs need an even column count, got %zu", p->cols);
    if (r >= p->rows || c >= p->cols)
        return xb_errorf(err, XB_EINPUT, "--cell-at: cell %zu,%zu is outside the %zux%zu array", r, c, p->rows,
                         p->cols);
    if (scheme != XB_READ_FLOAT && scheme != XB_READ_V2 && scheme != XB_READ_V3)
        return xb_errorf(err, XB_EINPUT, "--scheme: single-cell read needs float, v2 or v3");
    return XB_OK;
}

int xb_engine_native_read(const xb_engine_opts *o, const xb_array_params *p, const xb_matrix *g,
                          xb_read_scheme scheme, size_t sel_row, size_t sel_col, double *i_read_amp,
                          xb_error *err)
{
    if (!i_read_amp) return xb_errorf(err, XB_EINPUT, "native read: no output");
    *i_read_amp = 0;
    int rc = read_checks(p, g, scheme, sel_row, sel_col, err);
    if (rc) return rc;
    xb_engine_opts dflt;
    if (!o) {
        xb_engine_opts_default(&dflt);
        o = &dflt;
    }
    if (!(o->gmin_siemens >= 0) || !isfinite(o->gmin_siemens))
        return xb_errorf(err, XB_EINPUT, "gmin = %g: must be finite and >= 0", o->gmin_siemens);
    size_t R = p->rows, C = p->cols;
    const double v = p->v_read_volt;
    uint8_t *row_driven = malloc(R), *col_mode = malloc(C);
    double *v_rows = malloc(R * sizeof *v_rows), *gate = malloc(R * sizeof *gate);
    double *col_bias = malloc(C * sizeof *col_bias);
    if (!row_driven || !col_mode || !v_rows || !gate || !col_bias) {
        rc = xb_errorf(err, XB_ERUNTIME, "native read: out of memory");
        goto done;
    }
    /* the drive of xb_netlist_read_new */
    for (size_t i = 0; i < R; i++) {
        row_driven[i] = i == sel_row || scheme != XB_READ_FLOAT;
        v_rows[i] = i == sel_row ? v : scheme == XB_READ_V2 ? v / 2 : scheme == XB_READ_V3 ? v / 3 : 0.0;
        gate[i] = i == sel_row ? p->v_gate_volt : 0.0;
    }
    for (size_t j = 0; j < C; j++) {
        col_mode[j] = j == sel_col ? NV_COL_SENSE : scheme == XB_READ_FLOAT ? NV_COL_FLOAT : NV_COL_BIAS;
        col_bias[j] = scheme == XB_READ_V2 ? v / 2 : 2 * v / 3;
    }
    nv_plan plan = {0};
    plan.row_driven = row_driven;
    plan.col_mode = col_mode;
    plan.gate_volt = gate;
    plan.g_junction_siemens = o->gmin_siemens;
    xb_engine_native *e = NULL;
    rc = nv_engine_new(p, g, &plan, col_bias, &e, err);
    if (rc) goto done;
    const nv_circuit *c = nv_engine_circuit(e);
    double *x = malloc((c->n ? c->n : 1) * sizeof *x);
    double *fixed = malloc(c->n_fixed * sizeof *fixed);
    if (!x || !fixed) rc = xb_errorf(err, XB_ERUNTIME, "native read: out of memory for %zu unknowns", c->n);
    if (!rc) rc = nv_engine_solve(e, v_rows, x, fixed, err);
    if (!rc) *i_read_amp = nv_circuit_col_current(p, c, x, fixed, NULL, sel_col);
    free(x);
    free(fixed);
    xb_engine_native_free(e);
done:
    free(row_driven);
    free(col_mode);
    free(v_rows);
    free(gate);
    free(col_bias);
    return rc;
}

/* The four reads of `xbar sneak` (src/cli/cmd_sneak.c): g as given, the selected cell at
 * g_max and at g_min, and the selected cell alone in a 1x1 array with the same periphery. */
int xb_engine_native_sneak(const xb_engine_opts *o, const xb_array_params *p, const xb_matrix *g,
                           xb_read_scheme scheme, size_t sel_row, size_t sel_col,
                           xb_engine_sneak_result *out, xb_error *err)
{
    if (!out) return xb_errorf(err, XB_EINPUT, "native read: no output");
    memset(out, 0, sizeof *out);
    int rc = read_checks(p, g, scheme, sel_row, sel_col, err);
    if (rc) return rc;
    xb_matrix *gm = xb_matrix_new(p->rows, p->cols);
    if (!gm) return xb_errorf(err, XB_ERUNTIME, "native read: out of memory");
    memcpy(gm->data, g->data, p->rows * p->cols * sizeof *gm->data);
    size_t q = sel_row * p->cols + sel_col;
    double keep = g->data[q];
    rc = xb_engine_native_read(o, p, gm, scheme, sel_row, sel_col, &out->i_read_amp, err);
    if (!rc) {
        gm->data[q] = p->g_max_siemens;
        rc = xb_engine_native_read(o, p, gm, scheme, sel_row, sel_col, &out->i_read_on_amp, err);
    }
    if (!rc) {
        gm->data[q] = p->g_min_siemens;
        rc = xb_engine_native_read(o, p, gm, scheme, sel_row, sel_col, &out->i_read_off_amp, err);
    }
    xb_matrix_free(gm);
    if (!rc) {
        xb_array_params p1 = *p;
        p1.rows = p1.cols = 1;
        p1.diff_pairs = 0;
        xb_matrix *g1 = xb_matrix_new(1, 1);
        if (!g1) return xb_errorf(err, XB_ERUNTIME, "native read: out of memory");
        g1->data[0] = keep;
        rc = xb_engine_native_read(o, &p1, g1, XB_READ_FLOAT, 0, 0, &out->i_cell_amp, err);
        xb_matrix_free(g1);
    }
    if (rc) return rc;
    out->i_sneak_amp = out->i_read_amp - out->i_cell_amp;
    out->margin = out->i_read_on_amp != 0 ? (out->i_read_on_amp - out->i_read_off_amp) / out->i_read_on_amp : 0.0;
    return XB_OK;
}
