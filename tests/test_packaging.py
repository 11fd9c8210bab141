"""The package contract: light core, entry points, exports."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)


def test_agreement_never_imports_torch_or_monai():
    # Import every public name and every submodule of agreement and figures, then check that
    # neither torch nor monai was loaded as a side effect.
    code = """
import importlib, pkgutil, sys
import agreement, figures
for pkg in (agreement, figures):
    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        importlib.import_module(info.name)
for name in agreement.__all__:
    getattr(agreement, name)
for name in figures.__all__:
    getattr(figures, name)
bad = sorted(m for m in sys.modules if m.split(".")[0] in {"torch", "monai"})
print(",".join(bad))
"""
    result = _run(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"agreement/figures imported: {result.stdout.strip()}"


def test_segengine_import_and_phantoms_are_light():
    result = _run(
        "import sys, segengine; segengine.make_phantoms;"
        "print(any(m.split('.')[0] in {'torch', 'monai'} for m in sys.modules))"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("module", ["agreement", "segengine", "figures"])
def test_exports_resolve(module):
    if module == "segengine":
        pytest.importorskip("torch")
        pytest.importorskip("monai")
    mod = __import__(module)
    for name in mod.__all__:
        assert getattr(mod, name) is not None


def test_unknown_attribute_raises():
    import agreement

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        agreement.nope  # noqa: B018


@pytest.mark.parametrize("command", ["agree", "segengine"])
def test_console_scripts_help(command):
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; from {'agreement' if command == 'agree' else 'segengine'}.cli import main; sys.argv=['{command}', '--help']; main()",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


def test_result_classes_exported():
    import dataclasses

    import agreement

    results = [n for n in agreement.__all__ if n.endswith("Result")]
    assert {"CCCResult", "TOSTResult", "BlandAltmanResult", "CoverageResult", "TDIResult",
            "CompareResult", "DetectionResult", "CaseResult", "CohortResult"} <= set(results)
    for name in results:
        cls = getattr(agreement, name)
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, name
    assert "CCCResult" in dir(agreement)


@pytest.mark.parametrize("package", ["agreement", "figures", "segengine"])
def test_packages_use_the_lazy_loader(package):
    # One helper (agreement/_lazy.py), not a hand-written __getattr__ per package.
    from pathlib import Path

    source = (Path(__file__).parents[1] / package / "__init__.py").read_text()
    assert "lazy_exports(__name__" in source
    assert "def __getattr__" not in source
