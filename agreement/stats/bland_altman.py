"""Bland-Altman bias, limits of agreement, their intervals and proportional bias."""

from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize, special, stats

from agreement.options import DEFAULTS
from agreement.stats._common import (
    MIN_N,
    NanPolicy,
    Result,
    check_alpha,
    check_choice,
    fmt,
    paired,
    pow2_scale,
    sd1,
)

LOA_CI_METHODS = ("ba1986", "ba1999", "exact")


@dataclass(frozen=True, repr=False)
class BlandAltmanResult(Result):
    """Bias, SD of differences (ddof=1), limits of agreement and their intervals."""

    bias: float
    sd: float
    loa_low: float
    loa_high: float
    bias_ci: tuple[float, float]
    loa_low_ci: tuple[float, float]
    loa_high_ci: tuple[float, float]
    slope: float
    slope_p: float
    n: int
    multiplier: float = 1.96
    loa_ci_method: str = "exact"
    x: str = "mean"
    note: str = ""

    def __repr__(self) -> str:
        text = (
            f"BlandAltmanResult(bias={fmt(self.bias, 4)}, sd={fmt(self.sd, 4)}, "
            f"loa=[{fmt(self.loa_low, 4)}, {fmt(self.loa_high, 4)}] "
            f"(±{self.multiplier:g} SD, CI {self.loa_ci_method}), slope={fmt(self.slope, 3)} "
            f"(p={fmt(self.slope_p, 3)}, x={self.x}), n={self.n}"
        )
        return text + (f", note={self.note!r})" if self.note else ")")


def _coverage_radius(x: np.ndarray, content: float) -> np.ndarray:
    """R(x) with Phi(x + R) - Phi(x - R) = content, by Newton's method (vectorised)."""
    r = np.full_like(x, stats.norm.ppf(0.5 + content / 2)) + x
    for _ in range(60):
        g = special.ndtr(x + r) - special.ndtr(x - r) - content
        dg = np.exp(-0.5 * (x + r) ** 2) + np.exp(-0.5 * (x - r) ** 2)
        step = g / (dg / math.sqrt(2 * math.pi))
        r = r - step
        if np.max(np.abs(step)) < 1e-13:
            break
    return r


@functools.lru_cache(maxsize=256)
def tolerance_factor(n: int, content: float, confidence: float) -> float:
    """Exact two-sided normal tolerance factor k (Odeh & Owen; as used by Carkeet 2015).

    ``mean ± k·SD`` covers ``content`` of the population with probability
    ``confidence``; solved by Gauss-Legendre integration of
    ``sqrt(2n/pi) ∫_0^∞ P(chi2_{n-1} > (n-1) R(x)^2 / k^2) exp(-n x^2/2) dx``.

    Examples
    --------
    >>> round(tolerance_factor(17, 0.95000421, 0.975), 3)
    3.082
    """
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    nodes, weights = np.polynomial.legendre.leggauss(200)
    top = 10.0 / math.sqrt(n)
    x = (nodes + 1) * top / 2
    w = weights * top / 2 * math.sqrt(2 * n / math.pi) * np.exp(-n * x**2 / 2)
    r2 = _coverage_radius(x, content) ** 2
    nu = n - 1

    def gap(log_k: float) -> float:
        return float(w @ stats.chi2.sf(nu * r2 / math.exp(2 * log_k), nu)) - confidence

    return math.exp(optimize.brentq(gap, math.log(1e-4), math.log(1e4), xtol=1e-13))


def _ols_slope(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """OLS slope of y on x and its two-sided t-test p (n - 2 df)."""
    sx, sy = pow2_scale(x), pow2_scale(y)  # exact rescaling: no overflow of the squares
    x, y = x * sx, y * sy
    n = x.size
    dx, dy = x - x.mean(), y - y.mean()
    sxx = float(dx @ dx)
    slope = float(dx @ dy) / sxx
    resid = dy - slope * dx
    unscaled = slope * sx / sy
    if n < 3:
        return unscaled, math.nan
    se = math.sqrt(float(resid @ resid) / (n - 2) / sxx)
    if se == 0:
        return unscaled, 0.0 if slope != 0 else math.nan
    return unscaled, float(2 * special.stdtr(n - 2, -abs(slope) / se))


def _loa_intervals(
    bias: float, sd: float, n: int, z: float, alpha: float, method: str
) -> tuple[tuple[float, float], tuple[float, float]]:
    low, high = bias - z * sd, bias + z * sd
    if method == "exact":
        content = float(stats.norm.cdf(z) - stats.norm.cdf(-z))
        k_in = tolerance_factor(n, content, alpha / 2)
        k_out = tolerance_factor(n, content, 1 - alpha / 2)
        return (bias - k_out * sd, bias - k_in * sd), (bias + k_in * sd, bias + k_out * sd)
    if method == "ba1986":
        se = math.sqrt(3 * sd**2 / n)
    else:
        se = sd * math.sqrt(1 / n + z**2 / (2 * (n - 1)))
    half = float(special.stdtrit(n - 1, 1 - alpha / 2)) * se
    return (low - half, low + half), (high - half, high + half)


def bland_altman(
    predicted: ArrayLike,
    reference: ArrayLike,
    *,
    alpha: float = DEFAULTS.alpha,
    x: Literal["mean", "reference"] = DEFAULTS.x,
    loa_ci: Literal["ba1986", "ba1999", "exact"] = DEFAULTS.loa_ci,
    multiplier: float = 1.96,
    nan_policy: NanPolicy = "raise",
) -> BlandAltmanResult:
    """Bland-Altman analysis of ``d = predicted - reference``.

    bias = mean(d); sd = SD(d) with ddof = 1; limits = bias ± multiplier·sd.
    The bias interval is the t interval. Limit intervals: ``"ba1986"`` (SE = sqrt(3 s²/n),
    t quantile; Bland & Altman 1986), ``"ba1999"`` (SE = s·sqrt(1/n + z²/(2(n-1))),
    t quantile; Bland & Altman 1999) or ``"exact"`` (two-sided tolerance factors,
    Carkeet 2015). Proportional bias: OLS slope of d on ``x`` (the pair mean, or the
    reference as in the modified plot of the papers) with its two-sided t-test p.

    Parameters
    ----------
    predicted, reference : array-like
        Paired values.
    alpha : float
        Intervals are two-sided 1 - alpha.
    x : {"mean", "reference"}
        Regressor for the proportional-bias slope.
    loa_ci : {"ba1986", "ba1999", "exact"}
        Interval method for the limits of agreement.
    multiplier : float
        SD multiplier of the limits (1.96).
    nan_policy : {"raise", "omit"}
        What to do with pairs holding a NaN.

    Returns
    -------
    BlandAltmanResult

    Examples
    --------
    >>> from agreement import bland_altman
    >>> res = bland_altman([10.2, 9.8, 11.1, 10.4, 9.9], [10.0, 10.0, 11.0, 10.5, 10.0])
    >>> round(res.bias, 3), round(res.loa_high, 3)
    (-0.02, 0.302)
    """
    alpha = check_alpha(alpha)
    check_choice("x", x, ("mean", "reference"))
    check_choice("loa_ci", loa_ci, LOA_CI_METHODS)
    if (
        isinstance(multiplier, bool)
        or not isinstance(multiplier, numbers.Real)
        or not multiplier > 0
    ):
        raise ValueError(f"multiplier must be > 0, got {multiplier!r}")
    pred, ref = paired(predicted, reference, nan_policy)
    n = pred.size
    known = dict(multiplier=float(multiplier), loa_ci_method=loa_ci, x=x)
    if n < 2:
        return BlandAltmanResult.undefined(n, f"n = {n} < 2", **known)
    d = pred - ref
    bias = float(d.mean())
    sd = sd1(d)
    if sd == 0:
        note = "differences are constant (SD 0): intervals and slope undefined"
        return BlandAltmanResult.undefined(
            n, note, bias=bias, sd=0.0, loa_low=bias, loa_high=bias, **known
        )
    half = float(special.stdtrit(n - 1, 1 - alpha / 2)) * sd / math.sqrt(n)
    low_ci, high_ci = _loa_intervals(bias, sd, n, multiplier, alpha, loa_ci)
    reg = (pred + ref) / 2 if x == "mean" else ref
    note = ""
    if np.ptp(reg) == 0:
        slope = slope_p = math.nan
        note = f"{x} is constant: proportional-bias slope undefined"
    else:
        slope, slope_p = _ols_slope(reg, d)
    if n < MIN_N:
        note = "; ".join(filter(None, [
            f"n = {n} < {MIN_N}: intervals on 1 degree of freedom; slope p undefined", note
        ]))  # fmt: skip
    return BlandAltmanResult(
        bias, sd, bias - multiplier * sd, bias + multiplier * sd,
        (bias - half, bias + half), low_ci, high_ci, slope, slope_p, n, note=note, **known,
    )  # fmt: skip
