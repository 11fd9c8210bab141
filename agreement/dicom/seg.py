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
    *, order: int, fill: float,
) -> np.ndarray:  # fmt: skip
    """Sample ``array`` (voxel → LPS ``affine_lps``) at the voxel centres of ``shape``/``target_lps``.

    Voxels are boxes, as in ITK: a point within half a voxel of the array's edge takes the edge
    value; farther out it gets ``fill``. ``order`` 1 is linear, 0 nearest neighbour.

    Examples
    --------
    >>> a = np.arange(8.0).reshape(2, 2, 2)
    >>> resample_onto(a, np.eye(4), (2, 2, 3), np.eye(4), order=1, fill=-1)[1, 1].tolist()
    [6.0, 7.0, -1.0]
    """
    to_source = np.linalg.inv(affine_lps) @ target_lps
    out = np.empty(shape, np.float32 if order else array.dtype, order="F")
    ii, jj = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    plane = np.stack([ii.ravel(), jj.ravel(), np.zeros(ii.size)]).astype(float)
    upper = np.asarray(array.shape, float)[:, None] - 1
    for k in range(shape[2]):
        plane[2] = k
        coords = to_source[:3, :3] @ plane + to_source[:3, 3:4]
        inside = np.all((coords >= -0.5) & (coords <= upper + 0.5), axis=0)
        np.clip(coords, 0, upper, out=coords)
        values = ndimage.map_coordinates(array, coords, order=order, mode="nearest",
                                         prefilter=False)  # fmt: skip
        values[~inside] = fill
        out[:, :, k] = values.reshape(shape[:2])
    return out


def seg_mask(
    path: Path, shape: tuple[int, int, int], affine_lps: np.ndarray, pattern: str
) -> tuple[np.ndarray, list[str], list[str]]:
    """Mask (uint8, ``shape``) of the segments of a DICOM SEG whose labels match ``pattern``.

    Returns the mask, the matched segment labels and all segment labels.
    """
    hd = highdicom()
    try:
        seg = hd.seg.segread(path)
        labels = {int(s.SegmentNumber): str(s.SegmentLabel) for s in seg.SegmentSequence}
    except Exception as exc:
        raise InputError(f"{path}: cannot read DICOM SEG ({type(exc).__name__}: {exc})") from None
    chosen = match_rois(labels, pattern)
    mask = np.zeros(shape, np.uint8)
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
                                volume.affine @ swap, shape, affine_lps, order=0, fill=0)  # fmt: skip
        mask[on_grid > 0] = 1
    return mask, sorted(chosen.values()), sorted(labels.values())
