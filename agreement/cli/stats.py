"""``agree stats``: the agreement table from a measurements table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click


def stats_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the statistics options of ``agree stats`` to a command (``agree report`` uses them).

    The command receives ``margin, delta, alpha, tdi_p, bootstrap, seed``.
    """
    for option in reversed(_STATS_OPTIONS):
        func = option(func)
    return func


_STATS_OPTIONS = [
    click.option(
        "--margin",
        type=click.FloatRange(0, min_open=True),
        default=0.2,
        show_default=True,
        help="TOST bound as a fraction of |mean reference|.",
    ),
    click.option(
        "--delta",
        type=click.FloatRange(0, min_open=True),
        default=0.2,
        show_default=True,
        help="Coverage-probability allowance as a fraction of |reference|.",
    ),
    click.option(
        "--alpha",
        type=click.FloatRange(0, 0.5, min_open=True, max_open=True),
        default=0.05,
        show_default=True,
        help="Significance level (TOST one-sided; intervals 1 - alpha).",
    ),
    click.option(
        "--tdi-p",
        type=click.FloatRange(0, 1, min_open=True, max_open=True),
        default=0.95,
        show_default=True,
        help="Proportion of cases within the total deviation index.",
    ),
    click.option(
        "--bootstrap",
        type=click.IntRange(0),
        default=0,
        show_default=True,
        help="Resamples for bootstrap CCC intervals and the TDI upper limit (0: none).",
    ),
    click.option(
        "--seed",
        type=click.IntRange(min=0),
        default=0,
        show_default=True,
        help="Seed of the resampling.",
    ),
]


@click.command("stats")
@click.argument("measurements", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="Agreement table to write (.csv, .tsv or .parquet).",
)
@stats_options
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
def stats(
    measurements: Path,
    output: Path,
    margin: float,
    delta: float,
    alpha: float,
    tdi_p: float,
    bootstrap: int,
    seed: int,
    overwrite: bool,
) -> None:
    """Agreement statistics (CCC, TOST, Bland-Altman, CP, TDI) per method and metric.

    MEASUREMENTS is a table (CSV, TSV or Parquet) with the columns
    case_id, method, metric, reference, predicted.

    \b
    Examples:
      agree stats tables/measurements.csv -o agreement.csv
      agree stats measurements.parquet -o agreement.csv --margin 0.1 --delta 0.1
      agree stats measurements.csv -o agreement.csv --bootstrap 2000 --seed 1 --overwrite
    """  # fmt: skip
    import warnings

    from agreement.errors import InputError
    from agreement.stats.table import agreement_table
    from agreement.tables import UnpairedWarning, read_measurements, table_format, write_table

    table_format(output)
    if output.resolve() == measurements.resolve():
        raise InputError(f"{output}: -o is the input table; choose another file name")
    if output.is_dir():
        raise InputError(f"{output}: is a folder; give the agreement table's file name")
    if output.exists() and not overwrite:
        raise InputError(f"{output}: output file exists; pass --overwrite to replace it")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnpairedWarning)
        table = read_measurements(measurements)
    for w in caught:
        click.echo(f"warning: {w.message}", err=True)
    result = agreement_table(
        table, alpha=alpha, margin=margin, delta=delta, tdi_p=tdi_p, bootstrap=bootstrap, seed=seed
    )
    write_table(result, output, overwrite=overwrite)
    click.echo(f"wrote {output} ({len(result)} rows)")
