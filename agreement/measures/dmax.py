"""Exact Dmax (largest distance between two foreground voxel centres) without the n×n matrix.

Every vertex of the convex hull of a voxel set is the first or the last voxel of its column
along each axis, so the candidates are filtered that way first; the hull of the candidates
(scipy's Qhull, on coordinates scaled by the spacing) gives the vertices, and the largest
pairwise distance among them is the diameter. Flat (coplanar) sets use a 2-D hull in their
plane, collinear sets their two extreme points, tiny sets brute force.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

_BRUTE_FORCE = 64  # at most this many candidates: all pairs directly
_CHUNK = 256


def column_extremes(points: np.ndarray) -> np.ndarray:
    """Keep the points that are first or last along every axis within their column.

    A convex-hull vertex always survives, so the hull (and the diameter) is unchanged.

    Examples
    --------
    >>> pts = np.array([[0, 0, 0], [0, 0, 1], [0, 0, 2]])
    >>> column_extremes(pts).tolist()
    [[0, 0, 0], [0, 0, 2]]
    """
    pts = np.asarray(points)
    for axis in range(pts.shape[1]):
        if len(pts) <= 2:
            break
        others = [pts[:, a] for a in range(pts.shape[1]) if a != axis]
        order = np.lexsort((pts[:, axis], *others[::-1]))
        s = pts[order]
        same = np.ones(len(s) - 1, dtype=bool)
        for a in range(pts.shape[1]):
            if a != axis:
                same &= s[1:, a] == s[:-1, a]
        keep = np.ones(len(s), dtype=bool)
        keep[1:-1] = ~(same[1:] & same[:-1])  # inside a column run: both neighbours same column
        pts = s[keep]
    return pts


def _max_pairwise(points: np.ndarray) -> float:
    """Largest pairwise distance, exact, in chunks (no n×n×3 array).

    Squared distances are screened with the fast Gram form |a|² + |b|² − 2a·b; every pair
    within a safe rounding margin of the screened maximum is then recomputed exactly as
    Σ(a − b)², so the result equals brute force.
    """
    if len(points) < 2:
        return 0.0
    pts = np.asarray(points, dtype=float)
    centred = pts - pts.mean(axis=0)
    sq = (centred**2).sum(axis=1)
    cols = [np.ascontiguousarray(centred[:, a]) for a in range(pts.shape[1])]
    margin = 1e-9 * (2 * sq.max() + 1.0)
    best_exact = 0.0
    for start in range(0, len(pts), _CHUNK):
        stop = start + _CHUNK
        approx = np.multiply.outer(cols[0][start:stop], cols[0])  # in place: no BLAS threads
        for c in cols[1:]:
            approx += np.multiply.outer(c[start:stop], c)
        approx *= -2.0
        approx += sq[start:stop, None]
        approx += sq[None, :]
        rows, others = np.nonzero(approx >= approx.max() - margin)
        a, b = pts[start + rows], pts[others]
        best_exact = max(best_exact, float(((a - b) ** 2).sum(axis=1).max()))
    return float(np.sqrt(best_exact))


def _hull_vertices(points: np.ndarray) -> np.ndarray:
    """Indices of a superset of the convex-hull vertices of ``points`` (any dimension ≤ 3)."""
    from scipy.spatial import ConvexHull, QhullError

    centred = points - points.mean(axis=0)
    _, sv, vt = np.linalg.svd(centred, full_matrices=False)
    scale = sv[0] if sv.size and sv[0] > 0 else 1.0
    rank = int(np.sum(sv > scale * 1e-9))
    if rank == 0:
        return np.array([0])
    if rank == 1:
        t = centred @ vt[0]
        return np.array([int(np.argmin(t)), int(np.argmax(t))])
    coords = centred @ vt[:rank].T
    if len(points) <= rank + 1:
        return np.arange(len(points))
    try:
        return ConvexHull(coords, qhull_options="QJ").vertices
    except QhullError:  # numerically degenerate: keep every point
        return np.arange(len(points))


def dmax_points(points: ArrayLike, spacing: Sequence[float] = (1.0, 1.0, 1.0)) -> float:
    """Largest Euclidean distance (in the units of ``spacing``) between any two points.

    Parameters
    ----------
    points : array_like, shape (n, 3)
        Voxel indices (or any coordinates); scaled by ``spacing`` before measuring.
    spacing : sequence of float
        Scale per axis (mm for voxel indices).

    Returns
    -------
    float
        0 for fewer than two points.

    Examples
    --------
    >>> dmax_points([[0, 0, 0], [1, 0, 0], [3, 4, 0]], spacing=(1.0, 1.0, 2.0))
    5.0
    """
    pts = np.asarray(points)
    if pts.ndim != 2 or pts.shape[1] != len(spacing):
        raise ValueError(f"points must have shape (n, {len(spacing)}), got {pts.shape}")
    if len(pts) < 2:
        return 0.0
    cand = column_extremes(pts)
    scaled = cand * np.asarray(spacing, dtype=float)
    if len(scaled) > _BRUTE_FORCE:
        scaled = scaled[_hull_vertices(scaled)]
    return _max_pairwise(scaled)


def dmax(mask: ArrayLike, spacing: Sequence[float]) -> float:
    """Dmax of a mask in cm: the largest distance between two foreground voxel centres.

    Parameters
    ----------
    mask : array_like of bool or 0/1, 3-D
    spacing : sequence of float
        Voxel size in mm, in the array's axis order.

    Returns
    -------
    float
        Distance in cm; 0 for an empty mask or a single voxel.

    Examples
    --------
    >>> m = np.zeros((10, 10, 10), bool)
    >>> m[0, 0, 0] = m[3, 4, 0] = True
    >>> dmax(m, (10.0, 10.0, 10.0))
    5.0
    """
    m = np.asarray(mask)
    if m.ndim != len(spacing):
        raise ValueError(f"mask has {m.ndim} dimensions but spacing has {len(spacing)}")
    points = np.argwhere(m)
    return dmax_points(points, spacing) / 10.0


def dmax_per_label(
    points: np.ndarray, labels: np.ndarray, n: int, spacing: Sequence[float]
) -> tuple[np.ndarray, float]:
    """Per-lesion Dmax and the Dmax of all points (both in mm) in one pass.

    Parameters
    ----------
    points : ndarray, shape (m, 3)
        Foreground voxel indices in C (raster) order.
    labels : ndarray, shape (m,)
        Lesion label (1..n) of each point.
    n : int
        Number of lesions.
    spacing : sequence of float

    Returns
    -------
    per_lesion : ndarray, shape (n,)
    overall : float

    Examples
    --------
    >>> pts = np.array([[0, 0, 0], [0, 0, 1], [0, 0, 5]])
    >>> per, overall = dmax_per_label(pts, np.array([1, 1, 2]), 2, (1.0, 1.0, 2.0))
    >>> per.tolist(), overall
    ([2.0, 0.0], 10.0)
    """
    per = np.zeros(n)
    if n == 0 or len(points) == 0:
        return per, 0.0
    order = np.argsort(labels, kind="stable")
    lab = labels[order]
    pts = points[order]
    # First/last voxel of every (lesion, i, j) run along the last axis; raster order kept.
    new = (lab[1:] != lab[:-1]) | (pts[1:, 0] != pts[:-1, 0]) | (pts[1:, 1] != pts[:-1, 1])
    keep = np.ones(len(pts), dtype=bool)
    keep[1:-1] = new[1:] | new[:-1]
    pts, lab = pts[keep], lab[keep]
    bounds = np.searchsorted(lab, np.arange(1, n + 2))
    hull_points = []
    for k in range(n):
        sub = pts[bounds[k] : bounds[k + 1]]
        if len(sub) < 2:
            hull_points.append(sub)
            continue
        cand = column_extremes(sub)
        scaled = cand * np.asarray(spacing, dtype=float)
        if len(scaled) > _BRUTE_FORCE:
            vertices = _hull_vertices(scaled)
            cand, scaled = cand[vertices], scaled[vertices]
        per[k] = _max_pairwise(scaled)
        hull_points.append(cand)
    overall = dmax_points(np.concatenate(hull_points), spacing)
    return per, overall
