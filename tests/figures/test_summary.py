"""agreement.summary against hand computation (numbers worked out in the comments)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from agreement.summary import (
    detection_table,
    dmax_quartile_groups,
    dsc_by_dmax_quartile,
    dsc_by_scenario,
    dsc_by_tmtv_threshold,
    scenario_groups,
    tmtv_thresholds,
)


def _cases():
    # unet/dice: 3 patients. TP/FN/FP = (2,0,1), (1,1,0), (0,0,2) [no reference lesion].
    return pd.DataFrame(
        {
            "case_id": ["a", "b", "c", "a"],
            "method": ["unet/dice", "unet/dice", "unet/dice", "other"],
            "dsc": [0.8, 0.4, np.nan, 0.5],
            "tp": [2, 1, 0, 1],
            "fp": [1, 0, 2, 0],
            "fn": [0, 1, 0, 0],
            "f1": [0.8, 0.5, 0.0, 1.0],
            "n_reference_lesions": [2, 2, 0, 1],
        }
    )


def test_detection_table_hand_computed():
    table = detection_table(_cases()).set_index("method")
    row = table.loc["unet/dice"]
    # paper 000 Table I aggregation (notes/seed_code.md §8.1):
    # DSC {0.8, 0.4} (NaN dropped): mean 0.6, SD sqrt(0.08) = 0.28284, median 0.6, Q1 0.5, Q3 0.7
    assert row["n"] == 3
    assert row["dsc_mean"] == pytest.approx(0.6)
    assert row["dsc_sd"] == pytest.approx(np.sqrt(0.08))
    assert [row["dsc_median"], row["dsc_q1"], row["dsc_q3"]] == pytest.approx([0.6, 0.5, 0.7])
    # TP rate per patient: 2/2 = 1, 1/2 = 0.5, patient c has TP+FN = 0 -> left out
    assert row["tp_rate_mean"] == pytest.approx(0.75)
    assert row["tp_rate_sd"] == pytest.approx(np.std([1.0, 0.5], ddof=1))
    assert row["fn_rate_mean"] == pytest.approx(0.25)
    assert row["tp_rate_mean"] + row["fn_rate_mean"] == pytest.approx(1.0)
    # FP is a count per patient: {1, 0, 2} -> mean 1, SD 1
    assert [row["fp_mean"], row["fp_sd"]] == pytest.approx([1.0, 1.0])
    assert row["f1_mean"] == pytest.approx(1.3 / 3)
    assert (row["network"], row["loss"]) == ("unet", "dice")
    other = table.loc["other"]
    assert other["n"] == 1 and np.isnan(other["dsc_sd"]) and np.isnan(other["network"])


def test_detection_table_missing_column():
    with pytest.raises(ValueError, match="missing column"):
        detection_table(_cases().drop(columns="f1"))


def test_scenarios():
    assert scenario_groups([0, 1, 2, np.nan]).tolist() == ["none", "single", "multiple", ""]
    out = dsc_by_scenario(_cases().drop(columns=[]))
    dice = out[out["method"] == "unet/dice"].set_index("scenario")
    # scenario from n_reference_lesions: a, b multiple (DSC 0.8, 0.4), c none (NaN)
    assert dice.loc["multiple", "n"] == 2
    assert dice.loc["multiple", "dsc_median"] == pytest.approx(0.6)
    assert np.isnan(dice.loc["none", "dsc_mean"])


def test_tmtv_thresholds_hand_computed():
    # values 0..10: Q1 2.5, Q3 7.5, IQR 5, P85 8.5 -> 0, 5
    assert tmtv_thresholds(np.arange(11)).tolist() == [0.0, 5.0]
    # 1..100: Q1 25.75, Q3 75.25, IQR 49.5, P85 85.15 -> 0, 49.5
    assert tmtv_thresholds(np.arange(1, 101)) == pytest.approx([0.0, 49.5])
    # right-skewed: [1,1,1,2,2,3,50]: Q1 1, Q3 2.5, IQR 1.5, P85 = 3 + 0.1*47 = 7.7 -> 0..7.5 in 1.5
    assert tmtv_thresholds([1, 1, 1, 2, 2, 3, 50]) == pytest.approx([0, 1.5, 3, 4.5, 6, 7.5])
    assert tmtv_thresholds([]).tolist() == [0.0]
    assert tmtv_thresholds([4, 4, 4]).tolist() == [0.0]


def _measurements(metric, values):
    return pd.DataFrame(
        {
            "case_id": list(values),
            "method": "m",
            "metric": metric,
            "reference": list(values.values()),
            "predicted": 0.0,
        }
    )


def test_dsc_by_tmtv_threshold_patient():
    cases = pd.DataFrame(
        {
            "case_id": list("abcdefghijk"),
            "method": "m",
            "dsc": np.linspace(0.0, 1.0, 11),
            "n_reference_lesions": [1] * 5 + [2] * 6,
        }
    )
    meas = _measurements("tmtv", dict(zip("abcdefghijk", range(11), strict=False)))
    out = dsc_by_tmtv_threshold(cases, meas)
    alls = out[out["scenario"] == "all"]
    # thresholds 0 and 5 (see above); TMTV >= 5 keeps cases f..k, DSC 0.5..1.0 -> median 0.75
    assert alls["threshold"].tolist() == [0.0, 5.0]
    assert alls["median_dsc"].tolist() == pytest.approx([0.5, 0.75])
    assert alls["n"].tolist() == [11, 6]
    single = out[out["scenario"] == "single"]
    # single: TMTV 0..4 -> Q1 1, Q3 3, IQR 2, P85 3.4 -> 0, 2; >=2 keeps DSC .2,.3,.4 -> .3
    assert single["threshold"].tolist() == [0.0, 2.0]
    assert single["median_dsc"].tolist() == pytest.approx([0.2, 0.3])


def test_dsc_by_tmtv_threshold_lesion_counts_missed_as_zero():
    cases = pd.DataFrame(
        {"case_id": ["a", "b"], "method": "m", "dsc": [0.5, 0.5], "scenario": "multiple"}
    )
    lesions = pd.DataFrame(
        {
            "case_id": ["a", "a", "b", "b", "b"],
            "method": "m",
            "side": ["reference", "reference", "reference", "reference", "predicted"],
            "lesion_id": [1, 2, 1, 2, 1],
            "volume": [1.0, 2.0, 3.0, 4.0, 9.0],
            "lesion_dsc": [0.9, np.nan, 0.7, 0.6, 0.1],
            "status": ["tp", "fn", "tp", "tp", "tp"],
        }
    )
    out = dsc_by_tmtv_threshold(cases, None, level="lesion", lesions=lesions)
    alls = out[out["scenario"] == "all"]
    # reference volumes 1..4: Q1 1.75, Q3 3.25, IQR 1.5, P85 3.55 -> 0, 1.5, 3.0
    assert alls["threshold"].tolist() == pytest.approx([0.0, 1.5, 3.0])
    # DSC {0.9, 0 (missed), 0.7, 0.6}: all -> 0.65; vol>=1.5 -> {0,.7,.6} .6; vol>=3 -> {.7,.6} .65
    assert alls["median_dsc"].tolist() == pytest.approx([0.65, 0.6, 0.65])
    with pytest.raises(ValueError, match="lesions table"):
        dsc_by_tmtv_threshold(cases, None, level="lesion")
    with pytest.raises(ValueError, match="level"):
        dsc_by_tmtv_threshold(cases, None, level="voxel")


def test_dmax_quartiles_hand_computed():
    # quartiles of 1..8: 2.75, 4.5, 6.25
    groups = dmax_quartile_groups(np.arange(1, 9, dtype=float))
    assert list(groups) == ["G0", "G0", "G1", "G1", "G2", "G2", "G3", "G3"]
    assert pd.isna(dmax_quartile_groups([1.0, np.nan, 3.0])[1])
    cases = pd.DataFrame(
        {
            "case_id": list("abcdefgh") * 2,
            "method": ["m1"] * 8 + ["m2"] * 8,
            "dsc": np.r_[np.linspace(0.1, 0.8, 8), np.linspace(0.2, 0.9, 8)],
            "scenario": ["multiple"] * 7 + ["single"] + ["multiple"] * 7 + ["single"],
        }
    )
    meas = _measurements("dmax", dict(zip("abcdefgh", np.arange(1, 9, dtype=float), strict=False)))
    out = dsc_by_dmax_quartile(cases, meas)
    # the single-lesion case h is dropped; edges from a..g (1..7): 1, 2.5, 4, 5.5, 7
    assert len(out) == 14
    first = out[out["method"] == "m1"]
    assert first["group"].tolist() == ["G0", "G0", "G1", "G1", "G2", "G3", "G3"]
    assert first["low"].tolist() == pytest.approx([1, 1, 2.5, 2.5, 4, 5.5, 5.5])
    assert first["high"].iloc[-1] == pytest.approx(7.0)
