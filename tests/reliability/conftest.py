"""Helpers for the bad-input suite: run a tool, check its one-line error, prove inputs intact.

Every test here carries ``@pytest.mark.bad_input(tool=..., given=..., message=..., exit_code=...)``;
``docs/make_reliability.py`` renders those marks into docs/reliability.md and refuses a test
without one. ``exit_code=None`` marks a Python API case (it raises or returns a flagged result).
"""

from __future__ import annotations

import hashlib
import types
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from click.testing import CliRunner


def snapshot(*roots: Path) -> dict[str, tuple[str, int]]:
    """Kind, size and content hash of everything under ``roots`` (symlinks not followed)."""
    state: dict[str, tuple[str, int]] = {}
    for root in roots:
        items = [root, *sorted(root.rglob("*"))] if root.is_dir() else [root]
        for p in items:
            if p.is_symlink():
                state[str(p)] = ("link:" + str(p.readlink()), 0)
            elif p.is_dir():
                state[str(p)] = ("dir", 0)
            elif p.exists():
                state[str(p)] = (hashlib.sha1(p.read_bytes()).hexdigest(), p.stat().st_size)
    return state


def one_line(output: str) -> str:
    """The single non-empty line of ``output`` (fails when there are several or none)."""
    lines = [ln for ln in output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one line, got:\n{output}"
    assert "Traceback" not in output, output
    return lines[0]


def no_output(path: Path) -> bool:
    """Neither ``path`` nor a temporary of it beside it exists."""
    leftovers = [p for p in path.parent.glob(f".{path.name}*")] if path.parent.exists() else []
    return not path.exists() and not leftovers


def write_nifti(path: Path, array, spacing=(2.0, 2.0, 3.0)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.asarray(array), np.diag([*spacing, 1.0])), path)
    return path


def make_cohort(root: Path, cases=("c1", "c2"), methods=("unet",), seed=0) -> dict[str, Path]:
    """pred/<method>/<case>.nii.gz (or pred/<case> for one unnamed method), ref/, pet/ (8³)."""
    rng = np.random.default_rng(seed)
    for case in cases:
        ref = np.zeros((8, 8, 8), np.uint8)
        ref[1:4, 1:4, 1:4] = 1
        ref[5:7, 5:7, 5:7] = 1
        pet = rng.uniform(0.5, 2.0, ref.shape).astype(np.float32) + 4 * ref
        write_nifti(root / "ref" / f"{case}.nii.gz", ref)
        write_nifti(root / "pet" / f"{case}.nii.gz", pet)
        for k, method in enumerate(methods):
            pred = ref.copy()
            pred[5:7, 5:7, 5:7] = k % 2 == 0
            folder = root / "pred" / method if method else root / "pred"
            write_nifti(folder / f"{case}.nii.gz", pred)
    return {"pred": root / "pred", "ref": root / "ref", "pet": root / "pet"}


def run_agree(*args: object) -> types.SimpleNamespace:
    """``agree ARGS`` in-process; ``exit_code`` and ``output`` (stdout and stderr together)."""
    from agreement.cli import agree

    result = CliRunner().invoke(agree, [str(a) for a in args])
    return types.SimpleNamespace(exit_code=result.exit_code, output=result.output, result=result)


def run_segengine(*args: object) -> types.SimpleNamespace:
    """``segengine ARGS`` in-process, like :func:`run_agree`."""
    from segengine.cli import segengine

    result = CliRunner().invoke(segengine, [str(a) for a in args])
    return types.SimpleNamespace(exit_code=result.exit_code, output=result.output, result=result)


@pytest.fixture
def rel() -> types.SimpleNamespace:
    """The helpers above, as one fixture."""
    return types.SimpleNamespace(
        snapshot=snapshot,
        one_line=one_line,
        no_output=no_output,
        write_nifti=write_nifti,
        cohort=make_cohort,
        agree=run_agree,
        segengine=run_segengine,
    )
