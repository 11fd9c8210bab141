"""Device settings for training and prediction: precision, cuDNN/TF32, memory format.

On CUDA the defaults are the fast ones: bf16 autocast (fp16 with a ``GradScaler`` where the
GPU has no bf16), ``cudnn.benchmark`` and TF32 on. ``deterministic=True`` turns benchmark and
TF32 off and enables ``torch.use_deterministic_algorithms`` (slower 3-D convolutions and
backward passes; some ops then raise instead of running). On CPU everything stays fp32.

Examples
--------
>>> import torch
>>> from segengine.accel import autocast_dtype
>>> autocast_dtype(torch.device("cpu"), amp=True) is None
True
"""

from __future__ import annotations

import os
from typing import Any

import torch

__all__ = [
    "autocast", "autocast_dtype", "configure_numerics", "plain", "prepare_model", "to_device"
]  # fmt: skip


def autocast_dtype(device: torch.device, *, amp: bool = True) -> torch.dtype | None:
    """The autocast dtype on ``device``: bf16 on CUDA when supported, else fp16; None on CPU.

    Examples
    --------
    >>> import torch
    >>> autocast_dtype(torch.device("cpu"), amp=True) is None
    True
    """
    if not amp or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def autocast(device: torch.device, dtype: torch.dtype | None) -> Any:
    """``torch.autocast`` on ``device`` with ``dtype``, disabled when ``dtype`` is None.

    Examples
    --------
    >>> import torch
    >>> with autocast(torch.device("cpu"), None):
    ...     (torch.ones(2) * 2).dtype
    torch.float32
    """
    return torch.autocast(device_type=device.type, dtype=dtype, enabled=dtype is not None)


def configure_numerics(device: torch.device, *, deterministic: bool = False) -> str:
    """Set cuDNN benchmark, TF32 and deterministic algorithms; return a one-line summary.

    Fast (default): ``cudnn.benchmark`` on, TF32 matmul and convolutions on. Deterministic:
    benchmark and TF32 off, ``cudnn.deterministic`` on, ``torch.use_deterministic_algorithms``
    (``CUBLAS_WORKSPACE_CONFIG=:4096:8`` is set when not given); expect slower steps on GPU.

    Examples
    --------
    >>> import torch
    >>> configure_numerics(torch.device("cpu"), deterministic=False)
    'cpu: fp32'
    """
    torch.use_deterministic_algorithms(deterministic)
    if device.type != "cuda":
        return f"{device.type}: fp32" + (", deterministic algorithms" if deterministic else "")
    fast = not deterministic
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.benchmark = fast
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cuda.matmul.allow_tf32 = fast
    torch.backends.cudnn.allow_tf32 = fast
    if deterministic:
        return "cuda: deterministic algorithms, cudnn.benchmark and TF32 off (slower steps)"
    return "cuda: cudnn.benchmark and TF32 on"


def plain(x: Any) -> torch.Tensor:
    """A MONAI MetaTensor as a plain tensor (no metadata through the network and loss).

    Examples
    --------
    >>> from monai.data import MetaTensor
    >>> type(plain(MetaTensor([1.0]))).__name__
    'Tensor'
    """
    return x.as_tensor() if hasattr(x, "as_tensor") else torch.as_tensor(x)


def prepare_model(model: torch.nn.Module, *, channels_last: bool = False) -> torch.nn.Module:
    """Set the channels-last-3d memory format of ``model`` in place (when asked); return it.

    Examples
    --------
    >>> import torch
    >>> conv = prepare_model(torch.nn.Conv3d(1, 1, 1), channels_last=True)
    >>> conv.weight.is_contiguous(memory_format=torch.channels_last_3d)
    True
    """
    if channels_last:
        model.to(memory_format=torch.channels_last_3d)
    return model


def to_device(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Copy a batch tensor to ``device`` (asynchronously when it is in pinned memory).

    Examples
    --------
    >>> import torch
    >>> to_device(torch.ones(1), torch.device("cpu")).device
    device(type='cpu')
    """
    return x.to(device, non_blocking=True)
