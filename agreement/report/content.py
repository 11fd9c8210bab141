"""Turn the result tables into the pieces of the HTML page (formatted rows, no HTML here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from agreement.format import mean_sd, median_iqr, table_i_cells
from agreement.options import DEFAULTS
from agreement.report.html import (
    Cell,
    HtmlTable,
    cell,
    fmt,
    fmt_p,
    frame_table,
    strength_class,
)
from agreement.stats.registry import STATISTICS, Display
from agreement.tables import METRIC_LABELS, METRICS

CANONICAL_ORDER = list(METRICS)
#: Strata with fewer cases show their median only, flagged with † (an IQR of 1–4 cases says
#: nothing about the spread).
SMALL_N = 5
SMALL_MARK = "†"


def _stratum(median: Any, q1: Any, q3: Any, n: int) -> str:
    if n < SMALL_N:
        return "—" if pd.isna(median) else f"{fmt(median)} (n={n}){SMALL_MARK}"
    return f"{_median_iqr(median, q1, q3)} (n={n})"


def metric_label(metric: str) -> str:
    """Display label of a metric (its own name when not canonical).

    Examples
    --------
    >>> metric_label("suv_max"), metric_label("my_metric")
    ('SUVmax', 'my_metric')
    """
    return str(METRIC_LABELS.get(metric, metric))


def ordered_metrics(metrics: Sequence[str]) -> list[str]:
    """Canonical metrics first (in the papers' order), then the others alphabetically.

    Examples
    --------
    >>> ordered_metrics(["dmax", "zeta", "suv_max"])
    ['suv_max', 'dmax', 'zeta']
    """
    unique = list(dict.fromkeys(str(m) for m in metrics))
    canon = [m for m in CANONICAL_ORDER if m in unique]
    return canon + sorted(m for m in unique if m not in CANONICAL_ORDER)


def _verdict(value: Any) -> tuple[str, str]:
    if isinstance(value, (bool, np.bool_)):
        return ("equivalent", "yes") if value else ("not shown", "no")
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return _verdict(value.lower() == "true")
    return ("not applicable", "na")


def metric_sections(
    agreement: pd.DataFrame, outliers: pd.DataFrame | None = None, anchors: Any = None
) -> list[dict[str, Any]]:
    """One block per metric: an agreement table, a Bland–Altman/CP/TDI table, the outliers.

    Each table has at most 12 columns; every number is a :class:`Cell` with its interval
    under it and its value as the sort key. ``anchors`` maps a case id to its in-page anchor.

    Examples
    --------
    >>> row = {"method": "m", "metric": "tmtv", "unit": "ml", "n": 2, "note": "n < 3"}
    >>> s = metric_sections(pd.DataFrame([row]))[0]
    >>> s["label"], s["agreement"].rows[0][2].text, s["agreement"].rows[0][-1].text
    ('TMTV', '—', 'not applicable')
    >>> len(s["agreement"].columns), len(s["spread"].columns)
    (8, 10)
    """
    anchors = anchors or {}
    sections = []
    for metric in ordered_metrics(agreement["metric"]):
        block = agreement[agreement["metric"] == metric]
        unit = (
            block["unit"].dropna().iloc[0]
            if "unit" in block and block["unit"].notna().any()
            else ""
        )
        u = f" ({unit})" if unit and unit != "count" else ""
        tables = {}
        for name in ("agreement", "spread"):
            shown = [d for s in STATISTICS.values() for d in s.display if d.table == name]
            rows = [
                [Cell(str(r.get("method")), cls="method")]
                + ([cell(r.get("n"))] if name == "agreement" else [])
                + [_display_cell(d, r) for d in shown]
                + ([Cell(_note(r), cls="note")] if name == "spread" else [])
                for r in block.to_dict("records")
            ]
            headers = ["Method", *(["n"] if name == "agreement" else [])]
            headers += [d.header.replace("{u}", u) for d in shown]
            numeric = [False, *([True] if name == "agreement" else [])]
            numeric += [d.kind not in _TEXT_KINDS for d in shown]
            if name == "spread":
                headers, numeric = headers + ["Note"], numeric + [False]
            tables[name] = HtmlTable(headers, rows, numeric)
        out_table = HtmlTable([], [], [])
        if outliers is not None and not outliers.empty:
            sub = outliers[outliers["metric"] == metric]
            out_table = HtmlTable(
                ["Case", "Method", "Reference", "Predicted", "Difference"],
                [
                    [
                        Cell(str(o["case_id"]), href=anchors.get(str(o["case_id"]), "")),
                        Cell(str(o["method"]), cls="method"),
                        cell(o["reference"], integer=metric == "lesion_count"),
                        cell(o["predicted"], integer=metric == "lesion_count"),
                        cell(o["difference"], integer=metric == "lesion_count"),
                    ]
                    for o in sub.to_dict("records")
                ],
                [False, False, True, True, True],
            )
        sections.append(
            {
                "key": "".join(c if c.isalnum() else "-" for c in metric),
                "metric": metric,
                "label": metric_label(metric),
                "unit": "" if unit == "count" else str(unit),
                "agreement": tables["agreement"],
                "spread": tables["spread"],
                "outliers": out_table,
            }
        )
    return sections


_TEXT_KINDS = ("text", "verdict", "strength", "note")


def _note(r: dict[str, Any]) -> str:
    note = r.get("note", "")
    return "" if pd.isna(note) else str(note)


def _display_cell(d: Display, r: dict[str, Any]) -> Cell:
    """One cell of a metric table, as the statistic's :class:`Display` describes it."""
    value = r.get(d.column, np.nan)
    cls = strength_class(r.get(d.style)) if d.style else ""
    if d.kind == "number":
        if d.low is None:
            return cell(value, cls=cls) if cls else cell(value)
        return cell(value, r.get(d.low), r.get(d.high) if d.high else None, cls=cls)
    if d.kind == "p":
        return Cell(fmt_p(value), sort=_num(value))
    if d.kind == "bound":
        bound = np.nan if value is None else value
        return Cell("—" if pd.isna(bound) else f"±{fmt(abs(float(bound)))}",
                    sort=None if pd.isna(bound) else abs(float(bound)))  # fmt: skip
    if d.kind == "verdict":
        text, vcls = _verdict(value)
        return Cell(text, cls=vcls)
    if d.kind == "strength":
        strength = value if isinstance(value, str) and value else "—"
        if pd.isna(r.get("ccc", np.nan)):
            strength = "not estimable"
        return Cell(strength, cls=cls)
    if d.kind == "slope":
        p = r.get(d.low, np.nan) if d.low else np.nan
        return Cell(fmt(value), "" if pd.isna(p) else f"p {fmt_p(p)}", _num(value))
    return Cell("" if value is None or pd.isna(value) else str(value), cls=cls)


def _num(value: Any) -> float | None:
    x = pd.to_numeric(value, errors="coerce") if value is not None else np.nan
    return float(x) if pd.notna(x) and np.isfinite(float(x)) else None


def overview(agreement: pd.DataFrame) -> dict[str, Any]:
    """Methods × metrics matrix of CCC with strength class and a TOST mark.

    Examples
    --------
    >>> t = pd.DataFrame([{"method": "m", "metric": "suv_max", "ccc": 0.995,
    ...                    "ccc_strength": "almost perfect", "equivalent": True}])
    >>> overview(t)["rows"][0]["cells"][0]["text"]
    '0.995 ✓'
    """
    metrics = ordered_metrics(agreement["metric"])
    rows = []
    for method in dict.fromkeys(agreement["method"]):
        sub = agreement[agreement["method"] == method].set_index("metric")
        cells = []
        for metric in metrics:
            if metric not in sub.index:
                cells.append({"text": "", "cls": "", "title": ""})
                continue
            r = sub.loc[metric]
            mark = {"yes": "✓", "no": "✗", "na": "–"}[_verdict(r.get("equivalent"))[1]]
            strength = r.get("ccc_strength")
            text = "n.e." if pd.isna(r.get("ccc", np.nan)) else fmt(r.get("ccc"))
            cells.append(
                {
                    "text": f"{text} {mark}",
                    "cls": strength_class(strength),
                    "title": str(strength) if isinstance(strength, str) else "not estimable",
                }
            )
        rows.append({"method": str(method), "cells": cells})
    return {"metrics": [metric_label(m) for m in metrics], "rows": rows}


def case_counts(measurements: pd.DataFrame) -> HtmlTable:
    """Cases and metrics per method, and how many of all cases each method lacks.

    Examples
    --------
    >>> m = pd.DataFrame({"case_id": ["a", "b", "a"], "method": ["x", "x", "y"],
    ...                   "metric": "tmtv", "reference": 1.0, "predicted": 1.0})
    >>> case_counts(m).rows
    [['x', '2', '1', '0'], ['y', '1', '1', '1']]
    """
    all_cases = measurements["case_id"].nunique()
    rows = []
    for method, g in measurements.groupby("method", sort=False):
        n = g["case_id"].nunique()
        rows.append([str(method), fmt(n), fmt(g["metric"].nunique()), fmt(all_cases - n)])
    return HtmlTable(
        ["Method", "Cases", "Metrics", "Cases missing"], rows, [False, True, True, True]
    )


def omission_banner(
    failed: pd.DataFrame | None, missing: pd.DataFrame, skipped: pd.DataFrame
) -> str:
    """One sentence for the top of the report when anything was not measured ("" otherwise).

    Examples
    --------
    >>> m = pd.DataFrame({"case_id": ["c2"], "method": ["unet"], "status": ["missing"]})
    >>> omission_banner(None, m, m.iloc[:0])
    '1 (case, method) pair without a prediction, not measured: listed under Summary.'
    """
    parts = []
    n_failed = 0 if failed is None else len(failed)
    if n_failed:
        parts.append(f"{n_failed} (case, method) pair{'s' if n_failed != 1 else ''} failed")
    for status, how in (("missing", "not measured"), ("empty", "scored as an empty mask")):
        n = int((missing["status"] == status).sum()) if len(missing) else 0
        if n:
            pair = "pair" if n == 1 else "pairs"
            parts.append(f"{n} (case, method) {pair} without a prediction, {how}")
    if len(skipped):
        parts.append(f"{len(skipped)} input{'s' if len(skipped) != 1 else ''} skipped")
    return "; ".join(parts) + ": listed under Summary." if parts else ""


def _median_iqr(median: Any, q1: Any, q3: Any) -> str:
    return median_iqr(median, q1, q3)


def detection_display(table: pd.DataFrame) -> HtmlTable:
    """Table I formatted as in paper 000: mean ± SD and median [IQR].

    Examples
    --------
    >>> t = pd.DataFrame([{"method": "m", "n": 3, "dsc_mean": 0.5, "dsc_sd": 0.1,
    ...     "dsc_median": 0.5, "dsc_q1": 0.4, "dsc_q3": 0.6, "tp_rate_mean": 1.0,
    ...     "tp_rate_sd": 0.0, "fp_mean": 0.3, "fp_sd": 0.5, "fn_rate_mean": 0.0,
    ...     "fn_rate_sd": 0.0, "f1_mean": 0.9, "f1_sd": 0.1}])
    >>> detection_display(t).rows[0][2]
    '0.500 ± 0.100'
    """
    rows = [
        [str(r["method"]), fmt(r["n"]), *table_i_cells(r)] for r in table.to_dict("records")
    ]
    cols = [
        "Method",
        "Cases",
        "DSC mean ± SD",
        "DSC median [IQR]",
        "TP rate",
        "FP lesions",
        "FN rate",
        "F1",
    ]
    return HtmlTable(cols, rows, [False] + [True] * 7)


def overlap_display(table: pd.DataFrame) -> HtmlTable:
    """:func:`agreement.summary.overlap_summary` formatted: FPV and FNV per method.

    Examples
    --------
    >>> from agreement.summary import overlap_summary
    >>> c = pd.DataFrame({"method": ["m", "m"], "fpv": [0.0, 2.0], "fnv": [1.0, 1.0]})
    >>> overlap_display(overlap_summary(c)).rows
    [['m', '1.00 ± 1.41', '0.500', '1.00 ± 0', '0']]
    """
    rows = [
        [
            str(r["method"]),
            mean_sd(r["fpv_mean"], r["fpv_sd"]),
            fmt(r["fpv_zero"]),
            mean_sd(r["fnv_mean"], r["fnv_sd"]),
            fmt(r["fnv_zero"]),
        ]
        for r in table.to_dict("records")
    ]
    cols = ["Method", "FPV (ml) mean ± SD", "share FPV = 0", "FNV (ml) mean ± SD", "share FNV = 0"]
    return HtmlTable(cols, rows, [False, True, True, True, True])


def lesion_display(table: pd.DataFrame) -> HtmlTable:
    """:func:`agreement.summary.lesion_summary` formatted, one row per method.

    Examples
    --------
    >>> from agreement.summary import lesion_summary
    >>> les = pd.DataFrame({"case_id": ["a"] * 3, "method": "m",
    ...     "side": ["reference", "reference", "predicted"], "status": ["tp", "fn", "fp"],
    ...     "volume": [2.0, 0.5, 1.0], "lesion_dsc": [0.8, np.nan, np.nan]})
    >>> lesion_display(lesion_summary(les)).rows[0][:6]
    ['m', '2', '1', '1', '1', '0.500']
    """
    keys = ["reference", "tp", "fn", "fp", "sensitivity", "fp_per_case", "lesion_dsc_median",
            "volume_detected_median", "volume_missed_median"]  # fmt: skip
    rows = [[str(r["method"]), *(fmt(r[k]) for k in keys)] for r in table.to_dict("records")]
    cols = [
        "Method",
        "Reference lesions",
        "Detected",
        "Missed",
        "FP lesions",
        "Sensitivity",
        "FP per case",
        "Median lesion DSC",
        "Median vol. detected (ml)",
        "Median vol. missed (ml)",
    ]
    return HtmlTable(cols, rows, [False] + [True] * 9)


def scenario_display(table: pd.DataFrame) -> HtmlTable:
    """DSC by scenario: rows = method, columns = scenario (n, median [IQR]).

    Examples
    --------
    >>> t = pd.DataFrame([{"method": "m", "scenario": "single", "n": 2, "dsc_median": 0.5,
    ...                    "dsc_q1": 0.4, "dsc_q3": 0.6, "dsc_mean": 0.5, "dsc_sd": 0.1}])
    >>> scenario_display(t).rows  # fewer than 5 cases: median only, flagged
    [['m', '0.500 (n=2)†']]
    """
    scenarios = [s for s in ("single", "multiple", "none") if s in set(table["scenario"])]
    scenarios += sorted(set(table["scenario"]) - set(scenarios) - {""})
    rows = []
    for method, g in table.groupby("method", sort=False):
        by = g.set_index("scenario")
        row = [str(method)]
        for s in scenarios:
            if s in by.index:
                r = by.loc[s]
                row.append(_stratum(r["dsc_median"], r["dsc_q1"], r["dsc_q3"], int(r["n"])))
            else:
                row.append("—")
        rows.append(row)
    cols = ["Method"] + [
        f"{s} lesion{'s' if s == 'multiple' else ''}" if s != "none" else "no lesion"
        for s in scenarios
    ]
    return HtmlTable(cols, rows, [False] + [True] * len(scenarios))


def threshold_display(table: pd.DataFrame, scenario: str, unit: str = "ml") -> HtmlTable:
    """Median DSC above each volume threshold for one scenario: rows = method.

    Examples
    --------
    >>> t = pd.DataFrame({"method": "m", "scenario": "all", "threshold": [0.0, 4.0],
    ...                   "n": [2, 1], "median_dsc": [0.6, 0.8]})
    >>> threshold_display(t, "all").columns
    ['Method', '≥ 0 ml', '≥ 4.00 ml']
    """
    sub = table[table["scenario"] == scenario]
    thresholds = sorted(set(sub["threshold"]))
    rows = []
    for method, g in sub.groupby("method", sort=False):
        by = g.set_index("threshold")
        rows.append(
            [str(method)]
            + [
                f"{fmt(by.loc[t, 'median_dsc'])} (n={int(by.loc[t, 'n'])})"
                + (SMALL_MARK if int(by.loc[t, "n"]) < SMALL_N else "")
                if t in by.index
                else "—"
                for t in thresholds
            ]
        )
    return HtmlTable(
        ["Method"] + [f"≥ {fmt(t)} {unit}" for t in thresholds],
        rows,
        [False] + [True] * len(thresholds),
    )


def dmax_display(table: pd.DataFrame) -> HtmlTable:
    """DSC per Dmax quartile group: rows = method, columns = G0–G3 with their Dmax ranges.

    Examples
    --------
    >>> t = pd.DataFrame({"case_id": list("ab"), "method": "m", "dsc": [0.2, 0.4],
    ...                   "group": ["G0", "G3"], "low": [1.0, 5.0], "high": [2.0, 9.0]})
    >>> dmax_display(t).columns
    ['Method', 'G0 (1.00–2.00 cm)', 'G3 (5.00–9.00 cm)']
    """
    groups = [g for g in ("G0", "G1", "G2", "G3") if g in set(table["group"].dropna())]
    edges = {g: table[table["group"] == g][["low", "high"]].iloc[0] for g in groups}
    rows = []
    for method, g in table.groupby("method", sort=False):
        row = [str(method)]
        for grp in groups:
            d = pd.to_numeric(g[g["group"] == grp]["dsc"], errors="coerce").dropna()
            if d.empty:
                row.append("—")
            else:
                q1, med, q3 = np.percentile(d, [25, 50, 75])
                row.append(_stratum(med, q1, q3, len(d)))
        rows.append(row)
    cols = ["Method"] + [f"{g} ({fmt(edges[g]['low'])}–{fmt(edges[g]['high'])} cm)" for g in groups]
    return HtmlTable(cols, rows, [False] + [True] * len(groups))


def generic(df: pd.DataFrame | None) -> HtmlTable:
    """Any table, with cells formatted (used for failures and comparisons)."""
    return frame_table(df)


def comparison_display(table: pd.DataFrame, alpha: float = DEFAULTS.alpha) -> HtmlTable:
    """Paired comparisons: rows = (other method, metric), the two CCCs and their difference.

    ``p`` is the bootstrap p value of one comparison, ``p (Holm)`` the same adjusted for all
    comparisons of the table (column ``p_holm``, when present).

    Examples
    --------
    >>> t = pd.DataFrame([{"metric": "tmtv", "stat": "ccc", "a": "A", "b": "B", "estimate": 0.1,
    ...     "ci_low": 0.02, "ci_high": 0.2, "p_value": 0.01, "p_holm": 0.03, "n": 20,
    ...     "stat_a": 0.95, "stat_b": 0.85, "n_boot": 2000, "note": ""}])
    >>> [c.text if isinstance(c, Cell) else c for c in comparison_display(t).rows[0]]
    ['B', 'TMTV', '0.950', '0.850', '0.100', '0.010', '0.030', '20', '']
    """
    rows = [
        [
            Cell(str(r["b"]), cls="method"),
            metric_label(str(r["metric"])),
            cell(r["stat_a"]),
            cell(r["stat_b"]),
            cell(r["estimate"], r["ci_low"], r["ci_high"]),
            Cell(fmt_p(r["p_value"]), sort=_num(r["p_value"])),
            Cell(fmt_p(r.get("p_holm", np.nan)), sort=_num(r.get("p_holm"))),
            cell(r["n"]),
            "" if pd.isna(r.get("note")) else str(r.get("note", "")),
        ]
        for r in table.to_dict("records")
    ]
    level = f"{100 * (1 - alpha):.4g}%"
    cols = ["Other method", "Metric", "Best", "Other", f"Difference [{level} CI]", "p",
            "p (Holm)", "n", "Note"]  # fmt: skip
    return HtmlTable(cols, rows, [False, False, True, True, True, True, True, True, False])
