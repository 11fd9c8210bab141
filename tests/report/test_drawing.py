"""How the report's figures are drawn: forked helpers, the same files as one process."""

from __future__ import annotations

import gc
import multiprocessing
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


def _broken_child(name):
    """What the forked children run in the failing test; this process draws its share."""
    raise RuntimeError(f"{name} failed in a child")


def _bytes(paths):
    return {name: [p.read_bytes() for p in files] for name, files in paths.items()}


@linux
def test_forked_figures_are_the_files_of_one_process(analysis, tmp_path, monkeypatch):
    serial = drawing.draw_report_figures(analysis, tmp_path / "one", workers=1)
    forks = []
    real = drawing._draw_in_forks

    def spy(ctx, order, processes, draw_here):
        forks.append(processes)
        return real(ctx, order, processes, draw_here)

    monkeypatch.setattr(drawing, "_draw_in_forks", spy)
    monkeypatch.setattr(drawing, "fork_context", lambda: multiprocessing.get_context("fork"))
    forked = drawing.draw_report_figures(analysis, tmp_path / "three", workers=3)
    assert forks == [3]  # two forked children and this process drew
    assert list(forked) == list(serial)  # the plan's order, whoever drew each figure
    assert _bytes(forked) == _bytes(serial)
    assert drawing._FORKED == {}  # the children's plan is not kept


@linux
def test_a_figure_failing_in_a_child_fails_the_drawing(analysis, tmp_path, monkeypatch):
    monkeypatch.setattr(drawing, "fork_context", lambda: multiprocessing.get_context("fork"))
    monkeypatch.setattr(drawing, "_draw_forked", _broken_child)
    with pytest.raises(RuntimeError, match="failed in a child"):
        drawing.draw_report_figures(analysis, tmp_path / "f", workers=2)
    assert drawing._FORKED == {}


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
    monkeypatch.setattr(drawing, "_draw_in_forks", pytest.fail)
    files = drawing.draw_report_figures(analysis, tmp_path / "auto")  # no spawned workers
    assert all(f[0].exists() for f in files.values())


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
    assert gc.get_threshold() == threshold
    assert gc.get_freeze_count() == 0


def test_few_collections_leaves_the_callers_frozen_objects_frozen():
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with few_collections(), few_collections():  # nested: the inner one leaves them too
            pass
        assert gc.get_freeze_count() >= frozen
    finally:
        gc.unfreeze()
