"""Progress off a terminal (SLURM logs): plain lines, never ``\\r`` frames (issue 10, "Also")."""

from __future__ import annotations

import io
import sys

from click.testing import CliRunner

from agreement.cli import agree
from agreement.progress import LineProgress, progress_bar


def test_log_gets_plain_lines_not_frames(tmp_path, nifti):
    paths = nifti.cohort(tmp_path)
    res = CliRunner().invoke(agree, [str(a) for a in (
        "measure", paths["pred"], "--reference", paths["ref"], "--pet", paths["pet"],
        "-o", tmp_path / "out", "-j", "1")])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "\r" not in res.output  # tqdm would redraw with \r in a log file
    assert res.stderr.splitlines() == ["measure: 1/2 case(s)", "measure: 2/2 case(s)"]


def test_report_names_each_finished_stage(tmp_path, nifti):
    paths = nifti.cohort(tmp_path, cases=("c1", "c2", "c3"))
    res = CliRunner().invoke(agree, [str(a) for a in (
        "report", paths["pred"], "--reference", paths["ref"], "--pet", paths["pet"],
        "-o", tmp_path / "report", "-j", "1", "--compare-n-resamples", "100")])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "\r" not in res.output
    stages = [ln.split(": ", 1)[1] for ln in res.stderr.splitlines() if ln.startswith("report: ")]
    assert [s for s in stages if "/" not in s] == [
        "statistics", "figures", "tables", "provenance", "html"
    ]


def test_terminal_gets_a_tqdm_bar(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stderr", Terminal())
    bar = progress_bar(total=3, desc="measure", unit="case")
    assert not isinstance(bar, LineProgress) and not bar.disable
    bar.close()
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert isinstance(progress_bar(total=3, desc="measure", unit="case"), LineProgress)
    assert progress_bar(total=3, desc="measure", unit="case", enabled=False).disable


def test_long_runs_write_about_twenty_lines(capsys):
    bar = LineProgress(total=1000, desc="measure", unit="case")
    for _ in range(1000):
        bar.update()
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "measure: 1/1000 case(s)" and lines[-1] == "measure: 1000/1000 case(s)"
    assert len(lines) == 21
