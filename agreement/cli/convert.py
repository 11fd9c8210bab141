"""``agree convert``: DICOM PET/CT (+ RTSTRUCT/SEG) in, an nnU-Net raw dataset out."""

from __future__ import annotations

from pathlib import Path

import click


@click.command(
    epilog="""\b
Examples:
  agree convert dicom/ -o Dataset001_PSMA
  agree convert dicom/ -o Dataset001_PSMA --roi 'tumou?r*' --strict
"""
)
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="Dataset folder to write (refused if it exists, unless --overwrite).",
)
@click.option(
    "--roi",
    default="lesion*",
    show_default=True,
    help="RTSTRUCT ROI names / SEG segment labels of the lesion mask (shell pattern, "
    "case-insensitive).",
)
@click.option("--strict", is_flag=True, help="Stop at the first failing study (exit 2).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def convert(source: Path, output: Path, roi: str, strict: bool, overwrite: bool,
            no_progress: bool) -> None:  # fmt: skip
    """Convert DICOM studies (PET, optional CT, RTSTRUCT, SEG) into nnU-Net's raw layout.

    SOURCE is a folder of DICOM files in any arrangement; studies and series are found from
    the headers. Per study: imagesTr/<case>_0000.nii.gz (CT in HU on the PET grid, int16),
    imagesTr/<case>_0001.nii.gz (PET as body-weight SUV), labelsTr/<case>.nii.gz (lesion mask
    on the PET grid); then dataset.json and conversion.csv (SUV factor and the DICOM tags used).
    <case> is the PatientID, with _<StudyDate> when a patient has several studies. A study
    that cannot be converted is listed in failed.csv and the run goes on; exit code 2 when
    every study failed. Needs the dicom extra: pip install 'pet-agreement[dicom]'.
    """
    from agreement.dicom import convert_dicom

    result = convert_dicom(source, output, roi=roi, strict=strict, overwrite=overwrite,
                           progress=False if no_progress else None)  # fmt: skip
    for note in result.notes:
        click.echo(f"skipped: {note}")
    for row in result.conversion.itertuples():
        if row.label_note:
            click.echo(f"note: {row.case_id}: {row.label_note}")
    click.echo(f"{result.summary()}; dataset in {output}")
