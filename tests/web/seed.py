"""A realistic database for the dashboard tests, written through the store's repository.

The trading engine's tables (cycles, decision_log, risk_events) are written with plain SQL in
the columns /work/notes/trading_tables.md publishes; they are created here only when the
engine's migration has not created them.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kalbot.adapters.store.repository import Repository
from kalbot.domain.records import PerformanceLog
from kalbot.domain.snapshot import Snapshot

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # a Wednesday; the week began Monday the 23rd
D = Decimal

BTC = "KXBTC-26NOV30-100K"
FED = "KXFED-26DEC-CUT"
RAIN = "KXRAIN-NYC-26NOV23"
NOQUOTE = "KXNOQUOTE-26DEC01"


def _snapshots() -> list[Snapshot]:
    out = []
    for i in range(36):  # every 5 minutes over the last 3 hours
        ts = NOW - timedelta(minutes=5 * (35 - i))
        drift = i / 1000
        btc_bid = round(0.40 + drift, 2) if i < 35 else 0.46
        out.append(
            Snapshot(
                timestamp=ts,
                ticker=BTC,
                title="Bitcoin above $100k on Nov 30?",
                last_price=round(btc_bid + 0.01, 2),
                yes_bid=btc_bid,
                yes_ask=round(btc_bid + 0.02, 2),
                no_bid=round(1 - btc_bid - 0.02, 2),
                no_ask=round(1 - btc_bid, 2),
                volume_24h=5400 + i,
                open_interest=12000,
                close_time="2026-11-30T21:00:00Z",
                category="Crypto",
                metadata={"event_ticker": "KXBTC-26NOV30"},
            )
        )
        fed_bid = round(0.70 - drift * 2, 2) if i < 35 else 0.62
        out.append(
            Snapshot(
                timestamp=ts,
                ticker=FED,
                title="Fed cuts rates in December?",
                last_price=round(fed_bid + 0.01, 2),
                yes_bid=fed_bid,
                yes_ask=round(fed_bid + 0.03, 2),
                no_bid=round(1 - fed_bid - 0.03, 2),
                no_ask=round(1 - fed_bid, 2),
                volume_24h=900,
                open_interest=3000,
                close_time="2026-12-10T19:00:00Z",
                category="Economics",
                metadata={"event_ticker": "KXFED-26DEC"},
            )
        )
    return out


async def _positions(repo: Repository) -> None:
    # Open: YES 10 @ 0.40 (bid now 0.46), NO 20 @ 0.30 (NO bid now 1 - 0.65 = 0.35), and one
    # without any recorded quote.
    await repo.add_position(
        ticker=BTC,
        side="yes",
        quantity=10,
        entry_price=D("0.40"),
        entry_time=NOW - timedelta(hours=3),
        reason="edge 0.08 after fees",
    )
    await repo.add_position(
        ticker=FED,
        side="no",
        quantity=20,
        entry_price=D("0.30"),
        entry_time=NOW - timedelta(hours=2),
        reason="model P(YES)=0.58 below price",
    )
    await repo.add_position(
        ticker=NOQUOTE,
        side="yes",
        quantity=5,
        entry_price=D("0.55"),
        entry_time=NOW - timedelta(hours=1),
        reason="high confidence",
    )
    closes = [
        # (ticker, side, qty, entry, entry_time, exit, exit_time, fees, close_reason)
        (BTC, "yes", 10, "0.35", NOW - timedelta(hours=6), "0.50", NOW - timedelta(hours=1),
         "0.18", "profit_target"),
        (FED, "no", 15, "0.25", NOW - timedelta(hours=5), "0.00", NOW - timedelta(minutes=30),
         "0", "settled_yes"),
        (RAIN, "no", 8, "0.20", datetime(2026, 11, 23, 9, tzinfo=UTC), "1.00",
         datetime(2026, 11, 23, 18, tzinfo=UTC), "0.11", "settled_no"),
        (RAIN, "yes", 12, "0.60", datetime(2026, 11, 19, 9, tzinfo=UTC), "0.45",
         datetime(2026, 11, 20, 14, tzinfo=UTC), "0.17", "stop_loss"),
    ]  # fmt: skip
    for ticker, side, qty, entry, et, exit_, xt, fees, why in closes:
        p = await repo.add_position(
            ticker=ticker, side=side, quantity=qty, entry_price=D(entry), entry_time=et
        )
        await repo.close_position(
            p.id, exit_price=D(exit_), exit_time=xt, close_reason=why, fees=D(fees)
        )


async def _analyses(repo: Repository) -> None:
    rows: list[tuple[str, str, str, datetime, str, str, dict[str, object], str | None]] = [
        (BTC, "openai", "0.0123", NOW - timedelta(minutes=50), "OPEN_YES", "0.74",
         {"model": "gpt-4o-mini", "probability_yes": "0.62", "input_tokens": 812},
         "Spot is 3% below the strike with five days left; implied vol suggests 62%."),
        (FED, "anthropic", "0.0250", NOW - timedelta(minutes=40), "SKIP", "0.40",
         {"model": "claude-sonnet", "probability_yes": "0.66"},
         "Futures price roughly the same probability as the market: no edge after fees."),
        (FED, "openai", "0.004", NOW - timedelta(minutes=30), "SKIP", "0",
         {"model": "gpt-4o-mini", "error": "invalid JSON in reply"}, None),
        (BTC, "heuristic", "0", NOW - timedelta(minutes=20), "SKIP", "0.20",
         {"model": "logistic-v1", "probability_yes": "0.47"}, "Recalibrated mid 0.47."),
        (FED, "heuristic", "0", NOW - timedelta(minutes=10), "OPEN_NO", "0.55",
         {"model": "logistic-v1", "probability_yes": "0.58"}, "Recalibrated mid 0.58."),
        (RAIN, "xai", "0.5", NOW - timedelta(days=1), "OPEN_NO", "0.81",
         {"model": "grok-4", "probability_yes": "0.12"}, "Forecast shows a dry front."),
    ]  # fmt: skip
    for ticker, provider, cost, ts, decision, conf, meta, rationale in rows:
        await repo.add_market_analysis(
            ticker=ticker,
            ai_provider=provider,
            cost=D(cost),
            timestamp=ts,
            decision=decision,
            confidence=D(conf),
            analysis_text=rationale,
            metadata=meta,
        )
    today, yesterday = NOW.date(), NOW.date() - timedelta(days=1)
    await repo.add_ai_cost(today, "openai", D("0.0123"))
    await repo.add_ai_cost(today, "openai", D("0.004"))
    await repo.add_ai_cost(today, "anthropic", D("0.0250"))
    await repo.add_ai_cost(today, "heuristic", D("0"), calls=2)
    await repo.add_ai_cost(yesterday, "xai", D("0.5"))


PORTFOLIO = [
    "10000.00", "10012.50", "9990.00", "10030.00", "10001.20",
    "9985.00", "10040.00", "10055.50", "10049.00", "10047.20",
]  # fmt: skip


async def _performance(repo: Repository) -> None:
    start = date(2026, 11, 16)
    prev = D("10000.00")
    for i, value in enumerate(PORTFOLIO):
        v = D(value)
        await repo.upsert_performance_log(
            PerformanceLog(
                day=start + timedelta(days=i),
                total_pnl=v - prev,
                num_trades=i % 3,
                portfolio_value=v,
                win_rate=D("0.5") if i % 3 else None,
                daily_return=((v - prev) / prev).quantize(D("0.000001")),
                max_drawdown=None,
            )
        )
        prev = v


ENGINE_DDL = {
    "cycles": """CREATE TABLE IF NOT EXISTS cycles (id INTEGER PRIMARY KEY, started_at TEXT,
        finished_at TEXT, mode TEXT, strategy TEXT, markets_seen INTEGER, screened_out TEXT,
        analysed INTEGER, ai_spend_today NUMERIC, ai_budget NUMERIC, orders INTEGER,
        fills INTEGER, open_positions INTEGER, pnl_today NUMERIC, equity NUMERIC, cash NUMERIC,
        risk_state TEXT, errors INTEGER)""",
    "decision_log": """CREATE TABLE IF NOT EXISTS decision_log (id INTEGER PRIMARY KEY,
        cycle_id INTEGER, ts TEXT, ticker TEXT, stage TEXT, decision TEXT, outcome TEXT,
        reason_code TEXT NOT NULL, detail TEXT, strategy TEXT, confidence NUMERIC,
        quantity NUMERIC, price NUMERIC)""",
    "risk_events": """CREATE TABLE IF NOT EXISTS risk_events (id INTEGER PRIMARY KEY, ts TEXT,
        state TEXT, reason_code TEXT, detail TEXT, equity NUMERIC, peak_equity NUMERIC,
        day_start_equity NUMERIC)""",
}


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


async def seed_engine_tables(
    engine: AsyncEngine, mode: str = "paper", risk: str = "ACTIVE"
) -> None:
    async with engine.begin() as conn:
        for ddl in ENGINE_DDL.values():
            await conn.execute(text(ddl))
        for i, age in enumerate((600, 300, 40), start=1):
            done = NOW - timedelta(seconds=age)
            await conn.execute(
                text(
                    "INSERT INTO cycles (id, started_at, finished_at, mode, strategy, "
                    "markets_seen, screened_out, analysed, ai_spend_today, ai_budget, orders, "
                    "fills, open_positions, pnl_today, equity, cash, risk_state, errors) VALUES "
                    "(:id, :s, :f, :mode, 'standard', 240, :so, 5, 0.0413, 10, 1, 1, 3, -2.43, "
                    "10047.20, 10035.45, :risk, :err)"
                ),
                {
                    "id": i,
                    "s": iso(done - timedelta(seconds=3)),
                    "f": iso(done),
                    "mode": mode,
                    "so": json.dumps({"spread_too_wide": 12, "low_volume": 30}),
                    "risk": risk,
                    "err": 1 if i == 2 else 0,
                },
            )
        log = [
            ("no_edge_after_fees", "skipped", 3, NOW - timedelta(minutes=20)),
            ("max_open_positions", "refused", 1, NOW - timedelta(minutes=15)),
            ("ai_budget_exhausted", "skipped", 2, NOW - timedelta(minutes=5)),
            ("edge_ok", "approved", 1, NOW - timedelta(minutes=4)),
            ("cooldown", "refused", 1, NOW - timedelta(days=1)),
        ]
        n = 0
        for reason, outcome, count, ts in log:
            for _ in range(count):
                n += 1
                await conn.execute(
                    text(
                        "INSERT INTO decision_log (id, cycle_id, ts, ticker, stage, decision, "
                        "outcome, reason_code, detail) VALUES (:id, 3, :ts, :t, 'risk', 'SKIP', "
                        ":o, :r, :d)"
                    ),
                    {"id": n, "ts": iso(ts), "t": FED, "o": outcome, "r": reason, "d": "test"},
                )
        for i, (state, reason, age) in enumerate(
            (("HALTED", "daily_loss_limit", 7200), (risk, "daily_reset", 3600)), start=1
        ):
            await conn.execute(
                text(
                    "INSERT INTO risk_events (id, ts, state, reason_code, detail, equity, "
                    "peak_equity, day_start_equity) "
                    "VALUES (:id, :ts, :s, :r, '', 10047.2, 10055.5, 10049)"
                ),
                {"id": i, "ts": iso(NOW - timedelta(seconds=age)), "s": state, "r": reason},
            )


async def seed(url: str, engine_tables: bool = True) -> None:
    """Upgrade ``url`` to the newest schema and fill it."""
    repo = Repository(url)
    await repo.initialize()
    try:
        await repo.add_snapshots(_snapshots())
        await _positions(repo)
        await _analyses(repo)
        await _performance(repo)
        if engine_tables:
            await seed_engine_tables(repo.engine)
    finally:
        await repo.close()
