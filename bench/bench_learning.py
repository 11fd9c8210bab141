"""Does it learn? SegResNet on a fixed phantom cohort for a fixed CPU budget, L1DFL against Dice.

A training cohort and a separate test cohort of synthetic phantoms (fixed seeds), SegResNet
(papers' settings) trained on fold 0 with the same budget of optimiser steps for the ``dice``
and ``l1dfl`` losses (same seed, same patches), then the test cohort is predicted with each
``best.pt`` and measured with ``agreement``. Prints, per loss: CPU and wall seconds, final
training loss, best validation Dice and the median (IQR) test DSC; then
``agreement.compare_methods`` (paired bootstrap of CCC, L1DFL minus Dice) per clinical measure.

The untrained network is measured too (same seed, 0 steps), as the baseline the training must
beat. Runs under tcmalloc when Debian's ``libtcmalloc-minimal4`` is installed (it re-executes
itself with ``LD_PRELOAD``), because glibc malloc is several times slower here.

Run::

    python bench/bench_learning.py                        # ~6 min on a 2-core CPU
    python bench/bench_learning.py --epochs 60 --steps 10 # a larger budget
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-cases", type=int, default=20)
    parser.add_argument("--test-cases", type=int, default=12)
    parser.add_argument("--shape", default="small")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--steps", type=int, default=8, help="optimiser steps per epoch")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--patch", type=int, default=48)
    parser.add_argument("--spacing", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("-o", "--output", type=Path, default=None)
    parser.add_argument("--no-tcmalloc", action="store_true")
    args = parser.parse_args()
    if not args.no_tcmalloc and Path(TCMALLOC).is_file() and "LD_PRELOAD" not in os.environ:
        os.environ["LD_PRELOAD"] = TCMALLOC
        os.execv(sys.executable, [sys.executable, *sys.argv])

    import pandas as pd
    import torch

    from agreement.measures.cohort import measure_cohort
    from agreement.stats.compare import compare_methods
    from segengine.config import TrainConfig
    from segengine.data.phantoms import make_phantoms
    from segengine.infer import predict
    from segengine.networks import build_network
    from segengine.training import train

    torch.set_num_threads(args.threads)
    out = args.output or Path(tempfile.mkdtemp(prefix="bench_learning_"))
    tic = time.perf_counter()
    train_data = make_phantoms(
        out / "train",
        args.train_cases,
        seed=args.seed,
        shape=args.shape,
        overwrite=True,
        progress=False,
    )
    test_data = make_phantoms(
        out / "test",
        args.test_cases,
        seed=args.seed + 1000,
        shape=args.shape,
        folds=2,
        overwrite=True,
        progress=False,
    )
    print(
        f"phantoms: {args.train_cases} train + {args.test_cases} test ({args.shape}), "
        f"{time.perf_counter() - tic:.0f} s",
        flush=True,
    )

    base = TrainConfig(
        network="segresnet",
        fold=0,
        seed=args.seed,
        epochs=args.epochs,
        val_interval=max(1, args.epochs // 3),
        steps_per_epoch=args.steps,
        batch_size=args.batch_size,
        patch_size=(args.patch,) * 3,
        spacing=args.spacing,
    )
    steps = args.epochs * args.steps
    print(
        f"SegResNet (papers' settings), fold 0, {steps} steps of batch {args.batch_size}, "
        f"{args.patch}^3 patches at {args.spacing} mm, seed {args.seed}, "
        f"allocator {'tcmalloc' if os.environ.get('LD_PRELOAD') else 'glibc'}",
        flush=True,
    )

    rows, tables = [], []
    runs = {}
    for loss in ("dice", "l1dfl"):
        config = base.replace(loss=loss)
        cpu, wall = time.process_time(), time.perf_counter()
        runs[loss] = train(config, train_data, out / "runs", resume=True, progress=False)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        log = pd.read_csv(runs[loss] / "log.csv")
        rows.append(
            {
                "method": f"segresnet/{loss}",
                "steps": steps,
                "cpu_s": cpu,
                "wall_s": wall,
                "final_train_loss": log["train_loss"].iloc[-1],
                "best_val_dice": log["best_val_dice"].dropna().iloc[-1]
                if log["best_val_dice"].notna().any()
                else float("nan"),
            }
        )
        print(f"  trained {loss}: {wall:.0f} s wall, {cpu:.0f} s CPU", flush=True)

    # Baseline: the same network untrained (0 steps), saved as a run.
    untrained = out / "runs" / "untrained"
    untrained.mkdir(parents=True, exist_ok=True)
    base.replace(loss="dice").save(untrained / "config.json")
    torch.manual_seed(args.seed)
    torch.save({"model": build_network("segresnet").state_dict()}, untrained / "best.pt")

    for name, run in [("dice", runs["dice"]), ("l1dfl", runs["l1dfl"]), ("untrained", untrained)]:
        pred = predict([run], test_data / "imagesTr", out / f"pred-{name}", progress=False)
        res = measure_cohort(
            pred, test_data / "labelsTr", test_data / "imagesTr", progress=False, workers=1
        )
        meas = res.measurements.copy()
        cases = res.cases.copy()
        if name == "untrained":
            meas["method"] = cases["method"] = "segresnet/untrained"
        tables.append((name, meas, cases))
    summary = []
    for name, _meas, cases in tables:
        dsc = cases["dsc"].dropna()
        row = next(
            (r for r in rows if r["method"].endswith("/" + name)),
            {"method": "segresnet/untrained", "steps": 0},
        )
        summary.append(
            {
                **row,
                "test_cases": len(cases),
                "dsc_n": len(dsc),
                "dsc_median": dsc.median(),
                "dsc_q1": dsc.quantile(0.25),
                "dsc_q3": dsc.quantile(0.75),
                "f1_mean": cases["f1"].mean(),
            }
        )
    pd.set_option("display.width", 200)
    print(pd.DataFrame(summary).to_string(index=False, float_format=lambda v: f"{v:.3f}"))

    meas = pd.concat([t[1] for t in tables if t[0] != "untrained"], ignore_index=True)
    comp = compare_methods(
        meas, "segresnet/l1dfl", "segresnet/dice", stat="ccc", n_resamples=1000, seed=args.seed
    )
    print("compare_methods(l1dfl vs dice, stat='ccc', n_resamples=1000):")
    print(comp.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"total {time.perf_counter() - tic:.0f} s; outputs in {out}")


if __name__ == "__main__":
    main()
