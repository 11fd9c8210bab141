"""Tidy tables: read, validate and write measurements and result tables.

CSV (``.csv``), TSV (``.tsv``, ``.tab``) or Parquet (``.parquet``, ``.pq``) by extension.
Writes are atomic (temporary file, then rename).
"""

from __future__ import annotations

import csv
import math
import os
import re
import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from agreement.atomic import atomic_path
from agreement.errors import InputError
from agreement.schemas import SCHEMAS, TableKind, schema

#: The columns a measurements table needs (the schema lives in :mod:`agreement.schemas`).
MEASUREMENT_COLUMNS = SCHEMAS["measurements"].required
OPTIONAL_COLUMNS = ("network", "loss", "fold", "unit")
KEY = ["case_id", "method", "metric"]
#: ``missing`` table (``missing.csv``), see :data:`agreement.schemas.SCHEMAS`.
MISSING_COLUMNS = list(SCHEMAS["missing"].columns)
MISSING_STATUSES = ("missing", "empty", "skipped")

METRICS: tuple[str, ...] = ("suv_max", "suv_mean", "tla", "tmtv", "lesion_count", "dmax")
"""The six clinical measures, in the papers' order."""
CANONICAL_UNITS: dict[str, str] = {
    "suv_max": "SUV",
    "suv_mean": "SUV",
    "tla": "SUV·ml",
    "tmtv": "ml",
    "lesion_count": "count",
    "dmax": "cm",
}
METRIC_LABELS: dict[str, str] = {
    "suv_max": "SUVmax",
    "suv_mean": "SUVmean",
    "tla": "TLA",
    "tmtv": "TMTV",
    "lesion_count": "Lesion count",
    "dmax": "Dmax",
}


class UnpairedWarning(UserWarning):
    """A case is measured for one method but not for another within a metric."""


def split_method(method: str) -> tuple[str | float, str | float]:
    """Split ``"network/loss"`` on the first ``/``; NaN parts when there is no ``/``.

    Examples
    --------
    >>> split_method("unet/l1dfl")
    ('unet', 'l1dfl')
    >>> split_method("ensemble")
    (nan, nan)
    """
    text = str(method)
    if "/" not in text:
        return math.nan, math.nan
    network, loss = text.split("/", 1)
    return network, loss


def table_format(path: str | os.PathLike[str]) -> str:
    """``"csv"``, ``"tsv"`` or ``"parquet"`` from the extension; InputError otherwise.

    Examples
    --------
    >>> table_format("out/agreement.tsv")
    'tsv'
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".tsv", ".tab"):
        return "tsv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    from agreement.measures.io import image_suffix  # here: measures imports this module

    if image_suffix(path) is not None:
        raise InputError(
            f"{path}: an image ({image_suffix(path)}), not a table; pass a measurements table "
            "(.csv, .tsv, .parquet), or give the folder of masks to agree measure/report with "
            "--reference and --pet"
        )
    raise InputError(f"{path}: unknown table extension {suffix!r}; use .csv, .tsv or .parquet")


def read_table(
    path: str | os.PathLike[str],
    *,
    kind: TableKind | None = None,
    dtype: dict[str, type] | None = None,
) -> pd.DataFrame:
    """Read a CSV, TSV or Parquet table (by extension), checked against its schema.

    Parameters
    ----------
    path : path-like
        ``.csv``, ``.tsv``/``.tab`` or ``.parquet``/``.pq``.
    kind : {"measurements", "cases", "lesions", "failed", "missing"}, optional
        Read the schema's text columns as text (case ids such as ``007`` stay text) and
        raise a one-line :class:`~agreement.errors.InputError` naming the file and the
        missing columns when the table lacks a required one (:mod:`agreement.schemas`).
        Without it the table is read as it is.
    dtype : dict, optional
        Passed to the CSV reader (e.g. ``{"case_id": str}``), after the schema's.

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.tsv"
    >>> write_table(pd.DataFrame({"a": [1, 2]}), p)
    >>> read_table(p)["a"].tolist()
    [1, 2]
    >>> read_table(p, kind="failed")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    agreement.errors.InputError: ...t.tsv: not a failed table, missing column(s) case_id
    """
    path = Path(path)
    if kind is not None:
        table_schema = schema(kind)
        dtype = {**table_schema.text_columns, **(dtype or {})}
        return table_schema.check(_read(path, dtype), str(path))
    return _read(path, dtype)


def _read(path: Path, dtype: dict[str, type] | None) -> pd.DataFrame:
    kind = table_format(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a table file")
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        if kind == "parquet":
            return pd.read_parquet(path)
        sep = "\t" if kind == "tsv" else ","
        _check_delimiter(path, sep)
        with warnings.catch_warnings():
            # index_col=False: a trailing delimiter must not shift every column by one;
            # a row with more values than the header has columns is an error, not data loss
            warnings.simplefilter("error", pd.errors.ParserWarning)
            table = pd.read_csv(path, sep=sep, dtype=dtype, index_col=False)
        return _unquote(table)
    except InputError:
        raise
    except (pd.errors.ParserWarning, pd.errors.ParserError) as exc:
        ragged = _ragged_line(path, "\t" if kind == "tsv" else ",")
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: cannot read table: {ragged or first}") from None
    except ImportError as exc:
        raise InputError(f"{path}: reading Parquet needs pyarrow ({exc})") from None
    except (pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: cannot read table: {first}") from None
    except ValueError as exc:  # pyarrow errors on a non-Parquet file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: cannot read table: {first}") from None


_DELIMITERS = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "vertical bars"}


def _header(path: Path) -> str:
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        for line in fh:
            if line.strip():
                return line
    return ""


def _check_delimiter(path: Path, sep: str) -> None:
    """InputError when the header is split by another delimiter than the extension says."""
    header = _header(path)
    if sep in header:
        return
    found = max(_DELIMITERS, key=header.count)
    if header.count(found) == 0:
        return  # one column: let the column checks name what is missing
    fix = (
        "save it comma-separated with '.' as the decimal mark"
        if sep == ","
        else "save it tab-separated, or as .csv if it is comma-separated"
    )
    raise InputError(
        f"{path}: columns are separated by {_DELIMITERS[found]} ({found!r}), not "
        f"{_DELIMITERS[sep]}; {fix}"
    )


def _ragged_line(path: Path, sep: str) -> str | None:
    """``line N has M values, the header K`` for the first row longer than the header."""
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as fh:
            reader = csv.reader(fh, delimiter=sep)
            width = None
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                n = len(row) - (row[-1] == "")  # a trailing delimiter adds no value
                if width is None:
                    width = n
                elif n > width:
                    digits = [cell.strip().lstrip("+-").isdigit() for cell in row]
                    split = any(a and b for a, b in zip(digits, digits[1:], strict=False))
                    decimal_comma = sep == "," and split and not any("." in c for c in row)
                    hint = " (decimal commas? write numbers with '.')" if decimal_comma else ""
                    return (
                        f"line {reader.line_num} has {n} values, the header {width} columns{hint}"
                    )
    except (OSError, csv.Error):
        return None
    return None


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|nan)", re.IGNORECASE)


def _formula_like(text: str) -> bool:
    """A cell a spreadsheet would run as a formula: starts with = + - @ tab or CR, not a number."""
    return text[:1] in _FORMULA_START and _NUMBER.fullmatch(text) is None


def spreadsheet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with text cells that a spreadsheet would run as formulas quoted with a ``'``.

    Text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (e.g. a method
    folder ``=HYPERLINK(...)``) gets a leading apostrophe, which spreadsheets show as text; text
    that already starts with apostrophes before such a character gets one more, so that
    :func:`read_table` restores every value exactly. Numbers, and text that is a plain number
    such as ``-1.5``, are left alone. :func:`write_table` applies this to CSV and TSV.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"method": ["=1+2", "-unet", "unet"], "x": [-1.5, 2.0, 3.0]})
    >>> spreadsheet_safe(df).to_dict("list")
    {'method': ["'=1+2", "'-unet", 'unet'], 'x': [-1.5, 2.0, 3.0]}
    """

    def quote(value: object) -> object:
        if isinstance(value, str) and _formula_like(value.lstrip("'")):
            return "'" + value
        return value

    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col].dtype):
            out[col] = out[col].map(quote, na_action="ignore")
    return out


def _unquote(df: pd.DataFrame) -> pd.DataFrame:
    """Undo :func:`spreadsheet_safe` on a table read from CSV or TSV."""

    def unquote(value: object) -> object:
        if isinstance(value, str) and value[:1] == "'" and _formula_like(value[1:].lstrip("'")):
            return value[1:]
        return value

    for col in df.columns:
        if df[col].dtype == object or pd.api.types.is_string_dtype(df[col].dtype):
            df[col] = df[col].map(unquote, na_action="ignore")
    return df


def write_table(df: pd.DataFrame, path: str | os.PathLike[str], *, overwrite: bool = True) -> None:
    """Write ``df`` as CSV, TSV or Parquet (by extension), atomically, without the index.

    CSV and TSV cells that a spreadsheet would run as formulas are quoted
    (:func:`spreadsheet_safe`). ``overwrite=False`` refuses a ``path`` that exists by the time
    the file is complete (another run wrote it meanwhile).

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> write_table(pd.DataFrame({"a": [1.5], "b": ["=cmd"]}), p)
    >>> p.read_text().splitlines()
    ['a,b', "1.5,'=cmd"]
    >>> read_table(p)["b"].tolist()
    ['=cmd']
    """
    path = Path(path)
    kind = table_format(path)
    with atomic_path(path, overwrite=overwrite) as tmp:
        if kind == "parquet":
            try:
                df.to_parquet(tmp, index=False)
            except ImportError as exc:
                raise InputError(f"{path}: writing Parquet needs pyarrow ({exc})") from None
        else:
            safe = spreadsheet_safe(df)
            texts = safe.select_dtypes(include=["object", "string"])
            has_cr = texts.apply(lambda c: c.astype(str).str.contains("\r", regex=False)).any(
                axis=None
            )
            # a carriage return inside a cell is not quoted by default and would split the row
            quoting = csv.QUOTE_NONNUMERIC if has_cr else csv.QUOTE_MINIMAL
            safe.to_csv(tmp, sep="\t" if kind == "tsv" else ",", index=False, quoting=quoting)


def _rows(mask: pd.Series, df: pd.DataFrame, limit: int = 5) -> str:
    """Describe offending rows as ``row 3 (case_id=c1)`` (data rows counted from 1)."""
    positions = [i for i, bad in enumerate(mask.to_numpy()) if bad]
    parts = [f"row {i + 1} (case_id={df['case_id'].iloc[i]})" for i in positions[:limit]]
    more = f" and {len(positions) - limit} more" if len(positions) > limit else ""
    return ", ".join(parts) + more


def validate_measurements(
    df: pd.DataFrame,
    source: str = "measurements",
    *,
    nan_policy: Literal["raise", "omit"] = "raise",
    check_pairing: bool = True,
) -> pd.DataFrame:
    """Check a measurements table and return a clean copy.

    Errors (:class:`~agreement.errors.InputError`, one line naming ``source``):
    missing columns, an empty table, non-numeric or infinite ``reference``/``predicted``,
    duplicate (case_id, method, metric) rows, and NaN values (unless ``nan_policy="omit"``, which
    drops those rows with a warning). Warnings (:class:`UnpairedWarning`): a case
    measured for one method but not another within a metric (each method's statistics
    stay valid; method comparisons use the common cases), and a reference value that
    differs between methods for the same case and metric.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"case_id": ["a", "b"], "method": "m", "metric": "tmtv",
    ...                    "reference": [1.0, 2.0], "predicted": ["1.1", "2"]})
    >>> validate_measurements(df)["predicted"].tolist()
    [1.1, 2.0]
    """
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"{source}: expected a table (DataFrame), got {type(df).__name__}")
    missing = [c for c in MEASUREMENT_COLUMNS if c not in df.columns]
    if missing:
        names = ", ".join(repr(c) for c in missing)
        raise InputError(
            f"{source}: missing column(s) {names}; need {', '.join(MEASUREMENT_COLUMNS)}"
        )
    if df.empty:
        raise InputError(f"{source}: the table has no rows")
    out = df.reset_index(drop=True).copy()
    for col in ("case_id", "method", "metric"):
        if out[col].isna().any():
            raise InputError(f"{source}: empty {col} in {_rows(out[col].isna(), out)}")
        out[col] = out[col].astype(str)
    for col in ("reference", "predicted"):
        values = pd.to_numeric(out[col], errors="coerce")
        bad = values.isna() & out[col].notna()
        if bad.any():
            raise InputError(f"{source}: non-numeric {col} in {_rows(bad, out)}")
        out[col] = values.astype(float)
    inf = np.isinf(out["reference"]) | np.isinf(out["predicted"])
    if inf.any():
        raise InputError(f"{source}: infinite reference/predicted value in {_rows(inf, out)}")
    dup = out.duplicated(KEY, keep=False)
    if dup.any():
        first = out.loc[dup, KEY].drop_duplicates().head(3).itertuples(index=False)
        keys = "; ".join(f"({c}, {m}, {k})" for c, m, k in first)
        raise InputError(
            f"{source}: {int(dup.sum())} duplicate (case_id, method, metric) rows, e.g. {keys}"
        )
    nan = out["reference"].isna() | out["predicted"].isna()
    if nan.any():
        if nan_policy != "omit":
            raise InputError(f"{source}: missing reference/predicted value in {_rows(nan, out)}")
        warnings.warn(
            f"{source}: dropped {int(nan.sum())} row(s) with a missing value", stacklevel=2
        )
        out = out.loc[~nan].reset_index(drop=True)
    if check_pairing:
        _warn_unpaired(out, source)
    return out


def _warn_unpaired(df: pd.DataFrame, source: str) -> None:
    for metric, group in df.groupby("metric", sort=False):
        methods = group["method"].unique()
        if len(methods) < 2:
            continue
        all_cases = set(group["case_id"])
        for method, rows in group.groupby("method", sort=False):
            absent = sorted(all_cases - set(rows["case_id"]))
            if absent:
                shown = ", ".join(absent[:5]) + (" ..." if len(absent) > 5 else "")
                warnings.warn(
                    f"{source}: metric {metric!r}, method {method!r} lacks {len(absent)} case(s) "
                    f"other methods have: {shown}",
                    UnpairedWarning,
                    stacklevel=3,
                )
        spread = group.groupby("case_id")["reference"].agg(lambda s: s.max() - s.min())
        differing = spread[spread > 0]
        if len(differing):
            warnings.warn(
                f"{source}: metric {metric!r}: reference differs between methods for "
                f"{len(differing)} case(s), e.g. {differing.index[0]}",
                UnpairedWarning,
                stacklevel=3,
            )


def read_measurements(
    path: str | os.PathLike[str], *, nan_policy: Literal["raise", "omit"] = "raise"
) -> pd.DataFrame:
    """Read and validate a measurements table (see :func:`validate_measurements`).

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.csv"
    >>> _ = p.write_text("case_id,method,metric,reference,predicted\\nc1,unet/dice,tmtv,1,1.2\\n")
    >>> read_measurements(p).shape
    (1, 5)
    """
    table = read_table(path, dtype=SCHEMAS["measurements"].text_columns)
    return validate_measurements(table, source=str(path), nan_policy=nan_policy)


def write_measurements(df: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Validate and write a measurements table atomically (CSV/TSV/Parquet by extension).

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.csv"
    >>> df = pd.DataFrame({"case_id": ["c1"], "method": ["m"], "metric": ["tmtv"],
    ...                    "reference": [1.0], "predicted": [1.2]})
    >>> write_measurements(df, p)
    >>> read_measurements(p)["predicted"].tolist()
    [1.2]
    """
    write_table(validate_measurements(df, source=str(path)), path)
