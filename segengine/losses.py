"""Segmentation losses of the papers: MONAI losses and the L1-weighted Dice focal loss (L1DFL).

Every loss takes logits ``(B, C, *spatial)`` and a target that is either a label map
``(B, 1, *spatial)`` or one-hot ``(B, C, *spatial)``; 2D and 3D patches both work.

==============  ==========================================================================
name            loss (``compat=None``, the default: the papers)
==============  ==========================================================================
``dice``        ``DiceLoss(softmax=True)``
``dice_ce``     ``DiceCELoss(softmax=True)`` (cross-entropy on the logits, both weights 1)
``dice_focal``  ``DiceLoss(softmax=True)`` + ``FocalLoss(gamma=2, use_softmax=True)``: paper 1
                eq. 12-13 write a softmax focal term with alpha = 1. ``compat="reference"``
                gives MONAI ``DiceFocalLoss(softmax=True)``, whose focal term is a per-channel
                *sigmoid* focal loss, as the published code ran.
``gdfl``        ``GeneralizedDiceFocalLoss(softmax=True, weight=[1, 100])``: softmax
                generalised Dice (squared-volume class weights) + sigmoid focal loss with
                class weights 1 and 100 (autoPET 2023/2024)
``l1dfl``       :class:`L1DiceFocalLoss` (bin width 0.1, gamma 2)
==============  ==========================================================================

Examples
--------
>>> import torch
>>> from segengine.losses import build_loss
>>> loss = build_loss("l1dfl")
>>> logits = torch.zeros(1, 2, 4, 4, 4, requires_grad=True)
>>> labels = torch.zeros(1, 1, 4, 4, 4)
>>> value = loss(logits, labels)
>>> value.backward()
>>> bool(torch.isfinite(logits.grad).all())
True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import torch
from monai.losses import (
    DiceCELoss,
    DiceFocalLoss,
    DiceLoss,
    FocalLoss,
    GeneralizedDiceFocalLoss,
)
from torch import Tensor, nn

from segengine.registry import check_compat, lookup

Compat = Literal["reference"] | None

__all__ = [
    "LOSSES",
    "L1DiceFocalLoss",
    "OneHotTarget",
    "SumOfLosses",
    "build_loss",
    "l1_weights",
    "one_hot_target",
]


def one_hot_target(target: Tensor, num_classes: int) -> Tensor:
    """Return ``target`` as a float one-hot tensor ``(B, C, *spatial)``.

    A label map ``(B, 1, *spatial)`` with values in ``0 .. num_classes - 1`` is expanded; a
    target with ``num_classes`` channels is returned as float unchanged.

    Examples
    --------
    >>> import torch
    >>> from segengine.losses import one_hot_target
    >>> one_hot_target(torch.tensor([[[0, 1, 1]]]), 2)[0]
    tensor([[1., 0., 0.],
            [0., 1., 1.]])
    """
    if target.shape[1] == num_classes and num_classes > 1:
        return target.float()
    if target.shape[1] != 1:
        raise ValueError(
            f"target must have 1 (labels) or {num_classes} (one-hot) channels, "
            f"got shape {tuple(target.shape)}"
        )
    out = torch.zeros(
        (target.shape[0], num_classes, *target.shape[2:]), device=target.device, dtype=torch.float32
    )
    return out.scatter_(1, target.long(), 1.0)


def _check_shapes(logits: Tensor, target: Tensor) -> None:
    if logits.ndim < 3 or target.ndim != logits.ndim:
        raise ValueError(
            "logits (B, C, *spatial) and target (B, 1 or C, *spatial) must have the same number "
            f"of dimensions, got {tuple(logits.shape)} and {tuple(target.shape)}"
        )
    if target.shape[0] != logits.shape[0] or target.shape[2:] != logits.shape[2:]:
        raise ValueError(
            "logits and target must agree in batch and spatial size, "
            f"got {tuple(logits.shape)} and {tuple(target.shape)}"
        )
    if target.shape[1] not in (1, logits.shape[1]):
        raise ValueError(
            f"target must have 1 (labels) or {logits.shape[1]} (one-hot) channels, "
            f"got {tuple(target.shape)} for logits {tuple(logits.shape)}"
        )


def _n_bins(bin_width: float) -> int:
    """Number of bins 1/κ + 1; rejects a κ whose inverse is not an integer."""
    if not 0 < bin_width <= 1:
        raise ValueError(f"bin_width must be in (0, 1], got {bin_width}")
    inverse = 1.0 / bin_width
    n = round(inverse)
    if not math.isclose(inverse, n, rel_tol=0, abs_tol=1e-6):
        raise ValueError(
            f"bin_width must divide 1 into whole bins (1/bin_width an integer), got {bin_width}; "
            "otherwise the bin centres and the effective widths disagree"
        )
    return n + 1


@torch.no_grad()
def l1_weights(delta: Tensor, bin_width: float, *, compat: Compat = None) -> Tensor:
    """Voxel weights N / D(bin) of L1DFL from the L1 norms ``delta = |p - g|`` in [0, 1].

    One histogram is taken over all elements of ``delta``. The bins are centred on
    0, κ, ..., 1; a value goes to its nearest centre (a value exactly halfway goes to the upper
    bin). The effective width is κ/2 for the two border bins and κ inside, the density is
    count / width and the weight of an element is ``N / density`` of its bin, so uniform
    ``delta`` gives weight 1 everywhere. No gradient flows through the weights.

    Parameters
    ----------
    delta : Tensor
        L1 norms, any shape, values in [0, 1].
    bin_width : float
        κ; ``1 / bin_width`` must be an integer.
    compat : {None, "reference"}
        ``"reference"`` assigns bins with ``torch.bucketize`` on the left edges, as the
        published code does (the same bins up to rounding at the edges).

    Returns
    -------
    Tensor
        float32 weights, the shape of ``delta``.

    Examples
    --------
    >>> import torch
    >>> from segengine.losses import l1_weights
    >>> l1_weights(torch.tensor([0.0, 0.02, 0.5, 1.0]), 0.5)
    tensor([0.5000, 0.5000, 2.0000, 1.0000])
    """
    k = _n_bins(bin_width)
    n_steps = k - 1
    flat = delta.reshape(-1).float()
    if compat == "reference":
        centres = torch.linspace(0, 1, k, device=flat.device)
        left = (centres - bin_width / 2).clamp_min(0)
        idx = (torch.bucketize(flat.contiguous(), left, right=True) - 1).clamp_(0, n_steps)
    else:
        idx = torch.floor(flat * n_steps + 0.5).long().clamp_(0, n_steps)
    counts = torch.bincount(idx, minlength=k).float()
    width = torch.full((k,), float(bin_width), device=flat.device)
    width[0] = width[-1] = bin_width / 2
    table = flat.numel() * width / counts.clamp_min(1)
    return table[idx].reshape(delta.shape)


class L1DiceFocalLoss(nn.Module):
    """L1-weighted Dice focal loss (L1DFL; Dzikunu et al., the L1DFL paper, eq. 4-12).

    ``L = lambda_dice * (1 - mean_{b,c} S_bc) + lambda_focal * focal`` with the weighted
    squared-denominator Dice

    ``S_bc = (2 sum_i w_i p_ic g_ic + smooth_nr) / (sum_i w_i (p_ic^2 + g_ic^2) + smooth_dr)``

    per sample b and class c (background included), ``p = softmax(logits)``, ``g`` the one-hot
    target, and ``w_i = N / D(bin of |p_ic - g_ic|)`` from one histogram of the L1 norms of
    all N elements of the batch (see :func:`l1_weights`; the weights carry no gradient). The
    focal term is the softmax focal loss ``-(1 - p)^gamma g log p`` averaged over batch,
    classes and voxels (MONAI ``FocalLoss(use_softmax=True)``). Inputs in fp16/bf16 are
    computed in fp32.

    Parameters
    ----------
    bin_width : float
        κ, the histogram bin width; ``1 / bin_width`` must be an integer. The paper used 0.1;
        the published training code ran with its default 0.05.
    gamma : float
        Focal exponent (0 gives cross-entropy).
    lambda_dice, lambda_focal : float
        Weights of the two terms.
    smooth_nr, smooth_dr : float or None
        Constants added to the Dice numerator and denominator. ``None`` takes the mode's
        values: 0 and 1e-5 for ``None`` (eq. 14 adds ε to the denominator only),
        1e-8 and 1e-8 for ``"reference"`` (the published code).
    compat : {None, "reference"}
        ``"reference"`` reproduces the published code (pca_segment ``L1DFL``, versions with
        ``bucketize``): its smoothing constants and its bucketize bin assignment. Pass
        ``bin_width=0.05`` as well to reproduce its default bin width.

    Examples
    --------
    >>> import torch
    >>> from segengine.losses import L1DiceFocalLoss
    >>> loss = L1DiceFocalLoss(bin_width=0.1, gamma=2.0)
    >>> logits = torch.tensor([[[[4.0, -4.0]], [[-4.0, 4.0]]]])  # (1, 2, 1, 2): confident
    >>> float(loss(logits, torch.tensor([[[[0, 1]]]]))) < 1e-3
    True
    """

    def __init__(
        self,
        bin_width: float = 0.1,
        gamma: float = 2.0,
        *,
        lambda_dice: float = 1.0,
        lambda_focal: float = 1.0,
        smooth_nr: float | None = None,
        smooth_dr: float | None = None,
        compat: Compat = None,
    ) -> None:
        super().__init__()
        compat = check_compat(compat)
        _n_bins(bin_width)
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma}")
        if lambda_dice < 0 or lambda_focal < 0:
            raise ValueError(
                f"lambda_dice and lambda_focal must be >= 0, got {lambda_dice}, {lambda_focal}"
            )
        default_nr, default_dr = (0.0, 1e-5) if compat is None else (1e-8, 1e-8)
        self.bin_width = float(bin_width)
        self.gamma = float(gamma)
        self.lambda_dice = float(lambda_dice)
        self.lambda_focal = float(lambda_focal)
        self.smooth_nr = default_nr if smooth_nr is None else float(smooth_nr)
        self.smooth_dr = default_dr if smooth_dr is None else float(smooth_dr)
        self.compat: Compat = compat

    def extra_repr(self) -> str:
        return (
            f"bin_width={self.bin_width}, gamma={self.gamma}, lambda_dice={self.lambda_dice}, "
            f"lambda_focal={self.lambda_focal}, smooth_nr={self.smooth_nr}, "
            f"smooth_dr={self.smooth_dr}, compat={self.compat!r}"
        )

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """Loss of ``logits`` (B, C, *spatial) against labels (B, 1, ...) or one-hot (B, C, ...)."""
        _check_shapes(logits, target)
        n_classes = logits.shape[1]
        if n_classes < 2:
            raise ValueError(
                f"L1DFL needs >= 2 classes (softmax), got logits {tuple(logits.shape)}"
            )
        if target.shape[1] == 1 and n_classes == 2:
            dice, focal = self._binary_terms(logits, target)
        else:
            dice, focal = self._general_terms(logits, target)
        dice_loss = 1 - dice.mean()
        return self.lambda_dice * dice_loss + self.lambda_focal * focal

    def _dice(self, intersection: Tensor, denominator: Tensor) -> Tensor:
        return (2 * intersection + self.smooth_nr) / (denominator + self.smooth_dr)

    def _general_terms(self, logits: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
        """Dice S (B, C) and focal loss for any number of classes and one-hot targets."""
        log_p = torch.log_softmax(logits.float(), dim=1)
        p = log_p.exp()
        g = one_hot_target(target, logits.shape[1])
        w = l1_weights((p - g).abs(), self.bin_width, compat=self.compat)
        dims = tuple(range(2, logits.ndim))
        wp = w * p
        dice = self._dice((wp * g).sum(dims), (wp * p).sum(dims) + (w * g * g).sum(dims))
        one_minus = 1 - p
        modulator = one_minus * one_minus if self.gamma == 2 else one_minus.pow(self.gamma)
        focal = -(modulator * log_p * g).sum() / g.numel()
        return dice, focal

    def _binary_terms(self, logits: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        """The same terms for two classes and a label map, on one channel.

        With z = x1 - x0: p1 = sigmoid(z), p0 = 1 - p1 and |p0 - g0| = |p1 - g1|, so one
        histogram of channel 1 (every count doubled, which cancels in N / D) weights both
        channels; the focal term only has the true class, log q = logsigmoid(+-z).
        """
        x = logits.float()
        z = x[:, 1:] - x[:, :1]
        g1 = labels.float()
        p1 = torch.sigmoid(z)
        w = l1_weights((p1 - g1).abs(), self.bin_width, compat=self.compat)
        dims = tuple(range(2, logits.ndim))
        p0 = 1 - p1
        g0 = 1 - g1
        wg1 = w * g1
        wg0 = w - wg1
        wp1 = w * p1
        wp0 = w - wp1
        inter = torch.cat([(wp0 * g0).sum(dims), (wp1 * g1).sum(dims)], dim=1)
        denom = torch.cat(
            [(wp0 * p0).sum(dims) + wg0.sum(dims), (wp1 * p1).sum(dims) + wg1.sum(dims)], dim=1
        )
        signed = z * (2 * g1 - 1)  # +z where the label is 1, -z where it is 0
        log_q = torch.nn.functional.logsigmoid(signed)
        one_minus = torch.sigmoid(-signed)
        modulator = one_minus * one_minus if self.gamma == 2 else one_minus.pow(self.gamma)
        focal = -(modulator * log_q).sum() / (2 * z.numel())
        return self._dice(inter, denom), focal


class OneHotTarget(nn.Module):
    """Wrap a MONAI loss so it accepts label-map or one-hot targets.

    A label map ``(B, 1, ...)`` is expanded to one-hot before the wrapped loss (built with
    ``to_onehot_y=False``) is called; the value equals the loss built with ``to_onehot_y=True``.

    Examples
    --------
    >>> import torch
    >>> from monai.losses import DiceLoss
    >>> from segengine.losses import OneHotTarget
    >>> loss = OneHotTarget(DiceLoss(softmax=True))
    >>> float(loss(torch.zeros(1, 2, 3, 3), torch.zeros(1, 1, 3, 3))) > 0
    True
    """

    def __init__(self, loss: nn.Module) -> None:
        super().__init__()
        self.loss = loss

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        _check_shapes(logits, target)
        if logits.shape[1] > 1:
            target = one_hot_target(target, logits.shape[1])
        return self.loss(logits.float(), target)


class SumOfLosses(nn.Module):
    """Sum of losses called on the same inputs (e.g. Dice + softmax focal).

    Examples
    --------
    >>> import torch
    >>> from monai.losses import DiceLoss
    >>> from segengine.losses import SumOfLosses
    >>> x, y = torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 2, 2)
    >>> d = DiceLoss(softmax=True)
    >>> bool(SumOfLosses(d, d)(x, y) == 2 * d(x, y))
    True
    """

    def __init__(self, *losses: nn.Module) -> None:
        super().__init__()
        self.losses = nn.ModuleList(losses)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        total = self.losses[0](logits, target)
        for loss in self.losses[1:]:
            total = total + loss(logits, target)
        return total


def _dice(*, compat: Compat = None, **kw: Any) -> nn.Module:
    return OneHotTarget(DiceLoss(**{"softmax": True, **kw}))


def _dice_ce(*, compat: Compat = None, **kw: Any) -> nn.Module:
    return OneHotTarget(DiceCELoss(**{"softmax": True, **kw}))


def _dice_focal(*, compat: Compat = None, **kw: Any) -> nn.Module:
    if compat == "reference":
        return OneHotTarget(DiceFocalLoss(**{"softmax": True, **kw}))
    gamma = kw.pop("gamma", 2.0)
    lambda_dice = kw.pop("lambda_dice", 1.0)
    lambda_focal = kw.pop("lambda_focal", 1.0)
    dice = DiceLoss(**{"softmax": True, **kw})
    focal = FocalLoss(
        gamma=gamma, use_softmax=True, include_background=kw.get("include_background", True)
    )
    return OneHotTarget(SumOfLosses(_Scaled(dice, lambda_dice), _Scaled(focal, lambda_focal)))


def _gdfl(*, compat: Compat = None, **kw: Any) -> nn.Module:
    return OneHotTarget(GeneralizedDiceFocalLoss(**{"softmax": True, "weight": [1.0, 100.0], **kw}))


def _l1dfl(*, compat: Compat = None, **kw: Any) -> nn.Module:
    return L1DiceFocalLoss(compat=compat, **kw)


class _Scaled(nn.Module):
    def __init__(self, loss: nn.Module, factor: float) -> None:
        super().__init__()
        if factor < 0:
            raise ValueError(f"loss weights must be >= 0, got {factor}")
        self.loss = loss
        self.factor = float(factor)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return self.factor * self.loss(logits, target)


LOSSES: dict[str, Callable[..., nn.Module]] = {
    "dice": _dice,
    "dice_ce": _dice_ce,
    "dice_focal": _dice_focal,
    "gdfl": _gdfl,
    "l1dfl": _l1dfl,
}
"""Loss name -> builder taking ``compat`` and the loss's keyword arguments."""


def build_loss(name: str, *, compat: Compat = None, **kwargs: Any) -> nn.Module:
    """Build a loss by name with the papers' settings.

    Parameters
    ----------
    name : str
        One of ``dice``, ``dice_ce``, ``dice_focal``, ``gdfl``, ``l1dfl``.
    compat : {None, "reference"}
        ``"reference"`` reproduces the published code where it differs from the papers
        (``dice_focal``: MONAI's sigmoid focal term; ``l1dfl``: see :class:`L1DiceFocalLoss`).
    **kwargs
        Arguments of the MONAI class (or of :class:`L1DiceFocalLoss`) replacing the defaults;
        ``to_onehot_y`` is handled here and must not be passed.

    Returns
    -------
    torch.nn.Module
        ``loss(logits, target)`` with logits ``(B, C, ...)`` and labels ``(B, 1, ...)`` or
        one-hot ``(B, C, ...)``.

    Examples
    --------
    >>> import torch
    >>> from segengine.losses import build_loss
    >>> logits, labels = torch.zeros(2, 2, 4, 4), torch.ones(2, 1, 4, 4)
    >>> round(float(build_loss("dice")(logits, labels)), 4)  # 1 - (0 + 2/3) / 2
    0.6667
    >>> build_loss("dice_cf")
    Traceback (most recent call last):
    ...
    ValueError: unknown loss 'dice_cf'; did you mean 'dice_ce', 'dice', 'dice_focal'? Known: dice, dice_ce, dice_focal, gdfl, l1dfl
    """
    compat = check_compat(compat)
    if "to_onehot_y" in kwargs:
        raise ValueError("to_onehot_y is set by build_loss: targets may be labels or one-hot")
    return lookup(name, LOSSES, kind="loss")(compat=compat, **kwargs)
