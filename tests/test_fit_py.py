#!/usr/bin/env python3
"""ctest: tools/xbar_model.py (numpy + h5py) against `xbar mvm --engine model` on the same
model file and CSVs: agreement to 1e-6 relative.  The model file is written here with h5py
straight from docs/hdf5-model.md, with every term of the model active (series resistance,
sense resistance, three V0 knots, gain, several sweeps, a non-square array).

usage: test_fit_py.py XBAR_EXE TOOLS_DIR WORK_DIR
"""
import os
import subprocess
import sys

import h5py
import numpy as np

xbar, tools, work = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, tools)
import xbar_model  # noqa: E402

os.makedirs(work, exist_ok=True)
R, C = 12, 10
rng = np.random.default_rng(5)


def scalar(g, name, value, unit):
    ds = g.create_dataset(name, data=value)
    ds.attrs["units"] = np.bytes_(unit)


def write_model(path, version=1, n_sweeps=4, family=False, models=None):
    """models: (device, rows, cols, config overrides) per /models entry [one PCM R x C model]."""
    with h5py.File(path, "w") as f:
        f.attrs["format"] = np.bytes_("xbar-model")
        f.attrs["version"] = np.int64(version)
        f.attrs["xbar_version"] = np.bytes_("test")
        for k, spec in enumerate(models or [("pcm", R, C, {})]):
            write_one(f, k, spec, n_sweeps)
        if family:
            coef = np.zeros((13, 3))
            coef[0] = [1.02, 0.001, 0.0]      # r_row / r_wire_row
            coef[1] = [0.97, 0.0, 0.002]      # r_col / r_wire_col
            coef[2] = [1.05, 0.0, 0.0]        # r_driver ratio
            coef[3] = [700.0, 10.0, 0.0]      # r_series_ohm
            coef[4] = [1.001, 0.0, 0.0]       # gain
            coef[5:8, 0] = [0.13, 0.45, 0.95]  # V0 knots
            ds = f.create_dataset("family/pcm_1r/coef", data=coef)
            ds.attrs["units"] = np.bytes_("1")


def write_one(f, k, spec, n_sweeps):
    device, rows, cols, over = spec
    m = f.create_group(f"models/{k:03d}")
    m.attrs["device"] = np.bytes_(device)
    m.attrs["cell"] = np.bytes_("1r")
    c = m.create_group("config")
    scalar(c, "rows", np.int64(rows), "1")
    scalar(c, "cols", np.int64(cols), "1")
    cfg = {"r_wire_row_ohm": (2.0, "ohm"), "r_wire_col_ohm": (3.0, "ohm"), "r_driver_ohm": (150.0, "ohm"),
           "r_sense_ohm": (10.0, "ohm"), "c_wire_farad": (2e-16, "F"), "v_read_volt": (0.2, "V"),
           "rram_v0_volt": (0.25, "V"), "pcm_v0_low_volt": (0.15, "V"), "pcm_v0_high_volt": (1.0, "V"),
           "g_min_siemens": (0.25e-6, "S"), "g_max_siemens": (25e-6, "S"), "nmos_kp_a_per_v2": (300e-6, "A/V^2"),
           "nmos_w_over_l": (2.0, "1"), "nmos_vt_volt": (0.4, "V"), "nmos_lambda_per_v": (0.0, "1/V"),
           "v_gate_volt": (1.2, "V"), "sel_is_amp": (1e-6, "A"), "sel_vs_volt": (0.1, "V"),
           "stuck_on_rate": (0.0, "1"), "stuck_off_rate": (0.0, "1")}
    for key, val in over.items():
        cfg[key] = (val, cfg[key][1])
    for key, (v, u) in cfg.items():
        scalar(c, key, v, u)
    p = m.create_group("params")
    for key, v, u in (("r_row_ohm", 2.1, "ohm"), ("r_col_ohm", 2.9, "ohm"), ("r_driver_ohm", 160.0, "ohm"),
                    ("r_sense_ohm", 11.0, "ohm"), ("r_series_ohm", 900.0, "ohm"),
                    ("g_ref_min_siemens", 0.25e-6, "S"), ("g_ref_max_siemens", 25e-6, "S"),
                    ("v_read_volt", 0.2, "V"), ("gain", 1.003, "1"), ("resid_sigma_rel", 1e-3, "1")):
        scalar(p, key, v, u)
    scalar(p, "n_sweeps", np.int64(n_sweeps), "1")
    kx = p.create_dataset("knot_x", data=np.array([0.0, 0.4, 1.0]))
    kx.attrs["units"] = np.bytes_("1")
    kv = p.create_dataset("knot_v0_volt", data=np.array([0.12, 0.5, 0.9]))
    kv.attrs["units"] = np.bytes_("V")
    if k == 0:  # metrics/heldout_inputs (docs/hdf5-model.md), read by both readers
        hi = m.create_group("metrics/heldout_inputs")
        hi.attrs["version"] = np.int64(1)
        hi.attrs["distributions"] = np.bytes_("uniform,high_gv,sparse,signed")
        hi.attrs["reference"] = np.bytes_("native")
        for name, vals in (("rel_l2", [1e-5, 2e-4, 3e-5, 4e-5]), ("ideal_rel_l2", [0.02, 0.05, 0.03, 0.04])):
            ds = hi.create_dataset(name, data=np.array(vals))
            ds.attrs["units"] = np.bytes_("1")
        scalar(hi, "n_vectors", np.int64(8), "1")
        for name, val in (("train_rel_l2", 1e-5), ("heldout_rel_l2", 1e-5), ("heldout_ideal_rel_l2", 0.02),
                          ("nominal_rel_l2", 1e-3), ("heldout_max_abs_err_amp", 1e-9), ("seconds", 1.0)):
            scalar(m["metrics"], name, val, "A" if name.endswith("amp") else "s" if name == "seconds" else "1")
        for name in ("n_train_vectors", "n_heldout_vectors", "iterations", "lm_status"):
            scalar(m["metrics"], name, np.int64(8), "1")
    v = m.create_group("validity")
    for k, val, u in (("g_min_siemens", 0.25e-6, "S"), ("g_max_siemens", 25e-6, "S"),
                      ("v_min_volt", 0.0, "V"), ("v_max_volt", 0.2, "V")):
        scalar(v, k, val, u)


def write_csv(path, a):
    with open(path, "w") as fh:
        for row in np.atleast_2d(a):
            fh.write(",".join(f"{x:.17g}" for x in row) + "\n")


def run(args):
    return subprocess.run([xbar] + args, capture_output=True, text=True)


model = os.path.join(work, "model.h5")
write_model(model)
G = rng.uniform(0.25e-6, 25e-6, size=(R, C))
V = rng.uniform(0.0, 0.2, size=(7, R))
gp, vp = os.path.join(work, "G.csv"), os.path.join(work, "V.csv")
write_csv(gp, G)
write_csv(vp, V)
array = ["--device", "pcm", "--rows", str(R), "--cols", str(C), "--r-wire-row", "2", "--r-wire-col", "3",
         "--r-driver", "150", "--r-sense", "10"]
r = run(["mvm", "--engine", "model", "--model", model] + array + ["--g", gp, "--v", vp])
if r.returncode != 0:
    sys.exit(f"FAIL: xbar mvm --engine model exit {r.returncode}: {r.stderr.strip()}")
if r.stderr.strip():
    sys.exit(f"FAIL: unexpected stderr (inputs are inside the validity range): {r.stderr.strip()}")
I_c = np.array([[float(x) for x in ln.split(",")] for ln in r.stdout.splitlines() if ln and not ln.startswith("#")])
m = xbar_model.select(xbar_model.load(model), device="pcm", rows=R, cols=C)
I_py = m.mvm(G, V)
rel = np.max(np.abs(I_py - I_c)) / np.max(np.abs(I_c))
ideal = V @ G
print(f"python vs C: max rel difference {rel:.3e}; model vs ideal {np.linalg.norm(I_c - ideal) / np.linalg.norm(ideal):.3e}")
if I_c.shape != (7, C) or not rel <= 1e-6:
    sys.exit("FAIL: xbar_model.py and xbar mvm --engine model differ")
# the model must actually differ from V.G (every term active): guards against a vacuous match
if np.linalg.norm(I_c - ideal) / np.linalg.norm(ideal) < 1e-3:
    sys.exit("FAIL: model output equals the ideal product; the comparison would be vacuous")

# the reader's own CLI gives the same numbers
out = subprocess.run([sys.executable, os.path.join(tools, "xbar_model.py"), model, "--g", gp, "--v", vp],
                     capture_output=True, text=True)
I_cli = np.array([[float(x) for x in ln.split(",")] for ln in out.stdout.splitlines() if ln])
if out.returncode != 0 or np.max(np.abs(I_cli - I_py)) > 0:
    sys.exit(f"FAIL: xbar_model.py CLI: {out.stderr.strip()}")

# a shape without a fitted model: parameters from the size/wire-resistance family, both readers
fam = os.path.join(work, "family.h5")
write_model(fam, family=True)
G9 = G[:, :9]
g9 = os.path.join(work, "G9.csv")
write_csv(g9, G9)
arr9 = ["--device", "pcm", "--rows", str(R), "--cols", "9", "--r-wire-row", "2", "--r-wire-col", "3",
        "--r-driver", "150", "--r-sense", "10"]
r = run(["mvm", "--engine", "model", "--model", fam] + arr9 + ["--g", g9, "--v", vp])
if r.returncode != 0 or "family" not in r.stderr:
    sys.exit(f"FAIL: family model: exit {r.returncode}: {r.stderr.strip()}")
I9_c = np.array([[float(x) for x in ln.split(",")] for ln in r.stdout.splitlines() if ln and not ln.startswith("#")])
m9 = xbar_model.select(xbar_model.load(fam), device="pcm", rows=R, cols=9, r_wire_row=2, r_wire_col=3, r_driver=150)
I9_py = m9.mvm(G9, V)
rel9 = np.max(np.abs(I9_py - I9_c)) / np.max(np.abs(I9_c))
print(f"family model (12x9, not fitted): python vs C max rel difference {rel9:.3e}")
if not getattr(m9, "from_family", False) or not rel9 <= 1e-6:
    sys.exit("FAIL: family-predicted model differs between xbar_model.py and xbar mvm")
r = run(["mvm", "--engine", "model", "--model", fam, "--strict"] + arr9 + ["--g", g9, "--v", vp])
if r.returncode != 2 or len(r.stderr.strip().splitlines()) != 1:
    sys.exit(f"FAIL: --strict with a family-predicted model: exit {r.returncode}: {r.stderr.strip()}")

# validity warning, and --strict makes it an error
V2 = V.copy()
V2[0, 0] = 0.3
vp2 = os.path.join(work, "V2.csv")
write_csv(vp2, V2)
r = run(["mvm", "--engine", "model", "--model", model] + array + ["--g", gp, "--v", vp2])
if r.returncode != 0 or "warning" not in r.stderr or "validity" not in r.stderr:
    sys.exit(f"FAIL: expected a validity warning, got exit {r.returncode}: {r.stderr.strip()}")
r = run(["mvm", "--engine", "model", "--model", model, "--strict"] + array + ["--g", gp, "--v", vp2])
if r.returncode != 2 or len(r.stderr.strip().splitlines()) != 1:
    sys.exit(f"FAIL: --strict outside the range: exit {r.returncode}: {r.stderr.strip()}")

# model selection by configuration (xb_fit_choose in C, select in python): the same choice and
# the same line on a file of PCM models at 12x10 and 8x6 with 1 and 4 ohm wires, a family, and
# an RRAM model (so that a missing --device is ambiguous)
grid = os.path.join(work, "grid.h5")
specs = [("pcm", r, c, {"r_wire_row_ohm": w, "r_wire_col_ohm": w}) for r, c in ((12, 10), (8, 6)) for w in (1.0, 4.0)]
write_model(grid, family=True, models=specs + [("rram", 12, 10, {})])
nofam = os.path.join(work, "nofam.h5")
write_model(nofam, models=specs)
V12 = rng.uniform(0.0, 0.2, size=(5, 12))
vp12 = os.path.join(work, "V12.csv")
write_csv(vp12, V12)
base = ["--r-driver", "150", "--r-sense", "10"]
cases = [  # (file, rows, cols, extra flags, expected choice, expected words in the line)
    (grid, 12, 10, ["--r-wire", "4"], "fitted", ""),
    (grid, 12, 10, ["--r-wire", "2.5"], "interp", "interpolation in r_wire between models 000 (1 ohm) and 001 (4 ohm)"),
    (grid, 8, 6, ["--r-wire", "1.75"], "interp", "between models 002 (1 ohm) and 003 (4 ohm)"),
    (grid, 10, 8, ["--r-wire", "2.5"], "family", "interpolation between fitted models"),
    (grid, 12, 10, ["--r-wire-row", "1", "--r-wire-col", "4"], "family", "interpolation"),
    (grid, 16, 10, ["--r-wire", "2"], "family", "extrapolation (size 16x10 beyond the fitted 7..11)"),
    (grid, 12, 10, ["--r-wire", "2", "--r-sense", "20"], "family", "extrapolation (r_sense 20 where every"),
    (nofam, 12, 10, ["--r-wire", "5"], "nearest", "no size family: model 001 (fitted for r_wire_row 4, here 5)"),
]
for path, rr, cc, extra, kind, words in cases:
    Gs = G[:rr, :cc] if rr <= R else rng.uniform(0.25e-6, 25e-6, size=(rr, cc))
    gsp = os.path.join(work, "Gs.csv")
    write_csv(gsp, Gs)
    Vs = rng.uniform(0.0, 0.2, size=(5, rr))
    vsp = os.path.join(work, "Vs.csv")
    write_csv(vsp, Vs)
    flags = ["--device", "pcm"] + base + extra
    rc = run(["mvm", "--engine", "model", "--model", path] + flags + ["--g", gsp, "--v", vsp])
    rp = subprocess.run([sys.executable, os.path.join(tools, "xbar_model.py"), path, "--g", gsp, "--v", vsp] + flags,
                        capture_output=True, text=True)
    if rc.returncode != 0 or rp.returncode != 0:
        sys.exit(f"FAIL: selection {extra}: C exit {rc.returncode} {rc.stderr.strip()!r}, "
                 f"python exit {rp.returncode} {rp.stderr.strip()!r}")
    c_line = rc.stderr.strip().split(f"{path}: ", 1)[-1] if rc.stderr.strip() else ""
    p_line = rp.stderr.strip().split(f"{path}: ", 1)[-1] if rp.stderr.strip() else ""
    kw = {"r_wire_row": None, "r_wire_col": None}
    for i in range(0, len(extra), 2):
        kw[extra[i][2:].replace("-", "_")] = float(extra[i + 1])
    m = xbar_model.select(xbar_model.load(path), device="pcm", rows=rr, cols=cc, r_driver=150.0,
                          **{"r_sense": 10.0, **kw})
    Ic = np.array([[float(x) for x in ln.split(",")] for ln in rc.stdout.splitlines() if ln])
    Ip = np.array([[float(x) for x in ln.split(",")] for ln in rp.stdout.splitlines() if ln])
    rel = np.max(np.abs(Ic - Ip)) / np.max(np.abs(Ic))
    print(f"select {rr}x{cc} {' '.join(extra)}: C '{c_line}' python '{p_line}' ({m.choice}), max rel {rel:.2e}")
    if m.choice != kind or c_line != p_line or m.choice_line != c_line or words not in c_line or not rel <= 1e-6:
        sys.exit(f"FAIL: selection {extra}: expected {kind} with '{words}'")
    if (kind == "fitted") != (c_line == "") or ("extrapolation" in c_line) != rc.stderr.startswith("xbar mvm: warning"):
        sys.exit(f"FAIL: selection {extra}: line and warning level")
# the held-out error by input distribution: the same numbers through both readers
hi = xbar_model.load(grid)[0].heldout_inputs
r = run(["inspect", grid])
if hi.get("high_gv") != (2e-4, 0.05) or "held-out by input: uniform 1.00e-05/2.00e-02 high_gv 2.00e-04/5.00e-02" \
        not in r.stdout:
    sys.exit(f"FAIL: heldout_inputs: python {hi}, inspect exit {r.returncode} {r.stderr.strip()!r}")
# without --device the python reader refuses a file of two devices (one line, exit 2), and
# takes the only device of a one-device file
rp = subprocess.run([sys.executable, os.path.join(tools, "xbar_model.py"), grid, "--g", gp, "--v", vp],
                    capture_output=True, text=True)
if rp.returncode != 2 or len(rp.stderr.strip().splitlines()) != 1 or "pcm, rram: give the device" not in rp.stderr:
    sys.exit(f"FAIL: ambiguous device: exit {rp.returncode} {rp.stderr.strip()!r}")
try:
    xbar_model.select(xbar_model.load(grid), rows=R, cols=C)
    sys.exit("FAIL: select without a device on a two-device file")
except xbar_model.ModelError as e:
    if "give the device" not in str(e):
        sys.exit(f"FAIL: select message: {e}")

# bad input: exit 2 with one line
bad = os.path.join(work, "v2.h5")
write_model(bad, version=2)
checks = [
    (["--model", bad] + array + ["--g", gp, "--v", vp], "version 2"),
    (["--model", gp] + array + ["--g", gp, "--v", vp], "not an HDF5 file"),
    (["--model", model, "--device", "pcm", "--rows", "12", "--cols", "9", "--g", gp, "--v", vp], ""),
]
for args, needle in checks:
    r = run(["mvm", "--engine", "model"] + args)
    lines = r.stderr.strip().splitlines()
    if r.returncode != 2 or len(lines) != 1 or needle not in r.stderr:
        sys.exit(f"FAIL: {args}: exit {r.returncode}, stderr {r.stderr.strip()!r}, expected '{needle}'")
try:
    xbar_model.load(bad)
    sys.exit("FAIL: the python reader accepted version 2")
except xbar_model.ModelError as e:
    if "version 2" not in str(e):
        sys.exit(f"FAIL: python reader message: {e}")
print("PASS")
