"""`kalbot backtest` end to end: report, export, compare, and the no-data exit."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from backtest import golden
from kalbot.adapters.store.repository import Repository
from kalbot.cli import register_commands
from kalbot.cli.apps import app


async def _seed(url: str) -> None:
    repo = Repository(url)
    await repo.initialize()
    try:
        await golden.load(repo, golden.markets())
    finally:
        await repo.close()


def test_backtest_exports_and_compares(tmp_path: Path) -> None:
    register_commands()
    url = f"sqlite+aiosqlite:///{tmp_path / 'k.db'}"
    asyncio.run(_seed(url))
    cfg = tmp_path / "bt.toml"
    cfg.write_text(
        '[risk]\nsizing = "fixed"\nfixed_contracts = 10\n'
        '[trading]\nstrategy = "standard"\nprofit_target = "5"\nclose_before_expiry_minutes = 0\n'
        '[ai]\nmin_edge = "0.03"\nmin_confidence = "0.5"\n',
        encoding="utf-8",
    )
    args = ["backtest", "--start", "2026-03-02T12:00:00Z", "--end", "2026-03-03T00:00:00Z"]
    args += ["--capital", "1000", "--config", str(cfg), "--url", url]
    r = CliRunner().invoke(app, [*args, "--export", str(tmp_path / "a")])
    assert r.exit_code == 0, r.output
    assert "snapshots/s" in r.output and "exported 8 files" in r.output
    data = json.loads((tmp_path / "a" / "report.json").read_text(encoding="utf-8"))
    assert data["trade_metrics"]["total_pnl"] == "-0.14"
    assert data["equity_metrics"]["final_equity"] == "999.86"
    # the six trades are in the decision counts: approved by risk, ordered, filled
    assert data["decisions"]["risk:approved:analyst_edge"] == 6
    # a second exported run (its report.json is all --compare reads)
    data["meta"]["fill_model"] = "touch"
    data["trade_metrics"]["trades"] = 99
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "report.json").write_text(json.dumps(data), encoding="utf-8")
    r = CliRunner().invoke(app, ["backtest", "--compare", str(tmp_path / "a"), str(tmp_path / "b")])
    assert r.exit_code == 0, r.output
    assert "conservative" in r.output and "touch" in r.output
    assert any("trades" in line and "6" in line and "99" in line for line in r.output.splitlines())


def test_empty_range_exits_non_zero_with_a_clear_message(tmp_path: Path) -> None:
    register_commands()
    url = f"sqlite+aiosqlite:///{tmp_path / 'k.db'}"
    asyncio.run(_seed(url))
    r = CliRunner().invoke(
        app, ["backtest", "--start", "2025-01-01", "--end", "2025-02-01", "--url", url]
    )
    assert r.exit_code == 1
    assert "no snapshots between" in r.output and "nothing to backtest" in r.output


def test_a_run_without_trades_says_so_instead_of_empty_tables(tmp_path: Path) -> None:
    register_commands()
    url = f"sqlite+aiosqlite:///{tmp_path / 'k.db'}"
    asyncio.run(_seed(url))
    cfg = tmp_path / "bt.toml"
    cfg.write_text('[ai]\nmin_edge = "0.99"\n', encoding="utf-8")  # no edge is ever enough
    args = ["backtest", "--start", "2026-03-02T12:00:00Z", "--end", "2026-03-03T00:00:00Z"]
    r = CliRunner().invoke(app, [*args, "--config", str(cfg), "--url", url])
    assert r.exit_code == 0, r.output
    assert "no closed trades to attribute" in r.output
    assert "Attribution by" not in r.output
    # ... and why: every decision by stage, outcome and reason (no analysis was missing here)
    assert "Decisions by stage, outcome and reason" in r.output
    assert "strategy:skipped:" in r.output and "hint:" not in r.output


def test_no_recorded_analyses_explains_why_nothing_traded(tmp_path: Path) -> None:
    register_commands()
    url = f"sqlite+aiosqlite:///{tmp_path / 'k.db'}"

    async def seed_without_analyses() -> None:
        repo = Repository(url)
        await repo.initialize()
        try:
            await repo.add_snapshots(golden.snapshots(golden.markets()))
        finally:
            await repo.close()

    asyncio.run(seed_without_analyses())
    args = ["backtest", "--start", "2026-03-02T12:00:00Z", "--end", "2026-03-03T00:00:00Z"]
    r = CliRunner().invoke(app, [*args, "--url", url, "--export", str(tmp_path / "x")])
    assert r.exit_code == 0, r.output
    assert "strategy:skipped:no_recorded_analysis" in r.output
    assert "hint: no analysis was recorded" in r.output and "--analyst heuristic" in r.output
    data = json.loads((tmp_path / "x" / "report.json").read_text(encoding="utf-8"))
    counts = data["decisions"]
    top = max(counts, key=lambda k: counts[k])
    assert top == "strategy:skipped:no_recorded_analysis"
    md = (tmp_path / "x" / "summary.md").read_text(encoding="utf-8")
    assert "## Decisions by stage, outcome and reason" in md
    assert f"| {top} | {counts[top]} |" in md


def test_the_engine_gc_setting_lasts_only_as_long_as_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    import kalbot.backtest_app
    from kalbot.adapters.simulated.gc_policy import ENGINE_GC_THRESHOLDS

    register_commands()
    url = f"sqlite+aiosqlite:///{tmp_path / 'k.db'}"
    asyncio.run(_seed(url))
    during: list[tuple[int, int, int]] = []
    real = kalbot.backtest_app.run_backtest

    async def spy(*args: Any, **kwargs: Any) -> Any:
        during.append(gc.get_threshold())
        return await real(*args, **kwargs)

    monkeypatch.setattr(kalbot.backtest_app, "run_backtest", spy)
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        args = ["backtest", "--start", "2026-03-02T12:00:00Z", "--end", "2026-03-03T00:00:00Z"]
        r = CliRunner().invoke(app, [*args, "--url", url])
        assert r.exit_code == 0, r.output
        assert during == [ENGINE_GC_THRESHOLDS]  # the run collects under the engine's setting
        assert gc.get_threshold() == (700, 10, 10)  # and the caller's setting is back after
    finally:
        gc.set_threshold(*before)
