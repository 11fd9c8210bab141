"""``agree stats``: the agreement table from a measurements table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from agreement.options import StatsOptions

_DEFAULT = StatsOptions()


def stats_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the statistics flags of ``agree stats`` to a command (``agree report`` uses them).

    The command receives them as keyword values; :func:`options_from_flags` turns them into
    the one :class:`~agreement.StatsOptions` it passes down.
    """
    for option in reversed(_STATS_OPTIONS):
        func = option(func)
    return func


def options_from_flags(values: dict[str, Any]) -> StatsOptions:
    """Pop the statistics flags out of a command's keyword ``values``; build the options once.

    Deprecated flags (``--bootstrap``, ``--n-boot``) print a one-line warning and set their
    new names unless those were given too.

    Examples
    --------
    >>> values = {"alpha": 0.1, "bootstrap_deprecated": None, "output": "x"}
    >>> options_from_flags(values).alpha, values
    (0.1, {'output': 'x'})
    """
    for old, new in _DEPRECATED.items():
        given = values.pop(f"{old}_deprecated", None)
        if given is not None:
            flag, new_flag = "--" + old.replace("_", "-"), "--" + new.replace("_", "-")
            click.echo(f"warning: {flag} is deprecated; use {new_flag}", err=True)
            if values.get(new) in (None, getattr(_DEFAULT, new)):
                values[new] = given
    fields = {k: values.pop(k) for k in _FIELDS if k in values}
    return StatsOptions(**{k: v for k, v in fields.items() if v is not None})


#: Old flag (as a keyword) -> the StatsOptions field it sets.
_DEPRECATED = {"bootstrap": "n_resamples", "n_boot": "compare_n_resamples"}
_FIELDS = ("margin", "delta", "alpha", "tdi_p", "n_resamples", "compare_n_resamples", "seed")

_STATS_OPTIONS = [
    click.option(
        "--margin",
        type=click.FloatRange(0, min_open=True),
        default=_DEFAULT.margin,
        show_default=True,
        help="TOST bound as a fraction of |mean reference|.",
    ),
    click.option(
        "--delta",
        type=click.FloatRange(0, min_open=True),
        default=_DEFAULT.delta,
        show_default=True,
        help="Coverage-probability allowance as a fraction of |reference|.",
    ),
    click.option(
        "--alpha",
        type=click.FloatRange(0, 0.5, min_open=True, max_open=True),
        default=_DEFAULT.alpha,
        show_default=True,
        help="Significance level (TOST one-sided; intervals 1 - alpha).",
    ),
    click.option(
        "--tdi-p",
        type=click.FloatRange(0, 1, min_open=True, max_open=True),
        default=_DEFAULT.tdi_p,
        show_default=True,
        help="Proportion of cases within the total deviation index.",
    ),
    click.option(
        "--n-resamples",
        type=click.IntRange(0),
        default=_DEFAULT.n_resamples,
        show_default=True,
        help="Resamples for bootstrap CCC intervals and the TDI upper limit (0: none).",
    ),
    click.option(
        "--bootstrap",
        "bootstrap_deprecated",
        type=click.IntRange(0),
        default=None,
        hidden=True,
        help="Deprecated spelling of --n-resamples.",
    ),
    click.option(
        "--seed",
        type=click.IntRange(min=0),
        default=_DEFAULT.seed,
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
    overwrite: bool,
    **flags: Any,
) -> None:
    """Agreement statistics (CCC, TOST, Bland-Altman, CP, TDI) per method and metric.

    MEASUREMENTS is a table (CSV, TSV or Parquet) with the columns
    case_id, method, metric, reference, predicted.

    \b
    Examples:
      agree stats tables/measurements.csv -o agreement.csv
      agree stats measurements.parquet -o agreement.csv --margin 0.1 --delta 0.1
      agree stats measurements.csv -o agreement.csv --n-resamples 2000 --seed 1 --overwrite
    """  # fmt: skip
    import warnings

    from agreement.analysis import analyse
    from agreement.errors import InputError
    from agreement.tables import UnpairedWarning, read_measurements, table_format, write_table

    options = options_from_flags(flags)
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
    result = analyse(table, options=options).agreement
    write_table(result, output, overwrite=overwrite)
    click.echo(f"wrote {output} ({len(result)} rows)")
