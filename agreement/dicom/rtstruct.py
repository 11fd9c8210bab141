"""Rasterise RTSTRUCT contours onto an image grid (the PET grid).

Each closed planar contour is filled in its plane with :class:`matplotlib.path.Path` (a voxel is
inside when its centre is); contours of one ROI in the same plane combine by even-odd (an inner
contour is a hole). Each slice of the grid takes the contour plane nearest to its centre, within
half a slice, so contours drawn on thinner CT slices land on the PET slice that holds them.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Collection
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


def check_references(
    ds: Any, path: Path, chosen: Collection[int], *, frame: str, series: Collection[str]
) -> None:
    """Refuse an RTSTRUCT drawn in another frame of reference than ``frame`` (the PET's), or on
    a series that is none of ``series`` (the study's).

    The frames are the matched ROIs' ReferencedFrameOfReferenceUID (3006,0024), else those of
    the ReferencedFrameOfReferenceSequence (3006,0010), else the file's FrameOfReferenceUID; the
    series are the RTReferencedSeriesSequence's (3006,0014). What the file does not say is not
    checked.

    Examples
    --------
    >>> from pydicom import Dataset
    >>> roi, ds = Dataset(), Dataset()
    >>> roi.ROINumber, roi.ReferencedFrameOfReferenceUID = 1, "1.2.3"
    >>> ds.StructureSetROISequence = [roi]
    >>> check_references(ds, Path("rs.dcm"), [1], frame="1.2.3", series=[])
    >>> check_references(ds, Path("rs.dcm"), [1], frame="1.2.4", series=[])
    Traceback (most recent call last):
    ...
    agreement.errors.InputError: rs.dcm: ReferencedFrameOfReferenceUID (3006,0024) 1.2.3 is not the PET's FrameOfReferenceUID 1.2.4 (contours of another frame of reference)
    """
    listed = ds.get("ReferencedFrameOfReferenceSequence") or []
    own = [str(r.ReferencedFrameOfReferenceUID) for r in ds.get("StructureSetROISequence", [])
           if int(r.get("ROINumber", -1)) in chosen and r.get("ReferencedFrameOfReferenceUID")]  # fmt: skip
    if own:
        frames, tag = own, "ReferencedFrameOfReferenceUID (3006,0024)"
    elif any(item.get("FrameOfReferenceUID") for item in listed):
        frames = [
            str(item.FrameOfReferenceUID) for item in listed if item.get("FrameOfReferenceUID")
        ]
        tag = "ReferencedFrameOfReferenceSequence (3006,0010)"
    else:
        frames = [str(ds.FrameOfReferenceUID)] if ds.get("FrameOfReferenceUID") else []
        tag = "FrameOfReferenceUID (0020,0052)"
    # each matched ROI must be in the PET's frame; a listed frame only needs to include it
    wrong = [f for f in frames if f != frame] if own or frame not in frames else []
    if frame and wrong:
        raise InputError(f"{path}: {tag} {wrong[0]} is not the PET's FrameOfReferenceUID {frame} "
                         "(contours of another frame of reference)")  # fmt: skip
    referenced = [str(s.SeriesInstanceUID) for item in listed
                  for study in item.get("RTReferencedStudySequence", [])
                  for s in study.get("RTReferencedSeriesSequence", [])
                  if s.get("SeriesInstanceUID")]  # fmt: skip
    if series and referenced and not set(referenced) & set(series):
        raise InputError(f"{path}: RTReferencedSeriesSequence (3006,0014) names series "
                         f"{referenced[0]}, which is not in this study (contours drawn on "
                         "another series)")  # fmt: skip


def rasterise(
    ds: Any, path: Path, shape: tuple[int, int, int], affine_lps: np.ndarray, pattern: str,
    *, frame: str = "", series: Collection[str] = (),
) -> tuple[np.ndarray, list[str], list[str]]:  # fmt: skip
    """Mask (uint8, ``shape``) of the ROIs of an RTSTRUCT whose names match ``pattern``.

    Returns the mask, the matched ROI names and all ROI names of the structure set. With
    ``frame`` (the grid's FrameOfReferenceUID) and ``series`` (the study's series UIDs), an
    RTSTRUCT that references others is refused (:func:`check_references`).

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
    check_references(ds, path, chosen, frame=frame, series=series)
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
