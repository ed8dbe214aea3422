"""Pulse-update models of an xbar model file (/update/<device>, docs/hdf5-model.md).

numpy + h5py only.  A model says how a device's conductance responds to one programming
pulse: the mean change step(G, direction) (direction +1 up, -1 down), its cycle-to-cycle
standard deviation sigma(G, direction), the window [g_min, g_max] it stays in, plus the
device-to-device spread and the pulse energy.  A pulse moves G to

    clip(G + step(G) + sigma(G) * xi, g_min, g_max),   xi ~ N(0, 1)

    import update                       # python/xbar/update.py (or: from xbar import update)
    models = update.load("model.h5")    # {device name: UpdateModel}
    m = models["ecram"]
    m.step(5e-6, +1), m.sigma(5e-6, -1)
    g = m.apply_pulses(5e-6 * np.ones(100), 20, +1, seed=1)   # 100 devices, 20 up pulses each
    trace = m.simulate(5e-6, [+1] * 50 + [-1] * 50, seed=2)   # G after every pulse

step and sigma evaluate the fitted law from its parameters (law/: softbounds, exp, pwl); with
source="table" they interpolate the tabulated datasets instead (any reader can, without the
formula).  Command line: python3 update.py MODEL.h5 prints one line per device.
"""
import sys

import h5py
import numpy as np

FORMS = {1: "xbar-update-v1", 2: "xbar-update-v2"}  # version 2: the c2c state factor
VERSION = 2
LAWS = ("softbounds", "exp", "pwl")


def _text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


class UpdateModel:
    """One /update/<device> group, checked and loaded into numpy arrays."""

    def __init__(self, path, group):
        where = "%s:%s" % (path, group.name)
        self.path, self.where = path, where
        self.version = int(group.attrs.get("version", -1))
        if self.version not in FORMS:
            raise ValueError("%s: update model version %s, this reader reads versions 1 to %d"
                             % (where, group.attrs.get("version"), VERSION))
        if _text(group.attrs.get("form", b"")) != FORMS[self.version]:
            raise ValueError("%s: attribute form is %r, expected %r"
                             % (where, group.attrs.get("form"), FORMS[self.version]))
        self.device = group.name.split("/")[-1]
        self.law = _text(group.attrs.get("law", b""))
        self.pulse_volt = np.asarray(group.attrs.get("pulse_volt", [np.nan, np.nan]), dtype=float)
        self.pulse_width_s = float(group.attrs.get("pulse_width_s", np.nan))
        self.energy_per_pulse_joule = np.asarray(group.attrs.get("energy_per_pulse_joule", [np.nan, np.nan]),
                                                 dtype=float)
        self.g_min = float(self._get(group, "g_min_siemens", "S", ()))
        self.g_max = float(self._get(group, "g_max_siemens", "S", ()))
        if not self.g_max > self.g_min:
            raise ValueError("%s/g_max_siemens: must exceed g_min_siemens" % where)
        self.g = self._get(group, "g_siemens", "S", (None,))
        n = self.g.shape[0]
        if n < 2 or np.any(np.diff(self.g) <= 0):
            raise ValueError("%s/g_siemens: need an increasing grid of 2 or more states" % where)
        self.dg_up = self._get(group, "dg_up_siemens", "S", (n,))
        self.dg_down = self._get(group, "dg_down_siemens", "S", (n,))
        self.sigma_up = self._get(group, "sigma_c2c_up_siemens", "S", (n,))
        self.sigma_down = self._get(group, "sigma_c2c_down_siemens", "S", (n,))
        self.d2d_dg_up_std = self._get(group, "d2d_dg_up_std_siemens", "S", (n,))
        self.d2d_dg_down_std = self._get(group, "d2d_dg_down_std_siemens", "S", (n,))
        c2c = self._group(group, "c2c")
        self.c2c = {k: float(self._get(c2c, k, u, ())) for k, u in
                    (("up_abs_siemens", "S"), ("up_rel", "1"), ("down_abs_siemens", "S"), ("down_rel", "1"))}
        # the state factor k of sigma at the bin centres (version 1: none, k = 1)
        nb = 8
        self.c2c_scale_up, self.c2c_scale_down = np.ones(nb), np.ones(nb)
        if self.version >= 2:
            self.c2c_scale_up = self._get(c2c, "bin_up_scale", "1", (nb,))
            self.c2c_scale_down = self._get(c2c, "bin_down_scale", "1", (nb,))
            if not (np.all(np.isfinite(self.c2c_scale_up)) and np.all(self.c2c_scale_up > 0)
                    and np.all(np.isfinite(self.c2c_scale_down)) and np.all(self.c2c_scale_down > 0)):
                raise ValueError("%s/c2c/bin_*_scale: state factors must be finite and > 0" % where)
        self.params_up, self.params_down = None, None
        if self.law in LAWS:
            lg = self._group(group, "law")
            if self.law == "exp":
                self.params_up = np.array([self._get(lg, "up_a_siemens", "S", ()), self._get(lg, "up_b", "1", ())])
                self.params_down = np.array([self._get(lg, "down_a_siemens", "S", ()),
                                             self._get(lg, "down_b", "1", ())])
            else:
                self.knot_x = self._get(lg, "knot_x", "1", (None,))
                k = self.knot_x.shape[0]
                self.params_up = self._get(lg, "up_knot_siemens", "S", (k,))
                self.params_down = self._get(lg, "down_knot_siemens", "S", (k,))
                if k < 2 or self.law == "softbounds" and k != 2:
                    raise ValueError("%s/law/knot_x: %d knots for law %s" % (where, k, self.law))
        metrics = group.get("metrics")
        self.heldout_traj_rel = (np.asarray(metrics["heldout_traj_rel"][()], dtype=float)
                                 if metrics is not None and "heldout_traj_rel" in metrics else None)

    def _get(self, g, name, unit, shape):
        where = "%s:%s/%s" % (self.path, g.name, name)
        if name not in g or not isinstance(g[name], h5py.Dataset):
            raise ValueError("%s: missing dataset" % where)
        ds = g[name]
        u = _text(ds.attrs.get("units", b""))
        if u != unit:
            raise ValueError("%s: unit %r, expected %r" % (where, u, unit))
        v = np.asarray(ds[()], dtype=float)
        if len(v.shape) != len(shape) or any(s is not None and s != d for s, d in zip(shape, v.shape)):
            raise ValueError("%s: shape %s, expected %s" % (where, v.shape, shape))
        return v

    def _group(self, g, name):
        if name not in g or not isinstance(g[name], h5py.Group):
            raise ValueError("%s/%s: missing group" % (self.where, name))
        return g[name]

    # ---------------------------------------------------------------- the law
    def law_step(self, G, direction):
        """The fitted law f(G) of one pulse, without the bounds (siemens)."""
        if self.params_up is None:
            raise ValueError("%s: law %r unknown to this reader (use source='table')" % (self.where, self.law))
        x = (np.asarray(G, dtype=float) - self.g_min) / (self.g_max - self.g_min)
        p = self.params_up if direction > 0 else self.params_down
        if self.law == "exp":
            z = x if direction > 0 else 1.0 - x
            return (1.0 if direction > 0 else -1.0) * p[0] * np.exp(-p[1] * z)
        if self.law == "softbounds":
            return p[0] + (p[1] - p[0]) * x  # linear in G beyond the window too
        return np.interp(np.clip(x, 0.0, 1.0), self.knot_x, p)

    def step(self, G, direction, source="law"):
        """Mean change of G by one pulse (+1 up, -1 down), within [g_min, g_max]."""
        G = np.asarray(G, dtype=float)
        if direction == 0:
            return np.zeros_like(G)
        if source == "table":
            return np.interp(G, self.g, self.dg_up if direction > 0 else self.dg_down)
        return np.clip(G + self.law_step(G, direction), self.g_min, self.g_max) - G

    def sigma(self, G, direction, source="law"):
        """Cycle-to-cycle standard deviation of one pulse's change (siemens)."""
        G = np.asarray(G, dtype=float)
        if direction == 0:
            return np.zeros_like(G)
        if source == "table":
            return np.interp(G, self.g, self.sigma_up if direction > 0 else self.sigma_down)
        a = self.c2c["up_abs_siemens" if direction > 0 else "down_abs_siemens"]
        r = self.c2c["up_rel" if direction > 0 else "down_rel"]
        return self.c2c_factor(G, direction) * np.sqrt(a * a + (r * self.law_step(G, direction)) ** 2)

    def c2c_factor(self, G, direction):
        """State factor k(G) of sigma: linear between the 8 bin centres, constant beyond."""
        k = self.c2c_scale_up if direction > 0 else self.c2c_scale_down
        nb = k.shape[0]
        x = (np.asarray(G, dtype=float) - self.g_min) / (self.g_max - self.g_min)
        return np.interp(x, (np.arange(nb) + 0.5) / nb, k)

    # ---------------------------------------------------------------- pulses
    def pulse(self, G, direction, rng=None, source="law"):
        """G after one pulse; with a numpy Generator rng, with its cycle-to-cycle noise."""
        G = np.asarray(G, dtype=float)
        if direction == 0:
            return G.copy()
        dg = self.step(G, direction, source)
        if rng is not None:
            dg = dg + self.sigma(G, direction, source) * rng.standard_normal(G.shape)
        return np.clip(G + dg, self.g_min, self.g_max)

    def apply_pulses(self, g0, n, direction, seed=None, noise=True, source="law"):
        """G after n pulses of one direction from g0 (scalar or array: one device each);
        seeded cycle-to-cycle noise (numpy default_rng(seed)) unless noise=False."""
        rng = np.random.default_rng(seed) if noise else None
        g = np.asarray(g0, dtype=float).copy()
        for _ in range(int(n)):
            g = self.pulse(g, direction, rng, source)
        return g

    def simulate(self, g0, directions, seed=None, noise=True, source="law"):
        """G before and after every pulse of a train (directions: +1, -1, 0 = none);
        returns an array of len(directions) + 1 (x the shape of g0)."""
        rng = np.random.default_rng(seed) if noise else None
        g = np.asarray(g0, dtype=float).copy()
        out = [g.copy()]
        for d in directions:
            g = self.pulse(g, int(d), rng, source)
            out.append(g.copy())
        return np.array(out)


def load(path):
    """Every /update/<device> of a model file: {device: UpdateModel}."""
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError("%s: cannot open as HDF5 (%s)" % (path, e))
    with f:
        if _text(f.attrs.get("format", b"")) != "xbar-model":
            raise ValueError("%s: format %r, expected 'xbar-model'" % (path, f.attrs.get("format")))
        if "update" not in f:
            raise ValueError("%s:/update: missing group (no pulse-update models: fit a campaign with [program] "
                             "trains)" % path)
        return {name: UpdateModel(path, g) for name, g in f["update"].items()}


def main(argv):
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        print("usage: python3 update.py MODEL.h5")
        return 0 if len(argv) == 2 else 2
    try:
        models = load(argv[1])
    except ValueError as e:
        print("update.py: %s" % e, file=sys.stderr)
        return 2
    for name, m in models.items():
        mid = 0.5 * (m.g_min + m.g_max)
        print("%-6s law %-10s window %.4g..%.4g S  at mid-window: up %+.4g S (c2c %.3g), down %+.4g S (c2c %.3g)"
              % (name, m.law, m.g_min, m.g_max, m.step(mid, 1), m.sigma(mid, 1), m.step(mid, -1), m.sigma(mid, -1)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
