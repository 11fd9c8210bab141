"""Documentation that is generated from the code stays in sync with it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_cli_reference_is_current():
    pytest.importorskip("torch")  # segengine's commands are part of the reference
    result = subprocess.run(
        [sys.executable, str(DOCS / "make_cli_reference.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, (
        f"docs/cli.md is stale: run python docs/make_cli_reference.py\n{result.stderr}"
    )


def test_reliability_catalogue_is_current():
    # every test in tests/reliability has a bad_input mark and a row in docs/reliability.md
    result = subprocess.run(
        [sys.executable, str(DOCS / "make_reliability.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "name",
    [
        "architecture",
        "statistics",
        "measures",
        "figures",
        "report",
        "engine",
        "phantoms",
        "demo",
        "benchmarks",
        "cli",
        "reliability",
        "dicom",
        "changes",
    ],
)
def test_readme_links_resolve(name):
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    assert f"docs/{name}.md" in readme
    assert (DOCS / f"{name}.md").is_file()
