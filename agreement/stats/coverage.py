"""Coverage probability: share of cases whose difference lies within the allowance."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

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
)


@dataclass(frozen=True, repr=False)
class CoverageResult(Result):
    """Coverage probability and its interval (two-sided, or one-sided lower for Lin)."""

    estimate: float
    ci_low: float
    ci_high: float
    n: int
    delta: float = math.nan
    method: str = "empirical"
    ci_method: str = "wilson"
    note: str = ""

    def __repr__(self) -> str:
        text = (
            f"CoverageResult(estimate={fmt(self.estimate, 4)}, ci=[{fmt(self.ci_low, 4)}, "
            f"{fmt(self.ci_high, 4)}] ({self.ci_method}), method={self.method}, n={self.n}"
        )
        return text + (f", note={self.note!r})" if self.note else ")")


def covered(
    predicted: np.ndarray, reference: np.ndarray, delta: float, relative: bool = True
) -> np.ndarray:
    """Boolean array: ``|predicted - reference| <= delta·|reference|`` (or ``<= delta``).

    Ties count as covered, with a few ulps of slack for rounding; a reference of 0
    is covered only by a prediction of 0 in the relative case.

    Examples
    --------
    >>> covered(np.array([12.0, 0.0, 1.0]), np.array([10.0, 0.0, 0.0]), 0.2).tolist()
    [True, True, False]
    """
    diff = np.abs(predicted - reference)
    allow = delta * np.abs(reference) if relative else np.full_like(diff, delta)
    slack = 4 * np.finfo(float).eps * np.maximum(np.abs(predicted), np.abs(reference))
    return diff <= allow + slack


def binomial_interval(k: int, n: int, alpha: float, method: str) -> tuple[float, float]:
    """Wilson score or Clopper-Pearson interval for k successes in n trials.

    statsmodels' ``proportion_confint`` (``method="wilson"`` or ``"beta"``, the
    Clopper-Pearson interval).

    Examples
    --------
    >>> [round(v, 4) for v in binomial_interval(8, 10, 0.05, "wilson")]
    [0.4902, 0.9433]
    """
    from statsmodels.stats.proportion import proportion_confint

    how = "wilson" if method == "wilson" else "beta"
    low, high = proportion_confint(k, n, alpha=alpha, method=how)
    return max(0.0, float(low)), min(1.0, float(high))


def lin_cp(d: np.ndarray, kappa: float, alpha: float) -> tuple[float, float, str]:
    """Lin et al. (2002) parametric CP and its one-sided logit lower limit."""
    scale = pow2_scale(d)  # exact rescaling (CP is scale invariant): no overflow
    d, kappa = d * scale, kappa * scale
    n = d.size
    mu = float(d.mean())
    sd = math.sqrt(float(((d - mu) ** 2).sum()) / (n - 3))
    if sd == 0:
        return (1.0 if abs(mu) <= kappa else 0.0), math.nan, "differences are constant (SD 0)"
    a, b = (kappa - mu) / sd, (-kappa - mu) / sd
    cp = float(stats.norm.cdf(a) - stats.norm.cdf(b))
    if not 0 < cp < 1:
        return cp, math.nan, "CP is 0 or 1 to machine precision: logit limit undefined"
    pa, pb = stats.norm.pdf(a), stats.norm.pdf(b)
    var_cp = ((pa - pb) ** 2 + 0.5 * (a * pa - b * pb) ** 2) / (n - 3)
    se_logit = math.sqrt(var_cp) / (cp * (1 - cp))
    logit = math.log(cp / (1 - cp)) - float(stats.norm.ppf(1 - alpha)) * se_logit
    return cp, 1 / (1 + math.exp(-logit)), ""


def coverage_probability(
    predicted: ArrayLike,
    reference: ArrayLike,
    *,
    delta: float = DEFAULTS.delta,
    relative: bool = DEFAULTS.relative,
    method: Literal["empirical", "lin"] = "empirical",
    ci: Literal["wilson", "clopper_pearson"] = "wilson",
    alpha: float = DEFAULTS.alpha,
    nan_policy: NanPolicy = "raise",
) -> CoverageResult:
    """Coverage probability (CP) of the allowance.

    ``"empirical"``: mean of ``1{|pred - ref| <= delta·|ref|}`` (or ``<= delta`` when
    ``relative=False``) with a two-sided Wilson (or Clopper-Pearson) interval.
    ``"lin"``: Lin et al. (2002) normal-theory CP for the allowance
    ``kappa = delta·|mean(ref)|`` (or ``delta``),
    ``Phi((kappa - mean d)/s) - Phi((-kappa - mean d)/s)`` with
    ``s² = Σ(d - mean d)²/(n - 3)``, and its one-sided 1 - alpha lower limit on the
    logit scale (``ci_high`` is NaN).

    Parameters
    ----------
    predicted, reference : array-like
        Paired values.
    delta : float
        Allowance, a fraction of the reference (relative) or absolute; > 0.
    relative : bool
        Relative allowance.
    method : {"empirical", "lin"}
        Estimator.
    ci : {"wilson", "clopper_pearson"}
        Interval of the empirical CP.
    alpha : float
        Interval level.
    nan_policy : {"raise", "omit"}
        What to do with pairs holding a NaN.

    Returns
    -------
    CoverageResult

    Examples
    --------
    >>> from agreement import coverage_probability
    >>> coverage_probability([12.0, 9.0, 15.0, 10.0], [10.0, 10.0, 10.0, 10.0]).estimate
    0.75
    """
    alpha = check_alpha(alpha)
    check_choice("method", method, ("empirical", "lin"))
    check_choice("ci", ci, ("wilson", "clopper_pearson"))
    if isinstance(delta, bool) or not isinstance(delta, numbers.Real) or not delta > 0:
        raise ValueError(f"delta must be > 0, got {delta!r}")
    x, y = paired(predicted, reference, nan_policy)
    n = x.size
    ci_method = ci if method == "empirical" else "lin_logit_lower"
    known = dict(method=method, ci_method=ci_method)
    if method == "empirical":
        if n < 2:
            return CoverageResult.undefined(n, f"n = {n} < 2", delta=float(delta), **known)
        k = int(covered(x, y, delta, relative).sum())
        low, high = binomial_interval(k, n, alpha, ci)
        note = f"n = {n} < {MIN_N}: a proportion of {n} cases, the interval is wide" if n < MIN_N else ""
        return CoverageResult(k / n, low, high, n, float(delta), note=note, **known)
    if n < 4:
        return CoverageResult.undefined(n, f"n = {n} < 4 (Lin's CP needs n - 3 > 0)", **known)
    kappa = float(delta * abs(y.mean())) if relative else float(delta)
    if kappa == 0:
        note = "allowance is 0 (mean reference 0): not applicable"
        return CoverageResult.undefined(n, note, delta=kappa, **known)
    cp, low, note = lin_cp(x - y, kappa, alpha)
    return CoverageResult(cp, low, math.nan, n, kappa, note=note, **known)


__all__ = ["CoverageResult", "coverage_probability", "covered", "binomial_interval"]
