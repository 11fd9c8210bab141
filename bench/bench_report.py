"""How long does ``agree report`` take against ``agree measure`` alone, on the same folder?

    python bench/bench_report.py [--repeat 3] [--workers N] [--cohort DIR]

Runs, in one process tree and interleaved (measure, report, measure, report, …), the two
commands a user runs on the bundled demo cohort (30 cases × 6 methods):

    agree measure PRED --reference REF --pet PET -o OUT      (the baseline)
    agree report  PRED --reference REF --pet PET -o OUT      (measure + statistics + figures + HTML)

each as a fresh ``python -m agreement.cli`` process, and prints the median wall-clock time and
CPU time (user + system of the command's whole process tree) of each, the ratios report /
measure (the target is ≤ 2.5) and where the report's time goes (its ``provenance.json`` steps,
wall clock, median over the repeats). On a shared machine the CPU ratio is the stable one; with
``-j 1`` on an idle machine the two agree. ``--cohort DIR`` takes another cohort in the
demo's layout (``pred/``, ``reference/``, ``pet/``), e.g. one written by
``python examples/build_demo_cohort.py -o DIR --shape small``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agreement.report.demo import DemoData, demo_data

STEPS = ["measure", "statistics", "figures", "tables", "provenance", "html"]


def _run(command: str, data: DemoData, out: Path, workers: int | None) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system, the whole process tree) of one command."""
    args = [sys.executable, "-m", "agreement.cli", command, str(data.pred), "--reference",
            str(data.reference), "--pet", str(data.pet), "-o", str(out), "--no-progress",
            *(["-j", str(workers)] if workers else [])]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="-j N for both commands (default: none, each command's default)",
    )
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
    cpus: dict[str, list[float]] = {"measure": [], "report": []}
    steps: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            for command in ("measure", "report"):
                out = Path(tmp) / f"{command}{i}"
                wall, cpu = _run(command, data, out, args.workers)
                walls[command].append(wall)
                cpus[command].append(cpu)
            steps.append(json.loads((out / "provenance.json").read_text())["timings_s"])
    name = args.cohort or "the demo cohort"
    jobs = f"-j {args.workers}" if args.workers else "default -j"
    print(f"{name}, {jobs}, median of {args.repeat} interleaved runs")
    for label, values in (("wall clock", walls), ("CPU time", cpus)):
        measure, report = (statistics.median(values[c]) for c in ("measure", "report"))
        for command in ("measure", "report"):
            runs = ", ".join(f"{t:.2f}" for t in values[command])
            print(f"  {label:<10} agree {command:<8}{statistics.median(values[command]):7.2f} s"
                  f"   runs: {runs}")  # fmt: skip
        print(f"  {label:<10} report / measure = {report / measure:.2f}   (target <= 2.5)")
    print("inside agree report (provenance.json timings_s, median):")
    for step in STEPS:
        print(f"  {step:<12}{statistics.median(s.get(step, 0.0) for s in steps):7.2f} s")


if __name__ == "__main__":
    main()
