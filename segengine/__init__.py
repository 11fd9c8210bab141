"""segengine: MONAI/PyTorch networks, losses, training, inference and ensembling for PET/CT.

It produces the predicted masks that :mod:`agreement` evaluates, and the synthetic PSMA-like
phantom cohort everything is trained and tested on. Names are imported on first use:
``import segengine`` does not import torch, and ``segengine.make_phantoms`` works without it.

Examples
--------
>>> import segengine
>>> "build_network" in dir(segengine)
True
"""

from __future__ import annotations

from agreement._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "build_network": "segengine.networks",
    "build_loss": "segengine.losses",
    "L1DiceFocalLoss": "segengine.losses",
    "ensemble": "segengine.ensembling",
    "make_phantoms": "segengine.data.phantoms",
    "train": "segengine.training",
    "predict": "segengine.infer",
    "TrainConfig": "segengine.config",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
