"""Runs a ``SyntheticScenario`` live on an ``Exchange`` (for ``kalbot sim serve`` and demos).

A market-maker account keeps a ladder of bids and offers around each market's fair value,
noise traders take that liquidity now and then, and each market is settled at its scenario
result once its close time has passed. The driver owns no clock: call ``step()`` whenever the
exchange's clock has moved (the server does it on a timer, a test after ``clock.advance``).
"""

from __future__ import annotations

import contextlib
import random
from datetime import datetime, timedelta
from decimal import Decimal

from kalbot.adapters.simulated.errors import EngineError
from kalbot.adapters.simulated.exchange import Exchange
from kalbot.adapters.simulated.scenarios.synthetic import (
    SyntheticScenario,
    SynthMarket,
    quote_cents,
)
from kalbot.domain.market import MarketStatus
from kalbot.domain.orders import BookSide, OrderStatus, TimeInForce

MAKER_ACCOUNT = "__maker__"
NOISE_ACCOUNT = "__noise__"
INTERNAL_ACCOUNTS = (MAKER_ACCOUNT, NOISE_ACCOUNT)
_RICH = Decimal(100_000_000)


class SyntheticDriver:
    """Lists a scenario's markets on ``exchange`` and keeps them trading.

    ``levels`` price levels a side, ``settle_delay`` after close before settlement.

    By default each ``step()`` call is one chance (``noise_rate``) of a noise trade per market,
    so the flow depends on how often ``step`` runs — fine under a timer, wrong when the clock
    is stepped by hand (calls at one instant would keep eating the maker's book, which is only
    refreshed when the fair-value path moves). With ``noise_per_hour`` the flow follows
    *simulated* time instead: that many noise trades per market per simulated hour, a step
    at an unchanged time does nothing, and ``requote_every`` (simulated) also restores the
    maker's ladder between fair-value moves, so the book depth a client meets is set by the
    scenario and the step size, never by wall-clock speed.
    """

    def __init__(
        self,
        scenario: SyntheticScenario,
        exchange: Exchange,
        *,
        levels: int = 3,
        settle_delay: timedelta = timedelta(0),
        noise_rate: float = 0.5,
        noise_per_hour: float | None = None,
        requote_every: timedelta | None = None,
    ) -> None:
        self.scenario = scenario
        self.exchange = exchange
        self.levels = levels
        self.settle_delay = settle_delay
        self.noise_rate = noise_rate
        self._rng = random.Random(f"kalbot-synth-live:{scenario.seed}")
        self._quoted: dict[str, int] = {}  # ticker -> fair-path index last quoted
        self._maker_orders: dict[str, list[str]] = {}
        self._by_ticker: dict[str, SynthMarket] = {m.ticker: m for m in scenario.markets}
        self.noise_per_hour = noise_per_hour
        self.requote_every = requote_every
        self._quoted_at: dict[str, datetime] = {}
        self._noise_due: dict[str, float] = {}
        self._last_step: datetime | None = None
        self.installed = False

    def install(self) -> None:
        """List every market and open the internal accounts (idempotent)."""
        if self.installed:
            return
        for m in self.scenario.markets:
            self.exchange.add_market(m.spec)
        for name in INTERNAL_ACCOUNTS:
            if name not in self.exchange.accounts():
                self.exchange.open_account(name, _RICH)
        self.installed = True

    def step(self) -> None:
        """Bring every market up to the exchange clock: requote, noise-trade, settle."""
        self.install()
        now = self.exchange.advance()
        timed = self.noise_per_hour is not None
        if timed and self._last_step is not None and now <= self._last_step:
            return  # simulated time has not moved: nothing happens (lockstep determinism)
        hours = 0.0 if self._last_step is None else (now - self._last_step).total_seconds() / 3600
        self._last_step = now
        for ticker, m in self._by_ticker.items():
            status = self.exchange.market_status(ticker)
            if status is MarketStatus.ACTIVE:
                index = int((now - (m.spec.open_time or now)) / m.step)
                if self._quoted.get(ticker) != index or self._refresh_due(ticker, now):
                    self._requote(m, now_index=index)
                    self._quoted_at[ticker] = now
                if self.noise_per_hour is None:
                    if self._rng.random() < self.noise_rate:
                        self._noise(m)
                else:
                    due = self._noise_due.get(ticker, 0.0) + self.noise_per_hour * hours
                    while due >= 1.0:
                        self._noise(m)
                        due -= 1.0
                    self._noise_due[ticker] = due
            elif status is MarketStatus.CLOSED and now >= m.spec.close_time + self.settle_delay:
                self.exchange.settle(ticker, m.result)

    def _refresh_due(self, ticker: str, now: datetime) -> bool:
        every = self.requote_every
        last = self._quoted_at.get(ticker)
        return every is not None and last is not None and now - last >= every

    def _requote(self, m: SynthMarket, now_index: int) -> None:
        ex = self.exchange
        for order_id in self._maker_orders.pop(m.ticker, []):
            if ex.order(MAKER_ACCOUNT, order_id).status is OrderStatus.RESTING:
                ex.cancel_units(MAKER_ACCOUNT, order_id)
        fair = m.fair[min(now_index, len(m.fair) - 1)]
        bid, ask = quote_cents(fair, m.liquidity, self._rng)
        placed: list[str] = []
        for k in range(self.levels):
            size = self._rng.randint(5, 60) * m.liquidity * 100
            for side, cents in ((BookSide.BID, bid - k), (BookSide.ASK, ask + k)):
                if not 1 <= cents <= 99:
                    continue
                try:
                    o = ex.place_units(MAKER_ACCOUNT, m.ticker, side, cents * 100, size)
                except EngineError:
                    continue
                if o.status is OrderStatus.RESTING:
                    placed.append(o.order_id)
        self._maker_orders[m.ticker] = placed
        self._quoted[m.ticker] = now_index

    def _noise(self, m: SynthMarket) -> None:
        side = BookSide.BID if self._rng.random() < 0.5 else BookSide.ASK
        size = self._rng.randint(1, 20) * m.liquidity * 100
        price = 9_900 if side is BookSide.BID else 100  # take whatever rests
        # noise is optional: a refusal (e.g. the market closing this instant) is ignored
        with contextlib.suppress(EngineError):
            self.exchange.place_units(NOISE_ACCOUNT, m.ticker, side, price, size, TimeInForce.IOC)
