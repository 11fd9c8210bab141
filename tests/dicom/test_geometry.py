"""Geometry and pixel values of stacked series against SimpleITK's ImageSeriesReader (GDCM),
an independent DICOM reader, after shuffling the files and reversing the slice order."""

from __future__ import annotations

import numpy as np
import pytest

from agreement.dicom.geometry import read_series, stack

sitk = pytest.importorskip("SimpleITK")


def sitk_volume(paths):
    reader = sitk.ImageSeriesReader()
    folder = str(paths[0].parent)
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(folder))
    reader.SetOutputPixelType(sitk.sitkFloat64)  # per-file rescale in float, no truncation
    image = reader.Execute()
    affine = np.eye(4)
    direction = np.asarray(image.GetDirection()).reshape(3, 3)
    affine[:3, :3] = direction * np.asarray(image.GetSpacing())
    affine[:3, 3] = image.GetOrigin()
    return sitk.GetArrayFromImage(image).transpose(2, 1, 0), affine  # [x, y, z] like ours


# an oblique orientation (rotated 20° about z, then 10° about x) and a plain axial one
def _oblique():
    a, b = np.radians(20), np.radians(10)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    r = rx @ rz
    return tuple(np.concatenate([r[:, 0], r[:, 1]]))


@pytest.mark.parametrize("orientation", [(1, 0, 0, 0, 1, 0), _oblique(), (1, 0, 0, 0, 0, -1)])
@pytest.mark.parametrize("reverse", [False, True])
def test_matches_simpleitk(tmp_path, synthetic_dicom, orientation, reverse):
    s = synthetic_dicom
    rng = np.random.default_rng(3)
    stored = rng.integers(0, 3000, (8, 10, 6)).astype(np.int16)  # rows ≠ columns on purpose
    thickness = -3.0 if reverse else 3.0  # reversed: positions run against the normal
    slopes = rng.uniform(0.5, 3.0, 6)  # GE: one RescaleSlope per slice
    paths = s.image_series(tmp_path / "pet", "PT", stored, study=s.new_study(),
                           frame=s.generate_uid(), spacing=(4.0, 2.5), thickness=thickness,
                           orientation=orientation, slopes=slopes, rng=rng,
                           reverse_instance=reverse, header=s.pet_header())  # fmt: skip
    vol = stack(read_series(paths))
    expected, affine = sitk_volume(paths)
    np.testing.assert_allclose(vol.affine_lps, affine, atol=1e-4)
    np.testing.assert_allclose(vol.array, expected, rtol=1e-6)
    # and the values are the writer's stored × slope, per slice, in the writer's order
    written = stored.transpose(1, 0, 2) * slopes[None, None, :].astype(np.float32)
    ours = vol.array[:, :, ::-1] if reverse else vol.array
    np.testing.assert_allclose(ours, written, rtol=1e-6)


def test_ras_affine_negates_x_and_y(tmp_path, synthetic_dicom):
    s = synthetic_dicom
    paths = s.image_series(tmp_path / "ct", "CT", np.zeros((4, 4, 3), np.int16),
                           study=s.new_study(), frame=s.generate_uid(),
                           origin=(-10.0, 20.0, 30.0))  # fmt: skip
    vol = stack(read_series(paths))
    np.testing.assert_allclose(vol.affine[:3, 3], [10.0, -20.0, 30.0])
    np.testing.assert_allclose(np.diag(vol.affine)[:3], [-4.0, -4.0, 3.0])


def test_missing_slice_is_refused(tmp_path, synthetic_dicom):
    from agreement.errors import InputError

    s = synthetic_dicom
    paths = s.image_series(tmp_path / "ct", "CT", np.zeros((4, 4, 5), np.int16),
                           study=s.new_study(), frame=s.generate_uid())  # fmt: skip
    items = [it for it in read_series(paths) if float(it[1].ImagePositionPatient[2]) != -94.0]
    with pytest.raises(InputError, match="slice spacing is not uniform"):
        stack(items)
