"""The collector setting is applied by entry points only, never by importing the engine."""

from __future__ import annotations

import gc
import subprocess
import sys

from kalbot.adapters.simulated.gc_policy import ENGINE_GC_THRESHOLDS, use_engine_gc


def test_use_engine_gc_sets_the_thresholds_and_returns_the_old_ones() -> None:
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        assert use_engine_gc() == (700, 10, 10)
        assert gc.get_threshold() == ENGINE_GC_THRESHOLDS
    finally:
        gc.set_threshold(*before)


def test_importing_and_running_the_engine_leaves_the_collector_alone() -> None:
    code = (
        "import gc\n"
        "from datetime import UTC, datetime, timedelta\n"
        "from decimal import Decimal\n"
        "from kalbot.adapters.simulated.exchange import Exchange, MarketSpec\n"
        "from kalbot.domain.clock import ManualClock\n"
        "from kalbot.domain.orders import BookSide\n"
        "now = datetime(2026, 1, 1, tzinfo=UTC)\n"
        "ex = Exchange(ManualClock(now))\n"
        "ex.add_market(MarketSpec('T', 'E', close_time=now + timedelta(days=1)))\n"
        "ex.open_account('a', Decimal(100))\n"
        "ex.place_units('a', 'T', BookSide.BID, 4200, 100)\n"
        "print(gc.get_threshold())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "(700, 10, 10)"
