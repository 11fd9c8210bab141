"""Progress of long engine loops: a tqdm bar on a terminal, one plain line per step in a log.

On a terminal tqdm redraws one bar with ``\\r``; written to a file (SLURM, nohup, CI) those
frames are unreadable. tqdm's ``disable=None`` turns the bar off when stderr is not a terminal;
:class:`Steps` then prints one line per finished step (an epoch, a case) instead. This module
does not import torch.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any


class Steps:
    """Iterate over ``iterable`` with a bar on a terminal, or a line per :meth:`done` otherwise.

    Parameters
    ----------
    iterable : iterable
        The steps.
    desc, unit : str
        What runs ("predict") and what a step is ("case", "epoch").
    total : int, optional
        Number of steps (default ``len(iterable)``).
    initial : int
        Steps already done (a resumed run).
    enabled : bool
        False shows nothing at all (``--no-progress``).

    Examples
    --------
    >>> import io, contextlib
    >>> buf = io.StringIO()
    >>> with contextlib.redirect_stderr(buf):
    ...     steps = Steps(["a", "b"], desc="predict", unit="case")
    ...     for case in steps:
    ...         steps.done(case)
    >>> buf.getvalue().splitlines()
    ['predict: case 1/2 a', 'predict: case 2/2 b']
    """

    def __init__(
        self,
        iterable: Iterable[Any],
        *,
        desc: str,
        unit: str,
        total: int | None = None,
        initial: int = 0,
        enabled: bool = True,
    ) -> None:
        from tqdm.auto import tqdm

        self.total = len(iterable) if total is None else total  # type: ignore[arg-type]
        self.desc, self.unit, self.n = desc, unit, initial
        self.bar = tqdm(iterable, desc=desc, unit=unit, total=self.total, initial=initial,
                        disable=None if enabled else True, file=sys.stderr)  # fmt: skip
        self.lines = enabled and self.bar.disable  # not a terminal: plain lines

    def __iter__(self) -> Iterator[Any]:
        return iter(self.bar)

    def done(self, text: str = "") -> None:
        """One step finished: show ``text`` beside the bar, or print it in a line."""
        self.n += 1
        if self.lines:
            line = f"{self.desc}: {self.unit} {self.n}/{self.total} {text}".rstrip()
            print(line, file=sys.stderr, flush=True)
        elif not self.bar.disable and text:
            self.bar.set_postfix_str(text, refresh=False)

    def close(self) -> None:
        self.bar.close()
