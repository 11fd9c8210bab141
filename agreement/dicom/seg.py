"""DICOM SEG (read with highdicom) onto an image grid, nearest neighbour."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agreement.dicom._require import highdicom
from agreement.dicom.resample import resample_onto
from agreement.dicom.rtstruct import match_rois
from agreement.errors import InputError


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
