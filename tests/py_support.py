"""Shared helpers of the Python tests (tests/test_*.py): model files written with h5py straight
from docs/hdf5-model.md, the peers' location, a tiny real campaign, failures."""
import os
import subprocess
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def peers_dir():
    """../shared/peers next to the repository (XBAR_PEERS_DIR overrides, set by ctest from the
    CMake cache variable of the same name).  Missing peers are a failure, never a skip."""
    d = os.environ.get("XBAR_PEERS_DIR") or os.path.join(ROOT, "..", "shared", "peers")
    d = os.path.abspath(d)
    for sub in ("crosssim/simulator", "aihwkit/aihwkit", "aihwkit_torch.py"):
        if not os.path.exists(os.path.join(d, sub)):
            fail(f"peer simulators missing: {os.path.join(d, sub)} (expected the shared peers folder at "
                 "../shared/peers next to the repository, or -DXBAR_PEERS_DIR=...)")
    return d


def _scalar(g, name, value, unit):
    ds = g.create_dataset(name, data=value)
    ds.attrs["units"] = np.bytes_(unit)


DEVICE_RANGE = {"linear": (1e-6, 40e-6), "rram": (1e-6, 40e-6), "pcm": (0.25e-6, 25e-6), "ecram": (1e-6, 10e-6)}


def write_model(path, models, stats=None):
    """models: list of dicts with device, rows, cols and optional params overriding a full set
    (r_row_ohm, r_col_ohm, r_driver_ohm, r_sense_ohm, r_series_ohm, knot_x, knot_v0_volt, gain,
    resid_sigma_rel, n_sweeps; config r_wire_ohm, r_driver_cfg, r_sense_cfg).  stats: dict of
    /stats groups {"sigma_program": {dev: {"coef": [...], "valid_g_siemens": [lo, hi]}},
    "pcm_drift": {...}}."""
    with h5py.File(path, "w") as f:
        f.attrs["format"] = np.bytes_("xbar-model")
        f.attrs["version"] = np.int64(1)
        f.attrs["xbar_version"] = np.bytes_("test")
        for k, md in enumerate(models):
            dev = md["device"]
            g_lo, g_hi = md.get("g_range", DEVICE_RANGE[dev])
            m = f.create_group(f"models/{k:03d}")
            m.attrs["device"] = np.bytes_(dev)
            m.attrs["cell"] = np.bytes_(md.get("cell", "1r"))
            m.attrs["form"] = np.bytes_("xbar-irdrop-sinh-v1")
            c = m.create_group("config")
            _scalar(c, "rows", np.int64(md["rows"]), "1")
            _scalar(c, "cols", np.int64(md["cols"]), "1")
            rw = md.get("r_wire_ohm", 1.0)
            cfg = {"r_wire_row_ohm": (rw, "ohm"), "r_wire_col_ohm": (rw, "ohm"),
                   "r_driver_ohm": (md.get("r_driver_cfg", 100.0), "ohm"),
                   "r_sense_ohm": (md.get("r_sense_cfg", 0.0), "ohm"), "c_wire_farad": (2e-16, "F"),
                   "v_read_volt": (0.2, "V"), "rram_v0_volt": (0.25, "V"), "pcm_v0_low_volt": (0.15, "V"),
                   "pcm_v0_high_volt": (1.0, "V"), "g_min_siemens": (g_lo, "S"), "g_max_siemens": (g_hi, "S"),
                   "nmos_kp_a_per_v2": (300e-6, "A/V^2"), "nmos_w_over_l": (2.0, "1"), "nmos_vt_volt": (0.4, "V"),
                   "nmos_lambda_per_v": (0.0, "1/V"), "v_gate_volt": (1.2, "V"), "sel_is_amp": (1e-6, "A"),
                   "sel_vs_volt": (0.1, "V"), "stuck_on_rate": (0.0, "1"), "stuck_off_rate": (0.0, "1")}
            for key, (v, u) in cfg.items():
                _scalar(c, key, v, u)
            p = m.create_group("params")
            defaults = {"r_row_ohm": rw, "r_col_ohm": rw, "r_driver_ohm": md.get("r_driver_cfg", 100.0),
                        "r_sense_ohm": md.get("r_sense_cfg", 0.0), "r_series_ohm": 0.0, "gain": 1.0,
                        "resid_sigma_rel": 0.0}
            units = {"gain": "1", "resid_sigma_rel": "1"}
            for key, v in defaults.items():
                _scalar(p, key, float(md.get(key, v)), units.get(key, "ohm"))
            _scalar(p, "g_ref_min_siemens", g_lo, "S")
            _scalar(p, "g_ref_max_siemens", g_hi, "S")
            _scalar(p, "v_read_volt", 0.2, "V")
            _scalar(p, "n_sweeps", np.int64(md.get("n_sweeps", 3)), "1")
            kx = p.create_dataset("knot_x", data=np.asarray(md.get("knot_x", []), dtype=float))
            kx.attrs["units"] = np.bytes_("1")
            kv = p.create_dataset("knot_v0_volt", data=np.asarray(md.get("knot_v0_volt", []), dtype=float))
            kv.attrs["units"] = np.bytes_("V")
            v = m.create_group("validity")
            for key, val, u in (("g_min_siemens", g_lo, "S"), ("g_max_siemens", g_hi, "S"),
                                ("v_min_volt", 0.0, "V"), ("v_max_volt", 0.2, "V")):
                _scalar(v, key, val, u)
        for name, grp in (stats or {}).items():
            if name == "sigma_program":
                for dev, d in grp.items():
                    g = f.create_group(f"stats/sigma_program/{dev}")
                    for key, val in d.items():
                        g.create_dataset(key, data=np.asarray(val, dtype=float)).attrs["units"] = np.bytes_("S")
            else:
                g = f.create_group(f"stats/{name}")
                for key, val in grp.items():
                    g.create_dataset(key, data=np.asarray(val, dtype=float)).attrs["units"] = np.bytes_("1")


def write_pulse_results(path, device="rram"):
    """A results file with pulse-train records (docs/hdf5-results.md, program/train_*), for
    tests/test_update_py.py and the export tests: 3 devices x 2 start states x 2 cycles of 30 up + 30
    down pulses from f_up = 0.05 (9 uS - G), f_down = -0.05 (G - 1 uS) with 5 % multiplicative
    noise and a 10 % device spread of the rates; `xbar fit [--update-law L]` makes
    /update/<device> of it."""
    D, S, P, C, NPRE = 3, 2, 30, 2, 4
    K = NPRE + 2 * P * C
    rng = np.random.default_rng(3)
    dirs = np.zeros((S, K), dtype=np.int64)
    for s in range(S):
        for k in range(K):
            dirs[s, k] = (1 if s else 0) if k < NPRE else (1 if (k - NPRE) % (2 * P) < P else -1)
    g = np.zeros((D, S, K + 1))
    for d in range(D):
        au, ad = 0.05 * (1 + 0.1 * rng.standard_normal(2))
        for s in range(S):
            x = 4e-6
            g[d, s, 0] = x
            for k in range(K):
                q = dirs[s, k]
                f = au * (9e-6 - x) if q > 0 else (-ad * (x - 1e-6) if q < 0 else 0.0)
                x += f * (1 + 0.05 * rng.standard_normal())
                g[d, s, k + 1] = x
    with h5py.File(path, "w") as f:
        f.attrs["format"] = np.bytes_("xbar-results")
        f.attrs["format_version"] = 1
        p = f.create_group("points/p00000")
        p.attrs["status"] = np.bytes_("ok")
        p.attrs["device"] = np.bytes_(device)
        pg = p.create_group("program")
        for name, data, unit in (("train_g", g, "S"), ("train_energy", np.where(dirs[None] != 0, 2e-15, 0.0) +
                                                       np.zeros((D, S, K)), "J"),
                                 ("train_direction", dirs, "1")):
            pg[name] = data
            pg[name].attrs["units"] = np.bytes_(unit)
        for k, v in (("up_volt", 1.3), ("down_volt", -1.3), ("pulse_width_s", 1e-8)):
            pg.attrs[k] = v
        for k, v in (("pulses", P), ("cycles", C), ("preset_slots", NPRE), ("devices", D)):
            pg.attrs[k] = np.int64(v)


def real_campaign(xbar, work, fresh=False):
    """A tiny real campaign (16x16 linear/RRAM/PCM at 2 ohm, native engine, Monte Carlo
    programming error, PCM drift records; under a second) fitted by `xbar fit` (about a second;
    half a minute of CPU under ASan): the model file the exports are tested on.  ctest builds it
    once (fixture test_interop_campaign, XBAR_TEST_CAMPAIGN_DIR) for both export tests; without
    that it is made in work, and reused there."""
    shared = os.environ.get("XBAR_TEST_CAMPAIGN_DIR")
    if shared and not fresh:
        model = os.path.join(shared, "campaign-model.h5")
        check(os.path.exists(model), f"{model}: missing (the ctest fixture test_interop_campaign makes it)")
        return model
    os.makedirs(work, exist_ok=True)
    model = os.path.join(work, "campaign-model.h5")
    if fresh and os.path.exists(model):
        os.remove(model)
    if os.path.exists(model):
        return model
    ini = os.path.join(work, "campaign.ini")
    with open(ini, "w") as fh:
        fh.write("[campaign]\nname = interop-test\nseed = 7\nengine = native\n"
                 "[array]\nsize = 16x16\ndevice = linear, rram, pcm\nr_wire_ohm = 2\n"
                 "[variability]\nprogram = yes\nmonte_carlo = 6\n"
                 "[inputs]\nsamples = 2\nvectors = 8\n[read]\nschemes = none\n[drift]\nenabled = yes\n")
    res = os.path.join(work, "campaign-results.h5")
    for args in (["characterize", ini, "-o", res, "--force"], ["fit", res, "-o", model + ".tmp"]):
        if os.path.exists(model + ".tmp"):
            os.remove(model + ".tmp")
        r = subprocess.run([xbar] + args, capture_output=True, text=True)
        check(r.returncode == 0, f"xbar {' '.join(args)}: exit {r.returncode}: {r.stderr.strip()[-500:]}")
    os.rename(model + ".tmp", model)
    return model


if __name__ == "__main__":
    # ctest fixture test_interop_campaign: usage py_support.py XBAR_EXE DIR
    m = real_campaign(sys.argv[1], sys.argv[2], fresh=True)
    print(f"campaign model: {m}")
