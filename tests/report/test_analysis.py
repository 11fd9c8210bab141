"""agreement.analyse: compute once into a frozen Analysis; render it many times."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from agreement import StatsOptions, agreement_table, analyse, write_report
from agreement.analysis import SUMMARY_KEYS, Analysis


@pytest.fixture(scope="module")
def measurements():
    rng = np.random.default_rng(3)
    ref = rng.uniform(1, 20, 10)
    rows = [
        pd.DataFrame({"case_id": [f"c{i}" for i in range(10)], "method": m, "metric": k,
                      "reference": ref, "predicted": ref + rng.normal(0, s, 10)})
        for m, s in (("unet/dice", 0.3), ("unet/l1dfl", 2.0)) for k in ("tmtv", "suv_max")
    ]  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def test_analysis_is_frozen_and_holds_the_agreement_table(measurements):
    options = StatsOptions(margin=0.1, compare_n_resamples=200)
    a = analyse(measurements, options=options)
    assert isinstance(a, Analysis) and a.options is options
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.best_method = "x"  # type: ignore[misc]
    pd.testing.assert_frame_equal(a.agreement, agreement_table(measurements, margin=0.1))
    assert a.best_method == "unet/dice" and list(a.comparisons["b"].unique()) == ["unet/l1dfl"]
    assert a.comparisons["n_boot"].eq(200).all()


def test_to_dict_is_the_written_summary_json(measurements, tmp_path):
    a = analyse(measurements, options=StatsOptions(compare_n_resamples=200))
    out = write_report(a, tmp_path / "r", progress=False)
    written = json.loads((out / "summary.json").read_text())
    files = written["files"]
    extra = {k: v for k, v in written["parameters"].items() if k not in a.options.parameters()}
    assert list(written) == list(SUMMARY_KEYS)
    assert written == json.loads(json.dumps(a.to_dict(files=files, parameters=extra)))
    # a registry statistic reaches every output: agreement.csv, summary.json, the page's tables
    assert {"icc", "icc_ci_low", "icc_ci_high"} <= set(written["agreement"][0])
    assert "icc_ci_high" in (out / "agreement.csv").read_text().splitlines()[0]
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "ICC(A,1) [CI]" in html and "McGraw KO, Wong SP" in html


def test_render_all_takes_an_analysis(measurements):
    from figures import render_all

    a = analyse(measurements, options=StatsOptions(compare_n_resamples=200))
    by_analysis = render_all(a)
    by_tables = render_all(measurements, agreement=a.agreement)
    assert list(by_analysis) == list(by_tables)
