"""load_volume (NIfTI, MHA), grid checks, resampling and folder layouts."""

from __future__ import annotations

import gzip
import json
import warnings

import nibabel as nib
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from agreement.errors import InputError
from agreement.measures.io import (
    Volume,
    check_same_grid,
    load_volume,
    mask_array,
    pet_array,
    resample_nearest,
)
from agreement.measures.layout import find_images, find_predictions, plan_cohort


def test_spacing_from_affine_and_pixdim_warning(tmp_path):
    img = nib.Nifti1Image(np.zeros((4, 5, 6), np.uint8), np.diag([-2.0, 2.0, 3.0, 1.0]))
    img.header.set_zooms((1.0, 1.0, 1.0))  # pixdim disagrees with the affine
    nib.save(img, tmp_path / "a.nii.gz")
    with pytest.warns(UserWarning, match="pixdim") as caught:
        v = load_volume(tmp_path / "a.nii.gz")
    # review: the message showed numpy reprs, "(np.float64(1.0), ...)"
    assert "pixdim (1, 1, 1) differs from the affine's voxel size (2, 2, 3)" in str(
        caught[0].message
    )
    assert v.spacing == (2.0, 2.0, 3.0)
    assert v.array.shape == (4, 5, 6) and v.array.dtype == np.uint8


def test_qform_sform_mismatch_warns_and_uses_sform(tmp_path):
    img = nib.Nifti1Image(np.zeros((3, 3, 3), np.uint8), np.diag([2.0, 2.0, 2.0, 1.0]))
    sform = np.diag([2.0, 2.0, 2.0, 1.0])
    sform[:3, 3] = [10, -5, 3]
    img.set_sform(sform, code=2)
    img.set_qform(np.diag([2.0, 2.0, 2.0, 1.0]), code=1)
    nib.save(img, tmp_path / "q.nii.gz")
    with pytest.warns(UserWarning, match="qform and sform"):
        v = load_volume(tmp_path / "q.nii.gz")
    assert_allclose(v.affine[:3, 3], [10, -5, 3])


def test_clean_file_does_not_warn(tmp_path, nifti):
    nifti.write(tmp_path / "ok.nii.gz", np.zeros((2, 2, 2), np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_volume(tmp_path / "ok.nii.gz")


def test_mha_matches_nifti_axis_order(tmp_path, nifti):
    # SimpleITK returns (z, y, x); load_volume must give NIfTI voxel order and a RAS affine.
    import SimpleITK as sitk

    arr = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    affine = np.diag([-4.0, -4.0, 3.0, 1.0])
    affine[:3, 3] = [100.0, 50.0, -200.0]
    nib.save(nib.Nifti1Image(arr, affine), tmp_path / "a.nii.gz")
    sitk.WriteImage(sitk.ReadImage(str(tmp_path / "a.nii.gz")), str(tmp_path / "a.mha"))
    a = load_volume(tmp_path / "a.nii.gz")
    b = load_volume(tmp_path / "a.mha")
    assert_array_equal(a.array, b.array)
    assert a.spacing == b.spacing
    assert_allclose(a.affine, b.affine, atol=1e-6)


@pytest.mark.parametrize("shape", [(4, 4), (4, 4, 4, 2)])
def test_not_3d_rejected(tmp_path, shape):
    nib.save(nib.Nifti1Image(np.zeros(shape, np.uint8), np.eye(4)), tmp_path / "x.nii.gz")
    with pytest.raises(InputError, match=r"x.nii.gz: expected a 3-D volume"):
        load_volume(tmp_path / "x.nii.gz")


def test_trailing_unit_axis_dropped(tmp_path):
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4, 1), np.uint8), np.eye(4)), tmp_path / "x.nii.gz")
    assert load_volume(tmp_path / "x.nii.gz").array.shape == (4, 4, 4)


def test_truncated_and_non_nifti(tmp_path, nifti):
    path = nifti.write(tmp_path / "t.nii.gz", np.ones((20, 20, 20), np.float32))
    data = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(data[: len(data) // 2]))
    with pytest.raises(InputError, match="t.nii.gz: not a readable NIfTI"):
        load_volume(path)
    (tmp_path / "n.nii.gz").write_text("hello")
    with pytest.raises(InputError, match="n.nii.gz: not a readable NIfTI"):
        load_volume(tmp_path / "n.nii.gz")
    with pytest.raises(InputError, match="file not found"):
        load_volume(tmp_path / "missing.nii.gz")


def test_grid_check_and_resample():
    a = Volume(np.zeros((4, 4, 4)), (2.0,) * 3, np.diag([2.0, 2, 2, 1]), None)
    shifted = np.diag([2.0, 2, 2, 1])
    shifted[0, 3] = 0.5
    b = Volume(np.zeros((4, 4, 4)), (2.0,) * 3, shifted, None)
    with pytest.raises(InputError, match="affine differs by up to 0.5 mm; pass --resample"):
        check_same_grid(a, b)
    check_same_grid(a, Volume(np.zeros((4, 4, 4)), (2.0,) * 3, a.affine + 1e-5, None))
    # a mask at 1 mm resampled onto a 2 mm grid: nearest neighbour by world position
    fine = np.zeros((8, 8, 8), np.uint8)
    fine[2:6, 2:6, 2:6] = 1
    moving = Volume(fine, (1.0,) * 3, np.eye(4), None)
    out = resample_nearest(moving, a)
    assert_array_equal(np.argwhere(out.array), np.argwhere(fine[::2, ::2, ::2]))


def test_mask_and_pet_checks():
    v = Volume(np.array([0.0, 1.0, 0.5, 1.0]).reshape(1, 2, 2), (1.0,) * 3, np.eye(4), None)
    with pytest.raises(InputError, match="not a label map: fractional values"):
        mask_array(v)
    v = Volume(np.array([0, 1, 1, 0], np.int16).reshape(1, 2, 2), (1.0,) * 3, np.eye(4), None)
    assert mask_array(v).sum() == 2
    pet = Volume(np.array([1.0, np.inf]).reshape(1, 1, 2), (1.0,) * 3, np.eye(4), None)
    with pytest.raises(InputError, match="NaN or infinite"):
        pet_array(pet)


def _touch(path, content=""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    return path


def test_prediction_layouts(tmp_path):
    _touch(tmp_path / "flat" / "a.nii.gz")
    _touch(tmp_path / "flat" / "plans.json")
    p = find_predictions(tmp_path / "flat")
    assert p.layout == "flat folder" and p.methods == {"flat": {"a": tmp_path / "flat/a.nii.gz"}}
    _touch(tmp_path / "one" / "unet" / "a.nii.gz")
    _touch(tmp_path / "one" / "segresnet" / "a.nii")
    p = find_predictions(tmp_path / "one")
    assert p.layout == "method subfolders" and sorted(p.methods) == ["segresnet", "unet"]
    _touch(tmp_path / "empty" / "notes.txt")
    with pytest.raises(InputError, match="empty: no prediction images"):
        find_predictions(tmp_path / "empty")
    _touch(tmp_path / "dup" / "a.nii.gz")
    _touch(tmp_path / "dup" / "a.nii")
    with pytest.raises(InputError, match="duplicate case id 'a'"):
        find_predictions(tmp_path / "dup")


def test_nnunet_pet_channel_from_dataset_json(tmp_path):
    root = tmp_path / "Dataset001"
    for case in ("psma_0001", "psma_0002"):
        _touch(root / "imagesTr" / f"{case}_0000.nii.gz")
        _touch(root / "imagesTr" / f"{case}_0001.nii.gz")
        _touch(root / "labelsTr" / f"{case}.nii.gz")
    _touch(root / "dataset.json", json.dumps({"channel_names": {"0": "CT", "1": "PET"}}))
    pets = find_images(root / "imagesTr", "pet")
    assert pets.files["psma_0001"].name == "psma_0001_0001.nii.gz"
    assert "channel 0001" in pets.layout
    refs = find_images(root, "reference")  # the dataset folder itself
    assert sorted(refs.files) == ["psma_0001", "psma_0002"]
    (root / "dataset.json").unlink()
    with pytest.raises(InputError, match="several image channels"):
        find_images(root / "imagesTr", "pet")


def test_flat_ids_ending_in_digits_are_not_channels(tmp_path):
    # Case ids like case_0001 in a flat PET folder: pairing by reference ids keeps them whole.
    for case in ("case_0001", "case_0002"):
        _touch(tmp_path / "pet" / f"{case}.nii.gz")
    pets = find_images(tmp_path / "pet", "pet", wanted={"case_0001", "case_0002"})
    assert sorted(pets.files) == ["case_0001", "case_0002"]


def test_autopet_study_folders_and_pairing(tmp_path):
    for patient, study in [("PETCT_1", "2001-01-01-NA-1"), ("PETCT_2", "2002-02-02-NA-2")]:
        _touch(tmp_path / "data" / patient / study / "SEG.nii.gz")
        _touch(tmp_path / "data" / patient / study / "SUV.nii.gz")
        _touch(tmp_path / "data" / patient / study / "CTres.nii.gz")
    _touch(tmp_path / "pred" / "PETCT_1.nii.gz")  # alias: the patient's only study
    _touch(tmp_path / "pred" / "PETCT_2_2002-02-02-NA-2.nii.gz")
    plan = plan_cohort(tmp_path / "pred", tmp_path / "data", tmp_path / "data")
    assert "autoPET study folders" in plan.layout
    assert [j.reference.name for j in plan.jobs] == ["SEG.nii.gz", "SEG.nii.gz"]
    assert [j.pet.name for j in plan.jobs] == ["SUV.nii.gz", "SUV.nii.gz"]
    assert plan.skipped == []  # review: the short name PETCT_1 printed a false "skipped"


def test_pairing_by_id_not_order(tmp_path):
    for case in ("b", "a", "c"):
        _touch(tmp_path / "ref" / f"{case}.nii.gz")
        _touch(tmp_path / "pet" / f"{case}_0000.nii.gz")
    _touch(tmp_path / "pred" / "c.nii.gz")
    _touch(tmp_path / "pred" / "a_0000.nii.gz")  # an image-style name for a mask
    plan = plan_cohort(tmp_path / "pred", tmp_path / "ref", tmp_path / "pet")
    assert [(j.case_id, j.reference.name, j.pet.name, list(j.predictions)) for j in plan.jobs] == [
        ("a", "a.nii.gz", "a_0000.nii.gz", ["pred"]),
        ("b", "b.nii.gz", "b_0000.nii.gz", []),  # a reference without a prediction is listed
        ("c", "c.nii.gz", "c_0000.nii.gz", ["pred"]),
    ]
    assert [(c, m) for c, m, _ in plan.missing_pairs()] == [("b", "pred")]
    assert plan.skipped == []
    assert [j.case_id for j in plan.shard(1, 2).jobs] == ["b"]
    _touch(tmp_path / "pred" / "z.nii.gz")
    with pytest.raises(InputError, match=r"z.nii.gz: no reference mask for case 'z'"):
        plan_cohort(tmp_path / "pred", tmp_path / "ref", tmp_path / "pet")


def test_nrrd_reads_and_missing_simpleitk_is_a_clear_error(tmp_path, nifti, monkeypatch):
    import sys

    import SimpleITK as sitk

    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    nifti.write(tmp_path / "a.nii.gz", arr)
    sitk.WriteImage(sitk.ReadImage(str(tmp_path / "a.nii.gz")), str(tmp_path / "a.nrrd"))
    assert_array_equal(load_volume(tmp_path / "a.nrrd").array, arr)
    monkeypatch.setitem(sys.modules, "SimpleITK", None)  # as if the itk extra were missing
    with pytest.raises(InputError, match=r"a.nrrd: reading MHA/NRRD needs SimpleITK"):
        load_volume(tmp_path / "a.nrrd")
