"""kill -9 of the bot mid-run, then a restart: no confirmed fill lost, no position doubled."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from e2e.world import KEY_ID, served, write_params
from kalbot.adapters.kalshi.client import KalshiClient
from kalbot.adapters.kalshi.signing import Signer
from kalbot.adapters.simulated.server.faults import FaultConfig
from kalbot.bootstrap import build_trading_app
from kalbot.config import load_settings
from kalbot.engine.reconcile import find_mismatches

HERE = Path(__file__).resolve().parent
SRC = HERE.parents[1] / "src"


def _env(w: object, db: Path, tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": f"{SRC}{os.pathsep}{HERE.parent}",
            "KALBOT_DATABASE__URL": f"sqlite+aiosqlite:///{db}",
            "KALBOT_KALSHI__BASE_URL": w.server.base_url,  # type: ignore[attr-defined]
            "KALBOT_KALSHI__API_KEY_ID": KEY_ID,
            "KALBOT_KALSHI__PRIVATE_KEY_PATH": str(w.key_file),  # type: ignore[attr-defined]
            "KALBOT_KALSHI__READ_TOKENS_PER_SECOND": "100000",
            "KALBOT_KALSHI__WRITE_TOKENS_PER_SECOND": "100000",
            "KALBOT_AI__HEURISTIC_PARAMS_PATH": str(tmp / "m.json"),
            "KALBOT_TRADING__MIN_VOLUME_24H": "0",
            "KALBOT_TRADING__MIN_OPEN_INTEREST": "0",
            "KALBOT_TRADING__CLOSE_BEFORE_EXPIRY_MINUTES": "0",
            "KALBOT_RISK__MAX_DAILY_LOSS": "5000",
            "KALBOT_RISK__MAX_DRAWDOWN": "0.9",
            "KALBOT_RISK__COOLDOWN_MINUTES": "0",
        }
    )
    return env


def _count(db: Path, sql: str) -> int:
    if not db.exists():
        return 0
    con = sqlite3.connect(db, timeout=5)
    try:
        return int(con.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # not migrated yet
    finally:
        con.close()


def _launch(w: object, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    start = w.world.clock.now().isoformat()  # type: ignore[attr-defined]
    speed = str(w.world.clock.speed)  # type: ignore[attr-defined]
    return subprocess.Popen(
        [sys.executable, str(HERE / "bot_process.py"), start, speed],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def _wait(pred: object, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not pred():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out waiting for {what}; bot log:\n{log.read_text()[-3000:]}"
            )
        time.sleep(0.1)


@pytest.mark.slow
def test_kill_9_mid_run_then_restart_loses_no_fill_and_doubles_nothing(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    log = tmp_path / "bot.log"
    write_params(tmp_path / "m.json")
    with served(
        tmp_path, speed=3600.0, faults=FaultConfig(drop_after_accept_rate=0.2, seed=5)
    ) as w:
        env = _env(w, db, tmp_path)
        first = _launch(w, env, log)
        try:
            _wait(lambda: _count(db, "SELECT COUNT(*) FROM fills") >= 2, 90, "the first fills", log)
        finally:
            first.kill()  # SIGKILL: no cleanup runs
            first.wait(10)
        cycles_before = _count(db, "SELECT COUNT(*) FROM cycles")
        second = _launch(w, env, log)
        try:
            _wait(
                lambda: _count(db, "SELECT COUNT(*) FROM cycles") >= cycles_before + 4,
                90,
                "cycles after the restart",
                log,
            )
        finally:
            second.kill()
            second.wait(10)
        asyncio.run(_check(w, db, tmp_path))


async def _check(w: object, db: Path, tmp: Path) -> None:
    # A third start (in process) syncs whatever the second instance had not yet seen.
    s = load_settings(
        database={"url": f"sqlite+aiosqlite:///{db}"},
        kalshi={
            "base_url": w.server.base_url,  # type: ignore[attr-defined]
            "api_key_id": KEY_ID,
            "private_key_path": str(w.key_file),  # type: ignore[attr-defined]
        },
        ai={"heuristic_params_path": str(tmp / "m.json")},
    )
    bot = await build_trading_app(s, mode="paper", clock=w.world.clock)  # type: ignore[attr-defined]
    try:
        await bot.engine.load()
        client = KalshiClient(w.server.base_url, signer=Signer.from_files(KEY_ID, w.key_file))  # type: ignore[attr-defined]
        async with client:
            ex_fills = {f.fill_id or f.trade_id async for f in client.iter_fills()}
            ex_orders = [o async for o in client.iter_orders()]
        async with bot.repo.connection("check") as conn:
            db_fills = {
                r[0] for r in (await conn.exec_driver_sql("SELECT fill_id FROM fills")).all()
            }
            opened = (
                await conn.exec_driver_sql("SELECT ticker FROM positions WHERE status = 'open'")
            ).all()
            open_orders = (
                await conn.exec_driver_sql(
                    "SELECT client_order_id FROM orders WHERE purpose = 'open'"
                )
            ).all()
        assert ex_fills and ex_fills == db_fills  # no confirmed fill lost
        per_coid = Counter(o.client_order_id for o in ex_orders)
        assert max(per_coid.values()) == 1  # no decision sent twice
        assert len({o[0] for o in open_orders}) == len(open_orders)
        per_ticker = Counter(t for (t,) in opened)
        assert not per_ticker or max(per_ticker.values()) == 1  # no second position per market
        # After one more cycle (settlements applied), the database holds what the exchange
        # holds, except markets settling at this very moment.
        await bot.engine.run_cycle()
        left = [
            m
            for m in await find_mismatches(bot.engine.broker, bot.engine.book)
            if (await bot.engine.market_data.market(m.ticker)).result is None
        ]
        assert left == []
    finally:
        await bot.aclose()
