"""Numbers as text: the one formatter of the HTML page, Markdown, the plain text and Table I.

``number`` chooses a precision that suits the size of the value; ``p_value``, ``interval``,
``percent`` and ``mean_sd``/``median_iqr`` build on it. :func:`table_i_cells` formats one row
of Table I (``agreement.summary.detection_table``) for the page and for the figures package's
CSV/LaTeX/HTML Table I. ``significant`` is the compact form of the results' ``repr``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

#: Shown for a missing or undefined number.
MISSING = "—"


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(np.isnan(value))
    except TypeError:
        return False


def number(value: Any, digits: int = 3) -> str:
    """A number with a precision that suits its size; NaN as an em dash.

    Examples
    --------
    >>> [number(0.98765), number(12.3456), number(1234.5), number(float("nan")), number(3)]
    ['0.988', '12.35', '1,234', '—', '3']
    >>> number(True), number(0.00001234), number(-float("inf"))
    ('yes', '1.23e-05', '−∞')
    """
    if value is None:
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        x = float(value)
        if math.isnan(x):
            return MISSING
        if math.isinf(x):
            return "∞" if x > 0 else "−∞"
        ax = abs(x)
        if ax >= 1000:
            return f"{x:,.0f}"
        if ax >= 100:
            return f"{x:.1f}"
        if ax >= 1:
            return f"{x:.2f}"
        if ax == 0:
            return "0"
        if ax < 10 ** (-digits):
            return f"{x:.2e}"
        return f"{x:.{digits}f}"
    if isinstance(value, str):
        return value
    if _missing(value):
        return MISSING
    return str(value)


def fixed(value: Any, digits: int = 2) -> str:
    """A number with ``digits`` decimals (as a paper's table prints it); NaN as an em dash.

    Examples
    --------
    >>> fixed(0.6), fixed(float("nan")), fixed(1.005, 1)
    ('0.60', '—', '1.0')
    """
    return MISSING if _missing(value) else f"{float(value):.{digits}f}"


def p_value(p: Any) -> str:
    """A p value (``<0.001`` below one in a thousand).

    Examples
    --------
    >>> p_value(0.00001), p_value(0.0423), p_value(float("nan"))
    ('<0.001', '0.042', '—')
    """
    if _missing(p):
        return MISSING
    return "<0.001" if float(p) < 0.001 else f"{float(p):.3f}"


def interval(low: Any, high: Any, fmt: Callable[[Any], str] = number) -> str:
    """``[low, high]``, or an em dash when both ends are missing.

    Examples
    --------
    >>> interval(0.81234, 0.95), interval(float("nan"), float("nan"))
    ('[0.812, 0.950]', '—')
    """
    if _missing(low) and _missing(high):
        return MISSING
    return f"[{fmt(low)}, {fmt(high)}]"


def percent(x: float) -> str:
    """A fraction as a percentage without trailing zeros.

    Examples
    --------
    >>> percent(0.05), percent(0.2), percent(0.925)
    ('5%', '20%', '92.5%')
    """
    return f"{100 * x:.4g}%"


def significant(value: Any, digits: int = 3) -> str:
    """``digits`` significant digits, NaN as ``nan``: the compact form of a result's ``repr``.

    Examples
    --------
    >>> significant(0.97912), significant(float("nan")), significant(1234.5, 2)
    ('0.979', 'nan', '1.2e+03')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    return f"{value:.{digits}g}"


def short(x: float) -> str:
    """At most two significant digits, no exponent for the sizes PET metrics take (verdicts).

    Examples
    --------
    >>> short(0.9512), short(12.34), short(1234.5), short(0.0004)
    ('0.95', '12', '1,234', '4.0e-04')
    """
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.2g}" if abs(x) >= 0.001 else f"{x:.1e}"


def mean_sd(mean: Any, sd: Any, fmt: Callable[[Any], str] = number, sep: str = " ± ") -> str:
    """``mean ± SD`` (the mean alone when the SD is undefined).

    Examples
    --------
    >>> mean_sd(0.5, 0.1), mean_sd(0.5, float("nan")), mean_sd(float("nan"), 0.1)
    ('0.500 ± 0.100', '0.500', '—')
    """
    if _missing(mean):
        return MISSING
    return fmt(mean) + ("" if _missing(sd) else f"{sep}{fmt(sd)}")


def median_iqr(median: Any, q1: Any, q3: Any, fmt: Callable[[Any], str] = number) -> str:
    """``median [Q1, Q3]``.

    Examples
    --------
    >>> median_iqr(0.6, 0.55, 0.65, fixed)
    '0.60 [0.55, 0.65]'
    """
    return MISSING if _missing(median) else f"{fmt(median)} {interval(q1, q3, fmt)}"


#: Table I of paper 000: display column → (statistic, column stem of ``detection_table``).
TABLE_I = {
    "Mean DSC": ("mean_sd", "dsc"),
    "Median DSC": ("median_iqr", "dsc"),
    "Mean TP": ("mean_sd", "tp_rate"),
    "Mean FP": ("mean_sd", "fp"),
    "Mean FN": ("mean_sd", "fn_rate"),
    "Mean F1": ("mean_sd", "f1"),
}


def table_i_cells(
    row: Mapping[str, Any], *, digits: int | None = None, sep: str = " ± "
) -> list[str]:
    """The cells of :data:`TABLE_I` for one row of ``detection_table``.

    ``digits=None`` sizes the precision to each value (:func:`number`); an integer prints that
    many decimals, as the paper does.

    Examples
    --------
    >>> row = {"dsc_mean": 0.6, "dsc_sd": 0.14, "dsc_median": 0.6, "dsc_q1": 0.55,
    ...        "dsc_q3": 0.65, "tp_rate_mean": 1.0, "tp_rate_sd": 0.0, "fp_mean": 1.0,
    ...        "fp_sd": 1.41, "fn_rate_mean": 0.25, "fn_rate_sd": 0.35, "f1_mean": 0.58,
    ...        "f1_sd": 0.12}
    >>> table_i_cells(row, digits=2)[:2]
    ['0.60 ± 0.14', '0.60 [0.55, 0.65]']
    >>> table_i_cells(row)[0]
    '0.600 ± 0.140'
    """

    def fmt(value: Any) -> str:
        return number(value) if digits is None else fixed(value, digits)

    cells = []
    for kind, stem in TABLE_I.values():
        if kind == "mean_sd":
            cells.append(mean_sd(row[f"{stem}_mean"], row[f"{stem}_sd"], fmt, sep))
        else:
            cells.append(median_iqr(row[f"{stem}_median"], row[f"{stem}_q1"], row[f"{stem}_q3"], fmt))
    return cells


__all__ = [
    "MISSING",
    "TABLE_I",
    "fixed",
    "interval",
    "mean_sd",
    "median_iqr",
    "number",
    "p_value",
    "percent",
    "short",
    "significant",
    "table_i_cells",
]
