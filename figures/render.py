"""Every figure the tables allow, by name: what the CLI writes and the HTML report embeds."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING

import pandas as pd
from matplotlib.figure import Figure

from figures.bland_altman import bland_altman_plot, modified_bland_altman
from figures.coverage import coverage_tdi
from figures.dsc import distributions, dsc_dmax_quartiles, dsc_scenarios, dsc_tmtv_thresholds
from figures.forest import tost_forest
from figures.losses import l1_weighting, loss_curve_plot
from figures.radar import ccc_intervals, ccc_radar

if TYPE_CHECKING:
    from agreement.analysis import Analysis

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str) -> str:
    """A file-name-safe version of a method name.

    Examples
    --------
    >>> safe_name("unet/l1dfl")
    'unet-l1dfl'
    """
    return _SAFE.sub("-", str(text)).strip("-") or "method"


def _has(table: pd.DataFrame | None, *columns: str) -> bool:
    return table is not None and not table.empty and all(c in table.columns for c in columns)


def render_all(
    measurements: pd.DataFrame | Analysis,
    *,
    agreement: pd.DataFrame | None = None,
    cases: pd.DataFrame | None = None,
    lesions: pd.DataFrame | None = None,
    width: str | float = "double",
    margin: float | None = None,
    bland_altman_methods: list[str] | None = None,
    illustrations: bool = False,
    strata: Mapping[str, pd.DataFrame] | None = None,
) -> dict[str, Figure]:
    """Draw every figure whose inputs are present; return them by name, in a stable order.

    Names: ``ccc_radar``, ``ccc_intervals``, ``tost_forest``, ``bland_altman_modified``,
    ``coverage_tdi``, ``bland_altman_<method>`` (one per method) from the measurements and
    agreement tables; with ``cases``: ``dsc_scenarios``, ``dsc_distributions``,
    ``dsc_tmtv_thresholds`` (needs metric ``tmtv``; adds the lesion level with ``lesions``) and
    ``dsc_dmax_quartiles`` (needs metric ``dmax`` and multiple-lesion cases); with
    ``illustrations``: ``l1_weighting`` and ``loss_curves``. A figure whose columns are missing
    is skipped. :func:`plan_figures` gives the same names without drawing.

    Parameters
    ----------
    measurements : DataFrame or Analysis
        The measurements table, or an :class:`~agreement.analysis.Analysis` (from
        :func:`agreement.analyse`), whose agreement, cases, lesions, strata and margin are then
        used unless given here.
    agreement : DataFrame, optional
        The agreement table; computed with ``agreement.agreement_table(measurements)`` if None.
    cases, lesions : DataFrame, optional
        The cases and lesions tables.
    width : {"single", "double"} or float
        Figure width.
    margin : float, optional
        Relative margin drawn in the modified Bland-Altman grid (0.2 = ±20% of the mean
        reference, the papers' TOST margin); pass the ``margin`` the statistics used
        (default: the Analysis's, else ``StatsOptions().margin``).
    bland_altman_methods : list of str, optional
        Methods that get a classic Bland-Altman figure; every method if None.
    illustrations : bool
        Also draw the data-independent loss illustrations.
    strata : mapping, optional
        The stratified tables already computed (``dsc_by_tmtv`` with its ``level`` column,
        ``dsc_by_dmax``, as the report writes them), so they are not computed twice.

    Examples
    --------
    >>> import pandas as pd
    >>> m = pd.DataFrame({"case_id": ["a", "b"], "method": "x", "metric": "tmtv",
    ...                   "reference": [1.0, 2.0], "predicted": [1.1, 2.2]})
    >>> a = pd.DataFrame({"method": ["x"], "metric": ["tmtv"], "ccc": [0.9], "ba_bias": [0.15]})
    >>> sorted(render_all(m, agreement=a))
    ['bland_altman_modified', 'bland_altman_x', 'ccc_radar']
    """
    if not isinstance(measurements, pd.DataFrame):  # an Analysis: nothing is computed again
        analysis = measurements
        measurements = analysis.measurements
        agreement = analysis.agreement if agreement is None else agreement
        cases = analysis.cases if cases is None else cases
        lesions = analysis.lesions if lesions is None else lesions
        strata = analysis.strata if strata is None else strata
        margin = analysis.options.margin if margin is None else margin
    plan = plan_figures(
        measurements, agreement=agreement, cases=cases, lesions=lesions, width=width,
        margin=margin, bland_altman_methods=bland_altman_methods, illustrations=illustrations,
        strata=strata,
    )  # fmt: skip
    return {name: draw() for name, draw in plan.items()}


def plan_figures(
    measurements: pd.DataFrame,
    *,
    agreement: pd.DataFrame | None = None,
    cases: pd.DataFrame | None = None,
    lesions: pd.DataFrame | None = None,
    width: str | float = "double",
    margin: float | None = None,
    bland_altman_methods: list[str] | None = None,
    illustrations: bool = False,
    strata: Mapping[str, pd.DataFrame] | None = None,
) -> dict[str, Callable[[], Figure]]:
    """The figures :func:`render_all` would draw, by name, each as a call that draws it.

    Lets a caller draw figures one at a time or in other processes (the report does, with
    ``-j N``). Arguments as :func:`render_all`.

    Examples
    --------
    >>> import pandas as pd
    >>> m = pd.DataFrame({"case_id": ["a", "b"], "method": "x", "metric": "tmtv",
    ...                   "reference": [1.0, 2.0], "predicted": [1.1, 2.2]})
    >>> a = pd.DataFrame({"method": ["x"], "metric": ["tmtv"], "ccc": [0.9], "ba_bias": [0.15]})
    >>> plan = plan_figures(m, agreement=a)
    >>> list(plan), type(plan["ccc_radar"]()).__name__
    (['ccc_radar', 'bland_altman_modified', 'bland_altman_x'], 'Figure')
    """
    if agreement is None:
        from agreement import agreement_table

        agreement = agreement_table(measurements)
    if margin is None:
        from agreement.options import StatsOptions

        margin = StatsOptions().margin
    plan: dict[str, Callable[[], Figure]] = {}
    if _has(agreement, "method", "metric", "ccc"):
        plan["ccc_radar"] = partial(ccc_radar, agreement, width=width)
    if _has(agreement, "method", "metric", "ccc", "ccc_ci_low", "ccc_ci_high"):
        plan["ccc_intervals"] = partial(ccc_intervals, agreement, width=width)
    tost = ("tost_ci_low", "tost_ci_high", "tost_lower", "tost_upper", "equivalent")
    if _has(agreement, "method", "metric", *tost):
        plan["tost_forest"] = partial(tost_forest, agreement, width=width)
    if _has(measurements, "case_id", "method", "metric", "reference", "predicted"):
        plan["bland_altman_modified"] = partial(
            modified_bland_altman, measurements, agreement, margin=margin, width=width
        )
    if _has(agreement, "method", "metric", "cp", "cp_ci_low", "cp_ci_high", "tdi"):
        plan["coverage_tdi"] = partial(coverage_tdi, agreement, width=width)
    if _has(agreement, "method", "metric", "ba_bias") and _has(
        measurements, "reference", "predicted"
    ):
        methods = pd.unique(measurements["method"])
        if bland_altman_methods is not None:
            methods = [m for m in methods if m in set(bland_altman_methods)]
        for method in methods:
            plan[f"bland_altman_{safe_name(method)}"] = partial(
                bland_altman_plot, measurements, agreement, method=method, width=width
            )
    if _has(cases, "method", "dsc"):
        plan.update(_case_figures(measurements, cases, lesions, width, strata or {}))
    if illustrations:
        plan["l1_weighting"] = partial(l1_weighting, width=width)
        plan["loss_curves"] = partial(loss_curve_plot, width="single" if width == "single" else 3.5)
    return plan


def _case_figures(
    measurements: pd.DataFrame,
    cases: pd.DataFrame,
    lesions: pd.DataFrame | None,
    width: str | float,
    strata: Mapping[str, pd.DataFrame],
) -> dict[str, Callable[[], Figure]]:
    from agreement.summary import dsc_by_dmax_quartile, dsc_by_tmtv_threshold

    plan: dict[str, Callable[[], Figure]] = {}
    has_scenario = "scenario" in cases.columns or "n_reference_lesions" in cases.columns
    if has_scenario:
        plan["dsc_scenarios"] = partial(dsc_scenarios, cases, width=width)
    if _has(cases, "fpv", "fnv"):
        plan["dsc_distributions"] = partial(distributions, cases, width=width)
    metrics = set(measurements["metric"]) if "metric" in measurements.columns else set()
    if has_scenario and "case_id" in cases.columns and "tmtv" in metrics:
        given = strata.get("dsc_by_tmtv")
        if given is not None and "level" in given.columns:
            patient = given[given["level"] == "patient"].drop(columns="level")
            lesion = given[given["level"] == "lesion"].drop(columns="level")
            lesion = None if lesion.empty else lesion
        else:
            patient = dsc_by_tmtv_threshold(cases, measurements, level="patient")
            lesion = None
            if _has(lesions, "case_id", "method", "side", "lesion_id", "volume", "lesion_dsc"):
                lesion = dsc_by_tmtv_threshold(cases, measurements, level="lesion", lesions=lesions)
        plan["dsc_tmtv_thresholds"] = partial(dsc_tmtv_thresholds, patient, lesion, width=width)
    if has_scenario and "case_id" in cases.columns and "dmax" in metrics:
        table = strata.get("dsc_by_dmax")
        if table is None:
            table = dsc_by_dmax_quartile(cases, measurements)
        if not table.empty:
            plan["dsc_dmax_quartiles"] = partial(dsc_dmax_quartiles, table, width=width)
    return plan
