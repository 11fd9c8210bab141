"""Voxel overlap: DSC, false-positive and false-negative volume (the autoPET definitions)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from agreement.measures._keywords import masks_by_keyword
from agreement.measures.lesions import LabelledMask, analyse, as_mask, check_pair
from agreement.measures.options import DEFAULT


def intersections(*, predicted: LabelledMask, reference: LabelledMask) -> np.ndarray:
    """Shared voxels of every (predicted lesion, reference lesion) pair.

    Returns
    -------
    ndarray, shape (n_predicted, n_reference)
        ``out[i, j]`` = voxels in predicted lesion ``i + 1`` and reference lesion ``j + 1``.
    """
    n_pred, n_ref = predicted.n, reference.n
    if n_pred == 0 or n_ref == 0:
        return np.zeros((n_pred, n_ref), dtype=np.int64)
    pl = predicted.label_at(reference.points)
    hit = pl > 0
    code = (pl[hit] - 1) * n_ref + (reference.labels[hit] - 1)
    return np.bincount(code, minlength=n_pred * n_ref).reshape(n_pred, n_ref)


def overlap_of(
    *, predicted: LabelledMask, reference: LabelledMask, inter: np.ndarray | None = None
) -> dict[str, float]:
    """DSC, FPV and FNV from two labelled masks (see :func:`overlap`)."""
    if inter is None:
        inter = intersections(predicted=predicted, reference=reference)
    g = int(reference.voxels.sum())
    p = int(predicted.voxels.sum())
    shared = int(inter.sum())
    dsc = 2.0 * shared / (g + p) if g + p > 0 else float("nan")
    fp_voxels = int(predicted.voxels[inter.sum(axis=1) == 0].sum())
    fn_voxels = int(reference.voxels[inter.sum(axis=0) == 0].sum())
    voxel_ml = reference.voxel_ml
    return {"dsc": dsc, "fpv": fp_voxels * voxel_ml, "fnv": fn_voxels * voxel_ml}


@masks_by_keyword
def overlap(
    *,
    predicted: ArrayLike,
    reference: ArrayLike,
    spacing: Sequence[float],
    connectivity: int = DEFAULT.connectivity,
) -> dict[str, float]:
    """Dice similarity coefficient, false-positive and false-negative volume.

    Every argument is passed by keyword (the masks' order changed from ``(reference,
    predicted)`` to ``(predicted, reference)``; a positional call raises a TypeError and
    ``reference_mask=``/``predicted_mask=`` still work with a DeprecationWarning for one
    release: ``docs/changes.md``).

    Parameters
    ----------
    predicted, reference : array_like of bool or 0/1, 3-D, same shape
    spacing : sequence of float
        Voxel size in mm.
    connectivity : {6, 18, 26}
        Defines the components for FPV/FNV (18 as in the autoPET script).

    Returns
    -------
    dict
        ``dsc`` = 2|G∩P|/(|G|+|P|) (NaN when both masks are empty, 0 when only one is);
        ``fpv`` = volume (ml) of predicted components that touch no reference voxel;
        ``fnv`` = volume (ml) of reference components that touch no predicted voxel.

    Examples
    --------
    >>> g = np.zeros((6, 6, 6), bool); g[0, 0, :2] = True
    >>> p = np.zeros((6, 6, 6), bool); p[0, 0, 1:3] = True; p[5, 5, 5] = True
    >>> overlap(predicted=p, reference=g, spacing=(10.0, 10.0, 10.0))
    {'dsc': 0.4, 'fpv': 1.0, 'fnv': 0.0}
    """
    g = as_mask(reference, "reference")
    p = as_mask(predicted, "predicted")
    check_pair(p, g, "predicted", "reference")
    ref = analyse(g, None, spacing, connectivity)
    pred = analyse(p, None, spacing, connectivity)
    return overlap_of(predicted=pred, reference=ref)
