"""``agree figures``: the papers' figures (and Table I) from the tables, into one folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    import pandas as pd

_COLUMNS = {
    "cases": ["case_id", "method", "dsc"],
    "lesions": ["case_id", "method", "side", "lesion_id"],
    "agreement": ["method", "metric"],
}
_TEXT = {c: str for c in ("case_id", "method", "metric", "network", "loss", "unit", "side")}


def read_input(path: Path, kind: str) -> pd.DataFrame:
    """Read one input table (CSV/TSV/Parquet); InputError naming the file when it is unusable.

    The measurements table is validated by :func:`agreement.tables.read_measurements`
    (rows with a missing value are dropped with a warning); the others must have their key
    columns and at least one row. Identifiers are read as text, so ``001`` stays ``001``.
    """
    from agreement.errors import InputError
    from agreement.tables import read_measurements, read_table

    if kind == "measurements":
        return read_measurements(path, nan_policy="omit")
    table = read_table(path, dtype=_TEXT)
    missing = [c for c in _COLUMNS[kind] if c not in table.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)} in the {kind} table")
    if table.empty:
        raise InputError(f"{path}: the {kind} table has no rows")
    return table


def _formats(text: str) -> tuple[str, ...]:
    from agreement.errors import InputError

    formats = tuple(
        dict.fromkeys(f.strip().lower().lstrip(".") for f in text.split(",") if f.strip())
    )
    bad = [f for f in formats if f not in ("pdf", "svg", "png")]
    if bad or not formats:
        raise InputError(
            f"--format: unknown format(s) {', '.join(bad) or '(none)'}; use pdf, svg, png"
        )
    return formats


_TABLE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command()
@click.argument("measurements", type=_TABLE)
@click.option(
    "--cases", type=_TABLE, help="Cases table (DSC, detection) for Table I and the DSC figures."
)
@click.option("--lesions", type=_TABLE, help="Lesions table, for the lesion-level TMTV figure.")
@click.option(
    "--agreement",
    "agreement_path",
    type=_TABLE,
    help="Precomputed agreement table (else computed).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Output folder.",
)
@click.option(
    "--format",
    "formats",
    default="pdf,svg,png",
    show_default=True,
    help="Comma-separated: pdf, svg, png.",
)
@click.option(
    "--width",
    type=click.Choice(["single", "double"]),
    default="double",
    show_default=True,
    help="Journal column width.",
)
@click.option(
    "--dpi", type=click.IntRange(min=50), default=300, show_default=True, help="PNG resolution."
)
@click.option(
    "--illustrations",
    is_flag=True,
    help="Also draw the L1DFL weighting and loss-curve illustrations.",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace an earlier output of this toolkit there (never any other folder).",
)
def figures(
    measurements: Path,
    cases: Path | None,
    lesions: Path | None,
    agreement_path: Path | None,
    output: Path,
    formats: str,
    width: str,
    dpi: int,
    illustrations: bool,
    overwrite: bool,
) -> None:
    """Draw the papers' figures from MEASUREMENTS (and Table I from --cases) into -o DIR.

    Writes one file per figure and format (``ccc_radar.pdf``, ``tost_forest.svg``, …) and,
    with --cases, ``table_i.csv/.tex/.html``. The folder appears complete or not at all.
    """
    import matplotlib

    matplotlib.use("Agg")

    from agreement.atomic import atomic_dir, check_output_dir
    from figures.render import render_all
    from figures.style import save_figure
    from figures.tables import write_table_i

    fmts = _formats(formats)
    inputs = [measurements, cases, lesions, agreement_path]
    check_output_dir(output, overwrite=overwrite, inputs=inputs)
    meas = read_input(measurements, "measurements")
    case_table = read_input(cases, "cases") if cases else None
    lesion_table = read_input(lesions, "lesions") if lesions else None
    agreement = read_input(agreement_path, "agreement") if agreement_path else None
    figs = render_all(
        meas,
        agreement=agreement,
        cases=case_table,
        lesions=lesion_table,
        width=width,
        illustrations=illustrations,
    )
    n_files = 0
    with atomic_dir(output, overwrite=overwrite, inputs=inputs) as tmp:
        for name, fig in figs.items():
            n_files += len(save_figure(fig, tmp / name, formats=fmts, dpi=dpi))
        if case_table is not None and {"tp", "fp", "fn", "f1"} <= set(case_table.columns):
            n_files += len(write_table_i(case_table, tmp / "table_i"))
    click.echo(f"{len(figs)} figures, {n_files} files written to {output}")
