"""Render the report context into one self-contained ``index.html`` (jinja2, autoescape on).

Everything that reaches the page goes through the template's autoescaping: case ids, method
names and file names from the user's file system are never trusted. Figures are embedded as
PNG ``data:`` URIs and the one script is inline, so the page fetches nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from agreement.format import interval as fmt_ci
from agreement.format import number as fmt
from agreement.format import p_value as fmt_p


@dataclass(frozen=True)
class Cell:
    """A table cell with more than text: an interval under the value, a sort key, a link.

    ``sort`` orders the column when a reader clicks its header (the text otherwise); ``href``
    is an in-page anchor (``#...``); ``cls`` adds CSS classes; ``title`` is the hover text.
    """

    text: str
    sub: str = ""
    sort: float | None = None
    href: str = ""
    cls: str = ""
    title: str = ""


@dataclass(frozen=True)
class HtmlTable:
    """A table ready for the template: header, formatted cells, numeric-column flags."""

    columns: list[str]
    rows: list[list[str | Cell]]
    numeric: list[bool] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.rows)


def cell(
    value: Any, low: Any = None, high: Any = None, *, integer: bool = False, **kw: Any
) -> Cell:
    """A numeric :class:`Cell`: the value formatted, its interval under it, sorted by value.

    ``integer`` prints a whole number without decimals (counts such as lesions).

    Examples
    --------
    >>> c = cell(0.98765, 0.95, 0.99)
    >>> c.text, c.sub, round(c.sort, 4)
    ('0.988', '[0.950, 0.990]', 0.9877)
    >>> cell(float("nan")).sort is None, cell(3.0, integer=True).text
    (True, '3')
    """
    number = pd.to_numeric(value, errors="coerce") if value is not None else np.nan
    sort = float(number) if pd.notna(number) and np.isfinite(float(number)) else None
    sub = fmt_ci(low, high) if low is not None or high is not None else ""
    whole = integer and sort is not None and float(sort).is_integer()
    return Cell(fmt(int(sort)) if whole else fmt(value), "" if sub == "—" else sub, sort, **kw)


def frame_table(
    df: pd.DataFrame | None, *, labels: Mapping[str, str] | None = None, max_rows: int = 2000
) -> HtmlTable:
    """Turn any DataFrame into an :class:`HtmlTable` (cells formatted with :func:`fmt`).

    Examples
    --------
    >>> t = frame_table(pd.DataFrame({"method": ["a"], "dsc": [0.5]}))
    >>> t.columns, t.rows, t.numeric
    (['method', 'dsc'], [['a', '0.500']], [False, True])
    """
    if df is None or len(df) == 0:
        return HtmlTable([], [], [])
    df = df.head(max_rows)
    labels = labels or {}
    columns = [labels.get(str(c), str(c)) for c in df.columns]
    numeric = [
        pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])
        for c in df.columns
    ]
    rows = [[fmt(v) for v in row] for row in df.itertuples(index=False, name=None)]
    return HtmlTable(columns, rows, numeric)


def environment() -> jinja2.Environment:
    """The jinja2 environment of the report: package templates, autoescape always on."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("agreement.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = fmt
    env.filters["fmt_p"] = fmt_p
    env.tests["cell"] = lambda value: isinstance(value, Cell)
    return env


def render_html(context: Mapping[str, Any], *, template: str = "report.html.j2") -> str:
    """Render the report template with ``context``; every value is HTML-escaped.

    Examples
    --------
    >>> ctx = minimal_context()
    >>> ctx["summary"]["methods"] = ["<script>alert(1)</script>"]
    >>> html = render_html(ctx)
    >>> "<script>alert(1)" in html, "&lt;script&gt;alert(1)" in html
    (False, True)
    """
    return environment().get_template(template).render(**context)


def minimal_context() -> dict[str, Any]:
    """The smallest context the template accepts (used by examples and tests)."""
    empty = HtmlTable([], [], [])
    return {
        "title": "Agreement report",
        "alpha": 0.05,
        "created": "",
        "version": "",
        "summary": {
            "n_cases": 0,
            "n_methods": 0,
            "methods": [],
            "metrics": [],
            "layout": "",
            "source": "",
            "n_failed": 0,
            "n_missing": 0,
            "n_skipped": 0,
        },
        "case_counts": empty,
        "failed": empty,
        "missing": empty,
        "skipped": empty,
        "banner": "",
        "notes": [],
        "verdicts": [],
        "verdict_rule": "",
        "n_outliers": 0,
        "cases_detail": [],
        "citation": "",
        "metric_sections": [],
        "overview": empty,
        "figures": [],
        "detection": empty,
        "detection_note": "",
        "overlap": empty,
        "lesion_summary": empty,
        "lesion_note": "",
        "stratified": [],
        "stratified_note": "",
        "comparison": {"best": "", "rule": "", "table": empty, "note": "", "stat": "ccc"},
        "definitions": [],
        "parameters": empty,
        "references": [],
        "about": {"versions": empty, "command": "", "time": "", "inputs": empty, "timings": empty},
    }


def strength_class(label: Any) -> str:
    """CSS class of a McBride strength label (``poor`` … ``almost perfect``).

    Examples
    --------
    >>> strength_class("almost perfect"), strength_class("poor"), strength_class(None)
    ('s-best', 's-poor', '')
    """
    text = str(label).lower() if isinstance(label, str) else ""
    return {
        "almost perfect": "s-best",
        "substantial": "s-good",
        "moderate": "s-mid",
        "poor": "s-poor",
    }.get(text, "")


def join_nonempty(parts: Sequence[str], sep: str = "; ") -> str:
    """Join the non-empty strings of ``parts``.

    Examples
    --------
    >>> join_nonempty(["a", "", "b"])
    'a; b'
    """
    return sep.join(p for p in parts if p)
