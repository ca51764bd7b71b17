"""`kalbot demo` in lockstep: the same seed gives the same run, and the database is populated."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from kalbot.cli.demo import DemoOptions, run_demo
from kalbot.config import Settings


def _options(tmp: Path, name: str) -> DemoOptions:
    return DemoOptions(
        markets=10,
        days=1,
        seed=7,
        step=timedelta(hours=2),
        db_path=tmp / name / "kalshi_trading.db",
        params_path=tmp / name / "demo_analyst_model.json",
        training_markets=40,
    )


def _run(opts: DemoOptions) -> dict[str, Any]:
    opts.db_path.parent.mkdir(parents=True)
    report = asyncio.run(run_demo(Settings(), opts))
    report.pop("seconds")  # wall-clock figures are the only things allowed to differ:
    for key in ("positions", "performance"):  # the database's own CURRENT_TIMESTAMP stamps
        report[key] = [{k: v for k, v in row.items() if k != "created_at"} for row in report[key]]
    return report


def test_same_seed_same_run_and_a_populated_database(tmp_path: Path) -> None:
    first = _run(_options(tmp_path, "a"))
    second = _run(_options(tmp_path, "b"))

    assert first == second  # cycles, positions (prices, times, P&L), decisions, row counts
    counts = first["counts"]
    for table in ("positions", "market_analyses", "market_snapshots", "performance_logs"):
        assert counts[table] > 0, table
    # 1 day in 2-hour steps up to the last close + settlement + one step
    assert first["cycles"] == counts["cycles"] > 5
    positions = first["positions"]
    sides = {str(p["side"]).lower() for p in positions}
    assert sides == {"yes", "no"}, sides
    # markets closed and settled during the run: nothing is left open, some paid out
    assert all(p["status"] == "closed" for p in positions)
    reasons = {p["close_reason"] for p in positions}
    assert reasons & {"settled_yes", "settled_no"}, reasons
    assert first["decisions"], "decision counts are reported"


def test_a_non_positive_step_is_refused(tmp_path: Path) -> None:
    opts = _options(tmp_path, "c")
    with pytest.raises(ValueError, match="step must be positive"):
        asyncio.run(
            run_demo(
                Settings(),
                DemoOptions(
                    markets=2,
                    days=1,
                    step=timedelta(0),
                    db_path=opts.db_path,
                    params_path=opts.params_path,
                ),
            )
        )
