#!/usr/bin/env python3
"""Dump an HDF5 file as text for before/after comparisons (tools/regress/capture.sh):
every group, dataset and attribute in name order, values at full precision, leaving out
provenance that changes from run to run."""
import sys

import h5py
import numpy as np

VOLATILE = {"created_utc", "finished_utc", "started_utc", "elapsed_s", "solve_s", "host", "hostname",
            "pid", "wall_s", "xbar_version", "ngspice_version", "build", "modified_utc", "seconds",
            "source_file", "t_fit_s", "run", "runs", "command", "argv", "fit_seconds", "duration_s"}


def fmt(v):
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    a = np.asarray(v)
    if a.dtype.kind in "SO":
        return repr(a.tolist())
    with np.printoptions(threshold=sys.maxsize, precision=17, floatmode="unique", linewidth=200):
        return f"{a.dtype} {a.shape} {a}"


def attrs(obj, out):
    for k in sorted(obj.attrs):
        if k in VOLATILE:
            continue
        out.append(f"  @{k} = {fmt(obj.attrs[k])}")


def main():
    out = []
    with h5py.File(sys.argv[1], "r") as f:
        out.append("/")
        attrs(f, out)
        names = []
        f.visit(names.append)
        for n in sorted(names):
            if n.split("/")[-1] in VOLATILE:
                continue
            o = f[n]
            if isinstance(o, h5py.Dataset):
                out.append(f"/{n}: {fmt(o[()])}")
            else:
                out.append(f"/{n}/")
            attrs(o, out)
    print("\n".join(out))


main()
