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

PARAMETER_COUNTS: dict[str, int] = {
    "unet": 19_289_380,
    "attention_unet": 5_909_562,
    "segresnet": 4_701_346,
    "resunet": 19_223_525,
    "unetr": 96_177_826,
}
"""Trainable parameters of each default network with 2 input and 2 output channels."""


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
