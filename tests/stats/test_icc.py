"""ICC(A,1): two-way random effects, absolute agreement, single measure."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from agreement import ICCResult, agreement_table, icc
from agreement.stats.icc import icc_a1

# Shrout PE, Fleiss JL. Intraclass correlations: uses in assessing rater reliability.
# Psychol Bull. 1979;86(2):420-428, Table 2: 6 targets rated by 4 judges; ICC(2,1) = .29.
SHROUT_FLEISS = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]


def _pingouin_icc2(ratings: np.ndarray) -> tuple[float, float, float]:
    """pingouin.intraclass_corr, row ICC2 (named "ICC(A,1)" from pingouin 0.7): ICC and CI95."""
    pg = pytest.importorskip("pingouin")
    n, k = ratings.shape
    long = pd.DataFrame({"target": np.repeat(np.arange(n), k), "rater": np.tile(np.arange(k), n),
                         "rating": ratings.ravel()})  # fmt: skip
    table = pg.intraclass_corr(long, targets="target", raters="rater", ratings="rating")
    row = table[table["Type"].isin(["ICC2", "ICC(A,1)"])].iloc[0]
    return float(row["ICC"]), float(row["CI95"][0]), float(row["CI95"][1])


def test_shrout_fleiss_published_example():
    res = icc_a1(SHROUT_FLEISS)
    assert round(res.estimate, 2) == 0.29 and (res.n, res.k) == (6, 4)


def test_shrout_fleiss_example_matches_pingouin():
    value, low, high = _pingouin_icc2(np.asarray(SHROUT_FLEISS, float))
    res = icc_a1(SHROUT_FLEISS)
    assert res.estimate == pytest.approx(value, rel=1e-12)
    # pingouin rounds its interval to 2 decimals
    assert_allclose([res.ci_low, res.ci_high], [low, high], atol=0.005 + 1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_paired_icc_matches_pingouin(seed):
    rng = np.random.default_rng(seed)
    reference = rng.uniform(1, 30, 25)
    predicted = reference * rng.uniform(0.8, 1.1) + rng.normal(0.5, 2.0, 25)
    value, low, high = _pingouin_icc2(np.column_stack([predicted, reference]))
    res = icc(predicted, reference)
    assert res.estimate == pytest.approx(value, rel=1e-12)
    assert_allclose([res.ci_low, res.ci_high], [low, high], atol=0.005 + 1e-12)
    assert res.ci_low < res.estimate < res.ci_high


def test_symmetric_and_scale_free():
    rng = np.random.default_rng(4)
    y = rng.uniform(1, 10, 12)
    x = y + rng.normal(0, 1, 12)
    a, b = icc(x, y), icc(y, x)
    assert_allclose([a.estimate, a.ci_low, a.ci_high], [b.estimate, b.ci_low, b.ci_high])
    big = icc(x * 2.0**300, y * 2.0**300)  # exact rescaling inside: no overflow
    assert_allclose([big.estimate, big.ci_low, big.ci_high], [a.estimate, a.ci_low, a.ci_high])


def test_degenerate_inputs_give_nan_and_a_note():
    small = icc([1.0, 2.0], [1.0, 2.5])
    assert math.isnan(small.estimate) and "n = 2 < 3" in small.note
    constant = icc([3.0, 3.0, 3.0], [3.0, 3.0, 3.0])
    assert math.isnan(constant.estimate) and "no spread" in constant.note
    exact = icc([1.0, 2.0, 4.0], [1.0, 2.0, 4.0])
    assert exact.estimate == 1.0 and math.isnan(exact.ci_low) and "agree exactly" in exact.note
    with pytest.raises(ValueError, match="NaN"):
        icc([1.0, np.nan, 3.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="alpha"):
        icc([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], alpha=1.5)


def test_result_is_frozen_with_undefined():
    res = icc([1.0, 2.1, 2.9, 4.2], [1.1, 2.0, 3.0, 4.0])
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.estimate = 0.0  # type: ignore[misc]
    undefined = ICCResult.undefined(2, note="why")
    assert math.isnan(undefined.estimate) and undefined.note == "why" and undefined.n == 2
    assert "ICC(A,1)=" in repr(res)


def test_icc_is_in_the_agreement_table():
    rng = np.random.default_rng(5)
    ref = rng.uniform(1, 10, 9)
    pred = ref + rng.normal(0, 0.5, 9)
    df = pd.DataFrame({"case_id": [f"c{i}" for i in range(9)], "method": "m", "metric": "tmtv",
                       "reference": ref, "predicted": pred})  # fmt: skip
    row = agreement_table(df).iloc[0]
    res = icc(pred, ref)
    assert [row["icc"], row["icc_ci_low"], row["icc_ci_high"]] == [
        res.estimate, res.ci_low, res.ci_high
    ]
