"""From synthetic PET/CT to an agreement report: phantoms -> train -> predict/ensemble -> agree.

Steps:

1. a training cohort and a separate test cohort of synthetic PSMA-like phantoms
   (``segengine.make_phantoms``);
2. k-fold training of several network/loss pairs (``segengine.train``), one run per fold;
3. prediction of the test cohort by each pair's fold ensemble (``segengine.predict``);
4. ``agree report`` on the predictions: measures, agreement statistics, figures, index.html.

Run::

    python examples/end_to_end.py --quick -o e2e      # laptop CPU, a few minutes
    python examples/end_to_end.py -o e2e              # the papers' settings; use a GPU

``--quick`` uses tiny phantoms, a 4 mm grid, a small U-Net and a few short epochs, so the
masks are poor: it shows the workflow, not the networks' quality.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from agreement.cli import agree
from segengine.config import TrainConfig
from segengine.data.phantoms import make_phantoms
from segengine.infer import predict
from segengine.training import train

QUICK_NET = {"channels": [8, 16, 32], "strides": [2, 2], "num_res_units": 1}


def plan(quick: bool) -> dict:
    """Cohort sizes, folds and the run configurations of each mode."""
    if quick:
        base = TrainConfig(
            epochs=6,
            val_interval=2,
            steps_per_epoch=4,
            batch_size=2,
            patch_size=(32, 32, 32),
            spacing=4.0,
            network_kwargs=QUICK_NET,
        )
        pairs = [("unet", "dice_ce"), ("unet", "l1dfl")]
        return {"train": 12, "test": 8, "shape": "tiny", "folds": 2, "base": base, "pairs": pairs}
    base = TrainConfig(epochs=300, val_interval=2, batch_size=2, patch_size=(128, 128, 128))
    pairs = [("segresnet", "dice"), ("segresnet", "l1dfl"), ("unet", "dice_focal")]
    return {"train": 100, "test": 40, "shape": "small", "folds": 5, "base": base, "pairs": pairs}


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=Path("end_to_end"))
    parser.add_argument("--quick", action="store_true", help="minutes on a laptop CPU")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ensemble", choices=["majority", "mean", "weighted"], default="mean")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    p = plan(args.quick)
    out: Path = args.output
    tic = time.perf_counter()

    def step(text: str) -> None:
        print(f"[{time.perf_counter() - tic:7.1f} s] {text}", flush=True)

    step("phantoms")
    train_data = make_phantoms(
        out / "phantoms-train",
        p["train"],
        seed=args.seed,
        shape=p["shape"],
        folds=p["folds"],
        overwrite=True,
    )
    test_data = make_phantoms(
        out / "phantoms-test",
        p["test"],
        seed=args.seed + 1000,
        shape=p["shape"],
        folds=2,
        overwrite=True,
    )

    runs: list[Path] = []
    for network, loss in p["pairs"]:
        for fold in range(p["folds"]):
            config = p["base"].replace(network=network, loss=loss, fold=fold, seed=args.seed)
            if network != "unet" and config.network_kwargs == QUICK_NET:
                config = config.replace(network_kwargs={})
            step(f"train {config.run_name}")
            runs.append(train(config, train_data, out / "runs", resume=True, device=args.device))

    step(f"predict the test cohort ({args.ensemble} ensemble of {p['folds']} folds per pair)")
    pred = predict(
        runs,
        test_data / "imagesTr",
        out / "pred",
        ensemble=args.ensemble,
        device=args.device,
        resume=True,
    )

    step("agree report")
    report = out / "report"
    agree.main(
        [
            "report",
            str(pred),
            "--reference",
            str(test_data / "labelsTr"),
            "--pet",
            str(test_data / "imagesTr"),
            "-o",
            str(report),
            "--overwrite",
        ],
        prog_name="agree",
        standalone_mode=False,
    )
    step(f"done: open {report / 'index.html'}")
    return report


if __name__ == "__main__":
    main()
