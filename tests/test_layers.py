"""One-way layers, read from the source: every module's imports, parsed with ``ast``.

* ``agreement``'s library (everything but ``agreement/cli/``) never imports ``figures``,
  ``segengine``, ``torch`` or ``monai``, not even inside a function;
* ``figures`` never imports ``segengine``, ``torch`` or ``monai``;
* ``agreement/cli/`` imports nothing heavy when imported (matplotlib, pandas, scipy, figures,
  segengine, torch, monai): those imports wait inside the command bodies.

Imports under ``if TYPE_CHECKING:`` never run and are not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("matplotlib", "pandas", "scipy", "figures", "segengine", "torch", "monai")
FORBIDDEN = {
    "agreement": ("figures", "segengine", "torch", "monai"),
    "figures": ("segengine", "torch", "monai"),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(path: Path) -> list[tuple[str, int, bool]]:
    """``(imported module, line, at import time)`` for every import statement of a file."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.orelse:
                    visit(ast.Module(body=[sub], type_ignores=[]), top)
                continue
            if isinstance(child, ast.Import):
                found.extend((alias.name, child.lineno, top) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:  # relative: resolve against the package
                    base = package.split(".")[: len(package.split(".")) - child.level + 1]
                    module = ".".join([*base, *([child.module] if child.module else [])])
                else:
                    module = child.module or ""
                found.append((module, child.lineno, top))
            inner = top and not isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
            )
            visit(child, inner)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), True)
    return found


def _files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _hits(module: str, names: tuple[str, ...]) -> bool:
    return module.split(".")[0] in names


def _violations() -> list[str]:
    out = []
    for package, banned in FORBIDDEN.items():
        for path in _files(package):
            rel = path.relative_to(ROOT)
            cli = package == "agreement" and rel.parts[1] == "cli"
            for module, line, top in imports(path):
                if not cli and _hits(module, banned):
                    out.append(f"{_module_name(path)} imports {module} ({rel}:{line})")
                elif cli and top and _hits(module, HEAVY):
                    out.append(
                        f"{_module_name(path)} imports {module} at import time ({rel}:{line}); "
                        "import it inside the command body"
                    )
    return out


def test_layers_are_one_way():
    assert _violations() == []


@pytest.mark.parametrize(
    "source, expected",
    [
        ("import figures\n", [("figures", 1, True)]),
        ("def f():\n    from segengine.cli import x\n", [("segengine.cli", 2, False)]),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import torch\n",
         [("typing", 1, True)]),
        ("from .style import x\n", [("figures.style", 1, True)]),
        ("try:\n    import pandas as pd\nexcept ImportError:\n    pd = None\n",
         [("pandas", 2, True)]),
    ],
)  # fmt: skip
def test_the_import_reader_sees_every_kind_of_import(tmp_path, monkeypatch, source, expected):
    # The checker must fail on an upward import: a module written here proves it reads them.
    folder = tmp_path / "figures"
    folder.mkdir()
    path = folder / "probe.py"
    path.write_text(source)
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    assert imports(path) == expected


def test_an_upward_import_is_named(tmp_path, monkeypatch):
    (tmp_path / "agreement" / "stats").mkdir(parents=True)
    (tmp_path / "agreement" / "cli").mkdir()
    (tmp_path / "figures").mkdir()
    (tmp_path / "agreement" / "stats" / "bad.py").write_text("def f():\n    import figures\n")
    (tmp_path / "agreement" / "cli" / "slow.py").write_text("import pandas as pd\n")
    (tmp_path / "agreement" / "cli" / "fine.py").write_text("def f():\n    import pandas\n")
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    assert _violations() == [
        "agreement.cli.slow imports pandas at import time (agreement/cli/slow.py:1); "
        "import it inside the command body",
        "agreement.stats.bad imports figures (agreement/stats/bad.py:2)",
    ]


def test_the_cli_starts_without_the_heavy_libraries():
    # The parse above sees each module's own imports; this sees what they pull in transitively
    # (a package __init__ that imports everything, say): `agree --help` must stay fast.
    import subprocess
    import sys

    code = (
        "import sys, agreement.cli\n"
        "heavy = ('numpy', 'pandas', 'scipy', 'matplotlib', 'cc3d', 'nibabel', 'torch', 'monai')\n"
        "print(','.join(sorted(m for m in heavy if m in sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"import agreement.cli loads {result.stdout.strip()}"
