"""Shared pieces of the statistics: input checks, result base class, prefixing."""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from agreement.format import significant

MIN_N = 3
NanPolicy = Literal["raise", "omit"]


class Result:
    """Mixin for the frozen result dataclasses: ``to_dict`` and ``undefined``."""

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a plain dict (tuples stay tuples)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    @classmethod
    def undefined(cls, n: int, note: str, **known: Any) -> Any:
        """A result with every number NaN, ``n`` and a ``note`` saying why.

        Fields given in ``known`` (e.g. the CI method) keep their values.
        """
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name in known:
                values[f.name] = known[f.name]
            elif f.name == "n":
                values[f.name] = int(n)
            elif f.name == "note":
                values[f.name] = note
            elif f.default is not dataclasses.MISSING:
                values[f.name] = f.default
            elif str(f.type).startswith("tuple"):
                values[f.name] = (math.nan, math.nan)
            elif str(f.type) == "str":
                values[f.name] = ""
            else:
                values[f.name] = math.nan
        return cls(**values)


def check_alpha(alpha: float, *, upper: float = 1.0) -> float:
    """Raise ValueError unless ``0 < alpha < upper``."""
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 < alpha < upper:
        raise ValueError(f"alpha must be in (0, {upper}), got {alpha!r}")
    return float(alpha)


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    """Raise ValueError unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def paired(
    predicted: ArrayLike, reference: ArrayLike, nan_policy: NanPolicy = "raise"
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``predicted`` and ``reference`` as equal-length 1-D float arrays.

    NaN raises ValueError unless ``nan_policy="omit"`` (pairs with a NaN are dropped).
    Infinite values always raise.

    Examples
    --------
    >>> x, y = paired([1, 2, float("nan")], [1, 2, 3], nan_policy="omit")
    >>> x.tolist(), y.tolist()
    ([1.0, 2.0], [1.0, 2.0])
    """
    check_choice("nan_policy", nan_policy, ("raise", "omit"))
    try:
        x = np.asarray(predicted, dtype=float)
        y = np.asarray(reference, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"predicted and reference must be numeric: {exc}") from None
    if x.ndim != 1 or y.ndim != 1:
        raise ValueError(f"predicted and reference must be 1-D, got shapes {x.shape} and {y.shape}")
    if x.shape != y.shape:
        raise ValueError(f"predicted and reference differ in length: {x.size} != {y.size}")
    if np.isinf(x).any() or np.isinf(y).any():
        raise ValueError("predicted and reference must be finite (found inf)")
    bad = np.isnan(x) | np.isnan(y)
    if bad.any():
        if nan_policy == "raise":
            rows = np.flatnonzero(bad)[:5].tolist()
            raise ValueError(
                f"NaN in {int(bad.sum())} pair(s) (positions {rows}); pass nan_policy='omit' to drop them"
            )
        x, y = x[~bad], y[~bad]
    return x, y


def pow2_scale(*arrays: np.ndarray) -> float:
    """A power of two bringing the largest magnitude near 1 when powers would over/underflow.

    1.0 while every magnitude lies in [1e-50, 1e50] (then results are bit-identical); scaling
    by a power of two is exact, so statistics of the scaled data equal those of the data.

    Examples
    --------
    >>> pow2_scale(np.array([3.0, -40.0])), pow2_scale(np.array([2.0**200])) * 2.0**200
    (1.0, 0.5)
    """
    m = max((float(np.max(np.abs(a), initial=0.0)) for a in arrays), default=0.0)
    if m == 0.0 or 1e-50 <= m <= 1e50:
        return 1.0
    return math.ldexp(1.0, -math.frexp(m)[1])


def sd1(d: np.ndarray) -> float:
    """Sample SD (ddof = 1) without overflow or underflow of the squares.

    Examples
    --------
    >>> sd1(np.array([1e200, 2e200, 3e200])) / 1e200
    1.0
    """
    s = pow2_scale(d)
    return float((d * s).std(ddof=1)) / s


def prefixed(prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    """Prefix keys: ``estimate`` becomes ``prefix`` and other keys ``prefix_key``.

    Examples
    --------
    >>> prefixed("ccc", {"estimate": 0.9, "ci_low": 0.8})
    {'ccc': 0.9, 'ccc_ci_low': 0.8}
    """
    return {(prefix if k == "estimate" else f"{prefix}_{k}"): v for k, v in values.items()}


#: Format a number for ``__repr__`` (NaN as ``nan``).
fmt = significant


def bootstrap_indices(n: int, n_boot: int, seed: int | None) -> np.ndarray:
    """Index matrix ``(n_boot, n)`` of resampled cases, seeded.

    Examples
    --------
    >>> bootstrap_indices(4, 2, 0).shape
    (2, 4)
    """
    rng = np.random.default_rng(check_seed(seed))
    return rng.integers(0, n, size=(n_boot, n))


def check_seed(seed: int | None) -> int | None:
    """Raise ValueError unless ``seed`` is None or a non-negative integer."""
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0
    ):
        raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
    return seed


def check_n_boot(n_boot: int, *, allow_zero: bool = False, name: str = "n_resamples") -> int:
    """Raise ValueError unless ``n_boot`` is a positive integer (or 0 when allowed)."""
    low = 0 if allow_zero else 1
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {n_boot!r}")
    return int(n_boot)


def quantile_rows(a: np.ndarray, q: float) -> np.ndarray:
    """Row-wise quantile with linear interpolation (R type 7) via partial sort.

    Examples
    --------
    >>> quantile_rows(np.array([[1.0, 2.0, 3.0, 4.0]]), 0.5).tolist()
    [2.5]
    """
    n = a.shape[-1]
    h = (n - 1) * q
    lo = int(math.floor(h))
    hi = min(lo + 1, n - 1)
    part = np.partition(a, [lo, hi], axis=-1) if hi != lo else np.partition(a, lo, axis=-1)
    frac = h - lo
    return part[..., lo] + frac * (part[..., hi] - part[..., lo])


def resample_counts(n: int, n_boot: int, seed: int | None) -> np.ndarray:
    """How often each case appears in each resample: ``(n_boot, n)`` floats, read-only.

    Row ``b`` counts the cases of row ``b`` of ``bootstrap_indices(n, n_boot, seed)``, so
    both describe the same resamples. Cached per ``(n, n_boot, seed)`` when seeded.

    Examples
    --------
    >>> resample_counts(3, 2, 0).sum(axis=1).tolist()
    [3.0, 3.0]
    """
    if check_seed(seed) is None:
        return _counts(bootstrap_indices(n, n_boot, None), n)
    return _cached_counts(n, n_boot, int(seed))


@functools.lru_cache(maxsize=32)
def _cached_counts(n: int, n_boot: int, seed: int) -> np.ndarray:
    counts = _counts(bootstrap_indices(n, n_boot, seed), n)
    counts.flags.writeable = False
    return counts


def _counts(idx: np.ndarray, n: int) -> np.ndarray:
    rows = idx.shape[0]
    flat = (idx + n * np.arange(rows)[:, None]).ravel()
    return np.bincount(flat, minlength=rows * n).reshape(rows, n).astype(float)


def weighted_quantiles(values: np.ndarray, counts: np.ndarray, q: float) -> np.ndarray:
    """Type-7 ``q`` quantile of ``values`` repeated ``counts[b]`` times, for every row ``b``.

    Uses the cumulative counts in sorted order instead of sorting each resample.

    Examples
    --------
    >>> weighted_quantiles(np.array([3.0, 1.0, 2.0]), np.array([[1.0, 1.0, 2.0]]), 0.5).tolist()
    [2.0]
    """
    n = values.size
    order = np.argsort(values, kind="stable")
    ranked = values[order]
    cum = np.cumsum(counts[:, order], axis=1)
    h = (n - 1) * q
    lo = int(math.floor(h))
    frac = h - lo
    low = ranked[np.minimum((cum <= lo).sum(axis=1), n - 1)]
    if frac == 0:
        return low
    high = ranked[np.minimum((cum <= lo + 1).sum(axis=1), n - 1)]
    return low + frac * (high - low)
