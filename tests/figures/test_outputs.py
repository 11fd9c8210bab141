"""Tables, loss illustrations, render_all, save_figure and the ``agree figures`` CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from matplotlib.image import imread

from figures.losses import l1_weighting, l1_weights, loss_curve_plot, loss_curves
from figures.render import render_all
from figures.style import new_figure, save_figure
from figures.tables import table_i, table_i_csv, table_i_html, table_i_latex, write_table_i


def _not_blank(path):
    image = imread(path)
    return image.ndim == 3 and float(image[..., :3].std()) > 0.01


# --- Table I ---------------------------------------------------------------------------


def _table_cases():
    # unet/dice: DSC .5, .7; TP rate 1/2, 1/1; FP 0, 2; FN rate 1/2, 0; F1 2/3, 1/2
    return pd.DataFrame(
        {
            "case_id": ["a", "b", "a", "b"],
            "method": ["unet/dice"] * 2 + ["seg/l1dfl"] * 2,
            "dsc": [0.5, 0.7, 0.9, 0.9],
            "tp": [1, 1, 1, 1],
            "fp": [0, 2, 0, 0],
            "fn": [1, 0, 0, 0],
            "f1": [2 / 3, 0.5, 1.0, 1.0],
        }
    )


def test_table_i_strings_hand_computed():
    table = table_i(_table_cases())
    first = table.iloc[0]
    assert first["Network"] == "unet" and first["Model"] == "dice"
    assert first["Mean DSC"] == "0.60 ± 0.14"  # SD of {.5, .7} (ddof=1) = .1414
    assert first["Median DSC"] == "0.60 [0.55, 0.65]"
    assert first["Mean TP"] == "0.75 ± 0.35" and first["Mean FN"] == "0.25 ± 0.35"
    assert first["Mean FP"] == "1.00 ± 1.41"
    assert table.iloc[1]["Mean DSC"] == "0.90 ± 0.00"


def test_table_i_formats(tmp_path):
    cases = _table_cases()
    latex = table_i_latex(cases)
    assert latex.startswith("\\begin{tabular}") and "\\multicolumn{7}{c}{unet}" in latex
    assert "0.60 $\\pm$ 0.14" in latex and latex.count("\\\\") == 1 + 2 + 2
    html = table_i_html(cases)
    assert html.count("<tr>") == 1 + 2 + 2 and "<td>0.60 [0.55, 0.65]</td>" in html
    csv = pd.read_csv(pd.io.common.StringIO(table_i_csv(cases)))
    assert csv.loc[0, "dsc_mean"] == pytest.approx(0.6)
    paths = write_table_i(cases, tmp_path / "table_i")
    assert [p.name for p in paths] == ["table_i.csv", "table_i.tex", "table_i.html"]
    assert all(p.stat().st_size > 0 for p in paths)
    plain = table_i_html(cases.assign(method=["x", "x", "y", "y"]))
    assert "colspan" not in plain and "<td>x</td>" in plain


# --- losses ----------------------------------------------------------------------------


def test_l1_weights_uniform_norms_give_equal_weights():
    # paper 001 §2.5: with uniformly spread L1 norms every bin has the same density -> w = 1.
    # 11 bins of widths .05, .1 × 9, .05: 1 value in each end bin and 2 in each interior bin.
    values = np.r_[0.0, np.repeat(np.arange(1, 10) / 10, 2), 1.0]
    w = l1_weights(values, np.zeros_like(values))
    assert w.weights == pytest.approx(np.ones(values.size))
    assert w.widths == pytest.approx(np.r_[0.05, np.full(9, 0.1), 0.05])


def test_l1_weights_hand_computed_and_errors():
    # norms {0, 0, 0, 0.95}: bin 0 count 3 (width .05) -> D 60, w = 4/60; last bin count 1 -> D 20, w = .2
    w = l1_weights([0.0, 0.0, 1.0, 0.05], [0, 0, 1, 1])
    assert w.weights == pytest.approx([4 / 60, 4 / 60, 4 / 60, 0.2])
    with pytest.raises(ValueError, match="bin_width"):
        l1_weights([0.5], [1], bin_width=0.3)
    with pytest.raises(ValueError, match="shape"):
        l1_weights([0.5, 0.1], [1])


def test_loss_illustrations():
    fig = l1_weighting(width="single")
    assert len(fig.axes) == 6
    assert len(fig.axes[3].patches) == 11  # one bar per bin (κ = 0.1)
    curves = loss_curves([0.1, 0.5, 0.9])
    assert sorted(curves["loss"].unique()) == ["dice", "dice_ce", "dice_focal", "l1dfl"]
    for _, c in curves.groupby("loss"):
        assert np.all(np.diff(c["value"].to_numpy()) < 0)  # better lesion probability, lower loss
    dice = curves[curves.loss == "dice"]["value"].to_numpy()
    dce = curves[curves.loss == "dice_ce"]["value"].to_numpy()
    assert np.all(dce > dice)
    assert len(loss_curve_plot(curves).axes[0].lines) == 4
    with pytest.raises(ValueError, match="between 0 and 1"):
        loss_curves([0.0])


# --- render_all and saving --------------------------------------------------------------


def test_render_all_names_and_skips(synth):
    methods = ["unet/dice", "unet/l1dfl"]
    cases = synth.cases(methods, n_cases=8)
    t = {
        "measurements": synth.measurements(methods, n_cases=8),
        "agreement": synth.agreement(methods),
    }
    figs = render_all(
        t["measurements"], agreement=t["agreement"], cases=cases, lesions=synth.lesions(cases)
    )
    assert list(figs) == [
        "ccc_radar",
        "ccc_intervals",
        "tost_forest",
        "bland_altman_modified",
        "coverage_tdi",
        "bland_altman_unet-dice",
        "bland_altman_unet-l1dfl",
        "dsc_scenarios",
        "dsc_distributions",
        "dsc_tmtv_thresholds",
        "dsc_dmax_quartiles",
    ]
    # an agreement table without TOST/CP columns and no cases: those figures are skipped
    slim = t["agreement"][["method", "metric", "ccc"]]
    assert set(render_all(t["measurements"].query("method == 'unet/dice'"), agreement=slim)) == {
        "ccc_radar",
        "bland_altman_modified",
    }


def test_save_figure_writes_non_blank_files(tmp_path):
    fig = new_figure("single", 1.5)
    fig.add_subplot().plot([0, 1], [0, 1])
    paths = save_figure(fig, tmp_path / "line", dpi=72)
    assert [p.suffix for p in paths] == [".pdf", ".svg", ".png"]
    assert paths[0].read_bytes().startswith(b"%PDF")
    assert "<svg" in paths[1].read_text()
    assert _not_blank(paths[2])
    assert not list(tmp_path.glob(".*.tmp"))
    with pytest.raises(ValueError, match="format"):
        save_figure(fig, tmp_path / "x", formats=("bmp",))


# --- CLI -------------------------------------------------------------------------------


@pytest.fixture()
def cli_tables(tmp_path, synth):
    methods = ["unet/dice", "unet/l1dfl"]
    cases = synth.cases(methods, n_cases=8)
    paths = {}
    keep = ["suv_max", "tmtv"]  # two metrics keep the figures small and the test fast
    meas = synth.measurements(methods, n_cases=8)
    meas = meas[meas["metric"].isin(keep)]
    agreement = synth.agreement(methods)
    agreement = agreement[agreement["metric"].isin(keep)]
    for name, table in {"measurements": meas, "agreement": agreement, "cases": cases}.items():
        paths[name] = tmp_path / f"{name}.csv"
        table.to_csv(paths[name], index=False)
    return paths


def test_cli_writes_figures_and_table(tmp_path, cli_tables):
    from agreement.cli import agree

    out = tmp_path / "figs"
    args = [
        "figures",
        str(cli_tables["measurements"]),
        "--agreement",
        str(cli_tables["agreement"]),
        "--cases",
        str(cli_tables["cases"]),
        "-o",
        str(out),
        "--format",
        "png",
        "--width",
        "single",
        "--dpi",
        "60",
    ]
    result = CliRunner().invoke(agree, args)
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert "tost_forest.png" in names and "ccc_radar.png" in names and "table_i.tex" in names
    assert all(_not_blank(p) for p in out.glob("*.png"))
    again = CliRunner().invoke(agree, args)  # refused before any drawing
    assert again.exit_code == 2 and "exists" in again.output


def test_cli_user_errors(tmp_path, cli_tables):
    from agreement.cli import agree

    bad = tmp_path / "bad.csv"
    pd.DataFrame({"case_id": ["a"], "method": ["m"]}).to_csv(bad, index=False)
    result = CliRunner().invoke(agree, ["figures", str(bad), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "bad.csv: missing column(s)" in result.output and "'reference'" in result.output
    pd.DataFrame({"method": ["m"], "dsc": [0.5]}).to_csv(bad, index=False)
    args = [
        "figures",
        str(cli_tables["measurements"]),
        "--cases",
        str(bad),
        "-o",
        str(tmp_path / "o"),
    ]
    result = CliRunner().invoke(agree, args)
    assert (
        result.exit_code == 2
        and "bad.csv: missing column(s) case_id in the cases table" in result.output
    )
    result = CliRunner().invoke(
        agree,
        ["figures", str(cli_tables["measurements"]), "-o", str(tmp_path / "o"), "--format", "gif"],
    )
    assert result.exit_code == 2 and "gif" in result.output
    assert not (tmp_path / "o").exists()


def test_render_all_computes_the_agreement_table(synth):
    # integration with agreement.agreement_table (the column contract of COMMON.md)
    meas = synth.measurements(["unet/dice", "unet/l1dfl"], n_cases=6)
    meas = meas[meas["metric"].isin(["suv_max", "tmtv"])]
    figs = render_all(meas)
    assert {"ccc_radar", "tost_forest", "coverage_tdi", "bland_altman_modified"} <= set(figs)
    assert len(figs["tost_forest"].axes) == 2


def test_figures_import_no_torch():
    import subprocess
    import sys

    code = (
        "import sys, figures.render, figures.cli, figures.tables, agreement.summary;"
        "print(sorted(m for m in ('torch', 'monai') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
