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


@pytest.mark.parametrize("orientation", [(1, 0, 0, 0, 1, 0), _oblique()])
def test_resampling_matches_simpleitk(tmp_path, synthetic_dicom, orientation):
    # CT (axial or oblique) onto an axial PET grid: SimpleITK's linear resampling, -1024 outside
    from agreement.dicom.seg import resample_onto

    s = synthetic_dicom
    rng = np.random.default_rng(5)
    study, frame = s.new_study(), s.generate_uid()
    pet = s.image_series(tmp_path / "pet", "PT", np.ones((8, 8, 6), np.int16), study=study,
                         frame=frame, header=s.pet_header())  # fmt: skip
    ct = s.image_series(tmp_path / "ct", "CT", rng.integers(0, 2000, (12, 13, 9)).astype(np.int16),
                        study=study, frame=frame, spacing=(2.1, 2.3), thickness=1.7,
                        orientation=orientation, origin=(-12.0, -13.0, -99.0), intercept=-1024,
                        rng=rng)  # fmt: skip
    pet_vol, ct_vol = stack(read_series(pet)), stack(read_series(ct))
    ours = resample_onto(ct_vol.array, ct_vol.affine_lps, pet_vol.array.shape, pet_vol.affine_lps,
                         order=1, fill=-1024)  # fmt: skip
    ref = sitk.Resample(sitk_image(ct), sitk_image(pet), sitk.Transform(), sitk.sitkLinear, -1024.0)
    expected = sitk.GetArrayFromImage(ref).transpose(2, 1, 0)
    # direction cosines are written with 6 decimals; ITK re-orthonormalises them, we do not:
    # on the oblique grid that moves sample points by ~1e-6 mm, values by < 0.01 HU
    np.testing.assert_allclose(ours, expected, atol=1e-2)
    assert (ours == -1024).any() and (ours > -1024).any()
    # what agree convert writes: read slice by slice (axial) or stacked (oblique), int16 HU
    from agreement.dicom.convert import _ct_on_pet

    written = _ct_on_pet(read_series(ct), pet_vol)
    assert written.dtype == np.int16
    assert np.abs(written - expected).max() <= 0.5 + 1e-2


def sitk_image(paths):
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(paths[0].parent)))
    reader.SetOutputPixelType(sitk.sitkFloat64)
    return reader.Execute()


def test_frames_left_on_disk_are_read_from_the_file(tmp_path, synthetic_dicom):
    # frames over discovery's 4 KiB defer size stay on disk and are read into a reused buffer
    # (the path of every real CT): the same values as SimpleITK's reader, slice by slice
    from agreement.dicom.discover import DEFER, find_studies
    from agreement.dicom.geometry import Slices
    from agreement.errors import InputError

    s = synthetic_dicom
    rng = np.random.default_rng(8)
    stored = rng.integers(-1000, 3000, (40, 72, 5)).astype(np.int16)  # 5760 bytes per frame
    assert stored[:, :, 0].nbytes > DEFER
    study = s.new_study()
    paths = s.image_series(tmp_path / "ct", "CT", stored, study=study, frame=s.generate_uid(),
                           intercept=-1024, rng=rng)  # fmt: skip
    series = find_studies(tmp_path)[0][0].of("CT")[0]
    assert series.headers[0].get_item("PixelData", keep_deferred=True).value is None
    expected, _ = sitk_volume(paths)
    np.testing.assert_array_equal(stack(series.items()).array, expected)
    slices = Slices(series.items())
    first = slices.read(0).copy()
    np.testing.assert_array_equal(slices.read(1), stored[:, :, 1].T)
    np.testing.assert_array_equal(first, stored[:, :, 0].T)
    # a frame cut short on disk: one line naming the file and the tag
    k = next(i for i, (p, _) in enumerate(slices.items) if p == paths[0])
    paths[0].write_bytes(paths[0].read_bytes()[:-100])
    with pytest.raises(
        InputError, match=r"cannot decode PixelData \(7FE0,0010\) \(100 bytes short"
    ):
        slices.read(k)
