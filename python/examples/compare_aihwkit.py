#!/usr/bin/env python3
"""The shipped MLP in IBM aihwkit with `xbar export aihwkit`, beside `xbar run` on the same
model file and device, at several times after programming (docs/interop.md, "aihwkit"),
and xbar.torch with the same fitted laws.

    /usr/bin/python3 python/examples/compare_aihwkit.py --model MODEL.h5 --device pcm
        --aihwkit ../shared/peers [--xbar build/xbar] [--tile 32] [--images 2000] [--seeds 3]

aihwkit side: the network file loaded into torch (xbar.network), convert_to_analog with the
exported rpu_config(), program_analog_weights() (the fitted sigma(G)), drift_analog_weights at
aihwkit_time(t) (the fitted nu(G) and read noise), global drift compensation; --seeds
programmings.  xbar side: `xbar run --engine tiled-ideal --var-program --time t` (tiles with
the exact I = V G: IR drop and read nonlinearity off, as in aihwkit's tiles; programming error,
drift and read noise from the device laws of docs/drift.md, which the campaign behind the
model file sampled), same tile size and converters; and `--engine model --model MODEL.h5` with
IR drop and nonlinearity on, for reference.  xbar.torch side: the same fitted programming-error,
drift and read-noise laws as the export (the executor uses its device table instead) on a copy
of the model file with the wire, driver, sense and series resistances set to 0 and ohmic cells
(IR drop and nonlinearity off): the remaining difference to aihwkit is the periphery.
"""
import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, ".."))

import numpy as np  # noqa: E402

TIMES = (("1 s", 1.0), ("1 day", 86400.0), ("1 year", 3.15576e7))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--device", default="pcm")
    ap.add_argument("--aihwkit", required=True, help="folder holding aihwkit_torch.py and aihwkit/")
    ap.add_argument("--xbar", default=os.path.join(ROOT, "build", "xbar"))
    ap.add_argument("--tile", type=int, default=32)
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--bits", type=int, default=8, help="DAC and ADC bits on both sides (0: ideal converters)")
    a = ap.parse_args()
    sys.path.insert(0, a.aihwkit)
    import aihwkit_torch  # noqa: F401
    import torch
    from aihwkit.nn.conversion import convert_to_analog

    import xbar
    import xbar.network as xn
    torch.set_num_threads(1)
    net_path = os.path.join(ROOT, "data", "fmnist_mlp.h5")
    work = tempfile.mkdtemp(prefix="xbar-aihwkit-")
    mod = os.path.join(work, "exported.py")
    subprocess.run([a.xbar, "export", "aihwkit", a.model, "--device", a.device, "-o", mod, "--tile-rows",
                    str(a.tile), "--tile-cols", str(a.tile), "--dac-bits", str(a.bits), "--adc-bits", str(a.bits)],
                   check=True)
    spec = importlib.util.spec_from_file_location("exported", mod)
    xm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(xm)
    shape, layers = xn.read(net_path)
    net = xn.to_torch(shape, layers).eval()
    x, y = xbar.data.load_fmnist(limit=a.images)
    x = torch.from_numpy(x)
    with torch.no_grad():
        acc_f = float((net(x).argmax(1).numpy() == y).mean())
    rows = {}
    for seed in range(1, a.seeds + 1):
        torch.manual_seed(seed)
        analog = convert_to_analog(net, xm.rpu_config())
        analog.eval()
        analog.program_analog_weights()
        for name, t in TIMES:
            analog.drift_analog_weights(xm.aihwkit_time(t))
            with torch.no_grad():
                rows.setdefault(("aihwkit + export", name), []).append(
                    float((analog(x).argmax(1).numpy() == y).mean()))
    # xbar.torch with the same fitted laws as the export, on a wire-free ohmic copy of the model
    # (IR drop and read nonlinearity off): what differs from aihwkit is then the periphery
    import shutil

    import h5py
    import xbar.torch as xt
    ideal = os.path.join(work, "no-wires.h5")
    shutil.copy(a.model, ideal)
    with h5py.File(ideal, "r+") as f:
        for name in f["models"]:
            p = f["models"][name]["params"]
            for k in ("r_row_ohm", "r_col_ohm", "r_driver_ohm", "r_sense_ohm", "r_series_ohm"):
                p[k][()] = 0.0
            p["gain"][()] = 1.0
            for k, u in (("knot_x", "1"), ("knot_v0_volt", "V")):
                del p[k]
                p.create_dataset(k, data=np.zeros(0)).attrs["units"] = np.bytes_(u)
    xc, _ = xbar.data.load_fmnist(train=True, limit=256)
    xc = torch.from_numpy(xc)
    label = "xbar.torch, fitted laws, no IR drop"
    for seed in range(1, a.seeds + 1):
        an = xt.convert(net, ideal, device=a.device, tile=a.tile, dac_bits=a.bits, adc_bits=a.bits)
        xt.program(an, seed=seed)
        xt.calibrate(an, xc)
        an.eval()
        for name, t in TIMES:
            xt.set_time(an, t, compensate=True, read_noise=True)
            with torch.no_grad():
                rows.setdefault((label, name), []).append(float((an(x).argmax(1).numpy() == y).mean()))
    for label, eng in (("xbar run tiled-ideal (no IR drop)", ["--engine", "tiled-ideal"]),
                       ("xbar run model (IR drop, nonlinearity)", ["--engine", "model", "--model", a.model])):
        for seed in range(1, a.seeds + 1):
            for name, t in TIMES:
                js = os.path.join(work, "run.json")
                subprocess.run([a.xbar, "run", "--network", net_path, "--device", a.device, "--tile-rows",
                                str(a.tile), "--tile-cols", str(a.tile), "--var-program", "--seed", str(seed),
                                "--time", repr(t), "--read-noise", "--limit", str(a.images), "--json", js,
                                "--dac-bits", str(a.bits), "--adc-bits", str(a.bits)] + eng,
                               check=True, capture_output=True)
                rows.setdefault((label, name), []).append(json.load(open(js))["accuracy"])
    print(f"shipped MLP, {a.images} test images (float {100 * acc_f:.2f} %), {a.device} {a.tile}x{a.tile} tiles, "
          f"{a.bits}-bit DAC/ADC (0: ideal), drift compensation on, programming seeds 1..{a.seeds} (mean):")
    print(f"{'':40s}" + "".join(f"{n:>10s}" for n, _ in TIMES))
    for label in ("aihwkit + export", "xbar.torch, fitted laws, no IR drop", "xbar run tiled-ideal (no IR drop)",
                  "xbar run model (IR drop, nonlinearity)"):
        print(f"{label:40s}" + "".join(f"{100 * np.mean(rows[(label, n)]):9.2f}%" for n, _ in TIMES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
