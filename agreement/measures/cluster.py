"""Where the per-case work runs: this process, local worker processes, or a Dask cluster.

Every backend calls the same per-case function through joblib: ``Parallel`` with its default
(loky) backend for ``workers``, and with joblib's ``dask`` backend on a
:class:`distributed.Client` for ``scheduler``. dask and distributed are imported only here,
only when a scheduler is given (extra ``[dask]``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agreement.errors import InputError

#: Seconds to wait for the first Dask worker (a batch-system job may take a while to start).
WAIT_FOR_WORKERS_S = 300

#: Inputs under this many bytes are measured in this process when ``workers`` is not given:
#: starting worker processes costs more than it saves (measured in bench/bench_parallel.py;
#: the rule and the numbers are in docs/benchmarks.md).
SERIAL_BELOW_BYTES = 64 * 2**20


def usable_cpus() -> int:
    """``SLURM_CPUS_PER_TASK`` if set, else the CPUs this process may use.

    Examples
    --------
    >>> usable_cpus() >= 1
    True
    """
    slurm = os.environ.get("SLURM_CPUS_PER_TASK", "").strip()
    if slurm.isdigit() and int(slurm) > 0:
        return int(slurm)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def input_bytes(paths: Sequence[str | os.PathLike[str]]) -> int:
    """Total size of the distinct files in ``paths`` (missing files count 0).

    Examples
    --------
    >>> input_bytes([])
    0
    """
    total = 0
    for p in dict.fromkeys(Path(p) for p in paths):
        try:
            total += p.stat().st_size
        except OSError:
            pass
    return total


def auto_workers(n_cases: int, n_bytes: int) -> int:
    """Worker processes when none are asked for: 1 for a small cohort, else the usable CPUs.

    A cohort is small when its input files total under :data:`SERIAL_BELOW_BYTES`, or when it
    has one case. Never more workers than cases.

    Examples
    --------
    >>> auto_workers(3, 5 * 2**20)
    1
    >>> auto_workers(1, 2**30)
    1
    """
    if n_cases <= 1 or n_bytes < SERIAL_BELOW_BYTES:
        return 1
    return max(1, min(usable_cpus(), n_cases))


@contextmanager
def dask_backend(scheduler: Any) -> Iterator[Any]:
    """Make joblib run on a Dask cluster inside the ``with`` block; yield the client.

    Parameters
    ----------
    scheduler : str or distributed.Client
        A scheduler address (``tcp://host:8786``) or a client of the caller (left open).

    Raises
    ------
    InputError
        dask/distributed not installed, or no scheduler at the address.

    Examples
    --------
    >>> from distributed import Client, LocalCluster
    >>> from joblib import Parallel, delayed
    >>> with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
    ...     with dask_backend(cluster.scheduler_address):
    ...         Parallel(n_jobs=-1)(delayed(abs)(x) for x in [-1, -2])
    [1, 2]
    """
    try:
        from distributed import Client
    except ImportError:
        raise InputError(
            "--scheduler needs dask and distributed; pip install 'pet-agreement[dask]'"
        ) from None
    from joblib import parallel_config

    own = not isinstance(scheduler, Client)
    if own:
        try:
            client = Client(str(scheduler), set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"{scheduler}: no Dask scheduler reachable ({detail})") from None
    else:
        client = scheduler
    try:
        with parallel_config(
            backend="dask", client=client, wait_for_workers_timeout=WAIT_FOR_WORKERS_S
        ):
            yield client
    finally:
        if own:
            client.close()
