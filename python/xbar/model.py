"""Reader and evaluator of xbar behavioural MVM model files (docs/hdf5-model.md).

Needs only numpy and h5py.  A second implementation of src/fit/model.c, for other
simulators:

    import xbar.model
    models = xbar.model.load("model.h5")
    m = xbar.model.select(models, device="rram", cell="1r", rows=64, cols=64)
    I = m.mvm(G, V)          # G: rows x cols siemens, V: K x rows volts -> K x cols amperes

Command line (same CSV contract as `xbar mvm`; tools/xbar_model.py is the same):

    python3 -m xbar.model model.h5 --g G.csv --v V.csv [--index N] [-o I.csv]
"""
import argparse
import sys

import h5py
import numpy as np

FORMAT = "xbar-model"
VERSION = 1
V0_MIN_VOLT = 1e-3
MAX_KNOTS = 8
FAMILY_NQ = 5 + MAX_KNOTS


class ModelError(Exception):
    """Bad model file or input (one-line message)."""


def _str(x):
    return x.decode() if isinstance(x, bytes) else str(x)


def _scalar(g, name, unit, where):
    if name not in g:
        raise ModelError(f"{where}/{name}: missing dataset")
    ds = g[name]
    if ds.shape != ():
        raise ModelError(f"{where}/{name}: expected a scalar, got shape {ds.shape}")
    u = _str(ds.attrs.get("units", b""))
    if unit is not None and u != unit:
        raise ModelError(f"{where}/{name}: unit '{u}', expected '{unit}'")
    return float(ds[()])


def _shc(x):
    """sinh(x)/x with the same series/sinh split as src/fit/model.c."""
    x = np.asarray(x, dtype=float)
    y = x * x
    poly = 1.0 + y * (1.0 / 6 + y * (1.0 / 120 + y * (1.0 / 5040 + y * (1.0 / 362880 + y * (1.0 / 39916800)))))
    big = y > 2.25
    if np.any(big):
        xs = np.where(big, x, 1.0)
        return np.where(big, np.sinh(xs) / xs, poly)
    return poly


class Model:
    """One behavioural model: configuration, fitted parameters, validity, metrics."""

    def __init__(self, name, group, where):
        self.name = name
        self.device = _str(group.attrs.get("device", b"?"))
        self.cell = _str(group.attrs.get("cell", b"?"))
        for sub in ("config", "params", "validity"):
            if sub not in group:
                raise ModelError(f"{where}/{sub}: missing group")
        c, p, v = group["config"], group["params"], group["validity"]
        self.rows = int(_scalar(c, "rows", "1", where + "/config"))
        self.cols = int(_scalar(c, "cols", "1", where + "/config"))
        self.config = {k: _scalar(c, k, None, where + "/config") for k in c.keys() if c[k].shape == ()}
        pw = where + "/params"
        self.r_row = _scalar(p, "r_row_ohm", "ohm", pw)
        self.r_col = _scalar(p, "r_col_ohm", "ohm", pw)
        self.r_driver = _scalar(p, "r_driver_ohm", "ohm", pw)
        self.r_sense = _scalar(p, "r_sense_ohm", "ohm", pw)
        self.r_series = _scalar(p, "r_series_ohm", "ohm", pw)
        self.g_ref_min = _scalar(p, "g_ref_min_siemens", "S", pw)
        self.g_ref_max = _scalar(p, "g_ref_max_siemens", "S", pw)
        self.v_read = _scalar(p, "v_read_volt", "V", pw)
        self.gain = _scalar(p, "gain", "1", pw)
        self.resid_sigma_rel = _scalar(p, "resid_sigma_rel", "1", pw)
        self.n_sweeps = int(_scalar(p, "n_sweeps", "1", pw))
        for k in ("knot_x", "knot_v0_volt"):
            if k not in p:
                raise ModelError(f"{pw}/{k}: missing dataset")
        self.knot_x = np.asarray(p["knot_x"][()], dtype=float).reshape(-1)
        self.knot_v0 = np.asarray(p["knot_v0_volt"][()], dtype=float).reshape(-1)
        if self.knot_x.shape != self.knot_v0.shape:
            raise ModelError(f"{pw}: knot_x and knot_v0_volt differ in length")
        vw = where + "/validity"
        self.valid = {k: _scalar(v, k, u, vw) for k, u in
                      (("g_min_siemens", "S"), ("g_max_siemens", "S"), ("v_min_volt", "V"), ("v_max_volt", "V"))}
        self.metrics = {}
        if "metrics" in group:
            self.metrics = {k: float(group["metrics"][k][()]) for k in group["metrics"].keys()}

    def _coefficients(self, G):
        """Per-cell a, c of I = a v shc(c v), and the damping omega."""
        d = 1.0 / (1.0 + G * self.r_series)
        if self.knot_x.size == 0:
            k = np.zeros_like(G)
        else:
            x = (G - self.g_ref_min) / (self.g_ref_max - self.g_ref_min)
            v0 = np.interp(x, self.knot_x, self.knot_v0)
            k = 1.0 / np.maximum(v0, V0_MIN_VOLT)
        a = G * d / _shc(k * self.v_read)
        c = k * d
        R, C = G.shape
        gsum = float(np.sum(G * d))
        lam = (self.r_driver + self.r_row * C / 3) * gsum / R + (self.r_sense + self.r_col * R / 3) * gsum / C
        return a, c, 1.0 / (1.0 + lam)

    def mvm(self, G, V, noise_rng=None):
        """Output currents (K x cols, amperes) for conductances G (rows x cols) and inputs V (K x rows).
        noise_rng (a numpy Generator): add the fit's residual spread, resid_sigma_rel x the rms output
        of each vector, as Gaussian samples (the C side draws its own, seeded, samples)."""
        G = np.asarray(G, dtype=float)
        V = np.atleast_2d(np.asarray(V, dtype=float))
        if G.shape != (self.rows, self.cols):
            raise ModelError(f"G is {G.shape[0]}x{G.shape[1]} but the model is for {self.rows}x{self.cols} arrays")
        if V.shape[1] != self.rows:
            raise ModelError(f"V has {V.shape[1]} columns but the model has {self.rows} rows")
        if not np.all(np.isfinite(G)) or np.any(G < 0):
            raise ModelError("conductances must be finite and >= 0")
        a, c, om = self._coefficients(G)
        vin = V[:, :, None]
        vc = np.repeat(vin, self.cols, axis=2)
        for _ in range(self.n_sweeps):
            i = a * vc * _shc(c * vc)
            s = np.cumsum(i[:, :, ::-1], axis=2)[:, :, ::-1]          # row segment currents
            vrow = vin - self.r_driver * s[:, :, :1] - self.r_row * np.cumsum(s, axis=2)
            pcol = np.cumsum(i, axis=1)                                # column segment currents
            t = np.cumsum(pcol[:, ::-1, :], axis=1)[:, ::-1, :]
            vcol = self.r_sense * pcol[:, -1:, :] + self.r_col * t
            vc = vc + om * (vrow - vcol - vc)
        i = a * vc * _shc(c * vc)
        out = self.gain * np.sum(i, axis=1)
        if noise_rng is not None and self.resid_sigma_rel > 0:
            rms = np.sqrt(np.mean(out * out, axis=1, keepdims=True))
            out = out + noise_rng.normal(0.0, 1.0, out.shape) * self.resid_sigma_rel * rms
        return out

    def validity_warning(self, G, V):
        """None when G and V are inside the fitted ranges, else a one-line description."""
        v = self.valid
        if np.min(G) < v["g_min_siemens"] * (1 - 1e-9) or np.max(G) > v["g_max_siemens"] * (1 + 1e-9):
            return f"G outside the fitted range [{v['g_min_siemens']:g}, {v['g_max_siemens']:g}] S"
        if np.min(V) < v["v_min_volt"] - 1e-9 or np.max(V) > v["v_max_volt"] + 1e-9:
            return f"V outside the fitted range [{v['v_min_volt']:g}, {v['v_max_volt']:g}] V"
        return None


class ModelFile(list):
    """The models of a file (a list) plus its size/wire-resistance families."""

    families = None


def load(path):
    """All models of a model file, in /models order (a list; .families holds /family)."""
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ModelError(f"{path}: not an HDF5 file or cannot open ({e.__class__.__name__})")
    with f:
        fmt = _str(f.attrs.get("format", b""))
        if fmt != FORMAT:
            raise ModelError(f"{path}: format '{fmt}', expected '{FORMAT}'")
        ver = int(f.attrs.get("version", -1))
        if ver != VERSION:
            raise ModelError(f"{path}: model format version {ver}, this reader reads version {VERSION}")
        if "models" not in f or len(f["models"]) == 0:
            raise ModelError(f"{path}: missing or empty group /models")
        out = ModelFile(Model(n, f["models"][n], f"{path}:/models/{n}") for n in sorted(f["models"].keys()))
        out.families = {}
        if "family" in f:
            for name in f["family"].keys():
                coef = np.asarray(f["family"][name]["coef"][()], dtype=float)
                if coef.shape == (FAMILY_NQ, 3):
                    out.families[name] = coef
        return out


def _family_model(models, coef, device, cell, rows, cols, r_wire_row, r_wire_col, r_driver):
    """Parameters predicted by /family (same rules as xb_fit_file_model_for in C)."""
    import copy
    fam = [m for m in models if m.device == device and m.cell == cell]
    target = np.sqrt(rows * cols)
    tmpl = min(fam, key=lambda m: abs(np.sqrt(m.rows * m.cols) - target))
    m = copy.deepcopy(tmpl)
    m.rows, m.cols = rows, cols
    rw_row = tmpl.config["r_wire_row_ohm"] if r_wire_row is None else r_wire_row
    rw_col = tmpl.config["r_wire_col_ohm"] if r_wire_col is None else r_wire_col
    r_drv = tmpl.config["r_driver_ohm"] if r_driver is None else r_driver
    m.config.update(rows=rows, cols=cols, r_wire_row_ohm=rw_row, r_wire_col_ohm=rw_col, r_driver_ohm=r_drv)
    m.n_sweeps = max(x.n_sweeps for x in fam) + 1
    y = coef[:, 0] + coef[:, 1] * np.sqrt(rows * cols) + coef[:, 2] * 0.5 * (rw_row + rw_col)
    m.r_row = max(y[0], 0.0) * rw_row
    m.r_col = max(y[1], 0.0) * rw_col
    m.r_driver = max(y[2], 0.0) * r_drv
    m.r_series = max(y[3], 0.0)
    m.gain = y[4] if y[4] > 0 else 1.0
    m.knot_v0 = np.maximum(y[5:5 + m.knot_v0.size], V0_MIN_VOLT)
    m.from_family = True
    return m


def load_stats(path):
    """The /stats sections of a model file as dicts of numpy arrays / floats (docs/hdf5-model.md):
    {"sigma_program": {device: {...}}, "energy": {...}, "settling": {...}, "pcm_drift": {...}}."""
    out = {}
    with h5py.File(path, "r") as f:
        if "stats" not in f:
            return out
        st = f["stats"]

        def grab(g):
            return {k: (g[k][()] if g[k].shape != () else float(g[k][()])) for k in g.keys()
                    if isinstance(g[k], h5py.Dataset)}
        for name in st.keys():
            if name == "sigma_program":
                out[name] = {dev: grab(st[name][dev]) for dev in st[name].keys()}
            else:
                out[name] = grab(st[name])
    return out


def sigma_program(stats, device, g, clamp=False):
    """Programming-error sigma (S) at conductance g (S) from load_stats(...): the fitted
    polynomial.  clamp=True evaluates it as xb_fit_sigma_eval does (the executor, `xbar train
    --hw-model`, the exports): g held inside valid_g_siemens, negative values to 0."""
    st = stats["sigma_program"][device]
    c = st["coef"]
    g = np.asarray(g, dtype=float)
    if clamp:
        lo, hi = (float(v) for v in st["valid_g_siemens"])
        g = np.clip(g, lo, hi)
    y = sum(ck * g ** k for k, ck in enumerate(c))
    return np.maximum(y, 0.0) if clamp else y


def select(models, device=None, cell=None, rows=None, cols=None, r_wire=None, r_wire_row=None, r_wire_col=None,
           r_driver=None):
    """The model matching device/cell/shape, the nearest in circuit parameters; else, when the file
    has a size/wire-resistance family for the device and cell, a model predicted by it."""
    if r_wire is not None:
        r_wire_row = r_wire if r_wire_row is None else r_wire_row
        r_wire_col = r_wire if r_wire_col is None else r_wire_col
    cand = [m for m in models
            if (device is None or m.device == device) and (cell is None or m.cell == cell)
            and (rows is None or m.rows == rows) and (cols is None or m.cols == cols)]
    if not cand:
        fams = getattr(models, "families", None) or {}
        kinds = {(m.device, m.cell) for m in models
                 if (device is None or m.device == device) and (cell is None or m.cell == cell)}
        for dev, cel in sorted(kinds):
            if f"{dev}_{cel}" in fams and rows is not None and cols is not None:
                return _family_model(models, fams[f"{dev}_{cel}"], dev, cel, rows, cols, r_wire_row, r_wire_col,
                                     r_driver)
        raise ModelError(f"no model for device={device} cell={cell} shape={rows}x{cols}")

    def dist(m):
        a = [r_wire_row, r_wire_col, r_driver]
        b = [m.config.get("r_wire_row_ohm", 0), m.config.get("r_wire_col_ohm", 0), m.config.get("r_driver_ohm", 0)]
        return sum(abs(x - y) / (abs(x) + abs(y) + 1e-12) for x, y in zip(a, b) if x is not None)
    return min(cand, key=dist)


def _read_csv(path):
    rows = []
    with open(path) as fh:
        for ln, line in enumerate(fh, 1):
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            try:
                rows.append([float(x) for x in s.split(",")])
            except ValueError:
                raise ModelError(f"{path}:{ln}: not a number")
            if len(rows[-1]) != len(rows[0]):
                raise ModelError(f"{path}:{ln}: {len(rows[-1])} fields, expected {len(rows[0])}")
    if not rows:
        raise ModelError(f"{path}: no data rows")
    return np.array(rows)


def main(argv=None, prog="xbar_model.py"):
    ap = argparse.ArgumentParser(prog=prog, description="Evaluate an xbar model file for G and V (CSV).")
    ap.add_argument("model")
    ap.add_argument("--g", required=True, help="G.csv, rows x cols siemens")
    ap.add_argument("--v", required=True, help="V.csv, K x rows volts")
    ap.add_argument("--index", type=int, help="model index in /models (default: match the device/shape)")
    ap.add_argument("--device")
    ap.add_argument("--cell")
    ap.add_argument("--r-wire", type=float)
    ap.add_argument("--r-wire-row", type=float)
    ap.add_argument("--r-wire-col", type=float)
    ap.add_argument("--r-driver", type=float)
    ap.add_argument("-o", "--output", default="-")
    a = ap.parse_args(argv)
    try:
        models = load(a.model)
        G = _read_csv(a.g)
        V = _read_csv(a.v)
        if a.index is not None:
            if not 0 <= a.index < len(models):
                raise ModelError(f"--index {a.index}: the file has {len(models)} models")
            m = models[a.index]
        else:
            m = select(models, a.device, a.cell, G.shape[0], G.shape[1], a.r_wire, a.r_wire_row, a.r_wire_col,
                       a.r_driver)
            if getattr(m, "from_family", False):
                print(f"{prog}: warning: no model fitted for {m.rows}x{m.cols}: parameters predicted from "
                      "the size/wire-resistance family", file=sys.stderr)
        w = m.validity_warning(G, V)
        if w:
            print(f"{prog}: warning: {w}", file=sys.stderr)
        I = m.mvm(G, V)
    except (ModelError, OSError) as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 2
    out = sys.stdout if a.output == "-" else open(a.output, "w")
    for row in I:
        out.write(",".join(f"{x:.17g}" for x in row) + "\n")
    if out is not sys.stdout:
        out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
