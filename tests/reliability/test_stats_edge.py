"""Statistics at their edges (issue 10, "Also"): a zero TOST bound, two cases.

Expected values are computed by hand from the published formulas, as R's epiR computes them:
``epiR::epi.ccc`` (Lin 1989: population moments, ``rho.c = 2 s_xy / (s_x² + s_y² + (x̄ - ȳ)²)``,
``C.b = rho.c / r``; its standard error divides by ``n - 2``, so two cases have no interval),
Bland & Altman (1986) (bias = mean d, SD with n - 1, limits bias ± 1.96 SD, bias CI with t on
n - 1 df), Lin et al. (2002) empirical CP (share of |d| <= δ|y|) with the Wilson (1927) interval,
and the empirical TDI (the p quantile of |d|, R type 7).
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from agreement.stats import bland_altman, ccc, coverage_probability, tdi, tost

# Two cases: predicted x, reference y.
X = [2.3, 3.0]
Y = [2.0, 5.0]


@pytest.mark.bad_input(
    tool="agreement.tost",
    given="a reference whose mean is 0 (relative bound Δ = 0)",
    message="equivalent=False (a bool, never NaN); note 'equivalence bound is 0 (mean reference "
    "0): equivalence cannot be shown'",
    exit_code=None,
)
def test_tost_zero_bound_is_a_real_false():
    res = tost([1.0, -0.5, 0.3, 0.2], [1.0, -1.0, 0.5, -0.5])
    assert res.equivalent is False
    assert not res.equivalent  # NaN was truthy: `if res.equivalent:` passed
    assert res.note == "equivalence bound is 0 (mean reference 0): equivalence cannot be shown"
    assert math.isnan(res.p_value) and res.lower == res.upper == 0.0
    assert tost([1.0, 2.0], [1.0, 2.0]).equivalent is False  # n < 3: a bool too


@pytest.mark.bad_input(
    tool="agreement.ccc / bland_altman / coverage_probability / tdi",
    given="two paired cases",
    message="CCC, C_b, bias, SD, limits, CP and the empirical TDI returned; NaN only where "
    "undefined (CCC interval, TDI upper limit), with a note 'n = 2 < 3: ...'",
    exit_code=None,
)
def test_two_cases_give_the_defined_numbers():
    # Lin / epiR by hand: x̄ = 2.65, ȳ = 3.5, s_x² = 0.1225, s_y² = 2.25 (divisor n), r = 1
    # (two points), s_xy = r·sqrt(s_x² s_y²) = 0.525, rho_c = 1.05 / (2.3725 + 0.85²).
    c = ccc(X, Y)
    rho_c = 1.05 / (0.1225 + 2.25 + 0.85**2)
    assert c.estimate == pytest.approx(rho_c, rel=1e-12)
    assert c.pearson_r == pytest.approx(1.0) and c.accuracy == pytest.approx(rho_c, rel=1e-12)
    assert c.strength == "poor" and math.isnan(c.ci_low) and math.isnan(c.ci_high)
    assert c.note == "n = 2 < 3: the interval is undefined"
    # Bland & Altman 1986: d = (0.3, -2.0), bias -0.85, SD 2.3 / sqrt(2).
    b = bland_altman(X, Y)
    sd = 2.3 / math.sqrt(2)
    assert (b.bias, b.sd) == pytest.approx((-0.85, sd), rel=1e-12)
    assert (b.loa_low, b.loa_high) == pytest.approx((-0.85 - 1.96 * sd, -0.85 + 1.96 * sd))
    t_975_1df = 12.706204736174698  # Student t, 0.975 quantile, 1 df (tables)
    half = t_975_1df * sd / math.sqrt(2)
    assert b.bias_ci == pytest.approx((-0.85 - half, -0.85 + half), rel=1e-9)
    assert "n = 2 < 3" in b.note
    # Empirical CP, δ = 0.2: |0.3| <= 0.4 covered, |-2.0| <= 1.0 not: CP = 1/2; Wilson interval.
    cp = coverage_probability(X, Y)
    z = 1.959963984540054
    centre, spread = (0.5 + z**2 / 4) / (1 + z**2 / 2), z * math.sqrt(0.125 + z**2 / 16)
    assert cp.estimate == 0.5
    assert (cp.ci_low, cp.ci_high) == pytest.approx(
        (centre - spread / (1 + z**2 / 2), centre + spread / (1 + z**2 / 2)), rel=1e-9
    )
    # Empirical TDI, p = 0.95, type 7: 0.3 + 0.95 (2.0 - 0.3).
    t = tdi(X, Y, n_resamples=200)
    assert t.estimate == pytest.approx(1.915, rel=1e-12)
    assert math.isnan(t.ci_high) and t.note == "n = 2 < 3: the upper limit is undefined"
    assert math.isnan(tdi(X, Y, method="lin").ci_high)


@pytest.mark.bad_input(
    tool="agree stats",
    given="a measurements table with two cases",
    message="agreement.csv has the CCC, bias, SD, CP and TDI of the two cases; empty interval "
    "cells and the note say which are undefined",
    exit_code=0,
)
def test_agree_stats_with_two_cases(tmp_path, rel):
    table = tmp_path / "m.csv"
    pd.DataFrame({"case_id": ["a", "b"], "method": "unet", "metric": "tmtv",
                  "reference": Y, "predicted": X}).to_csv(table, index=False)  # fmt: skip
    before = rel.snapshot(table)
    out = tmp_path / "agreement.csv"
    res = rel.agree("stats", table, "-o", out)
    assert res.exit_code == 0, res.output
    row = pd.read_csv(out).iloc[0]
    assert row["ccc"] == pytest.approx(1.05 / (0.1225 + 2.25 + 0.85**2), rel=1e-9)
    assert math.isnan(row["ccc_ci_low"]) and row["ba_bias"] == pytest.approx(-0.85)
    assert row["cp"] == 0.5 and row["tdi"] == pytest.approx(1.915)
    assert not row["equivalent"] and "ccc: n = 2 < 3: the interval is undefined" in row["note"]
    assert rel.snapshot(table) == before
