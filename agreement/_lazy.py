"""Lazy package exports: a name is imported from its module on first use.

One helper for the three packages, so that ``import agreement`` (and the CLIs) start fast.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """Module ``__getattr__``, ``__dir__`` and ``__all__`` for names imported on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : mapping
        Public name -> the module that defines it.

    Returns
    -------
    tuple
        ``(__getattr__, __dir__, __all__)``; assign them in the package's ``__init__``.
        A resolved name is stored in the package's namespace, so it is looked up once.

    Examples
    --------
    >>> getattr_, dir_, all_ = lazy_exports("json", {"loads": "json"})
    >>> all_
    ['loads']
    >>> getattr_("loads")('{"a": 1}')
    {'a': 1}
    >>> getattr_("nope")
    Traceback (most recent call last):
    ...
    AttributeError: module 'json' has no attribute 'nope'
    """
    table = dict(exports)
    names = sorted(table)

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(names))

    return __getattr__, __dir__, names
