"""What produced a report: software versions, command line, time and checksummed input files."""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import sys
from collections.abc import Iterable
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

#: Distribution names recorded in ``provenance.json`` (key = name shown).
PACKAGES = {
    "pet-agreement": "pet-agreement",
    "numpy": "numpy",
    "scipy": "scipy",
    "pandas": "pandas",
    "statsmodels": "statsmodels",
    "matplotlib": "matplotlib",
    "cc3d": "connected-components-3d",
    "nibabel": "nibabel",
    "jinja2": "jinja2",
}


def versions() -> dict[str, str]:
    """Versions of Python and of the packages behind the numbers (``"not installed"`` if absent).

    Examples
    --------
    >>> v = versions()
    >>> sorted(v)[:3], v["python"] == platform.python_version()
    (['cc3d', 'jinja2', 'matplotlib'], True)
    """
    return dict(_versions())


@functools.cache
def _versions() -> tuple[tuple[str, str], ...]:
    """:func:`versions`, looked up once per process (the report asks three times)."""
    out = {"python": platform.python_version()}
    for key, dist in PACKAGES.items():
        try:
            out[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[key] = "not installed"
    return tuple(out.items())


def source_commit(package_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The git commit the toolkit runs from, when it lives in a checkout; else why not.

    Returns ``{"git_commit": sha, "git_dirty": bool}`` from ``git rev-parse HEAD`` (and
    ``git status --porcelain``) in the folder above the ``agreement`` package, or
    ``{"git_commit_omitted": reason}`` when that folder is no checkout or git cannot be run.

    Examples
    --------
    >>> import tempfile
    >>> source_commit(tempfile.mkdtemp())["git_commit_omitted"][:28]
    'not installed from a git che'
    """
    import shutil
    import subprocess

    pkg = Path(package_dir) if package_dir is not None else Path(__file__).resolve().parents[1]
    root = pkg.parent
    if not (root / ".git").exists():
        return {
            "git_commit_omitted": f"not installed from a git checkout ({pkg.name} in {root.name}/)"
        }
    git = shutil.which("git")
    if git is None:
        return {"git_commit_omitted": "the package is in a git checkout but git is not installed"}
    try:
        head = subprocess.run(
            [git, "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            [git, "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return {"git_commit_omitted": f"git rev-parse failed: {exc}"}
    return {"git_commit": head, "git_dirty": bool(status.strip())}


def sha256(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file, read in chunks.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x"
    >>> _ = p.write_bytes(b"abc")
    >>> sha256(p)[:16]
    'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def file_records(paths: Iterable[str | os.PathLike[str]]) -> list[dict[str, Any]]:
    """One record per existing file: ``path`` (as given), ``size`` (bytes), ``sha256``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = p.write_text("a\\n")
    >>> [(r["size"], len(r["sha256"])) for r in file_records([p])]
    [(2, 64)]
    """
    records = []
    for path in paths:
        p = Path(path)
        if p.is_file():
            records.append({"path": str(p), "size": p.stat().st_size, "sha256": sha256(p)})
    return records


def utc_now() -> str:
    """The current UTC time, ISO 8601 to the second.

    Examples
    --------
    >>> utc_now().endswith("Z")
    True
    """
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def command_line(argv: list[str] | None = None) -> str:
    """The command line as one string (``sys.argv`` by default, program name shortened).

    Examples
    --------
    >>> command_line(["/usr/bin/agree", "report", "my preds", "-o", "out"])
    "agree report 'my preds' -o out"
    """
    import shlex

    argv = list(sys.argv if argv is None else argv)
    if argv:
        argv[0] = Path(argv[0]).name
    return " ".join(shlex.quote(a) for a in argv)


def provenance(
    *,
    command: str,
    created: str,
    parameters: dict[str, Any],
    inputs: list[dict[str, Any]],
    timings: dict[str, float],
) -> dict[str, Any]:
    """The ``provenance.json`` document.

    Examples
    --------
    >>> doc = provenance(command="agree demo", created="2026-01-01T00:00:00Z",
    ...                 parameters={}, inputs=[], timings={})
    >>> sorted(doc)[:4]
    ['command', 'created', 'inputs', 'parameters']
    >>> doc["toolkit"]["version"] == versions()["pet-agreement"]
    True
    """
    vers = versions()
    return {
        "created": created,
        "command": command,
        "toolkit": {"name": "pet-agreement", "version": vers["pet-agreement"], **source_commit()},
        "versions": vers,
        "platform": {
            "system": platform.system(),
            "release": platform.release(),
            "machine": platform.machine(),
            "python_implementation": platform.python_implementation(),
        },
        "parameters": parameters,
        "timings_s": {k: round(float(v), 4) for k, v in timings.items()},
        "inputs": inputs,
    }
