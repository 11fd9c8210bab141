"""The ``agree`` group: one-line errors with exit code 2 for every kind of user error."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from agreement.cli import agree


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["stats", "--alpha", "0.7", "m.csv", "-o", "a.csv"], "--alpha"),  # bad option value
        (["measure", "-o", "out"], "Missing argument 'PRED'"),  # missing argument
        (["nope"], "No such command 'nope'"),  # unknown command
        (["stats", "missing.csv", "-o", "a.csv"], "missing.csv"),  # missing file
    ],
)
def test_user_errors_are_one_line_exit_2(args, needle, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(agree, args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error:") and needle in lines[0]
    assert "Traceback" not in result.output


def test_help_exits_0_and_lists_commands():
    result = CliRunner().invoke(agree, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "report", "measure", "stats", "figures", "merge"):
        assert command in result.output
