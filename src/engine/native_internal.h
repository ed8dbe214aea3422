/*
 * Internal interface of the native sparse engine (src/engine/native*.c).
 *
 *   native_build.c   the static read circuit of netlist.h as a list of elements between
 *                    nodes (shorts merged away), and the CSC pattern of its nodal matrix
 *                    with, for every element stamp, its slot in the value array;
 *   native_sparse.c  one sparse direct solver behind one interface: CHOLMOD (symmetric
 *                    positive definite systems) or KLU (general), symbolic analysis once,
 *                    numeric factorization many times, multi-column solves;
 *   native.c         the public API of engine.h: linear solves, Newton, outputs;
 *   native_read.c    single-cell reads (float, V/2, V/3) through native.c's solver on
 *                    the read circuits of the builder (nv_plan);
 *   native_tran.c    read transients: capacitors, implicit integration, step control;
 *   native_dyn.c     the dynamic device models of models/<device>.lib (state equations);
 *   native_write.c   programming pulses (xb_engine_native_write): quasi-static array solve
 *                    per pulse, the state equations integrated through it;
 *   native_wcell.c   the pulsed cell against the linearized rest of the array, and the
 *                    Dormand-Prince integrator of the states.
 */
#ifndef XBAR_ENGINE_NATIVE_INTERNAL_H
#define XBAR_ENGINE_NATIVE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "xbar/common.h"
#include "xbar/engine.h"
#include "xbar/netlist.h"

/* Element kinds.  Currents flow from terminal a to terminal b. */
enum {
    NV_RES = 0, /* linear conductance g */
    NV_DEV,     /* memory device programmed to g, read I-V xb_device_read_iv */
    NV_SEL,     /* static selector, xb_selector_iv */
    NV_NMOS,    /* access NMOS: a = drain, b = source, g = its gate voltage */
    NV_CAP      /* capacitor, g = capacitance (farad); open at DC: only transients stamp it */
};

/* Current of element k from a to b with va, vb at its terminals, and its derivatives with
 * respect to va and vb (the static I-V; a capacitor carries none).  One implementation for
 * every solver of the engine. */
static inline void nv_el_iv(const xb_array_params *p, const uint8_t *kind, const double *g, size_t k,
                            double va, double vb, double *i, double *di_a, double *di_b)
{
    double v = va - vb, cur = 0, d = 0;
    switch (kind[k]) {
    case NV_RES:
        *i = g[k] * v;
        *di_a = g[k];
        *di_b = -g[k];
        return;
    case NV_DEV:
        xb_device_read_iv(p, g[k], v, &cur, &d);
        break;
    case NV_SEL:
        xb_selector_iv(p, v, &cur, &d);
        break;
    case NV_NMOS: { /* drain a, source b, gate at g[k] */
        double gm, gds;
        xb_nmos_iv(p, g[k] - vb, v, &cur, &gm, &gds);
        *i = cur;
        *di_a = gds;
        *di_b = -gm - gds;
        return;
    }
    default: /* NV_CAP */
        break;
    }
    *i = cur;
    *di_a = d;
    *di_b = -d;
}

/* Node ids: >= 0 is an unknown; < 0 is a fixed node whose voltage is fixed[-1 - id]:
 * fixed[0] is ground (0 V), fixed[1 + i] is the source of row i, and (read circuits with
 * biased columns only) fixed[1 + rows + j] is the bias source of column j. */
#define NV_FIXED(k) (-1 - (int32_t)(k))

/* How the lines of a circuit are driven: the MVM read (plan NULL: every row driven, every
 * column sensed, every gate at v_gate, no capacitors), the single-cell reads of
 * xb_netlist_read_new, and the read transient (capacitors). */
enum { NV_COL_SENSE = 0, NV_COL_BIAS, NV_COL_FLOAT };
typedef struct nv_plan {
    const uint8_t *row_driven;  /* per row: 1 driven by its source behind r_driver, 0 floating;
                                   NULL: all driven */
    const uint8_t *col_mode;    /* per column: NV_COL_*; NULL: all sensed (0 V) */
    const double *gate_volt;    /* per row, 1T1R gate lines; NULL: all at p->v_gate_volt */
    double g_junction_siemens;  /* 1T1R: conductance from the NMOS drain and source to ground
                                   (ngspice's gmin across the bulk junctions, bulk at 0 V) */
    double c_wire_farad;        /* per wire segment at its cell-side node, as
                                   src/characterize/transient.c places it; 0 = none */
    double c_cell_farad;        /* per cell between its row and column node; 0 = none */
} nv_plan;

typedef struct nv_circuit {
    size_t rows, cols;
    size_t n;       /* unknown node voltages */
    size_t n_fixed; /* 1 + rows (+ cols with biased columns) */
    size_t n_el;
    uint8_t *kind;
    int32_t *na, *nb;
    double *g;      /* NV_RES: conductance; NV_DEV: programmed conductance; NV_NMOS: gate
                       voltage; NV_CAP: capacitance; NV_SEL: 0 */
    /* Per element 4 slots into the CSC value array: (a,a), (b,b), (a,b), (b,a); -1 when
     * the entry does not exist (fixed terminal) or is not stored (symmetric storage keeps
     * the lower triangle only: the one off-diagonal slot stored carries J_ab = J_ba). */
    int32_t *slot;
    /* Per cell (row-major): its row-side and column-side node, and the element whose
     * current enters the column node (the cell current). */
    int32_t *cell_r, *cell_c;
    size_t *cell_el;
    size_t *cell_cap; /* per cell: its capacitor element (c_cell), SIZE_MAX if none */
    /* Currents of the lines (read circuits and transients): for column j the elements
     * col_el[col_ptr[j] .. col_ptr[j+1]) whose current enters the column line from outside
     * it, with sign col_sign (+1: a -> b enters it), so that the sum is the current into
     * the column's sense (or bias) node; likewise row_el / row_sign over row_ptr for the
     * current the source of row i delivers (elements touching its fixed node). */
    size_t *col_ptr, *col_el, *row_ptr, *row_el;
    int8_t *col_sign, *row_sign;
    /* CSC pattern (n x n), rows sorted within each column. */
    int symmetric;  /* 1: lower triangle only */
    int32_t *Ap, *Ai;
    size_t nnz;
} nv_circuit;

/* Build the circuit of array p with conductances g (rows x cols, checked by the caller).
 * symmetric = 1 stores the lower triangle only (for CHOLMOD). */
int nv_circuit_build(const xb_array_params *p, const xb_matrix *g, int symmetric, nv_circuit *c,
                     xb_error *err);
/* The same with a drive plan (NULL = the MVM circuit, exactly as nv_circuit_build).  Unknowns
 * that no element ties, directly or through other unknowns, to a fixed node (a floating line
 * whose cells are all open) carry no current: they are pinned to ground.  Also builds the
 * line-current lists. */
int nv_circuit_build_plan(const xb_array_params *p, const xb_matrix *g, int symmetric,
                          const nv_plan *plan, nv_circuit *c, xb_error *err);
/* Current into the sense/bias node of column j, and delivered by the source of row i, for
 * node voltages x (unknowns) and fixed (fixed nodes); cap_i: current of every element
 * (indexed by element; only NV_CAP entries are read), or NULL at DC. */
double nv_circuit_col_current(const xb_array_params *p, const nv_circuit *c, const double *x,
                              const double *fixed, const double *cap_i, size_t j);
double nv_circuit_row_current(const xb_array_params *p, const nv_circuit *c, const double *x,
                              const double *fixed, const double *cap_i, size_t i);
void nv_circuit_free(nv_circuit *c);
/* Element k's current i (a -> b) and its derivatives da = di/dva, db = di/dvb into the KCL
 * residual f (and the absolute-current sums fabs_out, the Jacobian values vals; either may
 * be NULL): the one stamp of the static solve and the transient. */
void nv_stamp(const nv_circuit *c, size_t k, double i, double da, double db, double *f, double *fabs_out,
              double *vals);
/* Worst per-node KCL error relative to the current through the node. */
double nv_kcl_rel(const double *f, const double *fabs_, size_t n);

/* Geometric nested dissection of the crossbar grid (perm: n unknowns, elimination order).
 * Applies when both wire resistances are non-zero (every cell has its own row and column
 * node); returns -1 otherwise. */
int nv_circuit_nd_order(const nv_circuit *c, const xb_array_params *p, int32_t *perm);

/* ------------------------------------------------------------------ sparse solver */
typedef struct nv_sparse nv_sparse;

/* Symbolic analysis of the pattern (copied).  perm: a fill-reducing order of the unknowns
 * to use, or NULL to let the library order (AMD, or METIS on large systems). */
int nv_sparse_new(size_t n, const int32_t *Ap, const int32_t *Ai, int symmetric, const int32_t *perm,
                  nv_sparse **out, xb_error *err);
/* The value array (nnz entries, CSC order) that the next factorization reads. */
double *nv_sparse_values(nv_sparse *s);
/* Numeric factorization of the current values (reusing the analysis). */
int nv_sparse_factor(nv_sparse *s, xb_error *err);
/* Solve A X = B in place; B is n x nrhs, column-major. */
int nv_sparse_solve(nv_sparse *s, double *b, size_t nrhs, xb_error *err);
/* Cost of one numeric factorization in units of one reuse step (a one-column solve plus a
 * residual evaluation), from the flop counts of the last factorization. */
double nv_sparse_factor_cost(const nv_sparse *s);
/* Free the solve workspaces (sized by the last number of right-hand sides). */
void nv_sparse_release_workspace(nv_sparse *s);
/* Entries of the factor(s) (L for CHOLMOD, L+U for KLU) of the last factorization. */
double nv_sparse_factor_nnz(const nv_sparse *s);
/* Entries of the factor(s) the symbolic analysis predicts (before any numeric factorization):
 * CHOLMOD's exact count, KLU's estimate of L + U. */
double nv_sparse_factor_nnz_predicted(const nv_sparse *s);
const char *nv_sparse_name(const nv_sparse *s);
void nv_sparse_free(nv_sparse *s);

/* ------------------------------------------------------------------ native.c internals */
/* xb_engine_native_new on the circuit of a plan (NULL = MVM); col_bias (length cols, or NULL)
 * holds the voltages of the biased columns' fixed nodes. */
int nv_engine_new(const xb_array_params *p, const xb_matrix *g, const nv_plan *plan,
                  const double *col_bias, xb_engine_native **out, xb_error *err);
/* Solve the static circuit for one vector of row-source voltages (length rows): x gets the
 * n unknowns, fixed_out (n_fixed, may be NULL) the fixed node voltages. */
int nv_engine_solve(xb_engine_native *e, const double *v_rows, double *x, double *fixed_out,
                    xb_error *err);
const nv_circuit *nv_engine_circuit(const xb_engine_native *e);

/* ------------------------------------------------------------------ dynamic device models */
/* One dynamic subcircuit of models/<device>.lib: its parameters (names as in the .lib, read from a
 * cell's instance string), its nstate states x[0..nstate) (x[0] the one the engine's callers see:
 * gap, crystalline fraction, ionic state; PCM's x[1] the temperature rise of its thermal node,
 * starting at 0), the main branch current (te -> be, or the channel d -> s) and its derivative
 * in v, the states' rates of change (v across the branch, i through it, vgc the gate-to-channel
 * voltage of gated devices, nz the noise-terminal value), the gate current of gated devices
 * (into the channel's s terminal), the integrator's limits per state, and what the states do
 * at 0 V over dt (relax: PCM's thermal node cools; NULL: nothing moves). */
typedef struct nv_dyn_model {
    const char *subckt;
    size_t npar;
    const char *const *par;
    int gated;
    size_t nstate;
    void (*iv)(const double *par, double v, const double *x, double *i, double *di_dv);
    void (*rate)(const double *par, double v, double i, double vgc, const double *x, double nz, double *dx);
    void (*ig)(const double *par, double vgc, const double *x, double *i, double *di_dvgc);
    void (*limits)(const double *par, double *lo, double *hi);
    void (*relax)(const double *par, double *x, double nz, double dt_s);
} nv_dyn_model;

/* The model of a dynamic subcircuit, NULL when the native solver has none. */
const nv_dyn_model *nv_dyn_find(const char *subckt);
/* par[0..m->npar) from a cell's instance string (xb_netlist_dyn_instance). */
int nv_dyn_params(const nv_dyn_model *m, const char *inst, double *par, xb_error *err);

#endif
