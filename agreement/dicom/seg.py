"""DICOM SEG (read with highdicom) onto an image grid, nearest neighbour."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import ndimage

from agreement.dicom._require import highdicom
from agreement.dicom.rtstruct import match_rois
from agreement.errors import InputError


def resample_onto(
    array: np.ndarray, affine_lps: np.ndarray, shape: tuple[int, ...], target_lps: np.ndarray,
    *, order: int, fill: float, dtype: type = np.float32,
) -> np.ndarray:  # fmt: skip
    """Sample ``array`` (voxel → LPS ``affine_lps``) at the voxel centres of ``shape``/``target_lps``.

    Voxels are boxes, as in ITK: a point within half a voxel of the array's edge takes the edge
    value; farther out it gets ``fill``. ``order`` 1 is linear, 0 nearest neighbour. Returns a
    Fortran-ordered array (what NIfTI stores).

    Examples
    --------
    >>> a = np.arange(8.0).reshape(2, 2, 2)
    >>> resample_onto(a, np.eye(4), (2, 2, 3), np.eye(4), order=1, fill=-1)[1, 1].tolist()
    [6.0, 7.0, -1.0]
    """
    matrix = np.linalg.inv(affine_lps) @ target_lps
    # scipy walks the output in C order: work on the reversed axes (slice, row, column), so
    # that consecutive outputs read neighbouring inputs of a Fortran-ordered array
    flip = np.eye(4)[[2, 1, 0, 3]]
    reversed_matrix = flip @ matrix @ flip
    linear = reversed_matrix[:3, :3]
    if np.allclose(linear, np.diag(np.diag(linear)), atol=1e-9):
        linear = np.diag(linear)  # axis-aligned grids: scipy's faster zoom-and-shift path
    out = ndimage.affine_transform(array.T, linear, offset=reversed_matrix[:3, 3],
                                   output_shape=tuple(shape[::-1]), order=order, mode="nearest",
                                   output=dtype, prefilter=False).T  # fmt: skip
    # outside: farther than half a voxel from the array, computed one output slice at a time
    ii, jj = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    plane = matrix[:3, :2] @ np.stack([ii.ravel(), jj.ravel()]).astype(float) + matrix[:3, 3:4]
    upper = np.asarray(array.shape, float)[:, None] - 0.5
    for k in range(shape[2]):
        coords = plane + matrix[:3, 2:3] * k
        outside = np.any((coords < -0.5) | (coords > upper), axis=0)
        if outside.any():
            out[:, :, k][outside.reshape(shape[:2])] = fill
    return out


def seg_mask(
    path: Path, shape: tuple[int, int, int], affine_lps: np.ndarray, pattern: str
) -> tuple[np.ndarray, list[str], list[str]]:
    """Mask (uint8, ``shape``) of the segments of a DICOM SEG whose labels match ``pattern``.

    Returns the mask, the matched segment labels and all segment labels.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> bad = pathlib.Path(tempfile.mkdtemp()) / "seg.dcm"
    >>> _ = bad.write_text("not DICOM")
    >>> seg_mask(bad, (2, 2, 2), np.eye(4), "lesion*")
    Traceback (most recent call last):
    ...
    agreement.errors.InputError: .../seg.dcm: cannot read DICOM SEG (...)
    """
    hd = highdicom()
    try:
        seg = hd.seg.segread(path)
        labels = {int(s.SegmentNumber): str(s.SegmentLabel) for s in seg.SegmentSequence}
    except Exception as exc:
        raise InputError(f"{path}: cannot read DICOM SEG ({type(exc).__name__}: {exc})") from None
    chosen = match_rois(labels, pattern)
    mask = np.zeros(shape, np.uint8, order="F")
    if chosen:
        try:
            volume = seg.get_volume(segment_numbers=sorted(chosen), combine_segments=False)
        except Exception as exc:
            raise InputError(f"{path}: DICOM SEG is not a regular volume ({exc})") from None
        array = np.asarray(volume.array)
        if array.ndim == 4:
            array = array.any(axis=-1)
        # highdicom's volume is [slice, row, column]; put it in our [column, row, slice] order
        swap = np.zeros((4, 4))
        swap[0, 2] = swap[1, 1] = swap[2, 0] = swap[3, 3] = 1
        on_grid = resample_onto(np.transpose(array > 0, (2, 1, 0)).astype(np.uint8),
                                volume.affine @ swap, shape, affine_lps, order=0, fill=0,
                                dtype=np.uint8)  # fmt: skip
        mask[on_grid > 0] = 1
    return mask, sorted(chosen.values()), sorted(labels.values())
