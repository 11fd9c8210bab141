"""``agree measure`` and ``agree merge``: masks and PET in, tidy tables out.

``measure_options`` and :func:`run_measure` are shared with ``agree report``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from agreement.errors import InputError
from agreement.measures.options import (
    CONNECTIVITIES,
    CRITERIA,
    DEFAULT,
    MISSING_POLICIES,
    MeasureOptions,
)

if TYPE_CHECKING:
    import pandas as pd

    from agreement.measures.cohort import CohortResult

TABLES = ("measurements", "cases", "lesions")
WORKERS_HELP = (
    "Parallel processes [default: 1 when the inputs total under 64 MiB, else "
    "SLURM_CPUS_PER_TASK or the usable CPUs]."
)

_DEFAULT = DEFAULT  # the defaults the help shows: defined in MeasureOptions only
# Folders are checked by the layout code, which raises a one-line InputError naming them
# (click's own check prints a three-line usage error).
_FOLDER = click.Path(path_type=Path)


def measure_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the measuring options (reference, PET, matching, parallelism) to a click command.

    The command receives them as keyword arguments; pass them on to :func:`run_measure`.
    """
    options = [
        click.option("--reference", type=_FOLDER, default=None,
                     help="Reference masks (needed with a folder of masks): flat, nnU-Net labels or autoPET folders."),
        click.option("--pet", type=_FOLDER, default=None,
                     help="PET (SUV) volumes (needed with a folder of masks): flat, nnU-Net images or autoPET."),
        click.option("--datalist", type=click.Path(path_type=Path), default=None,
                     metavar="FILE.json",
                     help="A MONAI datalist (image/label/pred entries) instead of PRED, "
                          "--reference and --pet."),
        click.option("--pet-channel", default=None, metavar="N",
                     help="The PET channel of nnU-Net images (1 or 0001) when dataset.json does "
                          "not name one PET or SUV."),
        click.option("--roi", default=_DEFAULT.roi, show_default=True, metavar="PATTERN",
                     help="RTSTRUCT masks (.dcm): ROI names that make the lesion mask "
                          "(shell pattern, case-insensitive)."),
        click.option("--connectivity", type=click.Choice([str(c) for c in CONNECTIVITIES]),
                     default=str(_DEFAULT.connectivity),
                     show_default=True, help="Lesion connectivity (18 as in the papers)."),
        click.option("--criterion", type=click.Choice(CRITERIA),
                     default=_DEFAULT.criterion, show_default=True, help="Detection rule."),
        click.option("--iou-threshold", type=click.FloatRange(0, 1, min_open=True),
                     default=_DEFAULT.iou_threshold,
                     show_default=True, help="IoU needed for a match with --criterion iou."),
        click.option("--label", type=click.IntRange(min=1), default=None,
                     help="Lesion label value (>= 1) in the reference AND predicted masks, e.g. "
                          "255 for 0/255 masks (default: masks are 0/1)."),
        click.option("--reference-label", type=click.IntRange(min=1), default=None,
                     help="Lesion label value in the reference masks only (overrides --label); "
                          "refused when no reference mask contains it."),
        click.option("--pred-label", type=click.IntRange(min=1), default=None,
                     help="Lesion label value in the predicted masks only (overrides --label)."),
        click.option("--missing", type=click.Choice(MISSING_POLICIES), default=_DEFAULT.missing,
                     show_default=True,
                     help="A reference case without a prediction for a method: skip it (listed "
                          "in missing.csv and the report), score it as an empty mask (as the "
                          "autoPET evaluation does; still listed) or fail (exit 2)."),
        click.option("--resample", is_flag=True,
                     help="Resample predictions onto the reference grid (nearest neighbour)."),
        click.option("-j", "--workers", type=click.IntRange(min=1), default=None,
                     help=WORKERS_HELP),
        click.option("--scheduler", default=None, metavar="ADDRESS",
                     help="Run the cases on a Dask cluster (e.g. tcp://host:8786; extra [dask]) "
                          "instead of local processes."),
        click.option("--shard", default=None, metavar="K/N",
                     help="Measure cases K, K+N, ... only (0-based K); join with agree merge."),
        click.option("--strict", is_flag=True, help="Stop at the first failing case (exit 2)."),
        click.option("--no-progress", is_flag=True, help="Hide the progress bar."),
        click.option("--compat", type=click.Choice(["reference"]), default=None,
                     help="Reproduce the published code's detection counts."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


def build_measure_options(flags: dict[str, Any]) -> MeasureOptions:
    """The :class:`~agreement.MeasureOptions` of the ``measure_options`` flags a command got.

    Flags that are absent (a command without them, such as ``agree demo``) keep the
    dataclass defaults.

    Examples
    --------
    >>> build_measure_options({"connectivity": "6", "criterion": "iou", "workers": 2})
    MeasureOptions(connectivity=6, criterion='iou', iou_threshold=0.5, compat=None, label=None, reference_label=None, pred_label=None, missing='skip', resample=False, roi='lesion*')
    """
    import dataclasses

    given = {
        f.name: flags[f.name]
        for f in dataclasses.fields(MeasureOptions)
        if flags.get(f.name) is not None
    }
    if "connectivity" in given:
        given["connectivity"] = int(given["connectivity"])
    return MeasureOptions(**given)


def run_measure(
    pred: str | Path | None, reference: str | Path | None, pet: str | Path | None, **options: Any
) -> CohortResult:
    """Run :func:`agreement.measure_cohort` with the keyword arguments of ``measure_options``.

    The measuring flags become one :class:`~agreement.MeasureOptions`; the others say where
    and how to run. Unknown keys are ignored so that a command can pass all its parameters.
    """
    from agreement.measures.cohort import measure_cohort, parse_shard

    _require_folders(pred, reference, pet, options.get("datalist"))
    if options.get("workers") is not None and options.get("scheduler"):
        raise click.UsageError("--workers and --scheduler exclude each other")
    try:
        shard = parse_shard(options.get("shard"))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--shard") from None
    pet_channel = _pet_channel(options.get("pet_channel"))
    return measure_cohort(
        pred,
        reference,
        pet,
        pet_channel=pet_channel,
        datalist=options.get("datalist"),
        options=build_measure_options(options),
        workers=options.get("workers"),
        scheduler=options.get("scheduler") or None,
        shard=shard,
        progress=options.get("progress_bar") or not options.get("no_progress", False),
        strict=bool(options.get("strict")),
        skip_cases=options.get("skip_cases", ()),
    )


def _pet_channel(value: str | None) -> str | None:
    from agreement.measures.layout import parse_channel

    if value is None:
        return None
    try:
        return parse_channel(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--pet-channel") from None


def _require_folders(
    pred: str | Path | None,
    reference: str | Path | None,
    pet: str | Path | None,
    datalist: str | Path | None = None,
) -> None:
    if datalist is not None:
        if pred is not None or reference is not None or pet is not None:
            raise click.UsageError("--datalist replaces PRED, --reference and --pet")
        return
    if pred is None:
        raise click.UsageError("Missing argument 'PRED' (or pass --datalist FILE.json).")
    for name, value in (("--reference", reference), ("--pet", pet)):
        if value is None:
            raise click.UsageError(
                f"Missing option '{name}' (needed to measure a folder of masks)."
            )


def write_outputs(result: CohortResult, folder: Path, fmt: str = "csv") -> list[Path]:
    """Write the tables, ``missing`` (always) and ``failed`` (when any) into a folder."""
    from agreement.tables import write_table

    written = []
    tables = {name: getattr(result, name) for name in TABLES}
    tables["missing"] = result.missing
    if len(result.failed):
        tables["failed"] = result.failed
    for name, df in tables.items():
        path = folder / f"{name}.{fmt}"
        write_table(df, path)
        written.append(path)
    return written


def read_output_table(path: Path, kind: str) -> pd.DataFrame:
    """Read a table written by ``agree measure``, checked against its schema (ids as text)."""
    from agreement.tables import read_table

    return read_table(path, kind=kind)  # type: ignore[arg-type]


def shard_format(folder: Path, preferred: str | None = None) -> str:
    """``csv`` or ``parquet``: the format of the measure tables in ``folder``.

    With tables in both formats, ``preferred`` decides (else it is an error).

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "measurements.parquet").write_bytes(b"")
    >>> shard_format(d)
    'parquet'
    """
    found = [ext for ext in ("csv", "parquet") if (folder / f"measurements.{ext}").is_file()]
    if len(found) == 1:
        return found[0]
    if not found:
        raise InputError(
            f"{folder}: no measurements.csv or measurements.parquet; is it an agree measure output?"
        )
    if preferred is None:
        raise InputError(
            f"{folder}: holds both CSV and Parquet tables; pass --format to choose one"
        )
    return preferred


def _has_content(path: Path) -> bool:
    """True for a file or a non-empty folder."""
    return not path.is_dir() or any(path.iterdir())


def _read_previous(folder: Path, fmt: str) -> dict[str, pd.DataFrame] | None:
    if not all((folder / f"{name}.{fmt}").is_file() for name in TABLES):
        return None
    return {name: read_output_table(folder / f"{name}.{fmt}", name) for name in TABLES}


def _combine(
    previous: dict[str, pd.DataFrame], result: CohortResult, kept: set[str]
) -> CohortResult:
    import pandas as pd

    from agreement.measures.cohort import CohortResult

    frames = {}
    for name in TABLES:
        old = previous[name][previous[name]["case_id"].astype(str).isin(kept)]
        parts = [df for df in (old, getattr(result, name)) if len(df)]
        frames[name] = pd.concat(parts, ignore_index=True) if parts else getattr(result, name)
        if len(frames[name]):
            frames[name] = frames[name].sort_values(["case_id", "method"], kind="stable")
    return CohortResult(
        frames["measurements"].reset_index(drop=True),
        frames["cases"].reset_index(drop=True),
        frames["lesions"].reset_index(drop=True),
        result.failed,
        result.layout,
        result.skipped,
        result.missing,
    )


@click.command(
    epilog="""\b
Examples:
  agree measure preds/ --reference labelsTr/ --pet imagesTr/ -o tables/
  agree measure preds/ --reference ref/ --pet pet/ -o out/shard_0 --shard 0/4
  agree measure --datalist datalist.json --pet-channel 1 -o tables/
  agree measure preds/ --reference ref/ --pet pet/ -o tables/ --scheduler tcp://node1:8786
  agree merge out/shard_* -o out/all
"""
)
@click.argument("pred", type=_FOLDER, required=False)
@measure_options
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="Output folder (refused if it exists, unless --overwrite or --resume).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet"]),
    default="csv",
    show_default=True,
    help="Table format.",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace an earlier output of this toolkit there (never any other folder).",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Keep the cases already in OUTPUT's tables and measure only the rest.",
)
@click.option("--dry-run", is_flag=True, help="List the matched cases and exit.")
def measure(pred: Path | None, output: Path, fmt: str, overwrite: bool, resume: bool, dry_run: bool,
            **options: Any) -> None:  # fmt: skip
    """Measure predicted masks against the reference: measurements, cases and lesions tables.

    PRED holds <case>.nii.gz files (one method, named after the folder) or method subfolders
    (<method>/<case>.nii.gz, or <network>/<loss>/<case>.nii.gz), or autoPET
    <patient>/<study>/PRED.nii.gz folders. Files are paired with the reference and PET by case
    id. --datalist FILE.json takes the cohort from a MONAI datalist instead.
    """
    from agreement.atomic import atomic_dir, check_output_dir

    if dry_run:
        _dry_run(pred, options)
        return
    inputs = [pred, options.get("reference"), options.get("pet")]
    check_output_dir(output, overwrite=overwrite or resume, inputs=inputs)
    previous = None
    if output.exists():
        if resume:
            previous = _read_previous(output, fmt)
            if previous is None and not overwrite and _has_content(output):
                raise InputError(
                    f"{output}: --resume found no {fmt} tables of agree measure there; "
                    "refusing to replace the folder (pass --overwrite to do so)"
                )
        elif not overwrite:
            raise InputError(f"{output}: output folder exists; pass --overwrite to replace it")
    if previous is not None:
        failed_path = output / f"failed.{fmt}"
        retry = set()
        if failed_path.is_file():
            retry = set(read_output_table(failed_path, "failed")["case_id"].astype(str))
        options["skip_cases"] = set(previous["cases"]["case_id"].astype(str)) - retry
    result = run_measure(pred, options.pop("reference"), options.pop("pet"), **options)
    if len(result.cases) == 0 and len(result.failed) and previous is None:
        raise InputError(result.failed["reason"].iloc[0])
    click.echo(f"layout: {result.layout}")
    if previous is not None:
        click.echo(f"resume: kept {len(options['skip_cases'])} finished case(s)")
        result = _combine(previous, result, options["skip_cases"])
    with atomic_dir(output, overwrite=overwrite or resume, inputs=inputs) as tmp:
        write_outputs(result, tmp, fmt)
    echo_missing(result, output / f"missing.{fmt}")
    click.echo(f"{result.summary()}; tables in {output}")


def echo_missing(result: CohortResult, table: Path, *, err: bool = False) -> None:
    """Name the skipped inputs and the pairs without a prediction on the terminal."""
    for note in result.skipped:
        click.echo(f"skipped: {note}", err=err)
    absent = result.missing[result.missing["status"] != "skipped"]
    if len(absent):
        pairs = [f"{r.case_id}/{r.method}" for r in absent.itertuples()]
        shown = ", ".join(pairs[:5]) + (f", ... (+{len(pairs) - 5} more)" if len(pairs) > 5 else "")
        how = "scored as empty masks" if (absent["status"] == "empty").all() else "not measured"
        click.echo(f"missing: {len(pairs)} (case, method) pair(s) without a prediction, {how}: "
                   f"{shown}; listed in {table}", err=err)  # fmt: skip


def _dry_run(pred: Path | None, options: dict[str, Any]) -> None:
    from agreement.measures.cohort import parse_shard
    from agreement.measures.layout import plan_cohort

    _require_folders(pred, options.get("reference"), options.get("pet"), options.get("datalist"))
    plan = plan_cohort(pred, options["reference"], options["pet"],
                       pet_channel=_pet_channel(options.get("pet_channel")),
                       datalist=options.get("datalist"))  # fmt: skip
    try:
        shard = parse_shard(options.get("shard"))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--shard") from None
    if shard is not None:
        plan = plan.shard(*shard)
    click.echo(f"layout: {plan.layout}")
    for job in plan.jobs:
        missing = f"\tno prediction={','.join(job.missing)}" if job.missing else ""
        click.echo(f"{job.case_id}\treference={job.reference}\tpet={job.pet}\t"
                   f"methods={','.join(job.predictions)}{missing}")  # fmt: skip
    for note in plan.skipped:
        click.echo(f"skipped: {note}")
    click.echo(f"{len(plan.jobs)} case(s), {len(plan.methods)} method(s); nothing measured")


@click.command(
    epilog="""\b
Examples:
  agree measure preds/ --reference ref/ --pet pet/ -o out/shard_0 --shard 0/2
  agree measure preds/ --reference ref/ --pet pet/ -o out/shard_1 --shard 1/2
  agree merge out/shard_0 out/shard_1 -o out/all
"""
)
@click.argument("shards", nargs=-1, required=True, type=_FOLDER)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet"]),
    default=None,
    help="Format of the merged tables [default: the shards' format, read from their files].",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace an earlier output of this toolkit there (never any other folder).",
)
def merge(shards: tuple[Path, ...], output: Path, fmt: str | None, overwrite: bool) -> None:
    """Concatenate the tables of several ``agree measure --shard`` outputs (CSV or Parquet)."""
    import pandas as pd

    from agreement.atomic import atomic_dir, check_output_dir
    from agreement.tables import write_table

    check_output_dir(output, overwrite=overwrite, inputs=shards)
    names = (*TABLES, "missing", "failed")
    optional = ("missing", "failed")
    frames: dict[str, list[pd.DataFrame]] = {name: [] for name in names}
    owner: dict[tuple[str, str], Path] = {}
    for folder in shards:
        if not folder.is_dir():
            raise InputError(
                f"{folder}: {'not a folder' if folder.exists() else 'folder not found'}"
            )
        ext = shard_format(folder, fmt)
        fmt = fmt or ext
        for name in names:
            path = folder / f"{name}.{ext}"
            if not path.is_file():
                if name in optional:
                    continue
                raise InputError(f"{path}: missing; is {folder} an agree measure output?")
            frames[name].append(read_output_table(path, name))
        for key in frames["cases"][-1][["case_id", "method"]].astype(str).itertuples(index=False):
            if tuple(key) in owner:
                raise InputError(
                    f"{folder}: case {key[0]!r}, method {key[1]!r} is also in {owner[tuple(key)]}"
                )
            owner[tuple(key)] = folder
    with atomic_dir(output, overwrite=overwrite, inputs=shards) as tmp:
        for name in names:
            parts = [df for df in frames[name] if len(df)]
            if not parts:
                if name in optional and not frames[name]:
                    continue
                parts = frames[name][:1]
            table = pd.concat(parts, ignore_index=True)
            if name == "missing":  # skipped inputs are listed by every shard
                table = table.fillna("").drop_duplicates(ignore_index=True)
            if len(table):
                table = table.sort_values(["case_id", "method"], kind="stable")
            write_table(table, tmp / f"{name}.{fmt}")
    click.echo(f"merged {len(shards)} shard(s): {len(owner)} case/method row(s) into {output}")
