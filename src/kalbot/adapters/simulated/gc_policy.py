"""The garbage-collector setting of the long-running processes that host the exchange.

The library never changes the collector on its own: importing kalbot or building an
``Exchange`` leaves the process as it was. ``kalbot sim serve``, ``kalbot backtest`` and
``benchmarks/bench_sim.py`` run under it (``engine_gc()`` around the command's work,
``use_engine_gc()`` in the benchmark), so the benchmark measures the engine the way those
entry points run it.

Why: an exchange keeps everything queryable (every order, trade and position it ever saw), so
most container objects it allocates live for the whole run, and every collection walks them
again for almost no garbage (the engine builds no reference cycles on its hot paths). With
CPython's default thresholds ``(700, 10, 10)`` a 1,000,000-event ``bench_sim.py`` run did
~1,800 young, ~160 middle and 4 full collections: 2.9 s of its 15.4 s CPU (0.45 + 0.49 +
1.94 s). With ``(50_000, 20, 10)`` it did 25, 1 and 1: 1.7 s of 12.8 s (0.66 + 0.47 + 0.61 s;
one run each, shared 2-core box). Full collections keep CPython's own rule (only once the
objects that survived since the last one reach a quarter of all long-lived ones), so cyclic
garbage is still freed, a little later; memory grows by at most one young generation
(~50,000 objects).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

ENGINE_GC_THRESHOLDS = (50_000, 20, 10)


def use_engine_gc() -> tuple[int, int, int]:
    """Apply ``ENGINE_GC_THRESHOLDS`` to this process; returns the thresholds it replaced."""
    previous = gc.get_threshold()
    gc.set_threshold(*ENGINE_GC_THRESHOLDS)
    return previous


@contextmanager
def engine_gc() -> Iterator[None]:
    """``use_engine_gc`` for the ``with`` block; the previous thresholds come back after it,
    so a caller running a command in its own process (a test, a notebook) keeps its own."""
    previous = use_engine_gc()
    try:
        yield
    finally:
        gc.set_threshold(*previous)


__all__ = ["ENGINE_GC_THRESHOLDS", "engine_gc", "use_engine_gc"]
