"""Property tests (hypothesis) of the agreement statistics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from agreement.stats import bland_altman, ccc, coverage_probability, tost

values = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@st.composite
def pairs(draw, min_size=3, max_size=40):
    n = draw(st.integers(min_size, max_size))
    x = draw(arrays(np.float64, n, elements=values))
    y = draw(arrays(np.float64, n, elements=values))
    return x, y


def _spread(a):
    return np.std(a) > 1e-3 * (1 + np.max(np.abs(a)))


@settings(max_examples=60, deadline=None)
@given(pairs())
def test_ccc_bounded_by_pearson_and_symmetric(xy):
    x, y = xy
    assume(_spread(x) and _spread(y))
    res = ccc(x, y)
    assert -1 - 1e-12 <= res.estimate <= 1 + 1e-12
    assert abs(res.estimate) <= abs(res.pearson_r) + 1e-9
    assert ccc(y, x).estimate == pytest.approx(res.estimate, rel=1e-9, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.integers(3, 40), elements=values))
def test_ccc_identity(x):
    assume(_spread(x))
    assert ccc(x, x).estimate == pytest.approx(1.0)


@settings(max_examples=40, deadline=None)
@given(pairs(), st.randoms(use_true_random=False))
def test_case_order_invariance(xy, rnd):
    x, y = xy
    assume(_spread(x) and _spread(y) and _spread(x - y))
    order = list(range(x.size))
    rnd.shuffle(order)
    xs, ys = x[order], y[order]
    assert ccc(xs, ys).estimate == pytest.approx(ccc(x, y).estimate, rel=1e-9, abs=1e-12)
    a, b = tost(x, y), tost(xs, ys)
    assert a.equivalent == b.equivalent or (
        a.equivalent != a.equivalent and b.equivalent != b.equivalent
    )
    assert b.p_value == pytest.approx(a.p_value, rel=1e-7, abs=1e-12)
    assert coverage_probability(xs, ys).estimate == coverage_probability(x, y).estimate


@settings(max_examples=40, deadline=None)
@given(pairs())
def test_bland_altman_bias_changes_sign_on_swap(xy):
    x, y = xy
    a, b = bland_altman(x, y), bland_altman(y, x)
    assert a.bias == pytest.approx(-b.bias, abs=1e-9)
    assert a.sd == pytest.approx(b.sd, rel=1e-9, abs=1e-12)
