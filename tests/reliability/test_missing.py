"""Missing predictions (issue 10, item 6): every absent (case, method) pair is named.

The pair is listed on the terminal, in ``missing.csv``, in ``summary.json`` and in the HTML
(with a banner); ``--missing empty`` scores it as an empty mask, as the autoPET challenge
evaluation does (a missing prediction counts as an empty one), and ``--missing fail`` refuses.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from agreement.measures.cohort import measure_cohort
from agreement.measures.options import MeasureOptions


def _drop(paths, method, case):
    (paths["pred"] / method / f"{case}.nii.gz").unlink()


@pytest.mark.bad_input(
    tool="agree report",
    given="a reference case that one method of two has no prediction for",
    message="missing: 1 (case, method) pair(s) without a prediction, not measured: c2/b; "
    "listed in OUT/missing.csv (also in summary.json `missing` and a banner in index.html)",
    exit_code=0,
)
def test_report_names_a_pair_missing_in_one_method(tmp_path, rel):
    paths = rel.cohort(tmp_path / "in", cases=("c1", "c2", "c3"), methods=("a", "b"))
    _drop(paths, "b", "c2")
    before = rel.snapshot(tmp_path / "in")
    out = tmp_path / "report"
    res = rel.agree("report", paths["pred"], "--reference", paths["ref"], "--pet", paths["pet"],
                    "-o", out, "--no-progress", "--compare-n-resamples", 100, "-j", 1)  # fmt: skip
    assert res.exit_code == 0, res.output
    line = next(ln for ln in res.output.splitlines() if ln.startswith("missing:"))
    assert line == (
        "missing: 1 (case, method) pair(s) without a prediction, not measured: c2/b; "
        f"listed in {out / 'missing.csv'}"
    )
    table = pd.read_csv(out / "missing.csv", dtype=str)
    assert table[["case_id", "method", "status"]].values.tolist() == [["c2", "b", "missing"]]
    assert table["reason"].iloc[0] == f"no prediction in {paths['pred'] / 'b'}"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_missing"] == 1
    assert summary["missing"] == [
        {"case_id": "c2", "method": "b", "status": "missing", "reason": table["reason"].iloc[0]}
    ]
    assert summary["skipped"] == []
    html = (out / "index.html").read_text()
    assert 'class="banner"' in html
    assert "1 (case, method) pair without a prediction, not measured" in html
    assert "<td>c2</td><td>b</td><td>missing</td>" in html
    assert "was not measured for that method (left out of its statistics)" in html  # Methods
    cases = pd.read_csv(out / "cases.csv", dtype={"case_id": str})
    assert sorted(cases.query("method == 'b'")["case_id"]) == ["c1", "c3"]
    assert rel.snapshot(tmp_path / "in") == before


@pytest.mark.bad_input(
    tool="agree report",
    given="nothing missing or failed",
    message="no banner; missing.csv holds only its header; summary.json `missing` is []",
    exit_code=0,
)
def test_report_without_missing_has_no_banner(tmp_path, rel):
    paths = rel.cohort(tmp_path / "in", cases=("c1", "c2", "c3"), methods=("a",))
    out = tmp_path / "report"
    res = rel.agree("report", paths["pred"], "--reference", paths["ref"], "--pet", paths["pet"],
                    "-o", out, "--no-progress", "-j", 1)  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "missing:" not in res.output
    assert (out / "missing.csv").read_text().strip() == "case_id,method,status,reason"
    assert json.loads((out / "summary.json").read_text())["missing"] == []
    assert 'class="banner"' not in (out / "index.html").read_text()


@pytest.mark.bad_input(
    tool="agree measure",
    given="a reference case with no prediction at all (flat folder), `--missing empty`",
    message="missing: 1 (case, method) pair(s) without a prediction, scored as empty masks: "
    "c3/pred; listed in OUT/missing.csv",
    exit_code=0,
)
def test_measure_missing_empty_scores_an_empty_mask(tmp_path, rel):
    paths = rel.cohort(tmp_path / "in", cases=("c1", "c2", "c3"), methods=("",))
    (paths["pred"] / "c3.nii.gz").unlink()
    before = rel.snapshot(tmp_path / "in")
    out = tmp_path / "tables"
    res = rel.agree("measure", paths["pred"], "--reference", paths["ref"], "--pet", paths["pet"],
                    "-o", out, "--missing", "empty", "--no-progress", "-j", 1)  # fmt: skip
    assert res.exit_code == 0, res.output
    assert (
        "missing: 1 (case, method) pair(s) without a prediction, scored as empty masks: c3/pred; "
        f"listed in {out / 'missing.csv'}"
    ) in res.output
    table = pd.read_csv(out / "missing.csv", dtype=str)
    assert table.values.tolist() == [
        ["c3", "pred", "empty", f"no prediction in {paths['pred']}; scored as an empty mask"]
    ]
    m = pd.read_csv(out / "measurements.csv", dtype={"case_id": str})
    c3 = m[m["case_id"] == "c3"].set_index("metric")
    # autoPET convention: an absent prediction is an empty mask; DESIGN §5: all six are 0.
    assert (c3["predicted"] == 0).all() and (c3.loc["tmtv", "reference"] > 0)
    cases = pd.read_csv(out / "cases.csv", dtype={"case_id": str}).set_index("case_id")
    assert cases.loc["c3", ["dsc", "tp", "fp", "fn"]].tolist() == [0.0, 0, 0, 2]
    assert rel.snapshot(tmp_path / "in") == before


@pytest.mark.bad_input(
    tool="agree measure",
    given="a pair without a prediction under `--missing fail`",
    message="Error: PRED/b: no prediction for case 'c2' (reference REF/c2.nii.gz); "
    "2 (case, method) pair(s) without a prediction in all (--missing fail)",
)
def test_measure_missing_fail_refuses(tmp_path, rel):
    paths = rel.cohort(tmp_path / "in", cases=("c1", "c2", "c3"), methods=("a", "b"))
    _drop(paths, "b", "c2")
    _drop(paths, "a", "c3")
    before = rel.snapshot(tmp_path / "in")
    out = tmp_path / "tables"
    res = rel.agree("measure", paths["pred"], "--reference", paths["ref"], "--pet", paths["pet"],
                    "-o", out, "--missing", "fail", "--no-progress")  # fmt: skip
    assert res.exit_code == 2
    assert rel.one_line(res.output) == (
        f"Error: {paths['pred'] / 'b'}: no prediction for case 'c2' (reference "
        f"{paths['ref'] / 'c2.nii.gz'}); 2 (case, method) pair(s) without a prediction in all "
        "(--missing fail)"
    )
    assert rel.no_output(out)
    assert rel.snapshot(tmp_path / "in") == before


@pytest.mark.bad_input(
    tool="agree report",
    given="a measurements table in which one method lacks a case",
    message="the pair is listed as missing ('not in the measurements table') in summary.json, "
    "missing.csv and the banner",
    exit_code=0,
)
def test_report_from_table_lists_a_pair_one_method_lacks(tmp_path, rel):
    rows = [
        {"case_id": f"c{i}", "method": method, "metric": "suv_max", "reference": 1.0 + i,
         "predicted": 1.1 + i + (method == "b") * 0.1}
        for i in range(4)
        for method in ("a", "b")
        if not (method == "b" and i == 2)
    ]  # fmt: skip
    table = tmp_path / "m.csv"
    pd.DataFrame(rows).to_csv(table, index=False)
    before = rel.snapshot(table)
    out = tmp_path / "report"
    res = rel.agree("report", table, "-o", out, "--no-progress", "--compare-n-resamples", 100)
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["missing"] == [
        {"case_id": "c2", "method": "b", "status": "missing",
         "reason": "not in the measurements table"}
    ]  # fmt: skip
    assert pd.read_csv(out / "missing.csv")["case_id"].tolist() == ["c2"]
    assert 'class="banner"' in (out / "index.html").read_text()
    assert rel.snapshot(table) == before


@pytest.mark.bad_input(
    tool="agreement.measure_cohort",
    given="a prediction missing in one method of several, `missing=\"skip\"` (the default)",
    message="CohortResult.missing lists (case_id, method, 'missing', reason); summary() counts it",
    exit_code=None,
)
def test_api_lists_missing_pairs(tmp_path, rel):
    paths = rel.cohort(tmp_path, cases=("c1", "c2"), methods=("a", "b"))
    _drop(paths, "a", "c1")
    res = measure_cohort(paths["pred"], paths["ref"], paths["pet"], progress=False, workers=1)
    assert res.missing[["case_id", "method", "status"]].values.tolist() == [["c1", "a", "missing"]]
    assert "1 (case, method) pair(s) without a prediction skipped" in res.summary()
    assert len(res.cases) == 3
    with pytest.raises(ValueError, match="missing must be one of skip, empty, fail"):
        MeasureOptions(missing="zero")


@pytest.mark.bad_input(
    tool="agree merge",
    given="two shards of a cohort with a pair missing in one of them",
    message="the merged missing.csv lists the pair once (shards' tables concatenated)",
    exit_code=0,
)
def test_merge_keeps_the_missing_pairs_of_every_shard(tmp_path, rel):
    paths = rel.cohort(tmp_path / "in", cases=("c1", "c2", "c3", "c4"), methods=("a", "b"))
    _drop(paths, "b", "c4")
    shards = []
    for k in (0, 1):
        shards.append(tmp_path / f"shard_{k}")
        res = rel.agree("measure", paths["pred"], "--reference", paths["ref"], "--pet",
                        paths["pet"], "-o", shards[-1], "--shard", f"{k}/2", "--no-progress",
                        "-j", 1)  # fmt: skip
        assert res.exit_code == 0, res.output
    out = tmp_path / "all"
    res = rel.agree("merge", *shards, "-o", out)
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out / "missing.csv", dtype=str)
    assert table[["case_id", "method", "status"]].values.tolist() == [["c4", "b", "missing"]]
