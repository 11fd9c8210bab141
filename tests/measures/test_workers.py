"""Parallel measuring: the joblib workers end with the main process (issue 10, "Also")."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

MAIN = textwrap.dedent("""
    import os, time
    from joblib import Parallel, delayed
    from agreement.measures.cohort import exit_with_parent

    def case(parent):
        watched = exit_with_parent(parent, interval=0.1)
        print(f"worker {os.getpid()} {watched}", flush=True)
        time.sleep(600)  # a long case

    Parallel(n_jobs=2)(delayed(case)(os.getpid()) for _ in range(2))
""")


def _running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (exited, waiting to be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_workers_exit_when_the_main_process_is_killed():
    # before: kill -9 of `agree measure -j N` left its loky workers running their cases
    main = subprocess.Popen([sys.executable, "-c", MAIN], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    workers = []
    try:
        for _ in range(2):
            _, pid, watched = main.stdout.readline().split()
            assert watched == "True"
            workers.append(int(pid))
        assert all(_running(pid) for pid in workers)
    finally:
        main.send_signal(signal.SIGKILL)
        main.wait()
    deadline = time.monotonic() + 120  # a generous bound on a loaded machine, not a speed check
    while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in workers if _running(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == []


def test_main_process_never_watches_itself():
    from agreement.measures.cohort import exit_with_parent

    assert exit_with_parent(os.getpid()) is False
    assert exit_with_parent(os.getpid() + 1_000_000) is False  # not this process's parent
