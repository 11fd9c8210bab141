"""Fewer garbage collections while drawing: a context manager for the report's busiest steps."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_depth = 0  # blocks entered and not left (an inner block leaves the freezing to the outer)


@contextmanager
def few_collections(threshold: int = 50_000) -> Iterator[None]:
    """Collect cyclic garbage rarely inside the block; restore the collector's state after.

    Objects alive at entry (imported modules, the tables) are frozen, so no collection scans
    them again, and the youngest generation is collected after ``threshold`` allocations
    instead of Python's 700. Drawing the report's figures allocates hundreds of thousands of
    small linked objects (artists, transforms, paths); with the default thresholds about a
    tenth of the drawing time went to collections that found little to free
    (docs/benchmarks.md, Report). Frozen objects are also not copied by a forked process
    that only reads them. Leaving the outermost block unfreezes every frozen object (a
    caller's ``gc.freeze()`` included), so none stays out of reach of the collector.

    Examples
    --------
    >>> import gc
    >>> before = gc.get_threshold()
    >>> with few_collections():
    ...     gc.get_threshold()[0]
    50000
    >>> gc.get_threshold() == before
    True
    """
    global _depth
    old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(threshold, *old[1:])
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        gc.set_threshold(*old)
        if _depth == 0:  # the outermost block: collectable again, nothing stays frozen
            gc.unfreeze()
