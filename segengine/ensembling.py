"""Combine the predictions of several runs (folds) into one mask.

Three rules, as in the papers and nnU-Net:

* ``"majority"`` — vote on hard labels: a voxel gets class ``c`` when strictly more than half of
  the runs say ``c`` (≥ 3 of 5 as in the papers); otherwise background (0).
* ``"mean"`` — argmax of the mean of the softmax probabilities (nnU-Net's rule).
* ``"weighted"`` — argmax of the weighted mean of the probabilities, weights e.g. each fold's best
  validation Dice, normalised to sum 1 (MONAI ``MeanEnsemble`` normalises too; the argmax is the
  same).

Shapes: ``probabilities`` is ``(R, C, *spatial)`` floating point (R runs, C classes, channel 0 the
background) or, for ``"majority"`` only, ``(R, *spatial)`` integer or bool label maps. Works on
numpy arrays and torch tensors; the result has the input's type.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

METHODS = ("majority", "mean", "weighted")


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch") or hasattr(x, "__torch_function__")


def _check_weights(weights: Sequence[float] | None, n_runs: int) -> np.ndarray:
    if weights is None:
        raise ValueError('method="weighted" needs weights (e.g. each fold\'s validation Dice)')
    w = np.asarray(weights, dtype=np.float64).ravel()
    if w.size != n_runs:
        raise ValueError(f"got {w.size} weights for {n_runs} runs")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"weights must be finite, >= 0 and not all 0, got {w.tolist()}")
    if n_runs > 1 and np.ptp(w) <= 0.05 * w.mean():
        warnings.warn(
            f"ensemble weights {np.round(w, 4).tolist()} differ by <= 5 %: weighting is "
            "almost the same as the plain mean",
            UserWarning,
            stacklevel=3,
        )
    return w / w.sum()


def ensemble(
    probabilities: Any,
    method: Literal["majority", "mean", "weighted"] = "majority",
    weights: Sequence[float] | None = None,
    *,
    return_probabilities: bool = False,
) -> Any:
    """Ensemble the predictions of R runs into one label map.

    Parameters
    ----------
    probabilities : array or tensor
        ``(R, C, *spatial)`` class probabilities (softmax outputs) of R runs, or for
        ``method="majority"`` also ``(R, *spatial)`` integer/bool label maps.
    method : {"majority", "mean", "weighted"}
        Majority vote on labels (a class needs strictly more than R/2 votes, else background),
        mean of probabilities, or weighted mean of probabilities.
    weights : sequence of float, optional
        One non-negative weight per run, required for ``"weighted"`` (normalised to sum 1).
        A warning says when they differ by at most 5 % (then weighting changes almost nothing).
    return_probabilities : bool
        Also return ``(C, *spatial)`` float probabilities: the (weighted) mean, or for
        ``"majority"`` the fraction of runs voting for each class.

    Returns
    -------
    labels : array or tensor
        ``(*spatial)`` uint8 label map (int64 tensor for torch input), same library as the input;
        with ``return_probabilities`` a tuple ``(labels, probabilities)``.

    Examples
    --------
    >>> import numpy as np
    >>> fg = np.array([[0.9, 0.2], [0.6, 0.4], [0.7, 0.1]])  # 3 runs, 2 voxels, P(lesion)
    >>> probs = np.stack([1 - fg, fg], axis=1)                # (3, 2 classes, 2 voxels)
    >>> ensemble(probs, "majority").tolist()
    [1, 0]
    >>> ensemble(probs, "mean").tolist()
    [1, 0]
    >>> ensemble(probs, "weighted", weights=[0.0, 0.0, 1.0]).tolist()
    [1, 0]
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    torch_in = _is_torch(probabilities)
    if torch_in:
        import torch

        x = probabilities.detach()
        is_float = x.is_floating_point()
    else:
        x = np.asarray(probabilities)
        is_float = np.issubdtype(x.dtype, np.floating)
    if x.ndim < 2:
        raise ValueError(
            f"probabilities must be (R, C, *spatial) or (R, *spatial), got {tuple(x.shape)}"
        )
    n_runs = x.shape[0]
    if n_runs < 1:
        raise ValueError("need at least one run to ensemble")

    if method == "majority":
        if is_float:
            if x.ndim < 3:
                raise ValueError(f"probabilities must be (R, C, *spatial), got {tuple(x.shape)}")
            n_classes = x.shape[1]
            labels = x.argmax(1)
        else:
            labels = x.long() if torch_in else x.astype(np.int64)
            size = labels.numel() if torch_in else labels.size
            if size and int(labels.min()) < 0:
                raise ValueError("label maps must hold non-negative class indices")
            n_classes = max(int(labels.max()) + 1 if size else 1, 2)
        if torch_in:
            votes = torch.stack([(labels == c).sum(0) for c in range(n_classes)])
            winner = votes.argmax(0)
            out = torch.where(2 * votes.amax(0) > n_runs, winner, torch.zeros_like(winner))
            fractions = votes.to(torch.float32) / n_runs
        else:
            votes = np.stack([(labels == c).sum(0) for c in range(n_classes)])
            winner = votes.argmax(0)
            out = np.where(2 * votes.max(0) > n_runs, winner, 0).astype(np.uint8)
            fractions = votes.astype(np.float32) / n_runs
        return (out, fractions) if return_probabilities else out

    if not is_float or x.ndim < 3:
        raise ValueError(
            f'method="{method}" needs (R, C, *spatial) float probabilities, got '
            f"{tuple(x.shape)} {x.dtype}"
        )
    if method == "mean":
        mean = x.mean(0) if not torch_in else x.to(torch.float32).mean(0)
    else:
        w = _check_weights(weights, n_runs)
        if torch_in:
            wt = torch.as_tensor(w, dtype=torch.float32, device=x.device)
            mean = torch.tensordot(wt, x.to(torch.float32), dims=1)
        else:
            mean = np.tensordot(w, x, axes=1).astype(x.dtype, copy=False)
    out = mean.argmax(0)
    if not torch_in:
        out = out.astype(np.uint8)
    return (out, mean) if return_probabilities else out
