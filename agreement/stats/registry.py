"""The statistics registry: one entry per statistic of the agreement table.

Each :class:`Statistic` names its function and result class, how it is computed for one
(method, metric) group, the agreement-table columns it contributes (taken from the fields of
its result's ``to_dict()``), their labels and units, the keys it adds to ``summary.json``, its
cells in the report and its definition. :func:`~agreement.agreement_table`, ``summary.json``,
the HTML report and its text read their columns from :data:`STATISTICS`, so a new statistic is
one new module plus one entry here.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from agreement.format import percent
from agreement.options import StatsOptions
from agreement.stats._common import Result
from agreement.stats.bland_altman import BlandAltmanResult, bland_altman
from agreement.stats.ccc import CCCResult, bootstrap_ccc_ci, ccc
from agreement.stats.coverage import CoverageResult, coverage_probability
from agreement.stats.equivalence import TOSTResult, tost
from agreement.stats.icc import ICCResult, icc
from agreement.stats.tdi import TDIResult, bootstrap_tdi_upper, tdi

#: ``compute(predicted, reference, options, counts)``: the result of one (method, metric)
#: group and a note on its bootstrap ("" if none); ``counts`` are the shared case resamples
#: (None without ``n_resamples``).
Compute = Callable[[np.ndarray, np.ndarray, StatsOptions, "np.ndarray | None"], tuple[Result, str]]
Kind = Literal["number", "p", "text", "bound", "verdict", "strength", "slope", "note"]


@dataclass(frozen=True)
class Display:
    """One cell of the report's per-metric tables.

    ``header`` may hold ``{u}``, replaced by `` (unit)`` of the metric. ``kind``: ``number``
    (with the interval ``low``–``high`` under it), ``p`` (a p value), ``text``, ``bound``
    (±|value|), ``verdict`` (the TOST outcome), ``strength`` (McBride's label), ``slope`` (a
    number with the p value of column ``low`` under it), ``note``. ``style`` names the column
    whose strength label colours the cell.
    """

    header: str
    column: str
    low: str | None = None
    high: str | None = None
    kind: Kind = "number"
    table: Literal["agreement", "spread"] = "agreement"
    style: str | None = None


@dataclass(frozen=True)
class Statistic:
    """A statistic of the agreement table and everything that renders it."""

    name: str
    label: str
    function: Callable[..., Any]
    result: type
    compute: Compute
    prefix: str
    fields: tuple[str, ...]
    rename: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    in_metric_unit: tuple[str, ...] = ()
    summary: tuple[str, ...] = ()
    display: tuple[Display, ...] = ()
    definition: Callable[[Mapping[str, Any]], str] | None = None
    methods_text: Callable[[Mapping[str, Any]], str] | None = None
    references: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = {f.name for f in dataclasses.fields(self.result)}
        unknown = [f for f in self.fields if f not in names]
        if unknown:
            raise ValueError(f"{self.name}: {self.result.__name__} has no field(s) {unknown}")

    def _names(self, name: str, value: Any) -> list[str]:
        base = self.rename.get(name, self.prefix if name == "estimate" else f"{self.prefix}_{name}")
        return [f"{base}_low", f"{base}_high"] if isinstance(value, tuple) else [base]

    @property
    def columns(self) -> tuple[str, ...]:
        """The agreement-table columns, from the fields of the result's ``to_dict()``."""
        example = self.result.undefined(0, "")
        return tuple(c for f in self.fields for c in self._names(f, getattr(example, f)))

    def values(self, result: Result) -> dict[str, Any]:
        """The columns' values of one result (interval tuples split into ``_low``/``_high``)."""
        out: dict[str, Any] = {}
        values = result.to_dict()
        for f in self.fields:
            value = values[f]
            names = self._names(f, value)
            out.update(zip(names, value if isinstance(value, tuple) else [value], strict=True))
        return out

    def unit(self, column: str, metric_unit: str) -> str:
        """The unit of ``column`` for a metric measured in ``metric_unit`` ("" if unitless)."""
        return metric_unit if column in self.in_metric_unit else ""


def _ccc(x: np.ndarray, y: np.ndarray, o: StatsOptions, counts: Any) -> tuple[Result, str]:
    res = ccc(x, y, alpha=o.alpha)
    if counts is None or x.size < 3 or math.isnan(res.estimate) or math.isnan(res.pearson_r):
        return res, ""
    low, high, note = bootstrap_ccc_ci(x, y, counts, o.alpha)
    return dataclasses.replace(res, ci_low=low, ci_high=high), note


def _tost(x: np.ndarray, y: np.ndarray, o: StatsOptions, counts: Any) -> tuple[Result, str]:
    return tost(x, y, margin=o.margin, relative=o.relative, alpha=o.alpha), ""


def _ba(x: np.ndarray, y: np.ndarray, o: StatsOptions, counts: Any) -> tuple[Result, str]:
    return bland_altman(x, y, alpha=o.alpha, x=o.x, loa_ci=o.loa_ci), ""


def _cp(x: np.ndarray, y: np.ndarray, o: StatsOptions, counts: Any) -> tuple[Result, str]:
    return coverage_probability(x, y, delta=o.delta, relative=o.relative, alpha=o.alpha), ""


def _tdi(x: np.ndarray, y: np.ndarray, o: StatsOptions, counts: Any) -> tuple[Result, str]:
    res = tdi(x, y, p=o.tdi_p, alpha=o.alpha, n_resamples=0)
    if counts is None or x.size < 3:
        return res, ""
    upper = bootstrap_tdi_upper(np.abs(x - y), counts, o.tdi_p, o.alpha)
    return dataclasses.replace(res, ci_high=upper), ""


def _icc(x: np.ndarray, y: np.ndarray, o: StatsOptions, counts: Any) -> tuple[Result, str]:
    return icc(x, y, alpha=o.alpha), ""


ICC_REFERENCE = (
    "McGraw KO, Wong SP. Forming inferences about some intraclass correlation coefficients. "
    "Psychol Methods. 1996;1(1):30-46."
)

#: name → :class:`Statistic`, in the order of the agreement table's columns.
STATISTICS: dict[str, Statistic] = {
    "ccc": Statistic(
        name="ccc", label="Lin's concordance correlation coefficient", function=ccc,
        result=CCCResult, compute=_ccc, prefix="ccc",
        fields=("estimate", "ci_low", "ci_high", "pearson_r", "accuracy", "strength"),
        labels={"ccc": "CCC", "ccc_ci_low": "CCC CI low", "ccc_ci_high": "CCC CI high",
                "ccc_pearson_r": "Pearson r", "ccc_accuracy": "C_b", "ccc_strength": "Strength"},
        summary=("ccc", "ccc_ci_low", "ccc_ci_high", "ccc_strength"),
        display=(Display("CCC [CI]", "ccc", "ccc_ci_low", "ccc_ci_high", style="ccc_strength"),
                 Display("Strength", "ccc_strength", kind="strength", style="ccc_strength")),
    ),
    "tost": Statistic(
        name="tost", label="TOST equivalence", function=tost, result=TOSTResult,
        compute=_tost, prefix="tost",
        fields=("mean_diff", "ci_low", "ci_high", "lower", "upper", "p_lower", "p_upper",
                "p_value", "equivalent"),
        rename={"p_value": "tost_p", "equivalent": "equivalent"},
        labels={"tost_mean_diff": "Mean difference", "tost_lower": "TOST lower bound",
                "tost_upper": "TOST upper bound", "tost_p": "p (TOST)",
                "equivalent": "Equivalent"},
        in_metric_unit=("tost_mean_diff", "tost_ci_low", "tost_ci_high", "tost_lower",
                        "tost_upper"),
        summary=("tost_p", "equivalent"),
        display=(Display("Mean diff.{u} [CI]", "tost_mean_diff", "tost_ci_low", "tost_ci_high"),
                 Display("±Δ", "tost_upper", kind="bound"),
                 Display("p (TOST)", "tost_p", kind="p"),
                 Display("Verdict", "equivalent", kind="verdict")),
    ),
    "ba": Statistic(
        name="ba", label="Bland–Altman", function=bland_altman, result=BlandAltmanResult,
        compute=_ba, prefix="ba",
        fields=("bias", "sd", "loa_low", "loa_high", "bias_ci", "loa_low_ci", "loa_high_ci",
                "slope", "slope_p"),
        labels={"ba_bias": "Bias", "ba_sd": "SD of differences", "ba_loa_low": "LoA low",
                "ba_loa_high": "LoA high", "ba_slope": "Slope", "ba_slope_p": "p (slope)"},
        in_metric_unit=("ba_bias", "ba_sd", "ba_loa_low", "ba_loa_high", "ba_bias_ci_low",
                        "ba_bias_ci_high", "ba_loa_low_ci_low", "ba_loa_low_ci_high",
                        "ba_loa_high_ci_low", "ba_loa_high_ci_high"),
        summary=("ba_bias", "ba_loa_low", "ba_loa_high"),
        display=(Display("Bias{u} [CI]", "ba_bias", "ba_bias_ci_low", "ba_bias_ci_high",
                         table="spread"),
                 Display("LoA low [CI]", "ba_loa_low", "ba_loa_low_ci_low", "ba_loa_low_ci_high",
                         table="spread"),
                 Display("LoA high [CI]", "ba_loa_high", "ba_loa_high_ci_low",
                         "ba_loa_high_ci_high", table="spread"),
                 Display("Slope (p)", "ba_slope", "ba_slope_p", kind="slope", table="spread")),
    ),
    "cp": Statistic(
        name="cp", label="Coverage probability", function=coverage_probability,
        result=CoverageResult, compute=_cp, prefix="cp", fields=("estimate", "ci_low", "ci_high"),
        labels={"cp": "CP", "cp_ci_low": "CP CI low", "cp_ci_high": "CP CI high"},
        summary=("cp",),
        display=(Display("CP [CI]", "cp", "cp_ci_low", "cp_ci_high", table="spread"),),
    ),
    "tdi": Statistic(
        name="tdi", label="Total deviation index", function=tdi, result=TDIResult,
        compute=_tdi, prefix="tdi", fields=("estimate", "ci_high"),
        labels={"tdi": "TDI", "tdi_ci_high": "TDI upper limit"},
        in_metric_unit=("tdi", "tdi_ci_high"),
        summary=("tdi",),
        display=(Display("TDI", "tdi", table="spread"),
                 Display("TDI limit", "tdi_ci_high", table="spread")),
    ),
    "icc": Statistic(
        name="icc", label="Intraclass correlation ICC(A,1)", function=icc, result=ICCResult,
        compute=_icc, prefix="icc", fields=("estimate", "ci_low", "ci_high"),
        labels={"icc": "ICC(A,1)", "icc_ci_low": "ICC CI low", "icc_ci_high": "ICC CI high"},
        summary=("icc", "icc_ci_low", "icc_ci_high"),
        display=(Display("ICC(A,1) [CI]", "icc", "icc_ci_low", "icc_ci_high", table="spread"),),
        definition=lambda p: (
            "Two-way random-effects, absolute-agreement, single-measure intraclass "
            "correlation ICC(A,1) of the predicted and the reference value as two raters of "
            f"each case (McGraw & Wong 1996; Shrout & Fleiss ICC(2,1)), with its {percent(1 - p['alpha'])} "
            "F-based interval."
        ),
        methods_text=lambda p: (
            "The two-way random-effects, absolute-agreement intraclass correlation ICC(A,1) "
            f"was reported with its {percent(1 - p['alpha'])} F-based confidence interval"
        ),
        references=(ICC_REFERENCE,),
    ),
}  # fmt: skip


def statistic(name: str) -> Statistic:
    """The registry entry ``name``; ValueError listing close matches when unknown.

    Examples
    --------
    >>> statistic("icc").columns
    ('icc', 'icc_ci_low', 'icc_ci_high')
    >>> statistic("icx")
    Traceback (most recent call last):
    ...
    ValueError: unknown statistic 'icx'; did you mean 'icc'?
    """
    if name not in STATISTICS:
        close = difflib.get_close_matches(name, list(STATISTICS), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"have {', '.join(STATISTICS)}"
        raise ValueError(f"unknown statistic {name!r}; {hint}")
    return STATISTICS[name]


def column_labels() -> dict[str, str]:
    """Label of every agreement-table column the statistics contribute (the column if none)."""
    return {c: s.labels.get(c, c) for s in STATISTICS.values() for c in s.columns}


__all__ = ["STATISTICS", "Display", "Statistic", "column_labels", "statistic"]
