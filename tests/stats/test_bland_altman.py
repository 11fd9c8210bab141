"""Bland-Altman against the published PEFR example, R (epiR 2.0.57, lm) and Carkeet's factors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from agreement.stats import bland_altman
from agreement.stats.bland_altman import tolerance_factor

# Bland & Altman (1986) Lancet i:307-310, Table 1: PEFR (l/min), first reading of the
# Wright (large) and mini Wright peak flow meters, 17 subjects.
WRIGHT = np.array(
    [494, 395, 516, 434, 476, 557, 413, 442, 650, 433, 417, 656, 267, 478, 178, 423, 427.0]
)
MINI = np.array(
    [512, 430, 520, 428, 500, 600, 364, 380, 658, 445, 432, 626, 260, 477, 259, 350, 451.0]
)


def test_pefr_published_numbers_1986():
    # Published: mean difference -2.1, SD 38.8; limits d ± 2s = -79.7 and 75.5 l/min;
    # 95% CI of the bias -22.0 to 17.8; SE of the limits sqrt(3 s²/n) = 16.3, t(16) = 2.12,
    # CI of the lower limit -114.3 to -45.1 and of the upper limit 40.9 to 110.1
    # (published from the rounded SE and t, hence atol 0.2).
    res = bland_altman(WRIGHT, MINI, multiplier=2.0, loa_ci="ba1986")
    assert res.bias == pytest.approx(-2.1, abs=0.05)
    assert res.sd == pytest.approx(38.8, abs=0.05)
    assert (res.loa_low, res.loa_high) == pytest.approx((-79.7, 75.5), abs=0.1)  # from rounded d, s
    assert res.bias_ci == pytest.approx((-22.0, 17.8), abs=0.06)
    assert res.loa_low_ci == pytest.approx((-114.3, -45.1), abs=0.2)
    assert res.loa_high_ci == pytest.approx((40.9, 110.1), abs=0.2)


def test_pefr_default_limits_196():
    # 1.96 SD limits: -78 to 74 l/min (bias -2.1, SD 38.8)
    res = bland_altman(WRIGHT, MINI)
    assert (round(res.loa_low), round(res.loa_high)) == (-78, 74)
    assert res.multiplier == 1.96 and res.loa_ci_method == "exact"


def test_matches_epir_limits():
    # R, epiR 2.0.57: epi.ccc(wright, mini)$sblalt (delta = x - y, limits ± qnorm(0.975)·SD)
    #                 est         delta.sd             lower            upper
    # 1 -2.11764705882353 38.7651298736074 -78.0959054671117 73.8606113494646
    res = bland_altman(WRIGHT, MINI, multiplier=float(stats.norm.ppf(0.975)))
    assert_allclose(
        [res.bias, res.sd, res.loa_low, res.loa_high],
        [-2.11764705882353, 38.7651298736074, -78.0959054671117, 73.8606113494646],
        rtol=1e-12,
    )


def test_slope_matches_r_lm():
    # R: summary(lm(I(wright - mini) ~ I((wright + mini)/2)))$coefficients
    #   slope 0.0286874451525492, Pr(>|t|) 0.749498533649294
    res = bland_altman(WRIGHT, MINI)
    assert (res.slope, res.slope_p) == pytest.approx(
        (0.0286874451525492, 0.749498533649294), rel=1e-9
    )
    # R: summary(lm(I(pred - ref) ~ ref)): slope 0.0309090909090909, p 0.401166328845783
    pred = [1.2, 2.5, 2.9, 4.4, 5.1, 6.3, 6.8, 8.4, 9.2, 10.9]
    ref = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    res = bland_altman(pred, ref, x="reference")
    assert (res.slope, res.slope_p) == pytest.approx(
        (0.0309090909090909, 0.401166328845783), rel=1e-9
    )


def test_ba1999_interval_formula():
    # Bland & Altman (1999) SE of a limit: s·sqrt(1/n + z²/(2(n-1))), t quantile
    res = bland_altman(WRIGHT, MINI, loa_ci="ba1999")
    d = WRIGHT - MINI
    s, n = d.std(ddof=1), d.size
    half = stats.t.ppf(0.975, n - 1) * s * math.sqrt(1 / n + 1.96**2 / (2 * (n - 1)))
    assert res.loa_high_ci == pytest.approx(
        (d.mean() + 1.96 * s - half, d.mean() + 1.96 * s + half)
    )


# Carkeet (2015) exact two-sided tolerance factors for limits at ±1.96 SD, columns
# gamma = 0.025, 0.95, 0.975, rows v = n - 1, as tabulated in pyCompare 1.5.4
# tests/referenceCIs.csv (4 decimals).
CARKEET = {
    1: (0.9744, 36.5192, 73.0772),
    4: (1.2397, 5.0769, 6.1569),
    16: (1.49, 2.8683, 3.0824),
    30: (1.5856, 2.5414, 2.6685),
    56: (1.6666, 2.3475, 2.4284),
}


@pytest.mark.parametrize("v", sorted(CARKEET))
def test_tolerance_factors_match_carkeet_table(v):
    content = stats.norm.cdf(1.96) - stats.norm.cdf(-1.96)
    got = [tolerance_factor(v + 1, content, g) for g in (0.025, 0.95, 0.975)]
    assert_allclose(got, CARKEET[v], rtol=3e-5, atol=1.5e-4)


def test_tolerance_factor_monte_carlo():
    # independent check: the share of samples whose mean ± k·s covers 95% of N(0, 1)
    # should be the confidence level (0.9 here); 20000 simulated samples of n = 10.
    n, k = 10, tolerance_factor(10, 0.95, 0.90)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((20000, n))
    m, s = x.mean(axis=1), x.std(axis=1, ddof=1)
    cover = stats.norm.cdf(m + k * s) - stats.norm.cdf(m - k * s)
    assert np.mean(cover >= 0.95) == pytest.approx(0.90, abs=0.01)


def test_exact_intervals_use_factors():
    res = bland_altman(WRIGHT, MINI, loa_ci="exact")
    d = WRIGHT - MINI
    m, s = d.mean(), d.std(ddof=1)
    assert res.loa_high_ci == pytest.approx((m + 1.49 * s, m + 3.0824 * s), abs=2e-4 * s)
    assert res.loa_low_ci == pytest.approx((m - 3.0824 * s, m - 1.49 * s), abs=2e-4 * s)


def test_swap_changes_bias_sign():
    a, b = bland_altman(WRIGHT, MINI), bland_altman(MINI, WRIGHT)
    assert a.bias == -b.bias and a.sd == b.sd
    assert a.loa_low == pytest.approx(-b.loa_high)


def test_degenerate_inputs():
    res = bland_altman([1.0], [1.0])  # n = 2 is defined: tests/reliability/test_stats_edge.py
    assert math.isnan(res.bias) and "n = 1" in res.note and math.isnan(res.bias_ci[0])
    res = bland_altman([2.0, 3.0, 4.0], [1.0, 2.0, 3.0])
    assert res.bias == 1.0 and res.sd == 0.0 and res.loa_low == 1.0
    assert math.isnan(res.loa_low_ci[0]) and math.isnan(res.slope) and "SD 0" in res.note
    res = bland_altman([1.0, 2.0, 3.5], [2.0, 2.0, 2.0], x="reference")
    assert (
        math.isnan(res.slope) and "reference is constant" in res.note and not math.isnan(res.bias)
    )


@pytest.mark.parametrize(
    "kwargs", [{"loa_ci": "mover"}, {"x": "predicted"}, {"alpha": 2.0}, {"multiplier": 0}]
)
def test_invalid_arguments(kwargs):
    with pytest.raises(ValueError):
        bland_altman(WRIGHT, MINI, **kwargs)


def test_repr_mentions_conventions():
    text = repr(bland_altman(WRIGHT, MINI))
    assert "±1.96 SD" in text and "CI exact" in text


@pytest.mark.parametrize("n, content, conf", [(10, 0.90, 0.95), (20, 0.95, 0.95), (60, 0.95, 0.99)])
def test_tolerance_factor_close_to_howe_approximation(n, content, conf):
    # Howe (1969): k ≈ z_{(1+P)/2}·sqrt((n-1)(1 + 1/n) / chi2_{1-γ, n-1}); within 1% of exact
    # for these n, and slightly below it (e.g. n = 10, P = 0.90, γ = 0.95: 2.839 vs 2.856).
    howe = stats.norm.ppf((1 + content) / 2) * math.sqrt(
        (n - 1) * (1 + 1 / n) / stats.chi2.ppf(1 - conf, n - 1)
    )
    exact = tolerance_factor(n, content, conf)
    assert howe < exact < howe * 1.01
