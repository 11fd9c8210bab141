"""The tables' schemas, in one place: columns, dtypes and the columns a reader needs.

``agree measure`` writes these tables and :func:`agreement.read_table` (``kind=``) checks them
(DESIGN §4). Writers build their frames with :meth:`Schema.frame`, readers validate with
:meth:`Schema.check`, so a column is named once.

Examples
--------
>>> from agreement.schemas import SCHEMAS
>>> SCHEMAS["failed"].columns
('case_id', 'method', 'reason')
>>> SCHEMAS["cases"].dtypes["tp"]
'int'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from agreement.errors import InputError

#: Columns ``agree measure`` adds to a table whose methods are named ``network/loss``.
METHOD_SPLIT = {"network": "str", "loss": "str"}


@dataclass(frozen=True)
class Schema:
    """One table: its columns in the order written, their dtypes, what a reader needs.

    Attributes
    ----------
    name : str
        ``measurements``, ``cases``, ``lesions``, ``failed`` or ``missing``.
    dtypes : mapping
        Column -> ``"str"``, ``"float"``, ``"int"`` (nullable in files: read as given) or
        ``"bool"``, in the order the writers write them.
    required : tuple of str
        Columns a table from elsewhere must have to be used.
    optional : mapping
        Known columns that may be present (e.g. ``network``, ``loss``), with their dtypes.
    """

    name: str
    dtypes: Mapping[str, str]
    required: tuple[str, ...]
    optional: Mapping[str, str] = field(default_factory=dict)

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns the writers write, in order."""
        return tuple(self.dtypes)

    @property
    def text_columns(self) -> dict[str, type]:
        """Text columns, for ``pandas.read_csv(dtype=...)`` (keeps ids like ``007`` as text)."""
        every = {**self.dtypes, **self.optional}
        return {c: str for c, kind in every.items() if kind == "str"}

    def frame(self, rows: Iterable[Mapping[str, Any]] | None = None) -> pd.DataFrame:
        """A DataFrame of ``rows`` (dicts or tuples) with this schema's columns, in order.

        Examples
        --------
        >>> SCHEMAS["failed"].frame([{"case_id": "c1", "method": "m", "reason": "x"}]).shape
        (1, 3)
        >>> list(SCHEMAS["missing"].frame())
        ['case_id', 'method', 'status', 'reason']
        """
        return pd.DataFrame(list(rows or []), columns=list(self.columns))

    def check(self, table: pd.DataFrame, source: str) -> pd.DataFrame:
        """``table`` if it has the required columns; else one-line InputError naming them.

        Examples
        --------
        >>> SCHEMAS["missing"].check(pd.DataFrame(columns=["case_id"]), "m.csv")
        Traceback (most recent call last):
        ...
        agreement.errors.InputError: m.csv: not a missing table, missing column(s) method, reason
        """
        absent = [c for c in self.required if c not in table.columns]
        if absent:
            raise InputError(
                f"{source}: not a {self.name} table, missing column(s) {', '.join(absent)}"
            )
        return table


SCHEMAS: dict[str, Schema] = {
    s.name: s
    for s in (
        Schema(
            "measurements",
            {"case_id": "str", "method": "str", "metric": "str", "reference": "float",
             "predicted": "float", "unit": "str"},
            required=("case_id", "method", "metric", "reference", "predicted"),
            optional={**METHOD_SPLIT, "fold": "int"},
        ),
        Schema(
            "cases",
            {"case_id": "str", "method": "str", "dsc": "float", "fpv": "float", "fnv": "float",
             "tp": "int", "fp": "int", "fn": "int", "f1": "float",
             "n_reference_lesions": "int", "n_predicted_lesions": "int", "scenario": "str"},
            required=("case_id", "method", "dsc", "tp", "fp", "fn", "f1"),
            optional=METHOD_SPLIT,
        ),
        Schema(
            "lesions",
            {"case_id": "str", "method": "str", "side": "str", "lesion_id": "int",
             "voxels": "int", "volume": "float", "suv_max": "float", "suv_mean": "float",
             "tla": "float", "dmax": "float", "status": "str", "matched_id": "int",
             "lesion_dsc": "float"},
            required=("case_id", "method", "side", "status", "volume", "lesion_dsc"),
            optional=METHOD_SPLIT,
        ),
        Schema(
            "failed",
            {"case_id": "str", "method": "str", "reason": "str"},
            required=("case_id",),
        ),
        Schema(
            # one row per (case, method) pair without a prediction (status "missing": not
            # measured; "empty": scored as an empty mask) or per input found but not used
            # ("skipped"; case_id and method may be empty)
            "missing",
            {"case_id": "str", "method": "str", "status": "str", "reason": "str"},
            required=("case_id", "method", "reason"),
        ),
    )
}  # fmt: skip

TABLE_KINDS = tuple(SCHEMAS)
TableKind = Literal["measurements", "cases", "lesions", "failed", "missing"]


def schema(kind: str) -> Schema:
    """The :class:`Schema` of a table kind; ValueError listing the kinds otherwise.

    Examples
    --------
    >>> schema("lesions").required[:3]
    ('case_id', 'method', 'side')
    """
    try:
        return SCHEMAS[kind]
    except KeyError:
        raise ValueError(f"kind must be one of {', '.join(TABLE_KINDS)}, got {kind!r}") from None
