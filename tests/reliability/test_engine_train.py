"""`segengine train` and `segengine phantoms` on bad training data and bad settings (issue 10).

Every refusal here happens before anything is written: no run folder, no config.json, no
splits.json, and the data folder is untouched.
"""

from __future__ import annotations

import shutil

import nibabel as nib
import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("monai")

TINY = "network_kwargs: {channels: [4, 8, 16], strides: [2, 2], num_res_units: 0}\n"
TINY += "epochs: 1\nsteps_per_epoch: 1\npatch_size: [16, 16, 16]\nspacing: 4.0\nval_interval: 1\n"


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    from segengine.data.phantoms import make_phantoms

    root = tmp_path_factory.mktemp("engine_train")
    return make_phantoms(root / "ph", 4, seed=2, shape=(24, 24, 32), folds=2, progress=False)


@pytest.fixture
def data(cohort, tmp_path):
    """A private copy of the tiny cohort (tests break files in it) and a tiny config."""
    copy = shutil.copytree(cohort, tmp_path / "data")
    (tmp_path / "tiny.yaml").write_text(TINY)
    return copy


def _train(rel, data, out, *extra):
    config = data.parent / "tiny.yaml"
    return rel.segengine("train", data, "--network", "unet", "--loss", "dice", "--fold", 0,
                         "--config", config, "-o", out, "--no-progress", *extra)  # fmt: skip


def _rewrite(path, array=None, affine=None):
    img = nib.load(path)
    data = np.asarray(img.dataobj) if array is None else array
    nib.save(nib.Nifti1Image(data, img.affine if affine is None else affine), path)


@pytest.mark.bad_input(
    tool="segengine train",
    given="a label file holding the value 2 (labelsTr/<case>.nii.gz)",
    message="Error: FILE: label values {0, 1, 2}; lesion masks must hold 0 and 1 only",
)
def test_label_value_two(tmp_path, rel, data):
    label = data / "labelsTr" / "PSMA_0001.nii.gz"
    array = np.asarray(nib.load(label).dataobj).copy()
    array[0, 0, 0] = 2
    _rewrite(label, array.astype(np.uint8))
    before = rel.snapshot(data)
    out = tmp_path / "runs"
    res = _train(rel, data, out)
    assert res.exit_code == 2, res.output
    expected = f"Error: {label}: label values {{0, 1, 2}}; lesion masks must hold 0 and 1 only"
    assert rel.one_line(res.output) == expected
    assert rel.no_output(out)
    assert rel.snapshot(data) == before


@pytest.mark.bad_input(
    tool="segengine train",
    given="a label of another shape than its images and a CT whose origin is 10 mm off",
    message="Error: 2 bad training files: FILE: grid differs from PET: shape (24, 24, 30) vs "
    "(24, 24, 32); FILE: grid differs from PET: affine differs by up to 10 mm",
)
def test_case_geometry_every_bad_file_named(tmp_path, rel, data):
    label = data / "labelsTr" / "PSMA_0000.nii.gz"
    _rewrite(label, np.asarray(nib.load(label).dataobj)[:, :, :30].copy())
    ct = data / "imagesTr" / "PSMA_0003_0000.nii.gz"
    shifted = nib.load(ct).affine.copy()
    shifted[0, 3] += 10.0
    _rewrite(ct, affine=shifted)
    before = rel.snapshot(data)
    out = tmp_path / "runs"
    res = _train(rel, data, out)
    assert res.exit_code == 2, res.output
    assert rel.one_line(res.output) == (
        f"Error: 2 bad training files: {label}: grid differs from PSMA_0000_0001.nii.gz: "
        f"shape (24, 24, 30) vs (24, 24, 32); {ct}: grid differs from PSMA_0003_0001.nii.gz: "
        "affine differs by up to 10 mm"
    )
    assert rel.no_output(out)
    assert rel.snapshot(data) == before


@pytest.mark.bad_input(
    tool="segengine train",
    given="`--network unet --patch-size 32` (the U-Net down-samples 32-fold with BatchNorm)",
    message="Error: --patch-size 32: network 'unet' needs patch edges that are multiples of 32 "
    "(its total down-sampling) and at least 64 (BatchNorm needs a 2-voxel bottleneck), got 32",
)
def test_patch_too_small_for_unet(tmp_path, rel, data):
    before = rel.snapshot(data)
    out = tmp_path / "runs"
    res = rel.segengine("train", data, "--network", "unet", "--loss", "dice", "--fold", 0,
                        "--patch-size", 32, "--epochs", 1, "--steps-per-epoch", 1,
                        "-o", out)  # fmt: skip
    assert res.exit_code == 2, res.output
    assert rel.one_line(res.output) == (
        "Error: --patch-size 32: network 'unet' needs patch edges that are multiples of 32 "
        "(its total down-sampling) and at least 64 (BatchNorm needs a 2-voxel bottleneck), got 32"
    )
    assert rel.no_output(out)
    assert rel.snapshot(data) == before


@pytest.mark.bad_input(
    tool="segengine train",
    given="`--network unetr --patch-size 96` (UNETR's img_size is 128)",
    message="Error: --patch-size 96: network 'unetr' takes patches of exactly its img_size 128 "
    "(set network_kwargs img_size to train another size), got 96",
)
def test_patch_not_unetr_image_size(tmp_path, rel, data):
    before = rel.snapshot(data)
    out = tmp_path / "runs"
    res = rel.segengine("train", data, "--network", "unetr", "--loss", "dice", "--fold", 0,
                        "--patch-size", 96, "--epochs", 1, "--steps-per-epoch", 1, "-o", out)  # fmt: skip
    assert res.exit_code == 2, res.output
    assert rel.one_line(res.output) == (
        "Error: --patch-size 96: network 'unetr' takes patches of exactly its img_size 128 "
        "(set network_kwargs img_size to train another size), got 96"
    )
    assert rel.no_output(out)
    assert rel.snapshot(data) == before


@pytest.mark.bad_input(
    tool="segengine.train",
    given="`segengine.train` with a config whose patch is not a multiple of the SegResNet's 8",
    message="InputError: patch_size: network 'segresnet' needs patch edges that are multiples "
    "of 8 (its total down-sampling) and at least 8, got 12",
    exit_code=None,
)
def test_train_api_checks_patch(tmp_path, rel, data):
    from agreement.errors import InputError
    from segengine.config import TrainConfig
    from segengine.training import train

    before = rel.snapshot(data)
    out = tmp_path / "runs"
    config = TrainConfig(network="segresnet", loss="dice", patch_size=(12, 12, 12), epochs=1)
    with pytest.raises(InputError) as err:
        train(config, data, out, progress=False, device="cpu")
    assert str(err.value) == (
        "patch_size: network 'segresnet' needs patch edges that are multiples of 8 "
        "(its total down-sampling) and at least 8, got 12"
    )
    assert rel.no_output(out)
    assert rel.snapshot(data) == before


@pytest.mark.bad_input(
    tool="segengine train",
    given="`--lr -1`",
    message="Error: --lr -1.0: must be > 0",
)
def test_negative_learning_rate_named(tmp_path, rel, data):
    before = rel.snapshot(data)
    out = tmp_path / "runs"
    res = _train(rel, data, out, "--lr", "-1")
    assert res.exit_code == 2, res.output
    assert rel.one_line(res.output) == "Error: --lr -1.0: must be > 0"
    assert rel.no_output(out)
    assert rel.snapshot(data) == before


@pytest.mark.bad_input(
    tool="segengine train",
    given="`spacing: 0` in the --config file",
    message="Error: FILE: spacing must be > 0, got 0",
)
def test_config_file_value_named(tmp_path, rel, data):
    config = data.parent / "tiny.yaml"
    config.write_text(config.read_text() + "spacing: 0\n")
    before = rel.snapshot(data, config)
    out = tmp_path / "runs"
    res = _train(rel, data, out)
    assert res.exit_code == 2, res.output
    assert rel.one_line(res.output) == f"Error: {config}: spacing must be > 0, got 0"
    assert rel.no_output(out)
    assert rel.snapshot(data, config) == before


@pytest.mark.bad_input(
    tool="segengine phantoms",
    given="`--cases 4` without --folds (the default 5 folds exceed the cases)",
    message="folds: 4 (the default 5 is more than the 4 cases)",
    exit_code=0,
)
def test_phantoms_fewer_cases_than_default_folds(tmp_path, rel):
    import json

    out = tmp_path / "ph"
    res = rel.segengine("phantoms", "-o", out, "--cases", 4, "--size", "tiny", "--no-progress")
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[0] == "folds: 4 (the default 5 is more than the 4 cases)"
    assert len(json.loads((out / "splits_final.json").read_text())) == 4


@pytest.mark.bad_input(
    tool="segengine phantoms",
    given="`--cases 1` (no cross-validation folds possible)",
    message="Error: --cases 1: cross-validation folds need at least 2 cases",
)
def test_phantoms_one_case(tmp_path, rel):
    out = tmp_path / "ph"
    res = rel.segengine("phantoms", "-o", out, "--cases", 1, "--size", "tiny", "--no-progress")
    assert res.exit_code == 2, res.output
    assert rel.one_line(res.output) == "Error: --cases 1: cross-validation folds need at least 2 cases"
    assert rel.no_output(out)


@pytest.mark.bad_input(
    tool="segengine train",
    given="stderr that is not a terminal (a SLURM log): no `\\r` bar frames",
    message="unet-dice-fold0: epoch 1/1 loss L val V (S s)",
    exit_code=0,
)
def test_progress_off_a_terminal_is_one_line_per_epoch(tmp_path, rel, data):
    out = tmp_path / "runs"
    config = data.parent / "tiny.yaml"
    res = rel.segengine("train", data, "--network", "unet", "--loss", "dice", "--fold", 0,
                        "--config", config, "-o", out)  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "\r" not in res.output
    epochs = [ln for ln in res.output.splitlines() if ln.startswith("unet-dice-fold0: epoch")]
    assert len(epochs) == 1 and epochs[0].startswith("unet-dice-fold0: epoch 1/1 loss ")


@pytest.mark.bad_input(
    tool="segengine phantoms",
    given="stderr that is not a terminal (a SLURM log): no `\\r` bar frames",
    message="phantoms: case 1/2 PSMA_0000",
    exit_code=0,
)
def test_phantoms_progress_off_a_terminal(tmp_path, rel):
    res = rel.segengine("phantoms", "-o", tmp_path / "ph", "--cases", 2, "--size", "tiny")
    assert res.exit_code == 0, res.output
    assert "\r" not in res.output
    lines = res.output.splitlines()
    assert "phantoms: case 1/2 PSMA_0000" in lines and "phantoms: case 2/2 PSMA_0001" in lines


@pytest.mark.bad_input(
    tool="segengine train",
    given="`patch_size: [12, 12, 12]` for a SegResNet in the --config file",
    message="Error: FILE: patch_size: network 'segresnet' needs patch edges that are multiples "
    "of 8 (its total down-sampling) and at least 8, got 12",
)
def test_config_file_patch_named(tmp_path, rel, data):
    config = tmp_path / "seg.yaml"
    config.write_text("patch_size: [12, 12, 12]\nepochs: 1\nsteps_per_epoch: 1\n")
    before = rel.snapshot(data, config)
    out = tmp_path / "runs"
    res = rel.segengine("train", data, "--network", "segresnet", "--loss", "dice", "--fold", 0,
                        "--config", config, "-o", out, "--no-progress")  # fmt: skip
    assert res.exit_code == 2, res.output
    assert rel.one_line(res.output) == (
        f"Error: {config}: patch_size: network 'segresnet' needs patch edges that are multiples "
        "of 8 (its total down-sampling) and at least 8, got 12"
    )
    assert rel.no_output(out)
    assert rel.snapshot(data, config) == before
