#!/usr/bin/env python3
"""Write and read xbar network files (docs/hdf5-network.md) with numpy + h5py only.

A PyTorch user exports a model by passing its layers' weights (as numpy arrays, in
PyTorch layouts) to the layer helpers below, then calls write():

    import numpy as np, xbar_network as xn
    layers = [
        xn.conv2d(m.conv1.weight.detach().numpy(), m.conv1.bias.detach().numpy(), stride=1, padding=1),
        xn.relu(),
        xn.maxpool2d(2),
        xn.flatten(),
        xn.dense(m.fc.weight.detach().numpy(), m.fc.bias.detach().numpy()),
        xn.softmax(),
    ]
    xn.write("net.h5", (1, 28, 28), layers)

Batch norm must be folded into the preceding conv/dense first (fold_batchnorm()).
from_torch() converts an nn.Sequential of supported modules when torch is installed.
read() returns (input_shape, layers); forward() is a float64 numpy reference forward pass.

Command line:  xbar_network.py show FILE   prints the layers and their shapes.
"""
import sys

import h5py
import numpy as np

FORMAT = "xbar-network"
VERSION = 1
TYPES = ("dense", "conv2d", "maxpool2d", "avgpool2d", "relu", "flatten", "softmax")


# ---------------------------------------------------------------- layer helpers
def _f32(a, name, ndim):
    a = np.asarray(a, dtype=np.float32)
    if a.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dimensions, got shape {a.shape}")
    return a


def dense(weight, bias=None):
    """PyTorch Linear: weight [out, in], bias [out]."""
    w = _f32(weight, "dense weight", 2)
    b = None if bias is None else _f32(bias, "dense bias", 1)
    if b is not None and b.shape[0] != w.shape[0]:
        raise ValueError(f"dense: bias has {b.shape[0]} values, weight has {w.shape[0]} outputs")
    return {"type": "dense", "weight": w, "bias": b}


def conv2d(weight, bias=None, stride=1, padding=0):
    """PyTorch Conv2d: weight [out_c, in_c, kh, kw], bias [out_c]; square stride/padding."""
    w = _f32(weight, "conv2d weight", 4)
    b = None if bias is None else _f32(bias, "conv2d bias", 1)
    if b is not None and b.shape[0] != w.shape[0]:
        raise ValueError(f"conv2d: bias has {b.shape[0]} values, weight has {w.shape[0]} channels")
    return {"type": "conv2d", "weight": w, "bias": b, "stride": int(stride), "padding": int(padding)}


def maxpool2d(kernel, stride=None):
    return {"type": "maxpool2d", "kernel": int(kernel), "stride": int(kernel if stride is None else stride)}


def avgpool2d(kernel, stride=None):
    return {"type": "avgpool2d", "kernel": int(kernel), "stride": int(kernel if stride is None else stride)}


def relu():
    return {"type": "relu"}


def flatten():
    return {"type": "flatten"}


def softmax():
    return {"type": "softmax"}


def fold_batchnorm(weight, bias, gamma, beta, mean, var, eps=1e-5):
    """Fold an eval-mode BatchNorm after a conv/dense into its weight and bias."""
    w = np.asarray(weight, dtype=np.float64)
    b = np.zeros(w.shape[0]) if bias is None else np.asarray(bias, dtype=np.float64)
    s = np.asarray(gamma, dtype=np.float64) / np.sqrt(np.asarray(var, dtype=np.float64) + eps)
    w2 = w * s.reshape((-1,) + (1,) * (w.ndim - 1))
    b2 = (b - np.asarray(mean, dtype=np.float64)) * s + np.asarray(beta, dtype=np.float64)
    return w2.astype(np.float32), b2.astype(np.float32)


def from_torch(model):
    """Layers from a torch nn.Sequential (Linear, Conv2d, ReLU, MaxPool2d, AvgPool2d,
    Flatten, Softmax, BatchNorm1d/2d folded into the previous layer)."""
    import torch.nn as nn  # optional dependency

    def np_(t):
        return None if t is None else t.detach().cpu().numpy()

    def one(v):
        v = v if isinstance(v, (tuple, list)) else (v, v)
        if v[0] != v[1]:
            raise ValueError("only square kernels/strides/padding are supported")
        return int(v[0])

    layers = []
    for m in model:
        if isinstance(m, nn.Linear):
            layers.append(dense(np_(m.weight), np_(m.bias)))
        elif isinstance(m, nn.Conv2d):
            if m.groups != 1 or one(m.dilation) != 1:
                raise ValueError("grouped or dilated convolutions are not supported")
            layers.append(conv2d(np_(m.weight), np_(m.bias), one(m.stride), one(m.padding)))
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            prev = layers[-1]
            w, b = fold_batchnorm(prev["weight"], prev["bias"], np_(m.weight), np_(m.bias),
                                  np_(m.running_mean), np_(m.running_var), m.eps)
            prev["weight"], prev["bias"] = w, b
        elif isinstance(m, nn.ReLU):
            layers.append(relu())
        elif isinstance(m, nn.MaxPool2d):
            layers.append(maxpool2d(one(m.kernel_size), one(m.stride)))
        elif isinstance(m, nn.AvgPool2d):
            layers.append(avgpool2d(one(m.kernel_size), one(m.stride)))
        elif isinstance(m, nn.Flatten):
            layers.append(flatten())
        elif isinstance(m, nn.Softmax):
            layers.append(softmax())
        else:
            raise ValueError(f"unsupported module {type(m).__name__}")
    return layers


# ---------------------------------------------------------------- files
def write(path, input_shape, layers, compression="gzip"):
    """Write a network file. input_shape: (C, H, W) or (length,)."""
    shape = [int(s) for s in np.atleast_1d(input_shape)]
    if len(shape) not in (1, 3):
        raise ValueError("input_shape must be (length,) or (C, H, W)")
    with h5py.File(path, "w") as f:
        f.attrs["format"] = np.bytes_(FORMAT)
        f.attrs["version"] = np.int64(VERSION)
        f.attrs["input_shape"] = np.asarray(shape, dtype=np.int64)
        g = f.create_group("layers")
        for k, layer in enumerate(layers):
            t = layer["type"]
            if t not in TYPES:
                raise ValueError(f"layer {k}: unknown type {t!r}")
            lg = g.create_group(str(k))
            lg.attrs["type"] = np.bytes_(t)
            for name in ("weight", "bias"):
                if layer.get(name) is not None:
                    lg.create_dataset(name, data=np.asarray(layer[name], dtype=np.float32),
                                      compression=compression, shuffle=compression is not None)
            for name in ("stride", "padding", "kernel"):
                if name in layer:
                    lg.attrs[name] = np.int64(layer[name])


def _str(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def read(path):
    """(input_shape tuple, list of layer dicts) from a network file."""
    with h5py.File(path, "r") as f:
        if _str(f.attrs.get("format", "")) != FORMAT:
            raise ValueError(f"{path}: not an xbar network file")
        if int(f.attrs["version"]) != VERSION:
            raise ValueError(f"{path}: unsupported version {int(f.attrs['version'])}")
        shape = tuple(int(s) for s in np.atleast_1d(f.attrs["input_shape"]))
        layers = []
        for k in range(len(f["layers"])):
            g = f["layers"][str(k)]
            layer = {"type": _str(g.attrs["type"])}
            for name in ("weight", "bias"):
                if name in g:
                    layer[name] = g[name][()]
            for name in ("stride", "padding", "kernel"):
                if name in g.attrs:
                    layer[name] = int(g.attrs[name])
            layers.append(layer)
    return shape, layers


# ---------------------------------------------------------------- reference forward
def forward(input_shape, layers, x):
    """float64 forward pass of a batch x (N x prod(input_shape)); returns the outputs
    of every layer (list of arrays, N x ...)."""
    shape = tuple(input_shape)
    a = np.asarray(x, dtype=np.float64).reshape((-1,) + (shape if len(shape) == 3 else (shape[0],)))
    outs = []
    for layer in layers:
        t = layer["type"]
        if t == "dense":
            a = a.reshape(a.shape[0], -1) @ layer["weight"].astype(np.float64).T
            if layer.get("bias") is not None:
                a = a + layer["bias"]
        elif t == "conv2d":
            w = layer["weight"].astype(np.float64)
            s, p = layer.get("stride", 1), layer.get("padding", 0)
            n, c, h, wd = a.shape
            oc, _, kh, kw = w.shape
            ap = np.pad(a, ((0, 0), (0, 0), (p, p), (p, p)))
            oh, ow = (h + 2 * p - kh) // s + 1, (wd + 2 * p - kw) // s + 1
            out = np.zeros((n, oc, oh, ow))
            for y in range(oh):
                for xx in range(ow):
                    patch = ap[:, :, y * s:y * s + kh, xx * s:xx * s + kw]
                    out[:, :, y, xx] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3]))
            if layer.get("bias") is not None:
                out += layer["bias"].reshape(1, -1, 1, 1)
            a = out
        elif t in ("maxpool2d", "avgpool2d"):
            k, s = layer["kernel"], layer.get("stride", layer["kernel"])
            n, c, h, wd = a.shape
            oh, ow = (h - k) // s + 1, (wd - k) // s + 1
            out = np.zeros((n, c, oh, ow))
            for y in range(oh):
                for xx in range(ow):
                    win = a[:, :, y * s:y * s + k, xx * s:xx * s + k]
                    out[:, :, y, xx] = win.max(axis=(2, 3)) if t == "maxpool2d" else win.mean(axis=(2, 3))
            a = out
        elif t == "relu":
            a = np.maximum(a, 0)
        elif t == "flatten":
            a = a.reshape(a.shape[0], -1)
        elif t == "softmax":
            axis = 1
            e = np.exp(a - a.max(axis=axis, keepdims=True))
            a = e / e.sum(axis=axis, keepdims=True)
        else:
            raise ValueError(f"unknown layer type {t!r}")
        outs.append(a)
    return outs


def main(argv):
    if len(argv) == 3 and argv[1] == "show":
        shape, layers = read(argv[2])
        print(f"input_shape {shape}")
        for k, layer in enumerate(layers):
            extra = {n: layer[n] for n in ("stride", "padding", "kernel") if n in layer}
            w = layer.get("weight")
            print(f"{k}: {layer['type']}" + (f" weight {w.shape}" if w is not None else "")
                  + (f" {extra}" if extra else ""))
        return 0
    print("usage: xbar_network.py show FILE", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
