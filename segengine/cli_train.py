"""``segengine train``: train one cross-validation fold of one network/loss pair."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from agreement.errors import InputError
from segengine.config import PRESETS


def _canonical(name: str, kind: str) -> str:
    """The registry key for ``name``, or an InputError with "did you mean"."""
    from segengine.registry import lookup

    if kind == "network":
        from segengine.networks import NETWORKS as table
    else:
        from segengine.losses import LOSSES as table
    try:
        lookup(name, table, kind=kind)
    except ValueError as exc:
        raise InputError(f"--{kind}: {exc}") from None
    return name.strip().lower().replace("-", "_")


# TrainConfig fields whose option is not simply --<field-with-dashes>.
_FLAGS = {"n_folds": "--folds", "num_workers": "--workers"}


def _check_patch(config: Any, flag: int | None, config_file: Path | None) -> None:
    """Refuse a patch the network cannot take, before anything is written."""
    from segengine.networks import check_patch

    try:
        check_patch(config.network, config.patch_size, **config.network_kwargs)
    except ValueError as exc:
        where = f"--patch-size {flag}" if flag is not None else "patch_size"
        where = f"{config_file}: {where}" if flag is None and config_file else where
        raise InputError(f"{where}: {exc}") from None


@click.command(name="train")
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--network", help="unet, attention_unet, segresnet, resunet or unetr.")
@click.option("--loss", help="dice, dice_ce, dice_focal, gdfl or l1dfl.")
@click.option("--fold", type=int, help="Cross-validation fold to train.")
@click.option(
    "--preset",
    type=click.Choice(sorted(PRESETS)),
    help="Named settings over the defaults and --config (cpu-quick: a tiny run in minutes on "
    "a CPU); the flags here override it.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    help="YAML or JSON file of TrainConfig fields; the flags here override it.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=Path("runs"),
    show_default=True,
    help="Parent folder of the run folder <network>-<loss>-fold<k>.",
)
@click.option("--epochs", type=int, help="Training epochs (cosine schedule to 0).")
@click.option("--folds", "n_folds", type=int, help="Number of folds when splits are made.")
@click.option("--seed", type=int, help="Seed of every RNG.")
@click.option("--batch-size", type=int, help="Patches per step (per process under torchrun).")
@click.option("--patch-size", type=int, help="Cubic patch edge in voxels.")
@click.option("--val-interval", type=int, help="Validate every N epochs.")
@click.option("--steps-per-epoch", type=int, help="Batches per epoch [default: one pass].")
@click.option("--lr", type=float, help="AdamW learning rate.")
@click.option("--cache", type=click.Choice(["memory", "disk", "none"]))
@click.option(
    "--workers",
    "num_workers",
    type=int,
    help="DataLoader worker processes [default: from the CPUs available, at most 8 (2 on CPU)].",
)
@click.option(
    "--deterministic",
    is_flag=True,
    default=None,
    help="Deterministic algorithms; cuDNN benchmark and TF32 off (slower on GPU).",
)
@click.option(
    "--compile", is_flag=True, default=None, help="torch.compile the network (GPU; off by default)."
)
@click.option(
    "--channels-last",
    is_flag=True,
    default=None,
    help="Channels-last-3d memory format (GPU; off by default, measure first).",
)
@click.option(
    "--compat",
    type=click.Choice(["reference"]),
    help="Reproduce the published code's preprocessing.",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--resume", is_flag=True, help="Continue the run from its last checkpoint.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def train(
    data: Path,
    network: str | None,
    loss: str | None,
    fold: int | None,
    config_file: Path | None,
    preset: str | None,
    output: Path,
    device: str,
    resume: bool,
    no_progress: bool,
    **fields: object,
) -> None:
    """Train one fold on DATA (nnU-Net layout: imagesTr/, labelsTr/, splits_final.json).

    \b
    Example:
      segengine train phantoms --network segresnet --loss l1dfl --fold 0 -o runs
      segengine train phantoms --preset cpu-quick --device cpu -o runs
      torchrun --nproc_per_node=2 -m segengine.cli train phantoms --network unet ...
    """
    from segengine.config import ConfigError, TrainConfig

    if not data.is_dir():
        raise InputError(f"{data}: data folder not found")
    overrides = {
        "network": _canonical(network, "network") if network else None,
        "loss": _canonical(loss, "loss") if loss else None,
        "fold": fold,
        **fields,
    }
    given = {k: v for k, v in overrides.items() if v is not None}
    if overrides.get("patch_size") is not None:
        overrides["patch_size"] = (overrides["patch_size"],) * 3
    if preset is not None:
        overrides = {**PRESETS[preset], **given}
        if "patch_size" in given:
            overrides["patch_size"] = (given["patch_size"],) * 3
    try:
        if config_file is not None:
            config = TrainConfig.from_file(config_file, **overrides)
            config = config.replace(
                network=_canonical(config.network, "network"), loss=_canonical(config.loss, "loss")
            )
        else:
            config = TrainConfig().replace(**overrides)
    except ConfigError as exc:
        if exc.field in given:
            raise InputError(f"{_FLAGS.get(exc.field, '--' + exc.field.replace('_', '-'))} "
                             f"{given[exc.field]}: {exc.rule}") from None  # fmt: skip
        raise InputError(f"segengine train: {exc}") from None
    _check_patch(config, given.get("patch_size"), config_file)
    from segengine.training import train as run_training

    run_dir = run_training(
        config, data, output, resume=resume, progress=not no_progress, device=device
    )
    click.echo(str(run_dir))
