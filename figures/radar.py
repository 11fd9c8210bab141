"""CCC radar plots (paper 000, Fig. 3): one radar per network, one polygon per loss."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from figures.facets import (
    add_legend,
    facets,
    first_rows,
    grid,
    hide_unused,
    keyed,
    metrics_in,
    require,
    wrap,
)
from figures.layout import fit
from figures.style import METRIC_LABELS, figure_width, new_figure, stat_label, style


def ccc_radar(
    agreement: pd.DataFrame,
    *,
    metrics: Sequence[str] | None = None,
    width: str | float = "double",
) -> Figure:
    """Lin's CCC of every metric as a radar: one panel per network, one polygon per loss.

    The spokes are the metrics and the radius is the CCC (column ``ccc`` of the agreement
    table); the radial axis runs from 0 (or below, when a CCC is negative) to 1. A missing
    CCC is drawn at the centre of the radial range and leaves a gap in the outline.

    Parameters
    ----------
    agreement : DataFrame
        The agreement table (``method, metric, ccc`` at least; see ``agreement.agreement_table``).
    metrics : sequence of str, optional
        Spokes in order; default: the metrics of the table, canonical ones first.
    width : {"single", "double"} or float
        Figure width (journal column) or inches.

    Returns
    -------
    Figure
        One polar Axes per network; each holds one filled polygon and one outline per loss.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"method": ["unet/dice"] * 3, "metric": ["suv_max", "tla", "tmtv"],
    ...                       "ccc": [0.95, 0.9, 0.7]})
    >>> fig = ccc_radar(table)
    >>> len(fig.axes), len(fig.axes[0].patches)
    (1, 1)
    """
    require(agreement, ["method", "metric", "ccc"], "agreement")
    table = keyed(agreement)
    metric_list = metrics_in(table, metrics)
    layout = facets(table)
    values = pd.to_numeric(table["ccc"], errors="coerce")
    low = min(0.0, float(np.floor(np.nanmin(values) * 10) / 10)) if values.notna().any() else 0.0
    angles = np.linspace(0, 2 * np.pi, len(metric_list), endpoint=False)
    closed = np.append(angles, angles[:1])
    nrows, ncols = wrap(len(layout.networks), width)
    panel = min(figure_width(width) / ncols, 3.4)
    alpha = 0.12 if len(layout.losses) <= 6 else 0.03
    lookup = first_rows(table, ["_facet", "_hue", "metric"])
    with style():
        fig = new_figure(width, nrows * panel * 0.95 + 0.5)
        axes = fig.subplots(nrows, ncols, squeeze=False, subplot_kw={"projection": "polar"})
        for ax, network in zip(axes.ravel(), layout.networks, strict=False):
            for loss in layout.losses:
                r = []
                for metric in metric_list:
                    row = lookup.get((network, loss, metric))
                    r.append(np.nan if row is None else pd.to_numeric(row["ccc"], errors="coerce"))
                r = np.asarray(r, dtype=float)
                if np.isnan(r).all():
                    continue
                color = layout.colors[loss]
                ring = np.append(r, r[:1])
                ax.plot(closed, ring, color=color, linewidth=1.0, label=loss)
                ax.fill(
                    closed,
                    np.where(np.isnan(ring), low, ring),
                    color=color,
                    alpha=alpha,
                    linewidth=0,
                )
            ax.set_xticks(angles, [METRIC_LABELS.get(m, m) for m in metric_list])
            ax.set_ylim(low, 1.0)
            ax.set_yticks(np.linspace(low, 1.0, 3 if low < 0 else 6)[1:])
            ax.tick_params(axis="y", labelsize=7)
            ax.grid(linewidth=0.4)
            if network:
                ax.set_title(network, fontsize=7, pad=10)
        hide_unused(axes, len(layout.networks))
        fit(fig, axes, bottom=add_legend(fig, layout, width, kind="line"))
    return fig


def ccc_intervals(
    agreement: pd.DataFrame,
    *,
    metrics: Sequence[str] | None = None,
    width: str | float = "double",
) -> Figure:
    """Lin's CCC with its confidence interval: one panel per metric, one row per method.

    The dot-and-interval companion of :func:`ccc_radar`, which cannot show intervals. Dots are
    ``ccc`` coloured by loss, lines run from ``ccc_ci_low`` to ``ccc_ci_high``; dotted vertical
    lines mark McBride's 0.90, 0.95 and 0.99. A CCC that cannot be estimated leaves its row empty.

    Parameters
    ----------
    agreement : DataFrame
        The agreement table (``method, metric, ccc, ccc_ci_low, ccc_ci_high``).
    metrics : sequence of str, optional
        Panels in order; default: the metrics of the table, canonical ones first.
    width : {"single", "double"} or float
        Figure width.

    Returns
    -------
    Figure
        One Axes per metric, each with one interval line and one dot per method.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"method": ["u/a", "u/b"], "metric": "tla", "ccc": [0.95, 0.8],
    ...                   "ccc_ci_low": [0.9, 0.6], "ccc_ci_high": [0.98, 0.9]})
    >>> fig = ccc_intervals(t)
    >>> len(fig.axes), [t.get_text() for t in fig.axes[0].get_yticklabels()]
    (1, ['u/a', 'u/b'])
    """
    require(agreement, ["method", "metric", "ccc", "ccc_ci_low", "ccc_ci_high"], "agreement")
    table = keyed(agreement)
    metric_list = metrics_in(table, metrics)
    layout = facets(table)
    methods = list(dict.fromkeys(table["method"].astype(str)))
    values = pd.to_numeric(table["ccc_ci_low"], errors="coerce").fillna(
        pd.to_numeric(table["ccc"], errors="coerce")
    )
    low = float(np.floor(np.nanmin(values) * 10) / 10) if values.notna().any() else 0.0
    low = min(max(low, -1.0), 0.8)
    nrows, ncols = wrap(len(metric_list), width)
    y = np.arange(len(methods))[::-1]
    by_method = first_rows(table.assign(method=table["method"].astype(str)), ["method", "metric"])
    with style():
        fig = new_figure(width, nrows * (0.16 * len(methods) + 0.75) + 0.1)
        axes = grid(fig, nrows, ncols, sharey=True)
        for ax, metric in zip(axes.ravel(), metric_list, strict=False):
            for yy, method in zip(y, methods, strict=True):
                row = by_method.get((method, metric))
                if row is None:
                    continue
                est, lo, hi = (
                    float(pd.to_numeric(row[c], errors="coerce"))
                    for c in ("ccc", "ccc_ci_low", "ccc_ci_high")
                )
                color = layout.colors[row["_hue"]]
                if np.isfinite(lo) and np.isfinite(hi):
                    ax.plot([lo, hi], [yy, yy], color=color, linewidth=1.2, solid_capstyle="butt")
                if np.isfinite(est):
                    ax.plot([est], [yy], "o", color=color, markersize=3.5)
            for ref in (0.90, 0.95, 0.99):
                ax.axvline(ref, color="#777777", linestyle=":", linewidth=0.6)
            ax.set_xlim(low, 1.02)  # room for a dot at 1
            ax.set_ylim(-0.6, len(methods) - 0.4)
            ax.set_yticks(y, methods)
            ax.tick_params(axis="y", length=0)
            ax.set_title(METRIC_LABELS.get(metric, metric), fontsize=7, pad=3)
            ax.set_xlabel(stat_label("ccc"))
        hide_unused(axes, len(metric_list))
        fit(fig, axes)
    return fig
