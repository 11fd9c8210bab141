"""Write docs/reliability.md from the bad-input tests (run: python docs/make_reliability.py).

Each test in ``tests/reliability/`` carries ``@pytest.mark.bad_input(tool=, given=, message=,
exit_code=)``. This script collects them with pytest (nothing runs) and renders one table per
tool. ``--check`` fails when the page is stale or a test there has no ``bad_input`` mark;
``tests/test_docs.py`` runs it.
"""

from __future__ import annotations

import io
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "reliability.md"
HEADER = """# Bad inputs the tools recognise

Generated from the tests in `tests/reliability/` by `python docs/make_reliability.py`; do not edit
by hand. Every row is a test that gives the tool this input and asserts the exit status, the
message, that no partial output is left and that the inputs are untouched. Exit status 2 is a user
error with a one-line message naming the file and the problem; "—" marks a Python API case (an
exception or a result flagged with a note). Messages are shown with placeholders for paths.
"""


class _Collector:
    def __init__(self) -> None:
        self.rows: list[dict[str, object]] = []
        self.unmarked: list[str] = []

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        seen = set()
        for item in items:
            if not isinstance(item, pytest.Function):
                continue
            mark = item.get_closest_marker("bad_input")
            if mark is None:
                self.unmarked.append(item.nodeid)
                continue
            row = {"tool": "", "given": "", "message": "", "exit_code": 2, **mark.kwargs}
            row["test"] = f"{Path(item.path).name}::{item.originalname}"
            key = (row["tool"], row["given"], row["message"])
            if key not in seen:
                seen.add(key)
                self.rows.append(row)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def collect() -> _Collector:
    """Collect the marks of every test under tests/reliability (no test runs)."""
    collector = _Collector()
    args = ["--collect-only", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
            "--import-mode=importlib", str(ROOT / "tests" / "reliability")]  # fmt: skip
    with redirect_stdout(io.StringIO()):
        code = pytest.main(args, plugins=[collector])
    if code not in (0, 5):
        raise SystemExit(f"collecting tests/reliability failed (pytest exit {code})")
    return collector


def render(rows: list[dict[str, object]]) -> str:
    """The page: one table per tool, rows in test order."""
    parts = [HEADER]
    tools = sorted({str(r["tool"]) for r in rows}, key=lambda t: (t.startswith("agreement."), t))
    for tool in tools:
        parts.append(f"\n## `{tool}`\n\n| input | message | exit | test |\n|---|---|---|---|\n")
        for r in (r for r in rows if r["tool"] == tool):
            code = "—" if r["exit_code"] is None else str(r["exit_code"])
            parts.append(f"| {_cell(r['given'])} | `{_cell(r['message'])}` | {code} | "
                         f"`{_cell(r['test'])}` |\n")  # fmt: skip
    parts.append(f"\n{len(rows)} bad inputs in all.\n")
    return "".join(parts)


def main(argv: list[str]) -> int:
    collector = collect()
    text = render(collector.rows)
    if "--check" in argv:
        if collector.unmarked:
            print("tests without a bad_input mark: " + ", ".join(collector.unmarked),
                  file=sys.stderr)  # fmt: skip
            return 1
        if not PAGE.exists() or PAGE.read_text(encoding="utf-8") != text:
            print("docs/reliability.md is stale: run python docs/make_reliability.py",
                  file=sys.stderr)  # fmt: skip
            return 1
        return 0
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE.relative_to(ROOT)} ({len(collector.rows)} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
