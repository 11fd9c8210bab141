"""Rasterise RTSTRUCT contours onto an image grid (the PET grid).

Each closed planar contour is filled in its plane with :class:`matplotlib.path.Path` (a voxel is
inside when its centre is); contours of one ROI in the same plane combine by even-odd (an inner
contour is a hole). Each slice of the grid takes the contour plane nearest to its centre, within
half a slice, so contours drawn on thinner CT slices land on the PET slice that holds them.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.path import Path as Polygon

from agreement.errors import InputError


def roi_names(ds: Any) -> dict[int, str]:
    """ROINumber → ROIName of a StructureSetROISequence (3006,0020).

    Examples
    --------
    >>> from pydicom import Dataset
    >>> roi = Dataset()
    >>> roi.ROINumber, roi.ROIName = 3, "Lesion 1"
    >>> ds = Dataset()
    >>> ds.StructureSetROISequence = [roi]
    >>> roi_names(ds)
    {3: 'Lesion 1'}
    """
    return {
        int(r.ROINumber): str(r.get("ROIName", "")) for r in ds.get("StructureSetROISequence", [])
    }


def match_rois(names: dict[int, str], pattern: str) -> dict[int, str]:
    """The ROIs whose name matches the shell ``pattern``, case-insensitive.

    Examples
    --------
    >>> match_rois({1: "Lesion 1", 2: "liver", 3: "LESION_2"}, "lesion*")
    {1: 'Lesion 1', 3: 'LESION_2'}
    """
    pattern = pattern.lower()
    return {n: name for n, name in names.items() if fnmatch.fnmatchcase(name.lower(), pattern)}


def fill_plane(points: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
    """Voxel centres inside the polygon ``points`` (N×2, index units) on a ``shape`` plane.

    Returns the boolean mask of the polygon's bounding box and the box's first index.

    Examples
    --------
    >>> square = np.array([[0.5, 0.5], [2.5, 0.5], [2.5, 2.5], [0.5, 2.5]])
    >>> box, corner = fill_plane(square, (4, 4))
    >>> box.astype(int), corner
    (array([[1, 1],
           [1, 1]]), (1, 1))
    """
    lo = np.maximum(np.ceil(points.min(axis=0)).astype(int), 0)
    hi = np.minimum(np.floor(points.max(axis=0)).astype(int) + 1, shape)
    if np.any(hi <= lo):
        return np.zeros((0, 0), bool), (0, 0)
    ii, jj = np.meshgrid(np.arange(lo[0], hi[0]), np.arange(lo[1], hi[1]), indexing="ij")
    inside = Polygon(points).contains_points(np.column_stack([ii.ravel(), jj.ravel()]))
    return inside.reshape(ii.shape), (int(lo[0]), int(lo[1]))


def _points(contour: Any) -> np.ndarray:
    """ContourData (3006,0050) as floats, parsed by numpy (pydicom's per-value DS checks are
    slow on contours of thousands of points)."""
    raw = contour.get_item("ContourData") if "ContourData" in contour else None
    value = getattr(raw, "value", None)
    if isinstance(value, bytes | bytearray):
        text = value.decode("ascii", "replace").strip(" \x00")
        return np.array(text.split("\\"), float) if text else np.zeros(0)
    return np.asarray(contour.get("ContourData", []), float)


def rasterise(
    ds: Any, path: Path, shape: tuple[int, int, int], affine_lps: np.ndarray, pattern: str
) -> tuple[np.ndarray, list[str], list[str]]:
    """Mask (uint8, ``shape``) of the ROIs of an RTSTRUCT whose names match ``pattern``.

    Returns the mask, the matched ROI names and all ROI names of the structure set.

    Examples
    --------
    A square contour around voxels 1..2 × 1..2 of slice 0 on a 1 mm grid:

    >>> from pydicom import Dataset
    >>> roi, contour, item, ds = Dataset(), Dataset(), Dataset(), Dataset()
    >>> roi.ROINumber, roi.ROIName = 1, "lesion"
    >>> contour.ContourGeometricType = "CLOSED_PLANAR"
    >>> contour.ContourData = [0.5, 0.5, 0, 2.5, 0.5, 0, 2.5, 2.5, 0, 0.5, 2.5, 0]
    >>> item.ReferencedROINumber, item.ContourSequence = 1, [contour]
    >>> ds.StructureSetROISequence, ds.ROIContourSequence = [roi], [item]
    >>> mask, matched, _ = rasterise(ds, Path("rs.dcm"), (4, 4, 1), np.eye(4), "lesion*")
    >>> int(mask.sum()), matched
    (4, ['lesion'])
    """
    names = roi_names(ds)
    chosen = match_rois(names, pattern)
    mask = np.zeros(shape, np.uint8, order="F")
    to_index = np.linalg.inv(affine_lps)
    for roi in ds.get("ROIContourSequence", []):
        number = int(roi.get("ReferencedROINumber", -1))
        if number not in chosen:
            continue
        planes: dict[float, np.ndarray] = {}  # even-odd fill of each contour plane
        for contour in roi.get("ContourSequence", []):
            if str(contour.get("ContourGeometricType", "CLOSED_PLANAR")).upper() != "CLOSED_PLANAR":
                continue  # points and open lines enclose no volume
            try:
                data = _points(contour)
            except ValueError:
                data = np.zeros(1)  # reported just below
            if data.size < 9 or data.size % 3:
                raise InputError(f"{path}: ROI {chosen[number]!r}: ContourData (3006,0050) "
                                 f"has {data.size} values, need 3 per point and 3 points")  # fmt: skip
            xyz = data.reshape(-1, 3)
            ijk = (to_index[:3, :3] @ xyz.T).T + to_index[:3, 3]
            if np.ptp(ijk[:, 2]) > 0.5:
                raise InputError(f"{path}: ROI {chosen[number]!r}: a contour is not parallel to "
                                 "the PET slices")  # fmt: skip
            k = round(float(np.mean(ijk[:, 2])), 3)
            if not -0.5 <= k <= shape[2] - 0.5:
                continue  # outside the PET field of view
            box, (i0, j0) = fill_plane(ijk[:, :2], shape[:2])
            plane = planes.setdefault(k, np.zeros(shape[:2], bool))
            plane[i0 : i0 + box.shape[0], j0 : j0 + box.shape[1]] ^= box
        # each slice takes the plane nearest its centre (within half a slice)
        nearest: dict[int, float] = {}
        for k in planes:
            for z in {int(np.floor(k + 0.5)), int(np.ceil(k - 0.5))}:
                if 0 <= z < shape[2] and (z not in nearest or abs(k - z) < abs(nearest[z] - z)):
                    nearest[z] = k
        for z, k in nearest.items():
            mask[:, :, z] |= planes[k]
    return mask, sorted(chosen.values()), sorted(names.values())
