"""Where does ``agree report`` spend its time on the demo cohort?

    python bench/bench_report.py [--repeat 3] [--workers 1] [--cohort DIR]

Runs measure → statistics → figures → tables → HTML on the bundled demo cohort (30 cases ×
6 methods), as ``agree report`` does, and prints each step's share of the total (median over
the repeats, wall clock) and the ratio (statistics + figures + tables + HTML) / measuring,
which should be ≤ 1. Measuring is the baseline of the same run. ``--cohort DIR`` takes another
cohort in the demo's layout (``pred/``, ``reference/``, ``pet/``), e.g. one written by
``python examples/build_demo_cohort.py -o DIR --shape small``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from agreement.measures.cohort import measure_cohort
from agreement.report.build import build_report
from agreement.report.demo import DemoData, demo_data

STEPS = ["measure", "statistics", "figures", "tables", "provenance", "html"]


def run_once(workers: int, out: Path, cohort: Path | None) -> dict[str, float]:
    data = (
        demo_data()
        if cohort is None
        else DemoData(cohort, cohort / "pred", cohort / "reference", cohort / "pet")
    )
    start = time.perf_counter()
    result = measure_cohort(data.pred, data.reference, data.pet, workers=workers, progress=False)
    measure = time.perf_counter() - start
    inputs = data.files()
    build_report(
        result.measurements, cases=result.cases, lesions=result.lesions, failed=result.failed,
        out_dir=out, inputs=inputs, timings={"measure": measure}, progress=False,
    )  # fmt: skip
    return json.loads((out / "provenance.json").read_text())["timings_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="measuring processes")
    parser.add_argument("--cohort", type=Path, default=None, help="default: the bundled demo")
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            runs.append(run_once(args.workers, Path(tmp) / f"r{i}", args.cohort))
    median = {s: statistics.median(r[s] for r in runs) for s in STEPS}
    total = sum(median.values())
    name = args.cohort or "the demo cohort"
    print(f"agree report on {name}, workers={args.workers}, median of {args.repeat}")
    print(f"{'step':<12}{'seconds':>10}{'share':>9}")
    for step in STEPS:
        print(f"{step:<12}{median[step]:>10.2f}{100 * median[step] / total:>8.1f}%")
    after = total - median["measure"]
    print(f"{'total':<12}{total:>10.2f}")
    print(f"(statistics + figures + tables + provenance + HTML) / measuring = "
          f"{after / median['measure']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
