"""Lin's CCC against R epiR 2.0.57 and independent computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from agreement.stats import CCCResult, ccc
from agreement.stats.ccc import strength_label

# Bland & Altman (1986) PEFR data, first readings (l/min): Wright and mini Wright meters.
WRIGHT = [494, 395, 516, 434, 476, 557, 413, 442, 650, 433, 417, 656, 267, 478, 178, 423, 427]
MINI = [512, 430, 520, 428, 500, 600, 364, 380, 658, 445, 432, 626, 260, 477, 259, 350, 451]
PRED = [1.2, 2.5, 2.9, 4.4, 5.1, 6.3, 6.8, 8.4, 9.2, 10.9]
REF = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]

# R 4.x, epiR 2.0.57 (Debian r-cran-epir), options(digits = 15):
# > r <- epi.ccc(mini, wright, ci = "z-transform", conf.level = 0.95)
# > r$rho.c
#                 est            lower             upper
# 1 0.942742431427484 0.85049187316856 0.978726279170122
# > r$C.b
# [1] 0.999430693136343
# > r3 <- epi.ccc(pred, ref, ci = "z-transform", conf.level = 0.90)
# > r3$rho.c
#                 est             lower             upper
# 1 0.990623726049735 0.973217155991986 0.996736218248028
# > r3$C.b
# [1] 0.995145063243378
# > epi.ccc(pred, ref, ci = "z-transform", conf.level = 0.95)$rho.c
#                 est             lower             upper
# 1 0.990623726049735 0.967295583813765 0.997334392387994
EPIR_PEFR = [0.942742431427484, 0.85049187316856, 0.978726279170122]
EPIR_PEFR_CB = 0.999430693136343
EPIR_SMALL_90 = [0.990623726049735, 0.973217155991986, 0.996736218248028]
EPIR_SMALL_95 = [0.990623726049735, 0.967295583813765, 0.997334392387994]
EPIR_SMALL_CB = 0.995145063243378


def test_ccc_matches_epir_pefr():
    res = ccc(MINI, WRIGHT)
    assert_allclose([res.estimate, res.ci_low, res.ci_high], EPIR_PEFR, rtol=1e-9)
    assert res.accuracy == pytest.approx(EPIR_PEFR_CB, rel=1e-9)
    assert res.n == 17 and res.ci_method == "fisher_z" and res.note == ""


@pytest.mark.parametrize("alpha, expected", [(0.10, EPIR_SMALL_90), (0.05, EPIR_SMALL_95)])
def test_ccc_matches_epir_small(alpha, expected):
    res = ccc(PRED, REF, alpha=alpha)
    assert_allclose([res.estimate, res.ci_low, res.ci_high], expected, rtol=1e-9)
    assert res.accuracy == pytest.approx(EPIR_SMALL_CB, rel=1e-9)


def test_ccc_pearson_matches_scipy_and_definition():
    res = ccc(PRED, REF)
    assert res.pearson_r == pytest.approx(stats.pearsonr(PRED, REF).statistic, rel=1e-12)
    # Lin (1989) eq. with population moments, written out independently
    x, y = np.array(PRED), np.array(REF)
    sxy = np.mean((x - x.mean()) * (y - y.mean()))
    expected = 2 * sxy / (x.var() + y.var() + (x.mean() - y.mean()) ** 2)
    assert res.estimate == pytest.approx(expected, rel=1e-12)
    assert res.estimate == pytest.approx(res.pearson_r * res.accuracy, rel=1e-12)


def test_ccc_bootstrap_matches_loop_and_is_seeded():
    res = ccc(MINI, WRIGHT, ci="bootstrap", n_resamples=400, seed=3)
    again = ccc(MINI, WRIGHT, ci="bootstrap", n_resamples=400, seed=3)
    assert res == again
    # independent per-resample loop with the same index matrix
    x, y = np.array(MINI, float), np.array(WRIGHT, float)
    idx = np.random.default_rng(3).integers(0, 17, size=(400, 17))
    boot = []
    for row in idx:
        a, b = x[row], y[row]
        boot.append(
            2 * np.cov(a, b, bias=True)[0, 1] / (a.var() + b.var() + (a.mean() - b.mean()) ** 2)
        )
    assert_allclose([res.ci_low, res.ci_high], np.quantile(boot, [0.025, 0.975]), rtol=1e-12)
    assert res.ci_method == "bootstrap"
    assert res.ci_low < res.estimate < res.ci_high


def test_strength_labels_mcbride():
    assert [strength_label(v) for v in (0.995, 0.99, 0.95, 0.93, 0.5, math.nan)] == [
        "almost perfect", "substantial", "substantial", "moderate", "poor", "",
    ]  # fmt: skip
    assert ccc(PRED, REF).strength == "almost perfect"


def test_ccc_degenerate_small_n():
    res = ccc([1.0], [1.5])  # n = 2 is defined: tests/reliability/test_stats_edge.py
    assert math.isnan(res.estimate) and math.isnan(res.ci_low) and res.n == 1
    assert "n = 1" in res.note and res.strength == ""


def test_ccc_both_constant():
    res = ccc([2.0, 2.0, 2.0], [2.0, 2.0, 2.0])
    assert math.isnan(res.estimate) and "constant" in res.note


def test_ccc_one_constant_is_zero_with_note():
    res = ccc([1.0, 1.0, 1.0, 1.0], [1.0, 2.0, 3.0, 4.0])
    assert res.estimate == 0.0
    assert (
        math.isnan(res.pearson_r) and math.isnan(res.ci_low) and "predicted is constant" in res.note
    )


def test_ccc_perfect_agreement():
    res = ccc([1.0, 2.0, 4.0], [1.0, 2.0, 4.0])
    assert res.estimate == pytest.approx(1.0)
    assert (res.ci_low, res.ci_high) == (1.0, 1.0) and "perfect" in res.note


def test_ccc_nan_policy():
    with pytest.raises(ValueError, match="NaN"):
        ccc([1.0, np.nan, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0])
    res = ccc([1.0, np.nan, 3.0, 4.5, 5.0], [1.0, 2.0, 3.0, 4.0, 5.0], nan_policy="omit")
    assert res.n == 4
    assert res.estimate == ccc([1.0, 3.0, 4.5, 5.0], [1.0, 3.0, 4.0, 5.0]).estimate


@pytest.mark.parametrize(
    "kwargs, match",
    [({"alpha": 0}, "alpha"), ({"alpha": 1.5}, "alpha"), ({"ci": "jackknife"}, "ci"),
     ({"ci": "bootstrap", "n_resamples": 0}, "n_resamples"), ({"nan_policy": "ignore"}, "nan_policy")],
)  # fmt: skip
def test_ccc_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ccc(PRED, REF, **kwargs)


def test_ccc_unequal_length():
    with pytest.raises(ValueError, match="length"):
        ccc([1.0, 2.0, 3.0], [1.0, 2.0])


def test_ccc_result_dict_and_repr():
    res = ccc(PRED, REF)
    d = res.to_dict()
    assert list(d)[:7] == [
        "estimate",
        "ci_low",
        "ci_high",
        "pearson_r",
        "accuracy",
        "n",
        "strength",
    ]
    assert "CCCResult(estimate=0.9906" in repr(res)
    und = CCCResult.undefined(1, "why")
    assert und.n == 1 and und.note == "why" and math.isnan(und.estimate)
    with pytest.raises(AttributeError):
        res.estimate = 0.0  # type: ignore[misc]


def test_ccc_uncorrelated_data_has_an_interval():
    # Pearson r = 0 exactly: CCC = 0, and the Fisher-z variance stays finite
    # (written with C_b = rho_c / r computed directly).
    x = [1.0, 2.0, 3.0, 2.0, 1.0]
    y = [1.0, 1.0, 2.0, 3.0, 3.0]
    assert np.corrcoef(x, y)[0, 1] == pytest.approx(0.0, abs=1e-15)
    res = ccc(x, y)
    assert res.estimate == pytest.approx(0.0, abs=1e-15)
    assert res.ci_low < 0 < res.ci_high and res.note == ""


def test_ccc_bootstrap_with_ties_leaves_out_constant_resamples():
    # lesion-count-like data: many ties, so some resamples are constant; a per-resample
    # loop that skips constant resamples must give the same interval and count.
    x = np.array([1.0, 1.0, 1.0, 2.0, 3.0])
    y = np.array([1.0, 1.0, 2.0, 2.0, 3.0])
    res = ccc(x, y, ci="bootstrap", n_resamples=500, seed=1)
    idx = np.random.default_rng(1).integers(0, 5, size=(500, 5))
    boot, skipped = [], 0
    for row in idx:
        a, b = x[row], y[row]
        if np.ptp(a) == 0 or np.ptp(b) == 0:
            skipped += 1
            continue
        boot.append(
            2 * np.cov(a, b, bias=True)[0, 1] / (a.var() + b.var() + (a.mean() - b.mean()) ** 2)
        )
    assert skipped > 0 and f"{skipped} constant resamples" in res.note
    assert_allclose([res.ci_low, res.ci_high], np.quantile(boot, [0.025, 0.975]), rtol=1e-10)
