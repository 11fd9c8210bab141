"""Redraw the images of docs/figures.md and the report screenshots of docs/report.md.

Run from the repository root: ``python examples/make_docs_figures.py`` (``--no-screenshots``
skips the Chromium part). It builds the demo report (``agree demo``), draws every figure from its
tables with ``agree figures --illustrations`` at 100 dpi, copies the PNGs into ``docs/img/``,
then opens the report in headless Chromium at 1280 and 1920 px and saves crops of the page
(verdicts and summary, one metric's tables, the case rows) as ``docs/img/report_*.png``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"
KEEP_BLAND_ALTMAN = {"bland_altman_modified", "bland_altman_segresnet-l1dfl"}

# Where each screenshot starts and ends (element ids of index.html) and the window width.
SHOTS = {
    "report_1280_top": (1280, "verdicts", "agreement"),
    "report_1280_metric": (1280, "metric-tmtv", "metric-lesion-count"),
    "report_1920_metric": (1920, "metric-tmtv", "metric-lesion-count"),
    "report_1280_figure": (1280, "fig-bland_altman_modified", "fig-coverage_tdi"),
    "report_1280_cases": (1280, "cases", "comparisons"),
}
PROBE = """<script>
window.addEventListener("load", function () {
  var out = {};
  document.querySelectorAll("[id]").forEach(function (e) {
    out[e.id] = e.getBoundingClientRect().top + window.scrollY;
  });
  out["@height"] = document.documentElement.scrollHeight;
  var pre = document.createElement("pre");
  pre.id = "probe-offsets";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def _agree(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "agreement.cli", *args], check=True)


def figures(report: Path, tmp: Path) -> None:
    figs = tmp / "figs"
    _agree("figures", str(report / "measurements.csv"), "--cases", str(report / "cases.csv"),
           "--lesions", str(report / "lesions.csv"), "-o", str(figs), "--format", "png",
           "--dpi", "100", "--illustrations")  # fmt: skip
    for png in sorted(figs.glob("*.png")):
        if png.stem.startswith("bland_altman_") and png.stem not in KEEP_BLAND_ALTMAN:
            continue  # docs show the grid and one method's classic plot
        shutil.copy(png, OUT / png.name)
        print(f"docs/img/{png.name}")


def _chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("Chromium not found: install it or pass --no-screenshots")
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--no-first-run", f"--user-data-dir={profile}", *args]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)


def screenshots(report: Path, tmp: Path) -> None:
    from PIL import Image

    page = tmp / "probe.html"
    html = (report / "index.html").read_text(encoding="utf-8")
    page.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    for width in sorted({w for w, _, _ in SHOTS.values()}):
        dom = _chromium(tmp / "profile", "--virtual-time-budget=10000",
                        f"--window-size={width},1200", "--dump-dom", page.as_uri()).stdout  # fmt: skip
        found = re.search(r'<pre id="probe-offsets">(.*?)</pre>', dom, re.S)
        offsets = json.loads(found.group(1).replace("&quot;", '"'))
        full = tmp / f"full_{width}.png"
        height = int(offsets["@height"]) + 10
        _chromium(tmp / "profile", f"--window-size={width},{height}", f"--screenshot={full}",
                  (report / "index.html").as_uri())  # fmt: skip
        image = Image.open(full).convert("RGB")
        for name, (w, start, stop) in SHOTS.items():
            if w != width:
                continue
            top = max(0, int(offsets[start]) - 12)
            bottom = min(int(offsets[stop]) - 12, top + 2400, image.height)
            crop = image.crop((0, top, width, bottom)).quantize(colors=128)
            crop.save(OUT / f"{name}.png", optimize=True)
            print(f"docs/img/{name}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-screenshots", action="store_true", help="figures only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        report = tmp / "report"
        _agree("demo", "-o", str(report), "--no-progress")
        shutil.rmtree(OUT, ignore_errors=True)
        OUT.mkdir(parents=True)
        figures(report, tmp)
        if not args.no_screenshots:
            screenshots(report, tmp)


if __name__ == "__main__":
    main()
