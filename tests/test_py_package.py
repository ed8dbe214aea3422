#!/usr/bin/env python3
"""ctest test_py_package: the Python package python/xbar and its command-line wrappers.

- `import xbar` (model reader, network writer, Fashion-MNIST reader) works without torch;
  `import xbar.torch` then fails with ImportError (torch is optional).
- tools/xbar_model.py and tools/xbar_network.py keep their command lines and module names.
- xbar.network.from_torch (torch.fx): a custom nn.Module with nested Sequentials, Dropout,
  BatchNorm2d/1d (folded), padding='same', AdaptiveAvgPool2d(7) on 14x14, F.relu,
  x.view(x.size(0), -1): the written file's layers through xbar.network.forward (numpy float64)
  equal the torch model in eval mode (1e-5), and `xbar run --engine ideal` (the C reader and
  forward pass) gives the torch model's top-1 on 300 test images; to_torch(read(...)) equals
  it too.
- Residual networks: a custom model with residual adds (from the input, across a block,
  `+=` and torch.add), batch norm after a ReLU and after an add (affine layers), a batch norm
  folded into a convolution whose output is also a skip (must not be folded: affine), in-place
  ReLUs, on 3-channel inputs: the numpy forward of the exported layers equals torch (1e-5),
  to_torch of them too and from_torch of that gives the same layers, and `xbar run --engine
  ideal --input X.npy --logits` (the C reader and forward pass with its add/affine layers)
  gives torch's outputs per image (1e-5).
- Unsupported models fail with one message naming the node: a projection shortcut (a branch
  with layers), concatenation, GELU, an in-place operation on a value used again, an adaptive
  pool that is not a plain pool.
- xbar.data.load_fmnist matches the C reader's image count and scaling (first image, via the
  network's ideal run above).

usage: test_py_package.py XBAR_EXE WORK_DIR
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import py_support as ps  # noqa: E402

xbar_exe, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)
check = ps.check
py = sys.executable
pydir = os.path.join(ps.ROOT, "python")

# ---------------------------------------------------------------- without torch
code = ("import sys; sys.modules['torch'] = None\n"
        "import xbar, xbar.model, xbar.network, xbar.data\n"
        "try:\n    import xbar.torch\n    print('IMPORTED')\nexcept ImportError:\n    print('NOTORCH')\n")
r = subprocess.run([py, "-c", code], capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=pydir))
print(f"import xbar without torch: exit {r.returncode}, {r.stdout.strip()}")
check(r.returncode == 0 and r.stdout.strip() == "NOTORCH", f"import xbar needs torch: {r.stderr.strip()[-300:]}")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import xbar  # noqa: E402
import xbar.network as xn  # noqa: E402

torch.set_num_threads(1)

# ---------------------------------------------------------------- tools wrappers
model_h5 = os.path.join(work, "m.h5")
ps.write_model(model_h5, [dict(device="rram", rows=4, cols=3, r_wire_ohm=2.0, knot_x=[0, 1],
                               knot_v0_volt=[0.25, 0.25])])
gp, vp = os.path.join(work, "G.csv"), os.path.join(work, "V.csv")
rng = np.random.default_rng(1)
G = rng.uniform(1e-6, 40e-6, (4, 3))
V = rng.uniform(0, 0.2, (2, 4))
np.savetxt(gp, G, delimiter=",", fmt="%.17g")
np.savetxt(vp, V, delimiter=",", fmt="%.17g")
r = subprocess.run([py, os.path.join(ps.ROOT, "tools", "xbar_model.py"), model_h5, "--g", gp, "--v", vp],
                   capture_output=True, text=True)
I_cli = np.array([[float(x) for x in ln.split(",")] for ln in r.stdout.splitlines() if ln])
I_pkg = xbar.model.select(xbar.model.load(model_h5), device="rram", rows=4, cols=3).mvm(G, V)
print(f"tools/xbar_model.py vs xbar.model: max diff {np.max(np.abs(I_cli - I_pkg)):.1e}")
check(r.returncode == 0 and I_cli.shape == (2, 3) and np.max(np.abs(I_cli - I_pkg)) == 0, "tools/xbar_model.py")
r = subprocess.run([py, os.path.join(ps.ROOT, "tools", "xbar_model.py"), gp, "--g", gp, "--v", vp],
                   capture_output=True, text=True)
check(r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "xbar_model.py:" in r.stderr,
      f"tools/xbar_model.py bad file: exit {r.returncode} {r.stderr.strip()!r}")
sys.path.insert(0, os.path.join(ps.ROOT, "tools"))
import xbar_model  # noqa: E402
import xbar_network  # noqa: E402
check(xbar_model.load is xbar.model.load and xbar_network.write is xn.write and xbar_network.from_torch is xn.from_torch,
      "tools shims do not expose the package's functions")


# ---------------------------------------------------------------- from_torch
class Block(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding="same")
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(Block(1, 4), nn.MaxPool2d(2),
                                      nn.Sequential(Block(4, 6), nn.Dropout2d(0.3)),
                                      nn.AdaptiveAvgPool2d(7))
        self.head = nn.Sequential(nn.Linear(6 * 7 * 7, 20), nn.BatchNorm1d(20), nn.ReLU(), nn.Dropout(0.5),
                                  nn.Linear(20, 10))

    def forward(self, x):
        x = self.features(x)
        x = x.view(x.size(0), -1)
        return self.head(x)


torch.manual_seed(0)
net = Net()
# a short training run (2000 images, one epoch): real batch-norm statistics, an accuracy that means something
xtr, ytr = xbar.data.load_fmnist(train=True, limit=2000)
opt = torch.optim.Adam(net.parameters(), lr=3e-3)
net.train()
for k in range(0, 2000, 50):
    xb_ = torch.from_numpy(xtr[k:k + 50]).reshape(-1, 1, 28, 28)
    loss = F.cross_entropy(net(xb_), torch.from_numpy(ytr[k:k + 50]))
    opt.zero_grad()
    loss.backward()
    opt.step()
net.eval()
layers = xn.from_torch(net, (1, 28, 28))
types = [la["type"] for la in layers]
print(f"from_torch: {types}")
check(types == ["conv2d", "relu", "maxpool2d", "conv2d", "relu", "avgpool2d", "flatten", "dense", "relu", "dense"],
      "from_torch layer list")
check(layers[0]["padding"] == 1 and layers[5]["kernel"] == 2, "padding='same' / adaptive pool kernel")
x, y = xbar.data.load_fmnist(limit=300)
xt_ = torch.from_numpy(x).reshape(-1, 1, 28, 28)
with torch.no_grad():
    ref = net(xt_).numpy()
out = xn.forward((1, 28, 28), layers, x)[-1]
rel = np.max(np.abs(out - ref)) / np.max(np.abs(ref))
print(f"from_torch: numpy forward of the exported layers vs torch eval: max rel {rel:.1e}")
check(rel <= 1e-5, "exported network differs from the torch model")
seq = xn.to_torch((1, 28, 28), layers)
with torch.no_grad():
    rel2 = float((seq(xt_) - net(xt_)).abs().max() / net(xt_).abs().max())
check(rel2 <= 1e-5, "to_torch of the exported layers differs from the model")
net_h5 = os.path.join(work, "net.h5")
xn.write(net_h5, (1, 28, 28), layers + [xn.softmax()])
shape2, layers2 = xn.read(net_h5)
check(shape2 == (1, 28, 28) and [la["type"] for la in layers2] == types + ["softmax"], "read back")
js = os.path.join(work, "run.json")
r = subprocess.run([xbar_exe, "run", "--network", net_h5, "--engine", "ideal", "--limit", "300", "--json", js],
                   capture_output=True, text=True)
check(r.returncode == 0, f"xbar run on the exported network: {r.stderr.strip()}")
acc_c = json.load(open(js))["accuracy"]
acc_t = float((ref.argmax(1) == y).mean())
print(f"from_torch: xbar run --engine ideal top-1 {100 * acc_c:.2f}% vs torch {100 * acc_t:.2f}% (300 images)")
# the same images right: the JSON keeps 6 decimals (217/300 = 0.723333), so compare counts
check(round(acc_c * len(y)) == round(acc_t * len(y)) and acc_t > 0.5,
      "the C forward pass disagrees with torch on the exported network")


# ---------------------------------------------------------------- residual networks
class ResBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.b1 = nn.BatchNorm2d(c)
        self.c2 = nn.Conv2d(c, c, 3, padding="same")
        self.b2 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        identity = x
        out = self.relu(self.b1(self.c1(x)))
        out = self.b2(self.c2(out))
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.stem_bn = nn.BatchNorm2d(4)         # the stem's output is also a skip: kept as affine
        self.blocks = nn.Sequential(ResBlock(4), nn.Sequential(ResBlock(4)))
        self.post_bn = nn.BatchNorm2d(4)         # after a ReLU: affine
        self.fc1 = nn.Linear(4 * 4 * 4, 16)
        self.bn1 = nn.BatchNorm1d(16)            # after an add: affine
        self.fc2 = nn.Linear(16, 16)
        self.fc3 = nn.Linear(16, 5)

    def forward(self, x):
        s = self.stem(x)
        h = torch.add(F.relu(self.stem_bn(s)), s)
        h = self.blocks(h)
        h = F.max_pool2d(self.post_bn(h), 2)
        h = torch.flatten(h, 1)
        a = F.relu(self.fc1(h))
        a = self.bn1(a + F.relu(self.fc2(a)))
        return self.fc3(a)


torch.manual_seed(3)
rnet = ResNet()
with torch.no_grad():  # non-trivial batch-norm statistics and affine parameters
    for m in rnet.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.uniform_(0.5, 1.5)
            m.bias.uniform_(-0.3, 0.3)
rnet.eval()
rl = xn.from_torch(rnet, (3, 8, 8))
rtypes = [la["type"] for la in rl]
print(f"from_torch (residual): {rtypes}")
check(rtypes == ["conv2d", "affine", "relu", "add",
                 "conv2d", "relu", "conv2d", "add", "relu",
                 "conv2d", "relu", "conv2d", "add", "relu",
                 "affine", "maxpool2d", "flatten", "dense", "relu", "dense", "relu", "add", "affine", "dense"],
      "from_torch layer list of the residual network")
check([la["source"] for la in rl if la["type"] == "add"] == [0, 3, 8, 18], "add sources")
xr = rng.uniform(-1, 1, (40, 3, 8, 8)).astype(np.float32)
with torch.no_grad():
    rref = rnet(torch.from_numpy(xr)).numpy()
rel = np.max(np.abs(xn.forward((3, 8, 8), rl, xr)[-1] - rref)) / np.max(np.abs(rref))
print(f"residual network: numpy forward of the exported layers vs torch: max rel {rel:.1e}")
check(rel <= 1e-5, "exported residual network differs from the torch model")
rt = xn.to_torch((3, 8, 8), rl).eval()
with torch.no_grad():
    rel_t = float(np.max(np.abs(rt(torch.from_numpy(xr)).numpy() - rref)) / np.max(np.abs(rref)))
rl2 = xn.from_torch(rt, (3, 8, 8))
same = [la["type"] for la in rl2] == rtypes and all(
    la.get("source") == lb.get("source") and all(np.array_equal(la.get(k), lb.get(k)) for k in ("weight", "bias")
                                                 if la.get(k) is not None) for la, lb in zip(rl, rl2))
print(f"residual network: to_torch vs torch {rel_t:.1e}; from_torch(to_torch) gives the same layers: {same}")
check(rel_t <= 1e-5 and same, "to_torch / from_torch round trip of the residual network")
res_h5 = os.path.join(work, "resnet.h5")
xn.write(res_h5, (3, 8, 8), rl)
check(xn.read(res_h5)[1][3]["source"] == 0, "add source read back")
xr_npy, lg = os.path.join(work, "xr.npy"), os.path.join(work, "resnet_logits.npy")
np.save(xr_npy, xr)
r = subprocess.run([xbar_exe, "run", "--network", res_h5, "--engine", "ideal", "--input", xr_npy, "--logits", lg],
                   capture_output=True, text=True)
check(r.returncode == 0, f"xbar run on the residual network: {r.stderr.strip()}")
rel_c = float(np.max(np.abs(np.load(lg) - rref)) / np.max(np.abs(rref)))
print(f"residual network: xbar run --engine ideal --input (3-channel) --logits vs torch: max rel {rel_c:.1e}")
check(rel_c <= 1e-5, "the C forward pass of the residual network differs from torch")


# ---------------------------------------------------------------- unsupported models name the node
class Projection(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)
        self.short = nn.Linear(4, 4)

    def forward(self, x):
        return self.b(F.relu(self.a(x))) + self.short(x)


class Cat(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)

    def forward(self, x):
        return torch.cat([self.a(x), x], 1)


class InPlace(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)

    def forward(self, x):
        h = self.a(x)
        y = F.relu(h, inplace=True)
        return y + h


bad = [(Projection(), None, "a branch with layers of its own"),
       (Cat(), None, "operation on two tensors"),
       (InPlace(), None, "in-place operation on 'a'"),
       (nn.Sequential(nn.Linear(3, 3), nn.GELU()), None, "GELU"),
       (nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveAvgPool2d(5)), (1, 9, 9), "not a plain square pool")]
for mdl, shp, needle in bad:
    try:
        xn.from_torch(mdl.eval(), shp)
        ps.fail(f"from_torch accepted a model with {needle}")
    except xn.UnsupportedModel as e:
        msg = str(e)
        print(f"from_torch refuses: {msg}")
        check(needle in msg and "\n" not in msg, f"message for {needle}: {msg}")
print("PASS")
