"""Dmax by convex hull against all-pairs distances (scipy.spatial.distance.pdist)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from agreement.measures.dmax import column_extremes, dmax, dmax_per_label, dmax_points
from agreement.measures.lesions import label

SPACINGS = [(2.0, 2.0, 2.0), (3.64, 3.64, 3.27), (4.0728, 4.0728, 3.0), (0.98, 0.98, 3.27)]


@pytest.mark.parametrize("seed", range(30))
def test_random_sets_match_all_pairs(seed, brute):
    # Oracle: pdist over every voxel centre (O(n^2)), as the published code does.
    rng = np.random.default_rng(seed)
    spacing = SPACINGS[seed % len(SPACINGS)]
    shape = tuple(rng.integers(4, 25, size=3))
    kind = seed % 3
    if kind == 0:  # sparse noise
        mask = rng.random(shape) < rng.uniform(0.01, 0.3)
    elif kind == 1:  # blob
        grid = np.indices(shape)
        c = np.array(shape) / 2
        mask = (
            ((grid - c[:, None, None, None]) / (np.array(shape)[:, None, None, None] / 3)) ** 2
        ).sum(0) < 1
    else:  # one slice (coplanar; Qhull alone would fail)
        mask = np.zeros(shape, bool)
        mask[:, :, shape[2] // 2] = rng.random(shape[:2]) < 0.5
    points = np.argwhere(mask)
    assert_allclose(dmax_points(points, spacing), brute.dmax_mm(points, spacing), rtol=1e-12)
    assert_allclose(dmax(mask, spacing), brute.dmax_mm(points, spacing) / 10, rtol=1e-12)


@pytest.mark.parametrize(
    "points",
    [
        [],
        [[3, 3, 3]],
        [[0, 0, 0], [0, 0, 1]],
        [[i, 2 * i, 3 * i] for i in range(100)],  # collinear, diagonal
        [[i, j, 5] for i in range(12) for j in range(12)],  # flat square, axis-aligned
        [[i, j, i + j] for i in range(10) for j in range(10)],  # flat, oblique plane
        [[i, 0, 0] for i in range(200)],  # collinear along an axis
    ],
)
def test_degenerate_sets(points, brute):
    pts = np.array(points, dtype=np.int64).reshape(-1, 3)
    spacing = (3.64, 3.64, 3.27)
    assert_allclose(dmax_points(pts, spacing), brute.dmax_mm(pts, spacing), rtol=1e-12)


def test_large_lesion_is_exact(brute):
    # An ellipsoid of ~11k voxels with anisotropic spacing; oracle: all pairs of its boundary
    # voxels (an interior voxel is the midpoint of two neighbours, so never a hull vertex).
    from scipy import ndimage

    grid = np.indices((36, 28, 24)).astype(float)
    r = [(grid[0] - 17.3) / 16.2, (grid[1] - 13.1) / 12.4, (grid[2] - 11.7) / 10.9]
    mask = (r[0] ** 2 + r[1] ** 2 + r[2] ** 2) <= 1
    boundary = np.argwhere(mask & ~ndimage.binary_erosion(mask))
    spacing = (3.64, 3.64, 3.27)
    assert mask.sum() > 9_000
    assert_allclose(dmax(mask, spacing) * 10, brute.dmax_mm(boundary, spacing), rtol=1e-12)


def test_column_extremes_keeps_hull():
    rng = np.random.default_rng(1)
    pts = np.argwhere(rng.random((9, 9, 9)) < 0.3)
    kept = column_extremes(pts)
    from scipy.spatial import ConvexHull

    hull = {tuple(p) for p in pts[ConvexHull(pts).vertices]}
    assert hull <= {tuple(p) for p in kept}
    assert len(kept) < len(pts)


def test_per_label_and_overall(brute):
    rng = np.random.default_rng(5)
    mask = rng.random((15, 15, 15)) < 0.15
    labels, n = label(mask, 6)
    points = np.argwhere(mask)
    per, overall = dmax_per_label(points, labels[mask], n, (2.0, 3.0, 4.0))
    expected = [brute.dmax_mm(np.argwhere(labels == i), (2.0, 3.0, 4.0)) for i in range(1, n + 1)]
    assert_allclose(per, expected, rtol=1e-12)
    assert_allclose(overall, brute.dmax_mm(points, (2.0, 3.0, 4.0)), rtol=1e-12)


@given(
    st.lists(
        st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(0, 6)), min_size=0, max_size=80
    ),
    st.sampled_from(SPACINGS),
)
def test_hypothesis_matches_all_pairs(points, spacing):
    from scipy.spatial.distance import pdist

    pts = np.unique(np.array(points, dtype=np.int64).reshape(-1, 3), axis=0)
    expected = pdist(pts * np.array(spacing)).max() if len(pts) > 1 else 0.0
    assert_allclose(dmax_points(pts, spacing), expected, rtol=1e-12)


def test_bad_points_shape():
    with pytest.raises(ValueError, match="shape"):
        dmax_points(np.zeros((3, 2)), (1.0, 1.0, 1.0))
