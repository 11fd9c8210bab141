"""Bad DICOM inputs to ``agree convert``: one line naming the file and the tag, exit 2, nothing
written, the DICOM tree untouched."""

from __future__ import annotations

import numpy as np
import pytest


def pet_study(root, s, **header):
    study, frame = s.new_study(), s.generate_uid()
    return s.image_series(root / "pet", "PT", np.ones((8, 8, 6), np.int16), study=study,
                          frame=frame, header=s.pet_header(**header))  # fmt: skip


def check_refused(rel, tmp_path, src, expected_start, expected_part):
    before = rel.snapshot(src)
    out = tmp_path / "out"
    res = rel.agree("convert", src, "-o", out)
    assert res.exit_code == 2, res.output
    line = rel.one_line(res.output)
    assert line.startswith(expected_start), line
    assert expected_part in line, line
    assert rel.no_output(out)
    assert rel.snapshot(src) == before
    return line


@pytest.mark.bad_input(
    tool="agree convert",
    given="a folder without DICOM files",
    message="Error: SRC: no DICOM PET, CT, RTSTRUCT or SEG files (1 file(s) that are not DICOM, "
    "e.g. FILE)",
)
def test_convert_no_dicom(tmp_path, rel):
    src = tmp_path / "src"
    src.mkdir()
    (src / "notes.txt").write_text("hello")
    check_refused(rel, tmp_path, src, f"Error: {src}: no DICOM PET, CT, RTSTRUCT or SEG files",
                  "1 file(s) that are not DICOM")  # fmt: skip


@pytest.mark.bad_input(
    tool="agree convert",
    given="a PET series without PatientWeight (0010,1030)",
    message="Error: FILE: PatientWeight (0010,1030) missing",
)
def test_convert_missing_weight(tmp_path, rel, synthetic_dicom):
    src = tmp_path / "src"
    paths = pet_study(src, synthetic_dicom, PatientWeight=None)
    line = check_refused(rel, tmp_path, src, "Error: ", "PatientWeight (0010,1030) missing")
    assert any(line.startswith(f"Error: {p}: ") for p in paths)


@pytest.mark.bad_input(
    tool="agree convert",
    given="Units CNTS without the Philips private SUV scale factor",
    message="Error: FILE: PhilipsSUVScaleFactor (7053,1000) missing or not positive, needed "
    "with Units CNTS",
)
def test_convert_cnts_without_philips_factor(tmp_path, rel, synthetic_dicom):
    src = tmp_path / "src"
    pet_study(src, synthetic_dicom, Units="CNTS")
    check_refused(rel, tmp_path, src, "Error: ", "PhilipsSUVScaleFactor (7053,1000) missing")


@pytest.mark.bad_input(
    tool="agree convert",
    given="CorrectedImage (0028,0051) without DECY (a PET not decay-corrected)",
    message="Error: FILE: CorrectedImage (0028,0051) is ATTN, needs ATTN and DECY",
)
def test_convert_not_decay_corrected(tmp_path, rel, synthetic_dicom):
    src = tmp_path / "src"
    pet_study(src, synthetic_dicom, CorrectedImage=["ATTN"])
    check_refused(rel, tmp_path, src, "Error: ", "CorrectedImage (0028,0051) is ATTN")


@pytest.mark.bad_input(
    tool="agree convert",
    given="a PET series with one slice missing in the middle",
    message="Error: FILE: slice spacing is not uniform (3 to 6 mm along the normal); "
    "missing slices?",
)
def test_convert_missing_slice(tmp_path, rel, synthetic_dicom):
    import pydicom

    src = tmp_path / "src"
    paths = pet_study(src, synthetic_dicom)
    middle = [p for p in paths if float(pydicom.dcmread(p).ImagePositionPatient[2]) == -94.0]
    middle[0].unlink()
    check_refused(rel, tmp_path, src, "Error: ", "slice spacing is not uniform (3 to 6 mm")


@pytest.mark.bad_input(
    tool="agree convert",
    given="a PET file whose pixel data is cut short",
    message="Error: FILE: cannot decode PixelData (7FE0,0010) (...)",
)
def test_convert_truncated_pixels(tmp_path, rel, synthetic_dicom):
    src = tmp_path / "src"
    paths = pet_study(src, synthetic_dicom)
    data = paths[2].read_bytes()
    paths[2].write_bytes(data[:-60])
    line = check_refused(rel, tmp_path, src, f"Error: {paths[2]}: ",
                         "cannot decode PixelData (7FE0,0010)")  # fmt: skip
    assert line


def study_with_rtstruct(root, s, **rtstruct):
    study, frame = s.new_study(), s.generate_uid()
    s.image_series(root / "pet", "PT", np.ones((8, 8, 6), np.int16), study=study, frame=frame,
                   header=s.pet_header())  # fmt: skip
    square = [[-10, -10, -94], [-2, -10, -94], [-2, -2, -94], [-10, -2, -94]]
    options = {"frame": frame, **rtstruct}
    return s.rtstruct(root / "rs.dcm", study=study, rois={"lesion": [square]}, **options)


@pytest.mark.bad_input(
    tool="agree convert",
    given="an RTSTRUCT whose ROIs are in another frame of reference than the PET",
    message="Error: FILE: ReferencedFrameOfReferenceUID (3006,0024) UID is not the PET's "
    "FrameOfReferenceUID UID (contours of another frame of reference)",
)
def test_convert_rtstruct_of_another_frame(tmp_path, rel, synthetic_dicom):
    s = synthetic_dicom
    src = tmp_path / "src"
    rs = study_with_rtstruct(src, s, roi_frame=s.generate_uid())
    check_refused(rel, tmp_path, src, f"Error: {rs}: ReferencedFrameOfReferenceUID (3006,0024) ",
                  "(contours of another frame of reference)")  # fmt: skip


@pytest.mark.bad_input(
    tool="agree convert",
    given="an RTSTRUCT whose ReferencedFrameOfReferenceSequence names another frame of "
    "reference (and no frame per ROI)",
    message="Error: FILE: ReferencedFrameOfReferenceSequence (3006,0010) UID is not the PET's "
    "FrameOfReferenceUID UID (contours of another frame of reference)",
)
def test_convert_rtstruct_listing_another_frame(tmp_path, rel, synthetic_dicom):
    import pydicom

    s = synthetic_dicom
    src = tmp_path / "src"
    rs = study_with_rtstruct(src, s, referenced_series=s.generate_uid())
    ds = pydicom.dcmread(rs)
    for roi in ds.StructureSetROISequence:
        del roi.ReferencedFrameOfReferenceUID
    ds.ReferencedFrameOfReferenceSequence[0].FrameOfReferenceUID = s.generate_uid()
    ds.save_as(rs)
    check_refused(rel, tmp_path, src, f"Error: {rs}: ReferencedFrameOfReferenceSequence (3006,0010) ",
                  "(contours of another frame of reference)")  # fmt: skip


@pytest.mark.bad_input(
    tool="agree convert",
    given="an RTSTRUCT in the PET's frame of reference but drawn on a series the study does "
    "not hold",
    message="Error: FILE: RTReferencedSeriesSequence (3006,0014) names series UID, which is not "
    "in this study (contours drawn on another series)",
)
def test_convert_rtstruct_of_another_series(tmp_path, rel, synthetic_dicom):
    s = synthetic_dicom
    src = tmp_path / "src"
    rs = study_with_rtstruct(src, s, referenced_series=s.generate_uid())
    check_refused(rel, tmp_path, src, f"Error: {rs}: RTReferencedSeriesSequence (3006,0014) ",
                  "which is not in this study")  # fmt: skip


@pytest.mark.bad_input(
    tool="agree convert",
    given="two studies, one with an RTSTRUCT of another frame of reference",
    message="converted 1 case(s); 1 failed: CASE: FILE: ReferencedFrameOfReferenceUID "
    "(3006,0024) UID is not the PET's FrameOfReferenceUID UID (...); failed.csv names it",
    exit_code=0,
)
def test_convert_multi_study_lists_the_wrong_frame_as_failed(tmp_path, rel, synthetic_dicom):
    import pandas as pd
    import pydicom

    s = synthetic_dicom
    src = tmp_path / "src"
    study_with_rtstruct(src / "good", s)
    rs = study_with_rtstruct(src / "bad", s, roi_frame=s.generate_uid())
    for path in (src / "bad").rglob("*.dcm"):  # another patient
        ds = pydicom.dcmread(path)
        ds.PatientID = "P002"
        ds.save_as(path)
    before = rel.snapshot(src)
    res = rel.agree("convert", src, "-o", tmp_path / "out")
    assert res.exit_code == 0, res.output
    assert f"converted 1 case(s); 1 failed: P002: {rs}: ReferencedFrameOfReferenceUID" in res.output
    failed = pd.read_csv(tmp_path / "out" / "failed.csv")
    assert failed.case_id.tolist() == ["P002"]
    assert "another frame of reference" in failed.reason[0]
    # the study that matches its PET is converted, with its mask
    assert (tmp_path / "out" / "labelsTr" / "P001.nii.gz").exists()
    assert rel.snapshot(src) == before
