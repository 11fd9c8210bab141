"""quantify() and lesions() against brute force (scipy.ndimage.label, pdist, masks per lesion)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose

from agreement.measures.lesions import label, lesions
from agreement.measures.quantify import METRICS, quantify


@pytest.mark.parametrize("seed", range(25))
@pytest.mark.parametrize("connectivity", [6, 18, 26])
def test_random_volumes_match_brute_force(seed, connectivity, brute):
    rng = np.random.default_rng(seed)
    ref, pred, pet, spacing = brute.random_case(rng)
    for mask in (ref, pred):
        got = quantify(mask, pet, spacing, connectivity=connectivity)
        expected = brute.quantify(mask, pet, spacing, connectivity)
        assert got["lesion_count"] == expected["lesion_count"]
        for m in METRICS:
            assert_allclose(got[m], expected[m], rtol=1e-6, atol=1e-12, err_msg=m)


@pytest.mark.parametrize("seed", range(10))
def test_lesion_table_matches_brute_force(seed, brute):
    rng = np.random.default_rng(100 + seed)
    ref, _, pet, spacing = brute.random_case(rng, n_blobs=4)
    got = lesions(ref, pet, spacing)
    expected = pd.DataFrame(brute.lesions(ref, pet, spacing), columns=got.columns)
    # scipy.ndimage.label numbers components in raster order, as cc3d does.
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, rtol=1e-6)


def test_empty_mask_is_all_zero():
    # Papers' convention (seed 000 appendix C, eq. 15 with max(ΣM, 1)): every measure is 0.
    q = quantify(np.zeros((4, 4, 4)), np.ones((4, 4, 4)), (2.0, 2.0, 2.0))
    assert q == {m: 0 for m in METRICS}
    assert lesions(np.zeros((4, 4, 4)), np.ones((4, 4, 4)), (1, 1, 1)).empty


def test_single_voxel():
    m = np.zeros((5, 5, 5), bool)
    m[2, 3, 4] = True
    pet = np.zeros((5, 5, 5))
    pet[2, 3, 4] = 7.5
    q = quantify(m, pet, (2.0, 3.0, 4.0))
    # one voxel of 24 mm³ = 0.024 ml; TLA = 7.5 × 0.024; Dmax of one voxel centre = 0
    assert q == {"suv_max": 7.5, "suv_mean": 7.5, "tla": pytest.approx(0.18), "tmtv": 0.024,
                 "lesion_count": 1, "dmax": 0.0}  # fmt: skip


@pytest.mark.parametrize(
    "offset, counts",
    [((0, 0, 1), (1, 1, 1)), ((0, 1, 1), (2, 1, 1)), ((1, 1, 1), (2, 2, 1))],
)
def test_diagonal_neighbours(offset, counts):
    # face neighbours join at 6/18/26, edge neighbours at 18/26, corner neighbours at 26 only.
    m = np.zeros((4, 4, 4), bool)
    m[1, 1, 1] = True
    m[1 + offset[0], 1 + offset[1], 1 + offset[2]] = True
    assert tuple(label(m, c)[1] for c in (6, 18, 26)) == counts
    assert tuple(quantify(m, np.ones(m.shape), (1, 1, 1), connectivity=c)["lesion_count"]
                 for c in (6, 18, 26)) == counts  # fmt: skip


def test_flat_lesion_dmax():
    m = np.zeros((12, 12, 3), bool)
    m[1:11, 2:9, 1] = True  # one slice
    q = quantify(m, np.ones(m.shape), (2.0, 3.0, 5.0))
    assert q["dmax"] == pytest.approx(np.hypot(9 * 2.0, 6 * 3.0) / 10)


def test_collinear_lesion_dmax():
    m = np.zeros((3, 3, 40), bool)
    m[1, 1, 5:35] = True
    assert quantify(m, np.ones(m.shape), (1.0, 1.0, 3.27))["dmax"] == pytest.approx(29 * 0.327)


def test_label_values_other_than_binary_rejected():
    with pytest.raises(ValueError, match="0 and 1"):
        quantify(np.full((2, 2, 2), 2), np.ones((2, 2, 2)), (1, 1, 1))
    with pytest.raises(ValueError, match="3-D"):
        quantify(np.ones((2, 2)), np.ones((2, 2)), (1, 1, 1))
    with pytest.raises(ValueError, match="connectivity"):
        quantify(np.ones((2, 2, 2)), np.ones((2, 2, 2)), (1, 1, 1), connectivity=8)
    with pytest.raises(ValueError, match="spacing"):
        quantify(np.ones((2, 2, 2)), np.ones((2, 2, 2)), (1, 0, 1))
    with pytest.raises(ValueError, match="same shape"):
        quantify(np.ones((2, 2, 2)), np.ones((2, 2, 3)), (1, 1, 1))


masks = arrays(np.bool_, st.tuples(*[st.integers(2, 7)] * 3), elements=st.booleans())


@given(masks, st.integers(0, 7), st.integers(0, 2**31 - 1))
def test_invariant_to_flipping_axes(mask, axes_bits, seed):
    pet = np.random.default_rng(seed).uniform(0, 5, mask.shape)
    spacing = (2.0, 3.0, 4.0)
    axes = tuple(a for a in range(3) if axes_bits >> a & 1)
    a = quantify(mask, pet, spacing)
    b = quantify(np.flip(mask, axes), np.flip(pet, axes), spacing)
    assert a["lesion_count"] == b["lesion_count"]
    for m in METRICS:
        assert_allclose(a[m], b[m], rtol=1e-9, atol=1e-12)


@given(masks, st.floats(0.3, 5.0), st.floats(0.3, 5.0), st.floats(0.3, 5.0))
def test_tmtv_scales_with_voxel_volume(mask, sx, sy, sz):
    pet = np.ones(mask.shape)
    base = quantify(mask, pet, (1.0, 1.0, 1.0))
    scaled = quantify(mask, pet, (sx, sy, sz))
    assert_allclose(scaled["tmtv"], base["tmtv"] * sx * sy * sz, rtol=1e-12)
    assert_allclose(scaled["tla"], base["tla"] * sx * sy * sz, rtol=1e-12)
    assert scaled["lesion_count"] == base["lesion_count"]


def test_fortran_ordered_arrays_give_the_same_tables(brute):
    # nibabel returns Fortran-ordered arrays; the scan must still follow C raster order.
    rng = np.random.default_rng(7)
    ref, _, pet, spacing = brute.random_case(rng, shape=(9, 11, 13), n_blobs=4)
    a = lesions(ref, pet, spacing)
    b = lesions(np.asfortranarray(ref), np.asfortranarray(pet), spacing)
    pd.testing.assert_frame_equal(a, b)


def test_nan_pet_inside_the_mask_raises():
    # review: a NaN SUV in a lesion gave SUVmean = NaN but a finite SUVmax that silently
    # skipped the NaN voxel; NaN outside the mask is harmless
    mask = np.zeros((4, 4, 4), bool)
    mask[1, 1, 1:3] = True
    pet = np.full(mask.shape, 2.0)
    pet[0, 0, 0] = np.nan
    assert quantify(mask, pet, (2.0, 2.0, 2.0))["suv_max"] == 2.0
    pet[1, 1, 1] = np.nan
    with pytest.raises(ValueError, match="pet has 1 NaN or infinite value"):
        quantify(mask, pet, (2.0, 2.0, 2.0))
    with pytest.raises(ValueError, match="NaN or infinite"):
        lesions(mask, np.where(mask, np.inf, 1.0), (2.0, 2.0, 2.0))
