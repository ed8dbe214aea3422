#!/usr/bin/env python3
"""ctest test_export_aihwkit: `xbar export aihwkit` checked with the real IBM aihwkit 1.1
(../shared/peers, its pure-PyTorch inference tiles).

The model file comes from a real campaign (16x16 linear/RRAM/PCM, Monte Carlo programming
error, PCM drift records) fitted by `xbar fit`; the laws the tests compare against are read
from that file with xbar.model (numpy), independently of the exported module.

1. Programming error: a 512 x 256 layer (131 072 weights) converted with the exported
   rpu_config and programmed by aihwkit (program_analog_weights): the spread of the weight
   errors in conductance units, in 8 bins of the target conductance, against the fitted sigma(G)
   of both devices of the pair (censored at 0 as aihwkit clamps): within 5 %.
2. Drift after 1 day: drift exponents of 100 000 devices through the exported noise model's
   aihwkit interface (generate_drift_coefficients / apply_drift_noise_to_conductance, read noise
   off) against the fitted nu(G) (mean and spread of the truncated normal, 6 bins: 5 %); the
   converted layer drifted by aihwkit (drift_analog_weights): mean weights per bin against the
   law's expectation (1 %); the read noise at 1 day against the fitted law (5 %).
3. The shipped MLP (data/fmnist_mlp.h5 loaded into torch by xbar.network) converted with the
   export runs in aihwkit at 1 s, 1 day, 1 year (500 test images, accuracies printed; tiles of
   128 inputs x 64 outputs instead of the fitted 16x16 to keep the test short).
4. CLI: --help; bad input gives one line naming the file or flag and exit 2.
5. Training devices: pulse-train records written here (tests/py_support.py, a soft-bounds
   device) fitted by `xbar fit --update-law L` for each law (softbounds, exp, pwl) and
   exported with --update-model: every family of the module builds its real aihwkit device
   (and training_rpu_config() a SingleRPUConfig); the device's mean step from its parameters
   through aihwkit's documented step equations (written here) against the update model read by
   xbar.update (weights w = 2x - 1): the rms residual equals the module's TRAINING_RESIDUAL;
   the linear law is exact in LinearStepDevice and the pwl law in PiecewiseStepDevice (1e-9),
   and each is the chosen family; the chosen family is within the tie of the best; dw_min_std,
   dw_min_dtod and w_min/max_dtod against the model file's c2c law and d2d tables.  Without an
   update model: TRAINING_FAMILY None and training_device() raises.

usage: test_export_aihwkit.py XBAR_EXE WORK_DIR
"""
import importlib.util
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import py_support as ps  # noqa: E402

import numpy as np  # noqa: E402

xbar_exe, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)
check = ps.check
peers = ps.peers_dir()
sys.path.insert(0, peers)
import aihwkit_torch  # noqa: E402,F401  (registers aihwkit's stand-in extension first)
import torch  # noqa: E402
from aihwkit.nn.conversion import convert_to_analog  # noqa: E402

import xbar  # noqa: E402
import xbar.model as xmodel  # noqa: E402
import xbar.network as xn  # noqa: E402

torch.set_num_threads(1)
torch.manual_seed(1)
model = ps.real_campaign(xbar_exe, work)
stats = xmodel.load_stats(model)
out = os.path.join(work, "aihwkit_pcm.py")
r = subprocess.run([xbar_exe, "export", "aihwkit", model, "--device", "pcm", "-o", out, "--force"],
                   capture_output=True, text=True)
print(r.stdout.strip())
check(r.returncode == 0 and os.path.exists(out), f"xbar export aihwkit: exit {r.returncode}: {r.stderr.strip()}")
spec = importlib.util.spec_from_file_location("aihwkit_pcm", out)
xm = importlib.util.module_from_spec(spec)
spec.loader.exec_module(xm)
g_min_us, g_max_us = xm.G_MIN_S * 1e6, xm.G_MAX_S * 1e6


def censored(mu, s):
    """Mean and variance of max(0, N(mu, s^2)) (elementwise numpy)."""
    s = np.maximum(s, 1e-300)
    a = mu / s
    phi = np.exp(-0.5 * a * a) / math.sqrt(2 * math.pi)
    Phi = 0.5 * (1 + np.vectorize(math.erf)(a / math.sqrt(2)))
    m1 = mu * Phi + s * phi
    m2 = (mu * mu + s * s) * Phi + mu * s * phi
    return m1, m2 - m1 * m1


# ---------------------------------------------------------------- 1. programming error
lin = torch.nn.Linear(512, 256, bias=False)
with torch.no_grad():
    lin.weight.uniform_(-1.0, 1.0)
cfg = xm.rpu_config(dac_bits=0, adc_bits=0, drift_compensation=False)
cfg.mapping.max_input_size = 512          # one tile: one scale ratio for the whole matrix
cfg.mapping.max_output_size = 256
analog = convert_to_analog(lin, cfg)
analog.eval()
analog.program_analog_weights()
w = lin.weight.detach().numpy().astype(np.float64)
wp = analog.get_weights()[0].detach().numpy().astype(np.float64)
s = (g_max_us - g_min_us) / np.max(np.abs(w))          # uS per weight unit (SinglePairConductanceConverter)
e = (wp - w) * s
gp = g_min_us + s * np.maximum(w, 0)                    # target G of each device of the pair (uS)
gm = g_min_us + s * np.maximum(-w, 0)
sig = lambda g: xmodel.sigma_program(stats, "pcm", g * 1e-6, clamp=True) * 1e6  # noqa: E731
mp, vp = censored(gp, sig(gp))
mm, vm = censored(gm, sig(gm))
pred_mean = (mp - gp) - (mm - gm)
pred_sd = np.sqrt(vp + vm)
gbig = np.maximum(gp, gm)
edges = np.linspace(g_min_us, g_max_us, 9)
worst = 0.0
print(f"1. programming error, {w.size} weights through aihwkit (pcm, conductances in uS):")
for lo, hi in zip(edges[:-1], edges[1:]):
    sel = (gbig >= lo) & (gbig < hi)
    z = (e[sel] - pred_mean[sel])
    ratio = np.std(z) / np.sqrt(np.mean(pred_sd[sel] ** 2))
    worst = max(worst, abs(ratio - 1))
    print(f"   G in [{lo:5.2f}, {hi:5.2f}) uS: {sel.sum():6d} weights, spread {np.std(z):.4f} uS, fitted sigma(G) "
          f"of the pair {np.sqrt(np.mean(pred_sd[sel] ** 2)):.4f} uS, ratio {ratio:.4f}")
print(f"   largest deviation of the spread from the fitted sigma(G): {100 * worst:.2f} %")
check(w.size >= 100000 and worst <= 0.05, "programmed spread does not match the fitted sigma(G) within 5 %")

# ---------------------------------------------------------------- 2. drift, read noise
d = stats["pcm_drift"]
T = 86400.0
nm = xm.noise_model(read_noise_scale=0.0)
g = torch.from_numpy(np.random.default_rng(3).uniform(g_min_us, g_max_us, 100000))
nu = nm.generate_drift_coefficients(g)
g1 = nm.apply_drift_noise_to_conductance(g, nu, xm.aihwkit_time(T))
nu_est = (-np.log(g1.numpy() / g.numpy()) / math.log(T / d["t0_s"]))
x = np.log(np.clip(g.numpy() * 1e-6, d["valid_g_siemens"][0], d["valid_g_siemens"][1]) / d["g_ref_siemens"])
mu = d["nu_mean_coef"][0] + d["nu_mean_coef"][1] * x
sd = np.maximum(d["nu_std_coef"][0] + d["nu_std_coef"][1] * x, 0)
m_c, v_c = censored(mu, sd)
edges = np.quantile(x, np.linspace(0, 1, 7))
worst_m = worst_s = 0.0
print("2. drift exponents at 1 day through the exported noise model (100 000 devices):")
for lo, hi in zip(edges[:-1], edges[1:]):
    sel = (x >= lo) & (x <= hi)
    pm = np.mean(m_c[sel])
    ps_ = math.sqrt(np.mean(v_c[sel]) + np.var(m_c[sel]))
    em, es = np.mean(nu_est[sel]), np.std(nu_est[sel])
    worst_m = max(worst_m, abs(em / pm - 1))
    worst_s = max(worst_s, abs(es / ps_ - 1))
    print(f"   ln(G/g_ref) in [{lo:6.2f}, {hi:6.2f}]: mean nu {em:.5f} (law {pm:.5f}), spread {es:.5f} (law {ps_:.5f})")
print(f"   largest deviation: mean {100 * worst_m:.2f} %, spread {100 * worst_s:.2f} %")
check(worst_m <= 0.05 and worst_s <= 0.05, "drift exponents do not match the fitted nu(G)")
# through aihwkit's tiles: drift_analog_weights, programming and read noise off
cfg = xm.rpu_config(dac_bits=0, adc_bits=0, drift_compensation=False, prog_noise_scale=0.0, read_noise_scale=0.0)
cfg.mapping.max_input_size = 512
cfg.mapping.max_output_size = 256
analog = convert_to_analog(lin, cfg)
analog.eval()
analog.program_analog_weights()
analog.drift_analog_weights(xm.aihwkit_time(T))
wt = analog.get_weights()[0].detach().numpy().astype(np.float64)
# E[(T/t0)^-nu] for nu = max(0, N(mu, sd)): Gauss-Hermite over the normal, clipped
zh, wh = np.polynomial.hermite_e.hermegauss(40)
wh = wh / wh.sum()


def decay(gus):
    xx = np.log(np.clip(gus * 1e-6, d["valid_g_siemens"][0], d["valid_g_siemens"][1]) / d["g_ref_siemens"])
    m_ = d["nu_mean_coef"][0] + d["nu_mean_coef"][1] * xx
    s_ = np.maximum(d["nu_std_coef"][0] + d["nu_std_coef"][1] * xx, 0)
    nus = np.maximum(m_[..., None] + s_[..., None] * zh, 0)
    return np.sum(wh * (T / d["t0_s"]) ** (-nus), axis=-1)


pred_w = (gp * decay(gp) - gm * decay(gm)) / s
big = np.abs(w) > 0.2
rel = np.abs(wt[big] - pred_w[big]) / np.abs(pred_w[big])
wb = np.abs(w[big])
worst = 0.0
for lo in (0.2, 0.4, 0.6, 0.8):
    sel = (wb >= lo) & (wb < lo + 0.2)
    dev = abs(np.mean(wt[big][sel] / pred_w[big][sel]) - 1)
    worst = max(worst, dev)
print(f"   aihwkit drift_analog_weights at 1 day: mean weight vs the law's expectation, largest bin deviation "
      f"{100 * worst:.3f} % (weights decayed by {100 * (1 - np.mean(wt[big] / w[big])):.1f} %)")
check(worst <= 0.01, "drifted weights do not follow the fitted law")
nm = xm.noise_model(drift_scale=0.0)
gr = nm.apply_drift_noise_to_conductance(g, torch.zeros_like(g), xm.aihwkit_time(T)).numpy() / g.numpy() - 1
qx = np.exp(d["log_q_coef"][0] + d["log_q_coef"][1] * x) * math.sqrt(
    math.log((T + d["t_read_noise_s"]) / (2 * d["t_read_noise_s"])))
ratio = np.std(gr / qx)
print(f"   read noise at 1 day: relative spread / fitted law = {ratio:.4f}")
check(abs(ratio - 1) <= 0.05, "read noise does not match the fitted law")

# ---------------------------------------------------------------- 3. the shipped MLP in aihwkit
shape, layers = xn.read(os.path.join(ps.ROOT, "data", "fmnist_mlp.h5"))
net = xn.to_torch(shape, layers).eval()
x_img, y_img = xbar.data.load_fmnist(limit=500)
xt_ = torch.from_numpy(x_img)
with torch.no_grad():
    acc_f = float((net(xt_).argmax(1).numpy() == y_img).mean())
cfg = xm.rpu_config()
cfg.mapping.max_input_size = 128     # larger tiles than the 16x16 fitted here: 1/20 of the tile modules
cfg.mapping.max_output_size = 64     # (aihwkit loops over them in Python); the noise laws are per device
analog = convert_to_analog(net, cfg)
analog.eval()
analog.program_analog_weights()
accs = []
for t in (1.0, 86400.0, 3.15576e7):
    analog.drift_analog_weights(xm.aihwkit_time(t))
    with torch.no_grad():
        accs.append(float((analog(xt_).argmax(1).numpy() == y_img).mean()))
print(f"3. shipped MLP in aihwkit with the export (128 x 64 tiles, 8-bit): float "
      f"{100 * acc_f:.1f} %, 1 s {100 * accs[0]:.1f} %, 1 day {100 * accs[1]:.1f} %, 1 year {100 * accs[2]:.1f} % "
      "(500 images, drift compensation on)")
check(all(a > 0.6 for a in accs) and accs[0] > acc_f - 0.1, "the converted MLP does not run sensibly")

# ---------------------------------------------------------------- 5. training devices
import h5py  # noqa: E402
import xbar.update as xupd  # noqa: E402
from aihwkit.simulator.configs import SingleRPUConfig  # noqa: E402


def aihwkit_step(dev, di, w):
    """Mean step magnitude of an aihwkit pulsed device (direction index di: 0 up, 1 down) at
    weights w, from aihwkit 1.1's documented equations (devices.py): dw_d = dw_min (1 + d
    up_down); constant; soft bounds dw_d (1 - w/b_d); linear step dw_d (1 + gamma_d' w) with
    gamma_up' = -gamma_up/w_max, gamma_down' = -gamma_down/w_min (allow_increasing keeps the
    sign); piecewise: dw_min times the linear interpolation of the node values spaced evenly
    from w_min to w_max."""
    name = type(dev).__name__
    d = 1 if di == 0 else -1
    dw = dev.dw_min * (1 + d * dev.up_down)
    if name == "ConstantStepDevice":
        return dw + 0 * w
    if name == "SoftBoundsDevice":
        return dw * (1 - w / (dev.w_max if di == 0 else dev.w_min))
    if name == "LinearStepDevice":
        g = dev.gamma_up if di == 0 else dev.gamma_down
        if not dev.allow_increasing:
            g = abs(g)
        gp = -g / dev.w_max if di == 0 else -g / dev.w_min
        return dw * (1 + gp * w)
    if name == "PiecewiseStepDevice":
        v = np.asarray(dev.piecewise_up if di == 0 else dev.piecewise_down, dtype=float)
        nodes = np.linspace(dev.w_min, dev.w_max, len(v))
        return dev.dw_min * np.interp(w, nodes, v)
    raise ValueError(name)


pulse_res = os.path.join(work, "pulses.h5")
ps.write_pulse_results(pulse_res, "rram")
print("5. training devices (aihwkit pulsed devices) from update models of each law:")
for law in ("softbounds", "exp", "pwl"):
    upd = os.path.join(work, f"update-{law}.h5")
    r = subprocess.run([xbar_exe, "fit", pulse_res, "-o", upd, "--update-law", law, "--force"],
                       capture_output=True, text=True)
    check(r.returncode == 0, f"xbar fit --update-law {law}: {r.stderr.strip()}")
    outt = os.path.join(work, f"aihwkit_train_{law}.py")
    r = subprocess.run([xbar_exe, "export", "aihwkit", model, "--device", "rram", "--update-model", upd, "-o", outt,
                        "--force"], capture_output=True, text=True)
    check(r.returncode == 0 and "training device" in r.stdout, f"export with --update-model: {r.stderr.strip()}")
    spec = importlib.util.spec_from_file_location(f"train_{law}", outt)
    tm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tm)
    um = xupd.load(upd)["rram"]
    W = um.g_max - um.g_min
    G = um.g_min + W * np.linspace(0, 1, 201)  # the grid of the export's least squares
    w = tm.conductance_to_weight(G)
    check(np.allclose(tm.weight_to_conductance(w), G, rtol=1e-12) and abs(w[0] + 1) < 1e-12 and abs(w[-1] - 1) < 1e-12,
          "weight mapping")
    target = [2 * um.law_step(G, +1) / W, -2 * um.law_step(G, -1) / W]
    res = {}
    for fam, stated in tm.TRAINING_RESIDUAL.items():
        dev = tm.training_device(fam)
        check(type(dev).__name__ == fam and type(dev).__module__.startswith("aihwkit."), f"{fam}: a real aihwkit device")
        check(dev.w_min == -1.0 and dev.w_max == 1.0, f"{fam}: weight bounds")
        e = np.concatenate([aihwkit_step(dev, di, w) - target[di] for di in (0, 1)])
        res[fam] = float(np.sqrt(np.mean(e ** 2) / np.mean(np.concatenate(target) ** 2)))
        check(abs(res[fam] - stated) <= 1e-5 * stated + 1e-9, f"{law}/{fam}: residual {res[fam]:.6g} vs stated {stated:.6g}")
    cfg = tm.training_rpu_config()
    check(isinstance(cfg, SingleRPUConfig) and type(cfg.device).__name__ == tm.TRAINING_FAMILY, "training_rpu_config")
    best = min(res.values())
    print(f"   {law}: chosen {tm.TRAINING_FAMILY}; residual of the mean step, recomputed through aihwkit's equations: "
          + ", ".join(f"{k.replace('Device', '')} {v:.3g}" for k, v in res.items()))
    check(res[tm.TRAINING_FAMILY] <= best + 2e-3, f"{law}: the chosen family is not within the tie of the best")
    if law == "softbounds":
        check(res["LinearStepDevice"] <= 1e-9 and tm.TRAINING_FAMILY == "LinearStepDevice", "linear law -> LinearStep")
    if law == "pwl":
        check(res["PiecewiseStepDevice"] <= 1e-9 and tm.TRAINING_FAMILY == "PiecewiseStepDevice", "pwl law -> Piecewise")
    # noise and spreads against the model file's law and tables (its 129-state grid)
    Gg = um.g
    f2 = sum(np.sum(um.law_step(Gg, d) ** 2) for d in (1, -1))
    s2 = sum(np.sum(um.sigma(Gg, d) ** 2) for d in (1, -1))
    v2 = np.sum(um.d2d_dg_up_std ** 2) + np.sum(um.d2d_dg_down_std ** 2)
    with h5py.File(upd, "r") as fh:
        gmin_std = float(fh["update/rram/d2d/g_min_std_siemens"][()])
        gmax_std = float(fh["update/rram/d2d/g_max_std_siemens"][()])
    p = tm._TRAINING_PARAMS[tm.TRAINING_FAMILY]
    ok = (abs(p["dw_min_std"] - math.sqrt(s2 / f2)) <= 1e-9 and abs(p["dw_min_dtod"] - math.sqrt(v2 / f2)) <= 1e-6 *
          max(p["dw_min_dtod"], 1e-3) and abs(p["w_min_dtod"] - 2 * gmin_std / W) <= 1e-12 and
          abs(p["w_max_dtod"] - 2 * gmax_std / W) <= 1e-12)
    print(f"   {law}: dw_min_std {p['dw_min_std']:.4f} (c2c rel {um.c2c['up_rel']:.4f}/{um.c2c['down_rel']:.4f}), "
          f"dw_min_dtod {p['dw_min_dtod']:.4f}, w_min/max_dtod {p['w_min_dtod']:.2e}/{p['w_max_dtod']:.2e}")
    check(ok, f"{law}: noise and spread parameters against the model file")
check(xm.TRAINING_FAMILY is None and xm.UPDATE is None, "no update model: no training device")
try:
    xm.training_device()
    ps.fail("training_device() without an update model")
except ValueError as e:
    check("no pulse-update model" in str(e), f"training_device() error: {e}")

# ---------------------------------------------------------------- 4. CLI
r = subprocess.run([xbar_exe, "export", "--help"], capture_output=True, text=True)
check(r.returncode == 0 and "aihwkit" in r.stdout and "crosssim" in r.stdout, "xbar export --help")
notfile = os.path.join(work, "not.h5")
with open(notfile, "w") as fh:
    fh.write("not hdf5\n")
bad = [(["aihwkit", os.path.join(work, "missing.h5"), "--device", "pcm", "-o", os.path.join(work, "o1.py")], "missing.h5"),
       (["aihwkit", notfile, "--device", "pcm", "-o", os.path.join(work, "o2.py")], "not.h5"),
       (["aihwkit", model, "--device", "ecram", "-o", os.path.join(work, "o3.py")], "no model for --device ecram"),
       (["aihwkit", model, "--device", "pcm", "-o", out], "exists"),
       (["aihwkit", model, "--device", "pcm", "-o", os.path.join(work, "o4.py"), "--adc-bits", "1"], "--adc-bits"),
       (["aihwkit", model, "--device", "pcm", "-o", os.path.join(work, "o5.py"), "--tile-rows", "24",
         "--tile-cols", "24"], "24x24"),
       (["tensorflow", model, "--device", "pcm", "-o", os.path.join(work, "o6.py")], "unknown target"),
       (["aihwkit", model, "-o", os.path.join(work, "o7.py")], "--device"),
       (["aihwkit", model, "--device", "pcm", "-o", os.path.join(work, "o8.py"), "--bogus"], "--bogus"),
       (["aihwkit", model, "--device", "pcm", "-o", os.path.join(work, "o9.py"), "--update-model",
         os.path.join(work, "missing-update.h5")], "missing-update.h5"),
       (["crosssim", model, "--device", "pcm", "-o", os.path.join(work, "o10.py"), "--update-model", model],
        "--update-model: aihwkit only")]
for args, needle in bad:
    r = subprocess.run([xbar_exe, "export"] + args, capture_output=True, text=True)
    lines = r.stderr.strip().splitlines()
    print(f"4. xbar export {' '.join(a if '/' not in a else os.path.basename(a) for a in args)}: exit {r.returncode}: "
          f"{lines[-1] if lines else ''}")
    check(r.returncode == 2 and len(lines) == 1 and needle in lines[0], f"bad input {args}: {r.stderr.strip()!r}")
print("PASS")
