"""Lin's concordance correlation coefficient with Fisher-z or bootstrap intervals."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

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
)


@dataclass(frozen=True, repr=False)
class CCCResult(Result):
    """Lin's CCC, its interval, Pearson r (precision) and C_b (accuracy)."""

    estimate: float
    ci_low: float
    ci_high: float
    pearson_r: float
    accuracy: float
    n: int
    strength: str
    ci_method: str = "fisher_z"
    note: str = ""

    def __repr__(self) -> str:
        text = (
            f"CCCResult(estimate={fmt(self.estimate, 4)}, ci=[{fmt(self.ci_low, 4)}, "
            f"{fmt(self.ci_high, 4)}] ({self.ci_method}), r={fmt(self.pearson_r, 4)}, "
            f"C_b={fmt(self.accuracy, 4)}, n={self.n}, strength={self.strength!r}"
        )
        return text + (f", note={self.note!r})" if self.note else ")")


def strength_label(value: float) -> str:
    """McBride (2005) strength of agreement for a CCC value.

    ``> 0.99`` almost perfect, ``0.95–0.99`` substantial, ``0.90–0.95`` moderate,
    ``< 0.90`` poor; ``""`` for NaN.

    Examples
    --------
    >>> strength_label(0.97)
    'substantial'
    """
    if value is None or math.isnan(value):
        return ""
    if value > 0.99:
        return "almost perfect"
    if value >= 0.95:
        return "substantial"
    if value >= 0.90:
        return "moderate"
    return "poor"


def ccc_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Lin's CCC of each row of ``x`` and ``y`` (population moments); NaN when undefined.

    Examples
    --------
    >>> ccc_rows(np.array([[1.0, 2.0, 3.0]]), np.array([[1.0, 2.0, 3.0]])).tolist()
    [1.0]
    """
    mx = x.mean(axis=-1, keepdims=True)
    my = y.mean(axis=-1, keepdims=True)
    dx = x - mx
    dy = y - my
    sxx = np.einsum("...i,...i->...", dx, dx) / x.shape[-1]
    syy = np.einsum("...i,...i->...", dy, dy) / x.shape[-1]
    sxy = np.einsum("...i,...i->...", dx, dy) / x.shape[-1]
    den = sxx + syy + (mx[..., 0] - my[..., 0]) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, 2 * sxy / np.where(den > 0, den, 1.0), np.nan)


def bootstrap_ccc_ci(
    x: np.ndarray, y: np.ndarray, counts: np.ndarray, alpha: float
) -> tuple[float, float, str]:
    """Percentile bootstrap interval of the CCC from resample ``counts`` (n_resamples, n).

    Moments of all resamples come from one matrix product (values shifted by a common
    constant, which leaves the CCC unchanged). Resamples in which the predicted or the
    reference values are all equal are left out (counted in the note).
    """
    scale = pow2_scale(x, y)  # exact rescaling: no overflow of the moments
    x, y = x * scale, y * scale
    n = x.size
    shift = (x.mean() + y.mean()) / 2
    xs, ys = x - shift, y - shift
    mom = counts @ np.column_stack([xs, ys, xs * xs, ys * ys, xs * ys]) / n
    mx, my = mom[:, 0], mom[:, 1]
    sxx = np.maximum(mom[:, 2] - mx * mx, 0.0)
    syy = np.maximum(mom[:, 3] - my * my, 0.0)
    sxy = mom[:, 4] - mx * my
    constant = _constant_rows(x, counts) | _constant_rows(y, counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        boot = np.where(constant, np.nan, 2 * sxy / (sxx + syy + (mx - my) ** 2))
    ok = np.isfinite(boot)
    if not ok.any():
        return math.nan, math.nan, "every bootstrap resample is constant"
    low, high = np.quantile(boot[ok], [alpha / 2, 1 - alpha / 2])
    note = "" if ok.all() else f"{int((~ok).sum())} constant resamples left out of the bootstrap"
    return float(low), float(high), note


def _constant_rows(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """True for resamples that hold a single distinct value."""
    n = values.size
    _, labels = np.unique(values, return_inverse=True)
    if labels.max() == n - 1:  # all values distinct
        return counts.max(axis=1) == n
    per_value = counts @ np.eye(labels.max() + 1)[labels]
    return per_value.max(axis=1) == n


def _fisher_z_interval(
    rho_c: float, r: float, c_b: float, u: float, n: int, alpha: float
) -> tuple[float, float]:
    """Lin (1989, 2000) asymptotic SE on the z = atanh(rho_c) scale, as epiR ``epi.ccc``.

    Written with C_b = rho_c / r so that r = 0 needs no division.
    """
    var = (
        (1 - r**2) * c_b**2 * (1 - rho_c**2)
        + 2 * rho_c**2 * (1 - rho_c) * u**2 * c_b
        - 0.5 * rho_c**2 * c_b**2 * u**4
    ) / (n - 2)
    se_z = math.sqrt(max(var, 0.0)) / (1 - rho_c**2)
    z = math.atanh(rho_c)
    q = special.ndtri(1 - alpha / 2)
    return math.tanh(z - q * se_z), math.tanh(z + q * se_z)


@renamed_keywords(n_boot="n_resamples")
def ccc(
    predicted: ArrayLike,
    reference: ArrayLike,
    *,
    alpha: float = DEFAULTS.alpha,
    ci: Literal["fisher_z", "bootstrap"] = "fisher_z",
    n_resamples: int = 2000,
    seed: int | None = DEFAULTS.seed,
    nan_policy: NanPolicy = "raise",
) -> CCCResult:
    """Lin's (1989) concordance correlation coefficient.

    ``rho_c = 2 s_xy / (s_x^2 + s_y^2 + (mean_x - mean_y)^2)`` with population
    (divisor n) moments. The interval is Fisher-z with Lin's asymptotic variance
    (as R ``epiR::epi.ccc(ci = "z-transform")``) or a seeded percentile bootstrap
    over cases. ``accuracy`` is C_b = rho_c / r.

    Parameters
    ----------
    predicted, reference : array-like
        Paired values of equal length.
    alpha : float
        Two-sided 1 - alpha interval.
    ci : {"fisher_z", "bootstrap"}
        Interval method.
    n_resamples, seed : int
        Resamples and seed for ``ci="bootstrap"``.
    nan_policy : {"raise", "omit"}
        What to do with pairs holding a NaN.

    Returns
    -------
    CCCResult
        NaN fields and a ``note`` for n < 2 or constant data. With n = 2 the estimate,
        Pearson r (±1) and C_b are returned and the interval is NaN (Lin's variance divides
        by n - 2; two cases give no bootstrap either), with a note.

    Examples
    --------
    >>> from agreement import ccc
    >>> res = ccc([1.2, 2.5, 2.9, 4.4, 5.1], [1.0, 2.0, 3.0, 4.0, 5.0])
    >>> round(res.estimate, 4), res.n
    (0.9763, 5)
    """
    alpha = check_alpha(alpha)
    check_choice("ci", ci, ("fisher_z", "bootstrap"))
    if ci == "bootstrap":
        n_resamples = check_n_boot(n_resamples)
    x, y = paired(predicted, reference, nan_policy)
    scale = pow2_scale(x, y)  # CCC is scale invariant; avoids overflow of the moments
    x, y = x * scale, y * scale
    n = x.size
    if n < 2:
        return CCCResult.undefined(n, f"n = {n} < 2", ci_method=ci)
    sx2, sy2 = x.var(), y.var()
    if sx2 == 0 and sy2 == 0:
        return CCCResult.undefined(n, "predicted and reference are both constant", ci_method=ci)
    rho_c = float(ccc_rows(x, y))
    if sx2 == 0 or sy2 == 0:
        which = "predicted" if sx2 == 0 else "reference"
        return CCCResult(
            rho_c, math.nan, math.nan, math.nan, math.nan, n, strength_label(rho_c), ci,
            note=f"{which} is constant: Pearson r, C_b and the interval are undefined",
        )  # fmt: skip
    r = float(np.corrcoef(x, y)[0, 1])
    accuracy = 2 * math.sqrt(sx2 * sy2) / (sx2 + sy2 + (x.mean() - y.mean()) ** 2)
    note = ""
    if n < MIN_N:
        low = high = math.nan
        note = f"n = {n} < {MIN_N}: the interval is undefined"
    elif ci == "fisher_z":
        if abs(rho_c) >= 1 - 1e-12:
            low = high = float(np.sign(rho_c))
            note = "perfect concordance: the Fisher-z interval is degenerate"
        else:
            u = (x.mean() - y.mean()) / (sx2 * sy2) ** 0.25
            low, high = _fisher_z_interval(rho_c, r, accuracy, u, n, alpha)
    else:
        low, high, note = bootstrap_ccc_ci(x, y, resample_counts(n, n_resamples, seed), alpha)
    return CCCResult(rho_c, low, high, r, accuracy, n, strength_label(rho_c), ci, note)
