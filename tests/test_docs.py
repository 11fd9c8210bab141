"""Documentation that is generated from the code stays in sync with it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_cli_reference_is_current():
    pytest.importorskip("torch")  # segengine's commands are part of the reference
    spec = importlib.util.spec_from_file_location(
        "make_cli_reference", DOCS / "make_cli_reference.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert committed == module.reference(), (
        "docs/cli.md is stale: run python docs/make_cli_reference.py"
    )


@pytest.mark.parametrize(
    "name",
    [
        "statistics",
        "measures",
        "figures",
        "report",
        "engine",
        "phantoms",
        "demo",
        "benchmarks",
        "cli",
    ],
)
def test_readme_links_resolve(name):
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    assert f"docs/{name}.md" in readme
    assert (DOCS / f"{name}.md").is_file()
