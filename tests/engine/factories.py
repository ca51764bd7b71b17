"""Small builders for markets and analyses used across the engine tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from kalbot.domain.decisions import Analysis, Decision
from kalbot.domain.market import Market, MarketStatus, Quote

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def D(x: str | int) -> Decimal:
    return Decimal(x)


def market(
    ticker: str = "KXTEST-1",
    bid: str | None = "0.40",
    ask: str | None = "0.42",
    *,
    close_in: timedelta = timedelta(days=3),
    status: MarketStatus = MarketStatus.ACTIVE,
    volume_24h: int = 1000,
    open_interest: int = 500,
    category: str = "Economics",
    event_ticker: str = "KXTEST",
    is_combo: bool = False,
    size: int = 1000,
    now: datetime = NOW,
) -> Market:
    return Market(
        ticker=ticker,
        event_ticker=event_ticker,
        title=f"Test market {ticker}",
        status=status,
        quote=Quote(
            yes_bid=None if bid is None else D(bid),
            yes_ask=None if ask is None else D(ask),
            yes_bid_size=D(size),
            yes_ask_size=D(size),
        ),
        close_time=now + close_in,
        category=category,
        volume_24h=D(volume_24h),
        open_interest=D(open_interest),
        is_combo=is_combo,
    )


def analysis(
    ticker: str = "KXTEST-1",
    p_yes: str | None = "0.60",
    confidence: str = "0.70",
    decision: Decision = Decision.OPEN_YES,
    error: str | None = None,
) -> Analysis:
    return Analysis(
        ticker=ticker,
        probability_yes=None if p_yes is None else D(p_yes),
        decision=decision,
        confidence=D(confidence),
        rationale="test",
        provider="test",
        model="test",
        error=error,
    )
