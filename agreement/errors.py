"""Errors that the ``agree`` CLI turns into a one-line message and exit code 2."""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input: a file, folder or table the toolkit cannot use.

    The message is one line that names the file (or table) and the problem,
    e.g. ``"pred/case_01.nii.gz: label values {0, 1, 2}; pass --label N"``.

    Examples
    --------
    >>> from agreement.errors import InputError
    >>> str(InputError("cases.csv: missing column 'dsc'"))
    "cases.csv: missing column 'dsc'"
    """
