"""What the numbers mean, in words: one verdict per method, and the cases that differ most.

The verdict rule (documented in docs/report.md, "Verdicts"): a method is *interchangeable with
the reference* for a metric when Lin's CCC is at least :data:`CCC_THRESHOLD` (0.90, the lower
edge of McBride's "moderate") **and** the TOST shows the mean difference equivalent within ±Δ.
A metric fails when either does not hold; the sentence then says why (the CCC below 0.90, not
shown equivalent) and in which direction the method errs on average (the mean of predicted −
reference). A metric whose CCC or TOST cannot be estimated (fewer than 3 cases, no spread) is
*not assessable*, and so is one with fewer than 3 paired cases whatever the table holds.
Nothing here computes a statistic: the inputs are the agreement table's columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from agreement.format import short
from agreement.options import DEFAULTS
from agreement.tables import METRIC_LABELS, METRICS

#: Lowest CCC called interchangeable (McBride 2005: 0.90–0.95 "moderate").
CCC_THRESHOLD = 0.90


@dataclass(frozen=True)
class Verdict:
    """A method's verdict: the metrics it agrees on, fails, or that cannot be judged."""

    method: str
    sentence: str
    interchangeable: tuple[str, ...]
    not_interchangeable: tuple[str, ...]
    not_assessable: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _label(metric: str) -> str:
    return str(METRIC_LABELS.get(metric, metric))


def _join(items: Sequence[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


_number = short


def _as_bool(value: object) -> bool | None:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _reason(row: dict[str, object]) -> str:
    ccc = float(row.get("ccc", np.nan))
    diff = float(pd.to_numeric(row.get("tost_mean_diff", np.nan), errors="coerce"))
    unit = row.get("unit")
    unit_text = f" {unit}" if isinstance(unit, str) and unit and unit != "count" else ""
    parts = []
    if np.isfinite(diff) and diff != 0:
        way = "under" if diff < 0 else "over"
        parts.append(f"{way}-estimates by {_number(abs(diff))}{unit_text} on average")
    if ccc < CCC_THRESHOLD:
        parts.append(f"CCC {ccc:.2f}")
    if _as_bool(row.get("equivalent")) is False:
        parts.append("not equivalent")
    return f"{_label(str(row['metric']))} ({', '.join(parts)})"


def method_verdicts(
    agreement: pd.DataFrame, *, margin: float = DEFAULTS.margin
) -> list[Verdict]:
    """One :class:`Verdict` per method of an agreement table, by the rule of this module.

    Parameters
    ----------
    agreement : DataFrame
        The agreement table (``method, metric, ccc, equivalent, tost_mean_diff``; ``unit``
        optional).
    margin : float
        The TOST margin the table was computed with (0.2 = ±20% of the mean reference).

    Returns
    -------
    list of Verdict
        In the order the methods first appear; metrics in the papers' order.

    Examples
    --------
    >>> t = pd.DataFrame({"method": "unet/l1dfl", "metric": ["suv_max", "tmtv"],
    ...                   "unit": ["SUV", "ml"], "ccc": [0.97, 0.85],
    ...                   "equivalent": [True, False], "tost_mean_diff": [0.1, -2.31]})
    >>> print(method_verdicts(t)[0].sentence)
    unet/l1dfl: interchangeable with the reference for SUVmax (CCC ≥ 0.90, equivalent within ±20%); not for TMTV (under-estimates by 2.3 ml on average, CCC 0.85, not equivalent).
    """
    order = {m: i for i, m in enumerate(METRICS)}
    out = []
    for method in dict.fromkeys(agreement["method"].astype(str)):
        rows = agreement[agreement["method"].astype(str) == method].to_dict("records")
        rows.sort(key=lambda r: (order.get(str(r["metric"]), len(order)), str(r["metric"])))
        good, bad, unknown = [], [], []
        for r in rows:
            ccc = float(pd.to_numeric(r.get("ccc", np.nan), errors="coerce"))
            equivalent = _as_bool(r.get("equivalent"))
            n = float(pd.to_numeric(r.get("n", np.nan), errors="coerce"))
            if not np.isfinite(ccc) or equivalent is None or n < 3:
                unknown.append(r)
            elif ccc >= CCC_THRESHOLD and equivalent:
                good.append(r)
            else:
                bad.append(r)
        pieces = []
        if good:
            pieces.append(
                f"interchangeable with the reference for "
                f"{_join([_label(str(r['metric'])) for r in good])} "
                f"(CCC ≥ {CCC_THRESHOLD:.2f}, equivalent within ±{100 * margin:.4g}%)"
            )
        if bad:
            lead = "not for " if good else "not interchangeable with the reference for "
            pieces.append(lead + _join([_reason(r) for r in bad]))
        if unknown:
            pieces.append(
                "not assessable for "
                + _join([_label(str(r["metric"])) for r in unknown])
                + " (fewer than 3 paired cases or no spread)"
            )
        sentence = f"{method}: " + ("; ".join(pieces) if pieces else "no metric to judge") + "."
        out.append(
            Verdict(
                method,
                sentence,
                tuple(str(r["metric"]) for r in good),
                tuple(str(r["metric"]) for r in bad),
                tuple(str(r["metric"]) for r in unknown),
            )
        )
    return out


def outliers(measurements: pd.DataFrame, *, k: int = 5) -> pd.DataFrame:
    """Per metric, the ``k`` (case, method) pairs with the largest absolute difference.

    Parameters
    ----------
    measurements : DataFrame
        ``case_id, method, metric, reference, predicted``.
    k : int
        Rows kept per metric.

    Returns
    -------
    DataFrame
        ``metric, rank, case_id, method, reference, predicted, difference`` (predicted −
        reference), largest |difference| first within each metric; ties by case id then method.

    Examples
    --------
    >>> m = pd.DataFrame({"case_id": ["a", "b", "c"], "method": "x", "metric": "tmtv",
    ...                   "reference": [10.0, 5.0, 8.0], "predicted": [12.0, 1.0, 8.5]})
    >>> outliers(m, k=2)[["case_id", "difference"]].values.tolist()
    [['b', -4.0], ['a', 2.0]]
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k!r}")
    t = measurements[["case_id", "method", "metric", "reference", "predicted"]].copy()
    t["reference"] = pd.to_numeric(t["reference"], errors="coerce")
    t["predicted"] = pd.to_numeric(t["predicted"], errors="coerce")
    t["difference"] = t["predicted"] - t["reference"]
    t = t[t["difference"].notna()]
    t["_abs"] = t["difference"].abs()
    t = t.sort_values(["metric", "_abs", "case_id", "method"], ascending=[True, False, True, True])
    top = t.groupby("metric", sort=False).head(k).copy()
    top["rank"] = top.groupby("metric").cumcount() + 1
    order = {m: i for i, m in enumerate(METRICS)}
    top["_order"] = top["metric"].map(lambda m: order.get(m, len(order)))
    top = top.sort_values(["_order", "metric", "rank"], kind="stable")
    cols = ["metric", "rank", "case_id", "method", "reference", "predicted", "difference"]
    return top[cols].reset_index(drop=True)


__all__ = ["CCC_THRESHOLD", "Verdict", "method_verdicts", "outliers"]
