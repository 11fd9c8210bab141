"""Paired bootstrap comparison of two methods on the same cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from agreement.stats import CompareResult, ccc, compare_methods

RNG = np.random.default_rng(21)
N = 30
REF = RNG.uniform(5, 30, N)
GOOD = REF * (1 + RNG.normal(0, 0.05, N))
BAD = REF * (1 + RNG.normal(0.1, 0.3, N))


def _table(**methods):
    frames = [
        pd.DataFrame({"case_id": [f"c{i}" for i in range(N)], "method": name, "metric": "tmtv",
                      "reference": REF, "predicted": pred})
        for name, pred in methods.items()
    ]  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def test_estimate_is_difference_of_statistics():
    res = compare_methods(_table(A=GOOD, B=BAD), "A", "B", stat="ccc", metric="tmtv", n_resamples=200)
    assert isinstance(res, CompareResult)
    assert res.stat_a == pytest.approx(ccc(GOOD, REF).estimate, rel=1e-12)
    assert res.estimate == pytest.approx(
        ccc(GOOD, REF).estimate - ccc(BAD, REF).estimate, rel=1e-12
    )
    assert res.n == N and res.ci_low <= res.estimate <= res.ci_high


def _loop_reference(stat_fn, n_boot, seed, alpha=0.05):
    """Straightforward per-resample loop; both methods share the resampled cases."""
    idx = np.random.default_rng(seed).integers(0, N, size=(n_boot, N))
    diffs = np.array([stat_fn(GOOD[r], REF[r]) - stat_fn(BAD[r], REF[r]) for r in idx])
    low, high = np.quantile(diffs, [alpha / 2, 1 - alpha / 2])
    p = 2 * min((1 + np.sum(diffs <= 0)) / (n_boot + 1), (1 + np.sum(diffs >= 0)) / (n_boot + 1))
    return low, high, min(1.0, p)


STAT_FNS = {
    "mae": lambda x, y: np.mean(np.abs(x - y)),
    "abs_bias": lambda x, y: abs(np.mean(x - y)),
    "loa_width": lambda x, y: 2 * 1.96 * np.std(x - y, ddof=1),
    "cp": lambda x, y: np.mean(np.abs(x - y) <= 0.2 * np.abs(y)),
    "tdi": lambda x, y: np.quantile(np.abs(x - y), 0.95),
    "ccc": lambda x, y: ccc(x, y).estimate,
}


@pytest.mark.parametrize("stat", sorted(STAT_FNS))
def test_vectorised_bootstrap_matches_loop(stat):
    res = compare_methods(
        _table(A=GOOD, B=BAD), "A", "B", stat=stat, metric="tmtv", n_resamples=300, seed=8
    )
    low, high, p = _loop_reference(STAT_FNS[stat], 300, 8)
    assert (res.ci_low, res.ci_high, res.p_value) == pytest.approx((low, high, p), rel=1e-10)


def test_clear_difference_is_significant_and_identical_methods_are_not():
    res = compare_methods(_table(A=GOOD, B=BAD), "A", "B", stat="mae", metric="tmtv")
    assert res.p_value < 0.01 and res.ci_high < 0
    same = compare_methods(_table(A=GOOD, B=GOOD.copy()), "A", "B", stat="mae", metric="tmtv")
    assert same.estimate == 0 and same.p_value == 1.0 and (same.ci_low, same.ci_high) == (0, 0)


def test_all_metrics_dataframe_and_unpaired_cases():
    table = _table(A=GOOD, B=BAD)
    extra = table[table["method"] == "A"].assign(metric="suv_max")
    table = pd.concat(
        [table, extra, table[table["method"] == "B"].assign(metric="suv_max").iloc[3:]]
    )
    out = compare_methods(table, "A", "B", stat="mae", n_resamples=100)
    assert list(out["metric"]) == ["tmtv", "suv_max"]
    assert out.loc[1, "n"] == N - 3 and "3 case(s)" in out.loc[1, "note"]
    assert list(out.columns[:8]) == [
        "metric",
        "stat",
        "a",
        "b",
        "estimate",
        "ci_low",
        "ci_high",
        "p_value",
    ]


def test_degenerate_and_invalid():
    small = _table(A=GOOD, B=BAD).groupby("method").head(2)
    res = compare_methods(small, "A", "B", metric="tmtv")
    assert math.isnan(res.estimate) and "n = 2" in res.note
    const = _table(A=np.full(N, 3.0), B=BAD)
    const["reference"] = 3.0
    res = compare_methods(const, "A", "B", stat="ccc", metric="tmtv", n_resamples=50)
    assert math.isnan(res.estimate) and "undefined" in res.note
    table = _table(A=GOOD, B=BAD)
    for kwargs in ({"stat": "icc"}, {"n_resamples": 0}, {"metric": "dmax"}, {"alpha": 1.0}):
        with pytest.raises(ValueError):
            compare_methods(table, "A", "B", **kwargs)
    with pytest.raises(ValueError, match="not in the table"):
        compare_methods(table, "A", "C")


@pytest.mark.parametrize("stat", ["ccc", "mae", "loa_width"])
def test_huge_values_compare_like_scaled_ones(stat):
    # review: at 1e200 the squared moments overflowed and every resample was "undefined"
    ref = np.array([10.0, 12.0, 8.0, 20.0, 15.0, 9.0])
    a = pd.DataFrame(
        {
            "case_id": list("abcdef"),
            "method": "A",
            "metric": "tmtv",
            "reference": ref,
            "predicted": [10.5, 11.8, 8.1, 19.5, 15.2, 9.1],
        }
    )
    b = a.assign(method="B", predicted=[13.0, 9.0, 9.5, 24.0, 12.0, 11.0])
    df = pd.concat([a, b])
    base = compare_methods(df, "A", "B", stat=stat, metric="tmtv", n_resamples=300)
    big_df = df.assign(reference=df.reference * 1e200, predicted=df.predicted * 1e200)
    big = compare_methods(big_df, "A", "B", stat=stat, metric="tmtv", n_resamples=300)
    unit = 1.0 if stat == "ccc" else 1e200
    for name in ("estimate", "ci_low", "ci_high", "stat_a"):
        assert getattr(big, name) / unit == pytest.approx(getattr(base, name), rel=1e-9)
    assert big.p_value == base.p_value
