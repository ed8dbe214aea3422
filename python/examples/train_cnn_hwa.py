#!/usr/bin/env python3
"""Hardware-aware training of a user-defined CNN (BatchNorm, Dropout) with xbar.torch, on a
Fashion-MNIST subset, and its accuracy on the fitted crossbar model with and without that
training (docs/interop.md, "Hardware-aware training").

    /usr/bin/python3 python/examples/train_cnn_hwa.py --model MODEL.h5 --device rram
        [--tile 32] [--train 6000] [--test 2000] [--epochs 4] [--hwa-epochs 2] [--seeds 3]

1. The CNN is trained in float (Adam, cross-entropy), --epochs; then one copy continues in
   float for --hwa-epochs (the plain network),
2. another copy is converted with xbar.torch.convert and trained --hwa-epochs in training mode: every
   minibatch samples programming error from the model file's fitted sigma(G), runs the tiles
   through the fitted model (IR drop, read nonlinearity; the fast form, gradients through it),
   8-bit DAC/ADC with straight-through gradients, calibrated on the minibatch itself; batch
   norm and dropout stay ordinary torch layers.
3. Both networks are then deployed as the executor would run them: batch norm folded and
   dropout dropped (xbar.network.from_torch / to_torch), converted, programmed (--seeds
   programmings), calibrated on 256 training images, evaluated on the test subset.

Needs a model file with a programming-error fit (/stats/sigma_program), e.g. from
`xbar characterize characterize/variability.ini -o var.h5 && xbar fit var.h5 -o var-model.h5`.
"""
import argparse
import copy
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import xbar  # noqa: E402
import xbar.network as xn  # noqa: E402
import xbar.torch as xt  # noqa: E402


class Net(nn.Module):
    """A user-defined CNN: conv-BN-ReLU-pool twice, dropout, a dense classifier."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding="same")
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, padding="same")
        self.bn2 = nn.BatchNorm2d(16)
        self.drop = nn.Dropout(0.25)
        self.fc = nn.Linear(16 * 7 * 7, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return self.fc(self.drop(torch.flatten(x, 1)))


def train(model, x, y, epochs, lr, batch, seed, log):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for ep in range(epochs):
        t0 = time.time()
        perm = torch.randperm(x.shape[0], generator=g)
        tot = 0.0
        for k in range(0, x.shape[0], batch):
            idx = perm[k:k + batch]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += float(loss) * idx.numel()
        log(f"  epoch {ep + 1}: loss {tot / x.shape[0]:.4f} ({time.time() - t0:.0f} s)")
    model.eval()
    return model


@torch.no_grad()
def accuracy(model, x, y):
    return float((model(x).argmax(1) == y).float().mean())


def deploy(model, a, xc, seed):
    """The network as the executor runs it (batch norm folded, dropout dropped) on the fitted
    crossbar: converted, programmed with seed, calibrated on xc."""
    folded = xn.to_torch((1, 28, 28), xn.from_torch(model.eval(), (1, 28, 28)))
    analog = xt.convert(folded, a.model, device=a.device, tile=a.tile, dac_bits=8, adc_bits=8)
    xt.program(analog, seed=seed)
    xt.calibrate(analog, xc)
    return analog.eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--device", default="rram")
    ap.add_argument("--tile", type=int, default=32)
    ap.add_argument("--train", type=int, default=6000)
    ap.add_argument("--test", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--hwa-epochs", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)

    def log(s):
        print(s, flush=True)

    xtr, ytr = xbar.data.load_fmnist(train=True, limit=a.train)
    xte, yte = xbar.data.load_fmnist(limit=a.test)
    xtr = torch.from_numpy(xtr).reshape(-1, 1, 28, 28)
    xte = torch.from_numpy(xte).reshape(-1, 1, 28, 28)
    ytr, yte = torch.from_numpy(ytr), torch.from_numpy(yte)
    xc = xtr[:256]

    log(f"float training: {a.train} images, {a.epochs} epochs")
    base = train(Net(), xtr, ytr, a.epochs, 2e-3, 64, 1, log)
    log(f"plain: {a.hwa_epochs} more float epochs (the same training budget as the hardware-aware copy)")
    plain = train(copy.deepcopy(base), xtr, ytr, a.hwa_epochs, 1e-3, 64, 2, log)
    hwa = xt.convert(base, a.model, device=a.device, tile=a.tile, dac_bits=8, adc_bits=8)
    log(f"hardware-aware training on {xt.analog_layers(hwa)[0].xb.describe()}: {a.hwa_epochs} more epochs")
    hwa = train(hwa, xtr, ytr, a.hwa_epochs, 1e-3, 64, 2, log)
    hwa_float = xt.to_digital(hwa)
    log("")
    log(f"{'network':34s} {'float':>7s}  fitted model, programming seeds 1..{a.seeds}            mean")
    for name, net in (("plain (float training)", plain), ("hardware-aware (xbar.torch)", hwa_float)):
        accs = []
        for s in range(1, a.seeds + 1):
            accs.append(accuracy(deploy(net, a, xc, s), xte, yte))
        log(f"{name:34s} {100 * accuracy(net, xte, yte):6.2f}%  "
            + "  ".join(f"{100 * v:6.2f}%" for v in accs) + f"   {100 * np.mean(accs):6.2f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
