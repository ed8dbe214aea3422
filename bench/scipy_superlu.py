#!/usr/bin/python3
"""The static read circuit of an N x N linear 1R crossbar, solved with scipy's SuperLU.

Used by bench/bench_scale.c: the same circuit the native engine solves (docs/native.md
"What it solves"), written here independently from its description: row i is driven by V_i
behind r_driver + one row wire segment into the first cell's row node, then one segment
between neighbouring cells; column j has one segment after each cell, the last one (plus
r_sense) into the 0 V virtual ground.  Unknowns: every row and column node of every cell.

  scipy_superlu.py N R_WIRE R_DRIVER R_SENSE G.bin V.bin OUT.bin
G.bin: N*N float64 row-major siemens; V.bin: N float64 volts.  Writes the N column currents
(float64) to OUT.bin and prints "assemble_s=... factor_s=... solve_s=... nnz_lu=...".
"""
import sys
import time

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla


def main():
    n = int(sys.argv[1])
    rw, rd, rs = (float(a) for a in sys.argv[2:5])
    g = np.fromfile(sys.argv[5], dtype=np.float64).reshape(n, n)
    v = np.fromfile(sys.argv[6], dtype=np.float64)
    t0 = time.perf_counter()
    gw = 1.0 / rw
    idx = np.arange(n * n).reshape(n, n)
    rnode = idx                 # row node of cell (i, j)
    cnode = idx + n * n         # column node of cell (i, j)
    m = 2 * n * n
    a_i, a_j, a_x = [], [], []
    b = np.zeros(m)

    def two(na, nb, gg):
        a_i.extend([na, nb, na, nb])
        a_j.extend([na, nb, nb, na])
        a_x.extend([gg, gg, -gg, -gg])

    # cells
    two(rnode.ravel(), cnode.ravel(), g.ravel())
    # row wires between neighbouring cells
    two(rnode[:, :-1].ravel(), rnode[:, 1:].ravel(), np.full(n * (n - 1), gw))
    # column wires between neighbouring cells
    two(cnode[:-1, :].ravel(), cnode[1:, :].ravel(), np.full(n * (n - 1), gw))
    # driver + first row segment to the source (fixed node): diagonal and right-hand side
    gd = 1.0 / (rd + rw)
    a_i.append(rnode[:, 0]); a_j.append(rnode[:, 0]); a_x.append(np.full(n, gd))
    b[rnode[:, 0]] += gd * v
    # last column segment + sense to ground
    gs = 1.0 / (rw + rs)
    a_i.append(cnode[-1, :]); a_j.append(cnode[-1, :]); a_x.append(np.full(n, gs))
    ai = np.concatenate([np.atleast_1d(np.asarray(x)) for x in a_i])
    aj = np.concatenate([np.atleast_1d(np.asarray(x)) for x in a_j])
    ax = np.concatenate([np.atleast_1d(np.asarray(x, dtype=float)) for x in a_x])
    a = sp.csc_matrix((ax, (ai, aj)), shape=(m, m))
    t1 = time.perf_counter()
    # the matrix is symmetric: minimum degree on A^T + A is SuperLU's ordering for that
    # structure (its default COLAMD orders for A^T A: 52.7 s and 1.3e7 entries in L+U at
    # 256x256, measured); scipy's best case is what the native engine is compared with
    lu = spla.splu(a, permc_spec="MMD_AT_PLUS_A")
    t2 = time.perf_counter()
    x = lu.solve(b)
    t3 = time.perf_counter()
    i_col = x[cnode[-1, :]] * gs
    i_col.astype(np.float64).tofile(sys.argv[7])
    print("assemble_s=%.6f factor_s=%.6f solve_s=%.6f nnz_lu=%d" % (t1 - t0, t2 - t1, t3 - t2, lu.L.nnz + lu.U.nnz))


if __name__ == "__main__":
    main()
