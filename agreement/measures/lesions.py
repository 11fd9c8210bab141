"""Connected-component labelling and per-lesion statistics in one pass.

One cc3d labelling of the cropped mask, then ``np.bincount`` over the foreground voxels: no
per-lesion loop touches the volume. Lesions are numbered 1..n in raster (C) order of their
first voxel, as cc3d numbers them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from agreement.measures.dmax import dmax_per_label
from agreement.measures.options import CONNECTIVITIES, DEFAULT

LESION_COLUMNS = ["lesion_id", "voxels", "volume", "suv_max", "suv_mean", "tla", "dmax"]


def check_connectivity(connectivity: int) -> int:
    """Return ``connectivity`` if it is 6, 18 or 26; raise ValueError otherwise."""
    if connectivity not in CONNECTIVITIES:
        raise ValueError(f"connectivity must be 6, 18 or 26, got {connectivity!r}")
    return int(connectivity)


def as_mask(mask: ArrayLike, name: str = "mask") -> np.ndarray:
    """A 3-D boolean view or copy of a bool or 0/1 array; ValueError otherwise."""
    m = np.asarray(mask)
    if m.ndim != 3:
        raise ValueError(f"{name} must be 3-D, got shape {m.shape}")
    if m.dtype == np.bool_:
        return m
    if m.dtype == np.uint8 and m.max(initial=0) <= 1:
        return m.view(np.bool_)
    nonzero = m != 0
    if np.count_nonzero(nonzero) != np.count_nonzero(m == 1):
        raise ValueError(f"{name} must contain only 0 and 1 (or be boolean)")
    return nonzero


def check_spacing(spacing: Sequence[float]) -> tuple[float, float, float]:
    """Three positive finite voxel sizes (mm); ValueError otherwise."""
    sp = tuple(float(s) for s in spacing)
    if len(sp) != 3 or not all(np.isfinite(s) and s > 0 for s in sp):
        raise ValueError(f"spacing must be three positive numbers (mm), got {spacing!r}")
    return sp  # type: ignore[return-value]


def label(mask: ArrayLike, connectivity: int = DEFAULT.connectivity) -> tuple[np.ndarray, int]:
    """Label the connected components of a 3-D mask with cc3d.

    Parameters
    ----------
    mask : array_like of bool or 0/1
    connectivity : {6, 18, 26}
        Face, face+edge (the papers' choice) or face+edge+corner neighbours.

    Returns
    -------
    labels : ndarray
        0 background, 1..n lesions (raster order of their first voxel).
    n : int

    Examples
    --------
    >>> m = np.zeros((3, 3, 3), bool)
    >>> m[0, 0, 0] = m[1, 1, 1] = True
    >>> label(m, 18)[1], label(m, 26)[1]
    (2, 1)
    """
    import cc3d

    m = as_mask(mask)
    labels, n = cc3d.connected_components(
        m, connectivity=check_connectivity(connectivity), return_N=True
    )
    return labels, int(n)


@dataclass(frozen=True, eq=False)
class LabelledMask:
    """A labelled mask with its per-lesion statistics (the per-case work unit).

    ``points`` are the foreground voxel indices in raster order and ``labels`` their lesion
    labels; ``label_image`` is the label array of the bounding box starting at ``offset``.
    Volumes are in voxels; SUV values in the PET's units; Dmax in mm.
    """

    shape: tuple[int, ...]
    spacing: tuple[float, float, float]
    n: int
    points: np.ndarray
    labels: np.ndarray
    offset: np.ndarray
    label_image: np.ndarray
    voxels: np.ndarray
    suv_sum: np.ndarray
    suv_max: np.ndarray
    peak: np.ndarray
    dmax_mm: np.ndarray
    dmax_all_mm: float

    @property
    def voxel_ml(self) -> float:
        """Volume of one voxel in ml."""
        return float(np.prod(self.spacing)) / 1000.0

    def label_at(self, coords: np.ndarray) -> np.ndarray:
        """Lesion label at each voxel index of ``coords`` (k, 3); 0 outside every lesion."""
        coords = np.asarray(coords, dtype=np.int64).reshape(-1, 3)
        out = np.zeros(len(coords), dtype=np.int64)
        if self.n == 0 or len(coords) == 0:
            return out
        local = coords - self.offset
        inside = np.all((local >= 0) & (local < np.array(self.label_image.shape)), axis=1)
        out[inside] = self.label_image[tuple(local[inside].T)]
        return out

    def table(self) -> pd.DataFrame:
        """One row per lesion: ``lesion_id, voxels, volume, suv_max, suv_mean, tla, dmax``."""
        volume = self.voxels * self.voxel_ml
        with np.errstate(invalid="ignore", divide="ignore"):
            suv_mean = self.suv_sum / self.voxels
        return pd.DataFrame(
            {
                "lesion_id": np.arange(1, self.n + 1, dtype=np.int64),
                "voxels": self.voxels.astype(np.int64),
                "volume": volume,
                "suv_max": self.suv_max.astype(float),
                "suv_mean": suv_mean,
                "tla": self.suv_sum * self.voxel_ml,
                "dmax": self.dmax_mm / 10.0,
            },
            columns=LESION_COLUMNS,
        )


def foreground_points(mask: np.ndarray) -> np.ndarray:
    """Indices (n, 3) of the nonzero voxels in C (raster) order, without a C-order copy.

    NIfTI data are stored in Fortran order; scanning them in memory order and sorting the
    (few) foreground voxels avoids copying the whole volume.

    Examples
    --------
    >>> m = np.asfortranarray(np.eye(3, dtype=bool)[:, :, None].repeat(2, axis=2))
    >>> foreground_points(m)[:2].tolist()
    [[0, 0, 0], [0, 0, 1]]
    """
    if mask.flags.f_contiguous and not mask.flags.c_contiguous:
        idx_t = np.flatnonzero(mask.T)  # memory order: i fastest
        k, j, i = np.unravel_index(idx_t, mask.shape[::-1])
        flat = np.ravel_multi_index((i, j, k), mask.shape)
        flat.sort()
        return np.column_stack(np.unravel_index(flat, mask.shape)).astype(np.int64)
    idx = np.flatnonzero(mask)
    return np.column_stack(np.unravel_index(idx, mask.shape)).astype(np.int64)


def analyse(
    mask: np.ndarray, pet: np.ndarray | None, spacing: Sequence[float], connectivity: int = DEFAULT.connectivity
) -> LabelledMask:
    """Label ``mask`` once (on its bounding box) and compute every per-lesion statistic.

    ``mask`` must be a boolean 3-D array and ``pet`` an array of the same shape (None: SUV
    statistics are 0). NaN or infinite PET values inside the mask raise ValueError.

    Examples
    --------
    >>> m = np.zeros((4, 4, 4), bool)
    >>> m[0, 0, :2] = m[3, 3, 3] = True
    >>> lm = analyse(m, np.arange(64.0).reshape(4, 4, 4), (1.0, 1.0, 1.0))
    >>> lm.n, lm.voxels.tolist(), lm.suv_max.tolist()
    (2, [2, 1], [1.0, 63.0])
    """
    import cc3d

    spacing = check_spacing(spacing)
    connectivity = check_connectivity(connectivity)
    points = foreground_points(mask)
    if len(points) == 0:
        empty = np.zeros(0)
        return LabelledMask(
            mask.shape, spacing, 0, points, np.zeros(0, np.int64), np.zeros(3, np.int64),
            np.zeros((0, 0, 0), np.uint32), np.zeros(0, np.int64), empty, empty,
            np.zeros((0, 3), np.int64), empty, 0.0,
        )  # fmt: skip
    lo = points.min(axis=0)
    hi = points.max(axis=0) + 1
    crop = np.ascontiguousarray(mask[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]])
    label_image, n = cc3d.connected_components(crop, connectivity=connectivity, return_N=True)
    n = int(n)
    lab = label_image[tuple((points - lo).T)].astype(np.int64)
    if pet is None:
        suv = np.zeros(len(points))
    else:
        suv = np.asarray(pet[tuple(points.T)], dtype=np.float64)
        if not np.isfinite(suv).all():  # SUVmax would skip a NaN while SUVmean became NaN
            bad = int(np.count_nonzero(~np.isfinite(suv)))
            raise ValueError(f"pet has {bad} NaN or infinite value(s) inside the mask")
    voxels = np.bincount(lab, minlength=n + 1)[1:]
    suv_sum = np.bincount(lab, weights=suv, minlength=n + 1)[1:]
    # SUVmax voxel: the first (raster order) voxel among each lesion's maxima (np.argmax rule).
    order = np.lexsort((-suv, lab))
    first = order[np.concatenate([[0], np.cumsum(voxels)[:-1]])]
    dmax_mm, dmax_all = dmax_per_label(points, lab, n, spacing)
    return LabelledMask(
        shape=mask.shape,
        spacing=spacing,
        n=n,
        points=points,
        labels=lab,
        offset=lo,
        label_image=label_image,
        voxels=voxels,
        suv_sum=suv_sum,
        suv_max=suv[first],
        peak=points[first],
        dmax_mm=dmax_mm,
        dmax_all_mm=dmax_all,
    )


def check_pair(mask: np.ndarray, other: np.ndarray, name: str, other_name: str) -> None:
    """ValueError unless both arrays have the same shape."""
    if np.shape(mask) != np.shape(other):
        raise ValueError(
            f"{name} and {other_name} must have the same shape, "
            f"got {np.shape(mask)} and {np.shape(other)}"
        )


def lesions(
    mask: ArrayLike, pet: ArrayLike, spacing: Sequence[float], *, connectivity: int = DEFAULT.connectivity
) -> pd.DataFrame:
    """Per-lesion measures of a mask: one row per connected component.

    Parameters
    ----------
    mask : array_like of bool or 0/1, 3-D
    pet : array_like, same shape
        SUV values.
    spacing : sequence of float
        Voxel size in mm, in the array's axis order.
    connectivity : {6, 18, 26}

    Returns
    -------
    pandas.DataFrame
        ``lesion_id, voxels, volume`` (ml), ``suv_max, suv_mean, tla`` (SUV·ml), ``dmax`` (cm,
        within the lesion).

    Examples
    --------
    >>> m = np.zeros((4, 4, 4), bool)
    >>> m[0, 0, :2] = m[3, 3, 3] = True
    >>> lesions(m, np.ones((4, 4, 4)), (2.0, 2.0, 2.0))[["lesion_id", "voxels", "dmax"]]
       lesion_id  voxels  dmax
    0          1       2   0.2
    1          2       1   0.0
    """
    m = as_mask(mask)
    p = np.asarray(pet)
    check_pair(m, p, "mask", "pet")
    return analyse(m, p, spacing, connectivity).table()
