"""The screener: an ordered list of small filters, each with one reason code.

A market passes when every filter accepts it; the first filter that rejects names the reason.
Filters are plain functions of ``(market, now)`` so one cycle over thousands of markets stays
cheap and the same code runs in backtest, paper and live.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from kalbot.domain.market import Market

#: A filter returns None to accept a market, or the reason code it rejects it with.
Filter = Callable[[Market, datetime], str | None]


@dataclass(frozen=True, slots=True)
class ScreenConfig:
    """Thresholds for the default filters (TradingSettings feeds these in bootstrap)."""

    min_volume_24h: Decimal = Decimal(100)
    min_open_interest: Decimal = Decimal(50)
    max_spread: Decimal = Decimal("0.08")
    min_hours_to_close: Decimal = Decimal(1)
    max_days_to_close: Decimal = Decimal(30)
    min_price: Decimal = Decimal("0.05")
    max_price: Decimal = Decimal("0.95")
    categories_allow: frozenset[str] = frozenset()
    categories_deny: frozenset[str] = frozenset()
    tickers_deny: frozenset[str] = frozenset()


def default_filters(cfg: ScreenConfig) -> list[tuple[str, Filter]]:
    """The built-in filters in the order they run (cheap and decisive first)."""
    min_to_close = timedelta(hours=float(cfg.min_hours_to_close))
    max_to_close = timedelta(days=float(cfg.max_days_to_close))
    allow = {c.lower() for c in cfg.categories_allow}
    deny = {c.lower() for c in cfg.categories_deny}

    def status_open(m: Market, now: datetime) -> str | None:
        return None if m.status.is_open else "not_open"

    def not_combo(m: Market, now: datetime) -> str | None:
        return "combo_market" if m.is_combo else None

    def ticker_allowed(m: Market, now: datetime) -> str | None:
        return "ticker_denied" if m.ticker in cfg.tickers_deny else None

    def category_allowed(m: Market, now: datetime) -> str | None:
        cat = m.category.lower()
        if allow and cat not in allow:
            return "category_not_allowed"
        if cat in deny:
            return "category_denied"
        return None

    def time_to_close(m: Market, now: datetime) -> str | None:
        left = m.close_time - now
        if left < min_to_close:
            return "closes_too_soon"
        if left > max_to_close:
            return "closes_too_late"
        return None

    def liquidity(m: Market, now: datetime) -> str | None:
        if m.volume_24h < cfg.min_volume_24h:
            return "low_volume"
        if m.open_interest < cfg.min_open_interest:
            return "low_open_interest"
        return None

    def quote_ok(m: Market, now: datetime) -> str | None:
        q = m.quote
        if q.yes_bid is None or q.yes_ask is None:
            return "one_sided_book"
        if q.yes_ask - q.yes_bid > cfg.max_spread:
            return "spread_too_wide"
        mid = (q.yes_bid + q.yes_ask) / 2
        if mid < cfg.min_price or mid > cfg.max_price:
            return "price_out_of_range"
        return None

    return [
        ("status_open", status_open),
        ("not_combo", not_combo),
        ("ticker_allowed", ticker_allowed),
        ("category_allowed", category_allowed),
        ("time_to_close", time_to_close),
        ("liquidity", liquidity),
        ("quote_ok", quote_ok),
    ]


def fused_default(cfg: ScreenConfig) -> Filter:
    """The default filters as one function: same order, same reason codes, one call per market.

    The screener runs over every open market each cycle; seven closure calls per market cost
    more than the checks themselves. ``tests/engine/test_screener.py`` proves it agrees with
    ``default_filters`` on generated markets.
    """
    min_to_close = timedelta(hours=float(cfg.min_hours_to_close))
    max_to_close = timedelta(days=float(cfg.max_days_to_close))
    allow = {c.lower() for c in cfg.categories_allow}
    deny = {c.lower() for c in cfg.categories_deny}
    tickers_deny = cfg.tickers_deny
    min_vol, min_oi = cfg.min_volume_24h, cfg.min_open_interest
    max_spread, lo, hi = cfg.max_spread, cfg.min_price * 2, cfg.max_price * 2

    def screen_one(m: Market, now: datetime) -> str | None:
        if not m.status.is_open:
            return "not_open"
        if m.is_combo:
            return "combo_market"
        if m.ticker in tickers_deny:
            return "ticker_denied"
        if allow or deny:
            cat = m.category.lower()
            if allow and cat not in allow:
                return "category_not_allowed"
            if cat in deny:
                return "category_denied"
        left = m.close_time - now
        if left < min_to_close:
            return "closes_too_soon"
        if left > max_to_close:
            return "closes_too_late"
        if m.volume_24h < min_vol:
            return "low_volume"
        if m.open_interest < min_oi:
            return "low_open_interest"
        q = m.quote
        bid, ask = q.yes_bid, q.yes_ask
        if bid is None or ask is None:
            return "one_sided_book"
        if ask - bid > max_spread:
            return "spread_too_wide"
        both = bid + ask  # 2 x mid: no division on the hot path
        if both < lo or both > hi:
            return "price_out_of_range"
        return None

    return screen_one


@dataclass(slots=True)
class ScreenResult:
    passed: list[Market] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)  # ticker -> reason code
    counts: Counter[str] = field(default_factory=Counter)  # reason code -> markets


class Screener:
    """Runs the filters over a cycle's markets and counts rejections by reason."""

    def __init__(self, filters: Sequence[tuple[str, Filter]], fused: Filter | None = None) -> None:
        self._filters = [f for _, f in filters]
        self.names = [n for n, _ in filters]
        self._fused = fused

    @classmethod
    def from_config(cls, cfg: ScreenConfig) -> Screener:
        return cls(default_filters(cfg), fused_default(cfg))

    def reason(self, market: Market, now: datetime) -> str | None:
        """The first reason a market is rejected, or None when it passes."""
        if self._fused is not None:
            return self._fused(market, now)
        for f in self._filters:
            why = f(market, now)
            if why is not None:
                return why
        return None

    def screen(self, markets: Iterable[Market], now: datetime) -> ScreenResult:
        out = ScreenResult()
        reason = self.reason if self._fused is None else self._fused
        passed, rejected, counts = out.passed.append, out.rejected, out.counts
        for m in markets:
            why = reason(m, now)
            if why is None:
                passed(m)
            else:
                rejected[m.ticker] = why
                counts[why] += 1
        return out
