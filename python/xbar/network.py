"""Write and read xbar network files (docs/hdf5-network.md) with numpy + h5py only.

A PyTorch user exports a model by passing its layers' weights (as numpy arrays, in
PyTorch layouts) to the layer helpers below, then calls write():

    import numpy as np, xbar.network as xn
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
from_torch(model, input_shape) converts a PyTorch model (torch.fx tracing: custom modules,
nested Sequentials, Dropout dropped, BatchNorm folded) when torch is installed; to_torch()
builds the nn.Sequential of a network.  read() returns (input_shape, layers); forward() is a
float64 numpy reference forward pass.

Command line:  python3 -m xbar.network show FILE  (or tools/xbar_network.py show FILE)
prints the layers and their shapes.
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


class UnsupportedModel(ValueError):
    """from_torch met something the executor cannot run (one-line message naming the node)."""


def _pair(v, what, where):
    v = tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    if len(v) != 2 or v[0] != v[1]:
        raise UnsupportedModel(f"{where}: {what} {v}: only square values are supported (xbar network files "
                               "store one integer)")
    return int(v[0])


def _conv_padding(m, where):
    """Explicit symmetric zero padding of an nn.Conv2d (padding='same' with an odd kernel and
    stride 1 becomes (k-1)/2; 'valid' 0)."""
    if m.padding_mode != "zeros":
        raise UnsupportedModel(f"{where}: padding_mode '{m.padding_mode}': only zero padding is supported")
    if isinstance(m.padding, str):
        if m.padding == "valid":
            return 0
        k = _pair(m.kernel_size, "kernel", where)
        if k % 2 == 0:
            raise UnsupportedModel(f"{where}: padding='same' with the even kernel {k} pads asymmetrically; "
                                   "xbar network files store one symmetric padding")
        return (k - 1) // 2
    return _pair(m.padding, "padding", where)


def _bn_params(bn, where):
    if bn.running_mean is None or bn.running_var is None:
        raise UnsupportedModel(f"{where}: BatchNorm without running statistics (track_running_stats=False) "
                               "cannot be folded")
    gamma = bn.weight.detach().cpu().numpy() if bn.weight is not None else np.ones(bn.num_features)
    beta = bn.bias.detach().cpu().numpy() if bn.bias is not None else np.zeros(bn.num_features)
    return gamma, beta, bn.running_mean.detach().cpu().numpy(), bn.running_var.detach().cpu().numpy(), bn.eps


def from_torch(model, input_shape=None):
    """Layers (for write()) from a PyTorch module, traced with torch.fx: custom nn.Module
    classes, nested nn.Sequential and functional calls (F.relu, torch.flatten, x.view(n, -1),
    F.max_pool2d, ...) are followed through.  Dropout and Identity are dropped; BatchNorm1d/2d
    right after a Linear/Conv2d is folded into it (eval-mode running statistics); padding='same'
    (odd kernel, stride 1) becomes explicit padding; AdaptiveAvgPool2d/AdaptiveMaxPool2d become
    a plain pool when the input size divides into the output size (needs input_shape, (C, H, W)
    or (n,)).  The model must be a chain: a residual add, a branch, a batch norm that does not
    directly follow a weighted layer, or any other module is an UnsupportedModel error naming
    the node (the executor's layer types: docs/hdf5-network.md)."""
    import operator

    import torch
    import torch.fx
    import torch.nn as nn
    import torch.nn.functional as F

    try:
        gm = torch.fx.symbolic_trace(model)
    except Exception as e:  # tracing failures (data-dependent control flow, ...)
        raise UnsupportedModel(f"torch.fx cannot trace {type(model).__name__}: {e.__class__.__name__}: "
                               f"{str(e).splitlines()[0] if str(e) else ''}")
    mods = dict(gm.named_modules())
    shapes = {}
    if input_shape is not None:
        from torch.fx.passes.shape_prop import ShapeProp
        was = model.training
        model.eval()
        try:
            p = next(iter(model.parameters()), None)
            x = torch.zeros((1,) + tuple(int(s) for s in input_shape),
                            dtype=p.dtype if p is not None else torch.float32)
            ShapeProp(gm).propagate(x)
        finally:
            model.train(was)
        for n in gm.graph.nodes:
            tm = n.meta.get("tensor_meta")
            if tm is not None and hasattr(tm, "shape"):
                shapes[n] = tuple(tm.shape)

    def np_(t):
        return None if t is None else t.detach().cpu().numpy()

    layers = []
    produced_by = {}  # fx node -> index of the weighted layer whose output it is (batch-norm folding)
    current = None    # the node whose value is the output of `layers` so far
    tensor_nodes = set()

    def where_of(node):
        if node.op == "call_module":
            return f"module '{node.target}' ({type(mods[node.target]).__name__})"
        if node.op == "call_function":
            return f"node '{node.name}' ({getattr(node.target, '__name__', str(node.target))})"
        return f"node '{node.name}' ({node.op} {node.target})"

    def tensor_args(node):
        return [a for a in list(node.args) + list(node.kwargs.values())
                if isinstance(a, torch.fx.Node) and a in tensor_nodes]

    def take(node):
        """The chain check: node's tensor input must be the current output."""
        ta = tensor_args(node)
        if len(ta) > 1:
            kind = "residual add" if node.target in (operator.add, torch.add, operator.iadd) or \
                node.target == "add" else "operation on two tensors"
            raise UnsupportedModel(f"{where_of(node)}: {kind} of {', '.join(a.name for a in ta)}: the executor "
                                   "runs a chain of layers (no add/concat layer)")
        if not ta or ta[0] is not current:
            raise UnsupportedModel(f"{where_of(node)}: takes '{ta[0].name if ta else '?'}' but the chain's "
                                   f"current output is '{current.name}' (branching models are not supported)")
        if len([u for u in current.users if not (u.op == "call_method" and u.target == "size")]) > 1:
            for n2 in gm.graph.nodes:  # name the join when there is one (a residual connection)
                if (n2.target in (operator.add, torch.add, operator.iadd, "add", "add_", torch.cat)) and \
                        len([a for a in n2.args if isinstance(a, torch.fx.Node)]) > 1:
                    raise UnsupportedModel(f"{where_of(n2)}: residual add (joins the output of '{current.name}' "
                                           "with a later layer's): the executor runs a chain of layers (no add "
                                           "layer)")
            raise UnsupportedModel(f"{where_of(node)}: the output of '{current.name}' feeds several layers "
                                   "(a branch): the executor runs a chain")

    def pool(kind, kernel, stride, where):
        k = _pair(kernel, "kernel", where)
        s = k if stride is None or stride == [] or stride == () else _pair(stride, "stride", where)
        return maxpool2d(k, s) if kind == "max" else avgpool2d(k, s)

    def adaptive(kind, out_size, node, where):
        if node.args[0] not in shapes:
            raise UnsupportedModel(f"{where}: adaptive pooling needs the input size: pass "
                                   "input_shape=(C, H, W) to from_torch")
        h, w = shapes[node.args[0]][-2:]
        o = out_size if isinstance(out_size, (tuple, list)) else (out_size, out_size)
        oh = h if o[0] is None else int(o[0])
        ow = w if o[1] is None else int(o[1])
        if h % oh or w % ow or h // oh != w // ow:
            raise UnsupportedModel(f"{where}: adaptive pool {h}x{w} -> {oh}x{ow} is not a plain square pool "
                                   "(sizes must divide, equal kernels)")
        k = h // oh
        return None if k == 1 else (maxpool2d(k, k) if kind == "max" else avgpool2d(k, k))

    def is_flatten_shape(node):
        if node in shapes and node.args[0] in shapes:
            return len(shapes[node]) == 2 and shapes[node][0] == shapes[node.args[0]][0]
        a = [x for x in node.args[1:]]
        if len(a) == 1 and isinstance(a[0], (tuple, list)):
            a = list(a[0])
        return len(a) == 2 and a[1] == -1

    def add(layer, node, weighted=False):
        if layer is not None:
            layers.append(layer)
            if weighted:
                produced_by[node] = len(layers) - 1

    def fold(node, bn, where):
        src = node.args[0]
        if src not in produced_by or produced_by[src] != len(layers) - 1:
            raise UnsupportedModel(f"{where}: batch norm not directly after a Linear/Conv2d cannot be folded; "
                                   "the executor has no affine (batch-norm) layer")
        prev = layers[-1]
        gamma, beta, mean, var, eps = _bn_params(bn, where)
        prev["weight"], prev["bias"] = fold_batchnorm(prev["weight"], prev["bias"], gamma, beta, mean, var, eps)
        produced_by[node] = len(layers) - 1

    skip_fns = {F.dropout, F.dropout2d, F.alpha_dropout}
    relu_fns = {F.relu, torch.relu}
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            if current is not None:
                raise UnsupportedModel(f"{where_of(node)}: a second input: the executor takes one input")
            current = node
            tensor_nodes.add(node)
            continue
        if node.op == "output":
            out = node.args[0]
            if out is not current:
                raise UnsupportedModel(f"{where_of(node)}: the model's output is not the end of its chain of layers")
            continue
        if node.op == "get_attr":
            raise UnsupportedModel(f"{where_of(node)}: a parameter used outside a module (functional layer with "
                                   "its own weights) is not supported")
        if node.op == "call_method" and node.target == "size":
            continue  # shape arithmetic for view/reshape
        if node.op == "call_function" and node.target is operator.getitem and \
                not (isinstance(node.args[0], torch.fx.Node) and node.args[0] in tensor_nodes):
            continue
        where = where_of(node)
        take(node)
        layer, weighted = None, False
        if node.op == "call_module":
            m = mods[node.target]
            if isinstance(m, nn.Linear):
                layer, weighted = dense(np_(m.weight), np_(m.bias)), True
            elif isinstance(m, nn.Conv2d):
                if m.groups != 1 or _pair(m.dilation, "dilation", where) != 1:
                    raise UnsupportedModel(f"{where}: grouped or dilated convolutions are not supported")
                layer, weighted = conv2d(np_(m.weight), np_(m.bias), _pair(m.stride, "stride", where),
                                         _conv_padding(m, where)), True
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                fold(node, m, where)
                current = node
                tensor_nodes.add(node)
                continue
            elif isinstance(m, nn.ReLU):
                layer = relu()
            elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
                if _pair(m.padding, "padding", where) != 0 or m.ceil_mode or \
                        (isinstance(m, nn.MaxPool2d) and _pair(m.dilation, "dilation", where) != 1) or \
                        (isinstance(m, nn.AvgPool2d) and m.divisor_override is not None):
                    raise UnsupportedModel(f"{where}: pools with padding, ceil_mode, dilation or divisor_override "
                                           "are not supported")
                layer = pool("max" if isinstance(m, nn.MaxPool2d) else "avg", m.kernel_size, m.stride, where)
            elif isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
                layer = adaptive("avg" if isinstance(m, nn.AdaptiveAvgPool2d) else "max", m.output_size, node, where)
            elif isinstance(m, nn.Flatten):
                if m.start_dim != 1 or m.end_dim != -1:
                    raise UnsupportedModel(f"{where}: only Flatten(start_dim=1, end_dim=-1) is supported")
                layer = flatten()
            elif isinstance(m, nn.Softmax):
                if m.dim not in (1, -1, None):
                    raise UnsupportedModel(f"{where}: softmax over dim {m.dim}: only over the features (dim 1)")
                layer = softmax()
            elif isinstance(m, (nn.Dropout, nn.Dropout2d, nn.AlphaDropout, nn.Identity)):
                layer = None
            else:
                raise UnsupportedModel(f"{where}: unsupported module (xbar layers: Linear, Conv2d, ReLU, MaxPool2d, "
                                       "AvgPool2d, AdaptiveAvg/MaxPool2d to a plain pool, Flatten, Softmax; "
                                       "BatchNorm folded, Dropout dropped)")
        elif node.op == "call_function":
            t = node.target
            if t in relu_fns:
                layer = relu()
            elif t in skip_fns:
                layer = None
            elif t is torch.flatten:
                sd = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
                ed = node.args[2] if len(node.args) > 2 else node.kwargs.get("end_dim", -1)
                if sd != 1 or ed != -1:
                    raise UnsupportedModel(f"{where}: only torch.flatten(x, 1) is supported")
                layer = flatten()
            elif t in (F.max_pool2d, F.avg_pool2d):
                a = list(node.args[1:]) + [None] * 3
                k = node.kwargs.get("kernel_size", a[0])
                s = node.kwargs.get("stride", a[1])
                pd = node.kwargs.get("padding", a[2] if a[2] is not None else 0)
                if _pair(pd, "padding", where) != 0 or node.kwargs.get("ceil_mode", False):
                    raise UnsupportedModel(f"{where}: pools with padding or ceil_mode are not supported")
                layer = pool("max" if t is F.max_pool2d else "avg", k, s, where)
            elif t in (F.adaptive_avg_pool2d, F.adaptive_max_pool2d):
                o = node.args[1] if len(node.args) > 1 else node.kwargs["output_size"]
                layer = adaptive("avg" if t is F.adaptive_avg_pool2d else "max", o, node, where)
            elif t in (F.softmax, torch.softmax):
                d = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", None)
                if d not in (1, -1, None):
                    raise UnsupportedModel(f"{where}: softmax over dim {d}: only over the features (dim 1)")
                layer = softmax()
            else:
                raise UnsupportedModel(f"{where}: unsupported function (xbar layers: docs/hdf5-network.md)")
        elif node.op == "call_method":
            t = node.target
            if t in ("relu", "relu_"):
                layer = relu()
            elif t in ("view", "reshape", "flatten"):
                if t == "flatten":
                    sd = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
                    if sd != 1:
                        raise UnsupportedModel(f"{where}: only x.flatten(1) is supported")
                elif not is_flatten_shape(node):
                    raise UnsupportedModel(f"{where}: {t} other than a flatten to (batch, -1) is not supported")
                layer = flatten()
            elif t == "softmax":
                layer = softmax()
            elif t == "contiguous":
                layer = None
            else:
                raise UnsupportedModel(f"{where}: unsupported tensor method '{t}'")
        add(layer, node, weighted)
        current = node
        tensor_nodes.add(node)
    # consecutive flattens are one
    out = []
    for layer in layers:
        if layer["type"] == "flatten" and out and out[-1]["type"] == "flatten":
            continue
        out.append(layer)
    return out


def to_torch(input_shape, layers):
    """A torch nn.Sequential computing the network (float32), e.g. from read(path).  Weights
    are copied; the inverse of from_torch for the layer types of docs/hdf5-network.md."""
    import torch
    import torch.nn as nn

    mods = []
    for k, layer in enumerate(layers):
        t = layer["type"]
        if t == "dense":
            w = np.asarray(layer["weight"], dtype=np.float32)
            m = nn.Linear(w.shape[1], w.shape[0], bias=layer.get("bias") is not None)
        elif t == "conv2d":
            w = np.asarray(layer["weight"], dtype=np.float32)
            m = nn.Conv2d(w.shape[1], w.shape[0], (w.shape[2], w.shape[3]), stride=layer.get("stride", 1),
                          padding=layer.get("padding", 0), bias=layer.get("bias") is not None)
        elif t == "maxpool2d":
            m = nn.MaxPool2d(layer["kernel"], layer.get("stride", layer["kernel"]))
        elif t == "avgpool2d":
            m = nn.AvgPool2d(layer["kernel"], layer.get("stride", layer["kernel"]))
        elif t == "relu":
            m = nn.ReLU()
        elif t == "flatten":
            m = nn.Flatten()
        elif t == "softmax":
            m = nn.Softmax(dim=1)
        else:
            raise ValueError(f"layer {k}: unknown type {t!r}")
        if t in ("dense", "conv2d"):
            with torch.no_grad():
                m.weight.copy_(torch.from_numpy(w))
                if layer.get("bias") is not None:
                    m.bias.copy_(torch.from_numpy(np.asarray(layer["bias"], dtype=np.float32)))
        mods.append(m)
    if len(tuple(input_shape)) == 1 and mods and isinstance(mods[0], nn.Conv2d):
        raise ValueError("a vector input_shape cannot feed a conv2d layer")
    return nn.Sequential(*mods)


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
