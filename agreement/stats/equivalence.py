"""Two one-sided t-tests (TOST) for equivalence of paired measurements."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from numpy.typing import ArrayLike
from scipy import special

from agreement.options import DEFAULTS
from agreement.stats._common import (
    MIN_N,
    NanPolicy,
    Result,
    check_alpha,
    fmt,
    paired,
    pow2_scale,
    sd1,
)


@dataclass(frozen=True, repr=False)
class TOSTResult(Result):
    """Paired TOST: mean difference, its 1 - 2 alpha CI, bounds, both one-sided p."""

    mean_diff: float
    ci_low: float
    ci_high: float
    lower: float
    upper: float
    p_lower: float
    p_upper: float
    p_value: float
    equivalent: bool
    n: int
    df: float = math.nan
    note: str = ""

    def __repr__(self) -> str:
        text = (
            f"TOSTResult(mean_diff={fmt(self.mean_diff, 4)}, ci=[{fmt(self.ci_low, 4)}, "
            f"{fmt(self.ci_high, 4)}], bounds=({fmt(self.lower, 4)}, {fmt(self.upper, 4)}), "
            f"p={fmt(self.p_value, 3)}, equivalent={self.equivalent}, n={self.n}"
        )
        return text + (f", note={self.note!r})" if self.note else ")")


def tost(
    predicted: ArrayLike,
    reference: ArrayLike,
    *,
    margin: float = DEFAULTS.margin,
    relative: bool = DEFAULTS.relative,
    alpha: float = DEFAULTS.alpha,
    nan_policy: NanPolicy = "raise",
) -> TOSTResult:
    """Equivalence of predicted and reference by two one-sided paired t-tests.

    Differences ``d = predicted - reference``; bound ``Delta = margin * |mean(reference)|``
    (``relative=True``) or ``margin`` itself. ``p_lower`` tests H0: mean(d) <= -Delta,
    ``p_upper`` tests H0: mean(d) >= Delta (t with n - 1 df; statsmodels' ``ttost_paired``);
    ``p_value`` is the larger.
    ``equivalent`` is True when both p < alpha and the 1 - 2 alpha CI of mean(d) lies
    inside (-Delta, Delta) (Schuirmann 1987; the two conditions coincide). It is always a
    ``bool``: where the test cannot show equivalence (n < 3, Delta = 0) it is ``False`` with a
    ``note``; with constant differences (SD 0) the p-values are undefined and the verdict is
    the interval's, a point: ``-Delta < mean(d) < Delta``.

    Parameters
    ----------
    predicted, reference : array-like
        Paired values.
    margin : float
        Relative (fraction of |mean(reference)|) or absolute bound, > 0.
    relative : bool
        Interpret ``margin`` as a fraction of |mean(reference)|.
    alpha : float
        Level of each one-sided test, in (0, 0.5).
    nan_policy : {"raise", "omit"}
        What to do with pairs holding a NaN.

    Returns
    -------
    TOSTResult
        NaN p-values (and ``equivalent=False`` unless SD of d = 0) with a note when
        Delta = 0, SD of d = 0 or n < 3.

    Examples
    --------
    >>> from agreement import tost
    >>> res = tost([10.2, 9.8, 11.1, 10.4, 9.9], [10.0, 10.0, 11.0, 10.5, 10.0])
    >>> res.equivalent, round(res.upper, 2)
    (True, 2.06)
    """
    alpha = check_alpha(alpha, upper=0.5)
    if isinstance(margin, bool) or not isinstance(margin, numbers.Real) or not margin > 0:
        raise ValueError(f"margin must be > 0, got {margin!r}")
    x, y = paired(predicted, reference, nan_policy)
    n = x.size
    if n < MIN_N:
        return TOSTResult.undefined(
            n, f"n = {n} < {MIN_N}: equivalence cannot be shown", equivalent=False
        )
    d = x - y
    mean_d = float(d.mean())
    bound = float(margin * abs(y.mean())) if relative else float(margin)
    sd = sd1(d)
    df = n - 1
    se = sd / math.sqrt(n)
    half = float(special.stdtrit(df, 1 - alpha)) * se
    ci_low, ci_high = mean_d - half, mean_d + half
    known = dict(mean_diff=mean_d, ci_low=ci_low, ci_high=ci_high, df=float(df))
    if bound == 0:
        note = "equivalence bound is 0 (mean reference 0): equivalence cannot be shown"
        return TOSTResult.undefined(n, note, lower=0.0, upper=0.0, equivalent=False, **known)
    if sd == 0:
        note = (
            "differences are constant (SD 0): the t-tests are undefined; the verdict is the "
            "interval's (a point)"
        )
        inside = bool(-bound < mean_d < bound)
        return TOSTResult.undefined(n, note, lower=-bound, upper=bound, equivalent=inside, **known)
    from statsmodels.stats.weightstats import ttost_paired

    s = pow2_scale(x, y)  # exact rescaling (TOST is scale invariant): no overflow
    p_value, (_, p_lower, _), (_, p_upper, _) = ttost_paired(x * s, y * s, -bound * s, bound * s)
    p_lower, p_upper, p_value = float(p_lower), float(p_upper), float(p_value)
    equivalent = bool(p_lower < alpha and p_upper < alpha and -bound < ci_low and ci_high < bound)
    return TOSTResult(
        mean_d,
        ci_low,
        ci_high,
        -bound,
        bound,
        p_lower,
        p_upper,
        p_value,
        equivalent,
        n,
        df=float(df),
    )
