"""Write docs/cli.md from the commands' own ``--help`` (run: python docs/make_cli_reference.py).

``tests/test_docs.py`` runs it with ``--check`` in a fresh interpreter (click caches each command's
help option once a command has run, so the text must come from a process that ran none).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

HEADER = """# Command-line reference

Generated from the commands' `--help` by `python docs/make_cli_reference.py`; do not edit by
hand. Exit codes everywhere: 0 success, 2 a user error (one line naming the file and the
problem), 1 a bug.
"""


def _group_context(group: click.Group, name: str) -> click.Context:
    settings = {"terminal_width": 100, "max_content_width": 100, **group.context_settings}
    return click.Context(group, info_name=name, **settings)


def reference() -> str:
    """The whole reference as Markdown."""
    from agreement.cli import agree
    from segengine.cli import segengine

    parts = [HEADER]
    for group, name in [(agree, "agree"), (segengine, "segengine")]:
        parent = _group_context(group, name)
        parts.append(f"\n## `{name}`\n\n```\n{group.get_help(parent)}\n```\n")
        for sub in sorted(group.commands):
            command = group.commands[sub]
            text = command.get_help(click.Context(command, info_name=sub, parent=parent))
            parts.append(f"\n### `{name} {sub}`\n\n```\n{text}\n```\n")
    return "".join(parts)


if __name__ == "__main__":
    target = Path(__file__).with_name("cli.md")
    if sys.argv[1:] == ["--check"]:  # exit 1 when the committed file is stale
        sys.exit(0 if target.read_text(encoding="utf-8") == reference() else 1)
    target.write_text(reference(), encoding="utf-8")
    sys.stdout.write(f"wrote {target}\n")
