/*
 * Internals of the native programming solver shared by native_write.c (the array, Newton,
 * the driver) and native_wcell.c (the pulsed cell against the rest of the array, the
 * integration of the states through a pulse).
 */
#ifndef XBAR_ENGINE_NATIVE_WRITE_INTERNAL_H
#define XBAR_ENGINE_NATIVE_WRITE_INTERNAL_H

#include "engine/native_internal.h"

struct nw_solver;

/* Most states per cell: the dynamic model's (nv_dyn_model.nstate, at most 2) and the
 * threshold-switching selector's. */
#define NW_MAX_STATES 3

/* The threshold-switching selector of 1S1R programming circuits, models/selector.lib sel_ts
 * (native_dyn.c): the array's sel_* values and the subcircuit's own smoothing constants. */
typedef struct nw_ts {
    double vth, vhold, ron, roff, ihold, ton, toff;
    double dvw;    /* V, width of the smooth max sp */
    double slatch; /* state at which the switching voltage has fallen to vhold */
} nw_ts;

void nw_ts_init(nw_ts *t, const xb_array_params *p);
/* current a -> b at voltage v and state s, and its derivative in v */
void nw_ts_iv(const nw_ts *t, double v, double s, double *i, double *di_dv);
/* the switching and the relaxing factor at voltage v and state s:
 * ds/dt = on (1 - s) / ton - off s / toff */
void nw_ts_terms(const nw_ts *t, double v, double s, double *on, double *off);
/* ds/dt at voltage v and state s */
double nw_ts_rate(const nw_ts *t, double v, double s);
/* the state after dt at 0 V: s e^(-dt / toff) */
double nw_ts_relax(const nw_ts *t, double s, double dt_s);
/* the integrator's output limits (the .lib's int model) */
#define NW_TS_LO (-1e-3)
#define NW_TS_HI 1.0

/* The pulsed cell and the cells that move during a pulse (native_wcell.c). */
typedef struct nw_cell {
    size_t sel;               /* pulsed cell */
    int32_t nr, nc_, nm;      /* its row node, column node, internal node (-1: none, 1R) */
    size_t el_a, el_b;        /* its elements: row -> m, m -> column (1R: el_a only) */
    double vr0, vc0, vm0, i0; /* full-amplitude solution: node voltages, cell current */
    double zr, zc;            /* response of its row / column node to the cell current */
    double vg;                /* its gate level (1T1R access gate, gated device) */
    double vm, ic;            /* warm start of the local solve */
    double *z;                /* n: response of every unknown to the cell current */
    size_t n_act, *act;       /* other cells whose state moves */
    double *v0, *wv, *vgc0, *wg;
    double *vs0, *ws, *vd;    /* 1S1R ts, the active cells: voltage across the whole cell at full
                                 amplitude, its response, the device's share (warm start) */
    double *peak;             /* 1 + n_act: highest selector state during the pulse (ts) */
    double p0, q;             /* source power at full amplitude, its change per ampere */
    double *y, *k, *tmp, *err; /* integrator workspaces, 7 stages */
} nw_cell;

typedef struct nw_solver {
    const xb_array_params *p;
    xb_array_params p_row; /* an isolated row's circuit (native_write.c), p points here */
    const nv_dyn_model *m;
    int ts;            /* 1S1R with the threshold-switching selector: its state is the cell's last */
    nw_ts tsp;
    size_t ns;         /* states per cell: m->nstate + ts */
    nv_circuit c;
    nv_sparse *sp;
    size_t R, C, nc;
    size_t *dev_el;    /* per cell: its device element */
    int32_t *el_cell;  /* per element: the cell whose device it is, -1 */
    int32_t *el_ts;    /* per element: the cell whose ts selector it is, -1 (NULL: no ts) */
    /* per cell, views into the whole array's tables (an isolated row: its row of them) */
    double *par;       /* nc x npar */
    double *lo, *hi;   /* nc x ns: the states' limits */
    double *st;        /* nc x ns: the states */
    double *nz;        /* per cell: noise-terminal value */
    double t_s;        /* the time the states are at (models that relax at 0 V) */
    uint8_t *moved;    /* per cell: integrated during the last pulse */
    double *x, *fixed, *f, *fa, *rhs;
    double *gate_row;  /* per row: gate level at full amplitude */
    size_t n_factor, n_rhs;
    nw_cell cell;
} nw_solver;

double nw_node(const nw_solver *w, const double *x, int32_t id);
void nw_el_iv(const nw_solver *w, const double *x, size_t k, double *i, double *da, double *db);
void nw_gate_iv(const nw_solver *w, const double *x, size_t q, double *ig, double *dg, double *vgc);

int nw_cell_new(nw_cell *cl, const nw_solver *w);
void nw_cell_free(nw_cell *cl);
/* One pulse after the full-amplitude solve (w->x, the factorization at it): states updated,
 * energy of the slot in *e_joule; models that relax at 0 V also through the gap after it. */
int nw_pulse(nw_solver *w, const xb_engine_wpulse *q, double edge_s, double gap_s, double *e_joule, xb_error *err);

#endif
