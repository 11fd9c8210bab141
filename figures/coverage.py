"""Coverage probability and total deviation index bars (paper 000, Fig. 6)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from figures.facets import add_legend, facets, first_rows, grid, keyed, metrics_in, require
from figures.layout import fit, text_size
from figures.style import metric_label, new_figure, stat_label, style


def _num(row: pd.Series | None, col: str) -> float:
    if row is None or col not in row.index:
        return np.nan
    return float(pd.to_numeric(row[col], errors="coerce"))


def coverage_tdi(
    agreement: pd.DataFrame,
    *,
    metrics: Sequence[str] | None = None,
    width: str | float = "double",
) -> Figure:
    """Coverage probability (with its 95% CI) and TDI bars, one row per metric.

    Each row holds a CP panel and a TDI panel with one bar per method, grouped by network
    (a gap between networks) and coloured by loss, each bar named under the bottom row. CP
    bars stand at ``cp`` with error bars from ``cp_ci_low`` to ``cp_ci_high`` (y from 0 to
    1); TDI bars at ``tdi`` (the 95th percentile of |predicted − reference|, in the metric's
    unit) with an upward error bar to ``tdi_ci_high`` when that one-sided limit is available.

    Parameters
    ----------
    agreement : DataFrame
        The agreement table (``method, metric, cp, cp_ci_low, cp_ci_high, tdi``;
        ``tdi_ci_high`` and ``unit`` optional).
    metrics : sequence of str, optional
        Rows in order; default: the metrics of the table, canonical ones first.
    width : {"single", "double"} or float
        Figure width.

    Returns
    -------
    Figure
        ``len(metrics) × 2`` Axes (CP, TDI), each with one bar per method.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"method": ["u/a", "u/b"], "metric": "tla", "cp": [0.8, 0.5],
    ...                   "cp_ci_low": [0.6, 0.3], "cp_ci_high": [0.9, 0.7], "tdi": [3.0, 6.0]})
    >>> fig = coverage_tdi(t)
    >>> len(fig.axes), [len(ax.patches) for ax in fig.axes]
    (2, [2, 2])
    """
    require(agreement, ["method", "metric", "cp", "cp_ci_low", "cp_ci_high", "tdi"], "agreement")
    table = keyed(agreement)
    metric_list = metrics_in(table, metrics)
    layout = facets(table)
    bars = [(net, loss) for net in layout.networks for loss in layout.losses]
    present = set(zip(table["_facet"], table["_hue"], strict=True))
    bars = [b for b in bars if b in present]
    lookup = first_rows(table, ["_facet", "_hue", "metric"])
    n_loss = len(layout.losses)
    group = {net: i for i, net in enumerate(layout.networks)}
    # one slot per loss inside a network's group, half a slot between groups
    x = np.array([group[net] * (n_loss + 0.5) + layout.losses.index(loss) for net, loss in bars])
    names = [f"{net}/{loss}" if net else loss for net, loss in bars]
    color = [layout.colors[loss] for _, loss in bars]
    with style():
        turned = max(text_size(t)[0] for t in names) if names else 0.0
        fig = new_figure(width, 1.15 * len(metric_list) + turned + 0.5)
        axes = grid(fig, len(metric_list), 2, sharex=True)
        for i, metric in enumerate(metric_list):
            rows_m = table[table["metric"] == metric]
            unit = (
                rows_m["unit"].dropna().iloc[0]
                if "unit" in rows_m and rows_m["unit"].notna().any()
                else None
            )
            rows = [lookup.get((net, loss, metric)) for net, loss in bars]
            ax_cp, ax_tdi = axes[i, 0], axes[i, 1]
            cp = np.array([_num(r, "cp") for r in rows])
            lo = np.array([_num(r, "cp_ci_low") for r in rows])
            hi = np.array([_num(r, "cp_ci_high") for r in rows])
            ax_cp.bar(x, np.nan_to_num(cp), width=0.8, color=color)
            err = np.vstack([np.clip(cp - lo, 0, None), np.clip(hi - cp, 0, None)])
            ok = np.isfinite(err).all(axis=0) & np.isfinite(cp)
            if ok.any():
                ax_cp.errorbar(x[ok], cp[ok], yerr=err[:, ok], fmt="none", ecolor="black",
                               elinewidth=0.7, capsize=1.5)  # fmt: skip
            ax_cp.set_ylim(0, 1.05)
            tdi = np.array([_num(r, "tdi") for r in rows])
            tdi_hi = np.array([_num(r, "tdi_ci_high") for r in rows])
            ax_tdi.bar(x, np.nan_to_num(tdi), width=0.8, color=color)
            up = np.isfinite(tdi) & np.isfinite(tdi_hi) & (tdi_hi >= tdi)
            if up.any():
                yerr = np.vstack([np.zeros(up.sum()), tdi_hi[up] - tdi[up]])
                ax_tdi.errorbar(x[up], tdi[up], yerr=yerr, fmt="none", ecolor="black",
                                elinewidth=0.7, capsize=1.5)  # fmt: skip
            ax_tdi.set_ylim(bottom=0)
            for ax in (ax_cp, ax_tdi):
                ax.set_xticks(x, names)  # shared x: shown under the last row only
                ax.tick_params(axis="x", length=0, rotation=90 if len(bars) > 1 else 0)
                ax.set_xlim(x.min() - 0.6 if len(x) else -0.6, x.max() + 0.6 if len(x) else 0.6)
            if i == 0:
                ax_cp.set_title(stat_label("cp", full=True), fontsize=7, pad=3)
                ax_tdi.set_title(stat_label("tdi", full=True), fontsize=7, pad=3)
            ax_cp.set_ylabel(f"{metric_label(metric)}\n{stat_label('cp')}")
            ax_tdi.set_ylabel(
                metric_label(stat_label("tdi"), unit)
            )
        fit(fig, axes, bottom=add_legend(fig, layout, width))
    return fig
