"""DICOM SEG, read with highdicom: one reader for ``agree convert`` (a mask on the PET grid) and
``agree measure`` (:func:`agreement.measures.segfiles.read_dicom_seg`, a label map)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np

from agreement.dicom._require import highdicom
from agreement.dicom.resample import resample_onto
from agreement.dicom.rtstruct import match_rois
from agreement.errors import InputError

# highdicom's volume is [slice, row, column]; this swaps it to our [column, row, slice]
_SWAP = np.eye(4)[[2, 1, 0, 3]]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def open_seg(path: Path) -> tuple[Any, dict[int, str]]:
    """The highdicom Segmentation of ``path`` and its segments (number → label).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> bad = pathlib.Path(tempfile.mkdtemp()) / "seg.dcm"
    >>> _ = bad.write_text("not DICOM")
    >>> open_seg(bad)
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
    return seg, labels


def seg_volume(
    seg: Any, path: Path, segments: Collection[int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The frames of an opened SEG as a volume ``[column, row, slice]`` and its LPS affine.

    Without ``segments``: a label map (voxel = segment number; highdicom refuses overlapping
    segments). With ``segments``: 0/1, the union of those segments (they may overlap).
    """
    try:
        if segments is None:
            volume = seg.get_volume(combine_segments=True, relabel=False)
        else:
            volume = seg.get_volume(segment_numbers=sorted(segments), combine_segments=False)
    except Exception as exc:
        raise InputError(
            f"{path}: DICOM SEG is not a regular volume ({_first_line(exc)})"
        ) from None
    array = np.asarray(volume.array)
    if segments is not None:
        array = (array.any(axis=-1) if array.ndim == 4 else array > 0).astype(np.uint8)
    return np.transpose(array, (2, 1, 0)), np.asarray(volume.affine, dtype=float) @ _SWAP


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
    seg, labels = open_seg(path)
    chosen = match_rois(labels, pattern)
    mask = np.zeros(shape, np.uint8, order="F")
    if chosen:
        array, affine = seg_volume(seg, path, chosen)
        on_grid = resample_onto(array, affine, shape, affine_lps, order=0, fill=0, dtype=np.uint8)
        mask[on_grid > 0] = 1
    return mask, sorted(chosen.values()), sorted(labels.values())
