"""A fixed layout for a grid of panels, sized from the labels' text without drawing the figure.

Constrained layout draws every figure twice (once to measure, once to render), and the
measuring pass costs as much as the rendering. :func:`fit` measures only the strings that
need room (axis labels, tick labels, titles, the legend) with the font's metrics, sets the
grid's margins and gaps once, and marks the figure so :func:`figures.style.save_figure`
renders it in one pass.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Sequence

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

PAD = 4 / 72  # inches around the panels' text blocks and at the figure's edges
LINE = 1.2  # line height, in font sizes

#: Figures laid out by :func:`fit` (saved as they are, without a tight bounding box).
FITTED: weakref.WeakSet[Figure] = weakref.WeakSet()


@functools.lru_cache(maxsize=8192)
def _width(text: str, size: float, family: str) -> float:
    from matplotlib.backends.backend_agg import RendererAgg

    prop = FontProperties(family=family, size=size)
    dpi = 720  # fine enough that pixel rounding does not matter
    return RendererAgg(1, 1, dpi).get_text_width_height_descent(text, prop, ismath=False)[0] / dpi


def _points(size: float | str | None, key: str) -> float:
    """A font size in points ("small", 7, or None for the rcParams ``key``)."""
    return float(
        FontProperties(size=mpl.rcParams[key] if size is None else size).get_size_in_points()
    )


def text_size(text: str, size: float | str | None = None) -> tuple[float, float]:
    """Width and height in inches of a (possibly multi-line) text at ``size`` points.

    Examples
    --------
    >>> w, h = text_size("dice\\nfocal", 7)
    >>> round(h, 3), 0.1 < w < 0.3
    (0.233, True)
    """
    size = _points(size, "font.size")
    family = str(mpl.rcParams["font.family"][0])
    lines = str(text).split("\n")
    return max(_width(line, size, family) for line in lines), len(lines) * LINE * size / 72


def _name(axis: Axis) -> str:
    """ "x" or "y" (a polar panel's angle axis counts as x, its radius as y)."""
    return "y" if axis.axis_name in ("y", "radius") else "x"


def _ticks(axis: Axis) -> tuple[list[str], float, float, bool]:
    """Tick labels in view, their font size, rotation and whether they are shown."""
    params = axis.get_tick_params()
    side = "labelleft" if _name(axis) == "y" else "labelbottom"
    if not params.get(side, True):
        return [], 0.0, 0.0, False
    low, high = sorted(axis.get_view_interval())
    eps = 1e-9 * max(1.0, abs(high - low))
    locs = [v for v in axis.get_major_locator()() if low - eps <= v <= high + eps]
    labels = [t for t in axis.get_major_formatter().format_ticks(locs) if t]
    size = _points(params.get("labelsize"), f"{_name(axis)}tick.labelsize")
    rotation = float(params.get("rotation", params.get("labelrotation", 0.0)) or 0.0)
    return labels, size, rotation, True


def _tick_room(axis: Axis, ticks: tuple[list[str], float, float, bool]) -> float:
    """Inches the tick marks, their padding and labels take beside (y) or below (x) the axis."""
    labels, size, rotation, shown = ticks
    params = axis.get_tick_params()
    length = params.get("length", mpl.rcParams[f"{_name(axis)}tick.major.size"])
    pad = params.get("pad", mpl.rcParams[f"{_name(axis)}tick.major.pad"])
    room = max(float(length), 0.0) / 72
    if not shown or not labels:
        return room
    sizes = [text_size(t, size) for t in labels]
    across = (_name(axis) == "y") == (abs(rotation) % 180 < 45)  # label's width counts
    return room + float(pad) / 72 + max(w if across else h for w, h in sizes)


def _label_room(ax: Axes, axis: Axis) -> float:
    text = axis.label.get_text()
    if not text or not axis.label.get_visible():
        return 0.0
    return axis.labelpad / 72 + text_size(text, axis.label.get_fontsize())[1]


def _polar_needs(ax: Axes) -> tuple[float, float, float, float]:
    """A polar panel: its angle labels stand around the circle, the title above them."""
    labels, size, _, _ = _ticks(ax.xaxis)
    sizes = [text_size(t, size) for t in labels] or [(0.0, 0.0)]
    pad = _tick_room(ax.xaxis, ([], size, 0.0, False)) + PAD
    side = max(w for w, _ in sizes) + pad
    high = max(h for _, h in sizes) + pad
    title = ax.title.get_text()
    top = high + (text_size(title, ax.title.get_fontsize())[1] + 6 / 72 if title else 0.0)
    return side, high, top, side


def _needs(ax: Axes) -> tuple[float, float, float, float]:
    """Inches of text left, below, above and right of one panel."""
    if ax.name == "polar":
        return _polar_needs(ax)
    yticks, xticks = _ticks(ax.yaxis), _ticks(ax.xaxis)
    left = _tick_room(ax.yaxis, yticks) + _label_room(ax, ax.yaxis)
    bottom = _tick_room(ax.xaxis, xticks) + _label_room(ax, ax.xaxis)
    title = ax.title.get_text()
    labels, size, _, shown = yticks
    top = LINE * size / 144 if shown and labels else 0.0  # half a y tick label above the axes
    if title:  # the title pad (6 pt at most in these figures), then its lines
        top = max(top, 6 / 72 + text_size(title, ax.title.get_fontsize())[1])
    # the first and last x tick labels may reach past the edges by half their width
    labels, size, rotation, shown = xticks
    right = 0.0
    if shown and labels and abs(rotation) % 180 < 45:
        left = max(left, text_size(labels[0], size)[0] / 2)
        right = text_size(labels[-1], size)[0] / 2
    return left, bottom, top, right


def legend_height(rows: int, *, title: bool = False, size: float | str | None = None) -> float:
    """Inches a figure legend of ``rows`` rows (plus a title line) takes below the panels.

    Examples
    --------
    >>> round(legend_height(1, size=7), 3)
    0.243
    """
    size = _points(size, "legend.fontsize")
    lines = rows + (1 if title else 0)
    # lines of text, 0.5 em between them, 0.4 em border padding and 0.5 em to the edge
    return (lines * LINE + (lines - 1) * 0.5 + 2 * 0.4 + 0.5) * size / 72


def fit(fig: Figure, axes: np.ndarray | Sequence[Sequence[Axes]], *, bottom: float = 0.0) -> None:
    """Place a ``(rows, cols)`` grid of panels made by ``fig.subplots`` with room for its text.

    Margins and gaps (uniform, as in a GridSpec) are the largest any panel needs for its
    tick labels, axis labels and titles, plus :data:`PAD`; ``bottom`` (inches) is reserved
    under the grid, e.g. for a figure legend (:func:`legend_height`). Call it once the
    panels hold their data, limits, ticks and labels. The figure keeps no layout engine.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> fig = Figure(figsize=(4, 2))
    >>> axes = fig.subplots(1, 2, squeeze=False)
    >>> _ = axes[0, 0].set_ylabel("DSC")
    >>> fit(fig, axes)
    >>> 0.05 < float(fig.subplotpars.left) < 0.2
    True
    """
    grid = np.asarray(axes, dtype=object)
    if grid.ndim == 1:
        grid = grid[None, :]
    fig.set_layout_engine(None)  # no engine: one drawing pass when saved
    # twice: how many ticks (and so their labels) depends on the panels' size
    _place(fig, grid, bottom)
    _place(fig, grid, bottom)
    FITTED.add(fig)


def _place(fig: Figure, grid: np.ndarray, bottom: float) -> None:
    nrows, ncols = grid.shape
    needs = np.zeros((nrows, ncols, 4))
    for (i, j), ax in np.ndenumerate(grid):
        if ax.get_visible():
            needs[i, j] = _needs(ax)
    width, height = fig.get_size_inches()
    left = needs[:, 0, 0].max() + PAD
    right = needs[:, -1, 3].max() + PAD
    top = needs[0, :, 2].max() + PAD
    low = needs[-1, :, 1].max() + PAD + bottom
    wgap = hgap = 0.0
    if ncols > 1:
        wgap = needs[:, 1:, 0].max() + needs[:, :-1, 3].max() + PAD
    if nrows > 1:
        hgap = needs[1:, :, 2].max() + needs[:-1, :, 1].max() + PAD
    panel_w = max((width - left - right - (ncols - 1) * wgap) / ncols, 0.2)
    panel_h = max((height - top - low - (nrows - 1) * hgap) / nrows, 0.2)
    fig.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        bottom=low / height,
        top=1 - top / height,
        wspace=wgap / panel_w,
        hspace=hgap / panel_h,
    )
