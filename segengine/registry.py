"""Name registries with a "did you mean" error for unknown names.

Examples
--------
>>> from segengine.registry import lookup
>>> lookup("unet", {"unet": 1, "segresnet": 2}, kind="network")
1
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import TypeVar

T = TypeVar("T")


def lookup(name: str, table: Mapping[str, T], kind: str) -> T:
    """Return ``table[name]``; raise ValueError naming close matches if it is missing.

    Parameters
    ----------
    name : str
        The requested name (case-insensitive; ``-`` is read as ``_``).
    table : Mapping[str, T]
        The registry.
    kind : str
        What the names are ("network", "loss"), used in the error message.

    Returns
    -------
    T
        The registered value.

    Raises
    ------
    ValueError
        If ``name`` is not in ``table``; the message lists close matches and all names.

    Examples
    --------
    >>> from segengine.registry import lookup
    >>> lookup("Dice-CE", {"dice": 0, "dice_ce": 1}, kind="loss")
    1
    >>> lookup("unte", {"unet": 1, "unetr": 2}, kind="network")
    Traceback (most recent call last):
    ...
    ValueError: unknown network 'unte'; did you mean 'unet', 'unetr'? Known: unet, unetr
    """
    if not isinstance(name, str):
        raise ValueError(f"{kind} name must be a string, got {name!r}")
    key = name.strip().lower().replace("-", "_")
    if key in table:
        return table[key]
    known = sorted(table)
    close = difflib.get_close_matches(key, known, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else "."
    raise ValueError(f"unknown {kind} {name!r}{hint} Known: {', '.join(known)}")


def check_compat(compat: str | None) -> str | None:
    """``None`` (the papers) or ``"reference"`` (the published code), as everywhere else.

    ``"paper"``, the spelling of earlier releases for the papers' behaviour, still means
    ``None`` for one release with a FutureWarning.

    Examples
    --------
    >>> check_compat("reference"), check_compat(None)
    ('reference', None)
    """
    if compat == "paper":
        import warnings

        warnings.warn(
            "compat='paper' is deprecated and means compat=None (the papers' behaviour, "
            "the default)",
            FutureWarning,
            stacklevel=3,
        )
        return None
    if compat not in (None, "reference"):
        raise ValueError(f"compat must be None or 'reference', got {compat!r}")
    return compat
