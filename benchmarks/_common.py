"""Helpers shared by the benchmarks: each prints rates and ratios measured in one run."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """Run ``fn`` once and return its result and the elapsed wall time in seconds."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def report(name: str, count: int, seconds: float, unit: str = "rows") -> float:
    rate = count / seconds if seconds > 0 else float("inf")
    print(f"{name:<48} {count:>10,} {unit} in {seconds:8.3f}s  {rate:>14,.0f} {unit}/s")
    return rate


def ratio(name: str, ours: float, baseline: float, goal: float) -> bool:
    r = ours / baseline if baseline else float("inf")
    ok = r >= goal
    print(f"{name:<48} ratio {r:6.3f}  (goal >= {goal})  {'OK' if ok else 'BELOW GOAL'}")
    return ok
