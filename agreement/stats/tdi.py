"""Total deviation index: the p-quantile of |predicted - reference|."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from agreement.deprecation import renamed_keywords
from agreement.options import DEFAULTS
from agreement.stats._common import (
    MIN_N,
    NanPolicy,
    Result,
    check_alpha,
    check_choice,
    check_n_boot,
    fmt,
    paired,
    pow2_scale,
    resample_counts,
    weighted_quantiles,
)


@dataclass(frozen=True, repr=False)
class TDIResult(Result):
    """TDI at proportion ``p`` with its one-sided upper limit."""

    estimate: float
    ci_high: float
    p: float
    n: int
    method: str = "empirical"
    ci_method: str = "bootstrap"
    note: str = ""

    def __repr__(self) -> str:
        text = (
            f"TDIResult(estimate={fmt(self.estimate, 4)}, ci_high={fmt(self.ci_high, 4)} "
            f"({self.ci_method}), p={self.p:g}, method={self.method}, n={self.n}"
        )
        return text + (f", note={self.note!r})" if self.note else ")")


def bootstrap_tdi_upper(abs_diff: np.ndarray, counts: np.ndarray, p: float, alpha: float) -> float:
    """One-sided percentile-bootstrap upper limit of the empirical TDI (resample ``counts``)."""
    return float(np.quantile(weighted_quantiles(abs_diff, counts, p), 1 - alpha))


def lin_tdi(d: np.ndarray, p: float, alpha: float) -> tuple[float, float]:
    """Lin (2000) TDI from the MSD and its one-sided upper limit (log scale).

    ``e² = Σd²/(n-1)``, ``W = ln e²``, ``s_W² = 2(1 - mean(d)⁴/e⁴)/(n-2)``,
    TDI = ``Φ⁻¹(1-(1-p)/2)·e``, upper limit ``Φ⁻¹(1-(1-p)/2)·exp((W + z_{1-α} s_W)/2)``.
    """
    scale = pow2_scale(d)  # exact rescaling: no overflow of d**4
    d = d * scale
    n = d.size
    e2 = float((d**2).sum()) / (n - 1)
    mu = float(d.mean())
    q = float(stats.norm.ppf(1 - (1 - p) / 2))
    if n < 3:  # s_W needs n - 2 > 0
        return q * math.sqrt(e2) / scale, math.nan
    var_w = 2 * (1 - mu**4 / e2**2) / (n - 2)
    upper_w = math.log(e2) + float(stats.norm.ppf(1 - alpha)) * math.sqrt(max(var_w, 0.0))
    return q * math.sqrt(e2) / scale, q * math.exp(upper_w / 2) / scale


@renamed_keywords(n_boot="n_resamples")
def tdi(
    predicted: ArrayLike,
    reference: ArrayLike,
    *,
    p: float = DEFAULTS.tdi_p,
    method: Literal["empirical", "lin"] = "empirical",
    alpha: float = DEFAULTS.alpha,
    n_resamples: int = 2000,
    seed: int | None = DEFAULTS.seed,
    nan_policy: NanPolicy = "raise",
) -> TDIResult:
    """Total deviation index (TDI) at proportion ``p``.

    ``"empirical"``: the ``p`` quantile of ``|predicted - reference|`` with linear
    interpolation (R type 7, numpy's default), upper limit = the 1 - alpha quantile of
    ``n_resamples`` seeded case-resampled TDIs (percentile bootstrap; ``n_resamples=0`` skips it).
    ``"lin"``: Lin (2000) ``Φ⁻¹(1-(1-p)/2)·sqrt(MSD)`` with its one-sided upper limit
    from the log-MSD.

    Parameters
    ----------
    predicted, reference : array-like
        Paired values.
    p : float
        Proportion of cases within the TDI, in (0, 1).
    method : {"empirical", "lin"}
        Estimator.
    alpha : float
        One-sided level of the upper limit.
    n_resamples, seed : int
        Bootstrap resamples and seed (empirical method).
    nan_policy : {"raise", "omit"}
        What to do with pairs holding a NaN.

    Returns
    -------
    TDIResult

    Examples
    --------
    >>> from agreement import tdi
    >>> round(tdi([1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 2.5, 2.0, 4.0, 7.0], n_resamples=0).estimate, 6)
    1.8
    """
    alpha = check_alpha(alpha)
    check_choice("method", method, ("empirical", "lin"))
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 < p < 1:
        raise ValueError(f"p must be in (0, 1), got {p!r}")
    n_resamples = check_n_boot(n_resamples, allow_zero=True)
    x, y = paired(predicted, reference, nan_policy)
    n = x.size
    ci_method = ("bootstrap" if n_resamples else "none") if method == "empirical" else "lin_log_upper"
    known = dict(p=float(p), method=method, ci_method=ci_method)
    if n < 2:
        return TDIResult.undefined(n, f"n = {n} < 2", **known)
    d = x - y
    small = f"n = {n} < {MIN_N}: the upper limit is undefined" if n < MIN_N else ""
    if method == "lin":
        if not np.any(d):
            return TDIResult(0.0, 0.0, n=n, note="all differences are 0", **known)
        estimate, upper = lin_tdi(d, p, alpha)
        return TDIResult(estimate, upper, n=n, note=small, **known)
    ad = np.abs(d)
    estimate = float(np.quantile(ad, p))
    upper = math.nan
    if n_resamples and not small:
        upper = bootstrap_tdi_upper(ad, resample_counts(n, n_resamples, seed), p, alpha)
    return TDIResult(estimate, upper, n=n, note=small, **known)
