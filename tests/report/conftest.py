"""Reports built once per session and shared by the report tests (each build costs seconds)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from agreement.atomic import MARKER
from agreement.cli import agree

HOSTILE_CASE = "<script>alert(1)</script>"
HOSTILE_METHOD = "<img src=x onerror=alert(2)>"


def invoke(*args: str):
    """Run ``agree`` in-process; return the click result."""
    return CliRunner().invoke(agree, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="session")
def demo_report(tmp_path_factory) -> Path:
    """``agree demo -o DIR``: the bundled cohort end to end (folder mode)."""
    out = tmp_path_factory.mktemp("demo") / "report"
    result = invoke("demo", "-o", out, "--no-progress")
    assert result.exit_code == 0, result.output
    assert f"{out / 'index.html'}" in result.output
    return out


def hostile_tables(folder: Path) -> tuple[Path, Path]:
    """One method with a hostile name; SUVmax on 8 cases (one hostile id), TMTV on 2 only."""
    rng = np.random.default_rng(5)
    ids = [HOSTILE_CASE] + [f"case_{i}" for i in range(1, 8)]
    ref = rng.uniform(2, 20, 8)
    rows = [
        {"case_id": c, "method": HOSTILE_METHOD, "metric": "suv_max", "reference": r,
         "predicted": r * rng.normal(1.0, 0.05)}
        for c, r in zip(ids, ref, strict=True)
    ] + [
        {"case_id": c, "method": HOSTILE_METHOD, "metric": "tmtv", "reference": v, "predicted": v + 1}
        for c, v in zip(ids[:2], [3.0, 7.0], strict=True)
    ]  # fmt: skip
    measurements = folder / "measurements.csv"
    pd.DataFrame(rows).to_csv(measurements, index=False)
    failed = folder / "skipped.csv"
    pd.DataFrame(
        {"case_id": ["<b>bold</b>_case", HOSTILE_CASE], "method": [HOSTILE_METHOD] * 2,
         "reason": ["pred/<b>bold</b>_case.nii.gz: not a NIfTI file", "reference missing"]}
    ).to_csv(failed, index=False)  # fmt: skip
    return measurements, failed


@pytest.fixture(scope="session")
def hostile_report(tmp_path_factory) -> Path:
    """``agree report TABLE --failed ... --margin 0.1 --overwrite``: one method, a metric with
    2 cases, hostile names, written over an existing folder."""
    folder = tmp_path_factory.mktemp("hostile")
    measurements, failed = hostile_tables(folder)
    out = folder / "report"
    out.mkdir()
    (out / "old.txt").write_text("an earlier report")  # replaced: --overwrite
    (out / MARKER).write_text("{}")  # ... because the folder is an output of this toolkit
    result = invoke("report", measurements, "--failed", failed, "-o", out, "--margin", "0.1",
                    "--no-progress", "--overwrite")  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="session")
def helpers() -> SimpleNamespace:
    """What the tests share: the CLI runner, the hostile names and the table builder."""
    return SimpleNamespace(
        invoke=invoke, case=HOSTILE_CASE, method=HOSTILE_METHOD, tables=hostile_tables
    )
