#!/usr/bin/env python3
"""Command-line wrapper and import shim for xbar.network (python/xbar/network.py).

    python3 tools/xbar_network.py show FILE      prints the layers and their shapes

`import xbar_network` (with tools/ on sys.path) gives the names of xbar.network, as before
the package existed.  New code: `import xbar.network` with python/ on sys.path (or installed).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import xbar.network as _impl  # noqa: E402

globals().update({k: v for k, v in vars(_impl).items() if not k.startswith("__")})

if __name__ == "__main__":
    sys.exit(_impl.main(sys.argv))
