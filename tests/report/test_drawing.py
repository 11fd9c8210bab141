"""How the report's figures are drawn: forked helpers, the same files as one process."""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import sys
import threading

import pandas as pd
import pytest

import figures.report as drawing
from agreement._gc import few_collections
from agreement.analysis import analyse
from agreement.progress import progress_bar

linux = pytest.mark.skipif(sys.platform != "linux", reason="figures are forked on Linux only")


@pytest.fixture(scope="module")
def analysis(helpers, tmp_path_factory):
    measurements, _ = helpers.tables(tmp_path_factory.mktemp("drawing"))
    return analyse(pd.read_csv(measurements))


def _broken_child():
    """What the forked children run in the failing test; this process draws its share."""
    raise RuntimeError("a figure failed in a child")


def _killed_child():
    """A helper killed while drawing (out of memory, kill -9)."""
    os.kill(os.getpid(), signal.SIGKILL)


def _forked():
    """Forked children alive (other tests may leave joblib's spawned workers running)."""
    return [c for c in multiprocessing.active_children() if type(c).__name__ == "ForkProcess"]


def _bytes(paths):
    return {name: [p.read_bytes() for p in files] for name, files in paths.items()}


@linux
def test_forked_figures_are_the_files_of_one_process(analysis, tmp_path, monkeypatch):
    serial = drawing.draw_report_figures(analysis, tmp_path / "one", workers=1)
    monkeypatch.setattr(drawing, "fork_context", lambda: multiprocessing.get_context("fork"))
    pending = drawing.start_report_figures(analysis, tmp_path / "three", workers=3)
    assert len(pending._helpers) == 2  # two forked helpers
    forked = pending.result()
    assert list(forked) == list(serial)  # the plan's order, whoever drew each figure
    assert _bytes(forked) == _bytes(serial)
    assert drawing._FORKED == {} and pending._helpers == []  # helpers gone, plan forgotten


@linux
def test_a_figure_failing_in_a_child_fails_the_drawing(analysis, tmp_path, monkeypatch):
    monkeypatch.setattr(drawing, "fork_context", lambda: multiprocessing.get_context("fork"))
    monkeypatch.setattr(drawing, "_draw_claimed", _broken_child)
    with pytest.raises(RuntimeError, match="failed in a child") as raised:
        drawing.draw_report_figures(analysis, tmp_path / "f", workers=2)
    assert "_broken_child" in str(raised.value.__cause__)  # the helper's traceback
    assert drawing._FORKED == {}


@linux
def test_a_helper_that_dies_fails_the_drawing_instead_of_hanging(analysis, tmp_path, monkeypatch):
    monkeypatch.setattr(drawing, "fork_context", lambda: multiprocessing.get_context("fork"))
    monkeypatch.setattr(drawing, "_draw_claimed", _killed_child)
    with pytest.raises(RuntimeError, match="stopped with exit code -9 before sending"):
        drawing.draw_report_figures(analysis, tmp_path / "k", workers=2)
    assert _forked() == [] and drawing._FORKED == {}


@linux
def test_one_forked_drawing_at_a_time(analysis, tmp_path, monkeypatch):
    monkeypatch.setattr(drawing, "fork_context", lambda: multiprocessing.get_context("fork"))
    first = drawing.start_report_figures(analysis, tmp_path / "a", workers=2)
    second = drawing.start_report_figures(analysis, tmp_path / "b")
    assert first._helpers and not second._helpers  # the second draws in this process
    assert _bytes(second.result()) == _bytes(first.result())


@linux
def test_closing_stops_the_helpers(analysis, tmp_path, monkeypatch):
    # an error while the page is written: write_report closes the drawing it started
    monkeypatch.setattr(drawing, "fork_context", lambda: multiprocessing.get_context("fork"))
    pending = drawing.start_report_figures(analysis, tmp_path / "c", workers=2)
    children = _forked()
    assert children
    pending.close()
    assert not any(c.is_alive() for c in children)
    assert drawing._FORKED == {}
    pending.close()  # a second close does nothing


def test_no_fork_while_another_thread_runs():
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert drawing.fork_context() is None
    finally:
        stop.set()
        thread.join()


def test_no_fork_once_torch_is_imported(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", object())
    assert drawing.fork_context() is None


def test_without_fork_one_process_draws_unless_processes_are_asked(analysis, tmp_path, monkeypatch):
    monkeypatch.setattr(drawing, "fork_context", lambda: None)
    monkeypatch.setattr("joblib.Parallel", pytest.fail)
    pending = drawing.start_report_figures(analysis, tmp_path / "auto")  # no spawned workers
    assert pending._helpers == []
    assert all(f[0].exists() for f in pending.result().values())


def test_progress_bars_start_no_thread():
    before = set(threading.enumerate())
    for enabled in (False, True):
        bar = progress_bar(total=2, desc="report", unit="step", enabled=enabled)
        bar.update()
        bar.close()
    assert set(threading.enumerate()) == before  # tqdm's monitor thread would forbid forking


def test_few_collections_restores_the_collector():
    threshold = gc.get_threshold()
    with few_collections(threshold=12345):
        assert gc.get_threshold()[0] == 12345
        assert gc.get_freeze_count() > 0
        with few_collections():  # nested: leaving it keeps the outer block's state
            pass
        assert gc.get_threshold()[0] == 12345
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == threshold
    assert gc.get_freeze_count() == 0  # nothing left out of the collector's reach


@linux
def test_an_error_while_the_page_is_written_stops_the_drawing(analysis, tmp_path, monkeypatch):
    import agreement.report.build as build

    def broken(*args, **kwargs):
        raise RuntimeError("page failed")

    monkeypatch.setattr(drawing, "fork_context", lambda: multiprocessing.get_context("fork"))
    monkeypatch.setattr(build, "case_details", broken)
    out = tmp_path / "out" / "report"
    with pytest.raises(RuntimeError, match="page failed"):
        build.write_report(analysis, out, figures=drawing.start_report_figures, progress=False)
    assert not out.exists() and list((tmp_path / "out").iterdir()) == []
    assert _forked() == [] and drawing._FORKED == {}
