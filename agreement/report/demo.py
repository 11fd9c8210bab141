"""The demo cohort bundled with the package (``agreement/data/demo``; see docs/demo.md).

Synthetic PSMA-like phantoms (PET in SUV and reference masks) and the predictions of six small
network/loss pairs trained with segengine, in ``pred/<network>/<loss>/<case>.nii.gz``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from agreement.errors import InputError


@dataclass(frozen=True)
class DemoData:
    """Paths of the demo cohort on the file system."""

    root: Path
    pred: Path
    reference: Path
    pet: Path

    @property
    def manifest(self) -> dict[str, Any]:
        """The builder's manifest: seeds, how the predictions were made, file checksums."""
        return json.loads((self.root / "manifest.json").read_text(encoding="utf-8"))

    def files(self) -> list[Path]:
        """Every image of the cohort, sorted."""
        return sorted(self.root.rglob("*.nii.gz"))


def _packaged() -> Any:
    return resources.files("agreement") / "data" / "demo"


def demo_data(dest: str | Path | None = None) -> DemoData:
    """Locate the bundled demo cohort, copying it to ``dest`` (or a temporary folder) if the
    package is not installed as plain files (e.g. a zip).

    Parameters
    ----------
    dest : path, optional
        Where to materialise the cohort. With ``dest`` the files are always copied there.

    Returns
    -------
    DemoData

    Examples
    --------
    >>> d = demo_data()
    >>> sorted(p.name for p in d.pred.iterdir())
    ['attention_unet', 'segresnet']
    >>> len(list(d.reference.glob("*.nii.gz"))) == len(d.manifest["cases"])
    True
    """
    source = _packaged()
    if not source.is_dir() or not (source / "manifest.json").is_file():
        raise InputError(
            "agreement/data/demo: the demo cohort is not installed; reinstall pet-agreement "
            "or rebuild it with examples/build_demo_cohort.py"
        )
    if dest is None and isinstance(source, Path):
        root = source
    else:
        root = Path(dest) if dest is not None else Path(tempfile.mkdtemp(prefix="agree-demo-"))
        _copy(source, root)
    return DemoData(root, root / "pred", root / "reference", root / "pet")


def _copy(source: Any, target: Path) -> None:
    """Copy a resources tree (a Traversable) to ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        if item.is_dir():
            _copy(item, target / item.name)
        else:
            with resources.as_file(item) as path:
                shutil.copyfile(path, target / item.name)
