"""Shared test settings: a headless matplotlib backend and a CI-friendly hypothesis profile."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "project",
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("project")


@pytest.fixture
def synthetic_dicom():
    """The synthetic DICOM writer of tests/dicom/synthetic.py (needs pydicom)."""
    import importlib.util
    from pathlib import Path

    pytest.importorskip("pydicom")
    path = Path(__file__).parent / "dicom" / "synthetic.py"
    spec = importlib.util.spec_from_file_location("_synthetic_dicom", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
