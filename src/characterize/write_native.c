/* The native solver of array programming rounds (xb_write_solver_native): the round's pulses
 * with the scheme's line levels (xb_char_write_levels, the same as the ngspice solver's) handed
 * to the engine stage's quasi-static solver, xb_engine_native_write (docs/native.md
 * "Programming pulses"), all in one call; the simulated time counts a 2 ns idle per run of
 * chunk_pulses pulses, as the ngspice solver splits them, so that the two agree. */
#include <stdlib.h>
#include <string.h>

#include "characterize/char_internal.h"
#include "xbar/characterize.h"

static int native_solve(const xb_write_solver *s, const xb_engine_opts *eo, const xb_write_round *in,
                        xb_write_round_out *out, xb_error *err)
{
    (void)s;
    const xb_array_params *p = in->p;
    const size_t nc = p->rows * p->cols, chunk = in->chunk_pulses ? in->chunk_pulses : 256;
    xb_engine_wpulse *w = malloc((in->n_pulses ? in->n_pulses : 1) * sizeof *w);
    double *st = malloc(nc * sizeof *st);
    if (!w || !st) {
        free(w);
        free(st);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    for (size_t k = 0; k < in->n_pulses; k++) {
        const xb_write_pulse *q = &in->pulses[k];
        xb_char_wlevels l;
        xb_char_write_levels(p, in->scheme, q, &l);
        w[k] = (xb_engine_wpulse){q->row, q->col, l.row_sel, l.row_other, l.col_sel, l.col_other,
                                  l.gate_sel, l.gate_other, q->width_s};
    }
    memcpy(st, in->state, nc * sizeof *st);
    /* one call for the whole round (the per-cell tables are built once); the simulated time
     * counts the 2 ns idle of every run as ngspice's does (at 0 V no state moves) */
    const size_t runs = (in->n_pulses + chunk - 1) / chunk;
    xb_engine_write_in ei = {p, st, in->noise, in->n_pulses, w, in->edge_s, in->gap_s, 2e-9 * (double)runs, 0};
    xb_engine_write_out eo_out = {st, out->state_before, out->state_after, out->e_joule, 0, 0, 0, NULL, NULL};
    int rc = xb_engine_native_write(eo, &ei, &eo_out, err);
    out->t_sim_s = eo_out.t_sim_s;
    if (!rc) memcpy(out->state_end, st, nc * sizeof *st);
    free(w);
    free(st);
    return rc;
}

const xb_write_solver xb_write_solver_native = {"native", native_solve};

int xb_write_solver_pick(const char *engine, const xb_array_params *p, size_t auto_native_above,
                         const xb_write_solver **out, xb_error *err)
{
    *out = NULL;
    const int can = xb_engine_native_write_supports(p);
    const size_t big = p->rows > p->cols ? p->rows : p->cols;
    if (engine && strcmp(engine, "spice") == 0) *out = &xb_write_solver_spice;
    else if (engine && strcmp(engine, "auto") == 0) *out = can && big > auto_native_above ? &xb_write_solver_native : &xb_write_solver_spice;
    else if (engine && strcmp(engine, "native") == 0) {
        if (!can)
            return xb_errorf(err, XB_EINPUT, "--engine native: the native programming solver has no model of %s %s "
                             "(it has rram and pcm in 1r, 1t1r, 1s1r with either selector, ecram in 1r); use --engine spice",
                             xb_device_name(p->device), xb_cell_name(p->cell));
        *out = &xb_write_solver_native;
    } else {
        return xb_errorf(err, XB_EINPUT, "--engine: '%s' (spice, native, auto)", engine ? engine : "");
    }
    return XB_OK;
}
