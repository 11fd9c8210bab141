"""The statistics' options: one frozen object, every default defined here once.

Light on purpose (no numpy, pandas or scipy): the CLI reads its flags' defaults from here.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
from dataclasses import dataclass
from typing import Any, Literal

#: Allowed values of the options that name a method.
CHOICES = {
    "x": ("mean", "reference"),
    "loa_ci": ("ba1986", "ba1999", "exact"),
    "nan_policy": ("raise", "omit"),
}
#: Old spellings of the options, still accepted with a warning.
RENAMED = {"bootstrap": "n_resamples", "n_boot": "compare_n_resamples"}


@dataclass(frozen=True)
class StatsOptions:
    """How the agreement statistics are computed; validated when built.

    The ``agree`` CLI builds one from its flags and passes it down whole:
    :func:`~agreement.agreement_table`, :func:`~agreement.compare_methods`,
    :func:`~agreement.analyse` and the report read their options from it.

    Parameters
    ----------
    alpha : float
        Significance level in (0, 0.5): TOST one-sided tests, 1 - alpha intervals.
    margin : float
        TOST equivalence bound, a fraction of |mean reference| (``relative``) or absolute.
    delta : float
        Coverage-probability allowance, a fraction of |reference| (``relative``) or absolute.
    tdi_p : float
        Proportion of cases within the total deviation index, in (0, 1).
    n_resamples : int
        Bootstrap resamples for the CCC interval and the TDI upper limit (0: none, Fisher-z
        interval and no TDI limit).
    compare_n_resamples : int
        Resamples of the paired bootstrap comparing methods (>= 1).
    seed : int or None
        Seed of every resampling (None: not reproducible).
    relative : bool
        ``margin`` and ``delta`` relative to the reference (True) or absolute.
    x : {"mean", "reference"}
        Regressor of the Bland-Altman proportional-bias slope.
    loa_ci : {"ba1986", "ba1999", "exact"}
        Interval method of the limits of agreement.
    nan_policy : {"raise", "omit"}
        Pairs with a NaN raise or are dropped.

    Examples
    --------
    >>> from agreement import StatsOptions
    >>> StatsOptions(margin=0.1).margin
    0.1
    >>> StatsOptions(alpha=0.7)
    Traceback (most recent call last):
    ...
    ValueError: alpha must be in (0, 0.5), got 0.7
    """

    alpha: float = 0.05
    margin: float = 0.2
    delta: float = 0.2
    tdi_p: float = 0.95
    n_resamples: int = 0
    compare_n_resamples: int = 2000
    seed: int | None = 0
    relative: bool = True
    x: Literal["mean", "reference"] = "mean"
    loa_ci: Literal["ba1986", "ba1999", "exact"] = "exact"
    nan_policy: Literal["raise", "omit"] = "raise"

    def __post_init__(self) -> None:
        if not _real(self.alpha) or not 0 < self.alpha < 0.5:
            raise ValueError(f"alpha must be in (0, 0.5), got {self.alpha!r}")
        for name in ("margin", "delta"):
            value = getattr(self, name)
            if not _real(value) or not value > 0 or math.isinf(value):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        if not _real(self.tdi_p) or not 0 < self.tdi_p < 1:
            raise ValueError(f"tdi_p must be in (0, 1), got {self.tdi_p!r}")
        for name, low in (("n_resamples", 0), ("compare_n_resamples", 1)):
            value = getattr(self, name)
            if not _integer(value) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if self.seed is not None and (not _integer(self.seed) or self.seed < 0):
            raise ValueError(f"seed must be a non-negative integer or None, got {self.seed!r}")
        if not isinstance(self.relative, bool):
            raise ValueError(f"relative must be True or False, got {self.relative!r}")
        for name, choices in CHOICES.items():
            if getattr(self, name) not in choices:
                allowed = ", ".join(map(repr, choices))
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")

    def replace(self, **changes: Any) -> StatsOptions:
        """A copy with ``changes`` (field names; old spellings warn and are renamed).

        Examples
        --------
        >>> StatsOptions().replace(alpha=0.1).alpha
        0.1
        >>> StatsOptions().replace(alfa=0.1)
        Traceback (most recent call last):
        ...
        TypeError: unknown statistics option 'alfa'; did you mean 'alpha'?
        """
        from agreement.deprecation import warn_renamed

        names = [f.name for f in dataclasses.fields(self)]
        for old, new in RENAMED.items():
            if old in changes:
                if new in changes:
                    raise TypeError(f"got both {old}= and {new}=")
                warn_renamed(f"{old}=", f"{new}=", stacklevel=4)
                changes[new] = changes.pop(old)
        for key in changes:
            if key not in names:
                close = difflib.get_close_matches(key, names, n=1)
                hint = (
                    f"; did you mean {close[0]!r}?" if close else f"; options: {', '.join(names)}"
                )
                raise TypeError(f"unknown statistics option {key!r}{hint}")
        return dataclasses.replace(self, **changes) if changes else self

    def parameters(self) -> dict[str, Any]:
        """The options as ``summary.json`` and the report's text list them (stable keys).

        Examples
        --------
        >>> list(StatsOptions().parameters())
        ['alpha', 'margin', 'delta', 'tdi_p', 'bootstrap', 'seed', 'n_boot']
        """
        return {
            "alpha": self.alpha,
            "margin": self.margin,
            "delta": self.delta,
            "tdi_p": self.tdi_p,
            "bootstrap": int(self.n_resamples),
            "seed": self.seed,
            "n_boot": int(self.compare_n_resamples),
        }


def resolve(options: StatsOptions | None, overrides: dict[str, Any]) -> StatsOptions:
    """``options`` (default: ``StatsOptions()``) with the keyword ``overrides`` applied."""
    base = StatsOptions() if options is None else options
    if not isinstance(base, StatsOptions):
        raise TypeError(f"options must be a StatsOptions, got {type(base).__name__}")
    return base.replace(**overrides)


def _real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


#: The defaults, for the signatures of the single statistics (``alpha=DEFAULTS.alpha``, ...).
DEFAULTS = StatsOptions()
