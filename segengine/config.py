"""Training configuration as data: a frozen dataclass saved as ``config.json`` in each run folder.

A YAML (or JSON) file gives the values, command-line flags override them, and the resolved
configuration is written beside the checkpoints, so a run folder says how it was made.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from agreement.errors import InputError
from segengine.registry import check_compat


class ConfigError(ValueError):
    """A configuration field with a value out of range; ``field`` and ``value`` name it.

    Examples
    --------
    >>> str(ConfigError("lr", -1.0, "must be > 0"))
    'lr must be > 0, got -1.0'
    """

    def __init__(self, field: str, value: Any, rule: str) -> None:
        super().__init__(f"{field} {rule}, got {value!r}")
        self.field, self.value, self.rule = field, value, rule


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (the defaults are the papers' settings).

    Attributes
    ----------
    network, loss : str
        Registry names (``segengine.build_network`` / ``segengine.build_loss``).
    fold, n_folds : int
        Cross-validation fold trained and number of folds (``splits.json``).
    seed : int
        Seeds Python, numpy, torch and the MONAI transforms; each epoch's randomness is derived
        from ``(seed, epoch, rank)``, so a resumed run repeats it exactly.
    epochs, val_interval : int
        Training epochs (the cosine schedule reaches 0 at the last one) and validation period.
    steps_per_epoch : int or None
        Batches per epoch; ``None`` runs through the training cases once.
    batch_size : int
        Patches per optimiser step (per process under DDP).
    patch_size : tuple of int
        Training patch and validation sliding-window size, in voxels at ``spacing``.
    spacing : float
        Isotropic resampling in mm (2 mm in the papers).
    pos, neg, num_samples : float, float, int
        Positive:negative patch-centre ratio (4:1) and patches per loaded volume.
    lr, weight_decay : float
        AdamW settings (2e-4, 1e-5).
    amp : bool
        Mixed precision on CUDA: bf16 autocast, or fp16 with a GradScaler where the GPU has no
        bf16; training, validation and prediction. CPU runs stay fp32.
    deterministic : bool
        ``torch.use_deterministic_algorithms``, cuDNN benchmark and TF32 off: slower on GPU
        (and GPU results are still not bit-exact across GPU models); CPU runs are exact anyway.
    compile : bool
        ``torch.compile`` the network for the training steps (off by default: the first steps
        compile for minutes and the gain depends on network and GPU).
    channels_last : bool
        Channels-last-3d memory format for the network and batches (off by default: whether it
        helps 3-D convolutions depends on the GPU; measure with ``bench/gpu_smoke.py``).
    gpu_augment : bool or None
        Random affine on the training device for whole batches (:mod:`segengine.augment`)
        instead of per patch in the loader; None: on when training on CUDA.
    val_overlap, val_mode, sw_batch_size : float, str, int
        Sliding-window settings of the validation.
    cache : {"memory", "disk", "none"}
        Keep the preprocessed volumes in memory (CacheDataset), on disk under the run folder
        (PersistentDataset), or recompute them.
    num_workers : int or None
        DataLoader worker processes; None: :func:`segengine.loader.default_workers`.
    compat : str or None
        ``"reference"`` reproduces the published code's preprocessing choices.
    network_kwargs, loss_kwargs : dict
        Overrides passed to the network and loss builders.

    Examples
    --------
    >>> cfg = TrainConfig(network="segresnet", loss="dice", epochs=10)
    >>> cfg.replace(fold=2).fold
    2
    >>> TrainConfig.from_dict(cfg.to_dict()) == cfg
    True
    """

    network: str = "unet"
    loss: str = "l1dfl"
    fold: int = 0
    n_folds: int = 5
    seed: int = 0
    epochs: int = 300
    val_interval: int = 2
    steps_per_epoch: int | None = None
    batch_size: int = 2
    patch_size: tuple[int, int, int] = (128, 128, 128)
    spacing: float = 2.0
    pos: float = 4.0
    neg: float = 1.0
    num_samples: int = 1
    lr: float = 2e-4
    weight_decay: float = 1e-5
    amp: bool = True
    deterministic: bool = False
    compile: bool = False
    channels_last: bool = False
    gpu_augment: bool | None = None
    val_overlap: float = 0.5
    val_mode: str = "gaussian"
    sw_batch_size: int = 2
    cache: str = "memory"
    num_workers: int | None = None
    compat: str | None = None
    network_kwargs: dict[str, Any] = field(default_factory=dict)
    loss_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "patch_size", _patch(self.patch_size))
        # JSON-shaped (tuples as lists) so that a config read back from config.json is equal.
        object.__setattr__(self, "network_kwargs", _plain(dict(self.network_kwargs or {})))
        object.__setattr__(self, "loss_kwargs", _plain(dict(self.loss_kwargs or {})))
        if self.compat == "paper":  # the spelling of earlier releases: FutureWarning, None
            object.__setattr__(self, "compat", check_compat(self.compat))
        for name in ("n_folds", "epochs", "val_interval", "batch_size", "num_samples"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(name, getattr(self, name), "must be >= 1")
        checks = [
            ("n_folds", self.n_folds >= 2, "must be >= 2"),
            ("fold", 0 <= self.fold < self.n_folds, f"must be in [0, {self.n_folds - 1}]"),
            ("steps_per_epoch", self.steps_per_epoch is None or self.steps_per_epoch >= 1,
             "must be >= 1 or None"),
            ("num_workers", self.num_workers is None or self.num_workers >= 0,
             "must be >= 0 or None"),
            ("val_overlap", 0 <= self.val_overlap < 1, "must be in [0, 1)"),
            ("val_mode", self.val_mode in ("gaussian", "constant"),
             "must be 'gaussian' or 'constant'"),
            ("cache", self.cache in ("memory", "disk", "none"),
             "must be 'memory', 'disk' or 'none'"),
            ("compat", self.compat in (None, "reference"), "must be None or 'reference'"),
            ("lr", self.lr > 0, "must be > 0"),
            ("weight_decay", self.weight_decay >= 0, "must be >= 0"),
            ("spacing", self.spacing > 0, "must be > 0"),
        ]  # fmt: skip
        for name, ok, rule in checks:
            if not ok:
                raise ConfigError(name, getattr(self, name), rule)

    @property
    def run_name(self) -> str:
        """Folder name of the run: ``<network>-<loss>-fold<k>``."""
        return f"{self.network}-{self.loss}-fold{self.fold}"

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML-ready dictionary."""
        d = asdict(self)
        d["patch_size"] = list(self.patch_size)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from a dictionary; unknown keys raise ``ValueError``."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown configuration keys {unknown}; known: {sorted(known)}")
        return cls(**data)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **overrides: Any) -> TrainConfig:
        """Read a YAML or JSON file, then apply ``overrides`` (``None`` values ignored)."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: configuration file not found")
        text = path.read_text()
        try:
            if path.suffix == ".json":
                data = json.loads(text)
            else:
                import yaml

                data = yaml.safe_load(text)
        except Exception as exc:  # noqa: BLE001 - any parse error is a user error
            raise InputError(f"{path}: cannot parse configuration ({exc})".splitlines()[0]) from exc
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise InputError(f"{path}: configuration must be a mapping of keys to values")
        given = {k: v for k, v in overrides.items() if v is not None}
        data.update(given)
        try:
            return cls.from_dict(data)
        except ConfigError as exc:
            if exc.field in given:
                raise  # the caller names the option that gave the value
            raise InputError(f"{path}: {exc}") from exc
        except (TypeError, ValueError) as exc:
            raise InputError(f"{path}: {exc}") from exc

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``config.json`` (atomically) and return its path."""
        from agreement.atomic import atomic_path

        path = Path(path)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path


PRESETS: dict[str, dict[str, Any]] = {
    # A tiny run that learns something on a laptop CPU in minutes: 4 mm voxels, 32³ patches
    # (12.8 cm cubes), 10 epochs of 8 steps, validation every 5 epochs.
    "cpu-quick": {
        "spacing": 4.0,
        "patch_size": (32, 32, 32),
        "batch_size": 2,
        "epochs": 10,
        "steps_per_epoch": 8,
        "val_interval": 5,
        "sw_batch_size": 4,
    },
}
"""Named sets of :class:`TrainConfig` values (``segengine train --preset NAME``)."""


def _patch(value: Any) -> tuple[int, int, int]:
    if isinstance(value, int):
        value = (value,) * 3
    out = tuple(int(v) for v in value)
    if len(out) != 3 or min(out) < 1:
        raise ConfigError("patch_size", value, "must be 3 positive integers")
    return out  # type: ignore[return-value]


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
