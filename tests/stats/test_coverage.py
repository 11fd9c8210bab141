"""Coverage probability against statsmodels 0.15.0 intervals and Lin et al. (2002)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats
from statsmodels.stats.proportion import proportion_confint

from agreement.stats import coverage_probability
from agreement.stats.coverage import covered

RNG = np.random.default_rng(2)
REF = RNG.uniform(5, 20, 40)
PRED = REF * (1 + RNG.normal(0.02, 0.12, 40))


@pytest.mark.parametrize("ci, sm_method", [("wilson", "wilson"), ("clopper_pearson", "beta")])
def test_empirical_cp_interval_matches_statsmodels(ci, sm_method):
    res = coverage_probability(PRED, REF, ci=ci)
    k = int(np.sum(np.abs(PRED - REF) <= 0.2 * np.abs(REF)))
    assert res.estimate == k / 40
    low, high = proportion_confint(k, 40, alpha=0.05, method=sm_method)
    assert (res.ci_low, res.ci_high) == pytest.approx((low, high), rel=1e-10)
    assert res.ci_method == ci and res.method == "empirical"


def test_extreme_counts_interval():
    res = coverage_probability([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], ci="clopper_pearson")
    assert res.estimate == 1.0 and res.ci_high == 1.0
    assert res.ci_low == pytest.approx(proportion_confint(3, 3, method="beta")[0])


def test_boundary_ties_and_zero_reference():
    # 12 vs 10 is exactly 20%; 0.36 vs 0.3 is 20% up to rounding; ref 0 covered only by 0
    pred = np.array([12.0, 0.36, 0.0, 0.1, 8.0])
    ref = np.array([10.0, 0.3, 0.0, 0.0, 10.0])
    assert covered(pred, ref, 0.2).tolist() == [True, True, True, False, True]
    assert covered(np.array([12.01]), np.array([10.0]), 0.2).tolist() == [False]


def test_absolute_allowance():
    res = coverage_probability(
        [1.0, 2.5, 3.0, 7.0], [1.5, 2.0, 3.0, 4.0], delta=0.5, relative=False
    )
    assert res.estimate == 0.75


def _lin_cp_independent(d, kappa, alpha):
    """Lin et al. (2002): CP by integrating the fitted normal; logit-scale variance by
    numerical derivatives (delta method) with var(mean) = s²/(n-3), var(s) = s²/(2(n-3))."""
    n = d.size
    mu, s = d.mean(), math.sqrt(np.sum((d - d.mean()) ** 2) / (n - 3))

    def cp(m, sd):
        return integrate.quad(lambda t: stats.norm.pdf(t, m, sd), -kappa, kappa, epsabs=1e-13)[0]

    p = cp(mu, s)
    h = 1e-5 * s
    dmu = (cp(mu + h, s) - cp(mu - h, s)) / (2 * h)
    dsd = (cp(mu, s + h) - cp(mu, s - h)) / (2 * h)
    var = (dmu**2 * s**2 + dsd**2 * s**2 / 2) / (n - 3)
    se = math.sqrt(var) / (p * (1 - p))
    lower = 1 / (1 + math.exp(-(math.log(p / (1 - p)) - stats.norm.ppf(1 - alpha) * se)))
    return p, lower


def test_lin_cp_matches_independent_computation():
    res = coverage_probability(PRED, REF, method="lin", delta=0.1)
    d = PRED - REF
    p, lower = _lin_cp_independent(d, 0.1 * abs(REF.mean()), 0.05)
    assert res.estimate == pytest.approx(p, rel=1e-7)
    assert res.ci_low == pytest.approx(lower, rel=1e-5)
    assert math.isnan(res.ci_high) and res.ci_method == "lin_logit_lower"
    assert res.delta == pytest.approx(0.1 * abs(REF.mean()))


def test_lin_cp_lower_limit_coverage_monte_carlo():
    # the one-sided 95% lower limit should cover the true CP in about 95% of samples
    kappa, n = 1.0, 40
    true = stats.norm.cdf(kappa, 0.2, 0.8) - stats.norm.cdf(-kappa, 0.2, 0.8)
    rng = np.random.default_rng(9)
    hits = []
    for _ in range(600):
        d = rng.normal(0.2, 0.8, n)
        res = coverage_probability(d, np.zeros(n), method="lin", delta=kappa, relative=False)
        hits.append(res.ci_low <= true)
    assert np.mean(hits) == pytest.approx(0.95, abs=0.035)


def test_degenerate_inputs():
    assert math.isnan(coverage_probability([1.0], [1.0]).estimate)  # n = 2: test_stats_edge
    res = coverage_probability([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], method="lin")
    assert math.isnan(res.estimate) and "n = 3" in res.note
    res = coverage_probability([0.1, -0.1, 0.2, 0.0], [1.0, -1.0, 0.5, -0.5], method="lin")
    assert math.isnan(res.estimate) and "not applicable" in res.note
    res = coverage_probability([2.0, 3.0, 4.0, 5.0], [1.5, 2.5, 3.5, 4.5], method="lin")
    assert res.estimate == 1.0 and math.isnan(res.ci_low) and "SD 0" in res.note


@pytest.mark.parametrize(
    "kwargs", [{"delta": 0}, {"method": "exact"}, {"ci": "wald"}, {"alpha": -1}]
)
def test_invalid_arguments(kwargs):
    with pytest.raises(ValueError):
        coverage_probability(PRED, REF, **kwargs)


# Newcombe RG (1998), Two-sided confidence intervals for the single proportion: comparison
# of seven methods, Stat Med 17:857-872, Table I: method 3 (Wilson score, no continuity
# correction) and method 5 ("exact", Clopper-Pearson), 95% limits to 4 decimals.
NEWCOMBE_TABLE_I = [
    ((81, 263), (0.2553, 0.3662), (0.2527, 0.3676)),
    ((15, 148), (0.0624, 0.1605), (0.0578, 0.1617)),
    ((0, 20), (0.0000, 0.1611), (0.0000, 0.1684)),
    ((1, 29), (0.0061, 0.1718), (0.0009, 0.1776)),
]


@pytest.mark.parametrize(("counts", "wilson", "exact"), NEWCOMBE_TABLE_I)
def test_binomial_intervals_match_newcombe_1998(counts, wilson, exact):
    from agreement.stats.coverage import binomial_interval

    k, n = counts
    assert binomial_interval(k, n, 0.05, "wilson") == pytest.approx(wilson, abs=5e-5)
    assert binomial_interval(k, n, 0.05, "clopper_pearson") == pytest.approx(exact, abs=5e-5)
