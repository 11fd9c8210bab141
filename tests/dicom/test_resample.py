"""Separable linear resampling against scipy's map_coordinates; the NIfTI writer's two deflates."""

from __future__ import annotations

import sys

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

from agreement.dicom.resample import axis_weights, resample_onto, resample_slices


def reference(array, affine, shape, target, fill):
    """scipy.ndimage.map_coordinates(order=1) at every output voxel centre, ``fill`` farther
    than half a voxel outside the array (ITK's rule)."""
    index = np.indices(shape).reshape(3, -1).astype(float)
    coords = (np.linalg.inv(affine) @ target)[:3] @ np.vstack([index, np.ones(index.shape[1])])
    values = ndimage.map_coordinates(array.astype(float), coords, order=1, mode="nearest")
    upper = np.asarray(array.shape, float)[:, None] - 0.5
    values[np.any((coords < -0.5) | (coords > upper), axis=0)] = fill
    return values.reshape(shape)


def grid(spacing, origin, flip=(1, 1, 1)):
    affine = np.diag([*(np.multiply(spacing, flip)), 1.0])
    affine[:3, 3] = origin
    return affine


@pytest.mark.parametrize(
    ("source", "target", "shape"),
    [
        # finer source (CT onto PET): every axis reduced, the field of view partly outside
        (grid((1.3, 1.1, 0.7), (-3.1, -2.0, -1.0)), grid((2.9, 3.3, 2.1), (-5.0, -4.0, -2.2)), (6, 5, 7)),
        # coarser source (upsampling), one axis flipped, shifted by a fraction of a voxel
        (grid((3.0, 2.5, 4.0), (0.0, 0.0, 0.0)), grid((1.0, 0.9, 1.7), (30.0, 0.4, -3.0), (-1, 1, 1)), (15, 20, 13)),
        # equal grids
        (grid((2.0, 2.0, 3.0), (1.0, 2.0, 3.0)), grid((2.0, 2.0, 3.0), (1.0, 2.0, 3.0)), (9, 8, 11)),
    ],
)  # fmt: skip
def test_separable_matches_map_coordinates(source, target, shape):
    array = np.random.default_rng(3).integers(-1000, 2000, (9, 8, 11)).astype(np.int16)
    array = np.asfortranarray(array)
    ours = resample_slices(lambda k: array[:, :, k], array.shape, source, shape, target,
                           fill=-1024)  # fmt: skip
    expected = reference(array, source, shape, target, -1024)
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-3)  # float32 rounding
    assert ours.flags.f_contiguous and ours.dtype == np.float32
    np.testing.assert_array_equal(resample_onto(array, source, shape, target, order=1, fill=-1024),
                                  ours)  # fmt: skip


def test_per_slice_rescale_and_integer_output():
    # DICOM rescale per source slice, then rounding to int16: the rounded map_coordinates
    # result of the rescaled array
    rng = np.random.default_rng(4)
    stored = np.asfortranarray(rng.integers(0, 3000, (7, 6, 5)).astype(np.int16))
    scales = [(float(s), -1024.0) for s in rng.uniform(0.5, 2.0, 5)]
    source, target = grid((1.0, 1.0, 1.0), (0, 0, 0)), grid((1.7, 1.3, 0.6), (0.2, -0.9, -0.4))
    shape = (5, 6, 9)
    ours = resample_slices(lambda k: stored[:, :, k], stored.shape, source, shape, target,
                           fill=-1024, scales=scales, dtype=np.int16)  # fmt: skip
    hu = stored * np.array([s for s, _ in scales]) - 1024
    expected = reference(hu, source, shape, target, -1024)
    assert ours.dtype == np.int16
    assert np.abs(ours - expected).max() <= 0.5 + 1e-3
    assert (ours == -1024).any() and (ours != -1024).any()


def test_axis_weights_edges_and_single_sample():
    # one sample: everything within half a voxel is that sample
    lower, upper, weight, outside = axis_weights(1, np.array([-0.6, -0.5, 0.0, 0.5, 0.6]))
    assert lower.tolist() == upper.tolist() == [0] * 5
    assert outside.tolist() == [True, False, False, False, True]
    assert not weight.any()


def test_oblique_grids_are_refused_by_the_separable_path():
    oblique = np.eye(4)
    oblique[:2, :2] = [[0.8, -0.6], [0.6, 0.8]]
    with pytest.raises(ValueError, match="parallel axes"):
        resample_slices(lambda k: np.zeros((2, 2)), (2, 2, 2), np.eye(4), (2, 2, 2), oblique,
                        fill=0)  # fmt: skip


@pytest.mark.parametrize("isal", [True, False])
def test_nifti_written_with_either_deflate_reads_back(tmp_path, monkeypatch, isal):
    # ISA-L when installed, zlib without it: nibabel (gzip) reads back the same array and affine
    from agreement.dicom.convert import _save

    if isal:
        pytest.importorskip("isal")
    else:
        monkeypatch.setitem(sys.modules, "isal", None)  # import isal raises ImportError
    array = np.asfortranarray(np.random.default_rng(0).normal(size=(5, 6, 7)).astype(np.float32))
    affine = grid((2.0, 2.0, 3.0), (-10.0, 4.0, 7.5), (-1, -1, 1))
    _save(array, affine, tmp_path / "x.nii.gz")
    image = nib.load(tmp_path / "x.nii.gz")
    np.testing.assert_array_equal(image.get_fdata(dtype=np.float32), array)
    np.testing.assert_array_equal(image.affine, affine)
    assert image.get_data_dtype() == np.float32
