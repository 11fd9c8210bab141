"""How long does ``agree report`` take against ``agree measure`` alone, on the same folder?

    python bench/bench_report.py [--repeat 3] [--workers N] [--cohort DIR] [--baseline DIR]

Runs, in one process tree and interleaved (measure, report, measure, report, …), the two
commands a user runs on the bundled demo cohort (30 cases × 6 methods):

    agree measure PRED --reference REF --pet PET -o OUT      (the baseline)
    agree report  PRED --reference REF --pet PET -o OUT      (measure + statistics + figures + HTML)

each as a fresh ``python -m agreement.cli`` process, and prints the median wall-clock time and
CPU time (user + system of the command's whole process tree) of each, the ratios report /
measure (the target is ≤ 2.5 in wall clock, the time a user waits) and where the report's time
goes (its ``provenance.json`` steps, wall clock, median over the repeats). The report draws its
figures in forked helpers while it writes the page, so its CPU time exceeds its wall clock;
with ``-j 1`` on an idle machine the two agree. ``--cohort DIR`` takes another cohort in the
demo's layout (``pred/``, ``reference/``, ``pet/``), e.g. one written by
``python examples/build_demo_cohort.py -o DIR --shape small``. ``--baseline DIR`` also times
``agree report`` of another checkout (e.g. a worktree of an older commit) in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agreement.report.demo import DemoData, demo_data

STEPS = ["measure", "statistics", "figures", "tables", "provenance", "html"]


def _run(
    command: str, data: DemoData, out: Path, workers: int | None, source: Path | None = None
) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system, the whole process tree) of one command.

    ``source`` runs the ``agreement`` package of another checkout (PYTHONPATH) instead of ours.
    """
    args = [sys.executable, "-m", "agreement.cli", command, str(data.pred), "--reference",
            str(data.reference), "--pet", str(data.pet), "-o", str(out), "--no-progress",
            *(["-j", str(workers)] if workers else [])]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    env = None if source is None else {**os.environ, "PYTHONPATH": str(source)}
    # run from the checkout: ``python -m`` puts the working folder first on sys.path
    subprocess.run(args, check=True, capture_output=True, env=env, cwd=source)
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
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="another checkout: its agree report is timed in the same run",
    )
    args = parser.parse_args()
    data = (
        demo_data()
        if args.cohort is None
        else DemoData(
            args.cohort, args.cohort / "pred", args.cohort / "reference", args.cohort / "pet"
        )  # fmt: skip
    )
    commands = ["measure", "report"] + (["baseline"] if args.baseline else [])
    walls: dict[str, list[float]] = {c: [] for c in commands}
    cpus: dict[str, list[float]] = {c: [] for c in commands}
    steps: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            for command in commands:
                out = Path(tmp) / f"{command}{i}"
                source = args.baseline if command == "baseline" else None
                cli = "report" if command == "baseline" else command
                wall, cpu = _run(cli, data, out, args.workers, source)
                walls[command].append(wall)
                cpus[command].append(cpu)
            report_out = Path(tmp) / f"report{i}"
            steps.append(json.loads((report_out / "provenance.json").read_text())["timings_s"])
    name = args.cohort or "the demo cohort"
    jobs = f"-j {args.workers}" if args.workers else "default -j"
    print(f"{name}, {jobs}, median of {args.repeat} interleaved runs")
    for label, values in (("wall clock", walls), ("CPU time", cpus)):
        measure, report = (statistics.median(values[c]) for c in ("measure", "report"))
        for command in commands:
            runs = ", ".join(f"{t:.2f}" for t in values[command])
            name_ = "report (baseline)" if command == "baseline" else command
            print(f"  {label:<10} agree {name_:<18}{statistics.median(values[command]):7.2f} s"
                  f"   runs: {runs}")  # fmt: skip
        target = "   (target <= 2.5)" if label == "wall clock" else ""
        print(f"  {label:<10} report / measure = {report / measure:.2f}{target}")
        if args.baseline:
            base = statistics.median(values["baseline"])
            print(f"  {label:<10} baseline report / measure = {base / measure:.2f}")
    print("inside agree report (provenance.json timings_s, median):")
    for step in STEPS:
        print(f"  {step:<12}{statistics.median(s.get(step, 0.0) for s in steps):7.2f} s")


if __name__ == "__main__":
    main()
