"""Figure content from synthetic tables: axes, polygons, bars, colours, reference lines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon, Rectangle

from figures.bland_altman import bland_altman_plot, modified_bland_altman
from figures.coverage import coverage_tdi
from figures.dsc import distributions, dsc_dmax_quartiles, dsc_scenarios, dsc_tmtv_thresholds
from figures.facets import facets, keyed
from figures.forest import tost_forest
from figures.radar import ccc_intervals, ccc_radar
from figures.render import render_all
from figures.style import (
    EQUIVALENT_COLOR,
    NOT_EQUIVALENT_COLOR,
    OKABE_ITO,
    colors,
    equivalence_color,
    figure_width,
)

TWENTY = [f"method{i}" for i in range(20)]
NETWORKS = ["unet", "attention_unet", "segresnet"]
LOSSES = ["dice", "dice_ce", "dice_focal", "l1dfl"]


def visible(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


def hlines(ax):
    """y values of the horizontal full-width lines (axhline) of an Axes."""
    return sorted(
        round(float(line.get_ydata()[0]), 9)
        for line in ax.lines
        if isinstance(line, Line2D)
        and len(set(np.ravel(line.get_ydata()))) == 1
        and list(line.get_xdata()) == [0, 1]
    )


def vlines(ax):
    return sorted(
        round(float(line.get_xdata()[0]), 9)
        for line in ax.lines
        if list(line.get_ydata()) == [0, 1]
    )


# --- style and facets -----------------------------------------------------------------


def test_colours_are_okabe_ito_and_distinct_for_twenty():
    palette = colors(TWENTY)
    assert list(palette.values())[:8] == OKABE_ITO
    assert len(set(palette.values())) == 20
    assert equivalence_color(np.bool_(True)) == EQUIVALENT_COLOR
    assert equivalence_color("False") == NOT_EQUIVALENT_COLOR
    assert equivalence_color(None) not in (EQUIVALENT_COLOR, NOT_EQUIVALENT_COLOR)


def test_widths():
    assert figure_width("single") == 3.5 and figure_width("double") == 7.2
    with pytest.raises(ValueError, match="width"):
        figure_width("triple")


def test_facets_named_unnamed_and_mixed():
    named = facets(pd.DataFrame({"method": ["u/a", "s/a", "u/b"]}))
    assert (named.networks, named.losses, named.named) == (["u", "s"], ["a", "b"], True)
    plain = facets(pd.DataFrame({"method": ["x", "y"]}))
    assert (plain.networks, plain.losses, plain.named) == ([""], ["x", "y"], False)
    mixed = keyed(pd.DataFrame({"method": ["u/a", "nnunet"]}))
    assert mixed["_facet"].tolist() == ["", ""] and mixed["_hue"].tolist() == ["u/a", "nnunet"]
    # explicit network/loss columns win over the name
    cols = keyed(pd.DataFrame({"method": ["run1"], "network": ["unet"], "loss": ["dice"]}))
    assert (cols["_facet"].iloc[0], cols["_hue"].iloc[0]) == ("unet", "dice")


# --- radar ----------------------------------------------------------------------------


def test_radar_paper_layout(paper_tables):
    fig = ccc_radar(paper_tables["agreement"])
    axes = visible(fig)
    assert len(axes) == 3
    assert all(ax.name == "polar" for ax in axes)
    palette = colors(LOSSES)
    for ax, network in zip(axes, NETWORKS, strict=False):
        assert ax.get_title() == network
        polygons = [p for p in ax.patches if isinstance(p, Polygon)]
        assert len(polygons) == 4
        assert [to_hex(p.get_facecolor()) for p in polygons] == [
            palette[loss].lower() for loss in LOSSES
        ]
        assert len(ax.get_xticks()) == 6
        assert ax.get_ylim()[1] == 1.0
        # the outline of the first loss passes through its CCC values
        table = paper_tables["agreement"]
        expected = table[table["method"] == f"{network}/dice"].set_index("metric")["ccc"]
        radii = ax.lines[0].get_ydata()[:6]
        order = ["suv_max", "suv_mean", "tla", "tmtv", "lesion_count", "dmax"]
        assert radii == pytest.approx(expected.loc[order].to_numpy())


def test_radar_one_and_twenty_methods_and_negative_ccc(synth):
    one = synth.agreement(["nnunet"])
    one.loc[0, "ccc"] = -0.35
    fig = ccc_radar(one, width="single")
    assert len(visible(fig)) == 1 and len(fig.axes[0].patches) == 1
    assert fig.axes[0].get_ylim()[0] == pytest.approx(-0.4)
    assert fig.get_size_inches()[0] == pytest.approx(3.5)
    fig20 = ccc_radar(synth.agreement(TWENTY))
    assert len(visible(fig20)) == 1 and len(fig20.axes[0].patches) == 20
    assert len(fig20.legends[0].get_texts()) == 20


# --- forest ---------------------------------------------------------------------------


def test_forest_bars_colours_and_bounds(paper_tables):
    table = paper_tables["agreement"]
    fig = tost_forest(table)
    axes = fig.axes  # one panel per metric; bars by network, then loss, top to bottom
    order = [(n, loss) for n in NETWORKS for loss in LOSSES]
    for ax, metric in zip(axes, ["suv_max", "suv_mean", "tla", "tmtv", "lesion_count", "dmax"],
                          strict=True):  # fmt: skip
        rows = table[table["metric"] == metric].set_index(["network", "loss"]).loc[order]
        bars = [p for p in ax.patches if isinstance(p, Rectangle)]
        assert len(bars) == len(order)
        assert [b.get_y() for b in bars] == sorted((b.get_y() for b in bars), reverse=True)
        for bar, (_, row) in zip(bars, rows.iterrows(), strict=True):
            expected = EQUIVALENT_COLOR if row["equivalent"] else NOT_EQUIVALENT_COLOR
            assert to_hex(bar.get_facecolor()) == expected.lower()
            assert bar.get_x() == pytest.approx(row["tost_ci_low"])
            assert bar.get_x() + bar.get_width() == pytest.approx(row["tost_ci_high"])
        assert vlines(ax) == pytest.approx([-2.0, 0.0, 2.0])  # ±Δ = ±0.2·10 and zero
    assert axes[0].get_title() == "SUVmax"
    labels = [t.get_text() for t in axes[0].get_yticklabels()]
    assert labels == [f"{n}/{loss}" for n, loss in order]
    assert not fig._suptitle


def test_forest_twenty_methods_and_undefined(synth):
    table = synth.agreement(TWENTY)
    table["equivalent"] = table["equivalent"].astype(object)
    table.loc[0, "equivalent"] = np.nan
    second = table.index[(table.method == "method1") & (table.metric == "suv_max")]
    table.loc[second, ["tost_ci_low", "tost_ci_high"]] = np.nan
    fig = tost_forest(table, metrics=["suv_max", "tmtv"])
    assert len(fig.axes) == 2
    bars = [p for p in fig.axes[0].patches if isinstance(p, Rectangle)]
    assert len(bars) == 19  # one missing CI is not drawn
    assert to_hex(bars[0].get_facecolor()) not in (
        EQUIVALENT_COLOR.lower(),
        NOT_EQUIVALENT_COLOR.lower(),
    )
    assert fig.get_size_inches()[1] <= 10.5
    with pytest.raises(ValueError, match="not in the table"):
        tost_forest(table, metrics=["volume"])


# --- Bland-Altman -----------------------------------------------------------------------


def test_modified_bland_altman_lines_at_twenty_percent(paper_tables):
    meas = paper_tables["measurements"]
    fig = modified_bland_altman(meas, paper_tables["agreement"])
    axes = np.array(fig.axes).reshape(6, 3)
    for ax in axes.ravel():
        assert hlines(ax) == pytest.approx([-2.0, 0.0, 2.0])  # ±0.2 × mean_reference (10)
        assert len(ax.collections) == 4  # one scatter per loss
    # without an agreement table: ±0.2 × the mean of the plotted references
    fig2 = modified_bland_altman(meas, metrics=["tmtv"])
    mean_ref = meas[(meas.metric == "tmtv") & (meas.method == "unet/dice")]["reference"].mean()
    assert hlines(fig2.axes[0]) == pytest.approx([-0.2 * mean_ref, 0.0, 0.2 * mean_ref])
    # points: x = reference, y = predicted - reference
    pts = meas[(meas.metric == "tmtv") & (meas.method == "unet/dice")]
    offsets = np.asarray(fig2.axes[0].collections[0].get_offsets())
    assert offsets[:, 0] == pytest.approx(pts["reference"].to_numpy())
    assert offsets[:, 1] == pytest.approx((pts["predicted"] - pts["reference"]).to_numpy())


def test_modified_bland_altman_one_and_twenty(synth):
    one = modified_bland_altman(synth.measurements(["x"], n_cases=5), width="single")
    assert len(one.axes) == 6 and all(len(ax.collections) == 1 for ax in one.axes)
    twenty = modified_bland_altman(synth.measurements(TWENTY, n_cases=4), metrics=["suv_max"])
    assert len(twenty.axes) == 1 and len(twenty.axes[0].collections) == 20
    with pytest.raises(ValueError, match="margin"):
        modified_bland_altman(synth.measurements(["x"], n_cases=3), margin=0)


def test_classic_bland_altman_lines_and_bands(paper_tables):
    meas, table = paper_tables["measurements"], paper_tables["agreement"]
    fig = bland_altman_plot(meas, table, method="unet/l1dfl")
    assert len(visible(fig)) == 6
    row = table[(table.method == "unet/l1dfl") & (table.metric == "suv_max")].iloc[0]
    ax = fig.axes[0]
    expected = sorted([row.ba_loa_low, 0.0, row.ba_bias, row.ba_loa_high])
    assert hlines(ax) == pytest.approx(expected)
    assert len(ax.patches) == 3  # CI bands of the bias and both limits
    with pytest.raises(ValueError, match="method is required"):
        bland_altman_plot(meas, table)


# --- coverage -------------------------------------------------------------------------


def test_coverage_bars_and_error_bars(paper_tables):
    table = paper_tables["agreement"]
    fig = coverage_tdi(table)
    axes = np.array(fig.axes).reshape(6, 2)  # a CP and a TDI panel per metric
    cp_ax, tdi_ax = axes[0, 0], axes[0, 1]
    rows = table[table.metric == "suv_max"].set_index(["network", "loss"])
    rows = rows.loc[[(n, loss) for n in NETWORKS for loss in LOSSES]]  # bars: network, then loss
    cp_bars = [p for p in cp_ax.patches if isinstance(p, Rectangle)]
    assert [b.get_height() for b in cp_bars] == pytest.approx(rows["cp"].to_numpy())
    assert [to_hex(b.get_facecolor()) for b in cp_bars] == [
        c.lower() for c in colors(LOSSES).values()
    ] * len(NETWORKS)
    segments = cp_ax.collections[0].get_segments()  # error bars: one vertical segment per bar
    assert [s[0][1] for s in segments] == pytest.approx(rows["cp_ci_low"].to_numpy())
    assert [s[1][1] for s in segments] == pytest.approx(rows["cp_ci_high"].to_numpy())
    assert cp_ax.get_ylim() == pytest.approx((0, 1.05))
    tdi_bars = [p for p in tdi_ax.patches if isinstance(p, Rectangle)]
    assert [b.get_height() for b in tdi_bars] == pytest.approx(rows["tdi"].to_numpy())
    assert cp_ax.get_title() == "Coverage probability"
    assert [t.get_text() for t in axes[-1, 0].get_xticklabels()][:2] == [
        "unet/dice",
        "unet/dice_ce",
    ]


def test_coverage_twenty_methods(synth):
    fig = coverage_tdi(synth.agreement(TWENTY), metrics=["tla"])
    assert len(fig.axes) == 2
    assert len([p for p in fig.axes[0].patches if isinstance(p, Rectangle)]) == 20


# --- DSC figures ----------------------------------------------------------------------


def test_dsc_scenarios_boxes(paper_tables):
    cases = paper_tables["cases"]
    fig = dsc_scenarios(cases)
    assert len(fig.axes) == 3
    boxes = fig.axes[0].patches
    assert len(boxes) == 8  # 2 scenarios × 4 losses, each present in the synthetic cases
    palette = colors(LOSSES)
    assert [to_hex(b.get_facecolor()) for b in boxes[:4]] == [palette[x].lower() for x in LOSSES]
    # median line of the first box (single, dice) equals the median DSC of those cases
    sel = keyed(cases).query("_facet == 'unet' and _hue == 'dice' and scenario == 'single'")["dsc"]
    medians = [
        ln
        for ln in fig.axes[0].lines
        if ln.get_color() == "black"
        and len(ln.get_ydata()) == 2
        and ln.get_ydata()[0] == ln.get_ydata()[1]
    ]
    assert any(ln.get_ydata()[0] == pytest.approx(sel.median()) for ln in medians)


def test_dsc_tmtv_and_dmax_from_summaries(paper_tables):
    from agreement.summary import dsc_by_dmax_quartile, dsc_by_tmtv_threshold

    cases, meas, lesions = (
        paper_tables["cases"],
        paper_tables["measurements"],
        paper_tables["lesions"],
    )
    patient = dsc_by_tmtv_threshold(cases, meas, level="patient")
    lesion = dsc_by_tmtv_threshold(cases, meas, level="lesion", lesions=lesions)
    fig = dsc_tmtv_thresholds(patient, lesion)
    n_rows = patient["scenario"].nunique() + lesion["scenario"].nunique()
    assert len(fig.axes) == n_rows * 3
    first = fig.axes[0]
    assert len(first.lines) == 4
    line = patient[(patient.scenario == "all") & (patient.method == "unet/dice")]
    assert first.lines[0].get_ydata() == pytest.approx(line["median_dsc"].to_numpy())
    table = dsc_by_dmax_quartile(cases, meas)
    fig2 = dsc_dmax_quartiles(table)
    assert len(fig2.axes) == 3
    assert [t.get_text().split("\n")[0] for t in fig2.axes[0].get_xticklabels()] == [
        "G0",
        "G1",
        "G2",
        "G3",
    ]
    with pytest.raises(ValueError, match="patient- or lesion-level"):
        dsc_tmtv_thresholds(None, None)


def test_distributions_by_fold_and_twenty_methods(synth):
    cases = synth.cases(["u/a", "u/b"], n_cases=9)
    fig = distributions(cases)  # by fold (3 folds), hue = loss
    assert len(fig.axes) == 3
    assert len(fig.axes[0].patches) == 3 * 2
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["0", "1", "2"]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    mean_a = cases[cases.method == "u/a"]["dsc"].mean()
    assert legend[0].startswith("a (DSC ") and f"{mean_a:.2f}" in legend[0]
    many = synth.cases(TWENTY, n_cases=3).drop(columns="fold")
    fig20 = distributions(many)
    assert len(fig20.axes[0].patches) == 20
    with pytest.raises(ValueError, match="missing column"):
        distributions(many, by="tracer")


@pytest.mark.parametrize(
    ("draw", "column"),
    [
        (ccc_radar, "ccc"),
        (ccc_intervals, "ccc_ci_low"),
        (tost_forest, "equivalent"),
        (coverage_tdi, "cp_ci_high"),
    ],
)
def test_missing_agreement_column_is_a_clear_error(synth, draw, column):
    table = synth.agreement(["u/a"]).drop(columns=column)
    with pytest.raises(ValueError, match=f"agreement table: missing column\\(s\\) {column}"):
        draw(table)


def test_missing_case_columns_are_clear_errors(synth):
    cases = synth.cases(["u/a"], n_cases=3)
    with pytest.raises(ValueError, match="cases table: missing column\\(s\\) n_reference_lesions"):
        dsc_scenarios(cases.drop(columns=["scenario", "n_reference_lesions"]))
    with pytest.raises(ValueError, match="measurements table: missing column\\(s\\) predicted"):
        modified_bland_altman(synth.measurements(["u/a"], n_cases=3).drop(columns="predicted"))


def test_render_all_passes_margin_and_bland_altman_methods(paper_tables):
    meas, table = paper_tables["measurements"], paper_tables["agreement"]
    figs = render_all(meas, agreement=table, margin=0.1, bland_altman_methods=["unet/l1dfl"])
    grid = np.array(figs["bland_altman_modified"].axes).reshape(6, 3)
    assert hlines(grid[0, 0]) == pytest.approx([-1.0, 0.0, 1.0])  # ±0.1 × mean_reference (10)
    assert [k for k in figs if k.startswith("bland_altman_") and k != "bland_altman_modified"] == [
        "bland_altman_unet-l1dfl"
    ]


def test_ccc_intervals_draw_the_table(synth):
    table = synth.agreement(["u/a", "u/b"])
    fig = ccc_intervals(table)
    assert fig.axes[0].get_title() == "SUVmax"
    row = table[(table["method"] == "u/a") & (table["metric"] == "suv_max")].iloc[0]
    lines = fig.axes[0].lines
    intervals = [tuple(ln.get_xdata()) for ln in lines if len(ln.get_xdata()) == 2]
    dots = [ln.get_xdata()[0] for ln in lines if ln.get_marker() == "o"]
    assert (row["ccc_ci_low"], row["ccc_ci_high"]) in intervals
    assert row["ccc"] in dots


def test_no_text_under_7_pt_and_units_on_every_row(synth):
    # Journals ask for >= 7 pt at print size (the figures are drawn at print size: 3.5/7.2 in).
    from figures.render import render_all

    methods = ["unet/dice", "unet/l1dfl", "segresnet/dice"]
    cases = synth.cases(methods, n_cases=8)
    figs = render_all(synth.measurements(methods, n_cases=8), agreement=synth.agreement(methods),
                      cases=cases, lesions=synth.lesions(cases))  # fmt: skip
    for name, fig in figs.items():
        fig.canvas.draw()  # tick labels exist after a draw
        for text in fig.findobj(
            match=lambda a: hasattr(a, "get_fontsize") and hasattr(a, "get_text")
        ):
            if text.get_text().strip() and text.get_visible():
                assert text.get_fontsize() >= 7, (name, text.get_text())
    grid = figs["bland_altman_modified"]
    labels = [ax.get_xlabel() for ax in grid.axes if ax.get_visible()]
    assert all(label.startswith("Reference ") for label in labels)
    assert "Reference TMTV (ml)" in labels and "Reference SUVmax (SUV)" in labels
    bars = figs["coverage_tdi"]
    bottom = bars.axes[-1]
    assert [t.get_text() for t in bottom.get_xticklabels()] == methods
