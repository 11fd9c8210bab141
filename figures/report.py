"""The report's figures: draw every figure an :class:`~agreement.analysis.Analysis` allows, once.

:func:`draw_report_figures` is the figure drawer the ``agree`` CLI hands to
:func:`agreement.write_report`: it saves each figure (PNG for the page, plus the vector formats
asked for) and returns the files by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agreement.analysis import Analysis

#: Resolution of the PNGs embedded in the page (the 7.2 in figures span about 1440 px).
PAGE_DPI = 200
#: Drawn first when figures are drawn in parallel (the slowest first keeps the workers busy).
_SLOW_FIRST = ("coverage_tdi", "bland_altman_modified", "tost_forest", "dsc_tmtv_thresholds")


def _plan_kwargs(analysis: Analysis, width: str) -> dict[str, Any]:
    best = analysis.best_method
    # One classic Bland-Altman plot (the best method's); the grid shows every method.
    return {
        "agreement": analysis.agreement, "cases": analysis.cases, "lesions": analysis.lesions,
        "width": width, "margin": analysis.options.margin,
        "bland_altman_methods": [best] if best else [], "strata": analysis.strata,
    }  # fmt: skip


def _draw_one(
    name: str, measurements: Any, plan_kwargs: dict[str, Any], stem: Path, formats: Sequence[str]
) -> list[Path]:
    """Draw one figure of the plan and save it (runs in a worker with ``workers > 1``)."""
    from figures.render import plan_figures
    from figures.style import save_figure

    fig = plan_figures(measurements, **plan_kwargs)[name]()
    return save_figure(fig, stem, formats=tuple(formats), dpi=PAGE_DPI)


def draw_report_figures(
    analysis: Analysis,
    folder: Path,
    *,
    width: str = "double",
    formats: Sequence[str] = ("png",),
    workers: int = 1,
) -> dict[str, list[Path]]:
    """Save every figure of ``analysis`` under ``folder``; return the files by figure name.

    PNG at :data:`PAGE_DPI` comes first (the report embeds it), then the other ``formats``.
    With ``workers > 1`` the figures are drawn in that many processes (joblib).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> from agreement import analyse
    >>> m = pd.DataFrame({"case_id": list("abcd"), "method": "x", "metric": "tmtv",
    ...                   "reference": [1.0, 2.0, 3.0, 4.0], "predicted": [1.1, 2.1, 2.8, 4.2]})
    >>> files = draw_report_figures(analyse(m), pathlib.Path(tempfile.mkdtemp()))
    >>> files["ccc_radar"][0].name
    'ccc_radar.png'
    """
    from figures.render import plan_figures

    kwargs = _plan_kwargs(analysis, width)
    plan = plan_figures(analysis.measurements, **kwargs)
    names = list(plan)
    wanted = ("png", *[f for f in formats if f != "png"])
    folder.mkdir(exist_ok=True)
    stems = {n: folder / "".join(c if c.isalnum() or c in "-_" else "_" for c in n) for n in names}
    order = [n for n in _SLOW_FIRST if n in names] + [n for n in names if n not in _SLOW_FIRST]
    m = analysis.measurements
    if workers > 1 and len(names) > 1:
        from joblib import Parallel, delayed

        drawn = Parallel(n_jobs=min(workers, len(names)))(
            delayed(_draw_one)(n, m, kwargs, stems[n], wanted) for n in order
        )
        paths = dict(zip(order, drawn, strict=True))
    else:
        from figures.style import save_figure

        # One process: draw from the plan above (workers rebuild it from picklable arguments).
        paths = {n: save_figure(plan[n](), stems[n], formats=wanted, dpi=PAGE_DPI) for n in names}
    return {n: paths[n] for n in names}
