"""Assemble a report folder: statistics → figures → tables → ``index.html`` (all or nothing).

:func:`build_report` is pure assembly: the numbers come from :mod:`agreement.stats` and
:mod:`agreement.summary`, the drawings from :mod:`figures`. The folder is written inside
:func:`agreement.atomic.atomic_dir`, so an error at any step leaves no folder behind.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agreement.atomic import atomic_dir
from agreement.report import content
from agreement.report.cases import anchors, case_details
from agreement.report.html import HtmlTable, frame_table, render_html
from agreement.report.provenance import (
    command_line,
    file_records,
    provenance,
    utc_now,
    versions,
)
from agreement.report.text import REFERENCES, citation, definitions, methods_markdown
from agreement.report.verdicts import CCC_THRESHOLD, method_verdicts, outliers
from agreement.tables import MISSING_COLUMNS

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
#: Keys of each ``summary.json["agreement"]`` record.
AGREEMENT_KEYS = (
    "method",
    "metric",
    "n",
    "ccc",
    "ccc_ci_low",
    "ccc_ci_high",
    "ccc_strength",
    "tost_p",
    "equivalent",
    "ba_bias",
    "ba_loa_low",
    "ba_loa_high",
    "cp",
    "tdi",
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
VERDICT_RULE = (
    "Interchangeable for a metric means CCC ≥ {ccc:.2f} (McBride's 'moderate' or better) and "
    "the TOST showing the mean difference equivalent within ±{margin:.4g}% of the mean reference; "
    "otherwise the metric is listed under 'not for', with the direction of the mean difference "
    "(predicted − reference) and the criterion that failed. Not assessable: fewer than 3 "
    "paired cases or no spread."
)
#: Outlier rows per metric (largest |predicted − reference|).
N_OUTLIERS = 5
#: Resolution of the PNGs embedded in the page (the 7.2 in figures span about 1440 px).
PAGE_DPI = 200

FIGURE_TEXT = {
    "ccc_radar": (
        "CCC radar",
        "Lin's CCC of each metric; one radar per network, one polygon per loss.",
    ),
    "ccc_intervals": (
        "CCC with confidence intervals",
        "Lin's CCC (dot) and its confidence interval (line) per metric and method; dotted "
        "lines at McBride's 0.90, 0.95 and 0.99.",
    ),
    "tost_forest": (
        "TOST forest plot",
        "Mean difference (predicted − reference) with its 1 − 2α interval per metric and "
        "method; dashed lines at ±Δ; green = equivalent, red = not shown equivalent.",
    ),
    "bland_altman_modified": (
        "Modified Bland–Altman",
        "Difference (predicted − reference) against the reference value, per metric and "
        "network; dashed lines at ±Δ, the TOST margin times the mean reference (the papers used 20%), "
        "dotted line at 0.",
    ),
    "coverage_tdi": (
        "Coverage probability and total deviation index",
        "CP with its interval and TDI (with its upper limit when bootstrapped) per metric, "
        "network and loss.",
    ),
    "dsc_scenarios": ("DSC by lesion scenario", "Patient DSC, single vs multiple lesions."),
    "dsc_distributions": ("DSC, FNV and FPV", "Distributions of the autoPET overlap measures."),
    "dsc_tmtv_thresholds": (
        "DSC above volume thresholds",
        "Median DSC of the cases (patient level) and lesions (lesion level) above each "
        "reference-volume threshold.",
    ),
    "dsc_dmax_quartiles": (
        "DSC by Dmax quartile",
        "Patient DSC of multiple-lesion cases per reference Dmax quartile group.",
    ),
}


def _timer() -> tuple[dict[str, float], Any]:
    timings: dict[str, float] = {}

    class _Stage:
        def __init__(self, name: str) -> None:
            self.name = name

        def __enter__(self) -> None:
            self.start = time.perf_counter()

        def __exit__(self, *exc: object) -> None:
            timings[self.name] = timings.get(self.name, 0.0) + time.perf_counter() - self.start

    return timings, _Stage


def _jsonable(value: Any) -> Any:
    """NaN/inf → None, numpy scalars → Python, recursively."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
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


def _records(df: pd.DataFrame | None, keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
    if df is None or df.empty:
        return []
    keys = list(keys) if keys is not None else list(df.columns)
    return [_jsonable({k: r.get(k) for k in keys}) for r in df.to_dict("records")]


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


def _write_table(df: pd.DataFrame, path: Path) -> None:
    try:
        from agreement.tables import write_table
    except ImportError:  # tables not installed: plain CSV
        write_table = None
    if write_table is not None:
        write_table(df, path)
    elif path.suffix == ".parquet":
        df.to_parquet(path, index=False)
    else:
        df.to_csv(path, index=False, sep="\t" if path.suffix == ".tsv" else ",")


def _statistics(measurements: pd.DataFrame, p: Mapping[str, Any]) -> pd.DataFrame:
    from agreement.stats import agreement_table

    return agreement_table(
        measurements,
        alpha=p["alpha"],
        margin=p["margin"],
        delta=p["delta"],
        tdi_p=p["tdi_p"],
        bootstrap=p["bootstrap"],
        seed=p["seed"],
    )


def _comparisons(
    measurements: pd.DataFrame, best: str | None, p: Mapping[str, Any]
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
            res = compare_methods(
                measurements,
                best,
                other,
                stat="ccc",
                metric=None,
                n_boot=p["n_boot"],
                seed=p["seed"],
            )
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

    p = np.asarray(list(p_values), dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
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


#: Drawn first when figures are drawn in parallel (the slowest first keeps the workers busy).
_SLOW_FIRST = ("coverage_tdi", "bland_altman_modified", "tost_forest", "dsc_tmtv_thresholds")


def _draw_one(
    name: str, plan_kwargs: dict[str, Any], stem: Path, formats: tuple[str, ...]
) -> list[Path]:
    """Draw one figure of the plan and save it (runs in a worker with ``workers > 1``)."""
    from figures.render import plan_figures
    from figures.style import save_figure

    fig = plan_figures(**plan_kwargs)[name]()
    return save_figure(fig, stem, formats=formats, dpi=PAGE_DPI)


def _figures(
    measurements: pd.DataFrame,
    agreement: pd.DataFrame,
    cases: pd.DataFrame | None,
    lesions: pd.DataFrame | None,
    folder: Path,
    width: str,
    best: str | None,
    margin: float,
    formats: tuple[str, ...] = ("png",),
    strata: Mapping[str, pd.DataFrame] | None = None,
    workers: int = 1,
) -> list[dict[str, str]]:
    """Draw each figure once; PNG (embedded in the page) plus the vector ``formats`` asked for.

    With ``workers > 1`` the figures are drawn in that many processes (joblib, the pool that
    measured the cases when there was one).
    """
    import base64

    from figures.render import plan_figures, safe_name

    # One classic Bland-Altman plot (the best method's); the grid shows every method.
    plan_kwargs: dict[str, Any] = {
        "agreement": agreement, "cases": cases, "lesions": lesions, "width": width,
        "margin": margin, "bland_altman_methods": [best] if best else [], "strata": strata,
    }  # fmt: skip
    names = list(plan_figures(measurements, **plan_kwargs))
    plan_kwargs["measurements"] = measurements
    keep = f"bland_altman_{safe_name(best)}" if best else None
    folder.mkdir(exist_ok=True)
    wanted = ("png", *[f for f in formats if f != "png"])
    stems = {n: folder / "".join(c if c.isalnum() or c in "-_" else "_" for c in n) for n in names}
    order = [n for n in _SLOW_FIRST if n in names] + [n for n in names if n not in _SLOW_FIRST]
    if workers > 1 and len(names) > 1:
        from joblib import Parallel, delayed

        jobs = min(workers, len(names))
        drawn = Parallel(n_jobs=jobs)(
            delayed(_draw_one)(n, plan_kwargs, stems[n], wanted) for n in order
        )
        paths = dict(zip(order, drawn, strict=True))
    else:
        paths = {n: _draw_one(n, plan_kwargs, stems[n], wanted) for n in names}
    out = []
    for name in names:
        safe = stems[name].name
        if name == keep:
            title, caption = (
                f"Bland–Altman, {best}",
                "Classic Bland–Altman plot of the best method: bias and limits of agreement "
                "with their confidence intervals, per metric. figures/ of agree figures has one "
                "per method.",
            )
        else:
            title, caption = FIGURE_TEXT.get(safe, (safe.replace("_", " ").capitalize(), ""))
        png = base64.b64encode(paths[name][0].read_bytes()).decode("ascii")
        out.append(
            {
                "name": safe,
                "title": title,
                "caption": caption,
                "src": "data:image/png;base64," + png,
                "files": ", ".join(p.name for p in paths[name]),
            }
        )
    return out


def _stratified(tables: Mapping[str, pd.DataFrame]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if "dsc_by_scenario" in tables and not tables["dsc_by_scenario"].empty:
        out.append(
            {
                "title": "DSC by lesion scenario",
                "description": "Patient DSC, median [IQR], by number of reference lesions.",
                "table": content.scenario_display(tables["dsc_by_scenario"]),
            }
        )
    tmtv = tables.get("dsc_by_tmtv")
    if tmtv is not None and not tmtv.empty:
        for level, scenario, text in [
            ("patient", "all", "all cases"),
            ("patient", "single", "single-lesion cases"),
            ("patient", "multiple", "multiple-lesion cases"),
            ("lesion", "all", "all reference lesions (lesion DSC, missed = 0)"),
        ]:
            sub = tmtv[tmtv["level"] == level]
            if (sub["scenario"] == scenario).any():
                what = "reference TMTV" if level == "patient" else "reference lesion volume"
                out.append(
                    {
                        "title": f"Median DSC above {what} thresholds: {text}",
                        "description": "Thresholds step by one IQR from 0 to the 85th percentile.",
                        "table": content.threshold_display(sub, scenario),
                    }
                )
    dmax = tables.get("dsc_by_dmax")
    if dmax is not None and not dmax.empty:
        out.append(
            {
                "title": "DSC by reference Dmax quartile (multiple-lesion cases)",
                "description": "Patient DSC, median [IQR], per quartile group G0–G3.",
                "table": content.dmax_display(dmax),
            }
        )
    return out


def build_report(
    measurements: pd.DataFrame,
    *,
    out_dir: str | os.PathLike[str],
    cases: pd.DataFrame | None = None,
    lesions: pd.DataFrame | None = None,
    failed: pd.DataFrame | None = None,
    missing: pd.DataFrame | None = None,
    overwrite: bool = False,
    alpha: float = 0.05,
    margin: float = 0.2,
    delta: float = 0.2,
    tdi_p: float = 0.95,
    bootstrap: int = 0,
    seed: int = 0,
    n_boot: int = 2000,
    width: str = "double",
    figure_formats: Iterable[str] = ("png",),
    table_format: str = "csv",
    measure_parameters: Mapping[str, Any] | None = None,
    layout: str | None = None,
    skipped: Iterable[str] = (),
    source: str = "",
    inputs: Iterable[str | os.PathLike[str]] = (),
    command: str | None = None,
    timings: Mapping[str, float] | None = None,
    volumes: Mapping[str, Mapping[str, Any]] | None = None,
    workers: int = 1,
    title: str = "PET segmentation agreement report",
    progress: Any = True,
) -> Path:
    """Write the full report folder for a measurements table and return its path.

    Parameters
    ----------
    measurements : DataFrame
        The measurements table (``case_id, method, metric, reference, predicted``).
    out_dir : path
        The report folder; refused when it exists unless ``overwrite``.
    cases, lesions, failed : DataFrame, optional
        The cases and lesions tables (detection, overlap and strata) and the failures of the
        measuring step (listed under "cases skipped").
    missing : DataFrame, optional
        Pairs without a prediction and skipped inputs (``case_id, method, status, reason``;
        ``CohortResult.missing``). Pairs a method lacks in ``measurements`` are added; the
        completed table is written as ``missing.<ext>``, listed in ``summary.json`` and in the
        HTML, which shows a banner when anything is missing, skipped or failed.
    alpha, margin, delta, tdi_p, bootstrap, seed
        The statistics' parameters (as ``agree stats``).
    n_boot : int
        Bootstrap resamples of the paired method comparisons.
    width : {"single", "double"}
        Figure width (journal column).
    figure_formats : iterable of {"png", "svg", "pdf"}
        Files written per figure under ``figures/``. PNG (200 dpi) is always written: the page
        embeds it; SVG (text kept as text) and PDF only when asked.
    table_format : {"csv", "tsv", "parquet"}
        Format of the data tables; ``agreement.csv`` and the summaries are always CSV.
    measure_parameters : mapping, optional
        How the measurements were made (``connectivity``, ``criterion``, ...), for the text.
    layout, source : str
        The input layout detected and a one-line description of the source, for the summary.
    skipped : iterable of str
        Inputs found but not measured, each ``"PATH: reason"`` (``CohortResult.skipped``);
        added to ``missing`` as ``skipped`` rows unless listed there already.
    inputs : iterable of paths
        Input files, listed with size and SHA-256 in the About section and provenance.json.
    command : str, optional
        The command line (``sys.argv`` by default).
    timings : mapping, optional
        Times of earlier steps (e.g. ``{"measure": 3.2}``) to record beside this run's.
    volumes : mapping, optional
        Per case id: ``{"pet": path, "reference": path, "predictions": {method: path}}``, for
        the MIP thumbnails of the outlier cases (none without it).
    workers : int
        Processes drawing the figures (``agree report -j N`` passes its ``N``).
    progress : bool or tqdm
        Show a progress display, or advance this tqdm bar by one per stage.

    Returns
    -------
    Path
        The report folder, holding ``index.html``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.uniform(1, 10, 8)
    >>> m = pd.DataFrame({"case_id": [f"c{i}" for i in range(8)], "method": "unet/dice",
    ...                   "metric": "suv_max", "reference": ref,
    ...                   "predicted": ref + rng.normal(0, 0.3, 8)})
    >>> out = build_report(m, out_dir=pathlib.Path(tempfile.mkdtemp()) / "r", progress=False)
    >>> sorted(p.name for p in out.iterdir() if p.suffix)[:4]
    ['agreement.csv', 'index.html', 'measurements.csv', 'methods.md']
    """
    from agreement.tables import validate_measurements

    if not 0 < alpha < 0.5 or not 0 < tdi_p < 1:
        raise ValueError(f"alpha must be in (0, 0.5) and tdi_p in (0, 1), got {alpha!r}, {tdi_p!r}")
    if not margin > 0 or not delta > 0:
        raise ValueError(f"margin and delta must be > 0, got {margin!r}, {delta!r}")
    if table_format not in ("csv", "tsv", "parquet"):
        raise ValueError(f"table_format must be csv, tsv or parquet, got {table_format!r}")
    from agreement.summary import missing_table

    figure_formats = tuple(dict.fromkeys(str(f).lower().lstrip(".") for f in figure_formats))
    if not set(figure_formats) <= {"png", "svg", "pdf"}:
        raise ValueError(f"figure formats must be png, svg or pdf, got {figure_formats!r}")
    measurements = validate_measurements(measurements, source="measurements", check_pairing=False)
    cases, lesions, failed = (
        None if t is None else t.assign(case_id=t["case_id"].astype(str)) if "case_id" in t else t
        for t in (cases, lesions, failed)
    )
    missing = missing_table(measurements, missing, failed, skipped)
    absent = missing[missing["status"] != "skipped"]
    skipped_rows = missing[missing["status"] == "skipped"]
    params: dict[str, Any] = {
        "alpha": alpha,
        "margin": margin,
        "delta": delta,
        "tdi_p": tdi_p,
        "bootstrap": int(bootstrap),
        "seed": int(seed),
        "n_boot": int(n_boot),
        "width": width,
        "figure_formats": ",".join(("png", *[f for f in figure_formats if f != "png"])),
        **dict(measure_parameters or {}),
    }
    inputs = list(inputs)
    created = utc_now()
    command = command if command is not None else command_line()
    stage_times, stage = _timer()
    bar, own_bar = _progress(progress)
    try:
        with atomic_dir(out_dir, overwrite=overwrite, inputs=inputs) as tmp:
            with stage("statistics"):
                _step(bar, "statistics")
                agreement = _statistics(measurements, params)
                best = best_method(agreement)
                comparisons, comparison_note = _comparisons(measurements, best, params)
                tables = _summaries(measurements, cases, lesions)
                verdicts = method_verdicts(agreement, margin=margin)
                outlier_table = outliers(measurements, k=N_OUTLIERS)
            with stage("figures"):
                _step(bar, "figures")
                figures = _figures(
                    measurements,
                    agreement,
                    cases,
                    lesions,
                    tmp / "figures",
                    width,
                    best,
                    params["margin"],
                    figure_formats,
                    tables,
                    workers,
                )
            with stage("tables"):
                _step(bar, "tables")
                ext = "." + table_format
                _write_all(
                    tmp,
                    ext,
                    measurements,
                    cases,
                    lesions,
                    failed,
                    agreement,
                    comparisons,
                    {"missing" + ext: missing, **{f"{k}.csv": v for k, v in tables.items()}},
                )
            with stage("provenance"):
                _step(bar, "provenance")
                inputs_rec = file_records(inputs)
            with stage("html"):
                _step(bar, "html")
                vers = versions()
                all_timings = {**dict(timings or {}), **stage_times}
                methods = list(dict.fromkeys(measurements["method"].astype(str)))
                metrics = content.ordered_metrics(measurements["metric"])
                n_cases = int(measurements["case_id"].nunique())
                (tmp / "methods.md").write_text(
                    methods_markdown(
                        params,
                        n_cases=n_cases,
                        methods=methods,
                        metrics=[content.metric_label(m) for m in metrics],
                        versions=vers,
                    ),
                    encoding="utf-8",
                )
                files = sorted(
                    [str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file()]
                    + ["index.html", "provenance.json", "summary.json"]
                )
                summary_doc = {
                    "schema_version": 2,
                    "generator": f"pet-agreement {vers['pet-agreement']}",
                    "created": created,
                    "n_cases": n_cases,
                    "n_methods": len(methods),
                    "methods": methods,
                    "metrics": metrics,
                    "n_failed": 0 if failed is None else len(failed),
                    "failed": _records(failed),
                    "skipped": _records(skipped_rows, ["case_id", "method", "reason"]),
                    "parameters": _jsonable(params),
                    "best_method": best,
                    "best_method_rule": BEST_RULE,
                    "agreement": _records(agreement, AGREEMENT_KEYS),
                    "detection": _records(tables.get("table1"), DETECTION_KEYS)
                    if "table1" in tables
                    else [],
                    "comparisons": _records(comparisons),
                    "files": files,
                    "n_missing": len(absent),
                    "missing": _records(absent, MISSING_COLUMNS),
                    "n_skipped": len(skipped_rows),
                    "verdicts": {v.method: v.sentence for v in verdicts},
                    "outliers": _records(outlier_table),
                }
                _write_json(tmp / "summary.json", summary_doc)
                context = _context(
                    title=title,
                    created=created,
                    version=vers["pet-agreement"],
                    params=params,
                    measurements=measurements,
                    cases=cases,
                    lesions=lesions,
                    failed=failed,
                    missing=absent,
                    skipped=skipped_rows,
                    agreement=agreement,
                    best=best,
                    comparisons=comparisons,
                    comparison_note=comparison_note,
                    tables=tables,
                    figures=figures,
                    layout=layout or "",
                    source=source,
                    command=command,
                    versions_=vers,
                    inputs=inputs_rec,
                    timings=all_timings,
                    methods=methods,
                    metrics=metrics,
                    n_cases=n_cases,
                    verdicts=verdicts,
                    outliers=outlier_table,
                    cases_detail=case_details(outlier_table, measurements, cases, volumes),
                )
                (tmp / "index.html").write_text(render_html(context), encoding="utf-8")
            all_timings = {**dict(timings or {}), **stage_times}
            _write_json(
                tmp / "provenance.json",
                provenance(
                    command=command,
                    created=created,
                    parameters=_jsonable(params),
                    inputs=inputs_rec,
                    timings=all_timings,
                ),
            )
            _readable(tmp)
    finally:
        if own_bar and bar is not None:
            bar.close()
    return Path(out_dir)


def _readable(folder: Path) -> None:
    """Give the report the permissions the user's umask asks for (temporary ones are private)."""
    umask = _umask()
    for path in [folder, *folder.rglob("*")]:
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def _umask() -> int:
    """The process umask, read without changing it where /proc allows."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    umask = os.umask(0o022)  # elsewhere: read by setting, then restore
    os.umask(umask)
    return umask


def _progress(progress: Any) -> tuple[Any, bool]:
    if progress is False or progress is None:
        return None, False
    if progress is True:
        from agreement.progress import progress_bar

        return progress_bar(total=5, desc="report", unit="step"), True
    return progress, False


def _step(bar: Any, name: str) -> None:
    if bar is not None:
        bar.set_postfix_str(name)
        bar.update(1)


def _write_json(path: Path, doc: Mapping[str, Any]) -> None:
    path.write_text(
        json.dumps(_jsonable(dict(doc)), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def _write_all(
    tmp: Path,
    ext: str,
    measurements: pd.DataFrame,
    cases: pd.DataFrame | None,
    lesions: pd.DataFrame | None,
    failed: pd.DataFrame | None,
    agreement: pd.DataFrame,
    comparisons: pd.DataFrame | None,
    tables: Mapping[str, pd.DataFrame],
) -> list[Path]:
    """Write the data tables; ``tables`` maps further file names to frames."""
    written = []
    pairs: list[tuple[str, pd.DataFrame | None]] = [
        ("measurements" + ext, measurements),
        ("cases" + ext, cases),
        ("lesions" + ext, lesions),
        ("failed" + ext, failed),
        ("agreement.csv", agreement),
        ("comparisons.csv", comparisons),
        *tables.items(),
    ]
    for name, df in pairs:
        if df is not None:
            _write_table(df, tmp / name)
            written.append(tmp / name)
    return written


def _context(**kw: Any) -> dict[str, Any]:
    params = kw["params"]
    cases, lesions, tables = kw["cases"], kw["lesions"], kw["tables"]
    notes = []
    if len(kw["methods"]) < 2:
        notes.append("Only one method in the table: paired method comparisons are omitted.")
    small = kw["agreement"][pd.to_numeric(kw["agreement"]["n"], errors="coerce") < 3]
    if not small.empty:
        what = ", ".join(
            sorted(
                {
                    f"{content.metric_label(m)} ({meth})"
                    for m, meth in zip(small["metric"], small["method"], strict=True)
                }
            )
        )
        notes.append(f"Fewer than 3 paired cases (intervals not estimable, TOST not run): {what}.")
    if cases is None:
        detection, det_note = (
            HtmlTable([], [], []),
            (
                "No cases table: detection and overlap need the masks (run agree report on the "
                "folders, or pass --cases)."
            ),
        )
    else:
        detection, det_note = content.detection_display(tables["table1"]), ""
    overlap = (
        content.overlap_display(cases)
        if cases is not None and {"fpv", "fnv"} <= set(cases)
        else None
    )
    if lesions is None or lesions.empty:
        lesion_table = HtmlTable([], [], [])
        lesion_note = "No lesions table (pass --lesions, or run agree report on the folders)."
    else:
        lesion_table = content.lesion_summary(lesions, cases)
        lesion_note = (
            "Sensitivity = detected / reference lesions; a missed lesion has lesion DSC 0; "
            "volumes are medians over reference lesions."
        )
    stratified = _stratified(tables)
    comp = kw["comparisons"]
    param_rows = [[k, "—" if v is None or v == "" else str(v)] for k, v in params.items()]
    version_rows = [[k, v] for k, v in kw["versions_"].items()]
    input_rows = [[r["path"], f"{r['size']:,}", r["sha256"]] for r in kw["inputs"]]
    timing_rows = [[k, f"{v:.2f}"] for k, v in kw["timings"].items()]
    return {
        "title": kw["title"],
        "alpha": params["alpha"],
        "created": kw["created"],
        "version": kw["version"],
        "summary": {
            "n_cases": kw["n_cases"],
            "n_methods": len(kw["methods"]),
            "methods": kw["methods"],
            "metrics": [content.metric_label(m) for m in kw["metrics"]],
            "layout": kw["layout"],
            "source": kw["source"] or "measurements table",
            "n_failed": 0 if kw["failed"] is None else len(kw["failed"]),
            "n_missing": len(kw["missing"]),
            "n_skipped": len(kw["skipped"]),
        },
        "notes": notes,
        "case_counts": content.case_counts(kw["measurements"]),
        "failed": frame_table(kw["failed"]),
        "missing": frame_table(kw["missing"]),
        "skipped": frame_table(kw["skipped"][["case_id", "method", "reason"]]),
        "banner": content.omission_banner(kw["failed"], kw["missing"], kw["skipped"]),
        "overview": content.overview(kw["agreement"]),
        "metric_sections": content.metric_sections(
            kw["agreement"], kw["outliers"], anchors(kw["outliers"]["case_id"])
        ),
        "verdicts": [
            {
                "method": v.method,
                "text": v.sentence[len(v.method) + 2 :],
                "cls": "yes"
                if v.interchangeable and not v.not_interchangeable
                else "no"
                if not v.interchangeable
                else "mixed",
            }
            for v in kw["verdicts"]
        ],
        "verdict_rule": VERDICT_RULE.format(ccc=CCC_THRESHOLD, margin=100 * params["margin"]),
        "n_outliers": N_OUTLIERS,
        "cases_detail": kw["cases_detail"],
        "figures": kw["figures"],
        "detection": detection,
        "detection_note": det_note,
        "overlap": overlap,
        "lesion_summary": lesion_table,
        "lesion_note": lesion_note,
        "stratified": stratified,
        "stratified_note": ""
        if stratified
        else "Stratified results need the cases table (and TMTV and Dmax measurements).",
        "comparison": {
            "best": kw["best"] or "",
            "rule": BEST_RULE,
            "stat": "ccc",
            "table": content.comparison_display(comp, params["alpha"])
            if comp is not None
            else HtmlTable([], [], []),
            "note": kw["comparison_note"],
        },
        "definitions": definitions(params),
        "parameters": HtmlTable(["Parameter", "Value"], param_rows, [False, False]),
        "references": REFERENCES,
        "citation": citation(kw["version"]),
        "about": {
            "time": kw["created"],
            "command": kw["command"],
            "versions": HtmlTable(["Package", "Version"], version_rows, [False, False]),
            "inputs": HtmlTable(["File", "Bytes", "SHA-256"], input_rows, [False, True, False]),
            "timings": HtmlTable(["Step", "Seconds"], timing_rows, [False, True]),
        },
    }


__all__ = ["AGREEMENT_KEYS", "DETECTION_KEYS", "SUMMARY_KEYS", "best_method", "build_report"]
