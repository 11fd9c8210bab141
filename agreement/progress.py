"""Progress display: a tqdm bar on a terminal, plain lines in a log (SLURM, nohup, CI)."""

from __future__ import annotations

import functools
import sys
from typing import Any


class LineProgress:
    """A stand-in for a tqdm bar that writes one plain line per finished step to stderr.

    It has the part of tqdm's interface the toolkit uses (``total``, ``n``, ``update``,
    ``set_postfix_str``, ``refresh``, ``close``). Without ``\\r`` frames a log file stays
    readable; at most about twenty lines are written for the counted steps (every 5%), and
    one line for each named stage.

    Examples
    --------
    >>> import io, contextlib
    >>> buf = io.StringIO()
    >>> with contextlib.redirect_stderr(buf):
    ...     bar = LineProgress(total=2, desc="measure", unit="case")
    ...     bar.update(); bar.update(); bar.close()
    >>> buf.getvalue().splitlines()
    ['measure: 1/2 case(s)', 'measure: 2/2 case(s)']
    """

    def __init__(self, total: int | None = None, desc: str = "", unit: str = "step") -> None:
        self.total = total
        self.desc = desc
        self.unit = unit
        self.n = 0
        self._stage = ""
        self._shown = -1

    def set_postfix_str(self, text: str = "", refresh: bool = True) -> None:
        self._stage = text

    def refresh(self) -> None:
        """Nothing to redraw."""

    def update(self, n: int = 1) -> None:
        self.n += n
        total = self.total or 0
        if self._stage:
            self._write(f"{self.desc}: {self._stage}")
            self._stage = ""
            return
        step = max(1, total // 20)
        if self.n == total or self.n // step != self._shown // step:
            self._shown = self.n
            self._write(f"{self.desc}: {self.n}/{total or '?'} {self.unit}(s)")

    def close(self) -> None:
        """Nothing to clear."""

    @staticmethod
    def _write(line: str) -> None:
        print(line, file=sys.stderr, flush=True)


@functools.cache
def _bar_class() -> Any:
    from tqdm.auto import tqdm

    class Bar(tqdm):  # type: ignore[misc, valid-type]
        """tqdm without its monitor thread (it only tunes ``miniters``), so the process
        stays free of threads and may fork (figures.report.fork_context)."""

        monitor_interval = 0

    return Bar


def progress_bar(*, total: int, desc: str, unit: str, enabled: bool = True) -> Any:
    """A tqdm bar on a terminal or in a notebook, else :class:`LineProgress`; silent if disabled.

    Examples
    --------
    >>> bar = progress_bar(total=3, desc="measure", unit="case", enabled=False)
    >>> bar.update(); bar.close()
    """
    if not enabled:
        return _bar_class()(total=total, disable=True)
    notebook = "ipykernel" in sys.modules  # tqdm.auto draws a widget there, not \r frames
    if not notebook and not getattr(sys.stderr, "isatty", lambda: False)():
        return LineProgress(total=total, desc=desc, unit=unit)
    return _bar_class()(
        total=total, desc=desc, unit=unit, disable=None if not notebook else False, leave=False
    )
