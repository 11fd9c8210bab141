"""Is method A's agreement better than method B's? Paired bootstrap over cases."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from agreement.deprecation import renamed_keywords
from agreement.options import StatsOptions, resolve
from agreement.stats._common import (
    MIN_N,
    Result,
    bootstrap_indices,
    check_choice,
    fmt,
    pow2_scale,
    quantile_rows,
)
from agreement.stats.ccc import ccc_rows
from agreement.stats.coverage import covered
from agreement.tables import validate_measurements

STATS = ("ccc", "abs_bias", "loa_width", "cp", "tdi", "mae")


@dataclass(frozen=True, repr=False)
class CompareResult(Result):
    """Difference ``stat(a) - stat(b)`` on the common cases, with bootstrap CI and p."""

    estimate: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    stat: str = ""
    metric: str = ""
    a: str = ""
    b: str = ""
    stat_a: float = math.nan
    stat_b: float = math.nan
    n_boot: int = 0
    note: str = ""

    def __repr__(self) -> str:
        text = (
            f"CompareResult({self.stat}[{self.metric}]: {self.a} - {self.b} = "
            f"{fmt(self.estimate, 4)} [{fmt(self.ci_low, 4)}, {fmt(self.ci_high, 4)}], "
            f"p={fmt(self.p_value, 3)}, n={self.n}"
        )
        return text + (f", note={self.note!r})" if self.note else ")")


def _stat_rows(stat: str, delta: float, tdi_p: float, relative: bool) -> Callable[..., np.ndarray]:
    """Row-wise statistic of (predicted, reference) arrays shaped (..., n)."""

    def loa_width(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return 2 * 1.96 * (x - y).std(axis=-1, ddof=1)

    table: dict[str, Callable[..., np.ndarray]] = {
        "ccc": ccc_rows,
        "abs_bias": lambda x, y: np.abs((x - y).mean(axis=-1)),
        "loa_width": loa_width,
        "cp": lambda x, y: covered(x, y, delta, relative).mean(axis=-1),
        "tdi": lambda x, y: quantile_rows(np.abs(x - y), tdi_p),
        "mae": lambda x, y: np.abs(x - y).mean(axis=-1),
    }
    return table[stat]


def _paired_arrays(table: pd.DataFrame, metric: str, a: str, b: str) -> tuple[np.ndarray, ...]:
    """Predicted and reference of ``a`` and ``b`` on their common cases, in ``a``'s order.

    An inner join on ``case_id``, done with arrays (a pandas merge per comparison cost most of
    the comparisons' time); a case listed twice for one method falls back to the merge.
    """
    sub = table[table["metric"].to_numpy() == metric]
    method = sub["method"].to_numpy()
    left, right = sub[method == a], sub[method == b]
    ids_a, ids_b = left["case_id"].to_numpy(), right["case_id"].to_numpy()
    position = {case: i for i, case in enumerate(ids_b)}
    if len(position) < len(ids_b) or len(set(ids_a)) < len(ids_a):
        merged = left.merge(right, on="case_id", suffixes=("_a", "_b"))
        cols = ("predicted_a", "reference_a", "predicted_b", "reference_b")
        return tuple(merged[c].to_numpy(float) for c in cols) + (len(left), len(right))  # type: ignore[return-value]
    keep = np.array([case in position for case in ids_a], dtype=bool)
    take = np.array([position[case] for case in ids_a[keep]], dtype=int)
    arrays = (
        left["predicted"].to_numpy(float)[keep],
        left["reference"].to_numpy(float)[keep],
        right["predicted"].to_numpy(float)[take],
        right["reference"].to_numpy(float)[take],
    )
    return arrays + (len(left), len(right))  # type: ignore[return-value]


def _compare_one(
    table: pd.DataFrame, metric: str, a: str, b: str, stat: str, opts: dict
) -> CompareResult:
    xa, ya, xb, yb, na, nb = _paired_arrays(table, metric, a, b)
    n = xa.size
    known = dict(stat=stat, metric=metric, a=a, b=b, n_boot=opts["n_boot"])
    dropped = max(na, nb) - n
    note = f"{dropped} case(s) not measured for both methods left out" if dropped else ""
    if n < MIN_N:
        return CompareResult.undefined(
            n, "; ".join(filter(None, [f"n = {n} < {MIN_N}", note])), **known
        )
    f = _stat_rows(stat, opts["delta"], opts["tdi_p"], opts["relative"])
    scale = pow2_scale(xa, ya, xb, yb)  # exact rescaling: no overflow of the squares
    xa, ya, xb, yb = xa * scale, ya * scale, xb * scale, yb * scale
    unit = 1.0 if stat in ("ccc", "cp") else scale  # the others are in the data's unit
    with np.errstate(invalid="ignore", divide="ignore"):
        stat_a, stat_b = float(f(xa, ya)) / unit, float(f(xb, yb)) / unit
        idx = bootstrap_indices(n, opts["n_boot"], opts["seed"])
        diff = (f(xa[idx], ya[idx]) - f(xb[idx], yb[idx])) / unit
    ok = np.isfinite(diff)
    if math.isnan(stat_a) or math.isnan(stat_b) or not ok.any():
        return CompareResult.undefined(
            n, "; ".join(filter(None, [f"{stat} undefined for a method (constant data)", note])),
            stat_a=stat_a, stat_b=stat_b, **known,
        )  # fmt: skip
    if not ok.all():
        note = "; ".join(filter(None, [note, f"{int((~ok).sum())} undefined resamples left out"]))
    diff = diff[ok]
    alpha = opts["alpha"]
    low, high = np.quantile(diff, [alpha / 2, 1 - alpha / 2])
    total = diff.size
    p = 2 * min((1 + np.sum(diff <= 0)) / (total + 1), (1 + np.sum(diff >= 0)) / (total + 1))
    return CompareResult(
        stat_a - stat_b, float(low), float(high), float(min(1.0, p)), n,
        stat_a=stat_a, stat_b=stat_b, note=note, **known,
    )  # fmt: skip


@renamed_keywords(n_boot="n_resamples")
def compare_methods(
    measurements: pd.DataFrame,
    a: str,
    b: str,
    *,
    stat: str = "ccc",
    metric: str | None = None,
    n_resamples: int | None = None,
    options: StatsOptions | None = None,
    **overrides: Any,
) -> CompareResult | pd.DataFrame:
    """Paired bootstrap of ``stat(a) - stat(b)`` on the cases both methods measured.

    Cases are resampled jointly (the same resampled case ids for both methods), so the
    correlation between the methods is kept. ``ci_low, ci_high`` is the percentile
    interval; ``p_value`` is the two-sided bootstrap p,
    ``min(1, 2·min((1 + #{Δ* <= 0}), (1 + #{Δ* >= 0})) / (B + 1))``.
    Statistics: ``"ccc"`` (higher is better), ``"abs_bias"`` |mean d|, ``"loa_width"``
    2·1.96·SD(d), ``"cp"`` empirical CP at ``delta`` (higher is better), ``"tdi"``
    empirical TDI at ``tdi_p`` and ``"mae"`` mean |d| (lower is better).

    Parameters
    ----------
    measurements : DataFrame
        A measurements table.
    a, b : str
        Method names.
    stat : str
        One of ``STATS``.
    metric : str or None
        One metric (returns a ``CompareResult``) or None for every metric both methods
        have (returns a DataFrame, one row per metric).
    n_resamples : int, optional
        Resamples (default: ``options.compare_n_resamples``, 2000). ``n_boot=`` is its
        deprecated spelling.
    options : StatsOptions, optional
        ``seed``, ``alpha`` (two-sided interval level), ``delta``, ``tdi_p`` and ``relative``
        (knobs of ``cp`` and ``tdi``) come from here (defaults: ``StatsOptions()``).
    **overrides
        Fields of :class:`~agreement.StatsOptions` replacing those of ``options``.

    Returns
    -------
    CompareResult or DataFrame

    Examples
    --------
    >>> import pandas as pd
    >>> from agreement import compare_methods
    >>> ref = [10.0, 12.0, 8.0, 20.0, 15.0, 9.0]
    >>> df = pd.concat([
    ...     pd.DataFrame({"case_id": list("abcdef"), "method": "A", "metric": "tmtv",
    ...                   "reference": ref, "predicted": [10.5, 11.8, 8.1, 19.5, 15.2, 9.1]}),
    ...     pd.DataFrame({"case_id": list("abcdef"), "method": "B", "metric": "tmtv",
    ...                   "reference": ref, "predicted": [13.0, 9.0, 9.5, 24.0, 12.0, 11.0]})])
    >>> res = compare_methods(df, "A", "B", stat="mae", metric="tmtv", n_resamples=500)
    >>> round(res.estimate, 3), res.n
    (-2.483, 6)
    """
    check_choice("stat", stat, STATS)
    if n_resamples is not None:
        overrides["compare_n_resamples"] = n_resamples
    o = resolve(options, overrides)
    table = validate_measurements(measurements, source="measurements", check_pairing=False)
    methods = list(table["method"].unique())
    for name in (a, b):
        if name not in methods:
            raise ValueError(f"method {name!r} not in the table; have {', '.join(methods)}")
    if a == b:
        raise ValueError("a and b must be different methods")
    opts = dict(n_boot=o.compare_n_resamples, seed=o.seed, alpha=o.alpha, delta=o.delta,
                tdi_p=o.tdi_p, relative=o.relative)  # fmt: skip
    if metric is not None:
        have = set(table.loc[table["method"] == a, "metric"]) & set(
            table.loc[table["method"] == b, "metric"]
        )
        if metric not in have:
            raise ValueError(
                f"metric {metric!r} not measured for both methods; have {sorted(have)}"
            )
        return _compare_one(table, metric, a, b, stat, opts)
    metrics_a = list(dict.fromkeys(table.loc[table["method"] == a, "metric"]))
    metrics_b = set(table.loc[table["method"] == b, "metric"])
    rows = [_compare_one(table, m, a, b, stat, opts).to_dict() for m in metrics_a if m in metrics_b]
    columns = ["metric", "stat", "a", "b", "estimate", "ci_low", "ci_high", "p_value", "n",
               "stat_a", "stat_b", "n_boot", "note"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)
