"""Markets rebuilt from recorded ``market_snapshots`` rows (and their results).

The driver reads ``kalbot.domain.snapshot.Snapshot`` values from any async iterator (the
store's ``stream_snapshots`` through ``kalbot.ports.SnapshotStore``, a file, a test list), so
this adapter never imports the store. Each ticker is listed on first sight as a quote-driven
market (fills through a fill model, see ``fill_models.py``); every later snapshot updates its
quote, which may fill resting orders; markets whose close has passed are settled at their
result when one is known (the ``results`` mapping, else the snapshot's ``metadata["result"]``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from kalbot.adapters.simulated.exchange import Exchange
from kalbot.adapters.simulated.fill_models import FillModel, get_fill_model
from kalbot.adapters.simulated.markets import MarketSpec
from kalbot.adapters.simulated.records import SettlementRecord
from kalbot.domain.clock import ManualClock, parse_iso
from kalbot.domain.market import MarketResult, MarketStatus, Quote
from kalbot.domain.snapshot import Snapshot

_TICK = Decimal("0.0001")


class ReplayError(ValueError):
    """A snapshot that cannot become a market (it is skipped, never guessed)."""


@dataclass(slots=True)
class ReplayStats:
    snapshots: int = 0
    markets: int = 0
    settled: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # ticker -> why


class ReplayDriver:
    """Feeds recorded snapshots into an ``Exchange`` as quote-driven markets."""

    def __init__(
        self,
        exchange: Exchange,
        *,
        fill_model: FillModel | None = None,
        results: Mapping[str, MarketResult] | None = None,
    ) -> None:
        self.exchange = exchange
        self.fill_model = fill_model or get_fill_model("conservative")
        self.results: dict[str, MarketResult] = dict(results or {})
        self.stats = ReplayStats()
        self._close: dict[str, datetime] = {}

    def apply(self, snap: Snapshot) -> None:
        """List the snapshot's market if new, then record its quote.

        The exchange's clock should already be at the snapshot's time. A malformed snapshot
        (no close time, bad prices) skips its market with the reason in ``stats.skipped``.
        """
        self.stats.snapshots += 1
        ticker = snap.ticker
        if ticker in self.stats.skipped:
            return
        try:
            if ticker not in self._close:
                self._list(snap)
            quote, last = snapshot_quote(snap)
        except ReplayError as e:
            self.stats.skipped[ticker] = str(e)
            return
        result = snap.metadata.get("result") if snap.metadata else None
        if ticker not in self.results and result in ("yes", "no", "void"):
            self.results[ticker] = MarketResult(result)
        if self.exchange.market_status(ticker) is MarketStatus.ACTIVE:
            self.exchange.update_quote(ticker, quote, last)

    def settle_due(self) -> list[SettlementRecord]:
        """Settle every replayed market past its close whose result is known."""
        now = self.exchange.advance()
        out: list[SettlementRecord] = []
        for ticker, close in self._close.items():
            result = self.results.get(ticker)
            if result is None or close > now:
                continue
            if self.exchange.market_status(ticker) is MarketStatus.FINALIZED:
                continue
            out.extend(self.exchange.settle(ticker, result))
            self.stats.settled += 1
        return out

    async def run(
        self,
        snapshots: AsyncIterator[Snapshot],
        clock: ManualClock,
        on_time: Callable[[datetime], Awaitable[None]] | None = None,
    ) -> ReplayStats:
        """Replay in time order: per timestamp, move the clock, apply its snapshots, settle
        what closed, then ``await on_time(ts)`` (where a backtest runs its trading cycle)."""
        batch: list[Snapshot] = []
        async for snap in snapshots:
            if batch and snap.timestamp != batch[0].timestamp:
                await self._step(batch, clock, on_time)
                batch = []
            batch.append(snap)
        if batch:
            await self._step(batch, clock, on_time)
        return self.stats

    async def _step(
        self,
        batch: list[Snapshot],
        clock: ManualClock,
        on_time: Callable[[datetime], Awaitable[None]] | None,
    ) -> None:
        when = batch[0].timestamp
        if when > clock.now():
            clock.set(when)
        for snap in batch:
            self.apply(snap)
        self.settle_due()
        if on_time is not None:
            await on_time(when)

    def _list(self, snap: Snapshot) -> None:
        if not snap.close_time:
            raise ReplayError("snapshot has no close_time")
        try:
            close = parse_iso(snap.close_time)
        except ValueError as e:
            raise ReplayError(f"bad close_time {snap.close_time!r}") from e
        meta = snap.metadata or {}
        event = str(meta.get("event_ticker") or snap.ticker.rsplit("-", 1)[0])
        spec = MarketSpec(
            ticker=snap.ticker,
            event_ticker=event,
            close_time=close,
            series_ticker=str(meta.get("series_ticker") or event.split("-", 1)[0]),
            title=snap.title or "",
            subtitle=str(meta.get("subtitle") or ""),
            category=snap.category or "",
        )
        self.exchange.add_quoted_market(spec, self.fill_model)
        self._close[snap.ticker] = close
        self.stats.markets += 1


def snapshot_quote(snap: Snapshot) -> tuple[Quote, Decimal | None]:
    """The YES-leg quote (and last price) a snapshot recorded; a side may be missing.

    REAL columns are converted here, at the boundary, to 4-decimal Decimals. NO-side columns
    fill a missing YES side (yes_bid = 1 - no_ask). Crossed or out-of-range quotes are errors.
    """
    yes_bid = _price(snap.yes_bid, "yes_bid")
    yes_ask = _price(snap.yes_ask, "yes_ask")
    if yes_bid is None and snap.no_ask is not None:
        no_ask = _price(snap.no_ask, "no_ask")
        yes_bid = None if no_ask is None else 1 - no_ask
    if yes_ask is None and snap.no_bid is not None:
        no_bid = _price(snap.no_bid, "no_bid")
        yes_ask = None if no_bid is None else 1 - no_bid
    if yes_bid is not None and yes_ask is not None and yes_bid > yes_ask:
        raise ReplayError(f"crossed quote {yes_bid} > {yes_ask} at {snap.timestamp}")
    meta = snap.metadata or {}
    return (
        Quote(
            yes_bid=yes_bid if yes_bid else None,  # a 0 bid is no bid
            yes_ask=yes_ask if yes_ask is not None and yes_ask < 1 else None,
            yes_bid_size=_size(meta.get("yes_bid_size")),
            yes_ask_size=_size(meta.get("yes_ask_size")),
        ),
        _price(snap.last_price, "last_price") or None,
    )


def _price(value: float | None, name: str) -> Decimal | None:
    if value is None:
        return None
    try:
        d = Decimal(str(value)).quantize(_TICK)
    except InvalidOperation as e:
        raise ReplayError(f"bad {name} {value!r}") from e
    if not 0 <= d <= 1:
        raise ReplayError(f"{name} {value!r} outside [0, 1]")
    return d


def _size(value: object) -> Decimal:
    if isinstance(value, int | str) and not isinstance(value, bool):
        try:
            d = Decimal(value)
        except InvalidOperation:
            return Decimal(0)
        return d if d > 0 else Decimal(0)
    return Decimal(0)
