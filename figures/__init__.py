"""figures: the papers' figures, regenerated from the tables that :mod:`agreement` writes.

Every function takes DataFrames and returns a :class:`matplotlib.figure.Figure`; statistics are
computed by :mod:`agreement`, never inside a plot. Names are imported on first use.
"""

from __future__ import annotations

from agreement._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "render_all": "figures.render",
    "safe_name": "figures.render",
    "save_figure": "figures.style",
    "ccc_radar": "figures.radar",
    "ccc_intervals": "figures.radar",
    "tost_forest": "figures.forest",
    "modified_bland_altman": "figures.bland_altman",
    "bland_altman_plot": "figures.bland_altman",
    "coverage_tdi": "figures.coverage",
    "table_i": "figures.tables",
    "table_i_csv": "figures.tables",
    "table_i_latex": "figures.tables",
    "table_i_html": "figures.tables",
    "write_table_i": "figures.tables",
    "dsc_scenarios": "figures.dsc",
    "dsc_tmtv_thresholds": "figures.dsc",
    "dsc_dmax_quartiles": "figures.dsc",
    "distributions": "figures.dsc",
    "l1_weighting": "figures.losses",
    "l1_weights": "figures.losses",
    "loss_curves": "figures.losses",
    "loss_curve_plot": "figures.losses",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
