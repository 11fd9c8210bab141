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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agreement.atomic import atomic_path
from agreement.errors import InputError
from segengine.config import TrainConfig

LOG_COLUMNS = ("epoch", "train_loss", "val_dice", "best_val_dice", "lr", "seconds")
# Fields that may differ between the run folder's config and a resumed call.
_RESUMABLE_FIELDS = ("num_workers", "cache")


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
    """Restore what :func:`rng_state` saved."""
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


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


def _batches(loader: Any, n_steps: int | None) -> Iterator[dict[str, Any]]:
    """``n_steps`` batches (cycling the loader), or one pass when ``None``."""
    if n_steps is None:
        yield from loader
        return
    done = 0
    while done < n_steps:
        empty = True
        for batch in loader:
            empty = False
            yield batch
            done += 1
            if done >= n_steps:
                return
        if empty:
            return


def validate(
    model: torch.nn.Module,
    dataset: Any,
    config: TrainConfig,
    device: torch.device,
    dist: _Dist | None = None,
) -> float:
    """Mean foreground Dice over the validation cases (sliding window, argmax, MONAI DiceMetric).

    Cases with an empty reference and an empty prediction are left out (MONAI's NaN); under DDP
    each rank validates every ``world``-th case and the sums are all-reduced.
    """
    from monai.inferers import sliding_window_inference
    from monai.metrics import DiceMetric
    from monai.networks.utils import one_hot

    rank, world = (dist.rank, dist.world) if dist else (0, 1)
    metric = DiceMetric(include_background=False, reduction="none", ignore_empty=True)
    total, count = 0.0, 0
    model.eval()
    with torch.inference_mode():
        for i in range(rank, len(dataset), world):
            item = dataset[i]
            image = torch.as_tensor(item["image"])[None].to(device)
            label = torch.as_tensor(item["label"])[None].to(device)
            logits = sliding_window_inference(
                image,
                roi_size=config.patch_size,
                sw_batch_size=config.sw_batch_size,
                predictor=model,
                overlap=config.val_overlap,
                mode=config.val_mode,
            )
            n_cls = logits.shape[1]
            pred = one_hot(logits.argmax(1, keepdim=True), n_cls)
            ref = one_hot(label.long(), n_cls)
            value = metric(y_pred=pred, y=ref).float().nanmean().item()
            metric.reset()
            if math.isfinite(value):
                total, count = total + value, count + 1
    model.train()
    if dist is not None:
        total, count = dist.sum([total, float(count)])
    return total / count if count else float("nan")


def data_config(config: TrainConfig, **changes: Any) -> Any:
    """The :class:`segengine.data.transforms.DataConfig` of a run."""
    from segengine.data.transforms import DataConfig

    return DataConfig(
        spacing=(config.spacing,) * 3,
        patch_size=config.patch_size,
        pos=config.pos,
        neg=config.neg,
        num_samples=config.num_samples,
        compat=config.compat or "paper",
        **changes,
    )


def _datasets(config: TrainConfig, files: dict[str, list[dict]], run_dir: Path) -> tuple:
    from segengine.data.transforms import make_dataset, train_transforms, val_transforms

    dc = data_config(config)
    cache = None if config.cache == "none" else config.cache
    kw = {"cache": cache, "cache_dir": run_dir / "cache" if cache == "disk" else None}
    return (
        make_dataset(files["train"], train_transforms(dc), **kw),
        make_dataset(files["val"], val_transforms(dc), **kw),
    )


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
    from monai.utils import set_determinism

    from segengine.data.io import check_cases, datalist
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
    try:
        dev = dist.device
        set_determinism(seed=config.seed)
        torch.backends.cudnn.benchmark = False
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
        train_ds, val_ds = _datasets(config, files, run_dir)

        _seed_all(config.seed)
        model = build_network(config.network, **config.network_kwargs).to(dev)
        loss_fn = build_loss(config.loss, compat=config.compat or "paper", **config.loss_kwargs)
        opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.epochs, eta_min=0.0)
        use_amp = config.amp and dev.type == "cuda"
        scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

        start, best, best_epoch = 0, -math.inf, -1
        last = run_dir / "last.pt"
        if resume and last.is_file():
            state = load_checkpoint(last, map_location=dev)
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            scaler.load_state_dict(state["scaler"])
            set_rng_state(state["rng"])
            start, best, best_epoch = state["epoch"], state["best_metric"], state["best_epoch"]
        rows = _read_log(run_dir / "log.csv", start) if resume else []

        net: torch.nn.Module = model
        if dist.world > 1:
            net = torch.nn.parallel.DistributedDataParallel(
                model, device_ids=[dev.index] if dev.type == "cuda" else None
            )
        bar = Steps(range(start, config.epochs), desc=config.run_name, unit="epoch",
                    total=config.epochs, initial=start, enabled=progress and dist.main)  # fmt: skip
        for epoch in bar:
            tic = time.perf_counter()
            _seed_all(epoch_seed(config.seed, epoch, dist.rank))
            loader = _loader(train_ds, config, epoch, dist)
            net.train()
            losses = []
            for batch in _batches(loader, config.steps_per_epoch):
                image, label = batch["image"].to(dev), batch["label"].to(dev)
                opt.zero_grad(set_to_none=True)
                with torch.autocast(device_type=dev.type, enabled=use_amp):
                    loss = loss_fn(net(image), label)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                losses.append(float(loss.detach()))
            lr = opt.param_groups[0]["lr"]
            sched.step()
            val = math.nan
            if (epoch + 1) % config.val_interval == 0 or epoch + 1 == config.epochs:
                val = validate(model, val_ds, config, dev, dist)
                if math.isfinite(val) and val > best:
                    best, best_epoch = val, epoch + 1
            train_loss = float(np.mean(losses)) if losses else math.nan
            if dist.world > 1:
                train_loss = dist.sum([train_loss])[0] / dist.world
            rows.append(
                {
                    "epoch": epoch + 1,
                    "train_loss": f"{train_loss:.6g}",
                    "val_dice": "" if math.isnan(val) else f"{val:.6g}",
                    "best_val_dice": "" if best_epoch < 0 else f"{best:.6g}",
                    "lr": f"{lr:.6g}",
                    "seconds": f"{time.perf_counter() - tic:.3f}",
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
            # No finite validation Dice (e.g. only negative validation cases): best = last.
            _save(run_dir / "best.pt", load_checkpoint(last))
        dist.barrier()
        return run_dir
    finally:
        dist.close()


def _loader(dataset: Any, config: TrainConfig, epoch: int, dist: _Dist) -> Any:
    """A DataLoader whose shuffling and transform seeds depend only on (seed, epoch, rank)."""
    from monai.data import DataLoader

    gen = torch.Generator().manual_seed(epoch_seed(config.seed, epoch, dist.rank))
    sampler = None
    if dist.world > 1:
        from torch.utils.data.distributed import DistributedSampler

        sampler = DistributedSampler(
            dataset, num_replicas=dist.world, rank=dist.rank, shuffle=True, seed=config.seed
        )
        sampler.set_epoch(epoch)
    return DataLoader(
        dataset,
        batch_size=config.batch_size,
        shuffle=sampler is None,
        sampler=sampler,
        num_workers=config.num_workers,
        generator=gen,
        drop_last=False,
    )
