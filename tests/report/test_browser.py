"""Open the demo report in headless Chromium at 1280 and 1920 px: it fits the screen (no
horizontal overflow of the page or of any table), every image renders, the verdicts are there,
nothing is fetched.

No Python dependency: a probe script, added to a copy of index.html, writes what the page saw
(image sizes, resource-timing entries) into the DOM, which ``--dump-dom`` prints; Chromium's
own network log (``--log-net-log``) records every request the page started. A control page
with one remote image checks that both detectors do see a fetch. Skipped without Chromium.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

BROWSER = next((shutil.which(b) for b in ("chromium", "chromium-browser") if shutil.which(b)), None)
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="Chromium not installed (apt-get install chromium chromium-driver)"
)

PROBE = """<script>
window.addEventListener("load", function () {
  var images = Array.prototype.map.call(document.images, function (im) {
    var r = im.getBoundingClientRect();
    return {natural: im.naturalWidth, complete: im.complete, width: r.width, height: r.height};
  });
  var svgs = Array.prototype.map.call(document.querySelectorAll("svg"), function (s) {
    var r = s.getBoundingClientRect();
    return {width: r.width, height: r.height};
  });
  var resources = performance.getEntriesByType("resource").map(function (e) { return e.name; });
  var root = document.documentElement;
  var tables = Array.prototype.map.call(document.querySelectorAll("table"), function (t) {
    var box = t.parentElement, r = t.getBoundingClientRect();
    return {scroll: box.scrollWidth, client: box.clientWidth, right: r.right,
            head: t.tHead ? t.tHead.textContent.slice(0, 60) : ""};
  });
  var verdicts = Array.prototype.map.call(document.querySelectorAll("#verdicts li"),
                                          function (li) { return li.textContent; });
  var pre = document.createElement("pre");
  pre.id = "probe-result";
  pre.textContent = JSON.stringify({images: images, svgs: svgs, resources: resources,
    viewport: window.innerWidth, page: {scroll: root.scrollWidth, client: root.clientWidth},
    tables: tables, verdicts: verdicts});
  document.body.appendChild(pre);
});
</script>"""


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp / "profile"
    profile.mkdir(exist_ok=True)
    command = [
        BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-default-apps", f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND", *args,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def _page_requests(net_log: Path) -> list[str]:
    """http(s)/ws URLs whose request the page started (Chromium's own have no origin)."""
    log = json.loads(net_log.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for event in log["events"]:
        params = event.get("params", {})
        if event["type"] == start and params.get("initiator") != "not an origin":
            if re.match(r"(https?|wss?)://", params.get("url", "")):
                urls.append(params["url"])
    return urls


def _probe(html: str, tmp: Path, width: int = 1280) -> tuple[dict, list[str]]:
    page = tmp / "probe.html"
    page.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    net_log = tmp / "net.json"
    result = _chromium(tmp, f"--log-net-log={net_log}", "--virtual-time-budget=10000",
                       f"--window-size={width},2000", "--dump-dom", page.as_uri())  # fmt: skip
    found = re.search(r'<pre id="probe-result">(.*?)</pre>', result.stdout, re.S)
    assert found, f"probe did not run: {result.stderr[-2000:]}"
    text = found.group(1).replace("&quot;", '"').replace("&amp;", "&")
    return json.loads(text), _page_requests(net_log)


@pytest.mark.parametrize("width", [1280, 1920])
def test_report_fits_the_screen_offline(demo_report, tmp_path, width):
    html = (demo_report / "index.html").read_text(encoding="utf-8")
    seen, requests = _probe(html, tmp_path, width)
    assert seen["viewport"] == width
    # No horizontal scrolling: neither the page nor any table is wider than its box.
    assert seen["page"]["scroll"] <= seen["page"]["client"], seen["page"]
    assert len(seen["tables"]) > 20
    for table in seen["tables"]:
        assert table["scroll"] <= table["client"] and table["right"] <= width, table
    # The verdicts, one per method, at the top.
    methods = json.loads((demo_report / "summary.json").read_text())["methods"]
    assert [v.split(":")[0].strip() for v in seen["verdicts"]] == methods
    # Every image loaded: the figures (one per PNG in figures/) and the case thumbnails.
    n_figures = len(list((demo_report / "figures").glob("*.png")))
    assert len(seen["images"]) >= n_figures > 0
    for image in seen["images"]:
        assert image["complete"] and image["natural"] > 0, image
        assert image["width"] > 40 and image["height"] > 40, image
    for svg in seen["svgs"]:
        assert svg["width"] > 0 and svg["height"] > 0, svg
    assert [r for r in seen["resources"] if not r.startswith("data:")] == []
    assert requests == []


def test_probe_detects_a_remote_fetch(tmp_path):
    # Control: the same probe must notice a page that fetches an image from the network.
    html = '<html><body><img src="http://example.invalid/x.png"></body></html>'
    seen, requests = _probe(html, tmp_path)
    assert any(r.startswith("http://example.invalid") for r in seen["resources"] + requests)
    assert seen["images"][0]["natural"] == 0


def test_screenshot_of_the_report(demo_report, tmp_path):
    shot = tmp_path / "report.png"
    result = _chromium(tmp_path, "--hide-scrollbars", "--window-size=1280,3000",
                       f"--screenshot={shot}", (demo_report / "index.html").as_uri())  # fmt: skip
    assert shot.is_file(), result.stderr[-2000:]
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (3000, 1280)
    assert float(np.std(pixels)) > 0.05  # not a blank page


def test_report_prints_to_pdf(demo_report, tmp_path):
    pdf = tmp_path / "report.pdf"
    result = _chromium(tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}",
                       (demo_report / "index.html").as_uri())  # fmt: skip
    assert pdf.is_file(), result.stderr[-2000:]
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", data))
    assert pages >= 5  # nine figures and long tables cannot fit on fewer pages
