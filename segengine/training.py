"""k-fold training that resumes exactly: AdamW + cosine schedule, sliding-window validation.

A run folder ``OUT/<network>-<loss>-fold<k>/`` holds ``config.json`` (the resolved
:class:`~segengine.config.TrainConfig`), ``splits.json`` (nnU-Net ``splits_final.json`` format),
``log.csv`` (one row per epoch), ``last.pt`` and ``best.pt``. A checkpoint holds the model,
optimiser, scheduler and AMP-scaler states, the RNG states and the epoch; every epoch's randomness
(shuffling, patch sampling, augmentation, dropout) is derived from ``(seed, epoch, rank)``, so a
run killed at any point and resumed with ``resume=True`` reproduces the uninterrupted run (on CPU
bit for bit). Under ``torchrun`` the run trains with DistributedDataParallel (gloo on CPU, NCCL on
CUDA) and rank 0 writes the files.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agreement.atomic import atomic_path
from agreement.errors import InputError
from segengine.config import TrainConfig

LOG_COLUMNS = (
    "epoch", "train_loss", "val_dice", "best_val_dice", "lr", "seconds", "val_fpv_ml", "val_fnv_ml"
)  # fmt: skip
# Fields that may differ between the run folder's config and a resumed call (speed only).
_RESUMABLE_FIELDS = ("num_workers", "cache", "compile", "channels_last")
# Warn when a configured run is estimated to take longer than this on the device found.
LONG_RUN_HOURS = 3.0


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` → CUDA when present, else CPU; otherwise ``torch.device(device)``.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device {device}: CUDA is not available on this machine")
    return dev


def make_splits(case_ids: list[str], n_folds: int, seed: int) -> list[dict[str, list[str]]]:
    """Fixed k-fold splits in nnU-Net ``splits_final.json`` format.

    Cases are sorted, shuffled with ``numpy.random.default_rng(seed)`` and cut into ``n_folds``
    nearly equal validation folds.

    Examples
    --------
    >>> splits = make_splits(["a", "b", "c", "d"], n_folds=2, seed=0)
    >>> len(splits), sorted(splits[0]["train"] + splits[0]["val"])
    (2, ['a', 'b', 'c', 'd'])
    """
    ids = sorted(case_ids)
    if len(ids) < n_folds:
        raise ValueError(f"{len(ids)} cases cannot be split into {n_folds} folds")
    order = np.random.default_rng(seed).permutation(len(ids))
    folds = np.array_split(order, n_folds)
    out = []
    for k in range(n_folds):
        val = sorted(ids[i] for i in folds[k])
        out.append({"train": [c for c in ids if c not in set(val)], "val": val})
    return out


def epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """The seed of one epoch on one process (32 bits, from numpy's SeedSequence).

    Examples
    --------
    >>> epoch_seed(0, 3) == epoch_seed(0, 3) != epoch_seed(0, 4)
    True
    """
    return int(np.random.SeedSequence([seed, epoch, rank]).generate_state(1)[0])


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - the global RNG that MONAI and user code draw from
    torch.manual_seed(seed)  # also seeds every CUDA device


def rng_state() -> dict[str, Any]:
    """Python, numpy, torch and CUDA RNG states, as types ``torch.load(weights_only=True)`` reads."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()  # noqa: NPY002
    return {
        "python": random.getstate(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` saved, wherever its tensors were loaded to.

    The states are moved to the CPU first (``torch.set_rng_state`` takes CPU byte tensors);
    CUDA states are restored for the GPUs present (none on a CPU machine, the first ones when
    the run was saved on more GPUs).
    """
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.cpu().numpy().astype(np.uint32), pos, has_gauss, gauss))  # noqa: NPY002
    torch.set_rng_state(state["torch"].cpu())
    if torch.cuda.is_available():
        for i, cuda_state in enumerate(state["cuda"][: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(cuda_state.cpu(), i)


def restore(
    state: dict[str, Any],
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: torch.amp.GradScaler,
) -> tuple[int, float, int]:
    """Restore a checkpoint read on the CPU into a run on any device; return its epoch and best.

    The model and optimiser may live on another device than the saved tensors (both copy
    them to their parameters' device). An empty scaler state (saved by a CPU or bf16 run, whose
    scaler is disabled) leaves a new fp16 scaler at its initial scale; a saved scale is not
    loaded into a disabled scaler.
    """
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    if state.get("scaler") and scaler.is_enabled():
        scaler.load_state_dict(state["scaler"])
    set_rng_state(state["rng"])
    return int(state["epoch"]), float(state["best_metric"]), int(state["best_epoch"])


class _Dist:
    """Process-group bookkeeping under ``torchrun`` (a no-op for a single process)."""

    def __init__(self, device: str) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.owned = False
        self.device = resolve_device(device)
        if self.world > 1:
            import torch.distributed as dist

            if self.device.type == "cuda":
                self.device = torch.device("cuda", self.local_rank)
                torch.cuda.set_device(self.device)
            if not dist.is_initialized():
                dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
                self.owned = True

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            torch.distributed.barrier()

    def sync_buffers(self, model: torch.nn.Module) -> None:
        """Give every rank rank 0's buffers (BatchNorm statistics), the ones it saves."""
        if self.world > 1:
            for buf in model.buffers():
                torch.distributed.broadcast(buf, src=0)

    def gather(self, value: Any) -> list[Any]:
        """``value`` of every rank, in rank order (a picklable object)."""
        if self.world == 1:
            return [value]
        out: list[Any] = [None] * self.world
        torch.distributed.all_gather_object(out, value)
        return out

    def sum(self, values: list[float]) -> list[float]:
        if self.world == 1:
            return values
        t = torch.tensor(values, dtype=torch.float64)
        if self.device.type == "cuda":
            t = t.to(self.device)
        torch.distributed.all_reduce(t)
        return t.cpu().tolist()

    def close(self) -> None:
        if self.owned:
            torch.distributed.destroy_process_group()


def _read_splits(path: Path) -> list[dict[str, list[str]]]:
    try:
        splits = json.loads(path.read_text())
        ok = isinstance(splits, list) and all({"train", "val"} <= set(s) for s in splits)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read splits ({exc})".splitlines()[0]) from exc
    if not ok:
        raise InputError(f"{path}: expected a list of {{'train': [...], 'val': [...]}} folds")
    return [{"train": list(s["train"]), "val": list(s["val"])} for s in splits]


def _splits(config: TrainConfig, data_dir: Path, run_dir: Path, ids: list[str]) -> list[dict]:
    """The run's splits: its own ``splits.json``, else the data folder's, else new ones."""
    for path in (run_dir / "splits.json", data_dir / "splits_final.json"):
        if path.is_file():
            splits = _read_splits(path)
            break
    else:
        if len(ids) < config.n_folds:
            raise InputError(
                f"{data_dir}: {len(ids)} cases cannot be split into {config.n_folds} folds"
            )
        splits = make_splits(ids, config.n_folds, config.seed)
        path = run_dir / "splits.json"
    if config.fold >= len(splits):
        raise InputError(f"{path}: has {len(splits)} folds, no fold {config.fold}")
    missing = sorted(set(splits[config.fold]["train"] + splits[config.fold]["val"]) - set(ids))
    if missing:
        raise InputError(f"{path}: cases {missing[:3]} not found in {data_dir}")
    return splits


def _check_run_dir(run_dir: Path, config: TrainConfig, resume: bool) -> None:
    saved = run_dir / "config.json"
    if not resume:
        if (run_dir / "last.pt").exists() or (run_dir / "best.pt").exists():
            raise InputError(f"{run_dir}: run folder has checkpoints; pass --resume to continue it")
        return
    if not saved.is_file():
        return
    try:
        old = TrainConfig.from_dict(json.loads(saved.read_text()))
    except (ValueError, TypeError) as exc:
        raise InputError(f"{saved}: not a segengine run configuration ({exc})") from exc
    new, prev = config.to_dict(), old.to_dict()
    diff = [k for k in new if k not in _RESUMABLE_FIELDS and new[k] != prev[k]]
    if diff:
        k = diff[0]
        raise InputError(
            f"{saved}: run was made with {k}={prev[k]!r}, not {new[k]!r}; cannot resume it"
        )


def _write_log(path: Path, rows: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=LOG_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue())


def _read_log(path: Path, upto: int) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        return [r for r in csv.DictReader(fh) if int(r["epoch"]) <= upto]


def _save(path: Path, state: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | os.PathLike[str], map_location: Any = "cpu") -> dict[str, Any]:
    """Read a checkpoint with ``torch.load(weights_only=True)``; a bad file is an InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: checkpoint not found")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: checkpoint file is empty (0 bytes)")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - unreadable or unsafe pickle
        raise InputError(f"{path}: {_checkpoint_problem(exc)}") from None


def _checkpoint_problem(exc: BaseException) -> str:
    """One clause for a checkpoint torch.load refused; never PyTorch's advice to disable safety.

    Examples
    --------
    >>> import pickle
    >>> _checkpoint_problem(pickle.UnpicklingError(
    ...     "Weights only load failed. ... \\n\\nTrying to load unsupported GLOBAL posix.system whose"))
    'checkpoint refused as unsafe: loading it would call posix.system'
    """
    import re

    text = str(exc)
    if "Weights only load failed" in text or "weights_only" in text:
        found = re.search(r"GLOBAL ([\w.]+)", text)
        what = f"loading it would call {found.group(1)}" if found else "it holds more than weights"
        return f"checkpoint refused as unsafe: {what}"
    first = re.split(r"(?<=[.!])\s|\n", text.strip(), maxsplit=1)[0] if text.strip() else ""
    kind = "not a PyTorch checkpoint" if isinstance(exc, (KeyError, EOFError)) else "cannot read checkpoint"
    return f"{kind} ({type(exc).__name__}{': ' + first if first else ''})"


def case_scores(
    prediction: np.ndarray, reference: np.ndarray, spacing: float | tuple[float, ...]
) -> dict[str, float]:
    """Validation score of one case: DSC, with empty/empty = 1, plus FPV and FNV in ml.

    A lesion-free reference scores 1 when the prediction is empty too and 0 when it has any
    false positive, so model selection sees false positives on negative scans (MONAI's
    ``DiceMetric(ignore_empty=True)`` returns NaN for both). DSC, FPV and FNV are
    :func:`agreement.measures.overlap.overlap` (18-connected components, autoPET definitions).

    Examples
    --------
    >>> import numpy as np
    >>> empty, fp = np.zeros((4, 4, 4), bool), np.zeros((4, 4, 4), bool)
    >>> fp[0, 0, 0] = True
    >>> case_scores(empty, empty, 2.0)["dice"], case_scores(fp, empty, 2.0)["dice"]
    (1.0, 0.0)
    >>> case_scores(fp, empty, 2.0)["fpv"]  # one 2 mm voxel: 0.008 ml
    0.008
    """
    from agreement.measures.overlap import overlap

    spacing = (spacing,) * 3 if np.isscalar(spacing) else tuple(spacing)
    out = overlap(predicted=prediction.astype(bool), reference=reference.astype(bool),
                  spacing=spacing)  # fmt: skip
    dice = out["dsc"] if math.isfinite(out["dsc"]) else 1.0  # both empty
    return {"dice": float(dice), "fpv": float(out["fpv"]), "fnv": float(out["fnv"])}


def validate(
    model: torch.nn.Module,
    dataset: Any,
    config: TrainConfig,
    device: torch.device,
    dist: _Dist | None = None,
    *,
    dtype: torch.dtype | None = None,
) -> dict[str, float]:
    """Mean validation scores (:func:`case_scores`) over the validation cases.

    Sliding-window prediction (autocast with ``dtype``), argmax; every case counts, lesion-free
    ones included. Under DDP every rank first takes rank 0's buffers (so the score is that of
    the saved model), validates every ``world``-th case, and the sums are all-reduced.

    Returns
    -------
    dict
        ``dice``, ``fpv``, ``fnv`` (ml, means over cases) and ``n`` (cases); NaN without cases.
    """
    from monai.inferers import sliding_window_inference

    from segengine.accel import autocast, plain

    rank, world = (dist.rank, dist.world) if dist else (0, 1)
    if dist is not None:
        dist.sync_buffers(model)
    totals = [0.0, 0.0, 0.0, 0.0]
    model.eval()
    with torch.inference_mode():
        for i in range(rank, len(dataset), world):
            item = dataset[i]
            image = plain(item["image"])[None].to(device, non_blocking=True)
            with autocast(device, dtype):
                logits = sliding_window_inference(
                    image,
                    roi_size=config.patch_size,
                    sw_batch_size=config.sw_batch_size,
                    predictor=model,
                    overlap=config.val_overlap,
                    mode=config.val_mode,
                )
            pred = plain(logits).argmax(1)[0].cpu().numpy() > 0
            ref = plain(item["label"])[0].numpy() > 0
            scores = case_scores(pred, ref, config.spacing)
            totals = [t + v for t, v in zip(totals, (*scores.values(), 1.0), strict=True)]
    model.train()
    if dist is not None:
        totals = dist.sum(totals)
    *sums, n = totals
    if not n:
        return {"dice": math.nan, "fpv": math.nan, "fnv": math.nan, "n": 0}
    return {**dict(zip(("dice", "fpv", "fnv"), (v / n for v in sums), strict=True)), "n": int(n)}


def data_config(config: TrainConfig, **changes: Any) -> Any:
    """The :class:`segengine.data.transforms.DataConfig` of a run."""
    from segengine.data.transforms import DataConfig

    return DataConfig(
        spacing=(config.spacing,) * 3,
        patch_size=config.patch_size,
        pos=config.pos,
        neg=config.neg,
        num_samples=config.num_samples,
        compat=config.compat,
        **changes,
    )


def _datasets(config: TrainConfig, files: dict[str, list[dict]], run_dir: Path, *,
              device_augment: bool, dist: _Dist | None = None) -> tuple:  # fmt: skip
    """Training and validation datasets; under DDP a memory cache is kept once per node."""
    from segengine.data.transforms import make_dataset, train_transforms, val_transforms
    from segengine.loader import NodeCacheDataset

    dc = data_config(config)
    train_dc = data_config(config, augment=False) if device_augment else dc
    pipelines = (train_transforms(train_dc), val_transforms(dc))
    if dist is not None and dist.world > 1 and config.cache == "memory":
        return tuple(
            NodeCacheDataset(files[k], tf, run_dir / "cache" / "node",
                             writer=dist.local_rank == 0, barrier=dist.barrier)  # fmt: skip
            for k, tf in zip(("train", "val"), pipelines, strict=True)
        )
    cache = None if config.cache == "none" else config.cache
    kw = {"cache": cache, "cache_dir": run_dir / "cache" if cache == "disk" else None}
    return tuple(make_dataset(files[k], tf, **kw) for k, tf in zip(("train", "val"), pipelines, strict=True))


def _augment_options(config: TrainConfig) -> dict[str, Any]:
    """The papers' (or the reference code's) affine as :func:`segengine.augment.random_affine`
    options, from the same :class:`~segengine.data.transforms.DataConfig` as the loader's."""
    dc = data_config(config)
    reference = dc.compat == "reference"
    prob = dc.affine_prob if dc.affine_prob is not None else (0.5 if reference else 1.0)
    rotate = (0.0, 0.0, dc.rotate) if reference else (dc.rotate,) * 3
    return {"translate": dc.translate, "rotate": rotate, "scale": dc.scale, "prob": prob}


def _say(message: str) -> None:
    import sys

    from tqdm.auto import tqdm

    tqdm.write(message, file=sys.stderr)


def train(
    config: TrainConfig,
    data_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    resume: bool = False,
    progress: bool = True,
    device: str = "auto",
) -> Path:
    """Train one fold; return the run folder ``out_dir/<network>-<loss>-fold<k>``.

    Parameters
    ----------
    config : TrainConfig
        The run's settings (saved as ``config.json``).
    data_dir : path
        nnU-Net-style folder: ``imagesTr/<case>_0000.nii.gz`` (CT), ``_0001`` (PET),
        ``labelsTr/<case>.nii.gz``; its ``splits_final.json`` is used when present.
    out_dir : path
        Parent folder of the run folder.
    resume : bool
        Continue from ``last.pt`` (the configuration must match the saved one).
    progress : bool
        Show a progress bar over epochs (rank 0 only).
    device : str
        ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Returns
    -------
    pathlib.Path
        The run folder with ``config.json``, ``splits.json``, ``log.csv``, ``last.pt``,
        ``best.pt``.

    Examples
    --------
    >>> from segengine import TrainConfig
    >>> TrainConfig(network="segresnet", loss="dice", fold=1).run_name
    'segresnet-dice-fold1'
    """
    from segengine.accel import (
        autocast,
        autocast_dtype,
        configure_numerics,
        plain,
        prepare_model,
        to_device,
    )
    from segengine.augment import random_affine
    from segengine.data.io import check_cases, datalist
    from segengine.loader import default_workers, make_loader
    from segengine.losses import build_loss
    from segengine.networks import build_network, check_patch
    from segengine.progress import Steps

    data_dir, out_dir = Path(data_dir), Path(out_dir)
    if not data_dir.is_dir():
        raise InputError(f"{data_dir}: data folder not found")
    try:
        check_patch(config.network, config.patch_size, **config.network_kwargs)
    except ValueError as exc:
        raise InputError(f"patch_size: {exc}") from None
    run_dir = out_dir / config.run_name
    _check_run_dir(run_dir, config, resume)
    dist = _Dist(device)
    loader = None
    try:
        dev = dist.device
        numerics = configure_numerics(dev, deterministic=config.deterministic)
        cases = datalist(data_dir)
        by_id = {c["case_id"]: c for c in cases}
        splits = _splits(config, data_dir, run_dir, sorted(by_id))
        fold = splits[config.fold]
        check_cases(by_id[c] for c in dict.fromkeys(fold["train"] + fold["val"]))
        if dist.main:
            run_dir.mkdir(parents=True, exist_ok=True)
            config.save(run_dir / "config.json")
            if not (run_dir / "splits.json").is_file():
                with atomic_path(run_dir / "splits.json") as tmp:
                    tmp.write_text(json.dumps(splits, indent=2) + "\n")
        dist.barrier()
        files = {k: [by_id[c] for c in fold[k]] for k in ("train", "val")}
        on_device_aug = config.gpu_augment if config.gpu_augment is not None else dev.type == "cuda"
        train_ds, val_ds = _datasets(config, files, run_dir, device_augment=on_device_aug,
                                     dist=dist)  # fmt: skip
        workers = config.num_workers
        if workers is None:
            workers = default_workers(dev.type, processes=dist.world)
        loader, sampler = make_loader(
            train_ds,
            batch_size=config.batch_size,
            seed=config.seed,
            num_workers=workers,
            rank=dist.rank,
            world=dist.world,
            pin_memory=dev.type == "cuda",
            samples=config.steps_per_epoch * config.batch_size if config.steps_per_epoch else None,
        )

        _seed_all(config.seed)
        model = build_network(config.network, **config.network_kwargs)
        if dist.world > 1 and dev.type == "cuda":
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        model.to(dev)
        loss_fn = build_loss(config.loss, compat=config.compat, **config.loss_kwargs)
        opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.epochs, eta_min=0.0)
        amp_dtype = autocast_dtype(dev, amp=config.amp)
        scaler = _scaler(dev, amp_dtype)

        start, best, best_epoch = 0, -math.inf, -1
        last = run_dir / "last.pt"
        if resume and last.is_file():
            # Read on the CPU: the RNG states must stay there; the model and optimiser copy
            # their tensors to the training device.
            state = load_checkpoint(last, map_location="cpu")
            start, best, best_epoch = restore(state, model, opt, sched, scaler)
        rows = _read_log(run_dir / "log.csv", start) if resume else []

        prepare_model(model, channels_last=config.channels_last)
        net: torch.nn.Module = model
        if dist.world > 1:
            net = torch.nn.parallel.DistributedDataParallel(
                model, device_ids=[dev.index] if dev.type == "cuda" else None
            )
        if config.compile:
            net = torch.compile(net)
        if dist.main and progress:
            _say(f"{config.run_name}: {numerics}; precision {amp_dtype or 'fp32'}; "
                 f"{workers} loader workers; augmentation on {'device' if on_device_aug else 'loader'}")  # fmt: skip
        aug = _augment_options(config)
        bar = Steps(range(start, config.epochs), desc=config.run_name, unit="epoch",
                    total=config.epochs, initial=start, enabled=progress and dist.main)  # fmt: skip
        warned = False
        for epoch in bar:
            tic = time.perf_counter()
            _seed_all(epoch_seed(config.seed, epoch, dist.rank))
            aug_gen = torch.Generator().manual_seed(epoch_seed(config.seed, epoch, 1 << 16))
            sampler.set_epoch(epoch)
            net.train()
            losses, step_tic = [], time.perf_counter()
            for step, batch in enumerate(loader):
                if step == 1:
                    step_tic = time.perf_counter()  # after the first (warm-up) step
                image = to_device(plain(batch["image"]), dev)
                label = to_device(plain(batch["label"]), dev)
                if on_device_aug:
                    image, label = random_affine(image, label, generator=aug_gen, **aug)
                if config.channels_last:
                    image = image.contiguous(memory_format=torch.channels_last_3d)
                opt.zero_grad(set_to_none=True)
                with autocast(dev, amp_dtype):
                    loss = loss_fn(net(image), label)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                losses.append(float(loss.detach()))
                if not warned and dist.main and (step == 3 or step + 1 == len(loader)):
                    warned = True  # after a few steps (or the first epoch): say how long
                    per_step = (time.perf_counter() - step_tic) / max(step, 1)
                    left = per_step * len(loader) * (config.epochs - epoch)
                    _warn_if_long(left, per_step * len(loader), dev, quiet=not progress)
            lr = opt.param_groups[0]["lr"]
            sched.step()
            val = {"dice": math.nan, "fpv": math.nan, "fnv": math.nan}
            if (epoch + 1) % config.val_interval == 0 or epoch + 1 == config.epochs:
                val = validate(model, val_ds, config, dev, dist, dtype=amp_dtype)
                if math.isfinite(val["dice"]) and val["dice"] > best:
                    best, best_epoch = val["dice"], epoch + 1
            train_loss = float(np.mean(losses)) if losses else math.nan
            if dist.world > 1:
                train_loss = dist.sum([train_loss])[0] / dist.world
            rows.append(
                {
                    "epoch": epoch + 1,
                    "train_loss": f"{train_loss:.6g}",
                    "val_dice": _fmt(val["dice"]),
                    "best_val_dice": "" if best_epoch < 0 else f"{best:.6g}",
                    "lr": f"{lr:.6g}",
                    "seconds": f"{time.perf_counter() - tic:.3f}",
                    "val_fpv_ml": _fmt(val["fpv"]),
                    "val_fnv_ml": _fmt(val["fnv"]),
                }
            )
            state = {
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
                "scaler": scaler.state_dict(),
                "rng": rng_state(),
                "epoch": epoch + 1,
                "best_metric": best,
                "best_epoch": best_epoch,
                "world_size": dist.world,
                "config": config.to_dict(),
            }
            if dist.main:
                _write_log(run_dir / "log.csv", rows)
                if best_epoch == epoch + 1:
                    _save(run_dir / "best.pt", state)
                _save(last, state)
            dist.barrier()
            bar.done(f"loss {rows[-1]['train_loss']} val {rows[-1]['val_dice'] or '-'} "
                     f"({rows[-1]['seconds']} s)")  # fmt: skip
        bar.close()
        if dist.main and not (run_dir / "best.pt").exists() and last.exists():
            # No validation ran (e.g. no validation cases): best = last.
            _save(run_dir / "best.pt", load_checkpoint(last))
        dist.barrier()
        return run_dir
    finally:
        if loader is not None:
            _stop_workers(loader)
        dist.close()


def _fmt(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.6g}"


def _scaler(device: torch.device, dtype: torch.dtype | None) -> torch.amp.GradScaler:
    """A GradScaler, enabled only for fp16 autocast (bf16 and fp32 need none)."""
    return torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)


def _warn_if_long(
    seconds: float, per_epoch: float, device: torch.device, *, quiet: bool = False
) -> None:
    """Say how long the run's training steps will take (unless ``quiet``); always warn when
    that is more than :data:`LONG_RUN_HOURS` (validation comes on top)."""
    hours = seconds / 3600
    msg = f"estimated training time: {hours:.1f} h on {device.type} ({per_epoch:.1f} s per epoch)"
    if hours > LONG_RUN_HOURS:
        tip = "; for a tiny run in minutes use --preset cpu-quick" if device.type == "cpu" else ""
        _say(f"warning: {msg}, more than {LONG_RUN_HOURS:g} h{tip}")
    elif not quiet:
        _say(msg)


def _stop_workers(loader: Any) -> None:
    """Shut down persistent loader workers now rather than at interpreter exit."""
    it = getattr(loader, "_iterator", None)
    if it is not None and hasattr(it, "_shutdown_workers"):
        it._shutdown_workers()
