"""``segengine phantoms``: write a synthetic PSMA-like PET/CT cohort (no torch needed)."""

from __future__ import annotations

from pathlib import Path

import click

from agreement.cli import UserError
from agreement.errors import InputError


@click.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Output folder (nnU-Net layout); must not exist unless --overwrite.",
)
@click.option("--cases", type=click.IntRange(min=1), default=40, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--size",
    type=click.Choice(["tiny", "small", "full"]),
    default="small",
    show_default=True,
    help="Grid preset: 32x32x48, 64x64x96 or 192x192x320 voxels of 3.64x3.64x3.27 mm.",
)
@click.option(
    "--negative-fraction",
    type=click.FloatRange(0, 1, max_open=True),
    default=0.1,
    show_default=True,
    help="Probability that a case has no lesion.",
)
@click.option(
    "--folds",
    type=click.IntRange(min=2),
    help="Cross-validation folds in splits_final.json [default: 5, or --cases when fewer].",
)
@click.option(
    "--test-cases",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Held-out cases written to imagesTs/labelsTs (in no fold).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def phantoms(
    output: Path,
    cases: int,
    seed: int,
    size: str,
    negative_fraction: float,
    folds: int | None,
    test_cases: int,
    overwrite: bool,
    no_progress: bool,
) -> None:
    """Write a synthetic PSMA-like PET/CT cohort with reference lesion masks.

    \b
    OUTPUT/imagesTr/<case>_0000.nii.gz  CT (HU)
    OUTPUT/imagesTr/<case>_0001.nii.gz  PET (SUV)
    OUTPUT/labelsTr/<case>.nii.gz       lesion mask (0/1)
    OUTPUT/imagesTs, labelsTs           the same for --test-cases held-out cases
    OUTPUT/dataset.json, splits_final.json, phantoms.csv (one row per lesion)
    """
    from segengine.data.phantoms import make_phantoms

    if folds is None:
        if cases < 2:
            raise UserError(f"--cases {cases}: cross-validation folds need at least 2 cases")
        folds = min(5, cases)
        if folds < 5:
            click.echo(f"folds: {folds} (the default 5 is more than the {cases} cases)")
    if folds > cases:
        raise UserError(f"--folds {folds}: needs at least as many cases (--cases {cases})")
    try:
        out = make_phantoms(
            output,
            cases,
            seed,
            shape=size,
            negative_fraction=negative_fraction,
            folds=folds,
            test_cases=test_cases,
            overwrite=overwrite,
            progress=not no_progress,
        )
    except InputError as exc:
        raise UserError(str(exc).splitlines()[0]) from None
    click.echo(f"wrote {cases} training and {test_cases} test cases to {out}")
