/*
 * Internal interface of the native sparse engine (src/engine/native*.c).
 *
 *   native_build.c   the static read circuit of netlist.h as a list of elements between
 *                    nodes (shorts merged away), and the CSC pattern of its nodal matrix
 *                    with, for every element stamp, its slot in the value array;
 *   native_sparse.c  one sparse direct solver behind one interface: CHOLMOD (symmetric
 *                    positive definite systems) or KLU (general), symbolic analysis once,
 *                    numeric factorization many times, multi-column solves;
 *   native.c         the public API of engine.h: linear solves, Newton, outputs.
 */
#ifndef XBAR_ENGINE_NATIVE_INTERNAL_H
#define XBAR_ENGINE_NATIVE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "xbar/common.h"
#include "xbar/netlist.h"

/* Element kinds.  Currents flow from terminal a to terminal b. */
enum {
    NV_RES = 0, /* linear conductance g */
    NV_DEV,     /* memory device programmed to g, read I-V xb_device_read_iv */
    NV_SEL,     /* static selector, xb_selector_iv */
    NV_NMOS     /* access NMOS: a = drain, b = source, gate at p->v_gate_volt */
};

/* Node ids: >= 0 is an unknown; < 0 is a fixed node whose voltage is fixed[-1 - id]:
 * fixed[0] is ground (0 V), fixed[1 + i] is the source of row i. */
#define NV_FIXED(k) (-1 - (int32_t)(k))

typedef struct nv_circuit {
    size_t rows, cols;
    size_t n;       /* unknown node voltages */
    size_t n_fixed; /* 1 + rows */
    size_t n_el;
    uint8_t *kind;
    int32_t *na, *nb;
    double *g;      /* NV_RES: conductance; NV_DEV: programmed conductance; else 0 */
    /* Per element 4 slots into the CSC value array: (a,a), (b,b), (a,b), (b,a); -1 when
     * the entry does not exist (fixed terminal) or is not stored (symmetric storage keeps
     * the lower triangle only: the one off-diagonal slot stored carries J_ab = J_ba). */
    int32_t *slot;
    /* Per cell (row-major): its row-side and column-side node, and the element whose
     * current enters the column node (the cell current). */
    int32_t *cell_r, *cell_c;
    size_t *cell_el;
    /* CSC pattern (n x n), rows sorted within each column. */
    int symmetric;  /* 1: lower triangle only */
    int32_t *Ap, *Ai;
    size_t nnz;
} nv_circuit;

/* Build the circuit of array p with conductances g (rows x cols, checked by the caller).
 * symmetric = 1 stores the lower triangle only (for CHOLMOD). */
int nv_circuit_build(const xb_array_params *p, const xb_matrix *g, int symmetric, nv_circuit *c,
                     xb_error *err);
void nv_circuit_free(nv_circuit *c);

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

#endif
