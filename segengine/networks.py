"""Segmentation networks of the papers, built from MONAI classes.

Every network maps a PET/CT patch ``(B, in_channels, D, H, W)`` (channel 0 CT, channel 1 PET) to
logits ``(B, out_channels, D, H, W)`` (channel 0 background, channel 1 lesion). The defaults are
the papers' settings; where the published code (ObedDzik/pca_segment) built something else, the
override that reproduces it is given below.

========================  =========================================================  ============
name                      MONAI class and defaults (``spatial_dims=3``)               parameters
========================  =========================================================  ============
``unet``                  ``UNet(channels=(16, 32, 64, 128, 256, 512),                19,289,380
                          strides=(2, 2, 2, 2, 2), num_res_units=2, norm="BATCH",
                          act="RELU")``; paper 1 appendix A (the code's MONAI
                          default ``act="PRELU"`` gives 19,289,401)
``attention_unet``        ``AttentionUnet(channels=(16, 32, 64, 128, 256),             5,909,562
                          strides=(2, 2, 2, 2))``, BN + ReLU; papers 1 and 2 (the
                          code used ``channels=(16, ..., 512), strides=(2,) * 5``:
                          23,674,814)
``segresnet``             ``SegResNet(init_filters=16, blocks_down=(1, 2, 2, 4),       4,701,346
                          blocks_up=(1, 1, 1))``, GroupNorm(8) + ReLU; papers and code
``resunet``               ``UNet(channels=(32, 64, 128, 256, 512), strides=(2, 2, 2,  19,223,525
                          2), num_res_units=2, norm="BATCH", act="PRELU")``; the
                          autoPET 2023/2024 residual U-Net
``unetr``                 ``UNETR(img_size=(128, 128, 128), feature_size=16,           96,177,826
                          hidden_size=768, mlp_dim=3072, num_heads=12,
                          norm_name="batch", res_block=True)``; the first UNETR of
                          the code (the count depends on ``img_size``)
========================  =========================================================  ============

A network takes patches whose edges are multiples of its total down-sampling and at least
``MIN_PATCH`` (64, 32, 8, 32 voxels; UNETR exactly its ``img_size``): :func:`check_patch` says so
before training starts.

Later code versions of UNETR used ``feature_size=8, hidden_size=256, mlp_dim=1024,
num_heads=4, norm_name="instance"`` (12,633,938 parameters) and ``feature_size=8,
hidden_size=192, mlp_dim=768, num_heads=3, norm_name="instance"`` (7,848,594); pass them as
overrides. UNETR needs the ``einops`` package.

Examples
--------
>>> from segengine.networks import build_network, count_parameters
>>> count_parameters(build_network("segresnet"))
4701346
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Sequence
from typing import Any

from monai.networks.nets import UNETR, AttentionUnet, SegResNet, UNet
from torch import nn

from segengine.registry import lookup

NETWORKS: dict[str, type[nn.Module]] = {
    "unet": UNet,
    "attention_unet": AttentionUnet,
    "segresnet": SegResNet,
    "resunet": UNet,
    "unetr": UNETR,
}
"""Network name -> MONAI class."""

NETWORK_DEFAULTS: dict[str, dict[str, Any]] = {
    "unet": {
        "spatial_dims": 3,
        "channels": (16, 32, 64, 128, 256, 512),
        "strides": (2, 2, 2, 2, 2),
        "num_res_units": 2,
        "norm": "BATCH",
        "act": "RELU",
    },
    "attention_unet": {
        "spatial_dims": 3,
        "channels": (16, 32, 64, 128, 256),
        "strides": (2, 2, 2, 2),
    },
    "segresnet": {
        "spatial_dims": 3,
        "init_filters": 16,
        "blocks_down": (1, 2, 2, 4),
        "blocks_up": (1, 1, 1),
    },
    "resunet": {
        "spatial_dims": 3,
        "channels": (32, 64, 128, 256, 512),
        "strides": (2, 2, 2, 2),
        "num_res_units": 2,
        "norm": "BATCH",
        "act": "PRELU",
    },
    "unetr": {
        "spatial_dims": 3,
        "img_size": (128, 128, 128),
        "feature_size": 16,
        "hidden_size": 768,
        "mlp_dim": 3072,
        "num_heads": 12,
        "norm_name": "batch",
        "res_block": True,
    },
}
"""Network name -> the papers' constructor arguments (besides the channel counts)."""

MIN_PATCH: dict[str, int] = {"unet": 64, "attention_unet": 32, "segresnet": 8, "resunet": 32,
                             "unetr": 128}  # fmt: skip
"""Smallest cubic patch edge each default network trains on (:func:`patch_rule`; UNETR: exactly
its ``img_size``). Edges must also be multiples of the total down-sampling (32, 16, 8, 16)."""

PARAMETER_COUNTS: dict[str, int] = {
    "unet": 19_289_380,
    "attention_unet": 5_909_562,
    "segresnet": 4_701_346,
    "resunet": 19_223_525,
    "unetr": 96_177_826,
}
"""Trainable parameters of each default network with 2 input and 2 output channels."""


def patch_rule(name: str, **overrides: Any) -> tuple[tuple[int, ...], tuple[int, ...], bool]:
    """What patch a network takes: ``(multiple, minimum, exact)`` per axis.

    Edges must be multiples of the total down-sampling (the product of the strides; SegResNet:
    2 per level after the first) and at least ``minimum``: the down-sampling, or twice it when
    the bottleneck uses BatchNorm (a 1-voxel bottleneck fails on a batch of one patch). UNETR
    takes exactly its ``img_size`` (``exact`` is True, ``minimum`` is that size).

    Examples
    --------
    >>> from segengine.networks import patch_rule
    >>> patch_rule("unet")
    ((32, 32, 32), (64, 64, 64), False)
    >>> patch_rule("segresnet", blocks_down=(1, 2))
    ((2, 2, 2), (2, 2, 2), False)
    >>> all(patch_rule(n)[1] == (MIN_PATCH[n],) * 3 for n in NETWORKS)
    True
    """
    key = name.strip().lower().replace("-", "_")
    lookup(key, NETWORKS, kind="network")
    kw = {**NETWORK_DEFAULTS[key], **overrides}
    dims = int(kw.get("spatial_dims", 3))
    if key == "unetr":
        size = kw["img_size"]
        size = tuple(int(v) for v in ((size,) * dims if isinstance(size, int) else size))
        return size, size, True
    if key == "segresnet":
        factor = [2 ** (len(kw["blocks_down"]) - 1)] * dims
    else:
        factor = [1] * dims
        for stride in kw["strides"]:
            per_axis = (stride,) * dims if isinstance(stride, int) else tuple(stride)
            factor = [f * int(s) for f, s in zip(factor, per_axis, strict=True)]
    norm = "batch" if key == "attention_unet" else kw.get("norm", "")
    norm = norm[0] if isinstance(norm, (tuple, list)) else norm
    batch_norm = "batch" in str(norm).lower()
    minimum = tuple(f * 2 if batch_norm else f for f in factor)
    return tuple(factor), minimum, False


def check_patch(name: str, patch_size: Sequence[int], **overrides: Any) -> None:
    """Raise ValueError, saying what the network needs, when it cannot take ``patch_size``.

    Examples
    --------
    >>> from segengine.networks import check_patch
    >>> check_patch("unet", (64, 64, 128))
    >>> check_patch("unet", (32, 32, 32))
    Traceback (most recent call last):
    ...
    ValueError: network 'unet' needs patch edges that are multiples of 32 (its total down-sampling) and at least 64 (BatchNorm needs a 2-voxel bottleneck), got 32
    """
    multiple, minimum, exact = patch_rule(name, **overrides)
    patch = tuple(int(v) for v in patch_size)
    key = name.strip().lower().replace("-", "_")
    show = _edge
    if exact:
        if patch != minimum:
            raise ValueError(
                f"network {key!r} takes patches of exactly its img_size {show(minimum)} "
                f"(set network_kwargs img_size to train another size), got {show(patch)}"
            )
        return
    if all(p % m == 0 and p >= lo for p, m, lo in zip(patch, multiple, minimum, strict=False)):
        return
    why = " (BatchNorm needs a 2-voxel bottleneck)" if minimum != multiple else ""
    raise ValueError(
        f"network {key!r} needs patch edges that are multiples of {show(multiple)} (its total "
        f"down-sampling) and at least {show(minimum)}{why}, got {show(patch)}"
    )


def _edge(values: tuple[int, ...]) -> str:
    """``32`` for an isotropic value, else the tuple."""
    return str(values[0]) if len(set(values)) == 1 and len(values) > 1 else str(values)


def build_network(
    name: str, in_channels: int = 2, out_channels: int = 2, **overrides: Any
) -> nn.Module:
    """Build a segmentation network with the papers' settings.

    Parameters
    ----------
    name : str
        One of ``unet``, ``attention_unet``, ``segresnet``, ``resunet``, ``unetr``.
    in_channels, out_channels : int
        Input channels (CT, PET) and output classes (background, lesion).
    **overrides
        Constructor arguments of the MONAI class that replace the defaults, e.g.
        ``spatial_dims=2`` or ``img_size=(32, 32, 32)``.

    Returns
    -------
    torch.nn.Module
        The network, in training mode, on the CPU.

    Raises
    ------
    ValueError
        For an unknown name or an override the MONAI class does not accept.

    Examples
    --------
    >>> import torch
    >>> from segengine.networks import build_network
    >>> net = build_network("unet", channels=(4, 8), strides=(2,), num_res_units=0)
    >>> net(torch.zeros(1, 2, 8, 8, 8)).shape
    torch.Size([1, 2, 8, 8, 8])
    """
    cls = lookup(name, NETWORKS, kind="network")
    key = name.strip().lower().replace("-", "_")
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    for arg in overrides:
        if arg not in accepted or arg in ("in_channels", "out_channels"):
            close = difflib.get_close_matches(arg, sorted(accepted), n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise ValueError(f"{name}: {cls.__name__} has no argument {arg!r}{hint}")
    if in_channels < 1 or out_channels < 1:
        raise ValueError(
            f"in_channels and out_channels must be >= 1, got {in_channels}, {out_channels}"
        )
    kwargs = {**NETWORK_DEFAULTS[key], **overrides}
    return cls(in_channels=in_channels, out_channels=out_channels, **kwargs)


def count_parameters(model: nn.Module, *, trainable_only: bool = True) -> int:
    """Number of parameters of ``model`` (only those with ``requires_grad`` by default).

    Examples
    --------
    >>> from torch import nn
    >>> from segengine.networks import count_parameters
    >>> count_parameters(nn.Linear(3, 2))
    8
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
