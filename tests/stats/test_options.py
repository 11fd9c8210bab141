"""StatsOptions: validation, one home for the defaults, and the deprecated spellings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from agreement import StatsOptions, agreement_table, ccc, compare_methods, tdi

X = [1.0, 2.1, 2.9, 4.2, 5.1, 5.8]
Y = [1.1, 2.0, 3.0, 4.0, 5.0, 6.0]


def _table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    ref = rng.uniform(1, 10, 12)
    frames = [
        pd.DataFrame({"case_id": [f"c{i}" for i in range(12)], "method": m, "metric": "tmtv",
                      "reference": ref, "predicted": ref + rng.normal(0, s, 12)})
        for m, s in (("A", 0.2), ("B", 1.0))
    ]  # fmt: skip
    return pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"alpha": 0.5}, "alpha"), ({"margin": 0}, "margin"), ({"delta": -1}, "delta"),
     ({"tdi_p": 1.0}, "tdi_p"), ({"n_resamples": -1}, "n_resamples"),
     ({"compare_n_resamples": 0}, "compare_n_resamples"), ({"seed": -2}, "seed"),
     ({"x": "diff"}, "x"), ({"loa_ci": "wald"}, "loa_ci"), ({"nan_policy": "drop"}, "nan_policy"),
     ({"relative": "yes"}, "relative")],
)  # fmt: skip
def test_invalid_options_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        StatsOptions(**kwargs)


def test_options_are_frozen_and_unknown_names_suggest():
    options = StatsOptions()
    with pytest.raises(AttributeError):
        options.alpha = 0.1  # type: ignore[misc]
    with pytest.raises(TypeError, match="did you mean 'margin'"):
        agreement_table(_table(), margn=0.1)


def test_options_object_equals_keywords():
    table = _table()
    by_keywords = agreement_table(table, margin=0.1, n_resamples=50, seed=3)
    by_options = agreement_table(table, options=StatsOptions(margin=0.1, n_resamples=50, seed=3))
    pd.testing.assert_frame_equal(by_keywords, by_options)


def test_agreement_table_bootstrap_keyword_is_deprecated():
    table = _table()
    with pytest.warns(FutureWarning, match="bootstrap= is deprecated; use n_resamples="):
        old = agreement_table(table, bootstrap=50, seed=1)
    pd.testing.assert_frame_equal(old, agreement_table(table, n_resamples=50, seed=1))


def test_compare_methods_n_boot_keyword_is_deprecated():
    table = _table()
    with pytest.warns(FutureWarning, match="n_boot= is deprecated; use n_resamples="):
        old = compare_methods(table, "A", "B", metric="tmtv", n_boot=100)
    assert old == compare_methods(table, "A", "B", metric="tmtv", n_resamples=100)
    from_options = compare_methods(
        table, "A", "B", metric="tmtv", options=StatsOptions(compare_n_resamples=100)
    )
    assert from_options == old


def test_ccc_and_tdi_n_boot_keywords_are_deprecated():
    with pytest.warns(FutureWarning, match="ccc\\(\\): n_boot= is deprecated"):
        old = ccc(X, Y, ci="bootstrap", n_boot=100, seed=2)
    assert old == ccc(X, Y, ci="bootstrap", n_resamples=100, seed=2)
    with pytest.warns(FutureWarning, match="tdi\\(\\): n_boot= is deprecated"):
        old = tdi(X, Y, n_boot=100, seed=2)
    assert old == tdi(X, Y, n_resamples=100, seed=2)
