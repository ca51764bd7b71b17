"""Small fixed datasets with hand-computed expectations for the golden backtests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from kalbot.adapters.store.repository import Repository
from kalbot.config import Settings, load_settings
from kalbot.domain.decisions import Decision
from kalbot.domain.snapshot import Snapshot
from kalbot.domain.trading import MarketResultRow

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
CLOSE = T0 + timedelta(hours=10)
END = T0 + timedelta(hours=12)
CATEGORY = "Golden"


@dataclass
class GoldenMarket:
    ticker: str
    result: str | None
    p_yes: str  # the recorded analysis at T0
    # hour -> (yes_bid, yes_ask, yes_bid_size, yes_ask_size)
    quotes: dict[int, tuple[float, float, int, int]] = field(default_factory=dict)
    analysis_at: int = 0  # hours after T0


def settings() -> Settings:
    """Fixed sizing (10 contracts), no profit target, exits only where a test plants them."""
    return load_settings(
        risk={"sizing": "fixed", "fixed_contracts": 10},
        trading={
            "strategy": "standard",
            "profit_target": "5",
            "stop_loss": "0.15",
            "close_before_expiry_minutes": 0,
        },
        ai={"min_edge": "0.03", "min_confidence": "0.5"},
    )


def flat(
    bid: float, ask: float, bsize: int = 100, asize: int = 100
) -> dict[int, tuple[float, float, int, int]]:
    return {h: (bid, ask, bsize, asize) for h in range(9)}


def markets() -> list[GoldenMarket]:
    stop = flat(0.48, 0.50)
    for h in range(2, 9):
        stop[h] = (0.40, 0.60, 100, 100)  # falls: stop-loss at the 0.40 bid, spread bars re-entry
    return [
        GoldenMarket("GLD-A", "yes", "0.80", flat(0.48, 0.50)),  # YES bought, wins
        GoldenMarket("GLD-B", "no", "0.80", flat(0.48, 0.50)),  # YES bought, loses
        GoldenMarket("GLD-C", "no", "0.20", flat(0.50, 0.52)),  # NO bought at 0.50, wins
        GoldenMarket("GLD-D", "yes", "0.20", flat(0.50, 0.52)),  # NO bought, loses
        GoldenMarket("GLD-E", "no", "0.80", stop),  # YES bought, stopped out
        GoldenMarket("GLD-F", "yes", "0.80", flat(0.48, 0.50, 100, 4)),  # partial: 4 of 10
    ]


def snapshots(ms: list[GoldenMarket]) -> list[Snapshot]:
    out: list[Snapshot] = []
    for m in ms:
        for h, (bid, ask, bsize, asize) in m.quotes.items():
            out.append(
                Snapshot(
                    timestamp=T0 + timedelta(hours=h),
                    ticker=m.ticker,
                    title=f"golden {m.ticker}",
                    last_price=None,
                    yes_bid=bid,
                    yes_ask=ask,
                    no_bid=round(1 - ask, 4),
                    no_ask=round(1 - bid, 4),
                    volume_24h=1000,
                    open_interest=1000,
                    close_time=CLOSE.isoformat().replace("+00:00", "Z"),
                    category=CATEGORY,
                    metadata={
                        "event_ticker": m.ticker,
                        "series_ticker": "GLD",
                        "yes_bid_size": bsize,
                        "yes_ask_size": asize,
                    },
                )
            )
    out.sort(key=lambda s: (s.timestamp, s.ticker))
    return out


async def load(repo: Repository, ms: list[GoldenMarket]) -> None:
    await repo.add_snapshots(snapshots(ms))
    await repo.add_market_results(
        [
            MarketResultRow(
                ticker=m.ticker, event_ticker=m.ticker, category=CATEGORY, result=m.result,
                determined_at=CLOSE,
            )
            for m in ms
            if m.result is not None
        ]
    )  # fmt: skip
    for m in ms:
        await repo.add_market_analysis(
            ticker=m.ticker,
            ai_provider="heuristic",
            cost=Decimal(0),
            timestamp=T0 + timedelta(hours=m.analysis_at),
            decision=Decision.SKIP,
            confidence=Decimal("0.9"),
            analysis_text="golden",
            metadata={"probability_yes": m.p_yes, "model": "golden"},
        )
