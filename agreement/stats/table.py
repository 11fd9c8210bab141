"""The agreement table: every statistic for every (method, metric) at once."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from agreement.deprecation import renamed_keywords
from agreement.options import StatsOptions, resolve
from agreement.stats._common import resample_counts
from agreement.stats.registry import STATISTICS
from agreement.tables import CANONICAL_UNITS, split_method, validate_measurements

#: The agreement table's columns: the group's, each statistic's (registry order), the rest.
COLUMNS = [
    "method", "metric", "network", "loss", "unit", "n",
    *(c for s in STATISTICS.values() for c in s.columns),
    "mean_reference", "note",
]  # fmt: skip


def _first(group: pd.DataFrame, column: str) -> Any:
    if column not in group.columns:
        return None
    values = group[column].dropna()
    return values.iloc[0] if len(values) else None


def _row(
    method: str, metric: str, group: pd.DataFrame, opts: StatsOptions, counts: np.ndarray | None
) -> dict[str, Any]:
    x = group["predicted"].to_numpy(float)
    y = group["reference"].to_numpy(float)
    network, loss = split_method(method)
    unit = _first(group, "unit")
    row: dict[str, Any] = {
        "method": method,
        "metric": metric,
        "network": _first(group, "network") or network,
        "loss": _first(group, "loss") or loss,
        "unit": unit if unit is not None else CANONICAL_UNITS.get(metric, ""),
        "n": int(x.size),
    }
    notes, boot_notes = [], []
    for stat in STATISTICS.values():
        result, boot_note = stat.compute(x, y, opts, counts)
        row.update(stat.values(result))
        if result.note:  # type: ignore[attr-defined]
            notes.append(f"{stat.prefix}: {result.note}")  # type: ignore[attr-defined]
        if boot_note:
            boot_notes.append(f"{stat.prefix} bootstrap: {boot_note}")
    row["mean_reference"] = float(y.mean()) if y.size else math.nan
    row["note"] = "; ".join(notes + boot_notes)
    return row


@renamed_keywords(bootstrap="n_resamples")
def agreement_table(
    measurements: pd.DataFrame, *, options: StatsOptions | None = None, **overrides: Any
) -> pd.DataFrame:
    """Agreement statistics for every (method, metric) of a measurements table.

    One row per (method, metric) in order of first appearance, with the columns of
    ``COLUMNS``: those of every statistic of :data:`agreement.stats.STATISTICS` — Lin's CCC
    (Fisher-z interval), paired TOST (bound ``margin`` × |mean reference|), Bland-Altman
    (limit intervals by ``loa_ci``; slope of d on ``x``), empirical CP (allowance ``delta`` ×
    |reference|, Wilson interval), empirical TDI at ``tdi_p`` and ICC(A,1) (F interval).
    With ``n_resamples=N > 0`` the CCC interval and the TDI upper limit come from N seeded
    case resamples (one index matrix per group size, all resamples computed at once); with
    ``n_resamples=0`` ``tdi_ci_high`` is NaN.

    Parameters
    ----------
    measurements : DataFrame
        Columns ``case_id, method, metric, reference, predicted`` (+ optional
        ``network, loss, fold, unit``).
    options : StatsOptions, optional
        The statistics' options (defaults: ``StatsOptions()``).
    **overrides
        Fields of :class:`~agreement.StatsOptions` replacing those of ``options``
        (``alpha``, ``margin``, ``delta``, ``tdi_p``, ``n_resamples``, ``seed``,
        ``relative``, ``x``, ``loa_ci``, ``nan_policy``). ``bootstrap=`` is the deprecated
        spelling of ``n_resamples=``.

    Returns
    -------
    DataFrame

    Examples
    --------
    >>> import pandas as pd
    >>> from agreement import agreement_table
    >>> df = pd.DataFrame({"case_id": list("abcde"), "method": "unet/dice", "metric": "tmtv",
    ...                    "reference": [10.0, 12.0, 8.0, 20.0, 15.0],
    ...                    "predicted": [11.0, 11.5, 8.4, 19.0, 16.0]})
    >>> row = agreement_table(df).iloc[0]
    >>> row["network"], row["unit"], int(row["n"]), float(round(row["ccc"], 3))
    ('unet', 'ml', 5, 0.979)
    """
    opts = resolve(options, overrides)
    table = validate_measurements(
        measurements, source="measurements", nan_policy=opts.nan_policy, check_pairing=False
    )
    cache: dict[int, np.ndarray] = {}  # one resample-count matrix per group size
    rows = []
    for (method, metric), group in table.groupby(["method", "metric"], sort=False):
        counts = None
        if opts.n_resamples:
            n = len(group)
            if n not in cache:
                cache[n] = resample_counts(n, opts.n_resamples, opts.seed)
            counts = cache[n]
        rows.append(_row(str(method), str(metric), group, opts, counts))
    return pd.DataFrame(rows, columns=COLUMNS)
