"""The bot against the simulated exchange served on loopback, through the real Kalshi client.

Several cycles in accelerated time on SQLite and PostgreSQL, with the server dropping
connections after accepting orders; then the database is checked against the exchange.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from e2e.world import KEY_ID, served, write_params
from kalbot.adapters.kalshi.client import KalshiClient
from kalbot.adapters.kalshi.signing import Signer
from kalbot.adapters.simulated.server.faults import FaultConfig
from kalbot.adapters.store.convert import from_real
from kalbot.adapters.store.repository import Repository
from kalbot.bootstrap import build_trading_app
from kalbot.engine.reconcile import find_mismatches

TOL = Decimal("0.000001")


async def _rows(repo: object, sql: str) -> list[dict[str, object]]:
    async with repo.connection("e2e read") as conn:  # type: ignore[attr-defined]
        return [dict(r) for r in (await conn.exec_driver_sql(sql)).mappings().all()]


async def _run(db_url: str, tmp_path: Path) -> None:
    faults = FaultConfig(drop_after_accept_rate=0.5, seed=11)
    # Migrate before the accelerated clock starts, so the bot sees the markets' whole lives.
    repo = Repository(db_url)
    await repo.initialize()
    write_params(tmp_path / "m.json")
    with served(tmp_path, faults=faults, speed=3600.0) as w:
        s = w.settings(db_url)
        bot = await build_trading_app(s, mode="paper", clock=w.world.clock, repo=repo)
        end = w.world.clock.now().replace(microsecond=0)
        from datetime import timedelta

        end += timedelta(days=1, hours=2)
        try:
            cycles = 0
            while w.world.clock.now() < end:
                await bot.engine.run_cycle()
                cycles += 1
                await asyncio.sleep(0.2)
            repo = bot.repo
            assert cycles >= 5
            assert w.world.service.faults.injected["drop_after_accept"] >= 1

            client = KalshiClient(w.server.base_url, signer=Signer.from_files(KEY_ID, w.key_file))
            async with client:
                ex_fills = [f async for f in client.iter_fills()]
                ex_orders = [o async for o in client.iter_orders()]
            # No duplicate orders although the server dropped answers after accepting some.
            coids = [o.client_order_id for o in ex_orders]
            assert len(coids) == len(set(coids)) and len(coids) >= 2
            fills = await _rows(repo, "SELECT * FROM fills")
            assert {f["fill_id"] for f in fills} == {f.fill_id or f.trade_id for f in ex_fills}
            orders = await _rows(repo, "SELECT client_order_id FROM orders")
            assert set(coids) <= {o["client_order_id"] for o in orders}

            # Every market ended: the database holds what the exchange holds (nothing).
            assert await find_mismatches(bot.engine.broker, bot.engine.book) == []
            positions = await _rows(repo, "SELECT * FROM positions")
            assert positions and all(p["status"] == "closed" for p in positions)
            settled = [p for p in positions if str(p["close_reason"]).startswith("settled_")]
            assert settled, "some positions were held to settlement"
            for p in settled:
                payout = Decimal(1) if p["exit_price"] == 1 else Decimal(0)
                assert p["close_reason"] in ("settled_yes", "settled_no")
                assert from_real(p["exit_price"]) == payout  # type: ignore[arg-type]

            # Realised P&L per market equals what its fills and settlement paid, after fees.
            cash: dict[str, Decimal] = defaultdict(Decimal)
            for f in fills:
                amount = from_real(f["count"]) * from_real(f["price"])  # type: ignore[arg-type,operator]
                cash[str(f["ticker"])] += -amount if f["action"] == "buy" else amount
                cash[str(f["ticker"])] -= from_real(f["fee"])  # type: ignore[arg-type,operator]
            for p in settled:
                cash[str(p["ticker"])] += from_real(p["quantity"]) * from_real(p["exit_price"])  # type: ignore[arg-type,operator]
            booked: dict[str, Decimal] = defaultdict(Decimal)
            for p in positions:
                booked[str(p["ticker"])] += from_real(p["pnl"])  # type: ignore[arg-type,operator]
            for t in booked:
                assert abs(booked[t] - cash[t]) < TOL, (t, booked[t], cash[t])

            # Analyses with costs, snapshots, results, performance, reasons.
            counts = await repo.table_counts(
                [
                    "market_analyses",
                    "market_snapshots",
                    "market_results",
                    "performance_logs",
                    "cycles",
                ]
            )
            assert counts["market_analyses"] > 0 and counts["market_snapshots"] > 0
            assert counts["market_results"] >= 1 and counts["performance_logs"] >= 1
            assert counts["cycles"] == cycles
            costs = await _rows(repo, "SELECT * FROM ai_cost_tracking")
            assert costs and all(c["provider"] == "heuristic" for c in costs)
            blank = await _rows(
                repo, "SELECT COUNT(*) AS n FROM decision_log WHERE reason_code = ''"
            )
            assert blank[0]["n"] == 0
            refusals = await _rows(
                repo, "SELECT COUNT(*) AS n FROM decision_log WHERE outcome = 'refused'"
            )
            screened = await _rows(
                repo, "SELECT COUNT(*) AS n FROM decision_log WHERE stage = 'screen'"
            )
            assert refusals[0]["n"] + screened[0]["n"] > 0  # type: ignore[operator]
        finally:
            await bot.aclose()


@pytest.mark.slow
def test_bot_trades_settles_and_keeps_the_database_true_under_dropped_answers(
    db_url: str, tmp_path: Path
) -> None:
    asyncio.run(_run(db_url, tmp_path))
