"""Bland-Altman plots: the papers' modified grid (paper 000, Fig. 5) and the classic plot."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from figures.facets import (
    add_legend,
    axis_off_text,
    facets,
    first_row,
    grid,
    hide_unused,
    keyed,
    label_columns,
    metrics_in,
    require,
    wrap,
)
from figures.layout import fit
from figures.style import (
    LINE_COLOR,
    METRIC_UNITS,
    colors,
    figure_width,
    metric_label,
    new_figure,
    style,
)


def _unit(rows: pd.DataFrame, metric: str) -> str | None:
    if "unit" in rows.columns and rows["unit"].notna().any():
        return str(rows["unit"].dropna().iloc[0])
    return METRIC_UNITS.get(metric)


def _mean_reference(cell: pd.DataFrame, agreement: pd.DataFrame | None, metric: str) -> float:
    """Mean reference of a cell: from the agreement table when given, else from the pairs."""
    if agreement is not None and "mean_reference" in agreement.columns:
        rows = agreement[
            (agreement["metric"] == metric) & agreement["method"].isin(cell["method"].unique())
        ]
        values = pd.to_numeric(rows["mean_reference"], errors="coerce").dropna()
        if not values.empty:
            return float(values.mean())
    return float(pd.to_numeric(cell["reference"], errors="coerce").mean())


def modified_bland_altman(
    measurements: pd.DataFrame,
    agreement: pd.DataFrame | None = None,
    *,
    metrics: Sequence[str] | None = None,
    margin: float = 0.2,
    width: str | float = "double",
) -> Figure:
    """The papers' modified Bland-Altman grid: difference against the reference value.

    Rows are metrics and columns networks; each point is one case, x = reference,
    y = predicted − reference, coloured by loss. Black dashed lines mark
    ±``margin``·mean(reference) (the ±20% clinical margin of paper 000) and a dotted line
    marks 0. The mean reference is ``mean_reference`` of the agreement table when given
    (averaged over the cell's methods, which share it when they share their cases), else
    the mean of the cell's reference values.

    Parameters
    ----------
    measurements : DataFrame
        ``case_id, method, metric, reference, predicted`` (+ optional ``network, loss, unit``).
    agreement : DataFrame, optional
        The agreement table, for ``mean_reference``.
    metrics : sequence of str, optional
        Rows in order; default: the metrics of the table, canonical ones first.
    margin : float
        Relative margin (0.2 = ±20% of the mean reference).
    width : {"single", "double"} or float
        Figure width.

    Returns
    -------
    Figure
        ``len(metrics) × n_networks`` Axes; each has one scatter per loss and three
        horizontal lines (−margin, 0, +margin).

    Examples
    --------
    >>> import pandas as pd
    >>> m = pd.DataFrame({"case_id": ["a", "b"], "method": "unet/dice", "metric": "tmtv",
    ...                   "reference": [10.0, 30.0], "predicted": [12.0, 27.0]})
    >>> fig = modified_bland_altman(m)
    >>> sorted(round(float(line.get_ydata()[0]), 6) for line in fig.axes[0].lines)
    [-4.0, 0.0, 4.0]
    """
    if not margin > 0:
        raise ValueError(f"margin must be positive, got {margin!r}")
    require(measurements, ["method", "metric", "reference", "predicted"], "measurements")
    table = keyed(measurements)
    metric_list = metrics_in(table, metrics)
    layout = facets(table)
    ref = pd.to_numeric(table["reference"], errors="coerce")
    table["_x"] = ref
    table["_y"] = pd.to_numeric(table["predicted"], errors="coerce") - ref
    marker = max(1.0, 6.0 - 0.2 * len(layout.losses))
    with style():
        fig = new_figure(width, 1.45 * len(metric_list) + 0.5)
        axes = grid(fig, len(metric_list), len(layout.networks), sharey="row", sharex="row")
        for i, metric in enumerate(metric_list):
            rows_m = table[table["metric"] == metric]
            for j, network in enumerate(layout.networks):
                ax = axes[i, j]
                cell = rows_m[rows_m["_facet"] == network]
                if cell.empty:
                    axis_off_text(ax)
                    continue
                for loss in layout.losses:
                    pts = cell[cell["_hue"] == loss]
                    if not pts.empty:
                        ax.scatter(
                            pts["_x"],
                            pts["_y"],
                            s=marker,
                            color=layout.colors[loss],
                            alpha=0.75,
                            linewidths=0,
                            rasterized=True,  # vector output: points as one image, text as text
                        )
                limit = margin * abs(_mean_reference(cell, agreement, metric))
                for y, ls in ((-limit, "--"), (0.0, ":"), (limit, "--")):
                    ax.axhline(y, color=LINE_COLOR, linestyle=ls, linewidth=0.7)
                unit = _unit(rows_m, metric)
                if j == 0:
                    ax.set_ylabel(f"Δ {metric_label(metric, unit)}")
                ax.set_xlabel(f"Reference {metric_label(metric, unit)}")
        label_columns(axes, layout.networks)
        fit(fig, axes, bottom=add_legend(fig, layout, width, kind="marker"))
    return fig


def _band(ax, low: float, high: float, color: str) -> None:
    if np.isfinite(low) and np.isfinite(high):
        ax.axhspan(low, high, color=color, alpha=0.15, linewidth=0)


def bland_altman_plot(
    measurements: pd.DataFrame,
    agreement: pd.DataFrame,
    *,
    method: str | None = None,
    metrics: Sequence[str] | None = None,
    width: str | float = "double",
) -> Figure:
    """Classic Bland-Altman plots of one method: a panel per metric.

    x = mean of predicted and reference (labelled "Mean <metric>"), y = predicted − reference. Lines come from the
    agreement table: bias (``ba_bias``, solid) and the limits of agreement (``ba_loa_low``,
    ``ba_loa_high``, dashed), each with its confidence interval as a shaded band
    (``ba_bias_ci_*``, ``ba_loa_low_ci_*``, ``ba_loa_high_ci_*``); a dotted line marks 0.

    Parameters
    ----------
    measurements : DataFrame
        The measurements table.
    agreement : DataFrame
        The agreement table (``ba_*`` columns).
    method : str, optional
        The method to draw; required when the table holds several.
    metrics : sequence of str, optional
        Panels in order; default: the metrics of the method.
    width : {"single", "double"} or float
        Figure width.

    Returns
    -------
    Figure
        One Axes per metric, with 3 dashed/solid lines (bias, two limits), a zero line and
        up to 3 shaded CI bands.

    Examples
    --------
    >>> import pandas as pd
    >>> m = pd.DataFrame({"case_id": ["a", "b", "c"], "method": "x", "metric": "tmtv",
    ...                   "reference": [10.0, 20.0, 30.0], "predicted": [11.0, 19.0, 33.0]})
    >>> a = pd.DataFrame({"method": ["x"], "metric": ["tmtv"], "ba_bias": [1.0],
    ...                   "ba_loa_low": [-3.0], "ba_loa_high": [5.0]})
    >>> fig = bland_altman_plot(m, a)
    >>> sorted(float(line.get_ydata()[0]) for line in fig.axes[0].lines)
    [-3.0, 0.0, 1.0, 5.0]
    """
    require(measurements, ["method", "metric", "reference", "predicted"], "measurements")
    require(agreement, ["method", "metric"], "agreement")
    methods = list(pd.unique(measurements["method"]))
    if method is None:
        if len(methods) != 1:
            raise ValueError(f"method is required when the table holds {len(methods)} methods")
        method = methods[0]
    if method not in methods:
        raise ValueError(f"method {method!r} not in the measurements table")
    table = measurements[measurements["method"] == method]
    metric_list = metrics_in(table, metrics)
    color = colors(facets(measurements).losses)
    hue = keyed(table)["_hue"].iloc[0]
    point_color = color.get(hue, "#0072B2")
    nrows, ncols = wrap(len(metric_list), width)
    with style():
        fig = new_figure(width, nrows * figure_width(width) / ncols * 0.75 + 0.2)
        axes = grid(fig, nrows, ncols)
        for ax, metric in zip(axes.ravel(), metric_list, strict=False):
            pts = table[table["metric"] == metric]
            ref = pd.to_numeric(pts["reference"], errors="coerce")
            pred = pd.to_numeric(pts["predicted"], errors="coerce")
            ax.scatter(
                (ref + pred) / 2, pred - ref, s=6, color=point_color, alpha=0.8, linewidths=0,
                rasterized=True,
            )  # fmt: skip
            row = first_row(agreement, method=method, metric=metric)

            def val(col: str, row=row) -> float:
                if row is None or col not in row.index:
                    return np.nan
                return float(pd.to_numeric(row[col], errors="coerce"))

            for col, ls in (("ba_bias", "-"), ("ba_loa_low", "--"), ("ba_loa_high", "--")):
                if np.isfinite(val(col)):
                    ax.axhline(val(col), color=LINE_COLOR, linestyle=ls, linewidth=0.8)
            ax.axhline(0.0, color="#777777", linestyle=":", linewidth=0.6)
            _band(ax, val("ba_bias_ci_low"), val("ba_bias_ci_high"), LINE_COLOR)
            _band(ax, val("ba_loa_low_ci_low"), val("ba_loa_low_ci_high"), "#0072B2")
            _band(ax, val("ba_loa_high_ci_low"), val("ba_loa_high_ci_high"), "#0072B2")
            unit = _unit(pts, metric)
            ax.set_xlabel(f"Mean {metric_label(metric, unit)}")
            if ax.get_subplotspec().is_first_col():
                ax.set_ylabel("Predicted − reference")
        hide_unused(axes, len(metric_list))
        fit(fig, axes)
    return fig
