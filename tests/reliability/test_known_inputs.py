"""Bad inputs that the tools already handled before the suite existed (kept as regressions)."""

from __future__ import annotations

import pytest


@pytest.mark.bad_input(
    tool="agree measure",
    given="a predictions folder that does not exist",
    message="Error: PRED: folder not found",
)
def test_measure_missing_prediction_folder(tmp_path, rel):
    paths = rel.cohort(tmp_path)
    before = rel.snapshot(tmp_path)
    out = tmp_path / "out"
    res = rel.agree("measure", tmp_path / "nope", "--reference", paths["ref"],
                    "--pet", paths["pet"], "-o", out)  # fmt: skip
    assert res.exit_code == 2
    assert rel.one_line(res.output) == f"Error: {tmp_path / 'nope'}: folder not found"
    assert rel.no_output(out)
    assert rel.snapshot(tmp_path) == before


@pytest.mark.bad_input(
    tool="agree stats",
    given="a measurements table without the `predicted` column",
    message="Error: FILE: missing column(s) 'predicted'; need case_id, method, metric, "
    "reference, predicted",
)
def test_stats_missing_column(tmp_path, rel):
    table = tmp_path / "m.csv"
    table.write_text("case_id,method,metric,reference\nc1,a,suv_max,1\n")
    before = rel.snapshot(tmp_path)
    out = tmp_path / "agreement.csv"
    res = rel.agree("stats", table, "-o", out)
    assert res.exit_code == 2
    assert rel.one_line(res.output).startswith(f"Error: {table}: missing column(s) 'predicted'")
    assert rel.no_output(out)
    assert rel.snapshot(tmp_path) == before
