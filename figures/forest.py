"""TOST forest plots (paper 000, Fig. 4): rows = metrics, columns = networks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from figures.facets import (
    facets,
    first_rows,
    grid,
    hide_unused,
    keyed,
    metrics_in,
    require,
    wrap,
)
from figures.layout import fit, legend_height
from figures.style import (
    EQUIVALENT_COLOR,
    LINE_COLOR,
    NOT_EQUIVALENT_COLOR,
    equivalence_color,
    figure_width,
    metric_label,
    new_figure,
    style,
)

_COLUMNS = [
    "tost_mean_diff",
    "tost_ci_low",
    "tost_ci_high",
    "tost_lower",
    "tost_upper",
    "equivalent",
]


def _num(row: pd.Series | None, col: str) -> float:
    if row is None or col not in row.index:
        return np.nan
    return float(pd.to_numeric(row[col], errors="coerce"))


def _unit(rows: pd.DataFrame) -> str | None:
    """The unit of a metric's rows (first non-missing ``unit``), or None."""
    if "unit" not in rows.columns or not rows["unit"].notna().any():
        return None
    return str(rows["unit"].dropna().iloc[0])


def _bounds(rows: pd.DataFrame) -> list[float]:
    """Distinct equivalence bounds of a cell (one pair when methods share their cases)."""
    values = pd.to_numeric(pd.concat([rows["tost_lower"], rows["tost_upper"]]), errors="coerce")
    values = values.dropna().to_numpy(float)
    return sorted({float(f"{v:.6g}") for v in values})


def tost_forest(
    agreement: pd.DataFrame,
    *,
    metrics: Sequence[str] | None = None,
    width: str | float = "double",
) -> Figure:
    """Equivalence (TOST) forest plot: the 90% CI of the mean difference against ±Δ.

    One panel per metric (two a row at double width, one at single width); each holds one horizontal bar
    per method, grouped by network (a gap between networks), spanning ``tost_ci_low`` to
    ``tost_ci_high`` with a tick at ``tost_mean_diff``; the bar is green when ``equivalent``
    is true, red (vermillion) when false and grey when undefined. Black dashed lines mark the
    bounds ``tost_lower`` and ``tost_upper`` (±Δ, Δ = 0.2·|mean reference| by default), a
    grey dotted line marks 0. The y tick labels name the methods in their loss's colour.

    Parameters
    ----------
    agreement : DataFrame
        The agreement table (``method, metric, tost_mean_diff, tost_ci_low, tost_ci_high,
        tost_lower, tost_upper, equivalent``; ``unit`` optional).
    metrics : sequence of str, optional
        Panels in order; default: the metrics of the table, canonical ones first.
    width : {"single", "double"} or float
        Figure width.

    Returns
    -------
    Figure
        One Axes per metric (hidden ones fill the last row); each has one bar (Rectangle
        patch) per method with a defined interval.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"method": ["unet/dice", "unet/l1dfl"], "metric": "tmtv",
    ...     "tost_mean_diff": [1.0, 0.2], "tost_ci_low": [0.5, -0.1], "tost_ci_high": [1.5, 0.5],
    ...     "tost_lower": -1.0, "tost_upper": 1.0, "equivalent": [False, True]})
    >>> fig = tost_forest(table)
    >>> len(fig.axes[0].patches)
    2
    """
    require(agreement, ["method", "metric", *_COLUMNS], "agreement")
    table = keyed(agreement)
    metric_list = metrics_in(table, metrics)
    layout = facets(table)
    bars = [(net, loss) for net in layout.networks for loss in layout.losses]
    present = set(zip(table["_facet"], table["_hue"], strict=True))
    bars = [b for b in bars if b in present]
    lookup = first_rows(table, ["_facet", "_hue", "metric"])
    group = {net: i for i, net in enumerate(layout.networks)}
    # top to bottom: one slot per method, half a slot between networks
    y = -np.array([group[net] * 0.5 + k for k, (net, _) in enumerate(bars)], dtype=float)
    names = [f"{net}/{loss}" if net else loss for net, loss in bars]
    nrows, ncols = wrap(len(metric_list), width, max_cols=2 if figure_width(width) > 5 else 1)
    row_height = min(max(1.25, 0.13 * len(bars) + 0.7), max(1.25, 9.7 / nrows))
    with style():
        fig = new_figure(width, row_height * nrows + 0.3)
        axes = grid(fig, nrows, ncols, sharey=True)
        for ax, metric in zip(axes.ravel(), metric_list, strict=False):
            rows_m = table[table["metric"] == metric]
            for yy, (net, loss) in zip(y, bars, strict=True):
                row = lookup.get((net, loss, metric))
                low, high = _num(row, "tost_ci_low"), _num(row, "tost_ci_high")
                if not (np.isfinite(low) and np.isfinite(high)):
                    continue
                color = equivalence_color(None if row is None else row.get("equivalent"))
                ax.barh(yy, high - low, left=low, height=0.6, color=color, edgecolor="none")
                mean = _num(row, "tost_mean_diff")
                if np.isfinite(mean):
                    ax.plot([mean, mean], [yy - 0.3, yy + 0.3], color=LINE_COLOR, linewidth=0.8)
            for bound in _bounds(rows_m) if not rows_m.empty else []:
                ax.axvline(bound, color=LINE_COLOR, linestyle="--", linewidth=0.7)
            ax.axvline(0.0, color="#777777", linestyle=":", linewidth=0.6)
            ax.set_ylim(y.min() - 0.6 if len(y) else -0.6, 0.6)
            ax.set_yticks(y, names)
            for tick, (_, loss) in zip(ax.get_yticklabels(), bars, strict=False):
                tick.set_color(layout.colors[loss])
            ax.tick_params(axis="y", length=0, labelsize=7)  # the journals' minimum
            ax.set_title(metric_label(metric), fontsize=7, pad=3)
            unit = _unit(rows_m)
            ax.set_xlabel(
                "Predicted − reference"
                + (f" ({unit})" if isinstance(unit, str) and unit and unit != "count" else "")
            )
        hide_unused(axes, len(metric_list))
        fig.legend(
            handles=[
                Patch(color=EQUIVALENT_COLOR, label="equivalent"),
                Patch(color=NOT_EQUIVALENT_COLOR, label="not equivalent"),
            ],
            loc="outside lower center",
            ncols=2,
            frameon=False,
        )
        fit(fig, axes, bottom=legend_height(1))
    return fig
