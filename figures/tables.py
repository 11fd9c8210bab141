"""Table I of paper 000 (DSC and detection per network × loss) as CSV, LaTeX and HTML."""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from agreement.atomic import atomic_path
from agreement.format import TABLE_I, table_i_cells
from agreement.summary import detection_table

COLUMNS = ["Model", *TABLE_I]


def table_i(cases: pd.DataFrame, *, digits: int = 2, pm: str = " ± ") -> pd.DataFrame:
    """Table I as display strings: one row per method, grouped by network.

    ``Model`` is the loss when methods are ``network/loss`` (the network is in the
    ``Network`` column), else the method. Values come from
    :func:`agreement.summary.detection_table`: mean ± SD for DSC, TP rate, FP count, FN rate
    and F1, and median [Q1, Q3] for DSC.

    Examples
    --------
    >>> import pandas as pd
    >>> cases = pd.DataFrame({"method": "unet/dice", "dsc": [0.5, 0.7], "tp": [1, 1],
    ...                       "fp": [0, 2], "fn": [1, 0], "f1": [2 / 3, 0.5]})
    >>> table_i(cases).iloc[0].tolist()
    ['unet', 'dice', '0.60 ± 0.14', '0.60 [0.55, 0.65]', '0.75 ± 0.35', '1.00 ± 1.41', '0.25 ± 0.35', '0.58 ± 0.12']
    """
    numbers = detection_table(cases)
    rows = []
    for _, r in numbers.iterrows():
        named = isinstance(r["network"], str) and isinstance(r["loss"], str)
        cells = dict(zip(TABLE_I, table_i_cells(r, digits=digits, sep=pm), strict=True))
        rows.append(
            {
                "Network": r["network"] if named else "",
                "Model": r["loss"] if named else r["method"],
                **cells,
            }
        )
    out = pd.DataFrame(rows, columns=["Network", *COLUMNS])
    order = list(pd.unique(out["Network"]))
    out["_order"] = out["Network"].map({n: i for i, n in enumerate(order)})
    return out.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)


def table_i_csv(cases: pd.DataFrame) -> str:
    """Table I as CSV text with the numbers (not strings) of ``detection_table``.

    Examples
    --------
    >>> import pandas as pd
    >>> cases = pd.DataFrame({"method": "m", "dsc": [0.5], "tp": [1], "fp": [0], "fn": [0], "f1": [1.0]})
    >>> table_i_csv(cases).splitlines()[0].split(",")[:5]
    ['method', 'network', 'loss', 'n', 'dsc_mean']
    """
    from agreement.tables import spreadsheet_safe

    return spreadsheet_safe(detection_table(cases)).to_csv(index=False)


def _latex_escape(text: str) -> str:
    for a, b in (
        ("\\", r"\textbackslash{}"),
        ("&", r"\&"),
        ("%", r"\%"),
        ("_", r"\_"),
        ("#", r"\#"),
        ("$", r"\$"),
    ):
        text = text.replace(a, b)
    return text


def table_i_latex(cases: pd.DataFrame, *, digits: int = 2) -> str:
    """Table I as a booktabs LaTeX ``tabular`` with a spanning row per network.

    Examples
    --------
    >>> import pandas as pd
    >>> cases = pd.DataFrame({"method": "unet/dice", "dsc": [0.5, 0.7], "tp": [1, 1],
    ...                       "fp": [0, 2], "fn": [1, 0], "f1": [2 / 3, 0.5]})
    >>> print(table_i_latex(cases).splitlines()[5])
    dice & 0.60 $\\pm$ 0.14 & 0.60 [0.55, 0.65] & 0.75 $\\pm$ 0.35 & 1.00 $\\pm$ 1.41 & 0.25 $\\pm$ 0.35 & 0.58 $\\pm$ 0.12 \\\\
    """
    table = table_i(cases, digits=digits, pm=" $\\pm$ ")
    lines = [
        r"\begin{tabular}{l" + "c" * (len(COLUMNS) - 1) + "}",
        r"\toprule",
        " & ".join(COLUMNS) + r" \\",
        r"\midrule",
    ]
    for network, group in table.groupby("Network", sort=False):
        if network:
            lines.append(rf"\multicolumn{{{len(COLUMNS)}}}{{c}}{{{_latex_escape(network)}}} \\")
        for _, r in group.iterrows():
            cells = [_latex_escape(str(r["Model"]))] + [str(r[c]) for c in COLUMNS[1:]]
            lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)


def table_i_html(cases: pd.DataFrame, *, digits: int = 2) -> str:
    """Table I as an HTML ``<table>`` (class ``table-i``) with a header row per network.

    Examples
    --------
    >>> import pandas as pd
    >>> cases = pd.DataFrame({"method": "unet/dice", "dsc": [0.5], "tp": [1], "fp": [0],
    ...                       "fn": [0], "f1": [1.0]})
    >>> "<th colspan=\\"7\\">unet</th>" in table_i_html(cases)
    True
    """
    table = table_i(cases, digits=digits)
    out = [
        '<table class="table-i">',
        "<thead><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS) + "</tr></thead>",
        "<tbody>",
    ]
    for network, group in table.groupby("Network", sort=False):
        if network:
            out.append(f'<tr><th colspan="{len(COLUMNS)}">{html.escape(str(network))}</th></tr>')
        for _, r in group.iterrows():
            out.append(
                "<tr>" + "".join(f"<td>{html.escape(str(r[c]))}</td>" for c in COLUMNS) + "</tr>"
            )
    out += ["</tbody>", "</table>", ""]
    return "\n".join(out)


def write_table_i(
    cases: pd.DataFrame,
    stem: str | os.PathLike[str],
    formats: Sequence[str] = ("csv", "tex", "html"),
) -> list[Path]:
    """Write Table I as ``stem.csv`` (numbers), ``stem.tex`` and ``stem.html`` (atomically).

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> cases = pd.DataFrame({"method": "m", "dsc": [0.5], "tp": [1], "fp": [0], "fn": [0], "f1": [1.0]})
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "table_i"
    >>> [p.name for p in write_table_i(cases, out)]
    ['table_i.csv', 'table_i.tex', 'table_i.html']
    """
    writers = {"csv": table_i_csv, "tex": table_i_latex, "html": table_i_html}
    stem = Path(stem)
    written = []
    for fmt in formats:
        if fmt not in writers:
            raise ValueError(f"unknown table format {fmt!r}; use csv, tex or html")
        path = stem.with_name(f"{stem.name}.{fmt}")
        with atomic_path(path) as tmp:
            tmp.write_text(writers[fmt](cases), encoding="utf-8")
        written.append(path)
    return written
