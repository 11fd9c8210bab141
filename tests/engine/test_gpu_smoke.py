"""bench/gpu_smoke.py end to end on CPU, CI-sized (--quick): every step runs and checks itself."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("monai")

pytestmark = pytest.mark.engine

SCRIPT = Path(__file__).parents[2] / "bench" / "gpu_smoke.py"


def test_gpu_smoke_quick_on_cpu(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("gpu_smoke", SCRIPT)
    smoke = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(smoke)
    out = tmp_path / "rows.json"
    assert smoke.main(["--device", "cpu", "--quick", "--work", str(tmp_path / "w"),
                       "--json", str(out)]) == 0  # fmt: skip
    rows = {r["step"]: r for r in json.loads(out.read_text())["rows"]}
    assert rows["kill after epoch 1"]["note"] == "exit 137"
    assert rows["resume vs uninterrupted"]["identical"] is True  # bit-exact on CPU
    assert rows["measure (agreement)"]["note"].startswith("4 cases")
    printed = capsys.readouterr().out.splitlines()
    assert printed[-1].startswith("total") and printed[-1].endswith("ok")
