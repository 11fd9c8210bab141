"""TOST forest plots (paper 000, Fig. 4): rows = metrics, columns = networks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from figures.facets import facets, first_row, grid, keyed, label_columns, metrics_in, require
from figures.layout import fit, legend_height
from figures.style import (
    EQUIVALENT_COLOR,
    LINE_COLOR,
    NOT_EQUIVALENT_COLOR,
    equivalence_color,
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

    Each panel holds one horizontal bar per loss spanning ``tost_ci_low`` to ``tost_ci_high``
    with a tick at ``tost_mean_diff``; the bar is green when ``equivalent`` is true, red
    (vermillion) when false and grey when undefined. Black dashed lines mark the bounds
    ``tost_lower`` and ``tost_upper`` (±Δ, Δ = 0.2·|mean reference| by default), a grey
    dotted line marks 0. The y tick labels name the losses in their colour.

    Parameters
    ----------
    agreement : DataFrame
        The agreement table (``method, metric, tost_mean_diff, tost_ci_low, tost_ci_high,
        tost_lower, tost_upper, equivalent``; ``unit`` optional).
    metrics : sequence of str, optional
        Rows in order; default: the metrics of the table, canonical ones first.
    width : {"single", "double"} or float
        Figure width.

    Returns
    -------
    Figure
        ``len(metrics) × n_networks`` Axes; each has one bar (Rectangle patch) per loss.

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
    n_losses = len(layout.losses)
    row_height = min(max(1.25, 0.1 * n_losses + 0.6), max(1.25, 9.7 / len(metric_list)))
    tick_size = 7  # the journals' minimum at print size
    with style():
        fig = new_figure(width, row_height * len(metric_list) + 0.3)
        axes = grid(fig, len(metric_list), len(layout.networks), sharex="row", sharey=True)
        y = np.arange(n_losses)[::-1]
        for i, metric in enumerate(metric_list):
            rows_m = table[table["metric"] == metric]
            for j, network in enumerate(layout.networks):
                ax = axes[i, j]
                cell = rows_m[rows_m["_facet"] == network]
                for yy, loss in zip(y, layout.losses, strict=False):
                    row = first_row(cell, _hue=loss)
                    low, high = _num(row, "tost_ci_low"), _num(row, "tost_ci_high")
                    if not (np.isfinite(low) and np.isfinite(high)):
                        continue
                    color = equivalence_color(None if row is None else row.get("equivalent"))
                    ax.barh(yy, high - low, left=low, height=0.6, color=color, edgecolor="none")
                    mean = _num(row, "tost_mean_diff")
                    if np.isfinite(mean):
                        ax.plot([mean, mean], [yy - 0.3, yy + 0.3], color=LINE_COLOR, linewidth=0.8)
                for bound in _bounds(cell) if not cell.empty else []:
                    ax.axvline(bound, color=LINE_COLOR, linestyle="--", linewidth=0.7)
                ax.axvline(0.0, color="#777777", linestyle=":", linewidth=0.6)
                ax.set_ylim(-0.6, n_losses - 0.4)
                ax.set_yticks(y, layout.losses)
                for tick, loss in zip(ax.get_yticklabels(), layout.losses, strict=False):
                    tick.set_color(layout.colors[loss])
                ax.tick_params(axis="y", length=0, labelsize=tick_size)
                if j == 0:
                    ax.set_ylabel(metric_label(metric))
                unit = _unit(rows_m)
                ax.set_xlabel(
                    "Predicted − reference"
                    + (f" ({unit})" if isinstance(unit, str) and unit and unit != "count" else "")
                )
        label_columns(axes, layout.networks)
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
