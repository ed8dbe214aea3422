#!/usr/bin/env python3
"""ctest test_torch_layer: xbar.torch (python/xbar/torch.py) against independent references.

1. The tile model in torch vs xbar.model's numpy reader (itself checked against the C model by
   test_fit_py) on a model with every term active: 1e-12.
2. The whole layer (exact form, two input phases, partial edge tiles, 8-bit DAC/ADC calibrated on a
   batch) vs the executor's numerics written again here in numpy from docs/executor.md on top of
   the numpy reader: 1e-9.
3. An ohmic, wire-free ("ideal") model: the layer equals W x + b (closed form) with ideal
   converters (dense and conv2d with padding='same', stride 2); with 8-bit converters the error
   stays inside the quantization bound of docs/executor.md (and uses a good part of it); the
   affine calibration is the identity; straight-through gradients equal W^T (closed form).
4. Gradient check against central finite differences (float64, small tiles, noise off), exact
   and fast forms, dense and conv.
5. The fast form vs the exact form on a nonlinear model with wires: <= 2e-3 relative.
6. Programming error: the spread of the programmed conductances against the fitted sigma(G) of
   the file (20 000 cells, 5 standard errors); PCM drift: exponents recovered from G(t)/G_prog
   against the file's nu(G) law; global drift compensation alpha against the closed form on an
   ideal model; read noise variance against the closed form of docs/drift.md.

usage: test_torch_layer.py XBAR_EXE WORK_DIR
"""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import py_support as ps  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.nn.utils.stateless import functional_call  # noqa: E402

import xbar.model as xm  # noqa: E402
import xbar.torch as xt  # noqa: E402

torch.set_num_threads(1)
work = sys.argv[2]
os.makedirs(work, exist_ok=True)
check = ps.check

# ---------------------------------------------------------------- model files
R, C = 12, 10
FULL = os.path.join(work, "full.h5")      # every term of the model active (as test_fit_py)
SIG = [0.4e-6, 0.05, -1500.0]              # sigma(G) = 0.4 uS + 0.05 G - 1500 G^2 (S)
DRIFT = {"nu_mean_coef": [0.05, -0.01], "nu_std_coef": [0.004, -0.006], "log_q_coef": [-4.7, -0.65],
         "g_ref_siemens": 25e-6, "t0_s": 20.0, "t_read_noise_s": 250e-9, "valid_g_siemens": [1e-8, 30e-6],
         "n_devices": 1000.0, "r2": [1, 1, 1], "bin_x": [0.0], "bin_nu_std": [0.0]}
ps.write_model(FULL, [dict(device="pcm", rows=R, cols=C, r_wire_ohm=2.0, r_row_ohm=2.1, r_col_ohm=2.9,
                           r_driver_ohm=160.0, r_sense_ohm=11.0, r_series_ohm=900.0, gain=1.003,
                           resid_sigma_rel=1e-3, n_sweeps=4, knot_x=[0, 0.4, 1], knot_v0_volt=[0.12, 0.5, 0.9],
                           r_driver_cfg=150.0, r_sense_cfg=10.0),
                      dict(device="pcm", rows=6, cols=4, r_wire_ohm=2.0, r_row_ohm=2.1, r_col_ohm=2.9,
                           r_driver_ohm=160.0, r_sense_ohm=11.0, r_series_ohm=900.0, gain=1.003,
                           n_sweeps=3, knot_x=[0, 0.4, 1], knot_v0_volt=[0.12, 0.5, 0.9],
                           r_driver_cfg=150.0, r_sense_cfg=10.0)],
               stats={"sigma_program": {"pcm": {"coef": SIG, "valid_g_siemens": [0.25e-6, 25e-6]}},
                      "pcm_drift": DRIFT})
IDEAL = os.path.join(work, "ideal.h5")     # ohmic cells, no wire/driver/sense resistance, gain 1
ps.write_model(IDEAL, [dict(device=dev, rows=rr, cols=cc, r_wire_ohm=0.0, r_driver_cfg=0.0)
                       for dev in ("linear", "pcm") for rr, cc in ((12, 10), (6, 4), (8, 8))],
               stats={"pcm_drift": DRIFT})
m_np = xm.select(xm.load(FULL), device="pcm", rows=R, cols=C)

# ---------------------------------------------------------------- 1. tile model vs numpy reader
rng = np.random.default_rng(5)
G = rng.uniform(0.25e-6, 25e-6, (3, R, C))
V = rng.uniform(0.0, 0.2, (7, 3, R))
tm = xt.TileModel(m_np)
I_t = tm.mvm(tm.coefficients(torch.from_numpy(G)), torch.from_numpy(V)).numpy()
I_np = np.stack([m_np.mvm(G[t], V[:, t]) for t in range(3)], 1)
rel = np.max(np.abs(I_t - I_np)) / np.max(np.abs(I_np))
ideal = np.einsum("ktr,trc->ktc", V, G)
print(f"1. tile model (torch) vs numpy reader: max rel {rel:.2e} (model vs V.G: "
      f"{np.linalg.norm(I_np - ideal) / np.linalg.norm(ideal):.2e})")
check(rel <= 1e-12, "the torch tile model differs from xbar.model")


# ---------------------------------------------------------------- 2. layer vs executor numerics in numpy
def executor_numpy(W, b, X, Xc, m, g_min, g_max, dac_bits, adc_bits):
    """docs/executor.md, Mapping + Converters + Calibration step 1-2 (no affine), per tile with the
    numpy model reader: DAC range from Xc, ADC ranges per tile from Xc, then X evaluated."""
    Rr, Cc = m.rows, m.cols
    P = Cc // 2
    n_out, n_in = W.shape
    n_rt, n_ct = -(-n_in // Rr), -(-n_out // P)
    w_max = np.max(np.abs(W))
    dg = g_max - g_min
    tiles = {}
    for r in range(n_rt):
        for c in range(n_ct):
            g = np.full((Rr, Cc), g_min)
            for i in range(Rr):
                for j in range(P):
                    if r * Rr + i < n_in and c * P + j < n_out:
                        w = W[c * P + j, r * Rr + i] / w_max
                        g[i, 2 * j] = g_min + dg * max(w, 0.0)
                        g[i, 2 * j + 1] = g_min + dg * max(-w, 0.0)
            tiles[r, c] = g
    x_r = np.max(np.abs(Xc))
    L = 2 ** dac_bits - 1
    H = 2 ** (adc_bits - 1) - 1
    v_read = m.v_read

    def diffs(Xs):
        out = {}
        for ph, sg in ((0, 1.0), (1, -1.0)):
            u = np.clip(sg * Xs / x_r, 0.0, 1.0)
            if dac_bits:
                u = np.round(u * L) / L
            Vv = u * v_read
            for (r, c), g in tiles.items():
                Vt = np.zeros((Xs.shape[0], Rr))
                k = min(Rr, n_in - r * Rr)
                Vt[:, :k] = Vv[:, r * Rr:r * Rr + k]
                I = m.mvm(g, Vt)
                out[ph, r, c] = I[:, 0::2] - I[:, 1::2]
        return out

    Dc = diffs(Xc)
    rng_t = {}
    for (r, c) in tiles:
        pu = min(P, n_out - c * P)
        rng_t[r, c] = max(np.max(np.abs(Dc[ph, r, c][:, :pu])) for ph in (0, 1))
    D = diffs(X)
    scale = w_max * x_r / (dg * v_read)
    y = np.zeros((X.shape[0], n_out))
    for (ph, r, c), d in D.items():
        pu = min(P, n_out - c * P)
        d = d[:, :pu]
        if adc_bits:
            rg = rng_t[r, c]
            step = rg / H
            d = np.round(np.clip(d, -rg, rg) * (1.0 / step)) * step if rg > 0 else 0.0 * d
        y[:, c * P:c * P + pu] += (1.0 if ph == 0 else -1.0) * scale * d
    return y + b


torch.manual_seed(3)
lin = nn.Linear(30, 13).double()
Xc = torch.rand(40, 30, dtype=torch.float64) * 2 - 0.5
X = torch.rand(25, 30, dtype=torch.float64) * 2 - 0.6
for bits in (0, 8):
    a = xt.convert(lin, FULL, device="pcm", tile=(R, C), dac_bits=bits, adc_bits=bits, form="exact", affine=False)
    xt.calibrate(a, Xc)
    a.eval()
    with torch.no_grad():
        y_t = a(X).numpy()
    y_np = executor_numpy(lin.weight.detach().numpy(), lin.bias.detach().numpy(), X.numpy(), Xc.numpy(), m_np,
                          a.xb.g_min, a.xb.g_max, bits, bits)
    rel = np.max(np.abs(y_t - y_np)) / np.max(np.abs(y_np))
    err_float = np.linalg.norm(y_np - lin(X).detach().numpy()) / np.linalg.norm(y_np)
    print(f"2. layer (exact form, {bits}-bit converters, 3x3 tiles of {R}x{C}, two phases) vs executor numerics "
          f"in numpy: max rel {rel:.2e} (layer vs float: {err_float:.2e})")
    check(rel <= 1e-9, f"layer differs from the executor's numerics ({bits} bits)")
    check(err_float > 1e-3, "the model should visibly differ from the float layer (vacuous comparison)")

# ---------------------------------------------------------------- 3. ideal model: closed forms
torch.manual_seed(4)
lin = nn.Linear(23, 9).double()
X = torch.rand(64, 23, dtype=torch.float64) * 2 - 0.7
yref = lin(X).detach()
for form in ("exact", "fast"):
    a = xt.convert(lin, IDEAL, device="linear", tile=(12, 10), dac_bits=0, adc_bits=0, form=form)
    xt.calibrate(a, X)
    a.eval()
    with torch.no_grad():
        y = a(X)
    rel = float((y - yref).abs().max() / yref.abs().max())
    print(f"3. ideal model, ideal converters, {form} form: layer vs W x + b max rel {rel:.2e}; affine a-1 "
          f"{float((a.aff_a - 1).abs().max()):.1e}, b {float(a.aff_b.abs().max()):.1e}")
    check(rel <= 1e-12, f"ideal layer ({form}) is not W x + b")
    check(float((a.aff_a - 1).abs().max()) <= 1e-9 and float(a.aff_b.abs().max()) <= 1e-9 * float(yref.abs().max()),
          "affine calibration of an exact layer is not the identity")
# 8-bit converters: the quantization bound (docs/executor.md)
a = xt.convert(lin, IDEAL, device="linear", tile=(12, 10), dac_bits=8, adc_bits=8, form="exact", affine=False)
xt.calibrate(a, X)
a.eval()
with torch.no_grad():
    y = a(X)
Lq, Hq = 255, 127
W = lin.weight.detach()
x_r = float(a.dac_range)
scale = float(a.w_max(W)) * x_r / ((a.xb.g_max - a.xb.g_min) * a.xb.v_read)
rt = a.adc_range * scale                                    # tile ranges in weight units
phases = 2
bound = W.abs().sum(1) * x_r / (2 * Lq) + (phases * rt.sum(0) / (2 * Hq)).repeat_interleave(5)[:9]
excess = float(((y - yref).abs() - bound).max())
used = float(((y - yref).abs() / bound).max())
print(f"3. ideal model, 8-bit converters: |error| <= bound everywhere (largest error/bound {used:.2f})")
check(excess <= 1e-12 and used > 0.1, "quantization error outside the bound, or the bound is vacuous")
# straight-through gradients: d(sum y g)/dx = W^T g (scaled by the affine a = 1), closed form
a.train()
a.xb.train_noise = False
Xg = X.clone().requires_grad_(True)
gout = torch.randn(64, 9, dtype=torch.float64)
(a(Xg) * gout).sum().backward()
ste = float((Xg.grad - gout @ W).abs().max() / (gout @ W).abs().max())
print(f"3. straight-through gradient (8-bit DAC/ADC) vs W^T g: max rel {ste:.1e}")
check(ste <= 1e-12, "straight-through gradient is not W^T g")
# conv2d, padding='same' and stride 2, ideal converters: F.conv2d
torch.manual_seed(5)
for conv in (nn.Conv2d(3, 5, 3, padding="same"), nn.Conv2d(3, 4, (3, 2), stride=2, padding=1)):
    conv = conv.double()
    xi = torch.rand(4, 3, 9, 9, dtype=torch.float64) - 0.3
    a = xt.convert(conv, IDEAL, device="linear", tile=(8, 8), dac_bits=0, adc_bits=0, form="exact")
    xt.calibrate(a, xi)
    a.eval()
    with torch.no_grad():
        y = a(xi)
    ref = conv(xi).detach()
    rel = float((y - ref).abs().max() / ref.abs().max())
    print(f"3. ideal model, conv2d {tuple(conv.weight.shape)} padding={conv.padding} stride={conv.stride}: "
          f"vs F.conv2d max rel {rel:.1e}")
    check(y.shape == ref.shape and rel <= 1e-12, "analog conv2d with an ideal model is not F.conv2d")

# ---------------------------------------------------------------- 4. gradient check
torch.manual_seed(6)
for form in ("exact", "fast"):
    for kind in ("dense", "conv"):
        if kind == "dense":
            mod = nn.Linear(9, 4).double()
            x = (torch.rand(3, 9, dtype=torch.float64) * 0.8 + 0.1)
            x[0, :4] *= -1
        else:
            mod = nn.Conv2d(2, 3, 2, stride=1, padding=0).double()
            x = torch.rand(2, 2, 3, 3, dtype=torch.float64) * 0.8 + 0.1
        a = xt.convert(mod, FULL, device="pcm", tile=(6, 4), dac_bits=0, adc_bits=0, form=form, affine=False,
                       dac_range=1.0, train_noise=False, fast_terms=2)
        a.train()
        Wg = mod.weight.detach().clone().requires_grad_(True)
        bg = mod.bias.detach().clone().requires_grad_(True)
        xg = x.clone().requires_grad_(True)

        def f(xv, wv, bv):
            return functional_call(a, {"weight": wv, "bias": bv}, (xv,))
        ok = torch.autograd.gradcheck(f, (xg, Wg, bg), eps=1e-6, atol=1e-8, rtol=1e-4, raise_exception=False)
        print(f"4. gradcheck {form} form, {kind}, 6x4 tiles with IR drop, nonlinearity, series element: "
              f"{'pass' if ok else 'FAIL'}")
        check(ok, f"gradient check failed ({form}, {kind})")

# ---------------------------------------------------------------- 5. fast vs exact form
torch.manual_seed(7)
lin = nn.Linear(30, 13).double()
X = torch.rand(50, 30, dtype=torch.float64)
out = {}
for form in ("exact", "fast"):
    a = xt.convert(lin, FULL, device="pcm", tile=(R, C), dac_bits=0, adc_bits=0, form=form, affine=False)
    xt.calibrate(a, X)
    a.eval()
    with torch.no_grad():
        out[form] = a(X)
    if form == "fast":
        terms, herr = a.xb._fast_terms, a.xb.fast_error
ref = lin(X).detach()
d_fe = float((out["fast"] - out["exact"]).norm() / out["exact"].norm())
d_ie = float((ref - out["exact"]).norm() / out["exact"].norm())
print(f"5. fast form ({terms} terms, held-out error on the first tile {herr:.1e}) vs exact form: rel-L2 {d_fe:.2e} "
      f"(float layer vs exact {d_ie:.2e})")
check(d_fe <= 2e-3 and d_fe <= 0.05 * d_ie, "fast form too far from the exact form")

# ---------------------------------------------------------------- 6. programming error, drift, read noise
torch.manual_seed(8)
lin = nn.Linear(120, 84).double()      # 20 160 weights, tiles 10 x 17 of 12x10 = 20 400 cells
a = xt.convert(lin, FULL, device="pcm", tile=(R, C), form="exact")
layer = a
g_t = layer.conductances(lin.weight.detach())
layer.program(torch.Generator().manual_seed(11))
dG = (layer._g_prog - g_t).numpy().ravel()
gt = g_t.numpy().ravel()
sig = xm.sigma_program(xm.load_stats(FULL), "pcm", gt, clamp=True)
# clipping at 0 matters only where G < 3 sigma: keep cells above
keep = gt > 4 * sig
z = dG[keep] / sig[keep]
n = z.size
se_var = math.sqrt(2.0 / n)
print(f"6. programming error: {n} cells, var(dG/sigma(G)) = {np.var(z):.4f} (1 +- {se_var:.4f}), mean {np.mean(z):+.4f}")
check(abs(np.var(z) - 1) <= 5 * se_var and abs(np.mean(z)) <= 5 / math.sqrt(n), "programming error spread != sigma(G)")
# drift exponents from G(t)/G_prog at 1 day vs the file's law (truncated normal moments)
t = 86400.0
layer.set_time(t, compensate=False)
g0 = layer._g_prog.numpy().ravel()
g1 = layer._g_now.numpy().ravel()
with np.errstate(divide="ignore", invalid="ignore"):
    nu = -np.log(g1 / g0) / math.log(t / 20.0)
x = np.log(np.clip(g0, 1e-8, 30e-6) / 25e-6)
nbad = 0
for lo, hi in ((-8, -3), (-3, -1.5), (-1.5, -0.5), (-0.5, 0.3)):
    sel = (x >= lo) & (x < hi) & (g0 > 0)
    if sel.sum() < 500:
        continue
    mu = 0.05 - 0.01 * x[sel]
    sd = np.maximum(0.004 - 0.006 * x[sel], 0)
    # E[max(N(mu, sd), 0)] per cell (censored normal), averaged
    from math import erf
    phi = np.exp(-0.5 * (mu / sd) ** 2) / math.sqrt(2 * math.pi)
    Phi = 0.5 * (1 + np.vectorize(erf)(mu / sd / math.sqrt(2)))
    mean_c = np.mean(mu * Phi + sd * phi)
    se = np.std(nu[sel]) / math.sqrt(sel.sum())
    print(f"6. drift at 1 day, x in [{lo}, {hi}): {sel.sum()} cells, mean nu {np.mean(nu[sel]):.5f} vs law "
          f"{mean_c:.5f} (se {se:.1e})")
    nbad += abs(np.mean(nu[sel]) - mean_c) > 5 * se + 1e-12
check(nbad == 0, "drift exponents do not follow the file's nu(G)")
# global drift compensation on an ideal model: alpha = sum G_prog / sum G(t) per tile (closed form)
a = xt.convert(nn.Linear(20, 8).double(), IDEAL, device="pcm", tile=(8, 8), form="exact")
layer = a
layer.program(torch.Generator().manual_seed(2))
layer.set_time(3.15e7, compensate=True)
alpha_cf = layer._g_prog.sum(dim=(-2, -1)) / layer._g_now.sum(dim=(-2, -1))
dal = float((layer.drift_alpha - alpha_cf).abs().max())
print(f"6. global drift compensation at 1 year, ideal model: alpha {layer.drift_alpha.numpy().ravel()[:3]} vs "
      f"closed form, max diff {dal:.1e}")
check(dal <= 1e-12 and float(layer.drift_alpha.min()) > 1.1, "drift compensation alpha")
# read noise: variance of the output against (w_max x_r/(dg v_read))^2 sum_i V_i^2 (s+^2 + s-^2)
torch.manual_seed(9)
lin = nn.Linear(8, 3).double()
a = xt.convert(lin, IDEAL, device="pcm", tile=(8, 8), dac_bits=0, adc_bits=0, form="exact", affine=False)
xt.program(a, seed=3)
x1 = torch.rand(1, 8, dtype=torch.float64) * 0.5 + 0.25
xt.calibrate(a, torch.ones(1, 8, dtype=torch.float64))
a.set_time(3600.0, compensate=False, read_noise=True)
a.eval()
with torch.no_grad():
    ys = a(x1.repeat(4000, 1))
s2 = a._read_s2[0, 0]                                   # (R, C) cell variances
Vv = (x1[0] / float(a.dac_range)) * a.xb.v_read
var_pair = (Vv[:, None] ** 2 * (s2[:, 0::2] + s2[:, 1::2])).sum(0)[:3]
k = float(a.w_max(lin.weight)) * float(a.dac_range) / ((a.xb.g_max - a.xb.g_min) * a.xb.v_read)
var_cf = (k * k * var_pair).numpy()
var_s = ys.var(0).numpy()
se = var_cf * math.sqrt(2 / 3999)
print(f"6. read noise at 1 h: output variance {var_s} vs closed form {var_cf}")
check(np.all(np.abs(var_s - var_cf) <= 5 * se) and np.all(var_cf > 0), "read noise variance")
print("PASS")
