"""DSC figures: by lesion scenario, TMTV threshold and Dmax quartile (paper 001, Figs. 4-6),
and autoPET-style DSC / FPV / FNV distributions (paper 004, Fig. 1)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.cbook import boxplot_stats
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from figures.facets import add_legend, axis_off_text, facets, grid, keyed, label_columns, require
from figures.layout import fit, legend_height, text_size
from figures.style import colors, metric_label, new_figure, style

SCENARIOS = ["single", "multiple"]


def _boxes(
    ax: Axes,
    groups: Sequence[str],
    hues: Sequence[str],
    palette: dict[str, str],
    data: pd.DataFrame,
    *,
    x: str,
    y: str,
    hue: str,
) -> None:
    """Side-by-side box plots: one box per (group, hue), coloured by hue; NaNs dropped.

    Tukey boxes as :meth:`Axes.boxplot` draws them (quartiles, median, whiskers to the last
    point within 1.5 IQR, the points beyond), with the statistics of
    :func:`matplotlib.cbook.boxplot_stats`; each box is a patch and its median a line, while
    the whiskers and caps of the panel are one line collection and its outliers one scatter
    (a handful of artists per panel instead of seven per box: drawing cost is per artist).
    """
    same = x == hue
    n = 1 if same else len(hues)
    step = 0.8 / n
    half = step * 0.85 / 2
    segments, outliers = [], []
    for gi, group in enumerate(groups):
        for hi, h in enumerate([group] if same else hues):
            values = pd.to_numeric(
                data.loc[(data[x] == group) & (data[hue] == h), y], errors="coerce"
            ).dropna()
            if values.empty:
                continue
            pos = gi - 0.4 + step * ((0 if same else hi) + 0.5)
            st = boxplot_stats(values.to_numpy(float))[0]
            ax.add_patch(
                Rectangle(
                    (pos - half, st["q1"]), 2 * half, st["q3"] - st["q1"],
                    facecolor=palette[h], edgecolor="black", linewidth=0.5, zorder=2,
                )
            )  # fmt: skip
            ax.plot([pos - half, pos + half], [st["med"]] * 2, color="black", linewidth=0.8,
                    solid_capstyle="butt", zorder=3)  # fmt: skip
            cap = half / 2
            segments += [
                [(pos, st["q1"]), (pos, st["whislo"])],
                [(pos, st["q3"]), (pos, st["whishi"])],
                [(pos - cap, st["whislo"]), (pos + cap, st["whislo"])],
                [(pos - cap, st["whishi"]), (pos + cap, st["whishi"])],
            ]
            outliers += [(pos, v) for v in st["fliers"]]
    if segments:
        ax.add_collection(LineCollection(segments, colors="black", linewidths=0.5, zorder=1))
    if outliers:
        px, py = zip(*outliers, strict=True)
        ax.scatter(px, py, s=1.5**2, facecolors="none", edgecolors="black", linewidths=0.3)
    ax.set_xticks(range(len(groups)), [str(g) for g in groups])
    ax.set_xlim(-0.5, len(groups) - 0.5)


def dsc_scenarios(cases: pd.DataFrame, *, width: str | float = "double") -> Figure:
    """DSC box plots for single- and multiple-lesion cases, one panel per network (paper 001 Fig. 4).

    The scenario is the ``scenario`` column of ``cases`` (cases with no reference lesion are
    left out); each panel has one box per (scenario, loss), coloured by loss.

    Examples
    --------
    >>> import pandas as pd
    >>> cases = pd.DataFrame({"method": ["u/a"] * 4, "dsc": [0.5, 0.6, 0.7, 0.8],
    ...                       "scenario": ["single", "single", "multiple", "multiple"]})
    >>> fig = dsc_scenarios(cases)
    >>> len(fig.axes), len(fig.axes[0].patches)
    (1, 2)
    """
    from agreement.summary import scenario_groups

    require(cases, ["method", "dsc"], "cases")
    if "scenario" not in cases.columns:
        require(cases, ["n_reference_lesions"], "cases")
    table = keyed(cases)
    if "scenario" not in table.columns:
        table["scenario"] = scenario_groups(table["n_reference_lesions"])
    layout = facets(table)
    with style():
        fig = new_figure(width, 2.2)
        axes = grid(fig, 1, len(layout.networks), sharey=True)
        for ax, network in zip(axes[0], layout.networks, strict=False):
            cell = table[table["_facet"] == network]
            _boxes(
                ax, SCENARIOS, layout.losses, layout.colors, cell, x="scenario", y="dsc", hue="_hue"
            )
            ax.set_ylim(0, 1.02)
        axes[0, 0].set_ylabel("DSC")
        label_columns(axes, layout.networks)
        fit(fig, axes, bottom=add_legend(fig, layout, width))
    return fig


def dsc_tmtv_thresholds(
    patient: pd.DataFrame | None = None,
    lesion: pd.DataFrame | None = None,
    *,
    width: str | float = "double",
) -> Figure:
    """Median DSC against volume thresholds, at patient and lesion level (paper 001 Fig. 5).

    Takes the output of :func:`agreement.summary.dsc_by_tmtv_threshold` for
    ``level="patient"`` and/or ``level="lesion"``. Rows are (level, scenario) pairs present
    in the tables, columns are networks; one line per loss, x = threshold (ml), y = median DSC.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"method": "u/a", "scenario": "all", "threshold": [0.0, 4.0],
    ...                   "n": [2, 1], "median_dsc": [0.6, 0.8]})
    >>> fig = dsc_tmtv_thresholds(t)
    >>> len(fig.axes), len(fig.axes[0].lines)
    (1, 1)
    """
    parts = [
        (name, t)
        for name, t in (("Patient", patient), ("Lesion", lesion))
        if t is not None and not t.empty
    ]
    if not parts:
        raise ValueError("dsc_tmtv_thresholds needs a patient- or lesion-level table")
    for name, t in parts:
        require(
            t, ["method", "scenario", "threshold", "median_dsc"], f"{name.lower()}-level threshold"
        )
    keyed_parts = [(name, keyed(t)) for name, t in parts]
    layout = facets(pd.concat([t for _, t in keyed_parts], ignore_index=True))
    rows = [(name, s, t) for name, t in keyed_parts for s in pd.unique(t["scenario"])]
    with style():
        fig = new_figure(width, 1.3 * len(rows) + 0.5)
        axes = grid(fig, len(rows), len(layout.networks), sharey=True)
        for i, (name, scenario, t) in enumerate(rows):
            for j, network in enumerate(layout.networks):
                ax = axes[i, j]
                cell = t[(t["scenario"] == scenario) & (t["_facet"] == network)]
                for loss in layout.losses:
                    line = cell[cell["_hue"] == loss].sort_values("threshold")
                    if not line.empty:
                        ax.plot(
                            line["threshold"],
                            line["median_dsc"],
                            marker="o",
                            markersize=2.5,
                            color=layout.colors[loss],
                        )
                ax.set_ylim(0, 1.02)
                if j == 0:
                    ax.set_ylabel(f"{name}, {scenario}\nmedian DSC")
                ax.set_xlabel("Volume ≥ threshold (ml)")  # every row: the ranges differ
        label_columns(axes, layout.networks)
        fit(fig, axes, bottom=add_legend(fig, layout, width, kind="line"))
    return fig


def dsc_dmax_quartiles(table: pd.DataFrame, *, width: str | float = "double") -> Figure:
    """DSC box plots by reference-Dmax quartile group, one panel per network (paper 001 Fig. 6).

    Takes the output of :func:`agreement.summary.dsc_by_dmax_quartile`; the x tick labels
    give each group's Dmax range.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"method": "u/a", "dsc": [0.1, 0.2, 0.3, 0.4],
    ...                   "group": ["G0", "G1", "G2", "G3"], "low": [1, 2, 3, 4], "high": [2, 3, 4, 5]})
    >>> fig = dsc_dmax_quartiles(t)
    >>> len(fig.axes[0].patches), fig.axes[0].get_xticklabels()[0].get_text()
    (4, 'G0\\n1.0–2.0')
    """
    require(table, ["method", "dsc", "group", "low", "high"], "Dmax quartile")
    data = keyed(table)
    layout = facets(data)
    groups = ["G0", "G1", "G2", "G3"]
    labels = []
    for g in groups:
        rows = data[data["group"] == g]
        labels.append(
            f"{g}\n{rows['low'].iloc[0]:.1f}–{rows['high'].iloc[0]:.1f}" if not rows.empty else g
        )
    with style():
        fig = new_figure(width, 2.3)
        axes = grid(fig, 1, len(layout.networks), sharey=True)
        for ax, network in zip(axes[0], layout.networks, strict=False):
            cell = data[data["_facet"] == network]
            _boxes(ax, groups, layout.losses, layout.colors, cell, x="group", y="dsc", hue="_hue")
            ax.set_xticks(range(4), labels)
            ax.set_ylim(0, 1.02)
            ax.set_xlabel(f"{metric_label('dmax', 'cm')} group")
            if data.empty:
                axis_off_text(ax)
        axes[0, 0].set_ylabel("DSC")
        label_columns(axes, layout.networks)
        fit(fig, axes, bottom=add_legend(fig, layout, width))
    return fig


def distributions(
    cases: pd.DataFrame,
    *,
    by: str | None = None,
    hue: str | None = None,
    metrics: Sequence[str] = ("dsc", "fnv", "fpv"),
    width: str | float = "double",
) -> Figure:
    """autoPET-style distributions of DSC, FNV and FPV (paper 004 Fig. 1): one panel per metric.

    Boxes per value of ``by`` (default: ``fold`` when present, else the method) and, within
    each, per value of ``hue`` (default, when ``by`` is not the method: the loss, or the
    method when there are several networks; e.g. FDG/PSMA with ``hue="tracer"``). The legend shows each hue's mean over all rows.

    Examples
    --------
    >>> import pandas as pd
    >>> cases = pd.DataFrame({"method": ["a", "a", "b", "b"], "dsc": [0.5, 0.6, 0.7, 0.8],
    ...                       "fnv": [1.0, 2.0, 0.0, 1.0], "fpv": [0.0, 3.0, 1.0, 1.0]})
    >>> fig = distributions(cases)
    >>> len(fig.axes), len(fig.axes[0].patches)
    (3, 2)
    """
    data = keyed(cases)
    missing = [m for m in metrics if m not in data.columns]
    if missing:
        raise ValueError(f"cases table: missing column(s) {', '.join(missing)}")
    if by is None:
        by = "fold" if "fold" in data.columns else "method"
    if hue is None:
        several_networks = data["_facet"].nunique() > 1
        hue = by if by in ("method", "_hue") else ("method" if several_networks else "_hue")
    for col in (by, hue):
        if col not in data.columns:
            raise ValueError(f"cases table: missing column {col!r}")
    groups = list(pd.unique(data[by].dropna()))
    hues = list(pd.unique(data[hue].dropna()))
    palette = colors(hues)
    ncols = min(len(hues), 2 if len(hues) > 3 else 3)
    with style():
        legend = legend_height(-(-len(hues) // ncols))
        # room for the x tick labels, turned when there are many, under panels 1.6 in tall
        turned = max((text_size(str(g))[0] for g in groups), default=0.0) if len(groups) > 4 else 0
        fig = new_figure(width, 1.9 + turned + legend)
        axes = grid(fig, 1, len(metrics))
        for ax, metric in zip(axes[0], metrics, strict=False):
            _boxes(ax, groups, hues, palette, data, x=by, y=metric, hue=hue)
            ax.set_ylabel(metric_label(metric, {"fpv": "ml", "fnv": "ml"}.get(metric)))
            ax.set_xlabel("fold" if by == "fold" else ("" if by in ("method", "_hue") else by))
            if len(groups) > 4:
                ax.tick_params(axis="x", labelrotation=90)
        means = {
            h: data.loc[data[hue] == h, list(metrics)].apply(pd.to_numeric, errors="coerce").mean()
            for h in hues
        }
        handles = [
            Patch(
                color=palette[h],
                label=f"{h} ("
                + ", ".join(f"{metric_label(m)} {means[h][m]:.2f}" for m in metrics)
                + ")",
            )
            for h in hues
        ]
        fig.legend(handles=handles, loc="outside lower center", ncols=ncols, frameon=False)
        fit(fig, axes, bottom=legend)
    return fig
