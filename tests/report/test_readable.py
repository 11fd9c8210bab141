"""What a reader gets from the report: verdicts, outliers, honest p values, citation, provenance."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from agreement import StatsOptions
from agreement.analysis import analyse, holm
from agreement.report.build import write_report
from agreement.report.provenance import source_commit
from agreement.report.verdicts import CCC_THRESHOLD, method_verdicts, outliers
from figures.report import draw_report_figures

ROOT = Path(__file__).resolve().parents[2]


def _visible_text(html: str) -> str:
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", body)


# --- the verdict rule (docs/report.md, "Verdicts") -------------------------------------------


def test_verdict_rule_on_each_branch():
    table = pd.DataFrame(
        [
            # interchangeable: CCC at the threshold and equivalent
            {"metric": "suv_max", "ccc": 0.90, "equivalent": True, "tost_mean_diff": 0.1},
            # CCC high but not equivalent: fails on TOST alone
            {"metric": "tla", "ccc": 0.97, "equivalent": False, "tost_mean_diff": 12.0},
            # equivalent but CCC below 0.90: fails on CCC alone
            {"metric": "tmtv", "ccc": 0.85, "equivalent": True, "tost_mean_diff": -2.31},
            # not estimable
            {"metric": "dmax", "ccc": np.nan, "equivalent": np.nan, "tost_mean_diff": np.nan},
            # two cases: a CCC exists but says nothing; TOST is False by convention
            {
                "metric": "lesion_count",
                "ccc": 0.95,
                "equivalent": False,
                "tost_mean_diff": 0.5,
                "n": 2,
            },
        ]
    ).assign(method="unet/l1dfl", unit=["SUV", "SUV·ml", "ml", "cm", "count"])
    (v,) = method_verdicts(table, margin=0.2)
    assert CCC_THRESHOLD == 0.90
    assert v.interchangeable == ("suv_max",)
    assert v.not_interchangeable == ("tla", "tmtv")
    assert v.not_assessable == ("lesion_count", "dmax")
    assert v.sentence == (
        "unet/l1dfl: interchangeable with the reference for SUVmax (CCC ≥ 0.90, equivalent "
        "within ±20%); not for TLA (over-estimates by 12 SUV·ml on average, not equivalent) and "
        "TMTV (under-estimates by 2.3 ml on average, CCC 0.85); not assessable for Lesion count "
        "and Dmax (fewer than 3 paired cases or no spread)."
    )


def test_demo_verdicts_follow_the_rule(demo_report):
    # Recomputed here from agreement.csv, independently of agreement.report.verdicts.
    summary = json.loads((demo_report / "summary.json").read_text())
    agreement = pd.read_csv(demo_report / "agreement.csv")
    assert list(summary["verdicts"]) == summary["methods"]
    labels = {"suv_max": "SUVmax", "suv_mean": "SUVmean", "tla": "TLA", "tmtv": "TMTV",
              "lesion_count": "Lesion count", "dmax": "Dmax"}  # fmt: skip
    html = (demo_report / "index.html").read_text(encoding="utf-8")
    for method, sentence in summary["verdicts"].items():
        rows = agreement[agreement["method"] == method]
        good = rows[(rows["ccc"] >= 0.90) & (rows["equivalent"] == True)]  # noqa: E712
        head = sentence.split(";")[0]
        if good.empty:
            assert "not interchangeable" in head
        else:
            listed = head.split(" for ", 1)[1].split(" (CCC")[0]
            assert sorted(re.split(r", | and ", listed)) == sorted(
                labels[m] for m in good["metric"]
            )
        assert sentence.split(": ", 1)[1] in html.replace("&#39;", "'")
    assert html.index('id="verdicts"') < html.index('id="summary"')  # at the top


# --- outliers and the per-case rows -----------------------------------------------------------


def test_outliers_are_the_largest_differences(demo_report):
    summary = json.loads((demo_report / "summary.json").read_text())
    m = pd.read_csv(demo_report / "measurements.csv", dtype={"case_id": str})
    m["abs"] = (m["predicted"] - m["reference"]).abs()
    got = pd.DataFrame(summary["outliers"])
    assert list(got.columns) == ["metric", "rank", "case_id", "method", "reference",
                                 "predicted", "difference"]  # fmt: skip
    for metric, rows in got.groupby("metric"):
        expected = np.sort(m[m["metric"] == metric]["abs"].to_numpy())[::-1][:5]
        assert_allclose(np.abs(rows["difference"]), expected, rtol=1e-9)
        assert rows["rank"].tolist() == [1, 2, 3, 4, 5]
    # Each outlier case id links to a per-case block that exists, with a thumbnail.
    html = (demo_report / "index.html").read_text(encoding="utf-8")
    links = set(re.findall(r'<a href="#(case-\d+)">', html))
    assert len(links) == got["case_id"].nunique()
    for anchor in links:
        block = html.split(f'id="{anchor}"', 1)[1].split('<div class="case"', 1)[0]
        assert "data:image/png;base64," in block and "SUVmax" in block and "DSC" in block


def test_outliers_example():
    m = pd.DataFrame({"case_id": list("abcd"), "method": "x", "metric": "tmtv",
                      "reference": [1.0, 2.0, 3.0, 4.0], "predicted": [1.5, 0.0, 3.0, 7.0]})  # fmt: skip
    assert outliers(m, k=2)["case_id"].tolist() == ["d", "b"]
    with pytest.raises(ValueError, match="k must be"):
        outliers(m, k=0)


# --- honest statistics ------------------------------------------------------------------------


def test_holm_matches_r_p_adjust():
    # R: p.adjust(c(0.01, 0.04, 0.03, 0.005), method = "holm") -> 0.03 0.06 0.06 0.02
    # (Holm 1979: sort, multiply the i-th smallest by m - i + 1, cumulative maximum, cap at 1).
    assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02], rtol=1e-12)
    assert_allclose(holm([0.5, np.nan, 0.9]), [1.0, np.nan, 1.0])  # NaN stays out of the family


def test_demo_comparisons_carry_holm_p(demo_report):
    # Source: statsmodels.stats.multitest.multipletests(p, method="holm") on the p_value column.
    from statsmodels.stats.multitest import multipletests

    comp = pd.read_csv(demo_report / "comparisons.csv")
    expected = multipletests(comp["p_value"], method="holm")[1]
    assert_allclose(comp["p_holm"], expected, rtol=1e-12)
    assert (comp["p_holm"] >= comp["p_value"]).all()
    html = (demo_report / "index.html").read_text(encoding="utf-8")
    assert "post hoc" in html and "p (Holm)" in html


def test_small_strata_are_flagged_and_no_none_or_nan(demo_report):
    html = (demo_report / "index.html").read_text(encoding="utf-8")
    text = _visible_text(html)
    assert not re.search(r"\bNone\b|\bnan\b|\bNaN\b", text)
    assert "(n=2)†" in text and "fewer than 5 cases" in text
    # No interval printed for a stratum of fewer than 5 cases.
    assert not re.search(r"\] \(n=[1-4]\)", text)


def test_tables_have_at_most_12_columns(demo_report):
    html = (demo_report / "index.html").read_text(encoding="utf-8")
    for head in re.findall(r"<thead><tr>(.*?)</tr></thead>", html, flags=re.S):
        assert head.count("<th") <= 12, head[:200]


# --- cite and trace ---------------------------------------------------------------------------


def test_citation_cff_and_methods_md(demo_report):
    cff = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    assert re.search(r"^cff-version: 1\.2\.0$", cff, flags=re.M)
    version = re.search(r'^version: "([^"]+)"$', cff, flags=re.M).group(1)
    prov = json.loads((demo_report / "provenance.json").read_text())
    assert prov["toolkit"]["version"] == version  # one version, two places
    methods = (demo_report / "methods.md").read_text(encoding="utf-8")
    tail = methods.split("## How to cite", 1)[1]
    assert "pet-agreement" in tail and "CITATION.cff" in tail and "## " not in tail
    assert "Holm S." in methods


def test_provenance_records_the_git_commit(demo_report):
    prov = json.loads((demo_report / "provenance.json").read_text())["toolkit"]
    git = shutil.which("git")
    if not (ROOT / ".git").exists() or git is None:
        assert "git_commit_omitted" in prov
        return
    head = subprocess.run([git, "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip
    assert prov["git_commit"] == head and isinstance(prov["git_dirty"], bool)


def test_no_checkout_gives_a_reason(tmp_path):
    (tmp_path / "agreement").mkdir()
    rec = source_commit(tmp_path / "agreement")
    assert (
        "git_commit" not in rec and "not installed from a git checkout" in rec["git_commit_omitted"]
    )


# --- figures on request -----------------------------------------------------------------------


def test_vector_figures_keep_text_and_rasterise_points(tmp_path):
    rng = np.random.default_rng(1)
    ref = rng.uniform(1, 10, 12)
    m = pd.DataFrame({"case_id": [f"c{i}" for i in range(12)] * 2, "method": "u/a",
                      "metric": ["tmtv"] * 12 + ["suv_max"] * 12, "reference": np.r_[ref, ref],
                      "predicted": np.r_[ref, ref] + rng.normal(0, 0.5, 24)})  # fmt: skip
    analysis = analyse(m, options=StatsOptions(compare_n_resamples=200))
    out = write_report(analysis, tmp_path / "r", figures=draw_report_figures,
                       figure_formats=("svg", "pdf"), progress=False)  # fmt: skip
    svg = (out / "figures" / "bland_altman_modified.svg").read_text(encoding="utf-8")
    assert "<text" in svg and "Reference TMTV (ml)" in svg  # svg.fonttype none: text is text
    assert "<image" in svg  # the scatter layer is one embedded raster
    assert (out / "figures" / "bland_altman_modified.pdf").read_bytes().startswith(b"%PDF")
    with pytest.raises(ValueError, match="figure formats"):
        write_report(analysis, tmp_path / "x", figure_formats=("gif",), progress=False)
