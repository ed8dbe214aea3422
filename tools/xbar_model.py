#!/usr/bin/env python3
"""Command-line wrapper and import shim for xbar.model (python/xbar/model.py).

    python3 tools/xbar_model.py model.h5 --g G.csv --v V.csv [--index N] [-o I.csv]

`import xbar_model` (with tools/ on sys.path) gives the names of xbar.model, as before the
package existed.  New code: `import xbar.model` with python/ on sys.path (or installed).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import xbar.model as _impl  # noqa: E402

globals().update({k: v for k, v in vars(_impl).items() if not k.startswith("__")})

if __name__ == "__main__":
    sys.exit(_impl.main(prog="xbar_model.py"))
