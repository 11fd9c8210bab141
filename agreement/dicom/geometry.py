"""Stack a DICOM image series into a volume with its affine, from the headers alone.

Slices are ordered by their position along the slice normal (the cross product of the two
ImageOrientationPatient direction cosines), never by file name or InstanceNumber. The array is
indexed ``[column, row, slice]`` like dcm2niix and SimpleITK, and the affine maps those indices
to RAS millimetres (nibabel's convention; DICOM's LPS with the first two axes negated).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agreement.dicom._require import pydicom
from agreement.errors import InputError

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


@dataclass(frozen=True)
class Volume:
    """A stacked series: ``array[column, row, slice]``, its LPS affine and the sorted headers."""

    array: np.ndarray
    affine_lps: np.ndarray
    headers: tuple[Any, ...]
    files: tuple[Path, ...]

    @property
    def affine(self) -> np.ndarray:
        """The RAS affine that nibabel writes."""
        return LPS_TO_RAS @ self.affine_lps


def _vector(ds: Any, keyword: str, n: int, path: Path) -> np.ndarray:
    value = ds.get(keyword)
    if value is None or len(value) != n:
        tag = {"ImagePositionPatient": "(0020,0032)", "ImageOrientationPatient": "(0020,0037)",
               "PixelSpacing": "(0028,0030)"}[keyword]  # fmt: skip
        raise InputError(f"{path}: missing or malformed {keyword} {tag}")
    return np.asarray([float(v) for v in value])


def read_series(files: Sequence[Path]) -> list[tuple[Path, Any]]:
    """Read every file of a series completely (headers and pixel data)."""
    dicom = pydicom()
    out = []
    for path in files:
        try:
            out.append((path, dicom.dcmread(path)))
        except Exception as exc:  # a truncated or unreadable file
            raise InputError(f"{path}: cannot read DICOM ({type(exc).__name__}: {exc})") from None
    return out


def slice_geometry(items: Sequence[tuple[Path, Any]]) -> tuple[list[tuple[Path, Any]], np.ndarray]:
    """Sort slices along the normal; return them with the LPS affine of ``[col, row, slice]``."""
    if not items:
        raise InputError("empty series")
    path0, ds0 = items[0]
    orientation = _vector(ds0, "ImageOrientationPatient", 6, path0)
    row_dir, col_dir = orientation[:3], orientation[3:]
    normal = np.cross(row_dir, col_dir)
    positions = []
    for path, ds in items:
        if not np.allclose(_vector(ds, "ImageOrientationPatient", 6, path), orientation, atol=1e-4):
            raise InputError(f"{path}: ImageOrientationPatient (0020,0037) differs within the series")
        positions.append(_vector(ds, "ImagePositionPatient", 3, path))
    distance = np.array([p @ normal for p in positions])
    order = np.argsort(distance, kind="stable")
    distance = distance[order]
    steps = np.diff(distance)
    if len(steps) and np.min(steps) < 1e-3:
        k = int(order[int(np.argmin(steps)) + 1])
        raise InputError(f"{items[k][0]}: two slices at the same ImagePositionPatient (0020,0032)")
    if len(steps) and np.ptp(steps) > max(1e-2, 0.01 * np.median(steps)):
        raise InputError(f"{path0}: slice spacing is not uniform ({steps.min():.3g} to "
                         f"{steps.max():.3g} mm along the normal); missing slices?")  # fmt: skip
    spacing = _vector(ds0, "PixelSpacing", 2, path0)  # [between rows, between columns]
    first = positions[order[0]]
    if len(items) > 1:
        step = (positions[order[-1]] - first) / (len(items) - 1)
    else:
        step = normal * float(ds0.get("SliceThickness") or 1.0)
    affine = np.eye(4)
    affine[:3, 0] = row_dir * spacing[1]  # column index runs along the row direction
    affine[:3, 1] = col_dir * spacing[0]
    affine[:3, 2] = step
    affine[:3, 3] = first
    return [items[i] for i in order], affine


def stack(items: Sequence[tuple[Path, Any]], *, dtype: type = np.float32) -> Volume:
    """Stack a series with each slice's RescaleSlope/Intercept applied (they may differ, GE).

    Examples
    --------
    >>> from agreement.dicom.geometry import LPS_TO_RAS
    >>> LPS_TO_RAS[:3, :3].diagonal().tolist()
    [-1.0, -1.0, 1.0]
    """
    ordered, affine = slice_geometry(items)
    path0, ds0 = ordered[0]
    rows, cols = int(ds0.Rows), int(ds0.Columns)
    array = np.empty((cols, rows, len(ordered)), dtype)
    for k, (path, ds) in enumerate(ordered):
        if (int(ds.Rows), int(ds.Columns)) != (rows, cols):
            raise InputError(f"{path}: {ds.Rows}x{ds.Columns} pixels, the series has {rows}x{cols}")
        try:
            pixels = ds.pixel_array
        except Exception as exc:  # compressed without a decoder, truncated pixel data
            raise InputError(f"{path}: cannot decode PixelData (7FE0,0010) ({exc})") from None
        slope = float(ds.get("RescaleSlope", 1.0) or 1.0)
        intercept = float(ds.get("RescaleIntercept", 0.0) or 0.0)
        plane = array[:, :, k]
        plane[...] = pixels.T
        if slope != 1.0:
            plane *= slope
        if intercept != 0.0:
            plane += intercept
    return Volume(array, affine, tuple(ds for _, ds in ordered), tuple(p for p, _ in ordered))
