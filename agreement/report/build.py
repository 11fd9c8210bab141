"""Write a report folder from an :class:`~agreement.analysis.Analysis` (all or nothing).

:func:`write_report` only writes: the numbers come from :func:`agreement.analyse`, the
drawings from the figure drawer the caller hands in (the ``agree`` CLI passes
:func:`figures.report.draw_report_figures`). The folder is written inside
:func:`agreement.atomic.atomic_dir`, so an error at any step leaves no folder behind.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from agreement.analysis import N_OUTLIERS, Analysis, jsonable
from agreement.atomic import atomic_dir
from agreement.format import fixed
from agreement.report import content
from agreement.report.cases import anchors, case_details
from agreement.report.html import HtmlTable, frame_table, render_html
from agreement.report.provenance import (
    command_line,
    file_records,
    provenance,
    versions,
)
from agreement.report.text import REFERENCES, citation, definitions, methods_markdown
from agreement.report.verdicts import CCC_THRESHOLD

VERDICT_RULE = (
    "Interchangeable for a metric means CCC ≥ {ccc:.2f} (McBride's 'moderate' or better) and "
    "the TOST showing the mean difference equivalent within ±{margin:.4g}% of the mean reference; "
    "otherwise the metric is listed under 'not for', with the direction of the mean difference "
    "(predicted − reference) and the criterion that failed. Not assessable: fewer than 3 "
    "paired cases or no spread."
)
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


def _start_figures(
    draw: FigureDrawer, analysis: Analysis, folder: Path, width: str, formats: tuple[str, ...]
) -> Any:
    """Have ``draw`` start saving each figure once under ``folder`` (see :func:`write_report`)."""
    folder.mkdir(exist_ok=True)
    return draw(analysis, folder, width=width, formats=formats)


def _finish_figures(pending: Any) -> Mapping[str, Sequence[Path]]:
    """The drawer's files by figure name: its mapping, or what its ``result()`` returns."""
    return pending.result() if hasattr(pending, "result") else pending


def _close_figures(pending: Any) -> None:
    """Stop a drawer still at work (an error elsewhere); nothing to do for a mapping."""
    close = getattr(pending, "close", None)
    if close is not None:
        close()


def _figure_cells(analysis: Analysis, paths: Mapping[str, Sequence[Path]]) -> list[dict[str, str]]:
    """The page's figure blocks: title, caption, the PNG embedded, the files written."""
    import base64

    out = []
    for files in paths.values():
        files = [Path(f) for f in files]
        safe = files[0].stem
        if safe.startswith("bland_altman_") and safe != "bland_altman_modified":
            title, caption = (
                f"Bland–Altman, {analysis.best_method}",
                "Classic Bland–Altman plot of the best method: bias and limits of agreement "
                "with their confidence intervals, per metric. figures/ of agree figures has one "
                "per method.",
            )
        else:
            title, caption = FIGURE_TEXT.get(safe, (safe.replace("_", " ").capitalize(), ""))
        png = next(f for f in files if f.suffix == ".png")
        out.append(
            {
                "name": safe,
                "title": title,
                "caption": caption,
                "src": "data:image/png;base64,"
                + base64.b64encode(png.read_bytes()).decode("ascii"),
                "files": ", ".join(f.name for f in files),
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


#: Draws the report's figures: ``draw(analysis, folder, width=, formats=)`` saves each figure
#: under ``folder`` (PNG always, then the other ``formats``) and returns its files by name.
FigureDrawer = Callable[..., Any]  # a mapping of files by figure name, or an object with result()


def write_report(
    analysis: Analysis,
    out_dir: str | os.PathLike[str],
    *,
    figures: FigureDrawer | None = None,
    overwrite: bool = False,
    width: str = "double",
    figure_formats: Iterable[str] = ("png",),
    table_format: str = "csv",
    measure_parameters: Mapping[str, Any] | None = None,
    layout: str | None = None,
    source: str = "",
    inputs: Iterable[str | os.PathLike[str]] = (),
    command: str | None = None,
    timings: Mapping[str, float] | None = None,
    volumes: Mapping[str, Mapping[str, Any]] | None = None,
    title: str = "PET segmentation agreement report",
    progress: Any = True,
) -> Path:
    """Write the report folder of an :class:`~agreement.analysis.Analysis`; return its path.

    Only writes: the numbers come from ``analysis`` (:func:`agreement.analyse`), the drawings
    from ``figures``. The folder is written inside :func:`agreement.atomic.atomic_dir`, so an
    error at any step leaves no folder behind.

    Parameters
    ----------
    analysis : Analysis
        What :func:`agreement.analyse` computed.
    out_dir : path
        The report folder; refused when it exists unless ``overwrite``.
    figures : callable, optional
        ``figures(analysis, folder, width=..., formats=...)`` saves the figures under
        ``folder`` and returns ``{name: [files]}`` (PNG first), e.g.
        ``figures.report.draw_report_figures``; no figures section without it. It may instead
        return an object whose ``result()`` returns that mapping, e.g.
        ``figures.report.start_report_figures``: the tables and the page's other parts are
        then written while it draws; its ``close()``, if any, is called at the end (stopping
        the drawing when an error came first).
    width : {"single", "double"}
        Figure width (journal column), passed to ``figures``.
    figure_formats : iterable of {"png", "svg", "pdf"}
        Files written per figure under ``figures/``. PNG is always written: the page embeds
        it; SVG (text kept as text) and PDF only when asked.
    table_format : {"csv", "tsv", "parquet"}
        Format of the data tables; ``agreement.csv`` and the summaries are always CSV.
    measure_parameters : mapping, optional
        How the measurements were made (``connectivity``, ``criterion``, ...), for the text.
    layout, source : str
        The input layout detected and a one-line description of the source, for the summary.
    inputs : iterable of paths
        Input files, listed with size and SHA-256 in the About section and provenance.json.
    command : str, optional
        The command line (``sys.argv`` by default).
    timings : mapping, optional
        Times of earlier steps (e.g. ``{"measure": 3.2}``) to record beside this run's.
    volumes : mapping, optional
        Per case id: ``{"pet": path, "reference": path, "predictions": {method: path}}``, for
        the MIP thumbnails of the outlier cases (none without it).
    progress : bool or tqdm
        Show a progress display, or advance this tqdm bar by one per stage.

    Returns
    -------
    Path
        The report folder, holding ``index.html``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from agreement import analyse
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.uniform(1, 10, 8)
    >>> m = pd.DataFrame({"case_id": [f"c{i}" for i in range(8)], "method": "unet/dice",
    ...                   "metric": "suv_max", "reference": ref,
    ...                   "predicted": ref + rng.normal(0, 0.3, 8)})
    >>> out = write_report(analyse(m), pathlib.Path(tempfile.mkdtemp()) / "r", progress=False)
    >>> sorted(p.name for p in out.iterdir() if p.suffix)[:4]
    ['agreement.csv', 'index.html', 'measurements.csv', 'methods.md']
    """
    if table_format not in ("csv", "tsv", "parquet"):
        raise ValueError(f"table_format must be csv, tsv or parquet, got {table_format!r}")
    figure_formats = tuple(dict.fromkeys(str(f).lower().lstrip(".") for f in figure_formats))
    if not set(figure_formats) <= {"png", "svg", "pdf"}:
        raise ValueError(f"figure formats must be png, svg or pdf, got {figure_formats!r}")
    wanted = ("png", *[f for f in figure_formats if f != "png"])
    a = analysis
    params: dict[str, Any] = {
        **a.options.parameters(),
        "width": width,
        "figure_formats": ",".join(wanted),
        **dict(measure_parameters or {}),
    }
    inputs = list(inputs)
    command = command if command is not None else command_line()
    stage_times, stage = _timer()
    bar, own_bar = _progress(progress)
    try:
        with atomic_dir(out_dir, overwrite=overwrite, inputs=inputs) as tmp:
            _step(bar, "statistics")  # computed by analyse: this stage only counts
            with stage("figures"):
                _step(bar, "figures")
                pending = (
                    _start_figures(figures, a, tmp / "figures", width, wanted) if figures else {}
                )
            try:
                with stage("tables"):
                    _step(bar, "tables")
                    ext = "." + table_format
                    _write_all(
                        tmp,
                        ext,
                        a.measurements,
                        a.cases,
                        a.lesions,
                        a.failed,
                        a.agreement,
                        a.comparisons,
                        {
                            "missing" + ext: pd.concat([a.missing, a.skipped]).sort_index(),
                            **{f"{k}.csv": v for k, v in a.strata.items()},
                        },
                    )
                with stage("provenance"):
                    _step(bar, "provenance")
                    inputs_rec = file_records(inputs)
                with stage("html"):
                    _step(bar, "html")
                    vers = versions()
                    (tmp / "methods.md").write_text(
                        methods_markdown(
                            params,
                            n_cases=a.n_cases,
                            methods=a.methods,
                            metrics=[content.metric_label(m) for m in a.metrics],
                            versions=vers,
                        ),
                        encoding="utf-8",
                    )
                    details = case_details(a.outliers, a.measurements, a.cases, volumes)
                with stage("figures"):  # what the drawer has left, drawn while the rest was written
                    drawn = _figure_cells(a, _finish_figures(pending))
            finally:
                _close_figures(pending)
            with stage("html"):
                files = [str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file()]
                files += ["index.html", "provenance.json", "summary.json"]
                extra = {k: v for k, v in params.items() if k not in a.options.parameters()}
                _write_json(tmp / "summary.json", a.to_dict(files=files, parameters=extra))
                context = _context(
                    a,
                    title=title,
                    version=vers["pet-agreement"],
                    params=params,
                    figures=drawn,
                    layout=layout or "",
                    source=source,
                    command=command,
                    versions_=vers,
                    inputs=inputs_rec,
                    timings={**dict(timings or {}), **stage_times},
                    cases_detail=details,
                )
                (tmp / "index.html").write_text(render_html(context), encoding="utf-8")
            all_timings = {**dict(timings or {}), **stage_times}
            _write_json(
                tmp / "provenance.json",
                provenance(
                    command=command,
                    created=a.created,
                    parameters=jsonable(params),
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
        json.dumps(jsonable(dict(doc)), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
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


def _context(a: Analysis, **kw: Any) -> dict[str, Any]:
    params = kw["params"]
    cases, tables = a.cases, a.strata
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
    overlap = content.overlap_display(a.overlap) if a.overlap is not None else None
    if a.lesion_summary is None:
        lesion_table = HtmlTable([], [], [])
        lesion_note = "No lesions table (pass --lesions, or run agree report on the folders)."
    else:
        lesion_table = content.lesion_display(a.lesion_summary)
        lesion_note = (
            "Sensitivity = detected / reference lesions; a missed lesion has lesion DSC 0; "
            "volumes are medians over reference lesions."
        )
    stratified = _stratified(tables)
    comp = a.comparisons
    param_rows = [[k, "—" if v is None or v == "" else str(v)] for k, v in params.items()]
    version_rows = [[k, v] for k, v in kw["versions_"].items()]
    input_rows = [[r["path"], f"{r['size']:,}", r["sha256"]] for r in kw["inputs"]]
    timing_rows = [[k, fixed(v, 2)] for k, v in kw["timings"].items()]
    return {
        "title": kw["title"],
        "alpha": params["alpha"],
        "created": a.created,
        "version": kw["version"],
        "summary": {
            "n_cases": a.n_cases,
            "n_methods": len(a.methods),
            "methods": a.methods,
            "metrics": [content.metric_label(m) for m in a.metrics],
            "layout": kw["layout"],
            "source": kw["source"] or "measurements table",
            "n_failed": 0 if a.failed is None else len(a.failed),
            "n_missing": len(a.missing),
            "n_skipped": len(a.skipped),
        },
        "notes": list(a.notes),
        "case_counts": content.case_counts(a.measurements),
        "failed": frame_table(a.failed),
        "missing": frame_table(a.missing),
        "skipped": frame_table(a.skipped[["case_id", "method", "reason"]]),
        "banner": content.omission_banner(a.failed, a.missing, a.skipped),
        "overview": content.overview(a.agreement),
        "metric_sections": content.metric_sections(
            a.agreement, a.outliers, anchors(a.outliers["case_id"])
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
            for v in a.verdicts
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
            "best": a.best_method or "",
            "rule": a.best_method_rule,
            "stat": "ccc",
            "table": content.comparison_display(comp, params["alpha"])
            if comp is not None
            else HtmlTable([], [], []),
            "note": a.comparison_note,
        },
        "definitions": definitions(params),
        "parameters": HtmlTable(["Parameter", "Value"], param_rows, [False, False]),
        "references": REFERENCES,
        "citation": citation(kw["version"]),
        "about": {
            "time": a.created,
            "command": kw["command"],
            "versions": HtmlTable(["Package", "Version"], version_rows, [False, False]),
            "inputs": HtmlTable(["File", "Bytes", "SHA-256"], input_rows, [False, True, False]),
            "timings": HtmlTable(["Step", "Seconds"], timing_rows, [False, True]),
        },
    }


__all__ = ["FigureDrawer", "write_report"]
