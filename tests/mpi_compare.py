#!/usr/bin/python3
"""Compare two xbar results files point for point (docs/cluster.md).

usage: mpi_compare.py A.h5 B.h5

Every group, dataset and attribute must be present in both files with identical values
(datasets: same shape, dtype and bytes), except the provenance attributes listed in
IGNORED, which record when, where and by which run a point was computed.  Prints one line
per difference and exits 1 if there is any, else prints a summary and exits 0.
"""
import sys

import h5py
import numpy as np

# attribute name -> why it may differ between a serial and an MPI run
IGNORED = {
    "created_utc": "first run's date",
    "runs": "invocations on the file",
    "run": "the invocation that computed the point",
    "elapsed_s": "wall time of the point",
    "finished_utc": "date the point finished",
    "solve_s": "wall time of the static solves",
    "mpi_rank": "rank that computed the point (MPI runs only)",
}


def same_value(a, b):
    a = np.asarray(a)
    b = np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def compare(fa, fb):
    diffs = []
    counts = {"datasets": 0, "attributes": 0, "points": 0}

    def attrs(path, oa, ob):
        na = {k for k in oa.attrs.keys() if k not in IGNORED}
        nb = {k for k in ob.attrs.keys() if k not in IGNORED}
        for k in sorted(na ^ nb):
            diffs.append(f"{path}: attribute {k} only in {'A' if k in na else 'B'}")
        for k in sorted(na & nb):
            counts["attributes"] += 1
            if not same_value(oa.attrs[k], ob.attrs[k]):
                diffs.append(f"{path}: attribute {k}: {oa.attrs[k]!r} != {ob.attrs[k]!r}")

    def walk(path, ga, gb):
        attrs(path or "/", ga, gb)
        ka, kb = set(ga.keys()), set(gb.keys())
        for k in sorted(ka ^ kb):
            diffs.append(f"{path}/{k}: only in {'A' if k in ka else 'B'}")
        for k in sorted(ka & kb):
            oa, ob = ga[k], gb[k]
            p = f"{path}/{k}"
            if path == "/points":
                counts["points"] += 1
            if isinstance(oa, h5py.Group) and isinstance(ob, h5py.Group):
                walk(p, oa, ob)
            elif isinstance(oa, h5py.Dataset) and isinstance(ob, h5py.Dataset):
                counts["datasets"] += 1
                attrs(p, oa, ob)
                if not same_value(oa[()], ob[()]):
                    diffs.append(f"{p}: dataset values differ")
            else:
                diffs.append(f"{p}: group in one file, dataset in the other")

    walk("", fa, fb)
    return diffs, counts


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    with h5py.File(sys.argv[1], "r") as fa, h5py.File(sys.argv[2], "r") as fb:
        diffs, counts = compare(fa, fb)
    for d in diffs:
        print("DIFF " + d)
    if diffs:
        print(f"mpi_compare: {len(diffs)} differences", file=sys.stderr)
        return 1
    print(f"mpi_compare: identical: {counts['points']} points, {counts['datasets']} datasets, "
          f"{counts['attributes']} attributes (ignored: {', '.join(sorted(IGNORED))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
