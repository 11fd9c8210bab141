"""``agree convert`` end to end on tiny synthetic studies."""

from __future__ import annotations

import hashlib
import json
import math

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from agreement.cli import agree

sitk = pytest.importorskip("SimpleITK")


def snapshot(root):
    return {str(p): hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))
            if p.is_file()}  # fmt: skip


def write_study(root, s, *, patient="P001", date="20240315", ct=True, rs=True, **pet_header):
    rng = np.random.default_rng(len(patient) + int(date))
    study, frame = s.new_study(date), s.generate_uid()
    stored = rng.integers(0, 2000, (8, 8, 6)).astype(np.int16)
    slopes = rng.uniform(1.0, 4.0, 6)
    header = s.pet_header(SeriesDate=date, AcquisitionDate=date, **pet_header)
    pet = s.image_series(root / patient / date / "pet", "PT", stored, study=study, frame=frame,
                         slopes=slopes, header=header, patient=patient, rng=rng)  # fmt: skip
    ct_paths = []
    if ct:  # a finer CT that covers only part of the PET field of view
        hu = rng.integers(-1000, 1500, (14, 12, 11)).astype(np.int16)
        ct_paths = s.image_series(root / patient / date / "ct", "CT", hu + 1024, study=study,
                                  frame=frame, spacing=(2.2, 1.9), thickness=1.4,
                                  origin=(-13.0, -9.0, -99.0), intercept=-1024,
                                  header={}, patient=patient, rng=rng)  # fmt: skip
    if rs:
        k = 3  # a square lesion on PET slice 3 around voxels (2..4, 3..5)
        z = -100 + 3 * k
        square = [[-14 + 4 * 1.5, -14 + 4 * 2.5, z], [-14 + 4 * 4.5, -14 + 4 * 2.5, z],
                  [-14 + 4 * 4.5, -14 + 4 * 5.5, z], [-14 + 4 * 1.5, -14 + 4 * 5.5, z]]  # fmt: skip
        s.rtstruct(root / patient / date / "rs.dcm", study=study, frame=frame,
                   rois={"Lesion_1": [square], "Body": [square]}, patient=patient)  # fmt: skip
    return {"pet": pet, "ct": ct_paths, "stored": stored, "slopes": slopes, "uid": study["uid"]}


def sitk_read(paths):
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(paths[0].parent)))
    reader.SetOutputPixelType(sitk.sitkFloat64)
    return reader.Execute()


def test_one_study_end_to_end(tmp_path, synthetic_dicom):
    s = synthetic_dicom
    src = tmp_path / "dicom"
    info = write_study(src, s)
    (src / "README.txt").write_text("not DICOM")
    before = snapshot(src)
    out = tmp_path / "Dataset001_Test"
    res = CliRunner().invoke(agree, ["convert", str(src), "-o", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "converted 1 case(s)" in res.output
    assert "skipped: 1 file(s) that are not DICOM" in res.output
    assert snapshot(src) == before  # inputs untouched

    # PET: stored × per-slice slope × the QIBA factor, worked by hand (70 kg, 370 MBq, 1 h)
    factor = 70_000 / (370e6 * 2 ** (-3600 / 6586.2))
    pet_img = nib.load(out / "imagesTr" / "P001_0001.nii.gz")
    assert pet_img.get_data_dtype() == np.float32
    expected = info["stored"].transpose(1, 0, 2) * info["slopes"] * factor
    np.testing.assert_allclose(pet_img.get_fdata(), expected, rtol=1e-5)

    # geometry of the PET file: SimpleITK's (LPS) with x and y negated (RAS)
    ref = sitk_read(info["pet"])
    affine = np.eye(4)
    affine[:3, :3] = np.asarray(ref.GetDirection()).reshape(3, 3) * ref.GetSpacing()
    affine[:3, 3] = ref.GetOrigin()
    np.testing.assert_allclose(pet_img.affine, np.diag([-1, -1, 1, 1]) @ affine, atol=1e-5)

    # CT on the PET grid: SimpleITK's linear resampling with -1024 outside, stored as int16
    # (rounded to the nearest HU)
    ct_ref = sitk.Resample(sitk_read(info["ct"]), ref, sitk.Transform(), sitk.sitkLinear, -1024.0)
    ct_expected = sitk.GetArrayFromImage(ct_ref).transpose(2, 1, 0)
    ct_img = nib.load(out / "imagesTr" / "P001_0000.nii.gz")
    assert ct_img.get_data_dtype() == np.int16
    ct_ours = ct_img.get_fdata()
    np.testing.assert_allclose(ct_ours, ct_expected, atol=0.5 + 1e-3)
    assert np.abs(ct_ours - np.rint(ct_expected)).sum() <= 2  # ties may round either way
    assert (ct_ours == -1024).any() and (ct_ours != -1024).any()

    # mask from Lesion_1 only (Body does not match lesion*)
    mask = np.asanyarray(nib.load(out / "labelsTr" / "P001.nii.gz").dataobj)
    expected_mask = np.zeros((8, 8, 6), np.uint8)
    expected_mask[2:5, 3:6, 3] = 1
    np.testing.assert_array_equal(mask, expected_mask)

    dataset = json.loads((out / "dataset.json").read_text())
    assert dataset["channel_names"] == {"0": "CT", "1": "PET"}
    assert dataset["labels"] == {"background": 0, "lesion": 1} and dataset["numTraining"] == 1
    table = pd.read_csv(out / "conversion.csv", dtype={"RadiopharmaceuticalStartTime": str})
    row = table.iloc[0]
    assert row.case_id == "P001" and row.rois == "Lesion_1" and row.label_voxels == 9
    assert math.isclose(row.suv_factor, factor, rel_tol=1e-12)
    assert row.PatientWeight == 70 and row.RadiopharmaceuticalStartTime == "090000"
    assert not (out / "failed.csv").exists()


def test_failed_study_is_listed_and_the_run_goes_on(tmp_path, synthetic_dicom):
    s = synthetic_dicom
    src = tmp_path / "dicom"
    write_study(src, s, patient="A", ct=False)
    write_study(src, s, patient="B", date="20240101", ct=False, rs=False)
    write_study(src, s, patient="B", date="20240601", ct=False, rs=False, PatientWeight="0")
    out = tmp_path / "out"
    res = CliRunner().invoke(agree, ["convert", str(src), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "converted 2 case(s); 1 failed: B_20240601: " in res.output
    assert "PatientWeight (0010,1030) is 0" in res.output
    names = sorted(p.name for p in (out / "imagesTr").iterdir())
    assert names == ["A_0001.nii.gz", "B_20240101_0001.nii.gz"]  # no CT: no _0000
    assert sorted(p.name for p in (out / "labelsTr").iterdir()) == ["A.nii.gz"]
    failed = pd.read_csv(out / "failed.csv")
    assert failed.case_id.tolist() == ["B_20240601"]
    assert "note: B_20240101: no RTSTRUCT or SEG: no label; no CT series" in res.output

    # --strict stops at the failing study: exit 2, one line, nothing written
    strict_out = tmp_path / "strict"
    res = CliRunner().invoke(agree, ["convert", str(src), "-o", str(strict_out), "--strict"])
    assert res.exit_code == 2
    assert res.output.count("\n") == 1 and "PatientWeight (0010,1030)" in res.output
    assert not strict_out.exists() and not list(tmp_path.glob(".strict*"))


def test_every_study_failed_exits_2_naming_file_and_tag(tmp_path, synthetic_dicom):
    s = synthetic_dicom
    src = tmp_path / "dicom"
    info = write_study(src, s, ct=False, rs=False, Units="PROPCNTS")
    out = tmp_path / "out"
    res = CliRunner().invoke(agree, ["convert", str(src), "-o", str(out)])
    assert res.exit_code == 2
    line = res.output.strip()
    assert "\n" not in line and "Traceback" not in res.output
    assert line.startswith(f"Error: {sorted(info['pet'], key=str)[0].parent}")
    assert "Units (0054,1001) 'PROPCNTS' is not supported" in line
    assert not out.exists()


def test_large_trees_parse_again_study_by_study(tmp_path, synthetic_dicom, monkeypatch):
    # above KEEP_HEADERS files, discovery keeps no headers and each study re-reads its own:
    # the dataset written is the same
    from agreement.dicom import convert_dicom, discover

    src = tmp_path / "dicom"
    write_study(src, synthetic_dicom)
    convert_dicom(src, tmp_path / "kept", progress=False)
    monkeypatch.setattr(discover, "KEEP_HEADERS", 0)
    convert_dicom(src, tmp_path / "reread", progress=False)
    for name in ("imagesTr/P001_0000.nii.gz", "imagesTr/P001_0001.nii.gz", "labelsTr/P001.nii.gz"):
        a = nib.load(tmp_path / "kept" / name)
        b = nib.load(tmp_path / "reread" / name)
        np.testing.assert_array_equal(a.get_fdata(), b.get_fdata())
        np.testing.assert_array_equal(a.affine, b.affine)
