"""PyTorch layers that compute on xbar's fitted crossbar models (docs/interop.md).

    import xbar.torch as xt
    analog = xt.convert(net, "model.h5", device="pcm", tile=64, dac_bits=8, adc_bits=8)
    xt.program(analog, seed=1)          # programming error from the model file's sigma(G)
    xt.calibrate(analog, x_calib)       # DAC range per layer, ADC range per tile, per-column affine
    analog.eval(); y = analog(x)
    xt.set_time(analog, 86400.0)        # PCM drift to 1 day (fitted nu(G)), global compensation

`convert` swaps every nn.Linear / nn.Conv2d of a model for an AnalogLinear / AnalogConv2d
(the way aihwkit's convert_to_analog does).  Their forward pass is the one of xbar's layer
executor (src/exec/executor.c, `xbar run --engine model`, docs/executor.md):

- the weight matrix (out x in; conv: out_c x in_c*kh*kw, inputs by unfold = im2col) is split
  into tiles of R rows (inputs) x C columns, C/2 weights per tile on differential column pairs
  (2j: G+, 2j+1: G-), G+- = g_min + dg max(+-w, 0)/w_max with w_max = max|W| of the layer;
  unused rows and pairs of edge tiles stay at g_min;
- inputs go through a DAC: magnitude x in [0, x_r] -> round(x/x_r (2^B - 1))/(2^B - 1) v_read,
  clipped at x_r; negative inputs in a second phase, subtracted digitally;
- every tile is the fitted behavioural model of the model file (reduced-order IR drop, read
  nonlinearity, series element, gain; docs/fit.md), evaluated in torch operations:
  form="exact" is the full model per input vector (`xbar run --model-exact`), form="fast" the
  fast form I = sum_p phi_p(V) M_p (docs/fit.md "Fast form"; M_p fitted to the full model by
  least squares, as the executor's default engine does);
- the differential current I+ - I- of every pair through an ADC: 2^(B-1) - 1 levels a side on
  [-I_r, I_r], I_r calibrated per tile; digital partial sums scaled back to weight units by
  w_max x_r / (dg v_read); bias; per-column affine correction y_ref = a y + b fitted on the
  calibration batch against the float layer W x + b on the same analog inputs.

Both quantizers pass gradients straight through (zero outside their range); everything
else is differentiable (autograd through the IR-drop sweeps and the fast-form fit).  In
training mode every forward pass samples programming error from the fitted sigma(G) (and
the model's output residual) and calibrates on the minibatch itself; in eval mode the
programmed (and drifted) conductances and the stored calibration are used.
"""
import copy
import math
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import model as _xm

T0_S = 20.0                 # first read after programming: G_prog defined here (docs/drift.md)
T_READ_NOISE_S = 250e-9     # t_r of the PCM read-noise law (docs/hdf5-model.md, pcm_drift)
_BASIS_NV = 1025            # as src/fit/fast.c: voltage grid of the basis tables
_BASIS_NG = 32              # conductances of the basis table (x 2 columns: I and v dI/dv)
_FAST_DROP = 0.1            # weight of the v dI/dv columns (XB_FIT_FAST_DROP)
_FAST_MAX_TERMS = 4         # XB_FIT_FAST_MAX_TERMS
_EXACT_CELLS = 1 << 18      # cells evaluated at once by the exact model (cache-sized chunks)


class _RoundSTE(torch.autograd.Function):
    """Round half to even (as C nearbyint), gradient passed straight through."""

    @staticmethod
    def forward(ctx, x):
        return torch.round(x)

    @staticmethod
    def backward(ctx, g):
        return g


def _shc(x):
    """sinh(x)/x with the same series/sinh split as src/fit/model.c (and xbar.model)."""
    y = x * x
    poly = 1.0 + y * (1.0 / 6 + y * (1.0 / 120 + y * (1.0 / 5040 + y * (1.0 / 362880 + y * (1.0 / 39916800)))))
    big = y > 2.25
    if not bool(big.any()):
        return poly
    xs = torch.where(big, x, torch.ones_like(x))
    return torch.where(big, torch.sinh(xs) / xs, poly)


def _shc_parts(x):
    """shc(x) = sinh(x)/x, cosh(x) and (cosh(x) - shc(x))/x (series where x^2 <= 2.25, else closed forms)."""
    y = x * x
    big = y > 2.25
    s = 1.0 + y * (1.0 / 6 + y * (1.0 / 120 + y * (1.0 / 5040 + y * (1.0 / 362880 + y * (1.0 / 39916800)))))
    ch = 1.0 + y * (0.5 + y * (1.0 / 24 + y * (1.0 / 720 + y * (1.0 / 40320 + y * (1.0 / 3628800 + y / 479001600)))))
    d = x * (1.0 / 3 + y * (1.0 / 30 + y * (1.0 / 840 + y * (1.0 / 45360 + y * (1.0 / 3991680 + y / 518918400)))))
    if bool(big.any()):
        xs = torch.where(big, x, torch.ones_like(x))
        sb = torch.sinh(xs) / xs
        cb = torch.cosh(xs)
        s = torch.where(big, sb, s)
        ch = torch.where(big, cb, ch)
        d = torch.where(big, (cb - sb) / xs, d)
    return s, ch, d


class _CellCurrent(torch.autograd.Function):
    """i = a v shc(c v): d i/d v = a cosh(c v), d i/d a = v shc(c v), d i/d c = a v^2 shc'(c v) with
    shc'(x) = (cosh x - shc x)/x.  One node instead of the dozen of the polynomial."""

    @staticmethod
    def forward(ctx, a, c, v):
        ctx.save_for_backward(a, c, v)
        return a * v * _shc(c * v)

    @staticmethod
    def backward(ctx, g):
        a, c, v = ctx.saved_tensors
        s, ch, d = _shc_parts(c * v)
        ga = gc = gv = None
        if ctx.needs_input_grad[0]:
            ga = _sum_to(g * v * s, a.shape)
        if ctx.needs_input_grad[1]:
            gc = _sum_to(g * a * v * v * d, c.shape)
        if ctx.needs_input_grad[2]:
            gv = _sum_to(g * a * ch, v.shape)
        return ga, gc, gv


def _sum_to(t, shape):
    """Reduce a broadcast gradient back to shape."""
    if t.shape == shape:
        return t
    lead = t.dim() - len(shape)
    t = t.sum(dim=tuple(range(lead))) if lead > 0 else t
    dims = tuple(k for k, n in enumerate(shape) if n == 1 and t.shape[k] != 1)
    return t.sum(dim=dims, keepdim=True) if dims else t


def _np_shc(x):
    return _xm._shc(x)


# ------------------------------------------------------------------ the tile model in torch
class TileModel:
    """A fitted model (xbar.model.Model) as torch operations, for tiles of its shape."""

    def __init__(self, m):
        self.m = m
        self.rows, self.cols = m.rows, m.cols
        self.r_row, self.r_col, self.r_driver, self.r_sense = m.r_row, m.r_col, m.r_driver, m.r_sense
        self.r_series, self.gain, self.v_read = m.r_series, m.gain, m.v_read
        self.n_sweeps = m.n_sweeps
        self.knot_x = [float(v) for v in m.knot_x]
        self.knot_v0 = [float(v) for v in m.knot_v0]
        self.g_ref_min, self.g_ref_max = m.g_ref_min, m.g_ref_max
        self.resid_sigma_rel = m.resid_sigma_rel
        self.wires = any(r != 0 for r in (self.r_row, self.r_col, self.r_driver, self.r_sense))
        self._basis = None

    # -- exact (full) model, as src/fit/model.c
    def _v0(self, G):
        """V0 piecewise linear over x = (G - g_ref_min)/(g_ref_max - g_ref_min), held at the end knots."""
        x = (G - self.g_ref_min) / (self.g_ref_max - self.g_ref_min)
        v0 = torch.full_like(G, self.knot_v0[0])
        for k in range(len(self.knot_x) - 1):
            w = self.knot_x[k + 1] - self.knot_x[k]
            v0 = v0 + (self.knot_v0[k + 1] - self.knot_v0[k]) / w * (x - self.knot_x[k]).clamp(0.0, w)
        return v0

    def coefficients(self, G):
        """Per-cell a, c of I = a v shc(c v) and the damping omega (G: (..., R, C) siemens)."""
        d = 1.0 / (1.0 + G * self.r_series)
        if not self.knot_x:
            k = torch.zeros_like(G)
        else:
            k = 1.0 / self._v0(G).clamp(min=_xm.V0_MIN_VOLT)
        a = G * d / _shc(k * self.v_read)
        c = k * d
        R, C = G.shape[-2], G.shape[-1]
        gsum = (G * d).sum(dim=(-2, -1))
        lam = (self.r_driver + self.r_row * C / 3) * gsum / R + (self.r_sense + self.r_col * R / 3) * gsum / C
        return a, c, 1.0 / (1.0 + lam)

    def _wire_drop(self, i):
        """The IR drop of src/fit/model.c for cell currents i (..., R, C): r_driver S_i0 + r_row
        sum_{k<=j} S_ik + r_sense P_(R-1)j + r_col sum_{k>=i} P_kj, with S the row suffix sums
        (current in the row segment in front of cell j) and P the column prefix sums (current in
        the column segment below cell i); cumulative sums, O(1) per cell, differentiable."""
        S = i.flip(-1).cumsum(-1).flip(-1)
        P = i.cumsum(-2)
        T = P.flip(-2).cumsum(-2).flip(-2)
        drop = self.r_row * S.cumsum(-1) + self.r_col * T
        if self.r_driver != 0:
            drop = drop + self.r_driver * S[..., :1]
        if self.r_sense != 0:
            drop = drop + self.r_sense * P[..., -1:, :]
        return drop

    def mvm(self, coef, V):
        """Column currents (K, ..., C) for inputs V (K, ..., R) volts on the tiles of coef
        (a, c: (..., R, C), omega (...)); the batch dimensions of V broadcast against the tiles'.
        n_sweeps damped fixed-point sweeps v += omega (v_row - v_col - v) from v = V_i."""
        a, c, om = coef
        om = om.unsqueeze(-1).unsqueeze(-1)
        vin = V.unsqueeze(-1)
        vc = vin.expand(torch.broadcast_shapes(vin.shape, a.shape))
        cell = self._cell_nograd if not torch.is_grad_enabled() else self._cell
        if self.wires and self.n_sweeps > 0:
            for _ in range(self.n_sweeps):
                i = cell(a, c, vc)
                vc = vc + om * (vin - self._wire_drop(i) - vc)
        return self.gain * cell(a, c, vc).sum(-2)

    def _cell(self, a, c, v):
        """Cell currents a v shc(c v) (differentiable: one autograd node with analytic derivatives)."""
        return a * v if not self.knot_x else _CellCurrent.apply(a, c, v)

    def _cell_nograd(self, a, c, v):
        """The same with in-place arithmetic (inference: fewer temporaries)."""
        if not self.knot_x:
            return a * v
        x = c * v
        y = x * x
        if bool((y > 2.25).any()):
            return a * v * _shc(x)
        p = y * (1.0 / 39916800)
        for k in (1.0 / 362880, 1.0 / 5040, 1.0 / 120, 1.0 / 6):
            p.add_(k).mul_(y)
        p.add_(1.0).mul_(a).mul_(v)
        return p

    # -- the fast form's basis, as src/fit/fast.c (numpy, once per model)
    def _np_cell(self, g, v):
        d = 1.0 / (1.0 + g * self.r_series)
        if self.knot_x:
            x = (g - self.g_ref_min) / (self.g_ref_max - self.g_ref_min)
            k = 1.0 / max(float(np.interp(x, self.knot_x, self.knot_v0)), _xm.V0_MIN_VOLT)
        else:
            k = 0.0
        return g * d / _np_shc(k * self.v_read) * v * _np_shc(k * d * v)

    def basis(self):
        """(table (T, NV) float64 or None for phi(v) = v, v_hi)."""
        if self._basis is not None:
            return self._basis
        v_hi = max(self.m.valid["v_max_volt"], self.v_read)
        if not self.knot_x:
            self._basis = (None, v_hi)
            return self._basis
        h = v_hi / (_BASIS_NV - 1)
        g_lo = 0.5 * min(self.g_ref_min, self.m.valid["g_min_siemens"])
        g_hi = 1.2 * max(self.g_ref_max, self.m.valid["g_max_siemens"])
        v = h * np.arange(_BASIS_NV)
        dv = 1e-4 * v_hi
        A = np.zeros((_BASIS_NV, 2 * _BASIS_NG))
        for s in range(_BASIS_NG):
            g = g_lo + (g_hi - g_lo) * s / (_BASIS_NG - 1)
            if g <= 0:
                g = 1e-3 * g_hi
            d = (self._np_cell(g, v + dv) - self._np_cell(g, v - dv)) / (2 * dv)
            A[:, 2 * s] = self._np_cell(g, v) / g
            A[:, 2 * s + 1] = _FAST_DROP * v * d / g
        U, S, _ = np.linalg.svd(A, full_matrices=False)
        total = float(np.sum(S * S))
        r = 1
        while True:
            tail = math.sqrt(float(np.sum(S[r:] ** 2)) / total) if total > 0 else 0.0
            if tail <= 1e-6 or r == _FAST_MAX_TERMS:
                break
            r += 1
        tab = np.zeros((r, _BASIS_NV))
        for p in range(r):
            col = U[:, p]
            mx = float(np.max(np.abs(col)))
            sc = v_hi / mx if mx > 0 else 1.0
            if col[-1] < 0:
                sc = -sc
            tab[p] = sc * col
            tab[p, 0] = 0.0
        self._basis = (tab, v_hi)
        return self._basis

    def n_basis(self):
        tab, _ = self.basis()
        return 1 if tab is None else tab.shape[0]

    def phi_np(self, v, T):
        """phi_p(v) for p < T (numpy, (T,) + v.shape): linear interpolation, odd, last segment extended."""
        tab, v_hi = self.basis()
        v = np.asarray(v, dtype=float)
        if tab is None:
            return v[None]
        h = v_hi / (_BASIS_NV - 1)
        a = np.abs(v) / h
        t = np.minimum(np.floor(a).astype(np.int64), _BASIS_NV - 2)
        f = a - t
        y = tab[:T, t] + f * (tab[:T, t + 1] - tab[:T, t])
        return np.where(v < 0, -y, y)


def _fit_vectors(n, R, v_hi, rng):
    """Fit vectors like src/fit/fast.c: the first drives every row at v_hi, then every element on
    with probability 1, 1/2, 1/4 in turn, uniform on (0, v_hi]."""
    V = np.empty((n, R))
    rho = (1.0, 0.5, 0.25)
    for k in range(n):
        if k == 0:
            V[k] = v_hi
            continue
        on = rng.random(R)
        val = rng.random(R)
        V[k] = np.where(on < rho[k % 3], v_hi * (1.0 - val), 0.0)
    return V


class _FastFit:
    """Least-squares map from full-model currents on fixed fit vectors to the fast-form matrices:
    M (T R x C) = pinv @ I_full(G, V_fit).  The fit vectors (and so pinv) are the same for every
    tile, which keeps M a linear, differentiable function of the full model's currents."""

    def __init__(self, tm, T, seed=0x5EED):
        R = tm.rows
        tab, v_hi = tm.basis()
        self.T = T
        rng = np.random.default_rng(seed)
        if tab is None:  # ohmic cells: the full model is linear in V, unit vectors give M exactly
            self.V = v_hi * np.eye(R)
        else:
            self.V = _fit_vectors(2 * T * R + 32, R, v_hi, rng)
        X = np.transpose(tm.phi_np(self.V, T), (1, 0, 2)).reshape(self.V.shape[0], T * R)
        self.pinv = np.linalg.solve(X.T @ X, X.T)          # (T R, K_fit)
        self.V_test = _fit_vectors(17, R, v_hi, rng)[1:]     # 16 held-out vectors


# ------------------------------------------------------------------ device statistics of a model file
class _Laws:
    """The fitted programming-error and PCM drift/read-noise laws of a model file for one device."""

    def __init__(self, path, device):
        self.path, self.device = path, device
        st = _xm.load_stats(path)
        self.sigma = st.get("sigma_program", {}).get(device)
        self.drift = st.get("pcm_drift") if device == "pcm" else None
        self.stats = st

    def sigma_siemens(self, G):
        """sigma(G), G held inside the fitted range, never negative (xb_fit_sigma_eval)."""
        if self.sigma is None:
            return torch.zeros_like(G)
        lo, hi = (float(v) for v in self.sigma["valid_g_siemens"])
        g = G.clamp(lo, hi)
        y = torch.zeros_like(G)
        for ck in reversed([float(c) for c in self.sigma["coef"]]):
            y = y * g + ck
        return y.clamp(min=0.0)

    def _x(self, G0):
        d = self.drift
        lo, hi = (float(v) for v in d["valid_g_siemens"])
        return torch.log(G0.clamp(max(lo, 1e-30), hi) / float(d["g_ref_siemens"]))

    def need_drift(self):
        if self.drift is None:
            raise ValueError(f"{self.path}: no fitted drift law (/stats/pcm_drift) for device {self.device}: "
                             "xbar fit writes it for PCM campaigns with [drift] enabled (docs/campaigns.md)")

    def nu(self, G0, z):
        """Drift exponents: N(nu_mean(x), nu_std(x)) truncated at 0, x = ln(G0/g_ref)."""
        self.need_drift()
        x = self._x(G0)
        m = self.drift["nu_mean_coef"]
        s = self.drift["nu_std_coef"]
        mean = float(m[0]) + float(m[1]) * x
        std = (float(s[0]) + float(s[1]) * x).clamp(min=0.0)
        return (mean + std * z).clamp(min=0.0)

    def read_sigma_rel(self, G0, t_s):
        """Relative read-noise sigma/G at t seconds after programming."""
        self.need_drift()
        q = self.drift["log_q_coef"]
        tr = float(self.drift.get("t_read_noise_s", T_READ_NOISE_S))
        f = math.log((t_s + tr) / (2 * tr))
        return torch.exp(float(q[0]) + float(q[1]) * self._x(G0)) * math.sqrt(max(f, 0.0))


# ------------------------------------------------------------------ one crossbar configuration
class Crossbar:
    """The crossbar a converted model runs on: the fitted model for the tile, the device's
    conductance range and laws, converters and calibration options.  Shared by the layers of
    one convert() call."""

    def __init__(self, model_path, device, tile=64, dac_bits=8, adc_bits=8, cell="1r", form="fast",
                 dac_range=None, adc_headroom=1.0, affine=True, g_min=None, g_max=None, r_wire=None,
                 r_driver=None, read_noise=False, train_noise=True, fast_terms=None):
        R, C = (tile, tile) if isinstance(tile, int) else (int(tile[0]), int(tile[1]))
        if R < 1 or C < 2 or C % 2:
            raise ValueError(f"tile {R}x{C}: columns must be even and >= 2 (differential column pairs)")
        if form not in ("fast", "exact"):
            raise ValueError(f"form {form!r}: 'fast' (the executor's default engine) or 'exact' (--model-exact)")
        if not (0 <= dac_bits <= 24) or adc_bits == 1 or not (0 <= adc_bits <= 24):
            raise ValueError("dac_bits: 0 (ideal) to 24; adc_bits: 0 (ideal) or 2 to 24")
        models = _xm.load(model_path)
        m = _xm.select(models, device=device, cell=cell, rows=R, cols=C, r_wire=r_wire, r_driver=r_driver)
        if getattr(m, "choice", "fitted") != "fitted":  # the line xbar mvm / xbar run print
            warnings.warn(f"{model_path}: {m.choice_line}", stacklevel=3)
        self.model_path, self.device, self.cell = model_path, device, cell
        self.tile_rows, self.tile_cols = R, C
        self.dac_bits, self.adc_bits, self.form = int(dac_bits), int(adc_bits), form
        self.dac_range = dac_range
        self.adc_headroom = float(adc_headroom)
        self.affine = bool(affine)
        self.read_noise = bool(read_noise)
        self.train_noise = bool(train_noise)
        self.g_min = float(m.config["g_min_siemens"] if g_min is None else g_min)
        self.g_max = float(m.config["g_max_siemens"] if g_max is None else g_max)
        if not (0 < self.g_min < self.g_max):
            raise ValueError("g_min/g_max: need 0 < g_min < g_max")
        self.v_read = m.v_read
        self.tm = TileModel(m)
        self.laws = _Laws(model_path, device)
        self._fast_terms = fast_terms
        self._fits = {}
        self.fast_error = None

    def fast_fit(self, G0=None):
        """The fast-form fit; the number of terms is chosen on the first tile programmed, as the
        executor does: the fewest whose held-out error is within 1.5x of the best."""
        if self._fast_terms is None:
            nb = self.tm.n_basis()
            if G0 is None or nb == 1:
                self._fast_terms = nb
            else:
                errs = []
                with torch.no_grad():
                    G = G0.detach().to(torch.float64)
                    coef = self.tm.coefficients(G)
                    for T in range(1, nb + 1):
                        ff = self._fit(T)
                        M = torch.from_numpy(ff.pinv) @ self.tm.mvm(coef, torch.from_numpy(ff.V))
                        Vt = torch.from_numpy(ff.V_test)
                        ref = self.tm.mvm(coef, Vt)
                        Ft = torch.from_numpy(np.transpose(self.tm.phi_np(ff.V_test, T), (1, 0, 2)).reshape(16, -1))
                        errs.append(float(torch.linalg.norm(Ft @ M - ref) / torch.linalg.norm(ref)))
                best = min(errs)
                self._fast_terms = next(T for T in range(1, nb + 1) if errs[T - 1] <= max(1.5 * best, 1e-9))
                self.fast_error = errs[self._fast_terms - 1]
        return self._fit(self._fast_terms)

    def _fit(self, T):
        if T not in self._fits:
            self._fits[T] = _FastFit(self.tm, T)
        return self._fits[T]

    def describe(self):
        m = self.tm.m
        return (f"{self.device}/{self.cell} {self.tile_rows}x{self.tile_cols} tiles of {self.model_path} "
                f"(r_row {m.r_row:.3g}, r_col {m.r_col:.3g}, r_driver {m.r_driver:.3g}, r_sense {m.r_sense:.3g} ohm, "
                f"{len(m.knot_x)} V0 knots, {m.n_sweeps} sweeps), G in [{self.g_min:.3g}, {self.g_max:.3g}] S, "
                f"DAC {self.dac_bits} bit, ADC {self.adc_bits} bit, form {self.form}")


# ------------------------------------------------------------------ the analog layers
class _AnalogLayer(nn.Module):
    """Shared tiled-crossbar computation of AnalogLinear and AnalogConv2d on input rows."""

    def _setup(self, xb, n_in, n_out):
        self.xb = xb
        self.n_in, self.n_out = n_in, n_out
        R, C = xb.tile_rows, xb.tile_cols
        self.pairs = C // 2
        self.n_rt = -(-n_in // R)
        self.n_ct = -(-n_out // self.pairs)
        self.register_buffer("dac_range", torch.zeros((), dtype=torch.float64))
        self.register_buffer("adc_range", torch.zeros(self.n_rt, self.n_ct, dtype=torch.float64))
        self.register_buffer("aff_a", torch.ones(n_out, dtype=torch.float64))
        self.register_buffer("aff_b", torch.zeros(n_out, dtype=torch.float64))
        self.register_buffer("calibrated", torch.zeros((), dtype=torch.bool))
        self.register_buffer("drift_alpha", torch.ones(self.n_rt, self.n_ct, dtype=torch.float64))
        self._g_prog = None      # programmed conductances (n_rt, n_ct, R, C), None: from the weights
        self._nu = None          # drift exponents drawn at programming
        self._g_now = None       # conductances at the set time (None: the programmed ones)
        self._read_s2 = None     # device read-noise variance per cell at the set time
        self._t_s = T0_S
        self._state = None       # tile state (model coefficients / fast form) of the eval conductances
        self._state_key = None
        self._calibrating = False
        self._noise_gen = None   # generator of the per-MVM noise (read noise, model residual)

    # -- mapping
    def w_max(self, W):
        wm = W.abs().max()
        return torch.where(wm > 0, wm, torch.ones_like(wm))

    def conductances(self, W):
        """Target conductances (n_rt, n_ct, R, C) of the weight matrix W (out, in): differential
        pairs in columns 2j (G+) and 2j + 1 (G-), unused rows/pairs at g_min."""
        R, P = self.xb.tile_rows, self.pairs
        g0, dg = self.xb.g_min, self.xb.g_max - self.xb.g_min
        W = W.reshape(self.n_out, self.n_in)
        if self.xb.form == "exact":
            W = W.to(torch.float64)  # the executor maps float weights in double (w / w_max)
        x = F.pad(W.t(), (0, self.n_ct * P - self.n_out, 0, self.n_rt * R - self.n_in)) / self.w_max(W)
        G = torch.stack([g0 + dg * x.clamp(min=0.0), g0 + dg * (-x).clamp(min=0.0)], -1)
        return G.reshape(self.n_rt, R, self.n_ct, 2 * P).permute(0, 2, 1, 3)

    def _cdtype(self):
        return torch.float64 if self.xb.form == "exact" else self.weight.dtype

    # -- tile state: what a programmed tile holds
    def _build_state(self, G):
        xb = self.xb
        tm = xb.tm
        G = G.to(torch.float64) if xb.form == "exact" else G.to(self._cdtype())
        st = {"G": G}
        if xb.form == "exact":
            st["coef"] = tm.coefficients(G)
            return st
        ff = xb.fast_fit(G[0, 0])
        T, R, P = ff.T, xb.tile_rows, self.pairs
        dt = G.dtype
        Vf = torch.from_numpy(ff.V).to(dt)
        pinv = torch.from_numpy(ff.pinv).to(dt)
        coef = tm.coefficients(G)
        n_t = self.n_rt * self.n_ct
        cells = R * xb.tile_cols * Vf.shape[0]
        step = max(1, _EXACT_CELLS // cells)
        a, c, om = (t.reshape((n_t,) + t.shape[2:]) for t in coef)
        Ms = []
        for t0 in range(0, n_t, step):
            sl = slice(t0, t0 + step)
            I = tm.mvm((a[sl], c[sl], om[sl]), Vf.unsqueeze(1))          # (K_fit, tiles, C)
            Ms.append(torch.einsum("qk,ktc->tqc", pinv, I))                # (tiles, T R, C)
        M = torch.cat(Ms, 0).reshape(self.n_rt, self.n_ct, T * R, xb.tile_cols)
        st["T"] = T
        st["Wd"] = (M[..., 0::2] - M[..., 1::2]).permute(0, 2, 1, 3).reshape(self.n_rt, T * R, self.n_ct * P)
        if (xb.read_noise or xb.train_noise) and tm.resid_sigma_rel > 0:
            st["Ws"] = (M[..., 0::2] + M[..., 1::2]).permute(0, 2, 1, 3).reshape(self.n_rt, T * R, self.n_ct * P)
        st["Msum"] = M.sum(-1)  # (n_rt, n_ct, T R): all-column current sums
        tab, v_hi = tm.basis()
        st["lut"] = None
        if xb.dac_bits > 0 and xb.dac_bits <= 16:
            L = (1 << xb.dac_bits) - 1
            lv = np.arange(L + 1) / L * xb.v_read
            phi = tm.phi_np(lv, T)                                         # (T, L+1)
            eps = 1e-7 * v_hi
            dphi = (tm.phi_np(lv + eps, T) - tm.phi_np(lv - eps, T)) / (2 * eps)  # phi is odd
            st["lut"] = (torch.from_numpy(phi).to(dt), torch.from_numpy(dphi).to(dt))
        return st

    def _phi(self, V, T, dt):
        """phi_p(V) for V (..., R) >= 0 volts: (T,) + V.shape, differentiable in V."""
        tab, v_hi = self.xb.tm.basis()
        if tab is None:
            return V.unsqueeze(0)
        tb = torch.from_numpy(tab[:T]).to(dt)
        h = v_hi / (_BASIS_NV - 1)
        a = V / h
        t = a.detach().floor().clamp(max=_BASIS_NV - 2).long()
        f = a - t.to(a.dtype)
        y0 = tb[:, t]
        return y0 + f.unsqueeze(0) * (tb[:, t + 1] - y0)

    # -- one phase of the array: differential pair currents (K, n_rt, n_ct P)
    def _dac(self, xph, xr):
        L = (1 << self.xb.dac_bits) - 1
        u = (xph / xr).clamp(0.0, 1.0)
        if self.xb.dac_bits > 0:
            u = _RoundSTE.apply(u * L) / L
        return u

    def _pairs_current(self, st, xph, xr):
        xb = self.xb
        R, P = xb.tile_rows, self.pairs
        K = xph.shape[0]
        dt = st["G"].dtype
        xp = F.pad(xph.to(dt), (0, self.n_rt * R - self.n_in)).reshape(K, self.n_rt, R)
        u = self._dac(xp, xr)
        V = u * xb.v_read
        noise_resid = xb.read_noise and xb.tm.resid_sigma_rel > 0 and not self.training
        if xb.form == "exact":
            a, c, om = st["coef"]
            cells = self.n_rt * self.n_ct * R * xb.tile_cols
            step = max(1, _EXACT_CELLS // cells)
            Ds = []
            for k0 in range(0, K, step):
                I = xb.tm.mvm((a, c, om), V[k0:k0 + step].unsqueeze(2))   # (k, n_rt, n_ct, C)
                if noise_resid or (self.training and xb.train_noise and xb.tm.resid_sigma_rel > 0):
                    rms = torch.sqrt((I.detach() ** 2).mean(-1, keepdim=True))
                    I = I + xb.tm.resid_sigma_rel * rms * self._randn(I.shape, I)
                Ds.append((I[..., 0::2] - I[..., 1::2]).reshape(I.shape[0], self.n_rt, self.n_ct * P))
            D = torch.cat(Ds, 0)
        else:
            T = st["T"]
            if st["lut"] is not None and not torch.is_grad_enabled():
                lev = torch.round(u * ((1 << xb.dac_bits) - 1)).long()
                Fm = st["lut"][0][:, lev]                                   # (T, K, n_rt, R)
            elif st["lut"] is not None:
                lev = torch.round(u.detach() * ((1 << xb.dac_bits) - 1)).long()
                Fm = st["lut"][0][:, lev] + (V - V.detach()).unsqueeze(0) * st["lut"][1][:, lev]
            else:
                Fm = self._phi(V, T, dt)
            Fm = Fm.permute(2, 1, 0, 3).reshape(self.n_rt, K, T * R)
            D = torch.bmm(Fm, st["Wd"]).permute(1, 0, 2)                   # (K, n_rt, n_ct P)
            resid = noise_resid or (self.training and xb.train_noise and xb.tm.resid_sigma_rel > 0)
            if resid:
                S = torch.bmm(Fm, st["Ws"]).permute(1, 0, 2)
                used = torch.zeros(self.n_ct * P, dtype=dt)
                used[:self.n_out] = 1
                ss = (S.detach() ** 2 + (D.detach() * used) ** 2).reshape(K, self.n_rt, self.n_ct, P).sum(-1)
                sd = math.sqrt(2.0) * xb.tm.resid_sigma_rel * torch.sqrt(0.5 * ss / xb.tile_cols)
                D = D + sd.repeat_interleave(P, -1) * self._randn(D.shape, D)
        if self._read_s2 is not None and not self.training:
            s2 = self._read_s2.to(dt)                                      # (n_rt, n_ct, R, C)
            s2p = (s2[..., 0::2] + s2[..., 1::2]).permute(0, 2, 1, 3).reshape(self.n_rt, R, self.n_ct * P)
            var = torch.einsum("kri,rio->kro", V * V, s2p)
            D = D + torch.sqrt(var) * self._randn(D.shape, D)
        return D[..., :self.n_out]

    def _randn(self, shape, like):
        return torch.randn(shape, generator=self._noise_gen, dtype=like.dtype, device=like.device)

    def _tile_expand(self, t):
        """A per-tile quantity (n_rt, n_ct) as (n_rt, n_out) (each output column its tile's)."""
        return t.repeat_interleave(self.pairs, -1)[:, :self.n_out]

    # -- eval conductances and their cached tile state
    def _eval_state(self):
        G = self._g_now if self._g_now is not None else self._g_prog
        if G is None:
            W = self.weight
            key = ("w", W._version, W.data_ptr(), W.dtype)
            if self._state_key != key:
                with torch.no_grad():
                    self._state = self._build_state(self.conductances(W))
                self._state_key = key
            return self._state
        key = ("g", id(G), self._cdtype())
        if self._state_key != key:
            with torch.no_grad():
                self._state = self._build_state(G)
            self._state_key = key
        return self._state

    def _train_state(self):
        W = self.weight
        G = self.conductances(W)
        if self.xb.train_noise and self.xb.laws.sigma is not None:
            G = (G + self.xb.laws.sigma_siemens(G.detach()) * torch.randn_like(G)).clamp(min=0.0)
        return self._build_state(G)

    # -- the layer on input rows X (K, n_in)
    def analog_rows(self, X, bias):
        xb = self.xb
        calib = self._calibrating or self.training
        if not calib and not bool(self.calibrated):
            raise RuntimeError("analog layer not calibrated: call xbar.torch.calibrate(model, x) first "
                               "(DAC range, ADC ranges, affine correction; docs/interop.md)")
        st = self._train_state() if self.training else self._eval_state()
        dt = st["G"].dtype
        W = self.weight
        if calib:
            with torch.no_grad():
                if xb.dac_range is not None:
                    xr = float(xb.dac_range)
                else:
                    mx = float(X.detach().abs().max()) if X.numel() else 0.0
                    xr = mx if mx > 0 else 1.0
            if not self.training:
                self.dac_range.fill_(xr)
        else:
            xr = float(self.dac_range)
        vr, dg = xb.v_read, xb.g_max - xb.g_min
        scale = self.w_max(W).to(dt) * xr / (dg * vr)
        if not calib and xb.form == "fast" and not torch.is_grad_enabled():
            return self._fast_infer(st, X, bias, xr, scale)
        phases = [(1.0, X.clamp(min=0.0))]
        if bool((X.detach() < 0).any()):
            phases.append((-1.0, (-X).clamp(min=0.0)))
        Ds = [(sg, self._pairs_current(st, xph, xr)) for sg, xph in phases]
        if calib:
            with torch.no_grad():
                rng = torch.zeros(self.n_rt, self.n_ct * self.pairs, dtype=torch.float64)
                for _, D in Ds:
                    if D.shape[0]:
                        rng[:, :self.n_out] = torch.maximum(rng[:, :self.n_out], D.detach().abs().amax(0).double())
                rng = rng.reshape(self.n_rt, self.n_ct, self.pairs).amax(-1) * xb.adc_headroom
            if not self.training:
                self.adc_range.copy_(rng)
        else:
            rng = self.adc_range
        alpha = self._tile_expand(self.drift_alpha).to(dt) if not self.training else 1.0
        acc = 0.0
        if xb.adc_bits > 0:
            rexp = self._tile_expand(rng).to(dt)
            step = rexp / ((1 << (xb.adc_bits - 1)) - 1)
            inv = torch.where(step > 0, 1.0 / torch.where(step > 0, step, torch.ones_like(step)),
                              torch.zeros_like(step))
        for sg, D in Ds:
            if xb.adc_bits > 0:
                d = torch.clamp(D, -rexp, rexp)
                q = _RoundSTE.apply(d * inv) * step
            else:
                q = D
            acc = acc + (sg * scale * alpha * q).sum(1)
        y = acc + (bias.to(dt) if bias is not None else 0.0)
        if calib and xb.affine:
            with torch.no_grad():
                y32 = y.detach().to(X.dtype)
                Wm = W.detach().reshape(self.n_out, self.n_in).to(X.dtype)
                yref = X.detach() @ Wm.t() + (bias.detach().to(X.dtype) if bias is not None else 0.0)
                a, b = _fit_affine(y32.double(), yref.double())
            if not self.training:
                self.aff_a.copy_(a)
                self.aff_b.copy_(b)
            y = a.to(dt) * y.to(X.dtype).to(dt) + b.to(dt)
        elif not calib and xb.affine:
            y = self.aff_a.to(dt) * y + self.aff_b.to(dt)
        if calib and not self.training:
            self.calibrated.fill_(True)
        return y.to(X.dtype)

    def _fast_infer(self, st, X, bias, xr, scale):
        """Inference on the fast form without autograd: blocks of input rows, one GEMM per row
        band, ADC and partial sums in place (the executor's fast path, docs/executor.md)."""
        xb = self.xb
        R, T, dt = xb.tile_rows, st["T"], st["G"].dtype
        n_rt, n_out, P = self.n_rt, self.n_out, self.pairs
        if "Wdu" not in st:
            # rows reordered to i T + p: the features of input i are the T basis values at its level,
            # gathered as one row lookup (no transposition per band)
            def perm(W):
                return W.reshape(T, R, W.shape[-1]).permute(1, 0, 2).reshape(R * T, W.shape[-1]).contiguous()
            st["Wdu"] = [perm(st["Wd"][r, :, :n_out]) for r in range(n_rt)]
            if "Ws" in st:
                st["Wsu"] = [perm(st["Ws"][r]) for r in range(n_rt)]
            if st["lut"] is not None:
                st["lutT"] = st["lut"][0].t().contiguous()
        K = X.shape[0]
        L = (1 << xb.dac_bits) - 1 if xb.dac_bits > 0 else 0
        alpha = self._tile_expand(self.drift_alpha).to(dt)
        if xb.adc_bits > 0:
            H = float((1 << (xb.adc_bits - 1)) - 1)
            rexp = self._tile_expand(self.adc_range).to(dt)
            step = rexp / H
            inv = torch.where(step > 0, 1.0 / torch.where(step > 0, step, torch.ones_like(step)),
                              torch.zeros_like(step))
            coef = step * scale * alpha
        else:
            coef = scale * alpha
        resid = xb.read_noise and xb.tm.resid_sigma_rel > 0
        # no noise to add: the ADC scaling 1/step folded into the weights (one pass less per band)
        scaled = xb.adc_bits > 0 and not resid and self._read_s2 is None
        if scaled:
            key = (float(self.dac_range), self.adc_range.data_ptr(), self.adc_range._version)
            if st.get("Wdq_key") != key:
                st["Wdq"] = [st["Wdu"][r] * inv[r] for r in range(n_rt)]
                st["Wdq_key"] = key
        s2p = None
        if self._read_s2 is not None:
            s2 = self._read_s2.to(dt)
            s2p = (s2[..., 0::2] + s2[..., 1::2]).permute(0, 2, 1, 3).reshape(n_rt, R, self.n_ct * P)[..., :n_out]
        Xd = X.to(dt)
        neg = X.numel() > 0 and float(X.min()) < 0  # one pass, no mask tensor
        n_in = self.n_in
        lut = st["lut"]
        need_v = resid or s2p is not None or lut is None
        y = torch.empty(K, n_out, dtype=dt)
        KB = 1024
        for k0 in range(0, K, KB):
            xk = Xd[k0:k0 + KB]
            kb = xk.shape[0]
            acc = torch.zeros(kb, n_out, dtype=dt)
            for sg in ((1.0, -1.0) if neg else (1.0,)):
                if lut is not None:
                    # the DAC level of every input (x / x_r L, clipped, rounded), then the T basis
                    # values of each level in one row lookup (index_select: 3x F.embedding): features laid out i T + p
                    lev = (xk * (sg * L / xr)).clamp_(0.0, float(L)).round_()
                    Fall = torch.index_select(st["lutT"], 0, lev.int().view(-1)).view(kb, n_in * T)
                    V = lev * (xb.v_read / L) if need_v else None
                else:
                    u = (xk * (sg / xr)).clamp_(0.0, 1.0)
                    if L > 0:
                        u = torch.round(u * L) / L
                    V = u * xb.v_read
                    Fall = self._phi(V, T, dt).permute(1, 2, 0).reshape(kb, n_in * T)
                for r in range(n_rt):
                    i1 = min(n_in, (r + 1) * R)
                    Fr = Fall[:, r * R * T:i1 * T]
                    Wr = st["Wdq"][r] if scaled else st["Wdu"][r]
                    D = Fr @ (Wr if i1 - r * R == R else Wr[:(i1 - r * R) * T])
                    if resid:
                        Ws = st["Wsu"][r] if i1 - r * R == R else st["Wsu"][r][:(i1 - r * R) * T]
                        S = Fr @ Ws
                        ss = (S * S).reshape(kb, self.n_ct, P).sum(-1)
                        dd = F.pad(D * D, (0, self.n_ct * P - n_out)).reshape(kb, self.n_ct, P).sum(-1)
                        sd = math.sqrt(2.0) * xb.tm.resid_sigma_rel * torch.sqrt(0.5 * (ss + dd) / xb.tile_cols)
                        D = D + sd.repeat_interleave(P, -1)[:, :n_out] * self._randn(D.shape, D)
                    if s2p is not None:
                        Vr = F.pad(V[:, r * R:i1], (0, R - (i1 - r * R)))
                        D = D + torch.sqrt((Vr * Vr) @ s2p[r]) * self._randn(D.shape, D)
                    if xb.adc_bits > 0:
                        if scaled:
                            D.clamp_(-H, H).round_()
                        else:
                            D.mul_(inv[r]).clamp_(-H, H).round_()
                    acc.addcmul_(D, coef[r], value=sg)
            y[k0:k0 + kb] = acc
        if bias is not None:
            y += bias.to(dt)
        if xb.affine:
            y = self.aff_a.to(dt) * y + self.aff_b.to(dt)
        return y.to(X.dtype)

    # -- programming and time
    def program(self, generator=None):
        """Program the tiles: target conductances plus programming error N(0, sigma(G)) from the
        model file's fitted law (none when the file has no law for the device); draws the drift
        exponents of the cells when the file has a drift law.  Resets the time to t0."""
        with torch.no_grad():
            G = self.conductances(self.weight.detach().to(torch.float64))
            if self.xb.laws.sigma is not None:
                z = torch.randn(G.shape, generator=generator, dtype=torch.float64)
                G = (G + self.xb.laws.sigma_siemens(G) * z).clamp(min=0.0)
            self._g_prog = G
            self._nu = None
            if self.xb.laws.drift is not None:
                z = torch.randn(G.shape, generator=generator, dtype=torch.float64)
                self._nu = self.xb.laws.nu(G, z)
            self._g_now, self._read_s2, self._t_s = None, None, T0_S
            self.drift_alpha.fill_(1.0)
            self._noise_gen = torch.Generator().manual_seed(int(torch.randint(0, 2 ** 62, (1,), generator=generator)))

    def unprogram(self):
        """Back to noise-free conductances computed from the weights."""
        self._g_prog = self._g_now = self._nu = self._read_s2 = None
        self._t_s = T0_S
        self.drift_alpha.fill_(1.0)
        self._state_key = None

    def _ones_sum(self, st):
        """Summed column currents of an all-ones input (v_read on every row) per tile."""
        xb = self.xb
        R = xb.tile_rows
        V = torch.full((1, self.n_rt, 1, R), xb.v_read, dtype=st["G"].dtype)
        if xb.form == "exact":
            return xb.tm.mvm(st["coef"], V)[0].sum(-1)                      # (n_rt, n_ct)
        phi = self._phi(torch.full((R,), xb.v_read, dtype=st["G"].dtype), st["T"], st["G"].dtype)
        return (st["Msum"] * phi.reshape(1, 1, -1)).sum(-1)

    def set_time(self, t_s, compensate=True, read_noise=False):
        """Read t_s seconds after programming: G(t) = G_prog (t/t0)^-nu with the drawn exponents
        (t0 = 20 s); global drift compensation per tile alpha = I_sum(t0)/I_sum(t) of an all-ones
        input through the tile model, multiplying the digitized outputs; read_noise: the fitted
        device read noise on every MVM.  The calibration (at t0) is kept."""
        if not (t_s > 0) or not math.isfinite(t_s):
            raise ValueError(f"time: must be > 0 s (got {t_s})")
        with torch.no_grad():
            if self._g_prog is None:
                self._g_prog = self.conductances(self.weight.detach().to(torch.float64))
            g0 = self._g_prog
            if t_s == T0_S:
                g = g0
            else:
                if self._nu is None:
                    self.xb.laws.need_drift()
                    self._nu = self.xb.laws.nu(g0, torch.randn(g0.shape, dtype=torch.float64))
                g = g0 * (t_s / T0_S) ** (-self._nu)
            self._t_s = t_s
            prev = (self._state_key, self._state)
            self._g_now = None if t_s == T0_S else g
            self.drift_alpha.fill_(1.0)
            # the tile state at t (used by the next forward passes) and, for the compensation, at t0
            st1 = self._build_state(g)
            self._state, self._state_key = st1, ("g", id(g), self._cdtype())
            if compensate and t_s != T0_S:
                st0 = prev[1] if prev[0] == ("g", id(g0), self._cdtype()) else self._build_state(g0)
                s0 = self._ones_sum(st0).double()
                s1 = self._ones_sum(st1).double()
                ok = (s0 > 0) & (s1 > 0)
                self.drift_alpha.copy_(torch.where(ok, s0 / torch.where(ok, s1, torch.ones_like(s1)),
                                                   torch.ones_like(s1)))
            self._read_s2 = None
            if read_noise:
                sg = g * self.xb.laws.read_sigma_rel(g0, t_s)
                self._read_s2 = sg * sg
            if self._noise_gen is None:
                self._noise_gen = torch.Generator().manual_seed(0x5EAD)


def _fit_affine(y, yref):
    """Per-column least squares yref = a y + b over the rows (as fit_affine in executor.c)."""
    n = y.shape[0]
    my, mr = y.mean(0), yref.mean(0)
    syy = (y * y).sum(0) / n
    var = syy - my * my
    cov = (y * yref).sum(0) / n - my * mr
    ok = (var > 1e-12 * syy) & (var > 0)
    a = torch.where(ok, cov / torch.where(ok, var, torch.ones_like(var)), torch.ones_like(var))
    return a, mr - a * my


class AnalogLinear(_AnalogLayer):
    """nn.Linear on crossbar tiles (see the module docstring)."""

    def __init__(self, in_features, out_features, xb, bias=True, dtype=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(out_features, dtype=dtype)) if bias else None
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self._setup(xb, in_features, out_features)

    @classmethod
    def from_linear(cls, m, xb):
        a = cls(m.in_features, m.out_features, xb, bias=m.bias is not None, dtype=m.weight.dtype)
        with torch.no_grad():
            a.weight.copy_(m.weight)
            if m.bias is not None:
                a.bias.copy_(m.bias)
        return a

    def forward(self, x):
        lead = x.shape[:-1]
        y = self.analog_rows(x.reshape(-1, self.in_features), self.bias)
        return y.reshape(lead + (self.out_features,))

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
                f"tiles={self.n_rt}x{self.n_ct} of {self.xb.tile_rows}x{self.xb.tile_cols}, {self.xb.device}, "
                f"form={self.xb.form}")


class AnalogConv2d(_AnalogLayer):
    """nn.Conv2d (groups = 1, zero padding) on crossbar tiles: im2col (unfold), one tile input
    vector per output position, the C x kh x kw order of PyTorch's weight layout."""

    def __init__(self, in_channels, out_channels, kernel_size, xb, stride=1, padding=0, dilation=1, bias=True,
                 dtype=None):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = nn.modules.utils._pair(kernel_size)
        self.stride = nn.modules.utils._pair(stride)
        self.dilation = nn.modules.utils._pair(dilation)
        self.padding = padding if isinstance(padding, str) else nn.modules.utils._pair(padding)
        if isinstance(self.padding, str) and self.padding not in ("same", "valid"):
            raise ValueError(f"padding {padding!r}")
        if self.padding == "same" and self.stride != (1, 1):
            raise ValueError("padding='same' needs stride 1 (as nn.Conv2d)")
        kh, kw = self.kernel_size
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kh, kw, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(out_channels, dtype=dtype)) if bias else None
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self._setup(xb, in_channels * kh * kw, out_channels)

    @classmethod
    def from_conv(cls, m, xb):
        if m.groups != 1:
            raise ValueError("grouped convolutions are not supported on crossbar tiles")
        if m.padding_mode != "zeros":
            raise ValueError(f"padding_mode '{m.padding_mode}': only zero padding")
        a = cls(m.in_channels, m.out_channels, m.kernel_size, xb, m.stride, m.padding, m.dilation,
                bias=m.bias is not None, dtype=m.weight.dtype)
        with torch.no_grad():
            a.weight.copy_(m.weight)
            if m.bias is not None:
                a.bias.copy_(m.bias)
        return a

    def _pad(self, x):
        if self.padding == "valid":
            return x, (0, 0)
        if self.padding == "same":
            pads = []
            for k, d in zip(self.kernel_size, self.dilation):
                tot = d * (k - 1)
                pads.append((tot // 2, tot - tot // 2))
            if all(a == b for a, b in pads):
                return x, (pads[0][0], pads[1][0])
            return F.pad(x, (pads[1][0], pads[1][1], pads[0][0], pads[0][1])), (0, 0)
        return x, self.padding

    def forward(self, x):
        x, pad = self._pad(x)
        N = x.shape[0]
        cols = F.unfold(x, self.kernel_size, dilation=self.dilation, padding=pad, stride=self.stride)
        L = cols.shape[-1]
        H, W = x.shape[-2] + 2 * pad[0], x.shape[-1] + 2 * pad[1]
        oh = (H - self.dilation[0] * (self.kernel_size[0] - 1) - 1) // self.stride[0] + 1
        ow = (W - self.dilation[1] * (self.kernel_size[1] - 1) - 1) // self.stride[1] + 1
        rows = cols.transpose(1, 2).reshape(N * L, self.n_in)
        y = self.analog_rows(rows, self.bias)
        return y.reshape(N, L, self.out_channels).permute(0, 2, 1).reshape(N, self.out_channels, oh, ow)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, tiles={self.n_rt}x{self.n_ct} of {self.xb.tile_rows}x{self.xb.tile_cols}, "
                f"{self.xb.device}, form={self.xb.form}")


# ------------------------------------------------------------------ model-level helpers
def analog_layers(model):
    """The analog layers of a model, in module order."""
    return [m for m in model.modules() if isinstance(m, _AnalogLayer)]


def convert(model, model_path, device, tile=64, dac_bits=8, adc_bits=8, inplace=False, **options):
    """A copy of model (or model itself with inplace=True) with every nn.Linear and nn.Conv2d
    replaced by an AnalogLinear / AnalogConv2d on the crossbar of model_path (xbar fit output)
    for device (linear, rram, pcm, ecram).  tile: R or (R, C) (C even).  options: cell, form
    ('fast' | 'exact'), dac_range, adc_headroom, affine, g_min, g_max, r_wire, r_driver,
    read_noise (the model's residual read noise on every MVM), train_noise (programming error
    and residual in training mode), fast_terms.  Batch norm and dropout stay digital torch
    modules (fold batch norm for inference as the executor does:
    xbar.network.to_torch(shape, xbar.network.from_torch(model, shape)))."""
    xb = Crossbar(model_path, device, tile=tile, dac_bits=dac_bits, adc_bits=adc_bits, **options)
    if not inplace:
        model = copy.deepcopy(model)

    def swap(m):
        if type(m) is nn.Linear:
            return AnalogLinear.from_linear(m, xb)
        if type(m) is nn.Conv2d:
            return AnalogConv2d.from_conv(m, xb)
        return None

    top = swap(model)
    if top is not None:
        return top
    for name, child in list(model.named_children()):
        new = swap(child)
        if new is not None:
            setattr(model, name, new)
        else:
            convert_children(child, swap)
    return model


def convert_children(module, swap):
    for name, child in list(module.named_children()):
        new = swap(child)
        if new is not None:
            setattr(module, name, new)
        else:
            convert_children(child, swap)


def to_digital(model):
    """A copy of model with every analog layer back as nn.Linear / nn.Conv2d (trained weights)."""
    model = copy.deepcopy(model)

    def back(m):
        if isinstance(m, AnalogLinear):
            d = nn.Linear(m.in_features, m.out_features, bias=m.bias is not None, dtype=m.weight.dtype)
        elif isinstance(m, AnalogConv2d):
            d = nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, m.dilation,
                          bias=m.bias is not None, dtype=m.weight.dtype)
        else:
            return None
        with torch.no_grad():
            d.weight.copy_(m.weight)
            if m.bias is not None:
                d.bias.copy_(m.bias)
        return d

    top = back(model)
    if top is not None:
        return top
    convert_children(model, back)
    return model


@torch.no_grad()
def calibrate(model, x, batch_size=None):
    """Calibrate every analog layer on the batch x, layer by layer on the analog activations (as
    xb_exec_calibrate): the DAC full scale per layer (largest |input|), the ADC range per tile
    (largest |I+ - I-|, x adc_headroom), the per-column affine correction against the float layer
    on the same inputs.  Runs the model in eval mode (batch norm on running statistics, no
    dropout); batch_size is ignored (one batch: the ranges are maxima over all of it)."""
    layers = analog_layers(model)
    if not layers:
        raise ValueError("calibrate: the model has no analog layers (xbar.torch.convert first)")
    was = model.training
    model.eval()
    try:
        for m in layers:
            m._calibrating = True
        out = model(x)
    finally:
        for m in layers:
            m._calibrating = False
        model.train(was)
    return out


def program(model, seed=1):
    """Program every analog layer (programming error from the fitted sigma(G), drift exponents),
    seeded per layer; time reset to t0 = 20 s.  Calibrate afterwards, as the executor does."""
    for k, m in enumerate(analog_layers(model)):
        g = torch.Generator().manual_seed((int(seed) * 1000003 + k * 7919) % (2 ** 62))
        m.program(g)


def set_time(model, t_s, compensate=True, read_noise=False):
    """Every analog layer read t_s seconds after programming (docs/drift.md; the model file's
    fitted PCM drift and read-noise laws)."""
    for m in analog_layers(model):
        m.set_time(float(t_s), compensate=compensate, read_noise=read_noise)


def unprogram(model):
    for m in analog_layers(model):
        m.unprogram()
