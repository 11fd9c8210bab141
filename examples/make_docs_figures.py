"""Redraw the images of docs/figures.md from the bundled demo cohort.

Run from the repository root: ``python examples/make_docs_figures.py``. It measures the demo
cohort (``agree measure``), draws every figure with ``agree figures --illustrations`` at 100 dpi
and copies the PNGs into ``docs/img/``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from agreement.report.demo import demo_data

ROOT = Path(__file__).resolve().parents[1]
KEEP_BLAND_ALTMAN = {"bland_altman_modified", "bland_altman_segresnet-l1dfl"}


def main() -> None:
    data = demo_data()
    with tempfile.TemporaryDirectory() as tmp:
        tables, figs = Path(tmp) / "tables", Path(tmp) / "figs"
        agree = [sys.executable, "-m", "agreement.cli"]
        subprocess.run(
            [*agree, "measure", str(data.pred), "--reference", str(data.reference),
             "--pet", str(data.pet), "-o", str(tables), "--no-progress"],
            check=True,
        )  # fmt: skip
        subprocess.run(
            [*agree, "figures", str(tables / "measurements.csv"), "--cases",
             str(tables / "cases.csv"), "--lesions", str(tables / "lesions.csv"), "-o",
             str(figs), "--format", "png", "--dpi", "100", "--illustrations"],
            check=True,
        )  # fmt: skip
        out = ROOT / "docs" / "img"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        for png in sorted(figs.glob("*.png")):
            if png.stem.startswith("bland_altman_") and png.stem not in KEEP_BLAND_ALTMAN:
                continue  # docs show the grid and one method's classic plot
            shutil.copy(png, out / png.name)
            print(f"docs/img/{png.name}")


if __name__ == "__main__":
    main()
