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

Batch norm after a conv/dense is folded into it (fold_batchnorm()); elsewhere it is an
affine layer (affine(), per-channel scale and shift).  A residual connection is an add layer
(add(source): the output of an earlier layer added to the current one).
from_torch(model, input_shape) converts a PyTorch model (torch.fx tracing: custom modules,
nested Sequentials, Dropout dropped, BatchNorm folded or kept as affine, residual adds) when
torch is installed; to_torch() builds the torch module of a network (an nn.Sequential when it
is a plain chain).  read() returns (input_shape, layers); forward() is a
float64 numpy reference forward pass.

Command line:  python3 -m xbar.network show FILE  (or tools/xbar_network.py show FILE)
prints the layers and their shapes.
"""
import sys

import h5py
import numpy as np

FORMAT = "xbar-network"
VERSION = 1
TYPES = ("dense", "conv2d", "maxpool2d", "avgpool2d", "relu", "flatten", "softmax", "affine", "add")


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


def affine(scale, shift=None):
    """Per-channel y = scale[c] x + shift[c] (a vector input: per element); e.g. a batch norm
    that does not follow a conv/dense (batchnorm_affine())."""
    a = _f32(scale, "affine scale", 1)
    b = np.zeros_like(a) if shift is None else _f32(shift, "affine shift", 1)
    if b.shape != a.shape:
        raise ValueError(f"affine: shift has {b.shape[0]} values, scale has {a.shape[0]}")
    return {"type": "affine", "weight": a, "bias": b}


def add(source):
    """Residual add: the output of layer `source` (an earlier index; -1: the network input)
    added to the current output (same shape)."""
    return {"type": "add", "source": int(source)}


def batchnorm_affine(gamma, beta, mean, var, eps=1e-5):
    """An eval-mode BatchNorm as an affine layer: scale = gamma/sqrt(var + eps), shift =
    beta - mean scale."""
    s = np.asarray(gamma, dtype=np.float64) / np.sqrt(np.asarray(var, dtype=np.float64) + eps)
    return affine(s, np.asarray(beta, dtype=np.float64) - np.asarray(mean, dtype=np.float64) * s)


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
    right after a Linear/Conv2d is folded into it (eval-mode running statistics), elsewhere it
    becomes an affine layer; padding='same' (odd kernel, stride 1) becomes explicit padding;
    AdaptiveAvgPool2d/AdaptiveMaxPool2d become a plain pool when the input size divides into
    the output size (needs input_shape, (C, H, W) or (n,)).  The model must be a chain of
    layers with residual connections: `x + skip` (operator.add, torch.add, +=) where one
    operand is the chain's current output and the other an earlier point of the chain (or the
    input) becomes an add layer.  A branch with layers of its own (a projection shortcut, two
    paths), any other join (concatenation, products), an in-place operation on a value that is
    used again, or any other module is an UnsupportedModel error naming the node (the
    executor's layer types: docs/hdf5-network.md)."""
    import operator

    import torch
    import torch.fx
    import torch.nn as nn
    import torch.nn.functional as F

    affine_cls = torch_classes()["Affine"]

    class Tracer(torch.fx.Tracer):
        def is_leaf_module(self, m, qualname):  # to_torch's Affine is a layer, not traced into
            return isinstance(m, affine_cls) or super().is_leaf_module(m, qualname)

    try:
        gm = torch.fx.GraphModule(model, Tracer().trace(model))
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
    node_index = {}   # fx node -> index of the layer whose output is its value (-1: the input)
    current = None    # the node whose value is the output of `layers` so far
    tensor_nodes = set()
    add_fns = (operator.add, torch.add, operator.iadd)

    def users(node):
        return [u for u in node.users if not (u.op == "call_method" and u.target == "size")]

    def is_add(node):
        return (node.op == "call_function" and node.target in add_fns) or \
            (node.op == "call_method" and node.target in ("add", "add_"))

    def inplace(node):
        if node.op == "call_method":
            return node.target.endswith("_")
        if node.op == "call_function":
            return node.target is operator.iadd or bool(node.kwargs.get("inplace", False))
        return node.op == "call_module" and bool(getattr(mods[node.target], "inplace", False))

    def where_of(node):
        if node.op == "call_module":
            return f"module '{node.target}' ({type(mods[node.target]).__name__})"
        if node.op == "call_function":
            return f"node '{node.name}' ({getattr(node.target, '__name__', str(node.target))})"
        return f"node '{node.name}' ({node.op} {node.target})"

    def tensor_args(node):
        flat = []
        for a in list(node.args) + list(node.kwargs.values()):
            flat.extend(a if isinstance(a, (list, tuple)) else [a])  # torch.cat([a, b]), ...
        return [a for a in flat if isinstance(a, torch.fx.Node) and a in tensor_nodes]

    def take(node):
        """The chain check: node's tensor input must be the current output (every node is a
        step of the chain, so a value used twice is either a residual add's skip, checked
        there, or a branch that fails here)."""
        ta = tensor_args(node)
        if len(ta) > 1:
            raise UnsupportedModel(f"{where_of(node)}: operation on two tensors ({', '.join(a.name for a in ta)}): "
                                   "the executor joins values only by a residual add")
        if not ta or ta[0] is not current:
            raise UnsupportedModel(f"{where_of(node)}: takes '{ta[0].name if ta else '?'}' but the chain's "
                                   f"current output is '{current.name}' (a branch with layers of its own, e.g. a "
                                   "projection shortcut, is not supported)")
        if inplace(node) and len(users(current)) > 1:
            raise UnsupportedModel(f"{where_of(node)}: in-place operation on '{current.name}', which is used again "
                                   "(a residual's skip would see the changed value)")

    def residual(node):
        """x + skip: one operand the current output, the other an earlier point of the chain."""
        ta = [a for a in node.args[:2] if isinstance(a, torch.fx.Node)]
        alpha = node.kwargs.get("alpha", node.args[2] if len(node.args) > 2 else 1)
        if len(ta) != 2 or any(a not in tensor_nodes for a in ta) or alpha != 1:
            raise UnsupportedModel(f"{where_of(node)}: only the sum of two tensors (a residual add) is supported")
        if ta[0] is current:
            other = ta[1]
        elif ta[1] is current:
            other = ta[0]
        else:
            raise UnsupportedModel(f"{where_of(node)}: adds '{ta[0].name}' and '{ta[1].name}', neither of them the "
                                   f"chain's current output '{current.name}' (a branch with layers of its own)")
        if other not in node_index:
            raise UnsupportedModel(f"{where_of(node)}: '{other.name}' is not a point of the chain")
        if other in shapes and current in shapes and shapes[other] != shapes[current]:
            raise UnsupportedModel(f"{where_of(node)}: adds shapes {shapes[current][1:]} and {shapes[other][1:]}: "
                                   "only equal shapes (no broadcasting)")
        if inplace(node) and len(users(current)) > 1:
            raise UnsupportedModel(f"{where_of(node)}: in-place add into '{current.name}', which is used again")
        return add(node_index[other])

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

    def push(layer, node, weighted=False):
        if layer is not None and not (layer["type"] == "flatten" and layers and layers[-1]["type"] == "flatten"
                                      and node_index[current] == len(layers) - 1):
            layers.append(layer)  # (consecutive flattens are one)
            if weighted:
                produced_by[node] = len(layers) - 1

    def batchnorm(node, bn, where):
        """Folded into the Linear/Conv2d it directly follows when that layer's output is not used
        elsewhere (a skip would lose the unnormalized value); else an affine layer."""
        src = node.args[0]
        gamma, beta, mean, var, eps = _bn_params(bn, where)
        if src in produced_by and produced_by[src] == len(layers) - 1 and len(users(src)) == 1:
            prev = layers[-1]
            prev["weight"], prev["bias"] = fold_batchnorm(prev["weight"], prev["bias"], gamma, beta, mean, var, eps)
            produced_by[node] = len(layers) - 1
            return None
        return batchnorm_affine(gamma, beta, mean, var, eps)

    skip_fns = {F.dropout, F.dropout2d, F.alpha_dropout}
    relu_fns = {F.relu, torch.relu}
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            if current is not None:
                raise UnsupportedModel(f"{where_of(node)}: a second input: the executor takes one input")
            current = node
            tensor_nodes.add(node)
            node_index[node] = -1
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
        layer, weighted = None, False
        if is_add(node):
            layer = residual(node)
        else:
            take(node)
        if layer is not None:
            pass
        elif node.op == "call_module":
            m = mods[node.target]
            if isinstance(m, nn.Linear):
                layer, weighted = dense(np_(m.weight), np_(m.bias)), True
            elif isinstance(m, nn.Conv2d):
                if m.groups != 1 or _pair(m.dilation, "dilation", where) != 1:
                    raise UnsupportedModel(f"{where}: grouped or dilated convolutions are not supported")
                layer, weighted = conv2d(np_(m.weight), np_(m.bias), _pair(m.stride, "stride", where),
                                         _conv_padding(m, where)), True
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                layer = batchnorm(node, m, where)
            elif isinstance(m, affine_cls):
                layer = affine(m.scale.detach().cpu().numpy(), m.shift.detach().cpu().numpy())
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
                                       "AvgPool2d, AdaptiveAvg/MaxPool2d to a plain pool, Flatten, Softmax, "
                                       "BatchNorm (folded or affine), residual add; Dropout dropped)")
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
        push(layer, node, weighted)
        current = node
        tensor_nodes.add(node)
        node_index[node] = len(layers) - 1
    return layers


_TORCH_CLASSES = {}


def torch_classes():
    """The torch modules to_torch builds beyond torch's own (made on first use: torch is
    optional): Affine (per-channel scale and shift) and Network (a chain of layers with
    residual adds)."""
    if _TORCH_CLASSES:
        return _TORCH_CLASSES
    import torch
    import torch.nn as nn

    class Affine(nn.Module):
        """y = scale[c] x + shift[c] over dim 1 (channels of an (N, C, H, W) input when
        spatial, else the features of an (N, n) input)."""

        def __init__(self, scale, shift, spatial):
            super().__init__()
            self.register_buffer("scale", torch.as_tensor(np.asarray(scale, dtype=np.float32)))
            self.register_buffer("shift", torch.as_tensor(np.asarray(shift, dtype=np.float32)))
            self.spatial = bool(spatial)

        def forward(self, x):
            view = (1, -1, 1, 1) if self.spatial else (1, -1)
            return x * self.scale.view(view) + self.shift.view(view)

        def extra_repr(self):
            return f"{self.scale.numel()}, spatial={self.spatial}"

    class Network(nn.Module):
        """The layers of a network file in order; sources[k] is not None for an add layer:
        the index of the layer whose output it adds (-1: the input)."""

        def __init__(self, mods, sources):
            super().__init__()
            self.layers = nn.ModuleList(mods)
            self.sources = list(sources)

        def forward(self, x):
            x_in, outs = x, []
            for m, src in zip(self.layers, self.sources):
                x = m(x) if src is None else x + (x_in if src < 0 else outs[src])
                outs.append(x)
            return x

    _TORCH_CLASSES.update(Affine=Affine, Network=Network)
    return _TORCH_CLASSES


def to_torch(input_shape, layers):
    """A torch module computing the network (float32), e.g. from read(path): an nn.Sequential
    for a chain, a Network (torch_classes()) when it has residual adds.  Weights are copied;
    the inverse of from_torch for the layer types of docs/hdf5-network.md."""
    import torch
    import torch.nn as nn

    mods, sources = [], []
    spatial = len(tuple(input_shape)) == 3
    for k, layer in enumerate(layers):
        t = layer["type"]
        src = None
        if t == "dense":
            w = np.asarray(layer["weight"], dtype=np.float32)
            m = nn.Linear(w.shape[1], w.shape[0], bias=layer.get("bias") is not None)
            spatial = False
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
            spatial = False
        elif t == "softmax":
            m = nn.Softmax(dim=1)
        elif t == "affine":
            m = torch_classes()["Affine"](layer["weight"], layer["bias"], spatial)
        elif t == "add":
            src = int(layer["source"])
            if not -1 <= src < k:
                raise ValueError(f"layer {k} (add): source {src} is not an earlier layer")
            m = nn.Identity()
        else:
            raise ValueError(f"layer {k}: unknown type {t!r}")
        if t in ("dense", "conv2d"):
            with torch.no_grad():
                m.weight.copy_(torch.from_numpy(w))
                if layer.get("bias") is not None:
                    m.bias.copy_(torch.from_numpy(np.asarray(layer["bias"], dtype=np.float32)))
        mods.append(m)
        sources.append(src)
    if len(tuple(input_shape)) == 1 and mods and isinstance(mods[0], nn.Conv2d):
        raise ValueError("a vector input_shape cannot feed a conv2d layer")
    if all(src is None for src in sources):
        return nn.Sequential(*mods)
    return torch_classes()["Network"](mods, sources)


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
            for name in ("stride", "padding", "kernel", "source"):
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
            for name in ("stride", "padding", "kernel", "source"):
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
    x0 = a
    outs = []
    for k, layer in enumerate(layers):
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
        elif t == "affine":
            view = (1, -1) + (1,) * (a.ndim - 2)
            a = a * layer["weight"].astype(np.float64).reshape(view) + layer["bias"].astype(np.float64).reshape(view)
        elif t == "add":
            src = layer["source"]
            if not -1 <= src < k:
                raise ValueError(f"layer {k} (add): source {src} is not an earlier layer")
            other = x0 if src < 0 else outs[src]
            if other.shape != a.shape:
                raise ValueError(f"layer {k} (add): source {src} has shape {other.shape[1:]}, the input {a.shape[1:]}")
            a = a + other
        else:
            raise ValueError(f"unknown layer type {t!r}")
        outs.append(a)
    return outs


def main(argv):
    if len(argv) == 3 and argv[1] == "show":
        shape, layers = read(argv[2])
        print(f"input_shape {shape}")
        for k, layer in enumerate(layers):
            extra = {n: layer[n] for n in ("stride", "padding", "kernel", "source") if n in layer}
            w = layer.get("weight")
            print(f"{k}: {layer['type']}" + (f" weight {w.shape}" if w is not None else "")
                  + (f" {extra}" if extra else ""))
        return 0
    print("usage: xbar_network.py show FILE", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
