"""Compute once: every number of a report in one frozen :class:`Analysis`.

:func:`analyse` runs the statistics, the method comparisons, the detection and overlap
summaries, the strata, the verdicts and the outliers of a measurements table (and its cases
and lesions tables). ``agree stats``, the figures and the HTML report then render the same
:class:`Analysis`; :meth:`Analysis.to_dict` is ``summary.json``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from agreement.options import StatsOptions
from agreement.stats.registry import STATISTICS

if TYPE_CHECKING:
    from agreement.report.verdicts import Verdict

#: Top-level keys of ``summary.json``; documented in docs/report.md and kept stable.
SUMMARY_KEYS = (
    "schema_version",
    "generator",
    "created",
    "n_cases",
    "n_methods",
    "methods",
    "metrics",
    "n_failed",
    "failed",
    "skipped",
    "parameters",
    "best_method",
    "best_method_rule",
    "agreement",
    "detection",
    "comparisons",
    "files",
    "n_missing",
    "missing",
    "n_skipped",
    "verdicts",
    "outliers",
)
#: Keys of each ``summary.json["agreement"]`` record: each statistic's ``summary`` columns.
AGREEMENT_KEYS = (
    "method",
    "metric",
    "n",
    *(c for s in STATISTICS.values() for c in s.summary),
    "note",
)
#: Keys of each ``summary.json["detection"]`` record.
DETECTION_KEYS = (
    "method",
    "n",
    "dsc_mean",
    "dsc_median",
    "tp_rate_mean",
    "fp_mean",
    "fn_rate_mean",
    "f1_mean",
)
BEST_RULE = "highest mean CCC over the metrics it could be estimated for; ties by name"
#: Outlier rows per metric (largest |predicted − reference|).
N_OUTLIERS = 5


@dataclass(frozen=True, eq=False, repr=False)
class Analysis:
    """Every number of a report, computed once by :func:`analyse`; render it many times.

    Attributes
    ----------
    measurements, cases, lesions, failed : DataFrame
        The validated inputs (``cases``, ``lesions``, ``failed`` may be None).
    missing, skipped : DataFrame
        Pairs without a prediction, and inputs found but not measured
        (``case_id, method, status, reason``).
    options : StatsOptions
        The options the statistics used.
    agreement : DataFrame
        :func:`~agreement.agreement_table`, one row per (method, metric).
    best_method : str or None
        The method chosen by :data:`BEST_RULE` (``best_method_rule``).
    comparisons : DataFrame or None
        Paired bootstrap of the CCC, best method against each other (with Holm's p).
    strata : dict of DataFrame
        ``table1`` (detection and overlap, Table I), ``dsc_by_scenario``, ``dsc_by_tmtv``,
        ``dsc_by_dmax``: those the cases table allows.
    overlap, lesion_summary : DataFrame or None
        FPV and FNV per method (:func:`agreement.summary.overlap_summary`, with a cases table
        holding them) and the lesion-level detection per method
        (:func:`agreement.summary.lesion_summary`, with a lesions table).
    verdicts : list of Verdict
        Per method, the metrics it can replace the reference for.
    outliers : DataFrame
        The largest differences per metric.
    notes : tuple of str
        What the reader should know (one method only, too few cases, comparisons left out).
    created : str
        UTC time of the analysis.
    """

    measurements: pd.DataFrame
    cases: pd.DataFrame | None
    lesions: pd.DataFrame | None
    failed: pd.DataFrame | None
    missing: pd.DataFrame
    skipped: pd.DataFrame
    options: StatsOptions
    agreement: pd.DataFrame
    best_method: str | None
    comparisons: pd.DataFrame | None
    strata: Mapping[str, pd.DataFrame]
    verdicts: tuple[Verdict, ...]
    outliers: pd.DataFrame
    overlap: pd.DataFrame | None = None
    lesion_summary: pd.DataFrame | None = None
    notes: tuple[str, ...] = ()
    comparison_note: str = ""
    created: str = ""
    best_method_rule: str = field(default=BEST_RULE)

    @property
    def methods(self) -> list[str]:
        """Methods in order of first appearance."""
        return list(dict.fromkeys(self.measurements["method"].astype(str)))

    @property
    def metrics(self) -> list[str]:
        """Metrics, canonical ones first."""
        from agreement.report.content import ordered_metrics

        return ordered_metrics(self.measurements["metric"])

    @property
    def n_cases(self) -> int:
        """Distinct case ids in the measurements."""
        return int(self.measurements["case_id"].nunique())

    @property
    def table1(self) -> pd.DataFrame | None:
        """Table I (detection and overlap per method), when there is a cases table."""
        return self.strata.get("table1")

    def __repr__(self) -> str:
        return (
            f"Analysis({self.n_cases} cases, methods {self.methods}, metrics {self.metrics}, "
            f"best {self.best_method!r})"
        )

    def to_dict(
        self, *, files: Iterable[str] = (), parameters: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """``summary.json``: JSON-ready (NaN as None), keys :data:`SUMMARY_KEYS`.

        Parameters
        ----------
        files : iterable of str
            The files of the report folder, when written as one.
        parameters : mapping, optional
            Further parameters listed after the statistics' (figure width, how the masks
            were measured).

        Examples
        --------
        >>> import pandas as pd
        >>> from agreement import analyse
        >>> m = pd.DataFrame({"case_id": list("abcd"), "method": "x", "metric": "tmtv",
        ...                   "reference": [1.0, 2.0, 3.0, 4.0], "predicted": [1.1, 2.1, 2.8, 4.2]})
        >>> doc = analyse(m).to_dict()
        >>> doc["best_method"], doc["agreement"][0]["n"], doc["parameters"]["margin"]
        ('x', 4, 0.2)
        """
        from agreement.report.provenance import versions
        from agreement.tables import MISSING_COLUMNS

        table1 = self.table1
        doc = {
            "schema_version": 2,
            "generator": f"pet-agreement {versions()['pet-agreement']}",
            "created": self.created,
            "n_cases": self.n_cases,
            "n_methods": len(self.methods),
            "methods": self.methods,
            "metrics": self.metrics,
            "n_failed": 0 if self.failed is None else len(self.failed),
            "failed": records(self.failed),
            "skipped": records(self.skipped, ["case_id", "method", "reason"]),
            "parameters": jsonable({**self.options.parameters(), **dict(parameters or {})}),
            "best_method": self.best_method,
            "best_method_rule": self.best_method_rule,
            "agreement": records(self.agreement, AGREEMENT_KEYS),
            "detection": records(table1, DETECTION_KEYS) if table1 is not None else [],
            "comparisons": records(self.comparisons),
            "files": sorted(files),
            "n_missing": len(self.missing),
            "missing": records(self.missing, MISSING_COLUMNS),
            "n_skipped": len(self.skipped),
            "verdicts": {v.method: v.sentence for v in self.verdicts},
            "outliers": records(self.outliers),
        }
        return jsonable(doc)


def analyse(
    measurements: pd.DataFrame,
    *,
    cases: pd.DataFrame | None = None,
    lesions: pd.DataFrame | None = None,
    failed: pd.DataFrame | None = None,
    missing: pd.DataFrame | None = None,
    skipped: Iterable[str] = (),
    options: StatsOptions | None = None,
) -> Analysis:
    """Compute every number of the report once: statistics, comparisons, summaries, verdicts.

    Parameters
    ----------
    measurements : DataFrame
        The measurements table (``case_id, method, metric, reference, predicted``).
    cases, lesions, failed : DataFrame, optional
        The cases and lesions tables (detection, overlap and strata) and the failures of the
        measuring step.
    missing : DataFrame, optional
        Pairs without a prediction and skipped inputs (``case_id, method, status, reason``;
        ``CohortResult.missing``). Pairs a method lacks in ``measurements`` are added.
    skipped : iterable of str
        Inputs found but not measured, each ``"PATH: reason"`` (``CohortResult.skipped``).
    options : StatsOptions, optional
        The statistics' options (defaults: ``StatsOptions()``).

    Returns
    -------
    Analysis

    Examples
    --------
    >>> import pandas as pd
    >>> from agreement import analyse
    >>> m = pd.DataFrame({"case_id": list("abcde") * 2, "method": ["A"] * 5 + ["B"] * 5,
    ...                   "metric": "tmtv", "reference": [10.0, 12, 8, 20, 15] * 2,
    ...                   "predicted": [11.0, 11.5, 8.4, 19, 16, 14, 9, 10, 25, 12]})
    >>> a = analyse(m)
    >>> a.best_method, len(a.agreement), list(a.comparisons["b"])
    ('A', 2, ['B'])
    """
    from agreement.report.provenance import utc_now
    from agreement.report.verdicts import method_verdicts, outliers
    from agreement.summary import lesion_summary, missing_table, overlap_summary
    from agreement.tables import validate_measurements

    options = StatsOptions() if options is None else options
    if not isinstance(options, StatsOptions):
        raise TypeError(f"options must be a StatsOptions, got {type(options).__name__}")
    measurements = validate_measurements(measurements, source="measurements", check_pairing=False)
    cases, lesions, failed = (
        None if t is None else t.assign(case_id=t["case_id"].astype(str)) if "case_id" in t else t
        for t in (cases, lesions, failed)
    )
    every_missing = missing_table(measurements, missing, failed, skipped)
    is_skipped = every_missing["status"] == "skipped"
    agreement = _agreement_table(measurements, options)
    best = best_method(agreement)
    comparisons, comparison_note = _comparisons(measurements, best, options)
    methods = list(dict.fromkeys(measurements["method"].astype(str)))
    return Analysis(
        measurements=measurements,
        cases=cases,
        lesions=lesions,
        failed=failed,
        missing=every_missing[~is_skipped],
        skipped=every_missing[is_skipped],
        options=options,
        agreement=agreement,
        best_method=best,
        comparisons=comparisons,
        comparison_note=comparison_note,
        strata=_summaries(measurements, cases, lesions),
        verdicts=tuple(method_verdicts(agreement, margin=options.margin)),
        outliers=outliers(measurements, k=N_OUTLIERS),
        overlap=overlap_summary(cases)
        if cases is not None and {"fpv", "fnv"} <= set(cases)
        else None,
        lesion_summary=None if lesions is None or lesions.empty else lesion_summary(lesions, cases),
        notes=tuple(_notes(agreement, methods)),
        created=utc_now(),
    )


def _agreement_table(measurements: pd.DataFrame, options: StatsOptions) -> pd.DataFrame:
    from agreement.stats import agreement_table

    return agreement_table(measurements, options=options)


def best_method(agreement: pd.DataFrame) -> str | None:
    """The method with the highest mean CCC over its estimable metrics (ties by name).

    Examples
    --------
    >>> t = pd.DataFrame({"method": ["a", "a", "b", "b"], "metric": ["x", "y"] * 2,
    ...                   "ccc": [0.9, 0.8, 0.95, np.nan]})
    >>> best_method(t)
    'b'
    """
    means = agreement.groupby("method")["ccc"].mean().dropna()
    if means.empty:
        return None
    ranked = sorted(means.items(), key=lambda kv: (-kv[1], str(kv[0])))
    return str(ranked[0][0])


def _comparisons(
    measurements: pd.DataFrame, best: str | None, options: StatsOptions
) -> tuple[pd.DataFrame | None, str]:
    methods = list(dict.fromkeys(measurements["method"].astype(str)))
    if len(methods) < 2:
        return None, "Only one method: paired method comparisons are omitted."
    if best is None:
        return None, "No method has an estimable CCC: paired method comparisons are omitted."
    from agreement.stats import compare_methods

    frames, notes = [], []
    for other in methods:
        if other == best:
            continue
        try:
            res = compare_methods(measurements, best, other, stat="ccc", options=options)
        except ValueError as exc:  # e.g. no shared cases
            notes.append(f"{best} vs {other}: {exc}")
            continue
        res = res.copy()
        if "a" not in res.columns:
            res.insert(0, "a", best)
        if "b" not in res.columns:
            res.insert(1, "b", other)
        frames.append(res)
    table = pd.concat(frames, ignore_index=True) if frames else None
    if table is not None:
        table.insert(table.columns.get_loc("p_value") + 1, "p_holm", holm(table["p_value"]))
    return table, " ".join(notes)


def holm(p_values: Iterable[float]) -> np.ndarray:
    """Holm-adjusted p values (statsmodels' ``multipletests``); NaN stays NaN, out of the family.

    Examples
    --------
    >>> holm([0.01, 0.04, float("nan"), 0.03]).round(3).tolist()
    [0.03, 0.06, nan, 0.06]
    """
    from statsmodels.stats.multitest import multipletests

    from agreement._gc import few_collections

    p = np.asarray(list(p_values), dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        with few_collections():  # its Holm branch calls gc.collect(): scan no older object
            out[ok] = multipletests(p[ok], method="holm")[1]
    return out


def _summaries(
    measurements: pd.DataFrame, cases: pd.DataFrame | None, lesions: pd.DataFrame | None
) -> dict[str, pd.DataFrame]:
    from agreement import summary

    out: dict[str, pd.DataFrame] = {}
    if cases is None or cases.empty:
        return out
    out["table1"] = summary.detection_table(cases)
    out["dsc_by_scenario"] = summary.dsc_by_scenario(cases)
    metrics = set(measurements["metric"])
    if "tmtv" in metrics:
        parts = [summary.dsc_by_tmtv_threshold(cases, measurements).assign(level="patient")]
        if lesions is not None and not lesions.empty:
            parts.append(
                summary.dsc_by_tmtv_threshold(
                    cases, measurements, level="lesion", lesions=lesions
                ).assign(level="lesion")
            )
        out["dsc_by_tmtv"] = pd.concat(parts, ignore_index=True)
    if "dmax" in metrics:
        out["dsc_by_dmax"] = summary.dsc_by_dmax_quartile(cases, measurements)
    return out


def _notes(agreement: pd.DataFrame, methods: list[str]) -> list[str]:
    from agreement.report.content import metric_label

    notes = []
    if len(methods) < 2:
        notes.append("Only one method in the table: paired method comparisons are omitted.")
    small = agreement[pd.to_numeric(agreement["n"], errors="coerce") < 3]
    if not small.empty:
        what = ", ".join(
            sorted(
                {
                    f"{metric_label(m)} ({meth})"
                    for m, meth in zip(small["metric"], small["method"], strict=True)
                }
            )
        )
        notes.append(f"Fewer than 3 paired cases (intervals not estimable, TOST not run): {what}.")
    return notes


def jsonable(value: Any) -> Any:
    """NaN/inf → None, numpy scalars → Python, recursively.

    Examples
    --------
    >>> jsonable({"a": np.float64("nan"), "b": [np.int64(2), np.True_]})
    {'a': None, 'b': [2, True]}
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        x = float(value)
        return x if math.isfinite(x) else None
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return None
    return value


def records(df: pd.DataFrame | None, keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The rows of ``df`` as JSON-ready dicts (only ``keys`` when given); [] for None."""
    if df is None or df.empty:
        return []
    keys = list(keys) if keys is not None else list(df.columns)
    return [jsonable({k: r.get(k) for k in keys}) for r in df.to_dict("records")]


__all__ = [
    "AGREEMENT_KEYS",
    "BEST_RULE",
    "DETECTION_KEYS",
    "SUMMARY_KEYS",
    "Analysis",
    "analyse",
    "best_method",
    "holm",
]
