"""agreement_table: column contract, agreement with the single functions, bootstrap."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from agreement.stats import agreement_table, bland_altman, ccc, coverage_probability, tdi, tost
from agreement.stats.table import COLUMNS

# column order of the shared contract (COMMON.md, agreement table)
CONTRACT = """method, metric, network, loss, unit, n,
ccc, ccc_ci_low, ccc_ci_high, ccc_pearson_r, ccc_accuracy, ccc_strength,
tost_mean_diff, tost_ci_low, tost_ci_high, tost_lower, tost_upper, tost_p_lower, tost_p_upper,
tost_p, equivalent,
ba_bias, ba_sd, ba_loa_low, ba_loa_high, ba_bias_ci_low, ba_bias_ci_high, ba_loa_low_ci_low,
ba_loa_low_ci_high, ba_loa_high_ci_low, ba_loa_high_ci_high, ba_slope, ba_slope_p,
cp, cp_ci_low, cp_ci_high, tdi, tdi_ci_high, icc, icc_ci_low, icc_ci_high, mean_reference, note"""

RNG = np.random.default_rng(3)


def _measurements(n=12):
    rows = []
    for method in ("unet/dice", "segresnet/l1dfl"):
        for metric in ("suv_max", "tmtv", "odd_metric"):
            ref = RNG.uniform(2, 30, n)
            pred = ref * (1 + RNG.normal(0, 0.1, n))
            rows.append(pd.DataFrame({"case_id": [f"c{i}" for i in range(n)], "method": method,
                                      "metric": metric, "reference": ref, "predicted": pred}))  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def test_columns_follow_contract():
    expected = [c.strip() for c in CONTRACT.replace("\n", " ").split(",")]
    table = agreement_table(_measurements())
    assert list(table.columns) == expected == COLUMNS
    assert len(table) == 6


def test_rows_match_single_functions():
    data = _measurements()
    table = agreement_table(data)
    row = table.iloc[4]
    g = data[(data["method"] == row["method"]) & (data["metric"] == row["metric"])]
    x, y = g["predicted"].to_numpy(), g["reference"].to_numpy()
    c, t, b = ccc(x, y), tost(x, y), bland_altman(x, y)
    cp, td = coverage_probability(x, y), tdi(x, y, n_resamples=0)
    assert row["ccc"] == c.estimate and row["ccc_ci_low"] == c.ci_low
    assert row["ccc_strength"] == c.strength and row["ccc_accuracy"] == c.accuracy
    assert row["tost_p"] == t.p_value and row["equivalent"] == t.equivalent
    assert row["tost_lower"] == t.lower and row["tost_p_upper"] == t.p_upper
    assert row["ba_loa_high_ci_high"] == b.loa_high_ci[1] and row["ba_slope_p"] == b.slope_p
    assert row["cp"] == cp.estimate and row["cp_ci_high"] == cp.ci_high
    assert row["tdi"] == td.estimate and math.isnan(row["tdi_ci_high"])
    assert row["mean_reference"] == pytest.approx(y.mean())


def test_network_loss_and_units():
    table = agreement_table(_measurements())
    first = table.iloc[0]
    assert (first["network"], first["loss"], first["unit"]) == ("unet", "dice", "SUV")
    assert table.loc[table["metric"] == "tmtv", "unit"].tolist() == ["ml", "ml"]
    assert table.loc[table["metric"] == "odd_metric", "unit"].tolist() == ["", ""]
    data = _measurements()
    data = data[data["method"] == "unet/dice"].assign(unit="kBq/ml", method="ensemble")
    out = agreement_table(data)
    assert out["unit"].eq("kBq/ml").all() and out["network"].isna().all()


def test_bootstrap_intervals_match_per_group_loop():
    data = _measurements(n=15)
    table = agreement_table(data, n_resamples=200, seed=5)
    again = agreement_table(data, n_resamples=200, seed=5)
    pd.testing.assert_frame_equal(table, again)
    row = table.iloc[2]
    g = data[(data["method"] == row["method"]) & (data["metric"] == row["metric"])]
    x, y = g["predicted"].to_numpy(), g["reference"].to_numpy()
    boot = ccc(x, y, ci="bootstrap", n_resamples=200, seed=5)
    assert (row["ccc_ci_low"], row["ccc_ci_high"]) == pytest.approx((boot.ci_low, boot.ci_high))
    assert row["tdi_ci_high"] == pytest.approx(tdi(x, y, n_resamples=200, seed=5).ci_high)
    assert row["ccc"] == boot.estimate


def test_degenerate_group_gives_nan_and_note():
    data = pd.DataFrame({"case_id": ["a", "b", "c", "a", "b"], "method": ["m"] * 5,
                         "metric": ["tmtv"] * 3 + ["dmax"] * 2,
                         "reference": [0.0, 0.0, 0.0, 1.0, 2.0],
                         "predicted": [0.0, 1.0, 2.0, 1.0, 2.5]})  # fmt: skip
    table = agreement_table(data, n_resamples=50)
    tmtv, dmax = table.iloc[0], table.iloc[1]
    assert "tost: equivalence bound is 0" in tmtv["note"] and table["equivalent"].dtype == bool
    assert not tmtv["equivalent"]
    assert "ccc: reference is constant" in tmtv["note"]
    assert dmax["n"] == 2 and math.isnan(dmax["ccc_ci_low"]) and "n = 2" in dmax["note"]
    assert dmax["ccc"] == pytest.approx(ccc(data.predicted[3:], data.reference[3:]).estimate)


def test_nan_policy_and_invalid_bootstrap():
    data = _measurements()
    data.loc[0, "predicted"] = np.nan
    with pytest.raises(ValueError, match="row 1"):
        agreement_table(data)
    with pytest.warns(UserWarning, match="dropped 1 row"):
        table = agreement_table(data, nan_policy="omit")
    assert table.iloc[0]["n"] == 11
    with pytest.raises(ValueError, match="n_resamples"):
        agreement_table(_measurements(), n_resamples=-5)
