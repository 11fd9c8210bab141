"""`segengine predict` on existing outputs, mismatched CT/PET grids, bad cases and checkpoints.

The run is a tiny untrained U-Net (its weights are fixed by a seed): these tests are about what
predict does with its inputs and outputs, not about the masks' quality.
"""

from __future__ import annotations

import csv
import json
import shutil

import nibabel as nib
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")

TINY = {"channels": [4, 8, 16], "strides": [2, 2], "num_res_units": 0}
METHOD = "unet/dice"


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """Two phantom cases and a tiny run folder, shared (tests copy what they change)."""
    from segengine.config import TrainConfig
    from segengine.data.phantoms import make_phantoms
    from segengine.networks import build_network

    root = tmp_path_factory.mktemp("engine_predict")
    data = make_phantoms(root / "ph", 2, seed=4, shape=(24, 24, 32), folds=2, progress=False)
    run = root / "runs" / "unet-dice-fold0"
    run.mkdir(parents=True)
    config = TrainConfig(network="unet", loss="dice", patch_size=(16, 16, 16), spacing=4.0,
                         network_kwargs=TINY)  # fmt: skip
    config.save(run / "config.json")
    torch.manual_seed(0)
    model = build_network("unet", **TINY)
    torch.save({"model": model.state_dict(), "best_metric": 0.5, "config": config.to_dict()},
               run / "best.pt")  # fmt: skip
    return {"images": data / "imagesTr", "run": run}


@pytest.fixture
def images(base, tmp_path):
    return shutil.copytree(base["images"], tmp_path / "images")


def _predict(rel, run, images, out, *extra):
    return rel.segengine("predict", run, "--images", images, "-o", out, "--no-progress", *extra)


def _failed_rows(path):
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


# --- item 4: an existing -o --------------------------------------------------------------


@pytest.mark.bad_input(
    tool="segengine predict",
    given="`-o` an earlier prediction folder, without --resume or --overwrite",
    message="Error: OUT: output folder exists; pass --resume to continue it (same runs and "
    "settings) or --overwrite to replace it",
)
def test_existing_output_refused(tmp_path, rel, base, images):
    out = tmp_path / "pred"
    assert _predict(rel, base["run"], images, out).exit_code == 0
    before = rel.snapshot(out, images, base["run"])
    res = _predict(rel, base["run"], images, out, "--overlap", 0.25)
    assert res.exit_code == 2, res.output
    assert rel.one_line(res.output) == (
        f"Error: {out}: output folder exists; pass --resume to continue it (same runs and "
        "settings) or --overwrite to replace it"
    )
    assert rel.snapshot(out, images, base["run"]) == before


@pytest.mark.bad_input(
    tool="segengine predict",
    given="`--resume` into a folder predicted with another --overlap",
    message="Error: OUT/predict.json: predicted with other overlap (0.5, not 0.25); cannot "
    "resume (pass --overwrite to replace the folder)",
)
def test_resume_with_other_settings_refused(tmp_path, rel, base, images):
    out = tmp_path / "pred"
    assert _predict(rel, base["run"], images, out).exit_code == 0
    (out / METHOD / "PSMA_0001.nii.gz").unlink()  # as if killed before the last case
    before = rel.snapshot(out, images, base["run"])
    res = _predict(rel, base["run"], images, out, "--resume", "--overlap", 0.25)
    assert res.exit_code == 2, res.output
    assert rel.one_line(res.output) == (
        f"Error: {out / 'predict.json'}: predicted with other overlap (0.5, not 0.25); "
        "cannot resume (pass --overwrite to replace the folder)"
    )
    assert rel.snapshot(out, images, base["run"]) == before
    # Same settings: the missing case is predicted, the finished one is kept as it was.
    kept = (out / METHOD / "PSMA_0000.nii.gz").stat().st_mtime_ns
    assert _predict(rel, base["run"], images, out, "--resume").exit_code == 0
    assert (out / METHOD / "PSMA_0001.nii.gz").is_file()
    assert (out / METHOD / "PSMA_0000.nii.gz").stat().st_mtime_ns == kept


@pytest.mark.bad_input(
    tool="segengine predict",
    given="`--resume` with a run whose checkpoint changed since (retrained in place)",
    message="Error: OUT/predict.json: predicted with other weights in FILE (its SHA-256 "
    "differs); cannot resume (pass --overwrite to replace the folder)",
)
def test_resume_with_retrained_checkpoint_refused(tmp_path, rel, base, images):
    run = shutil.copytree(base["run"], tmp_path / "runs" / "unet-dice-fold0")
    out = tmp_path / "pred"
    assert _predict(rel, run, images, out).exit_code == 0
    state = torch.load(run / "best.pt", weights_only=True)
    next(iter(state["model"].values())).add_(1.0)
    torch.save(state, run / "best.pt")
    before = rel.snapshot(out, images)
    res = _predict(rel, run, images, out, "--resume")
    assert res.exit_code == 2, res.output
    assert rel.one_line(res.output) == (
        f"Error: {out / 'predict.json'}: predicted with other weights in "
        f"{(run / 'best.pt').resolve()} (its SHA-256 differs); cannot resume (pass --overwrite "
        "to replace the folder)"
    )
    assert rel.snapshot(out, images) == before


@pytest.mark.bad_input(
    tool="segengine predict",
    given="`--overwrite` with `-o` a folder that is not a segengine predict output",
    message="Error: OUT: not a segengine predict output (no predict.json); refusing to replace it",
)
def test_overwrite_only_replaces_a_predict_output(tmp_path, rel, base, images):
    out = tmp_path / "results"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    before = rel.snapshot(out, images)
    res = _predict(rel, base["run"], images, out, "--overwrite")
    assert res.exit_code == 2, res.output
    assert rel.one_line(res.output) == (
        f"Error: {out}: not a segengine predict output (no predict.json); refusing to replace it"
    )
    assert rel.snapshot(out, images) == before


@pytest.mark.bad_input(
    tool="segengine predict",
    given="`--overwrite` onto an earlier prediction holding a mask of a case no longer given",
    message="(the folder is replaced once the new prediction is complete; no stale mask is left)",
    exit_code=0,
)
def test_overwrite_replaces_an_earlier_prediction(tmp_path, rel, base, images):
    out = tmp_path / "pred"
    assert _predict(rel, base["run"], images, out).exit_code == 0
    stale = out / METHOD / "stale_case.nii.gz"
    shutil.copy(out / METHOD / "PSMA_0000.nii.gz", stale)
    res = _predict(rel, base["run"], images, out, "--overwrite", "--overlap", 0.25)
    assert res.exit_code == 0, res.output
    assert not stale.exists()  # nothing of the old output is mixed in
    assert json.loads((out / "predict.json").read_text())["overlap"] == 0.25
    assert rel.no_output(tmp_path / "absent")  # and no temporary is left beside it
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# --- item 10: CT and PET grids, one bad case among good ones ---------------------------


def _shift_ct(ct_path, k):
    """Write the same anatomy on a grid shifted by ``k`` voxels along the first axis.

    The first ``k`` slices are made air beforehand, so that the shifted CT holds exactly the
    same world content (bilinear resampling at whole-voxel offsets is exact).
    """
    img = nib.load(ct_path)
    ct = np.asarray(img.dataobj).copy()
    ct[:k] = -1024
    nib.save(nib.Nifti1Image(ct, img.affine), ct_path)
    shifted = np.full_like(ct, -1024)
    shifted[:-k] = ct[k:]
    affine = img.affine.copy()
    affine[:3, 3] += affine[:3, 0] * k
    return nib.Nifti1Image(shifted, affine)


@pytest.mark.bad_input(
    tool="segengine predict",
    given="a CT whose origin is 10.92 mm (3 voxels) off its PET",
    message="CT resampled onto the PET grid: CASE (affine differs by up to 10.92 mm)",
    exit_code=0,
)
def test_ct_on_another_grid_is_resampled_onto_the_pet(tmp_path, rel, base, images):
    ct = images / "PSMA_0000_0000.nii.gz"
    moved = _shift_ct(ct, 3)
    aligned_out, moved_out = tmp_path / "aligned", tmp_path / "moved"
    assert _predict(rel, base["run"], images, aligned_out, "--save-probabilities").exit_code == 0
    nib.save(moved, ct)
    before = rel.snapshot(images)
    res = _predict(rel, base["run"], images, moved_out, "--save-probabilities")
    assert res.exit_code == 0, res.output
    assert "CT resampled onto the PET grid: PSMA_0000 (affine differs by up to 10.92 mm)" in (
        res.output.splitlines()
    )
    manifest = json.loads((moved_out / "predict.json").read_text())
    assert manifest["ct_resampled_to_pet"] == {"PSMA_0000": "affine differs by up to 10.92 mm"}
    # Same anatomy, so the same probabilities as with the CT on the PET grid (not shifted).
    for case in ("PSMA_0000", "PSMA_0001"):
        with np.load(aligned_out / METHOD / f"{case}_probabilities.npz") as a, \
                np.load(moved_out / METHOD / f"{case}_probabilities.npz") as b:  # fmt: skip
            np.testing.assert_allclose(b["probabilities"], a["probabilities"], atol=1e-4)
    assert rel.snapshot(images) == before


def _disjoint_ct(images, case="PSMA_0001"):
    ct = images / f"{case}_0000.nii.gz"
    img = nib.load(ct)
    affine = img.affine.copy()
    affine[0, 3] += 1000.0
    nib.save(nib.Nifti1Image(np.asarray(img.dataobj), affine), ct)
    return ct


@pytest.mark.bad_input(
    tool="segengine predict",
    given="one case of two whose CT lies 1 m away from its PET (no overlap)",
    message="failed: 1 case(s) (CASE); reasons in OUT/failed.csv (FILE: CT does not overlap "
    "its PET PET (affine differs by up to 1000 mm))",
    exit_code=0,
)
def test_one_bad_case_is_listed_and_the_others_go_on(tmp_path, rel, base, images):
    ct = _disjoint_ct(images)
    before = rel.snapshot(images)
    out = tmp_path / "pred"
    res = _predict(rel, base["run"], images, out)
    assert res.exit_code == 0, res.output
    assert f"failed: 1 case(s) (PSMA_0001); reasons in {out / 'failed.csv'}" in res.output
    assert (out / METHOD / "PSMA_0000.nii.gz").is_file()
    assert not (out / METHOD / "PSMA_0001.nii.gz").exists()
    assert _failed_rows(out / "failed.csv") == [{
        "case_id": "PSMA_0001", "method": METHOD,
        "reason": f"{ct}: CT does not overlap its PET PSMA_0001_0001.nii.gz (affine differs by "
                  "up to 1000 mm)",
    }]  # fmt: skip
    assert json.loads((out / "predict.json").read_text())["failed_cases"] == ["PSMA_0001"]
    assert rel.snapshot(images) == before


@pytest.mark.bad_input(
    tool="segengine predict",
    given="`--strict` and one case whose CT does not overlap its PET",
    message="Error: FILE: CT does not overlap its PET PET (affine differs by up to 1000 mm)",
)
def test_strict_stops_at_the_bad_case(tmp_path, rel, base, images):
    ct = _disjoint_ct(images)
    before = rel.snapshot(images)
    out = tmp_path / "pred"
    res = _predict(rel, base["run"], images, out, "--strict")
    assert res.exit_code == 2, res.output
    assert rel.one_line(res.output) == (
        f"Error: {ct}: CT does not overlap its PET PSMA_0001_0001.nii.gz (affine differs by up "
        "to 1000 mm)"
    )
    assert rel.no_output(out)
    assert rel.snapshot(images) == before


@pytest.mark.bad_input(
    tool="segengine predict",
    given="every case failing (the only case has an unreadable PET)",
    message="Error: FILE: cannot read (...) (every case failed)",
)
def test_every_case_failing_is_an_error(tmp_path, rel, base, images):
    for f in images.glob("PSMA_0001_*"):
        f.unlink()
    pet = images / "PSMA_0000_0001.nii.gz"
    pet.write_bytes(b"not an image")
    before = rel.snapshot(images)
    out = tmp_path / "pred"
    res = _predict(rel, base["run"], images, out)
    assert res.exit_code == 2, res.output
    line = rel.one_line(res.output)
    assert line.startswith(f"Error: {pet}: cannot read (") and line.endswith("(every case failed)")
    assert rel.no_output(out)
    assert rel.snapshot(images) == before


# --- item 15: checkpoints ------------------------------------------------------------------


@pytest.mark.bad_input(
    tool="segengine predict",
    given="a run folder whose best.pt is empty (0 bytes)",
    message="Error: FILE: checkpoint file is empty (0 bytes)",
)
def test_empty_checkpoint_named(tmp_path, rel, base, images):
    run = shutil.copytree(base["run"], tmp_path / "runs" / "unet-dice-fold0")
    (run / "best.pt").write_bytes(b"")
    before = rel.snapshot(run, images)
    out = tmp_path / "pred"
    res = _predict(rel, run, images, out)
    assert res.exit_code == 2, res.output
    assert rel.one_line(res.output) == f"Error: {run / 'best.pt'}: checkpoint file is empty (0 bytes)"
    assert rel.no_output(out)
    assert rel.snapshot(run, images) == before


class _Payload:
    """A pickle that would call a function on load (never run: weights-only loading refuses)."""

    def __reduce__(self):
        return (exec, ("None",))


@pytest.mark.bad_input(
    tool="segengine predict",
    given="a checkpoint holding a pickled function call (unsafe)",
    message="Error: FILE: checkpoint refused as unsafe: loading it would call exec",
)
def test_unsafe_checkpoint_refused_without_weights_only_advice(tmp_path, rel, base, images):
    run = shutil.copytree(base["run"], tmp_path / "runs" / "unet-dice-fold0")
    torch.save({"model": _Payload()}, run / "best.pt")
    before = rel.snapshot(run, images)
    out = tmp_path / "pred"
    res = _predict(rel, run, images, out)
    assert res.exit_code == 2, res.output
    assert rel.one_line(res.output) == (
        f"Error: {run / 'best.pt'}: checkpoint refused as unsafe: loading it would call exec"
    )
    assert "weights_only" not in res.output
    assert rel.no_output(out)
    assert rel.snapshot(run, images) == before


@pytest.mark.bad_input(
    tool="segengine predict",
    given="a case with a CT but no PET file, and a case with a PET but no CT file, among others",
    message="failed: 2 case(s) (CASE, CASE); reasons in OUT/failed.csv (FILE: no PET channel "
    "PET beside it; FILE: no CT channel CT beside it)",
    exit_code=0,
)
def test_half_cases_are_named_not_dropped(tmp_path, rel, base, images):
    shutil.copy(images / "PSMA_0000_0000.nii.gz", images / "ctonly_0000.nii.gz")
    shutil.copy(images / "PSMA_0000_0001.nii.gz", images / "petonly_0001.nii.gz")
    before = rel.snapshot(images)
    out = tmp_path / "pred"
    res = _predict(rel, base["run"], images, out)
    assert res.exit_code == 0, res.output
    assert f"failed: 2 case(s) (ctonly, petonly); reasons in {out / 'failed.csv'}" in res.output
    assert _failed_rows(out / "failed.csv") == [
        {"case_id": "ctonly", "method": METHOD,
         "reason": f"{images / 'ctonly_0000.nii.gz'}: no PET channel ctonly_0001.nii.gz beside it"},
        {"case_id": "petonly", "method": METHOD,
         "reason": f"{images / 'petonly_0001.nii.gz'}: no CT channel petonly_0000.nii.gz beside it"},
    ]  # fmt: skip
    assert sorted(p.name for p in (out / METHOD).iterdir()) == [
        "PSMA_0000.nii.gz", "PSMA_0001.nii.gz"]  # fmt: skip
    assert rel.snapshot(images) == before


@pytest.mark.bad_input(
    tool="segengine predict",
    given="stderr that is not a terminal (a SLURM log): no `\\r` bar frames",
    message="predict: case 1/2 CASE (S s)",
    exit_code=0,
)
def test_progress_off_a_terminal_is_one_line_per_case(tmp_path, rel, base, images):
    out = tmp_path / "pred"
    res = rel.segengine("predict", base["run"], "--images", images, "-o", out)
    assert res.exit_code == 0, res.output
    assert "\r" not in res.output
    cases = [ln for ln in res.output.splitlines() if ln.startswith("predict: case")]
    assert [ln.split(" (")[0] for ln in cases] == [
        "predict: case 1/2 PSMA_0000", "predict: case 2/2 PSMA_0001"]  # fmt: skip
