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

import importlib
from typing import Any

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

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'segengine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
