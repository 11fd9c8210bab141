"""The report's figures: draw every figure an :class:`~agreement.analysis.Analysis` allows, once.

:func:`draw_report_figures` is the figure drawer the ``agree`` CLI hands to
:func:`agreement.write_report`: it saves each figure (PNG for the page, plus the vector formats
asked for) and returns the files by name.
"""

from __future__ import annotations

import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agreement.analysis import Analysis

#: Resolution of the PNGs embedded in the page (the 7.2 in figures span about 1440 px).
PAGE_DPI = 200
#: Most processes drawing at once when none are asked for (ten figures, the dearest 0.4 s).
AUTO_PROCESSES = 4
#: Drawn first when figures are drawn in parallel (the slowest first keeps the workers busy).
_SLOW_FIRST = ("coverage_tdi", "bland_altman_modified", "dsc_tmtv_thresholds", "tost_forest")
#: A forked drawing's drawer, figure order and claim counter: the children inherit them
#: (nothing is pickled).
_FORKED: dict[str, Any] = {}


def _plan_kwargs(analysis: Analysis, width: str) -> dict[str, Any]:
    best = analysis.best_method
    # One classic Bland-Altman plot (the best method's); the grid shows every method.
    return {
        "agreement": analysis.agreement, "cases": analysis.cases, "lesions": analysis.lesions,
        "width": width, "margin": analysis.options.margin,
        "bland_altman_methods": [best] if best else [], "strata": analysis.strata,
    }  # fmt: skip


def _draw_one(
    name: str, measurements: Any, plan_kwargs: dict[str, Any], stem: Path, formats: Sequence[str]
) -> list[Path]:
    """Draw one figure of the plan and save it (runs in a spawned worker, ``-j N``)."""
    from figures.render import plan_figures
    from figures.style import save_figure

    fig = plan_figures(measurements, **plan_kwargs)[name]()
    return save_figure(fig, stem, formats=tuple(formats), dpi=PAGE_DPI)


def _claim() -> str | None:
    """The next figure of :data:`_FORKED` nobody has drawn yet (shared by the processes)."""
    order, counter = _FORKED["order"], _FORKED["counter"]
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    return order[index] if index < len(order) else None


def _draw_claimed() -> list[tuple[str, list[Path]]]:
    """Draw figures of :data:`_FORKED` until none is left (runs in a forked child)."""
    draw = _FORKED["draw"]
    drawn = []
    while (name := _claim()) is not None:
        drawn.append((name, draw(name)))
    return drawn


def _helper(conn: Any) -> None:
    """A forked helper's life: draw what it claims, send back the files or the error."""
    try:
        message: tuple[Any, ...] = ("files", _draw_claimed())
    except BaseException as exc:  # KeyboardInterrupt included: the caller stops too
        message = ("error", exc, traceback.format_exc())
    try:
        conn.send(message)
    except Exception:  # an error that cannot be pickled: send its text
        conn.send(("error", RuntimeError(repr(message[1])), message[-1]))
    finally:
        conn.close()


def fork_context() -> Any:
    """multiprocessing's fork context where forking this process is safe, else None.

    A forked child starts with every module already imported and the figure plan in memory,
    so drawing in parallel costs no second import of matplotlib and pandas (a spawned worker
    pays about 1 s for them). Forking is used only on Linux and only while this process runs
    no other Python thread (a thread holding a lock at the fork would leave it held in the
    child) and has not imported torch; numpy's BLAS thread pool reinitialises after a fork.

    Examples
    --------
    >>> import sys, threading
    >>> ctx = fork_context()
    >>> safe = sys.platform == "linux" and threading.active_count() == 1
    >>> (ctx is not None) == (safe and "torch" not in sys.modules)
    True
    """
    import multiprocessing
    import threading

    if sys.platform != "linux" or threading.active_count() > 1 or "torch" in sys.modules:
        return None  # torch's OpenMP and CUDA state are not safe to fork (segengine predict)
    try:
        return multiprocessing.get_context("fork")
    except ValueError:
        return None


def _processes(workers: int | None, n_figures: int) -> int:
    if workers is not None:
        return max(1, min(int(workers), n_figures))
    from agreement.measures.cluster import usable_cpus

    return max(1, min(usable_cpus(), AUTO_PROCESSES, n_figures))


class PendingFigures:
    """Figures being drawn: :meth:`result` finishes them and returns the files by name.

    Forked helpers (see :func:`start_report_figures`) draw while the caller does other work;
    :meth:`result` draws what they have not claimed yet in this process, then collects theirs.
    A helper's error is raised here; a helper that dies without a word (killed, out of memory)
    raises RuntimeError instead of leaving the caller waiting. :meth:`close` stops the
    helpers (after an error elsewhere); it is a no-op once finished.
    """

    def __init__(
        self,
        names: list[str],
        draw_here: Callable[[str], list[Path]],
        helpers: Sequence[tuple[Any, Any]] = (),
    ) -> None:
        self._names, self._draw_here = names, draw_here
        self._helpers = list(helpers)  # (process, the end of its pipe we read)

    def result(self) -> dict[str, list[Path]]:
        """Draw the figures left, collect the helpers'; the files by figure name, in order."""
        try:
            if not self._helpers:
                paths = {n: self._draw_here(n) for n in self._names}
            else:
                paths = {}
                while (name := _claim()) is not None:
                    paths[name] = self._draw_here(name)
                for process, conn in self._helpers:
                    paths.update(_collect(process, conn))
        finally:
            self.close()
        return {n: paths[n] for n in self._names}

    def close(self) -> None:
        """Stop the helpers that still run; forget the shared plan."""
        if self._helpers:
            for process, conn in self._helpers:
                if process.is_alive():
                    process.terminate()
                process.join()
                conn.close()
            self._helpers = []
            _FORKED.clear()


def _collect(process: Any, conn: Any) -> list[tuple[str, list[Path]]]:
    """What one helper sends back; its error raised here, or why it sent nothing."""
    from multiprocessing.connection import wait

    wait([conn, process.sentinel])
    try:
        message = conn.recv()
    except EOFError:
        process.join()
        raise RuntimeError(
            f"a figure-drawing helper process (pid {process.pid}) stopped with exit code "
            f"{process.exitcode} before sending its figures"
        ) from None
    if message[0] == "error":
        raise message[1] from RuntimeError(f"in a figure-drawing helper:\n{message[2]}")
    return message[1]


def start_report_figures(
    analysis: Analysis,
    folder: Path,
    *,
    width: str = "double",
    formats: Sequence[str] = ("png",),
    workers: int | None = None,
) -> PendingFigures:
    """Start drawing every figure of ``analysis`` under ``folder``; finish with ``.result()``.

    The figures are drawn in ``workers`` processes (default: up to :data:`AUTO_PROCESSES`,
    at most the usable CPUs). Where :func:`fork_context` allows, ``workers - 1`` helpers are
    forked now and start drawing at once, the slowest figures first, each claiming the next
    figure nobody has drawn; this process joins in when ``.result()`` is called, so work done
    in between (the tables, the page's other parts) overlaps the drawing. Where forking is not
    safe, an explicit ``workers > 1`` draws in spawned processes (joblib, which pays their
    imports again) and otherwise this process draws everything. The files are the same
    either way.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> from agreement import analyse
    >>> m = pd.DataFrame({"case_id": list("abcd"), "method": "x", "metric": "tmtv",
    ...                   "reference": [1.0, 2.0, 3.0, 4.0], "predicted": [1.1, 2.1, 2.8, 4.2]})
    >>> pending = start_report_figures(analyse(m), pathlib.Path(tempfile.mkdtemp()))
    >>> pending.result()["ccc_radar"][0].name
    'ccc_radar.png'
    """
    from figures.render import plan_figures
    from figures.style import save_figure

    kwargs = _plan_kwargs(analysis, width)
    plan = plan_figures(analysis.measurements, **kwargs)
    names = list(plan)
    wanted = ("png", *[f for f in formats if f != "png"])
    folder.mkdir(exist_ok=True)
    stems = {n: folder / "".join(c if c.isalnum() or c in "-_" else "_" for c in n) for n in names}
    order = [n for n in _SLOW_FIRST if n in names] + [n for n in names if n not in _SLOW_FIRST]
    processes = _processes(workers, len(names))
    ctx = fork_context() if processes > 1 else None

    def draw_here(name: str) -> list[Path]:
        return save_figure(plan[name](), stems[name], formats=wanted, dpi=PAGE_DPI)

    if ctx is not None and not _FORKED:  # (one forked drawing at a time per process)
        counter = ctx.Value("i", 0)
        _FORKED.update(draw=draw_here, order=order, counter=counter)
        pending = PendingFigures(names, draw_here)
        try:
            for _ in range(processes - 1):
                theirs, ours = ctx.Pipe(duplex=False)
                process = ctx.Process(target=_helper, args=(ours,), daemon=True)
                with warnings.catch_warnings():
                    # Python >= 3.12 warns on forking with native threads (BLAS pools); see
                    # fork_context.
                    warnings.filterwarnings("ignore", ".*fork.*", DeprecationWarning)
                    process.start()
                ours.close()
                pending._helpers.append((process, theirs))
        except BaseException:
            pending.close()
            _FORKED.clear()
            raise
        return pending
    if processes > 1 and workers is not None:
        from joblib import Parallel, delayed

        m = analysis.measurements
        drawn = Parallel(n_jobs=processes)(
            delayed(_draw_one)(n, m, kwargs, stems[n], wanted) for n in order
        )
        done = dict(zip(order, drawn, strict=True))
        return PendingFigures(names, done.__getitem__)
    return PendingFigures(names, draw_here)


def draw_report_figures(
    analysis: Analysis,
    folder: Path,
    *,
    width: str = "double",
    formats: Sequence[str] = ("png",),
    workers: int | None = None,
) -> dict[str, list[Path]]:
    """Save every figure of ``analysis`` under ``folder``; return the files by figure name.

    PNG at :data:`PAGE_DPI` comes first (the report embeds it), then the other ``formats``.
    :func:`start_report_figures` then ``.result()``, with few garbage collections
    (:func:`agreement._gc.few_collections`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> from agreement import analyse
    >>> m = pd.DataFrame({"case_id": list("abcd"), "method": "x", "metric": "tmtv",
    ...                   "reference": [1.0, 2.0, 3.0, 4.0], "predicted": [1.1, 2.1, 2.8, 4.2]})
    >>> files = draw_report_figures(analyse(m), pathlib.Path(tempfile.mkdtemp()), workers=1)
    >>> files["ccc_radar"][0].name
    'ccc_radar.png'
    """
    from agreement._gc import few_collections

    with few_collections():
        return start_report_figures(
            analysis, folder, width=width, formats=formats, workers=workers
        ).result()
