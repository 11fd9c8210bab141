"""Property tests (hypothesis) of the agreement statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
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


def test_numpy_scalar_arguments_are_accepted():
    # review: margin=np.int64(1), alpha=np.float32(0.05), p=np.float32(0.9) ... raised
    # "must be > 0" although they are valid numbers (e.g. values taken from an array)
    from agreement import bland_altman, coverage_probability, tdi, tost

    x, y = [1.0, 2.0, 3.0, 4.5, 5.0], [1.1, 2.0, 2.9, 4.0, 5.2]
    assert tost(x, y, margin=np.int64(1), relative=False).upper == 1.0
    assert tost(x, y, alpha=np.float32(0.05)).p_value == pytest.approx(tost(x, y).p_value)
    assert tdi(x, y, p=np.float64(0.9), n_resamples=0).p == 0.9
    assert bland_altman(x, y, multiplier=np.int32(2)).multiplier == 2.0
    assert coverage_probability(x, y, delta=np.float32(0.25)).delta == pytest.approx(0.25)
    with pytest.raises(ValueError, match="alpha"):
        tost(x, y, alpha=True)


@pytest.mark.parametrize("scale", [1e200, 1e-300, 1e80])
def test_huge_and_tiny_values_give_the_scaled_results(scale):
    # review: at 1e200 the squares overflowed: CCC NaN without a note, TOST p = 0.5 and
    # "not equivalent"; at 1e-300 they underflowed and CCC claimed "both constant".
    # Every statistic is scale equivariant, so the results must be those at scale 1.
    from agreement import tdi
    from agreement.stats.table import agreement_table

    x = np.array([1.0, 2.0, 3.5, 4.0, 2.2, 5.1])
    y = np.array([1.1, 2.0, 3.0, 4.2, 2.0, 4.8])
    for f, fields in [
        (ccc, ["estimate", "ci_low", "ci_high", "pearson_r", "accuracy"]),
        (tost, ["p_lower", "p_upper", "equivalent"]),
        (bland_altman, ["slope", "slope_p"]),
        (lambda a, b: coverage_probability(a, b, method="lin"), ["estimate", "ci_low"]),
    ]:
        base, big = f(x, y), f(x * scale, y * scale)
        for name in fields:
            assert getattr(big, name) == pytest.approx(getattr(base, name), rel=1e-9), name
    for f, fields in [
        (tost, ["mean_diff", "ci_low", "ci_high", "upper"]),
        (bland_altman, ["bias", "sd", "loa_low", "loa_high"]),
        (lambda a, b: tdi(a, b, method="lin"), ["estimate", "ci_high"]),
    ]:
        base, big = f(x, y), f(x * scale, y * scale)
        for name in fields:
            assert getattr(big, name) / scale == pytest.approx(getattr(base, name), rel=1e-9)
    df = pd.DataFrame({"case_id": list("abcdef"), "method": "m", "metric": "tmtv",
                       "reference": y * scale, "predicted": x * scale})  # fmt: skip
    boot = agreement_table(df, n_resamples=200)
    base = agreement_table(df.assign(reference=y, predicted=x), n_resamples=200)
    assert boot.loc[0, "ccc_ci_low"] == pytest.approx(base.loc[0, "ccc_ci_low"], rel=1e-9)
