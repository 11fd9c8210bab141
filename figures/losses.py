"""Loss illustrations of the L1DFL paper (paper 001, Figs. 1 and 7), in NumPy (no torch).

The weighting follows the published L1DFL code (``notes/seed_code.md`` §4.2): L1 norms
Δ = |p − g| are binned around centres 0, κ, 2κ, …, 1 with effective widths κ/2 at the two
ends and κ inside, density D = count / width, and each element's weight is N / D of its bin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from figures.style import colors, new_figure, style

# A 4×4 example in the spirit of paper 001 Fig. 1: a 2×2 lesion, one missed voxel (0.3),
# one false-positive voxel (0.7) and easy background.
EXAMPLE_TARGET = np.array([[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]], dtype=float)
EXAMPLE_PROBABILITY = np.array(
    [
        [0.02, 0.05, 0.10, 0.03],
        [0.08, 0.90, 0.60, 0.04],
        [0.15, 0.30, 0.85, 0.70],
        [0.01, 0.12, 0.06, 0.02],
    ]
)
LOSS_NAMES = {"dice": "Dice", "dice_ce": "Dice + CE", "dice_focal": "Dice Focal", "l1dfl": "L1DFL"}


@dataclass(frozen=True)
class L1Weights:
    """The steps of the L1DFL weighting: norms, bins, counts, density and element weights."""

    norms: np.ndarray
    centres: np.ndarray
    widths: np.ndarray
    counts: np.ndarray
    density: np.ndarray
    weights: np.ndarray


def l1_weights(probabilities: ArrayLike, target: ArrayLike, *, bin_width: float = 0.1) -> L1Weights:
    """L1DFL voxel weights w = N / D(bin) of the L1 norms |p − g| (paper 001 eqs. 4-10).

    Parameters
    ----------
    probabilities : array_like
        Predicted foreground probabilities in [0, 1].
    target : array_like
        Reference labels (0/1), same shape.
    bin_width : float
        κ; 1/κ must be an integer (bins centred on 0, κ, …, 1).

    Examples
    --------
    >>> w = l1_weights([0.0, 0.05, 0.5, 1.0], [0, 0, 1, 1])
    >>> w.counts[[0, 1, 5]].tolist(), w.weights.round(3).tolist()
    ([2, 1, 1], [0.1, 0.4, 0.4, 0.1])
    """
    p = np.asarray(probabilities, dtype=float)
    g = np.asarray(target, dtype=float)
    if p.shape != g.shape:
        raise ValueError(f"probabilities {p.shape} and target {g.shape} differ in shape")
    if not 0 < bin_width <= 1 or abs(1 / bin_width - round(1 / bin_width)) > 1e-9:
        raise ValueError(
            f"bin_width must be in (0, 1] with 1/bin_width an integer, got {bin_width!r}"
        )
    norms = np.abs(p - g)
    centres = np.linspace(0, 1, int(round(1 / bin_width)) + 1)
    left = np.maximum(centres - bin_width / 2, 0)
    widths = np.minimum(centres + bin_width / 2, 1) - left
    index = np.clip(np.searchsorted(left, norms.ravel(), side="right") - 1, 0, len(centres) - 1)
    counts = np.bincount(index, minlength=len(centres))
    density = counts / widths
    weights = (norms.size / density[index]).reshape(norms.shape)
    return L1Weights(norms, centres, widths, counts, density, weights)


def _heat(ax, values: np.ndarray, label: str, fmt: str, cmap: str) -> None:
    ax.imshow(values, cmap=cmap)
    for (r, c), v in np.ndenumerate(values):
        ax.text(
            c,
            r,
            format(v, fmt),
            ha="center",
            va="center",
            fontsize=5,
            color="black",
            bbox={"facecolor": "white", "alpha": 0.6, "linewidth": 0, "pad": 0.5},
        )
    ax.set_xticks([])
    ax.set_yticks([])
    ax.spines[:].set_visible(False)
    ax.set_xlabel(label)


def l1_weighting(
    probabilities: ArrayLike | None = None,
    target: ArrayLike | None = None,
    *,
    bin_width: float = 0.1,
    width: str | float = "double",
) -> Figure:
    """The L1DFL weighting step by step on a small 2-D example (paper 001 Fig. 1).

    Panels: (a) reference, (b) predicted probability, (c) L1 norm, (d) count per bin,
    (e) density per bin, (f) weight per element. Defaults to a 4×4 example.

    Examples
    --------
    >>> fig = l1_weighting()
    >>> len(fig.axes)
    6
    """
    p = EXAMPLE_PROBABILITY if probabilities is None else np.asarray(probabilities, dtype=float)
    g = EXAMPLE_TARGET if target is None else np.asarray(target, dtype=float)
    if p.ndim != 2:
        raise ValueError(f"l1_weighting draws a 2-D example, got shape {p.shape}")
    w = l1_weights(p, g, bin_width=bin_width)
    with style():
        fig = new_figure(width, 4.2 if width == "single" else 3.0)
        axes = fig.subplots(3, 2) if width == "single" else fig.subplots(2, 3)
        a = axes.ravel()
        _heat(a[0], g, "(a) reference", ".0f", "Greys")
        _heat(a[1], p, "(b) predicted probability", ".2f", "Blues")
        _heat(a[2], w.norms, "(c) L1 norm |p − g|", ".2f", "Oranges")
        a[3].bar(w.centres, w.counts, width=bin_width * 0.9, color="#0072B2")
        a[3].set_xlabel("(d) count per bin")
        a[4].bar(w.centres, w.density, width=bin_width * 0.9, color="#009E73")
        a[4].set_xlabel("(e) density = count / effective width")
        _heat(a[5], w.weights, "(f) weight N / density", ".2f", "Reds")
        for ax in a[3:5]:
            ax.set_xlim(-bin_width, 1 + bin_width)
    return fig


def _dice(
    p: np.ndarray, g: np.ndarray, w: np.ndarray | None = None, *, squared: bool = False
) -> float:
    """1 − mean over the two classes of the (weighted) soft Dice."""
    w = np.ones_like(p) if w is None else w
    scores = []
    for pc, gc in ((1 - p, 1 - g), (p, g)):
        if squared:
            scores.append((2 * np.sum(w * pc * gc) + 1e-8) / (np.sum(w * (pc**2 + gc**2)) + 1e-8))
        else:
            scores.append((2 * np.sum(pc * gc) + 1e-5) / (np.sum(pc) + np.sum(gc) + 1e-5))
    return 1 - float(np.mean(scores))


def loss_curves(
    probabilities: ArrayLike | None = None,
    *,
    n_foreground: int = 20,
    n_background: int = 980,
    background_probability: float = 0.05,
    gamma: float = 2.0,
    bin_width: float = 0.1,
) -> pd.DataFrame:
    """Loss of a toy image against the foreground probability predicted on its lesion.

    The image has ``n_foreground`` lesion voxels, all predicted with foreground probability
    p (the x axis), and ``n_background`` background voxels predicted at
    ``background_probability``. Losses follow MONAI's definitions on two softmax channels:
    Dice (``DiceLoss``, include background), Dice + CE, Dice + focal (γ, mean over classes
    and voxels), and L1DFL (squared-denominator Dice weighted by :func:`l1_weights`, + focal).
    Our illustration of paper 001 Fig. 7, not a copy of its data.

    Returns
    -------
    DataFrame
        ``probability, loss, value`` (``loss`` in ``dice, dice_ce, dice_focal, l1dfl``).

    Examples
    --------
    >>> t = loss_curves([0.1, 0.9])
    >>> bool((t.groupby("loss")["value"].agg(lambda v: v.iloc[0] > v.iloc[1])).all())
    True
    """
    xs = (
        np.linspace(0.02, 0.98, 49)
        if probabilities is None
        else np.asarray(probabilities, dtype=float)
    )
    if np.any((xs <= 0) | (xs >= 1)):
        raise ValueError("probabilities must lie strictly between 0 and 1")
    g = np.r_[np.ones(n_foreground), np.zeros(n_background)]
    rows = []
    for x in xs:
        p = np.r_[np.full(n_foreground, x), np.full(n_background, background_probability)]
        p_true = np.where(g == 1, p, 1 - p)
        ce = float(np.mean(-np.log(p_true)))
        focal = float(np.sum(-((1 - p_true) ** gamma) * np.log(p_true)) / (2 * p.size))
        dice = _dice(p, g)
        l1 = _dice(p, g, l1_weights(p, g, bin_width=bin_width).weights, squared=True) + focal
        for name, value in (
            ("dice", dice),
            ("dice_ce", dice + ce),
            ("dice_focal", dice + focal),
            ("l1dfl", l1),
        ):
            rows.append({"probability": float(x), "loss": name, "value": value})
    return pd.DataFrame(rows)


def loss_curve_plot(curves: pd.DataFrame | None = None, *, width: str | float = "single") -> Figure:
    """Loss against predicted lesion probability, one line per loss (paper 001 Fig. 7).

    Examples
    --------
    >>> fig = loss_curve_plot()
    >>> len(fig.axes[0].lines)
    4
    """
    curves = loss_curves() if curves is None else curves
    names = list(pd.unique(curves["loss"]))
    palette = colors(names)
    with style():
        fig = new_figure(width, 2.4)
        ax = fig.add_subplot()
        for name in names:
            c = curves[curves["loss"] == name]
            ax.plot(
                c["probability"], c["value"], color=palette[name], label=LOSS_NAMES.get(name, name)
            )
        ax.set_xlabel("Predicted probability on the lesion")
        ax.set_ylabel("Loss")
        ax.legend(frameon=False)
    return fig
