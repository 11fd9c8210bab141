"""Intraclass correlation ICC(A,1): two-way random effects, absolute agreement, single rater.

McGraw & Wong (1996), case 2A, equal to Shrout & Fleiss (1979) ICC(2,1): the targets (cases)
and the raters (here: predicted and reference) are random; systematic differences between
the raters count as disagreement. The confidence interval is McGraw & Wong's F-based one with
Satterthwaite's approximate degrees of freedom.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from agreement.options import DEFAULTS
from agreement.stats._common import MIN_N, Result, check_alpha, fmt, paired, pow2_scale


@dataclass(frozen=True, repr=False)
class ICCResult(Result):
    """ICC(A,1) with its ``1 - alpha`` interval; ``k`` raters rated ``n`` targets."""

    estimate: float
    ci_low: float
    ci_high: float
    n: int
    k: int = 2
    note: str = ""

    def __repr__(self) -> str:
        text = (
            f"ICCResult(ICC(A,1)={fmt(self.estimate, 4)} [{fmt(self.ci_low, 4)}, "
            f"{fmt(self.ci_high, 4)}], n={self.n}, k={self.k}"
        )
        return text + (f", note={self.note!r})" if self.note else ")")


def icc_a1(ratings: ArrayLike, *, alpha: float = DEFAULTS.alpha) -> ICCResult:
    """ICC(A,1) of a complete ``(n targets, k raters)`` table of ratings.

    With the two-way ANOVA mean squares of the targets (MSR), the raters (MSC) and the
    residual (MSE), ``ICC = (MSR - MSE) / (MSR + (k - 1) MSE + k (MSC - MSE) / n)``.

    Parameters
    ----------
    ratings : array_like, shape (n, k)
        One row per target, one column per rater; finite numbers.
    alpha : float
        The interval is ``1 - alpha`` (two-sided).

    Returns
    -------
    ICCResult
        NaN with a note when n < 3, k < 2 or the ratings have no spread; the interval is NaN
        (with a note) when the raters agree exactly (no residual variance).

    Examples
    --------
    Shrout & Fleiss (1979), Table 2: 6 targets, 4 judges; ICC(2,1) = 0.29.

    >>> table = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8],
    ...          [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
    >>> round(icc_a1(table).estimate, 2)
    0.29
    """
    alpha = check_alpha(alpha)
    x = np.asarray(ratings, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"ratings must be a 2-D (targets, raters) table, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("ratings must be finite (found NaN or inf)")
    n, k = x.shape
    if n < MIN_N or k < 2:
        return ICCResult.undefined(n, f"n = {n} < {MIN_N} or fewer than 2 raters", k=k)
    s = pow2_scale(x)  # exact rescaling: the ICC is scale-free, the squares cannot overflow
    x = x * s
    grand = x.mean()
    ss_rows = k * float(((x.mean(axis=1) - grand) ** 2).sum())
    ss_cols = n * float(((x.mean(axis=0) - grand) ** 2).sum())
    ss_total = float(((x - grand) ** 2).sum())
    msr = ss_rows / (n - 1)
    msc = ss_cols / (k - 1)
    mse = max(ss_total - ss_rows - ss_cols, 0.0) / ((n - 1) * (k - 1))
    denominator = msr + (k - 1) * mse + k * (msc - mse) / n
    if not denominator > 0:
        return ICCResult.undefined(n, "no spread between targets or raters", k=k)
    rho = (msr - mse) / denominator
    if mse == 0:
        return ICCResult(rho, math.nan, math.nan, n, k, "raters agree exactly: no interval")
    low, high = _interval(rho, msr, msc, mse, n, k, alpha)
    return ICCResult(rho, low, high, n, k)


def _interval(
    rho: float, msr: float, msc: float, mse: float, n: int, k: int, alpha: float
) -> tuple[float, float]:
    """McGraw & Wong (1996), Table 7, case 2A: F limits with approximate df ``v``."""
    a = k * rho / (n * (1 - rho))
    b = 1 + k * rho * (n - 1) / (n * (1 - rho))
    v = (a * msc + b * mse) ** 2 / ((a * msc) ** 2 / (k - 1) + (b * mse) ** 2 / ((n - 1) * (k - 1)))
    f_low = stats.f.ppf(1 - alpha / 2, n - 1, v)
    f_high = stats.f.ppf(1 - alpha / 2, v, n - 1)
    rest = k * msc + (k * n - k - n) * mse
    low = n * (msr - f_low * mse) / (f_low * rest + n * msr)
    high = n * (f_high * msr - mse) / (rest + n * f_high * msr)
    return float(low), float(high)


def icc(
    predicted: ArrayLike,
    reference: ArrayLike,
    *,
    alpha: float = DEFAULTS.alpha,
    nan_policy: Literal["raise", "omit"] = "raise",
) -> ICCResult:
    """Two-way random-effects, absolute-agreement, single-measure ICC(A,1) of paired values.

    The predicted and the reference value of each case are two ratings of one target
    (McGraw & Wong 1996 case 2A = Shrout & Fleiss 1979 ICC(2,1)); as pingouin's
    ``intraclass_corr`` row ``ICC2`` and R ``irr::icc(model="twoway", type="agreement",
    unit="single")``.

    Parameters
    ----------
    predicted, reference : array_like
        Paired values of equal length.
    alpha : float
        The interval is ``1 - alpha`` (two-sided, F-based).
    nan_policy : {"raise", "omit"}
        Pairs with a NaN raise or are dropped.

    Returns
    -------
    ICCResult

    Examples
    --------
    >>> from agreement import icc
    >>> res = icc([1.0, 2.1, 2.9, 4.2, 5.1], [1.1, 2.0, 3.0, 4.0, 5.0])
    >>> round(res.estimate, 4), res.n
    (0.9968, 5)
    """
    x, y = paired(predicted, reference, nan_policy)
    return icc_a1(np.column_stack([x, y]), alpha=alpha)


__all__ = ["ICCResult", "icc", "icc_a1"]
