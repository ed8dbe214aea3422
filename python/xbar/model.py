"""Reader and evaluator of xbar behavioural MVM model files (docs/hdf5-model.md).

Needs only numpy and h5py.  A second implementation of src/fit/model.c, for other
simulators:

    import xbar.model
    models = xbar.model.load("model.h5")
    m = xbar.model.select(models, device="rram", cell="1r", rows=64, cols=64, r_wire=1.75)
    print(m.choice, m.choice_line)   # 'fitted', or 'family' / 'nearest' with the line xbar mvm prints
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
INPUTS_VERSION = 1  # metrics/heldout_inputs and family/*/heldout_config


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
        self.heldout_inputs = {}
        if "metrics" in group:
            mg = group["metrics"]
            self.metrics = {k: float(mg[k][()]) for k in mg.keys() if isinstance(mg[k], h5py.Dataset)}
            if "heldout_inputs" in mg:
                hg = mg["heldout_inputs"]
                if int(hg.attrs.get("version", -1)) != INPUTS_VERSION:
                    raise ModelError(f"{where}/metrics/heldout_inputs: version {int(hg.attrs.get('version', -1))}, "
                                     f"this reader reads version {INPUTS_VERSION}")
                names = _str(hg.attrs.get("distributions", b"")).split(",")
                rel, ideal = np.asarray(hg["rel_l2"][()]), np.asarray(hg["ideal_rel_l2"][()])
                # {distribution: (model rel-L2, ideal rel-L2) vs the native engine}
                self.heldout_inputs = {n: (float(a), float(b)) for n, a, b in zip(names, rel, ideal)}

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

    def envelope(self):
        """(g_lo, g_hi, v_lo, v_hi): the physical envelope the model was fitted for, as
        xb_fit_validity: the stored validity widened to the device window and 0..v_read."""
        v, c = self.valid, self.config
        return (min(v["g_min_siemens"], c.get("g_min_siemens", np.inf)),
                max(v["g_max_siemens"], c.get("g_max_siemens", -np.inf)),
                min(v["v_min_volt"], 0.0), max(v["v_max_volt"], c.get("v_read_volt", -np.inf)))

    def validity_warning(self, G, V):
        """None when G and V are inside the model's envelope, else a one-line description."""
        g_lo, g_hi, v_lo, v_hi = self.envelope()
        G, V = np.asarray(G, dtype=float), np.asarray(V, dtype=float)
        if np.min(G) < g_lo * (1 - 1e-9) or np.max(G) > g_hi * (1 + 1e-9):
            return f"G outside the fitted device window [{g_lo:g}, {g_hi:g}] S"
        span = v_hi - v_lo
        if np.min(V) < v_lo - 1e-9 * span or np.max(V) > v_hi + 1e-9 * span:
            extra = " (the model was fitted on non-negative inputs)" if np.min(V) < 0 <= v_lo else ""
            return f"V outside the fitted input range [{v_lo:g}, {v_hi:g}] V{extra}"
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


# The configuration fields that make a circuit (src/fit/select.c k_circuit): a fitted model is
# used only when all match; the family's span is checked on each.  (config name, short name)
CIRCUIT = (("r_wire_row_ohm", "r_wire_row"), ("r_wire_col_ohm", "r_wire_col"), ("r_driver_ohm", "r_driver"),
           ("r_sense_ohm", "r_sense"), ("v_read_volt", "v_read"), ("g_min_siemens", "g_min"),
           ("g_max_siemens", "g_max"), ("rram_v0_volt", "rram_v0"), ("pcm_v0_low_volt", "pcm_v0_low"),
           ("pcm_v0_high_volt", "pcm_v0_high"), ("nmos_kp_a_per_v2", "nmos_kp"), ("nmos_w_over_l", "nmos_w_over_l"),
           ("nmos_vt_volt", "nmos_vt"), ("nmos_lambda_per_v", "nmos_lambda"), ("v_gate_volt", "v_gate"),
           ("sel_is_amp", "sel_is"), ("sel_vs_volt", "sel_vs"))
SAME_TOL = 1e-9


def _same(a, b):
    return abs(a - b) <= SAME_TOL * max(abs(a), abs(b))


def _fmt(x):
    """%g as C prints it."""
    return f"{x:g}"


def _family_model(fam, coef, rows, cols, target):
    """Parameters predicted by /family (same rules as family_model in src/fit/select.c)."""
    import copy
    n_t = np.sqrt(rows * cols)
    tmpl = min(fam, key=lambda m: abs(np.sqrt(m.rows * m.cols) - n_t))
    m = copy.deepcopy(tmpl)
    rs_fit = tmpl.config.get("r_sense_ohm", 0.0)
    m.rows, m.cols = rows, cols
    m.config.update(target)
    m.config.update(rows=rows, cols=cols)
    rw_row, rw_col, r_drv = target["r_wire_row_ohm"], target["r_wire_col_ohm"], target["r_driver_ohm"]
    m.n_sweeps = min(max(x.n_sweeps for x in fam) + 1, 100)
    y = coef[:, 0] + coef[:, 1] * n_t + coef[:, 2] * 0.5 * (rw_row + rw_col)
    m.r_row = max(y[0], 0.0) * rw_row
    m.r_col = max(y[1], 0.0) * rw_col
    m.r_driver = max(y[2], 0.0) * r_drv
    m.r_series = max(y[3], 0.0)
    m.gain = y[4] if y[4] > 0 else 1.0
    m.knot_v0 = np.maximum(y[5:5 + m.knot_v0.size], V0_MIN_VOLT)
    r_sense = target["r_sense_ohm"]
    m.r_sense = m.r_sense * r_sense / rs_fit if rs_fit > 0 else r_sense
    m.from_family = True
    return m


def _interp_model(models, fam, rows, cols, target):
    """Linear interpolation in r_wire between the nearest fitted models below and above the
    target that differ from it only in (equal) wire resistance (interp_model in
    src/fit/select.c), or None; returns (model, index_below, index_above)."""
    import copy
    r = target["r_wire_row_ohm"]
    if r != target["r_wire_col_ohm"]:
        return None
    cand = [m for m in fam if m.rows == rows and m.cols == cols
            and m.config.get("r_wire_row_ohm") == m.config.get("r_wire_col_ohm")
            and all(_same(m.config.get(k, 0.0), target[k]) for k, _ in CIRCUIT
                    if k not in ("r_wire_row_ohm", "r_wire_col_ohm"))]
    below = [m for m in cand if m.config["r_wire_row_ohm"] < r]
    above = [m for m in cand if m.config["r_wire_row_ohm"] > r]
    if not below or not above:
        return None
    a = max(below, key=lambda m: m.config["r_wire_row_ohm"])  # first of equals, as C
    a = next(m for m in below if m.config["r_wire_row_ohm"] == a.config["r_wire_row_ohm"])
    b = min(above, key=lambda m: m.config["r_wire_row_ohm"])
    if a.knot_x.size != b.knot_x.size or np.any(a.knot_x != b.knot_x):
        return None
    ra, rb = a.config["r_wire_row_ohm"], b.config["r_wire_row_ohm"]
    t = (r - ra) / (rb - ra)

    def lerp(x, y):
        return x + t * (y - x)
    m = copy.deepcopy(a)
    m.config.update(target)
    m.config.update(rows=rows, cols=cols)
    m.n_sweeps = min(max(a.n_sweeps, b.n_sweeps) + 1, 100)
    m.r_row = r * lerp(a.r_row / ra, b.r_row / rb)
    m.r_col = r * lerp(a.r_col / a.config["r_wire_col_ohm"], b.r_col / b.config["r_wire_col_ohm"])
    m.r_driver = lerp(a.r_driver, b.r_driver)
    m.r_sense = lerp(a.r_sense, b.r_sense)
    m.r_series = lerp(a.r_series, b.r_series)
    m.gain = lerp(a.gain, b.gain)
    m.resid_sigma_rel = lerp(a.resid_sigma_rel, b.resid_sigma_rel)
    m.knot_v0 = lerp(a.knot_v0, b.knot_v0)
    m.valid = {"g_min_siemens": min(a.valid["g_min_siemens"], b.valid["g_min_siemens"]),
               "g_max_siemens": max(a.valid["g_max_siemens"], b.valid["g_max_siemens"]),
               "v_min_volt": min(a.valid["v_min_volt"], b.valid["v_min_volt"]),
               "v_max_volt": max(a.valid["v_max_volt"], b.valid["v_max_volt"])}
    return m, models.index(a), models.index(b)


def _outside_span(fam, rows, cols, target):
    """The first configuration quantity outside the fitted models' span, described, or None."""
    sizes = [np.sqrt(m.rows * m.cols) for m in fam]
    t = np.sqrt(rows * cols)
    lo, hi = min(sizes), max(sizes)
    if t < lo * (1 - SAME_TOL) or t > hi * (1 + SAME_TOL):
        return f"size {rows}x{cols} beyond the fitted {lo:.0f}..{hi:.0f}"
    for key, name in CIRCUIT:
        vals = [m.config.get(key, 0.0) for m in fam]
        lo, hi = min(vals), max(vals)
        v = target[key]
        tol = SAME_TOL * max(abs(lo), abs(hi))
        if v < lo - tol or v > hi + tol:
            if _same(lo, hi):
                return f"{name} {_fmt(v)} where every fitted model has {_fmt(lo)}"
            return f"{name} {_fmt(v)} beyond the fitted {_fmt(lo)}..{_fmt(hi)}"
    return None


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
           r_driver=None, r_sense=None, v_read=None, g_min=None, g_max=None, **config):
    """The model for an array configuration, by the rule of xb_fit_choose (src/fit/select.c):
    a fitted model only for its own circuit (device, cell, shape and every circuit parameter of
    CIRCUIT, relative 1e-9); between two fitted models that differ from it only in (equal)
    wire resistance, their linear interpolation in r_wire; any other configuration from the
    file's size/wire-resistance
    family of the device and cell (interpolation, or extrapolation when size or a parameter is
    outside the fitted models' span); without a family the same-shape model nearest in circuit
    parameters (extrapolation).  Parameters not given are those of the fitted models of the
    shape (the xbar CLI gives every one: the device defaults).  device (and cell) may be
    omitted only when the file holds one device (cell): ModelError otherwise.  The model
    returned carries .choice ('fitted', 'interp', 'family', 'nearest'), .extrapolation and .choice_line
    (the line xbar mvm prints; '' for a fitted circuit)."""
    kinds = sorted({(m.device, m.cell) for m in models})
    if device is None:
        devs = sorted({d for d, _ in kinds})
        if len(devs) != 1:
            raise ModelError(f"the file holds models of {', '.join(devs)}: give the device (--device)")
        device = devs[0]
    if cell is None:
        cells = sorted({c for d, c in kinds if d == device})
        if len(cells) > 1:
            raise ModelError(f"the file holds {device} models of cells {', '.join(cells)}: give the cell (--cell)")
        cell = cells[0] if cells else "1r"
    fam = [m for m in models if m.device == device and m.cell == cell]
    if not fam:
        raise ModelError(f"the model file has no model for --device {device} --cell {cell}")
    same_shape = [m for m in fam if (rows is None or m.rows == rows) and (cols is None or m.cols == cols)]
    rows = fam[0].rows if rows is None and not same_shape else rows
    cols = fam[0].cols if cols is None and not same_shape else cols
    if r_wire is not None:
        r_wire_row = r_wire if r_wire_row is None else r_wire_row
        r_wire_col = r_wire if r_wire_col is None else r_wire_col
    given = {"r_wire_row_ohm": r_wire_row, "r_wire_col_ohm": r_wire_col, "r_driver_ohm": r_driver,
             "r_sense_ohm": r_sense, "v_read_volt": v_read, "g_min_siemens": g_min, "g_max_siemens": g_max}
    for k, v in config.items():
        if k not in dict(CIRCUIT):
            raise ModelError(f"select: unknown circuit parameter '{k}'")
        given[k] = v
    given = {k: float(v) for k, v in given.items() if v is not None}

    def target_of(base):
        t = {k: base.config.get(k, 0.0) for k, _ in CIRCUIT}
        t.update(given)
        return t

    for m in same_shape:
        t = target_of(m)
        if all(_same(m.config.get(k, 0.0), t[k]) for k, _ in CIRCUIT):
            m.choice, m.extrapolation, m.choice_line = "fitted", False, ""
            return m
    rows = same_shape[0].rows if rows is None else rows
    cols = same_shape[0].cols if cols is None else cols
    coefs = getattr(models, "families", None) or {}
    base = same_shape[0] if same_shape else min(fam, key=lambda m: abs(np.sqrt(m.rows * m.cols) - np.sqrt(rows * cols)))
    target = target_of(base)
    head = f"{rows}x{cols} r_wire {_fmt(target['r_wire_row_ohm'])}/{_fmt(target['r_wire_col_ohm'])} ohm"
    ip = _interp_model(models, fam, rows, cols, target)
    if ip is not None:
        m, ia, ib = ip
        m.choice, m.extrapolation = "interp", False
        m.choice_line = (f"{head}: interpolation in r_wire between models {ia:03d} "
                         f"({_fmt(models[ia].config['r_wire_row_ohm'])} ohm) and {ib:03d} "
                         f"({_fmt(models[ib].config['r_wire_row_ohm'])} ohm)")
        return m
    if f"{device}_{cell}" in coefs:
        m = _family_model(fam, coefs[f"{device}_{cell}"], rows, cols, target)
        span = _outside_span(fam, rows, cols, target)
        m.choice, m.extrapolation = "family", span is not None
        m.choice_line = (f"{head}: {device}/{cell} size/wire-resistance family, "
                         + (f"extrapolation ({span})" if span else "interpolation between fitted models"))
        return m
    if not same_shape:
        shapes = ", ".join(f"{m.rows}x{m.cols}" for m in fam)
        raise ModelError(f"array is {rows}x{cols} but the {device}/{cell} models are for {shapes}")

    def dist(m):
        return sum(abs(target[k] - m.config.get(k, 0.0)) / (abs(target[k]) + abs(m.config.get(k, 0.0)) + 1e-12)
                   for k, _ in CIRCUIT)
    m = min(same_shape, key=dist)
    key, name = next(((k, n) for k, n in CIRCUIT if not _same(target[k], m.config.get(k, 0.0))), (None, "?"))
    idx = models.index(m) if m in models else 0
    m.choice, m.extrapolation = "nearest", True
    m.choice_line = (f"{rows}x{cols}: no model fitted for this circuit and no size family: model {idx:03d} "
                     f"(fitted for {name} {_fmt(m.config.get(key, float('nan')))}, here {_fmt(target.get(key, float('nan')))}), "
                     "extrapolation")
    return m


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
    ap.add_argument("--r-sense", type=float)
    ap.add_argument("--v-read", type=float)
    ap.add_argument("--g-min", type=float)
    ap.add_argument("--g-max", type=float)
    ap.add_argument("--strict", action="store_true",
                    help="fail on extrapolation or inputs outside the model's envelope, as xbar mvm --strict")
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
                       a.r_driver, a.r_sense, a.v_read, a.g_min, a.g_max)
            if m.extrapolation and a.strict:
                raise ModelError(f"{a.model}: {m.choice_line} (--strict refuses extrapolation)")
            if m.choice != "fitted":
                print(f"{prog}: {'warning: ' if m.extrapolation else 'model: '}{a.model}: {m.choice_line}",
                      file=sys.stderr)
        w = m.validity_warning(G, V)
        if w and a.strict:
            raise ModelError(f"{a.model}: outside the model's validity range: {w}")
        if w:
            print(f"{prog}: warning: outside the model's validity range (use --strict to fail): {w}", file=sys.stderr)
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
