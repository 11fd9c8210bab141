"""Total deviation index: empirical (R type 7) and Lin (2000)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from agreement.stats import tdi

PRED = [1.2, 2.5, 2.9, 4.4, 5.1, 6.3, 6.8, 8.4, 9.2, 10.9]
REF = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
WRIGHT = [494, 395, 516, 434, 476, 557, 413, 442, 650, 433, 417, 656, 267, 478, 178, 423, 427]
MINI = [512, 430, 520, 428, 500, 600, 364, 380, 658, 445, 432, 626, 260, 477, 259, 350, 451]


def test_empirical_matches_r_type7():
    # R: quantile(abs(pred - ref), 0.95, type = 7) -> 0.72
    #    quantile(abs(wright - mini), 0.95, type = 7) -> 74.6
    assert tdi(PRED, REF, n_resamples=0).estimate == pytest.approx(0.72, rel=1e-12)
    assert tdi(WRIGHT, MINI, n_resamples=0).estimate == pytest.approx(74.6, rel=1e-12)


def test_empirical_bootstrap_upper_matches_loop():
    res = tdi(WRIGHT, MINI, n_resamples=300, seed=4)
    d = np.abs(np.subtract(WRIGHT, MINI, dtype=float))
    idx = np.random.default_rng(4).integers(0, d.size, size=(300, d.size))
    boot = [np.quantile(d[row], 0.95) for row in idx]
    assert res.ci_high == pytest.approx(np.quantile(boot, 0.95), rel=1e-12)
    assert res.ci_high >= res.estimate * 0.9 and res.ci_method == "bootstrap"
    assert tdi(WRIGHT, MINI, n_resamples=300, seed=4) == res


def test_lin_tdi_matches_independent_formula():
    # Lin (2000): MSD e² = Σd²/(n-1); TDI_p ≈ Φ⁻¹(1-(1-p)/2)·e; upper limit from
    # W = ln e² with var(W) = 2(1 - d̄⁴/e⁴)/(n-2), one-sided z_{0.95}.
    d = np.subtract(WRIGHT, MINI, dtype=float)
    n = d.size
    e2 = np.dot(d, d) / (n - 1)
    sw = np.sqrt(2 * (1 - (d.mean() ** 2 / e2) ** 2) / (n - 2))
    q = stats.norm.isf(0.025)
    expected = (q * np.sqrt(e2), q * np.sqrt(e2 * np.exp(stats.norm.isf(0.05) * sw)))
    res = tdi(WRIGHT, MINI, method="lin")
    assert (res.estimate, res.ci_high) == pytest.approx(expected, rel=1e-12)
    assert res.ci_method == "lin_log_upper"


def test_lin_tdi_normal_theory_and_coverage():
    # with mean difference 0, TDI_0.95 of N(0, σ²) is exactly 1.96σ; the one-sided upper
    # limit should cover it in about 95% of samples (Monte Carlo, 800 samples of n = 30)
    rng = np.random.default_rng(6)
    truth = stats.norm.isf(0.025) * 2.0
    hits = [
        tdi(rng.normal(0, 2.0, 30), np.zeros(30), method="lin").ci_high >= truth for _ in range(800)
    ]
    assert np.mean(hits) == pytest.approx(0.95, abs=0.03)
    big = rng.normal(0, 2.0, 20000)
    assert tdi(big, np.zeros_like(big), method="lin").estimate == pytest.approx(truth, rel=0.02)


def test_degenerate_inputs():
    res = tdi([1.0], [1.0])  # n = 2 is defined: tests/reliability/test_stats_edge.py
    assert math.isnan(res.estimate) and "n = 1" in res.note
    res = tdi([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], method="lin")
    assert res.estimate == 0.0 and res.ci_high == 0.0 and "0" in res.note
    res = tdi([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], n_resamples=50)
    assert res.estimate == 0.0 and res.ci_high == 0.0
    assert math.isnan(tdi(PRED, REF, n_resamples=0).ci_high)


@pytest.mark.parametrize("kwargs", [{"p": 1.0}, {"p": 0}, {"method": "exact"}, {"n_resamples": -1}])
def test_invalid_arguments(kwargs):
    with pytest.raises(ValueError):
        tdi(PRED, REF, **kwargs)


def test_bootstrap_upper_with_ties_matches_loop():
    # many tied |d| values (counts): the cumulative-count quantile must equal np.quantile
    d = np.array([0, 0, 1, 1, 1, 2, 0, 3, 1, 0], dtype=float)
    res = tdi(d, np.zeros_like(d), p=0.9, n_resamples=400, seed=2)
    idx = np.random.default_rng(2).integers(0, d.size, size=(400, d.size))
    boot = [np.quantile(d[row], 0.9) for row in idx]
    assert res.ci_high == pytest.approx(np.quantile(boot, 0.95), rel=1e-12)
