"""Fashion-MNIST from its IDX .gz files (Debian dataset-fashion-mnist), as `xbar run` reads it
(src/exec/dataset.c): images as float32 pixels / 255 in [0, 1], row-major 28 x 28."""
import gzip
import os

import numpy as np

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"


def _idx(path, magic):
    with gzip.open(path, "rb") as fh:
        head = fh.read(4)
        if int.from_bytes(head, "big") != magic:
            raise ValueError(f"{path}: not an IDX file (magic {head.hex()})")
        nd = magic & 0xFF
        dims = [int.from_bytes(fh.read(4), "big") for _ in range(nd)]
        data = np.frombuffer(fh.read(), dtype=np.uint8)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {data.size} bytes of data, the header says {dims}")
    return data.reshape(dims)


def load_fmnist(directory=None, train=False, limit=None):
    """(images (N, 784) float32 in [0, 1], labels (N,) int64): the test set (train=False) or the
    training set, the first `limit` of them.  The executor calibrates on the first training images
    and evaluates the first test images."""
    d = directory or DEFAULT_DIR
    pre = "train" if train else "t10k"
    x = _idx(os.path.join(d, f"{pre}-images-idx3-ubyte.gz"), 0x00000803)
    y = _idx(os.path.join(d, f"{pre}-labels-idx1-ubyte.gz"), 0x00000801)
    if limit is not None:
        x, y = x[:limit], y[:limit]
    return (x.reshape(x.shape[0], -1).astype(np.float32) / np.float32(255.0)), y.astype(np.int64)
