#!/usr/bin/env python3
"""Convert an HDF5 file into a fuzz recipe (tests/fuzz/fuzz_h5recipe.h), for seed corpora:

    /usr/bin/python3 tests/fuzz/h5_recipe.py model.h5 > tests/fuzz/corpus/model_h5/model.txt
"""
import sys

import h5py
import numpy as np


def typ(dt):
    if dt.kind == "f":
        return "f64" if dt.itemsize == 8 else "f32"
    if dt.kind in "iu":
        if dt == np.uint8:
            return "u8"
        return "i32" if dt.itemsize <= 4 else "i64"
    if dt.kind == "S":
        return "str"
    if dt.kind == "O" and h5py.check_string_dtype(dt):
        return "vstr"
    return None


def esc(v):
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    return str(v).replace("\n", "\\n")


def line(prefix, dt, shape, value):
    t = typ(dt)
    if t is None:
        return None
    dims = "-" if shape == () else "x".join(str(s) for s in shape)
    arr = np.asarray(value).reshape(-1) if shape != () else [value]
    if t in ("str", "vstr"):
        vals = " ".join(esc(v) for v in arr)
    else:
        vals = " ".join(repr(float(v)) if t.startswith("f") else str(int(v)) for v in arr[:4096])
    return f"{prefix} {t} {dims} {vals}".rstrip()


def attrs(obj, path, out):
    for name in obj.attrs:
        a = obj.attrs.get_id(name)
        out.append(line(f"a {path} {name}", a.dtype, a.shape, obj.attrs[name]))


def main(path):
    out = []
    with h5py.File(path, "r") as f:
        attrs(f, "/", out)

        def visit(name, obj):
            p = "/" + name
            if isinstance(obj, h5py.Group):
                out.append(f"g {p}")
            else:
                out.append(line(f"d {p}", obj.dtype, obj.shape, obj[()]))
            attrs(obj, p, out)

        f.visititems(visit)
    print("\n".join(x for x in out if x))


if __name__ == "__main__":
    main(sys.argv[1])
