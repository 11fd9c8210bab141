"""``agree report`` and ``agree demo``: measure → statistics → figures → one HTML report."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from agreement.cli.measure import WORKERS_HELP, echo_missing, measure_options
from agreement.cli.stats import options_from_flags, stats_options
from agreement.errors import InputError
from agreement.options import StatsOptions


def report_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options of the report itself (shared by ``report`` and ``demo``)."""
    options = [
        click.option("--compare-n-resamples", type=click.IntRange(100),
                     default=StatsOptions().compare_n_resamples, show_default=True,
                     help="Resamples of the paired bootstrap comparing the best method with the others."),
        click.option("--n-boot", "n_boot_deprecated", type=click.IntRange(100), default=None,
                     hidden=True, help="Deprecated spelling of --compare-n-resamples."),
        click.option("--width", type=click.Choice(["single", "double"]), default="double",
                     show_default=True, help="Figure width (journal column)."),
        click.option("--figure-formats", default="png", show_default=True, callback=_formats,
                     help="Files per figure under figures/: png (always; the page embeds it), "
                          "svg, pdf, comma-separated, e.g. png,svg,pdf."),
        click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv",
                     show_default=True, help="Format of the measurements, cases and lesions tables."),
        click.option("--overwrite", is_flag=True,
                     help="Replace an earlier output of this toolkit there (never any other folder)."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


def _formats(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    names = tuple(
        dict.fromkeys(v.strip().lower().lstrip(".") for v in value.split(",") if v.strip())
    )
    bad = [n for n in names if n not in ("png", "svg", "pdf")]
    if bad:
        raise click.BadParameter(f"unknown format(s) {', '.join(bad)}; use png, svg, pdf")
    return names or ("png",)


def _workers(given: int | None) -> int | None:
    """Processes drawing the figures: ``-j N`` when given, else None (the drawer decides:
    forked helpers where that is safe, one process otherwise; figures.report)."""
    return int(given) if given else None


def _optional_table(path: Path | None, kind: str) -> Any:
    if path is None:
        return None
    from agreement.cli.measure import read_output_table

    table = read_output_table(path, kind)
    if "case_id" in table.columns:
        table["case_id"] = table["case_id"].astype(str)
    return table


def _beside(measurements: Path, name: str, given: Path | None) -> Path | None:
    if given is not None:
        return given
    candidate = measurements.with_name(name + measurements.suffix)
    return candidate if candidate.is_file() and candidate != measurements else None


def _read_measurements(path: Path) -> Any:
    from agreement.tables import UnpairedWarning, read_measurements

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnpairedWarning)
        table = read_measurements(path)
    for w in caught:
        click.echo(f"warning: {w.message}", err=True)
    return table


def run_report(
    source: Path | None,
    output: Path,
    *,
    reference: Path | None = None,
    pet: Path | None = None,
    cases: Path | None = None,
    lesions: Path | None = None,
    failed: Path | None = None,
    width: str = "double",
    figure_formats: tuple[str, ...] = ("png",),
    fmt: str = "csv",
    overwrite: bool = False,
    **options: Any,
) -> Path:
    """The body of ``agree report`` (also used by ``agree demo``); returns the report folder.

    ``options`` holds the command's flags: the statistics' become one
    :class:`~agreement.StatsOptions`, the others go to the measuring step.
    """
    from agreement.measures.io import image_suffix

    stats = options_from_flags(options)
    if source is not None and image_suffix(source) is not None and not source.is_dir():
        from agreement.measures.layout import not_a_mask_folder
        from agreement.tables import table_format

        if reference is not None or pet is not None:
            raise InputError(not_a_mask_folder(source))
        table_format(source)  # an image, not a table: says so
    from agreement.atomic import check_output_dir

    check_output_dir(
        output, overwrite=overwrite, inputs=[source, reference, pet, cases, lesions, failed]
    )
    progress: Any = not options.get("no_progress", False)
    if progress:  # one display for the whole run: cases while measuring, then the report steps
        from agreement.progress import progress_bar

        progress = progress_bar(total=5, desc="report", unit="step")
    try:
        return _run_report(source, output, reference, pet, cases, lesions, failed, overwrite,
                           stats, width, fmt, progress, figure_formats, **options)  # fmt: skip
    finally:
        if progress:
            progress.close()


def _run_report(
    source: Path | None,
    output: Path,
    reference: Path | None,
    pet: Path | None,
    cases: Path | None,
    lesions: Path | None,
    failed: Path | None,
    overwrite: bool,
    stats: StatsOptions,
    width: str,
    fmt: str,
    progress: Any,
    figure_formats: tuple[str, ...],
    **options: Any,
) -> Path:
    from agreement._gc import few_collections
    from agreement.analysis import analyse
    from agreement.report.build import write_report
    from agreement.report.cases import cohort_inputs

    timings: dict[str, float] = {}
    datalist = options.get("datalist")
    if source is None and datalist is None:
        raise click.UsageError("Missing argument 'SOURCE' (or pass --datalist FILE.json).")
    if datalist is not None or source.is_dir():  # type: ignore[union-attr]
        if datalist is None and (reference is None or pet is None):
            raise click.UsageError("a folder of masks needs --reference DIR and --pet DIR")
        if cases or lesions or failed:
            raise click.UsageError("--cases/--lesions/--failed apply to a measurements table only")
        from agreement.cli.measure import run_measure

        start = time.perf_counter()
        result = run_measure(source, reference, pet, progress_bar=progress or None, **options)
        timings["measure"] = time.perf_counter() - start
        if len(result.cases) == 0:
            reason = result.failed["reason"].iloc[0] if len(result.failed) else "no case measured"
            raise InputError(f"{source or datalist}: {reason}")
        echo_missing(result, output / f"missing.{fmt}", err=True)
        inputs, volumes = cohort_inputs(source, reference, pet, options.get("shard"),
                                       options.get("pet_channel"), result.options.missing,
                                       datalist)  # fmt: skip
        measure_params = result.options.to_dict()
        tables = {
            "measurements": result.measurements,
            "cases": result.cases,
            "lesions": result.lesions,
            "failed": result.failed,
            "missing": result.missing,
        }
        src = f"masks in {source}" if datalist is None else f"MONAI datalist {datalist}"
        layout, skipped = result.layout, result.skipped
    else:
        if reference is not None or pet is not None:
            raise click.UsageError("--reference/--pet apply to a folder of masks, not a table")
        cases = _beside(source, "cases", cases)
        lesions = _beside(source, "lesions", lesions)
        failed = _beside(source, "failed", failed)
        missing = _beside(source, "missing", None)
        tables = {
            "measurements": _read_measurements(source),
            "cases": _optional_table(cases, "cases"),
            "lesions": _optional_table(lesions, "lesions"),
            "failed": _optional_table(failed, "failed"),
            "missing": _optional_table(missing, "missing"),
        }
        inputs = [p for p in (source, cases, lesions, failed, missing) if p is not None]
        volumes = None
        measure_params = {}
        layout, skipped = "", []
        src = f"measurements table {source}" + "".join(
            f", {name} table {p}"
            for name, p in (("cases", cases), ("lesions", lesions), ("failed", failed))
            if p is not None
        )
    with few_collections():  # the statistics, figures and page allocate many small objects
        start = time.perf_counter()
        analysis = analyse(
            tables["measurements"],
            cases=tables["cases"],
            lesions=tables["lesions"],
            failed=tables["failed"],
            missing=tables["missing"],
            skipped=skipped,
            options=stats,
        )
        timings["statistics"] = time.perf_counter() - start
        return write_report(
            analysis,
            output,
            figures=report_figures(options.get("workers")),
            overwrite=overwrite,
            width=width,
            figure_formats=figure_formats,
            table_format=fmt,
            measure_parameters=measure_params,
            layout=layout,
            source=src,
            inputs=inputs,
            timings=timings,
            volumes=volumes,
            progress=progress,
        )


def report_figures(workers: int | None = None) -> Callable[..., Any]:
    """The figure drawer handed to :func:`agreement.write_report` (``-j N`` processes): it
    starts drawing, and the report's tables and page are written while it draws."""
    from functools import partial

    from figures.report import start_report_figures

    return partial(start_report_figures, workers=_workers(workers))


@click.command(
    "report",
    epilog="""\b
Examples:
  agree report preds/ --reference labelsTr/ --pet imagesTr/ -o report/
  agree report preds/ --reference ref/ --pet pet/ -o report/ --n-resamples 2000 -j 8
  agree report tables/measurements.csv -o report/          # cases/lesions.csv beside it are used
  agree report measurements.csv --cases cases.csv --lesions lesions.csv -o report/ --overwrite
""",
)
@click.argument("source", type=click.Path(exists=True, path_type=Path), required=False)
@measure_options
@stats_options
@click.option(
    "--cases",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Cases table (with a measurements table; default: cases.csv beside it).",
)
@click.option(
    "--lesions",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Lesions table (default: lesions.csv beside the measurements).",
)
@click.option(
    "--failed",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Failed-cases table (default: failed.csv beside the measurements).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="Report folder (refused if it exists, unless --overwrite).",
)
@report_options
def report(source: Path | None, output: Path, **options: Any) -> None:
    """Measure, compare and report: tables, figures and one self-contained index.html.

    SOURCE is a folder of predicted masks (PRED/<case>.nii.gz, PRED/<method>/<case>.nii.gz or
    PRED/<network>/<loss>/<case>.nii.gz; needs --reference and --pet) or a measurements table
    (CSV, TSV or Parquet); --datalist FILE.json takes the masks from a MONAI datalist instead.
    Defaults are the papers' values (18-connectivity, Δ = 20%, α = 0.05).
    """
    folder = run_report(source, output, **options)
    click.echo(f"report: {folder / 'index.html'}")


@click.command("demo")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=Path("agree-demo-report"),
    show_default=True,
    help="Report folder.",
)
@click.option(
    "-j",
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help=WORKERS_HELP,
)
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@stats_options
@report_options
def demo(output: Path, **options: Any) -> None:
    """Run the whole report on the bundled demo cohort (synthetic phantoms, small trained models).

    \b
    Example:
      agree demo -o demo-report && xdg-open demo-report/index.html
    """
    from agreement.report.demo import demo_data

    data = demo_data()
    folder = run_report(data.pred, output, reference=data.reference, pet=data.pet, **options)
    click.echo(f"demo report: {folder / 'index.html'}")
    click.echo("(demo predictions: 6 small models trained with segengine; see docs/demo.md)")
