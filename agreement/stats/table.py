"""The agreement table: every statistic for every (method, metric) at once."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from agreement.deprecation import renamed_keywords
from agreement.options import StatsOptions, resolve
from agreement.stats._common import prefixed, resample_counts
from agreement.stats.bland_altman import bland_altman
from agreement.stats.ccc import bootstrap_ccc_ci, ccc
from agreement.stats.coverage import coverage_probability
from agreement.stats.equivalence import tost
from agreement.stats.tdi import bootstrap_tdi_upper, tdi
from agreement.tables import CANONICAL_UNITS, split_method, validate_measurements

COLUMNS = [
    "method", "metric", "network", "loss", "unit", "n",
    "ccc", "ccc_ci_low", "ccc_ci_high", "ccc_pearson_r", "ccc_accuracy", "ccc_strength",
    "tost_mean_diff", "tost_ci_low", "tost_ci_high", "tost_lower", "tost_upper",
    "tost_p_lower", "tost_p_upper", "tost_p", "equivalent",
    "ba_bias", "ba_sd", "ba_loa_low", "ba_loa_high", "ba_bias_ci_low", "ba_bias_ci_high",
    "ba_loa_low_ci_low", "ba_loa_low_ci_high", "ba_loa_high_ci_low", "ba_loa_high_ci_high",
    "ba_slope", "ba_slope_p",
    "cp", "cp_ci_low", "cp_ci_high", "tdi", "tdi_ci_high", "mean_reference", "note",
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
    alpha, relative = opts.alpha, opts.relative
    c = ccc(x, y, alpha=alpha)
    t = tost(x, y, margin=opts.margin, relative=relative, alpha=alpha)
    b = bland_altman(x, y, alpha=alpha, x=opts.x, loa_ci=opts.loa_ci)
    cp = coverage_probability(x, y, delta=opts.delta, relative=relative, alpha=alpha)
    td = tdi(x, y, p=opts.tdi_p, alpha=alpha, n_resamples=0)
    ccc_low, ccc_high, tdi_high, boot_note = c.ci_low, c.ci_high, td.ci_high, ""
    if counts is not None and x.size >= 3:
        tdi_high = bootstrap_tdi_upper(np.abs(x - y), counts, opts.tdi_p, alpha)
        if not math.isnan(c.estimate) and not math.isnan(c.pearson_r):
            ccc_low, ccc_high, boot_note = bootstrap_ccc_ci(x, y, counts, alpha)
    network, loss = split_method(method)
    unit = _first(group, "unit")
    notes = [
        f"{name}: {res.note}"
        for name, res in (("ccc", c), ("tost", t), ("ba", b), ("cp", cp), ("tdi", td))
        if res.note
    ]
    if boot_note:
        notes.append(f"ccc bootstrap: {boot_note}")
    row: dict[str, Any] = {
        "method": method,
        "metric": metric,
        "network": _first(group, "network") or network,
        "loss": _first(group, "loss") or loss,
        "unit": unit if unit is not None else CANONICAL_UNITS.get(metric, ""),
        "n": int(x.size),
        **prefixed("ccc", {k: v for k, v in c.to_dict().items() if k not in ("n", "note", "ci_method")}),
        "ccc_ci_low": ccc_low,
        "ccc_ci_high": ccc_high,
        **prefixed("tost", {k: getattr(t, k) for k in ("mean_diff", "ci_low", "ci_high", "lower", "upper", "p_lower", "p_upper")}),
        "tost_p": t.p_value,
        "equivalent": t.equivalent,
        "ba_bias": b.bias, "ba_sd": b.sd, "ba_loa_low": b.loa_low, "ba_loa_high": b.loa_high,
        "ba_bias_ci_low": b.bias_ci[0], "ba_bias_ci_high": b.bias_ci[1],
        "ba_loa_low_ci_low": b.loa_low_ci[0], "ba_loa_low_ci_high": b.loa_low_ci[1],
        "ba_loa_high_ci_low": b.loa_high_ci[0], "ba_loa_high_ci_high": b.loa_high_ci[1],
        "ba_slope": b.slope, "ba_slope_p": b.slope_p,
        "cp": cp.estimate, "cp_ci_low": cp.ci_low, "cp_ci_high": cp.ci_high,
        "tdi": td.estimate, "tdi_ci_high": tdi_high,
        "mean_reference": float(y.mean()) if y.size else math.nan,
        "note": "; ".join(notes),
    }  # fmt: skip
    return row


@renamed_keywords(bootstrap="n_resamples")
def agreement_table(
    measurements: pd.DataFrame, *, options: StatsOptions | None = None, **overrides: Any
) -> pd.DataFrame:
    """Agreement statistics for every (method, metric) of a measurements table.

    One row per (method, metric) in order of first appearance, with the columns of
    ``COLUMNS``: Lin's CCC (Fisher-z interval), paired TOST (bound ``margin`` ×
    |mean reference|), Bland-Altman (limit intervals by ``loa_ci``; slope of d on ``x``),
    empirical CP (allowance ``delta`` × |reference|, Wilson interval) and empirical TDI
    at ``tdi_p``. With ``n_resamples=N > 0`` the CCC interval and the TDI upper limit
    come from N seeded case resamples (one index matrix per group size, all resamples
    computed at once); with ``n_resamples=0`` ``tdi_ci_high`` is NaN.

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
