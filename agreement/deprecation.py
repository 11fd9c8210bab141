"""Renamed keywords keep working for a while, with a warning naming the new spelling."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def renamed_keywords(**names: str) -> Callable[[F], F]:
    """Accept each old keyword (``old="new"``) with a ``FutureWarning`` naming the new one.

    Examples
    --------
    >>> @renamed_keywords(n_boot="n_resamples")
    ... def f(*, n_resamples=1):
    ...     return n_resamples
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     f(n_boot=5), str(caught[0].message)
    (5, 'f(): n_boot= is deprecated; use n_resamples=')
    """

    def wrap(func: F) -> F:
        @functools.wraps(func)
        def inner(*args: Any, **kwargs: Any) -> Any:
            for old, new in names.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{func.__name__}() got both {old}= and {new}=")
                    warn_renamed(f"{func.__name__}(): {old}=", f"{new}=")
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return inner  # type: ignore[return-value]

    return wrap


def warn_renamed(old: str, new: str, stacklevel: int = 3) -> None:
    """Warn (``FutureWarning``, shown to users) that ``old`` is now spelled ``new``."""
    warnings.warn(f"{old} is deprecated; use {new}", FutureWarning, stacklevel=stacklevel)
