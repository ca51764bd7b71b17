"""Markets rebuilt from recorded ``market_snapshots`` rows (and their results).

The driver reads ``kalbot.domain.snapshot.Snapshot`` values from any async iterator (the
store's ``stream_snapshots`` through ``kalbot.ports.SnapshotStore``, a file, a test list), so
this adapter never imports the store. Each ticker is listed on first sight as a quote-driven
market (fills through a fill model, see ``fill_models.py``); every later snapshot updates its
quote, which may fill resting orders; markets whose close has passed are settled at their
result when one is known (the ``results`` mapping, else the snapshot's ``metadata["result"]``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
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
_CACHE_LIMIT = 100_000


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
        recorded_liquidity: bool = False,
    ) -> None:
        """``recorded_liquidity``: replayed markets show each snapshot's 24h volume and open
        interest (as a backtest's market data does) instead of the exchange's own counts."""
        self.exchange = exchange
        self.fill_model = fill_model or get_fill_model("conservative")
        self.results: dict[str, MarketResult] = dict(results or {})
        self.stats = ReplayStats()
        self.recorded_liquidity = recorded_liquidity
        self._close: dict[str, datetime] = {}
        self._unsettled: dict[str, datetime] = {}  # listed, not settled yet (by this driver)
        # Recorded values repeat (prices sit on a grid, a quiet market's quote stays put):
        # each distinct one is converted once and the same immutable result is reused.
        self._quotes: dict[tuple[object, ...], tuple[Quote, Decimal | None]] = {}
        self._liquidity: dict[tuple[object, ...], tuple[Decimal, Decimal]] = {}

    def apply(self, snap: Snapshot) -> None:
        """List the snapshot's market if new, then record its quote.

        The exchange's clock should already be at the snapshot's time. A malformed snapshot
        (no close time, bad prices) skips its market with the reason in ``stats.skipped``.
        """
        self.apply_all((snap,))

    def apply_all(self, snaps: Sequence[Snapshot]) -> None:
        """``apply`` each of ``snaps`` in order (the loop a backtest runs per snapshot)."""
        self.exchange.update_quotes_if_active(self._updates(snaps))

    def _updates(
        self, snaps: Sequence[Snapshot]
    ) -> Iterator[tuple[str, Quote, Decimal | None, tuple[Decimal, Decimal] | None]]:
        """Each usable snapshot's (ticker, quote, last price, liquidity), listing its market
        first if new; a malformed one skips its market (``stats.skipped``) and yields nothing."""
        stats = self.stats
        skipped, closes, results = stats.skipped, self._close, self.results
        quotes, counts = self._quotes, self._liquidity
        recorded = self.recorded_liquidity
        stats.snapshots += len(snaps)  # seen, usable or not
        for snap in snaps:
            ticker = snap.ticker
            if ticker in skipped:
                continue
            meta = snap.metadata
            yb, ya, nb, na, last = (
                snap.yes_bid,
                snap.yes_ask,
                snap.no_bid,
                snap.no_ask,
                snap.last_price,
            )
            if meta:
                bs, az = meta.get("yes_bid_size"), meta.get("yes_ask_size")
            else:
                bs = az = None
            # Recorded quotes repeat: each distinct one is converted once (``snapshot_quote``)
            # and its immutable result reused. Types are part of the key: 1, 1.0 and True
            # are equal keys but not equal inputs (a bool is refused, a float size is none).
            key = (yb, ya, nb, na, last, bs, az, type(yb), type(ya), type(nb), type(na),
                   type(last), type(bs), type(az))  # fmt: skip
            try:
                if ticker not in closes:
                    self._list(snap)
                try:
                    hit = quotes.get(key)
                except TypeError:  # an unhashable size: convert it the long way
                    hit = snapshot_quote(snap)
                else:
                    if hit is None:
                        hit = snapshot_quote(snap)  # errors are raised, never cached
                        if len(quotes) >= _CACHE_LIMIT:
                            quotes.clear()
                        quotes[key] = hit
            except ReplayError as e:
                skipped[ticker] = str(e)
                continue
            if meta and ticker not in results:
                result = meta.get("result")
                if result in ("yes", "no", "void"):
                    results[ticker] = MarketResult(result)
            liquidity = None
            if recorded:
                vol, oi = snap.volume_24h, snap.open_interest
                lkey = (vol, oi, type(vol), type(oi))
                liquidity = counts.get(lkey)
                if liquidity is None:
                    if len(counts) >= _CACHE_LIMIT:
                        counts.clear()
                    liquidity = counts[lkey] = (recorded_count(vol), recorded_count(oi))
            yield ticker, hit[0], hit[1], liquidity

    def settle_due(self) -> list[SettlementRecord]:
        """Settle every replayed market past its close whose result is known."""
        now = self.exchange.advance()
        out: list[SettlementRecord] = []
        done: list[str] = []
        for ticker, close in self._unsettled.items():  # in listing order, as listed
            if close > now:
                continue
            result = self.results.get(ticker)
            if result is None:
                continue
            done.append(ticker)  # settled here or already finalized: never looked at again
            if self.exchange.market_status(ticker) is MarketStatus.FINALIZED:
                continue
            out.extend(self.exchange.settle(ticker, result))
            self.stats.settled += 1
        for ticker in done:
            del self._unsettled[ticker]
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
        self.apply_all(batch)
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
        self._unsettled[snap.ticker] = close
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


def recorded_count(value: int | None) -> Decimal:
    """A recorded volume or open interest; missing or negative counts show as 0."""
    return Decimal(value) if value is not None and value > 0 else Decimal(0)


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
