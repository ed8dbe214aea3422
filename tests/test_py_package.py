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
  it too.  Unsupported models fail with one message naming the node: residual add, GELU,
  batch norm after a ReLU, an adaptive pool that is not a plain pool.
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
check(abs(acc_c - acc_t) < 1e-9 and acc_t > 0.5, "the C forward pass disagrees with torch on the exported network")


# ---------------------------------------------------------------- unsupported models name the node
class Res(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)

    def forward(self, x):
        h = self.a(x)
        return self.b(h) + h


bad = [(Res(), None, "residual add"),
       (nn.Sequential(nn.Linear(3, 3), nn.GELU()), None, "GELU"),
       (nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.BatchNorm1d(3)), None, "batch norm not directly after"),
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
