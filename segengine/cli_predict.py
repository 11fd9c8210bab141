"""``segengine predict``: sliding-window prediction with trained runs, optional ensemble and report."""

from __future__ import annotations

from pathlib import Path

import click

from agreement.errors import InputError


@click.command(name="predict")
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--images",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder of <case>_0000.nii.gz (CT) and <case>_0001.nii.gz (PET).",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="Output root: <network>/<loss>/<case>.nii.gz.",
)
@click.option(
    "--ensemble",
    type=click.Choice(["majority", "mean", "weighted"]),
    help="Combine the runs of each network/loss pair.",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--sw-batch-size", type=int, default=2, show_default=True)
@click.option("--overlap", type=float, help="Window overlap [default: 0.5; 0.25 with --compat].")
@click.option(
    "--mode",
    type=click.Choice(["gaussian", "constant"]),
    help="Window blending [default: gaussian; constant with --compat].",
)
@click.option("--save-probabilities", is_flag=True, help="Also write <case>_probabilities.npz.")
@click.option(
    "--resume",
    is_flag=True,
    help="Continue an existing -o folder (same runs and settings): skip cases already predicted.",
)
@click.option("--strict", is_flag=True, help="Stop at the first failing case (exit 2).")
@click.option(
    "--compat",
    type=click.Choice(["reference"]),
    help="The published code's inference settings (overlap 0.25, constant blending).",
)
@click.option(
    "--report",
    type=click.Path(path_type=Path),
    help="Then run `agree report` on the output into this folder.",
)
@click.option("--reference", type=click.Path(path_type=Path), help="Reference masks for --report.")
@click.option(
    "--pet", type=click.Path(path_type=Path), help="PET images for --report [default: --images]."
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace an earlier output of segengine predict in -o (and the --report folder).",
)
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def predict(
    runs: tuple[Path, ...],
    images: Path,
    output: Path,
    ensemble: str | None,
    device: str,
    sw_batch_size: int,
    overlap: float | None,
    mode: str | None,
    save_probabilities: bool,
    resume: bool,
    strict: bool,
    compat: str | None,
    report: Path | None,
    reference: Path | None,
    pet: Path | None,
    overwrite: bool,
    no_progress: bool,
) -> None:
    """Predict the cases in --images with trained RUNS (run folders or checkpoint files).

    \b
    Example:
      segengine predict runs/segresnet-l1dfl-fold* --images phantoms/imagesTs \\
          -o pred --ensemble majority --report report --reference phantoms/labelsTs
    """
    if report is not None and reference is None:
        raise InputError("--report: needs --reference (the reference masks folder)")
    for run in runs:
        if not run.exists():
            raise InputError(f"{run}: run folder not found")
    from segengine.infer import predict as run_predict

    try:
        run_predict(
            list(runs),
            images,
            output,
            ensemble=ensemble,
            device=device,
            sw_batch_size=sw_batch_size,
            overlap=overlap,
            mode=mode,
            save_probabilities=save_probabilities,
            resume=resume,
            overwrite=overwrite,
            strict=strict,
            compat=compat,
            progress=not no_progress,
        )
    except ValueError as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"segengine predict: {exc}") from None
    _notes(output)
    click.echo(str(output))
    if report is not None:
        _report(output, reference, pet if pet is not None else images, report, overwrite,
                not no_progress)  # fmt: skip


def _report(
    pred: Path, reference: Path, pet: Path, out: Path, overwrite: bool, progress: bool
) -> None:
    """Measure the predictions, analyse them and write the report: library calls only."""
    import time

    from agreement.analysis import analyse
    from agreement.atomic import check_output_dir
    from agreement.measures.cohort import measure_cohort
    from agreement.report.build import write_report
    from agreement.report.cases import cohort_inputs
    from figures.report import draw_report_figures

    check_output_dir(out, overwrite=overwrite, inputs=[pred, reference, pet])
    start = time.perf_counter()
    result = measure_cohort(pred, reference, pet, progress=progress)
    timings = {"measure": time.perf_counter() - start}
    if len(result.cases) == 0:
        reason = result.failed["reason"].iloc[0] if len(result.failed) else "no case measured"
        raise InputError(f"{pred}: {reason}")
    start = time.perf_counter()
    analysis = analyse(
        result.measurements,
        cases=result.cases,
        lesions=result.lesions,
        failed=result.failed,
        missing=result.missing,
        skipped=result.skipped,
    )
    timings["statistics"] = time.perf_counter() - start
    inputs, volumes = cohort_inputs(pred, reference, pet)
    folder = write_report(
        analysis,
        out,
        figures=draw_report_figures,
        overwrite=overwrite,
        measure_parameters=result.options.to_dict(),
        layout=result.layout,
        source=f"masks in {pred} (segengine predict)",
        inputs=inputs,
        timings=timings,
        volumes=volumes,
        progress=progress,
    )
    click.echo(f"report: {folder / 'index.html'}")


def _notes(output: Path) -> None:
    """Say which cases had their CT resampled and which failed (from predict.json)."""
    import json

    manifest = json.loads((output / "predict.json").read_text())
    moved = manifest.get("ct_resampled_to_pet") or {}
    if moved:
        cases = ", ".join(f"{c} ({why})" for c, why in moved.items())
        click.echo(f"CT resampled onto the PET grid: {cases}")
    failed = manifest.get("failed_cases") or []
    if failed:
        click.echo(f"failed: {len(failed)} case(s) ({', '.join(failed)}); reasons in "
                   f"{output / 'failed.csv'}")  # fmt: skip
