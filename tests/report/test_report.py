"""``agree report`` / ``agree demo``: contents, files beside index.html, bad inputs, safety."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from agreement.analysis import AGREEMENT_KEYS, SUMMARY_KEYS, analyse
from agreement.report.build import write_report
from agreement.report.demo import demo_data
from figures.report import draw_report_figures

SECTIONS = ["summary", "agreement", "figures", "detection", "lesions", "stratified",
            "comparisons", "methods", "about"]  # fmt: skip
# The documented keys of summary.json (docs/report.md); changing them breaks users' scripts.
DOCUMENTED_SUMMARY_KEYS = [
    "schema_version", "generator", "created", "n_cases", "n_methods", "methods", "metrics",
    "n_failed", "failed", "skipped", "parameters", "best_method", "best_method_rule", "agreement",
    "detection", "comparisons", "files", "n_missing", "missing", "n_skipped", "verdicts",
    "outliers",
]  # fmt: skip
DOCUMENTED_AGREEMENT_KEYS = [
    "method", "metric", "n", "ccc", "ccc_ci_low", "ccc_ci_high", "ccc_strength", "tost_p",
    "equivalent", "ba_bias", "ba_loa_low", "ba_loa_high", "cp", "tdi", "icc", "icc_ci_low",
    "icc_ci_high", "note",
]  # fmt: skip


def _html(folder: Path) -> str:
    return (folder / "index.html").read_text(encoding="utf-8")


# --- the demo, end to end -------------------------------------------------------------------


def test_demo_writes_every_file(demo_report):
    names = {p.name for p in demo_report.iterdir()}
    for name in ["index.html", "methods.md", "provenance.json", "summary.json", "agreement.csv",
                 "measurements.csv", "cases.csv", "lesions.csv", "comparisons.csv", "table1.csv",
                 "dsc_by_scenario.csv", "dsc_by_tmtv.csv", "dsc_by_dmax.csv", "figures"]:  # fmt: skip
        assert name in names, name
    figures = sorted((demo_report / "figures").iterdir())
    stems = {p.stem for p in figures}
    assert {"ccc_radar", "ccc_intervals", "tost_forest", "bland_altman_modified",
            "coverage_tdi"} <= stems  # fmt: skip
    # PNG only by default (the page embeds it); vector formats only with --figure-formats.
    assert {p.suffix for p in figures} == {".png"}
    for path in figures:
        assert path.stat().st_size > 1000


def test_demo_html_has_every_section_and_figure(demo_report):
    html = _html(demo_report)
    for section in SECTIONS:
        assert f'<section id="{section}">' in html, section
    n_figures = len(list((demo_report / "figures").glob("*.png")))
    assert html.count('<figure id="fig-') == n_figures
    assert html.count('src="data:image/png') >= n_figures
    summary = json.loads((demo_report / "summary.json").read_text())
    # Every (method, metric) of the agreement table appears with CCC, TOST, BA, CP and TDI.
    agreement = pd.read_csv(demo_report / "agreement.csv")
    assert len(agreement) == summary["n_methods"] * len(summary["metrics"]) == 36
    for label in ["SUVmax", "SUVmean", "TLA", "TMTV", "Lesion count", "Dmax"]:
        assert f">{label} (" in html or f">{label}<" in html, label
    assert "almost perfect" in html and "equivalent" in html


def test_demo_cases_match_the_bundled_cohort(demo_report):
    data = demo_data()
    cases = pd.read_csv(demo_report / "cases.csv", dtype={"case_id": str})
    assert sorted(cases["case_id"].unique()) == data.manifest["cases"]
    methods = sorted(cases["method"].unique())
    assert methods == sorted(data.manifest["methods"])
    summary = json.loads((demo_report / "summary.json").read_text())
    assert summary["n_cases"] == len(data.manifest["cases"]) and summary["n_failed"] == 0


def test_demo_provenance_lists_inputs_with_checksums(demo_report):
    # The builder wrote each file's SHA-256 into manifest.json when it created it.
    data = demo_data()
    prov = json.loads((demo_report / "provenance.json").read_text())
    expected = {str(data.root / rel): sha for rel, sha in data.manifest["files"].items()}
    got = {rec["path"]: rec["sha256"] for rec in prov["inputs"]}
    assert got == expected
    for rec in prov["inputs"]:
        assert rec["size"] == Path(rec["path"]).stat().st_size
    for name in ["python", "numpy", "scipy", "pandas", "statsmodels", "matplotlib", "cc3d",
                 "nibabel", "pet-agreement"]:  # fmt: skip
        assert prov["versions"][name] not in ("", "not installed"), name
    assert prov["command"] and re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", prov["created"])
    assert set(prov["timings_s"]) >= {"measure", "statistics", "figures", "html"}
    html = _html(demo_report)
    assert expected[next(iter(expected))] in html  # checksums shown in About


def test_summary_json_keys_are_stable(demo_report):
    assert list(SUMMARY_KEYS) == DOCUMENTED_SUMMARY_KEYS
    assert list(AGREEMENT_KEYS) == DOCUMENTED_AGREEMENT_KEYS
    summary = json.loads((demo_report / "summary.json").read_text())
    assert list(summary) == DOCUMENTED_SUMMARY_KEYS
    assert all(list(r) == DOCUMENTED_AGREEMENT_KEYS for r in summary["agreement"])
    assert summary["schema_version"] == 2
    # The best method follows the documented rule, recomputed here from agreement.csv.
    agreement = pd.read_csv(demo_report / "agreement.csv")
    means = agreement.groupby("method")["ccc"].mean()
    assert summary["best_method"] == means.idxmax()
    assert {c["b"] for c in summary["comparisons"]} == set(means.index) - {means.idxmax()}
    assert set(summary["files"]) >= {"index.html", "agreement.csv", "figures/ccc_radar.png"}


def test_index_html_is_self_contained(demo_report):
    html = _html(demo_report)
    # No attribute may point outside the page; only data: URIs and in-page anchors.
    for attr, value in re.findall(
        r"\b(src|href|srcset|action|poster|data)\s*=\s*[\"']([^\"']*)", html
    ):
        assert value.startswith(("data:", "#")), (attr, value[:80])
    lowered = html.lower()
    for bad in ["<link", "@import", "<script src", "<iframe", 'src="//', "url(http", "url(//"]:
        assert bad not in lowered, bad
    assert lowered.count("<script") == 1  # the inline sorter/zoom, nothing loaded
    assert "@media print" in html  # printable


def test_methods_md_reflects_parameters(demo_report, hostile_report):
    demo = (demo_report / "methods.md").read_text()
    assert "18-connectivity" in demo and "Δ = 20%" in demo and "2000 resamples" in demo
    assert "Lin LI. A concordance correlation coefficient" in demo
    hostile = (hostile_report / "methods.md").read_text()
    assert "Δ = 10%" in hostile and "Δ = 20%" not in hostile  # --margin 0.1


# --- reports from tables -------------------------------------------------------------------


def test_report_from_tables_uses_the_tables_beside_it(demo_report, tmp_path, helpers):
    keep = ["attention_unet/l1dfl", "segresnet/dice"]
    for name in ["measurements", "cases", "lesions"]:
        df = pd.read_csv(demo_report / f"{name}.csv", dtype={"case_id": str})
        df = df[df["method"].isin(keep)]
        if name == "measurements":  # two metrics keep the figures small
            df = df[df["metric"].isin(["tmtv", "dmax"])]
        df.to_csv(tmp_path / f"{name}.csv", index=False)
    out = tmp_path / "out"
    result = helpers.invoke("report", tmp_path / "measurements.csv", "-o", out, "--no-progress",
                    "--compare-n-resamples", "200")  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["methods"] == keep and summary["detection"]
    comparisons = pd.read_csv(out / "comparisons.csv")
    assert len(comparisons) == 2 and set(comparisons["b"]) == set(keep) - {summary["best_method"]}
    html = _html(out)
    assert "cases table" in html and "Reference lesions" in html  # lesion-level summary


def test_one_method_still_reports_without_comparisons(hostile_report):
    summary = json.loads((hostile_report / "summary.json").read_text())
    assert summary["n_methods"] == 1 and summary["comparisons"] == []
    assert not (hostile_report / "comparisons.csv").exists()
    assert "Only one method" in _html(hostile_report)


def test_metric_with_fewer_than_3_cases_is_not_estimable(hostile_report):
    summary = json.loads((hostile_report / "summary.json").read_text())
    rows = {r["metric"]: r for r in summary["agreement"]}
    # n = 2: the interval is not estimable (the estimate is: tests/reliability/test_stats_edge)
    assert rows["tmtv"]["n"] == 2 and rows["tmtv"]["ccc_ci_low"] is None
    assert "n = 2 < 3" in rows["tmtv"]["note"] and rows["tmtv"]["equivalent"] is False
    assert rows["suv_max"]["ccc_ci_low"] is not None
    html = _html(hostile_report)
    assert "Fewer than 3 paired cases (intervals not estimable, TOST not run)" in html


def test_names_from_the_file_system_are_escaped(hostile_report, helpers):
    html = _html(hostile_report)
    assert helpers.case not in html and "<script>alert" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the skipped case is listed
    assert helpers.method not in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;_case" in html


# --- bad input -------------------------------------------------------------------------------


def test_existing_output_folder_is_refused(tmp_path, helpers):
    measurements, _ = helpers.tables(tmp_path)
    out = tmp_path / "report"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = helpers.invoke("report", measurements, "-o", out, "--no-progress")
    assert result.exit_code == 2
    assert "output folder exists" in result.output and "--overwrite" in result.output
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_overwrite_replaces_the_folder(hostile_report):
    assert (hostile_report / "index.html").is_file()
    assert not (hostile_report / "old.txt").exists()


def test_failure_mid_report_leaves_no_folder(tmp_path, monkeypatch, helpers):
    import figures.render

    def broken(*args, **kwargs):
        raise RuntimeError("figure failed")

    monkeypatch.setattr(figures.render, "plan_figures", broken)
    measurements, _ = helpers.tables(tmp_path)
    out = tmp_path / "out" / "report"
    with pytest.raises(RuntimeError, match="figure failed"):
        write_report(
            analyse(pd.read_csv(measurements)), out, figures=draw_report_figures, progress=False
        )
    assert not out.exists()
    assert list((tmp_path / "out").iterdir()) == []  # no temporary folder left behind


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{pred}", "-o", "{out}"], "--reference"),
        (["{table}", "--reference", "{pred}", "-o", "{out}"], "folder of masks"),
        (["{table}", "--cases", "{table}", "-o", "{out}"], "not a cases table"),
        (["{bad}", "-o", "{out}"], "missing column"),
    ],
)
def test_bad_inputs_exit_2_with_one_line(tmp_path, args, message, helpers):
    measurements, _ = helpers.tables(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("case_id,method\na,b\n")
    fill = {"pred": demo_data().pred, "table": measurements, "out": tmp_path / "o", "bad": bad}
    result = helpers.invoke("report", *[a.format(**fill) for a in args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


def test_report_from_folders_with_a_shard(tmp_path, helpers):
    # One method (a flat folder of <case>.nii.gz) and every 6th case keep this quick.
    data = demo_data()
    out = tmp_path / "r"
    pred = data.pred / "segresnet" / "l1dfl"
    result = helpers.invoke("report", pred, "--reference", data.reference, "--pet", data.pet,
                            "-o", out, "--shard", "0/6", "--no-progress", "-j", "1")  # fmt: skip
    assert result.exit_code == 0, result.output
    cases = pd.read_csv(out / "cases.csv", dtype={"case_id": str})
    expected = data.manifest["cases"][0::6]
    assert sorted(cases["case_id"].unique()) == expected
    assert set(cases["method"]) == {"l1dfl"}  # named after the folder
    prov = json.loads((out / "provenance.json").read_text())
    assert len(prov["inputs"]) == len(expected) * 3  # reference + PET + prediction
    html = _html(out)
    assert "Layout detected" in html and "Only one method" in html
