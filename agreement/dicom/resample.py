"""Resample a volume onto another grid: linear (CT onto the PET grid) or nearest neighbour (SEG).

Voxels are boxes, as in ITK: a point within half a voxel of the array's edge takes the edge
value; farther out it gets ``fill``. Grids whose axes are parallel (the usual PET/CT: same
orientation, other spacing and origin) are interpolated separably, slice by slice, so a CT of
400 slices is never held whole; oblique grids go through :func:`scipy.ndimage.affine_transform`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import ndimage


def axis_weights(
    n: int, coords: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Linear interpolation along one axis of ``n`` samples at index coordinates ``coords``.

    Returns ``(lower, upper, weight, outside)``: the value at ``coords[i]`` is
    ``a[lower[i]] * (1 - weight[i]) + a[upper[i]] * weight[i]``; ``outside`` marks coordinates
    farther than half a voxel from the samples (they get the fill value).

    Examples
    --------
    >>> lower, upper, weight, outside = axis_weights(3, np.array([-0.4, 0.25, 2.0, 2.6]))
    >>> lower.tolist(), upper.tolist(), weight.tolist(), outside.tolist()
    ([0, 0, 1, 1], [1, 1, 2, 2], [0.0, 0.25, 1.0, 1.0], [False, False, False, True])
    """
    outside = (coords < -0.5) | (coords > n - 0.5)
    clamped = np.clip(coords, 0, n - 1)
    lower = np.clip(np.floor(clamped).astype(np.intp), 0, max(n - 2, 0))
    upper = np.minimum(lower + 1, n - 1)
    weight = (clamped - lower).astype(np.float32)
    return lower, upper, weight, outside


def is_axis_aligned(matrix: np.ndarray, *, atol: float = 1e-6) -> bool:
    """Whether the index-to-index ``matrix`` (4×4) scales and shifts each axis on its own.

    Examples
    --------
    >>> is_axis_aligned(np.diag([0.5, 2.0, 1.0, 1.0])), is_axis_aligned(np.eye(4)[[1, 0, 2, 3]])
    (True, False)
    """
    linear = matrix[:3, :3]
    return bool(np.allclose(linear, np.diag(np.diag(linear)), atol=atol))


def _blend(a: np.ndarray, b: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``a + (b - a) * weight`` in float32 (``weight`` broadcast by the caller)."""
    out = np.subtract(b, a, dtype=np.float32)
    out *= weight
    out += a
    return out


def _lerp(a: np.ndarray, b: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``a + (b - a) * weight``, written into ``b`` (float32 arrays the caller owns)."""
    b -= a
    b *= weight
    b += a
    return b


def resample_slices(
    read: Callable[[int], np.ndarray], in_shape: Sequence[int], affine_lps: np.ndarray,
    shape: Sequence[int], target_lps: np.ndarray, *, fill: float,
    scales: Sequence[tuple[float, float]] | None = None, dtype: type = np.float32,
) -> np.ndarray:  # fmt: skip
    """Linear resampling of an axis-aligned grid, reading the source one slice at a time.

    Three 1-D passes: each source slice that an output slice needs is read once
    (``read(k)``, a ``[column, row]`` plane of stored values) and reduced in-plane to the
    output's rows then columns; each output slice is then the weighted sum of its two reduced
    neighbour slices. Equal to :func:`scipy.ndimage.map_coordinates` with ``order=1`` (and to
    SimpleITK's linear resampling) within float32 rounding.

    Parameters
    ----------
    read : callable
        ``read(k)`` returns source slice ``k`` as a 2-D array ``in_shape[:2]``.
    in_shape, affine_lps : the source's shape and its voxel → LPS affine.
    shape, target_lps : the output grid.
    fill : float
        The value outside the source (in output units, after ``scales``).
    scales : sequence of (slope, intercept), optional
        Per source slice, applied to the stored values (DICOM rescale; linear, so it is applied
        to the reduced planes).
    dtype : numpy dtype
        Output type; an integer type rounds to the nearest integer.

    Returns
    -------
    numpy.ndarray
        ``shape``, Fortran order (what NIfTI stores).

    Examples
    --------
    >>> a = np.arange(8.0).reshape(2, 2, 2)
    >>> out = resample_slices(lambda k: a[:, :, k], a.shape, np.eye(4), (2, 2, 3), np.eye(4),
    ...                       fill=-1)
    >>> out[1, 1].tolist()
    [6.0, 7.0, -1.0]
    """
    matrix = np.linalg.inv(affine_lps) @ target_lps
    if not is_axis_aligned(matrix):
        raise ValueError("resample_slices needs grids with parallel axes")
    axes = [axis_weights(int(in_shape[a]), matrix[a, a] * np.arange(shape[a]) + matrix[a, 3])
            for a in range(3)]  # fmt: skip
    (x0, x1, wx, ox), (y0, y1, wy, oy), (z0, z1, wz, oz) = axes
    wy_col = wy[:, None]
    integer = np.issubdtype(np.dtype(dtype), np.integer)
    out = np.empty(tuple(shape), dtype, order="F")
    reduced: dict[int, np.ndarray] = {}

    def plane(k: int) -> np.ndarray:
        """Source slice k reduced to the output's rows and columns, ``[row, column]``."""
        if k not in reduced:
            # [row, column] (a DICOM frame's own order, rows contiguous), as float32 once
            stored = read(k).T.astype(np.float32)
            rows = _lerp(stored.take(y0, axis=0), stored.take(y1, axis=0), wy_col)
            p = _lerp(rows.take(x0, axis=1), rows.take(x1, axis=1), wx)
            if scales is not None and scales[k] != (1.0, 0.0):
                p *= np.float32(scales[k][0])
                p += np.float32(scales[k][1])
            reduced[k] = p
        return reduced[k]

    for z in range(shape[2]):
        if oz[z]:
            out[:, :, z] = fill
            continue
        if wz[z] == 0:
            value = plane(int(z0[z]))
        else:
            value = _blend(plane(int(z0[z])), plane(int(z1[z])), wz[z])
        # source indices are monotonic in z: what the next slice does not use is done with
        later = {int(z0[z + 1]), int(z1[z + 1])} if z + 1 < shape[2] else set()
        for k in set(reduced) - later:
            del reduced[k]
        if integer:
            limits = np.iinfo(dtype)
            value = np.clip(np.rint(value), limits.min, limits.max)
        out[:, :, z] = value.T
    out[ox] = fill
    out[:, oy] = fill
    return out


def resample_onto(
    array: np.ndarray, affine_lps: np.ndarray, shape: tuple[int, ...], target_lps: np.ndarray,
    *, order: int, fill: float, dtype: type = np.float32,
) -> np.ndarray:  # fmt: skip
    """Sample ``array`` (voxel → LPS ``affine_lps``) at the voxel centres of ``shape``/``target_lps``.

    ``order`` 1 is linear (separable on axis-aligned grids, :func:`resample_slices`), 0 nearest
    neighbour. Returns a Fortran-ordered array (what NIfTI stores).

    Examples
    --------
    >>> a = np.arange(8.0).reshape(2, 2, 2)
    >>> resample_onto(a, np.eye(4), (2, 2, 3), np.eye(4), order=1, fill=-1)[1, 1].tolist()
    [6.0, 7.0, -1.0]
    """
    matrix = np.linalg.inv(affine_lps) @ target_lps
    if order == 1 and is_axis_aligned(matrix):
        return resample_slices(lambda k: array[:, :, k], array.shape, affine_lps, shape,
                               target_lps, fill=fill, dtype=dtype)  # fmt: skip
    # scipy walks the output in C order: work on the reversed axes (slice, row, column), so
    # that consecutive outputs read neighbouring inputs of a Fortran-ordered array
    flip = np.eye(4)[[2, 1, 0, 3]]
    reversed_matrix = flip @ matrix @ flip
    linear = reversed_matrix[:3, :3]
    if is_axis_aligned(reversed_matrix, atol=1e-9):
        linear = np.diag(linear)  # axis-aligned grids: scipy's faster zoom-and-shift path
    out = ndimage.affine_transform(array.T, linear, offset=reversed_matrix[:3, 3],
                                   output_shape=tuple(shape[::-1]), order=order, mode="nearest",
                                   output=dtype, prefilter=False).T  # fmt: skip
    # outside: farther than half a voxel from the array, computed one output slice at a time
    ii, jj = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    plane = matrix[:3, :2] @ np.stack([ii.ravel(), jj.ravel()]).astype(float) + matrix[:3, 3:4]
    upper = np.asarray(array.shape, float)[:, None] - 0.5
    for k in range(shape[2]):
        coords = plane + matrix[:3, 2:3] * k
        outside = np.any((coords < -0.5) | (coords > upper), axis=0)
        if outside.any():
            out[:, :, k][outside.reshape(shape[:2])] = fill
    return out
