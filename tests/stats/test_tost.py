"""Paired TOST against pingouin 0.7.0 and statsmodels 0.15.0."""

from __future__ import annotations

import math

import numpy as np
import pingouin
import pytest
from statsmodels.stats.weightstats import DescrStatsW, ttost_paired

from agreement.stats import tost

RNG = np.random.default_rng(11)
REF = RNG.uniform(5, 25, 24)
PRED = REF * (1 + RNG.normal(0.03, 0.08, 24))


def test_tost_matches_statsmodels_per_side():
    res = tost(PRED, REF, margin=0.2)
    bound = 0.2 * abs(REF.mean())
    p, lower, upper = ttost_paired(PRED, REF, -bound, bound)
    assert res.p_lower == pytest.approx(lower[1], rel=1e-10)
    assert res.p_upper == pytest.approx(upper[1], rel=1e-10)
    assert res.p_value == pytest.approx(p, rel=1e-10)
    assert (res.lower, res.upper) == pytest.approx((-bound, bound))
    assert res.df == 23


def test_tost_matches_pingouin():
    # pingouin.tost uses an absolute bound: pass 0.05 * |mean(reference)|
    bound = 0.05 * abs(REF.mean())
    res = tost(PRED, REF, margin=0.05)
    ping = pingouin.tost(PRED, REF, bound=bound, paired=True)
    assert res.p_value == pytest.approx(float(ping["pval"].iloc[0]), rel=1e-8)


def test_tost_ci_is_1_minus_2alpha_t_interval():
    res = tost(PRED, REF, alpha=0.05)
    low, high = DescrStatsW(PRED - REF).tconfint_mean(alpha=0.10)
    assert (res.ci_low, res.ci_high) == pytest.approx((low, high), rel=1e-10)
    assert res.mean_diff == pytest.approx(np.mean(PRED - REF))


def test_tost_equivalence_decision_and_absolute_margin():
    assert tost(PRED, REF, margin=0.2).equivalent is True
    res = tost(PRED, REF, margin=0.01)
    assert res.equivalent is False and res.p_value > 0.05
    absolute = tost(PRED, REF, margin=2.0, relative=False)
    assert absolute.upper == 2.0
    p, _, _ = ttost_paired(PRED, REF, -2.0, 2.0)
    assert absolute.p_value == pytest.approx(p, rel=1e-10)


def test_tost_zero_bound_is_not_applicable():
    res = tost([1.0, -0.5, 0.3, 0.2], [1.0, -1.0, 0.5, -0.5])  # mean reference 0
    assert res.equivalent is False and math.isnan(res.p_value)
    assert "cannot be shown" in res.note and res.upper == 0.0
    assert res.mean_diff == pytest.approx(0.25)


def test_tost_constant_differences():
    res = tost([2.0, 3.0, 4.0], [1.0, 2.0, 3.0])
    assert math.isnan(res.p_value) and res.equivalent is False and "SD 0" in res.note
    assert res.mean_diff == 1.0


def test_tost_small_n():
    res = tost([1.0, 2.0], [1.0, 2.0])
    assert res.n == 2 and math.isnan(res.mean_diff) and "n = 2" in res.note


@pytest.mark.parametrize("kwargs", [{"margin": 0}, {"margin": -0.1}, {"alpha": 0.5}, {"alpha": 0}])
def test_tost_invalid_arguments(kwargs):
    with pytest.raises(ValueError):
        tost(PRED, REF, **kwargs)


def test_tost_repr_and_dict():
    res = tost(PRED, REF)
    assert "equivalent=True" in repr(res)
    assert set(res.to_dict()) >= {"mean_diff", "ci_low", "ci_high", "lower", "upper", "p_lower",
                                  "p_upper", "p_value", "equivalent", "n", "note"}  # fmt: skip
