"""Masks by keyword: the safe path from ``(reference, predicted)`` to ``(predicted, reference)``.

``overlap`` and ``detect`` took ``(reference_mask, predicted_mask, ...)``; every other function
of the toolkit takes ``(predicted, reference)``. A swapped positional call cannot be detected
(it silently exchanges FP and FN), so for one release these functions take their masks by
keyword only: a positional call raises a TypeError saying so, and the old keyword names still
work with a DeprecationWarning. See ``docs/changes.md``.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

RENAMED = {"reference_mask": "reference", "predicted_mask": "predicted"}


def masks_by_keyword(function: F) -> F:
    """Refuse positional arguments; accept ``reference_mask=``/``predicted_mask=`` with a warning.

    Examples
    --------
    >>> @masks_by_keyword
    ... def f(*, predicted, reference):
    ...     return predicted - reference
    >>> f(predicted=3, reference=1)
    2
    >>> f(3, 1)
    Traceback (most recent call last):
    ...
    TypeError: f() takes its arguments by keyword: f(predicted=..., reference=..., ...); the masks' order changed from (reference, predicted) to (predicted, reference) (docs/changes.md)
    """
    name = function.__name__

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if args:
            raise TypeError(
                f"{name}() takes its arguments by keyword: {name}(predicted=..., "
                "reference=..., ...); the masks' order changed from (reference, predicted) "
                "to (predicted, reference) (docs/changes.md)"
            )
        for old, new in RENAMED.items():
            if old in kwargs:
                if new in kwargs:
                    raise TypeError(f"{name}() got both {old}= and {new}=")
                warnings.warn(
                    f"{name}({old}=...) is deprecated; pass {new}=...",
                    DeprecationWarning,
                    stacklevel=2,
                )
                kwargs[new] = kwargs.pop(old)
        return function(**kwargs)

    return wrapper  # type: ignore[return-value]
