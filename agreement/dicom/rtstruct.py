"""Rasterise RTSTRUCT contours onto an image grid (the PET grid).

Each closed planar contour is filled in its plane with :class:`matplotlib.path.Path` (a voxel is
inside when its centre is); contours of one ROI in the same plane combine by even-odd (an inner
contour is a hole). Each slice of the grid takes the contour plane nearest to its centre, within
half a slice, so contours drawn on thinner CT slices land on the PET slice that holds them.
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.path import Path as Polygon

from agreement.errors import InputError


def roi_names(ds: Any) -> dict[int, str]:
    """ROINumber → ROIName of a StructureSetROISequence (3006,0020)."""
    return {int(r.ROINumber): str(r.get("ROIName", "")) for r in ds.get("StructureSetROISequence", [])}


def match_rois(names: dict[int, str], pattern: str) -> dict[int, str]:
    """The ROIs whose name matches the shell ``pattern``, case-insensitive.

    Examples
    --------
    >>> match_rois({1: "Lesion 1", 2: "liver", 3: "LESION_2"}, "lesion*")
    {1: 'Lesion 1', 3: 'LESION_2'}
    """
    pattern = pattern.lower()
    return {n: name for n, name in names.items() if fnmatch.fnmatchcase(name.lower(), pattern)}


def fill_plane(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask ``[i, j]`` of the voxel centres inside the polygon ``points`` (N×2, index units).

    Examples
    --------
    >>> square = np.array([[0.5, 0.5], [2.5, 0.5], [2.5, 2.5], [0.5, 2.5]])
    >>> fill_plane(square, (4, 4)).astype(int)
    array([[0, 0, 0, 0],
           [0, 1, 1, 0],
           [0, 1, 1, 0],
           [0, 0, 0, 0]])
    """
    mask = np.zeros(shape, bool)
    lo = np.maximum(np.floor(points.min(axis=0)).astype(int), 0)
    hi = np.minimum(np.ceil(points.max(axis=0)).astype(int) + 1, shape)
    if np.any(hi <= lo):
        return mask
    ii, jj = np.meshgrid(np.arange(lo[0], hi[0]), np.arange(lo[1], hi[1]), indexing="ij")
    inside = Polygon(points).contains_points(np.column_stack([ii.ravel(), jj.ravel()]))
    mask[lo[0]:hi[0], lo[1]:hi[1]] = inside.reshape(ii.shape)
    return mask


def rasterise(
    ds: Any, path: Path, shape: tuple[int, int, int], affine_lps: np.ndarray, pattern: str
) -> tuple[np.ndarray, list[str], list[str]]:
    """Mask (uint8, ``shape``) of the ROIs of an RTSTRUCT whose names match ``pattern``.

    Returns the mask, the matched ROI names and all ROI names of the structure set.
    """
    names = roi_names(ds)
    chosen = match_rois(names, pattern)
    mask = np.zeros(shape, np.uint8)
    to_index = np.linalg.inv(affine_lps)
    for roi in ds.get("ROIContourSequence", []):
        number = int(roi.get("ReferencedROINumber", -1))
        if number not in chosen:
            continue
        planes: dict[float, np.ndarray] = defaultdict(lambda: np.zeros(shape[:2], bool))
        for contour in roi.get("ContourSequence", []):
            if str(contour.get("ContourGeometricType", "CLOSED_PLANAR")).upper() != "CLOSED_PLANAR":
                continue  # points and open lines enclose no volume
            data = np.asarray(contour.get("ContourData", []), float)
            if data.size < 9 or data.size % 3:
                raise InputError(f"{path}: ROI {chosen[number]!r}: ContourData (3006,0050) "
                                 f"has {data.size} values, need 3 per point and 3 points")  # fmt: skip
            xyz = data.reshape(-1, 3)
            ijk = (to_index[:3, :3] @ xyz.T).T + to_index[:3, 3]
            if np.ptp(ijk[:, 2]) > 0.5:
                raise InputError(f"{path}: ROI {chosen[number]!r}: a contour is not parallel to "
                                 "the PET slices")  # fmt: skip
            k = round(float(np.mean(ijk[:, 2])), 3)
            planes[k] ^= fill_plane(ijk[:, :2], shape[:2])
        if not planes:
            continue
        ks = np.array(sorted(planes))
        for z in range(shape[2]):
            nearest = ks[np.argmin(np.abs(ks - z))]
            if abs(nearest - z) <= 0.5:
                mask[:, :, z] |= planes[float(nearest)]
    return mask, sorted(chosen.values()), sorted(names.values())
