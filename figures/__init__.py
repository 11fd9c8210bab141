"""figures: the papers' figures, regenerated from the tables that :mod:`agreement` writes.

Every function takes DataFrames and returns a :class:`matplotlib.figure.Figure`; statistics are
computed by :mod:`agreement`, never inside a plot. Names are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "render_all": "figures.render",
    "save_figure": "figures.style",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'figures' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
