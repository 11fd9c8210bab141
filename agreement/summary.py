"""Per-method summaries of the cases and lesions tables (pure pandas, no plotting).

These are the numbers behind Table I of Dzikunu et al. (paper 000) and Figs. 4-6 of the
L1DFL paper (paper 001). :mod:`figures` draws them; the HTML report prints them.

Conventions: SD with ``ddof=1``; quartiles with linear interpolation (NumPy's default,
R type 7); NaN values (e.g. DSC when both masks are empty) are left out of each statistic.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from agreement.tables import MISSING_COLUMNS, MISSING_STATUSES, split_method


def _with_keys(table: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``table`` with ``network`` and ``loss`` columns filled from ``method``."""
    out = table.copy()
    split = [split_method(m) for m in out["method"]]
    for i, col in enumerate(["network", "loss"]):
        parsed = pd.Series([s[i] for s in split], index=out.index, dtype=object)
        if col in out.columns:
            out[col] = out[col].astype(object).where(out[col].notna(), parsed)
        else:
            out[col] = parsed
    return out


def _require(table: pd.DataFrame, columns: Iterable[str], name: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{name} table: missing column(s) {', '.join(missing)}")


def _mean_sd(values: pd.Series) -> tuple[float, float]:
    v = pd.to_numeric(values, errors="coerce").dropna().to_numpy(float)
    mean = float(v.mean()) if v.size else np.nan
    sd = float(v.std(ddof=1)) if v.size > 1 else np.nan
    return mean, sd


def _median_iqr(values: pd.Series) -> tuple[float, float, float]:
    v = pd.to_numeric(values, errors="coerce").dropna().to_numpy(float)
    if not v.size:
        return np.nan, np.nan, np.nan
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    return float(med), float(q1), float(q3)


def _dsc_summary(values: pd.Series) -> dict[str, float]:
    """``dsc_mean, dsc_sd`` (ddof 1) and ``dsc_median, dsc_q1, dsc_q3`` of a DSC column."""
    mean, sd = _mean_sd(values)
    median, q1, q3 = _median_iqr(values)
    return {"dsc_mean": mean, "dsc_sd": sd, "dsc_median": median, "dsc_q1": q1, "dsc_q3": q3}


def detection_table(cases: pd.DataFrame) -> pd.DataFrame:
    """Table I of paper 000: DSC and detection rates per method.

    Per patient (one row of ``cases``): TP rate = TP / (TP + FN) (the lesion recall),
    FN rate = FN / (TP + FN) = 1 - TP rate, FP = the count of false-positive lesions, and
    F1 = TP / (TP + ½(FP + FN)) (the ``f1`` column). Each is then summarised over the
    patients of a method as mean ± SD (``ddof=1``), and DSC also as median [Q1, Q3].
    This is the aggregation of the authors' code (``notes/seed_code.md`` §8.1); it is why
    mean TP + mean FN = 1 in every row of paper 000 Table I, while mean FP can exceed 1.
    Patients without reference lesions (TP + FN = 0) have no TP/FN rate and are left out
    of those two means; NaN DSC or F1 are left out likewise.

    Parameters
    ----------
    cases : DataFrame
        The cases table: ``method, dsc, tp, fp, fn, f1`` (+ optional ``network, loss``).

    Returns
    -------
    DataFrame
        One row per method (in order of first appearance): ``method, network, loss, n,
        dsc_mean, dsc_sd, dsc_median, dsc_q1, dsc_q3, tp_rate_mean, tp_rate_sd, fp_mean,
        fp_sd, fn_rate_mean, fn_rate_sd, f1_mean, f1_sd``; ``n`` counts the cases.

    Examples
    --------
    >>> import pandas as pd
    >>> cases = pd.DataFrame({"method": ["unet/dice"] * 2, "dsc": [0.5, 0.7],
    ...                       "tp": [1, 1], "fp": [0, 2], "fn": [1, 0], "f1": [2 / 3, 0.5]})
    >>> row = detection_table(cases).iloc[0]
    >>> row["loss"], float(row["tp_rate_mean"]), float(row["fp_mean"])
    ('dice', 0.75, 1.0)
    """
    _require(cases, ["method", "dsc", "tp", "fp", "fn", "f1"], "cases")
    table = _with_keys(cases)
    tp = pd.to_numeric(table["tp"], errors="coerce")
    fn = pd.to_numeric(table["fn"], errors="coerce")
    positives = (tp + fn).where(lambda s: s > 0)
    table["_tp_rate"] = tp / positives
    table["_fn_rate"] = fn / positives
    rows = []
    for method, g in table.groupby("method", sort=False):
        rows.append(
            {
                "method": method,
                "network": g["network"].iloc[0],
                "loss": g["loss"].iloc[0],
                "n": len(g),
                **_dsc_summary(g["dsc"]),
                **dict(zip(["tp_rate_mean", "tp_rate_sd"], _mean_sd(g["_tp_rate"]), strict=False)),
                **dict(zip(["fp_mean", "fp_sd"], _mean_sd(g["fp"]), strict=False)),
                **dict(zip(["fn_rate_mean", "fn_rate_sd"], _mean_sd(g["_fn_rate"]), strict=False)),
                **dict(zip(["f1_mean", "f1_sd"], _mean_sd(g["f1"]), strict=False)),
            }
        )
    return pd.DataFrame(rows)


def overlap_summary(cases: pd.DataFrame) -> pd.DataFrame:
    """Per method: mean and SD of FPV and FNV (ml), and the share of cases where each is 0.

    Examples
    --------
    >>> c = pd.DataFrame({"method": ["m", "m"], "fpv": [0.0, 2.0], "fnv": [1.0, 1.0]})
    >>> overlap_summary(c).loc[0, ["fpv_mean", "fpv_sd", "fpv_zero"]].astype(float).round(4).tolist()
    [1.0, 1.4142, 0.5]
    """
    rows = []
    for method, g in cases.groupby("method", sort=False):
        row: dict[str, object] = {"method": str(method)}
        for name in ("fpv", "fnv"):
            values = pd.to_numeric(g[name], errors="coerce")
            row[f"{name}_mean"] = values.mean()
            row[f"{name}_sd"] = values.std(ddof=1)
            row[f"{name}_zero"] = float((values == 0).mean())
        rows.append(row)
    columns = ["method", "fpv_mean", "fpv_sd", "fpv_zero", "fnv_mean", "fnv_sd", "fnv_zero"]
    return pd.DataFrame(rows, columns=columns)


def lesion_summary(lesions: pd.DataFrame, cases: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per method: reference lesions found and missed, false-positive lesions, lesion DSC.

    ``sensitivity`` = detected / reference lesions; ``fp_per_case`` over the cases of the
    method (from ``cases`` when given); a missed reference lesion has lesion DSC 0; volumes are
    medians over the reference lesions detected and missed (ml). NaN where undefined.

    Examples
    --------
    >>> les = pd.DataFrame({"case_id": ["a"] * 3, "method": "m",
    ...     "side": ["reference", "reference", "predicted"], "status": ["tp", "fn", "fp"],
    ...     "volume": [2.0, 0.5, 1.0], "lesion_dsc": [0.8, np.nan, np.nan]})
    >>> lesion_summary(les).loc[0, ["reference", "tp", "fn", "fp", "sensitivity"]].astype(float).tolist()
    [2.0, 1.0, 1.0, 1.0, 0.5]
    """
    rows = []
    for method, g in lesions.groupby("method", sort=False):
        ref = g[g["side"] == "reference"]
        pred = g[g["side"] == "predicted"]
        tp = int((ref["status"] == "tp").sum())
        fn = int((ref["status"] == "fn").sum())
        fp = int((pred["status"] == "fp").sum())
        dsc = pd.to_numeric(ref["lesion_dsc"], errors="coerce")
        dsc = dsc.where(~(dsc.isna() & (ref["status"] == "fn")), 0.0)
        n_cases = (
            cases.loc[cases["method"] == method, "case_id"].nunique()
            if cases is not None and "case_id" in cases
            else g["case_id"].nunique()
        )
        vol = pd.to_numeric(ref["volume"], errors="coerce")
        rows.append(
            {
                "method": str(method),
                "reference": len(ref),
                "tp": tp,
                "fn": fn,
                "fp": fp,
                "sensitivity": tp / (tp + fn) if tp + fn else np.nan,
                "fp_per_case": fp / n_cases if n_cases else np.nan,
                "lesion_dsc_median": float(dsc.median()) if dsc.notna().any() else np.nan,
                "volume_detected_median": float(vol[ref["status"] == "tp"].median())
                if tp
                else np.nan,
                "volume_missed_median": float(vol[ref["status"] == "fn"].median())
                if fn
                else np.nan,
            }
        )
    return pd.DataFrame(rows)


def scenario_groups(n_reference_lesions: ArrayLike) -> np.ndarray:
    """Lesion scenario of each case from its number of reference lesions (paper 001 §2.7).

    ``0`` → ``"none"``, ``1`` → ``"single"``, ``> 1`` → ``"multiple"``; NaN → ``""``.

    Examples
    --------
    >>> scenario_groups([0, 1, 3]).tolist()
    ['none', 'single', 'multiple']
    """
    n = np.asarray(n_reference_lesions, dtype=float)
    out = np.full(n.shape, "", dtype=object)
    out[n == 0] = "none"
    out[n == 1] = "single"
    out[n > 1] = "multiple"
    return out


def _scenarios(cases: pd.DataFrame) -> pd.Series:
    if "scenario" in cases.columns:
        return cases["scenario"].astype(object)
    _require(cases, ["n_reference_lesions"], "cases")
    return pd.Series(scenario_groups(cases["n_reference_lesions"]), index=cases.index)


def dsc_by_scenario(cases: pd.DataFrame) -> pd.DataFrame:
    """DSC per method and lesion scenario (paper 001 Fig. 4): n, mean ± SD, median [IQR].

    The scenario is the ``scenario`` column of ``cases`` or, when absent,
    :func:`scenario_groups` of ``n_reference_lesions``.

    Examples
    --------
    >>> import pandas as pd
    >>> cases = pd.DataFrame({"method": ["a"] * 3, "dsc": [0.2, 0.4, 0.9],
    ...                       "scenario": ["single", "single", "multiple"]})
    >>> dsc_by_scenario(cases)[["scenario", "n", "dsc_median"]].to_dict("list")
    {'scenario': ['single', 'multiple'], 'n': [2, 1], 'dsc_median': [0.3..., 0.9]}
    """
    _require(cases, ["method", "dsc"], "cases")
    table = _with_keys(cases)
    table["scenario"] = _scenarios(cases)
    rows = []
    for (method, scenario), g in table.groupby(["method", "scenario"], sort=False):
        rows.append(
            {
                "method": method,
                "network": g["network"].iloc[0],
                "loss": g["loss"].iloc[0],
                "scenario": scenario,
                "n": len(g),
                **_dsc_summary(g["dsc"]),
            }
        )
    return pd.DataFrame(rows)


def tmtv_thresholds(values: ArrayLike) -> np.ndarray:
    """Volume thresholds of paper 001 §2.7.1: steps of one IQR from 0 to the 85th percentile.

    Thresholds are ``0, IQR, 2·IQR, …`` up to and including the 85th percentile of the
    reference volumes (IQR = Q3 − Q1, linear interpolation). Our reading of the text
    ("thresholds based on the inter-quartile range from 0 to the 85th percentile"): the
    extraction lost the exact formula. NaNs are ignored; with no values, or an IQR of 0,
    only ``[0.]`` is returned.

    Examples
    --------
    >>> tmtv_thresholds([1, 2, 3, 4, 5, 6, 7, 8, 9]).tolist()
    [0.0, 4.0]
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not v.size:
        return np.array([0.0])
    q1, q3, p85 = np.percentile(v, [25, 75, 85])
    iqr = q3 - q1
    if iqr <= 0 or p85 <= 0:
        return np.array([0.0])
    steps = int(np.floor(p85 / iqr * (1 + 1e-12)))
    return iqr * np.arange(steps + 1, dtype=float)


def _reference_values(measurements: pd.DataFrame, metric: str) -> pd.Series:
    """Reference value of ``metric`` per case (the same for every method)."""
    _require(measurements, ["case_id", "metric", "reference"], "measurements")
    rows = measurements[measurements["metric"] == metric]
    if rows.empty:
        raise ValueError(f"measurements table: no rows with metric {metric!r}")
    return rows.groupby("case_id", sort=False)["reference"].first().astype(float)


def _threshold_rows(table: pd.DataFrame, value: str, scenario: str) -> list[dict]:
    """Median DSC of the rows with ``value >= threshold``, per method and threshold."""
    unique = table.drop_duplicates("_item")[value]
    methods = [
        (method, g["network"].iloc[0], g["loss"].iloc[0], g[value].to_numpy(float),
         pd.to_numeric(g["dsc"], errors="coerce").to_numpy(float))
        for method, g in table.groupby("method", sort=False)
    ]  # fmt: skip
    rows = []
    for threshold in tmtv_thresholds(unique):
        for method, network, loss, values, dsc in methods:
            sel = dsc[values >= threshold]
            sel = sel[~np.isnan(sel)]
            rows.append(
                {
                    "method": method,
                    "network": network,
                    "loss": loss,
                    "scenario": scenario,
                    "threshold": float(threshold),
                    "n": int(sel.size),
                    "median_dsc": float(np.median(sel)) if sel.size else np.nan,
                }
            )
    return rows


def dsc_by_tmtv_threshold(
    cases: pd.DataFrame,
    measurements: pd.DataFrame,
    *,
    level: str = "patient",
    lesions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Median DSC above each volume threshold, per scenario (paper 001 Fig. 5).

    ``level="patient"``: items are cases, the volume is the reference TMTV (metric ``tmtv``
    of ``measurements``) and the DSC is the patient DSC of ``cases``. ``level="lesion"``:
    items are the reference lesions of ``lesions`` (``side == "reference"``), the volume is
    the lesion volume and the DSC is ``lesion_dsc``; a missed lesion (status ``fn``) with a
    NaN ``lesion_dsc`` counts as DSC 0, as in paper 001 §2.7.2. Thresholds come from
    :func:`tmtv_thresholds` of the reference volumes of each scenario (each case or lesion
    counted once), and the median is over the items whose volume is ≥ the threshold.
    Scenarios are ``"all"`` (every case) and those of :func:`scenario_groups` except ``"none"``.

    Returns
    -------
    DataFrame
        ``method, network, loss, scenario, threshold, n, median_dsc`` with the level's
        volume unit (ml).

    Examples
    --------
    >>> import pandas as pd
    >>> cases = pd.DataFrame({"case_id": ["a", "b"], "method": "m", "dsc": [0.4, 0.8],
    ...                       "n_reference_lesions": [1, 1]})
    >>> meas = pd.DataFrame({"case_id": ["a", "b"], "method": "m", "metric": "tmtv",
    ...                      "reference": [1.0, 9.0], "predicted": [1.0, 9.0]})
    >>> out = dsc_by_tmtv_threshold(cases, meas)
    >>> out[out.scenario == "all"][["threshold", "median_dsc"]].to_dict("list")
    {'threshold': [0.0, 4.0], 'median_dsc': [0.6..., 0.8]}
    """
    if level not in ("patient", "lesion"):
        raise ValueError(f"level must be 'patient' or 'lesion', got {level!r}")
    _require(cases, ["case_id", "method", "dsc"], "cases")
    table = _with_keys(cases)
    table["scenario"] = _scenarios(cases).to_numpy()
    if level == "patient":
        volume = _reference_values(measurements, "tmtv")
        table["volume"] = table["case_id"].map(volume)
        table["_item"] = table["case_id"]
    else:
        if lesions is None:
            raise ValueError("level='lesion' needs the lesions table")
        _require(
            lesions, ["case_id", "method", "side", "lesion_id", "volume", "lesion_dsc"], "lesions"
        )
        ref = lesions[lesions["side"] == "reference"]
        dsc = pd.to_numeric(ref["lesion_dsc"], errors="coerce")
        if "status" in ref.columns:
            dsc = dsc.where(~(dsc.isna() & (ref["status"] == "fn")), 0.0)
        scen = table.set_index(["case_id", "method"])["scenario"]
        keys = pd.MultiIndex.from_frame(ref[["case_id", "method"]])
        table = _with_keys(
            pd.DataFrame(
                {
                    "case_id": ref["case_id"].to_numpy(),
                    "method": ref["method"].to_numpy(),
                    "dsc": dsc.to_numpy(),
                    "volume": pd.to_numeric(ref["volume"], errors="coerce").to_numpy(),
                    "scenario": scen.reindex(keys).to_numpy(),
                    "_item": (
                        ref["case_id"].astype(str) + "\0" + ref["lesion_id"].astype(str)
                    ).to_numpy(),
                }
            )
        )
    rows = _threshold_rows(table, "volume", "all")
    for scenario in ("single", "multiple"):
        sub = table[table["scenario"] == scenario]
        if not sub.empty:
            rows += _threshold_rows(sub, "volume", scenario)
    columns = ["method", "network", "loss", "scenario", "threshold", "n", "median_dsc"]
    return pd.DataFrame(rows, columns=columns)


def _quartile_edges(values: ArrayLike) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not v.size:
        raise ValueError("no finite values to split into quartiles")
    return np.percentile(v, [0, 25, 50, 75, 100])


def dmax_quartile_groups(values: ArrayLike) -> pd.Categorical:
    """Quartile group ``G0``-``G3`` of each value (paper 001 §2.7.1 and Fig. 6).

    Edges are the quartiles of the finite ``values`` (linear interpolation); a value ≤ Q1 is
    ``G0``, Q1 < v ≤ Q2 is ``G1``, Q2 < v ≤ Q3 is ``G2`` and v > Q3 is ``G3`` (the paper's
    groups 0-9, 9-11, 11-14 and 14-60 cm). NaN stays missing.

    Examples
    --------
    >>> list(dmax_quartile_groups([1.0, 2.0, 3.0, 4.0, 5.0]))
    ['G0', 'G0', 'G1', 'G2', 'G3']
    """
    v = np.asarray(values, dtype=float)
    return _groups(v, _quartile_edges(v))


def _groups(v: np.ndarray, edges: np.ndarray) -> pd.Categorical:
    codes = np.searchsorted(edges[1:4], v, side="left")
    codes = np.where(np.isfinite(v), codes, -1)
    return pd.Categorical.from_codes(codes, categories=["G0", "G1", "G2", "G3"])


def dsc_by_dmax_quartile(
    cases: pd.DataFrame, measurements: pd.DataFrame, *, scenario: str | None = "multiple"
) -> pd.DataFrame:
    """Patient DSC with the quartile group of the reference Dmax (paper 001 Fig. 6).

    Cases are restricted to ``scenario`` (the paper uses multiple-lesion cases only; ``None``
    keeps all), the reference Dmax comes from metric ``dmax`` of ``measurements``, and the
    quartile edges from :func:`dmax_quartile_groups` over the cases (each counted once).

    Returns
    -------
    DataFrame
        One row per (case, method): ``case_id, method, network, loss, dsc, dmax, group,
        low, high`` (``low``/``high`` are the group's Dmax edges in the metric's unit).

    Examples
    --------
    >>> import pandas as pd
    >>> cases = pd.DataFrame({"case_id": list("abcd"), "method": "m",
    ...                       "dsc": [0.1, 0.2, 0.3, 0.4], "scenario": "multiple"})
    >>> meas = pd.DataFrame({"case_id": list("abcd"), "method": "m", "metric": "dmax",
    ...                      "reference": [5.0, 10.0, 12.0, 30.0], "predicted": 1.0})
    >>> dsc_by_dmax_quartile(cases, meas)["group"].tolist()
    ['G0', 'G1', 'G2', 'G3']
    """
    _require(cases, ["case_id", "method", "dsc"], "cases")
    table = _with_keys(cases)
    if scenario is not None:
        table = table[_scenarios(cases).to_numpy() == scenario]
    dmax = _reference_values(measurements, "dmax")
    table = table.assign(dmax=table["case_id"].map(dmax).astype(float))
    columns = ["case_id", "method", "network", "loss", "dsc", "dmax", "group", "low", "high"]
    per_case = table.drop_duplicates("case_id")["dmax"]
    if not np.isfinite(per_case.to_numpy(float)).any():
        return pd.DataFrame(columns=columns)
    edges = _quartile_edges(per_case)
    groups = _groups(table["dmax"].to_numpy(float), edges)
    codes = groups.codes
    table["group"] = groups.astype(object)
    table["low"] = np.where(codes >= 0, edges[np.clip(codes, 0, 3)], np.nan)
    table["high"] = np.where(codes >= 0, edges[np.clip(codes, 0, 3) + 1], np.nan)
    return table[columns].reset_index(drop=True)


def missing_table(
    measurements: pd.DataFrame,
    missing: pd.DataFrame | None = None,
    failed: pd.DataFrame | None = None,
    skipped: Iterable[str] = (),
) -> pd.DataFrame:
    """Every (case, method) pair not measured from a prediction, and every skipped input.

    Starts from ``missing`` (``agree measure``'s table, when there is one) and adds each pair
    whose case the measurements hold for another method but not for this one, unless it is
    listed already or in ``failed``. A table without ``status`` is read as all ``missing``.
    Each note of ``skipped`` (``"PATH: reason"``) not yet listed becomes a ``skipped`` row.

    Parameters
    ----------
    measurements : DataFrame
        ``case_id, method, ...``.
    missing, failed : DataFrame, optional
        ``case_id, method, [status,] reason`` and ``case_id, method, reason``.
    skipped : iterable of str
        Inputs found but not used (``CohortResult.skipped``).

    Returns
    -------
    DataFrame
        ``case_id, method, status, reason`` (:data:`agreement.tables.MISSING_COLUMNS`).

    Examples
    --------
    >>> m = pd.DataFrame({"case_id": ["a", "b", "a"], "method": ["x", "x", "y"]})
    >>> missing_table(m).values.tolist()
    [['b', 'y', 'missing', 'not in the measurements table']]
    """
    table = pd.DataFrame(columns=MISSING_COLUMNS) if missing is None else missing.copy()
    if "status" not in table.columns:
        table["status"] = "missing"
    table = table.reindex(columns=MISSING_COLUMNS).fillna("").astype(str)
    unknown = sorted(set(table["status"]) - set(MISSING_STATUSES))
    if unknown:
        raise ValueError(
            f"missing table: unknown status {', '.join(map(repr, unknown))}; "
            f"expected {', '.join(MISSING_STATUSES)}"
        )
    notes = [n for n in dict.fromkeys(skipped) if n not in set(table["reason"])]
    if notes:
        rows = pd.DataFrame([("", "", "skipped", n) for n in notes], columns=MISSING_COLUMNS)
        table = pd.concat([table, rows], ignore_index=True)
    listed = set(zip(table["case_id"], table["method"], strict=True))
    if failed is not None and {"case_id", "method"} <= set(failed.columns):
        listed |= set(zip(failed["case_id"].astype(str), failed["method"].astype(str),
                          strict=True))  # fmt: skip
    pairs = measurements[["case_id", "method"]].astype(str).drop_duplicates()
    have = set(zip(pairs["case_id"], pairs["method"], strict=True))
    extra = [
        (c, m, "missing", "not in the measurements table")
        for m in pairs["method"].unique()
        for c in sorted(pairs["case_id"].unique())
        if (c, m) not in have and (c, m) not in listed
    ]
    if extra:
        table = pd.concat([table, pd.DataFrame(extra, columns=MISSING_COLUMNS)], ignore_index=True)
    return table.reset_index(drop=True)
