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
    """A stacked series: ``array[column, row, slice]``, its LPS affine and the sorted headers;
    ``rescale`` is the (slope, intercept) still to apply to ``array``."""

    array: np.ndarray
    affine_lps: np.ndarray
    headers: tuple[Any, ...]
    files: tuple[Path, ...]
    rescale: tuple[float, float] = (1.0, 0.0)

    @property
    def affine(self) -> np.ndarray:
        """The RAS affine that nibabel writes."""
        return LPS_TO_RAS @ self.affine_lps


def floats(ds: Any, keyword: str) -> list[float] | None:
    """A DS/IS value as floats, parsed from the raw bytes when pydicom has not converted it yet
    (its per-value checks cost more than reading the pixels of a small slice).

    Examples
    --------
    >>> from pydicom import Dataset
    >>> ds = Dataset()
    >>> ds.ImagePositionPatient = [-10, 20.5, "3"]
    >>> floats(ds, "ImagePositionPatient"), floats(ds, "SliceThickness")
    ([-10.0, 20.5, 3.0], None)
    """
    elem = ds.get_item(keyword) if keyword in ds else None
    if elem is None:
        return None
    value = elem.value
    if isinstance(value, bytes | bytearray):
        text = value.decode("ascii", "replace").strip(" \x00")
        return [float(v) for v in text.split("\\")] if text else None
    if value is None or value == "":
        return None
    if isinstance(value, str) or not hasattr(value, "__iter__"):
        return [float(value)]
    return [float(v) for v in value]


def _vector(ds: Any, keyword: str, n: int, path: Path) -> np.ndarray:
    try:
        value = floats(ds, keyword)
    except ValueError:
        value = None
    if value is None or len(value) != n:
        tag = {"ImagePositionPatient": "(0020,0032)", "ImageOrientationPatient": "(0020,0037)",
               "PixelSpacing": "(0028,0030)"}[keyword]  # fmt: skip
        raise InputError(f"{path}: missing or malformed {keyword} {tag}")
    return np.asarray(value)


def read_series(files: Sequence[Path]) -> list[tuple[Path, Any]]:
    """Read the headers of a series (pixel data is read when :func:`stack` needs it).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> bad = pathlib.Path(tempfile.mkdtemp()) / "x.dcm"
    >>> _ = bad.write_text("not DICOM")
    >>> read_series([bad])
    Traceback (most recent call last):
    ...
    agreement.errors.InputError: .../x.dcm: cannot read DICOM (InvalidDicomError: ...)
    """
    from agreement.dicom.discover import DEFER

    dicom = pydicom()
    out = []
    for path in files:
        try:
            out.append((path, dicom.dcmread(path, defer_size=DEFER)))
        except Exception as exc:  # a truncated or unreadable file
            raise InputError(f"{path}: cannot read DICOM ({type(exc).__name__}: {exc})") from None
    return out


# SamplesPerPixel, NumberOfFrames, Rows, Columns, BitsAllocated, BitsStored, PixelRepresentation
_FORMAT_TAGS = (0x00280002, 0x00280008, 0x00280010, 0x00280011, 0x00280100, 0x00280101, 0x00280103)


def _raw(ds: Any, tag: int) -> object:
    """A value as stored (bytes until pydicom converts it): a cheap cache key."""
    elem = ds.get_item(tag)
    value = None if elem is None else elem.value
    return value if value is None or isinstance(value, bytes | int | float | str) else repr(value)


def _format(ds: Any, cache: dict[Any, Any]) -> tuple[np.dtype, int, int] | None:
    """(dtype, rows, columns) of a slice whose pixels can be read as they are, else None.

    Parsed once per distinct set of raw values: the slices of a series share them.
    """
    key = (str(ds.file_meta.TransferSyntaxUID), *(_raw(ds, tag) for tag in _FORMAT_TAGS))
    if key not in cache:
        syntax = ds.file_meta.TransferSyntaxUID
        bits, stored = int(ds.BitsAllocated), int(ds.BitsStored)
        signed = int(ds.PixelRepresentation) == 1
        simple = (syntax.is_little_endian and not syntax.is_compressed and not syntax.is_deflated
                  and bits in (8, 16, 32) and int(ds.get("SamplesPerPixel", 1)) == 1
                  and int(ds.get("NumberOfFrames", 1) or 1) == 1
                  and (stored == bits or not signed))  # fmt: skip
        dtype = np.dtype(f"<{'i' if signed else 'u'}{bits // 8}")
        cache[key] = (dtype, int(ds.Rows), int(ds.Columns)) if simple else None
    return cache[key]


def pixels(ds: Any, path: Path, cache: dict[Any, Any] | None = None) -> np.ndarray:
    """The stored values of one single-frame slice (``[row, column]``, before rescaling).

    Uncompressed little-endian pixel data are read straight from the file when discovery left
    them on disk, else viewed from the bytes; anything else (compressed, big-endian, signed
    values narrower than their storage) goes through pydicom. With a ``cache`` (one per series)
    the pixel format is parsed once and one buffer is reused: the result is overwritten by the
    next read.
    """
    cache = {} if cache is None else cache
    try:
        simple = _format(ds, cache)
        if simple is None:
            return ds.pixel_array
        dtype, rows, cols = simple
        elem = ds.get_item(0x7FE00010, keep_deferred=True)
        if getattr(elem, "value", b"") is None and getattr(elem, "value_tell", None) is not None:
            key = ("buffer", dtype.str, rows * cols)
            if key not in cache:
                cache[key] = np.empty(rows * cols, dtype)
            out = cache[key]
            with open(path, "rb") as file:
                file.seek(elem.value_tell)
                got = file.readinto(memoryview(out).cast("B"))
            if got < out.nbytes:
                raise ValueError(f"{out.nbytes - got} bytes short")
            return out.reshape(rows, cols)
        data = np.frombuffer(ds.PixelData, dtype)
        return data[: rows * cols].reshape(rows, cols)
    except Exception as exc:  # compressed without a decoder, truncated pixel data
        raise InputError(f"{path}: cannot decode PixelData (7FE0,0010) ({exc})") from None


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
        other = _vector(ds, "ImageOrientationPatient", 6, path)
        if not (np.abs(other - orientation) <= 1e-4).all():
            raise InputError(
                f"{path}: ImageOrientationPatient (0020,0037) differs within the series"
            )
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


def _rescale(ds: Any, path: Path) -> tuple[float, float]:
    try:
        slope, intercept = floats(ds, "RescaleSlope"), floats(ds, "RescaleIntercept")
    except ValueError:
        raise InputError(f"{path}: RescaleSlope/Intercept (0028,1053/1052) not numbers") from None
    return (slope[0] if slope else 1.0), (intercept[0] if intercept else 0.0)


class Slices:
    """A series sorted along its normal, pixel data still on disk: ``read(k)`` reads slice k.

    ``shape`` is ``[column, row, slice]``, ``scales`` the (RescaleSlope, RescaleIntercept) of each
    slice. One buffer is reused for every read: use a plane before reading the next.
    """

    def __init__(self, items: Sequence[tuple[Path, Any]]) -> None:
        self.items, self.affine_lps = slice_geometry(items)
        path0, ds0 = self.items[0]
        self.shape = (int(ds0.Columns), int(ds0.Rows), len(self.items))
        self.scales = [_rescale(ds, path) for path, ds in self.items]
        self._cache: dict[Any, Any] = {}  # pixel formats and the reused buffer

    def read(self, k: int) -> np.ndarray:
        """Stored values of slice ``k`` as a ``[column, row]`` view."""
        path, ds = self.items[k]
        plane = pixels(ds, path, self._cache)
        if plane.shape != (self.shape[1], self.shape[0]):
            raise InputError(f"{path}: {plane.shape[0]}x{plane.shape[1]} pixels, the series has "
                             f"{self.shape[1]}x{self.shape[0]}")  # fmt: skip
        return plane.T


def stack(items: Sequence[tuple[Path, Any]], *, rescale: bool = True) -> Volume:
    """Stack a series with each slice's RescaleSlope/Intercept applied (they may differ, GE).

    With ``rescale=False`` and one slope and intercept for the whole series (CT), the stored
    integers are kept and ``Volume.rescale`` holds the (slope, intercept) to apply later, on a
    smaller array; otherwise the array is float32 and ``rescale`` is (1, 0).

    Examples
    --------
    Two 2×3 slices given top first; they are stacked foot to head, each with its own slope:

    >>> from pathlib import Path
    >>> from pydicom import Dataset
    >>> from pydicom.dataset import FileMetaDataset
    >>> from pydicom.uid import ExplicitVRLittleEndian
    >>> def slice_at(z, slope):
    ...     ds = Dataset()
    ...     ds.file_meta = FileMetaDataset()
    ...     ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ...     ds.ImagePositionPatient, ds.ImageOrientationPatient = [0, 0, z], [1, 0, 0, 0, 1, 0]
    ...     ds.PixelSpacing, ds.Rows, ds.Columns = [2, 3], 2, 3
    ...     ds.BitsAllocated, ds.BitsStored, ds.PixelRepresentation = 16, 16, 0
    ...     ds.RescaleSlope, ds.PixelData = slope, np.arange(6, dtype="<u2").tobytes()
    ...     return Path(f"z{z}.dcm"), ds
    >>> vol = stack([slice_at(5, 2), slice_at(0, 1)])
    >>> vol.array.shape, vol.array[2, 1].tolist()
    ((3, 2, 2), [5.0, 10.0])
    >>> vol.affine_lps.diagonal().tolist()
    [3.0, 2.0, 5.0, 1.0]
    """
    series = Slices(items)
    scales = series.scales
    keep = not rescale and len(set(scales)) == 1
    first = series.read(0)
    # [column, row, slice] in Fortran order: each slice is one contiguous block
    array = np.empty(series.shape, first.dtype if keep else np.float32, order="F")
    for k in range(series.shape[2]):
        plane = array[:, :, k]
        plane[...] = first if k == 0 else series.read(k)
        slope, intercept = scales[k]
        if not keep and slope != 1.0:
            plane *= slope
        if not keep and intercept != 0.0:
            plane += intercept
    headers = tuple(ds for _, ds in series.items)
    return Volume(array, series.affine_lps, headers, tuple(p for p, _ in series.items),
                  scales[0] if keep else (1.0, 0.0))  # fmt: skip
