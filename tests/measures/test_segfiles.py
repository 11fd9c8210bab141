"""3D Slicer .seg.nrrd and DICOM SEG masks, and putting a cropped/reordered mask back on its grid.

The grids are checked against independent readers: SimpleITK's DICOM series reader for the PET
series the tests write with pydicom, and scipy's affine_transform (resample_nearest) for
align_exact.
"""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from numpy.testing import assert_array_equal

from agreement.cli import agree
from agreement.errors import InputError
from agreement.measures.io import Volume, align_exact, load_volume, resample_nearest
from agreement.measures.layout import case_stem

sitk = pytest.importorskip("SimpleITK")


def _run(*args):
    return CliRunner().invoke(agree, [str(a) for a in args])


@pytest.mark.parametrize("seed", range(6))
def test_align_exact_matches_nearest_resampling(seed):
    rng = np.random.default_rng(seed)
    target = Volume(np.zeros((9, 8, 7)), (2.0, 3.0, 4.0), np.diag([2.0, 3.0, 4.0, 1.0]))
    full = np.zeros(target.array.shape, np.uint8)
    full[2:6, 1:5, 3:6] = rng.integers(0, 2, (4, 4, 3))
    lo = [2, 1, 3]
    crop = full[2:6, 1:5, 3:6]
    affine = target.affine.copy()
    affine[:3, 3] = target.affine[:3, :3] @ lo
    order = rng.permutation(3)
    flips = rng.integers(0, 2, 3).astype(bool)
    # the same voxels stored with axes permuted and flipped
    stored = np.transpose(crop, order)
    index = np.eye(4)[list(order) + [3]].T  # stored index -> crop index
    for ax in np.flatnonzero(flips):
        stored = np.flip(stored, ax)
        flip = np.eye(4)
        flip[ax, ax], flip[ax, 3] = -1, stored.shape[ax] - 1
        index = index @ flip
    moving = Volume(np.ascontiguousarray(stored), (1.0,) * 3, affine @ index)
    aligned = align_exact(moving, target)
    assert aligned is not None
    assert_array_equal(aligned.array, full)
    assert_array_equal(aligned.array, resample_nearest(moving, target).array)


def test_align_exact_refuses_other_grids():
    target = Volume(np.zeros((4, 4, 4)), (1.0,) * 3, np.eye(4))
    half = np.eye(4)
    half[:3, 3] = 0.5
    assert align_exact(Volume(np.ones((2, 2, 2)), (1.0,) * 3, half), target) is None
    coarse = np.diag([2.0, 2.0, 2.0, 1.0])
    assert align_exact(Volume(np.ones((2, 2, 2)), (2.0,) * 3, coarse), target) is None
    outside = np.eye(4)
    outside[:3, 3] = 3
    assert align_exact(Volume(np.ones((2, 2, 2)), (1.0,) * 3, outside), target) is None


def _slicer_seg(path, array_xyz, origin_mm, spacing, layers=1):
    arr = np.transpose(array_xyz, (2, 1, 0))
    if layers > 1:
        img = sitk.Compose([sitk.GetImageFromArray(arr)] * layers)
    else:
        img = sitk.GetImageFromArray(arr)
    img.SetSpacing(spacing)
    img.SetOrigin(origin_mm)
    img.SetDirection((-1, 0, 0, 0, -1, 0, 0, 0, 1))  # the NIfTI's RAS axes, in LPS
    img.SetMetaData("Segment0_Name", "lesion")
    img.SetMetaData("Segment0_LabelValue", "1")
    img.SetMetaData("Segment0_Layer", "0")
    sitk.WriteImage(img, str(path), True)


def test_slicer_seg_nrrd_cropped_prediction(tmp_path, nifti):
    paths = nifti.cohort(tmp_path, cases=("c1",))
    ref = load_volume(paths["ref"] / "c1.nii.gz")
    pred_nii = paths["pred"] / "unet" / "c1.nii.gz"
    full = load_volume(pred_nii).array
    pred_nii.unlink()
    # Slicer keeps the segments' extent: from voxel (1, 0, 1) on; its LPS origin
    assert full[0].sum() == full[:, :, 0].sum() == 0
    corner = ref.affine @ np.array([1, 0, 1, 1.0])
    _slicer_seg(paths["pred"] / "unet" / "c1.seg.nrrd", full[1:, :, 1:],
                (-corner[0], -corner[1], corner[2]), ref.spacing)  # fmt: skip
    assert case_stem(paths["pred"] / "unet" / "c1.seg.nrrd") == "c1"
    out = tmp_path / "out"
    res = _run("measure", paths["pred"], "--reference", paths["ref"], "--pet", paths["pet"],
               "-o", out, "--no-progress")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "predictions: method subfolders [3D Slicer .seg.nrrd]" in res.output
    nifti.write(pred_nii, full)  # the same mask as NIfTI on the full grid
    res = _run("measure", paths["pred"], "--reference", paths["ref"], "--pet", paths["pet"],
               "-o", tmp_path / "dup", "--no-progress")  # fmt: skip
    assert res.exit_code == 2 and "duplicate case id 'c1'" in res.output
    (paths["pred"] / "unet" / "c1.seg.nrrd").unlink()
    assert _run("measure", paths["pred"], "--reference", paths["ref"], "--pet", paths["pet"],
                "-o", tmp_path / "nii", "--no-progress").exit_code == 0  # fmt: skip
    for name in ("measurements", "cases", "lesions"):
        pd.testing.assert_frame_equal(pd.read_csv(out / f"{name}.csv"),
                                      pd.read_csv(tmp_path / "nii" / f"{name}.csv"))  # fmt: skip


def test_layered_slicer_seg_is_refused(tmp_path):
    path = tmp_path / "c1.seg.nrrd"
    _slicer_seg(path, np.zeros((3, 3, 3), np.uint8), (0, 0, 0), (1, 1, 1), layers=2)
    with pytest.raises(InputError, match="c1.seg.nrrd: a layered Slicer segmentation"):
        load_volume(path)


def _pet_series(folder, shape=(6, 5, 4), spacing=(2.0, 2.5, 3.0)):
    """A tiny PET series (pydicom): shape is (columns, rows, slices); returns the datasets."""
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    datasets = []
    rng = np.random.default_rng(0)
    for k in range(shape[2]):
        ds = pydicom.Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.128"
        ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.Modality = "PT"
        ds.PatientID, ds.PatientName, ds.PatientBirthDate, ds.PatientSex = "P1", "P^1", "", "O"
        ds.StudyDate = datetime.date(2024, 1, 2).strftime("%Y%m%d")
        ds.StudyTime, ds.AccessionNumber, ds.ReferringPhysicianName = "101010", "", ""
        ds.StudyID, ds.SeriesNumber, ds.InstanceNumber = "1", 1, k + 1
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [-10.0, -20.0, 30.0 + spacing[2] * k]
        ds.PixelSpacing = [spacing[1], spacing[0]]  # row spacing, column spacing
        ds.SliceThickness = spacing[2]
        ds.Rows, ds.Columns = shape[1], shape[0]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.PixelData = rng.integers(0, 1000, (shape[1], shape[0]), np.uint16).tobytes()
        ds.save_as(folder / f"slice_{shape[2] - k:03d}.dcm", enforce_file_format=True)
        datasets.append(ds)
    return datasets


def _dicom_seg(path, sources, mask_frames):
    import highdicom as hd
    from pydicom.sr.codedict import codes
    from pydicom.uid import generate_uid

    desc = hd.seg.SegmentDescription(
        segment_number=1, segment_label="lesion",
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Neoplasm,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=hd.AlgorithmIdentificationSequence(
            name="net", version="1", family=codes.cid7162.ArtificialIntelligence),
    )  # fmt: skip
    seg = hd.seg.Segmentation(
        source_images=sources, pixel_array=mask_frames,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY, segment_descriptions=[desc],
        series_instance_uid=generate_uid(), series_number=2, sop_instance_uid=generate_uid(),
        instance_number=1, manufacturer="test", manufacturer_model_name="test",
        software_versions="1", device_serial_number="1",
    )  # fmt: skip
    seg.save_as(path)


def test_dicom_seg_prediction_on_the_pet_grid(tmp_path, nifti):
    pytest.importorskip("highdicom")
    sources = _pet_series(tmp_path / "dicom")
    # independent converter: SimpleITK's series reader gives the PET grid and (z, y, x) order
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(tmp_path / "dicom")))
    pet_img = sitk.Cast(reader.Execute(), sitk.sitkFloat32)
    (tmp_path / "pet").mkdir()
    sitk.WriteImage(pet_img, str(tmp_path / "pet" / "c1.nii.gz"))
    frames = np.zeros((4, 5, 6), np.uint8)  # (slice, row, column)
    frames[1:3, 1:4, 2:5] = 1
    frames[3, 0, 0] = 1
    ref = sitk.GetImageFromArray(frames)
    ref.CopyInformation(pet_img)
    (tmp_path / "ref").mkdir()
    sitk.WriteImage(ref, str(tmp_path / "ref" / "c1.nii.gz"))
    (tmp_path / "pred").mkdir()
    _dicom_seg(tmp_path / "pred" / "c1.dcm", sources, frames)
    res = _run("measure", tmp_path / "pred", "--reference", tmp_path / "ref", "--pet",
               tmp_path / "pet", "-o", tmp_path / "out", "--no-progress")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "predictions: flat folder [DICOM SEG]" in res.output
    cases = pd.read_csv(tmp_path / "out" / "cases.csv")
    assert cases[["case_id", "dsc", "tp", "fp", "fn"]].values.tolist() == [["c1", 1.0, 2, 0, 0]]
    # a PET slice where a SEG is expected: named, with its modality
    import shutil

    shutil.copy(tmp_path / "dicom" / "slice_001.dcm", tmp_path / "pred" / "c1.dcm")
    res = _run("measure", tmp_path / "pred", "--reference", tmp_path / "ref", "--pet",
               tmp_path / "pet", "-o", tmp_path / "bad", "--no-progress")  # fmt: skip
    assert res.exit_code == 2
    assert "c1.dcm: a DICOM PT file, not a DICOM SEG" in res.output


def test_rtstruct_reference_rasterised_on_the_pet_grid(tmp_path, synthetic_dicom):
    import nibabel as nib

    s = synthetic_dicom
    study, frame = s.new_study(), s.generate_uid()
    s.image_series(tmp_path / "dicom", "PT", np.ones((8, 8, 6), np.int16), study=study,
                   frame=frame, header=s.pet_header())  # fmt: skip
    # the PET grid from an independent converter (SimpleITK's series reader)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(tmp_path / "dicom")))
    (tmp_path / "pet").mkdir()
    sitk.WriteImage(
        sitk.Cast(reader.Execute(), sitk.sitkFloat32), str(tmp_path / "pet" / "c1.nii.gz")
    )
    pet = load_volume(tmp_path / "pet" / "c1.nii.gz")

    # writer geometry: voxel (column i, row j, slice k) at LPS (-14 + 4i, -14 + 4j, -100 + 3k)
    def lps(i, j, k):
        return [-14 + 4 * i, -14 + 4 * j, -100 + 3 * k]

    # the square (1.5, 1.5)-(4.5, 3.5) on slice 2 holds the centres i = 2..4, j = 2..3
    square = [lps(1.5, 1.5, 2), lps(4.5, 1.5, 2), lps(4.5, 3.5, 2), lps(1.5, 3.5, 2)]
    big = [lps(0.5, 0.5, 3), lps(6.5, 0.5, 3), lps(6.5, 6.5, 3), lps(0.5, 6.5, 3)]
    s.rtstruct(tmp_path / "ref" / "c1.dcm", study=study, frame=frame,
               rois={"Lesion 1": [square], "Liver": [big]})  # fmt: skip
    expected = np.zeros((8, 8, 6), np.uint8)
    expected[2:5, 2:4, 2] = 1
    (tmp_path / "pred").mkdir()
    nib.save(nib.Nifti1Image(expected, pet.affine), tmp_path / "pred" / "c1.nii.gz")
    args = ("measure", tmp_path / "pred", "--reference", tmp_path / "ref", "--pet",
            tmp_path / "pet", "--no-progress")  # fmt: skip
    res = _run(*args, "-o", tmp_path / "out")
    assert res.exit_code == 0, res.output
    cases = pd.read_csv(tmp_path / "out" / "cases.csv")
    assert cases[["dsc", "tp", "fp", "fn"]].values.tolist() == [[1.0, 1, 0, 0]]
    tmtv = pd.read_csv(tmp_path / "out" / "measurements.csv").set_index("metric").loc["tmtv"]
    assert tmtv["reference"] == pytest.approx(6 * 4 * 4 * 3 / 1000)
    res = _run(*args, "-o", tmp_path / "liver", "--roi", "LIVER")  # 36 voxels on slice 3
    assert res.exit_code == 0, res.output
    tmtv = pd.read_csv(tmp_path / "liver" / "measurements.csv").set_index("metric").loc["tmtv"]
    assert tmtv["reference"] == pytest.approx(36 * 4 * 4 * 3 / 1000)
    res = _run(*args, "-o", tmp_path / "none", "--roi", "gtv*")
    assert res.exit_code == 2
    assert "c1.dcm: no ROI name matches 'gtv*' (ROIs: 'Lesion 1', 'Liver'); pass --roi" in (
        res.output
    )
