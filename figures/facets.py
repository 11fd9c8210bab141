"""Facets: methods named ``network/loss`` become columns (networks) and colours (losses).

Any other naming still works: all methods then share one facet and each method gets its own
colour. The same loss keeps the same colour in every figure of one call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from figures.layout import legend_height
from figures.style import METRIC_ORDER, colors, figure_width


@dataclass(frozen=True)
class Facets:
    """The facet layout of a table: facet names (networks), hue names (losses), colours."""

    networks: list[str]
    losses: list[str]
    colors: dict[str, str]

    @property
    def named(self) -> bool:
        """True when methods are ``network/loss`` (facet names are networks)."""
        return self.networks != [""]


def require(table: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    """Raise ValueError naming the table and the missing columns.

    Examples
    --------
    >>> import pandas as pd
    >>> require(pd.DataFrame({"method": []}), ["method", "ccc"], "agreement")
    Traceback (most recent call last):
    ...
    ValueError: agreement table: missing column(s) ccc
    """
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{name} table: missing column(s) {', '.join(missing)}")


def keyed(table: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``table`` with ``_facet`` (network or "") and ``_hue`` (loss or method) columns.

    Examples
    --------
    >>> import pandas as pd
    >>> keyed(pd.DataFrame({"method": ["unet/dice", "unet/l1dfl"]}))[["_facet", "_hue"]].values.tolist()
    [['unet', 'dice'], ['unet', 'l1dfl']]
    >>> keyed(pd.DataFrame({"method": ["nnunet", "unet/dice"]}))["_hue"].tolist()
    ['nnunet', 'unet/dice']
    """
    if "method" not in table.columns:
        raise ValueError("table: missing column 'method'")
    out = table.copy()
    methods = out["method"].astype(str)
    split = methods.str.split("/", n=1)
    network = split.str[0].where(methods.str.contains("/", regex=False))
    loss = split.str[1].where(methods.str.contains("/", regex=False))
    if "network" in out.columns and "loss" in out.columns:
        given = out["network"].notna() & out["loss"].notna()
        network = out["network"].astype(object).where(given, network)
        loss = out["loss"].astype(object).where(given, loss)
    if len(out) and network.notna().all() and loss.notna().all():
        out["_facet"] = network.astype(str).to_numpy()
        out["_hue"] = loss.astype(str).to_numpy()
    else:
        out["_facet"] = ""
        out["_hue"] = methods.to_numpy()
    return out


def facets(table: pd.DataFrame) -> Facets:
    """Facet layout of ``table`` (a keyed table or any table with ``method``), in order of appearance.

    Examples
    --------
    >>> import pandas as pd
    >>> f = facets(pd.DataFrame({"method": ["a/x", "b/x", "a/y"]}))
    >>> f.networks, f.losses, f.named
    (['a', 'b'], ['x', 'y'], True)
    """
    if "_facet" not in table.columns:
        table = keyed(table)
    networks = list(pd.unique(table["_facet"]))
    losses = list(pd.unique(table["_hue"]))
    return Facets(networks=networks or [""], losses=losses, colors=colors(losses))


def metrics_in(table: pd.DataFrame, metrics: Sequence[str] | None = None) -> list[str]:
    """Metrics to draw: ``metrics`` if given, else those of ``table`` (canonical ones first).

    Examples
    --------
    >>> import pandas as pd
    >>> metrics_in(pd.DataFrame({"metric": ["tmtv", "custom", "suv_max"]}))
    ['suv_max', 'tmtv', 'custom']
    """
    present = list(pd.unique(table["metric"]))
    if metrics is not None:
        missing = [m for m in metrics if m not in present]
        if missing:
            raise ValueError(f"metric(s) not in the table: {', '.join(map(str, missing))}")
        return list(metrics)
    canonical = [m for m in METRIC_ORDER if m in present]
    return canonical + [m for m in present if m not in METRIC_ORDER]


def grid(
    fig: Figure, nrows: int, ncols: int, *, sharex: str | bool = False, sharey: str | bool = False
) -> np.ndarray:
    """A ``(nrows, ncols)`` array of Axes on ``fig``, at most five ticks on their numeric axes.

    Ticks are the dearest part of drawing a panel (a line and a label each); four intervals
    read as well on panels this small. Axes given explicit ticks (names, groups) keep theirs.
    """
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=sharex, sharey=sharey)
    for ax in axes.ravel():
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]))
    return axes


def label_columns(axes: np.ndarray, names: Sequence[str]) -> None:
    """Name each column of ``axes`` (facet labels above the top row; empty names are skipped)."""
    for ax, name in zip(axes[0], names, strict=False):
        if name:
            ax.set_title(name, fontsize=7, pad=3)


def legend_columns(width: str | float, n: int) -> int:
    """Number of legend columns that fit the figure width (about one per inch)."""
    return max(1, min(n, int(figure_width(width) / 1.0)))


def add_legend(
    fig: Figure,
    layout: Facets,
    width: str | float,
    *,
    kind: str = "patch",
    title: str | None = None,
) -> float:
    """One figure legend below the panels: a swatch (or marker) per loss/method colour.

    Returns the height it takes in inches (for :func:`figures.layout.fit`).
    """
    if kind == "patch":
        handles = [
            Patch(facecolor=layout.colors[h], edgecolor="none", label=h) for h in layout.losses
        ]
    else:
        handles = [
            Line2D(
                [],
                [],
                color=layout.colors[h],
                marker="o",
                markersize=3,
                linestyle="-" if kind == "line" else "",
                label=h,
            )
            for h in layout.losses
        ]
    ncols = legend_columns(width, len(handles))
    fig.legend(
        handles=handles,
        loc="outside lower center",
        ncols=ncols,
        frameon=False,
        title=title,
        handlelength=1.2,
        columnspacing=1.0,
    )
    return legend_height(-(-len(handles) // ncols), title=bool(title))


def hide_unused(axes: np.ndarray, used: int) -> None:
    """Hide the trailing axes of a wrapped grid after the first ``used`` ones."""
    for ax in axes.ravel()[used:]:
        ax.set_visible(False)


def wrap(n: int, width: str | float, *, max_cols: int | None = None) -> tuple[int, int]:
    """Rows and columns to wrap ``n`` panels at the given width (3 per row at double width)."""
    cols = max_cols or (3 if figure_width(width) > 5 else 2)
    cols = max(1, min(cols, n))
    return int(np.ceil(n / cols)), cols


def first_rows(table: pd.DataFrame, columns: Sequence[str]) -> dict[tuple, pd.Series]:
    """The first row of each combination of ``columns``' values, by that tuple (one pass).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"method": ["a", "a", "b"], "metric": "tla", "ccc": [0.9, 0.1, 0.8]})
    >>> float(first_rows(t, ["method", "metric"])[("a", "tla")]["ccc"])
    0.9
    """
    firsts = table.drop_duplicates(list(columns))
    keys = zip(*(firsts[c] for c in columns), strict=True)
    return dict(zip(keys, (row for _, row in firsts.iterrows()), strict=True))


def first_row(table: pd.DataFrame, **where: object) -> pd.Series | None:
    """The first row matching all ``column=value`` pairs, or None."""
    mask = np.ones(len(table), dtype=bool)
    for col, value in where.items():
        mask &= (table[col] == value).to_numpy()
    rows = table[mask]
    return None if rows.empty else rows.iloc[0]


def axis_off_text(ax: Axes, text: str = "no data") -> None:
    """Mark an empty panel."""
    ax.text(
        0.5,
        0.5,
        text,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=7,
        color="#777777",
    )
