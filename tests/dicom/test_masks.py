"""RTSTRUCT rasterisation against masks worked out by hand; DICOM SEG through highdicom."""

from __future__ import annotations

import numpy as np
import pytest

from agreement.dicom.geometry import read_series, stack
from agreement.dicom.rtstruct import rasterise
from agreement.dicom.seg import seg_mask

# PET grid of the writer: 8×8×6, 4 mm pixels, 3 mm slices, first voxel centre at
# (-14, -14, -100) mm (LPS), axial: voxel (i, j, k) sits at (-14 + 4i, -14 + 4j, -100 + 3k).


def lps(i, j, k):
    return [-14 + 4 * i, -14 + 4 * j, -100 + 3 * k]


@pytest.fixture
def grid(tmp_path, synthetic_dicom):
    s = synthetic_dicom
    study, frame = s.new_study(), s.generate_uid()
    paths = s.image_series(tmp_path / "pet", "PT", np.ones((8, 8, 6), np.int16), study=study,
                           frame=frame, header=s.pet_header())  # fmt: skip
    return s, study, frame, stack(read_series(paths)), paths


def test_rtstruct_mask_matches_hand_drawn(tmp_path, grid):
    s, study, frame, pet, _ = grid
    # Lesion 1 on slice 2: the square with corners at voxel coordinates (1.5, 1.5)-(4.5, 3.5)
    # holds the centres i = 2..4, j = 2..3 (6 voxels).
    square = [lps(1.5, 1.5, 2), lps(4.5, 1.5, 2), lps(4.5, 3.5, 2), lps(1.5, 3.5, 2)]
    # Lesion 2 on slice 4: the triangle (0.5, 0.5), (7, 0.5), (0.5, 7), whose hypotenuse is
    # i + j = 7.5: it holds the centres with i >= 1, j >= 1 and i + j <= 7 (6+5+4+3+2+1 = 21).
    triangle = [lps(0.5, 0.5, 4), lps(7, 0.5, 4), lps(0.5, 7, 4)]
    # a hole: an inner square (2.5, 2.5)-(3.5, 3.5) of the same ROI on slice 4 removes (3, 3)
    hole = [lps(2.5, 2.5, 4), lps(3.5, 2.5, 4), lps(3.5, 3.5, 4), lps(2.5, 3.5, 4)]
    # a contour drawn 1 mm above slice 1 (a thinner CT slice) lands on slice 1
    shifted = [
        np.add(p, [0, 0, 1.0])
        for p in [lps(5.5, 5.5, 1), lps(6.5, 5.5, 1), lps(6.5, 6.5, 1), lps(5.5, 6.5, 1)]
    ]
    path = s.rtstruct(tmp_path / "rs.dcm", study=study, frame=frame,
                      rois={"Lesion 1": [square], "LESION_2": [triangle, hole],
                            "lesion-small": [shifted], "Liver": [square, triangle]})  # fmt: skip
    import pydicom

    mask, matched, names = rasterise(pydicom.dcmread(path), path, pet.array.shape,
                                     pet.affine_lps, "lesion*")  # fmt: skip
    expected = np.zeros((8, 8, 6), np.uint8)
    expected[2:5, 2:4, 2] = 1
    for i in range(8):
        for j in range(8):
            expected[i, j, 4] = i >= 1 and j >= 1 and i + j <= 7
    expected[3, 3, 4] = 0  # the hole
    expected[6, 6, 1] = 1
    assert expected[:, :, 4].sum() == 21 - 1
    np.testing.assert_array_equal(mask, expected)
    assert matched == ["LESION_2", "Lesion 1", "lesion-small"]
    assert "Liver" in names


def test_seg_mask_through_highdicom(tmp_path, grid):
    hd = pytest.importorskip("highdicom")
    import pydicom
    from highdicom.sr.coding import CodedConcept

    s, study, frame, pet, paths = grid
    sources = sorted(s.read(paths), key=lambda ds: float(ds.ImagePositionPatient[2]))
    truth = np.zeros((6, 8, 8), bool)  # [slice, row, column] as highdicom takes it
    truth[2, 1:3, 4:7] = True
    truth[3, 5, 0:2] = True
    tissue = CodedConcept("85756007", "SCT", "Tissue")
    lesion = CodedConcept("108369006", "SCT", "Neoplasm")
    descriptions = [
        hd.seg.SegmentDescription(1, "Lesion", tissue, lesion, hd.seg.SegmentAlgorithmTypeValues.MANUAL),
        hd.seg.SegmentDescription(2, "Spleen", tissue, tissue, hd.seg.SegmentAlgorithmTypeValues.MANUAL),
    ]  # fmt: skip
    pixels = np.stack([truth, np.roll(truth, 1, axis=2)], axis=-1).astype(np.uint8)
    seg = hd.seg.Segmentation(
        source_images=sources, pixel_array=pixels, segmentation_type="BINARY",
        segment_descriptions=descriptions, series_instance_uid=hd.UID(), series_number=3,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="Synthetic",
        manufacturer_model_name="test", software_versions="1", device_serial_number="1",
    )  # fmt: skip
    path = tmp_path / "seg.dcm"
    seg.save_as(path)
    assert pydicom.dcmread(path).Modality == "SEG"
    mask, matched, labels = seg_mask(path, pet.array.shape, pet.affine_lps, "lesion*")
    # ours is [column, row, slice]
    np.testing.assert_array_equal(mask, truth.transpose(2, 1, 0).astype(np.uint8))
    assert matched == ["Lesion"] and labels == ["Lesion", "Spleen"]


def test_rtstruct_references_checked_against_the_pet(tmp_path, grid):
    # drawn on the PET series in its frame: used; another frame or series: refused
    import pydicom

    from agreement.errors import InputError

    s, study, frame, pet, paths = grid
    pet_series = str(pydicom.dcmread(paths[0]).SeriesInstanceUID)
    square = [lps(1.5, 1.5, 2), lps(3.5, 1.5, 2), lps(3.5, 3.5, 2), lps(1.5, 3.5, 2)]
    path = s.rtstruct(tmp_path / "rs.dcm", study=study, frame=frame, rois={"lesion": [square]},
                      referenced_series=pet_series)  # fmt: skip
    ds = pydicom.dcmread(path)
    args = (ds, path, pet.array.shape, pet.affine_lps, "lesion*")
    mask, matched, _ = rasterise(*args, frame=frame, series=[pet_series])
    assert int(mask.sum()) == 4 and matched == ["lesion"]
    with pytest.raises(InputError, match=r"ReferencedFrameOfReferenceUID \(3006,0024\) "):
        rasterise(*args, frame=s.generate_uid(), series=[pet_series])
    with pytest.raises(InputError, match=r"RTReferencedSeriesSequence \(3006,0014\) names series"):
        rasterise(*args, frame=frame, series=[s.generate_uid()])
