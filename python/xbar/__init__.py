"""xbar from Python: fitted crossbar models, network files, and (with PyTorch) analog layers.

    import xbar
    models = xbar.model.load("model.h5")             # numpy + h5py only
    m = xbar.model.select(models, device="rram", rows=64, cols=64)
    I = m.mvm(G, V)                                   # docs/hdf5-model.md

    ups = xbar.update.load("model.h5")                # pulse-update models (docs/fit.md)

    import xbar.network as xn                         # network files (docs/hdf5-network.md)
    xn.write("net.h5", (1, 28, 28), xn.from_torch(torch_model, (1, 28, 28)))

    import xbar.torch as xt                           # needs torch (docs/interop.md)
    analog = xt.convert(torch_model, "model.h5", device="pcm", tile=64, dac_bits=8, adc_bits=8)

`import xbar` needs numpy and h5py only; `xbar.torch` and `xbar.network.from_torch` need torch.
"""
from . import data, model, network, update  # noqa: F401
from .model import ModelError, load as load_model, load_stats, select as select_model  # noqa: F401

__version__ = "0.1.0"
__all__ = ["model", "network", "update", "ModelError", "load_model", "load_stats", "select_model"]
