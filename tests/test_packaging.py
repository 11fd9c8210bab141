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


# Declared dependencies that our code reaches only through another library: the module of
# ours that needs each, and the word in it that shows the use.
_INDIRECT = {
    "einops": ("segengine/networks.py", "UNETR"),  # MONAI's UNETR blocks (einops.Rearrange)
    "pyarrow": ("agreement/tables.py", "parquet"),  # pandas' Parquet engine
    "dask": ("agreement/measures/cluster.py", "dask"),  # joblib's Dask backend
}
_IMPORT_NAMES = {"connected-components-3d": "cc3d", "pyyaml": "yaml", "pillow": "PIL"}
_RUNTIME_EXTRAS = ("engine", "parquet", "itk", "dask", "dicom")


def _imported_modules(root):
    import ast

    found = set()
    for package in ("agreement", "figures", "segengine"):
        for path in (root / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    found.add(node.module.split(".")[0])
    return found


def test_every_runtime_dependency_is_imported():
    # pyproject's dependencies and runtime extras (not test/dev) against the imports that
    # ast finds in the three packages, lazy imports inside functions included.
    import re
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")
    root = Path(__file__).parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in _RUNTIME_EXTRAS:
        declared += project["optional-dependencies"][extra]
    imported = _imported_modules(root)
    unused = []
    for requirement in declared:
        dist = re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0]
        name = _IMPORT_NAMES.get(dist.lower(), dist.replace("-", "_"))
        if name in imported:
            continue
        if dist in _INDIRECT:
            module, word = _INDIRECT[dist]
            assert word.lower() in (root / module).read_text().lower(), (dist, module)
            continue
        unused.append(dist)
    assert not unused, f"declared but imported by no module: {unused}"
