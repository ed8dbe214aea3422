#!/usr/bin/env python3
"""python/xbar/update.py against the C fitter (ctest test_update_py).

A results file with pulse-train records is written with h5py (py_support.write_pulse_results; docs/hdf5-results.md,
program/train_*) from a closed-form soft-bounds law; `xbar fit --update-law L` writes the
model with each law.  Checked: the reader's step and sigma from the law's parameters equal
the C fitter's tabulated datasets at every grid state; interpolating the tables (any reader's
way) agrees with the law between grid states to the interpolation bound; the pulse simulator
has the model's mean and spread (tolerance from the sample size), is seeded and stays in the
window; bad files raise one-line errors naming the file and dataset.

usage: test_update_py.py XBAR PYTHON_XBAR_DIR WORK_DIR
"""
import importlib.util
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np

from py_support import write_pulse_results  # the pulse-train results file (tests/py_support.py)

XBAR, PYDIR, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
spec = importlib.util.spec_from_file_location("xbar_update", os.path.join(PYDIR, "update.py"))
update = importlib.util.module_from_spec(spec)
spec.loader.exec_module(update)

Z = 4.5  # standard errors: a Gaussian estimate outside has probability 7e-6
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def run(*args):
    r = subprocess.run([XBAR] + list(args), capture_output=True, text=True)
    if r.returncode:
        print(r.stdout, r.stderr)
    return r


shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
res = os.path.join(WORK, "r.h5")
write_pulse_results(res, device="ecram")

for law in update.LAWS:
    mod = os.path.join(WORK, "m-%s.h5" % law)
    check(run("fit", res, "-o", mod, "--update-law", law).returncode == 0, "xbar fit --update-law %s" % law)
    m = update.load(mod)["ecram"]
    check(m.law == law, "%s: law read back" % law)
    with h5py.File(mod, "r") as f:
        u = f["update/ecram"]
        W = m.g_max - m.g_min
        worst = 0.0
        for d, dg, sg in ((1, "dg_up_siemens", "sigma_c2c_up_siemens"), (-1, "dg_down_siemens", "sigma_c2c_down_siemens")):
            worst = max(worst, np.max(np.abs(m.step(m.g, d) - u[dg][()])), np.max(np.abs(m.sigma(m.g, d) - u[sg][()])))
        check(worst <= 1e-12 * W, "%s: step/sigma from the law = the C tables at the grid (worst %.2g S, window %.2g S)"
              % (law, worst, W))
    # between grid states: interpolated table vs the law, bound 0.5 x the local second difference
    mid = 0.5 * (m.g[1:] + m.g[:-1])
    ok = True
    for d in (1, -1):
        t = m.dg_up if d > 0 else m.dg_down
        d2 = np.abs(np.diff(t, 2))
        bound = 0.5 * np.maximum(np.concatenate([[0], d2]), np.concatenate([d2, [0]])) + 1e-15 * W
        err = np.abs(m.step(mid, d, source="table") - m.step(mid, d))
        ok = ok and bool(np.all(err <= bound))
    check(ok, "%s: table interpolation between grid states within the interpolation bound" % law)

m = update.load(os.path.join(WORK, "m-softbounds.h5"))["ecram"]
# the simulator: one pulse from g0 on n devices: mean step(g0) (SE sigma/sqrt(n)), std sigma(g0)
# (SE sigma/sqrt(2n)); seeded; the window holds
n, g0 = 20000, 5e-6
for d in (1, -1):
    g1 = m.apply_pulses(np.full(n, g0), 1, d, seed=11)
    st, sg = float(m.step(g0, d)), float(m.sigma(g0, d))
    check(abs(g1.mean() - g0 - st) <= Z * sg / np.sqrt(n), "pulse %+d: mean change %.5g vs step %.5g" % (d, g1.mean() - g0, st))
    check(abs(g1.std() - sg) <= Z * sg / np.sqrt(2 * n), "pulse %+d: spread %.4g vs sigma %.4g" % (d, g1.std(), sg))
check(np.array_equal(m.apply_pulses(np.full(10, g0), 7, 1, seed=5), m.apply_pulses(np.full(10, g0), 7, 1, seed=5)),
      "seeded: the same seed repeats")
tr = m.simulate(np.full(50, g0), [1] * 200 + [0] * 5 + [-1] * 200, seed=2)
check(tr.shape == (406, 50) and tr.min() >= m.g_min and tr.max() <= m.g_max, "simulate: shape, G stays in the window")
det = m.simulate(g0, [1] * 20, noise=False)
x = g0
for k in range(20):
    x = x + float(m.step(x, 1))
check(abs(det[-1] - x) <= 1e-18, "noise-free simulate = the mean step iterated")

# a version-1 group (before the c2c state factor): it loads, its sigma is the law's
old = os.path.join(WORK, "v1.h5")
shutil.copy(os.path.join(WORK, "m-pwl.h5"), old)
with h5py.File(old, "a") as f:
    u = f["update/ecram"]
    for k in ("bin_up_scale", "bin_down_scale", "bin_up_n", "bin_down_n"):
        del u["c2c"][k]
    u.attrs["version"] = np.int64(1)
    u.attrs["form"] = np.bytes_("xbar-update-v1")
m1, m2 = update.load(old)["ecram"], update.load(os.path.join(WORK, "m-pwl.h5"))["ecram"]
gg = np.linspace(m1.g_min, m1.g_max, 57)
law_sigma = np.sqrt(m1.c2c["up_abs_siemens"] ** 2 + (m1.c2c["up_rel"] * m1.law_step(gg, 1)) ** 2)
check(m1.version == 1 and np.allclose(m1.sigma(gg, 1), law_sigma, rtol=1e-12, atol=0),
      "version 1 loads: sigma = the law's")
check(m2.version == 2 and np.allclose(m2.sigma(gg, 1), m2.c2c_factor(gg, 1) * law_sigma, rtol=1e-12, atol=0),
      "version 2: sigma = the state factor x the law's")

# bad files: one-line ValueError naming the file and dataset
bad = os.path.join(WORK, "bad.h5")
for what, edit, want in (
        ("missing", lambda u: u["law"].__delitem__("up_knot_siemens"), "/update/ecram/law/up_knot_siemens: missing dataset"),
        ("unit", lambda u: u["g_siemens"].attrs.__setitem__("units", np.bytes_("A")), "/update/ecram/g_siemens: unit"),
        ("version", lambda u: u.attrs.__setitem__("version", 3), "update model version 3"),
        ("shape", lambda u: (u.__delitem__("dg_up_siemens"), u.create_dataset("dg_up_siemens", data=np.zeros(3)),
                             u["dg_up_siemens"].attrs.__setitem__("units", np.bytes_("S"))), "/update/ecram/dg_up_siemens: shape")):
    shutil.copy(os.path.join(WORK, "m-softbounds.h5"), bad)
    with h5py.File(bad, "a") as f:
        edit(f["update/ecram"])
    try:
        update.load(bad)
        check(False, "bad %s: no error" % what)
    except ValueError as e:
        msg = str(e)
        check(bad in msg and want in msg and "\n" not in msg, "bad %s: %s" % (what, msg))
r = subprocess.run([sys.executable, os.path.join(PYDIR, "update.py"), res], capture_output=True, text=True)
check(r.returncode == 2 and r.stderr.count("\n") == 1 and "format" in r.stderr, "CLI on a results file: %s" % r.stderr.strip())
r = subprocess.run([sys.executable, os.path.join(PYDIR, "update.py"), os.path.join(WORK, "m-exp.h5")], capture_output=True,
                   text=True)
check(r.returncode == 0 and r.stdout.startswith("ecram  law exp"), "CLI: one line per device")

print("%d failure(s)" % len(failures))
sys.exit(1 if failures else 0)
