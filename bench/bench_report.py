"""How long does ``agree report`` take against ``agree measure`` alone, on the same folder?

    python bench/bench_report.py [--repeat 3] [--workers 1] [--cohort DIR]

Runs, in one process tree and interleaved (measure, report, measure, report, …), the two
commands a user runs on the bundled demo cohort (30 cases × 6 methods):

    agree measure PRED --reference REF --pet PET -o OUT      (the baseline)
    agree report  PRED --reference REF --pet PET -o OUT      (measure + statistics + figures + HTML)

each as a fresh ``python -m agreement.cli`` process, and prints the median wall-clock time of
each, the ratio report / measure (the target is ≤ 2.5) and where the report's time goes (its
``provenance.json`` steps, median over the repeats). ``--cohort DIR`` takes another cohort in the
demo's layout (``pred/``, ``reference/``, ``pet/``), e.g. one written by
``python examples/build_demo_cohort.py -o DIR --shape small``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agreement.report.demo import DemoData, demo_data

STEPS = ["measure", "statistics", "figures", "tables", "provenance", "html"]


def _run(command: str, data: DemoData, out: Path, workers: int) -> float:
    args = [sys.executable, "-m", "agreement.cli", command, str(data.pred), "--reference",
            str(data.reference), "--pet", str(data.pet), "-o", str(out), "--no-progress",
            "-j", str(workers)]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="measuring processes (-j)")
    parser.add_argument("--cohort", type=Path, default=None, help="default: the bundled demo")
    args = parser.parse_args()
    data = (
        demo_data()
        if args.cohort is None
        else DemoData(
            args.cohort, args.cohort / "pred", args.cohort / "reference", args.cohort / "pet"
        )  # fmt: skip
    )
    walls: dict[str, list[float]] = {"measure": [], "report": []}
    steps: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            for command in ("measure", "report"):
                out = Path(tmp) / f"{command}{i}"
                walls[command].append(_run(command, data, out, args.workers))
            steps.append(json.loads((out / "provenance.json").read_text())["timings_s"])
    measure = statistics.median(walls["measure"])
    report = statistics.median(walls["report"])
    name = args.cohort or "the demo cohort"
    print(f"{name}, -j {args.workers}, median of {args.repeat} interleaved runs (wall clock)")
    print(
        f"agree measure  {measure:7.2f} s   runs: {', '.join(f'{t:.2f}' for t in walls['measure'])}"
    )
    print(
        f"agree report   {report:7.2f} s   runs: {', '.join(f'{t:.2f}' for t in walls['report'])}"
    )
    print(f"report / measure = {report / measure:.2f}   (target <= 2.5)")
    print("inside agree report (provenance.json timings_s, median):")
    for step in STEPS:
        print(f"  {step:<12}{statistics.median(s.get(step, 0.0) for s in steps):7.2f} s")


if __name__ == "__main__":
    main()
