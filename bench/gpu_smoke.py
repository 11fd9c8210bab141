"""segengine on one device, end to end, timed: the check that a GPU run works and is fed.

Steps (one line each, with its wall time; on CUDA also peak GPU memory and samples/s):

1. ``phantoms``: a small synthetic cohort (``segengine.data.phantoms.make_phantoms``);
2. ``train``: fold 0, 2 short epochs, uninterrupted (the reference weights);
3. ``kill``: the same run in a child process that dies (``os._exit``) right after writing the
   epoch-1 checkpoint, like a job killed between epochs;
4. ``resume``: ``train(resume=True)`` in this process, then the weights against step 2
   (bit-identical expected on CPU; on CUDA the largest difference is printed, since cuDNN
   autotuning and atomics are not bit-exact);
5. ``train fold 1``: the second fold for the ensemble;
6. ``predict``: ``segengine.predict`` with a mean ensemble of the 2 folds;
7. ``measure``: ``agreement.measures.cohort.measure_cohort`` on the predictions (the library
   function, not the ``agree`` CLI);

then the figures of ``docs/benchmarks.md`` (skipped with ``--quick``):

8. ``loader``: samples/s of the run's cached training loader (default workers, the papers'
   patch sampling; on CUDA without the affine, which runs on the GPU) against the training
   step (forward, backward, AdamW; on CUDA with the batch affine) in samples/s; the loader
   must deliver more than the step consumes;
9. ``step``: training step time with bf16 autocast against fp32 (CUDA), and with
   channels-last-3d against the default layout (and ``torch.compile`` with ``--compile``);
10. ``whole-body``: sliding-window inference time per whole-body case
    (192x192x320 PET voxels, one run, ``segengine.predict``).

Run::

    python bench/gpu_smoke.py                      # CUDA when present: 96^3 patches, batch 2
    python bench/gpu_smoke.py --device cpu --quick # CI-sized: tiny volumes and network

Exit status 1 when a step fails (the resumed weights differ on CPU, a prediction is missing).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

TINY_NET = {"channels": [4, 8, 16], "strides": [2, 2], "num_res_units": 0}

CHILD = """
import json, os, sys
from segengine import training
from segengine.config import TrainConfig
args = json.loads(sys.argv[1])
real = training._save
def save(path, state):
    real(path, state)
    if path.name == "last.pt" and state["epoch"] == args["die_after"]:
        os._exit(137)  # killed: no cleanup, nothing else written
training._save = save
training.train(TrainConfig.from_dict(args["config"]), args["data"], args["out"],
               progress=False, device=args["device"])
"""


def settings(device: torch.device, quick: bool) -> dict:
    """Cohort and run settings: CI-sized on CPU, the issue's GPU sizes on CUDA."""
    from segengine.config import TrainConfig

    if device.type == "cuda" and not quick:
        config = TrainConfig(
            network="unet", loss="dice_ce", epochs=2, val_interval=1, batch_size=2,
            patch_size=(96, 96, 96), steps_per_epoch=20, sw_batch_size=4,
        )  # fmt: skip
        return {"cases": 8, "shape": "small", "config": config, "bench_steps": 20}
    config = TrainConfig(
        network="unet", loss="dice_ce", epochs=2, val_interval=1, batch_size=2,
        patch_size=(16, 16, 16), spacing=4.0, steps_per_epoch=2, network_kwargs=TINY_NET,
    )  # fmt: skip
    return {"cases": 4, "shape": (24, 24, 32), "config": config, "bench_steps": 4}


class Steps:
    """Times steps and prints one line each: name, seconds, peak GPU memory, samples/s."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.rows: list[dict] = []
        self.total = 0.0

    def run(self, name: str, fn, *, samples: int | None = None, note: str = ""):
        cuda = self.device.type == "cuda"
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        tic = time.perf_counter()
        result = fn()
        if cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - tic
        self.total += seconds
        row = {"step": name, "seconds": round(seconds, 3)}
        if cuda:
            row["peak_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        if samples:
            row["samples_per_s"] = round(samples / seconds, 2)
        extra = note(result) if callable(note) else note
        if extra:
            row["note"] = extra
        self.rows.append(row)
        self.print(row)
        return result

    def record(self, name: str, **values) -> None:
        row = {"step": name, **values}
        self.rows.append(row)
        self.print(row)

    @staticmethod
    def print(row: dict) -> None:
        parts = [f"{row['step']:<22}"]
        if "seconds" in row:
            parts.append(f"{row['seconds']:9.2f} s")
        parts += [f"{k}={v}" for k, v in row.items() if k not in ("step", "seconds")]
        print("  ".join(parts), flush=True)


def _max_difference(a: Path, b: Path) -> float:
    sa = torch.load(a, map_location="cpu", weights_only=True)["model"]
    sb = torch.load(b, map_location="cpu", weights_only=True)["model"]
    return max(float((sa[k].double() - sb[k].double()).abs().max()) for k in sa)


def _step_time(model, loss_fn, image, label, *, dtype, steps, channels_last=False, aug=None):
    """Seconds per training step (forward, backward, AdamW) after 2 warm-up steps."""
    from segengine.accel import autocast
    from segengine.augment import random_affine

    dev = image.device
    if channels_last:
        model = model.to(memory_format=torch.channels_last_3d)
        image = image.contiguous(memory_format=torch.channels_last_3d)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    gen = torch.Generator().manual_seed(0)

    def one():
        x, y = image, label
        if aug is not None:
            x, y = random_affine(x, y, generator=gen, **aug)
        opt.zero_grad(set_to_none=True)
        with autocast(dev, dtype):
            loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(2):
        one()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    tic = time.perf_counter()
    for _ in range(steps):
        one()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - tic) / steps


def bench_figures(steps: Steps, run_cfg, data: Path, work: Path, dev, args, n_steps: int) -> None:
    """The loader, step and whole-body figures of docs/benchmarks.md."""
    from segengine import training
    from segengine.accel import autocast_dtype, plain
    from segengine.data.io import datalist
    from segengine.loader import default_workers, make_loader
    from segengine.losses import build_loss
    from segengine.networks import build_network

    cuda = dev.type == "cuda"
    files = {"train": datalist(data), "val": []}
    train_ds, _ = training._datasets(run_cfg, files, work, device_augment=cuda)
    workers = default_workers(dev.type)
    loader, sampler = make_loader(
        train_ds, batch_size=run_cfg.batch_size, seed=0, num_workers=workers,
        pin_memory=cuda, samples=(n_steps + 2) * run_cfg.batch_size,
    )  # fmt: skip
    sampler.set_epoch(0)
    batches = iter(loader)
    first = next(batches)  # starts the workers
    n = 0
    tic = time.perf_counter()
    for batch in batches:
        n += batch["image"].shape[0]
    loader_rate = n / (time.perf_counter() - tic)
    training._stop_workers(loader)

    model = build_network(run_cfg.network, **run_cfg.network_kwargs).to(dev)
    loss_fn = build_loss(run_cfg.loss)
    image = plain(first["image"]).to(dev)
    label = plain(first["label"]).to(dev)
    aug = training._augment_options(run_cfg) if cuda else None
    amp = autocast_dtype(dev, amp=True)
    t = {"default": _step_time(model, loss_fn, image, label, dtype=amp, steps=n_steps, aug=aug)}
    step_rate = image.shape[0] / t["default"]
    steps.record(
        "loader vs step",
        loader_samples_per_s=round(loader_rate, 1),
        step_samples_per_s=round(step_rate, 1),
        loader_over_step=round(loader_rate / step_rate, 2),
        workers=workers,
        fed="yes" if loader_rate > step_rate else "NO: the loader is the bottleneck",
    )
    if cuda:
        t["fp32"] = _step_time(model, loss_fn, image, label, dtype=None, steps=n_steps, aug=aug)
    t["channels_last"] = _step_time(
        build_network(run_cfg.network, **run_cfg.network_kwargs).to(dev), loss_fn, image, label,
        dtype=amp, steps=n_steps, channels_last=True, aug=aug,
    )  # fmt: skip
    if args.compile:
        compiled = torch.compile(build_network(run_cfg.network, **run_cfg.network_kwargs).to(dev))
        t["compile"] = _step_time(compiled, loss_fn, image, label, dtype=amp, steps=n_steps, aug=aug)
    base = t["default"]
    steps.record(
        "step time",
        precision=str(amp or "fp32").removeprefix("torch."),
        **{f"{k}_ms": round(v * 1e3, 1) for k, v in t.items()},
        **{f"{k}_over_default": round(v / base, 2) for k, v in t.items() if k != "default"},
    )


def whole_body(steps: Steps, run: Path, work: Path, dev) -> None:
    from segengine.data.phantoms import make_phantoms
    from segengine.infer import predict

    wb = steps.run(
        "whole-body phantoms",
        lambda: make_phantoms(work / "wb", 2, seed=9, shape="full", folds=2, progress=False),
    )
    images = wb / "imagesTr"
    predict([run], images, work / "wb_warm", device=str(dev), progress=False)  # warm-up
    steps.run(
        "whole-body predict",
        lambda: predict([run], images, work / "wb_pred", device=str(dev), progress=False),
        samples=2,
    )
    per_case = steps.rows[-1]["seconds"] / 2
    steps.record("whole-body per case", seconds=round(per_case, 3),
                 note="192x192x320 PET voxels, 1 run, overlap 0.5, gaussian, load to write")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--quick", action="store_true", help="CI-sized; no benchmark figures")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one)")
    parser.add_argument("--json", type=Path, help="write the rows as JSON here")
    args = parser.parse_args(argv)

    from agreement.measures.cohort import measure_cohort
    from segengine import training
    from segengine.data.phantoms import make_phantoms
    from segengine.infer import predict

    dev = training.resolve_device(args.device)
    conf = settings(dev, args.quick)
    cfg = conf["config"]
    steps = Steps(dev)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    print(f"gpu_smoke on {name}: {cfg.network} {cfg.patch_size[0]}^3 patches, batch "
          f"{cfg.batch_size}, {cfg.steps_per_epoch} steps x {cfg.epochs} epochs", flush=True)  # fmt: skip
    work_ctx = tempfile.TemporaryDirectory() if args.work is None else None
    work = Path(work_ctx.name) if work_ctx else args.work
    work.mkdir(parents=True, exist_ok=True)
    failed = []
    try:
        data = steps.run(
            "phantoms",
            lambda: make_phantoms(work / "ph", conf["cases"], seed=0, shape=conf["shape"],
                                  folds=2, progress=False),  # fmt: skip
        )
        per_run = cfg.epochs * cfg.steps_per_epoch * cfg.batch_size
        ref = steps.run(
            "train", lambda: training.train(cfg, data, work / "ref", progress=False,
                                            device=str(dev)), samples=per_run,
        )  # fmt: skip
        child = json.dumps({"config": cfg.to_dict(), "data": str(data), "out": str(work / "res"),
                            "device": str(dev), "die_after": 1})  # fmt: skip
        import segengine  # the child imports the same package as this process

        here = str(Path(segengine.__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([here, os.environ.get("PYTHONPATH", "")])}
        killed = steps.run(
            "kill after epoch 1",
            lambda: subprocess.run([sys.executable, "-c", CHILD, child], env=env,
                                   capture_output=True, text=True, check=False),  # fmt: skip
            note=lambda r: f"exit {r.returncode}",
        )
        if killed.returncode != 137:
            failed.append(f"kill: exit {killed.returncode}: {killed.stderr[-500:]}")
        run = steps.run(
            "resume",
            lambda: training.train(cfg, data, work / "res", resume=True, progress=False,
                                   device=str(dev)),  # fmt: skip
        )
        diff = _max_difference(ref / "last.pt", run / "last.pt")
        same = diff == 0.0
        steps.record("resume vs uninterrupted", identical=same, max_abs_difference=diff)
        if dev.type == "cpu" and not same:
            failed.append(f"resumed weights differ from the uninterrupted run by {diff}")
        fold1 = steps.run(
            "train fold 1",
            lambda: training.train(cfg.replace(fold=1), data, work / "ref", progress=False,
                                   device=str(dev)), samples=per_run,
        )  # fmt: skip
        pred = steps.run(
            "predict (2-fold mean)",
            lambda: predict([ref, fold1], data / "imagesTr", work / "pred", ensemble="mean",
                            device=str(dev), progress=False),  # fmt: skip
            samples=conf["cases"],
        )
        result = steps.run(
            "measure (agreement)",
            lambda: measure_cohort(pred, data / "labelsTr", data / "imagesTr", progress=False,
                                   workers=1),  # fmt: skip
            note=lambda r: f"{r.cases['case_id'].nunique()} cases, mean DSC "
            f"{r.cases['dsc'].mean():.3f}, {len(r.failed)} failed",
        )
        if len(result.failed) or result.cases["case_id"].nunique() != conf["cases"]:
            failed.append(f"measure: {len(result.failed)} cases failed")
        if not args.quick:
            bench_figures(steps, cfg, data, work / "bench", dev, args, conf["bench_steps"])
            whole_body(steps, ref, work, dev)
    finally:
        if args.json:
            args.json.write_text(json.dumps({"device": name, "rows": steps.rows}, indent=2))
        if work_ctx:
            work_ctx.cleanup()
    print(f"{'total':<22}{steps.total:9.2f} s  {'FAILED: ' + '; '.join(failed) if failed else 'ok'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
