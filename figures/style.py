"""House style: colours, widths, labels, and saving figures atomically.

One colour per loss (or per method when methods are not named ``network/loss``), from the
Okabe-Ito palette (colour-blind safe) and, beyond eight, Paul Tol's *muted* and *light*
palettes. Widths follow journal columns: single 3.5 in (88 mm), double 7.2 in (183 mm).
Figures carry no titles: captions belong to the paper or report.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import matplotlib as mpl
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine

from agreement.atomic import atomic_path
from agreement.tables import CANONICAL_UNITS, METRICS
from agreement.tables import METRIC_LABELS as _LABELS
from figures.layout import FITTED

# Okabe-Ito, with the yellow moved back (hard to read as text or thin lines on white).
OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#F0E442", "#000000"]
TOL_MUTED = [
    "#332288",
    "#88CCEE",
    "#44AA99",
    "#117733",
    "#999933",
    "#DDCC77",
    "#CC6677",
    "#882255",
    "#AA4499",
]
TOL_LIGHT = [
    "#77AADD",
    "#99DDFF",
    "#44BB99",
    "#BBCC33",
    "#AAAA00",
    "#EEDD88",
    "#EE8866",
    "#FFAABB",
    "#DDDDDD",
]
PALETTE = OKABE_ITO + TOL_MUTED + TOL_LIGHT

EQUIVALENT_COLOR = "#009E73"  # Okabe-Ito bluish green
NOT_EQUIVALENT_COLOR = "#D55E00"  # Okabe-Ito vermillion
UNDEFINED_COLOR = "#999999"
LINE_COLOR = "#000000"

WIDTHS = {"single": 3.5, "double": 7.2}

METRIC_LABELS = {**_LABELS, "dsc": "DSC", "fpv": "FPV", "fnv": "FNV"}
METRIC_UNITS = {**CANONICAL_UNITS, "fpv": "ml", "fnv": "ml"}
METRIC_ORDER = list(METRICS)
FORMATS = ("pdf", "svg", "png")

RC = {
    "font.size": 7,
    "axes.labelsize": 7,
    "axes.titlesize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "axes.linewidth": 0.6,
    "lines.linewidth": 1.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "pdf.fonttype": 42,
    "svg.fonttype": "none",
}


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Apply the house rcParams for the duration of the block (no global change).

    Examples
    --------
    >>> import matplotlib as mpl
    >>> with style():
    ...     mpl.rcParams["pdf.fonttype"]
    42
    """
    with mpl.rc_context(RC):
        yield


def figure_width(width: str | float) -> float:
    """Width in inches: ``"single"`` (3.5), ``"double"`` (7.2) or a positive number.

    Examples
    --------
    >>> figure_width("single")
    3.5
    """
    if isinstance(width, str):
        if width not in WIDTHS:
            raise ValueError(f"width must be 'single', 'double' or inches, got {width!r}")
        return WIDTHS[width]
    if not width > 0:
        raise ValueError(f"width must be positive, got {width!r}")
    return float(width)


def new_figure(width: str | float, height: float) -> Figure:
    """A pyplot-free Figure (constrained layout) of the given width and height in inches.

    Examples
    --------
    >>> new_figure("single", 2.0).get_size_inches().tolist()
    [3.5, 2.0]
    """
    return Figure(figsize=(figure_width(width), height), layout="constrained")


def colors(names: Sequence[str]) -> dict[str, str]:
    """One colour per name, in order (Okabe-Ito first, then Tol muted and light; cycles after 26).

    Examples
    --------
    >>> colors(["dice", "l1dfl"])
    {'dice': '#E69F00', 'l1dfl': '#56B4E9'}
    """
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def equivalence_color(equivalent: object) -> str:
    """Green for an equivalent TOST result, red (vermillion) for not, grey when undefined.

    Examples
    --------
    >>> equivalence_color(True), equivalence_color(False), equivalence_color(float("nan"))
    ('#009E73', '#D55E00', '#999999')
    """
    if isinstance(equivalent, str):
        equivalent = {"true": 1.0, "false": 0.0}.get(equivalent.strip().lower())
    try:
        value = float(equivalent)  # bool, numpy bool, 0/1
    except (TypeError, ValueError):
        return UNDEFINED_COLOR
    if value == 1:
        return EQUIVALENT_COLOR
    if value == 0:
        return NOT_EQUIVALENT_COLOR
    return UNDEFINED_COLOR


def metric_label(metric: str, unit: object = None) -> str:
    """Display label of a metric, with its unit in parentheses when known.

    Examples
    --------
    >>> metric_label("suv_max"), metric_label("tmtv", "ml"), metric_label("custom")
    ('SUVmax', 'TMTV (ml)', 'custom')
    """
    label = METRIC_LABELS.get(metric, metric)
    if isinstance(unit, str) and unit and unit != "count":
        return f"{label} ({unit})"
    return label


def stat_label(column: str, *, full: bool = False) -> str:
    """Display label of an agreement-table column, from the statistics registry.

    ``full=True`` gives the statistic's name instead (``"Coverage probability"``), so a
    statistic added to :data:`agreement.stats.STATISTICS` is labelled the same everywhere.

    Examples
    --------
    >>> stat_label("ccc"), stat_label("tdi"), stat_label("cp", full=True)
    ('CCC', 'TDI', 'Coverage probability')
    """
    from agreement.stats.registry import STATISTICS

    for statistic in STATISTICS.values():
        if column in statistic.columns or column in statistic.labels:
            return statistic.label if full else statistic.labels.get(column, column)
    raise KeyError(f"{column!r} is not a column of any registered statistic")


def _save_png(fig: Figure, path: Path, dpi: int) -> None:
    """Render with Agg and write an opaque PNG (RGB, zlib level 3).

    matplotlib writes RGBA at zlib level 6; on these white figures the alpha channel is
    constant, and RGB at level 3 encodes about 2.5 times faster into a file of the same size.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    canvas = fig.canvas
    original = fig.dpi
    try:
        fig.dpi = dpi
        agg = FigureCanvasAgg(fig)
        agg.draw()
        image = Image.frombuffer(
            "RGBA", agg.get_width_height(), agg.buffer_rgba(), "raw", "RGBA", 0, 1
        )
        image.convert("RGB").save(path, format="png", compress_level=3, dpi=(dpi, dpi))
    finally:
        fig.dpi = original
        fig.set_canvas(canvas)


def save_figure(
    fig: Figure,
    stem: str | os.PathLike[str],
    formats: Sequence[str] = FORMATS,
    dpi: int = 300,
) -> list[Path]:
    """Write ``fig`` as ``stem.pdf``, ``stem.svg`` and ``stem.png`` (each atomically).

    PDF fonts are TrueType (type 42) and SVG text stays text, so labels remain editable;
    PNG is written at ``dpi`` (300 by default, the journals' minimum for halftones).
    Figures laid out by :func:`figures.layout.fit` (the grids of :mod:`figures`) are saved
    as they are, in one drawing pass; figures with constrained layout as laid out, the
    layout solved once for all formats; others with ``bbox_inches="tight"``.

    Returns
    -------
    list of Path
        The files written, in the order of ``formats``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> fig = new_figure("single", 1.0)
    >>> _ = fig.add_subplot().plot([0, 1], [0, 1])
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "line"
    >>> [p.name for p in save_figure(fig, out, formats=("png",), dpi=50)]
    ['line.png']
    """
    stem = Path(stem)
    names = [fmt.lower().lstrip(".") for fmt in formats]
    for fmt in names:
        if fmt not in ("pdf", "svg", "png", "eps", "tiff", "jpg"):
            raise ValueError(f"unknown figure format {fmt!r}; use pdf, svg or png")
    engine = fig.get_layout_engine()
    constrained = isinstance(engine, ConstrainedLayoutEngine)
    bbox = None if constrained or fig in FITTED else "tight"
    written = []
    try:
        for fmt in names:
            path = stem.with_name(f"{stem.name}.{fmt}")
            with style(), atomic_path(path) as tmp:
                if fmt == "png" and bbox is None:
                    _save_png(fig, tmp, dpi)
                else:
                    fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches=bbox)
            written.append(path)
            if constrained:  # the layout is solved once; later formats reuse it (one draw less)
                fig.set_layout_engine(None)
    finally:
        if constrained:
            fig.set_layout_engine(engine)
    return written
